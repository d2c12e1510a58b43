"""The practice's settings page (practice admins): portal invitations and how patients reach the practice."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext

from access.actions.practice_settings import change_practice_settings
from clinic.decorators import practice_admin_required, staff_required
from clinic.forms import PracticeSettingsForm
from clinic.models import Practice
from clinic.views.common import client_of
from sms.provider import enabled as texts_enabled


@login_required
@staff_required
@practice_admin_required
def practice_settings(request):
    # A copy: the form writes into its instance while checking, the action saves.
    form = PracticeSettingsForm(request.POST or None, instance=Practice.objects.get(pk=request.staff.practice_id))
    if request.method == "POST" and form.is_valid():
        try:
            changed = change_practice_settings(request.staff.practice, by=request.staff, client=client_of(request),
                                               **form.cleaned_data)
        except ValidationError as e:
            form.add_error(None, e)
        else:
            messages.success(request, gettext("Saved: %(changes)s.") % {"changes": "; ".join(changed)} if changed
                             else gettext("Nothing was changed."))
            return redirect("clinic:settings")
    if form.errors:
        messages.error(request, gettext("Nothing was saved: please correct the fields marked below."))
    return render(request, "clinic/settings.html", {"form": form, "section": "settings",
                                                    "request_access_url": request_access_url(request.staff.practice),
                                                    "texts_enabled": texts_enabled()})


def request_access_url(practice: Practice) -> str:
    """The practice's public "Request portal access" page, for its website (from PORTICO_BASE_URL)."""
    return settings.PORTICO_BASE_URL + reverse("portal:request-access", args=[practice.pk])
