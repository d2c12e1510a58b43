"""Set-wise writes for the bulk paths, where the ORM's per-statement work costs more than the database:
one executemany per call. Values go through each field's own conversion (encryption, JSON, dates),
exactly as a save() would write them; only quoted names from the model's metadata are formatted in."""

from collections.abc import Iterable

from django.db import connection, models


def insert_rows(model: type[models.Model], objs: Iterable[models.Model]) -> int:
    """INSERT the unsaved objects (their primary keys are not read back: look rows up by a unique key
    if needed). Returns how many."""
    sql, rows = insert_statement(model, objs)
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return len(rows)


def insert_statement(model: type[models.Model], objs: Iterable[models.Model]) -> tuple[str, list[tuple]]:
    """The INSERT and its rows of column values for insert_rows (apart, so a benchmark can time the write alone)."""
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.get_default() is None)]
    rows = [tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields) for obj in objs]
    q = connection.ops.quote_name
    sql = (f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    return sql, rows


def update_rows(model: type[models.Model], fields: list[str], rows: list[tuple], *, only_if: dict | None = None) -> None:
    """UPDATE one row per tuple (its values for `fields`, then its id): a bulk_update's CASE expressions
    cost far more for thousands of rows. `only_if` ({field: value}) leaves alone a row that no longer
    has those values. Values are written as given (no field conversion)."""
    if not rows:
        return
    q, conditions = connection.ops.quote_name, only_if or {}
    column = lambda name: q(model._meta.get_field(name).column)  # noqa: E731
    assignments = ", ".join(f"{column(name)} = %s" for name in fields)
    where = " AND ".join([f"{q(model._meta.pk.column)} = %s", *(f"{column(name)} = %s" for name in conditions)])
    sql = f"UPDATE {q(model._meta.db_table)} SET {assignments} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*row, *conditions.values()) for row in rows])
