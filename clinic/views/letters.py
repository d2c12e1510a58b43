"""The printed invitation: Print invitation on Portal Access and in the appointment window issues it
(access.actions.printing, a POST) and redirects to the letter (a GET), so reloading the letter or coming
back to it never issues another code (POST-redirect-GET).

The code and the link are secrets shown once: the POST keeps them in the session sealed with the field
keys (portico.crypto), as the portal keeps a caregiver's code, only until the GET that shows them takes
them out. Only their hashes are stored, so a reload cannot show the code again: it says so, and offers
Print again, which issues a new code (the earlier letter's stops working)."""

import segno
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from access.actions import printing
from access.errors import InvitationError
from access.models import Invitation
from access.selectors import current_invitation
from clinic.models import Patient
from clinic.views.common import client_of, local_time
from portico import crypto
from portico.humantime import human_time

# The letters printed in this browser and not yet shown: {patient id: {"invitation": pk, "token", "code"}},
# the secrets sealed. One per patient: printing again for the same patient replaces it.
KEPT_LETTERS = "clinic:printed_letters"


def print_letter(request, patient: Patient, *, letter: str, back: str):
    """Issue a printed invitation and go to its `letter` page; a refusal goes back to `back` with its reason."""
    try:
        printed = printing.print_invitation(patient, by=request.staff, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
        return redirect(back)
    kept = request.session.get(KEPT_LETTERS, {})
    kept[str(patient.pk)] = {"invitation": printed.invitation.pk, "token": crypto.encrypt(printed.token),
                             "code": crypto.encrypt(printed.code)}
    request.session[KEPT_LETTERS] = kept
    return redirect(letter)


def show_letter(request, patient: Patient, *, print_action: str, back: str):
    """The letter just printed, once; afterwards (a reload, Back, the address typed again) a page saying
    the code cannot be shown again, with Print again."""
    secrets = _take_kept(request, patient)
    if secrets is None:
        response = render(request, "clinic/letter_shown_once.html", {
            "patient": patient, "print_action": print_action, "back": back})
    else:
        response = _letter(request, patient, *secrets, back=back)
    add_never_cache_headers(response)  # the code must not be kept by a cache (no-store), nor the page offered back
    return response


def _take_kept(request, patient: Patient) -> tuple[Invitation, str, str] | None:
    """(invitation, token, code) kept for this patient by the print just done, taken out of the session;
    None if there is none, or the invitation is no longer the patient's usable one (replaced, revoked,
    expired meanwhile: its code would not work)."""
    kept = request.session.get(KEPT_LETTERS, {})
    entry = kept.pop(str(patient.pk), None)
    if entry is None:
        return None
    request.session[KEPT_LETTERS] = kept
    invitation = current_invitation(patient)
    if (invitation is None or invitation.pk != entry["invitation"] or invitation.status != Invitation.Status.PENDING
            or invitation.expires_at <= timezone.now()):
        return None
    try:
        return invitation, crypto.decrypt(entry["token"]), crypto.decrypt(entry["code"])
    except ValueError:  # sealed with a field key since retired
        return None


def _letter(request, patient: Patient, invitation: Invitation, token: str, code: str, *, back: str):
    link = settings.PORTICO_BASE_URL + reverse("portal:landing", args=[token])
    practice = patient.practice
    language = patient.language  # the letter is the patient's: the chart's language, else the practice's
    with translation.override(language):
        qr, expires = qr_svg(link), _letter_time(invitation.expires_at, practice, language)
    return render(request, "clinic/invitation_letter.html", {
        "patient": patient, "practice": practice, "code": code, "qr": qr, "letter_language": language,
        "activate_url": settings.PORTICO_BASE_URL + reverse("activate"), "expires": expires, "back": back,
    })


def _letter_time(moment, practice, language: str) -> str:
    """When the letter's code stops working, in the letter's language: as a patient reads a time in
    another language (portico.humantime, as the emails say it); English keeps the letter's own short form."""
    if language == "en":
        return local_time(moment, practice)
    return human_time(moment, practice.time_zone)


def qr_svg(link: str) -> str:
    """The link as a QR code, inline SVG (no image request, no script), labelled for screen readers
    in the active language."""
    title = gettext("QR code of your invitation link")
    svg = segno.make(link, error="m").svg_inline(scale=4, title=title, svgclass="qr")
    # Safe: the SVG holds only segno's own markup, our own title (a catalog entry) and the code as path geometry (the
    # link's text is not in it).
    return mark_safe(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S308
