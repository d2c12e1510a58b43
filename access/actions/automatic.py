"""Invitations Portico sends by itself: after a booking or a completed visit (the practice's setting),
reminders before a link expires, and re-invites after one expired unaccepted."""

import datetime
import logging
from collections import Counter

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from access import history, rules, tokens
from access.actions import sending
from access.actions.steps import (
    lock_patients,
)
from access.actions.texting import queue_invitation_texts
from access.history import Actor
from access.models import AccessEvent, Channel, Invitation
from access.selectors import invitation_facts
from clinic.models import Appointment, Patient, Practice
from mail import messages as mail
from portico.bulk import among, update_rows
from portico.client import NO_CLIENT
from sms.models import TextMessage

log = logging.getLogger("portico.access")
Action = AccessEvent.Action


@transaction.atomic  # inside the appointment's own transaction (clinic.services), in a savepoint
def invite_automatically(patients: list[Patient | int], *, trigger: str) -> list[sending.InvitationOutcome]:
    """The practice's "Invite automatically" setting, applied after appointments were booked (trigger
    Practice.AutoInvite.BOOKED) or completed (COMPLETED). clinic.services calls it whoever booked (a
    page, an import, the API), so it fires from this one place. Patients of practices set to `trigger`
    who were never invited are sent one (channel automatic) through send_invitations' rules; after
    COMPLETED only on their first completed appointment. A patient invited before (pending, expired,
    revoked, connected) is left to the re-invite setting and to staff. Returns the outcomes of those
    considered (an ineligible patient is refused, as on the chart, and shows as Not eligible)."""
    locked = [p for p in lock_patients(patients) if p.practice.auto_invite == trigger]
    ids = [p.pk for p in locked]
    invited_before = set(Invitation.objects.filter(patient__in=ids).values_list("patient_id", flat=True))
    chosen = [p for p in locked if p.pk not in invited_before]
    if trigger == Practice.AutoInvite.COMPLETED and chosen:
        completed = Counter(Appointment.objects.filter(patient__in=[p.pk for p in chosen],
                                                       status=Appointment.Status.COMPLETED).values_list("patient_id", flat=True))
        chosen = [p for p in chosen if completed[p.pk] == 1]
    if not chosen:
        return []
    reason = "Automatic: " + Practice.AutoInvite(trigger).label.lower()
    return sending.send_many(chosen, by=None, channel=Channel.AUTOMATIC, client=NO_CLIENT, reason=reason)


# Due rows handled per transaction by the periodic work below: each batch costs the same few queries
# whatever its size, so a round is O(due rows) in work and O(due rows / batch) in queries.
SCHEDULED_BATCH = 500


REMINDER_REASON = "Link reissued for a reminder"


def send_reminders(*, batch: int = SCHEDULED_BATCH) -> int:
    """Email one reminder per pending invitation, the practice's N days before it expires (at exactly
    expires_at - N days or later). Only the token's hash is kept, so a reminder carries a working link
    by reissuing it: a new token for the same invitation, the earlier link dead at once, recorded as
    "Link reissued for a reminder"; the expiry is unchanged. Never to a connected patient or one at
    the daily cap (tried again next round); none for an invitation accepted, revoked, locked or
    expired, or sent less than N days before its expiry. Returns how many were sent."""
    return _in_batches(_remind_batch, batch)


def send_reinvites(*, batch: int = SCHEDULED_BATCH) -> int:
    """Invite again (send_invitations' rules, channel automatic) each patient whose newest invitation
    expired unaccepted, once N days (the practice's 30/60/90) have passed since it was sent, until
    `reinvite_max` re-invites went unanswered: then the patient is left alone until staff send one
    (which starts the count again). Returns how many were sent."""
    return _in_batches(_reinvite_batch, batch)


