"""The wire form: compact JSON objects under PostgreSQL's NOTIFY limit; others refused clearly."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from hisaab.pubsub.messages import (
    MAX_MESSAGE_BYTES,
    FanoutError,
    MessageTooLarge,
    decode,
    encode,
)


def sized(total_bytes: int) -> dict[str, str]:
    """A message whose JSON text is exactly `total_bytes` long."""
    overhead = len(encode({"type": "note", "text": ""}))
    return {"type": "note", "text": "x" * (total_bytes - overhead)}


def test_a_message_is_compact_json() -> None:
    text = encode({"type": "payment.reconciled", "receipt": "SGR7H2K1LP", "amount_minor": 150_000})
    assert text == '{"type":"payment.reconciled","receipt":"SGR7H2K1LP","amount_minor":150000}'
    assert decode(text) == {
        "type": "payment.reconciled",
        "receipt": "SGR7H2K1LP",
        "amount_minor": 150_000,
    }


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    message = {"type": "note", "text": "é" * 4_000}  # 4,000 characters, 8,000 bytes
    with pytest.raises(MessageTooLarge, match=r"of type 'note' is 8\d{3} bytes of JSON"):
        encode(message)


def test_one_byte_over_the_limit_is_refused() -> None:
    assert len(encode(sized(MAX_MESSAGE_BYTES)).encode()) == MAX_MESSAGE_BYTES
    with pytest.raises(MessageTooLarge, match="the limit is 7999"):
        encode(sized(MAX_MESSAGE_BYTES + 1))


def test_the_limit_is_the_one_postgresql_enforces(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify('hisaab_events', %s)", (encode(sized(MAX_MESSAGE_BYTES)),))
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="payload string too long"):
            conn.execute("SELECT pg_notify('hisaab_events', %s)", ("x" * (MAX_MESSAGE_BYTES + 1),))


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"settled_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC)}, "not JSON serializable"),
        ({"fee": float("nan")}, "Out of range float values are not JSON compliant"),
        ({"name": "\ud800"}, "surrogates not allowed"),
        (["payment.reconciled"], "must be a mapping"),
    ],
    ids=["datetime", "nan", "lone-surrogate", "list"],
)
def test_what_is_not_a_json_object_is_refused(message: object, error: str) -> None:
    with pytest.raises(FanoutError, match=error):
        encode(message)  # type: ignore[arg-type]


def test_a_payload_that_is_not_an_object_does_not_decode() -> None:
    with pytest.raises(ValueError, match="expected a JSON object, got list"):
        decode("[1, 2]")
