"""The birthday work (access.actions.proxy_periodic) on the practice's date (New York: UTC-4 until 1
November, UTC-5 after): at 18 every guardian's access ends by itself, 30 days before the guardian is
told once, at 12 a full guardian without the teen's agreement turns limited; born on 29 February, the
birthday is 1 March in other years. And lapsed links and reminders."""

import datetime
from functools import partial

import pytest
import time_machine
from django.contrib.auth import get_user_model

from access import errors
from access.actions import proxies, proxy_periodic
from access.actions.languages import choose_account_language
from access.models import AccessEvent, Invitation, Proxy, ProxyInvitation
from access.tests.proxy_helpers import JORDAN, accept, child, proxy_events, proxy_snapshot
from clinic.models import Notification
from conftest import at_once, postgres_only
from mail.models import Message
from ops.periodic import run_once

Action = AccessEvent.Action
UTC = datetime.UTC
SAM = proxies.Guardian(first_name="Sam", last_name="Rivera", relationship="father", email="sam@example.test",
                       mobile_phone="+15555550178")


def at(moment: datetime.datetime, call, *args, **kwargs):
    with time_machine.travel(moment, tick=False):
        return call(*args, **kwargs)


def guardian_of(cast, patient, guardian=JORDAN, *, invited: datetime.datetime, accepted: bool = True) -> Proxy:
    sent = at(invited, proxies.invite_guardian, patient, guardian, by=cast.alice)
    if accepted:
        at(invited, accept, sent, get_user_model().objects.create_user(guardian.email))
    sent.proxy.refresh_from_db()
    return sent.proxy


@pytest.fixture
def turning_18(cast):
    """Alex, 18 on 3 November 2026 in New York (05:00 UTC); a mother who accepted, a father invited."""
    alex = child(cast, datetime.date(2008, 11, 3), email="alex@example.test", ssn="123456780")
    invited = datetime.datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
    return alex, guardian_of(cast, alex, invited=invited), guardian_of(cast, alex, SAM, invited=invited, accepted=False)


def test_the_day_before_the_18th_birthday_at_the_practice_nothing_ends(cast, turning_18):
    at(datetime.datetime(2026, 11, 3, 4, 59, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
    assert set(Proxy.objects.values_list("status", flat=True)) == {"active", "invited"}


def test_on_the_18th_birthday_every_guardians_access_ends_by_itself(cast, turning_18):
    alex, mother, father = turning_18
    moment = datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC)  # midnight in New York
    done = at(moment, proxy_periodic.run_proxy_birthdays)
    assert done["ended"] == 2
    for proxy in (mother, father):
        proxy.refresh_from_db()
        assert (proxy.status, proxy.ended_at, proxy.end_reason) == ("ended", moment, "turned_18")
    assert proxy_events(mother)[-1] == (Action.PROXY_ENDED, "Jordan Rivera (mother); the patient turned 18")
    assert proxy_events(father)[-1] == (Action.PROXY_ENDED, "Sam Rivera (father); the patient turned 18")
    assert list(ProxyInvitation.objects.order_by("pk").values_list("status", flat=True)) == ["accepted", "revoked"]
    # The guardian who had access is emailed; the one who never accepted is not.
    assert list(Message.objects.filter(kind="proxy-ended").values_list("to", flat=True)) == ["jordan@example.test"]
    assert list(Notification.objects.filter(created_at=moment).values_list("recipient", "text")) == [
        (cast.dora.pk, "Alex Rivera came of age: parents' and guardians' access to their portal ended by itself.")]
    assert not Invitation.objects.exists()  # the practice does not invite automatically
    before = proxy_snapshot()
    assert at(moment, proxy_periodic.run_proxy_birthdays)["ended"] == 0  # once
    assert proxy_snapshot() == before
    # A guardian's mail names no patient's invitation (mail.Message.invitation_id is for those).
    assert set(Message.objects.values_list("kind", "invitation_id")) == {
        ("proxy-invitation", None), ("proxy-connected", None), ("proxy-ended", None)}


def test_a_guardian_revoked_the_day_before_the_18th_birthday_is_told_once(cast, turning_18):
    """The revoke's email; the birthday then ends nothing more for them (no "has ended" email)."""
    _, mother, _ = turning_18
    at(datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC), proxies.revoke_proxy, mother, by=cast.alice)
    birthday = datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    assert at(birthday, proxy_periodic.run_proxy_birthdays)["ended"] == 1  # the father's pending grant
    to_mother = Message.objects.filter(to="jordan@example.test").exclude(kind__in=["proxy-invitation", "proxy-connected"])
    assert list(to_mother.values_list("kind", flat=True)) == ["proxy-revoked"]


