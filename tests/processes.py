"""Processes of a node as Linux shows them (/proc): a test kills a node as a machine dies, and checks
that nothing of it lives on."""

import contextlib
import os
import signal
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Every process started under `pid` (children, their children...), as they are now."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # gone
        return []
    return children + [d for child in children for d in descendants(child)]


def alive(pid: int) -> bool:
    """Running (a zombie, dead and not yet reaped by whoever adopted it, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def kill_all(pids: list[int]) -> None:
    """SIGKILL each of these processes of ours still running."""
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
