"""Read the development Mailbox (a Maildir written by `manage.py smtpd`).

Every practice's mail lands in the one folder, so each read takes the addresses the reader may see
and returns only mail whose every recipient is one of them."""

import datetime
import mailbox
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

from django.conf import settings


@dataclass
class CaughtMail:
    key: str
    to: str
    subject: str
    date: datetime.datetime | None  # from the Date header; the pages show it in the practice's time zone
    text: str = ""
    html: str = ""


def caught_mail(*, to: Iterable[str]) -> list[CaughtMail]:
    """The caught mail addressed only to addresses in `to`, newest first."""
    allowed = _folded(to)
    found = [m for m in (_read(key, data) for key, data in _items(_open())) if _addressed_within(m, allowed)]
    return sorted(found, key=lambda m: m.key, reverse=True)


def one(key: str, *, to: Iterable[str]) -> CaughtMail | None:
    """One caught message, or None if there is none by that key or it is addressed outside `to`."""
    try:
        caught = _read(key, _open().get_bytes(key), with_body=True)
    except KeyError:
        return None
    return caught if _addressed_within(caught, _folded(to)) else None


def _folded(addresses: Iterable[str]) -> set[str]:
    return {a.casefold() for a in addresses if a}


def _addressed_within(caught: CaughtMail, allowed: set[str]) -> bool:
    recipients = {address.casefold() for _, address in getaddresses([caught.to]) if address}
    return bool(recipients) and recipients <= allowed


def _open() -> mailbox.Maildir:
    return mailbox.Maildir(str(settings.PORTICO_MAILBOX_DIR), factory=None, create=True)


def _items(box: mailbox.Maildir):
    for key in box.iterkeys():
        yield key, box.get_bytes(key)


def _date(msg) -> datetime.datetime | None:
    """The Date header as an aware datetime; None if it is missing, unreadable or has no zone."""
    header = msg.get("Date")
    moment = getattr(header, "datetime", None)
    return moment if moment is not None and moment.tzinfo is not None else None


def _read(key: str, data: bytes, *, with_body: bool = False) -> CaughtMail:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    caught = CaughtMail(key=key, to=msg.get("X-RcptTo") or msg.get("To", ""), subject=msg.get("Subject", ""),
                        date=_date(msg))
    if with_body:
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        caught.text = text.get_content() if text else ""
        caught.html = html.get_content() if html else ""
    return caught
