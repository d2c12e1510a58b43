import asyncio
import contextlib
import datetime
import re

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django.utils import timezone

from access.actions import acceptance, outcomes
from access.models import AccessEvent, Invitation
from access.tests.helpers import actions_of, right_answers, send
from clinic.models import Notification
from conftest import NOW, SOON, Collector, at_once, free_port, run_worker
from mail import delivery
from mail.models import Message

LINK = re.compile(r"https://portal\.example\.test/portal/i/([A-Za-z0-9_\-]{43})/")


class PeerCollector(Collector):
    """Keeps which connection (client address and port) each message came on; can drop the
    connection instead of answering the `drop_at`-th message (once), or answer each one slowly."""

    def __init__(self, drop_at: int = 0, delay: float = 0):
        super().__init__()
        self.peers, self.drop_at, self.delay, self.seen = [], drop_at, delay, 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.seen == self.drop_at:
            server.transport.close()
            return "421 Closing"
        await asyncio.sleep(self.delay)
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def smtp_on(handler, port, settings):
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}}
    try:
        yield
    finally:
        controller.stop()


def queue_connected_mail(cast, count: int) -> None:
    """`count` queued "connected" emails (no history is recorded for them), due now."""
    now = timezone.now()
    Message.objects.bulk_create(
        Message(kind="connected", to=f"c{i}@example.test", dedupe_key=f"test:{i}", next_attempt_at=now,
                created_at=now, context={"practice": cast.practice.name, "portal_url": "https://x.test/portal/"})
        for i in range(count)
    )


def test_the_worker_delivers_the_invitation_over_smtp(cast, smtp_server):
    with time_machine.travel(NOW, tick=False):
        sent = send(cast)
    with time_machine.travel(SOON):  # while the invitation is pending
        run_worker()
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["pat@example.test"]
    (msg,) = smtp_server.messages()
    assert msg["Subject"] == "Maple Street Clinic invites you to its patient portal"
    text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Maple Street Clinic" in part
        assert "Monday, November 9 at 10:00 AM Eastern" in part
        (token,) = set(LINK.findall(part))
        assert token == sent.token
        # Nothing about the patient's health or identity is in the mail.
        for private in ("Pat", "Jones", "123456789", "6789", "1980", "5550123"):
            assert private not in part
    match = resolve(f"/portal/i/{token}/")
    assert match.view_name == "portal:landing" and match.kwargs == {"token": token}
    with time_machine.travel(NOW, tick=False):
        assert acceptance.invitation_for_token(token) == sent.invitation
    message = Message.objects.get()
    assert (message.status, message.attempts, message.secret_link) == ("sent", 1, "")
    assert actions_of(cast.pat) == ["invitation.sent", "email.sent"]


def test_the_link_uses_the_configured_base_url(cast, smtp_server, settings):
    settings.PORTICO_BASE_URL = "https://portal.practice.example"
    send(cast)
    run_worker()
    (msg,) = smtp_server.messages()
    assert "https://portal.practice.example/portal/i/" in msg.get_body(("plain",)).get_content()


def test_the_patient_is_told_after_accepting(cast, smtp_server):
    sent = send(cast)
    run_worker()  # the invitation email goes while the invitation is pending; then the patient accepts
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
    run_worker()
    subjects = sorted(m["Subject"] for m in smtp_server.messages())
    assert subjects == ["Maple Street Clinic invites you to its patient portal",
                        "You are now connected to Maple Street Clinic"]
    confirmation = [m for m in smtp_server.messages() if m["Subject"].startswith("You are")][0]
    assert "If this was not you, contact Maple Street Clinic" in confirmation.get_body(("plain",)).get_content()
    assert confirmation["To"] == "pat@example.test"


def test_it_retries_with_backoff_while_the_server_is_down(cast, settings, smtp_server):
    up = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2}}}
    with time_machine.travel(NOW, tick=False):
        send(cast)
        assert delivery.deliver_due() == 1
    message = Message.objects.get()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.next_attempt_at == NOW + datetime.timedelta(seconds=30)
    assert "ConnectionRefusedError" in message.last_error
    with time_machine.travel(NOW + datetime.timedelta(seconds=29), tick=False):
        assert delivery.deliver_due() == 0  # not due yet
    settings.MAILERS = up
    with time_machine.travel(NOW + datetime.timedelta(seconds=30), tick=False):
        assert delivery.deliver_due() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert len(smtp_server.envelopes) == 1
    assert actions_of(cast.pat) == ["invitation.sent", "email.sent"]


