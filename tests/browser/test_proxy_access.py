"""Proxy access (issue 21) in Debian's Chromium against the live server, on a desktop and a 390 px
phone, every page checked with axe-core and for sideways scrolling: a parent accepts two children's
invitations on one account (the second by signing in to it), switches between them with the chosen
name on every page; then an adult patient grants a caregiver access from My account (the one-time code
on screen, the link by email to a real SMTP server), the caregiver accepts, and the patient revokes it:
the caregiver's next page no longer shows the patient."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.tests.helpers import connect
from access.tests.proxies import invite_guardian
from clinic.models import Appointment, Patient
from conftest import run_worker
from tests.browser.helpers import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
PASSWORD = "jordans-own-portal-passphrase"
PAT_PASSWORD = "a-long-enough-password"  # access.tests.helpers.connect's
LINK = re.compile(r"https://portal\.example\.test(/portal/proxy/[A-Za-z0-9_-]{43}/)")


def fits(page, artifacts_dir, name: str) -> None:
    check_page(page, artifacts_dir, name)
    width, viewport = page.evaluate("document.documentElement.scrollWidth"), page.viewport_size["width"]
    assert width <= viewport, f"{name} scrolls sideways: {width} px wide"


def child(cast, first: str, born: datetime.date, reason: str) -> Patient:
    patient = Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number=f"A-{first}",
                                     first_name=first, last_name="Rivera", date_of_birth=born)
    starts_at = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    Appointment.objects.create(practice=cast.practice, patient=patient, doctor=cast.dora, reason=reason,
                               starts_at=starts_at, ends_at=starts_at + datetime.timedelta(minutes=30))
    return patient


def answer_as_guardian(page, live_server, token: str, child_name: str, born: str) -> None:
    page.goto(f"{live_server.url}{reverse('portal:proxy-landing', args=[token])}")
    expect(page).to_have_url(f"{live_server.url}{reverse('portal:proxy-accept')}")  # no token in the address
    expect(page.get_by_test_id("whose-record")).to_contain_text(
        f"access to {child_name}'s portal as parent or guardian")
    page.get_by_label(f"{child_name}'s date of birth").fill(born)
    page.get_by_label("Your mobile phone number").fill("(555) 555-0199")
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["desktop", "phone"])
def test_a_parent_with_two_children_on_one_account_switches_between_them(
        page, live_server, cast, artifacts_dir, viewport):
    page.set_viewport_size(viewport)
    size = viewport["width"]
    alex = child(cast, "Alex", datetime.date(2016, 4, 9), "Vaccines")
    mia = child(cast, "Mia", datetime.date(2014, 6, 1), "Sports physical")
    first, second = invite_guardian(alex, by=cast.alice), invite_guardian(mia, by=cast.alice, level="limited")

    answer_as_guardian(page, live_server, first.token, "Alex Rivera", "04/09/2016")
    expect(page.get_by_role("heading", level=1, name="Create your portal account")).to_be_visible()
    fits(page, artifacts_dir, f"proxy-create-account-{size}")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Enter the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account and continue").click()
    expect(page.get_by_test_id("acting-for")).to_contain_text("Acting for Alex Rivera")
    expect(page.get_by_text("Vaccines")).to_be_visible()
    fits(page, artifacts_dir, f"proxy-home-alex-{size}")

    # The second child's invitation, accepted by signing in to the same account.
    answer_as_guardian(page, live_server, second.token, "Mia Rivera", "06/01/2014")
    fits(page, artifacts_dir, f"proxy-identity-done-{size}")
    expect(page.get_by_role("heading", level=1, name="Sign in to continue")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in and continue").click()
    expect(page.get_by_test_id("acting-for")).to_contain_text("Acting for Mia Rivera")
    expect(page.get_by_text("Sports physical")).to_be_visible()
    expect(page.get_by_test_id("patient-details")).to_have_count(0)  # limited: appointments and contact only

    people = page.get_by_role("region", name="People you can open the portal for")
    people.get_by_role("button", name="Alex Rivera").click()
    expect(page.get_by_test_id("acting-for")).to_contain_text("Acting for Alex Rivera")
    expect(people.get_by_role("button", name="Alex Rivera")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_text("Sports physical")).to_have_count(0)
    fits(page, artifacts_dir, f"proxy-switched-{size}")
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_test_id("acting-for")).to_contain_text("Acting for Alex Rivera")  # on every page
    page.goto(f"{live_server.url}{reverse('portal:home')}")
    page.get_by_role("button", name="Mia Rivera").click()
    expect(page.get_by_test_id("acting-for")).to_contain_text("Acting for Mia Rivera")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["desktop", "phone"])
def test_a_patient_grants_a_caregiver_and_revokes_it(
        page, browser, live_server, cast, smtp_server, artifacts_dir, viewport):
    size = viewport["width"]
    connect(cast)  # Pat Jones, 46, connected, password PAT_PASSWORD
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}{reverse('portal:login')}")
    page.get_by_label("Email").fill("pat@example.test")
    page.get_by_label("Password").fill(PAT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="My account").click()
    invite = page.get_by_role("region", name="Invite a caregiver")
    invite.get_by_label("Their first name").fill("Robin")
    invite.get_by_label("Their last name").fill("Jones")
    invite.get_by_label("Their email address").fill("robin@example.test")
    invite.get_by_label("They are your").select_option("spouse")
    invite.get_by_label("Limited: your appointments and how to contact the practice").check()
    fits(page, artifacts_dir, f"caregiver-invite-{size}")
    invite.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("heading", level=1, name="Give this code to your caregiver")).to_be_visible()
    code = page.get_by_test_id("caregiver-code").inner_text()
    fits(page, artifacts_dir, f"caregiver-code-{size}")

    run_worker()
    (message,) = [m for m in smtp_server.messages() if m["To"] == "robin@example.test"]
    text = message.get_body(("plain",)).get_content()
    assert code not in text
    caregiver = browser.new_context(viewport=viewport).new_page()
    caregiver.goto(live_server.url + LINK.search(text).group(1))
    expect(caregiver.get_by_test_id("whose-record")).to_contain_text("use Pat Jones's portal")
    caregiver.get_by_label("One-time code").fill(code.lower())
    caregiver.get_by_role("button", name="Continue").click()
    caregiver.get_by_label("Choose a password").fill(PASSWORD)
    caregiver.get_by_label("Enter the password again").fill(PASSWORD)
    caregiver.get_by_role("button", name="Create account and continue").click()
    expect(caregiver.get_by_test_id("acting-for")).to_contain_text("Acting for Pat Jones")
    fits(caregiver, artifacts_dir, f"caregiver-home-{size}")

    page.goto(f"{live_server.url}{reverse('portal:my-account')}")
    grants = page.get_by_role("region", name="People who can use your portal")
    expect(grants.get_by_test_id("grant")).to_contain_text("Robin Jones")
    fits(page, artifacts_dir, f"caregiver-listed-{size}")
    grants.get_by_role("button", name="Revoke Robin Jones").click()
    expect(page.get_by_role("status")).to_contain_text("Robin Jones can no longer use your portal.")
    expect(grants.get_by_test_id("grant")).to_have_count(0)

    caregiver.reload()
    expect(caregiver.get_by_text("Pat Jones")).to_have_count(0)
    expect(caregiver.get_by_test_id("acting-for")).to_have_count(0)
    fits(caregiver, artifacts_dir, f"caregiver-revoked-{size}")
