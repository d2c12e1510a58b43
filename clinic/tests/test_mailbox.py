"""The development Mailbox: real outbox rows sent over SMTP to the server `manage.py smtpd` runs (aiosmtpd's
Mailbox handler writing the Maildir), read back by staff. Each practice sees only the mail it sent to its
own people, also when a patient's address is on file at two practices."""

import contextlib
import datetime
import mailbox as maildir
from email.message import EmailMessage

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from access.models import Connection, Invitation
from access.tests.helpers import send
from clinic.models import Patient
from conftest import free_port
from mail import mailbox, messages
from mail.delivery import deliver_due, message_id
from mail.models import Message


@contextlib.contextmanager
def catching(settings, tmp_path):
    """What `manage.py smtpd` runs, on a free port; the Mailbox page on and reading its folder."""
    settings.PORTICO_MAILBOX_ENABLED = True
    settings.PORTICO_MAILBOX_DIR = tmp_path / "mailbox"
    port = free_port()
    controller = Controller(Mailbox(str(settings.PORTICO_MAILBOX_DIR)), hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}}
    try:
        yield settings.PORTICO_MAILBOX_DIR
    finally:
        controller.stop()


@pytest.fixture
def smtpd(settings, tmp_path):
    with catching(settings, tmp_path) as folder:
        yield folder


def delivered(message: Message) -> str:
    """Send what is queued; the Maildir key of `message`."""
    deliver_due()
    keys = [key for key in maildir.Maildir(str(settings.PORTICO_MAILBOX_DIR)).iterkeys()
            if (caught := mailbox.one(key, to=[message.to], sent=lambda pks: pks)) and caught.message_pk == message.pk]
    assert len(keys) == 1
    return keys[0]


def raw(folder, to: str, subject: str, message_id: str = "") -> str:
    """Mail that did not come from Portico's outbox, dropped into the folder."""
    msg = EmailMessage()
    msg["To"], msg["Subject"], msg["X-RcptTo"] = to, subject, to
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content("Not from Portico")
    return maildir.Maildir(str(folder), create=True).add(msg)


def invitation_mail(cast, patient=None) -> Message:
    sent = send(cast, patient)
    return Message.objects.get(dedupe_key=f"invitation:{sent.invitation.pk}")


@pytest.fixture
def pat_at_harbor(cast):
    """The same address on file at the other practice (the same person, or a family's shared address)."""
    return Patient.objects.create(practice=cast.other_practice, chart_number="B-201", first_name="Pat",
                                  last_name="Jones", email="pat@example.test", ssn="345678901",
                                  date_of_birth=datetime.date(1980, 5, 17), phone="+15555550199")


def listed(client, staff) -> str:
    client.force_login(staff.user)
    return client.get(reverse("clinic:mailbox")).content.decode()


def opened(client, staff, key) -> int:
    client.force_login(staff.user)
    return client.get(reverse("clinic:mailbox-message", args=[key])).status_code


def test_it_lists_and_shows_caught_mail_to_staff(client, cast, smtpd):
    key = delivered(invitation_mail(cast))
    page = listed(client, cast.alice)
    assert "Maple Street Clinic invites you" in page and "pat@example.test" in page
    page = client.get(reverse("clinic:mailbox-message", args=[key])).content.decode()
    assert '<a href="https://portal.example.test/portal/i/' in page  # the link can be clicked


def test_a_shared_address_sees_each_practices_mail_only_at_that_practice(client, cast, smtpd, pat_at_harbor):
    maple = delivered(invitation_mail(cast))
    harbor = delivered(invitation_mail(cast, pat_at_harbor))

    page = listed(client, cast.alice)
    assert "Maple Street Clinic invites you" in page and "Harbor Health" not in page
    assert (opened(client, cast.alice, maple), opened(client, cast.alice, harbor)) == (200, 404)

    page = listed(client, cast.bob)
    assert "Harbor Health invites you" in page and "Maple Street" not in page
    assert (opened(client, cast.bob, harbor), opened(client, cast.bob, maple)) == (200, 404)


