"""A proxy accepting a grant (access.actions.proxy_acceptance): the identity check at its boundaries
(the lock on the 3rd failure), the accept refused from the patient's ending birthday in the practice's
time zone (29 February too), exactly once, only for the invited address; and signing in for someone."""

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model

from access import errors
from access.actions import proxy_acceptance
from access.actions.proxy_acceptance import ProxyAnswers
from access.models import AccessEvent, Proxy, ProxyInvitation
from access.tests.helpers import connect
from access.tests.proxies import invite_guardian, proxy_events, proxy_snapshot
from clinic.models import Notification, Patient
from conftest import at_once
from mail.models import Message

PASSWORD = "a-long-enough-password"
Action = AccessEvent.Action
User = get_user_model()
UTC = datetime.UTC


def _child(cast, born: datetime.date, first="Alex") -> Patient:
    return Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number=f"A-{first}",
                                  first_name=first, last_name="Rivera", date_of_birth=born)


def _right(patient) -> ProxyAnswers:
    return ProxyAnswers(date_of_birth=patient.date_of_birth, phone="(555) 555-0199")


def _verified(pending):
    return proxy_acceptance.verify_proxy_identity(pending.token, _right(pending.proxy.patient)).proof


@pytest.fixture
def alex(cast):
    return _child(cast, datetime.date(2016, 4, 9))


def test_it_accepts_with_a_new_account_and_says_so(cast, alex):
    pending = invite_guardian(alex, by=cast.alice)
    proxy = proxy_acceptance.accept_proxy_invitation(pending.token, proof=_verified(pending), password=PASSWORD)
    account = User.objects.get(username="jordan@example.test")
    assert (proxy.status, proxy.account, account.get_full_name()) == ("active", account, "Jordan Rivera")
    assert ProxyInvitation.objects.get().status == "accepted"
    assert proxy_events(proxy) == [Action.IDENTITY_PASSED, Action.ACCOUNT_CREATED, Action.PROXY_ACCEPTED]
    # The bell, rung from the history event (access.receivers): whoever invited them and the doctor.
    assert sorted(Notification.objects.values_list("recipient__user__username", "text")) == [
        (name, "Jordan Rivera (mother) accepted access to Alex Rivera's portal.") for name in ("alice", "dora")]
    (message,) = Message.objects.filter(kind=Message.Kind.PROXY_CONNECTED)
    assert (message.to, message.context["patient"]) == ("jordan@example.test", "Alex Rivera")
    assert not Message.objects.filter(kind="caregiver-accepted").exists()  # only who invited a caregiver is told


def test_a_caregiver_cannot_answer_as_a_guardian_nor_a_guardian_with_a_code(cast, alex):
    pending = invite_guardian(alex)
    with pytest.raises(errors.IdentityNotConfirmed):
        proxy_acceptance.verify_proxy_identity(pending.token, ProxyAnswers(code="ABCDE-FGH23"))


def test_the_third_wrong_answer_locks_and_tells_staff(cast, alex):
    pending = invite_guardian(alex, by=cast.alice)
    wrong = ProxyAnswers(date_of_birth=alex.date_of_birth, phone="(555) 555-0198")
    for left in (2, 1):
        with pytest.raises(errors.IdentityNotConfirmed) as refused:
            proxy_acceptance.verify_proxy_identity(pending.token, wrong)
        assert refused.value.attempts_left == left
    assert ProxyInvitation.objects.get().status == "pending"
    with pytest.raises(errors.LinkNotUsable) as locked:
        proxy_acceptance.verify_proxy_identity(pending.token, wrong)
    assert locked.value.reason == "locked"
    invitation = ProxyInvitation.objects.get()
    assert (invitation.status, invitation.failed_checks) == ("locked", 3)
    assert proxy_events(pending.proxy) == [Action.IDENTITY_FAILED] * 3 + [Action.INVITATION_LOCKED]
    assert sorted(n.recipient.user.username for n in Notification.objects.all()) == ["alice", "dora"]
    before = proxy_snapshot()
    with pytest.raises(errors.LinkNotUsable):  # even the right answers now
        proxy_acceptance.verify_proxy_identity(pending.token, _right(alex))
    assert {**proxy_snapshot(), "events": 0} == {**before, "events": 0}
    assert proxy_events(pending.proxy)[-1] == Action.LINK_REFUSED


