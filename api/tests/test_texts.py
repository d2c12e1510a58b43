"""The API sets a patient's mobile number and consent to texts (with its source) and sees text outcomes."""

import pytest

from access.models import AccessEvent, TextConsent
from access.tests.helpers import snapshot
from sms.models import TextMessage
from sms.tests.helpers import queue_text

pytestmark = pytest.mark.django_db


def test_it_sets_the_mobile_number_and_consent_with_its_source(api, cast):
    answer = api.post(f"/patients/{cast.pat.pk}/text_consent",
                      {"mobile_phone": "(555) 555-0188", "consented": True, "source": "patient_form"})

    assert answer.status_code == 201
    body = answer.json()
    assert (body["mobile_phone"], body["consented"], body["can_be_texted"]) == ("+15555550188", True, True)
    assert [(s["consented"], s["source"], s["recorded_by"]) for s in body["consent_ledger"]] == [
        (True, "patient_form", "Adams")]
    step = TextConsent.objects.get()
    assert (step.source, step.recorded_by) == ("patient_form", cast.alice)
    assert AccessEvent.objects.filter(action="text.consent_given", patient=cast.pat, actor=cast.alice.user).exists()


def test_withdrawing_is_a_new_step(api, cast):
    api.post(f"/patients/{cast.pat.pk}/text_consent", {"mobile_phone": "+15555550188", "consented": True,
                                                       "source": "import"})
    body = api.post(f"/patients/{cast.pat.pk}/text_consent", {"consented": False, "source": "staff_spoken"}).json()

    assert body["consented"] is False and [s["consented"] for s in body["consent_ledger"]] == [False, True]


@pytest.mark.parametrize(("payload", "code"), [
    ({"consented": True, "source": "staff_spoken"}, "no_mobile_number"),
    ({"mobile_phone": "12", "consented": True, "source": "staff_spoken"}, "invalid"),
    ({"mobile_phone": "+15555550188", "consented": True, "source": "reply"}, "invalid"),
])
def test_a_refusal_changes_nothing(api, cast, payload, code):
    before = snapshot()

    answer = api.post(f"/patients/{cast.pat.pk}/text_consent", payload)

    assert answer.status_code == 422 and answer.json()["code"] == code
    assert snapshot() == before


def test_another_practices_patient_is_a_404(api, cast):
    before = snapshot()

    assert api.post(f"/patients/{cast.bea.pk}/text_consent", {"mobile_phone": "+15555550188", "consented": True,
                                                              "source": "staff_spoken"}).status_code == 404
    assert api.get(f"/patients/{cast.bea.pk}/texts").status_code == 404
    assert snapshot()["consents"] == before["consents"]


def test_it_shows_text_outcomes(api, cast):
    api.post(f"/patients/{cast.pat.pk}/text_consent", {"mobile_phone": "+15555550188", "consented": True,
                                                       "source": "staff_spoken"})
    queue_text("+15555550188", practice_id=cast.practice.pk, status=TextMessage.Status.UNDELIVERED, error_code="30003")
    queue_text("+15555550188", practice_id=cast.other_practice.pk)

    [text] = api.get(f"/patients/{cast.pat.pk}/texts").json()["texts"]

    assert (text["status"], text["error_code"]) == ("undelivered", "30003")


def test_text_outcomes_are_webhook_events(api, cast):
    from access.actions import outcomes
    from access.tests.helpers import send
    from api.models import WebhookDelivery
    from api.tests.test_webhooks import endpoint_for

    endpoint_for(cast.practice, "https://hooks.example.test/portico")
    sent = send(cast)
    outcomes.record_text_outcome(sent.invitation.pk, delivered=True)
    outcomes.record_text_outcome(sent.invitation.pk, delivered=False, error_code="30003")

    assert list(WebhookDelivery.objects.order_by("pk").values_list("event_type", flat=True)) == [
        "portal_access.invited", "portal_access.text_delivered", "portal_access.text_failed"]
