"""A connected adult patient's caregivers (issue 21), from My account: invite one (the one-time code is
shown once, on the page after), and revoke any grant on their own record. Every id in a form is
looked up among the signed-in account's own records: anyone else's is a 404 that says nothing."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from access import errors, proxy_selectors
from access.actions import caregivers
from portal import proxy_accepting, retry
from portal.decorators import patient_required
from portal.forms import CaregiverForm, kept_errors
from portico.client import Client

STEP = "invite-caregiver"
KEPT_FIELDS = ("first_name", "last_name", "email", "relationship", "level")


def caregiver_form(request, data=None, *, typed: dict | None = None) -> CaregiverForm:
    """The invite form, offering the account's records old enough to have a caregiver (`typed`: what a
    refused attempt typed, shown again: names and an address the patient gave, nothing secret)."""
    adults = [c for c in proxy_selectors.grants_on_my_records(request.user) if proxy_selectors.is_adult(c.patient)]
    return CaregiverForm(data, connections=adults, initial=typed or {})


@patient_required
@require_POST
def invite(request):
    form = caregiver_form(request, request.POST)
    if not form.is_valid():
        return _retry(request, retry.Retry(errors=kept_errors(form), typed=_typed(request)))
    connection = proxy_selectors.my_connection(request.user, form.cleaned_data["connection"])
    if connection is None:
        raise Http404("No such connection")
    try:
        invited = caregivers.invite_caregiver(connection, form.caregiver(), client=Client.from_request(request))
    except (errors.NotAnAdult, errors.ProxyAlreadyInvited, errors.TooManyCaregiverInvitations, errors.NoSuchProxy) as e:
        return _retry(request, retry.Retry(message=e.message, typed=_typed(request)))
    proxy_accepting.keep_new_code(request.session, invited.proxy.pk, invited.code)
    return redirect("portal:caregiver-code")


@patient_required
@require_safe
@never_cache
def new_code(request):
    """The caregiver's one-time code, shown this once: reloading the page shows it no more."""
    proxy_id, code = proxy_accepting.take_new_code(request.session)
    found = proxy_selectors.grant_on_my_record(request.user, proxy_id) if code else None
    if found is None:
        return redirect("portal:my-account")
    connection, proxy = found
    pending = proxy.invitations.filter(status="pending").first()
    return render(request, "portal/caregiver_code.html", {"proxy": proxy, "code": code, "connection": connection,
                                                          "expires_at": pending.expires_at if pending else None})


@patient_required
@require_POST
def revoke(request):
    found = proxy_selectors.grant_on_my_record(request.user, request.POST.get("proxy", ""))
    if found is None:
        raise Http404("No such access")
    connection, proxy = found
    try:
        caregivers.revoke_proxy_by_patient(connection, proxy, client=Client.from_request(request))
    except errors.NoSuchProxy:
        raise Http404("No such access") from None
    messages.success(request, _("%(name)s can no longer use your portal.") % {"name": proxy.full_name})
    return redirect(reverse("portal:my-account") + "#people-title")


def _typed(request) -> dict[str, str]:
    return {name: request.POST[name][:200] for name in KEPT_FIELDS if request.POST.get(name)}


def _retry(request, kept: retry.Retry):
    retry.keep(request.session, STEP, kept)
    return redirect(reverse("portal:my-account") + f"#{STEP}")
