"""A practice's public "Request portal access" page: anyone may ask; staff decide (clinic.views.requests).

The answer after a well-formed request is the same page whatever is on file (nothing is looked up
here or in the action), so it cannot tell anyone who is a patient. POST-redirect-GET as every portal
form (portal.retry): what was typed is kept, sealed, for the one GET after a refused submission."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from access import errors
from access.actions import requests
from portal import retry, selectors
from portal.forms import RequestAccessForm, kept_errors, show_kept_errors
from portico.client import Client

STEP = "request-access"
THROTTLED = gettext_noop("Too many requests from this address or network. Please wait an hour and try again, "
                         "or call the practice.")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters(*RequestAccessForm.KEPT)
@never_cache
def request_access(request, practice_id: int):
    practice = _practice(practice_id)
    if request.method == "GET":
        kept = retry.take(request.session, STEP)
        form = show_kept_errors(RequestAccessForm(initial=kept.typed), kept.errors)
        return render(request, "portal/request_access.html", {"practice": practice, "form": form,
                                                              "error": kept.message})
    form = RequestAccessForm(request.POST)
    if not form.is_valid():
        return _retry(request, retry.Retry(errors=kept_errors(form), typed=_typed(form)))
    if not form.is_bot:  # a bot is thanked like anyone, and nothing is done
        client = Client.from_request(request)
        try:
            requests.claim_request(form.cleaned_data["email"], client=client)
        except errors.TooManyAttempts:
            return _retry(request, retry.Retry(message=_(THROTTLED), typed=_typed(form)))
        requests.request_access(practice, client=client, language=request.LANGUAGE_CODE, **form.request())
    return redirect("portal:request-access-sent", practice.pk)


@require_safe
@never_cache
def request_access_sent(request, practice_id: int):
    return render(request, "portal/request_access_sent.html", {"practice": _practice(practice_id)})


def _practice(practice_id: int):
    practice = selectors.practice(practice_id)
    if practice is None:
        raise Http404("No such practice")
    return practice


def _typed(form: RequestAccessForm) -> dict[str, str]:
    """What was typed, to show again (bounded: each field's own limit; no NUL, which a session store
    in PostgreSQL could not keep)."""
    limits = {name: getattr(form.fields[name], "max_length", None) or 40 for name in RequestAccessForm.KEPT}
    return {name: str(form.data.get(name, ""))[:limits[name]].replace("\x00", "")
            for name in RequestAccessForm.KEPT if form.data.get(name)}


def _retry(request, kept: retry.Retry):
    retry.keep(request.session, STEP, kept)
    return redirect(request.path)
