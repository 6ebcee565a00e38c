"""What M-Pesa posts to Hisaab: STK callbacks, C2B requests and Transaction Status results.

Order ps_order_1001 asks 0712 345 678 for KES 2,500.00 by STK Push; Safaricom calls back on
the URL that carries the deployment's secret. Everything posted is kept (refused payloads
too, as `rejected` events), repeats change nothing, a callback that arrives before its
session knows its CheckoutRequestID waits for it, and only a payload that came with the
secret can make a session paid.

Tests that go through the database's conflict handling, locking or fan-out run on SQLite
and PostgreSQL (`api`); the payload variations of shared/FORMATS.md run on SQLite only
(`sqlite_api`), since they are decided by the parsers before any SQL is written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from realtime_support import (
    CALLBACK_SECRET,
    PHONE,
    RECEIPT,
    RealtimeApi,
    c2b_body,
    error_of,
    stk_callback,
    transaction_status_result,
    wait_for,
)
from sqlalchemy import update

from hisaab.realtime import service
from hisaab.realtime.repository import DISCREPANCIES, EVENTS, RESULTS, SESSIONS
from hisaab.storage.models import QueueJob

CHECKOUT = "ws_CO_141220241030001254712345678"


def pushed_session(api: RealtimeApi, **body: Any) -> str:
    """A KES 2,500.00 session whose STK Push Daraja accepted with CHECKOUT."""
    session_id = str(api.new_session(**body)["sessionId"])
    api.pushed(session_id, CHECKOUT)
    return session_id


def events(api: RealtimeApi, *where: Any) -> list[dict[str, Any]]:
    return api.rows(EVENTS, *where)


def discrepancies(api: RealtimeApi, subject: str) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in api.rows(DISCREPANCIES, DISCREPANCIES.c.subject == subject)}


def new_rows(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Rows added or changed, table by table (tables without change left out)."""
    changed = {}
    for table, rows in after.items():
        fresh = [row for row in rows if row not in before[table]]
        if fresh or len(rows) != len(before[table]):
            changed[table] = fresh
    return changed


# --- the callback secret -------------------------------------------------------------------


class TestCallbackSecret:
    @pytest.mark.parametrize("secret", ["a-guess", None, ""], ids=["wrong", "missing", "empty"])
    def test_a_callback_without_the_secret_is_403_kept_and_used_for_nothing(
        self, api: RealtimeApi, secret: str | None
    ) -> None:
        session_id = pushed_session(api)
        before = api.snapshot()
        raw = json.dumps(stk_callback(CHECKOUT)).encode()

        response = api.callback(raw, secret=secret)

        error = error_of(response, 403, "FORBIDDEN")
        assert "secret" in error["message"]
        changed = new_rows(before, api.snapshot())
        assert list(changed) == ["mpesa_events"], changed  # no session, job or result touched
        [kept] = changed["mpesa_events"]
        assert kept["kind"] == "rejected"
        assert kept["authenticated"] is False
        assert kept["payload"] == raw.decode()  # kept verbatim for audit
        assert (kept["session_id"], kept["checkout_request_id"], kept["receipt"]) == (
            None,
            None,
            None,
        )
        assert kept["note"].startswith("stk_callback: the callback secret is wrong or missing")
        api.work()
        assert api.row(session_id)["status"] == "processing"

    @pytest.mark.parametrize(
        "path",
        [
            "/api/mpesa/c2b/validation",
            "/api/mpesa/c2b/confirmation",
            "/api/mpesa/transaction-status/result",
            "/api/mpesa/transaction-status/timeout",
        ],
    )
    def test_every_safaricom_endpoint_needs_the_secret(
        self, sqlite_api: RealtimeApi, path: str
    ) -> None:
        api = sqlite_api
        api.new_session(accountReference="INV1001")
        before = api.snapshot()
        response = api.callback(c2b_body("INV1001"), path=path, secret="a-guess")
        error_of(response, 403, "FORBIDDEN")
        changed = new_rows(before, api.snapshot())
        assert [r["kind"] for r in changed.pop("mpesa_events")] == ["rejected"]
        assert changed == {}

    def test_a_deployment_without_a_secret_accepts_no_callback(self, make_api: Any) -> None:
        with make_api(mpesa_callback_secret=None) as api:
            session_id = pushed_session(api)
            for secret in (None, "", CALLBACK_SECRET):
                response = api.callback(stk_callback(CHECKOUT), secret=secret)
                error_of(response, 403, "FORBIDDEN")
            api.work()
            assert api.row(session_id)["status"] == "processing"

    def test_a_callback_with_the_secret_pays_the_session(self, api: RealtimeApi) -> None:
        session_id = pushed_session(api)
        response = api.callback(stk_callback(CHECKOUT))
        assert response.status_code == 200, response.text
        assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
        api.work()
        row = api.row(session_id)
        assert (row["status"], row["mpesa_receipt"], row["paid_amount_minor"]) == (
            "paid",
            RECEIPT,
            250_000,
        )
        assert row["reconciliation_status"] == "matched"


