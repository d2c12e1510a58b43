"""Import a practice's existing patients from a CSV file.

Rows are matched on chart number: new ones are created, existing ones updated through
`clinic.services.update_patient`, the same rule as the Demographics page (a changed email revokes a
pending invitation, recorded). Every row is checked with the Demographics form before anything is
written, so a file with a bad row imports nothing unless the caller asks to skip the bad rows.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.forms import DemographicsForm
from clinic.models import Patient, PatientImport, Practice, StaffMember
from clinic.services import update_patient
from portico import languages
from portico.spreadsheet import SafeWriter
from portico.text import storable

COLUMNS = ("chart_number", "first_name", "last_name", "email", "ssn", "date_of_birth", "phone", "doctor", "language")
REQUIRED_COLUMNS = ("chart_number", "first_name", "last_name")
CREATE_BATCH = 1000

Progress = Callable[[int, int], None]  # (rows done, rows in all)


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV, not UTF-8, a required column missing)."""


class ImportRowForm(DemographicsForm):
    """One row, checked exactly as the Demographics page checks a patient; the doctor is named by
    username, the language as a code or a name ("es", "Spanish", "Español"), and a blank doctor, SSN or
    language keeps what is on file."""

    chart_number = forms.CharField(label="Chart number", max_length=32)
    doctor = forms.CharField(label="Doctor", required=False)

    def __init__(self, data: dict, *, patient: Patient, doctors: dict[str, StaffMember]):
        self.doctors = doctors
        language = data.get("language", "")
        super().__init__({**data, "preferred_language": languages.from_words(language) or language},
                         patient=patient, doctors=StaffMember.objects.none())
        self.fields["preferred_language"].error_messages["invalid_choice"] = (
            f"“%(value)s” is not a language Portico speaks: use one of {', '.join(languages.codes())}.")

    def clean_doctor(self) -> StaffMember | None:
        username = self.cleaned_data["doctor"]
        if username and username not in self.doctors:
            raise ValidationError(f"No doctor with the username {username!r} in this practice.")
        return self.doctors.get(username)

    def changes_to(self, patient: Patient | None) -> dict:
        """What this row would change: every value for a new patient, else only the differences."""
        changes = self.changes()
        del changes["chart_number"]  # the row's key, not a change
        if changes["doctor"] is None:
            del changes["doctor"]
        if not changes["preferred_language"]:
            del changes["preferred_language"]
        if patient is None:
            return changes
        return {name: value for name, value in changes.items() if getattr(patient, name) != value}


@dataclass(frozen=True)
class RejectedRow:
    line: int  # as a spreadsheet numbers it: the header is line 1
    values: dict[str, str]
    problems: list[str]

    def describe(self) -> str:
        chart = self.values.get("chart_number") or "no chart number"
        return f"line {self.line} ({chart}): " + "; ".join(self.problems)


@dataclass(frozen=True)
class _CheckedRow:
    line: int
    chart_number: str
    patient: Patient | None  # None: a new patient
    changes: dict


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    imported: bool = True  # False when bad rows stopped the whole file

    def summary(self) -> str:
        return (f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"invalid {len(self.rejected)}")


def import_patients(
    practice: Practice, file: Iterable[str] | io.TextIOBase, *, by: StaffMember | None = None,
    skip_invalid: bool = False, progress: Progress | None = None,
) -> ImportReport:
    """Check every row, then (if all are good, or `skip_invalid`) create and update patients."""
    rows = list(read_rows(file))
    checked, rejected = _check_rows(practice, rows)
    report = ImportReport(rejected=rejected)
    if rejected and not skip_invalid:
        report.imported = False
        return report
    report.unchanged = sum(1 for row in checked if row.patient is not None and not row.changes)
    to_write = [row for row in checked if row.patient is None or row.changes]
    done = len(checked) - len(to_write)
    report_progress = progress or (lambda done, total: None)
    report_progress(done, len(checked))
    new = [row for row in to_write if row.patient is None]
    for start in range(0, len(new), CREATE_BATCH):
        batch = new[start:start + CREATE_BATCH]
        _create(practice, batch)
        report.created += len(batch)
        done += len(batch)
        report_progress(done, len(checked))
    for row in to_write:
        if row.patient is not None:
            update_patient(row.patient, by=by, **row.changes)
            report.updated += 1
            done += 1
            report_progress(done, len(checked))
    return report


