"""InvitationJobPatient: `reason` held the skip code and `reason_text` the words; now `reason_code` and
`reason`, as the API and the CSV already name them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("access", "0008_invitation_job_preview_key")]

    operations = [
        migrations.RemoveIndex(
            model_name='invitationjobpatient',
            name='job_outcome_idx',
        ),
        migrations.RenameField("invitationjobpatient", "reason", "reason_code"),
        migrations.RenameField("invitationjobpatient", "reason_text", "reason"),
        migrations.AlterField(
            model_name='invitationjobpatient',
            name='reason',
            field=models.CharField(blank=True, help_text='Why it was skipped, in words.', max_length=300),
        ),
        migrations.AlterField(
            model_name='invitationjobpatient',
            name='reason_code',
            field=models.CharField(blank=True, help_text='Why it was skipped, as a code (access.rules).', max_length=32),
        ),
        migrations.AddIndex(
            model_name='invitationjobpatient',
            index=models.Index(fields=['job', 'outcome', 'reason_code'], name='job_outcome_idx'),
        ),
    ]
