"""Every change to a patient's portal access. One function per button; each is one transaction that
also writes its history event and, where mail goes out, its outbox row. Callers (pages, commands,
tasks) only scope, parse, call one of these and show the result."""

import datetime
import hashlib
import hmac
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from access import attempts, errors, history, rules, tokens
from access.history import NO_CLIENT, Actor, Client, record
from access.models import AccessEvent, Attempt, Channel, Connection, Invitation, InvitationJob, InvitationJobPatient
from access.selectors import invitation_facts
from access.sql import update_each
from clinic import validation
from clinic.models import Notification, Patient, StaffMember
from mail import messages as mail

log = logging.getLogger("portico.access")
Action = AccessEvent.Action

MAX_IDENTITY_CHECKS = 3
# Failed identity checks from one client address, across all invitations, before it must wait.
MAX_FAILURES_PER_CLIENT = 10
CLIENT_FAILURE_WINDOW = datetime.timedelta(minutes=15)
# After a passed identity check the patient has this long to create or sign in to an account.
IDENTITY_CHECK_VALID_FOR = datetime.timedelta(minutes=30)
# Password-reset emails one address, and requests one client address, may ask for in RESET_WINDOW.
MAX_RESETS_PER_ADDRESS = 3
MAX_RESETS_PER_CLIENT = 20
RESET_WINDOW = datetime.timedelta(hours=1)


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


@dataclass(frozen=True)
class VerifiedIdentity:
    invitation: Invitation
    proof: str  # the caller keeps it (e.g. in the session) and presents it to accept_invitation


@dataclass(frozen=True)
class IdentityAnswers:
    ssn: str = ""
    date_of_birth: datetime.date | None = None
    phone: str = ""


def invite_ttl() -> datetime.timedelta:
    return datetime.timedelta(days=settings.PORTICO_INVITE_TTL_DAYS)


# --- staff actions --------------------------------------------------------------------------

@transaction.atomic(durable=True)
def send_invitation(patient: Patient, *, by: StaffMember | None, channel: str, client: Client = NO_CLIENT) -> SentInvitation:
    """Invite the patient: refused (raising the rule's error) unless eligible, nothing is pending or
    connected and fewer than MAX_INVITATIONS_PER_DAY were sent in the last 24 hours."""
    return _send_one(_lock(patient), by=by, channel=channel, client=client, reason="")


@transaction.atomic(durable=True)
def send_invitations(
    patients: list[Patient | int], *, by: StaffMember | None, channel: str, client: Client = NO_CLIENT,
    reason: str = "",
) -> list[InvitationOutcome]:
    """Invite many patients at once (ids or Patient objects), through the same rules as send_invitation,
    in one transaction: each is sent or refused, and a refusal does not stop the others. Returns one
    outcome per patient, in patient id order."""
    return _send_many(_lock_many(patients), by=by, channel=channel, client=client, reason=reason)


INVITATION, ACCESS = "invitation", "access"  # what revoke_invitation revoked


@transaction.atomic(durable=True)
def revoke_invitation(patient: Patient, *, by: StaffMember, reason: str = "", client: Client = NO_CLIENT) -> str:
    """Kill the pending invitation's link at once (returns INVITATION), or end a connected patient's
    access (returns ACCESS)."""
    patient = _lock(patient)
    if _revoke_pending(patient, by=by, reason=reason, client=client):
        return INVITATION
    if _revoke_connection(patient, by=by, reason=reason, client=client):
        return ACCESS
    raise errors.NothingToRevoke()


@transaction.atomic(durable=True)
def resend_invitation(patient: Patient, *, by: StaffMember, channel: str, client: Client = NO_CLIENT) -> SentInvitation:
    """Revoke whatever invitation is pending and send a new one, both recorded, in one step. If the
    send is refused (not eligible, connected, too many today) the revoke is rolled back with it."""
    patient = _lock(patient)
    _revoke_pending(patient, by=by, reason="Resent", client=client)
    return _send_one(patient, by=by, channel=channel, client=client, reason="Resent")


