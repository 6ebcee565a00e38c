"""Rule sets: the YAML a user writes, validated into typed, immutable objects.

A rule set has a version (recorded in every run), a confidence threshold, four scoring rules
(utr, amount, date, merchant_ref, each with a weight) and an ordered list of stages. Unknown
keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hisaab.errors import RulesError

THRESHOLD_ENV = "MATCH_CONFIDENCE_THRESHOLD"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeightRule(_Strict):
    weight: float = Field(ge=0)


class AmountRule(WeightRule):
    """Amounts agree when |bank - pg| <= tolerance_minor or <= tolerance_bps of the PG amount."""

    tolerance_minor: int = Field(default=0, ge=0)
    tolerance_bps: int = Field(default=0, ge=0, le=10_000)


class DateRule(WeightRule):
    tolerance_days: int = Field(default=1, ge=0, le=366)


class Rules(_Strict):
    utr: WeightRule = WeightRule(weight=1.0)
    amount: AmountRule = AmountRule(weight=0.8, tolerance_minor=1)
    date: DateRule = DateRule(weight=0.6, tolerance_days=1)
    merchant_ref: WeightRule = WeightRule(weight=0.7)

    @property
    def total_weight(self) -> float:
        return self.utr.weight + self.amount.weight + self.date.weight + self.merchant_ref.weight


class OneToOneStage(_Strict):
    """Pairs one PG record with one bank record inside blocks sharing a discriminating key."""

    name: str
    type: Literal["one_to_one"]
    block_on: Literal["utr", "merchant_ref", "amount_date"]
    # amount_date blocks: a record with more candidates than this is not expanded into pairs
    # (it becomes AMBIGUOUS): round amounts must never turn into a cross product.
    max_candidates: int = Field(default=8, ge=1, le=1000)


class SettlementGroupStage(_Strict):
    """Many PG payments to one bank credit, linked by settlement_id or settlement UTR."""

    name: str
    type: Literal["settlement_group"]
    date_window_days: int = Field(default=3, ge=0, le=60)


class SubsetSumStage(_Strict):
    """Many PG payments to one bank credit found by a bounded exact subset-sum search."""

    name: str
    type: Literal["settlement_subset_sum"]
    date_window_days: int = Field(default=3, ge=0, le=60)
    max_candidates: int = Field(default=20, ge=2, le=28)
    max_group_size: int = Field(default=12, ge=2, le=28)


Stage = Annotated[
    OneToOneStage | SettlementGroupStage | SubsetSumStage, Field(discriminator="type")
]


class RuleSet(_Strict):
    version: str = Field(min_length=1)
    threshold: float = Field(default=0.75, ge=0, le=1)
    rules: Rules = Rules()
    stages: tuple[Stage, ...] = Field(min_length=1)
    source: str = "built-in default"

    @model_validator(mode="after")
    def _unique_stage_names(self) -> RuleSet:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        if self.rules.total_weight <= 0:
            raise ValueError("at least one rule needs a positive weight")
        return self


def default_ruleset() -> RuleSet:
    text = resources.files("hisaab.matching").joinpath("rulesets/default.yaml").read_text("utf-8")
    return _apply_env(_parse(text, "built-in default"))


def load_ruleset(path: str | Path | None = None) -> RuleSet:
    """The rule set in `path` (YAML), or the built-in default; the env threshold overrides."""
    if path is None:
        return default_ruleset()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError("rules file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read rules file ({exc})", file=path) from None
    return _apply_env(_parse(text, str(path)))


def _parse(text: str, origin: str) -> RuleSet:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesError(
            f"not valid YAML ({getattr(exc, 'problem', exc)})",
            file=origin,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    if not isinstance(data, dict):
        raise RulesError(
            "a rules file is a YAML mapping with version, rules and stages", file=origin
        )
    try:
        return RuleSet.model_validate({**data, "source": origin})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise RulesError(
            f"{where}: {first['msg']} ({len(exc.errors())} problem(s) in all)", file=origin
        ) from None


def _apply_env(ruleset: RuleSet) -> RuleSet:
    raw = os.environ.get(THRESHOLD_ENV)
    if raw is None or raw.strip() == "":
        return ruleset
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise RulesError(
            f"{THRESHOLD_ENV}={raw!r} is not a confidence", expected="a number from 0 to 1"
        )
    return ruleset.model_copy(update={"threshold": value})
