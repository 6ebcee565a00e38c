"""STK Push (Lipa na M-Pesa Online) payloads: the callback, the push answer, the query answer.

A callback settles a payment only when its ResultCode is 0 *and* it carries the Amount and
the MpesaReceiptNumber; a "success" without them is refused, never read as paid. Metadata
item order is free, `Balance` may lack a `Value`, numbers may arrive as strings, and
ResultDesc may carry a gateway prefix such as `[STK_CB - ]`, which is stripped (the raw text
is kept in `result_desc_raw`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hisaab.mpesa.codes import ResultCode, classify
from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import fields as f
from hisaab.mpesa.payloads.answers import DarajaErrorBody, is_error_body, parse_error_body
from hisaab.mpesa.phones import payer_phone

_DESC_PREFIX = re.compile(r"^\s*\[[^\]]*\]\s*")


def strip_desc_prefix(desc: str) -> str:
    """ "[STK_CB - ]Request cancelled by user" -> "Request cancelled by user"."""
    return _DESC_PREFIX.sub("", desc, count=1).strip()


@dataclass(frozen=True, slots=True)
class StkCallback:
    """The final word Daraja posts to the CallBackURL about one STK Push.

    On success (`result.is_paid`) `amount_minor` and `receipt` are always set.
    `transaction_time` is UTC; `phone` is `2547XXXXXXXX`, or a masked/hashed form as given.
    """

    merchant_request_id: str
    checkout_request_id: str
    result: ResultCode
    result_desc: str
    result_desc_raw: str
    amount_minor: int | None
    currency: str
    receipt: str | None
    transaction_time: dt.datetime | None
    phone: str | None
    balance_minor: int | None

    @property
    def is_paid(self) -> bool:
        return self.result.is_paid


def _unwrap_callback(body: Any) -> tuple[Mapping[str, Any], str]:
    root = f.mapping(body, f.ROOT)
    if "Body" in root:
        outer = f.mapping(root["Body"], "Body")
        return f.mapping(f.member(outer, "stkCallback", "Body"), "Body.stkCallback"), (
            "Body.stkCallback"
        )
    if "stkCallback" in root:
        return f.mapping(root["stkCallback"], "stkCallback"), "stkCallback"
    raise MpesaPayloadError(
        "not an STK callback: no Body.stkCallback", path="Body", expected='{"Body": {"stkCallback"'
    )


def parse_stk_callback(body: Any) -> StkCallback:
    """An STK callback, from its decoded JSON (also accepts the bare {"stkCallback": ...})."""
    cb, path = _unwrap_callback(body)
    merchant_id = f.text(f.member(cb, "MerchantRequestID", path), f.join(path, "MerchantRequestID"))
    checkout_id = f.text(f.member(cb, "CheckoutRequestID", path), f.join(path, "CheckoutRequestID"))
    result = classify(f.member(cb, "ResultCode", path), path=f.join(path, "ResultCode"))
    desc_raw = f.text(cb.get("ResultDesc") or "", f.join(path, "ResultDesc"), allow_empty=True)

    amount = receipt = when = phone = balance = None
    meta_path = f.join(path, "CallbackMetadata")
    meta = cb.get("CallbackMetadata")
    if meta is not None and meta != "":
        item_path = f.join(meta_path, "Item")
        values = f.named_values(
            f.member(f.mapping(meta, meta_path), "Item", meta_path), item_path, name_key="Name"
        )
        if (p := values.get("Amount")) is not None and p.value is not None:
            amount = f.amount_minor(p.value, p.path)
        if (p := values.get("MpesaReceiptNumber")) is not None:
            receipt = f.optional_text(p.value, p.path)
        if (p := values.get("TransactionDate")) is not None and p.value not in (None, ""):
            when = f.kenya_time(p.value, p.path)
        if (p := values.get("PhoneNumber")) is not None and p.value not in (None, ""):
            phone = payer_phone(p.value, path=p.path)
        if (p := values.get("Balance")) is not None:
            balance = f.optional_amount_minor(p.value, p.path)

    if result.is_paid:
        missing = [
            name
            for name, value in (("Amount", amount), ("MpesaReceiptNumber", receipt))
            if value is None
        ]
        if missing:
            raise MpesaPayloadError(
                f"ResultCode 0 (paid) without {' and '.join(missing)}: not read as paid",
                path=f.join(meta_path, "Item") if meta else meta_path,
                expected="CallbackMetadata items Amount and MpesaReceiptNumber on success",
            )
    return StkCallback(
        merchant_request_id=merchant_id,
        checkout_request_id=checkout_id,
        result=result,
        result_desc=strip_desc_prefix(desc_raw),
        result_desc_raw=desc_raw,
        amount_minor=amount,
        currency=f.KES,
        receipt=receipt,
        transaction_time=when,
        phone=phone,
        balance_minor=balance,
    )


@dataclass(frozen=True, slots=True)
class StkPushAnswer:
    """Daraja's synchronous answer to an STK Push: ResponseCode "0" means accepted (the prompt
    is on its way to the phone), not paid."""

    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    response_description: str
    customer_message: str

    @property
    def accepted(self) -> bool:
        return self.response_code == "0"


def parse_stk_push_answer(body: Any) -> StkPushAnswer | DarajaErrorBody:
    """The answer to an STK Push: the normal answer, or Daraja's error body as it is."""
    if is_error_body(body):
        return parse_error_body(body)
    obj = f.mapping(body, f.ROOT)
    code = f.text(f.member(obj, "ResponseCode", f.ROOT), "ResponseCode")
    accepted = code == "0"

    def ident(key: str) -> str:
        # A refused push may come without ids; an accepted one must have them.
        if accepted:
            return f.text(f.member(obj, key, f.ROOT), key)
        return f.text(obj.get(key) or "", key, allow_empty=True)

    return StkPushAnswer(
        merchant_request_id=ident("MerchantRequestID"),
        checkout_request_id=ident("CheckoutRequestID"),
        response_code=code,
        response_description=f.text(
            obj.get("ResponseDescription") or "", "ResponseDescription", allow_empty=True
        ),
        customer_message=f.text(
            obj.get("CustomerMessage") or "", "CustomerMessage", allow_empty=True
        ),
    )


