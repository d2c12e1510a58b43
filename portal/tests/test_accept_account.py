import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from access.actions import acceptance, sending
from access.models import Channel, Connection, Invitation
from clinic.models import Notification, Patient
from conftest import at_once
from mail.models import Message
from portal.accepting import IDENTITY_CONFIRMED, OPENED_LINK
from portal.tests.conftest import (
    PASSWORD,
    confirm_identity,
    create_account,
    events,
    field_error,
    field_hint,
    open_link,
)

URL = reverse("portal:account")


def _accounts():
    return get_user_model().objects.filter(staff__isnull=True)


def test_it_requires_a_confirmed_identity(client, sent):
    open_link(client, sent.token)
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == reverse("portal:accept")
    assert not _accounts().exists()
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING


def test_it_offers_an_account_for_the_invited_address(client, sent):
    confirm_identity(client, sent.token)
    response = client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert 'value="pat@example.test" readonly' in body
    assert 'name="email"' not in body  # shown, never submitted
    assert 'name="password1"' in body


def test_it_creates_the_account_and_connects(client, cast, sent):
    confirm_identity(client, sent.token)
    session_before = client.session.session_key
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD, "email": "evil@example.test"},
                           REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")

    account = _accounts().get()
    assert (account.username, account.email, account.first_name) == ("pat@example.test", "pat@example.test", "Pat")
    assert account.check_password(PASSWORD)
    connection = Connection.objects.get()
    assert (connection.account, connection.patient, connection.practice) == (account, cast.pat, cast.practice)
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.ACCEPTED
    assert events(sent.invitation) == ["invitation.sent", "identity.passed", "account.created", "access.granted"]
    assert sent.invitation.events.get(action="access.granted").client_ip == "203.0.113.9"
    assert Message.objects.filter(kind="connected", to="pat@example.test").count() == 1
    assert Notification.objects.filter(patient=cast.pat).count() == 2  # Alice sent it; Dr. Dora is the doctor

    # Signed in, in a new session that no longer holds the link.
    assert client.session.session_key != session_before
    assert int(client.session["_auth_user_id"]) == account.pk
    assert OPENED_LINK not in client.session and IDENTITY_CONFIRMED not in client.session
    home = client.get(response["Location"])
    assert "You are now connected to Maple Street Clinic." in home.content.decode()


def test_it_shows_the_password_rules_before_anything_is_typed(client, sent):
    confirm_identity(client, sent.token)
    rules = field_hint(client.get(URL).content.decode(), "id_password1")
    assert "Your password must contain at least 12 characters." in rules
    assert "Your password can’t be entirely numeric." in rules


@pytest.mark.parametrize(("password1", "password2", "field", "message"), [
    ("short-pw-1", "short-pw-1", "id_password1", "This password is too short. It must contain at least 12 characters."),
    ("a-long-portal-passphrase-42", "a-long-portal-passphrase-43", "id_password2",
     "The two passwords are not the same. Type the same password in both boxes."),
    ("123456789012345", "123456789012345", "id_password1", "This password has only numbers."),
    ("pat@example.test", "pat@example.test", "id_password1", "This password is too much like your name or email"),
    ("password1234", "password1234", "id_password1", "This password is one that many people use"),
])
def test_it_checks_the_password_with_djangos_validators(client, sent, password1, password2, field, message):
    confirm_identity(client, sent.token)
    response = client.post(URL, {"password1": password1, "password2": password2})
    assert response["Location"] == URL  # POST-redirect-GET: Back never asks to resubmit
    page = client.get(URL)
    assert page.status_code == 200
    assert message in field_error(page.content.decode(), field)  # next to the field it is about
    assert message not in client.get(URL).content.decode()  # shown once
    assert not _accounts().exists()
    assert not Connection.objects.exists()
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING
    assert events(sent.invitation) == ["invitation.sent", "identity.passed"]


def test_it_allows_a_long_password(client, sent):
    long_password = "correct horse battery staple " * 5
    confirm_identity(client, sent.token)
    client.post(URL, {"password1": long_password, "password2": long_password})
    assert _accounts().get().check_password(long_password)


def test_it_refuses_a_reused_token(client, cast, sent):
    create_account(client, sent.token)
    attacker = Client()
    assert open_link(attacker, sent.token)["Location"] == reverse("portal:link-problem")
    assert attacker.post(reverse("portal:accept"), {"ssn": "123-45-6789"}).status_code == 400  # no link held
    response = attacker.post(URL, {"password1": "another-long-password-9", "password2": "another-long-password-9"})
    assert response.status_code == 400
    assert _accounts().count() == 1
    assert Connection.objects.count() == 1
    sent.invitation.refresh_from_db()
    assert events(sent.invitation) == ["invitation.sent", "identity.passed", "account.created", "access.granted"]


