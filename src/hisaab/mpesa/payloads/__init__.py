"""Parsing Daraja payloads (already-decoded JSON) into frozen values; pure, no I/O.

Every parser raises `MpesaPayloadError` (an `InputError`) naming the JSON path at fault,
e.g. `Body.stkCallback.CallbackMetadata.Item[1].Value`. Money is KES minor units (int).
Times are timezone-aware UTC, converted from Daraja's Kenya time.

    fields    reading fields with paths: amounts, Kenya times, named-item lists
    answers   Daraja's error body and the "request accepted" answer
    stk       STK callback, STK Push answer, STK Query answer
    c2b       C2B validation / confirmation bodies
    status    Transaction Status results
"""

from hisaab.mpesa.payloads.answers import (
    DarajaErrorBody,
    RequestAccepted,
    parse_error_body,
    parse_request_accepted,
)
from hisaab.mpesa.payloads.c2b import (
    C2B_REJECT_CODES,
    C2BPayment,
    c2b_confirmation_ack,
    c2b_validation_answer,
    parse_c2b,
)
from hisaab.mpesa.payloads.status import (
    Party,
    TransactionStatusResult,
    parse_transaction_status_result,
)
from hisaab.mpesa.payloads.stk import (
    QueryStatus,
    StkCallback,
    StkPushAnswer,
    StkQueryAnswer,
    parse_stk_callback,
    parse_stk_push_answer,
    parse_stk_query_answer,
    strip_desc_prefix,
)
from hisaab.mpesa.phones import MsisdnKind, classify_msisdn, mask_phone, normalise_phone

__all__ = [
    "C2B_REJECT_CODES",
    "C2BPayment",
    "DarajaErrorBody",
    "MsisdnKind",
    "Party",
    "QueryStatus",
    "RequestAccepted",
    "StkCallback",
    "StkPushAnswer",
    "StkQueryAnswer",
    "TransactionStatusResult",
    "c2b_confirmation_ack",
    "c2b_validation_answer",
    "classify_msisdn",
    "mask_phone",
    "normalise_phone",
    "parse_c2b",
    "parse_error_body",
    "parse_request_accepted",
    "parse_stk_callback",
    "parse_stk_push_answer",
    "parse_stk_query_answer",
    "parse_transaction_status_result",
    "strip_desc_prefix",
]
