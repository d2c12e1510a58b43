"""Send outbox messages over SMTP in batches, each exactly once as far as SMTP allows.

One step (`send_batch`):
1. Claim up to `batch_size` due rows in one short transaction: queued rows whose next_attempt_at has
   come, and rows left "sending" by a worker whose lease ran out (it was killed). On PostgreSQL the
   SELECT skips rows another worker holds (FOR UPDATE SKIP LOCKED); on SQLite the transaction starts
   IMMEDIATE, so claims simply queue behind each other. The rows become "sending", stamped with this
   worker's name and the claim time: that pair is the lease.
2. Build each message (compose.py) and send it on ONE SMTP connection, reconnecting once if the
   server drops it. Each message is built while the server takes in the one before it (its DATA).
3. Record the sent rows in one UPDATE (only if the lease is still ours), committed before anything
   else, so a failure to record history afterwards can never send them again; then tell the rest of
   Portico (messages_delivered, once for the batch, in one transaction). A failed message gets its own
   retry time (portico.outbox.RETRY, as webhooks) or, after its last try, is failed for good (message_failed).

Retries live only here: the worker loop (`manage.py worker`) calls `deliver_due` every round, and
that picks up both retries and rows a killed worker left behind. A worker killed mid-batch loses
nothing (its rows come back after the lease) and never re-sends a row recorded sent. A message the
server accepted just before the kill, whose "sent" was not yet committed, goes out again: SMTP has no
way to ask the server. The Message-ID is fixed per row, so a receiver can drop that duplicate.
"""

import datetime
import functools
import logging
import os
import re
import secrets
import smtplib
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core import mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mail.compose import Prebuilt, make_message
from mail.models import Message
from mail.signals import before_send, message_failed, message_skipped, messages_delivered
from portico import outbox
from portico.text import storable

log = logging.getLogger("portico.mail")

# Rows claimed at once. Each batch costs about a dozen queries and three commits whatever its size
# (docs/performance.md, "What the bulk helpers save"). Larger batches save less and less, and widen
# what a killed worker may send twice (the accepted-but-unrecorded part of its batch; the same Message-ID).
BATCH_SIZE = 250
SEND_ERRORS = (TimeoutError, smtplib.SMTPException, OSError)
LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.PORTICO_MAIL_LEASE_SECONDS)


@functools.cache
def worker_name() -> str:
    """This process, as named on the rows it claims (and on its heartbeat): host and pid, to find it,
    and a random part, because two nodes may have both alike (containers started the same way get
    small, equal pids, and may be given one host name), and two workers of one name would record
    outcomes under each other's leases. At most 64 characters (django-tasks-db's worker id)."""
    return f"{socket.gethostname()[:44]}:{os.getpid()}:{secrets.token_hex(4)}"


def deliver_due(*, limit: int | None = None, batch_size: int = BATCH_SIZE, worker: str = "") -> int:
    """Send batches until nothing is due (or `limit` messages were tried); returns how many were tried."""
    worker, tried = worker or worker_name(), 0
    while limit is None or tried < limit:
        size = batch_size if limit is None else min(batch_size, limit - tried)
        count = send_batch(size, worker=worker)
        tried += count
        if count < size:
            break
    return tried


def send_batch(size: int = BATCH_SIZE, *, worker: str = "") -> int:
    """Claim up to `size` due messages, send them on one connection, record the outcomes.
    Returns how many were claimed (0: nothing was due, or other workers hold it all)."""
    worker = worker or worker_name()
    claimed_at, messages = _claim(size, worker)
    if not messages:
        return 0
    sent, failed, unsent = _send_all(_skip_unwanted(messages, worker, claimed_at), started=time.monotonic())
    _record_sent(sent, worker, claimed_at)
    for message, error in failed:
        _failed_try(message, error, worker, claimed_at)
    _release(unsent, worker, claimed_at)
    return len(messages)


# --- 1. claim -------------------------------------------------------------------------------------

def _claim(size: int, worker: str) -> tuple[datetime.datetime, list[Message]]:
    return outbox.claim(Message, size, worker, lease=lease())


