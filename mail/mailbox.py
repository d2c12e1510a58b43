"""Read the development Mailbox (a Maildir written by `manage.py smtpd`)."""

import mailbox
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from django.conf import settings


@dataclass
class CaughtMail:
    key: str
    to: str
    subject: str
    date: str
    text: str = ""
    html: str = ""


def caught_mail() -> list[CaughtMail]:
    box = _open()
    found = [_read(key, data) for key, data in _items(box)]
    return sorted(found, key=lambda m: m.key, reverse=True)


def one(key: str) -> CaughtMail | None:
    box = _open()
    try:
        return _read(key, box.get_bytes(key), with_body=True)
    except KeyError:
        return None


def _open() -> mailbox.Maildir:
    return mailbox.Maildir(str(settings.PORTICO_MAILBOX_DIR), factory=None, create=True)


def _items(box: mailbox.Maildir):
    for key in box.iterkeys():
        yield key, box.get_bytes(key)


def _read(key: str, data: bytes, *, with_body: bool = False) -> CaughtMail:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    caught = CaughtMail(key=key, to=msg.get("X-RcptTo") or msg.get("To", ""), subject=msg.get("Subject", ""),
                        date=msg.get("Date", ""))
    if with_body:
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        caught.text = text.get_content() if text else ""
        caught.html = html.get_content() if html else ""
    return caught
