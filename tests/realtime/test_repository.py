"""Batch writes of reconciliation outcomes, on SQLite and PostgreSQL alike.

PostgreSQL writes a batch of outcomes and results with one statement over JSON rows, SQLite
with one executemany per shape of update; both must leave every session exactly as `outcome_values`
says: a receipt comes with its paid amount, a result code only when there is one, and what a
decision does not speak of stays as it was.
"""

from __future__ import annotations

import datetime as dt
import json

from realtime_support import RealtimeApi, stk_callback

from hisaab.realtime import repository as repo
from hisaab.realtime.rules import Decision, Issue

NOW = dt.datetime(2026, 11, 22, 7, 30, tzinfo=dt.UTC)
RECEIVED = dt.datetime(2026, 11, 22, 7, 29, 59, 750_000, tzinfo=dt.UTC)


def test_outcomes_of_a_batch_change_exactly_what_each_decision_says(api: RealtimeApi) -> None:
    paid, unpaid, recounted = (str(api.new_session()["sessionId"]) for _ in range(3))
    with api.db() as db:  # an earlier reconciliation left a receipt on the last one
        repo.save_reconciliations(
            db, {recounted: Decision("paid", "matched", (), "SKL1Q2W3E4", 250_000, "0")}, [], NOW
        )
    decisions = {
        paid: Decision("paid", "matched", (), receipt="SKM9R8T7Y6", paid_amount_minor=250_000),
        unpaid: Decision("failed", "matched", (), result_code="1032"),
        # A receipt whose amount could not be read: the amount is cleared with it.
        recounted: Decision("processing", "pending", (), receipt="SKL1Q2W3E5"),
    }
    with api.db() as db:
        repo.save_reconciliations(db, decisions, [], NOW + dt.timedelta(seconds=1))
    rows = {sid: api.row(sid) for sid in decisions}
    seen = {
        sid: (
            r["status"],
            r["reconciliation_status"],
            r["mpesa_receipt"],
            r["paid_amount_minor"],
            r["result_code"],
        )
        for sid, r in rows.items()
    }
    assert seen == {
        paid: ("paid", "matched", "SKM9R8T7Y6", 250_000, None),
        unpaid: ("failed", "matched", None, None, "1032"),
        recounted: ("processing", "pending", "SKL1Q2W3E5", None, "0"),
    }
    assert {r["reconciled_at"] for r in rows.values()} == {NOW + dt.timedelta(seconds=1)}


def test_results_of_a_batch_are_appended_with_their_processing_time(api: RealtimeApi) -> None:
    session_id = str(api.new_session()["sessionId"])
    issue = Issue("amount_mismatch", "high", "paid 2,400.00 of 2,500.00", {"delta_minor": 10_000})
    with api.db() as db:
        repo.save_reconciliations(
            db,
            {},
            [
                (session_id, "discrepancy", "stk_callback", (issue,), RECEIVED),
                ("no-such-session", "failed", "manual", (), None),
            ],
            NOW,
        )
    rows = api.rows(repo.RESULTS)
    assert [(r["session_id"], r["status"], r["trigger"]) for r in rows] == [
        (session_id, "discrepancy", "stk_callback"),
        ("no-such-session", "failed", "manual"),
    ]
    assert [r["processing_us"] for r in rows] == [250_000, None]
    assert [r["event_received_at"] for r in rows] == [RECEIVED, None]
    assert '"delta_minor":10000' in rows[0]["issues"] and rows[1]["issues"] == "[]"


def test_one_receipt_on_two_sessions_is_found_by_the_second_reconciliation(
    api: RealtimeApi,
) -> None:
    """Order 1002's callback carries the receipt Safaricom already gave order 1001."""
    first, second = (str(api.new_session()["sessionId"]) for _ in range(2))
    api.pushed(first, "ws_CO_1001")
    api.pushed(second, "ws_CO_1002")
    api.callback(stk_callback("ws_CO_1001", receipt="SKM9R8T7Y6"))
    api.callback(stk_callback("ws_CO_1002", receipt="SKM9R8T7Y6"))
    api.work()

    with api.db() as db:
        views = [repo.view_of(row) for row in repo.load_sessions(db, [first, second]).values()]
        evidence, holders = repo.load_evidence_many(db, views)
    assert [e.receipt for e in evidence[second]] == ["SKM9R8T7Y6"]
    assert holders == {"SKM9R8T7Y6": {first, second}}
    found = api.rows(
        repo.DISCREPANCIES,
        repo.DISCREPANCIES.c.subject == second,
        repo.DISCREPANCIES.c.type == "duplicate_receipt",
    )
    assert [json.loads(d["details"])["other_sessions"] for d in found] == [[first]]
