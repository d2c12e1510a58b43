"""Case: `import_patients` of a 101,000-row file (BENCH_IMPORT_ROWS, or scaled) into an empty practice,
then the same file again (nothing to change).

Baseline, in the same run: a bare executemany of the same patient rows, already normalised and with
their SSNs encrypted beforehand (only the INSERT is timed), into another practice. Each is one run, not
a median: an import changes what the next one finds.
"""

import datetime
import io
import time

from django.db import connection, transaction

from bench.common import Row, scaled
from clinic import importing
from clinic.models import Patient, Practice
from portico.bulk import dicts_statement

HEADER = "chart_number,first_name,last_name,email,ssn,date_of_birth,phone,doctor\n"


def patient_values(i: int) -> dict:
    """Row i as the import stores it (clean): the file's text is made from these."""
    return {
        "chart_number": f"M-{i:06d}", "first_name": f"First{i % 997}", "last_name": f"Last{i % 1499}",
        "email": f"patient{i}@example.test" if i % 10 else "",
        "ssn": f"{100 + i % 500:03d}{10 + i % 89:02d}{1000 + i % 8999:04d}" if i % 4 else "",
        "date_of_birth": datetime.date(1940 + i % 70, 1 + i % 12, 1 + i % 28) if i % 5 else None,
        "phone": f"+1555{i % 10_000_000:07d}" if i % 3 else "",
    }


def csv_text(rows: int) -> str:
    lines = [HEADER]
    for i in range(rows):
        v = patient_values(i)
        phone = v["phone"] and f"({v['phone'][2:5]}) {v['phone'][5:8]}-{v['phone'][8:]}"
        lines.append(f"{v['chart_number']},{v['first_name']},{v['last_name']},{v['email']},{v['ssn']},"
                     f"{v['date_of_birth'] or ''},{phone},\n")
    return "".join(lines)


def bare_insert(practice: Practice, rows: int) -> float:
    """The rows' INSERT alone: statement and column values (SSNs encrypted) prepared before the clock."""
    sql, params = dicts_statement(Patient, ({**patient_values(i), "practice_id": practice.pk,
                                             "ssn_last4": patient_values(i)["ssn"][-4:]} for i in range(rows)))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return time.perf_counter() - started


def timed_import(practice: Practice, text: str) -> tuple[float, importing.ImportReport]:
    started = time.perf_counter()
    report = importing.import_patients(practice, io.StringIO(text, newline=""))
    return time.perf_counter() - started, report


def run() -> list[Row]:
    rows = scaled("IMPORT_ROWS", 101000)
    text = csv_text(rows)
    baseline = bare_insert(Practice.objects.create(name="Bare insert practice"), rows)
    practice = Practice.objects.create(name="Import practice")
    first, report = timed_import(practice, text)
    assert report.summary() == f"created {rows}, updated 0, unchanged 0, invalid 0", report.summary()
    again, report = timed_import(practice, text)
    assert report.summary() == f"created 0, updated 0, unchanged {rows}, invalid 0", report.summary()
    label = f"{rows:,} rows"
    return [
        Row(f"import: baseline: bare executemany of {label} (SSNs encrypted before)", f"{baseline:.2f} s"),
        Row(f"import: import_patients, {label} into an empty practice", f"{first:.2f} s", f"{baseline:.2f} s",
            first / baseline, "within 5x; one run"),
        Row(f"import: the same file again ({label} unchanged)", f"{again:.2f} s", f"{baseline:.2f} s",
            again / baseline, "one run"),
    ]
