"""Cases 1 and 3: bulk invitations and the expiry sweep, each next to its baseline measured in the same run.

1. A bulk invitation job over N eligible patients (BENCH_INVITE_PATIENTS, default 100,000), as
   `manage.py invite_patients --all-eligible` runs it: the selection snapshot, the rules, the
   invitation, its history event (sealed) and its outbox mail, committed chunk by chunk. Next to
   (a) a bare executemany of the same invitation, event and outbox rows (built beforehand) into the
   same tables in one transaction: the physical limit; and (b) send_invitation in a loop, on a
   sample of BENCH_INVITE_SAMPLE patients (default 2,000), its rate extrapolated.
3. The expiry sweep over BENCH_PENDING pending invitations (default 1,000,000) of which BENCH_LAPSED
   (default 10,000) have lapsed: time and rows touched, next to a bare UPDATE of the lapsed rows and
   an INSERT of their events.

Run alone with `.venv/bin/python bench/bulk_invite.py`, or in `make bench` (bench/run.py).
"""

import datetime
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, scaled, setup

if __name__ == "__main__":
    setup()

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from access import history, tokens
from access.actions import expiry, jobs, sending
from access.models import AccessEvent, Channel, Invitation
from clinic.models import Patient, Practice, StaffMember
from mail.models import Message
from portico.bulk import insert_statement
from portico.crypto import seal

TARGET_INVITE = "within 2x of (a)"


def practice_with_patients(name: str, count: int) -> tuple[Practice, StaffMember]:
    """A practice of `count` eligible patients (email, date of birth and phone), written in bulk."""
    practice = Practice.objects.create(name=name)
    user = get_user_model().objects.create_user(username=f"bench-{secrets.token_hex(4)}")
    staff = StaffMember.objects.create(user=user, practice=practice)
    Patient.objects.bulk_create(
        (Patient(practice=practice, chart_number=f"B{i:07d}", first_name=f"First{i % 997}", last_name=f"Last{i % 1499}",
                 email=f"b{i}@example.test", date_of_birth=datetime.date(1980, 1, 1), phone=f"+1555{i % 10**7:07d}")
         for i in range(count)), batch_size=5000)
    return practice, staff


def executemany(statement: tuple[str, list[tuple]]) -> None:
    sql, rows = statement
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


# --- case 1 ---------------------------------------------------------------------------------------

def bare_invitation_rows(practice: Practice, staff: StaffMember) -> float:
    """(a): the rows one invitation adds (invitation, event, outbox mail), built and converted to column
    values first, then inserted with executemany in one transaction. Returns seconds for that alone."""
    patients = list(Patient.objects.filter(practice=practice).values_list("pk", "email"))
    now = timezone.now()
    first_id = (Invitation.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    invitations, events, messages = [], [], []
    key_id, _ = history.current_key()
    for n, (patient_id, email) in enumerate(patients):
        token, invitation_id = tokens.new_token(), first_id + n
        invitations.append(Invitation(
            id=invitation_id, practice_id=practice.pk, patient_id=patient_id, token_hash=tokens.hash_token(token),
            email=email, channel=Channel.BULK, sent_by_id=staff.pk, sent_at=now, expires_at=now + datetime.timedelta(days=7)))
        events.append(AccessEvent(
            practice_id=practice.pk, patient_id=patient_id, invitation_id=invitation_id, at=now, actor_kind="staff",
            actor_id=staff.user_id, actor_role="staff", action="invitation.sent", channel=Channel.BULK,
            key_id=key_id, hash=secrets.token_hex(32)))
        key = f"invitation:{invitation_id}"
        messages.append(Message(
            kind=Message.Kind.INVITATION, to=email, dedupe_key=key,
            invitation_id=invitation_id, context={"practice": practice.name, "expires": "soon"},
            secret_link=seal(Message, "secret_link", settings.PORTICO_BASE_URL + reverse("portal:landing", args=[token]),
                             dedupe_key=key),
            next_attempt_at=now, created_at=now))
    statements = [insert_statement(Invitation, invitations), insert_statement(AccessEvent, events),
                  insert_statement(Message, messages)]
    started = time.perf_counter()
    with transaction.atomic():
        for statement in statements:
            executemany(statement)
    seconds = time.perf_counter() - started
    # Make way for the product's run over the same patients.
    Message.objects.filter(dedupe_key__in=[m.dedupe_key for m in messages]).delete()
    AccessEvent.objects.filter(practice=practice).delete()
    Invitation.objects.filter(practice=practice).delete()
    return seconds


def bulk_job(practice: Practice, staff: StaffMember) -> float:
    """The product: the job invite_patients --all-eligible runs, in-process."""
    started = time.perf_counter()
    job = jobs.start_invitation_job(practice, Patient.objects.filter(practice=practice), by=staff,
                                       selection="bench", enqueue=False)
    job = jobs.run_invitation_job(job.pk)
    seconds = time.perf_counter() - started
    assert (job.invited, job.skipped) == (job.total, 0), (job.invited, job.skipped)
    assert not AccessEvent.objects.filter(practice=practice, sequence__isnull=True).exists()
    return seconds


def one_at_a_time(practice: Practice, staff: StaffMember) -> float:
    """(b): send_invitation for each patient in turn; returns seconds."""
    patients = list(Patient.objects.filter(practice=practice))
    started = time.perf_counter()
    for patient in patients:
        sending.send_invitation(patient, by=staff, channel=Channel.CHART)
    return time.perf_counter() - started


def case_1() -> list[Row]:
    count, sample = scaled("INVITE_PATIENTS", 100000), scaled("INVITE_SAMPLE", 2000)
    started = time.perf_counter()
    practice, staff = practice_with_patients("Bulk bench", count)
    small, small_staff = practice_with_patients("One at a time bench", sample)
    print(f"  case 1: built {count:,} + {sample:,} patients in {time.perf_counter() - started:.1f} s")
    bare = count / bare_invitation_rows(practice, staff)
    print(f"  case 1: (a) bare executemany {bare:,.0f} invitations/s")
    product = count / bulk_job(practice, staff)
    print(f"  case 1: bulk job {product:,.0f} invitations/s")
    single = sample / one_at_a_time(small, small_staff)
    print(f"  case 1: (b) send_invitation loop {single:,.0f} invitations/s ({sample:,} sample)")
    return [
        Row(f"1 bulk invite {count:,}: (a) bare executemany, 3 tables", f"{bare:,.0f} inv/s",
            target="the physical limit"),
        Row(f"1 bulk invite {count:,}: invitation job (rules, seal, outbox)", f"{product:,.0f} inv/s",
            f"{bare:,.0f} inv/s", product / bare, TARGET_INVITE),
        Row(f"1 (b) send_invitation loop, {sample:,} sample, extrapolated", f"{single:,.0f} inv/s",
            f"{bare:,.0f} inv/s", single / bare, "(the one-at-a-time path)"),
    ]


# --- case 3 ---------------------------------------------------------------------------------------

def pending_invitations(practice: Practice, pending: int, lapsed: int) -> None:
    """`pending` patients each with a pending invitation, the first `lapsed` of them past expiry."""
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, pending, 50000):
            executemany(insert_statement(Patient, (
                Patient(practice_id=practice.pk, chart_number=f"E{i:07d}", first_name="E", last_name="E",
                        email=f"e{i}@example.test", created_at=now) for i in range(start, min(pending, start + 50000)))))
        patient_ids = list(Patient.objects.filter(practice=practice).order_by("id").values_list("id", flat=True))
        for start in range(0, pending, 50000):
            executemany(insert_statement(Invitation, (
                Invitation(practice_id=practice.pk, patient_id=patient_id, token_hash=secrets.token_hex(32),
                           email="x@example.test", channel=Channel.BULK, sent_at=now,
                           expires_at=now + datetime.timedelta(seconds=-60 if n < lapsed else 7 * 86400))
                for n, patient_id in enumerate(patient_ids[start:start + 50000], start=start))))


