"""The practice's minimum age: a patient younger than it (by the date of birth on file, on the
practice's date) cannot be invited, and the eligibility says so in words."""

import datetime

import pytest
import time_machine

from access import errors, rules
from access.actions import sending
from access.eligibility import eligible, local_today, missing_requirements
from access.selectors import PortalState
from access.summary import portal_access
from access.tests.helpers import snapshot
from clinic.models import Patient

BORN = datetime.date(2013, 11, 2)
# 2026-11-02 at 10:00 in New York (the cast's practice): UTC is 15:00 the same day.
BIRTHDAY = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=datetime.UTC)
DAY_BEFORE = BIRTHDAY - datetime.timedelta(days=1)
TOO_YOUNG = "Patients under 13 cannot have their own portal account"


@pytest.fixture
def teen(cast):
    return Patient.objects.create(practice=cast.practice, chart_number="A-113", first_name="Tia", last_name="Young",
                                  email="tia@example.test", date_of_birth=BORN, phone="+15555550113")


def test_on_the_13th_birthday_the_patient_can_be_invited(cast, teen):
    with time_machine.travel(BIRTHDAY, tick=False):
        assert missing_requirements(teen) == []
        assert portal_access(teen).state == PortalState.NOT_INVITED
        sending.send_invitation(teen, by=cast.alice, channel="chart")


def test_the_day_before_the_patient_cannot_and_is_told_why(cast, teen):
    with time_machine.travel(DAY_BEFORE, tick=False):
        assert missing_requirements(teen) == [TOO_YOUNG]
        assert portal_access(teen).state == PortalState.NOT_ELIGIBLE
        before = snapshot()
        with pytest.raises(errors.NotEligible) as refused:
            sending.send_invitation(teen, by=cast.alice, channel="chart")
    assert refused.value.message == f"This patient cannot be invited yet: {TOO_YOUNG}."
    assert snapshot() == before


def test_the_birthday_is_the_practices_date_not_utcs(cast, teen):
    # 11 PM on 1 November in New York is already 2 November in UTC: still the day before.
    with time_machine.travel(datetime.datetime(2026, 11, 2, 4, 0, tzinfo=datetime.UTC), tick=False):
        assert missing_requirements(teen) == [TOO_YOUNG]
        assert not Patient.objects.filter(eligible(local_today(cast.practice)), pk=teen.pk).exists()


def test_the_practice_sets_the_age(cast, teen):
    cast.practice.minimum_age = 18
    cast.practice.save()
    teen.refresh_from_db()
    with time_machine.travel(BIRTHDAY, tick=False):
        assert missing_requirements(teen) == ["Patients under 18 cannot have their own portal account"]
        assert portal_access(teen).state == PortalState.NOT_ELIGIBLE


def test_without_a_date_of_birth_age_does_not_refuse(cast):
    with time_machine.travel(BIRTHDAY, tick=False):
        assert missing_requirements(cast.bea) == []


@pytest.mark.parametrize(("today", "of_age"), [(datetime.date(2025, 2, 28), False), (datetime.date(2025, 3, 1), True)])
def test_a_leap_day_birthday_comes_on_the_first_of_march_in_python_and_in_sql(cast, today, of_age):
    leapling = Patient.objects.create(practice=cast.practice, chart_number="A-229", first_name="Lee", last_name="Day",
                                      email="lee@example.test", ssn="123450229", date_of_birth=datetime.date(2012, 2, 29))
    assert (rules.age_on(today, leapling.date_of_birth) >= 13) is of_age
    assert Patient.objects.filter(eligible(today), pk=leapling.pk).exists() is of_age
