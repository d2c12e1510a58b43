"""Access requests: people who asked for portal access on the practice's public page. Staff match each
to a chart (or make one) and approve or decline it, through access.actions.requests."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from access import errors
from access.actions import requests
from access.models import AccessRequest
from access.request_selectors import request_for, requests_of, with_matches
from clinic import selectors, validation
from clinic.decorators import staff_required
from clinic.forms import ApproveRequestForm, DeclineRequestForm
from clinic.views.common import PAGE_SIZE, client_of, load_patient

SEARCH_SHOWS = 10


@login_required
@staff_required
@require_safe
def request_list(request):
    page = Paginator(requests_of(request.staff), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "clinic/access_requests.html", {
        "page": page, "rows": with_matches(list(page.object_list)), "section": "requests"})


@login_required
@staff_required
@require_safe
def request_detail(request, request_id: int):
    access_request = request_for(request.staff, request_id)
    [matched] = with_matches([access_request])
    chosen = _chosen(request, matched)
    q = " ".join(request.GET.get("q", "").split())[:100].replace("\x00", "")
    found = list(selectors.matching_patients(request.staff, q).order_by("last_name", "first_name", "pk")[:SEARCH_SHOWS]
                 ) if q else []
    return render(request, "clinic/access_request.html", {
        "access_request": access_request, "matched": matched, "chosen": chosen, "q": q, "found": found,
        "emails_differ": chosen is not None and not validation.same_email(chosen.email, access_request.email),
        "approve_form": ApproveRequestForm(initial={"patient": chosen.pk if chosen else None}),
        "decline_form": DeclineRequestForm(), "new_patient_url": _new_patient_url(access_request),
        "section": "requests",
    })


@login_required
@staff_required
@require_POST
def approve(request, request_id: int):
    access_request = request_for(request.staff, request_id)
    form = ApproveRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose the chart to approve the request for."))
        return redirect("clinic:access-request", access_request.pk)
    patient = load_patient(request, form.cleaned_data["patient"])
    try:
        sent = requests.approve_request(access_request, patient, by=request.staff, update_email=form.update_email(),
                                        client=client_of(request))
    except (errors.Refusal, ValidationError) as e:
        messages.error(request, getattr(e, "message", None) or " ".join(e.messages))
        return redirect(f"{reverse('clinic:access-request', args=[access_request.pk])}?{urlencode({'patient': patient.pk})}")
    messages.success(request, gettext("Approved: %(name)s (chart %(chart)s) was sent a portal invitation at %(email)s.")
                     % {"name": patient.full_name, "chart": patient.chart_number, "email": sent.invitation.email})
    return redirect("clinic:access-requests")


@login_required
@staff_required
@require_POST
def decline(request, request_id: int):
    access_request = request_for(request.staff, request_id)
    form = DeclineRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose a reason to decline the request."))
        return redirect("clinic:access-request", access_request.pk)
    try:
        requests.decline_request(access_request, reason=form.cleaned_data["reason"], by=request.staff,
                                 client=client_of(request))
    except errors.Refusal as e:
        messages.error(request, e.message)
        return redirect("clinic:access-request", access_request.pk)
    messages.success(request, gettext("Declined %(name)s's request; they were emailed the reason.")
                     % {"name": access_request.full_name})
    return redirect("clinic:access-requests")


def _chosen(request, matched):
    """The chart staff picked (?patient=ID, of this practice: 404 otherwise), else the one match."""
    if request.GET.get("patient", "").isdigit():
        return load_patient(request, int(request.GET["patient"]))
    return matched.charts[0] if len(matched.charts) == 1 else None


def _new_patient_url(access_request: AccessRequest) -> str:
    """The New patient page, prefilled from the request (read there by its id: no personal details in a
    URL, which logs and browser history keep), coming back here once the chart is made."""
    return reverse("clinic:new-patient") + "?" + urlencode({"from_request": access_request.pk})
