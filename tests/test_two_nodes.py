"""Two nodes, one PostgreSQL database (README "Scaling out"): each node is `manage.py serve` (gunicorn,
task workers, the periodic jobs) with a var folder of its own; both send to one SMTP server on loopback.
A practice admin starts a bulk invitation on node A's pages; the node whose worker runs it dies part-way
(every process of it killed with SIGKILL, as when a machine stops), and is started again. Then: the job
finished, every invited patient was emailed, a patient got a second copy only of the mail the dead node
had claimed (SMTP's at-least-once window; counted and printed), the access history verifies, and nothing
is left claimed.

The size is TWO_NODES_PATIENTS (default 6,000: three chunks of 2,000, so the test can kill the node
between two); `scripts/two-nodes` runs it with 20,000 and prints the figures (README "Scaling out")."""

import contextlib
import datetime
import http.cookiejar
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django_tasks_db.models import DBTaskResult

from access.history import unsealed_count
from access.models import Invitation, InvitationJob, InvitationJobChunk
from api.models import WebhookDelivery
from clinic.models import Patient, Practice, StaffMember
from conftest import free_port, postgres_only
from mail.models import Message
from mail.tests.test_worker_crash import MESSAGE_ID, database_url_for_other_processes
from ops.models import WorkerHeartbeat
from tests.processes import alive, descendants, kill_all
from tests.test_serve import ROOT, production_env, wait_for

PATIENTS = int(os.environ.get("TWO_NODES_PATIENTS", "6000"))
# Short leases, so the test waits seconds, not the production minutes, for the dead node's work to be
# taken over: its claimed mail (PORTICO_MAIL_LEASE_SECONDS) and its job (PORTICO_JOB_STALLED_SECONDS).
LEASE_SECONDS = "15"
PASSWORD = "two-nodes-admin-password"

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


class Sink:
    """The SMTP server both nodes send to: what it accepted, by outbox row (the Message-ID) and by address."""

    def __init__(self):
        self.lock, self.by_row, self.by_address = threading.Lock(), Counter(), Counter()

    async def handle_DATA(self, server, session, envelope):
        row = int(MESSAGE_ID.search(envelope.content).group(1))
        with self.lock:
            self.by_row[row] += 1
            self.by_address[envelope.rcpt_tos[0]] += 1
        return "250 Message accepted for delivery"


class Node:
    """`manage.py serve` as one machine runs it: its own port and var folder, the shared database and keys."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]):
        self.name, self.port, self.folder = name, free_port(), folder
        self.env = {**env, "PORTICO_BIND": f"127.0.0.1:{self.port}", "PORTICO_VAR_DIR": str(folder)}
        self.serve, self.processes = None, []

    def start(self) -> "Node":
        self.folder.mkdir(exist_ok=True)
        with open(self.folder / "serve.log", "ab") as log:
            self.serve = subprocess.Popen([sys.executable, "manage.py", "serve"], cwd=ROOT, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self) -> None:
        wait_for(self._workers_beating, 180, f"node {self.name}'s task workers")
        self.processes = [self.serve.pid, *descendants(self.serve.pid)]

    def _workers_beating(self) -> bool:
        pids = descendants(self.serve.pid)
        beating = {int(name.split(":")[1]) for name in WorkerHeartbeat.objects.values_list("worker", flat=True)}
        return len(beating & set(pids)) == int(self.env["PORTICO_WORKERS"])

    def runs(self, worker: str) -> bool:
        return int(worker.split(":")[1]) in self.processes

    def die(self) -> None:
        """Every process of the node at once, none warned: frozen first, so none reacts to another's death."""
        for pid in self.processes:
            os.kill(pid, 19)  # SIGSTOP
        kill_all(self.processes)
        self.serve.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in self.processes), 10, f"node {self.name} to be gone")

    def stop(self) -> str:
        if self.serve.poll() is None:
            self.serve.terminate()
            self.serve.wait(60)
        kill_all(self.processes)  # only if something was left behind (the assertion below then says so)
        return (self.folder / "serve.log").read_text()


