"""A patient renews an expired invitation from its link: the identity check again, then a new
invitation through the ordinary send path, to the email on file (access.actions.renewal)."""

import datetime

import pytest
import time_machine
from django.db import connection as db

from access import errors
from access.actions import acceptance, expiry, renewal, sending
from access.models import AccessEvent, Attempt, Invitation
from access.tests.helpers import actions_of, connect, right_answers, send, snapshot
from clinic.models import Notification
from conftest import NOW, at_once, postgres_only
from mail.models import Message
from portico.client import Client

WRONG = acceptance.IdentityAnswers(ssn="987-65-4321")
ADDRESS = Client(ip="203.0.113.9", user_agent="Test browser")


@pytest.fixture
def expired(cast):
    """Pat's invitation, sent at NOW; the clock then stands one second after it expired (7 days)."""
    with time_machine.travel(NOW, tick=False):
        sent = send(cast)
    with time_machine.travel(sent.invitation.expires_at + datetime.timedelta(seconds=1), tick=False) as clock:
        yield sent, clock


def test_it_sends_a_new_invitation_to_the_email_on_file(cast, expired):
    old, _ = expired
    new = renewal.renew_invitation(old.token, right_answers(cast.pat), client=ADDRESS)
    assert (new.invitation.email, new.invitation.channel, new.invitation.status) == (
        "pat@example.test", "renewal", "pending")
    old.invitation.refresh_from_db()
    assert old.invitation.status == Invitation.Status.EXPIRED
    with pytest.raises(errors.LinkNotUsable, match="expired"):  # the old link stays dead
        acceptance.invitation_for_token(old.token)
    assert acceptance.invitation_for_token(new.token) == new.invitation
    mail = Message.objects.get(invitation_id=new.invitation.pk)
    assert (mail.kind, mail.to) == (Message.Kind.INVITATION, "pat@example.test")


def test_it_records_the_renewal_with_the_client_address_and_tells_staff(cast, expired):
    old, _ = expired
    new = renewal.renew_invitation(old.token, right_answers(cast.pat), client=ADDRESS)
    assert actions_of(cast.pat)[-4:] == ["invitation.expired", "invitation.sent", "identity.passed",
                                         "invitation.renewed"]
    renewed = AccessEvent.objects.get(action="invitation.renewed")
    assert (renewed.invitation_id, renewed.actor_kind, renewed.channel, renewed.client_ip, renewed.user_agent) == (
        old.invitation.pk, "patient", "renewal", "203.0.113.9", "Test browser")
    sent = AccessEvent.objects.get(action="invitation.sent", invitation=new.invitation)
    assert (sent.channel, sent.reason, sent.client_ip) == ("renewal", "Renewed by the patient", "203.0.113.9")
    told = Notification.objects.filter(text__contains="renewed their expired portal invitation")
    assert {n.recipient for n in told} == {cast.alice, cast.dora}  # who sent it, and the doctor


def test_a_wrong_answer_counts_and_the_third_locks_it(cast, expired):
    old, _ = expired
    for left in (2, 1):
        with pytest.raises(errors.IdentityNotConfirmed) as refused:
            renewal.renew_invitation(old.token, WRONG, client=ADDRESS)
        assert refused.value.attempts_left == left
    before = Message.objects.count()
    with pytest.raises(errors.LinkNotUsable, match="locked"):
        renewal.renew_invitation(old.token, WRONG, client=ADDRESS)
    old.invitation.refresh_from_db()
    assert (old.invitation.status, old.invitation.failed_checks) == ("locked", 3)
    assert actions_of(cast.pat)[-2:] == ["identity.failed", "invitation.locked"]
    assert Notification.objects.filter(text__contains="locked after 3 failed identity checks").exists()
    with pytest.raises(errors.LinkNotUsable, match="locked"):  # right answers no longer help
        renewal.renew_invitation(old.token, right_answers(cast.pat), client=ADDRESS)
    assert Message.objects.count() == before and cast.pat.invitations.count() == 1


def test_wrong_answers_before_expiry_count_towards_the_lock(cast, expired):
    old, clock = expired
    Invitation.objects.filter(pk=old.invitation.pk).update(failed_checks=2)
    with pytest.raises(errors.LinkNotUsable, match="locked"):
        renewal.renew_invitation(old.token, WRONG)


def test_the_address_limit_applies(cast, expired, settings):
    old, _ = expired
    for _ in range(10):  # ten failures from one address in 15 minutes, on other invitations
        with pytest.raises(errors.LinkNotUsable):
            acceptance.verify_identity("x" * 43, WRONG, client=ADDRESS)
    before = snapshot()
    with pytest.raises(errors.TooManyAttempts):
        renewal.renew_invitation(old.token, right_answers(cast.pat), client=ADDRESS)
    assert snapshot()["invitations"] == before["invitations"]