def test_the_link_works_until_the_second_it_expires(cast, alex):
    with time_machine.travel(datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC), tick=False) as clock:
        pending = invite_guardian(alex)  # expires 2026-11-09 15:00 UTC
        clock.move_to(datetime.datetime(2026, 11, 9, 14, 59, 59, tzinfo=UTC))
        proof = _verified(pending)
        clock.move_to(datetime.datetime(2026, 11, 9, 15, 0, tzinfo=UTC))
        with pytest.raises(errors.LinkNotUsable) as refused:
            proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, password=PASSWORD)
    assert refused.value.reason == "expired"
    assert ProxyInvitation.objects.get().status == "expired"
    assert Proxy.objects.get().status == "invited" and not User.objects.filter(username="jordan@example.test").exists()


@pytest.mark.parametrize(("born", "last_day", "birthday"), [
    # The 18th birthday at Maple Street Clinic (America/New_York): refused from its local midnight.
    (datetime.date(2008, 11, 3), datetime.datetime(2026, 11, 3, 4, 59, 59, tzinfo=UTC),
     datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC)),
    # Born on 29 February: 18 on 1 March 2026 (no 29 February that year).
    (datetime.date(2008, 2, 29), datetime.datetime(2026, 3, 1, 4, 59, 59, tzinfo=UTC),
     datetime.datetime(2026, 3, 1, 5, 0, tzinfo=UTC)),
])
def test_a_guardian_cannot_accept_from_the_18th_birthday_in_the_practice_time_zone(cast, born, last_day, birthday):
    teen = _child(cast, born, first="Sam")
    with time_machine.travel(birthday - datetime.timedelta(days=1), tick=False) as clock:
        pending = invite_guardian(teen)
        second = invite_guardian(teen, email="casey@example.test", mobile="+15555550177")
        clock.move_to(birthday)
        proof = _verified(pending)
        before = proxy_snapshot()
        with pytest.raises(errors.ProxyAgeEnded):
            proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, password=PASSWORD)
        assert proxy_snapshot() == before
        clock.move_to(last_day)
        proof = proxy_acceptance.verify_proxy_identity(second.token, ProxyAnswers(
            date_of_birth=born, phone="(555) 555-0177")).proof
        assert proxy_acceptance.accept_proxy_invitation(second.token, proof=proof, password=PASSWORD).status == "active"


def test_the_practice_age_setting_decides(cast):
    cast.practice.proxy_ends_at_age = 19
    cast.practice.save()
    teen = _child(cast, datetime.date(2008, 1, 1), first="Sam")  # 18 at NOW-like dates
    with time_machine.travel(datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC), tick=False):
        pending = invite_guardian(teen)
        assert proxy_acceptance.accept_proxy_invitation(pending.token, proof=_verified(pending),
                                                        password=PASSWORD).status == "active"


def test_it_accepts_exactly_once(cast, alex):
    pending = invite_guardian(alex)
    proof = _verified(pending)
    proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, password=PASSWORD)
    before = proxy_snapshot()
    with pytest.raises(errors.LinkNotUsable) as again:
        proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, password=PASSWORD)
    assert again.value.reason == "used"
    assert {**proxy_snapshot(), "events": 0} == {**before, "events": 0}  # only the refusal is recorded


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_grant_exactly_once(cast, alex):
    pending = invite_guardian(alex)
    proof = _verified(pending)
    results = at_once(*[lambda: proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof,
                                                                         password=PASSWORD)] * 2)
    assert sorted(type(r).__name__ for r in results) == ["LinkNotUsable", "Proxy"]
    assert User.objects.filter(username="jordan@example.test").count() == 1
    assert AccessEvent.objects.filter(action=Action.PROXY_ACCEPTED).count() == 1


