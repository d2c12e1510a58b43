"""Times as patients read them: "Wednesday, December 2 at 5:14 PM Eastern".

A moment is shown in the practice's time zone. North American zones get the name people say
("Eastern", whether it is EST or EDT that day); any other zone falls back to the abbreviation its
rules give for that moment (CET, GMT, or an offset like +03)."""

import datetime
import zoneinfo

from django.utils import timezone

# Abbreviation -> the name people use, only for zones in North America: "CST" is also China
# Standard Time, and Cuba's CST/CDT is not US Central time.
_NORTH_AMERICAN_NAMES = {
    "EST": "Eastern", "EDT": "Eastern", "CST": "Central", "CDT": "Central", "MST": "Mountain", "MDT": "Mountain",
    "PST": "Pacific", "PDT": "Pacific", "AKST": "Alaska", "AKDT": "Alaska", "HST": "Hawaii", "HDT": "Hawaii",
}
_NOT_NORTH_AMERICAN = {"America/Havana"}


def zone_name(local: datetime.datetime) -> str:
    """The friendly name of an aware datetime's zone at that moment, or its abbreviation."""
    abbreviation = local.tzname() or ""
    key = getattr(local.tzinfo, "key", "")
    north_american = key.startswith(("America/", "US/", "Canada/", "Pacific/Honolulu")) and key not in _NOT_NORTH_AMERICAN
    return _NORTH_AMERICAN_NAMES.get(abbreviation, abbreviation) if north_american else abbreviation


def human_time(moment: datetime.datetime, time_zone: str, *, now: datetime.datetime | None = None) -> str:
    """"Wednesday, December 2 at 5:14 PM Eastern"; the year is added when it is not this year's."""
    tz = zoneinfo.ZoneInfo(time_zone)
    local = moment.astimezone(tz)
    return f"{_day(local, now)} at {local.hour % 12 or 12}:{local:%M %p} {zone_name(local)}"


def human_date(moment: datetime.datetime, time_zone: str) -> str:
    """"December 2, 2026": the day in the practice's zone, always with its year."""
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    return f"{local:%B} {local.day}, {local.year}"


def _day(local: datetime.datetime, now: datetime.datetime | None) -> str:
    this_year = (now or timezone.now()).astimezone(local.tzinfo).year
    day = f"{local:%A, %B} {local.day}"
    return day if local.year == this_year else f"{day}, {local.year}"
