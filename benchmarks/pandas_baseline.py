"""Baseline for the benchmark: the first two stages (exact UTR, settlement groups) in plain pandas.

Written the way a team would first write it: pandas' default CSV reader, merges, boolean
masks. It does less than Hisaab (no ambiguity handling, no other stages, no exceptions file),
so the ratio it gives flatters the baseline, not Hisaab.

    python benchmarks/pandas_baseline.py PG.csv BANK.csv OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

TEXT = {
    "record_id": str,
    "utr": str,
    "settlement_id": str,
    "settlement_utr": str,
    "merchant_ref": str,
    "merchant_id": str,
}


def run(pg_path: Path, bank_path: Path, out_dir: Path) -> int:
    pg = pd.read_csv(pg_path, dtype=TEXT)
    bank = pd.read_csv(bank_path, dtype=TEXT)
    for frame in (pg, bank):
        frame["value_date"] = pd.to_datetime(frame["value_date"], format="%Y-%m-%d")

    # Stage 1: exact UTR, one-to-one only where the UTR is unique on both sides.
    pairs = pg[pg["utr"].notna()].merge(
        bank[bank["utr"].notna()], on=["utr", "currency", "direction"], suffixes=("_pg", "_bank")
    )
    unique = ~pairs["record_id_pg"].duplicated(keep=False) & ~pairs["record_id_bank"].duplicated(
        keep=False
    )
    pairs = pairs[unique]
    amount_ok = (pairs["amount_minor_bank"] - pairs["amount_minor_pg"]).abs() <= 1
    date_ok = (pairs["value_date_bank"] - pairs["value_date_pg"]).dt.days.abs() <= 1
    confidence = (1.0 + 0.8 * amount_ok + 0.6 * date_ok) / 3.1
    stage1 = pairs[amount_ok & (confidence >= 0.75)]

    # Stage 2: settlement groups, net of fee and tax, against credits with that settlement id.
    rest_pg = pg[~pg["record_id"].isin(stage1["record_id_pg"])]
    rest_bank = bank[~bank["record_id"].isin(stage1["record_id_bank"])]
    settled = rest_pg[rest_pg["settlement_id"].notna()].copy()
    settled["net"] = (
        settled["amount_minor"] - settled["fee_minor"].fillna(0) - settled["tax_minor"].fillna(0)
    )
    groups = settled.groupby("settlement_id", as_index=False).agg(net=("net", "sum"))
    credits = groups.merge(rest_bank, on="settlement_id")
    stage2 = credits[(credits["amount_minor"] - credits["net"]).abs() <= 1]
    members = settled.merge(
        stage2[["settlement_id", "record_id"]], on="settlement_id", suffixes=("_pg", "_bank")
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    matches = pd.concat(
        [
            stage1[["record_id_pg", "record_id_bank"]].assign(stage="utr_exact"),
            members[["record_id_pg", "record_id_bank"]].assign(stage="settlement"),
        ]
    )
    matches.to_csv(out_dir / "matches.csv", index=False)
    return len(matches)


if __name__ == "__main__":
    count = run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    print(f"pandas baseline: {count} matched PG records")
