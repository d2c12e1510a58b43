"""Appointments: the calendar's reads and its booking, cancel, complete and no-show, through the same
clinic.services functions (which also apply the practice's "Invite automatically" setting)."""

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Status

from access.selectors import appointments_between
from api.endpoints.patients import ERRORS, load
from api.schemas import AppointmentChange, AppointmentCreate, AppointmentOut, AppointmentQuery, Problem
from clinic import selectors, services
from clinic.models import Appointment, StaffMember

router = Router(tags=["appointments"])
MAX_RANGE = datetime.timedelta(days=31)
CLOSE = {"cancelled": services.cancel_appointment, "completed": services.complete_appointment,
         "no_show": services.mark_no_show}


def out(appointment: Appointment) -> dict:
    return {"id": appointment.pk, "patient_id": appointment.patient_id, "doctor_id": appointment.doctor_id,
            "starts_at": appointment.starts_at, "ends_at": appointment.ends_at, "reason": appointment.reason,
            "status": appointment.status,
            "patient_portal_status": getattr(appointment.patient, "portal_state", None)}


def _doctor(request: HttpRequest, doctor_id: int) -> StaffMember:
    """One of the practice's doctors; anything else is a field error (it says nothing of other practices)."""
    doctor = selectors.practice_doctors(request.staff.practice_id).filter(pk=doctor_id).first()
    if doctor is None:
        raise ValidationError({"doctor_id": "Choose one of this practice's doctors."})
    return doctor


@router.get("", response={200: list[AppointmentOut], **ERRORS}, summary="Appointments between two moments")
def list_appointments(request: HttpRequest, params: Query[AppointmentQuery]):
    if params.start.tzinfo is None or params.end.tzinfo is None:
        raise ValidationError({"start": "Give both moments with their time zone."})
    if not datetime.timedelta(0) < params.end - params.start <= MAX_RANGE:
        raise ValidationError({"end": "End after start, at most 31 days later."})
    doctor = _doctor(request, params.doctor_id) if params.doctor_id is not None else None
    return [out(a) for a in appointments_between(request.staff, params.start, params.end, doctor=doctor)]


@router.post("", response={201: AppointmentOut, **ERRORS}, summary="Book an appointment")
def book(request: HttpRequest, payload: AppointmentCreate):
    patient = load(request, payload.patient_id)
    appointment = services.book_appointment(patient=patient, doctor=_doctor(request, payload.doctor_id),
                                            starts_at=payload.starts_at, minutes=payload.minutes,
                                            reason=payload.reason, by=request.staff)
    return Status(201, out(appointment))


@router.patch("/{appointment_id}", response={200: AppointmentOut, 409: Problem, **ERRORS},
              summary="Cancel, complete or mark a no-show (409 if it is already closed)")
def change(request: HttpRequest, appointment_id: int, payload: AppointmentChange):
    appointment = selectors.appointment_for(request.staff, appointment_id)
    return out(CLOSE[payload.status](appointment=appointment, by=request.staff))
