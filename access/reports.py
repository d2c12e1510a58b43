"""Who is reached: the adoption funnel, its splits, connected patients over time, the federal
"Provide Patients Electronic Access" measure (PI_PEA_1) per clinician, and the worklist of visits about
to miss it. Reads only, set-wise: each figure is counted by the database (a few queries however many
patients), never by a loop over patients here.

The measure, as read here (README, "Reports"): the denominator is the unique patients with a COMPLETED
appointment with the clinician starting in the period; a patient is in the numerator when, for at
least one of those visits, they had a working invitation link or a live connection at some moment
between the visit's start and the end of its window (the 4th business day after the visit's day, in
the practice's time zone, skipping weekends and the practice's holidays: access.business_days)."""

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field, replace

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    Expression,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from access import business_days, rules
from access.eligibility import eligible, latest_birth_date
from access.models import AccessEvent, Channel, Connection, Invitation, VisitAccess
from clinic.models import Appointment, Patient, Practice, StaffMember
from portico import languages

# --- the period -----------------------------------------------------------------------------------

THIS_MONTH, LAST_MONTH, QUARTER, YEAR, DATES = "month", "last_month", "quarter", "year", "dates"
PERIODS = [(THIS_MONTH, gettext_lazy("This month")), (LAST_MONTH, gettext_lazy("Last month")),
           (QUARTER, gettext_lazy("This quarter")), (YEAR, gettext_lazy("This year")), (DATES, gettext_lazy("Dates"))]
LONGEST_PERIOD = datetime.timedelta(days=731)


