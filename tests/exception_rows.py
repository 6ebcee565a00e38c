"""Exceptions written straight into the database, for tests of the workflow around them."""

from __future__ import annotations

import datetime as dt
import json

from hisaab.storage.models import ReconciliationException


def unmatched_exception(
    job_id: int, side: str, record_id: str, amount_minor: int, *, utr: str | None = None
) -> ReconciliationException:
    """An open UNMATCHED_PG / UNMATCHED_BANK exception of `amount_minor` INR paise."""
    return ReconciliationException(
        job_id=job_id,
        category="UNMATCHED_PG" if side == "pg" else "UNMATCHED_BANK",
        side=side,
        record_id=record_id,
        source_line=2,
        amount_minor=amount_minor,
        currency="INR",
        value_date=dt.date(2024, 4, 1),
        utr=utr,
        details=json.dumps({"reason": "no counterpart"}),
    )
