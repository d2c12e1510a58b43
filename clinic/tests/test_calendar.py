import datetime

import pytest
from django.urls import reverse

from clinic.models import Appointment, Patient

URL = reverse("clinic:calendar")
# Wed 25 Nov 2026 in New York.
DAY = datetime.date(2026, 11, 25)


def at(hour: int, day: datetime.date = DAY) -> datetime.datetime:
    """`hour` o'clock in New York (EST, UTC-5) on `day`."""
    return datetime.datetime(day.year, day.month, day.day, hour, 0, tzinfo=datetime.UTC) + datetime.timedelta(hours=5)


def book(cast, patient, start, doctor=None, reason="Check-up") -> Appointment:
    return Appointment.objects.create(
        practice=patient.practice, patient=patient, doctor=doctor or cast.dora, starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30), reason=reason,
    )


def shown(response) -> list[str]:
    return [a.reason for _, appointments in response.context["days"] for a in appointments]


def test_it_requires_login(client, cast):
    assert client.get(URL).status_code == 302


def test_it_hides_other_practice(client, cast):
    book(cast, cast.bea, at(9), doctor=cast.bob, reason="Harbor visit")
    book(cast, cast.pat, at(9), reason="Maple visit")
    client.force_login(cast.alice.user)
    assert shown(client.get(URL, {"date": "2026-11-25"})) == ["Maple visit"]


def test_it_shows_one_day_in_the_practice_time_zone(client, cast):
    book(cast, cast.pat, at(9), reason="Morning")
    book(cast, cast.ned, at(20), reason="Evening")  # 01:00 UTC the next day, still the 25th in New York
    book(cast, cast.ned, at(9, DAY + datetime.timedelta(days=1)), reason="Tomorrow")
    client.force_login(cast.alice.user)
    response = client.get(URL, {"date": "2026-11-25", "view": "day"})
    assert shown(response) == ["Morning", "Evening"]
    html = response.content.decode()
    assert "9:00 AM" in html and "8:00 PM" in html
    assert ">Not invited<" in html and ">Not eligible<" in html


def test_it_shows_a_week_from_monday(client, cast):
    book(cast, cast.pat, at(9, datetime.date(2026, 11, 23)), reason="Monday")
    book(cast, cast.pat, at(9, datetime.date(2026, 11, 29)), reason="Sunday")
    book(cast, cast.pat, at(9, datetime.date(2026, 11, 30)), reason="Next Monday")
    client.force_login(cast.alice.user)
    response = client.get(URL, {"date": "2026-11-25", "view": "week"})
    assert [d for d, _ in response.context["days"]][0] == datetime.date(2026, 11, 23)
    assert shown(response) == ["Monday", "Sunday"]


def test_it_filters_by_doctor(client, cast):
    from clinic.models import StaffMember

    other = StaffMember.objects.create(user=cast.alice.user.__class__.objects.create_user("doc2", last_name="Diaz"),
                                       practice=cast.practice, role=StaffMember.Role.DOCTOR)
    book(cast, cast.pat, at(9), reason="With Dorsey")
    book(cast, cast.pat, at(10), doctor=other, reason="With Diaz")
    client.force_login(cast.alice.user)
    assert shown(client.get(URL, {"date": "2026-11-25", "doctor": other.pk})) == ["With Diaz"]
    assert shown(client.get(URL, {"date": "2026-11-25"})) == ["With Dorsey", "With Diaz"]


def test_it_ignores_a_bad_date(client, cast):
    client.force_login(cast.alice.user)
    assert client.get(URL, {"date": "not-a-date", "view": "month"}).status_code == 200


@pytest.mark.parametrize("view", ["day", "week"])
@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01"])
def test_it_refuses_a_date_at_the_ends_of_the_calendar_with_a_message(client, cast, date, view):
    client.force_login(cast.alice.user)
    response = client.get(URL, {"date": date, "view": view})
    assert response.status_code == 200
    assert "Choose a date between 1900 and 2999." in response.content.decode()
    assert response.context["first"] <= response.context["today"] <= response.context["last"]  # shows today


@pytest.mark.parametrize("view", ["day", "week"])
@pytest.mark.parametrize("date", ["2999-12-31", "1900-01-01"])
def test_it_shows_the_first_and_last_dates_it_allows(client, cast, date, view):
    client.force_login(cast.alice.user)
    response = client.get(URL, {"date": date, "view": view})
    assert response.status_code == 200
    assert datetime.date.fromisoformat(date) in dict(response.context["days"])


def test_it_runs_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    patients = Patient.objects.bulk_create(
        Patient(practice=cast.practice, chart_number=f"C-{i}", first_name=f"P{i}", last_name="Q") for i in range(30)
    )
    for i, patient in enumerate(patients):
        book(cast, patient, at(8 + i % 10, DAY + datetime.timedelta(days=i % 5 - 2)))
    client.force_login(cast.alice.user)
    with django_assert_max_num_queries(12):
        response = client.get(URL, {"date": "2026-11-25", "view": "week"})
    assert len(shown(response)) == 30
