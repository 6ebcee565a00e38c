"""When an alert goes out: high severity only, once per session and kind per interval, capped."""

from __future__ import annotations

import datetime as dt

import pytest
from alert_examples import DETECTED_AT, amount_mismatch

from hisaab.alerts.message import Alert, sms_text
from hisaab.alerts.policy import KIND_CAP_PER_MINUTE, Verdict, decide

FIVE_MINUTES = dt.timedelta(minutes=5)


def at(minutes: float) -> dt.datetime:
    """The example's detection time plus `minutes`."""
    return DETECTED_AT + dt.timedelta(minutes=minutes)


class TestPerSessionAndKind:
    def test_the_first_alert_of_a_session_goes_out(self, alert: Alert) -> None:
        decision = decide(alert, None, at(0.1), FIVE_MINUTES)
        assert decision.verdict is Verdict.SEND and decision.sends
        assert decision.reason == (
            "the first amount_mismatch alert for session 507f1f77bcf86cd799439011"
        )

    def test_an_alert_already_sent_after_it_was_detected_is_a_duplicate(self) -> None:
        # A replayed callback: detected at 10:31, but an alert went out at 10:32 already.
        replay = amount_mismatch(detected_at=at(1))
        decision = decide(replay, at(2), at(2.5), FIVE_MINUTES)
        assert decision.verdict is Verdict.SUPPRESS_DUPLICATE and not decision.sends
        assert decision.reason == (
            "the last amount_mismatch alert for session 507f1f77bcf86cd799439011 went out at "
            "2024-12-14 10:32:00 UTC, after this one was detected at 2024-12-14 10:31:00 UTC"
        )

    def test_a_new_finding_within_the_interval_is_rate_limited(self) -> None:
        later = amount_mismatch(detected_at=at(3))
        decision = decide(later, at(0), at(3), FIVE_MINUTES)
        assert decision.verdict is Verdict.SUPPRESS_RATE_LIMITED and not decision.sends
        assert "the next may go at 2024-12-14 10:35:00 UTC (one per 300 s)" in decision.reason

    def test_once_the_interval_has_passed_it_goes_out_again(self) -> None:
        later = amount_mismatch(detected_at=at(5))
        assert decide(later, at(0), at(5), FIVE_MINUTES).verdict is Verdict.SEND

    def test_the_interval_may_be_given_in_seconds(self) -> None:
        later = amount_mismatch(detected_at=at(3))
        assert decide(later, at(0), at(3), 300).verdict is Verdict.SUPPRESS_RATE_LIMITED
        assert decide(later, at(0), at(3), 120).verdict is Verdict.SEND

    def test_an_interval_of_zero_sends_every_new_finding_but_not_a_replay(self) -> None:
        assert decide(amount_mismatch(detected_at=at(1)), at(0), at(1), 0).sends
        assert not decide(amount_mismatch(detected_at=at(0)), at(0), at(1), 0).sends


class TestSeverity:
    @pytest.mark.parametrize("severity", ["medium", "low"])
    def test_below_high_stays_on_the_dashboard(self, severity: str) -> None:
        decision = decide(amount_mismatch(severity=severity), None, at(0), FIVE_MINUTES)
        assert decision.verdict is Verdict.SUPPRESS_SEVERITY
        assert decision.reason.startswith(f"{severity}-severity amount_mismatch alert")

    def test_a_deployment_may_deliver_medium_too(self) -> None:
        medium = amount_mismatch(severity="medium")
        decision = decide(medium, None, at(0), FIVE_MINUTES, severities={"high", "medium"})
        assert decision.sends


class TestStormCap:
    def test_below_the_cap_alerts_go_out(self, alert: Alert) -> None:
        for sent in range(KIND_CAP_PER_MINUTE):
            decision = decide(alert, None, at(0), FIVE_MINUTES, kind_sent_last_minute=sent)
            assert decision.verdict is Verdict.SEND

    def test_the_alert_that_reaches_the_cap_is_the_summary(self, alert: Alert) -> None:
        decision = decide(alert, None, at(0), FIVE_MINUTES, kind_sent_last_minute=5)
        assert decision.verdict is Verdict.SEND_SUMMARY and decision.sends
        assert decision.note == "Storm: 6 such alerts in 1 min; more on the dashboard only."
        assert decision.note in sms_text(alert, note=decision.note)

    def test_above_the_cap_alerts_are_held(self, alert: Alert) -> None:
        decision = decide(alert, None, at(0), FIVE_MINUTES, kind_sent_last_minute=6)
        assert decision.verdict is Verdict.SUPPRESS_STORM and not decision.sends
        assert decision.reason == (
            "6 amount_mismatch alerts went out in the last minute, above the cap of 5 and a summary"
        )

    def test_a_storm_of_forty_sessions_sends_five_alerts_and_one_summary(self) -> None:
        # 40 sessions fail the same way within 20 seconds; each delivery is recorded at once.
        sent_at: list[dt.datetime] = []
        verdicts = []
        for n in range(40):
            now = DETECTED_AT + dt.timedelta(seconds=n / 2)
            alert = amount_mismatch(session_id=f"session-{n}", detected_at=now)
            in_window = sum(1 for t in sent_at if now - t < dt.timedelta(seconds=60))
            decision = decide(alert, None, now, FIVE_MINUTES, kind_sent_last_minute=in_window)
            verdicts.append(decision.verdict)
            if decision.sends:
                sent_at.append(now)
        assert verdicts[:5] == [Verdict.SEND] * 5
        assert verdicts[5] is Verdict.SEND_SUMMARY
        assert set(verdicts[6:]) == {Verdict.SUPPRESS_STORM}

    def test_a_five_minute_storm_never_sends_more_than_six_in_any_minute(self) -> None:
        # One failing session every second for five minutes.
        sent_at: list[dt.datetime] = []
        for n in range(300):
            now = DETECTED_AT + dt.timedelta(seconds=n)
            alert = amount_mismatch(session_id=f"session-{n}", detected_at=now)
            in_window = sum(1 for t in sent_at if now - t < dt.timedelta(seconds=60))
            if decide(alert, None, now, FIVE_MINUTES, kind_sent_last_minute=in_window).sends:
                sent_at.append(now)
        busiest = max(
            sum(1 for t in sent_at if start <= t < start + dt.timedelta(seconds=60))
            for start in sent_at
        )
        assert busiest == KIND_CAP_PER_MINUTE + 1
        assert len(sent_at) == 30  # six per minute, against 300 without the cap

    def test_the_session_rule_comes_before_the_cap(self) -> None:
        later = amount_mismatch(detected_at=at(1))
        decision = decide(later, at(0), at(1), FIVE_MINUTES, kind_sent_last_minute=99)
        assert decision.verdict is Verdict.SUPPRESS_RATE_LIMITED


class TestMisuse:
    def test_naive_times_are_refused(self, alert: Alert) -> None:
        with pytest.raises(ValueError, match="now must be timezone-aware"):
            decide(alert, None, dt.datetime(2024, 12, 14, 10, 30), FIVE_MINUTES)

    def test_a_negative_interval_is_refused(self, alert: Alert) -> None:
        with pytest.raises(ValueError, match="min_interval must not be negative"):
            decide(alert, None, at(0), -1)
