"""Staff invite, resend and revoke a parent's or guardian's access (access.actions.proxies): the rows,
the history and the email after each action, nothing changed after each refusal, every rule at its
boundary with literal dates (the practice is in New York: 5 hours behind UTC in November)."""

import dataclasses
import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from access import errors, tokens
from access.actions import proxies
from access.models import AccessEvent, Proxy, ProxyInvitation
from access.tests.proxy_helpers import JORDAN, accept, child, proxy_events, proxy_snapshot
from conftest import NOW, SOON, run_worker
from mail.models import Message

Action = AccessEvent.Action
HOUR = datetime.timedelta(hours=1)


def invite(cast, patient, guardian=JORDAN, **kwargs):
    return proxies.invite_guardian(patient, guardian, by=cast.alice, **kwargs)


@pytest.fixture
def alex(cast):
    return child(cast, datetime.date(2018, 6, 1))  # 8 years old at NOW


def test_invite_writes_the_grant_its_link_its_history_and_its_email(cast, alex):
    with time_machine.travel(NOW, tick=False):
        sent = invite(cast, alex)
    proxy = Proxy.objects.get()
    assert (proxy.patient, proxy.kind, proxy.status, proxy.level, proxy.relationship, proxy.email, proxy.mobile_phone,
            proxy.invited_by, proxy.created_at) == (alex, "guardian", "invited", "full", "mother", "jordan@example.test",
                                                    "+15555550177", cast.alice, NOW)
    link = ProxyInvitation.objects.get()
    assert (link.proxy, link.status, link.sent_by, link.sent_at, link.expires_at) == (
        proxy, "pending", cast.alice, NOW, NOW + datetime.timedelta(days=7))
    assert link.token_hash == tokens.hash_token(sent.token, tokens.PROXY_INVITATION) != tokens.hash_token(sent.token)
    [event] = AccessEvent.objects.filter(proxy=proxy)
    assert (event.action, event.patient, event.actor, event.reason) == (
        Action.PROXY_INVITED, alex, cast.alice.user, "Jordan Rivera (mother); full access")
    message = Message.objects.get()
    assert (message.kind, message.to, message.invitation_id) == ("proxy-invitation", "jordan@example.test", None)
    assert message.secret_link == f"https://portal.example.test/portal/proxy/{sent.token}/"


def test_the_email_says_whose_record_in_the_childs_language_and_carries_no_health_information(cast, smtp_server):
    alex = child(cast, datetime.date(2018, 6, 1))
    sofia = child(cast, datetime.date(2016, 3, 9), first_name="Sofia", chart="A-301", preferred_language="es")
    with time_machine.travel(NOW, tick=False):
        invite(cast, alex)
        invite(cast, sofia)
    with time_machine.travel(SOON, tick=False):  # the links still live when the worker sends them
        run_worker()
    english, spanish = sorted(smtp_server.messages(), key=lambda m: "Sofia" in m["Subject"])
    text = english.get_body(("plain",)).get_content()
    assert english["Subject"] == "Access to Alex Rivera's portal at Maple Street Clinic"
    assert "has invited you to access Alex Rivera's portal as parent or guardian." in text
    assert "/proxy/" in text and "Alex Rivera's date of birth and your own mobile phone number" in text
    assert "2018" not in text and "A-300" not in text  # nothing from the chart but the name
    spanish_text = spanish.get_body(("plain",)).get_content()
    assert spanish["Subject"] == "Acceso al portal de Sofia Rivera en Maple Street Clinic"
    assert "le invita a acceder al portal de Sofia Rivera como padre, madre o tutor." in spanish_text


@pytest.mark.parametrize(("moment", "level"), [
    (datetime.datetime(2026, 11, 3, 4, 59, tzinfo=datetime.UTC), "full"),  # 23:59 on the 2nd in New York: still 11
    (datetime.datetime(2026, 11, 3, 5, 0, tzinfo=datetime.UTC), "limited"),  # midnight in New York: 12 today
])
def test_the_default_level_turns_limited_on_the_12th_birthday_at_the_practice(cast, moment, level):
    teen = child(cast, datetime.date(2014, 11, 3))
    with time_machine.travel(moment, tick=False):
        invite(cast, teen)
    assert Proxy.objects.get().level == level


