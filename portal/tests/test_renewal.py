"""The patient's pages for renewing an expired invitation: offered on the expired link's page, the
identity check again, and a page saying (masked) where the new link went."""

import datetime

import pytest
from django.urls import reverse

from access.models import Invitation
from access.tests.helpers import connect
from mail.models import Message
from portal.tests.conftest import PAT_SSN, open_link

RENEW = reverse("portal:renew")


@pytest.fixture
def expired(client, cast, sent, clock):
    """Pat opened the link one second after it expired."""
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    open_link(client, sent.token)
    return sent


def test_the_expired_links_page_offers_a_new_link(client, expired):
    page = client.get(reverse("portal:link-problem")).content.decode()
    assert "Send me a new link" in page and f'href="{RENEW}"' in page


def test_it_asks_for_the_details_on_file_and_sends_a_new_link_to_the_email_on_file(client, cast, expired):
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    page = client.get(RENEW)
    assert page.status_code == 200 and "Get a new invitation link" in page.content.decode()
    response = client.post(RENEW, {"ssn": PAT_SSN, "email": "attacker@example.test"})  # an extra field: ignored
    assert response.status_code == 302 and response["Location"] == reverse("portal:renewed")
    new = cast.pat.invitations.get(channel="renewal")
    assert new.email == "pat@example.test"
    assert list(Message.objects.filter(invitation_id=new.pk).values_list("to", flat=True)) == ["pat@example.test"]
    done = client.get(response["Location"]).content.decode()
    assert "p•••@example.test" in done and "pat@example.test" not in done
    assert "(555) 555-0100" in done  # what to do if that address is wrong: the practice's phone
    assert client.get(RENEW)["Location"] == reverse("portal:link-problem")  # done: nothing to renew again


def test_a_wrong_answer_keeps_the_date_and_phone_and_says_how_many_tries_are_left(client, cast, expired):
    response = client.post(RENEW, {"date_of_birth": "05/17/1981", "phone": "(555) 555-0123"}, follow=True)
    body = response.content.decode()
    assert "We could not confirm your identity" in body and "2 more tries" in body
    assert 'value="05/17/1981"' in body
    assert not cast.pat.invitations.filter(channel="renewal").exists()


def test_the_third_wrong_answer_locks_the_link(client, cast, expired):
    for _ in range(3):
        response = client.post(RENEW, {"ssn": "123-45-6780"})
    assert response["Location"] == reverse("portal:link-problem")
    assert "This invitation is locked" in client.get(response["Location"]).content.decode()
    assert Invitation.objects.get(pk=expired.invitation.pk).status == "locked"


def test_a_malformed_answer_is_refused_field_by_field_and_counts_nothing(client, cast, expired):
    body = client.post(RENEW, {"ssn": "12"}, follow=True).content.decode()
    assert "social security number" in body.lower()
    assert Invitation.objects.get(pk=expired.invitation.pk).failed_checks == 0


def test_it_is_not_offered_where_the_practice_turned_it_off(client, cast, expired):
    cast.practice.renewal_days = None
    cast.practice.save()
    page = client.get(reverse("portal:link-problem")).content.decode()
    assert "Send me a new link" not in page and "does not renew invitation links online" in page
    assert client.get(RENEW)["Location"] == reverse("portal:link-problem")
    assert client.post(RENEW, {"ssn": PAT_SSN})["Location"] == reverse("portal:link-problem")
    assert not cast.pat.invitations.filter(channel="renewal").exists()


@pytest.mark.parametrize("since", ["connected", "email_changed"])
def test_after_a_change_on_the_chart_the_page_says_nothing_about_it(client, cast, expired, since):
    """Whoever holds an old link may not be the patient: the page offers sign-in and the practice, neutrally."""
    if since == "connected":
        connect(cast)
    else:
        cast.pat.email = "pat.new@example.test"
        cast.pat.save()
    page = client.get(reverse("portal:link-problem")).content.decode()
    assert "This link cannot be renewed online." in page and reverse("portal:login") in page
    assert "Send me a new link" not in page
    assert "connected" not in page.lower().replace("not connected", "") and "pat.new" not in page


def test_opening_an_expired_link_gives_the_browser_a_new_session_key(client, cast, sent, clock):
    client.get(reverse("portal:login"))
    before = client.session.session_key
    clock.move_to(sent.invitation.expires_at + datetime.timedelta(seconds=1))
    open_link(client, sent.token)
    assert client.session.session_key != before


def test_a_revoked_link_is_not_offered_renewal(client, cast, sent):
    Invitation.objects.filter(pk=sent.invitation.pk).update(status="revoked")
    open_link(client, sent.token)
    page = client.get(reverse("portal:link-problem")).content.decode()
    assert "no longer valid" in page and "Send me a new link" not in page
    assert client.get(RENEW)["Location"] == reverse("portal:link-problem")


def test_without_an_expired_link_there_is_nothing_to_renew(client, cast):
    assert client.get(RENEW)["Location"] == reverse("portal:link-problem")
    assert client.get(reverse("portal:renewed"))["Location"] == reverse("portal:link-problem")


def test_the_pages_are_not_stored_and_the_token_never_shows(client, expired):
    for response in (client.get(reverse("portal:link-problem")), client.get(RENEW)):
        assert "no-store" in response["Cache-Control"]
        assert expired.token not in response.content.decode()
