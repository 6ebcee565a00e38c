"""The one error tree of Hisaab: every failure a user can cause has a stable code and a status.

    HisaabError                 code HISAAB_ERROR, 500
    ├── InputError              code INVALID_INPUT, 422: something the user gave us is wrong
    │   ├── AmountError         code INVALID_AMOUNT: an amount that is not exact money
    │   ├── CurrencyError       code UNKNOWN_CURRENCY
    │   ├── TemplateError       code TEMPLATE_ERROR: a template that cannot be used (or found)
    │   ├── FormatError         code UNREADABLE_FILE: a file that does not follow its format
    │   └── RulesError          code INVALID_RULES: a rule set that cannot be used
    ├── Unauthenticated         code UNAUTHENTICATED, 401: no valid token or credentials
    ├── Forbidden               code FORBIDDEN, 403: authenticated, but not allowed
    ├── NotFound                code NOT_FOUND, 404 (also for what a tenant may not see)
    ├── Conflict                code CONFLICT, 409: the request contradicts the current state
    ├── RateLimited             code RATE_LIMITED, 429
    ├── PayloadTooLarge         code PAYLOAD_TOO_LARGE, 413
    ├── Busy                    code SERVICE_BUSY, 503: try again shortly
    └── NotYetImplemented       code NOT_IMPLEMENTED, 501: a declared capability not built yet

Input errors carry where the problem is (file, line, column) and what was expected, so that
the CLI and the API can print one paragraph a person can act on without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class HisaabError(Exception):
    """Base of every error Hisaab raises on purpose."""

    code = "HISAAB_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def describe(self) -> str:
        """One paragraph for a person."""
        return self.message


class InputError(HisaabError):
    """Bad input: names the file, line and column at fault and what was expected there."""

    code = "INVALID_INPUT"
    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.expected = expected

    def located(
        self,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> InputError:
        """Fill in location details that the raiser did not know (keeps what it knew)."""
        if self.file is None and file is not None:
            self.file = str(file)
        if self.line is None and line is not None:
            self.line = line
        if self.column is None and column is not None:
            self.column = column
        return self

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.expected and not text.endswith((".", "!", "?")):
            text += "."
        if self.expected:
            text += f" Expected {self.expected}."
        return text


class AmountError(InputError):
    code = "INVALID_AMOUNT"


class CurrencyError(InputError):
    code = "UNKNOWN_CURRENCY"


class TemplateError(InputError):
    code = "TEMPLATE_ERROR"


class FormatError(InputError):
    code = "UNREADABLE_FILE"


class RulesError(InputError):
    code = "INVALID_RULES"


class Unauthenticated(HisaabError):
    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(HisaabError):
    code = "FORBIDDEN"
    http_status = 403


class NotFound(HisaabError):
    code = "NOT_FOUND"
    http_status = 404


class Conflict(HisaabError):
    code = "CONFLICT"
    http_status = 409


class RateLimited(HisaabError):
    code = "RATE_LIMITED"
    http_status = 429


class PayloadTooLarge(HisaabError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class Busy(HisaabError):
    """The service is up but cannot take this request now (no database connection came free
    in time); the client should try again shortly."""

    code = "SERVICE_BUSY"
    http_status = 503


class NotYetImplemented(HisaabError):
    """A capability that is declared but not built yet: never a fake result."""

    code = "NOT_IMPLEMENTED"
    http_status = 501
