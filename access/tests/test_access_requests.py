"""Requests for portal access (access.actions.requests): asking, merging, throttles, approving (with and
without an email difference), declining, lapsing; the history after each step and nothing changed
after each refusal."""

import datetime

import pytest
import time_machine
from django.db import connection

from access import errors
from access.actions import requests
from access.models import AccessEvent, AccessRequest, Attempt, Channel, Invitation
from access.request_selectors import NO_MATCH, ONE_MATCH, POSSIBLE_DUPLICATES, name_key, with_matches
from access.tests.helpers import send, snapshot
from clinic.models import Notification, Patient, StaffMember
from conftest import NOW, at_once, postgres_only, run_worker
from mail.models import Message
from portico.client import Client

CLIENT = Client(ip="203.0.113.9", user_agent="test")
PAT = {"first_name": "Pat", "last_name": "Jones", "date_of_birth": datetime.date(1980, 5, 17),
       "email": "pat@example.test", "phone": "+15555550123", "note": ""}


def ask(cast, **changes) -> AccessRequest:
    with time_machine.travel(NOW, tick=False):
        return requests.request_access(cast.practice, client=CLIENT, **{**PAT, **changes})


def full_snapshot() -> dict:
    return {**snapshot(), "requests": list(AccessRequest.objects.order_by("pk").values()),
            "patients": list(Patient.objects.order_by("pk").values("pk", "email")),
            "notifications": Notification.objects.count()}


def events(action: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=action).order_by("id"))


# --- asking ----------------------------------------------------------------------------------------

def test_it_records_a_request_and_tells_the_front_desk(cast):
    access_request = ask(cast, note="I had a knee operation")
    assert access_request.status == AccessRequest.Status.OPEN
    assert (access_request.created_at, access_request.updated_at) == (NOW, NOW)
    [event] = events(AccessEvent.Action.REQUEST_RECEIVED)
    assert event.practice_id == cast.practice.pk and event.patient_id is None
    assert (event.actor_kind, event.actor_role, event.channel) == ("patient", "requester", Channel.REQUEST)
    assert event.reason == f"Request {access_request.pk}: Pat Jones, born 1980-05-17, pat@example.test, +15555550123"
    assert "knee" not in event.reason  # the note is free text: never in the history
    assert event.client_ip == "203.0.113.9"
    # Alice is the front desk (Dora is a doctor): she is told.
    assert list(Notification.objects.values_list("recipient_id", "text")) == [
        (cast.alice.pk, "New request for portal access: Pat Jones.")]


def test_it_tells_the_admins_when_the_practice_has_no_front_desk(cast):
    StaffMember.objects.filter(pk=cast.alice.pk).update(role=StaffMember.Role.ADMIN)
    ask(cast)
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [cast.alice.pk]


def test_a_repeat_with_the_same_email_and_birth_date_is_merged(cast):
    first = ask(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=2), tick=False):
        again = requests.request_access(cast.practice, client=CLIENT, **{**PAT, "phone": "+15555550199",
                                                                        "first_name": "Patricia"})
    assert again.pk == first.pk and AccessRequest.objects.count() == 1
    again.refresh_from_db()
    assert (again.first_name, again.phone) == ("Patricia", "+15555550199")
    assert (again.created_at, again.updated_at) == (NOW, NOW + datetime.timedelta(days=2))
    assert "(repeated)" in events(AccessEvent.Action.REQUEST_RECEIVED)[1].reason
    assert Notification.objects.count() == 1  # staff are told of a new request only


def test_another_birth_date_or_a_closed_request_makes_a_new_one(cast):
    first = ask(cast)
    ask(cast, date_of_birth=datetime.date(1980, 5, 18))
    requests.decline_request(first, reason="contact_us", by=cast.alice)
    ask(cast)
    assert AccessRequest.objects.filter(status="open").count() == 2
    assert AccessRequest.objects.count() == 3


