"""Bulk invitation jobs: a snapshot of the chosen patients, sent by the task worker in chunks (one
transaction each, through sending.send_many), resumable after a killed worker.

The snapshot is a row per chunk of patient ids, not a row per patient: a chunk's transaction sends
its patients (each invitation naming its job), records the skipped ones with their reason, and marks
the chunk done. A killed worker's uncommitted chunk is simply still to do."""

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from access import errors, rules
from access.actions import sending
from access.actions.steps import (
    lock_patients,
)
from access.models import Channel, InvitationJob, InvitationJobChunk, InvitationJobPatient
from clinic.models import Patient, StaffMember
from portico.bulk import insert_dicts
from portico.client import NO_CLIENT

log = logging.getLogger("portico.access")


# Patients sent per transaction: the lock, the rules' facts and the writes stay short, and a killed
# worker loses at most one uncommitted chunk (it is simply done again: its outcomes were not recorded).
JOB_CHUNK = 2000


class WorkerLost(Exception):
    """What a job's task failed of, as recorded when run_periodic finds its worker gone."""


def stalled_after() -> datetime.timedelta:
    """A running job whose chunks have not moved for this long lost its worker (killed, or its node
    died): run_periodic resumes it (PORTICO_JOB_STALLED_SECONDS, 2 minutes by default)."""
    return datetime.timedelta(seconds=settings.PORTICO_JOB_STALLED_SECONDS)


@transaction.atomic(durable=True)
def start_invitation_job(
    practice, patients: QuerySet[Patient], *, by: StaffMember | None, selection: str, enqueue: bool = True,
    key: str | None = None, chunk: int | None = None,
) -> InvitationJob:
    """Snapshot the selected patients of the practice (others are ignored) as a job, and queue the
    task that sends it (run_in_worker; `enqueue=False` to run it in-process with run_invitation_job).
    A `key` (a preview's one-time key) starts one job however often it is given: again, even at the
    same moment, it raises JobAlreadyStarted with the job it started, and changes nothing. The
    patients are sent `chunk` (default JOB_CHUNK) per transaction, in id order."""
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
    ids = list(patients.filter(practice=practice).order_by("pk").values_list("pk", flat=True).distinct())
    chunk = chunk or JOB_CHUNK
    insert_dicts(InvitationJobChunk, ({"job_id": job.pk, "patient_ids": ids[start:start + chunk]}
                                      for start in range(0, len(ids), chunk)))
    job.total = len(ids)
    InvitationJob.objects.filter(pk=job.pk).update(total=job.total)
    if enqueue:
        _enqueue(job)
    log.info("invitation job %s started for %s patient(s) by %s", job.pk, job.total, by.pk if by else "system")
    return job


def run_invitation_job(job_id: int, *, progress=None) -> InvitationJob:
    """Send the job's chunks not yet done, one per transaction, then mark it done. Safe to run again,
    or twice at once: a chunk is taken only while not done and marked done in the transaction that
    sends it. `progress(done, total)` is called after each chunk."""
    while processed := _run_job_chunk(job_id):
        if progress is not None:
            progress(processed, InvitationJob.objects.values_list("total", flat=True).get(pk=job_id))
    InvitationJob.objects.filter(pk=job_id, status=InvitationJob.Status.RUNNING).update(
        status=InvitationJob.Status.DONE, finished_at=timezone.now())
    return InvitationJob.objects.get(pk=job_id)


def resume_stalled_jobs() -> int:
    """Queue again every running job whose worker stopped (no chunk for stalled_after()); returns how
    many. The lost worker's task is marked failed, so no task stays "running" for a worker that is gone."""
    resumed = 0
    stalled = InvitationJob.objects.filter(status=InvitationJob.Status.RUNNING,
                                           heartbeat_at__lt=timezone.now() - stalled_after())
    for job in stalled.order_by("id"):
        with transaction.atomic(durable=True):
            # Conditional: two periodic runners must not both queue it (a double run would still double nobody).
            if InvitationJob.objects.filter(pk=job.pk, heartbeat_at=job.heartbeat_at).update(heartbeat_at=timezone.now()):
                _fail_lost_tasks(job)
                _enqueue(job)
                resumed += 1
                log.warning("invitation job %s stalled since %s; queued again", job.pk, job.heartbeat_at.isoformat())
    return resumed


@transaction.atomic(durable=True)
def _run_job_chunk(job_id: int) -> int:
    """One chunk: returns how many of the job's patients are processed after it (0: none was left)."""
    job = InvitationJob.objects.select_related("started_by__user").get(pk=job_id)
    # A second runner of the same job skips the chunk this one holds and takes the next.
    chunk = (job.chunks.filter(done=False).select_for_update(skip_locked=True).order_by("id")
             .only("id", "patient_ids").first())
    if chunk is None:
        return 0
    sent = sending.send_many(lock_patients(chunk.patient_ids), by=job.started_by, channel=Channel.BULK,
                             client=NO_CLIENT, reason=f"Bulk invitation {job.pk}", chain_now=True, job_id=job.pk)
    skipped = [o for o in sent if o.refusal is not None]
    insert_dicts(InvitationJobPatient, ({"job_id": job.pk, "patient_id": o.patient_id, "reason_code": o.refusal.code,
                                         "reason": rules.skip_label(o.refusal)} for o in skipped))
    _finish(chunk)
    InvitationJob.objects.filter(pk=job_id).update(
        invited=F("invited") + len(sent) - len(skipped), skipped=F("skipped") + len(skipped),
        heartbeat_at=timezone.now())
    return job.invited + job.skipped + len(sent)


def _finish(chunk: InvitationJobChunk) -> None:
    """Mark the chunk done, in its transaction: committed with its sends, or not at all."""
    InvitationJobChunk.objects.filter(pk=chunk.pk).update(done=True)


def _fail_lost_tasks(job: InvitationJob) -> None:
    DBTaskResult.objects.filter(task_path=run_in_worker.module_path, status=TaskResultStatus.RUNNING,
                                args_kwargs__args=[job.pk]).update(
        status=TaskResultStatus.FAILED, finished_at=timezone.now(),
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback=f"No chunk of job {job.pk} for {stalled_after()}: its worker is taken for dead, the job queued again.")


def _enqueue(job: InvitationJob) -> None:
    run_in_worker.enqueue(job.pk)


@task(queue_name="default")
def run_in_worker(job_id: int) -> None:
    """The task worker's run of a job (or of what is left of it, when run_periodic resumes a stalled one)."""
    run_invitation_job(job_id)
