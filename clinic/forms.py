"""Forms for the staff pages. They check the shape of input and normalise it with clinic.validation;
whether a patient may be invited is decided in access, never here."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from access.models import AccessRequest
from access.selectors import NEEDS_ATTENTION, NEEDS_ATTENTION_LABEL, PortalState
from clinic import validation
from clinic.models import Patient, Practice, StaffMember
from portico import languages

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
        label=_("Email"), required=False, max_length=validation.MAX_EMAIL_LENGTH,
        error_messages={"max_length": validation.EMAIL_TOO_LONG},
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DATE_INPUT)
    phone = forms.CharField(
        label=_("Phone"), required=False, max_length=40, help_text=_("For example (555) 555-0123."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    ssn = forms.CharField(
        label=_("Social security number"), required=False, max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}),
    )
    clear_ssn = forms.BooleanField(label=_("Remove the social security number on file"), required=False)
    # Texts: the number they go to, and staff recording the patient's spoken agreement (or refusal) to
    # them; a changed number has no consent until it is recorded again (access.actions.texting).
    mobile_phone = forms.CharField(
        label=_("Mobile number"), required=False, max_length=40,
        help_text=_("Texts go to this number only. A new number needs the patient's consent again."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    text_consent = forms.TypedChoiceField(
        label=_("Consent to texts"), required=False, coerce=lambda v: v == "yes", empty_value=None,
        choices=[("", _("No change")),
                 ("yes", _("The patient agrees to texts (said so to me)")),
                 ("no", _("The patient does not agree to texts"))],
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        kwargs.setdefault("initial", self.initial_for(patient))
        super().__init__(*args, **kwargs)
        self.patient = patient
        if patient.ssn_last4:
            self.fields["ssn"].help_text = gettext("On file: %(ssn)s. Leave blank to keep it.") % {"ssn": patient.masked_ssn}
        else:
            self.fields["ssn"].help_text = gettext("For example 123-45-6789.")
            del self.fields["clear_ssn"]

    @staticmethod
    def initial_for(patient: Patient) -> dict:
        return {"email": patient.email, "date_of_birth": patient.date_of_birth, "phone": patient.phone_display,
                "mobile_phone": patient.mobile_phone_display}

    def clean_email(self) -> str:
        try:
            return validation.normalize_email(self.cleaned_data["email"])
        except ValidationError as e:
            if e.code == "email_too_long":  # normalising can lengthen what was typed
                raise
            raise ValidationError(gettext("Enter an email address like name@example.com."), code="email") from None

    def clean_date_of_birth(self) -> datetime.date | None:
        value = self.cleaned_data["date_of_birth"]
        validation.validate_date_of_birth(value)
        return value

    def clean_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["phone"])

    def clean_ssn(self) -> str:
        return validation.normalize_ssn(self.cleaned_data["ssn"])

    def clean_mobile_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["mobile_phone"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("ssn") and cleaned.get("clear_ssn"):
            self.add_error("clear_ssn", gettext("Either enter a new social security number or remove it, not both."))
        if cleaned.get("text_consent") is not None and "mobile_phone" in cleaned and not cleaned["mobile_phone"]:
            self.add_error("text_consent", gettext("Consent to texts is about a mobile number: enter it first."))
        return cleaned

    def changes(self) -> dict:
        """The cleaned values for clinic.services.update_patient (text_consent: None for no change)."""
        data = {name: self.cleaned_data[name] for name in self.fields
                if name not in ("ssn", "clear_ssn", "text_consent")}
        if self.cleaned_data.get("ssn"):
            data["ssn"] = self.cleaned_data["ssn"]
        elif self.cleaned_data.get("clear_ssn"):
            data["ssn"] = ""
        return data

    def consent_to_texts(self) -> bool | None:
        """Staff recorded the patient's spoken agreement (True) or refusal (False) to texts; None: no change."""
        return self.cleaned_data.get("text_consent")

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a ValidationError raised while saving next to the field it is about."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


