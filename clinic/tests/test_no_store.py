"""Every staff page shows patient data: no browser or proxy may keep a copy of it."""

import datetime

import pytest
from django.urls import reverse

from clinic.models import Appointment, Notification


@pytest.fixture
def pages(cast) -> list[str]:
    start = datetime.datetime(2026, 11, 25, 14, 0, tzinfo=datetime.UTC)
    appt = Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=start,
                                      ends_at=start + datetime.timedelta(minutes=30), reason="Annual physical")
    Notification.objects.create(recipient=cast.alice, patient=cast.pat, text="Pat Jones accepted.",
                                created_at=start)
    pat = [cast.pat.pk]
    return [
        reverse("clinic:home"),
        reverse("clinic:patients"),
        reverse("clinic:chart", args=pat),
        reverse("clinic:demographics", args=pat),
        reverse("clinic:chart-appointments", args=pat),
        reverse("clinic:portal-access", args=pat),  # with the access history
        reverse("clinic:calendar") + "?date=2026-11-25",
        reverse("clinic:appointment", args=[appt.pk]),
        reverse("clinic:notifications"),
    ]


def test_it_forbids_storing_every_staff_page(client, cast, pages):
    client.force_login(cast.alice.user)
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 302), url
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= directives, url


def test_it_forbids_storing_a_refused_post(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:demographics", args=[cast.pat.pk]), {"first_name": ""})
    assert response.status_code == 200  # the form again, with what was typed
    assert "no-store" in response["Cache-Control"]
