"""The batch form of sending invitations: the same rules as the chart button, one outcome per patient."""

import datetime
from unittest import mock

import pytest
import time_machine

from access import errors, selectors
from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from access.tests.helpers import actions_of, connect, send, snapshot
from clinic.models import Patient
from conftest import NOW
from mail.models import Message


def make_patients(practice, count: int, prefix: str = "T") -> list[Patient]:
    """Eligible patients (an email and an SSN), chart numbers T-0, T-1, ..."""
    return [Patient.objects.create(practice=practice, chart_number=f"{prefix}-{n}", first_name=f"Test{n}",
                                   last_name="Bulk", email=f"{prefix.lower()}{n}@example.test", ssn=f"1234{n + 1:05d}")
            for n in range(count)]


def by_patient(outcomes) -> dict:
    return {o.patient_id: o for o in outcomes}


@time_machine.travel(NOW, tick=False)
def test_it_sends_to_every_eligible_patient_with_one_event_and_one_email_each(cast):
    patients = make_patients(cast.practice, 3)
    outcomes = sending.send_invitations(patients, by=cast.alice, channel=Channel.BULK)
    assert [o.patient_id for o in outcomes] == [p.pk for p in patients]
    assert all(o.sent is not None and o.refusal is None for o in outcomes)
    for patient in patients:
        invitation = Invitation.objects.get(patient=patient)
        assert (invitation.status, invitation.channel, invitation.sent_by, invitation.email) == (
            Invitation.Status.PENDING, "bulk", cast.alice, patient.email)
        assert invitation.expires_at == NOW + datetime.timedelta(days=7)
        assert actions_of(patient) == ["invitation.sent"]
        event = AccessEvent.objects.get(patient=patient)
        assert (event.channel, event.actor, event.invitation_id) == ("bulk", cast.alice.user, invitation.pk)
        message = Message.objects.get(dedupe_key=f"invitation:{invitation.pk}")
        assert (message.kind, message.to) == ("invitation", patient.email)
    tokens = {o.sent.token for o in outcomes}
    assert len(tokens) == 3


def test_the_one_patient_case_is_the_same_rule_path(cast):
    """send_invitation raises what send_invitations reports, with the same words."""
    [outcome] = sending.send_invitations([cast.ned], by=cast.alice, channel=Channel.BULK)
    with pytest.raises(errors.NotEligible) as raised:
        send(cast, cast.ned)
    assert (outcome.refusal.code, outcome.refusal.message) == (raised.value.code, raised.value.message)


@time_machine.travel(NOW, tick=False)
def test_each_skip_reason_is_reported_and_the_rest_still_go(cast):
    connected, pending, fresh = make_patients(cast.practice, 3)
    no_identity = Patient.objects.create(practice=cast.practice, chart_number="T-noid", first_name="No",
                                         last_name="Identity", email="noid@example.test")
    connect(cast, connected)
    send(cast, pending)
    before = Invitation.objects.count()
    outcomes = by_patient(sending.send_invitations([connected, pending, fresh, no_identity, cast.ned],
                                                   by=cast.alice, channel=Channel.BULK))
    assert {pid: (o.refusal.code if o.refusal else "sent") for pid, o in outcomes.items()} == {
        connected.pk: "already_connected", pending.pk: "already_pending", fresh.pk: "sent",
        no_identity.pk: "not_eligible", cast.ned.pk: "not_eligible"}
    assert outcomes[no_identity.pk].refusal.missing == [
        "Add a social security number, or a date of birth and a phone number"]
    assert outcomes[cast.ned.pk].refusal.missing == [
        "Add an email address", "Add a social security number, or a date of birth and a phone number"]
    assert outcomes[pending.pk].refusal.message == (
        "This patient already has a pending invitation (expires 9 Nov 2026).")
    assert Invitation.objects.count() == before + 1


