"""Password guessing limits for every sign-in form (staff, patient, and "sign in to connect").

A username with MAX_PER_USERNAME failures, or a client address with MAX_PER_CLIENT, in the last
WINDOW is refused before the password is even checked (NIST SP 800-63B §5.2.2 rate limiting).
Failures are recorded from Django's user_login_failed signal (access.receivers)."""

import datetime
import hashlib

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from access.history import client_ip
from access.models import SignInFailure

WINDOW = datetime.timedelta(minutes=15)
MAX_PER_USERNAME = 10
MAX_PER_CLIENT = 50
MESSAGE = "Too many failed sign-ins. Please wait 15 minutes and try again."


def _hash(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def record_failure(username: str, request) -> None:
    SignInFailure.objects.create(username_hash=_hash(username or ""), client_ip=client_ip(request) if request else None,
                                 at=timezone.now())


def is_throttled(username: str, request) -> bool:
    recent = SignInFailure.objects.filter(at__gt=timezone.now() - WINDOW)
    if recent.filter(username_hash=_hash(username or "")).count() >= MAX_PER_USERNAME:
        return True
    ip = client_ip(request)
    return ip is not None and recent.filter(client_ip=ip).count() >= MAX_PER_CLIENT


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing before the password check once the limits are reached."""

    def clean(self):
        if is_throttled(self.cleaned_data.get("username", ""), self.request):
            raise forms.ValidationError(MESSAGE, code="throttled")
        return super().clean()
