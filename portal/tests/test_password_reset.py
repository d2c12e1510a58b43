"""Forgot your password?: Django's reset flow, mailed through the outbox over real SMTP, the same
answer whether or not the address has an account, throttled, recorded in every connected practice's
history, and every other session of the account ended when the password changes."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult

from access.actions import acceptance, passwords, sending
from access.models import AccessEvent, Attempt, Channel
from access.tests.helpers import right_answers
from clinic.models import Patient
from conftest import NOW, run_worker
from mail.models import Message
from portal.account_views import RESET_THROTTLED
from portal.tests.conftest import PASSWORD, field_error, field_hint

URL = reverse("portal:password-reset")
NEW_PASSWORD = "a-brand-new-passphrase-77"
LINK = re.compile(r"https://portal\.example\.test(/portal/password/reset/[^/\s]+/[^/\s]+/)")


def ask(client, email="pat@example.test", ip="198.51.100.30"):
    return client.post(URL, {"email": email}, REMOTE_ADDR=ip)


def reset_mails(smtp_server) -> list:
    return [m for m in smtp_server.messages() if m["Subject"] == "Choose a new password for your patient portal"]


def reset_link(smtp_server) -> str:
    (message,) = reset_mails(smtp_server)
    text = message.get_body(preferencelist=("plain",)).get_content()
    (path,) = LINK.findall(text)
    assert path in message.get_body(preferencelist=("html",)).get_content()
    return path


def choose(client, path, password=NEW_PASSWORD):
    """Open the emailed link (token -> session -> clean URL) and post the new password."""
    form_url = client.get(path)["Location"]
    assert "set-password" in form_url
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def history(practice) -> list[str]:
    return list(AccessEvent.objects.filter(practice=practice).order_by("id").values_list("action", flat=True))


@pytest.fixture
def second_practice(cast, connected):
    """Pat's one account is connected to Harbor Health as well."""
    bea_as_pat = Patient.objects.create(practice=cast.other_practice, chart_number="B-201", first_name="Pat",
                                        last_name="Jones", email="pat@example.test", ssn="345678901")
    sent = sending.send_invitation(bea_as_pat, by=cast.bob, channel=Channel.CHART)
    proof = acceptance.verify_identity(sent.token, right_answers(bea_as_pat)).proof
    return acceptance.accept_invitation(sent.token, proof=proof, account=connected.account)


def test_the_sign_in_page_offers_it(client, db):
    body = client.get(reverse("portal:login")).content.decode()
    assert f'<a href="{URL}">Forgot your password?</a>' in body


def test_it_mails_a_link_that_sets_a_new_password_and_ends_every_other_session(
    client, cast, connected, second_practice, smtp_server, settings,
):
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    elsewhere = client  # Pat is signed in here (the `connected` fixture); the reset happens in another browser
    assert elsewhere.get(reverse("portal:home")).status_code == 200
    browser = Client()
    assert ask(browser)["Location"] == reverse("portal:password-reset-done")
    run_worker()
    assert [m["To"] for m in reset_mails(smtp_server)] == ["pat@example.test"]
    path = reset_link(smtp_server)
    assert choose(browser, path)["Location"] == reverse("portal:password-reset-complete")

    account = connected.account
    account.refresh_from_db()
    assert account.check_password(NEW_PASSWORD)
    # The other browser's session died with the old password.
    assert elsewhere.get(reverse("portal:home"))["Location"].startswith(reverse("portal:login"))
    # Both practices' histories have it, each for its own patient record.
    for practice in (cast.practice, cast.other_practice):
        assert [a for a in history(practice) if a.startswith("account.password")] == [
            "account.password_reset_requested", "account.password_changed"]
    changed = AccessEvent.objects.get(practice=cast.other_practice, action="account.password_changed")
    assert (changed.patient, changed.actor, changed.channel) == (second_practice.patient, account, "portal")
    assert changed.reason == "Reset with an emailed link"
    assert AccessEvent.objects.get(practice=cast.practice, action="account.password_reset_requested").client_ip \
        == "198.51.100.30"
    # The mail's secret link was wiped once sent; the link works once.
    assert Message.objects.get(kind="password-reset").secret_link == ""
    again = Client().get(path)
    assert again.status_code == 200 and "This link cannot be used" in again.content.decode()
    assert Client().post(reverse("portal:login"), {"username": "pat@example.test", "password": NEW_PASSWORD}
                         )["Location"] == reverse("portal:home")


def test_it_answers_the_same_and_does_the_same_work_for_an_address_without_an_account(client, connected):
    known, unknown = ask(Client(), "pat@example.test"), ask(Client(), "nobody@example.test")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    # The request only counts and queues a task, either way; the worker decides and mails.
    assert Message.objects.filter(kind="password-reset").count() == 0
    assert DBTaskResult.objects.filter(task_path="portal.tasks.send_password_reset").count() == 2
    done = Client().get(known["Location"]).content.decode()
    assert "If a patient portal account uses that address, we have emailed it a link" in done
    run_worker()
    assert list(Message.objects.filter(kind="password-reset").values_list("to", flat=True)) == ["pat@example.test"]


