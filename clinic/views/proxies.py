"""Parents, guardians and caregivers on the chart's Portal Access page (issue 21): invite a parent or
guardian, resend their link, revoke anyone's access (after a confirmation). Each calls one access
action and says what happened; a refused invitation redraws the page with what was typed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from access import errors
from access.actions import proxies
from access.proxy_selectors import proxy_for
from clinic.decorators import staff_required
from clinic.proxy_forms import GuardianForm
from clinic.views.chart import _chart, portal_access_page
from clinic.views.common import client_of, load_patient, local_time
from clinic.views.proxy_panel import proxies_context


@login_required
@staff_required
@require_POST
def invite_guardian(request, patient_id: int):
    patient = load_patient(request, patient_id)
    form = GuardianForm(request.POST, teen=proxies_context(patient)["teen"])
    if form.is_valid():
        try:
            sent = proxies.invite_guardian(patient, form.guardian(), by=request.staff,
                                           teen_agreed=form.cleaned_data.get("teen_agreed", False),
                                           client=client_of(request))
        except errors.InvitationError as e:
            form.add_error(None, e.message)
        except ValidationError as e:
            form.add_error(None, e)
        else:
            messages.success(request, _("Invitation sent to %(email)s for %(name)s. It expires %(when)s.") % {
                "email": sent.proxy.email, "name": patient.full_name,
                "when": local_time(sent.invitation.expires_at, patient.practice)})
            return redirect("clinic:portal-access", patient.pk)
    messages.error(request, _("Nothing was sent: please correct what is marked in Invite a parent or guardian."))
    return portal_access_page(request, patient, guardian_form=form, status=400)


@login_required
@staff_required
@require_POST
def resend_proxy(request, patient_id: int, proxy_id: int):
    patient = load_patient(request, patient_id)
    proxy = proxy_for(request.staff, patient, proxy_id)
    try:
        sent = proxies.resend_proxy_invitation(proxy, by=request.staff, client=client_of(request))
    except errors.InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("A new link was sent to %(email)s. The previous link no longer works.")
                         % {"email": sent.proxy.email})
    return redirect("clinic:portal-access", patient.pk)


@login_required
@staff_required
@require_http_methods(["GET", "POST"])
def revoke_proxy(request, patient_id: int, proxy_id: int):
    """GET asks for confirmation (a page, so it works without JavaScript); POST revokes."""
    patient = load_patient(request, patient_id)
    proxy = proxy_for(request.staff, patient, proxy_id)
    if request.method == "GET":
        return _chart(request, patient, "portal-access", "clinic/confirm_revoke_proxy.html", proxy=proxy)
    try:
        proxies.revoke_proxy(proxy, by=request.staff, client=client_of(request))
    except errors.InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("%(name)s can no longer act for %(patient)s in the portal.")
                         % {"name": proxy.full_name, "patient": patient.full_name})
    return redirect("clinic:portal-access", patient.pk)


@login_required
@staff_required
@require_POST
def teen_agreement(request, patient_id: int, proxy_id: int):
    """Staff record the teen's agreement to a limited guardian's full access (who and when)."""
    patient = load_patient(request, patient_id)
    proxy = proxy_for(request.staff, patient, proxy_id)
    try:
        proxies.record_teen_agreement(proxy, by=request.staff, client=client_of(request))
    except errors.InvitationError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("%(name)s now has full access, with the patient's agreement recorded.")
                         % {"name": proxy.full_name})
    return redirect("clinic:portal-access", patient.pk)
