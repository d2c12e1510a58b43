"""The patient's pages. Each parses the request, calls one access action and shows the outcome; the
rules (what a link allows, identity checks, locking, connecting exactly once) live in access.actions.

The invitation flow follows Django's PasswordResetConfirmView: the emailed link /portal/i/<token>/
only checks the token, keeps it in the session and redirects to /portal/accept/, so the token never
reaches a rendered page, a Referer header or a 4xx log line. Every later step re-checks the session copy.

Only that redirect says `Referrer-Policy: no-referrer`: it is the one response whose URL holds the token.
The pages after it have clean URLs and keep the site's policy, because under `no-referrer` browsers send
`Origin: null` with a form POST and Django's CSRF check (rightly) refuses it.

Every form is POST-redirect-GET (portal.retry): a failed step is shown by the GET it redirects to, so
the browser's Back button never asks to resubmit a form.
"""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access import errors, proxy_selectors, signins, tokens
from access.actions import acceptance, renewal
from clinic import validation
from portal import accepting, acting, retry, selectors
from portal.decorators import no_referrer, patient_required
from portal.forms import (
    CreateAccountForm,
    IdentityForm,
    PatientAuthenticationForm,
    SignInToConnectForm,
    kept_errors,
    show_kept_errors,
)
from portal.language import remember_link_language
from portico.client import Client

# What the identity step shows again after a failure. Never the SSN: it is the secret itself. The date
# of birth and phone are kept because they are checked as a pair and the page cannot say which one
# was wrong: retyping both to fix one invites new typos, and both were typed in this very browser.
KEPT_IDENTITY_FIELDS = ("date_of_birth", "phone")
PROBLEM_STATUS = {"missing": 400, "staff_account": 409}

# --- accepting an invitation --------------------------------------------------------------------

@require_safe
@never_cache
@no_referrer
def landing(request, token: str):
    """Opening the link changes nothing (mail scanners open links too): check it, keep it, move on.
    A link that cannot be used (even one made up on another site) leaves an accept in progress alone."""
    if not tokens.looks_like_token(token):
        # Only a link's token here: an activation code is typed at /activate/, where each guess counts.
        accepting.note_link_problem(request.session, "unknown")
        return redirect("portal:link-problem")
    if language := selectors.language_for_link(token):
        remember_link_language(request.session, language)
    try:
        acceptance.invitation_for_token(token)
    except errors.LinkNotUsable as e:
        if e.reason == "used" and selectors.connection_for_link(request.user, token):
            return redirect("portal:connected")  # the patient who used it, back again
        accepting.note_link_problem(request.session, e.reason, _practice_id(token), token)
        return redirect("portal:link-problem")
    accepting.in_progress.open_link(request.session, token)
    return redirect("portal:accept")


@require_safe
@never_cache
def link_problem(request):
    reason, practice_id = accepting.link_problem(request.session)
    practice, renewable = selectors.practice(practice_id), _renewal(request, reason)
    if isinstance(renewable, errors.CannotRenew) or renewable is None:
        return problem_page(request, reason, practice, renewal=renewable or False)
    return problem_page(request, reason, practice, renewal=True, renew_by_text=renewal.by_text(renewable))


def _renewal(request, reason: str):
    """For an expired link: its invitation if its patient may renew it here, else why not (CannotRenew),
    or None when there is nothing to renew."""
    token = accepting.expired_link(request.session) if reason == "expired" else ""
    if not token:
        return None
    try:
        return renewal.renewable_invitation(token)
    except errors.CannotRenew as e:
        return e
    except errors.LinkNotUsable:
        return None


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("ssn", "date_of_birth", "phone")
@never_cache
def accept(request):
    """Step 1: confirm identity with the details the practice has on file."""
    token = accepting.in_progress.opened_link(request.session)
    if not token:
        return _nothing_in_progress(request)
    try:
        invitation = acceptance.invitation_for_token(token)
    except errors.LinkNotUsable as e:
        if request.method == "GET" or e.reason != "unknown":
            return _link_unusable(request, e.reason, token)
        invitation = None  # a POST for an unknown link fails exactly like wrong answers
    if _someone_else_signed_in(request, invitation):
        return _signed_in_as_someone_else(request, invitation)
    if request.method == "GET":
        if _identity_confirmed(request, invitation):
            return redirect("portal:account")
        return _identity_page(request, invitation)

    form = _identity_form(invitation, request.POST)
    if not form.is_valid():
        return _retry(request, "identity", retry.Retry(errors=kept_errors(form), typed=_typed(request)))
    try:
        verified = acceptance.verify_identity(token, form.answers(), client=Client.from_request(request))
    except errors.TooManyAttempts as e:
        return _retry(request, "identity", retry.Retry(message=e.message, typed=_typed(request)))
    except errors.LinkNotUsable as e:
        if e.reason != "unknown":
            return _link_unusable(request, e.reason, token)
        return _identity_not_confirmed(request, attempts_left=None)
    except errors.IdentityNotConfirmed as e:
        return _identity_not_confirmed(request, attempts_left=e.attempts_left)
    accepting.in_progress.confirm_identity(request.session, verified.invitation.pk, verified.proof)
    return redirect("portal:account")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "password1", "password2")
