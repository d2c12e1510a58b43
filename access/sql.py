"""Set-wise writes the ORM has no fast form for."""

from django.db import connection, models


def update_each(model: type[models.Model], fields: list[str], rows: list[tuple], *, only_if: dict | None = None) -> None:
    """UPDATE one row per tuple (its values for `fields`, then its id) in one executemany: a
    bulk_update's CASE expressions cost far more for thousands of rows. `only_if` ({field: value})
    leaves alone a row that no longer has those values."""
    if not rows:
        return
    q, conditions = connection.ops.quote_name, only_if or {}
    column = lambda name: q(model._meta.get_field(name).column)  # noqa: E731
    assignments = ", ".join(f"{column(name)} = %s" for name in fields)
    where = " AND ".join([f"{q('id')} = %s", *(f"{column(name)} = %s" for name in conditions)])
    # Only quoted names from the model's own metadata are formatted in; every value is a parameter.
    sql = f"UPDATE {q(model._meta.db_table)} SET {assignments} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*row, *conditions.values()) for row in rows])
