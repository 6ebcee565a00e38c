"""Scoring a reconciliation (matches.csv + exceptions.csv) against a simulation's truth.csv.

Every record is keyed by (side, source_line). Its predicted label is MATCHED when it is in a
match row with status `auto` (`suggested` rows are proposals; those records are exceptions),
else the category of its exceptions.csv row, else MISSING (the reconciliation lost it).

A predicted MATCHED record is correct only when the set of records of its predicted match
equals the set of its truth match_group; an exception is correct when the category is equal.

    auto-match precision  correct matched records / records in auto matches
    auto-match recall     correct matched records / truth MATCHED records
    per category          precision, recall, F1 and support (truth records of the category)
    micro F1              records labelled correctly / (truth records + predicted records
                          absent from truth): single-label, so it is the accuracy
    macro F1              mean F1 over MATCHED and the categories present in truth or results
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hisaab.errors import FormatError, InputError
from hisaab.sandbox.model import EXCEPTION_CATEGORIES, MATCHED

MISSING = "MISSING"
ABSENT = "ABSENT_FROM_TRUTH"
WRONG_GROUP = "MATCHED_WRONG_GROUP"
TRUTH_COLUMNS = ("side", "source_line", "expected", "match_group")
MATCH_COLUMNS = ("match_id", "status", "pg_source_line", "bank_source_line")
EXCEPTION_COLUMNS = ("category", "side", "source_line")
SIDES = ("pg", "bank")

Key = tuple[str, int]


@dataclass
class LabelScore:
    """Counts for one label; ratios are None when their denominator is zero."""

    label: str
    support: int = 0  # truth records with this label
    predicted: int = 0  # records predicted with this label
    correct: int = 0

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None

    @property
    def f1(self) -> float:
        wrong = (self.predicted - self.correct) + (self.support - self.correct)
        total = 2 * self.correct + wrong
        return 2 * self.correct / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "support": self.support,
            "predicted": self.predicted,
            "correct": self.correct,
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
        }


@dataclass
class Evaluation:
    truth_file: str
    results_dir: str
    truth_records: int = 0
    absent_from_truth: int = 0  # predicted records whose (side, source_line) truth lacks
    missing: int = 0  # truth records neither auto-matched nor in exceptions.csv
    conflicts: int = 0  # records claimed twice (two matches, or a match and an exception)
    correct: int = 0
    matched: LabelScore = field(default_factory=lambda: LabelScore(MATCHED))
    categories: dict[str, LabelScore] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def micro_f1(self) -> float:
        total = self.truth_records + self.absent_from_truth
        return self.correct / total if total else 0.0

    @property
    def macro_labels(self) -> list[str]:
        present = [self.matched] if self.matched.support or self.matched.predicted else []
        present += [s for s in self.categories.values() if s.support or s.predicted]
        return [s.label for s in present]

    @property
    def macro_f1(self) -> float:
        scores = [self._score(label).f1 for label in self.macro_labels]
        return sum(scores) / len(scores) if scores else 0.0

    def _score(self, label: str) -> LabelScore:
        return self.matched if label == MATCHED else self.categories[label]

    def errors(self) -> list[str]:
        """Defects of the reconciliation output itself (not low scores)."""
        found = []
        if self.missing:
            found.append(
                f"{self.missing} truth records are neither auto-matched nor in exceptions.csv"
            )
        if self.absent_from_truth:
            found.append(f"{self.absent_from_truth} predicted records are not in the truth file")
        if self.conflicts:
            found.append(f"{self.conflicts} records are claimed by more than one match/exception")
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "truth_file": self.truth_file,
            "results_dir": self.results_dir,
            "records": {
                "truth": self.truth_records,
                "correct": self.correct,
                "missing": self.missing,
                "absent_from_truth": self.absent_from_truth,
                "conflicts": self.conflicts,
            },
            "auto_match": self.matched.to_json(),
            "categories": {label: s.to_json() for label, s in self.categories.items()},
            "micro_f1": _round(self.micro_f1),
            "macro_f1": _round(self.macro_f1),
            "macro_labels": self.macro_labels,
            "confusion": self.confusion,
            "errors": self.errors(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def evaluate(truth_path: Path, results_dir: Path) -> Evaluation:
    """Score `results_dir`/matches.csv and exceptions.csv against `truth_path`."""
    if not results_dir.is_dir():
        raise InputError(
            f"results directory {results_dir} does not exist or is not a directory",
            expected="the --out directory of `hisaab reconcile`",
        )
    truth_label, truth_group = _read_truth(truth_path)
    pred_match, members, pred_category, conflicts = _read_results(results_dir)
    groups: dict[str, set[Key]] = {}
    for key, group in truth_group.items():
        groups.setdefault(group, set()).add(key)

    ev = Evaluation(str(truth_path), str(results_dir), truth_records=len(truth_label))
    ev.conflicts = conflicts
    confusion: dict[str, Counter[str]] = {}
    predicted_keys = pred_match.keys() | pred_category.keys()
    for key in truth_label.keys() | predicted_keys:
        truth = truth_label.get(key, ABSENT)
        match_id = pred_match.get(key)
        predicted = MATCHED if match_id is not None else pred_category.get(key, MISSING)
        if truth == ABSENT:
            ev.absent_from_truth += 1
        if predicted == MISSING:
            ev.missing += 1
        correct = predicted == truth
        if correct and match_id is not None:
            correct = members[match_id] == groups[truth_group[key]]
        if truth != ABSENT:
            _score(ev, truth).support += 1
        if predicted != MISSING:
            _score(ev, predicted).predicted += 1
        if correct:
            ev.correct += 1
            _score(ev, truth).correct += 1
        shown = WRONG_GROUP if predicted == MATCHED == truth and not correct else predicted
        confusion.setdefault(truth, Counter())[shown] += 1
    order = {label: n for n, label in enumerate((MATCHED, *EXCEPTION_CATEGORIES))}
    ev.categories = dict(
        sorted(ev.categories.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    )
    ev.confusion = {
        t: dict(sorted(c.items())) for t, c in sorted(confusion.items(), key=lambda kv: kv[0])
    }
    return ev


def _score(ev: Evaluation, label: str) -> LabelScore:
    if label == MATCHED:
        return ev.matched
    return ev.categories.setdefault(label, LabelScore(label))


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(physical line, row) of a CSV file, checking that `required` columns exist."""
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", file=path) from None
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}", file=path) from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise FormatError("the file is empty", file=path, line=1)
            names = [h.strip().lower() for h in header]
            missing = [c for c in required if c not in names]
            if missing:
                raise FormatError(
                    "missing column(s) " + ", ".join(missing),
                    file=path,
                    line=1,
                    expected="a header with " + ", ".join(required),
                )
            index = {c: names.index(c) for c in required}
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                values = {c: row[k].strip() if k < len(row) else "" for c, k in index.items()}
                yield reader.line_num, values
        except UnicodeDecodeError:
            raise FormatError("the file is not UTF-8 text", file=path) from None
        except csv.Error as exc:
            raise FormatError(f"not a readable CSV file: {exc}", file=path) from None


