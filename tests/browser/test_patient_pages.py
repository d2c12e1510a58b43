"""Every patient page and email on a 390x844 phone, in Debian's Chromium against the live server:
nothing scrolls sideways and axe-core finds no serious issue. Along the way: Back after accepting
says "connected" and never asks to resubmit a form, identity answers typed in other formats, a
password reset from the sign-in page through the emailed link, dead links that name the practice,
and a shared browser that offers to sign out first."""

import datetime
import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.actions import sending
from access.models import Channel, Invitation
from clinic.models import Appointment, Patient
from conftest import run_worker
from tests.browser.helpers import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
PASSWORD = "my-own-portal-passphrase-2026"
NEW_PASSWORD = "another-portal-passphrase-2027"
# Long enough to widen a page that does not wrap it (it is at most 150 characters).
LONG_EMAIL = "patricia.alexandra.jones-montgomery.household@family-of-the-patient.example.test"


def fits_phone(page, artifacts_dir, name: str) -> None:
    check_page(page, artifacts_dir, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways: {width} px wide"


def received(smtp_server, subject_start: str):
    (message,) = [m for m in smtp_server.messages() if m["Subject"].startswith(subject_start)]
    return message


def email_fits_phone(browser, message, artifacts_dir, name: str) -> None:
    """The HTML part as a phone's mail app would lay it out: 390 px wide, no sideways scroll."""
    reader = browser.new_context(viewport=PHONE).new_page()
    reader.set_content(message.get_body(("html",)).get_content())
    reader.screenshot(path=artifacts_dir / f"{name}.png", full_page=True)
    width = reader.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways: {width} px wide"
    reader.context.close()


def link_in(message, pattern: str) -> str:
    return re.search(pattern, message.get_body(("plain",)).get_content()).group(1)


@pytest.fixture
def long_named(cast):
    Patient.objects.filter(pk=cast.pat.pk).update(email=LONG_EMAIL)
    cast.pat.refresh_from_db()
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    return cast.pat


def test_a_patient_accepts_on_a_phone_and_back_never_resubmits(page, browser, live_server, cast, long_named,
                                                               smtp_server, artifacts_dir):
    starts_at = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=starts_at,
                               ends_at=starts_at + datetime.timedelta(minutes=30), reason="Annual check-up")
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    run_worker()
    invitation = received(smtp_server, "Maple Street Clinic invites you")
    email_fits_phone(browser, invitation, artifacts_dir, "phone-email-invitation")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.set_viewport_size(PHONE)

    page.goto(live_server.url + link_in(invitation, r"https://portal\.example\.test(/portal/i/\S+/)"))
    expect(page.get_by_role("heading", level=1, name="Confirm your identity")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-identity")

    # Typed as people type them; the phone is one digit off, so this counts as one wrong answer.
    page.get_by_label("Date of birth").fill("05/17/1980")
    page.get_by_label("Phone number").fill("555.555.0124")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("You have 2 more tries before this link stops working.")
    expect(page.get_by_label("Date of birth")).to_have_value("05/17/1980")  # kept
    fits_phone(page, artifacts_dir, "phone-identity-failed")
    page.get_by_label("Phone number").fill("+1 555 555 0123")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1, name="Create your portal account")).to_be_visible()
    expect(page.get_by_text("Your password must contain at least 12 characters.")).to_be_visible()  # before typing
    page.get_by_label("Choose a password").fill("short-pw-1")
    page.get_by_label("Enter the password again").fill("short-pw-1")
    page.get_by_role("button", name="Create account and connect").click()
    expect(page.locator("#id_password1_error")).to_contain_text("This password is too short.")
    fits_phone(page, artifacts_dir, "phone-create-account-error")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Enter the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account and connect").click()

    expect(page).to_have_url(f"{live_server.url}{reverse('portal:home')}")
    practice = page.get_by_role("region", name="Maple Street Clinic")
    expect(practice).to_contain_text(" Eastern")
    expect(practice).to_contain_text(LONG_EMAIL)
    fits_phone(page, artifacts_dir, "phone-home")

    # Back, and Back again: told they are connected, and no form is posted again.
    posted = len(posts)
    for _ in range(2):
        page.go_back()
        expect(page.get_by_role("heading", level=1, name="You are connected")).to_be_visible()
        expect(page.get_by_text("Maple Street Clinic, since")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-connected")
    assert len(posts) == posted
    page.get_by_role("link", name="Go to your patient portal").click()
    expect(page.get_by_role("heading", level=1, name="My practices")).to_be_visible()

    run_worker()
    email_fits_phone(browser, received(smtp_server, "You are now connected"), artifacts_dir, "phone-email-connected")

    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", level=1, name="My account")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-my-account")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Enter the new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password has been changed.")
    page.goto(f"{live_server.url}{reverse('portal:disconnect', args=[cast.pat.connections.get().pk])}")
    fits_phone(page, artifacts_dir, "phone-disconnect")


