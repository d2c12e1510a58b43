"""Unhandled errors are logged with their traceback; error pages are styled and never show personal data."""

import io
import logging
import re

import pytest
from django.test import Client
from django.urls import include, path, reverse

from clinic.models import Patient


def boom(request):
    raise RuntimeError("the practice's database moved")


# This module doubles as a URLconf: Portico's URLs plus one view that fails.
urlpatterns = [path("boom/", boom), path("", include("portico.urls"))]


@pytest.fixture
def console():
    """What the console handler of `django.request` writes (configured in LOGGING)."""
    (handler,) = [h for h in logging.getLogger("django.request").handlers if type(h) is logging.StreamHandler]
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(old)


@pytest.mark.django_db
def test_it_logs_every_500_with_its_traceback(settings, console):
    settings.ROOT_URLCONF = __name__
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    logged = console.getvalue()
    assert "ERROR django.request Internal Server Error: /boom/" in logged
    assert "Traceback (most recent call last)" in logged
    assert "RuntimeError: the practice's database moved" in logged


@pytest.mark.django_db
def test_the_500_page_is_styled_and_needs_no_request(settings):
    settings.ROOT_URLCONF = __name__
    html = Client(raise_request_exception=False).get("/boom/").content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert '<link rel="stylesheet" href="/static/portico.css">' in html
    assert "the practice's database moved" not in html


@pytest.mark.django_db
def test_the_404_page_is_styled(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert '<link rel="stylesheet" href="/static/portico.css">' in html
    assert '<a class="brand" href="/login/">Portico</a>' in html


TYPED = {"ssn": "321-54-9876", "date_of_birth": "1971-02-03", "phone": "(555) 555-0199",
         "email": "new-address@example.test"}
SHOWN = ["321-54-9876", "321549876", "9876", "1971-02-03", "1971, 2, 3", "5550199", "555-0199", "new-address"]


@pytest.mark.parametrize("where", ["demographics", "appointment window"])
def test_the_debug_error_page_shows_nothing_typed_into_patient_details(settings, cast, monkeypatch, where):
    """A failure deep in the save: the traceback's frames hold the changes being saved."""
    from clinic.models import Appointment

    settings.DEBUG = True
    monkeypatch.setattr(Patient, "full_clean", lambda self, **kw: boom(None))
    client = Client(raise_request_exception=False)
    client.force_login(cast.alice.user)
    if where == "demographics":
        url = reverse("clinic:demographics", args=[cast.ned.pk])
        data = {"first_name": "Ned", "last_name": "Stone", "doctor": "", **TYPED}
    else:
        appt = Appointment.objects.create(practice=cast.practice, patient=cast.ned, doctor=cast.dora,
                                          starts_at="2026-11-25T14:00Z", ends_at="2026-11-25T14:30Z")
        url = reverse("clinic:appointment-details", args=[appt.pk])
        data = TYPED
    response = client.post(url, data)
    assert response.status_code == 500
    html = response.content.decode()
    assert "RuntimeError" in html and "the practice&#x27;s database moved" in html  # Django's technical page
    for value in SHOWN:
        # Standing alone: "9876" may well occur inside an object's address on the page (0x7f...9876...).
        assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", html), value
