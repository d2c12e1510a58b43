"""The provider's callbacks: refused unless signed, and a repeat changes nothing."""

from unittest import mock

import pytest

from sms import provider
from sms.callbacks import EMPTY_TWIML
from sms.models import InboundText, TextMessage
from sms.signals import text_delivered, text_failed, text_received
from sms.tests.helpers import queue_text

pytestmark = pytest.mark.django_db
STATUS_URL = "https://portal.example.test/sms/status/"
INBOUND_URL = "https://portal.example.test/sms/inbound/"


def test_signature_verification_matches_the_providers_published_example(settings):
    # The provider's security documentation: auth token 12345, this URL and these parameters.
    settings.PORTICO_SMS_AUTH_TOKEN = "12345"
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030",
              "To": "+18005551212"}

    assert provider.signed(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not provider.signed(url, {**params, "Digits": "1235"}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not provider.signed("https://mycompany.com/myapp.php?foo=1&bar=3", params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    settings.PORTICO_SMS_AUTH_TOKEN = "12346"
    assert not provider.signed(url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def accepted_text(sid="SM" + "a" * 32) -> TextMessage:
    return queue_text(status=TextMessage.Status.ACCEPTED, provider_sid=sid, body="")


def post(client, standin, url, params, *, signature=None):
    signature = standin.signature(url, params) if signature is None else signature
    return client.post(url.removeprefix("https://portal.example.test"), params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.parametrize("signature", ["", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="])
def test_an_unsigned_or_wrongly_signed_status_is_refused_and_changes_nothing(client, sms_provider, signature):
    text = accepted_text()

    answer = post(client, sms_provider, STATUS_URL, {"MessageSid": text.provider_sid, "MessageStatus": "delivered"},
                  signature=signature)

    assert answer.status_code == 403
    text.refresh_from_db()
    assert text.status == TextMessage.Status.ACCEPTED


def test_a_signature_over_other_parameters_is_refused(client, sms_provider):
    text = accepted_text()
    params = {"MessageSid": text.provider_sid, "MessageStatus": "delivered"}
    signature = sms_provider.signature(STATUS_URL, {**params, "MessageStatus": "sent"})

    assert post(client, sms_provider, STATUS_URL, params, signature=signature).status_code == 403


def test_delivered_is_recorded_once_however_often_it_is_reported(client, sms_provider):
    text, told = accepted_text(), mock.Mock()
    text_delivered.connect(told)
    try:
        for status in ("sent", "delivered", "delivered", "sent"):
            answer = post(client, sms_provider, STATUS_URL, {"MessageSid": text.provider_sid, "MessageStatus": status})
            assert answer.status_code == 204
    finally:
        text_delivered.disconnect(told)

    text.refresh_from_db()
    assert text.status == TextMessage.Status.DELIVERED and text.finished_at is not None
    assert told.call_count == 1


def test_undelivered_tells_once_with_the_error_code(client, sms_provider):
    text, told = accepted_text(), mock.Mock()
    text_failed.connect(told)
    try:
        params = {"MessageSid": text.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
        post(client, sms_provider, STATUS_URL, params)
        post(client, sms_provider, STATUS_URL, params)
        post(client, sms_provider, STATUS_URL, {"MessageSid": text.provider_sid, "MessageStatus": "delivered"})
    finally:
        text_failed.disconnect(told)

    text.refresh_from_db()
    assert (text.status, text.error_code) == (TextMessage.Status.UNDELIVERED, "30003")
    assert told.call_count == 1


def test_an_inbound_text_is_kept_and_told_once(client, sms_provider):
    told = mock.Mock()
    text_received.connect(told)
    params = {"MessageSid": "SM" + "b" * 32, "From": "+15555550123", "To": "+15005550006", "Body": "STOP"}
    try:
        first = post(client, sms_provider, INBOUND_URL, params)
        second = post(client, sms_provider, INBOUND_URL, params)
    finally:
        text_received.disconnect(told)

    assert first.status_code == second.status_code == 200
    assert first.content.decode() == EMPTY_TWIML and first["Content-Type"] == "text/xml"
    assert InboundText.objects.get().body == "STOP"
    assert told.call_count == 1


def test_an_unsigned_inbound_text_is_refused(client, sms_provider):
    params = {"MessageSid": "SM" + "b" * 32, "From": "+15555550123", "To": "+15005550006", "Body": "STOP"}

    assert post(client, sms_provider, INBOUND_URL, params, signature="forged").status_code == 403
    assert not InboundText.objects.exists()


def test_without_sms_settings_every_callback_is_refused(client, sms_provider, settings):
    params = {"MessageSid": "SM" + "b" * 32, "From": "+15555550123", "To": "+15005550006", "Body": "STOP"}
    signature = sms_provider.signature(INBOUND_URL, params)
    settings.PORTICO_SMS_AUTH_TOKEN = ""

    assert post(client, sms_provider, INBOUND_URL, params, signature=signature).status_code == 403


def test_a_get_is_not_allowed(client):
    assert client.get("/sms/status/").status_code == 405
