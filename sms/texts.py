"""The words of every text, through gettext so other languages can be added (each builder takes the
patient's language). A text names the practice, carries no health information, and ends with how to
opt out; an invitation fits in MAX_SEGMENTS (the practice's name is shortened if it must be)."""

from django.utils import translation
from django.utils.translation import gettext as _

from sms import segments

MAX_SEGMENTS = 2


class TooLong(ValueError):
    """The text would take more than MAX_SEGMENTS segments even with the practice's name shortened."""


def invitation(*, practice: str, link: str, expires: str, language: str = "en") -> str:
    """"<Practice> invites you to its patient portal: <link> (expires <when>). Reply STOP to opt out.\""""
    return _fitted(practice, lambda name: _(
        "%(practice)s invites you to its patient portal: %(link)s (link expires %(expires)s). "
        "Reply STOP to opt out.") % {"practice": name, "link": link, "expires": expires}, language)


def reminder(*, practice: str, link: str, expires: str, language: str = "en") -> str:
    return _fitted(practice, lambda name: _(
        "Reminder: %(practice)s invites you to its patient portal: %(link)s (expires %(expires)s). "
        "Reply STOP to opt out.") % {"practice": name, "link": link, "expires": expires}, language)


def opted_out(*, practices: list[str], language: str = "en") -> str:
    with translation.override(language):
        return _("%(practices)s: you will get no more texts from this number. Reply START to get them again.") % {
            "practices": _names(practices)}


def opted_in(*, practices: list[str], language: str = "en") -> str:
    with translation.override(language):
        return _("%(practices)s: you will get texts from this number again. Reply STOP to opt out.") % {
            "practices": _names(practices)}


def help_reply(*, contacts: list[tuple[str, str]], language: str = "en") -> str:
    """For each practice texting this number: its name and phone."""
    with translation.override(language):
        reach = "; ".join(_("%(practice)s: call %(phone)s") % {"practice": name, "phone": phone} if phone else name
                          for name, phone in contacts)
        return _("Portal invitations by text. %(reach)s. Reply STOP to opt out.") % {"reach": reach}


def _names(practices: list[str]) -> str:
    return ", ".join(practices)[:120]


def _fitted(practice: str, build, language: str) -> str:
    """The text as written if it fits MAX_SEGMENTS; else with accents GSM-7 lacks left off (á -> a:
    a UCS-2 segment holds less than half as much); else with the practice's name shortened too (with
    "...", which stays in GSM-7) until it fits."""
    with translation.override(language):
        keep = len(practice)
        while True:
            name = practice if keep == len(practice) else practice[:keep].rstrip() + "..."
            text = build(name)
            if segments.count(text) <= MAX_SEGMENTS:
                return text
            text = segments.to_gsm7(text)
            if segments.count(text) <= MAX_SEGMENTS:
                return text
            if keep <= 12:
                raise TooLong(f"{segments.count(text)} segments")
            keep = max(12, keep - 10)
