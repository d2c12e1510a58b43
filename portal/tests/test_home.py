import datetime

from django.contrib.auth.models import User
from django.urls import reverse

from access.actions import sending
from clinic.models import Appointment
from conftest import NOW

URL = reverse("portal:home")


def _appointment(patient, doctor, starts_at, **kwargs):
    return Appointment.objects.create(practice=patient.practice, patient=patient, doctor=doctor, starts_at=starts_at,
                                      ends_at=starts_at + datetime.timedelta(minutes=30), **kwargs)


def test_it_requires_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={URL}"


def test_it_is_not_there_for_staff(client, cast):
    client.force_login(cast.alice.user)
    assert client.get(URL).status_code == 404


def test_it_rejects_post(client, connected):
    assert client.post(URL).status_code == 405


def test_it_shows_the_practice_upcoming_appointments_and_masked_details(client, cast, connected):
    starts_at = NOW + datetime.timedelta(days=2)
    _appointment(cast.pat, cast.dora, starts_at, reason="Annual check-up")
    _appointment(cast.pat, cast.dora, NOW - datetime.timedelta(days=2), reason="Last year's visit")
    _appointment(cast.pat, cast.dora, NOW + datetime.timedelta(days=3), reason="Cancelled visit",
                 status=Appointment.Status.CANCELLED)
    _appointment(cast.ned, cast.dora, NOW + datetime.timedelta(days=1), reason="Ned's appointment")
    response = client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Maple Street Clinic" in body
    # NOW + 2 days is 15:00 UTC on 4 November 2026: 10 AM in the practice's zone, as people say it.
    assert "Wednesday, November 4 at 10:00 AM Eastern" in body
    assert "Connected since November 2, 2026" in body
    assert "Annual check-up" in body and "Dr. Dorsey" in body
    for hidden in ("Last year", "Cancelled visit", "Ned"):
        assert hidden not in body
    assert "***-**-6789" in body and "123456789" not in body and "123-45-6789" not in body
    assert "(555) 555-0123" in body and "pat@example.test" in body


def test_it_shows_nothing_of_another_account(client, cast, connected):
    other = User.objects.create_user(username="someone@example.test", password="x-long-password-1")
    client.force_login(other)
    body = client.get(URL).content.decode()
    assert "You are not connected to any practice." in body
    assert "Maple Street Clinic" not in body and "6789" not in body


def test_it_loses_a_practice_on_the_next_request_after_staff_revoke(client, cast, connected):
    assert "Maple Street Clinic" in client.get(URL).content.decode()
    sending.revoke_invitation(cast.pat, by=cast.alice, reason="Patient asked")
    body = client.get(URL).content.decode()
    assert "Maple Street Clinic" not in body and "6789" not in body
    assert "You are not connected to any practice." in body
    assert client.get(reverse("portal:disconnect", args=[connected.pk])).status_code == 404
