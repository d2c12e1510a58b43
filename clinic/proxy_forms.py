"""The Invite a parent or guardian form on Portal Access (issue 21); the API checks its body with it too."""

from django import forms
from django.utils.translation import gettext_lazy as _

from access.actions.proxies import Guardian
from access.models import Proxy
from access.proxy_rules import GUARDIAN_RELATIONSHIPS
from clinic import validation
from clinic.forms import StaffForm


class GuardianForm(StaffForm):
    """Names and relationship are required here; a missing email or mobile number is left to the action,
    whose refusal names everything missing at once (with what is missing on the chart)."""

    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    relationship = forms.ChoiceField(label=_("Relationship to the patient"), choices=[
        ("", _("Choose…")), *[(value, label) for value, label in Proxy.Relationship.choices
                             if value in GUARDIAN_RELATIONSHIPS]])
    email = forms.CharField(label=_("Email"), required=False, max_length=validation.MAX_EMAIL_LENGTH,
                            widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                            help_text=_("The invitation link goes here."))
    mobile_phone = forms.CharField(label=_("Mobile phone"), required=False, max_length=40,
                                   widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
                                   help_text=_("With the area code. They confirm who they are with it."))
    teen_agreed = forms.BooleanField(label=_("The patient agrees to this person having full access"), required=False,
                                     help_text=_("Recorded with your name and the time. Without it, access from "
                                                 "this age is limited to appointments and practice contact."))

    def __init__(self, *args, teen: bool = False, **kwargs):
        # Prefixed: Portal Access has other forms (texts' consent has its own mobile_phone), ids stay unique.
        kwargs.setdefault("prefix", "guardian")
        super().__init__(*args, **kwargs)
        if not teen:  # younger children: full access is the default, there is nothing to agree to
            del self.fields["teen_agreed"]

    def clean_email(self) -> str:
        return validation.normalize_email(self.cleaned_data["email"])

    def clean_mobile_phone(self) -> str:
        return validation.normalize_phone(self.cleaned_data["mobile_phone"])

    def guardian(self) -> Guardian:
        data = self.cleaned_data
        return Guardian(first_name=data["first_name"].strip(), last_name=data["last_name"].strip(),
                        relationship=data["relationship"], email=data["email"], mobile_phone=data["mobile_phone"])
