"""Read-only questions about portal access. The portal state is derived from invitations and
connections in SQL, so a list of 100,000 patients can be filtered by it without storing it twice."""

import datetime
import operator
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from functools import reduce
from typing import TextIO

from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from access import rules
from access.eligibility import eligible, local_today, missing_requirements
from access.models import AccessEvent, Connection, Invitation, InvitationJob, InvitationJobPatient
from access.text_selectors import textable_without_email
from clinic import selectors as clinic_selectors
from clinic.models import Appointment, Patient, Practice, StaffMember
from mail.models import Message
from portico.bulk import among
from portico.spreadsheet import SafeWriter


class PortalState:
    NOT_ELIGIBLE = "not_eligible"
    NOT_INVITED = "not_invited"
    PENDING = "pending"
    CONNECTED = "connected"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOCKED = "locked"
    DISCONNECTED = "disconnected"

    # Marked here, translated where shown (label()); the API's filter takes the keys.
    LABELS = {
        NOT_ELIGIBLE: gettext_noop("Not eligible"),
        NOT_INVITED: gettext_noop("Not invited"),
        PENDING: gettext_noop("Pending"),
        CONNECTED: gettext_noop("Connected"),
        EXPIRED: gettext_noop("Expired"),
        REVOKED: gettext_noop("Revoked"),
        LOCKED: gettext_noop("Locked"),
        DISCONNECTED: gettext_noop("Disconnected"),
    }
    CHOICES = [(state, gettext_lazy(words)) for state, words in LABELS.items()]

    @classmethod
    def label(cls, state: str) -> str:
        return gettext(cls.LABELS[state])


@dataclass(frozen=True)
class StateFacts:
    """What a patient's portal state is decided from."""

    connected: bool  # a live connection
    status: str | None  # the latest invitation's status (None: never invited)
    live: bool  # the latest invitation's link has not expired yet
    end_reason: str | None  # the latest connection's end reason
    eligible: bool  # could be invited (access.eligibility)


_S = Invitation.Status
# The portal state, once: the first row whose conditions all hold decides (a tuple: one of these
# values); none holds: NOT_ELIGIBLE. with_portal_state turns it into SQL, portal_state() reads it in
# Python for the few patients of a page (add_portal_state).
STATE_RULES: tuple[tuple[str, dict], ...] = (
    (PortalState.CONNECTED, {"connected": True}),
    (PortalState.PENDING, {"status": (_S.PENDING,), "live": True}),
    (PortalState.EXPIRED, {"status": (_S.PENDING, _S.EXPIRED)}),
    (PortalState.LOCKED, {"status": (_S.LOCKED,)}),
    (PortalState.REVOKED, {"status": (_S.REVOKED,)}),
    (PortalState.DISCONNECTED, {"status": (_S.ACCEPTED,), "end_reason": (Connection.EndReason.DISCONNECTED,)}),
    (PortalState.REVOKED, {"status": (_S.ACCEPTED,)}),
    (PortalState.NOT_INVITED, {"eligible": True}),
)


def portal_state(facts: StateFacts) -> str:
    for state, conditions in STATE_RULES:
        if all(getattr(facts, fact) in want if isinstance(want, tuple) else getattr(facts, fact) == want
               for fact, want in conditions.items()):
            return state
    return PortalState.NOT_ELIGIBLE


def _state_case(sql_facts: dict[str, Q | str]) -> Case:
    """STATE_RULES as SQL: `sql_facts` names each fact's column (an annotation) or, for a yes/no fact, its Q."""
    def holds(fact: str, want) -> Q:
        target = sql_facts[fact]
        if isinstance(target, Q):
            return target if want else ~target
        return Q(**{f"{target}__in": want})

    whens = [When(reduce(operator.and_, (holds(fact, want) for fact, want in conditions.items())), then=Value(state))
             for state, conditions in STATE_RULES]
    return Case(*whens, default=Value(PortalState.NOT_ELIGIBLE), output_field=CharField())


# The latest invitation and connection of a patient, in SQL and in Python (add_portal_state).
LATEST_INVITATION = ("-sent_at", "-id")
LATEST_CONNECTION = ("-connected_at", "-id")


