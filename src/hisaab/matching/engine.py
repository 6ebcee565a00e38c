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


REFERENCE_COLUMNS = stages.REFERENCE_COLUMNS
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
    inputs = prepare(db, pg, bank)
    stages.set_variables(db, ruleset)
    for i, stage in enumerate(ruleset.stages, start=1):
        report(stage.name, i, steps)
        # Until the first stage is done, the free pools are all of the inputs.
        whole = inputs if i == 1 else None
        if isinstance(stage, OneToOneStage):
            stages.one_to_one(db, stage, whole)
        elif isinstance(stage, SettlementGroupStage):
            stages.settlement_group(db, stage, whole)
        elif isinstance(stage, SubsetSumStage):
            subset_sum(db, stage, tolerance=ruleset.rules.amount.tolerance_minor)
            stages.mark_taken(db, whole)
    report("exceptions", steps - 1, steps)
    _unmatched(db)
    _exception_records(db, inputs)
    del inputs
    _release_inputs(db)
    report("done", steps, steps)
    return ReconResult(
        db=db, ruleset=ruleset, info=info, elapsed_seconds=time.perf_counter() - started
    )


def prepare(db: Backend, pg: pa.Table, bank: pa.Table) -> dict[str, pa.Table]:
    """Expose both sides as views with row ids; blank references read as NULL.

    The views read the Arrow tables in place (no copy); only what is left after the first
    stage is ever materialised. Returns the tables the views read, by side: a record's row
    id is its position in them.
    """
    inputs = {}
    for side, table in (("pg", pg), ("bank", bank)):
        table = _clean_references(conform(table).select(list(ENGINE_COLUMNS)))
        _check_complete(side, table)
        rid = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), len(table))), 1)
        inputs[side] = table.append_column("rid", rid)
        db.register(f"{side}_in", inputs[side])
        db.execute(f"CREATE OR REPLACE VIEW {side} AS {stages.side_select(side, f'{side}_in')}")
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
    return inputs


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


def _exception_records(db: Backend, inputs: dict[str, pa.Table]) -> None:
    """Every record an exception names or lists as a counterpart, gathered in one pass a side."""
    # Both sides in one distinct pass: a UNION per side, filtering on the struct field, took
    # five times as long.
    wanted = db.arrow(
        """
        SELECT DISTINCT side, rid FROM (
            SELECT side, rid FROM exc_rows
            UNION ALL
            SELECT u.c.side, u.c.rid FROM exc_rows, unnest(counterparts) AS u(c)
        )
        """
    )
    # A row id is a position in the input, so the records are taken by position in Arrow
    # (a semi join in SQL scanned both million-row inputs for them).
    parts = []
    for side in ("pg", "bank"):
        table = inputs[side]
        rids = pc.filter(wanted.column("rid"), pc.equal(wanted.column("side"), side))
        rows = table.take(rids)
        amount = rows.column("amount_minor")
        net = (
            pc.subtract_checked(
                pc.subtract_checked(amount, pc.fill_null(rows.column("fee_minor"), 0)),
                pc.fill_null(rows.column("tax_minor"), 0),
            )
            if side == "pg"
            else amount
        )
        columns = {
            "side": pa.repeat(pa.scalar(side, pa.string()), len(rows)),
            "rid": rows.column("rid"),
            "record_id": rows.column("record_id"),
            "amount_minor": amount,
            "net_minor": net,
            **{c: rows.column(c) for c in ("currency", "direction", "value_date")},
            **{c: rows.column(c) for c in REFERENCE_COLUMNS},
            "source_line": rows.column("source_line"),
        }
        parts.append(pa.table(columns))
    db.register("exc_records_in", pa.concat_tables(parts))
    # A permanent table: the exceptions are written on a connection of their own (copy_many).
    db.execute("CREATE OR REPLACE TABLE exc_records AS SELECT * FROM exc_records_in")
    db.unregister("exc_records_in")


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
