"""One function per kind of email. Each only writes an outbox row inside the caller's transaction;
mail.delivery sends it (a worker looks for due rows every second when idle).

Every email to a patient (or to whoever asked for access) names its language in `context["language"]`
(the patient's: the chart's, else the practice's), and what is put into words here (an expiry, a
duration) is worded in it; mail.compose renders the templates in it at delivery. A later kind of
message (a text) does the same: `translation.override(language)` around whatever words it."""

from collections.abc import Callable

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.formats import date_format
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import ngettext, override

from mail.models import Message
from portico.bulk import insert_dicts
from portico.crypto import seal
from portico.humantime import human_time


def queue_invitations(sent: list[tuple]) -> int:
    """For (invitation, token) pairs: the invitation email, its link built from PORTICO_BASE_URL (never
    a request's Host header), in one executemany, with what a batch shares (the practice's details,
    the expiry in words, the link's path) worked out once. Returns how many."""
    now, contexts, link = timezone.now(), {}, _landing_link()
    rows = []
    for invitation, token in sent:
        practice = invitation.practice
        language = _language_of(invitation)
        when = (practice.pk, invitation.expires_at, practice.time_zone, language)
        if when not in contexts:  # one context object per practice, expiry and language, shared by its rows
            with override(language):
                contexts[when] = {**_practice(practice), "expires": human_time(*when[1:3]), "language": language}
        key = f"invitation:{invitation.pk}"
        rows.append({"kind": Message.Kind.INVITATION, "invitation_id": invitation.pk, "to": invitation.email,
                     "dedupe_key": key, "context": contexts[when],
                     "secret_link": seal(Message, "secret_link", link(token), dedupe_key=key),
                     "next_attempt_at": now, "created_at": now})
    return insert_dicts(Message, rows)


def _landing_link() -> Callable[[str], str]:
    """token -> its invitation link. reverse() is slow for a batch of thousands, so the path is reversed
    once around a placeholder (a token's URL-safe characters need no quoting)."""
    before, after = (settings.PORTICO_BASE_URL + reverse("portal:landing", args=["TOKEN"])).split("TOKEN")
    return lambda token: f"{before}{token}{after}"


def queue_reminders(reminded: list[tuple]) -> list[Message]:
    """For (invitation, reissued token) pairs: the reminder before expiry, with the new link (the
    earlier one no longer works), in one INSERT."""
    now, link = timezone.now(), _landing_link()
    return Message.objects.bulk_create(
        Message(kind=Message.Kind.REMINDER, invitation_id=invitation.pk, to=invitation.email,
                dedupe_key=f"reminder:{invitation.pk}", secret_link=link(token), next_attempt_at=now, created_at=now,
                context={**_practice(invitation.practice), "language": _language_of(invitation),
                         "expires": _in(_language_of(invitation), human_time, invitation.expires_at,
                                        invitation.practice.time_zone)})
        for invitation, token in reminded
    )


DIGEST_LISTS_AT_MOST = 50


def queue_digests(digests: list[tuple]) -> list[Message]:
    """For (staff member, notifications) pairs: one daily digest each, listing the notifications
    (at most DIGEST_LISTS_AT_MOST, then how many more) with links to each patient's Portal Access."""
    now = timezone.now()
    return Message.objects.bulk_create(
        Message(kind=Message.Kind.DIGEST, to=member.user.email, dedupe_key=f"digest:{member.pk}:{now:%Y%m%d%H%M%S%f}",
                context={"practice": member.practice.name, "count": len(notifications),
                         "more": max(0, len(notifications) - DIGEST_LISTS_AT_MOST),
                         "notifications_url": _url("clinic:notifications"),
                         "items": [{"text": n.text, "url": _url("clinic:portal-access", n.patient_id) if n.patient_id else ""}
                                   for n in notifications[:DIGEST_LISTS_AT_MOST]]},
                next_attempt_at=now, created_at=now)
        for member, notifications in digests
    )


def queue_connected(invitation) -> Message:
    """Confirmation after acceptance, to the address on file, saying what to do if it wasn't them."""
    return _queue(
        Message.Kind.CONNECTED, invitation.email, f"connected:{invitation.pk}",
        {**_practice(invitation.practice), "portal_url": _url("portal:home"), "language": _language_of(invitation)},
    )


