"""Many-to-one matching without a settlement reference: a bounded exact subset-sum search.

A bank credit that no reference links to anything may still be a settlement of PG payments
when it names the merchant it settles. Inside its block (same currency and direction, that
merchant's payments with neither a settlement id nor a settlement UTR, value dates in the
window before the credit) we look for the subsets of PG net amounts that add up to the credit.
Credits that name no merchant are not searched: across merchants, a few dozen loose payments
make almost any amount some subset's sum. The search is bounded twice: blocks larger than
`max_candidates` are not searched at all, and subsets larger than `max_group_size` are not
considered. It is a meet-in-the-middle search: 2 x 2^(n/2) partial sums instead of 2^n.

Only a credit with exactly one solution, sharing no payment with another credit's solution,
is proposed. Because a sum alone is weak evidence, these matches score below the automatic
threshold under the default weights and are proposed for review.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from hisaab.matching.backends.base import Backend
from hisaab.matching.rules import SubsetSumStage
from hisaab.matching.stages import OUTPUT_COLUMNS

# Stop enumerating a credit's solutions at this many: two already make it ambiguous.
_ENOUGH = 2


@dataclass(frozen=True)
class Block:
    bank_rid: int
    target: int
    pg_rids: tuple[int, ...]
    nets: tuple[int, ...]


def find_subsets(
    nets: Sequence[int], target: int, *, tolerance: int, max_size: int, enough: int = _ENOUGH
) -> list[tuple[int, ...]]:
    """Index tuples (size 1..max_size) whose values sum to target within tolerance.

    Returns at most `enough` solutions, in a deterministic order.
    """
    n = len(nets)
    half = n // 2
    left, right = nets[:half], nets[half:]

    def partial_sums(values: Sequence[int]) -> list[tuple[int, int, int]]:
        sums = [(0, 0, 0)]  # (sum, mask, size)
        for i, v in enumerate(values):
            sums += [(s + v, m | (1 << i), k + 1) for s, m, k in sums]
        return sums

    by_sum: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for s, m, k in partial_sums(right):
        by_sum[s].append((m, k))
    found: list[tuple[int, ...]] = []
    for s, lmask, lsize in sorted(partial_sums(left), key=lambda t: (t[0], t[1])):
        for delta in range(-tolerance, tolerance + 1):
            for rmask, rsize in by_sum.get(target - s + delta, ()):
                size = lsize + rsize
                if not 1 <= size <= max_size:
                    continue
                idx = tuple(i for i in range(half) if lmask >> i & 1) + tuple(
                    half + i for i in range(n - half) if rmask >> i & 1
                )
                found.append(idx)
                if len(found) >= enough:
                    return found
    return found


def subset_sum(db: Backend, stage: SubsetSumStage, *, tolerance: int) -> None:
    """Run the stage: propose unique subset-sum settlements, flag credits with several."""
    db.execute("SET VARIABLE stage_name = ?", [stage.name])
    db.execute("SET VARIABLE window_days = ?", [stage.date_window_days])
    db.execute("SET VARIABLE max_candidates = ?", [stage.max_candidates])
    blocks = _blocks(db)
    solutions: dict[int, list[tuple[int, ...]]] = {}
    for block in blocks:
        found = find_subsets(
            block.nets, block.target, tolerance=tolerance, max_size=stage.max_group_size
        )
        if found:
            solutions[block.bank_rid] = [tuple(block.pg_rids[i] for i in f) for f in found]
    claims: dict[int, int] = defaultdict(int)
    for sols in solutions.values():
        for sol in sols:
            for rid in sol:
                claims[rid] += 1
    by_rid = {b.bank_rid: b for b in blocks}
    pairs: list[dict[str, object]] = []
    ambiguous: list[dict[str, object]] = []
    for bank_rid in sorted(solutions):
        sols = solutions[bank_rid]
        block = by_rid[bank_rid]
        if len(sols) == 1 and all(claims[rid] == 1 for rid in sols[0]):
            pairs += [{"l": rid, "r": bank_rid} for rid in sols[0]]
        else:
            ambiguous.append(
                {"r": bank_rid, "candidates": sorted({rid for sol in sols for rid in sol})}
            )
    _record(db, pairs, ambiguous)


def _blocks(db: Backend) -> list[Block]:
    # Count candidates from per-day aggregates first, so that only bounded blocks are expanded.
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE ss_pg AS
        SELECT * FROM pg_free
        WHERE settlement_id IS NULL AND settlement_utr IS NULL
        """
    )
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE ss_bank AS
        WITH agg AS (
            SELECT currency, direction, merchant_id, value_date, count(*) AS n
            FROM ss_pg GROUP BY ALL
        )
        SELECT b.rid, b.amount_minor
        FROM bank_free b JOIN agg a
          ON a.currency = b.currency AND a.direction = b.direction
         AND a.merchant_id = b.merchant_id
         AND a.value_date BETWEEN b.value_date - CAST(getvariable('window_days') AS INT)
                              AND b.value_date
        GROUP BY b.rid, b.amount_minor
        HAVING sum(a.n) BETWEEN 1 AND getvariable('max_candidates')
        """
    )
    rows = db.rows(
        """
        SELECT s.rid, s.amount_minor,
               list(p.rid ORDER BY p.net_minor, p.rid),
               list(p.net_minor ORDER BY p.net_minor, p.rid)
        FROM ss_bank s JOIN bank_free b ON b.rid = s.rid JOIN ss_pg p
          ON p.currency = b.currency AND p.direction = b.direction
         AND p.merchant_id = b.merchant_id
         AND p.value_date BETWEEN b.value_date - CAST(getvariable('window_days') AS INT)
                              AND b.value_date
        GROUP BY s.rid, s.amount_minor
        ORDER BY s.rid
        """
    )
    return [Block(r[0], r[1], tuple(r[2]), tuple(r[3])) for r in rows]


def _record(
    db: Backend, pairs: list[dict[str, object]], ambiguous: list[dict[str, object]]
) -> None:
    if pairs:
        db.register("ss_pairs", pa.Table.from_pylist(pairs))
        db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE ss_accepted AS
            WITH g AS (
                SELECT s.r, sum(p.net_minor) AS net, max(p.value_date) AS last_date
                FROM ss_pairs s JOIN pg p ON p.rid = s.l GROUP BY s.r
            )
            SELECT s.l, s.r, false AS r_utr, true AS r_amount,
                   date_diff('day', g.last_date, b.value_date)
                       BETWEEN 0 AND getvariable('window_days') AS r_date,
                   true AS r_ref, b.amount_minor - g.net AS amount_delta,
                   date_diff('day', g.last_date, b.value_date) AS date_delta,
                   true AS utr_missing, {OUTPUT_COLUMNS}
            FROM ss_pairs s JOIN g ON g.r = s.r JOIN bank b ON b.rid = s.r JOIN pg p ON p.rid = s.l
            """
        )
        db.execute(
            """
            INSERT INTO match_rows
            SELECT getvariable('stage_name'), 'many_to_one', l, r, c,
                   CASE WHEN c >= getvariable('threshold') - 1e-9 THEN 'auto' ELSE 'suggested' END,
                   r_utr, r_amount, r_date, r_ref, amount_delta, date_delta,
                   p_id, b_id, p_amount, b_amount, p_net, p_line, b_line, currency
            FROM (
                SELECT *, (getvariable('w_amount') * r_amount::INT
                           + getvariable('w_date') * r_date::INT
                           + getvariable('w_ref') * r_ref::INT) / getvariable('w_total') AS c
                FROM ss_accepted
            )
            """
        )
        for side, own, other, other_side in (("pg", "l", "r", "bank"), ("bank", "r", "l", "pg")):
            db.execute(
                f"""
                INSERT INTO exc_rows
                SELECT '{side}', m.{own}, 'UTR_MISSING', getvariable('stage_name'),
                       list(struct_pack(side := '{other_side}', rid := m.{other})),
                       any_value(m.amount_delta), any_value(m.date_delta),
                       any_value(m.confidence),
                       'settlement found by amount sum; no reference links it'
                FROM (SELECT prid AS l, brid AS r, * FROM match_rows
                      WHERE stage = getvariable('stage_name') AND status = 'suggested') m
                GROUP BY m.{own}
                """
            )
    if ambiguous:
        db.register(
            "ss_ambiguous",
            pa.Table.from_pylist(
                ambiguous,
                schema=pa.schema([("r", pa.int64()), ("candidates", pa.list_(pa.int64()))]),
            ),
        )
        db.execute(
            """
            INSERT INTO exc_rows
            SELECT 'bank', r, 'AMBIGUOUS', getvariable('stage_name'),
                   list_transform(candidates, lambda x: struct_pack(side := 'pg', rid := x)),
                   NULL, NULL, NULL,
                   'several sets of PG payments add up to this credit'
            FROM ss_ambiguous
            """
        )
