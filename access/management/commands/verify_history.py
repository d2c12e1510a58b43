from django.core.management.base import BaseCommand, CommandError

from access.history import first_broken_event
from clinic.models import Practice


class Command(BaseCommand):
    help = "Check every practice's access-history hash chain; report the first altered or removed event."

    def handle(self, *args, **options):
        broken = 0
        for practice in Practice.objects.order_by("id"):
            problem = first_broken_event(practice)
            if problem is None:
                self.stdout.write(f"{practice.name} (practice {practice.pk}): history intact")
                continue
            broken += 1
            event_id, what = problem
            where = f"at event {event_id}" if event_id is not None else "at the end of the history"
            self.stdout.write(f"{practice.name} (practice {practice.pk}): BROKEN {where}: {what}")
        if broken:
            raise CommandError(f"{broken} practice histories failed verification")
