"""manage.py rotate_field_keys: every encrypted field (SSNs, webhook secrets, links waiting in the
outbox), whether written bound (v3), unbound as AES-GCM (v2) or as Fernet by an earlier version, ends up
bound to its row under the first key, so the old key can be removed and everything still reads."""

from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from access.tests.helpers import send
from api.models import WebhookEndpoint
from clinic.models import Patient
from mail.models import Message
from portico import crypto


def stored(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> ''")  # noqa: S608 (the test's own names)
        return [row[0] for row in cursor.fetchall()]


def write_raw(table: str, column: str, value: str, pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def test_everything_encrypted_is_rewritten_bound_under_the_new_key(cast, settings):
    send(cast)  # a queued invitation email, its link sealed
    endpoint = WebhookEndpoint.objects.create(practice=cast.practice, url="https://hooks.example.test/",
                                              secret="whsec_old", created_at=timezone.now())
    old_key = settings.PORTICO_FIELD_KEYS[0]
    # Two SSNs as earlier versions wrote them: Fernet, and AES-GCM without a binding (v2).
    write_raw("clinic_patient", "ssn", Fernet(old_key).encrypt(b"123456789").decode(), cast.pat.pk)
    write_raw("clinic_patient", "ssn", crypto.encrypt("987654321"), cast.bea.pk)
    link = Message.objects.get(kind="invitation").secret_link
    new_key = Fernet.generate_key().decode()
    settings.PORTICO_FIELD_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_field_keys", stdout=out)
    on_file = Patient.objects.exclude(ssn="").count()
    assert f"Re-encrypted {on_file} clinic.Patient.ssn values." in out.getvalue()
    assert "Re-encrypted 1 api.WebhookEndpoint.secret value." in out.getvalue()
    assert "Re-encrypted 1 mail.Message.secret_link value." in out.getvalue()
    settings.PORTICO_FIELD_KEYS = [new_key]  # the old key is gone: everything still reads
    assert Patient.objects.get(pk=cast.pat.pk).ssn == "123456789"
    assert Patient.objects.get(pk=cast.bea.pk).ssn == "987654321"
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == "whsec_old"
    assert Message.objects.get(kind="invitation").secret_link == link
    everything = stored("clinic_patient", "ssn") + stored("mail_message", "secret_link") + stored(
        "api_webhookendpoint", "secret")
    assert all(crypto.is_bound_under_first_key(value) for value in everything)


def test_running_it_again_changes_nothing(cast):
    call_command("rotate_field_keys", stdout=StringIO())
    before = stored("clinic_patient", "ssn")
    call_command("rotate_field_keys", stdout=StringIO())
    assert stored("clinic_patient", "ssn") == before
