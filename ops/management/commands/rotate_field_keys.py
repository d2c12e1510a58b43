from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from portico.crypto import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (SSNs, webhook secrets, links waiting in the outbox) with the first "
        "key of PORTICO_FIELD_KEYS. Put the new key first, keep the old ones after it, run this, then remove "
        "the old keys: nothing written under them is left."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            for model, field in _encrypted_fields():
                count = _reencrypt(model, field.name)
                self.stdout.write(f"Re-encrypted {count} {model._meta.label}.{field.name} value{'s' if count != 1 else ''}.")


def _encrypted_fields():
    """Every (model, field) stored with portico.crypto, found rather than listed, so a new one is never missed."""
    return [(model, field) for model in apps.get_models() for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)]


def _reencrypt(model, name: str) -> int:
    """Read each value (any configured key decrypts it) and write it back (the first key encrypts it),
    unless it was emptied meanwhile (a link is wiped once its email is sent: it must stay wiped)."""
    count = 0
    rows = model._default_manager.exclude(**{name: ""}).values_list("pk", name)
    for pk, value in rows.iterator(chunk_size=1000):
        count += model._default_manager.filter(pk=pk).exclude(**{name: ""}).update(**{name: value})
    return count
