import datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction

from access import errors, rules
from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from access.selectors import PortalState
from access.summary import portal_access
from access.tests.helpers import actions_of, connect, send, snapshot
from clinic.models import Practice
from conftest import NOW, at_once
from mail.models import Message


@time_machine.travel(NOW, tick=False)
def test_it_sends(cast):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.APPOINTMENT)
    inv = Invitation.objects.get()
    assert inv.pk == sent.invitation.pk
    assert inv.status == Invitation.Status.PENDING
    assert inv.email == "pat@example.test"
    assert inv.channel == Channel.APPOINTMENT
    assert inv.sent_by == cast.alice
    assert inv.sent_at == NOW
    assert inv.expires_at == NOW + datetime.timedelta(days=7)
    event = AccessEvent.objects.get()
    assert (event.action, event.actor, event.actor_role, event.channel, event.invitation) == (
        "invitation.sent", cast.alice.user, "staff", "appointment", inv)
    message = Message.objects.get()
    assert (message.kind, message.to, message.dedupe_key) == ("invitation", "pat@example.test", f"invitation:{inv.pk}")
    assert portal_access(cast.pat).state == PortalState.PENDING


@pytest.mark.parametrize("days", [1, 30])
def test_it_honours_the_practices_invitation_lifetime(cast, days):
    cast.practice.invite_ttl_days = days
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)
    assert Invitation.objects.get().expires_at == NOW + datetime.timedelta(days=days)


def test_a_new_practice_starts_with_the_ttl_setting(db, settings):
    settings.PORTICO_INVITE_TTL_DAYS = 3
    assert Practice.objects.create(name="New Practice").invite_ttl_days == 3


def test_it_refuses_an_ineligible_patient(cast):
    before = snapshot()
    with pytest.raises(errors.NotEligible) as e:
        send(cast, cast.ned)
    assert e.value.missing == ["Add an email address",
                               "Add a social security number, or a date of birth and a phone number"]
    assert snapshot() == before


@time_machine.travel(NOW, tick=False)
def test_it_refuses_a_second_pending_invitation(cast):
    send(cast)
    before = snapshot()
    with pytest.raises(errors.AlreadyPending) as e:
        send(cast)
    assert e.value.message == "This patient already has a pending invitation (expires 9 Nov 2026)."
    assert snapshot() == before


def test_it_refuses_a_connected_patient(cast):
    connect(cast)
    before = snapshot()
    with pytest.raises(errors.AlreadyConnected):
        send(cast)
    assert snapshot() == before


def test_it_sends_again_once_the_last_one_lapsed(cast):
    with time_machine.travel(NOW, tick=False):
        first = send(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        second = send(cast)
    first.invitation.refresh_from_db()
    assert first.invitation.status == Invitation.Status.EXPIRED
    assert second.invitation.status == Invitation.Status.PENDING
    assert actions_of(cast.pat) == ["invitation.sent", "invitation.expired", "invitation.sent"]


def test_the_database_allows_one_pending_invitation_per_patient(cast):
    send(cast)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            practice=cast.practice, patient=cast.pat, token_hash="x" * 64, email="pat@example.test",
            channel=Channel.CHART, sent_at=NOW, expires_at=NOW,
        )


@pytest.mark.django_db(transaction=True)
def test_two_staff_clicking_at_once_make_one_invitation(cast):
    results = at_once(*(lambda m=m: sending.send_invitation(cast.pat, by=m, channel=Channel.CHART)
                        for m in (cast.alice, cast.dora)))
    assert sorted(type(r).__name__ for r in results) == ["AlreadyPending", "SentInvitation"]
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.filter(action="invitation.sent").count() == 1
    assert Message.objects.count() == 1


def test_it_limits_invitations_per_patient_per_day(cast):
    with time_machine.travel(NOW, tick=False) as clock:
        send(cast)
        for _ in range(rules.MAX_INVITATIONS_PER_DAY - 1):
            clock.shift(datetime.timedelta(hours=1))
            sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        before = snapshot()
        with pytest.raises(errors.TooManyInvitations) as e:
            sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        assert e.value.message == ("This patient has been sent 5 invitations in the last 24 hours. "
                                   "Please try again tomorrow.")
        assert snapshot() == before  # the pending invitation was not revoked either
        clock.move_to(NOW + datetime.timedelta(days=1, seconds=1))
        sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert Invitation.objects.count() == 6
