"""The patient chart: summary, demographics, appointments and the Portal Access page with its actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from access import actions, eligibility
from access.errors import InvitationError
from access.models import AccessEvent, Channel
from access.selectors import PortalState, current_invitation, live_connection
from clinic import selectors
from clinic.decorators import staff_required
from clinic.forms import DemographicsForm
from clinic.services import update_patient
from clinic.views.common import PAGE_SIZE, client_of, load_patient, sent_text

# Where on the Demographics page each missing requirement can be added.
ADD_LINKS = {eligibility.ADD_EMAIL: "id_email", eligibility.ADD_IDENTITY: "id_ssn"}
# States in which one click sends a fresh invitation (revoking a pending one first).
RESEND_STATES = {PortalState.PENDING, PortalState.EXPIRED, PortalState.REVOKED, PortalState.LOCKED,
                 PortalState.DISCONNECTED}


def _chart(request, patient, tab: str, template: str, **context):
    return render(request, template, {"patient": patient, "tab": tab, "section": "patients", **context})


@login_required
@staff_required
def chart(request, patient_id: int):
    patient = load_patient(request, patient_id)
    return _chart(request, patient, "summary", "clinic/chart.html",
                  status=selectors.portal_status(patient),
                  missing=eligibility.missing_requirements(patient),
                  appointments=selectors.patient_appointments(patient)[:5])


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
        enable_blocked=_enable_blocked(status, missing),
        can_revoke_invite=status.state == PortalState.PENDING,
        can_revoke_access=status.state == PortalState.CONNECTED,
        can_resend=status.state in RESEND_STATES,
        history=history,
    )


def _enable_blocked(status, missing: list[str]) -> str:
    """Why Enable Patient Access cannot work now, in words for the button's description ("" if it can).
    The same refusals come from access.actions if the form is posted anyway."""
    if missing:
        return "Not eligible yet: add the missing details listed below."
    if status.state == PortalState.PENDING:
        return "An invitation is already pending. Use Resend invitation to email a new link."
    if status.state == PortalState.CONNECTED:
        return "This patient is already connected to the portal."
    return ""


@login_required
@staff_required
@require_POST
def enable_access(request, patient_id: int):
    patient = load_patient(request, patient_id)
    try:
        sent = actions.send_invitation(patient, by=request.staff, channel=Channel.CHART, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, sent_text(sent, patient.practice))
    return redirect("clinic:portal-access", patient.pk)


@login_required
@staff_required
@require_POST
def revoke_access(request, patient_id: int):
    patient = load_patient(request, patient_id)
    try:
        actions.revoke_invitation(patient, by=request.staff, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        done = selectors.patient_history(patient).values_list("action", flat=True).first()
        messages.success(request, REVOKED_TEXT.get(done, "Revoked.").format(name=patient.full_name))
    return redirect("clinic:portal-access", patient.pk)


REVOKED_TEXT = {
    AccessEvent.Action.INVITATION_REVOKED: "Invitation revoked: {name}'s invitation link no longer works.",
    AccessEvent.Action.ACCESS_REVOKED: "Portal access revoked: {name} can no longer reach this practice in the portal.",
}


@login_required
@staff_required
@require_POST
def resend_invitation(request, patient_id: int):
    patient = load_patient(request, patient_id)
    try:
        sent = actions.resend_invitation(patient, by=request.staff, channel=Channel.CHART, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, sent_text(sent, patient.practice, resent=True))
    return redirect("clinic:portal-access", patient.pk)
