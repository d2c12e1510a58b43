"""Send outbox messages over SMTP, each exactly once as far as SMTP allows.

A sender claims a row with one conditional UPDATE (queued -> sending); a second worker's UPDATE
matches nothing and it moves on. A worker killed mid-send leaves the row "sending"; after
MAIL_LEASE it is claimed again. The Message-ID is fixed per row, so a receiver can drop the rare
duplicate from a crash between the server's "250 OK" and our commit.
"""

import datetime
import logging
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mail.compose import make_message
from mail.models import Message
from mail.signals import message_delivered, message_failed

log = logging.getLogger("portico.mail")

# Wait before try 2, 3, ...: six tries over about an hour, then the message is marked failed.
RETRY_DELAYS = [datetime.timedelta(minutes=m) for m in (2, 5, 10, 15, 30)]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.PORTICO_MAIL_LEASE_SECONDS)


def due_messages():
    now = timezone.now()
    return Message.objects.filter(
        Q(status=Message.Status.QUEUED, next_attempt_at__lte=now)
        | Q(status=Message.Status.SENDING, claimed_at__lte=now - lease())
    )


def deliver(message_id: int) -> bool:
    """Try to send one message now. Returns False if it was not due or another worker has it."""
    if not _claim(message_id):
        return False
    message = Message.objects.get(pk=message_id)
    try:
        email = make_message(message.kind, message.to, _context(message), message_id=_message_id(message))
        email.send()
    except (TimeoutError, smtplib.SMTPException, OSError) as e:
        _failed_try(message, e)
    except Exception as e:  # a bug (e.g. a template error) must not leave the row "sending" forever
        log.exception("message %s (%s) could not be built or sent", message.pk, message.kind)
        _failed_try(message, e)
    else:
        _delivered(message)
    return True


def deliver_due() -> int:
    """Deliver everything that is due (for the periodic sweep); returns how many were tried."""
    return sum(deliver(pk) for pk in due_messages().values_list("pk", flat=True)[:500])


def _claim(message_id: int) -> bool:
    now = timezone.now()
    return due_messages().filter(pk=message_id).update(
        status=Message.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    ) == 1


def _context(message: Message) -> dict:
    return {**message.context, "link": message.secret_link}


def _message_id(message: Message) -> str:
    return f"<portico-message-{message.pk}@{urlsplit(settings.PORTICO_BASE_URL).hostname}>"


def _delivered(message: Message) -> None:
    # Committed on its own first: if recording the outcome fails, the mail must not go out again.
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENT, sent_at=timezone.now(), secret_link="", last_error=""
    )
    _tell(message_delivered, message)
    log.info("message %s (%s) delivered on try %s", message.pk, message.kind, message.attempts)


def _tell(signal, message: Message) -> None:
    try:
        with transaction.atomic():
            signal.send(Message, message=message)
    except Exception:
        log.exception("recording the outcome of message %s failed", message.pk)


@transaction.atomic
def _failed_try(message: Message, error: Exception) -> None:
    reason = f"{type(error).__name__}: {error}"[:300]
    if message.attempts >= MAX_ATTEMPTS:
        Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, secret_link="", last_error=reason)
        _tell(message_failed, message)
        log.warning("message %s (%s) failed for good after %s tries", message.pk, message.kind, message.attempts)
        return
    retry_at = timezone.now() + RETRY_DELAYS[message.attempts - 1]
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.QUEUED, next_attempt_at=retry_at, last_error=reason
    )
    from mail.tasks import deliver_message  # the task module imports this one

    deliver_message.using(run_after=retry_at).enqueue(message.pk)
    log.info("message %s (%s) try %s failed (%s); next at %s", message.pk, message.kind, message.attempts,
             type(error).__name__, retry_at.isoformat())