def revoke_pending_after_email_change(patient: Patient, *, by: StaffMember | None, client: Client = NO_CLIENT) -> bool:
    """Called inside the transaction that changes a patient's email: the old address must not get access."""
    return _revoke_pending(patient, by=by, reason="Email address changed", client=client)


EXPIRE_BATCH = 5000


def expire_invitations(*, batch: int = EXPIRE_BATCH) -> int:
    """Mark every lapsed pending invitation expired and record it; returns how many. Token use checks
    expiry itself, to the second: this only keeps the history and the status column honest. Set-wise,
    `batch` invitations per transaction, touching only the lapsed rows (and adding their events)."""
    count = 0
    while expired := _expire_batch(batch):
        count += expired
    return count


@transaction.atomic(durable=True)
def _expire_batch(batch: int) -> int:
    now = timezone.now()
    lapsed = Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__lte=now).order_by("id")
    return _expire_where(Q(pk__in=list(lapsed.values_list("pk", flat=True)[:batch])), now)


# --- bulk invitation jobs ---------------------------------------------------------------------

# Patients sent per transaction: the lock, the rules' facts and the writes stay short, and a killed
# worker loses at most one uncommitted chunk (it is simply done again: its outcomes were not recorded).
JOB_CHUNK = 500
# A running job whose chunks have not moved for this long lost its worker (killed): run_periodic resumes it.
JOB_STALLED_AFTER = datetime.timedelta(minutes=2)


@transaction.atomic(durable=True)
def start_invitation_job(
    practice, patients: QuerySet[Patient], *, by: StaffMember | None, selection: str, enqueue: bool = True,
) -> InvitationJob:
    """Snapshot the selected patients of the practice (others are ignored) as a job, and queue the
    task that sends it (access.tasks; `enqueue=False` to run it in-process with run_invitation_job)."""
    now = timezone.now()
    ids = patients.filter(practice=practice).order_by("pk").values_list("pk", flat=True).distinct()
    job = InvitationJob.objects.create(practice=practice, started_by=by, created_at=now, selection=selection[:200],
                                       heartbeat_at=now)
    rows = InvitationJobPatient.objects.bulk_create(
        (InvitationJobPatient(job=job, patient_id=pk) for pk in ids.iterator(chunk_size=5000)), batch_size=5000)
    InvitationJob.objects.filter(pk=job.pk).update(total=len(rows))
    job.total = len(rows)
    if enqueue:
        _enqueue(job)
    log.info("invitation job %s started for %s patient(s) by %s", job.pk, job.total, by.pk if by else "system")
    return job


def run_invitation_job(job_id: int, *, chunk: int = JOB_CHUNK, progress=None) -> InvitationJob:
    """Send the job's patients not yet processed, one chunk per transaction, then mark it done. Safe to
    run again, or twice at once: a chunk takes only unprocessed rows and records their outcomes in the
    transaction that sends them. `progress(done, total)` is called after each chunk."""
    while processed := _run_job_chunk(job_id, chunk):
        if progress is not None:
            progress(processed, InvitationJob.objects.values_list("total", flat=True).get(pk=job_id))
    InvitationJob.objects.filter(pk=job_id, status=InvitationJob.Status.RUNNING).update(
        status=InvitationJob.Status.DONE, finished_at=timezone.now())
    return InvitationJob.objects.get(pk=job_id)


def resume_stalled_jobs() -> int:
    """Queue again every running job whose worker stopped (no chunk for JOB_STALLED_AFTER); returns how many."""
    resumed = 0
    stalled = InvitationJob.objects.filter(status=InvitationJob.Status.RUNNING,
                                           heartbeat_at__lt=timezone.now() - JOB_STALLED_AFTER)
    for job in stalled.order_by("id"):
        with transaction.atomic(durable=True):
            # Conditional: two periodic runners must not both queue it (a double run would still double nobody).
            if InvitationJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(heartbeat_at=timezone.now()):
                _enqueue(job)
                resumed += 1
                log.warning("invitation job %s stalled since %s; queued again", job.pk, job.heartbeat_at.isoformat())
    return resumed


