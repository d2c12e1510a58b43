"""Webhooks: the outbox rows written with the events, signed delivery to a real receiver on loopback,
retries with backoff, the lease, the attempt cap, and practice isolation."""

import datetime
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from access.models import AccessEvent
from access.tests.helpers import connect, send
from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from clinic.models import Patient
from conftest import at_once, postgres_only

NOW = datetime.datetime(2026, 11, 26, 14, 0, tzinfo=datetime.UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_verify():
    """The `verify` function exactly as docs/api.md gives it to receivers."""
    [snippet] = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    namespace = {}
    exec(snippet, namespace)  # noqa: S102 (our own documentation, tested as written)
    return namespace["verify"]


class Receiver:
    """A real HTTP server on loopback that answers with the given statuses in turn (then 200)."""

    def __init__(self, statuses=()):
        self.statuses, self.requests = list(statuses), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("Location", outer.url + "/moved")  # read only with a 3xx
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # a followed redirect would arrive here

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/portico-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def event_ids(self) -> list[str]:
        return [json.loads(body)["id"] for _, body in self.requests]


@pytest.fixture
def receiver(settings):
    # The receiver listens on loopback: both development escape hatches are on.
    settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = True
    made = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()
        r.server.server_close()


def endpoint_for(practice, url, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(practice=practice, url=url, secret="whsec_test-secret",
                                          created_at=timezone.now(), **fields)


def test_an_invitation_reaches_the_receiver_signed_as_documented(cast, receiver):
    r = receiver()
    endpoint = endpoint_for(cast.practice, r.url)
    sent = send(cast)
    assert webhooks.deliver_due(worker="w1") == 1
    [(headers, body)] = r.requests
    event = json.loads(body)
    assert event == {"id": headers["Portico-Event-Id"], "type": "portal_access.invited",
                     "occurred_at": event["occurred_at"], "practice": cast.practice.pk, "patient": cast.pat.pk,
                     "invitation": sent.invitation.pk}
    verify = documented_verify()
    assert verify(endpoint.secret, headers["Portico-Signature"], body)
    assert not verify("whsec_another-secret", headers["Portico-Signature"], body)
    assert not verify(endpoint.secret, headers["Portico-Signature"], body.replace(b"invited", b"revoked"))
    # never the token, the email or the SSN
    assert sent.token not in body.decode() and cast.pat.email not in body.decode() and "6789" not in body.decode()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)


def test_a_printed_invitation_is_an_invitation_to_the_receiver(cast):
    printed = AccessEvent(action=AccessEvent.Action.INVITATION_PRINTED)
    assert webhooks.event_type(printed) == "portal_access.invited"


def test_the_documented_recipe_refuses_a_signature_older_than_five_minutes():
    verify, body, t = documented_verify(), b'{"id":"x"}', 1_800_000_000
    header = f"t={t},v1={webhooks.signature('s', t, body)}"
    assert verify("s", header, body, now=t + 300)
    assert not verify("s", header, body, now=t + 301)
    assert not verify("s", "v1=abc", body, now=t)  # no timestamp


def test_each_access_change_is_one_event_of_its_type(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    connect(cast)  # invited, then accepted (identity and account events are not sent)
    webhooks.deliver_due(worker="w1")
    assert [json.loads(body)["type"] for _, body in r.requests] == ["portal_access.invited", "portal_access.accepted"]
    assert len(set(r.event_ids())) == 2


def test_only_reminders_among_reissued_links_are_sent():
    reminder = AccessEvent(action=AccessEvent.Action.LINK_REISSUED, reason=webhooks.REMINDER_REASON)
    other = AccessEvent(action=AccessEvent.Action.LINK_REISSUED, reason="Reissued by staff")
    assert webhooks.event_type(reminder) == "portal_access.reminded" and webhooks.event_type(other) is None


def test_an_event_rolled_back_is_never_sent(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        send(cast)
        raise RuntimeError("the writer fails after the event")
    assert WebhookDelivery.objects.count() == 0
    assert webhooks.deliver_due(worker="w1") == 0 and r.requests == []


def test_a_failed_try_is_retried_after_the_backoff(cast, receiver):
    r = receiver([500])
    endpoint_for(cast.practice, r.url)
    with time_machine.travel(NOW, tick=False):
        send(cast)
        assert webhooks.deliver_due(worker="w1") == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("queued", 1, 500)
    assert "500" in delivery.last_error
    with time_machine.travel(NOW + datetime.timedelta(seconds=29), tick=False):
        assert webhooks.deliver_due(worker="w1") == 0
    with time_machine.travel(NOW + datetime.timedelta(seconds=30), tick=False):
        assert webhooks.deliver_due(worker="w1") == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 2, "")
    assert len(r.requests) == 2 and len(set(r.event_ids())) == 1  # the same event id both times


def test_the_backoff_doubles_and_the_eighth_failure_is_final(cast, receiver):
    r = receiver([500] * 20)
    endpoint_for(cast.practice, r.url)
    at = NOW
    with time_machine.travel(at, tick=False):
        send(cast)
    waits = []
    for _ in range(8):
        with time_machine.travel(at, tick=False):
            assert webhooks.deliver_due(worker="w1") == 1
        delivery = WebhookDelivery.objects.get()
        waits.append(round((delivery.next_attempt_at - at).total_seconds()))
        at = delivery.next_attempt_at
    assert waits[:7] == [30, 60, 120, 240, 480, 960, 1920]
    assert (delivery.status, delivery.attempts) == ("failed", 8)
    with time_machine.travel(at + datetime.timedelta(days=1), tick=False):
        assert webhooks.deliver_due(worker="w1") == 0
    assert len(r.requests) == 8


def test_a_redirect_is_a_failure_and_is_not_followed(cast, receiver):
    r = receiver([302])
    endpoint_for(cast.practice, r.url)
    send(cast)
    webhooks.deliver_due(worker="w1")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status) == ("queued", 302)
    assert len(r.requests) == 1  # the Location was not followed


def test_an_unreachable_endpoint_is_a_failed_try(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    r.server.shutdown()
    r.server.server_close()
    send(cast)
    assert webhooks.deliver_due(worker="w1") == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("queued", 1) and delivery.last_error


def test_a_killed_workers_delivery_is_sent_once_after_its_lease(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    with time_machine.travel(NOW, tick=False):
        send(cast)
        # the dead worker claimed it (and maybe even sent it) but never recorded the outcome
        WebhookDelivery.objects.update(status="sending", claimed_by="dead:1", claimed_at=NOW, attempts=1)
    with time_machine.travel(NOW + datetime.timedelta(minutes=4, seconds=59), tick=False):
        assert webhooks.deliver_due(worker="w2") == 0
    with time_machine.travel(NOW + datetime.timedelta(minutes=5), tick=False):
        assert webhooks.deliver_due(worker="w2") == 1
        assert webhooks.deliver_due(worker="w3") == 0  # recorded delivered: never again
    assert len(r.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.claimed_by) == ("delivered", 2, "w2")


def test_a_stale_worker_cannot_record_over_the_new_claim(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    send(cast)
    [claimed] = webhooks._claim(10, "old")
    WebhookDelivery.objects.update(claimed_by="new")  # taken over after the lease
    webhooks._send(claimed, "old")
    assert WebhookDelivery.objects.get().status == "sending"  # left to the new claim


def test_another_practices_events_never_reach_this_endpoint(cast, receiver):
    ours, theirs = receiver(), receiver()
    endpoint_for(cast.practice, ours.url)
    endpoint_for(cast.other_practice, theirs.url)
    send(cast)
    webhooks.deliver_due(worker="w1")
    assert len(ours.requests) == 1 and theirs.requests == []
    assert WebhookDelivery.objects.get().endpoint.practice == cast.practice


def test_a_disabled_endpoint_gets_nothing(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url, enabled=False)
    send(cast)
    assert WebhookDelivery.objects.count() == 0
    assert webhooks.deliver_due(worker="w1") == 0 and r.requests == []


def test_an_endpoint_disabled_after_queueing_is_not_sent_what_was_queued(cast, receiver):
    r = receiver()
    endpoint = endpoint_for(cast.practice, r.url)
    send(cast)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    webhooks.deliver_due(worker="w1")
    assert r.requests == []
    assert WebhookDelivery.objects.values_list("status", "last_error").get() == ("failed", "Endpoint disabled")


def test_set_enabled_sets_the_state_asked_for_and_says_if_it_changed(cast, receiver):
    r = receiver()
    endpoint = endpoint_for(cast.practice, r.url)
    assert webhooks.set_enabled(endpoint, False) is True
    assert webhooks.set_enabled(endpoint, False) is False  # asked twice: still off, not flipped back
    assert not endpoint.enabled and not WebhookEndpoint.objects.get().enabled
    send(cast)
    assert WebhookDelivery.objects.count() == 0  # a disabled endpoint is queued nothing
    assert webhooks.set_enabled(endpoint, True) is True
    send(cast, Patient.objects.create(
        practice=cast.practice, doctor=cast.dora, chart_number="E-1", first_name="E", last_name="Nabled",
        email="e1@example.test", ssn="555009999", date_of_birth=datetime.date(1980, 1, 1)))
    assert webhooks.deliver_due(worker="w1") == 1 and len(r.requests) == 1


def test_delete_endpoint_takes_its_deliveries_with_it(cast, receiver):
    r = receiver()
    endpoint = endpoint_for(cast.practice, r.url)
    send(cast)
    webhooks.delete_endpoint(endpoint)
    assert WebhookEndpoint.objects.count() == 0 and WebhookDelivery.objects.count() == 0
    assert webhooks.deliver_due(worker="w1") == 0 and r.requests == []


@pytest.mark.django_db(transaction=True)
def test_the_worker_round_delivers_webhooks(cast, receiver, smtp_server):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    send(cast)
    call_command("worker", once=True)
    assert len(r.requests) == 1


@pytest.mark.parametrize("url", [
    "https://ehr.example.test/hooks", "http://127.0.0.1:8080/h", "http://[::1]/h", "http://localhost/h",
])
def test_https_and_loopback_http_are_accepted(url, settings):
    settings.DEBUG, settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = False, True
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = True
    webhooks.check_url(url)


@pytest.mark.parametrize("url", ["http://ehr.example.test/hooks", "http://10.0.0.5/h", "http://128.0.0.1/h"])
def test_http_to_another_host_is_refused_with_a_clear_message(url, settings):
    settings.DEBUG, settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = True, True
    with pytest.raises(ValidationError, match="plain http:// is allowed only to this machine"):
        webhooks.check_url(url)


def test_loopback_http_is_refused_outside_development(settings):
    settings.DEBUG, settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = False, False
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = True
    with pytest.raises(ValidationError, match="only in development"):
        webhooks.check_url("http://127.0.0.1:8080/h")
    settings.DEBUG = True
    webhooks.check_url("http://127.0.0.1:8080/h")


def test_a_stored_http_url_is_not_sent_to_once_no_longer_allowed(cast, receiver, settings):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    settings.DEBUG, settings.PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = False, False
    send(cast)
    webhooks.deliver_due(worker="w1")
    assert r.requests == [] and "only in development" in WebhookDelivery.objects.get().last_error


def test_internal_addresses_are_allowed_only_when_settings_say_so():
    from django.conf import settings

    assert settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE is False  # the default: off unless the environment sets it


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/h", "https://127.255.255.254/h", "https://localhost/h",  # a name resolving to loopback
    "https://10.0.0.5/h", "https://172.16.0.0/h", "https://172.31.255.255/h", "https://192.168.1.1/h",
    "https://169.254.169.254/latest/meta-data/",  # a cloud metadata service (link-local)
    "https://0.0.0.0/h", "https://224.0.0.1/h", "https://240.0.0.1/h", "https://100.64.0.1/h",
    "https://[::1]/h", "https://[::]/h", "https://[fe80::1]/h", "https://[fc00::1]/h", "https://[ff02::1]/h",
    "https://[::ffff:127.0.0.1]/h", "https://[::ffff:10.0.0.5]/h",
])
def test_a_url_reaching_an_internal_address_is_refused(url, settings):
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError, match="an internal address"):
        webhooks.check_url(url)


@pytest.mark.parametrize("url", [
    "https://172.15.255.255/h", "https://172.32.0.0/h",  # either side of 172.16.0.0/12
    "https://100.63.255.255/h", "https://8.8.8.8/h", "https://[2606:4700::1111]/h",
    "https://ehr.example.test/h",  # a name that does not resolve (yet): each delivery checks it again
])
def test_public_addresses_are_accepted(url, settings):
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = False
    webhooks.check_url(url)


@pytest.fixture
def resolver(monkeypatch):
    """DNS answers of our choosing for names under example.test (a boundary we do not own): the
    resolver's own shape, one (family, type, proto, canonname, sockaddr) per address, in the order given."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)) if ":" in ip else
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("addresses", [["93.184.215.14", "10.0.0.5"], ["93.184.215.14", "2606:4700::1111", "::1"]])
def test_a_name_resolving_to_a_public_address_and_then_an_internal_one_is_refused(addresses, resolver, settings):
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = False
    resolver["mixed.example.test"] = addresses
    with pytest.raises(ValidationError, match=f"mixed.example.test resolves to {re.escape(addresses[-1])}, an internal"):
        webhooks.check_url("https://mixed.example.test/hooks")
    resolver["mixed.example.test"] = addresses[:-1]  # the same name without its internal address: accepted
    webhooks.check_url("https://mixed.example.test/hooks")


def test_a_public_ipv4_address_written_as_ipv6_is_accepted(settings):
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = False
    webhooks.check_url("https://[::ffff:8.8.8.8]/h")  # IPv4-mapped: it reaches 8.8.8.8, a public address


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_stored_url_now_resolving_to_an_internal_address_is_not_sent_to(cast, receiver, settings, scheme):
    # Registered when its name pointed elsewhere; DNS now answers loopback (here: "localhost").
    r = receiver()
    endpoint_for(cast.practice, r.url.replace("http://127.0.0.1", f"{scheme}://localhost"))
    settings.PORTICO_WEBHOOKS_ALLOW_PRIVATE = False
    send(cast)
    assert webhooks.deliver_due(worker="w1") == 1
    assert r.requests == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("queued", 1)  # a failed try: DNS may change back
    assert "localhost resolves to" in delivery.last_error and "an internal address" in delivery.last_error


@pytest.mark.parametrize("url", ["ftp://ehr.example.test/h", "https:///nohost", "javascript:alert(1)"])
def test_other_schemes_are_refused(url, settings):
    with pytest.raises(ValidationError, match="https://"):
        webhooks.check_url(url)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_send_one_event_twice(cast, receiver):
    r = receiver()
    endpoint_for(cast.practice, r.url)
    patients = [cast.pat] + [Patient.objects.create(
        practice=cast.practice, doctor=cast.dora, chart_number=f"W-{i}", first_name="W", last_name=f"Patient{i}",
        email=f"w{i}@example.test", ssn=f"55500{i:04d}", date_of_birth=datetime.date(1980, 1, 1)) for i in range(24)]
    for patient in patients:
        send(cast, patient)
    tried = at_once(lambda: webhooks.deliver_due(worker="a"), lambda: webhooks.deliver_due(worker="b"))
    assert sum(tried) == 25 and len(r.requests) == 25 and len(set(r.event_ids())) == 25
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}
