import datetime

import pytest

from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from clinic.models import Patient


def test_it_lists_the_practices_patients_with_their_portal_status(api, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    body = api.get("/patients").json()
    assert [(p["chart_number"], p["portal_status"]) for p in body["items"]] == [("A-100", "pending"),
                                                                               ("A-101", "not_eligible")]
    assert body["next_cursor"] is None


@pytest.mark.parametrize("q, found", [("jones", ["A-100"]), ("A-101", ["A-101"]), ("pat@example", ["A-100"]),
                                      ("(555) 555-0123", ["A-100"]), ("nobody", [])])
def test_it_searches_by_name_chart_number_email_and_phone(api, cast, q, found):
    assert [p["chart_number"] for p in api.get("/patients", q=q).json()["items"]] == found


def test_it_filters_by_portal_status(api, cast):
    assert [p["chart_number"] for p in api.get("/patients", status="not_eligible").json()["items"]] == ["A-101"]
    assert api.get("/patients", status="no_such_status").status_code == 422


def test_it_pages_with_a_cursor(api, cast):
    for n in range(3):
        Patient.objects.create(practice=cast.practice, chart_number=f"A-2{n}", first_name="P", last_name=f"N{n}")
    first = api.get("/patients", limit=2).json()
    second = api.get("/patients", limit=2, cursor=first["next_cursor"]).json()
    third = api.get("/patients", limit=2, cursor=second["next_cursor"]).json()
    seen = [p["chart_number"] for page in (first, second, third) for p in page["items"]]
    assert seen == ["A-100", "A-101", "A-20", "A-21", "A-22"]
    assert third["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJ4Il0", "W3RydWVd"])  # [], ["x"], [true]
def test_it_refuses_a_cursor_it_did_not_give(api, cast, cursor):
    response = api.get("/patients", cursor=cursor)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_cursor"


@pytest.mark.parametrize("path", ["/patients", "/access_requests"])
def test_it_refuses_an_empty_cursor_rather_than_reading_it_as_the_first_page(api, cast, path):
    response = api.get(path, cursor="")
    assert response.status_code == 422 and response.json()["code"] == "invalid"


def test_it_never_returns_the_ssn(api, cast):
    response = api.get(f"/patients/{cast.pat.pk}")
    assert response.json()["ssn_masked"] == "***-**-6789"
    assert b"123456789" not in response.content and b"123-45" not in response.content


def test_it_changes_only_the_fields_sent(api, cast):
    response = api.patch(f"/patients/{cast.pat.pk}", {"phone": "(555) 555-0199", "ssn": "234-56-7891"})
    assert response.status_code == 200
    cast.pat.refresh_from_db()
    assert (cast.pat.phone, cast.pat.ssn, cast.pat.email) == ("+15555550199", "234567891", "pat@example.test")
    assert response.json()["ssn_masked"] == "***-**-7891"


def test_it_removes_the_ssn_when_sent_empty(api, cast):
    assert api.patch(f"/patients/{cast.pat.pk}", {"ssn": ""}).status_code == 200
    cast.pat.refresh_from_db()
    assert cast.pat.ssn == ""


def test_a_changed_email_revokes_the_pending_invitation(api, cast):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert api.patch(f"/patients/{cast.pat.pk}", {"email": "new@example.test"}).status_code == 200
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.REVOKED
    event = AccessEvent.objects.filter(action=AccessEvent.Action.INVITATION_REVOKED).get()
    assert (event.reason, event.actor, event.channel) == ("Email address changed", cast.alice.user, "chart")


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-address"}, "email"),
    ({"phone": "555-0123"}, "phone"),
    ({"ssn": "12345"}, "ssn"),
    ({"first_name": ""}, "first_name"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({"doctor_id": 999999}, "doctor"),
])
def test_it_validates_like_the_demographics_form(api, cast, body, field):
    before = Patient.objects.values().get(pk=cast.pat.pk)
    response = api.patch(f"/patients/{cast.pat.pk}", body)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert Patient.objects.values().get(pk=cast.pat.pk) == before