@transaction.atomic(durable=True)
def _run_job_chunk(job_id: int, size: int) -> int:
    """One chunk: returns how many of the job's patients are processed after it (0: none was left)."""
    job = InvitationJob.objects.select_related("started_by__user").get(pk=job_id)
    # A second runner of the same job skips the rows this one holds and takes the next chunk.
    rows = list(job.rows.filter(outcome="").select_for_update(skip_locked=True).order_by("id")[:size])
    if not rows:
        return 0
    outcomes = {o.patient_id: o for o in _send_many(_lock_many([r.patient_id for r in rows]), by=job.started_by,
                                                     channel=Channel.BULK, client=NO_CLIENT,
                                                     reason=f"Bulk invitation {job.pk}")}
    Outcome = InvitationJobPatient.Outcome
    update_each(InvitationJobPatient, ["outcome", "reason", "reason_text", "invitation"], [
        (Outcome.INVITED, "", "", o.sent.invitation.pk, row.pk) if o.sent else
        (Outcome.SKIPPED, o.refusal.code, rules.skip_label(o.refusal), None, row.pk)
        for row in rows for o in [outcomes[row.patient_id]]
    ], only_if={"outcome": ""})
    invited = sum(1 for o in outcomes.values() if o.sent)
    InvitationJob.objects.filter(pk=job_id).update(
        invited=F("invited") + invited, skipped=F("skipped") + len(rows) - invited, heartbeat_at=timezone.now())
    return job.invited + job.skipped + len(rows)


def _enqueue(job: InvitationJob) -> None:
    from access.tasks import run_invitation_job as task  # the task module calls these actions

    task.enqueue(job.pk)


# --- patient actions ------------------------------------------------------------------------

def invitation_for_token(token: str) -> Invitation:
    """The usable invitation behind a link, or LinkNotUsable saying why not. Records nothing."""
    invitation = _find(token)
    reason = _unusable_reason(invitation, timezone.now())
    if reason:
        raise errors.LinkNotUsable(reason)
    return invitation


def verify_identity(token: str, answers: IdentityAnswers, *, client: Client = NO_CLIENT) -> VerifiedIdentity:
    """Check the answers against the record. A wrong answer counts; the third locks the invitation.
    A client address with too many recent failures is refused before anything is checked.
    On success the caller gets a one-time proof: holding the link alone is not enough to accept."""
    attempt = _claim_identity_attempt(client)
    with transaction.atomic(durable=True):
        invitation = _lock_for_patient(token)
        now = timezone.now()
        if reason := _unusable_reason(invitation, now):
            failure = _refuse_link(invitation, reason, now, client)
        elif _answers_match(invitation.patient, answers):
            proof = tokens.new_token()
            invitation.identity_verified_at = now
            invitation.identity_proof_hash = tokens.hash_token(proof, tokens.IDENTITY_PROOF)
            invitation.save(update_fields=["identity_verified_at", "identity_proof_hash"])
            _record(invitation, Action.IDENTITY_PASSED, actor=Actor.patient(None), client=client)
            attempts.passed(attempt)
            return VerifiedIdentity(invitation, proof)
        else:
            failure = _count_failed_check(invitation, client)
    raise failure  # raised after commit: the failed count, lock and expiry must persist


def accept_invitation(
    token: str, *, proof: str, account: AbstractBaseUser | None = None, password: str | None = None,
    client: Client = NO_CLIENT,
) -> Connection:
    """Connect the patient: to `account` (signed in) or to a new account made with `password`.
    `proof` is what verify_identity returned to whoever passed the check, in the last 30 minutes.
    The token is consumed by one conditional UPDATE, so two submissions connect exactly once."""
    with transaction.atomic(durable=True):
        invitation = _lock_for_patient(token)
        now = timezone.now()
        consumed = Invitation.objects.filter(
            pk=invitation.pk, status=Invitation.Status.PENDING, expires_at__gt=now,
            identity_verified_at__gt=now - IDENTITY_CHECK_VALID_FOR,
            identity_proof_hash=tokens.hash_token(proof, tokens.IDENTITY_PROOF),
        ).update(status=Invitation.Status.ACCEPTED, closed_at=now)
        if consumed == 1:
            invitation.refresh_from_db()
            return _connect(invitation, account=account, password=password, client=client, now=now)
        invitation.refresh_from_db()
        if reason := _unusable_reason(invitation, now):
            failure = _refuse_link(invitation, reason, now, client)
        else:
            failure = errors.IdentityNotConfirmed(MAX_IDENTITY_CHECKS - invitation.failed_checks)
    raise failure


