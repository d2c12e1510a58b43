from django.core.management.base import BaseCommand

from access.actions.expiry import expire_invitations


class Command(BaseCommand):
    help = "Mark lapsed pending invitations expired and record each in the access history."

    def handle(self, *args, **options):
        count = expire_invitations()
        self.stdout.write(f"Expired {count} invitation{'s' if count != 1 else ''}.")
