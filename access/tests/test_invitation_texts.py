"""Invitation texts: sent as the practice's Invite by says, to the number on file with consent, never
in quiet hours, within the caps, and what became of them recorded."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from access import texting
from access.actions import sending
from access.actions.texting import record_text_consent
from access.models import AccessEvent, Channel, TextConsent
from access.selectors import needing_attention
from access.tests.helpers import actions_of
from clinic.models import Notification, Patient, Practice
from sms import callbacks, delivery, segments
from sms.models import TextMessage

MOBILE = "+15555550188"
NEW_YORK = datetime.timezone(datetime.timedelta(hours=-5))  # November: EST
# 10:00 in New York, a Monday.
T0 = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK)


@pytest.fixture
def texting_practice(cast):
    Practice.objects.filter(pk=cast.practice.pk).update(invite_by=Practice.InviteBy.EMAIL_AND_TEXT)
    cast.practice.refresh_from_db()
    cast.pat.refresh_from_db()
    with time_machine.travel(T0 - datetime.timedelta(days=30), tick=False):
        record_text_consent(cast.pat, number=MOBILE, consented=True, source=TextConsent.Source.STAFF_SPOKEN,
                            by=cast.alice)
    cast.pat.refresh_from_db()
    return cast


def invite(cast, at: datetime.datetime):
    with time_machine.travel(at, tick=False):
        return sending.resend_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)


def deliver(at: datetime.datetime = T0 + datetime.timedelta(seconds=1)) -> None:
    """The worker's round at `at` (by day at the practice: a text is held in its quiet hours)."""
    with time_machine.travel(at, tick=False):
        delivery.deliver_due(worker="w1")


def texts_to(number=MOBILE):
    return list(TextMessage.objects.filter(to=number).order_by("pk"))


def test_email_and_text_sends_both_and_the_text_carries_the_link(texting_practice, sms_provider, smtp_server):
    cast = texting_practice
    sent = invite(cast, T0)

    with time_machine.travel(T0 + datetime.timedelta(seconds=1), tick=False):
        delivery.deliver_due(worker="w1")

    [posted] = sms_provider.texts
    assert posted["to"] == MOBILE
    assert posted["body"].startswith("Maple Street Clinic invites you to its patient portal: https://portal.example.test/portal/i/")
    assert sent.token in posted["body"] and "Reply STOP to opt out." in posted["body"]
    assert "(link expires November 9)" in posted["body"]
    [text] = texts_to()
    assert (text.kind, text.invitation_id, text.status, text.segments) == ("invitation", sent.invitation.pk, "accepted", 2)
    assert "text.queued" in actions_of(cast.pat)


def test_email_only_sends_no_text(texting_practice, sms_provider):
    Practice.objects.filter(pk=texting_practice.practice.pk).update(invite_by=Practice.InviteBy.EMAIL)
    texting_practice.pat.practice.refresh_from_db()

    invite(texting_practice, T0)

    assert texts_to() == []


def test_text_when_there_is_no_email_sends_no_text_to_a_patient_with_email(texting_practice):
    Practice.objects.filter(pk=texting_practice.practice.pk).update(invite_by=Practice.InviteBy.TEXT_WITHOUT_EMAIL)
    texting_practice.pat.practice.refresh_from_db()

    invite(texting_practice, T0)

    assert texts_to() == []


def test_no_text_without_consent(texting_practice):
    record_text_consent(texting_practice.pat, consented=False, source=TextConsent.Source.STAFF_SPOKEN,
                        by=texting_practice.alice)

    invite(texting_practice, T0)

    assert texts_to() == []


def test_only_to_the_number_on_file(texting_practice):
    Patient.objects.filter(pk=texting_practice.pat.pk).update(mobile_phone="+15555550199")  # no consent for it

    invite(texting_practice, T0)

    assert TextMessage.objects.count() == 0


