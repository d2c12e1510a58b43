"""Staff changing a patient's access while the patient is mid-way through accepting: on PostgreSQL
both sides take their row locks in one order (patient, invitation, practice), so one waits for the
other instead of deadlocking, and the end state says who went first."""

import pytest

from access import errors
from access.actions import acceptance, sending
from access.history import first_broken_event
from access.models import Connection, Invitation
from access.tests.helpers import actions_of, right_answers, send
from clinic.models import Patient
from clinic.services import update_patient
from conftest import at_once, postgres_only

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

ROUNDS = 8  # each round is a fresh patient; a deadlock that shows only sometimes still shows
PASSWORD = "a-long-enough-password"


def _patients(cast) -> list[Patient]:
    return Patient.objects.bulk_create(
        Patient(practice=cast.practice, doctor=cast.dora, chart_number=f"R{i}", first_name="R", last_name="R",
                email=f"r{i}@example.test", ssn="123456789") for i in range(ROUNDS))


def _verified(cast, patient) -> tuple[sending.SentInvitation, str]:
    sent = send(cast, patient)
    return sent, acceptance.verify_identity(sent.token, right_answers(patient)).proof


def _accept(sent, proof):
    return lambda: acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)


def _no_crash(outcomes, *allowed: type[Exception]) -> None:
    unexpected = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, allowed)]
    assert not unexpected, unexpected  # a deadlock shows up here as OperationalError


def test_revoke_racing_the_account_step(cast):
    for patient in _patients(cast):
        sent, proof = _verified(cast, patient)
        revoked, accepted = at_once(lambda p=patient: sending.revoke_invitation(p, by=cast.alice),
                                    _accept(sent, proof))
        _no_crash([revoked, accepted], errors.LinkNotUsable)
        history = actions_of(patient)
        if revoked == sending.INVITATION:  # the revoke went first: the link is dead, nobody connected
            assert isinstance(accepted, errors.LinkNotUsable) and accepted.reason == "revoked"
            assert not Connection.objects.filter(patient=patient).exists()
            assert history[-2:] == ["invitation.revoked", "invitation.link_refused"]
        else:  # the patient went first: the revoke ended the access it had just been given
            assert revoked == sending.ACCESS and isinstance(accepted, Connection)
            assert Connection.objects.get(patient=patient).end_reason == Connection.EndReason.REVOKED
            assert history[-2:] == ["access.granted", "access.revoked"]
    assert first_broken_event(cast.practice) is None


def test_resend_racing_the_account_step(cast):
    for patient in _patients(cast):
        sent, proof = _verified(cast, patient)
        resent, accepted = at_once(lambda p=patient: sending.resend_invitation(p, by=cast.alice, channel="chart"),
                                   _accept(sent, proof))
        _no_crash([resent, accepted], errors.LinkNotUsable, errors.AlreadyConnected)
        if isinstance(resent, sending.SentInvitation):  # resend first: the old link is dead, a new one pending
            assert isinstance(accepted, errors.LinkNotUsable) and accepted.reason == "revoked"
            assert not Connection.objects.filter(patient=patient).exists()
            assert Invitation.objects.get(patient=patient, status=Invitation.Status.PENDING) == resent.invitation
        else:  # accepted first: the patient is connected and nothing new was sent
            assert isinstance(resent, errors.AlreadyConnected) and isinstance(accepted, Connection)
            assert not Invitation.objects.filter(patient=patient, status=Invitation.Status.PENDING).exists()
            assert actions_of(patient)[-1] == "access.granted"
    assert first_broken_event(cast.practice) is None


def test_saving_a_new_email_racing_the_account_step(cast):
    for patient in _patients(cast):
        sent, proof = _verified(cast, patient)
        new_email = f"new.{patient.email}"
        saved, accepted = at_once(lambda p=patient, e=new_email: update_patient(p, by=cast.alice, email=e),
                                  _accept(sent, proof))
        _no_crash([saved, accepted], errors.LinkNotUsable)
        assert Patient.objects.get(pk=patient.pk).email == new_email  # the change is never lost
        if isinstance(accepted, Connection):  # accepted first: the old address's account stays connected
            assert "invitation.revoked" not in actions_of(patient)
        else:  # the new address first: the old link no longer works
            assert accepted.reason == "revoked" and not Connection.objects.filter(patient=patient).exists()
            assert actions_of(patient)[-2:] == ["invitation.revoked", "invitation.link_refused"]
    assert first_broken_event(cast.practice) is None


@pytest.mark.parametrize("staff_action", ["revoke", "resend", "new_email"])
def test_staff_racing_the_identity_step(cast, staff_action):
    staff = {
        "revoke": lambda p: sending.revoke_invitation(p, by=cast.alice),
        "resend": lambda p: sending.resend_invitation(p, by=cast.alice, channel="chart"),
        "new_email": lambda p: update_patient(p, by=cast.alice, email=f"new.{p.email}"),
    }[staff_action]
    for patient in _patients(cast):
        sent = send(cast, patient)
        done, verified = at_once(lambda p=patient: staff(p),
                                 lambda t=sent.token, p=patient: acceptance.verify_identity(t, right_answers(p)))
        _no_crash([done, verified], errors.LinkNotUsable)
        old = Invitation.objects.get(pk=sent.invitation.pk)
        assert old.status == Invitation.Status.REVOKED  # whoever went first, the old link ends revoked
        if isinstance(verified, errors.LinkNotUsable):  # staff first
            assert verified.reason == "revoked" and old.identity_verified_at is None
        else:  # the check passed first, and was then revoked with its invitation
            assert old.identity_verified_at is not None
            assert actions_of(patient).index("identity.passed") < actions_of(patient).index("invitation.revoked")
    assert first_broken_event(cast.practice) is None
