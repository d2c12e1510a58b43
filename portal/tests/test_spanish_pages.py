"""Every page a patient or a guardian sees, with its form errors and messages, rendered in Spanish:
nothing is left in English (a string not marked for translation, or marked and not translated),
and the page says lang="es". The same walk in English finds the English words, so the check can fail."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from access.actions import printing
from access.models import Invitation
from clinic.models import Appointment, Patient
from mail.models import Message
from portal import accepting
from portal.tests.conftest import PASSWORD, PAT_SSN, field_error, open_link
from portal.tests.spanish import english_left

LINK_PROBLEMS = ("expired", "revoked", "used", "locked", "missing", "staff_account", "unknown")


def walk(client: Client, cast, sent) -> dict[str, str]:
    """Every patient page, by a name, as `client` sees it (in whatever language it is chosen)."""
    pages: dict[str, str] = {}

    def keep(name, response):
        assert response.status_code in (200, 400, 404, 409, 410), (name, response.status_code)
        pages[name] = response.content.decode()

    def get(name, url, **kwargs):
        keep(name, client.get(url, **kwargs))

    def after_post(name, url, data):
        """A refused form: POST, then the GET it redirects to (every portal form is POST-redirect-GET)."""
        response = client.post(url, data)
        keep(name, client.get(response["Location"]) if response.status_code == 302 else response)

    practice = cast.practice
    get("login", reverse("portal:login"))
    get("login for a practice", reverse("portal:login") + f"?practice={practice.pk}")
    after_post("login refused", reverse("portal:login"), {"username": "pat@example.test", "password": "wrong"})
    get("request access", reverse("portal:request-access", args=[practice.pk]))
    after_post("request access refused", reverse("portal:request-access", args=[practice.pk]),
               {"first_name": "", "last_name": "Jones", "date_of_birth": "02/30/1980", "email": "nope",
                "phone": "555-0123"})
    get("request sent", reverse("portal:request-access-sent", args=[practice.pk]))
    get("password reset", reverse("portal:password-reset"))
    after_post("password reset refused", reverse("portal:password-reset"), {"email": "not an address"})
    get("password reset sent", reverse("portal:password-reset-done"))
    get("password reset link dead", reverse("portal:password-reset-confirm", args=["MQ", "dead-token"]))
    get("password reset done", reverse("portal:password-reset-complete"))
    get("not found", "/portal/no-such-page/")

    session = client.session
    for reason in LINK_PROBLEMS:
        accepting.note_link_problem(session, reason, practice.pk if reason != "unknown" else None)
        session.save()
        get(f"link problem: {reason}", reverse("portal:link-problem"))
    get("nothing in progress", reverse("portal:accept"))

    open_link(client, sent.token)
    get("identity", reverse("portal:accept"))
    after_post("identity incomplete", reverse("portal:accept"), {"date_of_birth": "1980-05-17"})
    after_post("identity malformed", reverse("portal:accept"), {"ssn": "12", "phone": "555-0123",
                                                                "date_of_birth": "13/45/1980"})
    after_post("identity wrong once", reverse("portal:accept"), {"ssn": "123-45-6780"})
    after_post("identity wrong twice", reverse("portal:accept"), {"ssn": "123-45-6781"})
    client.post(reverse("portal:accept"), {"ssn": PAT_SSN})
    get("create account", reverse("portal:account"))
    after_post("create account refused", reverse("portal:account"), {"password1": "12345678", "password2": "x"})
    response = client.post(reverse("portal:account"), {"password1": PASSWORD, "password2": PASSWORD})
    get("home, just connected", response["Location"])
    get("home", reverse("portal:home"))
    get("connected", reverse("portal:connected"))
    connection = cast.pat.connections.get()
    get("disconnect", reverse("portal:disconnect", args=[connection.pk]))
    get("my account", reverse("portal:my-account"))
    after_post("change password refused", reverse("portal:change-password"),
               {"old_password": "wrong", "new_password1": "pat", "new_password2": "pat"})
    after_post("sign out everywhere refused", reverse("portal:sign-out-everywhere"), {"password": "wrong"})
    open_link(client, sent.token)  # the used link, opened again by the patient who used it
    get("used link, signed in", reverse("portal:accept"))
    return pages


@pytest.fixture
def spanish_pat(cast, sent):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    starts_at = sent.invitation.sent_at + datetime.timedelta(days=3)
    Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=starts_at,
                               ends_at=starts_at + datetime.timedelta(minutes=30), reason="Revisión anual",
                               status=Appointment.Status.CHECKED_IN)
    return sent


def test_every_patient_page_is_in_spanish_with_nothing_left_in_english(cast, spanish_pat):
    pages = walk(Client(HTTP_ACCEPT_LANGUAGE="es"), cast, spanish_pat)
    left = {name: english_left(page) for name, page in pages.items()}
    assert {name: texts for name, texts in left.items() if texts} == {}
    assert all('<html lang="es">' in page for page in pages.values())
    assert "Confirme su identidad" in pages["identity"]
    assert "Le quedan 2 intentos antes de que este enlace deje de funcionar." in pages["identity wrong once"]
    assert "Este es su último intento" in pages["identity wrong twice"]
    assert "Revisión anual" in pages["home"] and "Registrado a su llegada" in pages["home"]
    # Dates as a Spanish reader writes them (the appointment is on Thursday, 5 November 2026, 10 AM Eastern).
    assert "jueves, 5 de noviembre a las 10:00 a. m., hora del Este" in pages["home"]
    assert "17 de mayo de 1980" in pages["home"]


def test_the_same_walk_in_english_is_found_to_be_english(cast, sent):
    """The check above can fail: English pages are full of what it looks for."""
    pages = walk(Client(HTTP_ACCEPT_LANGUAGE="en"), cast, sent)
    assert all(english_left(page) for page in pages.values())
    assert all('<html lang="en">' in page for page in pages.values())


def test_a_staff_login_opening_an_invitation_gets_the_signed_in_as_page_in_spanish(cast, spanish_pat):
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    client.force_login(cast.alice.user)
    open_link(client, spanish_pat.token)
    page = client.get(reverse("portal:accept")).content.decode()
    assert "Hay otra persona con la sesión iniciada" in page and english_left(page) == []


def test_the_renewal_pages_are_in_spanish(client, cast, spanish_pat, clock):
    clock.move_to(spanish_pat.invitation.expires_at + datetime.timedelta(seconds=1))
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    open_link(client, spanish_pat.token)
    offer = client.get(reverse("portal:link-problem")).content.decode()
    renew = client.get(reverse("portal:renew")).content.decode()
    refused = client.post(reverse("portal:renew"), {"ssn": "123-45-6780"})
    refused_page = client.get(refused["Location"]).content.decode()
    done = client.get(client.post(reverse("portal:renew"), {"ssn": PAT_SSN})["Location"]).content.decode()
    for page in (offer, renew, refused_page, done):
        assert english_left(page) == [] and '<html lang="es">' in page
    assert "Enviarme un enlace nuevo" in offer and "Le enviamos una nueva invitación" in done
    assert Invitation.objects.filter(patient=cast.pat, channel="renewal").exists()


def test_a_password_reset_page_from_a_valid_link_is_in_spanish(cast, spanish_pat):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    account = get_user_model().objects.create_user("pat@example.test", "pat@example.test", PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    url = reverse("portal:password-reset-confirm",
                  args=[urlsafe_base64_encode(force_bytes(account.pk)), default_token_generator.make_token(account)])
    form_url = client.get(url)["Location"]
    page = client.get(form_url).content.decode()
    refused = client.post(form_url, {"new_password1": "abc", "new_password2": "abd"}).content.decode()
    for shown in (page, refused):
        assert english_left(shown) == [] and "Elija una nueva contraseña" in shown


def printed_walk(language: str, cast) -> dict[str, str]:
    """The pages of a printed invitation to a patient without an email who reads `language` (the
    chart's, and the browser's): /activate/ (refused twice), the identity check, giving an address
    (refused) and typing the emailed code (refused)."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    Patient.objects.filter(pk=cast.pat.pk).update(email="", preferred_language=language)
    printed = printing.print_invitation(Patient.objects.get(pk=cast.pat.pk), by=cast.alice)
    pages: dict[str, str] = {}

    def get(name, url):
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        pages[name] = response.content.decode()

    def after_post(name, url, data):
        get(name, client.post(url, data)["Location"])

    activate, confirm = reverse("activate"), reverse("portal:confirm-email")
    get("activate", activate)
    after_post("activate, nothing typed", activate, {"code": ""})
    after_post("activate, wrong code", activate, {"code": "22222-2222Z" if printed.code != "22222-2222Z" else "33333-33333"})
    after_post("identity from a code", activate, {"code": printed.code})
    client.post(reverse("portal:accept"), {"ssn": PAT_SSN})
    get("add an email", confirm)
    after_post("add an email refused", confirm, {"email": "not an address"})
    after_post("type the code", confirm, {"email": "pat.new@example.test"})
    after_post("type the code, wrong once", confirm, {"code": "000000" if not _is_the_code("000000") else "111111"})
    return pages


