"""A patient's preferred language on the staff side: set on Demographics and New patient and by an
import's `language` column, the practice's default on Settings (recorded), "Prefers Spanish" on the
chart header (and so on Portal Access), and the patient list filtered by language."""

import pytest
from django.urls import reverse

from access.models import AccessEvent
from access.tests.helpers import snapshot
from clinic import importing
from clinic.models import Patient, StaffMember


@pytest.fixture
def staff(client, cast):
    client.force_login(cast.alice.user)
    return client


def demographics(patient, **changes) -> dict:
    data = {"first_name": patient.first_name, "last_name": patient.last_name, "email": patient.email,
            "date_of_birth": "", "phone": "", "ssn": "", "doctor": "", "preferred_language": ""}
    return {**data, **changes}


def test_demographics_offers_the_practices_default_and_each_language(staff, cast):
    page = staff.get(reverse("clinic:demographics", args=[cast.ned.pk])).content.decode()
    assert '<option value="" selected>The practice&#x27;s default (English)</option>' in page
    assert '<option value="es">Spanish</option>' in page


def test_demographics_saves_the_preferred_language(staff, cast):
    response = staff.post(reverse("clinic:demographics", args=[cast.ned.pk]), demographics(cast.ned,
                                                                                           preferred_language="es"))
    assert response.status_code == 302
    assert Patient.objects.get(pk=cast.ned.pk).preferred_language == "es"


def test_demographics_refuses_a_language_portico_does_not_speak_and_changes_nothing(staff, cast):
    before = snapshot()
    response = staff.post(reverse("clinic:demographics", args=[cast.ned.pk]), demographics(cast.ned,
                                                                                           preferred_language="fr"))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert snapshot() == before


def test_a_new_patient_gets_a_preferred_language(staff, cast):
    staff.post(reverse("clinic:new-patient"), {**demographics(cast.ned, first_name="Rosa", last_name="Díaz"),
                                               "chart_number": "A-300", "preferred_language": "es"})
    assert Patient.objects.get(chart_number="A-300").preferred_language == "es"


def test_the_chart_header_and_portal_access_say_prefers_spanish(staff, cast):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    for name in ("clinic:chart", "clinic:portal-access"):
        assert '<span class="badge" data-testid="chart-language">Prefers Spanish</span>' in staff.get(
            reverse(name, args=[cast.pat.pk])).content.decode()
        assert 'data-testid="chart-language"' not in staff.get(reverse(name, args=[cast.ned.pk])).content.decode()


def test_a_chart_naming_no_language_prefers_the_practices_default(staff, cast):
    cast.practice.default_language = "es"
    cast.practice.save()
    page = staff.get(reverse("clinic:chart", args=[cast.ned.pk])).content.decode()
    assert "Prefers Spanish" in page


def test_the_patient_list_filters_by_language_counting_the_practices_default(staff, cast):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")

    def charts(language):
        page = staff.get(reverse("clinic:patients"), {"language": language}).content.decode()
        return [number for number in ("A-100", "A-101") if f">{number}</td>" in page]

    assert charts("es") == ["A-100"]
    assert charts("en") == ["A-101"]  # Ned names none: the practice's default, English
    assert charts("") == ["A-100", "A-101"]
    cast.practice.default_language = "es"
    cast.practice.save()
    assert charts("es") == ["A-100", "A-101"] and charts("en") == []
    assert "Portico has no language “fr”" in staff.get(reverse("clinic:patients"), {"language": "fr"}).content.decode()


def test_invite_all_matching_keeps_the_language_filter(client, cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password="staff-password-123")
    StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)
    client.force_login(user)
    ned = Patient.objects.get(pk=cast.ned.pk)
    ned.preferred_language, ned.email, ned.ssn = "es", "ned@example.test", "234567891"
    ned.save()
    list_page = client.get(reverse("clinic:patients"), {"language": "es"}).content.decode()
    assert '<input type="hidden" name="language" value="es">' in list_page
    preview = client.get(reverse("clinic:bulk-preview"), {"matching": "1", "language": "es"}).content.decode()
    assert "Language: Spanish" in preview
    assert "Invite 1 patient" in preview or "Send 1 invitation" in preview


def test_the_practices_default_language_is_a_setting_recorded_in_the_history(client, cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password="staff-password-123")
    StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)
    client.force_login(user)
    form = {"auto_invite": "off", "reminder_days_before": "2", "reinvite_after_days": "", "reinvite_max": "3",
            "minimum_age": "13", "invite_ttl_days": "7", "renewal_days": "90", "phone": "", "patient_contact_note": "",
            "default_language": "es", "invite_by": "email"}
    assert client.post(reverse("clinic:settings"), form).status_code == 302
    cast.practice.refresh_from_db()
    assert cast.practice.default_language == "es"
    assert list(AccessEvent.objects.filter(action="practice.settings_changed").values_list("reason", flat=True)) == [
        "Patients' language unless their chart says otherwise: English → Spanish"]
    before = snapshot()
    assert client.post(reverse("clinic:settings"), {**form, "default_language": "fr"}).status_code == 200
    assert snapshot() == before


def test_an_import_sets_the_language_by_code_or_name_and_a_blank_keeps_it(cast, tmp_path):
    Patient.objects.filter(pk=cast.pat.pk).update(preferred_language="es")
    path = tmp_path / "patients.csv"
    path.write_text("chart_number,first_name,last_name,language\n"
                    "A-100,Pat,Jones,\nA-101,Ned,Stone,Español\nA-300,Rosa,Díaz,es\nA-301,Al,Roe,English\n",
                    encoding="utf-8")
    report = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert report.summary() == "created 2, updated 2, unchanged 0, invalid 0"  # Pat's blank email is a change
    assert dict(Patient.objects.filter(practice=cast.practice).values_list("chart_number", "preferred_language")) == {
        "A-100": "es", "A-101": "es", "A-300": "es", "A-301": "en"}


def test_an_import_refuses_a_language_portico_does_not_speak(cast, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text("chart_number,first_name,last_name,language\nA-101,Ned,Stone,Klingon\n", encoding="utf-8")
    before = snapshot()
    report = importing.import_patients(cast.practice, open(path, encoding="utf-8"))
    assert [row.problems for row in report.rejected] == [
        ["language: “Klingon” is not a language Portico speaks: use one of en, es."]]
    assert snapshot() == before
