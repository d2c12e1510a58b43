"""`make bench`: run every benchmark case in one process on one throwaway database and print one table.

A case is a module in bench/ with `run() -> list[Row]`; add it to CASES to include it. Sizes follow
BENCH_SCALE (0.05 for a quick run) or BENCH_<SIZE> (see each case); BENCH_CASES=delivery,portal_access
runs only those. DATABASE_URL=postgres://... runs them on PostgreSQL."""

import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Row, setup

CASES = ["import_patients", "patient_list", "bulk_invite", "delivery", "text_delivery", "portal_access", "reports"]


def main() -> None:
    setup()
    from django.db import connection

    wanted = [c for c in os.environ.get("BENCH_CASES", ",".join(CASES)).split(",") if c]
    print(f"Portico benchmarks on {connection.vendor}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"BENCH_SCALE={os.environ.get('BENCH_SCALE', '1')}")
    rows: list[Row] = []
    for name in wanted:
        started = time.perf_counter()
        print(f"{name}...", flush=True)
        try:
            got = importlib.import_module(f"bench.{name}").run()
        except Exception as e:  # one broken case must not lose the others' figures
            traceback.print_exc()
            got = [Row(f"{name}: FAILED", type(e).__name__)]
        rows += got
        print(f"{name} done in {time.perf_counter() - started:.0f} s", flush=True)
        print_table(got)
    print_table(rows)
    if any(r.case.endswith("FAILED") for r in rows):
        sys.exit(1)


def print_table(rows: list[Row]) -> None:
    header = Row("case", "measured", "baseline", None, "target")
    width = max(len(r.case) for r in [header, *rows])
    print()
    for r in [header, *rows]:
        ratio = "ratio" if r is header else (f"{r.ratio:.2f}x" if r.ratio is not None else "")
        print(f"{r.case:<{width}}  {r.measured:>16}  {r.baseline:>16}  {ratio:>8}  {r.target}")


if __name__ == "__main__":
    main()
