"""Invitations that lapsed: closed as expired, recorded, and staff told. The periodic sweep does it for
all; every other action does it first for the patients it touches (a lapsed invitation is no longer
pending)."""

import datetime
import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from access import history
from access.actions.notifications import notify_many
from access.history import Actor
from access.models import AccessEvent, Invitation
from portico.bulk import among

log = logging.getLogger("portico.access")
Action = AccessEvent.Action


EXPIRE_BATCH = 5000


def expire_invitations(*, batch: int = EXPIRE_BATCH) -> int:
    """Mark every lapsed pending invitation expired and record it; returns how many. Token use checks
    expiry itself, to the second: this only keeps the history and the status column honest. Set-wise,
    `batch` invitations per transaction, touching only the lapsed rows (and adding their events)."""
    count = 0
    while expired := _expire_batch(batch):
        count += expired
    return count


@transaction.atomic(durable=True)
def _expire_batch(batch: int) -> int:
    now = timezone.now()
    lapsed = Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__lte=now).order_by("id")
    return expire_where(Q(pk__in=among(lapsed.values_list("pk", flat=True)[:batch])), now, chain_now=True)


def expire_where(which: Q, now: datetime.datetime, *, chain_now: bool = False) -> int:
    """Close the lapsed pending invitations among `which` as expired, each recorded; returns how many.
    Their rows are locked (in id order) and closed in one UPDATE, their events added in one INSERT
    (chained at once with `chain_now`: the sweep)."""
    lapsed = list(Invitation.objects.select_for_update(of=("self",), no_key=True)
                  .filter(which, status=Invitation.Status.PENDING, expires_at__lte=now)
                  .order_by("id").values_list("pk", "practice_id", "patient_id", "channel", "sent_by_id", named=True))
    if not lapsed:
        return 0
    Invitation.objects.filter(pk__in=among(i.pk for i in lapsed)).update(
        status=Invitation.Status.EXPIRED, closed_at=F("expires_at"))
    history.append([history.new_event(i.practice_id, Action.INVITATION_EXPIRED, actor=Actor.system(),
                                      patient=i.patient_id, invitation=i.pk, channel=i.channel) for i in lapsed],
                   chain_now=chain_now)
    notify_many([(i.practice_id, i.patient_id, i.sent_by_id) for i in lapsed],
                gettext_noop("{name}'s portal invitation expired without being accepted."), now,
                summary=gettext_noop("{count} portal invitations expired without being accepted. The patient list's "
                                     "Expired filter shows them."))
    log.info("%s invitation(s) expired (first: %s)", len(lapsed), lapsed[0].pk)
    return len(lapsed)
