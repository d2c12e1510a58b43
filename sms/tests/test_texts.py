"""The words of every text: in the patient's language (English or Spanish, through the sms catalog),
within two SMS segments with the real link's length, counted as the carriers count them."""

import datetime

import pytest

from sms import segments, texts

# A real invitation link under the tests' PORTICO_BASE_URL: a 43-character token (256 bits).
LINK = "https://portal.example.test/portal/i/" + "x" * 43 + "/"
# The longest day a link can name: 12 characters in English, 16 in Spanish.
SEPT_30 = datetime.date(2026, 9, 30)
# A long but real name (81 characters), with accents GSM-7 lacks.
LONG_NAME = "Clínica Familiar y Pediátrica del Río Grande, Servicios de Salud para la Comunidad"


def test_the_segment_counts_the_limits_rest_on():
    assert [segments.count("a" * n) for n in (160, 161, 306, 307)] == [1, 2, 2, 3]
    assert [segments.count("á" * n) for n in (70, 71, 134, 135)] == [1, 2, 2, 3]
    assert segments.encoding("ñ¿¡éüà") == "GSM-7"
    assert [segments.encoding(ch) for ch in "áíóú"] == ["UCS-2"] * 4


@pytest.mark.parametrize(("language", "room"), [("en", 137), ("es", 109)])
def test_an_invitation_keeps_the_whole_name_up_to_two_full_segments(language, room):
    """English leaves 137 characters for the name beside the link and "September 30"; Spanish, 109
    beside "30 de septiembre": 306 characters, two GSM-7 parts of 153."""
    body = texts.invitation(practice="F" * room, link=LINK, expires=SEPT_30, language=language)

    assert (len(body), segments.encoding(body), segments.count(body)) == (306, "GSM-7", 2)
    assert "F" * room in body


@pytest.mark.parametrize(("language", "room"), [("en", 137), ("es", 109)])
def test_one_character_more_and_the_name_is_shortened(language, room):
    body = texts.invitation(practice="F" * (room + 1), link=LINK, expires=SEPT_30, language=language)

    assert (len(body), segments.count(body)) == (300, 2)  # ten characters off, "..." on
    assert "F" * (room - 9) + "..." in body and "F" * room not in body


def test_the_english_invitation_says_what_the_issue_asks():
    body = texts.invitation(practice="Maple Street Clinic", link=LINK, expires=datetime.date(2026, 11, 9))

    assert body == (f"Maple Street Clinic invites you to its patient portal: {LINK} (link expires November 9). "
                    "Reply STOP to opt out.")


def test_the_spanish_invitation_in_usted_and_the_glossary_words_all_in_gsm7():
    body = texts.invitation(practice="Maple Street Clinic", link=LINK, expires=datetime.date(2026, 11, 9),
                            language="es")

    assert body == (f"Maple Street Clinic le invita a su portal del paciente: {LINK} (el enlace vence el 9 de "
                    "noviembre). Responda STOP para no recibir mensajes.")
    assert segments.encoding(body) == "GSM-7"


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_long_name_with_accents_loses_the_accents_not_its_words(language):
    body = texts.invitation(practice=LONG_NAME, link=LINK, expires=SEPT_30, language=language)

    assert segments.encoding(body) == "GSM-7" and segments.count(body) == 2
    assert "Clinica Familiar y Pediatrica del Rio Grande, Servicios de Salud para la Comunidad" in body


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_reminder_fits_too(language):
    body = texts.reminder(practice=LONG_NAME, link=LINK, expires=SEPT_30, language=language)

    assert segments.count(body) == 2
    assert body.startswith({"en": "Reminder: Clinica", "es": "Recordatorio: Clinica"}[language])


def test_a_short_text_outside_gsm7_stays_as_written_in_ucs2():
    body = texts.invitation(practice="Río", link="https://p.test/i/x/", expires=SEPT_30)

    assert segments.encoding(body) == "UCS-2" and segments.count(body) == 2 and body.startswith("Río invites")


def test_a_name_gsm7_cannot_say_is_left_out_rather_than_go_to_ucs2():
    body = texts.invitation(practice="Sunrise Clinic 🌅 of the Valley", link=LINK, expires=SEPT_30)

    assert segments.encoding(body) == "GSM-7" and body.startswith("Sunrise Clinic  of the Valley invites")


def test_the_spanish_help_reply_at_the_ucs2_limit():
    """The Spanish help reply is 99 characters of words; with a name with an accent it is UCS-2, and
    it stays as written up to 134 characters (two parts of 67); at 135 it drops the accent for GSM-7."""
    phone = "(555) 555-0100"  # ": llame al " and the phone: 25 characters
    at_limit = texts.help_reply(contacts=[("Río" + "a" * 7, phone)], language="es")
    over = texts.help_reply(contacts=[("Río" + "a" * 8, phone)], language="es")

    assert (len(at_limit), segments.encoding(at_limit), segments.count(at_limit)) == (134, "UCS-2", 2)
    assert at_limit.startswith("Invitaciones al portal del paciente por mensaje de texto. Ríoaaaaaaa: llame al")
    assert (len(over), segments.encoding(over), segments.count(over)) == (135, "GSM-7", 1)
    assert "Rioaaaaaaaa: llame al (555) 555-0100" in over


@pytest.mark.parametrize(("build", "english", "spanish"), [
    (texts.opted_out, "Maple Street Clinic: you will get no more texts from this number. Reply START to get them again.",
     "Maple Street Clinic: dejaremos de enviarle mensajes de texto a este teléfono. Responda START para recibirlos "
     "de nuevo."),
    (texts.opted_in, "Maple Street Clinic: you will get texts from this number again. Reply STOP to opt out.",
     "Maple Street Clinic: le enviaremos mensajes de texto de nuevo a este teléfono. Responda STOP para no recibir "
     "mensajes."),
])
def test_the_replies_in_both_languages(build, english, spanish):
    assert build(practices=["Maple Street Clinic"]) == english
    assert build(practices=["Maple Street Clinic"], language="es") == spanish


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_reply_naming_many_practices_fits_two_segments(language):
    names = [f"Práctica número {n} de la ciudad" for n in range(12)]

    for build in (texts.opted_out, texts.opted_in):
        body = build(practices=names, language=language)
        assert segments.count(body) <= 2 and "Practica numero 0" in body and "..." in body
    helped = texts.help_reply(contacts=[(name, "(555) 555-0100") for name in names], language=language)
    assert segments.count(helped) <= 2 and "..." in helped
