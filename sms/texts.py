"""The words of every text, in the patient's language (gettext: the sms catalog, usted and the words of
docs/glossary.md). A text names the practice, carries no health information, ends with how to opt out,
and fits in MAX_SEGMENTS: the Spanish wording avoids á í ó ú (outside GSM-7, they would make the whole
text UCS-2, 67 characters a part instead of 153), and a text still too long loses the accents GSM-7
lacks, then has the practice's name (or the list of practices) shortened until it fits."""

import datetime
from collections.abc import Callable

from django.utils import translation
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from sms import segments

MAX_SEGMENTS = 2
# A name is never shortened below this many characters (then the text is refused: TooLong).
SHORTEST_NAME = 12


class TooLong(ValueError):
    """The text would take more than MAX_SEGMENTS segments even with the practice's name shortened."""


def invitation(*, practice: str, link: str, expires: datetime.date, language: str = "en") -> str:
    """"<Practice> invites you to its patient portal: <link> (link expires <day>). Reply STOP to opt out.\""""
    return _fitted(practice, lambda name: _(
        "%(practice)s invites you to its patient portal: %(link)s (link expires %(expires)s). "
        "Reply STOP to opt out.") % {"practice": name, "link": link, "expires": day(expires)}, language)


def reminder(*, practice: str, link: str, expires: datetime.date, language: str = "en") -> str:
    return _fitted(practice, lambda name: _(
        "Reminder: %(practice)s invites you to its patient portal: %(link)s (expires %(expires)s). "
        "Reply STOP to opt out.") % {"practice": name, "link": link, "expires": day(expires)}, language)


def opted_out(*, practices: list[str], language: str = "en") -> str:
    return _fitted(", ".join(practices), lambda names: _(
        "%(practices)s: you will get no more texts from this number. Reply START to get them again.") % {
        "practices": names}, language)


def opted_in(*, practices: list[str], language: str = "en") -> str:
    return _fitted(", ".join(practices), lambda names: _(
        "%(practices)s: you will get texts from this number again. Reply STOP to opt out.") % {
        "practices": names}, language)


def help_reply(*, contacts: list[tuple[str, str]], language: str = "en") -> str:
    """For each practice texting this number: its name and phone."""
    with translation.override(language):
        reach = "; ".join(_("%(practice)s: call %(phone)s") % {"practice": name, "phone": phone} if phone else name
                          for name, phone in contacts)
    return _fitted(reach, lambda said: _("Portal invitations by text. %(reach)s. Reply STOP to opt out.") % {
        "reach": said}, language)


def day(date: datetime.date) -> str:
    """"November 9" ("9 de noviembre"), in the active language: a link lives 30 days at most, so no year."""
    return pgettext("a day in a text", "%(month)s %(day)s") % {"month": MONTHS[date.month], "day": date.day}


def _fitted(words: str, build: Callable[[str], str], language: str) -> str:
    """build(words) in `language` if it fits MAX_SEGMENTS (in UCS-2 too, when short enough); else with
    the accents GSM-7 lacks left off (á -> a); else with `words` (a practice's name, a list of them) in
    GSM-7 alone (what it cannot say, an emoji, left out) and shortened, ending "...", ten characters at
    a time until it fits. The wordings themselves are all GSM-7 (the catalog avoids á í ó ú)."""
    with translation.override(language):
        text = build(words)
        if segments.count(text) <= MAX_SEGMENTS:
            return text
        text = segments.to_gsm7(text)
        if segments.count(text) <= MAX_SEGMENTS:
            return text
        words = segments.gsm7_only(words)
        keep = len(words)
        while True:
            text = build(words if keep == len(words) else words[:keep].rstrip() + "...")
            if segments.count(text) <= MAX_SEGMENTS:
                return text
            if keep <= SHORTEST_NAME:
                raise TooLong(f"{segments.count(text)} segments")
            keep = max(SHORTEST_NAME, keep - 10)