@never_cache
def account(request):
    """Step 2: create a portal account for the invited address, or sign in to the one it already has."""
    token = accepting.in_progress.opened_link(request.session)
    if not token:
        return _nothing_in_progress(request)
    try:
        invitation = acceptance.invitation_for_token(token)
    except errors.LinkNotUsable as e:
        return _link_unusable(request, e.reason, token)
    if _someone_else_signed_in(request, invitation):
        return _signed_in_as_someone_else(request, invitation)
    if not _identity_confirmed(request, invitation):
        return redirect("portal:accept")
    if not invitation.email:  # printed for a patient without an address: they confirm one first
        invitation.email = selectors.confirmed_email(
            invitation, accepting.email_confirmation_id(request.session, invitation.pk, confirmed=True))
        if not invitation.email:
            return redirect("portal:confirm-email")
    existing = selectors.account_for_email(invitation.email)
    # A POST is handled as the form that was shown: if an account appeared meanwhile (another tab won
    # the race), accept_invitation says so instead of this page switching forms under the patient.
    creating = existing is None or (request.method == "POST" and "password1" in request.POST)
    if creating:
        return _create_account(request, token, invitation)
    if hasattr(existing, "staff"):
        return _link_unusable(request, "staff_account", token)
    return _sign_in_to_connect(request, token, invitation, existing)


# --- renewing an expired invitation -----------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("ssn", "date_of_birth", "phone")
@never_cache
def renew(request):
    """From an expired link: the identity check again, then a new invitation to the email on file."""
    token = accepting.expired_link(request.session)
    try:
        invitation = renewal.renewable_invitation(token) if token else None
    except (errors.LinkNotUsable, errors.CannotRenew):
        invitation = None
    if invitation is None:
        return redirect("portal:link-problem")
    if request.method == "GET":
        return _identity_page(request, invitation, step="renew", template="portal/renew.html",
                              by_text=renewal.by_text(invitation))
    form = _identity_form(invitation, request.POST)
    if not form.is_valid():
        return _retry(request, "renew", retry.Retry(errors=kept_errors(form), typed=_typed(request)))
    try:
        sent = renewal.renew_invitation(token, form.answers(), client=Client.from_request(request))
    except errors.TooManyAttempts as e:
        return _retry(request, "renew", retry.Retry(message=e.message, typed=_typed(request)))
    except errors.IdentityNotConfirmed as e:
        return _retry(request, "renew", not_confirmed(e.attempts_left, _typed(request)))
    except errors.LinkNotUsable as e:  # locked by this answer
        accepting.note_link_problem(request.session, e.reason, invitation.practice_id)
        return redirect("portal:link-problem")
    except errors.CannotRenew:  # no longer renewable (another tab renewed it): the expired page says why
        return redirect("portal:link-problem")
    except errors.InvitationError as e:  # the send itself refused (the daily cap, not eligible any more)
        return render(request, "portal/renew_refused.html", {"practice": invitation.practice, "code": e.code},
                      status=409)
    if renewal.by_text(invitation):  # the new link went by text to the mobile number on file
        accepting.note_renewed(request.session, mask_phone(invitation.patient.mobile_phone), invitation.practice_id,
                               by_text=True)
    else:
        accepting.note_renewed(request.session, mask_email(sent.invitation.email), invitation.practice_id)
    return redirect("portal:renewed")


@require_safe
@never_cache
def renewed(request):
    done = accepting.renewed(request.session)
    if not done:
        return redirect("portal:link-problem")
    return render(request, "portal/renewed.html", {"to": done["to"], "by_text": done.get("by_text", False),
                                                   "practice": selectors.practice(done["practice"])})


