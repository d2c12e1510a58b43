"""Business days for the electronic-access measure (PI_PEA_1): pure functions of dates, no clock, no
database. A business day is a Monday to Friday that is not one of the practice's holidays."""

import datetime
from collections.abc import Collection

# The measure's window: access given within this many business days after the visit.
WINDOW = 4


def is_business_day(day: datetime.date, holidays: Collection[datetime.date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def window_closes(visit_day: datetime.date, holidays: Collection[datetime.date], days: int = WINDOW) -> datetime.date:
    """The last day on which access is still timely for a visit on `visit_day`: the `days`-th business
    day AFTER it (the visit's own day is not counted, whatever it is). A visit on Friday closes on
    Thursday; with Monday a holiday, on Friday; a visit on Saturday or Sunday also closes on Thursday."""
    day, counted = visit_day, 0
    while counted < days:
        day += datetime.timedelta(days=1)
        counted += is_business_day(day, holidays)
    return day


def visits_closing_on(closing_day: datetime.date, holidays: Collection[datetime.date],
                      days: int = WINDOW) -> list[datetime.date]:
    """The visit days whose window closes on `closing_day` (none when it is not a business day; a
    Thursday closes Friday's, Saturday's and Sunday's visits, and those of any holidays before them)."""
    if not is_business_day(closing_day, holidays):
        return []
    found, day = [], closing_day - datetime.timedelta(days=1)
    # Every visit day closing on closing_day lies within `days` business days before it, plus the
    # weekends and holidays between: walk back until the windows close earlier.
    while window_closes(day, holidays, days) >= closing_day:
        if window_closes(day, holidays, days) == closing_day:
            found.append(day)
        day -= datetime.timedelta(days=1)
    return sorted(found)
