"""Two nodes started together against one PostgreSQL both migrate it (`serve` runs ops.migrating.migrate)."""

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.db import connection

from conftest import postgres_only

MIGRATE = "import django; django.setup(); from ops import migrating; migrating.migrate()"


def _admin_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/postgres"


@pytest.fixture
def fresh_database():
    """An empty database in the same cluster, as a first deploy finds it; dropped afterwards."""
    name = f"portico_fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db = connection.settings_dict
    yield f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{name}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@postgres_only
@pytest.mark.timeout(600)
def test_two_nodes_starting_at_once_both_migrate_one_database(fresh_database):
    env = {**os.environ, "DATABASE_URL": fresh_database, "DEBUG": "1", "PYTHONUNBUFFERED": "1"}
    nodes = [subprocess.Popen([sys.executable, "-c", MIGRATE], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [node.communicate(timeout=540)[0] for node in nodes]

    assert [node.returncode for node in nodes] == [0, 0], outputs
    with psycopg.connect(fresh_database.replace("postgres://", "postgresql://", 1)) as db:
        applied = db.execute("SELECT count(*) FROM django_migrations WHERE app = 'access'").fetchone()[0]
    assert applied == len([f for f in os.listdir("access/migrations") if f[:4].isdigit() and f.endswith(".py")])
