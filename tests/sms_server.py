"""A real HTTP server for the tests that speaks Africa's Talking's bulk SMS API.

    with SmsServer(username="hisaab", api_key="at-test-key") as server:
        ...POST to server.base_url + "/version1/messaging"...
        server.requests[0].form["message"]

It runs the standard library's ThreadingHTTPServer on 127.0.0.1 on a free port, in a thread,
and answers like Africa's Talking: `POST /version1/messaging`, form-encoded `username`, `to`
(comma-separated), `message`, optional `from`, header `apiKey`; JSON when the request accepts
`application/json`, XML otherwise; HTTP 401 for a wrong key or username; statusCode 403
InvalidPhoneNumber for a number that is not +E.164; 101 Success otherwise. It can also refuse
every recipient with a statusCode (`fail_recipients(405, "InsufficientBalance")`), answer an
HTTP error (`fail_http(500)`), or hold its answers (`hang(seconds)`), always or for the next
`times` requests. Every request is recorded, also the refused ones.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from smtp_server import free_port

MESSAGING_PATH = "/version1/messaging"
COST_TEN_THOUSANDTHS = 8000  # KES 0.8000 per message, as integer 1/10000 KES
_E164 = re.compile(r"\+[1-9]\d{7,14}")


class SmsServerUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class SmsRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    form: dict[str, str]
    answered: int  # the HTTP status it got


@dataclass
class _Failure:
    kind: str  # "recipients", "http" or "hang"
    status_code: int = 0
    status: str = ""
    body: str = ""
    seconds: float = 0.0
    times: int | None = None
    numbers: frozenset[str] | None = None


def _cost(units: int) -> str:
    whole, frac = divmod(units, 10_000)
    return f"KES {whole}.{frac:04d}"


class SmsServer:
    """A started-on-enter Africa's Talking look-alike; see the module docstring."""

    def __init__(self, *, username: str = "hisaab", api_key: str = "at-test-key") -> None:
        self.username = username
        self.api_key = api_key
        self.host = "127.0.0.1"
        self.port = 0
        self._requests: list[SmsRequest] = []
        self._lock = threading.Lock()
        self._failure: _Failure | None = None
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[SmsRequest]:
        with self._lock:
            return list(self._requests)

    # --- how it misbehaves

    def fail_recipients(
        self,
        status_code: int,
        status: str,
        *,
        numbers: set[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Refuse recipients (`numbers`, else all) with this statusCode (405, 406, 500...)."""
        only = frozenset(numbers) if numbers else None
        self._set(
            _Failure(
                "recipients", status_code=status_code, status=status, times=times, numbers=only
            )
        )

    def fail_http(self, status_code: int, body: str = "", *, times: int | None = None) -> None:
        """Answer every request with this HTTP status (500, 503, 401...)."""
        self._set(_Failure("http", status_code=status_code, body=body, times=times))

    def hang(self, seconds: float, *, times: int | None = None) -> None:
        """Hold each answer for `seconds` (until the server stops, at the latest)."""
        self._set(_Failure("hang", seconds=seconds, times=times))

    def reset(self) -> None:
        self._set(None)

    def _set(self, failure: _Failure | None) -> None:
        with self._lock:
            self._failure = failure

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            failure = self._failure
            if failure is not None and failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failure = None
            return failure

    def _record(self, request: SmsRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # --- life cycle

    def start(self) -> SmsServer:
        last: Exception | None = None
        for _ in range(5):
            try:
                httpd = ThreadingHTTPServer((self.host, free_port()), _make_handler(self))
                break
            except OSError as exc:  # the free port was taken in between: try another
                last = exc
        else:
            raise SmsServerUnavailable(f"cannot start the test SMS server: {last}")
        httpd.daemon_threads = True
        self._httpd, self.port = httpd, int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> SmsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the server side

    def answer(self, headers: dict[str, str], form: dict[str, str]) -> tuple[int, str, str]:
        """(HTTP status, content type, body) for one request to the messaging endpoint."""
        failure = self._take_failure()
        if failure is not None and failure.kind == "hang":
            self._stopping.wait(failure.seconds)
        if failure is not None and failure.kind == "http":
            return failure.status_code, "text/plain", failure.body or "Internal Server Error"
        if headers.get("apikey") != self.api_key or form.get("username") != self.username:
            return 401, "text/plain", "The supplied authentication is invalid"
        for name in ("to", "message"):
            if not form.get(name):
                return 400, "text/plain", f"Request is missing required form field '{name}'"
        numbers = [n.strip() for n in form["to"].split(",") if n.strip()]
        recipients = []
        for number in numbers:
            if (
                failure is not None
                and failure.kind == "recipients"
                and (failure.numbers is None or number in failure.numbers)
            ):
                code, status = failure.status_code, failure.status
            elif not _E164.fullmatch(number):
                code, status = 403, "InvalidPhoneNumber"
            else:
                code, status = 101, "Success"
            sent = code in (100, 101, 102)
            recipients.append(
                {
                    "statusCode": code,
                    "number": number,
                    "status": status,
                    "cost": _cost(COST_TEN_THOUSANDTHS) if sent else "0",
                    "messageId": f"ATXid_{uuid.uuid4().hex}" if sent else "None",
                }
            )
        sent_count = sum(1 for r in recipients if r["statusCode"] in (100, 101, 102))
        total = _cost(sent_count * COST_TEN_THOUSANDTHS) if sent_count else "0"
        message = f"Sent to {sent_count}/{len(recipients)} Total Cost: {total}"
        data = {"SMSMessageData": {"Message": message, "Recipients": recipients}}
        if "application/json" in headers.get("accept", ""):
            return 201, "application/json", json.dumps(data)
        return 201, "application/xml", _xml(message, recipients)


def _xml(message: str, recipients: list[dict[str, Any]]) -> str:
    items = "".join(
        "<Recipient>"
        + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in recipient.items())
        + "</Recipient>"
        for recipient in recipients
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><AfricasTalkingResponse><SMSMessageData>"
        f"<Message>{escape(message)}</Message><Recipients>{items}</Recipients>"
        "</SMSMessageData></AfricasTalkingResponse>"
    )


def _make_handler(owner: SmsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path != MESSAGING_PATH:
                status, content_type, text = 404, "text/plain", "Not Found"
            else:
                status, content_type, text = owner.answer(headers, form)
            owner._record(SmsRequest("POST", self.path, headers, form, status))
            self._reply(status, content_type, text)

        def do_GET(self) -> None:
            owner._record(SmsRequest("GET", self.path, {}, {}, 405))
            self._reply(405, "text/plain", "Method Not Allowed")

        def _reply(self, status: int, content_type: str, text: str) -> None:
            payload = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting (a timeout test): nothing to tell
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
