"""Print invitation on Portal Access and in the appointment window: the letter, who printed it, what
the pages say printing needs, and another practice's patient."""

import datetime
import json
import re

import pytest
from django.urls import reverse

from access import tokens
from access.actions import sending
from access.models import AccessEvent, Invitation
from access.tests.helpers import snapshot
from clinic.models import Appointment, Patient, Practice
from clinic.views import letters
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
    response = client.post(_print_url(cast.pat), follow=True)
    assert response.redirect_chain == [(reverse("clinic:invitation-letter", args=[cast.pat.pk]), 302)]
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
    response = client.post(reverse("clinic:appointment-print", args=[appt.pk]), follow=True)
    assert response.redirect_chain == [(reverse("clinic:appointment-letter", args=[appt.pk]), 302)]
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
    page = client.post(_print_url(Patient.objects.get(pk=cast.pat.pk)), follow=True).content.decode()
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
    letter = LETTER.search(client.post(_print_url(cast.pat), follow=True).content.decode()).group(0)
    assert '<article class="letter" lang="en"' in letter and english_left(letter)
    assert "Your invitation to our patient portal" in letter and "Dear Pat Jones," in letter


# --- reloading the letter (POST-redirect-GET) -------------------------------------------------------

@pytest.mark.parametrize("route", ["chart", "appointment"])
def test_reloading_the_letter_issues_no_new_code_and_offers_print_again(client, cast, appt, route):
    """The code is kept only as a hash, so a reload cannot show it again: it says so, changes nothing,
    and Print again (a POST) is what issues a new code, the earlier one then dead."""
    print_url, letter_url = ((_print_url(cast.pat), reverse("clinic:invitation-letter", args=[cast.pat.pk]))
                             if route == "chart" else (reverse("clinic:appointment-print", args=[appt.pk]),
                                                       reverse("clinic:appointment-letter", args=[appt.pk])))
    client.force_login(cast.alice.user)
    first = CODE.search(client.post(print_url, follow=True).content.decode()).group(1)
    before = snapshot()
    reloaded = client.get(letter_url)
    page = reloaded.content.decode()
    assert reloaded.status_code == 200 and "no-store" in reloaded["Cache-Control"]
    assert not CODE.search(page) and first not in page and "cannot be shown again" in page
    assert f'<form method="post" action="{print_url}"' in page and "Print again (new code)" in page
    assert snapshot() == before
    invitation = Invitation.objects.get()
    assert invitation.status == "pending"
    assert invitation.code_hash == tokens.hash_code(tokens.normalize_code(first), tokens.ACTIVATION_CODE)
    second = CODE.search(client.post(print_url, follow=True).content.decode()).group(1)
    assert second != first
    assert list(Invitation.objects.order_by("pk").values_list("status", flat=True)) == ["revoked", "pending"]


def test_the_code_waits_in_the_session_sealed_and_only_until_the_letter_shows_it(client, cast):
    client.force_login(cast.alice.user)
    client.post(_print_url(cast.pat))
    kept = json.dumps(client.session[letters.KEPT_LETTERS])
    page = client.get(reverse("clinic:invitation-letter", args=[cast.pat.pk])).content.decode()
    code = CODE.search(page).group(1)
    assert code not in kept and code.replace("-", "") not in kept
    assert client.session[letters.KEPT_LETTERS] == {}


def test_a_letter_whose_invitation_was_revoked_before_it_was_shown_is_not_shown(client, cast):
    client.force_login(cast.alice.user)
    client.post(_print_url(cast.pat))
    sending.revoke_invitation(cast.pat, by=cast.dora)
    page = client.get(reverse("clinic:invitation-letter", args=[cast.pat.pk])).content.decode()
    assert not CODE.search(page) and "cannot be shown again" in page


@pytest.mark.parametrize("route", ["chart", "appointment"])
def test_another_practices_letter_page_is_404_and_recorded(client, cast, appt, route):
    client.force_login(cast.bob.user)
    url = (reverse("clinic:invitation-letter", args=[cast.pat.pk]) if route == "chart"
           else reverse("clinic:appointment-letter", args=[appt.pk]))
    assert client.get(url).status_code == 404
    assert AccessEvent.objects.get().action == "security.foreign_id"