def _is_the_code(code: str) -> bool:
    return Message.objects.get(kind=Message.Kind.EMAIL_CODE).secret_link == code


def test_the_printed_invitation_pages_are_in_spanish_with_the_switch(cast, clock):
    pages = printed_walk("es", cast)
    left = {name: english_left(page) for name, page in pages.items()}
    assert {name: texts for name, texts in left.items() if texts} == {}
    assert all('<html lang="es">' in page and 'data-testid="language-switch"' in page
               and 'value="en" lang="en">English</button>' in page for page in pages.values())
    assert "Active su invitación al portal" in pages["activate"]
    assert "Ese código de activación no es correcto." in pages["activate, wrong code"]
    assert "Agregue su correo electrónico" in pages["add an email"]
    assert field_error(pages["add an email refused"], "id_email") == "Introduzca una dirección de correo electrónico válida."
    assert "Le enviamos un código de 6 dígitos" in pages["type the code"]
    assert "Ese código no es correcto. Le quedan 4 intentos más." in pages["type the code, wrong once"]
    assert Message.objects.get(kind=Message.Kind.EMAIL_CODE).context["language"] == "es"  # the page's


def test_the_printed_invitation_walk_in_english_is_found_to_be_english(cast, clock):
    pages = printed_walk("en", cast)
    assert all(english_left(page) for page in pages.values())
    assert all('<html lang="en">' in page and 'value="es" lang="es">Español</button>' in page
               for page in pages.values())
    assert Message.objects.get(kind=Message.Kind.EMAIL_CODE).context["language"] == "en"