def read_rows(file: Iterable[str] | io.TextIOBase) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, values by column) for each data row; extra columns are ignored."""
    reader = csv.DictReader(file)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except UnicodeDecodeError:
        raise ImportFileError("The file is not UTF-8 text: save it as 'CSV UTF-8' and try again.") from None
    if missing := [name for name in REQUIRED_COLUMNS if name not in header]:
        raise ImportFileError(f"The header row has no {', '.join(missing)} column. "
                              f"Columns are read by name: {', '.join(COLUMNS)}.")
    reader.fieldnames = header
    try:
        for record in reader:
            values = {name: (record.get(name) or "").strip() for name in COLUMNS}
            yield reader.line_num, values
    except (csv.Error, UnicodeDecodeError) as e:
        raise ImportFileError(f"Line {reader.line_num} cannot be read as CSV ({e}).") from None


def rejected_rows_csv(rejected: list[RejectedRow]) -> str:
    """The rejected rows as CSV, with their line and what is wrong, to fix and import again. The SSN
    is masked: this file is kept and downloaded, and the line number finds the row in the original.
    Kept as the rows came (less any NUL, which a database column cannot hold); `write_rejected_csv`
    makes the download safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "problems", *COLUMNS])
    for row in rejected:
        values = {**row.values, "ssn": _mask(row.values["ssn"])}
        writer.writerow([row.line, "; ".join(row.problems), *(values[name] for name in COLUMNS)])
    return storable(out.getvalue())


def write_rejected_csv(result: PatientImport, out) -> None:
    """The import's rejected rows as a download, through the product's one CSV writer."""
    SafeWriter(out).writerows(csv.reader(io.StringIO(result.rejected_csv)))


def import_upload(practice: Practice, upload: UploadedFile, *, by: StaffMember, skip_invalid: bool) -> PatientImport:
    """Import a file uploaded on the staff page and keep its report."""
    try:
        report = import_patients(practice, io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline=""),
                                 by=by, skip_invalid=skip_invalid)
    finally:
        upload.close()
    return PatientImport.objects.create(
        practice=practice, started_by=by, at=timezone.now(), file_name=upload.name[:200],
        imported=report.imported, created=report.created, updated=report.updated, unchanged=report.unchanged,
        invalid=len(report.rejected), rejected_csv=rejected_rows_csv(report.rejected) if report.rejected else "",
    )


def _mask(ssn: str) -> str:
    return f"***-**-{ssn[-4:]}" if len(ssn) > 4 else ("*" * len(ssn))


def _check_rows(practice: Practice, rows: list[tuple[int, dict[str, str]]]) -> tuple[list[_CheckedRow], list[RejectedRow]]:
    existing = {p.chart_number: p for p in Patient.objects.filter(practice=practice).select_related("practice")}
    doctors = {m.user.get_username(): m for m in
               StaffMember.objects.filter(practice=practice, role=StaffMember.Role.DOCTOR).select_related("user")}
    first_line: dict[str, int] = {}
    checked, rejected = [], []
    for line, values in rows:
        problems = []
        chart_number = values["chart_number"]
        if chart_number in first_line:
            problems.append(f"chart_number: {chart_number} is already on line {first_line[chart_number]}")
        elif chart_number:
            first_line[chart_number] = line
        patient = existing.get(chart_number)
        form = ImportRowForm(values, patient=patient or Patient(practice=practice), doctors=doctors)
        if not form.is_valid():
            problems += [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
        if problems:
            rejected.append(RejectedRow(line, values, problems))
        else:
            checked.append(_CheckedRow(line, chart_number, patient, form.changes_to(patient)))
    return checked, rejected


@transaction.atomic(durable=True)
def _create(practice: Practice, rows: list[_CheckedRow]) -> None:
    patients = []
    for row in rows:
        patient = Patient(practice=practice, chart_number=row.chart_number, **row.changes)
        try:
            patient.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as e:  # the form checks the same; this guards against the two drifting
            raise ImportFileError(f"Line {row.line}: {e}") from None
        patient.sync_ssn_last4()
        patients.append(patient)
    try:
        Patient.objects.bulk_create(patients)
    except IntegrityError:
        raise ImportFileError("A patient with one of these chart numbers was added while the file was "
                              "being imported: nothing from this batch was saved. Import the file again.") from None
