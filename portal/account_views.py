"""The patient's own account: "Forgot your password?" (Django's password-reset flow, with our
templates, history and throttle) and the account page (change password, connected practices, sign
out everywhere). Staff logins have no patient account: they get no reset mail and no reset link
works for them; their passwords are changed by an operator (see the README)."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from access import errors, proxy_selectors
from portal import caregiver_views, retry, selectors
from portal.decorators import patient_required
from portal.forms import (
    ChangePasswordForm,
    NewPasswordForm,
    PasswordResetRequestForm,
    SignOutEverywhereForm,
    kept_errors,
    show_kept_errors,
)
from portal.language import remember_link_language
from portico.client import Client

RESET_THROTTLED = gettext_noop("Too many password reset requests. Please wait an hour and try again.")

# --- forgot your password -----------------------------------------------------------------------

class PasswordResetView(auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("portal:password-reset-done")

    def form_valid(self, form):
        try:
            form.request_reset(Client.from_request(self.request))
        except errors.TooManyAttempts:
            messages.error(self.request, _(RESET_THROTTLED))
            return redirect("portal:password-reset")
        return redirect(self.success_url)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's: the link's token moves into the session and the browser is sent on to a URL
    without it; the new password is saved through access.actions.change_password."""

    template_name = "portal/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("portal:password-reset-complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is None or hasattr(user, "staff"):
            return None  # never a staff login
        # The emailed link's pages in the account's language, as its email was (below the switch).
        if language := selectors.language_of_account(user):
            remember_link_language(self.request.session, language)
        return user

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "client": Client.from_request(self.request)}


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html")
password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="portal/password_reset_complete.html")


# --- the account page ---------------------------------------------------------------------------

@patient_required
@require_safe
@never_cache
def my_account(request):
    password_form = ChangePasswordForm(request.user, request=request)
    sessions_form = SignOutEverywhereForm(request=request)
    kept_invite = retry.take(request.session, caregiver_views.STEP)
    return render(request, "portal/my_account.html", {
        "connections": selectors.live_connections(request.user),
        "my_records": proxy_selectors.grants_on_my_records(request.user),
        "caregiver_form": show_kept_errors(caregiver_views.caregiver_form(request, typed=kept_invite.typed),
                                           kept_invite.errors),
        "caregiver_error": kept_invite.message,
        "password_form": show_kept_errors(password_form, retry.take(request.session, "change-password").errors),
        "sessions_form": show_kept_errors(sessions_form, retry.take(request.session, "sign-out-everywhere").errors),
    })


@patient_required
@require_POST
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def change_password(request):
    form = ChangePasswordForm(request.user, request.POST, request=request)
    if not form.is_valid():
        return _retry(request, "change-password", form)
    form.save()
    update_session_auth_hash(request, form.user)  # this session stays; every other one has ended
    messages.success(request, _("Your password has been changed. Anywhere else you were signed in, you are now "
                                "signed out."))
    return redirect("portal:my-account")


@patient_required
@require_POST
@sensitive_post_parameters("password")
def sign_out_everywhere(request):
    form = SignOutEverywhereForm(request.POST, request=request)
    if not form.is_valid():
        return _retry(request, "sign-out-everywhere", form)
    form.save()
    update_session_auth_hash(request, request.user)
    messages.success(request, _("You are signed out everywhere else. This browser is still signed in."))
    return redirect("portal:my-account")


def _retry(request, step: str, form):
    retry.keep(request.session, step, retry.Retry(errors=kept_errors(form)))
    return redirect(reverse("portal:my-account") + f"#{step}")
