"""Who can be invited: an email address AND (a social security number OR a date of birth and a phone),
and at least the practice's minimum age. The rule itself is access.rules.missing; here it is applied
to one patient, and as a query."""

import datetime

from django.db.models import F, Q
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from access import rules
from access.rules import ADD_EMAIL, ADD_IDENTITY  # noqa: F401  (pages name the fields to add by these)
from clinic.models import Patient, Practice

HAS_DETAILS = ~Q(email="") & (~Q(ssn_last4="") | (Q(date_of_birth__isnull=False) & ~Q(phone="")))


def eligible(today: datetime.date) -> Q:
    """The same rule as a query, for lists and bulk sends over many patients, with `today` the date at
    the practice. Age is compared as numbers YYYYMMDD (portable SQL, and the same whole-year rule as
    rules.age_on): born + minimum age in years <= today."""
    born = ExtractYear("date_of_birth") * 10000 + ExtractMonth("date_of_birth") * 100 + ExtractDay("date_of_birth")
    of_age = LessThanOrEqual(born + F("practice__minimum_age") * 10000, today.year * 10000 + today.month * 100 + today.day)
    return HAS_DETAILS & (Q(date_of_birth__isnull=True) | Q(of_age))


def local_today(practice: Practice) -> datetime.date:
    return timezone.localdate(timezone=practice.tzinfo)


def missing_requirements(patient: Patient) -> list[str]:
    """What stands between this patient and an invitation, in words staff can act on."""
    practice = patient.practice
    age = rules.age_on(local_today(practice), patient.date_of_birth) if patient.date_of_birth else None
    # ssn_last4 says whether an SSN is on file without decrypting it (lists load it; see Patient.save).
    return rules.missing(has_email=bool(patient.email), has_ssn=bool(patient.ssn_last4),
                         has_date_of_birth_and_phone=bool(patient.date_of_birth and patient.phone),
                         age=age, minimum_age=practice.minimum_age)


def is_eligible(patient: Patient) -> bool:
    return not missing_requirements(patient)
