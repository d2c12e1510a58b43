"""A trigram index for the patient search (clinic.search): on SQLite an FTS5 table (trigram tokenizer)
over the searched columns, kept in step with clinic_patient by triggers; on PostgreSQL pg_trgm GIN
indexes on the expressions the search compares. Nothing in the models' state: the index is the
database's own business, and the search gives the same matches without it (only slower)."""

from django.db import migrations

SEARCHED = ("first_name", "last_name", "email", "chart_number", "phone")
TABLE = "clinic_patient_search"


def _columns(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{column}" for column in SEARCHED)


SQLITE_FORWARD = [
    f"CREATE VIRTUAL TABLE {TABLE} USING fts5({_columns()}, content='clinic_patient', content_rowid='id', "
    "tokenize='trigram')",
    f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON clinic_patient BEGIN "
    f"INSERT INTO {TABLE}(rowid, {_columns()}) VALUES (new.id, {_columns('new.')}); END",
    f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON clinic_patient BEGIN "
    f"INSERT INTO {TABLE}({TABLE}, rowid, {_columns()}) VALUES ('delete', old.id, {_columns('old.')}); END",
    f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF {_columns()} ON clinic_patient BEGIN "
    f"INSERT INTO {TABLE}({TABLE}, rowid, {_columns()}) VALUES ('delete', old.id, {_columns('old.')}); "
    f"INSERT INTO {TABLE}(rowid, {_columns()}) VALUES (new.id, {_columns('new.')}); END",
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
]
# IF EXISTS: a later migration that rebuilds clinic_patient on SQLite drops the triggers with it
# (clinic.search_index puts them back after each migrate).
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_{event}" for event in ("insert", "delete", "update")] + [
    f"DROP TABLE {TABLE}"]

# The expressions Django writes for the search's lookups (UPPER(col::text) LIKE / = for the
# case-insensitive ones, col::text LIKE for the phone's ending), so the planner matches them.
POSTGRES_INDEXES = {
    "patient_first_name_trgm": "UPPER(first_name::text)",
    "patient_last_name_trgm": "UPPER(last_name::text)",
    "patient_email_trgm": "UPPER(email::text)",
    "patient_chart_number_trgm": "UPPER(chart_number::text)",
    "patient_phone_trgm": "(phone::text)",
}
POSTGRES_FORWARD = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"] + [
    f"CREATE INDEX {name} ON clinic_patient USING gin ({expression} gin_trgm_ops)"
    for name, expression in POSTGRES_INDEXES.items()]
POSTGRES_BACKWARD = [f"DROP INDEX {name}" for name in POSTGRES_INDEXES]


def run(statements: dict[str, list[str]]):
    def apply(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)
    return apply


class Migration(migrations.Migration):

    dependencies = [
        ("clinic", "0007_practice_holidays_and_reports"),
    ]

    operations = [
        migrations.RunPython(run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
                             run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD})),
    ]
