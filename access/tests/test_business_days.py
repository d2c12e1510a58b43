"""The business days of the electronic-access measure's window, at its boundaries (pure: no clock)."""

import datetime

import pytest

from access.business_days import is_business_day, visits_closing_on, window_closes

D = datetime.date
FRI, SAT, SUN, MON = D(2026, 11, 6), D(2026, 11, 7), D(2026, 11, 8), D(2026, 11, 9)


@pytest.mark.parametrize(("visit", "closes"), [
    (MON, D(2026, 11, 13)),                 # Monday -> Friday
    (D(2026, 11, 4), D(2026, 11, 10)),      # Wednesday -> next Tuesday
    (FRI, D(2026, 11, 12)),                 # Friday -> Thursday (the weekend skipped)
    (SAT, D(2026, 11, 12)),                 # a weekend visit: its own day is not counted
    (SUN, D(2026, 11, 12)),
])
def test_it_counts_four_business_days_after_the_visit(visit, closes):
    assert window_closes(visit, set()) == closes


def test_a_holiday_in_between_moves_the_window_a_day():
    assert window_closes(FRI, {MON}) == D(2026, 11, 13)
    assert window_closes(D(2026, 11, 23), {D(2026, 11, 26), D(2026, 11, 27)}) == D(2026, 12, 1)  # Thanksgiving


def test_a_holiday_on_the_visit_day_or_a_weekend_changes_nothing():
    assert window_closes(FRI, {FRI, SAT}) == D(2026, 11, 12)


def test_it_crosses_a_year_end():
    assert window_closes(D(2026, 12, 31), {D(2027, 1, 1)}) == D(2027, 1, 7)


def test_business_days():
    assert is_business_day(FRI, set()) and not is_business_day(SAT, set()) and not is_business_day(MON, {MON})


def test_visits_closing_on_a_day_are_the_inverse():
    assert visits_closing_on(D(2026, 11, 12), set()) == [FRI, SAT, SUN]
    assert visits_closing_on(D(2026, 11, 13), set()) == [MON]
    assert visits_closing_on(D(2026, 11, 13), {MON}) == [FRI, SAT, SUN, MON]
    assert visits_closing_on(SAT, set()) == []
    for close in (D(2026, 11, 10) + datetime.timedelta(days=n) for n in range(30)):
        for visit in visits_closing_on(close, {D(2026, 11, 26)}):
            assert window_closes(visit, {D(2026, 11, 26)}) == close
