"""The patient's side of an invitation: following the link, proving who they are (three wrong answers
lock it), connecting an account exactly once, and later disconnecting."""

import datetime
import hmac
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from access import attempts, errors, tokens
from access.actions import visit_access
from access.actions.expiry import expire_where
from access.actions.notifications import notify_staff
from access.actions.steps import (
    close_invitation,
    lock_patient,
    record_invitation_event,
    unusable_reason,
)
from access.history import Actor, record
from access.models import AccessEvent, Attempt, Channel, Connection, EmailConfirmation, Invitation, ProxyInvitation
from clinic import validation
from clinic.models import Patient, StaffMember
from mail import messages as mail
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action


MAX_IDENTITY_CHECKS = 3


# Failed identity checks from one client address, across all invitations, before it must wait.
MAX_FAILURES_PER_CLIENT = 10


CLIENT_FAILURE_WINDOW = datetime.timedelta(minutes=15)


# After a passed identity check the patient has this long to create or sign in to an account.
IDENTITY_CHECK_VALID_FOR = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class VerifiedIdentity:
    invitation: Invitation
    proof: str  # the caller keeps it (e.g. in the session) and presents it to accept_invitation


@dataclass(frozen=True)
class IdentityAnswers:
    ssn: str = ""
    date_of_birth: datetime.date | None = None
    phone: str = ""


def invitation_for_token(token: str) -> Invitation:
    """The usable invitation behind a link, or LinkNotUsable saying why not. Records nothing."""
    invitation = find_invitation(token)
    reason = unusable_reason(invitation, timezone.now())
    if reason:
        raise errors.LinkNotUsable(reason)
    return invitation


def verify_identity(token: str, answers: IdentityAnswers, *, client: Client = NO_CLIENT) -> VerifiedIdentity:
    """Check the answers against the record. A wrong answer counts; the third locks the invitation.
    A client address with too many recent failures is refused before anything is checked.
    On success the caller gets a one-time proof: holding the link alone is not enough to accept."""
    attempt = claim_identity_attempt(client)
    with transaction.atomic(durable=True):
        invitation = lock_invitation_for_token(token)
        now = timezone.now()
        if reason := unusable_reason(invitation, now):
            failure = _refuse_link(invitation, reason, now, client)
        elif answers_match(invitation.patient, answers):
            proof = tokens.new_token()
            invitation.identity_verified_at = now
            invitation.identity_proof_hash = tokens.hash_token(proof, tokens.IDENTITY_PROOF)
            invitation.save(update_fields=["identity_verified_at", "identity_proof_hash"])
            record_invitation_event(invitation, Action.IDENTITY_PASSED, actor=Actor.patient(None), client=client)
            attempts.passed(attempt)
            return VerifiedIdentity(invitation, proof)
        else:
            failure = count_failed_check(invitation, client)
    raise failure  # raised after commit: the failed count, lock and expiry must persist


def accept_invitation(
    token: str, *, proof: str, account: AbstractBaseUser | None = None, password: str | None = None,
    confirmed_email: int | None = None, client: Client = NO_CLIENT,
) -> Connection:
    """Connect the patient: to `account` (signed in) or to a new account made with `password`.
    `proof` is what verify_identity returned to whoever passed the check, in the last 30 minutes.
    An invitation without an address (printed) needs `confirmed_email`, the EmailConfirmation the
    patient confirmed (access.actions.email_confirmation). The token is consumed by one conditional
    UPDATE, so two submissions connect exactly once."""
    with transaction.atomic(durable=True):
        invitation = lock_invitation_for_token(token)
        now = timezone.now()
        if consume_verified_link(invitation, tokens.hash_token(proof, tokens.IDENTITY_PROOF), now):
            invitation.refresh_from_db()
            if not invitation.email:  # raising here rolls the consumption back with it
                _use_confirmed_email(invitation, confirmed_email, now)
            return _connect(invitation, account=account, password=password, client=client, now=now)
        invitation.refresh_from_db()
        if reason := unusable_reason(invitation, now):
            failure = _refuse_link(invitation, reason, now, client)
        else:
            failure = errors.IdentityNotConfirmed(MAX_IDENTITY_CHECKS - invitation.failed_checks)
    raise failure


