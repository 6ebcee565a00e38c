"""The reconciliation engine: canonical PG and bank records in, matches and exceptions out.

    reconcile(pg, bank, ruleset) -> ReconResult

Every input record ends in exactly one place: an automatic match, or one exception row (a
record in a suggested match is also an exception, named by why it is not automatic). So the
amounts of the inputs always equal the amounts of automatic matches plus exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from hisaab.errors import InputError
from hisaab.ingest.records import conform
from hisaab.matching import stages
from hisaab.matching.backends.base import Backend
from hisaab.matching.backends.duckdb import DuckDBBackend, memory_for
from hisaab.matching.result import ReconResult
from hisaab.matching.rules import (
    OneToOneStage,
    RuleSet,
    SettlementGroupStage,
    SubsetSumStage,
)
from hisaab.matching.subset_sum import subset_sum

Progress = Callable[[str, int, int], None]

# The canonical columns the engine reads; callers may leave the others out.
ENGINE_COLUMNS = (
    "record_id",
    "amount_minor",
    "currency",
    "direction",
    "value_date",
    "utr",
    "merchant_ref",
    "settlement_id",
    "settlement_utr",
    "merchant_id",
    "fee_minor",
    "tax_minor",
    "source_line",
)


# Columns that link records (references, not amounts): compared only once trimmed.
REFERENCE_COLUMNS = ("utr", "merchant_ref", "settlement_id", "settlement_utr", "merchant_id")
# The characters SQL's trim() removes (Unicode space separators, category Zs), for Arrow.
_SPACES = " \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"


@dataclass
class RunInfo:
    """What a run records about itself, so a result can be traced to its inputs and rules."""

    ruleset_version: str
    ruleset_source: str
    threshold: float
    inputs: dict[str, dict[str, object]] = field(default_factory=dict)


def reconcile(
    pg: pa.Table,
    bank: pa.Table,
    ruleset: RuleSet,
    *,
    info: RunInfo | None = None,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> ReconResult:
    """Match canonical PG records against canonical bank records with `ruleset`'s stages."""
    started = time.perf_counter()
    db = backend or DuckDBBackend(memory_limit=memory_for(pg.nbytes + bank.nbytes))
    info = info or RunInfo(ruleset.version, ruleset.source, ruleset.threshold)
    steps = len(ruleset.stages) + 2
    report = progress or (lambda _name, _done, _total: None)
    report("loading", 0, steps)
    prepare(db, pg, bank)
    stages.set_variables(db, ruleset)
    for i, stage in enumerate(ruleset.stages, start=1):
        report(stage.name, i, steps)
        if isinstance(stage, OneToOneStage):
            stages.one_to_one(db, stage)
        elif isinstance(stage, SettlementGroupStage):
            stages.settlement_group(db, stage)
        elif isinstance(stage, SubsetSumStage):
            subset_sum(db, stage, tolerance=ruleset.rules.amount.tolerance_minor)
            stages.mark_taken(db)
    report("exceptions", steps - 1, steps)
    _unmatched(db)
    _exception_records(db)
    _release_inputs(db)
    report("done", steps, steps)
    return ReconResult(
        db=db, ruleset=ruleset, info=info, elapsed_seconds=time.perf_counter() - started
    )


def prepare(db: Backend, pg: pa.Table, bank: pa.Table) -> None:
    """Expose both sides as views with row ids; blank references read as NULL.

    The views read the Arrow tables in place (no copy); only what is left after the first
    stage is ever materialised.
    """
    for side, table in (("pg", pg), ("bank", bank)):
        table = _clean_references(conform(table).select(list(ENGINE_COLUMNS)))
        _check_complete(side, table)
        rid = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), len(table))), 1)
        db.register(f"{side}_in", table.append_column("rid", rid))
        net = (
            "amount_minor - coalesce(fee_minor, 0) - coalesce(tax_minor, 0)"
            if side == "pg"
            else "amount_minor"
        )
        db.execute(
            f"""
            CREATE OR REPLACE VIEW {side} AS
            SELECT rid, record_id, amount_minor, {net} AS net_minor, currency, direction,
                   value_date, {", ".join(REFERENCE_COLUMNS)}, source_line
            FROM {side}_in
            """
        )
        # Everything is free before the first stage; mark_taken materialises what is left.
        db.execute(f"CREATE OR REPLACE VIEW {side}_free AS SELECT * FROM {side}")
    db.execute(
        """
        CREATE OR REPLACE TABLE match_rows (
            stage VARCHAR, match_type VARCHAR, prid BIGINT, brid BIGINT, confidence DOUBLE,
            status VARCHAR, r_utr BOOLEAN, r_amount BOOLEAN, r_date BOOLEAN, r_ref BOOLEAN,
            amount_delta BIGINT, date_delta INTEGER,
            pg_record_id VARCHAR, bank_record_id VARCHAR, pg_amount BIGINT, bank_amount BIGINT,
            pg_net BIGINT, pg_line BIGINT, bank_line BIGINT, currency VARCHAR)
        """
    )
    db.execute(
        """
        CREATE OR REPLACE TABLE exc_rows (
            side VARCHAR, rid BIGINT, category VARCHAR, stage VARCHAR,
            counterparts STRUCT(side VARCHAR, rid BIGINT)[], amount_delta BIGINT,
            date_delta INTEGER, confidence DOUBLE, reason VARCHAR)
        """
    )


