import os
import signal
import socket
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the demo: web app, task worker, periodic jobs and a local SMTP server. Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--smtp-port", type=int, default=8025)

    def handle(self, *args, port: int, smtp_port: int, **options):
        base_url = os.environ.get("PORTICO_BASE_URL", f"http://127.0.0.1:{port}")
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1"), "PORTICO_BASE_URL": base_url,
               "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port), "EMAIL_USE_TLS": "false",
               "PYTHONUNBUFFERED": "1"}
        manage = [sys.executable, "manage.py"]
        commands = {
            "smtpd": [*manage, "smtpd", "--port", str(smtp_port)],
            "web": [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [*manage, "db_worker", "--queue-name", "*", "--interval", "1", "--no-reload"],
            "periodic": [*manage, "run_periodic", "--interval", "30"],
        }
        self.children = {}
        for name, cmd in commands.items():
            # In a process group of its own: Ctrl-C reaches only this command, which then stops the
            # children in order, instead of each one racing to handle the interrupt itself.
            self.children[name] = subprocess.Popen(cmd, env=env, process_group=0)  # noqa: S603
            if name == "smtpd":
                self._wait_for_port(smtp_port)  # so the first emails do not meet a closed port
        signal.signal(signal.SIGTERM, self._interrupt)
        self._banner(base_url, smtp_port)
        try:
            while True:
                for name, child in self.children.items():
                    if child.poll() is not None:
                        self._stop_all()
                        raise CommandError(f"The {name} process stopped (exit code {child.returncode}); stopped the rest.")
                time.sleep(0.5)
        except KeyboardInterrupt:
            self._stop_all()
            self.stdout.write("Stopped the web app, worker, periodic jobs and SMTP server.")

    def _wait_for_port(self, port: int) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise CommandError(f"The SMTP server did not start on port {port}.")

    def _banner(self, base_url: str, smtp_port: int) -> None:
        self.stdout.write(
            f"\nPortico demo is running:\n"
            f"  Staff sign in   {base_url}/login/\n"
            f"  Mailbox         {base_url}/mailbox/   (every email sent, caught by the SMTP server on 127.0.0.1:{smtp_port})\n"
            f"  Patient portal  {base_url}/portal/\n"
            f"  Admin           {base_url}/admin/\n"
            f"Logins are printed above by seed_demo. Press Ctrl-C to stop.\n"
        )

    def _stop_all(self) -> None:
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

    def _interrupt(self, signum, frame):
        raise KeyboardInterrupt
