"""Read the development Mailbox (a Maildir written by `manage.py smtpd`).

Every practice's mail lands in the one folder, and one patient's address can be on file at two
practices, so each read takes two scopes from the reader and returns only mail inside both: every
recipient is one of the addresses the reader may see (`to`), and the Portico message it is (by its
Message-ID) is one the reader's practice sent (`sent`). Mail that is not a Portico message is never shown."""

import datetime
import mailbox
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from urllib.parse import urlsplit

from django.conf import settings

# Of these Message pks, the ones the reader's practice sent.
SentBy = Callable[[set[int]], set[int]]



@dataclass
class CaughtMail:
    key: str
    to: str
    subject: str
    date: datetime.datetime | None  # from the Date header; the pages show it in the practice's time zone
    message_pk: int | None = None  # the mail.Message row it was sent from; None if not a Portico message
    text: str = ""
    html: str = ""


def caught_mail(*, to: Iterable[str], sent: SentBy) -> list[CaughtMail]:
    """The caught mail addressed only to addresses in `to` and sent by the reader's practice, newest first."""
    allowed = _folded(to)
    found = [m for m in (_read(key, data) for key, data in _items(_open())) if _addressed_within(m, allowed)]
    ours = sent({m.message_pk for m in found if m.message_pk is not None})
    return sorted((m for m in found if m.message_pk in ours), key=lambda m: m.key, reverse=True)


def one(key: str, *, to: Iterable[str], sent: SentBy) -> CaughtMail | None:
    """One caught message, or None if there is none by that key or it is outside the reader's scopes."""
    try:
        caught = _read(key, _open().get_bytes(key), with_body=True)
    except KeyError:
        return None
    if caught.message_pk is None or not _addressed_within(caught, _folded(to)):
        return None
    return caught if caught.message_pk in sent({caught.message_pk}) else None


def message_pk(message_id: str) -> int | None:
    """The outbox row a Message-ID names, as mail.delivery.message_id writes it: <portico-message-PK@host>,
    the host being this site's (PORTICO_BASE_URL)."""
    host = re.escape(urlsplit(settings.PORTICO_BASE_URL).hostname or "")
    found = re.fullmatch(rf"<portico-message-(\d+)@{host}>", message_id.strip())
    return int(found[1]) if found else None


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
    written = next((value for name, value in msg.raw_items() if name.lower() == "date"), "")
    if moment is not None and moment.tzinfo is None and written.rstrip().endswith("-0000"):
        # RFC 5322 3.3: -0000 is UTC from a sender that does not say its own zone; Python reads it, like
        # no zone at all, as naive. Portico's own mail is dated so (email.utils.formatdate in mail.compose).
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment if moment is not None and moment.tzinfo is not None else None


def _read(key: str, data: bytes, *, with_body: bool = False) -> CaughtMail:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    caught = CaughtMail(key=key, to=msg.get("X-RcptTo") or msg.get("To", ""), subject=msg.get("Subject", ""),
                        date=_date(msg), message_pk=message_pk(msg.get("Message-ID", "")))
    if with_body:
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        caught.text = text.get_content() if text else ""
        caught.html = html.get_content() if html else ""
    return caught