def mask_phone(e164: str) -> str:
    """(•••) •••-0188: the last four digits, enough for the patient to recognise their number."""
    return f"(•••) •••-{e164[-4:]}"


def mask_email(email: str) -> str:
    """j•••@example.com: enough for the patient to recognise the address, not to learn it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


@require_POST
def sign_out_and_continue(request):
    """On a shared device: end whoever's session this is, and carry on with the link just opened."""
    token = accepting.in_progress.opened_link(request.session)
    logout(request)  # a new, empty session
    if token:
        accepting.in_progress.open_link(request.session, token)
    return redirect("portal:accept")


@patient_required
@require_safe
@never_cache
def connected(request):
    return _connected_page(request)


def _create_account(request, token, invitation):
    if request.method == "POST":
        form = CreateAccountForm(request.POST, invitation=invitation)
        if form.is_valid():
            return _accept(request, token, password=form.cleaned_data["password1"])
        return _retry(request, "account", retry.Retry(errors=kept_errors(form)))
    kept = retry.take(request.session, "account")
    form = show_kept_errors(CreateAccountForm(invitation=invitation), kept.errors)
    return render(request, "portal/create_account.html", {"invitation": invitation, "form": form})


def _sign_in_to_connect(request, token, invitation, existing):
    if request.method == "POST":
        form = SignInToConnectForm(request.POST)
        if form.is_valid() and (user := signed_in_as_existing(request, existing, form)) is not None:
            return _accept(request, token, account=user)
        return _retry(request, "sign-in-to-connect", retry.Retry(errors=kept_errors(form)))
    kept = retry.take(request.session, "sign-in-to-connect")
    form = show_kept_errors(SignInToConnectForm(), kept.errors)
    return render(request, "portal/sign_in_to_connect.html", {"invitation": invitation, "form": form})


def _accept(request, token, **how):
    try:
        connection = acceptance.accept_invitation(
            token, proof=accepting.in_progress.identity_proof(request.session), client=Client.from_request(request),
            confirmed_email=accepting.confirmed_email_id(request.session), **how)
    except errors.LinkNotUsable as e:
        return _link_unusable(request, e.reason, token)
    except errors.IdentityNotConfirmed:
        accepting.in_progress.forget_identity(request.session)
        messages.info(request, _("Please confirm your details again before you continue."))
        return redirect("portal:accept")
    except errors.EmailNotConfirmed as e:
        accepting.forget_email(request.session)
        messages.info(request, e.message)
        return redirect("portal:confirm-email")
    except (errors.AccountExists, errors.WrongAccount) as e:
        messages.info(request, e.message)
        return redirect("portal:account")
    login(request, connection.account)  # a new session key; the old one may have been seen with the link
    accepting.in_progress.forget(request.session)
    messages.success(request, _("You are now connected to %(practice)s.") % {"practice": connection.practice.name})
    return redirect("portal:home")


def _identity_form(invitation, data=None, **kwargs) -> IdentityForm:
    if invitation is None:
        return IdentityForm(data, **kwargs)
    patient = invitation.patient
    return IdentityForm(data, offer_ssn=bool(patient.ssn_last4),
                        offer_dob_phone=bool(patient.date_of_birth and patient.phone), **kwargs)


def _identity_page(request, invitation, *, step: str = "identity", template: str = "portal/identity.html", **extra):
    """The identity check (accepting, or renewing: `step`), with the failed attempt it was redirected from."""
    kept = retry.take(request.session, step)
    form = show_kept_errors(_identity_form(invitation, initial=kept.typed), kept.errors)
    return render(request, template, {
        "invitation": invitation, "form": form, "error": kept.message, "max_tries": acceptance.MAX_IDENTITY_CHECKS,
        **extra,
    })


def _identity_not_confirmed(request, *, attempts_left: int | None):
    return _retry(request, "identity", not_confirmed(attempts_left, _typed(request)))


def not_confirmed(attempts_left: int | None, typed: dict[str, str]) -> retry.Retry:
    """The same page whichever answer was wrong; only the date of birth and phone are shown again."""
    message = errors.IdentityNotConfirmed(0).message + " " + _("Check them and try again.")
    if attempts_left == 1:
        message += " " + _("This is your last try: after one more wrong answer this link stops working.")
    elif attempts_left:
        message += " " + ngettext("You have %(count)d more try before this link stops working.",
                                  "You have %(count)d more tries before this link stops working.",
                                  attempts_left) % {"count": attempts_left}
    return retry.Retry(message=message, typed=typed)


