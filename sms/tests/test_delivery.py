"""Texts go out through the provider's API (the loopback stand-in), once each."""

import datetime
import zoneinfo
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from sms import delivery, provider
from sms.models import TextMessage
from sms.signals import text_failed
from sms.tests.helpers import queue_text

Status = TextMessage.Status
pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=datetime.UTC)


def test_it_sends_a_queued_text_through_the_provider_and_wipes_its_body(sms_provider):
    text = queue_text(body="Maple Street Clinic invites you")

    assert delivery.deliver_due(worker="w1") == 1

    [posted] = sms_provider.texts
    assert (posted["to"], posted["from"], posted["body"]) == ("+15555550123", "+15005550006",
                                                                "Maple Street Clinic invites you")
    text.refresh_from_db()
    assert (text.status, text.provider_sid, text.body, text.attempts) == (Status.ACCEPTED, posted["sid"], "", 1)


def test_it_uses_a_messaging_service_when_the_sender_is_one(sms_provider, settings):
    settings.PORTICO_SMS_FROM = "MG" + "1" * 32
    queue_text()

    delivery.deliver_due(worker="w1")

    assert sms_provider.texts[0]["messaging_service_sid"] == "MG" + "1" * 32
    assert sms_provider.texts[0]["from"] is None


def test_without_sms_settings_nothing_is_sent(sms_provider, settings):
    settings.PORTICO_SMS_AUTH_TOKEN = ""
    text = queue_text()

    assert delivery.deliver_due(worker="w1") == 0

    assert sms_provider.requests == 0
    text.refresh_from_db()
    assert text.status == Status.QUEUED


def test_a_5xx_then_success_sends_one_text(sms_provider):
    sms_provider.fail_next = [503]
    with time_machine.travel(T0, tick=False):
        text = queue_text()
        delivery.deliver_due(worker="w1")
    text.refresh_from_db()
    assert (text.status, text.attempts, text.next_attempt_at) == (Status.QUEUED, 1, T0 + datetime.timedelta(seconds=30))
    assert "503" in text.last_error and sms_provider.texts == []

    with time_machine.travel(T0 + datetime.timedelta(seconds=29), tick=False):
        assert delivery.deliver_due(worker="w1") == 0  # not due yet
    with time_machine.travel(T0 + datetime.timedelta(seconds=30), tick=False):
        delivery.deliver_due(worker="w1")

    text.refresh_from_db()
    assert (text.status, text.attempts) == (Status.ACCEPTED, 2)
    assert len(sms_provider.texts) == 1 and sms_provider.requests == 2


def test_a_timeout_is_retried(sms_provider, monkeypatch):
    monkeypatch.setattr(provider, "TIMEOUT_SECONDS", 0.3)
    sms_provider.stall_next, sms_provider.stall_seconds = 1, 1.0
    text = queue_text()

    delivery.deliver_due(worker="w1")

    text.refresh_from_db()
    assert (text.status, text.attempts) == (Status.QUEUED, 1)
    assert "Timeout" in text.last_error


def test_out_of_tries_it_fails_and_tells(sms_provider):
    told = mock.Mock()
    text_failed.connect(told)
    try:
        text = queue_text()
        TextMessage.objects.filter(pk=text.pk).update(attempts=7)  # the shared schedule's 8th try is its last
        sms_provider.fail_next = [500]
        delivery.deliver_due(worker="w1")
    finally:
        text_failed.disconnect(told)
    text.refresh_from_db()
    assert (text.status, text.attempts, text.body) == (Status.FAILED, 8, "")
    assert told.call_count == 1


@pytest.mark.parametrize(("number", "code"), [("+15005550001", "21211"), ("+15005550009", "21614"), ("555-0123", "21211")])
def test_a_refused_number_fails_at_once_without_retry(sms_provider, number, code):
    told = mock.Mock()
    text_failed.connect(told)
    try:
        with time_machine.travel(T0, tick=False):
            text = queue_text(number)
            delivery.deliver_due(worker="w1")
        with time_machine.travel(T0 + datetime.timedelta(days=1), tick=False):
            delivery.deliver_due(worker="w1")
    finally:
        text_failed.disconnect(told)

    text.refresh_from_db()
    assert (text.status, text.error_code, text.attempts, text.body) == (Status.FAILED, code, 1, "")
    assert sms_provider.requests == 1 and told.call_count == 1