def queue_access_revoked(connection) -> Message:
    """The practice ended the patient's portal access: say so, and how to reach the practice."""
    return _queue(
        Message.Kind.ACCESS_REVOKED, connection.invitation.email, f"access-revoked:{connection.pk}",
        {**_practice(connection.practice), "portal_url": _url("portal:home"), "language": _language_of(connection)},
    )


def queue_password_reset(account, token: str, *, language: str = "en") -> Message:
    """A link to choose a new password, to the account's own address, in `language`. The link carries
    Django's password-reset token, so it is kept sealed like the invitation link and wiped once sent."""
    uid = urlsafe_base64_encode(force_bytes(account.pk))
    return _queue(
        Message.Kind.PASSWORD_RESET, account.email or account.get_username(),
        f"password-reset:{account.pk}:{timezone.now():%Y%m%d%H%M%S%f}",
        {"valid_for": _in(language, _duration, settings.PASSWORD_RESET_TIMEOUT),
         "reset_url": _url("portal:password-reset"), "language": language},
        secret_link=_url("portal:password-reset-confirm", uid, token),
    )


def queue_request_declined(access_request, reason: str) -> Message:
    """The practice declined a request for portal access: `reason` is the sentence of the reason staff
    chose, in the request's language (never anything from a chart: the address was typed by whoever
    asked, and may not be the patient's)."""
    return _queue(
        Message.Kind.REQUEST_DECLINED, access_request.email, f"request-declined:{access_request.pk}",
        {**_practice(access_request.practice), "reason": reason, "language": access_request.language},
    )


def queue_requests_lapsed(lapsed: list, *, days: int) -> list[Message]:
    """For access requests nobody answered in `days` days: one short email each, in one INSERT."""
    now = timezone.now()
    return Message.objects.bulk_create(
        Message(kind=Message.Kind.REQUEST_LAPSED, to=r.email, dedupe_key=f"request-lapsed:{r.pk}",
                context={**_practice(r.practice), "days": days, "language": r.language,
                         "request_url": _url("portal:request-access", r.practice_id)},
                next_attempt_at=now, created_at=now)
        for r in lapsed
    )


def queue_email_code(confirmation, code: str, practice, *, language: str = "en") -> Message:
    """A code proving the patient reads this address, asked for while creating a portal account, in
    `language` (the page's it was asked from). The code is a secret like a link's token: kept sealed in
    `secret_link` (shown as {{ link }}) and wiped once sent."""
    valid_for = int(confirmation.expires_at.timestamp() - confirmation.sent_at.timestamp())
    return _queue(
        Message.Kind.EMAIL_CODE, confirmation.email, f"email-code:{confirmation.pk}",
        {**_practice(practice), "valid_for": _in(language, _duration, valid_for), "language": language},
        secret_link=code,
    )


def queue_caregiver_invitation(invitation, token: str, *, language: str) -> Message:
    """A caregiver's invitation (access.ProxyInvitation), sent when a patient invites them: the link,
    whose person it is for, and that the code comes from that person, not from this email. The link is
    kept sealed like a patient's invitation link and wiped once sent."""
    proxy = invitation.proxy
    return _queue(
        Message.Kind.CAREGIVER_INVITATION, proxy.email, f"caregiver-invitation:{invitation.pk}",
        {**_practice(invitation.practice), "patient": proxy.patient.full_name, "language": language,
         "expires": _in(language, human_time, invitation.expires_at, invitation.practice.time_zone)},
        secret_link=_url("portal:proxy-landing", token),
    )


def queue_proxy_connected(proxy, *, language: str) -> Message:
    """A proxy accepted: confirmation to their address, naming whose portal, and what to do if it wasn't them."""
    return _queue(
        Message.Kind.PROXY_CONNECTED, proxy.email, f"proxy-connected:{proxy.pk}",
        {**_practice(proxy.practice), "patient": proxy.patient.full_name, "portal_url": _url("portal:home"),
         "language": language},
    )


def queue_proxy_revoked(proxy, *, language: str) -> Message:
    """Staff ended a proxy's active access: to the proxy's address, naming whose portal, in `language`
    (the proxy's account's, else the patient's). Once per grant: a revoked grant cannot be revoked again."""
    return _queue(Message.Kind.PROXY_REVOKED, proxy.email, f"proxy-revoked:{proxy.pk}", _proxy_context(proxy, language))


