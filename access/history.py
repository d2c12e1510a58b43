"""Appending to, sealing and verifying the tamper-evident access history.

Writers append events WITHOUT a lock (insert-only), so a practice's concurrent actions, a bulk run
and staff sign-ins never queue behind each other. Each event is written with an entry seal
(HMAC-SHA256 over its content) under a key kept outside the database (PORTICO_HISTORY_KEYS). Right
after the writer's transaction commits, `seal` chains the practice's unsealed events in batches under
one lock of the practice row: each gets the next `sequence`, the previous event's seal
(`prev_hash`) and a seal over its content and that link (`hash`). Anything a crashed process left
unsealed is sealed by `run_periodic`. A background writer appending many events at once (a bulk job's
chunk, a delivered batch of emails, the expiry sweep) chains them itself under that lock instead, so
each is written once; sign-ins and staff actions meanwhile still append without waiting, and
their own seal after commit skips a practice whose chain is held (the holder seals them after its
commit).

Someone who can write to the database but does not hold the key cannot edit, insert or remove an
event and re-seal what follows: `verify_history` names the first event whose seal or link does not
hold, or an unsealed event whose entry seal does not hold (edited, or written outside Portico), or
one left unsealed longer than UNSEALED_GRACE (sealing is not running). Removing the NEWEST events
(and resetting the head) needs no key; checkpoints kept outside the database catch that, and prove
that nothing up to them was rewritten even by someone who holds the key (`export_history_checkpoint`)."""

import datetime
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache, partial
from json.encoder import c_make_encoder, encode_basestring_ascii

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from access.models import AccessEvent
from access.signals import events_recorded
from clinic.models import Patient, Practice, StaffMember
from portico.bulk import insert_rows, instances, update_rows
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")

# The fields covered by each event's hash, in a fixed order.
HASHED_FIELDS = (
    "practice_id", "patient_id", "invitation_id", "at", "actor_kind", "actor_id", "actor_role",
    "action", "channel", "outcome", "reason", "client_ip", "user_agent", "prev_hash", "key_id",
)
# Covered only when set (see _content): added after events were first sealed.
OPTIONAL_HASHED_FIELDS = ("proxy_id",)
_SORTED_FIELDS = tuple(sorted(HASHED_FIELDS))


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


def current_key() -> tuple[str, str]:
    """(key id, secret) that new events and checkpoints are sealed with: the first configured."""
    return next(iter(settings.PORTICO_HISTORY_KEYS.items()))


def _canonical_encoder() -> Callable[[dict], str]:
    """json.dumps(content, sort_keys=True, default=str), byte for byte, as one function made once:
    JSONEncoder.encode makes its C encoder again on every call, and that is half its time for an
    event (a sealer makes thousands of seals a batch). The same C encoder json itself uses, with
    json's own arguments for those options; json's encoder where the C accelerator is missing."""
    if c_make_encoder is None:
        return json.JSONEncoder(sort_keys=True, default=str).encode
    # markers None: no circular-reference check (an event's content is flat); the output is the same.
    encode = c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", True, False, True)
    return lambda content: "".join(encode(content, 0))


_canonical = _canonical_encoder()


def _seal(secret: str, content: dict) -> str:
    mac = _keyed(secret).copy()
    mac.update(_canonical(content).encode())
    return mac.hexdigest()


@lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed with `secret`, to copy per seal: the same seal as hmac.digest, without
    setting up the key for every one of a batch's thousands of events."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _instant(at: datetime.datetime) -> str:
    """An event's moment as sealed. A batch's events share a few (new_events' `at`): each is written
    out once. Keyed by its offset too: equal instants in two time zones are written apart."""
    return _iso(at, at.utcoffset())


@lru_cache(maxsize=64)
def _iso(at: datetime.datetime, offset: datetime.timedelta | None) -> str:
    return at.isoformat(timespec="microseconds")


