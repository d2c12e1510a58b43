"""The Portal Access buttons, the same on the chart and in the appointment window: send, resend and
revoke (after a confirmation that names what will end). Each calls one access action and says what
happened as a message; the caller redirects or redraws."""

from django.contrib import messages
from django.utils.translation import gettext, gettext_lazy

from access.actions import sending
from access.actions.sending import SentInvitation
from access.errors import InvitationError, NothingToRevoke
from access.summary import PortalAccess
from clinic.models import Patient, Practice
from clinic.views.common import client_of, local_time

REVOKED_TEXT = {
    sending.INVITATION: gettext_lazy("Invitation revoked: %(name)s's invitation link no longer works."),
    sending.ACCESS: gettext_lazy("Portal access revoked: %(name)s can no longer reach this practice in the portal."),
}


def invite(request, patient: Patient, action, *, channel: str, resent: bool = False) -> None:
    """Send (sending.send_invitation) or resend (sending.resend_invitation) from `channel`."""
    try:
        sent = action(patient, by=request.staff, channel=channel, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, sent_text(sent, patient.practice, resent=resent))


def revoke(request, patient: Patient) -> None:
    """Revoke only what the answered confirmation named (its form's `target`)."""
    try:
        revoked = sending.revoke_invitation(patient, by=request.staff, client=client_of(request),
                                            only=_confirmed_target(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, REVOKED_TEXT[revoked] % {"name": patient.full_name})


def revoke_target(request, portal: PortalAccess) -> str | None:
    """What the confirmation will name; None, with a message saying so, when there is nothing to revoke."""
    if portal.revoke_target is None:
        messages.error(request, NothingToRevoke().message)
    return portal.revoke_target


def _confirmed_target(request) -> str | None:
    target = request.POST.get("target")
    return target if target in (sending.INVITATION, sending.ACCESS) else None


def sent_text(sent: SentInvitation, practice: Practice, *, resent: bool = False) -> str:
    invitation = sent.invitation
    words = {"email": invitation.email, "when": local_time(invitation.expires_at, practice)}
    if resent:
        return gettext("A new invitation was sent to %(email)s. It expires %(when)s. The previous link no longer "
                       "works.") % words
    return gettext("Invitation sent to %(email)s. It expires %(when)s.") % words
