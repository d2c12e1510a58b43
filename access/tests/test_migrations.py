"""access's data migrations, run by Django's migration executor on the test database."""

import datetime
import importlib

import pytest

BEFORE = [("access", "0014_printed_invitations_and_email_confirmation")]
AFTER = [("access", "0015_bulk_jobs_chunk_snapshot")]
CHUNK_SNAPSHOT = importlib.import_module("access.migrations.0015_bulk_jobs_chunk_snapshot")
NOW = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=datetime.UTC)


@pytest.mark.django_db(transaction=True)
def test_0012_carries_jobs_over_invited_on_their_invitations_skipped_kept_and_the_rest_as_chunks(migrate, monkeypatch):
    monkeypatch.setattr(CHUNK_SNAPSHOT, "CHUNK", 2)
    apps = migrate(BEFORE, others_at_latest=True)
    Practice, Patient = apps.get_model("clinic", "Practice"), apps.get_model("clinic", "Patient")
    Invitation, Job = apps.get_model("access", "Invitation"), apps.get_model("access", "InvitationJob")
    Row = apps.get_model("access", "InvitationJobPatient")
    practice = Practice.objects.create(name="P")
    patients = [Patient.objects.create(practice=practice, chart_number=f"M-{n}", first_name="M", last_name=str(n),
                                       created_at=NOW) for n in range(6)]
    job = Job.objects.create(practice=practice, created_at=NOW, heartbeat_at=NOW, selection="all", total=6)
    invitation = Invitation.objects.create(practice=practice, patient=patients[0], token_hash="h0", email="m@x.test",
                                           channel="bulk", sent_at=NOW, expires_at=NOW)
    Row.objects.create(job=job, patient=patients[0], outcome="invited", invitation=invitation)
    Row.objects.create(job=job, patient=patients[1], outcome="skipped", reason_code="already_pending",
                       reason="Already pending")
    for patient in patients[2:]:  # not processed yet: the job was running
        Row.objects.create(job=job, patient=patient)

    apps = migrate(AFTER, others_at_latest=True)
    Invitation, Chunk = apps.get_model("access", "Invitation"), apps.get_model("access", "InvitationJobChunk")
    Row = apps.get_model("access", "InvitationJobPatient")
    assert Invitation.objects.get(pk=invitation.pk).job_id == job.pk
    assert list(Row.objects.values_list("patient_id", "reason_code")) == [(patients[1].pk, "already_pending")]
    assert list(Chunk.objects.filter(job_id=job.pk, done=False).order_by("id").values_list("patient_ids", flat=True)) == [
        [patients[2].pk, patients[3].pk], [patients[4].pk, patients[5].pk]]
