"""Reading a delimited statement or export with a template into canonical records.

The reader decodes the whole file (UTF-8 with or without BOM, then the template's fallback
encodings), finds the header row by the template's column names (so preamble lines of any
length are skipped), and then reads every later row with the csv module, keeping the
physical line each row starts on. A row whose date column holds a date is a transaction and
must parse completely; anything that fails is an error naming file, line and column. Rows
that are clearly not transactions (summaries, totals, asterisks, balance-forward lines) are
skipped and counted in the notes, never dropped silently.

The steps, one module each, in the order `reader.read_tabular` runs them:

    files      the path's bytes: checks, binary detection, byte-order mark, encodings
    split      csv records, each with the physical line it starts on
    header     the header row and the columns that serve each template role
    cells      a row's cells by role, and errors located at file, line and column
    classify   transaction, filtered-out or skipped non-transaction row
    dates      date cells, in the template's formats and UTC offset
    amounts    signed amount, Dr/Cr marker, debit/credit columns, fees, running balance
    extract    references pulled out of the narration
    record     one transaction row as a canonical record dict
    balances   does the running balance agree with the amounts?
"""

from __future__ import annotations

from hisaab.ingest.tabular.dates import DateReader
from hisaab.ingest.tabular.files import (
    check_input_file,
    decode_text,
    read_input_bytes,
    reject_binary,
    sniff_bom,
)
from hisaab.ingest.tabular.header import HeaderMatch, locate_header, resolve_columns
from hisaab.ingest.tabular.reader import read_tabular
from hisaab.ingest.tabular.split import DELIMITERS, iter_records

__all__ = [
    "DELIMITERS",
    "DateReader",
    "HeaderMatch",
    "check_input_file",
    "decode_text",
    "iter_records",
    "locate_header",
    "read_input_bytes",
    "read_tabular",
    "reject_binary",
    "resolve_columns",
    "sniff_bom",
]
