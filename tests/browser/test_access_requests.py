"""The access request journey in Debian's Chromium: someone asks on the practice's public page (on a
desktop, and on a 390 px phone, with a mistake fixed in place), staff see it counted on the
navigation, open it, pick the matching chart, choose what to do about the differing email, approve
with the keyboard, and the patient's invitation goes out. axe finds nothing serious or critical on the
way and no page scrolls sideways on the phone."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from access.models import AccessRequest, Invitation
from clinic.models import StaffMember
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG_EMAIL = "patricia.alexandra.jones-montgomery.household@family-of-the-patient.example.test"


def no_sideways_scroll(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways: {width} px wide"


def fill_request(page, *, email: str, date_of_birth: str = "05/17/1980") -> None:
    page.get_by_label("First name").fill("Pat")
    page.get_by_label("Last name").fill("Jones")
    page.get_by_label("Date of birth").fill(date_of_birth)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mobile phone").fill("(555) 555-0123")
    page.get_by_label("Note for the practice (optional)").fill("My chart may be under Patricia.")


def test_someone_asks_on_a_desktop_and_a_phone_then_staff_approve(page, live_server, cast, artifacts_dir):
    public = f"{live_server.url}{reverse('portal:request-access', args=[cast.practice.pk])}"

    # A desktop: one mistake (a date that does not exist), kept and fixed.
    page.goto(public)
    expect(page.get_by_role("heading", level=1, name="Request portal access")).to_be_visible()
    check_page(page, artifacts_dir, "request-access")
    fill_request(page, email="pat.new@example.test", date_of_birth="02/30/1980")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("Check that the day exists in that month")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("pat.new@example.test")
    check_page(page, artifacts_dir, "request-access-error")
    page.get_by_label("Date of birth").fill("05/17/1980")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("request-answer")).to_have_text(
        "Thank you. Maple Street Clinic will review your request; you will get an email.")
    check_page(page, artifacts_dir, "request-access-sent")

    # A phone: someone else asks, with a long address.
    phone = page.context.browser.new_context(viewport=PHONE).new_page()
    phone.goto(public)
    no_sideways_scroll(phone, "request-access on a phone")
    check_page(phone, artifacts_dir, "request-access-phone")
    fill_request(phone, email=LONG_EMAIL, date_of_birth="01/02/1990")
    phone.get_by_role("button", name="Send request").click()
    expect(phone.get_by_test_id("request-answer")).to_be_visible()
    no_sideways_scroll(phone, "request-access-sent on a phone")
    check_page(phone, artifacts_dir, "request-access-sent-phone")
    phone.context.close()
    assert AccessRequest.objects.filter(status="open").count() == 2

    # Staff: the navigation counts the open requests; the list flags the matches.
    log_in_staff(page, live_server, "alice")
    expect(page.get_by_test_id("requests-nav")).to_contain_text("2")
    page.get_by_test_id("requests-nav").click()
    expect(page.get_by_role("heading", level=1, name="Access requests")).to_be_visible()
    expect(page.get_by_text("One match")).to_be_visible()
    expect(page.get_by_text("No match")).to_be_visible()
    check_page(page, artifacts_dir, "access-requests")
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page, "access-requests on a phone")
    check_page(page, artifacts_dir, "access-requests-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The request beside Pat's chart; approving without choosing about the email is refused.
    pat_request = AccessRequest.objects.get(email="pat.new@example.test")
    page.get_by_role("link", name="Jones, Pat").first.click()
    page.goto(f"{live_server.url}{reverse('clinic:access-request', args=[pat_request.pk])}")
    expect(page.get_by_test_id("compare")).to_contain_text("Chart A-100")
    check_page(page, artifacts_dir, "access-request")
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page, "access-request on a phone")
    check_page(page, artifacts_dir, "access-request-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Approve and send invitation").click()
    expect(page.get_by_text(re.compile("choose to update the chart's email"))).to_be_visible()
    assert not Invitation.objects.exists()

    # With the keyboard: choose to keep the chart's email, then approve.
    page.get_by_label("Keep the chart's email and invite there").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Approve and send invitation").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("was sent a portal invitation at pat@example.test")).to_be_visible()
    invitation = Invitation.objects.get()
    assert (invitation.channel, invitation.email, invitation.patient_id) == ("request", "pat@example.test", cast.pat.pk)
    expect(page.get_by_test_id("requests-nav")).to_contain_text("1")


def test_the_settings_page_offers_the_address_to_copy(page, live_server, cast, artifacts_dir):
    StaffMember.objects.filter(pk=cast.alice.pk).update(role=StaffMember.Role.ADMIN)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:settings')}")
    address = f"https://portal.example.test/portal/request/{cast.practice.pk}/"
    expect(page.get_by_label("Address of the Request portal access page")).to_have_value(address)
    page.get_by_role("button", name="Copy address").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    check_page(page, artifacts_dir, "settings-request-address")
