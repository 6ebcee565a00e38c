"""A merchant's terms as a document: what is proposed, approved, stored and versioned.

The document is checked field by field (pydantic), stored as JSON in `merchant_terms`, and
turned into the calculation's `Terms` for a settlement. Percentages are decimals written as
text ("1.90"), so no float ever touches a rate.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hisaab.settlement.compute import Terms
from hisaab.settlement.fees import (
    ANY,
    DEFAULT_GST_PERCENT,
    Instrument,
    Rate,
    RateCard,
    default_rate_card,
)

Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4)]
_CUTOFF = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: Instrument
    sub_rail: Annotated[str, Field(min_length=1, max_length=32)] = ANY
    percent: Percent = Decimal(0)
    fixed_minor: Annotated[int, Field(ge=0, le=10**12)] = 0


class ScheduleSpec(BaseModel):
    """When a merchant is paid: captures of a business day, T+n working days later.

    `cycle` groups days: `daily` pays each day; `weekly` pays on `weekday` (0 Monday) what
    became due since the last payout; `monthly` on each of `month_days`. A capture after
    `cutoff` (the merchant's local time) belongs to the next business day.
    """

    model_config = ConfigDict(extra="forbid")

    cycle: Literal["daily", "weekly", "monthly"] = "daily"
    t_plus: Annotated[int, Field(ge=0, le=30)] = 1
    weekday: Annotated[int, Field(ge=0, le=6)] | None = None
    month_days: list[Annotated[int, Field(ge=1, le=28)]] | None = Field(
        default=None, min_length=1, max_length=28
    )
    cutoff: str = "23:59"

    @field_validator("cutoff")
    @classmethod
    def _cutoff_is_a_time(cls, value: str) -> str:
        if not _CUTOFF.match(value):
            raise ValueError("cutoff must be a 24-hour time HH:MM, such as 18:30")
        return value

    @model_validator(mode="after")
    def _cycle_has_its_days(self) -> ScheduleSpec:
        if self.cycle == "weekly" and self.weekday is None:
            raise ValueError("a weekly cycle needs a weekday (0 Monday .. 6 Sunday)")
        if self.cycle == "monthly" and not self.month_days:
            raise ValueError("a monthly cycle needs month_days (1 to 28)")
        return self


def default_rates() -> list[RateSpec]:
    card = default_rate_card()
    return [
        RateSpec.model_validate(
            {"instrument": i, "sub_rail": s, "percent": r.percent, "fixed_minor": r.fixed_minor}
        )
        for (i, s), r in card.rates.items()
    ]


class TermsSpec(BaseModel):
    """Everything a merchant's settlement depends on, in one versioned document."""

    model_config = ConfigDict(extra="forbid")

    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    min_payout_minor: Annotated[int, Field(ge=0, le=10**15)] = 0
    reserve_percent: Percent = Decimal(0)
    reserve_days: Annotated[int, Field(ge=0, le=365)] = 0
    negative_balance: Literal["carry_forward", "debit"] = "carry_forward"
    dispute_debit: Literal["at_opening", "when_lost"] = "at_opening"
    gst_percent: Percent = DEFAULT_GST_PERCENT
    rates: list[RateSpec] = Field(default_factory=default_rates, min_length=1, max_length=200)
    # The bank calendar T+n counts on: "IN" (an Indian bank's; hisaab.settlement.calendar).
    calendar: Literal["IN"] = "IN"

    @model_validator(mode="after")
    def _each_rail_priced_once(self) -> TermsSpec:
        seen: set[tuple[str, str]] = set()
        for rate in self.rates:
            key = (rate.instrument, rate.sub_rail)
            if key in seen:
                raise ValueError(f"{rate.instrument}/{rate.sub_rail} is priced twice")
            seen.add(key)
        return self

    def to_terms(self, merchant_id: str, currency: str, version: int) -> Terms:
        card = RateCard(
            {(r.instrument, r.sub_rail): Rate(r.percent, r.fixed_minor) for r in self.rates},
            gst_percent=self.gst_percent,
            version=f"{merchant_id} v{version}",
        )
        return Terms(
            merchant_id=merchant_id,
            currency=currency,
            rate_card=card,
            min_payout_minor=self.min_payout_minor,
            reserve_percent=self.reserve_percent,
            reserve_days=self.reserve_days,
            negative_balance=self.negative_balance,
            dispute_debit=self.dispute_debit,
            version=version,
        )