def _invitations_today(cast, patient, count: int) -> None:
    """`count` invitations sent to the patient in the last hours, the last one revoked (none pending)."""
    with time_machine.travel(NOW, tick=False) as clock:
        send(cast, patient)
        for _ in range(count - 1):
            clock.shift(datetime.timedelta(hours=1))
            sending.resend_invitation(patient, by=cast.alice, channel=Channel.CHART)
        sending.revoke_invitation(patient, by=cast.alice)


def test_five_invitations_in_a_day_make_the_sixth_skipped_as_invited_too_often(cast):
    four, five = make_patients(cast.practice, 2)
    _invitations_today(cast, four, 4)
    _invitations_today(cast, five, 5)
    with time_machine.travel(NOW + datetime.timedelta(hours=23, minutes=59), tick=False):
        outcomes = by_patient(sending.send_invitations([four, five], by=cast.alice, channel=Channel.BULK))
    assert outcomes[four.pk].sent is not None
    assert outcomes[five.pk].refusal.code == "too_many_invitations"
    assert outcomes[five.pk].refusal.message == (
        "This patient has been sent 5 invitations in the last 24 hours. Please try again tomorrow.")
    assert (four.invitations.count(), five.invitations.count()) == (5, 5)
    # A day after the first of the five, only four fall in the last 24 hours: the cap lets one more go.
    with time_machine.travel(NOW + datetime.timedelta(days=1, seconds=1), tick=False):
        [again] = sending.send_invitations([five], by=cast.alice, channel=Channel.BULK)
    assert again.sent is not None


def test_a_lapsed_invitation_is_expired_and_a_new_one_sent(cast):
    with time_machine.travel(NOW, tick=False):
        first = send(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=7), tick=False):
        [outcome] = sending.send_invitations([cast.pat], by=cast.alice, channel=Channel.BULK)
    assert outcome.sent is not None
    first.invitation.refresh_from_db()
    assert first.invitation.status == Invitation.Status.EXPIRED
    assert actions_of(cast.pat) == ["invitation.sent", "invitation.expired", "invitation.sent"]


def test_when_the_unique_constraint_refuses_one_patient_the_rest_of_the_batch_still_goes(cast):
    """The last guard: a pending invitation the facts did not see (written by a transaction that took
    no patient lock) makes the one-pending constraint refuse that patient only."""
    racing, other = make_patients(cast.practice, 2)
    real_facts = selectors.invitation_facts

    def facts_then_a_racing_insert(patient_ids, *, now):
        facts = real_facts(patient_ids, now=now)
        Invitation.objects.create(practice=cast.practice, patient=racing, token_hash="r" * 64, email=racing.email,
                                  channel=Channel.CHART, sent_at=now, expires_at=now + datetime.timedelta(days=7))
        return facts

    with mock.patch("access.actions.sending.invitation_facts", facts_then_a_racing_insert):
        outcomes = by_patient(sending.send_invitations([racing, other], by=cast.alice, channel=Channel.BULK))
    assert outcomes[racing.pk].refusal.code == "already_pending"
    assert outcomes[other.pk].sent is not None
    assert racing.invitations.count() == 1 and not AccessEvent.objects.filter(patient=racing).exists()
    assert Message.objects.count() == 1


def test_a_batch_of_refusals_changes_nothing(cast):
    send(cast)
    before = snapshot()
    outcomes = sending.send_invitations([cast.pat, cast.ned], by=cast.alice, channel=Channel.BULK)
    assert [o.refusal.code for o in outcomes] == ["already_pending", "not_eligible"]
    assert snapshot() == before


def test_it_reads_facts_in_a_constant_number_of_queries(cast, django_assert_max_num_queries):
    small, large = make_patients(cast.practice, 2, "S"), make_patients(cast.practice, 40, "L")
    with django_assert_max_num_queries(20) as small_run:
        sending.send_invitations(small, by=cast.alice, channel=Channel.BULK)
    with django_assert_max_num_queries(len(small_run.captured_queries)):
        sending.send_invitations(large, by=cast.alice, channel=Channel.BULK)
