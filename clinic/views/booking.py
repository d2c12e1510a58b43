"""New patients, and booking, cancelling and closing appointments. Each goes through clinic.services,
which fires the practice's automatic invitations whoever calls it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from access.request_selectors import request_for
from clinic import selectors, services, validation
from clinic.decorators import staff_required
from clinic.forms import BookingForm, NewPatientForm
from clinic.services import CONTACT_FIELDS
from clinic.views.appointments import done_in_window
from clinic.views.common import client_of, load_appointment, load_patient, local_time


def _prefill(request) -> dict:
    """An access request's details (?from_request=ID, one of this practice's: 404 otherwise), to start
    a chart from: shown, never saved until posted."""
    if not (request_id := request.GET.get("from_request", "")).isdigit():
        return {}
    r = request_for(request.staff, int(request_id))
    return {"first_name": r.first_name, "last_name": r.last_name, "date_of_birth": r.date_of_birth,
            "email": r.email, "phone": validation.format_phone(r.phone)}


@sensitive_post_parameters(*CONTACT_FIELDS)
@login_required
@staff_required
def new_patient(request):
    practice = request.staff.practice
    initial = _prefill(request)
    form = NewPatientForm(request.POST or None, practice=practice, doctors=selectors.practice_doctors(practice.pk),
                          **({"initial": initial} if initial else {}))
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.create_patient(practice, by=request.staff, client=client_of(request),
                                              chart_number=form.cleaned_data["chart_number"], **form.changes())
        except ValidationError as e:
            form.add_service_errors(e)
        else:
            messages.success(request, gettext("Added %(name)s (chart %(chart)s).")
                             % {"name": patient.full_name, "chart": patient.chart_number})
            if (from_request := request.GET.get("from_request", "")).isdigit():  # back to the access request
                return redirect(f"{reverse('clinic:access-request', args=[int(from_request)])}?patient={patient.pk}")
            return redirect("clinic:chart", patient.pk)
    if form.errors:
        messages.error(request, gettext("Nothing was saved: please correct the fields marked below."))
    return render(request, "clinic/new_patient.html", {"form": form, "section": "patients"})


@login_required
@staff_required
def book_appointment(request):
    """From the calendar (the patient found by name, date of birth, chart number or phone: ?q=, then
    chosen, ?patient=ID; or by chart number) or from a chart (?patient=ID)."""
    practice = request.staff.practice
    patient = load_patient(request, int(request.GET["patient"])) if request.GET.get("patient", "").isdigit() else None
    q = request.GET.get("q", "")[:100]
    initial = {"date": request.GET.get("date") or timezone.localdate(timezone=practice.tzinfo)}
    form = BookingForm(request.POST or None, practice=practice, patient=patient, initial=initial,
                       doctors=selectors.practice_doctors(practice.pk))
    if request.method == "POST" and form.is_valid():
        try:
            appointment = services.book_appointment(**form.booking(), by=request.staff)
        except ValidationError as e:
            form.add_service_errors(e)
        else:
            messages.success(request, gettext("Booked %(name)s with %(doctor)s, %(when)s.") % {
                "name": appointment.patient.full_name, "doctor": appointment.doctor.display_name,
                "when": local_time(appointment.starts_at, practice)})
            return redirect(f"{reverse('clinic:calendar')}?date={appointment.starts_at.astimezone(practice.tzinfo):%Y-%m-%d}")
    if form.errors:
        messages.error(request, gettext("Nothing was booked: please correct the fields marked below."))
    return render(request, "clinic/book_appointment.html", {
        "form": form, "patient": patient, "q": q, "date": str(initial["date"]),
        "found": selectors.patients_to_choose(request.staff, q) if q and patient is None else [],
        "section": "patients" if patient else "calendar"})


@login_required
@staff_required
@require_safe
def patient_choices(request):
    """The booking page's patient field, as staff type (clinic.js): the options for ?q=."""
    q = request.GET.get("q", "")[:100]
    return render(request, "clinic/_patient_choices.html", {"patients": selectors.patients_to_choose(request.staff, q)})


CLOSING = {
    "completed": (services.complete_appointment, gettext_lazy("Marked completed")),
    "no_show": (services.mark_no_show, gettext_lazy("Marked as a no-show")),
    "cancelled": (services.cancel_appointment, gettext_lazy("Cancelled")),
}


@login_required
@staff_required
@require_POST
def appointment_status(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    if (step := CLOSING.get(request.POST.get("status", ""))) is None:
        messages.error(request, gettext("Choose completed, no-show or cancelled."))
        return done_in_window(request, appt)
    service, said = step
    try:
        appt = service(appointment=appt, by=request.staff)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, gettext("%(done)s: %(name)s, %(when)s.") % {
            "done": said, "name": appt.patient.full_name, "when": local_time(appt.starts_at, appt.practice)})
    return done_in_window(request, appt)
