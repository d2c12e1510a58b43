"""manage.py invite_patients: the bulk job from the command line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from access.models import Invitation, InvitationJob
from access.tests.helpers import connect, send, snapshot
from access.tests.test_send_invitations import make_patients

NED_MISSING = "Not eligible (Add an email address; Add a social security number, or a date of birth and a phone number)"


def run(*args) -> list[str]:
    out = StringIO()
    call_command("invite_patients", *args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


def test_all_eligible_invites_them_and_ends_with_the_counts(cast):
    patients = make_patients(cast.practice, 3)
    connect(cast, patients[0])
    lines = run("--practice", "Maple Street Clinic", "--all-eligible", "--by", "alice")
    assert lines[-1] == "invited 3, skipped 1 (Already connected: 1)"
    job = InvitationJob.objects.get()
    assert (job.started_by, job.selection, job.status) == (cast.alice, "All eligible patients", "done")
    assert set(Invitation.objects.filter(channel="bulk").values_list("patient_id", flat=True)) == {
        cast.pat.pk, patients[1].pk, patients[2].pk}


def test_running_it_again_invites_nobody_twice(cast):
    make_patients(cast.practice, 2)
    assert run("--practice", str(cast.practice.pk), "--all-eligible")[-1] == "invited 3, skipped 0"
    before = Invitation.objects.count()
    assert run("--practice", str(cast.practice.pk), "--all-eligible")[-1] == "invited 0, skipped 3 (Already pending: 3)"
    assert Invitation.objects.count() == before


def test_by_status(cast):
    send(cast)
    lines = run("--practice", "Maple Street Clinic", "--status", "not_eligible")
    assert lines[-1] == f"invited 0, skipped 1 ({NED_MISSING}: 1)"
    assert InvitationJob.objects.get().selection == "Status: Not eligible"


def test_by_chart_numbers_from_a_csv_file_with_the_skipped_report(cast, tmp_path):
    charts = tmp_path / "charts.csv"
    charts.write_text("chart_number,name\nA-100,Pat\nA-101,Ned\n")
    report = tmp_path / "skipped.csv"
    lines = run("--practice", "Maple Street Clinic", "--csv", str(charts), "--report", str(report))
    assert lines[-1] == f"invited 1, skipped 1 ({NED_MISSING}: 1)"
    assert report.read_text().splitlines()[1].startswith("A-101,Ned,Stone,")


def test_a_file_of_bare_chart_numbers_works_too(cast, tmp_path):
    charts = tmp_path / "charts.txt"
    charts.write_text("A-100\n")
    assert run("--practice", "Maple Street Clinic", "--csv", str(charts))[-1] == "invited 1, skipped 0"


def test_an_unknown_chart_number_stops_it_before_anything_is_sent(cast, tmp_path):
    charts = tmp_path / "charts.csv"
    charts.write_text("chart_number\nA-100\nB-200\nZ-9\n")  # B-200 is another practice's patient
    before = snapshot()
    with pytest.raises(CommandError, match=r"2 chart number\(s\) .* are not patients of Maple Street Clinic: B-200, Z-9"):
        run("--practice", "Maple Street Clinic", "--csv", str(charts))
    assert snapshot() == before and not InvitationJob.objects.exists()


def test_dry_run_prints_the_preview_and_changes_nothing(cast):
    make_patients(cast.practice, 2)
    send(cast)
    before = snapshot()
    lines = run("--practice", "Maple Street Clinic", "--status", "not_invited", "--dry-run")
    assert lines == ["Status: Not invited: 2 patient(s). Nothing was changed (--dry-run).", "would invite 2, skip 0"]
    lines = run("--practice", "Maple Street Clinic", "--all-eligible", "--dry-run")
    assert lines[-1] == "would invite 2, skip 1 (Already pending: 1)"
    assert snapshot() == before and not InvitationJob.objects.exists()


def test_it_names_the_practices_and_staff_it_knows(cast):
    with pytest.raises(CommandError, match="No practice 'Nowhere'"):
        run("--practice", "Nowhere", "--all-eligible")
    with pytest.raises(CommandError, match="No staff member 'bob' in Maple Street Clinic"):
        run("--practice", "Maple Street Clinic", "--all-eligible", "--by", "bob")
