"""What the Daraja sandbox makes happen to an STK Push, and the bodies it posts.

Scenarios (chosen per push by `SandboxState.scenario_for`: a per-phone choice set through
`POST /sandbox/scenarios`, else a default set there, else the payer phone's last digit):

    digit  scenario            callback (ResultCode, ResultDesc)                     query
    0, 8, 9 success            0  The service request is processed successfully.     "0"
    1      cancelled           1032 [STK_CB - ]Request cancelled by user              "1032"
    2      timeout             1037 [STK_CB - ]DS timeout user cannot be reached      "1037"
    3      wrong_pin           2001 [MpesaCB - ]The initiator information is invalid. "2001"
    4      insufficient_funds  1  [MpesaCB - ]The balance is insufficient ...         "1"
    5      wrong_amount        0, but the Amount differs from the one pushed          "0"
    6      duplicate           the same success callback posted twice                 "0"
    7      no_callback         nothing is posted (the payer paid)                     "0"

The bodies look like Daraja's: ResultCode a JSON number, metadata items in an order that
varies, `Balance` without a `Value`, Amount sometimes `1.0` and sometimes `1`, 10-character
receipts such as `NLJ7RT61SV`. Everything random comes from a seeded `random.Random`, so a
given sandbox seed produces the same bodies in the same order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hisaab.mpesa.protocol import kenya_timestamp


class Scenario(StrEnum):
    SUCCESS = "success"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    WRONG_PIN = "wrong_pin"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    WRONG_AMOUNT = "wrong_amount"
    DUPLICATE = "duplicate"
    NO_CALLBACK = "no_callback"


DIGIT_RULE: dict[str, Scenario] = {
    "0": Scenario.SUCCESS,
    "1": Scenario.CANCELLED,
    "2": Scenario.TIMEOUT,
    "3": Scenario.WRONG_PIN,
    "4": Scenario.INSUFFICIENT_FUNDS,
    "5": Scenario.WRONG_AMOUNT,
    "6": Scenario.DUPLICATE,
    "7": Scenario.NO_CALLBACK,
    "8": Scenario.SUCCESS,
    "9": Scenario.SUCCESS,
}


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a scenario ends: the code, the callback's and the query's descriptions, posts."""

    result_code: int
    callback_desc: str
    query_desc: str
    paid: bool
    posts: int
    amount_differs: bool = False


_SUCCESS_DESC = "The service request is processed successfully."

BEHAVIOURS: dict[Scenario, Behaviour] = {
    Scenario.SUCCESS: Behaviour(0, _SUCCESS_DESC, _SUCCESS_DESC, True, 1),
    Scenario.CANCELLED: Behaviour(
        1032, "[STK_CB - ]Request cancelled by user", "Request cancelled by user", False, 1
    ),
    Scenario.TIMEOUT: Behaviour(
        1037,
        "[STK_CB - ]DS timeout user cannot be reached",
        "DS timeout user cannot be reached",
        False,
        1,
    ),
    Scenario.WRONG_PIN: Behaviour(
        2001,
        "[MpesaCB - ]The initiator information is invalid.",
        "The initiator information is invalid.",
        False,
        1,
    ),
    Scenario.INSUFFICIENT_FUNDS: Behaviour(
        1,
        "[MpesaCB - ]The balance is insufficient for the transaction.",
        "The balance is insufficient for the transaction.",
        False,
        1,
    ),
    Scenario.WRONG_AMOUNT: Behaviour(0, _SUCCESS_DESC, _SUCCESS_DESC, True, 1, True),
    Scenario.DUPLICATE: Behaviour(0, _SUCCESS_DESC, _SUCCESS_DESC, True, 2),
    Scenario.NO_CALLBACK: Behaviour(0, _SUCCESS_DESC, _SUCCESS_DESC, True, 0),
}

_RECEIPT_TAIL = string.ascii_uppercase + string.digits


def new_receipt(rng: random.Random) -> str:
    """A 10-character M-Pesa receipt like NLJ7RT61SV: 3 letters, a digit, 6 letters/digits."""
    head = "".join(rng.choice(string.ascii_uppercase) for _ in range(3))
    return head + rng.choice(string.digits) + "".join(rng.choice(_RECEIPT_TAIL) for _ in range(6))


def paid_amount(pushed_shillings: int, behaviour: Behaviour) -> int:
    """What the payer actually paid: the pushed amount, or one shilling off for wrong_amount."""
    if not behaviour.amount_differs:
        return pushed_shillings
    return pushed_shillings - 1 if pushed_shillings > 1 else pushed_shillings + 1


