"""Payments and terms written straight into the database, for tests of settling them."""

from __future__ import annotations

import datetime as dt

from hisaab.storage.kpi_models import Transaction
from hisaab.storage.settlement_models import MerchantTerms


def matched_payment(
    payment_id: str,
    merchant_id: str,
    amount_minor: int,
    business_date: dt.date,
    *,
    method: str = "CARD",
    record_id: str | None = None,
    reconciliation_status: str = "matched",
) -> Transaction:
    """A payment of a completed job whose money reached escrow (INR paise), not settled."""
    return Transaction(
        id=payment_id,
        merchant_id=merchant_id,
        amount_minor=amount_minor,
        currency="INR",
        method=method,
        data_source="pg-generic",
        status="captured",
        reconciliation_status=reconciliation_status,
        business_date=business_date,
        record_id=record_id,
    )


def active_terms(merchant_id: str, terms_json: str = "{}") -> MerchantTerms:
    """Version 1 of a merchant's terms, approved (the document's defaults unless given)."""
    return MerchantTerms(
        merchant_id=merchant_id,
        version=1,
        status="active",
        terms=terms_json,
        note="terms at creation",
        decided_at=dt.datetime.now(dt.UTC),
    )
