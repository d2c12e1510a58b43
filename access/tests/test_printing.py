"""Printed invitations (access.actions.printing): the rows and history of a print, the code's shape and
how it may be typed, a reprint killing the old code, expiry, and the throttles and lock it shares
with the emailed link."""

import datetime
import re

import pytest
import time_machine

from access import errors, tokens
from access.actions import acceptance, printing
from access.models import AccessEvent, Attempt, Channel, Connection, Invitation
from access.rules import ADD_IDENTITY
from access.tests.helpers import actions_of, connect, right_answers, send, snapshot
from conftest import NOW, at_once, postgres_only
from mail.models import Message
from portico.client import Client

WRONG = acceptance.IdentityAnswers(ssn="987-65-4321")
ADDRESS = Client(ip="203.0.113.7")
PASSWORD = "a-long-enough-password"


def _print(cast, patient=None) -> printing.PrintedInvitation:
    return printing.print_invitation(patient or cast.pat, by=cast.alice, client=ADDRESS)


def _typed(printed: printing.PrintedInvitation) -> str:
    """The code as the verify and accept steps carry it after /activate/ (normalized)."""
    return printing.invitation_for_code(printed.code, client=ADDRESS)[1]


def test_it_prints_an_invitation_recording_who_printed_it(cast):
    cast.practice.invite_ttl_days = 10
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        printed = _print(cast)
    invitation = Invitation.objects.get()
    assert printed.invitation == invitation
    assert (invitation.channel, invitation.status, invitation.sent_by, invitation.email) == (
        "print", "pending", cast.alice, "pat@example.test")
    assert invitation.expires_at == NOW + datetime.timedelta(days=10)
    # Only keyed hashes: neither the code nor the link's token is stored.
    assert invitation.code_hash == tokens.hash_code(printed.code.replace("-", ""), tokens.ACTIVATION_CODE)
    assert invitation.token_hash == tokens.hash_token(printed.token)
    row = str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert printed.code.replace("-", "") not in row and printed.token not in row
    event = AccessEvent.objects.get()
    assert (event.action, event.actor, event.actor_role, event.channel, event.client_ip) == (
        "invitation.printed", cast.alice.user, "staff", "print", "203.0.113.7")
    assert Message.objects.count() == 0  # nothing is emailed: the letter is the invitation


def test_the_code_is_ten_characters_in_two_groups_without_look_alikes(cast):
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", _print(cast).code)
    seen = set("".join(tokens.new_activation_code() for _ in range(2000)))
    assert seen == set("23456789ABCDEFGHJKMNPQRSTVWXYZ")  # never 0 O 1 I L U


def test_a_patient_without_an_email_can_be_printed_for(cast):
    cast.pat.email = ""
    cast.pat.save()
    printed = _print(cast)
    assert printed.invitation.email == "" and printed.invitation.channel == Channel.PRINT


def test_it_refuses_a_patient_without_identity_details_and_changes_nothing(cast):
    before = snapshot()
    with pytest.raises(errors.NotEligible) as e:
        _print(cast, cast.ned)  # Ned has no email either: only the identity details are asked for
    assert e.value.missing == [ADD_IDENTITY]
    assert snapshot() == before


def test_it_refuses_a_connected_patient(cast):
    connect(cast)
    before = snapshot()
    with pytest.raises(errors.AlreadyConnected):
        _print(cast)
    assert snapshot() == before


def test_the_sixth_print_in_a_day_is_refused(cast):
    for _ in range(5):
        _print(cast)
    before = snapshot()
    with pytest.raises(errors.TooManyInvitations):
        _print(cast)
    assert snapshot() == before


