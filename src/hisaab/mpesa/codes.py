"""The STK Push result codes Daraja reports, as data, and how Hisaab treats each one.

`classify(code)` accepts what Daraja sends (`0` in callbacks, `"1032"` in STK Query answers,
padded strings) and returns a `ResultCode`. Only `0` is `paid`. A code that is not in the
table is kept as given, flagged `known=False` and classified `unknown` with `query_first`:
Hisaab reports it and asks Daraja again instead of guessing; it is never `paid`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hisaab.mpesa.errors import MpesaPayloadError


class Outcome(StrEnum):
    """What a result code means for the payment."""

    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ResultCode:
    """One STK result code and its treatment.

    `retryable`: a new push may be sent for the same payment without asking the payer first.
    `query_first`: the code does not settle the payment; query Daraja before concluding.
    """

    code: str
    outcome: Outcome
    retryable: bool
    query_first: bool
    meaning: str
    known: bool = True

    @property
    def is_paid(self) -> bool:
        return self.outcome is Outcome.PAID

    @property
    def is_final(self) -> bool:
        """True when the code settles the payment one way or the other without a query."""
        return not self.query_first and self.outcome is not Outcome.UNKNOWN


def _code(
    code: int,
    outcome: Outcome,
    meaning: str,
    *,
    retryable: bool = False,
    query_first: bool = False,
) -> ResultCode:
    return ResultCode(str(code), outcome, retryable, query_first, meaning)


_P, _F, _C, _E, _U = (
    Outcome.PAID,
    Outcome.FAILED,
    Outcome.CANCELLED,
    Outcome.EXPIRED,
    Outcome.UNKNOWN,
)

STK_RESULT_CODES: dict[str, ResultCode] = {
    c.code: c
    for c in (
        _code(0, _P, "success: the payer paid"),
        _code(1, _F, "insufficient balance"),
        _code(2, _F, "amount below the minimum transaction amount"),
        _code(3, _F, "amount above the maximum transaction amount"),
        _code(4, _F, "amount above the payer's daily transfer limit"),
        _code(8, _F, "the till or paybill would exceed its balance limit"),
        _code(
            17,
            _F,
            "the same amount to the same customer within 2 minutes (rule limited); "
            "do not retry at once",
        ),
        _code(1019, _E, "transaction expired", query_first=True),
        _code(1025, _F, "error sending the push request", retryable=True),
        _code(9999, _F, "error sending the push request", retryable=True),
        _code(1032, _C, "cancelled by the payer"),
        _code(1036, _U, "SMSC ACK timeout", query_first=True),
        _code(1037, _U, "the payer's phone could not be reached (timeout)", query_first=True),
        _code(1001, _U, "subscriber busy: another transaction is in progress", query_first=True),
        _code(2001, _F, "wrong PIN (the initiator information is invalid)"),
        _code(
            2028,
            _F,
            "not permitted: a configuration error (wrong TransactionType or PartyB)",
        ),
        _code(8006, _F, "the security credential is locked"),
    )
}

_INTEGER = re.compile(r"[+-]?[0-9]+")


def classify(code: int | str, *, path: str = "ResultCode") -> ResultCode:
    """The treatment of an STK result code; `path` names the field in errors.

    Accepts an int (not a bool), an integral float, or a string of digits with surrounding
    spaces. A code written unusually ("00", "+0") is kept as given and is `unknown`, not paid.
    """
    value: object = code  # decoded JSON may hold anything; check before trusting the hint
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MpesaPayloadError(
            f"result code {code!r} is not a number", path=path, expected="a number such as 0"
        )
    if isinstance(value, float):
        if not value.is_integer():
            raise MpesaPayloadError(
                f"result code {code!r} is not a whole number", path=path, expected="e.g. 1032"
            )
        value = int(value)
    text = str(value).strip()
    if not _INTEGER.fullmatch(text):
        raise MpesaPayloadError(
            f"result code {code!r} is not a number", path=path, expected="a number such as 1032"
        )
    known = STK_RESULT_CODES.get(text)
    if known is not None:
        return known
    return ResultCode(
        code=text,
        outcome=Outcome.UNKNOWN,
        retryable=False,
        query_first=True,
        meaning=f"result code {text} is not one Hisaab knows: query before concluding",
        known=False,
    )
