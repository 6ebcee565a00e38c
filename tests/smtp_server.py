"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, on a free port, keeping what it gets.

    with SmtpServer() as server:                   # started; stopped on exit, also on failure
        ...send to server.host, server.port...
        server.messages[0].message["Subject"]      # parsed email.message.EmailMessage

It can refuse (`reject_recipients`, `reject_messages`: any SMTP reply, e.g. 550 or 451, to
every message or to the next few), require a login (`credentials=`), offer or require STARTTLS
with a throwaway self-signed certificate (`tls=True`, `require_starttls=True`; `client_context`
trusts it), and be down (`down()`: stopped, then started again on the same port).
`silent_listener()` is a port that accepts connections and never answers.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SmtpServerUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None
    over_tls: bool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SmtpServerUnavailable(f"openssl could not make a test certificate: {done.stderr}")
    return cert, key


class _Reply:
    """An SMTP reply given instead of acceptance, to everything or to the next `times`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reply: str | None = None
        self._left: int | None = None
        self._only: frozenset[str] | None = None

    def set(self, reply: str | None, times: int | None, only: frozenset[str] | None) -> None:
        with self._lock:
            self._reply, self._left, self._only = reply, times, only

    def take(self, address: str | None = None) -> str | None:
        with self._lock:
            if self._reply is None:
                return None
            if self._only is not None and address not in self._only:
                return None
            reply = self._reply
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    self._reply = None
            return reply


class SmtpServer:
    """A started-on-enter aiosmtpd server; see the module docstring."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls: bool = False,
        require_starttls: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.credentials = credentials
        self.tls = tls or require_starttls
        self.require_starttls = require_starttls
        self._received: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._rcpt = _Reply()
        self._data = _Reply()
        self._controller: Controller | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.certificate: Path | None = None
        self._server_context: ssl.SSLContext | None = None

    # --- what the tests look at

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate (and only it)."""
        if self.certificate is None:
            raise RuntimeError("this SMTP server was started without TLS")
        return ssl.create_default_context(cafile=str(self.certificate))

    # --- how it misbehaves

    def reject_recipients(
        self,
        reply: str = "550 5.1.1 Recipient address rejected: mailbox unavailable",
        *,
        addresses: set[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer RCPT TO with `reply` (for `addresses`, else everyone; `times`, else always)."""
        self._rcpt.set(reply, times, frozenset(addresses) if addresses else None)

    def reject_messages(
        self, reply: str = "554 5.6.0 Message refused", *, times: int | None = None
    ) -> None:
        """Answer the end of DATA with `reply` instead of accepting the message."""
        self._data.set(reply, times, None)

    def accept_everything(self) -> None:
        self._rcpt.set(None, None, None)
        self._data.set(None, None, None)

    @contextmanager
    def down(self) -> Iterator[None]:
        """Stopped inside the block (connections are refused), started again after it."""
        self.stop()
        try:
            yield
        finally:
            self._start_on(self.port)

    # --- life cycle

    def start(self) -> SmtpServer:
        if self.tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="hisaab-smtp-")
            self.certificate, key = self_signed_certificate(Path(self._tmp.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate, key)
            self._server_context = context
        last: Exception | None = None
        for _ in range(5):
            try:
                self._start_on(free_port())
                return self
            except OSError as exc:  # the free port was taken in between: try another
                last = exc
        self.stop()
        raise SmtpServerUnavailable(f"cannot start the test SMTP server: {last}")

    def _start_on(self, port: int) -> None:
        kwargs: dict[str, Any] = {"server_hostname": "smtp.hisaab.test", "ready_timeout": 10.0}
        if self.credentials is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self.tls
        if self._server_context is not None:
            kwargs["tls_context"] = self._server_context
            kwargs["require_starttls"] = self.require_starttls
        controller = Controller(_Handler(self), hostname=self.host, port=port, **kwargs)
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            raise
        self._controller, self.port = controller, port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the server side

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.credentials is not None
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _rcpt_reply(self, address: str) -> str | None:
        return self._rcpt.take(address)

    def _data_reply(self) -> str | None:
        return self._data.take()

    def _keep(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._received.append(mail)


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        reply = self.owner._rcpt_reply(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        reply = self.owner._data_reply()
        if reply is not None:
            return reply
        raw = bytes(envelope.original_content or envelope.content)
        # Lines arrive ending in CRLF (SMTP); parsed, they end in "\n" like any text.
        parsed = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.owner._keep(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=parsed,
                raw=raw,
                login=login,
                over_tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


@contextmanager
def silent_listener() -> Iterator[tuple[str, int]]:
    """A loopback port that accepts connections and never says a word (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield "127.0.0.1", int(listener.getsockname()[1])
