"""Migrating at start, one node at a time.

`serve` migrates before it starts anything. Two nodes started together against one fresh or upgraded
PostgreSQL would otherwise run the same migrations at once, and the second fails on tables the first
just made. PostgreSQL's advisory lock turns them into a queue: the second waits, then finds nothing
left to do."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection

# The advisory lock's key: any fixed 64-bit number, the same on every node ("Portico" in ASCII).
MIGRATION_LOCK = 0x506F727469636F


@contextmanager
def one_node_at_a_time() -> Iterator[None]:
    """Hold the migration lock for the block. A session lock: it needs the same server connection from
    start to end, which PgBouncer in transaction mode does not give, so behind PgBouncer (and on SQLite,
    which serves one machine) there is no lock and nodes must be started one after the other (README)."""
    if connection.vendor != "postgresql" or connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


def migrate() -> None:
    """What `serve` runs first on every node."""
    with one_node_at_a_time():
        call_command("migrate", interactive=False, verbosity=0)
