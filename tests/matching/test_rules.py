"""Rule sets: the seed's defaults, user YAML, and clear errors for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.errors import RulesError
from hisaab.matching.rules import OneToOneStage, default_ruleset, load_ruleset


def test_defaults_are_the_seed_engine() -> None:
    rules = default_ruleset()
    assert (rules.rules.utr.weight, rules.rules.amount.weight) == (1.0, 0.8)
    assert (rules.rules.date.weight, rules.rules.date.tolerance_days) == (0.6, 1)
    assert rules.rules.merchant_ref.weight == 0.7
    assert rules.threshold == 0.75
    assert [s.name for s in rules.stages][:2] == ["utr_exact", "settlement"]


def test_a_user_rules_file_is_loaded_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: ops-2024-02\nthreshold: 0.9\nrules:\n  amount: {weight: 0.8, tolerance_bps: 50}\n"
        "stages:\n  - {name: by_utr, type: one_to_one, block_on: utr}\n"
    )
    rules = load_ruleset(path)
    assert (rules.version, rules.threshold, rules.source) == ("ops-2024-02", 0.9, str(path))
    assert rules.rules.amount.tolerance_bps == 50
    assert rules.stages == (OneToOneStage(name="by_utr", type="one_to_one", block_on="utr"),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: x\nstages: []\n", "stages"),
        (
            "version: x\nthreshhold: 0.5\nstages: [{name: a, type: one_to_one, block_on: utr}]\n",
            "threshhold",
        ),
        ("version: x\nstages: [{name: a, type: one_to_one, block_on: amount}]\n", "block_on"),
        (
            "version: x\nrules: {utr: {weight: -1}}\n"
            "stages: [{name: a, type: one_to_one, block_on: utr}]\n",
            "weight",
        ),
        (
            "version: x\nstages: [{name: a, type: one_to_one, block_on: utr},"
            " {name: a, type: one_to_one, block_on: utr}]\n",
            "unique",
        ),
        ("version: x\nstages: [{name: a, type: fuzzy}]\n", "type"),
        ("- just\n- a list\n", "mapping"),
        ("version: [unclosed\n", "not valid YAML"),
    ],
)
def test_mistakes_in_a_rules_file_are_named(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as info:
        load_ruleset(path)
    assert fragment in info.value.describe()
    assert str(path) in info.value.describe()


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="not found"):
        load_ruleset(tmp_path / "nope.yaml")


def test_environment_threshold_must_be_a_confidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCH_CONFIDENCE_THRESHOLD", "75%")
    with pytest.raises(RulesError, match="MATCH_CONFIDENCE_THRESHOLD"):
        default_ruleset()