def test_a_recognised_code_opens_its_patients_language_as_a_link_does(cast, clock):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    printed = printing.print_invitation(Patient.objects.get(pk=cast.pat.pk), by=cast.alice)
    client = Client()  # no Accept-Language, no cookie: the code alone decides
    assert '<html lang="en">' in client.get(reverse("activate")).content.decode()
    client.post(reverse("activate"), {"code": "22222-2222Z" if printed.code != "22222-2222Z" else "33333-33333"})
    assert '<html lang="en">' in client.get(reverse("activate")).content.decode()  # a wrong code tells nothing
    client.post(reverse("activate"), {"code": printed.code})
    page = client.get(reverse("portal:accept")).content.decode()
    assert '<html lang="es">' in page and "Confirme su identidad" in page


# --- proxy access (issue 21): a parent's and a caregiver's pages, and the patient's caregivers ---------

def proxy_walk(client: Client, cast, guardian, language: str) -> dict[str, str]:
    """Every page of proxy access, as `client` (a parent) and a second browser (Pat, then a caregiver)
    see them, in `language`: the parent's link, identity check (refused twice), account, the people
    list and a child's portal; Pat's My account with caregivers (the invite refused), the code page;
    the caregiver's identity check; a refused accept (the child turned 18) and a dead proxy link."""
    from access.models import Proxy
    from access.tests.proxies import invite_guardian
    from portal.tests.conftest import GUARDIAN_ANSWERS

    pages: dict[str, str] = {}

    def keep(name, response):
        assert response.status_code in (200, 404, 409, 410), (name, response.status_code)
        pages[name] = response.content.decode()

    def after_post(name, browser, url, data):
        response = browser.post(url, data)
        keep(name, browser.get(response["Location"]) if response.status_code == 302 else response)

    accept, account = reverse("portal:proxy-accept"), reverse("portal:proxy-account")
    client.get(reverse("portal:proxy-landing", args=[guardian.token]))
    keep("proxy identity", client.get(accept))
    after_post("proxy identity incomplete", client, accept, {"date_of_birth": "13/45/2016"})
    after_post("proxy identity wrong once", client, accept, {**GUARDIAN_ANSWERS, "phone": "(555) 555-0100"})
    client.post(accept, GUARDIAN_ANSWERS)
    keep("proxy create account", client.get(account))
    after_post("proxy create account refused", client, account, {"password1": "12345678", "password2": "x"})
    response = client.post(account, {"password1": PASSWORD, "password2": PASSWORD})
    keep("proxy home, just accepted", client.get(response["Location"]))
    client.post(reverse("portal:choose-person"), {"person": "999"})
    keep("proxy my account", client.get(reverse("portal:my-account")))
    limited = Proxy.objects.get(pk=guardian.proxy.pk)
    Proxy.objects.filter(pk=limited.pk).update(level="limited")
    keep("proxy home, limited", client.get(reverse("portal:home")))
    client.post(reverse("portal:choose-person"), {"person": "nobody"})
    keep("choose refused", client.post(reverse("portal:choose-person"), {"person": "0"}))

    pat = Client(HTTP_ACCEPT_LANGUAGE=language)
    pat.force_login(_pat_account(cast))
    mine = reverse("portal:my-account")
    after_post("my account, invite refused", pat, reverse("portal:invite-caregiver"),
               {"first_name": "", "email": "nope", "relationship": "boss", "level": "full",
                "connection": cast.pat.connections.get().pk})
    response = pat.post(reverse("portal:invite-caregiver"), {
        "first_name": "Robin", "last_name": "Jones", "email": "robin@example.test", "relationship": "spouse",
        "level": "full", "connection": cast.pat.connections.get().pk})
    keep("caregiver code", pat.get(response["Location"]))
    keep("my account, with a caregiver", pat.get(mine))
    link = Message.objects.get(kind=Message.Kind.CAREGIVER_INVITATION).secret_link
    robin = Client(HTTP_ACCEPT_LANGUAGE=language)
    robin.get(link.replace("https://portal.example.test", ""))
    keep("caregiver identity", robin.get(accept))
    after_post("caregiver identity wrong", robin, accept, {"code": "22222-2222Z"})

    teen = Patient.objects.create(practice=cast.practice, chart_number="A-399", first_name="Sam", last_name="Rivera",
                                  date_of_birth=datetime.date(2008, 11, 2), preferred_language=language)  # 18 today
    late = invite_guardian(teen, email="casey@example.test", mobile="+15555550177")
    casey = Client(HTTP_ACCEPT_LANGUAGE=language)
    casey.get(reverse("portal:proxy-landing", args=[late.token]))
    casey.post(accept, {"date_of_birth": "11/02/2008", "phone": "(555) 555-0177"})
    keep("proxy accept refused at 18", casey.post(account, {"password1": PASSWORD, "password2": PASSWORD}))
    dead = Client(HTTP_ACCEPT_LANGUAGE=language)
    response = dead.get(reverse("portal:proxy-landing", args=["x" * 43]))
    keep("dead proxy link", dead.get(response["Location"]))
    return pages