@pytest.mark.parametrize(("local", "due"), [
    (datetime.time(20, 59, 59), datetime.datetime(2026, 11, 2, 20, 59, 59, tzinfo=NEW_YORK)),
    (datetime.time(21, 0), datetime.datetime(2026, 11, 3, 8, 0, tzinfo=NEW_YORK)),
    (datetime.time(23, 30), datetime.datetime(2026, 11, 3, 8, 0, tzinfo=NEW_YORK)),
    (datetime.time(0, 0), datetime.datetime(2026, 11, 2, 8, 0, tzinfo=NEW_YORK)),
    (datetime.time(7, 59, 59), datetime.datetime(2026, 11, 2, 8, 0, tzinfo=NEW_YORK)),
    (datetime.time(8, 0), datetime.datetime(2026, 11, 2, 8, 0, tzinfo=NEW_YORK)),
])
def test_never_in_quiet_hours_at_the_practice(texting_practice, local, due):
    invite(texting_practice, datetime.datetime.combine(datetime.date(2026, 11, 2), local, tzinfo=NEW_YORK))

    [text] = texts_to()
    assert text.next_attempt_at == due


def test_a_text_held_for_the_morning_goes_at_eight(texting_practice, sms_provider):
    invite(texting_practice, datetime.datetime(2026, 11, 2, 22, 0, tzinfo=NEW_YORK))

    with time_machine.travel(datetime.datetime(2026, 11, 3, 7, 59, 59, tzinfo=NEW_YORK), tick=False):
        assert delivery.deliver_due(worker="w1") == 0
    with time_machine.travel(datetime.datetime(2026, 11, 3, 8, 0, tzinfo=NEW_YORK), tick=False):
        assert delivery.deliver_due(worker="w1") == 1
    assert "quiet hours" in AccessEvent.objects.filter(action="text.queued").get().reason


def test_quiet_hours_follow_daylight_saving_time():
    tz = Practice(time_zone="America/New_York").tzinfo
    # 8 March 2026: clocks go forward at 2 AM; 21:30 the night before -> 08:00 EDT (12:00 UTC).
    night = datetime.datetime(2026, 3, 7, 21, 30, tzinfo=tz)
    assert texting.send_at(night, tz) == datetime.datetime(2026, 3, 8, 12, 0, tzinfo=datetime.UTC)


def test_at_most_one_text_a_day(texting_practice):
    invite(texting_practice, T0)
    invite(texting_practice, T0 + datetime.timedelta(hours=23, minutes=59, seconds=59))
    assert len(texts_to()) == 1
    assert AccessEvent.objects.filter(action="text.not_sent").get().reason == "Not sent: at most 1 text a day to a number"

    invite(texting_practice, T0 + datetime.timedelta(hours=24))
    assert len(texts_to()) == 2


def test_at_most_three_texts_a_week(texting_practice):
    for day in range(3):
        invite(texting_practice, T0 + datetime.timedelta(days=day))
    invite(texting_practice, T0 + datetime.timedelta(days=6, hours=23, minutes=59, seconds=59))
    assert len(texts_to()) == 3
    assert AccessEvent.objects.filter(action="text.not_sent").get().reason == "Not sent: at most 3 texts a week to a number"

    invite(texting_practice, T0 + datetime.timedelta(days=7))
    assert len(texts_to()) == 4


def test_a_text_skipped_by_a_refusal_does_not_count(texting_practice, sms_provider):
    invite(texting_practice, T0)
    TextMessage.objects.update(status=TextMessage.Status.SKIPPED)  # never went out

    invite(texting_practice, T0 + datetime.timedelta(hours=1))

    assert len(texts_to()) == 2


def test_consent_withdrawn_before_the_worker_sends_stops_the_text(texting_practice, sms_provider):
    invite(texting_practice, T0)
    with time_machine.travel(T0 + datetime.timedelta(seconds=1), tick=False):
        callbacks.receive("SM1", MOBILE, "+15005550006", "STOP")
        delivery.deliver_due(worker="w1")

    assert [t["body"][:30] for t in sms_provider.texts] == ["Maple Street Clinic: you will "]  # the confirmation only
    assert texts_to()[0].status == TextMessage.Status.SKIPPED
    assert actions_of(texting_practice.pat)[-1] == "text.not_sent"


def test_a_revoked_invitation_is_not_texted(texting_practice, sms_provider):
    invite(texting_practice, T0)
    with time_machine.travel(T0 + datetime.timedelta(seconds=1), tick=False):
        sending.revoke_invitation(texting_practice.pat, by=texting_practice.alice)
        delivery.deliver_due(worker="w1")

    assert sms_provider.texts == []


def status(sms_provider, client, sid, value, **extra):
    params = {"MessageSid": sid, "MessageStatus": value, **extra}
    url = "https://portal.example.test/sms/status/"
    return client.post("/sms/status/", params, HTTP_X_TWILIO_SIGNATURE=sms_provider.signature(url, params))


