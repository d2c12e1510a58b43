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
        signal.signal(signal.SIGTERM, _interrupt)
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


def _interrupt(signum, frame):
    raise KeyboardInterrupt
