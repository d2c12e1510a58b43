"""portico.crypto: AES-GCM values under the first key, any configured key decrypts, Fernet values
written before still read, and a changed value or a missing key is refused, never misread."""

import base64

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from portico import crypto

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_value_is_stored_encrypted_and_reads_back():
    with override_settings(PORTICO_FIELD_KEYS=[NEW]):
        sealed = crypto.encrypt("123-45-6789")
        assert sealed.startswith("v2:") and "123" not in sealed
        assert crypto.decrypt(sealed) == "123-45-6789"
        assert crypto.encrypt("123-45-6789") != sealed  # a fresh nonce each time


def test_a_value_written_under_an_older_key_still_reads_while_that_key_is_configured():
    with override_settings(PORTICO_FIELD_KEYS=[OLD]):
        sealed = crypto.encrypt("secret link")
    with override_settings(PORTICO_FIELD_KEYS=[NEW, OLD]):
        assert crypto.decrypt(sealed) == "secret link"
        assert crypto.encrypt("x").split(":")[1] != sealed.split(":")[1]  # new values go under the first key
    with override_settings(PORTICO_FIELD_KEYS=[NEW]), pytest.raises(ValueError, match="missing the key"):
        crypto.decrypt(sealed)


def test_fernet_values_written_before_still_read():
    fernet_value = Fernet(OLD).encrypt(b"987654321").decode()
    with override_settings(PORTICO_FIELD_KEYS=[NEW, OLD]):
        assert crypto.decrypt(fernet_value) == "987654321"


def test_a_changed_value_is_refused_not_misread():
    with override_settings(PORTICO_FIELD_KEYS=[NEW]):
        prefix, key_id, body = crypto.encrypt("123456789").split(":")
        data = bytearray(base64.urlsafe_b64decode(body))
        data[-1] ^= 1
        with pytest.raises(ValueError, match="cannot decrypt"):
            crypto.decrypt(f"{prefix}:{key_id}:{base64.urlsafe_b64encode(bytes(data)).decode()}")