def test_delivered_is_in_the_history(texting_practice, sms_provider, client):
    invite(texting_practice, T0)
    deliver()
    sid = texts_to()[0].provider_sid

    status(sms_provider, client, sid, "delivered")
    status(sms_provider, client, sid, "delivered")

    assert actions_of(texting_practice.pat).count("text.delivered") == 1


def test_an_undelivered_text_rings_the_bell_and_needs_attention(texting_practice, sms_provider, client):
    invite(texting_practice, T0)
    deliver()

    status(sms_provider, client, texts_to()[0].provider_sid, "undelivered", ErrorCode="30003")

    event = AccessEvent.objects.filter(action="text.failed").get()
    assert (event.outcome, event.reason) == ("failure", "Provider error 30003")
    assert Notification.objects.filter(recipient=texting_practice.alice,
                                       text="The portal invitation text to Pat Jones could not be delivered.").exists()
    assert needing_attention(Patient.objects.all(), practice_id=texting_practice.practice.pk).filter(
        pk=texting_practice.pat.pk).exists()


def test_a_failed_text_says_text_failed_not_email_failed(texting_practice, sms_provider, client):
    """In Needs attention, on the chart, in the API and in the report's stops: the text failed, the email did not."""
    from access import reports
    from access.reports import Scope
    from access.summary import portal_access

    cast = texting_practice
    invite(cast, T0)
    deliver()
    status(sms_provider, client, texts_to()[0].provider_sid, "undelivered", ErrorCode="30003")

    [flagged] = needing_attention(Patient.objects.filter(pk=cast.pat.pk), practice_id=cast.practice.pk)
    assert (flagged.email_failed, flagged.text_failed) == (False, True)
    portal = portal_access(cast.pat)
    assert (portal.email_failed, portal.text_failed) == (False, True)
    client.force_login(cast.alice.user)
    with time_machine.travel(T0 + datetime.timedelta(hours=1), tick=False):
        listed = client.get("/patients/?status=needs_attention").content.decode()
        unfiltered = client.get("/patients/").content.decode()  # read by access.selectors.add_portal_state
        chart = client.get(f"/patients/{cast.pat.pk}/portal-access/").content.decode()
    assert "Text failed</span>" in listed and "Email failed</span>" not in listed
    assert "Text failed</span>" in unfiltered and "Email failed</span>" not in unfiltered
    assert "The invitation text could not be delivered. Check the mobile number" in chart
    assert "The invitation email could not be delivered" not in chart
    period = reports.Period(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), cast.practice.tzinfo)
    with time_machine.travel(T0 + datetime.timedelta(hours=1), tick=False):
        stops = {key: n for key, _, n in reports.stops(Scope(cast.practice), period) if n}
    assert stops == {"text_failed": 1}


def test_an_invalid_number_fails_without_retry_and_rings_the_bell(texting_practice, sms_provider):
    record_text_consent(texting_practice.pat, number="+15005550001", consented=True,
                        source=TextConsent.Source.STAFF_SPOKEN, by=texting_practice.alice)
    invite(texting_practice, T0)
    deliver()

    [text] = texts_to("+15005550001")
    assert (text.status, text.error_code) == ("failed", "21211")
    assert AccessEvent.objects.filter(action="text.failed", patient=texting_practice.pat).exists()
    assert Notification.objects.filter(text__contains="invitation text to Pat Jones").exists()


def test_reminders_follow_the_setting(texting_practice):
    from access.actions.automatic import send_reminders

    sent = invite(texting_practice, T0)
    with time_machine.travel(sent.invitation.expires_at - datetime.timedelta(days=2), tick=False):
        send_reminders()

    kinds = [t.kind for t in texts_to()]
    assert kinds == ["invitation", "reminder"]
    assert "Reminder: Maple Street Clinic" in texts_to()[1].body


def test_no_health_information_only_the_practice_and_the_link(texting_practice):
    invite(texting_practice, T0)

    body = texts_to()[0].body
    assert texting_practice.pat.first_name not in body and "Dr" not in body and "appointment" not in body


def test_texts_off_without_settings_queue_but_send_nothing(texting_practice, settings):
    settings.PORTICO_SMS_ACCOUNT_SID = ""
    invite(texting_practice, T0)

    assert delivery.deliver_due(worker="w1") == 0
    assert texts_to()[0].status == TextMessage.Status.QUEUED and timezone.now()


