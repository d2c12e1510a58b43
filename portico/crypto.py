"""Encryption of sensitive fields at rest: AES-256-GCM (an AEAD from `cryptography`) under keys
derived from PORTICO_FIELD_KEYS, newest first, with rotation (any configured key decrypts; the first
encrypts).

**Each stored value is bound to its place**: the GCM associated data is the table, the column and the
row's binding (below), so a ciphertext copied into another row or column does not decrypt (someone
who can write to the database but lacks the keys cannot move a patient's SSN onto another chart).
A value is `v3:<key id>:<base64 of nonce + ciphertext>`; the key id (a hash of the derived key, not
the key) says which key to try.

**The binding** of a row is the value(s) of the fields the column names in `bound_to`: fields that
identify the row, never change once it exists, and are known BEFORE it is inserted, so bulk inserts
can encrypt without a second write (a database-assigned primary key is known only after the INSERT):

- `clinic.Patient.ssn`: (practice_id, chart_number), the chart's own unique key (a chart number is
  given when the patient is created and is never edited; the import matches rows on it);
- `mail.Message.secret_link`: dedupe_key, unique and written with the row (it names the invitation);
- `api.WebhookEndpoint.secret`: the primary key (endpoints are created one at a time, then sealed).

**Writing** an encrypted field: through the model (save(), create(), bulk_create()) the field seals
the value itself. Anything that writes column values directly (portico.bulk, QuerySet.update, raw
SQL) passes the value through `seal(model, field_name, plaintext, **binding)`, one call per value:

    crypto.seal(Patient, "ssn", "123456789", practice_id=practice.pk, chart_number="A-100")

A plain string given to those paths is refused (TypeError), never stored unsealed or unbound.

**Reading**: the database returns a `Sealed` value; the model attribute opens it on first access with
the row's binding (so the binding's fields must be loaded with it, or they are fetched). `open_value`
does the same for a value read with .values().

Older formats still read, unbound: `v2:` (AES-GCM without associated data) and Fernet tokens from the
first versions. `manage.py rotate_field_keys` rewrites every value as v3 under the newest key; once it
has run and the old keys are removed, no unbound value can be made again.

Why not Fernet for new values: a bulk job encrypts one link per invitation, and Fernet's Python
layer (a padder, a cipher and an HMAC object per value) costs several times more per value; GCM
authenticates as Fernet's HMAC does. Session values (portal/) use `encrypt`/`decrypt` without a
binding (v2): they are not stored in a model's column."""

import base64
import hashlib
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models
from django.db.models.query_utils import DeferredAttribute

BOUND, UNBOUND = "v3:", "v2:"
NONCE_BYTES = 12  # GCM's standard nonce, random per value


class Sealed(str):
    """A value as stored in an encrypted column (ciphertext, or a legacy token): written as it is, and
    opened only with its row's binding."""


@cache
def _keys(configured: tuple[str, ...]) -> tuple[dict[str, AESGCM], str, MultiFernet]:
    """{key id: cipher} for every configured key, the first one's id, and Fernet for older values."""
    ciphers = {}
    for key in configured:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portico field encryption v2").derive(
            base64.urlsafe_b64decode(key))
        ciphers[hashlib.sha256(derived).hexdigest()[:8]] = AESGCM(derived)
    return ciphers, next(iter(ciphers)), MultiFernet([Fernet(k) for k in configured])


def _configured() -> tuple[dict[str, AESGCM], str, MultiFernet]:
    return _keys(tuple(settings.PORTICO_FIELD_KEYS))


def binding(table: str, column: str, values: tuple) -> bytes:
    """The associated data of a value in `table`.`column` of the row whose binding fields hold
    `values` (as text: the id 7 and "7" bind alike). Each part is written with its length first, so
    no two places share one encoding (cheaper than JSON: a bulk job binds one value per invitation)."""
    return (_place(table, column) + "".join([f"{len(part)}:{part}" for part in map(str, values)])).encode()


@cache
def _place(table: str, column: str) -> str:
    """The binding's first parts, the same for every value of a column."""
    return f"{len(table)}:{table}{len(column)}:{column}"


