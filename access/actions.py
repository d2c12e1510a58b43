"""Every change to a patient's portal access. One function per button; each is one transaction that
also writes its history event and, where mail goes out, its outbox row. Callers (pages, commands,
tasks) only scope, parse, call one of these and show the result."""

import datetime
import hashlib
import hmac
import logging
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from access import attempts, errors, history, rules, tokens
from access.history import NO_CLIENT, Actor, Client, record
from access.models import AccessEvent, Attempt, Channel, Connection, Invitation, InvitationJob, InvitationJobPatient
from access.selectors import invitation_facts
from clinic import validation
from clinic.models import Appointment, Notification, Patient, Practice, StaffMember
from mail import messages as mail
from portico.bulk import among, insert_rows, insert_selected, instances, loaded, relate, update_rows

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


def invite_ttl(practice: Practice) -> datetime.timedelta:
    """How long the practice's invitation links work (its setting; PORTICO_INVITE_TTL_DAYS for a new one)."""
    return datetime.timedelta(days=practice.invite_ttl_days)


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
def revoke_invitation(
    patient: Patient, *, by: StaffMember, reason: str = "", client: Client = NO_CLIENT, only: str | None = None,
) -> str:
    """Kill the pending invitation's link at once (returns INVITATION), or end a connected patient's
    access (returns ACCESS). `only` (INVITATION or ACCESS) revokes just what staff confirmed: if the
    patient accepted between the question and the click, Revoke Invite must not end their access."""
    patient = _lock(patient)
    if only in (None, INVITATION) and _revoke_pending(patient, by=by, reason=reason, client=client):
        return INVITATION
    if only in (None, ACCESS) and _revoke_connection(patient, by=by, reason=reason, client=client):
        return ACCESS
    raise errors.NothingToRevoke(only)


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
    return _expire_where(Q(pk__in=among(lapsed.values_list("pk", flat=True)[:batch])), now, chain_now=True)


# --- bulk invitation jobs ---------------------------------------------------------------------

# Patients sent per transaction: the lock, the rules' facts and the writes stay short, and a killed
# worker loses at most one uncommitted chunk (it is simply done again: its outcomes were not recorded).
JOB_CHUNK = 2000
# A running job whose chunks have not moved for this long lost its worker (killed): run_periodic resumes it.
JOB_STALLED_AFTER = datetime.timedelta(minutes=2)


