"""A patient's portal access: the summary the Portal Access page shows, and its four buttons, through
access.actions. Responses describe invitations by their row; the token never leaves access and mail."""

from django.http import HttpRequest
from ninja import Query, Router, Status

from access.actions import sending
from access.actions.sending import SentInvitation
from access.models import AccessEvent, Channel, Invitation
from access.selectors import access_history
from access.summary import portal_access
from api import errors, pagination
from api.endpoints.patients import ERRORS, load
from api.schemas import EventPage, InvitationOut, InviteIn, PageQuery, PortalAccessOut, Problem
from clinic import selectors
from portico.client import Client

router = Router(tags=["portal access"])
WRITE_ERRORS = {**ERRORS, 409: Problem}


def invitation_out(invitation: Invitation) -> dict:
    return {"id": invitation.pk, "status": invitation.status, "email": invitation.email, "channel": invitation.channel,
            "sent_at": invitation.sent_at, "expires_at": invitation.expires_at,
            "sent_by": invitation.sent_by.display_name if invitation.sent_by else None}


def sent_out(sent: SentInvitation) -> dict:
    return invitation_out(sent.invitation)  # only the invitation row: sent.token stays here


@router.get("/{patient_id}/portal_access", response={200: PortalAccessOut, **ERRORS},
            summary="Portal access: status, what is missing, the live invitation or connection, possible actions")
def get_portal_access(request: HttpRequest, patient_id: int):
    portal = portal_access(load(request, patient_id))
    choices = portal.choices
    return {
        "status": portal.state, "status_label": portal.label, "eligible": not portal.missing,
        "missing": portal.missing, "email_failed": portal.email_failed,
        "text_failed": portal.text_failed,
        "invitation": invitation_out(portal.invitation) if portal.invitation else None,
        "connection": {"connected_at": portal.connection.connected_at} if portal.connection else None,
        "actions": {"can_invite": not choices.enable_blocked, "invite_blocked_reason": choices.enable_blocked,
                    "can_revoke_invitation": choices.can_revoke_invite, "can_revoke_access": choices.can_revoke_access,
                    "can_resend": choices.can_resend},
    }


@router.post("/{patient_id}/portal_access", response={201: InvitationOut, **WRITE_ERRORS},
             summary="Send an invitation")
def send_invitation(request: HttpRequest, patient_id: int, payload: InviteIn | None = None):
    patient = load(request, patient_id)
    channel = Channel.API
    if payload is not None and payload.appointment is not None:
        appointment = selectors.appointment_for(request.staff, payload.appointment)
        if appointment.patient_id != patient.pk:
            raise errors.Problem(422, "invalid", "That appointment is another patient's.",
                          errors={"appointment": ["That appointment is another patient's."]})
        channel = Channel.APPOINTMENT
    sent = sending.send_invitation(patient, by=request.staff, channel=channel, client=Client.from_request(request))
    return Status(201, sent_out(sent))


@router.delete("/{patient_id}/portal_access", response={204: None, **WRITE_ERRORS},
               summary="Revoke the pending invitation or the live access")
def revoke(request: HttpRequest, patient_id: int):
    patient = load(request, patient_id)
    sending.revoke_invitation(patient, by=request.staff, client=Client.from_request(request))
    return Status(204, None)


@router.post("/{patient_id}/portal_access/resend", response={201: InvitationOut, **WRITE_ERRORS},
             summary="Resend: revoke the pending invitation and send a new one")
def resend(request: HttpRequest, patient_id: int):
    patient = load(request, patient_id)
    sent = sending.resend_invitation(patient, by=request.staff, channel=Channel.API, client=Client.from_request(request))
    return Status(201, sent_out(sent))


@router.get("/{patient_id}/portal_access/history", response={200: EventPage, **ERRORS},
            summary="The access history, newest first")
def history(request: HttpRequest, patient_id: int, params: Query[PageQuery]):
    events = access_history(load(request, patient_id))
    if params.cursor:
        [after] = pagination.decode(params.cursor, types=(int,))
        events = events.filter(pk__lt=after)
    page = list(events.order_by("-id")[:params.limit + 1])
    more = len(page) > params.limit
    page = page[:params.limit]
    return {"items": [event_out(e) for e in page], "next_cursor": pagination.encode([page[-1].pk]) if more else None}


def event_out(event: AccessEvent) -> dict:
    staff = getattr(event.actor, "staff", None) if event.actor else None
    name = staff.display_name if staff else (event.actor.get_full_name() if event.actor else "")
    return {"id": event.pk, "at": event.at, "action": event.action, "action_label": event.get_action_display(),
            "actor_kind": event.actor_kind, "actor_role": event.actor_role, "actor_name": name,
            "channel": event.channel, "outcome": event.outcome, "reason": event.reason,
            "invitation_id": event.invitation_id}

