"""Kill -9 a real `manage.py db_worker` in the middle of a batch: nothing is lost, nothing doubled."""

import asyncio
import datetime
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from access.tests.helpers import send
from clinic.models import Patient
from conftest import free_port
from mail import delivery
from mail.models import Message

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_other_processes() -> str:
    """The test database (SQLite file or PostgreSQL), for a worker in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class StallingCollector:
    """Accepts mail, but holds the third message at RCPT (before it is accepted) until released."""

    def __init__(self):
        self.envelopes, self.rcpt_calls = [], 0
        self.stalled, self.release = threading.Event(), threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_calls += 1
        if self.rcpt_calls == 3:
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_and_doubles_nothing(cast, settings):
    patients = [Patient.objects.create(practice=cast.practice, chart_number=f"K{i}", first_name="K", last_name=str(i),
                                       email=f"k{i}@example.test", ssn="123456789") for i in range(5)]
    for p in patients:
        send(cast, p)
    handler, port = StallingCollector(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portico.settings", "DEBUG": "1",
           "SECRET_KEY": settings.SECRET_KEY, "PORTICO_FIELD_KEYS": ",".join(settings.PORTICO_FIELD_KEYS),
           "DATABASE_URL": database_url_for_other_processes(),
           "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
    worker = [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--no-startup-delay", "--no-reload",
              "--batch", "--interval", "0.1"]
    try:
        first = subprocess.Popen(worker, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert handler.stalled.wait(60), "the worker never reached the third message"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        handler.release.set()
        assert len(handler.envelopes) == 2
        assert Message.objects.filter(status="sending").count() == 1  # the one it died on

        second = subprocess.run(worker, cwd=ROOT, env=env, capture_output=True, timeout=120)
        assert second.returncode == 0, second.stderr.decode()[-2000:]
        assert len(handler.envelopes) == 4  # the rest of the queue; the claimed one waits for its lease

        # After the lease, the periodic sweep (here, in this process) takes the orphan over.
        settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                        "OPTIONS": {"host": "127.0.0.1", "port": port}}}
        with time_machine.travel(timezone.now() + datetime.timedelta(seconds=settings.PORTICO_MAIL_LEASE_SECONDS + 1)):
            assert delivery.deliver_due() == 1
        recipients = sorted(r for e in handler.envelopes for r in e.rcpt_tos)
        assert recipients == sorted(p.email for p in patients)
        assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    finally:
        handler.release.set()
        controller.stop()
