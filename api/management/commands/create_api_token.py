from django.core.management.base import BaseCommand, CommandError

from api import tokens
from clinic.models import StaffMember


class Command(BaseCommand):
    help = ("Create an API token for a staff member and print it once (only its hash is kept). Requests made "
            "with it act as that staff member, in their practice; revoke it on Settings → API tokens.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="Created with manage.py", help="What the token is for.")

    def handle(self, *args, username: str, name: str, **options):
        member = StaffMember.objects.filter(user__username=username).select_related("practice").first()
        if member is None:
            raise CommandError(f"{username} is not a practice staff member.")
        row, token = tokens.create_token(member, name=name)
        self.stderr.write(f"API token {row.prefix}… for {username} ({member.practice}). It is shown only now:")
        self.stdout.write(token)
