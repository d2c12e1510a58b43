"""The reminder before expiry (Practice.reminder_days_before): one email, N days before, with a reissued
link (the earlier one dies, recorded), the expiry unchanged; never to a connected patient or past the
daily cap; none for an invitation no longer pending."""

import datetime

import pytest
import time_machine

from access import errors, selectors
from access.actions import acceptance, automatic, sending
from access.models import AccessEvent, Connection, Invitation
from access.tests.helpers import actions_of, connect, right_answers, send
from conftest import NOW
from mail.models import Message

DAY, SECOND = datetime.timedelta(days=1), datetime.timedelta(seconds=1)
EXPIRES = NOW + datetime.timedelta(days=7)  # the cast's practice: 7-day invitations, a reminder 2 days before


def remind_at(moment: datetime.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return automatic.send_reminders()


@pytest.fixture
def sent(cast):
    with time_machine.travel(NOW, tick=False):
        return send(cast)


def test_it_reminds_at_exactly_n_days_before_expiry_and_not_a_second_earlier(cast, sent):
    assert remind_at(EXPIRES - 2 * DAY - SECOND) == 0
    assert not Message.objects.filter(kind="reminder").exists()
    assert remind_at(EXPIRES - 2 * DAY) == 1
    reminder = Message.objects.get(kind="reminder")
    assert (reminder.to, reminder.invitation_id) == ("pat@example.test", sent.invitation.pk)
    assert remind_at(EXPIRES - DAY) == 0  # one reminder per invitation


@pytest.mark.parametrize("days", [1, 3])
def test_it_follows_the_practices_number_of_days(cast, days):
    cast.practice.reminder_days_before = days
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)
    assert remind_at(EXPIRES - days * DAY - SECOND) == 0
    assert remind_at(EXPIRES - days * DAY) == 1


def test_the_reminder_reissues_the_link_the_old_one_dies_and_the_expiry_stays(cast, sent):
    remind_at(EXPIRES - 2 * DAY)
    invitation = Invitation.objects.get()
    assert (invitation.expires_at, invitation.reminded_at, invitation.status) == (EXPIRES, EXPIRES - 2 * DAY, "pending")
    link = Message.objects.get(kind="reminder").secret_link
    new_token = link.rstrip("/").rsplit("/", 1)[-1]
    with time_machine.travel(EXPIRES - DAY, tick=False):
        with pytest.raises(errors.LinkNotUsable):
            acceptance.invitation_for_token(sent.token)
        assert acceptance.invitation_for_token(new_token) == invitation
        proof = acceptance.verify_identity(new_token, right_answers(cast.pat)).proof
        acceptance.accept_invitation(new_token, proof=proof, password="a-long-enough-password")
    event = AccessEvent.objects.get(action=AccessEvent.Action.LINK_REISSUED)
    assert (event.reason, event.actor_kind, event.invitation_id) == ("Link reissued for a reminder", "system", invitation.pk)


@pytest.mark.parametrize("end", ["accepted", "revoked", "locked", "expired"])
def test_none_for_an_invitation_no_longer_pending(cast, sent, end):
    with time_machine.travel(NOW + DAY, tick=False):
        if end == "accepted":
            proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
            acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
        elif end == "revoked":
            sending.revoke_invitation(cast.pat, by=cast.alice)
        elif end == "locked":
            for _ in range(3):
                with pytest.raises(errors.Refusal):
                    acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987-65-4321"))
    moment = EXPIRES + SECOND if end == "expired" else EXPIRES - 2 * DAY
    assert remind_at(moment) == 0
    assert not Message.objects.filter(kind="reminder").exists()
    assert AccessEvent.Action.LINK_REISSUED not in actions_of(cast.pat)


def test_none_when_the_setting_is_off(cast, sent):
    cast.practice.reminder_days_before = None
    cast.practice.save()
    assert remind_at(EXPIRES - DAY) == 0


def test_none_for_an_invitation_sent_less_than_n_days_before_its_expiry(cast):
    cast.practice.invite_ttl_days = 2  # the reminder would fall on the moment it was sent
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)
    assert remind_at(NOW + DAY) == 0


def earlier_invitations(cast, count: int, at: datetime.datetime) -> None:
    """`count` invitations sent to Pat at `at`, since revoked (history does not matter here)."""
    for n in range(count):
        Invitation.objects.create(practice=cast.practice, patient=cast.pat, token_hash=f"{n:064d}", email="pat@example.test",
                                  channel="chart", status="revoked", sent_at=at, expires_at=at + 7 * DAY, closed_at=at)


def test_the_daily_cap_holds_a_reminder_back_until_the_day_has_passed(cast, sent):
    due = EXPIRES - 2 * DAY
    earlier_invitations(cast, 5, due - 3600 * SECOND)
    assert remind_at(due) == 0
    assert remind_at(due + DAY - 3600 * SECOND - SECOND) == 0  # a second before the five are 24 hours old
    assert remind_at(due + DAY - 3600 * SECOND) == 1


def test_a_reminder_counts_against_the_daily_cap(cast, sent):
    due = EXPIRES - 2 * DAY
    earlier_invitations(cast, 4, due - 3600 * SECOND)
    assert remind_at(due) == 1  # the fifth invitation email of the day
    with time_machine.travel(due, tick=False):
        facts = selectors.invitation_facts([cast.pat.pk], now=due)[cast.pat.pk]
    assert facts.sent_in_last_day == 5


def test_a_connected_patient_is_never_reminded(cast, sent):
    # A pending invitation beside a live connection cannot be made through the actions; the rule still holds.
    with time_machine.travel(NOW, tick=False):
        connect(cast, cast.bea)
    Connection.objects.filter(patient=cast.bea).update(patient=cast.pat, practice=cast.practice)
    assert remind_at(EXPIRES - 2 * DAY) == 0