class QueryStatus(StrEnum):
    FINAL = "final"  # Daraja knows the result: see `result`
    PROCESSING = "processing"  # 500.001.1001 "being processed": ask again later
    REJECTED = "rejected"  # Daraja refused the query itself: see `error`


@dataclass(frozen=True, slots=True)
class StkQueryAnswer:
    """Daraja's answer to an STK Push Query."""

    status: QueryStatus
    checkout_request_id: str | None
    merchant_request_id: str | None
    result: ResultCode | None
    result_desc: str | None
    response_code: str | None
    response_description: str | None
    error: DarajaErrorBody | None


def parse_stk_query_answer(body: Any) -> StkQueryAnswer:
    """The answer to an STK Push Query: a final ResultCode (a string or a number), "still
    processing", or a refusal (any other error body, or a ResponseCode other than "0")."""
    if is_error_body(body):
        error = parse_error_body(body)
        status = QueryStatus.PROCESSING if error.still_processing else QueryStatus.REJECTED
        return StkQueryAnswer(status, None, None, None, None, None, None, error)
    obj = f.mapping(body, f.ROOT)
    response_code = f.optional_text(obj.get("ResponseCode"), "ResponseCode")
    response_desc = f.optional_text(obj.get("ResponseDescription"), "ResponseDescription")
    checkout_id = f.optional_text(obj.get("CheckoutRequestID"), "CheckoutRequestID")
    merchant_id = f.optional_text(obj.get("MerchantRequestID"), "MerchantRequestID")
    raw_result = obj.get("ResultCode")
    if raw_result is None or (isinstance(raw_result, str) and not raw_result.strip()):
        if response_code is None:
            raise MpesaPayloadError(
                "neither ResultCode nor ResponseCode nor errorCode",
                path="ResultCode",
                expected="an STK Query answer",
            )
        error = DarajaErrorBody(None, response_code, response_desc or "")
        status = QueryStatus.PROCESSING if error.still_processing else QueryStatus.REJECTED
        return StkQueryAnswer(
            status, checkout_id, merchant_id, None, None, response_code, response_desc, error
        )
    result = classify(raw_result, path="ResultCode")
    desc = f.text(obj.get("ResultDesc") or "", "ResultDesc", allow_empty=True)
    return StkQueryAnswer(
        status=QueryStatus.FINAL,
        checkout_request_id=checkout_id,
        merchant_request_id=merchant_id,
        result=result,
        result_desc=strip_desc_prefix(desc),
        response_code=response_code,
        response_description=response_desc,
        error=None,
    )
