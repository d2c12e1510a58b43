"""The patient's pages. Each parses the request, calls one access action and shows the outcome; the
rules (what a link allows, identity checks, locking, connecting exactly once) live in access.actions.

The invitation flow follows Django's PasswordResetConfirmView: the emailed link /portal/i/<token>/
only checks the token, keeps it in the session and redirects to /portal/accept/, so the token never
reaches a rendered page, a Referer header or a 4xx log line. Every later step re-checks the session copy.

Only that redirect says `Referrer-Policy: no-referrer`: it is the one response whose URL holds the token.
The pages after it have clean URLs and keep the site's policy, because under `no-referrer` browsers send
`Origin: null` with a form POST and Django's CSRF check (rightly) refuses it.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from access import actions, errors, signins
from access.history import Client
from portal import accepting, selectors
from portal.decorators import no_referrer, patient_required
from portal.forms import CreateAccountForm, IdentityForm, PatientAuthenticationForm, SignInToConnectForm

# --- accepting an invitation --------------------------------------------------------------------

@require_safe
@never_cache
@no_referrer
def landing(request, token: str):
    """Opening the link changes nothing (mail scanners open links too): check it, keep it, move on.
    A link that cannot be used (even one made up on another site) leaves an accept in progress alone."""
    try:
        actions.invitation_for_token(token)
    except errors.LinkNotUsable as e:
        accepting.note_link_problem(request.session, e.reason)
        return redirect("portal:link-problem")
    accepting.open_link(request.session, token)
    return redirect("portal:accept")


@require_safe
@never_cache
def link_problem(request):
    return _problem_page(request, accepting.link_problem(request.session))


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("ssn", "date_of_birth", "phone")
@never_cache
def accept(request):
    """Step 1: confirm identity with the details the practice has on file."""
    token = accepting.opened_link(request.session)
    if not token:
        return _no_invitation(request)
    try:
        invitation = actions.invitation_for_token(token)
    except errors.LinkNotUsable as e:
        if request.method == "GET" or e.reason != "unknown":
            return _link_unusable(request, e.reason)
        invitation = None  # a POST for an unknown link fails exactly like wrong answers
    if request.method == "GET":
        if _identity_confirmed(request, invitation):
            return redirect("portal:account")
        return _identity_page(request, invitation, _identity_form(invitation))

    form = _identity_form(invitation, request.POST)
    if not form.is_valid():
        return _identity_page(request, invitation, form, status=400)
    try:
        verified = actions.verify_identity(token, form.answers(), client=Client.from_request(request))
    except errors.TooManyAttempts as e:
        return _identity_page(request, invitation, _identity_form(invitation), error=e.message, status=429)
    except errors.LinkNotUsable as e:
        if e.reason != "unknown":
            return _link_unusable(request, e.reason)
        return _identity_not_confirmed(request, invitation)
    except errors.IdentityNotConfirmed:
        return _identity_not_confirmed(request, invitation)
    accepting.confirm_identity(request.session, verified.invitation.pk, verified.proof)
    return redirect("portal:account")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "password1", "password2")
@never_cache
def account(request):
    """Step 2: create a portal account for the invited address, or sign in to the one it already has."""
    token = accepting.opened_link(request.session)
    if not token:
        return _no_invitation(request)
    try:
        invitation = actions.invitation_for_token(token)
    except errors.LinkNotUsable as e:
        return _link_unusable(request, e.reason)
    if not _identity_confirmed(request, invitation):
        return redirect("portal:accept")
    existing = selectors.account_for_email(invitation.email)
    # A POST is handled as the form that was shown: if an account appeared meanwhile (another tab won
    # the race), accept_invitation says so instead of this page switching forms under the patient.
    creating = existing is None or (request.method == "POST" and "password1" in request.POST)
    if creating:
        return _create_account(request, token, invitation)
    if hasattr(existing, "staff"):
        return _link_unusable(request, "staff_account", status=409)
    return _sign_in_to_connect(request, token, invitation, existing)


def _create_account(request, token, invitation):
    form = CreateAccountForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        return _accept(request, token, password=form.cleaned_data["password1"])
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/create_account.html", {"invitation": invitation, "form": form}, status=status)


def _sign_in_to_connect(request, token, invitation, existing):
    form = SignInToConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = signins.authenticate(request, existing.get_username(), form.cleaned_data["password"])
        except signins.Throttled as e:
            form.add_error("password", e.message)
        else:
            if user is not None:
                return _accept(request, token, account=user)
            form.add_error("password", "That password is not correct.")
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/sign_in_to_connect.html", {"invitation": invitation, "form": form},
                  status=status)


def _accept(request, token, **how):
    try:
        connection = actions.accept_invitation(token, proof=accepting.identity_proof(request.session),
                                               client=Client.from_request(request), **how)
    except errors.LinkNotUsable as e:
        return _link_unusable(request, e.reason)
    except errors.IdentityNotConfirmed:
        accepting.forget_identity(request.session)
        messages.info(request, "Please confirm your details again before you continue.")
        return redirect("portal:accept")
    except (errors.AccountExists, errors.WrongAccount) as e:
        messages.info(request, e.message)
        return redirect("portal:account")
    login(request, connection.account)  # a new session key; the old one may have been seen with the link
    accepting.forget(request.session)
    messages.success(request, f"You are now connected to {connection.practice.name}.")
    return redirect("portal:home")


def _identity_form(invitation, data=None) -> IdentityForm:
    if invitation is None:
        return IdentityForm(data)
    patient = invitation.patient
    return IdentityForm(data, offer_ssn=bool(patient.ssn_last4),
                        offer_dob_phone=bool(patient.date_of_birth and patient.phone))


def _identity_page(request, invitation, form, *, error="", status=200):
    return render(request, "portal/identity.html", {"invitation": invitation, "form": form, "error": error},
                  status=status)


def _identity_not_confirmed(request, invitation):
    """The same page and status whichever answer was wrong; nothing typed is echoed back."""
    message = errors.IdentityNotConfirmed(0).message
    return _identity_page(request, invitation, _identity_form(invitation), error=message, status=400)


def _identity_confirmed(request, invitation) -> bool:
    return invitation is not None and accepting.identity_confirmed_for(request.session, invitation.pk)


def _link_unusable(request, reason: str, *, status=410):
    """The link this browser is accepting has died: forget it and say why."""
    accepting.forget(request.session)
    return _problem_page(request, reason, status=status)


def _problem_page(request, reason: str, *, status=410):
    return render(request, "portal/link_problem.html", {"reason": reason}, status=status)


def _no_invitation(request):
    return render(request, "portal/link_problem.html", {"reason": "missing"}, status=400)


# --- the patient's portal -----------------------------------------------------------------------

login_view = auth_views.LoginView.as_view(
    template_name="portal/login.html", authentication_form=PatientAuthenticationForm, next_page="portal:home",
)
logout_view = auth_views.LogoutView.as_view(next_page="portal:login")


@patient_required
@require_safe
def home(request):
    return render(request, "portal/home.html", {"connections": selectors.practices_for(request.user)})


@patient_required
@require_http_methods(["GET", "POST"])
def disconnect(request, connection_id: int):
    connection = selectors.connection_for(request.user, connection_id)
    if connection is None:
        raise Http404("No such connection")
    if request.method == "POST":
        actions.disconnect_practice(connection, client=Client.from_request(request))
        messages.success(request, f"You are no longer connected to {connection.practice.name}.")
        return redirect("portal:home")
    return render(request, "portal/disconnect.html", {"connection": connection})
