"""`hisaab simulate` from the command line: files, summary, and exit 2 on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.cli.main import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_simulate_writes_the_four_files_and_says_what_it_injected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    code = run(
        [
            "simulate",
            "--rows",
            "2500",
            "--out",
            str(out),
            "--seed",
            "3",
            "--bank-format",
            "AXIS",
            "--days",
            "2",
            "--merchants",
            "10",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "bank.csv",
        "pg.csv",
        "truth.csv",
    ]
    printed = capsys.readouterr().out
    assert "pg.csv (2500 transactions" in printed and "axis" in printed
    assert "UTR_MISSING: UPI credit without the RRN" in printed
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "--rows 2500 --seed 3 --bank-format axis --days 2 --merchants 10" in readme
    assert (out / "bank.csv").read_text(encoding="utf-8").startswith("Name :- ")
    assert "(From : 15-01-2024 To : 17-01-2024)" in (out / "bank.csv").read_text()


def test_same_seed_on_the_command_line_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            run(
                [
                    "simulate",
                    "--rows",
                    "2000",
                    "--out",
                    str(tmp_path / name),
                    "--bank-format",
                    "hdfc",
                ]
            )
            == 0
        )
    for name in ("pg.csv", "bank.csv", "truth.csv", "README.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "0"], "--rows must be a positive number of PG transactions, got 0"),
        (["--rows", "-3"], "--rows must be a positive number of PG transactions, got -3"),
        (["--rows", "10", "--bank-format", "sbi"], "unknown --bank-format 'sbi'"),
        (["--rows", "10", "--days", "0"], "--days must be between 1"),
        (["--rows", "ten"], "Invalid value for '--rows'"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "sim"
    assert run(["simulate", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_out_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n", encoding="utf-8")
    assert run(["simulate", "--rows", "10", "--out", str(blocker / "sim")]) == 2
    assert f"{blocker} is not a directory" in capsys.readouterr().err
    assert run(["simulate", "--rows", "10", "--out", str(blocker)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
    assert blocker.read_text(encoding="utf-8") == "not a directory\n"
