import signal
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a local SMTP server on loopback that keeps every message for the staff Mailbox page (development)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8025)

    def handle(self, *args, port: int, **options):
        folder = settings.PORTICO_MAILBOX_DIR
        folder.parent.mkdir(parents=True, exist_ok=True)  # Maildir makes the folder itself, with tmp/new/cur
        controller = Controller(Mailbox(str(folder)), hostname="127.0.0.1", port=port)
        controller.start()
        self.stdout.write(f"SMTP server catching mail on 127.0.0.1:{port}, kept in {folder}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