def test_staff_cannot_revoke_what_the_birthday_ended_so_no_second_email(cast):
    alex = child(cast, datetime.date(2008, 11, 3))
    mother = guardian_of(cast, alex, invited=datetime.datetime(2026, 10, 30, 15, 0, tzinfo=UTC))
    at(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
    before = proxy_snapshot()
    with pytest.raises(errors.ProxyNotLive):
        at(datetime.datetime(2026, 11, 3, 15, 0, tzinfo=UTC), proxies.revoke_proxy, mother, by=cast.alice)
    assert proxy_snapshot() == before
    assert list(Message.objects.filter(kind__in=["proxy-ended", "proxy-revoked"]).values_list("kind", flat=True)) == [
        "proxy-ended"]


def test_the_patient_gets_their_own_invitation_when_the_practice_invites_automatically(cast, turning_18):
    cast.practice.auto_invite = "booked"
    cast.practice.save()
    alex = turning_18[0]
    at(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
    invitation = Invitation.objects.get()
    assert (invitation.patient, invitation.channel, invitation.email) == (alex, "automatic", "alex@example.test")
    assert AccessEvent.objects.get(invitation=invitation, action=Action.INVITATION_SENT).reason == "Automatic: turned 18"


def test_an_ineligible_patient_is_not_invited_but_the_access_still_ends(cast):
    cast.practice.auto_invite = "booked"
    cast.practice.save()
    alex = child(cast, datetime.date(2008, 11, 3))  # no email on file
    mother = guardian_of(cast, alex, invited=datetime.datetime(2026, 10, 30, 15, 0, tzinfo=UTC))
    at(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
    mother.refresh_from_db()
    assert mother.status == "ended" and not Invitation.objects.exists()


@pytest.mark.parametrize(("moment", "told"), [
    (datetime.datetime(2026, 10, 4, 3, 59, tzinfo=UTC), False),  # 23:59 on 3 October in New York: 31 days before
    (datetime.datetime(2026, 10, 4, 4, 0, tzinfo=UTC), True),  # 4 October: exactly 30 days before
])
def test_the_guardian_is_told_30_days_before(cast, moment, told):
    alex = child(cast, datetime.date(2008, 11, 3))
    mother = guardian_of(cast, alex, invited=datetime.datetime(2026, 9, 1, 15, 0, tzinfo=UTC))
    assert at(moment, proxy_periodic.run_proxy_birthdays)["ending_notices"] == told
    mother.refresh_from_db()
    assert mother.ending_notice_at == (moment if told else None)
    if told:
        notice = Message.objects.get(kind="proxy-ending")
        assert (notice.to, notice.context["ends_on"], notice.context["patient_name"]) == (
            "jordan@example.test", "Nov. 3, 2026", "Alex Rivera")
        assert proxy_events(mother)[-1] == (Action.PROXY_ENDING_NOTICE, "Jordan Rivera (mother); ends 3 Nov 2026")
        assert at(moment + datetime.timedelta(days=1), proxy_periodic.run_proxy_birthdays)["ending_notices"] == 0
        assert mother.status == "active"


def test_born_on_29_february_access_ends_on_1_march_and_the_notice_goes_30_days_before_it(cast):
    leap = child(cast, datetime.date(2008, 2, 29))
    mother = guardian_of(cast, leap, invited=datetime.datetime(2026, 1, 2, 15, 0, tzinfo=UTC))
    # 1 March 2026 minus 30 days: 30 January (New York is 5 hours behind UTC in winter).
    assert at(datetime.datetime(2026, 1, 30, 4, 59, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)["ending_notices"] == 0
    assert at(datetime.datetime(2026, 1, 30, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)["ending_notices"] == 1
    assert at(datetime.datetime(2026, 3, 1, 4, 59, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)["ended"] == 0  # 28 Feb
    assert at(datetime.datetime(2026, 3, 1, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)["ended"] == 1
    mother.refresh_from_db()
    assert mother.status == "ended"


def test_on_the_12th_birthday_a_full_guardian_without_the_teens_agreement_turns_limited(cast):
    kid = child(cast, datetime.date(2014, 11, 3))
    invited = datetime.datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
    mother = guardian_of(cast, kid, invited=invited)
    father = guardian_of(cast, kid, SAM, invited=invited)
    assert (mother.level, at(datetime.datetime(2026, 11, 3, 4, 59, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
            ["limited"]) == ("full", 0)
    birthday = datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    assert at(birthday, proxy_periodic.run_proxy_birthdays)["limited"] == 2
    mother.refresh_from_db()
    assert mother.level == "limited"
    assert proxy_events(mother)[-1] == (Action.PROXY_LEVEL_CHANGED,
                                        "Jordan Rivera (mother); full → limited: the patient turned 12")
    at(birthday + datetime.timedelta(hours=1), proxies.record_teen_agreement, father, by=cast.dora)
    assert at(birthday + datetime.timedelta(days=1), proxy_periodic.run_proxy_birthdays)["limited"] == 0
    father.refresh_from_db()
    assert (father.level, father.teen_agreement_by) == ("full", cast.dora)  # the agreement holds


def test_the_ages_are_the_practices_settings(cast):
    cast.practice.proxy_ends_at_age = 19
    cast.practice.save()
    alex = child(cast, datetime.date(2008, 11, 3))
    mother = guardian_of(cast, alex, invited=datetime.datetime(2026, 10, 30, 15, 0, tzinfo=UTC))
    assert at(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)["ended"] == 0
    assert at(datetime.datetime(2027, 11, 3, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)["ended"] == 1
    mother.refresh_from_db()
    assert mother.status == "ended"


# --- lapsed links and reminders, in the periodic round -----------------------------------------------

def test_the_periodic_round_expires_lapsed_links_and_reminds_n_days_before(cast):
    alex = child(cast, datetime.date(2018, 6, 1))
    sent_at = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    proxy = at(sent_at, proxies.invite_guardian, alex, JORDAN, by=cast.alice).proxy
    expires = sent_at + datetime.timedelta(days=7)  # reminder 2 days before (the practice's default)
    assert at(expires - datetime.timedelta(days=2, seconds=1), run_once)["proxy_reminded"] == 0
    assert at(expires - datetime.timedelta(days=2), run_once)["proxy_reminded"] == 1
    reminder = Message.objects.get(kind="proxy-reminder")
    link = ProxyInvitation.objects.get()
    assert (reminder.to, link.reminded_at, link.expires_at) == ("jordan@example.test", expires - datetime.timedelta(days=2),
                                                                 expires)
    assert at(expires - datetime.timedelta(seconds=1), run_once)["proxy_links_expired"] == 0
    assert at(expires, run_once)["proxy_links_expired"] == 1
    link.refresh_from_db()
    assert (link.status, link.closed_at) == ("expired", expires)
    assert [a for a, _ in proxy_events(proxy)] == [Action.PROXY_INVITED, Action.PROXY_LINK_REISSUED,
                                                   Action.PROXY_LINK_EXPIRED]
    assert Notification.objects.filter(recipient=cast.alice, text="A parent's or guardian's invitation for Alex Rivera "
                                                                   "expired without being accepted.").exists()


# --- racing an accept (PostgreSQL) -------------------------------------------------------------------

@postgres_only
@pytest.mark.django_db(transaction=True)
def test_accepting_while_the_birthday_job_runs_leaves_no_active_proxy_on_an_adult(cast):
    """The guardian accepts a second before midnight on the eve of the 18th birthday, while the round
    that began at midnight ends the grants: whichever locks the patient first, no access is left."""
    eve = datetime.datetime(2026, 11, 3, 4, 59, 59, tzinfo=UTC)  # 23:59:59 in New York
    for round_ in range(4):
        alex = child(cast, datetime.date(2008, 11, 3), chart=f"A-4{round_}")
        guardian = proxies.Guardian("Jordan", "Rivera", "mother", f"j{round_}@example.test", "+15555550177")
        sent = at(datetime.datetime(2026, 10, 30, 15, 0, tzinfo=UTC), proxies.invite_guardian, alex, guardian,
                  by=cast.alice)
        account = get_user_model().objects.create_user(f"j{round_}@example.test")
        with time_machine.travel(eve, tick=False):
            accepted, ended = at_once(partial(accept, sent, account),
                                      partial(proxy_periodic.end_at_age, cast.practice, datetime.date(2026, 11, 3)))
        assert ended == 1, ended
        # Accepted, then ended by the round; or refused, the round having ended the grant first.
        assert not isinstance(accepted, Exception) or isinstance(accepted, errors.LinkNotUsable), accepted
        sent.proxy.refresh_from_db()
        assert (sent.proxy.status, sent.proxy.end_reason) == ("ended", "turned_18")
        assert not Proxy.objects.filter(patient=alex, status="active").exists()


def test_the_birthday_emails_are_in_the_language_the_guardian_chose_else_the_patients(cast):
    """Jordan chose Spanish on their account; Alex's chart names English: the notice 30 days before,
    and the email on the day, are in Spanish. Sam chose nothing: the patient's English."""
    alex = child(cast, datetime.date(2008, 11, 3), preferred_language="en")
    invited = datetime.datetime(2026, 9, 1, 15, 0, tzinfo=UTC)
    guardian_of(cast, alex, SAM, invited=invited)
    choose_account_language(guardian_of(cast, alex, invited=invited).account, "es")
    at(datetime.datetime(2026, 10, 4, 4, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
    at(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=UTC), proxy_periodic.run_proxy_birthdays)
    sent = sorted(Message.objects.filter(kind__in=["proxy-ending", "proxy-ended"])
                  .values_list("kind", "to", "context__language"))
    assert sent == [("proxy-ended", "jordan@example.test", "es"), ("proxy-ended", "sam@example.test", "en"),
                    ("proxy-ending", "jordan@example.test", "es"), ("proxy-ending", "sam@example.test", "en")]
    assert Message.objects.get(kind="proxy-ending", to="jordan@example.test").context["ends_on"] == "3 de noviembre de 2026"
