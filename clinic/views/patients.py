from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_noop

from access import eligibility
from access.selectors import PortalState, patients_page
from clinic.decorators import staff_required
from clinic.forms import PatientSearchForm
from clinic.models import StaffMember
from clinic.views.common import PAGE_SIZE, days_left, url_of_ids


@login_required
@staff_required
def home(request):
    return redirect("clinic:patients")


@login_required
@staff_required
def patient_list(request):
    form = PatientSearchForm(request.GET)
    form.is_valid()
    q, status = form.cleaned_data.get("q", ""), form.cleaned_data.get("status", "")
    language = form.cleaned_data.get("language", "")
    page = patients_page(request.staff, q=q, state=status, language=language, number=request.GET.get("page"),
                         per_page=PAGE_SIZE)
    chart_url, access_url = url_of_ids("clinic:chart"), url_of_ids("clinic:portal-access")
    for patient in page:
        patient.days_left = days_left(patient.invitation_expires_at)
        patient.portal_state_label = PortalState.label(patient.portal_state)
        patient.next_step = next_step_short(patient.portal_state, patient.email_failed, patient.text_failed)
        patient.chart_url, patient.access_url = chart_url(patient.pk), access_url(patient.pk)
        if patient.portal_state == PortalState.NOT_ELIGIBLE:  # say why, e.g. why an automatic invitation skipped them
            patient.practice = request.staff.practice  # (the list is this practice's: no query per row)
            patient.needs = eligibility.missing_requirements(patient)
    return render(request, "clinic/patient_list.html", {
        "form": form, "page": page, "searching": bool(q or status or language), "section": "patients",
        # Importing and bulk inviting are for practice admins (clinic.views.imports, clinic.views.bulk).
        "is_practice_admin": request.staff.role == StaffMember.Role.ADMIN,
    })


# The next step for a patient in a few words, for the patient list on a phone (the Portal Access page
# says it in full: clinic/_next_step.html). Words here rather than an include per row: a page of 25
# rows spent a sixth of its template time in that include (docs/performance.md, run 13).
NEXT_STEPS = {
    PortalState.NOT_ELIGIBLE: gettext_noop("Add the missing details"),
    PortalState.NOT_INVITED: gettext_noop("Invite"),
    PortalState.PENDING: gettext_noop("Wait for the patient"),
    PortalState.CONNECTED: gettext_noop("Nothing to do"),
    PortalState.LOCKED: gettext_noop("Check the details, then invite again"),
    PortalState.DISCONNECTED: gettext_noop("Invite again only if asked"),
}


def next_step_short(state: str, email_failed: bool, text_failed: bool) -> str:
    if state == PortalState.PENDING and email_failed:
        return gettext("Check the email address")
    if state == PortalState.PENDING and text_failed:
        return gettext("Check the mobile number")
    return gettext(NEXT_STEPS.get(state, gettext_noop("Send a new invitation")))
