import datetime

import pytest
import time_machine
from django.core.management import call_command

from access import errors
from access.actions import acceptance, expiry
from access.models import AccessEvent, Invitation
from access.selectors import PortalState
from access.summary import portal_access
from access.tests.helpers import actions_of, right_answers, send
from conftest import NOW

SECOND = datetime.timedelta(seconds=1)
WEEK = datetime.timedelta(days=7)


@pytest.fixture
def sent(cast):
    with time_machine.travel(NOW, tick=False):
        return send(cast)


def test_it_works_one_second_before_the_boundary(cast, sent):
    with time_machine.travel(NOW + WEEK - SECOND, tick=False):
        assert acceptance.invitation_for_token(sent.token) == sent.invitation
        proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
        acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
    assert portal_access(cast.pat).state == PortalState.CONNECTED


@pytest.mark.parametrize("late", [datetime.timedelta(0), SECOND, datetime.timedelta(days=30)])
def test_it_refuses_at_and_after_the_boundary(cast, sent, late):
    with time_machine.travel(NOW + WEEK + late, tick=False):
        with pytest.raises(errors.LinkNotUsable) as e:
            acceptance.invitation_for_token(sent.token)
        assert e.value.reason == "expired"
        with pytest.raises(errors.LinkNotUsable):
            acceptance.verify_identity(sent.token, right_answers(cast.pat))
        assert portal_access(cast.pat).state == PortalState.EXPIRED
    # Using a lapsed link records the expiry at once (the periodic job need not have run), and the attempt.
    assert actions_of(cast.pat) == ["invitation.sent", "invitation.expired", "invitation.link_refused"]


def test_accept_checks_expiry_even_after_a_passed_identity_check(cast, sent):
    with time_machine.travel(NOW + WEEK - SECOND, tick=False):
        proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    with time_machine.travel(NOW + WEEK, tick=False):
        with pytest.raises(errors.LinkNotUsable):
            acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
    assert not cast.pat.connections.exists()


def test_the_periodic_job_records_each_lapsed_invitation_once(cast, sent):
    cast.ned.email, cast.ned.ssn = "ned@example.test", "234567891"
    cast.ned.save()
    with time_machine.travel(NOW + datetime.timedelta(days=3), tick=False):
        fresh = send(cast, cast.ned)
    with time_machine.travel(NOW + WEEK, tick=False):
        assert expiry.expire_invitations() == 1
        assert expiry.expire_invitations() == 0
    assert Invitation.objects.get(pk=sent.invitation.pk).status == Invitation.Status.EXPIRED
    assert Invitation.objects.get(pk=fresh.invitation.pk).status == Invitation.Status.PENDING
    assert AccessEvent.objects.filter(action="invitation.expired").count() == 1
    assert AccessEvent.objects.get(action="invitation.expired").actor_kind == "system"


def test_the_command_says_what_it_did(cast, sent, capsys):
    with time_machine.travel(NOW + WEEK + SECOND, tick=False):
        call_command("expire_invitations")
    assert capsys.readouterr().out.strip() == "Expired 1 invitation."


def test_the_sweep_closes_only_the_lapsed_ones_in_batches(cast):
    from access.tests.test_send_invitations import make_patients

    patients = make_patients(cast.practice, 5)
    with time_machine.travel(NOW, tick=False):
        lapsing = [send(cast, p) for p in patients]
    with time_machine.travel(NOW + datetime.timedelta(days=3), tick=False):
        fresh = send(cast)
    with time_machine.travel(NOW + WEEK, tick=False):
        assert expiry.expire_invitations(batch=2) == 5  # three transactions of 2, 2 and 1
    for sent in lapsing:
        invitation = Invitation.objects.get(pk=sent.invitation.pk)
        assert (invitation.status, invitation.closed_at) == (Invitation.Status.EXPIRED, NOW + WEEK)
        assert actions_of(invitation.patient) == ["invitation.sent", "invitation.expired"]
    assert Invitation.objects.get(pk=fresh.invitation.pk).status == Invitation.Status.PENDING
    assert actions_of(cast.pat) == ["invitation.sent"]