def test_throttles_count_per_address_and_per_client(cast):
    for _ in range(requests.MAX_REQUESTS_PER_ADDRESS):
        requests.claim_request("pat@example.test", client=CLIENT)
    with pytest.raises(errors.TooManyAttempts):
        requests.claim_request("PAT@example.test ", client=Client(ip="198.51.100.1"))
    other = Client(ip="198.51.100.2")
    for i in range(requests.MAX_REQUESTS_PER_CLIENT):
        requests.claim_request(f"p{i}@example.test", client=other)
    with pytest.raises(errors.TooManyAttempts):
        requests.claim_request("someone-new@example.test", client=other)
    assert Attempt.objects.filter(kind=Attempt.Kind.ACCESS_REQUEST).count() == \
        requests.MAX_REQUESTS_PER_ADDRESS + requests.MAX_REQUESTS_PER_CLIENT  # refusals are not kept


def test_the_throttle_window_is_an_hour(cast):
    with time_machine.travel(NOW, tick=False):
        for _ in range(requests.MAX_REQUESTS_PER_ADDRESS):
            requests.claim_request("pat@example.test", client=CLIENT)
    with time_machine.travel(NOW + requests.REQUEST_WINDOW - datetime.timedelta(seconds=1), tick=False), \
            pytest.raises(errors.TooManyAttempts):
        requests.claim_request("pat@example.test", client=CLIENT)
    with time_machine.travel(NOW + requests.REQUEST_WINDOW, tick=False):
        requests.claim_request("pat@example.test", client=CLIENT)


# --- matching --------------------------------------------------------------------------------------

def test_names_match_ignoring_case_accents_hyphens_and_spaces():
    assert name_key("Zoë O'Brien-Smith") == name_key("zoe obrien smith") == "zoeobriensmith"


def test_charts_match_on_the_birth_date_and_names(cast):
    no_one = ask(cast, email="x@example.test", first_name="Xavier")
    one = ask(cast, first_name=" PAT ", last_name="jones")
    twin = Patient.objects.create(practice=cast.practice, chart_number="A-300", first_name="Pät", last_name="Jo-nes",
                                  date_of_birth=datetime.date(1980, 5, 17))
    Patient.objects.create(practice=cast.other_practice, chart_number="B-9", first_name="Pat", last_name="Jones",
                           date_of_birth=datetime.date(1980, 5, 17))  # another practice's: never a match
    assert [(m.match, m.charts) for m in with_matches([no_one])] == [(NO_MATCH, [])]
    [matched] = with_matches([one])
    assert (matched.match, matched.charts) == (POSSIBLE_DUPLICATES, [cast.pat, twin])
    twin.delete()
    assert with_matches([one])[0].match == ONE_MATCH


# --- approving -------------------------------------------------------------------------------------

def test_approving_sends_the_invitation_to_the_charts_email(cast, smtp_server):
    access_request = ask(cast)
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        sent = requests.approve_request(access_request, cast.pat, by=cast.alice, update_email=None, client=CLIENT)
    assert (sent.invitation.channel, sent.invitation.email, sent.invitation.patient_id) == (
        Channel.REQUEST, "pat@example.test", cast.pat.pk)
    access_request.refresh_from_db()
    assert (access_request.status, access_request.patient_id, access_request.decided_by_id,
            access_request.invitation_id) == ("approved", cast.pat.pk, cast.alice.pk, sent.invitation.pk)
    assert list(AccessEvent.objects.filter(patient=cast.pat).order_by("id").values_list("action", "reason")) == [
        ("invitation.sent", f"Access request {access_request.pk}"),
        ("request.approved", f"Request {access_request.pk} (Pat Jones, pat@example.test) approved for chart A-100; "
                             "chart email kept"),
    ]
    assert AccessEvent.objects.get(action="request.approved").actor_id == cast.alice.user_id
    with time_machine.travel(NOW + datetime.timedelta(hours=1, minutes=1), tick=False):
        run_worker()
    [message] = smtp_server.messages()
    assert message["To"] == "pat@example.test" and "invites you" in message["Subject"]


def test_a_different_email_must_be_chosen_for_and_nothing_changes_until_it_is(cast):
    access_request = ask(cast, email="pat.new@example.test")
    before = full_snapshot()
    with pytest.raises(errors.EmailChoiceNeeded) as refused:
        requests.approve_request(access_request, cast.pat, by=cast.alice, update_email=None)
    assert "pat.new@example.test" in refused.value.message and "pat@example.test" in refused.value.message
    assert full_snapshot() == before