def test_from_12_the_teens_agreement_recorded_by_staff_gives_full_access(cast):
    teen = child(cast, datetime.date(2012, 1, 15))  # 14
    with time_machine.travel(NOW, tick=False):
        invite(cast, teen, teen_agreed=True)
    proxy = Proxy.objects.get()
    assert (proxy.level, proxy.teen_agreement_by, proxy.teen_agreement_at) == ("full", cast.alice, NOW)
    assert proxy_events(proxy) == [(Action.PROXY_INVITED, "Jordan Rivera (mother); full access, the teen agreed")]


def test_under_12_the_agreement_box_records_nothing(cast, alex):
    with time_machine.travel(NOW, tick=False):
        invite(cast, alex, teen_agreed=True)
    proxy = Proxy.objects.get()
    assert (proxy.level, proxy.teen_agreement_by, proxy.teen_agreement_at) == ("full", None, None)


def test_recording_the_agreement_later_turns_a_limited_guardian_full(cast):
    teen = child(cast, datetime.date(2012, 1, 15))
    with time_machine.travel(NOW, tick=False):
        proxy = invite(cast, teen).proxy
        proxies.record_teen_agreement(proxy, by=cast.dora)
    proxy.refresh_from_db()
    assert (proxy.level, proxy.teen_agreement_by, proxy.teen_agreement_at) == ("full", cast.dora, NOW)
    assert proxy_events(proxy)[-1] == (Action.PROXY_LEVEL_CHANGED, "Jordan Rivera (mother); limited → full: the teen agreed")


@pytest.mark.parametrize(("moment", "refused"), [
    (datetime.datetime(2026, 11, 3, 4, 59, tzinfo=datetime.UTC), False),  # 17 until midnight in New York
    (datetime.datetime(2026, 11, 3, 5, 0, tzinfo=datetime.UTC), True),  # 18 today
])
def test_no_guardian_from_the_18th_birthday_at_the_practice(cast, moment, refused):
    teen = child(cast, datetime.date(2008, 11, 3))
    before = proxy_snapshot()
    with time_machine.travel(moment, tick=False):
        if not refused:
            invite(cast, teen)
            assert Proxy.objects.get().level == "limited"
            return
        with pytest.raises(errors.GuardianNotEligible) as refusal:
            invite(cast, teen)
    assert refusal.value.missing == ["Patients aged 18 or over manage their own access: parents and guardians can "
                                     "no longer be invited"]
    assert proxy_snapshot() == before


def test_refusals_name_everything_missing_and_change_nothing(cast):
    no_birth_date = child(cast, None)
    before = proxy_snapshot()
    with pytest.raises(errors.GuardianNotEligible) as refusal:
        invite(cast, no_birth_date, dataclasses.replace(JORDAN, email="", mobile_phone=""))
    assert refusal.value.missing == ["Add the patient's date of birth (in Demographics)",
                                     "Enter the parent's or guardian's email address",
                                     "Enter the parent's or guardian's mobile phone number"]
    assert refusal.value.code == "not_eligible"
    assert refusal.value.message.startswith("A parent or guardian cannot be invited for this patient: Add the")
    assert proxy_snapshot() == before


def test_staff_cannot_create_a_caregiver(cast, alex):
    before = proxy_snapshot()
    with pytest.raises(ValidationError):
        invite(cast, alex, dataclasses.replace(JORDAN, relationship="spouse"))
    assert proxy_snapshot() == before


def test_one_live_grant_per_address_inviting_again_is_refused(cast, alex):
    with time_machine.travel(NOW, tick=False):
        sent = invite(cast, alex)
        before = proxy_snapshot()
        with pytest.raises(errors.GuardianAlreadyInvited):
            invite(cast, alex, dataclasses.replace(JORDAN, email="JORDAN@example.test"))
        assert proxy_snapshot() == before
        accept(sent, get_user_model().objects.create_user("jordan@example.test"))
        with pytest.raises(errors.GuardianAlreadyActive):
            invite(cast, alex)