def _line_number(text: str, path: Path, line: int, column: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise FormatError(
            f"{column} {text!r} is not a line number",
            file=path,
            line=line,
            column=column,
            expected="a positive integer",
        )
    return value


def _side(text: str, path: Path, line: int) -> str:
    side = text.lower()
    if side not in SIDES:
        raise FormatError(
            f"side {text!r} is neither pg nor bank", file=path, line=line, column="side"
        )
    return side


def _read_truth(path: Path) -> tuple[dict[Key, str], dict[Key, str]]:
    labels: dict[Key, str] = {}
    groups: dict[Key, str] = {}
    for line, row in _rows(path, TRUTH_COLUMNS):
        key = (
            _side(row["side"], path, line),
            _line_number(row["source_line"], path, line, "source_line"),
        )
        if key in labels:
            raise FormatError(f"{key[0]} line {key[1]} appears twice", file=path, line=line)
        label = row["expected"].upper()
        if not label:
            raise FormatError("empty expected label", file=path, line=line, column="expected")
        labels[key] = label
        if label == MATCHED:
            if not row["match_group"]:
                raise FormatError(
                    "a MATCHED record without match_group",
                    file=path,
                    line=line,
                    column="match_group",
                )
            groups[key] = row["match_group"]
    return labels, groups


def _read_results(
    directory: Path,
) -> tuple[dict[Key, str], dict[str, set[Key]], dict[Key, str], int]:
    """Auto-matched records (key -> match_id), match members, exception categories, conflicts."""
    pred_match: dict[Key, str] = {}
    members: dict[str, set[Key]] = {}
    conflicts = 0
    path = directory / "matches.csv"
    for line, row in _rows(path, MATCH_COLUMNS):
        if row["status"].lower() != "auto":
            continue
        match_id = row["match_id"]
        for side in SIDES:
            text = row[f"{side}_source_line"]
            if not text:
                continue
            key = (side, _line_number(text, path, line, f"{side}_source_line"))
            claimed = pred_match.setdefault(key, match_id)
            if claimed != match_id:
                conflicts += 1
                continue
            members.setdefault(match_id, set()).add(key)
    pred_category: dict[Key, str] = {}
    path = directory / "exceptions.csv"
    for line, row in _rows(path, EXCEPTION_COLUMNS):
        key = (
            _side(row["side"], path, line),
            _line_number(row["source_line"], path, line, "source_line"),
        )
        if key in pred_match or key in pred_category:
            conflicts += 1
            continue
        category = row["category"].upper()
        if not category:
            raise FormatError("empty category", file=path, line=line, column="category")
        pred_category[key] = category
    return pred_match, members, pred_category, conflicts
