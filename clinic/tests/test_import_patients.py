import csv
import datetime
import io
from io import StringIO

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from access.models import AccessEvent, Invitation
from access.tests.helpers import actions_of, send, snapshot
from clinic import importing
from clinic.forms import DemographicsForm
from clinic.models import Patient, PatientImport, StaffMember
from conftest import run_worker

HEADER = "chart_number,first_name,last_name,email,ssn,date_of_birth,phone,doctor,favourite_colour\n"


@pytest.fixture
def csv_file(tmp_path):
    def write(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> str:
        path = tmp_path / "patients.csv"
        path.write_bytes((header + "".join(row + "\n" for row in rows)).encode(encoding))
        return str(path)

    return write


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_patients", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def everything() -> dict:
    """The patients and everything an access action may change, to assert that nothing changed."""
    return {**snapshot(), "patients": list(Patient.objects.order_by("pk").values())}


def rows_of(practice) -> dict:
    return {p.chart_number: p for p in Patient.objects.filter(practice=practice)}


def test_it_creates_patients_normalised_like_the_demographics_page(cast, csv_file):
    path = csv_file(
        "C-1, Ada ,Lovelace,Ada@EXAMPLE.test,123-45-6789,1985-12-10,(555) 555-0142,dora,green",
        "C-2,Alan,Turing,,,,,,",
    )
    out, err = run("--practice", "Maple Street Clinic", path)
    assert out.strip().splitlines()[-1] == "created 2, updated 0, unchanged 0, invalid 0"
    ada, alan = rows_of(cast.practice)["C-1"], rows_of(cast.practice)["C-2"]
    assert (ada.first_name, ada.email, ada.ssn, ada.ssn_last4, ada.phone, ada.doctor) == (
        "Ada", "Ada@example.test", "123456789", "6789", "+15555550142", cast.dora)
    assert ada.date_of_birth == datetime.date(1985, 12, 10)
    assert (alan.email, alan.ssn, alan.doctor) == ("", "", None)
    assert not Patient.objects.filter(practice=cast.other_practice, chart_number__startswith="C-").exists()


def test_a_bad_row_imports_nothing_and_every_bad_row_is_listed(cast, csv_file):
    path = csv_file(
        "C-1,Ada,Lovelace,ada@example.test,,,,,",
        "C-2,Alan,Turing,not-an-email,,,,,",
        "C-3,Grace,,grace@example.test,000-12-3456,,,,",
        "C-1,Ada,Again,,,2999-01-01,12,nobody,",
    )
    before = Patient.objects.count()
    with pytest.raises(CommandError, match=r"Nothing was imported: 3 row\(s\) are invalid"):
        run("--practice", str(cast.practice.pk), path)
    assert Patient.objects.count() == before
    report = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert not report.imported
    assert [r.line for r in report.rejected] == [3, 4, 5]
    described = "\n".join(r.describe() for r in report.rejected)
    assert "line 3 (C-2): email: Enter an email address like name@example.com." in described
    assert "line 4 (C-3): last_name: This field is required.; ssn: This is not a valid social security number." in described
    assert "chart_number: C-1 is already on line 2" in described
    assert "date_of_birth: The date of birth cannot be in the future." in described
    assert "phone: This phone number has the wrong number of digits." in described
    assert "doctor: No doctor with the username 'nobody' in this practice." in described


def test_a_phone_without_its_area_code_is_refused_with_the_reason(cast, csv_file):
    report = importing.import_patients(cast.practice, open(csv_file("C-1,Ada,Lovelace,,,1985-12-10,555-0142,,"),
                                                            encoding="utf-8"))
    assert not report.imported
    assert report.rejected[0].describe() == "line 2 (C-1): phone: Include the area code, like (555) 555-0123."
    assert "C-1" not in rows_of(cast.practice)


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(cast, csv_file):
    path = csv_file("C-1,Ada,Lovelace,,,,,,", "C-2,Alan,Turing,not-an-email,,,,,")
    out, err = run("--practice", "Maple Street Clinic", "--skip-invalid", path)
    assert out.strip() == "created 1, updated 0, unchanged 0, invalid 1"
    assert "line 3 (C-2): email:" in err
    assert set(rows_of(cast.practice)) >= {"C-1"} and "C-2" not in rows_of(cast.practice)


def test_it_updates_by_chart_number_and_a_new_email_revokes_the_pending_invitation(cast, csv_file):
    sent = send(cast)  # Pat, chart A-100, has a pending invitation
    path = csv_file(
        "A-100,Pat,Jones,pat.new@example.test,,1980-05-17,+15555550123,dora,",
        "A-101,Ned,Stone,,,,,,",
    )
    out, _ = run("--practice", "Maple Street Clinic", path)
    assert out.strip() == "created 0, updated 1, unchanged 1, invalid 0"
    pat = Patient.objects.get(pk=cast.pat.pk)
    assert pat.email == "pat.new@example.test"
    assert pat.ssn == "123456789"  # a blank SSN keeps the one on file
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.REVOKED
    assert actions_of(cast.pat)[-1] == AccessEvent.Action.INVITATION_REVOKED
    assert AccessEvent.objects.filter(patient=cast.pat).latest("id").reason == "Email address changed"


def test_running_the_same_file_again_changes_nothing(cast, csv_file):
    path = csv_file("C-1,Ada,Lovelace,ada@example.test,123-45-6789,1985-12-10,555-555-0142,dora,")
    run("--practice", "Maple Street Clinic", path)
    events, patients = AccessEvent.objects.count(), list(Patient.objects.order_by("pk").values())
    out, _ = run("--practice", "Maple Street Clinic", path)
    assert out.strip() == "created 0, updated 0, unchanged 1, invalid 0"
    assert (AccessEvent.objects.count(), list(Patient.objects.order_by("pk").values())) == (events, patients)


@pytest.mark.parametrize("header, message", [
    ("chart,first_name,last_name\n", "The header row has no chart_number column"),
    ("chart_number,first_name\n", "The header row has no last_name column"),
])
def test_it_refuses_a_file_without_the_required_columns(cast, csv_file, header, message):
    path = csv_file("C-1,Ada,Lovelace", header=header)
    with pytest.raises(CommandError, match=message):
        run("--practice", "Maple Street Clinic", path)


def test_it_refuses_a_file_that_is_not_utf8(cast, csv_file):
    path = csv_file("C-1,Zoë,Ng,,,,,,", encoding="latin-1")
    with pytest.raises(CommandError, match="The file is not UTF-8 text"):
        run("--practice", "Maple Street Clinic", path)
    assert "C-1" not in rows_of(cast.practice)


def test_it_names_the_practices_when_the_practice_is_unknown(cast, csv_file):
    with pytest.raises(CommandError, match=r"No practice 'Nowhere'\. Practices: .*Maple Street Clinic"):
        run("--practice", "Nowhere", csv_file("C-1,Ada,Lovelace,,,,,,"))


def test_rejected_rows_come_back_as_csv_to_fix(cast, csv_file):
    path = csv_file("C-2,Alan,Turing,not-an-email,123-45-6789,,,,")
    report = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert importing.rejected_rows_csv(report.rejected).splitlines() == [
        "line,problems,chart_number,first_name,last_name,email,ssn,date_of_birth,phone,doctor,language,mobile_phone,text_consent",
        "2,email: Enter an email address like name@example.com.,C-2,Alan,Turing,not-an-email,***-**-6789,,,,,,",
    ]


# --- set-wise: many rows, chunks, the form's rules ------------------------------------------------

def many_rows(count: int, *, start: int = 0) -> list[str]:
    return [f"M-{i:05d},First{i % 7},Last{i % 11},m{i}@example.test,{100 + i % 500:03d}-12-{1000 + i:04d},"
            f"1970-0{1 + i % 9}-1{i % 9},(212) 555-{i:04d},{'dora' if i % 2 else ''},"
            for i in range(start, start + count)]


def test_one_bad_row_in_the_last_chunk_imports_nothing_and_is_named_by_its_line(cast, csv_file, monkeypatch):
    monkeypatch.setattr(importing, "WRITE_CHUNK", 100)  # the file is several chunks long
    rows = many_rows(1000)
    rows[998] = rows[998].replace("1970-0", "2970-0")  # line 1,000 (the header is line 1)
    before = everything()
    report = importing.import_patients(cast.practice, open(csv_file(*rows), encoding="utf-8"))
    assert not report.imported and report.summary() == "created 0, updated 0, unchanged 0, invalid 1"
    assert [r.describe() for r in report.rejected] == [
        "line 1000 (M-00998): date_of_birth: The date of birth cannot be in the future."]
    assert everything() == before


def test_a_file_of_several_chunks_again_changes_nothing(cast, csv_file, monkeypatch):
    monkeypatch.setattr(importing, "WRITE_CHUNK", 100)
    path = csv_file(*many_rows(250), "A-100,Pat,Jones,pat.new@example.test,,1980-05-17,+15555550123,dora,")
    seen = []
    first = importing.import_patients(cast.practice, open(path, encoding="utf-8"), progress=lambda *p: seen.append(p))
    assert first.summary() == "created 250, updated 1, unchanged 0, invalid 0"
    assert seen[-1] == (502, 502) and seen == sorted(seen)  # checking, then writing: two steps per row
    m7 = rows_of(cast.practice)["M-00007"]
    assert (m7.first_name, m7.email, m7.ssn, m7.ssn_last4, m7.date_of_birth, m7.phone, m7.doctor) == (
        "First0", "m7@example.test", "107121007", "1007", datetime.date(1970, 8, 17), "+12125550007", cast.dora)
    before = everything()
    again = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert again.summary() == "created 0, updated 0, unchanged 251, invalid 0"
    assert everything() == before


def test_updates_in_chunks_change_what_differs_and_a_blank_ssn_or_doctor_keeps_the_one_on_file(cast, csv_file, monkeypatch):
    monkeypatch.setattr(importing, "WRITE_CHUNK", 2)
    importing.import_patients(cast.practice, open(csv_file(*many_rows(5)), encoding="utf-8"))
    changed = [row.replace("First", "Renamed") for row in many_rows(3)]
    changed[1] = "M-00001,First1,Last1,m1@example.test,,1970-02-11,(212) 555-0001,,"  # SSN, doctor blank
    changed[2] = changed[2].replace("212", "646") + "\nM-00003,First3,Last3,m3@example.test,,,,,"
    report = importing.import_patients(cast.practice, open(csv_file(*changed), encoding="utf-8"))
    assert report.summary() == "created 0, updated 3, unchanged 1, invalid 0"
    patients = rows_of(cast.practice)
    assert patients["M-00000"].first_name == "Renamed0"
    assert (patients["M-00001"].ssn, patients["M-00001"].ssn_last4, patients["M-00001"].doctor) == (
        "101121001", "1001", cast.dora)
    assert (patients["M-00002"].first_name, patients["M-00002"].phone) == ("Renamed2", "+16465550002")
    # A blank date or phone is "none on file" (as on the Demographics page); a blank SSN keeps it.
    assert (patients["M-00003"].date_of_birth, patients["M-00003"].phone, patients["M-00003"].ssn) == (
        None, "", "103121003")
    assert patients["M-00004"].first_name == "First4"


def test_a_value_repeated_on_many_rows_is_refused_on_each(cast, csv_file):
    path = csv_file("C-1,Ada,Lovelace,,,2999-01-01,,,", "C-2,Alan,Turing,,,2999-01-01,,,", "C-3,Al,Bo,,,,,,")
    report = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert [r.describe() for r in report.rejected] == [
        "line 2 (C-1): date_of_birth: The date of birth cannot be in the future.",
        "line 3 (C-2): date_of_birth: The date of birth cannot be in the future.",
    ]


@pytest.mark.parametrize("values", [
    {"first_name": "", "email": "not-an-email"},
    {"first_name": "A" * 101, "ssn": "000-12-3456", "phone": "555-0123"},
    {"date_of_birth": "1899-12-31", "phone": "12"},
    {"date_of_birth": "31/12/1990", "email": "a" * 140 + "@example.test"},
    {"last_name": "Lo\x00ve", "ssn": "12345"},
])
def test_a_row_gets_the_demographics_forms_messages(cast, values):
    good = {"chart_number": "C-1", "first_name": "Ada", "last_name": "Lovelace", "email": "", "ssn": "",
            "date_of_birth": "", "phone": "", "doctor": ""}
    row = {**good, **values}
    form = DemographicsForm(row, patient=Patient(practice=cast.practice), doctors=StaffMember.objects.none())
    expected = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
    checker = importing.ImportRowForm(practice=cast.practice, doctors={})
    assert checker.check(good) == []  # a good row first: nothing of it carries over
    assert checker.check(row) == expected and expected


# --- the staff page -------------------------------------------------------------------------------

PAGE = reverse("clinic:import-patients")


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user("ada-admin", password="staff-password-123", last_name="Admin")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


def upload(content: str, name: str = "patients.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_only_practice_admins_see_the_page(client, cast, admin):
    client.force_login(cast.alice.user)
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, {"file": upload(HEADER + "C-1,Ada,Lovelace,,,,,,\n")}).status_code == 404
    assert "C-1" not in rows_of(cast.practice)
    client.force_login(admin.user)
    assert client.get(PAGE).status_code == 200
    assert 'href="/patients/import/"' in client.get(reverse("clinic:patients")).content.decode()


def test_an_admin_imports_a_file_and_sees_the_report(client, cast, admin):
    client.force_login(admin.user)
    response = client.post(PAGE, {"file": upload(HEADER + "C-1,Ada,Lovelace,ada@example.test,,,,dora,\n")})
    result = PatientImport.objects.get()
    assert response.status_code == 302 and response.url == reverse("clinic:import-report", args=[result.pk])
    assert (result.imported, result.created, result.started_by, result.file_name) == (True, 1, admin, "patients.csv")
    assert rows_of(cast.practice)["C-1"].doctor == cast.dora
    page = client.get(response.url)
    assert "created 1, updated 0, unchanged 0, invalid 0" in page.content.decode()
    assert "Download the invalid rows" not in page.content.decode()


def test_a_file_with_bad_rows_imports_nothing_and_offers_them_as_csv(client, cast, admin):
    client.force_login(admin.user)
    content = HEADER + "C-1,Ada,Lovelace,,,,,,\nC-2,Alan,Turing,not-an-email,123-45-6789,,,,\n"
    response = client.post(PAGE, {"file": upload(content)}, follow=True)
    html = response.content.decode()
    assert "Nothing was imported" in html and "Enter an email address like name@example.com." in html
    assert set(rows_of(cast.practice)).isdisjoint({"C-1", "C-2"})
    download = client.get(reverse("clinic:import-rejected-rows", args=[PatientImport.objects.get().pk]))
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in download["Content-Disposition"]
    assert download.content.decode().splitlines()[1].startswith("3,email: Enter an email address")
    assert "123-45-6789" not in download.content.decode() and "***-**-6789" in download.content.decode()


def test_skip_invalid_on_the_page_imports_the_good_rows(client, cast, admin):
    client.force_login(admin.user)
    content = HEADER + "C-1,Ada,Lovelace,,,,,,\nC-2,Alan,Turing,not-an-email,,,,,\n"
    client.post(PAGE, {"file": upload(content), "skip_invalid": "on"})
    assert "C-1" in rows_of(cast.practice) and "C-2" not in rows_of(cast.practice)
    assert PatientImport.objects.get().invalid == 1


def test_a_file_that_cannot_be_read_is_refused_with_the_reason(client, cast, admin):
    client.force_login(admin.user)
    response = client.post(PAGE, {"file": upload("name,phone\nAda,555\n")})
    assert response.status_code == 200
    assert "The header row has no chart_number, first_name, last_name column" in response.content.decode()
    assert not PatientImport.objects.exists()


def test_another_practices_import_is_a_404_and_recorded(client, cast, admin):
    client.force_login(admin.user)
    client.post(PAGE, {"file": upload(HEADER + "C-1,Ada,Lovelace,,,,,,\n")})
    other_admin = StaffMember.objects.create(
        user=admin.user.__class__.objects.create_user("bo-admin", password="x"), practice=cast.other_practice,
        role=StaffMember.Role.ADMIN)
    client.force_login(other_admin.user)
    pk = PatientImport.objects.get().pk
    assert client.get(reverse("clinic:import-report", args=[pk])).status_code == 404
    assert client.get(reverse("clinic:import-rejected-rows", args=[pk])).status_code == 404
    assert AccessEvent.objects.filter(practice=cast.other_practice, action=AccessEvent.Action.FOREIGN_ID).count() == 2


# --- what comes back from a hostile or broken file ----------------------------------------------

@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_the_rejected_rows_download_runs_no_formula(client, cast, admin, start):
    client.force_login(admin.user)
    formula = f'{start}HYPERLINK(""https://evil.example"",""fix"")'
    content = HEADER + f'"{formula}",Alan,Turing,not-an-email,,{start}1990-01-01,,,\n'
    client.post(PAGE, {"file": upload(content)})
    download = client.get(reverse("clinic:import-rejected-rows", args=[PatientImport.objects.get().pk]))
    row = next(csv.DictReader(io.StringIO(download.content.decode())))
    assert row["chart_number"] == "'" + formula.replace('""', '"')
    assert row["date_of_birth"] == f"'{start}1990-01-01"
    assert row["first_name"] == "Alan" and row["line"] == "2"


def test_the_report_page_shows_a_rejected_value_as_it_came(client, cast, admin):
    client.force_login(admin.user)
    client.post(PAGE, {"file": upload(HEADER + "=1+1,Alan,Turing,not-an-email,,,,,\n")})
    page = client.get(reverse("clinic:import-report", args=[PatientImport.objects.get().pk]))
    assert "=1+1" in page.content.decode() and "'=1+1" not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_nul_in_a_rejected_row_is_kept_without_it(client, cast, admin):
    """PostgreSQL refuses NUL in a text column (a 500 there before); the row is refused and the good
    rows are imported, the NUL shown as U+FFFD where it was."""
    client.force_login(admin.user)
    content = HEADER + "C-1,Ada,Lovelace,,,,,,\nC-2,Al\x00an,Turing,,,,,,\n"
    response = client.post(PAGE, {"file": upload(content, name="pat\x00ients.csv"), "skip_invalid": "on"})
    assert response.status_code == 302
    result = PatientImport.objects.get()
    assert (result.created, result.invalid, result.file_name) == (1, 1, "patients.csv")  # Django drops it from a name
    assert "C-1" in rows_of(cast.practice) and "C-2" not in rows_of(cast.practice)
    [rejected] = result.rejected_rows()
    assert rejected["first_name"] == "Al\ufffdan" and "Null characters are not allowed" in rejected["problems"]
    assert client.get(response.url).status_code == 200


def test_an_import_changes_an_ssn_on_file_sealed_to_its_chart(cast, csv_file):
    importing.import_patients(cast.practice, open(csv_file(*many_rows(2)), encoding="utf-8"))
    changed = many_rows(2)
    changed[1] = "M-00001,First1,Last1,m1@example.test,234-56-7890,1970-02-11,(212) 555-0001,,"
    report = importing.import_patients(cast.practice, open(csv_file(*changed), encoding="utf-8"))
    assert report.summary() == "created 0, updated 1, unchanged 1, invalid 0"
    patient = rows_of(cast.practice)["M-00001"]
    assert (patient.ssn, patient.ssn_last4) == ("234567890", "7890")
    stored = Patient.objects.filter(pk=patient.pk).values_list("ssn", flat=True).get()
    assert stored.startswith("v3:") and "234567890" not in stored


# --- a large file: imported by the task worker, its progress on the page ---------------------------

def big_file(rows: int, *, bad_line: int | None = None) -> str:
    return HEADER + "".join(f"C-{n},Ada{n},Lovelace,{'not-an-email' if n + 2 == bad_line else ''},,,,,\n"
                            for n in range(rows))


@pytest.fixture
def in_background(monkeypatch):
    """Files over 1 KB go to the task worker (the real threshold is 200 KB: the same path)."""
    monkeypatch.setattr(importing, "BACKGROUND_BYTES", 1024)


def test_a_large_file_is_imported_by_the_worker_with_its_progress_on_the_page(client, cast, admin, in_background,
                                                                              monkeypatch):
    monkeypatch.setattr(importing, "WRITE_CHUNK", 40)
    client.force_login(admin.user)
    response = client.post(PAGE, {"file": upload(big_file(100))})
    result = PatientImport.objects.get()
    assert response.url == reverse("clinic:import-report", args=[result.pk])
    assert (result.status, result.imported, result.steps_done, result.steps) == ("running", False, 0, 0)
    assert not any(chart.startswith("C-") for chart in rows_of(cast.practice))  # nothing yet: the worker's job
    page = client.get(response.url).content.decode()
    assert '<label for="import-progress">Importing the file: rows checked, then written</label>' in page
    assert '<progress id="import-progress">' in page and "Check again" in page
    progress_url = reverse("clinic:import-progress", args=[result.pk])
    assert client.get(progress_url).json() == {"status": "running", "done": 0, "total": 0, "percent": 0,
                                               "text": "Waiting for the task worker to start…"}
    seen = []
    unhurried = importing.import_patients

    def import_and_watch(*args, progress, **kwargs):  # what the page would read at each step
        def step(done, total):
            progress(done, total)
            seen.append(client.get(progress_url).json()["done"])
        return unhurried(*args, progress=step, **kwargs)

    monkeypatch.setattr(importing, "import_patients", import_and_watch)
    run_worker()
    result.refresh_from_db()
    assert (result.status, result.imported, result.created, result.invalid, result.source) == ("done", True, 100, 0, "")
    assert (result.steps_done, result.steps) == (200, 200)  # each row checked, then written
    assert seen == [100, 100, 140, 180, 200]  # the checks, then each chunk of 40 written, as the page saw them
    assert sum(chart.startswith("C-") for chart in rows_of(cast.practice)) == 100
    assert client.get(progress_url).json()["status"] == "done"
    page = client.get(response.url).content.decode()
    assert "created 100, updated 0, unchanged 0, invalid 0" in page and "<progress" not in page


def test_a_large_file_with_a_bad_row_imports_nothing_and_names_its_line(client, cast, admin, in_background):
    client.force_login(admin.user)
    before = snapshot()
    client.post(PAGE, {"file": upload(big_file(100, bad_line=57))})
    run_worker()
    result = PatientImport.objects.get()
    assert (result.status, result.imported, result.invalid, result.source) == ("done", False, 1, "")
    assert result.rejected_rows()[0]["line"] == "57"
    assert snapshot() == before
    assert "Nothing was imported" in client.get(reverse("clinic:import-report", args=[result.pk])).content.decode()


def test_a_large_file_that_cannot_be_read_is_refused_at_once(client, cast, admin, in_background):
    client.force_login(admin.user)
    response = client.post(PAGE, {"file": upload("name,phone\n" + "Ada,555\n" * 200)})
    assert response.status_code == 200 and "The header row has no chart_number" in response.content.decode()
    response = client.post(PAGE, {"file": SimpleUploadedFile("p.csv", HEADER.encode() + b"\xff\xfe" * 1000)})
    assert "The file is not UTF-8 text" in response.content.decode()
    assert not PatientImport.objects.exists()


def test_a_large_file_unreadable_past_its_header_fails_on_the_page_and_imports_nothing(client, cast, admin,
                                                                                     in_background):
    """The header was fine when the file was taken; line 57 cannot be read (a field over the CSV
    reader's 131,072-character limit), found by the worker: nothing is imported, the import is marked
    failed with the line and the reason on its page, and the kept file is let go."""
    client.force_login(admin.user)
    lines = big_file(100).splitlines(keepends=True)
    lines[56] = "C-55,Ada55,Lovelace," + "x" * 140_000 + ",,,,\n"  # line 57 of the file (the header is line 1)
    before = everything()
    response = client.post(PAGE, {"file": upload("".join(lines))})
    result = PatientImport.objects.get()
    assert result.status == "running"
    run_worker()
    result.refresh_from_db()
    failure = "Line 57 cannot be read as CSV (field larger than field limit (131072))."
    assert (result.status, result.imported, result.created, result.updated, result.failure, result.source) == (
        "failed", False, 0, 0, failure, "")
    assert everything() == before
    page = client.get(response.url).content.decode()
    assert f"<strong>Nothing was imported</strong>: {failure}" in page and "<progress" not in page
    assert client.get(reverse("clinic:import-progress", args=[result.pk])).json()["status"] == "failed"


def test_another_practices_import_progress_is_a_404(client, cast, admin, in_background):
    client.force_login(admin.user)
    client.post(PAGE, {"file": upload(big_file(100))})
    other = StaffMember.objects.create(user=type(admin.user).objects.create_user("bo-admin"), practice=cast.other_practice,
                                       role=StaffMember.Role.ADMIN)
    client.force_login(other.user)
    assert client.get(reverse("clinic:import-progress", args=[PatientImport.objects.get().pk])).status_code == 404


def test_an_import_whose_worker_stopped_is_marked_stopped_and_the_same_file_finishes_it(client, cast, admin,
                                                                                       in_background):
    """A worker killed mid-import leaves its import RUNNING and its task "running" (as below: the chunk
    it had written, committed); run_periodic marks them after 10 minutes without a step."""
    client.force_login(admin.user)
    client.post(PAGE, {"file": upload(big_file(100))})
    result = PatientImport.objects.get()
    importing.import_patients(cast.practice, io.StringIO(big_file(40)))  # the first chunk, written
    task = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=task.pk).update(status="RUNNING", worker_ids=["gone:1"])
    last_step = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)
    PatientImport.objects.filter(pk=result.pk).update(progress_at=last_step, steps_done=140, steps=200)
    with time_machine.travel(last_step + datetime.timedelta(minutes=10), tick=False):
        assert importing.stop_stalled_imports() == 0  # ten minutes without a step: still its worker's
    assert PatientImport.objects.get().status == "running"
    with time_machine.travel(last_step + datetime.timedelta(minutes=10, seconds=1), tick=False):
        call_command("run_periodic", "--once", stdout=(said := StringIO()))
    assert said.getvalue() == ("2026-12-07 09:10:01 UTC: marked 1 patient import(s) stopped "
                               "(their worker stopped).\n")
    result.refresh_from_db()
    assert (result.status, result.source) == ("stopped", "")
    assert DBTaskResult.objects.values_list("status", flat=True).get() == "FAILED"
    page = client.get(reverse("clinic:import-report", args=[result.pk])).content.decode()
    assert "The import did not finish" in page and "import the same file again to finish" in page
    assert "<progress" not in page
    assert client.get(reverse("clinic:import-progress", args=[result.pk])).json()["status"] == "stopped"
    report = importing.import_patients(cast.practice, io.StringIO(big_file(100)))
    assert report.summary() == "created 60, updated 0, unchanged 40, invalid 0"


