"""Bulk invitations (practice admins, as on the pages): start a job over patient ids or a filter, and
read its progress and per-patient report. Jobs run in the worker through access.actions."""

from django.http import HttpRequest
from ninja import Router, Status

from access.actions import jobs
from access.models import InvitationJob
from access.selectors import invitation_job_for, job_progress, job_skip_counts, search_patients, skipped_patients
from api import errors
from api.endpoints.patients import ERRORS
from api.schemas import JobIn, JobOut
from clinic import selectors
from clinic.models import Patient, StaffMember

router = Router(tags=["bulk invitations"])


def _admin(request: HttpRequest) -> StaffMember:
    if request.staff.role != StaffMember.Role.ADMIN:
        raise errors.Problem(404, "not_found", "Bulk invitations are for practice admins.")
    return request.staff


@router.post("", response={202: JobOut, **ERRORS}, summary="Start a bulk invitation job")
def start_job(request: HttpRequest, payload: JobIn):
    staff = _admin(request)
    if (payload.patient_ids is None) == (payload.filter is None):
        raise errors.Problem(422, "invalid", "Send either patient_ids or filter.",
                             errors={"__all__": ["Send either patient_ids or filter."]})
    if payload.patient_ids is not None:
        ids = set(payload.patient_ids)
        patients = Patient.objects.filter(practice_id=staff.practice_id, pk__in=ids)
        for foreign in sorted(ids - set(patients.values_list("pk", flat=True)))[:1]:
            selectors.patient_for(staff, foreign)  # 404, recorded if foreign
        selection = f"{len(ids)} patient(s) chosen over the API"
    else:
        patients = search_patients(staff, q=payload.filter.q, state=payload.filter.status or "")
        selection = f"API filter: {payload.filter.q or 'all'}, status {payload.filter.status or 'any'}"
    job = jobs.start_invitation_job(staff.practice, patients, by=staff, selection=selection)
    return Status(202, job_out(job))


@router.get("/{job_id}", response={200: JobOut, **ERRORS}, summary="A job's progress and per-patient report")
def get_job(request: HttpRequest, job_id: int):
    staff = _admin(request)
    return job_out(invitation_job_for(staff, job_id))


def job_out(job: InvitationJob) -> dict:
    progress = job_progress(job)
    return {
        "id": job.pk, "status": job.status, "selection": job.selection, "created_at": job.created_at,
        "total": progress.total, "invited": progress.invited, "skipped": progress.skipped,
        "emails_delivered": progress.emails_delivered, "emails_failed": progress.emails_failed,
        "done": progress.done, "skipped_reasons": job_skip_counts(job),
        "skipped_patients": [{"patient_id": row.patient_id, "chart_number": row.patient.chart_number,
                              "reason_code": row.reason_code, "reason": row.reason} for row in skipped_patients(job)],
    }
