"""The yardstick for the engine benchmark: a bare two-stage reconciliation in Polars.

What a user who knows Polars would write in an afternoon: read both canonical CSVs (references
and timestamps as text), stage 1 pairs PG and bank records on a UTR found exactly once on each
side (same currency and direction, amounts within 1 minor unit), stage 2 pairs what is left of
PG by settlement UTR with the bank credit of that UTR when the group's net (amount - fee - tax)
adds up to it. Matches and each side's unmatched records are written to CSV. No ambiguity
handling, no other stages, no exception categories, no provenance: it does less than Hisaab,
so comparing against it flatters the yardstick, not Hisaab.

    python benchmarks/polars_yardstick.py PG.csv BANK.csv OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

TEXT = (
    "record_id",
    "source",
    "currency",
    "direction",
    "value_date",
    "booked_at",
    "utr",
    "merchant_ref",
    "settlement_id",
    "settlement_utr",
    "merchant_id",
    "narration",
)
KEEP = ("record_id", "amount_minor", "currency", "direction", "value_date", "utr")


def read(path: Path, extra: tuple[str, ...] = ()) -> pl.LazyFrame:
    frame = pl.scan_csv(path, schema_overrides=dict.fromkeys(TEXT, pl.String))
    names = frame.collect_schema().names()
    frame = frame.select([c for c in (*KEEP, *extra) if c in names])
    if "direction" not in names:  # optional in the canonical layout: the sign gives it
        sign = pl.when(pl.col("amount_minor") < 0).then(pl.lit("DR")).otherwise(pl.lit("CR"))
        frame = frame.with_columns(direction=sign)
    # Blank references are missing ones ("" as well as nothing between the commas).
    return frame.with_columns(pl.col("utr").replace("", None))


def run(pg_path: Path, bank_path: Path, out_dir: Path) -> int:
    pg_lazy = read(pg_path, ("fee_minor", "tax_minor", "settlement_utr")).with_columns(
        pl.col("settlement_utr").replace("", None)
    )
    pg, bank = pl.collect_all([pg_lazy, read(bank_path)])

    # Stage 1: exact UTR, one-to-one only where the UTR is unique on both sides.
    def unique_utr(frame: pl.DataFrame) -> pl.DataFrame:
        keyed = frame.filter(pl.col("utr").is_not_null())
        return keyed.filter(pl.col("utr").is_unique())

    pairs = unique_utr(pg).join(
        unique_utr(bank), on=["utr", "currency", "direction"], suffix="_bank"
    )
    stage1 = pairs.filter((pl.col("amount_minor_bank") - pl.col("amount_minor")).abs() <= 1)
    stage1 = stage1.select(
        pg_record_id="record_id", bank_record_id="record_id_bank", stage=pl.lit("utr_exact")
    )

    # Stage 2: settlement groups, net of fee and tax, against the credit with that UTR.
    rest_pg = pg.join(stage1, left_on="record_id", right_on="pg_record_id", how="anti")
    rest_bank = bank.join(stage1, left_on="record_id", right_on="bank_record_id", how="anti")
    settled = rest_pg.filter(pl.col("settlement_utr").is_not_null()).with_columns(
        net=pl.col("amount_minor")
        - pl.col("fee_minor").fill_null(0)
        - pl.col("tax_minor").fill_null(0)
    )
    groups = settled.group_by("settlement_utr").agg(pl.col("net").sum())
    credits = groups.join(
        rest_bank.filter(pl.col("utr").is_unique()),
        left_on="settlement_utr",
        right_on="utr",
    ).filter((pl.col("amount_minor") - pl.col("net")).abs() <= 1)
    stage2 = settled.join(
        credits.select("settlement_utr", bank_record_id="record_id"), on="settlement_utr"
    ).select(pg_record_id="record_id", bank_record_id="bank_record_id", stage=pl.lit("settlement"))

    matches = pl.concat([stage1, stage2])
    out_dir.mkdir(parents=True, exist_ok=True)
    matches.write_csv(out_dir / "matches.csv")
    unmatched = pl.concat(
        [
            rest_pg.join(stage2, left_on="record_id", right_on="pg_record_id", how="anti")
            .select("record_id", "amount_minor", "currency", "value_date", "utr")
            .with_columns(side=pl.lit("pg")),
            rest_bank.join(stage2, left_on="record_id", right_on="bank_record_id", how="anti")
            .select("record_id", "amount_minor", "currency", "value_date", "utr")
            .with_columns(side=pl.lit("bank")),
        ]
    )
    unmatched.write_csv(out_dir / "unmatched.csv")
    return matches.height


if __name__ == "__main__":
    count = run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    print(f"polars yardstick: {count} matched PG records")
