"""The rules of texting patients, over facts alone (no database): what a reply asks for, when a text
may go (quiet hours) and how many a number may get (caps). Under the FCC's 2015 healthcare exemption a
practice may text only the number the patient gave, at most one text a day and three a week; since
April 2025 an opt-out in any reasonable words must be honoured."""

import datetime
import enum
import unicodedata

from sms import quiet_hours

MAX_PER_DAY, MAX_PER_WEEK = 1, 3
DAY, WEEK = datetime.timedelta(days=1), datetime.timedelta(days=7)


class Reply(enum.Enum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    OTHER = "other"


# Each keyword as it is compared: case folded, letters only (so "Opt-out", "OPT OUT" and "optout" are one).
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "stopplease",
              "pleasestop", "unsub", "stoptexting", "stopmessages", "stopmessaging",
              # Spanish, for the patients texted in Spanish: reasonable words they may answer with.
              "alto", "pare", "parar", "baja", "cancelar", "detener"}
START_WORDS = {"start", "unstop"}
HELP_WORDS = {"help", "info", "ayuda"}


def classify(body: str) -> Reply:
    """What a patient's text asks, when a keyword stands alone in it: any case, any spacing, hyphens,
    punctuation or emoji around it ("Stop.", " STOP ALL ", "opt-out", "Cancel!!"). A keyword inside a
    sentence ("don't stop my reminders") is not an opt-out."""
    letters = "".join(ch for ch in unicodedata.normalize("NFKC", body).casefold() if ch.isalpha())
    if letters in STOP_WORDS:
        return Reply.STOP
    if letters in START_WORDS:
        return Reply.START
    if letters in HELP_WORDS:
        return Reply.HELP
    return Reply.OTHER


# Never between 21:00 and 08:00 at the practice: a text due then waits for 08:00 (sms applies the same
# rule again to a retry, so it lives there).
send_at = quiet_hours.next_allowed


def over_cap(recent: list[datetime.datetime], now: datetime.datetime) -> str:
    """Why another text to a number that got texts at `recent` may not go now (empty: it may)."""
    if sum(at > now - DAY for at in recent) >= MAX_PER_DAY:
        return f"at most {MAX_PER_DAY} text a day to a number"
    if sum(at > now - WEEK for at in recent) >= MAX_PER_WEEK:
        return f"at most {MAX_PER_WEEK} texts a week to a number"
    return ""