def test_each_kind_of_mail_is_seen_by_the_practice_that_sent_it(client, cast, smtpd, pat_at_harbor):
    cast.dora.user.email = "Dora@Maple.example.test"
    cast.dora.user.save()
    account = get_user_model().objects.create_user(username="pat@example.test", email="pat@example.test")
    sent = send(cast)
    connection = Connection.objects.create(practice=cast.practice, patient=cast.pat, account=account,
                                           invitation=sent.invitation, connected_at=sent.invitation.sent_at)
    Invitation.objects.filter(pk=sent.invitation.pk).update(status="accepted")
    kinds = {
        "digest": messages.queue_digests([(cast.dora, [])])[0],
        "connected": messages.queue_connected(sent.invitation),
        "access-revoked": messages.queue_access_revoked(connection),
        # an account belongs to the practices it is connected to: Maple, not Harbor (which has the address)
        "password-reset": messages.queue_password_reset(account, "set-password-token"),
    }
    keys = {kind: delivered(message) for kind, message in kinds.items()}
    assert {kind: opened(client, cast.alice, key) for kind, key in keys.items()} == dict.fromkeys(kinds, 200)
    assert {kind: opened(client, cast.bob, key) for kind, key in keys.items()} == dict.fromkeys(kinds, 404)

    connection.ended_at = sent.invitation.sent_at
    connection.save()  # disconnected: a later reset is nobody's at Maple either
    assert opened(client, cast.alice, keys["password-reset"]) == 404


def test_mail_not_from_portico_or_addressed_outside_the_practice_is_shown_to_nobody(client, cast, smtpd):
    ours = invitation_mail(cast)
    delivered(ours)
    hidden = [
        raw(smtpd, "pat@example.test", "No Message-ID"),
        raw(smtpd, "pat@example.test", "Another sender's id", "<portico-message-1@elsewhere.example.test>"),
        # Maple's own message id, but to Harbor's patient: both scopes must hold
        raw(smtpd, "bea@example.test", "Copied id", message_id(ours)),
        raw(smtpd, "pat@example.test, bea@example.test", "To both", message_id(ours)),
        raw(smtpd, "someone@example.test", "To a stranger", message_id(ours)),
    ]
    for staff in (cast.alice, cast.bob):
        page = listed(client, staff)
        for subject in ("No Message-ID", "Another sender", "Copied id", "To both", "To a stranger"):
            assert subject not in page
        assert [opened(client, staff, key) for key in hidden] == [404] * len(hidden)


def test_staff_see_mail_to_colleagues(client, cast, smtpd):
    cast.dora.user.email = "dora@maple.example.test"
    cast.dora.user.save()
    key = delivered(messages.queue_digests([(cast.dora, [])])[0])
    assert opened(client, cast.alice, key) == 200


def test_the_message_id_is_read_back_as_its_row():
    row = Message(pk=42)
    assert mailbox.message_pk(message_id(row)) == 42
    for other in ("<portico-message-42@elsewhere.example.test>", "<portico-message-x@portal.example.test>", ""):
        assert mailbox.message_pk(other) is None


@pytest.mark.parametrize(("date", "read"), [
    ("Thu, 26 Nov 2026 03:00:00 -0000", datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.UTC)),  # UTC
    ("Thu, 26 Nov 2026 03:00:00 -0500", datetime.datetime(2026, 11, 26, 8, 0, tzinfo=datetime.UTC)),
    ("Thu, 26 Nov 2026 03:00:00", None),  # no zone: not guessed
    ("yesterday", None),
])
def test_the_date_is_read_with_its_zone(date, read):
    caught = mailbox._read("k", f"Date: {date}\r\nTo: pat@example.test\r\n\r\nhi\r\n".encode())
    assert caught.date == read


def test_it_requires_login(client, smtpd):
    response = client.get(reverse("clinic:mailbox"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_it_is_for_staff_only(client, cast, smtpd, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="patient@example.test"))
    assert client.get(reverse("clinic:mailbox")).status_code == 404


def test_it_does_not_exist_unless_enabled(client, cast, smtpd, settings):
    key = delivered(invitation_mail(cast))
    settings.PORTICO_MAILBOX_ENABLED = False
    client.force_login(cast.alice.user)
    assert client.get(reverse("clinic:mailbox")).status_code == 404
    assert client.get(reverse("clinic:mailbox-message", args=[key])).status_code == 404


def test_an_unknown_message_is_404(client, cast, smtpd):
    assert opened(client, cast.alice, "nope") == 404


def test_it_shows_times_in_the_practice_time_zone(client, cast, smtpd):
    # 03:00 UTC on 26 Nov is 10:00 PM on 25 Nov in New York, the practice's time zone.
    with time_machine.travel(datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.UTC), tick=False):
        key = delivered(invitation_mail(cast))
    page = listed(client, cast.alice)
    assert "<td>Wed 25 Nov 2026, 10:00 PM EST</td>" in page
    assert "+0000" not in page and "Thu, 26 Nov" not in page
    page = client.get(reverse("clinic:mailbox-message", args=[key])).content.decode()
    assert "<dd>Wed 25 Nov 2026, 10:00 PM EST</dd>" in page
