"""Webhooks: practices' own systems are told when a patient's portal access changes.

1. `queue_events` (an `access.signals.events_recorded` receiver) writes one WebhookDelivery row per
   (event, enabled endpoint of the event's practice) inside the transaction that writes the events:
   the outbox row commits, or rolls back, with the event, so an event is never lost or invented.
2. `deliver_due` (called by the worker each round) claims due rows (portico.outbox, as mail does: queued rows
   whose time has come, and rows left "sending" by a worker whose lease ran out: it was killed),
   POSTs each with a timeout, and records the outcome only while its lease still holds. A failure is
   retried on the outboxes' one schedule (portico.outbox.RETRY, as mail), then the row is "failed" (shown to the admin).

Delivery is at least once: a worker killed between the POST and recording it leaves the row to be
sent again after the lease, with the same event id (`Portico-Event-Id`), which receivers use to drop
duplicates. A row recorded delivered is never sent again.
"""

import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.utils import timezone

from access.actions.automatic import REMINDER_REASON
from access.models import AccessEvent, AccessRequest
from access.signals import access_requested, events_recorded
from api.models import WebhookDelivery, WebhookEndpoint
from portico import outbox
from portico.text import storable

log = logging.getLogger(__name__)
Action = AccessEvent.Action

# The access events a practice's system hears about, by the type it is told.
EVENT_TYPES = {
    Action.INVITATION_SENT: "portal_access.invited",
    Action.INVITATION_PRINTED: "portal_access.invited",  # handed over on paper (channel print)
    Action.ACCESS_GRANTED: "portal_access.accepted",
    Action.INVITATION_EXPIRED: "portal_access.expired",
    Action.INVITATION_LOCKED: "portal_access.locked",
    Action.INVITATION_REVOKED: "portal_access.revoked",
    Action.ACCESS_REVOKED: "portal_access.revoked",
    Action.ACCESS_DISCONNECTED: "portal_access.disconnected",
    Action.EMAIL_FAILED: "portal_access.email_failed",
    Action.TEXT_DELIVERED: "portal_access.text_delivered",
    Action.TEXT_FAILED: "portal_access.text_failed",
}
# A proxy's access (issue 21), whichever side wrote the event (staff's actions, the proxy accepting, the
# birthday job): the event's `proxy` says whose. Other events about a proxy (a link expired) are not told.
PROXY_EVENT_TYPES = {
    Action.PROXY_INVITED: "proxy.invited",
    Action.PROXY_ACCEPTED: "proxy.accepted",
    Action.PROXY_REVOKED: "proxy.revoked",
    Action.PROXY_ENDED: "proxy.ended",
}
ACCESS_REQUEST_CREATED = "access_request.created"  # someone asked for portal access (access_requested)
REMINDED = "portal_access.reminded"  # a link reissued for a reminder (other reissues are not news outside)

TIMEOUT_SECONDS = 10
# A claim holds this long; a batch of BATCH_SIZE requests, each at most TIMEOUT_SECONDS, fits well inside it.
LEASE = datetime.timedelta(minutes=5)
BATCH_SIZE = 10
SIGNATURE_TOLERANCE_SECONDS = 300  # what docs/api.md tells receivers to accept
# A finished delivery (delivered, or failed for good) is kept this long for the admin's page, then pruned.
KEEP_FINISHED_FOR = datetime.timedelta(days=30)


# --- registering an endpoint -------------------------------------------------------------------

