"""The worklist's morning bell: once a day, to each doctor with visits due that day, if the practice
asked for it."""

import datetime
import zoneinfo

import time_machine

from access.actions.worklist import notify_due_visits
from clinic.models import Appointment, Notification, Practice

NY = zoneinfo.ZoneInfo("America/New_York")
THURSDAY_EARLY = datetime.datetime(2026, 11, 19, 6, 59, tzinfo=NY)
THURSDAY_MORNING = datetime.datetime(2026, 11, 19, 7, 0, tzinfo=NY)


def visit(cast, patient, day):
    start = datetime.datetime(2026, 11, day, 10, tzinfo=NY)
    Appointment.objects.create(practice=cast.practice, patient=patient, doctor=cast.dora, starts_at=start,
                               ends_at=start + datetime.timedelta(minutes=30), status=Appointment.Status.COMPLETED)


def test_it_tells_each_doctor_once_in_the_morning(cast):
    Practice.objects.filter(pk=cast.practice.pk).update(worklist_bell=True)
    visit(cast, cast.pat, 13)  # Friday: closes Thursday 19
    visit(cast, cast.ned, 13)
    with time_machine.travel(THURSDAY_EARLY, tick=False):
        assert notify_due_visits() == 0
    with time_machine.travel(THURSDAY_MORNING, tick=False):
        assert notify_due_visits() == 1
        assert notify_due_visits() == 0  # once a day
    assert list(Notification.objects.values_list("recipient", "text")) == [
        (cast.dora.pk, "2 visits are due for portal access today (see Reports → Worklist).")]


def test_it_is_off_unless_the_practice_asks(cast):
    visit(cast, cast.pat, 13)
    with time_machine.travel(THURSDAY_MORNING, tick=False):
        assert notify_due_visits() == 0
    assert not Notification.objects.exists()


def test_nothing_due_tells_nobody(cast):
    Practice.objects.filter(pk=cast.practice.pk).update(worklist_bell=True)
    visit(cast, cast.pat, 12)  # closed yesterday
    with time_machine.travel(THURSDAY_MORNING, tick=False):
        assert notify_due_visits() == 0
    assert not Notification.objects.exists()
