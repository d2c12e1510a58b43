import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from sms.standin import StandIn


class Command(BaseCommand):
    help = ("Run the local stand-in of the SMS provider on loopback (development): it takes texts on the "
            "provider's Messages API, keeps them for the staff Phone page, and reports them delivered.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8026)

    def handle(self, *args, port: int, **options):
        standin = StandIn(settings.PORTICO_SMS_ACCOUNT_SID, settings.PORTICO_SMS_AUTH_TOKEN, port=port,
                          log_path=settings.PORTICO_PHONE_LOG, callbacks=True).start()
        self.stdout.write(f"SMS stand-in listening on {standin.url}, texts kept in {settings.PORTICO_PHONE_LOG}")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        stopped.wait()
        standin.stop()
