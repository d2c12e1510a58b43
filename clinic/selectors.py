"""Load clinic records for a staff member. Another practice's id gives 404 (as a missing one does)
and is recorded, so probing shows up in the audit trail."""

import logging

from django.db import transaction
from django.http import Http404

from access.history import Actor, Client, record
from access.models import AccessEvent
from clinic.models import Appointment, Patient, StaffMember

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


def _own(staff: StaffMember, obj, obj_id: int, kind: str, client: Client | None):
    if obj is None:
        raise Http404(f"No such {kind}")
    if obj.practice_id != staff.practice_id:
        _record_foreign_id(staff, kind, obj_id, client)
        raise Http404(f"No such {kind}")
    return obj


def _record_foreign_id(staff: StaffMember, kind: str, obj_id: int, client: Client | None) -> None:
    log.warning("staff %s asked for %s %s of another practice", staff.pk, kind, obj_id)
    with transaction.atomic():
        record(staff.practice, AccessEvent.Action.FOREIGN_ID, actor=Actor.staff(staff),
               outcome=AccessEvent.Outcome.FAILURE, reason=f"{kind} {obj_id}", client=client or Client())
