from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clinic import importing
from clinic.models import Practice, StaffMember
from portico.progress import ProgressBar


class Command(BaseCommand):
    help = ("Create and update a practice's patients from a CSV file (columns by header name: "
            f"{', '.join(importing.COLUMNS)}; date_of_birth as YYYY-MM-DD). Rows are matched on chart number.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, with a header row)")
        parser.add_argument("--practice", required=True, help="the practice's id or exact name")
        parser.add_argument("--skip-invalid", action="store_true",
                            help="import the good rows and report the bad ones (default: a bad row stops the import)")
        parser.add_argument("--by", metavar="USERNAME", help="the staff member the history records (default: system)")

    def handle(self, *args, file: str, practice: str, skip_invalid: bool, by: str | None, **options):
        the_practice = find_practice(practice)
        member = find_staff(the_practice, by) if by else None
        try:
            with open(file, encoding="utf-8-sig", newline="") as f:
                report = importing.import_patients(the_practice, f, by=member, skip_invalid=skip_invalid,
                                                   progress=ProgressBar(self.stderr, "Importing"))
        except OSError as e:
            raise CommandError(f"Cannot read {file}: {e.strerror}") from None
        except importing.ImportFileError as e:
            raise CommandError(str(e)) from None
        for row in report.rejected:
            self.stderr.write(row.describe())
        if not report.imported:
            raise CommandError(f"Nothing was imported: {len(report.rejected)} row(s) are invalid (listed above). "
                               "Fix them, or use --skip-invalid to import the other rows.")
        self.stdout.write(report.summary())


def find_practice(value: str) -> Practice:
    """A practice by id or by exact name, or a CommandError that says which exist."""
    practices = Practice.objects.filter(pk=int(value)) if value.isdigit() else Practice.objects.filter(name=value)
    found = list(practices[:2])
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(f"More than one practice is named {value!r}: give its id instead.")
    names = ", ".join(f"{p.pk} ({p.name})" for p in Practice.objects.order_by("pk")[:20])
    raise CommandError(f"No practice {value!r}. Practices: {names or 'none yet'}.")


def find_staff(practice: Practice, username: str) -> StaffMember:
    user = get_user_model().objects.filter(username=username, staff__practice=practice).first()
    if user is None:
        raise CommandError(f"No staff member {username!r} in {practice.name}.")
    return user.staff
