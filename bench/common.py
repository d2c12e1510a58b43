"""What every benchmark case shares: Django set up on a throwaway database, sizes, and the table row.

Sizes scale with BENCH_SCALE (e.g. 0.05 for a quick run); DATABASE_URL picks PostgreSQL, otherwise
SQLite in a temporary folder. Subprocesses (workers, the SMTP sink, gunicorn) inherit this
environment, so they use the same database and keys."""

import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]


def setup() -> None:
    """Configure and start Django once (before any model import)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portico.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTICO_VAR_DIR", tempfile.mkdtemp(prefix="portico-bench-"))
    # Explicit keys, so a production-mode server started by a case (DEBUG off) shares them.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PORTICO_FIELD_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("PORTICO_HISTORY_KEYS", f"bench:{secrets.token_urlsafe(32)}")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def scaled(name: str, full: int) -> int:
    """A size: BENCH_<NAME> if set, else the full size times BENCH_SCALE (default 1)."""
    if f"BENCH_{name}" in os.environ:
        return int(os.environ[f"BENCH_{name}"])
    return max(1, round(full * float(os.environ.get("BENCH_SCALE", "1"))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class Row:
    """One line of the `make bench` table. `ratio` is measured / baseline (or as the case defines it)."""

    case: str
    measured: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""


def timed(fn, *, repeats: int = 5) -> float:
    """The median of `repeats` timed calls of `fn` (seconds), after one untimed call to warm up."""
    fn()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)
