"""The steps every action is made of: the lock order, closing an invitation, recording an event about
it. Imported by the other action modules, never by callers outside access.actions."""

import datetime

from django.utils import timezone

from access.actions import visit_access
from access.history import Actor, record
from access.models import AccessEvent, Invitation, ProxyInvitation
from clinic.models import Patient, Practice, StaffMember
from portico.bulk import among, loaded, relate

# Lock order, everywhere: the patient rows (by id), then the invitation. Staff actions and the
# patient's steps on one patient thus queue up on the patient row instead of each holding the lock
# the other waits for (a deadlock on PostgreSQL). The locks are FOR NO KEY UPDATE: rows that merely
# point at a locked row (events, connections, notifications) can still be inserted meanwhile, as they
# only need a key-share lock on it. History takes no lock in the writer's transaction: the practice
# row is locked only by the sealer, after commit (access.history). The expiry sweep locks lapsed
# invitations alone (no patient), so it cannot close a cycle either.


def lock_patient(patient: Patient) -> Patient:
    """Re-read the patient under a row lock so concurrent actions on one patient queue up."""
    return Patient.objects.select_for_update(of=("self",), no_key=True).select_related("practice", "doctor").get(
        pk=patient.pk)


def lock_patients(patients: list[Patient | int]) -> list[Patient]:
    """lock_patient for many patients: one SELECT ... FOR NO KEY UPDATE, in id order (two batches over
    overlapping patients then queue up rather than deadlock). Only what the writes need is read (the
    rules read their facts themselves): no SSN is decrypted."""
    ids = sorted({getattr(p, "pk", p) for p in patients})
    locked = loaded(Patient, Patient.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=among(ids))
                    .order_by("pk").values("id", "practice_id", "email", "preferred_language"))  # the mail's language
    # One Practice object per practice, attached to its patients (select_related would make one per patient).
    practices = Practice.objects.in_bulk({p.practice_id for p in locked})
    relate(locked, "practice", (practices[p.practice_id] for p in locked))
    return locked


def close_invitation(invitation: Invitation, status: str, *, was: str = Invitation.Status.PENDING) -> bool:
    """`was` (pending) -> `status`, only if it still is (one conditional UPDATE); True if it was."""
    now = timezone.now()
    closed = Invitation.objects.filter(pk=invitation.pk, status=was).update(status=status, closed_at=now)
    if closed:
        invitation.status, invitation.closed_at = status, now
        visit_access.access_changed([invitation.patient_id], now=now)
    return bool(closed)


def unusable_reason(invitation: Invitation | ProxyInvitation, now: datetime.datetime) -> str:
    """Why a patient's or a proxy's link can no longer be used, "" if it can (the two have the same states)."""
    if invitation.status == invitation.Status.PENDING:
        return "expired" if invitation.expires_at <= now else ""
    return {
        invitation.Status.ACCEPTED: "used",
        invitation.Status.REVOKED: "revoked",
        invitation.Status.EXPIRED: "expired",
        invitation.Status.LOCKED: "locked",
    }[invitation.status]


def record_invitation_event(invitation: Invitation, action: str, *, actor: Actor, **kwargs) -> AccessEvent:
    return record(invitation.practice, action, actor=actor, patient=invitation.patient, invitation=invitation,
                  channel=kwargs.pop("channel", invitation.channel), **kwargs)


def staff_actor(member: StaffMember | None) -> Actor:
    return Actor.staff(member) if member is not None else Actor.system()
