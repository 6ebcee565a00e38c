"""The SQL of each stage: candidate generation in blocks, scoring, and one-to-one assignment.

Working tables (created by `engine.prepare`):
    pg, bank                    the inputs with a row id `rid` and the PG net amount
    pg_free, bank_free          records no stage has decided yet (refreshed by mark_taken)
    match_rows                  decided pairs (one row per PG member of a match)
    exc_rows                    decided exceptions (one row per record)

Every value from the rule set reaches SQL through DuckDB variables (`getvariable`), never by
pasting text into a query. Candidate tables always have the same columns, so one assignment
routine serves one-to-one and many-to-one stages alike:
    l, r (the two sides' ids), r_utr, r_amount, r_date, r_ref (rule outcomes),
    amount_delta (bank - pg), date_delta (days, bank - pg), utr_missing, confidence,
    and what a match row shows of both records (OUTPUT_COLUMNS), carried from the candidate join so
    that writing a million matches needs no second join with the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from hisaab.matching.backends.base import Backend
from hisaab.matching.rules import OneToOneStage, RuleSet, SettlementGroupStage

# How many rounds of "accept mutual unique best pairs" before the rest counts as tied.
_MAX_ROUNDS = 25

_CONFIDENCE = (
    "(getvariable('w_utr') * r_utr::INT + getvariable('w_amount') * r_amount::INT"
    " + getvariable('w_date') * r_date::INT + getvariable('w_ref') * r_ref::INT)"
    " / getvariable('w_total')"
)
_AMOUNT_OK = (
    "(abs({b} - {p}) <= getvariable('amount_tol_minor')"
    " OR abs({b} - {p}) * 10000 <= getvariable('amount_tol_bps') * {p})"
)
OUTPUT_COLUMNS = """p.record_id AS p_id, b.record_id AS b_id, p.amount_minor AS p_amount,
    b.amount_minor AS b_amount, p.net_minor AS p_net, p.source_line AS p_line,
    b.source_line AS b_line, b.currency AS currency"""
_TIED_REASON = "candidates that score the same compete for this record; none is picked silently"
_TIED_GROUP_REASON = "settlement groups or credits that fit equally well compete for this record"
_UTR_CONFLICT = "(p.utr IS NOT NULL AND b.utr IS NOT NULL AND p.utr <> b.utr)"


# Columns that link records (references, not amounts): compared only once trimmed.
REFERENCE_COLUMNS = ("utr", "merchant_ref", "settlement_id", "settlement_utr", "merchant_id")


def side_select(side: str, source: str) -> str:
    """The records of a side as the stages see them, from an input-shaped relation `source`:
    its row id, the columns the stages compare, and the PG net amount."""
    net = (
        "amount_minor - coalesce(fee_minor, 0) - coalesce(tax_minor, 0)"
        if side == "pg"
        else "amount_minor"
    )
    return f"""
        SELECT rid, record_id, amount_minor, {net} AS net_minor, currency, direction,
               value_date, {", ".join(REFERENCE_COLUMNS)}, source_line
        FROM {source}
    """


def set_variables(db: Backend, ruleset: RuleSet) -> None:
    rules = ruleset.rules
    values: dict[str, float | int] = {
        "w_utr": rules.utr.weight,
        "w_amount": rules.amount.weight,
        "w_date": rules.date.weight,
        "w_ref": rules.merchant_ref.weight,
        "w_total": rules.total_weight,
        "threshold": ruleset.threshold,
        "amount_tol_minor": rules.amount.tolerance_minor,
        "amount_tol_bps": rules.amount.tolerance_bps,
        "date_tol_days": rules.date.tolerance_days,
    }
    for name, value in values.items():
        db.execute(f"SET VARIABLE {name} = ?", [value])


def one_to_one(
    db: Backend, stage: OneToOneStage, inputs: Mapping[str, pa.Table] | None = None
) -> None:
    """Pair single PG records with single bank records inside blocks of `stage.block_on`.

    `inputs` (the engine's input tables, by side) is given while the free pools are still
    all of the inputs: mark_taken then finds what is left by position.
    """
    db.execute("SET VARIABLE stage_name = ?", [stage.name])
    db.execute("SET VARIABLE max_candidates = ?", [stage.max_candidates])
    key = "NULL"
    if stage.block_on == "utr":
        key, block = "p.utr", "p.utr = b.utr"
        _shared_keys(db, "utr")
    elif stage.block_on == "merchant_ref":
        key, block = "p.merchant_ref", f"p.merchant_ref = b.merchant_ref AND NOT {_UTR_CONFLICT}"
        _shared_keys(db, "merchant_ref")
    else:
        _overloaded_amount_date(db)
        block = (
            "p.amount_minor = b.amount_minor"
            " AND b.value_date BETWEEN p.value_date - CAST(getvariable('date_tol_days') AS INT)"
            " AND p.value_date + CAST(getvariable('date_tol_days') AS INT)"
            f" AND NOT {_UTR_CONFLICT}"
            " AND p.rid NOT IN (SELECT rid FROM overloaded WHERE side = 'pg')"
            " AND b.rid NOT IN (SELECT rid FROM overloaded WHERE side = 'bank')"
        )
    db.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cand AS
        SELECT *, {_CONFIDENCE} AS confidence FROM (
            SELECT p.rid AS l, b.rid AS r,
                   coalesce(p.utr = b.utr, false) AS r_utr,
                   {_AMOUNT_OK.format(b="b.amount_minor", p="p.amount_minor")} AS r_amount,
                   abs(date_diff('day', p.value_date, b.value_date))
                       <= getvariable('date_tol_days') AS r_date,
                   coalesce(p.merchant_ref = b.merchant_ref, false) AS r_ref,
                   b.amount_minor - p.amount_minor AS amount_delta,
                   date_diff('day', p.value_date, b.value_date) AS date_delta,
                   (p.utr IS NULL OR b.utr IS NULL) AS utr_missing, {key} AS k,
                   {OUTPUT_COLUMNS}
            FROM pg_free p JOIN bank_free b
              ON p.currency = b.currency AND p.direction = b.direction AND {block}
        )
        """
    )
    # A key found on one record of each side can only pair those two: no counting needed.
    assign(db, keyed=stage.block_on != "amount_date")
    _record_pairs(db, match_type="one_to_one")
    tied_category = "DUPLICATE_UTR" if stage.block_on == "utr" else "AMBIGUOUS"
    _record_tied(db, tied_category, _TIED_REASON)
    if stage.block_on == "utr":
        _record_leftover_duplicates(db)
    elif stage.block_on == "amount_date":
        _record_overloaded(db)
    mark_taken(db, inputs)


