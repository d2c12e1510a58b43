"""Start a few long-running commands together and stop them together (`serve`, `rundemo`)."""

import signal
import subprocess
import time

from django.core.management.base import CommandError


class Processes:
    """Children started in process groups of their own: Ctrl-C reaches only the supervising command,
    which stops them in order, instead of each one racing to handle the interrupt itself."""

    def __init__(self, env: dict[str, str]):
        self.env, self.children = env, {}

    def start(self, name: str, command: list[str]) -> None:
        self.children[name] = subprocess.Popen(command, env=self.env, process_group=0)  # noqa: S603

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


def listen_for_stop_signals() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, also in the background of a shell: a background
    job starts with SIGINT ignored, and Python then installs no handler of its own."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
