"""Which language a patient page is in (portal.language): the language switch, for the visitor and
for the signed-in account; an invitation's pages in its patient's language; pages without one by
Accept-Language, then the practice's default. Staff pages stay in English."""

import pytest
from django.test import Client
from django.urls import reverse

from access.models import AccountLanguage, Attempt
from clinic.models import Patient
from portal.tests.conftest import PASSWORD, PAT_SSN, open_link

SWITCH = reverse("portal:language")
ACCEPT = reverse("portal:accept")
LOGIN = reverse("portal:login")


def lang(response) -> str:
    return response.content.decode().split('<html lang="', 1)[1].split('"', 1)[0]


def switch(client, language: str, next_url: str):
    return client.post(SWITCH, {"language": language, "next": next_url})


@pytest.fixture
def spanish_pat(cast):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")


def test_switching_language_mid_identity_check_keeps_the_visitors_place(client, cast, spanish_pat, sent):
    open_link(client, sent.token)
    client.post(ACCEPT, {"ssn": "123-45-6780"})  # one wrong answer: the page now warns of the tries left
    assert "Le quedan 2 intentos" in client.get(ACCEPT).content.decode()
    failed = Attempt.objects.count()

    response = switch(client, "en", ACCEPT)
    assert response.status_code == 302 and response["Location"] == ACCEPT
    page = client.get(ACCEPT)
    assert lang(page) == "en" and "Confirm your identity" in page.content.decode()
    response = switch(client, "es", ACCEPT)
    page = client.get(response["Location"])
    assert lang(page) == "es" and "Confirme su identidad" in page.content.decode()
    assert Attempt.objects.count() == failed  # switching is not an answer
    sent.invitation.refresh_from_db()
    assert sent.invitation.failed_checks == 1 and sent.invitation.status == "pending"

    client.post(ACCEPT, {"ssn": PAT_SSN})  # the same link, still in this browser's session
    assert "Cree su cuenta del portal" in client.get(reverse("portal:account")).content.decode()


def test_the_switch_is_a_form_on_every_patient_page_naming_each_language_in_itself(client, cast):
    page = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'<form method="post" action="{SWITCH}"' in page
    assert '<button type="submit" class="link" name="language" value="es" lang="es">Español</button>' in page
    assert f'<input type="hidden" name="next" value="{LOGIN}">' in page
    spanish = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'value="en" lang="en">English</button>' in spanish and 'value="es"' not in spanish


def test_a_visitors_choice_outlasts_the_browsers_language(client, cast):
    switch(client, "es", LOGIN)
    assert lang(client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en")) == "es"
    assert client.cookies["portico_language"].value == "es"
    assert client.cookies["portico_language"]["httponly"] and client.cookies["portico_language"]["samesite"] == "Lax"


def test_pages_without_an_invitation_follow_accept_language_then_the_practices_default(client, cast):
    cast.other_practice.default_language = "es"
    cast.other_practice.save()
    for_other = f"{LOGIN}?practice={cast.other_practice.pk}"
    request_page = reverse("portal:request-access", args=[cast.other_practice.pk])
    assert lang(client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9,en;q=0.5")) == "es"
    assert lang(client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="fr-CA,en;q=0.8")) == "en"
    assert lang(client.get(for_other, HTTP_ACCEPT_LANGUAGE="en-US")) == "en"  # the browser first
    assert lang(client.get(for_other, HTTP_ACCEPT_LANGUAGE="fr-CA")) == "es"  # then the practice's
    assert lang(client.get(request_page, HTTP_ACCEPT_LANGUAGE="fr")) == "es"
    assert lang(client.get(request_page)) == "es"
    assert lang(client.get(LOGIN)) == "en"
    assert lang(client.get(f"{LOGIN}?practice=99999999999999999999")) == "en"  # nonsense is ignored


def test_an_invitations_pages_follow_its_patient_not_the_browser(client, cast, spanish_pat, sent):
    open_link(client, sent.token)
    assert lang(client.get(ACCEPT, HTTP_ACCEPT_LANGUAGE="en-US")) == "es"


def test_a_dead_links_page_is_in_its_patients_language(client, cast, spanish_pat, sent):
    from access.actions import sending

    sending.revoke_invitation(cast.pat, by=cast.alice)
    open_link(client, sent.token)
    page = client.get(reverse("portal:link-problem"), HTTP_ACCEPT_LANGUAGE="en")
    assert lang(page) == "es" and "Esta invitación ya no es válida" in page.content.decode()


def test_once_signed_in_the_switch_changes_the_accounts_language_on_every_browser(cast, connected, client):
    account = connected.account
    response = switch(client, "es", reverse("portal:my-account"))
    assert AccountLanguage.objects.get(account=account).language == "es"
    page = client.get(response["Location"]).content.decode()
    assert "Sus páginas y correos del portal están en español." in page

    elsewhere = Client(HTTP_ACCEPT_LANGUAGE="en-US")  # another browser, never switched
    assert lang(elsewhere.get(LOGIN)) == "en"
    elsewhere.post(LOGIN, {"username": "pat@example.test", "password": PASSWORD})
    assert lang(elsewhere.get(reverse("portal:home"))) == "es"
    switch(elsewhere, "en", reverse("portal:home"))
    assert AccountLanguage.objects.get(account=account).language == "en"
    assert lang(client.get(reverse("portal:my-account"))) == "en"  # the first browser follows the account


def test_a_bad_language_or_an_outside_next_changes_nothing(client, cast, connected):
    response = switch(client, "fr", "https://evil.example.test/")
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert "portico_language" not in client.cookies
    assert not AccountLanguage.objects.exists()
    assert client.get(SWITCH).status_code == 405  # a GET (a link followed by a crawler) changes nothing


def test_staff_pages_stay_in_english_whatever_the_browser_asks(client, cast):
    client.cookies["portico_language"] = "es"
    client.force_login(cast.alice.user)
    page = client.get(reverse("clinic:patients"), HTTP_ACCEPT_LANGUAGE="es")
    assert lang(page) == "en-us" and "Content-Language" not in page
    assert lang(Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es")) == "en-us"


def test_a_throttled_sign_in_says_so_in_spanish(client, cast, monkeypatch):
    from access import signins

    monkeypatch.setattr(signins, "MAX_PER_USERNAME", 0)
    page = client.post(LOGIN, {"username": "pat@example.test", "password": "x"}, HTTP_ACCEPT_LANGUAGE="es")
    assert "Hubo demasiados intentos fallidos de iniciar sesión." in page.content.decode()


def test_a_password_reset_link_opens_its_page_in_the_accounts_language(cast, spanish_pat, connected):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    account = connected.account  # never used the switch: its patient's chart says Spanish
    url = reverse("portal:password-reset-confirm",
                  args=[urlsafe_base64_encode(force_bytes(account.pk)), default_token_generator.make_token(account)])
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US")
    page = browser.get(browser.get(url)["Location"])
    assert lang(page) == "es" and "Elija una nueva contraseña" in page.content.decode()