def test_a_parent_who_is_a_patient_accepts_with_their_own_account(cast, alex):
    _, own = connect(cast)  # Pat Jones, patient, pat@example.test
    pending = invite_guardian(alex, email="pat@example.test", first_name="Pat", last_name="Jones")
    proxy = proxy_acceptance.accept_proxy_invitation(pending.token, proof=_verified(pending), account=own.account)
    assert proxy.account == own.account and proxy.status == "active"
    assert own.account.connections.filter(ended_at__isnull=True).count() == 1  # their own record stays


def test_it_refuses_another_address_staff_and_the_patient_themselves(cast, alex):
    _, own = connect(cast)
    pending = invite_guardian(alex)
    proof = _verified(pending)
    before = proxy_snapshot()
    for account in (own.account, cast.alice.user):
        with pytest.raises(errors.WrongAccount):
            proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, account=account)
    assert proxy_snapshot() == before
    teen = Patient.objects.create(practice=cast.practice, chart_number="A-15", first_name="Sam", last_name="Rivera",
                                  email="family@example.test", ssn="456789123", date_of_birth=datetime.date(2011, 1, 5))
    _, teens_own = connect(cast, teen)  # a teen with their own account, on the family's shared address
    shared = invite_guardian(teen, email="family@example.test")
    with pytest.raises(errors.WrongAccount):
        proxy_acceptance.accept_proxy_invitation(shared.token, proof=_verified(shared), account=teens_own.account)


def test_it_needs_the_proof_of_this_check(cast, alex):
    pending = invite_guardian(alex)
    _verified(pending)
    before = proxy_snapshot()
    with pytest.raises(errors.IdentityNotConfirmed):
        proxy_acceptance.accept_proxy_invitation(pending.token, proof="made-up", password=PASSWORD)
    assert proxy_snapshot() == before


def test_the_proof_works_for_30_minutes_after_the_check(cast, alex):
    checked_at = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    late, in_time = invite_guardian(alex), invite_guardian(_child(cast, datetime.date(2017, 5, 1), first="Casey"))
    with time_machine.travel(checked_at, tick=False) as clock:
        late_proof, in_time_proof = _verified(late), _verified(in_time)
        clock.move_to(datetime.datetime(2026, 11, 2, 15, 30, tzinfo=UTC))
        before = proxy_snapshot()
        with pytest.raises(errors.IdentityNotConfirmed):
            proxy_acceptance.accept_proxy_invitation(late.token, proof=late_proof, password=PASSWORD)
        assert proxy_snapshot() == before
        clock.move_to(datetime.datetime(2026, 11, 2, 15, 29, 59, tzinfo=UTC))
        proxy = proxy_acceptance.accept_proxy_invitation(in_time.token, proof=in_time_proof, password=PASSWORD)
    assert proxy.status == "active"


def test_a_grant_revoked_meanwhile_cannot_be_accepted(cast, alex):
    pending = invite_guardian(alex)
    proof = _verified(pending)
    Proxy.objects.filter(pk=pending.proxy.pk).update(status="revoked")
    before = proxy_snapshot()
    with pytest.raises(errors.LinkNotUsable) as refused:
        proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, password=PASSWORD)
    assert refused.value.reason == "revoked" and proxy_snapshot() == before


def test_signing_in_for_someone_is_recorded_only_while_the_grant_is_active(cast, alex):
    pending = invite_guardian(alex)
    proxy = proxy_acceptance.accept_proxy_invitation(pending.token, proof=_verified(pending), password=PASSWORD)
    assert proxy_acceptance.sign_in_for(proxy) is True
    event = AccessEvent.objects.get(action=Action.PROXY_SIGNED_IN)
    assert (event.patient, event.proxy, event.actor, event.actor_role) == (alex, proxy, proxy.account, "proxy")
    Proxy.objects.filter(pk=proxy.pk).update(status="revoked")
    assert proxy_acceptance.sign_in_for(proxy) is False
    assert AccessEvent.objects.filter(action=Action.PROXY_SIGNED_IN).count() == 1
