"""The provider's callbacks: a text's status (/sms/status/) and a text a patient sent (/sms/inbound/).
Each is refused (403) unless X-Twilio-Signature verifies over the URL under PORTICO_BASE_URL and the
form parameters; each changes nothing the second time (a status only moves forward; an inbound text is
kept once per provider sid). A status for a sid no text has yet (the provider called back before the
worker committed the sid) is kept (EarlyStatus) and applied once the sid is recorded."""

import datetime
import logging
from functools import wraps

from django.db import transaction
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sms import provider
from sms.models import EarlyStatus, InboundText, TextMessage
from sms.signals import text_delivered, text_failed, text_received

log = logging.getLogger("portico.sms")
Status = TextMessage.Status

# The provider's statuses we record, and from which of ours each may be reached (only forward).
_AFTER = {
    "sent": (Status.SENDING, Status.ACCEPTED),
    "delivered": (Status.SENDING, Status.ACCEPTED, Status.SENT),
    "undelivered": (Status.SENDING, Status.ACCEPTED, Status.SENT),
    "failed": (Status.SENDING, Status.ACCEPTED, Status.SENT),
}
# The order statuses are applied in when several came early (forward only: "sent" before the rest).
_RANK = {"sent": 0, "delivered": 1, "undelivered": 1, "failed": 1}
# An early status whose sid never shows up (not one of our texts) is dropped after this long.
EARLY_KEPT = datetime.timedelta(days=2)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed_by_provider(url_name: str):
    def decorate(view):
        @csrf_exempt
        @require_POST
        @wraps(view)
        def wrapper(request):
            params = {key: request.POST.get(key) for key in request.POST}
            if not provider.signed(provider.callback_url(url_name), params,
                                   request.headers.get("X-Twilio-Signature", "")):
                log.warning("refused an unsigned or wrongly signed SMS callback to %s", request.path)
                return HttpResponseForbidden("Bad signature")
            return view(request, params)
        return wrapper
    return decorate


@signed_by_provider("sms:status")
def status(request, params: dict[str, str]):
    record_status(params.get("MessageSid", ""), params.get("MessageStatus", ""), params.get("ErrorCode", ""))
    return HttpResponse(status=204)


@transaction.atomic
def record_status(sid: str, reported: str, error_code: str = "") -> bool:
    """Move the text forward to `reported`; True if it moved (a repeat or an older status: False)."""
    if reported not in _AFTER or not sid:
        return False
    now, final = timezone.now(), reported != "sent"
    changes = {"status": reported, **({"finished_at": now, "error_code": error_code[:16]} if final else {})}
    if not TextMessage.objects.filter(provider_sid=sid, status__in=_AFTER[reported]).update(**changes):
        if not TextMessage.objects.filter(provider_sid=sid).exists():  # early: the worker has not recorded it yet
            EarlyStatus.objects.bulk_create([EarlyStatus(provider_sid=sid, status=reported, error_code=error_code[:16],
                                                         received_at=now)], ignore_conflicts=True)
        return False
    text = TextMessage.objects.get(provider_sid=sid)
    if reported == Status.DELIVERED:
        text_delivered.send(TextMessage, text=text)
    elif final:
        text_failed.send(TextMessage, text=text)
    return True


@transaction.atomic
def apply_early_statuses(sids: list[str] | None = None) -> int:
    """Apply the statuses that came before their text's sid was recorded, for `sids` (all: None) whose
    text now has it, in the order the provider moves (sent, then the outcome); each applied once, then
    deleted. Returns how many moved a text."""
    early = EarlyStatus.objects.select_for_update()
    if sids is not None:
        early = early.filter(provider_sid__in=sids)
    if not early.exists():  # nearly always: a worker's round costs one indexed read
        return 0
    known = set(TextMessage.objects.filter(provider_sid__in=early.values("provider_sid"))
                .values_list("provider_sid", flat=True))
    ready = sorted((e for e in early if e.provider_sid in known), key=lambda e: (e.provider_sid, _RANK[e.status]))
    moved = sum(record_status(e.provider_sid, e.status, e.error_code) for e in ready)
    EarlyStatus.objects.filter(pk__in=[e.pk for e in ready]).delete()
    if sids is None:
        EarlyStatus.objects.filter(received_at__lt=timezone.now() - EARLY_KEPT).delete()
    return moved


@signed_by_provider("sms:inbound")
def inbound(request, params: dict[str, str]):
    receive(params.get("MessageSid") or params.get("SmsSid", ""), params.get("From", ""), params.get("To", ""),
            params.get("Body", ""))
    # Replies (an opt-out confirmation, help) go through the outbox, recorded like every text.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@transaction.atomic
def receive(sid: str, from_number: str, to_number: str, body: str) -> bool:
    """Keep the inbound text and tell the rest of Portico, once per provider sid."""
    if not sid:
        return False
    inbound_text, created = InboundText.objects.get_or_create(
        provider_sid=sid, defaults={"from_number": from_number[:20], "to_number": to_number[:20],
                                    "body": body[:160], "received_at": timezone.now()})
    if created:
        text_received.send(InboundText, inbound=inbound_text)
    return created
