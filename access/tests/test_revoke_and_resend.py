import datetime

import pytest
import time_machine

from access import errors
from access.actions import acceptance, sending
from access.models import Channel, Connection, Invitation
from access.selectors import PortalState
from access.summary import portal_access
from access.tests.helpers import actions_of, connect, right_answers, send, snapshot
from conftest import NOW


def test_it_revokes_a_pending_invitation_and_kills_its_link(cast):
    sent = send(cast)
    sending.revoke_invitation(cast.pat, by=cast.alice, reason="Wrong patient")
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.REVOKED
    assert sent.invitation.closed_at is not None
    assert actions_of(cast.pat) == ["invitation.sent", "invitation.revoked"]
    with pytest.raises(errors.LinkNotUsable) as e:
        acceptance.invitation_for_token(sent.token)
    assert e.value.reason == "revoked"
    with pytest.raises(errors.LinkNotUsable):
        acceptance.verify_identity(sent.token, right_answers(cast.pat))
    assert portal_access(cast.pat).state == PortalState.REVOKED


def test_it_revokes_a_connected_patients_access(cast):
    _, conn = connect(cast)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    conn.refresh_from_db()
    assert conn.ended_at is not None and conn.end_reason == Connection.EndReason.REVOKED
    assert actions_of(cast.pat)[-1] == "access.revoked"
    assert portal_access(cast.pat).state == PortalState.REVOKED


def test_it_refuses_to_revoke_nothing(cast):
    before = snapshot()
    with pytest.raises(errors.NothingToRevoke):
        sending.revoke_invitation(cast.pat, by=cast.alice)
    assert snapshot() == before


def test_resend_revokes_and_sends_in_one_step(cast):
    old = send(cast)
    new = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    old.invitation.refresh_from_db()
    assert old.invitation.status == Invitation.Status.REVOKED
    assert new.invitation.status == Invitation.Status.PENDING
    assert actions_of(cast.pat) == ["invitation.sent", "invitation.revoked", "invitation.sent"]
    assert Invitation.objects.filter(status="pending").count() == 1
    with pytest.raises(errors.LinkNotUsable):
        acceptance.invitation_for_token(old.token)
    assert acceptance.invitation_for_token(new.token) == new.invitation


def test_resend_works_after_expiry_and_lock(cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=7), tick=False):
        sent = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        for _ in range(3):
            with pytest.raises(errors.Refusal):
                acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987-65-4321"))
        assert portal_access(cast.pat).state == PortalState.LOCKED
        again = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        assert acceptance.invitation_for_token(again.token) == again.invitation


def test_resend_refuses_a_connected_patient_and_changes_nothing(cast):
    connect(cast)
    before = snapshot()
    with pytest.raises(errors.AlreadyConnected):
        sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert snapshot() == before


def test_resend_of_an_ineligible_patient_keeps_the_pending_invitation(cast):
    send(cast)
    cast.pat.email = ""
    cast.pat.save()
    before = snapshot()
    with pytest.raises(errors.NotEligible):
        sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert snapshot() == before


def test_a_revoke_racing_an_acceptance_revokes_the_new_access_not_the_used_invitation(cast, monkeypatch):
    """Revoke read the invitation as pending just before the patient's acceptance committed."""
    sent = send(cast)
    stale = Invitation.objects.get(pk=sent.invitation.pk)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    conn = acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
    monkeypatch.setattr(sending, "_pending", lambda patient: stale)  # what the racing revoke saw
    sending.revoke_invitation(cast.pat, by=cast.alice)
    sent.invitation.refresh_from_db()
    conn.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.ACCEPTED
    assert conn.end_reason == Connection.EndReason.REVOKED
    assert actions_of(cast.pat)[-1] == "access.revoked"
    assert "invitation.revoked" not in actions_of(cast.pat)


@pytest.mark.parametrize("only", [sending.INVITATION, sending.ACCESS])
def test_revoke_only_what_was_confirmed(cast, only):
    if only == sending.INVITATION:
        connect(cast)  # connected: no pending invitation
        message = "This patient's invitation is no longer pending (it may have just been accepted), so nothing was revoked."
    else:
        send(cast)  # pending: not connected
        message = "This patient is no longer connected, so nothing was revoked."
    before = snapshot()
    with pytest.raises(errors.NothingToRevoke, match=message.replace("(", r"\(").replace(")", r"\)")):
        sending.revoke_invitation(cast.pat, by=cast.alice, only=only)
    assert snapshot() == before