@transaction.atomic(durable=True)
def start_invitation_job(
    practice, patients: QuerySet[Patient], *, by: StaffMember | None, selection: str, enqueue: bool = True,
    key: str | None = None,
) -> InvitationJob:
    """Snapshot the selected patients of the practice (others are ignored) as a job, and queue the
    task that sends it (access.tasks; `enqueue=False` to run it in-process with run_invitation_job).
    A `key` (a preview's one-time key) starts one job however often it is given: again, even at the
    same moment, it raises JobAlreadyStarted with the job it started, and changes nothing."""
    now = timezone.now()
    if key and (started := InvitationJob.objects.filter(preview_key=key).first()):
        raise errors.JobAlreadyStarted(started)
    try:
        with transaction.atomic():
            job = InvitationJob.objects.create(practice=practice, started_by=by, created_at=now,
                                               selection=selection[:200], heartbeat_at=now, preview_key=key or None)
    except IntegrityError:  # the same key, committed meanwhile by a concurrent request (or another fault)
        started = InvitationJob.objects.filter(preview_key=key).first() if key else None
        if started is None:
            raise
        raise errors.JobAlreadyStarted(started) from None
    job.total = insert_selected(InvitationJobPatient, "patient_id", patients.filter(practice=practice), job_id=job.pk)
    InvitationJob.objects.filter(pk=job.pk).update(total=job.total)
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
    rows = list(job.rows.filter(outcome="").select_for_update(skip_locked=True).order_by("id")
                .values_list("pk", "patient_id", named=True)[:size])
    if not rows:
        return 0
    outcomes = {o.patient_id: o for o in _send_many(_lock_many([r.patient_id for r in rows]), by=job.started_by,
                                                     channel=Channel.BULK, client=NO_CLIENT,
                                                     reason=f"Bulk invitation {job.pk}", chain_now=True)}
    Outcome = InvitationJobPatient.Outcome
    update_rows(InvitationJobPatient, ["outcome", "reason", "reason_text", "invitation"], [
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


# --- practice settings ------------------------------------------------------------------------------

# What change_practice_settings may change (Practice fields; the Settings page shows them all).
SETTINGS = ("auto_invite", "reminder_days_before", "reinvite_after_days", "reinvite_max", "minimum_age",
            "invite_ttl_days", "phone", "patient_contact_note")


@transaction.atomic(durable=True)
def change_practice_settings(practice: Practice, *, by: StaffMember, client: Client = NO_CLIENT, **changes) -> list[str]:
    """Change the practice's settings (names in SETTINGS, values already clean): checked as a whole
    (ValidationError, nothing changed), saved, and each change recorded in the access history in words
    ("Reminder before expiry: 2 days before → Off"), which are returned. A pending invitation keeps its
    expiry; the other settings apply from the next booking or periodic round."""
    if unknown := set(changes) - set(SETTINGS):
        raise TypeError(f"not a practice setting: {', '.join(sorted(unknown))}")
    locked = Practice.objects.select_for_update(no_key=True).get(pk=practice.pk)
    before = {name: getattr(locked, name) for name in changes}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    changed = [name for name in SETTINGS if name in changes and getattr(locked, name) != before[name]]
    if not changed:
        return []
    locked.save(update_fields=changed)
    described = [f"{_setting_label(name)}: {_setting_text(name, before[name])} → {_setting_text(name, getattr(locked, name))}"
                 for name in changed]
    history.append([history.new_event(locked, Action.SETTINGS_CHANGED, actor=Actor.staff(by), reason=text[:200],
                                      client=client) for text in described])
    log.info("practice %s settings changed by %s: %s", locked.pk, by.pk, ", ".join(changed))
    return described


def _setting_label(name: str) -> str:
    return str(Practice._meta.get_field(name).verbose_name).capitalize()


def _setting_text(name: str, value) -> str:
    if value in (None, ""):
        return "Off" if name in ("reminder_days_before", "reinvite_after_days") else "None"
    plural = lambda n, unit: f"{n} {unit}{'' if n == 1 else 's'}"  # noqa: E731
    return {
        "auto_invite": lambda: Practice.AutoInvite(value).label,
        "reminder_days_before": lambda: f"{plural(value, 'day')} before",
        "reinvite_after_days": lambda: f"after {plural(value, 'day')}",
        "reinvite_max": lambda: f"{plural(value, 'time')} at most",
        "invite_ttl_days": lambda: plural(value, "day"),
        "phone": lambda: validation.format_phone(value),
        "patient_contact_note": lambda: f"“{value}”",
    }.get(name, lambda: str(value))()


# --- automatic invitations, reminders, re-invites and digests ------------------------------------

@transaction.atomic  # inside the appointment's own transaction (clinic.services), in a savepoint
def invite_automatically(patients: list[Patient | int], *, trigger: str) -> list[InvitationOutcome]:
    """The practice's "Invite automatically" setting, applied after appointments were booked (trigger
    Practice.AutoInvite.BOOKED) or completed (COMPLETED). clinic.services calls it whoever booked (a
    page, an import, the API), so it fires from this one place. Patients of practices set to `trigger`
    who were never invited are sent one (channel automatic) through send_invitations' rules; after
    COMPLETED only on their first completed appointment. A patient invited before (pending, expired,
    revoked, connected) is left to the re-invite setting and to staff. Returns the outcomes of those
    considered (an ineligible patient is refused, as on the chart, and shows as Not eligible)."""
    locked = [p for p in _lock_many(patients) if p.practice.auto_invite == trigger]
    ids = [p.pk for p in locked]
    invited_before = set(Invitation.objects.filter(patient__in=ids).values_list("patient_id", flat=True))
    chosen = [p for p in locked if p.pk not in invited_before]
    if trigger == Practice.AutoInvite.COMPLETED and chosen:
        completed = Counter(Appointment.objects.filter(patient__in=[p.pk for p in chosen],
                                                       status=Appointment.Status.COMPLETED).values_list("patient_id", flat=True))
        chosen = [p for p in chosen if completed[p.pk] == 1]
    if not chosen:
        return []
    reason = "Automatic: " + Practice.AutoInvite(trigger).label.lower()
    return _send_many(chosen, by=None, channel=Channel.AUTOMATIC, client=NO_CLIENT, reason=reason)


# Due rows handled per transaction by the periodic work below: each batch costs the same few queries
# whatever its size, so a round is O(due rows) in work and O(due rows / batch) in queries.
SCHEDULED_BATCH = 500
REMINDER_REASON = "Link reissued for a reminder"


def send_reminders(*, batch: int = SCHEDULED_BATCH) -> int:
    """Email one reminder per pending invitation, the practice's N days before it expires (at exactly
    expires_at - N days or later). Only the token's hash is kept, so a reminder carries a working link
    by reissuing it: a new token for the same invitation, the earlier link dead at once, recorded as
    "Link reissued for a reminder"; the expiry is unchanged. Never to a connected patient or one at
    the daily cap (tried again next round); none for an invitation accepted, revoked, locked or
    expired, or sent less than N days before its expiry. Returns how many were sent."""
    return _in_batches(_remind_batch, batch)


def send_reinvites(*, batch: int = SCHEDULED_BATCH) -> int:
    """Invite again (send_invitations' rules, channel automatic) each patient whose newest invitation
    expired unaccepted, once N days (the practice's 30/60/90) have passed since it was sent, until
    `reinvite_max` re-invites went unanswered: then the patient is left alone until staff send one
    (which starts the count again). Returns how many were sent."""
    return _in_batches(_reinvite_batch, batch)


def _in_batches(step, size: int) -> int:
    """Run `step(size, after)` -> (sent, last id seen or None when nothing is left) over the due rows,
    in id order, once each (a refused row is not retried within the round)."""
    total, after = 0, 0
    while after is not None:
        sent, after = step(size, after)
        total += sent
    return total


def _reminder_due(now: datetime.datetime) -> Q:
    # One term per possible N (the field's validators allow 1-29): date arithmetic with a constant
    # reads the same on every database, where a per-row number of days would not.
    days = Q()
    for n in range(1, 30):
        before = datetime.timedelta(days=n)
        days |= Q(practice__reminder_days_before=n, expires_at__lte=now + before, sent_at__lt=F("expires_at") - before)
    return Q(status=Invitation.Status.PENDING, reminded_at__isnull=True, expires_at__gt=now) & days


@transaction.atomic(durable=True)
def _remind_batch(size: int, after: int) -> tuple[int, int | None]:
    now = timezone.now()
    due = list(Invitation.objects.filter(_reminder_due(now), pk__gt=after).order_by("pk")
               .values_list("pk", "patient_id")[:size])
    if not due:
        return 0, None
    _lock_many([patient for _, patient in due])  # the one lock order: patients, then their invitations
    invitations = list(Invitation.objects.select_for_update(of=("self",), no_key=True)
                       .filter(_reminder_due(now), pk__in=among(pk for pk, _ in due)).select_related("practice", "patient")
                       .order_by("pk"))
    facts = invitation_facts([i.patient_id for i in invitations], now=now)
    chosen = [i for i in invitations if rules.email_refusal(facts[i.patient_id]) is None]
    links = {i.pk: tokens.new_token() for i in chosen}
    update_rows(Invitation, ["token_hash"], [(tokens.hash_token(links[i.pk]), i.pk) for i in chosen])
    Invitation.objects.filter(pk__in=links).update(reminded_at=now)
    history.append([history.new_event(i.practice, Action.LINK_REISSUED, actor=Actor.system(), patient=i.patient,
                                      invitation=i, channel=i.channel, reason=REMINDER_REASON) for i in chosen])
    mail.queue_reminders([(i, links[i.pk]) for i in chosen])
    if chosen:
        log.info("%s reminder(s) sent (first: invitation %s)", len(chosen), chosen[0].pk)
    return len(chosen), due[-1][0] if len(due) == size else None


def _reinvite_due(now: datetime.datetime) -> QuerySet[Invitation]:
    days = Q()
    for n, _label in Practice.REINVITE_DAYS:  # one term per choice, as in _reminder_due
        days |= Q(practice__reinvite_after_days=n, sent_at__lte=now - datetime.timedelta(days=n))
    newer = Invitation.objects.filter(patient=OuterRef("patient"), pk__gt=OuterRef("pk"))
    return Invitation.objects.filter(days, status=Invitation.Status.EXPIRED,
                                     reinvite_number__lt=F("practice__reinvite_max")).exclude(Exists(newer))


@transaction.atomic(durable=True)
def _reinvite_batch(size: int, after: int) -> tuple[int, int | None]:
    due = list(_reinvite_due(timezone.now()).filter(pk__gt=after).order_by("pk")
               .values_list("pk", "patient_id", "reinvite_number")[:size])
    if not due:
        return 0, None
    outcomes = _send_many(_lock_many([patient for _, patient, _ in due]), by=None, channel=Channel.AUTOMATIC,
                          client=NO_CLIENT, reason="Re-invite: the previous invitation was not accepted",
                          reinvite_numbers={patient: number + 1 for _, patient, number in due})
    return sum(1 for o in outcomes if o.sent), due[-1][0] if len(due) == size else None


DIGEST_EVERY = datetime.timedelta(days=1)


@transaction.atomic(durable=True)
def send_digests() -> int:
    """Email each staff member who asked for it (StaffMember.daily_digest) the notifications not yet in
    a digest, at most once every DIGEST_EVERY. Each notification is marked digested in the same
    transaction, so none is in two digests. Returns how many digests were queued (five queries)."""
    now = timezone.now()
    undigested = Notification.objects.filter(recipient=OuterRef("pk"), digested_at__isnull=True)
    staff = list(StaffMember.objects.select_for_update(of=("self",)).filter(
        Exists(undigested), Q(last_digest_at__isnull=True) | Q(last_digest_at__lte=now - DIGEST_EVERY),
        daily_digest=True).exclude(user__email="").select_related("user", "practice").order_by("pk"))
    if not staff:
        return 0
    notifications: dict[int, list[Notification]] = {}
    for n in (Notification.objects.select_for_update(of=("self",)).filter(recipient__in=staff, digested_at__isnull=True)
              .select_related("patient").order_by("created_at", "pk")):
        notifications.setdefault(n.recipient_id, []).append(n)
    mail.queue_digests([(member, notifications[member.pk]) for member in staff])
    Notification.objects.filter(pk__in=[n.pk for listed in notifications.values() for n in listed]).update(digested_at=now)
    StaffMember.objects.filter(pk__in=[m.pk for m in staff]).update(last_digest_at=now)
    return len(staff)


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
        _notify_staff(connection.invitation, f"{connection.patient.full_name} disconnected from the portal.")
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
    """Record whether an invitation email was delivered: record_email_outcomes for one."""
    record_email_outcomes([invitation_id], delivered=delivered)


def record_email_outcomes(invitation_ids: list[int], *, delivered: bool) -> None:
    """Record whether invitation emails (one id per email: an invitation may come twice, with its
    reminder) were delivered: one event each, from one read and one INSERT however many; staff are
    told of each that was not. Runs inside the delivery's transaction."""
    rows = {i.pk: i for i in Invitation.objects.filter(pk__in=among(set(invitation_ids))).values_list(
        "pk", "practice_id", "patient_id", "channel", "sent_by_id", named=True)}
    invitations = [rows[pk] for pk in invitation_ids]
    action, outcome = ((Action.EMAIL_SENT, AccessEvent.Outcome.SUCCESS) if delivered
                       else (Action.EMAIL_FAILED, AccessEvent.Outcome.FAILURE))
    history.append([history.new_event(i.practice_id, action, actor=Actor.system(), patient=i.patient_id,
                                      invitation=i.pk, channel=i.channel, outcome=outcome) for i in invitations],
                   chain_now=True)  # the mail worker, in the background
    if not delivered:
        _notify_many([(i.practice_id, i.patient_id, i.sent_by_id) for i in invitations],
                     "The portal invitation email to {name} could not be delivered.", timezone.now(),
                     summary="{count} portal invitation emails could not be delivered. The patient list "
                             "marks them “Email failed”.")


def record_email_skipped(invitation_id: int) -> None:
    """Record that an invitation's email (or reminder) was not sent because, by the time the worker
    reached it, the invitation was no longer pending. Runs inside the delivery's transaction."""
    invitation = Invitation.objects.select_related("practice", "patient").get(pk=invitation_id)
    why = _unusable_reason(invitation, timezone.now()) or "reissued for a reminder"
    _record(invitation, Action.EMAIL_SKIPPED, actor=Actor.system(), reason=f"The invitation was {why}")


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
    locked = loaded(Patient, Patient.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=among(ids))
                    .order_by("pk").values("id", "practice_id", "email"))
    # One Practice object per practice, attached to its patients (select_related would make one per patient).
    practices = Practice.objects.in_bulk({p.practice_id for p in locked})
    relate(locked, "practice", (practices[p.practice_id] for p in locked))
    return locked


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
    reinvite_numbers: dict[int, int] | None = None, chain_now: bool = False,
) -> list[InvitationOutcome]:
    """Decide (access.rules) and send, for patients already locked: invitations, their history events
    and their outbox mail in three INSERTs. `reinvite_numbers` (patient id -> k) marks re-invites;
    `chain_now` chains the events at once (history.append: bulk jobs)."""
    now = timezone.now()
    ids = [p.id for p in patients]
    _expire_where(Q(patient__in=among(ids)), now)  # a lapsed invitation is no longer pending
    facts = invitation_facts(ids, now=now)
    refusals, chosen = {}, []
    for patient in patients:
        if (refusal := rules.refusal(facts[patient.id])) is None:
            chosen.append((patient, tokens.new_token()))
        else:
            refusals[patient.id] = refusal
    reinvite_numbers = reinvite_numbers or {}
    # Made as a batch makes them (portico.bulk: thousands per bulk job), with their practice and
    # patient attached for the callers (the outbox rows, the pages).
    invitations = instances(Invitation, [
        {"practice_id": p.practice_id, "patient_id": p.id, "token_hash": tokens.hash_token(token),
         "email": p.email, "channel": channel, "sent_by_id": by.pk if by else None, "sent_at": now,
         "expires_at": now + invite_ttl(p.practice), "reinvite_number": reinvite_numbers.get(p.id, 0)}
        for p, token in chosen
    ])
    relate(invitations, "practice", (p.practice for p, _ in chosen))
    relate(invitations, "patient", (p for p, _ in chosen))
    created = _insert_invitations(invitations)
    for invitation in invitations:
        if invitation.pk is None:  # another transaction won the race the unique constraint guards
            refusals[invitation.patient_id] = errors.AlreadyPending(invitation.expires_at, invitation.practice.tzinfo)
    token_of = {p.id: token for p, token in chosen}
    mail.queue_invitations([(i, token_of[i.patient_id]) for i in created])
    # The events last: with chain_now the practice's chain stays locked from here to the commit.
    actor = _staff_actor(by)
    history.append([history.new_event(i.practice_id, Action.INVITATION_SENT, actor=actor, patient=i.patient_id,
                                      invitation=i.id, channel=channel, reason=reason, client=client, at=now)
                    for i in created],
                   chain_now=chain_now)
    if created:
        log.info("%s invitation(s) sent via %s (first: invitation %s, patient %s)", len(created), channel,
                 created[0].pk, created[0].patient_id)
    by_patient = {i.patient_id: SentInvitation(i, token_of[i.patient_id]) for i in created}
    return [InvitationOutcome(pk, sent=by_patient.get(pk), refusal=refusals.get(pk)) for pk in ids]


