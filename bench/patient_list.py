"""Case: the staff patient list for a practice of 100,000 patients (BENCH_PATIENTS, or scaled).

Each case is timed against a baseline measured in the same run on the same data: a plain page of
the practice's patients, with no portal state. The ratio is the cost of what Portico adds. The
practice built here is also the one bench/portal_access.py loads with history.
"""

import datetime
import functools
import secrets
import time

import django
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.test import Client
from django.utils import timezone

from access.models import Connection, Invitation
from access.selectors import PortalState, patients_page
from access.tokens import hash_token
from bench.common import Row, scaled, timed
from clinic.models import Patient, Practice, StaffMember

PRACTICE = "Large Practice"


@functools.cache
def build() -> StaffMember:
    """The practice's staff member; the practice is built unless a kept database (PORTICO_VAR_DIR, or
    DATABASE_URL) already has it, so a full-size run can be repeated without building again."""
    patients = scaled("PATIENTS", 100000)
    if kept := StaffMember.objects.filter(practice__name=PRACTICE, user__username="bench").first():
        print(f"  Reusing the kept practice ({Patient.objects.filter(practice=kept.practice).count():,} patients).")
        return kept
    practice = Practice.objects.create(name=PRACTICE)
    user = get_user_model().objects.create_user(username="bench")  # signed in with force_login
    staff = StaffMember.objects.create(user=user, practice=practice)
    now = timezone.now()
    started = time.perf_counter()
    Patient.objects.bulk_create(
        (Patient(practice=practice, chart_number=f"C{i:06d}", first_name=f"First{i % 997}", last_name=f"Last{i % 1499}",
                 email=f"p{i}@example.test" if i % 10 else "", date_of_birth=datetime.date(1980, 1, 1) if i % 3 else None,
                 phone=f"+1555{i:07d}" if i % 3 else "") for i in range(patients)),
        batch_size=5000,
    )
    ids = list(Patient.objects.filter(practice=practice).values_list("id", flat=True))
    # A third invited: pending, expired, revoked and accepted in turn; every fourth of those connected.
    statuses = [Invitation.Status.PENDING, Invitation.Status.EXPIRED, Invitation.Status.REVOKED,
                Invitation.Status.ACCEPTED]
    invited = ids[::3]
    Invitation.objects.bulk_create(
        (Invitation(practice=practice, patient_id=pid, token_hash=hash_token(secrets.token_urlsafe(32)),
                    email="x@example.test", channel="bulk", status=statuses[n % 4], sent_at=now,
                    expires_at=now + datetime.timedelta(days=7 if n % 4 == 0 else -1)) for n, pid in enumerate(invited)),
        batch_size=5000,
    )
    account = get_user_model().objects.create_user(username="patient@example.test")
    accepted = Invitation.objects.filter(status=Invitation.Status.ACCEPTED)
    Connection.objects.bulk_create(
        (Connection(practice=practice, patient_id=inv.patient_id, account=account, invitation=inv, connected_at=now)
         for inv in accepted.only("id", "patient_id")),
        batch_size=5000,
    )
    print(f"  Built {patients:,} patients, {len(invited):,} invitations in {time.perf_counter() - started:.1f} s "
          f"on {django.db.connection.vendor}.")
    return staff


def page_of(queryset):
    page = Paginator(queryset, 25).get_page(1)
    return page.paginator.count, list(page)


def listed(staff: StaffMember, **search):
    """The first page as the patient list reads it (count, 25 rows, their portal state)."""
    page = patients_page(staff, number=1, per_page=25, **search)
    return page.paginator.count, list(page)


def run() -> list[Row]:
    staff = build()
    client = Client()
    client.force_login(staff.user)
    plain = Patient.objects.filter(practice=staff.practice).order_by("last_name", "first_name", "id")
    cases = {
        "baseline: plain page of patients (count + 25 rows)": lambda: page_of(plain),
        "page with portal state": lambda: listed(staff),
        "filter: pending": lambda: listed(staff, state=PortalState.PENDING),
        "filter: not eligible": lambda: listed(staff, state=PortalState.NOT_ELIGIBLE),
        "search: a name": lambda: listed(staff, q="Last42"),
        "search: a phone": lambda: listed(staff, q="(555) 000-0042"),
        "whole page GET /patients/?status=pending": lambda: client.get("/patients/", {"status": "pending"}),
    }
    rows, baseline = [], None
    for name, fn in cases.items():
        seconds = timed(fn)
        if baseline is None:
            baseline = seconds
            rows.append(Row(f"patient list: {name}", f"{seconds * 1000:.1f} ms"))
        else:
            rows.append(Row(f"patient list: {name}", f"{seconds * 1000:.1f} ms", f"{baseline * 1000:.1f} ms",
                            seconds / baseline, "median of 5"))
    return rows
