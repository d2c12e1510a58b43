"""Import a practice's existing patients from a CSV file.

Rows are matched on chart number: new ones are created, existing ones updated through
`clinic.services.update_patients`, the same rule as the Demographics page (a changed email revokes a
pending invitation, recorded). Every row is checked by the Demographics form's own fields and clean
methods before anything is written, so a file with a bad row imports nothing unless the caller asks
to skip the bad rows.

The file is checked set-wise (docs/performance.md, "Import"): one pass over the rows through one
bound form, the chart numbers on file read in one query, duplicates within the file found on the
way; then the writes, in chunks of WRITE_CHUNK rows, one transaction each (bulk INSERT of new
patients, one UPDATE per set of changed columns).
"""

import csv
import datetime
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.forms.utils import ErrorDict
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django_tasks_db.models import DBTaskResult

from access.actions.texting import record_imported_consents
from clinic import validation
from clinic.forms import DemographicsForm
from clinic.models import Patient, PatientImport, Practice, StaffMember
from clinic.services import update_patients
from portico import crypto, languages
from portico.bulk import among, insert_rows, instances
from portico.spreadsheet import SafeWriter
from portico.text import storable

COLUMNS = ("chart_number", "first_name", "last_name", "email", "ssn", "date_of_birth", "phone", "doctor", "language",
           "mobile_phone", "text_consent")
# mobile_phone and text_consent are read for texts (_texts_of, then access.actions.texting), not by the
# Demographics form.
CONSENT_WORDS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}
REQUIRED_COLUMNS = ("chart_number", "first_name", "last_name")
WRITE_CHUNK = 5000

Progress = Callable[[int, int], None]  # (rows done, rows in all)


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV, not UTF-8, a required column missing)."""


class ImportInterrupted(ImportFileError):
    """A chunk could not be written (a chart number added meanwhile): the chunks before it are saved."""


class ImportRowForm(DemographicsForm):
    """The rows of a file, checked by the Demographics form's own fields and clean methods; the doctor
    is named by username, the language as a code or a name ("es", "Spanish", "Español") in the column
    `language`, and a blank doctor, SSN or language keeps what is on file.

    One form checks every row (`check`), and each column's value is cleaned once per file: building
    a form per row (a deep copy of every field) and cleaning the same date of birth, name or doctor
    again cost more than everything else an import does. Every clean method of this form is about
    its one field (the form-wide `clean` still runs per row), so a value's answer is the same on any
    row; test_import_patients checks the messages against the Demographics form's."""

    chart_number = forms.CharField(label=gettext_lazy("Chart number"), max_length=32)
    doctor = forms.CharField(label=gettext_lazy("Doctor"), required=False)
    COLUMN_OF = {"preferred_language": "language"}  # the file's column for a form field named otherwise

    def __init__(self, *, practice: Practice, doctors: dict[str, StaffMember]):
        self.doctors = doctors
        super().__init__({}, patient=Patient(practice=practice), doctors=StaffMember.objects.none())
        # The file's mobile_phone and text_consent columns follow the consent ledger's rule (_texts_of).
        del self.fields["mobile_phone"], self.fields["text_consent"]
        self.fields["preferred_language"].error_messages["invalid_choice"] = (
            gettext("“%(value)s” is not a language Portico speaks: use one of {codes}.").format(
                codes=", ".join(languages.codes())))
        self._answers: dict[tuple[str, str], tuple[bool, object]] = {}

    def clean_doctor(self) -> StaffMember | None:
        username = self.cleaned_data["doctor"]
        if username and username not in self.doctors:
            raise ValidationError(gettext("No doctor with the username %(username)s in this practice.")
                                  % {"username": repr(username)})
        return self.doctors.get(username)

    def check(self, values: dict[str, str]) -> list[str]:
        """Clean one row as Form.full_clean would; its problems as "field: message" (none: the row's
        values are in cleaned_data)."""
        language = values.get("language", "")
        values = {**values, "preferred_language": languages.from_words(language) or language}
        self.data, self.cleaned_data, self._errors = values, {}, ErrorDict()
        for name, form_field in self.fields.items():
            raw = values.get(name, "")
            if (name, raw) not in self._answers:
                self._answers[name, raw] = self._clean_value(name, form_field, raw)
            good, answer = self._answers[name, raw]
            if good:
                self.cleaned_data[name] = answer
            else:
                self.add_error(name, answer)
        self._clean_form()
        return [f"{self.COLUMN_OF.get(name, name)}: {' '.join(errors)}" for name, errors in self._errors.items()]

    def _clean_value(self, name: str, form_field: forms.Field, raw: str) -> tuple[bool, object]:
        """(True, the clean value) or (False, the ValidationError), as Form._clean_fields does one field."""
        try:
            self.cleaned_data[name] = form_field.clean(raw)
            if hasattr(self, f"clean_{name}"):
                return True, getattr(self, f"clean_{name}")()
            return True, self.cleaned_data[name]
        except ValidationError as e:
            return False, e

    def fields_to_write(self) -> dict:
        """The checked row's values by model field, but the chart number (the row's key); a blank
        doctor, SSN or language is left out, so it keeps what is on file."""
        values = self.changes()
        del values["chart_number"]
        if values["doctor"] is None:
            del values["doctor"]
        if not values["preferred_language"]:
            del values["preferred_language"]
        return values


