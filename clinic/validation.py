"""Normalise and validate patient details on the way in. Each function returns the clean value or
raises ValidationError with a message a receptionist can act on (the patient's pages show the same
messages, so they are marked for translation: gettext at the moment they are raised)."""

import datetime
import re
import unicodedata

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DEFAULT_PHONE_REGION = "US"
# The portal account is named after the patient's address, and Django's User.username holds 150
# characters: a longer address could be saved but never accepted. One limit for every place it is entered.
MAX_EMAIL_LENGTH = 150
EMAIL_TOO_LONG = format_lazy(
    gettext_lazy("An email address can have at most {limit} characters (it becomes the portal sign-in)."),
    limit=MAX_EMAIL_LENGTH)


def normalize_email(raw: str) -> str:
    """NFKC-normalise and lower-case the domain; compare addresses with `same_email` (casefold)."""
    value = unicodedata.normalize("NFKC", (raw or "").strip())
    if not value:
        return ""
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValidationError(EMAIL_TOO_LONG, code="email_too_long")
    validate_email(value)
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def same_email(a: str, b: str) -> bool:
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()


def normalize_ssn(raw: str) -> str:
    """Accept 123-45-6789 or 123456789; refuse numbers the SSA never issues."""
    value = (raw or "").strip()
    if not value:
        return ""
    digits = value.replace("-", "").replace(" ", "")
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        raise ValidationError(_("Enter a social security number of 9 digits, like 123-45-6789."), code="ssn_format")
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        raise ValidationError(_("This is not a valid social security number."), code="ssn_invalid")
    return digits


# "+1 (555) 555-0123", "555-555-0123", "555.555.0123", "5555550123": an optional +1, an area code
# that cannot start with 0 or 1 (nor be mistaken for a national prefix), seven more digits.
_PLAIN_NANP = re.compile(r"(?:\+1[ .-]?)?(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]?([0-9]{3})[ .-]?([0-9]{4})")


def normalize_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """Return the number in E.164 (+15555550123). A number without its area code is refused (the
    fictional 555 numbers are kept: phonenumbers' is_valid_number would refuse those and numbers from
    area codes newer than its metadata, so only the length of a complete number is checked)."""
    value = (raw or "").strip()
    if not value:
        return ""
    if region == "US" and (plain := _PLAIN_NANP.fullmatch(value)):
        # The shape nearly every US number is written in: phonenumbers' answer for it is always "+1"
        # and the ten digits (test_validation checks the two agree), at a tenth of its cost (an import
        # of 100,000 rows spent most of its checking time here).
        return "+1" + "".join(part for part in plain.groups() if part)
    return parsed_phone(value, region)


def parsed_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """normalize_phone's answer from phonenumbers, for any number."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(_("Enter a phone number, like (555) 555-0123."), code="phone_format") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        # Dialable only from within its area (555-0123): stored like that it could never match the
        # complete number a patient types to confirm who they are.
        raise ValidationError(_("Include the area code, like (555) 555-0123."), code="phone_no_area_code")
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValidationError(_("This phone number has the wrong number of digits."), code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def validate_date_of_birth(value: datetime.date | None) -> None:
    if value is None:
        return
    if value > timezone.localdate():
        raise ValidationError(_("The date of birth cannot be in the future."), code="dob_future")
    if value.year < 1900:
        raise ValidationError(_("Enter a date of birth after 1900."), code="dob_too_old")
