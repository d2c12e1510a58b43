"""One limit for a patient's email address, wherever it is entered: 150 characters, because the
portal account is named after it (the account step's own refusal is in portal/tests)."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from clinic.models import Appointment, Patient
from clinic.tests.test_appointment import HTMX, START
from clinic.tests.test_demographics import form_data, url

# A local part of 64 characters (the most an address allows) and a domain of 85.
AT_LIMIT = "p" * 64 + "@" + "d" * 63 + "." + "e" * 16 + ".test"
OVER_LIMIT = "p" * 64 + "@" + "d" * 63 + "." + "e" * 17 + ".test"
REFUSED = "An email address can have at most 150 characters (it becomes the portal sign-in)."


def test_the_addresses_are_the_lengths_they_claim():
    assert (len(AT_LIMIT), len(OVER_LIMIT)) == (150, 151)


def test_the_model_takes_150_characters_and_refuses_151(cast):
    cast.ned.email = AT_LIMIT
    cast.ned.full_clean()
    cast.ned.email = OVER_LIMIT
    with pytest.raises(ValidationError) as refused:
        cast.ned.full_clean()
    assert list(refused.value.message_dict) == ["email"]


def test_demographics_saves_150_characters(client, cast):
    client.force_login(cast.alice.user)
    assert client.post(url(cast.ned), form_data(email=AT_LIMIT)).status_code == 302
    assert Patient.objects.get(pk=cast.ned.pk).email == AT_LIMIT


def test_demographics_refuses_151_characters_and_says_why(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned), form_data(email=OVER_LIMIT))
    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert Patient.objects.get(pk=cast.ned.pk).email == ""


@pytest.mark.parametrize(("typed", "saved"), [(AT_LIMIT, AT_LIMIT), (OVER_LIMIT, "")], ids=["150", "151"])
def test_the_appointment_window_applies_the_same_limit(client, cast, typed, saved):
    appt = Appointment.objects.create(practice=cast.practice, patient=cast.ned, doctor=cast.dora, starts_at=START,
                                      ends_at=START.replace(minute=30))
    client.force_login(cast.alice.user)
    response = client.post(reverse("clinic:appointment-details", args=[appt.pk]),
                           {"window": "dialog", "email": typed, "phone": "", "ssn": ""}, **HTMX)
    assert (REFUSED in response.content.decode()) == (saved == "")
    assert Patient.objects.get(pk=cast.ned.pk).email == saved


def test_normalising_cannot_lengthen_an_address_past_the_limit(client, cast):
    """NFKC turns the ligature "ﬀ" (one character) into "ff" (two): 150 typed, 151 stored."""
    typed = "p" * 64 + "@" + "d" * 63 + ".ﬀ" + "e" * 15 + ".test"
    assert len(typed) == 150
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned), form_data(email=typed))
    assert REFUSED in response.content.decode()
    assert Patient.objects.get(pk=cast.ned.pk).email == ""


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the column itself refuses 151 characters there")
def test_the_migration_stops_on_a_longer_address_already_saved(cast):
    """Rather than let PostgreSQL fail on the column change, or cut an address short."""
    migration = importlib.import_module("clinic.migrations.0002_patient_email_max_150")
    migration.refuse_longer_addresses(apps, None)  # nothing too long yet
    Patient.objects.filter(pk=cast.ned.pk).update(email=OVER_LIMIT)
    with pytest.raises(RuntimeError, match=rf"patient ids: \[{cast.ned.pk}\]"):
        migration.refuse_longer_addresses(apps, None)
