"""Read clinic records for a staff member. Reads only: another practice's id raises OtherPractice, a
404 like a missing record; the scoping edge (access.middleware for the pages, api.errors for the API)
records that probe in the audit trail through an access action."""

import datetime

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.http import Http404

from clinic import validation
from clinic.models import Appointment, Notification, Patient, PatientImport, Practice, StaffMember
from portico.bulk import among


class OtherPractice(Http404):
    """`staff` asked for a `kind` record (id `record_id`) that belongs to another practice."""

    def __init__(self, staff: StaffMember, kind: str, record_id: int):
        super().__init__(f"No such {kind}")
        self.staff, self.kind, self.record_id = staff, kind, record_id


def patient_for(staff: StaffMember, patient_id: int) -> Patient:
    patient = Patient.objects.select_related("practice", "doctor__user").filter(pk=patient_id).first()
    return own(staff, patient, patient_id, "patient")


def appointment_for(staff: StaffMember, appointment_id: int) -> Appointment:
    appointment = (
        Appointment.objects.select_related("practice", "patient__practice", "patient__doctor__user", "doctor__user")
        .filter(pk=appointment_id).first()
    )
    return own(staff, appointment, appointment_id, "appointment")


def patient_import_for(staff: StaffMember, import_id: int) -> PatientImport:
    return own(staff, PatientImport.objects.filter(pk=import_id).first(), import_id, "import")


def recent_imports(staff: StaffMember, *, limit: int = 10) -> list[PatientImport]:
    return list(PatientImport.objects.filter(practice_id=staff.practice_id).select_related("started_by__user")[:limit])


def own(staff: StaffMember, record, record_id: int, kind: str):
    """`record` if it is of the staff member's practice; Http404 if there is none, OtherPractice if it
    is another practice's."""
    if record is None:
        raise Http404(f"No such {kind}")
    # An appointment is also checked through its patient, in case bad data ever joined practices.
    practices = {record.practice_id, getattr(getattr(record, "patient", None), "practice_id", record.practice_id)}
    if practices != {staff.practice_id}:
        raise OtherPractice(staff, kind, record_id)
    return record


# --- read-only queries for the staff pages (constant query counts; see the page tests) ------------

def matching_patients(staff: StaffMember, q: str = "") -> QuerySet[Patient]:
    """The practice's patients matching `q` (name, chart number, email or phone); all of them for none.

    The condition is `_search_condition`, whatever the database. It reads every patient of the
    practice unless an index narrows it first: on PostgreSQL pg_trgm indexes on the very expressions
    it compares (migration 0008), on SQLite the trigram FTS5 table (`_trigram_candidates`), read
    once here so a page's count and rows do not each look it up."""
    q = " ".join(q.split())
    if not q:
        return Patient.objects.filter(practice_id=staff.practice_id)
    if connection.vendor == "sqlite" and (candidates := _trigram_candidates(staff.practice_id, q)) is not None:
        # Looked up by id, the practice compared as an expression rather than through its index:
        # otherwise SQLite, knowing nothing of how many patients a practice has, reads all of them in
        # name order to find these few.
        if not candidates:
            return Patient.objects.none()
        # (The ids as one parameter: binding hundreds one by one cost more than the query, twice a page.)
        return (Patient.objects.filter(pk__in=among(candidates)).alias(practice_of=F("practice_id") + 0)
                .filter(_search_condition(q), practice_of=staff.practice_id))
    return Patient.objects.filter(_search_condition(q), practice_id=staff.practice_id)


def _trigram_candidates(practice_id: int, q: str) -> list[int] | None:
    """The ids of the practice's patients the FTS5 trigram table finds for `_trigram_match(q)`; None
    if it cannot look `q` up, or finds too many for a list of ids to be the cheaper way."""
    if (match := _trigram_match(q)) is None:
        return None
    # CROSS JOIN: SQLite then reads the tables in the order written, the index's matches first, each
    # looked up by id for its practice. With a plain JOIN it may start from the practice's patients and
    # run the MATCH once per patient: minutes at 100,000 patients (docs/performance.md, "Search").
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT found.rowid FROM {SEARCH_TABLE} AS found CROSS JOIN clinic_patient "  # noqa: S608
                       f"ON clinic_patient.id = found.rowid "
                       f"WHERE {SEARCH_TABLE} MATCH %s AND clinic_patient.practice_id = %s LIMIT %s",
                       [match, practice_id, MAX_LISTED + 1])
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= MAX_LISTED else None


CHOICES_SHOWN = 10
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")  # as staff type a date of birth: ISO, or the US order


def patients_to_choose(staff: StaffMember, q: str) -> list[Patient]:
    """The first patients (by name) for a booking's patient field: those born on `q` when it reads as
    a date, else the patient list's search (matching_patients)."""
    q = " ".join(q.split())
    if not q:
        return []
    if (born := _as_date(q)) is not None:
        patients = Patient.objects.filter(practice_id=staff.practice_id, date_of_birth=born)
    else:
        patients = matching_patients(staff, q)
    return list(patients.defer("ssn").order_by("last_name", "first_name", "id")[:CHOICES_SHOWN])


