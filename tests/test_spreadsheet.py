"""portico.spreadsheet: the one CSV writer of every download, and portico.text.storable."""

import csv
import io

import pytest

from portico.spreadsheet import SafeWriter
from portico.text import storable


def written(row) -> list[str]:
    out = io.StringIO()
    SafeWriter(out).writerow(row)
    return next(csv.reader(io.StringIO(out.getvalue())))


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(cell):
    assert written([cell]) == ["'" + cell]


@pytest.mark.parametrize("cell", ["Ada", "O'Brien", "a=b", "1-2", " =1", ""])
def test_other_cells_are_written_as_they_are(cell):
    assert written([cell]) == [cell]


def test_numbers_are_not_text():
    assert written([-3, 2]) == ["-3", "2"]


def test_writerows_writes_each_row_safely():
    out = io.StringIO()
    SafeWriter(out).writerows([["=1"], ["ok"]])
    assert out.getvalue().splitlines() == ["'=1", "ok"]


def test_storable_marks_where_a_nul_was():
    assert storable("a\x00b\x00") == "a\ufffdb\ufffd"
    assert storable("plain") == "plain"
