"""The patient's journey of issue 4, in Debian's Chromium against the live server: staff enable access
from the chart, the worker mails the invitation to a real SMTP server, the patient opens the link from
the received email, fails the identity check once, passes it, creates an account and sees the practice
and an upcoming appointment; then staff revoke and the patient's next page load shows nothing of it.
Each patient page is checked with axe-core and saved as a full-page screenshot in var/test-artifacts/."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.actions import sending
from access.models import Connection, Invitation
from clinic.models import Appointment
from conftest import run_worker
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATIENT_PASSWORD = "my-own-portal-passphrase-2026"
LINK = re.compile(r"https://portal\.example\.test(/portal/i/[A-Za-z0-9_-]{43}/)")


def staff_enable_access(staff, live_server, patient) -> None:
    log_in_staff(staff, live_server, "alice")
    staff.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[patient.pk])}")
    staff.get_by_role("button", name="Enable Patient Access").click()
    expect(staff.get_by_test_id("portal-status")).to_contain_text("Pending")


def link_from_email(smtp_server, live_server) -> str:
    (message,) = smtp_server.messages()
    assert message["To"] == "pat@example.test"
    path = LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)
    return live_server.url + path


def test_it_takes_a_patient_from_the_email_to_the_portal_and_out_again(
    page, browser, live_server, cast, smtp_server, artifacts_dir,
):
    starts_at = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=starts_at,
                               ends_at=starts_at + datetime.timedelta(minutes=30), reason="Annual check-up")
    staff = browser.new_context().new_page()
    staff_enable_access(staff, live_server, cast.pat)
    run_worker()
    link = link_from_email(smtp_server, live_server)

    # The link leads to a page whose address carries no token.
    page.goto(link)
    expect(page).to_have_url(f"{live_server.url}{reverse('portal:accept')}")
    expect(page.get_by_role("heading", level=1, name="Confirm your identity")).to_be_visible()
    check_page(page, artifacts_dir, "patient-identity")

    page.get_by_label("Social security number").fill("123-45-6780")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not confirm your identity")
    check_page(page, artifacts_dir, "patient-identity-failed")

    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_label("Phone number").fill("(555) 555-0123")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1, name="Create your portal account")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("pat@example.test")
    check_page(page, artifacts_dir, "patient-create-account")

    page.get_by_label("Choose a password").fill(PATIENT_PASSWORD)
    page.get_by_label("Enter the password again").fill(PATIENT_PASSWORD)
    page.get_by_role("button", name="Create account and connect").click()
    expect(page).to_have_url(f"{live_server.url}{reverse('portal:home')}")
    expect(page.get_by_role("status")).to_contain_text("You are now connected to Maple Street Clinic.")
    practice = page.get_by_role("region", name="Maple Street Clinic")
    expect(practice).to_contain_text("Annual check-up")
    expect(practice).to_contain_text("Dr. Dorsey")
    expect(practice).to_contain_text("***-**-6789")
    check_page(page, artifacts_dir, "patient-home")
    assert Connection.objects.filter(patient=cast.pat, ended_at__isnull=True).count() == 1
    assert Invitation.objects.get().status == Invitation.Status.ACCEPTED

    page.get_by_role("link", name="Disconnect from Maple Street Clinic").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect from Maple Street Clinic?")
    check_page(page, artifacts_dir, "patient-disconnect")
    page.get_by_role("link", name="Cancel").click()

    # The practice revokes access (its button and confirmation are walked through in the staff journeys);
    # the patient's next page load shows nothing of it.
    sending.revoke_invitation(cast.pat, by=cast.alice)
    page.reload()
    expect(page.get_by_text("You are not connected to any practice.")).to_be_visible()
    expect(page.get_by_text("Maple Street Clinic")).to_have_count(0)
    expect(page.get_by_text("Annual check-up")).to_have_count(0)

    # The used link explains itself; sign-out leads to the portal's sign-in page.
    page.goto(link)
    expect(page).to_have_url(f"{live_server.url}{reverse('portal:link-problem')}")
    expect(page.get_by_role("heading", level=1)).to_have_text("This invitation has already been used")
    check_page(page, artifacts_dir, "patient-link-used")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in to your patient portal")).to_be_visible()
    check_page(page, artifacts_dir, "patient-login")
    page.get_by_label("Email").fill("pat@example.test")
    page.get_by_label("Password").fill(PATIENT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("You are not connected to any practice.")).to_be_visible()
    check_page(page, artifacts_dir, "patient-home-empty")