def test_a_patient_resets_a_forgotten_password_on_a_phone(page, browser, live_server, cast, smtp_server,
                                                          artifacts_dir):
    User.objects.create_user(username="pat@example.test", email="pat@example.test", password=PASSWORD)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{reverse('portal:login')}")
    fits_phone(page, artifacts_dir, "phone-login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1, name="Forgot your password?")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-password-reset")
    page.get_by_label("Email").fill("pat@example.test")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", level=1, name="Check your email")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-password-reset-sent")

    run_worker()
    mail = received(smtp_server, "Choose a new password")
    email_fits_phone(browser, mail, artifacts_dir, "phone-email-password-reset")
    page.goto(live_server.url + link_in(mail, r"https://portal\.example\.test(/portal/password/reset/\S+/)"))
    expect(page).to_have_url(re.compile(r"/set-password/$"))  # the token is gone from the address
    expect(page.get_by_text("Your password must contain at least 12 characters.")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-password-reset-confirm")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Enter the new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_role("heading", level=1, name="Your password has been changed")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-password-reset-complete")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("pat@example.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="My practices")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-home-empty")


def test_dead_links_shared_browsers_and_the_revoke_email_on_a_phone(page, browser, live_server, cast, long_named,
                                                                    smtp_server, artifacts_dir):
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}{reverse('portal:accept')}")
    expect(page.get_by_role("heading", level=1, name="No invitation in progress")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-link-missing")

    expired = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    Invitation.objects.filter(pk=expired.invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    page.goto(f"{live_server.url}{reverse('portal:landing', args=[expired.token])}")
    expect(page.get_by_role("heading", level=1, name="This invitation has expired")).to_be_visible()
    expect(page.get_by_role("link", name="(555) 555-0100")).to_have_attribute("href", "tel:+15555550100")
    fits_phone(page, artifacts_dir, "phone-link-expired")

    # Someone else is signed in on this browser when Pat's link is opened.
    User.objects.create_user(username="sam@example.test", email="sam@example.test", password=PASSWORD)
    page.goto(f"{live_server.url}{reverse('portal:login')}")
    page.get_by_label("Email").fill("sam@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    fresh = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    page.goto(f"{live_server.url}{reverse('portal:landing', args=[fresh.token])}")
    expect(page.get_by_role("heading", level=1, name="Someone else is signed in")).to_be_visible()
    expect(page.get_by_text("signed in to Portico as sam@example.test")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-signed-in-as-someone-else")
    page.get_by_role("button", name="Sign out sam@example.test and continue").click()
    expect(page.get_by_role("heading", level=1, name="Confirm your identity")).to_be_visible()

    # Pat connects and is then revoked: the email says so and how to reach the practice.
    page.get_by_label("Social security number").fill("123-45-6789")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Enter the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account and connect").click()
    expect(page.get_by_role("heading", level=1, name="My practices")).to_be_visible()
    sending.revoke_invitation(cast.pat, by=cast.alice)
    run_worker()
    revoked = received(smtp_server, "Maple Street Clinic ended your patient portal access")
    assert "(555) 555-0100" in revoked.get_body(("plain",)).get_content()
    email_fits_phone(browser, revoked, artifacts_dir, "phone-email-access-revoked")
    page.reload()
    expect(page.get_by_text("You are not connected to any practice.")).to_be_visible()
    page.goto(f"{live_server.url}{reverse('portal:landing', args=[fresh.token])}")
    expect(page.get_by_role("heading", level=1, name="This invitation has already been used")).to_be_visible()
    fits_phone(page, artifacts_dir, "phone-link-used")
