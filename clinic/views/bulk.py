"""Bulk invitations from the staff pages (practice admins): select patients on the patient list, or
all those matching its filter; preview what the rules would do; confirm to start the background job;
watch its progress and read its report. The rules and the job are access's; these views parse, call
one function and show the outcome."""

import datetime
import secrets
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from access import errors
from access import selectors as access_selectors
from access.actions import jobs
from access.models import InvitationJob
from access.selectors import (
    NEEDS_ATTENTION,
    NEEDS_ATTENTION_LABEL,
    PortalState,
    invitation_jobs,
    job_progress,
    job_skip_counts,
    preview_invitations,
    skipped_patients,
    write_skipped_csv,
)
from clinic.decorators import practice_admin_required, staff_required
from clinic.forms import PatientSearchForm
from clinic.models import Patient, StaffMember
from clinic.views.common import PAGE_SIZE, csv_download
from portico import languages

# The session keeps each preview's one-time token with the selection it confirms (a few at most:
# an older preview of the same session stops working).
PREVIEWS = "bulk_invitation_previews"
MAX_PREVIEWS = 5
# Ticked on one page of the patient list (25 rows); more only comes from an edited address.
MAX_SELECTED = 1000
# The job page keeps counting delivered emails after the job ends, for this long at most (an email
# that is never sent, e.g. its invitation was revoked first, would otherwise keep the page polling).
EMAILS_WATCHED_FOR = datetime.timedelta(minutes=10)
SKIPPED_SHOWN = 100


@dataclass(frozen=True)
class Selection:
    """What staff chose on the patient list: ticked patients (`ids`), or every patient matching the
    search `q` and status filter. Kept in the session until confirmed, and applied again then: the job
    snapshots the patients selected at that moment."""

    ids: tuple[int, ...] = ()
    q: str = ""
    status: str = ""
    language: str = ""

    def patients(self, staff: StaffMember) -> QuerySet[Patient]:
        if self.ids:
            return Patient.objects.filter(pk__in=self.ids, practice=staff.practice)
        return access_selectors.search_patients(staff, q=self.q, state=self.status, language=self.language)

    @property
    def label(self) -> str:
        """In words, as the job list shows it (e.g. "Status: Not invited")."""
        if self.ids:
            return gettext("Selected patients (%(count)d)") % {"count": len(self.ids)}
        parts = [gettext("Search: “%(words)s”") % {"words": self.q}] if self.q else []
        if self.status:
            status = gettext(NEEDS_ATTENTION_LABEL) if self.status == NEEDS_ATTENTION else PortalState.label(self.status)
            parts.append(gettext("Status: %(status)s") % {"status": status})
        if self.language:
            parts.append(gettext("Language: %(language)s") % {"language": languages.english_name(self.language)})
        return ", ".join(parts) or gettext("All patients")


class SelectionError(ValueError):
    pass


def parse_selection(query: QueryDict) -> Selection:
    """`patient=<id>` for each ticked patient, or `matching=1` with the list's `q` and `status`."""
    if query.get("matching"):
        form = PatientSearchForm(query)
        if not form.is_valid():
            # Never widen a filter that cannot be read to "every patient".
            raise SelectionError(gettext("That filter cannot be used. Choose it again on the patient list."))
        return Selection(q=form.cleaned_data["q"], status=form.cleaned_data["status"],
                         language=form.cleaned_data["language"])
    values = query.getlist("patient")
    if not values:
        raise SelectionError(gettext("Select at least one patient to invite."))
    if len(values) > MAX_SELECTED or not all(v.isdigit() for v in values):
        raise SelectionError(gettext("That selection cannot be used. Select the patients again."))
    return Selection(ids=tuple(sorted({int(v) for v in values})))


def list_url(query: QueryDict) -> str:
    """The patient list as it was shown when the selection was made (its search, filter and page)."""
    kept = QueryDict(mutable=True)
    kept.update({k: query[k] for k in ("q", "status", "language", "page") if query.get(k)})
    return reverse("clinic:patients") + (f"?{kept.urlencode()}" if kept else "")


