"""Turn mail delivery outcomes and staff sign-ins into access history, through access actions. (Failed
sign-ins are counted by access.signins itself, before the password is checked.)"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from access import proxy_selectors, selectors, text_selectors
from access.actions import audit, outcomes, proxies, texting
from access.models import AccessEvent
from access.signals import events_recorded
from mail.signals import before_send, message_failed, message_skipped, messages_delivered
from portico.client import Client
from sms import signals as sms


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


# --- texts (sms.signals) ---------------------------------------------------------------------------

@receiver(sms.before_send)
def unwanted_texts(sender, texts, **kwargs) -> list[int]:
    return text_selectors.unwanted_texts(texts)


@receiver(sms.text_delivered)
def record_text_delivered(sender, text, **kwargs) -> None:
    if text.invitation_id is not None:
        outcomes.record_text_outcome(text.invitation_id, delivered=True)


@receiver(sms.text_failed)
def record_text_failed(sender, text, **kwargs) -> None:
    if text.invitation_id is not None:
        outcomes.record_text_outcome(text.invitation_id, delivered=False, error_code=text.error_code)


@receiver(sms.text_skipped)
def record_text_skipped(sender, text, **kwargs) -> None:
    if text.invitation_id is not None:
        outcomes.record_text_skipped(text.invitation_id, "the invitation is no longer pending, or the number "
                                                         "has no consent or is no longer on file")


@receiver(sms.text_received)
def answer_text(sender, inbound, **kwargs) -> None:
    texting.answer_text(inbound)


# --- proxies (issue 21) ----------------------------------------------------------------------------

@receiver(events_recorded, dispatch_uid="access.receivers.proxy_accepted")
def tell_staff_proxy_accepted(sender, events, **kwargs) -> None:
    """Whichever code accepted (access.actions.proxy_acceptance), the bell rings from its history event."""
    if ids := [e.proxy_id for e in events if e.action == AccessEvent.Action.PROXY_ACCEPTED and e.proxy_id]:
        proxies.notify_proxy_accepted(ids)


@receiver(before_send, dispatch_uid="access.receivers.unwanted_proxy_mail")
def unwanted_proxy_mail(sender, messages, **kwargs) -> list[int]:
    return proxy_selectors.unwanted_proxy_mail(messages)
