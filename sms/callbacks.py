"""The provider's callbacks: a text's status (/sms/status/) and a text a patient sent (/sms/inbound/).
Each is refused (403) unless X-Twilio-Signature verifies over the URL under PORTICO_BASE_URL and the
form parameters; each changes nothing the second time (a status only moves forward; an inbound text is
kept once per provider sid)."""

import logging
from functools import wraps

from django.db import transaction
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sms import provider
from sms.models import InboundText, TextMessage
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
        return False
    text = TextMessage.objects.get(provider_sid=sid)
    if reported == Status.DELIVERED:
        text_delivered.send(TextMessage, text=text)
    elif final:
        text_failed.send(TextMessage, text=text)
    return True


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
