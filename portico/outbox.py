"""The outbox pattern, shared by mail (mail.delivery) and webhooks (api.webhooks): a row is written in
the transaction of the change it reports, then a worker claims it under a lease, does the outside work
(SMTP, an HTTP POST) and records the outcome only while that lease still holds.

An outbox model is an `OutboxRow`, with a `Status` of its own that has QUEUED and SENDING and a
`status` field of those choices.
A row left SENDING by a worker killed mid-work is due again once its lease has run out; the worker
that lost it can no longer record anything (`held` matches nothing), so an outcome is never recorded
twice.

A failed try is retried on one schedule for every outbox (`RETRY`), so mail and webhooks back off
alike and one sentence describes both."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from portico.bulk import among


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: wait `first` after the first failed try, `factor` times longer after each
    next one, and give up after `tries` tries."""

    first: datetime.timedelta
    factor: int
    tries: int

    def wait_after(self, attempts: int) -> datetime.timedelta | None:
        """How long to wait after `attempts` failed tries before the next one; None: that was the last."""
        if attempts >= self.tries:
            return None
        return self.first * self.factor ** (attempts - 1)


# 30 s, 1, 2, 4, 8, 16 and 32 minutes: 8 tries over about an hour. The first retries come quickly (a
# dropped connection, a receiver restarting); the later ones wait out an outage of an hour without
# hammering the server as it comes back.
RETRY = Backoff(first=datetime.timedelta(seconds=30), factor=2, tries=8)


class OutboxRow(models.Model):
    """The fields the claim and the lease work on."""

    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()  # when a queued row is due
    # The lease: which worker (host:pid) claimed the row and when; another may take it over once the
    # lease has passed, and the first then can no longer record an outcome (`held`).
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


def due(model: type[models.Model], *, lease: datetime.timedelta) -> models.QuerySet:
    """Queued rows whose time has come, and rows whose worker's lease ran out."""
    now = timezone.now()
    return model.objects.filter(Q(status=model.Status.QUEUED, next_attempt_at__lte=now)
                                | Q(status=model.Status.SENDING, claimed_at__lte=now - lease))


@transaction.atomic
def claim(model: type[models.Model], size: int, worker: str, *, lease: datetime.timedelta,
          related: Iterable[str] = ()) -> tuple[datetime.datetime, list[models.Model]]:
    """Claim up to `size` due rows for `worker`: they become SENDING, stamped with the worker and the
    claim's time (returned: the lease is that pair), their attempts counted. Rows a killed worker left
    come first, then queued rows in the order they became due: two index range scans, no sort over
    everything due. On PostgreSQL rows another worker is claiming are skipped (SKIP LOCKED); on SQLite
    claims queue behind each other (one writer). `related` is passed to select_related."""
    now = timezone.now()
    rows = model.objects.select_for_update(skip_locked=True, of=("self",))
    if related:
        rows = rows.select_related(*related)
    orphans = rows.filter(status=model.Status.SENDING, claimed_at__lte=now - lease).order_by("claimed_at")
    claimed = list(orphans[:size])
    if len(claimed) < size:
        queued = rows.filter(status=model.Status.QUEUED, next_attempt_at__lte=now).order_by("next_attempt_at", "pk")
        claimed += queued[:size - len(claimed)]
    model.objects.filter(pk__in=among(row.pk for row in claimed)).update(
        status=model.Status.SENDING, claimed_by=worker, claimed_at=now, attempts=F("attempts") + 1)
    for row in claimed:
        row.status, row.claimed_by, row.claimed_at, row.attempts = model.Status.SENDING, worker, now, row.attempts + 1
    return now, claimed


def held(model: type[models.Model], pks: Iterable[int], worker: str, claimed_at: datetime.datetime) -> models.QuerySet:
    """Those rows, only while `worker`'s claim of `claimed_at` still holds them (not taken over by
    another worker after the lease ran out): record an outcome through this, and a lost lease records
    nothing."""
    return model.objects.filter(pk__in=among(pks), status=model.Status.SENDING, claimed_by=worker,
                                claimed_at=claimed_at)