@dataclass(frozen=True)
class Period:
    """Days `first` to `last` (both included) at the practice (`tz`)."""

    first: datetime.date
    last: datetime.date
    tz: datetime.tzinfo

    @property
    def start(self) -> datetime.datetime:
        return midnight(self.first, self.tz)

    @property
    def end(self) -> datetime.datetime:
        """The first instant after the period."""
        return midnight(self.last + datetime.timedelta(days=1), self.tz)

    @property
    def days(self) -> list[datetime.date]:
        return [self.first + datetime.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def label(self) -> str:
        return f"{self.first:%-d %b %Y} – {self.last:%-d %b %Y}"


def midnight(day: datetime.date, tz: datetime.tzinfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=tz)


def named_period(name: str, today: datetime.date, tz: datetime.tzinfo, *, first: datetime.date | None = None,
                 last: datetime.date | None = None) -> Period:
    """This month, last month, this quarter or this year (whole, as calendars count them), or the
    dates given (DATES: `first` to `last`). ValueError for dates the wrong way round or too far apart."""
    if name == DATES:
        if first is None or last is None or first > last:
            raise ValueError(gettext("Choose a first day on or before the last day."))
        if last - first > LONGEST_PERIOD:
            raise ValueError(gettext("Choose a period of at most two years."))
        return Period(first, last, tz)
    if name == LAST_MONTH:
        end = today.replace(day=1) - datetime.timedelta(days=1)
        return Period(end.replace(day=1), end, tz)
    if name == QUARTER:
        start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    elif name == YEAR:
        start = today.replace(month=1, day=1)
    else:
        start = today.replace(day=1)
    months = {QUARTER: 3, YEAR: 12}.get(name, 1)
    year, month = divmod(start.month - 1 + months, 12)
    return Period(start, datetime.date(start.year + year, month + 1, 1) - datetime.timedelta(days=1), tz)


@contextmanager
def planned_without_jit() -> Iterator[None]:
    """Read a report's figures in one transaction (one moment's rows on SQLite) without PostgreSQL's
    JIT compilation. The planner prices the correlated subqueries of eligibility and of "where patients
    stopped" at their worst (a scan per row) and the plans cross jit_above_cost: it then compiled them
    for 0.8-2.6 s each, to run statements that take 0.1 s (docs/performance.md, run 12). SET LOCAL ends
    with the transaction: nothing else on the connection is changed."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


# --- the scope: the practice, or one doctor's patients --------------------------------------------

@dataclass(frozen=True)
class Scope:
    """What a report covers: the practice, or one doctor (their visits for the measure, the patients
    whose doctor they are for the funnel)."""

    practice: Practice
    doctor: StaffMember | None = None

    def patients(self) -> QuerySet[Patient]:
        patients = Patient.objects.filter(practice_id=self.practice.pk)
        return patients.filter(doctor_id=self.doctor.pk) if self.doctor else patients

    def invitations(self, period: Period) -> QuerySet[Invitation]:
        invitations = Invitation.objects.filter(practice_id=self.practice.pk, sent_at__gte=period.start,
                                                sent_at__lt=period.end)
        return invitations.filter(patient__doctor_id=self.doctor.pk) if self.doctor else invitations

    def visits(self, start: datetime.datetime, end: datetime.datetime) -> QuerySet[Appointment]:
        """Completed appointments starting in [start, end) (appointment_completed_idx)."""
        visits = Appointment.objects.filter(practice_id=self.practice.pk, status=Appointment.Status.COMPLETED,
                                            starts_at__gte=start, starts_at__lt=end)
        return visits.filter(doctor_id=self.doctor.pk) if self.doctor else visits


def _today(practice: Practice, now: datetime.datetime) -> datetime.date:
    return now.astimezone(practice.tzinfo).date()


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- the funnel -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    count: int
    percent: float | None  # of the eligible (the first stage: of all the patients)

    @property
    def note(self) -> str:
        return gettext(FUNNEL_NOTES[self.key])


# The words of the tables below are marked here and translated when a report is built (into the
# active language: English on the staff pages); the keys and SQL values stay as they are.
FUNNEL = [("eligible", gettext_noop("Eligible")), ("invited", gettext_noop("Invited")),
          ("opened", gettext_noop("Link opened")), ("confirmed", gettext_noop("Identity confirmed")),
          ("connected", gettext_noop("Connected"))]
FUNNEL_NOTES = {
    "eligible": gettext_noop("Email and identity details on file and old enough today, or invited in the period"),
    "invited": gettext_noop("Sent an invitation in the period"),
    "opened": gettext_noop("Answered the identity check at least once (right or wrong) on an invitation of the period"),
    "confirmed": gettext_noop("Passed the identity check on an invitation of the period"),
    "connected": gettext_noop("Connected through an invitation of the period"),
}

OPENED = Q(failed_checks__gt=0) | Q(identity_verified_at__isnull=False)


def funnel(scope: Scope, period: Period, *, now: datetime.datetime | None = None,
           counted: "Adoption | None" = None) -> tuple[int, list[Stage]]:
    """(patients in scope, the five stages), summed from the adoption counts (`counted`, or read now)."""
    total = (counted or adoption(scope, period, now=now)).total()
    return total.patients, [
        Stage(key, gettext(label), getattr(total, key), _pct(getattr(total, key), total.patients if key == "eligible" else
                                                    total.eligible)) for key, label in FUNNEL]


STOPS = [
    ("email_failed", gettext_noop("Email could not be delivered")),
    ("text_failed", gettext_noop("Text could not be delivered")),
    ("locked", gettext_noop("Locked after 3 failed identity checks")),
    ("expired_unopened", gettext_noop("Expired, never opened")),
    ("expired_opened", gettext_noop("Expired after the identity check was tried")),
    ("revoked", gettext_noop("Revoked by staff")),
    ("pending_unopened", gettext_noop("Still pending, not opened yet")),
    ("pending_opened", gettext_noop("Still pending, identity check tried")),
]


def stops(scope: Scope, period: Period, *, now: datetime.datetime | None = None) -> list[tuple[str, str, int]]:
    """Where the patients invited in the period but not connected through it stopped: (key, label,
    patients), by each one's latest invitation of the period. One query over the period's
    invitations: a patient's latest is the one with no later invitation of the period, and a patient
    connected through any of them is left out; both asked of the patient's own invitations
    (invitation_latest_idx: an index probe per row, or an anti-join) rather than by a window over
    every invitation of the period sorted by patient (on PostgreSQL that sort spilled to disk)."""
    now = now or timezone.now()
    S = Invitation.Status
    failed = AccessEvent.objects.filter(invitation_id=OuterRef("pk"), action=AccessEvent.Action.EMAIL_FAILED)
    text_failed = AccessEvent.objects.filter(invitation_id=OuterRef("pk"), action=AccessEvent.Action.TEXT_FAILED)
    lapsed = Q(status=S.EXPIRED) | Q(status=S.PENDING, expires_at__lte=now)
    code = {key: place for place, (key, _) in enumerate(STOPS)}  # grouped as small integers, not words
    stop = Case(
        When(Q(Exists(failed)) & ~OPENED, then=Value(code["email_failed"])),
        When(Q(Exists(text_failed)) & ~OPENED, then=Value(code["text_failed"])),
        When(status=S.LOCKED, then=Value(code["locked"])),
        When(lapsed & ~OPENED, then=Value(code["expired_unopened"])),
        When(lapsed, then=Value(code["expired_opened"])),
        When(status__in=[S.REVOKED, S.ACCEPTED], then=Value(code["revoked"])),
        When(~OPENED, then=Value(code["pending_unopened"])),
        default=Value(code["pending_opened"]),
    )
    theirs = Invitation.objects.filter(patient_id=OuterRef("patient_id"), sent_at__gte=period.start,
                                       sent_at__lt=period.end)
    later = theirs.filter(Q(sent_at__gt=OuterRef("sent_at")) | Q(sent_at=OuterRef("sent_at"), pk__gt=OuterRef("pk")))
    latest = scope.invitations(period).filter(~Exists(later), ~Exists(theirs.filter(connection__isnull=False)))
    counts = dict(latest.annotate(stop=stop).values("stop").annotate(n=Count("id")).order_by()
                  .values_list("stop", "n"))
    return [(key, gettext(label), counts.get(code[key], 0)) for key, label in STOPS]


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    label: str
    invited: int
    opened: int
    confirmed: int
    connected: int


def by_channel(scope: Scope, period: Period) -> list[ChannelRow]:
    """The period's invitations by channel: patients invited, who opened, confirmed, connected through
    that channel's invitations (a patient invited through two channels counts in each). One query."""
    rows = (scope.invitations(period).values("channel").order_by("channel").annotate(
        invited=Count("patient_id", distinct=True),
        opened=Count("patient_id", distinct=True, filter=OPENED),
        confirmed=Count("patient_id", distinct=True, filter=Q(identity_verified_at__isnull=False)),
        connected=Count("patient_id", distinct=True, filter=Q(connection__isnull=False))))
    found = {row["channel"]: row for row in rows}
    return [ChannelRow(value, str(label), **{k: found[value][k] for k in ("invited", "opened", "confirmed", "connected")})
            for value, label in Channel.choices if value in found]


# --- the adoption counts, split by the patients' doctor and age band (and any split added) -----------

# Their labels are values in SQL (the rows' keys): translated when a row is made (by_age).
AGE_BANDS = [(65, gettext_noop("65 and over")), (50, "50–64"), (35, "35–49"), (18, "18–34"), (0, "0–17")]
NO_BIRTH_DATE = gettext_noop("Date of birth not on file")


def _age_band(prefix: str, period: Period) -> Case:
    """The patient's age band on the period's last day, as SQL: comparisons of the date of birth with
    each band's latest birth date (as rules.age_on counts birthdays), no arithmetic per row. The band
    as its place in AGE_BANDS (len(AGE_BANDS): no date of birth): databases group small integers far
    faster than words (PostgreSQL compares text by its collation), and by_age names them."""
    born = f"{prefix}date_of_birth"
    return Case(When(**{f"{born}__isnull": True}, then=Value(len(AGE_BANDS))),
                *(When(**{f"{born}__lte": latest_birth_date(period.last, age)}, then=Value(place))
                  for place, (age, _) in enumerate(AGE_BANDS)), default=Value(len(AGE_BANDS) - 1))


# The patient dimensions the funnel is split by: name -> the value of a patient as SQL, given the path
# to the patient ("" from patients, "patient__" from invitations) and the period. Every count below
# is read once grouped by all of them together (each patient has one value of each, so a count of
# patients adds up across the others' values); funnel() sums them all, by_doctor() and by_age() sum
# over the others. THE PLACE TO ADD A SPLIT: an entry here, a function like by_age() naming its rows,
# and its table in clinic/views/report_tables.py. The age band comes first: grouped by doctor_id
# first, SQLite walks the patients' doctor index (a table lookup per patient) to sort what it must
# sort all the same (docs/performance.md, run 12).
SPLITS: dict[str, Callable[[str, Period], Expression]] = {
    "age": _age_band,
    "doctor": lambda prefix, period: F(f"{prefix}doctor_id"),
    "language": lambda prefix, period: F(f"{prefix}preferred_language"),  # "": the practice's default
}


@dataclass(frozen=True)
class Counts:
    """Patients at each stage, in one cell of the splits (or summed over some)."""

    patients: int = 0
    eligible: int = 0  # eligible today, or invited in the period (FUNNEL_NOTES)
    never_offered: int = 0  # eligible today and never sent an invitation, ever
    invited: int = 0
    opened: int = 0
    confirmed: int = 0
    connected: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class Adoption:
    """The scope's patients counted by stage for every combination of SPLITS values found."""

    cells: dict[tuple, Counts]  # (a value per split, in SPLITS order) -> counts

    def total(self) -> Counts:
        return sum(self.cells.values(), Counts())

    def by(self, split: str) -> dict:
        """The counts summed over the other splits: the split's value -> Counts."""
        place, found = list(SPLITS).index(split), {}
        for key, counts in self.cells.items():
            found[key[place]] = found.get(key[place], Counts()) + counts
        return found


def adoption(scope: Scope, period: Period, *, now: datetime.datetime | None = None) -> Adoption:
    """Two grouped reads whatever the number of patients or splits: the patients (all, eligible, never
    offered) and the period's invitations joined to their patients (distinct patients invited,
    opened, confirmed, connected, and invited though not eligible today), each grouped by every split."""
    now = now or timezone.now()
    is_eligible = eligible(_today(scope.practice, now), scope.practice.minimum_age)
    names = list(SPLITS)
    people = (scope.patients().annotate(**{f"split_{n}": SPLITS[n]("", period) for n in names})
              .values(*(f"split_{n}" for n in names)).order_by().annotate(
                  patients=Count("id"), eligible=Count("id", filter=is_eligible),
                  never_offered=Count("id", filter=is_eligible & ~Exists(
                      Invitation.objects.filter(patient_id=OuterRef("pk"))))))
    invited = (scope.invitations(period).annotate(**{f"split_{n}": SPLITS[n]("patient__", period) for n in names})
               .values(*(f"split_{n}" for n in names)).order_by().annotate(
                   invited=Count("patient_id", distinct=True),
                   opened=Count("patient_id", distinct=True, filter=OPENED),
                   confirmed=Count("patient_id", distinct=True, filter=Q(identity_verified_at__isnull=False)),
                   connected=Count("patient_id", distinct=True, filter=Q(connection__isnull=False)),
                   # invited in the period though not eligible today: eligible for the funnel all the same
                   also_eligible=Count("patient_id", distinct=True, filter=_prefixed(~is_eligible, "patient__"))))
    cells: dict[tuple, Counts] = {}
    for row in people:
        cells[tuple(row[f"split_{n}"] for n in names)] = Counts(row["patients"], row["eligible"], row["never_offered"])
    for row in invited:
        key = tuple(row[f"split_{n}"] for n in names)
        cells[key] = cells.get(key, Counts()) + Counts(
            eligible=row["also_eligible"], **{k: row[k] for k in ("invited", "opened", "confirmed", "connected")})
    return Adoption(cells)


@dataclass(frozen=True)
class DoctorRow:
    doctor_id: int | None
    name: str
    patients: int
    eligible: int
    invited: int
    connected: int
    never_offered: int  # eligible today and never sent an invitation, ever


def by_doctor(scope: Scope, period: Period, *, now: datetime.datetime | None = None,
              counted: Adoption | None = None) -> list[DoctorRow]:
    """The scope's patients by their doctor (Patient.doctor; "No doctor" last)."""
    rows = (counted or adoption(scope, period, now=now)).by("doctor")
    names = _names(set(rows))
    return sorted((DoctorRow(pk, names.get(pk, gettext("No doctor")), c.patients, c.eligible, c.invited, c.connected,
                             c.never_offered) for pk, c in rows.items()),
                  key=lambda r: (r.doctor_id is None, r.name, r.doctor_id or 0))


@dataclass(frozen=True)
class AgeRow:
    band: str
    patients: int
    eligible: int
    invited: int
    opened: int
    confirmed: int
    connected: int


def by_age(scope: Scope, period: Period, *, now: datetime.datetime | None = None,
           counted: Adoption | None = None) -> list[AgeRow]:
    """The funnel by the patients' age band at the period's end (youngest first, "not on file" last)."""
    rows = (counted or adoption(scope, period, now=now)).by("age")
    labels = [label for _, label in AGE_BANDS] + [NO_BIRTH_DATE]
    order = [*reversed(range(len(AGE_BANDS))), len(AGE_BANDS)]  # youngest first, "not on file" last
    return [AgeRow(gettext(labels[band]), c.patients, c.eligible, c.invited, c.opened, c.confirmed, c.connected)
            for band in order if (c := rows.get(band)) is not None and c.patients]


@dataclass(frozen=True)
class LanguageRow:
    code: str
    name: str
    patients: int
    eligible: int
    never_offered: int  # eligible today and never sent an invitation, ever: the gap to look for
    invited: int
    connected: int


def by_language(scope: Scope, period: Period, *, now: datetime.datetime | None = None,
                counted: Adoption | None = None) -> list[LanguageRow]:
    """The funnel by the language the patients' invitations go out in: the chart's preferred language,
    or the practice's default for charts naming none (counted with it), most patients first."""
    merged: dict[str, Counts] = {}
    for code, c in (counted or adoption(scope, period, now=now)).by("language").items():
        code = code or scope.practice.default_language
        merged[code] = merged.get(code, Counts()) + c
    return [LanguageRow(code, languages.english_name(code), c.patients, c.eligible, c.never_offered, c.invited,
                        c.connected)
            for code, c in sorted(merged.items(), key=lambda item: (-item[1].patients, item[0]))]


def _prefixed(q: Q, prefix: str) -> Q:
    """The same condition on the patient's fields (`patient__...`). A condition given as an expression
    (eligibility's subqueries by key, whose OuterRefs name the patient's own columns) is asked of the
    patient row in a subquery of its own."""
    def moved(child):
        if isinstance(child, Q):
            return _prefixed(child, prefix)
        if isinstance(child, tuple):
            return prefix + child[0], child[1]
        return Exists(Patient.objects.filter(child, pk=OuterRef(prefix + "id")))
    return Q(*(moved(c) for c in q.children), _connector=q.connector, _negated=q.negated)


def _names(doctor_ids) -> dict[int, str]:
    ids = [pk for pk in doctor_ids if pk is not None]
    return {m.pk: m.display_name for m in StaffMember.objects.filter(pk__in=ids).select_related("user")}


# --- connected patients over time ----------------------------------------------------------------

def connected_over_time(scope: Scope, period: Period, *, now: datetime.datetime | None = None,
                        ) -> list[tuple[datetime.date, int]]:
    """Patients with a live connection at the end of each day (periods up to 45 days), week (up to
    120) or month of the period, up to today. One query over the scope's connections."""
    now = now or timezone.now()
    today = _today(scope.practice, now)
    points = [day for day in _buckets(period) if day <= today] or [period.first]
    connections = Connection.objects.filter(practice_id=scope.practice.pk)
    if scope.doctor:
        connections = connections.filter(patient__doctor_id=scope.doctor.pk)
    moments = {f"p{i}": min(midnight(day + datetime.timedelta(days=1), period.tz), now) for i, day in enumerate(points)}
    counts = connections.aggregate(**{name: Count("id", filter=Q(connected_at__lt=moment) & (
        Q(ended_at__isnull=True) | Q(ended_at__gte=moment))) for name, moment in moments.items()})
    return [(day, counts[f"p{i}"]) for i, day in enumerate(points)]


def _buckets(period: Period) -> list[datetime.date]:
    """The last day of each bucket of the period."""
    days = period.days
    if len(days) <= 45:
        return days
    if len(days) <= 120:
        return [*days[6::7], *([days[-1]] if len(days) % 7 else [])]
    ends = [day for day in days if (day + datetime.timedelta(days=1)).day == 1]
    return ends if ends and ends[-1] == days[-1] else [*ends, days[-1]]


# --- the measure: PI_PEA_1 per clinician ---------------------------------------------------------

def deadline_ranges(days: list[datetime.date], tz: datetime.tzinfo, holidays) -> list[tuple[datetime.datetime,
                                                                                                datetime.datetime]]:
    """For consecutive visit days, (from, deadline): a visit starting at `from` or later (and before
    the next range's `from`) must be given access before `deadline`, the midnight after its window
    closes (business_days.window_closes). Days sharing a deadline (Friday to Sunday) share a range."""
    ranges: list[tuple[datetime.datetime, datetime.datetime]] = []
    for day in days:
        deadline = midnight(business_days.window_closes(day, holidays) + datetime.timedelta(days=1), tz)
        if not ranges or ranges[-1][1] != deadline:
            ranges.append((midnight(day, tz), deadline))
    return ranges


def deadline_of_visit(ranges) -> Case | Value:
    """The deadline of each visit as SQL: a balanced tree of CASEs over the ranges' starts, so a row
    costs log2(ranges) comparisons (~9 for a year) rather than one per range."""
    if len(ranges) == 1:
        return Value(ranges[0][1], output_field=DateTimeField())
    mid = len(ranges) // 2
    return Case(When(starts_at__lt=ranges[mid][0], then=deadline_of_visit(ranges[:mid])),
                default=deadline_of_visit(ranges[mid:]), output_field=DateTimeField())


def timely() -> Q:
    """For a visit annotated with `deadline`: the patient had a working invitation link (sent by then,
    not yet expired or closed at the visit's start) or a live connection at some moment between the
    visit's start and its deadline."""
    link = Invitation.objects.filter(patient_id=OuterRef("patient_id"), sent_at__lt=OuterRef("deadline"),
                                     expires_at__gt=OuterRef("starts_at")).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=OuterRef("starts_at")))
    connection = Connection.objects.filter(patient_id=OuterRef("patient_id"), connected_at__lt=OuterRef("deadline")
                                           ).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=OuterRef("starts_at")))
    return Q(Exists(link)) | Q(Exists(connection))