def queue_caregiver_accepted(proxy, to: str, *, language: str) -> Message:
    """The caregiver a patient invited has accepted: to the patient (`to`), naming the caregiver and
    what they can see, and how to end it, in `language`. Once per grant."""
    return _queue(
        Message.Kind.CAREGIVER_ACCEPTED, to, f"caregiver-accepted:{proxy.pk}",
        {**_practice(proxy.practice), "language": language, "caregiver": proxy.full_name,
         "limited": proxy.level == "limited", "account_url": _url("portal:my-account")},
    )


def _queue(kind: Message.Kind, to: str, dedupe_key: str, context: dict, *, secret_link: str = "") -> Message:
    now = timezone.now()
    message = Message.objects.create(
        kind=kind, to=to, dedupe_key=dedupe_key, context=context, secret_link=secret_link,
        next_attempt_at=now, created_at=now,
    )
    # The row itself is the work item: committed with the caller's change, it cannot be lost, and
    # the next worker round (mail.delivery.deliver_due) sends it.
    return message


def _url(name: str, *args) -> str:
    return settings.PORTICO_BASE_URL + reverse(name, args=args)


def _practice(practice) -> dict:
    """The practice's name and how patients reach it (its phone and sentence, from its settings)."""
    return {"practice": practice.name, "practice_phone": practice.phone_display,
            "practice_note": practice.patient_contact_note}


def _language_of(sent) -> str:
    """The language of a patient's email about an invitation or a connection (its patient and practice
    are already loaded): the chart's, else the practice's default."""
    return sent.patient.preferred_language or sent.practice.default_language


def _in(language: str, words: Callable, *args) -> str:
    """`words(*args)` worded in `language`."""
    with override(language):
        return words(*args)


def _duration(seconds: int) -> str:
    """3600 -> "1 hour", 7200 -> "2 hours", 1800 -> "30 minutes" (in the active language)."""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = seconds // 60
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


# --- parents and guardians (access.Proxy; issue 21) ----------------------------------------------------
# To the proxy's own address, in the language of the person acted for (their chart's, else the
# practice's), naming that person: the proxy must know whose record it is. No health information.

def queue_proxy_invitations(sent: list[tuple], *, reminder: bool = False) -> int:
    """For (proxy invitation, token) pairs, their proxy, patient and practice loaded: the link (or, with
    `reminder`, the reissued link of the reminder before expiry), built from PORTICO_BASE_URL."""
    now, link = timezone.now(), _proxy_link()
    kind = Message.Kind.PROXY_REMINDER if reminder else Message.Kind.PROXY_INVITATION
    rows = []
    for invitation, token in sent:
        proxy, key = invitation.proxy, f"{kind.value}:{invitation.pk}"
        language = _language_of(proxy)
        rows.append({"kind": kind, "to": proxy.email, "dedupe_key": key, "next_attempt_at": now, "created_at": now,
                     "context": {**_proxy_context(proxy, language),
                                 "expires": _in(language, human_time, invitation.expires_at,
                                                invitation.practice.time_zone)},
                     "secret_link": seal(Message, "secret_link", link(token), dedupe_key=key)})
    return insert_dicts(Message, rows)


def queue_proxy_ending(proxies: list, *, ends_on, languages: dict[int, str], ended: bool = False) -> int:
    """The notice before a guardian's access ends (`ends_on`: proxy pk -> the date), or with `ended`
    the email on the day it ended, for proxies with their patient and practice loaded, each in its
    `languages` (proxy pk -> code). One INSERT."""
    now = timezone.now()
    kind = Message.Kind.PROXY_ENDED if ended else Message.Kind.PROXY_ENDING
    rows = []
    for proxy in proxies:
        language = languages[proxy.pk]
        context = _proxy_context(proxy, language)
        if not ended:
            with override(language):
                context["ends_on"] = date_format(ends_on[proxy.pk], "DATE_FORMAT")
        rows.append({"kind": kind, "to": proxy.email, "dedupe_key": f"{kind.value}:{proxy.pk}", "context": context,
                     "secret_link": "", "next_attempt_at": now, "created_at": now})
    return insert_dicts(Message, rows)


def _proxy_link() -> Callable[[str], str]:
    before, after = (settings.PORTICO_BASE_URL + reverse("portal:proxy-landing", args=["TOKEN"])).split("TOKEN")
    return lambda token: f"{before}{token}{after}"


def _proxy_context(proxy, language: str) -> dict:
    return {**_practice(proxy.practice), "language": language, "name": proxy.full_name,
            "patient_name": proxy.patient.full_name, "age": proxy.practice.proxy_ends_at_age, "portal_url": _url("portal:home")}
