"""`DarajaClient`: Hisaab's synchronous client of Safaricom's Daraja API; `AsyncDarajaClient`:
its STK Push and STK Query on an event loop (the API's), built from the same requests and
reading the same answers.

OAuth tokens are cached (thread-safe) until shortly before `expires_in` and fetched again
once when Daraja rejects one (HTTP 401, or its "Invalid Access Token" error body). Every
failure to get an answer, and every Daraja refusal, becomes a `DarajaError` (HTTP 502 to
Hisaab's own callers) carrying Daraja's errorCode/errorMessage; a read timeout sets
`may_have_reached`, since the request may have been acted upon.

STK Push takes whole shillings (amounts with cents are refused), refuses an AccountReference
over 12 characters (it is what the payer sees and what statements carry: cutting it would
break matching) and truncates TransactionDesc to 13 characters (it is only a label).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from hisaab.config import Settings
from hisaab.errors import AmountError, InputError
from hisaab.mpesa.errors import DarajaError, MpesaNotConfigured, MpesaPayloadError
from hisaab.mpesa.payloads import (
    DarajaErrorBody,
    QueryStatus,
    RequestAccepted,
    StkPushAnswer,
    StkQueryAnswer,
    parse_request_accepted,
    parse_stk_push_answer,
    parse_stk_query_answer,
)
from hisaab.mpesa.phones import mask_phone, normalise_phone
from hisaab.mpesa.protocol import (
    C2B_REGISTER_PATH,
    C2B_SIMULATE_PATH,
    MAX_ACCOUNT_REFERENCE,
    MAX_TRANSACTION_DESC,
    STK_PUSH_PATH,
    STK_QUERY_PATH,
    TRANSACTION_STATUS_PATH,
    TRANSACTION_TYPES,
    kenya_timestamp,
    stk_password,
)
from hisaab.mpesa.session import DEFAULT_TIMEOUT, AsyncDarajaSession, DarajaSession

log = logging.getLogger("hisaab.mpesa")
T = TypeVar("T")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def whole_shillings(amount_minor: int) -> int:
    """KES minor units -> whole shillings for STK Push; refuses cents, zero and negatives."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise AmountError(f"amount {amount_minor!r} is not integer minor units")
    if amount_minor <= 0:
        raise AmountError(
            f"STK Push amount must be positive, got {amount_minor} minor units",
            expected="at least 100 minor units (KES 1)",
        )
    shillings, cents = divmod(amount_minor, 100)
    if cents:
        raise AmountError(
            f"M-Pesa STK Push takes whole shillings; {amount_minor} minor units is "
            f"KES {shillings}.{cents:02d}",
            expected="a multiple of 100 minor units",
        )
    return shillings


def _check_url(url: str, what: str) -> str:
    url = url.strip()
    if not url.startswith(("https://", "http://")):
        raise InputError(f"{what} {url!r} is not an http(s) URL", expected="https://host/path")
    return url


