"""Staff settings pages for the API: each staff member's own API tokens (create, see last use,
revoke), and the practice's webhook endpoints (practice admins: register, see the last deliveries,
rotate the secret, disable, delete). Pages, not API: the API modules never import this one."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from api import tokens, webhooks
from api.models import ApiToken, WebhookEndpoint
from clinic.decorators import practice_admin_required, staff_required

# Deliveries listed under each endpoint (the newest).
RECENT_DELIVERIES = 20


class NewTokenForm(forms.Form):
    name = forms.CharField(label=_("What is it for?"), max_length=100, help_text=_("For example “EHR sync”."))


@login_required
@staff_required
def api_tokens(request):
    """GET lists the staff member's tokens; POST makes one and shows it on this response only."""
    form = NewTokenForm(request.POST or None, label_suffix="")
    created = ""
    if request.method == "POST" and form.is_valid():
        _, created = tokens.create_token(request.staff, name=form.cleaned_data["name"])
        form = NewTokenForm(label_suffix="")
    return render(request, "api/tokens.html", {
        "form": form, "created": created, "section": "api",
        "tokens": ApiToken.objects.filter(staff=request.staff).order_by("-created_at", "-id"),
    })


@login_required
@staff_required
@require_POST
def revoke_api_token(request, token_id: int):
    token = ApiToken.objects.filter(pk=token_id, staff=request.staff).first()
    if token is None:
        raise Http404("No such token")  # someone else's token is as absent as a missing one
    if tokens.revoke_token(token):
        messages.success(request, gettext("Token “%(name)s” revoked: requests made with it are refused from now on.")
                         % {"name": token.name})
    return redirect("api-settings:tokens")


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("Portico POSTs signed portal-access events here."))

    def clean_url(self):
        url = self.cleaned_data["url"]
        webhooks.check_url(url)
        return url


@login_required
@staff_required
@practice_admin_required
def webhook_endpoints(request):
    """GET lists the practice's endpoints and their latest deliveries; POST registers one and shows
    its secret on this response only."""
    form = WebhookForm(request.POST or None, label_suffix="")
    shown = None
    if request.method == "POST" and form.is_valid():
        endpoint = webhooks.create_endpoint(request.staff.practice, form.cleaned_data["url"], by=request.staff)
        shown = (endpoint, endpoint.secret)
        form = WebhookForm(label_suffix="")
    return _webhooks_page(request, form, shown)


@login_required
@staff_required
@practice_admin_required
@require_POST
def rotate_webhook_secret(request, endpoint_id: int):
    endpoint = _practice_endpoint(request, endpoint_id)
    secret = webhooks.rotate_secret(endpoint)
    return _webhooks_page(request, WebhookForm(label_suffix=""), (endpoint, secret))


@login_required
@staff_required
@practice_admin_required
@require_POST
def set_webhook_enabled(request, endpoint_id: int):
    endpoint = _practice_endpoint(request, endpoint_id)
    enabled = {"1": True, "0": False}.get(request.POST.get("enabled"))
    if enabled is None:
        return HttpResponseBadRequest("enabled must be 1 or 0")
    webhooks.set_enabled(endpoint, enabled)
    messages.success(request, (gettext("%(url)s enabled.") if enabled else gettext("%(url)s disabled: it is sent nothing."))
                     % {"url": endpoint.url})
    return redirect("webhooks:endpoints")


@login_required
@staff_required
@practice_admin_required
@require_POST
def delete_webhook(request, endpoint_id: int):
    endpoint = _practice_endpoint(request, endpoint_id)
    webhooks.delete_endpoint(endpoint)
    messages.success(request, gettext("%(url)s deleted, with its deliveries.") % {"url": endpoint.url})
    return redirect("webhooks:endpoints")


def _practice_endpoint(request, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, practice=request.staff.practice).first()
    if endpoint is None:
        raise Http404("No such endpoint")  # another practice's endpoint is as absent as a missing one
    return endpoint


def _webhooks_page(request, form, shown):
    endpoints = list(WebhookEndpoint.objects.filter(practice=request.staff.practice))
    for endpoint in endpoints:
        endpoint.recent = endpoint.deliveries.order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    return render(request, "api/webhooks.html", {
        "form": form, "endpoints": endpoints, "section": "api",
        "shown_endpoint": shown[0] if shown else None, "shown_secret": shown[1] if shown else "",
    })
