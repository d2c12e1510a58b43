"""Reports (practice admins: the practice or any doctor; doctors: their own patients): the adoption
funnel with where patients stop, by channel, age band and doctor, connected patients over time, the
electronic-access measure per clinician with CSV of every table, and the worklist of visits about to
miss the measure with Invite buttons. The figures are access.reports'; these views scope, parse,
call and show."""

import datetime
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from access import errors, reports, rules
from access.actions import sending
from access.models import Channel
from access.reports import Scope
from clinic import selectors
from clinic.decorators import staff_required
from clinic.forms import DATE_INPUT, StaffForm
from clinic.models import StaffMember
from clinic.views import charts, report_tables
from clinic.views.common import client_of, csv_download, load_appointment


def reports_role_required(view):
    """Practice admins and doctors; other staff get a 404 like any page they cannot use."""

    def wrapper(request, *args, **kwargs):
        if request.staff.role not in (StaffMember.Role.ADMIN, StaffMember.Role.DOCTOR):
            raise Http404("Not a page for this role")
        return view(request, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = view.__name__, view.__doc__
    return wrapper


class DoctorChoice(forms.ChoiceField):
    """The doctor's id is checked by _scope (another practice's is a 404, recorded), not here."""

    def valid_value(self, value) -> bool:
        return True


class ReportForm(StaffForm):
    period = forms.ChoiceField(label=_("Period"), choices=reports.PERIODS, required=False)
    first = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT,
                            help_text=_("With the period “Dates”."))
    last = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)
    doctor = DoctorChoice(label=_("Doctor"), required=False)

    def __init__(self, *args, doctors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].choices = [("", gettext("The whole practice")), *((str(d.pk), d.display_name) for d in doctors)]


def _doctor_param(request) -> int | None:
    raw = request.GET.get("doctor", "")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such doctor") from None


def _scope(request) -> Scope:
    """The practice, or one doctor: admins choose any of their practice's doctors (another practice's
    id is a 404, recorded); a doctor always sees their own."""
    staff, wanted = request.staff, _doctor_param(request)
    if staff.role == StaffMember.Role.DOCTOR:
        if wanted not in (None, staff.pk):
            doctor = StaffMember.objects.filter(pk=wanted).first()
            selectors.own(staff, doctor, wanted, "doctor")  # OtherPractice (recorded) if another practice's
            raise Http404("Doctors see their own patients")
        return Scope(staff.practice, staff)
    if wanted is None:
        return Scope(staff.practice)
    doctor = selectors.own(staff, StaffMember.objects.select_related("user").filter(pk=wanted).first(), wanted, "doctor")
    if doctor.role != StaffMember.Role.DOCTOR:
        raise Http404("No such doctor")
    return Scope(staff.practice, doctor)


def _period(request, form: ReportForm) -> reports.Period:
    practice = request.staff.practice
    today = timezone.localdate(timezone=practice.tzinfo)
    data = form.cleaned_data if form.is_valid() else {}
    name = data.get("period") or reports.THIS_MONTH
    try:
        return reports.named_period(name, today, practice.tzinfo, first=data.get("first"), last=data.get("last"))
    except ValueError as e:
        form.add_error("first" if name == reports.DATES else "period", str(e))
        return reports.named_period(reports.THIS_MONTH, today, practice.tzinfo)


def _chosen(request) -> tuple[ReportForm, Scope, reports.Period]:
    scope = _scope(request)
    doctors = selectors.practice_doctors(request.staff.practice_id) if request.staff.role == StaffMember.Role.ADMIN else []
    form = ReportForm(request.GET or None, doctors=doctors)
    return form, scope, _period(request, form)


def _load(request) -> tuple[ReportForm, report_tables.Report]:
    form, scope, period = _chosen(request)
    return form, report_tables.build(scope, period, with_doctors=scope.doctor is None)


