"""Every email to a patient (or to whoever asked for access) in the patient's language, over a real
SMTP server: the subject and both parts, with nothing left in English, rendered by a worker that
itself runs in English. The invitation's link then opens its pages in the same language."""

import datetime
import re

from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from access.actions import passwords, printing, proxies, requests, sending
from access.actions.languages import choose_account_language
from access.models import AccessRequest, Channel
from access.tests.helpers import connect
from clinic.models import Patient
from conftest import run_worker
from mail import messages as mail
from mail.models import Message
from portal.tests.conftest import PAT_SSN
from portal.tests.spanish import english_left

LINK = re.compile(r"https://portal\.example\.test(/portal/i/[A-Za-z0-9_-]{43}/)")


def parts(message) -> tuple[str, str, str]:
    text, html = (message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))
    return str(message["Subject"]), text, html


def prefers(patient: Patient, language: str) -> None:
    Patient.objects.filter(pk=patient.pk).update(preferred_language=language)
    patient.refresh_from_db()


def test_an_invitation_to_a_spanish_speaking_patient_arrives_in_spanish_and_opens_spanish_pages(
        cast, smtp_server, clock):
    prefers(cast.pat, "es")
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    with translation.override("en"):  # staff press the button on an English page
        sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
        run_worker()
    (message,) = smtp_server.messages()
    subject, text, html = parts(message)
    assert subject == "Maple Street Clinic le invita a su portal del paciente"
    assert text.startswith("Hola:\n\nMaple Street Clinic le invita a conectarse a su portal del paciente.")
    # NOW (2 November 2026, 10 AM Eastern) plus the 7-day lifetime, as a Spanish reader writes it.
    assert "El enlace funciona hasta el lunes, 9 de noviembre a las 10:00 a. m., hora del Este." in text
    assert "Llame a Maple Street Clinic al (555) 555-0100." in text
    assert '<html lang="es">' in html and "Aceptar la invitación" in html
    assert english_left(text) == [] and english_left(html) == []

    browser = Client()  # no Accept-Language, no cookie: the link alone decides
    browser.get(LINK.search(text).group(1))
    page = browser.get(reverse("portal:accept")).content.decode()
    assert '<html lang="es">' in page and "Confirme su identidad" in page and english_left(page) == []


def test_the_practice_default_decides_when_the_chart_names_no_language(cast, smtp_server, clock):
    cast.practice.default_language = "es"
    cast.practice.save()
    prefers(cast.bea, "es")  # another practice's patient, for contrast: names the language itself
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    run_worker()
    assert parts(smtp_server.messages()[0])[0] == "Maple Street Clinic le invita a su portal del paciente"


def test_a_chart_that_prefers_english_gets_english_from_a_spanish_practice(cast, smtp_server, clock):
    cast.practice.default_language = "es"
    cast.practice.save()
    prefers(cast.pat, "en")
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    run_worker()
    subject, text, html = parts(smtp_server.messages()[0])
    assert subject == "Maple Street Clinic invites you to its patient portal"
    assert '<html lang="en">' in html and "until Monday, November 9 at 10:00 AM Eastern" in text


def test_every_other_patient_email_is_in_spanish(cast, smtp_server, clock):
    """Reminder, connected, access ended, password reset, a declined and a lapsed access request."""
    prefers(cast.pat, "es")
    rosa = Patient.objects.create(practice=cast.practice, chart_number="A-102", first_name="Rosa", last_name="Díaz",
                                  email="rosa@example.test", ssn="345678901", preferred_language="es")
    pending = sending.send_invitation(rosa, by=cast.alice, channel=Channel.CHART)
    with transaction.atomic():
        mail.queue_reminders([(pending.invitation, pending.token)])
    _, connection = connect(cast)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    choose_account_language(connection.account, "es")
    passwords.send_password_reset(connection.account, language="en")  # the account's choice wins
    asked = dict(first_name="Luz", last_name="Ortiz", date_of_birth=datetime.date(1975, 3, 4), phone="+15555550199")
    declined = requests.request_access(cast.practice, email="luz@example.test", language="es", **asked)
    requests.decline_request(declined, reason=AccessRequest.DeclineReason.DETAILS_DIFFER, by=cast.alice)
    lapsed = requests.request_access(cast.practice, email="sol@example.test", language="es", **asked)
    with transaction.atomic():
        mail.queue_requests_lapsed([lapsed], days=30)
    run_worker()
    received = [parts(m) for m in smtp_server.messages()]
    assert sorted(subject for subject, _, _ in received) == [
        "Elija una nueva contraseña para su portal del paciente",
        "Maple Street Clinic canceló su acceso al portal del paciente",
        "Maple Street Clinic le invita a su portal del paciente",  # Rosa's (Pat's was accepted before it went)
        "Recordatorio: su invitación al portal del paciente de Maple Street Clinic vence pronto",
        "Su cuenta ya está conectada a Maple Street Clinic",
        "Su solicitud para el portal del paciente de Maple Street Clinic",
        "Su solicitud para el portal del paciente de Maple Street Clinic",
    ]
    for subject, text, html in received:
        assert english_left(subject) == [] and english_left(text) == [] and english_left(html) == [], subject
        assert '<html lang="es">' in html
    bodies = " ".join(text for _, text, _ in received)
    assert "durante 1 hora" in bodies
    assert "la invitación vence el lunes, 9 de noviembre a las 10:00 a. m., hora del Este" in bodies
    assert "No pudimos aprobar esta solicitud: los datos no coinciden con nuestros registros." in bodies
    assert "Hace 30 días usted solicitó acceso" in bodies


