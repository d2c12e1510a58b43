"""The SMS provider: Twilio's Messages REST API (SignalWire and others speak the same), through the
official `twilio` library, pointed at PORTICO_SMS_URL (the provider's public API by default, the local
stand-in in development and tests). Configured by PORTICO_SMS_ACCOUNT_SID, PORTICO_SMS_AUTH_TOKEN and
PORTICO_SMS_FROM (a number in E.164, or a Messaging Service sid starting "MG"); without all three,
Portico sends no texts (`enabled()`)."""

from dataclasses import dataclass

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

TIMEOUT_SECONDS = 10


def enabled() -> bool:
    return bool(settings.PORTICO_SMS_ACCOUNT_SID and settings.PORTICO_SMS_AUTH_TOKEN and settings.PORTICO_SMS_FROM)


class Retry(Exception):
    """The provider could not take the text now (a 5xx, a 429, a timeout, no connection): try again later."""


class Refused(Exception):
    """The provider refused the text for good (e.g. 21211, an invalid 'To' number): never retried."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Accepted:
    sid: str
    status: str


def client() -> Client:
    """One client per batch: its HTTP session keeps the connection open between texts."""
    api = Client(settings.PORTICO_SMS_ACCOUNT_SID, settings.PORTICO_SMS_AUTH_TOKEN,
                 http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
    # The library's Api domain is fixed to the provider's public host; the stand-in (and compatible
    # providers) take the same paths under another base.
    api.api.base_url = settings.PORTICO_SMS_URL
    return api


def send(api: Client, *, to: str, body: str) -> Accepted:
    """POST {base}/2010-04-01/Accounts/{sid}/Messages.json. Raises Retry or Refused."""
    sender = settings.PORTICO_SMS_FROM
    origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
    try:
        message = api.messages.create(to=to, body=body, status_callback=callback_url("sms:status"), **origin)
    except TwilioRestException as e:
        if e.status == 429 or e.status >= 500:
            raise Retry(f"HTTP {e.status}: {e.msg}") from e
        raise Refused(str(e.code or e.status), str(e.msg)[:250]) from e
    except requests.RequestException as e:  # a timeout, a refused or dropped connection
        raise Retry(f"{type(e).__name__}: {e}") from e
    return Accepted(sid=message.sid, status=message.status)


def callback_url(name: str) -> str:
    """The full URL the provider calls, and signs: under PORTICO_BASE_URL, never the request's Host."""
    return settings.PORTICO_BASE_URL + reverse(name)


def signed(url: str, params: dict[str, str], signature: str) -> bool:
    """Whether X-Twilio-Signature is the HMAC-SHA1 of the URL and the sorted form parameters, keyed
    with the auth token (the library's validator, compared in constant time)."""
    token = settings.PORTICO_SMS_AUTH_TOKEN
    return bool(token and signature) and RequestValidator(token).validate(url, params, signature)
