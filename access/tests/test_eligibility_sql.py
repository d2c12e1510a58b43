"""eligibility.eligible (the query lists and bulk sends filter by) decides exactly as access.rules does
(rules.age_on and rules.missing) for every patient, at the boundaries of the minimum age: the day
before and of a birthday, births on 29 February in leap and other years, today on 29 February, and
minimum ages 0, 13, 18 and 20. The dates are literal: a cutoff off by a day fails here."""

import datetime
import re

import pytest
import time_machine

from access import rules
from access.eligibility import eligible, latest_birth_date
from access.selectors import PortalState, search_patients, with_portal_state
from clinic.models import Patient

D = datetime.date
BIRTHS = [
    D(2013, 11, 25), D(2013, 11, 26), D(2013, 11, 27),  # 13 around 2026-11-26
    D(2008, 11, 25), D(2008, 11, 26), D(2008, 11, 27),  # 18 around 2026-11-26
    D(2008, 2, 28), D(2008, 2, 29), D(2008, 3, 1),  # a leap year: 18 in 2026, 20 in 2028
    D(2012, 2, 29), D(2012, 3, 1),  # 13 in 2025 (no 29 February)
    D(2010, 2, 28), D(2010, 3, 1),  # 18 on 2028-02-29, from a year without one
    D(2015, 2, 28), D(2015, 3, 1),  # 13 on 2028-02-29, from a year without one
    D(2026, 11, 26), D(2026, 11, 27),  # born today, and (as no form allows) tomorrow
]
TODAYS = [
    D(2026, 11, 26), D(2026, 2, 28), D(2026, 3, 1), D(2025, 2, 28), D(2025, 3, 1),
    D(2028, 2, 28), D(2028, 2, 29), D(2028, 3, 1),
]
MINIMUM_AGES = [0, 13, 18, 20]


@pytest.fixture
def patients(cast) -> dict[int, D | None]:
    """One invitable patient per date of birth (details complete), one without a date of birth, and
    one under age without an email: date of birth by patient id."""
    made = [Patient(practice=cast.practice, chart_number=f"E-{n}", first_name="Eli", last_name=f"Gible{n}",
                    email=f"e{n}@example.test", date_of_birth=born, phone=f"+1555555{n:04d}")
            for n, born in enumerate(BIRTHS)]
    made.append(Patient(practice=cast.practice, chart_number="E-nodob", first_name="Una", last_name="Known",
                        email="una@example.test", ssn="123451111"))
    made.append(Patient(practice=cast.practice, chart_number="E-noemail", first_name="Nemo", last_name="Mail",
                        date_of_birth=D(1990, 1, 1), phone="+15555559999"))
    for p in made:
        p.save()
    return {p.pk: p.date_of_birth for p in Patient.objects.filter(practice=cast.practice, chart_number__startswith="E-")}


def by_the_rules(patient: Patient, today: D, minimum_age: int) -> bool:
    born = patient.date_of_birth
    return not rules.missing(has_email=bool(patient.email), has_ssn=bool(patient.ssn_last4),
                             has_date_of_birth_and_phone=bool(born and patient.phone),
                             age=rules.age_on(today, born) if born else None, minimum_age=minimum_age)


def python_says(cast, today: D, minimum_age: int) -> set[int]:
    return {p.pk for p in Patient.objects.filter(practice=cast.practice) if by_the_rules(p, today, minimum_age)}


@pytest.mark.parametrize("minimum_age", MINIMUM_AGES)
@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_the_query_agrees_with_the_rules(cast, patients, today, minimum_age):
    cast.practice.minimum_age = minimum_age
    cast.practice.save()
    mine = Patient.objects.filter(practice=cast.practice)
    expected = python_says(cast, today, minimum_age)
    # The practice's age passed in (lists of one practice), and read per patient's practice (the default).
    assert set(mine.filter(eligible(today, minimum_age)).values_list("pk", flat=True)) == expected
    assert set(mine.filter(eligible(today)).values_list("pk", flat=True)) == expected
    everyone = set(mine.values_list("pk", flat=True))
    assert set(mine.exclude(eligible(today, minimum_age)).values_list("pk", flat=True)) == everyone - expected