def test_two_guardians_and_one_guardian_for_two_children(cast, alex):
    sofia = child(cast, datetime.date(2016, 3, 9), first_name="Sofia", chart="A-301")
    with time_machine.travel(NOW, tick=False):
        invite(cast, alex)
        invite(cast, sofia)
        invite(cast, alex, dataclasses.replace(JORDAN, first_name="Sam", relationship="father", email="sam@example.test"))
    assert Proxy.objects.filter(status="invited").count() == 3


def test_resend_revokes_the_pending_link_and_sends_a_new_one(cast, alex):
    with time_machine.travel(NOW, tick=False):
        first = invite(cast, alex)
    with time_machine.travel(NOW + HOUR, tick=False):
        second = proxies.resend_proxy_invitation(first.proxy, by=cast.dora)
    old, new = ProxyInvitation.objects.order_by("pk")
    assert (old.status, old.closed_at, new.status, new.sent_by, new.expires_at) == (
        "revoked", NOW + HOUR, "pending", cast.dora, NOW + HOUR + datetime.timedelta(days=7))
    assert new.token_hash == tokens.hash_token(second.token, tokens.PROXY_INVITATION)
    assert proxy_events(first.proxy)[-1] == (Action.PROXY_INVITED,
                                             "Jordan Rivera (mother); resent: the previous link no longer works")
    assert Message.objects.filter(kind="proxy-invitation").count() == 2


def test_resend_of_an_expired_link(cast, alex):
    with time_machine.travel(NOW, tick=False):
        first = invite(cast, alex)
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        proxies.resend_proxy_invitation(first.proxy, by=cast.alice)
    assert list(ProxyInvitation.objects.order_by("pk").values_list("status", flat=True)) == ["expired", "pending"]
    assert [a for a, _ in proxy_events(first.proxy)] == [Action.PROXY_INVITED, Action.PROXY_LINK_EXPIRED,
                                                         Action.PROXY_INVITED]


def test_the_daily_cap_is_5_links_per_child_and_address(cast, alex):
    with time_machine.travel(NOW, tick=False):
        proxy = invite(cast, alex).proxy
        for _ in range(4):
            proxies.resend_proxy_invitation(proxy, by=cast.alice)  # the 5th link
        before = proxy_snapshot()
        with pytest.raises(errors.TooManyGuardianInvitations) as refusal:
            proxies.resend_proxy_invitation(proxy, by=cast.alice)
        assert refusal.value.code == "too_many_invitations"
        assert proxy_snapshot() == before
    with time_machine.travel(NOW + datetime.timedelta(hours=24, seconds=1), tick=False):
        proxies.resend_proxy_invitation(proxy, by=cast.alice)  # the first left the 24 hours


@pytest.mark.parametrize("accepted", [False, True])
def test_revoke_ends_an_invited_or_active_grant(cast, alex, accepted):
    with time_machine.travel(NOW, tick=False):
        sent = invite(cast, alex)
        proxy = sent.proxy
        if accepted:
            accept(sent, get_user_model().objects.create_user("jordan@example.test"))
    with time_machine.travel(NOW + HOUR, tick=False):
        proxies.revoke_proxy(proxy, by=cast.dora, reason="Asked by the other parent")
    proxy.refresh_from_db()
    assert (proxy.status, proxy.ended_at, proxy.end_reason) == ("revoked", NOW + HOUR, "revoked_by_staff")
    assert ProxyInvitation.objects.get().status == ("accepted" if accepted else "revoked")
    assert proxy_events(proxy)[-1] == (Action.PROXY_REVOKED, "Jordan Rivera (mother); Asked by the other parent")
    # Told only if they had access: one merely invited finds the link dead.
    told = list(Message.objects.filter(kind="proxy-revoked").values_list("to", "context__patient_name"))
    assert told == ([("jordan@example.test", "Alex Rivera")] if accepted else [])
    before = proxy_snapshot()
    with pytest.raises(errors.ProxyNotLive):
        proxies.revoke_proxy(proxy, by=cast.dora)
    with pytest.raises(errors.ProxyNotLive):
        proxies.resend_proxy_invitation(proxy, by=cast.dora)
    assert proxy_snapshot() == before


