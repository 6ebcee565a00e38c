"""The Daraja sandbox end to end: a real client pushes, a real merchant server receives.

Every test runs the sandbox and the merchant's receiver as real uvicorn servers on local
ports; the sandbox posts callbacks over HTTP exactly as Safaricom would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mpesa_servers import Receiver, serve
from mpesa_support import DELAY_MS, KEY, PASSKEY, SECRET, SHORTCODE, Daraja, sandbox_config

from hisaab.mpesa.client import DarajaClient
from hisaab.mpesa.codes import Outcome
from hisaab.mpesa.errors import DarajaError
from hisaab.mpesa.payloads import (
    MsisdnKind,
    QueryStatus,
    parse_c2b,
    parse_stk_callback,
    parse_transaction_status_result,
)
from hisaab.mpesa.protocol import STK_PUSH_PATH, STK_QUERY_PATH, stk_password
from hisaab.mpesa.sandbox import create_sandbox
from hisaab.mpesa.sandbox_scenarios import DIGIT_RULE

PAYER = "254708374149"
FEE = 250_000  # KES 2,500.00: one therapy session
RECEIPT = re.compile(r"[A-Z0-9]{10}")


def pay(client: DarajaClient, receiver_url: str, phone: str = PAYER, path: str = "/cb") -> str:
    answer = client.stk_push(FEE, phone, "SESSION-0042", "Therapy", receiver_url + path)
    assert answer.accepted and answer.response_code == "0"
    return answer.checkout_request_id


def wait_final(client: DarajaClient, checkout: str) -> Any:
    deadline = time.monotonic() + 10
    while True:
        answer = client.stk_query(checkout)
        if answer.status is QueryStatus.FINAL or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


SCENARIOS = [
    # scenario, ResultCode, outcome, ResultDesc after the prefix is stripped, raw prefix
    ("success", "0", Outcome.PAID, "The service request is processed successfully.", ""),
    ("cancelled", "1032", Outcome.CANCELLED, "Request cancelled by user", "[STK_CB - ]"),
    ("timeout", "1037", Outcome.UNKNOWN, "DS timeout user cannot be reached", "[STK_CB - ]"),
    ("wrong_pin", "2001", Outcome.FAILED, "The initiator information is invalid.", "[MpesaCB - ]"),
    (
        "insufficient_funds",
        "1",
        Outcome.FAILED,
        "The balance is insufficient for the transaction.",
        "[MpesaCB - ]",
    ),
]


class TestScenarios:
    @pytest.mark.parametrize(("scenario", "code", "outcome", "desc", "prefix"), SCENARIOS)
    def test_one_push_one_callback(
        self,
        daraja: Daraja,
        client: DarajaClient,
        receiver: Receiver,
        receiver_url: str,
        scenario: str,
        code: str,
        outcome: Outcome,
        desc: str,
        prefix: str,
    ) -> None:
        daraja.scenario(scenario, phone=PAYER)
        checkout = pay(client, receiver_url)
        (received,) = receiver.wait_for("/cb")
        raw = received.body["Body"]["stkCallback"]
        assert isinstance(raw["ResultCode"], int)  # a JSON number in callbacks
        assert raw["ResultDesc"] == prefix + desc
        callback = parse_stk_callback(received.body)
        assert callback.checkout_request_id == checkout
        assert (callback.result.code, callback.result.outcome, callback.result_desc) == (
            code,
            outcome,
            desc,
        )
        if outcome is Outcome.PAID:
            assert callback.amount_minor == FEE and callback.phone == PAYER
            assert callback.receipt is not None and RECEIPT.fullmatch(callback.receipt)
            assert {"Name": "Balance"} in raw["CallbackMetadata"]["Item"]  # Balance, no Value
        else:
            assert "CallbackMetadata" not in raw and callback.amount_minor is None
        query = client.stk_query(checkout)
        assert query.status is QueryStatus.FINAL and query.result is not None
        assert (query.result.code, query.result_desc) == (code, desc)
        time.sleep(DELAY_MS / 1000)
        assert len(receiver.at("/cb")) == 1  # and only one

    def test_wrong_amount_pays_a_shilling_less(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        daraja.scenario("wrong_amount", phone=PAYER)
        pay(client, receiver_url)
        callback = parse_stk_callback(receiver.wait_for("/cb")[0].body)
        assert callback.is_paid and callback.amount_minor == FEE - 100

    def test_duplicate_posts_the_same_callback_twice(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        daraja.scenario("duplicate", phone=PAYER)
        checkout = pay(client, receiver_url)
        first, second = receiver.wait_for("/cb", count=2)
        assert first.body == second.body
        assert parse_stk_callback(first.body).is_paid
        posted = daraja.wait_posted(2, reference=checkout)
        assert [p["kind"] for p in posted] == ["stk_callback"] * 2

    def test_no_callback_posts_nothing_but_the_query_knows(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        daraja.scenario("no_callback", phone=PAYER)
        checkout = pay(client, receiver_url)
        answer = wait_final(client, checkout)
        time.sleep(3 * DELAY_MS / 1000)  # well past the moment the callback would have come
        assert receiver.at("/cb") == []
        assert daraja.posted() == []
        assert answer.result is not None and answer.result.is_paid

    def test_the_payer_phones_last_digit_decides_by_default(
        self, client: DarajaClient, receiver_url: str
    ) -> None:
        checkouts = {
            digit: pay(client, receiver_url, phone=f"07083741{digit}{digit}")
            for digit in DIGIT_RULE
        }
        expected = {"success": "0", "cancelled": "1032", "timeout": "1037", "wrong_pin": "2001"}
        expected |= {"insufficient_funds": "1", "wrong_amount": "0", "duplicate": "0"}
        expected |= {"no_callback": "0"}
        for digit, checkout in checkouts.items():
            answer = wait_final(client, checkout)
            assert answer.result is not None
            assert answer.result.code == expected[DIGIT_RULE[digit]], digit

    def test_a_default_scenario_applies_to_every_other_payer(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        daraja.scenario("timeout")
        daraja.scenario("success", phone="0711000000")
        pay(client, receiver_url, phone="0722000009", path="/other")
        pay(client, receiver_url, phone="0711000000", path="/chosen")
        other = parse_stk_callback(receiver.wait_for("/other")[0].body)
        chosen = parse_stk_callback(receiver.wait_for("/chosen")[0].body)
        assert (other.result.code, chosen.result.code) == ("1037", "0")

    def test_scenario_choices_can_be_listed_and_cleared(self, daraja: Daraja) -> None:
        daraja.scenario("cancelled", phone="+254708374149")
        listed = daraja.control.get("/sandbox/scenarios").json()
        assert listed["by_phone"] == {PAYER: "cancelled"}
        assert listed["digit_rule"]["1"] == "cancelled"
        assert daraja.control.delete("/sandbox/scenarios").json()["by_phone"] == {}

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            ({"scenario": "lost"}, "unknown scenario 'lost'"),
            ({"phone": "12", "scenario": "success"}, "not a Kenyan mobile number"),
            ({"phone": PAYER}, "expected"),
        ],
    )
    def test_a_bad_scenario_request_is_refused_clearly(
        self, daraja: Daraja, body: dict[str, Any], problem: str
    ) -> None:
        response = daraja.control.post("/sandbox/scenarios", json=body)
        assert response.status_code == 422 and problem in response.json()["error"]


class TestCallbacksLookReal:
    def test_the_query_says_processing_until_the_callback_then_the_result(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        checkout = pay(client, receiver_url)
        before = client.stk_query(checkout)
        assert before.status is QueryStatus.PROCESSING
        assert before.error is not None and before.error.error_code == "500.001.1001"
        receiver.wait_for("/cb")
        after = client.stk_query(checkout)
        assert after.status is QueryStatus.FINAL and after.result is not None
        assert after.result.is_paid

    def test_item_order_varies_between_callbacks(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        for _ in range(6):
            pay(client, receiver_url)
        received = receiver.wait_for("/cb", count=6)
        orders = {
            tuple(i["Name"] for i in r.body["Body"]["stkCallback"]["CallbackMetadata"]["Item"])
            for r in received
        }
        assert len(orders) > 1
        receipts = {parse_stk_callback(r.body).receipt for r in received}
        assert len(receipts) == 6  # a new receipt per payment

    def test_the_callback_url_keeps_its_query_string(
        self, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        pay(client, receiver_url, path="/cb?secret=s3cret&session=42")
        assert receiver.wait_for("/cb")[0].query == "secret=s3cret&session=42"

    def test_an_unreachable_callback_url_is_logged_and_the_query_still_answers(
        self, daraja: Daraja, client: DarajaClient
    ) -> None:
        checkout = pay(client, "http://127.0.0.1:9")  # the discard port: nobody listens
        answer = wait_final(client, checkout)
        assert answer.result is not None and answer.result.is_paid
        (entry,) = daraja.wait_posted(1, reference=checkout)
        assert entry["status_code"] is None and "ConnectError" in entry["error"], entry

    def test_the_same_seed_gives_the_same_receipts(
        self, make_daraja: Callable[..., Daraja], receiver: Receiver, receiver_url: str
    ) -> None:
        receipts = []
        for path in ("/first", "/second"):
            daraja = make_daraja(seed=42)
            with daraja.client() as client:
                pay(client, receiver_url, path=path)
                pay(client, receiver_url, path=path)
            got = receiver.wait_for(path, count=2)
            receipts.append(sorted(parse_stk_callback(r.body).receipt or "" for r in got))
        assert receipts[0] == receipts[1]


class TestTransactionStatus:
    def test_the_result_of_a_paid_push_is_posted(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        pay(client, receiver_url)
        receipt = parse_stk_callback(receiver.wait_for("/cb")[0].body).receipt
        assert receipt is not None
        accepted = client.transaction_status(
            receipt, receiver_url + "/result", receiver_url + "/timeout", occasion="SESSION-0042"
        )
        assert accepted.accepted and (accepted.conversation_id or "").startswith("AG_")
        result = parse_transaction_status_result(receiver.wait_for("/result")[0].body)
        assert result.is_completed
        assert (result.receipt, result.amount_minor, result.debit_party_phone) == (
            receipt,
            FEE,
            PAYER,
        )
        assert result.conversation_id == accepted.conversation_id
        assert result.occasion == "SESSION-0042"
        assert result.reason_type == "Pay Bill Online"
        assert daraja.wait_posted(1, kind="transaction_status_result")[0]["status_code"] == 200

    def test_an_unknown_receipt_is_not_completed(
        self, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        client.transaction_status("QQQ0000000", receiver_url + "/result", receiver_url + "/t")
        result = parse_transaction_status_result(receiver.wait_for("/result")[0].body)
        assert result.result_code == "R000001" and not result.is_completed

    def test_a_wrong_initiator_is_refused_in_the_result(
        self, make_daraja: Callable[..., Daraja], receiver: Receiver, receiver_url: str
    ) -> None:
        daraja = make_daraja(initiator="hisaab-api", security_credential="the-real-one")
        with daraja.client(initiator="hisaab-api", security_credential="stale") as client:
            client.transaction_status("QQQ0000000", receiver_url + "/result", receiver_url + "/t")
        result = parse_transaction_status_result(receiver.wait_for("/result")[0].body)
        assert result.result_code == "2001" and not result.query_succeeded


class TestC2B:
    def test_a_simulated_payment_is_confirmed_with_a_hashed_msisdn_on_v1(
        self, daraja: Daraja, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        client.register_c2b_urls(receiver_url + "/confirm", receiver_url + "/validate")
        assert client.simulate_c2b(120_000, "0708374149", "SESSION-0042").accepted
        payment = parse_c2b(receiver.wait_for("/confirm")[0].body)
        assert (payment.amount_minor, payment.bill_ref, payment.shortcode) == (
            120_000,
            "SESSION-0042",
            SHORTCODE,
        )
        assert payment.msisdn_kind is MsisdnKind.HASHED
        assert receiver.at("/validate") == []  # no external validation unless enabled
        assert [p["kind"] for p in daraja.wait_posted(1)] == ["c2b_confirmation"]

    def test_v2_masks_the_msisdn(
        self, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        client.register_c2b_urls(receiver_url + "/confirm", version="v2")
        client.simulate_c2b(100, PAYER, "ACC-1", version="v2")
        payment = parse_c2b(receiver.wait_for("/confirm")[0].body)
        assert (payment.msisdn, payment.msisdn_kind) == ("25470****149", MsisdnKind.MASKED)

    def test_simulating_before_registering_is_refused(self, client: DarajaClient) -> None:
        with pytest.raises(DarajaError) as caught:
            client.simulate_c2b(100, PAYER, "ACC-1")
        assert caught.value.error_message == "Bad Request - Invalid ShortCode"

    @pytest.mark.parametrize(("answer", "confirmed"), [("0", True), ("C2B00012", False)])
    def test_external_validation_decides(
        self,
        make_daraja: Callable[..., Daraja],
        receiver: Receiver,
        receiver_url: str,
        answer: str,
        confirmed: bool,
    ) -> None:
        daraja = make_daraja(c2b_external_validation=True)
        receiver.answers["/validate"] = {"ResultCode": answer, "ResultDesc": "decided"}
        with daraja.client() as client:
            client.register_c2b_urls(receiver_url + "/confirm", receiver_url + "/validate")
            client.simulate_c2b(100, PAYER, "ACC-404")
        receiver.wait_for("/validate")
        time.sleep(3 * DELAY_MS / 1000)
        assert len(receiver.at("/confirm")) == (1 if confirmed else 0)

    def test_the_org_balance_grows_with_each_confirmed_payment(
        self, client: DarajaClient, receiver: Receiver, receiver_url: str
    ) -> None:
        client.register_c2b_urls(receiver_url + "/confirm")
        for count in range(1, 7):
            client.simulate_c2b(100_000, PAYER, f"ACC-{count}")
            receiver.wait_for("/confirm", count=count)
        payments = [parse_c2b(r.body) for r in receiver.at("/confirm")]
        shown = [(i, p.org_balance_minor) for i, p in enumerate(payments, 1) if p.org_balance_minor]
        assert shown  # some confirmations carry the balance, others send ""
        assert all(balance == i * 100_000 for i, balance in shown)

    @pytest.mark.parametrize(("response_type", "confirmed"), [("Completed", 1), ("Cancelled", 0)])
    def test_unreachable_validation_follows_the_response_type(
        self,
        make_daraja: Callable[..., Daraja],
        receiver: Receiver,
        receiver_url: str,
        response_type: str,
        confirmed: int,
    ) -> None:
        daraja = make_daraja(c2b_external_validation=True)
        with daraja.client() as client:
            client.register_c2b_urls(
                receiver_url + "/confirm",
                "http://127.0.0.1:9/validate",
                response_type=response_type,
            )
            client.simulate_c2b(100, PAYER, "ACC-1")
        daraja.wait_posted(1, kind="c2b_validation")
        time.sleep(3 * DELAY_MS / 1000)
        assert len(receiver.at("/confirm")) == confirmed


class TestDarajaChecks:
    """What the sandbox refuses, in Daraja's own words, for requests not sent by our client."""

    @pytest.fixture
    def token(self, daraja: Daraja) -> str:
        response = daraja.control.get(
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            auth=(KEY, SECRET),
        )
        assert response.json()["expires_in"] == "3599"  # a string, like Daraja's
        return str(response.json()["access_token"])

    def body(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "BusinessShortCode": SHORTCODE,
            "Password": stk_password(SHORTCODE, PASSKEY, "20240116003005"),
            "Timestamp": "20240116003005",
            "TransactionType": "CustomerPayBillOnline",
            "Amount": "10",
            "PartyA": PAYER,
            "PartyB": SHORTCODE,
            "PhoneNumber": PAYER,
            "CallBackURL": "https://merchant.example/cb",
            "AccountReference": "ACC-1",
            "TransactionDesc": "Pay",
        }
        return body | changes

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"Amount": "1.5"}, "Amount"),
            ({"Amount": 0}, "Amount"),
            ({"PhoneNumber": "0708374149"}, "PhoneNumber"),
            ({"PartyB": "600000"}, "PartyB"),
            ({"CallBackURL": "merchant.example/cb"}, "CallBackURL"),
            ({"AccountReference": "A" * 13}, "AccountReference"),
            ({"TransactionDesc": "D" * 14}, "TransactionDesc"),
            ({"TransactionType": "Pay"}, "TransactionType"),
            ({"Timestamp": "2024"}, "Timestamp"),
            ({"BusinessShortCode": "600000"}, "BusinessShortCode"),
        ],
    )
    def test_invalid_fields(
        self, daraja: Daraja, token: str, changes: dict[str, Any], field: str
    ) -> None:
        response = daraja.control.post(
            STK_PUSH_PATH, json=self.body(**changes), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400
        assert response.json()["errorCode"] == "400.002.02"
        assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"

    def test_a_wrong_password(self, daraja: Daraja, token: str) -> None:
        response = daraja.control.post(
            STK_PUSH_PATH,
            json=self.body(Password="d3Jvbmc="),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 500
        assert response.json()["errorMessage"] == "Wrong credentials"

    @pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
    def test_no_valid_token(self, daraja: Daraja, header: str | None) -> None:
        headers = {"Authorization": header} if header else {}
        response = daraja.control.post(STK_QUERY_PATH, json={}, headers=headers)
        assert response.status_code == 401
        assert response.json()["errorCode"] == "404.001.03"

    def test_a_wrong_grant_type(self, daraja: Daraja) -> None:
        response = daraja.control.get(
            "/oauth/v1/generate", params={"grant_type": "password"}, auth=(KEY, SECRET)
        )
        assert response.status_code == 400

    def test_a_body_that_is_not_json(self, daraja: Daraja, token: str) -> None:
        response = daraja.control.post(
            STK_PUSH_PATH, content=b"not json", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400


def test_the_sandbox_mounted_in_process_under_a_prefix(
    receiver: Receiver, receiver_url: str
) -> None:
    host = FastAPI()
    host.mount("/daraja", create_sandbox(sandbox_config()))
    with serve(host) as url:
        with DarajaClient(
            base_url=url + "/daraja",
            consumer_key=KEY,
            consumer_secret=SECRET,
            shortcode=SHORTCODE,
            passkey=PASSKEY,
        ) as client:
            checkout = pay(client, receiver_url)
            callback = parse_stk_callback(receiver.wait_for("/cb")[0].body)
            assert callback.checkout_request_id == checkout and callback.is_paid
        with httpx.Client(base_url=url + "/daraja") as control:
            posted = Daraja(url + "/daraja", control).wait_posted(1)
        assert [p["reference"] for p in posted] == [checkout]
