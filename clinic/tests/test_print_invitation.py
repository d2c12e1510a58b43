"""Print invitation on Portal Access and in the appointment window: the letter, who printed it, what
the pages say printing needs, and another practice's patient."""

import datetime
import re

import pytest
from django.urls import reverse

from access.models import AccessEvent, Invitation
from clinic.models import Appointment, Patient, Practice
from portal.tests.spanish import english_left

CODE = re.compile(r'data-testid="activation-code">([A-Z2-9]{5}-[A-Z2-9]{5})<')


@pytest.fixture
def appt(cast):
    start = datetime.datetime(2026, 11, 25, 14, 0, tzinfo=datetime.UTC)
    return Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=start,
                                      ends_at=start + datetime.timedelta(minutes=30), reason="Annual physical")


def _print_url(patient) -> str:
    return reverse("clinic:print-invitation", args=[patient.pk])


def test_it_prints_the_letter_from_portal_access(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(_print_url(cast.pat))
    assert response.status_code == 200
    page = response.content.decode()
    code = CODE.search(page).group(1)
    assert "Maple Street Clinic" in page and "Pat Jones" in page
    assert "https://portal.example.test/activate/" in page
    assert '<svg role="img"' in page and "<title>QR code of your invitation link</title>" in page
    assert "no-store" in response["Cache-Control"]
    invitation = Invitation.objects.get()
    assert (invitation.channel, invitation.sent_by) == ("print", cast.alice)
    event = AccessEvent.objects.get(action="invitation.printed")
    assert event.actor == cast.alice.user
    # Never shown again: Portal Access names who printed it, not the code.
    later = client.get(reverse("clinic:portal-access", args=[cast.pat.pk])).content.decode()
    assert code not in later and code.replace("-", "") not in later
    assert "Invitation printed with an activation code" in later


def test_it_prints_from_the_appointment_window(client, cast, appt):
    client.force_login(cast.alice.user)
    window = client.get(reverse("clinic:appointment", args=[appt.pk])).content.decode()
    assert reverse("clinic:appointment-print", args=[appt.pk]) in window
    response = client.post(reverse("clinic:appointment-print", args=[appt.pk]))
    assert CODE.search(response.content.decode())
    assert reverse("clinic:appointment", args=[appt.pk]) in response.content.decode()  # its Back link
    assert Invitation.objects.get().channel == "print"


def test_printing_is_a_post(client, cast):
    client.force_login(cast.alice.user)
    assert client.get(_print_url(cast.pat)).status_code == 405
    assert not Invitation.objects.exists() and not AccessEvent.objects.exists()


def test_a_refusal_goes_back_saying_why_and_changes_nothing(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(_print_url(cast.ned), follow=True)
    assert response.redirect_chain == [(reverse("clinic:portal-access", args=[cast.ned.pk]), 302)]
    assert "Add a social security number, or a date of birth and a phone number" in response.content.decode()
    assert not Invitation.objects.exists() and not AccessEvent.objects.exists()


def test_portal_access_says_what_printing_needs(client, cast):
    cast.pat.email = ""
    cast.pat.save()
    client.force_login(cast.alice.user)
    pat = client.get(reverse("clinic:portal-access", args=[cast.pat.pk])).content.decode()
    assert "no email is needed" in pat
    assert re.search(r'data-testid="print-invitation" aria-describedby="print-help">', pat)  # enabled
    ned = client.get(reverse("clinic:portal-access", args=[cast.ned.pk])).content.decode()
    assert ("Cannot print yet: Add a social security number, or a date of birth and a phone number." in ned)
    assert re.search(r'data-testid="print-invitation" aria-describedby="print-help" disabled>', ned)


@pytest.mark.parametrize("route", ["chart", "appointment"])
def test_another_practices_patient_is_404_and_recorded(client, cast, appt, route):
    client.force_login(cast.bob.user)
    url = _print_url(cast.pat) if route == "chart" else reverse("clinic:appointment-print", args=[appt.pk])
    assert client.post(url).status_code == 404
    assert not Invitation.objects.exists()
    event = AccessEvent.objects.get()
    assert (event.action, event.practice, event.outcome) == ("security.foreign_id", cast.other_practice, "failure")


def test_a_pending_printed_invitation_is_described_as_printed(client, cast):
    client.force_login(cast.alice.user)
    client.post(_print_url(cast.pat))
    page = client.get(reverse("clinic:portal-access", args=[cast.pat.pk])).content.decode()
    assert "The patient was handed a printed invitation and has not used its code yet." in page
    assert "Last invitation printed" in page and "has been emailed" not in page


LETTER = re.compile(r'<article class="letter".*?</article>', re.S)


@pytest.mark.parametrize("spanish_by", ["chart", "practice default"])
def test_the_letter_is_in_the_patients_language_and_the_page_around_it_in_english(client, cast, spanish_by):
    """The letter is handed to the patient: the chart's language, else the practice's (Settings)."""
    if spanish_by == "chart":
        Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    else:
        Practice.objects.filter(pk=cast.practice.pk).update(default_language="es", phone="+15555550100")
    client.force_login(cast.alice.user)
    page = client.post(_print_url(Patient.objects.get(pk=cast.pat.pk))).content.decode()
    letter = LETTER.search(page).group(0)
    # Without the random code: "9AT2Y-MB6PR" would hold the English word "at".
    assert '<article class="letter" lang="es"' in letter and english_left(CODE.sub("", letter)) == []
    assert "Su invitación a nuestro portal del paciente" in letter and "Hola, Pat Jones:" in letter
    assert "<title>Código QR del enlace de su invitación</title>" in letter and CODE.search(letter)
    # When the code stops working, as the patient's Spanish emails say a time (portico.humantime).
    assert re.search(r"hasta el <strong>\w+, \d+ de \w+ a las \d+:\d\d [ap]\. m\., hora del Este</strong>", letter)
    if spanish_by == "practice default":
        assert "¿Preguntas? Llámenos al (555) 555-0100." in letter
    around = page.replace(letter, "")
    assert '<html lang="en' in around and "Print this letter" in around and "Log out" in around


def test_an_english_letter_is_found_english_by_the_same_check(client, cast):
    client.force_login(cast.alice.user)
    letter = LETTER.search(client.post(_print_url(cast.pat)).content.decode()).group(0)
    assert '<article class="letter" lang="en"' in letter and english_left(letter)
    assert "Your invitation to our patient portal" in letter and "Dear Pat Jones," in letter