def test_it_backs_off_as_webhooks_do_and_gives_up_after_eight_tries_over_an_hour_and_tells_staff(cast, settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2}}}
    with time_machine.travel(NOW, tick=False):
        send(cast)
    moment, waits = NOW, []
    for _ in range(8):
        with time_machine.travel(moment, tick=False):
            assert delivery.deliver_due() == 1
        waits.append(round((Message.objects.get().next_attempt_at - moment).total_seconds()))
        moment = Message.objects.get().next_attempt_at
    message = Message.objects.get()
    assert (message.status, message.attempts, message.secret_link) == ("failed", 8, "")
    assert waits[:7] == [30, 60, 120, 240, 480, 960, 1920]
    assert actions_of(cast.pat) == ["invitation.sent", "email.failed"]
    assert AccessEvent.objects.get(action="email.failed").outcome == "failure"
    texts = set(Notification.objects.values_list("text", flat=True))
    assert texts == {"The portal invitation email to Pat Jones could not be delivered."}
    assert Notification.objects.count() == 2  # the sender and the doctor
    assert Invitation.objects.get().status == "pending"  # staff decide: fix the address, then resend


def test_a_message_is_claimed_by_one_sender_only(cast, smtp_server):
    send(cast)
    assert delivery.send_batch(worker="a") == 1
    assert delivery.send_batch(worker="b") == 0  # already sent
    run_worker()
    assert len(smtp_server.envelopes) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_message_once(cast, smtp_server):
    queue_connected_mail(cast, 40)
    claimed = at_once(lambda: delivery.send_batch(30, worker="a"), lambda: delivery.send_batch(30, worker="b"))
    assert sum(claimed) == 40 and min(claimed) >= 10  # each took what the other had not
    ids = [m["Message-ID"] for m in smtp_server.messages()]
    assert len(ids) == len(set(ids)) == 40
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_workers_of_two_nodes_started_alike_have_different_names(monkeypatch):
    # Two containers started the same way: the same host name, the same small pid.
    monkeypatch.setattr(delivery.socket, "gethostname", lambda: "portico")
    monkeypatch.setattr(delivery.os, "getpid", lambda: 7)
    first, second = delivery.worker_name.__wrapped__(), delivery.worker_name.__wrapped__()
    assert first != second and first.startswith("portico:7:") and second.startswith("portico:7:")
    assert delivery.worker_name() == delivery.worker_name()  # one process keeps its name
    monkeypatch.setattr(delivery.socket, "gethostname", lambda: "h" * 255)
    assert len(delivery.worker_name.__wrapped__()) <= 64  # django-tasks-db's limit for a worker id


def test_a_batch_is_sent_on_one_connection_and_recorded_in_bulk(cast, settings):
    handler, port = PeerCollector(), free_port()
    with smtp_on(handler, port, settings):
        queue_connected_mail(cast, 5)
        with CaptureQueriesContext(connection) as queries:
            assert delivery.send_batch(worker="a") == 5
    assert len(handler.envelopes) == 5 and len(set(handler.peers)) == 1
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "mail_message"')]
    assert len(updates) == 2  # the claim and the sent rows, whatever the batch size
    assert set(Message.objects.values_list("status", "attempts", "claimed_by")) == {("sent", 1, "a")}


def test_it_reconnects_when_the_server_drops_the_connection(cast, settings):
    handler, port = PeerCollector(drop_at=3), free_port()
    with smtp_on(handler, port, settings):
        queue_connected_mail(cast, 5)
        assert delivery.send_batch(worker="a") == 5
    assert sorted(e.rcpt_tos[0] for e in handler.envelopes) == [f"c{i}@example.test" for i in range(5)]
    assert len(set(handler.peers)) == 2
    assert set(Message.objects.values_list("status", "attempts")) == {("sent", 1)}


