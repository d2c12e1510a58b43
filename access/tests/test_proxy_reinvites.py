"""A parent or guardian who lets their link lapse is sent a new one by the practice's re-invite settings,
as patients are (access.actions.proxy_periodic.reinvite_proxies, in the periodic round)."""

import datetime

import time_machine

from access.actions import proxies
from access.models import AccessEvent, Proxy, ProxyInvitation
from access.tests.proxy_helpers import JORDAN, child, proxy_events, proxy_snapshot
from mail.models import Message
from ops.periodic import run_once

UTC = datetime.UTC
SENT = datetime.datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


def at(moment: datetime.datetime, call, *args, **kwargs):
    with time_machine.travel(moment, tick=False):
        return call(*args, **kwargs)


def _invited(cast, born=datetime.date(2018, 6, 1), *, after_days=30, at_most=2) -> Proxy:
    cast.practice.reinvite_after_days, cast.practice.reinvite_max = after_days, at_most
    cast.practice.save()
    return at(SENT, proxies.invite_guardian, child(cast, born), JORDAN, by=cast.alice).proxy


def test_a_lapsed_link_is_sent_again_the_practices_days_after_it_was_sent(cast):
    proxy = _invited(cast)
    assert at(SENT + 30 * DAY - datetime.timedelta(seconds=1), run_once)["proxy_reinvited"] == 0
    assert at(SENT + 30 * DAY, run_once)["proxy_reinvited"] == 1

    first, again = ProxyInvitation.objects.order_by("pk")
    assert (first.status, again.status, again.reinvite_number, again.sent_by) == ("expired", "pending", 1, None)
    assert (again.sent_at, again.expires_at) == (SENT + 30 * DAY, SENT + 37 * DAY)
    event = AccessEvent.objects.get(proxy=proxy, action="proxy.invited", actor_kind="system")
    assert (event.channel, event.reason) == (
        "automatic", "Jordan Rivera (mother); re-invite 1: the previous link was not accepted")
    assert Message.objects.filter(kind="proxy-invitation", to="jordan@example.test").count() == 2


def test_at_most_the_practices_number_of_re_invites(cast):
    _invited(cast, at_most=2)
    for k in range(1, 4):
        at(SENT + 30 * k * DAY, run_once)
    assert list(ProxyInvitation.objects.order_by("pk").values_list("reinvite_number", flat=True)) == [0, 1, 2]
    before = proxy_snapshot()
    at(SENT + 200 * DAY, run_once)
    assert proxy_snapshot() == before


def test_never_when_the_practice_does_not_re_invite(cast):
    _invited(cast, after_days=None)
    at(SENT + 100 * DAY, run_once)
    assert ProxyInvitation.objects.count() == 1


def test_never_for_a_revoked_guardian(cast):
    proxy = _invited(cast)
    at(SENT + DAY, proxies.revoke_proxy, proxy, by=cast.alice)
    at(SENT + 30 * DAY, run_once)
    assert ProxyInvitation.objects.count() == 1
    assert proxy_events(proxy)[-1][0] == "proxy.revoked"


def test_never_once_the_patient_has_reached_the_end_age(cast):
    # 18 on 20 January 2026 in New York: the link sent on 5 January lapses before, the re-invite is due after.
    proxy = _invited(cast, born=datetime.date(2008, 1, 20))
    at(SENT + 30 * DAY, run_once)
    proxy.refresh_from_db()
    assert (proxy.status, proxy.end_reason) == ("ended", "turned_18")
    assert ProxyInvitation.objects.count() == 1
