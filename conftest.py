"""The shared cast and tools for every test: practices, staff, patients, a real SMTP server, the
task worker, and a headless Chromium that Playwright drives (Debian's, never a download)."""

import datetime
import os
import socket
import threading
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

# Browser tests drive the live server from the test thread and also use the ORM there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# A fixed moment in the past (tests that send at NOW then run the worker on the real clock need it due).
NOW = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=datetime.UTC)
# A minute after NOW: run the worker then for mail about an invitation sent at NOW (an invitation
# email is not sent once the invitation is no longer pending, as it is by the real clock).
SOON = NOW + datetime.timedelta(minutes=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, handler, port):
        self.handler, self.port = handler, port

    @property
    def envelopes(self):
        return self.handler.envelopes

    def messages(self):
        """The received messages, parsed (email.message.EmailMessage)."""
        from email import policy
        from email.parser import BytesParser

        return [BytesParser(policy=policy.default).parsebytes(e.content) for e in self.envelopes]


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PORTICO_BASE_URL = "https://portal.example.test"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; MAILERS points at it for the test."""
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}
    }
    try:
        yield SMTPServer(handler, port)
    finally:
        controller.stop()


def run_worker() -> None:
    """Do what a `manage.py worker` round does, in this process: drain the task queue, then send
    every mail that is due (mail is not a task: the worker sweeps the outbox itself).

    The task worker closes "old" connections between tasks, which would close the test's own
    transaction; in-process that is switched off (test_worker_crash runs the real command)."""
    from mail.delivery import deliver_due

    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command("db_worker", batch=True, startup_delay=False, reload=False, queue_name="*", verbosity=0)
    deliver_due()


# Row locks, deadlocks and truly concurrent writers exist only on PostgreSQL (SQLite has one writer
# at a time, so a race test there proves nothing). `make test-pg` runs these.
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="needs PostgreSQL's concurrency (make test-pg)")


def at_once(*calls) -> list:
    """Run each call in its own thread, all released together, as two people clicking at the same
    moment. Returns what each returned, or the exception it raised, in call order. Needs
    `django_db(transaction=True)`: each thread has its own database connection."""
    barrier, outcomes = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            outcomes[i] = call()
        except Exception as e:  # the caller asserts which kinds it expected
            outcomes[i] = e
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


# --- the cast: practice A (Alice, Dr. Dora, eligible Pat, ineligible Ned), practice B (Bob) -----

@pytest.fixture
def cast(db):
    from clinic.models import Patient, Practice, StaffMember

    class Cast:
        pass

    c = Cast()
    User = get_user_model()
    c.practice = Practice.objects.create(name="Maple Street Clinic", time_zone="America/New_York")
    c.other_practice = Practice.objects.create(name="Harbor Health", time_zone="America/Los_Angeles")

    def staff(username, practice, role, last):
        user = User.objects.create_user(username=username, password="staff-password-123", last_name=last)
        return StaffMember.objects.create(user=user, practice=practice, role=role)

    c.alice = staff("alice", c.practice, StaffMember.Role.STAFF, "Adams")
    c.dora = staff("dora", c.practice, StaffMember.Role.DOCTOR, "Dorsey")
    c.bob = staff("bob", c.other_practice, StaffMember.Role.STAFF, "Brown")
    c.pat = Patient.objects.create(
        practice=c.practice, doctor=c.dora, chart_number="A-100", first_name="Pat", last_name="Jones",
        email="pat@example.test", ssn="123456789", date_of_birth=datetime.date(1980, 5, 17), phone="+15555550123",
    )
    c.ned = Patient.objects.create(
        practice=c.practice, doctor=c.dora, chart_number="A-101", first_name="Ned", last_name="Stone",
    )
    c.bea = Patient.objects.create(
        practice=c.other_practice, chart_number="B-200", first_name="Bea", last_name="Hart",
        email="bea@example.test", ssn="234567890",
    )
    return c


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts_dir():
    """Screenshots of key pages, kept for people to look at (git-ignored)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "var" / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- texts (sms): the provider's stand-in on loopback, the settings pointing at it ---------------------

SMS_SENDER = "+15005550006"


@pytest.fixture
def sms_provider(settings, tmp_path):
    """The local stand-in of the SMS provider (sms.standin), and the settings that send texts to it."""
    from sms.standin import StandIn

    standin = StandIn("AC" + "0" * 32, "test-auth-token", log_path=tmp_path / "texts.jsonl").start()
    settings.PORTICO_SMS_URL = standin.url
    settings.PORTICO_SMS_ACCOUNT_SID, settings.PORTICO_SMS_AUTH_TOKEN = standin.account_sid, standin.auth_token
    settings.PORTICO_SMS_FROM = SMS_SENDER
    settings.PORTICO_PHONE_LOG = standin.log_path
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def migrate():
    """migrate(targets) -> the app registry as of those migrations, run by Django's executor on the
    test database (with others_at_latest, every app not named in `targets` stays at its latest, as
    its tables are). Migrated back to the latest afterwards, whatever happened, with what migrate's
    post_migrate does (clinic's SQLite search triggers)."""
    from django.db.migrations.executor import MigrationExecutor

    from clinic import search_index

    executor = MigrationExecutor(connection)

    def to(targets: list[tuple[str, str]], *, others_at_latest: bool = False):
        executor.loader.build_graph()
        if others_at_latest:
            named = {app for app, _ in targets}
            targets = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in named] + targets
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield to
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    search_index.restore_triggers(connection)