def columns_on_file() -> tuple[str, ...]:
    """The patient columns a row can change (attnames), read to compare a row with what is on file:
    every field of the row form that is a field of Patient, but the chart number."""
    names = [name for name in ImportRowForm.base_fields if name != "chart_number"]
    return tuple(f.attname for f in Patient._meta.concrete_fields if f.name in names)


def changes_from(on_file: dict | None, values: dict) -> dict:
    """What a row would change: every value for a new patient (`on_file` None), else the differences."""
    if on_file is None:
        return values
    as_columns = _by_attname(values)
    return {name: value for (name, value), (column, stored) in zip(values.items(), as_columns.items(), strict=True)
            if on_file[column] != stored}


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
    patient_id: int | None  # None: a new patient
    changes: dict
    texts: tuple[str, bool | None] | None = None  # (mobile number, consent or None: blank), if given


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
    """Check every row, then (if all are good, or `skip_invalid`) create and update patients.
    `progress` hears (rows done, rows in all) as the rows are checked and again as they are written:
    checking is half of the work, writing the other half."""
    report_progress = progress or (lambda done, total: None)
    rows = list(read_rows(file))
    checked, rejected = _check_rows(practice, rows, lambda done: report_progress(done, 2 * len(rows)))
    report = ImportReport(rejected=rejected)
    if rejected and not skip_invalid:
        report.imported = False
        return report
    new = [row for row in checked if row.patient_id is None]
    changed = [row for row in checked if row.patient_id is not None and row.changes]
    report.unchanged = len(checked) - len(new) - len(changed)
    done = len(rows) + len(rejected) + report.unchanged
    report_progress(done, 2 * len(rows))
    for chunk in _chunks(new):
        _create(practice, chunk)
        report.created += len(chunk)
        done += len(chunk)
        report_progress(done, 2 * len(rows))
    for chunk in _chunks(changed):
        update_patients(practice, {row.patient_id: row.changes for row in chunk}, by=by)
        report.updated += len(chunk)
        done += len(chunk)
        report_progress(done, 2 * len(rows))
    _record_texts(practice, checked, by=by)
    return report


def _chunks(rows: list) -> Iterator[list]:
    for start in range(0, len(rows), WRITE_CHUNK):
        yield rows[start:start + WRITE_CHUNK]


def _record_texts(practice: Practice, checked: list[_CheckedRow], *, by: StaffMember | None) -> None:
    """The mobile_phone and text_consent columns, after the patients exist: the consent ledger's rule."""
    if rows := [row for row in checked if row.texts is not None]:
        ids = dict(Patient.objects.filter(practice=practice, chart_number__in=among(r.chart_number for r in rows))
                   .values_list("chart_number", "pk"))
        record_imported_consents(practice, [(ids[r.chart_number], *r.texts) for r in rows], by=by)


def _texts_of(values: dict[str, str], on_file: dict | None) -> tuple[tuple[str, bool | None] | None, list[str]]:
    """The row's (mobile number, consent) if it gives either, and its problems."""
    raw_number, raw_consent = values.get("mobile_phone", ""), values.get("text_consent", "").lower()
    if not raw_number and not raw_consent:
        return None, []
    problems, number = [], on_file["mobile_phone"] if on_file is not None else ""
    if raw_number:
        try:
            number = validation.normalize_phone(raw_number)
        except ValidationError as e:
            problems.append(f"mobile_phone: {' '.join(e.messages)}")
    if raw_consent and raw_consent not in CONSENT_WORDS:
        problems.append("text_consent: " + gettext("write yes or no (or leave it blank)."))
    elif raw_consent and not number and not problems:
        problems.append("text_consent: " + gettext("consent to texts needs a mobile_phone."))
    return (None if problems else (number, CONSENT_WORDS.get(raw_consent))), problems