def test_wrong_credentials_are_not_a_text_sent(sms_provider, settings):
    settings.PORTICO_SMS_AUTH_TOKEN = "not-the-token"
    text = queue_text()

    delivery.deliver_due(worker="w1")

    text.refresh_from_db()
    assert (text.status, text.error_code) == (Status.FAILED, "20003")
    assert sms_provider.texts == []


class Killed(BaseException):
    """The worker dies (SIGKILL): nothing after this point runs."""


def test_a_killed_worker_resends_at_most_the_text_it_had_not_recorded(sms_provider):
    with time_machine.travel(T0, tick=False):
        texts = [queue_text(f"+1555555010{i}") for i in range(4)]
    real_send, calls = provider.send, []

    def dies_after_the_second_is_accepted(api, **kwargs):
        accepted = real_send(api, **kwargs)
        calls.append(kwargs["to"])
        if len(calls) == 2:
            raise Killed
        return accepted

    with time_machine.travel(T0, tick=False), mock.patch.object(provider, "send", dies_after_the_second_is_accepted):
        with pytest.raises(Killed):
            delivery.deliver_due(worker="w1")
    with time_machine.travel(T0 + datetime.timedelta(seconds=299), tick=False):
        assert delivery.deliver_due(worker="w2") == 0  # the lease still holds
    with time_machine.travel(T0 + datetime.timedelta(seconds=300), tick=False):
        delivery.deliver_due(worker="w2")

    sent_to = [t["to"] for t in sms_provider.texts]
    assert sorted(sent_to) == sorted(["+15555550100", "+15555550101", "+15555550101", "+15555550102",
                                      "+15555550103"])  # only the accepted-but-unrecorded one twice
    assert {t.status for t in TextMessage.objects.filter(pk__in=[t.pk for t in texts])} == {Status.ACCEPTED}


def test_a_lost_lease_records_nothing_twice(sms_provider):
    text = queue_text()
    claimed_at, [claimed] = delivery.outbox.claim(TextMessage, 1, "w1", lease=delivery.lease())
    TextMessage.objects.filter(pk=text.pk).update(claimed_by="w2", claimed_at=timezone.now())

    delivery._failed_try(claimed, "HTTP 500", "w1", claimed_at)

    text.refresh_from_db()
    assert (text.status, text.claimed_by) == (Status.SENDING, "w2")


# --- quiet hours at the practice, again on every try ------------------------------------------------

NEW_YORK = "America/New_York"  # November: UTC-5


def new_york(day: int, hour: int, minute: int, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, hour, minute, second, tzinfo=zoneinfo.ZoneInfo(NEW_YORK))


def failed_once_at(sms_provider, at: datetime.datetime) -> TextMessage:
    """A practice's text (quiet hours in New York) whose first try, at `at`, got a 503: retried 30 s later."""
    sms_provider.fail_next = [503]
    with time_machine.travel(at, tick=False):
        text = queue_text(quiet_hours_zone=NEW_YORK)
        delivery.deliver_due(worker="w1")
    text.refresh_from_db()
    return text


def test_a_retry_due_before_nine_pm_keeps_its_time(sms_provider):
    text = failed_once_at(sms_provider, new_york(2, 20, 59, 29))

    assert (text.status, text.attempts, text.next_attempt_at) == (Status.QUEUED, 1, new_york(2, 20, 59, 59))


def test_a_retry_falling_at_nine_pm_waits_until_eight_am(sms_provider):
    text = failed_once_at(sms_provider, new_york(2, 20, 59, 30))

    assert (text.status, text.attempts, text.next_attempt_at) == (Status.QUEUED, 1, new_york(3, 8, 0))
    with time_machine.travel(new_york(3, 7, 59, 59), tick=False):
        assert delivery.deliver_due(worker="w1") == 0
    with time_machine.travel(new_york(3, 8, 0), tick=False):
        assert delivery.deliver_due(worker="w1") == 1
    text.refresh_from_db()
    assert (text.status, text.attempts) == (Status.ACCEPTED, 2)
    assert len(sms_provider.texts) == 1


