"""The admin's real-time reconciliation API, and the payment sessions API it watches.

Platform ops create sessions for a merchant's orders (a merchant-admin for its own merchant
only); M-Pesa's callbacks settle them; the admin reconciles one, several or queues one, and
reads statistics, with the seed's request and response bodies. Every real-time route is for
the admin role alone.

Routes whose answers come from SQL that differs by dialect (aggregates for the statistics,
the queue) run on SQLite and PostgreSQL; authorisation and request parsing are decided
before any SQL, so they run on SQLite only.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from realtime_support import (
    MERCHANT,
    OTHER_MERCHANT,
    RECEIPT,
    RealtimeApi,
    error_of,
    stk_callback,
)

from hisaab.auth.roles import ROLES
from hisaab.queue.jobs import enqueue
from hisaab.realtime import service
from hisaab.realtime.repository import RESULTS, SESSIONS
from hisaab.realtime.stats import Remembered

BASE = "/api/real-time-reconciliation"
ROUTES = [
    ("GET", f"{BASE}/stats", None),
    ("POST", f"{BASE}/session/ps_order_1001", {"trigger": "manual_dashboard"}),
    ("POST", f"{BASE}/bulk", {"sessionIds": ["ps_order_1001"], "trigger": "bulk_manual"}),
    ("POST", f"{BASE}/queue/ps_order_1001", {"trigger": "manual_queue"}),
    ("GET", f"{BASE}/active", None),
    ("GET", f"{BASE}/results?after=0", None),
]
NOT_ADMIN = [role for role in ROLES if role != "admin"]
STATS_FIELDS = {
    "totalProcessed",
    "successfulReconciliations",
    "failedReconciliations",
    "discrepanciesDetected",
    "averageProcessingTime",
    "activeReconciliations",
    "queueLength",
    "connectedClients",
    "lastProcessedAt",
    "p95ProcessingTime",
    "p99ProcessingTime",
    "throughputPerMinute",
    "errorRate",
}
RAW_PHONES = ("254712345678", "0712345678", "712345678")


def call(api: RealtimeApi, method: str, path: str, body: Any, role: str | None = None) -> Any:
    headers = api.headers(role) if role else {}
    return api.client.request(method, path, json=body, headers=headers)


def paid_order(
    api: RealtimeApi, session_id: str = "ps_order_1001", receipt: str = RECEIPT, **body: Any
) -> str:
    """Order 1001: KES 2,500.00 pushed to 0712 345 678 and paid, reconciled by the worker."""
    checkout = f"ws_CO_{session_id}"
    api.new_session(sessionId=session_id, **body)
    api.pushed(session_id, checkout)
    assert api.callback(stk_callback(checkout, receipt=receipt)).status_code == 200
    api.work()
    return session_id


def assert_masked(text: str) -> None:
    for raw in RAW_PHONES:
        assert raw not in text, f"{raw} shown unmasked in {text}"


# --- who may call ---------------------------------------------------------------------------


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    def test_every_route_is_401_without_a_token(
        self, sqlite_api: RealtimeApi, method: str, path: str, body: Any
    ) -> None:
        error_of(call(sqlite_api, method, path, body), 401, "UNAUTHENTICATED")

    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    def test_every_route_is_401_with_a_forged_token(
        self, sqlite_api: RealtimeApi, method: str, path: str, body: Any
    ) -> None:
        token = sqlite_api.token("admin")
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        response = sqlite_api.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {forged}"}
        )
        error_of(response, 401, "UNAUTHENTICATED")

    @pytest.mark.parametrize("role", NOT_ADMIN)
    def test_every_route_is_403_for_every_other_role(
        self, sqlite_api: RealtimeApi, role: str
    ) -> None:
        paid_order(sqlite_api)
        headers = sqlite_api.headers(role)
        before = sqlite_api.snapshot()
        for method, path, body in ROUTES:
            response = sqlite_api.client.request(method, path, json=body, headers=headers)
            error = error_of(response, 403, "FORBIDDEN")
            assert "realtime:admin" in error["message"], path
        assert sqlite_api.snapshot() == before  # nothing queued, reconciled or audited


# --- statistics ----------------------------------------------------------------------------


class TestStats:
    def test_before_anything_happened(self, api: RealtimeApi) -> None:
        response = call(api, "GET", f"{BASE}/stats", None, "admin")
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        assert set(body["stats"]) >= STATS_FIELDS
        stats = body["stats"]
        assert stats["totalProcessed"] == 0
        assert stats["averageProcessingTime"] is None
        assert stats["lastProcessedAt"] is None
        assert stats["errorRate"] == 0.0

    def test_figures_are_reused_for_a_moment_then_computed_again(self, make_api: Any) -> None:
        """Dashboards polling together cost one computation per HISAAB_REALTIME_STATS_CACHE_
        SECONDS; connected clients are always current."""
        now = [1000.0]  # the cache's clock, moved by hand: no test waits on a real one
        with make_api(realtime_stats_cache_seconds=1) as api:
            api.app.state.realtime_stats = Remembered(1, clock=lambda: now[0])
            before = call(api, "GET", f"{BASE}/stats", None, "admin").json()["stats"]
            paid_order(api, "ps_order_1001")
            now[0] += 0.9
            soon = call(api, "GET", f"{BASE}/stats", None, "admin").json()["stats"]
            now[0] += 0.1
            later = call(api, "GET", f"{BASE}/stats", None, "admin").json()["stats"]
        assert before["totalProcessed"] == soon["totalProcessed"] == 0
        assert later["totalProcessed"] >= 1

    def test_counts_a_day_of_payments(self, api: RealtimeApi) -> None:
        paid_order(api, "ps_order_1001")  # matched
        paid_order(api, "ps_order_1002", receipt="NLK2AB34CD")  # matched
        api.new_session(sessionId="ps_order_1003")
        api.pushed("ps_order_1003", "ws_CO_1003")
        api.callback(stk_callback("ws_CO_1003", amount=2400))  # paid KES 100 short
        with api.db() as db:  # a queued reconciliation for a session since deleted
            enqueue(db, service.RECONCILE_JOB, {"session_id": "ps_gone", "trigger": "test"})
        api.work()
        with api.db() as db:  # one waiting in the queue
            enqueue(db, service.RECONCILE_JOB, {"session_id": "ps_order_1001", "trigger": "x"})

        stats = call(api, "GET", f"{BASE}/stats", None, "admin").json()["stats"]

        assert set(stats) >= STATS_FIELDS
        assert stats["totalProcessed"] == 4
        assert stats["successfulReconciliations"] == 2
        assert stats["discrepanciesDetected"] == 1
        assert stats["failedReconciliations"] == 1
        assert stats["errorRate"] == 0.25
        assert stats["queueLength"] == 1
        assert stats["activeReconciliations"] == 0
        assert stats["connectedClients"] == 0
        assert stats["throughputPerMinute"] == 4
        for timing in ("averageProcessingTime", "p95ProcessingTime", "p99ProcessingTime"):
            assert isinstance(stats[timing], float) and stats[timing] >= 0, timing
        assert stats["p95ProcessingTime"] <= stats["p99ProcessingTime"]
        last = dt.datetime.fromisoformat(stats["lastProcessedAt"].replace("Z", "+00:00"))
        assert dt.datetime.now(dt.UTC) - last < dt.timedelta(minutes=1)

    def test_percentiles_are_nearest_rank_over_the_results(self, sqlite_api: RealtimeApi) -> None:
        with sqlite_api.db() as db:  # 100 results taking 1..100 ms
            now = dt.datetime.now(dt.UTC)
            for ms in range(1, 101):
                db.execute(
                    RESULTS.insert().values(
                        session_id=f"ps_{ms}",
                        status="matched",
                        trigger="test",
                        processing_us=ms * 1000,
                        created_at=now,
                    )
                )
        stats = call(sqlite_api, "GET", f"{BASE}/stats", None, "admin").json()["stats"]
        assert (stats["averageProcessingTime"], stats["p95ProcessingTime"]) == (50.5, 95.0)
        assert stats["p99ProcessingTime"] == 99.0


# --- reconciling one session ---------------------------------------------------------------


class TestReconcileSession:
    def test_answers_the_seeds_result_shape(self, api: RealtimeApi) -> None:
        paid_order(api)
        response = call(
            api, "POST", f"{BASE}/session/ps_order_1001", {"trigger": "manual_dashboard"}, "admin"
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        result = body["result"]
        assert result["sessionId"] == "ps_order_1001"
        assert result["status"] == "matched"
        details = result["sessionDetails"]
        assert details["amount"] == "2500.00"
        assert details["amountMinor"] == 250_000
        assert details["currency"] == "KES"
        assert details["transactionId"] == RECEIPT
        assert details["phone"] == "2547****678"
        assert details["merchantId"] == MERCHANT
        metadata = result["reconciliationMetadata"]
        assert metadata["trigger"] == "manual_dashboard"
        assert isinstance(metadata["processingTime"], float)
        assert metadata["timestamp"].endswith("Z")
        assert result["issues"] == []
        assert_masked(response.text)

    def test_without_a_body_the_trigger_is_manual_dashboard(self, sqlite_api: RealtimeApi) -> None:
        paid_order(sqlite_api)
        response = sqlite_api.client.post(
            f"{BASE}/session/ps_order_1001", headers=sqlite_api.headers("admin")
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"]["reconciliationMetadata"]["trigger"] == "manual_dashboard"

    def test_records_the_result_and_audits_the_admin(self, api: RealtimeApi) -> None:
        paid_order(api)
        call(api, "POST", f"{BASE}/session/ps_order_1001", {"trigger": "manual"}, "admin")
        results = api.rows(RESULTS, RESULTS.c.session_id == "ps_order_1001")
        assert [r["trigger"] for r in results] == ["stk_callback", "manual"]
        audit = [r for r in api.snapshot()["audit_log"] if r["entity_id"] == "ps_order_1001"]
        assert (audit[-1]["action"], audit[-1]["actor_id"]) == (
            "realtime.reconcile",
            1 + ROLES.index("admin"),
        )

    def test_a_discrepancy_comes_with_its_issues(self, sqlite_api: RealtimeApi) -> None:
        sqlite_api.new_session(sessionId="ps_order_1001")
        sqlite_api.pushed("ps_order_1001", "ws_CO_1001")
        sqlite_api.callback(stk_callback("ws_CO_1001", phone=254799000111))
        result = call(sqlite_api, "POST", f"{BASE}/session/ps_order_1001", {}, "admin").json()[
            "result"
        ]
        assert result["status"] == "discrepancy"
        [issue] = result["issues"]
        assert (issue["type"], issue["severity"]) == ("phone_mismatch", "medium")
        assert issue["details"] == {"expected": "2547****678", "received": "2547****111"}

    def test_an_unknown_session_is_404(self, api: RealtimeApi) -> None:
        response = call(api, "POST", f"{BASE}/session/ps_nobody", {}, "admin")
        error = error_of(response, 404, "NOT_FOUND")
        assert "ps_nobody" in error["message"]
        assert api.rows(RESULTS) == []

    def test_a_trigger_longer_than_64_characters_is_422(self, sqlite_api: RealtimeApi) -> None:
        paid_order(sqlite_api)
        response = call(
            sqlite_api, "POST", f"{BASE}/session/ps_order_1001", {"trigger": "x" * 65}, "admin"
        )
        error_of(response, 422, "INVALID_REQUEST")


class TestBulk:
    def test_reconciles_each_session_once_and_names_the_unknown(self, api: RealtimeApi) -> None:
        paid_order(api, "ps_order_1001")
        paid_order(api, "ps_order_1002", receipt="NLK2AB34CD")
        body = {
            "sessionIds": ["ps_order_1001", "ps_nobody", "ps_order_1002", "ps_order_1001"],
            "trigger": "bulk_manual",
        }
        response = call(api, "POST", f"{BASE}/bulk", body, "admin")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["success"] is True
        assert [r["sessionId"] for r in answer["results"]] == ["ps_order_1001", "ps_order_1002"]
        assert {r["reconciliationMetadata"]["trigger"] for r in answer["results"]} == {
            "bulk_manual"
        }
        assert answer["summary"] == {"requested": 4, "processed": 2, "matched": 2}
        assert answer["notFound"] == ["ps_nobody"]
        assert_masked(response.text)

    @pytest.mark.parametrize(
        "body",
        [{}, {"sessionIds": []}, {"sessionIds": [""]}, {"sessionIds": ["ps_1"] * 501}],
        ids=["missing", "empty", "blank-id", "too-many"],
    )
    def test_a_bad_request_is_422(self, sqlite_api: RealtimeApi, body: Any) -> None:
        error_of(call(sqlite_api, "POST", f"{BASE}/bulk", body, "admin"), 422, "INVALID_REQUEST")


class TestQueue:
    def test_queues_the_session_and_a_worker_reconciles_it(self, api: RealtimeApi) -> None:
        paid_order(api)
        response = call(
            api, "POST", f"{BASE}/queue/ps_order_1001", {"trigger": "manual_queue"}, "admin"
        )
        assert response.status_code == 202, response.text
        assert response.json() == {
            "success": True,
            "queued": True,
            "sessionId": "ps_order_1001",
            "queueLength": 1,
        }
        [job] = api.jobs(kind=service.RECONCILE_JOB, status="queued")
        assert json.loads(job["payload"])["session_id"] == "ps_order_1001"
        active = call(api, "GET", f"{BASE}/active", None, "admin").json()
        assert active["queueLength"] == 1

        api.work()

        results = api.rows(RESULTS, RESULTS.c.session_id == "ps_order_1001")
        assert [r["trigger"] for r in results] == ["stk_callback", "manual_queue"]
        assert api.jobs(kind=service.RECONCILE_JOB, status="queued") == []

    @pytest.mark.parametrize("body", [None, {}], ids=["no-body", "no-trigger"])
    def test_without_a_trigger_it_is_manual_queue(self, sqlite_api: RealtimeApi, body: Any) -> None:
        paid_order(sqlite_api)
        response = sqlite_api.client.post(
            f"{BASE}/queue/ps_order_1001", json=body, headers=sqlite_api.headers("admin")
        )
        assert response.status_code == 202
        [job] = sqlite_api.jobs(kind=service.RECONCILE_JOB, status="queued")
        assert json.loads(job["payload"])["trigger"] == "manual_queue"

    def test_an_unknown_session_is_404_and_nothing_is_queued(self, api: RealtimeApi) -> None:
        error_of(call(api, "POST", f"{BASE}/queue/ps_nobody", {}, "admin"), 404, "NOT_FOUND")
        assert api.jobs() == []


class TestResults:
    def test_a_result_is_fetched_by_its_cursor_as_it_was_broadcast(self, api: RealtimeApi) -> None:
        paid_order(api, "ps_order_1001")
        paid_order(api, "ps_order_1002", receipt="NLJ7RT61SW")
        answer = call(api, "GET", f"{BASE}/results", None, "admin").json()
        results = [r["data"] for r in answer["results"]]
        assert [r["sessionId"] for r in results] == ["ps_order_1001", "ps_order_1002"]
        first, second = results
        assert second["resultId"] > first["resultId"]
        assert first["status"] == "matched"
        assert first["sessionDetails"]["transactionId"] == RECEIPT
        assert first["reconciliationMetadata"]["trigger"] == "stk_callback"
        assert answer["lastResultId"] == second["resultId"] and answer["nextAfter"] is None
        assert_masked(json.dumps(answer))

        after_first = call(
            api, "GET", f"{BASE}/results?after={first['resultId']}", None, "admin"
        ).json()
        assert [r["data"]["sessionId"] for r in after_first["results"]] == ["ps_order_1002"]

    def test_pages_by_next_after(self, sqlite_api: RealtimeApi) -> None:
        for n in range(3):
            paid_order(sqlite_api, f"ps_order_{n}", receipt=f"NLJ7RT61S{n}")
        seen: list[str] = []
        after: int | None = 0
        while after is not None:
            page = call(
                sqlite_api, "GET", f"{BASE}/results?after={after}&limit=2", None, "admin"
            ).json()
            seen += [r["data"]["sessionId"] for r in page["results"]]
            after = page["nextAfter"]
        assert seen == ["ps_order_0", "ps_order_1", "ps_order_2"]

    def test_with_nothing_new_it_says_where_it_stands(self, sqlite_api: RealtimeApi) -> None:
        answer = call(sqlite_api, "GET", f"{BASE}/results?after=41", None, "admin").json()
        assert answer == {"success": True, "results": [], "nextAfter": None, "lastResultId": 41}


class TestActive:
    def test_answers_the_seeds_fields(self, api: RealtimeApi) -> None:
        paid_order(api)
        with api.db() as db:
            for _ in range(2):
                enqueue(db, service.RECONCILE_JOB, {"session_id": "ps_order_1001"})
        response = call(api, "GET", f"{BASE}/active", None, "admin")
        assert response.status_code == 200
        assert response.json() == {
            "success": True,
            "activeReconciliations": 0,
            "queueLength": 2,
            "connectedClients": 0,
        }


# --- payment sessions -------------------------------------------------------------------------


def create(api: RealtimeApi, raw: str, role: str = "sp-ops") -> Any:
    """POST /api/sessions with a body written out, so JSON numbers stay as written."""
    headers = api.headers(role) | {"content-type": "application/json"}
    return api.client.post("/api/sessions", content=raw.encode(), headers=headers)


class TestCreateSession:
    @pytest.mark.parametrize(
        ("amount", "minor"),
        [
            ("2500", 250_000),
            ('"2500"', 250_000),
            ('"2500.50"', 250_050),
            ("2500.5", 250_050),
            ("2500.50", 250_050),
            ("0.1", 10),
            ('"0.01"', 1),
            ('" 2500.00 "', 250_000),
            ('"2500.500"', 250_050),  # trailing zeros are not extra precision
            ("92233720368547758.07", 2**63 - 1),
        ],
    )
    def test_the_amount_is_read_exactly(
        self, sqlite_api: RealtimeApi, amount: str, minor: int
    ) -> None:
        raw = f'{{"merchantId": "{MERCHANT}", "amount": {amount}, "phone": "0712345678"}}'
        response = create(sqlite_api, raw)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "pending"
        assert body["amountMinor"] == minor
        assert sqlite_api.row(body["sessionId"])["amount_minor"] == minor

    @pytest.mark.parametrize(
        "amount",
        [
            '"2500.505"',
            "2500.505",
            "0",
            '"0.00"',
            "-2500",
            '"-1"',
            '"1e3"',
            "1e3",
            '"2,500"',
            '"KES 2500"',
            '"NaN"',
            '"Infinity"',
            "true",
            "null",
            "[2500]",
            '""',
            '"٢٥٠٠"',
            "92233720368547758.08",
            "1" + "0" * 400,
        ],
    )
    def test_an_amount_that_is_not_exact_positive_money_is_422(
        self, sqlite_api: RealtimeApi, amount: str
    ) -> None:
        raw = f'{{"merchantId": "{MERCHANT}", "amount": {amount}, "phone": "0712345678"}}'
        error = error_of(create(sqlite_api, raw), 422, "INVALID_INPUT")
        assert error["metadata"] == {"column": "amount"}
        assert sqlite_api.rows(SESSIONS) == []

    def test_decimals_follow_the_currency(self, sqlite_api: RealtimeApi) -> None:
        body = '{"merchantId": "M0001234", "phone": "0712345678", '
        error = error_of(
            create(sqlite_api, body + '"amount": "2500.5", "currency": "JPY"}'),
            422,
            "INVALID_INPUT",
        )
        assert "more than 0 decimals for JPY" in error["message"]
        response = create(sqlite_api, body + '"amount": "1.005", "currency": "kwd"}')
        assert response.status_code == 201, response.text
        assert (response.json()["amountMinor"], response.json()["currency"]) == (1005, "KWD")

    @pytest.mark.parametrize(
        ("body", "column"),
        [
            ({"amount": "1", "phone": "0712345678"}, "merchantId"),
            ({"merchantId": MERCHANT, "phone": "0712345678"}, "amount"),
            ({"merchantId": MERCHANT, "amount": "1"}, "phone"),
            ({"merchantId": MERCHANT, "amount": "1", "phone": "12345"}, "phone"),
            ({"merchantId": MERCHANT, "amount": "1", "phone": "0712345678", "tip": 5}, "tip"),
            (
                {"merchantId": MERCHANT, "amount": "1", "phone": "0712345678", "currency": "XYZ"},
                None,
            ),
            (
                {
                    "merchantId": MERCHANT,
                    "amount": "1",
                    "phone": "0712345678",
                    "sessionId": "x" * 65,
                },
                "sessionId",
            ),
        ],
        ids=[
            "no-merchant",
            "no-amount",
            "no-phone",
            "bad-phone",
            "unknown-field",
            "currency",
            "long-id",
        ],
    )
    def test_a_bad_field_is_422_naming_it(
        self, sqlite_api: RealtimeApi, body: dict[str, Any], column: str | None
    ) -> None:
        response = sqlite_api.client.post(
            "/api/sessions", json=body, headers=sqlite_api.headers("sp-ops")
        )
        assert response.status_code == 422, response.text
        if column is not None:
            assert response.json()["error"]["metadata"] == {"column": column}
        assert sqlite_api.rows(SESSIONS) == []

    @pytest.mark.parametrize("raw", ["not json", "[]", '"x"', "[" * 100_000])
    def test_a_body_that_is_not_a_json_object_is_422(
        self, sqlite_api: RealtimeApi, raw: str
    ) -> None:
        error_of(create(sqlite_api, raw), 422, "INVALID_INPUT")

    def test_a_session_id_already_taken_is_409(self, api: RealtimeApi) -> None:
        api.new_session(sessionId="ps_order_1001")
        response = api.client.post(
            "/api/sessions",
            json={
                "sessionId": "ps_order_1001",
                "merchantId": MERCHANT,
                "amount": 1,
                "phone": "0712345678",
            },
            headers=api.headers("sp-ops"),
        )
        error_of(response, 409, "CONFLICT")
        assert api.row("ps_order_1001")["amount_minor"] == 250_000

    def test_the_phone_is_stored_normalised_and_shown_masked(self, api: RealtimeApi) -> None:
        response = api.client.post(
            "/api/sessions",
            json={"merchantId": MERCHANT, "amount": "2500", "phone": "+254 712 345 678"},
            headers=api.headers("sp-ops"),
        )
        assert response.status_code == 201
        assert response.json()["phone"] == "2547****678"
        assert_masked(response.text)
        assert api.row(response.json()["sessionId"])["phone"] == "254712345678"

    def test_401_without_a_token(self, sqlite_api: RealtimeApi) -> None:
        response = sqlite_api.client.post(
            "/api/sessions", json={"merchantId": MERCHANT, "amount": 1, "phone": "0712345678"}
        )
        error_of(response, 401, "UNAUTHENTICATED")

    @pytest.mark.parametrize("role", ["sp-finance", "sp-compliance"])
    def test_403_for_roles_that_do_not_run_reconciliation(
        self, sqlite_api: RealtimeApi, role: str
    ) -> None:
        response = sqlite_api.client.post(
            "/api/sessions",
            json={"merchantId": MERCHANT, "amount": 1, "phone": "0712345678"},
            headers=sqlite_api.headers(role),
        )
        error_of(response, 403, "FORBIDDEN")


class TestMerchantAdmin:
    def test_creates_and_reads_its_own_merchants_sessions(self, api: RealtimeApi) -> None:
        created = api.new_session(role="merchant-admin", sessionId="ps_chai_1")
        assert created["merchantId"] == MERCHANT
        response = api.client.get("/api/sessions/ps_chai_1", headers=api.headers("merchant-admin"))
        assert response.status_code == 200
        assert response.json()["sessionId"] == "ps_chai_1"

    def test_cannot_create_for_another_merchant(self, api: RealtimeApi) -> None:
        response = api.client.post(
            "/api/sessions",
            json={"merchantId": OTHER_MERCHANT, "amount": 1, "phone": "0712345678"},
            headers=api.headers("merchant-admin"),
        )
        error_of(response, 404, "NOT_FOUND")
        assert api.rows(SESSIONS) == []

    def test_another_merchants_session_is_404_like_one_that_does_not_exist(
        self, api: RealtimeApi
    ) -> None:
        api.new_session(sessionId="ps_dosa_1", merchantId=OTHER_MERCHANT)
        theirs = api.client.get("/api/sessions/ps_dosa_1", headers=api.headers("merchant-admin"))
        nobody = api.client.get("/api/sessions/ps_nobody", headers=api.headers("merchant-admin"))
        first = error_of(theirs, 404, "NOT_FOUND")["message"]
        second = error_of(nobody, 404, "NOT_FOUND")["message"]
        assert first.replace("ps_dosa_1", "ps_nobody") == second


class TestSessionView:
    def test_shows_the_evidence_with_phones_masked(self, api: RealtimeApi) -> None:
        paid_order(api)
        api.callback(stk_callback("ws_CO_ps_order_1001"))  # a repeat, flagged as one at once
        response = api.client.get("/api/sessions/ps_order_1001", headers=api.headers("sp-finance"))
        assert response.status_code == 200, response.text
        view = response.json()
        assert (view["status"], view["reconciliationStatus"]) == ("paid", "discrepancy")
        assert view["amount"] == "2500.00"
        assert [(e["kind"], e["repeat"], e["phone"]) for e in view["events"]] == [
            ("stk_callback", False, "2547****678"),
            ("stk_callback", True, "2547****678"),
        ]
        assert_masked(response.text)

    def test_an_unknown_session_is_404(self, sqlite_api: RealtimeApi) -> None:
        response = sqlite_api.client.get(
            "/api/sessions/ps_nobody", headers=sqlite_api.headers("admin")
        )
        error_of(response, 404, "NOT_FOUND")