@transaction.atomic(durable=True)
def disconnect_practice(connection: Connection, *, client: Client = NO_CLIENT) -> None:
    """The patient ends their own connection to one practice."""
    _lock(connection.patient)
    ended = Connection.objects.filter(pk=connection.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=Connection.EndReason.DISCONNECTED
    )
    if ended:
        record(connection.practice, Action.ACCESS_DISCONNECTED, actor=Actor.patient(connection.account),
               patient=connection.patient, invitation=connection.invitation, channel=Channel.PORTAL, client=client)
        log.info("connection %s disconnected by patient", connection.pk)


# --- portal accounts --------------------------------------------------------------------------

def claim_password_reset(email: str, *, client: Client = NO_CLIENT) -> None:
    """Count a password-reset request against its address and its client before anything is looked
    up, whether or not the address has an account (so a refusal says nothing about that); raises
    TooManyAttempts over the limits."""
    address = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    try:
        attempts.claim(Attempt.Kind.PASSWORD_RESET, window=RESET_WINDOW, limits={
            "username_hash": (address, MAX_RESETS_PER_ADDRESS), "client_ip": (client.ip, MAX_RESETS_PER_CLIENT)})
    except attempts.OverLimit:
        raise errors.TooManyAttempts() from None


@transaction.atomic(durable=True)
def send_password_reset(account: AbstractBaseUser | None, *, client: Client = NO_CLIENT) -> bool:
    """Mail a patient account a link to choose a new password (Django's purpose-bound token, dead once
    the password changes or after PASSWORD_RESET_TIMEOUT), recorded for every practice it is connected
    to. No account, an inactive one or a staff login gets nothing: staff passwords are not reset
    through the patient portal. Returns whether a mail was queued."""
    if account is None or not account.is_active or StaffMember.objects.filter(user=account).exists():
        return False
    for connection in _live_connections_of(account):
        record(connection.practice, Action.PASSWORD_RESET_REQUESTED, actor=Actor.patient(account),
               patient=connection.patient, channel=Channel.PORTAL, client=client)
    mail.queue_password_reset(account, default_token_generator.make_token(account))
    return True


@transaction.atomic(durable=True)
def change_password(account: AbstractBaseUser, password: str, *, reason: str, client: Client = NO_CLIENT) -> None:
    """Set a patient account's new password, recorded for every practice it is connected to. Every
    session of the account ends with it (Django ties a session to the password hash); the caller
    keeps its own with update_session_auth_hash."""
    account.set_password(password)
    account.save(update_fields=["password"])
    for connection in _live_connections_of(account):
        record(connection.practice, Action.PASSWORD_CHANGED, actor=Actor.patient(account),
               patient=connection.patient, channel=Channel.PORTAL, reason=reason, client=client)


# --- outcomes reported by mail delivery -------------------------------------------------------

def record_email_outcome(invitation_id: int, *, delivered: bool) -> None:
    """Record whether an invitation email was delivered. Runs inside the delivery's transaction."""
    invitation = Invitation.objects.select_related("practice", "patient", "sent_by", "patient__doctor").get(
        pk=invitation_id
    )
    if delivered:
        _record(invitation, Action.EMAIL_SENT, actor=Actor.system())
        return
    _record(invitation, Action.EMAIL_FAILED, actor=Actor.system(), outcome=AccessEvent.Outcome.FAILURE)
    _notify_staff(invitation, f"The portal invitation email to {invitation.patient.full_name} could not be delivered.")


