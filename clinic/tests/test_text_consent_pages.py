"""Staff enter the mobile number and record the patient's spoken consent to texts where they enter the
other details: the chart's Demographics page and the appointment window. The ledger keeps the source and
who recorded it; a changed number has no consent until it is recorded again."""

import datetime

from django.urls import reverse

from access.actions.texting import record_text_consent
from access.models import AccessEvent, TextConsent
from access.tests.helpers import actions_of, snapshot
from access.text_selectors import consents, texting_summary
from clinic.models import Appointment, Patient

OLD, NEW = "+15555550188", "+15555550177"
Source = TextConsent.Source


def demographics(client, patient, **changes):
    data = {"first_name": patient.first_name, "last_name": patient.last_name, "email": patient.email,
            "date_of_birth": patient.date_of_birth or "", "phone": patient.phone, "ssn": "", "doctor": "",
            "mobile_phone": patient.mobile_phone, "text_consent": ""}
    return client.post(reverse("clinic:demographics", args=[patient.pk]), {**data, **changes})


def consent(patient, number) -> bool:
    return consents([(patient.practice_id, number)])[(patient.practice_id, number)]


def test_the_demographics_page_offers_the_mobile_number_and_consent(client, cast):
    Patient.objects.filter(pk=cast.pat.pk).update(mobile_phone=OLD)
    client.force_login(cast.alice.user)

    html = client.get(reverse("clinic:demographics", args=[cast.pat.pk])).content.decode()

    assert 'value="(555) 555-0188"' in html and "<label for=\"id_mobile_phone\">Mobile number</label>" in html
    assert "The patient agrees to texts (said so to me)" in html


def test_staff_record_spoken_consent_with_the_number_on_demographics(client, cast):
    client.force_login(cast.alice.user)

    response = demographics(client, cast.pat, mobile_phone="(555) 555-0188", text_consent="yes")

    assert response.status_code == 302
    cast.pat.refresh_from_db()
    assert cast.pat.mobile_phone == OLD and consent(cast.pat, OLD)
    step = TextConsent.objects.get()
    assert (step.number, step.consented, step.source, step.recorded_by, step.patient) == (
        OLD, True, Source.STAFF_SPOKEN, cast.alice, cast.pat)
    event = AccessEvent.objects.filter(patient=cast.pat).latest("id")
    assert (event.action, event.reason, event.actor) == (
        "text.consent_given", "Staff, recording the patient's spoken agreement, for (555) 555-0188", cast.alice.user)
    assert texting_summary(cast.pat).can_be_texted


def test_a_changed_number_has_no_consent_until_recorded_again(client, cast):
    record_text_consent(cast.pat, number=OLD, consented=True, source=Source.PATIENT_FORM, by=cast.alice)
    cast.pat.refresh_from_db()
    client.force_login(cast.alice.user)

    demographics(client, cast.pat, mobile_phone="(555) 555-0177")

    cast.pat.refresh_from_db()
    assert cast.pat.mobile_phone == NEW
    assert (consent(cast.pat, OLD), consent(cast.pat, NEW)) == (False, False)
    ended = TextConsent.objects.latest("id")
    assert (ended.number, ended.consented, ended.source, ended.recorded_by) == (OLD, False, Source.NUMBER_CHANGED,
                                                                               cast.alice)
    assert actions_of(cast.pat)[-1] == "text.consent_withdrawn"
    assert not texting_summary(cast.pat).can_be_texted

    demographics(client, cast.pat, mobile_phone="(555) 555-0188")  # the old number back: still no consent
    cast.pat.refresh_from_db()
    assert cast.pat.mobile_phone == OLD and not consent(cast.pat, OLD)

    demographics(client, cast.pat, text_consent="yes")
    assert consent(cast.pat, OLD)


def test_a_shared_family_number_keeps_its_consent_when_one_chart_changes(client, cast):
    record_text_consent(cast.pat, number=OLD, consented=True, source=Source.PATIENT_FORM, by=cast.alice)
    Patient.objects.filter(pk=cast.ned.pk).update(mobile_phone=OLD)
    cast.pat.refresh_from_db()
    client.force_login(cast.alice.user)

    demographics(client, cast.pat, mobile_phone="(555) 555-0177")

    assert consent(cast.pat, OLD) and TextConsent.objects.count() == 1


def test_no_change_records_nothing(client, cast):
    record_text_consent(cast.pat, number=OLD, consented=True, source=Source.PATIENT_FORM, by=cast.alice)
    cast.pat.refresh_from_db()
    client.force_login(cast.alice.user)
    before = snapshot()

    demographics(client, cast.pat, mobile_phone="555 555 0188")

    assert snapshot() == before


def test_consent_without_a_number_or_with_a_bad_one_is_refused_and_changes_nothing(client, cast):
    client.force_login(cast.alice.user)
    before = snapshot()

    without = demographics(client, cast.pat, mobile_phone="", text_consent="yes")
    bad = demographics(client, cast.pat, mobile_phone="555-0188", text_consent="yes")

    assert without.status_code == bad.status_code == 200
    assert "Consent to texts is about a mobile number: enter it first." in without.content.decode()
    assert "Include the area code, like (555) 555-0123." in bad.content.decode()
    assert snapshot() == before


def test_the_appointment_window_records_the_number_and_consent(client, cast):
    start = datetime.datetime(2026, 11, 25, 14, 0, tzinfo=datetime.UTC)
    appt = Appointment.objects.create(practice=cast.practice, patient=cast.pat, doctor=cast.dora, starts_at=start,
                                      ends_at=start + datetime.timedelta(minutes=30))
    client.force_login(cast.alice.user)
    window = client.get(reverse("clinic:appointment", args=[appt.pk])).content.decode()
    assert 'name="mobile_phone"' in window and 'name="text_consent"' in window

    response = client.post(reverse("clinic:appointment-details", args=[appt.pk]), {
        "email": cast.pat.email, "date_of_birth": "1980-05-17", "phone": cast.pat.phone, "ssn": "",
        "mobile_phone": "(555) 555-0188", "text_consent": "yes"})

    assert response.status_code == 302
    step = TextConsent.objects.get()
    assert (step.number, step.consented, step.source, step.recorded_by) == (OLD, True, Source.STAFF_SPOKEN, cast.alice)
    assert actions_of(cast.pat)[-1] == "text.consent_given"


def test_staff_record_that_the_patient_does_not_agree(client, cast):
    record_text_consent(cast.pat, number=OLD, consented=True, source=Source.PATIENT_FORM, by=cast.alice)
    cast.pat.refresh_from_db()
    client.force_login(cast.alice.user)

    demographics(client, cast.pat, text_consent="no")

    assert not consent(cast.pat, OLD)
    assert TextConsent.objects.latest("id").source == Source.STAFF_SPOKEN
