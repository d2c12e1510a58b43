"""Staff settings pages for the API: each staff member's own API tokens (create, see last use,
revoke). Pages, not API: the API modules never import this one."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from api import tokens
from api.models import ApiToken
from clinic.decorators import staff_required


class NewTokenForm(forms.Form):
    name = forms.CharField(label="What is it for?", max_length=100, help_text="For example “EHR sync”.")


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
        "form": form, "created": created, "section": "settings",
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
        messages.success(request, f"Token “{token.name}” revoked: requests made with it are refused from now on.")
    return redirect("api-settings:tokens")