def _insert_invitations(invitations: list[Invitation]) -> list[Invitation]:
    """Insert them all (one executemany), or, if the one-pending constraint refuses the batch (a
    patient invited meanwhile by a transaction that did not take our lock order), each in its own
    savepoint: the rest of the batch still goes. Returns those inserted, their ids set."""
    try:
        with transaction.atomic():
            insert_rows(Invitation, invitations)
    except IntegrityError:
        pass
    else:
        # Found by their unique token hashes (an index lookup each; by patient and status, SQLite would
        # scan every pending invitation).
        ids = dict(Invitation.objects.filter(token_hash__in=among(i.token_hash for i in invitations))
                   .values_list("token_hash", "id"))
        for invitation in invitations:
            invitation.pk = ids[invitation.token_hash]
            invitation._state.adding = False
        return invitations
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


def _expire_where(which: Q, now: datetime.datetime, *, chain_now: bool = False) -> int:
    """Close the lapsed pending invitations among `which` as expired, each recorded; returns how many.
    Their rows are locked (in id order) and closed in one UPDATE, their events added in one INSERT
    (chained at once with `chain_now`: the sweep)."""
    lapsed = list(Invitation.objects.select_for_update(of=("self",), no_key=True)
                  .filter(which, status=Invitation.Status.PENDING, expires_at__lte=now)
                  .order_by("id").values_list("pk", "practice_id", "patient_id", "channel", "sent_by_id", named=True))
    if not lapsed:
        return 0
    Invitation.objects.filter(pk__in=among(i.pk for i in lapsed)).update(
        status=Invitation.Status.EXPIRED, closed_at=F("expires_at"))
    history.append([history.new_event(i.practice_id, Action.INVITATION_EXPIRED, actor=Actor.system(),
                                      patient=i.patient_id, invitation=i.pk, channel=i.channel) for i in lapsed],
                   chain_now=chain_now)
    _notify_many([(i.practice_id, i.patient_id, i.sent_by_id) for i in lapsed],
                 "{name}'s portal invitation expired without being accepted.", now,
                 summary="{count} portal invitations expired without being accepted. The patient list's "
                         "Expired filter shows them.")
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
        _notify_staff(invitation, f"{invitation.patient.full_name}'s portal invitation locked after "
                                  f"{MAX_IDENTITY_CHECKS} failed identity checks.")
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
    """Tell whoever sent the invitation and the patient's doctor (once each); if neither (sent by
    Portico itself, no doctor), the practice's admins."""
    recipients = {m for m in (invitation.sent_by_id, invitation.patient.doctor_id) if m is not None}
    if not recipients:
        recipients = set(_admins_of([invitation.practice_id]).get(invitation.practice_id, []))
    Notification.objects.bulk_create(
        Notification(recipient_id=m, patient=invitation.patient, text=text, created_at=timezone.now())
        for m in sorted(recipients)
    )


