"""Transaction Status: the Result Daraja posts to the ResultURL after a status query.

ResultCode 0 means the *query* succeeded, not that the payment did: the payment's own state
is the `TransactionStatus` parameter ("Completed", ...). `is_completed` requires both, plus a
receipt and an amount. Parameters may be missing, lack a `Value`, or flip between number and
string; a lone parameter may arrive as an object instead of a list.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import fields as f
from hisaab.mpesa.payloads.stk import strip_desc_prefix
from hisaab.mpesa.phones import payer_phone

_PARTY = re.compile(r"^(.*?)\s+-\s+(.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Party:
    """ "254708374149 - John Doe" as given, split into its identifier and name."""

    raw: str
    identifier: str | None
    name: str | None
    phone: str | None  # the identifier as 2547XXXXXXXX (or masked as given) when it is a phone


def split_party(raw: str) -> Party:
    match = _PARTY.match(raw)
    if match:
        identifier, name = match.group(1).strip() or None, match.group(2).strip() or None
    elif raw.replace("*", "").replace("+", "").isdigit():
        identifier, name = raw, None
    else:
        identifier, name = None, raw
    phone: str | None = None
    if identifier is not None:
        try:
            phone = payer_phone(identifier)
        except MpesaPayloadError:
            phone = None  # a shortcode ("600310 - Shop") or another identifier, not a phone
    return Party(raw, identifier, name, phone)


@dataclass(frozen=True, slots=True)
class TransactionStatusResult:
    result_type: str | None
    result_code: str
    result_desc: str
    originator_conversation_id: str | None
    conversation_id: str | None
    transaction_id: str | None
    receipt: str | None
    amount_minor: int | None
    currency: str
    status: str | None
    debit_party: Party | None
    credit_party: Party | None
    initiated_at: dt.datetime | None
    finalised_at: dt.datetime | None
    debit_party_charges: str | None
    reason_type: str | None
    transaction_reason: str | None
    occasion: str | None

    @property
    def query_succeeded(self) -> bool:
        return self.result_code == "0"

    @property
    def is_completed(self) -> bool:
        """The payment itself completed, as far as this Result says."""
        return (
            self.query_succeeded
            and (self.status or "").strip().lower() == "completed"
            and self.receipt is not None
            and self.amount_minor is not None
        )

    @property
    def debit_party_phone(self) -> str | None:
        return self.debit_party.phone if self.debit_party else None

    @property
    def debit_party_name(self) -> str | None:
        return self.debit_party.name if self.debit_party else None


def _code(value: Any, path: str) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f.text(value, path)


def _unwrap(body: Any) -> tuple[Mapping[str, Any], str]:
    root = f.mapping(body, f.ROOT)
    if "Result" in root:
        return f.mapping(root["Result"], "Result"), "Result"
    if "ResultCode" in root:
        return root, f.ROOT
    raise MpesaPayloadError("not a Transaction Status result: no Result", path="Result")


def parse_transaction_status_result(body: Any) -> TransactionStatusResult:
    """The Result posted to a Transaction Status ResultURL (or QueueTimeOutURL)."""
    result, path = _unwrap(body)
    params: dict[str, f.Param] = {}
    raw_params = result.get("ResultParameters")
    if raw_params not in (None, ""):
        params_path = f.join(path, "ResultParameters")
        holder = f.mapping(raw_params, params_path)
        if holder.get("ResultParameter") is not None:
            params = f.named_values(
                holder["ResultParameter"], f.join(params_path, "ResultParameter"), name_key="Key"
            )
    occasion: str | None = None
    reference = result.get("ReferenceData")
    if isinstance(reference, Mapping) and reference.get("ReferenceItem") is not None:
        ref_path = f.join(f.join(path, "ReferenceData"), "ReferenceItem")
        refs = f.named_values(reference["ReferenceItem"], ref_path, name_key="Key")
        if (p := refs.get("Occasion")) is not None:
            occasion = f.optional_text(p.value, p.path)

    def value_text(key: str) -> str | None:
        p = params.get(key)
        return None if p is None else f.optional_text(_scalar(p.value), p.path)

    def value_time(key: str) -> dt.datetime | None:
        p = params.get(key)
        if p is None or p.value in (None, ""):
            return None
        return f.kenya_time(p.value, p.path)

    def value_party(key: str) -> Party | None:
        raw = value_text(key)
        return None if raw is None else split_party(raw)

    amount = params.get("Amount")
    desc = f.text(result.get("ResultDesc") or "", f.join(path, "ResultDesc"), allow_empty=True)
    result_type = result.get("ResultType")
    return TransactionStatusResult(
        result_type=None if result_type is None else _code(result_type, f.join(path, "ResultType")),
        result_code=_code(f.member(result, "ResultCode", path), f.join(path, "ResultCode")),
        result_desc=strip_desc_prefix(desc),
        originator_conversation_id=f.optional_text(
            result.get("OriginatorConversationID"), f.join(path, "OriginatorConversationID")
        ),
        conversation_id=f.optional_text(
            result.get("ConversationID"), f.join(path, "ConversationID")
        ),
        transaction_id=f.optional_text(result.get("TransactionID"), f.join(path, "TransactionID")),
        receipt=value_text("ReceiptNo"),
        amount_minor=None if amount is None else f.optional_amount_minor(amount.value, amount.path),
        currency=f.KES,
        status=value_text("TransactionStatus"),
        debit_party=value_party("DebitPartyName"),
        credit_party=value_party("CreditPartyName"),
        initiated_at=value_time("InitiatedTime"),
        finalised_at=value_time("FinalisedTime"),
        debit_party_charges=value_text("DebitPartyCharges"),
        reason_type=value_text("ReasonType"),
        transaction_reason=value_text("TransactionReason"),
        occasion=occasion,
    )


def _scalar(value: Any) -> Any:
    """A number that arrived where text was expected becomes its digits (100.0 -> "100")."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return repr(value)
    return value
