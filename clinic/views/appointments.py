"""The appointment calendar and the appointment window (a dialog over the calendar, or a page)."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access import selectors as access_selectors
from access import summary
from access.actions import sending
from access.models import Channel
from clinic import selectors
from clinic.decorators import staff_required
from clinic.forms import CalendarForm, PatientDetailsForm
from clinic.services import CONTACT_FIELDS, update_patient
from clinic.views import letters, portal_buttons
from clinic.views.common import client_of, load_appointment

DIALOG = "dialog"


@login_required
@staff_required
def calendar(request):
    practice = request.staff.practice
    today = timezone.localdate(timezone=practice.tzinfo)
    form = CalendarForm({"view": CalendarForm.DAY, "date": today.isoformat(), **request.GET.dict()},
                        doctors=selectors.practice_doctors(practice.pk))
    form.is_valid()
    view = form.cleaned_data.get("view") or CalendarForm.DAY
    day = form.cleaned_data.get("date") or today
    first = day - datetime.timedelta(days=day.weekday()) if view == CalendarForm.WEEK else day
    days = [first + datetime.timedelta(days=i) for i in range(7 if view == CalendarForm.WEEK else 1)]
    step = datetime.timedelta(days=len(days))
    appointments = access_selectors.appointments_between(
        request.staff, _midnight(days[0], practice.tzinfo), _midnight(days[-1] + datetime.timedelta(days=1), practice.tzinfo),
        doctor=form.cleaned_data.get("doctor"),
    )
    by_day = {d: [] for d in days}
    for appointment in appointments:
        by_day[timezone.localtime(appointment.starts_at, practice.tzinfo).date()].append(appointment)
    return render(request, "clinic/calendar.html", {
        "form": form, "view": view, "days": list(by_day.items()), "first": days[0], "last": days[-1],
        "previous": first - step, "next": first + step, "today": today,
        "doctor": form.cleaned_data.get("doctor"), "section": "calendar",
    })


def _midnight(day: datetime.date, tz) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=tz)


@login_required
@staff_required
def appointment(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    return _window(request, appt, PatientDetailsForm(patient=appt.patient))


@sensitive_post_parameters(*CONTACT_FIELDS)
@login_required
@staff_required
@require_POST
def appointment_details(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    form = PatientDetailsForm(request.POST, patient=appt.patient)
    if form.is_valid():
        try:
            appt.patient = update_patient(appt.patient, by=request.staff, client=client_of(request),
                                          text_consent=form.consent_to_texts(), **form.changes())
        except ValidationError as e:
            form.add_service_errors(e)
        else:
            messages.success(request, gettext("Saved %(name)s's details.") % {"name": appt.patient.full_name})
            return done_in_window(request, appt)
    messages.error(request, gettext("Nothing was saved: please correct the fields marked below."))
    return _window(request, appt, form)


@login_required
@staff_required
@require_POST
def appointment_invite(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    portal_buttons.invite(request, appt.patient, sending.send_invitation, channel=Channel.APPOINTMENT)
    return done_in_window(request, appt)


@login_required
@staff_required
@require_POST
def appointment_resend(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    portal_buttons.invite(request, appt.patient, sending.resend_invitation, channel=Channel.APPOINTMENT, resent=True)
    return done_in_window(request, appt)


@login_required
@staff_required
@require_POST
def appointment_print(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    return letters.print_letter(request, appt.patient, letter=reverse("clinic:appointment-letter", args=[appt.pk]),
                                back=reverse("clinic:appointment", args=[appt.pk]))


@login_required
@staff_required
@require_safe
def appointment_letter(request, appointment_id: int):
    appt = load_appointment(request, appointment_id)
    return letters.show_letter(request, appt.patient, print_action=reverse("clinic:appointment-print", args=[appt.pk]),
                               back=reverse("clinic:appointment", args=[appt.pk]))


@login_required
@staff_required
@require_http_methods(["GET", "POST"])
def appointment_revoke(request, appointment_id: int):
    """GET asks for confirmation in the window (or on a page without JavaScript); POST revokes."""
    appt = load_appointment(request, appointment_id)
    if request.method == "POST":
        portal_buttons.revoke(request, appt.patient)
    elif target := portal_buttons.revoke_target(request, summary.portal_access(appt.patient)):
        return _window(request, appt, None, body="clinic/appointment_confirm_revoke.html", target=target)
    return done_in_window(request, appt)


def _in_dialog(request) -> bool:
    return bool(request.htmx) and (request.POST or request.GET).get("window") == DIALOG


def done_in_window(request, appt):
    """After an action: redraw the window in the dialog, or redirect (POST/redirect/GET) on the page."""
    if _in_dialog(request):
        appt.patient.refresh_from_db()
        return _window(request, appt, PatientDetailsForm(patient=appt.patient), changed=True)
    return redirect("clinic:appointment", appt.pk)


def _window(request, appt, form, *, changed: bool = False, body: str = "clinic/appointment_window.html", **extra):
    """The window (or, with `body`, its confirmation step): in the dialog alone, else inside a page."""
    in_dialog = _in_dialog(request)
    context = {
        "appointment": appt, "patient": appt.patient, "form": form, "in_dialog": in_dialog, "changed": changed,
        "portal": summary.portal_access(appt.patient), "body": body, "section": "calendar", **extra,
    }
    return render(request, body if in_dialog else "clinic/appointment.html", context)
