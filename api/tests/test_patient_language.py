"""The API's `preferred_language` on a patient: read, created, changed, and refused when unknown."""

from clinic.models import Patient


def test_it_reads_creates_and_changes_the_preferred_language(api, cast):
    assert api.get(f"/patients/{cast.pat.pk}").json()["preferred_language"] == ""
    created = api.post("/patients", {"chart_number": "A-300", "first_name": "Rosa", "last_name": "Díaz",
                                     "preferred_language": "es"})
    assert created.status_code == 201 and created.json()["preferred_language"] == "es"
    assert Patient.objects.get(chart_number="A-300").preferred_language == "es"
    changed = api.patch(f"/patients/{cast.pat.pk}", {"preferred_language": "es"})
    assert changed.status_code == 200 and changed.json()["preferred_language"] == "es"
    cast.pat.refresh_from_db()
    assert (cast.pat.preferred_language, cast.pat.email) == ("es", "pat@example.test")  # nothing else changed


def test_it_refuses_a_language_portico_does_not_speak(api, cast):
    response = api.patch(f"/patients/{cast.pat.pk}", {"preferred_language": "fr"})
    assert response.status_code == 422 and "preferred_language" in response.json()["errors"]
    cast.pat.refresh_from_db()
    assert cast.pat.preferred_language == ""
