"""The idle sign-out (portico.sessions): 30 minutes after the session's last save, which a request
makes at most once a minute. Literal times, not the constants under test."""

import datetime

import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

T = datetime.datetime(2026, 12, 7, 10, 0, 0, tzinfo=datetime.UTC)
PATIENTS = reverse("clinic:patients")


def at(minutes: int, seconds: int = 0):
    return time_machine.travel(T + datetime.timedelta(minutes=minutes, seconds=seconds), tick=False)


def sign_in(client) -> None:
    with at(0):
        response = client.post(reverse("login"), {"username": "alice", "password": "staff-password-123"})
    assert response.status_code == 302


def stored() -> tuple[datetime.datetime, str]:
    """The one session row's expiry and data."""
    return Session.objects.values_list("expire_date", "session_data").get()


def test_a_request_within_the_minute_does_not_write_the_session(client, cast):
    sign_in(client)
    before = stored()
    assert before[0] == T + datetime.timedelta(minutes=30)
    with at(0, 59), CaptureQueriesContext(connection) as queries:
        response = client.get(PATIENTS)
    assert response.status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert stored() == before
    assert "sessionid" not in response.cookies  # nor is the cookie sent again


def test_a_request_a_minute_after_the_last_save_pushes_the_expiry_back(client, cast):
    sign_in(client)
    with at(1):
        response = client.get(PATIENTS)
    assert response.status_code == 200
    assert stored()[0] == T + datetime.timedelta(minutes=31)
    assert response.cookies["sessionid"]["max-age"] == 1800  # the browser's copy ends with it


def test_29_59_after_the_last_save_keeps_you_in_30_01_signs_you_out(client, cast):
    sign_in(client)
    with at(0, 30):
        assert client.get(PATIENTS).status_code == 200  # within the minute: the expiry stays 10:30:00
    with at(29, 59):
        assert client.get(PATIENTS).status_code == 200  # saved: now ends at 10:59:59
    with at(59, 58):
        assert client.get(PATIENTS).status_code == 200
    with at(89, 59):  # 30:01 after the last save (10:59:58)
        response = client.get(PATIENTS)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_idle_sign_out_comes_29_to_30_minutes_after_the_last_request(client, cast):
    sign_in(client)
    with at(0, 59):
        assert client.get(PATIENTS).status_code == 200  # the last request, not saved (within the minute)
    with at(30, 1):  # 29:02 after that request, 30:01 after the last save
        assert client.get(PATIENTS).status_code == 302


def test_an_anonymous_visitor_gets_no_session(client, db):
    with at(0):
        assert client.get(reverse("login")).status_code == 200
    assert not Session.objects.exists()
    assert "sessionid" not in client.cookies


def test_signing_out_leaves_no_session(client, cast):
    sign_in(client)
    with at(0, 10):
        client.post(reverse("logout"))
    assert not Session.objects.exists()
