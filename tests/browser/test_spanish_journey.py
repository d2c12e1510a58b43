"""A Spanish-speaking patient's whole journey in Debian's Chromium, on a desktop and on a 390 px
phone (Spanish runs about a quarter longer than English): the invitation email from a real SMTP
server, the identity check (once wrong, then a switch to English and back with the keyboard, which
keeps the place), the account, the portal home and My account, the sign-in and request pages.
Every page is in Spanish (lang="es"), passes axe-core and, on the phone, does not scroll sideways."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from access.actions import sending
from access.models import Channel
from clinic.models import Appointment, Patient
from conftest import run_worker
from tests.browser.helpers import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "mi-propia-contraseña-del-portal-2026"
LINK = re.compile(r"https://portal\.example\.test(/portal/i/[A-Za-z0-9_-]{43}/)")
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def check(page, artifacts_dir, name: str, screen: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check_page(page, artifacts_dir, f"es-{screen}-{name}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SCREENS[screen]["width"], f"{name} on a {screen} scrolls sideways: {width} px wide"


@pytest.mark.parametrize("screen", SCREENS)
def test_a_spanish_speaking_patient_connects_in_spanish(browser, live_server, cast, smtp_server, artifacts_dir,
                                                        screen):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    cast.practice.phone = "+15555550100"
    cast.practice.patient_contact_note = "Llámenos de lunes a viernes, de 8 a 5."
    cast.practice.save()
    starts_at = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=starts_at,
                               ends_at=starts_at + datetime.timedelta(minutes=30), reason="Revisión anual")
    sending.send_invitation(Patient.objects.get(pk=cast.pat.pk), by=cast.alice, channel=Channel.CHART)
    run_worker()
    (message,) = smtp_server.messages()
    assert message["Subject"] == "Maple Street Clinic le invita a su portal del paciente"
    link = live_server.url + LINK.search(message.get_body(("plain",)).get_content()).group(1)

    page = browser.new_context(viewport=SCREENS[screen], locale="en-US").new_page()  # an English browser
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="Confirme su identidad")).to_be_visible()
    check(page, artifacts_dir, "identity", screen)
    page.get_by_label("Número de Seguro Social").fill("123-45-6780")
    page.get_by_role("button", name="Continuar").click()
    expect(page.get_by_role("alert")).to_contain_text("No pudimos confirmar su identidad")
    check(page, artifacts_dir, "identity-failed", screen)

    # To English and back, by keyboard: the same step of the same link, the failed try still counted.
    page.get_by_role("button", name="English").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Confirm your identity")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Español").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Confirme su identidad")).to_be_visible()

    page.get_by_label("Fecha de nacimiento").fill("05/17/1980")
    page.get_by_label("Número de teléfono").fill("(555) 555-0123")
    page.get_by_role("button", name="Continuar").click()
    expect(page.get_by_role("heading", level=1, name="Cree su cuenta del portal")).to_be_visible()
    check(page, artifacts_dir, "create-account", screen)
    page.get_by_label("Elija una contraseña").fill(PASSWORD)
    page.get_by_label("Escriba la contraseña otra vez").fill("otra-cosa")
    page.get_by_role("button", name="Crear la cuenta y conectarme").click()
    expect(page.get_by_text("Las dos contraseñas no son iguales.")).to_be_visible()
    check(page, artifacts_dir, "create-account-refused", screen)
    page.get_by_label("Elija una contraseña").fill(PASSWORD)
    page.get_by_label("Escriba la contraseña otra vez").fill(PASSWORD)
    page.get_by_role("button", name="Crear la cuenta y conectarme").click()

    expect(page.get_by_role("status")).to_contain_text("Su cuenta ya está conectada a Maple Street Clinic.")
    expect(page.get_by_role("region", name="Maple Street Clinic")).to_contain_text("Revisión anual")
    expect(page.get_by_role("region", name="Maple Street Clinic")).to_contain_text("17 de mayo de 1980")
    check(page, artifacts_dir, "home", screen)
    page.get_by_role("link", name="Mi cuenta").click()
    expect(page.get_by_test_id("account-language")).to_have_text("Sus páginas y correos del portal están en español.")
    check(page, artifacts_dir, "my-account", screen)

    page.get_by_role("button", name="Cerrar sesión", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Inicie sesión en su portal del paciente")).to_be_visible()
    check(page, artifacts_dir, "login", screen)
    page.goto(f"{live_server.url}{reverse('portal:request-access', args=[cast.practice.pk])}")
    page.get_by_role("button", name="Enviar la solicitud").click()
    expect(page.get_by_role("alert").first).to_contain_text("Corrija los campos marcados abajo.")
    check(page, artifacts_dir, "request-access-refused", screen)
