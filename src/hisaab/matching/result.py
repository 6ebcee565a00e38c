"""A finished reconciliation: its matches, its exceptions, its summary, and writing them out.

Outputs are ordered by their deterministic ids, so the same inputs in any row order give the
same files. Ids are hashes of what the records are (stage, record id, source line), not of
where they happened to sit in the input.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hisaab.matching.backends.base import Backend, OutputFormat
from hisaab.matching.rules import RuleSet

if TYPE_CHECKING:
    from hisaab.matching.engine import RunInfo

EXCEPTION_CATEGORIES = (
    "UNMATCHED_PG",
    "UNMATCHED_BANK",
    "AMOUNT_MISMATCH",
    "UTR_MISSING",
    "DUPLICATE_UTR",
    "AMBIGUOUS",
    "DATE_MISMATCH",
    "LOW_CONFIDENCE",
)

MATCHES_SQL = """
    WITH keyed AS (
        SELECT m.*, md5_number_upper(m.stage || '|' || b.record_id || '|'
                                     || CAST(b.source_line AS VARCHAR)) AS mkey,
               p.record_id AS pg_record_id, b.record_id AS bank_record_id,
               p.amount_minor AS pg_amount_minor, b.amount_minor AS bank_amount_minor,
               p.source_line AS pg_source_line, b.source_line AS bank_source_line,
               p.currency, p.net_minor AS pg_net_minor
        FROM match_rows m JOIN pg p ON p.rid = m.prid JOIN bank b ON b.rid = m.brid
    )
    SELECT 'm_' || lpad(lower(hex(mkey)), 16, '0') AS match_id,
           match_type, stage, round(confidence, 4) AS confidence, status,
           pg_record_id, bank_record_id, pg_amount_minor, bank_amount_minor,
           pg_source_line, bank_source_line, currency, pg_net_minor,
           amount_delta AS amount_delta_minor, date_delta AS date_delta_days,
           r_utr::INT * getvariable('w_utr') AS score_utr,
           r_amount::INT * getvariable('w_amount') AS score_amount,
           r_date::INT * getvariable('w_date') AS score_date,
           r_ref::INT * getvariable('w_ref') AS score_merchant_ref
    FROM keyed
    ORDER BY mkey, pg_record_id, pg_source_line
"""

EXCEPTIONS_SQL = """
    WITH records AS (
        SELECT 'pg' AS side, * FROM pg UNION ALL SELECT 'bank' AS side, * FROM bank
    ), parts AS (
        SELECT x.side, x.rid, list(struct_pack(
                   side := c.side, record_id := r.record_id, amount_minor := r.amount_minor,
                   value_date := r.value_date, source_line := r.source_line, utr := r.utr)
                   ORDER BY c.side, r.record_id, r.source_line) AS counterparts
        FROM exc_rows x, unnest(x.counterparts) AS u(c)
        JOIN records r ON r.side = c.side AND r.rid = c.rid
        GROUP BY x.side, x.rid
    )
    SELECT 'x_' || substr(md5(x.category || '|' || x.side || '|' || r.record_id || '|'
                              || CAST(r.source_line AS VARCHAR)), 1, 16) AS exception_id,
           x.category, x.side, r.record_id, r.source_line, r.amount_minor, r.currency,
           r.direction, r.value_date, r.utr, x.stage,
           array_to_string(list_transform(coalesce(p.counterparts, []),
                                          lambda c: c.record_id), ';') AS counterpart_record_ids,
           x.amount_delta AS amount_delta_minor,
           to_json(struct_pack(
               reason := x.reason, stage := x.stage, confidence := round(x.confidence, 4),
               amount_delta_minor := x.amount_delta, date_delta_days := x.date_delta,
               counterparts := coalesce(p.counterparts, [])
           )) AS details
    FROM exc_rows x JOIN records r ON r.side = x.side AND r.rid = x.rid
    LEFT JOIN parts p ON p.side = x.side AND p.rid = x.rid
    ORDER BY exception_id
"""


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
                f"SELECT currency, count(*), sum(amount_minor) FROM {side} GROUP BY currency"
            )
            for side in ("pg", "bank")
        }
        by_stage = self.db.rows(
            """
            WITH per_bank AS (
                SELECT m.stage, m.status, m.match_type, m.brid, count(*) AS n_pg,
                       sum(p.amount_minor) AS pg_amount
                FROM match_rows m JOIN pg p ON p.rid = m.prid
                GROUP BY m.stage, m.status, m.match_type, m.brid
            )
            SELECT x.stage, x.status, x.match_type, b.currency, count(*), sum(x.n_pg),
                   sum(x.pg_amount), sum(b.amount_minor)
            FROM per_bank x JOIN bank b ON b.rid = x.brid
            GROUP BY ALL ORDER BY ALL
            """
        )
        by_category = self.db.rows(
            """
            SELECT x.category, x.side, r.currency, count(*), sum(r.amount_minor)
            FROM exc_rows x JOIN (SELECT 'pg' AS side, rid, currency, amount_minor FROM pg
                                  UNION ALL
                                  SELECT 'bank', rid, currency, amount_minor FROM bank) r
              ON r.side = x.side AND r.rid = x.rid
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
        """Write matches and exceptions (CSV or Parquet) into `out_dir`."""
        self.db.copy(MATCHES_SQL, out_dir / f"matches.{fmt}", fmt)
        self.db.copy(EXCEPTIONS_SQL, out_dir / f"exceptions.{fmt}", fmt)

    def close(self) -> None:
        self.db.close()
