"""Texts: a patient's mobile number and consent to texts (the ledger), and what became of the texts sent."""

from django.http import HttpRequest
from ninja import Router, Status

from access.actions.texting import record_text_consent
from access.text_selectors import TextingSummary, texting_summary
from api.endpoints.patients import ERRORS, load
from api.schemas import TextConsentIn, TextingOut
from portico.client import Client

router = Router(tags=["texts"])
LATEST_TEXTS = 20


def texting_out(summary: TextingSummary) -> dict:
    return {
        "mobile_phone": summary.mobile_phone, "consented": summary.consented, "can_be_texted": summary.can_be_texted,
        "invite_by": summary.invite_by,
        "consent_ledger": [{"consented": s.consented, "source": s.source, "at": s.at, "note": s.note,
                            "recorded_by": s.recorded_by.display_name if s.recorded_by else None} for s in summary.ledger],
        "texts": [{"id": t.pk, "kind": t.kind, "status": t.status, "error_code": t.error_code,
                   "invitation_id": t.invitation_id, "created_at": t.created_at, "due_at": t.next_attempt_at,
                   "accepted_at": t.accepted_at, "finished_at": t.finished_at} for t in summary.texts],
    }


@router.get("/{patient_id}/texts", response={200: TextingOut, **ERRORS},
            summary="Texts: the mobile number, its consent ledger and the latest texts with their outcome")
def get_texts(request: HttpRequest, patient_id: int):
    return texting_out(texting_summary(load(request, patient_id), latest=LATEST_TEXTS))


@router.post("/{patient_id}/text_consent", response={201: TextingOut, **ERRORS},
             summary="Record consent to texts (or its withdrawal), with its source; optionally set the mobile number")
def post_text_consent(request: HttpRequest, patient_id: int, payload: TextConsentIn):
    patient = load(request, patient_id)
    record_text_consent(patient, number=payload.mobile_phone, consented=payload.consented, source=payload.source,
                        by=request.staff, client=Client.from_request(request))
    patient.refresh_from_db()
    return Status(201, texting_out(texting_summary(patient, latest=LATEST_TEXTS)))
