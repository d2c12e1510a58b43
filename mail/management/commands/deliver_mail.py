from django.core.management.base import BaseCommand

from mail.delivery import deliver_due


class Command(BaseCommand):
    help = "Send every outbox message that is due now (retries, and any left by a crashed worker)."

    def handle(self, *args, **options):
        count = deliver_due()
        self.stdout.write(f"Tried {count} message{'s' if count != 1 else ''}.")