@login_required
@staff_required
@reports_role_required
@require_safe
def report(request):
    form, built = _load(request)
    query = urlencode({k: v for k, v in request.GET.items() if k in ("period", "first", "last", "doctor")})
    return render(request, "clinic/reports.html", {
        "form": form, "report": built, "tables": built.tables, "query": query, "section": "reports",
        "is_practice_admin": request.staff.role == StaffMember.Role.ADMIN,
        "funnel_chart": charts.bars([(s.label, s.count) for s in built.stages]),
        "line_chart": charts.line(built.connected),
    })


@login_required
@staff_required
@reports_role_required
@require_safe
def report_csv(request, table: str):
    if table not in report_tables.TABLES:
        raise Http404("No such table")
    if table == "missed":  # every missed patient (the page shows the first of each clinician's), streamed
        _, scope, period = _chosen(request)
        response = StreamingHttpResponse(report_tables.stream_missed(scope, period),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="portico-missed-{period.first}-{period.last}.csv"'
        return response
    _, built = _load(request)
    if table not in built.tables:
        raise Http404("No such table for this scope")
    response = csv_download(f"portico-{table}-{built.period.first}-{built.period.last}.csv")
    built.tables[table].write_csv(response)
    return response


# --- the worklist ---------------------------------------------------------------------------------

def _worklist_scope(request) -> Scope:
    staff = request.staff
    return Scope(staff.practice, staff if staff.role == StaffMember.Role.DOCTOR else None)


@login_required
@staff_required
@reports_role_required
@require_safe
def worklist(request):
    scope = _worklist_scope(request)
    visits = reports.worklist(scope)
    names = {d.pk: d.display_name for d in selectors.practice_doctors(request.staff.practice_id)}
    today = timezone.localdate(timezone=scope.practice.tzinfo)
    return render(request, "clinic/worklist.html", {
        "visits": visits, "rows": [(v, names.get(v.doctor_id, "—")) for v in visits], "today": today,
        "section": "reports",
        "eligible_count": sum(v.eligible for v in visits),
        "tomorrow": today + datetime.timedelta(days=1),
    })


@login_required
@staff_required
@reports_role_required
@require_POST
def worklist_invite(request, appointment_id: int):
    appointment = load_appointment(request, appointment_id)
    if not any(v.appointment_id == appointment.pk for v in reports.worklist(_worklist_scope(request))):
        messages.warning(request, gettext("%(name)s is no longer on the worklist: nothing was sent.")
                         % {"name": appointment.patient.full_name})
        return redirect("clinic:worklist")
    try:
        sending.send_invitation(appointment.patient, by=request.staff, channel=Channel.CHART, client=client_of(request))
    except errors.InvitationError as e:
        messages.error(request, gettext("%(name)s was not invited: %(why)s")
                       % {"name": appointment.patient.full_name, "why": e.message})
    else:
        messages.success(request, gettext("Invitation sent to %(name)s.") % {"name": appointment.patient.full_name})
    return redirect("clinic:worklist")


@login_required
@staff_required
@reports_role_required
@require_POST
def worklist_invite_all(request):
    visits = [v for v in reports.worklist(_worklist_scope(request)) if v.eligible]
    if not visits:
        messages.info(request, gettext("No eligible patient is on the worklist: nothing was sent."))
        return redirect("clinic:worklist")
    outcomes = sending.send_invitations(sorted({v.patient_id for v in visits}), by=request.staff,
                                        channel=Channel.CHART, client=client_of(request))
    sent = sum(o.sent is not None for o in outcomes)
    skipped: dict[str, int] = {}
    for o in outcomes:
        if o.refusal is not None:
            skipped[rules.skip_label(o.refusal)] = skipped.get(rules.skip_label(o.refusal), 0) + 1
    text = ngettext("Invited %(count)d patient.", "Invited %(count)d patients.", sent) % {"count": sent}
    if skipped:
        text += " " + gettext("Not invited: %(reasons)s.") % {
            "reasons": "; ".join(f"{label}: {n}" for label, n in skipped.items())}
    (messages.success if sent else messages.warning)(request, text)
    return redirect(reverse("clinic:worklist"))