class StaffBrowser:
    """A practice admin's browser on one node: signs in, previews a bulk invitation, confirms it."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=120) as response:
            return response.read().decode()

    def post(self, path: str, form: dict, page: str) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": token}).encode()
        with self.opener.open(self.base + path, data=data, timeout=120) as response:
            return response.geturl()

    def invite_everyone(self, username: str) -> int:
        self.post("/login/", {"username": username, "password": PASSWORD}, self.get("/login/"))
        preview = self.get("/patients/invite/?matching=1")
        assert f"{PATIENTS} patients" in preview.replace(",", "")
        token = re.search(r'name="preview" value="([^"]+)"', preview).group(1)
        job_page = self.post("/patients/invite/confirm/", {"preview": token}, preview)
        return int(re.search(r"/bulk-invitations/(\d+)/$", job_page).group(1))


def make_practice() -> StaffMember:
    practice = Practice.objects.create(name="Two Nodes Clinic", time_zone="America/New_York")
    # Hashed as the nodes hash (the tests' own hasher is a fast one the nodes do not know).
    hasher = PBKDF2PasswordHasher()
    user = get_user_model().objects.create(username="two-nodes-admin", password=hasher.encode(PASSWORD, hasher.salt()))
    admin = StaffMember.objects.create(user=user, practice=practice, role=StaffMember.Role.ADMIN)
    Patient.objects.bulk_create(
        (Patient(practice=practice, chart_number=f"N{i:06d}", first_name="Pat", last_name=f"Node{i}",
                 email=f"n{i}@example.test", date_of_birth=datetime.date(1980, 1, 1), phone=f"+1555{i:07d}")
         for i in range(PATIENTS)), batch_size=5000)
    return admin


def nodes_env(tmp_path: Path, smtp_port: int, base_url: str) -> dict[str, str]:
    """What both nodes share: the database, the keys, the public address, the mail server."""
    return production_env(
        tmp_path, base_url, DATABASE_URL=database_url_for_other_processes(), EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port), PORTICO_WEB_WORKERS="1", PORTICO_WORKERS="2", PORTICO_PERIODIC_SECONDS="2",
        PORTICO_MAIL_LEASE_SECONDS=LEASE_SECONDS, PORTICO_JOB_STALLED_SECONDS=LEASE_SECONDS, LOG_LEVEL="WARNING")


def running_job_worker(job_id: int) -> str | None:
    task = DBTaskResult.objects.filter(status="RUNNING", args_kwargs__args=[job_id]).first()
    return task.worker_ids[-1] if task else None


def part_way(job_id: int) -> bool:
    """At least half the chunks done and some not (their mail is on its way meanwhile)."""
    job = InvitationJob.objects.get(pk=job_id)
    return job.total // 2 <= job.invited < job.total and bool(running_job_worker(job_id))


def holding_mail(node: "Node") -> bool:
    """The node's workers hold claimed mail, not yet recorded (the at-least-once window)."""
    return any(node.runs(w) for w in Message.objects.filter(status="sending").values_list("claimed_by", flat=True))


def wait_until(predicate, timeout: float, what: str, job_id: int) -> None:
    try:
        wait_for(predicate, timeout, what)
    except AssertionError as e:
        raise AssertionError(f"{e}: {state(job_id)}") from None


def state(job_id: int) -> str:
    """Where things stand, for a timeout's message."""
    job = InvitationJob.objects.get(pk=job_id)
    mail = Counter(Message.objects.values_list("status", flat=True))
    tasks = Counter(DBTaskResult.objects.values_list("status", flat=True))
    return f"job {job.status} {job.invited}/{job.total}, mail {dict(mail)}, tasks {dict(tasks)}"


def all_done(job_id: int) -> bool:
    return (InvitationJob.objects.filter(pk=job_id, status="done").exists()
            and not Message.objects.exclude(status="sent").exists()
            and not unsealed_count(Practice.objects.get(name="Two Nodes Clinic")))


