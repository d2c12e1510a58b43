"""The people who act for a patient (issue 21), under the patient's portal access: list, invite a
parent or guardian, revoke anyone, through access.actions.proxies with the invitations' problem codes.
Responses describe proxies by their row; the link's token never leaves access and mail."""

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from access.actions import proxies
from access.proxy_selectors import ProxyRow, proxy_for, proxy_rows
from api.endpoints.patients import ERRORS, load
from api.schemas import TEXT, Input, Problem
from clinic.proxy_forms import GuardianForm
from portico.client import Client

router = Router(tags=["portal access"])
WRITE_ERRORS = {**ERRORS, 409: Problem}


class ProxyOut(Schema):
    id: int
    kind: str = Field(description="guardian (a parent or guardian of a minor, invited by staff) or caregiver "
                                  "(invited by the adult patient).")
    status: str = Field(description="pending, expired, locked (the link), active, revoked or ended.")
    first_name: str
    last_name: str
    relationship: str
    email: str
    level: str = Field(description="full (what the patient would see) or limited (appointments and practice contact).")
    since: datetime.datetime = Field(description="When it was accepted, else invited; if revoked or ended, when it ended.")
    link_expires_at: datetime.datetime | None = Field(None, description="The newest link's expiry.")
    end_reason: str = ""


class GuardianIn(Input):
    first_name: str = Field(max_length=100, pattern=TEXT)
    last_name: str = Field(max_length=100, pattern=TEXT)
    relationship: str = Field(description="mother, father, parent, guardian, relative or other.", pattern=TEXT)
    email: str = Field("", max_length=150, pattern=TEXT)
    mobile_phone: str = Field("", max_length=40, pattern=TEXT, description="With the area code.")
    teen_agreed: bool = Field(False, description="Staff recorded the teen's agreement to full access (from the "
                                                 "practice's limited-from age).")


def proxy_out(row: ProxyRow) -> dict:
    proxy = row.proxy
    return {"id": proxy.pk, "kind": proxy.kind, "status": row.state, "first_name": proxy.first_name,
            "last_name": proxy.last_name, "relationship": proxy.relationship, "email": proxy.email,
            "level": proxy.level, "since": row.since, "end_reason": proxy.end_reason,
            "link_expires_at": row.link.expires_at if row.link else None}


@router.get("/{patient_id}/portal_access/proxies", response={200: list[ProxyOut], **ERRORS},
            summary="Parents, guardians and caregivers who act (or acted) for the patient")
def list_proxies(request: HttpRequest, patient_id: int):
    return [proxy_out(row) for row in proxy_rows(load(request, patient_id))]


@router.post("/{patient_id}/portal_access/proxies", response={201: ProxyOut, **WRITE_ERRORS},
             summary="Invite a parent or guardian of a minor (caregivers are invited by the patient)")
def invite_guardian(request: HttpRequest, patient_id: int, payload: GuardianIn):
    patient = load(request, patient_id)
    form = GuardianForm(payload.dict(), teen=True, prefix=None)  # the page's field rules, one place
    if not form.is_valid():
        raise ValidationError({name: [str(m) for m in messages] for name, messages in form.errors.items()})
    sent = proxies.invite_guardian(patient, form.guardian(), by=request.staff, teen_agreed=payload.teen_agreed,
                                   client=Client.from_request(request))
    [row] = [r for r in proxy_rows(patient) if r.proxy.pk == sent.proxy.pk]
    return Status(201, proxy_out(row))


@router.delete("/{patient_id}/portal_access/proxies/{proxy_id}", response={204: None, **WRITE_ERRORS},
               summary="Revoke a proxy's access or pending link (guardian or caregiver)")
def revoke_proxy(request: HttpRequest, patient_id: int, proxy_id: int):
    patient = load(request, patient_id)
    proxies.revoke_proxy(proxy_for(request.staff, patient, proxy_id), by=request.staff, client=Client.from_request(request))
    return Status(204, None)
