"""Case 2: delivery of queued invitation emails to a loopback SMTP server.

Baseline (the transport limit): bare smtplib sending the same messages, built beforehand, on one
connection. Then `manage.py worker --drain` with one worker and with three, each on a fresh copy of
the queue. The workers run with DEBUG off, as in production: with DEBUG on (as this process runs, for
its own setup) Django also keeps every query's SQL and time, ~25% of a worker's database time. The
baseline is untouched by it: its messages are built here before the timing starts, and the server
runs alone in its own process. Every rate is measured at the server (first to last message
accepted); every run must deliver each message exactly once. The machine is shared, and the limit
moves with its load by up to 2x within minutes: the limit is measured again (the same bytes, the
same server) just before each run it is compared with, and the row shows that limit."""

import datetime
import email.policy
import json
import smtplib
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from access.models import Invitation
from access.tokens import hash_token
from bench.common import ROOT, Row, free_port, scaled, subprocess_env
from clinic.models import Patient, Practice, StaffMember
from mail.compose import make_message
from mail.delivery import deliver_due, message_id
from mail.models import Message
from mail.signals import messages_delivered

TARGET = "one worker >= 0.7x; three faster; each once"


class Sink:
    def __init__(self):
        self.port = free_port()
        command = [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(self.port)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert "ready" in self.process.stdout.readline()

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def rate(self) -> tuple[float, dict]:
        report = self.ask("report")
        return (report["count"] - 1) / (report["last"] - report["first"]), report

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


def build(count: int) -> Practice:
    practice = Practice.objects.create(name="Delivery Bench Clinic", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="delivery-bench")
    staff = StaffMember.objects.create(user=user, practice=practice)
    Patient.objects.bulk_create(
        (Patient(practice=practice, chart_number=f"D{i:06d}", first_name="Pat", last_name=f"Bench{i}",
                 email=f"d{i}@example.test") for i in range(count)), batch_size=5000)
    now = timezone.now()
    Invitation.objects.bulk_create(
        (Invitation(practice=practice, patient_id=pid, token_hash=hash_token(f"bench-token-{pid}"), email=email,
                    channel="bulk", status=Invitation.Status.PENDING, sent_at=now, sent_by=staff,
                    expires_at=now + datetime.timedelta(days=7))
         for pid, email in Patient.objects.filter(practice=practice).values_list("id", "email")), batch_size=5000)
    return practice


def queue(practice: Practice) -> None:
    """The outbox rows queue_invitations writes, one per pending invitation, as a fresh queue."""
    Message.objects.all().delete()
    now = timezone.now()
    Message.objects.bulk_create(
        (Message(kind=Message.Kind.INVITATION, to=inv.email, dedupe_key=f"invitation:{inv.pk}", next_attempt_at=now,
                 created_at=now, secret_link=f"{settings.PORTICO_BASE_URL}/portal/i/bench-token-{inv.patient_id}/",
                 invitation_id=inv.pk,
                 context={"practice": practice.name, "expires": "Monday, November 9 at 10:00 AM Eastern"})
         for inv in Invitation.objects.filter(practice=practice)), batch_size=2000)


def prebuilt() -> list[tuple[str, bytes]]:
    """The queued messages' recipients and bytes, built as the worker builds them (not timed)."""
    return [(m.to, make_message(m.kind, m.to, {**m.context, "link": m.secret_link}, message_id=message_id(m))
             .message(policy=email.policy.SMTP).as_bytes()) for m in Message.objects.all()]


def bare_smtplib(sink: Sink, built: list[tuple[str, bytes]]) -> float:
    """Send the messages, built beforehand, with smtplib on one connection: the transport limit."""
    sink.ask("reset")
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for to, data in built:
            smtp.sendmail(settings.DEFAULT_FROM_EMAIL, [to], data)
    rate, _ = sink.rate()
    return rate


def workers(sink: Sink, n: int, count: int) -> tuple[float, dict]:
    sink.ask("reset")
    # DEBUG off, as a worker runs in production (see the module docstring).
    env = subprocess_env(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port), EMAIL_USE_TLS="false", DEBUG="0")
    procs = [subprocess.Popen([sys.executable, "manage.py", "worker", "--drain"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL) for _ in range(n)]
    for p in procs:
        assert p.wait(3600) == 0
    rate, report = sink.rate()
    unsent = Message.objects.exclude(status=Message.Status.SENT).count()
    assert report["count"] == report["unique"] == count and unsent == 0, (report, unsent)
    return rate, report


def one_worker_without_history(sink: Sink, count: int) -> float:
    """Diagnostic: one worker in this process with access's history receiver disconnected, i.e. what
    the mail path reaches when recording outcomes is (nearly) free."""
    from access.receivers import record_invitations_delivered

    sink.ask("reset")
    mailer = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {"host": "127.0.0.1",
                                                                                   "port": sink.port}}
    messages_delivered.disconnect(record_invitations_delivered)
    try:
        with override_settings(MAILERS={"default": mailer}, DEBUG=False):  # as the workers run
            deliver_due()
    finally:
        messages_delivered.connect(record_invitations_delivered)
    rate, report = sink.rate()
    assert report["count"] == report["unique"] == count, report
    return rate


def run() -> list[Row]:
    count = scaled("EMAILS", 20000)
    practice = build(count)
    sink = Sink()
    try:
        queue(practice)
        built = prebuilt()
        limit = bare_smtplib(sink, built)
        print(f"  case 2: bare smtplib {limit:,.0f}/s")
        rows = [Row(f"2 delivery of {count:,} emails: bare smtplib, one connection", f"{limit:,.0f} msg/s",
                    target="the transport limit")]
        for n in (1, 3):
            limit = limit if n == 1 else bare_smtplib(sink, built)  # the limit of this moment (module docstring)
            queue(practice)
            rate, report = workers(sink, n, count)
            print(f"  case 2: {n} worker(s) {rate:,.0f}/s (limit just before {limit:,.0f}/s); server count "
                  f"{report['count']:,} = queued {count:,}")
            rows.append(Row(f"2 delivery: {n} worker{'s' if n > 1 else ''} (server count {report['count']:,}"
                            f" = queued, each once)", f"{rate:,.0f} msg/s", f"{limit:,.0f} msg/s", rate / limit,
                            TARGET if n == 1 else "faster than one worker"))
        limit = bare_smtplib(sink, built)
        queue(practice)
        rate = one_worker_without_history(sink, count)
        print(f"  case 2: 1 worker without history receivers {rate:,.0f}/s (limit just before {limit:,.0f}/s)")
        rows.append(Row("2 (diagnostic) 1 worker, history receiver off", f"{rate:,.0f} msg/s", f"{limit:,.0f} msg/s",
                        rate / limit, "where the time goes"))
        return rows
    finally:
        sink.stop()
