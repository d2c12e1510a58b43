"""Start-up refuses a bad environment with one line naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def check(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "PORTICO_FIELD_KEYS")}
    base.update({"PORTICO_VAR_DIR": str(tmp_path), "DEBUG": "1"})
    base.update(env)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=60)


def test_it_starts_with_a_good_environment(tmp_path):
    result = check(tmp_path, PORTICO_BASE_URL="https://portal.example.org", EMAIL_PORT="587", EMAIL_USE_TLS="yes")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, not 'maybe'"),
        ({"DEBUG": "0"}, "SECRET_KEY is not set"),
        ({"DEBUG": "0", "SECRET_KEY": "k" * 50}, "PORTICO_FIELD_KEYS is not set"),
        ({"PORTICO_FIELD_KEYS": "not-a-key"}, "PORTICO_FIELD_KEYS must be comma-separated Fernet keys"),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be a whole number, not 'smtp'"),
        ({"EMAIL_PORT": "70000"}, "EMAIL_PORT must be at most 65535"),
        ({"EMAIL_USE_TLS": "sometimes"}, "EMAIL_USE_TLS must be true or false"),
        ({"PORTICO_INVITE_TTL_DAYS": "0"}, "PORTICO_INVITE_TTL_DAYS must be at least 1"),
        ({"PORTICO_BASE_URL": "portal.example.org"}, "PORTICO_BASE_URL must be an http(s) URL"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a database URL we understand"),
        ({"DATABASE_URL": "postgres://portico@127.0.0.1:1/portico", "PORTICO_DB_POOL_SIZE": "many"},
         "PORTICO_DB_POOL_SIZE must be a whole number, not 'many'"),
        ({"DATABASE_URL": "postgres://portico@127.0.0.1:1/portico", "PORTICO_DB_POOL_SIZE": "101"},
         "PORTICO_DB_POOL_SIZE must be at most 100"),
        ({"DATABASE_URL": "postgres://portico@127.0.0.1:1/portico", "PORTICO_DB_PGBOUNCER": "perhaps"},
         "PORTICO_DB_PGBOUNCER must be true or false"),
        ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "SECRET_KEY_FILE: cannot read '/nonexistent/secret'"),
    ],
)
def test_it_names_the_bad_variable(tmp_path, env, message):
    result = check(tmp_path, **env)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Portico cannot start: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