def test_a_reply_to_the_patient_is_not_held_at_night(sms_provider):
    text = queue_text(at=new_york(2, 20, 59, 30))  # a STOP confirmation: no zone
    sms_provider.fail_next = [503]
    with time_machine.travel(new_york(2, 20, 59, 30), tick=False):
        delivery.deliver_due(worker="w1")

    text.refresh_from_db()
    assert text.next_attempt_at == new_york(2, 21, 0)


@pytest.mark.parametrize(("claimed", "sent"), [((2, 20, 59, 59), True), ((2, 21, 0, 0), False),
                                                ((3, 7, 59, 59), False), ((3, 8, 0, 0), True)])
def test_a_text_a_worker_reaches_in_the_night_is_given_back_until_eight_untried(sms_provider, claimed, sent):
    """A worker behind (or a text due just before nine) must not send at night: held, the try not counted."""
    text = queue_text(quiet_hours_zone=NEW_YORK, at=new_york(2, 20, 59, 59))

    with time_machine.travel(new_york(*claimed), tick=False):
        delivery.deliver_due(worker="w1")

    text.refresh_from_db()
    if sent:
        assert (text.status, text.attempts, len(sms_provider.texts)) == (Status.ACCEPTED, 1, 1)
    else:
        assert (text.status, text.attempts, text.next_attempt_at) == (Status.QUEUED, 0, new_york(3, 8, 0))
        assert sms_provider.requests == 0


# --- a status callback before the worker recorded the sid ------------------------------------------

def test_a_status_that_comes_before_the_sid_is_recorded_is_applied_once_it_is(sms_provider):
    from sms import callbacks
    from sms.models import EarlyStatus
    from sms.signals import text_delivered

    text, told, real_send = queue_text(), mock.Mock(), provider.send

    def provider_calls_back_at_once(api, **kwargs):
        accepted = real_send(api, **kwargs)
        # The provider's callbacks, between its answer and the worker's commit: no text has the sid yet.
        assert callbacks.record_status(accepted.sid, "sent") is False
        assert callbacks.record_status(accepted.sid, "delivered") is False
        assert callbacks.record_status(accepted.sid, "delivered") is False  # a repeat
        assert EarlyStatus.objects.count() == 2
        return accepted

    text_delivered.connect(told)
    try:
        with mock.patch.object(provider, "send", provider_calls_back_at_once):
            delivery.deliver_due(worker="w1")
        assert callbacks.record_status(sms_provider.texts[0]["sid"], "delivered") is False  # after: nothing twice
    finally:
        text_delivered.disconnect(told)

    text.refresh_from_db()
    assert (text.status, text.body) == (Status.DELIVERED, "") and text.finished_at is not None
    assert told.call_count == 1
    assert not EarlyStatus.objects.exists()


def test_an_early_status_left_by_a_race_is_applied_by_the_next_round(sms_provider, client):
    """The callback's row committed just after the worker looked: the next round finds it."""
    from sms import callbacks
    from sms.models import EarlyStatus

    sid = "SM" + "c" * 32
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    url = "https://portal.example.test/sms/status/"
    assert client.post("/sms/status/", params, HTTP_X_TWILIO_SIGNATURE=sms_provider.signature(url, params)).status_code == 204
    assert EarlyStatus.objects.get().status == "undelivered"
    text = queue_text(status=Status.ACCEPTED, provider_sid=sid, body="")

    delivery.deliver_due(worker="w1")

    text.refresh_from_db()
    assert (text.status, text.error_code) == (Status.UNDELIVERED, "30003")
    assert not EarlyStatus.objects.exists()
    assert callbacks.apply_early_statuses() == 0


def test_an_early_status_no_text_ever_claims_is_dropped_after_two_days(sms_provider):
    from sms import callbacks
    from sms.models import EarlyStatus

    with time_machine.travel(T0, tick=False):
        callbacks.record_status("SM" + "d" * 32, "delivered")
    with time_machine.travel(T0 + datetime.timedelta(days=2), tick=False):
        callbacks.apply_early_statuses()
        assert EarlyStatus.objects.count() == 1
    with time_machine.travel(T0 + datetime.timedelta(days=2, seconds=1), tick=False):
        callbacks.apply_early_statuses()
        assert not EarlyStatus.objects.exists()
