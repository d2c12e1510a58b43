import signal
import time

from django.core.management.base import BaseCommand

from access.actions.automatic import send_reinvites, send_reminders
from access.actions.expiry import expire_invitations
from access.actions.jobs import resume_stalled_jobs
from access.actions.notifications import send_digests
from access.attempts import prune as prune_attempts
from access.history import seal_all
from api.webhooks import prune_finished as prune_webhook_deliveries


def run_once() -> dict[str, int]:
    """One round of the scheduled work, each kind set-wise (a few queries per batch of due rows, none per
    patient): lapsed invitations first, so a re-invite sees them expired and a reminder skips them."""
    return {
        "sealed": seal_all(),
        "expired": expire_invitations(),
        "reinvited": send_reinvites(),
        "reminded": send_reminders(),
        "digests": send_digests(),
        "resumed": resume_stalled_jobs(),
        "pruned_deliveries": prune_webhook_deliveries(),
        "pruned_attempts": prune_attempts(),
    }


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
                    f"{done['digests']} digest(s), resumed {done['resumed']} invitation job(s), pruned "
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
