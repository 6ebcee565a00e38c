"""A finished reconciliation: its matches, its exceptions, its summary, and writing them out.

Ids say where to look: a match's id is the line of its bank record (a bank line is in at most
one match) and an exception's is `<side>-<line>` (a record is in at most one exception), so
they are unique within a run and the same when the same files are reconciled again. Rows follow the
statement's own line order, so re-running gives byte-identical files.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hisaab.matching.backends.base import Backend, OutputFormat, Sorted
from hisaab.matching.categories import EXCEPTION_CATEGORIES
from hisaab.matching.rules import RuleSet

if TYPE_CHECKING:
    from hisaab.matching.engine import RunInfo


MATCHES = Sorted(
    """
    SELECT bank_line AS match_id,
           match_type, stage, CAST(confidence AS DECIMAL(5, 4)) AS confidence, status,
           pg_record_id, bank_record_id, pg_amount AS pg_amount_minor,
           bank_amount AS bank_amount_minor, pg_line AS pg_source_line,
           bank_line AS bank_source_line, currency, pg_net AS pg_net_minor,
           amount_delta AS amount_delta_minor, date_delta AS date_delta_days,
           CAST(r_utr::INT * getvariable('w_utr') AS DECIMAL(9, 4)) AS score_utr,
           CAST(r_amount::INT * getvariable('w_amount') AS DECIMAL(9, 4)) AS score_amount,
           CAST(r_date::INT * getvariable('w_date') AS DECIMAL(9, 4)) AS score_date,
           CAST(r_ref::INT * getvariable('w_ref') AS DECIMAL(9, 4)) AS score_merchant_ref
    FROM match_rows
    """,
    ("bank_source_line", "pg_source_line"),
)
MATCHES_SQL = MATCHES.sql

_RECORD_FIELDS = """r.record_id, r.source_line, r.amount_minor, r.currency, r.direction,
    r.value_date, r.utr"""

# exc_records (made by the engine once all exceptions are known) holds every record that an
# exception names or lists as a counterpart, so nothing here scans the million-row inputs.
EXCEPTIONS = Sorted(
    f"""
    WITH xr AS (
        SELECT x.*, {_RECORD_FIELDS}
        FROM exc_rows x JOIN exc_records r ON r.side = x.side AND r.rid = x.rid
    ), cp AS (
        SELECT x.side, x.rid, u.c.side AS c_side, u.c.rid AS c_rid
        FROM exc_rows x, unnest(x.counterparts) AS u(c) WHERE len(x.counterparts) > 1
    ), cpr AS (
        SELECT cp.side, cp.rid, cp.c_side, {_RECORD_FIELDS}
        FROM cp JOIN exc_records r ON r.side = cp.c_side AND r.rid = cp.c_rid
    ), parts AS (
        -- Sorted as side, record id, line: list_sort on structs whose first fields are those,
        -- then the fields in the published order. An ORDER BY inside list() costs five times
        -- as much (a sort per group).
        SELECT side, rid, list_transform(
                   list_sort(list(struct_pack(
                       s := c_side, i := record_id, l := source_line, a := amount_minor,
                       d := value_date, u := utr))),
                   lambda c: struct_pack(
                       side := c.s, record_id := c.i, amount_minor := c.a, value_date := c.d,
                       source_line := c.l, utr := c.u)) AS counterparts
        FROM cpr GROUP BY side, rid
    ), one AS (
        -- Most exceptions name one counterpart: its list needs no grouping and no sorting.
        SELECT x.side, x.rid, [struct_pack(
                   side := r.side, record_id := r.record_id, amount_minor := r.amount_minor,
                   value_date := r.value_date, source_line := r.source_line, utr := r.utr)]
                   AS counterparts
        FROM exc_rows x JOIN exc_records r
          ON r.side = x.counterparts[1].side AND r.rid = x.counterparts[1].rid
        WHERE len(x.counterparts) = 1
    )
    SELECT x.side || '-' || CAST(x.source_line AS VARCHAR) AS exception_id,
           x.category, x.side, x.record_id, x.source_line, x.amount_minor, x.currency,
           x.direction, x.value_date, x.utr, x.stage,
           array_to_string(list_transform(coalesce(p.counterparts, []),
                                          lambda c: c.record_id), ';') AS counterpart_record_ids,
           x.amount_delta AS amount_delta_minor,
           to_json(struct_pack(
               reason := x.reason, stage := x.stage, confidence := round(x.confidence, 4),
               amount_delta_minor := x.amount_delta, date_delta_days := x.date_delta,
               counterparts := coalesce(p.counterparts, [])
           )) AS details
    FROM xr x LEFT JOIN (SELECT * FROM parts UNION ALL SELECT * FROM one) p
      ON p.side = x.side AND p.rid = x.rid
    """,
    ("side DESC", "source_line", "record_id"),
)
EXCEPTIONS_SQL = EXCEPTIONS.sql


class ReconResult:
    """Holds the engine's working tables until the caller has read or written what it needs."""

    def __init__(
        self, *, db: Backend, ruleset: RuleSet, info: RunInfo, elapsed_seconds: float
    ) -> None:
        self.db = db
        self.ruleset = ruleset
        self.info = info
        self.elapsed_seconds = elapsed_seconds

    def matches(self) -> pa.Table:
        return self.db.arrow(MATCHES_SQL)

    def exceptions(self) -> pa.Table:
        return self.db.arrow(EXCEPTIONS_SQL)

    def summary(self) -> dict[str, Any]:
        """Counts and amounts by stage and category, match rates, and what the run used."""
        totals = {
            side: self.db.rows(
                "SELECT currency, records, amount_minor FROM input_totals WHERE side = ?", [side]
            )
            for side in ("pg", "bank")
        }
        by_stage = self.db.rows(
            """
            WITH one AS (
                SELECT stage, status, match_type, currency, count(*) AS n_bank,
                       count(*) AS n_pg, sum(pg_amount) AS pg_amount,
                       sum(bank_amount) AS bank_amount
                FROM match_rows WHERE match_type = 'one_to_one' GROUP BY ALL
            ), many AS (
                SELECT stage, status, match_type, currency, count(*) AS n_bank,
                       sum(n_pg) AS n_pg, sum(pg_amount) AS pg_amount,
                       sum(bank_amount) AS bank_amount
                FROM (
                    SELECT stage, status, match_type, currency, brid, count(*) AS n_pg,
                           sum(pg_amount) AS pg_amount, any_value(bank_amount) AS bank_amount
                    FROM match_rows WHERE match_type = 'many_to_one' GROUP BY ALL
                ) GROUP BY ALL
            )
            SELECT * FROM one UNION ALL SELECT * FROM many ORDER BY ALL
            """
        )
        by_category = self.db.rows(
            """
            SELECT x.category, x.side, r.currency, count(*), sum(r.amount_minor)
            FROM exc_rows x JOIN exc_records r ON r.side = x.side AND r.rid = x.rid
            GROUP BY ALL ORDER BY ALL
            """
        )
        stages_out: dict[str, dict[str, Any]] = {
            s.name: {"auto": {}, "suggested": {}} for s in self.ruleset.stages
        }
        matched: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for stage, status, match_type, cur, n_bank, n_pg, pg_amt, bank_amt in by_stage:
            stages_out[stage][status][cur] = {
                "match_type": match_type,
                "matches": n_bank,
                "pg_records": int(n_pg),
                "pg_amount_minor": int(pg_amt),
                "bank_records": n_bank,
                "bank_amount_minor": int(bank_amt),
            }
            if status == "auto":
                for side, n, amount in (("pg", n_pg, pg_amt), ("bank", n_bank, bank_amt)):
                    matched[(side, cur)][0] += int(n)
                    matched[(side, cur)][1] += int(amount)
        categories: dict[str, dict[str, Any]] = defaultdict(dict)
        for category, side, cur, n, amt in by_category:
            categories[category].setdefault(side, {})[cur] = {
                "records": n,
                "amount_minor": int(amt),
            }
        rates: dict[str, dict[str, Any]] = {"pg": {}, "bank": {}}
        for side in ("pg", "bank"):
            for cur, n, amt in sorted(totals[side]):
                got_n, got_amt = matched[(side, cur)]
                rates[side][cur] = {
                    "records": n,
                    "amount_minor": int(amt),
                    "matched_records": got_n,
                    "matched_amount_minor": got_amt,
                    "match_rate_by_count": round(got_n / n, 6),
                    "match_rate_by_amount": round(got_amt / int(amt), 6) if amt else None,
                }
        return {
            "ruleset": {
                "version": self.info.ruleset_version,
                "source": self.info.ruleset_source,
                "threshold": self.info.threshold,
                "stages": [s.name for s in self.ruleset.stages],
            },
            "inputs": self.info.inputs,
            "totals": rates,
            "matched_by_stage": stages_out,
            "exceptions_by_category": {
                c: categories[c] for c in EXCEPTION_CATEGORIES if c in categories
            },
            "exception_count": sum(n for _c, _s, _cur, n, _a in by_category),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }

    def write_tables(self, out_dir: Path, fmt: OutputFormat = "csv") -> None:
        """Write matches and exceptions (CSV or Parquet) into `out_dir`, both at once."""
        self.db.copy_many(
            [
                (MATCHES, out_dir / f"matches.{fmt}"),
                (EXCEPTIONS, out_dir / f"exceptions.{fmt}"),
            ],
            fmt,
        )

    def close(self) -> None:
        self.db.close()
