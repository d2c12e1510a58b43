from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm, SetPasswordMixin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.utils import ErrorDict
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from access import attempts, signins
from access.actions import passwords
from access.actions.acceptance import IdentityAnswers
from access.actions.caregivers import Caregiver
from access.actions.proxy_acceptance import ProxyAnswers
from access.models import Proxy
from access.signins import ThrottledAuthenticationForm
from clinic import validation
from portal import tasks
from portal.selectors import account_for_email
from portico.client import Client


def show_kept_errors(form: forms.Form, kept: dict[str, list[str]]) -> forms.Form:
    """An unbound form that shows the errors of the attempt the browser was redirected from
    (POST-redirect-GET: Back never lands on a posted page). `kept` maps a field name, or
    "__all__", to its messages, as `kept_errors` gives them."""
    form._errors = ErrorDict({
        name: form.error_class(messages, error_class="nonfield" if name == NON_FIELD_ERRORS else None,
                               renderer=form.renderer)
        for name, messages in kept.items()
    })
    return form


def kept_errors(form: forms.Form) -> dict[str, list[str]]:
    return {name: [e["message"] for e in errors] for name, errors in form.errors.get_json_data().items()}


class IdentityForm(forms.Form):
    """The details the practice has on file: the SSN, or the date of birth and phone (either when both).
    It only checks that an answer is complete and well-formed; whether it matches is the access rules'
    business, and a mismatch is never reported per field."""

    ssn = forms.CharField(
        label=_("Social security number"), required=False, max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}),
        help_text=_("9 digits, like 123-45-6789."),
    )
    # A text box, not a date picker: a birth date is typed faster than scrolled to, and a picker's
    # day/month order follows the browser's language, which made 05/17/1980 a wrong answer.
    date_of_birth = forms.DateField(
        label=_("Date of birth"), required=False, input_formats=["%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%m.%d.%Y"],
        widget=forms.TextInput(attrs={"autocomplete": "bday", "inputmode": "numeric", "spellcheck": "false"}),
        help_text=_("Month, day and year, like 05/17/1980."),
        error_messages={"invalid": _("Enter your date of birth as month/day/year, like 05/17/1980.")},
    )
    phone = forms.CharField(
        label=_("Phone number"), required=False, max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text=_("In any usual form, like (555) 555-0123 or 555.555.0123."),
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
            raise ValidationError(_("Enter your social security number, or both your date of birth and phone number."))
        if self.offer_ssn:
            raise ValidationError(_("Enter your social security number."))
        raise ValidationError(_("Enter both your date of birth and your phone number."))

    def answers(self) -> IdentityAnswers:
        data = self.cleaned_data
        if data.get("ssn"):
            return IdentityAnswers(ssn=data["ssn"])
        return IdentityAnswers(date_of_birth=data["date_of_birth"], phone=data["phone"])


class PlainPasswordRules(SetPasswordMixin):
    """A new password in plain words: the rules (AUTH_PASSWORD_VALIDATORS' help texts) are shown under
    the first field before anything is typed, a broken rule is reported on that field, and a
    mismatch on the second."""

    error_messages = {"password_mismatch": _("The two passwords are not the same. Type the same password in both boxes.")}
    # Django's wording where it is not plain enough; too_short keeps its own (it names the length).
    PLAIN = {
        "password_too_similar": _("This password is too much like your name or email address."),
        "password_too_common": _("This password is one that many people use, so it is easy to guess. Choose another."),
        "password_entirely_numeric": _("This password has only numbers. Add some letters or other characters."),
    }

    @staticmethod
    def password_fields(label1: str, label2: str) -> tuple[forms.CharField, forms.CharField]:
        first, second = SetPasswordMixin.create_password_fields(label1=label1, label2=label2)
        second.help_text = _("Type the same password again.")
        return first, second

    @sensitive_variables()
    def check_new_password(self, user, first: str, second: str) -> None:
        self.validate_passwords(first, second)
        password = self.cleaned_data.get(first)
        if not password:
            return
        try:
            password_validation.validate_password(password, user)
        except ValidationError as broken:
            self.add_error(first, [ValidationError(self.PLAIN.get(e.code, e.messages[0]), code=e.code)
                                   for e in broken.error_list])


class CreateAccountForm(PlainPasswordRules, forms.Form):
    """A new portal account for the invited address. The address itself is never taken from the request."""

    password1, password2 = PlainPasswordRules.password_fields(_("Choose a password"), _("Enter the password again"))

    def __init__(self, *args, invitation, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    def clean(self):
        if len(self.invitation.email) > validation.MAX_EMAIL_LENGTH:
            # The account is named after the address; an invitation sent before the limit existed (or a
            # row written around the forms) must be refused here, not fail in the database.
            raise ValidationError(_("Your email address is too long to sign in with. Please ask your practice to "
                                    "update it and send you a new invitation."), code="email_too_long")
        patient = self.invitation.patient
        # An unsaved user, so the similarity validator can compare against the name and address.
        would_be = get_user_model()(username=self.invitation.email, email=self.invitation.email,
                                    first_name=patient.first_name, last_name=patient.last_name)
        self.check_new_password(would_be, "password1", "password2")
        return super().clean()


class ActivationCodeForm(forms.Form):
    """The code printed on a front-desk invitation letter, typed however (case, spaces, dashes)."""

    code = forms.CharField(
        label=_("Activation code"), max_length=40,
        help_text=_("The 10 letters and numbers on your letter, for example ABCDE-FGH23. "
                    "Capitals or small letters, with or without the dash."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}))


class EmailForm(forms.Form):
    """The address a patient invited without one gives while creating the account."""

    email = forms.EmailField(label=_("Your email address"), max_length=validation.MAX_EMAIL_LENGTH,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}),
                             help_text=_("You will sign in with it. We email a code to it to check it is yours."))

    def clean_email(self) -> str:
        try:
            return validation.normalize_email(self.cleaned_data["email"])
        except ValidationError as e:
            if e.code == "email_too_long":
                raise
            raise ValidationError(_("Enter an email address like name@example.com."), code="email") from None


