"""Daraja's synchronous answers shared by several APIs: the error body and "request accepted".

Asynchronous APIs (Transaction Status, C2B register and simulate) answer at once with
ResponseCode "0" and conversation ids; the real result comes later, posted to a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hisaab.mpesa.payloads import fields as f
from hisaab.mpesa.protocol import is_still_processing


@dataclass(frozen=True, slots=True)
class DarajaErrorBody:
    """Daraja's error body: {"requestId", "errorCode", "errorMessage"}."""

    request_id: str | None
    error_code: str
    error_message: str

    @property
    def still_processing(self) -> bool:
        """True for "500.001.1001 The transaction is being processed" only (ask again later)."""
        return is_still_processing(self.error_code, self.error_message)


def is_error_body(body: Any) -> bool:
    return isinstance(body, Mapping) and "errorCode" in body


def parse_error_body(body: Any, path: str = f.ROOT) -> DarajaErrorBody:
    obj = f.mapping(body, path)
    return DarajaErrorBody(
        request_id=f.optional_text(obj.get("requestId"), f.join(path, "requestId")),
        error_code=f.text(f.member(obj, "errorCode", path), f.join(path, "errorCode")),
        error_message=f.text(
            obj.get("errorMessage") or "", f.join(path, "errorMessage"), allow_empty=True
        ),
    )


@dataclass(frozen=True, slots=True)
class RequestAccepted:
    """ "Accept the service request successfully": the result will be posted later."""

    originator_conversation_id: str | None
    conversation_id: str | None
    response_code: str
    response_description: str

    @property
    def accepted(self) -> bool:
        return self.response_code == "0"


def parse_request_accepted(body: Any) -> RequestAccepted | DarajaErrorBody:
    """The synchronous answer of an asynchronous API, or Daraja's error body as it is."""
    if is_error_body(body):
        return parse_error_body(body)
    obj = f.mapping(body, f.ROOT)
    # Daraja's C2B answers spell it "OriginatorCoversationID".
    originator = obj.get("OriginatorConversationID", obj.get("OriginatorCoversationID"))
    return RequestAccepted(
        originator_conversation_id=f.optional_text(originator, "OriginatorConversationID"),
        conversation_id=f.optional_text(obj.get("ConversationID"), "ConversationID"),
        response_code=f.text(f.member(obj, "ResponseCode", f.ROOT), "ResponseCode"),
        response_description=f.text(
            obj.get("ResponseDescription") or "", "ResponseDescription", allow_empty=True
        ),
    )
