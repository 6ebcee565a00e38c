"""The one entry point from any input file to canonical records, for the CLI and the API.

normalize(path)                         detect the layout, then read it
normalize(path, template="hdfc")        a built-in template
normalize(path, template="my.yaml")     a template file of your own
normalize(path, template="canonical")   Hisaab's canonical CSV/Parquet
normalize(path, template="mt940")       a statement standard (mt940, camt053, ofx, bai2)
"""

from __future__ import annotations

from pathlib import Path

from hisaab.ingest import canonical, formats
from hisaab.ingest.detect import detect
from hisaab.ingest.records import NormalizedFile
from hisaab.ingest.tabular import check_input_file, read_tabular
from hisaab.ingest.template import Template, list_templates, load_template

__all__ = ["list_templates", "load_template", "normalize"]


def normalize(
    path: Path, *, template: str | None = None, source: str | None = None, strict: bool = False
) -> NormalizedFile:
    """Read `path` into canonical records; `source` overrides the template's default source.

    A statement whose balances or control totals disagree with its entries is read whole,
    with `findings` saying by how much; `strict=True` refuses it instead.
    """
    path = Path(path)
    if template is None:
        template = detect(path)
    else:
        check_input_file(path)
    if template == "canonical":
        return canonical.read_canonical(path, source=source)
    standard = formats.STANDARD_FORMATS.get(template)
    if standard is not None:
        if source:
            return standard.parse(path, source=source, strict=strict)
        return standard.parse(path, strict=strict)
    spec: Template = load_template(template)
    if spec.reader == "canonical":
        return canonical.read_canonical(path, source=source)
    return read_tabular(path, spec, source=source)
