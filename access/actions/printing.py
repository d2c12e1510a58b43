"""Printed invitations, handed over at the front desk: staff print a one-page letter with a QR code of
the link and a short activation code, and the patient types the code at /activate/ (or scans the
link). It is an ordinary invitation (channel print): one live invitation per patient, the practice's
lifetime, the same identity check, lock and throttles, and the same accept. Printing needs no email
on file: the patient gives and confirms one when creating the account (email_confirmation).

The code is shown once, on the page printed; only its keyed hash is kept (access.tokens.hash_code).
Printing again replaces whatever is pending, so the earlier code and link stop working at once."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from access import attempts, errors, rules, tokens
from access.actions.acceptance import claim_identity_attempt, find_invitation
from access.actions.expiry import expire_where
from access.actions.sending import invite_ttl
from access.actions.steps import close_invitation, lock_patient, record_invitation_event, unusable_reason
from access.history import Actor
from access.models import AccessEvent, Channel, Invitation
from access.selectors import invitation_facts
from clinic.models import Patient, StaffMember
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action
REPLACED_REASON = "Replaced by a printed invitation"


@dataclass(frozen=True)
class PrintedInvitation:
    """Only ever returned to the page that prints it: neither secret is stored in clear anywhere."""

    invitation: Invitation
    token: str  # the link's, for the QR code
    code: str  # the activation code, as printed (ABCDE-FGHJK)


@transaction.atomic(durable=True)
def print_invitation(patient: Patient, *, by: StaffMember, client: Client = NO_CLIENT) -> PrintedInvitation:
    """Issue an invitation to hand over on paper. Refused (rules.print_refusal) unless the identity
    check can be answered and the patient is old enough, not connected and under the daily cap; a
    pending invitation (emailed or printed) is revoked first, recorded, so its link and code die."""
    patient = lock_patient(patient)
    now = timezone.now()
    expire_where(Q(patient=patient), now)  # a lapsed invitation is no longer pending
    if refusal := rules.print_refusal(invitation_facts([patient.pk], now=now)[patient.pk]):
        raise refusal
    _revoke_pending(patient, by=by, client=client)
    token, code = tokens.new_token(), tokens.new_activation_code()
    invitation = Invitation.objects.create(
        practice=patient.practice, patient=patient, token_hash=tokens.hash_token(token),
        code_hash=tokens.hash_code(code, tokens.ACTIVATION_CODE), email=patient.email, channel=Channel.PRINT,
        sent_by=by, sent_at=now, expires_at=now + invite_ttl(patient.practice),
    )
    record_invitation_event(invitation, Action.INVITATION_PRINTED, actor=Actor.staff(by), client=client)
    log.info("invitation %s printed for patient %s", invitation.pk, patient.pk)
    return PrintedInvitation(invitation, token, tokens.format_activation_code(code))


def invitation_for_code(typed: str, *, client: Client = NO_CLIENT) -> tuple[Invitation, str]:
    """The usable invitation behind a typed activation code, and the code as stored (the secret the
    accept steps carry, like a link's token). Each try is counted against the client's address with the
    identity checks (counted before it is checked); a code that matches no invitation keeps counting,
    so guessing codes runs into the same limit as guessing answers. A code that matches a dead
    invitation is LinkNotUsable with its reason, recorded like a dead link."""
    attempt = claim_identity_attempt(client)
    code = tokens.normalize_code(typed)
    try:
        invitation = find_invitation(code)
    except errors.LinkNotUsable:
        raise errors.CodeNotRecognised() from None
    attempts.passed(attempt)
    if reason := unusable_reason(invitation, timezone.now()):
        _record_dead_code(invitation, reason, client)
        raise errors.LinkNotUsable(reason)
    return invitation, code


def _revoke_pending(patient: Patient, *, by: StaffMember, client: Client) -> None:
    pending = patient.invitations.filter(status=Invitation.Status.PENDING).first()
    if pending is not None and close_invitation(pending, Invitation.Status.REVOKED):
        record_invitation_event(pending, Action.INVITATION_REVOKED, actor=Actor.staff(by), reason=REPLACED_REASON,
                                client=client)


@transaction.atomic(durable=True)
def _record_dead_code(invitation: Invitation, reason: str, client: Client) -> None:
    record_invitation_event(invitation, Action.LINK_REFUSED, actor=Actor.patient(None),
                            outcome=AccessEvent.Outcome.FAILURE, reason=f"The activation code was {reason}",
                            client=client)
