"""Turn mail delivery outcomes and staff sign-ins into access history, through access actions. (Failed
sign-ins are counted by access.signins itself, before the password is checked.)"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from access import selectors
from access.actions import audit, outcomes
from mail.signals import before_send, message_failed, message_skipped, messages_delivered
from portico.client import Client


@receiver(before_send)
def unwanted_invitation_mail(sender, messages, **kwargs) -> list[int]:
    return selectors.unwanted_invitation_mail(messages)


@receiver(messages_delivered)
def record_invitations_delivered(sender, messages, **kwargs) -> None:
    """A delivered batch: one event per invitation email or reminder in it, recorded set-wise."""
    if ids := [m.invitation_id for m in messages if m.kind in selectors.INVITATION_MAIL]:
        outcomes.record_email_outcomes(ids, delivered=True)


@receiver(message_failed)
def record_invitation_failed(sender, message, **kwargs) -> None:
    if message.kind in selectors.INVITATION_MAIL:
        outcomes.record_email_outcome(message.invitation_id, delivered=False)


@receiver(message_skipped)
def record_invitation_skipped(sender, message, **kwargs) -> None:
    if message.kind in selectors.INVITATION_MAIL:
        outcomes.record_email_skipped(message.invitation_id)


@receiver(user_logged_in)
def record_staff_sign_in(sender, request, user, **kwargs) -> None:
    if member := _staff_member(user):
        audit.record_staff_session(member, signed_in=True, client=Client.from_request(request))


@receiver(user_logged_out)
def record_staff_sign_out(sender, request, user, **kwargs) -> None:
    if member := _staff_member(user):
        audit.record_staff_session(member, signed_in=False, client=Client.from_request(request))


def _staff_member(user):
    """Patients and the admin-only superuser have no practice history."""
    return getattr(user, "staff", None) if user is not None else None