NO_EMAIL, NOT_ELIGIBLE, NOT_INVITED, WINDOW_OPEN = "no_email", "not_eligible", "not_invited", "window_open"
MISS_LABELS = {
    WINDOW_OPEN: gettext_lazy("Window still open"),
    NO_EMAIL: gettext_lazy("No email"),
    NOT_ELIGIBLE: gettext_lazy("Not eligible"),
    NOT_INVITED: gettext_lazy("Not invited within 4 business days"),
}


@dataclass(frozen=True)
class Missed:
    """A patient in a clinician's denominator who is not in the numerator, and why."""

    doctor_id: int
    patient_id: int
    chart_number: str
    name: str
    last_visit: datetime.datetime
    closes: datetime.datetime  # the latest deadline of their visits in the period
    reason: str  # a MISS_LABELS key
    detail: str  # what is missing, for NOT_ELIGIBLE

    @property
    def reason_label(self) -> str:
        return str(MISS_LABELS[self.reason]) + (f" ({self.detail})" if self.detail else "")


@dataclass
class ClinicianMeasure:
    doctor_id: int
    name: str
    numerator: int
    denominator: int
    missed_by_reason: dict[str, int] = field(default_factory=dict)  # every missed patient, counted (no zeros)
    missed: list[Missed] = field(default_factory=list)  # the first `limit` of them (MISSED_ORDER)

    @property
    def percent(self) -> float | None:
        return _pct(self.numerator, self.denominator)

    @property
    def missed_count(self) -> int:
        return self.denominator - self.numerator

    @property
    def missed_not_shown(self) -> int:
        return self.missed_count - len(self.missed)


