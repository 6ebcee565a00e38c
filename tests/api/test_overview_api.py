"""The Overview API: who may read it, and its figures on a worked example.

Chai Point (M0001234) took five payments on 1-3 April 2026, four in INR paise and one in US
cents, from the gateway's API feed (PG_API) and the bank's SFTP drop (BANK_SFTP):

    T1  UPI         ₹500.00    PG_API     credited       matched     1 Apr
    T2  CARD        ₹1,200.00  PG_API     sent_to_bank   matched     1 Apr
    T3  NETBANKING  ₹2,500.00  BANK_SFTP  in_settlement  unmatched   2 Apr
    T4  WALLET      ₹400.00    BANK_SFTP  captured       pending     2 Apr
    T5  CARD        $19.99     PG_API     credited       exception   3 Apr

Its April job left five exceptions: two UNMATCHED_PG (₹500.00 open, ₹250.00 in review), one
AMOUNT_MISMATCH (₹100.00 open), one UTR_MISSING already resolved, and one in May.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import Api
from hisaab.overview.cache import TTLCache
from hisaab.overview.refresh import refresh_kpis
from hisaab.storage.kpi_models import BankConnector, Transaction
from hisaab.storage.models import ReconciliationException, ReconciliationJob, User

MERCHANT = "M0001234"
APRIL_1, APRIL_3 = dt.date(2026, 4, 1), dt.date(2026, 4, 3)
RANGE = {"from": "2026-04-01", "to": "2026-04-03"}
ENDPOINTS = (
    "/api/overview",
    "/api/pipeline",
    "/api/sources",
    "/api/connectors/health",
    "/api/top-reasons",
)
# Connector health is the current state: it takes no dates.
DATED_ENDPOINTS = tuple(p for p in ENDPOINTS if p != "/api/connectors/health")
PAYMENTS = (
    ("T1", "UPI", 50_000, "INR", "PG_API", "credited", "matched", 1),
    ("T2", "CARD", 120_000, "INR", "PG_API", "sent_to_bank", "matched", 1),
    ("T3", "NETBANKING", 250_000, "INR", "BANK_SFTP", "in_settlement", "unmatched", 2),
    ("T4", "WALLET", 40_000, "INR", "BANK_SFTP", "captured", "pending", 2),
    ("T5", "CARD", 1_999, "USD", "PG_API", "credited", "exception", 3),
)


def _payment(
    txn_id: str, method: str, amount: int, currency: str, source: str, status: str, recon: str,
    day: int,
) -> Transaction:  # fmt: skip
    return Transaction(
        id=txn_id,
        merchant_id=MERCHANT,
        amount_minor=amount,
        currency=currency,
        method=method,
        data_source=source,
        status=status,
        reconciliation_status=recon,
        utr=f"UTR{txn_id}",
        business_date=dt.date(2026, 4, day),
        created_at=dt.datetime(2026, 4, day, 10, 30, tzinfo=dt.UTC),
    )


def _exception(
    job_id: int, category: str, amount: int, status: str, value_date: dt.date
) -> ReconciliationException:
    return ReconciliationException(
        job_id=job_id,
        category=category,
        side="pg",
        record_id=f"{category}-{amount}",
        source_line=2,
        amount_minor=amount,
        currency="INR",
        value_date=value_date,
        details=json.dumps({"reason": category}),
        status=status,
    )


@pytest.fixture
def chai(api: Api) -> Api:
    with api.app.state.sessions.begin() as session:
        session.add_all(_payment(*p) for p in PAYMENTS)
        ops = session.scalars(select(User).where(User.role == "sp-ops")).one()
        job = ReconciliationJob(name="April", merchant_id=MERCHANT, created_by=ops.id)
        session.add(job)
        session.flush()
        session.add_all(
            [
                _exception(job.id, "UNMATCHED_PG", 50_000, "open", APRIL_1),
                _exception(job.id, "UNMATCHED_PG", 25_000, "in_review", dt.date(2026, 4, 2)),
                _exception(job.id, "AMOUNT_MISMATCH", 10_000, "open", dt.date(2026, 4, 2)),
                _exception(job.id, "UTR_MISSING", 700, "resolved", APRIL_1),
                _exception(job.id, "UNMATCHED_BANK", 9_900, "open", dt.date(2026, 5, 1)),
            ]
        )
        session.flush()
        # Payments and exceptions are read from their daily aggregates: whoever writes them
        # refreshes the dates written, in the same transaction.
        refresh_kpis(session, APRIL_1, dt.date(2026, 5, 1))
    return api


def _get(api: Api, path: str, role: str = "sp-finance", **params: str) -> Any:
    response = api.client.get(path, params=params, headers=api.headers(role))
    assert response.status_code == 200, response.text
    return response.json()


class TestAccess:
    def test_without_a_token_every_endpoint_is_401(self, api: Api) -> None:
        for path in ENDPOINTS:
            response = api.client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "UNAUTHENTICATED"

    def test_a_merchant_admin_gets_403_on_every_endpoint(self, api: Api) -> None:
        headers = api.headers("merchant-admin")
        for path in ENDPOINTS:
            response = api.client.get(path, headers=headers)
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "FORBIDDEN"

    def test_platform_roles_may_read(self, api: Api) -> None:
        for role in ("sp-ops", "sp-finance", "sp-compliance", "admin"):
            assert _get(api, "/api/overview", role)["captured"] == []


class TestOverview:
    def test_captured_credited_and_matched_per_currency(self, chai: Api) -> None:
        body = _get(chai, "/api/overview", **RANGE)
        assert body["captured"] == [
            {"currency": "INR", "transactions": 4, "amount_minor": 460_000},
            {"currency": "USD", "transactions": 1, "amount_minor": 1_999},
        ]
        assert body["credited"] == [
            {"currency": "INR", "transactions": 1, "amount_minor": 50_000},
            {"currency": "USD", "transactions": 1, "amount_minor": 1_999},
        ]
        assert body["matched"] == [{"currency": "INR", "transactions": 2, "amount_minor": 170_000}]

    def test_match_rates_by_count_and_amount(self, chai: Api) -> None:
        body = _get(chai, "/api/overview", **RANGE)
        assert body["match_rate_by_count"] == 0.4
        # ₹1,700.00 of ₹4,600.00; nothing of the $19.99.
        assert body["match_rate_by_amount"] == [
            {"currency": "INR", "rate": 0.3696},
            {"currency": "USD", "rate": 0.0},
        ]

    def test_exceptions_open_and_resolved_in_range(self, chai: Api) -> None:
        body = _get(chai, "/api/overview", **RANGE)
        assert body["exceptions"] == {"open": 3, "resolved": 1}
        assert (body["from_date"], body["to_date"]) == ("2026-04-01", "2026-04-03")

    def test_the_date_filter_keeps_only_its_days(self, chai: Api) -> None:
        body = _get(chai, "/api/overview", **{"from": "2026-04-02", "to": "2026-04-02"})
        assert body["captured"] == [{"currency": "INR", "transactions": 2, "amount_minor": 290_000}]
        assert body["credited"] == []
        assert body["match_rate_by_count"] == 0.0
        assert body["exceptions"] == {"open": 2, "resolved": 0}

    def test_an_empty_range_has_no_rates(self, chai: Api) -> None:
        body = _get(chai, "/api/overview", **{"from": "2025-01-01", "to": "2025-01-31"})
        assert body["captured"] == []
        assert body["match_rate_by_count"] is None


class TestPipeline:
    def test_the_funnel_counts_each_stage_and_what_reached_it(self, chai: Api) -> None:
        stages = _get(chai, "/api/pipeline", **RANGE)["stages"]
        assert [(s["status"], s["transactions"], s["reached"]) for s in stages] == [
            ("captured", 1, 5),
            ("in_settlement", 1, 4),
            ("sent_to_bank", 1, 3),
            ("credited", 2, 2),
        ]
        assert stages[3]["amounts"] == [
            {"currency": "INR", "transactions": 1, "amount_minor": 50_000},
            {"currency": "USD", "transactions": 1, "amount_minor": 1_999},
        ]


class TestSources:
    def test_reconciliation_by_source(self, chai: Api) -> None:
        rows = {s["data_source"]: s for s in _get(chai, "/api/sources", **RANGE)["sources"]}
        assert sorted(rows) == ["BANK_SFTP", "PG_API"]
        bank, pg = rows["BANK_SFTP"], rows["PG_API"]
        assert (bank["total"], bank["matched"], bank["unmatched"], bank["pending"]) == (2, 0, 1, 1)
        assert bank["match_rate"] == 0.0
        assert (pg["total"], pg["matched"], pg["exception"], pg["match_rate"]) == (3, 2, 1, 0.6667)
        assert pg["matched_amounts"] == [
            {"currency": "INR", "transactions": 2, "amount_minor": 170_000}
        ]


class TestConnectorsHealth:
    def test_each_connector_is_judged_by_its_last_success_and_error(self, api: Api) -> None:
        now = dt.datetime.now(dt.UTC)
        ago = lambda minutes: now - dt.timedelta(minutes=minutes)  # noqa: E731
        with api.app.state.sessions.begin() as session:
            session.add_all(
                [
                    BankConnector(name="hdfc-sftp", kind="sftp", last_success_at=ago(5)),
                    BankConnector(name="icici-api", kind="api", last_success_at=ago(180)),
                    BankConnector(
                        name="axis-sftp",
                        kind="sftp",
                        last_success_at=ago(60),
                        last_error_at=ago(10),
                        last_error="connection refused",
                    ),
                    BankConnector(name="sbi-upload", kind="upload"),
                    BankConnector(name="old-feed", kind="sftp", status="disabled"),
                ]
            )
        body = _get(api, "/api/connectors/health")
        health = {c["name"]: c["health"] for c in body["connectors"]}
        assert health == {
            "axis-sftp": "failing",
            "hdfc-sftp": "healthy",
            "icici-api": "stale",
            "old-feed": "disabled",
            "sbi-upload": "never_succeeded",
        }
        assert (body["healthy"], body["unhealthy"], body["stale_after_seconds"]) == (1, 3, 7200)
        assert body["connectors"][0]["last_error"] == "connection refused"


class TestTopReasons:
    def test_open_exceptions_by_category_most_frequent_first(self, chai: Api) -> None:
        body = _get(chai, "/api/top-reasons", **RANGE)
        assert body["reasons"] == [
            {
                "category": "UNMATCHED_PG",
                "count": 2,
                "amounts": [{"currency": "INR", "transactions": 2, "amount_minor": 75_000}],
            },
            {
                "category": "AMOUNT_MISMATCH",
                "count": 1,
                "amounts": [{"currency": "INR", "transactions": 1, "amount_minor": 10_000}],
            },
        ]

    def test_limit_keeps_the_first(self, chai: Api) -> None:
        body = _get(chai, "/api/top-reasons", limit="1", **RANGE)
        assert [r["category"] for r in body["reasons"]] == ["UNMATCHED_PG"]


class TestBadRanges:
    def test_from_after_to_is_422_on_every_dated_endpoint(self, api: Api) -> None:
        headers = api.headers("sp-ops")
        for path in DATED_ENDPOINTS:
            response = api.client.get(
                path, params={"from": "2026-04-03", "to": "2026-04-01"}, headers=headers
            )
            assert response.status_code == 422, path
            assert response.json()["error"]["code"] == "INVALID_INPUT"

    def test_more_than_366_days_is_422(self, api: Api) -> None:
        response = api.client.get(
            "/api/overview",
            params={"from": "2025-01-01", "to": "2026-01-02"},
            headers=api.headers("sp-ops"),
        )
        assert response.status_code == 422
        assert "367 days" in response.json()["error"]["message"]

    def test_366_days_is_allowed(self, api: Api) -> None:
        body = _get(api, "/api/overview", **{"from": "2025-01-01", "to": "2026-01-01"})
        assert body["captured"] == []

    def test_a_date_that_is_not_a_date_is_422(self, api: Api) -> None:
        response = api.client.get(
            "/api/pipeline", params={"from": "April"}, headers=api.headers("sp-ops")
        )
        assert response.status_code == 422


class TestCache:
    def test_the_cached_answer_is_served_until_it_expires(self, chai: Api) -> None:
        clock = [0.0]
        chai.app.state.overview_cache = TTLCache(30, clock=lambda: clock[0])
        assert _get(chai, "/api/overview", **RANGE)["captured"][0]["transactions"] == 4
        session: Session
        with chai.app.state.sessions.begin() as session:
            session.add(_payment("T6", "UPI", 10_000, "INR", "PG_API", "captured", "pending", 1))
            refresh_kpis(session, APRIL_1, APRIL_3)
        clock[0] = 29.0
        assert _get(chai, "/api/overview", **RANGE)["captured"][0]["transactions"] == 4
        clock[0] = 31.0
        assert _get(chai, "/api/overview", **RANGE)["captured"][0]["transactions"] == 5

    def test_each_range_is_cached_apart(self, chai: Api) -> None:
        chai.app.state.overview_cache = TTLCache(30, clock=lambda: 0.0)
        whole = _get(chai, "/api/overview", **RANGE)
        one_day = _get(chai, "/api/overview", **{"from": "2026-04-03", "to": "2026-04-03"})
        assert whole["captured"] != one_day["captured"]
        assert len(chai.app.state.overview_cache) == 2