def _content(event: AccessEvent | dict) -> dict:
    """The hashed fields of an event, or of a dict of its values (as the sealer reads them)."""
    values = event if isinstance(event, dict) else vars(event)  # the attributes, past their descriptors
    try:  # in the order the seal sorts them into, which makes that sort cheap
        content = {name: values[name] for name in _SORTED_FIELDS}
    except KeyError:  # a field not loaded (deferred): through its attribute
        content = {name: values[name] if name in values else getattr(event, name) for name in _SORTED_FIELDS}
    content["at"] = _instant(content["at"])
    # Sealed only when set, so the seals of every event written before these fields existed still hold.
    for name in OPTIONAL_HASHED_FIELDS:
        value = values[name] if name in values else getattr(event, name, None)
        if value is not None:
            content[name] = value
    return content


def event_hash(event: AccessEvent | dict, secret: str) -> str:
    """The chain seal: the event's content and its link to the previous event."""
    return _seal(secret, _content(event))


def entry_hash(event: AccessEvent | dict, secret: str) -> str:
    """The seal an event is written with, before it has a place in the chain: its content alone,
    marked so that it can never pass for a chain seal."""
    content = _content(event)
    del content["prev_hash"]
    return _seal(secret, {**content, "unsealed": True})


# An unsealed event older than this is reported by verify_history: sealing normally follows the
# writer's commit within milliseconds, and run_periodic seals leftovers every minute.
UNSEALED_GRACE = datetime.timedelta(minutes=10)
# Events chained per sealing transaction (one practice-row lock, one executemany).
SEAL_BATCH = 5000


def new_event(
    practice: Practice | int, action: str, *, actor: Actor, patient: Patient | int | None = None, invitation=None,
    channel: str = "", outcome: str = AccessEvent.Outcome.SUCCESS, reason: str = "", client: Client = NO_CLIENT,
    at: datetime.datetime | None = None, proxy=None,
) -> AccessEvent:
    """An event to hand to `append` (the batch form of `record`); practice, patient and invitation may
    be given as objects or ids. `at` (default: now) lets a batch's events share the moment they happened;
    it is kept in UTC, as the database gives it back, so the entry seal holds when it is checked."""
    [event] = new_events([(practice, patient, invitation)], action, actor=actor, channel=channel, outcome=outcome,
                         reason=reason, client=client, at=at, proxy=proxy)
    return event


def new_events(
    about: Iterable[tuple], action: str, *, actor: Actor, channel: str = "",
    outcome: str = AccessEvent.Outcome.SUCCESS, reason: str = "", client: Client = NO_CLIENT,
    at: datetime.datetime | None = None, proxy=None,
) -> list[AccessEvent]:
    """new_event for a batch of events alike but for what each is about: (practice, patient, invitation)
    triples, objects or ids. What they share is worked out once (a bulk job makes thousands)."""
    shared = {"proxy_id": _pk(proxy), "at": (at or timezone.now()).astimezone(datetime.UTC),
              "actor_kind": actor.kind, "actor_id": _pk(actor.user), "actor_role": actor.role, "action": action,
              "channel": channel, "outcome": outcome, "reason": reason, "client_ip": client.ip,
              "user_agent": client.user_agent}
    # Made as portico.bulk.instances makes them.
    return instances(AccessEvent, [
        {**shared, "practice_id": _pk(practice), "patient_id": _pk(patient), "invitation_id": _pk(invitation)}
        for practice, patient, invitation in about])


def _pk(obj):
    return getattr(obj, "pk", obj)


def append(events: list[AccessEvent], *, chain_now: bool = False) -> None:
    """Write events in one executemany inside the caller's transaction, unsealed and without any lock;
    each practice's are sealed right after that transaction commits. With `chain_now` they are chained
    at once instead (`_chain_now`), so each is written once, not twice: for writers in the background
    appending many (a bulk job's chunk, a delivered batch, the expiry sweep), never for what a person
    waits on (it holds the practice lock until commit: only sealers wait for it, not writers)."""
    if chain_now:
        by_practice: dict[int, list[AccessEvent]] = {}
        for event in events:
            by_practice.setdefault(event.practice_id, []).append(event)
        for practice_id in sorted(by_practice):  # one lock order, as the sealer's
            _chain_now(practice_id, by_practice[practice_id])
            # Others' events committed meanwhile were left unsealed by their writers (the practice
            # was locked: see seal's `wait`): chain them once this transaction lets go.
            transaction.on_commit(partial(seal, practice_id), robust=True)
    else:
        _entry_sealed(events)
    insert_rows(AccessEvent, events)
    events_recorded.send(AccessEvent, events=events)


