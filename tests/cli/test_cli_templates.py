"""`hisaab templates list|show`."""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.cli.main import main
from hisaab.ingest import formats
from hisaab.ingest.formats import StandardFormat
from hisaab.ingest.records import NormalizedFile
from hisaab.ingest.template import BUILTIN_DIR


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    code = caught.value.code
    return code if isinstance(code, int) else 1


def test_list_shows_every_built_in_with_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["templates", "list"]) == 0
    out = capsys.readouterr().out
    assert "Normalisation templates" in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    for name in ("axis", "canonical", "hdfc", "icici", "kotak", "mpesa-org", "pg-generic", "sbi"):
        assert name in lines
    assert "mpesa" in lines["mpesa-org"]
    assert " pg " in lines["pg-generic"]
    assert " bank " in lines["hdfc"]


def test_list_includes_registered_statement_standards(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(path: Path, *, source: str = "bank") -> NormalizedFile:
        raise AssertionError("listing must not parse")

    fake = StandardFormat("fakestd", "Fake standard", lambda head: False, parse)
    monkeypatch.setitem(formats.STANDARD_FORMATS, "fakestd", fake)
    assert run(["templates", "list"]) == 0
    assert "fakestd" in capsys.readouterr().out


def test_show_prints_the_template_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["templates", "show", "kotak"]) == 0
    out = capsys.readouterr().out
    assert out == (BUILTIN_DIR / "kotak.yaml").read_text(encoding="utf-8")
    assert 'marker: "Dr / Cr#1"' in out


def test_show_a_statement_standard_explains_it_has_no_yaml(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(path: Path, *, source: str = "bank") -> NormalizedFile:
        raise AssertionError("showing must not parse")

    fake = StandardFormat("fakestd", "Fake standard", lambda head: False, parse)
    monkeypatch.setitem(formats.STANDARD_FORMATS, "fakestd", fake)
    assert run(["templates", "show", "fakestd"]) == 0
    assert capsys.readouterr().out == (
        "# fakestd: Fake standard\n"
        "# A statement standard read by its own parser; it has no YAML template.\n"
    )


def test_show_unknown_template_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["templates", "show", "barclays"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown template 'barclays'.")