# One batch (of the sweep: up to 5,000; of delivered mail) tells a staff member of at most this many patients one by one;
# beyond it, one notification says how many, so 10,000 lapsed invitations do not bury the bell.
NOTIFY_ONE_BY_ONE_UP_TO = 5


def _notify_many(about: list[tuple[int, int, int | None]], text: str, now: datetime.datetime, *, summary: str) -> None:
    """_notify_staff for many (practice id, patient id, sender id) at once, `text` naming the patient as
    {name}; a recipient concerned by more than NOTIFY_ONE_BY_ONE_UP_TO of them gets one `summary`
    instead ({count} patients). Three queries however many."""
    patients = {pk: (f"{first} {last}", doctor) for pk, first, last, doctor in Patient.objects.filter(
        pk__in=among({patient for _, patient, _ in about})).values_list("pk", "first_name", "last_name", "doctor_id")}
    admins = _admins_of(sorted({practice for practice, patient, sender in about
                                if sender is None and patients[patient][1] is None}))
    told: dict[int, list[int]] = {}
    for practice, patient, sender in about:
        for member in {m for m in (sender, patients[patient][1]) if m is not None} or set(admins.get(practice, [])):
            told.setdefault(member, []).append(patient)
    notifications = []
    for member, concerning in sorted(told.items()):
        if len(concerning) > NOTIFY_ONE_BY_ONE_UP_TO:
            notifications.append(Notification(recipient_id=member, text=summary.format(count=len(concerning)),
                                              created_at=now))
        else:
            notifications += [Notification(recipient_id=member, patient_id=patient, created_at=now,
                                           text=text.format(name=patients[patient][0])) for patient in concerning]
    Notification.objects.bulk_create(notifications)


def _admins_of(practice_ids: list[int]) -> dict[int, list[int]]:
    """Practice id -> its admins' StaffMember ids (no query for no practice)."""
    admins: dict[int, list[int]] = {}
    if practice_ids:
        for practice, member in StaffMember.objects.filter(practice_id__in=practice_ids, role=StaffMember.Role.ADMIN
                                                           ).values_list("practice_id", "pk").order_by("pk"):
            admins.setdefault(practice, []).append(member)
    return admins


def _record(invitation: Invitation, action: str, *, actor: Actor, **kwargs) -> AccessEvent:
    return record(invitation.practice, action, actor=actor, patient=invitation.patient, invitation=invitation,
                  channel=kwargs.pop("channel", invitation.channel), **kwargs)


def _staff_actor(member: StaffMember | None) -> Actor:
    return Actor.staff(member) if member is not None else Actor.system()