class DemographicsForm(PatientDetailsForm):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    doctor = forms.ModelChoiceField(label=_("Doctor"), queryset=StaffMember.objects.none(), required=False,
                                    empty_label=_("No doctor"))
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), required=False, choices=languages.staff_choices(),
        help_text=_("The language of the patient's portal invitation, emails and pages."))

    field_order = ["first_name", "last_name", "date_of_birth", "email", "phone", "mobile_phone", "text_consent", "ssn",
                   "clear_ssn", "doctor", "preferred_language"]

    def __init__(self, *args, patient: Patient, doctors, **kwargs):
        kwargs.setdefault("initial", {
            **self.initial_for(patient), "first_name": patient.first_name, "last_name": patient.last_name,
            "doctor": patient.doctor_id, "preferred_language": patient.preferred_language,
        })
        super().__init__(*args, patient=patient, **kwargs)
        self.fields["doctor"].queryset = doctors
        default = languages.english_name(patient.practice.default_language)
        self.fields["preferred_language"].choices = [("", gettext("The practice's default (%(language)s)")
                                                          % {"language": default}),
                                                     *languages.staff_choices()]

    def clean_first_name(self) -> str:
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self) -> str:
        return " ".join(self.cleaned_data["last_name"].split())


class PatientSearchForm(StaffForm):
    q = forms.CharField(label=_("Search patients"), required=False, max_length=100,
                        help_text=_("Name, chart number, email or phone."),
                        widget=forms.TextInput(attrs={"type": "search"}))
    status = forms.ChoiceField(
        label=_("Portal status"), required=False,
        choices=[("", _("Any status")),
                 (NEEDS_ATTENTION, format_lazy(_("{label} (locked, expired, email failed)"), label=_(NEEDS_ATTENTION_LABEL))),
                 *PortalState.CHOICES],
        # A stale bookmark or an edited URL: say so plainly, and show every status instead.
        error_messages={"invalid_choice": _("There is no portal status “%(value)s”, so patients of every status are "
                                            "shown.")},
    )
    language = forms.ChoiceField(
        label=_("Language"), required=False, choices=[("", _("Any language")), *languages.staff_choices()],
        help_text=_("The language of the patient's emails and invitation pages."),
        error_messages={"invalid_choice": _("Portico has no language “%(value)s”, so patients of every language are "
                                            "shown.")},
    )


