import datetime

import pytest

from access.models import AccessEvent
from access.tests.helpers import snapshot
from clinic.models import Appointment, Practice

START = datetime.datetime(2026, 12, 1, 15, 0, tzinfo=datetime.UTC)


def book(cast, patient, start=START) -> Appointment:
    return Appointment.objects.create(practice=patient.practice, patient=patient, doctor=cast.dora, starts_at=start,
                                      ends_at=start + datetime.timedelta(minutes=30))


def test_it_lists_appointments_in_a_range_with_the_portal_status(api, cast):
    inside, _ = book(cast, cast.pat), book(cast, cast.ned, START + datetime.timedelta(days=2))
    body = api.get("/appointments", start="2026-12-01T00:00:00Z", end="2026-12-02T00:00:00Z").json()
    assert [(a["id"], a["patient_portal_status"]) for a in body] == [(inside.pk, "not_invited")]


@pytest.mark.parametrize("start, end", [("2026-12-01T00:00:00Z", "2026-11-30T00:00:00Z"),
                                        ("2026-12-01T00:00:00Z", "2027-01-01T00:00:01Z"),
                                        ("2026-12-01T00:00:00", "2026-12-02T00:00:00")])
def test_it_refuses_a_bad_range(api, cast, start, end):
    assert api.get("/appointments", start=start, end=end).status_code == 422


def test_it_books_through_the_calendars_service(api, cast):
    cast.practice.auto_invite = Practice.AutoInvite.BOOKED
    cast.practice.save()
    response = api.post("/appointments", {"patient_id": cast.pat.pk, "doctor_id": cast.dora.pk,
                                          "starts_at": "2026-12-01T15:00:00Z", "minutes": 30})
    assert response.status_code == 201
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.doctor, appointment.ends_at) == (
        cast.pat, cast.dora, START + datetime.timedelta(minutes=30))
    assert cast.pat.invitations.get().channel == "automatic"  # the practice's setting fired, as on the page


def test_it_refuses_a_clash(api, cast):
    book(cast, cast.ned)
    before = snapshot()
    response = api.post("/appointments", {"patient_id": cast.pat.pk, "doctor_id": cast.dora.pk,
                                          "starts_at": "2026-12-01T15:15:00Z", "minutes": 30})
    assert response.status_code == 422 and "starts_at" in response.json()["errors"]
    assert Appointment.objects.count() == 1 and snapshot() == before


def test_it_refuses_a_doctor_who_is_not_the_practices(api, cast):
    response = api.post("/appointments", {"patient_id": cast.pat.pk, "doctor_id": cast.bob.pk,
                                          "starts_at": "2026-12-01T15:00:00Z", "minutes": 30})
    assert response.status_code == 422 and "doctor_id" in response.json()["errors"]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("status", ["cancelled", "completed", "no_show"])
def test_it_closes_an_appointment_once(api, cast, status):
    appointment = book(cast, cast.pat)
    response = api.patch(f"/appointments/{appointment.pk}", {"status": status})
    assert response.status_code == 200 and response.json()["status"] == status
    again = api.patch(f"/appointments/{appointment.pk}", {"status": "cancelled"})
    assert again.status_code == 409 and again.json()["code"] == "appointment_closed"
    appointment.refresh_from_db()
    assert appointment.status == status


def test_it_hides_other_practices_appointments_and_patients(bob_api, cast):
    appointment = book(cast, cast.pat)
    assert bob_api.patch(f"/appointments/{appointment.pk}", {"status": "cancelled"}).status_code == 404
    assert bob_api.post("/appointments", {"patient_id": cast.pat.pk, "doctor_id": cast.dora.pk,
                                          "starts_at": "2026-12-02T15:00:00Z", "minutes": 30}).status_code == 404
    assert bob_api.get("/appointments", start="2026-12-01T00:00:00Z", end="2026-12-02T00:00:00Z").json() == []
    appointment.refresh_from_db()
    assert appointment.status == "scheduled" and Appointment.objects.count() == 1
    assert [e.reason for e in AccessEvent.objects.order_by("id")] == [f"appointment {appointment.pk}",
                                                                       f"patient {cast.pat.pk}"]


@pytest.mark.parametrize("field, value", [("starts_at", 1796137200), ("minutes", 30.0), ("patient_id", "1")])
def test_it_refuses_a_value_of_another_json_type(api, cast, field, value):
    """A moment as a number (Pydantic alone reads it as seconds since 1970), a whole number as a float,
    an id as text: refused, nothing booked."""
    body = {"patient_id": cast.pat.pk, "doctor_id": cast.dora.pk, "starts_at": "2026-12-01T15:00:00Z",
            "minutes": 30, field: value}
    response = api.post("/appointments", body)
    assert response.status_code == 422 and field in str(response.json()["errors"])
    assert not Appointment.objects.exists()
