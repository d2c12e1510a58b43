"""Case: the Reports page's figures for a year (the funnel, where patients stop, by channel, by age
band, by doctor, connected over time, the PI_PEA_1 measure per clinician with its missed patients
counted by reason and the first 100 per clinician listed) over a practice of
100,000 patients (BENCH_REPORT_PATIENTS), 300,000 completed appointments in the year
(BENCH_REPORT_APPOINTMENTS) and 1,000,000 history events (BENCH_REPORT_EVENTS), next to a plain
COUNT(*) over the same rows (the year's appointments, the practice's patients, the year's invitations,
the practice's connections), measured in the same run. Target: under 1 s."""

import datetime
import secrets
import time
import zoneinfo

import django
from django.contrib.auth import get_user_model
from django.db.models import Count

from access import reports
from access.actions import visit_access
from access.models import AccessEvent, Connection, Invitation
from access.reports import YEAR, Scope, named_period
from access.tokens import hash_token
from bench.common import Row, scaled, timed
from clinic.models import Appointment, Patient, Practice, StaffMember
from clinic.views import report_tables

DOCTORS = 12
NY = zoneinfo.ZoneInfo("America/New_York")


def build() -> tuple[Practice, object]:
    n_patients = scaled("REPORT_PATIENTS", 100000)
    n_visits = scaled("REPORT_APPOINTMENTS", 300000)
    n_events = scaled("REPORT_EVENTS", 1000000)
    started = time.perf_counter()
    practice = Practice.objects.create(name="Reporting Practice", time_zone="America/New_York",
                                       holidays=["2026-01-01", "2026-07-03", "2026-11-26", "2026-12-25"])
    User = get_user_model()
    doctors = [StaffMember.objects.create(user=User.objects.create_user(username=f"report-doctor-{i}", last_name=f"Doc{i}"),
                                          practice=practice, role=StaffMember.Role.DOCTOR) for i in range(DOCTORS)]
    Patient.objects.bulk_create(
        (Patient(practice=practice, doctor=doctors[i % DOCTORS], chart_number=f"R{i:06d}", first_name=f"F{i % 997}",
                 last_name=f"L{i % 1499}", email=f"r{i}@example.test" if i % 10 else "",
                 date_of_birth=datetime.date(1970 + i % 40, 1 + i % 12, 1 + i % 28) if i % 3 else None,
                 phone=f"+1555{i:07d}" if i % 3 else "") for i in range(n_patients)), batch_size=5000)
    ids = list(Patient.objects.filter(practice=practice).order_by("pk").values_list("pk", flat=True))
    year = named_period(YEAR, datetime.date(2026, 6, 1), NY)
    seconds = int((year.end - year.start).total_seconds())
    base = year.start.astimezone(datetime.UTC)  # (wall-clock arithmetic across DST could end a visit before it starts)
    rng_step = 7919  # a prime: visits spread over the year and the patients
    Appointment.objects.bulk_create(
        (Appointment(practice=practice, patient_id=ids[(k * rng_step) % len(ids)], doctor=doctors[k % DOCTORS],
                     starts_at=base + datetime.timedelta(seconds=(k * 104729) % seconds),
                     ends_at=base + datetime.timedelta(seconds=(k * 104729) % seconds + 1800),
                     status=Appointment.Status.COMPLETED) for k in range(n_visits)), batch_size=5000)
    # Half the patients invited in the year (one in four of those connected), through several channels.
    S, channels = Invitation.Status, ["chart", "appointment", "bulk", "automatic"]
    statuses = [S.PENDING, S.EXPIRED, S.ACCEPTED, S.LOCKED, S.REVOKED, S.ACCEPTED, S.EXPIRED, S.EXPIRED]
    invited = ids[::2]

    def sent_at(n):
        return base + datetime.timedelta(seconds=(n * 15485863) % seconds)

    Invitation.objects.bulk_create(
        (Invitation(practice=practice, patient_id=pid, token_hash=hash_token(secrets.token_urlsafe(16)),
                    email="x@example.test", channel=channels[n % 4], status=statuses[n % 8], sent_at=sent_at(n),
                    expires_at=sent_at(n) + datetime.timedelta(days=7), failed_checks=n % 3 == 0,
                    identity_verified_at=sent_at(n) + datetime.timedelta(hours=1) if statuses[n % 8] == S.ACCEPTED else None,
                    closed_at=None if statuses[n % 8] == S.PENDING else sent_at(n) + datetime.timedelta(days=1))
         for n, pid in enumerate(invited)), batch_size=5000)
    account = User.objects.create_user(username="report-patient@example.test")
    Connection.objects.bulk_create(
        (Connection(practice=practice, patient_id=pid, account=account, invitation_id=inv,
                    connected_at=at + datetime.timedelta(hours=2))
         for inv, pid, at in Invitation.objects.filter(practice=practice, status=S.ACCEPTED)
         .values_list("pk", "patient_id", "sent_at").iterator(chunk_size=5000)), batch_size=5000)
    invitation_ids = list(Invitation.objects.filter(practice=practice).values_list("pk", "patient_id"))
    actions = [AccessEvent.Action.INVITATION_SENT, AccessEvent.Action.EMAIL_SENT, AccessEvent.Action.EMAIL_FAILED,
               AccessEvent.Action.IDENTITY_FAILED, AccessEvent.Action.STAFF_SIGNED_IN]
    for start in range(0, n_events, 50000):
        AccessEvent.objects.bulk_create(
            (AccessEvent(practice=practice, patient_id=invitation_ids[e % len(invitation_ids)][1],
                         invitation_id=invitation_ids[e % len(invitation_ids)][0],
                         at=base + datetime.timedelta(seconds=(e * 7) % seconds), actor_kind="system",
                         action=actions[e % len(actions)], sequence=e + 1, hash="0" * 64)
             for e in range(start, min(start + 50000, n_events))), batch_size=5000)
    visit_access.rebuild(practice)  # the visits were bulk-made, not completed one by one: their summary
    # The statistics (and on PostgreSQL the visibility map index-only scans need) that autovacuum would
    # have made by the time anyone reads a report of these rows.
    with django.db.connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if django.db.connection.vendor == "postgresql" else "ANALYZE")
    print(f"  Built {n_patients:,} patients, {n_visits:,} visits, {len(invitation_ids):,} invitations, "
          f"{n_events:,} events in {time.perf_counter() - started:.1f} s on {django.db.connection.vendor}.")
    return practice, year


