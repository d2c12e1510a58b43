"""The measure's summary, VisitAccess (one row per completed visit: its deadline, whether access was
given in time, the patient's details the missed list needs), kept right by the actions that change
those facts, each inside its own transaction:

- a visit completed (clinic.services.complete_appointment): that visit;
- an invitation sent, a connection made (sending.send_many, acceptance._connect), a link or a
  connection closed (steps.close_invitation, acceptance.disconnect_practice, sending._revoke_connection):
  the patients' visits whose window has not closed yet (a closing matters only to a visit that starts
  later);
- a patient's name or details (clinic.services.update_patient: the page, the import, the API): all
  their visits;
- the practice's holidays (practice_settings.change_practice_settings): the visits whose window holds
  a changed day.

An expiry changes nothing: it sets closed_at to expires_at, which the rule already reads. Every
refresh is the same set-wise statement as `rebuild` (delete the rows, INSERT ... SELECT them again
from the appointments, invitations, connections and patients), so a kept row always equals a rebuilt one.

Each row also carries two columns chained along the visits of one patient with one clinician (a
"pair"), so the report counts each pair once without grouping the visits (docs/performance.md,
"Reports"): the pair's next visit's start, and the start of the pair's latest timely visit up to this
one. A visit changed can change those of the pair's other visits, so a refresh always works out every
visit of the patients concerned (a patient has a few visits a year: small)."""

import datetime
from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField, Case, F, Max, Min, Q, QuerySet, Value, When
from django.utils import timezone

from access import business_days
from access.models import VisitAccess
from access.reports import deadline_of_visit, deadline_ranges, midnight, timely
from clinic.models import Appointment, Practice
from portico.bulk import among

HAS_IDENTITY = ~Q(patient__ssn_last4="") | (Q(patient__date_of_birth__isnull=False) & ~Q(patient__phone=""))
# VisitAccess's columns, and the expression each is worked out by (over completed appointments).
COLUMNS = {
    "appointment_id": F("id"),
    "practice_id": F("practice_id"),
    "doctor_id": F("doctor_id"),
    "patient_id": F("patient_id"),
    "starts_at": F("starts_at"),
    "deadline": F("deadline"),
    "timely": Case(When(timely(), then=Value(True)), default=Value(False), output_field=BooleanField()),
    "last_name": F("patient__last_name"),
    "first_name": F("patient__first_name"),
    "has_email": Case(When(patient__email="", then=Value(False)), default=Value(True), output_field=BooleanField()),
    "has_identity": Case(When(HAS_IDENTITY, then=Value(True)), default=Value(False), output_field=BooleanField()),
    "date_of_birth": F("patient__date_of_birth"),
}


def computed(practice: Practice, visits: QuerySet[Appointment]) -> QuerySet:
    """What the rows of these appointments of `practice` should be (its completed ones), as values()
    keyed like COLUMNS with a `v_` prefix (the aliases the INSERT reads by name). A read: the test
    that kept rows equal rebuilt ones compares against it."""
    visits = visits.filter(practice_id=practice.pk, status=Appointment.Status.COMPLETED)
    span = visits.aggregate(first=Min("starts_at"), last=Max("starts_at"))
    tz = practice.tzinfo
    first, last = ((span["first"].astimezone(tz).date(), span["last"].astimezone(tz).date()) if span["first"]
                   else (timezone.localdate(timezone=tz),) * 2)  # no visits: the same shape, no rows
    days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    ranges = deadline_ranges(days, tz, practice.holiday_dates)
    return (visits.order_by().annotate(deadline=deadline_of_visit(ranges))
            .annotate(**{f"v_{name}": expression for name, expression in COLUMNS.items()})
            .values(*(f"v_{name}" for name in COLUMNS)))


# The chained columns, over every visit of the pair (ties in start broken by the appointment's id).
CHAINED = {"next_starts_at": "LEAD(computed.v_starts_at) OVER pair",
           "last_timely_at": "MAX(CASE WHEN computed.v_timely THEN computed.v_starts_at END) OVER "
                             "(pair ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"}


def chained(practice: Practice, visits: QuerySet[Appointment]) -> tuple[str, list]:
    """computed() with the CHAINED columns (`v_` names too), as SQL and its parameters. `visits` must
    hold every visit of their pairs. A read: the test of kept rows against rebuilt ones runs it."""
    sql, params = computed(practice, visits).query.sql_with_params()
    q = connection.ops.quote_name
    chosen = ", ".join([*(f"computed.{q('v_' + name)}" for name in COLUMNS),
                        *(f"{expression} AS {q('v_' + name)}" for name, expression in CHAINED.items())])
    order = f"computed.{q('v_starts_at')}, computed.{q('v_appointment_id')}"
    # (WHERE true: an upsert's INSERT ... SELECT needs one, or SQLite reads its ON CONFLICT as a join's ON.)
    return (f"SELECT {chosen} FROM ({sql}) AS computed WHERE true "  # noqa: S608 (names from the model)
            f"WINDOW pair AS (PARTITION BY computed.{q('v_doctor_id')}, computed.{q('v_patient_id')} ORDER BY {order})",
            list(params))