def _skip_unwanted(messages: list[Message], worker: str, claimed_at: datetime.datetime) -> list[Message]:
    """Ask the rest of Portico (before_send) which claimed messages must no longer go, e.g. an invitation
    that expired while its email waited; mark those skipped in one UPDATE, tell (message_skipped), and
    return the others."""
    unwanted = {pk for _receiver, pks in before_send.send(Message, messages=messages) for pk in pks or ()}
    if not unwanted:
        return messages
    with transaction.atomic():
        _ours(list(unwanted), worker, claimed_at).update(status=Message.Status.SKIPPED, secret_link="",
                                                          last_error="No longer needed")
        for message in messages:
            if message.pk in unwanted:
                _tell(message_skipped, message)
    log.info("skipped %s message(s) no longer needed", len(unwanted))
    return [m for m in messages if m.pk not in unwanted]


# --- 2. send --------------------------------------------------------------------------------------

def _send_all(messages: list[Message], *, started: float) -> tuple[list, list, list]:
    """Send on one connection. Returns (sent, [(message, error)], unsent): unsent are those left when
    half the lease was used up (a very slow server), so no other worker takes them over meanwhile."""
    sent, failed = [], []
    budget = lease().total_seconds() / 2
    connection = mail.mailers.default
    ahead = _BuiltAhead(messages)
    try:
        for i, message in enumerate(messages):
            if time.monotonic() - started > budget:
                return sent, failed, messages[i:]
            try:
                connection.open()
            except SEND_ERRORS as e:  # the server cannot be reached: this try fails for every one left
                return sent, failed + [(m, e) for m in messages[i:]], []
            try:
                _send_one(connection, ahead.take(i), meanwhile=lambda i=i: ahead.build(i + 1))
            except SEND_ERRORS as e:
                failed.append((message, e))
            except Exception as e:  # a bug (e.g. a template error) must not stop the batch or leave it "sending"
                log.exception("message %s (%s) could not be built", message.pk, message.kind)
                failed.append((message, e))
            else:
                sent.append(message)
    finally:
        _close(connection)
    return sent, failed, []


class _BuiltAhead:
    """The batch's messages built one ahead of sending: the next one while the server takes in this
    one's DATA, in this thread. (A builder thread held the GIL when the server's replies came, so the
    sender woke late for each of them: overlapped that way, building cost more than it saved.)"""

    def __init__(self, messages: list[Message]):
        self.messages, self.built = messages, {}

    def build(self, i: int) -> None:
        if i < len(self.messages) and i not in self.built:
            try:
                self.built[i] = _build(self.messages[i])
            except Exception as e:  # raised by take(), where the send loop handles it
                self.built[i] = e

    def take(self, i: int) -> Prebuilt:
        self.build(i)
        email = self.built.pop(i)
        if isinstance(email, Exception):
            raise email
        return email


def _build(message: Message) -> Prebuilt:
    return make_message(message.kind, message.to, _context(message), message_id=message_id(message))


def _send_one(connection, email: Prebuilt, *, meanwhile: Callable[[], None]) -> None:
    """Send on the open connection; if the server dropped it, reconnect and try this message once more
    (it was not accepted: the server never answered its DATA). `meanwhile` runs once the message is
    handed over, while the server answers."""
    try:
        _transmit(connection, email, meanwhile)
    except smtplib.SMTPServerDisconnected:
        _close(connection)
        connection.open()
        _transmit(connection, email, meanwhile)


def _transmit(connection, email: Prebuilt, meanwhile: Callable[[], None]) -> None:
    smtp = getattr(connection, "connection", None)
    if isinstance(smtp, smtplib.SMTP):
        # Django's SMTP backend, connected: hand smtplib the bytes and the envelope made in compose
        # (the backend would parse both addresses again, which costs more than the send itself).
        sender, recipient = email.envelope
        _sendmail(smtp, sender, recipient, email.raw, meanwhile)
    else:  # any other backend (the console in development, memory in tests)
        connection.send_messages([email])
        meanwhile()


