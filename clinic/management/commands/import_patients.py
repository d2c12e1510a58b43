from django.core.management.base import BaseCommand, CommandError

from clinic import importing
from clinic.commands import find_practice, find_staff
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
