"""Times as patients read them, from literal moments on either side of daylight-saving changes."""

import datetime

import pytest

from portico.humantime import human_date, human_time

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(("moment", "zone", "expected"), [
    # 22:14 UTC in December is 5:14 PM EST; in July 22:14 UTC is 6:14 PM EDT: both are "Eastern".
    (datetime.datetime(2026, 12, 2, 22, 14, tzinfo=UTC), "America/New_York", "Wednesday, December 2 at 5:14 PM Eastern"),
    (datetime.datetime(2026, 7, 1, 22, 14, tzinfo=UTC), "America/New_York", "Wednesday, July 1 at 6:14 PM Eastern"),
    # The last minute of EDT and the first of EST on 1 November 2026.
    (datetime.datetime(2026, 11, 1, 5, 59, tzinfo=UTC), "America/New_York", "Sunday, November 1 at 1:59 AM Eastern"),
    (datetime.datetime(2026, 11, 1, 6, 0, tzinfo=UTC), "America/New_York", "Sunday, November 1 at 1:00 AM Eastern"),
    (datetime.datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "America/Chicago", "Sunday, March 8 at 5:00 AM Central"),
    (datetime.datetime(2026, 1, 8, 19, 5, tzinfo=UTC), "America/Denver", "Thursday, January 8 at 12:05 PM Mountain"),
    (datetime.datetime(2026, 8, 8, 7, 30, tzinfo=UTC), "America/Los_Angeles", "Saturday, August 8 at 12:30 AM Pacific"),
    (datetime.datetime(2026, 8, 8, 7, 30, tzinfo=UTC), "Pacific/Honolulu", "Friday, August 7 at 9:30 PM Hawaii"),
    # No friendly name: the abbreviation for that moment (CET in winter, CEST in summer).
    (datetime.datetime(2026, 1, 8, 9, 0, tzinfo=UTC), "Europe/Paris", "Thursday, January 8 at 10:00 AM CET"),
    (datetime.datetime(2026, 7, 8, 9, 0, tzinfo=UTC), "Europe/Paris", "Wednesday, July 8 at 11:00 AM CEST"),
    # China's "CST" is not US Central, nor Cuba's.
    (datetime.datetime(2026, 7, 8, 9, 0, tzinfo=UTC), "Asia/Shanghai", "Wednesday, July 8 at 5:00 PM CST"),
    (datetime.datetime(2026, 1, 8, 17, 0, tzinfo=UTC), "America/Havana", "Thursday, January 8 at 12:00 PM CST"),
])
def test_it_names_the_day_time_and_zone(moment, zone, expected):
    assert human_time(moment, zone, now=NOW) == expected


def test_it_adds_the_year_when_it_is_not_this_year():
    moment = datetime.datetime(2027, 1, 1, 14, 0, tzinfo=UTC)
    assert human_time(moment, "America/New_York", now=NOW) == "Friday, January 1, 2027 at 9:00 AM Eastern"
    # This year is the practice's: 2 AM UTC on 1 January is still New Year's Eve in New York.
    new_years_eve = datetime.datetime(2027, 1, 1, 2, 0, tzinfo=UTC)
    assert human_time(new_years_eve, "America/New_York", now=NOW) == "Thursday, December 31 at 9:00 PM Eastern"


def test_it_gives_the_date_in_the_practices_zone_with_its_year():
    assert human_date(datetime.datetime(2027, 1, 1, 2, 0, tzinfo=UTC), "America/New_York") == "December 31, 2026"
