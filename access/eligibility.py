"""Who can be invited: an email address AND (a social security number OR a date of birth and a phone)."""

from django.db.models import Q

from clinic.models import Patient

ADD_EMAIL = "Add an email address"
ADD_IDENTITY = "Add a social security number, or a date of birth and a phone number"

# The same rule as a query, for lists and bulk sends over many patients.
ELIGIBLE = ~Q(email="") & (~Q(ssn_last4="") | (Q(date_of_birth__isnull=False) & ~Q(phone="")))


def missing_requirements(patient: Patient) -> list[str]:
    """What must be added before this patient can be invited, in words staff can act on."""
    missing = []
    if not patient.email:
        missing.append(ADD_EMAIL)
    if not patient.ssn and not (patient.date_of_birth and patient.phone):
        missing.append(ADD_IDENTITY)
    return missing


def is_eligible(patient: Patient) -> bool:
    return not missing_requirements(patient)
