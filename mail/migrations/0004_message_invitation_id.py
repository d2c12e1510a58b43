"""Message.kind gets its closed set of choices (the stored strings unchanged) and the invitation an
email carries the link of moves from context["invitation_id"] to its own column, Message.invitation_id.

The data step reads the rows whose context has the key, in batches of BATCH by primary key, and
writes each batch back in one UPDATE (bulk_update): the same on SQLite and PostgreSQL. Reversed, it puts
the key back into context (then the column is dropped), so the code before this migration still finds it."""

from django.db import migrations, models

BATCH = 500
KEY = "invitation_id"


def invitation_id_out_of_context(apps, schema_editor) -> None:
    Message = apps.get_model("mail", "Message")
    messages = Message.objects.using(schema_editor.connection.alias)
    _in_batches(messages.filter(context__has_key=KEY), _out_of_context, messages, ["invitation_id", "context"])


def invitation_id_back_into_context(apps, schema_editor) -> None:
    Message = apps.get_model("mail", "Message")
    messages = Message.objects.using(schema_editor.connection.alias)
    _in_batches(messages.filter(invitation_id__isnull=False), _into_context, messages, ["context"])


def _out_of_context(message) -> None:
    value = message.context.pop(KEY)
    message.invitation_id = None if value is None else int(value)


def _into_context(message) -> None:
    message.context = {**message.context, KEY: message.invitation_id}


def _in_batches(rows, change, manager, fields: list[str]) -> None:
    """Apply `change` to every row of `rows`, BATCH rows at a time, each batch saved in one UPDATE."""
    last = 0
    while batch := list(rows.filter(pk__gt=last).order_by("pk").only("pk", *fields)[:BATCH]):
        for message in batch:
            change(message)
        manager.bulk_update(batch, fields)
        last = batch[-1].pk


class Migration(migrations.Migration):

    dependencies = [
        ('mail', '0003_message_skipped'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='invitation_id',
            field=models.BigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.AlterField(
            model_name='message',
            name='kind',
            field=models.CharField(choices=[('invitation', 'Invitation'), ('reminder', 'Reminder before expiry'), ('connected', 'Connected confirmation'), ('access-revoked', 'Access revoked'), ('password-reset', 'Password reset'), ('digest', 'Staff daily digest')], max_length=32),
        ),
        migrations.RunPython(invitation_id_out_of_context, invitation_id_back_into_context, elidable=True),
    ]
