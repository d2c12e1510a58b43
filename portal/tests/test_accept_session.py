"""What a browser's session holds while accepting: a new session key at each gain (no fixation),
nothing a reader of the session table could use, and no link from elsewhere can wipe it."""

import json

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from access.actions import acceptance, sending
from access.models import Channel, Connection, Invitation
from access.tests.helpers import snapshot
from portal.tests.conftest import PASSWORD, PAT_SSN, confirm_guardian, confirm_identity, open_link

ACCEPT, ACCOUNT = reverse("portal:accept"), reverse("portal:account")


def _key(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _browser_holding(key: str) -> Client:
    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = key
    return browser


def _refused_at_the_account_step(browser) -> None:
    before = snapshot()
    assert browser.get(ACCOUNT).status_code == 400  # "open the link in your email again"
    assert browser.post(ACCOUNT, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 400
    assert snapshot() == before
    assert not get_user_model().objects.filter(staff__isnull=True).exists()


# --- session fixation ---------------------------------------------------------------------------

def test_a_session_planted_before_the_link_is_opened_does_not_survive_the_identity_check(client, sent):
    attacker = Client()
    open_link(attacker, "x" * 43)  # any link page hands out a session
    planted = _key(attacker)
    victim = _browser_holding(planted)
    confirm_identity(victim, sent.token)
    assert _key(victim) != planted
    assert not Session.objects.filter(session_key=planted).exists()
    _refused_at_the_account_step(attacker)
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING


def test_the_identity_check_gives_a_new_session_key(client, sent):
    """Even a key held at the identity step itself (seen, or planted after the link) is worth nothing."""
    open_link(client, sent.token)
    at_the_check = _key(client)
    assert client.post(ACCEPT, {"ssn": PAT_SSN})["Location"] == ACCOUNT
    assert _key(client) != at_the_check
    _refused_at_the_account_step(_browser_holding(at_the_check))
    # The patient goes on from the new key.
    assert client.post(ACCOUNT, {"password1": PASSWORD, "password2": PASSWORD})["Location"] == reverse("portal:home")


def test_opening_a_new_link_gives_a_new_session_key(client, sent):
    open_link(client, "x" * 43)
    before = _key(client)
    open_link(client, sent.token)
    assert _key(client) != before


# --- nothing usable in the session table --------------------------------------------------------

@pytest.fixture
def proofs(monkeypatch):
    """Every identity proof handed out, as the view received it."""
    handed_out, verify = [], acceptance.verify_identity

    def keep(*args, **kwargs):
        verified = verify(*args, **kwargs)
        handed_out.append(verified.proof)
        return verified

    monkeypatch.setattr(acceptance, "verify_identity", keep)
    return handed_out


def test_the_session_table_holds_neither_the_token_nor_the_proof(client, sent, proofs):
    confirm_identity(client, sent.token)
    (proof,) = proofs
    rows = list(Session.objects.all())
    assert rows
    for row in rows:
        decoded = json.dumps(row.get_decoded())
        for secret in (sent.token, proof):
            assert secret not in row.session_data
            assert secret not in decoded
    # and the patient still completes the flow
    assert client.post(ACCOUNT, {"password1": PASSWORD, "password2": PASSWORD})["Location"] == reverse("portal:home")
    assert Connection.objects.filter(patient=sent.invitation.patient).exists()


def test_a_session_sealed_with_a_retired_key_asks_for_the_link_again(client, sent, settings):
    open_link(client, sent.token)
    settings.PORTICO_FIELD_KEYS = [Fernet.generate_key().decode()]  # another key only
    assert client.get(ACCEPT).status_code == 400


# --- a link from elsewhere ----------------------------------------------------------------------

@pytest.mark.parametrize("other_link", ["x" * 43, "made-up", "A" * 200], ids=["token-shaped", "short", "long"])
def test_an_unusable_link_leaves_the_accept_in_progress_alone(client, sent, other_link):
    confirm_identity(client, sent.token)
    response = open_link(client, other_link)
    assert response["Location"] == reverse("portal:link-problem")
    problem = client.get(response["Location"])
    assert problem.status_code == 410 and "This link is not valid" in problem.content.decode()
    assert client.get(ACCEPT)["Location"] == ACCOUNT  # still confirmed, same invitation
    assert client.post(ACCOUNT, {"password1": PASSWORD, "password2": PASSWORD})["Location"] == reverse("portal:home")


def test_a_dead_link_leaves_another_accept_in_progress_alone(client, cast, sent):
    used = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    open_link(client, used.token)
    client.post(ACCEPT, {"ssn": PAT_SSN})
    problem = client.get(open_link(client, sent.token)["Location"])  # the revoked first link
    assert problem.status_code == 410 and "no longer valid" in problem.content.decode()
    assert client.get(ACCEPT)["Location"] == ACCOUNT


# --- a patient's and a proxy's accept, side by side ------------------------------------------------

def test_a_patients_and_a_proxys_accept_in_one_browser_keep_apart(client, sent, guardian_invited):
    """Each kind of link keeps its steps under its own keys (portal.accept_session): opening and
    confirming a guardian's link leaves the patient's confirmed accept where it was, and back."""
    confirm_identity(client, sent.token)
    confirm_guardian(client, guardian_invited.token)
    assert client.get(ACCOUNT).status_code == 200  # not sent back to the identity check
    assert client.get(reverse("portal:proxy-account")).status_code == 200
    open_link(client, sent.token)  # the same patient's link again: nothing to forget
    assert client.get(reverse("portal:proxy-account")).status_code == 200
    assert client.get(ACCOUNT).status_code == 200