def encrypt(plaintext: str, *, bound_to: bytes | None = None) -> str:
    """The value sealed under the first key: bound to `bound_to` (v3), or unbound (v2) for values that
    live outside a column (the session's)."""
    ciphers, current, _ = _configured()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ciphers[current].encrypt(nonce, plaintext.encode(), bound_to)
    return f"{BOUND if bound_to is not None else UNBOUND}{current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(ciphertext: str, *, bound_to: bytes | None = None) -> str:
    """The plaintext; a bound value (v3) opens only with the binding it was sealed with. Raises
    ValueError for a wrong key, a wrong binding or a changed value."""
    ciphers, _, fernet = _configured()
    try:
        if ciphertext.startswith(BOUND):
            if bound_to is None:
                raise ValueError
            return _open(ciphers, ciphertext.removeprefix(BOUND), bound_to)
        if ciphertext.startswith(UNBOUND):
            return _open(ciphers, ciphertext.removeprefix(UNBOUND), None)
        return fernet.decrypt(ciphertext.encode()).decode()
    except (InvalidToken, InvalidTag, KeyError, ValueError):
        raise ValueError("cannot decrypt a field: is PORTICO_FIELD_KEYS missing the key it was written with, "
                         "or was the value moved from another row or column?") from None


def _open(ciphers: dict[str, AESGCM], body: str, bound_to: bytes | None) -> str:
    key_id, _, encoded = body.partition(":")
    data = base64.urlsafe_b64decode(encoded)
    return ciphers[key_id].decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], bound_to).decode()


def is_bound_under_first_key(stored: str) -> bool:
    """Whether a stored value is already what rotate_field_keys would write (v3, the first key)."""
    return stored.startswith(f"{BOUND}{_configured()[1]}:")


def seal(model: type[models.Model], field_name: str, plaintext: str, **row) -> "Sealed | str":
    """`plaintext` as `model`.`field_name` stores it for the row whose binding fields (the field's
    `bound_to`, by attname; "pk" for the primary key) are given in `row`; the empty string stays empty.
    For writers of column values (bulk inserts, QuerySet.update)."""
    field = _field(model, field_name)
    return field.seal(plaintext, tuple([row[name] for name in field.bound_to]))


def open_value(model: type[models.Model], field_name: str, stored: str, **row) -> str:
    """The plaintext of a value of `model`.`field_name` read without its model (e.g. .values()), given
    the row's binding fields."""
    field = _field(model, field_name)
    return field.open(stored, tuple(row[name] for name in field.bound_to))


@cache
def _field(model: type[models.Model], field_name: str) -> "EncryptedTextField":
    return model._meta.get_field(field_name)


class _OpenedOnAccess(DeferredAttribute):
    """The attribute of an encrypted field: a value read from the database is opened on first access,
    with the binding of the row it was read from, and kept open."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            value = self.field.open(value, self.field.binding_values(instance))
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value):
        # A data descriptor (Django's deferred attribute is not), so reads come through __get__ even
        # though the value lives in the instance's __dict__.
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """A text field stored encrypted and bound to its row (see the module); the empty string stays
    empty so "is it on file?" is queryable. `bound_to`: the attnames of the row's binding ("pk": the
    primary key, for rows created one at a time and sealed once saved)."""

    descriptor_class = _OpenedOnAccess

    def __init__(self, *args, bound_to: tuple[str, ...] = ("pk",), **kwargs):
        self.bound_to = tuple(bound_to)
        super().__init__(*args, **kwargs)

    def binding_values(self, instance: models.Model) -> tuple:
        values = tuple(getattr(instance, name) for name in self.bound_to)
        if any(v is None or v == "" for v in values):
            raise ValueError(f"{self.model.__name__}.{self.name} is bound to {', '.join(self.bound_to)}, "
                             "which this row does not have yet: save the row first, then set the value")
        return values

    def seal(self, plaintext: str, values: tuple) -> "Sealed | str":
        if not plaintext:
            return ""
        return Sealed(encrypt(plaintext, bound_to=binding(self.model._meta.db_table, self.column, values)))

    def open(self, stored: str, values: tuple) -> str:
        if not stored:  # as seal(): the empty string stays empty
            return stored
        return decrypt(stored, bound_to=binding(self.model._meta.db_table, self.column, values))

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return Sealed(value)

    def pre_save(self, model_instance, add):
        """Seal the attribute's plaintext with this row's binding (a value read and not opened since is
        written back as it is: its row has not changed)."""
        value = model_instance.__dict__.get(self.attname)
        if not value or isinstance(value, Sealed):
            return value
        return self.seal(value, self.binding_values(model_instance))

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value and not isinstance(value, Sealed):
            raise TypeError(f"{self.model.__name__}.{self.name} is encrypted and bound to its row: write it through "
                            "the model (save, create, bulk_create) or pass portico.crypto.seal(...)")
        return value
