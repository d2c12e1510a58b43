"""Password guessing is limited on every sign-in form."""

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from access import signins
from access.models import SignInFailure
from conftest import NOW


def sign_in(client, url, username, password, ip="198.51.100.20"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("url", ["login", "portal:login"])
def test_it_refuses_a_username_after_ten_failures_even_with_the_right_password(cast, url, django_user_model):
    django_user_model.objects.create_user(username="pat@example.test", password="patient-password-123")
    username, password = ("alice", "staff-password-123") if url == "login" else ("pat@example.test",
                                                                                 "patient-password-123")
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(signins.MAX_PER_USERNAME):
            assert sign_in(Client(), reverse(url), username, "wrong-password").status_code == 200
        response = sign_in(Client(), reverse(url), username.upper(), password, ip="203.0.113.1")
        assert response.status_code == 200 and signins.MESSAGE in response.content.decode()
        assert SignInFailure.objects.count() == signins.MAX_PER_USERNAME  # the refusal checked no password
        clock.shift(signins.WINDOW + datetime.timedelta(seconds=1))
        assert sign_in(Client(), reverse(url), username, password).status_code == 302


def test_it_refuses_a_client_address_that_tries_many_usernames(cast):
    with time_machine.travel(NOW, tick=False):
        for i in range(signins.MAX_PER_CLIENT):
            sign_in(Client(), reverse("login"), f"user{i}", "wrong-password")
        response = sign_in(Client(), reverse("login"), "alice", "staff-password-123")
        assert signins.MESSAGE in response.content.decode()
        assert sign_in(Client(), reverse("login"), "alice", "staff-password-123", ip="203.0.113.9").status_code == 302


def test_it_keeps_no_username_in_clear(cast):
    sign_in(Client(), reverse("portal:login"), "someone@example.test", "wrong-password")
    row = SignInFailure.objects.values().get()
    assert "someone" not in str(row) and row["client_ip"] == "198.51.100.20"
