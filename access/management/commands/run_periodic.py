import signal
import time

from django.core.management.base import BaseCommand

from access.actions import expire_invitations
from mail.delivery import deliver_due


class Command(BaseCommand):
    help = "Every --interval seconds: expire lapsed invitations and deliver mail left behind by a crash."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            expired, mailed = expire_invitations(), deliver_due()
            if expired or mailed or once:
                self.stdout.write(f"Expired {expired} invitation(s); delivered or retried {mailed} message(s).")
            if once:
                return
            self._sleep(interval)

    def _stop(self, signum, frame):
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)