# --- payloads that cannot be read ----------------------------------------------------------


class TestUnreadablePayloads:
    @pytest.mark.parametrize(
        "raw",
        [
            b"{not json",
            b"\xff\xfe\x00garbage",
            b"",
            b"[]",
            b'{"hello": "world"}',
            b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": "x"}}}',
            b"[" * 100_000,
        ],
        ids=["broken", "binary", "empty", "array", "not-a-callback", "bad-result-code", "deep"],
    )
    def test_an_unreadable_callback_is_422_and_kept(self, api: RealtimeApi, raw: bytes) -> None:
        session_id = pushed_session(api)
        before = api.snapshot()

        response = api.callback(raw)

        error = error_of(response, 422, response.json()["error"]["code"])
        assert error["code"] in ("INVALID_MPESA_PAYLOAD", "INVALID_INPUT")
        changed = new_rows(before, api.snapshot())
        assert list(changed) == ["mpesa_events"], changed
        [kept] = changed["mpesa_events"]
        assert kept["kind"] == "rejected"
        assert kept["note"].startswith("stk_callback: ")
        assert kept["payload"] == raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        assert api.row(session_id)["status"] == "processing"

    def test_a_success_without_its_receipt_is_refused_not_read_as_paid(
        self, api: RealtimeApi
    ) -> None:
        session_id = pushed_session(api)
        body = stk_callback(CHECKOUT)
        items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
        items[:] = [i for i in items if i["Name"] != "MpesaReceiptNumber"]

        response = api.callback(body)

        error = error_of(response, 422, "INVALID_MPESA_PAYLOAD")
        assert "MpesaReceiptNumber" in error["message"]
        api.work()
        assert api.row(session_id)["status"] == "processing"

    def test_a_nul_character_in_a_field_is_refused_and_kept(self, api: RealtimeApi) -> None:
        # JSON may escape a NUL; PostgreSQL text cannot hold one.
        session_id = pushed_session(api)
        raw = json.dumps(stk_callback("ws_CO_\u0000evil")).encode()
        response = api.callback(raw)
        error_of(response, 422, "INVALID_MPESA_PAYLOAD")
        [kept] = events(api)
        assert (kept["kind"], kept["payload"]) == ("rejected", raw.decode())
        assert api.row(session_id)["status"] == "processing"


# --- repeats ------------------------------------------------------------------------------


class TestRepeatedCallbacks:
    def test_a_repeated_callback_is_kept_as_a_repeat_and_changes_nothing(
        self, api: RealtimeApi
    ) -> None:
        session_id = pushed_session(api)
        assert api.callback(stk_callback(CHECKOUT)).status_code == 200
        api.work()
        settled = api.row(session_id)

        again = api.callback(stk_callback(CHECKOUT))

        assert again.status_code == 200
        assert again.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
        api.work()
        row = api.row(session_id)
        for column in ("status", "mpesa_receipt", "paid_amount_minor", "result_code"):
            assert row[column] == settled[column], column
        first, repeat = events(api, EVENTS.c.kind == "stk_callback")
        assert (first["first_of"], repeat["first_of"]) == (CHECKOUT, None)
        assert first["session_id"] == repeat["session_id"] == session_id
        found = discrepancies(api, session_id)
        assert list(found) == ["duplicate_callback"]
        assert found["duplicate_callback"]["severity"] == "low"
        assert row["reconciliation_status"] == "discrepancy"
        assert api.jobs(kind="realtime.alert") == []  # low severity: dashboard only

    def test_a_contradicting_repeat_does_not_undo_the_payment_and_raises_an_alert(
        self, api: RealtimeApi
    ) -> None:
        session_id = pushed_session(api)
        api.callback(stk_callback(CHECKOUT))
        api.callback(stk_callback(CHECKOUT, 1032, result_desc="Request cancelled by user"))
        api.work()
        row = api.row(session_id)
        assert (row["status"], row["mpesa_receipt"]) == ("paid", RECEIPT)
        found = discrepancies(api, session_id)["duplicate_callback"]
        assert found["severity"] == "high"
        assert json.loads(found["details"]) == {"copies": 2, "result_codes": ["0", "1032"]}
        [alert] = api.jobs(kind="realtime.alert")
        assert json.loads(alert["payload"])["alert"]["kind"] == "duplicate_callback"

    @pytest.mark.usefixtures("through_the_queue")
    def test_copies_queued_together_are_reconciled_in_one_batch_once(
        self, api: RealtimeApi
    ) -> None:
        session_id = pushed_session(api)
        for _ in range(3):
            api.callback(stk_callback(CHECKOUT))
        outcomes = api.work()
        assert sum(outcomes.values()) == 3
        assert len(api.rows(RESULTS, RESULTS.c.session_id == session_id)) == 1
        found = discrepancies(api, session_id)["duplicate_callback"]
        assert json.loads(found["details"])["copies"] == 3


