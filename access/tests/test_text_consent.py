"""The consent ledger: staff record it, the patient's STOP / START / HELP replies change or read it."""

import pytest
from django.core.exceptions import ValidationError

from access import errors, texting
from access.actions.texting import record_text_consent
from access.models import AccessEvent, TextConsent
from access.tests.helpers import actions_of, snapshot
from access.text_selectors import consents, ledger
from clinic.models import Patient
from sms import callbacks
from sms.models import TextMessage

Source, Reply = TextConsent.Source, texting.Reply
MOBILE = "+15555550188"
SENDER = "+15005550006"


@pytest.mark.parametrize("body", [
    "STOP", "stop", "Stop", "sToP", " stop ", "STOP.", "Stop!", "stop\n", "STOPALL", "stop all", "Stop All",
    "UNSUBSCRIBE", "Unsubscribe", "CANCEL", "cancel", "END", "end", "QUIT", "Quit.", "REVOKE", "revoke",
    "OPT OUT", "opt out", "Opt-out", "OPTOUT", "opt_out", "Opt Out!", "\u00a0STOP\u00a0", "ＳＴＯＰ", "🛑 STOP",
    "stop please", "Please stop", "unsub", "ALTO", "Pare", "parar", "Baja", "cancelar", "Detener.",
])
def test_every_opt_out_word_and_its_close_variants_is_read_as_stop(body):
    assert texting.classify(body) is Reply.STOP


@pytest.mark.parametrize("body", ["don't stop", "stop sending me spam about the end", "STOPPED", "I will quit smoking",
                                  "endless", "", "yes", "ok thanks", "stop 2 stop"])
def test_a_word_inside_a_sentence_is_not_an_opt_out(body):
    assert texting.classify(body) is not Reply.STOP


@pytest.mark.parametrize(("body", "reply"), [("START", Reply.START), ("start", Reply.START), ("Unstop", Reply.START),
                                             ("UNSTOP!", Reply.START), ("HELP", Reply.HELP), ("help?", Reply.HELP),
                                             ("Info", Reply.HELP), ("Ayuda", Reply.HELP)])
def test_start_and_help(body, reply):
    assert texting.classify(body) is reply


def test_staff_record_spoken_consent_with_the_number(cast):
    step = record_text_consent(cast.pat, number="(555) 555-0188", consented=True, source=Source.STAFF_SPOKEN,
                               by=cast.alice)

    cast.pat.refresh_from_db()
    assert cast.pat.mobile_phone == MOBILE
    assert (step.number, step.consented, step.source, step.recorded_by) == (MOBILE, True, Source.STAFF_SPOKEN, cast.alice)
    assert consents([(cast.practice.pk, MOBILE)]) == {(cast.practice.pk, MOBILE): True}
    event = AccessEvent.objects.filter(patient=cast.pat).latest("id")
    assert (event.action, event.actor, event.channel) == ("text.consent_given", cast.alice.user, "text")
    assert "spoken agreement" in event.reason and "(555) 555-0188" in event.reason


def test_every_change_stays_in_the_ledger(cast):
    for consented, source in [(True, Source.PATIENT_FORM), (False, Source.STAFF_SPOKEN), (True, Source.IMPORT)]:
        record_text_consent(cast.pat, number=MOBILE, consented=consented, source=source, by=cast.alice)
    cast.pat.refresh_from_db()

    assert [(s.consented, s.source) for s in ledger(cast.pat)] == [
        (True, Source.IMPORT), (False, Source.STAFF_SPOKEN), (True, Source.PATIENT_FORM)]
    assert actions_of(cast.pat) == ["text.consent_given", "text.consent_withdrawn", "text.consent_given"]


def test_a_new_number_has_no_consent_until_given(cast):
    record_text_consent(cast.pat, number=MOBILE, consented=True, source=Source.STAFF_SPOKEN, by=cast.alice)
    Patient.objects.filter(pk=cast.pat.pk).update(mobile_phone="+15555550199")

    assert consents([(cast.practice.pk, "+15555550199")]) == {(cast.practice.pk, "+15555550199"): False}
    assert consents([(cast.other_practice.pk, MOBILE)]) == {(cast.other_practice.pk, MOBILE): False}


def test_recording_consent_for_a_new_number_ends_the_old_numbers(cast):
    record_text_consent(cast.pat, number=MOBILE, consented=True, source=Source.STAFF_SPOKEN, by=cast.alice)

    record_text_consent(cast.pat, number="+15555550199", consented=True, source=Source.PATIENT_FORM, by=cast.alice)

    found = consents([(cast.practice.pk, MOBILE), (cast.practice.pk, "+15555550199")])
    assert found == {(cast.practice.pk, MOBILE): False, (cast.practice.pk, "+15555550199"): True}
    assert TextConsent.objects.filter(number=MOBILE).latest("id").source == Source.NUMBER_CHANGED
    assert actions_of(cast.pat) == ["text.consent_given", "text.consent_withdrawn", "text.consent_given"]


def test_staff_cannot_record_a_number_change_as_a_source(cast):
    with pytest.raises(ValueError):
        record_text_consent(cast.pat, number=MOBILE, consented=False, source=Source.NUMBER_CHANGED, by=cast.alice)


def test_without_a_mobile_number_it_is_refused_and_nothing_changes(cast):
    before = snapshot()

    with pytest.raises(errors.NoMobileNumber):
        record_text_consent(cast.pat, consented=True, source=Source.STAFF_SPOKEN, by=cast.alice)

    assert snapshot() == before


