"""What Hisaab's Daraja client and the sandbox must agree on: paths, time, password, markers.

Daraja writes local Kenya time (East Africa Time, UTC+3 all year, no daylight saving) without
a zone, as 14 digits `YYYYMMDDHHmmss`. The STK Password is
base64(BusinessShortCode + Passkey + Timestamp).

An error body's `errorCode` alone does not say "still processing": Daraja uses 500.001.1001
both for "The transaction is being processed" and for refusals such as "Wrong credentials"
or "Merchant does not exist". Only that code together with a "being processed" message means
"ask again later" (`is_still_processing`).
"""

from __future__ import annotations

import base64
import datetime as dt

KENYA_TZ = dt.timezone(dt.timedelta(hours=3), "EAT")

OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
TRANSACTION_STATUS_PATH = "/mpesa/transactionstatus/v1/query"
C2B_REGISTER_PATH = "/mpesa/c2b/v1/registerurl"
C2B_SIMULATE_PATH = "/mpesa/c2b/v1/simulate"

PROCESSING_ERROR_CODE = "500.001.1001"
PROCESSING_MESSAGE = "The transaction is being processed"

TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
MAX_ACCOUNT_REFERENCE = 12
MAX_TRANSACTION_DESC = 13


def kenya_timestamp(moment: dt.datetime) -> str:
    """A timezone-aware moment as Daraja's `YYYYMMDDHHmmss` in Kenya time."""
    if moment.tzinfo is None:
        raise ValueError("kenya_timestamp needs a timezone-aware datetime")
    return moment.astimezone(KENYA_TZ).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """base64(ShortCode + Passkey + Timestamp), the STK Push and STK Query password."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def is_still_processing(error_code: str | None, error_message: str | None) -> bool:
    """True only for Daraja's "the transaction is being processed" error body."""
    return (error_code or "").strip() == PROCESSING_ERROR_CODE and "being processed" in (
        error_message or ""
    ).lower()