def test_staff_can_revoke_a_caregiver(cast):
    with time_machine.travel(NOW, tick=False):
        caregiver = Proxy.objects.create(practice=cast.practice, patient=cast.pat, kind="caregiver", first_name="Kim",
                                         last_name="Jones", relationship="spouse", email="kim@example.test",
                                         level="full", status="active", created_at=NOW)
        proxies.revoke_proxy(caregiver, by=cast.alice)
    caregiver.refresh_from_db()
    assert caregiver.status == "revoked"
    assert list(Message.objects.filter(kind="proxy-revoked").values_list("to", flat=True)) == ["kim@example.test"]


def test_the_revoked_email_is_in_the_proxys_own_language_else_the_patients(cast, smtp_server):
    """Jordan chose Spanish on their account: the email about Alex (whose chart names English) is in
    Spanish; Sam has no account choice, and Sofia's chart prefers Spanish: Spanish too."""
    from access.actions.languages import choose_account_language

    sofia = child(cast, datetime.date(2016, 3, 9), first_name="Sofia", chart="A-301", preferred_language="es")
    with time_machine.travel(NOW, tick=False):
        jordan = get_user_model().objects.create_user("jordan@example.test")
        choose_account_language(jordan, "es")
        for patient, account in ((child(cast, datetime.date(2018, 6, 1), preferred_language="en"), jordan),
                                 (sofia, get_user_model().objects.create_user("sam@example.test"))):
            guardian = JORDAN if account is jordan else dataclasses.replace(JORDAN, first_name="Sam",
                                                                              email="sam@example.test")
            sent = invite(cast, patient, guardian)
            accept(sent, account)
            proxies.revoke_proxy(sent.proxy, by=cast.alice)
        Message.objects.exclude(kind="proxy-revoked").delete()
        run_worker()
    subjects = sorted(str(m["Subject"]) for m in smtp_server.messages())
    assert subjects == ["Maple Street Clinic canceló su acceso al portal de Alex Rivera",
                        "Maple Street Clinic canceló su acceso al portal de Sofia Rivera"]


def test_resend_after_acceptance_is_refused(cast, alex):
    with time_machine.travel(NOW, tick=False):
        sent = invite(cast, alex)
        proxy = sent.proxy
        accept(sent, get_user_model().objects.create_user("jordan@example.test"))
        before = proxy_snapshot()
        with pytest.raises(errors.ProxyAlreadyActive):
            proxies.resend_proxy_invitation(proxy, by=cast.alice)
    assert proxy_snapshot() == before


def test_acceptance_rings_the_bell_of_the_sender_and_the_doctor(cast, alex):
    with time_machine.travel(NOW, tick=False):
        accept(invite(cast, alex), get_user_model().objects.create_user("jordan@example.test"))
    told = sorted((n.recipient_id, n.text) for n in cast.alice.notifications.all() | cast.dora.notifications.all())
    assert told == [(cast.alice.pk, "Jordan Rivera (mother) accepted access to Alex Rivera's portal."),
                    (cast.dora.pk, "Jordan Rivera (mother) accepted access to Alex Rivera's portal.")]


def test_a_link_that_died_before_its_email_went_is_not_sent(cast, alex, smtp_server):
    first = invite(cast, alex)
    proxies.resend_proxy_invitation(first.proxy, by=cast.alice)  # the first link dies before the worker runs
    run_worker()
    assert [m["To"] for m in smtp_server.messages()] == ["jordan@example.test"]
    assert list(Message.objects.order_by("pk").values_list("status", flat=True)) == ["skipped", "sent"]


def test_no_teen_agreement_before_12(cast, alex):
    with time_machine.travel(NOW, tick=False):
        proxy = invite(cast, alex).proxy
        before = proxy_snapshot()
        with pytest.raises(errors.GuardianNotEligible) as refusal:
            proxies.record_teen_agreement(proxy, by=cast.alice)
    assert refusal.value.missing == ["The patient's agreement to full access is recorded from age 12"]
    assert proxy_snapshot() == before


def test_the_connected_email_is_in_the_language_the_guardians_account_chose(cast):
    from access.actions.languages import choose_account_language

    with time_machine.travel(NOW, tick=False):
        jordan = get_user_model().objects.create_user("jordan@example.test")
        choose_account_language(jordan, "es")
        accept(invite(cast, child(cast, datetime.date(2018, 6, 1), preferred_language="en")), jordan)
    assert Message.objects.get(kind="proxy-connected").context["language"] == "es"
