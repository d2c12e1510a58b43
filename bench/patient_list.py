"""Benchmark: the staff patient list for a practice of 100,000 patients.

Run with `make bench` (SQLite in a temporary folder) or `DATABASE_URL=postgres://... make bench`.
Each case is timed against a baseline measured in the same run on the same data: a plain page of
the practice's patients, with no portal state. The ratio is the cost of what Portico adds.
"""

import datetime
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portico.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("PORTICO_VAR_DIR", tempfile.mkdtemp(prefix="portico-bench-"))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from access.models import Connection, Invitation  # noqa: E402
from access.selectors import PortalState  # noqa: E402
from access.tokens import hash_token  # noqa: E402
from clinic.models import Patient, Practice, StaffMember  # noqa: E402
from clinic.selectors import search_patients  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))


def build() -> StaffMember:
    call_command("migrate", verbosity=0)
    practice = Practice.objects.create(name="Large Practice")
    user = get_user_model().objects.create_user(username="bench")  # signed in with force_login
    staff = StaffMember.objects.create(user=user, practice=practice)
    now = timezone.now()
    started = time.perf_counter()
    Patient.objects.bulk_create(
        (Patient(practice=practice, chart_number=f"C{i:06d}", first_name=f"First{i % 997}", last_name=f"Last{i % 1499}",
                 email=f"p{i}@example.test" if i % 10 else "", date_of_birth=datetime.date(1980, 1, 1) if i % 3 else None,
                 phone=f"+1555{i:07d}" if i % 3 else "") for i in range(PATIENTS)),
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
    print(f"Built {PATIENTS:,} patients, {len(invited):,} invitations in {time.perf_counter() - started:.1f} s "
          f"on {django.db.connection.vendor}.")
    return staff


def timed(fn) -> float:
    fn()  # warm up
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def page_of(queryset):
    page = Paginator(queryset, 25).get_page(1)
    return page.paginator.count, list(page)


def main() -> None:
    staff = build()
    client = Client()
    client.force_login(staff.user)
    plain = Patient.objects.filter(practice=staff.practice).order_by("last_name", "first_name", "id")
    cases = {
        "baseline: plain page of patients (count + 25 rows)": lambda: page_of(plain),
        "page with portal state": lambda: page_of(search_patients(staff)),
        "filter: pending": lambda: page_of(search_patients(staff, state=PortalState.PENDING)),
        "filter: not eligible": lambda: page_of(search_patients(staff, state=PortalState.NOT_ELIGIBLE)),
        "search: a name": lambda: page_of(search_patients(staff, q="Last42")),
        "search: a phone": lambda: page_of(search_patients(staff, q="(555) 000-0042")),
        "whole page GET /patients/?status=pending": lambda: client.get("/patients/", {"status": "pending"}),
    }
    baseline = None
    print(f"\n{'case':<48} {'median':>10} {'x baseline':>11}")
    for name, fn in cases.items():
        seconds = timed(fn)
        baseline = baseline or seconds
        print(f"{name:<48} {seconds * 1000:>8.1f}ms {seconds / baseline:>10.1f}x")


if __name__ == "__main__":
    main()
