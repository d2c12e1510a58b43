"""A pending proxy invitation made directly (the staff side's invite, access.actions.proxies, is built
in parallel): a Proxy and its ProxyInvitation whose link is hashed for tokens.PROXY_INVITATION, as
that invite must hash it. Plus the snapshot a refusal must leave unchanged."""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone

from access import tokens
from access.models import AccessEvent, Connection, Proxy, ProxyInvitation
from clinic.models import Notification
from mail.models import Message

GUARDIAN_MOBILE = "+15555550199"


@dataclass
class PendingProxy:
    proxy: Proxy
    invitation: ProxyInvitation
    token: str


def invite_guardian(patient, *, email="jordan@example.test", first_name="Jordan", last_name="Rivera",
                    mobile=GUARDIAN_MOBILE, relationship="mother", level="full", by=None,
                    valid_for=datetime.timedelta(days=7)) -> PendingProxy:
    now, token = timezone.now(), tokens.new_token()
    proxy = Proxy.objects.create(practice=patient.practice, patient=patient, kind=Proxy.Kind.GUARDIAN,
                                 first_name=first_name, last_name=last_name, relationship=relationship, email=email,
                                 mobile_phone=mobile, level=level, invited_by=by, created_at=now)
    invitation = ProxyInvitation.objects.create(
        proxy=proxy, practice=patient.practice, token_hash=tokens.hash_token(token, tokens.PROXY_INVITATION),
        sent_by=by, sent_at=now, expires_at=now + valid_for)
    return PendingProxy(proxy, invitation, token)


def proxy_snapshot() -> dict:
    """Everything a proxy action may change."""
    return {
        "proxies": list(Proxy.objects.order_by("pk").values()),
        "invitations": list(ProxyInvitation.objects.order_by("pk").values()),
        "connections": list(Connection.objects.order_by("pk").values()),
        "accounts": get_user_model().objects.count(),
        "events": AccessEvent.objects.count(),
        "messages": Message.objects.count(),
        "notifications": Notification.objects.count(),
    }


def proxy_events(proxy) -> list[str]:
    return list(AccessEvent.objects.filter(proxy=proxy).order_by("id").values_list("action", flat=True))


