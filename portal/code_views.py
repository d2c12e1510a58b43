"""The pages for codes typed by hand: a printed invitation's activation code (/activate/), and the
code emailed to confirm an address while creating an account (for an invitation without one).

An activation code, once recognised, is kept in the session exactly like an opened link's token
(portal.accepting.in_progress.open_link), so the identity check, its lock and throttles and the accept that
follow are the invitation link's own (portal.views)."""

from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from access import errors, tokens
from access.actions import acceptance, email_confirmation, printing
from portal import accepting, retry, selectors
from portal.forms import ActivationCodeForm, EmailCodeForm, EmailForm, kept_errors, show_kept_errors
from portal.language import remember_link_language
from portal.views import mask_email
from portico.client import Client


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
@never_cache
def activate(request):
    """Type the code from the letter; a recognised one starts the same steps as the emailed link."""
    if request.method == "GET":
        kept = retry.take(request.session, "activate")
        form = show_kept_errors(ActivationCodeForm(), kept.errors)
        return render(request, "portal/activate.html", {"form": form, "error": kept.message})
    form = ActivationCodeForm(request.POST)
    if not form.is_valid():
        return _again(request, "activate", retry.Retry(errors=kept_errors(form)))
    try:
        invitation, code = printing.invitation_for_code(form.cleaned_data["code"], client=Client.from_request(request))
    except (errors.TooManyAttempts, errors.CodeNotRecognised) as e:
        return _again(request, "activate", retry.Retry(errors={"code": [e.message]}))
    except errors.LinkNotUsable as e:  # a right code of a dead invitation: its page says why (expired: renew)
        code = tokens.normalize_code(form.cleaned_data["code"])
        _remember_language(request, code)
        practice = selectors.practice_for_link(code)
        accepting.note_link_problem(request.session, e.reason, practice.pk if practice else None, code)
        return redirect("portal:link-problem")
    _remember_language(request, code)
    accepting.in_progress.open_link(request.session, code)
    return redirect("portal:accept")


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
@never_cache
def confirm_email(request):
    """For an invitation without an address, after the identity check: give an address, then type
    the code emailed to it. The account step then uses that address."""
    token = accepting.in_progress.opened_link(request.session)
    invitation = _proven_invitation(request, token)
    if invitation is None:
        return redirect("portal:accept")
    if invitation.email:
        return redirect("portal:account")
    waiting = selectors.waiting_email_confirmation(
        invitation, accepting.email_confirmation_id(request.session, invitation.pk, confirmed=False))
    if request.method == "POST" and "restart" in request.POST:
        accepting.forget_email(request.session)
        return redirect("portal:confirm-email")
    if waiting is None:
        return _give_email(request, token, invitation)
    return _type_code(request, token, invitation, waiting)


def _give_email(request, token, invitation):
    if request.method == "GET":
        kept = retry.take(request.session, "email")
        form = show_kept_errors(EmailForm(initial=kept.typed), kept.errors)
        return render(request, "portal/confirm_email.html", {"invitation": invitation, "form": form,
                                                              "error": kept.message})
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _again(request, "email", retry.Retry(errors=kept_errors(form)))
    try:
        sent = email_confirmation.send_email_code(token, proof=accepting.in_progress.identity_proof(request.session),
                                                  email=form.cleaned_data["email"], client=Client.from_request(request),
                                                  language=request.LANGUAGE_CODE)
    except errors.TooManyAttempts as e:
        return _again(request, "email", retry.Retry(message=e.message))
    except (errors.LinkNotUsable, errors.IdentityNotConfirmed):
        return redirect("portal:accept")  # the accept step says what became of the invitation
    accepting.email_sent(request.session, invitation.pk, sent.pk)
    return redirect("portal:confirm-email")


def _type_code(request, token, invitation, waiting):
    if request.method == "GET":
        kept = retry.take(request.session, "email-code")
        form = show_kept_errors(EmailCodeForm(), kept.errors)
        return render(request, "portal/confirm_email_code.html", {
            "invitation": invitation, "form": form, "to": mask_email(waiting.email), "error": kept.message})
    form = EmailCodeForm(request.POST)
    if not form.is_valid():
        return _again(request, "email-code", retry.Retry(errors=kept_errors(form)))
    try:
        email_confirmation.confirm_email_code(token, proof=accepting.in_progress.identity_proof(request.session),
                                              confirmation_id=waiting.pk, code=form.cleaned_data["code"],
                                              client=Client.from_request(request))
    except errors.EmailNotConfirmed as e:
        if not e.attempts_left:
            accepting.forget_email(request.session)
            return _again(request, "email", retry.Retry(message=e.message))
        return _again(request, "email-code", retry.Retry(errors={"code": [e.message]}))
    except (errors.LinkNotUsable, errors.IdentityNotConfirmed):
        return redirect("portal:accept")
    accepting.email_confirmed(request.session)
    return redirect("portal:account")


def _remember_language(request, code: str) -> None:
    """A recognised code's pages follow its patient's language, as an opened link's do (only once the
    code is counted and recognised: a guess must not learn anything from the page's language)."""
    if language := selectors.language_for_link(code):
        remember_link_language(request.session, language)


def _proven_invitation(request, token: str):
    """The invitation this browser is accepting, if it passed the identity check; else None."""
    if not token:
        return None
    try:
        invitation = acceptance.invitation_for_token(token)
    except errors.LinkNotUsable:
        return None
    return invitation if accepting.in_progress.identity_confirmed_for(request.session, invitation.pk) else None


def _again(request, step: str, kept: retry.Retry):
    retry.keep(request.session, step, kept)
    return redirect(request.path)
