"""Merchants and their terms: creating a merchant, and changing terms under maker-checker.

A merchant is created with the default terms as version 1 (the platform's defaults, active at
once: nothing has been paid under them yet). Every later change is a proposal by one user
holding `merchants:write` that takes effect only when a different user holding
`settlements:approve` approves it; the version it replaces is superseded, never edited. Every
step is on the audit chain in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hisaab.audit.log import record
from hisaab.errors import Conflict, Forbidden, InputError, NotFound
from hisaab.money import normalize_currency
from hisaab.settlement.compute import Terms
from hisaab.settlement.terms import TermsSpec
from hisaab.storage.models import Merchant, utcnow
from hisaab.storage.settlement_models import MerchantTerms
from hisaab.storage.unique import add_unique

MERCHANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# Ids of refunds, disputes and adjustments: the gateway's, network's or staff's own.
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,63}$")
# Indian Financial System Code: four letters (the bank), a zero, six letters or digits (branch).
IFSC = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
ACCOUNT_NUMBER = re.compile(r"^[A-Za-z0-9]{6,34}$")
MAX_NOTE = 2000


@dataclass(frozen=True)
class BankAccount:
    """Where a merchant's settlements are paid: holder's name, account number, branch IFSC."""

    name: str
    number: str
    ifsc: str

    @classmethod
    def checked(cls, name: str, number: str, ifsc: str) -> BankAccount:
        name, number, ifsc = name.strip(), re.sub(r"[\s-]", "", number), ifsc.strip().upper()
        if not name or len(name) > 200:
            raise InputError(
                "the account holder's name",
                column="bank_account_name",
                expected="1 to 200 characters",
            )
        if not ACCOUNT_NUMBER.match(number):
            raise InputError(
                f"{number!r} is not an account number",
                column="bank_account_number",
                expected="6 to 34 letters or digits",
            )
        if not IFSC.match(ifsc):
            raise InputError(
                f"{ifsc!r} is not an IFSC",
                column="bank_ifsc",
                expected="4 letters (the bank), 0, then 6 letters or digits, e.g. HDFC0001234",
            )
        return cls(name, number, ifsc)


@dataclass(frozen=True)
class TermsVersion:
    version: int
    status: str
    spec: TermsSpec
    note: str
    proposed_by: int | None
    proposed_at: dt.datetime
    decided_by: int | None
    decided_at: dt.datetime | None
    decision_reason: str | None

    @classmethod
    def of(cls, row: MerchantTerms) -> TermsVersion:
        return cls(
            row.version,
            row.status,
            TermsSpec.model_validate_json(row.terms),
            row.note,
            row.proposed_by,
            row.proposed_at,
            row.decided_by,
            row.decided_at,
            row.decision_reason,
        )


@dataclass(frozen=True)
class MerchantView:
    id: str
    name: str
    status: str
    currency: str
    timezone: str
    bank_account: BankAccount | None
    created_at: dt.datetime
    terms: TermsVersion | None  # the active version
    proposal: TermsVersion | None  # waiting for approval


def create_merchant(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    currency: str = "INR",
    timezone: str = "Asia/Kolkata",
    bank: BankAccount | None = None,
    terms: TermsSpec | None = None,
    actor_id: int | None,
) -> MerchantView:
    if not MERCHANT_ID.match(merchant_id):
        raise InputError(
            f"{merchant_id!r} is not a merchant id",
            column="id",
            expected="1 to 32 letters, digits, '_' or '-'",
        )
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("the merchant's name", column="name", expected="1 to 200 characters")
    currency = normalize_currency(currency)
    _check_timezone(timezone)
    if session.get(Merchant, merchant_id) is not None:
        raise Conflict(f"merchant {merchant_id} already exists")
    merchant = Merchant(id=merchant_id, name=name, currency=currency, timezone=timezone)
    if bank is not None:
        merchant.bank_account_name = bank.name
        merchant.bank_account_number = bank.number
        merchant.bank_ifsc = bank.ifsc
    add_unique(session, merchant, f"merchant {merchant_id} already exists")
    spec = terms or TermsSpec()
    now = utcnow()
    session.add(
        MerchantTerms(
            merchant_id=merchant_id,
            version=1,
            status="active",
            terms=spec.model_dump_json(),
            note="terms at creation",
            proposed_by=actor_id,
            proposed_at=now,
            decided_by=actor_id,
            decided_at=now,
        )
    )
    record(
        session,
        actor_id=actor_id,
        action="merchant.create",
        entity="merchant",
        entity_id=merchant_id,
        details={
            "name": name,
            "currency": currency,
            "timezone": timezone,
            "bank_ifsc": bank.ifsc if bank else None,
            "terms_version": 1,
        },
    )
    session.flush()
    return get_merchant(session, merchant_id)


def merchant_settling_in(
    session: Session, merchant_id: str, currency: str, *, what: str
) -> Merchant:
    """The merchant a refund, dispute or adjustment (`what`) belongs to; it must be in the
    merchant's settlement currency."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}")
    if currency != merchant.currency:
        raise InputError(
            f"{what} in {currency} for merchant {merchant_id}, which settles in"
            f" {merchant.currency}",
            column="currency",
            expected=merchant.currency,
        )
    return merchant


