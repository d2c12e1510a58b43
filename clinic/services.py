"""Changes to clinic records: patients and appointments. Each is one transaction; those that touch
portal access call access.actions (a changed email revokes a pending invitation; a booked or completed
appointment may invite automatically), so the rules fire from here whoever calls: a staff page, the
patient import or the API. Bad input raises ValidationError, by field where there is one."""

import datetime
import logging
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext

from access.actions import automatic, sending, texting, visit_access
from access.models import TextConsent
from clinic import validation
from clinic.models import Appointment, Patient, Practice, StaffMember
from portico.bulk import among, loaded, relate, update_rows
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.clinic")

CONTACT_FIELDS = ("email", "ssn", "date_of_birth", "phone", "mobile_phone")
# The lengths an appointment may have, in minutes.
MIN_MINUTES, MAX_MINUTES = 5, 8 * 60
# Appointments that hold their doctor's time (a cancelled or missed one frees it).
HOLDS_THE_DOCTOR = (Appointment.Status.SCHEDULED, Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED)


@transaction.atomic(durable=True)
def update_patient(patient: Patient, *, by: StaffMember | None, client: Client = NO_CLIENT,
                   text_consent: bool | None = None, **changes) -> Patient:
    """Save new demographics. A changed email revokes a pending invitation (recorded), so access
    never goes to an old address; a changed mobile number ends the old number's consent to texts
    (recorded). `text_consent` (None: unchanged) records staff taking the patient's spoken agreement, or
    refusal, for the mobile number now on the chart. `changes` must already be clean (see clinic.forms)."""
    # The same lock as every access action takes first (access.actions._lock): patient row, then
    # invitation, then practice; FOR NO KEY UPDATE lets rows pointing at the patient be inserted meanwhile.
    locked = Patient.objects.select_for_update(of=("self",), no_key=True).select_related("practice").get(
        pk=patient.pk)
    email_changed, old_mobile = _email_changes(locked, changes), locked.mobile_phone
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean(exclude=["practice", "doctor"])
    locked.save()
    if email_changed:
        sending.revoke_pending_after_email_change(locked, by=by, client=client)
    if locked.mobile_phone != old_mobile:
        texting.mobile_number_changed(locked, old_mobile, by=by, client=client)
    if text_consent is not None:
        texting.record_consent_step(locked, consented=text_consent, source=TextConsent.Source.STAFF_SPOKEN, by=by,
                                    client=client)
    visit_access.patient_changed(locked)  # the Reports' summary carries the name and details
    return locked


@transaction.atomic(durable=True)
def update_patients(practice: Practice, changes: dict[int, dict], *, by: StaffMember | None,
                    client: Client = NO_CLIENT) -> None:
    """update_patient for many patients of the practice (the patient import), `changes` by patient id
    (by field name, already clean: clinic.importing checks them with the Demographics form). The
    patients are locked in one statement, in id order (the one lock order, patient first), each
    row's changes applied to what is on file then, and written with one UPDATE statement per set of
    changed columns. A changed email revokes a pending invitation, recorded, as for one patient."""
    locked = loaded(Patient, Patient.objects.select_for_update(of=("self",), no_key=True)
                    .filter(practice=practice, pk__in=among(sorted(changes))).order_by("pk").values())
    relate(locked, "practice", (practice for _ in locked))
    by_columns: dict[tuple[str, ...], list[tuple]] = defaultdict(list)
    emails_changed = []
    for patient in locked:
        fields = changes[patient.pk]
        if _email_changes(patient, fields):
            emails_changed.append(patient)
        for name, value in fields.items():
            setattr(patient, name, value)
        patient.sync_ssn_last4()
        columns = tuple(sorted({*fields, *(("ssn_last4",) if "ssn" in fields else ())}))
        by_columns[columns].append((*(_column_value(patient, name) for name in columns), patient.pk))
    for columns, rows in by_columns.items():
        update_rows(Patient, [Patient._meta.get_field(name).attname for name in columns], rows)
    for patient in emails_changed:
        sending.revoke_pending_after_email_change(patient, by=by, client=client)


def _email_changes(patient: Patient, changes: dict) -> bool:
    return "email" in changes and not validation.same_email(changes["email"] or "", patient.email or "")


def _column_value(patient: Patient, name: str):
    """The value `name` has in the database (encrypted, a date as the database takes it, a key's id)."""
    field = Patient._meta.get_field(name)
    return field.get_db_prep_save(field.pre_save(patient, add=False), connection)  # pre_save seals an SSN


@transaction.atomic(durable=True)
def create_patient(practice: Practice, *, by: StaffMember | None, client: Client = NO_CLIENT, chart_number: str,
                   **fields) -> Patient:
    """A new patient of the practice. `fields` (first_name, last_name, email, ssn, date_of_birth, phone,
    doctor) must already be clean, as for update_patient (clinic.forms.NewPatientForm). The chart
    number must be new to the practice; the doctor one of its doctors."""
    patient = Patient(practice=practice, chart_number=" ".join(chart_number.split()), **fields)
    if patient.doctor is not None and (patient.doctor.practice_id != practice.pk
                                       or patient.doctor.role != StaffMember.Role.DOCTOR):
        raise ValidationError({"doctor": gettext("Choose one of this practice's doctors.")})
    patient.full_clean(exclude=["practice"], validate_constraints=False)
    try:
        with transaction.atomic():
            patient.save(force_insert=True)
    except IntegrityError:  # the constraint decides, so two people adding one chart number get one patient
        raise ValidationError({"chart_number": gettext("Chart number %(number)s is already in use.")
                                               % {"number": patient.chart_number}}) from None
    return patient