@transaction.atomic(durable=True)
def disconnect_practice(connection: Connection, *, client: Client = NO_CLIENT) -> None:
    """The patient ends their own connection to one practice."""
    lock_patient(connection.patient)
    ended = Connection.objects.filter(pk=connection.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=Connection.EndReason.DISCONNECTED
    )
    if ended:
        visit_access.access_changed([connection.patient_id])
        record(connection.practice, Action.ACCESS_DISCONNECTED, actor=Actor.patient(connection.account),
               patient=connection.patient, invitation=connection.invitation, channel=Channel.PORTAL, client=client)
        notify_staff(connection.invitation, gettext_noop("{name} disconnected from the portal."))
        log.info("connection %s disconnected by patient", connection.pk)


def lock_invitation_for_token(token: str) -> Invitation:
    """The invitation behind a link, re-read after locking its patient and then itself (the one order)."""
    lock_patient(find_invitation(token).patient)
    return find_invitation(token, lock=True)


def find_invitation(token: str, *, lock: bool = False) -> Invitation:
    """The invitation behind a link's token or a printed activation code (access.tokens.invitation_lookup)."""
    if (lookup := tokens.invitation_lookup(token)) is None:
        raise errors.LinkNotUsable("unknown")
    invitations = Invitation.objects.select_related("practice", "patient", "sent_by", "patient__doctor")
    if lock:
        invitations = invitations.select_for_update(of=("self",), no_key=True)
    try:
        return invitations.get(**lookup)
    except Invitation.DoesNotExist:
        raise errors.LinkNotUsable("unknown") from None


def _refuse_link(invitation: Invitation, reason: str, now: datetime.datetime, client: Client) -> errors.LinkNotUsable:
    """Someone tried to use a dead link (used, revoked, expired, locked): record it for the practice."""
    if reason == "expired" and expire_where(Q(pk=invitation.pk), now):
        invitation.refresh_from_db()
    record_invitation_event(invitation, Action.LINK_REFUSED, actor=Actor.patient(None), outcome=AccessEvent.Outcome.FAILURE,
            reason=f"The link was {reason}", client=client)
    return errors.LinkNotUsable(reason)


def answers_match(patient: Patient, answers: IdentityAnswers) -> bool:
    """Constant-time comparison against what is on file. Malformed answers simply do not match."""
    if answers.ssn:
        try:
            given = validation.normalize_ssn(answers.ssn)
        except Exception:
            return False
        return bool(patient.ssn) and hmac.compare_digest(given, patient.ssn)
    if answers.date_of_birth and answers.phone:
        try:
            given_phone = validation.normalize_phone(answers.phone)
        except Exception:
            return False
        if not (patient.date_of_birth and patient.phone):
            return False
        phone_ok = hmac.compare_digest(given_phone, patient.phone)
        return phone_ok & (answers.date_of_birth == patient.date_of_birth)
    return False


def consume_verified_link(invitation: Invitation | ProxyInvitation, proof_hash: str, now: datetime.datetime) -> bool:
    """Accept a patient's or a proxy's link (the two have the same columns) if it is pending, unexpired
    and its identity check was passed in the last IDENTITY_CHECK_VALID_FOR by whoever holds the proof
    hashed as `proof_hash`: one conditional UPDATE, so two submissions consume it exactly once."""
    Status = type(invitation).Status
    return type(invitation).objects.filter(
        pk=invitation.pk, status=Status.PENDING, expires_at__gt=now,
        identity_verified_at__gt=now - IDENTITY_CHECK_VALID_FOR, identity_proof_hash=proof_hash,
    ).update(status=Status.ACCEPTED, closed_at=now) == 1


def claim_identity_attempt(client: Client) -> Attempt | None:
    """Count this check against the client's address before anything is checked (access.attempts)."""
    if not client.ip:
        return None
    try:
        return attempts.claim(Attempt.Kind.IDENTITY, window=CLIENT_FAILURE_WINDOW,
                              limits={"client_ip": (client.ip, MAX_FAILURES_PER_CLIENT)})
    except attempts.OverLimit:
        raise errors.TooManyAttempts() from None


