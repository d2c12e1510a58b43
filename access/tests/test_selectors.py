import datetime

import pytest
import time_machine
from django.core.paginator import Paginator

from access import errors
from access.actions import acceptance, outcomes, sending
from access.models import Channel
from access.selectors import (
    PortalState,
    access_history,
    add_portal_state,
    in_portal_state,
    patients_page,
    search_patients,
    with_portal_state,
)
from access.tests.helpers import connect, send
from clinic.models import Patient
from conftest import NOW


def _eligible(cast, name):
    return Patient.objects.create(practice=cast.practice, chart_number=name, first_name=name, last_name="Test",
                                  email=f"{name}@example.test", ssn="123456789")


@pytest.fixture
def one_of_each(cast):
    """A patient in every portal state, seen 8 days after NOW."""
    p = {name: _eligible(cast, name) for name in
         ("pending", "connected", "expired", "revoked", "locked", "disconnected", "access_revoked", "not_invited")}
    with time_machine.travel(NOW, tick=False):
        send(cast, p["expired"])
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        send(cast, p["pending"])
        connect(cast, p["connected"])
        send(cast, p["revoked"])
        sending.revoke_invitation(p["revoked"], by=cast.alice)
        locked = send(cast, p["locked"])
        for _ in range(3):
            with pytest.raises(errors.Refusal):
                acceptance.verify_identity(locked.token, acceptance.IdentityAnswers(ssn="987654321"))
        _, conn = connect(cast, p["disconnected"])
        acceptance.disconnect_practice(conn)
        connect(cast, p["access_revoked"])
        sending.revoke_invitation(p["access_revoked"], by=cast.alice)
    p["not_eligible"] = cast.ned
    return p


EXPECTED = {
    "pending": PortalState.PENDING, "connected": PortalState.CONNECTED, "expired": PortalState.EXPIRED,
    "revoked": PortalState.REVOKED, "locked": PortalState.LOCKED, "disconnected": PortalState.DISCONNECTED,
    "access_revoked": PortalState.REVOKED, "not_invited": PortalState.NOT_INVITED,
    "not_eligible": PortalState.NOT_ELIGIBLE,
}


def test_it_derives_every_state_in_one_query(cast, one_of_each, django_assert_num_queries):
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        with django_assert_num_queries(1):
            states = dict(with_portal_state(Patient.objects.filter(practice=cast.practice)).values_list("pk", "portal_state"))
    assert {name: states[p.pk] for name, p in one_of_each.items()} == EXPECTED


def test_it_filters_by_state(cast, one_of_each):
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        patients = with_portal_state(Patient.objects.filter(practice=cast.practice))
        assert list(patients.filter(portal_state=PortalState.REVOKED).order_by("chart_number")) == [
            one_of_each["access_revoked"], one_of_each["revoked"]]
        assert list(patients.filter(portal_state=PortalState.PENDING)) == [one_of_each["pending"]]


def test_a_pending_invitation_reads_as_expired_the_second_it_lapses(cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)

    def state():  # the query is built at the moment of asking: "now" is fixed when it is built
        return with_portal_state(Patient.objects.filter(pk=cast.pat.pk)).values_list("portal_state", flat=True).get()

    with time_machine.travel(NOW + datetime.timedelta(days=7, seconds=-1), tick=False):
        assert state() == PortalState.PENDING
    with time_machine.travel(NOW + datetime.timedelta(days=7), tick=False):
        assert state() == PortalState.EXPIRED


def test_history_is_newest_first_in_one_query(cast, django_assert_num_queries):
    for _ in range(5):
        sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    with django_assert_num_queries(1):
        events = [(e.action, e.actor.username if e.actor else None) for e in access_history(cast.pat)]
    assert len(events) == 9
    assert events[0] == ("invitation.sent", "alice")
    assert events[-1] == ("invitation.sent", "alice")


@pytest.mark.parametrize("state", list(PortalState.LABELS))
def test_the_fast_state_filter_agrees_with_the_full_one(cast, one_of_each, state):
    # The other practice's patients must never come in through the shortcut.
    sending.send_invitation(cast.bea, by=cast.bob, channel=Channel.CHART)
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        patients = Patient.objects.filter(practice=cast.practice)
        full = set(with_portal_state(patients).filter(portal_state=state))
        fast = set(in_portal_state(patients, state, practice_id=cast.practice.pk))
        assert {p.portal_state for p in fast} <= {state}
    assert fast == full
    assert {one_of_each[name] for name, expected in EXPECTED.items() if expected == state} <= full


def _works(action) -> object | None:
    """What the action returned, or None if it refused."""
    try:
        return action()
    except errors.InvitationError:
        return None


BUTTONS = {
    # button: (is it offered?, does the action behind it work?)
    "enable": (lambda c: c.enable_blocked == "",
               lambda cast, p: _works(lambda: sending.send_invitation(p, by=cast.alice, channel=Channel.CHART))),
    "revoke invite": (lambda c: c.can_revoke_invite,
                      lambda cast, p: _works(lambda: sending.revoke_invitation(p, by=cast.alice)) == sending.INVITATION),
    "revoke access": (lambda c: c.can_revoke_access,
                      lambda cast, p: _works(lambda: sending.revoke_invitation(p, by=cast.alice)) == sending.ACCESS),
    "resend": (lambda c: c.can_resend,
               lambda cast, p: _works(lambda: sending.resend_invitation(p, by=cast.alice, channel=Channel.CHART))),
}