def test_an_import_still_waiting_for_a_worker_is_never_taken_for_stopped(client, cast, admin, in_background):
    client.force_login(admin.user)
    client.post(PAGE, {"file": upload(big_file(100))})
    with time_machine.travel(datetime.timedelta(days=2)):
        assert importing.stop_stalled_imports() == 0
    run_worker()
    assert PatientImport.objects.get().status == "done"


def test_a_chunk_refused_part_way_says_the_import_did_not_finish_not_that_nothing_was_imported(
        client, cast, admin, in_background, monkeypatch):
    """Someone adds a chart number of the file's second chunk while the worker writes the first."""
    monkeypatch.setattr(importing, "WRITE_CHUNK", 40)
    client.force_login(admin.user)
    client.post(PAGE, {"file": upload(big_file(100))})
    unhurried, chunks = importing.insert_rows, []

    def insert_after_someone_added_one(model, rows):
        chunks.append(len(rows))
        if len(chunks) == 2:
            Patient.objects.create(practice=cast.practice, chart_number="C-50", first_name="Added", last_name="Meanwhile")
        return unhurried(model, rows)

    monkeypatch.setattr(importing, "insert_rows", insert_after_someone_added_one)
    run_worker()
    result = PatientImport.objects.get()
    assert (result.status, result.source) == ("stopped", "")
    # The first chunk is in (the patient "added" here went with the refused chunk's transaction: in this
    # test it is made on the worker's connection, not another's).
    assert sum(chart.startswith("C-") for chart in rows_of(cast.practice)) == 40
    page = client.get(reverse("clinic:import-report", args=[result.pk])).content.decode()
    assert "The import did not finish" in page and "Nothing was imported" not in page
    assert "was added while the file was being imported" in page