def settlement_group(
    db: Backend, stage: SettlementGroupStage, inputs: Mapping[str, pa.Table] | None = None
) -> None:
    """Many PG payments to one bank credit, linked by settlement_id or the settlement UTR.

    A group is the free PG records sharing a settlement_id (or, without one, a settlement UTR);
    its expected credit is the sum of amount - fee - tax. The bank credit is found by the same
    settlement_id extracted from its narration, or by its UTR equal to the settlement UTR.
    """
    db.execute("SET VARIABLE stage_name = ?", [stage.name])
    db.execute("SET VARIABLE window_days = ?", [stage.date_window_days])
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE grp_member AS
        SELECT rid, currency, direction,
               coalesce('id:' || settlement_id, 'utr:' || settlement_utr) AS gkey
        FROM pg_free WHERE settlement_id IS NOT NULL OR settlement_utr IS NOT NULL
        """
    )
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE grp AS
        SELECT dense_rank() OVER (ORDER BY m.currency, m.direction, m.gkey) AS gid,
               m.currency, m.direction, m.gkey,
               min(p.settlement_id) AS settlement_id,
               min(p.settlement_utr) AS settlement_utr,
               sum(p.net_minor) AS net_minor, count(*) AS members,
               max(p.value_date) AS last_date
        FROM grp_member m JOIN pg_free p USING (rid)
        GROUP BY m.currency, m.direction, m.gkey
        """
    )
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE grp_member AS
        SELECT g.gid, m.rid FROM grp_member m
        JOIN grp g ON g.currency = m.currency AND g.direction = m.direction AND g.gkey = m.gkey
        """
    )
    db.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cand AS
        WITH links AS (
            SELECT g.gid, b.rid FROM grp g JOIN bank_free b
              ON b.currency = g.currency AND b.direction = g.direction
             AND b.settlement_id = g.settlement_id
            UNION
            SELECT g.gid, b.rid FROM grp g JOIN bank_free b
              ON b.currency = g.currency AND b.direction = g.direction
             AND b.utr = g.settlement_utr
        )
        SELECT *, {_CONFIDENCE} AS confidence FROM (
            SELECT k.gid AS l, k.rid AS r, true AS r_utr,
                   {_AMOUNT_OK.format(b="b.amount_minor", p="g.net_minor")} AS r_amount,
                   date_diff('day', g.last_date, b.value_date)
                       BETWEEN 0 AND getvariable('window_days') AS r_date,
                   false AS r_ref,
                   b.amount_minor - g.net_minor AS amount_delta,
                   date_diff('day', g.last_date, b.value_date) AS date_delta,
                   false AS utr_missing,
                   CAST(NULL AS VARCHAR) AS p_id, b.record_id AS b_id,
                   CAST(NULL AS BIGINT) AS p_amount, b.amount_minor AS b_amount,
                   CAST(NULL AS BIGINT) AS p_net, CAST(NULL AS BIGINT) AS p_line,
                   b.source_line AS b_line, b.currency AS currency
            FROM links k JOIN grp g USING (gid) JOIN bank_free b ON b.rid = k.rid
        )
        """
    )
    assign(db)
    # Expand accepted groups to their members so that the pair logic records them.
    for table in ("accepted", "tied"):
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table}_members AS
            SELECT m.rid AS l, p.record_id AS p_id, p.amount_minor AS p_amount,
                   p.net_minor AS p_net, p.source_line AS p_line,
                   t.* EXCLUDE (l, p_id, p_amount, p_net, p_line)
            FROM {table} t JOIN grp_member m ON m.gid = t.l JOIN pg_free p ON p.rid = m.rid
            """
        )
    _record_pairs(db, match_type="many_to_one", pairs="accepted_members")
    _record_tied(db, "AMBIGUOUS", _TIED_GROUP_REASON, tied="tied_members")
    mark_taken(db, inputs)


def assign(db: Backend, *, keyed: bool = False) -> None:
    """One-to-one assignment over `cand`, deterministic and independent of input order.

    A pair is accepted when each side is the other's unique best candidate, ranking by
    confidence, then the smaller amount difference, then the smaller date difference.
    Accepted records leave, and the rest is ranked again, until nothing changes. What remains
    is `tied`: candidates that cannot be told apart, which become exceptions listing them.
    The common case (each record has exactly one candidate) is accepted without ranking: for
    key-blocked stages (`keyed`), every candidate whose key is not in `shared_keys` (keys on
    more than one record of a side) is such a pair; otherwise candidates are counted per side.
    """
    drop_relation(db, "fast")
    if keyed:
        db.execute(
            "CREATE TEMP VIEW fast AS SELECT * FROM cand WHERE k NOT IN (SELECT k FROM shared_keys)"
        )
        db.execute(
            "CREATE OR REPLACE TEMP TABLE live AS"
            " SELECT * FROM cand WHERE k IN (SELECT k FROM shared_keys)"
        )
    else:
        db.execute(
            """
            CREATE TEMP TABLE fast AS
            WITH lc AS (SELECT l FROM cand GROUP BY l HAVING count(*) = 1),
                 rc AS (SELECT r FROM cand GROUP BY r HAVING count(*) = 1)
            SELECT c.* FROM cand c SEMI JOIN lc USING (l) SEMI JOIN rc USING (r)
            """
        )
        db.execute(
            """
            CREATE OR REPLACE TEMP TABLE live AS
            SELECT * FROM cand c
            WHERE c.l NOT IN (SELECT l FROM fast) AND c.r NOT IN (SELECT r FROM fast)
            """
        )
    db.execute("CREATE OR REPLACE TEMP TABLE picked AS SELECT * FROM cand LIMIT 0")
    for _ in range(_MAX_ROUNDS):
        if db.rows("SELECT count(*) FROM live")[0][0] == 0:
            break
        db.execute(
            """
            CREATE OR REPLACE TEMP TABLE pick AS
            WITH ranked AS (
                SELECT *,
                    rank() OVER (PARTITION BY l ORDER BY confidence DESC,
                                 abs(amount_delta), abs(date_delta)) AS lrank,
                    rank() OVER (PARTITION BY r ORDER BY confidence DESC,
                                 abs(amount_delta), abs(date_delta)) AS rrank
                FROM live
            ), ties AS (
                SELECT *,
                    count(*) FILTER (WHERE lrank = 1) OVER (PARTITION BY l) AS lties,
                    count(*) FILTER (WHERE rrank = 1) OVER (PARTITION BY r) AS rties
                FROM ranked
            )
            SELECT * EXCLUDE (lrank, rrank, lties, rties) FROM ties
            WHERE lrank = 1 AND rrank = 1 AND lties = 1 AND rties = 1
            """
        )
        if db.rows("SELECT count(*) FROM pick")[0][0] == 0:
            break
        db.execute("INSERT INTO picked SELECT * FROM pick")
        db.execute("DELETE FROM live WHERE l IN (SELECT l FROM pick) OR r IN (SELECT r FROM pick)")
    db.execute("CREATE OR REPLACE TEMP TABLE tied AS SELECT * FROM live")
    # The fast path's million rows are not copied: accepted is a view over both tables.
    db.execute(
        "CREATE OR REPLACE TEMP VIEW accepted AS SELECT * FROM fast UNION ALL SELECT * FROM picked"
    )


def _record_pairs(db: Backend, *, match_type: str, pairs: str = "accepted") -> None:
    """Accepted pairs: matches (auto or suggested) or, when amounts differ, AMOUNT_MISMATCH."""
    db.execute(
        f"""
        INSERT INTO match_rows
        SELECT getvariable('stage_name'), ?, l, r, confidence,
               CASE WHEN confidence >= getvariable('threshold') - 1e-9
                    THEN 'auto' ELSE 'suggested' END,
               r_utr, r_amount, r_date, r_ref, amount_delta, date_delta,
               p_id, b_id, p_amount, b_amount, p_net, p_line, b_line, currency
        FROM {pairs} WHERE r_amount
        """,
        [match_type],
    )
    # Suggested matches stay visible as exceptions, named by what kept them below threshold.
    reason = """CASE WHEN utr_missing THEN 'UTR_MISSING'
                     WHEN NOT r_date THEN 'DATE_MISMATCH' ELSE 'LOW_CONFIDENCE' END"""
    below = "r_amount AND confidence < getvariable('threshold') - 1e-9"
    mismatch_reason = "'amounts differ by more than the tolerance'"
    suggested_reason = "'suggested match below the confidence threshold'"
    for side, own, other in (("pg", "l", "r"), ("bank", "r", "l")):
        other_side = "bank" if side == "pg" else "pg"
        counterpart = f"struct_pack(side := '{other_side}', rid := {other})"
        for category, where, why in (
            ("'AMOUNT_MISMATCH'", "NOT r_amount", mismatch_reason),
            (reason, below, suggested_reason),
        ):
            if match_type == "one_to_one":
                # A record is in at most one accepted one-to-one pair: one row each, no grouping.
                db.execute(
                    f"""
                    INSERT INTO exc_rows
                    SELECT '{side}', {own}, {category}, getvariable('stage_name'),
                           [{counterpart}], amount_delta, date_delta, confidence, {why}
                    FROM {pairs} WHERE {where}
                    """
                )
            else:
                db.execute(
                    f"""
                    INSERT INTO exc_rows
                    SELECT '{side}', {own}, any_value({category}), getvariable('stage_name'),
                           list({counterpart}), any_value(amount_delta),
                           any_value(date_delta), any_value(confidence), {why}
                    FROM {pairs} WHERE {where} GROUP BY {own}
                    """
                )


def _record_tied(db: Backend, category: str, reason: str, tied: str = "tied") -> None:
    for side, own, other in (("pg", "l", "r"), ("bank", "r", "l")):
        other_side = "bank" if side == "pg" else "pg"
        db.execute(
            f"""
            INSERT INTO exc_rows
            SELECT '{side}', {own}, ?, getvariable('stage_name'),
                   list(DISTINCT struct_pack(side := '{other_side}', rid := {other})),
                   NULL, NULL, max(confidence), ?
            FROM {tied}
            WHERE {own} NOT IN (SELECT rid FROM exc_rows WHERE side = '{side}')
            GROUP BY {own}
            """,
            [category, reason],
        )


def _shared_keys(db: Backend, column: str) -> None:
    """Key values found on more than one free record of a side (for UTRs: DUPLICATE_UTR)."""
    db.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE shared_keys AS
        SELECT {column} AS k FROM pg_free WHERE {column} IS NOT NULL
        GROUP BY {column} HAVING count(*) > 1
        UNION
        SELECT {column} FROM bank_free WHERE {column} IS NOT NULL
        GROUP BY {column} HAVING count(*) > 1
        """
    )


