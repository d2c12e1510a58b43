"""Requests for portal access without an invitation (the practice's public page), and staff's answer:
approve (an ordinary invitation, through the send path, to the CHART's email), decline (a short email
without any health information), or nothing for LAPSE_AFTER (the request lapses; the requester is told).
Each public function is one transaction with its history events, its outbox mail and its bell notices.

Whoever asks gets the same answer whatever is on file: `request_access` looks up no chart at all (staff
match the request to a chart on the Access requests page), so neither its answer nor its timing says
who is a patient."""

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_noop, ngettext

from access import attempts, errors, history
from access.actions.notifications import staff_words
from access.actions.sending import SentInvitation, revoke_pending_after_email_change, send_many
from access.actions.steps import lock_patient
from access.history import Actor, record
from access.models import AccessEvent, AccessRequest, Attempt, Channel
from access.signals import access_requested
from clinic import validation
from clinic.models import Notification, Patient, Practice, StaffMember
from mail import messages as mail
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action

# An open request unanswered this long lapses (run_periodic): at exactly LAPSE_AFTER, not a second before.
LAPSE_AFTER = datetime.timedelta(days=30)
# Requests one address, and one client address, may make in REQUEST_WINDOW (counted before anything else).
MAX_REQUESTS_PER_ADDRESS = 3
MAX_REQUESTS_PER_CLIENT = 10
REQUEST_WINDOW = datetime.timedelta(hours=1)
LAPSE_BATCH = 500
# The history's reason column holds 200 characters.
REASON_LENGTH = 200


def claim_request(email: str, *, client: Client = NO_CLIENT) -> None:
    """Count a request against its address and its client before anything is looked up (as a
    password-reset request is); raises TooManyAttempts over the limits."""
    try:
        attempts.claim_for_address(Attempt.Kind.ACCESS_REQUEST, email, client.ip, window=REQUEST_WINDOW,
                                   per_address=MAX_REQUESTS_PER_ADDRESS, per_client=MAX_REQUESTS_PER_CLIENT)
    except attempts.OverLimit:
        raise errors.TooManyAttempts() from None


@transaction.atomic(durable=True)
def request_access(
    practice: Practice, *, first_name: str, last_name: str, date_of_birth: datetime.date, email: str, phone: str,
    note: str = "", language: str = "en", client: Client = NO_CLIENT,
) -> AccessRequest:
    """Someone asks `practice` for portal access (the fields already clean: portal.forms). A repeat with
    the same email and date of birth while one is open refreshes that one (fields and updated_at), never
    a second row, also when two arrive at once (the one_open_request_per_person constraint decides).
    Staff are told on the bell of a new request; the practice's systems by the access_request.created
    webhook. The caller counts it first (claim_request). `language`: the page's, for the emails that answer it."""
    now = timezone.now()
    fields = {"first_name": first_name, "last_name": last_name, "email": email, "phone": phone, "note": note,
              "language": language}
    access_request = _open_request(practice, email, date_of_birth)
    if access_request is None:
        try:
            with transaction.atomic():
                access_request = AccessRequest.objects.create(practice=practice, date_of_birth=date_of_birth,
                                                              created_at=now, updated_at=now, **fields)
        except IntegrityError:  # the same person's request committed meanwhile: merge into it
            access_request = _open_request(practice, email, date_of_birth)
        else:
            record(practice, Action.REQUEST_RECEIVED, actor=_requester(), channel=Channel.REQUEST,
                   reason=_details(access_request), client=client)
            _tell_front_desk(practice, staff_words(gettext_noop("New request for portal access: {name}."),
                                                  name=access_request.full_name), now)
            access_requested.send(AccessRequest, access_request=access_request)
            log.info("access request %s received for practice %s", access_request.pk, practice.pk)
            return access_request
    for name, value in fields.items():
        setattr(access_request, name, value)
    access_request.updated_at = now
    access_request.save(update_fields=[*fields, "updated_at"])
    record(practice, Action.REQUEST_RECEIVED, actor=_requester(), channel=Channel.REQUEST,
           reason=_details(access_request, "repeated"), client=client)
    log.info("access request %s repeated (merged)", access_request.pk)
    return access_request


