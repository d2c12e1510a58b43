"""Booking, cancelling and closing appointments (clinic.services and the Book appointment page), and
the practice's automatic invitations that fire from them."""

import datetime
import re
import threading
import time
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from access.models import AccessEvent, Invitation
from clinic import services
from clinic.models import Appointment, Patient, Practice
from conftest import NOW, at_once, postgres_only

# 10:00 AM in New York on 3 November 2026 (the cast's practice).
START = datetime.datetime(2026, 11, 3, 15, 0, tzinfo=datetime.UTC)
URL = reverse("clinic:book-appointment")


def book(cast, patient=None, start=START, minutes=30, doctor=None) -> Appointment:
    return services.book_appointment(patient=patient or cast.pat, doctor=doctor or cast.dora, starts_at=start,
                                     minutes=minutes, reason="Check-up", by=cast.alice)


def auto(cast, setting: str) -> None:
    cast.practice.auto_invite = setting
    cast.practice.save()


@time_machine.travel(NOW, tick=False)
def test_booking_the_same_patient_twice_invites_once(cast):
    auto(cast, Practice.AutoInvite.BOOKED)
    book(cast)
    book(cast, start=START + datetime.timedelta(days=7))
    invitation = Invitation.objects.get()
    assert (invitation.channel, invitation.sent_by, invitation.status) == ("automatic", None, "pending")
    event = AccessEvent.objects.get(action=AccessEvent.Action.INVITATION_SENT)
    assert (event.actor_kind, event.reason) == ("system", "Automatic: when an appointment is booked")


@pytest.mark.django_db(transaction=True)
def test_a_process_dying_between_the_booking_and_its_invitation_commits_neither(cast):
    auto(cast, Practice.AutoInvite.BOOKED)
    with mock.patch("access.actions.automatic.invite_automatically", side_effect=SystemExit), pytest.raises(SystemExit):
        book(cast)
    assert not Appointment.objects.exists() and not Invitation.objects.exists()
    book(cast)  # booked again, it is invited with it
    assert Appointment.objects.count() == Invitation.objects.count() == 1


