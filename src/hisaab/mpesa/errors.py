"""The errors of Hisaab's M-Pesa (Daraja) package, placed in Hisaab's one error tree.

InputError (422)
└── MpesaPayloadError      code INVALID_MPESA_PAYLOAD: a payload or value Hisaab cannot
                           read; `path` names the field, e.g. Body.stkCallback.ResultCode
NotYetImplemented (501)
└── MpesaNotConfigured     code MPESA_NOT_CONFIGURED: settings missing, named one by one
HisaabError
└── DarajaError            code MPESA_UPSTREAM_ERROR, 502: Daraja failed or said no
    └── DarajaAuthError    code MPESA_AUTH_FAILED, 502: Daraja refused the app credentials
"""

from __future__ import annotations

from hisaab.errors import HisaabError, InputError, NotYetImplemented


class MpesaPayloadError(InputError):
    """A Daraja payload (or a value such as a phone number) that does not say what it must."""

    code = "INVALID_MPESA_PAYLOAD"

    def __init__(self, message: str, *, path: str | None = None, expected: str | None = None):
        super().__init__(message, column=path, expected=expected)
        self.path = path

    def describe(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.expected:
            text = text.rstrip(".") + f". Expected {self.expected}."
        return text


class MpesaNotConfigured(NotYetImplemented):
    """The deployment lacks the settings a Daraja call needs; `missing` lists them."""

    code = "MPESA_NOT_CONFIGURED"

    def __init__(self, missing: list[str], *, purpose: str = "M-Pesa") -> None:
        super().__init__(f"{purpose} is not configured: set {', '.join(missing)}")
        self.missing = tuple(missing)


class DarajaError(HisaabError):
    """Daraja could not be reached, timed out, or answered with an error.

    `error_code` / `error_message` are Daraja's own (`errorCode`/`errorMessage` of its error
    body, or `ResponseCode`/`ResponseDescription` of a refused request) when it sent them.
    `upstream_status` is Daraja's HTTP status. `may_have_reached` is True when the request may
    have reached Safaricom before it failed (a read timeout): an STK Push may then be on the
    payer's phone, so it must be queried, never blindly sent again.
    """

    code = "MPESA_UPSTREAM_ERROR"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
        request_id: str | None = None,
        upstream_status: int | None = None,
        may_have_reached: bool = False,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        self.upstream_status = upstream_status
        self.may_have_reached = may_have_reached


class DarajaAuthError(DarajaError):
    """Daraja refused the consumer key and secret (OAuth), or kept refusing the token."""

    code = "MPESA_AUTH_FAILED"
