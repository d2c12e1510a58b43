"""A practice admin imports patients from a CSV file in the browser, on a desktop and on a phone."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from clinic.models import Patient, StaffMember
from tests.browser.helpers import STAFF_PASSWORD, check_page, log_in_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "chart_number,first_name,last_name,email,ssn,date_of_birth,phone,doctor\n"
    "C-1,Ada,Lovelace,ada@example.test,123-45-6789,1985-12-10,(555) 555-0142,dora\n"
    "C-2,Alan,Turing,not-an-email,,,,\n"
)


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user("ada-admin", password=STAFF_PASSWORD, last_name="Admin")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_an_admin_imports_a_file_then_skips_the_bad_row(page, live_server, admin, artifacts_dir, tmp_path, viewport):
    page.set_viewport_size(viewport)
    path = tmp_path / "patients.csv"
    path.write_text(CSV)
    log_in_staff(page, live_server, "ada-admin")
    page.get_by_role("link", name="Import patients").click()
    expect(page.get_by_role("heading", level=1, name="Import patients")).to_be_visible()
    check_page(page, artifacts_dir, f"import-form-{viewport['width']}")

    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").filter(has_text="Nothing was imported")).to_be_visible()
    expect(page.get_by_role("cell", name="email: Enter an email address like name@example.com.")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the invalid rows (CSV)").click()
    assert download.value.suggested_filename.startswith("rejected-rows-")
    check_page(page, artifacts_dir, f"import-report-{viewport['width']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert not Patient.objects.filter(chart_number__in=["C-1", "C-2"]).exists()

    page.get_by_role("link", name="Import another file").click()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_label("Import the valid rows even if some rows are invalid").check()
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").filter(has_text="created 1, updated 0, unchanged 0, invalid 1")).to_be_visible()
    assert Patient.objects.get(chart_number="C-1").phone == "+15555550142"
    page.goto(f"{live_server.url}{reverse('clinic:import-patients')}")
    expect(page.get_by_role("table")).to_contain_text("patients.csv")


def test_a_large_file_shows_its_progress_then_the_report(page, live_server, admin, artifacts_dir, tmp_path, monkeypatch):
    """A file over the threshold goes to the task worker: the page shows a labelled progress bar,
    then, once the worker is done, the report by itself (the script follows the progress)."""
    from clinic import importing
    from conftest import run_worker

    monkeypatch.setattr(importing, "BACKGROUND_BYTES", 100)  # the live server runs in this process
    path = tmp_path / "patients.csv"
    path.write_text(CSV.splitlines()[0] + "\n" + "".join(f"C-{n},Ada,Lovelace,,,,,\n" for n in range(30)))
    log_in_staff(page, live_server, "ada-admin")
    page.goto(f"{live_server.url}{reverse('clinic:import-patients')}")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    bar = page.get_by_role("progressbar", name="Importing the file: rows checked, then written")
    expect(bar).to_be_visible()
    expect(page.get_by_role("link", name="Check again")).to_be_visible()
    check_page(page, artifacts_dir, "import-progress")
    run_worker()
    expect(page.get_by_role("status").filter(has_text="created 30, updated 0, unchanged 0, invalid 0")).to_be_visible()
    expect(bar).to_have_count(0)
    assert Patient.objects.filter(chart_number__startswith="C-").count() == 30