def test_it_refuses_a_second_submission_from_the_same_browser(client, cast, sent):
    confirm_identity(client, sent.token)
    session = dict(client.session.items())
    client.post(URL, {"password1": PASSWORD, "password2": PASSWORD})
    replay = Client()
    stored = replay.session
    stored.update({OPENED_LINK: session[OPENED_LINK], IDENTITY_CONFIRMED: session[IDENTITY_CONFIRMED]})
    stored.save()
    replay.cookies["sessionid"] = stored.session_key
    response = replay.post(URL, {"password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert Connection.objects.count() == 1 and _accounts().count() == 1


def test_it_refuses_a_link_revoked_before_the_account_step(client, cast, sent):
    confirm_identity(client, sent.token)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert response.status_code == 410
    assert not _accounts().exists() and not Connection.objects.exists()


def test_it_refuses_a_link_one_second_past_expiry_at_the_account_step(client, sent, clock):
    clock.move_to(sent.invitation.expires_at - datetime.timedelta(minutes=5))
    confirm_identity(client, sent.token)
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    assert not _accounts().exists() and not Connection.objects.exists()


def test_it_asks_again_when_the_identity_check_has_lapsed(client, sent, clock):
    confirm_identity(client, sent.token)
    clock.shift(datetime.timedelta(minutes=20))
    client.get(URL)  # the patient is still here: the session stays alive
    clock.shift(acceptance.IDENTITY_CHECK_VALID_FOR - datetime.timedelta(minutes=20) + datetime.timedelta(seconds=1))
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == reverse("portal:accept")
    assert IDENTITY_CONFIRMED not in client.session
    assert not _accounts().exists()
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING


# --- an existing portal account -----------------------------------------------------------------

@pytest.fixture
def pat_account(db):
    return User.objects.create_user(username="Pat@Example.test", email="Pat@Example.test", password=PASSWORD)


def test_it_asks_an_existing_account_to_sign_in(client, sent, pat_account):
    confirm_identity(client, sent.token)
    body = client.get(URL).content.decode()
    assert "Sign in to connect" in body
    assert 'name="password1"' not in body


def test_it_connects_an_existing_account_after_sign_in(client, cast, sent, pat_account):
    confirm_identity(client, sent.token)
    response = client.post(URL, {"password": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    connection = Connection.objects.get()
    assert connection.account == pat_account
    assert _accounts().count() == 1
    assert events(sent.invitation) == ["invitation.sent", "identity.passed", "access.granted"]
    assert int(client.session["_auth_user_id"]) == pat_account.pk


def test_it_refuses_a_wrong_password_for_an_existing_account(client, sent, pat_account):
    confirm_identity(client, sent.token)
    response = client.post(URL, {"password": "not-the-password-1"}, follow=True)
    assert "That password is not correct." in field_error(response.content.decode(), "id_password")
    assert not Connection.objects.exists()
    assert "_auth_user_id" not in client.session
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING


def test_it_connects_one_account_to_a_second_practice(client, cast, sent, clock):
    create_account(client, sent.token)
    client.logout()
    bea_as_pat = Patient.objects.create(practice=cast.other_practice, chart_number="B-201", first_name="Pat",
                                        last_name="Jones", email="pat@example.test", ssn="345678901")
    second = sending.send_invitation(bea_as_pat, by=cast.bob, channel=Channel.CHART)
    confirm_identity(client, second.token, ssn="345-67-8901")
    client.post(URL, {"password": PASSWORD})
    account = _accounts().get()
    assert set(Connection.objects.filter(account=account).values_list("practice__name", flat=True)) == {
        "Maple Street Clinic", "Harbor Health"}
    body = client.get(reverse("portal:home")).content.decode()
    assert "Maple Street Clinic" in body and "Harbor Health" in body


def test_it_never_connects_a_staff_login(client, cast, sent):
    User.objects.filter(pk=cast.alice.user.pk).update(username="pat@example.test")
    confirm_identity(client, sent.token)
    response = client.post(URL, {"password": "staff-password-123"}, follow=True)
    assert response.status_code == 409
    assert not Connection.objects.exists()


def test_it_sends_a_create_form_posted_after_an_account_appeared_to_sign_in(client, sent):
    confirm_identity(client, sent.token)
    User.objects.create_user(username="pat@example.test", password=PASSWORD)
    response = client.post(URL, {"password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert "A portal account with this email already exists. Sign in to connect it." in response.content.decode()
    assert "Sign in to connect" in response.content.decode()
    assert not Connection.objects.exists()
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING


# --- two submissions at once ----------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_it_connects_exactly_once_with_two_concurrent_submissions(cast):
    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    # A double-click: two submissions from one browser session (only that session holds the proof).
    browsers = [Client(), Client()]
    confirm_identity(browsers[0], sent.token)
    browsers[1].cookies["sessionid"] = browsers[0].cookies["sessionid"].value
    responses = at_once(*(lambda b=b: b.post(URL, {"password1": PASSWORD, "password2": PASSWORD})
                          for b in browsers))

    # The loser is refused: "link already used" (redirected to the link's page), or, if the winner's
    # sign-in already replaced the shared session, "you are connected" (200) or a session ended
    # under the request (400). Either way nothing is created twice.
    landed = [r.get("Location") or r.status_code for r in responses]
    assert landed.count(reverse("portal:home")) == 1
    (loser,) = [outcome for outcome in landed if outcome != reverse("portal:home")]
    assert loser in (reverse("portal:link-problem"), 200, 400)
    assert Connection.objects.count() == 1
    assert _accounts().count() == 1
    assert Message.objects.filter(kind="connected").count() == 1
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.ACCEPTED
    assert events(sent.invitation).count("access.granted") == 1


def test_a_sign_in_post_without_an_account_asks_again_not_a_crash(client, cast, sent):
    confirm_identity(client, sent.token)
    response = client.post(URL, {"password": "whatever-it-is-123"}, follow=True)
    assert response.status_code == 200
    assert "This field is required." in field_error(response.content.decode(), "id_password1")
    assert not _accounts().exists() and not Connection.objects.exists()


def test_signing_in_to_connect_is_throttled_like_any_sign_in(client, cast, sent, django_user_model):
    from access import signins

    django_user_model.objects.create_user(username="pat@example.test", email="pat@example.test",
                                          password="patient-password-123")
    confirm_identity(client, sent.token)
    for _ in range(10):
        assert client.post(URL, {"password": "wrong-password"})["Location"] == URL
    response = client.post(URL, {"password": "patient-password-123"}, follow=True)
    assert signins.MESSAGE in field_error(response.content.decode(), "id_password")
    assert not Connection.objects.exists()