def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str) -> None:
    """A URL Portico may send events to: the scheme rules (`_check_scheme`), and a host that does not
    resolve to an internal address (`public_addresses`). A name that does not resolve (yet) is accepted:
    there is nothing to reach, and each delivery checks the address it connects to anyway."""
    _check_scheme(url)
    parts = urlsplit(url)
    try:
        public_addresses(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror:
        pass


def _check_scheme(url: str) -> None:
    """HTTPS anywhere; plain HTTP only to a loopback address and only in development (DEBUG) or when
    PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP is set (tests): events must not cross a network unencrypted."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme != "http" or not parts.hostname:
        raise ValidationError("Enter an https:// URL.", code="scheme")
    if not _is_loopback(parts.hostname):
        raise ValidationError("Use https://: plain http:// is allowed only to this machine (127.0.0.1, ::1, "
                              "localhost), so events are never sent unencrypted over a network.", code="http")
    if not (settings.DEBUG or settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP):
        raise ValidationError("Use https://: plain http:// to this machine is allowed only in development.",
                              code="http")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_addresses(host: str, port: int) -> list[tuple]:
    """The socket addresses `host` resolves to, if every one of them is public; otherwise a
    ValidationError. A webhook URL is typed by a practice admin, and Portico's server sits next to
    things the admin must not reach through it (the database, a cloud metadata service, other
    internal hosts): a request there would be server-side request forgery. Every address counts,
    not only the first, since the connection may fall through to any of them.
    PORTICO_WEBHOOKS_ALLOW_PRIVATE (development and tests only) lifts the rule. Raises
    socket.gaierror if the name does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE:
        for *_, sockaddr in infos:
            if not _is_public(ipaddress.ip_address(sockaddr[0].split("%")[0])):  # drop an IPv6 zone
                raise ValidationError(
                    f"{host} resolves to {sockaddr[0]}, an internal address (loopback, private, link-local, "
                    "reserved, multicast or unspecified): webhooks go only to public addresses.",
                    code="internal")
    return [(family, sockaddr) for family, _, _, _, sockaddr in infos]


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 6 and ip.ipv4_mapped:  # ::ffff:127.0.0.1 reaches 127.0.0.1
        ip = ip.ipv4_mapped
    # is_global alone leaves out multicast (224.0.0.0/4 is "global"); the flags say what is refused.
    return ip.is_global and not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved
                                 or ip.is_multicast or ip.is_unspecified)