def test_it_refuses_another_practices_doctor(api, cast):
    response = api.patch(f"/patients/{cast.pat.pk}", {"doctor_id": cast.bob.pk})
    assert response.status_code == 422 and "doctor" in response.json()["errors"]


@pytest.mark.parametrize("raw, status", [
    (b"{not json", 400),
    (b'{"unknown_field": 1}', 422),
    (b'{"first_name": 5}', 422),
    (b'{"first_name": ["x"]}', 422),
    (b'{"first_name": "Pa\\u0000t"}', 400),
    (b'[]', 422),
    # JSON values of another type than the schema's, which Pydantic alone would coerce:
    (b'{"date_of_birth": -2.3495736573467758e-79}', 422),  # (was read as 1970-01-01: seconds since 1970)
    (b'{"date_of_birth": 0}', 422),
    (b'{"doctor_id": 1.0}', 422),
    (b'{"doctor_id": "1"}', 422),
])
def test_it_answers_bad_input_with_a_problem_never_500(api, cast, raw, status):
    before = Patient.objects.values().get(pk=cast.pat.pk)
    response = api.patch(f"/patients/{cast.pat.pk}", raw=raw)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert Patient.objects.values().get(pk=cast.pat.pk) == before


def test_it_refuses_an_oversized_body(api, cast, settings):
    settings.PORTICO_API_MAX_BODY_BYTES = 2000
    response = api.patch(f"/patients/{cast.pat.pk}", {"first_name": "x" * 2000})
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert api.patch(f"/patients/{cast.pat.pk}", {"first_name": "x" * 1900}).status_code == 422  # max 100


def test_it_refuses_nul_in_a_query(api, cast):
    assert api.get("/patients", q="a\x00b").status_code == 400


def test_it_gives_404_for_a_missing_patient(api, cast):
    assert api.get("/patients/999999").status_code == 404


def test_a_number_for_a_date_of_birth_creates_nobody(api, cast):
    count = Patient.objects.count()
    response = api.post("/patients", {"chart_number": "A-300", "first_name": "Ann", "last_name": "Lee",
                                      "date_of_birth": 86400})
    assert response.status_code == 422 and "date_of_birth" in str(response.json()["errors"])
    assert Patient.objects.count() == count


def test_dates_of_birth_round_trip(api, cast):
    api.patch(f"/patients/{cast.ned.pk}", {"date_of_birth": "1990-02-03"})
    assert api.get(f"/patients/{cast.ned.pk}").json()["date_of_birth"] == datetime.date(1990, 2, 3).isoformat()


def test_it_creates_a_patient(api, cast):
    response = api.post("/patients", {"chart_number": " A-300 ", "first_name": "Ann", "last_name": "Lee",
                                      "email": "Ann@Example.test", "ssn": "234-56-7890", "doctor_id": cast.dora.pk})
    assert response.status_code == 201
    patient = Patient.objects.get(chart_number="A-300")
    assert (patient.practice, patient.doctor, patient.ssn) == (cast.practice, cast.dora, "234567890")
    assert response.json()["ssn_masked"] == "***-**-7890" and response.json()["portal_status"] == "not_invited"


def test_it_refuses_a_chart_number_in_use(api, cast):
    count = Patient.objects.count()
    response = api.post("/patients", {"chart_number": "A-100", "first_name": "Ann", "last_name": "Lee"})
    assert response.status_code == 422 and "chart_number" in response.json()["errors"]
    assert Patient.objects.count() == count


def test_a_chart_number_of_another_practice_is_free(api, cast):
    assert api.post("/patients", {"chart_number": "B-200", "first_name": "Ann", "last_name": "Lee"}).status_code == 201


@pytest.mark.parametrize("path", ["/patients", "/patients/{pat}"])
def test_it_refuses_an_unknown_query_parameter(api, cast, path):
    response = api.get(path.format(pat=cast.pat.pk), stauts="pending")  # misspelt: must not widen the search
    assert response.status_code == 400
    assert response.json()["detail"] == "Unknown query parameter(s): stauts."