# How many missed patients per clinician measure() details (the page); missed_patients() gives all.
MISSED_SHOWN = 100
REASONS = list(MISS_LABELS)  # their codes in SQL: the index here (also the list's first sort key)


def measure(scope: Scope, period: Period, *, now: datetime.datetime | None = None,
            limit: int | None = None) -> list[ClinicianMeasure]:
    """PI_PEA_1 per clinician, read from the visits' summary (VisitAccess, kept by the actions):
    numerator, denominator and the missed patients counted by reason in one statement (COUNTS_SQL),
    then each clinician's first `limit` missed patients in MISSED_ORDER, one short statement per
    clinician and reason needed (FIRST_SQL: the index gives the patients in name order, so it stops
    after the rows it needs instead of sorting every missed patient); one query for the chart numbers
    of the rows listed and one for the clinicians' names."""
    now = now or timezone.now()
    limit = MISSED_SHOWN if limit is None else limit
    staff = StaffMember.objects.filter(practice_id=scope.practice.pk).select_related("user")
    names = {m.pk: m.display_name for m in (staff.filter(pk=scope.doctor.pk) if scope.doctor else staff)}
    counts = _fetch(*_pairs(scope, period, now, list(names), template=COUNTS_SQL))
    result = {}
    for doctor_id, denominator, missed, weights in counts:
        clinician = ClinicianMeasure(doctor_id, names.get(doctor_id, "?"), int(denominator) - int(missed),
                                     int(denominator), _by_reason(int(missed), int(weights or 0)))
        result[doctor_id] = clinician
        for code, key in enumerate(REASONS):
            wanted = min(clinician.missed_by_reason.get(key, 0), limit - len(clinician.missed))
            if wanted > 0:
                sql, params = _pairs(scope, period, now, [doctor_id])
                clinician.missed += [_missed(scope.practice, now, row) for row in _fetch(
                    FIRST_SQL.format(pairs=sql), [*params, code, wanted])]
    charts = dict(Patient.objects.filter(pk__in=[p.patient_id for c in result.values() for p in c.missed])
                  .order_by().values_list("pk", "chart_number"))
    for clinician in result.values():
        clinician.missed = [replace(p, chart_number=charts.get(p.patient_id, "")) for p in clinician.missed]
    return sorted(result.values(), key=lambda r: (r.name, r.doctor_id))


