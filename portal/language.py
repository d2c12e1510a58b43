"""Which language a patient page is in, and the language switch on every one of them.

Only the patient's pages (/portal/, and /activate/ where a printed code is typed) are translated:
staff pages stay in English whatever the browser asks (Django's LocaleMiddleware would translate
them too, with half-translated results).
For a patient page the first of these that applies wins:

1. the account's own choice (signed in, and it used the switch: access.actions.languages);
2. this browser's choice (the switch's cookie, settings.LANGUAGE_COOKIE_NAME);
3. the emailed link (or printed code) this browser opened: an invitation's patient's language (the
   chart's, else the practice's), a password reset's account's;
4. the browser's Accept-Language, when it names a language Portico has;
5. the default language of the practice the page is about (the request page, `?practice=`);
6. settings.LANGUAGE_CODE.
"""

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation.trans_real import parse_accept_lang_header  # Django's own parser, not public
from django.views.decorators.http import require_POST

from access.actions.languages import account_language, choose_account_language
from portal import selectors
from portico.languages import codes

LINK_LANGUAGE = "portal:language"  # session: the language of the emailed link this browser opened


class PatientLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = (reverse("portal:home"), reverse("activate"))

    def __call__(self, request):
        if not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        language = choose(request)
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response


def choose(request) -> str:
    """The language of this patient page (the module's docstring gives the order)."""
    user = request.user
    signed_in_patient = user.is_authenticated and not hasattr(user, "staff")
    for candidate in (
        account_language(user) if signed_in_patient else "",
        request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
        request.session.get(LINK_LANGUAGE, ""),
        _from_accept_language(request.headers.get("Accept-Language", "")),
        _practice_default(request),
    ):
        if candidate in codes():
            return candidate
    return translation.get_supported_language_variant(settings.LANGUAGE_CODE)


def remember_link_language(session, language: str) -> None:
    """An emailed link (an invitation, a password reset) was just opened: its pages follow its
    email's language (below a choice made with the switch)."""
    session[LINK_LANGUAGE] = language


def _from_accept_language(header: str) -> str:
    for code, _quality in parse_accept_lang_header(header[:500]):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return ""


def _practice_default(request) -> str:
    """The default language of the practice a page without an invitation is about, if any."""
    try:
        practice_id = resolve(request.path_info).kwargs.get("practice_id") or request.GET.get("practice")
    except Resolver404:
        return ""
    digits = str(practice_id or "")
    practice = selectors.practice(int(digits)) if digits.isdigit() and len(digits) < 16 else None
    return practice.default_language if practice else ""


@require_POST
def switch(request):
    """The language switch (a plain form: no script needed): for this browser, and once signed in
    for the account. Back to the page it was pressed on, so nothing in progress is lost."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("portal:home")
    response = HttpResponseRedirect(next_url)
    if language not in codes():
        return response
    if request.user.is_authenticated and not hasattr(request.user, "staff"):
        choose_account_language(request.user, language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE, path="/",
        secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
