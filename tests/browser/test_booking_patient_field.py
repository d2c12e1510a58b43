"""Booking from the calendar, finding the patient by what staff know (name, date of birth, chart number,
phone), in Debian's Chromium with axe-core on a desktop and a 390x844 phone: with script the field
offers matches as staff type (a combobox: arrow keys, Enter, announced in a status line) and fills
the chart number; without script the same field is a plain search step whose results choose the patient."""

import datetime
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import Appointment
from tests.browser.helpers import log_in_staff
from tests.browser.test_staff_invitation_status_and_controls import check_both_sizes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY = datetime.date(2030, 3, 4)


def book_rest_of_form(page) -> None:
    page.get_by_label("Doctor").select_option(label="Dr. Dorsey")
    page.get_by_label("Start time").fill("10:00")
    page.get_by_role("button", name="Book appointment").click()


def test_with_script_the_field_offers_patients_as_staff_type(page, live_server, cast, artifacts_dir):
    log_in_staff(page, live_server, "alice")
    page.goto(f"{live_server.url}{reverse('clinic:book-appointment')}?date={DAY}")
    field = page.get_by_role("combobox", name="Find the patient")
    field.press_sequentially("1980-05", delay=20)  # not yet a date: nothing found is said
    expect(page.get_by_role("status").filter(has_text="No patient matches.")).to_be_visible()
    field.press_sequentially("-17", delay=20)
    listbox = page.get_by_role("listbox", name="Matching patients")
    expect(listbox.get_by_role("option")).to_have_count(1)
    expect(field).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("status").filter(has_text="1 patient found")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-book-patient-field")
    field.press("ArrowDown")
    option = listbox.get_by_role("option", name=re.compile("Jones, Pat"))
    expect(option).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", re.compile("patient-choice-"))
    field.press("Enter")
    expect(page.get_by_label("Patient's chart number")).to_have_value("A-100")
    expect(page.get_by_role("status").filter(has_text="Chosen: Jones, Pat")).to_be_visible()
    expect(listbox).to_be_hidden()
    field.fill("")
    field.press_sequentially("Sto", delay=20)  # by name; Escape closes, a click chooses
    expect(listbox.get_by_role("option")).to_have_count(1)
    field.press("Escape")
    expect(listbox).to_be_hidden()
    field.press_sequentially("n", delay=20)
    listbox.get_by_role("option", name=re.compile("Stone, Ned")).click()
    expect(page.get_by_label("Patient's chart number")).to_have_value("A-101")
    book_rest_of_form(page)
    expect(page.get_by_text(re.compile("Booked Ned Stone with Dr. Dorsey"))).to_be_visible()
    assert Appointment.objects.get().patient == cast.ned
    # The search step's results (the page without script shows the same), checked with axe.
    page.goto(f"{live_server.url}{reverse('clinic:book-appointment')}?q=Jones&date={DAY}")
    expect(page.get_by_role("region", name=re.compile("Patients matching"))).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-book-search-step")


def test_without_script_the_field_is_a_search_step(browser, live_server, cast):
    """(axe needs script: the same page is checked with it in the test above.)"""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in_staff(page, live_server, "alice")
        page.goto(f"{live_server.url}{reverse('clinic:book-appointment')}?date={DAY}")
        page.get_by_role("searchbox", name="Find the patient").fill("(555) 555-0123")
        page.get_by_role("button", name="Find").click()
        found = page.get_by_role("region", name=re.compile("Patients matching"))
        found.get_by_role("link", name=re.compile("Book for Jones, Pat")).click()
        expect(page.get_by_role("heading", level=1, name=re.compile("Pat Jones"))).to_be_visible()
        expect(page.get_by_label("Date")).to_have_value(DAY.isoformat())
        book_rest_of_form(page)
        expect(page.get_by_text(re.compile("Booked Pat Jones with Dr. Dorsey"))).to_be_visible()
        assert Appointment.objects.get().patient == cast.pat
    finally:
        context.close()