def _chain_now(practice_id: int, events: list[AccessEvent]) -> None:
    """Give the events their place in the chain (sequence, link, seal) as the sealer would, under the
    practice's row lock, held until the caller commits. Events of others committed unsealed before
    them are chained after them by the next seal."""
    head, last = _chain_tail(practice_id, wait=True)
    key_id, secret = current_key()
    for event in events:
        last += 1
        event.sequence, event.prev_hash, event.key_id = last, head, key_id
        event.hash = head = event_hash(event, secret)
    Practice.objects.filter(pk=practice_id).update(history_head=head)


def record(
    practice: Practice, action: str, *, actor: Actor, patient: Patient | None = None, invitation=None,
    channel: str = "", outcome: str = AccessEvent.Outcome.SUCCESS, reason: str = "", client: Client = NO_CLIENT,
    proxy=None,
) -> AccessEvent:
    """Append one event inside the caller's transaction (see `append`); `proxy`: the grant it is about."""
    [event] = _entry_sealed([new_event(practice, action, actor=actor, patient=patient, invitation=invitation,
                                       channel=channel, outcome=outcome, reason=reason, client=client, proxy=proxy)])
    event.save(force_insert=True)
    events_recorded.send(AccessEvent, events=[event])
    return event


def _entry_sealed(events: list[AccessEvent]) -> list[AccessEvent]:
    key_id, secret = current_key()
    for event in events:
        event.key_id, event.prev_hash, event.sequence = key_id, "", None
        event.hash = entry_hash(event, secret)
    for practice_id in sorted({event.practice_id for event in events}):
        # robust: the caller's change is committed whatever happens here; run_periodic seals leftovers.
        transaction.on_commit(partial(seal, practice_id, wait=False), robust=True)
    return events


# --- sealing: chaining unsealed events, in batches, under one lock per practice ----------------------

def _unsealed(practice_id: int):
    return AccessEvent.objects.filter(practice_id=practice_id, sequence__isnull=True)


def seal(practice: Practice | int, *, batch: int = SEAL_BATCH, wait: bool = True) -> int:
    """Chain the practice's committed unsealed events, oldest id first; returns how many were sealed.
    An event whose entry seal does not hold is left unsealed (verify_history names it). With
    `wait=False` (a writer sealing its own events after its commit) a practice whose chain another
    transaction holds is left alone: that holder seals after its own commit (a bulk chunk does), or
    the next seal or run_periodic does, so a person's request never waits for a bulk run."""
    practice_id, sealed = _pk(practice), 0
    # Passes over the unsealed events in id order until one seals nothing. Ids are not commit order: a
    # writer that skipped sealing while we held the chain may have committed an event with a lower id
    # than those we just sealed; the next pass finds it. (An altered event stays unsealed: a pass that
    # meets only such events seals nothing and ends the loop.)
    while True:
        in_this_pass, after = 0, 0
        while _unsealed(practice_id).filter(pk__gt=after).exists():  # no lock taken when there is nothing to do
            done = _seal_batch(practice_id, batch, after, wait)
            if done is None:
                return sealed + in_this_pass
            count, after = done
            in_this_pass += count
        sealed += in_this_pass
        if not in_this_pass:
            return sealed


def seal_all() -> int:
    """Seal every practice's leftovers (events whose writer died between commit and sealing)."""
    practice_ids = AccessEvent.objects.filter(sequence__isnull=True).values_list("practice_id", flat=True).distinct()
    return sum(seal(practice_id) for practice_id in sorted(practice_ids))


