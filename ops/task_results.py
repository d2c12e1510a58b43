"""The task worker's results (django-tasks-db's rows): finished ones forgotten after a week, and
running ones whose worker was killed taken for failed after a day.

Each queued task keeps its arguments: a password reset's account id, client address and browser. Nobody
reads a result once the work is done (an import or a bulk job keeps its own report), so keeping them
for ever would only grow the table and keep who asked for a reset from where."""

import datetime

from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

KEEP_FINISHED_FOR = datetime.timedelta(days=7)
# No task runs this long (a bulk job or an import takes minutes, and each has its own sooner check:
# access.actions.jobs.resume_stalled_jobs, clinic.importing.stop_stalled_imports): one still "running"
# lost its worker, which would otherwise leave it running, and unpruned, for ever.
ABANDONED_AFTER = datetime.timedelta(days=1)


def prune_finished() -> int:
    """Delete results finished (successful or failed) more than KEEP_FINISHED_FOR ago, in one DELETE
    (run_periodic); returns how many. Ready and running tasks are work, never pruned."""
    return DBTaskResult.objects.finished().filter(finished_at__lt=timezone.now() - KEEP_FINISHED_FOR).delete()[0]


def fail_abandoned() -> int:
    """Mark failed every task started more than ABANDONED_AFTER ago and still running (run_periodic), in
    one UPDATE; returns how many. It is pruned a week later like any finished task."""
    now = timezone.now()
    return DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=now - ABANDONED_AFTER).update(
        status=TaskResultStatus.FAILED, finished_at=now, exception_class_path="",
        traceback=f"Still running {ABANDONED_AFTER} after it started: its worker is taken for lost.")