def clinicians_seen(scope: Scope, period: Period) -> list[tuple[int, str]]:
    """(id, name) of the clinicians with completed visits in the period, as measure() orders them."""
    visits = VisitAccess.objects.filter(practice_id=scope.practice.pk, starts_at__gte=period.start,
                                        starts_at__lt=period.end)
    if scope.doctor:
        visits = visits.filter(doctor_id=scope.doctor.pk)
    names = _names(set(visits.order_by().values_list("doctor_id", flat=True).distinct()))
    return sorted(names.items(), key=lambda d: (d[1], d[0]))


def missed_patients(scope: Scope, period: Period, order: list[int], *, now: datetime.datetime | None = None,
                    chunk: int = 2000):
    """Every missed patient of every clinician, the clinicians in `order` (their ids: as measure()
    lists them), each one's patients in MISSED_ORDER, with their chart numbers; fetched `chunk` rows
    at a time, for a CSV that streams. One statement."""
    now = now or timezone.now()
    rank = " ".join("WHEN %s THEN %s" for _ in order)
    pairs, params = _pairs(scope, period, now, order)
    sql = ALL_MISSED_SQL.format(pairs=pairs, patients=connection.ops.quote_name(Patient._meta.db_table),
                                rank=f"CASE j.doctor_id {rank} ELSE {len(order)} END" if order else "0")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *(value for i, pk in enumerate(order) for value in (pk, i))])
        while batch := cursor.fetchmany(chunk):
            for row in batch:
                yield replace(_missed(scope.practice, now, row), chart_number=row[-1])