def test_a_reprint_kills_the_old_code_and_link(cast):
    old = _print(cast)
    new = _print(cast)
    old.invitation.refresh_from_db()
    assert old.invitation.status == Invitation.Status.REVOKED
    assert actions_of(cast.pat) == ["invitation.printed", "invitation.revoked", "invitation.printed"]
    revoked = AccessEvent.objects.get(action="invitation.revoked")
    assert (revoked.reason, revoked.actor) == (printing.REPLACED_REASON, cast.alice.user)
    before = snapshot()
    with pytest.raises(errors.LinkNotUsable) as e:
        printing.invitation_for_code(old.code, client=ADDRESS)
    assert e.value.reason == "revoked"
    with pytest.raises(errors.LinkNotUsable):
        acceptance.verify_identity(old.code.replace("-", ""), right_answers(cast.pat))
    with pytest.raises(errors.LinkNotUsable):
        acceptance.invitation_for_token(old.token)
    after = snapshot()
    # Nothing changed but the refusals being recorded.
    assert (after["invitations"], after["connections"], after["messages"]) == (
        before["invitations"], before["connections"], before["messages"])
    assert actions_of(cast.pat)[-2:] == ["invitation.link_refused", "invitation.link_refused"]
    assert printing.invitation_for_code(new.code, client=ADDRESS)[0] == new.invitation


def test_printing_replaces_a_pending_emailed_invitation(cast):
    emailed = send(cast)
    _print(cast)
    emailed.invitation.refresh_from_db()
    assert emailed.invitation.status == Invitation.Status.REVOKED
    with pytest.raises(errors.LinkNotUsable):
        acceptance.invitation_for_token(emailed.token)
    assert Invitation.objects.filter(status="pending").get().channel == "print"


@pytest.mark.parametrize("typing", [str.lower, lambda c: c.replace("-", ""), lambda c: " ".join(c.lower()),
                                    lambda c: f"  {c[:3]}-{c[3:7]} {c[7:]}  "])
def test_the_code_may_be_typed_in_lower_case_with_spaces_and_dashes(cast, typing):
    printed = _print(cast)
    invitation, code = printing.invitation_for_code(typing(printed.code), client=ADDRESS)
    assert invitation == printed.invitation and code == printed.code.replace("-", "")


def test_a_wrong_code_is_refused_and_counted_against_the_client(cast):
    printed = _print(cast)
    wrong = "22222-22222" if printed.code != "22222-22222" else "33333-33333"
    for typed in (wrong, "O0O0O-I1I1I", "short"):
        with pytest.raises(errors.CodeNotRecognised):
            printing.invitation_for_code(typed, client=ADDRESS)
    assert Attempt.objects.filter(kind="identity", client_ip="203.0.113.7").count() == 3
    printing.invitation_for_code(printed.code, client=ADDRESS)  # a right code counts nothing
    assert Attempt.objects.filter(kind="identity").count() == 3


def test_codes_and_identity_answers_share_the_client_limit_of_ten(cast):
    printed = _print(cast)
    emailed = send(cast, cast.bea)  # another practice's invitation: the limit is the client's, across all
    for _ in range(6):
        with pytest.raises(errors.CodeNotRecognised):
            printing.invitation_for_code("22222-22222", client=ADDRESS)
    for _ in range(2):  # two wrong answers at a time, or the third would lock Bea's link
        with pytest.raises(errors.IdentityNotConfirmed):
            acceptance.verify_identity(emailed.token, WRONG, client=ADDRESS)
    with pytest.raises(errors.LinkNotUsable):  # the third locks Bea's link, and still counts
        acceptance.verify_identity(emailed.token, WRONG, client=ADDRESS)
    with pytest.raises(errors.CodeNotRecognised):  # the 10th failure
        printing.invitation_for_code("22222-22222", client=ADDRESS)
    before = snapshot()
    with pytest.raises(errors.TooManyAttempts):
        printing.invitation_for_code(printed.code, client=ADDRESS)
    assert snapshot() == before
    assert printing.invitation_for_code(printed.code, client=Client(ip="198.51.100.1"))[0] == printed.invitation