@pytest.mark.parametrize(("after_expiry", "renews"), [
    (datetime.timedelta(days=90), True),  # the window's last second
    (datetime.timedelta(days=90, seconds=1), False),
])
def test_it_renews_up_to_the_practices_days_after_expiry(cast, expired, after_expiry, renews):
    old, clock = expired
    clock.move_to(old.invitation.expires_at + after_expiry)
    if renews:
        assert renewal.renew_invitation(old.token, right_answers(cast.pat)).invitation.channel == "renewal"
        return
    expiry.expire_invitations()  # the sweep's work, which the refusal would also do first
    before = snapshot()
    with pytest.raises(errors.CannotRenew) as refused:
        renewal.renew_invitation(old.token, right_answers(cast.pat))
    assert refused.value.reason == "too_late"
    assert snapshot()["invitations"] == before["invitations"] and snapshot()["messages"] == before["messages"]


def test_the_practice_sets_the_window_or_turns_it_off(cast, expired):
    old, clock = expired
    cast.practice.renewal_days = 7
    cast.practice.save()
    clock.move_to(old.invitation.expires_at + datetime.timedelta(days=8))
    with pytest.raises(errors.CannotRenew, match="too long ago"):
        renewal.renewable_invitation(old.token)
    cast.practice.renewal_days = None
    cast.practice.save()
    with pytest.raises(errors.CannotRenew) as refused:
        renewal.renew_invitation(old.token, right_answers(cast.pat))
    assert refused.value.reason == "off"


@pytest.mark.parametrize("status", ["revoked", "locked", "accepted"])
def test_it_is_not_for_a_revoked_locked_or_accepted_invitation(cast, expired, status):
    old, _ = expired
    Invitation.objects.filter(pk=old.invitation.pk).update(status=status)
    before = snapshot()
    with pytest.raises(errors.LinkNotUsable):
        renewal.renew_invitation(old.token, right_answers(cast.pat))
    assert snapshot()["invitations"] == before["invitations"] and snapshot()["messages"] == before["messages"]


def test_it_is_not_for_a_pending_invitation(cast):
    sent = send(cast)
    with pytest.raises(errors.LinkNotUsable):
        renewal.renewable_invitation(sent.token)


def test_it_is_not_offered_once_the_patient_is_connected(cast, expired):
    old, _ = expired
    connect(cast)
    with pytest.raises(errors.CannotRenew) as refused:
        renewal.renew_invitation(old.token, right_answers(cast.pat))
    assert refused.value.reason == "connected"


def test_it_is_not_offered_once_a_newer_invitation_was_sent(cast, expired):
    old, _ = expired
    sending.send_invitation(cast.pat, by=cast.alice, channel="chart")
    with pytest.raises(errors.CannotRenew) as refused:
        renewal.renewable_invitation(old.token)
    assert refused.value.reason == "newer"


def test_it_is_not_offered_once_the_email_on_the_chart_changed(cast, expired):
    old, _ = expired
    cast.pat.email = "pat.new@example.test"
    cast.pat.save()
    with pytest.raises(errors.CannotRenew) as refused:
        renewal.renew_invitation(old.token, right_answers(cast.pat))
    assert refused.value.reason == "email_changed"
    assert not Message.objects.filter(to="pat.new@example.test").exists()


def test_a_renewed_link_cannot_be_renewed_again(cast, expired):
    old, _ = expired
    renewal.renew_invitation(old.token, right_answers(cast.pat))
    with pytest.raises(errors.CannotRenew, match="newer"):
        renewal.renew_invitation(old.token, right_answers(cast.pat))
    assert cast.pat.invitations.count() == 2


def test_a_refusal_by_the_send_rules_changes_nothing(cast, expired):
    """The chart now says the patient is too young: the answers match, the send path refuses, and the
    renewal is rolled back with it (no event, no mail, the old invitation as it was)."""
    old, _ = expired
    cast.pat.date_of_birth = datetime.date(2020, 1, 1)
    cast.pat.save()
    expiry.expire_invitations()
    before = snapshot()
    with pytest.raises(errors.NotEligible):
        renewal.renew_invitation(old.token, right_answers(cast.pat), client=ADDRESS)
    assert snapshot() == before


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_renewals_at_once_send_one_invitation(cast):
    with time_machine.travel(NOW, tick=False):
        old = send(cast)
    with time_machine.travel(old.invitation.expires_at + datetime.timedelta(minutes=1), tick=False):
        outcomes = at_once(*[lambda: renewal.renew_invitation(old.token, right_answers(cast.pat))] * 2)
    assert sorted(type(o).__name__ for o in outcomes) == ["CannotRenew", "SentInvitation"]
    assert cast.pat.invitations.filter(channel="renewal").count() == 1
    assert Message.objects.filter(kind="invitation").count() == 2  # the first invitation and one renewal
    assert db.vendor == "postgresql"


def test_a_chart_without_identity_details_is_not_offered_renewal(cast, expired):
    old, _ = expired
    cast.pat.ssn, cast.pat.date_of_birth = "", None
    cast.pat.save()
    with pytest.raises(errors.CannotRenew) as refused:
        renewal.renewable_invitation(old.token)
    assert refused.value.reason == "no_details"


def test_only_wrong_answers_count_against_the_address(cast, expired):
    old, _ = expired
    cast.practice.renewal_days = None
    cast.practice.save()
    for _ in range(12):  # more than the address may get wrong in 15 minutes
        with pytest.raises(errors.CannotRenew):
            renewal.renew_invitation(old.token, right_answers(cast.pat), client=ADDRESS)
    assert not Attempt.objects.filter(client_ip="203.0.113.9").exists()
