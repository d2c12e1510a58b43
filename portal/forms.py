from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from access.actions import IdentityAnswers
from access.signins import ThrottledAuthenticationForm
from clinic import validation
from portal.selectors import account_for_email


class IdentityForm(forms.Form):
    """The details the practice has on file: the SSN, or the date of birth and phone (either when both).
    It only checks that an answer is complete and well-formed; whether it matches is the access rules'
    business, and a mismatch is never reported per field."""

    ssn = forms.CharField(
        label="Social security number", required=False, max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}),
        help_text="9 digits, like 123-45-6789.",
    )
    date_of_birth = forms.DateField(
        label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
    )
    phone = forms.CharField(
        label="Phone number", required=False, max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}), help_text="Like (555) 555-0123.",
    )

    def __init__(self, *args, offer_ssn: bool = True, offer_dob_phone: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer_ssn, self.offer_dob_phone = offer_ssn, offer_dob_phone
        if not offer_ssn:
            del self.fields["ssn"]
        if not offer_dob_phone:
            del self.fields["date_of_birth"], self.fields["phone"]

    @sensitive_variables()
    def clean_ssn(self):
        return validation.normalize_ssn(self.cleaned_data["ssn"])

    @sensitive_variables()
    def clean_phone(self):
        return validation.normalize_phone(self.cleaned_data["phone"])

    def clean(self):
        data = super().clean()
        if self.errors or data.get("ssn"):
            return data
        if data.get("date_of_birth") and data.get("phone"):
            return data
        if self.offer_ssn and self.offer_dob_phone:
            raise ValidationError("Enter your social security number, or both your date of birth and phone number.")
        if self.offer_ssn:
            raise ValidationError("Enter your social security number.")
        raise ValidationError("Enter both your date of birth and your phone number.")

    def answers(self) -> IdentityAnswers:
        data = self.cleaned_data
        if data.get("ssn"):
            return IdentityAnswers(ssn=data["ssn"])
        return IdentityAnswers(date_of_birth=data["date_of_birth"], phone=data["phone"])


class CreateAccountForm(SetPasswordMixin, forms.Form):
    """A new portal account for the invited address. The address itself is never taken from the request."""

    password1, password2 = SetPasswordMixin.create_password_fields(label1="Choose a password",
                                                                    label2="Enter the password again")

    def __init__(self, *args, invitation, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    def clean(self):
        if len(self.invitation.email) > validation.MAX_EMAIL_LENGTH:
            # The account is named after the address; an invitation sent before the limit existed (or a
            # row written around the forms) must be refused here, not fail in the database.
            raise ValidationError("Your email address is too long to sign in with. Please ask your practice to "
                                  "update it and send you a new invitation.", code="email_too_long")
        self.validate_passwords()
        patient = self.invitation.patient
        # An unsaved user, so the similarity validator can compare against the name and address.
        would_be = get_user_model()(username=self.invitation.email, email=self.invitation.email,
                                    first_name=patient.first_name, last_name=patient.last_name)
        self.validate_password_for_user(would_be)
        return super().clean()


class SignInToConnectForm(forms.Form):
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class PatientAuthenticationForm(ThrottledAuthenticationForm):
    """Django's sign-in form, refusing staff logins with the same message as a wrong password."""

    error_messages = {**ThrottledAuthenticationForm.error_messages,
                      "invalid_login": "Please enter a correct email and password."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update(autocomplete="email", type="email")

    def clean_username(self):
        # Accounts are named after the invited address as it was on file; sign-in ignores its case.
        username = self.cleaned_data["username"]
        account = account_for_email(username)
        return account.get_username() if account else username

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if hasattr(user, "staff"):
            raise self.get_invalid_login_error()