@transaction.atomic(durable=True)
def book_appointment(
    *, patient: Patient, doctor: StaffMember, starts_at: datetime.datetime, minutes: int, reason: str = "",
    by: StaffMember | None,
) -> Appointment:
    """Book the patient with one of the practice's doctors, unless the doctor already has an appointment
    overlapping that time (two bookings at once: one wins, the other is refused). Then, as the
    practice's "Invite automatically" setting says, the patient may be invited (access.actions), in
    the booking's transaction (see _invite_automatically)."""
    if patient.practice.auto_invite == Practice.AutoInvite.BOOKED:
        # The patient's lock before the doctor's (the one lock order, patient first): a patient held by
        # a bulk invitation chunk then delays this booking alone, not every booking of the doctor.
        Patient.objects.select_for_update(of=("self",), no_key=True).filter(pk=patient.pk).values_list("pk").get()
    appointment = _book(patient=patient, doctor=doctor, starts_at=starts_at, minutes=minutes, reason=reason)
    log.info("appointment %s booked by %s", appointment.pk, by.pk if by else "system")
    _invite_automatically(appointment.patient_id, Practice.AutoInvite.BOOKED)
    return appointment


@transaction.atomic(durable=True)
def cancel_appointment(*, appointment: Appointment, by: StaffMember | None) -> Appointment:
    return _close(appointment, Appointment.Status.CANCELLED, by)


@transaction.atomic(durable=True)
def mark_no_show(*, appointment: Appointment, by: StaffMember | None) -> Appointment:
    return _close(appointment, Appointment.Status.NO_SHOW, by)


@transaction.atomic(durable=True)
def complete_appointment(*, appointment: Appointment, by: StaffMember | None) -> Appointment:
    """Mark it completed; after a patient's first completed appointment the practice's "Invite
    automatically" setting may invite them (in the same transaction, as for a booking)."""
    # The patient's lock first (the one lock order): an invitation being sent to them meanwhile then
    # waits for this visit, or this visit sees it, so the Reports' summary row is right either way.
    Patient.objects.select_for_update(of=("self",), no_key=True).filter(pk=appointment.patient_id).values_list("pk").get()
    appointment = _close(appointment, Appointment.Status.COMPLETED, by)
    visit_access.visit_completed(appointment)  # before an automatic invitation, which then counts for it
    _invite_automatically(appointment.patient_id, Practice.AutoInvite.COMPLETED)
    return appointment


def _invite_automatically(patient_id: int, trigger: str) -> None:
    """The automatic invitation, in a savepoint of the appointment's transaction: committed with it,
    so a process dying in between cannot book without inviting, while an invitation that fails (any
    error: the database, a template, a key) rolls back only itself, never the appointment (a refusal
    raises nothing). If the failure left the transaction unable to commit (the connection died), it is
    raised: the booking must not be reported made when it will be rolled back."""
    try:
        with transaction.atomic():
            automatic.invite_automatically([patient_id], trigger=trigger)
    except Exception:
        connection = transaction.get_connection()
        if connection.needs_rollback or connection.closed_in_transaction:
            raise
        log.exception("automatic invitation of patient %s after %s failed; the appointment stands", patient_id, trigger)


def _book(*, patient: Patient, doctor: StaffMember, starts_at: datetime.datetime, minutes: int,
          reason: str) -> Appointment:
    if starts_at.tzinfo is None:
        raise ValidationError({"starts_at": gettext("Give the start time with its time zone.")})
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValidationError({"minutes": gettext("An appointment lasts %(shortest)d to %(longest)d minutes.")
                                          % {"shortest": MIN_MINUTES, "longest": MAX_MINUTES}})
    if doctor.role != StaffMember.Role.DOCTOR or doctor.practice_id != patient.practice_id:
        raise ValidationError({"doctor": gettext("Choose one of this practice's doctors.")})
    # One booking per doctor at a time: their row is the lock, so two bookings racing for an hour queue
    # up here and the second sees the first.
    StaffMember.objects.select_for_update(no_key=True).filter(pk=doctor.pk).get()
    ends_at = starts_at + datetime.timedelta(minutes=minutes)
    clash = Appointment.objects.filter(doctor=doctor, status__in=HOLDS_THE_DOCTOR, starts_at__lt=ends_at,
                                       ends_at__gt=starts_at).select_related("patient").first()
    if clash is not None:
        tz = patient.practice.tzinfo
        raise ValidationError({"starts_at": gettext("%(doctor)s already has an appointment then (%(start)s to %(end)s).")
                                            % {"doctor": doctor.display_name,
                                               "start": f"{clash.starts_at.astimezone(tz):%-I:%M %p}",
                                               "end": f"{clash.ends_at.astimezone(tz):%-I:%M %p}"}})
    appointment = Appointment(practice_id=patient.practice_id, patient=patient, doctor=doctor, starts_at=starts_at,
                              ends_at=ends_at, reason=" ".join(reason.split()))
    appointment.full_clean()
    appointment.save()
    return appointment


# Which status each closing step may come from.
_OPEN = (Appointment.Status.SCHEDULED, Appointment.Status.CHECKED_IN)


def _close(appointment: Appointment, status: str, by: StaffMember | None) -> Appointment:
    """Scheduled (or checked in) -> `status`, with one conditional UPDATE, so a double click or two
    people at once change it once; anything else is refused."""
    if not Appointment.objects.filter(pk=appointment.pk, status__in=_OPEN).update(status=status):
        current = Appointment.objects.get(pk=appointment.pk).get_status_display().lower()
        raise ValidationError(gettext("This appointment is already %(status)s.") % {"status": current},
                              code="appointment_closed")
    log.info("appointment %s %s by %s", appointment.pk, status, by.pk if by else "system")
    return Appointment.objects.select_related("patient", "doctor__user", "practice").get(pk=appointment.pk)