def _pairs(scope: Scope, period: Period, now: datetime.datetime, doctors: list[int], *,
           template: str | None = None) -> tuple[str, list]:
    """PAIRS_SQL (or COUNTS_SQL) for these clinicians (ids: of the practice) and the period, and its
    parameters: REASON_SQL's (the period's start, now, the latest date of birth old enough today),
    then LAST_VISITS_SQL's. The clinicians are named (a few dozen ids at most) rather than left to
    the practice, so each one's visits of the period are one range of the index, read in its order,
    whatever other periods the table holds (SQLite, given statistics, would otherwise skip-scan the
    index and sort every visit to group them)."""
    doctors = sorted(doctors) or [0]  # (no clinician: nothing matches)
    ops = connection.ops
    table = ops.quote_name(VisitAccess._meta.db_table)
    if template is None and connection.vendor == "sqlite":
        # The first rows in name order: SQLite's planner, given statistics, prefers the period's
        # range and sorts every missed patient (40 ms a clinician at 25,000) to walking this index
        # (under 1 ms); PostgreSQL picks it by itself.
        table += " INDEXED BY visit_access_names_idx"
    sql = (template or PAIRS_SQL).format(table=table, doctors=", ".join(["%s"] * len(doctors)))
    start, end = ops.adapt_datetimefield_value(period.start), ops.adapt_datetimefield_value(period.end)
    born_by = latest_birth_date(_today(scope.practice, now), scope.practice.minimum_age)
    return sql, [start, ops.adapt_datetimefield_value(now), ops.adapt_datefield_value(born_by),
                 scope.practice.pk, *doctors, start, end, end]


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _missed(practice: Practice, now: datetime.datetime, row) -> "Missed":
    doctor_id, patient_id, last, first, reason, closes, last_visit, has_email, has_identity, born = row[:10]
    reason = REASONS[reason]
    detail = ""
    if reason == NOT_ELIGIBLE:  # the words for what is missing (which the SQL only counted)
        if isinstance(born, str):
            born = datetime.date.fromisoformat(born)
        detail = "; ".join(rules.missing(
            has_email=bool(has_email), has_ssn=bool(has_identity), has_date_of_birth_and_phone=bool(has_identity),
            age=rules.age_on(_today(practice, now), born) if born else None, minimum_age=practice.minimum_age))
    return Missed(doctor_id, patient_id, "", f"{first} {last}", _moment(last_visit), _moment(closes), reason, detail)


