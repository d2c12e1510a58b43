"""Case: delivery of queued invitation texts through the SMS provider's stand-in (sms.standin, on
loopback, as the tests use it).

Baseline (the transport limit): the same client (provider.client(), the official library's, one HTTP
session) posting the same number of texts straight to the stand-in, nothing else. Measured: the outbox
(sms.delivery.deliver_due: claim under a lease, the before-send check, decrypt, post, record each
accepted text in its own commit) over as many queued texts, each sent exactly once. The stand-in runs
in this process (threads), for both. Both rates are texts a second; the ratio is measured / baseline."""

import tempfile
import time
from pathlib import Path

from django.test import override_settings
from django.utils import timezone

from bench.common import Row, scaled
from sms import delivery, provider
from sms.models import TextMessage
from sms.standin import StandIn

TARGET = "outbox >= 0.5x the raw posts; each once"
BODY = ("Delivery Bench Clinic invites you to its patient portal: https://portal.example.test/portal/i/"
        + "x" * 43 + "/ (link expires November 9). Reply STOP to opt out.")


def queue(count: int) -> None:
    TextMessage.objects.all().delete()
    now = timezone.now()
    TextMessage.objects.bulk_create(
        (TextMessage(kind=TextMessage.Kind.INVITATION, practice_id=1, to=f"+1555{i:07d}", body=BODY, segments=2,
                     dedupe_key=f"bench:{i}", next_attempt_at=now, created_at=now) for i in range(count)),
        batch_size=1000)


def raw_posts(count: int) -> float:
    api, started = provider.client(), time.perf_counter()
    for i in range(count):
        provider.send(api, to=f"+1666{i:07d}", body=BODY)
    return count / (time.perf_counter() - started)


def outbox(count: int) -> float:
    queue(count)
    started = time.perf_counter()
    sent = delivery.deliver_due(worker="bench", limit=count)
    elapsed = time.perf_counter() - started
    accepted = TextMessage.objects.filter(status=TextMessage.Status.ACCEPTED).count()
    assert sent == accepted == count, (sent, accepted, count)
    return count / elapsed


def run() -> list[Row]:
    count = scaled("TEXTS", 2000)
    standin = StandIn("AC" + "0" * 32, "bench-auth-token", log_path=Path(tempfile.mkdtemp()) / "texts.jsonl").start()
    try:
        with override_settings(PORTICO_SMS_URL=standin.url, PORTICO_SMS_ACCOUNT_SID=standin.account_sid,
                               PORTICO_SMS_AUTH_TOKEN=standin.auth_token, PORTICO_SMS_FROM="+15005550006"):
            raw_posts(min(count, 50))  # warm up: the connection, the library's imports
            baseline = raw_posts(count)
            measured = outbox(count)
            posts = standin.requests
    finally:
        standin.stop()
    assert posts == 50 + 2 * count, posts  # every text posted once: no retry, no duplicate
    return [Row(f"text delivery, {count} texts (stand-in)", f"{measured:.0f} texts/s", f"{baseline:.0f} texts/s",
                measured / baseline, TARGET)]