def test_approving_with_the_email_updated_changes_the_chart_first(cast):
    pending = send(cast)  # to the old address: revoked by the change, as on Demographics
    access_request = ask(cast, email="pat.new@example.test")
    sent = requests.approve_request(access_request, cast.pat, by=cast.alice, update_email=True)
    cast.pat.refresh_from_db()
    assert cast.pat.email == "pat.new@example.test" == sent.invitation.email
    pending.invitation.refresh_from_db()
    assert pending.invitation.status == Invitation.Status.REVOKED
    actions = list(AccessEvent.objects.filter(patient=cast.pat).order_by("id").values_list("action", "reason"))
    assert actions[1:] == [("invitation.revoked", "Email address changed"),
                           ("invitation.sent", f"Access request {access_request.pk}"),
                           ("request.approved", f"Request {access_request.pk} (Pat Jones, pat.new@example.test) "
                                                "approved for chart A-100; chart email updated to the request's")]


def test_approving_with_the_email_kept_invites_the_chart_address(cast):
    access_request = ask(cast, email="pat.new@example.test")
    sent = requests.approve_request(access_request, cast.pat, by=cast.alice, update_email=False)
    cast.pat.refresh_from_db()
    assert cast.pat.email == "pat@example.test" == sent.invitation.email
    assert AccessEvent.objects.get(action="request.approved").reason.endswith(
        "chart email kept (differs from the request's)")


def test_a_refused_send_rolls_back_the_email_change_too(cast):
    access_request = ask(cast, email="ned@example.test", first_name="Ned", last_name="Stone")
    before = full_snapshot()
    with pytest.raises(errors.NotEligible):  # Ned has no SSN, birth date or phone
        requests.approve_request(access_request, cast.ned, by=cast.alice, update_email=True)
    assert full_snapshot() == before


@pytest.mark.parametrize("status", ["approved", "declined", "lapsed"])
def test_a_decided_request_cannot_be_approved_or_declined(cast, status):
    access_request = ask(cast)
    AccessRequest.objects.filter(pk=access_request.pk).update(status=status)
    before = full_snapshot()
    with pytest.raises(errors.RequestNotOpen):
        requests.approve_request(access_request, cast.pat, by=cast.alice, update_email=None)
    with pytest.raises(errors.RequestNotOpen):
        requests.decline_request(access_request, reason="contact_us", by=cast.alice)
    assert full_snapshot() == before


def test_another_practices_chart_is_refused(cast):
    access_request = ask(cast)
    before = full_snapshot()
    with pytest.raises(errors.ChartOfAnotherPractice):
        requests.approve_request(access_request, cast.bea, by=cast.alice, update_email=False)
    assert full_snapshot() == before


# --- declining -------------------------------------------------------------------------------------

def test_declining_emails_the_reason_and_nothing_from_any_chart(cast, smtp_server):
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    access_request = ask(cast, note="Diabetes follow-up")
    with time_machine.travel(NOW + datetime.timedelta(hours=1), tick=False):
        requests.decline_request(access_request, reason="details_differ", by=cast.alice, client=CLIENT)
    access_request.refresh_from_db()
    assert (access_request.status, access_request.decline_reason, access_request.decided_by_id) == (
        "declined", "details_differ", cast.alice.pk)
    [event] = events(AccessEvent.Action.REQUEST_DECLINED)
    assert event.reason == (f"Request {access_request.pk} (Pat Jones, pat@example.test) declined: "
                            "The details did not match our records")
    assert event.actor_id == cast.alice.user_id
    run_worker()
    [message] = smtp_server.messages()
    assert message["To"] == "pat@example.test"
    assert message["Subject"] == "Your request for Maple Street Clinic's patient portal"
    for part in ("plain", "html"):
        body = message.get_body((part,)).get_content()
        assert "The details did not match our records" in body and "(555) 555-0100" in body
        # No health information, nothing from a chart: not the note, the SSN, the chart number, the doctor.
        for secret in ("Diabetes", "6789", "A-100", "Dorsey", "1980"):
            assert secret not in body


def test_an_unknown_reason_is_refused(cast):
    access_request = ask(cast)
    before = full_snapshot()
    with pytest.raises(errors.UnknownDeclineReason):
        requests.decline_request(access_request, reason="we_dislike_you", by=cast.alice)
    assert full_snapshot() == before


# --- lapsing ---------------------------------------------------------------------------------------