# --- the steps the actions are made of -----------------------------------------------------

# Lock order, everywhere: the patient rows (by id), then the invitation. Staff actions and the
# patient's steps on one patient thus queue up on the patient row instead of each holding the lock
# the other waits for (a deadlock on PostgreSQL). The locks are FOR NO KEY UPDATE: rows that merely
# point at a locked row (events, connections, notifications) can still be inserted meanwhile, as they
# only need a key-share lock on it. History takes no lock in the writer's transaction: the practice
# row is locked only by the sealer, after commit (access.history). The expiry sweep locks lapsed
# invitations alone (no patient), so it cannot close a cycle either.

def _lock(patient: Patient) -> Patient:
    """Re-read the patient under a row lock so concurrent actions on one patient queue up."""
    return Patient.objects.select_for_update(of=("self",), no_key=True).select_related("practice", "doctor").get(
        pk=patient.pk)


def _lock_many(patients: list[Patient | int]) -> list[Patient]:
    """_lock for many patients: one SELECT ... FOR NO KEY UPDATE, in id order (two batches over
    overlapping patients then queue up rather than deadlock). Only what the writes need is read (the
    rules read their facts themselves): no SSN is decrypted."""
    ids = sorted({getattr(p, "pk", p) for p in patients})
    return list(Patient.objects.select_for_update(of=("self",), no_key=True).select_related("practice")
                .only("id", "practice_id", "email", "practice__name", "practice__time_zone").filter(pk__in=ids).order_by("pk"))


def _lock_for_patient(token: str) -> Invitation:
    """The invitation behind a link, re-read after locking its patient and then itself (the one order)."""
    _lock(_find(token).patient)
    return _find(token, lock=True)


def _send_one(patient: Patient, *, by: StaffMember | None, channel: str, client: Client, reason: str) -> SentInvitation:
    """The one-patient case of _send_many, raising the refusal (which rolls back the transaction)."""
    [outcome] = _send_many([patient], by=by, channel=channel, client=client, reason=reason)
    if outcome.refusal is not None:
        raise outcome.refusal
    return outcome.sent


def _send_many(
    patients: list[Patient], *, by: StaffMember | None, channel: str, client: Client, reason: str,
) -> list[InvitationOutcome]:
    """Decide (access.rules) and send, for patients already locked: invitations, their history events
    and their outbox mail in three INSERTs."""
    now = timezone.now()
    _expire_where(Q(patient__in=[p.pk for p in patients]), now)  # a lapsed invitation is no longer pending
    facts = invitation_facts([p.pk for p in patients], now=now)
    refusals = {p.pk: refusal for p in patients if (refusal := rules.refusal(facts[p.pk])) is not None}
    sent = {p.pk: tokens.new_token() for p in patients if p.pk not in refusals}
    invitations = [
        Invitation(practice=p.practice, patient=p, token_hash=tokens.hash_token(sent[p.pk]), email=p.email,
                   channel=channel, sent_by=by, sent_at=now, expires_at=now + invite_ttl())
        for p in patients if p.pk in sent
    ]
    created = _insert_invitations(invitations)
    for invitation in invitations:
        if invitation.pk is None:  # another transaction won the race the unique constraint guards
            refusals[invitation.patient_id] = errors.AlreadyPending(invitation.expires_at, invitation.practice.tzinfo)
    history.append([history.new_event(i.practice, Action.INVITATION_SENT, actor=_staff_actor(by), patient=i.patient,
                                      invitation=i, channel=channel, reason=reason, client=client) for i in created])
    mail.queue_invitations([(i, sent[i.patient_id]) for i in created])
    if created:
        log.info("%s invitation(s) sent via %s (first: invitation %s, patient %s)", len(created), channel,
                 created[0].pk, created[0].patient_id)
    by_patient = {i.patient_id: SentInvitation(i, sent[i.patient_id]) for i in created}
    return [InvitationOutcome(p.pk, sent=by_patient.get(p.pk), refusal=refusals.get(p.pk)) for p in patients]


