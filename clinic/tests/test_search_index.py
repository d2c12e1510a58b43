"""The SQLite search index follows the patients after every migration (clinic.search_index)."""

import pytest
from django.db import connection

from clinic import search_index
from clinic.models import Patient

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index")
ALL = ["clinic_patient_search_insert", "clinic_patient_search_delete", "clinic_patient_search_update"]


def triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'clinic_patient_search%'")
        return {name for (name,) in cursor.fetchall()}


def indexed(word: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rowid FROM clinic_patient_search WHERE clinic_patient_search MATCH %s", [f'"{word}"'])
        return [rowid for (rowid,) in cursor.fetchall()]


@pytest.mark.django_db
def test_the_migrated_database_has_the_triggers_a_later_table_rebuild_dropped():
    # Migrations after 0008 rebuild clinic_patient on SQLite (adding NOT NULL columns): the test
    # database was made by migrate, so the triggers are there only because post_migrate put them back.
    assert triggers() == set(ALL)


@pytest.mark.django_db
def test_triggers_put_back_rebuild_the_index_from_the_rows_changed_meanwhile(cast):
    with connection.cursor() as cursor:
        for name in ALL:
            cursor.execute(f"DROP TRIGGER {name}")
    Patient.objects.filter(pk=cast.pat.pk).update(last_name="Zyzzyva")  # while no trigger follows it
    assert indexed("Zyzzyva") == []
    assert search_index.restore_triggers(connection) == ALL
    assert indexed("Zyzzyva") == [cast.pat.pk]
    assert search_index.restore_triggers(connection) == []  # nothing missing: nothing done
