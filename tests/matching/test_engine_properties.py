"""Properties of the engine that must hold for any ledger, checked on generated ones.

Ledgers are drawn from small pools of UTRs, amounts, dates and settlement ids so that the hard
cases (shared UTRs, equal amounts, ties, partial settlements) happen often.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hisaab.ingest.records import rows_to_table
from hisaab.matching.engine import reconcile
from hisaab.matching.rules import default_ruleset

UTRS = [f"4123456789{i:02d}" for i in range(6)]
AMOUNTS = [10_000, 25_000, 85_000, 97_100, 100_000]
DATES = ["2024-01-15", "2024-01-16", "2024-01-17"]


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def records(side: str, n: int) -> list[dict[str, Any]]:
        rows = []
        for i in range(n):
            settled = side == "pg" and draw(st.booleans()) and draw(st.booleans())
            rows.append(
                {
                    "record_id": f"{side}_{i}",
                    "source": side,
                    "amount_minor": draw(st.sampled_from(AMOUNTS)),
                    "currency": "INR",
                    "direction": draw(st.sampled_from(["CR", "CR", "CR", "DR"])),
                    "value_date": draw(st.sampled_from(DATES)),
                    "utr": None if settled else draw(st.sampled_from([None, *UTRS])),
                    "settlement_id": draw(st.sampled_from(["setl_A", "setl_B"]))
                    if settled or (side == "bank" and draw(st.booleans()))
                    else None,
                    "fee_minor": draw(st.sampled_from([0, 2_000])) if settled else None,
                    "tax_minor": 360 if settled else None,
                    "merchant_id": "M0001",
                    "source_line": i + 2,
                }
            )
        return rows

    return records("pg", draw(st.integers(0, 9))), records("bank", draw(st.integers(0, 9)))


def _run(pg_rows: list[dict[str, Any]], bank_rows: list[dict[str, Any]]) -> dict[str, Any]:
    result = reconcile(rows_to_table(pg_rows), rows_to_table(bank_rows), default_ruleset())
    try:
        return {
            "matches": result.matches().to_pylist(),
            "exceptions": result.exceptions().to_pylist(),
        }
    finally:
        result.close()


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(ledgers())
def test_no_record_is_in_two_matches(
    ledger: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    out = _run(*ledger)
    for side in ("pg_record_id", "bank_record_id"):
        match_ids: dict[str, set[str]] = {}
        for m in out["matches"]:
            match_ids.setdefault(m[side], set()).add(m["match_id"])
        assert all(len(ids) == 1 for ids in match_ids.values())


@PROPERTY
@given(ledgers())
def test_every_record_is_auto_matched_or_excepted_exactly_once(
    ledger: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    pg_rows, bank_rows = ledger
    out = _run(pg_rows, bank_rows)
    seen = [("pg", m["pg_record_id"]) for m in out["matches"] if m["status"] == "auto"]
    seen += sorted({("bank", m["bank_record_id"]) for m in out["matches"] if m["status"] == "auto"})
    seen += [(e["side"], e["record_id"]) for e in out["exceptions"]]
    expected = [("pg", r["record_id"]) for r in pg_rows] + [
        ("bank", r["record_id"]) for r in bank_rows
    ]
    assert sorted(seen) == sorted(expected)


@PROPERTY
@given(ledgers(), st.randoms(use_true_random=False))
def test_input_row_order_does_not_change_the_result(
    ledger: tuple[list[dict[str, Any]], list[dict[str, Any]]], rnd: random.Random
) -> None:
    pg_rows, bank_rows = ledger
    shuffled_pg, shuffled_bank = pg_rows[:], bank_rows[:]
    rnd.shuffle(shuffled_pg)
    rnd.shuffle(shuffled_bank)
    assert _run(shuffled_pg, shuffled_bank) == _run(pg_rows, bank_rows)


@PROPERTY
@given(ledgers())
def test_rerun_gives_the_same_result(
    ledger: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    assert _run(*ledger) == _run(*ledger)


@PROPERTY
@given(ledgers())
def test_amounts_are_conserved_between_inputs_and_outputs(
    ledger: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    pg_rows, bank_rows = ledger
    out = _run(pg_rows, bank_rows)
    auto = [m for m in out["matches"] if m["status"] == "auto"]
    pg_out = sum(m["pg_amount_minor"] for m in auto)
    bank_out = sum({m["bank_record_id"]: m["bank_amount_minor"] for m in auto}.values())
    for e in out["exceptions"]:
        if e["side"] == "pg":
            pg_out += e["amount_minor"]
        else:
            bank_out += e["amount_minor"]
    assert pg_out == sum(r["amount_minor"] for r in pg_rows)
    assert bank_out == sum(r["amount_minor"] for r in bank_rows)
