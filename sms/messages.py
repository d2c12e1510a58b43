"""One function per kind of text: each only writes outbox rows inside the caller's transaction, its
body built now (so its length is known) and kept encrypted until the provider takes it;
sms.delivery sends it when `send_at` comes."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from portico.bulk import insert_dicts
from portico.crypto import seal
from sms import segments, texts
from sms.models import TextMessage


def queue_invitation_texts(planned: list[tuple]) -> int:
    """For (invitation, token, number, send_at, kind) tuples, kind INVITATION or REMINDER: one text each."""
    now, rows, link = timezone.now(), [], _landing_link()
    for invitation, token, number, send_at, kind in planned:
        practice = invitation.practice
        build = texts.invitation if kind == TextMessage.Kind.INVITATION else texts.reminder
        body = build(practice=practice.name, link=link(token), language=_language_of(invitation),
                     expires=invitation.expires_at.astimezone(practice.tzinfo).date())
        key = f"{kind}:{invitation.pk}:{now:%Y%m%d%H%M%S%f}"
        rows.append({"kind": kind, "practice_id": practice.pk, "invitation_id": invitation.pk, "to": number,
                     "dedupe_key": key, "body": seal(TextMessage, "body", body, dedupe_key=key),
                     "segments": segments.count(body), "next_attempt_at": send_at, "created_at": now,
                     "quiet_hours_zone": practice.time_zone})
    return insert_dicts(TextMessage, rows)


def queue_reply(kind: str, *, practice_id: int, to: str, body: str, inbound_pk: int) -> TextMessage:
    """A reply to a patient's text (opt-out or opt-in confirmation, help): one per inbound text, at once
    (an answer to the patient, not a text Portico starts: no quiet hours)."""
    now = timezone.now()
    return TextMessage.objects.create(kind=kind, practice_id=practice_id, to=to, body=body,
                                      segments=segments.count(body), dedupe_key=f"{kind}:{inbound_pk}",
                                      next_attempt_at=now, created_at=now)


def _language_of(invitation) -> str:
    """The patient's language (the chart's, else the practice's default), as their emails are in."""
    return invitation.patient.preferred_language or invitation.practice.default_language


def _landing_link():
    """token -> its invitation link, from PORTICO_BASE_URL (never a request's Host), reversed once."""
    before, after = (settings.PORTICO_BASE_URL + reverse("portal:landing", args=["TOKEN"])).split("TOKEN")
    return lambda token: f"{before}{token}{after}"
