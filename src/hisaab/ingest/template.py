"""The normalisation template model: how one delimited statement layout maps onto canonical records.

A template is a YAML file (schema in docs/templates.md) validated here into a frozen
`Template`. Validation is strict (unknown keys are errors) so that a typo in a template is
reported as a `TemplateError` naming the template file and the key, never ignored.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from hisaab.errors import CurrencyError, TemplateError
from hisaab.money import normalize_currency

Role = Literal[
    "record_id",
    "value_date",
    "booked_at",
    "narration",
    "reference",
    "amount",
    "debit",
    "credit",
    "marker",
    "balance",
    "balance_marker",
    "currency",
    "utr",
    "merchant_ref",
    "settlement_id",
    "settlement_utr",
    "merchant_id",
    "fee",
    "tax",
]
ExtractField = Literal["utr", "merchant_ref", "settlement_id", "settlement_utr", "merchant_id"]

# What a bank template extracts from the narration unless it says otherwise.
BANK_EXTRACT_DEFAULTS: Mapping[str, tuple[dict[str, str], ...]] = {
    "utr": ({"builtin": "utr"},),
    "settlement_id": ({"pattern": r"\b(setl_[A-Za-z0-9]{6,24})\b"},),
    "merchant_id": ({"pattern": r"\bMID[-: ]?([A-Z0-9]{4,20})\b"},),
}

_OCCURRENCE = re.compile(r"^(?P<name>.*?)#(?P<n>[1-9]\d*)$")


def normalize_header(text: str) -> str:
    """Header text reduced to lower-case letters and digits ("Withdrawal Amount (INR )" ->
    "withdrawalamountinr"), so padding, case and odd spacing or punctuation never matter."""
    return re.sub(r"[\W_]+", "", text.casefold())


def split_occurrence(name: str) -> tuple[str, int]:
    """`"Dr / Cr#2"` -> (`"Dr / Cr"`, 2): the second column of that name; plain names are 1."""
    m = _OCCURRENCE.match(name)
    if m:
        return m.group("name"), int(m.group("n"))
    return name, 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnRef(_Strict):
    """Where a canonical field comes from.

    `names`: header names tried in order; the first one present in the header *and* holding a
    value in the row wins (so `[Value Dt, Date]` reads Value Dt and falls back to Date).
    `join`: instead, the values of several columns joined with `separator`.
    In YAML a plain string or a list of strings means `names`.
    """

    names: tuple[str, ...] = ()
    join: tuple[str, ...] = ()
    separator: str = " "

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"names": [value]}
        if isinstance(value, list):
            return {"names": value}
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ColumnRef:
        if bool(self.names) == bool(self.join):
            raise ValueError("give either header names (a string or a list) or `join`, not both")
        for name in (*self.names, *self.join):
            if not normalize_header(split_occurrence(name)[0]):
                raise ValueError(f"header name {name!r} has no letters or digits")
        return self

    @property
    def all_names(self) -> tuple[str, ...]:
        return self.names or self.join


class Columns(_Strict):
    """Canonical field (or helper role) -> column(s) of the statement."""

    record_id: ColumnRef | None = None
    value_date: ColumnRef | None = None
    booked_at: ColumnRef | None = None
    narration: ColumnRef | None = None
    reference: ColumnRef | None = None
    amount: ColumnRef | None = None
    debit: ColumnRef | None = None
    credit: ColumnRef | None = None
    marker: ColumnRef | None = None
    balance: ColumnRef | None = None
    balance_marker: ColumnRef | None = None
    currency: ColumnRef | None = None
    utr: ColumnRef | None = None
    merchant_ref: ColumnRef | None = None
    settlement_id: ColumnRef | None = None
    settlement_utr: ColumnRef | None = None
    merchant_id: ColumnRef | None = None
    fee: ColumnRef | None = None
    tax: ColumnRef | None = None

    def mapped(self) -> dict[str, ColumnRef]:
        """The roles this template maps, in declaration order."""
        return {
            role: ref
            for role in type(self).model_fields
            if (ref := getattr(self, role)) is not None
        }


class Dates(_Strict):
    """Date formats (strptime patterns or `iso`), tried in order for every date column."""

    formats: tuple[str, ...] = Field(min_length=1)
    utc_offset: str | None = None

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for fmt in value:
            if fmt != "iso" and "%" not in fmt:
                raise ValueError(
                    f"{fmt!r} is neither `iso` nor a strptime pattern such as %d/%m/%Y"
                )
        return value

    @field_validator("utc_offset")
    @classmethod
    def _offset(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.strptime(value, "%z")
            except ValueError:
                raise ValueError(f"{value!r} is not a UTC offset such as +03:00") from None
        return value


class Amounts(_Strict):
    """How a row's money and direction are written.

    `signed`: one amount column, negative = money out (DR); `debit_if` can also mark a row DR
    by the value of another column (a refund). `debit_credit`: separate debit and credit
    columns, exactly one of which holds a non-zero amount. `marker`: one amount column plus a
    marker column whose value is one of `debit_markers` or `credit_markers`.
    """

    style: Literal["signed", "debit_credit", "marker"]
    decimal_separator: Literal[".", ","] = "."
    debit_markers: tuple[str, ...] = ("DR", "D", "DEBIT")
    credit_markers: tuple[str, ...] = ("CR", "C", "CREDIT")
    debit_if: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class Extractor(_Strict):
    """One way to pull a reference out of a text column: a regex or the built-in UTR reader."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pattern: str | None = None
    builtin: Literal["utr"] | None = None
    source_role: Role = Field(default="narration", alias="from")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.groups == 0 and "value" not in compiled.groupindex:
            raise ValueError("needs a capturing group (or a group named `value`) for the value")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Extractor:
        if (self.pattern is None) == (self.builtin is None):
            raise ValueError("give exactly one of `pattern` or `builtin`")
        return self


