"""A patient confirming an email address before their portal account exists: for an invitation that
reached them without one (printed at the front desk; any channel whose invitation has no address).
After the identity check they give an address; a 6-digit code is emailed to it; typing the code back
proves they read that mailbox, and accept_invitation then makes the account with it (and records it
on the invitation, so the "connected" email goes there, and on the chart if it has no address:
acceptance._use_confirmed_email).

Every step needs the identity proof of the invitation being accepted, so only whoever passed its
identity check can ask for codes. Codes are kept as keyed hashes (access.tokens.hash_code), work for
CODE_VALID_FOR, and die after MAX_CODE_CHECKS wrong tries; sending is limited per address and per
client address like password resets, so the page cannot be used to flood someone's inbox."""

import datetime
import hmac
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from access import attempts, errors, tokens
from access.actions.acceptance import IDENTITY_CHECK_VALID_FOR, find_invitation
from access.actions.steps import record_invitation_event, unusable_reason
from access.history import Actor
from access.models import AccessEvent, Attempt, EmailConfirmation, Invitation
from mail import messages as mail
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")

CODE_VALID_FOR = datetime.timedelta(minutes=15)
MAX_CODE_CHECKS = 5
SEND_WINDOW = datetime.timedelta(hours=1)
SENDS_PER_ADDRESS = 3
SENDS_PER_CLIENT = 20


def send_email_code(token: str, *, proof: str, email: str, language: str = "en",
                    client: Client = NO_CLIENT) -> EmailConfirmation:
    """Email a confirmation code to `email` for the invitation behind `token` (a link's or a printed
    code), whose identity check `proof` passed, in `language` (the page's the patient asked it from).
    Counted per address and client address first."""
    try:
        attempts.claim_for_address(Attempt.Kind.EMAIL_CODE, email, client.ip, window=SEND_WINDOW,
                                   per_address=SENDS_PER_ADDRESS, per_client=SENDS_PER_CLIENT)
    except attempts.OverLimit:
        raise errors.TooManyAttempts() from None
    code = tokens.new_email_code()
    with transaction.atomic(durable=True):
        invitation = _proven_invitation(token, proof)
        now = timezone.now()
        confirmation = EmailConfirmation.objects.create(
            invitation=invitation, email=email, code_hash=tokens.hash_code(code, tokens.EMAIL_CODE), sent_at=now,
            expires_at=now + CODE_VALID_FOR)
        mail.queue_email_code(confirmation, code, invitation.practice, language=language)
    log.info("email confirmation %s sent for invitation %s", confirmation.pk, invitation.pk)
    return confirmation


def confirm_email_code(token: str, *, proof: str, confirmation_id: int, code: str,
                       client: Client = NO_CLIENT) -> EmailConfirmation:
    """Check the code typed for a confirmation of this invitation. Right: it is confirmed (recorded).
    Wrong: counted; the MAX_CODE_CHECKS-th, or an expired code, needs a new one (EmailNotConfirmed(0))."""
    with transaction.atomic(durable=True):
        invitation = _proven_invitation(token, proof)
        confirmation = (EmailConfirmation.objects.select_for_update()
                        .filter(pk=confirmation_id, invitation=invitation, confirmed_at__isnull=True).first())
        now = timezone.now()
        if confirmation is None or confirmation.expires_at <= now or confirmation.failed_checks >= MAX_CODE_CHECKS:
            raise errors.EmailNotConfirmed(0)
        given = tokens.code_hashes("".join(code.split()), tokens.EMAIL_CODE)
        if any([hmac.compare_digest(hashed, confirmation.code_hash) for hashed in given]):
            confirmation.confirmed_at = now
            confirmation.save(update_fields=["confirmed_at"])
            record_invitation_event(invitation, AccessEvent.Action.EMAIL_CONFIRMED, actor=Actor.patient(None),
                                    client=client)
            return confirmation
        EmailConfirmation.objects.filter(pk=confirmation.pk).update(failed_checks=F("failed_checks") + 1)
        failure = errors.EmailNotConfirmed(MAX_CODE_CHECKS - confirmation.failed_checks - 1)
    raise failure  # after commit: the wrong try stays counted


def _proven_invitation(token: str, proof: str) -> Invitation:
    """The usable invitation whose identity check `proof` passed in the last IDENTITY_CHECK_VALID_FOR."""
    invitation = find_invitation(token)
    now = timezone.now()
    if reason := unusable_reason(invitation, now):
        raise errors.LinkNotUsable(reason)
    verified = invitation.identity_verified_at is not None and invitation.identity_verified_at > now - IDENTITY_CHECK_VALID_FOR
    if not (verified and proof and hmac.compare_digest(
            tokens.hash_token(proof, tokens.IDENTITY_PROOF), invitation.identity_proof_hash)):
        raise errors.IdentityNotConfirmed(0)
    return invitation
