"""The portal invitation's status and controls on the staff pages, in Debian's Chromium: Revoke asks
first and sits apart from Resend; each state offers one next step with its reason; the appointment
window shows the status and offers Resend and Revoke while pending, with a labelled send arrow and no
Content-Security-Policy errors; the status in every chart tab's header; the patient list's digits
search and Needs attention filter; the mailbox's times. Every page is checked with axe-core on a
desktop and on a 390x844 phone with no sideways scroll."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.actions import acceptance, outcomes, sending
from access.errors import Refusal
from access.models import Channel, Invitation
from clinic.models import Appointment
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def check_both_sizes(page, artifacts_dir, name: str) -> None:
    """axe on a desktop, then on a phone with nothing scrolling sideways."""
    check_page(page, artifacts_dir, name)
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    no_sideways_scroll(page)
    check_page(page, artifacts_dir, f"{name}-phone")
    page.set_viewport_size(desktop)


def book_today(cast, patient) -> Appointment:
    today = timezone.localdate(timezone=cast.practice.tzinfo)
    start = datetime.datetime.combine(today, datetime.time(10, 0), tzinfo=cast.practice.tzinfo)
    return Appointment.objects.create(practice=cast.practice, patient=patient, doctor=cast.dora, starts_at=start,
                                      ends_at=start + datetime.timedelta(minutes=30), reason="Check-up")


# Chromium words it "...violates the following Content Security Policy directive..."
CSP = re.compile(r"Content.Security.Policy", re.IGNORECASE)


def csp_errors(page) -> list[str]:
    """Console messages about the Content-Security-Policy, collected from now on."""
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if CSP.search(m.text) else None)
    return messages


def test_the_appointment_window_offers_resend_and_revoke_while_pending_without_csp_errors(
        page, live_server, cast, artifacts_dir):
    book_today(cast, cast.pat)
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    errors = csp_errors(page)
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:calendar')}")
    # htmx neither injects its indicator <style> nor copies style attributes while settling a swap.
    assert page.evaluate("[htmx.config.includeIndicatorStyles, htmx.config.attributesToSettle.includes('style')]") \
        == [False, False]
    page.get_by_role("link", name=re.compile("Pat Jones")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("window-status")).to_contain_text("Pending")
    expect(dialog.get_by_test_id("window-next-step")).to_contain_text("has not used it yet")
    expect(dialog.get_by_role("button", name="Send portal invitation")).to_have_count(0)
    check_both_sizes(page, artifacts_dir, "staff-window-pending")

    dialog.get_by_role("button", name="Resend invitation").click()
    expect(dialog).to_contain_text("A new invitation was sent to pat@example.test.")
    dialog.get_by_role("button", name="Revoke Invite").click()
    question = dialog.get_by_role("heading", name="Revoke Pat Jones's invitation?")
    expect(question).to_be_focused()
    expect(dialog.get_by_test_id("revoke-consequence")).to_contain_text("invitation link will stop working at once")
    check_both_sizes(page, artifacts_dir, "staff-window-confirm-revoke")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog.get_by_test_id("window-status")).to_contain_text("Pending")
    dialog.get_by_role("button", name="Revoke Invite").click()
    expect(question).to_be_focused()
    dialog.get_by_role("button", name="Revoke Invite").click()
    expect(dialog).to_contain_text("Invitation revoked: Pat Jones's invitation link no longer works.")
    expect(dialog.get_by_test_id("window-status")).to_contain_text("Revoked")
    send = dialog.get_by_role("button", name="Send portal invitation")
    expect(send).to_be_visible()
    expect(send).to_be_enabled()
    assert Invitation.objects.filter(status="pending").count() == 0
    dialog.get_by_role("button", name="Close the appointment window").click()
    expect(page.locator(".appointment").filter(has_text="Pat Jones")).to_contain_text("Revoked")
    assert errors == []


def test_revoke_asks_first_and_sits_apart_from_resend(page, live_server, cast, artifacts_dir):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    page.get_by_role("button", name="Resend invitation").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") != "Revoke Invite"
    check_both_sizes(page, artifacts_dir, "staff-portal-access-pending-apart")

    page.get_by_role("button", name="Revoke Invite").click()
    expect(page.get_by_role("heading", level=1, name="Revoke Pat Jones's invitation?")).to_be_focused()
    check_both_sizes(page, artifacts_dir, "staff-confirm-revoke")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Cancel")).to_be_focused()  # the safe choice comes first
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Portal Access")).to_be_visible()
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_a_locked_patient_gets_one_next_step_with_its_reason(page, live_server, cast, artifacts_dir):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    for _ in range(3):
        with pytest.raises(Refusal):
            acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987654321"))
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    expect(page.get_by_test_id("next-step")).to_have_text(
        "The patient's identity check failed 3 times, so the link was locked. Check the details on file with the "
        "patient, then send a new invitation with Enable Patient Access.")
    expect(page.get_by_role("button", name="Enable Patient Access")).to_be_enabled()
    expect(page.get_by_role("button", name="Resend invitation")).to_have_count(0)
    check_both_sizes(page, artifacts_dir, "staff-portal-access-locked")


def test_every_chart_tab_shows_the_portal_status(page, live_server, cast, artifacts_dir):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:chart', args=[cast.pat.pk])}")
    for tab in ("Summary", "Demographics", "Appointments", "Portal Access"):
        page.get_by_role("navigation", name="Patient chart").get_by_role("link", name=tab, exact=True).click()
        expect(page.get_by_test_id("chart-status")).to_have_text(re.compile(r"Portal:\s+Pending"))
    check_both_sizes(page, artifacts_dir, "staff-chart-header-status")


def test_the_patient_list_finds_chart_digits_and_those_needing_attention(page, live_server, cast, artifacts_dir):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    outcomes.record_email_outcome(sent.invitation.pk, delivered=False)
    log_in_staff(page, live_server, "alice")
    page.get_by_label("Search patients").fill("100")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Jones, Pat")).to_be_visible()
    expect(page.get_by_role("link", name="Stone, Ned")).to_have_count(0)
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Portal status").select_option(label="Needs attention (locked, expired, email failed)")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row").filter(has_text="Jones, Pat")).to_contain_text("Email failed")
    expect(page.get_by_role("columnheader", name="Last invited")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-patient-list-attention")
    page.goto(f"{live_server.url}{reverse('clinic:patients')}?status=bogus")
    expect(page.get_by_text("There is no portal status “bogus”, so patients of every status are shown.")).to_be_visible()


def test_the_mailbox_shows_times_as_the_staff_pages_do(page, live_server, cast, settings, tmp_path, artifacts_dir):
    from clinic.tests.test_mailbox import catching, delivered, invitation_mail

    with catching(settings, tmp_path), time_machine.travel(datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.UTC),
                                                            tick=False):
        delivered(invitation_mail(cast))  # sent over SMTP to the server `make run` starts
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:mailbox')}")
    expect(page.get_by_role("cell", name="Wed 25 Nov 2026, 10:00 PM EST")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-mailbox")