def _typed(request) -> dict[str, str]:
    return {name: request.POST[name][:40] for name in KEPT_IDENTITY_FIELDS if request.POST.get(name)}


def _identity_confirmed(request, invitation) -> bool:
    return invitation is not None and accepting.in_progress.identity_confirmed_for(request.session, invitation.pk)


def _someone_else_signed_in(request, invitation) -> bool:
    """Signed in (patient or staff) under another address than the one this invitation was sent to."""
    user = request.user
    return invitation is not None and user.is_authenticated and not validation.same_email(
        user.get_username(), invitation.email)


def _signed_in_as_someone_else(request, invitation):
    return render(request, "portal/signed_in_as.html", {"invitation": invitation}, status=409)


def signed_in_as_existing(request, existing, form):
    """The existing account, if the password in the valid `form` is its own; else None, with the
    reason (a wrong password, or too many) added to the form. Shared with the proxy's sign-in step."""
    try:
        user = signins.authenticate(request, existing.get_username(), form.cleaned_data["password"])
    except signins.Throttled as e:
        form.add_error("password", e.message)
        return None
    if user is None:
        form.add_error("password", _("That password is not correct."))
    return user


def _retry(request, step: str, kept: retry.Retry):
    retry.keep(request.session, step, kept)
    return redirect(request.path)


def _link_unusable(request, reason: str, token: str):
    """The link this browser is accepting has died: forget it and say why (on a page of its own)."""
    accepting.in_progress.forget(request.session)
    accepting.note_link_problem(request.session, reason, _practice_id(token), token)
    return redirect("portal:link-problem")


def _practice_id(token: str) -> int | None:
    practice = selectors.practice_for_link(token)
    return practice.pk if practice else None


def problem_page(request, reason: str, practice, *, renewal: errors.CannotRenew | bool = False,
                 renew_by_text: bool = False):
    """Why a link cannot be used and what to do instead (for an expired one: renew it, when allowed;
    `renew_by_text`: the new link would go by text)."""
    return render(request, "portal/link_problem.html", {"reason": reason, "practice": practice, "renewal": renewal,
                                                         "renew_by_text": renew_by_text},
                  status=PROBLEM_STATUS.get(reason, 410))


def _nothing_in_progress(request):
    """Back after accepting, or a step reopened later: a connected patient is told so."""
    if request.user.is_authenticated and not hasattr(request.user, "staff") and \
            selectors.live_connections(request.user).exists():
        return _connected_page(request)
    return problem_page(request, "missing", None)


def _connected_page(request):
    return render(request, "portal/connected.html", {"connections": selectors.live_connections(request.user)})


# --- the patient's portal -----------------------------------------------------------------------

login_view = auth_views.LoginView.as_view(
    template_name="portal/login.html", authentication_form=PatientAuthenticationForm, next_page="portal:home",
)
logout_view = auth_views.LogoutView.as_view(next_page="portal:login")


@patient_required
@require_safe
def home(request):
    """The account's own practices; or, for an account that acts for others, the people it may choose
    (a plain form) and the chosen person's practice and appointments (all of them for a full grant,
    the appointments and the practice's contact for a limited one)."""
    people, grant = acting.people(request), acting.acting_for(request)
    context = {"people": people, "grant": grant, "chose_self": acting.chose_self(request) or not people.grants}
    if grant is not None:
        context["upcoming"] = proxy_selectors.upcoming_appointments(grant.patient)
    elif people.self_connected or not people.grants:
        context["connections"] = selectors.practices_for(request.user)
        context["chose_self"] = True
    return render(request, "portal/home.html", context)


@patient_required
@require_http_methods(["GET", "POST"])
def disconnect(request, connection_id: int):
    connection = selectors.connection_for(request.user, connection_id)
    if connection is None:
        raise Http404("No such connection")
    if request.method == "POST":
        acceptance.disconnect_practice(connection, client=Client.from_request(request))
        messages.success(request, _("You are no longer connected to %(practice)s.") % {"practice": connection.practice.name})
        return redirect("portal:home")
    return render(request, "portal/disconnect.html", {"connection": connection})
