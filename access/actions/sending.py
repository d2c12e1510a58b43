"""The send engine and the staff's buttons: invite one patient or many (the one-patient send is the
batch's case of one, through the same rules in access.rules), revoke, resend. Each is one transaction
with its history events and its outbox mail."""

import datetime
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from access import errors, history, rules, tokens
from access.actions import visit_access
from access.actions.expiry import expire_where
from access.actions.steps import (
    close_invitation,
    lock_patient,
    lock_patients,
    record_invitation_event,
    staff_actor,
)
from access.actions.texting import queue_invitation_texts
from access.history import Actor, record
from access.models import AccessEvent, Connection, Invitation
from access.selectors import invitation_facts, live_connection
from clinic.models import Patient, Practice, StaffMember
from mail import messages as mail
from portico.bulk import among, fetched, insert_rows, instances, relate
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    token: str  # only ever returned to the caller and sealed into the outbox; never stored in clear


@dataclass(frozen=True)
class InvitationOutcome:
    """What send_invitations did for one patient: sent, or refused (why: `refusal.code`, `.message`)."""

    patient_id: int
    sent: SentInvitation | None = None
    refusal: errors.InvitationError | None = None


def invite_ttl(practice: Practice) -> datetime.timedelta:
    """How long the practice's invitation links work (its setting; PORTICO_INVITE_TTL_DAYS for a new one)."""
    return datetime.timedelta(days=practice.invite_ttl_days)


@transaction.atomic(durable=True)
def send_invitation(patient: Patient, *, by: StaffMember | None, channel: str, client: Client = NO_CLIENT) -> SentInvitation:
    """Invite the patient: refused (raising the rule's error) unless eligible, nothing is pending or
    connected and fewer than MAX_INVITATIONS_PER_DAY were sent in the last 24 hours."""
    return _send_one(lock_patient(patient), by=by, channel=channel, client=client, reason="")


@transaction.atomic(durable=True)
def send_invitations(
    patients: list[Patient | int], *, by: StaffMember | None, channel: str, client: Client = NO_CLIENT,
    reason: str = "",
) -> list[InvitationOutcome]:
    """Invite many patients at once (ids or Patient objects), through the same rules as send_invitation,
    in one transaction: each is sent or refused, and a refusal does not stop the others. Returns one
    outcome per patient, in patient id order."""
    return send_many(lock_patients(patients), by=by, channel=channel, client=client, reason=reason)


INVITATION, ACCESS = "invitation", "access"  # what revoke_invitation revoked


@transaction.atomic(durable=True)
def revoke_invitation(
    patient: Patient, *, by: StaffMember, reason: str = "", client: Client = NO_CLIENT, only: str | None = None,
) -> str:
    """Kill the pending invitation's link at once (returns INVITATION), or end a connected patient's
    access (returns ACCESS). `only` (INVITATION or ACCESS) revokes just what staff confirmed: if the
    patient accepted between the question and the click, Revoke Invite must not end their access."""
    patient = lock_patient(patient)
    if only in (None, INVITATION) and _revoke_pending(patient, by=by, reason=reason, client=client):
        return INVITATION
    if only in (None, ACCESS) and _revoke_connection(patient, by=by, reason=reason, client=client):
        return ACCESS
    raise errors.NothingToRevoke(only)


@transaction.atomic(durable=True)
def resend_invitation(patient: Patient, *, by: StaffMember, channel: str, client: Client = NO_CLIENT) -> SentInvitation:
    """Revoke whatever invitation is pending and send a new one, both recorded, in one step. If the
    send is refused (not eligible, connected, too many today) the revoke is rolled back with it."""
    patient = lock_patient(patient)
    _revoke_pending(patient, by=by, reason="Resent", client=client)
    return _send_one(patient, by=by, channel=channel, client=client, reason="Resent")


def revoke_pending_after_email_change(patient: Patient, *, by: StaffMember | None, client: Client = NO_CLIENT) -> bool:
    """Called inside the transaction that changes a patient's email: the old address must not get access."""
    return _revoke_pending(patient, by=by, reason="Email address changed", client=client)


def _send_one(patient: Patient, *, by: StaffMember | None, channel: str, client: Client, reason: str) -> SentInvitation:
    """The one-patient case of send_many, raising the refusal (which rolls back the transaction)."""
    [outcome] = send_many([patient], by=by, channel=channel, client=client, reason=reason)
    if outcome.refusal is not None:
        raise outcome.refusal
    return outcome.sent


