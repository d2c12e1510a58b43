import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from access.history import checkpoint_problem, first_broken_event, unsealed_count
from clinic.models import Practice


class Command(BaseCommand):
    help = ("Check every practice's access-history chain and seals; report the first altered or removed "
            "event. With --checkpoint, also check it against checkpoints kept outside the database.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", type=Path, metavar="FILE",
                            help="a file of checkpoints from export_history_checkpoint (JSON lines)")

    def handle(self, *args, checkpoint=None, **options):
        broken = sum(self._verify_chain(practice) for practice in Practice.objects.order_by("id"))
        if checkpoint is not None:
            broken += sum(self._verify_checkpoint(line) for line in self._read(checkpoint))
        if broken:
            raise CommandError(f"{broken} practice histories failed verification")

    def _verify_chain(self, practice: Practice) -> bool:
        problem = first_broken_event(practice)
        if problem is None:
            waiting = unsealed_count(practice)
            note = f" ({waiting} recent event(s) not yet sealed)" if waiting else ""
            self.stdout.write(f"{practice.name} (practice {practice.pk}): history intact{note}")
            return False
        event_id, what = problem
        where = f"at event {event_id}" if event_id is not None else "at the end of the history"
        self.stdout.write(f"{practice.name} (practice {practice.pk}): BROKEN {where}: {what}")
        return True

    def _verify_checkpoint(self, checkpoint: dict) -> bool:
        where = f"practice {checkpoint.get('practice')}, checkpoint of {checkpoint.get('at')}"
        if problem := checkpoint_problem(checkpoint):
            self.stdout.write(f"{where}: BROKEN: {problem}")
            return True
        self.stdout.write(f"{where} (event {checkpoint.get('event')}): holds")
        return False

    def _read(self, path: Path) -> list[dict]:
        try:
            checkpoints = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as e:
            raise CommandError(f"cannot read checkpoints from {path}: {e}") from None
        if not all(isinstance(c, dict) for c in checkpoints):
            raise CommandError(f"{path} holds something other than checkpoints (one JSON object a line)")
        return checkpoints
