"""Set-wise writes for the bulk paths, where the ORM's per-statement and per-object work costs more
than the database (docs/performance.md, "What the bulk helpers save"): one executemany per call.
Values go through each field's own conversion (encryption, JSON, dates), exactly as save() would write
them, except plain fields whose conversion leaves a value of their own type unchanged. Only quoted
names from the model's metadata are formatted into the SQL.

Rows come as unsaved objects (`insert_rows`) or as dicts by attname (`insert_dicts`, cheaper);
`instances` and `loaded` make objects without Model.__init__ when callers need them; `among` hands a
batch's ids to `__in` as one parameter."""

import datetime
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from itertools import repeat

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

# Fields whose get_db_prep_save returns a value of the field's own Python type unchanged (str, int,
# bool or None): converting it costs time for nothing. Exact classes, so a subclass that
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
        return _datetime_converter(field)
    if isinstance(field, models.JSONField):
        return _shared_converter(field)
    if field.null:  # NULL is written as NULL by every field (e.g. an event's client address, mostly none)
        return lambda v: None if v is None else field.get_db_prep_save(v, connection)
    return lambda v: field.get_db_prep_save(v, connection)


def _datetime_converter(field: models.DateTimeField) -> Callable:
    """None and an aware datetime are written as Django would; anything else takes the field's full
    path (a naive one warns). A batch's rows share a few instants (now, now + the lifetime), and the
    adapter is not free, so each distinct value is converted once per batch."""
    adapt, converted = connection.ops.adapt_datetimefield_value, {}

    def convert(value):
        if value is None:
            return None
        if not (isinstance(value, datetime.datetime) and value.tzinfo is not None):
            return field.get_db_prep_save(value, connection)
        if value not in converted:
            converted[value] = adapt(value)
        return converted[value]
    return convert


def _shared_converter(field: models.Field) -> Callable:
    """A JSON value is often one object shared by a batch's rows (e.g. the practice's details in each
    invitation email's context): each distinct object is encoded once per batch. Keyed by identity;
    the object is kept with its encoding, so no id can be reused by another object meanwhile."""
    converted = {}

    def convert(value):
        if id(value) not in converted:
            converted[id(value)] = (value, field.get_db_prep_save(value, connection))
        return converted[id(value)][1]
    return convert


def _statement(model: type[models.Model], fields: tuple[models.Field, ...]) -> str:
    q = connection.ops.quote_name
    return (f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))})")


def _converted(rows: Iterable[tuple], fields: tuple[models.Field, ...]) -> list[tuple]:
    """Rows of values (tuples in `fields` order) made rows of column values, column by column: a
    column holding one object in every row (a batch's shared moment, its context, NULL) is converted
    once; the others value by value. Only the fields that need it are touched."""
    rows = list(rows)
    if not rows:
        return rows
    columns = list(zip(*rows, strict=True))
    for i, field in enumerate(fields):
        if (convert := _converter(field)) is None:
            continue
        column, first = columns[i], columns[i][0]
        # By identity, not equality: equal values of two types (1 and 1.0 in a JSON value) are written apart.
        if all(map(operator.is_, column, repeat(first))):
            columns[i] = repeat(convert(first), len(column))
        else:
            columns[i] = map(convert, column)
    return list(zip(*columns, strict=True))


def insert_rows(model: type[models.Model], objs: Iterable[models.Model]) -> int:
    """INSERT the unsaved objects (their primary keys are not read back: look rows up by a unique key
    if needed). Returns how many."""
    return _execute(insert_statement(model, objs))


def insert_statement(model: type[models.Model], objs: Iterable[models.Model]) -> tuple[str, list[tuple]]:
    """The INSERT and its rows of column values for insert_rows (apart, so a benchmark can time the write alone)."""
    fields = _insert_fields(model)
    values = _getter(tuple(f.attname for f in fields))
    return _statement(model, fields), _converted((values(obj.__dict__) for obj in objs), fields)


def insert_dicts(model: type[models.Model], rows: Iterable[Mapping]) -> int:
    """INSERT one row per dict of field values by attname (`practice_id`, not `practice`); a field a
    dict leaves out gets its default (field.get_default, made per row), as a new object would.
    Returns how many."""
    return _execute(dicts_statement(model, rows))


def dicts_statement(model: type[models.Model], rows: Iterable[Mapping]) -> tuple[str, list[tuple]]:
    """The INSERT and its rows of column values for insert_dicts."""
    fields = _insert_fields(model)
    values = _getter(tuple(f.attname for f in fields))
    return _statement(model, fields), _converted((values(_with_defaults(model, row)) for row in rows), fields)


