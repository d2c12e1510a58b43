"""Appending to and verifying the tamper-evident access history.

Each event is sealed with HMAC-SHA256 under a key kept outside the database (PORTICO_HISTORY_KEYS),
over its content and the previous event's seal. Someone who can write to the database but does not
hold the key cannot edit, insert or remove an event and re-seal what follows: `verify_history` names
the first event whose seal or link does not hold. Removing the NEWEST events (and resetting the
head) needs no key; checkpoints kept outside the database catch that, and prove that nothing up to
them was rewritten even by someone who holds the key (`export_history_checkpoint`)."""

import hashlib
import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from access.models import AccessEvent
from clinic.models import Patient, Practice, StaffMember

log = logging.getLogger("portico.access")

# The fields covered by each event's hash, in a fixed order.
HASHED_FIELDS = (
    "practice_id", "patient_id", "invitation_id", "at", "actor_kind", "actor_id", "actor_role",
    "action", "channel", "outcome", "reason", "client_ip", "user_agent", "prev_hash", "key_id",
)


@dataclass(frozen=True)
class Actor:
    kind: str
    user: AbstractBaseUser | None = None
    role: str = ""

    @classmethod
    def staff(cls, member: StaffMember) -> "Actor":
        return cls(AccessEvent.ActorKind.STAFF, member.user, member.role)

    @classmethod
    def patient(cls, user: AbstractBaseUser | None) -> "Actor":
        return cls(AccessEvent.ActorKind.PATIENT, user, "patient")

    @classmethod
    def system(cls) -> "Actor":
        return cls(AccessEvent.ActorKind.SYSTEM, None, "system")


@dataclass(frozen=True)
class Client:
    """Where a request came from, for the audit trail."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> "Client":
        return cls(client_ip(request), request.META.get("HTTP_USER_AGENT", "")[:300])


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind a proxy the header PORTICO_CLIENT_IP_HEADER names.

    A list header (`X-Forwarded-For: client, proxy1`) counts only its LAST entry: that is the one our
    own proxy appended; anything before it came from the client and can be forged. If the configured
    header is missing or holds no address, REMOTE_ADDR (the proxy's address) is used and a warning
    logged: every such request then shares one throttle bucket, which fails closed, not open."""
    remote = _parse_ip(request.META.get("REMOTE_ADDR", ""))
    header = settings.PORTICO_CLIENT_IP_HEADER
    if not header:
        return remote
    raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    if ip := _parse_ip(raw.rsplit(",", 1)[-1]):
        return ip
    log.warning("PORTICO_CLIENT_IP_HEADER %s is %s; using the connection's address", header,
                "holds no valid address" if raw else "missing")
    return remote


def _parse_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


NO_CLIENT = Client()


def current_key() -> tuple[str, str]:
    """(key id, secret) that new events and checkpoints are sealed with: the first configured."""
    return next(iter(settings.PORTICO_HISTORY_KEYS.items()))


def _seal(secret: str, content: dict) -> str:
    message = json.dumps(content, sort_keys=True, default=str).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def event_hash(event: AccessEvent, secret: str) -> str:
    content = {name: getattr(event, name) for name in HASHED_FIELDS}
    content["at"] = event.at.isoformat(timespec="microseconds")
    return _seal(secret, content)


def record(
    practice: Practice, action: str, *, actor: Actor, patient: Patient | None = None, invitation=None,
    channel: str = "", outcome: str = AccessEvent.Outcome.SUCCESS, reason: str = "", client: Client = NO_CLIENT,
) -> AccessEvent:
    """Append one event. Must run inside the caller's transaction; it locks the practice row so the
    chain has one order even with concurrent writers."""
    head = Practice.objects.select_for_update(no_key=True).values_list("history_head", flat=True).get(
        pk=practice.pk)
    event = AccessEvent(
        practice_id=practice.pk, patient=patient, invitation=invitation, at=timezone.now(),
        actor_kind=actor.kind, actor=actor.user, actor_role=actor.role, action=action, channel=channel,
        outcome=outcome, reason=reason, client_ip=client.ip, user_agent=client.user_agent, prev_hash=head,
    )
    event.key_id, secret = current_key()
    event.hash = event_hash(event, secret)
    event.save(force_insert=True)
    Practice.objects.filter(pk=practice.pk).update(history_head=event.hash)
    return event


def first_broken_event(practice: Practice) -> tuple[int | None, str] | None:
    """Return (event id, what is wrong) for the first event whose chain does not hold, or None if intact."""
    prev = ""
    for event in AccessEvent.objects.filter(practice=practice).order_by("id").iterator(chunk_size=2000):
        secret = settings.PORTICO_HISTORY_KEYS.get(event.key_id)
        if secret is None:
            return event.id, f"it is sealed with key id {event.key_id!r}, which PORTICO_HISTORY_KEYS does not hold"
        if event.prev_hash != prev:
            return event.id, "an earlier event was removed or altered"
        if not hmac.compare_digest(event_hash(event, secret), event.hash):
            return event.id, "this event was altered"
        prev = event.hash
    head = Practice.objects.values_list("history_head", flat=True).get(pk=practice.pk)
    if head != prev:
        return None, "the newest events were removed"
    return None


# --- checkpoints: the chain's head, signed, to be kept outside the database ----------------------

def make_checkpoint(practice: Practice) -> dict:
    """The practice's newest event and its seal, signed with the current key. Kept outside the
    database, it later proves that no event up to that one was removed or rewritten."""
    newest = AccessEvent.objects.filter(practice=practice).order_by("-id").values_list("id", "hash").first()
    key_id, secret = current_key()
    body = {"practice": practice.pk, "event": newest[0] if newest else None, "head": newest[1] if newest else "",
            "at": timezone.now().isoformat(timespec="seconds"), "key": key_id}
    return {**body, "mac": _seal(secret, body)}


def checkpoint_problem(checkpoint: dict) -> str | None:
    """What the history no longer agrees with in a checkpoint, or None if it holds. Verify the chain
    too (first_broken_event): together they show nothing up to the checkpoint's event changed."""
    body = {name: checkpoint.get(name) for name in ("practice", "event", "head", "at", "key")}
    secret = settings.PORTICO_HISTORY_KEYS.get(body["key"])
    if secret is None:
        return f"the checkpoint is signed with key id {body['key']!r}, which PORTICO_HISTORY_KEYS does not hold"
    if not hmac.compare_digest(_seal(secret, body), str(checkpoint.get("mac", ""))):
        return "the checkpoint's signature does not match: it was altered or not made with our key"
    if body["event"] is None:
        return None  # the history was empty then: nothing to prove
    sealed = AccessEvent.objects.filter(practice_id=body["practice"], pk=body["event"]).values_list(
        "hash", flat=True).first()
    if sealed is None:
        return f"event {body['event']}, the newest at the checkpoint of {body['at']}, was removed"
    if not hmac.compare_digest(sealed, body["head"]):
        return f"event {body['event']} no longer has the seal it had at the checkpoint of {body['at']}: " \
               "the history up to it was rewritten"
    return None
