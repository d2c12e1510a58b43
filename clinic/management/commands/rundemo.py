import os
import socket
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from ops.processes import Processes


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
            "worker": [*manage, "worker"],
            "periodic": [*manage, "run_periodic", "--interval", "30"],
        }
        processes = Processes(env)
        for name, cmd in commands.items():
            processes.start(name, cmd)
            if name == "smtpd":
                self._wait_for_port(smtp_port)  # so the first emails do not meet a closed port
        self._banner(base_url, smtp_port)
        processes.wait()
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
