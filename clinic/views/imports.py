"""Import patients from a CSV file (practice admins): the same checks and report as
`manage.py import_patients`, kept so the rejected rows can be downloaded and fixed."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from clinic import importing, selectors
from clinic.decorators import practice_admin_required, staff_required
from clinic.views.common import csv_download

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, with a header row. At most 20 MB."),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    skip_invalid = forms.BooleanField(
        label=_("Import the valid rows even if some rows are invalid"), required=False,
        help_text=_("Otherwise a file with an invalid row imports nothing."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("This file is larger than 20 MB: split it into smaller files."))
        return upload


@login_required
@staff_required
@practice_admin_required
def import_patients(request):
    form = ImportForm(request.POST or None, request.FILES or None, label_suffix="")
    if request.method == "POST" and form.is_valid():
        try:
            result = importing.import_upload(request.staff.practice, form.cleaned_data["file"], by=request.staff,
                                             skip_invalid=form.cleaned_data["skip_invalid"])
        except importing.ImportFileError as e:
            form.add_error("file", str(e))
        else:
            return redirect("clinic:import-report", result.pk)
    if form.errors:
        messages.error(request, gettext("Nothing was imported: please correct the problem marked below."))
    return render(request, "clinic/import_patients.html", {
        "form": form, "imports": selectors.recent_imports(request.staff), "columns": importing.COLUMNS, "section": "patients",
    })


@login_required
@staff_required
@practice_admin_required
@require_safe
def import_report(request, import_id: int):
    """The import's report, or while the task worker imports the file, its progress (static/clinic.js
    follows it and loads the report when it is done; without script, a link checks again)."""
    result = selectors.patient_import_for(request.staff, import_id)
    rejected = result.rejected_rows()
    return render(request, "clinic/import_report.html", {
        "result": result, "rejected": rejected[:100], "more_rejected": max(0, len(rejected) - 100),
        "section": "patients", "progress": progress_of(result),
    })


def progress_of(result) -> dict:
    percent = 100 * result.steps_done // result.steps if result.steps else 0
    return {"status": result.status, "done": result.steps_done, "total": result.steps, "percent": percent,
            "text": gettext("%(percent)s%% done") % {"percent": percent} if result.steps
            else gettext("Waiting for the task worker to start…")}


@login_required
@staff_required
@practice_admin_required
@require_safe
def import_progress(request, import_id: int):
    """The progress of an import, for the report page's script to follow."""
    return JsonResponse(progress_of(selectors.patient_import_for(request.staff, import_id)))


@login_required
@staff_required
@practice_admin_required
@require_safe
def rejected_rows(request, import_id: int):
    result = selectors.patient_import_for(request.staff, import_id)
    response = csv_download(f"rejected-rows-{result.pk}.csv")
    importing.write_rejected_csv(result, response)
    return response
