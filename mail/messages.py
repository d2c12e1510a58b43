"""One function per kind of email. Each only writes an outbox row inside the caller's transaction;
mail.delivery sends it (a worker looks for due rows every second when idle)."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from mail.models import Message


def queue_invitation(invitation, token: str) -> Message:
    """The invitation link. Built from PORTICO_BASE_URL, never a request's Host header."""
    link = settings.PORTICO_BASE_URL + reverse("portal:landing", args=[token])
    return _queue(
        "invitation", invitation.email, f"invitation:{invitation.pk}",
        {"practice": invitation.practice.name, "expires": _local_date(invitation.expires_at, invitation.practice),
         "invitation_id": invitation.pk},
        secret_link=link,
    )


def queue_connected(invitation) -> Message:
    """Confirmation after acceptance, to the address on file, saying what to do if it wasn't them."""
    return _queue(
        "connected", invitation.email, f"connected:{invitation.pk}",
        {"practice": invitation.practice.name, "portal_url": settings.PORTICO_BASE_URL + reverse("portal:home")},
    )


def _queue(kind: str, to: str, dedupe_key: str, context: dict, *, secret_link: str = "") -> Message:
    now = timezone.now()
    message = Message.objects.create(
        kind=kind, to=to, dedupe_key=dedupe_key, context=context, secret_link=secret_link,
        next_attempt_at=now, created_at=now,
    )
    # The row itself is the work item: committed with the caller's change, it cannot be lost, and
    # the next worker round (mail.delivery.deliver_due) sends it.
    return message


def _local_date(moment, practice) -> str:
    local = moment.astimezone(practice.tzinfo)
    return f"{local:%A} {local.day} {local:%B %Y at %H:%M} ({practice.time_zone})"
