"""When a text a practice starts (an invitation, a reminder) may go: never between 21:00 and 08:00 at
the practice (the FCC's healthcare exemption; TCPA calling hours are 8 am to 9 pm). A text due then,
first or on a retry, waits for 08:00. Replies to a patient's own text are not held."""

import datetime
import zoneinfo

QUIET_FROM, QUIET_UNTIL = datetime.time(21), datetime.time(8)


def next_allowed(at: datetime.datetime, tz: datetime.tzinfo | str) -> datetime.datetime:
    """`at`, or 08:00 at the practice if `at` falls in 21:00-07:59 there (`tz`: a zone or its name)."""
    tz = zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz
    local = at.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return at
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, QUIET_UNTIL, tzinfo=tz)
