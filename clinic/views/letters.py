"""The printed invitation: Print invitation on Portal Access and in the appointment window issues it
(access.actions.printing) and answers with the one-page letter itself. The letter is the POST's own
response and is never stored: its code cannot be shown again, only reissued by printing again."""

import segno
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from access.actions import printing
from access.errors import InvitationError
from clinic.models import Patient
from clinic.views.common import client_of, local_time
from portico.humantime import human_time


def print_letter(request, patient: Patient, *, back: str):
    """Issue a printed invitation and show its letter; a refusal goes back to `back` with its reason."""
    try:
        printed = printing.print_invitation(patient, by=request.staff, client=client_of(request))
    except InvitationError as e:
        messages.error(request, e.message)
        return redirect(back)
    link = settings.PORTICO_BASE_URL + reverse("portal:landing", args=[printed.token])
    practice = patient.practice
    language = patient.language  # the letter is the patient's: the chart's language, else the practice's
    with translation.override(language):
        qr, expires = qr_svg(link), _letter_time(printed.invitation.expires_at, practice, language)
    response = render(request, "clinic/invitation_letter.html", {
        "patient": patient, "practice": practice, "code": printed.code, "qr": qr, "letter_language": language,
        "activate_url": settings.PORTICO_BASE_URL + reverse("activate"), "expires": expires, "back": back,
    })
    add_never_cache_headers(response)  # the code must not be kept by a cache (no-store)
    return response


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
