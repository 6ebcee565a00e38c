"""Email alerts over SMTP with the standard library's smtplib: STARTTLS and login optional."""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from hisaab.alerts.channels.base import DEFAULT_TIMEOUT_SECONDS, DeliveryError, DeliveryReceipt
from hisaab.alerts.message import Alert, email_body, email_subject
from hisaab.errors import InputError
from hisaab.logs import mask


class EmailChannel:
    """Email alerts through an SMTP server, with the standard library's `smtplib`.

    smtplib is all this needs: an alert is one short plain-text message, sent rarely from a
    synchronous queue job; smtplib speaks SMTP, STARTTLS and AUTH and surfaces every reply
    code, which is what the retry decision reads. An async client would add a dependency and
    buy nothing here. Each `send` opens its own connection (no pool to go stale between
    alerts) with a timeout on connecting and on every reply.
    """

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        recipients: Sequence[str],
        sender: str,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if not recipients:
            raise InputError("an email channel needs at least one recipient")
        for position, address in enumerate(recipients, start=1):
            if "@" not in address or any(ch.isspace() for ch in address):
                raise InputError(
                    f"email recipient {position} ({address!r}) is not an email address",
                    expected="an address such as ops@example.com",
                )
        self.host = host
        self.port = port
        self.recipients = tuple(recipients)
        self.sender = sender
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return (
            f"EmailChannel(host={self.host!r}, port={self.port}, starttls={self.starttls}, "
            f"recipients={len(self.recipients)})"
        )

    def build(self, alert: Alert, *, note: str | None = None) -> EmailMessage:
        """The message `send` delivers: plain text, UTF-8, with Hisaab's alert headers."""
        # Headers are not folded below RFC 5322's 998 limit: folding a subject just over 78
        # characters moves it whole to a continuation line, which some readers show with a
        # leading space.
        message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = email_subject(alert)
        message["Date"] = formatdate(usegmt=True)
        domain = self.sender.rpartition("@")[2] or "hisaab.localhost"
        message["Message-ID"] = make_msgid(domain=domain)
        message["X-Hisaab-Session"] = _header(alert.session_id)
        message["X-Hisaab-Alert-Kind"] = _header(alert.kind)
        message["X-Hisaab-Severity"] = alert.severity
        message.set_content(email_body(alert, note=note))
        return message

    def send(self, alert: Alert, *, note: str | None = None) -> DeliveryReceipt:
        message = self.build(alert, note=note)
        try:
            with smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self._local_hostname
            ) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc.recipients) from None
        except smtplib.SMTPResponseException as exc:
            raise self._answer(exc.smtp_code, exc.smtp_error, type(exc)) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(False, f"the SMTP server does not support it: {exc}") from None
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read timeout
                raise self._timeout() from None
            raise self._error(True, f"the SMTP server closed the connection: {exc}") from None
        except smtplib.SMTPException as exc:
            raise self._error(False, str(exc)) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._error(False, f"the SMTP server's TLS certificate: {exc}") from None
        except TimeoutError:
            raise self._timeout() from None
        except OSError as exc:
            raise self._error(True, f"cannot reach {self.host}:{self.port}: {exc}") from None
        accepted = tuple(a for a in self.recipients if a not in refused)
        detail = "; ".join(f"{a} refused: {_reply(*refused[a])}" for a in refused)
        return DeliveryReceipt(
            channel=self.name,
            recipients=tuple(mask(a) for a in accepted),
            message_id=str(message["Message-ID"]),
            detail=mask(detail),
        )

    def _error(self, retryable: bool, reason: str) -> DeliveryError:
        return DeliveryError(retryable, reason, channel=self.name)

    def _timeout(self) -> DeliveryError:
        return self._error(
            True, f"no answer from {self.host}:{self.port} within {self.timeout:g} s"
        )

    def _answer(self, code: int, text: bytes | str, kind: type[Exception]) -> DeliveryError:
        # 4xx is "try again later"; -1 is smtplib's code for a connection that closed.
        retryable = code == -1 or 400 <= code < 500
        what = {
            smtplib.SMTPAuthenticationError: "the SMTP server refused the username or password",
            smtplib.SMTPSenderRefused: f"the SMTP server refused the sender {self.sender}",
            smtplib.SMTPDataError: "the SMTP server refused the message",
            smtplib.SMTPConnectError: "the SMTP server refused the connection",
            smtplib.SMTPHeloError: "the SMTP server refused the greeting",
        }.get(kind, "the SMTP server answered")
        return self._error(retryable, f"{what}: {_reply(code, text)}")

    def _refused(self, refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
        retryable = all(400 <= code < 500 for code, _ in refused.values())
        listed = "; ".join(f"{a}: {_reply(code, text)}" for a, (code, text) in refused.items())
        return self._error(retryable, f"every recipient was refused ({listed})")


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"


def _header(text: str) -> str:
    return " ".join(text.split())
