import signal
import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from ops.periodic import run_once

# What each of run_once's counts is, as the command's one line says it.
SAID = {
    "sealed": "sealed {} access event(s)",
    "expired": "expired {} invitation(s)",
    "reinvited": "re-invited {} patient(s)",
    "reminded": "sent {} reminder(s)",
    "proxy_links_expired": "expired {} guardian link(s)",
    "proxy_reminded": "reminded {} guardian(s)",
    "proxy_reinvited": "re-invited {} guardian(s)",
    "proxies_ended": "ended {} guardian grant(s) at the age of majority",
    "proxies_ending_notices": "told {} guardian(s) their access ends soon",
    "proxies_limited": "limited {} guardian grant(s) at the teen age",
    "digests": "queued {} digest(s)",
    "resumed": "resumed {} invitation job(s)",
    "imports_stopped": "marked {} patient import(s) stopped (their worker stopped)",
    "requests_lapsed": "lapsed {} access request(s)",
    "worklist_notified": "told {} doctor(s) of visits due for an invitation",
    "pruned_deliveries": "pruned {} webhook delivery(ies)",
    "pruned_attempts": "pruned {} attempt(s)",
    "abandoned_tasks": "marked {} task(s) running for over a day failed",
    "pruned_task_results": "pruned {} finished task result(s)",
}


class Command(BaseCommand):
    # Mail is not here: the task workers (`manage.py worker`) send it, retries and a crashed worker's
    # leftovers included.
    help = ("Every --interval seconds: seal access events a crashed process left unsealed; expire lapsed "
            "invitations (telling staff); re-invite and remind as each practice's settings say (guardians' links "
            "too, and their birthdays); queue staff members' daily digests; queue again bulk invitation jobs whose "
            "worker was killed, and mark such patient imports stopped; mark failed any task still running a day "
            "after it started; prune finished webhook deliveries (30 days), old sign-in/identity attempts (a day) "
            "and finished task results (a week). Says what it did in one line (when it did anything).")

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            done = run_once()
            if said := [SAID[kind].format(count) for kind, count in done.items() if count]:
                self.stdout.write(f"{timezone.now():%Y-%m-%d %H:%M:%S} UTC: {', '.join(said)}.")
            elif once:
                self.stdout.write("Nothing was due.")
            if once:
                return
            self._sleep(interval)

    def _stop(self, signum, frame):
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)
