import datetime

from django.urls import reverse

from access.actions import sending
from access.models import AccessEvent, Channel
from clinic.models import Appointment


def add_appointments(cast, count: int) -> None:
    start = datetime.datetime(2026, 11, 20, 14, 0, tzinfo=datetime.UTC)
    Appointment.objects.bulk_create(
        Appointment(practice=cast.practice, patient=cast.pat, doctor=cast.dora, reason=f"Visit {i}",
                    starts_at=start + datetime.timedelta(days=i), ends_at=start + datetime.timedelta(days=i, minutes=30))
        for i in range(count)
    )


def test_it_requires_login(client, cast):
    for name in ("clinic:chart", "clinic:chart-appointments"):
        assert client.get(reverse(name, args=[cast.pat.pk])).status_code == 302


def test_it_hides_other_practice(client, cast):
    client.force_login(cast.bob.user)
    for name in ("clinic:chart", "clinic:chart-appointments"):
        assert client.get(reverse(name, args=[cast.pat.pk])).status_code == 404
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID, practice=cast.other_practice).count() == 2


def test_it_shows_the_chart_with_its_navigation(client, cast):
    add_appointments(cast, 2)
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:chart", args=[cast.pat.pk])).content.decode()
    for name in ("clinic:demographics", "clinic:chart-appointments", "clinic:portal-access"):
        assert reverse(name, args=[cast.pat.pk]) in html
    assert 'aria-label="Patient chart"' in html
    assert "***-**-6789" in html and "123456789" not in html
    assert ">Not invited<" in html
    assert "Visit 1" in html


def test_it_lists_the_patients_appointments(client, cast, django_assert_max_num_queries):
    add_appointments(cast, 40)
    client.force_login(cast.alice.user)
    # ... and the portal status for the chart header (one query)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("clinic:chart-appointments", args=[cast.pat.pk]))
    assert len(response.context["page"]) == 25
    assert b"Dr. Dorsey" in response.content


def test_it_runs_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    add_appointments(cast, 40)
    client.force_login(cast.alice.user)
    with django_assert_max_num_queries(11):
        client.get(reverse("clinic:chart", args=[cast.pat.pk]))


def test_every_tab_shows_the_portal_status_in_the_header(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    for name in ("clinic:chart", "clinic:demographics", "clinic:chart-appointments", "clinic:portal-access"):
        html = client.get(reverse(name, args=[cast.pat.pk])).content.decode()
        start = html.index('data-testid="chart-status"')
        header = html[start:html.index("</p>", start)]
        assert '<span class="badge pending">Pending</span>' in header, name