class RowFilter(_Strict):
    """Keep rows whose `column` holds one of `keep`, skip (and count) those holding one of
    `skip`; any other value is an error. Matching ignores case and surrounding spaces."""

    column: str
    keep: tuple[str, ...] = Field(min_length=1)
    skip: tuple[str, ...] = ()


class Header(_Strict):
    """How the header row is recognised.

    `signature`: header names that must all appear in one row for auto-detection to pick this
    template (defaults to the first name of every required column). `search_rows`: how many
    rows from the top may be preamble before the header must have appeared.
    """

    signature: tuple[str, ...] = ()
    search_rows: int = Field(default=200, ge=1, le=10_000)


_DELIMITERS = {",": ",", "|": "|", ";": ";", "\t": "\t", "tab": "\t", "TAB": "\t", "auto": "auto"}
_NOT_OPTIONAL = {"value_date", "amount", "debit", "credit"}


class Template(_Strict):
    """A validated normalisation template (see docs/templates.md for the YAML form)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    source: str = Field(default="bank", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    reader: Literal["tabular", "canonical"] = "tabular"
    encoding: str = "utf-8"
    fallback_encodings: tuple[str, ...] = ()
    delimiter: str = "auto"
    header: Header = Field(default_factory=Header)
    columns: Columns = Field(default_factory=Columns)
    optional_columns: tuple[Role, ...] = ()
    dates: Dates | None = None
    amounts: Amounts | None = None
    currency: str | None = None
    blank_values: tuple[str, ...] = ("-", "--", "NA", "N/A")
    extract: dict[ExtractField, tuple[Extractor, ...]] = Field(default_factory=dict)
    filter: RowFilter | None = None

    _origin: Path | None = PrivateAttr(default=None)

    @field_validator("encoding", "fallback_encodings")
    @classmethod
    def _codec(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for name in (value,) if isinstance(value, str) else value:
            try:
                codecs.lookup(name)
            except LookupError:
                raise ValueError(f"unknown text encoding {name!r}") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        try:
            return _DELIMITERS[value]
        except KeyError:
            raise ValueError("must be `auto` or one of ',', '|', ';', 'tab'") from None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_currency(value)
        except CurrencyError:
            raise ValueError(f"{value!r} is not an ISO-4217 currency code") from None

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        if self.reader == "canonical":
            return self
        mapped = self.columns.mapped()
        problems: list[str] = []
        if self.dates is None:
            problems.append("dates: required for a tabular template")
        if self.amounts is None:
            problems.append("amounts: required for a tabular template")
        if "value_date" not in mapped:
            problems.append("columns.value_date: required (the date of every record)")
        if self.currency is None and "currency" not in mapped:
            problems.append("currency: give a fixed currency or map columns.currency")
        if self.amounts is not None:
            needed = {
                "signed": ("amount",),
                "debit_credit": ("debit", "credit"),
                "marker": ("amount", "marker"),
            }[self.amounts.style]
            for role in needed:
                if role not in mapped:
                    problems.append(
                        f"columns.{role}: required when amounts.style is {self.amounts.style}"
                    )
        for role in self.optional_columns:
            if role in _NOT_OPTIONAL or (
                role == "marker" and self.amounts is not None and self.amounts.style == "marker"
            ):
                problems.append(f"optional_columns: {role} cannot be optional")
            elif role not in mapped:
                problems.append(f"optional_columns: {role} is not mapped in columns")
        for field, extractors in self.extract.items():
            for i, extractor in enumerate(extractors):
                if extractor.source_role not in mapped:
                    problems.append(
                        f"extract.{field}.{i}.from: column role {extractor.source_role!r} "
                        "is not mapped in columns"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ----------------------------------------------------------------- derived views
    @property
    def origin(self) -> Path | None:
        """The YAML file this template was loaded from."""
        return self._origin

    def required_roles(self) -> tuple[str, ...]:
        return tuple(r for r in self.columns.mapped() if r not in self.optional_columns)

    def signature(self) -> tuple[str, ...]:
        """Header names that identify this layout (explicit, or derived from the required
        columns: the first name of each)."""
        if self.header.signature:
            return self.header.signature
        names: list[str] = []
        for role in self.required_roles():
            ref = getattr(self.columns, role)
            if ref.names:
                names.append(split_occurrence(ref.names[0])[0])
            else:
                names.extend(split_occurrence(n)[0] for n in ref.join)
        return tuple(dict.fromkeys(names))

    def extractors(self) -> dict[str, tuple[Extractor, ...]]:
        """The extractors in effect: the template's own plus, for bank templates, the
        defaults for any field the template does not mention."""
        result: dict[str, tuple[Extractor, ...]] = {str(k): v for k, v in self.extract.items()}
        if self.source == "bank":
            for field, specs in BANK_EXTRACT_DEFAULTS.items():
                if field not in result and "narration" in self.columns.mapped():
                    result[field] = tuple(Extractor.model_validate(s) for s in specs)
        return {name: specs for name, specs in result.items() if specs}


def _describe_error(error: Mapping[str, Any]) -> tuple[str, str]:
    key = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    return key, message


def parse_template(text: str, origin: Path) -> Template:
    """Validate the YAML text of a template; errors name `origin` and the offending key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise TemplateError(
            f"template is not valid YAML: {getattr(exc, 'problem', None) or exc}",
            file=origin,
            line=line,
        ) from None
    if not isinstance(data, dict):
        raise TemplateError(
            "template must be a YAML mapping of keys such as name, columns, dates, amounts",
            file=origin,
        )
    try:
        template = Template.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            key, message = _describe_error(err)
            parts.append(f"key {key!r}: {message}" if key else message)
        raise TemplateError(
            "invalid template: " + "; ".join(parts),
            file=origin,
            expected="the keys described in docs/templates.md",
        ) from None
    template._origin = origin
    return template


