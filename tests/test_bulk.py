"""portico.bulk writes the same rows a save() would: each field's own conversion, defaults, auto_now_add."""

import datetime

import pytest
import time_machine
from django.db import connection

from clinic.models import Patient, Practice
from mail.models import Message
from portico.bulk import insert_dicts, insert_rows, instances

NOW = datetime.datetime(2026, 11, 25, 15, 30, 0, 123456, tzinfo=datetime.UTC)
FIELDS = ["kind", "to", "dedupe_key", "context", "secret_link", "status", "attempts", "next_attempt_at",
          "claimed_by", "claimed_at", "sent_at", "last_error", "created_at"]


def saved(dedupe_key: str) -> dict:
    return Message.objects.values(*FIELDS).get(dedupe_key=dedupe_key)


@pytest.mark.django_db
def test_it_writes_what_save_writes_from_dicts_with_defaults():
    values = {"kind": "invitation", "to": "pat@example.test", "context": {"practice": "O'Brien & Sons", "n": 1},
              "secret_link": "http://x.test/portal/i/secret/", "next_attempt_at": NOW, "created_at": NOW}
    Message.objects.create(dedupe_key="a", **values)
    assert insert_dicts(Message, [{"dedupe_key": "b", **values}]) == 1
    assert saved("b") == {**saved("a"), "dedupe_key": "b"}
    assert saved("b")["status"] == "queued" and saved("b")["attempts"] == 0
    # The link is stored encrypted, as the field does it, never in clear.
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_link FROM mail_message WHERE dedupe_key = 'b'")
        assert "secret" not in cursor.fetchone()[0]


@pytest.mark.django_db
def test_it_writes_what_save_writes_from_objects_made_positionally():
    values = {"kind": "invitation", "to": "pat@example.test", "context": {"k": [1, 2]}, "next_attempt_at": NOW,
              "created_at": NOW}
    Message.objects.create(dedupe_key="a", **values)
    [made] = instances(Message, [{"dedupe_key": "b", **values}])
    assert made.pk is None and made.status == "queued" and made.context == {"k": [1, 2]}
    insert_rows(Message, [made])
    assert saved("b") == {**saved("a"), "dedupe_key": "b"}


@pytest.mark.django_db
def test_it_stamps_auto_now_add_fields_with_the_time_of_the_insert():
    practice = Practice.objects.create(name="P")
    with time_machine.travel(NOW, tick=False):
        insert_dicts(Patient, [{"practice_id": practice.pk, "chart_number": "C1", "first_name": "A", "last_name": "B",
                                "created_at": NOW - datetime.timedelta(days=3)}])
    assert Patient.objects.get(chart_number="C1").created_at == NOW
