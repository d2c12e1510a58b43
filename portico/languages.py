"""The languages patients may read Portico in (settings.LANGUAGES), and which one a patient gets.

A chart's `preferred_language` is a code from settings.LANGUAGES, or "" for "the practice's default"
(Practice.default_language; Patient.language gives the one that applies). Fields store the code
without `choices`, so turning on a third language is a settings change and a catalog, not a
migration (docs/languages.md)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language_info


def codes() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def validate_language(value: str) -> None:
    if value and value not in codes():
        raise ValidationError(f"{value!r} is not one of the languages Portico speaks ({', '.join(codes())}).",
                              code="language")


def english_name(code: str) -> str:
    """"Spanish": how staff pages (in English) name a language."""
    return get_language_info(code)["name"]


def own_name(code: str) -> str:
    """"Español": how a language names itself, for the patient's language switch."""
    return get_language_info(code)["name_local"]


def staff_choices() -> list[tuple[str, str]]:
    return [(code, english_name(code)) for code in codes()]


def from_words(value: str) -> str | None:
    """A language as a person may type it in an import file ("es", "Spanish", "Español"), as its code,
    or None when it is none of ours. Blank stays blank."""
    wanted = value.strip().casefold()
    if not wanted:
        return ""
    for code in codes():
        info = get_language_info(code)
        if wanted in (code, info["name"].casefold(), info["name_local"].casefold()):
            return code
    return None
