"""Caregivers of adults (issue 21), the patient's side: a connected adult patient invites a caregiver
from My account and may revoke them, or a parent's or guardian's grant on them, at any time.

A caregiver proves who they are with a one-time code the patient sees on screen once and passes on
(handing it over is the consent). Only its keyed hash is kept (tokens.CAREGIVER_CODE); it and the
emailed link work for CODE_VALID_FOR. Staff cannot create a caregiver: only this module does."""

import datetime
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from access import errors, tokens
from access.actions.steps import lock_patient
from access.history import Actor, record
from access.models import AccessEvent, Channel, Connection, Proxy, ProxyInvitation
from access.proxy_selectors import is_adult
from mail import messages as mail
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action

CODE_VALID_FOR = datetime.timedelta(days=7)
# Caregiver invitations one patient may send in 24 hours (as staff may send a patient 5 invitations a day).
MAX_INVITATIONS_A_DAY = 5


@dataclass(frozen=True)
class InvitedCaregiver:
    proxy: Proxy
    code: str  # shown to the patient once (ABCDE-FGHJK), never stored


@dataclass(frozen=True)
class Caregiver:
    """Who the patient invites (the form's cleaned fields)."""

    first_name: str
    last_name: str
    email: str
    relationship: str
    level: str


def invite_caregiver(connection: Connection, caregiver: Caregiver, *, client: Client = NO_CLIENT) -> InvitedCaregiver:
    """The patient of `connection` (one of the signed-in account's live connections) invites a caregiver:
    a Proxy and its ProxyInvitation (link and code, valid CODE_VALID_FOR), history, and the email with
    the link (not the code). Refused for a patient under the practice's adult age, or when the address
    already has a live grant for this patient, or after MAX_INVITATIONS_A_DAY in 24 hours."""
    with transaction.atomic(durable=True):
        patient = lock_patient(connection.patient)
        _check_live(connection)
        practice = patient.practice
        if not is_adult(patient):
            raise errors.NotAnAdult()
        if Proxy.objects.filter(patient=patient, email__iexact=caregiver.email,
                                status__in=[Proxy.Status.INVITED, Proxy.Status.ACTIVE]).exists():
            raise errors.ProxyAlreadyInvited()
        now, token, code = timezone.now(), tokens.new_token(), tokens.new_activation_code()
        if Proxy.objects.filter(patient=patient, kind=Proxy.Kind.CAREGIVER,
                                created_at__gt=now - datetime.timedelta(hours=24)).count() >= MAX_INVITATIONS_A_DAY:
            raise errors.TooManyCaregiverInvitations(MAX_INVITATIONS_A_DAY)
        try:
            with transaction.atomic():  # a savepoint: a grant made at the same moment is a refusal, not a 500
                proxy = Proxy.objects.create(
                    practice=practice, patient=patient, kind=Proxy.Kind.CAREGIVER, first_name=caregiver.first_name,
                    last_name=caregiver.last_name, relationship=caregiver.relationship, email=caregiver.email,
                    level=caregiver.level, status=Proxy.Status.INVITED, created_at=now)
        except IntegrityError:
            raise errors.ProxyAlreadyInvited() from None
        invitation = ProxyInvitation.objects.create(
            proxy=proxy, practice=practice, token_hash=tokens.hash_token(token, tokens.PROXY_INVITATION),
            code_hash=tokens.hash_code(code, tokens.CAREGIVER_CODE), sent_at=now, expires_at=now + CODE_VALID_FOR)
        _record(connection, proxy, Action.PROXY_INVITED, client)
        mail.queue_caregiver_invitation(invitation, token, language=patient.language)
    log.info("caregiver proxy %s invited by the patient (connection %s)", proxy.pk, connection.pk)
    return InvitedCaregiver(proxy, tokens.format_activation_code(code))


@transaction.atomic(durable=True)
def revoke_proxy_by_patient(connection: Connection, proxy: Proxy, *, client: Client = NO_CLIENT) -> None:
    """The patient of `connection` ends a caregiver's or guardian's grant on them (invited or active),
    and its pending link with it. The proxy's next request no longer shows the patient."""
    lock_patient(connection.patient)
    _check_live(connection)
    now = timezone.now()
    ended = Proxy.objects.filter(pk=proxy.pk, patient_id=connection.patient_id,
                                 status__in=[Proxy.Status.INVITED, Proxy.Status.ACTIVE]).update(
        status=Proxy.Status.REVOKED, ended_at=now, end_reason=Proxy.EndReason.REVOKED_BY_PATIENT)
    if not ended:
        raise errors.NoSuchProxy()
    ProxyInvitation.objects.filter(proxy=proxy, status=ProxyInvitation.Status.PENDING).update(
        status=ProxyInvitation.Status.REVOKED, closed_at=now)
    _record(connection, proxy, Action.PROXY_REVOKED, client, reason=Proxy.EndReason.REVOKED_BY_PATIENT.label)
    log.info("proxy %s revoked by the patient (connection %s)", proxy.pk, connection.pk)


def _check_live(connection: Connection) -> None:
    if not Connection.objects.filter(pk=connection.pk, ended_at__isnull=True).exists():
        raise errors.NoSuchProxy()  # the patient's own access ended meanwhile


def _record(connection: Connection, proxy: Proxy, action: str, client: Client, **kwargs) -> AccessEvent:
    """An event the patient caused about a grant on them (the actor is the patient's own account)."""
    return record(connection.practice, action, actor=Actor.patient(connection.account), patient=connection.patient,
                  proxy=proxy, channel=Channel.PORTAL, client=client, **kwargs)

