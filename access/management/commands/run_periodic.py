import signal
import time

from django.core.management.base import BaseCommand

from access.actions import expire_invitations, resume_stalled_jobs
from access.history import seal_all


class Command(BaseCommand):
    # Mail is not here: the task workers (`manage.py worker`) send it, retries and a crashed worker's
    # leftovers included.
    help = ("Every --interval seconds: seal access events a crashed process left unsealed, expire lapsed "
            "invitations, and queue again bulk invitation jobs whose worker was killed.")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            sealed, expired, resumed = seal_all(), expire_invitations(), resume_stalled_jobs()
            if sealed or expired or resumed or once:
                self.stdout.write(f"Sealed {sealed} access event(s), expired {expired} invitation(s), "
                                  f"resumed {resumed} invitation job(s).")
            if once:
                return
            self._sleep(interval)

    def _stop(self, signum, frame):
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)
