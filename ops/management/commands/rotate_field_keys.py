from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from portico.crypto import EncryptedTextField, is_bound_under_first_key, open_value, seal

CHUNK = 1000


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (SSNs, webhook secrets, links waiting in the outbox) with the first "
        "key of PORTICO_FIELD_KEYS, bound to its row (values written unbound by earlier versions are bound now). "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys: nothing "
        "written under them is left."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            for model, field in _encrypted_fields():
                count = _reencrypt(model, field)
                self.stdout.write(f"Re-encrypted {count} {model._meta.label}.{field.name} value{'s' if count != 1 else ''}.")


def _encrypted_fields():
    """Every (model, field) stored with portico.crypto, found rather than listed, so a new one is never missed."""
    return [(model, field) for model in apps.get_models() for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)]


def _reencrypt(model, field: EncryptedTextField) -> int:
    """Open each value (any configured key, any format, with its row's binding) and write it back sealed
    under the first key and bound, unless it changed meanwhile (a link is wiped once its email is sent:
    it must stay wiped). A value already bound under the first key is counted and left as it is."""
    count, name = 0, field.name
    binding = [n for n in field.bound_to if n != "pk"]
    rows = model._default_manager.exclude(**{name: ""}).values_list("pk", name, *binding)
    for pk, stored, *values in rows.iterator(chunk_size=CHUNK):
        row = {"pk": pk, **dict(zip(binding, values, strict=True))}
        if is_bound_under_first_key(stored):
            count += 1
            continue
        resealed = seal(model, name, open_value(model, name, stored, **row), **row)
        count += model._default_manager.filter(pk=pk, **{name: stored}).update(**{name: resealed})
    return count
