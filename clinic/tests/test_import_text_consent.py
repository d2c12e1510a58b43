"""An import's mobile_phone and text_consent columns: the chart's mobile number and a consent step
(source: import) where it differs; the same file again changes nothing; a bad value is a bad row."""

import pytest

from access.models import AccessEvent, TextConsent
from access.text_selectors import consents
from clinic import importing
from clinic.models import Patient
from clinic.tests.test_import_patients import rows_of, run

HEADER = "chart_number,first_name,last_name,email,mobile_phone,text_consent\n"


@pytest.fixture
def csv_file(tmp_path):
    def write(*rows: str) -> str:
        path = tmp_path / "patients.csv"
        path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
        return str(path)

    return write


def test_it_records_the_mobile_number_and_consent_from_the_file(cast, csv_file):
    path = csv_file("C-1,Ada,Lovelace,ada@example.test,(555) 555-0188,yes", "C-2,Alan,Turing,,555-555-0199,",
                    "C-3,Grace,Hopper,,+15555550177,No")

    out, _ = run("--practice", "Maple Street Clinic", path)

    assert out.strip().splitlines()[-1] == "created 3, updated 0, unchanged 0, invalid 0"
    rows = rows_of(cast.practice)
    assert (rows["C-1"].mobile_phone, rows["C-2"].mobile_phone, rows["C-3"].mobile_phone) == (
        "+15555550188", "+15555550199", "+15555550177")
    p = cast.practice.pk
    assert consents([(p, "+15555550188"), (p, "+15555550199"), (p, "+15555550177")]) == {
        (p, "+15555550188"): True, (p, "+15555550199"): False, (p, "+15555550177"): False}
    # "No" for a number that never had consent changes nothing: the ledger records changes.
    assert list(TextConsent.objects.values_list("number", "consented", "source")) == [("+15555550188", True, "import")]
    assert AccessEvent.objects.filter(action="text.consent_given", patient=rows["C-1"]).exists()


def test_the_same_file_again_changes_nothing(cast, csv_file):
    path = csv_file("C-1,Ada,Lovelace,ada@example.test,(555) 555-0188,yes")
    run("--practice", "Maple Street Clinic", path)
    before = (TextConsent.objects.count(), AccessEvent.objects.count(), list(Patient.objects.values()))

    run("--practice", "Maple Street Clinic", path)

    assert (TextConsent.objects.count(), AccessEvent.objects.count(), list(Patient.objects.values())) == before


@pytest.mark.parametrize(("row", "problem"), [
    ("C-1,Ada,Lovelace,,12,yes", "mobile_phone:"),
    ("C-1,Ada,Lovelace,,(555) 555-0188,maybe", "text_consent: write yes or no"),
    ("C-1,Ada,Lovelace,,,yes", "text_consent: consent to texts needs a mobile_phone."),
])
def test_a_bad_value_is_a_bad_row_and_nothing_is_imported(cast, csv_file, row, problem):
    report = importing.import_patients(cast.practice, open(csv_file(row), encoding="utf-8"))

    assert not report.imported and problem in report.rejected[0].describe()
    assert not Patient.objects.filter(chart_number="C-1").exists() and not TextConsent.objects.exists()


def test_a_new_number_in_the_file_ends_the_old_numbers_consent(cast, csv_file):
    run("--practice", "Maple Street Clinic", csv_file("C-1,Ada,Lovelace,ada@example.test,(555) 555-0188,yes"))

    run("--practice", "Maple Street Clinic", csv_file("C-1,Ada,Lovelace,ada@example.test,(555) 555-0177,"))

    p = cast.practice.pk
    assert consents([(p, "+15555550188"), (p, "+15555550177")]) == {(p, "+15555550188"): False,
                                                                    (p, "+15555550177"): False}
    assert list(TextConsent.objects.order_by("id").values_list("number", "consented", "source")) == [
        ("+15555550188", True, "import"), ("+15555550188", False, "number_changed")]
    ada = rows_of(cast.practice)["C-1"]
    assert list(AccessEvent.objects.filter(patient=ada, action__startswith="text.").order_by("id")
                .values_list("action", "reason")) == [
        ("text.consent_given", "An import column, for (555) 555-0188"),
        ("text.consent_withdrawn", "The chart's mobile number changed, for (555) 555-0188")]