def _sendmail(smtp: smtplib.SMTP, sender: str, recipient: str, raw: bytes, meanwhile: Callable[[], None]) -> None:
    """smtplib's SMTP.sendmail for one recipient, the same commands and errors, except that `meanwhile`
    runs between handing over the message and reading the server's answer to it (the longest wait)."""
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender, [f"size={len(raw)}"] if smtp.does_esmtp and smtp.has_extn("size") else [])
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        _abandon(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = smtp.docmd("data")
    if code != 354:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    # Lines starting with a dot get another (RFC 5321 4.5.2); _mime ends the message with CRLF.
    smtp.send(LEADING_DOT.sub(b"..", raw) + b".\r\n")
    meanwhile()
    code, reply = smtp.getreply()
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: the server closing (421) is closed on; otherwise the transaction is reset."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _close(connection) -> None:
    try:
        connection.close()
    except SEND_ERRORS:
        log.info("the SMTP connection did not close cleanly", exc_info=True)


def _context(message: Message) -> dict:
    return {**message.context, "link": message.secret_link}


def message_id(message: Message) -> str:
    """Fixed per row: a message sent twice (see the module docstring) carries the same Message-ID."""
    return f"<portico-message-{message.pk}@{urlsplit(settings.PORTICO_BASE_URL).hostname}>"


# --- 3. record ------------------------------------------------------------------------------------

def _ours(pks: list[int], worker: str, claimed_at: datetime.datetime):
    """Those rows, if this worker's claim still holds (not taken over after the lease)."""
    return outbox.held(Message, pks, worker, claimed_at)


def _record_sent(messages: list[Message], worker: str, claimed_at: datetime.datetime) -> None:
    if not messages:
        return
    # Committed on its own first: if recording the outcome fails, the mail must not go out again.
    pks = [m.pk for m in messages]
    recorded = _ours(pks, worker, claimed_at).update(
        status=Message.Status.SENT, sent_at=timezone.now(), secret_link="", last_error=""
    )
    if recorded < len(messages):  # our lease ran out on some (the sender stalled): another worker has them
        still_ours = set(Message.objects.filter(pk__in=pks, status=Message.Status.SENT, claimed_by=worker,
                                                claimed_at=claimed_at).values_list("pk", flat=True))
        log.warning("%s message(s) sent after their lease ran out", len(messages) - len(still_ours))
        messages = [m for m in messages if m.pk in still_ours]
    # One signal and one transaction for the whole batch, so receivers record it set-wise (a few
    # queries and one commit, not some per message). If that fails, each message is told on its own
    # (a savepoint each): one bad record is logged and rolled back without losing the others'.
    if not _tell_delivered(messages):
        with transaction.atomic():
            for message in messages:
                _tell_delivered([message])
    log.info("delivered %s message(s)", len(messages))


def _tell_delivered(messages: list[Message]) -> bool:
    try:
        with transaction.atomic():
            messages_delivered.send(Message, messages=messages)
    except Exception:
        log.exception("recording the delivery of message(s) %s failed", ", ".join(str(m.pk) for m in messages))
        return False
    return True


def _tell(signal, message: Message) -> None:
    try:
        with transaction.atomic():
            signal.send(Message, message=message)
    except Exception:
        log.exception("recording the outcome of message %s failed", message.pk)


@transaction.atomic
def _failed_try(message: Message, error: Exception, worker: str, claimed_at: datetime.datetime) -> None:
    reason = storable(f"{type(error).__name__}: {error}")[:300]
    mine = _ours([message.pk], worker, claimed_at)
    wait = outbox.RETRY.wait_after(message.attempts)
    if wait is None:
        if mine.update(status=Message.Status.FAILED, secret_link="", last_error=reason):
            _tell(message_failed, message)
            log.warning("message %s (%s) failed for good after %s tries", message.pk, message.kind, message.attempts)
        return
    retry_at = timezone.now() + wait
    mine.update(status=Message.Status.QUEUED, next_attempt_at=retry_at, last_error=reason)
    log.info("message %s (%s) try %s failed (%s); next at %s", message.pk, message.kind, message.attempts,
             type(error).__name__, retry_at.isoformat())


def _release(messages: list[Message], worker: str, claimed_at: datetime.datetime) -> None:
    """Give back rows this worker claimed but had no time to try: due at once, the try not counted."""
    if messages:
        _ours([m.pk for m in messages], worker, claimed_at).update(
            status=Message.Status.QUEUED, next_attempt_at=timezone.now(), attempts=F("attempts") - 1
        )
