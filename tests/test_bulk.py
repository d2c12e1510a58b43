"""portico.bulk writes the same rows a save() would: each field's own conversion, defaults, auto_now_add."""

import datetime
import json

import pytest
import time_machine
from django.db import connection

from clinic.models import Patient, Practice
from mail.models import Message
from portico import crypto
from portico.bulk import among, fetched, insert_dicts, insert_rows, instances, loaded

NOW = datetime.datetime(2026, 11, 25, 15, 30, 0, 123456, tzinfo=datetime.UTC)
FIELDS = ["kind", "to", "dedupe_key", "context", "status", "attempts", "next_attempt_at",
          "claimed_by", "claimed_at", "sent_at", "last_error", "created_at"]  # the encrypted link: read by the model


def saved(dedupe_key: str) -> dict:
    return Message.objects.values(*FIELDS).get(dedupe_key=dedupe_key)


@pytest.mark.django_db
def test_it_writes_what_save_writes_from_dicts_with_defaults():
    values = {"kind": "invitation", "to": "pat@example.test", "context": {"practice": "O'Brien & Sons", "n": 1},
              "secret_link": "http://x.test/portal/i/secret/", "next_attempt_at": NOW, "created_at": NOW}
    Message.objects.create(dedupe_key="a", **values)
    link = crypto.seal(Message, "secret_link", values["secret_link"], dedupe_key="b")  # bound to its row: sealed first
    assert insert_dicts(Message, [{**values, "dedupe_key": "b", "secret_link": link}]) == 1
    assert saved("b") == {**saved("a"), "dedupe_key": "b"}
    assert saved("b")["status"] == "queued" and saved("b")["attempts"] == 0
    assert {m.secret_link for m in Message.objects.all()} == {values["secret_link"]}
    # The link is stored encrypted, never in clear.
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


@pytest.mark.django_db
def test_among_matches_ids_and_strings_as_an_in_list_would_and_nothing_when_empty():
    practice = Practice.objects.create(name="P")
    made = [Patient.objects.create(practice=practice, chart_number=f"C{n}", first_name="A", last_name="B")
            for n in range(3)]
    assert set(Patient.objects.filter(pk__in=among([made[0].pk, made[2].pk, 10**9]))) == {made[0], made[2]}
    assert set(Patient.objects.filter(chart_number__in=among(["C1", "nope"]))) == {made[1]}
    assert not Patient.objects.filter(pk__in=among([])).exists()
    assert not Patient.objects.filter(chart_number__in=among([])).exists()
    with pytest.raises(TypeError, match="all of one type"):
        among([made[0].pk, "C1"])  # nothing converts them: a mixed or mistyped list is refused, not misread


@pytest.mark.django_db
def test_loaded_objects_are_saved_rows_whose_other_fields_load_on_use():
    practice = Practice.objects.create(name="P")
    patient = Patient.objects.create(practice=practice, chart_number="C1", first_name="Ann", last_name="B")
    [made] = loaded(Patient, Patient.objects.filter(pk=patient.pk).values("id", "practice_id"))
    assert made == patient and not made._state.adding
    assert made.get_deferred_fields() >= {"first_name"}
    assert made.first_name == "Ann"


@pytest.mark.django_db
def test_json_values_shared_by_rows_are_written_once_each_and_distinct_ones_apart():
    shared = {"practice": "P"}
    rows = [{"kind": "digest", "to": "s@example.test", "dedupe_key": f"j{n}", "next_attempt_at": NOW, "created_at": NOW,
             "context": shared if n % 2 else {"n": n}} for n in range(6)]
    insert_dicts(Message, (dict(row) for row in rows))
    assert list(Message.objects.order_by("dedupe_key").values_list("context", flat=True)) == [
        {"n": 0}, shared, {"n": 2}, shared, {"n": 4}, shared]


@pytest.mark.django_db
def test_fetched_gives_a_values_list_querys_rows_as_the_cursor_returns_them():
    practice = Practice.objects.create(name="P")
    made = [Patient.objects.create(practice=practice, chart_number=f"C{n}", first_name="A", last_name="B")
            for n in range(3)]
    query = Patient.objects.filter(pk__in=among([made[0].pk, made[2].pk])).order_by("pk").values_list("chart_number", "pk")
    assert [tuple(row) for row in fetched(query)] == list(query) == [("C0", made[0].pk), ("C2", made[2].pk)]
    assert fetched(Patient.objects.filter(pk__in=among([])).values_list("pk")) == []


@pytest.mark.django_db
def test_a_column_of_one_shared_object_is_converted_once_and_equal_values_of_two_types_apart():
    shared = {"n": 1}
    rows = [{"kind": "digest", "to": "s@example.test", "dedupe_key": f"k{n}", "next_attempt_at": NOW, "created_at": NOW,
             "context": shared} for n in range(3)]
    rows.append({**rows[0], "dedupe_key": "k3", "context": {"n": 1.0}})  # equal to the others, not the same
    insert_dicts(Message, rows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT context FROM mail_message ORDER BY dedupe_key")
        stored = [row[0] for row in cursor.fetchall()]
    assert [json.loads(value) for value in stored] == [{"n": 1}] * 4
    assert "1.0" in stored[3] and "1.0" not in stored[0]
