"""Is Portico working? The database answers, a task worker was alive lately, and how much mail waits.

Nothing here names a patient or an address: the report is for a load balancer or a monitor. Which of
these facts make a probe fail is the view's choice (ops.views): a web node and the workers fail apart.
"""

import datetime

from django.db import DatabaseError
from django.db.models import Count, Max, Min
from django.utils import timezone

from mail.models import Message
from ops.models import WorkerHeartbeat

# A worker beats once a round (every second when idle, after each batch of mail and tasks when busy).
# Silent this long, no worker is running tasks or retrying mail: as long as a claimed message's lease.
WORKER_SILENT_AFTER = datetime.timedelta(minutes=5)
# Rows of workers gone this long are dropped when a worker starts (each start is a new host:pid).
FORGET_WORKERS_AFTER = datetime.timedelta(days=1)


def beat(worker: str) -> None:
    WorkerHeartbeat.objects.update_or_create(worker=worker, defaults={"beat_at": timezone.now()})


def forget_gone_workers() -> None:
    WorkerHeartbeat.objects.filter(beat_at__lt=timezone.now() - FORGET_WORKERS_AFTER).delete()


def report(host: str = "") -> dict:
    """The database's state, when a worker last beat and the mail backlog. A worker is "silent" when none
    beat within WORKER_SILENT_AFTER; with `host`, only that machine's workers count (their names begin
    with it: mail.delivery.worker_name), so a monitor of each node notices one node's workers stopping
    while another's beat. The mail numbers are for a monitor to judge (a backlog during a bulk send is
    normal). With the database unreachable there is nothing else to tell."""
    heartbeats = WorkerHeartbeat.objects.filter(worker__startswith=f"{host}:") if host else WorkerHeartbeat.objects
    try:
        last_beat = heartbeats.aggregate(last=Max("beat_at"))["last"]
        mail = Message.objects.filter(status=Message.Status.QUEUED).aggregate(queued=Count("pk"),
                                                                            oldest=Min("created_at"))
    except DatabaseError:
        return {"database": "unreachable"}
    now = timezone.now()
    worker_alive = last_beat is not None and now - last_beat <= WORKER_SILENT_AFTER
    return {
        "database": "ok",
        "worker": "ok" if worker_alive else "silent",
        "worker_last_seen_seconds": _seconds(now - last_beat) if last_beat else None,
        "mail_queued": mail["queued"],
        "mail_oldest_queued_seconds": _seconds(now - mail["oldest"]) if mail["oldest"] else None,
    }


def _seconds(age: datetime.timedelta) -> int:
    return max(0, int(age.total_seconds()))
