from django.core.management.base import BaseCommand
from django.db import transaction

from clinic.models import Patient


class Command(BaseCommand):
    help = (
        "Re-encrypt every SSN with the first key of PORTICO_FIELD_KEYS. Put the new key first, keep the "
        "old one after it, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            # Reading decrypts with whichever key fits; saving encrypts with the first key.
            for patient in Patient.objects.exclude(ssn="").only("pk", "ssn").iterator(chunk_size=1000):
                patient.save(update_fields=["ssn"])
                count += 1
        self.stdout.write(f"Re-encrypted {count} social security number{'s' if count != 1 else ''}.")