def _clean_references(table: pa.Table) -> pa.Table:
    """References without surrounding spaces, blank ones as NULL (SQL's nullif(trim(x), '')).

    Done once here rather than in the views, where every scan of the million-row inputs would
    trim again; a column is rewritten only when it needs it, so clean inputs are not copied.
    """
    for name in REFERENCE_COLUMNS:
        column = table.column(name)
        if column.null_count == len(column) or _is_clean(column):
            continue
        trimmed = pc.utf8_trim(column, _SPACES)
        cleaned = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
        table = table.set_column(table.schema.get_field_index(name), name, cleaned)
    return table


def _is_clean(column: pa.ChunkedArray) -> bool:
    """No blank value and no space at either end, checked without copying the column.

    In ASCII text the only space separator is ' '; other text takes the trimming path.
    """
    if pc.all(pc.string_is_ascii(column)).as_py() is False:
        return False
    return not (
        pc.any(pc.equal(column, "")).as_py()
        or pc.any(pc.starts_with(column, " ")).as_py()
        or pc.any(pc.ends_with(column, " ")).as_py()
    )


def _exception_records(db: Backend) -> None:
    """Every record an exception names or lists as a counterpart, gathered in one pass a side."""
    # Both sides in one distinct pass: a UNION per side, filtering on the struct field, took
    # five times as long.
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE exc_rids AS
        SELECT DISTINCT side, rid FROM (
            SELECT side, rid FROM exc_rows
            UNION ALL
            SELECT u.c.side, u.c.rid FROM exc_rows, unnest(counterparts) AS u(c)
        )
        """
    )
    # A permanent table: the exceptions are written on a connection of their own (copy_many).
    db.execute(
        """
        CREATE OR REPLACE TABLE exc_records AS
        SELECT 'pg' AS side, * FROM pg
        SEMI JOIN (SELECT rid FROM exc_rids WHERE side = 'pg') USING (rid)
        UNION ALL
        SELECT 'bank' AS side, * FROM bank
        SEMI JOIN (SELECT rid FROM exc_rids WHERE side = 'bank') USING (rid)
        """
    )


def _release_inputs(db: Backend) -> None:
    """Keep the inputs' totals, then let go of the inputs themselves.

    Everything the results need is in match_rows, exc_rows and exc_records by now, so a caller
    that drops its own references frees the input memory before the outputs are written.
    """
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE input_totals AS
        SELECT 'pg' AS side, currency, count(*) AS records, sum(amount_minor) AS amount_minor
        FROM pg GROUP BY currency
        UNION ALL
        SELECT 'bank', currency, count(*), sum(amount_minor) FROM bank GROUP BY currency
        """
    )
    for side in ("pg", "bank"):
        stages.drop_relation(db, f"{side}_free")
        db.execute(f"DROP VIEW {side}")
        db.unregister(f"{side}_in")


def _check_complete(side: str, table: pa.Table) -> None:
    """Records the engine cannot reason about are a caller's bug, named with the first one."""
    amount = table.column("amount_minor")
    direction = table.column("direction")
    bad = pc.or_kleene(
        pc.or_kleene(pc.is_null(amount), pc.less(amount, 0)),
        pc.or_kleene(
            pc.or_kleene(
                pc.is_null(table.column("currency")), pc.is_null(table.column("value_date"))
            ),
            pc.invert(pc.is_in(direction, value_set=pa.array(["CR", "DR"]))),
        ),
    )
    if pc.any(bad).as_py():
        index = pc.index(bad, True).as_py()
        raise InputError(
            f"{side} record {table.column('record_id')[index].as_py()!r} lacks a non-negative"
            " amount, currency, direction or value date",
            line=table.column("source_line")[index].as_py(),
            expected="canonical records from a template or a canonical file",
        )


def _unmatched(db: Backend) -> None:
    for side in ("pg", "bank"):
        db.execute(
            f"""
            INSERT INTO exc_rows
            SELECT '{side}', rid, 'UNMATCHED_{side.upper()}', NULL, [], NULL, NULL, NULL,
                   'no counterpart found by any stage'
            FROM {side}_free
            """
        )
