"""A patient renews an expired invitation in Chromium, on a desktop and on a 390 px phone: the dead
link offers a new one, the identity check again, a page saying where it went, and the new email's link
works. axe-core finds no serious issue on any of those pages, and none scrolls sideways."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.actions import sending
from access.models import Channel, Invitation
from conftest import run_worker
from tests.browser.helpers import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def check(page, artifacts_dir, name: str) -> None:
    check_page(page, artifacts_dir, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name} scrolls sideways: {width} px wide"


@pytest.mark.parametrize("size", SIZES)
def test_a_patient_renews_an_expired_invitation(page, live_server, cast, smtp_server, artifacts_dir, size):
    page.set_viewport_size(SIZES[size])
    old = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    run_worker()  # the first email
    Invitation.objects.filter(pk=old.invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(days=3))

    page.goto(f"{live_server.url}{reverse('portal:landing', args=[old.token])}")
    expect(page.get_by_role("heading", level=1, name="This invitation has expired")).to_be_visible()
    check(page, artifacts_dir, f"renew-offered-{size}")
    page.get_by_role("link", name="Send me a new link").click()

    expect(page.get_by_role("heading", level=1, name="Get a new invitation link")).to_be_visible()
    check(page, artifacts_dir, f"renew-identity-{size}")
    page.get_by_label("Social security number").fill("123-45-6780")  # one digit off
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.get_by_role("alert")).to_contain_text("2 more tries")
    check(page, artifacts_dir, f"renew-wrong-answer-{size}")
    page.get_by_label("Social security number").fill("123-45-6789")
    page.keyboard.press("Enter")  # keyboard alone

    expect(page.get_by_role("heading", level=1, name="A new invitation is on its way")).to_be_visible()
    expect(page.get_by_test_id("renewed-to")).to_contain_text("p•••@example.test")
    check(page, artifacts_dir, f"renewed-{size}")

    run_worker()
    renewed = [m for m in smtp_server.messages() if m["To"] == "pat@example.test"]
    assert len(renewed) == 2  # the first invitation, and the new one
    new_link = next(line for line in renewed[-1].get_body(("plain",)).get_content().splitlines()
                    if "/portal/i/" in line).strip()
    assert old.token not in new_link
    page.goto(live_server.url + new_link.removeprefix("https://portal.example.test"))
    expect(page.get_by_role("heading", level=1, name="Confirm your identity")).to_be_visible()
    page.goto(f"{live_server.url}{reverse('portal:landing', args=[old.token])}")  # the old one stays dead
    expect(page.get_by_role("heading", level=1, name="This invitation has expired")).to_be_visible()
    expect(page.get_by_role("link", name="Send me a new link")).to_have_count(0)
