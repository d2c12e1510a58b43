"""Helpers shared by the tests of parents' and guardians' access (issue 21)."""

import datetime

from access.actions import proxies, proxy_acceptance
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


def accept(sent: proxies.SentProxyInvitation, account) -> Proxy:
    """The guardian's side, as they go through it (access.actions.proxy_acceptance): the identity check
    with the child's date of birth and their own mobile number, then accepting with their account."""
    answers = proxy_acceptance.ProxyAnswers(date_of_birth=sent.proxy.patient.date_of_birth,
                                            phone=sent.proxy.mobile_phone)
    verified = proxy_acceptance.verify_proxy_identity(sent.token, answers)
    return proxy_acceptance.accept_proxy_invitation(sent.token, proof=verified.proof, account=account)