def read_rows(file: Iterable[str] | io.TextIOBase) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, values by column) for each data row; extra columns are ignored."""
    reader = csv.DictReader(file)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except UnicodeDecodeError:
        raise ImportFileError(gettext("The file is not UTF-8 text: save it as 'CSV UTF-8' and try again.")) from None
    if missing := [name for name in REQUIRED_COLUMNS if name not in header]:
        raise ImportFileError(gettext("The header row has no %(missing)s column. Columns are read by name: %(columns)s.")
                              % {"missing": ", ".join(missing), "columns": ", ".join(COLUMNS)})
    reader.fieldnames = header
    try:
        for record in reader:
            values = {name: (record.get(name) or "").strip() for name in COLUMNS}
            yield reader.line_num, values
    except (csv.Error, UnicodeDecodeError) as e:
        # The inner reader's count: DictReader's own is still the last good row's when a row fails.
        raise ImportFileError(gettext("Line %(line)d cannot be read as CSV (%(error)s).")
                              % {"line": reader.reader.line_num, "error": e}) from None


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
    """Import a file uploaded on the staff page and keep its report: at once for a small file, by the
    task worker for a file over BACKGROUND_BYTES (start_background_import)."""
    if upload.size > BACKGROUND_BYTES:
        return start_background_import(practice, upload, by=by, skip_invalid=skip_invalid)
    try:
        report = import_patients(practice, io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline=""),
                                 by=by, skip_invalid=skip_invalid)
    finally:
        upload.close()
    return PatientImport.objects.create(
        practice=practice, started_by=by, at=timezone.now(), file_name=upload.name[:200], **_outcome(report))


def _outcome(report: ImportReport) -> dict:
    """The PatientImport columns that keep an import's report."""
    return {"imported": report.imported, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "invalid": len(report.rejected),
            "rejected_csv": rejected_rows_csv(report.rejected) if report.rejected else ""}


# A file larger than this (about 2,000 rows) is imported by the task worker, so the page can show its
# progress instead of waiting on one long request.
BACKGROUND_BYTES = 200 * 1024


def start_background_import(practice: Practice, upload: UploadedFile, *, by: StaffMember,
                            skip_invalid: bool) -> PatientImport:
    """Keep the file with a RUNNING import and queue its task. A file that cannot be read at all (not
    UTF-8, a required column missing) is refused here, at once, as a small file would be."""
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(gettext("The file is not UTF-8 text: save it as 'CSV UTF-8' and try again.")) from None
    finally:
        upload.close()
    next(read_rows(io.StringIO(text, newline="")), None)  # the header's columns, checked now
    with transaction.atomic():  # the task is a row of the same database: queued with the import, or neither
        result = PatientImport.objects.create(
            practice=practice, started_by=by, at=timezone.now(), file_name=upload.name[:200], imported=False,
            status=PatientImport.Status.RUNNING, source=storable(text), skip_invalid=skip_invalid)
        run_background_import.enqueue(result.pk)
    return result


@task(queue_name="default")
def run_background_import(import_id: int) -> None:
    """The task worker's run of a kept file: its steps written on the import as they are done (each
    its own short UPDATE, seen by the page at once), then the report, and the file let go."""
    result = PatientImport.objects.select_related("practice", "started_by").get(pk=import_id)
    if result.status != PatientImport.Status.RUNNING:
        return  # (a task run twice: the first run finished it)
    rows = PatientImport.objects.filter(pk=import_id)
    rows.update(progress_at=timezone.now())

    def progress(done: int, total: int) -> None:
        rows.update(steps_done=done, steps=total, progress_at=timezone.now())

    try:
        report = import_patients(result.practice, io.StringIO(result.source, newline=""), by=result.started_by,
                                 skip_invalid=result.skip_invalid, progress=progress)
    except ImportInterrupted as e:  # earlier chunks are in: not "nothing was imported"
        rows.update(status=PatientImport.Status.STOPPED, failure=str(e)[:300], source="")
        return
    except ImportFileError as e:
        rows.update(status=PatientImport.Status.FAILED, failure=str(e)[:300], source="")
        return
    rows.update(status=PatientImport.Status.DONE, source="", **_outcome(report))


# Steps come every 1,000 rows checked and every chunk written (seconds apart): an import whose worker
# took none for this long was stopped (killed, or its node lost).
STALLED_AFTER = datetime.timedelta(minutes=10)


