"""Turn mail delivery outcomes and staff sign-ins into access history. (Failed sign-ins are counted
by access.signins itself, before the password is checked.)"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver

from access import selectors
from access.actions import outcomes
from access.history import Actor, record
from access.models import AccessEvent
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
    _record_staff_session(AccessEvent.Action.STAFF_SIGNED_IN, request, user)


@receiver(user_logged_out)
def record_staff_sign_out(sender, request, user, **kwargs) -> None:
    _record_staff_session(AccessEvent.Action.STAFF_SIGNED_OUT, request, user)


def _record_staff_session(action: str, request, user) -> None:
    member = getattr(user, "staff", None) if user is not None else None
    if member is None:
        return  # patients and the admin-only superuser have no practice history
    with transaction.atomic():
        record(member.practice, action, actor=Actor.staff(member), client=Client.from_request(request))

