"""A loopback SMTP server in its own process (so it and the sender each get a core), counting what it
accepts. Started by bench/delivery.py; commands on stdin, one JSON line back on stdout each:
`report` -> {"count", "unique", "first", "last"} (time.monotonic() of the first and last message
accepted; CLOCK_MONOTONIC is shared by the processes of one machine), `reset` -> {"ok": true}."""

import json
import re
import sys
import threading
import time
from collections import Counter

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID: (\S+)", re.MULTILINE | re.IGNORECASE)


class Counting:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.ids, self.count, self.first, self.last = Counter(), 0, None, None

    async def handle_DATA(self, server, session, envelope):
        match = MESSAGE_ID.search(envelope.content)
        now = time.monotonic()
        with self.lock:
            self.count += 1
            self.ids[match.group(1) if match else b""] += 1
            self.first = self.first or now
            self.last = now
        return "250 OK"

    def report(self) -> dict:
        with self.lock:
            return {"count": self.count, "unique": len(self.ids), "first": self.first, "last": self.last}


def main() -> None:
    port = int(sys.argv[1])
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(json.dumps({"ready": port}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "report":
                print(json.dumps(handler.report()), flush=True)
            elif command == "reset":
                with handler.lock:
                    handler.reset()
                print(json.dumps({"ok": True}), flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
