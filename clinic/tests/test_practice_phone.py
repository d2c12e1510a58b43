import pytest
from django.core.exceptions import ValidationError

from clinic.models import Practice


@pytest.mark.parametrize("phone", ["", "+15555550123", "+442079460000"])
def test_it_accepts_no_phone_or_an_e164_number(db, phone):
    Practice(name="Maple Street Clinic", phone=phone).full_clean()


@pytest.mark.parametrize("phone", ["(555) 555-0123", "555.555.0123", "+1555", "call us"])
def test_it_refuses_a_phone_not_in_e164_form(db, phone):
    with pytest.raises(ValidationError) as refused:
        Practice(name="Maple Street Clinic", phone=phone).full_clean()
    assert "phone" in refused.value.message_dict


def test_it_shows_a_us_number_in_national_form():
    assert Practice(phone="+15555550123").phone_display == "(555) 555-0123"