class EmailCodeForm(forms.Form):
    code = forms.CharField(label=_("Code from the email"), max_length=20, help_text=_("6 digits."),
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class SignInToConnectForm(forms.Form):
    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class PatientAuthenticationForm(ThrottledAuthenticationForm):
    """Django's sign-in form, refusing staff logins with the same message as a wrong password."""

    error_messages = {**ThrottledAuthenticationForm.error_messages,
                      "invalid_login": _("Please enter a correct email and password.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Email")
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


class PasswordResetRequestForm(forms.Form):
    """"Forgot your password?": the same answer whether or not the address has an account."""

    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}),
                             help_text=_("The address you sign in to the patient portal with."))

    def request_reset(self, client: Client) -> None:
        """Count the request (raises access.errors.TooManyAttempts), then hand the rest to the worker.
        The request does the same work either way (one lookup, one queued task), so how long it
        takes says nothing about whether the address has an account; the worker decides and mails."""
        email = self.cleaned_data["email"]
        passwords.claim_password_reset(email, client=client)
        account = account_for_email(email)
        tasks.send_password_reset.enqueue(account.pk if account else None, client.ip, client.user_agent,
                                          translation.get_language())


class NewPasswordForm(PlainPasswordRules, SetPasswordForm):
    """Choose a new password from an emailed reset link; saved through access.actions (history)."""

    new_password1, new_password2 = PlainPasswordRules.password_fields(_("New password"), _("Enter the new password again"))
    reason = "Reset with an emailed link"

    def __init__(self, user, *args, client: Client, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.client = client

    def clean(self):
        self.check_new_password(self.user, "new_password1", "new_password2")
        return forms.Form.clean(self)

    def save(self, commit=True):
        passwords.change_password(self.user, self.cleaned_data["new_password1"], reason=self.reason, client=self.client)
        return self.user


class ChangePasswordForm(NewPasswordForm, PasswordChangeForm):
    """Change the password on the account page: the current one first (each wrong guess counted
    like a sign-in, so a borrowed session cannot be used to try passwords)."""

    error_messages = {**NewPasswordForm.error_messages, "password_incorrect": _("That is not your current password.")}
    reason = "Changed on the account page"

    def __init__(self, user, *args, request, **kwargs):
        super().__init__(user, *args, client=Client.from_request(request), **kwargs)
        self.request = request
        self.fields["old_password"].label = _("Current password")
        self.fields["old_password"].widget.attrs.pop("autofocus", None)

    @sensitive_variables()
    def clean_old_password(self):
        try:
            attempt = signins.claim(self.user.get_username(), self.request)
        except signins.Throttled as e:
            raise ValidationError(e.message, code="throttled") from None
        password = super().clean_old_password()  # a wrong one raises: the guess keeps counting
        attempts.passed(attempt)
        return password


class SignOutEverywhereForm(forms.Form):
    """End every other session of the account. It asks for the password because that is what is
    re-hashed: a new salt gives a new hash, and Django ends every session made with the old one."""

    password = forms.CharField(label=_("Your password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    @sensitive_variables()
    def clean_password(self):
        password = self.cleaned_data["password"]
        try:
            user = signins.authenticate(self.request, self.request.user.get_username(), password)
        except signins.Throttled as e:
            raise ValidationError(e.message, code="throttled") from None
        if user is None or user.pk != self.request.user.pk:
            raise ValidationError(_("That is not your password."), code="password_incorrect")
        return password

    def save(self) -> None:
        """Hash the same password again under a new salt; the caller keeps its own session with
        update_session_auth_hash."""
        account = self.request.user
        account.set_password(self.cleaned_data["password"])
        account.save(update_fields=["password"])


class RequestAccessForm(forms.Form):
    """Ask a practice for portal access (portal.request_views). Checks the shape of each field, as the
    staff's Demographics form does (clinic.validation); `website` is a honeypot: hidden from people,
    filled in by bots."""

    first_name = forms.CharField(label=_("First name"), max_length=100,
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label=_("Last name"), max_length=100,
                                widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    date_of_birth = forms.DateField(
        label=_("Date of birth"), input_formats=IdentityForm.base_fields["date_of_birth"].input_formats,
        widget=forms.TextInput(attrs={"autocomplete": "bday", "inputmode": "numeric", "spellcheck": "false"}),
        help_text=_("Month, day and year, like 05/17/1980."),
        error_messages={"invalid": _("Enter your date of birth as month/day/year, like 05/17/1980. Check "
                                     "that the day exists in that month.")},
    )
    email = forms.CharField(
        label=_("Email"), max_length=validation.MAX_EMAIL_LENGTH, error_messages={"max_length": validation.EMAIL_TOO_LONG},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        help_text=_("If the practice approves, your invitation goes to the email address it has on file for you."),
    )
    phone = forms.CharField(label=_("Mobile phone"), max_length=30,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
                            help_text=_("With the area code, like (555) 555-0123."))
    note = forms.CharField(label=_("Note for the practice (optional)"), required=False, max_length=500,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("For example a name you were registered under before. "
                                       "Please do not write about your health here."))
    website = forms.CharField(label=_("Leave this empty"), required=False, max_length=200,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    KEPT = ("first_name", "last_name", "date_of_birth", "email", "phone", "note")

    def clean_first_name(self) -> str:
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self) -> str:
        return " ".join(self.cleaned_data["last_name"].split())

    def clean_date_of_birth(self):
        value = self.cleaned_data["date_of_birth"]
        validation.validate_date_of_birth(value)
        return value

    def clean_email(self) -> str:
        try:
            # Lower-cased whole: "Pat@…" repeating "pat@…" is the same person's request.
            return validation.normalize_email(self.cleaned_data["email"]).lower()
        except ValidationError as e:
            if e.code == "email_too_long":
                raise
            raise ValidationError(_("Enter an email address like name@example.com."), code="email") from None

    def clean_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["phone"])

    def clean_note(self) -> str:
        return self.cleaned_data["note"].strip()

    @property
    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))

    def request(self) -> dict:
        """The keyword arguments of access.actions.requests.request_access."""
        return {name: self.cleaned_data[name] for name in self.KEPT}


# --- proxy access: a parent's, guardian's or caregiver's identity check, account, and the patient's caregivers ---

class GuardianIdentityForm(forms.Form):
    """A parent's or guardian's identity check: the child's date of birth and their own mobile phone as
    the practice entered it. Only the shape is checked here; whether it matches is access's business."""

    date_of_birth = forms.DateField(
        label=_("Their date of birth"), input_formats=IdentityForm.base_fields["date_of_birth"].input_formats,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"}),
        help_text=_("Month, day and year, like 05/17/2015."),
        error_messages={"invalid": _("Enter the date of birth as month/day/year, like 05/17/2015."),
                        "required": _("Enter their date of birth.")},
    )
    phone = forms.CharField(
        label=_("Your mobile phone number"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text=_("The number you gave the practice, like (555) 555-0123."),
        error_messages={"required": _("Enter your mobile phone number.")},
    )

    def __init__(self, *args, child: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if child:
            self.fields["date_of_birth"].label = _("%(name)s's date of birth") % {"name": child}

    @sensitive_variables()
    def clean_phone(self):
        return validation.normalize_phone(self.cleaned_data["phone"])

    def answers(self):
        return ProxyAnswers(date_of_birth=self.cleaned_data["date_of_birth"], phone=self.cleaned_data["phone"])


class CaregiverCodeForm(forms.Form):
    """A caregiver's identity check: the one-time code the patient passed on, typed however."""

    code = forms.CharField(
        label=_("One-time code"), max_length=40,
        help_text=_("The 10 letters and numbers the patient gave you, for example ABCDE-FGH23."),
        error_messages={"required": _("Enter the code.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}))

    def answers(self):
        return ProxyAnswers(code=self.cleaned_data["code"])


class ProxyCreateAccountForm(PlainPasswordRules, forms.Form):
    """A new portal account for a proxy's invited address (never one taken from the request)."""

    password1, password2 = PlainPasswordRules.password_fields(_("Choose a password"), _("Enter the password again"))

    def __init__(self, *args, proxy, **kwargs):
        super().__init__(*args, **kwargs)
        self.proxy = proxy

    def clean(self):
        would_be = get_user_model()(username=self.proxy.email, email=self.proxy.email,
                                    first_name=self.proxy.first_name, last_name=self.proxy.last_name)
        self.check_new_password(would_be, "password1", "password2")
        return super().clean()


class CaregiverForm(forms.Form):
    """Who a patient invites as their caregiver (access.actions.caregivers.invite_caregiver)."""

    RELATIONSHIPS = ("spouse", "child", "parent", "relative", "other")
    LEVELS = (("full", _("Full: everything you see on your portal")),
              ("limited", _("Limited: your appointments and how to contact the practice")))

    first_name = forms.CharField(label=_("Their first name"), max_length=100,
                                 widget=forms.TextInput(attrs={"autocomplete": "off"}))
    last_name = forms.CharField(label=_("Their last name"), max_length=100,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    email = forms.CharField(label=_("Their email address"), max_length=validation.MAX_EMAIL_LENGTH,
                            error_messages={"max_length": validation.EMAIL_TOO_LONG},
                            widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                            help_text=_("We email them a link to accept."))
    relationship = forms.ChoiceField(label=_("They are your"), choices=())
    level = forms.ChoiceField(label=_("What they can see"), choices=LEVELS, widget=forms.RadioSelect, initial="limited")
    connection = forms.TypedChoiceField(label=_("At which practice"), coerce=int, choices=())

    def __init__(self, *args, connections=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Proxy.Relationship.choices)
        self.fields["relationship"].choices = [("", _("Choose…"))] + [(r, labels[r]) for r in self.RELATIONSHIPS]
        self.fields["connection"].choices = [(c.pk, c.practice.name) for c in connections]
        if len(connections) == 1:
            self.fields["connection"].widget = forms.HiddenInput()
            self.fields["connection"].initial = connections[0].pk

    def clean_first_name(self) -> str:
        return " ".join(self.cleaned_data["first_name"].split())

    def clean_last_name(self) -> str:
        return " ".join(self.cleaned_data["last_name"].split())

    def clean_email(self) -> str:
        try:
            return validation.normalize_email(self.cleaned_data["email"])
        except ValidationError as e:
            if e.code == "email_too_long":
                raise
            raise ValidationError(_("Enter an email address like name@example.com."), code="email") from None

    def caregiver(self):
        data = self.cleaned_data
        return Caregiver(first_name=data["first_name"], last_name=data["last_name"], email=data["email"],
                         relationship=data["relationship"], level=data["level"])
