"""No email for an invitation that is no longer pending when the mail worker reaches it: the outbox
row is marked skipped, nothing reaches the SMTP server, and the access history says why."""

import datetime

import time_machine

from access import selectors
from access.actions import automatic, sending
from access.models import AccessEvent
from access.tests.helpers import actions_of, send
from conftest import NOW, SOON
from mail import delivery
from mail.models import Message

DAY = datetime.timedelta(days=1)


def test_an_invitation_that_expired_before_its_email_went_gets_none(cast, smtp_server):
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(NOW + 7 * DAY, tick=False):  # the worker was down all week
        assert delivery.send_batch() == 1
    assert smtp_server.envelopes == []
    message = Message.objects.get()
    assert (message.status, message.secret_link) == ("skipped", "")
    assert actions_of(cast.pat) == ["invitation.sent", "email.skipped"]
    assert AccessEvent.objects.get(action="email.skipped").reason == "The invitation was expired"


def test_a_revoked_invitation_gets_no_email_but_the_next_one_does(cast, smtp_server):
    with time_machine.travel(NOW, tick=False):
        send(cast)
        sending.resend_invitation(cast.pat, by=cast.alice, channel="chart")
    with time_machine.travel(SOON, tick=False):
        assert delivery.send_batch() == 2
    assert len(smtp_server.envelopes) == 1
    assert sorted(Message.objects.values_list("status", flat=True)) == ["sent", "skipped"]
    assert AccessEvent.objects.get(action="email.skipped").reason == "The invitation was revoked"


def test_a_reminder_since_reissuing_the_link_replaces_an_unsent_first_email(cast, smtp_server):
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(NOW + 5 * DAY, tick=False):
        automatic.send_reminders()
        assert delivery.send_batch() == 2
    [received] = smtp_server.messages()
    assert received["Subject"] == "Reminder: your invitation to Maple Street Clinic's patient portal ends soon"
    assert Message.objects.get(kind="invitation").status == "skipped"


def test_the_invitation_an_email_is_about_is_read_from_its_typed_column_only(cast):
    with time_machine.travel(NOW, tick=False):
        revoked = send(cast).invitation
        sending.revoke_invitation(cast.pat, by=cast.alice)
        pending = send(cast, cast.bea).invitation

    def email(pk: int, kind: Message.Kind, invitation_id: int, *, context_says: int) -> Message:
        # context_says: a stale key as rows carried before mail.0004; it must not matter
        return Message(pk=pk, kind=kind, invitation_id=invitation_id, context={"invitation_id": context_says})

    with time_machine.travel(SOON, tick=False):
        assert selectors.unwanted_invitation_mail([
            email(1, Message.Kind.INVITATION, revoked.pk, context_says=pending.pk),
            email(2, Message.Kind.INVITATION, pending.pk, context_says=revoked.pk),
            email(3, Message.Kind.REMINDER, revoked.pk, context_says=pending.pk),
            email(4, Message.Kind.CONNECTED, revoked.pk, context_says=revoked.pk),  # not invitation mail
        ]) == [1, 3]


def test_a_skipped_email_is_recorded_against_the_invitation_in_its_typed_column(cast, smtp_server):
    with time_machine.travel(NOW, tick=False):
        sent = send(cast)
        sending.revoke_invitation(cast.pat, by=cast.alice)
    message = Message.objects.get()
    assert (message.kind, message.invitation_id, "invitation_id" in message.context) == (
        Message.Kind.INVITATION, sent.invitation.pk, False)
    with time_machine.travel(SOON, tick=False):
        assert delivery.send_batch() == 1
    skipped = AccessEvent.objects.get(action="email.skipped")
    assert (skipped.invitation_id, skipped.reason) == (sent.invitation.pk, "The invitation was revoked")
