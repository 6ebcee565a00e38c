"""C2B payloads: a customer paying a paybill or till directly (validation and confirmation).

Both requests carry the same body. `TransAmount` is a string ("10" or "10.00") or a number,
`TransTime` Kenya time, `OrgAccountBalance` may be "", and `MSISDN` is plain, masked
(`25470****149`, C2B v2) or a SHA-256 hash (C2B v1): it is kept as given with its kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import fields as f
from hisaab.mpesa.phones import MsisdnKind, classify_msisdn, normalise_phone

# Validation answers: accept, or reject with one of Daraja's C2B codes.
C2B_ACCEPT = "0"
C2B_REJECT_CODES: dict[str, str] = {
    "C2B00011": "Invalid MSISDN",
    "C2B00012": "Invalid Account Number",
    "C2B00013": "Invalid Amount",
    "C2B00014": "Invalid KYC Details",
    "C2B00015": "Invalid Shortcode",
    "C2B00016": "Other Error",
}


@dataclass(frozen=True, slots=True)
class C2BPayment:
    """One C2B payment as Daraja describes it; `phone` is set only for a plain Kenyan number."""

    trans_id: str
    trans_type: str
    trans_time: dt.datetime
    amount_minor: int
    currency: str
    shortcode: str
    bill_ref: str
    invoice: str | None
    msisdn: str
    msisdn_kind: MsisdnKind
    phone: str | None
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    org_balance_minor: int | None
    third_party_trans_id: str | None

    @property
    def payer_name(self) -> str:
        return " ".join(n for n in (self.first_name, self.middle_name, self.last_name) if n)


def parse_c2b(body: Any) -> C2BPayment:
    """A C2B validation or confirmation request body."""
    obj = f.mapping(body, f.ROOT)

    def required(key: str) -> Any:
        return f.member(obj, key, f.ROOT)

    msisdn, kind = classify_msisdn(required("MSISDN"), path="MSISDN")
    phone: str | None = None
    if kind is MsisdnKind.PLAIN:
        try:
            phone = normalise_phone(msisdn)
        except MpesaPayloadError:
            phone = None  # a plain number, but not a Kenyan mobile one: kept as given only
    return C2BPayment(
        trans_id=f.text(required("TransID"), "TransID"),
        trans_type=f.text(obj.get("TransactionType") or "", "TransactionType", allow_empty=True),
        trans_time=f.kenya_time(required("TransTime"), "TransTime"),
        amount_minor=f.amount_minor(required("TransAmount"), "TransAmount"),
        currency=f.KES,
        shortcode=f.text(required("BusinessShortCode"), "BusinessShortCode"),
        bill_ref=f.text(obj.get("BillRefNumber") or "", "BillRefNumber", allow_empty=True),
        invoice=f.optional_text(obj.get("InvoiceNumber"), "InvoiceNumber"),
        msisdn=msisdn,
        msisdn_kind=kind,
        phone=phone,
        first_name=f.optional_text(obj.get("FirstName"), "FirstName"),
        middle_name=f.optional_text(obj.get("MiddleName"), "MiddleName"),
        last_name=f.optional_text(obj.get("LastName"), "LastName"),
        org_balance_minor=f.optional_amount_minor(
            obj.get("OrgAccountBalance"), "OrgAccountBalance"
        ),
        third_party_trans_id=f.optional_text(obj.get("ThirdPartyTransID"), "ThirdPartyTransID"),
    )


def c2b_validation_answer(reject_code: str | None = None) -> dict[str, str]:
    """The body that accepts a C2B validation, or rejects it with a C2B000xx code."""
    if reject_code is None:
        return {"ResultCode": C2B_ACCEPT, "ResultDesc": "Accepted"}
    if reject_code not in C2B_REJECT_CODES:
        raise MpesaPayloadError(
            f"unknown C2B rejection code {reject_code!r}",
            path="ResultCode",
            expected=", ".join(C2B_REJECT_CODES),
        )
    return {"ResultCode": reject_code, "ResultDesc": "Rejected"}


def c2b_confirmation_ack() -> dict[str, Any]:
    """The body that acknowledges a C2B confirmation."""
    return {"ResultCode": 0, "ResultDesc": "Success"}
