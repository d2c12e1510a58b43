"""Where a request came from (its address and browser), for the audit trail and the throttles."""

import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings

from portico.text import storable

log = logging.getLogger("portico.client")


@dataclass(frozen=True)
class Client:
    """Where a request came from, for the audit trail."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> "Client":
        return cls(client_ip(request), storable(request.META.get("HTTP_USER_AGENT", ""))[:300])


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind a proxy the header PORTICO_CLIENT_IP_HEADER names.

    A list header (`X-Forwarded-For: client, proxy1`) counts only its LAST entry: that is the one our
    own proxy appended; anything before it came from the client and can be forged. If the configured
    header is missing or holds no address, REMOTE_ADDR (the proxy's address) is used and a warning
    logged: every such request then shares one throttle bucket, which fails closed, not open."""
    remote = _parse_ip(request.META.get("REMOTE_ADDR", ""))
    header = settings.PORTICO_CLIENT_IP_HEADER
    if not header:
        return remote
    raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    if ip := _parse_ip(raw.rsplit(",", 1)[-1]):
        return ip
    log.warning("PORTICO_CLIENT_IP_HEADER %s is %s; using the connection's address", header,
                "holds no valid address" if raw else "missing")
    return remote


def _parse_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


NO_CLIENT = Client()
