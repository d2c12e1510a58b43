"""A patient renewing an expired invitation from its dead link: the same identity check as at
acceptance (the same per-address throttle; the third wrong answer locks the invitation), then a new
invitation through the ordinary send path (channel renewal), to the email on file and never to one
typed by the visitor. The practice decides whether, and for how long after expiry (renewal_days)."""

import datetime
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from access import attempts, errors
from access.actions import sending
from access.actions.acceptance import (
    IdentityAnswers,
    answers_match,
    claim_identity_attempt,
    count_failed_check,
    find_invitation,
    lock_invitation_for_token,
)
from access.actions.expiry import expire_where
from access.actions.notifications import notify_staff
from access.actions.steps import lock_patients, record_invitation_event, unusable_reason
from access.history import Actor
from access.models import AccessEvent, Channel, Invitation
from access.selectors import live_connection
from access.text_selectors import textable_without_email
from clinic import validation
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action
RENEWAL_REASON = "Renewed by the patient"


def renewable_invitation(token: str) -> Invitation:
    """The expired invitation behind a link, if its patient may renew it now; otherwise LinkNotUsable
    (a link that is not expired: the page says why as before) or CannotRenew. Records nothing."""
    invitation = find_invitation(token)
    _check_renewable(invitation, timezone.now())
    return invitation


def renew_invitation(token: str, answers: IdentityAnswers, *, client: Client = NO_CLIENT) -> sending.SentInvitation:
    """Check the answers as verify_identity does; if they match, send a new invitation to the email on
    file (sending's rules: eligible, nothing pending, not connected, the daily cap), record the renewal
    on the old one and tell staff. The old link stays dead. Raises the refusal otherwise."""
    attempt = claim_identity_attempt(client)
    try:
        with transaction.atomic(durable=True):
            invitation = lock_invitation_for_token(token)  # the patient's row first: two renewals queue up
            now = timezone.now()
            if expire_where(Q(pk=invitation.pk), now):  # lapsed but not yet swept
                invitation.refresh_from_db()
            _check_renewable(invitation, now)
            if answers_match(invitation.patient, answers):
                sent, failure = _renew(invitation, client), None
            else:
                sent, failure = None, count_failed_check(invitation, client, channel=Channel.RENEWAL)
    except errors.Refusal:
        attempts.passed(attempt)  # not renewable, or the send refused: no wrong answer to count
        raise
    if failure is not None:
        raise failure  # after commit: a failed count and a lock persist
    attempts.passed(attempt)
    return sent


def _check_renewable(invitation: Invitation, now: datetime.datetime) -> None:
    if (reason := unusable_reason(invitation, now)) != "expired":
        raise errors.LinkNotUsable(reason or "unknown")  # pending, used, revoked or locked: not for renewal
    days = invitation.practice.renewal_days
    if days is None:
        raise errors.CannotRenew("off")
    if now > invitation.expires_at + datetime.timedelta(days=days):
        raise errors.CannotRenew("too_late")
    patient = invitation.patient
    if live_connection(patient) is not None:
        raise errors.CannotRenew("connected")
    if patient.invitations.filter(sent_at__gt=invitation.sent_at).exists():
        raise errors.CannotRenew("newer")
    if not invitation.email and not _textable_without_email(patient):
        raise errors.CannotRenew("no_email")  # a printed invitation: there is no address to send a new link to
    if not validation.same_email(patient.email, invitation.email):
        raise errors.CannotRenew("email_changed")
    if not (patient.ssn_last4 or (patient.date_of_birth and patient.phone)):
        raise errors.CannotRenew("no_details")  # no identity check could be answered


def by_text(invitation: Invitation) -> bool:
    """Whether a renewable invitation's new link goes by text: it went to no email, and (checked by
    _check_renewable) the patient still has none and the practice texts such patients with consent."""
    return not invitation.email


def _textable_without_email(patient) -> bool:
    """The practice's Invite by texts this patient, who has no email, at a mobile number with consent:
    a renewal follows the setting as the first invitation did (the link goes by text)."""
    return not patient.email and patient.pk in textable_without_email([patient.pk])


def _renew(invitation: Invitation, client: Client) -> sending.SentInvitation:
    patient = invitation.patient
    [outcome] = sending.send_many(lock_patients([patient.pk]), by=None, channel=Channel.RENEWAL, client=client,
                                  reason=RENEWAL_REASON)
    if outcome.refusal is not None:
        raise outcome.refusal  # rolls back with it: nothing recorded, the old invitation untouched
    record_invitation_event(invitation, Action.IDENTITY_PASSED, actor=Actor.patient(None), client=client,
                            channel=Channel.RENEWAL)
    record_invitation_event(invitation, Action.INVITATION_RENEWED, actor=Actor.patient(None), client=client,
                            channel=Channel.RENEWAL, reason=f"New invitation {outcome.sent.invitation.pk}")
    notify_staff(invitation, gettext_noop("{name} renewed their expired portal invitation; a new link was emailed to "
                                          "the address on file."))
    log.info("invitation %s renewed by the patient as invitation %s", invitation.pk, outcome.sent.invitation.pk)
    return outcome.sent
