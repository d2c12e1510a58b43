"""Patients: search, create, read, change. Validation is the Demographics form's; saving goes through
clinic.services, so a changed email revokes a pending invitation exactly as on the page."""

from django.http import HttpRequest
from ninja import Query, Router, Status

from access.selectors import search_patients
from access.summary import portal_access
from api import errors, pagination
from api.schemas import PatientCreate, PatientOut, PatientPage, PatientQuery, PatientUpdate, Problem
from clinic import selectors, services
from clinic.forms import DemographicsForm, NewPatientForm
from clinic.models import Patient
from portico.client import Client

router = Router(tags=["patients"])
ERRORS = {400: Problem, 401: Problem, 404: Problem, 413: Problem, 422: Problem, 429: Problem}


def out(patient: Patient, portal_state: str | None = None) -> dict:
    return {
        "id": patient.pk, "chart_number": patient.chart_number, "first_name": patient.first_name,
        "last_name": patient.last_name, "email": patient.email, "date_of_birth": patient.date_of_birth,
        "phone": patient.phone, "ssn_masked": patient.masked_ssn, "doctor_id": patient.doctor_id,
        "preferred_language": patient.preferred_language,
        "portal_status": portal_state or portal_access(patient).state, "created_at": patient.created_at,
    }


def load(request: HttpRequest, patient_id: int) -> Patient:
    """The patient if they are in the token's practice; otherwise 404, and another practice's id recorded."""
    return selectors.patient_for(request.staff, patient_id)


@router.get("", response={200: PatientPage, **ERRORS}, summary="Search patients")
def list_patients(request: HttpRequest, params: Query[PatientQuery]):
    patients = search_patients(request.staff, q=params.q, state=params.status or "").order_by("id")
    if params.cursor:
        [after] = pagination.decode(params.cursor, types=(int,))
        patients = patients.filter(pk__gt=after)
    page = list(patients[:params.limit + 1])
    more = len(page) > params.limit
    page = page[:params.limit]
    return {"items": [out(p, p.portal_state) for p in page],
            "next_cursor": pagination.encode([page[-1].pk]) if more else None}


@router.post("", response={201: PatientOut, **ERRORS}, summary="Create a patient")
def create_patient(request: HttpRequest, payload: PatientCreate):
    """Validated by the page's New patient form (Demographics and a chart number new to the practice)."""
    data = {("doctor" if name == "doctor_id" else name): ("" if value is None else value)
            for name, value in payload.model_dump().items()}
    form = NewPatientForm(data, practice=request.staff.practice,
                          doctors=selectors.practice_doctors(request.staff.practice_id))
    _check(form)
    patient = services.create_patient(request.staff.practice, by=request.staff, client=Client.from_request(request),
                                      chart_number=form.cleaned_data["chart_number"], **form.changes())
    return Status(201, out(patient))


@router.get("/{patient_id}", response={200: PatientOut, **ERRORS}, summary="Read a patient")
def get_patient(request: HttpRequest, patient_id: int):
    return out(load(request, patient_id))


@router.patch("/{patient_id}", response={200: PatientOut, **ERRORS}, summary="Change a patient's details")
def update_patient(request: HttpRequest, patient_id: int, payload: PatientUpdate):
    patient = load(request, patient_id)
    sent = payload.model_dump(exclude_unset=True)
    changes = _clean(request, patient, sent)
    patient = services.update_patient(patient, by=request.staff, client=Client.from_request(request), **changes)
    return out(patient)


def _clean(request: HttpRequest, patient: Patient, sent: dict) -> dict:
    """Validate through the Demographics form (the fields not sent keep their values on file) and
    return the changes for clinic.services, only for the fields sent."""
    data = {**DemographicsForm.initial_for(patient), "first_name": patient.first_name,
            "last_name": patient.last_name, "doctor": patient.doctor_id or "",
            "preferred_language": patient.preferred_language}
    for name, value in sent.items():
        data["doctor" if name == "doctor_id" else name] = "" if value is None else value
    if sent.get("ssn") == "" and patient.ssn_last4:
        data["ssn"], data["clear_ssn"] = "", "on"
    form = DemographicsForm(data, patient=patient, doctors=selectors.practice_doctors(request.staff.practice_id))
    _check(form)
    changes = form.changes()
    names = {"doctor" if name == "doctor_id" else name for name in sent}
    return {name: value for name, value in changes.items() if name in names}


def _check(form) -> None:
    if not form.is_valid():
        raise errors.Problem(422, "invalid", "Some fields are not valid; see `errors`.",
                             errors={name: list(messages) for name, messages in form.errors.items()})