def _as_date(q: str) -> datetime.date | None:
    for pattern in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(q, pattern).date()
        except ValueError:
            continue
    return None


def in_language(patients: QuerySet[Patient], language: str, practice: Practice) -> QuerySet[Patient]:
    """Those whose emails and invitation pages are in `language`: the chart says so, or it names none
    and the practice's default is `language`."""
    condition = Q(preferred_language=language)
    if practice.default_language == language:
        condition |= Q(preferred_language="")
    return patients.filter(condition)


def _search_condition(q: str) -> Q:
    condition = Q(chart_number__iexact=q) | Q(email__icontains=q)
    names = Q()
    for word in _words(q):
        names &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    condition |= names
    if q.isdigit():
        # The number of a chart number without its prefix ("100" finds "A-100"); case-insensitive
        # (the same for digits) so PostgreSQL's index on UPPER(chart_number) serves it.
        condition |= Q(chart_number__iendswith=q)
    if phone := _phone_query(q):
        digits, normalised = phone
        condition |= Q(phone__endswith=digits)
        if normalised:
            condition |= Q(phone=normalised)
    return condition


def _words(q: str) -> list[str]:
    return q.replace(",", " ").split()


def _phone_query(q: str) -> tuple[str, str] | None:
    """(its digits, the number in E.164 or "") if `q` reads as a phone number, else None."""
    digits = "".join(c for c in q if c.isdigit())
    if len(digits) < 7 or any(c.isalpha() for c in q):
        return None
    try:
        return digits, validation.normalize_phone(q)
    except ValidationError:
        return digits, ""


# SQLite's trigram index: an FTS5 table over these columns of clinic_patient (migration 0008).
SEARCH_TABLE = "clinic_patient_search"
TRIGRAM = 3  # a string needs 3 characters for the trigram index to find it
MAX_LISTED = 5000  # more candidates than this: the practice's rows are read as without the index


def _trigram_match(q: str) -> str | None:
    """An FTS5 query for every patient `_search_condition(q)` can match (and some it does not: the
    condition decides): each of its branches is a substring of a column, and a trigram phrase
    finds exactly the rows holding a substring, case folded (ASCII and beyond, so at least what
    SQLite's ASCII-only LIKE finds). None when a branch has no 3 characters to look up (a query of 1
    or 2 characters, a name of short words only): the search then reads the practice's rows as it
    did without the index. A name word shorter than 3 characters is left out of the look-up (one
    condition fewer: more candidates, never fewer)."""
    long_words = [word for word in _words(q) if len(word) >= TRIGRAM]
    if len(q) < TRIGRAM or not long_words:
        return None
    names = " AND ".join(f"{{first_name last_name}} : {_phrase(word)}" for word in long_words)
    branches = [f"{{chart_number email}} : {_phrase(q)}", f"({names})"]
    if phone := _phone_query(q):
        branches.append(f"phone : {_phrase(phone[0])}")
    return " OR ".join(branches)


def _phrase(text: str) -> str:
    """`text` as an FTS5 string (its own double quotes doubled)."""
    return '"' + text.replace('"', '""') + '"'


def patient_appointments(patient: Patient) -> QuerySet[Appointment]:
    return patient.appointments.select_related("doctor__user").order_by("-starts_at", "-id")


def practice_doctors(practice_id: int) -> QuerySet[StaffMember]:
    return (StaffMember.objects.filter(practice_id=practice_id, role=StaffMember.Role.DOCTOR)
            .select_related("user").order_by("user__last_name", "user__first_name", "id"))


def appointments_starting(
    staff: StaffMember, start: datetime.datetime, end: datetime.datetime, *, doctor: StaffMember | None = None,
) -> QuerySet[Appointment]:
    """The practice's appointments starting in [start, end), in order, with their patient and doctor."""
    return (Appointment.objects.filter(practice_id=staff.practice_id, starts_at__gte=start, starts_at__lt=end)
            .filter(**({"doctor": doctor} if doctor else {}))
            .select_related("patient", "doctor__user").order_by("starts_at", "id"))


def notifications_for(staff: StaffMember) -> QuerySet[Notification]:
    return staff.notifications.select_related("patient").order_by("-created_at", "-id")


def notification_for(staff: StaffMember, notification_id: int) -> Notification:
    """One of this staff member's own notifications; anyone else's is a 404 (OtherPractice if it
    belongs to another practice)."""
    notification = (Notification.objects.select_related("recipient").filter(pk=notification_id).first())
    if notification is None or notification.recipient_id != staff.pk:
        if notification is not None and notification.recipient.practice_id != staff.practice_id:
            raise OtherPractice(staff, "notification", notification_id)
        raise Http404("No such notification")
    return notification
