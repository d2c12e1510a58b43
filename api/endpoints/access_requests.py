"""Requests for portal access (the practice's public page): list them, approve one for a chart (an
invitation to the chart's email) or decline it, through access.actions.requests, with the pages' rules
and problem codes."""

from django.http import HttpRequest
from ninja import Query, Router, Status

from access.actions import requests
from access.models import AccessRequest
from access.request_selectors import request_for, requests_of, with_matches
from api import pagination
from api.endpoints.patients import ERRORS, load
from api.endpoints.portal_access import sent_out
from api.schemas import (
    AccessRequestOut,
    AccessRequestPage,
    AccessRequestQuery,
    ApproveRequestIn,
    DeclineRequestIn,
    InvitationOut,
    Problem,
)
from portico.client import Client

router = Router(tags=["access requests"])
WRITE_ERRORS = {**ERRORS, 409: Problem}


def out(access_request: AccessRequest, charts: list | None = None) -> dict:
    """The request as the API shows it; `charts`: its matching charts if already read (with_matches)."""
    if charts is None:
        [matched] = with_matches([access_request])
        charts = matched.charts
    is_open = access_request.status == AccessRequest.Status.OPEN
    match = ("no_match" if not charts else "one_match" if len(charts) == 1 else "possible_duplicates") if is_open else ""
    return {
        "id": access_request.pk, "status": access_request.status, "first_name": access_request.first_name,
        "last_name": access_request.last_name, "date_of_birth": access_request.date_of_birth,
        "email": access_request.email, "phone": access_request.phone, "note": access_request.note,
        "created_at": access_request.created_at, "updated_at": access_request.updated_at, "match": match,
        "matching_patient_ids": [p.pk for p in charts] if is_open else [],
        "patient_id": access_request.patient_id, "decided_at": access_request.decided_at,
        "decline_reason": access_request.decline_reason, "invitation_id": access_request.invitation_id,
    }


@router.get("", response={200: AccessRequestPage, **ERRORS}, summary="List access requests (open ones by default)")
def list_requests(request: HttpRequest, params: Query[AccessRequestQuery]):
    found = requests_of(request.staff, status=params.status).order_by("pk")
    if params.cursor:
        [after] = pagination.decode(params.cursor, types=(int,))
        found = found.filter(pk__gt=after)
    page = list(found[:params.limit + 1])
    more = len(page) > params.limit
    page = page[:params.limit]
    return {"items": [out(m.request, m.charts) for m in with_matches(page)],
            "next_cursor": pagination.encode([page[-1].pk]) if more else None}


@router.get("/{request_id}", response={200: AccessRequestOut, **ERRORS}, summary="Read an access request")
def get_request(request: HttpRequest, request_id: int):
    return out(request_for(request.staff, request_id))


@router.post("/{request_id}/approve", response={201: InvitationOut, **WRITE_ERRORS},
             summary="Approve: invite the chart it is for (to the chart's email)")
def approve(request: HttpRequest, request_id: int, payload: ApproveRequestIn):
    access_request = request_for(request.staff, request_id)
    patient = load(request, payload.patient_id)
    sent = requests.approve_request(access_request, patient, by=request.staff, update_email=payload.update_email,
                                    client=Client.from_request(request))
    return Status(201, sent_out(sent))


@router.post("/{request_id}/decline", response={200: AccessRequestOut, **WRITE_ERRORS},
             summary="Decline with a reason (the requester is emailed its words)")
def decline(request: HttpRequest, request_id: int, payload: DeclineRequestIn):
    access_request = request_for(request.staff, request_id)
    declined = requests.decline_request(access_request, reason=payload.reason, by=request.staff,
                                        client=Client.from_request(request))
    return out(declined, [])
