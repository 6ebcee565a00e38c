"""When resolving an exception needs a second approver: a threshold per currency, in its units.

A threshold belongs to one currency and is compared only with amounts of that currency, in its
own minor units: 1,000,000 minor units are ₹10,000.00, but ¥1,000,000 and KWD 1,000. A
currency with no threshold has no amount small enough, so every resolution in it waits for a
checker (fail safe); the audit entry says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hisaab.config import Settings
from hisaab.errors import AmountError
from hisaab.money import normalize_currency


class ApprovalThresholds:
    """Per currency, the largest amount (its minor units) resolved without a second approver."""

    __slots__ = ("_minor",)

    def __init__(self, minor: Mapping[str, int]) -> None:
        checked: dict[str, int] = {}
        for code, threshold in minor.items():
            currency = normalize_currency(code)
            if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
                raise AmountError(
                    f"approval threshold of {currency} must be non-negative minor units, "
                    f"got {threshold!r}"
                )
            checked[currency] = threshold
        self._minor: Mapping[str, int] = MappingProxyType(checked)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApprovalThresholds:
        """HISAAB_APPROVAL_THRESHOLDS, with HISAAB_APPROVAL_THRESHOLD_MINOR for INR."""
        return cls(settings.approval_thresholds_minor())

    def needs_approval(self, amount_minor: int, currency: str) -> bool:
        """Above the currency's own threshold, or in a currency without one."""
        minor = self._minor.get(currency)
        return minor is None or amount_minor > minor

    def why(self, currency: str) -> dict[str, Any]:
        """Audit details of a resolution in `currency` that waits for approval."""
        minor = self._minor.get(currency)
        if minor is None:
            return {"approval": f"no approval threshold configured for {currency}"}
        return {"approval_threshold_minor": minor}

    def __repr__(self) -> str:
        return f"ApprovalThresholds({dict(self._minor)!r})"
