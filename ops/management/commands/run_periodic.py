import signal
import time

from django.core.management.base import BaseCommand

from ops.periodic import run_once


class Command(BaseCommand):
    # Mail is not here: the task workers (`manage.py worker`) send it, retries and a crashed worker's
    # leftovers included.
    help = ("Every --interval seconds: seal access events a crashed process left unsealed, expire lapsed "
            "invitations (telling staff), re-invite and remind as each practice's settings say, queue staff "
            "members' daily digests, queue again bulk invitation jobs whose worker was killed, and prune finished "
            "webhook deliveries (30 days) and old sign-in/identity attempts (a day).")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            done = run_once()
            if any(done.values()) or once:
                self.stdout.write(
                    f"Sealed {done['sealed']} access event(s), expired {done['expired']} invitation(s), "
                    f"re-invited {done['reinvited']} patient(s), sent {done['reminded']} reminder(s) and "
                    f"{done['digests']} digest(s), resumed {done['resumed']} invitation job(s), lapsed "
                    f"{done['requests_lapsed']} access request(s), pruned "
                    f"{done['pruned_deliveries']} webhook delivery(ies) and {done['pruned_attempts']} attempt(s).")
            if once:
                return
            self._sleep(interval)

    def _stop(self, signum, frame):
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)
