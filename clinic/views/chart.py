"""The patient chart: summary, demographics, appointments and the Portal Access page with its actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access import summary
from access.actions import sending
from access.models import Channel
from access.rules import ADD_EMAIL, ADD_EMAIL_OR_TEXT, ADD_IDENTITY
from access.selectors import access_history
from access.text_selectors import CAN_TEXT, texting_summary
from clinic import selectors
from clinic.decorators import staff_required
from clinic.forms import DemographicsForm, TextConsentForm
from clinic.services import CONTACT_FIELDS, update_patient
from clinic.views import letters, portal_buttons
from clinic.views.common import PAGE_SIZE, client_of, load_patient
from clinic.views.proxy_panel import proxies_context
from sms.provider import enabled as texts_enabled

# Where on the Demographics page each missing requirement can be added (by its marked words: the page
# lists them translated).
ADD_LINKS = {ADD_EMAIL: "id_email", ADD_EMAIL_OR_TEXT: "id_email", ADD_IDENTITY: "id_ssn"}


def _chart(request, patient, tab: str, template: str, **context):
    """Render a chart tab; every tab's header shows the portal state."""
    if "portal" not in context:
        context["portal"] = summary.portal_access(patient)
    return render(request, template, {"patient": patient, "tab": tab, "section": "patients", **context})


@login_required
@staff_required
def chart(request, patient_id: int):
    patient = load_patient(request, patient_id)
    return _chart(request, patient, "summary", "clinic/chart.html",
                  appointments=selectors.patient_appointments(patient)[:5])


@sensitive_post_parameters(*CONTACT_FIELDS)
@login_required
@staff_required
def demographics(request, patient_id: int):
    patient = load_patient(request, patient_id)
    doctors = selectors.practice_doctors(patient.practice_id)
    form = DemographicsForm(request.POST or None, patient=patient, doctors=doctors)
    if request.method == "POST" and form.is_valid():
        try:
            update_patient(patient, by=request.staff, client=client_of(request), text_consent=form.consent_to_texts(),
                           **form.changes())
        except ValidationError as e:
            form.add_service_errors(e)
        else:
            name = f"{form.cleaned_data['first_name']} {form.cleaned_data['last_name']}"
            messages.success(request, gettext("Saved %(name)s's details.") % {"name": name})
            return redirect("clinic:demographics", patient.pk)
    if form.errors:
        messages.error(request, gettext("Nothing was saved: please correct the fields marked below."))
    return _chart(request, patient, "demographics", "clinic/demographics.html", form=form)


def _field_to_add(text: str) -> str:
    return next((field for words, field in ADD_LINKS.items() if gettext(words) == text), "")


@login_required
@staff_required
def chart_appointments(request, patient_id: int):
    patient = load_patient(request, patient_id)
    page = Paginator(selectors.patient_appointments(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    return _chart(request, patient, "appointments", "clinic/chart_appointments.html", page=page)


@login_required
@staff_required
def portal_access(request, patient_id: int):
    return portal_access_page(request, load_patient(request, patient_id))


def portal_access_page(request, patient, *, guardian_form=None, status: int = 200):
    """The Portal Access tab; `guardian_form` redraws a refused Invite a parent or guardian as typed."""
    portal = summary.portal_access(patient)
    response = _chart(
        request, patient, "portal-access", "clinic/portal_access.html", portal=portal,
        missing_links=[(text, _field_to_add(text)) for text in portal.missing],
        history=Paginator(access_history(patient), PAGE_SIZE).get_page(request.GET.get("page")),
        texting=texting_summary(patient), texts_enabled=texts_enabled(), can_text=gettext(CAN_TEXT),
        consent_form=TextConsentForm(initial={"mobile_phone": patient.mobile_phone and patient.mobile_phone_display}),
        **proxies_context(patient, guardian_form),
    )
    response.status_code = status
    return response


@login_required
@staff_required
@require_POST
def enable_access(request, patient_id: int):
    patient = load_patient(request, patient_id)
    portal_buttons.invite(request, patient, sending.send_invitation, channel=Channel.CHART)
    return redirect("clinic:portal-access", patient.pk)


@login_required
@staff_required
@require_POST
def resend_invitation(request, patient_id: int):
    patient = load_patient(request, patient_id)
    portal_buttons.invite(request, patient, sending.resend_invitation, channel=Channel.CHART, resent=True)
    return redirect("clinic:portal-access", patient.pk)


@login_required
@staff_required
@require_POST
def print_invitation(request, patient_id: int):
    patient = load_patient(request, patient_id)
    return letters.print_letter(request, patient, letter=reverse("clinic:invitation-letter", args=[patient.pk]),
                                back=reverse("clinic:portal-access", args=[patient.pk]))


@login_required
@staff_required
@require_safe
def invitation_letter(request, patient_id: int):
    patient = load_patient(request, patient_id)
    return letters.show_letter(request, patient, print_action=reverse("clinic:print-invitation", args=[patient.pk]),
                               back=reverse("clinic:portal-access", args=[patient.pk]))


@login_required
@staff_required
@require_http_methods(["GET", "POST"])
def revoke_access(request, patient_id: int):
    """GET asks for confirmation (a page, so it works without JavaScript); POST revokes."""
    patient = load_patient(request, patient_id)
    if request.method == "POST":
        portal_buttons.revoke(request, patient)
    elif target := portal_buttons.revoke_target(request, portal := summary.portal_access(patient)):
        return _chart(request, patient, "portal-access", "clinic/confirm_revoke.html", portal=portal, target=target)
    return redirect("clinic:portal-access", patient.pk)