@pytest.mark.parametrize(("failing", "error"), [
    ("access.actions.sending.send_many", DatabaseError("disk I/O error")),  # the database
    ("mail.messages.queue_invitations", ValueError("cannot decrypt a field")),  # anything else
])
@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_invitation_rolls_back_only_the_invitation(cast, caplog, failing, error):
    auto(cast, Practice.AutoInvite.BOOKED)
    with mock.patch(failing, side_effect=error):
        appointment = book(cast)
    assert list(Appointment.objects.values_list("pk", flat=True)) == [appointment.pk]
    assert not Invitation.objects.exists() and not AccessEvent.objects.exists()
    assert "automatic invitation of patient" in caplog.text and str(error) in caplog.text


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_during_the_invitation_is_raised_not_reported_as_a_booking(cast):
    auto(cast, Practice.AutoInvite.BOOKED)

    def connection_dies(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with mock.patch("access.actions.sending.send_many", side_effect=connection_dies), pytest.raises(DatabaseError):
        book(cast)
    connection.close()
    assert not Appointment.objects.exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_patient_held_by_a_bulk_chunk_delays_only_their_own_booking(cast):
    auto(cast, Practice.AutoInvite.BOOKED)
    held, done = threading.Event(), threading.Event()

    def chunk():  # stands for a bulk invitation chunk holding Pat's row
        with transaction.atomic():
            Patient.objects.select_for_update(no_key=True).filter(pk=cast.pat.pk).values_list("pk").get()
            held.set()
            done.wait(10)
        connection.close()

    holder = threading.Thread(target=chunk)
    holder.start()
    held.wait(10)
    pat = threading.Thread(target=lambda: (book(cast, cast.pat), connection.close()))
    pat.start()
    time.sleep(0.3)  # Pat's booking is now waiting for the chunk
    book(cast, cast.ned, start=START + datetime.timedelta(hours=2))  # same doctor: must not wait
    assert pat.is_alive() and Appointment.objects.filter(patient=cast.ned).exists()
    done.set()
    holder.join(10)
    pat.join(10)
    assert Appointment.objects.count() == 2


@time_machine.travel(NOW, tick=False)
def test_automatic_invitations_are_off_by_default_and_skip_the_ineligible(cast):
    book(cast)
    assert not Invitation.objects.exists()
    auto(cast, Practice.AutoInvite.BOOKED)
    appointment = book(cast, cast.ned, start=START + datetime.timedelta(hours=1))
    assert appointment.pk and not Invitation.objects.exists()  # booked all the same


@time_machine.travel(NOW, tick=False)
def test_a_patient_invited_before_is_left_to_staff_and_reinvites(cast):
    auto(cast, Practice.AutoInvite.BOOKED)
    book(cast)
    Invitation.objects.update(status="revoked")
    book(cast, start=START + datetime.timedelta(days=1))
    assert Invitation.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_after_the_first_completed_appointment_only(cast):
    auto(cast, Practice.AutoInvite.COMPLETED)
    first = book(cast)
    assert not Invitation.objects.exists()  # booking alone does not
    services.complete_appointment(appointment=first, by=cast.alice)
    assert Invitation.objects.count() == 1
    Invitation.objects.update(status="revoked")
    second = book(cast, start=START + datetime.timedelta(days=1))
    services.complete_appointment(appointment=second, by=cast.alice)
    assert Invitation.objects.count() == 1  # not the first completed appointment


def test_a_doctor_cannot_be_booked_twice_at_once(cast):
    book(cast)
    for start, minutes in [(START, 30), (START + datetime.timedelta(minutes=29), 15),
                           (START - datetime.timedelta(minutes=15), 16)]:
        with pytest.raises(ValidationError) as refused:
            book(cast, cast.ned, start=start, minutes=minutes)
        assert refused.value.message_dict["starts_at"] == [
            "Dr. Dorsey already has an appointment then (10:00 AM to 10:30 AM)."]
    assert Appointment.objects.count() == 1
    book(cast, cast.ned, start=START + datetime.timedelta(minutes=30))  # back to back is fine
    book(cast, cast.ned, start=START - datetime.timedelta(minutes=15), minutes=15)


def test_a_cancelled_or_missed_appointment_frees_the_doctor(cast):
    services.cancel_appointment(appointment=book(cast), by=cast.alice)
    services.mark_no_show(appointment=book(cast), by=cast.alice)
    assert book(cast).status == "scheduled"


def test_it_refuses_bad_input(cast):
    naive = START.replace(tzinfo=None)
    cases = [({"starts_at": naive}, "starts_at"), ({"minutes": 4}, "minutes"), ({"minutes": 481}, "minutes"),
             ({"doctor": cast.alice}, "doctor"), ({"patient": cast.bea}, "doctor")]
    for change, field in cases:
        args = {"patient": cast.pat, "doctor": cast.dora, "starts_at": START, "minutes": 30, **change}
        with pytest.raises(ValidationError) as refused:
            services.book_appointment(**args, by=cast.alice)
        assert field in refused.value.message_dict
    assert not Appointment.objects.exists()
    assert book(cast, minutes=5).ends_at == START + datetime.timedelta(minutes=5)
    assert book(cast, minutes=480, start=START + datetime.timedelta(hours=1)).ends_at == START + datetime.timedelta(hours=9)


def test_a_closed_appointment_cannot_be_closed_again(cast):
    appointment = services.complete_appointment(appointment=book(cast), by=cast.alice)
    for step in (services.cancel_appointment, services.mark_no_show, services.complete_appointment):
        with pytest.raises(ValidationError, match="This appointment is already completed."):
            step(appointment=appointment, by=cast.alice)
    assert Appointment.objects.get().status == "completed"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_bookings_of_one_doctor_at_once_give_one_appointment(cast):
    outcomes = at_once(lambda: book(cast), lambda: book(cast, cast.ned))
    assert sorted(type(o).__name__ for o in outcomes) == ["Appointment", "ValidationError"]
    assert Appointment.objects.count() == 1


# --- the pages ------------------------------------------------------------------------------------

def form(cast, **changes) -> dict:
    return {"chart_number": "A-100", "doctor": str(cast.dora.pk), "date": "2026-11-03", "time": "10:00",
            "minutes": "30", "reason": "Check-up", **changes}


def test_it_requires_login(client, cast):
    assert client.post(URL, form(cast)).status_code == 302
    assert not Appointment.objects.exists()


def test_it_hides_other_practice(client, cast):
    client.force_login(cast.bob.user)
    assert client.get(f"{URL}?patient={cast.pat.pk}").status_code == 404
    response = client.post(URL, form(cast, doctor=str(cast.dora.pk)))
    assert response.status_code == 200 and not Appointment.objects.exists()


def test_staff_book_from_the_calendar_in_the_practices_time_zone(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(URL, form(cast))
    assert response.status_code == 302 and response["Location"] == reverse("clinic:calendar") + "?date=2026-11-03"
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.starts_at, appointment.ends_at) == (
        cast.pat, START, START + datetime.timedelta(minutes=30))


def test_from_the_chart_the_patient_is_given(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(f"{URL}?patient={cast.ned.pk}", form(cast, chart_number="A-100"))
    assert response.status_code == 302 and Appointment.objects.get().patient == cast.ned


def test_the_page_shows_a_double_booking_and_an_unknown_chart_number(client, cast):
    book(cast)
    client.force_login(cast.alice.user)
    errors = client.post(URL, form(cast, chart_number="A-101", time="10:15")).context["form"].errors
    assert errors["time"] == ["Dr. Dorsey already has an appointment then (10:00 AM to 10:30 AM)."]
    errors = client.post(URL, form(cast, chart_number="Z-9")).context["form"].errors
    assert errors["chart_number"] == ["No patient has the chart number Z-9."]
    assert Appointment.objects.count() == 1


# --- finding the patient to book (the patient field; without script, a search step) ---------------

CHOICES = reverse("clinic:book-patient-choices")


@pytest.mark.parametrize(("q", "found"), [
    ("jon", ["Jones, Pat"]), ("Pat Jo", ["Jones, Pat"]), ("1980-05-17", ["Jones, Pat"]), ("05/17/1980", ["Jones, Pat"]),
    ("A-101", ["Stone, Ned"]), ("101", ["Stone, Ned"]), ("(555) 555-0123", ["Jones, Pat"]), ("Hart", []),
    ("1999-01-01", []),
])
def test_staff_find_the_patient_by_name_birth_date_chart_number_or_phone(client, cast, q, found):
    client.force_login(cast.alice.user)
    options = client.get(CHOICES, {"q": q}).content.decode()
    assert re.findall(r'<li role="option"[^>]*>([^,<]+, [^ ]+) ·', options) == found
    page = client.get(URL, {"q": q, "date": "2026-11-03"}).content.decode()
    links = re.findall(r'<a href="\?patient=(\d+)&amp;date=2026-11-03">Book for ([^,<]+, [^ ]+) ·', page)
    assert [name for _, name in links] == found  # the same, as links: the step without script
    by_name = {p.full_name: p.pk for p in (cast.pat, cast.ned)}
    assert [int(pk) for pk, _ in links] == [by_name[" ".join(reversed(n.split(", ")))] for n in found]


def test_an_option_carries_the_chart_number_it_fills_in(client, cast):
    client.force_login(cast.alice.user)
    options = client.get(CHOICES, {"q": "Pat"}).content.decode()
    assert f'id="patient-choice-{cast.pat.pk}" data-chart="A-100"' in options
    assert "born 17 May 1980 · chart A-100 · (555) 555-0123" in options


def test_patient_choices_require_login_and_show_only_the_practices_patients(client, cast):
    assert client.get(CHOICES, {"q": "Hart"}).status_code == 302
    client.force_login(cast.bob.user)
    assert "Hart" in client.get(CHOICES, {"q": "Hart"}).content.decode()
    assert "Jones" not in client.get(CHOICES, {"q": "Jones"}).content.decode()
    assert client.post(CHOICES, {"q": "Hart"}).status_code == 405


def test_the_choices_are_the_first_ten_by_name(client, cast):
    Patient.objects.bulk_create([Patient(practice=cast.practice, chart_number=f"K-{i}", first_name=f"Kim{i:02d}",
                                         last_name="Kay") for i in range(12)])
    client.force_login(cast.alice.user)
    options = client.get(CHOICES, {"q": "Kay"}).content.decode()
    assert re.findall(r"Kay, (Kim\d+)", options) == [f"Kim{i:02d}" for i in range(10)]


@pytest.mark.parametrize(("status", "expected"), [("completed", "completed"), ("no_show", "no_show"),
                                                  ("cancelled", "cancelled")])
def test_the_appointment_window_closes_an_appointment(client, cast, status, expected):
    appointment = book(cast)
    client.force_login(cast.alice.user)
    url = reverse("clinic:appointment-status", args=[appointment.pk])
    assert client.get(url).status_code == 405
    assert client.post(url, {"status": status}).status_code == 302
    assert Appointment.objects.get().status == expected
    client.force_login(cast.bob.user)
    assert client.post(url, {"status": "scheduled"}).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_staff_see_on_the_patient_list_why_a_patient_was_not_invited(client, cast):
    auto(cast, Practice.AutoInvite.BOOKED)
    book(cast, cast.ned)
    client.force_login(cast.alice.user)
    response = client.get(reverse("clinic:patients"), {"status": "not_eligible"})
    [ned] = response.context["page"].object_list
    assert ned.needs == ["Add an email address", "Add a social security number, or a date of birth and a phone number"]
    assert "Add an email address; Add a social security number" in response.content.decode()
