"""Back after accepting, a used link reopened by the patient who used it, and shared devices."""

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from portal.accepting import OPENED_LINK
from portal.tests.conftest import PAT_SSN, create_account, events, open_link


def test_back_after_accepting_says_the_patient_is_connected(client, sent):
    create_account(client, sent.token)
    client.get(reverse("portal:home"))
    for step in ("portal:account", "portal:accept"):  # Back, and Back again
        response = client.get(reverse(step))
        body = response.content.decode()
        assert response.status_code == 200
        assert "You are connected" in body and "<strong>Maple Street Clinic</strong>, since November 2, 2026" in body
        assert f'href="{reverse("portal:home")}">Go to your patient portal' in body
        assert "No invitation in progress" not in body


def test_reopening_the_used_link_as_its_patient_says_connected(client, sent):
    create_account(client, sent.token)
    response = open_link(client, sent.token)
    assert response["Location"] == reverse("portal:connected")
    assert "You are connected" in client.get(response["Location"]).content.decode()
    assert events(sent.invitation)[-1] == "access.granted"  # nothing refused, nothing recorded


def test_reopening_a_used_link_as_another_patient_says_it_was_used(client, cast, sent):
    create_account(client, sent.token)
    other = Client()
    other.force_login(User.objects.create_user(username="sam@example.test", email="sam@example.test",
                                               password="sams-own-password-1"))
    response = open_link(other, sent.token)
    assert response["Location"] == reverse("portal:link-problem")
    assert "already been used" in other.get(response["Location"]).content.decode()


def test_someone_elses_link_on_a_signed_in_browser_offers_to_sign_out_first(client, cast, sent):
    sam = User.objects.create_user(username="sam@example.test", email="sam@example.test", password="sams-password-1")
    client.force_login(sam)
    open_link(client, sent.token)
    for step in ("portal:accept", "portal:account"):
        page = client.get(reverse(step))
        body = page.content.decode()
        assert page.status_code == 409
        assert "This browser is signed in to Portico as <strong>sam@example.test</strong>" in body
        assert "pat@example.test" not in body  # the invitation's address is not shown to whoever is signed in
    # An answer posted anyway is not checked (nor counted) and does not switch accounts.
    assert client.post(reverse("portal:accept"), {"ssn": PAT_SSN}).status_code == 409
    sent.invitation.refresh_from_db()
    assert (sent.invitation.failed_checks, sent.invitation.identity_verified_at) == (0, None)
    assert int(client.session["_auth_user_id"]) == sam.pk

    response = client.post(reverse("portal:sign-out-and-continue"))
    assert response["Location"] == reverse("portal:accept")
    assert "_auth_user_id" not in client.session and OPENED_LINK in client.session
    assert "Confirm your identity" in client.get(reverse("portal:accept")).content.decode()


def test_a_staff_login_on_the_same_browser_is_named_and_signed_out_on_request(client, cast, sent):
    client.force_login(cast.alice.user)
    open_link(client, sent.token)
    body = client.get(reverse("portal:accept")).content.decode()
    assert "signed in to Portico as <strong>alice</strong> (practice staff)" in body
    client.post(reverse("portal:sign-out-and-continue"))
    assert client.get(reverse("clinic:home")).status_code == 302  # the staff session has ended


def test_the_invited_patient_signed_in_already_goes_straight_on(client, sent):
    client.force_login(User.objects.create_user(username="Pat@Example.test", email="Pat@Example.test",
                                                password="pats-password-123"))
    open_link(client, sent.token)
    assert "Confirm your identity" in client.get(reverse("portal:accept")).content.decode()