def with_portal_state(
    patients: QuerySet[Patient], *, today: datetime.date | None = None, minimum_age: int | None = None,
) -> QuerySet[Patient]:
    """Annotate `portal_state` (a PortalState value, by STATE_RULES), `invitation_expires_at` and
    `last_invited_at` (of the latest invitation), `email_failed` and `text_failed` (a pending
    invitation's email, or text, failed for good)
    `today` is the date at the practice (for the minimum age; default: the server's), `minimum_age`
    the practice's when the patients share one (see eligibility.eligible; lists of a practice pass it)."""
    now = timezone.now()
    today = today or timezone.localdate()
    latest = Invitation.objects.filter(patient=OuterRef("pk")).order_by(*LATEST_INVITATION)
    latest_connection = Connection.objects.filter(patient=OuterRef("pk")).order_by(*LATEST_CONNECTION)
    return patients.annotate(
        latest_status=Subquery(latest.values("status")[:1]),
        invitation_expires_at=Subquery(latest.values("expires_at")[:1]),
        last_invited_at=Subquery(latest.values("sent_at")[:1]),
        email_failed=Exists(_failed(AccessEvent.Action.EMAIL_FAILED).filter(patient=OuterRef("pk"))),
        text_failed=Exists(_failed(AccessEvent.Action.TEXT_FAILED).filter(patient=OuterRef("pk"))),
        is_connected=Exists(Connection.objects.filter(patient=OuterRef("pk"), ended_at__isnull=True)),
        last_end_reason=Subquery(latest_connection.values("end_reason")[:1]),
    ).annotate(portal_state=_state_case({
        "connected": Q(is_connected=True), "status": "latest_status", "live": Q(invitation_expires_at__gt=now),
        "end_reason": "last_end_reason", "eligible": eligible(today, minimum_age),
    }))


def add_portal_state(patients: list[Patient], practice: Practice) -> None:
    """Set on each of a few patients of `practice` (a page of a list) the attributes with_portal_state
    annotates, by the same STATE_RULES, from two small set queries; eligibility (for those never
    invited) by its rule in Python (eligibility.missing_requirements). For a page's 25 rows this
    is far cheaper than with_portal_state, whose correlated subqueries cost Django more to build than
    the database to run (docs/performance.md, run 13)."""
    now, ids = timezone.now(), [p.pk for p in patients]
    invitations, failed = {}, {}  # the latest of each patient: by (sent_at, id), as LATEST_INVITATION
    # _failed correlated to each invitation (its id first): given the ids as a list, SQLite reads every
    # pending invitation of the database by its status instead.
    for patient_id, *row, email_failed, text_failed in Invitation.objects.filter(patient_id__in=among(ids)).annotate(
            email_failed=Exists(_failed(AccessEvent.Action.EMAIL_FAILED).filter(pk=OuterRef("pk"))),
            text_failed=Exists(_failed(AccessEvent.Action.TEXT_FAILED).filter(pk=OuterRef("pk"))),
    ).values_list("patient_id", "sent_at", "id", "status", "expires_at", "email_failed", "text_failed"):
        invitations[patient_id] = max(invitations.get(patient_id, row), row)
        was = failed.get(patient_id, (False, False))
        failed[patient_id] = (was[0] or email_failed, was[1] or text_failed)
    connections, connected = {}, set()  # the latest of each patient: by (connected_at, id), as LATEST_CONNECTION
    for patient_id, *row in Connection.objects.filter(patient_id__in=among(ids)).values_list(
            "patient_id", "connected_at", "id", "end_reason", "ended_at"):
        connections[patient_id] = max(connections.get(patient_id, row), row)
        if row[3] is None:
            connected.add(patient_id)
    never = {p.pk for p in patients if p.pk not in invitations and p.pk not in connected}
    textable = textable_without_email([p.pk for p in patients if p.pk in never and not p.email]) \
        if practice.invite_by == Practice.InviteBy.TEXT_WITHOUT_EMAIL else set()
    for patient in patients:
        patient.practice = practice  # (a list's patients share it: no query per row)
        sent_at, _, status, expires_at = invitations.get(patient.pk, (None,) * 4)
        patient.portal_state = portal_state(StateFacts(
            connected=patient.pk in connected, status=status, live=expires_at is not None and expires_at > now,
            end_reason=connections[patient.pk][2] if patient.pk in connections else None,
            eligible=patient.pk in never and not missing_requirements(patient, textable=textable)))
        patient.invitation_expires_at, patient.last_invited_at = expires_at, sent_at
        patient.email_failed, patient.text_failed = failed.get(patient.pk, (False, False))