def stk_callback_body(
    *,
    merchant_request_id: str,
    checkout_request_id: str,
    behaviour: Behaviour,
    amount_shillings: int,
    receipt: str,
    phone: str,
    paid_at: dt.datetime,
    rng: random.Random,
) -> dict[str, Any]:
    callback: dict[str, Any] = {
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": behaviour.result_code,
        "ResultDesc": behaviour.callback_desc,
    }
    if behaviour.paid:
        amount: int | float = float(amount_shillings) if rng.random() < 0.5 else amount_shillings
        items: list[dict[str, Any]] = [
            {"Name": "Amount", "Value": amount},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": int(kenya_timestamp(paid_at))},
            {"Name": "PhoneNumber", "Value": int(phone)},
        ]
        rng.shuffle(items)
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}


def masked_msisdn(phone: str) -> str:
    """C2B v2 style: 254708374149 -> 25470****149."""
    return f"{phone[:5]}****{phone[-3:]}"


def hashed_msisdn(phone: str) -> str:
    """C2B v1 style: the SHA-256 hex digest of the number."""
    return hashlib.sha256(phone.encode()).hexdigest()


def c2b_body(
    *,
    trans_id: str,
    command_id: str,
    paid_at: dt.datetime,
    amount_shillings: int,
    shortcode: str,
    bill_ref: str,
    msisdn: str,
    rng: random.Random,
) -> dict[str, Any]:
    amount = f"{amount_shillings}.00" if rng.random() < 0.5 else str(amount_shillings)
    return {
        "TransactionType": "Pay Bill" if command_id == "CustomerPayBillOnline" else "Buy Goods",
        "TransID": trans_id,
        "TransTime": kenya_timestamp(paid_at),
        "TransAmount": amount,
        "BusinessShortCode": shortcode,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",  # set on confirmation, when the balance is known
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "John",
        "MiddleName": "",
        "LastName": "",
    }


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment the sandbox knows by receipt (for Transaction Status)."""

    receipt: str
    amount_shillings: int
    phone: str
    paid_at: dt.datetime
    reason_type: str


def status_result_body(
    *,
    originator_conversation_id: str,
    conversation_id: str,
    receipt: str,
    paid: Paid | None,
    credentials_ok: bool,
    shortcode: str,
    occasion: str,
    rng: random.Random,
) -> dict[str, Any]:
    """The Result posted to a Transaction Status ResultURL. Parameter values flip between
    number and string, `TransactionReason` has no Value, parameter order varies."""
    result: dict[str, Any] = {
        "ResultType": 0,
        "OriginatorConversationID": originator_conversation_id,
        "ConversationID": conversation_id,
        "TransactionID": new_receipt(rng),
    }
    if not credentials_ok:
        result |= {"ResultCode": 2001, "ResultDesc": "The initiator information is invalid."}
    elif paid is None:
        result |= {
            "ResultCode": "R000001",
            "ResultDesc": "The transaction receipt number does not exist.",
        }
    else:
        amount: int | str = (
            paid.amount_shillings if rng.random() < 0.5 else f"{paid.amount_shillings}.00"
        )
        initiated = int(kenya_timestamp(paid.paid_at))
        finalised = kenya_timestamp(paid.paid_at + dt.timedelta(seconds=5))
        params: list[dict[str, Any]] = [
            {"Key": "DebitPartyName", "Value": f"{paid.phone} - John Doe"},
            {"Key": "CreditPartyName", "Value": f"{shortcode} - Hisaab Sandbox"},
            {"Key": "OriginatorConversationID", "Value": originator_conversation_id},
            {"Key": "InitiatedTime", "Value": initiated},
            {"Key": "DebitAccountType", "Value": "MMF Account For Customer"},
            {"Key": "DebitPartyCharges", "Value": ""},
            {"Key": "TransactionReason"},
            {"Key": "ReasonType", "Value": paid.reason_type},
            {"Key": "TransactionStatus", "Value": "Completed"},
            {"Key": "FinalisedTime", "Value": finalised},
            {"Key": "Amount", "Value": amount},
            {"Key": "ConversationID", "Value": conversation_id},
            {"Key": "ReceiptNo", "Value": receipt},
        ]
        rng.shuffle(params)
        result |= {
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "ResultParameters": {"ResultParameter": params},
        }
    occasion_item: dict[str, Any] = {"Key": "Occasion"}
    if occasion:
        occasion_item["Value"] = occasion
    result["ReferenceData"] = {"ReferenceItem": occasion_item}
    return {"Result": result}
