"""Password guessing limits for every sign-in form (staff, patient, admin and "sign in to connect").

A username with MAX_PER_USERNAME failures, or a client address with MAX_PER_CLIENT, in the last
WINDOW is refused before the password is even checked (NIST SP 800-63B §5.2.2 rate limiting). Each
guess is counted before its password is hashed (access.attempts), so a burst of simultaneous guesses
gets no more checks than the same guesses one after another."""

import datetime
import hashlib

from django import forms
from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext, gettext_noop

from access import attempts
from access.models import Attempt
from portico.client import client_ip

WINDOW = datetime.timedelta(minutes=15)
MAX_PER_USERNAME = 10
MAX_PER_CLIENT = 50
MESSAGE = gettext_noop("Too many failed sign-ins. Please wait 15 minutes and try again.")


class Throttled(Exception):
    """Over the limits. `message` is in the language active when it was raised (a patient page's)."""

    def __init__(self):
        super().__init__(MESSAGE)
        self.message = gettext(MESSAGE)


def _hash(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def claim(username: str, request) -> Attempt:
    """Count one sign-in guess before its password is checked; raises Throttled over the limits.
    Call attempts.passed(row) once the password proved right."""
    try:
        return attempts.claim(Attempt.Kind.SIGN_IN, window=WINDOW, limits={
            "username_hash": (_hash(username or ""), MAX_PER_USERNAME),
            "client_ip": (client_ip(request) if request is not None else None, MAX_PER_CLIENT),
        })
    except attempts.OverLimit:
        raise Throttled() from None


def authenticate(request, username: str, password: str) -> AbstractBaseUser | None:
    """Django's authenticate(), counted against the limits first; raises Throttled."""
    attempt = claim(username, request)
    user = django_authenticate(request, username=username, password=password)
    if user is not None:
        attempts.passed(attempt)
    return user


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, counting each guess before the password check and refusing once the
    limits are reached. Mix it in first to throttle another sign-in form, e.g.
    `class AdminLoginForm(ThrottledAuthenticationForm, AdminAuthenticationForm)`."""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        try:
            attempt = claim(username, self.request)
        except Throttled:
            raise forms.ValidationError(gettext(MESSAGE), code="throttled") from None
        cleaned = super().clean()  # a wrong password or a refused account raises: the guess keeps counting
        attempts.passed(attempt)
        return cleaned