def test_a_request_lapses_at_exactly_30_days_not_a_second_before(cast):
    access_request = ask(cast)
    with time_machine.travel(NOW + requests.LAPSE_AFTER - datetime.timedelta(seconds=1), tick=False):
        assert requests.lapse_requests() == 0
    access_request.refresh_from_db()
    assert access_request.status == "open"
    with time_machine.travel(NOW + requests.LAPSE_AFTER, tick=False):
        assert requests.lapse_requests() == 1
        assert requests.lapse_requests() == 0  # once
    access_request.refresh_from_db()
    assert access_request.status == "lapsed"
    [event] = events(AccessEvent.Action.REQUEST_LAPSED)
    assert (event.actor_kind, event.channel) == ("system", Channel.REQUEST)
    assert event.reason.startswith(f"Request {access_request.pk} (unanswered after 30 days): Pat Jones")
    [message] = Message.objects.filter(kind=Message.Kind.REQUEST_LAPSED)
    assert message.to == "pat@example.test"
    assert message.context["request_url"] == f"https://portal.example.test/portal/request/{cast.practice.pk}/"
    assert Notification.objects.filter(text="1 request for portal access lapsed unanswered after 30 days.").exists()


def test_lapsed_mail_tells_the_requester(cast, smtp_server):
    ask(cast)
    with time_machine.travel(NOW + requests.LAPSE_AFTER, tick=False):
        requests.lapse_requests()
    run_worker()
    [message] = smtp_server.messages()
    assert "has now closed" in message.get_body(("plain",)).get_content()


def test_lapsing_goes_in_batches(cast):
    for i in range(5):
        ask(cast, email=f"p{i}@example.test")
    with time_machine.travel(NOW + requests.LAPSE_AFTER, tick=False):
        assert requests.lapse_requests(batch=2) == 5
    assert AccessRequest.objects.filter(status="lapsed").count() == 5


# --- races (PostgreSQL) ----------------------------------------------------------------------------

@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_send_one_invitation(cast):
    access_request = requests.request_access(cast.practice, **PAT)
    outcomes = at_once(*[lambda: requests.approve_request(access_request, cast.pat, by=cast.alice,
                                                          update_email=None)] * 2)
    assert sorted(type(o).__name__ for o in outcomes) == ["RequestNotOpen", "SentInvitation"]
    assert Invitation.objects.count() == 1
    assert Message.objects.filter(kind="invitation").count() == 1
    assert AccessEvent.objects.filter(action="request.approved").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_one_request_approved_for_two_charts_at_once_sends_one_invitation(cast):
    """Two patient rows, so only the request's row lock keeps the second from approving it too."""
    twin = Patient.objects.create(practice=cast.practice, chart_number="A-300", first_name="Pat", last_name="Jones",
                                  email="pat@example.test", ssn="123456780", date_of_birth=datetime.date(1980, 5, 17))
    access_request = ask(cast)
    outcomes = at_once(*[lambda p=p: requests.approve_request(access_request, p, by=cast.alice, update_email=None)
                         for p in (cast.pat, twin)])
    assert sorted(type(o).__name__ for o in outcomes) == ["RequestNotOpen", "SentInvitation"]
    assert Invitation.objects.count() == 1
    assert AccessEvent.objects.filter(action="request.approved").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_same_requests_at_once_make_one(cast):
    outcomes = at_once(*[lambda: requests.request_access(cast.practice, **PAT)] * 3)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert AccessRequest.objects.count() == 1
    assert AccessEvent.objects.filter(action="request.received").count() == 3
    assert connection.vendor == "postgresql"


def test_the_emails_carry_nothing_the_requester_typed(cast, smtp_server):
    """The address was typed by whoever asked: the practice must not carry their text to it (phishing)."""
    lure = "Claim your refund at evil.example"
    declined = ask(cast, first_name=lure, last_name=lure)
    ask(cast, email="other@example.test", first_name=lure, note=lure)  # left to lapse
    with time_machine.travel(NOW + datetime.timedelta(days=30), tick=False):
        requests.decline_request(declined, reason="contact_us", by=cast.alice)
        requests.lapse_requests()
    run_worker()
    assert {m["To"] for m in smtp_server.messages()} == {"pat@example.test", "other@example.test"}
    for message in smtp_server.messages():
        for part in ("plain", "html"):
            assert "evil.example" not in message.get_body((part,)).get_content()
