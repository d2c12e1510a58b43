"""The Reports' summary (VisitAccess) kept by the actions: every action that changes whether a visit
got access in time, its window or the patient's details writes the rows again in its transaction,
and after each one the kept rows equal a rebuild from the facts (access.actions.visit_access.computed)."""

import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.utils import timezone

from access.actions import acceptance, sending, visit_access
from access.actions.practice_settings import change_practice_settings
from access.models import Channel, VisitAccess
from access.tests.helpers import right_answers
from clinic import services
from clinic.models import Appointment, Practice
from conftest import at_once, postgres_only

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC
COLUMNS = ["appointment_id", "practice_id", "doctor_id", "patient_id", "starts_at", "deadline", "timely",
           "last_name", "first_name", "has_email", "has_identity", "date_of_birth"]


def at(day: int, hour: int = 10, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=NY)


def complete(cast, when, patient=None) -> Appointment:
    patient = patient or cast.pat
    appointment = Appointment.objects.create(practice=patient.practice, patient=patient, doctor=cast.dora,
                                             starts_at=when, ends_at=when + datetime.timedelta(minutes=30))
    return services.complete_appointment(appointment=appointment, by=None)


def kept() -> list[tuple]:
    return list(VisitAccess.objects.order_by("appointment_id").values_list(*COLUMNS))


def assert_kept_equals_rebuilt() -> None:
    """The rows the actions kept are the rows a rebuild works out from the facts, column by column."""
    rebuilt = []
    for practice in Practice.objects.all():
        rebuilt += list(visit_access.computed(practice, Appointment.objects.all()).values_list(
            *(f"v_{name}" for name in COLUMNS)))
    normalise = lambda rows: sorted(tuple(bool(v) if COLUMNS[i] in ("timely", "has_email", "has_identity")  # noqa: E731
                                          else v for i, v in enumerate(row)) for row in rows)
    assert normalise(kept()) == normalise(rebuilt)


def row(appointment) -> VisitAccess:
    return VisitAccess.objects.get(appointment_id=appointment.pk)


def send(cast, when, patient=None):
    with time_machine.travel(when, tick=False):
        return sending.send_invitation(patient or cast.pat, by=cast.alice, channel=Channel.CHART)


def test_completing_a_visit_writes_its_row_with_the_deadline_and_the_patients_details(cast):
    with time_machine.travel(at(6, 11), tick=False):
        visit = complete(cast, at(6))  # a Friday: the window closes at the end of Thursday 12 November
    got = row(visit)
    assert got.deadline == datetime.datetime(2026, 11, 13, 5, 0, tzinfo=UTC)  # midnight in New York
    assert (got.timely, got.last_name, got.first_name, got.has_email, got.has_identity, got.date_of_birth) == (
        False, "Jones", "Pat", True, True, datetime.date(1980, 5, 17))
    assert (got.doctor_id, got.patient_id, got.practice_id) == (cast.dora.pk, cast.pat.pk, cast.practice.pk)
    assert_kept_equals_rebuilt()


def test_an_appointment_not_completed_has_no_row_and_a_deleted_one_loses_it(cast):
    scheduled = Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora,
                                           starts_at=at(3), ends_at=at(3, 11))
    services.cancel_appointment(appointment=scheduled, by=None)
    visit = complete(cast, at(6))
    assert [r[0] for r in kept()] == [visit.pk]
    visit.delete()
    assert kept() == []


def test_an_invitation_on_the_last_day_of_the_window_makes_the_visit_timely(cast):
    visit = complete(cast, at(6))
    send(cast, at(12, 23))  # Thursday, 11 PM: the 4th business day
    assert row(visit).timely
    assert_kept_equals_rebuilt()


def test_an_invitation_a_day_late_does_not(cast):
    visit = complete(cast, at(6))
    send(cast, at(13, 0))  # Friday, midnight: the window has closed
    assert not row(visit).timely
    assert_kept_equals_rebuilt()


def test_a_batch_send_keeps_every_patients_visits(cast):
    """send_invitations (the worklist's Invite all; bulk jobs share send_many) is the same path."""
    visit = complete(cast, at(6))
    with time_machine.travel(at(9), tick=False):
        [outcome] = sending.send_invitations([cast.pat], by=cast.alice, channel=Channel.CHART)
    assert outcome.sent is not None and row(visit).timely
    assert_kept_equals_rebuilt()


