import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from portal.tests.conftest import PASSWORD

URL = reverse("portal:login")


@pytest.fixture
def account(db):
    return User.objects.create_user(username="Pat@Example.test", email="Pat@Example.test", password=PASSWORD)


def test_it_shows_the_sign_in_page(client, db):
    response = client.get(URL)
    assert response.status_code == 200
    assert "Sign in to your patient portal" in response.content.decode()


def test_it_signs_a_patient_in_to_the_portal_home(client, account):
    response = client.post(URL, {"username": "pat@example.test", "password": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    assert int(client.session["_auth_user_id"]) == account.pk


def test_it_refuses_a_wrong_password(client, account):
    response = client.post(URL, {"username": "Pat@Example.test", "password": "wrong-password-123"})
    assert response.status_code == 200
    assert "Please enter a correct email and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_refuses_a_staff_login_like_a_wrong_password(client, cast):
    response = client.post(URL, {"username": "alice", "password": "staff-password-123"})
    assert "Please enter a correct email and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_follows_next_only_within_the_site(client, account):
    response = client.post(URL + "?next=https://evil.example/", {"username": "pat@example.test", "password": PASSWORD})
    assert response["Location"] == reverse("portal:home")


def test_it_signs_out_on_post_only(client, account):
    client.force_login(account)
    assert client.get(reverse("portal:logout")).status_code == 405
    response = client.post(reverse("portal:logout"))
    assert response["Location"] == URL
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("portal:home"))["Location"].startswith(URL)


def test_it_ends_the_session_after_30_idle_minutes(client, account, clock):
    import datetime

    client.post(URL, {"username": "pat@example.test", "password": PASSWORD})
    clock.shift(datetime.timedelta(minutes=29))
    assert client.get(reverse("portal:home")).status_code == 200
    clock.shift(datetime.timedelta(minutes=30, seconds=1))
    assert client.get(reverse("portal:home"))["Location"].startswith(URL)
