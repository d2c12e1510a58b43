"""Who can be invited: an email address AND (a social security number OR a date of birth and a phone).
The rule itself is access.rules.missing; here it is applied to one patient, and as a query."""

from django.db.models import Q

from access import rules
from access.rules import ADD_EMAIL, ADD_IDENTITY  # noqa: F401  (pages name the fields to add by these)
from clinic.models import Patient

# The same rule as a query, for lists and bulk sends over many patients.
ELIGIBLE = ~Q(email="") & (~Q(ssn_last4="") | (Q(date_of_birth__isnull=False) & ~Q(phone="")))


def missing_requirements(patient: Patient) -> list[str]:
    """What must be added before this patient can be invited, in words staff can act on."""
    return rules.missing(has_email=bool(patient.email), has_ssn=bool(patient.ssn),
                         has_date_of_birth_and_phone=bool(patient.date_of_birth and patient.phone))


def is_eligible(patient: Patient) -> bool:
    return not missing_requirements(patient)