def test_a_visit_completed_while_an_invitation_is_pending_is_timely_at_once(cast):
    send(cast, at(5))
    with time_machine.travel(at(6, 11), tick=False):
        visit = complete(cast, at(6))
    assert row(visit).timely
    assert_kept_equals_rebuilt()


def test_revoking_the_link_before_a_visit_starts_takes_its_access_back(cast):
    """A visit completed ahead of its start (the calendar allows it): a link closed before the visit
    starts gave it no access."""
    send(cast, at(2))
    with time_machine.travel(at(3), tick=False):
        visit = complete(cast, at(5))
        assert row(visit).timely  # the link works at the visit's start, as things stand
        sending.revoke_invitation(cast.pat, by=cast.alice)
    assert not row(visit).timely
    assert_kept_equals_rebuilt()


@pytest.mark.parametrize("end", ["disconnect", "revoke"])
def test_a_connection_counts_and_its_end_before_a_visit_takes_it_back(cast, end):
    sent = send(cast, at(2))
    with time_machine.travel(at(3), tick=False):
        visit = complete(cast, at(5))
        proof = acceptance.verify_identity(sent.token, right_answers(cast.pat)).proof
        connection = acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
        assert row(visit).timely  # the link closed at acceptance; the connection carries on
        assert_kept_equals_rebuilt()
        if end == "disconnect":
            acceptance.disconnect_practice(connection)
        else:
            sending.revoke_invitation(cast.pat, by=cast.alice)
    assert not row(visit).timely
    assert_kept_equals_rebuilt()


def test_a_patients_new_name_and_details_are_copied(cast):
    visit = complete(cast, at(6))
    services.update_patient(cast.pat, by=cast.alice, last_name="Smith", email="", ssn="", phone="")
    got = row(visit)
    assert (got.last_name, got.has_email, got.has_identity) == ("Smith", False, False)
    assert_kept_equals_rebuilt()


def test_a_holiday_in_the_window_moves_the_deadline_and_back(cast):
    visit = complete(cast, at(6))
    elsewhere = complete(cast, at(20))  # its window does not hold the holiday: untouched
    change_practice_settings(cast.practice, by=cast.alice, holidays=["2026-11-11"])  # a Wednesday
    assert row(visit).deadline == datetime.datetime(2026, 11, 14, 5, 0, tzinfo=UTC)  # Friday's end
    assert row(elsewhere).deadline == datetime.datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert_kept_equals_rebuilt()
    send(cast, at(13, 9))  # Friday: late without the holiday, in time with it
    assert row(visit).timely
    change_practice_settings(cast.practice, by=cast.alice, holidays=[])
    assert row(visit).deadline == datetime.datetime(2026, 11, 13, 5, 0, tzinfo=UTC)
    assert not row(visit).timely
    assert_kept_equals_rebuilt()


def test_rebuild_writes_the_same_rows_as_the_actions_kept(cast):
    complete(cast, at(6))
    send(cast, at(9))
    complete(cast, at(16), patient=cast.ned)
    before = kept()
    VisitAccess.objects.all().delete()
    assert visit_access.rebuild(Practice.objects.get(pk=cast.practice.pk)) == 2
    assert kept() == before


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_visit_completed_while_an_invitation_is_sent_to_the_patient_is_counted(cast, monkeypatch):
    """The completion has worked out its row (no invitation yet) but not committed when the send
    starts: the send waits on the patient's lock, then sees the row and counts the invitation.
    (Without the lock the send's refresh misses the uncommitted row and the visit stays untimely.)"""
    now = timezone.now()
    appointment = Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora,
                                             starts_at=now - datetime.timedelta(hours=1),
                                             ends_at=now - datetime.timedelta(minutes=30))
    row_written, release = threading.Event(), threading.Event()
    unhurried = visit_access.visit_completed

    def visit_completed_then_wait(visit):
        unhurried(visit)
        row_written.set()
        release.wait(10)

    monkeypatch.setattr(visit_access, "visit_completed", visit_completed_then_wait)

    def send_meanwhile():
        row_written.wait(10)
        threading.Timer(0.5, release.set).start()  # the completion commits once the send is waiting
        return sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)

    completed, sent = at_once(lambda: services.complete_appointment(appointment=appointment, by=None), send_meanwhile)
    assert not isinstance(completed, Exception) and not isinstance(sent, Exception), (completed, sent)
    assert row(appointment).timely
    assert_kept_equals_rebuilt()