# --- callbacks before their session -------------------------------------------------------


class TestCallbackBeforeItsSession:
    def test_an_early_callback_is_kept_and_settles_the_session_once_it_is_pushed(
        self, api: RealtimeApi
    ) -> None:
        session_id = str(api.new_session()["sessionId"])  # Daraja's answer not recorded yet
        response = api.callback(stk_callback(CHECKOUT))
        assert response.status_code == 200
        api.work()
        [early] = events(api, EVENTS.c.kind == "stk_callback")
        assert (early["session_id"], early["checkout_request_id"]) == (None, CHECKOUT)
        [recheck] = api.jobs(kind=service.RECONCILE_JOB, status="queued")
        assert json.loads(recheck["payload"])["trigger"] == "orphan_recheck"
        assert api.row(session_id)["status"] == "pending"

        api.pushed(session_id, CHECKOUT, reconcile=True)  # Daraja's answer is recorded
        api.work()

        assert api.row(session_id)["status"] == "paid"
        assert events(api, EVENTS.c.kind == "stk_callback")[0]["session_id"] == session_id
        assert discrepancies(api, f"checkout:{CHECKOUT}") == {}
        with api.db() as db:  # the grace period passes: the recheck finds nothing new
            db.execute(update(QueueJob).values(run_after=dt.datetime.now(dt.UTC)))
        api.work()
        assert api.jobs(kind=service.RECONCILE_JOB, status="queued") == []
        [result] = api.rows(RESULTS, RESULTS.c.session_id == session_id)
        assert result["trigger"] == "payment_initiation"

    def test_the_recheck_alone_links_and_settles_a_session_pushed_meanwhile(
        self, api: RealtimeApi
    ) -> None:
        session_id = str(api.new_session()["sessionId"])
        api.callback(stk_callback(CHECKOUT))
        api.work()
        with api.db() as db:  # recorded without linking or queueing anything
            db.execute(
                update(SESSIONS)
                .where(SESSIONS.c.id == session_id)
                .values(status="processing", checkout_request_id=CHECKOUT)
            )
        with api.db() as db:  # the grace period has passed
            db.execute(update(QueueJob).values(run_after=dt.datetime.now(dt.UTC)))
        api.work()
        row = api.row(session_id)
        assert (row["status"], row["reconciliation_status"]) == ("paid", "matched")
        assert events(api, EVENTS.c.kind == "stk_callback")[0]["session_id"] == session_id

    def test_a_callback_nobody_claims_becomes_an_orphan_after_the_grace_period(
        self, api: RealtimeApi, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "ORPHAN_GRACE", dt.timedelta(milliseconds=300))
        api.callback(stk_callback(CHECKOUT))
        api.work()
        assert discrepancies(api, f"checkout:{CHECKOUT}") == {}  # still within the grace

        found = wait_for(
            lambda: api.work() and discrepancies(api, f"checkout:{CHECKOUT}"),
            what="the orphan discrepancy",
        )

        orphan = found["orphan_callback"]
        assert (orphan["severity"], orphan["session_id"]) == ("medium", None)
        assert json.loads(orphan["details"])["checkout_request_id"] == CHECKOUT
        assert api.jobs(kind=service.RECONCILE_JOB, status="queued") == []


# --- C2B ------------------------------------------------------------------------------------


