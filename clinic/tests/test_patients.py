import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from access.actions import outcomes, sending
from access.models import Channel
from access.tests.test_selectors import one_of_each  # noqa: F401 (a fixture: a patient in every state)
from clinic.models import Patient
from conftest import NOW as NOW_OF_CAST

NOW = datetime.datetime(2026, 11, 25, 15, 0, tzinfo=datetime.UTC)  # 10:00 in New York; invitations expire 2 Dec

URL = reverse("clinic:patients")


def names(response) -> list[str]:
    return [p.full_name for p in response.context["page"]]


def test_it_requires_login(client, cast):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_hides_from_signed_in_patients(client, cast, django_user_model):
    client.force_login(django_user_model.objects.create_user("patient@example.test", password="x"))
    assert client.get(URL).status_code == 404


def test_it_hides_other_practice(client, cast):
    client.force_login(cast.bob.user)
    response = client.get(URL)
    assert names(response) == ["Bea Hart"]
    assert b"Pat Jones" not in response.content


def test_it_shows_portal_status(client, cast):
    with time_machine.travel(NOW, tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    with time_machine.travel(NOW + datetime.timedelta(days=2), tick=False):
        client.force_login(cast.alice.user)
        response = client.get(URL)
    assert names(response) == ["Pat Jones", "Ned Stone"]
    assert "Pending · 5 days left" in response.content.decode()
    assert "Not eligible" in response.content.decode()


@pytest.mark.parametrize("q", ["pat", "Jones", "pat jones", "A-100", "a-100", "pat@example", "(555) 555-0123",
                               "5555550123"])
def test_it_searches(client, cast, q):
    client.force_login(cast.alice.user)
    assert names(client.get(URL, {"q": q})) == ["Pat Jones"]


def test_it_says_when_nothing_matches(client, cast):
    client.force_login(cast.alice.user)
    response = client.get(URL, {"q": "Bea"})
    assert names(response) == []
    assert b"No patients match" in response.content


def test_it_filters_by_status(client, cast):
    client.force_login(cast.alice.user)
    assert names(client.get(URL, {"status": "not_eligible"})) == ["Ned Stone"]
    assert names(client.get(URL, {"status": "not_invited"})) == ["Pat Jones"]
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    assert names(client.get(URL, {"status": "pending"})) == ["Pat Jones"]
    assert names(client.get(URL, {"status": "not_invited"})) == []


def test_it_ignores_an_unknown_status(client, cast):
    client.force_login(cast.alice.user)
    assert len(names(client.get(URL, {"status": "bogus"}))) == 2


def make_patients(practice, count: int) -> None:
    Patient.objects.bulk_create(
        Patient(practice=practice, chart_number=f"M-{i:04}", first_name=f"Many{i:04}", last_name="Moore",
                email=f"m{i}@example.test", date_of_birth=datetime.date(1970, 1, 1), phone="+15555550199")
        for i in range(count)
    )


def test_it_paginates(client, cast):
    make_patients(cast.practice, 60)
    client.force_login(cast.alice.user)
    response = client.get(URL, {"page": 3})
    assert response.context["page"].paginator.num_pages == 3
    assert len(names(response)) == 12
    assert b"Page 3 of 3" in response.content


def test_it_runs_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    make_patients(cast.practice, 80)
    for patient in Patient.objects.filter(chart_number__startswith="M-")[:10]:
        sending.send_invitation(patient, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    client.get(URL)  # saves the session (force_login's carries no save time); the next, within the minute, not
    # session, user, staff, practice, bell, count, page, and the page's invitations and connections
    # (access.selectors.add_portal_state)
    with django_assert_max_num_queries(9):
        response = client.get(URL)
    assert len(names(response)) == 25


def test_home_redirects_to_the_patient_list(client, cast):
    client.force_login(cast.alice.user)
    response = client.get(reverse("clinic:home"))
    assert response.status_code == 302
    assert response.url == URL


@pytest.mark.parametrize(("q", "found"), [("100", ["Pat Jones"]), ("101", ["Ned Stone"]), ("10", []),
                                          ("200", []), ("A100", [])])
def test_it_finds_a_chart_number_by_its_digits(client, cast, q, found):
    client.force_login(cast.alice.user)
    assert names(client.get(URL, {"q": q})) == found


def test_it_filters_those_needing_attention(client, cast, one_of_each):  # noqa: F811
    failed = Patient.objects.create(practice=cast.practice, chart_number="A-300", first_name="Fay", last_name="Lost",
                                    email="fay@example.test", ssn="123456780")
    with time_machine.travel(NOW_OF_CAST + datetime.timedelta(days=8, seconds=1), tick=False):  # as one_of_each
        sent = sending.send_invitation(failed, by=cast.alice, channel=Channel.CHART)
        outcomes.record_email_outcome(sent.invitation.pk, delivered=False)
        sending.send_invitation(cast.bea, by=cast.bob, channel=Channel.CHART)  # another practice's
        client.force_login(cast.alice.user)
        response = client.get(URL, {"status": "needs_attention"})
    found = {p.chart_number: p for p in response.context["page"]}
    assert set(found) == {"expired", "locked", "A-300"}
    assert found["A-300"].portal_state == "pending" and found["A-300"].email_failed
    html = response.content.decode()
    assert '<span class="badge email-failed">Email failed</span>' in html
    assert '<option value="needs_attention" selected>Needs attention (locked, expired, email failed)</option>' in html


def test_it_shows_when_each_patient_was_last_invited(client, cast):
    # 03:00 UTC on 26 Nov is still 25 Nov in New York, the practice's time zone.
    with time_machine.travel(datetime.datetime(2026, 11, 26, 3, 0, tzinfo=datetime.UTC), tick=False):
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        client.force_login(cast.alice.user)
        html = client.get(URL).content.decode()
    assert '<th scope="col">Last invited</th>' in html
    rows = re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', html, re.S)
    cell = r'<td class="desktop-only">([^<]*)</td>'
    last_invited = {re.sub("<[^>]+>", "", name): re.findall(cell, cells)[-1] for name, cells in rows}
    assert last_invited == {"Jones, Pat": "25 Nov 2026", "Stone, Ned": "—"}


def test_it_says_plainly_when_the_status_is_unknown(client, cast):
    client.force_login(cast.alice.user)
    html = client.get(URL, {"status": "bogus"}).content.decode()
    assert "There is no portal status “bogus”, so patients of every status are shown." in html
    assert "Select a valid choice" not in html


def test_the_attention_filter_runs_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    make_patients(cast.practice, 80)
    for patient in Patient.objects.filter(chart_number__startswith="M-")[:30]:
        sent = sending.send_invitation(patient, by=cast.alice, channel=Channel.CHART)
        outcomes.record_email_outcome(sent.invitation.pk, delivered=False)
    client.force_login(cast.alice.user)
    with django_assert_max_num_queries(10):
        response = client.get(URL, {"status": "needs_attention"})
    assert len(names(response)) == 25