# One row per (clinician, patient) pair seen in the period: its last visit in the period (the pair's
# next visit starts after the period, or there is none: VisitAccess.next_starts_at), which carries
# what the pair needs: the latest deadline and start, and the start of the pair's latest timely visit
# so far (last_timely_at: in the period means the pair is in the numerator). No grouping of visits:
# one index entry read per visit, one row kept per pair. `reason` is NULL (timely) or why not, as an
# index into REASONS: the window still open; then judged on the patient's details today as
# rules.missing says (no email; no SSN and no date of birth with a phone, or born after the latest
# date old enough today).
REASON_CASE = """CASE WHEN last_timely_at >= %s THEN NULL
            WHEN deadline > %s THEN {0}
            WHEN NOT has_email THEN {1}
            WHEN NOT has_identity OR date_of_birth > %s THEN {2}
            ELSE {3} END"""
REASON_SQL = REASON_CASE.format(*range(len(REASONS)))
LAST_VISITS_SQL = """FROM {table}
WHERE practice_id = %s AND doctor_id IN ({doctors}) AND starts_at >= %s AND starts_at < %s
  AND (next_starts_at IS NULL OR next_starts_at >= %s)"""
PAIRS_SQL = """
SELECT doctor_id, patient_id, last_name, first_name, """ + REASON_SQL + """ AS reason, deadline AS closes,
       starts_at AS last_visit, has_email, has_identity, date_of_birth
""" + LAST_VISITS_SQL
# The counts read visit_access_period_idx alone (every column they name is in it), in its order.
# SQLite writes the subquery's CASE into each aggregate naming it, so every aggregate costs the CASE
# again (~0.09 s per 300,000 pairs): two aggregates, not six. The missed pairs are counted
# (COUNT: every reason is a number) and their first three reasons summed as the digits of one number
# in base REASON_BASE (the last reason weighs 0: the missed minus the other three); a digit holds up
# to 1,048,575 pairs of one clinician in one period, and the sum stays within 64 bits.
REASON_BASE = 2**20
COUNTS_SQL = """
SELECT doctor_id, COUNT(*), COUNT(weight), SUM(weight)
FROM (SELECT doctor_id, """ + REASON_CASE.format(1, REASON_BASE, REASON_BASE**2, 0) + """ AS weight
""" + LAST_VISITS_SQL + """) pairs GROUP BY doctor_id ORDER BY doctor_id
"""


