"""The patient chart: summary, demographics, appointments and the Portal Access page with its actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from access import eligibility
from access.actions import acceptance, sending
from access.errors import InvitationError, NothingToRevoke
from access.models import Channel
from access.selectors import PortalState, current_invitation, live_connection, staff_choices
from clinic import selectors
from clinic.decorators import staff_required
from clinic.forms import DemographicsForm
from clinic.services import CONTACT_FIELDS, update_patient
from clinic.views.common import (
    PAGE_SIZE,
    REVOKED_TEXT,
    client_of,
    confirmed_revoke_target,
    load_patient,
    revoke_target,
    sent_text,
)

# Where on the Demographics page each missing requirement can be added.
ADD_LINKS = {eligibility.ADD_EMAIL: "id_email", eligibility.ADD_IDENTITY: "id_ssn"}


def _chart(request, patient, tab: str, template: str, **context):
    """Render a chart tab; every tab's header shows the portal status."""
    if "status" not in context:
        context["status"] = selectors.portal_status(patient)
    return render(request, template, {"patient": patient, "tab": tab, "section": "patients", **context})


@login_required
@staff_required
def chart(request, patient_id: int):
    patient = load_patient(request, patient_id)
    return _chart(request, patient, "summary", "clinic/chart.html",
                  status=selectors.portal_status(patient),
                  missing=eligibility.missing_requirements(patient),
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
            update_patient(patient, by=request.staff, client=client_of(request), **form.changes())
        except ValidationError as e:
            form.add_service_errors(e)
        else:
            messages.success(request, f"Saved {form.cleaned_data['first_name']} {form.cleaned_data['last_name']}'s details.")
            return redirect("clinic:demographics", patient.pk)
    if form.errors:
        messages.error(request, "Nothing was saved: please correct the fields marked below.")
    return _chart(request, patient, "demographics", "clinic/demographics.html", form=form)


@login_required
@staff_required
def chart_appointments(request, patient_id: int):
    patient = load_patient(request, patient_id)
    page = Paginator(selectors.patient_appointments(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    return _chart(request, patient, "appointments", "clinic/chart_appointments.html", page=page)


@login_required
@staff_required
def portal_access(request, patient_id: int):
    patient = load_patient(request, patient_id)
    status = selectors.portal_status(patient)
    missing = eligibility.missing_requirements(patient)
    history = Paginator(selectors.patient_history(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    return _chart(
        request, patient, "portal-access", "clinic/portal_access.html",
        status=status, missing=[(text, ADD_LINKS.get(text, "")) for text in missing],
        invitation=current_invitation(patient) if status.state != PortalState.NOT_INVITED else None,
        connection=live_connection(patient) if status.state == PortalState.CONNECTED else None,
        choices=staff_choices(status.state, missing),
        max_checks=acceptance.MAX_IDENTITY_CHECKS,
        history=history,
    )


@login_required
@staff_required
@require_POST
def enable_access(request, patient_id: int):
    return _invite(request, load_patient(request, patient_id), sending.send_invitation)


@login_required
@staff_required
@require_http_methods(["GET", "POST"])
def revoke_access(request, patient_id: int):
    """GET asks for confirmation (a page, so it works without JavaScript); POST revokes."""
    patient = load_patient(request, patient_id)
    if request.method == "GET":
        status = selectors.portal_status(patient)
        if (target := revoke_target(status)) is None:
            messages.error(request, NothingToRevoke().message)
            return redirect("clinic:portal-access", patient.pk)
        return _chart(request, patient, "portal-access", "clinic/confirm_revoke.html", status=status, target=target)
    try:
        revoked = sending.revoke_invitation(patient, by=request.staff, client=client_of(request),
                                            only=confirmed_revoke_target(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, REVOKED_TEXT[revoked].format(name=patient.full_name))
    return redirect("clinic:portal-access", patient.pk)


@login_required
@staff_required
@require_POST
def resend_invitation(request, patient_id: int):
    return _invite(request, load_patient(request, patient_id), sending.resend_invitation, resent=True)


def _invite(request, patient, action, *, resent: bool = False):
    """Send (or resend) from the chart, say what happened, and show Portal Access again."""
    try:
        sent = action(patient, by=request.staff, channel=Channel.CHART, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, sent_text(sent, patient.practice, resent=resent))
    return redirect("clinic:portal-access", patient.pk)
