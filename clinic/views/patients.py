from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from access import eligibility
from access.selectors import PortalState, patients_page
from clinic.decorators import staff_required
from clinic.forms import PatientSearchForm
from clinic.models import StaffMember
from clinic.views.common import PAGE_SIZE, days_left


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
    for patient in page:
        patient.days_left = days_left(patient.invitation_expires_at)
        patient.portal_state_label = PortalState.label(patient.portal_state)
        if patient.portal_state == PortalState.NOT_ELIGIBLE:  # say why, e.g. why an automatic invitation skipped them
            patient.practice = request.staff.practice  # (the list is this practice's: no query per row)
            patient.needs = eligibility.missing_requirements(patient)
    return render(request, "clinic/patient_list.html", {
        "form": form, "page": page, "searching": bool(q or status or language), "section": "patients",
        # Importing and bulk inviting are for practice admins (clinic.views.imports, clinic.views.bulk).
        "is_practice_admin": request.staff.role == StaffMember.Role.ADMIN,
    })
