"""A proxy's side of proxy access (issue 21): following a ProxyInvitation's link, proving who they are
(a guardian: the child's date of birth and their own mobile phone as staff entered it; a caregiver: the
one-time code the patient passed on), accepting with a new or existing account exactly once, and
choosing whom to act for once signed in. Three wrong answers lock the link, as for a patient's.

Staff's side (inviting a guardian, resend, revoke, the birthday job) is access.actions.proxies. A
guardian's link must be hashed with tokens.PROXY_INVITATION for this module to find it."""

import datetime
import hmac
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from access import attempts, errors, rules, tokens
from access.actions.acceptance import MAX_IDENTITY_CHECKS, claim_identity_attempt, consume_verified_link
from access.actions.languages import account_language
from access.actions.proxies import proxy_language
from access.actions.steps import lock_patient, unusable_reason
from access.history import Actor, record
from access.models import AccessEvent, Channel, Connection, Proxy, ProxyInvitation
from clinic import validation
from clinic.models import Notification, Patient, StaffMember
from mail import messages as mail
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action
# A proxy's account acts in the history as a portal user whose role says through whom.
PROXY_ROLE = "proxy"


@dataclass(frozen=True)
class ProxyAnswers:
    """A guardian's answers (the child's date of birth, their own mobile phone) or a caregiver's code."""

    date_of_birth: datetime.date | None = None
    phone: str = ""
    code: str = ""


@dataclass(frozen=True)
class VerifiedProxy:
    invitation: ProxyInvitation
    proof: str  # the caller keeps it (in the session) and presents it to accept_proxy_invitation


def proxy_actor(account: AbstractBaseUser | None) -> Actor:
    return Actor(AccessEvent.ActorKind.PATIENT, account, PROXY_ROLE)


def guardian_access_ended(patient: Patient, now: datetime.datetime) -> bool:
    """The patient has reached the practice's age at which a guardian's access ends, on the practice's
    date (a 29 February birthday falls on 1 March in other years: rules.age_on)."""
    practice = patient.practice
    if patient.date_of_birth is None:
        return False
    today = timezone.localdate(now, timezone=practice.tzinfo)
    return rules.age_on(today, patient.date_of_birth) >= practice.proxy_ends_at_age


def proxy_invitation_for_token(token: str) -> ProxyInvitation:
    """The usable proxy invitation behind a link, or LinkNotUsable saying why not. Records nothing."""
    invitation = find_proxy_invitation(token)
    if reason := unusable_reason(invitation, timezone.now()):
        raise errors.LinkNotUsable(reason)
    return invitation


def verify_proxy_identity(token: str, answers: ProxyAnswers, *, client: Client = NO_CLIENT) -> VerifiedProxy:
    """Check the answers. A wrong one counts; the third locks the link. A client address with too many
    recent failures is refused before anything is checked. On success, a one-time proof."""
    attempt = claim_identity_attempt(client)
    with transaction.atomic(durable=True):
        invitation = lock_proxy_invitation_for_token(token)
        now = timezone.now()
        if reason := unusable_reason(invitation, now):
            failure = _refuse_link(invitation, reason, now, client)
        elif answers_match(invitation, answers):
            proof = tokens.new_token()
            ProxyInvitation.objects.filter(pk=invitation.pk).update(
                identity_verified_at=now, identity_proof_hash=tokens.hash_token(proof, tokens.PROXY_IDENTITY_PROOF))
            _record(invitation.proxy, Action.IDENTITY_PASSED, actor=proxy_actor(None), client=client)
            attempts.passed(attempt)  # a right answer no longer counts against the client
            return VerifiedProxy(invitation, proof)
        else:
            failure = _count_failed_check(invitation, client)
    raise failure  # after commit: the failed count and the lock must persist