class CalendarForm(StaffForm):
    DAY, WEEK = "day", "week"

    view = forms.ChoiceField(label=_("View"), choices=[(DAY, _("Day")), (WEEK, _("Week"))], required=False)
    date = forms.DateField(label=_("Date"), required=False, widget=DATE_INPUT)
    doctor = forms.ModelChoiceField(label=_("Doctor"), queryset=StaffMember.objects.none(), required=False,
                                    empty_label=_("All doctors"))

    def __init__(self, *args, doctors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = doctors
        self.fields["doctor"].label_from_instance = lambda member: member.display_name

    def clean_date(self) -> datetime.date | None:
        # The calendar steps a week either side of the date it shows; near the ends of the dates Python
        # holds (years 1 and 9999) that would overflow, and no practice books appointments there.
        day = self.cleaned_data["date"]
        if day is not None and not CALENDAR_FIRST_DATE <= day <= CALENDAR_LAST_DATE:
            raise ValidationError(gettext("Choose a date between %(first)d and %(last)d.")
                                  % {"first": CALENDAR_FIRST_DATE.year, "last": CALENDAR_LAST_DATE.year},
                                  code="date_out_of_range")
        return day


CHART_NUMBER_IN_USE = _("Chart number %(number)s is already in use.")


class NewPatientForm(DemographicsForm):
    """Demographics, with the chart number a new patient is filed under (unique in the practice)."""

    chart_number = forms.CharField(label=_("Chart number"), max_length=32)

    field_order = ["chart_number", *DemographicsForm.field_order]

    def __init__(self, *args, practice, doctors, **kwargs):
        super().__init__(*args, patient=Patient(practice=practice), doctors=doctors, **kwargs)
        self.practice = practice
        # A new chart's mobile number and consent are recorded once it exists (Demographics, Portal Access).
        del self.fields["mobile_phone"], self.fields["text_consent"]

    def clean_chart_number(self) -> str:
        # Said with the other fields' problems; clinic.services.create_patient still decides (constraint).
        number = " ".join(self.cleaned_data["chart_number"].split())
        if Patient.objects.filter(practice=self.practice, chart_number=number).exists():
            raise ValidationError(CHART_NUMBER_IN_USE % {"number": number}, code="chart_number_in_use")
        return number

    def changes(self) -> dict:
        """The keyword arguments of clinic.services.create_patient, but the chart number."""
        return {name: value for name, value in super().changes().items() if name != "chart_number"}


APPOINTMENT_LENGTHS = [(10, _("10 minutes")), (15, _("15 minutes")), (20, _("20 minutes")), (30, _("30 minutes")),
                       (45, _("45 minutes")), (60, _("1 hour")), (90, _("1 hour 30 minutes")), (120, _("2 hours"))]


class BookingForm(StaffForm):
    """An appointment: the patient (by chart number, unless booked from their chart), a doctor of the
    practice, the start in the practice's time zone, the length and the reason."""

    chart_number = forms.CharField(label=_("Patient's chart number"), max_length=32)
    doctor = forms.ModelChoiceField(label=_("Doctor"), queryset=StaffMember.objects.none())
    date = forms.DateField(label=_("Date"), widget=DATE_INPUT)
    time = forms.TimeField(label=_("Start time"), widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"))
    minutes = forms.TypedChoiceField(label=_("Length"), choices=APPOINTMENT_LENGTHS, coerce=int, initial=30)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, practice, doctors, patient: Patient | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.practice, self.patient = practice, patient
        self.fields["doctor"].queryset = doctors
        self.fields["doctor"].label_from_instance = lambda member: member.display_name
        if patient is not None:
            del self.fields["chart_number"]

    def clean_chart_number(self) -> str:
        number = " ".join(self.cleaned_data["chart_number"].split())
        self.patient = Patient.objects.filter(practice=self.practice, chart_number=number).first()
        if self.patient is None:
            raise ValidationError(gettext("No patient has the chart number %(number)s.") % {"number": number})
        return number

    def clean_date(self) -> datetime.date:
        day = self.cleaned_data["date"]
        if not CALENDAR_FIRST_DATE <= day <= CALENDAR_LAST_DATE:
            raise ValidationError(gettext("Choose a real date."), code="date_out_of_range")
        return day

    def booking(self) -> dict:
        """The keyword arguments of clinic.services.book_appointment (less `by`)."""
        data = self.cleaned_data
        starts_at = datetime.datetime.combine(data["date"], data["time"], tzinfo=self.practice.tzinfo)
        return {"patient": self.patient, "doctor": data["doctor"], "starts_at": starts_at, "minutes": data["minutes"],
                "reason": data["reason"]}

    def add_service_errors(self, error: ValidationError) -> None:
        """A refusal of book_appointment next to its field ("starts_at" is the date and time)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            field = {"starts_at": "time"}.get(field, field)
            self.add_error(field if field in self.fields else None, errors)


class PracticeSettingsForm(forms.ModelForm):
    """The practice's settings (access.actions.SETTINGS), for its admins."""

    reminder_days_before = forms.TypedChoiceField(
        label=_("Reminder before expiry"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Off")), *[(n, ngettext_lazy("%(count)d day before it expires", "%(count)d days before it expires",
                                                     "count") % {"count": n}) for n in range(1, 30)]],
        help_text=_("One email with a fresh link (the earlier link stops working); the expiry stays the same."))
    reinvite_after_days = forms.TypedChoiceField(
        label=_("Re-invite patients who did not accept"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Off")), *Practice.REINVITE_DAYS],
        help_text=_("Counted from when the unanswered invitation was sent."))
    renewal_days = forms.TypedChoiceField(
        label=_("Patients may renew an expired invitation"), required=False, coerce=int, empty_value=None,
        choices=[("", _("Off")), *[(n, ngettext_lazy("Up to %(count)d day after it expired",
                                                     "Up to %(count)d days after it expired", "count") % {"count": n})
                                   for n in (7, 14, 30, 60, 90, 180, 365)]],
        help_text=_("From the expired link, by answering the identity check again; the new link goes to the "
                    "email on file."))
    phone = forms.CharField(label=_("Practice phone"), required=False, max_length=40,
                            widget=forms.TextInput(attrs={"type": "tel"}),
                            help_text=_("Shown to patients with the sentence below. For example (555) 555-0123."))

    default_language = forms.ChoiceField(
        label=_("Patients' language"), choices=languages.staff_choices(), required=False,
        help_text=_("Invitations, emails and patient pages are in this language unless the patient's chart names "
                    "another (Demographics)."))
    holidays = forms.CharField(
        label=_("Holidays"), required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 20}),
        help_text=_("Days the practice is closed, one a line (e.g. 2026-12-25): the electronic-access measure skips "
                    "them with weekends when it counts 4 business days after a visit."))

    # Guardians' ages (issue 21): a form posted without them (a page from before they existed) keeps them.
    proxy_limited_from_age = forms.IntegerField(
        label=Practice._meta.get_field("proxy_limited_from_age").verbose_name, required=False, min_value=1,
        max_value=17, help_text=Practice._meta.get_field("proxy_limited_from_age").help_text)
    proxy_ends_at_age = forms.IntegerField(
        label=Practice._meta.get_field("proxy_ends_at_age").verbose_name, required=False, min_value=16, max_value=21,
        help_text=Practice._meta.get_field("proxy_ends_at_age").help_text)

    def clean_proxy_limited_from_age(self) -> int:
        return _or_current(self, "proxy_limited_from_age")

    def clean_proxy_ends_at_age(self) -> int:
        return _or_current(self, "proxy_ends_at_age")

    class Meta:
        model = Practice
        fields = ["auto_invite", "reminder_days_before", "reinvite_after_days", "reinvite_max", "minimum_age",
                  "invite_ttl_days", "renewal_days", "phone", "patient_contact_note", "holidays", "worklist_bell",
                  "default_language", "invite_by", "proxy_limited_from_age", "proxy_ends_at_age"]
        widgets = {"auto_invite": forms.RadioSelect, "invite_by": forms.RadioSelect}
        help_texts = {
            "auto_invite": _("Only patients never invited before, eligible, and not connected are invited."),
            "reinvite_max": _("Then the patient is left alone until staff send an invitation (1 to 5)."),
            "minimum_age": _("Younger patients (by their date of birth) cannot be invited."),
            "invite_ttl_days": _("How long a new invitation link works: 1 to 30 days."),
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.initial["phone"] = self.instance.phone_display
        self.initial["holidays"] = "\n".join(sorted(self.instance.holidays))

    def clean_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["phone"])

    def clean_default_language(self) -> str:
        """Not sent (a form from before this setting existed): the practice's keeps."""
        return self.cleaned_data["default_language"] or self.instance.default_language

    def clean_holidays(self) -> list[str]:
        """One date a line (blank lines and repeats ignored), as sorted ISO dates."""
        days = set()
        for line in self.cleaned_data["holidays"].replace(",", "\n").split():
            try:
                days.add(datetime.date.fromisoformat(line.strip()).isoformat())
            except ValueError:
                raise ValidationError(gettext("“%(line)s” is not a date like 2026-12-25.") % {"line": line.strip()},
                                      code="holiday") from None
        return sorted(days)


