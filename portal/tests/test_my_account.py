"""The account page: connected practices since when, change password (the current one first), and
sign out everywhere else. Each form is POST-redirect-GET; other sessions end, this one stays."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from access import signins
from access.models import AccessEvent
from conftest import NOW
from portal.tests.conftest import PASSWORD, field_error, field_hint

URL = reverse("portal:my-account")
NEW_PASSWORD = "a-brand-new-passphrase-77"


def signed_in_elsewhere(account) -> Client:
    other = Client()
    other.force_login(account)
    assert other.get(reverse("portal:home")).status_code == 200
    return other


def is_signed_out(browser) -> bool:
    response = browser.get(reverse("portal:home"))
    return response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def test_it_lists_the_connected_practices_with_since_when(client, connected):
    body = client.get(URL).content.decode()
    assert "Maple Street Clinic</strong>, since Monday, November 2 at 10:00 AM Eastern" in body
    assert "pat@example.test" in body
    assert f'href="{URL}" aria-current="page">My account' in body


def test_it_is_for_signed_in_patients_only(client, cast):
    assert client.get(URL)["Location"].startswith(reverse("portal:login"))
    client.force_login(cast.alice.user)
    assert client.get(URL).status_code == 404


def test_it_changes_the_password_and_ends_every_other_session(client, cast, connected):
    account = connected.account
    other = signed_in_elsewhere(account)
    response = client.post(reverse("portal:change-password"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == URL
    account.refresh_from_db()
    assert account.check_password(NEW_PASSWORD)
    assert "Your password has been changed." in client.get(URL).content.decode()  # this browser stays in
    assert is_signed_out(other)
    event = AccessEvent.objects.get(action="account.password_changed")
    assert (event.practice, event.patient, event.reason) == (cast.practice, cast.pat, "Changed on the account page")


def test_it_needs_the_current_password_and_shows_errors_next_to_their_fields(client, connected):
    page = client.get(URL).content.decode()
    assert "Your password must contain at least 12 characters." in field_hint(page, "id_new_password1")
    response = client.post(reverse("portal:change-password"), {
        "old_password": "not-my-password-1", "new_password1": "12345678901234", "new_password2": "12345678901234"})
    assert response["Location"] == f"{URL}#change-password"
    body = client.get(URL).content.decode()
    assert field_error(body, "id_old_password") == "That is not your current password."
    assert field_error(body, "id_new_password1") == \
        "This password has only numbers. Add some letters or other characters."
    connected.account.refresh_from_db()
    assert connected.account.check_password(PASSWORD)
    assert not AccessEvent.objects.filter(action="account.password_changed").exists()
    assert field_error(client.get(URL).content.decode(), "id_old_password") == ""  # shown once


def test_wrong_current_passwords_count_like_sign_ins(client, connected, clock):
    for _ in range(10):
        client.post(reverse("portal:change-password"), {
            "old_password": "wrong-password-1", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    client.post(reverse("portal:change-password"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert field_error(client.get(URL).content.decode(), "id_old_password") == signins.MESSAGE
    connected.account.refresh_from_db()
    assert connected.account.check_password(PASSWORD)
    clock.move_to(NOW + datetime.timedelta(minutes=15, seconds=1))
    assert client.post(reverse("portal:change-password"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})["Location"] == URL


def test_it_signs_out_everywhere_else(client, connected):
    account = connected.account
    others = [signed_in_elsewhere(account), signed_in_elsewhere(account)]
    response = client.post(reverse("portal:sign-out-everywhere"), {"password": PASSWORD})
    assert response["Location"] == URL
    assert "You are signed out everywhere else." in client.get(URL).content.decode()  # this browser stays in
    assert all(is_signed_out(other) for other in others)
    account.refresh_from_db()
    assert account.check_password(PASSWORD)  # the same password, hashed again


def test_signing_out_everywhere_needs_the_password(client, connected):
    other = signed_in_elsewhere(connected.account)
    assert client.post(reverse("portal:sign-out-everywhere"), {"password": "nope-nope-nope"})["Location"] == \
        f"{URL}#sign-out-everywhere"
    assert field_error(client.get(URL).content.decode(), "id_password") == "That is not your password."
    assert other.get(reverse("portal:home")).status_code == 200


@pytest.mark.parametrize("name", ["portal:change-password", "portal:sign-out-everywhere"])
def test_the_forms_only_take_posts(client, connected, name):
    assert client.get(reverse(name)).status_code == 405
