"""Every endpoint with a token of practice B and ids of practice A: 404 (never 403, never data),
nothing changed, and the attempt recorded in B's history."""

import datetime

import pytest

from access.actions import sending
from access.models import AccessEvent, Channel
from access.tests.helpers import snapshot
from clinic.models import Appointment, Patient

START = datetime.datetime(2026, 12, 1, 15, 0, tzinfo=datetime.UTC)

ENDPOINTS = [
    ("get", "/patients/{pat}", None),
    ("patch", "/patients/{pat}", {"first_name": "Mallory"}),
    ("get", "/patients/{pat}/portal_access", None),
    ("post", "/patients/{pat}/portal_access", None),
    ("delete", "/patients/{pat}/portal_access", None),
    ("post", "/patients/{pat}/portal_access/resend", None),
    ("get", "/patients/{pat}/portal_access/history", None),
]


def everything() -> dict:
    return {**snapshot(), "patients": list(Patient.objects.order_by("pk").values()),
            "appointments": list(Appointment.objects.order_by("pk").values())}


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
def test_it_hides_other_practice(bob_api, cast, method, path, body):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)  # something to revoke or resend
    before = everything()
    response = bob_api.call(method, path.format(pat=cast.pat.pk), body)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert b"Jones" not in response.content and b"pat@example" not in response.content
    refused = AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID)
    assert [(e.practice, e.actor, e.reason) for e in refused] == [(cast.other_practice, cast.bob.user,
                                                                   f"patient {cast.pat.pk}")]
    after = everything()
    assert after["events"] == before["events"] + 1  # the refusal itself, nothing else
    assert {**after, "events": 0} == {**before, "events": 0}


def test_it_hides_other_practices_appointment(api, cast):
    appointment = Appointment.objects.create(practice=cast.other_practice, patient=cast.bea, doctor=cast.bob,
                                             starts_at=START, ends_at=START + datetime.timedelta(minutes=30))
    before = everything()
    response = api.post(f"/patients/{cast.pat.pk}/portal_access", {"appointment": appointment.pk})
    assert response.status_code == 404
    assert AccessEvent.objects.get().reason == f"appointment {appointment.pk}"
    assert {**everything(), "events": 0} == {**before, "events": 0}


def test_it_lists_only_the_tokens_practice(bob_api, cast):
    assert [p["id"] for p in bob_api.get("/patients", q="Jones").json()["items"]] == []
