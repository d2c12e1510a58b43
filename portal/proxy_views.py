"""A proxy's side of proxy access (issue 21): the invitation link a parent, guardian or caregiver
opens, their identity check, and accepting with a new or existing account; then, signed in, choosing
whom to act for. The same shape as a patient's invitation (portal.views): the link only checks the
token, keeps it in the session (portal.proxy_accepting) and redirects to a URL without it; every form
is POST-redirect-GET."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access import errors, proxy_selectors, tokens
from access.actions import proxy_acceptance
from access.models import Proxy
from clinic import validation
from portal import accepting, proxy_accepting, retry, selectors
from portal.decorators import no_referrer, patient_required
from portal.forms import (
    CaregiverCodeForm,
    GuardianIdentityForm,
    ProxyCreateAccountForm,
    SignInToConnectForm,
    kept_errors,
    show_kept_errors,
)
from portal.language import remember_link_language
from portal.views import not_confirmed, problem_page, signed_in_as_existing
from portico.client import Client

KEPT_FIELDS = ("date_of_birth", "phone")  # shown again after a failure; never the code


@require_safe
@never_cache
@no_referrer
def landing(request, token: str):
    """Opening the link changes nothing (mail scanners open links too): check it, keep it, move on."""
    token_hash = tokens.hash_token(token, tokens.PROXY_INVITATION) if tokens.looks_like_token(token) else ""
    if token_hash and (language := proxy_selectors.language_for_proxy_link(token_hash)):
        remember_link_language(request.session, language)
    try:
        proxy_acceptance.proxy_invitation_for_token(token)
    except errors.LinkNotUsable as e:
        if e.reason == "used" and proxy_selectors.grant_from_link(request.user, token_hash):
            return redirect("portal:home")  # the proxy who used it, back again: choose there
        return _dead_link(request, e.reason, token)
    proxy_accepting.in_progress.open_link(request.session, token)
    return redirect("portal:proxy-accept")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("date_of_birth", "phone", "code")
@never_cache
def accept(request):
    """Step 1: the identity check (a guardian's two answers, or a caregiver's code)."""
    token, invitation = _in_progress(request)
    if invitation is None:
        return token  # a response: nothing in progress, or the link died
    if _someone_else_signed_in(request, invitation.proxy):
        return _signed_in_as_someone_else(request, invitation)
    if request.method == "GET":
        if proxy_accepting.in_progress.identity_confirmed_for(request.session, invitation.pk):
            return redirect("portal:proxy-account")
        kept = retry.take(request.session, "proxy-identity")
        form = show_kept_errors(_identity_form(invitation, initial=kept.typed), kept.errors)
        return render(request, "portal/proxy_identity.html", {
            "invitation": invitation, "proxy": invitation.proxy, "form": form, "error": kept.message,
            "max_tries": proxy_acceptance.MAX_IDENTITY_CHECKS})
    form = _identity_form(invitation, request.POST)
    if not form.is_valid():
        return _retry(request, retry.Retry(errors=kept_errors(form), typed=_typed(request)))
    try:
        verified = proxy_acceptance.verify_proxy_identity(token, form.answers(), client=Client.from_request(request))
    except errors.TooManyAttempts as e:
        return _retry(request, retry.Retry(message=e.message, typed=_typed(request)))
    except errors.LinkNotUsable as e:
        return _dead_link(request, e.reason, token)
    except errors.IdentityNotConfirmed as e:
        return _retry(request, not_confirmed(e.attempts_left, _typed(request)))
    proxy_accepting.in_progress.confirm_identity(request.session, verified.invitation.pk, verified.proof)
    return redirect("portal:proxy-account")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "password1", "password2")
@never_cache
def account(request):
    """Step 2: create a portal account for the invited address, or sign in to the one it already has
    (their own patient account included)."""
    token, invitation = _in_progress(request)
    if invitation is None:
        return token
    proxy = invitation.proxy
    if _someone_else_signed_in(request, proxy):
        return _signed_in_as_someone_else(request, invitation)
    if not proxy_accepting.in_progress.identity_confirmed_for(request.session, invitation.pk):
        return redirect("portal:proxy-accept")
    existing = selectors.account_for_email(proxy.email)
    if existing is not None and hasattr(existing, "staff"):
        return _dead_link(request, "staff_account", token)
    creating = existing is None or (request.method == "POST" and "password1" in request.POST)
    form_class = ProxyCreateAccountForm if creating else SignInToConnectForm
    if request.method == "POST":
        return _account_post(request, token, proxy, existing, form_class)
    kept = retry.take(request.session, "proxy-account")
    form = form_class(proxy=proxy) if creating else form_class()
    return render(request, "portal/proxy_account.html", {
        "invitation": invitation, "proxy": proxy, "creating": creating,
        "form": show_kept_errors(form, kept.errors)})


def _account_post(request, token, proxy, existing, form_class):
    if form_class is ProxyCreateAccountForm:
        form = form_class(request.POST, proxy=proxy)
        if form.is_valid():
            return _accept(request, token, password=form.cleaned_data["password1"])
    else:
        form = form_class(request.POST)
        if form.is_valid() and (user := signed_in_as_existing(request, existing, form)) is not None:
            return _accept(request, token, account=user)
    retry.keep(request.session, "proxy-account", retry.Retry(errors=kept_errors(form)))
    return redirect("portal:proxy-account")


def _accept(request, token, **how):
    try:
        proxy = proxy_acceptance.accept_proxy_invitation(
            token, proof=proxy_accepting.in_progress.identity_proof(request.session), client=Client.from_request(request), **how)
    except errors.LinkNotUsable as e:
        return _dead_link(request, e.reason, token)
    except errors.IdentityNotConfirmed:
        proxy_accepting.in_progress.forget_identity(request.session)
        messages.info(request, _("Please confirm your details again before you continue."))
        return redirect("portal:proxy-accept")
    except errors.ProxyAgeEnded as e:
        proxy_accepting.in_progress.forget(request.session)
        return render(request, "portal/proxy_refused.html", {"message": e.message,
                                                              "practice": selectors.practice(_practice_id(token))},
                      status=409)
    except (errors.AccountExists, errors.WrongAccount) as e:
        messages.info(request, e.message)
        return redirect("portal:proxy-account")
    login(request, proxy.account)  # a new session key; the old one may have been seen with the link
    proxy_accepting.in_progress.forget(request.session)
    proxy_accepting.choose(request.session, proxy.pk)
    messages.success(request, _("You can now use %(name)s's portal.") % {"name": proxy.patient.full_name})
    return redirect("portal:home")


@require_POST
def sign_out_and_continue(request):
    """On a shared device: end whoever's session this is, and carry on with the proxy link just opened."""
    token = proxy_accepting.in_progress.opened_link(request.session)
    logout(request)
    if token:
        proxy_accepting.in_progress.open_link(request.session, token)
    return redirect("portal:proxy-accept")


