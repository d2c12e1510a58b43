"""Forms for the staff pages. They check the shape of input and normalise it with clinic.validation;
whether a patient may be invited is decided in access, never here."""

import datetime

from django import forms
from django.core.exceptions import ValidationError

from access.selectors import NEEDS_ATTENTION, NEEDS_ATTENTION_LABEL, PortalState
from clinic import validation
from clinic.models import Patient, StaffMember

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
CALENDAR_FIRST_DATE, CALENDAR_LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


class StaffForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PatientDetailsForm(StaffForm):
    """The details the portal invitation depends on, as entered in the appointment window.
    The social security number is never sent back to the browser: leave it blank to keep it."""

    email = forms.CharField(
        label="Email", required=False, max_length=validation.MAX_EMAIL_LENGTH,
        error_messages={"max_length": validation.EMAIL_TOO_LONG},
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    date_of_birth = forms.DateField(label="Date of birth", required=False, widget=DATE_INPUT)
    phone = forms.CharField(
        label="Phone", required=False, max_length=40, help_text="For example (555) 555-0123.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    ssn = forms.CharField(
        label="Social security number", required=False, max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}),
    )
    clear_ssn = forms.BooleanField(label="Remove the social security number on file", required=False)

    def __init__(self, *args, patient: Patient, **kwargs):
        kwargs.setdefault("initial", self.initial_for(patient))
        super().__init__(*args, **kwargs)
        self.patient = patient
        if patient.ssn_last4:
            self.fields["ssn"].help_text = f"On file: {patient.masked_ssn}. Leave blank to keep it."
        else:
            self.fields["ssn"].help_text = "For example 123-45-6789."
            del self.fields["clear_ssn"]

    @staticmethod
    def initial_for(patient: Patient) -> dict:
        return {"email": patient.email, "date_of_birth": patient.date_of_birth, "phone": patient.phone_display}

    def clean_email(self) -> str:
        try:
            return validation.normalize_email(self.cleaned_data["email"])
        except ValidationError as e:
            if e.code == "email_too_long":  # normalising can lengthen what was typed
                raise
            raise ValidationError("Enter an email address like name@example.com.", code="email") from None

    def clean_date_of_birth(self) -> datetime.date | None:
        value = self.cleaned_data["date_of_birth"]
        validation.validate_date_of_birth(value)
        return value

    def clean_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["phone"])

    def clean_ssn(self) -> str:
        return validation.normalize_ssn(self.cleaned_data["ssn"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("ssn") and cleaned.get("clear_ssn"):
            self.add_error("clear_ssn", "Either enter a new social security number or remove it, not both.")
        return cleaned

    def changes(self) -> dict:
        """The cleaned values for clinic.services.update_patient."""
        data = {name: self.cleaned_data[name] for name in self.fields if name not in ("ssn", "clear_ssn")}
        if self.cleaned_data.get("ssn"):
            data["ssn"] = self.cleaned_data["ssn"]
        elif self.cleaned_data.get("clear_ssn"):
            data["ssn"] = ""
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a ValidationError raised while saving next to the field it is about."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


class DemographicsForm(PatientDetailsForm):
    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    doctor = forms.ModelChoiceField(label="Doctor", queryset=StaffMember.objects.none(), required=False,
                                    empty_label="No doctor")

    field_order = ["first_name", "last_name", "date_of_birth", "email", "phone", "ssn", "clear_ssn", "doctor"]

    def __init__(self, *args, patient: Patient, doctors, **kwargs):
        kwargs.setdefault("initial", {
            **self.initial_for(patient), "first_name": patient.first_name, "last_name": patient.last_name,
            "doctor": patient.doctor_id,
        })
        super().__init__(*args, patient=patient, **kwargs)
        self.fields["doctor"].queryset = doctors

    def clean_first_name(self) -> str:
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self) -> str:
        return " ".join(self.cleaned_data["last_name"].split())


class PatientSearchForm(StaffForm):
    q = forms.CharField(label="Search patients", required=False, max_length=100,
                        help_text="Name, chart number, email or phone.",
                        widget=forms.TextInput(attrs={"type": "search"}))
    status = forms.ChoiceField(
        label="Portal status", required=False,
        choices=[("", "Any status"), (NEEDS_ATTENTION, f"{NEEDS_ATTENTION_LABEL} (locked, expired, email failed)"),
                 *PortalState.CHOICES],
        # A stale bookmark or an edited URL: say so plainly, and show every status instead.
        error_messages={"invalid_choice": "There is no portal status “%(value)s”, so patients of every status are shown."},
    )


class CalendarForm(StaffForm):
    DAY, WEEK = "day", "week"

    view = forms.ChoiceField(label="View", choices=[(DAY, "Day"), (WEEK, "Week")], required=False)
    date = forms.DateField(label="Date", required=False, widget=DATE_INPUT)
    doctor = forms.ModelChoiceField(label="Doctor", queryset=StaffMember.objects.none(), required=False,
                                    empty_label="All doctors")

    def __init__(self, *args, doctors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = doctors
        self.fields["doctor"].label_from_instance = lambda member: member.display_name

    def clean_date(self) -> datetime.date | None:
        # The calendar steps a week either side of the date it shows; near the ends of the dates Python
        # holds (years 1 and 9999) that would overflow, and no practice books appointments there.
        day = self.cleaned_data["date"]
        if day is not None and not CALENDAR_FIRST_DATE <= day <= CALENDAR_LAST_DATE:
            raise ValidationError(f"Choose a date between {CALENDAR_FIRST_DATE.year} and {CALENDAR_LAST_DATE.year}.",
                                  code="date_out_of_range")
        return day
