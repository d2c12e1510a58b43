"""Caregivers of adults (access.actions.caregivers): a connected adult patient invites one (a link by
email, a one-time code on screen only), the code valid 7 days to the second, the lock at 3, and the
patient revoking any grant on their own record."""

import datetime

import pytest
import time_machine

from access import errors, tokens
from access.actions import caregivers, proxy_acceptance
from access.actions.caregivers import Caregiver
from access.actions.proxy_acceptance import ProxyAnswers
from access.models import AccessEvent, Connection, Proxy, ProxyInvitation
from access.tests.helpers import connect
from access.tests.proxies import invite_guardian, proxy_events, proxy_snapshot
from clinic.models import Patient
from mail.models import Message

Action = AccessEvent.Action
UTC = datetime.UTC
SENT = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
ROBIN = Caregiver(first_name="Robin", last_name="Jones", email="robin@example.test", relationship="spouse",
                  level="limited")


@pytest.fixture
def pats_connection(cast):
    with time_machine.travel(SENT - datetime.timedelta(days=1), tick=False):
        return connect(cast)[1]


def _invite(connection, caregiver=ROBIN):
    with time_machine.travel(SENT, tick=False):
        return caregivers.invite_caregiver(connection, caregiver)


def test_it_invites_with_a_link_by_email_and_a_code_on_screen_only(cast, pats_connection):
    invited = _invite(pats_connection)
    proxy, invitation = Proxy.objects.get(), ProxyInvitation.objects.get()
    assert (proxy.kind, proxy.status, proxy.level, proxy.patient, proxy.invited_by) == (
        "caregiver", "invited", "limited", cast.pat, None)
    assert invitation.expires_at == datetime.datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    code = tokens.normalize_code(invited.code)
    assert len(code) == 10 and all(c in tokens.CODE_ALPHABET for c in code) and invited.code[5] == "-"
    assert invitation.code_hash == tokens.hash_code(code, tokens.CAREGIVER_CODE)
    assert proxy_events(proxy) == [Action.PROXY_INVITED]
    event = AccessEvent.objects.get(proxy=proxy)
    assert (event.actor, event.actor_role, event.patient) == (pats_connection.account, "patient", cast.pat)
    (message,) = Message.objects.filter(kind=Message.Kind.CAREGIVER_INVITATION)
    assert message.to == "robin@example.test" and "/portal/proxy/" in message.secret_link
    assert code not in str(message.context) and invited.code not in message.secret_link


def test_the_code_works_on_day_7_and_not_after(cast, pats_connection):
    invited = _invite(pats_connection)
    token = _token_of(invited)
    with time_machine.travel(datetime.datetime(2026, 11, 9, 14, 59, 59, tzinfo=UTC), tick=False):
        proof = proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code.lower())).proof
        assert proof
    with time_machine.travel(datetime.datetime(2026, 11, 9, 15, 0, tzinfo=UTC), tick=False):
        with pytest.raises(errors.LinkNotUsable) as refused:
            proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code))
    assert refused.value.reason == "expired"


def test_a_wrong_code_counts_and_the_third_locks(cast, pats_connection):
    invited = _invite(pats_connection)
    token = _token_of(invited)
    wrong = "22222-22222" if invited.code != "22222-22222" else "33333-33333"
    with time_machine.travel(SENT, tick=False):
        for _ in range(2):
            with pytest.raises(errors.IdentityNotConfirmed):
                proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=wrong))
        with pytest.raises(errors.LinkNotUsable):
            proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=wrong))
        with pytest.raises(errors.LinkNotUsable):
            proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code))
    assert ProxyInvitation.objects.get().status == "locked"


def test_only_an_adult_may_invite_from_the_18th_birthday_in_the_practice_time_zone(cast):
    teen = Patient.objects.create(practice=cast.practice, chart_number="A-17", first_name="Sam", last_name="Hale",
                                  email="sam@example.test", ssn="456789123", date_of_birth=datetime.date(2008, 11, 3))
    with time_machine.travel(datetime.datetime(2026, 11, 1, 12, 0, tzinfo=UTC), tick=False):
        connection = connect(cast, teen)[1]
    with time_machine.travel(datetime.datetime(2026, 11, 3, 4, 59, 59, tzinfo=UTC), tick=False):
        before = proxy_snapshot()
        with pytest.raises(errors.NotAnAdult):
            caregivers.invite_caregiver(connection, ROBIN)
        assert proxy_snapshot() == before
    with time_machine.travel(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC), tick=False):
        caregivers.invite_caregiver(connection, ROBIN)
    assert Proxy.objects.get().patient == teen


def test_the_same_address_twice_is_refused_whatever_its_case(cast, pats_connection):
    _invite(pats_connection)
    before = proxy_snapshot()
    with pytest.raises(errors.ProxyAlreadyInvited):
        _invite(pats_connection, Caregiver(**{**ROBIN.__dict__, "email": "Robin@Example.test"}))
    assert proxy_snapshot() == before


def _accept(invited, **how) -> Proxy:
    token = _token_of(invited)
    with time_machine.travel(SENT, tick=False):
        proof = proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code)).proof
        return proxy_acceptance.accept_proxy_invitation(token, proof=proof, password="a-long-enough-password", **how)


