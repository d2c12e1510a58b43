"""A parent's or guardian's invitation link (issue 21): landing, identity check (the child's date of
birth and the guardian's own mobile phone), lock at 3, then a new or existing account."""

import html

from django.contrib.auth import get_user_model
from django.urls import reverse

from access.models import AccessEvent, Proxy, ProxyInvitation
from access.tests.proxies import proxy_events, proxy_snapshot
from clinic.models import Notification
from mail.models import Message
from portal.tests.conftest import (
    GUARDIAN_ANSWERS,
    PASSWORD,
    accept_as_new_account,
    confirm_guardian,
    open_proxy_link,
)

Action = AccessEvent.Action


def test_it_moves_the_token_to_the_session_and_says_whose_record_it_is(client, guardian_invited):
    response = open_proxy_link(client, guardian_invited.token)
    assert response.status_code == 302 and response["Location"] == reverse("portal:proxy-accept")
    assert response["Referrer-Policy"] == "no-referrer"
    page = client.get(response["Location"])
    assert guardian_invited.token not in page.content.decode()
    assert "access to Alex Rivera's portal as parent or guardian" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0") or "no-cache" in page["Cache-Control"]


def test_opening_the_link_many_times_changes_nothing(client, guardian_invited):
    before = proxy_snapshot()
    for _ in range(5):
        open_proxy_link(client, guardian_invited.token)
        client.get(reverse("portal:proxy-accept"))
    assert proxy_snapshot() == before


def test_right_answers_then_a_new_account_make_the_grant_active(client, cast, alex, guardian_invited):
    response = accept_as_new_account(client, guardian_invited.token)
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    proxy = Proxy.objects.get(pk=guardian_invited.proxy.pk)
    account = get_user_model().objects.get(username="jordan@example.test")
    assert (proxy.status, proxy.account, proxy.accepted_at is not None) == ("active", account, True)
    assert ProxyInvitation.objects.get(pk=guardian_invited.invitation.pk).status == "accepted"
    assert proxy_events(proxy) == [Action.IDENTITY_PASSED, Action.ACCOUNT_CREATED, Action.PROXY_ACCEPTED]
    accepted = AccessEvent.objects.get(proxy=proxy, action=Action.PROXY_ACCEPTED)
    assert (accepted.patient, accepted.actor, accepted.actor_role) == (alex, account, "proxy")
    assert Message.objects.filter(kind=Message.Kind.PROXY_CONNECTED, to="jordan@example.test").count() == 1
    home = html.unescape(client.get(reverse("portal:home")).content.decode())
    assert "You can now use Alex Rivera's portal." in home
    assert "Acting for <strong>Alex Rivera</strong>" in home


def test_the_third_wrong_answer_locks_the_link(client, guardian_invited):
    wrong = {**GUARDIAN_ANSWERS, "phone": "(555) 555-0198"}
    confirm_guardian(client, guardian_invited.token, wrong)
    assert "2 more tries" in client.get(reverse("portal:proxy-accept")).content.decode()
    client.post(reverse("portal:proxy-accept"), {**GUARDIAN_ANSWERS, "date_of_birth": "04/10/2016"})
    assert "last try" in client.get(reverse("portal:proxy-accept")).content.decode()
    response = client.post(reverse("portal:proxy-accept"), wrong)
    assert response["Location"] == reverse("portal:link-problem")
    invitation = ProxyInvitation.objects.get(pk=guardian_invited.invitation.pk)
    assert (invitation.status, invitation.failed_checks) == ("locked", 3)
    assert proxy_events(guardian_invited.proxy) == [Action.IDENTITY_FAILED] * 3 + [Action.INVITATION_LOCKED]
    assert Notification.objects.filter(patient=guardian_invited.proxy.patient).count() == 2  # Alice and Dr. Dorsey
    assert "This invitation is locked" in client.get(response["Location"]).content.decode()
    before = proxy_snapshot()
    client.post(reverse("portal:proxy-accept"), GUARDIAN_ANSWERS)  # nothing in progress any more
    assert proxy_snapshot() == before


def test_an_existing_account_signs_in_to_accept(client, cast, guardian_invited):
    get_user_model().objects.create_user("jordan@example.test", "jordan@example.test", PASSWORD)
    confirm_guardian(client, guardian_invited.token)
    page = client.get(reverse("portal:proxy-account")).content.decode()
    assert "Sign in to continue" in page
    client.post(reverse("portal:proxy-account"), {"password": "not-it"})
    assert Proxy.objects.get(pk=guardian_invited.proxy.pk).status == "invited"
    response = client.post(reverse("portal:proxy-account"), {"password": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    assert Proxy.objects.get(pk=guardian_invited.proxy.pk).account.username == "jordan@example.test"


def test_dead_links_say_why_on_the_patients_dead_link_pages(client, guardian_invited, clock):
    import datetime

    response = open_proxy_link(client, "x" * 43)
    assert "This link is not valid" in client.get(response["Location"]).content.decode()
    ProxyInvitation.objects.filter(pk=guardian_invited.invitation.pk).update(status="revoked")
    open_proxy_link(client, guardian_invited.token)
    page = client.get(reverse("portal:link-problem")).content.decode()
    assert "This invitation is no longer valid" in page and "Maple Street Clinic" in page
    ProxyInvitation.objects.filter(pk=guardian_invited.invitation.pk).update(status="pending")
    clock.move_to(guardian_invited.invitation.expires_at + datetime.timedelta(seconds=1))
    open_proxy_link(client, guardian_invited.token)
    page = client.get(reverse("portal:link-problem")).content.decode()
    assert "This invitation has expired" in page and 'data-testid="renew"' not in page  # no patient renewal here


def test_someone_else_signed_in_is_asked_to_sign_out_first(client, cast, guardian_invited):
    client.force_login(cast.alice.user)
    open_proxy_link(client, guardian_invited.token)
    response = client.get(reverse("portal:proxy-accept"))
    assert response.status_code == 409 and "Someone else is signed in" in response.content.decode()
    assert reverse("portal:proxy-sign-out-and-continue") in response.content.decode()
    response = client.post(reverse("portal:proxy-sign-out-and-continue"))
    assert response["Location"] == reverse("portal:proxy-accept")
    assert "Confirm your identity" in client.get(response["Location"]).content.decode()


def test_a_refused_caregiver_invite_keeps_what_was_typed(client, connected):
    client.post(reverse("portal:invite-caregiver"), {"first_name": "Robin", "last_name": "Jones", "email": "nope",
                                                     "relationship": "spouse", "level": "full",
                                                     "connection": connected.pk})
    page = client.get(reverse("portal:my-account")).content.decode()
    assert 'value="Robin"' in page and 'value="nope"' in page
