"""The task worker's finished results (django-tasks-db's rows), forgotten after a week.

Each queued task keeps its arguments: a password reset's account id, client address and browser. Nobody
reads a result once the work is done (an import or a bulk job keeps its own report), so keeping them
for ever would only grow the table and keep who asked for a reset from where."""

import datetime

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

KEEP_FINISHED_FOR = datetime.timedelta(days=7)


def prune_finished() -> int:
    """Delete results finished (successful or failed) more than KEEP_FINISHED_FOR ago, in one DELETE
    (run_periodic); returns how many. Ready and running tasks are work, never pruned."""
    return DBTaskResult.objects.finished().filter(finished_at__lt=timezone.now() - KEEP_FINISHED_FOR).delete()[0]