def in_portal_state(
    patients: QuerySet[Patient], state: str, *, practice_id: int, today: datetime.date | None = None,
    minimum_age: int | None = None,
) -> QuerySet[Patient]:
    """`with_portal_state(patients)` narrowed to one state. It first keeps only patients whose
    invitations or connections could put them in that state, found through the (much smaller)
    invitation and connection tables of the practice, so the per-patient state is worked out for
    those few rather than for every patient of a large practice (see bench/patient_list.py)."""
    today = today or timezone.localdate()
    narrowed = with_portal_state(patients.filter(_could_be_in(state, practice_id, today, minimum_age)), today=today,
                                 minimum_age=minimum_age)
    return narrowed if state in _DECIDED_BY_CANDIDACY else narrowed.filter(portal_state=state)


NEEDS_ATTENTION = "needs_attention"  # a filter of the patient list, not a state
NEEDS_ATTENTION_LABEL = gettext_noop("Needs attention")


def needing_attention(
    patients: QuerySet[Patient], *, practice_id: int, today: datetime.date | None = None,
    minimum_age: int | None = None,
) -> QuerySet[Patient]:
    """`with_portal_state(patients)` narrowed to those staff should act on: a locked or expired link,
    or a pending invitation whose email or text could not be delivered. Narrowed first through the
    practice's invitations, as in_portal_state is."""
    failed = _failed(AccessEvent.Action.EMAIL_FAILED, AccessEvent.Action.TEXT_FAILED).filter(
        practice_id=practice_id).values("patient_id")
    candidates = _could_be_in(PortalState.LOCKED, practice_id) | _could_be_in(PortalState.EXPIRED, practice_id)
    return with_portal_state(patients.filter(candidates | Q(pk__in=failed)), today=today,
                             minimum_age=minimum_age).filter(
        Q(portal_state__in=[PortalState.LOCKED, PortalState.EXPIRED])
        | Q(portal_state=PortalState.PENDING) & (Q(email_failed=True) | Q(text_failed=True)))


def _failed(*actions: str) -> QuerySet[Invitation]:
    """Pending invitations whose email or text (EMAIL_FAILED, TEXT_FAILED) failed for good (mail.delivery
    or the SMS provider gave up; history says so)."""
    return Invitation.objects.filter(status=Invitation.Status.PENDING, events__action__in=actions)


# States the candidate condition alone decides: a live connection and a pending invitation never
# coexist, and a patient never invited is "not invited" or "not eligible" by eligibility alone.
_DECIDED_BY_CANDIDACY = {PortalState.CONNECTED, PortalState.PENDING, PortalState.NOT_INVITED, PortalState.NOT_ELIGIBLE}


def _could_be_in(state: str, practice_id: int, today: datetime.date | None = None,
                 minimum_age: int | None = None) -> Q:
    """A necessary condition for `state`; with_portal_state then decides exactly."""
    now, S = timezone.now(), Invitation.Status
    invitations = Invitation.objects.filter(practice_id=practice_id)
    connections = Connection.objects.filter(practice_id=practice_id)
    candidates = {
        PortalState.CONNECTED: connections.filter(ended_at__isnull=True),
        PortalState.PENDING: invitations.filter(status=S.PENDING, expires_at__gt=now),
        PortalState.EXPIRED: invitations.filter(Q(status=S.EXPIRED) | Q(status=S.PENDING, expires_at__lte=now)),
        PortalState.LOCKED: invitations.filter(status=S.LOCKED),
        PortalState.REVOKED: invitations.filter(status__in=[S.REVOKED, S.ACCEPTED]),
        PortalState.DISCONNECTED: connections.filter(end_reason=Connection.EndReason.DISCONNECTED),
    }
    if state in candidates:
        return Q(pk__in=candidates[state].values("patient_id"))
    never_invited = ~Exists(Invitation.objects.filter(patient=OuterRef("pk")))
    condition = eligible(today or timezone.localdate(), minimum_age)
    return never_invited & (condition if state == PortalState.NOT_INVITED else ~condition)