@pytest.mark.timeout(1200)  # about 3-6 minutes on a loaded 2-core machine; its own waits name what hung
def test_two_nodes_share_a_bulk_job_and_one_dies_part_way(tmp_path):
    admin = make_practice()
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = nodes_env(tmp_path, smtp_port, "http://127.0.0.1")
    a, b = Node("A", tmp_path / "node-a", env), Node("B", tmp_path / "node-b", env)
    logs = {}
    try:
        started = time.monotonic()
        for node in (a.start(), b.start()):  # together, as two machines booting
            node.wait_ready()
        job_id = StaffBrowser(a.port).invite_everyone(admin.user.username)
        wait_until(lambda: part_way(job_id), 300, "the job to be part-way", job_id)
        victim = a if a.runs(running_job_worker(job_id)) else b
        with contextlib.suppress(AssertionError):  # best while its workers also hold mail: a few seconds for that
            wait_for(lambda: holding_mail(victim) or not part_way(job_id), 10, "the victim to hold mail")
        killed_at = time.monotonic()
        victim.die()
        # What the dead node held: claimed, not recorded. The server may have accepted some of it.
        claimed_by_dead = set(Message.objects.filter(status="sending").filter(
            claimed_by__in=[w for w in Message.objects.values_list("claimed_by", flat=True).distinct()
                            if w and victim.runs(w)]).values_list("pk", flat=True))
        at_death = InvitationJob.objects.get(pk=job_id)
        victim.start().wait_ready()  # as a service manager starts it again
        wait_until(lambda: all_done(job_id), 600, "the job and its mail to finish", job_id)
        finished_at = time.monotonic()
        verified = subprocess.run([sys.executable, "manage.py", "verify_history"], cwd=ROOT, env=a.env,
                                  capture_output=True, text=True, timeout=120)
    finally:
        for node in (a, b):
            if node.serve is not None:
                logs[node.name] = node.stop()
        smtp.stop()

    job = InvitationJob.objects.get(pk=job_id)
    emails = set(Patient.objects.filter(practice=admin.practice).values_list("email", flat=True))
    doubled = {row for row, times in sink.by_row.items() if times > 1}
    assert (job.status, job.total, job.invited, job.skipped) == ("done", PATIENTS, PATIENTS, 0)
    assert not InvitationJobChunk.objects.filter(job=job, done=False).exists()  # no chunk left to do
    assert Invitation.objects.filter(job=job).count() == PATIENTS
    assert Counter(Invitation.objects.values_list("patient_id", flat=True)).most_common(1)[0][1] == 1
    assert set(sink.by_address) == emails  # every invited patient emailed
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert doubled <= claimed_by_dead  # a second copy only of what the dead node had claimed
    assert set(sink.by_row.values()) <= {1, 2}
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Two Nodes Clinic" in verified.stdout and "history intact" in verified.stdout
    assert "not yet sealed" not in verified.stdout
    # Nothing left claimed: no mail or webhook "sending", no task "running", no job chunk untaken.
    assert not Message.objects.filter(status="sending").exists()
    assert not WebhookDelivery.objects.filter(status="sending").exists()
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
    for name, log in logs.items():
        assert "Traceback" not in log, f"node {name}:\n{log[-3000:]}"
    # Each node's gunicorn has its control socket in its own var folder (not one per user of the machine).
    assert "Control socket listening at " + str(a.folder / "gunicorn.ctl") in logs["A"]
    assert "Control socket listening at " + str(b.folder / "gunicorn.ctl") in logs["B"]
    print(f"\nTwo nodes, {PATIENTS:,} patients on PostgreSQL {connection.pg_version // 10000}: node {victim.name} "
          f"killed {killed_at - started:.0f} s in, with {at_death.invited:,} invited and "
          f"{len(claimed_by_dead)} email(s) claimed unrecorded; all done {finished_at - started:.0f} s after start "
          f"({finished_at - killed_at:.0f} s after the kill). Emails: {sum(sink.by_row.values()):,} accepted by the "
          f"server for {len(sink.by_row):,} outbox rows, {len(doubled)} sent twice (the at-least-once window).")