class TestC2B:
    def test_validation_accepts_a_known_account_reference(self, api: RealtimeApi) -> None:
        session_id = str(api.new_session(accountReference="INV1001")["sessionId"])
        response = api.callback(c2b_body("INV1001"), path="/api/mpesa/c2b/validation")
        assert response.status_code == 200
        assert response.json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
        [kept] = events(api)
        assert (kept["kind"], kept["session_id"]) == ("c2b_validation", session_id)
        assert api.row(session_id)["status"] == "pending"  # asking is not paying
        assert api.jobs() == []

    def test_validation_rejects_an_unknown_account_with_c2b00012(self, api: RealtimeApi) -> None:
        api.new_session(accountReference="INV1001")
        response = api.callback(c2b_body("INV9999"), path="/api/mpesa/c2b/validation")
        assert response.status_code == 200
        assert response.json() == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
        [kept] = events(api)
        assert kept["session_id"] is None
        assert "INV9999" in kept["note"]

    def test_an_unreadable_validation_is_rejected_with_c2b00016_and_kept(
        self, sqlite_api: RealtimeApi
    ) -> None:
        response = sqlite_api.callback({"TransID": "x"}, path="/api/mpesa/c2b/validation")
        assert response.json() == {"ResultCode": "C2B00016", "ResultDesc": "Rejected"}
        [kept] = events(sqlite_api)
        assert kept["kind"] == "rejected"

    def test_confirmation_pays_the_session_its_account_names(self, api: RealtimeApi) -> None:
        session_id = str(api.new_session(accountReference="INV1001")["sessionId"])
        response = api.callback(c2b_body("INV1001"), path="/api/mpesa/c2b/confirmation")
        assert response.status_code == 200
        assert response.json() == {"ResultCode": 0, "ResultDesc": "Success"}
        api.work()
        row = api.row(session_id)
        assert (row["status"], row["mpesa_receipt"], row["paid_amount_minor"]) == (
            "paid",
            "RKTQDM7W6S",
            250_000,
        )
        assert row["reconciliation_status"] == "matched"  # the masked MSISDN agrees

    def test_a_repeated_confirmation_pays_once(self, api: RealtimeApi) -> None:
        session_id = str(api.new_session(accountReference="INV1001")["sessionId"])
        for _ in range(2):
            api.callback(c2b_body("INV1001"), path="/api/mpesa/c2b/confirmation")
        api.work()
        first, repeat = events(api, EVENTS.c.kind == "c2b_confirmation")
        assert (first["first_of"], repeat["first_of"]) == ("RKTQDM7W6S", None)
        assert api.row(session_id)["paid_amount_minor"] == 250_000

    def test_a_confirmation_for_an_unknown_account_is_kept_and_flagged_once(
        self, api: RealtimeApi
    ) -> None:
        """KES 2,500.00 arrived for account INV9999, which no session has: someone must apply
        or refund it, so it is a high discrepancy with an email and SMS, once per TransID."""
        for _ in range(2):  # Daraja sends the confirmation again
            response = api.callback(c2b_body("INV9999"), path="/api/mpesa/c2b/confirmation")
            assert response.json() == {"ResultCode": 0, "ResultDesc": "Success"}
        first, repeat = events(api)
        assert (first["kind"], first["session_id"], repeat["first_of"]) == (
            "c2b_confirmation",
            None,
            None,
        )
        assert "INV9999" in first["note"]
        [found] = api.rows(DISCREPANCIES, DISCREPANCIES.c.subject == "c2b:RKTQDM7W6S")
        assert (found["type"], found["severity"], found["occurrences"]) == (
            "orphan_callback",
            "high",
            1,  # the repeat is the same payment
        )
        assert "2,500.00 KES with account 'INV9999'" in found["message"]
        assert json.loads(found["details"]) == {
            "kind": "c2b_confirmation",
            "trans_id": "RKTQDM7W6S",
            "bill_ref_number": "INV9999",
            "amount_minor": 250_000,
            "currency": "KES",
            "phone": None,  # Daraja sent it masked: no full number to keep
            "event_id": first["id"],
        }
        [alert] = api.jobs(kind="realtime.alert")
        sent = json.loads(alert["payload"])["alert"]
        assert (sent["session_id"], sent["severity"], sent["amount_minor"]) == (
            "c2b:RKTQDM7W6S",
            "high",
            250_000,
        )

    def test_a_confirmation_for_a_known_account_raises_no_orphan(self, api: RealtimeApi) -> None:
        api.new_session(accountReference="INV1001")
        api.callback(c2b_body("INV1001"), path="/api/mpesa/c2b/confirmation")
        assert api.rows(DISCREPANCIES, DISCREPANCIES.c.type == "orphan_callback") == []


