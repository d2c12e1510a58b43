"""Case 4: the Portal Access page and the patient list with 100,000 patients and 1,000,000 history
events (BENCH_PATIENTS / BENCH_EVENTS, or scaled).

Query counts are taken in this process (Django's test client): they must not grow with the number of
patients or of a patient's events. Latency comes from a small load generator (threads, one keep-alive
http.client connection each) against gunicorn serving the same database on loopback in production
mode; its baseline is /health/ through the same stack."""

import datetime
import http.client
import statistics
import subprocess
import sys
import threading
import time

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access.models import AccessEvent
from bench import patient_list
from bench.common import ROOT, Row, free_port, scaled, subprocess_env
from clinic.models import Patient

THREADS = 4
REQUESTS = max(100, scaled("REQUESTS", 400))  # per page, shared by the threads
MAX_SECONDS = 30  # per page


def add_history(staff, events: int) -> tuple[int, int]:
    """`events` events spread over the practice's patients, a thousand of them on one (busy) patient.
    Returns (a patient with one event, the busy patient)."""
    ids = list(Patient.objects.filter(practice=staff.practice).order_by("id").values_list("id", flat=True))
    # Both invited and pending (patient_list.build invites every third patient, cycling four states),
    # so they differ only in their number of events.
    busy, quiet = ids[0], ids[12]
    on_busy = min(1000, events // 2)
    if (have := AccessEvent.objects.filter(practice=staff.practice).count()) >= events:  # a kept database
        print(f"  Reusing the kept history ({have:,} events).")
        return quiet, busy
    others = [i for i in ids if i not in (busy, quiet)]
    now = timezone.now()

    def event(i: int, patient_id: int) -> AccessEvent:
        return AccessEvent(practice=staff.practice, patient_id=patient_id, at=now - datetime.timedelta(seconds=i),
                           actor_kind="system", action="email.sent", hash="0" * 64)

    started = time.perf_counter()
    rows = [event(0, quiet)] + [event(i, busy) for i in range(on_busy)]
    rows += (event(i, others[i % len(others)]) for i in range(events - len(rows)))
    # Given places in the chain, as if sealed: left unsealed, the first event a request records would
    # have the sealer check all 1,000,000 (their hash is made up) and log each as altered, for an hour.
    for place, row in enumerate(rows, start=1):
        row.sequence = place
    AccessEvent.objects.bulk_create(rows, batch_size=5000)
    print(f"  Added {events:,} history events in {time.perf_counter() - started:.0f} s")
    return quiet, busy


def queries(client: Client, path: str) -> int:
    client.get(path)  # warm: the first request of a session does one-off work (session, caches)
    connection.queries_log.clear()  # the log keeps 9,000 queries; building the data filled it
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200, path
    return len(captured)


class Server:
    """gunicorn on loopback, DEBUG off, on this run's database and keys."""

    def __init__(self, **extra_env: str):
        self.port = free_port()
        base = f"http://127.0.0.1:{self.port}"
        call_command("collectstatic", interactive=False, verbosity=0)
        env = subprocess_env(DEBUG="0", PORTICO_BASE_URL=base, ALLOWED_HOSTS="127.0.0.1", **extra_env)
        command = [sys.executable, "-m", "gunicorn", "portico.wsgi", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", "2", "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 120  # a loaded machine (shared by others) starts it slowly
        while time.monotonic() < deadline:
            try:
                if self.get("/health/", {}) == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()  # not left running after the bench
        raise RuntimeError("gunicorn did not start")

    def get(self, path: str, headers: dict) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def load(port: int, path: str, cookie: str) -> list[float]:
    """THREADS clients on keep-alive connections, REQUESTS in all (or MAX_SECONDS); each latency in s."""
    latencies, lock, deadline = [], threading.Lock(), time.monotonic() + MAX_SECONDS
    remaining = [REQUESTS]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def run() -> list[Row]:
    staff = patient_list.build()
    events = scaled("EVENTS", 1_000_000)
    quiet, busy = add_history(staff, events)
    client = Client()
    client.force_login(staff.user)
    access = "/patients/{}/portal-access/"
    counts = {
        "portal access": (queries(client, access.format(quiet)), queries(client, access.format(busy))),
        "patient list": (queries(client, "/patients/?q=C000001"), queries(client, "/patients/")),
    }
    rows = [
        Row("4 queries: Portal Access page, 1 vs 1,000 events", f"{counts['portal access'][1]} queries",
            f"{counts['portal access'][0]} queries", counts["portal access"][1] / counts["portal access"][0],
            "constant (1.00x)"),
        Row(f"4 queries: patient list, 1 vs {Patient.objects.filter(practice=staff.practice).count():,} patients",
            f"{counts['patient list'][1]} queries", f"{counts['patient list'][0]} queries",
            counts["patient list"][1] / counts["patient list"][0], "constant (1.00x)"),
    ]
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    pages = {"patient list": "/patients/", "Portal Access page, 1,000 events": access.format(busy)}
    configs = {"persistent": {}}
    if connection.vendor == "postgresql":  # Django's pool (PORTICO_DB_POOL_SIZE) against today's default
        configs["pool of 2"] = {"PORTICO_DB_POOL_SIZE": "2"}
    got = {config: {} for config in configs}
    # Each configuration twice, taking turns, so a change in the shared machine's load is spread over both.
    for _ in range(2 if len(configs) > 1 else 1):
        for config, env in configs.items():
            for name, values in latencies(pages, cookie, **env).items():
                got[config].setdefault(name, []).extend(values)
    persistent = got["persistent"]
    for name in pages:
        rows.append(latency_row(f"4 latency {name}", persistent[name], "/health/", persistent["/health/"],
                                "report (p50 ratio to /health/)"))
    for name in pages if "pool of 2" in got else ():
        rows.append(latency_row(f"4 latency, pool of 2: {name}", got["pool of 2"][name], "persistent",
                                persistent[name], "pays if < 1.00x"))
    return rows


def latencies(pages: dict[str, str], cookie: str, **server_env: str) -> dict[str, list[float]]:
    """Each page's latencies (and /health/'s) under load, from a server started with `server_env`."""
    server = Server(**server_env)
    try:
        return {name: load(server.port, path, cookie) for name, path in {"/health/": "/health/", **pages}.items()}
    finally:
        server.stop()


def latency_row(case: str, got: list[float], baseline_name: str, baseline: list[float], target: str) -> Row:
    p50, p99, b50, b99 = percentile(got, 50), percentile(got, 99), percentile(baseline, 50), percentile(baseline, 99)
    print(f"  {case}: {len(got)} requests, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    return Row(f"{case} ({THREADS} clients, {len(got)} req)", f"p50 {p50 * 1000:.0f} / p99 {p99 * 1000:.0f} ms",
               f"{baseline_name} {b50 * 1000:.0f} / {b99 * 1000:.0f}", p50 / b50, target)
