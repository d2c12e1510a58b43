"""Texts in Debian's Chromium: staff record a patient's spoken consent to texts on Portal Access,
send the invitation (the practice invites by email and text), the worker sends the text to the SMS
provider's stand-in, whose signed status callbacks reach Portico, and the Phone page shows the text,
delivered. axe finds nothing serious or critical; Portal Access does not scroll sideways at 390 px."""

import datetime
import time
import zoneinfo

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from access.models import TextConsent
from clinic.models import Practice
from sms import delivery
from sms.models import TextMessage
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def daytime_zone() -> str:
    now = datetime.datetime.now(datetime.UTC)
    return next(name for name in ZONES if 9 <= now.astimezone(zoneinfo.ZoneInfo(name)).hour < 20)


ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Auckland",
         "America/Los_Angeles", "Pacific/Honolulu"]


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_staff_record_consent_and_the_phone_page_shows_the_text(page, live_server, cast, sms_provider, settings,
                                                               artifacts_dir):
    settings.PORTICO_BASE_URL, settings.PORTICO_MAILBOX_ENABLED = live_server.url, True
    sms_provider.callbacks, sms_provider.callback_delay = True, 0.05
    # A zone where it is daytime now (a text is held during quiet hours, 21:00-08:00 at the practice).
    Practice.objects.filter(pk=cast.practice.pk).update(invite_by=Practice.InviteBy.EMAIL_AND_TEXT,
                                                        time_zone=daytime_zone())

    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    card = page.get_by_test_id("texts-card")
    expect(card.get_by_test_id("text-eligibility")).to_have_text(
        "Can be invited by text: needs a mobile number with consent.")
    card.get_by_label("Mobile number").fill("(555) 555-0188")
    card.get_by_label("How the patient said so").select_option(label="Told me (spoken agreement)")
    card.get_by_label("The patient agrees to texts from the practice").check()
    card.get_by_role("button", name="Record consent").press("Enter")

    expect(page.get_by_text("Consent to texts recorded.")).to_be_visible()
    expect(page.get_by_test_id("text-eligibility")).to_contain_text("Can be invited by text at (555) 555-0188")
    ledger = page.get_by_test_id("consent-ledger")
    expect(ledger).to_contain_text("Given")
    expect(ledger).to_contain_text("Staff, recording the patient's spoken agreement")
    step = TextConsent.objects.get()
    assert (step.number, step.consented, step.recorded_by) == ("+15555550188", True, cast.alice)
    check_page(page, artifacts_dir, "portal-access-texts")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Enable Patient Access").click()
    expect(page.get_by_test_id("portal-status")).to_contain_text("Pending")
    assert delivery.deliver_due(worker="browser-test") == 1
    wait_for(lambda: TextMessage.objects.filter(status=TextMessage.Status.DELIVERED).exists())

    page.get_by_role("link", name="Phone").click()
    texts = page.get_by_test_id("texts")
    expect(texts).to_contain_text("Maple Street Clinic invites you to its patient portal")
    expect(texts).to_contain_text("+15555550188")
    expect(texts).to_contain_text("Delivered")
    check_page(page, artifacts_dir, "phone")

    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    expect(page.get_by_test_id("latest-texts")).to_contain_text("Invitation, delivered")
    expect(page.get_by_test_id("history")).to_contain_text("Text delivered")


def test_staff_enter_the_mobile_number_and_spoken_consent_on_demographics(page, live_server, cast, artifacts_dir):
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:demographics', args=[cast.pat.pk])}")

    page.get_by_label("Mobile number").fill("(555) 555-0188")
    page.get_by_label("Consent to texts").select_option(label="The patient agrees to texts (said so to me)")
    check_page(page, artifacts_dir, "demographics-texts")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Save demographics").press("Enter")

    expect(page.get_by_text("Saved Pat Jones's details.")).to_be_visible()
    step = TextConsent.objects.get()
    assert (step.number, step.consented, step.source, step.recorded_by) == (
        "+15555550188", True, TextConsent.Source.STAFF_SPOKEN, cast.alice)
    expect(page.get_by_label("Mobile number")).to_have_value("(555) 555-0188")
    expect(page.get_by_label("Consent to texts")).to_have_value("")  # no change, until staff record another step
