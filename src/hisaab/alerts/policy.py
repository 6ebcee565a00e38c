"""Whether an alert goes out by email and SMS: severity, duplicates, rate limit and storms.

`decide` is a pure function: the caller looks up the history (when the last alert for the same
session and kind went out; how many alerts of the kind went out in the last minute) and passes
it in. The rules, checked in this order:

1. Severity: only `high` alerts go to email and SMS (every alert still goes to the WebSocket,
   which is not decided here).
2. Duplicate: an alert for the same session and kind went out at or after this one was
   detected. That alert already told the admins (a replayed callback, a retried job).
3. Rate limit: an alert for the same session and kind went out less than `min_interval`
   (HISAAB_ALERT_MIN_INTERVAL_SECONDS) before `now`. A new finding in that interval is on the
   WebSocket only. An interval of 0 turns this rule off.
4. Storm cap, across sessions, when the caller passes `kind_sent_last_minute` (alerts of this
   kind sent, summaries included, in the 60 seconds before `now`): below `kind_cap` (5) the
   alert goes out; at exactly `kind_cap` it goes out as a storm summary, carrying a note that
   more alerts of its kind are arriving and are on the dashboard only for now; above it, it is
   suppressed. So whatever the number of sessions, at most `kind_cap + 1` messages of one kind
   go to each channel in any 60 seconds, and the admins know when some were held back. While
   a storm lasts, an alert goes out only as older ones leave the 60-second window.

An alert that is suppressed is not retried later: the durable queue retries failed deliveries,
not suppressed ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from hisaab.alerts.message import Alert

DELIVERED_SEVERITIES = frozenset({"high"})
KIND_CAP_PER_MINUTE = 5
KIND_WINDOW = dt.timedelta(seconds=60)


class Verdict(StrEnum):
    SEND = "send"
    SEND_SUMMARY = "send-summary"
    SUPPRESS_SEVERITY = "suppress-severity"
    SUPPRESS_DUPLICATE = "suppress-duplicate"
    SUPPRESS_RATE_LIMITED = "suppress-rate-limited"
    SUPPRESS_STORM = "suppress-storm"


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, a sentence saying why, and the note a storm summary carries."""

    verdict: Verdict
    reason: str
    note: str | None = None

    @property
    def sends(self) -> bool:
        return self.verdict in (Verdict.SEND, Verdict.SEND_SUMMARY)


def wants_delivery(alert: Alert, severities: Collection[str] = DELIVERED_SEVERITIES) -> bool:
    """True when the alert's severity is one that goes to email and SMS."""
    return alert.severity in severities


def decide(
    alert: Alert,
    last_sent_at: dt.datetime | None,
    now: dt.datetime,
    min_interval: dt.timedelta | float,
    *,
    kind_sent_last_minute: int | None = None,
    kind_cap: int = KIND_CAP_PER_MINUTE,
    severities: Collection[str] = DELIVERED_SEVERITIES,
) -> Decision:
    """Send or suppress `alert`, by the rules in this module's docstring.

    `last_sent_at` is when an alert of the same session and kind last went out (None: never);
    `min_interval` is a timedelta or seconds. Times must be timezone-aware.
    """
    interval = (
        min_interval
        if isinstance(min_interval, dt.timedelta)
        else dt.timedelta(seconds=min_interval)
    )
    if interval < dt.timedelta(0):
        raise ValueError(f"min_interval must not be negative, got {interval}")
    if kind_cap < 1:
        raise ValueError(f"kind_cap must be at least 1, got {kind_cap}")
    for name, when in (("now", now), ("last_sent_at", last_sent_at)):
        if when is not None and when.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {when!r}")
    what = f"{alert.kind} alert for session {alert.session_id}"

    if not wants_delivery(alert, severities):
        return Decision(
            Verdict.SUPPRESS_SEVERITY,
            f"{alert.severity}-severity {what} goes to the dashboard only",
        )
    if last_sent_at is not None:
        if last_sent_at >= alert.detected_at:
            return Decision(
                Verdict.SUPPRESS_DUPLICATE,
                f"the last {what} went out at {_utc(last_sent_at)}, after this one was detected at "
                f"{_utc(alert.detected_at)}",
            )
        next_at = last_sent_at + interval
        if now < next_at:
            return Decision(
                Verdict.SUPPRESS_RATE_LIMITED,
                f"the last {what} went out at {_utc(last_sent_at)}; the next may go at "
                f"{_utc(next_at)} (one per {interval.total_seconds():g} s)",
            )
    if kind_sent_last_minute is not None:
        if kind_sent_last_minute == kind_cap:
            note = f"Storm: {kind_cap + 1} such alerts in 1 min; more on the dashboard only."
            return Decision(
                Verdict.SEND_SUMMARY,
                f"{kind_cap} {alert.kind} alerts went out in the last minute; this one says so",
                note,
            )
        if kind_sent_last_minute > kind_cap:
            return Decision(
                Verdict.SUPPRESS_STORM,
                f"{kind_sent_last_minute} {alert.kind} alerts went out in the last minute, "
                f"above the cap of {kind_cap} and a summary",
            )
    if last_sent_at is None:
        return Decision(Verdict.SEND, f"the first {what}")
    return Decision(
        Verdict.SEND,
        f"the last {what} went out at {_utc(last_sent_at)}, at least "
        f"{interval.total_seconds():g} s ago",
    )


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