class _DarajaRequests:
    """What both clients share: configuration, and building requests and reading answers."""

    def __init__(
        self,
        *,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        shortcode: str,
        passkey: str,
        transaction_type: str = "CustomerPayBillOnline",
        initiator: str | None = None,
        security_credential: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: Any = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        if transaction_type not in TRANSACTION_TYPES:
            raise InputError(
                f"unknown M-Pesa transaction type {transaction_type!r}",
                column="HISAAB_MPESA_TRANSACTION_TYPE",
                expected=" or ".join(TRANSACTION_TYPES),
            )
        self.base_url = base_url.rstrip("/")
        self.shortcode = shortcode
        self.transaction_type = transaction_type
        self._passkey = passkey
        self._initiator = initiator
        self._security_credential = security_credential
        self._clock = clock
        self._open(consumer_key, consumer_secret, timeout, transport)

    def _open(self, key: str, secret: str, timeout: httpx.Timeout, transport: Any) -> None:
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Self:
        """A client configured by HISAAB_MPESA_*; names every missing setting at once."""

        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        values = {
            "HISAAB_MPESA_BASE_URL": settings.mpesa_base_url,
            "HISAAB_MPESA_CONSUMER_KEY": secret(settings.mpesa_consumer_key),
            "HISAAB_MPESA_CONSUMER_SECRET": secret(settings.mpesa_consumer_secret),
            "HISAAB_MPESA_SHORTCODE": settings.mpesa_shortcode,
            "HISAAB_MPESA_PASSKEY": secret(settings.mpesa_passkey),
        }
        missing = [name for name, value in values.items() if not (value or "").strip()]
        if missing:
            raise MpesaNotConfigured(missing)
        arguments: dict[str, Any] = {
            "base_url": settings.mpesa_base_url,
            "consumer_key": values["HISAAB_MPESA_CONSUMER_KEY"],
            "consumer_secret": values["HISAAB_MPESA_CONSUMER_SECRET"],
            "shortcode": settings.mpesa_shortcode.strip(),
            "passkey": values["HISAAB_MPESA_PASSKEY"],
            "transaction_type": settings.mpesa_transaction_type,
            "initiator": settings.mpesa_initiator,
            "security_credential": secret(settings.mpesa_security_credential),
        }
        arguments.update(overrides)
        return cls(**arguments)

    def _password(self) -> tuple[str, str]:
        timestamp = kenya_timestamp(self._clock())
        return stk_password(self.shortcode, self._passkey, timestamp), timestamp

    def _stk_push_request(
        self,
        amount_minor: int,
        phone: str,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> tuple[dict[str, Any], str]:
        """The STK Push payload, and the payer's MSISDN it names."""
        shillings = whole_shillings(amount_minor)
        msisdn = normalise_phone(phone, path="phone")
        reference = account_reference.strip()
        if not reference or len(reference) > MAX_ACCOUNT_REFERENCE:
            raise InputError(
                f"account reference {account_reference!r} has {len(reference)} characters",
                column="account_reference",
                expected=f"1 to {MAX_ACCOUNT_REFERENCE} characters (M-Pesa's limit)",
            )
        desc = description.strip()[:MAX_TRANSACTION_DESC] or reference[:MAX_TRANSACTION_DESC]
        password, timestamp = self._password()
        payload = {
            "BusinessShortCode": self.shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "TransactionType": self.transaction_type,
            "Amount": shillings,
            "PartyA": msisdn,
            "PartyB": self.shortcode,
            "PhoneNumber": msisdn,
            "CallBackURL": _check_url(callback_url, "callback URL"),
            "AccountReference": reference,
            "TransactionDesc": desc,
        }
        return payload, msisdn

    def _stk_push_answer(
        self, status: int, body: Any, amount_minor: int, msisdn: str
    ) -> StkPushAnswer:
        answer = _read(parse_stk_push_answer, body, STK_PUSH_PATH, status)
        if isinstance(answer, DarajaErrorBody):
            raise _refused(STK_PUSH_PATH, answer, status)
        if not answer.accepted or status >= 400:
            raise DarajaError(
                f"Daraja did not accept the STK Push (HTTP {status}, ResponseCode "
                f"{answer.response_code}: {answer.response_description})",
                error_code=answer.response_code,
                error_message=answer.response_description,
                upstream_status=status,
            )
        log.info(
            "STK Push accepted",
            extra={
                "checkout_request_id": answer.checkout_request_id,
                "phone": mask_phone(msisdn),
                "amount_minor": amount_minor,
            },
        )
        return answer

    def _stk_query_request(self, checkout_request_id: str) -> dict[str, Any]:
        checkout = checkout_request_id.strip()
        if not checkout:
            raise InputError("empty CheckoutRequestID", column="checkout_request_id")
        password, timestamp = self._password()
        return {
            "BusinessShortCode": self.shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout,
        }

    @staticmethod
    def _stk_query_answer(status: int, body: Any) -> StkQueryAnswer:
        answer = _read(parse_stk_query_answer, body, STK_QUERY_PATH, status)
        if answer.status is QueryStatus.REJECTED:
            error = answer.error or DarajaErrorBody(None, answer.response_code or "", "")
            raise _refused(STK_QUERY_PATH, error, status)
        return answer


class DarajaClient(_DarajaRequests):
    """Calls Daraja at `base_url` (https://sandbox.safaricom.co.ke, https://api.safaricom.co.ke,
    or a Hisaab sandbox). Use `from_settings()` in Hisaab; close it (or use `with`) when done."""

    session: DarajaSession

    def _open(self, key: str, secret: str, timeout: httpx.Timeout, transport: Any) -> None:
        self.session = DarajaSession(
            self.base_url, key, secret, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DarajaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def access_token(self) -> str:
        """A valid access token (cached until shortly before it expires)."""
        return self.session.access_token()

    # --- STK Push ----------------------------------------------------------------------

    def stk_push(
        self,
        amount_minor: int,
        phone: str,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> StkPushAnswer:
        """Send an STK Push (the PIN prompt on the payer's phone). Returns Daraja's acceptance;
        the payment's result arrives later at `callback_url` (or by `stk_query`)."""
        payload, msisdn = self._stk_push_request(
            amount_minor, phone, account_reference, description, callback_url
        )
        status, body = self.session.post(STK_PUSH_PATH, payload)
        return self._stk_push_answer(status, body, amount_minor, msisdn)

    def stk_query(self, checkout_request_id: str) -> StkQueryAnswer:
        """Ask Daraja for an STK Push's result: FINAL (see `.result`) or PROCESSING (ask again
        later). Any other Daraja error raises `DarajaError`."""
        payload = self._stk_query_request(checkout_request_id)
        status, body = self.session.post(STK_QUERY_PATH, payload)
        return self._stk_query_answer(status, body)

    # --- Transaction Status, C2B ----------------------------------------------------------

    def transaction_status(
        self,
        receipt: str,
        result_url: str,
        timeout_url: str,
        remarks: str = "Transaction status",
        occasion: str = "",
    ) -> RequestAccepted:
        """Ask for the status of the M-Pesa transaction `receipt`; Daraja accepts at once and
        posts the Result to `result_url` (or to `timeout_url` when it times out)."""
        missing = [
            name
            for name, value in (
                ("HISAAB_MPESA_INITIATOR", self._initiator),
                ("HISAAB_MPESA_SECURITY_CREDENTIAL", self._security_credential),
            )
            if not value
        ]
        if missing:
            raise MpesaNotConfigured(missing, purpose="M-Pesa Transaction Status")
        if not receipt.strip():
            raise InputError("empty M-Pesa receipt", column="receipt")
        payload = {
            "Initiator": self._initiator,
            "SecurityCredential": self._security_credential,
            "CommandID": "TransactionStatusQuery",
            "TransactionID": receipt.strip(),
            "PartyA": self.shortcode,
            "IdentifierType": "4",
            "ResultURL": _check_url(result_url, "result URL"),
            "QueueTimeOutURL": _check_url(timeout_url, "timeout URL"),
            "Remarks": remarks.strip() or "Transaction status",
            "Occasion": occasion,
        }
        return self._accepted(TRANSACTION_STATUS_PATH, payload)

    def register_c2b_urls(
        self,
        confirmation_url: str,
        validation_url: str | None = None,
        *,
        response_type: str = "Completed",
        version: str = "v1",
    ) -> RequestAccepted:
        """Register where Daraja posts C2B confirmations (and validations) for the shortcode.
        `response_type` ("Completed" or "Cancelled") decides when validation is unreachable;
        `version` "v2" is the API whose confirmations carry masked MSISDNs."""
        payload = {
            "ShortCode": self.shortcode,
            "ResponseType": response_type,
            "ConfirmationURL": _check_url(confirmation_url, "confirmation URL"),
            "ValidationURL": _check_url(validation_url or confirmation_url, "validation URL"),
        }
        return self._accepted(_c2b_path(C2B_REGISTER_PATH, version), payload)

    def simulate_c2b(
        self,
        amount_minor: int,
        phone: str,
        bill_ref: str,
        *,
        command_id: str = "CustomerPayBillOnline",
        version: str = "v1",
    ) -> RequestAccepted:
        """Simulate a customer paying the shortcode (Daraja sandboxes only)."""
        payload = {
            "ShortCode": self.shortcode,
            "CommandID": command_id,
            "Amount": whole_shillings(amount_minor),
            "Msisdn": normalise_phone(phone, path="phone"),
            "BillRefNumber": bill_ref,
        }
        return self._accepted(_c2b_path(C2B_SIMULATE_PATH, version), payload)

    def _accepted(self, path: str, payload: dict[str, Any]) -> RequestAccepted:
        status, body = self.session.post(path, payload)
        answer = _read(parse_request_accepted, body, path, status)
        if isinstance(answer, DarajaErrorBody):
            raise _refused(path, answer, status)
        if not answer.accepted or status >= 400:
            raise DarajaError(
                f"Daraja did not accept {path} (HTTP {status}, ResponseCode "
                f"{answer.response_code}: {answer.response_description})",
                error_code=answer.response_code,
                error_message=answer.response_description,
                upstream_status=status,
            )
        return answer


class AsyncDarajaClient(_DarajaRequests):
    """STK Push and STK Query on an event loop: waiting for Daraja holds no thread. Made and
    closed (`aclose`) on the loop that uses it; `from_settings()` as for `DarajaClient`."""

    session: AsyncDarajaSession

    def _open(self, key: str, secret: str, timeout: httpx.Timeout, transport: Any) -> None:
        if transport is not None:
            raise ValueError("AsyncDarajaClient sends with aiohttp: point base_url at a server")
        self.session = AsyncDarajaSession(self.base_url, key, secret, timeout=timeout)

    async def aclose(self) -> None:
        await self.session.aclose()

    async def stk_push(
        self,
        amount_minor: int,
        phone: str,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> StkPushAnswer:
        payload, msisdn = self._stk_push_request(
            amount_minor, phone, account_reference, description, callback_url
        )
        status, body = await self.session.post(STK_PUSH_PATH, payload)
        return self._stk_push_answer(status, body, amount_minor, msisdn)

    async def stk_query(self, checkout_request_id: str) -> StkQueryAnswer:
        payload = self._stk_query_request(checkout_request_id)
        status, body = await self.session.post(STK_QUERY_PATH, payload)
        return self._stk_query_answer(status, body)


def _c2b_path(v1_path: str, version: str) -> str:
    if version not in ("v1", "v2"):
        raise InputError(f"unknown C2B API version {version!r}", expected="v1 or v2")
    return v1_path.replace("/v1/", f"/{version}/")


def _read(parse: Callable[[Any], T], body: Any, path: str, status: int) -> T:
    try:
        return parse(body)
    except MpesaPayloadError as exc:
        raise DarajaError(
            f"Daraja's answer to {path} (HTTP {status}) is not one Hisaab can read: "
            f"{exc.describe()}",
            upstream_status=status,
        ) from exc


def _refused(path: str, error: DarajaErrorBody, status: int) -> DarajaError:
    return DarajaError(
        f"Daraja refused {path} (HTTP {status}): {error.error_code} {error.error_message}",
        error_code=error.error_code,
        error_message=error.error_message,
        request_id=error.request_id,
        upstream_status=status,
    )
