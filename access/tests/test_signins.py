"""Password guessing is limited on every sign-in form, and each guess is counted before it is checked."""

import datetime
import threading
import time

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, RequestFactory
from django.urls import reverse

from access import signins
from access.models import Attempt
from conftest import NOW, at_once, postgres_only


def sign_in(client, url, username, password, ip="198.51.100.20"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def failures() -> int:
    return Attempt.objects.filter(kind=Attempt.Kind.SIGN_IN).count()


@pytest.mark.parametrize("url", ["login", "portal:login"])
def test_it_refuses_a_username_after_ten_failures_even_with_the_right_password(cast, url, django_user_model):
    django_user_model.objects.create_user(username="pat@example.test", password="patient-password-123")
    username, password = ("alice", "staff-password-123") if url == "login" else ("pat@example.test",
                                                                                 "patient-password-123")
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(10):
            assert sign_in(Client(), reverse(url), username, "wrong-password").status_code == 200
        response = sign_in(Client(), reverse(url), username.upper(), password, ip="203.0.113.1")
        assert response.status_code == 200 and signins.MESSAGE in response.content.decode()
        assert failures() == 10  # the refusal neither counted nor checked a password
        clock.shift(datetime.timedelta(minutes=15, seconds=1))
        assert sign_in(Client(), reverse(url), username, password).status_code == 302


def test_the_wait_is_fifteen_minutes_from_the_failures(cast):
    """Literal times: failures at 15:00:00 still refuse at 15:14:59 and no longer at 15:15:01."""
    with time_machine.travel(NOW, tick=False) as clock:
        for _ in range(10):
            sign_in(Client(), reverse("login"), "alice", "wrong-password")
        clock.move_to(NOW + datetime.timedelta(minutes=14, seconds=59))
        assert signins.MESSAGE in sign_in(Client(), reverse("login"), "alice", "staff-password-123").content.decode()
        clock.move_to(NOW + datetime.timedelta(minutes=15, seconds=1))
        assert sign_in(Client(), reverse("login"), "alice", "staff-password-123").status_code == 302


def test_a_successful_sign_in_does_not_count(cast):
    with time_machine.travel(NOW, tick=False):
        for _ in range(9):
            sign_in(Client(), reverse("login"), "alice", "wrong-password")
        assert sign_in(Client(), reverse("login"), "alice", "staff-password-123").status_code == 302
        assert failures() == 9
        sign_in(Client(), reverse("login"), "alice", "wrong-password")  # the 10th failure is still checked
        assert failures() == 10
        assert signins.MESSAGE in sign_in(Client(), reverse("login"), "alice", "staff-password-123").content.decode()


def test_it_refuses_a_client_address_that_tries_many_usernames(cast):
    with time_machine.travel(NOW, tick=False):
        for i in range(50):
            sign_in(Client(), reverse("login"), f"user{i}", "wrong-password")
        response = sign_in(Client(), reverse("login"), "alice", "staff-password-123")
        assert signins.MESSAGE in response.content.decode()
        assert sign_in(Client(), reverse("login"), "alice", "staff-password-123", ip="203.0.113.9").status_code == 302


def test_it_keeps_no_username_in_clear(cast):
    sign_in(Client(), reverse("portal:login"), "someone@example.test", "wrong-password")
    row = Attempt.objects.values().get()
    assert "someone" not in str(row) and row["client_ip"] == "198.51.100.20"


def test_authenticate_counts_like_the_forms(cast):
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.20")
    with time_machine.travel(NOW, tick=False):
        for _ in range(10):
            assert signins.authenticate(request, "alice", "wrong-password") is None
        with pytest.raises(signins.Throttled):
            signins.authenticate(request, "alice", "staff-password-123")
        assert failures() == 10


class SlowCountingHasher(MD5PasswordHasher):
    """MD5 made as slow as a real hash, counting each password it checks."""

    algorithm = "slow_counting_md5"
    checked = 0
    _lock = threading.Lock()

    def verify(self, password, encoded):
        with self._lock:
            type(self).checked += 1
        time.sleep(0.05)
        return super().verify(password, encoded)


def _form_guess(password: str):
    form = signins.ThrottledAuthenticationForm(RequestFactory().post("/", REMOTE_ADDR="198.51.100.20"),
                                               data={"username": "alice", "password": password})
    return form.is_valid()


def _function_guess(password: str):
    return signins.authenticate(RequestFactory().post("/", REMOTE_ADDR="198.51.100.20"), "alice", password)


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("guess", [_form_guess, _function_guess])
def test_thirty_simultaneous_guesses_get_at_most_ten_password_checks(cast, settings, guess):
    settings.PASSWORD_HASHERS = ["access.tests.test_signins.SlowCountingHasher"]
    cast.alice.user.set_password("staff-password-123")
    cast.alice.user.save()
    SlowCountingHasher.checked = 0
    outcomes = at_once(*[lambda: guess("wrong-password")] * 30)
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, signins.Throttled)]
    assert 1 <= SlowCountingHasher.checked <= 10
    assert failures() == SlowCountingHasher.checked  # refused guesses leave no row