def current_invitation(patient: Patient) -> Invitation | None:
    return patient.invitations.order_by("-sent_at", "-id").first()


def live_connection(patient: Patient) -> Connection | None:
    """The patient's live connection, with the invitation it came from."""
    return patient.connections.filter(ended_at__isnull=True).select_related("invitation").first()


def live_connections_of(account) -> QuerySet[Connection]:
    """The account's live connections, in practice order (so one change's events come in one order)."""
    return (Connection.objects.filter(account=account, ended_at__isnull=True).select_related("practice", "patient")
            .order_by("practice_id"))


def access_history(patient: Patient) -> QuerySet[AccessEvent]:
    """Newest first, with the actor and a staff actor's membership loaded (one query however many events)."""
    return patient.access_events.select_related("actor__staff", "proxy").order_by("-at", "-id")


# The mail carrying an invitation's link, its invitation in Message.invitation_id (mail.messages writes
# them): what access records delivery outcomes for, and skips once the invitation is no longer pending.
INVITATION_MAIL = (Message.Kind.INVITATION, Message.Kind.REMINDER)


def unwanted_invitation_mail(messages: list[Message]) -> list[int]:
    """Of messages the mail worker is about to send, the ids of invitation emails and reminders that
    must no longer go: their invitation is no longer pending (accepted, revoked, locked, or lapsed even
    if not yet swept), or, for the first email, a reminder since reissued its link. One query."""
    about = {m.pk: m.invitation_id for m in messages if m.kind in INVITATION_MAIL}
    if not about:
        return []
    now = timezone.now()
    # Status and expiry checked here, not in SQL, so SQLite looks the ids up rather than scanning every
    # pending invitation by its expiry index (once per batch of mail).
    live = {pk: reminded for pk, status, expires, reminded in Invitation.objects.filter(
        pk__in=among(set(about.values()))).values_list("pk", "status", "expires_at", "reminded_at")
        if status == Invitation.Status.PENDING and expires > now}
    kinds = {m.pk: m.kind for m in messages}
    return [pk for pk, invitation in about.items()
            if invitation not in live or (kinds[pk] == Message.Kind.INVITATION and live[invitation] is not None)]


# --- facts for the invitation rules, for many patients at once (access.rules) -----------------------

def invitation_facts(patient_ids: list[int], *, now: datetime.datetime) -> dict[int, rules.InvitationFacts]:
    """What access.rules needs for each patient, in four queries however many patients (no SSN is
    decrypted: an empty one is stored empty). Lapsed pending invitations do not count as pending."""
    ids = among(patient_ids)  # one parameter, however many ids (portico.bulk.among)
    patients = list(Patient.objects.filter(pk__in=ids).values_list(
        "pk", "practice__time_zone", "practice__minimum_age", "email",
        ExpressionWrapper(~Q(ssn=""), output_field=BooleanField()), "date_of_birth", "phone"))
    textable = textable_without_email(ids)
    # Each time zone's today worked out once, not once per patient.
    zones = {name: (tz, now.astimezone(tz).date()) for name in {row[1] for row in patients}
             for tz in [zoneinfo.ZoneInfo(name)]}
    # Status and expiry are checked here, not in SQL: given them, SQLite scans every pending invitation
    # by its expiry index instead of these patients' (a bulk job then slows down as it goes).
    pending = {patient: expires for patient, status, expires in Invitation.objects.filter(
        patient_id__in=ids).values_list("patient_id", "status", "expires_at")
        if status == Invitation.Status.PENDING and expires > now}
    connected = set(Connection.objects.filter(patient_id__in=ids, ended_at__isnull=True)
                    .values_list("patient_id", flat=True))
    day_ago = now - datetime.timedelta(days=1)
    # Invitations sent, and reminders (each carried a fresh link), in the last 24 hours.
    sent = dict(Invitation.objects.filter(Q(sent_at__gt=day_ago) | Q(reminded_at__gt=day_ago),
                                          patient_id__in=ids)
                .values("patient_id").annotate(n=Count("id", filter=Q(sent_at__gt=day_ago))
                                               + Count("id", filter=Q(reminded_at__gt=day_ago)))
                .values_list("patient_id", "n"))
    return {pk: rules.InvitationFacts(
        patient_id=pk, has_email=bool(email), has_ssn=has_ssn, has_date_of_birth_and_phone=bool(born and phone),
        connected=pk in connected, pending_expires_at=pending.get(pk), sent_in_last_day=sent.get(pk, 0),
        tz=zones[time_zone][0], age=rules.age_on(zones[time_zone][1], born) if born else None, minimum_age=minimum_age,
        textable_without_email=pk in textable,
    ) for pk, time_zone, minimum_age, email, has_ssn, born, phone in patients}