# --- Transaction Status ------------------------------------------------------------------


class TestTransactionStatus:
    def test_a_completed_result_confirms_the_payment_it_names(self, api: RealtimeApi) -> None:
        session_id = pushed_session(api)
        api.callback(stk_callback(CHECKOUT))
        api.work()

        response = api.callback(
            transaction_status_result(RECEIPT), path="/api/mpesa/transaction-status/result"
        )

        assert response.status_code == 200
        assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
        [kept] = events(api, EVENTS.c.kind == "transaction_status")
        assert (kept["session_id"], kept["receipt"], kept["amount_minor"]) == (
            session_id,
            RECEIPT,
            250_000,
        )
        api.work()
        row = api.row(session_id)
        assert (row["status"], row["reconciliation_status"]) == ("paid", "matched")

    def test_a_result_that_is_not_completed_is_kept_without_its_receipt(
        self, api: RealtimeApi
    ) -> None:
        session_id = pushed_session(api)
        api.callback(stk_callback(CHECKOUT))
        api.work()
        api.callback(
            transaction_status_result(RECEIPT, status="Failed"),
            path="/api/mpesa/transaction-status/result",
        )
        [kept] = events(api, EVENTS.c.kind == "transaction_status")
        assert (kept["session_id"], kept["receipt"], kept["note"]) == (
            session_id,
            None,
            "status 'Failed'",
        )
        api.work()
        assert api.row(session_id)["status"] == "paid"

    def test_a_result_for_an_unknown_receipt_is_kept_for_no_session(self, api: RealtimeApi) -> None:
        api.callback(
            transaction_status_result("ZZZ0000000"), path="/api/mpesa/transaction-status/result"
        )
        [kept] = events(api)
        assert (kept["kind"], kept["session_id"]) == ("transaction_status", None)
        assert api.jobs() == []


# --- the variations of shared/FORMATS.md ---------------------------------------------------


def settle(api: RealtimeApi, body: dict[str, Any]) -> dict[str, Any]:
    response = api.callback(body)
    assert response.status_code == 200, response.text
    api.work()
    return api.row(str(api.rows(SESSIONS)[0]["id"]))