def test_it_mails_nothing_to_a_staff_login_and_no_link_works_for_one(cast, smtp_server):
    from django.contrib.auth.models import User

    User.objects.filter(pk=cast.alice.user.pk).update(email="alice@example.test", username="alice@example.test")
    assert ask(Client(), "alice@example.test")["Location"] == reverse("portal:password-reset-done")
    run_worker()
    assert smtp_server.envelopes == []
    assert not AccessEvent.objects.filter(action="account.password_reset_requested").exists()

    # A link made for a staff login anyway (Django's own token) is refused like a used one.
    staff = get_user_model().objects.get(pk=cast.alice.user.pk)
    path = reverse("portal:password-reset-confirm", args=[urlsafe_base64_encode(force_bytes(staff.pk)),
                                                          default_token_generator.make_token(staff)])
    response = Client().get(path)
    assert response.status_code == 200 and "This link cannot be used" in response.content.decode()
    staff.refresh_from_db()
    assert staff.check_password("staff-password-123")


def test_it_refuses_an_invitation_token_as_a_reset_token_and_the_other_way_round(client, cast, sent, connected):
    account = connected.account
    uid = urlsafe_base64_encode(force_bytes(account.pk))
    response = Client().get(reverse("portal:password-reset-confirm", args=[uid, sent.token]))
    assert "This link cannot be used" in response.content.decode()
    reset_token = default_token_generator.make_token(account)
    assert Client().get(reverse("portal:landing", args=[reset_token]))["Location"] == reverse("portal:link-problem")


def test_the_link_works_for_one_hour_to_the_second(client, connected, clock):
    passwords.send_password_reset(connected.account)
    path = Message.objects.get(kind="password-reset").secret_link.removeprefix("https://portal.example.test")
    clock.move_to(NOW + datetime.timedelta(seconds=3601))
    assert "This link cannot be used" in Client().get(path).content.decode()
    clock.move_to(NOW + datetime.timedelta(seconds=3600))
    assert choose(Client(), path)["Location"] == reverse("portal:password-reset-complete")


def test_it_limits_requests_per_address_and_per_client(client, connected, clock):
    """3 an hour for one address (whether or not it has an account), 20 an hour from one client."""
    for _ in range(3):
        assert ask(Client(), "pat@example.test", ip="198.51.100.1")["Location"] == reverse(
            "portal:password-reset-done")
    refused = ask(Client(), "PAT@example.test", ip="198.51.100.2")
    assert refused["Location"] == URL
    browser = Client()
    ask(browser, "pat@example.test", ip="198.51.100.3")
    assert RESET_THROTTLED in browser.get(URL).content.decode()
    assert DBTaskResult.objects.count() == 3  # refusals queue nothing
    clock.move_to(NOW + datetime.timedelta(hours=1, seconds=1))
    assert ask(Client(), "pat@example.test")["Location"] == reverse("portal:password-reset-done")

    for i in range(20 - 1):
        assert ask(Client(), f"someone-{i}@example.test", ip="203.0.113.50")["Location"] != URL
    assert ask(Client(), "pat@example.test", ip="203.0.113.50")["Location"] != URL  # the 20th
    assert ask(Client(), "another@example.test", ip="203.0.113.50")["Location"] == URL  # the 21st
    assert Attempt.objects.filter(kind=Attempt.Kind.PASSWORD_RESET, client_ip="203.0.113.50").count() == 20


def test_an_address_refused_for_too_many_requests_stays_refused_for_an_hour(client, connected, clock):
    for _ in range(3):
        ask(Client(), "pat@example.test", ip="198.51.100.1")
    clock.move_to(NOW + datetime.timedelta(minutes=59))
    before = Attempt.objects.count(), DBTaskResult.objects.count()
    assert ask(Client(), "pat@example.test", ip="198.51.100.2")["Location"] == URL  # still refused
    assert (Attempt.objects.count(), DBTaskResult.objects.count()) == before
    clock.move_to(NOW + datetime.timedelta(minutes=61))
    assert ask(Client(), "pat@example.test", ip="198.51.100.3")["Location"] == reverse("portal:password-reset-done")
    assert DBTaskResult.objects.count() == 4


def test_it_shows_the_rules_first_and_each_error_next_to_its_field(client, connected):
    passwords.send_password_reset(connected.account)
    path = Message.objects.get(kind="password-reset").secret_link.removeprefix("https://portal.example.test")
    browser = Client()
    form_url = browser.get(path)["Location"]
    page = browser.get(form_url).content.decode()
    assert "Your password must contain at least 12 characters." in field_hint(page, "id_new_password1")
    response = browser.post(form_url, {"new_password1": "short-pw-1", "new_password2": "short-pw-2"})
    body = response.content.decode()
    assert "This password is too short." in field_error(body, "id_new_password1")
    assert "The two passwords are not the same." in field_error(body, "id_new_password2")
    connected.account.refresh_from_db()
    assert connected.account.check_password(PASSWORD)
    assert not AccessEvent.objects.filter(action="account.password_changed").exists()
