"""Parents and guardians in Debian's Chromium (issue 21): staff invite a guardian for a child from
Portal Access by keyboard (a missing mobile number is refused in words, keeping what was typed), then
revoke them after the confirmation page. axe finds nothing serious or critical; the page does not
scroll sideways at 390 px."""

import datetime

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from access.models import Proxy
from access.tests.proxy_helpers import child
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def test_staff_invite_a_guardian_and_revoke_them(page, live_server, cast, artifacts_dir):
    alex = child(cast, datetime.date.today().replace(year=datetime.date.today().year - 8, day=1))
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[alex.pk])}")
    form = page.get_by_test_id("invite-guardian-form")
    form.get_by_label("First name").fill("Jordan")
    form.get_by_label("Last name").fill("Rivera")
    form.get_by_label("Relationship to the patient").select_option(label="Mother")
    form.get_by_label("Email").fill("jordan@example.test")
    form.get_by_role("button", name="Send the invitation").press("Enter")

    form = page.get_by_test_id("invite-guardian-form")
    expect(form.get_by_role("alert")).to_contain_text("Enter the parent's or guardian's mobile phone number")
    expect(form.get_by_label("Email")).to_have_value("jordan@example.test")
    assert not Proxy.objects.exists()
    form.get_by_label("Mobile phone").fill("(555) 555-0177")
    form.get_by_role("button", name="Send the invitation").press("Enter")

    expect(page.get_by_text("Invitation sent to jordan@example.test for Alex Rivera.")).to_be_visible()
    row = page.get_by_test_id("guardians").get_by_test_id("proxy-row")
    expect(row).to_contain_text("Jordan Rivera")
    expect(row.get_by_test_id("proxy-state")).to_have_text("Pending")
    check_page(page, artifacts_dir, "guardians-desktop")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_page(page, artifacts_dir, "guardians-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    row.get_by_role("button", name="Revoke Jordan Rivera").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke Jordan Rivera's access to Alex Rivera's portal?")
    check_page(page, artifacts_dir, "guardian-revoke-confirm")
    page.get_by_role("button", name="Revoke", exact=True).press("Enter")
    expect(page.get_by_text("Jordan Rivera can no longer act for Alex Rivera in the portal.")).to_be_visible()
    expect(page.get_by_test_id("proxy-state")).to_have_text("Revoked")
    assert Proxy.objects.get().status == "revoked"