class RefusingOne(PeerCollector):
    """Refuses one recipient at RCPT, as a server does for an unknown mailbox."""

    def __init__(self, refused: str):
        super().__init__()
        self.refused = refused

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_recipient_fails_that_message_only_and_the_batch_goes_on(cast, settings):
    handler, port = RefusingOne("c2@example.test"), free_port()
    with time_machine.travel(NOW, tick=False), smtp_on(handler, port, settings):
        queue_connected_mail(cast, 5)
        assert delivery.send_batch(worker="a") == 5
    # The refused transaction was reset, so the next messages went on the same connection.
    assert [e.rcpt_tos for e in handler.envelopes] == [[f"c{i}@example.test"] for i in (0, 1, 3, 4)]
    assert len(set(handler.peers)) == 1
    refused = Message.objects.get(to="c2@example.test")
    assert (refused.status, refused.attempts) == ("queued", 1)
    assert refused.next_attempt_at == NOW + datetime.timedelta(seconds=30)
    assert refused.last_error.startswith("SMTPRecipientsRefused") and "No such user" in refused.last_error
    assert set(Message.objects.exclude(pk=refused.pk).values_list("status", flat=True)) == {"sent"}


def test_lines_starting_with_a_dot_arrive_as_written(cast, smtp_server):
    """SMTP drops the first dot of a line that starts with one (and a line of just "." ends the
    message), so the sender doubles it (RFC 5321 4.5.2)."""
    now = timezone.now()
    Message.objects.create(kind="connected", to="dots@example.test", dedupe_key="test:dots", next_attempt_at=now,
                           created_at=now, context={"practice": "Maple\n.\n..Dots", "portal_url": "https://x.test/"})
    assert delivery.send_batch(worker="a") == 1
    (msg,) = smtp_server.messages()
    assert "connected to Maple\r\n.\r\n..Dots.\r\n" in msg.get_body(("plain",)).get_content()
    assert Message.objects.get().status == "sent"


def test_it_gives_back_what_it_could_not_try_within_half_the_lease(cast, settings):
    settings.PORTICO_MAIL_LEASE_SECONDS = 1
    handler, port = PeerCollector(delay=0.3), free_port()
    with smtp_on(handler, port, settings):
        queue_connected_mail(cast, 5)
        assert delivery.send_batch(worker="a") == 5
    sent = Message.objects.filter(status="sent")
    given_back = Message.objects.filter(status="queued")
    assert sent.count() == len(handler.envelopes) >= 1 and given_back.count() >= 1
    assert sent.count() + given_back.count() == 5
    # Due at once, the try not counted, and anyone may take them.
    assert {(m.attempts, m.next_attempt_at <= timezone.now()) for m in given_back} == {(0, True)}


def test_a_worker_whose_lease_ran_out_records_nothing(cast, smtp_server, settings):
    settings.PORTICO_MAIL_LEASE_SECONDS = 300
    send(cast)
    claimed_at, (message,) = delivery._claim(10, "slow")
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=301)):
        assert delivery.send_batch(worker="quick") == 1  # took the orphan over and sent it
    delivery._record_sent([message], "slow", claimed_at)  # the first worker wakes up
    message.refresh_from_db()
    assert (message.status, message.claimed_by, message.attempts) == ("sent", "quick", 2)
    assert actions_of(cast.pat) == ["invitation.sent", "email.sent"]  # told once


def test_a_broken_template_is_retried_then_failed_not_left_sending(cast, smtp_server, settings, tmp_path):
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "invitation-subject.txt").write_text("{% broken %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with time_machine.travel(NOW, tick=False):
        send(cast)
        assert delivery.deliver_due() == 1
    message = Message.objects.get()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.last_error.startswith("TemplateSyntaxError")
    assert smtp_server.envelopes == []


def test_a_failure_to_record_delivery_does_not_send_twice(cast, smtp_server, monkeypatch):
    send(cast)

    def broken(*args, **kwargs):
        raise RuntimeError("history unavailable")

    monkeypatch.setattr(outcomes, "record_email_outcomes", broken)
    assert delivery.send_batch() == 1
    assert Message.objects.get().status == "sent"
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(hours=1)):
        assert delivery.deliver_due() == 0
    assert len(smtp_server.envelopes) == 1
