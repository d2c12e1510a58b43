import datetime

import pytest

from access.eligibility import ADD_EMAIL, ADD_IDENTITY, eligible, local_today, missing_requirements
from clinic.models import Patient

DOB = datetime.date(1990, 1, 2)


@pytest.mark.parametrize(
    ("email", "ssn", "dob", "phone", "missing"),
    [
        ("a@example.test", "123456789", None, "", []),
        ("a@example.test", "", DOB, "+15555550123", []),
        ("a@example.test", "123456789", DOB, "+15555550123", []),
        ("", "123456789", None, "", [ADD_EMAIL]),
        ("a@example.test", "", DOB, "", [ADD_IDENTITY]),
        ("a@example.test", "", None, "+15555550123", [ADD_IDENTITY]),
        ("a@example.test", "", None, "", [ADD_IDENTITY]),
        ("", "", None, "", [ADD_EMAIL, ADD_IDENTITY]),
    ],
)
def test_it_names_what_is_missing(cast, email, ssn, dob, phone, missing):
    patient = Patient.objects.create(practice=cast.practice, chart_number="X", first_name="X", last_name="Y",
                                     email=email, ssn=ssn, date_of_birth=dob, phone=phone)
    assert missing_requirements(patient) == missing
    # The query form of the rule agrees with the Python form.
    assert Patient.objects.filter(eligible(local_today(cast.practice)), pk=patient.pk).exists() is (not missing)


def test_it_words_requirements_for_people():
    assert ADD_EMAIL == "Add an email address"
    assert ADD_IDENTITY == "Add a social security number, or a date of birth and a phone number"
