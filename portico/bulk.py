"""Set-wise writes for the bulk paths, where the ORM's per-statement and per-object work costs more
than the database: one executemany per call. Values go through each field's own conversion
(encryption, JSON, dates), exactly as a save() would write them, except for plain fields (text,
numbers, booleans, keys) whose conversion leaves a value of their own type unchanged: those are
written as given. Only quoted names from the model's metadata are formatted into the SQL.

Rows can be given as unsaved objects (`insert_rows`) or, cheaper still, as dicts of field values by
attname (`insert_dicts`: a model instance costs ~30 us to make with keyword arguments, a dict ~1 us);
`instances` makes objects positionally (~4x faster than keyword arguments) when callers need them."""

import datetime
from collections.abc import Callable, Iterable, Mapping
from functools import cache

from django.db import connection, models
from django.utils import timezone

# Fields whose get_db_prep_save returns a value of the field's own Python type unchanged (str, int,
# bool or None): converting it costs ~3 us a value for nothing. Exact classes, so a subclass that
# converts (portico.crypto.EncryptedTextField) keeps its conversion.
_AS_IS = {models.CharField, models.EmailField, models.TextField, models.SlugField, models.BooleanField,
          models.IntegerField, models.SmallIntegerField, models.BigIntegerField, models.PositiveIntegerField,
          models.PositiveSmallIntegerField, models.PositiveBigIntegerField, models.AutoField, models.BigAutoField}


@cache
def _insert_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT writes: every concrete field but an auto-incremented primary key."""
    return tuple(f for f in model._meta.concrete_fields if not (f.primary_key and f.get_default() is None))


def _converter(field: models.Field) -> Callable | None:
    """How a value of `field` becomes a column value on the current connection (None: as it is)."""
    if _sets_itself(field):  # as pre_save(add=True) does: the time of the INSERT, whatever was given
        stamp = field.get_db_prep_save(timezone.now(), connection)
        return lambda v: stamp
    if field.remote_field is not None and type(field.target_field) in _AS_IS:
        return None  # a key is its target's id
    if type(field) in _AS_IS:
        return None
    if type(field) is models.DateTimeField:
        adapt = connection.ops.adapt_datetimefield_value
        # None and an aware datetime are written as Django would; anything else takes the field's full
        # path (a naive one warns).
        return lambda v: v if v is None else adapt(v) if isinstance(v, datetime.datetime) and v.tzinfo is not None \
            else field.get_db_prep_save(v, connection)
    return lambda v: field.get_db_prep_save(v, connection)


def _statement(model: type[models.Model], fields: tuple[models.Field, ...]) -> str:
    q = connection.ops.quote_name
    return (f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))})")


def _converted(rows: Iterable[list], fields: tuple[models.Field, ...]) -> list[list]:
    """Each row's values (lists, in `fields` order) made column values, in place; only the fields
    that need it are touched."""
    todo = [(i, convert) for i, f in enumerate(fields) if (convert := _converter(f)) is not None]
    rows = list(rows)
    for row in rows:
        for i, convert in todo:
            row[i] = convert(row[i])
    return rows


def insert_rows(model: type[models.Model], objs: Iterable[models.Model]) -> int:
    """INSERT the unsaved objects (their primary keys are not read back: look rows up by a unique key
    if needed). Returns how many."""
    return _execute(insert_statement(model, objs))


def insert_statement(model: type[models.Model], objs: Iterable[models.Model]) -> tuple[str, list[list]]:
    """The INSERT and its rows of column values for insert_rows (apart, so a benchmark can time the write alone)."""
    fields = _insert_fields(model)
    attnames = [f.attname for f in fields]
    return _statement(model, fields), _converted(([obj.__dict__[name] for name in attnames] for obj in objs), fields)


def insert_dicts(model: type[models.Model], rows: Iterable[Mapping]) -> int:
    """INSERT one row per dict of field values by attname (`practice_id`, not `practice`); a field a
    dict leaves out gets its default (field.get_default, made per row), as a new object would.
    Returns how many."""
    return _execute(dicts_statement(model, rows))


def dicts_statement(model: type[models.Model], rows: Iterable[Mapping]) -> tuple[str, list[list]]:
    """The INSERT and its rows of column values for insert_dicts."""
    fields = _insert_fields(model)
    makers = [(f.attname, f.get_default) for f in fields]
    values = ([row[name] if name in row else make() for name, make in makers] for row in rows)
    return _statement(model, fields), _converted(values, fields)


def instances(model: type[models.Model], rows: Iterable[Mapping]) -> list[models.Model]:
    """Unsaved objects from dicts of field values by attname (a missing field takes its default), made
    positionally: about 4x faster than keyword arguments, for batches that must hand objects on."""
    makers = _makers(model)
    return [model(*(row[name] if name in row else make() for name, make in makers)) for row in rows]


@cache
def _makers(model: type[models.Model]) -> tuple[tuple[str, Callable], ...]:
    return tuple((f.attname, f.get_default) for f in model._meta.concrete_fields)


def _sets_itself(field: models.Field) -> bool:
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)


def _execute(statement: tuple[str, list[list]]) -> int:
    sql, rows = statement
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return len(rows)


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