def _record_leftover_duplicates(db: Backend) -> None:
    """Records sharing a UTR that the assignment could not pair uniquely: DUPLICATE_UTR."""
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE dup_members AS
        SELECT 'pg' AS side, rid, utr FROM pg_free WHERE utr IN (SELECT k FROM shared_keys)
        UNION ALL
        SELECT 'bank', rid, utr FROM bank_free WHERE utr IN (SELECT k FROM shared_keys)
        """
    )
    db.execute(
        """
        INSERT INTO exc_rows
        SELECT d.side, d.rid, 'DUPLICATE_UTR', getvariable('stage_name'),
               list(struct_pack(side := o.side, rid := o.rid) ORDER BY o.side, o.rid)
                   FILTER (WHERE o.rid IS NOT NULL),
               NULL, NULL, NULL,
               'UTR ' || d.utr || ' appears on ' || CAST(count(o.rid) + 1 AS VARCHAR)
                   || ' records'
        FROM dup_members d
        LEFT JOIN dup_members o ON o.utr = d.utr AND NOT (o.side = d.side AND o.rid = d.rid)
        WHERE NOT (d.side = 'pg' AND d.rid IN (SELECT prid FROM match_rows))
          AND NOT (d.side = 'bank' AND d.rid IN (SELECT brid FROM match_rows))
          AND NOT EXISTS (SELECT 1 FROM exc_rows x WHERE x.side = d.side AND x.rid = d.rid)
        GROUP BY d.side, d.rid, d.utr
        """
    )


def _overloaded_amount_date(db: Backend) -> None:
    """Records with more same-amount candidates in the date window than the stage allows.

    Counted from per-day aggregates, so a block of a million identical round amounts costs
    one aggregate and never a cross product. A record whose UTR is known only counts the
    other side's records without a UTR, since any other UTR would conflict.
    """
    for side, other in (("pg", "bank"), ("bank", "pg")):
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE agg_{other} AS
            SELECT currency, direction, amount_minor, value_date,
                   count(*) AS n_all, count(*) FILTER (WHERE utr IS NULL) AS n_no_utr
            FROM {other}_free GROUP BY ALL
            """
        )
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE overloaded_{side} AS
            SELECT '{side}' AS side, x.rid,
                   sum(CASE WHEN x.utr IS NULL THEN a.n_all ELSE a.n_no_utr END) AS n
            FROM {side}_free x JOIN agg_{other} a
              ON a.currency = x.currency AND a.direction = x.direction
             AND a.amount_minor = x.amount_minor
             AND a.value_date BETWEEN x.value_date - CAST(getvariable('date_tol_days') AS INT)
                                  AND x.value_date + CAST(getvariable('date_tol_days') AS INT)
            GROUP BY x.rid HAVING n > getvariable('max_candidates')
            """
        )
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE overloaded AS
        SELECT * FROM overloaded_pg UNION ALL SELECT * FROM overloaded_bank
        """
    )


