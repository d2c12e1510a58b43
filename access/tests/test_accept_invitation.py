import datetime

import pytest
from django.contrib.auth import get_user_model

from access import errors
from access.actions import acceptance, sending
from access.models import AccessEvent, Connection, Invitation
from access.selectors import PortalState, live_connections_of
from access.summary import portal_access
from access.tests.helpers import actions_of, connect, right_answers, send, snapshot
from clinic.models import Notification, Patient
from conftest import at_once
from mail.models import Message
from portico.client import Client

PASSWORD = "a-long-enough-password"
User = get_user_model()


def test_it_connects_a_new_account(cast):
    sent = send(cast)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    conn = acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)
    assert conn.patient == cast.pat and conn.practice == cast.practice and conn.ended_at is None
    account = User.objects.get(username="pat@example.test")
    assert account.check_password(PASSWORD) and conn.account == account
    assert Invitation.objects.get().status == Invitation.Status.ACCEPTED
    assert actions_of(cast.pat) == ["invitation.sent", "identity.passed", "account.created", "access.granted"]
    assert portal_access(cast.pat).state == PortalState.CONNECTED
    # Staff are told: the sender and the patient's doctor.
    assert sorted(n.recipient.user.username for n in Notification.objects.all()) == ["alice", "dora"]
    # And the patient is told at the address on file.
    assert Message.objects.filter(kind="connected", to="pat@example.test").count() == 1


def test_it_accepts_date_of_birth_and_phone(cast):
    sent = send(cast)
    answers = acceptance.IdentityAnswers(date_of_birth=datetime.date(1980, 5, 17), phone="(555) 555-0123")
    proof = acceptance.verify_identity(sent.token, answers).proof
    acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)
    assert portal_access(cast.pat).state == PortalState.CONNECTED


def test_one_account_connects_to_several_practices(cast):
    _, first = connect(cast)
    other = Patient.objects.create(practice=cast.other_practice, chart_number="B-9", first_name="Pat",
                                   last_name="Jones", email="PAT@example.test", ssn="345678912")
    sent = sending.send_invitation(other, by=cast.bob, channel="chart")
    proof = acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="345-67-8912")).proof
    with pytest.raises(errors.AccountExists):
        acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)
    second = acceptance.accept_invitation(sent.token, proof=proof, account=first.account)
    assert {c.practice for c in live_connections_of(first.account)} == {cast.practice, cast.other_practice}
    assert second.account == first.account


def test_it_refuses_someone_elses_signed_in_account(cast):
    sent = send(cast)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    stranger = User.objects.create_user(username="eve@example.test", email="eve@example.test", password=PASSWORD)
    before = snapshot()
    with pytest.raises(errors.WrongAccount):
        acceptance.accept_invitation(sent.token, proof=proof, account=stranger)
    assert snapshot() == before


def test_it_requires_a_passed_identity_check(cast):
    sent = send(cast)
    before = snapshot()
    with pytest.raises(errors.IdentityNotConfirmed):
        acceptance.accept_invitation(sent.token, proof="made-up", password=PASSWORD)
    assert snapshot() == before


def test_only_whoever_passed_the_check_can_accept(cast):
    """Someone else holding the link cannot ride on the patient's passed check."""
    sent = send(cast)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    assert proof not in str(Invitation.objects.filter(pk=sent.invitation.pk).values().get())  # kept as a hash
    before = snapshot()
    with pytest.raises(errors.IdentityNotConfirmed):
        acceptance.accept_invitation(sent.token, proof=proof[::-1], password=PASSWORD)
    assert snapshot() == before
    # A newer passed check replaces the older proof.
    newer = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    with pytest.raises(errors.IdentityNotConfirmed):
        acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)
    acceptance.accept_invitation(sent.token, proof=newer, password=PASSWORD)
    assert portal_access(cast.pat).state == PortalState.CONNECTED


def test_a_staff_login_is_never_a_patient_account(cast):
    cast.pat.email = "alice@example.test"
    cast.pat.save()
    cast.alice.user.email = "alice@example.test"
    cast.alice.user.save()
    sent = send(cast)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    before = snapshot()
    with pytest.raises(errors.WrongAccount):
        acceptance.accept_invitation(sent.token, proof=proof, account=cast.alice.user)
    assert snapshot() == before


@pytest.mark.parametrize(
    "answers",
    [
        acceptance.IdentityAnswers(ssn="987-65-4321"),
        acceptance.IdentityAnswers(ssn="not a number"),
        acceptance.IdentityAnswers(date_of_birth=datetime.date(1980, 5, 18), phone="+15555550123"),
        acceptance.IdentityAnswers(date_of_birth=datetime.date(1980, 5, 17), phone="+15555550124"),
        acceptance.IdentityAnswers(date_of_birth=datetime.date(1980, 5, 17)),
        acceptance.IdentityAnswers(),
    ],
)
def test_every_wrong_answer_fails_the_same_way(cast, answers):
    sent = send(cast)
    with pytest.raises(errors.IdentityNotConfirmed) as e:
        acceptance.verify_identity(sent.token, answers)
    assert e.value.message == "We could not confirm your identity with the details you entered."
    assert e.value.attempts_left == 2
    assert Invitation.objects.get().failed_checks == 1
    assert actions_of(cast.pat) == ["invitation.sent", "identity.failed"]