@cache
def _getter(names: tuple[str, ...]) -> Callable[[Mapping], tuple]:
    """A mapping's values for `names`, as a tuple (operator.itemgetter: one C call per row)."""
    if len(names) == 1:
        return lambda values: (values[names[0]],)
    return operator.itemgetter(*names)


def instances(model: type[models.Model], rows: Iterable[Mapping]) -> list[models.Model]:
    """Unsaved objects from dicts of field values by attname (a missing field takes its default), for
    batches that must hand objects on. Model.__init__ is slow per object (a setattr through each
    field's descriptor, two signals); these are made as unpickling makes them, the values put straight
    in the instance's __dict__, which is all those descriptors do for a new object. If anything listens
    for the model's init signals, they go through __init__ as usual."""
    if _init_watched(model):
        makers = _makers(model)
        return [model(*(row[name] if name in row else make() for name, make in makers)) for row in rows]
    return [_made(model, _with_defaults(model, row), adding=True, alias=None) for row in rows]


def loaded(model: type[models.Model], rows: Iterable[Mapping]) -> list[models.Model]:
    """Objects as a query with .only(the rows' fields) makes them (saved; any other field loaded on
    first use), from dicts by attname such as .values() returns, made as `instances` makes them."""
    alias, fields = connection.alias, model._meta.concrete_fields
    if _init_watched(model):
        return [model.from_db(alias, set(row), [row[f.attname] for f in fields if f.attname in row]) for row in rows]
    return [_made(model, row, adding=False, alias=alias) for row in rows]


def _init_watched(model: type[models.Model]) -> bool:
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


def _made(model: type[models.Model], values: Mapping, *, adding: bool, alias: str | None) -> models.Model:
    obj = model.__new__(model)
    obj._state = ModelState()
    obj._state.adding, obj._state.db = adding, alias
    obj.__dict__.update(values)
    return obj


def relate(objs: Iterable[models.Model], name: str, related: Iterable[models.Model]) -> None:
    """Set each object's foreign key `name` to its related object (already matching its `<name>_id`),
    as select_related fills it: assigning through the attribute checks each one."""
    field = None
    for obj, other in zip(objs, related, strict=True):
        field = field or obj._meta.get_field(name)
        field.set_cached_value(obj, other)


def among(values: Iterable[int | str]) -> RawSQL | list:
    """`filter(pk__in=among(ids))`: the values as ONE parameter (a JSON array on SQLite, an array on
    PostgreSQL). Django prepares an `__in` list value by value, so a query over a batch's ids costs
    more to build than to run; this costs the same for 5 ids or 5,000, and both databases still look
    each value up by its index."""
    values = list(values)
    if not values:
        return []  # Django knows an empty __in matches nothing (and asks the database nothing)
    kinds = {type(v) for v in values}
    if kinds not in ({int}, {str}):
        # Unlike an __in list, nothing converts the values: they must already be the column's type.
        raise TypeError(f"among() takes ints or strs, all of one type, not {', '.join(k.__name__ for k in kinds)}")
    if connection.vendor == "postgresql":
        kind = "text" if kinds == {str} else "bigint"
        return RawSQL(f"SELECT unnest(%s::{kind}[])", (values,))  # noqa: S611 (kind is one of two literals)
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values),))


def fetched(queryset: models.QuerySet) -> list[tuple]:
    """A values_list query's rows as the database driver returns them, without Django's work per row
    (a batch reads back thousands): only for columns whose database values are already their Python
    values (ids, text), as no field converts them."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. an empty among(): matches nothing, asked of no database
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _with_defaults(model: type[models.Model], row: Mapping) -> dict:
    """The row's values by attname, with a new object's default for each field it leaves out."""
    constants, made_per_object = _defaults(model)
    return {**constants, **{name: make() for name, make in made_per_object if name not in row}, **row}


@cache
def _defaults(model: type[models.Model]) -> tuple[dict, tuple[tuple[str, Callable], ...]]:
    """A new object's defaults by attname: the constant ones, and those made per object (a callable
    default, e.g. `dict` for a JSONField, must not be shared between objects)."""
    fields = model._meta.concrete_fields
    per_object = tuple((f.attname, f.default) for f in fields if f.has_default() and callable(f.default))
    made = {name for name, _ in per_object}
    return {f.attname: f.get_default() for f in fields if f.attname not in made}, per_object


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
