import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse

from access.actions import acceptance, sending
from access.models import AccessEvent, Attempt, Channel, Invitation
from access.tests.helpers import snapshot
from portal.accepting import IDENTITY_CONFIRMED, OPENED_LINK
from portal.tests.conftest import PAT_SSN, events, open_link
from portico import crypto

URL = reverse("portal:accept")
WRONG = {
    "ssn": {"ssn": "123-45-6780"},
    "date_of_birth": {"date_of_birth": "1980-05-18", "phone": "(555) 555-0123"},
    "phone": {"date_of_birth": "1980-05-17", "phone": "(555) 555-0124"},
}


def _without_csrf(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_it_requires_an_opened_link(client, sent):
    assert client.post(URL, {"ssn": PAT_SSN}).status_code == 400
    sent.invitation.refresh_from_db()
    assert sent.invitation.identity_verified_at is None


def test_it_offers_ssn_or_date_of_birth_and_phone_when_both_are_on_file(client, sent):
    open_link(client, sent.token)
    response = client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert 'name="ssn"' in body and 'name="date_of_birth"' in body and 'name="phone"' in body
    assert "Maple Street Clinic" in body


@pytest.mark.parametrize(("on_file", "shown", "hidden"), [
    ({"ssn": "", "date_of_birth": datetime.date(1980, 5, 17), "phone": "+15555550123"}, ["date_of_birth", "phone"],
     ["ssn"]),
    ({"ssn": "123456789", "date_of_birth": None, "phone": ""}, ["ssn"], ["date_of_birth", "phone"]),
])
def test_it_offers_only_what_the_practice_has_on_file(client, cast, clock, on_file, shown, hidden):
    for name, value in on_file.items():  # through the model: the SSN is sealed to the chart
        setattr(cast.pat, name, value)
    cast.pat.save()
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    open_link(client, sent.token)
    body = client.get(URL).content.decode()
    for name in shown:
        assert f'name="{name}"' in body
    for name in hidden:
        assert f'name="{name}"' not in body


def test_it_confirms_identity_with_the_ssn(client, sent):
    open_link(client, sent.token)
    response = client.post(URL, {"ssn": PAT_SSN}, REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Test browser")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:account")
    assert response["Referrer-Policy"] == "same-origin"
    sent.invitation.refresh_from_db()
    assert sent.invitation.identity_verified_at is not None
    assert sent.invitation.status == Invitation.Status.PENDING
    assert client.session[IDENTITY_CONFIRMED]["invitation"] == sent.invitation.pk
    passed = sent.invitation.events.get(action=AccessEvent.Action.IDENTITY_PASSED)
    assert (passed.client_ip, passed.user_agent) == ("203.0.113.9", "Test browser")


def test_it_confirms_identity_with_date_of_birth_and_phone(client, sent):
    open_link(client, sent.token)
    response = client.post(URL, {"date_of_birth": "1980-05-17", "phone": "555-555-0123"})
    assert response["Location"] == reverse("portal:account")
    assert events(sent.invitation) == ["invitation.sent", "identity.passed"]


def test_it_goes_straight_to_the_account_step_once_confirmed(client, sent):
    open_link(client, sent.token)
    client.post(URL, {"ssn": PAT_SSN})
    assert client.get(URL)["Location"] == reverse("portal:account")


def test_it_does_not_carry_a_confirmation_to_another_browser(client, sent):
    open_link(client, sent.token)
    client.post(URL, {"ssn": PAT_SSN})
    other = client.__class__()
    open_link(other, sent.token)
    assert other.get(reverse("portal:account"))["Location"] == URL


def _error_box(response) -> str:
    found = re.search(r'<div class="error-box" role="alert" id="identity-error">(.*?)</div>', response.content.decode())
    return found.group(1) if found else ""


def test_it_answers_every_wrong_field_identically(client, cast, sent):
    pages = {}
    for field, answers in WRONG.items():
        if field != "ssn":  # a fresh invitation for each, so each answer is a first failure
            sent = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        open_link(client, sent.token)
        response = client.post(URL, answers)
        assert response["Location"] == URL  # POST-redirect-GET
        pages[field] = client.get(URL)
        sent.invitation.refresh_from_db()
        assert sent.invitation.failed_checks == 1
        assert sent.invitation.identity_verified_at is None
        assert events(sent.invitation) == ["invitation.sent", "identity.failed"]
    assert {p.status_code for p in pages.values()} == {200}
    assert {_error_box(p) for p in pages.values()} == {
        "We could not confirm your identity with the details you entered. Check them and try again. "
        "You have 2 more tries before this link stops working."}
    # The SSN is never shown again; the date of birth and phone are, both, whichever was wrong.
    assert "123-45-6780" not in pages["ssn"].content.decode()
    assert 'value="1980-05-18"' in pages["date_of_birth"].content.decode()
    assert 'value="(555) 555-0123"' in pages["date_of_birth"].content.decode()
    assert 'value="1980-05-17"' in pages["phone"].content.decode()
    assert 'value="(555) 555-0124"' in pages["phone"].content.decode()


def test_it_says_how_many_tries_are_left_and_shows_the_failure_once(client, sent):
    open_link(client, sent.token)
    client.post(URL, WRONG["ssn"])
    assert "You have 2 more tries before this link stops working." in _error_box(client.get(URL))
    assert _error_box(client.get(URL)) == ""  # a reload shows the form afresh
    client.post(URL, WRONG["phone"])
    assert "This is your last try: after one more wrong answer this link stops working." in _error_box(
        client.get(URL))


@pytest.mark.parametrize("answers", [
    {"date_of_birth": "05/17/1980", "phone": "555.555.0123"},
    {"date_of_birth": "5/17/1980", "phone": "+1 555 555 0123"},
    {"date_of_birth": "1980-05-17", "phone": "(555)5550123"},
    {"date_of_birth": "05-17-1980", "phone": "1-555-555-0123"},
    {"ssn": "123 45 6789"},
    {"ssn": "123456789"},
])
def test_it_understands_common_ways_of_typing_the_answers(client, sent, answers):
    open_link(client, sent.token)
    assert client.post(URL, answers)["Location"] == reverse("portal:account")
    sent.invitation.refresh_from_db()
    assert sent.invitation.failed_checks == 0


def test_it_answers_an_unknown_link_like_a_wrong_answer(client, sent):
    open_link(client, sent.token)
    wrong = client.post(URL, WRONG["ssn"])
    session = client.session
    session[OPENED_LINK] = crypto.encrypt("u" * 43)
    session.save()
    unknown = client.post(URL, WRONG["ssn"])
    assert (unknown.status_code, unknown["Location"]) == (wrong.status_code, wrong["Location"]) == (302, URL)


def test_it_locks_the_invitation_after_three_failures(client, sent):
    other_tab = Client()  # a second browser that opened the link before the lock
    open_link(other_tab, sent.token)
    open_link(client, sent.token)
    client.post(URL, WRONG["ssn"])
    client.post(URL, WRONG["date_of_birth"])
    response = client.post(URL, WRONG["phone"], follow=True)
    assert response.status_code == 410
    assert "This invitation is locked" in response.content.decode()
    assert OPENED_LINK not in client.session
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.LOCKED
    assert events(sent.invitation) == ["invitation.sent"] + ["identity.failed"] * 3 + ["invitation.locked"]

    # Even the right answer no longer works: not from a browser that had the link open, nor a fresh one.
    locked = snapshot()
    response = other_tab.post(URL, {"ssn": PAT_SSN}, follow=True)
    assert response.status_code == 410 and "This invitation is locked" in response.content.decode()
    fresh = Client()
    response = fresh.get(open_link(fresh, sent.token)["Location"])
    assert response.status_code == 410 and "This invitation is locked" in response.content.decode()
    assert fresh.post(URL, {"ssn": PAT_SSN}).status_code == 400  # no usable link in this browser
    for browser in (other_tab, fresh):
        assert browser.get(reverse("portal:account")).status_code == 400
        assert IDENTITY_CONFIRMED not in browser.session
    assert snapshot() == locked
    sent.invitation.refresh_from_db()
    assert (sent.invitation.status, sent.invitation.identity_verified_at) == (Invitation.Status.LOCKED, None)
    assert not sent.invitation.patient.connections.exists()


def test_it_refuses_a_link_that_expired_while_the_form_was_open(client, sent, clock):
    clock.move_to(sent.invitation.expires_at - datetime.timedelta(minutes=5))
    open_link(client, sent.token)
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    response = client.post(URL, {"ssn": PAT_SSN}, follow=True)
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    sent.invitation.refresh_from_db()
    assert (sent.invitation.identity_verified_at, sent.invitation.failed_checks) == (None, 0)
    assert events(sent.invitation) == ["invitation.sent"]  # the expiry job records the expiry


def test_it_refuses_a_link_revoked_while_the_form_was_open(client, cast, sent):
    open_link(client, sent.token)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    response = client.post(URL, {"ssn": PAT_SSN}, follow=True)
    assert response.status_code == 410
    sent.invitation.refresh_from_db()
    assert sent.invitation.identity_verified_at is None


def test_it_throttles_a_client_address(client, cast, sent):
    Attempt.objects.bulk_create(
        Attempt(kind=Attempt.Kind.IDENTITY, client_ip="198.51.100.7", at=sent.invitation.sent_at)
        for _ in range(acceptance.MAX_FAILURES_PER_CLIENT)
    )
    open_link(client, sent.token)
    response = client.post(URL, {"ssn": PAT_SSN}, REMOTE_ADDR="198.51.100.7", follow=True)
    assert "Too many attempts from your network" in _error_box(response)
    sent.invitation.refresh_from_db()
    assert (sent.invitation.identity_verified_at, sent.invitation.failed_checks) == (None, 0)


@pytest.mark.parametrize("answers", [
    {},
    {"date_of_birth": "1980-05-17"},
    {"ssn": "12345"},
    {"phone": "12", "date_of_birth": "1980-05-17"},
    {"date_of_birth": "not a date", "phone": "555-555-0123"},
])
def test_it_asks_again_for_incomplete_answers_without_counting_them(client, sent, answers):
    open_link(client, sent.token)
    response = client.post(URL, answers, follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="errorlist' in body or 'class="error-box" role="alert"' in body
    sent.invitation.refresh_from_db()
    assert sent.invitation.failed_checks == 0
    assert events(sent.invitation) == ["invitation.sent"]


def test_it_rejects_other_methods(client, sent):
    open_link(client, sent.token)
    assert client.put(URL).status_code == 405