def bare_sweep(practice: Practice, lapsed_ids: list[int]) -> float:
    """One UPDATE of the lapsed rows and an executemany of their events, in one transaction."""
    key_id, _ = history.current_key()
    now = timezone.now()
    events = insert_statement(AccessEvent, (
        AccessEvent(practice_id=practice.pk, patient_id=patient_id, invitation_id=pk, at=now, actor_kind="system",
                    actor_role="system", action="invitation.expired", channel=Channel.BULK, key_id=key_id,
                    hash=secrets.token_hex(32))
        for pk, patient_id in Invitation.objects.filter(pk__in=lapsed_ids).values_list("pk", "patient_id")))
    started = time.perf_counter()
    with transaction.atomic():
        Invitation.objects.filter(pk__in=lapsed_ids).update(status="expired", closed_at=now)
        executemany(events)
    return time.perf_counter() - started


def case_3() -> list[Row]:
    pending, lapsed = scaled("PENDING", 1000000), scaled("LAPSED", 10000)
    practice = Practice.objects.create(name="Expiry bench")
    started = time.perf_counter()
    pending_invitations(practice, pending, lapsed)
    print(f"  case 3: built {pending:,} pending invitations ({lapsed:,} lapsed) in {time.perf_counter() - started:.1f} s")
    lapsed_ids = list(Invitation.objects.filter(practice=practice, expires_at__lte=timezone.now())
                      .values_list("pk", flat=True))
    # The product first; then the same rows are put back to pending for the baseline.
    started = time.perf_counter()
    expired = expiry.expire_invitations()
    product = time.perf_counter() - started
    touched = Invitation.objects.filter(practice=practice, status="expired").count()
    events = AccessEvent.objects.filter(practice=practice, action="invitation.expired").count()
    assert expired == touched == events == lapsed, (expired, touched, events)
    assert Invitation.objects.filter(practice=practice, status="pending").count() == pending - lapsed
    print(f"  case 3: sweep {product:.2f} s: {touched:,} invitations closed, {events:,} events added and sealed")
    with transaction.atomic():
        AccessEvent.objects.filter(practice=practice).delete()
        Invitation.objects.filter(pk__in=lapsed_ids).update(status="pending", closed_at=None)
        Practice.objects.filter(pk=practice.pk).update(history_head="")
    bare = bare_sweep(practice, lapsed_ids)
    print(f"  case 3: bare UPDATE + INSERT {bare:.2f} s")
    return [Row(f"3 expiry sweep, {lapsed:,} lapsed of {pending:,} pending (touched {touched:,} + {events:,} events)",
                f"{product:.2f} s", f"{bare:.2f} s", product / bare, "only the lapsed rows and their events")]


def run() -> list[Row]:
    return case_1() + case_3()


if __name__ == "__main__":
    from bench.run import print_table

    print(f"on {connection.vendor}")
    print_table(run())
