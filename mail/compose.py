"""Render an email from templates by name (mail/<name>-subject.txt, -body.txt and -body.html) and
make its MIME bytes.

The .txt templates wrap themselves in `{% autoescape off %}` (as Django's own password-reset email
does): a subject and a text part are not HTML, so `O'Brien & Sons` must reach them as typed. Only
the HTML part escapes.

The bytes are written here rather than by Django's EmailMessage.message(): that builds every header
through the email package's header registry and tries several transfer encodings per part, which
costs more than sending it (docs/performance.md). Here the shape is always the same
(multipart/alternative, two UTF-8 quoted-printable parts), made with the C quoted-printable encoder.
Each email's templates are looked up once per process.

An email is rendered in the language its outbox row names (`context["language"]`, chosen when it
was queued: the patient's), whatever language the worker itself runs in."""

import binascii
import email.utils
import functools
import secrets
import time
from email.header import Header

from django.conf import settings
from django.core.mail import EmailMessage
from django.template import engines
from django.template.backends.base import BaseEngine
from django.template.backends.django import Template
from django.utils import translation


def make_message(name: str, to: str, context: dict, *, message_id: str) -> "Prebuilt":
    subject_template, text_template, html_template = _templates(engines["django"], name)
    with translation.override(context.get("language") or settings.LANGUAGE_CODE):
        subject = " ".join(subject_template.render(context).split())  # a header is one line
        text, html = text_template.render(context), html_template.render(context)
    header, recipient = _addresses(to)
    sender_header, sender = _sender(settings.DEFAULT_FROM_EMAIL)
    return Prebuilt(_mime(subject, text, html, sender=sender_header, to=header, message_id=message_id), to=to,
                    envelope=(sender, recipient))


@functools.lru_cache(maxsize=64)
def _templates(engine: BaseEngine, name: str) -> tuple[Template, Template, Template]:
    """The three templates of an email, looked up once per process (a worker renders thousands with
    each; render_to_string asks the loaders every time). Keyed on the engine, which Django replaces
    when the TEMPLATES setting changes (in tests)."""
    return tuple(engine.get_template(f"mail/{name}-{part}") for part in ("subject.txt", "body.txt", "body.html"))


def _mime(subject: str, text: str, html: str, *, sender: str, to: str, message_id: str) -> bytes:
    boundary = f"portico-{secrets.token_hex(12)}"
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {_header(subject)}",
        f"Date: {_date(int(time.time()))}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    return b"\r\n".join([
        "\r\n".join(headers).encode("ascii"), b"",
        f"--{boundary}".encode(), _part("plain", text),
        f"--{boundary}".encode(), _part("html", html),
        f"--{boundary}--".encode(), b"",
    ])


@functools.lru_cache(maxsize=1)
def _date(second: int) -> str:
    """The Date header, made once a second rather than once a message."""
    return email.utils.formatdate(second)


def _part(subtype: str, body: str) -> bytes:
    crlf = "\r\n".join(body.splitlines()) + "\r\n"
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            .encode() + binascii.b2a_qp(crlf.encode("utf-8"), istext=True))


def _header(value: str) -> str:
    """ASCII as it is; anything else as an RFC 2047 encoded word (folded)."""
    if value.isascii() and "\r" not in value and "\n" not in value:
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _addresses(value: str) -> tuple[str, str]:
    """(`Name <local@domain>` for a header, `local@domain` for the SMTP envelope), from one parse (~0.1
    ms): the name encoded if need be, the domain in IDNA form (a non-ASCII local part then fails that
    one send)."""
    name, address = email.utils.parseaddr(value)
    if "\n" in value or "\r" in value or "@" not in address:
        raise ValueError(f"not one email address: {value!r}")
    local, _, domain = address.rpartition("@")
    addr_spec = f"{local}@{domain.encode('idna').decode('ascii')}"
    return (email.utils.formataddr((name, addr_spec), charset="utf-8") if name else addr_spec), addr_spec


# The sender is the same for every message: parsed once per setting.
_sender = functools.cache(_addresses)


class Prebuilt(EmailMessage):
    """An email whose bytes are already made: any mail backend sends them as they are."""

    def __init__(self, raw: bytes, *, to: str, envelope: tuple[str, str]):
        super().__init__(from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
        self.raw, self.envelope = raw, envelope

    def message(self, *, policy=None) -> "_Raw":
        return _Raw(self.raw)


class _Raw:
    """What mail backends read from EmailMessage.message(): the bytes (SMTP, console) and the charset."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def as_bytes(self, *args, **kwargs) -> bytes:
        return self.raw

    def get_charset(self):
        return None