@pytest.mark.parametrize(("today", "minimum_age", "born", "of_age"), [
    (D(2026, 11, 26), 13, D(2013, 11, 26), True),  # the 13th birthday
    (D(2026, 11, 26), 13, D(2013, 11, 27), False),  # the day before it
    (D(2026, 11, 26), 18, D(2008, 11, 26), True),
    (D(2026, 11, 26), 18, D(2008, 11, 27), False),
    (D(2026, 2, 28), 18, D(2008, 2, 29), False),  # no 29 February in 2026: the birthday is 1 March
    (D(2026, 3, 1), 18, D(2008, 2, 29), True),
    (D(2025, 2, 28), 13, D(2012, 2, 29), False),
    (D(2025, 3, 1), 13, D(2012, 2, 29), True),
    (D(2028, 2, 29), 20, D(2008, 2, 29), True),  # a leap birthday in a leap year is on the day
    (D(2028, 2, 28), 20, D(2008, 2, 29), False),
    (D(2028, 2, 29), 18, D(2010, 2, 28), True),  # today 29 February, born in a year without one
    (D(2028, 2, 29), 18, D(2010, 3, 1), False),
    (D(2028, 2, 29), 13, D(2015, 3, 1), False),
    (D(2026, 11, 26), 0, D(2026, 11, 26), True),  # minimum age 0: born today is old enough
    (D(2026, 11, 26), 0, D(2026, 11, 27), False),  # as rules.age_on: -1 years old
])
def test_the_boundaries_literally(cast, patients, today, minimum_age, born, of_age):
    patient = Patient.objects.get(practice=cast.practice, date_of_birth=born, chart_number__startswith="E-")
    assert by_the_rules(patient, today, minimum_age) is of_age
    assert Patient.objects.filter(eligible(today, minimum_age), pk=patient.pk).exists() is of_age


def test_an_unknown_date_of_birth_is_not_refused_for_age_but_missing_details_are(cast, patients):
    today = D(2026, 11, 26)
    assert Patient.objects.filter(eligible(today, 21), chart_number="E-nodob").exists()
    assert not Patient.objects.filter(eligible(today, 0), chart_number="E-noemail").exists()


@pytest.mark.parametrize(("today", "minimum_age", "cutoff"), [
    (D(2026, 11, 26), 13, D(2013, 11, 26)),
    (D(2026, 11, 26), 0, D(2026, 11, 26)),
    (D(2028, 2, 29), 18, D(2010, 2, 28)),  # 2010 has no 29 February
    (D(2028, 2, 29), 20, D(2008, 2, 29)),
    (D(2026, 3, 1), 18, D(2008, 3, 1)),
])
def test_the_cutoff_is_the_last_birth_date_old_enough(today, minimum_age, cutoff):
    assert latest_birth_date(today, minimum_age) == cutoff
    assert rules.age_on(today, cutoff) == minimum_age
    assert rules.age_on(today, cutoff + datetime.timedelta(days=1)) < minimum_age


def test_given_the_practices_age_the_query_compares_a_date_and_joins_nothing(cast):
    # The point of eligible(today, minimum_age): no arithmetic per patient and no join to the
    # practice, so a list of 100,000 patients is filtered at the speed of a plain column comparison.
    sql = str(Patient.objects.filter(eligible(D(2026, 11, 26), 13)).query).lower()
    # Only a patient without an email reaches the two subqueries by key of "invited by text"
    # (access.eligibility.REACHABLE): the practice's setting and the number's latest consent step.
    outside_subqueries = re.sub(r"\(select .*? limit 1\)", "", sql.split("where", 1)[1])
    assert "practice" not in outside_subqueries
    assert "join" not in sql
    assert "2013-11-26" in sql
    assert "extract" not in sql and "django_date" not in sql


@pytest.mark.parametrize(("moment", "minimum_age"), [
    (datetime.datetime(2026, 11, 26, 17, 0, tzinfo=datetime.UTC), 13),
    (datetime.datetime(2026, 11, 27, 4, 0, tzinfo=datetime.UTC), 13),  # still the 26th in New York
    (datetime.datetime(2026, 3, 1, 17, 0, tzinfo=datetime.UTC), 18),
    (datetime.datetime(2026, 3, 1, 4, 0, tzinfo=datetime.UTC), 18),  # still 28 February in New York
    (datetime.datetime(2028, 2, 29, 17, 0, tzinfo=datetime.UTC), 18),
    (datetime.datetime(2028, 2, 29, 17, 0, tzinfo=datetime.UTC), 0),
])
def test_the_patient_list_filters_agree_with_the_rules(cast, patients, moment, minimum_age):
    """The Not eligible and Not invited filters of the patient list, and the state on each row, on
    the practice's date."""
    cast.practice.minimum_age = minimum_age
    cast.practice.save()
    with time_machine.travel(moment, tick=False):
        today = moment.astimezone(cast.practice.tzinfo).date()
        expected = python_says(cast, today, minimum_age)
        ids = {p.pk for p in Patient.objects.filter(practice=cast.practice)}
        assert {p.pk for p in search_patients(cast.alice, state=PortalState.NOT_INVITED)} == expected
        assert {p.pk for p in search_patients(cast.alice, state=PortalState.NOT_ELIGIBLE)} == ids - expected
        rows = {p.pk: p.portal_state for p in search_patients(cast.alice)}
        assert rows == {pk: PortalState.NOT_INVITED if pk in expected else PortalState.NOT_ELIGIBLE for pk in ids}
        per_patient_practice = with_portal_state(Patient.objects.filter(practice=cast.practice), today=today)
        assert dict(per_patient_practice.values_list("pk", "portal_state")) == rows
