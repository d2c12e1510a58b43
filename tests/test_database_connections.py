"""How each process reaches PostgreSQL, from the environment (README "Scaling out"): a persistent
connection by default, Django's own pool with PORTICO_DB_POOL_SIZE, PgBouncer's transaction mode with
PORTICO_DB_PGBOUNCER."""

import json
import subprocess
import sys

from conftest import postgres_only
from mail.tests.test_worker_crash import ROOT, database_url_for_other_processes
from tests.test_serve import production_env

# What a process of Portico sees of its connection, after one query through it.
REPORT = """
import json
from django.db import connection
from clinic.models import Practice
list(Practice.objects.all()[:1])
pool = connection.pool
print(json.dumps({"pool_max": pool.max_size if pool else None, "conn_max_age": connection.settings_dict["CONN_MAX_AGE"],
                  "server_side_cursors": not connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"]}))
"""


def connection_seen(tmp_path, **env) -> dict:
    environment = production_env(tmp_path, "https://portal.example.org",
                                 DATABASE_URL=database_url_for_other_processes(), **env)
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", REPORT], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # after what the shell prints of its own


@postgres_only
def test_a_process_keeps_one_persistent_connection_by_default(tmp_path, db):
    assert connection_seen(tmp_path) == {"pool_max": None, "conn_max_age": 60, "server_side_cursors": True}


@postgres_only
def test_pool_size_gives_each_process_djangos_pool_of_that_size(tmp_path, db):
    # Django refuses a pool with persistent connections: the pool replaces them.
    seen = connection_seen(tmp_path, PORTICO_DB_POOL_SIZE="3")
    assert seen == {"pool_max": 3, "conn_max_age": 0, "server_side_cursors": True}


@postgres_only
def test_behind_pgbouncer_no_server_side_cursor_is_used(tmp_path, db):
    seen = connection_seen(tmp_path, PORTICO_DB_PGBOUNCER="on")
    assert seen == {"pool_max": None, "conn_max_age": 60, "server_side_cursors": False}
