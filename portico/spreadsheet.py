"""The one CSV writer for every file the product offers for download.

Staff open these files in a spreadsheet, and a cell that starts with =, +, -, @, a tab or a carriage
return is run there as a formula (`=HYPERLINK(...)` sends whoever clicks it elsewhere). Such a cell is
written with a leading apostrophe, which spreadsheets read as "this is text" and do not show."""

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def as_text_cell(value: Any) -> Any:
    """A value a spreadsheet shows as written; numbers and other non-text values pass unchanged."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


class SafeWriter:
    """csv.writer, with every cell of every row through as_text_cell."""

    def __init__(self, out: _Writable):
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([as_text_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