def create_endpoint(practice, url: str, *, by) -> WebhookEndpoint:
    check_url(url)
    return WebhookEndpoint.objects.create(practice=practice, url=url, secret=new_secret(), created_by=by,
                                          created_at=timezone.now())


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret, used from the next attempt on (also for deliveries still queued)."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> bool:
    """Turn the endpoint on or off; True if that changed it. It sets the state asked for rather than
    flipping it, so two admins pressing Disable on the same page leave it disabled. A disabled endpoint
    is queued nothing, and what was queued before is not sent (`_send`)."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk).exclude(enabled=enabled).update(enabled=enabled)
    endpoint.enabled = enabled
    return bool(changed)


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """The endpoint and its deliveries, sent or not (a row being sent right now fails to record: no row)."""
    endpoint.delete()


# --- the outbox --------------------------------------------------------------------------------

@receiver(events_recorded, dispatch_uid="api.webhooks.queue_events")
def queue_events(sender, events: list[AccessEvent], **kwargs) -> None:
    """Outbox rows for the events a practice's system hears about, in the caller's transaction."""
    told = [(event, kind) for event in events if event.patient_id and (kind := event_type(event))]
    if not told:
        return
    endpoints = {}
    for endpoint_id, practice_id in WebhookEndpoint.objects.filter(
            practice_id__in={event.practice_id for event, _ in told}, enabled=True).values_list("pk", "practice_id"):
        endpoints.setdefault(practice_id, []).append(endpoint_id)
    now, rows = timezone.now(), []
    for event, kind in told:
        if event.practice_id not in endpoints:
            continue  # nobody listens: no payload to make (a bulk job appends thousands of events)
        payload = _payload(event, kind)
        rows += [WebhookDelivery(endpoint_id=endpoint_id, event_id=payload["id"], event_type=kind, payload=payload,
                                 next_attempt_at=now, created_at=now)
                 for endpoint_id in endpoints.get(event.practice_id, [])]
    WebhookDelivery.objects.bulk_create(rows)


@receiver(access_requested, dispatch_uid="api.webhooks.queue_access_request")
def queue_access_request(sender, access_request: AccessRequest, **kwargs) -> None:
    """access_request.created for a new request (not a repeat merged into an open one), in the request's
    transaction. Ids only: the receiver reads the request through the API."""
    endpoints = list(WebhookEndpoint.objects.filter(practice_id=access_request.practice_id, enabled=True)
                     .values_list("pk", flat=True))
    if not endpoints:
        return
    now = timezone.now()
    payload = {"id": str(uuid.uuid4()), "type": ACCESS_REQUEST_CREATED, "occurred_at": access_request.created_at.isoformat(),
               "practice": access_request.practice_id, "access_request": access_request.pk}
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint_id=endpoint_id, event_id=payload["id"], event_type=ACCESS_REQUEST_CREATED,
                        payload=payload, next_attempt_at=now, created_at=now) for endpoint_id in endpoints)


def event_type(event: AccessEvent) -> str | None:
    if event.proxy_id is not None:
        return PROXY_EVENT_TYPES.get(event.action)
    if event.action == Action.LINK_REISSUED:
        return REMINDED if event.reason == REMINDER_REASON else None
    return EVENT_TYPES.get(event.action)


def _payload(event: AccessEvent, kind: str) -> dict:
    # Ids and a time only: never the invitation token, the email or any demographics (the receiver
    # asks the API for what it needs, with its own token).
    payload = {
        "id": str(uuid.uuid4()), "type": kind, "occurred_at": event.at.isoformat(),
        "practice": event.practice_id, "patient": event.patient_id, "invitation": event.invitation_id,
    }
    if event.proxy_id is not None:  # the patient is the person acted for
        payload["proxy"] = event.proxy_id
    return payload


# --- signing -------------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, event_id: str, body: bytes, *, timestamp: int) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Portico-Webhooks/1",
        "Portico-Event-Id": event_id,
        "Portico-Signature": f"t={timestamp},v1={signature(secret, timestamp, body)}",
    }


# --- delivering ----------------------------------------------------------------------------------

def deliver_due(*, worker: str, limit: int = 100) -> int:
    """Send up to `limit` due deliveries, a batch at a time; returns how many were tried."""
    tried = 0
    while tried < limit:
        batch = _claim(min(BATCH_SIZE, limit - tried), worker)
        if not batch:
            break
        for delivery in batch:
            _send(delivery, worker)
        tried += len(batch)
    return tried


def _claim(size: int, worker: str) -> list[WebhookDelivery]:
    return outbox.claim(WebhookDelivery, size, worker, lease=LEASE, related=["endpoint"])[1]


def _send(delivery: WebhookDelivery, worker: str) -> None:
    mine = outbox.held(WebhookDelivery, [delivery.pk], worker, delivery.claimed_at)
    endpoint = delivery.endpoint
    if not endpoint.enabled:  # disabled after the row was queued: it is not sent, and says why
        mine.update(status=WebhookDelivery.Status.FAILED, last_error="Endpoint disabled")
        return
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = signed_headers(endpoint.secret, str(delivery.event_id), body, timestamp=int(time.time()))
    try:
        # Again: settings may have changed since it was registered. The address is checked as the
        # connection is made (_connect), on what DNS says now.
        _check_scheme(endpoint.url)
        status = _post(endpoint.url, body, headers)
    except ValidationError as error:
        _failed_try(delivery, mine, " ".join(error.messages), status=None)
        return
    except Exception as error:  # any failure of the far end is a failed try, never the worker's crash
        _failed_try(delivery, mine, str(error) or type(error).__name__, status=getattr(error, "code", None))
        return
    if not mine.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now(), response_status=status,
                       last_error=""):
        log.warning("webhook delivery %s sent after its lease ran out", delivery.pk)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is a failure: following it would send the event somewhere the admin never registered.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """A socket to one of `host`'s public addresses, checked and connected from one lookup: resolving
    again to connect would let DNS answer a public address to the check and an internal one to the
    connection (DNS rebinding)."""
    error = None
    for family, sockaddr in public_addresses(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error or OSError(f"{host} has no address")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = _connect(self.host, self.port, self.timeout)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        # The certificate is still checked against the host name in the URL, not the address.
        self.sock = self._context.wrap_socket(_connect(self.host, self.port, self.timeout), server_hostname=self.host)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)


# No proxy from the environment: through one, the address check would apply to the proxy, not to the
# endpoint it reaches.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects, _CheckedHTTPHandler,
                                      _CheckedHTTPSHandler)


def _post(url: str, body: bytes, headers: dict) -> int:
    """The response status if 2xx; raises for anything else (urllib raises HTTPError for >= 300)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (check_url ran)
    with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
        response.read(1024)
        return response.status


def _failed_try(delivery: WebhookDelivery, mine, reason: str, *, status: int | None) -> None:
    reason = storable(reason)[:300]
    wait = outbox.RETRY.wait_after(delivery.attempts)
    if wait is None:
        mine.update(status=WebhookDelivery.Status.FAILED, last_error=reason, response_status=status)
        log.warning("webhook delivery %s failed for good after %s tries", delivery.pk, delivery.attempts)
        return
    retry_at = timezone.now() + wait
    mine.update(status=WebhookDelivery.Status.QUEUED, next_attempt_at=retry_at, last_error=reason,
                response_status=status)


# --- pruning -------------------------------------------------------------------------------------

def prune_finished() -> int:
    """Delete deliveries finished more than KEEP_FINISHED_FOR ago, in one DELETE (run_periodic); returns
    how many. A finished row's next_attempt_at is when its last try was due, so about when it finished,
    and (status, next_attempt_at) is indexed. Queued and sending rows are never pruned: they are work."""
    finished = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED],
        next_attempt_at__lt=timezone.now() - KEEP_FINISHED_FOR)
    return finished.delete()[0]
