"""The staff journeys of issue 3, in Debian's Chromium against the live server: sign in through the
real form, invite from the chart and from the appointment window, revoke and resend, see the
acceptance in the bell, and be refused another practice's patient. Each key page is checked with
axe-core and saved as a full-page screenshot in var/test-artifacts/."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone
from playwright.sync_api import expect

from access.actions import acceptance
from access.errors import LinkNotUsable
from access.models import AccessEvent, Invitation
from clinic.models import Appointment, Patient
from conftest import run_worker
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"/portal/i/([A-Za-z0-9_-]{43})/")


# --- helpers ----------------------------------------------------------------------------------

def open_portal_access(page, live_server, patient) -> None:
    page.goto(f"{live_server.url}{reverse('clinic:patients')}")
    page.get_by_label("Search patients").fill(patient.chart_number)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"{patient.last_name}, {patient.first_name}").click()
    page.get_by_role("navigation", name="Patient chart").get_by_role("link", name="Portal Access").click()
    expect(page.get_by_role("heading", level=1, name="Portal Access")).to_be_visible()


def status(page):
    return page.get_by_test_id("portal-status")


def history(page):
    return page.get_by_test_id("history")


def local(moment: datetime.datetime, practice) -> str:
    return dateformat.format(timezone.localtime(moment, practice.tzinfo), "D j M Y, g:i A T")


def tokens_received(smtp_server) -> list[str]:
    return [LINK.search(m.get_body(("plain",)).get_content()).group(1) for m in smtp_server.messages()]


def tab_to(page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text is `name` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"could not reach {name!r} with the Tab key")


# --- the journeys -----------------------------------------------------------------------------

def test_it_invites_an_eligible_patient_from_the_chart(page, live_server, cast, smtp_server, artifacts_dir):
    """Journey 1."""
    log_in_staff(page, live_server, "alice")
    check_page(page, artifacts_dir, "staff-patient-list")
    page.get_by_role("link", name="Jones, Pat").click()
    expect(page.get_by_role("heading", level=1, name="Pat Jones")).to_be_visible()
    check_page(page, artifacts_dir, "staff-chart")
    page.get_by_role("link", name="Portal Access", exact=True).click()
    expect(status(page)).to_contain_text("Not invited")
    check_page(page, artifacts_dir, "staff-portal-access-not-invited")

    page.get_by_role("button", name="Enable Patient Access").click()

    invitation = Invitation.objects.get()
    expires = local(invitation.expires_at, cast.practice)
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to pat@example.test. It expires {expires}.")
    expect(status(page)).to_contain_text("Pending")
    expect(status(page)).to_contain_text(f"The invitation expires {expires}.")
    expect(history(page)).to_contain_text("Invitation sent")
    expect(history(page)).to_contain_text("Adams")
    expect(history(page)).to_contain_text("Patient chart")
    check_page(page, artifacts_dir, "staff-portal-access-pending")

    run_worker()
    [received] = smtp_server.messages()
    assert received["To"] == "pat@example.test"
    assert tokens_received(smtp_server)
    page.reload()
    expect(history(page).locator("tbody tr").first).to_contain_text("Email delivered")


def test_it_lists_what_is_missing_until_the_data_is_added(page, live_server, cast, artifacts_dir):
    """Journey 2."""
    log_in_staff(page, live_server, "alice")
    open_portal_access(page, live_server, cast.ned)
    expect(page.get_by_role("heading", name="This patient cannot use the portal yet")).to_be_visible()
    expect(page.get_by_role("link", name="Add an email address")).to_be_visible()
    expect(page.get_by_role("link", name="Add a social security number, or a date of birth and a phone number")).to_be_visible()
    enable = page.get_by_role("button", name="Enable Patient Access")
    expect(enable).to_be_disabled()
    expect(page.get_by_text("Not eligible yet: add the missing details listed below.")).to_be_visible()
    check_page(page, artifacts_dir, "staff-portal-access-not-eligible")

    page.get_by_role("link", name="Add an email address").click()
    expect(page.get_by_role("heading", level=1, name="Demographics")).to_be_visible()
    page.get_by_label("Email").fill("not an email")
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save demographics").click()
    expect(page.get_by_text("Enter an email address like name@example.com.")).to_be_visible()
    expect(page.get_by_text("This phone number has the wrong number of digits.")).to_be_visible()
    check_page(page, artifacts_dir, "staff-demographics-errors")
    assert Patient.objects.get(pk=cast.ned.pk).email == ""

    page.get_by_label("Email").fill("ned@example.test")
    page.get_by_label("Date of birth").fill("1975-03-04")
    page.get_by_label("Phone").fill("(555) 555-0199")
    page.get_by_role("button", name="Save demographics").click()
    expect(page.get_by_role("status")).to_contain_text("Saved Ned Stone's details.")

    page.get_by_role("navigation", name="Patient chart").get_by_role("link", name="Portal Access").click()
    expect(page.get_by_role("heading", name="This patient cannot use the portal yet")).to_have_count(0)
    expect(enable).to_be_enabled()
    enable.click()
    expect(status(page)).to_contain_text("Pending")
    assert Invitation.objects.get().patient_id == cast.ned.pk


def test_it_invites_from_the_appointment_window(page, live_server, cast, artifacts_dir):
    """Journey 3: without leaving the calendar."""
    nia = Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number="A-102", first_name="Nia",
                                 last_name="Park", ssn="345678901")
    today = timezone.localdate(timezone=cast.practice.tzinfo)
    start = datetime.datetime.combine(today, datetime.time(11, 30), tzinfo=cast.practice.tzinfo)
    Appointment.objects.create(practice=cast.practice, patient=nia, doctor=cast.dora, starts_at=start,
                               ends_at=start + datetime.timedelta(minutes=30), reason="Flu shot")
    log_in_staff(page, live_server, "alice")
    page.get_by_role("link", name="Calendar").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Calendar")
    check_page(page, artifacts_dir, "staff-calendar-day")
    calendar_url = page.url

    page.get_by_role("link", name=re.compile("Nia Park")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("window-status")).to_contain_text("Not eligible")
    expect(dialog).to_contain_text("***-**-8901")
    send = dialog.get_by_role("button", name="Send portal invitation")
    expect(send).to_be_disabled()
    expect(dialog).to_contain_text("Cannot invite yet: Add an email address.")
    check_page(page, artifacts_dir, "staff-appointment-window")

    dialog.get_by_label("Email").fill("nia@example.test")
    dialog.get_by_role("button", name="Save details").click()
    expect(dialog).to_contain_text("Saved Nia Park's details.")
    expect(dialog.get_by_test_id("window-status")).to_contain_text("Not invited")
    expect(send).to_be_enabled()
    send.click()
    expect(dialog).to_contain_text("Invitation sent to nia@example.test.")
    expect(dialog.get_by_test_id("window-status")).to_contain_text("Pending")
    check_page(page, artifacts_dir, "staff-appointment-window-sent")
    assert page.url == calendar_url
    assert Invitation.objects.get(patient=nia).channel == "appointment"

    dialog.get_by_role("button", name="Close the appointment window").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".appointment").filter(has_text="Nia Park")).to_contain_text("Pending")

    page.get_by_label("View").select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("week of")
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet
    check_page(page, artifacts_dir, "staff-calendar-week-tablet")


def test_it_revokes_then_resends_with_a_new_link(page, live_server, cast, smtp_server, artifacts_dir):
    """Journey 4."""
    log_in_staff(page, live_server, "alice")
    open_portal_access(page, live_server, cast.pat)
    page.get_by_role("button", name="Enable Patient Access").click()
    expect(status(page)).to_contain_text("Pending")
    run_worker()  # the first link is emailed before it is revoked (a revoked invitation's queued mail is not sent)
    page.get_by_role("button", name="Revoke Invite").click()
    expect(page.get_by_role("heading", level=1, name="Revoke Pat Jones's invitation?")).to_be_visible()
    page.get_by_role("button", name="Revoke Invite").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation revoked: Pat Jones's invitation link no longer works.")
    expect(status(page)).to_contain_text("Revoked")
    page.get_by_role("button", name="Enable Patient Access").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to pat@example.test.")
    expect(status(page)).to_contain_text("Pending")
    rows = history(page).locator("tbody tr").filter(has_text=re.compile("Invitation (sent|revoked)"))
    expect(rows.nth(0)).to_contain_text("Invitation sent")
    expect(rows.nth(1)).to_contain_text("Invitation revoked")
    expect(rows.nth(2)).to_contain_text("Invitation sent")
    check_page(page, artifacts_dir, "staff-portal-access-resent")

    run_worker()
    old, new = tokens_received(smtp_server)
    with pytest.raises(LinkNotUsable) as refused:
        acceptance.invitation_for_token(old)
    assert refused.value.reason == "revoked"
    assert acceptance.invitation_for_token(new).status == Invitation.Status.PENDING


def test_it_notifies_when_the_patient_accepts(page, live_server, cast, smtp_server, artifacts_dir):
    """Journey 5."""
    log_in_staff(page, live_server, "alice")
    bell = page.get_by_test_id("bell")
    expect(bell).to_have_attribute("aria-label", "Notifications, 0 unread")
    open_portal_access(page, live_server, cast.pat)
    page.get_by_role("button", name="Enable Patient Access").click()
    expect(status(page)).to_contain_text("Pending")
    run_worker()
    [token] = tokens_received(smtp_server)
    proof = acceptance.verify_identity(token, acceptance.IdentityAnswers(ssn="123-45-6789")).proof
    acceptance.accept_invitation(token, proof=proof, password="a-long-patient-password")

    page.reload()
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread")
    expect(bell).to_contain_text("1")
    expect(status(page)).to_contain_text("Connected")
    expect(history(page).locator("tbody tr").filter(has_text="Invitation accepted, access granted")).to_have_count(1)
    expect(page.get_by_role("button", name="Revoke Access")).to_be_visible()

    bell.click()
    expect(page.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    expect(page.get_by_test_id("notifications")).to_contain_text("Pat Jones accepted the portal invitation.")
    check_page(page, artifacts_dir, "staff-notifications")
    page.get_by_role("button", name="Mark as read: Pat Jones accepted the portal invitation.").click()
    expect(bell).to_have_attribute("aria-label", "Notifications, 0 unread")
    page.get_by_role("link", name="Open Pat Jones's portal access").click()
    expect(page.get_by_role("heading", level=1, name="Portal Access")).to_be_visible()


def test_it_refuses_another_practices_patient(page, live_server, cast):
    """Journey 6."""
    log_in_staff(page, live_server, "bob")
    response = page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    assert response.status == 404
    expect(page.get_by_text("Pat Jones")).to_have_count(0)
    signed_in, event = AccessEvent.objects.order_by("id")
    assert (signed_in.action, signed_in.practice) == (AccessEvent.Action.STAFF_SIGNED_IN, cast.other_practice)
    assert (event.action, event.practice, event.actor) == (AccessEvent.Action.FOREIGN_ID, cast.other_practice, cast.bob.user)
    response = page.goto(f"{live_server.url}{reverse('clinic:chart', args=[cast.pat.pk])}")
    assert response.status == 404


def test_it_works_the_portal_access_page_by_keyboard(page, live_server, cast, artifacts_dir):
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    tab_to(page, "Enable Patient Access")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    expect(status(page)).to_contain_text("Pending")
    tab_to(page, "Revoke Invite")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Revoke Pat Jones's invitation?")).to_be_focused()
    tab_to(page, "Revoke Invite")
    page.keyboard.press("Enter")
    expect(status(page)).to_contain_text("Revoked")
    tab_to(page, "Enable Patient Access")
    page.keyboard.press("Enter")
    expect(status(page)).to_contain_text("Pending")
    assert Invitation.objects.filter(status="pending").count() == 1


def test_the_login_page_is_accessible(page, live_server, cast, artifacts_dir):
    page.goto(f"{live_server.url}{reverse('login')}")
    check_page(page, artifacts_dir, "staff-login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()


def test_it_opens_and_closes_the_appointment_window_by_keyboard(page, live_server, cast):
    today = timezone.localdate(timezone=cast.practice.tzinfo)
    start = datetime.datetime.combine(today, datetime.time(9, 0), tzinfo=cast.practice.tzinfo)
    Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=start,
                               ends_at=start + datetime.timedelta(minutes=20), reason="Follow-up")
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:calendar')}")
    link = page.get_by_role("link", name=re.compile("Pat Jones"))
    link.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", level=2)).to_be_focused()
    expect(dialog).to_contain_text("pat@example.test")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(link).to_be_focused()
