"""A session is reconciled in the transaction that records the event about it.

Order ps_order_1001 asks 0712 345 678 for KES 2,500.00; Safaricom's callback says it was paid.
By default the callback's own commit carries the session's new status, its result and the
live message, with no queue hop in between. If reconciling fails, the callback is still kept
and its reconciliation waits in the durable queue for a worker; with
HISAAB_REALTIME_RECONCILE_AT_INTAKE=false every reconciliation goes that way.

Savepoints and their rollback differ by dialect, so these run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from realtime_support import RECEIPT, RealtimeApi, stk_callback

from hisaab.queue.worker import Outcome
from hisaab.realtime import service
from hisaab.realtime.repository import EVENTS, RESULTS

CHECKOUT = "ws_CO_221120261030001254712345678"


def pushed_order(api: RealtimeApi) -> str:
    session_id = str(api.new_session(sessionId="ps_order_1001")["sessionId"])
    api.pushed(session_id, CHECKOUT)
    return session_id


def reconcile_jobs(api: RealtimeApi) -> list[dict[str, Any]]:
    return api.jobs(kind=service.RECONCILE_JOB)


def test_a_callback_is_reconciled_in_its_own_commit_with_nothing_queued(
    api: RealtimeApi,
) -> None:
    session_id = pushed_order(api)

    response = api.callback(stk_callback(CHECKOUT))

    assert response.status_code == 200, response.text
    row = api.row(session_id)  # no worker has run
    assert (row["status"], row["reconciliation_status"]) == ("paid", "matched")
    assert (row["mpesa_receipt"], row["paid_amount_minor"]) == (RECEIPT, 250_000)
    [result] = api.rows(RESULTS, RESULTS.c.session_id == session_id)
    assert (result["status"], result["trigger"]) == ("matched", "stk_callback")
    assert reconcile_jobs(api) == []


def test_when_reconciling_fails_the_callback_is_kept_and_its_reconciliation_queued(
    api: RealtimeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = pushed_order(api)
    reconcile = service.reconcile_sessions

    def broken(*args: Any, **kwargs: Any) -> Any:
        reconcile(*args, **kwargs)  # writes its result and status, then fails
        raise RuntimeError("rules engine crashed")

    monkeypatch.setattr(service, "reconcile_sessions", broken)
    response = api.callback(stk_callback(CHECKOUT))
    monkeypatch.undo()

    assert response.status_code == 200, response.text  # Daraja need not send it again
    [event] = api.rows(EVENTS, EVENTS.c.kind == "stk_callback")
    assert event["session_id"] == session_id
    assert api.row(session_id)["status"] == "processing"  # what `broken` wrote was undone
    assert api.rows(RESULTS, RESULTS.c.session_id == session_id) == []
    [job] = reconcile_jobs(api)
    assert job["status"] == "queued"
    assert json.loads(job["payload"]) == {
        "event_id": event["id"],
        "received_at": json.loads(job["payload"])["received_at"],
        "session_id": session_id,
        "trigger": "stk_callback",
    }

    assert api.work() == {Outcome.DONE: 1}
    assert api.row(session_id)["status"] == "paid"
    assert len(api.rows(RESULTS, RESULTS.c.session_id == session_id)) == 1


@pytest.mark.usefixtures("through_the_queue")
def test_with_reconciliation_at_intake_off_the_worker_does_it(api: RealtimeApi) -> None:
    session_id = pushed_order(api)

    api.callback(stk_callback(CHECKOUT))

    assert api.row(session_id)["status"] == "processing"
    [job] = reconcile_jobs(api)
    assert json.loads(job["payload"])["session_id"] == session_id
    assert api.work() == {Outcome.DONE: 1}
    assert (api.row(session_id)["status"], job["kind"]) == ("paid", service.RECONCILE_JOB)


def test_an_in_process_worker_is_woken_only_by_commits_that_queue_work(
    sqlite_api: RealtimeApi, worker_settings: Any
) -> None:
    api = sqlite_api
    wakes: list[str] = []
    api.app.state.wake_worker = lambda: wakes.append("woken")
    pushed_order(api)

    api.callback(stk_callback(CHECKOUT))  # reconciled at intake: nothing for a worker
    assert wakes == []

    worker_settings(realtime_reconcile_at_intake="false")
    api.callback(stk_callback(CHECKOUT, receipt="NLJ7RT61SV"))  # a repeat, queued
    assert wakes == ["woken"]