@login_required
@staff_required
@practice_admin_required
@require_safe
def preview(request):
    try:
        selection = parse_selection(request.GET)
    except SelectionError as e:
        messages.error(request, str(e))
        return redirect(list_url(request.GET))
    result = preview_invitations(selection.patients(request.staff))
    return render(request, "clinic/bulk_preview.html", {
        "selection": selection, "preview": result, "skipped": result.total - result.to_invite,
        "back": list_url(request.GET), "section": "patients",
        "token": _remember_preview(request.session, selection) if result.to_invite else "",
    })


@login_required
@staff_required
@practice_admin_required
@require_POST
def confirm(request):
    token = request.POST.get("preview", "")
    selection = _take_preview(request.session, token)
    if selection is None:
        messages.info(request, gettext("That preview was already confirmed, or is out of date: nothing new was started. "
                                       "Its job, if it started, is listed below."))
        return redirect("clinic:bulk-jobs")
    try:
        job = jobs.start_invitation_job(request.staff.practice, selection.patients(request.staff),
                                           by=request.staff, selection=selection.label, key=token)
    except errors.JobAlreadyStarted as already:  # the same Confirm, sent twice at once (two tabs, a double click)
        messages.info(request, gettext("That preview was already confirmed: nothing new was started. This is its job."))
        return redirect("clinic:bulk-job", already.job.pk)
    return redirect("clinic:bulk-job", job.pk)


@login_required
@staff_required
@practice_admin_required
@require_safe
def job_list(request):
    jobs = invitation_jobs(request.staff.practice).order_by("-created_at", "-id")
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "clinic/bulk_jobs.html", {"page": page, "section": "patients"})


@login_required
@staff_required
@practice_admin_required
@require_safe
def job(request, job_id: int):
    job = access_selectors.invitation_job_for(request.staff, job_id)
    return render(request, "clinic/bulk_job.html", _job_context(job, report=True))


@login_required
@staff_required
@practice_admin_required
@require_safe
def job_live(request, job_id: int):
    """The progress part of the job page, which it polls. `report=0`: the page has no report yet, so
    the finished job's report comes along (swapped in out of band) the first time it is done."""
    job = access_selectors.invitation_job_for(request.staff, job_id)
    return render(request, "clinic/bulk_job.html#live", _job_context(job, report=request.GET.get("report") == "0"))


@login_required
@staff_required
@practice_admin_required
@require_safe
def skipped_csv(request, job_id: int):
    job = access_selectors.invitation_job_for(request.staff, job_id)
    response = csv_download(f"skipped-patients-job-{job.pk}.csv")
    write_skipped_csv(job, response)
    return response


def _job_context(job: InvitationJob, *, report: bool) -> dict:
    progress = job_progress(job)
    emails_pending = progress.emails_delivered + progress.emails_failed < progress.invited
    recently_done = job.finished_at is None or timezone.now() - job.finished_at < EMAILS_WATCHED_FOR
    context = {
        "job": job, "progress": progress, "section": "patients",
        "polling": not progress.done or (emails_pending and recently_done),
        "with_report": report and progress.done,
    }
    if context["with_report"]:
        skipped = list(skipped_patients(job)[:SKIPPED_SHOWN])
        context |= {"skip_counts": job_skip_counts(job), "skipped": skipped,
                    "more_skipped": max(0, progress.skipped - len(skipped))}
    return context


def _remember_preview(session, selection: Selection) -> str:
    """A one-time token for this preview's Confirm button, standing for `selection` in the session."""
    token = secrets.token_urlsafe(16)
    previews = dict(list(session.get(PREVIEWS, {}).items())[-(MAX_PREVIEWS - 1):])
    previews[token] = {"ids": list(selection.ids), "q": selection.q, "status": selection.status,
                       "language": selection.language}
    session[PREVIEWS] = previews
    return token


def _take_preview(session, token: str) -> Selection | None:
    """The selection a preview token stands for, taken out of the session. Two Confirms sent at once
    may both find it (each request loads its own copy of the session); the token is then the job's
    key, and start_invitation_job starts one job for both."""
    previews = session.get(PREVIEWS, {})
    chosen = previews.pop(token, None)
    if chosen is None:
        return None
    session[PREVIEWS] = previews
    return Selection(ids=tuple(chosen["ids"]), q=chosen["q"], status=chosen["status"],
                     language=chosen.get("language", ""))