def test_a_bad_number_is_refused_and_nothing_changes(cast):
    before = snapshot()

    with pytest.raises(ValidationError):
        record_text_consent(cast.pat, number="555-01", consented=True, source=Source.STAFF_SPOKEN, by=cast.alice)

    assert snapshot() == before


def test_staff_cannot_pretend_to_be_a_reply(cast):
    with pytest.raises(ValueError):
        record_text_consent(cast.pat, number=MOBILE, consented=True, source=Source.REPLY, by=cast.alice)


# --- replies ---------------------------------------------------------------------------------------

@pytest.fixture
def consented_at_two_practices(cast):
    """Pat's mobile has consent at Maple Street; the same number is Bea's at Harbor Health, with consent."""
    cast.practice.phone = "+15555550100"
    cast.practice.save()
    record_text_consent(cast.pat, number=MOBILE, consented=True, source=Source.STAFF_SPOKEN, by=cast.alice)
    record_text_consent(cast.bea, number=MOBILE, consented=True, source=Source.PATIENT_FORM, by=cast.bob)
    return cast


def reply(body: str, sid: str):
    callbacks.receive(sid, MOBILE, SENDER, body)


def consent_now(cast) -> tuple[bool, bool]:
    found = consents([(cast.practice.pk, MOBILE), (cast.other_practice.pk, MOBILE)])
    return found[(cast.practice.pk, MOBILE)], found[(cast.other_practice.pk, MOBILE)]


def test_stop_withdraws_consent_at_every_practice_with_one_confirmation(consented_at_two_practices):
    cast = consented_at_two_practices

    reply("Stop", "SM1")

    assert consent_now(cast) == (False, False)
    [confirmation] = TextMessage.objects.all()
    assert (confirmation.kind, confirmation.to) == (TextMessage.Kind.OPTED_OUT, MOBILE)
    assert "Maple Street Clinic, Harbor Health" in confirmation.body and "START" in confirmation.body
    step = TextConsent.objects.filter(practice=cast.practice).latest("id")
    assert (step.source, step.note, step.recorded_by) == (Source.REPLY, "Stop", None)
    assert actions_of(cast.pat)[-1] == actions_of(cast.bea)[-1] == "text.consent_withdrawn"


def test_a_second_stop_sends_no_second_confirmation(consented_at_two_practices):
    reply("STOP", "SM1")
    reply("quit", "SM2")
    reply("STOP", "SM1")  # the same callback again

    assert TextMessage.objects.count() == 1
    assert TextConsent.objects.filter(consented=False).count() == 2


def test_start_after_stop_restores_consent(consented_at_two_practices):
    cast = consented_at_two_practices
    reply("STOP", "SM1")

    reply("START", "SM2")

    assert consent_now(cast) == (True, True)
    assert [t.kind for t in TextMessage.objects.order_by("pk")] == [TextMessage.Kind.OPTED_OUT, TextMessage.Kind.OPTED_IN]
    assert actions_of(cast.pat)[-2:] == ["text.consent_withdrawn", "text.consent_given"]


def test_start_does_not_undo_a_withdrawal_staff_recorded(consented_at_two_practices):
    cast = consented_at_two_practices
    record_text_consent(cast.pat, consented=False, source=Source.STAFF_SPOKEN, by=cast.alice)
    reply("STOP", "SM1")

    reply("UNSTOP", "SM2")

    assert consent_now(cast) == (False, True)


def test_help_answers_with_each_practice_name_and_phone(consented_at_two_practices):
    reply("help", "SM1")

    [answer] = TextMessage.objects.all()
    assert answer.kind == TextMessage.Kind.HELP
    assert "Maple Street Clinic: call (555) 555-0100" in answer.body and "Harbor Health" in answer.body
    assert "STOP" in answer.body
    assert consent_now(consented_at_two_practices) == (True, True)


def test_a_reply_from_an_unknown_number_or_other_words_change_nothing(consented_at_two_practices):
    before = snapshot()

    callbacks.receive("SM1", "+15555550777", SENDER, "STOP")
    reply("Thanks, see you Tuesday", "SM2")

    assert snapshot() == before


def test_replies_are_in_the_language_of_the_numbers_patient(consented_at_two_practices):
    """Pat (Maple Street, the first practice) prefers Spanish: STOP, START and HELP are answered in Spanish."""
    cast = consented_at_two_practices
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")

    reply("ALTO", "SM1")
    reply("START", "SM2")
    reply("Ayuda", "SM3")

    stopped, started, helped = TextMessage.objects.order_by("pk")
    assert stopped.body == ("Maple Street Clinic, Harbor Health: dejaremos de enviarle mensajes de texto a este "
                            "teléfono. Responda START para recibirlos de nuevo.")
    assert started.body.startswith("Maple Street Clinic, Harbor Health: le enviaremos mensajes de texto de nuevo")
    assert helped.body.startswith("Invitaciones al portal del paciente por mensaje de texto. Maple Street Clinic: "
                                  "llame al (555) 555-0100; Harbor Health")


def test_a_number_no_chart_has_now_is_answered_in_the_practices_language(consented_at_two_practices):
    cast = consented_at_two_practices
    Patient.objects.filter(mobile_phone=MOBILE).update(mobile_phone="")
    type(cast.practice).objects.filter(pk=cast.practice.pk).update(default_language="es")

    reply("help", "SM1")

    assert TextMessage.objects.get().body.startswith("Invitaciones al portal")
