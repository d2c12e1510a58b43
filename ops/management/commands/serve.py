import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ops import migrating
from ops.processes import Processes


class Command(BaseCommand):
    help = ("Run Portico in production: migrate the database, collect static files, then run gunicorn, "
            "PORTICO_WORKERS task workers and the periodic jobs until Ctrl-C or SIGTERM stops them all.")

    def handle(self, *args, **options):
        # The settings themselves already refused a missing SECRET_KEY etc. (manage.py prints the line).
        if settings.DEBUG:
            raise CommandError("DEBUG is on: `manage.py serve` is for production (use `make run` for the demo).")
        self.stdout.write("Migrating the database...")
        migrating.migrate()
        self.stdout.write("Collecting static files...")
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("check", deploy=True)  # prints any warning; errors stop here
        processes = Processes({**os.environ, "PYTHONUNBUFFERED": "1"})
        for name, command in self._commands().items():
            processes.start(name, command)
        self.stdout.write(
            f"Portico is serving on http://{settings.PORTICO_BIND} ({settings.PORTICO_WEB_WORKERS} web workers, "
            f"{settings.PORTICO_WORKERS} task worker(s)); health at /health/. Ctrl-C stops it."
        )
        processes.wait()
        self.stdout.write("Stopped the web server, task workers and periodic jobs.")

    def _commands(self) -> dict[str, list[str]]:
        manage = [sys.executable, "manage.py"]
        # gunicorn believes X-Forwarded-* only from FORWARDED_ALLOW_IPS (default: this machine), read
        # from the environment by gunicorn itself; Django reads the scheme header itself (settings).
        # gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): two nodes on
        # one machine would take it from each other, and the first to stop would remove the other's.
        commands = {"web": [sys.executable, "-m", "gunicorn", "portico.wsgi", "--config", "python:portico.gunicorn",
                            "--bind", settings.PORTICO_BIND, "--workers", str(settings.PORTICO_WEB_WORKERS),
                            "--control-socket", str(settings.VAR_DIR / "gunicorn.ctl")]}
        for n in range(1, settings.PORTICO_WORKERS + 1):
            commands[f"task worker {n}"] = [*manage, "worker"]
        commands["periodic"] = [*manage, "run_periodic", "--interval", str(settings.PORTICO_PERIODIC_SECONDS)]
        return commands
