"""Any sequence of staff inviting, resending and revoking guardians, guardians accepting (the identity
check and accept of the proxy's side), time passing and the periodic round running leaves, after each round, no parent's or
guardian's access on a patient of the end age, and a full level from 12 only with the teen's agreement."""

import datetime
import itertools

import pytest
import time_machine
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from access import errors, proxy_rules
from access.actions import proxies, proxy_periodic
from access.eligibility import local_today
from access.models import Proxy
from access.tests.proxy_helpers import accept
from clinic.models import Patient, Practice, StaffMember

# A child who is 11 at the start: the machine's clock crosses the 12th and the 18th birthdays.
START = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=datetime.UTC)
BORN = datetime.date(2015, 1, 20)
_ids = itertools.count()


class ProxyMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_ids)
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.practice = Practice.objects.create(name=f"Proxy machine {n}")
        user = get_user_model().objects.create_user(username=f"proxy-staff{n}")
        self.staff = StaffMember.objects.create(user=user, practice=self.practice)
        self.child = Patient.objects.create(practice=self.practice, chart_number="C", first_name="C", last_name="R",
                                            date_of_birth=BORN)
        self.n = n
        self.links: dict[int, proxies.SentProxyInvitation] = {}  # each grant's newest link

    def teardown(self):
        self.traveller.stop()

    def _age(self) -> int:
        return proxy_rules.age_of(BORN, local_today(self.practice))

    def _pick(self, data, *statuses) -> Proxy | None:
        ids = list(Proxy.objects.filter(patient=self.child, status__in=statuses).values_list("pk", flat=True))
        return Proxy.objects.get(pk=data.draw(st.sampled_from(ids))) if ids else None

    @rule(who=st.sampled_from(["mother", "father", "guardian"]), agreed=st.booleans())
    def invite(self, who, agreed):
        guardian = proxies.Guardian(who.title(), "R", who, f"{who}{self.n}@example.test", "+15555550177")
        try:
            sent = proxies.invite_guardian(self.child, guardian, by=self.staff, teen_agreed=agreed)
        except errors.InvitationError:
            return
        self.links[sent.proxy.pk] = sent
        assert self._age() < 18

    @rule(data=st.data())
    def accept(self, data):
        if (proxy := self._pick(data, "invited")) is None:
            return
        user, _ = get_user_model().objects.get_or_create(username=f"{proxy.email}")
        try:
            accept(self.links[proxy.pk], user)
        except (errors.ProxyAgeEnded, errors.LinkNotUsable):
            return  # an adult's grant, or a link that lapsed: refused
        assert self._age() < 18

    @rule(data=st.data())
    def revoke(self, data):
        if (proxy := self._pick(data, "invited", "active")) is not None:
            proxies.revoke_proxy(proxy, by=self.staff)

    @rule(data=st.data())
    def resend(self, data):
        if (proxy := self._pick(data, "invited")) is not None:
            try:
                self.links[proxy.pk] = proxies.resend_proxy_invitation(proxy, by=self.staff)
            except errors.InvitationError:
                pass

    @rule(days=st.sampled_from([1, 30, 200, 400, 1000]))
    def time_passes(self, days):
        self.clock.shift(datetime.timedelta(days=days))

    @rule()
    def periodic_round(self):
        proxy_periodic.expire_proxy_invitations()
        proxy_periodic.run_proxy_birthdays()
        live = Proxy.objects.filter(patient=self.child, status__in=["invited", "active"])
        if self._age() >= 18:
            assert not live.exists()
        if self._age() >= 12:
            assert not live.filter(level="full", teen_agreement_at__isnull=True).exists()

    @invariant()
    def ended_grants_stay_ended(self):
        for proxy in Proxy.objects.filter(patient=self.child, status="ended"):
            assert proxy.end_reason == "turned_18" and proxy.ended_at is not None


@pytest.mark.django_db
def test_proxy_state_machine():
    run_state_machine_as_test(
        ProxyMachine,
        settings=settings(max_examples=15, stateful_step_count=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
