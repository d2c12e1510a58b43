"""Staff pages in Debian's Chromium: the practice Settings page, New patient, booking from the calendar
and the chart (an automatic invitation fires), closing an appointment in its window, and the
notifications with their link to Portal Access and the digest preference. Every page is checked with
axe-core on a desktop and on a 390x844 phone with no sideways scroll."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.actions import expiry, sending
from access.models import AccessEvent, Invitation
from clinic.models import Appointment, Patient, Practice, StaffMember
from tests.browser.helpers import STAFF_PASSWORD, check_page, log_in_staff
from tests.browser.test_staff_invitation_status_and_controls import check_both_sizes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager(cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password=STAFF_PASSWORD, last_name="Rivera")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


def test_an_admin_changes_the_settings(page, live_server, cast, manager, artifacts_dir):
    log_in_staff(page, live_server, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Settings"))).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-settings")
    page.get_by_label("When an appointment is booked").check()
    page.get_by_label("Reminder before expiry").select_option(label="3 days before it expires")
    page.get_by_label("Re-invite patients who did not accept").select_option(label="After 60 days")
    page.get_by_label("Minimum age for an invitation").fill("16")
    page.get_by_label("Practice phone").fill("555-0100")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Include the area code, like (555) 555-0123.")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-settings-error")
    page.get_by_label("Practice phone").fill("(555) 555-0100")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text(re.compile("Saved: Invite automatically: Off → When an appointment is booked"))).to_be_visible()
    practice = Practice.objects.get(pk=cast.practice.pk)
    assert (practice.auto_invite, practice.reminder_days_before, practice.reinvite_after_days, practice.minimum_age,
            practice.phone) == ("booked", 3, 60, 16, "+15555550100")
    assert AccessEvent.objects.filter(action="practice.settings_changed").count() == 5


def test_other_staff_have_no_settings(page, live_server, cast):
    log_in_staff(page, live_server, "alice")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")).to_have_count(0)
    assert page.goto(f"{live_server.url}{reverse('clinic:settings')}").status == 404


def test_staff_add_a_new_patient(page, live_server, cast, artifacts_dir):
    log_in_staff(page, live_server, "alice")
    page.get_by_role("link", name="New patient").click()
    check_both_sizes(page, artifacts_dir, "staff-new-patient")
    page.get_by_label("Chart number").fill("A-100")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@example.test")
    page.get_by_label("Phone").fill("555-0142")
    page.get_by_role("button", name="Add patient").click()
    expect(page.get_by_text("Chart number A-100 is already in use.")).to_be_visible()
    expect(page.get_by_text("Include the area code, like (555) 555-0123.")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-new-patient-errors")
    page.get_by_label("Chart number").fill("A-200")
    page.get_by_label("Phone").fill("(555) 555-0142")
    page.get_by_role("button", name="Add patient").click()
    expect(page.get_by_role("heading", level=1, name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_text("Added Ada Lovelace (chart A-200).")).to_be_visible()
    assert Patient.objects.get(chart_number="A-200").phone == "+15555550142"


def test_booking_from_the_calendar_invites_automatically_and_the_window_closes_it(page, live_server, cast, artifacts_dir):
    Practice.objects.filter(pk=cast.practice.pk).update(auto_invite=Practice.AutoInvite.BOOKED)
    day = timezone.localdate(timezone=cast.practice.tzinfo)
    log_in_staff(page, live_server, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    page.get_by_role("link", name="Book appointment").click()
    check_both_sizes(page, artifacts_dir, "staff-book-appointment")
    page.get_by_label("Patient's chart number").fill("A-100")
    page.get_by_label("Doctor").select_option(label="Dr. Dorsey")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Reason").fill("Check-up")
    page.get_by_role("button", name="Book appointment").click()
    expect(page.get_by_text(re.compile("Booked Pat Jones with Dr. Dorsey"))).to_be_visible()
    appointment = page.locator(".appointment").filter(has_text="Pat Jones")
    expect(appointment).to_contain_text("Pending")  # invited automatically
    assert Invitation.objects.get().channel == "automatic"

    page.get_by_role("link", name="Book appointment").click()  # the same doctor and time again
    page.get_by_label("Patient's chart number").fill("A-101")
    page.get_by_label("Doctor").select_option(label="Dr. Dorsey")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Start time").fill("10:15")
    page.get_by_role("button", name="Book appointment").click()
    expect(page.get_by_text("Dr. Dorsey already has an appointment then (10:00 AM to 10:30 AM).")).to_be_visible()
    assert Appointment.objects.count() == 1

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    page.get_by_role("link", name=re.compile("Pat Jones")).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Mark completed").click()
    expect(dialog.get_by_test_id("appointment-status")).to_have_text("Completed")
    expect(dialog.get_by_role("button", name="Mark completed")).to_have_count(0)
    check_both_sizes(page, artifacts_dir, "staff-window-completed")
    assert Appointment.objects.get().status == "completed"


def test_booking_from_the_chart(page, live_server, cast):
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:chart', args=[cast.ned.pk])}")
    page.get_by_role("link", name="Book appointment").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ned Stone")
    expect(page.get_by_label("Patient's chart number")).to_have_count(0)
    page.get_by_label("Doctor").select_option(label="Dr. Dorsey")
    page.get_by_label("Start time").fill("14:30")
    page.get_by_label("Length").select_option(label="1 hour")
    page.get_by_role("button", name="Book appointment").click()
    expect(page.get_by_text(re.compile("Booked Ned Stone with Dr. Dorsey"))).to_be_visible()
    appointment = Appointment.objects.get()
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(hours=1)
    assert timezone.localtime(appointment.starts_at, cast.practice.tzinfo).time() == datetime.time(14, 30)


def test_the_notifications_name_the_patient_link_to_portal_access_and_offer_a_digest(page, live_server, cast,
                                                                                       artifacts_dir):
    sent_at = timezone.now() - datetime.timedelta(days=8)
    with time_machine.travel(sent_at, tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel="chart")
    expiry.expire_invitations()
    log_in_staff(page, live_server, "alice")
    expect(page.get_by_test_id("bell")).to_have_attribute("aria-label", "Notifications, 1 unread")
    page.get_by_test_id("bell").click()
    expect(page.get_by_test_id("notifications")).to_contain_text(
        "Pat Jones's portal invitation expired without being accepted.")
    check_both_sizes(page, artifacts_dir, "staff-notifications")
    page.get_by_label("Email me a daily digest of my notifications").check()
    page.get_by_role("button", name="Save email preference").click()
    expect(page.get_by_text("You will get a daily digest by email.")).to_be_visible()
    assert StaffMember.objects.get(pk=cast.alice.pk).daily_digest
    page.get_by_role("link", name="Open Pat Jones's portal access").click()
    expect(page.get_by_role("heading", level=1, name="Portal Access")).to_be_visible()
    check_page(page, artifacts_dir, "staff-portal-access-expired-from-bell")