@pytest.mark.parametrize("button", BUTTONS)
def test_staff_choices_match_what_the_actions_allow(cast, one_of_each, button):
    """In every state each of the four Portal Access buttons is offered exactly when its action works.
    One exception: with nothing pending, Resend would be a plain send, so where Enable Patient Access
    is offered (never invited, expired, revoked, locked, disconnected) Resend is not: one button per
    next step."""
    from access.eligibility import missing_requirements
    from access.summary import staff_choices

    offered, works = BUTTONS[button]
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        states = dict(with_portal_state(Patient.objects.filter(practice=cast.practice)).values_list("pk", "portal_state"))
        for name, patient in one_of_each.items():
            choices = staff_choices(states[patient.pk], missing_requirements(patient))
            is_offered = offered(choices)
            did_work = bool(works(cast, patient))
            if button == "resend" and name in ("not_invited", "expired", "revoked", "locked", "disconnected",
                                               "access_revoked"):
                assert (is_offered, did_work, choices.enable_blocked) == (False, True, ""), name
                continue
            assert is_offered is did_work, (button, name)


SHOWN = ("portal_state", "invitation_expires_at", "last_invited_at", "email_failed", "text_failed")


def _as_shown(patients) -> dict[int, tuple]:
    return {p.pk: tuple(getattr(p, name) for name in SHOWN) for p in patients}


def test_a_page_reads_each_state_as_the_query_does(cast, one_of_each, django_assert_max_num_queries):
    """add_portal_state (a page's few patients, in Python) and with_portal_state (SQL) read one table
    of rules: every state, and a pending invitation whose email failed, agree."""
    failed = _eligible(cast, "failed")
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        outcomes.record_email_outcome(send(cast, failed).invitation.pk, delivered=False)
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        patients = list(Patient.objects.filter(practice=cast.practice))
        with django_assert_max_num_queries(2):  # their invitations, their connections
            add_portal_state(patients, cast.practice)
        assert _as_shown(patients) == _as_shown(with_portal_state(Patient.objects.filter(practice=cast.practice)))
    read = {p.pk: p.portal_state for p in patients}
    assert {name: read[p.pk] for name, p in one_of_each.items()} == EXPECTED
    assert [(p.portal_state, p.email_failed, p.text_failed) for p in patients if p.pk == failed.pk] == [
        (PortalState.PENDING, True, False)]


def test_a_page_reads_a_pending_invitation_as_expired_the_second_it_lapses(cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)

    def state():
        patients = [Patient.objects.get(pk=cast.pat.pk)]
        add_portal_state(patients, cast.practice)
        return patients[0].portal_state

    with time_machine.travel(NOW + datetime.timedelta(days=7, seconds=-1), tick=False):
        assert state() == PortalState.PENDING
    with time_machine.travel(NOW + datetime.timedelta(days=7), tick=False):
        assert state() == PortalState.EXPIRED


@pytest.mark.parametrize(("q", "state"), [("", ""), ("Test", ""), ("", PortalState.REVOKED), ("pend", "")])
def test_the_patient_list_page_is_search_patients_page(cast, one_of_each, q, state):
    sending.send_invitation(cast.bea, by=cast.bob, channel=Channel.CHART)  # another practice's
    with time_machine.travel(NOW + datetime.timedelta(days=8, seconds=1), tick=False):
        for number in (1, 2):
            page = patients_page(cast.alice, q=q, state=state, number=number, per_page=5)
            expected = Paginator(search_patients(cast.alice, q=q, state=state), 5).get_page(number)
            assert [p.pk for p in page] == [p.pk for p in expected]
            assert _as_shown(page) == _as_shown(expected)


def test_a_page_reads_eligibility_by_text_as_the_query_does(cast):
    """A practice that texts when there is no email: a patient without one is invitable only with a
    consented mobile number, on a page as in SQL."""
    from access.actions.texting import record_text_consent
    from access.models import TextConsent
    from clinic.models import Practice

    Practice.objects.filter(pk=cast.practice.pk).update(invite_by=Practice.InviteBy.TEXT_WITHOUT_EMAIL)
    cast.practice.refresh_from_db()
    consented, unasked = (Patient.objects.create(
        practice=cast.practice, chart_number=name, first_name=name, last_name="Text", ssn="123456789",
        mobile_phone=number) for name, number in (("consented", "+15555550188"), ("unasked", "+15555550189")))
    record_text_consent(consented, consented=True, source=TextConsent.Source.STAFF_SPOKEN, by=cast.alice)
    patients = list(Patient.objects.filter(practice=cast.practice))
    add_portal_state(patients, cast.practice)
    read = {p.pk: p.portal_state for p in patients}
    assert (read[consented.pk], read[unasked.pk]) == (PortalState.NOT_INVITED, PortalState.NOT_ELIGIBLE)
    assert _as_shown(patients) == _as_shown(with_portal_state(Patient.objects.filter(practice=cast.practice)))