def accept_proxy_invitation(
    token: str, *, proof: str, account: AbstractBaseUser | None = None, password: str | None = None,
    client: Client = NO_CLIENT,
) -> Proxy:
    """Make the grant active for `account` (signed in with the invited address) or a new account made
    with `password`. `proof` is what verify_proxy_identity gave whoever passed the check, in the last 30
    minutes. One conditional UPDATE consumes the link, so two submissions accept exactly once; a
    guardian's link is refused once the patient has reached the practice's ending age."""
    with transaction.atomic(durable=True):
        invitation = lock_proxy_invitation_for_token(token)
        proxy, now = invitation.proxy, timezone.now()
        if proxy.kind == Proxy.Kind.GUARDIAN and guardian_access_ended(proxy.patient, now):
            raise errors.ProxyAgeEnded()  # nothing written yet: the rollback changes nothing
        if consume_verified_link(invitation, tokens.hash_token(proof, tokens.PROXY_IDENTITY_PROOF), now):
            return _grant(proxy, account=account, password=password, client=client, now=now)
        invitation.refresh_from_db()
        if reason := unusable_reason(invitation, now):
            failure = _refuse_link(invitation, reason, now, client)
        else:
            failure = errors.IdentityNotConfirmed(MAX_IDENTITY_CHECKS - invitation.failed_checks)
    raise failure


@transaction.atomic(durable=True)
def sign_in_for(proxy: Proxy, *, client: Client = NO_CLIENT) -> bool:
    """The proxy's account chose to act for `proxy.patient` (once per choice, not per page): recorded
    for the patient's practice. False, and nothing recorded, if the grant is no longer active."""
    if not Proxy.objects.filter(pk=proxy.pk, status=Proxy.Status.ACTIVE, account_id=proxy.account_id).exists():
        return False
    _record(proxy, Action.PROXY_SIGNED_IN, actor=proxy_actor(proxy.account), client=client)
    return True


# --- steps ------------------------------------------------------------------------------------------

def lock_proxy_invitation_for_token(token: str) -> ProxyInvitation:
    """The invitation behind a link, re-read after locking its patient and then itself (the lock order)."""
    lock_patient(find_proxy_invitation(token).proxy.patient)
    return find_proxy_invitation(token, lock=True)


def find_proxy_invitation(token: str, *, lock: bool = False) -> ProxyInvitation:
    if not tokens.looks_like_token(token):
        raise errors.LinkNotUsable("unknown")
    invitations = ProxyInvitation.objects.select_related("practice", "proxy__patient__practice", "proxy__invited_by")
    if lock:
        invitations = invitations.select_for_update(of=("self",), no_key=True)
    try:
        return invitations.get(token_hash=tokens.hash_token(token, tokens.PROXY_INVITATION))
    except ProxyInvitation.DoesNotExist:
        raise errors.LinkNotUsable("unknown") from None


def answers_match(invitation: ProxyInvitation, answers: ProxyAnswers) -> bool:
    """Constant-time comparisons; malformed answers simply do not match. A caregiver answers with the
    code, a guardian with the child's date of birth and their own mobile phone, never the other way."""
    proxy = invitation.proxy
    if proxy.kind == Proxy.Kind.CAREGIVER:
        code = tokens.normalize_code(answers.code)
        if not (invitation.code_hash and tokens.looks_like_activation_code(code)):
            return False
        # Under SECRET_KEY or a fallback: a code shown before the key was rotated still works.
        return any([hmac.compare_digest(hashed, invitation.code_hash)
                    for hashed in tokens.code_hashes(code, tokens.CAREGIVER_CODE)])
    if not (answers.date_of_birth and answers.phone and proxy.mobile_phone and proxy.patient.date_of_birth):
        return False
    try:
        given_phone = validation.normalize_phone(answers.phone)
    except Exception:
        return False
    return hmac.compare_digest(given_phone, proxy.mobile_phone) & (answers.date_of_birth == proxy.patient.date_of_birth)


def _count_failed_check(invitation: ProxyInvitation, client: Client) -> errors.Refusal:
    ProxyInvitation.objects.filter(pk=invitation.pk).update(failed_checks=F("failed_checks") + 1)
    invitation.refresh_from_db()
    proxy = invitation.proxy
    _record(proxy, Action.IDENTITY_FAILED, actor=proxy_actor(None), outcome=AccessEvent.Outcome.FAILURE, client=client)
    if invitation.failed_checks < MAX_IDENTITY_CHECKS:
        return errors.IdentityNotConfirmed(MAX_IDENTITY_CHECKS - invitation.failed_checks)
    if _close(invitation, ProxyInvitation.Status.LOCKED):
        _record(proxy, Action.INVITATION_LOCKED, actor=Actor.system(), client=client,
                reason=f"{MAX_IDENTITY_CHECKS} failed identity checks")
        _tell_staff(proxy, f"{proxy.full_name}'s proxy invitation for {proxy.patient.full_name} locked after "
                           f"{MAX_IDENTITY_CHECKS} failed identity checks.")
    return errors.LinkNotUsable("locked")


