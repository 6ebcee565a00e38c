"""Batch reconciliation of two files: the service behind `hisaab reconcile` (and, later, jobs).

Reads each side through its template (or detects it), runs the engine with the rule set, and
writes matches, exceptions and summary.json into the output directory atomically: either all
of them appear, or none does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from hisaab.errors import InputError
from hisaab.ingest.canonical import read_canonical
from hisaab.ingest.records import NormalizedFile
from hisaab.matching.backends.base import OutputFormat
from hisaab.matching.engine import ENGINE_COLUMNS, RunInfo, reconcile
from hisaab.matching.rules import load_ruleset
from hisaab.outputs import atomic_dir
from hisaab.recon import findings

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BatchRequest:
    pg_path: Path
    bank_path: Path
    out_dir: Path
    pg_template: str | None = None
    bank_template: str | None = None
    rules_path: Path | None = None
    fmt: OutputFormat = "csv"
    strict: bool = False  # refuse statements whose balances do not add up


def read_side(
    path: Path, template: str | None, source: str, *, strict: bool = False
) -> NormalizedFile:
    """One side's records: the canonical fast path, or the template machinery.

    A canonical file is read on the fast path whether its template was named or detected:
    `hisaab reconcile --pg a.csv --bank b.csv` on canonical files took twice the time and
    memory of the same command with `--pg-template canonical --bank-template canonical`.
    """
    # Detection and the template machinery load every statement reader: imported only when
    # needed, so a reconcile of two named canonical files does not wait for them.
    if template is None and Path(path).is_file():
        from hisaab.ingest.detect import detect

        template = detect(path)
    if template == "canonical":
        return read_canonical(path, source=source, fingerprints=False, columns=ENGINE_COLUMNS)
    from hisaab.ingest.normalize import normalize

    return normalize(path, template=template, source=source, strict=strict)


def read_sides(request: BatchRequest) -> tuple[NormalizedFile, NormalizedFile]:
    """Both sides, read at once: the PG file in a thread while this one reads the bank file.

    The readers spend part of their time in single-threaded steps (validation, conversion),
    so reading the two files together keeps both cores busy. Errors are raised as a
    one-after-the-other read would raise them: the PG file's first.
    """
    pg: list[NormalizedFile] = []
    pg_error: list[BaseException] = []

    def read_pg() -> None:
        try:
            pg.append(read_side(request.pg_path, request.pg_template, "pg", strict=request.strict))
        except BaseException as exc:  # raised again below, in the caller's thread
            pg_error.append(exc)

    thread = threading.Thread(target=read_pg, name="hisaab-read-pg")
    thread.start()
    try:
        bank = read_side(request.bank_path, request.bank_template, "bank", strict=request.strict)
    finally:
        thread.join()
        if pg_error:
            raise pg_error[0]
    return pg[0], bank


def run_batch(request: BatchRequest, *, progress: Progress | None = None) -> dict[str, Any]:
    """Reconcile two files into `request.out_dir`; returns the summary that was written."""
    started = time.perf_counter()
    if request.fmt not in ("csv", "parquet"):
        raise InputError(f"unknown output format {request.fmt!r}", expected="csv or parquet")
    ruleset = load_ruleset(request.rules_path)
    pg, bank = read_sides(request)
    pa.default_memory_pool().release_unused()  # the CSV readers' buffers, back to the system
    found = findings.of_sides({"pg": pg, "bank": bank})
    info = RunInfo(
        ruleset_version=ruleset.version,
        ruleset_source=ruleset.source,
        threshold=ruleset.threshold,
        inputs={
            side: {
                "file": nf.source_file,
                "sha256": nf.file_sha256,
                "template": nf.template,
                "records": nf.row_count,
                "notes": nf.notes,
                "findings": [f.as_dict() for f in nf.findings],
            }
            for side, nf in (("pg", pg), ("bank", bank))
        },
    )
    result = reconcile(pg.table, bank.table, ruleset, info=info, progress=progress)
    # The engine has let go of the inputs; dropping ours frees them before writing the outputs.
    del pg, bank
    pa.default_memory_pool().release_unused()
    try:
        with atomic_dir(request.out_dir) as staging:
            result.write_tables(staging, request.fmt)
            findings.append_to_file(staging / f"exceptions.{request.fmt}", found, request.fmt)
            summary = result.summary()
            summary["findings"] = findings.summary_entries(found)
            summary["engine_seconds"] = summary.pop("elapsed_seconds")
            summary["elapsed_seconds"] = round(time.perf_counter() - started, 3)
            text = json.dumps(summary, indent=2, default=str) + "\n"
            (staging / "summary.json").write_text(text, encoding="utf-8")
    finally:
        result.close()
    return summary
