"""A patient invited without an email address (printed) gives one and confirms it with an emailed code
before the account exists (access.actions.email_confirmation, acceptance.accept_invitation)."""

import datetime

import pytest
import time_machine

from access import errors
from access.actions import acceptance, email_confirmation, printing
from access.models import AccessEvent, EmailConfirmation, Invitation
from access.tests.helpers import actions_of, right_answers, snapshot
from clinic.models import Patient
from conftest import NOW
from mail.models import Message
from portico.client import Client

PASSWORD = "a-long-enough-password"
ADDRESS = Client(ip="203.0.113.8")


@pytest.fixture
def proven(cast):
    """Pat, without an email on file, printed for and past the identity check: (code, proof)."""
    cast.pat.email = ""
    cast.pat.save()
    printed = printing.print_invitation(cast.pat, by=cast.alice)
    code = printed.code.replace("-", "")
    return code, acceptance.verify_identity(code, right_answers(cast.pat)).proof


def _sent_code(confirmation: EmailConfirmation) -> str:
    return Message.objects.get(kind="email-code", dedupe_key=f"email-code:{confirmation.pk}").secret_link


def test_the_code_is_emailed_to_the_address_given(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test", client=ADDRESS)
    message = Message.objects.get(kind="email-code")
    assert message.to == "pat.new@example.test"
    assert len(message.secret_link) == 6 and message.secret_link.isdigit()
    assert message.secret_link not in str(EmailConfirmation.objects.filter(pk=confirmation.pk).values().get())
    assert confirmation.expires_at - confirmation.sent_at == datetime.timedelta(minutes=15)


def test_the_patient_confirms_and_the_account_is_made_with_that_address(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="Pat.New@example.test")
    email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk,
                                          code=f" {_sent_code(confirmation)[:3]} {_sent_code(confirmation)[3:]}")
    connection = acceptance.accept_invitation(code, proof=proof, password=PASSWORD, confirmed_email=confirmation.pk)
    assert connection.account.username == connection.account.email == "Pat.New@example.test"
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.email) == ("accepted", "Pat.New@example.test")
    confirmation.refresh_from_db()
    assert confirmation.confirmed_at is not None and confirmation.used_at is not None
    assert actions_of(cast.pat) == ["invitation.printed", "identity.passed", "email.confirmed", "account.created",
                                    "access.granted"]
    assert Message.objects.filter(kind="connected", to="Pat.New@example.test").exists()


def test_the_confirmed_address_fills_an_empty_chart_email(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk,
                                          code=_sent_code(confirmation))
    acceptance.accept_invitation(code, proof=proof, password=PASSWORD, confirmed_email=confirmation.pk)
    cast.pat.refresh_from_db()
    assert cast.pat.email == "pat.new@example.test"


def test_an_address_staff_typed_meanwhile_is_kept(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk,
                                          code=_sent_code(confirmation))
    Patient.objects.filter(pk=cast.pat.pk).update(email="pat.typed@example.test")  # not through update_patient:
    # that would revoke the pending letter, and the patient could no longer accept with it
    acceptance.accept_invitation(code, proof=proof, password=PASSWORD, confirmed_email=confirmation.pk)
    cast.pat.refresh_from_db()
    assert cast.pat.email == "pat.typed@example.test"
    assert Invitation.objects.get().email == "pat.new@example.test"


def test_no_account_without_a_confirmed_address(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    before = snapshot()
    for given in (None, confirmation.pk):  # none given; given but its code never typed
        with pytest.raises(errors.EmailNotConfirmed):
            acceptance.accept_invitation(code, proof=proof, password=PASSWORD, confirmed_email=given)
    assert snapshot() == before
    assert Invitation.objects.get().status == "pending"


def test_a_wrong_code_is_counted_and_the_fifth_kills_it(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    right = _sent_code(confirmation)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(errors.EmailNotConfirmed) as e:
            email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk, code=wrong)
        assert e.value.attempts_left == left
    with pytest.raises(errors.EmailNotConfirmed) as e:
        email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk, code=right)
    assert e.value.attempts_left == 0
    assert EmailConfirmation.objects.get().confirmed_at is None
    assert not AccessEvent.objects.filter(action="email.confirmed").exists()


def test_the_code_works_for_fifteen_minutes(cast, proven):
    code, proof = proven
    with time_machine.travel(NOW, tick=False):
        proof = acceptance.verify_identity(code, right_answers(cast.pat)).proof
        confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    with time_machine.travel(NOW + datetime.timedelta(minutes=15), tick=False):
        with pytest.raises(errors.EmailNotConfirmed):
            email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk,
                                                  code=_sent_code(confirmation))
    with time_machine.travel(NOW + datetime.timedelta(minutes=15, seconds=-1), tick=False):
        email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk,
                                              code=_sent_code(confirmation))


def test_only_whoever_passed_the_identity_check_may_ask_for_codes(cast, proven):
    code, _ = proven
    before = snapshot()
    with pytest.raises(errors.IdentityNotConfirmed):
        email_confirmation.send_email_code(code, proof="not-the-proof", email="someone@example.test")
    assert snapshot() == before and not EmailConfirmation.objects.exists()


def test_codes_to_one_address_are_limited_to_three_an_hour(cast, proven):
    code, proof = proven
    for _ in range(3):
        email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test", client=ADDRESS)
    before = snapshot()
    with pytest.raises(errors.TooManyAttempts):
        email_confirmation.send_email_code(code, proof=proof, email="PAT.NEW@example.test", client=ADDRESS)
    assert snapshot() == before and EmailConfirmation.objects.count() == 3


def test_a_confirmation_serves_only_its_own_invitation(cast, proven):
    code, proof = proven
    confirmation = email_confirmation.send_email_code(code, proof=proof, email="pat.new@example.test")
    email_confirmation.confirm_email_code(code, proof=proof, confirmation_id=confirmation.pk,
                                          code=_sent_code(confirmation))
    cast.bea.email = ""
    cast.bea.save()
    other = printing.print_invitation(cast.bea, by=cast.bob).code.replace("-", "")
    other_proof = acceptance.verify_identity(other, right_answers(cast.bea)).proof
    with pytest.raises(errors.EmailNotConfirmed):
        acceptance.accept_invitation(other, proof=other_proof, password=PASSWORD, confirmed_email=confirmation.pk)
    assert Invitation.objects.filter(patient=cast.bea).get().status == "pending"
