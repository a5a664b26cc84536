"""Local servers speaking the providers' protocols, for tests and the benchmark.

- FakeTwilio: an HTTP server answering Twilio's Messages API (create, list, delete) and the
  Calls API's create (dial-out: the call placed, its TwiML kept) as the real SDK calls them,
  with Basic auth; told per number to answer 500, 429 or 400 (with
  Twilio's error JSON), or to be slow.
- SmtpServer: a real SMTP server (aiosmtpd) on 127.0.0.1 recording what it accepts, told
  per address to answer 450 or 550 at RCPT.
Both record in the test process what the (possibly separate) sender sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

from tests.e2e.harness import free_port  # one free-port helper for every test server

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+33700000000"

TWILIO_ERRORS = {
    400: (21211, "The 'To' number is not a valid phone number."),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}



@dataclass
class SentSms:
    sid: str
    to: str
    body: str
    sender: str
    status_callback: str
    created: float


@dataclass
class PlacedCall:
    sid: str
    to: str
    sender: str
    twiml: str
    status_callback: str
    time_limit: str


@dataclass
class FakeTwilio:
    """Twilio's Messages API on 127.0.0.1. `answers[number]`: statuses to answer, in turn
    (the last one repeats), e.g. [500, 201] fails once then accepts."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    delay: float = 0.0
    answers: dict[str, list[int | tuple[int, int]]] = field(default_factory=dict)  # status or (status, code)
    messages: list[SentSms] = field(default_factory=list)
    calls: list[PlacedCall] = field(default_factory=list)
    requests: int = 0
    deleted: list[str] = field(default_factory=list)  # sids deleted through the API
    delete_answers: list[int] = field(default_factory=list)  # statuses to answer DELETE, in turn
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session uses it
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return False
                return True

            def _path_ok(self, path: str) -> bool:
                if path not in (f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
                                f"/2010-04-01/Accounts/{fake.account_sid}/Calls.json"):
                    self._reply(404, {"code": 20404, "message": "Not found", "status": 404})
                    return False
                return True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if not self._authorised() or not self._path_ok(urlsplit(self.path).path):
                    return
                with fake.lock:
                    fake.requests += 1
                if urlsplit(self.path).path.endswith("/Calls.json"):
                    self._place_call(form)
                    return
                to = form.get("To", "")
                status, code = fake.next_answer(to)
                if status >= 400:
                    default_code, text = TWILIO_ERRORS.get(status, (20000 + status, "Error"))
                    code = code or default_code
                    self._reply(status, {"code": code, "message": text, "more_info": "", "status": status})
                    return
                if not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
                    self._reply(400, {"code": 21602, "message": "Message body is required.", "status": 400})
                    return
                sms = SentSms(
                    sid="SM" + uuid.uuid4().hex,
                    to=to,
                    body=form["Body"],
                    sender=form.get("From") or form.get("MessagingServiceSid", ""),
                    status_callback=form.get("StatusCallback", ""),
                    created=time.time(),
                )
                with fake.lock:
                    fake.messages.append(sms)
                if fake.delay:  # accepted, but the answer is slow (or lost if the client gives up)
                    time.sleep(fake.delay)
                self._reply(201, fake.resource(sms))

            def _place_call(self, form: dict[str, str]) -> None:
                status, code = fake.next_answer(form.get("To", ""))
                if status >= 400:
                    default_code, text = TWILIO_ERRORS.get(status, (20000 + status, "Error"))
                    self._reply(status, {"code": code or default_code, "message": text, "status": status})
                    return
                if not form.get("To") or not form.get("From") or not (form.get("Twiml") or form.get("Url")):
                    self._reply(400, {"code": 21205, "message": "Url or Twiml is required.", "status": 400})
                    return
                call = PlacedCall(sid="CA" + uuid.uuid4().hex, to=form["To"], sender=form["From"],
                                  twiml=form.get("Twiml", ""), status_callback=form.get("StatusCallback", ""),
                                  time_limit=form.get("TimeLimit", ""))
                with fake.lock:
                    fake.calls.append(call)
                self._reply(201, {"sid": call.sid, "account_sid": fake.account_sid, "to": call.to,
                                  "from": call.sender, "status": "queued", "direction": "outbound-api",
                                  "uri": f"/2010-04-01/Accounts/{fake.account_sid}/Calls/{call.sid}.json"})

            def do_GET(self):
                parts = urlsplit(self.path)
                if not self._authorised() or not self._path_ok(parts.path):
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    found = [m for m in reversed(fake.messages) if m.to == query.get("To", m.to)]
                size = int(query.get("PageSize", 50))
                self._reply(
                    200,
                    {
                        "messages": [fake.resource(m) for m in found[:size]],
                        "first_page_uri": parts.path,
                        "next_page_uri": None,
                        "previous_page_uri": None,
                        "page": 0,
                        "page_size": size,
                        "start": 0,
                        "end": min(size, len(found)),
                        "uri": self.path,
                    },
                )

            def do_DELETE(self):
                # DELETE /2010-04-01/Accounts/{sid}/Messages/{MessageSid}.json: 204, or 404
                # for an unknown sid (Twilio's answers); `delete_answers` forces others.
                path = urlsplit(self.path).path
                prefix = f"/2010-04-01/Accounts/{fake.account_sid}/Messages/"
                if not self._authorised():
                    return
                if not (path.startswith(prefix) and path.endswith(".json")):
                    self._reply(404, {"code": 20404, "message": "Not found", "status": 404})
                    return
                sid = path[len(prefix):-len(".json")]
                with fake.lock:
                    forced = fake.delete_answers.pop(0) if fake.delete_answers else 0
                    found = [m for m in fake.messages if m.sid == sid]
                    if not forced and found:
                        fake.messages.remove(found[0])
                        fake.deleted.append(sid)
                status = forced or (204 if found else 404)
                if status == 204:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                text = {404: "The requested resource was not found", 409: "Cannot delete message in flight"}
                self._reply(status, {"code": 20000 + status, "message": text.get(status, "Error"), "status": status})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def next_answer(self, to: str) -> tuple[int, int]:
        """(HTTP status, Twilio error code or 0 for the status's usual one)."""
        with self.lock:
            queue = self.answers.get(to)
            if not queue:
                return 201, 0
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            return answer if isinstance(answer, tuple) else (answer, 0)

    def resource(self, sms: SentSms) -> dict:
        created = format_datetime(dt.datetime.fromtimestamp(sms.created, tz=dt.UTC), usegmt=True)
        return {
            "sid": sms.sid,
            "account_sid": self.account_sid,
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sms.sid}.json",
        }

    def sent_to(self, number: str) -> list[SentSms]:
        with self.lock:
            return [m for m in self.messages if m.to == number]


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage
    received: float
    raw: bytes = b""  # as received after DATA, for strict parsers


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.server.rcpt_answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed, time.time(),
                                                      envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; `rcpt_answers[address]` e.g. "450 4.2.1 Try later"."""

    def __init__(self) -> None:
        self.received: deque[ReceivedMail] = deque()
        self.rcpt_answers: dict[str, str] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.restart()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [m for m in self.received if address in m.recipients]