def test_a_bulk_invitation_writes_each_patients_email_in_their_own_language(cast, clock):
    prefers(cast.pat, "es")
    rosa = Patient.objects.create(practice=cast.practice, chart_number="A-102", first_name="Rosa", last_name="Díaz",
                                  email="rosa@example.test", ssn="345678901")
    sending.send_invitations([cast.pat.pk, rosa.pk], by=cast.alice, channel=Channel.BULK)
    assert {m.to: (m.context["language"], m.context["expires"]) for m in Message.objects.all()} == {
        "pat@example.test": ("es", "lunes, 9 de noviembre a las 10:00 a. m., hora del Este"),
        "rosa@example.test": ("en", "Monday, November 9 at 10:00 AM Eastern"),
    }


def test_the_email_code_is_in_the_language_of_the_page_it_was_asked_from(cast, smtp_server, clock):
    """A printed invitation's patient without an email gives one in Spanish: the code arrives in Spanish."""
    Patient.objects.filter(pk=cast.pat.pk).update(email="", preferred_language="es")
    printed = printing.print_invitation(Patient.objects.get(pk=cast.pat.pk), by=cast.alice)
    browser = Client()
    browser.post(reverse("activate"), {"code": printed.code})
    browser.post(reverse("portal:accept"), {"ssn": PAT_SSN})
    browser.post(reverse("portal:confirm-email"), {"email": "pat.new@example.test"})
    with translation.override("en"):
        run_worker()
    (message,) = smtp_server.messages()
    subject, text, html = parts(message)
    assert Message.objects.get(kind=Message.Kind.EMAIL_CODE).context["language"] == "es"
    assert subject == "Su código para confirmar su correo en el portal del paciente de Maple Street Clinic"
    assert text.startswith("Hola:\n\nSu código para confirmar este correo electrónico en el portal del paciente")
    assert "Funciona durante 15 minutos." in text and "Funciona durante 15 minutos." in html
    assert english_left(subject) == [] and english_left(text) == [] and english_left(html) == []
    assert '<html lang="es">' in html


def test_the_proxy_emails_arrive_in_the_patients_language(cast, smtp_server, clock):
    """A caregiver's invitation (sent when Pat invites them) and the confirmation a proxy gets once they
    accepted, in the language of the patient they are about; nothing left in English, and no code."""
    from access.actions import caregivers, proxy_acceptance
    from access.actions.caregivers import Caregiver

    prefers(cast.pat, "es")
    _, connection = connect(cast)
    invited = caregivers.invite_caregiver(connection, Caregiver(first_name="Robin", last_name="Jones",
                                                                email="robin@example.test", relationship="spouse",
                                                                level="full"))
    token = Message.objects.get(kind=Message.Kind.CAREGIVER_INVITATION).secret_link.rstrip("/").rsplit("/", 1)[1]
    proof = proxy_acceptance.verify_proxy_identity(token, proxy_acceptance.ProxyAnswers(code=invited.code)).proof
    robin = proxy_acceptance.accept_proxy_invitation(token, proof=proof, password="a-long-enough-password")
    proxies.revoke_proxy(robin, by=cast.alice)
    run_worker()
    received = smtp_server.messages()
    to_robin = {str(m["Subject"]): m for m in received if str(m["To"]) == "robin@example.test"}
    assert sorted(to_robin) == ["Maple Street Clinic canceló su acceso al portal de Pat Jones",
                                "Pat Jones le invita a ayudarle con su portal del paciente",
                                "Ya puede usar el portal del paciente de Pat Jones"]
    to_pat = {str(m["Subject"]): m for m in received if str(m["To"]) == connection.account.email}
    assert sorted(to_pat) == ["Robin Jones ya puede usar su portal del paciente",
                              "Su cuenta ya está conectada a Maple Street Clinic"]
    subject, text, html = parts(to_pat["Robin Jones ya puede usar su portal del paciente"])
    assert "Robin Jones, a quien usted invitó como persona cuidadora, aceptó la invitación" in text
    assert "Puede ver lo mismo que usted ve en su portal." in text and "/portal/my-account/" in html
    assert english_left(subject) == [] and english_left(text) == [] and english_left(html) == []
    subject, text, html = parts(to_robin["Maple Street Clinic canceló su acceso al portal de Pat Jones"])
    assert text.startswith("Hola, Robin Jones:\n\nMaple Street Clinic canceló su acceso al portal de Pat Jones.")
    subject, text, html = parts(to_robin["Pat Jones le invita a ayudarle con su portal del paciente"])
    assert "/portal/proxy/" in text and invited.code not in text and invited.code not in html
    assert "Se le pedirá un código de un solo uso." in text
    for message in to_robin.values():
        for part in parts(message):
            assert english_left(part) == [], part
