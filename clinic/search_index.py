"""SQLite's trigram index of the patient search (clinic.selectors): an FTS5 table over
clinic_patient's searched columns, kept in step by triggers (created by migration 0008).

Why this module: SQLite cannot alter most columns in place, so Django rebuilds clinic_patient
(a new table, the rows copied, the old one dropped) whenever a migration adds a NOT NULL column or
changes one, and the triggers go with the old table. Without them the index silently stops
following the patients and the search misses new ones. So after every `migrate` (post_migrate,
clinic.apps) the triggers are put back where they are missing, and the index rebuilt from the
table, since rows may have changed while they were gone. PostgreSQL's pg_trgm indexes are on the
table itself and survive."""

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "clinic_patient_search"


# The searched columns, written out: trigger bodies are fixed text (the same as migration 0008's).
TRIGGERS = {
    "clinic_patient_search_insert": (
        "AFTER INSERT ON clinic_patient BEGIN "
        "INSERT INTO clinic_patient_search(rowid, first_name, last_name, email, chart_number, phone) "
        "VALUES (new.id, new.first_name, new.last_name, new.email, new.chart_number, new.phone); END"),
    "clinic_patient_search_delete": (
        "AFTER DELETE ON clinic_patient BEGIN "
        "INSERT INTO clinic_patient_search(clinic_patient_search, rowid, first_name, last_name, email, chart_number, phone) "
        "VALUES ('delete', old.id, old.first_name, old.last_name, old.email, old.chart_number, old.phone); END"),
    "clinic_patient_search_update": (
        "AFTER UPDATE OF first_name, last_name, email, chart_number, phone ON clinic_patient BEGIN "
        "INSERT INTO clinic_patient_search(clinic_patient_search, rowid, first_name, last_name, email, chart_number, phone) "
        "VALUES ('delete', old.id, old.first_name, old.last_name, old.email, old.chart_number, old.phone); "
        "INSERT INTO clinic_patient_search(rowid, first_name, last_name, email, chart_number, phone) "
        "VALUES (new.id, new.first_name, new.last_name, new.email, new.chart_number, new.phone); END"),
}


def restore_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """Put back the triggers a table rebuild dropped, and rebuild the index if any was missing; the
    names of the triggers put back (none: nothing to do, or not SQLite, or no index yet)."""
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE %s",
                       [f"{TABLE}%"])
        present = {name for (name,) in cursor.fetchall()}
        if TABLE not in present:  # before migration 0008, or after it was undone
            return []
        missing = [name for name in TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(f"CREATE TRIGGER {name} {TRIGGERS[name]}")
        if missing:
            cursor.execute("INSERT INTO clinic_patient_search(clinic_patient_search) VALUES ('rebuild')")
    return missing


def after_migrate(sender, using: str = "default", **kwargs) -> None:
    restore_triggers(connections[using])
