"""A progress bar for management commands on a terminal; silent when the output is a file or pipe."""

import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """Call it with (done, total) as work advances; it redraws at most ten times a second."""

    def __init__(self, stream: TextIO, label: str):
        self.stream, self.label = stream, label
        self.enabled = stream.isatty()
        self._last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._last_draw < 0.1):
            return
        self._last_draw = now
        filled = WIDTH * done // total if total else WIDTH
        percent = 100 * done // total if total else 100
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {percent:3d}% {done:,}/{total:,}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