# --- bulk invitations: preview, progress, report, campaign results --------------------------------

@dataclass(frozen=True)
class InvitationPreview:
    """What confirming a bulk invitation would do now."""

    to_invite: int
    skipped: dict[str, int]  # rules.skip_label -> how many, largest first

    @property
    def total(self) -> int:
        return self.to_invite + sum(self.skipped.values())


PREVIEW_CHUNK = 5000


def preview_invitations(patients: QuerySet[Patient]) -> InvitationPreview:
    """Apply the rules to every selected patient (e.g. search_patients' queryset for "all matching this
    filter", or Patient.objects.filter(pk__in=ids) for a selection), in chunks of PREVIEW_CHUNK."""
    now, to_invite, skipped = timezone.now(), 0, Counter()
    ids = list(patients.order_by().values_list("pk", flat=True).distinct())
    for start in range(0, len(ids), PREVIEW_CHUNK):
        for facts in invitation_facts(ids[start:start + PREVIEW_CHUNK], now=now).values():
            if refusal := rules.refusal(facts):
                skipped[rules.skip_label(refusal)] += 1
            else:
                to_invite += 1
    return InvitationPreview(to_invite, dict(skipped.most_common()))


@dataclass(frozen=True)
class JobProgress:
    total: int
    invited: int
    skipped: int
    emails_delivered: int
    emails_failed: int
    done: bool

    @property
    def processed(self) -> int:
        return self.invited + self.skipped


def job_progress(job: InvitationJob) -> JobProgress:
    """The job's counts as of now, emails from the outbox rows of its invitations (three queries)."""
    job = InvitationJob.objects.get(pk=job.pk)
    keys = job.invitations.values(key=Concat(Value("invitation:"), Cast("id", CharField())))
    emails = dict(Message.objects.filter(dedupe_key__in=keys).values("status").annotate(n=Count("id"))
                  .values_list("status", "n"))
    return JobProgress(total=job.total, invited=job.invited, skipped=job.skipped,
                       emails_delivered=emails.get(Message.Status.SENT, 0),
                       emails_failed=emails.get(Message.Status.FAILED, 0),
                       done=job.status == InvitationJob.Status.DONE)


def job_skip_counts(job: InvitationJob) -> dict[str, int]:
    """rules.skip_label -> how many of the job's patients were skipped for it, largest first."""
    counts = (job.skips.values("reason")
              .annotate(n=Count("id")).order_by("-n", "reason"))
    return {row["reason"]: row["n"] for row in counts}


def skipped_patients(job: InvitationJob) -> QuerySet[InvitationJobPatient]:
    return (job.skips.select_related("patient")
            .only("reason_code", "reason", "patient__chart_number", "patient__first_name", "patient__last_name")
            .order_by("patient__last_name", "patient__first_name", "patient_id"))


