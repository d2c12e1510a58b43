"""Times as patients read them: "Wednesday, December 2 at 5:14 PM Eastern", in the active language
("miércoles, 2 de diciembre a las 5:14 p. m., hora del Este").

A moment is shown in the practice's time zone. North American zones get the name people say
("Eastern", whether it is EST or EDT that day); any other zone falls back to the abbreviation its
rules give for that moment (CET, GMT, or an offset like +03). Times stay on the 12-hour clock: it is
how the practice's (US) locale shows them, in either language. Day and month names come from
Django's own catalogs (django.utils.dates), the word order from ours."""

import datetime
import zoneinfo

from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.translation import gettext, gettext_noop, pgettext

# Abbreviation -> the name people use, only for zones in North America: "CST" is also China
# Standard Time, and Cuba's CST/CDT is not US Central time.
_EASTERN, _CENTRAL, _MOUNTAIN = gettext_noop("Eastern"), gettext_noop("Central"), gettext_noop("Mountain")
_PACIFIC, _ALASKA, _HAWAII = gettext_noop("Pacific"), gettext_noop("Alaska"), gettext_noop("Hawaii")
_NORTH_AMERICAN_NAMES = {
    "EST": _EASTERN, "EDT": _EASTERN, "CST": _CENTRAL, "CDT": _CENTRAL, "MST": _MOUNTAIN, "MDT": _MOUNTAIN,
    "PST": _PACIFIC, "PDT": _PACIFIC, "AKST": _ALASKA, "AKDT": _ALASKA, "HST": _HAWAII, "HDT": _HAWAII,
}
_NOT_NORTH_AMERICAN = {"America/Havana"}


def zone_name(local: datetime.datetime) -> str:
    """The friendly name of an aware datetime's zone at that moment, or its abbreviation."""
    abbreviation = local.tzname() or ""
    key = getattr(local.tzinfo, "key", "")
    north_american = key.startswith(("America/", "US/", "Canada/", "Pacific/Honolulu")) and key not in _NOT_NORTH_AMERICAN
    name = _NORTH_AMERICAN_NAMES.get(abbreviation) if north_american else None
    return gettext(name) if name else abbreviation


def human_time(moment: datetime.datetime, time_zone: str, *, now: datetime.datetime | None = None) -> str:
    """"Wednesday, December 2 at 5:14 PM Eastern"; the year is added when it is not this year's."""
    tz = zoneinfo.ZoneInfo(time_zone)
    local = moment.astimezone(tz)
    half = pgettext("time of day", "AM") if local.hour < 12 else pgettext("time of day", "PM")
    clock = f"{local.hour % 12 or 12}:{local:%M} {half}"
    return gettext("%(day)s at %(time)s %(zone)s") % {"day": _day(local, now), "time": clock, "zone": zone_name(local)}


def human_date(moment: datetime.datetime, time_zone: str) -> str:
    """"December 2, 2026": the day in the practice's zone, always with its year."""
    return long_date(moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date())


def long_date(day: datetime.date) -> str:
    """"December 2, 2026" ("2 de diciembre de 2026"): a calendar date, such as a date of birth."""
    return gettext("%(month)s %(day)s, %(year)s") % {"month": MONTHS[day.month], "day": day.day, "year": day.year}


def _day(local: datetime.datetime, now: datetime.datetime | None) -> str:
    this_year = (now or timezone.now()).astimezone(local.tzinfo).year
    parts = {"weekday": WEEKDAYS[local.weekday()], "month": MONTHS[local.month], "day": local.day, "year": local.year}
    if local.year == this_year:
        return gettext("%(weekday)s, %(month)s %(day)s") % parts
    return gettext("%(weekday)s, %(month)s %(day)s, %(year)s") % parts
