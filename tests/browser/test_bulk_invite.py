"""A practice admin invites every "Not invited" patient from the patient list in the browser: preview,
confirm, a progress bar that moves while a worker sends, the report with the skipped patients as CSV,
the job in the list, and the emails at a real SMTP server. On a desktop and on a 390x844 phone."""

import csv
import io
import re
import threading
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from access.actions import jobs, sending
from access.models import Channel, InvitationJob
from access.tests.test_send_invitations import make_patients
from clinic.models import StaffMember
from conftest import run_worker
from tests.browser.helpers import STAFF_PASSWORD, check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSP = re.compile(r"Content.Security.Policy", re.IGNORECASE)


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user("ada-admin", password=STAFF_PASSWORD, last_name="Admin")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


def check(page, artifacts_dir, name: str, width: int) -> None:
    check_page(page, artifacts_dir, f"{name}-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways"


def run_job_slowly(job_id: int) -> threading.Thread:
    """The worker, with a pause after each chunk (one patient each: see the test), so the page sees the bar move."""
    thread = threading.Thread(target=jobs.run_invitation_job, args=(job_id,),
                              kwargs={"progress": lambda done, total: time.sleep(0.7)})
    thread.start()
    return thread


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_an_admin_invites_every_not_invited_patient_and_watches_the_job(
        page, live_server, cast, admin, smtp_server, artifacts_dir, viewport, monkeypatch):
    monkeypatch.setattr(jobs, "JOB_CHUNK", 1)  # the job the page starts is sent one patient per chunk
    patients = [cast.pat, *make_patients(cast.practice, 4)]  # 5 "Not invited"; Ned lacks the details
    csp_errors = []
    page.on("console", lambda m: csp_errors.append(m.text) if CSP.search(m.text) else None)
    page.set_viewport_size(viewport)
    width = viewport["width"]
    log_in_staff(page, live_server, "ada-admin")

    # Ticking a patient works from the keyboard; Ned cannot be invited, and the preview says why.
    page.get_by_label("Select Ned Stone").focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Select Ned Stone")).to_be_checked()
    check(page, artifacts_dir, "bulk-patient-list", width)
    page.get_by_role("button", name="Invite selected patients").click()
    expect(page.get_by_role("heading", level=1, name="Invite patients")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Not eligible \(Add an email address.*1"))).to_be_visible()
    expect(page.get_by_text("Nobody in this selection can be invited now")).to_be_visible()
    page.get_by_role("link", name="Back to the patients").click()

    # Every patient "Not invited": the preview counts them, and nothing is sent before Confirm.
    page.get_by_label("Portal status").select_option(label="Not invited")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Invite all 5 patients matching this filter").click()
    expect(page.get_by_test_id("to-invite")).to_have_text("5")
    expect(page.get_by_test_id("to-skip")).to_have_text("0")
    check(page, artifacts_dir, "bulk-preview", width)
    assert not smtp_server.envelopes and not InvitationJob.objects.exists()
    page.get_by_role("button", name="Send 5 invitations").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"Bulk invitation \d+"))).to_be_visible()
    job = InvitationJob.objects.get()
    bar = page.get_by_label("0 of 5 patients done")
    expect(bar).to_have_attribute("value", "0")
    check(page, artifacts_dir, "bulk-job-running", width)

    # Meanwhile someone invites one of them from the chart: the job skips that patient.
    sending.send_invitation(patients[-1], by=cast.alice, channel=Channel.CHART)
    worker = run_job_slowly(job.pk)
    progress = page.locator("progress#job-bar")
    expect(progress).to_have_attribute("value", re.compile(r"^[1-4]$"))  # part-way, without a reload
    worker.join()
    expect(progress).to_have_attribute("value", "5")
    expect(page.locator("#job-announce")).to_have_text("Finished: 4 invited, 1 skipped.")  # role=status
    run_worker()  # the task queued at Confirm finds nothing left; the round sends the outbox
    expect(page.get_by_test_id("emails-delivered")).to_have_text("4")
    expect(page.locator("#job-live")).not_to_have_attribute("hx-trigger", re.compile("."))  # polling has stopped
    expect(page.get_by_role("row", name="Already pending 1")).to_be_visible()
    check(page, artifacts_dir, "bulk-job-done", width)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the skipped patients (CSV)").click()
    assert download.value.suggested_filename == f"skipped-patients-job-{job.pk}.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert rows == [["chart_number", "first_name", "last_name", "reason", "reason_code"],
                    ["T-3", "Test3", "Bulk", "Already pending", "already_pending"]]

    page.get_by_role("link", name="Bulk invitations").click()
    expect(page.get_by_role("row", name=re.compile(r"Status: Not invited Admin 5 4 1 0 Done"))).to_be_visible()
    check(page, artifacts_dir, "bulk-jobs", width)

    received = sorted(m["To"] for m in smtp_server.messages())
    assert received == sorted(p.email for p in patients)  # four from the job, one from the chart
    assert not csp_errors, csp_errors
    assert reverse("clinic:bulk-job", args=[job.pk]) in page.content()