# --- text when there is no email ------------------------------------------------------------------

@pytest.fixture
def no_email_patient(cast):
    """Ned, with his date of birth and phone but no email, at a practice inviting by text when there is none."""
    Practice.objects.filter(pk=cast.practice.pk).update(invite_by=Practice.InviteBy.TEXT_WITHOUT_EMAIL)
    Patient.objects.filter(pk=cast.ned.pk).update(date_of_birth=datetime.date(1975, 3, 4), phone="+15555550111")
    cast.ned.refresh_from_db()
    return cast


def test_a_patient_without_email_is_invited_by_text_alone(no_email_patient, sms_provider):
    from access.eligibility import eligible, missing_requirements
    from mail.models import Message

    cast = no_email_patient
    assert missing_requirements(cast.ned) == [
        "Add an email address (or: can be invited by text: needs a mobile number with consent)"]
    record_text_consent(cast.ned, number=MOBILE, consented=True, source=TextConsent.Source.PATIENT_FORM, by=cast.alice)
    cast.ned.refresh_from_db()
    assert missing_requirements(cast.ned) == []
    assert Patient.objects.filter(eligible(datetime.date(2026, 11, 2)), pk=cast.ned.pk).exists()

    with time_machine.travel(T0, tick=False):
        sent = sending.send_invitation(cast.ned, by=cast.alice, channel=Channel.CHART)

    assert sent.invitation.email == ""
    assert not Message.objects.filter(invitation_id=sent.invitation.pk).exists()
    [text] = texts_to()
    assert text.invitation_id == sent.invitation.pk


def test_without_consent_a_patient_without_email_is_not_eligible(no_email_patient):
    from access import errors
    from access.eligibility import eligible

    cast = no_email_patient
    record_text_consent(cast.ned, number=MOBILE, consented=True, source=TextConsent.Source.PATIENT_FORM, by=cast.alice)
    record_text_consent(cast.ned, consented=False, source=TextConsent.Source.STAFF_SPOKEN, by=cast.alice)

    with pytest.raises(errors.NotEligible):
        sending.send_invitation(cast.ned, by=cast.alice, channel=Channel.CHART)
    assert not Patient.objects.filter(eligible(datetime.date(2026, 11, 2)), pk=cast.ned.pk).exists()
    assert texts_to() == []


def test_a_patient_who_prefers_spanish_gets_the_text_and_reminder_in_spanish(texting_practice):
    """A long practice name with accents (81 characters) and the real link: Spanish, two GSM-7 segments."""
    from access.actions.automatic import send_reminders

    cast = texting_practice
    Practice.objects.filter(pk=cast.practice.pk).update(
        name="Clínica Familiar y Pediátrica del Río Grande, Servicios de Salud para la Comunidad")
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    cast.pat.refresh_from_db()
    sent = invite(cast, T0)
    with time_machine.travel(sent.invitation.expires_at - datetime.timedelta(days=2), tick=False):
        send_reminders()

    invitation, reminder = texts_to()
    link = sent.token
    assert invitation.body.startswith("Clinica Familiar y Pediatrica del Rio Grande, Servicios de Salud para la "
                                      "Comunidad le invita a su portal del paciente: https://portal.example.test/")
    assert link in invitation.body
    assert invitation.body.endswith("(el enlace vence el 9 de noviembre). Responda STOP para no recibir mensajes.")
    assert reminder.body.startswith("Recordatorio: Clinica Familiar") and "(vence el 9 de noviembre)" in reminder.body
    assert [segments.encoding(t.body) for t in (invitation, reminder)] == ["GSM-7", "GSM-7"]
    assert (invitation.segments, reminder.segments) == (2, 2)


def test_a_patient_invited_by_text_alone_gets_the_reminder_by_text(no_email_patient):
    from access.actions.automatic import send_reminders

    cast = no_email_patient
    record_text_consent(cast.ned, number=MOBILE, consented=True, source=TextConsent.Source.PATIENT_FORM, by=cast.alice)
    cast.ned.refresh_from_db()
    with time_machine.travel(T0, tick=False):
        sent = sending.send_invitation(cast.ned, by=cast.alice, channel=Channel.CHART)
    with time_machine.travel(sent.invitation.expires_at - datetime.timedelta(days=2), tick=False):
        send_reminders()

    assert [t.kind for t in texts_to()] == ["invitation", "reminder"]
    assert texts_to()[1].invitation_id == sent.invitation.pk
