import datetime

import hypothesis
import pytest
import time_machine
from django.core.exceptions import ValidationError

from clinic import validation


@pytest.mark.parametrize(("raw", "clean"), [("123-45-6789", "123456789"), (" 123456789 ", "123456789"), ("", "")])
def test_it_accepts_ssns(raw, clean):
    assert validation.normalize_ssn(raw) == clean


@pytest.mark.parametrize("raw", ["12345678", "1234567890", "000-12-3456", "666-12-3456", "900-12-3456",
                                 "123-00-4567", "123-45-0000", "abc-de-fghi", "１２３４５６７８９"])
def test_it_refuses_bad_ssns(raw):
    with pytest.raises(ValidationError):
        validation.normalize_ssn(raw)


@pytest.mark.parametrize(("raw", "e164"), [("(555) 555-0123", "+15555550123"), ("555.555.0123", "+15555550123"),
                                           ("+44 20 7946 0958", "+442079460958"), ("", "")])
def test_it_parses_phones_to_e164(raw, e164):
    assert validation.normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12", "not a phone", "+1 555 555 01234567"])
def test_it_refuses_bad_phones(raw):
    with pytest.raises(ValidationError):
        validation.normalize_phone(raw)


@pytest.mark.parametrize("raw", ["555-0123", "5550123", "555 0123"])
def test_it_refuses_a_phone_without_its_area_code_and_says_so(raw):
    with pytest.raises(ValidationError) as refused:
        validation.normalize_phone(raw)
    assert refused.value.messages == ["Include the area code, like (555) 555-0123."]


def test_it_formats_phones_for_people():
    assert validation.format_phone("+15555550123") == "(555) 555-0123"
    assert validation.format_phone("+442079460958") == "+44 20 7946 0958"


@pytest.mark.parametrize(("raw", "clean"), [("Pat@Example.TEST", "Pat@example.test"), (" a@b.example ", "a@b.example"),
                                            ("ｐａｔ@example.test", "pat@example.test"), ("", "")])
def test_it_normalises_emails(raw, clean):
    assert validation.normalize_email(raw) == clean


@pytest.mark.parametrize("raw", ["pat", "pat@", "@example.test", "pat@@example.test"])
def test_it_refuses_bad_emails(raw):
    with pytest.raises(ValidationError):
        validation.normalize_email(raw)


def test_same_email_ignores_case_including_unicode():
    assert validation.same_email("Straße@example.test", "STRASSE@example.test") is True
    assert validation.same_email("a@example.test", "b@example.test") is False


@time_machine.travel(datetime.datetime(2026, 11, 2, 12, tzinfo=datetime.UTC), tick=False)
def test_a_date_of_birth_cannot_be_in_the_future():
    validation.validate_date_of_birth(datetime.date(2026, 11, 2))
    with pytest.raises(ValidationError, match="cannot be in the future"):
        validation.validate_date_of_birth(datetime.date(2026, 11, 3))
    with pytest.raises(ValidationError):
        validation.validate_date_of_birth(datetime.date(1850, 1, 1))


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(hypothesis.strategies.from_regex(
    r"(\+1[ .-]?)?(\([0-9]{3}\)|[0-9]{3})[ .-]?[0-9]{3}[ .-]?[0-9]{4}", fullmatch=True))
def test_the_quick_path_for_us_numbers_answers_as_phonenumbers_does(raw):
    # Any area code, 0 and 1 included, so the quick path's own limits are crossed too.
    try:
        expected = validation.parsed_phone(raw)
    except ValidationError as e:
        expected = e.messages
    try:
        got = validation.normalize_phone(raw)
    except ValidationError as e:
        got = e.messages
    assert got == expected


@pytest.mark.parametrize(("raw", "e164"), [("+1 (212) 555-0123", "+12125550123"), ("2125550123", "+12125550123"),
                                           ("+1-212.555 0123", "+12125550123")])
def test_the_quick_path_takes_the_usual_shapes(raw, e164):
    assert validation.normalize_phone(raw) == e164
