"""/api/v1/access_requests: list (by status), read, approve and decline, with the pages' rules and
problem codes; and the access_request.created webhook event."""

import datetime

from django.utils import timezone

from access.actions import requests
from access.models import AccessEvent, AccessRequest, Invitation
from api.models import WebhookDelivery, WebhookEndpoint
from mail.models import Message

PAT = {"first_name": "Pat", "last_name": "Jones", "date_of_birth": datetime.date(1980, 5, 17),
       "email": "pat@example.test", "phone": "+15555550123"}


def ask(practice, **changes) -> AccessRequest:
    return requests.request_access(practice, **{**PAT, **changes})


def test_it_requires_a_token(cast):
    from api.tests.conftest import ApiClient

    assert ApiClient(None).get("/access_requests").status_code == 401


def test_it_lists_open_requests_with_their_matches(cast, api):
    mine = ask(cast.practice)
    declined = ask(cast.practice, email="x@example.test", first_name="Xavier")
    requests.decline_request(declined, reason="not_a_patient", by=cast.alice)
    ask(cast.other_practice, first_name="Bea")
    response = api.get("/access_requests")
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert (item["id"], item["status"], item["match"], item["matching_patient_ids"]) == (
        mine.pk, "open", "one_match", [cast.pat.pk])
    assert item["email"] == "pat@example.test" and item["date_of_birth"] == "1980-05-17"
    [other] = api.get("/access_requests", status="declined").json()["items"]
    assert (other["id"], other["decline_reason"], other["match"]) == (declined.pk, "not_a_patient", "")
    assert api.get("/access_requests", status="nonsense").status_code == 422


def test_it_pages_with_a_cursor(cast, api):
    for i in range(3):
        ask(cast.practice, email=f"p{i}@example.test")
    first = api.get("/access_requests", limit=2).json()
    second = api.get("/access_requests", limit=2, cursor=first["next_cursor"]).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None


def test_it_approves_for_a_chart(cast, api):
    access_request = ask(cast.practice)
    response = api.post(f"/access_requests/{access_request.pk}/approve", {"patient_id": cast.pat.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["channel"], body["email"], body["status"]) == ("request", "pat@example.test", "pending")
    access_request.refresh_from_db()
    assert (access_request.status, access_request.patient_id) == ("approved", cast.pat.pk)
    event = AccessEvent.objects.get(action="request.approved")
    assert event.actor_id == cast.alice.user_id and event.channel == "request"


def test_a_different_email_needs_the_choice(cast, api):
    access_request = ask(cast.practice, email="pat.new@example.test")
    response = api.post(f"/access_requests/{access_request.pk}/approve", {"patient_id": cast.pat.pk})
    assert (response.status_code, response.json()["code"]) == (422, "email_choice_needed")
    assert response["Content-Type"] == "application/problem+json"
    assert not Invitation.objects.exists()
    response = api.post(f"/access_requests/{access_request.pk}/approve",
                        {"patient_id": cast.pat.pk, "update_email": True})
    assert response.status_code == 201 and response.json()["email"] == "pat.new@example.test"
    cast.pat.refresh_from_db()
    assert cast.pat.email == "pat.new@example.test"


def test_approving_twice_is_a_conflict(cast, api):
    access_request = ask(cast.practice)
    api.post(f"/access_requests/{access_request.pk}/approve", {"patient_id": cast.pat.pk})
    response = api.post(f"/access_requests/{access_request.pk}/approve", {"patient_id": cast.pat.pk})
    assert (response.status_code, response.json()["code"]) == (409, "request_not_open")
    assert Invitation.objects.count() == 1


def test_a_refused_send_has_the_send_paths_problem_code(cast, api):
    access_request = ask(cast.practice, first_name="Ned", last_name="Stone", email="ned@example.test")
    response = api.post(f"/access_requests/{access_request.pk}/approve",
                        {"patient_id": cast.ned.pk, "update_email": True})
    assert (response.status_code, response.json()["code"]) == (422, "not_eligible")
    cast.ned.refresh_from_db()
    assert cast.ned.email == ""  # rolled back with the refusal


def test_it_declines_with_a_reason(cast, api):
    access_request = ask(cast.practice)
    response = api.post(f"/access_requests/{access_request.pk}/decline", {"reason": "contact_us"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decline_reason"]) == ("declined", "contact_us")
    assert Message.objects.get().kind == Message.Kind.REQUEST_DECLINED
    assert api.post(f"/access_requests/{access_request.pk}/decline", {"reason": "bogus"}).status_code == 422


def test_it_hides_another_practices_requests_and_charts(cast, api, bob_api):
    theirs = ask(cast.other_practice, first_name="Bea", last_name="Hart")
    mine = ask(cast.practice)
    assert api.get(f"/access_requests/{theirs.pk}").status_code == 404
    assert api.post(f"/access_requests/{theirs.pk}/decline", {"reason": "contact_us"}).status_code == 404
    # A chart of another practice: 404, recorded, nothing sent.
    response = api.post(f"/access_requests/{mine.pk}/approve", {"patient_id": cast.bea.pk})
    assert response.status_code == 404
    assert AccessEvent.objects.filter(action="security.foreign_id").count() == 3
    assert not Invitation.objects.exists()
    assert bob_api.get("/access_requests").json()["items"][0]["id"] == theirs.pk


def test_a_new_request_is_a_webhook_event_with_ids_only(cast):
    WebhookEndpoint.objects.create(practice=cast.practice, url="https://hooks.example.test/portico",
                                   secret="whsec_test", created_at=timezone.now())
    access_request = ask(cast.practice)
    ask(cast.practice)  # a repeat, merged: not a new request
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event_type == "access_request.created"
    assert delivery.payload == {"id": str(delivery.event_id), "type": "access_request.created",
                                "occurred_at": access_request.created_at.isoformat(), "practice": cast.practice.pk,
                                "access_request": access_request.pk}