@transaction.atomic(durable=True)
def approve_request(
    access_request: AccessRequest, patient: Patient, *, by: StaffMember, update_email: bool | None,
    client: Client = NO_CLIENT,
) -> SentInvitation:
    """Approve the request for the chart staff matched it to: an invitation through the ordinary send
    path (channel `request`: eligible, nothing pending, not connected, the daily cap) to the chart's
    email. If the request's email is not the chart's, staff must choose: `update_email=True` changes the
    chart's email to the request's first (as on Demographics: a pending invitation to the old address is
    revoked, recorded), False keeps the chart's; None is refused (EmailChoiceNeeded). Any refusal
    changes nothing. Two approvals at once send one invitation: the patient row, then the request row,
    are locked (the one lock order), and the second finds the request no longer open."""
    if patient.practice_id != access_request.practice_id:
        raise errors.ChartOfAnotherPractice()
    patient = lock_patient(patient)
    locked = _lock_open(access_request)
    differs = not validation.same_email(locked.email, patient.email or "")
    if differs and update_email is None:
        raise errors.EmailChoiceNeeded(locked.email, patient.email)
    email_note = "chart email kept" if not differs else (
        "chart email updated to the request's" if update_email else "chart email kept (differs from the request's)")
    if differs and update_email:
        _change_chart_email(patient, locked.email, by=by, client=client)
    [outcome] = send_many([patient], by=by, channel=Channel.REQUEST, client=client,
                          reason=f"Access request {locked.pk}")
    if outcome.refusal is not None:
        raise outcome.refusal
    now = timezone.now()
    locked.status, locked.patient, locked.decided_by, locked.decided_at = AccessRequest.Status.APPROVED, patient, by, now
    locked.invitation = outcome.sent.invitation
    locked.save(update_fields=["status", "patient", "decided_by", "decided_at", "invitation"])
    record(patient.practice, Action.REQUEST_APPROVED, actor=Actor.staff(by), patient=patient,
           invitation=outcome.sent.invitation, channel=Channel.REQUEST, client=client,
           reason=_fit(f"Request {locked.pk} ({locked.full_name}, {locked.email}) approved for chart "
                       f"{patient.chart_number}; {email_note}"))
    log.info("access request %s approved for patient %s", locked.pk, patient.pk)
    return outcome.sent


@transaction.atomic(durable=True)
def decline_request(access_request: AccessRequest, *, reason: str, by: StaffMember,
                    client: Client = NO_CLIENT) -> AccessRequest:
    """Decline with one of AccessRequest.DeclineReason: the requester gets a short email saying so, in
    the reason's words, with nothing from any chart."""
    if reason not in AccessRequest.DeclineReason.values:
        raise errors.UnknownDeclineReason(reason)
    locked = _lock_open(access_request)
    locked.status, locked.decline_reason = AccessRequest.Status.DECLINED, reason
    locked.decided_by, locked.decided_at = by, timezone.now()
    locked.save(update_fields=["status", "decline_reason", "decided_by", "decided_at"])
    label = AccessRequest.DeclineReason(reason).label
    record(locked.practice, Action.REQUEST_DECLINED, actor=Actor.staff(by), channel=Channel.REQUEST, client=client,
           reason=_fit(f"Request {locked.pk} ({locked.full_name}, {locked.email}) declined: {label}"))
    with translation.override(locked.language):
        mail.queue_request_declined(locked, str(label))
    log.info("access request %s declined (%s)", locked.pk, reason)
    return locked


def lapse_requests(*, batch: int = LAPSE_BATCH) -> int:
    """Open requests made LAPSE_AFTER ago or earlier lapse, each with its history event and an email
    telling the requester; each practice's front desk is told on the bell. Batches of `batch`, one
    transaction each. Returns how many lapsed."""
    total = 0
    while count := _lapse_batch(batch):
        total += count
    return total


