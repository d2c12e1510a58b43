import signal
import time

from django.core.management.base import BaseCommand
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from api.guard import purge_old_records
from api.webhooks import deliver_due as deliver_webhooks
from mail.delivery import deliver_due, worker_name
from ops.health import beat, forget_gone_workers
from sms.delivery import deliver_due as deliver_texts

# Tasks run, and emails tried, per round before the next heartbeat (a round stays a few seconds long
# even with a large backlog, so the heartbeat and queued tasks are never starved by mail).
TASKS_PER_ROUND = 100
MAIL_PER_ROUND = 2000


class Command(BaseCommand):
    help = ("Run background tasks. Each round: record a heartbeat (for /health/), send the mail that is due "
            "(new, retries, and any a killed worker left 'sending' past its lease), the webhooks that are due (the "
            "same way), then run the queued tasks.")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds to wait when there is nothing to do.")
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")
        parser.add_argument("--drain", action="store_true",
                            help="Run rounds until no mail is due and no task is ready, then exit.")

    def handle(self, *args, interval: float, once: bool, drain: bool, **options):
        self.stopping, self.tasks = False, None
        if not once:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        # django-tasks-db needs a worker id unique across the pool, of at most 64 characters; the
        # same name marks the mail this worker claims.
        name = worker_name()
        forget_gone_workers()
        self.stdout.write(f"Worker {name} started.")
        while not self.stopping:
            more_waiting = self._round(name)
            if once or (drain and not more_waiting):
                return
            if not more_waiting:
                self._sleep(interval)
        self.stdout.write(f"Worker {name} stopped.")

    def _round(self, name: str) -> bool:
        """One round of work; returns whether more is waiting (then no pause before the next)."""
        beat(name)
        mailed = deliver_due(limit=MAIL_PER_ROUND, worker=name)
        deliver_webhooks(worker=name)  # a bounded number per round, with their own lease
        deliver_texts(worker=name)  # likewise (none without SMS settings)
        purge_old_records()  # API idempotency keys past their 24 hours, rate-limit windows past their minute
        self.tasks = Worker(queue_names=["*"], excluded_queue_names=[], backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                            batch=True, max_tasks=TASKS_PER_ROUND, interval=0, startup_delay=False, worker_id=name)
        self.tasks.run()
        return not self.stopping and (mailed == MAIL_PER_ROUND or DBTaskResult.objects.ready().exists())

    def _stop(self, signum, frame):
        # The task in hand finishes (its worker loop sees `running` cleared), then the command exits.
        self.stopping = True
        if self.tasks is not None:
            self.tasks.running = False

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))
