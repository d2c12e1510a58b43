"""Helpers shared by the tests of parents' and guardians' access (issue 21)."""

import datetime

from access.actions import proxies
from access.models import AccessEvent, Proxy, ProxyInvitation
from access.tests.helpers import snapshot
from clinic.models import Notification, Patient

JORDAN = proxies.Guardian(first_name="Jordan", last_name="Rivera", relationship="mother",
                          email="jordan@example.test", mobile_phone="+15555550177")


def child(cast, born: datetime.date, *, first_name="Alex", chart="A-300", **fields) -> Patient:
    return Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number=chart, first_name=first_name,
                                  last_name="Rivera", date_of_birth=born, **fields)


def proxy_snapshot() -> dict:
    """snapshot() and the proxies' rows and the bell: what a refused proxy action must leave alone."""
    return {**snapshot(), "proxies": list(Proxy.objects.order_by("pk").values()),
            "proxy_invitations": list(ProxyInvitation.objects.order_by("pk").values()),
            "notifications": Notification.objects.count()}


def proxy_events(proxy) -> list[tuple[str, str]]:
    """(action, reason) of the proxy's history, oldest first."""
    return list(AccessEvent.objects.filter(proxy=proxy).order_by("id").values_list("action", "reason"))


def accept(proxy: Proxy, account) -> bool:
    """A stand-in for the proxy's side accepting (access.actions.proxy_acceptance, built in parallel):
    what it must do to the rows, one conditional UPDATE of an invited grant and its pending link."""
    from django.db import transaction
    from django.utils import timezone

    from access.history import Actor, record

    with transaction.atomic():
        now = timezone.now()
        if not Proxy.objects.filter(pk=proxy.pk, status=Proxy.Status.INVITED).update(
                status=Proxy.Status.ACTIVE, account=account, accepted_at=now):
            return False
        ProxyInvitation.objects.filter(proxy=proxy, status=ProxyInvitation.Status.PENDING).update(
            status=ProxyInvitation.Status.ACCEPTED, closed_at=now)
        record(proxy.practice, AccessEvent.Action.PROXY_ACCEPTED, actor=Actor.patient(account),
               patient=proxy.patient, proxy=proxy)
        return True
