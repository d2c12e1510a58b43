"""The identity check's rules at their exact boundaries, and under concurrent submissions."""

import datetime

import pytest
import time_machine

from access import errors
from access.actions import acceptance, sending
from access.history import first_broken_event
from access.models import AccessEvent, Invitation
from access.tests.helpers import right_answers, send, snapshot
from clinic.models import Patient
from conftest import NOW, at_once, postgres_only
from portico.client import Client

WRONG = acceptance.IdentityAnswers(ssn="987-65-4321")
PASSWORD = "a-long-enough-password"
ADDRESS = Client(ip="203.0.113.9")


def _invite_many(cast, count: int) -> list[sending.SentInvitation]:
    patients = Patient.objects.bulk_create(
        Patient(practice=cast.practice, chart_number=f"T{i}", first_name="T", last_name="T",
                email=f"t{i}@example.test", ssn="123456789") for i in range(count))
    return [send(cast, patient) for patient in patients]


@pytest.mark.parametrize("ssn", ["999-99-6789", "123-45-6780", "023-45-6789", "123-46-6789"])
def test_every_digit_of_the_ssn_must_match(cast, ssn):
    """Pat's SSN is 123-45-6789: the same last four digits with any other first five is refused."""
    sent = send(cast)
    with pytest.raises(errors.IdentityNotConfirmed):
        acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn=ssn))
    assert acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="123-45-6789")).proof


@pytest.mark.parametrize(("after", "works"), [(datetime.timedelta(minutes=29, seconds=59), True),
                                             (datetime.timedelta(minutes=30, seconds=1), False)])
def test_a_passed_check_is_good_for_thirty_minutes(cast, after, works):
    with time_machine.travel(NOW, tick=False) as clock:
        sent = send(cast)
        proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
        clock.move_to(NOW + after)
        if works:
            assert acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD).patient == cast.pat
            return
        before = snapshot()
        with pytest.raises(errors.IdentityNotConfirmed):
            acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)
        assert snapshot() == before


@pytest.mark.parametrize(("after", "refused"), [(datetime.timedelta(minutes=14, seconds=59), True),
                                               (datetime.timedelta(minutes=15, seconds=1), False)])
def test_an_address_waits_fifteen_minutes_after_ten_failures(cast, after, refused):
    *others, last = _invite_many(cast, 11)
    with time_machine.travel(NOW, tick=False) as clock:
        for sent in others[:10]:
            with pytest.raises(errors.IdentityNotConfirmed):
                acceptance.verify_identity(sent.token, WRONG, client=ADDRESS)
        clock.move_to(NOW + after)
        if refused:
            before = snapshot()
            with pytest.raises(errors.TooManyAttempts):
                acceptance.verify_identity(last.token, right_answers(last.invitation.patient), client=ADDRESS)
            assert snapshot() == before
        else:
            assert acceptance.verify_identity(last.token, right_answers(last.invitation.patient), client=ADDRESS).proof


def test_a_passed_check_does_not_count_against_the_address(cast):
    invitations = _invite_many(cast, 11)
    with time_machine.travel(NOW, tick=False):
        for sent in invitations[:9]:
            with pytest.raises(errors.IdentityNotConfirmed):
                acceptance.verify_identity(sent.token, WRONG, client=ADDRESS)
        acceptance.verify_identity(invitations[9].token, right_answers(invitations[9].invitation.patient),
                                client=ADDRESS)
        with pytest.raises(errors.IdentityNotConfirmed):  # the 10th failure is still checked
            acceptance.verify_identity(invitations[10].token, WRONG, client=ADDRESS)
        with pytest.raises(errors.TooManyAttempts):
            acceptance.verify_identity(invitations[9].token, right_answers(invitations[9].invitation.patient),
                                    client=ADDRESS)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_thirty_simultaneous_wrong_answers_from_one_address_get_at_most_ten_checks(cast):
    invitations = _invite_many(cast, 30)
    outcomes = at_once(*[lambda sent=sent: acceptance.verify_identity(sent.token, WRONG, client=ADDRESS)
                         for sent in invitations])
    assert {type(o) for o in outcomes} <= {errors.IdentityNotConfirmed, errors.TooManyAttempts}
    checked = AccessEvent.objects.filter(action=AccessEvent.Action.IDENTITY_FAILED).count()
    assert 1 <= checked <= 10
    assert sum(isinstance(o, errors.TooManyAttempts) for o in outcomes) == 30 - checked


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_wrong_answers_at_two_failures_lock_once(cast):
    """The row lock makes them queue: the first is the third failure and locks, the second finds the
    link locked. Without it both would count a failure and both record a lock."""
    for sent in _invite_many(cast, 10):  # several rounds: a race lost once in a while would still show
        for _ in range(2):
            with pytest.raises(errors.IdentityNotConfirmed):
                acceptance.verify_identity(sent.token, WRONG)
        outcomes = at_once(*[lambda sent=sent: acceptance.verify_identity(sent.token, WRONG)] * 2)
        assert [getattr(o, "reason", None) for o in outcomes] == ["locked", "locked"]
        invitation = Invitation.objects.get(pk=sent.invitation.pk)
        assert (invitation.status, invitation.failed_checks) == (Invitation.Status.LOCKED, 3)
        events = AccessEvent.objects.filter(invitation=invitation)
        assert events.filter(action=AccessEvent.Action.INVITATION_LOCKED).count() == 1
        assert events.filter(action=AccessEvent.Action.IDENTITY_FAILED).count() == 3
    assert first_broken_event(cast.practice) is None