def stop_stalled_imports() -> int:
    """Mark STOPPED every background import whose worker stopped mid-way, with what to do (run_periodic);
    returns how many. Each chunk it wrote was committed, so some rows may be in; importing the same file
    again finishes it (rows already on file count as unchanged). Its lost task is marked failed too, so
    no task stays "running" for a worker that is gone."""
    now = timezone.now()
    stalled = list(PatientImport.objects.filter(status=PatientImport.Status.RUNNING,
                                                progress_at__lt=now - STALLED_AFTER).values_list("pk", flat=True))
    for import_id in stalled:
        with transaction.atomic():
            if PatientImport.objects.filter(pk=import_id, status=PatientImport.Status.RUNNING).update(
                    status=PatientImport.Status.STOPPED, source="", failure=gettext(
                        "The import stopped part-way: its task worker stopped. Rows already written are kept; "
                        "import the same file again to finish (rows already on file count as unchanged).")):
                DBTaskResult.objects.filter(task_path=run_background_import.module_path,
                                            status=TaskResultStatus.RUNNING, args_kwargs__args=[import_id]).update(
                    status=TaskResultStatus.FAILED, finished_at=now, exception_class_path="",
                    traceback=f"Import {import_id} took no step for {STALLED_AFTER}: its worker is taken for dead.")
    return len(stalled)


def _mask(ssn: str) -> str:
    return f"***-**-{ssn[-4:]}" if len(ssn) > 4 else ("*" * len(ssn))


def _check_rows(
    practice: Practice, rows: list[tuple[int, dict[str, str]]], progress: Callable[[int], None],
) -> tuple[list[_CheckedRow], list[RejectedRow]]:
    on_file = _on_file(practice, {values["chart_number"] for _, values in rows})
    doctors = {m.user.get_username(): m for m in
               StaffMember.objects.filter(practice=practice, role=StaffMember.Role.DOCTOR).select_related("user")}
    form = ImportRowForm(practice=practice, doctors=doctors)
    first_line: dict[str, int] = {}
    checked, rejected = [], []
    for done, (line, values) in enumerate(rows, start=1):
        problems = []
        chart_number = values["chart_number"]
        if chart_number in first_line:
            problems.append("chart_number: " + gettext("%(number)s is already on line %(line)d")
                            % {"number": chart_number, "line": first_line[chart_number]})
        elif chart_number:
            first_line[chart_number] = line
        problems += form.check(values)  # the form reads its own fields: the text columns are not among them
        patient = on_file.get(chart_number)
        texts, text_problems = _texts_of(values, patient)
        problems += text_problems
        if problems:
            rejected.append(RejectedRow(line, values, problems))
        else:
            checked.append(_CheckedRow(line, chart_number, patient and patient["id"],
                                       changes_from(patient, form.fields_to_write()), texts))
        if done % 1000 == 0:
            progress(done)
    progress(len(rows))
    return checked, rejected


def _on_file(practice: Practice, chart_numbers: set[str]) -> dict[str, dict]:
    """The practice's patients with these chart numbers (one query), by chart number: their id and
    the columns a row can change (the SSN decrypted, to compare), and the mobile number that a
    text_consent column without a mobile_phone one applies to."""
    patients = Patient.objects.filter(practice=practice, chart_number__in=among(sorted(chart_numbers)))
    on_file = {row["chart_number"]: row for row in patients.values("id", "chart_number", "mobile_phone", *columns_on_file())}
    for row in on_file.values():  # .values() gives the SSN as stored: sealed to its chart
        row["ssn"] = crypto.open_value(Patient, "ssn", row["ssn"], practice_id=practice.pk,
                                       chart_number=row["chart_number"])
    return on_file


@transaction.atomic(durable=True)
def _create(practice: Practice, rows: list[_CheckedRow]) -> None:
    patients = instances(Patient, [{"practice_id": practice.pk, "chart_number": row.chart_number,
                                    **_by_attname(row.changes)} for row in rows])
    for patient in patients:
        patient.sync_ssn_last4()
        # A bulk insert writes column values, so each SSN is sealed to its chart here (portico.crypto).
        patient.ssn = crypto.seal(Patient, "ssn", patient.ssn, practice_id=practice.pk,
                                  chart_number=patient.chart_number)
    try:
        insert_rows(Patient, patients)
    except IntegrityError:
        raise ImportInterrupted(gettext("A patient with one of these chart numbers was added while the file was "
                                      "being imported: nothing from this batch was saved. Import the file again.")
                              ) from None


def _by_attname(values: dict) -> dict:
    """Values by field name as a row of the table (by attname: a doctor as its id), in the same order."""
    attnames = _attnames()
    return {attnames[name]: getattr(value, "pk", value) for name, value in values.items()}


@cache
def _attnames() -> dict[str, str]:
    return {f.name: f.attname for f in Patient._meta.concrete_fields}