class TestFormatVariations:
    @pytest.mark.parametrize("code", [0, "0", " 0 "], ids=["number", "string", "padded"])
    def test_result_code_zero_as_number_or_string_pays(
        self, sqlite_api: RealtimeApi, code: Any
    ) -> None:
        pushed_session(sqlite_api)
        assert settle(sqlite_api, stk_callback(CHECKOUT, code))["status"] == "paid"

    @pytest.mark.parametrize("code", [1032, "1032"], ids=["number", "string"])
    def test_a_prefixed_cancellation_cancels(self, sqlite_api: RealtimeApi, code: Any) -> None:
        pushed_session(sqlite_api)
        body = stk_callback(CHECKOUT, code, result_desc="[STK_CB - ]Request cancelled by user")
        row = settle(sqlite_api, body)
        assert (row["status"], row["result_code"]) == ("cancelled", "1032")

    def test_a_prefixed_wrong_pin_fails(self, sqlite_api: RealtimeApi) -> None:
        pushed_session(sqlite_api)
        body = stk_callback(
            CHECKOUT, 2001, result_desc="[MpesaCB - ]The initiator information is invalid."
        )
        assert settle(sqlite_api, body)["status"] == "failed"

    @pytest.mark.parametrize(
        "balance",
        [{"Name": "Balance"}, {"Name": "Balance", "Value": ""}, {"Name": "Balance", "Value": 0}],
        ids=["no-value", "empty", "zero"],
    )
    def test_balance_with_or_without_a_value_pays(
        self, sqlite_api: RealtimeApi, balance: dict[str, Any]
    ) -> None:
        pushed_session(sqlite_api)
        assert settle(sqlite_api, stk_callback(CHECKOUT, balance=balance))["status"] == "paid"

    @pytest.mark.parametrize("amount", [2500, 2500.0, "2500", "2500.00"])
    def test_the_amount_as_number_or_string_is_exact(
        self, sqlite_api: RealtimeApi, amount: Any
    ) -> None:
        pushed_session(sqlite_api)
        row = settle(sqlite_api, stk_callback(CHECKOUT, amount=amount))
        assert (row["status"], row["paid_amount_minor"]) == ("paid", 250_000)

    def test_metadata_items_in_any_order(self, sqlite_api: RealtimeApi) -> None:
        pushed_session(sqlite_api)
        body = stk_callback(CHECKOUT)
        body["Body"]["stkCallback"]["CallbackMetadata"]["Item"].reverse()
        assert settle(sqlite_api, body)["status"] == "paid"

    def test_the_phone_as_a_string(self, sqlite_api: RealtimeApi) -> None:
        pushed_session(sqlite_api)
        row = settle(sqlite_api, stk_callback(CHECKOUT, phone=PHONE))
        assert (row["status"], row["reconciliation_status"]) == ("paid", "matched")

    def test_a_masked_msisdn_of_the_payer_agrees(self, sqlite_api: RealtimeApi) -> None:
        sqlite_api.new_session(accountReference="INV1001")
        body = c2b_body("INV1001", msisdn="25471****678")
        sqlite_api.callback(body, path="/api/mpesa/c2b/confirmation")
        sqlite_api.work()
        row = sqlite_api.rows(SESSIONS)[0]
        assert (row["status"], row["reconciliation_status"]) == ("paid", "matched")

    def test_a_masked_msisdn_of_someone_else_is_a_phone_mismatch_shown_masked(
        self, sqlite_api: RealtimeApi
    ) -> None:
        session_id = str(sqlite_api.new_session(accountReference="INV1001")["sessionId"])
        body = c2b_body("INV1001", msisdn="25470****149")
        sqlite_api.callback(body, path="/api/mpesa/c2b/confirmation")
        sqlite_api.work()
        found = discrepancies(sqlite_api, session_id)["phone_mismatch"]
        assert json.loads(found["details"]) == {
            "expected": "2547****678",
            "received": "25470****149",
        }

    def test_a_hashed_msisdn_pays(self, sqlite_api: RealtimeApi) -> None:
        sqlite_api.new_session(accountReference="INV1001")
        hashed = "c1e4f8a5b2d3e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1"
        sqlite_api.callback(c2b_body("INV1001", msisdn=hashed), path="/api/mpesa/c2b/confirmation")
        sqlite_api.work()
        row = sqlite_api.rows(SESSIONS)[0]
        assert (row["status"], row["reconciliation_status"]) == ("paid", "matched")

    def test_a_foreign_msisdn_is_masked_in_the_session_view(self, sqlite_api: RealtimeApi) -> None:
        session_id = str(sqlite_api.new_session(accountReference="INV1001")["sessionId"])
        body = c2b_body("INV1001", msisdn="255712345678")  # a Tanzanian number
        sqlite_api.callback(body, path="/api/mpesa/c2b/confirmation")
        sqlite_api.work()
        view = sqlite_api.client.get(
            f"/api/sessions/{session_id}", headers=sqlite_api.headers("sp-ops")
        )
        assert view.status_code == 200, view.text
        assert "255712345678" not in view.text
        assert [e["phone"] for e in view.json()["events"]] == ["2557****678"]

    def test_a_transaction_status_without_its_status_key_is_not_completed(
        self, sqlite_api: RealtimeApi
    ) -> None:
        session_id = pushed_session(sqlite_api)
        sqlite_api.callback(stk_callback(CHECKOUT))
        body = transaction_status_result(RECEIPT)
        parameters = body["Result"]["ResultParameters"]["ResultParameter"]
        parameters[:] = [p for p in parameters if p["Key"] != "TransactionStatus"]
        response = sqlite_api.callback(body, path="/api/mpesa/transaction-status/result")
        assert response.status_code == 200, response.text
        [kept] = events(sqlite_api, EVENTS.c.kind == "transaction_status")
        assert (kept["session_id"], kept["receipt"], kept["note"]) == (
            session_id,
            None,
            "status None",
        )

    def test_a_transaction_status_amount_as_a_string(self, sqlite_api: RealtimeApi) -> None:
        session_id = pushed_session(sqlite_api)
        sqlite_api.callback(stk_callback(CHECKOUT))
        sqlite_api.callback(
            transaction_status_result(RECEIPT, amount="2500.00", result_code="0"),
            path="/api/mpesa/transaction-status/result",
        )
        [kept] = events(sqlite_api, EVENTS.c.kind == "transaction_status")
        assert (kept["session_id"], kept["amount_minor"]) == (session_id, 250_000)
