"""The Reports' summary (VisitAccess) kept by the actions: every action that changes whether a visit
got access in time, its window or the patient's details writes the rows again in its transaction,
and after each one the kept rows equal a rebuild from the facts (access.actions.visit_access.computed)."""

import datetime
import threading
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from access import reports
from access.actions import acceptance, sending, visit_access
from access.actions.practice_settings import change_practice_settings
from access.models import Channel, VisitAccess
from access.reports import _moment
from access.tests.helpers import right_answers
from clinic import services
from clinic.models import Appointment, Practice, StaffMember
from conftest import at_once, postgres_only

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC
COLUMNS = ["appointment_id", "practice_id", "doctor_id", "patient_id", "starts_at", "deadline", "timely",
           "last_name", "first_name", "has_email", "has_identity", "date_of_birth", "next_starts_at", "last_timely_at"]


def at(day: int, hour: int = 10, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=NY)


def complete(cast, when, patient=None, doctor=None) -> Appointment:
    patient = patient or cast.pat
    appointment = Appointment.objects.create(practice=patient.practice, patient=patient, doctor=doctor or cast.dora,
                                             starts_at=when, ends_at=when + datetime.timedelta(minutes=30))
    return services.complete_appointment(appointment=appointment, by=None)


def kept() -> list[tuple]:
    return list(VisitAccess.objects.order_by("appointment_id").values_list(*COLUMNS))


def assert_kept_equals_rebuilt() -> None:
    """The rows the actions kept are the rows a rebuild works out from the facts, column by column."""
    rebuilt = []
    for practice in Practice.objects.all():
        sql, params = visit_access.chained(practice, Appointment.objects.all())
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rebuilt += cursor.fetchall()
    # (Raw rows: SQLite gives booleans as 0/1 and moments as text, which the model's rows convert.)
    moment = lambda v: None if v is None else _moment(v)  # noqa: E731
    kinds = {"timely": bool, "has_email": bool, "has_identity": bool, "starts_at": moment, "deadline": moment,
             "next_starts_at": moment, "last_timely_at": moment,
             "date_of_birth": lambda v: datetime.date.fromisoformat(v) if isinstance(v, str) else v}
    normalise = lambda rows: sorted(tuple(kinds.get(COLUMNS[i], lambda v: v)(v)  # noqa: E731
                                          for i, v in enumerate(row)) for row in rows)
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


def test_a_patient_without_visits_changes_nothing(cast):
    complete(cast, at(6))
    before = kept()
    services.update_patient(cast.ned, by=cast.alice, last_name="Stoner")
    assert kept() == before


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


def test_a_patients_visits_with_each_clinician_are_chained_and_counted_once_per_period(cast):
    """next_starts_at and last_timely_at follow the visits of one patient with one clinician (not the
    other clinician's), and the measure counts the pair once, at its last visit in the period, in the
    numerator when a visit of the period was timely."""
    other = StaffMember.objects.create(user=get_user_model().objects.create_user(username="olga"),
                                       practice=cast.practice, role=StaffMember.Role.DOCTOR)
    first = complete(cast, at(2))  # Monday 2 November
    elsewhere = complete(cast, at(4), doctor=other)
    later = complete(cast, at(1, month=12))  # long after the link below expired
    send(cast, at(3))  # within the first two visits' windows
    assert [(r.timely, r.next_starts_at, r.last_timely_at) for r in (row(first), row(elsewhere), row(later))] == [
        (True, at(1, month=12), at(2)), (True, None, at(4)), (False, None, at(2))]
    assert_kept_equals_rebuilt()

    def dora(first_day, last_day):
        period = reports.Period(first_day, last_day, NY)
        found = [m for m in reports.measure(reports.Scope(cast.practice), period, now=at(20, month=12))
                 if m.doctor_id == cast.dora.pk]
        return (found[0].numerator, found[0].denominator) if found else None

    assert dora(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)) == (1, 1)
    assert dora(datetime.date(2026, 12, 1), datetime.date(2026, 12, 31)) == (0, 1)
    assert dora(datetime.date(2026, 11, 1), datetime.date(2026, 12, 31)) == (1, 1)  # one pair, two visits
    assert dora(datetime.date(2026, 11, 3), datetime.date(2026, 11, 30)) is None  # no visit in the period


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


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["holidays", "send"])
def test_a_holidays_change_and_a_send_refreshing_the_same_visit_at_once_both_commit(cast, monkeypatch, first):
    """A holidays change refreshes visits without their patients' locks, so a send can refresh the same
    visit meanwhile: whichever comes second waits on the rows the first deleted, then finds the rows
    the first inserted (a duplicate key, before the upsert) and must work its rows out with the
    first's committed facts (the holiday, the invitation)."""
    now = timezone.now()
    appointment = Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora,
                                             starts_at=now - datetime.timedelta(hours=1),
                                             ends_at=now - datetime.timedelta(minutes=30))
    services.complete_appointment(appointment=appointment, by=None)
    window_before = row(appointment).deadline
    holiday = (appointment.starts_at.astimezone(cast.practice.tzinfo).date() + datetime.timedelta(days=1)).isoformat()
    refreshed, release = threading.Event(), threading.Event()
    pausing = "holidays_changed" if first == "holidays" else "access_changed"
    unhurried = getattr(visit_access, pausing)

    def refresh_then_wait(*args, **kwargs):
        unhurried(*args, **kwargs)
        refreshed.set()
        release.wait(10)

    monkeypatch.setattr(visit_access, pausing, refresh_then_wait)
    change = lambda: change_practice_settings(Practice.objects.get(pk=cast.practice.pk), by=cast.alice,  # noqa: E731
                                              holidays=[holiday])
    send = lambda: sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)  # noqa: E731

    def second():
        refreshed.wait(10)
        monkeypatch.setattr(visit_access, pausing, unhurried)  # (this thread must not pause too)
        threading.Timer(0.5, release.set).start()  # the first commits once the second is waiting
        return (send if first == "holidays" else change)()

    outcomes = at_once(change if first == "holidays" else send, second)
    assert not any(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    got = row(appointment)
    assert got.timely and got.deadline > window_before  # the invitation counted, the holiday moved the window
    assert_kept_equals_rebuilt()