# --- signed in: whom the account acts for ----------------------------------------------------------

@patient_required
@require_POST
def choose_person(request):
    """The people list's buttons (a plain form): "self", or one of the account's active grants. Another
    account's grant, an ended one or a made-up id is a 404 that says nothing more. Choosing someone
    records it for their practice, once per choice (not per page)."""
    person = request.POST.get("person", "")
    if person == proxy_accepting.SELF:
        proxy_accepting.choose(request.session, proxy_accepting.SELF)
        return redirect("portal:home")
    grant = proxy_selectors.active_grant(request.user, person)
    if grant is None:
        raise Http404("No such person")
    if proxy_accepting.chosen(request.session) != grant.pk:
        if not proxy_acceptance.sign_in_for(grant, client=Client.from_request(request)):
            raise Http404("No such person")
        proxy_accepting.choose(request.session, grant.pk)
    return redirect("portal:home")


# --- steps ----------------------------------------------------------------------------------------

def _in_progress(request):
    """(token, invitation) of the proxy link this browser is accepting, or (a response, None)."""
    token = proxy_accepting.in_progress.opened_link(request.session)
    if not token:
        return problem_page(request, "missing", None), None
    try:
        return token, proxy_acceptance.proxy_invitation_for_token(token)
    except errors.LinkNotUsable as e:
        return _dead_link(request, e.reason, token), None


def _identity_form(invitation, data=None, **kwargs):
    if invitation.proxy.kind == Proxy.Kind.CAREGIVER:
        return CaregiverCodeForm(data, **kwargs)
    return GuardianIdentityForm(data, child=invitation.proxy.patient.full_name, **kwargs)


def _typed(request) -> dict[str, str]:
    return {name: request.POST[name][:40] for name in KEPT_FIELDS if request.POST.get(name)}


def _retry(request, kept: retry.Retry):
    retry.keep(request.session, "proxy-identity", kept)
    return redirect("portal:proxy-accept")


def _someone_else_signed_in(request, proxy: Proxy) -> bool:
    user = request.user
    return user.is_authenticated and not validation.same_email(user.get_username(), proxy.email)


def _signed_in_as_someone_else(request, invitation):
    return render(request, "portal/signed_in_as.html", {
        "invitation": invitation, "sign_out_url": "portal:proxy-sign-out-and-continue"}, status=409)


def _dead_link(request, reason: str, token: str):
    """Why this proxy link cannot be used, on the patient's dead-link page (its words fit)."""
    proxy_accepting.in_progress.forget(request.session)
    accepting.note_link_problem(request.session, reason, _practice_id(token))  # no token: nothing to renew
    return redirect("portal:link-problem")


def _practice_id(token: str) -> int | None:
    if not tokens.looks_like_token(token):
        return None
    return proxy_selectors.practice_id_for_proxy_link(tokens.hash_token(token, tokens.PROXY_INVITATION))