def _in_batches(step, size: int) -> int:
    """Run `step(size, after)` -> (sent, last id seen or None when nothing is left) over the due rows,
    in id order, once each (a refused row is not retried within the round)."""
    total, after = 0, 0
    while after is not None:
        sent, after = step(size, after)
        total += sent
    return total


def _reminder_due(now: datetime.datetime) -> Q:
    # One term per possible N (the field's validators allow 1-29): date arithmetic with a constant
    # reads the same on every database, where a per-row number of days would not.
    days = Q()
    for n in range(1, 30):
        before = datetime.timedelta(days=n)
        days |= Q(practice__reminder_days_before=n, expires_at__lte=now + before, sent_at__lt=F("expires_at") - before)
    # Not a printed invitation: a reminder reissues the link, which would kill the QR code on the letter
    # (and there may be no address to remind).
    return Q(status=Invitation.Status.PENDING, reminded_at__isnull=True, expires_at__gt=now) & days & ~Q(
        channel=Channel.PRINT)


@transaction.atomic(durable=True)
def _remind_batch(size: int, after: int) -> tuple[int, int | None]:
    now = timezone.now()
    due = list(Invitation.objects.filter(_reminder_due(now), pk__gt=after).order_by("pk")
               .values_list("pk", "patient_id")[:size])
    if not due:
        return 0, None
    lock_patients([patient for _, patient in due])  # the one lock order: patients, then their invitations
    invitations = list(Invitation.objects.select_for_update(of=("self",), no_key=True)
                       .filter(_reminder_due(now), pk__in=among(pk for pk, _ in due)).select_related("practice", "patient")
                       .order_by("pk"))
    facts = invitation_facts([i.patient_id for i in invitations], now=now)
    chosen = [i for i in invitations if rules.email_refusal(facts[i.patient_id]) is None]
    links = {i.pk: tokens.new_token() for i in chosen}
    update_rows(Invitation, ["token_hash"], [(tokens.hash_token(links[i.pk]), i.pk) for i in chosen])
    Invitation.objects.filter(pk__in=links).update(reminded_at=now)
    history.append([history.new_event(i.practice, Action.LINK_REISSUED, actor=Actor.system(), patient=i.patient,
                                      invitation=i, channel=i.channel, reason=REMINDER_REASON) for i in chosen])
    mail.queue_reminders([(i, links[i.pk]) for i in chosen if i.email])
    queue_invitation_texts([(i, links[i.pk]) for i in chosen], kind=TextMessage.Kind.REMINDER, now=now)
    if chosen:
        log.info("%s reminder(s) sent (first: invitation %s)", len(chosen), chosen[0].pk)
    return len(chosen), due[-1][0] if len(due) == size else None


def _reinvite_due(now: datetime.datetime) -> QuerySet[Invitation]:
    days = Q()
    for n, _label in Practice.REINVITE_DAYS:  # one term per choice, as in _reminder_due
        days |= Q(practice__reinvite_after_days=n, sent_at__lte=now - datetime.timedelta(days=n))
    newer = Invitation.objects.filter(patient=OuterRef("patient"), pk__gt=OuterRef("pk"))
    return Invitation.objects.filter(days, status=Invitation.Status.EXPIRED,
                                     reinvite_number__lt=F("practice__reinvite_max")).exclude(Exists(newer))


@transaction.atomic(durable=True)
def _reinvite_batch(size: int, after: int) -> tuple[int, int | None]:
    due = list(_reinvite_due(timezone.now()).filter(pk__gt=after).order_by("pk")
               .values_list("pk", "patient_id", "reinvite_number")[:size])
    if not due:
        return 0, None
    outcomes = sending.send_many(lock_patients([patient for _, patient, _ in due]), by=None, channel=Channel.AUTOMATIC,
                                 client=NO_CLIENT, reason="Re-invite: the previous invitation was not accepted",
                                 reinvite_numbers={patient: number + 1 for _, patient, number in due})
    return sum(1 for o in outcomes if o.sent), due[-1][0] if len(due) == size else None
