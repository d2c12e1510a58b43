"""The staff pages about texts: recording consent on Portal Access, and the development Phone page."""

import pytest
from django.urls import reverse

from access.models import TextConsent
from access.tests.helpers import snapshot
from clinic.models import Practice
from sms import delivery
from sms.tests.helpers import queue_text

pytestmark = pytest.mark.django_db


def consent_url(patient):
    return reverse("clinic:text-consent", args=[patient.pk])


def test_staff_record_consent_from_portal_access(client, cast):
    client.force_login(cast.alice.user)

    answer = client.post(consent_url(cast.pat), {"mobile_phone": "(555) 555-0188", "consented": "yes",
                                                 "source": "patient_form"}, follow=True)

    assert b"Consent to texts recorded." in answer.content
    step = TextConsent.objects.get()
    assert (step.number, step.consented, step.source, step.recorded_by) == ("+15555550188", True, "patient_form", cast.alice)


def test_a_bad_number_records_nothing(client, cast):
    client.force_login(cast.alice.user)
    before = snapshot()

    answer = client.post(consent_url(cast.pat), {"mobile_phone": "12", "consented": "yes", "source": "staff_spoken"},
                         follow=True)

    assert b"Nothing was recorded" in answer.content
    assert snapshot() == before


def test_another_practices_patient_is_a_404_and_nothing_changes(client, cast):
    client.force_login(cast.alice.user)
    before = snapshot()

    answer = client.post(consent_url(cast.bea), {"mobile_phone": "(555) 555-0188", "consented": "yes",
                                                 "source": "staff_spoken"})

    assert answer.status_code == 404
    assert snapshot()["consents"] == before["consents"]


def test_portal_access_says_when_texts_are_off(client, cast, settings):
    settings.PORTICO_SMS_ACCOUNT_SID = ""
    client.force_login(cast.alice.user)

    page = client.get(reverse("clinic:portal-access", args=[cast.pat.pk])).content.decode()

    assert "Texts are off" in page and "Can be invited by text: needs a mobile number with consent" in page


def test_the_phone_page_shows_only_the_practices_own_texts(client, cast, sms_provider, settings):
    settings.PORTICO_MAILBOX_ENABLED = True
    queue_text("+15555550188", practice_id=cast.practice.pk, body="For Maple Street")
    queue_text("+15555550188", practice_id=cast.other_practice.pk, body="For Harbor Health")
    delivery.deliver_due(worker="w1")
    client.force_login(cast.alice.user)

    page = client.get(reverse("clinic:phone")).content.decode()

    assert "For Maple Street" in page and "For Harbor Health" not in page
    assert "Accepted by the provider" in page


def test_the_phone_page_exists_only_in_development(client, cast, settings):
    settings.PORTICO_MAILBOX_ENABLED = False
    client.force_login(cast.alice.user)

    assert client.get(reverse("clinic:phone")).status_code == 404


def test_practice_invite_by_defaults_to_email(cast):
    assert Practice.objects.get(pk=cast.practice.pk).invite_by == "email"
