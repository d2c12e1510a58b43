from django.db import migrations, models


def number_the_chain(apps, schema_editor) -> None:
    """Every existing event was chained in id order under the practice lock: that is its sequence."""
    AccessEvent = apps.get_model("access", "AccessEvent")
    practice_ids = AccessEvent.objects.values_list("practice_id", flat=True).distinct()
    for practice_id in sorted(practice_ids):
        ids = AccessEvent.objects.filter(practice_id=practice_id).order_by("id").values_list("id", flat=True)
        batch = []
        for sequence, event_id in enumerate(ids.iterator(chunk_size=5000), start=1):
            batch.append(AccessEvent(pk=event_id, sequence=sequence))
            if len(batch) == 5000:
                AccessEvent.objects.bulk_update(batch, ["sequence"])
                batch = []
        AccessEvent.objects.bulk_update(batch, ["sequence"])


class Migration(migrations.Migration):

    dependencies = [
        ("access", "0004_password_reset"),
        ("clinic", "0004_practice_phone"),
    ]

    operations = [
        migrations.AddField(
            model_name="accessevent",
            name="sequence",
            field=models.PositiveBigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(number_the_chain, migrations.RunPython.noop),
        migrations.RemoveIndex(model_name="accessevent", name="event_chain_idx"),
        migrations.AddIndex(
            model_name="accessevent",
            index=models.Index(condition=models.Q(("sequence__isnull", True)), fields=["practice", "id"],
                               name="event_unsealed_idx"),
        ),
        migrations.AddConstraint(
            model_name="accessevent",
            constraint=models.UniqueConstraint(fields=("practice", "sequence"), name="one_place_per_event_in_chain"),
        ),
    ]