class ApproveRequestForm(StaffForm):
    """Approve an access request for a chart; when the addresses differ, what to do about the chart's."""

    UPDATE, KEEP = "update", "keep"

    patient = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    email_choice = forms.ChoiceField(
        label=_("The request's email differs from the chart's"), required=False, widget=forms.RadioSelect,
        choices=[(UPDATE, _("Update the chart's email to the request's, then invite")),
                 (KEEP, _("Keep the chart's email and invite there"))],
    )

    def update_email(self) -> bool | None:
        """For access.actions.requests.approve_request: None when staff did not choose."""
        return {self.UPDATE: True, self.KEEP: False}.get(self.cleaned_data.get("email_choice") or "")


class DeclineRequestForm(StaffForm):
    reason = forms.ChoiceField(label=_("Reason (the requester is emailed these words)"),
                               choices=[("", _("Choose a reason")), *AccessRequest.DeclineReason.choices])


class TextConsentForm(StaffForm):
    """Staff record the patient's consent to texts (or its withdrawal) for their mobile number."""

    mobile_phone = forms.CharField(label=_("Mobile number"), max_length=40, widget=forms.TextInput(attrs={"type": "tel"}),
                                   help_text=_("With the area code, e.g. (555) 555-0123. Texts go to this number only."))
    consented = forms.TypedChoiceField(
        label=_("Consent to texts"), widget=forms.RadioSelect, coerce=lambda v: v == "yes",
        choices=[("yes", _("The patient agrees to texts from the practice")), ("no", _("The patient does not agree"))])
    source = forms.ChoiceField(label=_("How the patient said so"), choices=[
        ("staff_spoken", _("Told me (spoken agreement)")), ("patient_form", _("On a signed form"))])

    def clean_mobile_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["mobile_phone"])


def _or_current(form: forms.ModelForm, name: str):
    """The value posted, or the instance's when the field was left out or blank."""
    value = form.cleaned_data.get(name)
    return getattr(form.instance, name) if value is None else value
