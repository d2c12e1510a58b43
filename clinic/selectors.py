"""Read clinic records for a staff member. Reads only: another practice's id raises OtherPractice, a
404 like a missing record; the scoping edge (access.middleware for the pages, api.errors for the API)
records that probe in the audit trail through an access action."""

import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from clinic import validation
from clinic.models import Appointment, Notification, Patient, PatientImport, Practice, StaffMember


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
    """The practice's patients matching `q` (name, chart number, email or phone); all of them for none."""
    patients = Patient.objects.filter(practice_id=staff.practice_id)
    if q := " ".join(q.split()):
        patients = patients.filter(_search_condition(q))
    return patients


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
    for word in q.replace(",", " ").split():
        names &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    condition |= names
    if q.isdigit():
        # The number of a chart number without its prefix ("100" finds "A-100"). The email match
        # above already reads every row of the practice, so this adds no scan of its own.
        condition |= Q(chart_number__endswith=q)
    digits = "".join(c for c in q if c.isdigit())
    if len(digits) >= 7 and not any(c.isalpha() for c in q):
        try:
            condition |= Q(phone=validation.normalize_phone(q))
        except ValidationError:
            pass
        condition |= Q(phone__endswith=digits)
    return condition


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