@transaction.atomic(durable=True)
def _lapse_batch(batch: int) -> int:
    now = timezone.now()
    due = list(AccessRequest.objects.select_for_update(skip_locked=True, of=("self",))
               .filter(status=AccessRequest.Status.OPEN, created_at__lte=now - LAPSE_AFTER)
               .select_related("practice").order_by("pk")[:batch])
    if not due:
        return 0
    AccessRequest.objects.filter(pk__in=[r.pk for r in due]).update(status=AccessRequest.Status.LAPSED, decided_at=now)
    history.append([history.new_event(r.practice_id, Action.REQUEST_LAPSED, actor=Actor.system(),
                                      channel=Channel.REQUEST, at=now,
                                      reason=_details(r, f"unanswered after {LAPSE_AFTER.days} days"))
                    for r in due])
    mail.queue_requests_lapsed(due, days=LAPSE_AFTER.days)
    by_practice: dict[Practice, int] = {}
    for r in due:
        by_practice[r.practice] = by_practice.get(r.practice, 0) + 1
    for practice, count in by_practice.items():
        with translation.override(settings.LANGUAGE_CODE):  # the staff pages' language (notifications.staff_words)
            text = ngettext("{count} request for portal access lapsed unanswered after {days} days.",
                            "{count} requests for portal access lapsed unanswered after {days} days.", count)
        _tell_front_desk(practice, text.format(count=count, days=LAPSE_AFTER.days), now)
    log.info("%s access request(s) lapsed", len(due))
    return len(due)


# --- steps -------------------------------------------------------------------------------------------

def _open_request(practice: Practice, email: str, date_of_birth: datetime.date) -> AccessRequest | None:
    return (AccessRequest.objects.select_for_update(no_key=True)
            .filter(practice=practice, email=email, date_of_birth=date_of_birth, status=AccessRequest.Status.OPEN)
            .first())


def _lock_open(access_request: AccessRequest) -> AccessRequest:
    locked = AccessRequest.objects.select_for_update(no_key=True, of=("self",)).select_related("practice").get(
        pk=access_request.pk)
    if locked.status != AccessRequest.Status.OPEN:
        raise errors.RequestNotOpen(locked.get_status_display())
    return locked


def _change_chart_email(patient: Patient, email: str, *, by: StaffMember, client: Client) -> None:
    """The Demographics rule (clinic.services.update_patient), inside this transaction: the chart's
    email changes and an invitation pending for the old address is revoked, recorded. (update_patient
    is a transaction of its own: a refused approval must leave the chart as it was.)"""
    patient.email = Patient._meta.get_field("email").clean(email, patient)  # this field's rules only
    patient.save(update_fields=["email"])
    revoke_pending_after_email_change(patient, by=by, client=client)


def _tell_front_desk(practice: Practice, text: str, now: datetime.datetime) -> None:
    """The practice's front desk (staff role); its admins when it has none."""
    members = list(StaffMember.objects.filter(practice=practice, role=StaffMember.Role.STAFF).values_list("pk", flat=True))
    if not members:
        members = list(StaffMember.objects.filter(practice=practice, role=StaffMember.Role.ADMIN)
                       .values_list("pk", flat=True))
    Notification.objects.bulk_create(Notification(recipient_id=m, text=text, created_at=now) for m in sorted(members))


def _requester() -> Actor:
    """Whoever filled in the public form: not (yet) anyone's account."""
    return Actor(AccessEvent.ActorKind.PATIENT, None, "requester")


def _details(r: AccessRequest, what: str = "") -> str:
    """The request in the history's words: who, born when, how to reach them. Never the note: it is
    free text and may hold health information."""
    said = f"Request {r.pk}{f' ({what})' if what else ''}: {r.full_name}, born {r.date_of_birth:%Y-%m-%d}, {r.email}, {r.phone}"
    return _fit(said)


def _fit(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[:REASON_LENGTH - 1] + "…"
