import json

from django.core.management.base import BaseCommand

from access.history import make_checkpoint
from clinic.models import Practice


class Command(BaseCommand):
    help = ("Print a signed checkpoint of each practice's access history (newest event and its seal), one "
            "JSON line per practice. Append them somewhere the database's users cannot write (another "
            "machine, write-once storage) and check them with `verify_history --checkpoint FILE`.")

    def handle(self, *args, **options):
        for practice in Practice.objects.order_by("id"):
            self.stdout.write(json.dumps(make_checkpoint(practice), sort_keys=True))
