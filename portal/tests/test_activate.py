"""/activate/: the patient types the code from a printed letter, then follows the link's own steps; a
patient without an email on file gives one and confirms it with an emailed code."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from access.actions import printing
from access.models import Attempt, Connection, EmailConfirmation, Invitation
from mail.models import Message
from portal.tests.conftest import PASSWORD, PAT_SSN, events, field_error

ACTIVATE = reverse("activate")


@pytest.fixture
def printed(cast):
    return printing.print_invitation(cast.pat, by=cast.alice)


def _activate(client, typed: str):
    return client.post(ACTIVATE, {"code": typed})


def test_the_page_asks_for_the_code(client):
    body = client.get(ACTIVATE).content.decode()
    assert '<label for="id_code">Activation code</label>' in body
    assert 'autocomplete="off"' in body


def test_a_code_typed_loosely_leads_to_the_identity_check(client, printed):
    response = _activate(client, " " + printed.code.lower().replace("-", " - ") + " ")
    assert response["Location"] == reverse("portal:accept")
    page = client.get(reverse("portal:accept")).content.decode()
    assert "Maple Street Clinic has invited you" in page


def test_a_wrong_code_says_so_and_counts(client, printed):
    response = _activate(client, "22222-2222Z" if printed.code != "22222-2222Z" else "33333-33333")
    assert response["Location"] == ACTIVATE
    body = client.get(ACTIVATE).content.decode()
    assert field_error(body, "id_code") == "That activation code is not right. Check it against your letter and try again."
    assert Attempt.objects.filter(kind="identity").count() == 1
    assert client.get(reverse("portal:accept")).status_code == 400  # nothing in progress


def test_a_replaced_code_shows_why(client, cast, printed):
    printing.print_invitation(cast.pat, by=cast.alice)
    response = _activate(client, printed.code)
    assert response["Location"] == reverse("portal:link-problem")
    page = client.get(response["Location"]).content.decode()
    assert "Maple Street Clinic has withdrawn this invitation" in page


def test_a_code_is_not_a_link(client, printed):
    """Codes are guessed only where guesses count: the link page does not look them up."""
    response = client.get(reverse("portal:landing", args=[printed.code.replace("-", "")]))
    assert response["Location"] == reverse("portal:link-problem")
    page = client.get(response["Location"]).content.decode()
    assert "We do not recognise this link" in page and "Maple Street Clinic" not in page


def test_the_patient_connects_with_the_code(client, cast, printed):
    _activate(client, printed.code)
    assert client.post(reverse("portal:accept"), {"ssn": PAT_SSN})["Location"] == reverse("portal:account")
    response = client.post(reverse("portal:account"), {"password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    connection = Connection.objects.get()
    assert (connection.account.username, connection.invitation.channel) == ("pat@example.test", "print")


def test_a_patient_without_an_email_gives_and_confirms_one(client, cast):
    cast.pat.email = ""
    cast.pat.save()
    printed = printing.print_invitation(cast.pat, by=cast.alice)
    _activate(client, printed.code)
    client.post(reverse("portal:accept"), {"ssn": PAT_SSN})
    assert client.get(reverse("portal:account"))["Location"] == reverse("portal:confirm-email")
    assert "has no email address for you" in client.get(reverse("portal:confirm-email")).content.decode()

    client.post(reverse("portal:confirm-email"), {"email": "pat.new@example.test"})
    message = Message.objects.get(kind="email-code")
    assert message.to == "pat.new@example.test"
    assert "p•••@example.test" in client.get(reverse("portal:confirm-email")).content.decode()
    wrong = "000000" if message.secret_link != "000000" else "111111"
    client.post(reverse("portal:confirm-email"), {"code": wrong})
    assert field_error(client.get(reverse("portal:confirm-email")).content.decode(), "id_code") == (
        "That code is not right. You have 4 more tries.")
    # Not confirmed yet: no account can be made.
    assert client.get(reverse("portal:account"))["Location"] == reverse("portal:confirm-email")

    response = client.post(reverse("portal:confirm-email"), {"code": message.secret_link})
    assert response["Location"] == reverse("portal:account")
    assert 'value="pat.new@example.test" readonly' in client.get(reverse("portal:account")).content.decode()
    response = client.post(reverse("portal:account"), {"password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    account = get_user_model().objects.get(username="pat.new@example.test")
    assert Connection.objects.get().account == account
    invitation = Invitation.objects.get()
    assert invitation.email == "pat.new@example.test"
    assert events(invitation) == ["invitation.printed", "identity.passed", "email.confirmed", "account.created",
                                  "access.granted"]
    assert EmailConfirmation.objects.get().used_at is not None


def test_the_email_step_needs_the_identity_check_first(client, cast):
    cast.pat.email = ""
    cast.pat.save()
    printed = printing.print_invitation(cast.pat, by=cast.alice)
    _activate(client, printed.code)
    response = client.post(reverse("portal:confirm-email"), {"email": "someone@example.test"})
    assert response["Location"] == reverse("portal:accept")
    assert not Message.objects.exists() and not EmailConfirmation.objects.exists()