def send_many(
    patients: list[Patient], *, by: StaffMember | None, channel: str, client: Client, reason: str,
    reinvite_numbers: dict[int, int] | None = None, chain_now: bool = False, job_id: int | None = None,
) -> list[InvitationOutcome]:
    """Decide (access.rules) and send, for patients already locked: invitations, their history events
    and their outbox mail in three INSERTs. `reinvite_numbers` (patient id -> k) marks re-invites;
    `chain_now` chains the events at once (history.append: bulk jobs); `job_id` is the bulk job sending."""
    now = timezone.now()
    ids = [p.id for p in patients]
    expire_where(Q(patient__in=among(ids)), now)  # a lapsed invitation is no longer pending
    facts = invitation_facts(ids, now=now)
    refusals, chosen = {}, []
    for patient in patients:
        if (refusal := rules.refusal(facts[patient.id])) is None:
            chosen.append((patient, tokens.new_token()))
        else:
            refusals[patient.id] = refusal
    reinvite_numbers, sent_by_id, expiry = reinvite_numbers or {}, by.pk if by else None, {}
    # Made as a batch makes them (portico.bulk: thousands per bulk job), with their practice and
    # patient attached for the callers (the outbox rows, the pages).
    invitations = instances(Invitation, [
        {"practice_id": p.practice_id, "patient_id": p.id, "token_hash": tokens.hash_token(token),
         "email": p.email, "channel": channel, "sent_by_id": sent_by_id, "sent_at": now,
         "expires_at": expiry.get(p.practice_id) or expiry.setdefault(p.practice_id, now + invite_ttl(p.practice)),
         "reinvite_number": reinvite_numbers.get(p.id, 0), "job_id": job_id}
        for p, token in chosen
    ])
    relate(invitations, "practice", (p.practice for p, _ in chosen))
    relate(invitations, "patient", (p for p, _ in chosen))
    _insert_invitations(invitations)
    sent = []  # (invitation, token) for each invitation inserted
    for invitation, (patient, token) in zip(invitations, chosen, strict=True):
        if invitation.pk is None:  # another transaction won the race the unique constraint guards
            refusals[patient.id] = errors.AlreadyPending(invitation.expires_at, invitation.practice.tzinfo)
        else:
            sent.append((invitation, token))
    visit_access.access_changed([i.patient_id for i, _ in sent], now=now)
    mail.queue_invitations([(i, token) for i, token in sent if i.email])  # none: by text only
    queue_invitation_texts(sent, now=now)  # as Invite by says
    # The events last: with chain_now the practice's chain stays locked from here to the commit.
    actor = staff_actor(by)
    history.append(history.new_events([(i.practice_id, i.patient_id, i.pk) for i, _ in sent], Action.INVITATION_SENT,
                                      actor=actor, channel=channel, reason=reason, client=client, at=now),
                   chain_now=chain_now)
    if sent:
        log.info("%s invitation(s) sent via %s (first: invitation %s, patient %s)", len(sent), channel,
                 sent[0][0].pk, sent[0][0].patient_id)
    by_patient = {i.patient_id: SentInvitation(i, token) for i, token in sent}
    return [InvitationOutcome(pk, sent=by_patient.get(pk), refusal=refusals.get(pk)) for pk in ids]


def _insert_invitations(invitations: list[Invitation]) -> None:
    """Insert them all (one executemany), or, if the one-pending constraint refuses the batch (a
    patient invited meanwhile by a transaction that did not take our lock order), each in its own
    savepoint: the rest of the batch still goes. Those inserted get their ids; the others keep none."""
    try:
        with transaction.atomic():
            insert_rows(Invitation, invitations)
    except IntegrityError:
        pass
    else:
        # Found by their unique token hashes (an index lookup each; by patient and status, SQLite would
        # scan every pending invitation).
        ids = dict(fetched(Invitation.objects.filter(token_hash__in=among(i.token_hash for i in invitations))
                           .values_list("token_hash", "id")))
        for invitation in invitations:
            invitation.pk = ids[invitation.token_hash]
            invitation._state.adding = False
        return
    for invitation in invitations:
        try:
            with transaction.atomic():
                invitation.save(force_insert=True)
        except IntegrityError:
            invitation.pk = None


def _revoke_connection(patient: Patient, *, by: StaffMember, reason: str, client: Client) -> bool:
    connection = live_connection(patient)
    # Conditional, like every close: the patient may be disconnecting at this very moment.
    if connection is None or not Connection.objects.filter(pk=connection.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=Connection.EndReason.REVOKED
    ):
        return False
    visit_access.access_changed([patient.pk])
    record(patient.practice, Action.ACCESS_REVOKED, actor=Actor.staff(by), patient=patient,
           invitation=connection.invitation, reason=reason, client=client)
    mail.queue_access_revoked(connection)
    log.info("connection %s revoked for patient %s", connection.pk, patient.pk)
    return True


def _revoke_pending(patient: Patient, *, by: StaffMember | None, reason: str, client: Client) -> bool:
    expire_where(Q(patient=patient), timezone.now())
    invitation = _pending(patient)
    # If the patient accepted in the meantime, the close matches nothing and revoke moves on to
    # the connection, rather than overwriting "accepted".
    if invitation is None or not close_invitation(invitation, Invitation.Status.REVOKED):
        return False
    record_invitation_event(invitation, Action.INVITATION_REVOKED, actor=staff_actor(by), reason=reason, client=client)
    log.info("invitation %s revoked", invitation.pk)
    return True


def _pending(patient: Patient) -> Invitation | None:
    return patient.invitations.filter(status=Invitation.Status.PENDING).first()
