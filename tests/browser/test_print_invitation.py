"""The front desk prints an invitation and the patient activates it with the code, in Chromium, on a
desktop and on a 390 px phone: the letter (axe-clean, fitting one printed page; a reload shows no code
and issues none), then /activate/, the identity check, an email given and confirmed with the code
mailed over SMTP, and the account."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from conftest import run_worker
from tests.browser.helpers import check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PASSWORD = "a-long-portal-passphrase-42"


def check(page, artifacts_dir, name: str) -> None:
    check_page(page, artifacts_dir, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name} scrolls sideways: {width} px wide"


def printed_pages(page, paper: str) -> int:
    """How many sheets the page prints on (print media: Chromium's own PDF of it)."""
    return len(re.findall(rb"/Type\s*/Page[^s]", page.pdf(format=paper)))


@pytest.mark.parametrize("size", SIZES)
def test_staff_print_and_the_patient_activates_with_the_code(page, live_server, cast, smtp_server, artifacts_dir,
                                                              size):
    cast.pat.email = ""  # no email on file: printing needs none
    cast.pat.save()
    page.set_viewport_size(SIZES[size])
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    expect(page.locator("#print-help")).to_contain_text("no email is needed")
    check(page, artifacts_dir, f"print-offered-{size}")
    page.get_by_role("button", name="Print invitation").click()

    expect(page.get_by_role("heading", level=1, name="Maple Street Clinic")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of your invitation link")).to_be_visible()
    code = page.get_by_test_id("activation-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
    check(page, artifacts_dir, f"print-letter-{size}")
    if size == "desktop":  # what reaches paper does not depend on the window
        assert printed_pages(page, "Letter") == 1 and printed_pages(page, "A4") == 1
    page.reload()  # issues no new code: the one printed is the one the patient types below
    expect(page.get_by_text("cannot be shown again")).to_be_visible()
    expect(page.get_by_role("button", name="Print again (new code)")).to_be_visible()
    check(page, artifacts_dir, f"print-letter-reloaded-{size}")

    patient = page.context.browser.new_context(viewport=SIZES[size]).new_page()
    patient.goto(f"{live_server.url}/activate/")
    expect(patient.get_by_role("heading", level=1, name="Activate your portal invitation")).to_be_visible()
    check(patient, artifacts_dir, f"activate-{size}")
    patient.get_by_label("Activation code").fill(code.lower().replace("-", " "))
    patient.keyboard.press("Enter")

    expect(patient.get_by_role("heading", level=1, name="Confirm your identity")).to_be_visible()
    patient.get_by_label("Social security number").fill("123-45-6789")
    patient.get_by_role("button", name="Continue").click()

    expect(patient.get_by_role("heading", level=1, name="Add your email address")).to_be_visible()
    check(patient, artifacts_dir, f"activate-email-{size}")
    patient.get_by_role("textbox", name="Your email address").fill("pat.new@example.test")
    patient.get_by_role("button", name="Email me a code").click()
    expect(patient.get_by_role("heading", level=1, name="Check your email")).to_be_visible()
    check(patient, artifacts_dir, f"activate-email-code-{size}")

    run_worker()
    [mail] = [m for m in smtp_server.messages() if m["To"] == "pat.new@example.test"]
    emailed = re.search(r"^(\d{6})\s*$", mail.get_body(("plain",)).get_content(), re.M).group(1)
    patient.get_by_label("Code from the email").fill(emailed)
    patient.get_by_role("button", name="Confirm").click()

    expect(patient.get_by_role("heading", level=1, name="Create your portal account")).to_be_visible()
    expect(patient.get_by_label("Email")).to_have_value("pat.new@example.test")
    patient.get_by_label("Choose a password").fill(PASSWORD)
    patient.get_by_label("Enter the password again").fill(PASSWORD)
    patient.get_by_role("button", name="Create account and connect").click()
    expect(patient.get_by_text("You are now connected to Maple Street Clinic.")).to_be_visible()
    patient.context.close()

    page.goto(f"{live_server.url}{reverse('clinic:portal-access', args=[cast.pat.pk])}")
    expect(page.get_by_test_id("portal-status")).to_contain_text("Connected")
    expect(page.get_by_test_id("history")).to_contain_text("Invitation printed with an activation code")