# --------------------------------------------------------------------------- built-ins
BUILTIN_DIR = Path(__file__).parent / "templates"


def builtin_names() -> list[str]:
    """Names of the templates shipped with Hisaab (the YAML files in ingest/templates/)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def _read_template_file(path: Path) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template: {exc}", file=path) from None
    return parse_template(text, path)


_CACHE: dict[tuple[str, int, int], Template] = {}


def load_template(name_or_path: str | Path) -> Template:
    """A built-in template by name (`hdfc`), or a template YAML file by path."""
    text = str(name_or_path)
    builtin = BUILTIN_DIR / f"{text}.yaml"
    is_name = isinstance(name_or_path, str) and re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", text)
    if is_name and builtin.is_file():
        path = builtin
    else:
        path = Path(name_or_path)
        if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
            raise TemplateError(
                f"unknown template {text!r}",
                expected=(
                    "a built-in template name ("
                    + ", ".join(builtin_names())
                    + ") or the path of a template .yaml file"
                ),
            )
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _read_template_file(path)
        if path == builtin and cached.name != text:
            raise TemplateError(
                f"built-in template declares name {cached.name!r} but its file is {path.name}",
                file=path,
            )
        _CACHE[key] = cached
    return cached


def list_templates() -> list[Template]:
    """Every built-in template, sorted by name."""
    return [load_template(name) for name in builtin_names()]
