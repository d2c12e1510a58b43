"""Bulk jobs keep their snapshot as a row per chunk of patient ids, their invited patients as
Invitation.job, and a row per patient only for those they skipped. Existing jobs are carried over:
invited rows name their job on the invitation, a running job's patients not yet processed become its
chunks, and only skipped rows stay."""

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 2000  # access.actions.jobs.JOB_CHUNK when this was written


def carry_over_jobs(apps, schema_editor):
    Invitation = apps.get_model("access", "Invitation")
    Chunk = apps.get_model("access", "InvitationJobChunk")
    Row = apps.get_model("access", "InvitationJobPatient")
    for job_id, invitation_id in Row.objects.filter(outcome="invited").values_list("job_id", "invitation_id").iterator():
        Invitation.objects.filter(pk=invitation_id).update(job_id=job_id)
    to_do: dict[int, list[int]] = {}
    for job_id, patient_id in Row.objects.filter(outcome="").order_by("job_id", "patient_id").values_list(
            "job_id", "patient_id").iterator():
        to_do.setdefault(job_id, []).append(patient_id)
    Chunk.objects.bulk_create(Chunk(job_id=job_id, patient_ids=ids[start:start + CHUNK])
                              for job_id, ids in to_do.items() for start in range(0, len(ids), CHUNK))
    Row.objects.exclude(outcome="skipped").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('access', '0014_printed_invitations_and_email_confirmation'),
        ('clinic', '0007_practice_holidays_and_reports'),
    ]

    operations = [
        migrations.CreateModel(
            name='InvitationJobChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('patient_ids', models.JSONField()),
                ('done', models.BooleanField(default=False)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='invitationjobpatient',
            name='job_unprocessed_idx',
        ),
        migrations.RemoveIndex(
            model_name='invitationjobpatient',
            name='job_outcome_idx',
        ),
        migrations.AddField(
            model_name='invitation',
            name='job',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name='invitations', to='access.invitationjob'),
        ),
        migrations.AlterField(
            model_name='invitationjobpatient',
            name='job',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='skips', to='access.invitationjob'),
        ),
        migrations.AddIndex(
            model_name='invitation',
            index=models.Index(condition=models.Q(('job__isnull', False)), fields=['job'], name='invitation_job_idx'),
        ),
        migrations.AddField(
            model_name='invitationjobchunk',
            name='job',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chunks',
                                    to='access.invitationjob'),
        ),
        migrations.RunPython(carry_over_jobs, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='invitationjobpatient',
            name='invitation',
        ),
        migrations.RemoveField(
            model_name='invitationjobpatient',
            name='outcome',
        ),
        migrations.AddIndex(
            model_name='invitationjobchunk',
            index=models.Index(condition=models.Q(('done', False)), fields=['job', 'id'], name='job_chunk_todo_idx'),
        ),
    ]
