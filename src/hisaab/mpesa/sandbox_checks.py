"""How the Daraja sandbox checks requests, refusing them the way Daraja does.

Field errors are HTTP 400 `{"requestId", "errorCode": "400.002.02", "errorMessage":
"Bad Request - Invalid <Field>"}`; a wrong STK Password is HTTP 500 with errorCode
500.001.1001 "Wrong credentials" (the same code Daraja uses for "being processed", which is
why clients must read the message too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hisaab.mpesa.protocol import (
    MAX_ACCOUNT_REFERENCE,
    MAX_TRANSACTION_DESC,
    PROCESSING_ERROR_CODE,
    TRANSACTION_TYPES,
    stk_password,
)
from hisaab.mpesa.sandbox_state import SandboxConfig

_MSISDN = re.compile(r"254[17][0-9]{8}")
_TIMESTAMP = re.compile(r"[0-9]{14}")
MAX_AMOUNT = 250_000


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error_code: str
    error_message: str


def invalid(field: str) -> Refusal:
    return Refusal(400, "400.002.02", f"Bad Request - Invalid {field}")


WRONG_CREDENTIALS = Refusal(500, PROCESSING_ERROR_CODE, "Wrong credentials")


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def msisdn(value: Any) -> str | None:
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    return text if _MSISDN.fullmatch(text) else None


def whole_amount(value: Any) -> int | None:
    """Daraja's Amount: whole shillings, as a number or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip() if isinstance(value, int | str) else ""
    if not text.isdigit():
        return None
    amount = int(text)
    return amount if 1 <= amount <= MAX_AMOUNT else None


def is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 8


def check_password(body: dict[str, Any], config: SandboxConfig) -> Refusal | None:
    """BusinessShortCode, Timestamp and Password, as STK Push and STK Query check them."""
    shortcode = _text(body, "BusinessShortCode")
    if shortcode != config.shortcode:
        return invalid("BusinessShortCode")
    timestamp = _text(body, "Timestamp")
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        return invalid("Timestamp")
    if body.get("Password") != stk_password(config.shortcode, config.passkey, timestamp):
        return WRONG_CREDENTIALS
    return None


@dataclass(frozen=True, slots=True)
class PushRequest:
    phone: str
    amount_shillings: int
    callback_url: str
    account_reference: str
    transaction_type: str


def check_push(body: dict[str, Any], config: SandboxConfig) -> PushRequest | Refusal:
    refusal = check_password(body, config)
    if refusal is not None:
        return refusal
    transaction_type = _text(body, "TransactionType")
    if transaction_type not in TRANSACTION_TYPES:
        return invalid("TransactionType")
    amount = whole_amount(body.get("Amount"))
    if amount is None:
        return invalid("Amount")
    party_a = msisdn(body.get("PartyA"))
    if party_a is None:
        return invalid("PartyA")
    if _text(body, "PartyB") != config.shortcode:
        return invalid("PartyB")
    phone = msisdn(body.get("PhoneNumber"))
    if phone is None:
        return invalid("PhoneNumber")
    callback_url = body.get("CallBackURL")
    if not is_url(callback_url):
        return invalid("CallBackURL")
    reference = _text(body, "AccountReference")
    if reference is None or len(reference) > MAX_ACCOUNT_REFERENCE:
        return invalid("AccountReference")
    desc = _text(body, "TransactionDesc")
    if desc is None or len(desc) > MAX_TRANSACTION_DESC:
        return invalid("TransactionDesc")
    return PushRequest(phone, amount, str(callback_url), reference, str(transaction_type))


@dataclass(frozen=True, slots=True)
class StatusRequest:
    receipt: str
    result_url: str
    timeout_url: str
    occasion: str
    credentials_ok: bool


def check_status(body: dict[str, Any], config: SandboxConfig) -> StatusRequest | Refusal:
    initiator = _text(body, "Initiator")
    if initiator is None:
        return invalid("Initiator")
    credential = _text(body, "SecurityCredential")
    if credential is None:
        return invalid("SecurityCredential")
    if _text(body, "CommandID") != "TransactionStatusQuery":
        return invalid("CommandID")
    receipt = _text(body, "TransactionID") or _text(body, "OriginalConversationID")
    if receipt is None:
        return invalid("TransactionID")
    if _text(body, "PartyA") != config.shortcode:
        return invalid("PartyA")
    if _text(body, "IdentifierType") not in ("1", "2", "4"):
        return invalid("IdentifierType")
    result_url, timeout_url = body.get("ResultURL"), body.get("QueueTimeOutURL")
    if not is_url(result_url):
        return invalid("ResultURL")
    if not is_url(timeout_url):
        return invalid("QueueTimeOutURL")
    credentials_ok = (config.initiator is None or initiator == config.initiator) and (
        config.security_credential is None or credential == config.security_credential
    )
    occasion = _text(body, "Occasion") or ""
    return StatusRequest(receipt, str(result_url), str(timeout_url), occasion, credentials_ok)


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    shortcode: str
    response_type: str
    confirmation_url: str
    validation_url: str


def check_register(body: dict[str, Any]) -> RegisterRequest | Refusal:
    shortcode = _text(body, "ShortCode")
    if shortcode is None or not shortcode.isdigit():
        return invalid("ShortCode")
    response_type = _text(body, "ResponseType") or ""
    if response_type.lower() not in ("completed", "cancelled"):
        return invalid("ResponseType")
    confirmation, validation = body.get("ConfirmationURL"), body.get("ValidationURL")
    if not is_url(confirmation):
        return invalid("ConfirmationURL")
    if not is_url(validation):
        return invalid("ValidationURL")
    return RegisterRequest(shortcode, response_type, str(confirmation), str(validation))


@dataclass(frozen=True, slots=True)
class SimulateRequest:
    shortcode: str
    command_id: str
    amount_shillings: int
    phone: str
    bill_ref: str


def check_simulate(body: dict[str, Any], registered: set[str]) -> SimulateRequest | Refusal:
    shortcode = _text(body, "ShortCode")
    if shortcode is None or shortcode not in registered:
        return invalid("ShortCode")
    command_id = _text(body, "CommandID")
    if command_id not in TRANSACTION_TYPES:
        return invalid("CommandID")
    amount = whole_amount(body.get("Amount"))
    if amount is None:
        return invalid("Amount")
    phone = msisdn(body.get("Msisdn"))
    if phone is None:
        return invalid("Msisdn")
    bill_ref = _text(body, "BillRefNumber") or ""
    if command_id == "CustomerPayBillOnline" and not bill_ref:
        return invalid("BillRefNumber")
    return SimulateRequest(shortcode, str(command_id), amount, phone, bill_ref)
