"""Caregivers from My account (issue 21): a connected adult invites one, sees the one-time code once,
lists and revokes grants on their record; the caregiver accepts with the link and the code. Ids in
forms are looked up among the account's own records only."""

import html
import re

from django.test import Client
from django.urls import reverse

from access.models import AccessEvent, Proxy, ProxyInvitation
from access.tests.proxies import invite_guardian, proxy_snapshot
from mail.models import Message
from portal.tests.conftest import PASSWORD

ACCOUNT, INVITE, CODE, REVOKE = (reverse("portal:my-account"), reverse("portal:invite-caregiver"),
                                 reverse("portal:caregiver-code"), reverse("portal:revoke-proxy"))
ROBIN = {"first_name": "Robin", "last_name": "Jones", "email": "robin@example.test", "relationship": "spouse",
         "level": "full"}


def _page(response) -> str:
    return html.unescape(response.content.decode())


def _invite(client, connected, **changes):
    return client.post(INVITE, {**ROBIN, "connection": connected.pk, **changes})


def test_an_adult_patient_invites_a_caregiver_and_sees_the_code_once(client, connected):
    assert "Invite a caregiver" in _page(client.get(ACCOUNT))
    response = _invite(client, connected)
    assert response["Location"] == CODE
    page = _page(client.get(CODE))
    code = re.search(r'data-testid="caregiver-code">([A-Z0-9-]{11})<', page).group(1)
    assert "This page shows the code only once." in page and "Robin Jones" in page
    assert client.get(CODE)["Location"] == ACCOUNT  # gone on reload
    assert code not in str(Message.objects.get(kind=Message.Kind.CAREGIVER_INVITATION).context)
    listed = _page(client.get(ACCOUNT))
    assert "Robin Jones" in listed and "invitation waiting" in listed and code not in listed


def test_a_refused_invite_says_why_and_changes_nothing(client, connected):
    _invite(client, connected)
    before = proxy_snapshot()
    response = _invite(client, connected, email="ROBIN@example.test")
    assert response["Location"].startswith(ACCOUNT)
    assert "already has access to your portal, or an invitation waiting" in _page(client.get(ACCOUNT))
    _invite(client, connected, email="not an address", relationship="boss")
    page = _page(client.get(ACCOUNT))
    assert "Enter an email address like name@example.com." in page and "Select a valid choice" in page
    assert proxy_snapshot() == before


def test_another_accounts_connection_is_refused(client, cast, connected):
    response = _invite(client, connected, connection=connected.pk + 1000)
    assert response.status_code == 302 and not Proxy.objects.exists()  # not among the form's choices


def test_the_patient_revokes_and_another_patients_grant_is_a_404(client, cast, connected, alex, clock):
    _invite(client, connected)
    proxy = Proxy.objects.get()
    someone_elses = invite_guardian(alex).proxy
    before = proxy_snapshot()
    assert client.post(REVOKE, {"proxy": someone_elses.pk}).status_code == 404
    assert client.post(REVOKE, {"proxy": "abc"}).status_code == 404
    assert proxy_snapshot() == before
    response = client.post(REVOKE, {"proxy": proxy.pk})
    assert response.status_code == 302
    assert Proxy.objects.get(pk=proxy.pk).status == "revoked"
    assert ProxyInvitation.objects.get(proxy=proxy).status == "revoked"
    assert "Robin Jones can no longer use your portal." in _page(client.get(ACCOUNT))
    assert AccessEvent.objects.filter(proxy=proxy, action="proxy.revoked", actor=connected.account).count() == 1


def test_the_caregiver_accepts_with_the_link_and_the_code(client, cast, connected):
    _invite(client, connected)
    code = re.search(r'data-testid="caregiver-code">([A-Z0-9-]{11})<', _page(client.get(CODE))).group(1)
    link = Message.objects.get(kind=Message.Kind.CAREGIVER_INVITATION).secret_link
    robin = Client()
    landing = robin.get(link.replace("https://portal.example.test", ""))
    assert landing["Location"] == reverse("portal:proxy-accept")
    page = _page(robin.get(landing["Location"]))
    assert "use Pat Jones's portal at Maple Street Clinic as their caregiver" in page and "One-time code" in page
    robin.post(reverse("portal:proxy-accept"), {"code": code.lower().replace("-", " ")})
    response = robin.post(reverse("portal:proxy-account"), {"password1": PASSWORD, "password2": PASSWORD})
    assert response["Location"] == reverse("portal:home")
    home = _page(robin.get(reverse("portal:home")))
    assert "Acting for <strong>Pat Jones</strong>" in home and "123-45-6789" not in home
    proxy = Proxy.objects.get()
    assert (proxy.status, proxy.account.username) == ("active", "robin@example.test")
    # The patient revokes; the caregiver's very next page no longer shows Pat.
    client.post(REVOKE, {"proxy": proxy.pk})
    home = _page(robin.get(reverse("portal:home")))
    assert "Pat Jones" not in home and "Maple Street Clinic" not in home


def test_a_teen_patient_is_not_offered_the_form(client, cast, connected):
    type(cast.pat).objects.filter(pk=cast.pat.pk).update(date_of_birth="2012-01-01")
    page = _page(client.get(ACCOUNT))
    assert "Invite a caregiver" not in page
    before = proxy_snapshot()
    _invite(client, connected)
    assert proxy_snapshot() == before


def test_the_forms_need_csrf(cast, connected):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(connected.account)
    assert strict.post(INVITE, {**ROBIN, "connection": connected.pk}).status_code == 403
    assert strict.post(REVOKE, {"proxy": 1}).status_code == 403