def test_three_wrong_answers_lock_it_whether_by_code_or_by_link(cast):
    printed = _print(cast)
    code = _typed(printed)
    for secret in (code, printed.token):
        with pytest.raises(errors.IdentityNotConfirmed):
            acceptance.verify_identity(secret, WRONG)
    with pytest.raises(errors.LinkNotUsable) as e:
        acceptance.verify_identity(code, WRONG)
    assert e.value.reason == "locked"
    assert Invitation.objects.get().status == Invitation.Status.LOCKED
    with pytest.raises(errors.LinkNotUsable) as e:
        printing.invitation_for_code(printed.code, client=ADDRESS)
    assert e.value.reason == "locked"


def test_an_expired_code_is_refused(cast):
    cast.practice.invite_ttl_days = 3
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        printed = _print(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=3, seconds=-1), tick=False):
        assert printing.invitation_for_code(printed.code, client=ADDRESS)[0] == printed.invitation
    with time_machine.travel(NOW + datetime.timedelta(days=3), tick=False):
        with pytest.raises(errors.LinkNotUsable) as e:
            printing.invitation_for_code(printed.code, client=ADDRESS)
        assert e.value.reason == "expired"
        with pytest.raises(errors.LinkNotUsable):
            acceptance.verify_identity(printed.code.replace("-", ""), right_answers(cast.pat))


def test_the_code_accepts_through_the_same_steps_as_the_link(cast):
    printed = _print(cast)
    code = _typed(printed)
    proof = acceptance.verify_identity(code, right_answers(cast.pat)).proof
    connection = acceptance.accept_invitation(code, proof=proof, password=PASSWORD)
    assert connection.account.username == "pat@example.test"
    assert connection.invitation.channel == "print"
    assert actions_of(cast.pat) == ["invitation.printed", "identity.passed", "account.created", "access.granted"]
    with pytest.raises(errors.LinkNotUsable) as e:
        printing.invitation_for_code(printed.code, client=ADDRESS)
    assert e.value.reason == "used"
    assert actions_of(cast.pat)[-1] == "invitation.link_refused"
    assert Connection.objects.count() == 1


def test_reports_count_printed_invitations_by_their_own_channel(cast):
    from access import reports
    from access.reports import Scope

    new_york = cast.practice.tzinfo
    november = reports.Period(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), new_york)
    with time_machine.travel(datetime.datetime(2026, 11, 3, 10, tzinfo=new_york), tick=False):
        code = _typed(_print(cast))
        proof = acceptance.verify_identity(code, right_answers(cast.pat)).proof
        acceptance.accept_invitation(code, proof=proof, password=PASSWORD)
    with time_machine.travel(datetime.datetime(2026, 11, 30, 10, tzinfo=new_york), tick=False):
        rows = reports.by_channel(Scope(cast.practice), november)
    assert [(r.channel, r.label, r.invited, r.opened, r.confirmed, r.connected) for r in rows] == [
        ("print", "Printed", 1, 1, 1, 1)]


def test_an_expired_printed_invitation_without_an_email_is_not_renewed_online(cast):
    from access.actions import renewal

    cast.pat.email = ""
    cast.pat.save()
    with time_machine.travel(NOW, tick=False):
        printed = _print(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        with pytest.raises(errors.CannotRenew) as e:
            renewal.renewable_invitation(printed.code.replace("-", ""))
    assert e.value.reason == "no_email"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_prints_at_once_leave_one_live_invitation(cast):
    outcomes = at_once(lambda: _print(cast), lambda: _print(cast))
    assert all(isinstance(o, printing.PrintedInvitation) for o in outcomes)
    assert Invitation.objects.filter(status="pending").count() == 1
    assert Invitation.objects.filter(status="revoked").count() == 1
    assert sorted(actions_of(cast.pat)) == sorted(["invitation.printed", "invitation.printed", "invitation.revoked"])


def test_a_printed_invitation_gets_no_emailed_reminder(cast):
    from access.actions import automatic

    with time_machine.travel(NOW, tick=False):
        printed = _print(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=6), tick=False):  # 7-day invitations, 2 days' notice
        assert automatic.send_reminders() == 0
        assert acceptance.invitation_for_token(printed.token) == printed.invitation  # the QR code still works
    assert Message.objects.count() == 0