@transaction.atomic
def _seal_batch(practice_id: int, batch: int, after: int, wait: bool) -> tuple[int, int] | None:
    """(how many sealed, the last id looked at), or None if not waiting and the chain is held."""
    tail = _chain_tail(practice_id, wait=wait)
    if tail is None:
        return None
    head, last = tail
    # Read as dicts of the hashed fields, not model instances: the sealer handles thousands per batch.
    events = list(_unsealed(practice_id).filter(pk__gt=after).order_by("id").values("id", "hash", *HASHED_FIELDS,
                                                                                        *OPTIONAL_HASHED_FIELDS)[:batch])
    key_id, secret = current_key()
    rows = []
    for event in events:
        entry_secret = settings.PORTICO_HISTORY_KEYS.get(event["key_id"])
        if entry_secret is None or not hmac.compare_digest(entry_hash(event, entry_secret), event["hash"]):
            log.error("access event %s was altered before it was sealed; left unsealed", event["id"])
            continue
        last += 1
        event["prev_hash"], event["key_id"] = head, key_id
        event["hash"] = head = event_hash(event, secret)
        rows.append((last, event["prev_hash"], key_id, head, event["id"]))
    update_rows(AccessEvent, ["sequence", "prev_hash", "key_id", "hash"], rows)
    Practice.objects.filter(pk=practice_id).update(history_head=head)
    return len(rows), events[-1]["id"] if events else after


def _chain_tail(practice_id: int, *, wait: bool) -> tuple[str, int] | None:
    """Lock the practice row and read the chain's head seal and last sequence (0 if none); None if
    not `wait`ing and another transaction holds the row."""
    # The lock orders sealers (not writers); re-read below it, the tail and the unsealed set are current.
    head = (Practice.objects.select_for_update(no_key=True, skip_locked=not wait).filter(pk=practice_id)
            .values_list("history_head", flat=True).first())
    if head is None:
        return None
    last = AccessEvent.objects.filter(practice_id=practice_id, sequence__isnull=False).order_by(
        "-sequence").values_list("sequence", flat=True).first() or 0
    return head, last


# --- verifying --------------------------------------------------------------------------------------

def first_broken_event(practice: Practice) -> tuple[int | None, str] | None:
    """Return (event id, what is wrong) for the first event whose chain does not hold, or None if intact.
    The sealed chain is checked in sequence, then the events not yet sealed."""
    prev = ""
    sealed = AccessEvent.objects.filter(practice=practice, sequence__isnull=False).order_by("sequence")
    for event in sealed.iterator(chunk_size=2000):
        secret = settings.PORTICO_HISTORY_KEYS.get(event.key_id)
        if secret is None:
            return event.id, _unknown_key(event)
        if event.prev_hash != prev:
            return event.id, "an earlier event was removed or altered"
        if not hmac.compare_digest(event_hash(event, secret), event.hash):
            return event.id, "this event was altered"
        prev = event.hash
    head = Practice.objects.values_list("history_head", flat=True).get(pk=practice.pk)
    if head != prev:
        return None, "the newest events were removed"
    return _first_bad_unsealed(practice)


def _first_bad_unsealed(practice: Practice) -> tuple[int, str] | None:
    overdue = timezone.now() - UNSEALED_GRACE
    for event in _unsealed(practice.pk).order_by("id").iterator(chunk_size=2000):
        secret = settings.PORTICO_HISTORY_KEYS.get(event.key_id)
        if secret is None:
            return event.id, _unknown_key(event)
        if not hmac.compare_digest(entry_hash(event, secret), event.hash):
            return event.id, "this event was altered"
        if event.at < overdue:
            return event.id, (f"it is still unsealed after {UNSEALED_GRACE.seconds // 60} minutes "
                              "(is run_periodic running?)")
    return None


def unsealed_count(practice: Practice) -> int:
    """Events written but not yet chained (normally only those of the last moments)."""
    return _unsealed(practice.pk).count()


def _unknown_key(event: AccessEvent) -> str:
    return f"it is sealed with key id {event.key_id!r}, which PORTICO_HISTORY_KEYS does not hold"


# --- checkpoints: the chain's head, signed, to be kept outside the database ----------------------

def make_checkpoint(practice: Practice) -> dict:
    """The practice's newest event and its seal, signed with the current key. Kept outside the
    database, it later proves that no event up to that one was removed or rewritten."""
    newest = AccessEvent.objects.filter(practice=practice, sequence__isnull=False).order_by("-sequence").values_list(
        "id", "hash").first()
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
