"""`hisaab evaluate` from the command line, on simulated truth and hand-made results."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hisaab.cli.main import main

MATCH_COLUMNS = [
    "match_id",
    "match_type",
    "stage",
    "confidence",
    "status",
    "pg_record_id",
    "bank_record_id",
    "pg_amount_minor",
    "bank_amount_minor",
    "pg_source_line",
    "bank_source_line",
]
EXCEPTION_COLUMNS = [
    "exception_id",
    "category",
    "side",
    "record_id",
    "source_line",
    "amount_minor",
    "details",
]


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def perfect_results(truth: Path, results: Path, *, drop_exceptions: int = 0) -> None:
    """What a flawless reconcile would write for `truth` (minus some exception rows)."""
    with truth.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[str, list[dict[str, str]]] = {}
    exceptions = []
    for row in rows:
        if row["expected"] == "MATCHED":
            groups.setdefault(row["match_group"], []).append(row)
        else:
            exceptions.append(row)
    results.mkdir()
    with (results / "matches.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(MATCH_COLUMNS)
        for group, members in groups.items():
            (bank,) = [m for m in members if m["side"] == "bank"]
            pgs = [m for m in members if m["side"] == "pg"]
            kind = "one_to_one" if len(pgs) == 1 else "many_to_one"
            for pg in pgs:
                out.writerow(
                    [
                        group,
                        kind,
                        "utr",
                        "1.0",
                        "auto",
                        pg["record_id"],
                        "",
                        pg["amount_minor"],
                        bank["amount_minor"],
                        pg["source_line"],
                        bank["source_line"],
                    ]
                )
    with (results / "exceptions.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(EXCEPTION_COLUMNS)
        for n, row in enumerate(exceptions[drop_exceptions:]):
            out.writerow(
                [
                    f"e{n}",
                    row["expected"],
                    row["side"],
                    row["record_id"],
                    row["source_line"],
                    row["amount_minor"],
                    "",
                ]
            )


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    assert run(["simulate", "--rows", "2000", "--out", str(out), "--bank-format", "hdfc"]) == 0
    return out / "truth.csv"


def test_a_perfect_result_scores_one_and_writes_evaluation_json(
    truth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    perfect_results(truth, results)
    capsys.readouterr()
    assert run(["evaluate", "--truth", str(truth), "--results", str(results)]) == 0
    printed = capsys.readouterr().out
    assert "micro F1 1.0000   macro F1 1.0000" in printed
    assert "missing 0" in printed
    report = json.loads((results / "evaluation.json").read_text(encoding="utf-8"))
    assert report["micro_f1"] == 1.0 and report["macro_f1"] == 1.0
    assert report["auto_match"]["precision"] == 1.0 and report["auto_match"]["recall"] == 1.0
    assert set(report["categories"]) == {
        "UNMATCHED_PG",
        "UNMATCHED_BANK",
        "AMOUNT_MISMATCH",
        "UTR_MISSING",
        "DUPLICATE_UTR",
        "AMBIGUOUS",
    }
    assert report["errors"] == []


def test_json_flag_prints_only_json_and_low_scores_still_exit_0(
    truth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    perfect_results(truth, results, drop_exceptions=3)
    capsys.readouterr()
    assert run(["evaluate", "--truth", str(truth), "--results", str(results), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"]["missing"] == 3
    assert report["micro_f1"] < 1.0
    assert report["errors"] == ["3 truth records are neither auto-matched nor in exceptions.csv"]
    assert json.loads((results / "evaluation.json").read_text(encoding="utf-8")) == report


def test_unreadable_inputs_exit_2_with_a_clear_message(
    truth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    assert run(["evaluate", "--truth", str(truth), "--results", str(results)]) == 2
    assert "results directory" in capsys.readouterr().err
    perfect_results(truth, results)
    assert run(["evaluate", "--truth", str(tmp_path / "none.csv"), "--results", str(results)]) == 2
    assert "none.csv does not exist" in capsys.readouterr().err
    (results / "exceptions.csv").write_text("exception_id,side,source_line\n", encoding="utf-8")
    assert run(["evaluate", "--truth", str(truth), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "exceptions.csv" in err and "missing column(s) category" in err
    assert not (results / "evaluation.json").exists()
