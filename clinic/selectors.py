"""Load clinic records for a staff member. Another practice's id gives 404 (as a missing one does)
and is recorded, so probing shows up in the audit trail."""

import datetime
import logging
from dataclasses import dataclass
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from access.eligibility import local_today
from access.history import Actor, record
from access.models import AccessEvent, InvitationJob
from access.selectors import (
    NEEDS_ATTENTION,
    PortalState,
    access_history,
    in_portal_state,
    needing_attention,
    with_portal_state,
)
from clinic import validation
from clinic.models import Appointment, Notification, Patient, PatientImport, Practice, StaffMember
from portico.client import Client

log = logging.getLogger("portico.clinic")


def patient_for(staff: StaffMember, patient_id: int, *, client: Client | None = None) -> Patient:
    patient = Patient.objects.select_related("practice", "doctor__user").filter(pk=patient_id).first()
    return _own(staff, patient, patient_id, "patient", client)


def appointment_for(staff: StaffMember, appointment_id: int, *, client: Client | None = None) -> Appointment:
    appointment = (
        Appointment.objects.select_related("practice", "patient__practice", "patient__doctor__user", "doctor__user")
        .filter(pk=appointment_id).first()
    )
    return _own(staff, appointment, appointment_id, "appointment", client)


def patient_import_for(staff: StaffMember, import_id: int, *, client: Client | None = None) -> PatientImport:
    return _own(staff, PatientImport.objects.filter(pk=import_id).first(), import_id, "import", client)


def invitation_job_for(staff: StaffMember, job_id: int, *, client: Client | None = None) -> InvitationJob:
    job = InvitationJob.objects.select_related("started_by__user").filter(pk=job_id).first()
    return _own(staff, job, job_id, "invitation job", client)


def recent_imports(staff: StaffMember, *, limit: int = 10) -> list[PatientImport]:
    return list(PatientImport.objects.filter(practice_id=staff.practice_id).select_related("started_by__user")[:limit])


def _own(staff: StaffMember, obj, obj_id: int, kind: str, client: Client | None):
    if obj is None:
        raise Http404(f"No such {kind}")
    # An appointment is also checked through its patient, in case bad data ever joined practices.
    practices = {obj.practice_id, getattr(getattr(obj, "patient", None), "practice_id", obj.practice_id)}
    if practices != {staff.practice_id}:
        _record_foreign_id(staff, kind, obj_id, client)
        raise Http404(f"No such {kind}")
    return obj


def _record_foreign_id(staff: StaffMember, kind: str, obj_id: int, client: Client | None) -> None:
    log.warning("staff %s asked for %s %s of another practice", staff.pk, kind, obj_id)
    with transaction.atomic():
        record(staff.practice, AccessEvent.Action.FOREIGN_ID, actor=Actor.staff(staff),
               outcome=AccessEvent.Outcome.FAILURE, reason=f"{kind} {obj_id}", client=client or Client())


# --- read-only queries for the staff pages (constant query counts; see the page tests) ------------

@dataclass(frozen=True)
class PortalStatus:
    """A patient's portal state as the pages show it."""

    state: str
    expires_at: datetime.datetime | None  # of the latest invitation, whatever its state
    email_failed: bool = False  # the pending invitation's email could not be delivered

    @property
    def label(self) -> str:
        return PortalState.LABELS[self.state]

    @property
    def is_pending(self) -> bool:
        return self.state == PortalState.PENDING


def portal_status(patient: Patient) -> PortalStatus:
    state, expires_at, email_failed = (
        with_portal_state(Patient.objects.filter(pk=patient.pk), **_practice_day(patient.practice))
        .values_list("portal_state", "invitation_expires_at", "email_failed").get()
    )
    return PortalStatus(state, expires_at, email_failed)


class PracticeDay(TypedDict):
    today: datetime.date
    minimum_age: int


def _practice_day(practice: Practice) -> PracticeDay:
    """The practice's date and minimum age, for the portal state of its own patients: eligibility is
    then a comparison of the date of birth with one date (see access.eligibility.eligible)."""
    return {"today": local_today(practice), "minimum_age": practice.minimum_age}


def search_patients(staff: StaffMember, *, q: str = "", state: str = "") -> QuerySet[Patient]:
    """The practice's patients matching `q` (name, chart number, email or phone), annotated as
    access.selectors.with_portal_state does, optionally only those in `state` (or NEEDS_ATTENTION)."""
    patients, day = Patient.objects.filter(practice_id=staff.practice_id), _practice_day(staff.practice)
    if q := " ".join(q.split()):
        patients = patients.filter(_search_condition(q))
    if state == NEEDS_ATTENTION:
        patients = needing_attention(patients, practice_id=staff.practice_id, **day)
    elif state:
        patients = in_portal_state(patients, state, practice_id=staff.practice_id, **day)
    else:
        patients = with_portal_state(patients, **day)
    return patients.defer("ssn").order_by("last_name", "first_name", "id")


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


def patient_history(patient: Patient) -> QuerySet[AccessEvent]:
    """The access history, newest first, with each staff actor's membership loaded too."""
    return access_history(patient).select_related("actor__staff")


def patient_appointments(patient: Patient) -> QuerySet[Appointment]:
    return patient.appointments.select_related("doctor__user").order_by("-starts_at", "-id")


def practice_doctors(practice_id: int) -> QuerySet[StaffMember]:
    return (StaffMember.objects.filter(practice_id=practice_id, role=StaffMember.Role.DOCTOR)
            .select_related("user").order_by("user__last_name", "user__first_name", "id"))


def appointments_between(
    staff: StaffMember, start: datetime.datetime, end: datetime.datetime, *, doctor: StaffMember | None = None,
) -> list[Appointment]:
    """The practice's appointments starting in [start, end), each with `patient.portal_state` set
    (two queries however many appointments)."""
    appointments = list(
        Appointment.objects.filter(practice_id=staff.practice_id, starts_at__gte=start, starts_at__lt=end)
        .filter(**({"doctor": doctor} if doctor else {}))
        .select_related("patient", "doctor__user").order_by("starts_at", "id")
    )
    ids = {a.patient_id for a in appointments}
    states = dict(with_portal_state(Patient.objects.filter(pk__in=ids), **_practice_day(staff.practice))
                  .values_list("pk", "portal_state"))
    for appointment in appointments:
        appointment.patient.portal_state = states.get(appointment.patient_id, PortalState.NOT_ELIGIBLE)
        appointment.patient.portal_state_label = PortalState.LABELS[appointment.patient.portal_state]
    return appointments


def notifications_for(staff: StaffMember) -> QuerySet[Notification]:
    return staff.notifications.select_related("patient").order_by("-created_at", "-id")


def unread_notification_count(staff: StaffMember) -> int:
    return staff.notifications.filter(read_at__isnull=True).count()


def notification_for(staff: StaffMember, notification_id: int, *, client: Client | None = None) -> Notification:
    """One of this staff member's own notifications; anyone else's is a 404 (recorded if it belongs
    to another practice)."""
    notification = (Notification.objects.select_related("recipient").filter(pk=notification_id).first())
    if notification is None or notification.recipient_id != staff.pk:
        if notification is not None and notification.recipient.practice_id != staff.practice_id:
            _record_foreign_id(staff, "notification", notification_id, client)
        raise Http404("No such notification")
    return notification
