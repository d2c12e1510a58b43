"""Send the text outbox in batches, through the provider, never a text twice once it was accepted.

One step (`send_batch`), the same claim and lease as mail (portico.outbox):
1. Claim up to `size` due texts (queued and due, or left "sending" by a worker whose lease ran out).
2. Ask the rest of Portico (signals.before_send) which must no longer go (consent withdrawn, the
   invitation no longer pending): those are skipped.
3. Post each to the provider. Each accepted text is recorded "accepted", with the provider's sid, in
   its own UPDATE committed at once: a worker killed mid-batch re-sends at most the one text the
   provider had taken but that was not yet recorded (the provider's API has no idempotency key), never
   one recorded. A 5xx, 429 or timeout retries on the one schedule of every outbox (portico.outbox.RETRY);
   a refusal (an invalid number...) fails at once, without retry; out of tries fails too. A failure is told (text_failed).
A text the practice starts (an invitation, a reminder) never goes in the quiet hours at the practice
(sms.quiet_hours): a retry that would fall in them, or a claimed text whose time came in them (a worker
behind), waits for 08:00 there.
What happens after acceptance (sent, delivered, undelivered) comes by the status callback (sms.callbacks);
one that came before its sid was recorded is applied once it is (callbacks.apply_early_statuses)."""

import datetime
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portico import outbox
from portico.text import storable
from sms import callbacks, provider, quiet_hours
from sms.models import TextMessage
from sms.signals import before_send, text_failed, text_skipped

log = logging.getLogger("portico.sms")

# Texts go one HTTP request each, so a batch is small: it bounds how long a claim is held.
BATCH_SIZE = 50
Status = TextMessage.Status


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.PORTICO_SMS_LEASE_SECONDS)


def deliver_due(*, worker: str, limit: int = 500, batch_size: int = BATCH_SIZE) -> int:
    """Send batches until nothing is due or `limit` texts were tried; returns how many were tried.
    Without SMS settings nothing is sent (the rows wait, and the pages say texts are off)."""
    if not provider.enabled():
        return 0
    callbacks.apply_early_statuses()  # any a worker's race left (see _send_one)
    tried = 0
    while tried < limit:
        count = send_batch(min(batch_size, limit - tried), worker=worker)
        tried += count
        if count == 0:
            break
    return tried


def send_batch(size: int = BATCH_SIZE, *, worker: str) -> int:
    claimed_at, texts = outbox.claim(TextMessage, size, worker, lease=lease())
    if not texts:
        return 0
    api, started = provider.client(), time.monotonic()
    wanted = _hold_in_quiet_hours(_skip_unwanted(texts, worker, claimed_at), worker, claimed_at)
    accepted = []
    for i, text in enumerate(wanted):
        if time.monotonic() - started > lease().total_seconds() / 2:  # a slow provider: keep the rest ours
            _release(wanted[i:], worker, claimed_at)
            break
        if sid := _send_one(api, text, worker, claimed_at):
            accepted.append(sid)
    if accepted:
        callbacks.apply_early_statuses(accepted)  # the provider may have called back already
    return len(texts)


def _ours(pks: list[int], worker: str, claimed_at: datetime.datetime):
    return outbox.held(TextMessage, pks, worker, claimed_at)


def _skip_unwanted(texts: list[TextMessage], worker: str, claimed_at: datetime.datetime) -> list[TextMessage]:
    unwanted = {pk for _receiver, pks in before_send.send(TextMessage, texts=texts) for pk in pks or ()}
    if not unwanted:
        return texts
    with transaction.atomic():
        _ours(list(unwanted), worker, claimed_at).update(status=Status.SKIPPED, body="", finished_at=timezone.now(),
                                                         last_error="No longer allowed or needed")
        for text in texts:
            if text.pk in unwanted:
                text_skipped.send(TextMessage, text=text)
    return [t for t in texts if t.pk not in unwanted]


def _hold_in_quiet_hours(texts: list[TextMessage], worker: str, claimed_at: datetime.datetime) -> list[TextMessage]:
    """Give back, due at 08:00 at the practice and the try not counted, the texts it is now quiet hours for."""
    now, held = timezone.now(), []
    for text in texts:
        if text.quiet_hours_zone and (morning := quiet_hours.next_allowed(now, text.quiet_hours_zone)) > now:
            _ours([text.pk], worker, claimed_at).update(status=Status.QUEUED, next_attempt_at=morning,
                                                        attempts=F("attempts") - 1)
            held.append(text.pk)
    return [t for t in texts if t.pk not in held]


def _send_one(api, text: TextMessage, worker: str, claimed_at: datetime.datetime) -> str:
    """Post one text; the provider's sid once it is recorded accepted, else ""."""
    try:
        accepted = provider.send(api, to=text.to, body=text.body)
    except provider.Refused as e:
        _fail(text, f"{e.code}: {e}", worker, claimed_at, code=e.code)
    except provider.Retry as e:
        _failed_try(text, str(e), worker, claimed_at)
    else:
        # Committed on its own, at once: from here on the text is never sent again.
        if not _ours([text.pk], worker, claimed_at).update(status=Status.ACCEPTED, provider_sid=accepted.sid, body="",
                                                          accepted_at=timezone.now(), last_error=""):
            log.warning("text %s was accepted after its lease ran out", text.pk)
            TextMessage.objects.filter(pk=text.pk, provider_sid=None).update(provider_sid=accepted.sid)
        log.info("text %s (%s) accepted by the provider", text.pk, text.kind)
        return accepted.sid
    return ""


@transaction.atomic
def _fail(text: TextMessage, reason: str, worker: str, claimed_at: datetime.datetime, *, code: str = "") -> None:
    if _ours([text.pk], worker, claimed_at).update(status=Status.FAILED, body="", error_code=code[:16],
                                                   last_error=storable(reason)[:300], finished_at=timezone.now()):
        text.status, text.error_code = Status.FAILED, code
        text_failed.send(TextMessage, text=text)
        log.warning("text %s (%s) failed: %s", text.pk, text.kind, reason)


def _failed_try(text: TextMessage, reason: str, worker: str, claimed_at: datetime.datetime) -> None:
    wait = outbox.RETRY.wait_after(text.attempts)
    if wait is None:
        _fail(text, reason, worker, claimed_at)
        return
    retry_at = timezone.now() + wait
    if text.quiet_hours_zone:
        retry_at = quiet_hours.next_allowed(retry_at, text.quiet_hours_zone)
    _ours([text.pk], worker, claimed_at).update(status=Status.QUEUED, next_attempt_at=retry_at,
                                                last_error=storable(reason)[:300])
    log.info("text %s try %s failed (%s); next at %s", text.pk, text.attempts, reason, retry_at.isoformat())


def _release(texts: list[TextMessage], worker: str, claimed_at: datetime.datetime) -> None:
    """Give back claimed texts not tried: due at once, the try not counted."""
    if texts:
        _ours([t.pk for t in texts], worker, claimed_at).update(status=Status.QUEUED, next_attempt_at=timezone.now(),
                                                                attempts=F("attempts") - 1)