def _insert_invitations(invitations: list[Invitation]) -> list[Invitation]:
    """Insert them all (one INSERT), or, if the one-pending constraint refuses the batch (a patient
    invited meanwhile by a transaction that did not take our lock order), each in its own savepoint:
    the rest of the batch still goes. Returns those inserted."""
    try:
        with transaction.atomic():
            return Invitation.objects.bulk_create(invitations)
    except IntegrityError:
        pass
    created = []
    for invitation in invitations:
        try:
            with transaction.atomic():
                invitation.save(force_insert=True)
            created.append(invitation)
        except IntegrityError:
            invitation.pk = None
    return created


def _revoke_connection(patient: Patient, *, by: StaffMember, reason: str, client: Client) -> bool:
    connection = _live_connection(patient)
    # Conditional, like every close: the patient may be disconnecting at this very moment.
    if connection is None or not Connection.objects.filter(pk=connection.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=Connection.EndReason.REVOKED
    ):
        return False
    record(patient.practice, Action.ACCESS_REVOKED, actor=Actor.staff(by), patient=patient,
           invitation=connection.invitation, reason=reason, client=client)
    mail.queue_access_revoked(connection)
    log.info("connection %s revoked for patient %s", connection.pk, patient.pk)
    return True


def _revoke_pending(patient: Patient, *, by: StaffMember | None, reason: str, client: Client) -> bool:
    _expire_where(Q(patient=patient), timezone.now())
    invitation = _pending(patient)
    # If the patient accepted in the meantime, the close matches nothing and revoke moves on to
    # the connection, rather than overwriting "accepted".
    if invitation is None or not _close(invitation, Invitation.Status.REVOKED):
        return False
    _record(invitation, Action.INVITATION_REVOKED, actor=_staff_actor(by), reason=reason, client=client)
    log.info("invitation %s revoked", invitation.pk)
    return True


def _expire_where(which: Q, now: datetime.datetime) -> int:
    """Close the lapsed pending invitations among `which` as expired, each recorded; returns how many.
    Their rows are locked (in id order) and closed in one UPDATE, their events added in one INSERT."""
    lapsed = list(Invitation.objects.select_for_update(of=("self",), no_key=True)
                  .filter(which, status=Invitation.Status.PENDING, expires_at__lte=now)
                  .only("id", "practice_id", "patient_id", "channel", "expires_at").order_by("id"))
    if not lapsed:
        return 0
    Invitation.objects.filter(pk__in=[i.pk for i in lapsed]).update(
        status=Invitation.Status.EXPIRED, closed_at=F("expires_at"))
    history.append([history.new_event(i.practice_id, Action.INVITATION_EXPIRED, actor=Actor.system(),
                                      patient=i.patient_id, invitation=i.pk, channel=i.channel) for i in lapsed])
    log.info("%s invitation(s) expired (first: %s)", len(lapsed), lapsed[0].pk)
    return len(lapsed)


def _close(invitation: Invitation, status: str) -> bool:
    """Pending -> `status`, only if still pending (one conditional UPDATE); True if it was."""
    now = timezone.now()
    closed = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=status, closed_at=now
    )
    if closed:
        invitation.status, invitation.closed_at = status, now
    return bool(closed)


def _live_connections_of(account: AbstractBaseUser):
    # In practice order, so the events of one change come in one order however many practices.
    return Connection.objects.filter(account=account, ended_at__isnull=True).select_related(
        "practice", "patient").order_by("practice_id")


def _pending(patient: Patient) -> Invitation | None:
    return patient.invitations.filter(status=Invitation.Status.PENDING).first()


def _live_connection(patient: Patient) -> Connection | None:
    return patient.connections.filter(ended_at__isnull=True).select_related("invitation").first()


