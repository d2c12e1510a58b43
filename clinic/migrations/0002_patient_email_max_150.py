from django.db import migrations, models
from django.db.models.functions import Length


def refuse_longer_addresses(apps, schema_editor):
    """Addresses over 150 characters could never become a portal sign-in. Stop with the patients to
    fix rather than let PostgreSQL fail on the column change (or silently cut an address short)."""
    Patient = apps.get_model("clinic", "Patient")
    too_long = list(Patient.objects.annotate(n=Length("email")).filter(n__gt=150).values_list("pk", flat=True))
    if too_long:
        raise RuntimeError(f"Shorten these patients' email addresses to 150 characters first (patient ids: {too_long}).")


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(refuse_longer_addresses, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="patient",
            name="email",
            field=models.EmailField(blank=True, max_length=150),
        ),
    ]