def _record_overloaded(db: Backend) -> None:
    db.execute(
        """
        INSERT INTO exc_rows
        SELECT side, rid, 'AMBIGUOUS', getvariable('stage_name'), [], NULL, NULL, NULL,
               CAST(n AS VARCHAR) || ' records with the same amount in the date window;'
                   || ' too many to tell apart'
        FROM overloaded o
        WHERE NOT EXISTS (SELECT 1 FROM exc_rows x WHERE x.side = o.side AND x.rid = o.rid)
        """
    )


def drop_relation(db: Backend, *names: str) -> None:
    """Drop views or tables of these names, whichever each is (DuckDB wants the kind named)."""
    views = {
        row[0]
        for row in db.rows(
            "SELECT view_name FROM duckdb_views() WHERE list_contains(?, view_name)"
            " AND NOT internal",
            [list(names)],
        )
    }
    db.execute("; ".join(f"DROP {'VIEW' if n in views else 'TABLE'} IF EXISTS {n}" for n in names))


def mark_taken(db: Backend, inputs: Mapping[str, pa.Table] | None = None) -> None:
    """Record what this stage decided and shrink the free pools to what is left.

    With `inputs` (the pools are still every input record), the records left are found by
    position in Arrow: a row id is a record's position in its input table, so this is a
    mask and a filter, not an anti join (or a set lookup) that hashes a million decided row ids.
    """
    for side, match_col in (("pg", "prid"), ("bank", "brid")):
        decided = f"""
            SELECT {match_col} AS rid FROM match_rows WHERE stage = getvariable('stage_name')
            UNION ALL
            SELECT rid FROM exc_rows WHERE side = '{side}' AND stage = getvariable('stage_name')
        """
        if inputs is not None:
            table = inputs[side]
            taken = db.arrow(decided).column("rid").to_numpy()
            keep = np.ones(len(table), dtype=np.bool_)
            keep[taken] = False
            left = table.filter(pa.array(keep))
            db.register(f"{side}_left_in", left)
            db.execute(
                f"CREATE OR REPLACE TEMP TABLE {side}_left AS"
                f" {side_select(side, f'{side}_left_in')}"
            )
            db.unregister(f"{side}_left_in")
        else:
            db.execute(f"CREATE OR REPLACE TEMP TABLE decided AS {decided}")
            db.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE {side}_left AS
                SELECT * FROM {side}_free ANTI JOIN decided USING (rid)
                """
            )
        drop_relation(db, f"{side}_free")
        db.execute(f"ALTER TABLE {side}_left RENAME TO {side}_free")
    # What a stage worked with is recorded now: free its memory before the next one.
    drop_relation(db, "accepted", "fast", "live", "tied", "picked", "pick", "cand", "decided")
