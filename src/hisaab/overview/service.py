"""The five Overview answers, computed from the pre-aggregates (`kpi_daily` for payments,
`kpi_exceptions_daily` for exceptions) and the connectors.

Every answer covers business dates `from_date`..`to_date` inclusive (default: the 30 days up
to today, UTC), at most MAX_RANGE_DAYS long. Amounts are exact minor units per currency, never
summed across currencies; rates are ratios in [0, 1] rounded to 4 places, null when there is
nothing to divide by. Answers go through a TTLCache when one is given (see cache.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, TypeVar

from sqlalchemy.orm import Session

from hisaab.errors import InputError
from hisaab.overview import repository
from hisaab.overview.cache import TTLCache
from hisaab.storage.kpi_models import PIPELINE_STATUSES, RECONCILIATION_STATUSES
from hisaab.storage.models import utcnow

MAX_RANGE_DAYS: Final = 366
DEFAULT_RANGE_DAYS: Final = 30
STALE_AFTER: Final = dt.timedelta(hours=2)
OPEN_EXCEPTION_STATUSES: Final = ("open", "in_review", "pending_approval")
MAX_TOP_REASONS: Final = 50

T = TypeVar("T")


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateRange:
    from_date: dt.date
    to_date: dt.date

    @classmethod
    def of(
        cls, from_date: dt.date | None, to_date: dt.date | None, *, today: dt.date | None = None
    ) -> DateRange:
        """The range asked for, with defaults filled in; 422 when reversed or too long."""
        to_date = to_date or (
            from_date + dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
            if from_date
            else (today or utcnow().date())
        )
        from_date = from_date or to_date - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if from_date > to_date:
            raise InputError(
                f"from {from_date} is after to {to_date}", column="from", expected="from <= to"
            )
        days = (to_date - from_date).days + 1
        if days > MAX_RANGE_DAYS:
            raise InputError(
                f"the range {from_date}..{to_date} is {days} days long",
                column="to",
                expected=f"at most {MAX_RANGE_DAYS} days",
            )
        return cls(from_date, to_date)


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    transactions: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class CurrencyRate:
    currency: str
    rate: float | None


@dataclass(frozen=True, slots=True)
class ExceptionCounts:
    open: int  # open, in review or waiting for approval
    resolved: int


@dataclass(frozen=True, slots=True)
class OverviewKpis:
    from_date: dt.date
    to_date: dt.date
    captured: list[CurrencyTotal]  # every payment is captured first: all of them
    credited: list[CurrencyTotal]
    matched: list[CurrencyTotal]
    match_rate_by_count: float | None
    match_rate_by_amount: list[CurrencyRate]
    exceptions: ExceptionCounts


@dataclass(frozen=True, slots=True)
class PipelineStage:
    status: str
    transactions: int  # now at this stage
    reached: int  # at this stage or a later one
    amounts: list[CurrencyTotal]


@dataclass(frozen=True, slots=True)
class Pipeline:
    from_date: dt.date
    to_date: dt.date
    stages: list[PipelineStage]


@dataclass(frozen=True, slots=True)
class SourceReconciliation:
    data_source: str
    total: int
    matched: int
    unmatched: int
    exception: int
    pending: int
    match_rate: float | None
    amounts: list[CurrencyTotal]
    matched_amounts: list[CurrencyTotal]


@dataclass(frozen=True, slots=True)
class Sources:
    from_date: dt.date
    to_date: dt.date
    sources: list[SourceReconciliation]


@dataclass(frozen=True, slots=True)
class ConnectorHealth:
    name: str
    kind: str
    status: str  # as configured: active, paused, disabled
    health: str  # healthy, stale, failing, never_succeeded, disabled
    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ConnectorsHealth:
    checked_at: dt.datetime
    stale_after_seconds: int
    healthy: int
    unhealthy: int
    connectors: list[ConnectorHealth]


@dataclass(frozen=True, slots=True)
class ExceptionReason:
    category: str
    count: int
    amounts: list[CurrencyTotal]


@dataclass(frozen=True, slots=True)
class TopReasons:
    from_date: dt.date
    to_date: dt.date
    reasons: list[ExceptionReason]


# --- computing them ------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _per_currency(sums: dict[str, list[int]]) -> list[CurrencyTotal]:
    return [CurrencyTotal(cur, n, amount) for cur, (n, amount) in sorted(sums.items())]


def _add(into: dict[str, list[int]], currency: str, transactions: int, amount: int) -> None:
    entry = into.setdefault(currency, [0, 0])
    entry[0] += transactions
    entry[1] += amount


def _cached(cache: TTLCache | None, key: Hashable, compute: Callable[[], T]) -> T:
    return compute() if cache is None else cache.get_or_compute(key, compute)


def overview(session: Session, dates: DateRange, cache: TTLCache | None = None) -> OverviewKpis:
    def compute() -> OverviewKpis:
        sums = repository.kpi_sums(
            session, dates.from_date, dates.to_date, ("status", "reconciliation_status", "currency")
        )
        captured: dict[str, list[int]] = {}
        credited: dict[str, list[int]] = {}
        matched: dict[str, list[int]] = {}
        for s in sums:
            status, recon, currency = s.key
            _add(captured, currency, s.transactions, s.amount_minor)
            if status == "credited":
                _add(credited, currency, s.transactions, s.amount_minor)
            if recon == "matched":
                _add(matched, currency, s.transactions, s.amount_minor)
        total = sum(n for n, _ in captured.values())
        by_status = repository.exception_counts_by_status(session, dates.from_date, dates.to_date)
        return OverviewKpis(
            from_date=dates.from_date,
            to_date=dates.to_date,
            captured=_per_currency(captured),
            credited=_per_currency(credited),
            matched=_per_currency(matched),
            match_rate_by_count=_rate(sum(n for n, _ in matched.values()), total),
            match_rate_by_amount=[
                CurrencyRate(cur, _rate(matched.get(cur, [0, 0])[1], amount))
                for cur, (_, amount) in sorted(captured.items())
            ],
            exceptions=ExceptionCounts(
                open=sum(by_status.get(s, 0) for s in OPEN_EXCEPTION_STATUSES),
                resolved=by_status.get("resolved", 0),
            ),
        )

    return _cached(cache, ("overview", dates), compute)


def pipeline(session: Session, dates: DateRange, cache: TTLCache | None = None) -> Pipeline:
    def compute() -> Pipeline:
        sums = repository.kpi_sums(session, dates.from_date, dates.to_date, ("status", "currency"))
        at: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for s in sums:
            status, currency = s.key
            _add(at[status], currency, s.transactions, s.amount_minor)
        counts = [sum(n for n, _ in at[status].values()) for status in PIPELINE_STATUSES]
        stages = [
            PipelineStage(
                status=status,
                transactions=counts[i],
                reached=sum(counts[i:]),
                amounts=_per_currency(at[status]),
            )
            for i, status in enumerate(PIPELINE_STATUSES)
        ]
        return Pipeline(dates.from_date, dates.to_date, stages)

    return _cached(cache, ("pipeline", dates), compute)


def sources(session: Session, dates: DateRange, cache: TTLCache | None = None) -> Sources:
    def compute() -> Sources:
        sums = repository.kpi_sums(
            session,
            dates.from_date,
            dates.to_date,
            ("data_source", "reconciliation_status", "currency"),
        )
        counts: dict[str, dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(RECONCILIATION_STATUSES, 0)
        )
        amounts: dict[str, dict[str, list[int]]] = defaultdict(dict)
        matched_amounts: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for s in sums:
            source, recon, currency = s.key
            counts[source][recon] += s.transactions
            _add(amounts[source], currency, s.transactions, s.amount_minor)
            if recon == "matched":
                _add(matched_amounts[source], currency, s.transactions, s.amount_minor)
        rows = []
        for source in sorted(counts):
            c = counts[source]
            total = sum(c.values())
            rows.append(
                SourceReconciliation(
                    data_source=source,
                    total=total,
                    matched=c["matched"],
                    unmatched=c["unmatched"],
                    exception=c["exception"],
                    pending=c["pending"],
                    match_rate=_rate(c["matched"], total),
                    amounts=_per_currency(amounts[source]),
                    matched_amounts=_per_currency(matched_amounts[source]),
                )
            )
        return Sources(dates.from_date, dates.to_date, rows)

    return _cached(cache, ("sources", dates), compute)


def _health(
    status: str,
    last_success_at: dt.datetime | None,
    last_error_at: dt.datetime | None,
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> str:
    if status == "disabled":
        return "disabled"
    if last_success_at is None:
        return "failing" if last_error_at is not None else "never_succeeded"
    if last_error_at is not None and last_error_at >= last_success_at:
        return "failing"
    if now - last_success_at > stale_after:
        return "stale"
    return "healthy"


def connectors_health(
    session: Session,
    cache: TTLCache | None = None,
    *,
    now: dt.datetime | None = None,
    stale_after: dt.timedelta = STALE_AFTER,
) -> ConnectorsHealth:
    """Each connector's health now: healthy when its last success is recent (within
    `stale_after`) and newer than its last error. Current state, so it takes no date range."""

    def compute() -> ConnectorsHealth:
        checked_at = now or utcnow()
        rows = [
            ConnectorHealth(
                name=c.name,
                kind=c.kind,
                status=c.status,
                health=_health(
                    c.status, c.last_success_at, c.last_error_at, checked_at, stale_after
                ),
                last_success_at=c.last_success_at,
                last_error_at=c.last_error_at,
                last_error=c.last_error,
            )
            for c in repository.connectors(session)
        ]
        healthy = sum(1 for r in rows if r.health == "healthy")
        return ConnectorsHealth(
            checked_at=checked_at,
            stale_after_seconds=int(stale_after.total_seconds()),
            healthy=healthy,
            unhealthy=sum(1 for r in rows if r.health not in ("healthy", "disabled")),
            connectors=rows,
        )

    return _cached(cache, ("connectors", now, stale_after), compute)


def top_reasons(
    session: Session, dates: DateRange, limit: int = 10, cache: TTLCache | None = None
) -> TopReasons:
    """Categories of the exceptions not yet resolved, most frequent first, with amounts."""
    if not 1 <= limit <= MAX_TOP_REASONS:
        raise InputError(f"limit {limit}", column="limit", expected=f"1..{MAX_TOP_REASONS}")

    def compute() -> TopReasons:
        by_category: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for category, currency, count, amount in repository.unresolved_exceptions_by_category(
            session, dates.from_date, dates.to_date
        ):
            _add(by_category[category], currency, count, amount)
        reasons = [
            ExceptionReason(
                category=category,
                count=sum(n for n, _ in per.values()),
                amounts=_per_currency(per),
            )
            for category, per in by_category.items()
        ]
        reasons.sort(key=lambda r: (-r.count, r.category))
        return TopReasons(dates.from_date, dates.to_date, reasons[:limit])

    return _cached(cache, ("top-reasons", dates, limit), compute)