def _by_reason(missed: int, weights: int) -> dict[str, int]:
    """The missed pairs of one clinician by reason (no zeros), from COUNTS_SQL's count and sum."""
    digits = [weights // REASON_BASE**place % REASON_BASE for place in range(len(REASONS) - 1)]
    return {key: n for key, n in zip(REASONS, [*digits, missed - sum(digits)], strict=True) if n}


# One clinician's pairs (PAIRS_SQL with its doctor), one reason: the first N in name order, walking
# visit_access_names_idx in its order.
FIRST_SQL = ("SELECT * FROM ({pairs}) pairs WHERE reason = %s "
             "ORDER BY doctor_id, last_name, first_name, patient_id LIMIT %s")
ALL_MISSED_SQL = """
SELECT j.*, p.chart_number FROM ({pairs}) j JOIN {patients} p ON p.id = j.patient_id
WHERE j.reason IS NOT NULL ORDER BY {rank}, j.reason, j.last_name, j.first_name, j.patient_id
"""


def _moment(value) -> datetime.datetime:
    """A timestamp from raw SQL: PostgreSQL gives an aware datetime, SQLite text in UTC."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=datetime.UTC)


# --- the worklist: visits whose window closes today or tomorrow, with no access yet --------------

@dataclass(frozen=True)
class WorklistVisit:
    appointment_id: int
    patient_id: int
    chart_number: str
    name: str
    doctor_id: int
    starts_at: datetime.datetime
    closes_on: datetime.date
    missing: list[str]  # why the patient cannot be invited now ([] when eligible)

    @property
    def eligible(self) -> bool:
        return not self.missing


def due_visits(scope: Scope, *, now: datetime.datetime | None = None, days: int = 2) -> QuerySet[Appointment]:
    """Completed visits (started by now) whose window closes today or within `days` - 1 days after,
    the patient given no access since (no working link, no live connection), annotated `deadline`."""
    now = now or timezone.now()
    practice, today = scope.practice, _today(scope.practice, now)
    holidays = practice.holiday_dates
    closing = [today + datetime.timedelta(days=n) for n in range(days)]
    visit_days = sorted({day for close in closing for day in business_days.visits_closing_on(close, holidays)})
    if not visit_days:
        return scope.visits(now, now).annotate(deadline=Value(now, output_field=DateTimeField()))  # none
    tz = practice.tzinfo
    in_days = Q()
    for day in visit_days:
        in_days |= Q(starts_at__gte=midnight(day, tz), starts_at__lt=midnight(day + datetime.timedelta(days=1), tz))
    deadlines = Case(*(When(starts_at__gte=midnight(day, tz), starts_at__lt=midnight(day + datetime.timedelta(days=1), tz),
                            then=Value(midnight(business_days.window_closes(day, holidays) + datetime.timedelta(days=1),
                                                tz)))
                       for day in visit_days), output_field=DateTimeField())
    return (scope.visits(midnight(visit_days[0], tz), now).filter(in_days).annotate(deadline=deadlines)
            .filter(~timely()))


def worklist(scope: Scope, *, now: datetime.datetime | None = None) -> list[WorklistVisit]:
    """The due visits, soonest deadline first, each with what stops an invitation (one query)."""
    now = now or timezone.now()
    today = _today(scope.practice, now)
    rows = (due_visits(scope, now=now).order_by("deadline", "starts_at", "id")
            .values_list("id", "patient_id", "patient__chart_number", "patient__first_name", "patient__last_name",
                         "doctor_id", "starts_at", "deadline", "patient__email", "patient__ssn_last4",
                         "patient__date_of_birth", "patient__phone"))
    return [WorklistVisit(pk, patient_id, chart, f"{first} {last}", doctor_id, starts_at,
                          (deadline.astimezone(scope.practice.tzinfo) - datetime.timedelta(days=1)).date(),
                          rules.missing(has_email=bool(email), has_ssn=bool(ssn4),
                                        has_date_of_birth_and_phone=bool(born and phone),
                                        age=rules.age_on(today, born) if born else None,
                                        minimum_age=scope.practice.minimum_age))
            for pk, patient_id, chart, first, last, doctor_id, starts_at, deadline, email, ssn4, born, phone in rows]


def due_today_by_doctor(practice: Practice, *, now: datetime.datetime) -> dict[int, int]:
    """Doctor id -> how many of their visits' windows close today with no access given (one query)."""
    return dict(due_visits(Scope(practice), now=now, days=1).values("doctor_id").order_by("doctor_id")
                .annotate(n=Count("id")).values_list("doctor_id", "n"))
