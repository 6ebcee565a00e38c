"""The queue's real-time jobs: batched reconciliation, STK queries and the periodic stuck check.

A busy lunch hour: callbacks for several orders arrive together and a worker reconciles them in
batches; one job in a batch is broken; sessions whose payer never answered sit in processing
until the periodic check asks M-Pesa about them (the built-in sandbox, served over HTTP, plays
Daraja where a test needs one).

Batch claiming, row locking and the queue's SQL differ by dialect, so the batch and stuck-check
tests run on SQLite and PostgreSQL; the tests with the sandbox run on SQLite only, since what
they add is the HTTP conversation with Daraja.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from realtime_support import RealtimeApi, stk_callback, wait_for
from sqlalchemy import update

from hisaab.queue.jobs import enqueue
from hisaab.queue.worker import Outcome, Worker
from hisaab.realtime import service
from hisaab.realtime.jobs import STUCK_CHECK_JOB, ensure_periodic_check
from hisaab.realtime.repository import DISCREPANCIES, EVENTS, RESULTS, SESSIONS
from hisaab.storage.models import QueueJob

LONG_AGO = dt.timedelta(minutes=10)  # past the default 120 s after which a session is stuck


def order(api: RealtimeApi, number: int, *, ago: dt.timedelta = dt.timedelta(0)) -> str:
    """Order <number>: KES 2,500.00 pushed to 0712 345 678, `ago` before now."""
    session_id = f"ps_order_{number}"
    api.new_session(sessionId=session_id)
    api.pushed(session_id, f"ws_CO_{number}", ago=ago)
    return session_id


def results_of(api: RealtimeApi, session_id: str) -> list[dict[str, Any]]:
    return api.rows(RESULTS, RESULTS.c.session_id == session_id)


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def run_only(api: RealtimeApi, *kinds: str) -> Any:
    return Worker(api.app.state.sessions, poll_seconds=0.05, kinds=kinds).run(once=True)


# --- realtime.reconcile, in batches ----------------------------------------------------------


@pytest.mark.usefixtures("through_the_queue")
class TestReconcileBatch:
    def test_each_session_is_reconciled_once_per_batch(self, api: RealtimeApi) -> None:
        sessions = [order(api, n) for n in (1001, 1002, 1003)]
        for n in (1001, 1002, 1003):
            api.callback(stk_callback(f"ws_CO_{n}", receipt=f"NLJ7RT{n}"))
        api.callback(stk_callback("ws_CO_1001", receipt="NLJ7RT1001"))  # a repeat
        with api.db() as db:  # and a manual request for the same session
            enqueue(db, service.RECONCILE_JOB, {"session_id": "ps_order_1002", "trigger": "x"})

        outcomes = api.work()

        assert outcomes == {Outcome.DONE: 5}
        for session_id in sessions:
            assert len(results_of(api, session_id)) == 1, session_id
            assert api.row(session_id)["status"] == "paid"

    def test_the_earliest_event_of_a_session_times_its_result(self, api: RealtimeApi) -> None:
        session_id = order(api, 1001)
        first = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3)
        with api.db() as db:
            for received, trigger in ((first + dt.timedelta(seconds=2), "later"), (first, "first")):
                enqueue(
                    db,
                    service.RECONCILE_JOB,
                    {
                        "session_id": session_id,
                        "trigger": trigger,
                        "received_at": received.isoformat(),
                    },
                )
        api.work()
        [result] = results_of(api, session_id)
        assert result["trigger"] == "first"
        assert result["processing_us"] >= 3_000_000  # from the earliest event to the result

    def test_one_broken_job_does_not_hold_back_the_others(self, api: RealtimeApi) -> None:
        paid = [order(api, n) for n in (1001, 1002)]
        for n in (1001, 1002):
            api.callback(stk_callback(f"ws_CO_{n}", receipt=f"NLJ7RT{n}"))
        with api.db() as db:  # names neither a session nor a CheckoutRequestID
            broken = enqueue(db, service.RECONCILE_JOB, {"trigger": "stk_callback"}).id

        outcomes = api.work()

        assert outcomes == {Outcome.DONE: 2, Outcome.FAILED: 1}
        for session_id in paid:
            assert api.row(session_id)["status"] == "paid"
            assert len(results_of(api, session_id)) == 1
        [job] = api.rows(QueueJob.__table__, QueueJob.__table__.c.id == broken)  # type: ignore[arg-type]
        assert job["status"] == "failed"  # at once: no retry can give it a session
        assert job["last_error"] == (
            "bad payload: the request names neither session_id nor checkout_request_id"
        )

    @pytest.mark.parametrize(
        ("payload", "error"),
        [
            ({"session_id": 1001, "trigger": "x"}, "session_id must be text, got 1001"),
            (
                {"session_id": "ps_order_1001", "received_at": "yesterday"},
                "received_at is not an ISO 8601 time: 'yesterday'",
            ),
            ({"session_id": "ps_order_1001", "event_id": "17"}, "event_id must be an integer"),
        ],
    )
    def test_a_malformed_request_fails_at_once_saying_why(
        self, sqlite_api: RealtimeApi, payload: dict[str, Any], error: str
    ) -> None:
        order(sqlite_api, 1001)
        with sqlite_api.db() as db:
            job_id = enqueue(db, service.RECONCILE_JOB, payload).id
        assert sqlite_api.work() == {Outcome.FAILED: 1}
        [job] = sqlite_api.rows(QueueJob.__table__, QueueJob.__table__.c.id == job_id)  # type: ignore[arg-type]
        assert (job["status"], job["attempts"]) == ("failed", 1)
        assert error in job["last_error"]

    def test_a_session_that_vanished_is_a_failed_reconciliation(self, api: RealtimeApi) -> None:
        with api.db() as db:
            enqueue(db, service.RECONCILE_JOB, {"session_id": "ps_gone", "trigger": "x"})
        assert api.work() == {Outcome.DONE: 1}
        [result] = results_of(api, "ps_gone")
        assert result["status"] == "failed"

    def test_an_inconclusive_callback_asks_mpesa_twenty_seconds_later(
        self, api: RealtimeApi
    ) -> None:
        session_id = order(api, 1001)
        api.callback(
            stk_callback("ws_CO_1001", 1037, result_desc="DS timeout user cannot be reached")
        )
        api.work()
        assert api.row(session_id)["status"] == "processing"
        [query] = api.jobs(kind=service.QUERY_JOB, status="queued")
        assert json.loads(query["payload"]) == {
            "session_id": session_id,
            "trigger": "inconclusive_callback",
        }
        assert aware(query["run_after"]) - dt.datetime.now(dt.UTC) > dt.timedelta(seconds=15)


# --- realtime.stuck_check -----------------------------------------------------------------


class TestStuckCheck:
    def test_queries_the_stuck_sessions_and_rearms_itself_once(
        self, api: RealtimeApi, worker_settings: Callable[..., None]
    ) -> None:
        worker_settings(realtime_check_interval_seconds=900, realtime_check_batch_size=2)
        stuck = [order(api, n, ago=LONG_AGO) for n in (1001, 1002, 1003)]
        order(api, 1004)  # pushed just now: not stuck
        api.new_session(sessionId="ps_order_1005")  # never pushed: pending, not stuck
        with api.db() as db:
            assert ensure_periodic_check(db) is True
        with api.db() as db:
            assert ensure_periodic_check(db) is False  # already armed

        run_only(api, STUCK_CHECK_JOB)

        queries = [json.loads(j["payload"]) for j in api.jobs(kind=service.QUERY_JOB)]
        assert len(queries) == 2  # the batch size
        assert {q["session_id"] for q in queries} <= set(stuck)
        assert {q["trigger"] for q in queries} == {"periodic_check"}
        [armed] = api.jobs(kind=STUCK_CHECK_JOB, status="queued")
        assert aware(armed["run_after"]) - dt.datetime.now(dt.UTC) > dt.timedelta(seconds=890)

    def test_two_checks_due_together_leave_one_armed(self, api: RealtimeApi) -> None:
        with api.db() as db:
            for _ in range(2):
                enqueue(db, STUCK_CHECK_JOB, {})
        assert run_only(api, STUCK_CHECK_JOB) == {Outcome.DONE: 2}
        assert len(api.jobs(kind=STUCK_CHECK_JOB, status="queued")) == 1


# --- mpesa.query ------------------------------------------------------------------------------


class TestQuery:
    def test_without_daraja_configured_the_session_is_still_reconciled(
        self, api: RealtimeApi
    ) -> None:
        session_id = order(api, 1001, ago=LONG_AGO)
        with api.db() as db:
            enqueue(db, service.QUERY_JOB, {"session_id": session_id, "trigger": "periodic_check"})

        assert api.work() == {Outcome.DONE: 1}

        row = api.row(session_id)
        assert (row["status"], row["reconciliation_status"]) == ("processing", "discrepancy")
        [result] = results_of(api, session_id)
        assert result["trigger"] == "periodic_check"
        found = api.rows(DISCREPANCIES, DISCREPANCIES.c.subject == session_id)
        assert [d["type"] for d in found] == ["stuck_processing"]
        assert api.jobs(kind=service.QUERY_JOB, status="queued") == []  # no loop of queries

    def test_a_session_settled_meanwhile_is_not_queried(self, api: RealtimeApi) -> None:
        session_id = order(api, 1001)
        api.callback(stk_callback("ws_CO_1001"))
        api.work()
        with api.db() as db:
            enqueue(db, service.QUERY_JOB, {"session_id": session_id, "trigger": "periodic_check"})
        api.work()
        assert len(results_of(api, session_id)) == 1

    def test_the_sandbox_settles_a_push_whose_callback_never_came(
        self, served_api: RealtimeApi, sandbox: str
    ) -> None:
        api = served_api
        scenario = {"phone": "254712345677", "scenario": "no_callback"}
        httpx2.post(f"{sandbox}/sandbox/scenarios", json=scenario).raise_for_status()
        session_id = str(api.new_session(phone="0712345677")["sessionId"])
        pushed = api.client.post(
            "/api/mpesa/stkpush", json={"sessionId": session_id}, headers=api.headers("sp-ops")
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["status"] == "processing"
        api.work()  # the initiation is reconciled: still processing
        with api.db() as db:  # ten minutes later, still no callback
            db.execute(
                update(SESSIONS)
                .where(SESSIONS.c.id == session_id)
                .values(initiated_at=dt.datetime.now(dt.UTC) - LONG_AGO)
            )
            ensure_periodic_check(db)

        api.work()  # the check queries the stuck session; the sandbox says the payer paid

        row = api.row(session_id)
        assert (row["status"], row["result_code"]) == ("paid", "0")
        found = api.rows(DISCREPANCIES, DISCREPANCIES.c.subject == session_id)
        assert [d["type"] for d in found] == ["missing_callback"]
        [query] = api.rows(EVENTS, EVENTS.c.kind == "stk_query")
        assert query["result_code"] == "0"


# --- the whole trip, over HTTP --------------------------------------------------------------


def test_an_stk_push_to_the_sandbox_is_paid_by_its_callback(
    served_api: RealtimeApi, sandbox: str
) -> None:
    """The sandbox posts its callback at once, possibly before Hisaab has recorded the push's
    answer: either way the callback is kept, attached and reconciled exactly once."""
    api = served_api
    session_id = str(api.new_session()["sessionId"])
    pushed = api.client.post(
        "/api/mpesa/stkpush", json={"sessionId": session_id}, headers=api.headers("sp-ops")
    )
    assert pushed.status_code == 200, pushed.text
    checkout = pushed.json()["checkoutRequestId"]

    [post] = wait_for(
        lambda: httpx2.get(f"{sandbox}/sandbox/callbacks", params={"kind": "stk_callback"}).json(),
        what="the sandbox's callback",
    )
    assert post["status_code"] == 200, post  # the secret in the callback URL was accepted
    assert post["answer"] == {"ResultCode": 0, "ResultDesc": "Accepted"}

    def paid() -> bool:
        api.work()  # a callback that came before the push's answer waits in the queue
        return bool(api.row(session_id)["status"] == "paid")

    wait_for(paid, what="payment")

    row = api.row(session_id)
    assert (row["checkout_request_id"], row["paid_amount_minor"]) == (checkout, 250_000)
    [callback] = api.rows(EVENTS, EVENTS.c.kind == "stk_callback")
    assert (callback["session_id"], callback["authenticated"]) == (session_id, True)
    assert row["reconciliation_status"] == "matched"
