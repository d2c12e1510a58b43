"""Small helpers shared by the staff views."""

import datetime
import math

from django.http import HttpResponse
from django.utils import dateformat, timezone

from access.actions import sending
from access.actions.sending import SentInvitation
from access.selectors import staff_choices
from clinic import selectors
from clinic.models import Appointment, Patient, Practice
from portico.client import Client

PAGE_SIZE = 25


def client_of(request) -> Client:
    return Client.from_request(request)


def load_patient(request, patient_id: int) -> Patient:
    """The patient, if they belong to the signed-in staff member's practice; otherwise 404 (recorded)."""
    return selectors.patient_for(request.staff, patient_id, client=client_of(request))


def load_appointment(request, appointment_id: int) -> Appointment:
    return selectors.appointment_for(request.staff, appointment_id, client=client_of(request))


def local_time(moment: datetime.datetime, practice: Practice) -> str:
    """E.g. "Wed 2 Dec 2026, 10:00 AM EST", in the practice's time zone."""
    return dateformat.format(timezone.localtime(moment, practice.tzinfo), "D j M Y, g:i A T")


def days_left(expires_at: datetime.datetime | None) -> int | None:
    if expires_at is None:
        return None
    return max(0, math.ceil((expires_at - timezone.now()).total_seconds() / 86400))


def revoke_target(status: selectors.PortalStatus) -> str | None:
    """What Revoke would end now (sending.INVITATION or sending.ACCESS), as Portal Access offers it;
    None if there is nothing to revoke. The confirmation names it; the action still decides."""
    choices = staff_choices(status.state, [])
    if choices.can_revoke_invite:
        return sending.INVITATION
    return sending.ACCESS if choices.can_revoke_access else None


def confirmed_revoke_target(request) -> str | None:
    """What the confirmation the staff member answered named (its form says), so only that is revoked."""
    target = request.POST.get("target")
    return target if target in (sending.INVITATION, sending.ACCESS) else None


REVOKED_TEXT = {
    sending.INVITATION: "Invitation revoked: {name}'s invitation link no longer works.",
    sending.ACCESS: "Portal access revoked: {name} can no longer reach this practice in the portal.",
}


def sent_text(sent: SentInvitation, practice: Practice, *, resent: bool = False) -> str:
    invitation = sent.invitation
    start = "A new invitation was sent" if resent else "Invitation sent"
    end = " The previous link no longer works." if resent else ""
    return f"{start} to {invitation.email}. It expires {local_time(invitation.expires_at, practice)}.{end}"


def csv_download(filename: str) -> HttpResponse:
    """An empty CSV attachment to write rows into (staff_required already marks it no-store)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
