"""Start a few long-running commands together and stop them together (`serve`, `rundemo`)."""

import ctypes
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import CommandError


class Processes:
    """Children started in process groups of their own: Ctrl-C reaches only the supervising command,
    which stops them in order, instead of each one racing to handle the interrupt itself."""

    def __init__(self, env: dict[str, str]):
        self.env, self.children = env, {}

    def start(self, name: str, command: list[str]) -> None:
        self.children[name] = subprocess.Popen(command, env=self.env, process_group=0,  # noqa: S603
                                               preexec_fn=stop_when_parent_dies(os.getpid()))

    def wait(self) -> None:
        """Return on Ctrl-C or SIGTERM, with every child stopped; if one child stops by itself, stop
        the rest and raise CommandError naming it."""
        listen_for_stop_signals()
        try:
            while True:
                for name, child in self.children.items():
                    if child.poll() is not None:
                        self.stop_all()
                        raise CommandError(f"The {name} process stopped (exit code {child.returncode}); stopped the rest.")
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stop_all()

    def stop_all(self) -> None:
        # Deaf to further signals while stopping: make passes on the SIGTERM it got to its recipe, and a
        # service manager or an impatient person may send a second one; either must not cut the stop short
        # (the 10-second deadline below still ends it).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


# prctl(2): ask the kernel to send this signal to the calling process when its parent dies.
PR_SET_PDEATHSIG = 1


def stop_when_parent_dies(parent: int):
    """For a child about to be started (run in it between fork and exec): if the supervising command
    dies without stopping it (SIGKILL, the OOM killer), the child gets SIGTERM and stops as on Ctrl-C.
    Otherwise the node's web server and workers would live on, unsupervised, holding the port a
    restarted `serve` needs, while whoever killed it believes the node stopped. Linux only (elsewhere
    nothing is done)."""
    if not sys.platform.startswith("linux"):
        return None

    def child_setup() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request above was in place
            os.kill(os.getpid(), signal.SIGTERM)

    return child_setup


def listen_for_stop_signals() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, also in the background of a shell: a background
    job starts with SIGINT ignored, and Python then installs no handler of its own."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
