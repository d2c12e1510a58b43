"""portico.crypto: AES-GCM values under the first key, any configured key decrypts, Fernet and unbound
values written before still read, a changed value or a missing key is refused, never misread, and a
stored value opens only in the row and column it was sealed for."""

import base64

import pytest
from cryptography.fernet import Fernet
from django.db import connection, transaction
from django.test import override_settings

from api.models import WebhookEndpoint
from clinic.models import Patient
from conftest import NOW
from mail.models import Message
from portico import bulk, crypto

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


def copy_column(table: str, column: str, from_pk: int, to_pk: int) -> None:
    """What someone with write access to the database, but not the keys, can do."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = (SELECT {column} FROM {table} WHERE id = %s) "  # noqa: S608
                       "WHERE id = %s", [from_pk, to_pk])


def test_an_ssn_copied_onto_another_patients_row_does_not_decrypt(cast):
    other = Patient.objects.create(practice=cast.practice, chart_number="A-900", first_name="Olly", last_name="Other",
                                   ssn="111223333")
    copy_column("clinic_patient", "ssn", cast.pat.pk, other.pk)
    with pytest.raises(ValueError, match="moved from another row"):
        Patient.objects.get(pk=other.pk).ssn  # noqa: B018 (reading is the point)
    assert Patient.objects.get(pk=cast.pat.pk).ssn == "123456789"


def test_a_value_is_bound_to_its_table_and_column_too(cast):
    binding = (cast.practice.pk, "A-100")
    sealed = crypto.seal(Patient, "ssn", "123456789", practice_id=binding[0], chart_number=binding[1])
    assert crypto.open_value(Patient, "ssn", sealed, practice_id=binding[0], chart_number=binding[1]) == "123456789"
    with pytest.raises(ValueError, match="cannot decrypt"):
        crypto.decrypt(sealed, bound_to=crypto.binding("clinic_patient", "email", binding))
    with pytest.raises(ValueError, match="cannot decrypt"):
        crypto.decrypt(sealed, bound_to=crypto.binding("mail_message", "ssn", binding))
    with pytest.raises(ValueError, match="cannot decrypt"):
        crypto.decrypt(sealed)  # a bound value never opens unbound


def test_secrets_and_links_copied_between_rows_do_not_decrypt(cast):
    first = WebhookEndpoint.objects.create(practice=cast.practice, url="https://a.example.test/", secret="whsec_a",
                                           created_at=NOW)
    second = WebhookEndpoint.objects.create(practice=cast.practice, url="https://b.example.test/", secret="whsec_b",
                                            created_at=NOW)
    copy_column("api_webhookendpoint", "secret", first.pk, second.pk)
    with pytest.raises(ValueError):
        WebhookEndpoint.objects.get(pk=second.pk).secret  # noqa: B018
    links = [Message.objects.create(kind="password-reset", to="p@example.test", dedupe_key=f"k{i}",
                                    secret_link=f"https://portal.example.test/{i}/", next_attempt_at=NOW,
                                    created_at=NOW) for i in range(2)]
    copy_column("mail_message", "secret_link", links[0].pk, links[1].pk)
    assert Message.objects.get(pk=links[0].pk).secret_link == "https://portal.example.test/0/"
    with pytest.raises(ValueError):
        Message.objects.get(pk=links[1].pk).secret_link  # noqa: B018


def test_a_bulk_insert_seals_each_value_with_the_rows_binding_before_the_row_exists(cast):
    bulk.insert_dicts(Patient, [{"practice_id": cast.practice.pk, "chart_number": "A-500", "first_name": "Bo",
                                 "last_name": "Bulk", "created_at": NOW, "ssn_last4": "4321",
                                 "ssn": crypto.seal(Patient, "ssn", "555664321", practice_id=cast.practice.pk,
                                                    chart_number="A-500")}])
    assert Patient.objects.get(chart_number="A-500").ssn == "555664321"


def test_an_unsealed_value_is_refused_by_the_paths_that_write_columns_directly(cast):
    before = list(Patient.objects.values_list("ssn", flat=True))
    with pytest.raises(TypeError, match="portico.crypto.seal"), transaction.atomic():
        Patient.objects.filter(pk=cast.pat.pk).update(ssn="999887777")
    with pytest.raises(TypeError, match="portico.crypto.seal"), transaction.atomic():
        bulk.insert_dicts(Patient, [{"practice_id": cast.practice.pk, "chart_number": "A-501", "first_name": "N",
                                     "last_name": "N", "created_at": NOW, "ssn": "555664321"}])
    assert list(Patient.objects.values_list("ssn", flat=True)) == before


def test_unbound_values_written_by_the_previous_version_still_read(cast):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE clinic_patient SET ssn = %s WHERE id = %s", [crypto.encrypt("123456789"), cast.pat.pk])
    assert Patient.objects.get(pk=cast.pat.pk).ssn == "123456789"