def count_failed_check(invitation: Invitation, client: Client, *, channel: str = "") -> errors.Refusal:
    """A wrong answer to the identity check (accepting, or renewing an expired invitation: `channel`
    renewal): counted on the invitation; the MAX_IDENTITY_CHECKS-th locks it, and staff are told."""
    Invitation.objects.filter(pk=invitation.pk).update(failed_checks=F("failed_checks") + 1)
    invitation.refresh_from_db()
    record_invitation_event(invitation, Action.IDENTITY_FAILED, actor=Actor.patient(None),
                            outcome=AccessEvent.Outcome.FAILURE, client=client, channel=channel or invitation.channel)
    log.info("identity check failed for invitation %s (%s of %s)", invitation.pk, invitation.failed_checks,
             MAX_IDENTITY_CHECKS)
    if invitation.failed_checks >= MAX_IDENTITY_CHECKS:
        close_invitation(invitation, Invitation.Status.LOCKED, was=invitation.status)
        record_invitation_event(invitation, Action.INVITATION_LOCKED, actor=Actor.system(),
                                reason=f"{MAX_IDENTITY_CHECKS} failed identity checks", client=client)
        notify_staff(invitation, gettext_noop("{name}'s portal invitation locked after {count} failed identity checks."),
                     count=MAX_IDENTITY_CHECKS)
        return errors.LinkNotUsable("locked")
    return errors.IdentityNotConfirmed(MAX_IDENTITY_CHECKS - invitation.failed_checks)


def _use_confirmed_email(invitation: Invitation, confirmation_id: int | None, now: datetime.datetime) -> str:
    """Inside accept_invitation's transaction, for an invitation without an address: the confirmed
    address it is accepted with, marked used (once) and kept on the invitation, and on the chart if it
    has none. EmailNotConfirmed otherwise."""
    confirmation = EmailConfirmation.objects.filter(
        pk=confirmation_id, invitation=invitation, confirmed_at__gt=now - IDENTITY_CHECK_VALID_FOR,
        used_at__isnull=True).first() if confirmation_id else None
    if confirmation is None or not EmailConfirmation.objects.filter(pk=confirmation.pk, used_at__isnull=True).update(
            used_at=now):
        raise errors.EmailNotConfirmed(0)
    Invitation.objects.filter(pk=invitation.pk).update(email=confirmation.email)
    invitation.email = confirmation.email
    # The chart had no address either (why the invitation had none): the patient has just proved they
    # read this one, so the practice can write to them there too. Never over an address staff typed.
    if Patient.objects.filter(pk=invitation.patient_id, email="").update(email=confirmation.email):
        visit_access.patient_changed(invitation.patient)
    return confirmation.email


def _connect(
    invitation: Invitation, *, account: AbstractBaseUser | None, password: str | None, client: Client,
    now: datetime.datetime,
) -> Connection:
    if account is None:
        account = _create_account(invitation, password, client)
    elif not validation.same_email(account.email, invitation.email) or StaffMember.objects.filter(user=account).exists():
        raise errors.WrongAccount()  # staff logins are never patient accounts
    connection = Connection.objects.create(
        practice=invitation.practice, patient=invitation.patient, account=account, invitation=invitation,
        connected_at=now,
    )
    visit_access.access_changed([invitation.patient_id], now=now)
    record_invitation_event(invitation, Action.ACCESS_GRANTED, actor=Actor.patient(account), client=client)
    notify_staff(invitation, gettext_noop("{name} accepted the portal invitation."))
    mail.queue_connected(invitation)
    log.info("invitation %s accepted; connection %s", invitation.pk, connection.pk)
    return connection


def _create_account(invitation: Invitation, password: str | None, client: Client) -> AbstractBaseUser:
    User = get_user_model()
    if User.objects.filter(username__iexact=invitation.email).exists():
        raise errors.AccountExists()
    patient = invitation.patient
    account = User.objects.create_user(
        username=invitation.email, email=invitation.email, password=password,
        first_name=patient.first_name, last_name=patient.last_name,
    )
    record_invitation_event(invitation, Action.ACCOUNT_CREATED, actor=Actor.patient(account), client=client)
    return account
