"""The staff patient list on a 390x844 phone, in Debian's Chromium with axe-core: each patient is one
compact row (name, portal status, next step), nothing scrolls sideways, and the desktop keeps its table."""

import re

import pytest
from playwright.sync_api import expect

from access.actions import sending
from access.models import Channel
from tests.browser.helpers import log_in_staff
from tests.browser.test_staff_invitation_status_and_controls import PHONE, check_both_sizes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_on_a_phone_each_patient_is_a_compact_row(page, live_server, cast, artifacts_dir):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    log_in_staff(page, live_server, "alice")  # lands on the patient list
    table = page.get_by_role("table", name=re.compile("Patients"))
    pat = table.locator("tbody tr").filter(has_text="Jones, Pat")
    ned = table.locator("tbody tr").filter(has_text="Stone, Ned")
    expect(pat.get_by_text("A-100")).to_be_visible()  # the desktop's table, every column
    expect(pat.get_by_test_id("next-step")).to_be_hidden()
    check_both_sizes(page, artifacts_dir, "staff-patient-list")
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        expect(pat.get_by_role("link", name="Jones, Pat")).to_be_visible()
        expect(pat.get_by_text("Pending")).to_be_visible()
        expect(pat.get_by_test_id("next-step")).to_have_text("Wait for the patient")
        expect(ned.get_by_test_id("next-step")).to_have_text("Add the missing details")
        for hidden in ("A-100", "pat@example.test", "(555) 555-0123"):
            expect(pat.get_by_text(hidden, exact=True)).to_be_hidden()
        box = pat.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["height"] < 120, f"a patient takes {box['height']}px: not a compact row"
        wrap = page.locator(".table-wrap")
        assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), "the list scrolls sideways in its box"
    finally:
        page.set_viewport_size(desktop)
