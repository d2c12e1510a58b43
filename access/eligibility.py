"""Who can be invited: an email address AND (a social security number OR a date of birth and a phone),
and at least the practice's minimum age. The rule itself is access.rules.missing; here it is applied
to one patient, and as a query."""

import datetime

from django.core.validators import MaxValueValidator
from django.db.models import Case, DateField, Exists, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext

from access import rules
from access.rules import ADD_EMAIL, ADD_EMAIL_OR_TEXT, ADD_IDENTITY  # noqa: F401  (pages name the fields to add by these)
from access.text_selectors import consented_now, textable_without_email
from clinic.models import Patient, Practice

# An email, or (the practice invites by text when there is none) a mobile number with consent.
# For patients without an email only, two small subqueries by key (the practice's setting, the number's
# latest consent step): the main query still joins nothing.
REACHABLE = ~Q(email="") | (~Q(mobile_phone="") & Q(Exists(Practice.objects.filter(
    pk=OuterRef("practice_id"), invite_by=Practice.InviteBy.TEXT_WITHOUT_EMAIL))) & consented_now())
HAS_DETAILS = REACHABLE & (~Q(ssn_last4="") | (Q(date_of_birth__isnull=False) & ~Q(phone="")))
# The minimum ages a practice can set (the field's validators): one cutoff date each when the
# patients' practices are not known in advance (an age outside them, written around the settings
# form, would match none: nobody with a date of birth would be eligible there).
MINIMUM_AGES = range(max(v.limit_value for v in Practice._meta.get_field("minimum_age").validators
                         if isinstance(v, MaxValueValidator)) + 1)


def latest_birth_date(today: datetime.date, minimum_age: int) -> datetime.date:
    """The last date of birth that is `minimum_age` whole years old on `today`, as rules.age_on
    counts: this day `minimum_age` years back, or 28 February when today is 29 February and that year
    had none (born on 1 March of it, one is a day short). Born on 29 February, one is a year older on
    1 March in other years: on 28 February that birth is still after the cutoff, the same day."""
    year = today.year - minimum_age
    try:
        return today.replace(year=year)
    except ValueError:  # 29 February, in a year without one
        return datetime.date(year, 2, 28)


def eligible(today: datetime.date, minimum_age: int | None = None) -> Q:
    """The same rule as rules.missing, as a query, for lists and bulk sends over many patients, with
    `today` the date at the practice. `minimum_age` is the patients' practice's, when they share one:
    the age is then one comparison of date_of_birth with a date (no arithmetic per patient, no join).
    Without it each patient's practice's minimum age picks its date."""
    if minimum_age is None:
        born_by = Case(*(When(practice__minimum_age=age, then=Value(latest_birth_date(today, age)))
                         for age in MINIMUM_AGES), output_field=DateField())
    else:
        born_by = latest_birth_date(today, minimum_age)
    return HAS_DETAILS & (Q(date_of_birth__isnull=True) | Q(date_of_birth__lte=born_by))


def local_today(practice: Practice) -> datetime.date:
    return timezone.localdate(timezone=practice.tzinfo)


def missing_requirements(patient: Patient, *, textable: set[int] | None = None) -> list[str]:
    """What stands between this patient and an invitation, in words staff can act on. `textable`:
    for a list of patients, what textable_without_email said of them (one query for the list)."""
    practice = patient.practice
    age = rules.age_on(local_today(practice), patient.date_of_birth) if patient.date_of_birth else None
    # ssn_last4 says whether an SSN is on file without decrypting it (lists load it; see Patient.save).
    # The ledger is read only when a text could stand in for the email (lists show many patients).
    texts_instead = practice.invite_by == Practice.InviteBy.TEXT_WITHOUT_EMAIL
    reachable = bool(patient.email) or (texts_instead and bool(patient.mobile_phone) and patient.pk in (
        textable if textable is not None else textable_without_email([patient.pk])))
    return rules.missing(has_email=reachable, has_ssn=bool(patient.ssn_last4),
                         has_date_of_birth_and_phone=bool(patient.date_of_birth and patient.phone),
                         age=age, minimum_age=practice.minimum_age, text_instead=texts_instead)



def missing_for_print(patient: Patient) -> list[str]:
    """What stands between this patient and a printed invitation (no email needed), in words."""
    return [text for text in missing_requirements(patient) if text not in (gettext(ADD_EMAIL), gettext(ADD_EMAIL_OR_TEXT))]
