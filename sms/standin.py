"""A local stand-in for the SMS provider, on loopback, speaking the part of Twilio's Messages API that
Portico uses, so the real client path runs in development (`make run`) and in the tests:

- POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP basic auth (the account sid and auth
  token), form fields To, From or MessagingServiceSid, Body, StatusCallback. 201 with the message's
  JSON (sid "SM…", status "queued"); 401 (code 20003) for wrong credentials; 400 for a 'To' that is
  not a phone number (21211), as for the provider's magic test numbers +15005550001 (21211) and
  +15005550009 (21614, cannot receive texts); errors as the provider's JSON ({code, message, status}).
- Then, if asked (`callbacks`), the status callbacks "sent" and "delivered" ("undelivered" for
  +15005550002), signed with X-Twilio-Signature like the provider's, posted from a thread.
- `reply()` posts a text "from the patient" to /sms/inbound/, signed the same way.

Every accepted text is kept in `texts`, and appended as a JSON line to `log_path` if given (what the
staff Phone page reads in development). Tests can make the next requests answer with an HTTP status
(`fail_next`) or not answer in time (`stall_next`)."""

import base64
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import requests
from twilio.request_validator import RequestValidator

MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
REFUSED_NUMBERS = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
UNDELIVERABLE = "+15005550002"


class StandIn:
    def __init__(self, account_sid: str, auth_token: str, *, port: int = 0, log_path: Path | None = None,
                 callbacks: bool = False, callback_delay: float = 0.2):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.log_path, self.callbacks, self.callback_delay = log_path, callbacks, callback_delay
        self.texts: list[dict] = []
        self.requests = 0  # every POST to the Messages resource, accepted or not
        self.fail_next: list[int] = []  # HTTP statuses to answer the next requests with
        self.stall_next = 0  # how many next requests get no answer for `stall_seconds`
        self.stall_seconds = 12.0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "StandIn":
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def signature(self, url: str, params: dict[str, str]) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def post_signed(self, url: str, params: dict[str, str]) -> int:
        answer = requests.post(url, data=params, headers={"X-Twilio-Signature": self.signature(url, params)},
                               timeout=10, allow_redirects=False)
        return answer.status_code

    def reply(self, inbound_url: str, *, from_number: str, to_number: str, body: str) -> int:
        """A patient's text to our sender, as the provider posts it."""
        return self.post_signed(inbound_url, {"MessageSid": "SM" + secrets.token_hex(16), "From": from_number,
                                              "To": to_number, "Body": body, "AccountSid": self.account_sid})

    # --- the HTTP side ------------------------------------------------------------------------------

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the tests and `make run` print their own
                pass

            def do_POST(self):
                found = MESSAGES.match(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if not found:
                    return self._answer(404, {"code": 20404, "message": "The requested resource was not found",
                                              "status": 404})
                status, body = standin._create(found["sid"], self.headers.get("Authorization", ""), form)
                return self._answer(status, body)

            def _answer(self, status: int, body: dict | None):
                if body is None:  # stalled: the client times out first
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _create(self, path_sid: str, authorization: str, form: dict[str, str]) -> tuple[int, dict | None]:
        with self._lock:
            self.requests += 1
            injected = self.fail_next.pop(0) if self.fail_next else None
            stall = self.stall_next > 0
            self.stall_next -= stall
        if stall:
            time.sleep(self.stall_seconds)
            return 0, None
        if not self._authorized(path_sid, authorization):
            return 401, {"code": 20003, "message": "Authentication Error - invalid username", "status": 401}
        if injected:
            return injected, {"code": 20500, "message": "Internal Server Error", "status": injected}
        to = form.get("To", "")
        if not E164.match(to):
            return 400, {"code": 21211, "message": f"The 'To' number {to} is not a valid phone number.", "status": 400}
        if to in REFUSED_NUMBERS:
            code, message = REFUSED_NUMBERS[to]
            return 400, {"code": code, "message": message, "status": 400}
        if not (form.get("From") or form.get("MessagingServiceSid")) or not form.get("Body"):
            return 400, {"code": 21603, "message": "A 'From' phone number is required.", "status": 400}
        text = {"sid": "SM" + secrets.token_hex(16), "account_sid": path_sid, "to": to, "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"), "body": form["Body"], "status": "queued",
                "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                "num_segments": "1", "direction": "outbound-api", "error_code": None, "error_message": None,
                "uri": f"/2010-04-01/Accounts/{path_sid}/Messages/.json"}
        text["uri"] = text["uri"].replace("/.json", f"/{text['sid']}.json")
        self._keep(text)
        if self.callbacks and form.get("StatusCallback"):
            threading.Thread(target=self._report, args=(form["StatusCallback"], text), daemon=True).start()
        return 201, text

    def _authorized(self, path_sid: str, authorization: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return path_sid == self.account_sid and secrets.compare_digest(authorization, f"Basic {expected}")

    def _keep(self, text: dict) -> None:
        with self._lock:
            self.texts.append(text)
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(text) + "\n")

    def _report(self, url: str, text: dict) -> None:
        last = "undelivered" if text["to"] == UNDELIVERABLE else "delivered"
        for status in ("sent", last):
            time.sleep(self.callback_delay)
            params = {"MessageSid": text["sid"], "MessageStatus": status, "To": text["to"],
                      "AccountSid": self.account_sid, **({"ErrorCode": "30003"} if status == "undelivered" else {})}
            try:
                self.post_signed(url, params)
            except requests.RequestException:  # Portico is not listening (stopping): the provider would give up too
                return