def _find(token: str, *, lock: bool = False) -> Invitation:
    if not tokens.looks_like_token(token):
        raise errors.LinkNotUsable("unknown")
    invitations = Invitation.objects.select_related("practice", "patient", "sent_by", "patient__doctor")
    if lock:
        invitations = invitations.select_for_update(of=("self",), no_key=True)
    try:
        return invitations.get(token_hash=tokens.hash_token(token))
    except Invitation.DoesNotExist:
        raise errors.LinkNotUsable("unknown") from None


def _unusable_reason(invitation: Invitation, now: datetime.datetime) -> str:
    if invitation.status == Invitation.Status.PENDING:
        return "expired" if invitation.expires_at <= now else ""
    return {
        Invitation.Status.ACCEPTED: "used",
        Invitation.Status.REVOKED: "revoked",
        Invitation.Status.EXPIRED: "expired",
        Invitation.Status.LOCKED: "locked",
    }[invitation.status]


def _refuse_link(invitation: Invitation, reason: str, now: datetime.datetime, client: Client) -> errors.LinkNotUsable:
    """Someone tried to use a dead link (used, revoked, expired, locked): record it for the practice."""
    if reason == "expired" and _expire_where(Q(pk=invitation.pk), now):
        invitation.refresh_from_db()
    _record(invitation, Action.LINK_REFUSED, actor=Actor.patient(None), outcome=AccessEvent.Outcome.FAILURE,
            reason=f"The link was {reason}", client=client)
    return errors.LinkNotUsable(reason)


def _answers_match(patient: Patient, answers: IdentityAnswers) -> bool:
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


def _claim_identity_attempt(client: Client) -> Attempt | None:
    """Count this check against the client's address before anything is checked (access.attempts)."""
    if not client.ip:
        return None
    try:
        return attempts.claim(Attempt.Kind.IDENTITY, window=CLIENT_FAILURE_WINDOW,
                              limits={"client_ip": (client.ip, MAX_FAILURES_PER_CLIENT)})
    except attempts.OverLimit:
        raise errors.TooManyAttempts() from None


def _count_failed_check(invitation: Invitation, client: Client) -> errors.InvitationError:
    Invitation.objects.filter(pk=invitation.pk).update(failed_checks=F("failed_checks") + 1)
    invitation.refresh_from_db()
    _record(invitation, Action.IDENTITY_FAILED, actor=Actor.patient(None),
            outcome=AccessEvent.Outcome.FAILURE, client=client)
    log.info("identity check failed for invitation %s (%s of %s)", invitation.pk, invitation.failed_checks,
             MAX_IDENTITY_CHECKS)
    if invitation.failed_checks >= MAX_IDENTITY_CHECKS:
        _close(invitation, Invitation.Status.LOCKED)
        _record(invitation, Action.INVITATION_LOCKED, actor=Actor.system(),
                reason=f"{MAX_IDENTITY_CHECKS} failed identity checks", client=client)
        return errors.LinkNotUsable("locked")
    return errors.IdentityNotConfirmed(MAX_IDENTITY_CHECKS - invitation.failed_checks)


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
    _record(invitation, Action.ACCESS_GRANTED, actor=Actor.patient(account), client=client)
    _notify_staff(invitation, f"{invitation.patient.full_name} accepted the portal invitation.")
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
    _record(invitation, Action.ACCOUNT_CREATED, actor=Actor.patient(account), client=client)
    return account


def _notify_staff(invitation: Invitation, text: str) -> None:
    """Tell whoever sent the invitation and the patient's doctor (once each)."""
    recipients = {m.pk: m for m in (invitation.sent_by, invitation.patient.doctor) if m is not None}
    Notification.objects.bulk_create(
        Notification(recipient=m, patient=invitation.patient, text=text, created_at=timezone.now())
        for m in recipients.values()
    )


def _record(invitation: Invitation, action: str, *, actor: Actor, **kwargs) -> AccessEvent:
    return record(invitation.practice, action, actor=actor, patient=invitation.patient, invitation=invitation,
                  channel=kwargs.pop("channel", invitation.channel), **kwargs)


def _staff_actor(member: StaffMember | None) -> Actor:
    return Actor.staff(member) if member is not None else Actor.system()