def write_skipped_csv(job: InvitationJob, out: TextIO) -> None:
    """The job's skipped patients and why, as CSV (no SSN, no email: chart number and name find them)."""
    writer = SafeWriter(out)
    writer.writerow(["chart_number", "first_name", "last_name", "reason", "reason_code"])
    for row in skipped_patients(job).iterator(chunk_size=2000):
        p = row.patient
        writer.writerow([p.chart_number, p.first_name, p.last_name, row.reason, row.reason_code])


def invitation_jobs(practice: Practice) -> QuerySet[InvitationJob]:
    """The practice's jobs, newest first, with who started them and `accepted`: how many of the
    patients they invited have since accepted (the campaign's result)."""
    return (InvitationJob.objects.filter(practice=practice).select_related("started_by__user")
            .annotate(accepted=Count("invitations", filter=Q(invitations__status=Invitation.Status.ACCEPTED))))


# --- the staff pages' lists, with each patient's portal state ----------------------------------------

def practice_day(practice: Practice) -> dict:
    """The practice's date and minimum age, for the portal state of its own patients: eligibility is
    then a comparison of the date of birth with one date (see access.eligibility.eligible)."""
    return {"today": local_today(practice), "minimum_age": practice.minimum_age}


def search_patients(staff: StaffMember, *, q: str = "", state: str = "", language: str = "") -> QuerySet[Patient]:
    """The practice's patients matching `q` (clinic.selectors.matching_patients), annotated as
    with_portal_state does, optionally only those in `state` (or NEEDS_ATTENTION) and those whose
    emails go out in `language` (clinic.selectors.in_language)."""
    patients, day = _matching(staff, q, language), practice_day(staff.practice)
    if state == NEEDS_ATTENTION:
        patients = needing_attention(patients, practice_id=staff.practice_id, **day)
    elif state:
        patients = in_portal_state(patients, state, practice_id=staff.practice_id, **day)
    else:
        patients = with_portal_state(patients, **day)
    return patients.defer("ssn").order_by(*LIST_ORDER)


LIST_ORDER = ("last_name", "first_name", "id")


def patients_page(staff: StaffMember, *, q: str = "", state: str = "", language: str = "", number=None,
                  per_page: int) -> Page:
    """Page `number` of search_patients(staff, q=q, state=state, language=language), each patient on
    it with the same attributes. Without a state filter the page is read as plain rows and only its
    patients' state is worked out (add_portal_state); a state filter needs the state in SQL."""
    if state:
        return Paginator(search_patients(staff, q=q, state=state, language=language), per_page).get_page(number)
    page = Paginator(_matching(staff, q, language).defer("ssn").order_by(*LIST_ORDER), per_page).get_page(number)
    page.object_list = list(page.object_list)
    add_portal_state(page.object_list, staff.practice)
    return page


def _matching(staff: StaffMember, q: str, language: str) -> QuerySet[Patient]:
    patients = clinic_selectors.matching_patients(staff, q)
    return clinic_selectors.in_language(patients, language, staff.practice) if language else patients


def appointments_between(
    staff: StaffMember, start: datetime.datetime, end: datetime.datetime, *, doctor: StaffMember | None = None,
) -> list[Appointment]:
    """The practice's appointments starting in [start, end), each with `patient.portal_state` and
    `patient.portal_state_label` set (two queries however many appointments)."""
    appointments = list(clinic_selectors.appointments_starting(staff, start, end, doctor=doctor))
    ids = {a.patient_id for a in appointments}
    states = dict(with_portal_state(Patient.objects.filter(pk__in=ids), **practice_day(staff.practice))
                  .values_list("pk", "portal_state"))
    for appointment in appointments:
        appointment.patient.portal_state = states.get(appointment.patient_id, PortalState.NOT_ELIGIBLE)
        appointment.patient.portal_state_label = PortalState.label(appointment.patient.portal_state)
    return appointments


def invitation_job_for(staff: StaffMember, job_id: int) -> InvitationJob:
    """One of the practice's bulk jobs (clinic.selectors.own: 404, OtherPractice for another's)."""
    job = InvitationJob.objects.select_related("started_by__user").filter(pk=job_id).first()
    return clinic_selectors.own(staff, job, job_id, "invitation job")
