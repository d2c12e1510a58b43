"""The staff's Access requests pages: the queue with its match flags, a request beside a chart, approve
(with the email choice when the addresses differ), decline, New patient prefilled; the navigation
count; the public address on Settings."""

import datetime

from django.urls import reverse

from access.actions import requests
from access.models import AccessEvent, AccessRequest, Invitation
from clinic.models import Patient, StaffMember

PAT = {"first_name": "Pat", "last_name": "Jones", "date_of_birth": datetime.date(1980, 5, 17),
       "email": "pat@example.test", "phone": "+15555550123"}
LIST = reverse("clinic:access-requests")


def ask(practice, **changes) -> AccessRequest:
    return requests.request_access(practice, **{**PAT, **changes})


def detail(access_request) -> str:
    return reverse("clinic:access-request", args=[access_request.pk])


def test_it_requires_login(client, cast):
    access_request = ask(cast.practice)
    for path in (LIST, detail(access_request)):
        assert client.get(path).status_code == 302


def test_it_lists_open_requests_with_their_match_flags(client, cast):
    ask(cast.practice)
    ask(cast.practice, first_name="Xavier", email="x@example.test")
    client.force_login(cast.alice.user)
    html = client.get(LIST).content.decode()
    assert "One match" in html and "No match" in html and "A-100" in html
    assert "2 open requests" in html
    # The navigation shows the count.
    assert 'data-testid="requests-nav">Access requests <span class="count-pill">2' in html


def test_the_navigation_count_adds_no_query(client, cast, django_assert_max_num_queries):
    client.force_login(cast.alice.user)
    ask(cast.practice)
    client.get(reverse("clinic:patients"))  # saves the session; the next GET, within the minute, does not
    # as test_patients: session, user, staff, practice, bell + requests (one), count, page, the page's
    # invitations and connections
    with django_assert_max_num_queries(9):
        client.get(reverse("clinic:patients"))


def test_the_detail_shows_the_request_beside_the_one_matching_chart(client, cast):
    access_request = ask(cast.practice, email="pat.new@example.test", note="Registered as Patricia")
    client.force_login(cast.alice.user)
    html = client.get(detail(access_request)).content.decode()
    assert "Chart A-100" in html and "pat.new@example.test" in html and "Registered as Patricia" in html
    assert "(differs)" in html and 'name="email_choice"' in html
    assert "New patient from this request" in html


def test_approve_without_the_email_choice_is_refused_then_with_it_sent(client, cast):
    access_request = ask(cast.practice, email="pat.new@example.test")
    client.force_login(cast.alice.user)
    approve = reverse("clinic:access-request-approve", args=[access_request.pk])
    response = client.post(approve, {"patient": cast.pat.pk}, follow=True)
    assert "choose to update the chart&#x27;s email" in response.content.decode()
    assert not Invitation.objects.exists()
    response = client.post(approve, {"patient": cast.pat.pk, "email_choice": "keep"}, follow=True)
    assert "was sent a portal invitation at pat@example.test" in response.content.decode()
    access_request.refresh_from_db()
    assert access_request.status == "approved"
    assert Invitation.objects.get().channel == "request"


def test_decline_with_a_reason(client, cast):
    access_request = ask(cast.practice)
    client.force_login(cast.alice.user)
    decline = reverse("clinic:access-request-decline", args=[access_request.pk])
    assert "Choose a reason" in client.post(decline, {}, follow=True).content.decode()
    response = client.post(decline, {"reason": "not_a_patient"}, follow=True)
    assert "they were emailed the reason" in response.content.decode()
    access_request.refresh_from_db()
    assert access_request.status == "declined"
    html = client.get(detail(access_request)).content.decode()
    assert "Declined" in html and "We could not find you among our patients" in html


def test_it_hides_other_practices_requests_and_charts(client, cast):
    theirs = ask(cast.other_practice, first_name="Bea")
    mine = ask(cast.practice)
    client.force_login(cast.alice.user)
    assert client.get(detail(theirs)).status_code == 404
    assert client.post(reverse("clinic:access-request-decline", args=[theirs.pk]),
                       {"reason": "contact_us"}).status_code == 404
    assert client.get(detail(mine), {"patient": cast.bea.pk}).status_code == 404
    assert client.post(reverse("clinic:access-request-approve", args=[mine.pk]),
                       {"patient": cast.bea.pk, "email_choice": "keep"}).status_code == 404
    assert AccessEvent.objects.filter(action="security.foreign_id").count() == 4
    assert not Invitation.objects.exists()


def test_it_rejects_get_on_the_buttons(client, cast):
    access_request = ask(cast.practice)
    client.force_login(cast.alice.user)
    for name in ("clinic:access-request-approve", "clinic:access-request-decline"):
        assert client.get(reverse(name, args=[access_request.pk])).status_code == 405


def test_new_patient_is_prefilled_and_comes_back_to_the_request(client, cast):
    access_request = ask(cast.practice, first_name="Nia", last_name="Okafor", email="nia@example.test")
    client.force_login(cast.alice.user)
    page = client.get(detail(access_request))
    new_url = page.context["new_patient_url"]
    assert new_url == f"{reverse('clinic:new-patient')}?from_request={access_request.pk}"  # no details in a URL
    html = client.get(new_url).content.decode()
    assert 'value="Nia"' in html and 'value="nia@example.test"' in html and 'value="1980-05-17"' in html
    response = client.post(new_url, {"chart_number": "A-555", "first_name": "Nia", "last_name": "Okafor",
                                     "date_of_birth": "1980-05-17", "email": "nia@example.test",
                                     "phone": "+15555550123"})
    patient = Patient.objects.get(chart_number="A-555")
    assert response["Location"] == f"{detail(access_request)}?patient={patient.pk}"


def test_settings_show_the_public_address(client, cast):
    StaffMember.objects.filter(pk=cast.alice.pk).update(role=StaffMember.Role.ADMIN)
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:settings")).content.decode()
    assert f'value="https://portal.example.test/portal/request/{cast.practice.pk}/" readonly' in html
    assert "data-copy=" in html


def test_updating_the_email_of_a_chart_with_an_old_error_elsewhere_still_answers(client, cast):
    """Only the email is checked when approving changes it: a chart with another field that would fail
    today's checks (a date of birth of 1899) gets the new email, not a 500."""
    Patient.objects.filter(pk=cast.pat.pk).update(date_of_birth=datetime.date(1899, 1, 1))
    access_request = ask(cast.practice, email="pat.new@example.test")
    client.force_login(cast.alice.user)
    approve = reverse("clinic:access-request-approve", args=[access_request.pk])
    response = client.post(approve, {"patient": cast.pat.pk, "email_choice": "update"}, follow=True)
    assert response.status_code == 200
    assert Patient.objects.get(pk=cast.pat.pk).email == "pat.new@example.test"
    assert Invitation.objects.get().email == "pat.new@example.test"


def test_another_practices_request_cannot_prefill_a_chart(client, cast):
    theirs = ask(cast.other_practice, first_name="Bea")
    client.force_login(cast.alice.user)
    assert client.get(f"{reverse('clinic:new-patient')}?from_request={theirs.pk}").status_code == 404
