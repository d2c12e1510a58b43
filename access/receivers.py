"""Turn mail delivery outcomes into access history (email delivered / delivery failed)."""

from django.dispatch import receiver

from access import actions
from mail.signals import message_delivered, message_failed


@receiver(message_delivered)
def record_invitation_delivered(sender, message, **kwargs) -> None:
    if message.kind == "invitation":
        actions.record_email_outcome(message.context["invitation_id"], delivered=True)


@receiver(message_failed)
def record_invitation_failed(sender, message, **kwargs) -> None:
    if message.kind == "invitation":
        actions.record_email_outcome(message.context["invitation_id"], delivered=False)
