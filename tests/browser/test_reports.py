"""Reports and the worklist in Debian's Chromium, on a desktop and a 390x844 phone with axe-core: the
charts beside their tables, the period form, a CSV download, and inviting from the worklist."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.models import Invitation
from clinic import services
from clinic.models import Appointment, Patient, StaffMember
from tests.browser.helpers import STAFF_PASSWORD, log_in_staff
from tests.browser.test_staff_invitation_status_and_controls import check_both_sizes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager(cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password=STAFF_PASSWORD, last_name="Rivera")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


@pytest.fixture
def thursday():
    """The clock on the latest Thursday (so last Friday's visits close today), ticking: sessions work."""
    now = timezone.now()
    back = (now.weekday() - 3) % 7
    with time_machine.travel(now - datetime.timedelta(days=back), tick=True):
        yield


def visit(cast, patient, day: datetime.date):
    start = datetime.datetime.combine(day, datetime.time(10), tzinfo=cast.practice.tzinfo)
    return services.complete_appointment(appointment=Appointment.objects.create(
        practice=cast.practice, patient=patient, doctor=cast.dora, starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30)), by=None)


def test_an_admin_reads_the_report_and_invites_from_the_worklist(page, live_server, cast, manager, thursday,
                                                                 artifacts_dir):
    today = timezone.localdate(timezone=cast.practice.tzinfo)
    friday = today - datetime.timedelta(days=(today.weekday() - 4) % 7)
    quinn = Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number="A-300", first_name="Quinn",
                                   last_name="Lee", email="quinn@example.test", ssn="123456789")
    for patient in (cast.pat, cast.ned, quinn):
        visit(cast, patient, friday)
    log_in_staff(page, live_server, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Reports"))).to_be_visible()
    expect(page.get_by_role("img", name="The funnel as bars")).to_be_visible()
    expect(page.get_by_role("table", name=re.compile("The funnel"))).to_be_visible()
    expect(page.get_by_text("is the EHR's")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-reports")
    page.get_by_label("Period").select_option(label="This year")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(f"1 Jan {today.year}"))).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Electronic access within 4 business days (PI_PEA_1), per "
                                       "clinician” as CSV").click()
    assert download.value.suggested_filename.startswith("portico-measure-")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    page.emulate_media(media="screen")

    page.get_by_role("link", name="Worklist: visits due for portal access").click()
    expect(page.get_by_role("heading", level=1, name="Visits due for portal access")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-worklist")
    invite_in_view_without_swiping(page)
    page.get_by_role("button", name="Invite Pat Jones").click()
    expect(page.get_by_text("Invitation sent to Pat Jones.")).to_be_visible()
    page.get_by_role("button", name="Invite all eligible (1)").click()
    expect(page.get_by_text("Invited 1 patient.")).to_be_visible()
    check_both_sizes(page, artifacts_dir, "staff-worklist-after")
    assert set(Invitation.objects.values_list("patient__chart_number", "channel")) == {("A-100", "chart"),
                                                                                        ("A-300", "chart")}


def invite_in_view_without_swiping(page) -> None:
    """On a desktop the worklist is a table; on a 390 px phone each visit is a card, its Invite button
    inside the screen and nothing in the list scrolling sideways."""
    row = page.get_by_test_id("worklist").locator("tbody tr").first
    assert row.evaluate("r => getComputedStyle(r).display") == "table-row"
    desktop = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        assert row.evaluate("r => getComputedStyle(r).display") == "block"
        wrap = page.get_by_role("region", name=re.compile("Visits due for portal access"))
        assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), "the worklist scrolls sideways"
        for button in page.get_by_role("button", name=re.compile("^Invite ")).all():
            box = button.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        label = row.locator("td[data-label='Window closes']").evaluate("c => getComputedStyle(c, '::before').content")
        assert label == '"Window closes: "', label
    finally:
        page.set_viewport_size(desktop)


def test_a_doctor_sees_their_own_report_and_front_desk_none(page, live_server, cast, artifacts_dir):
    cast.dora.user.set_password(STAFF_PASSWORD)
    cast.dora.user.save()
    log_in_staff(page, live_server, "dora")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Dr. Dorsey"))).to_be_visible()
    expect(page.get_by_label("Doctor")).to_have_count(0)
    check_both_sizes(page, artifacts_dir, "staff-reports-doctor")
    page.get_by_role("button", name="Log out").click()
    log_in_staff(page, live_server, "alice")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports")).to_have_count(0)
    assert page.goto(f"{live_server.url}{reverse('clinic:reports')}").status == 404
