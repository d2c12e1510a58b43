"""New patient: the Demographics page's fields and checks, a chart number new to the practice."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinic import services
from clinic.models import Patient

URL = reverse("clinic:new-patient")


def form(**changes) -> dict:
    data = {"chart_number": "A-200", "first_name": " Ada ", "last_name": "Lovelace", "email": "Ada@EXAMPLE.test",
            "date_of_birth": "1985-12-10", "phone": "(555) 555-0142", "ssn": "123-45-6789", "doctor": ""}
    return {**data, **changes}


def test_it_requires_login(client, cast):
    assert client.post(URL, form()).status_code == 302
    assert not Patient.objects.filter(chart_number="A-200").exists()


def test_staff_add_a_patient_normalised_like_demographics(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(URL, form(doctor=str(cast.dora.pk)))
    ada = Patient.objects.get(chart_number="A-200")
    assert response.status_code == 302 and response["Location"] == reverse("clinic:chart", args=[ada.pk])
    assert (ada.practice, ada.first_name, ada.email, ada.phone, ada.ssn, ada.ssn_last4, ada.doctor) == (
        cast.practice, "Ada", "Ada@example.test", "+15555550142", "123456789", "6789", cast.dora)
    assert ada.date_of_birth == datetime.date(1985, 12, 10)


def test_a_chart_number_in_use_is_refused_and_nothing_is_added(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(URL, form(chart_number="A-100"))
    assert response.context["form"].errors["chart_number"] == ["Chart number A-100 is already in use."]
    assert Patient.objects.filter(chart_number="A-100").count() == 1
    # Another practice's chart numbers are its own.
    client.force_login(cast.bob.user)
    assert client.post(URL, form(chart_number="A-100")).status_code == 302


def test_fields_are_checked_as_on_demographics(client, cast):
    client.force_login(cast.alice.user)
    errors = client.post(URL, form(first_name="", phone="555-0142", ssn="000-12-3456",
                                   doctor=str(cast.bob.pk))).context["form"].errors
    assert errors["first_name"] == ["This field is required."]
    assert errors["phone"] == ["Include the area code, like (555) 555-0123."]
    assert errors["ssn"] == ["This is not a valid social security number."]
    assert "doctor" in errors
    assert not Patient.objects.filter(chart_number="A-200").exists()


def test_the_service_refuses_another_practices_doctor(cast):
    with pytest.raises(ValidationError) as refused:
        services.create_patient(cast.other_practice, by=cast.bob, chart_number="B-9", first_name="X", last_name="Y",
                                doctor=cast.dora)
    assert refused.value.message_dict == {"doctor": ["Choose one of this practice's doctors."]}
    assert not Patient.objects.filter(chart_number="B-9").exists()


def test_the_service_refuses_a_chart_number_in_use(cast):
    with pytest.raises(ValidationError) as refused:
        services.create_patient(cast.practice, by=cast.alice, chart_number="A-100", first_name="X", last_name="Y")
    assert refused.value.message_dict == {"chart_number": ["Chart number A-100 is already in use."]}
    assert Patient.objects.filter(chart_number="A-100").count() == 1