def run() -> list[Row]:
    practice, year = build()
    doctor = StaffMember.objects.filter(practice=practice).order_by("pk").first()

    def plain_counts():
        return (Appointment.objects.filter(practice=practice, starts_at__gte=year.start, starts_at__lt=year.end,
                                           status=Appointment.Status.COMPLETED).aggregate(n=Count("*")),
                Patient.objects.filter(practice=practice).aggregate(n=Count("*")),
                Invitation.objects.filter(practice=practice, sent_at__gte=year.start, sent_at__lt=year.end)
                .aggregate(n=Count("*")),
                Connection.objects.filter(practice=practice).aggregate(n=Count("*")))

    baseline = timed(plain_counts)
    whole = timed(lambda: report_tables.build(Scope(practice), year, with_doctors=True))
    one = timed(lambda: report_tables.build(Scope(practice, doctor), year, with_doctors=False))
    measure = timed(lambda: reports.measure(Scope(practice), year))
    built = report_tables.build(Scope(practice), year, with_doctors=True)
    denominators = sum(m.denominator for m in built.measure)
    return [
        Row("reports: baseline: plain COUNT(*) of the same rows (4 tables)", f"{baseline * 1000:.1f} ms"),
        Row(f"reports: a year, the practice (measure: {denominators:,} patient-clinician pairs)",
            f"{whole * 1000:.0f} ms", f"{baseline * 1000:.1f} ms", whole / baseline, "< 1 s; median of 5"),
        Row("reports: a year, one doctor", f"{one * 1000:.0f} ms", f"{baseline * 1000:.1f} ms", one / baseline,
            "< 1 s; median of 5"),
        Row("reports: (part) the measure alone, the practice", f"{measure * 1000:.0f} ms", f"{baseline * 1000:.1f} ms",
            measure / baseline, "where the time goes"),
    ]