def _pat_account(cast):
    return cast.pat.connections.get().account


@pytest.fixture
def family_to_walk(cast, spanish_pat, alex):
    """Pat (connected, prefers Spanish), Alex (prefers Spanish) and Jordan's pending invitation for Alex."""
    from access.actions import acceptance
    from access.tests.proxies import invite_guardian

    proof = acceptance.verify_identity(spanish_pat.token, acceptance.IdentityAnswers(ssn=PAT_SSN)).proof
    acceptance.accept_invitation(spanish_pat.token, proof=proof, password=PASSWORD)
    Patient.objects.filter(pk=alex.pk).update(preferred_language="es")
    return invite_guardian(alex, by=cast.alice)


def test_every_proxy_page_is_in_spanish_with_nothing_left_in_english(cast, family_to_walk):
    pages = proxy_walk(Client(HTTP_ACCEPT_LANGUAGE="es"), cast, family_to_walk, "es")
    left = {name: english_left(page) for name, page in pages.items()}
    assert {name: texts for name, texts in left.items() if texts} == {}
    assert all('<html lang="es">' in page for page in pages.values())
    assert "como padre, madre o tutor legal" in pages["proxy identity"]
    assert "En nombre de <strong>Alex Rivera</strong>" in pages["proxy home, just accepted"]
    assert "Esta página muestra el código una sola vez." in pages["caregiver code"]


def test_the_same_proxy_walk_in_english_is_found_to_be_english(cast, family_to_walk):
    Patient.objects.filter(preferred_language="es").update(preferred_language="")
    pages = proxy_walk(Client(HTTP_ACCEPT_LANGUAGE="en"), cast, family_to_walk, "en")
    assert {name for name, page in pages.items() if not english_left(page)} == set()
    assert all('<html lang="en">' in page for page in pages.values())
