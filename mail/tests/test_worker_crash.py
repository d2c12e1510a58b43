"""Real `manage.py worker` processes draining the outbox to a real SMTP server: each message is
delivered once, and a worker killed with SIGKILL mid-batch loses nothing and doubles nothing that was
recorded sent (only the part of its batch the server accepted before the kill may go twice: SMTP
gives no way to ask the server, and those carry the same Message-ID)."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from conftest import free_port
from mail.delivery import BATCH_SIZE
from mail.models import Message

ROOT = Path(__file__).resolve().parents[2]
MESSAGE_ID = re.compile(rb"^Message-ID: <portico-message-(\d+)@", re.MULTILINE | re.IGNORECASE)
# Enough for three workers to overlap for a while; SQLite (one writer at a time) runs a smaller queue.
QUEUED = 5000 if connection.vendor == "postgresql" else 600


def database_url_for_other_processes() -> str:
    """The test database (SQLite file or PostgreSQL), for a worker in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Sink:
    """Counts what it accepts by the row id in the Message-ID. Can hold the `stall_at`-th message
    before answering its DATA (it is not accepted) until released, so the test can kill its sender."""

    def __init__(self, stall_at: int = 0):
        self.received, self.count, self.stall_at = Counter(), 0, stall_at
        self.stalled_pk, self.stalled, self.release = None, threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        pk = int(MESSAGE_ID.search(envelope.content).group(1))
        self.count += 1
        if self.count == self.stall_at:
            self.stalled_pk = pk
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 Try again later"
        self.received[pk] += 1
        return "250 Message accepted for delivery"


def queue(count: int) -> list[int]:
    now = timezone.now()
    Message.objects.bulk_create(
        (Message(kind="connected", to=f"w{i}@example.test", dedupe_key=f"crash:{i}", next_attempt_at=now,
                 created_at=now, context={"practice": "Maple Street Clinic", "portal_url": "https://x.test/portal/"})
         for i in range(count)),
        batch_size=1000,
    )
    return list(Message.objects.values_list("pk", flat=True))


def start_workers(n: int, port: int, settings, **extra_env) -> list[subprocess.Popen]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portico.settings", "DEBUG": "1", "LOG_LEVEL": "WARNING",
           "SECRET_KEY": settings.SECRET_KEY, "PORTICO_FIELD_KEYS": ",".join(settings.PORTICO_FIELD_KEYS),
           "PORTICO_BASE_URL": settings.PORTICO_BASE_URL, "DATABASE_URL": database_url_for_other_processes(),
           "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), **extra_env}
    command = [sys.executable, "manage.py", "worker", "--drain"]
    return [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(n)]


def wait_all(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()[-2000:]


@pytest.fixture
def sink_server():
    servers = []

    def start(sink: Sink) -> int:
        port = free_port()
        servers.append((sink, Controller(sink, hostname="127.0.0.1", port=port)))
        servers[-1][1].start()
        return port

    yield start
    for sink, controller in servers:
        sink.release.set()
        controller.stop()


@pytest.mark.django_db(transaction=True)
def test_three_workers_deliver_each_message_once(sink_server, settings):
    pks = queue(QUEUED)
    sink = Sink()
    wait_all(start_workers(3, sink_server(sink), settings))
    assert sink.count == len(pks) == QUEUED
    assert sorted(sink.received) == sorted(pks)
    assert set(sink.received.values()) == {1}
    assert set(Message.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert len(set(Message.objects.values_list("claimed_by", flat=True))) >= 2  # they shared the work


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing_recorded_sent(sink_server, settings):
    pks = queue(max(QUEUED // 2, 3 * BATCH_SIZE))  # enough for every worker to be mid-batch when one is killed
    sink = Sink(stall_at=QUEUED // 6)
    port = sink_server(sink)
    workers = start_workers(3, port, settings, PORTICO_MAIL_LEASE_SECONDS="3")
    assert sink.stalled.wait(60), "the workers never reached the stalled message"
    stalled = Message.objects.get(pk=sink.stalled_pk)
    (victim,) = [w for w in workers if f":{w.pid}:" in stalled.claimed_by]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    sink.release.set()
    # What the killed worker held: claimed, not recorded; some of it the server may have accepted.
    orphans = set(Message.objects.filter(status="sending", claimed_by=stalled.claimed_by).values_list("pk", flat=True))
    assert sink.stalled_pk in orphans
    recorded_sent = set(Message.objects.filter(status="sent").values_list("pk", flat=True))
    killed_at = time.monotonic()
    wait_all([w for w in workers if w is not victim])
    # Once the lease (3 s) has run out, a worker takes the orphans over (unless the others already did).
    time.sleep(max(0.0, killed_at + 3.5 - time.monotonic()))
    wait_all(start_workers(1, port, settings, PORTICO_MAIL_LEASE_SECONDS="3"))
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert sorted(sink.received) == sorted(pks)  # nothing lost
    doubled = {pk for pk, times in sink.received.items() if times > 1}
    assert doubled <= orphans - {sink.stalled_pk}  # only what the server accepted just before the kill
    assert all(sink.received[pk] == 1 for pk in recorded_sent)
    assert set(sink.received.values()) <= {1, 2}
