"""Tables of money out: merchants' settlement accounts and the versions of their terms.

A merchant's terms (schedule, minimum payout, reserve, policies, rate card) are a versioned
document: a change is proposed by one user and takes effect only when a different user with
the approving permission approves it (maker-checker); the version approved before it is then
superseded, never edited, so every settlement can name the terms it used.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hisaab.storage.models import Base, UTCDateTime, _one_of, utcnow

TERMS_STATUSES = ("proposed", "active", "rejected", "superseded")


class MerchantTerms(Base):
    __tablename__ = "merchant_terms"
    __table_args__ = (
        CheckConstraint(_one_of("status", TERMS_STATUSES), name="status"),
        CheckConstraint("version > 0", name="version"),
        CheckConstraint(
            "(status = 'proposed') = (decided_at IS NULL)", name="decided_when_not_proposed"
        ),
        Index(None, "merchant_id", "version", unique=True),
        # One active version and one open proposal per merchant, enforced by the database.
        Index(
            "uq_merchant_terms_active",
            "merchant_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_merchant_terms_proposed",
            "merchant_id",
            unique=True,
            sqlite_where=text("status = 'proposed'"),
            postgresql_where=text("status = 'proposed'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    terms: Mapped[str] = mapped_column(Text)  # the TermsSpec document, as JSON
    note: Mapped[str] = mapped_column(Text)  # why the change, from its proposer
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)
