import os
import socket
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from ops.processes import Processes, listen_for_stop_signals


class Command(BaseCommand):
    help = ("Run the demo: web app, task worker, periodic jobs, a local SMTP server and the SMS provider's "
            "stand-in. Ctrl-C stops all.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--smtp-port", type=int, default=8025)
        parser.add_argument("--sms-port", type=int, default=8026)

    def handle(self, *args, port: int, smtp_port: int, sms_port: int, **options):
        listen_for_stop_signals()
        # The links the demo mails and prints use the port it runs on (`make run` sets this for
        # seed_demo too); an explicit PORTICO_BASE_URL wins.
        base_url = os.environ.get("PORTICO_BASE_URL", f"http://127.0.0.1:{port}")
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1"), "PORTICO_BASE_URL": base_url,
               "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port), "EMAIL_USE_TLS": "false",
               "PYTHONUNBUFFERED": "1", **self._sms_env(sms_port)}
        manage = [sys.executable, "manage.py"]
        commands = {
            "smtpd": [*manage, "smtpd", "--port", str(smtp_port)],
            "sms": [*manage, "sms_standin", "--port", str(sms_port)],
            "web": [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            "worker": [*manage, "worker"],
            "periodic": [*manage, "run_periodic", "--interval", "30"],
        }
        processes = Processes(env)
        self._run(processes, commands, base_url, smtp_port)
        self.stdout.write("Stopped the web app, worker, periodic jobs, SMTP server and SMS stand-in.")

    @staticmethod
    def _sms_env(sms_port: int) -> dict[str, str]:
        """Texts go to the local stand-in of the SMS provider (a real account's settings win)."""
        if os.environ.get("PORTICO_SMS_ACCOUNT_SID"):
            return {}
        return {"PORTICO_SMS_URL": f"http://127.0.0.1:{sms_port}", "PORTICO_SMS_ACCOUNT_SID": "AC" + "d" * 32,
                "PORTICO_SMS_AUTH_TOKEN": "demo-auth-token", "PORTICO_SMS_FROM": "+15005550006"}

    def _run(self, processes: Processes, commands: dict[str, list[str]], base_url: str, smtp_port: int) -> None:
        """Start everything and wait; return once all are stopped (on a signal, or if one dies)."""
        try:
            for name, cmd in commands.items():
                processes.start(name, cmd)
                if name == "smtpd":
                    self._wait_for_port(smtp_port)  # so the first emails do not meet a closed port
            self._banner(base_url, smtp_port)
        except KeyboardInterrupt:  # stopped while starting: stop what did start
            processes.stop_all()
            return
        processes.wait()

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
            f"  Phone           {base_url}/phone/     (every text sent, taken by the SMS provider's stand-in)\n"
            f"  Patient portal  {base_url}/portal/\n"
            f"  Admin           {base_url}/admin/\n"
            f"Logins are printed above by seed_demo. Press Ctrl-C to stop.\n"
        )

