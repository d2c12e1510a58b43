"""Encryption of sensitive fields at rest: AES-256-GCM (an AEAD from `cryptography`) under keys
derived from PORTICO_FIELD_KEYS, newest first, with rotation (any configured key decrypts; the first
encrypts). Values written before are Fernet tokens under the same keys, and still decrypt.

Why not Fernet for new values: a bulk job encrypts one link per invitation, and Fernet's Python
layer (a padder, a cipher and an HMAC object per value) costs several times more per value;
GCM authenticates as Fernet's HMAC does. A value is `v2:<key id>:<base64 of nonce + ciphertext>`;
the key id (a hash of the derived key, not the key) says which key to try."""

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

PREFIX = "v2:"
NONCE_BYTES = 12  # GCM's standard nonce, random per value


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


def encrypt(plaintext: str) -> str:
    ciphers, current, _ = _configured()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ciphers[current].encrypt(nonce, plaintext.encode(), None)
    return f"{PREFIX}{current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(ciphertext: str) -> str:
    ciphers, _, fernet = _configured()
    try:
        if not ciphertext.startswith(PREFIX):
            return fernet.decrypt(ciphertext.encode()).decode()
        key_id, _, body = ciphertext.removeprefix(PREFIX).partition(":")
        data = base64.urlsafe_b64decode(body)
        return ciphers[key_id].decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None).decode()
    except (InvalidToken, InvalidTag, KeyError, ValueError):
        raise ValueError("cannot decrypt a field: is PORTICO_FIELD_KEYS missing the key it was written with?") from None


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; the empty string stays empty so "is it on file?" is queryable."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
