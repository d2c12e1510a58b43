"""One account, many people (issue 21): the portal home lists "You" and everyone the account acts for;
choosing one (a plain form) shows that person's practice and appointments, their name on every page;
a limited grant shows appointments and contact only; a revoked grant is gone on the next request."""

import datetime
import html

import pytest
from django.test import Client
from django.urls import reverse

from access.actions import proxy_acceptance
from access.actions.proxy_acceptance import ProxyAnswers
from access.models import AccessEvent, Proxy
from access.tests.proxies import invite_guardian
from clinic.models import Appointment, Patient
from conftest import NOW
from portal.tests.conftest import PASSWORD

HOME, CHOOSE = reverse("portal:home"), reverse("portal:choose-person")
Action = AccessEvent.Action


def _accept(pending, *, account=None):
    proof = proxy_acceptance.verify_proxy_identity(pending.token, ProxyAnswers(
        date_of_birth=pending.proxy.patient.date_of_birth, phone="(555) 555-0199")).proof
    return proxy_acceptance.accept_proxy_invitation(pending.token, proof=proof, account=account,
                                                    password=None if account else PASSWORD)


def _page(client, url=HOME) -> str:
    return html.unescape(client.get(url).content.decode())


@pytest.fixture
def family(cast, alex, clock):
    """Jordan acts for Alex (full) and Mia (limited), each with an appointment; Jordan is signed in."""
    mia = Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number="A-301", first_name="Mia",
                                 last_name="Rivera", date_of_birth=datetime.date(2013, 6, 1), ssn="567891234")
    for child, reason in ((alex, "Vaccines"), (mia, "Sports physical")):
        Appointment.objects.create(practice=cast.practice, patient=child, doctor=cast.dora, reason=reason,
                                   starts_at=NOW + datetime.timedelta(days=2),
                                   ends_at=NOW + datetime.timedelta(days=2, minutes=30))
    first = _accept(invite_guardian(alex))
    second = _accept(invite_guardian(mia, level="limited"), account=first.account)
    client = Client()
    client.force_login(first.account)
    return client, first, second


def test_it_lists_the_people_and_shows_the_chosen_one(family):
    client, alex_grant, mia_grant = family
    page = _page(client)
    assert "Choose whose portal to open." in page and "Alex Rivera" in page and "Mia Rivera" in page
    assert "Vaccines" not in page and "person-self" not in page  # Jordan is no patient: no "You"
    client.post(CHOOSE, {"person": alex_grant.pk})
    page = _page(client)
    assert "Acting for Alex Rivera" in page.replace("<strong>", "").replace("</strong>", "")
    assert "Vaccines" in page and "Sports physical" not in page and "2016" in page  # full: the details too
    assert "Acting for <strong>Alex Rivera</strong>" in _page(client, reverse("portal:my-account"))


def test_a_limited_grant_shows_appointments_and_contact_only(family, cast):
    client, _, mia_grant = family
    client.post(CHOOSE, {"person": mia_grant.pk})
    page = _page(client)
    assert "Sports physical" in page and "Contact the practice" in page
    assert 'data-testid="patient-details"' not in page and "***-**-1234" not in page and "2013" not in page


def test_choosing_is_recorded_once_per_choice_not_per_page(family, alex):
    client, alex_grant, mia_grant = family
    client.post(CHOOSE, {"person": alex_grant.pk})
    client.post(CHOOSE, {"person": alex_grant.pk})
    for _ in range(3):
        client.get(HOME)
    client.post(CHOOSE, {"person": mia_grant.pk})
    signed_in = list(AccessEvent.objects.filter(action=Action.PROXY_SIGNED_IN).order_by("id")
                     .values_list("patient__first_name", "proxy", "actor"))
    assert signed_in == [("Alex", alex_grant.pk, alex_grant.account_id), ("Mia", mia_grant.pk, mia_grant.account_id)]


def test_another_accounts_grant_or_a_made_up_id_is_refused_and_tells_nothing(family, cast):
    client, alex_grant, _ = family
    noa = Patient.objects.create(practice=cast.practice, chart_number="A-302", first_name="Noa", last_name="Park",
                                 date_of_birth=datetime.date(2017, 2, 2))
    stranger = _accept(invite_guardian(noa, email="kim@example.test"))  # another family's grant
    events = AccessEvent.objects.count()
    for person in (stranger.pk, 999999, "x", ""):
        response = client.post(CHOOSE, {"person": person})
        assert response.status_code == 404 and "Noa" not in response.content.decode()
    assert AccessEvent.objects.count() == events


def test_a_revoked_grant_loses_access_on_the_next_request(family):
    client, alex_grant, mia_grant = family
    client.post(CHOOSE, {"person": alex_grant.pk})
    assert "Vaccines" in _page(client)
    Proxy.objects.filter(pk=alex_grant.pk).update(status=Proxy.Status.REVOKED)  # as staff or the patient would
    page = _page(client)
    assert "Vaccines" not in page and "Alex Rivera" not in page and "Mia Rivera" in page
    assert client.post(CHOOSE, {"person": alex_grant.pk}).status_code == 404
    client.post(CHOOSE, {"person": mia_grant.pk})
    assert "Sports physical" in _page(client)


def test_a_parent_who_is_a_patient_sees_you_and_their_children(client, cast, alex, connected):
    grant = _accept(invite_guardian(alex, email="pat@example.test"), account=cast.pat.connections.get().account)
    page = _page(client)
    assert 'data-testid="person-self"' in page and "Alex Rivera" in page and "Acting for yourself" in page.replace(
        "<strong>", "").replace("</strong>", "")
    assert "Maple Street Clinic" in page and "Connected since" in page
    client.post(CHOOSE, {"person": grant.pk})
    assert "Connected since" not in _page(client)
    client.post(CHOOSE, {"person": "self"})
    assert "Connected since" in _page(client)


def test_the_choice_form_needs_csrf(family):
    client, alex_grant, _ = family
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alex_grant.account)
    assert strict.post(CHOOSE, {"person": alex_grant.pk}).status_code == 403


def test_it_rejects_get(family):
    client, _, _ = family
    assert client.get(CHOOSE).status_code == 405


def test_a_family_sharing_one_email_has_one_account_for_everyone(cast, clock):
    """Pat, a patient with a portal account, and two children whose charts carry Pat's email: staff invite
    Pat as parent of each (the same address), Pat accepts both with the one account."""
    from access.actions import proxies
    from access.tests.helpers import connect
    from access.tests.proxy_helpers import accept

    _, own = connect(cast)
    children = [Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number=f"K-{n}", first_name=name,
                                       last_name="Jones", date_of_birth=datetime.date(2015 + n, 3, 1),
                                       email="pat@example.test") for n, name in enumerate(["Lee", "Sam"])]
    parent = proxies.Guardian("Pat", "Jones", "parent", "pat@example.test", "+15555550123")
    grants = [accept(proxies.invite_guardian(child, parent, by=cast.alice), own.account) for child in children]

    assert {grant.account for grant in grants} == {own.account}
    client = Client()
    client.force_login(own.account)
    page = _page(client)
    assert 'data-testid="person-self"' in page and "Lee Jones" in page and "Sam Jones" in page
