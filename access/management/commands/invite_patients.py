import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet

from access.actions import jobs
from access.eligibility import eligible, local_today
from access.selectors import PortalState, in_portal_state, job_skip_counts, preview_invitations, write_skipped_csv
from clinic.commands import find_practice, find_staff
from clinic.models import Patient, Practice
from portico.progress import ProgressBar


class Command(BaseCommand):
    help = ("Invite a practice's patients in bulk, through the same rules as the chart button (skipped: not "
            "eligible, already pending, already connected, invited too often today). Running it again "
            "invites nobody twice.")

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="the practice's id or exact name")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all-eligible", action="store_true", help="every patient with the details an invitation needs")
        which.add_argument("--status", choices=list(PortalState.LABELS), help="every patient in this portal state")
        which.add_argument("--csv", type=Path, metavar="FILE", dest="csv_file",
                           help="the chart numbers in FILE (a chart_number column, or the first column)")
        parser.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
        parser.add_argument("--by", metavar="USERNAME", help="the staff member the history records (default: system)")
        parser.add_argument("--report", type=Path, metavar="FILE", help="write the skipped patients and why, as CSV")

    def handle(self, *args, practice: str, all_eligible: bool, status: str | None, csv_file: Path | None,
               dry_run: bool, by: str | None, report: Path | None, **options):
        the_practice = find_practice(practice)
        member = find_staff(the_practice, by) if by else None
        patients, selection = self._select(the_practice, status=status, csv_path=csv_file)
        if dry_run:
            preview = preview_invitations(patients)
            self.stdout.write(f"{selection}: {preview.total} patient(s). Nothing was changed (--dry-run).")
            self.stdout.write(f"would invite {preview.to_invite}, skip {sum(preview.skipped.values())}"
                              f"{_reasons(preview.skipped)}")
            return
        job = jobs.start_invitation_job(the_practice, patients, by=member, selection=selection, enqueue=False)
        job = jobs.run_invitation_job(job.pk, progress=ProgressBar(self.stderr, "Inviting"))
        if report is not None:
            with open(report, "w", encoding="utf-8", newline="") as f:
                write_skipped_csv(job, f)
            self.stdout.write(f"Skipped patients written to {report}.")
        self.stdout.write(f"invited {job.invited}, skipped {job.skipped}{_reasons(job_skip_counts(job))}")

    def _select(self, practice: Practice, *, status: str | None, csv_path: Path | None) -> tuple[QuerySet, str]:
        patients = Patient.objects.filter(practice=practice)
        if status:
            return (in_portal_state(patients, status, practice_id=practice.pk, today=local_today(practice),
                                    minimum_age=practice.minimum_age),
                    f"Status: {PortalState.LABELS[status]}")
        if csv_path is None:
            return patients.filter(eligible(local_today(practice), practice.minimum_age)), "All eligible patients"
        charts = _chart_numbers(csv_path)
        found = patients.filter(chart_number__in=charts)
        if unknown := sorted(set(charts) - set(found.values_list("chart_number", flat=True))):
            raise CommandError(f"{len(unknown)} chart number(s) in {csv_path} are not patients of {practice.name}: "
                               f"{', '.join(unknown[:20])}{' ...' if len(unknown) > 20 else ''}. Nothing was sent.")
        return found, f"Chart numbers from {csv_path.name}"


def _chart_numbers(path: Path) -> list[str]:
    """The chart_number column of a CSV file, or its first column if no header names one."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CommandError(f"Cannot read {path}: {e}") from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    column = header.index("chart_number") if "chart_number" in header else 0
    charts = [row[column].strip() for row in rows[1 if "chart_number" in header else 0:] if len(row) > column]
    if not charts:
        raise CommandError(f"{path} holds no chart numbers.")
    return charts


def _reasons(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{label}: {n}' for label, n in counts.items())})" if counts else ""