def test_it_locks_after_three_failures(cast):
    sent = send(cast)
    wrong = acceptance.IdentityAnswers(ssn="987-65-4321")
    for left in (2, 1):
        with pytest.raises(errors.IdentityNotConfirmed) as e:
            acceptance.verify_identity(sent.token, wrong)
        assert e.value.attempts_left == left
    with pytest.raises(errors.LinkNotUsable) as e:
        acceptance.verify_identity(sent.token, wrong)
    assert e.value.reason == "locked"
    # Even the right answers no longer work: staff must resend.
    with pytest.raises(errors.LinkNotUsable):
        acceptance.verify_identity(sent.token, right_answers(cast.pat))
    assert Invitation.objects.get().status == Invitation.Status.LOCKED
    assert actions_of(cast.pat) == (["invitation.sent"] + ["identity.failed"] * 3
                                    + ["invitation.locked", "invitation.link_refused"])
    assert portal_access(cast.pat).state == PortalState.LOCKED


def test_it_throttles_a_client_address_across_invitations(cast):
    client = Client(ip="203.0.113.9")
    for i in range(acceptance.MAX_FAILURES_PER_CLIENT):
        patient = Patient.objects.create(practice=cast.practice, chart_number=f"T{i}", first_name="T", last_name="T",
                                         email=f"t{i}@example.test", ssn="123456789")
        sent = send(cast, patient)
        with pytest.raises(errors.IdentityNotConfirmed):
            acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987654321"), client=client)
    sent = send(cast)
    before = snapshot()
    with pytest.raises(errors.TooManyAttempts):
        acceptance.verify_identity(sent.token, right_answers(cast.pat), client=client)
    assert snapshot() == before
    # Another address is not affected.
    acceptance.verify_identity(sent.token, right_answers(cast.pat), client=Client(ip="198.51.100.7"))


def test_a_used_link_is_refused_and_each_attempt_recorded(cast):
    sent, _ = connect(cast)
    before = snapshot()
    for attempt in (lambda: acceptance.verify_identity(sent.token, right_answers(cast.pat)),
                    lambda: acceptance.accept_invitation(sent.token, proof="any", password=PASSWORD),
                    lambda: acceptance.invitation_for_token(sent.token)):  # opening the link records nothing
        with pytest.raises(errors.LinkNotUsable) as e:
            attempt()
        assert e.value.reason == "used"
    after = snapshot()
    assert {**after, "events": before["events"]} == before  # no invitation, connection or mail changed
    assert actions_of(cast.pat)[-2:] == ["invitation.link_refused"] * 2
    refused = AccessEvent.objects.filter(action="invitation.link_refused").first()
    assert (refused.outcome, refused.reason) == ("failure", "The link was used")
    assert User.objects.filter(username="pat@example.test").count() == 1


@pytest.mark.parametrize("token", ["", "short", "x" * 43, "!" * 43])
def test_unknown_links_are_refused(cast, token):
    with pytest.raises(errors.LinkNotUsable) as e:
        acceptance.invitation_for_token(token)
    assert e.value.reason == "unknown"


def test_opening_the_link_many_times_does_not_consume_it(cast):
    sent = send(cast)
    for _ in range(10):
        acceptance.invitation_for_token(sent.token)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)
    assert portal_access(cast.pat).state == PortalState.CONNECTED


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_connect_exactly_once(cast):
    sent = send(cast)
    proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
    results = at_once(*[lambda: acceptance.accept_invitation(sent.token, proof=proof, password=PASSWORD)] * 2)
    assert sorted(type(r).__name__ for r in results) == ["Connection", "LinkNotUsable"]
    assert Connection.objects.count() == 1
    assert User.objects.filter(username="pat@example.test").count() == 1
    assert AccessEvent.objects.filter(action="access.granted").count() == 1


def test_the_patient_can_disconnect(cast):
    _, conn = connect(cast)
    acceptance.disconnect_practice(conn)
    conn.refresh_from_db()
    assert conn.end_reason == Connection.EndReason.DISCONNECTED
    assert actions_of(cast.pat)[-1] == "access.disconnected"
    assert portal_access(cast.pat).state == PortalState.DISCONNECTED
    assert not live_connections_of(conn.account).exists()
    # Staff may invite again.
    send(cast)
    assert portal_access(cast.pat).state == PortalState.PENDING