def get_merchant(session: Session, merchant_id: str) -> MerchantView:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}")
    rows = session.scalars(
        select(MerchantTerms).where(
            MerchantTerms.merchant_id == merchant_id,
            MerchantTerms.status.in_(("active", "proposed")),
        )
    ).all()
    by_status = {row.status: TermsVersion.of(row) for row in rows}
    bank = None
    if merchant.bank_account_number and merchant.bank_ifsc:
        bank = BankAccount(
            merchant.bank_account_name or "", merchant.bank_account_number, merchant.bank_ifsc
        )
    return MerchantView(
        merchant.id,
        merchant.name,
        merchant.status,
        merchant.currency,
        merchant.timezone,
        bank,
        merchant.created_at,
        by_status.get("active"),
        by_status.get("proposed"),
    )


def list_merchants(
    session: Session, *, after: str | None = None, limit: int = 50
) -> list[MerchantView]:
    """Merchants in id order, a page at a time (keyset: the page after `after`)."""
    query = select(Merchant.id).order_by(Merchant.id).limit(limit)
    if after is not None:
        query = query.where(Merchant.id > after)
    return [get_merchant(session, merchant_id) for merchant_id in session.scalars(query)]


def terms_history(session: Session, merchant_id: str) -> list[TermsVersion]:
    get_merchant(session, merchant_id)
    rows = session.scalars(
        select(MerchantTerms)
        .where(MerchantTerms.merchant_id == merchant_id)
        .order_by(MerchantTerms.version)
    )
    return [TermsVersion.of(row) for row in rows]


def propose_terms(
    session: Session, merchant_id: str, spec: TermsSpec, *, note: str, actor_id: int
) -> TermsVersion:
    """A new version of the terms, waiting for a different user to approve it."""
    note = _checked_note(note)
    current = get_merchant(session, merchant_id)
    if current.proposal is not None:
        raise Conflict(
            f"merchant {merchant_id} already has version {current.proposal.version} of its"
            " terms waiting for approval; approve or reject it first"
        )
    latest = session.scalar(
        select(MerchantTerms.version)
        .where(MerchantTerms.merchant_id == merchant_id)
        .order_by(MerchantTerms.version.desc())
        .limit(1)
    )
    row = MerchantTerms(
        merchant_id=merchant_id,
        version=(latest or 0) + 1,
        status="proposed",
        terms=spec.model_dump_json(),
        note=note,
        proposed_by=actor_id,
    )
    add_unique(session, row, f"another change of merchant {merchant_id}'s terms came first")
    record(
        session,
        actor_id=actor_id,
        action="merchant.terms.propose",
        entity="merchant",
        entity_id=merchant_id,
        details={"version": row.version, "note": note, "terms": json.loads(row.terms)},
    )
    return TermsVersion.of(row)


def decide_terms(
    session: Session,
    merchant_id: str,
    version: int,
    *,
    approve: bool,
    actor_id: int,
    reason: str | None = None,
) -> TermsVersion:
    """Approve (the proposal becomes active, the active version superseded) or reject it.

    The checker must not be the user who proposed it; a rejection needs a reason.
    """
    row = session.scalar(
        select(MerchantTerms)
        .where(MerchantTerms.merchant_id == merchant_id, MerchantTerms.version == version)
        .with_for_update()
    )
    if row is None:
        get_merchant(session, merchant_id)  # 404 for the merchant first
        raise NotFound(f"merchant {merchant_id} has no version {version} of its terms")
    if row.status != "proposed":
        raise Conflict(f"version {version} of merchant {merchant_id}'s terms is {row.status}")
    if row.proposed_by == actor_id:
        raise Forbidden("the user who proposed these terms cannot also approve or reject them")
    if not approve and not (reason or "").strip():
        raise InputError("a rejection needs a reason", column="reason")
    now = utcnow()
    if approve:
        active = session.scalar(
            select(MerchantTerms).where(
                MerchantTerms.merchant_id == merchant_id, MerchantTerms.status == "active"
            )
        )
        if active is not None:
            active.status = "superseded"
            session.flush()  # one active version at a time, also for the database's index
    row.status = "active" if approve else "rejected"
    row.decided_by, row.decided_at = actor_id, now
    row.decision_reason = _checked_note(reason) if reason else None
    session.flush()
    record(
        session,
        actor_id=actor_id,
        action="merchant.terms.approve" if approve else "merchant.terms.reject",
        entity="merchant",
        entity_id=merchant_id,
        details={"version": version, "reason": row.decision_reason},
    )
    return TermsVersion.of(row)


def active_terms(session: Session, merchant_id: str) -> Terms:
    """The calculation's terms for a merchant: its active version, or an error saying why not."""
    merchant = get_merchant(session, merchant_id)
    if merchant.terms is None:
        raise Conflict(f"merchant {merchant_id} has no approved terms")
    return merchant.terms.spec.to_terms(merchant.id, merchant.currency, merchant.terms.version)


def parse_terms(document: Any) -> TermsSpec:
    """A terms document from a file or a request body, with each bad field named."""
    try:
        return TermsSpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "terms"
        raise InputError(f"{where}: {first['msg']}", column=where) from None


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r}",
            column="timezone",
            expected="an IANA name such as Asia/Kolkata or Africa/Nairobi",
        ) from None


def _checked_note(note: str) -> str:
    note = note.strip()
    if not note or len(note) > MAX_NOTE:
        raise InputError("a note saying why", column="note", expected=f"1 to {MAX_NOTE} characters")
    return note
