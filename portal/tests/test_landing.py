import datetime
import html
import logging

import pytest
from django.urls import reverse

from access.actions import sending
from access.models import Channel, Invitation
from portal import accepting
from portal.accepting import LINK_PROBLEM, OPENED_LINK
from portal.tests.conftest import create_account, events, open_link
from portico.logging import RedactTokens


def test_it_keeps_the_token_in_the_session_and_redirects_to_a_clean_url(client, sent):
    response = open_link(client, sent.token)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:accept")
    assert sent.token not in response["Location"]
    assert accepting.in_progress.opened_link(client.session) == sent.token
    assert sent.token not in client.get(response["Location"]).content.decode()


def test_it_sends_no_referrer_and_no_store_from_the_link(client, sent):
    for token in (sent.token, "x" * 43):
        response = open_link(client, token)
        assert response["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response["Cache-Control"]


def test_it_keeps_the_site_referrer_policy_on_the_clean_pages(client, sent):
    """`no-referrer` there would make browsers send `Origin: null` with the form, which CSRF refuses."""
    open_link(client, sent.token)
    for response in (client.get(reverse("portal:accept")), client.get(reverse("portal:link-problem"))):
        assert response["Referrer-Policy"] == "same-origin"
        assert "no-store" in response["Cache-Control"]


def test_it_does_not_consume_the_token_when_opened(client, sent):
    for _ in range(10):
        assert open_link(client, sent.token).status_code == 302
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING
    assert events(sent.invitation) == ["invitation.sent"]
    create_account(client, sent.token)
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.ACCEPTED


def test_it_answers_head_and_rejects_post(client, sent):
    assert client.head(reverse("portal:landing", args=[sent.token])).status_code == 302
    assert client.post(reverse("portal:landing", args=[sent.token])).status_code == 405
    sent.invitation.refresh_from_db()
    assert sent.invitation.status == Invitation.Status.PENDING


def _problem_page(client, token):
    response = open_link(client, token)
    assert response["Location"] == reverse("portal:link-problem")
    assert OPENED_LINK not in client.session
    return client.get(response["Location"])


def _assert_says_why_and_whom_to_ask(response, heading, next_step):
    """The page names the practice that sent the link and how to reach it, and nothing of the patient."""
    assert response.status_code == 410
    body = html.unescape(response.content.decode())
    assert heading in body
    assert next_step in body
    assert 'Call Maple Street Clinic at <a href="tel:+15555550100">(555) 555-0100</a>.' in body
    for secret in ("Pat ", "Jones", "pat@example.test", "6789", "1980"):
        assert secret not in body


@pytest.fixture(autouse=True)
def practice_phone(cast):
    cast.practice.phone = "+15555550100"
    cast.practice.save()


def test_it_refuses_an_unknown_link(client, cast):
    for token in ("x" * 43, "short", "A" * 200):
        response = _problem_page(client, token)
        body = response.content.decode()
        assert response.status_code == 410 and "This link is not valid" in body
        assert "If it still does not work, ask your practice to send you a new invitation." in body
        assert "Maple Street" not in body and "555" not in body  # nobody's link: no practice to name


def test_it_refuses_a_link_one_second_after_expiry_and_offers_to_renew_it(client, cast, sent, clock):
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    _assert_says_why_and_whom_to_ask(_problem_page(client, sent.token), "This invitation has expired",
                                     "Send me a new link")


def test_it_refuses_a_link_one_second_after_expiry_where_renewal_is_off(client, cast, sent, clock):
    cast.practice.renewal_days = None
    cast.practice.save()
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    page = _problem_page(client, sent.token)
    _assert_says_why_and_whom_to_ask(page, "This invitation has expired",
                                     "Please ask Maple Street Clinic to send you a new invitation.")
    assert "Send me a new link" not in page.content.decode()


def test_it_says_how_to_reach_a_practice_without_a_phone_on_file(client, cast, sent, clock):
    cast.practice.phone = ""
    cast.practice.save()
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    body = _problem_page(client, sent.token).content.decode()
    assert "Contact Maple Street Clinic the way you usually do." in body and "tel:" not in body


def test_it_accepts_a_link_one_second_before_expiry(client, cast, sent, clock):
    clock.move_to(sent.invitation.expires_at - datetime.timedelta(seconds=1))
    assert open_link(client, sent.token)["Location"] == reverse("portal:accept")


def test_it_refuses_a_revoked_link(client, cast, sent):
    sending.revoke_invitation(cast.pat, by=cast.alice)
    _assert_says_why_and_whom_to_ask(_problem_page(client, sent.token), "no longer valid",
                                     "Otherwise, please ask Maple Street Clinic to send you a new invitation.")


def test_it_refuses_the_old_link_after_a_resend(client, cast, sent):
    new = sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    _assert_says_why_and_whom_to_ask(_problem_page(client, sent.token), "no longer valid",
                                     "If you have a newer invitation email, use the link in that one.")
    assert open_link(client, new.token)["Location"] == reverse("portal:accept")


def test_it_refuses_a_used_link(client, cast, sent):
    create_account(client, sent.token)
    other_browser = client.__class__()
    _assert_says_why_and_whom_to_ask(_problem_page(other_browser, sent.token), "already been used",
                                     "If you did not accept it, tell Maple Street Clinic right away.")


def test_it_refuses_a_locked_link(client, cast, sent):
    Invitation.objects.filter(pk=sent.invitation.pk).update(status=Invitation.Status.LOCKED)
    _assert_says_why_and_whom_to_ask(_problem_page(client, sent.token), "This invitation is locked",
                                     "Please ask Maple Street Clinic to check your details and send you a new invitation.")


def test_it_forgets_the_reason_page_on_a_good_link(client, cast, sent):
    _problem_page(client, "x" * 43)
    assert client.session[LINK_PROBLEM] == {"reason": "unknown", "practice": None}
    assert open_link(client, sent.token)["Location"] == reverse("portal:accept")


def test_it_keeps_the_token_out_of_the_logs(client, cast, sent, caplog):
    caplog.set_level(logging.DEBUG)
    create_account(client, sent.token)
    _problem_page(client.__class__(), sent.token)  # the used link: a 410, which django.request logs
    assert caplog.records
    assert sent.token not in caplog.text


def test_it_masks_the_landing_path_in_the_dev_server_log(sent):
    path = reverse("portal:landing", args=[sent.token])
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               (f"GET {path} HTTP/1.1", "302", "0"), None)
    assert RedactTokens().filter(record)
    assert sent.token not in record.getMessage()
    assert "/portal/i/[redacted]/" in record.getMessage()


@pytest.mark.parametrize("name", ["portal:accept", "portal:account"])
def test_it_asks_to_open_the_link_again_without_one(client, db, name):
    response = client.get(reverse(name))
    body = response.content.decode()
    assert response.status_code == 400
    assert "Open the link in your invitation email again" in body
    assert "new invitation" not in body  # one thing to do, not two


def test_it_masks_a_password_reset_link_in_the_logs():
    path = reverse("portal:password-reset-confirm", args=["MTIz", "cz8k1a-0123456789abcdef0123456789abcdef"])
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '"%s" %s', (f"GET {path} HTTP/1.1", "302"),
                               None)
    assert RedactTokens().filter(record)
    assert record.getMessage() == '"GET /portal/password/reset/[redacted]/[redacted]/ HTTP/1.1" 302'
    clean = reverse("portal:password-reset-confirm", args=["MTIz", "set-password"])
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%s", (f"GET {clean}",), None)
    RedactTokens().filter(record)
    assert record.getMessage() == f"GET {clean}"