def _refuse_link(invitation: ProxyInvitation, reason: str, now: datetime.datetime, client: Client) -> errors.LinkNotUsable:
    """Someone tried a dead link: an expired one is closed as such; either way it is recorded."""
    if reason == "expired":
        _close(invitation, ProxyInvitation.Status.EXPIRED)
    _record(invitation.proxy, Action.LINK_REFUSED, actor=proxy_actor(None), outcome=AccessEvent.Outcome.FAILURE,
            reason=f"The proxy link was {reason}", client=client)
    return errors.LinkNotUsable(reason)


def _close(invitation: ProxyInvitation, status: str) -> bool:
    closed = ProxyInvitation.objects.filter(pk=invitation.pk, status=ProxyInvitation.Status.PENDING).update(
        status=status, closed_at=timezone.now())
    if closed:
        invitation.status = status
    return bool(closed)


def _grant(proxy: Proxy, *, account, password, client: Client, now: datetime.datetime) -> Proxy:
    if account is None:
        account = _create_account(proxy, password, client)
    elif (not validation.same_email(account.get_username(), proxy.email)
          or StaffMember.objects.filter(user=account).exists()
          or Connection.objects.filter(patient=proxy.patient, account=account, ended_at__isnull=True).exists()):
        raise errors.WrongAccount()  # rolls the consumption back; never staff, never the patient themselves
    if not Proxy.objects.filter(pk=proxy.pk, status=Proxy.Status.INVITED).update(
            status=Proxy.Status.ACTIVE, account=account, accepted_at=now):
        raise errors.LinkNotUsable("revoked")  # staff revoked the grant itself meanwhile
    proxy.refresh_from_db()
    _record(proxy, Action.PROXY_ACCEPTED, actor=proxy_actor(account), client=client)
    mail.queue_proxy_connected(proxy, language=proxy_language(proxy))
    if proxy.kind == Proxy.Kind.CAREGIVER:
        _tell_patient_caregiver_accepted(proxy)
    log.info("proxy %s accepted by account %s", proxy.pk, account.pk)
    return proxy


def _create_account(proxy: Proxy, password: str | None, client: Client) -> AbstractBaseUser:
    User = get_user_model()
    if User.objects.filter(username__iexact=proxy.email).exists():
        raise errors.AccountExists()
    account = User.objects.create_user(username=proxy.email, email=proxy.email, password=password,
                                       first_name=proxy.first_name, last_name=proxy.last_name)
    _record(proxy, Action.ACCOUNT_CREATED, actor=proxy_actor(account), client=client)
    return account


def _tell_patient_caregiver_accepted(proxy: Proxy) -> None:
    """The adult who invited a caregiver learns that they accepted, at the address they use the portal
    with (their live connection's account at this practice, else the chart's), in its language. The
    caregiver was invited from that connection; if none is left and the chart has no address, nobody."""
    patient = proxy.patient
    connection = (Connection.objects.filter(patient=patient, ended_at__isnull=True).select_related("account")
                  .order_by("-connected_at").first())
    account = connection.account if connection is not None else None
    to = (account.email or account.get_username()) if account is not None else patient.email
    if to:
        language = (account_language(account) if account is not None else "") or patient.language
        mail.queue_caregiver_accepted(proxy, to, language=language)


def _tell_staff(proxy: Proxy, text: str) -> None:
    """The bell of whoever invited a guardian and of the patient's doctor (a caregiver's: the doctor's)."""
    recipients = {m for m in (proxy.invited_by_id, proxy.patient.doctor_id) if m is not None}
    Notification.objects.bulk_create(Notification(recipient_id=m, patient=proxy.patient, text=text,
                                                  created_at=timezone.now()) for m in sorted(recipients))


def _record(proxy: Proxy, action: str, *, actor: Actor, **kwargs) -> AccessEvent:
    return record(proxy.practice, action, actor=actor, patient=proxy.patient, proxy=proxy, channel=Channel.PORTAL,
                  **kwargs)

