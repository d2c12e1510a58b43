import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from access.models import AccessEvent, Invitation
from access.tests.helpers import actions_of, send
from clinic import importing
from clinic.models import Patient

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
    path = csv_file("C-2,Alan,Turing,not-an-email,,,,,")
    report = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert importing.rejected_rows_csv(report.rejected).splitlines() == [
        "line,problems,chart_number,first_name,last_name,email,ssn,date_of_birth,phone,doctor",
        "2,email: Enter an email address like name@example.com.,C-2,Alan,Turing,not-an-email,,,,",
    ]