def _write(practice: Practice, visits: QuerySet[Appointment]) -> int:
    """INSERT the rows, or UPDATE those a concurrent refresh of the same visits committed meanwhile.
    (On PostgreSQL a holidays change refreshes visits without their patients' locks; a send waiting
    on the rows it deleted then finds its own DELETE missed the rows that change inserted. Both
    statements work from the facts committed when they start, so the later one's values are right.)"""
    sql, params = chained(practice, visits)
    q = connection.ops.quote_name
    names = [q(VisitAccess._meta.get_field(name).column) for name in [*COLUMNS, *CHAINED]]
    key = q(VisitAccess._meta.pk.column)
    updated = ", ".join(f"{name} = excluded.{name}" for name in names if name != key)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {q(VisitAccess._meta.db_table)} ({', '.join(names)}) {sql} "
                       f"ON CONFLICT ({key}) DO UPDATE SET {updated}", params)
        return cursor.rowcount


def refresh(practice: Practice, visits: QuerySet[Appointment]) -> int:
    """Work the rows of these appointments (of `practice`) out again, with every other visit of their
    patients (the chained columns): four statements. Returns the rows written."""
    patient_ids = sorted(set(visits.values_list("patient_id", flat=True)))
    if not patient_ids:
        return 0  # (no visit: nothing to write, and no statement to build)
    VisitAccess.objects.filter(patient_id__in=among(patient_ids)).delete()
    # The holidays read after the DELETE: if it waited for a holidays change to commit, the rows are
    # worked out with that change's days, not those of the practice loaded before (see _write).
    practice = Practice.objects.only("pk", "time_zone", "holidays").get(pk=practice.pk)
    return _write(practice, Appointment.objects.filter(practice_id=practice.pk, patient_id__in=among(patient_ids)))


def rebuild(practice: Practice) -> int:
    """Every row of the practice worked out again (the backfill; a check that nothing drifted)."""
    VisitAccess.objects.filter(practice_id=practice.pk).delete()
    return _write(practice, Appointment.objects.filter(practice_id=practice.pk))


def visit_completed(appointment: Appointment) -> None:
    refresh(appointment.practice, Appointment.objects.filter(pk=appointment.pk))


def access_changed(patient_ids: Iterable[int], *, now: datetime.datetime | None = None) -> None:
    """An invitation sent, a connection made, a link or connection closed, at `now`, for these
    patients: only visits whose window is still open can change (a closed window's moments are all
    in the past), found by the (patient, deadline) index; their patients' visits are worked out again."""
    now = now or timezone.now()
    by_practice: dict[int, set[int]] = {}
    for practice_id, patient_id in (VisitAccess.objects.filter(patient_id__in=among(sorted(set(patient_ids))),
                                                               deadline__gt=now)
                                    .values_list("practice_id", "patient_id")):
        by_practice.setdefault(practice_id, set()).add(patient_id)
    for practice_id, ids in by_practice.items():  # (read first: refresh deletes the rows it would read)
        refresh(Practice.objects.get(pk=practice_id), Appointment.objects.filter(patient_id__in=among(sorted(ids))))


def patient_changed(patient) -> None:
    """The patient's name or details changed: their rows carry copies."""
    refresh(patient.practice, Appointment.objects.filter(patient_id=patient.pk))


def holidays_changed(practice: Practice, before: Iterable[str], after: Iterable[str]) -> None:
    """The visits whose window holds a day added or removed (with either list: the window reached it
    before or reaches it now), from the first such visit day to the last changed day."""
    changed = {datetime.date.fromisoformat(day) for day in set(before) ^ set(after)}
    if not changed:
        return
    both = {datetime.date.fromisoformat(day) for day in (*before, *after)}
    first = min(changed) - datetime.timedelta(days=1)
    while business_days.window_closes(first - datetime.timedelta(days=1), both) >= min(changed):
        first -= datetime.timedelta(days=1)
    tz = practice.tzinfo
    refresh(practice, Appointment.objects.filter(
        practice_id=practice.pk, starts_at__gte=midnight(first, tz), starts_at__lt=midnight(max(changed), tz)))