def test_the_patient_is_told_when_their_caregiver_accepts(cast, pats_connection):
    invited = _invite(pats_connection)
    token = _token_of(invited)
    with time_machine.travel(SENT, tick=False):
        proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code))
        before = proxy_snapshot()
        with pytest.raises(errors.IdentityNotConfirmed):  # a refused accept tells nobody
            proxy_acceptance.accept_proxy_invitation(token, proof="made-up", password="a-long-enough-password")
        assert proxy_snapshot() == before
    proxy = _accept(invited)
    assert proxy_events(proxy)[-1] == Action.PROXY_ACCEPTED
    (told,) = Message.objects.filter(kind="caregiver-accepted")
    assert (told.to, told.dedupe_key) == (pats_connection.account.email, f"caregiver-accepted:{proxy.pk}")
    assert (told.context["caregiver"], told.context["limited"], told.context["language"]) == ("Robin Jones", True, "en")
    assert told.context["account_url"] == "https://portal.example.test/portal/my-account/"


def test_a_patient_no_longer_connected_is_told_at_the_charts_address(cast, pats_connection):
    invited = _invite(pats_connection)
    Connection.objects.filter(pk=pats_connection.pk).update(ended_at=SENT)
    Patient.objects.filter(pk=cast.pat.pk).update(email="pat.new@example.test")
    _accept(invited)
    assert list(Message.objects.filter(kind="caregiver-accepted").values_list("to", flat=True)) == [
        "pat.new@example.test"]


def test_the_patient_revokes_a_caregiver_and_its_link_dies(cast, pats_connection):
    invited = _invite(pats_connection)
    caregivers.revoke_proxy_by_patient(pats_connection, invited.proxy)
    proxy = Proxy.objects.get()
    assert (proxy.status, proxy.end_reason, proxy.ended_at is not None) == ("revoked", "revoked_by_patient", True)
    assert ProxyInvitation.objects.get().status == "revoked"
    assert proxy_events(proxy) == [Action.PROXY_INVITED, Action.PROXY_REVOKED]
    assert not Message.objects.filter(kind="proxy-revoked").exists()  # staff's revoke tells; the patient's choice is theirs
    before = proxy_snapshot()
    with pytest.raises(errors.NoSuchProxy):
        caregivers.revoke_proxy_by_patient(pats_connection, invited.proxy)
    assert proxy_snapshot() == before


def test_a_patient_cannot_revoke_a_grant_on_someone_else(cast, pats_connection):
    alex = Patient.objects.create(practice=cast.practice, chart_number="A-300", first_name="Alex", last_name="Rivera",
                                  date_of_birth=datetime.date(2016, 4, 9))
    other = invite_guardian(alex)
    before = proxy_snapshot()
    with pytest.raises(errors.NoSuchProxy):
        caregivers.revoke_proxy_by_patient(pats_connection, other.proxy)
    assert proxy_snapshot() == before


def _token_of(invited) -> str:
    """The link's token, as the caregiver reads it in the email."""
    link = Message.objects.get(kind=Message.Kind.CAREGIVER_INVITATION).secret_link
    return link.rstrip("/").rsplit("/", 1)[1]


def test_a_code_shown_before_a_key_rotation_still_works_until_the_old_key_is_dropped(cast, pats_connection):
    from django.test import override_settings

    old, new = "the-key-the-code-was-shown-under-" + "o" * 20, "the-key-after-rotation-" + "n" * 30
    with override_settings(SECRET_KEY=old, SECRET_KEY_FALLBACKS=[]):
        invited = _invite(pats_connection)
    token = _token_of(invited)
    with time_machine.travel(SENT, tick=False):
        with override_settings(SECRET_KEY=new, SECRET_KEY_FALLBACKS=[]), pytest.raises(errors.IdentityNotConfirmed):
            proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code))
        with override_settings(SECRET_KEY=new, SECRET_KEY_FALLBACKS=[old]):
            assert proxy_acceptance.verify_proxy_identity(token, ProxyAnswers(code=invited.code)).proof


def test_a_patient_invites_at_most_5_caregivers_in_24_hours(cast, pats_connection):
    def robin(n):
        return Caregiver(**{**ROBIN.__dict__, "email": f"robin{n}@example.test"})

    with time_machine.travel(SENT, tick=False) as clock:
        for n in range(5):
            caregivers.invite_caregiver(pats_connection, robin(n))
            caregivers.revoke_proxy_by_patient(pats_connection, Proxy.objects.latest("pk"))  # revoking frees nothing
        before = proxy_snapshot()
        with pytest.raises(errors.TooManyCaregiverInvitations):
            caregivers.invite_caregiver(pats_connection, robin(5))
        assert proxy_snapshot() == before
        clock.move_to(datetime.datetime(2026, 11, 3, 14, 59, 59, tzinfo=UTC))
        with pytest.raises(errors.TooManyCaregiverInvitations):
            caregivers.invite_caregiver(pats_connection, robin(5))
        clock.move_to(datetime.datetime(2026, 11, 3, 15, 0, tzinfo=UTC))  # 24 hours after the five
        caregivers.invite_caregiver(pats_connection, robin(5))
