"""Ingest: read raw tables, validate them against the contracts, write typed Parquet and a quarantine.

For each table in :data:`engage_models.ingest.contracts.TABLE_ORDER` (accounts first):

1. find its source: ``raw/<table>.parquet|.csv|.tsv|.txt|.json|.ndjson|.xlsx`` (a text or JSON file gzipped too:
   ``.csv.gz``; a file compressed otherwise, ``.zip``, is refused with its name) or a folder ``raw/<table>/`` of
   parts (two of them for one table is an error), or what ``sources`` (default ``raw/sources.yaml``) names: a
   file, or a database table read in Arrow batches (see :mod:`~.database`);
2. read it: text files in their encoding (given, or detected: see :mod:`~.files`), lines that are not rows
   (too many or too few fields, an unclosed quote, a truncated last line) set aside with their raw text;
3. check that the contract's required columns are there, else raise :class:`IngestError` naming the
   file and the missing columns;
4. type every contract column (timestamps become UTC; text without an offset is read as UTC), and
   annotate each row with every reason it breaks the contract: unparseable, non-finite (``inf``, ``NaN``,
   ``infinity``) or missing values, values out of range, duplicate keys (the first good row is kept; a
   quarantined row that shares its key with another row says so too),
   unknown ``account_id``, timestamps in the future;
5. write the good rows to ``processed/<table>.parquet`` (contract columns typed, extra columns kept) and
   the others to ``processed/quarantine/<table>.parquet``: ``source_file``, ``source_row`` (1-based data
   row), ``source_line`` and ``raw_line`` (for lines that are not rows), ``reason``, then the row's raw
   text per column. No row is dropped silently: rows read = rows kept + rows quarantined, per table.

All tables, their quarantines and ``ingest_report.json`` are written to a staging folder next to
``processed/``, which replaces it only when every table succeeded: a failure leaves the previous
processed data as it was.

All of it runs as DuckDB SQL over the files (streaming, with a memory limit), so the events table never
has to fit in pandas. Values reach the SQL only as bound parameters; identifiers are quoted, and the
columns of a user's file are addressed by position, so no column name can collide with ours.

Examples
--------
>>> from engage_models.demo.simulator import simulate
>>> from engage_models.ingest import ingest
>>> _ = simulate(out="/tmp/engage-doc/raw", n_accounts=30, months=3)
>>> report = ingest("/tmp/engage-doc/raw", "/tmp/engage-doc/processed")
>>> report.tables["events"].rows_quarantined > 0   # the simulator plants a few bad rows
True
"""

from __future__ import annotations

import csv
import glob
import html
import json
import logging
import re
import shutil
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .. import config
from .._core import i18n
from .._core.errors import ConfigError, DataError
from .._core.io import write_json
from .._core.locks import hold
from .._core.money import CURRENCIES, amount_doubt, read_amount
from .._core.reasons import Why, stored
from .._core.time import check_zone, fixed_offset, moment, same_clock, wall_clock
from ..features.engine import connect_duckdb
from . import contracts as C
from . import database as D
from . import files as F
from .sources import NUMBER_DATES, SOURCES_FILE, Source, resolve_sources

log = logging.getLogger(__name__)

SUFFIXES = (".parquet", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz", ".xlsx",
            ".xlsm")
#: Looked for as ``raw/<table>.txt`` (not as parts of a folder, where a ``readme.txt`` is no part): Excel's "Unicode
#: text" (File > Save As), a tab-separated UTF-16 file, read as a ``.tsv`` is; gzipped too.
TEXT_EXPORTS = (".txt", ".txt.gz")
#: Compressions ingest does not read (gzip, ``.gz``, it reads for text and JSON files): a file so compressed is
#: refused with its name and what to do, not passed over as no file at all.
UNREAD_COMPRESSIONS = (".zip", ".bz2", ".xz", ".zst", ".7z", ".lz4", ".z", ".tgz", ".tar")
_PARAM = re.compile(r"\$([a-z_]+)")
_QUOTED = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'')
#: The quarantine's own columns; a data column of the same name is stored as ``data.<name>`` there.
QUARANTINE_COLUMNS = ("source_file", "source_row", "source_line", "reason", "raw_line")
#: The columns of the record of values set aside (``quarantine/<table>.values.parquet``) before the row's own.
VALUE_COLUMNS = ("source_file", "source_row", "column", "value", "reason")
REPORT_FILE = "ingest_report.json"


class IngestError(DataError):
    """A table cannot be read at all (missing file or column, unreadable file). Bad rows never raise."""


@dataclass
class TableResult:
    table: str
    source: str
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    by_reason: dict[str, int] = field(default_factory=dict)
    processed: str | None = None
    quarantine: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    #: text files: the encoding read (``utf-8``, ``utf-8-sig`` = UTF-8 with a byte-order mark, ``utf-16``,
    #: ``cp932``; parts in different encodings are listed with ", "); None for Parquet
    encoding: str | None = None
    #: True when detected, False when given (sources file, ``--encoding``); None for Parquet
    encoding_detected: bool | None = None
    #: source columns read as a contract column spelled otherwise (``{"CSAT": "csat"}``; see :func:`read_as`)
    renamed_columns: dict[str, str] = field(default_factory=dict)
    #: amounts written with a currency sign (read where the sources file gives ``thousands`` or ``decimal``):
    #: column -> sign -> kept rows (¥, full-width ¥ and Shift_JIS's backslash as one sign; 円 apart: JPY's only)
    currency_signs: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the zone its times written without an offset were read in (sources.yaml's ``timezone``, else the run's)
    timezone: str = "UTC"
    #: a table without a key: rows kept that are equal in every column to an earlier row kept (None: the table
    #: has a key, whose repeats are quarantined as duplicates). See :func:`_exact_copies`.
    exact_copies: int | None = None
    #: values set aside alone, their rows kept with the value empty (the contract's ``set_aside_values``: a ticket's
    #: csat outside the scale), per reason; listed with their rows in ``values``
    values_set_aside: dict[str, int] = field(default_factory=dict)
    values: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> TableResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class IngestReport:
    """What ingest read, kept and quarantined, per table and reason. Renders as tables in a notebook."""

    tables: dict[str, TableResult]
    now: str
    missing_optional: list[str] = field(default_factory=list)
    warnings: list[str] | None = field(default_factory=list)  # what ingest warned about (None: not recorded)
    #: the calendar the processed times are wall-clock times of (see :mod:`engage_models._core.time`)
    timezone: str = "UTC"

    def to_frame(self) -> pd.DataFrame:
        """One row per table: rows read, kept and quarantined, the values set aside alone in rows kept (a ticket's
        CSAT 10 on the 1-5 scale; blank for a table none of whose values is set aside alone), the exact copies
        kept (blank for a table with a key), the source and its encoding."""
        rows = [
            {
                "table": r.table,
                "rows read": r.rows_read,
                "rows kept": r.rows_kept,
                "rows quarantined": r.rows_quarantined,
                "% quarantined": 100 * r.rows_quarantined / r.rows_read if r.rows_read else 0.0,
                "values set aside": _values_count(r),
                "exact copies kept": r.exact_copies,
                "source": source_name(r.source),
                "encoding": r.encoding or "",
            }
            for r in self.tables.values()
        ]
        frame = pd.DataFrame(rows)
        if len(frame):  # blank for a table with a key (its repeats are quarantined as duplicates), not NaN or 3.0
            for col in ("values set aside", "exact copies kept"):
                frame[col] = frame[col].astype("Int64")
        return frame

    def to_text_frame(self) -> pd.DataFrame:
        """:meth:`to_frame` with the counts of values set aside and of exact copies as text (a blank where the table
        has none to count, not <NA>), for a console or a notebook's own display."""
        frame = self.to_frame()
        if len(frame):
            for col in ("values set aside", "exact copies kept"):
                frame[col] = frame[col].map(lambda n: "" if pd.isna(n) else f"{int(n):,}")
        return frame

    def reasons_frame(self) -> pd.DataFrame:
        """One row per (table, reason) with the number of rows quarantined for it."""
        rows = [
            {"table": r.table, "reason": reason, "rows": n}
            for r in self.tables.values()
            for reason, n in sorted(r.by_reason.items(), key=lambda kv: -kv[1])
        ]
        return pd.DataFrame(rows, columns=["table", "reason", "rows"])

    @property
    def rows_quarantined(self) -> int:
        return sum(r.rows_quarantined for r in self.tables.values())

    def to_json(self, path: str | Path) -> None:
        warnings = None if self.warnings is None else [str(w) for w in self.warnings]
        texts = None if self.warnings is None else [w.all() if isinstance(w, Why) else None for w in self.warnings]
        write_json(path, {"now": self.now, "timezone": self.timezone, "missing_optional": self.missing_optional,
                          "warnings": warnings, "warning_texts": texts,
                          "tables": {k: asdict(v) for k, v in self.tables.items()}})

    @classmethod
    def from_json(cls, path: str | Path) -> IngestReport:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tables = {k: TableResult.from_dict(v) for k, v in data["tables"].items()}
        warnings = data.get("warnings")
        if warnings is not None:  # in every language where the report kept them (since 4 Dec 2026), else English
            texts = data.get("warning_texts") or [None] * len(warnings)
            warnings = [stored(w, texts_) for w, texts_ in zip(warnings, texts, strict=True)]
        return cls(tables=tables, now=data["now"], missing_optional=data.get("missing_optional", []),
                   warnings=warnings, timezone=data.get("timezone", "UTC"))

    def _repr_html_(self) -> str:
        parts = [f"<p>Ingest at {html.escape(self.now)}: {i18n.count(self.rows_quarantined, 'row')} quarantined.</p>",
                 self.to_text_frame().to_html(index=False, float_format="{:.2f}".format)]
        if self.rows_quarantined:
            parts.append(self.reasons_frame().to_html(index=False))
        return "\n".join(parts)


def _values_count(r: TableResult) -> int | None:
    """How many values of the table ``r`` were set aside alone, their rows kept (each has one reason: one column,
    one check); None for a table whose contract sets no value aside alone (every bad value quarantines its row)."""
    contract = C.CONTRACTS.get(r.table)
    if contract is None or not contract.set_aside_values:
        return None
    return sum(r.values_set_aside.values())


def source_name(source: str) -> str:
    """A table's source as a report shows it: a file by its name, a database table by its label."""
    return source if "://" in source else Path(source).name


def _ident(name: str) -> str:
    """Quote an SQL identifier (column names come from user files)."""
    return '"' + name.replace('"', '""') + '"'


#: Full-width ASCII (U+FF01 to U+FF5E) and the characters it stands for, as NFKC reads them.
_FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
_HALF_WIDTH = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F))


def _literal(text: str) -> str:
    """Quote a string constant written in this package (reasons) or checked against a closed list (a time zone
    known to :func:`~engage_models._core.time.check_zone`); never used for other user values."""
    return "'" + text.replace("'", "''") + "'"


def _suffix(name: str) -> str | None:
    """The longest of :data:`SUFFIXES` that ``name`` ends with (``x.csv.gz`` -> ``.csv.gz``), or None."""
    return max((s for s in SUFFIXES if name.endswith(s)), key=len, default=None)


def find_source(raw_dir: str | Path, table: str) -> Path | None:
    """The raw file (or folder of parts) for ``table`` in ``raw_dir``, or None.

    Two candidates (``surveys.csv`` and ``surveys.parquet``, or a file and a folder of parts, or parts of
    two formats) raise :class:`IngestError` naming them: which one is meant is the user's choice to make.
    """
    raw_dir = Path(raw_dir)
    found = [raw_dir / f"{table}{s}" for s in (*SUFFIXES, *TEXT_EXPORTS) if (raw_dir / f"{table}{s}").is_file()]
    folder = raw_dir / table
    if folder.is_dir():  # .csv and .csv.gz parts are one source (older months compressed): see _files
        parts = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(_LOCK)]
        kinds = {_suffix(p.name).removesuffix(".gz") for p in parts if _suffix(p.name)}
        found += [folder / f"*{s}" for s in SUFFIXES if s in kinds]
        _refuse_compressed(table, [p for p in parts if _unread_compression(p.name)])
    if not found:  # events.csv.zip beside no events.csv: said, not "no file for this required table"
        _refuse_compressed(table, [p for p in raw_dir.glob(f"{glob.escape(table)}.*")
                                   if p.is_file() and _unread_compression(p.name)])
    if len(found) > 1:
        raise IngestError(f"{table}: {len(found)} sources for one table in {raw_dir}: "
                          f"{', '.join(str(p.relative_to(raw_dir)) for p in found)}; keep one, or name the one "
                          f"to read in sources.yaml")
    return found[0] if found else None


def _unread_compression(name: str) -> str | None:
    """The compression ``name`` ends with that ingest does not read (``.zip`` of ``events.csv.zip``), or None; a
    ``.gz`` of anything but a text or JSON file (``events.parquet.gz``, ``accounts.xlsx.gz``) is one too."""
    low = name.lower()
    found = next((c for c in UNREAD_COMPRESSIONS if low.endswith(c)), None)
    if found:
        return found
    if low.endswith(".gz") and not low.endswith((*SUFFIXES, *TEXT_EXPORTS, ".jsonl.gz")):
        return ".gz"
    return None


def _compressed_hint(paths) -> str:
    """What to do with the files ``paths``, compressed in a way ingest does not read."""
    names = sorted(str(p) for p in paths)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    one = len(names) == 1
    return (f"{shown} {'is' if one else 'are'} compressed ({_unread_compression(names[0])}), which ingest does not "
            f"read: decompress {'it' if one else 'them'} (ingest reads plain files, and gzip for text and JSON: "
            f".csv.gz, .tsv.gz, .txt.gz, .json.gz, .ndjson.gz)")


def _refuse_compressed(table: str, paths) -> None:
    """Raise :class:`IngestError` naming the files ``paths`` (if any) compressed in a way ingest does not read."""
    if paths:
        raise IngestError(f"{table}: {_compressed_hint(paths)}")


#: Workbooks ingest does not read (an Excel workbook, ``.xlsx``/``.xlsm``, it does): a table saved in one is named
#: in the error with what to do.
WORKBOOKS = (".xls", ".ods", ".numbers")


def _workbook_hint(path: str) -> str:
    return (f"{path} is a spreadsheet workbook, which ingest does not read: save the sheet as CSV (Excel: File > "
            f"Save As > CSV UTF-8) or as an Excel workbook (.xlsx) and give that file")


def _kind(source: str) -> str:
    s = source.lower()
    if s.endswith(WORKBOOKS):
        raise IngestError(_workbook_hint(source))
    if _unread_compression(s):
        raise IngestError(_compressed_hint([source]))
    for kind, endings in (("parquet", (".parquet",)),
                          ("csv", (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")),
                          ("json", (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")),
                          ("xlsx", (".xlsx", ".xlsm"))):
        if s.endswith(endings):
            return kind
    raise IngestError(f"{source}: cannot tell the format from the name (expected one of {', '.join(SUFFIXES)})")


def _connect(memory_limit: str | None, threads: int | None, temp_dir: Path) -> duckdb.DuckDBPyConnection:
    # insertion order kept: a text file's rows are numbered by their order in a table (see _open_source)
    con = connect_duckdb(memory_limit, threads, temp_dir, preserve_order=True)
    _amounts(con)
    return con


#: The SQL function reading an amount as written (:func:`~engage_models._core.money.read_amount`), on ingest's
#: connection: one reading of ``2,985`` with the yen's kanji for ingest and for ``engage survival --mrr``.
AMOUNT_FUNCTION = "engage_amount"


def _amount(text: str) -> float | None:
    return read_amount(text)


def _amounts(con) -> None:
    """Give ``con`` the SQL function :data:`AMOUNT_FUNCTION` (once)."""
    known = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = $f",
                        {"f": AMOUNT_FUNCTION}).fetchall()[0][0]
    if not known:
        from duckdb.sqltypes import DOUBLE, VARCHAR

        con.create_function(AMOUNT_FUNCTION, _amount, [VARCHAR], DOUBLE, null_handling="special", side_effects=False)


#: Excel's lock file beside a workbook or CSV open in it (``~$2025-01.xlsx``, a few bytes naming the user): no part.
_LOCK = "~$"


def _files(source: str) -> list[Path]:
    """The files a source names: itself, the files of a glob (sorted), or the parts of a folder. A glob of
    ``.csv`` (``.tsv``, ``.txt``, ``.json``...) parts takes their ``.csv.gz`` (...) parts too, in one name order; a
    part there both ways (``2024-01.csv`` and ``2024-01.csv.gz``) is an error naming both, not read twice. Excel's
    lock file of a part open in it (``~$2024-01.xlsx``) is no part."""
    if any(ch in source for ch in "*?[") and not Path(source).exists():  # a folder "Customer data [JP]": a path
        names = _glob(source)
        if source.lower().endswith((".csv", ".tsv", ".txt", ".json", ".ndjson", ".jsonl")):
            names += _glob(source + ".gz")
            plain = {n.lower() for n in names if not n.lower().endswith(".gz")}
            both = sorted(n for n in names if n.lower().endswith(".gz") and n.lower()[:-3] in plain)
            if both:
                raise IngestError(f"{source}: {i18n.count(len(both), 'part is', 'parts are')} there both plain and "
                                  f"compressed, e.g. "
                                  f"{Path(both[0][:-3]).name} and {Path(both[0]).name}: keep one of each")
        return [Path(p) for p in sorted(set(names), key=lambda n: (n.removesuffix(".gz"), n))
                if Path(p).is_file() and not Path(p).name.startswith(_LOCK)]
    p = Path(source)
    if p.is_dir():
        return sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith((".", _LOCK)))
    return [p]


def _glob(pattern: str) -> list[str]:
    """The files matching ``pattern``, the pattern in its last part only when its folder exists as written (a
    folder named "Customer data [JP]" is a name, not a character class)."""
    p = Path(pattern)
    if p.parent.is_dir():
        return [str(q) for q in p.parent.glob(p.name)]
    return glob.glob(pattern)


def _duck(source: str) -> str | list[str]:
    """What DuckDB reads for ``source``: the files of a glob as a list (DuckDB would read the folder's own
    ``[...]`` as a pattern too), else the path."""
    if any(ch in source for ch in "*?[") and not Path(source).exists():
        return [str(f) for f in _files(source)]
    return source


def _unique(name: str, taken) -> str:
    """``name``, prefixed with ``_`` until no name of ``taken`` equals it, without regard to case (DuckDB's)."""
    lower = {t.lower() for t in taken}
    while name.lower() in lower:
        name = "_" + name
    return name


@dataclass
class _Source:
    """A source opened for validation: rows as ``__raw<j>`` (position j of ``names``), ``__row``, ``__file`` and
    ``__fileno`` (the file's position among the source's sorted files: an integer sorts far faster than the
    name, and in the same order)."""

    sql: str
    params: dict
    names: list[str]
    types: list[str]
    bad_sql: str | None = None  # lines that are not rows: __file, __row, __line, __rawline, __reason
    encodings: list[str] = field(default_factory=list)
    detected: bool | None = None
    text: list[int] = field(default_factory=list)  # positions j with the text as read in __txt<j>
    rows: int | None = None  # how many rows it holds, where known without reading them (Parquet's footers)
    renamed: dict[str, str] = field(default_factory=dict)  # parts' columns read as a contract's (see read_as)
    as_read: list[str] = field(default_factory=list)  # the columns' names in the source (``names``: as matched)


def read_as(contract: C.TableContract, names: list[str]) -> tuple[dict[int, str], dict[str, list[str]]]:
    """Source columns read as a contract column spelled otherwise, by position, and the ambiguous cases.

    A contract column (or a known extra one: ``contract.known``) absent under its own name is read from the one
    source column equal to it but for case and surrounding spaces (``CSAT``, ``Account_ID``, a warehouse's
    ``ACCOUNT_ID``). Where several are (``CSAT`` and ``Csat``, no ``csat``), none is chosen: the second mapping
    lists them, by contract column. DuckDB numbers a name repeated but for case in a Parquet or JSON file
    (``Device`` and ``device`` are read as ``Device`` and ``device_1``), so a ``device_<n>`` beside a ``Device``
    makes ``device`` ambiguous too.
    """
    exact = set(names)
    taken = set(contract.column_names) | set(contract.known)
    found: dict[int, str] = {}
    ambiguous: dict[str, list[str]] = {}
    named = dict(_COLUMNS.get())  # the sources file's ``columns``: contract column -> the source's header
    for col, header in named.items():
        at = [j for j, n in enumerate(names) if n == header] or [j for j, n in enumerate(names)
                                                                 if n.strip() == header.strip()]
        if at and col in exact and header != col:  # the contract's own name is there too
            ambiguous[col] = [col, header]
        elif len(at) == 1:
            found[at[0]] = col
        elif at:
            ambiguous[col] = [names[j] for j in at]
    taken |= set(named.values())
    for col in (*contract.column_names, *contract.known):
        if col in exact or col in named:
            continue
        hits = [j for j, n in enumerate(names) if n not in taken and n.strip().lower() == col.lower()]
        numbered = [j for j, n in enumerate(names) if re.fullmatch(re.escape(col) + r"_[0-9]+", n.strip(), re.I)]
        if len(hits) == 1 and not numbered:
            found[hits[0]] = col
        elif hits:
            ambiguous[col] = [names[j] for j in hits + numbered]
    return found, ambiguous


def _extras(contract: C.TableContract, names: list[str]) -> list[int]:
    """Positions of the source columns that no contract column reads (see :func:`read_as`): a known extra
    column found under another case is one of them."""
    found, ambiguous = read_as(contract, names)
    unsure = {n for ns in ambiguous.values() for n in ns}
    ours = {j for j, c in found.items() if c in contract.column_names}
    return [j for j, n in enumerate(names) if n not in contract.column_names and j not in ours and n not in unsure]


def _positional(names: list[str]) -> str:
    return ", ".join(f"{_ident(n)} AS __raw{j}" for j, n in enumerate(names))


def _footer_rows(source: str) -> int | None:
    """The rows of a Parquet source from its files' footers (None for a path that is not a local file)."""
    files = _files(source)
    if not files or not all(f.is_file() for f in files):
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _open_parquet(con, contract: C.TableContract, source: str) -> _Source:
    rel = con.sql("SELECT * FROM read_parquet($src, hive_partitioning = false) LIMIT 0", params={"src": _duck(source)})
    names, types = list(rel.columns), [str(t) for t in rel.types]
    if not {"file_row_number", "file_index"} & {n.lower() for n in names}:
        fname = _unique("__file", names)
        sql = (f"SELECT {_positional(names)}, file_row_number + 1 AS __row, {_ident(fname)} AS __file, "
               f"file_index AS __fileno FROM read_parquet($src,"
               f" hive_partitioning = false, file_row_number = true, filename = {_literal(fname)})")
        return _Source(sql, {"src": _duck(source)}, names, types, rows=_footer_rows(source))
    # a data column named file_row_number (or file_index): the rows are numbered by their order in a table
    parts = []
    for k, f in enumerate(_files(source)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE __src{k} AS SELECT * FROM read_parquet($f,"
                    f" hive_partitioning = false)", {"f": str(f)})
        parts.append(f"SELECT {_positional(names)}, rowid + 1 AS __row, {_literal(str(f))} AS __file, "
                     f"{k} AS __fileno FROM __src{k}")
    return _Source(" UNION ALL ".join(parts), {}, names, types)


def _encoding(f: Path, given: str | None) -> str:
    if given:
        F.check_decodes(f, given)
        return given
    return F.detect_encoding(f)


def _open_json(con, contract: C.TableContract, source: str, given: str | None, work: Path) -> _Source:
    """JSON parts loaded into temporary tables (DuckDB's own types); columns matched by name across parts."""
    columns, encodings, renamed = [], [], {}
    for k, f in enumerate(_files(source)):
        enc = _encoding(f, given)
        encodings.append(enc)
        path = f if enc == "utf-8" else F.transcode(f, enc, work / f"{contract.name}-{k}.json")
        create = f"CREATE OR REPLACE TEMP TABLE __src{k} AS SELECT * FROM "
        # DuckDB's JSON reader would guess a date's format (05-01-2024 read day first as 5 January): only ISO
        # dates are dates there; every other text is typed by the contract (date_format) or as a CSV's extras
        iso = "dateformat = '%Y-%m-%d', timestampformat = '%Y-%m-%d %H:%M:%S'"
        try:
            con.execute(create + f"read_json_auto($f, hive_partitioning = false, {iso})", {"f": str(path)})
        except duckdb.Error:
            con.execute(create + f"read_json_auto($f, format = 'auto',"
                                 f" hive_partitioning = false, {iso})", {"f": str(path)})
        cols = con.sql(f"SELECT * FROM __src{k} LIMIT 0").columns
        # each part's keys are matched to the contract on their own (one part's CSAT, another's csat)
        found, ambiguous = read_as(contract, cols)
        if ambiguous:
            _ambiguous(contract, str(f), ambiguous)
        renamed.update({cols[j]: c for j, c in found.items()})
        columns.append((f, {found.get(j, n): n for j, n in enumerate(cols)}))  # name as matched -> as read
    names = list(dict.fromkeys(n for _, cols in columns for n in cols))  # a key missing from a part is NULL there
    parts = []
    for k, (f, cols) in enumerate(columns):
        sel = ", ".join(f"{_ident(cols[n]) if n in cols else 'NULL'} AS __raw{j}" for j, n in enumerate(names))
        parts.append(f"SELECT {sel}, rowid + 1 AS __row, {_literal(str(f))} AS __file, {k} AS __fileno "
                     f"FROM __src{k}")
    sql = " UNION ALL ".join(parts)
    types = [str(t) for t in con.sql(f"SELECT * EXCLUDE (__row, __file, __fileno) FROM ({sql}) LIMIT 0").types]
    sql, types, text = _typed_text(con, contract, names, sql, None, types)
    return _Source(sql, {}, names, types, encodings=encodings, detected=given is None, text=text, renamed=renamed)


def _ambiguous(contract: C.TableContract, where: str, ambiguous: dict[str, list[str]]) -> None:
    which = "; ".join(f"{col!r} could be any of {', '.join(repr(n) for n in ns)}" for col, ns in ambiguous.items())
    numbered = any(re.search(r"_[0-9]+$", n) for ns in ambiguous.values() for n in ns)
    note = (" (a name ending in _<number> is how the reader tells apart two columns spelled alike but for "
            "case)") if numbered else ""
    raise IngestError(f"{contract.name}: {where} has several columns for one contract column ({which}){note}: "
                      "rename the one to read, or the others")


def _read_csv_sql(columns: dict[str, str], header: bool) -> str:
    spec = ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in columns.items())
    return (f"read_csv($f, header = {'true' if header else 'false'}, auto_detect = false,"
            f" hive_partitioning = false, columns = {{{spec}}}, "
            "delim = $delim, quote = '\"', escape = '\"', strict_mode = true, encoding = 'utf-8')")


def _no_content(path: Path) -> bool:
    """A text file of 0 bytes, or of a byte-order mark and blank lines only (Excel's "CSV UTF-8" of nothing)."""
    size = path.stat().st_size
    if size > 4096:
        return False
    raw = path.read_bytes()
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        raw = raw.removeprefix(bom)
    return not raw.replace(b"\x00", b"").strip()


def _sheets(path: str) -> list[tuple[str, bool, bool]]:
    """The worksheets of a workbook in their order: ``(name, visible, holds a value)``."""
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings():  # "Workbook contains no default style" and the like: not the user's
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # said by read_workbook, which names the file and what went wrong
        return []
    try:
        return [(ws.title, ws.sheet_state == "visible",
                 any(v is not None and v != "" for row in ws.iter_rows(values_only=True) for v in row))
                for ws in wb.worksheets]
    finally:
        wb.close()


def choose_sheet(table: str, source: str, sheet: str | None) -> tuple[str | None, list[str]]:
    """The sheet of the workbook ``source`` that ingest reads for ``table``, and the other sheets holding values,
    which it does not read (None: the first visible sheet, left to :func:`~engage_models._core.io.read_workbook`).

    ``sheet`` (sources.yaml's ``sheet``), else the visible sheet named like the table (``accounts``, ``Accounts``),
    else the one visible sheet holding values (a workbook's empty Sheet2 and Sheet3, a hidden lookup sheet do not
    count). Two or more visible sheets holding values, none named like the table, raise :class:`IngestError`
    naming them: reading the first of a tickets workbook split in two halves lost the second half without a word.
    """
    sheets = _sheets(source)
    if sheet is not None:
        return sheet, [n for n, _, full in sheets if full and n.casefold() != sheet.casefold()]
    named = [n for n, visible, _ in sheets if visible and n.strip().casefold() == table.casefold()]
    full = [n for n, visible, has in sheets if visible and has]
    if named:
        return named[0], [n for n in full if n != named[0]]
    if len(full) > 1:
        raise IngestError(f"{table}: {source} has {len(full)} sheets holding values ({', '.join(map(repr, full))}) "
                          f"and none named {table!r}: say which one to read with sheet: in sources.yaml (tables: "
                          f"{{{table}: {{sheet: {full[0]}}}}}), or name its tab {table}; a table kept on several "
                          f"sheets is read once they are one sheet, or workbooks (or CSV files) in a folder {table}/")
    return (full[0] if full else None), []


def _open_workbook(con, contract: C.TableContract, source: str, given: str | None, work: Path,
                   sheet: str | None = None) -> _Source:
    """An Excel workbook's sheet, or each workbook of a folder of parts (``raw/tickets/*.xlsx``, in name order, each
    by the same rules: see :func:`choose_sheet`; read by :func:`~engage_models._core.io.read_workbook`: a title row
    or group names above the header skipped, a formula's stored value), each cell as the text a CSV of the sheet
    would hold, then read as those CSV parts are (the contract types it: a text cell ``N/A`` or ``1,200`` is not
    made empty or a number on the way, as ``engage fit`` reads a workbook, but kept, or quarantined, as in the CSV;
    parts are matched by column name). Rows are each sheet's data rows (blank rows not counted); a warning names
    the sheet read, the other sheets holding values (not read), and where rows are not the sheet's own row numbers,
    the offset: one for every workbook read alike (a folder of a workbook a month is said once, naming them)."""
    from .._core.errors import DataError
    from .._core.io import _cell_text, read_workbook

    if given:
        raise IngestError(f"{contract.name}: an encoding ({given}) is given for {source}, an Excel workbook")
    books = _files(source)
    labels = {}
    said = _Parts()
    for k, book in enumerate(books):
        label = source if len(books) == 1 and str(book) == source else str(book)
        chosen, others = choose_sheet(contract.name, str(book), sheet)
        try:
            df = read_workbook(book, chosen, as_written=True)  # "N/A", "1,200" as a CSV holds them: the contract reads
        except DataError as exc:
            raise IngestError(f"{contract.name}: {exc}") from exc
        read = df.attrs["reading"]["sheet"]
        # a name written twice: refused when the table reads it, else kept numbered (memo, memo_2) and said, as in a
        # CSV
        repeated = df.attrs["reading"].get("repeated") or {}
        ours = (*contract.column_names, *contract.known, *(h for _, h in _COLUMNS.get()))
        F.refuse_repeats({n: [c - 1 for c in r["columns"]] for n, r in repeated.items()}, ours,
                         f"{label}, sheet {read['name']!r}", sheet=True)
        if repeated:
            said.add(label, "numbered_columns", table=contract.name, columns=", ".join(map(repr, repeated)),
                     names=", ".join(repr(m) for r in repeated.values() for m in r["names"]))
        text = work / f"{contract.name}-sheet-{k:06d}.csv"
        df.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else
               _cell_text(v.item() if hasattr(v, "item") else v)).to_csv(text, index=False, encoding="utf-8")
        labels[str(text)] = label
        blank = df.attrs["reading"].get("blank_rows")
        said.add(label, "workbook_rows", table=contract.name, sheet=read["name"], h=f"{read['header_row']:,}",
                 blank=(Why("ingest.workbook_blank", n=f"{blank['rows']:,}", first=str(blank["first"]),
                            k=len(blank["first"])) if blank else ""),
                 others=(Why("ingest.workbook_others", sheets=", ".join(map(repr, others)), n=len(others)) if others
                         else ""))
    said.warn()
    parts = next(iter(labels)) if len(labels) == 1 else str(work / f"{contract.name}-sheet-*.csv")
    return _open_text(con, contract, parts, "utf-8", work, ",", label=labels)


class _Parts:
    """Warnings about the parts of one source, each said once for every part it is true of (a folder of a workbook a
    month read from one template: one warning naming the months, not one a month)."""

    def __init__(self) -> None:
        self.said: dict[tuple, tuple[str, dict, list[str]]] = {}

    def add(self, part: str, warning: str, **fmt) -> None:
        key = (warning, *((k, str(v)) for k, v in sorted(fmt.items())))
        self.said.setdefault(key, (warning, fmt, []))[2].append(part)

    def warn(self) -> None:
        for warning, fmt, parts in self.said.values():
            _warn(warning, source=parts_named(parts), parts=len(parts), **fmt)


def parts_named(parts: list[str]) -> str | Why:
    """Parts of a source as a warning names them: one by its path; several of one folder by their names in it.

    >>> parts_named(["raw/t/2025-01.xlsx"]), str(parts_named(["raw/t/2025-01.xlsx", "raw/t/2025-02.xlsx"]))
    ('raw/t/2025-01.xlsx', '2025-01.xlsx, 2025-02.xlsx in raw/t')
    """
    if len(parts) == 1:
        return parts[0]
    folders = {str(Path(p).parent) for p in parts}
    if len(folders) == 1:
        return Why("ingest.parts_in", names=", ".join(Path(p).name for p in parts), folder=folders.pop())
    return ", ".join(parts)


def _open_text(con, contract: C.TableContract, source: str, given: str | None, work: Path,
               delimiter: str | None = None, label: Mapping[str, str] | None = None) -> _Source:
    """CSV/TSV parts read as text (the contract types them); lines that are not rows set aside. Parts are matched
    by column name: a monthly export whose columns came in another order, or that gained a column, is read (a
    column missing from a part is empty there, so its rows are quarantined if the contract needs it). ``label``:
    a part's file -> the name its rows give as their ``source_file`` (a workbook's, for the CSV of its sheet)."""
    delimiter = delimiter or default_delimiter(source)
    parts, bad, names, encodings, own = [], [], None, [], {}
    said = _Parts()
    for k, f in enumerate(_files(source)):
        name = (label or {}).get(str(f), str(f))
        if _no_content(Path(f)):  # an export of nothing, not even its header: a table without rows
            said.add(str(f), "empty_file", table=contract.name)
            continue
        enc = _encoding(f, given)
        encodings.append(enc)
        path = f if enc in F.DUCKDB_ENCODINGS else F.transcode(f, enc, work / f"{contract.name}-{k}.csv")
        ours = (*contract.column_names, *contract.known, *(h for _, h in _COLUMNS.get()))
        with F.open_text(path, "utf-8-sig") as text:
            header = F.read_header(text, delimiter, str(f), ours)
        if header.numbered:
            said.add(name, "numbered_columns", table=contract.name,
                     columns=", ".join(repr(n) for n in header.numbered),
                     names=", ".join(repr(m) for ms in header.numbered.values() for m in ms))
        if names is None:
            names = list(header.names)
        elif header.names != names:
            if len(set(header.names)) < len(header.names) or len(set(names)) < len(names):
                raise IngestError(f"{contract.name}: {f} has columns {header.names}, the first part has {names} "
                                  f"(a name repeated in a part: parts cannot be matched by name)")
            names += [n for n in header.names if n not in names]
        own[k] = list(header.names)
        columns = {f"__raw{j}": "VARCHAR" for j in range(len(header.names))}
        p = {"f": str(path), "delim": delimiter, "file": name}
        try:  # clean files (nearly all): DuckDB alone, strict, streaming
            con.execute(f"CREATE OR REPLACE TEMP TABLE __src{k} AS SELECT *, $file AS __file "
                        f"FROM {_read_csv_sql(columns, header=True)}", p)
            parts.append((k, "rowid + 1 AS __row"))
            continue
        except duckdb.Error as exc:
            log.info("%s: %s has lines that are not rows (%s); splitting it", contract.name, f, str(exc)[:200])
        good, rejects = work / f"{contract.name}-{k}.rows.csv", work / f"{contract.name}-{k}.rejects.csv"
        with (F.open_text(path, "utf-8-sig") as text, open(good, "w", encoding="utf-8", newline="") as g,
              open(rejects, "w", encoding="utf-8", newline="") as b):
            for _ in range(header.lines):
                next(text)
            gw, bw = csv.writer(g, lineterminator="\n"), csv.writer(b, lineterminator="\n")
            for r in F.split_lines(text, len(header.names), delimiter, header.lines + 1, header.blank_tail):
                if r.fields is None:
                    bw.writerow([r.row, r.line, r.raw, r.reason])
                else:
                    gw.writerow([*r.fields, r.row])
        p = {"f": str(good), "delim": ",", "file": name}
        con.execute(f"CREATE OR REPLACE TEMP TABLE __src{k} AS SELECT *, $file AS __file "
                    f"FROM {_read_csv_sql({**columns, '__row': 'BIGINT'}, header=False)}", p)
        parts.append((k, "__row"))
        bad_cols = {"__row": "BIGINT", "__line": "BIGINT", "__rawline": "VARCHAR", "__reason": "VARCHAR"}
        p = {"f": str(rejects), "delim": ",", "file": name}
        con.execute(f"CREATE OR REPLACE TEMP TABLE __bad{k} AS SELECT *, $file AS __file "
                    f"FROM {_read_csv_sql(bad_cols, header=False)}", p)
        bad.append(f"SELECT * FROM __bad{k}")
    said.warn()

    def source(k: int, j: int, n: str) -> str:  # a part's column for column j of all parts: in place, by name
        if j < len(own[k]) and own[k][j] == n:
            return f"__raw{j}"
        return f"__raw{own[k].index(n)}" if n in own[k] else "NULL::VARCHAR"

    def part(k: int, row: str) -> str:  # the part's columns under the names of all parts
        sel = ", ".join(f"{source(k, j, n)} AS __raw{j}" for j, n in enumerate(names))
        return f"SELECT {sel}, __file, {row}, {k} AS __fileno FROM __src{k}"

    if names is None:  # every part empty: the contract's columns, no row
        names = list(contract.required_columns)
        union = ("SELECT " + ", ".join(f"NULL::VARCHAR AS __raw{j}" for j in range(len(names)))
                 + ", NULL::VARCHAR AS __file, NULL::BIGINT AS __row, 0 AS __fileno WHERE false")
    else:
        union = " UNION ALL BY NAME ".join(part(k, row) for k, row in parts)
    sql, types, text = _typed_text(con, contract, names, union)
    return _Source(sql, {}, names, types, " UNION ALL ".join(bad) or None, encodings, given is None, text)


def _typed_text(con, contract: C.TableContract, names: list[str], rows_sql: str,
                params: dict | None = None, types: list[str] | None = None) -> tuple[str, list[str], list[int]]:
    """Rows ``__raw<j>`` with their extra text columns typed (see :func:`_infer_types`); ``types``: the
    columns' types as read (default: all text).

    Typed extra columns keep their text too (``__txt<j>``): the quarantine shows values as they were read.
    """
    before = list(types) if types is not None else ["VARCHAR"] * len(names)
    types = _infer_types(con, contract, names, rows_sql, params, before)
    changed = [j for j, (a, b) in enumerate(zip(before, types, strict=True)) if a != b]
    # TRY_CAST: every value cast when the type was inferred, but a pasted header line's (its own name: see
    # _infer_types), which is quarantined as such
    cast = ", ".join(f"TRY_CAST(NULLIF(trim(__raw{j}), '') AS {t}) AS __raw{j}, __raw{j} AS __txt{j}" if j in changed
                     else f"__raw{j}" for j, t in enumerate(types))
    sql = f"SELECT {cast}, __row, __file, __fileno FROM ({rows_sql})"
    return sql, types, changed


def _open_database(con, contract: C.TableContract, source: Source, work: Path) -> _Source:
    """A database table, read batch by batch into a Parquet file in ``work`` (see :mod:`~.database`).

    Rows are numbered in the order the database returned them; ``__file`` is the source's label (the URL
    without password). Columns the driver typed keep their types (the contract casts them as it casts a
    Parquet file's); a column of text is typed by the rules of a CSV file's, wherever it comes from: the
    contract types its own columns, and an extra column becomes the first type all its values cast to.
    """
    db = source.database
    landed = D.land(db, work / f"{contract.name}.database.parquet", table=contract.name)
    params = {"dbpath": str(landed.path), "dblabel": D.label(db)}
    # the columns under DuckDB's names: it numbers a name repeated but for case (ACCOUNT_ID, account_id_1), and
    # selecting by the database's names would read the first of them twice
    file_names = pq.read_schema(landed.path).names
    duck = con.sql("SELECT * FROM read_parquet($dbpath,"
                   " hive_partitioning = false) LIMIT 0", params={"dbpath": params["dbpath"]}).columns
    names = [duck[file_names.index(n)] for n in landed.names]
    row = duck[file_names.index(landed.row_column)]
    sql = (f"SELECT {_positional(names)}, {_ident(row)} AS __row, $dblabel AS __file, 0 AS __fileno "
           f"FROM read_parquet($dbpath, hive_partitioning = false)")
    types = [str(t) for t in con.sql("SELECT * EXCLUDE (__row, __file, __fileno) FROM (" + sql + ") LIMIT 0",
                                     params=params).types]
    sql, types, text = _typed_text(con, contract, names, sql, params, types)
    return _Source(sql, params, names, types, text=text)


#: Types tried, in order, for the extra columns of a text file (the contract types its own columns).
_EXTRA_TYPES = ("BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMPTZ")


def _infer_types(con, contract: C.TableContract, names: list[str], union: str, params: dict | None = None,
                 types: list[str] | None = None) -> list[str]:
    """``types`` (default: all VARCHAR) with each extra VARCHAR column given the first type every non-empty
    value casts to; contract columns are left as they are (the contract types them). A row that repeats the
    header (two or more of the contract's columns hold their own names: a file pasted under another) is not
    looked at: its extra columns hold their names, which made a column of numbers text."""
    types = list(types) if types is not None else ["VARCHAR"] * len(names)
    found, _ = read_as(contract, names)
    # an identifier stays text (see _id_text): the surveys' ticket_id typed BIGINT was a float to pandas where one
    # answer named no ticket, and its 101.0 named no ticket 101
    extras = [j for j in _extras(contract, names) if types[j] == "VARCHAR"
              and not C.is_identifier(found.get(j, names[j]))]
    if not extras:
        return types
    own = [j for j, n in enumerate(names) if n in contract.column_names or found.get(j) in contract.column_names]
    header = " AND ".join(f"lower(trim(CAST(__raw{j} AS VARCHAR))) = {_literal(names[j].strip().lower())}"
                          for j in own) if len(own) >= 2 else "FALSE"
    checks = []
    for j in extras:
        v = f"CASE WHEN NOT coalesce({header}, FALSE) THEN NULLIF(trim(__raw{j}), '') END"
        checks.append(f"count({v}) > 0")
        for t in _EXTRA_TYPES:
            ok = {"BOOLEAN": f"lower({v}) IN ('true', 'false')",  # not 0/1, yes/no: those stay as they are
                  # DuckDB casts '2025-01-05T10:00Z' to a DATE by dropping the time: a date is a date only
                  "DATE": f"regexp_full_match({v}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') AND TRY_CAST({v} AS DATE) IS NOT NULL",
                  }.get(t, f"TRY_CAST({v} AS {t}) IS NOT NULL")
            checks.append(f"bool_and({v} IS NULL OR {ok})")
    flags = con.execute(f"SELECT {', '.join(checks)} FROM ({union})", params or {}).fetchall()[0]
    step = len(_EXTRA_TYPES) + 1
    for i, j in enumerate(extras):
        any_value, *fits = flags[i * step:(i + 1) * step]
        if any_value:
            types[j] = next((t for t, ok in zip(_EXTRA_TYPES, fits, strict=True) if ok), "VARCHAR")
    return types


def _open_source(con, contract: C.TableContract, source: str, encoding: str | None, work: Path,
                 delimiter: str | None = None, sheet: str | None = None) -> _Source:
    """The source's rows with ``__row`` (1-based data row) and ``__file``, its column names and types.

    Parquet is scanned in place (streaming). Text formats are loaded into temporary tables first: a
    table keeps insertion order, so its rowid is the row in the file. (Database tables: :func:`_open_database`.)
    """
    kind = _kind(source)
    if kind == "parquet" and encoding:
        raise IngestError(f"{contract.name}: an encoding ({encoding}) is given for {source}, a Parquet file")
    if sheet is not None and kind != "xlsx":
        raise IngestError(f"{contract.name}: a sheet ({sheet!r}) is given for {source}, which is not an Excel "
                          f"workbook (.xlsx, .xlsm)")
    if kind != "parquet" and not _files(source):
        raise IngestError(f"{contract.name}: cannot read {source}: no such file")
    try:
        if kind == "parquet":
            return _open_parquet(con, contract, source)
        if kind == "json":
            return _open_json(con, contract, source, encoding, work)
        if kind == "xlsx":
            return _open_workbook(con, contract, source, encoding, work, sheet)
        return _open_text(con, contract, source, encoding, work, delimiter)
    except F.FileError as exc:
        raise IngestError(f"{contract.name}: {exc}") from exc
    except (duckdb.Error, OSError) as exc:
        raise IngestError(f"{contract.name}: cannot read {source}: {exc}") from exc


#: A currency sign before a number (after its sign) or after it, dropped when the source says how its numbers
#: are written (yen, fullwidth yen, dollar, euro, pound before; any of them or the kanji for yen after). A
#: backslash is a yen sign too: Shift_JIS (CP932) writes the yen sign as the byte 0x5C, which decodes as ``\``.
#: The signs are symbols a value may carry, not report text (that lives in the catalogue): named by code point.
#: An ISO code (``JPY 2,985``, ``2,985 EUR``, any case) is counted as itself.
_SIGNS = "$" + "".join(map(chr, (0xA5, 0xFFE5, 0x20AC, 0xA3)))
_CODES = "|".join(sorted(CURRENCIES, key=len, reverse=True))
_CURRENCY_BEFORE = f"^([+-]?)\\s*(?:[{_SIGNS}\\\\]|(?i:{_CODES}))\\s*"
_CURRENCY_AFTER = f"\\s*(?:[{_SIGNS}{chr(0x5186)}]|(?i:{_CODES}))$"
_CODE_IN = re.compile(_CODES, re.IGNORECASE)


#: Each sign a value may carry -> the sign it is counted as (the yen's three spellings before a number as one).
_SIGN_OF = {"$": "$", chr(0xA5): chr(0xA5), chr(0xFFE5): chr(0xA5), "\\": chr(0xA5), chr(0x5186): chr(0x5186),
            chr(0x20AC): chr(0x20AC), chr(0xA3): chr(0xA3)}
#: sign -> the currencies (ISO codes) whose amounts it may mark (the kanji is Japanese only; Chinese writes 元)
SIGN_CURRENCIES = {"$": ("USD", "AUD", "CAD", "SGD"), chr(0xA5): ("JPY", "CNY"), chr(0x5186): ("JPY",),
                   chr(0x20AC): ("EUR",), chr(0xA3): ("GBP",),
                   **{code: (code,) for code in CURRENCIES}}


def _currency_signs(con, contract: C.TableContract, src: _Source, source: Source, annotated: str, values: dict,
                    where: str) -> dict[str, dict[str, int]]:
    """The currency signs on each number column's kept values, counted (see ``TableResult.currency_signs``), for
    a text source whose numbers are read with their signs (``thousands``/``decimal`` given). A column whose
    kept values carry signs of no one currency (``$`` and ``¥``; ``$1,200円``) is warned about: its amounts are
    added up as if they were one. ``annotated``: the validated rows (:func:`_table_sql`)."""
    formats = bool(_number_params(source))
    out: dict[str, dict[str, int]] = {}
    for col in contract.columns:  # amounts are read with their signs without a format (see _typed)
        if col.dtype != C.DOUBLE or col.name not in src.names or not (formats or col.name in C.AMOUNTS):
            continue
        j = src.names.index(col.name)
        kind = src.types[j].upper()
        if kind not in ("VARCHAR", "JSON"):  # a typed number carries no sign
            continue
        raw = f"(__raw{j} ->> '$')" if kind == "JSON" else f"__raw{j}"
        text = f"NULLIF(trim(CAST({raw} AS VARCHAR)), '')"
        sql = (f"SELECT NULLIF(regexp_extract({text}, '{_CURRENCY_BEFORE}', 0), '') AS b, "
               f"NULLIF(regexp_extract({text}, '{_CURRENCY_AFTER}', 0), '') AS a "
               f"FROM ({annotated}) WHERE __reason IS NULL")  # the kept rows: a quarantined value reaches no report
        sql = f"SELECT b, a, count(*) FROM ({sql}) WHERE b IS NOT NULL OR a IS NOT NULL GROUP BY ALL"
        try:
            rows = con.execute(sql, _params(sql, values)).fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{contract.name}: failed while reading the currency signs of {col.name} in "
                              f"{where}: {exc}") from exc
        counted: dict[str, int] = {}
        for before, after, n in rows:  # a match keeps the number's sign and spaces: the currency's is in it
            codes = {m.group(0).upper() for found in (before, after) if found for m in _CODE_IN.finditer(found)}
            for key in codes or {_SIGN_OF[ch] for found in (before, after) if found for ch in found if ch in _SIGN_OF}:
                counted[key] = counted.get(key, 0) + n
        if not counted:
            continue
        out[col.name] = dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))
        if not set.intersection(*(set(SIGN_CURRENCIES[k]) for k in counted)):
            _warn("currencies", table=contract.name, column=col.name, source=where, signs=sign_rows(out[col.name]))
    return out


#: Tables whose case-folded values are not counted for a warning (a second pass over the validated rows: 50M events
#: would pay it on every run; their event types are read in lower case all the same).
_CASE_UNSAID = ("events",)


def _case_folded(con, contract: C.TableContract, src: _Source, annotated: str, values: dict, where: str) -> None:
    """A warning per column read in lower case (``survey_type``, ``channel``, ``trigger``...: see ``Column.lower``)
    whose kept values were written in another case (``CSAT`` beside ``csat``): they are one value, said with the
    commonest spellings changed and their rows, so that a reader comparing the file and the reports sees why."""
    if contract.name in _CASE_UNSAID:
        return
    for col in contract.columns:
        if not col.lower or col.name not in src.names:
            continue
        j = src.names.index(col.name)
        kind = src.types[j].upper()
        if kind not in ("VARCHAR", "JSON"):
            continue
        ref = f"(__raw{j} ->> '$')" if kind == "JSON" else f"__raw{j}"
        raw = f"trim(CAST({ref} AS VARCHAR))"
        sql = (f"SELECT {raw} AS w, any_value({_ident(col.name)}) AS v, count(*) AS n FROM ({annotated}) "
               f"WHERE __reason IS NULL AND {_ident(col.name)} IS NOT NULL AND {_ident(col.name)} <> {raw} "
               f"GROUP BY 1 ORDER BY 3 DESC, 1")
        try:
            rows = con.execute(sql, _params(sql, values)).fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{contract.name}: failed while reading the values of {col.name} in {where}: "
                              f"{exc}") from exc
        if not rows:
            continue
        n = sum(k for _, _, k in rows)
        shown = Why.of({lang: i18n.t("sep.comma", lang).join(
            i18n.t("ingest.case_as", lang, value=repr(w), as_=repr(v), n=f"{k:,}") for w, v, k in rows[:5])
            + (i18n.t("ingest.more_values", lang, k=len(rows) - 5) if len(rows) > 5 else "") for lang in i18n.LANGS})
        _warn("case_folded", table=contract.name, column=col.name, source=where, n=f"{n:,}", values=shown)


#: Rows looked at for a time written without a zone (an export writes its times one way throughout).
_NAIVE_ROWS = 1_000_000
#: An ISO 8601 time of day (or Japanese Excel's slashes) without an offset: a wall clock of no stated zone.
_NAIVE_TEXT = r"\s*[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}[T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*"


def _hint_naive_times(con, contract: C.TableContract, src: _Source, where: str) -> None:
    """A warning when the table's times of day are written without a zone (``2025-01-31 23:30``, or a Parquet or
    database timestamp without one) and none was given: they are read as UTC, whose days and months every later
    step counts. An export in Tokyo time read so moved nothing on its own, but said nothing either: its first hours
    of a month stay in that month's first day, and times with an offset in other tables are a day apart from them.
    One warning per table, with the first such value of its first such column (among its first
    :data:`_NAIVE_ROWS` rows); a date without a time is a day on the calendar, not said."""
    found = []
    for col in contract.columns:
        if col.dtype != C.TIMESTAMP or col.name not in src.names:
            continue
        j = src.names.index(col.name)
        kind = src.types[j].upper()
        if kind in ("VARCHAR", "JSON"):
            raw = f"(__raw{j} ->> '$')" if kind == "JSON" else f"__raw{j}"
            ref = f"CAST({raw} AS VARCHAR)"
            cond, value = f"regexp_full_match({ref}, {_literal(_NAIVE_TEXT)})", f"trim({ref})"
        elif kind.startswith("TIMESTAMP") and "TZ" not in kind and "TIME ZONE" not in kind:
            cond, value = f"__raw{j} IS NOT NULL", f"CAST(__raw{j} AS VARCHAR)"
        else:
            continue
        sql = (f"SELECT {value}, __row, __file FROM (SELECT * FROM ({src.sql}) LIMIT {_NAIVE_ROWS}) WHERE {cond} "
               "LIMIT 1")
        try:
            row = con.execute(sql, _params(sql, src.params)).fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{contract.name}: failed while reading {col.name} in {where}: {exc}") from exc
        if row:
            found.append((col.name, *row[0]))
    if found:
        column, example, row, file = found[0]
        _warn("naive_times", table=contract.name, columns=", ".join(c for c, *_ in found), n=len(found),
              column=column, example=repr(example), row=row, source=file)


def _number_params(source: Source) -> dict:
    """The query parameters of :func:`_typed`'s numbers as the source writes them (none for plain numbers):
    a number grouped by ``thousands`` in threes, or plain with ``decimal`` as its point; nothing else."""
    if source.thousands is None and source.decimal is None:
        return {}
    decimal = re.escape(source.decimal or ".")
    grouped = ("[+-]?[0-9]{1,3}(" + re.escape(source.thousands) + f"[0-9]{{3}})+({decimal}[0-9]*)?"
               if source.thousands else "$^")
    plain = f"[+-]?([0-9]+({decimal}[0-9]*)?|{decimal}[0-9]+)([eE][+-]?[0-9]+)?"
    return {"thousands": source.thousands or "", "decimal": source.decimal or ".", "number_grouped": grouped,
            "number_plain": plain}


#: A date written without a time (ISO 8601 or Japanese Excel's slashes): a day on the calendar, not a moment.
_DATE_ONLY_TEXT = r"[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"


def _has_time(fmt: str) -> bool:
    """Whether a strptime format reads a time of day or an offset (else it reads a calendar date)."""
    return re.search(r"%[HIMSfpzZcXTRr]", fmt) is not None


#: An identifier's text that is a whole number written with a decimal point (``101.0``: pandas writes a column of
#: integer ids with a blank cell as floats), and the whole number it is.
_ID_POINT_ZERO, _ID_WHOLE = r"^(-?[0-9]+)\.0+$", r"\1"


def _id_text(ref: str, src_type: str) -> str:
    """SQL: an identifier's value (see :func:`~.contracts.is_identifier`) as text, NULL when empty.

    A float or decimal that is a whole number is written without its decimal point (``101.0`` -> ``101``, a float
    ``1e6`` -> ``1000000``), as is text that writes one so (``101.0``, ``101.00``); any other value is kept as it
    was written (``101.5``, ``00101``, ``1e6`` written as text); a float's NaN (pandas' blank) is empty.

    >>> import duckdb
    >>> duckdb.sql("SELECT " + ", ".join(_id_text(v, t) for v, t in (("101.0::DOUBLE", "DOUBLE"),
    ...     ("1e6::DOUBLE", "DOUBLE"), ("101.5::DOUBLE", "DOUBLE"), ("'nan'::DOUBLE", "DOUBLE"),
    ...     ("101.00::DECIMAL(9,2)", "DECIMAL(9,2)"), ("' 101.0 '", "VARCHAR"), ("'00101'", "VARCHAR"),
    ...     ("101::BIGINT", "BIGINT")))).fetchall()[0]
    ('101', '1000000', '101.5', None, '101', '101', '00101', '101')
    """
    kind = src_type.upper()
    if kind == "JSON":  # a JSON column of mixed values: each value's text, without JSON's quotes
        ref, kind = f"({ref} ->> '$')", "VARCHAR"
    text = f"NULLIF(trim(CAST({ref} AS VARCHAR)), '')"
    if kind in ("DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8") or kind.startswith(("DECIMAL", "NUMERIC")):
        whole = f"{ref} = trunc({ref}) AND abs({ref}) < 1e38"  # HUGEINT holds it (1e40 stays 1e+40)
        # NaN by its text: isnan() said false of a NaN read from a Parquet file (DuckDB 2.0.1)
        return (f"CASE WHEN isfinite({ref}) AND {whole} THEN CAST(CAST({ref} AS HUGEINT) AS VARCHAR) "
                f"WHEN lower({text}) IN ('nan', '-nan') THEN NULL ELSE {text} END")
    # the pattern is tried only on text with a point: the ids of a 50M-event table pay a contains() each
    return (f"CASE WHEN contains({text}, '.') THEN regexp_replace({text}, {_literal(_ID_POINT_ZERO)}, "
            f"{_literal(_ID_WHOLE)}) ELSE {text} END")


def _typed(col: C.Column, src_type: str, ref: str, source: Source | None = None, zone: str = "UTC",
           naive_zone: str | None = None) -> tuple[str, str | None, str | None]:
    """SQL for the typed value, SQL TRUE when a present raw value could not be typed, and SQL TRUE when
    it is not finite (``inf``, ``NaN``, ``infinity``: the typed value is then NULL). ``source``: how its
    timestamps and numbers are written as text, where not ISO 8601 or plain (see :mod:`~.sources`); its
    formats are the query's parameters (``$date_formats``, :func:`_number_params`), never part of its text.
    A timestamp is a moment (the calendar's wall clock is applied to the rows kept, see :func:`ingest_table`): a
    time written without an offset is read in the session's time zone, the table's (``naive_zone``), and a date
    without a time is midnight on the run's calendar (``zone``) whatever the table's zone (a subscription's
    ``2025-02-01`` in a table said to be UTC is still 1 February where the company is)."""
    naive_zone = naive_zone or zone
    dates_apart = col.dtype == C.TIMESTAMP and naive_zone != zone

    def on_calendar(naive: str) -> str:  # a wall-clock time (no zone) on the run's calendar, as a moment
        return f"timezone({_literal(zone)}, {naive})"

    if src_type.upper() == "JSON":  # a JSON column of mixed values: each value's text, without JSON's quotes
        ref, src_type = f"({ref} ->> '$')", "VARCHAR"
    text = f"NULLIF(trim(CAST({ref} AS VARCHAR)), '')"
    if col.dtype == C.STRING:
        if C.is_identifier(col.name):  # text, a whole number without its decimal point (see _id_text)
            text = _id_text(ref, src_type)
        # a code read in lower case is read in half-width too: ＣＳＡＴ (a Japanese Excel's full-width letters) is csat
        return (f"lower(translate({text}, {_literal(_FULL_WIDTH)}, {_literal(_HALF_WIDTH)}))" if col.lower
                else text), None, None
    if src_type.upper() == "VARCHAR":
        value = f"TRY_CAST({text} AS {col.dtype})"
        if dates_apart:
            value = (f"CASE WHEN regexp_full_match({text}, '{_DATE_ONLY_TEXT}') "
                     f"THEN {on_calendar(f'TRY_CAST({text} AS TIMESTAMP)')} ELSE {value} END")
        if col.dtype == C.TIMESTAMP and source is not None and source.date_format:
            # one call per format, in order: DuckDB's list form carries a %z match's offset to later rows
            tried = []
            for i, fmt in enumerate(source.date_format):
                if fmt in NUMBER_DATES:
                    tried.append(_number_date(fmt, f"TRY_CAST({text} AS DOUBLE)", on_calendar, dates_apart))
                    continue
                parsed = f"try_strptime({text}, ($date_formats)[{i + 1}])"
                tried.append(on_calendar(parsed) if dates_apart and not _has_time(fmt)
                             else f"CAST({parsed} AS TIMESTAMPTZ)")
            value = f"coalesce({', '.join(tried)}, {value})"
        if col.dtype == C.DOUBLE and col.name in C.AMOUNTS and not (source is not None and _number_params(source)):
            # an amount as written (a sign, grouped thousands, full-width digits), where a plain number it is not
            value = (f"CASE WHEN {value} IS NULL AND {text} IS NOT NULL THEN {AMOUNT_FUNCTION}({text}) "
                     f"ELSE {value} END")
        if col.dtype == C.DOUBLE and source is not None and _number_params(source):
            bare = f"regexp_replace(regexp_replace({text}, '{_CURRENCY_BEFORE}', '\\1'), '{_CURRENCY_AFTER}', '')"
            value = (f"TRY_CAST(CASE WHEN regexp_full_match({bare}, $number_grouped) "
                     f"THEN replace(replace({bare}, $thousands, ''), $decimal, '.') "
                     f"WHEN regexp_full_match({bare}, $number_plain) THEN replace({bare}, $decimal, '.') "
                     f"WHEN lower({bare}) IN ('inf', '+inf', '-inf', 'infinity', '+infinity', '-infinity', 'nan') "
                     f"THEN {bare} END AS DOUBLE)")
        unparseable = f"({text} IS NOT NULL AND {value} IS NULL)"
        if col.dtype == C.TIMESTAMP:  # DuckDB reads 'epoch' as 1970-01-01: a date has digits
            unparseable = (f"({unparseable} OR ({value} IS NOT NULL AND isfinite({value}) "
                           f"AND NOT regexp_matches({text}, '[0-9]')))")
    elif col.dtype == C.TIMESTAMP and dates_apart and src_type.upper() == "DATE":
        value, unparseable = on_calendar(f"CAST({ref} AS TIMESTAMP)"), None
    elif col.dtype == C.TIMESTAMP and src_type.upper().startswith(("TIMESTAMP", "DATE")):
        value, unparseable = f"CAST({ref} AS TIMESTAMPTZ)", None  # a naive one is in the session's time zone
    elif col.dtype == C.TIMESTAMP and source is not None and any(f in NUMBER_DATES for f in source.date_format):
        # a numeric column of dates written as numbers (a Parquet or database integer of epoch milliseconds)
        fmt = next(f for f in source.date_format if f in NUMBER_DATES)
        value = _number_date(fmt, f"TRY_CAST({ref} AS DOUBLE)", on_calendar, dates_apart)
        unparseable = f"({ref} IS NOT NULL AND {value} IS NULL)"
    else:
        value = f"TRY_CAST({ref} AS {col.dtype})"
        unparseable = f"({ref} IS NOT NULL AND {value} IS NULL)"
    if col.dtype == C.BOOLEAN:
        return value, unparseable, None
    infinite = f"({value} IS NOT NULL AND NOT isfinite({value}))"
    return f"CASE WHEN isfinite({value}) THEN {value} END", unparseable, infinite


def _number_date(fmt: str, number: str, on_calendar, dates_apart: bool) -> str:
    """SQL for a date written as a number (:data:`~.sources.NUMBER_DATES`): ``excel``, a spreadsheet's serial day
    on the table's wall clock (a whole number is a date: midnight on the run's calendar when the two differ);
    ``epoch_s`` / ``epoch_ms``, a moment. NULL for a value out of range (a serial before 1900 or past 9999)."""
    if fmt == "excel":
        micros = f"CAST(round(({number} - 25569) * 86400000000) AS BIGINT)"
        naive = f"CASE WHEN {number} BETWEEN 1 AND 2958465 THEN make_timestamp({micros}) END"
        if dates_apart:
            return (f"CASE WHEN {number} = floor({number}) THEN {on_calendar(naive)} "
                    f"ELSE CAST({naive} AS TIMESTAMPTZ) END")
        return f"CAST({naive} AS TIMESTAMPTZ)"
    scale = 1_000_000 if fmt == "epoch_s" else 1_000
    micros = f"CAST(round({number} * {scale}) AS BIGINT)"
    return (f"CASE WHEN abs({number}) < {253402300800 * 1_000_000 // scale} "
            f"THEN timezone('UTC', make_timestamp({micros})) END")


def _table_sql(contract: C.TableContract, src: _Source, has_accounts: bool, source: Source | None = None,
               held: bool = False, zone: str = "UTC", naive_zone: str | None = None) -> str:
    """The annotated-rows query: raw columns ``__raw<j>``, typed contract columns, ``__reason``. ``held``: some
    accounts were quarantined in accounts (the temporary table ``__held``, see :func:`_accepted_accounts`).
    ``source.exact_copies == "quarantine"`` (a table without a key): a good row equal in every value to an
    earlier good row (in the source's order) is quarantined as an exact copy."""
    position = {n: j for j, n in enumerate(src.names)}
    raw_sel = [f"__raw{j}" for j in range(len(src.names))] + [f"__txt{j}" for j in src.text]
    typed_sel, reasons = [], []
    apart: dict[str, list[tuple[str, str]]] = {}  # a set-aside column -> the reasons that set its value aside

    def value_or_row(reason: str, cond: str, needs: tuple[str, ...] = ()) -> None:
        name = contract.value_reason_of(reason, needs)
        (apart.setdefault(name, []) if name else reasons).append((reason, cond))

    for i, col in enumerate(contract.columns):
        if col.name in position:
            j = position[col.name]
            expr, bad, infinite = _typed(col, src.types[j], f"__raw{j}", source, zone, naive_zone)
            typed_sel.append(f"{expr} AS {_ident(col.name)}")
            # flags are computed next to the raw value; the outer query sees only the typed column
            ok = []
            if bad:
                typed_sel.append(f"{bad} AS __bad{i}")
                value_or_row(C.unparseable(col.name), f"__bad{i}")
                ok.append(f"NOT __bad{i}")
            if infinite:
                typed_sel.append(f"{infinite} AS __inf{i}")
                value_or_row(C.not_finite(col.name), f"__inf{i}")
                ok.append(f"NOT __inf{i}")
            if not col.nullable:
                present_ok = " AND ".join(ok or ["TRUE"])
                reasons.append((C.missing(col.name), f"({_ident(col.name)} IS NULL AND {present_ok})"))
        else:
            typed_sel.append(f"CAST(NULL AS {col.dtype}) AS {_ident(col.name)}")
    present = set(src.names)
    # checks on typed values (NULL, i.e. missing, unparseable or non-finite, never triggers them)
    for name in contract.future_columns:  # after the clock: wrong; after the run date only: not covered yet
        if name in present:
            reasons.append((C.in_future(name), f"{_ident(name)} > $clock"))
            reasons.append((C.after_run_date(name), f"({_ident(name)} > $now AND {_ident(name)} <= $clock)"))
    if contract.end_column in present:  # after the run date it is not known yet (see _ended); after the clock, wrong
        reasons.append((C.in_future(contract.end_column), f"{_ident(contract.end_column)} > $clock"))
    for check in contract.checks:
        if set(check.needs) <= present:
            value_or_row(check.reason, f"({check.sql})", check.needs)
    if contract.account_fk and has_accounts:
        known = '"account_id" NOT IN (SELECT account_id FROM __accounts)'
        if held:  # accounts whose row in accounts was quarantined: said apart from ids no file knows
            reasons.append((C.UNKNOWN_ACCOUNT, f'({known} AND "account_id" NOT IN (SELECT account_id FROM __held))'))
            reasons.append((C.ACCOUNT_QUARANTINED, '"account_id" IN (SELECT account_id FROM __held)'))
        else:
            reasons.append((C.UNKNOWN_ACCOUNT, known))
    def said(pairs) -> str:
        return ", ".join(f"CASE WHEN {cond} THEN {_literal(reason)} END" for reason, cond in pairs) or "NULL"

    cases = said(reasons)
    # a set-aside column's reasons (its flag, see _value_flag): the row is kept with the value empty; a row
    # quarantined for another reason lists them with its own
    kept_apart = _set_aside(contract, present)
    flags = "".join(f", NULLIF(concat_ws('; ', {said(apart.get(name, []))}), '') AS {_value_flag(contract, name)}"
                    for name in kept_apart)
    base = f"SELECT {', '.join(raw_sel + typed_sel)}, __row, __file, __fileno FROM ({src.sql})"
    # a row that is no record at all, said as what it is: empty in every column, or the header again
    values = [f"trim(CAST({'__txt' if j in src.text else '__raw'}{j} AS VARCHAR))" for j in range(len(src.names))]
    must = {c.name for c in contract.columns if not c.nullable}  # tested first: a good row stops at its id
    order = sorted(range(len(values)), key=lambda j: src.names[j] not in must)
    blank = " AND ".join(f"coalesce({values[j]}, '') = ''" for j in order) or "FALSE"
    read_as = src.as_read or src.names
    headed = [f"lower({v}) IN ({_literal(n.lower())}, {_literal(read_as[j].strip().lower())})"
              for j, (v, n) in enumerate(zip(values, src.names, strict=True)) if n in contract.column_names]
    header = " AND ".join(headed) if len(headed) >= 2 else "FALSE"  # the first compares the first column
    # looked at only where a row already has a reason (both always do: no id, an unreadable date), so the good rows
    # of a 50M-event table pay nothing for it
    every = f"concat_ws('; ', __rr, {', '.join(_value_flag(contract, n) for n in kept_apart)})" if kept_apart \
        else "__rr"
    checked = (f"SELECT * EXCLUDE (__rr), CASE WHEN __rr IS NULL THEN NULL WHEN {blank} THEN {_literal(C.BLANK_ROW)} "
               f"WHEN {header} THEN {_literal(C.REPEATED_HEADER)} ELSE {every} END AS __r0 FROM "
               f"(SELECT *, NULLIF(concat_ws('; ', {cases}), '') AS __rr{flags} FROM ({base}))")
    more = []  # reasons that compare a row with the others
    if contract.key:
        key = ", ".join(_ident(k) for k in contract.key)
        key_ok = " AND ".join(f"{_ident(k)} IS NOT NULL" for k in contract.key)
        # a good row is a duplicate after the first good row of its key (that one is kept); a quarantined row
        # whenever another row has its key, so that its reasons are all there (fixing its value alone would
        # not bring it back)
        more.append(f"CASE WHEN {key_ok} AND CASE WHEN __r0 IS NULL THEN row_number() OVER "
                    f"(PARTITION BY {key}, __r0 IS NULL ORDER BY __fileno, __row) > 1 "
                    f"ELSE count(*) OVER (PARTITION BY {key}) > 1 END "
                    f"THEN {_literal(C.duplicate(contract.key))} END")
    if not contract.always_keyed and source is not None and source.exact_copies == "quarantine":
        # every value as read: the contract's typed columns (two spellings of one time are one moment) and the
        # extra columns as they are (plays: rows without a play_id too)
        values = [_ident(c.name) for c in contract.columns if c.name in present]
        values += [f"__raw{j}" for j, n in enumerate(src.names) if n not in contract.column_names]
        more.append(f"CASE WHEN __r0 IS NULL AND row_number() OVER (PARTITION BY {', '.join(values)}, __r0 IS NULL "
                    f"ORDER BY __fileno, __row) > 1 THEN {_literal(C.EXACT_COPY)} END")
    if more:
        return f"SELECT *, NULLIF(concat_ws('; ', __r0, {', '.join(more)}), '') AS __reason FROM ({checked})"
    return f"SELECT *, __r0 AS __reason FROM ({checked})"


def _value_flag(contract: C.TableContract, name: str) -> str:
    """The annotated rows' column holding why the value of ``name`` (one of the contract's ``set_aside_values``)
    is set aside (NULL: it is not)."""
    return f"__v{contract.column_names.index(name)}"


def _set_aside(contract: C.TableContract, names) -> list[str]:
    """The contract's ``set_aside_values`` among the source's columns ``names``."""
    return [n for n in contract.set_aside_values if n in names]


#: The rows' order in the source, one integer: the file's number in the top bits, the row's below (rows are
#: numbered from 1 and fewer than 2**40 a file; files fewer than 2**23). File and row break the sort's ties; as
#: one key rather than two the sort of 52M events took 48-49 s against 53-58 s, and a file's name, a string,
#: had doubled it.
_SOURCE_ORDER = "((CAST(__fileno AS BIGINT) << 40) + __row)"


#: Rows read at a time when counting a sorted table's exact copies (see :func:`_exact_copies`).
_COPY_BATCH = 1_000_000


def _copies_in_runs(batches) -> tuple[int, int | None]:
    """Rows whose hash ``h`` equals an earlier row's in their run of equal ``k``, and one such hash.

    ``batches``: Arrow batches of two unsigned columns, ``k`` (the hash of the sort's columns) and ``h`` (of
    every column), in the file's order, which keeps a run of equal ``k`` together. A run that may continue in
    the next batch is carried over to it, so a copy is found whatever the batch size.
    """
    copies, example, carry = 0, None, None

    def count(k: np.ndarray, h: np.ndarray) -> None:
        nonlocal copies, example
        if len(k) < 2:
            return
        same = k[1:] == k[:-1]
        if not same.any():
            return
        in_run = np.zeros(len(k), dtype=bool)  # rows of a run of two or more
        in_run[1:] |= same
        in_run[:-1] |= same
        # equal h means equal values, the sort's own among them: the same run, so the runs need not be told apart
        hs = np.sort(h[in_run])
        again = hs[1:] == hs[:-1]
        n = int(again.sum())
        if n:
            copies += n
            example = int(hs[1:][again][0]) if example is None else example

    for batch in batches:
        k = batch.column(0).to_numpy()
        h = batch.column(1).to_numpy()
        if carry is not None:
            k, h = np.concatenate([carry[0], k]), np.concatenate([carry[1], h])
        if not len(k):
            continue
        ends = np.flatnonzero(k[1:] != k[:-1])
        start = int(ends[-1]) + 1 if len(ends) else 0  # the last run, held back
        count(k[:start], h[:start])
        carry = (k[start:], h[start:])
    if carry is not None:
        count(*carry)
    return copies, example


def _exact_copies(con, contract: C.TableContract, path: Path) -> tuple[int, dict | None]:
    """Rows of the processed file ``path`` equal in every column to an earlier row, and the values of the sort's
    columns (else the first two) of one of them.

    A table stored in order (events, touchpoints: by account and time) holds a row's copies beside it, in its
    run of one account and time: each row's hash and its run's are read in batches and equal hashes in a run
    counted, one pass in the file's order (1.8 s for 52M events, where a distinct count of the rows' hashes took
    5.6 s and a grouping by every column 12.5 s). Another table (plays) is grouped by every column. Two rows
    of equal hashes are taken as equal (64-bit hashes: a collision in a run of one account's time is not met).
    """
    names = pq.ParquetFile(path).schema_arrow.names
    cols = ", ".join(_ident(n) for n in names)
    scan = f"read_parquet({_literal(str(path))}, hive_partitioning = false)"
    if contract.cluster_by:
        runs = ", ".join(_ident(c) for c in contract.cluster_by)
        reader = con.sql(f"SELECT hash({runs}) AS k, hash({cols}) AS h FROM {scan}").to_arrow_reader(_COPY_BATCH)
        copies, h = _copies_in_runs(reader)
    else:
        copies, h = con.execute(f"SELECT coalesce(sum(n - 1), 0)::BIGINT, min(h) FILTER (WHERE n > 1) FROM "
                                f"(SELECT hash({cols}) AS h, count(*) AS n FROM {scan} GROUP BY {cols})").fetchone()
    if not copies:
        return 0, None
    shown = list(contract.cluster_by) or names[:2]
    row = con.execute(f"SELECT {', '.join(_ident(c) for c in shown)} FROM {scan} WHERE hash({cols}) = $h LIMIT 1",
                      {"h": h}).fetchone()
    return int(copies), dict(zip(shown, row, strict=True)) if row else None


def _share(part: int, whole: int) -> Why | str:
    """``part`` of ``whole`` as a percentage a reader can see is not zero (0.002%, 12%)."""
    pct = 100 * part / whole
    return Why("ingest.share_under", pct="0.001%") if pct < 0.001 else f"{pct:.2g}%" if pct < 10 else f"{pct:.0f}%"


def _ended(contract: C.TableContract, name: str, expr: str) -> str:
    """A kept row's column as of the run date: its end (a ticket's ``closed_at``) and what is known only at the end
    (the ticket's CSAT) are empty when the end came after the run date. A backfill, or a retry the next day with
    the same run date, quarantined those tickets ("closed_at in the future"): their account's tickets and open
    tickets on the run date were undercounted, against what the run on that date had counted."""
    if name != contract.end_column and name not in contract.known_at_end:
        return expr
    return f"CASE WHEN {_ident(contract.end_column)} > $now THEN NULL ELSE {expr} END"


def _params(sql: str, values: dict) -> dict:
    bare = _QUOTED.sub("", sql)  # a column named note$date_formats is not a parameter
    return {k: values[k] for k in set(_PARAM.findall(bare)) if k in values}


def _quarantine_names(names: list[str], own: tuple[str, ...] = QUARANTINE_COLUMNS) -> list[str]:
    """Data column names in the quarantine: ``data.<name>`` where a name is one of the quarantine's ``own``."""
    out: list[str] = []
    for n in names:
        if n in own:
            n = f"data.{n}"
            while n in names or n in out:
                n = "data." + n
        out.append(n)
    return out


def _wall(moment: str, zone: str) -> str:
    """SQL of a moment (TIMESTAMPTZ) as the clock on the wall of ``zone`` shows it, labelled UTC (itself on UTC).
    A zone without summer time is its offset added (a fifth of the time of the conversion, 52M events a run)."""
    if zone == "UTC":
        return moment
    offset = fixed_offset(zone)
    if offset is not None:
        return f"({moment} + to_seconds({offset}))"
    return f"timezone('UTC', timezone({_literal(zone)}, {moment}))"


def _extra_time(ref: str, src_type: str, zone: str, naive_zone: str) -> str:
    """An extra column (one the contract does not name) as it is kept: a time on the run's calendar like the
    contract's times (a moment as the calendar's wall clock shows it, labelled UTC; a time without a zone, in the
    table's zone, as the calendar's wall clock, still without a zone); any other value as it is."""
    kind = src_type.upper()
    if kind.startswith("TIMESTAMPTZ") or kind.endswith("WITH TIME ZONE"):  # TIMESTAMPTZ_NS from pandas' Parquet
        return _wall(ref, zone)
    if kind.startswith("TIMESTAMP") and naive_zone != zone:
        return f"timezone({_literal(zone)}, timezone({_literal(naive_zone)}, {ref}))"
    return ref


def _check_updated_column(table: str, db: D.DatabaseSource, where: str, names: list[str]) -> None:
    """A database table's ``updated_column`` must be a column it returns: the pipeline's key takes its maximum
    over the same query (:func:`~.database.fingerprint`), and a name mistyped there would stop only the
    scheduled run, not ``engage ingest`` that a person runs to check the sources file."""
    if db.updated_column is not None:
        D.updated_column(db, names, table, where)


def ingest_table(con, contract: C.TableContract, source: Source | str, out_dir: Path, values: dict,
                 has_accounts: bool, *, work: Path | None = None, final_dir: Path | None = None,
                 timezone: str = "UTC", zone_given: bool = False) -> TableResult:
    """Validate one table into ``out_dir`` (``<table>.parquet`` and ``quarantine/<table>.parquet``).

    ``final_dir``: where the files will live once ingest has finished (the report records those paths).
    ``timezone``: the run's calendar (see :func:`ingest`); times without an offset are read in the source's
    ``timezone``, else in this one. ``zone_given``: the user named that calendar (``--timezone UTC`` included);
    otherwise times without an offset read as UTC are said (:func:`_hint_naive_times`).
    """
    source = source if isinstance(source, Source) else Source(path=str(source))
    work = work or out_dir / ".work"
    work.mkdir(parents=True, exist_ok=True)
    (out_dir / "quarantine").mkdir(parents=True, exist_ok=True)
    token = _COLUMNS.set(source.columns)  # every read_as of this table (type inference included) uses them
    try:
        if source.database is not None:
            where = D.label(source.database)
            src = _open_database(con, contract, source, work)
            _check_updated_column(contract.name, source.database, where, src.names)
        else:
            where = source.path
            src = _open_source(con, contract, source.path, source.encoding, work, source.delimiter, source.sheet)
        found, ambiguous = read_as(contract, src.names)
    finally:
        _COLUMNS.reset(token)
    absent = [(c, h) for c, h in source.columns if h not in src.names and h.strip() not in
              {n.strip() for n in src.names}]
    if absent:
        raise IngestError(f"{contract.name}: {where} has no column "
                          + ", ".join(f"{h!r} (named in sources.yaml's columns for {c!r})" for c, h in absent)
                          + f" (found: {', '.join(src.names)})")
    if ambiguous:
        _ambiguous(contract, where, ambiguous)
    as_read = list(src.names)  # the quarantine shows the columns under the names they have in the source
    src.as_read = as_read
    src.names = [found.get(j, n) for j, n in enumerate(as_read)]
    missing = [c for c in contract.required_columns if c not in src.names]
    if missing:
        hint = _delimiter_hint(as_read, source) or _columns_hint(contract, as_read, missing)
        raise IngestError(
            f"{contract.name}: {where} is missing "
            f"{i18n.count(len(missing), '=required column', '=required columns')} "
            f"{', '.join(repr(m) for m in missing)} "
            f"(found: {', '.join(as_read)}){hint}"
        )
    held = has_accounts and contract.account_fk and con.execute("SELECT count(*) FROM __held").fetchall()[0][0] > 0
    naive_zone = source.timezone or timezone
    if source.timezone is None and not zone_given:  # read as UTC because no zone was given: said
        _hint_naive_times(con, contract, src, where)
    annotated = _table_sql(contract, src, has_accounts, source, held, timezone, naive_zone)
    values = {**values, **src.params, "date_formats": list(source.date_format), **_number_params(source)}
    extras = [j for j, n in enumerate(src.names) if n not in contract.column_names]
    rows = f"({annotated})"
    out_names = [*contract.column_names, *(src.names[j] for j in extras)]
    # on the validated rows, whose checks (closed before opened, in the future) compared moments: the rows kept
    # get the calendar's wall clock (a ticket across the night summer time ends is not "closed before opened")
    exprs = [_wall(_ident(c.name), timezone) if c.dtype == C.TIMESTAMP else _ident(c.name) for c in contract.columns]
    ends_later = contract.end_column in src.names
    if ends_later:
        exprs = [_ended(contract, c.name, e) for c, e in zip(contract.columns, exprs, strict=True)]
    apart = _set_aside(contract, src.names)  # a bad value of these empties the value, not the row
    exprs = [f"CASE WHEN {_value_flag(contract, c.name)} IS NULL THEN {e} END" if c.name in apart else e
             for c, e in zip(contract.columns, exprs, strict=True)] + exprs[len(contract.columns):]
    exprs += [_id_text(f"__raw{j}", src.types[j]) if C.is_identifier(src.names[j])  # the surveys' ticket_id
              else _extra_time(f"__raw{j}", src.types[j], timezone, naive_zone) for j in extras]
    keys: list[str] = []  # the sort keys, as expressions on the validated rows
    by_rank = False
    if contract.cluster_by:
        keys = [_ident(c) for c in contract.cluster_by]
        if contract.cluster_by[0] == "account_id" and has_accounts:
            # the accounts' rank in account_id order (an integer) sorts like the id itself, at a fraction of the
            # cost of comparing strings (every kept row has a known account, so the rank alone decides)
            rows = (f"(SELECT __a.*, __k.__rank FROM ({annotated}) __a LEFT JOIN "
                    "(SELECT account_id AS __acc, __rank FROM __accounts) __k ON __a.account_id = __k.__acc)")
            keys[0] = "__rank"
            by_rank = True
        keys.append(_SOURCE_ORDER)
    elif contract.key:
        keys = [_SOURCE_ORDER]
    if not keys:
        keep_sql = (f"SELECT {', '.join(f'{e} AS {_ident(n)}' for e, n in zip(exprs, out_names, strict=True))} "
                    f"FROM {rows} WHERE __reason IS NULL")
    else:
        # Inside the sort every column has a positional name (__o<i>, keys __k<i>) and gets its own name after
        # it: a source column may be called __rank or __row, or differ from a contract column only in case
        # (Device beside device), and DuckDB matches names without regard to case, so a name could pick up
        # another column's values.
        inner = [f"{e} AS __o{i}" for i, e in enumerate(exprs)]
        inner += [f"{k} AS __k{i}" for i, k in enumerate(keys)]
        outer = [f"__o{i} AS {_ident(n)}" for i, n in enumerate(out_names)]
        if by_rank:
            # the rank travels through the sort in the id's place and the id is looked up after it, in order:
            # the sort carries an integer, not a string, per row (32 s against 36-38 s for 50.6M events). The
            # ids are one list in a variable: the projection reads it without joining another relation.
            i = out_names.index("account_id")
            inner.pop(i)
            outer[i] = 'getvariable(\'__account_ids\')[__k0] AS "account_id"'
            con.execute("SET VARIABLE __account_ids = (SELECT list(account_id ORDER BY __rank) FROM __accounts)")
        order = ", ".join(f"__k{i}" for i in range(len(keys)))
        keep_sql = (f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {rows} "
                    f"WHERE __reason IS NULL ORDER BY {order})")
    q_names = _quarantine_names(as_read)

    def as_read_text(j: int) -> str:  # a source column's value as it was read (a JSON text without its quotes)
        return (f"CAST(__{'txt' if j in src.text else 'raw'}{j} AS VARCHAR)" if src.types[j].upper() != "JSON"
                else f"(__raw{j} ->> '$')")

    data_cols = [f"{as_read_text(j)} AS {_ident(n)}" for j, n in enumerate(q_names)]
    q_sql = ("SELECT __file AS source_file, __row AS source_row, CAST(NULL AS BIGINT) AS source_line, "
             f"__reason AS reason, CAST(NULL AS VARCHAR) AS raw_line, {', '.join(data_cols)} "
             f"FROM ({annotated}) WHERE __reason IS NOT NULL")
    if src.bad_sql:
        empty = ", ".join(f"CAST(NULL AS VARCHAR) AS {_ident(n)}" for n in q_names)
        q_sql += (" UNION ALL SELECT __file, __row, __line, __reason, __rawline, " + empty +
                  f" FROM ({src.bad_sql})")
    q_sql = f"SELECT * FROM ({q_sql}) ORDER BY source_file, source_row"
    v_names = _quarantine_names(as_read, VALUE_COLUMNS)
    v_cols = ", ".join(f"{as_read_text(j)} AS {_ident(n)}" for j, n in enumerate(v_names))
    v_parts = [f"SELECT __file AS source_file, __row AS source_row, {_literal(name)} AS \"column\", "
               f"{as_read_text(src.names.index(name))} AS value, {_value_flag(contract, name)} AS reason, {v_cols} "
               f"FROM ({annotated}) WHERE __reason IS NULL AND {_value_flag(contract, name)} IS NOT NULL"
               for name in apart]

    out = out_dir / f"{contract.name}.parquet"
    qout = out_dir / "quarantine" / f"{contract.name}.parquet"
    vout = out_dir / "quarantine" / f"{contract.name}.values.parquet"
    con.execute(f"SET TimeZone = {_literal(naive_zone)}")  # what a time without an offset means here
    try:
        for sql, path in ((keep_sql, out), (q_sql, qout)):
            t0 = time.perf_counter()
            if path == qout and src.rows is not None and pq.ParquetFile(out).metadata.num_rows == src.rows:
                # every row was kept: the quarantine is empty, without validating the rows a second time (the
                # second pass cost 4 s on 52M events and 22-28 s on 160M)
                sql = f"SELECT * FROM ({sql}) LIMIT 0"
            try:
                con.sql(sql, params=_params(sql, values)).write_parquet(str(path), compression="zstd")
            except duckdb.Error as exc:
                raise IngestError(f"{contract.name}: failed while validating {where}: {exc}") from exc
            log.debug("%s: %s written in %.1f s", contract.name, path.name, time.perf_counter() - t0)
        if v_parts:  # the values set aside, each with its reason and the row it was taken from (kept)
            v_sql = f"SELECT * FROM ({' UNION ALL '.join(v_parts)}) ORDER BY source_file, source_row, \"column\""
            try:
                con.sql(v_sql, params=_params(v_sql, values)).write_parquet(str(vout), compression="zstd")
            except duckdb.Error as exc:
                raise IngestError(f"{contract.name}: failed while validating {where}: {exc}") from exc
        signs = _currency_signs(con, contract, src, source, annotated, values, where)  # of the rows kept, above
        _case_folded(con, contract, src, annotated, values, where)
        later = 0  # rows that ended after the run date, read as not ended on it (see _ended): counted and said
        if ends_later:
            sql = f"SELECT count(*) FROM ({annotated}) WHERE __reason IS NULL AND {_ident(contract.end_column)} > $now"
            later = con.execute(sql, _params(sql, values)).fetchall()[0][0]
    finally:
        con.execute("SET TimeZone = 'UTC'")
    scratch = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND "
                          "(starts_with(table_name, '__src') OR starts_with(table_name, '__bad'))").fetchall()
    for (name,) in scratch:  # the text tables' copies: not needed once the table is written
        con.execute(f"DROP TABLE {_ident(name)}")
    kept = pq.ParquetFile(out).metadata.num_rows
    quarantined = pq.ParquetFile(qout).metadata.num_rows
    if later:
        _warn("ended_after_run_date", table=contract.name, n=f"{later:,}", kept=f"{kept:,}",
              column=contract.end_column, also=", ".join(contract.known_at_end) or "-")
    copies, copied = None, None  # a table whose every row has a key: its repeats are duplicate keys
    if source.exact_copies == "quarantine":
        copies = 0  # set aside above (two moments an hour apart the night summer time ends share a wall clock)
    elif not contract.always_keyed:
        copies, copied = _exact_copies(con, contract, out)
    by_reason = dict(
        con.execute(
            "SELECT trim(r) AS reason, count(*) FROM (SELECT unnest(string_split(reason, '; ')) AS r "
            "FROM read_parquet($q, hive_partitioning = false)) GROUP BY 1 ORDER BY 2 DESC, 1",
            {"q": str(qout)},
        ).fetchall()
    )
    _hint_formats(con, contract, src.names, q_names, by_reason, qout, where, source)
    set_aside = _values_set_aside(con, contract, vout, where) if v_parts else {}
    if set_aside:  # an unreadable value set aside gets the same hint as one that quarantines its row
        _hint_formats(con, contract, src.names, v_names, set_aside, vout, where, source)
    _hint_ids(con, contract, src.names, q_names, by_reason, qout, where)
    _hint_unknown_values(con, contract, out, kept, where)
    final_dir = final_dir or out_dir
    encoding = ", ".join(dict.fromkeys(src.encodings)) or None
    result = TableResult(contract.name, where, kept + quarantined, kept, quarantined, by_reason,
                         str(final_dir / out.name), str(final_dir / "quarantine" / qout.name),
                         [src.names[j] for j in extras], encoding, src.detected if encoding else None,
                         {**src.renamed, **{as_read[j]: col for j, col in sorted(found.items())}}, signs,
                         naive_zone, copies, set_aside, str(final_dir / "quarantine" / vout.name) if v_parts else None)
    if copies:
        example = ", ".join(f"{c} {v:%Y-%m-%d %H:%M:%S} ({timezone})" if isinstance(v, datetime) else f"{c} {v!r}"
                            for c, v in (copied or {}).items())  # a time on the company's clock, said so
        _warn("exact_copies", table=contract.name, copies=f"{copies:,}", kept=f"{kept:,}", share=_share(copies, kept),
              example=example)
    log.info("%s: read %d, kept %d, quarantined %d (%s)", contract.name, result.rows_read, kept, quarantined,
             encoding or ("database" if source.database is not None else "parquet"))
    if not result.rows_read and contract.name in ("accounts", "events"):  # a header without rows, where it
        # breaks the run (every other row fails, or no metric); a company without tickets gives their header alone
        _warn("header_only_accounts" if contract.name == "accounts" else "header_only", table=contract.name,
              source=where)
    if quarantined and not kept:  # every metric of this table will read zero or nothing: said where it starts
        from .quality import translate_reason  # (quality reads this module's reports)

        top = sorted(by_reason.items(), key=lambda kv: -kv[1])[:3]
        reasons = Why.of({lang: i18n.t("sep.list", lang).join(
            i18n.t("sep.label_value", lang, what=translate_reason(r, lang), value=f"{n:,}") for r, n in top)
            for lang in i18n.LANGS})
        _warn("all_quarantined", table=contract.name, n=quarantined, source=where, reasons=reasons)
    return result


def _values_set_aside(con, contract: C.TableContract, vout: Path, where: str) -> dict[str, int]:
    """The values set aside in ``vout`` per reason, said in a warning with one of them and its row."""
    scan = "read_parquet($v, hive_partitioning = false)"
    by_reason = dict(con.execute(f"SELECT trim(r) AS reason, count(*) FROM (SELECT unnest(string_split(reason, '; ')) "
                                 f"AS r FROM {scan}) GROUP BY 1 ORDER BY 2 DESC, 1", {"v": str(vout)}).fetchall())
    if not by_reason:
        return {}
    from .quality import translate_reason  # (quality reads this module's reports)

    n, columns = con.execute(f"SELECT count(*), string_agg(DISTINCT \"column\", ', ') FROM {scan}",
                             {"v": str(vout)}).fetchone()
    row, column, value = con.execute(f"SELECT source_row, \"column\", value FROM {scan} "
                                     "ORDER BY source_file, source_row LIMIT 1", {"v": str(vout)}).fetchone()
    reasons = Why.of({lang: i18n.t("sep.list", lang).join(
        i18n.t("sep.label_value", lang, what=translate_reason(r, lang), value=f"{k:,}") for r, k in by_reason.items())
        for lang in i18n.LANGS})
    _warn("values_set_aside", table=contract.name, n=f"{n:,}", columns=columns, reasons=reasons, source=where,
          row=row, column=column, value=repr(value), record=f"quarantine/{vout.name}")
    return by_reason


def _hint_formats(con, contract: C.TableContract, names: list[str], q_names: list[str], by_reason: dict,
                  qout: Path, where: str, source: Source) -> None:
    """A warning per date or number column with unparseable values, with one of them: ``01/05/2025`` is not
    ISO 8601 and ``1,200`` not a plain number; the sources file says how they are written
    (``date_format``, ``thousands``, ``decimal``: :mod:`~.sources`)."""
    for col in contract.columns:
        n = by_reason.get(C.unparseable(col.name), 0)
        if col.dtype not in (C.TIMESTAMP, C.DOUBLE) or not n or col.name not in names:
            continue
        shown = _ident(q_names[names.index(col.name)])
        # a value a format could read: it has digits, and a date is not an ISO one gone wrong (2025-02-30)
        iso = f" AND NOT regexp_matches({shown}, '^\\s*[0-9]{{4}}[-/][0-9]{{1,2}}[-/][0-9]{{1,2}}')"
        rows = con.execute(f"SELECT {shown} FROM read_parquet($q,"
                           f" hive_partitioning = false) WHERE list_contains(string_split(reason, '; '), $r) "
                           f"AND regexp_matches({shown}, '[0-9{_WIDE_DIGITS}]')"
                           f"{iso if col.dtype == C.TIMESTAMP else ''} LIMIT 1",
                           {"q": str(qout), "r": C.unparseable(col.name)}).fetchall()
        if not rows:  # nothing a format would read: the quarantine's reasons say the rest
            continue
        date = col.dtype == C.TIMESTAMP
        what = Why("ingest.what.date" if date else "ingest.what.number")
        given = ""
        todo = _value_hint(str(rows[0][0]), col.dtype)
        # full-width digits, a unit after a number, a date in Japanese: what to do is not a format
        if not todo and date:
            if source.date_format:
                given = Why("ingest.given.date_format", formats=str(list(source.date_format)))
            todo = Why("ingest.todo.date_add" if given else "ingest.todo.date_give")
        elif not todo:
            if source.thousands or source.decimal:
                given = Why("ingest.given.number", thousands=repr(source.thousands),
                            decimal=repr(source.decimal or "."))
            todo = Why("ingest.todo.number_given" if given else "ingest.todo.number_give")
        _warn("unreadable", table=contract.name, n=n, source=where, column=col.name, what=what,
              example=repr(rows[0][0]), given=given, todo=todo)
        if not date and not re.search(f"[{_WIDE_DIGITS}]", str(rows[0][0])):  # full-width digits behind a label
            k, example = con.execute(
                f"SELECT count(*), min({shown}) FROM read_parquet($q, hive_partitioning = false) WHERE "
                f"list_contains(string_split(reason, '; '), $r) AND regexp_matches({shown}, '[{_WIDE_DIGITS}]')",
                {"q": str(qout), "r": C.unparseable(col.name)}).fetchone()
            if k:
                _warn("unreadable", table=contract.name, n=k, source=where, column=col.name, what=what,
                      example=repr(example), given="", todo=Why("ingest.todo.full_width"))
        if date:  # dates written as numbers and as text side by side: each said (the second showed only once the
            numeric = bool(re.fullmatch(_NUMBER_TEXT, str(rows[0][0])))  # first's format was fixed)
            k, example = con.execute(
                f"SELECT count(*), min({shown}) FROM read_parquet($q,"
                f" hive_partitioning = false) WHERE list_contains(string_split(reason, "
                f"'; '), $r) AND {'NOT ' if numeric else ''}regexp_full_match({shown}, $p) AND "
                f"regexp_matches({shown}, '[0-9]'){iso}",
                {"q": str(qout), "r": C.unparseable(col.name), "p": _NUMBER_TEXT}).fetchone()
            hint = _value_hint(str(example), col.dtype) if k else ""
            if k and (hint or numeric):
                _warn("unreadable", table=contract.name, n=k, source=where, column=col.name, what=what,
                      example=repr(example), given=given if numeric and not hint else "",
                      todo=hint or Why("ingest.todo.date_add" if given else "ingest.todo.date_give"))


#: A value written as a plain number (a spreadsheet's serial date, a Unix time) in a text column
_NUMBER_TEXT = r"\s*[0-9]+(\.[0-9]+)?\s*"


#: Full-width digits (U+FF10-FF19), as a Japanese input method may type them
_WIDE_DIGITS = chr(0xFF10) + "-" + chr(0xFF19)
#: Year, month and day as a Japanese date writes them (2025<year>1<month>1<day>)
_JA_DATE = (chr(0x5E74), chr(0x6708), chr(0x65E5))


#: Units a count or a score is written with (10 points, 3 cases, 5 people, 2 times), and multipliers
_UNITS = tuple(map(chr, (0x70B9, 0x4EF6, 0x4EBA, 0x56DE, 0x540D, 0x793E))) + ("pt", "pts", "point", "points")
_MULTIPLIERS = tuple(map(chr, (0x4E07, 0x5104, 0x5343))) + ("k", "K", "M", "%")  # 10^4, 10^8, 10^3


def _value_hint(value: str, dtype) -> Why | str:
    """What to do about an unreadable value that no sources.yaml format reads as it is: full-width digits, a
    unit after a count or a score (10 points), a multiplier (12 ten-thousands, 1.5k, 12.5%), a date written in
    Japanese (its strptime format is offered). '' otherwise (the format advice applies)."""
    if dtype == C.DOUBLE and (mark := amount_doubt(value)):
        return Why("ingest.todo.amount_doubt", mark=repr(mark))
    if re.search(f"[{_WIDE_DIGITS}]", value):
        return Why("ingest.todo.full_width")
    if dtype == C.TIMESTAMP:  # a date written as a number: a spreadsheet's serial day, or seconds since 1970
        for pattern, name in ((r"\s*[1-5][0-9]{4}(\.[0-9]+)?\s*", "excel"), (r"\s*1[0-9]{9}(\.[0-9]+)?\s*", "epoch_s"),
                              (r"\s*1[0-9]{12}\s*", "epoch_ms")):
            if re.fullmatch(pattern, value):
                return Why(f"ingest.todo.{name}", format=name)
    y, m, d = _JA_DATE
    if dtype == C.TIMESTAMP and re.fullmatch(f"\\s*[0-9]{{4}}{y}[0-9]{{1,2}}{m}[0-9]{{1,2}}{d}\\s*", value):
        return Why("ingest.todo.ja_date", format=f"%Y{y}%m{m}%d{d}")
    found = re.fullmatch(r"\s*[-+]?[0-9][0-9,.]*\s*(\S+?)\s*", value) if dtype == C.DOUBLE else None
    if found and found.group(1) in _MULTIPLIERS:
        return Why("ingest.todo.multiplier", multiplier=found.group(1))
    if found and found.group(1) in _UNITS:
        return Why("ingest.todo.unit")
    if dtype == C.DOUBLE and re.fullmatch(_LABELLED, value):
        return Why("ingest.todo.labelled")
    return ""


#: A number followed by the words it stands for: a survey tool's answer text ("10 - Extremely likely", "4: Satisfied",
#: "5 (Very satisfied)"), not a number in any format
_LABELLED = r"\s*[+-]?[0-9]+(?:\.[0-9]+)?\s*(?:[-:=(\u2013\u2014]\s*|\s)\s*[^\W\d_]{2,}.*"


def _hint_event_consistency(con, staging: Path, results: dict) -> None:
    """Warnings about kept events that their account or user contradicts (kept: ingest cannot tell a trial from
    a wrong date, nor a shared login from a wrong id; counted and said, with the first example): events dated
    before their account's start_date or after its end_date (an epoch-zero 1970-01-01 from an empty cell), and
    events whose user_id users gives to another account or does not have."""
    from .._core.reasons import date_of

    if not results.get("events") or not results["events"].rows_kept or "accounts" not in results:
        return
    ev, acc = str(staging / "events.parquet"), str(staging / "accounts.parquet")
    early, late = "e.timestamp < a.start_date", "e.timestamp >= a.end_date + INTERVAL 1 DAY"
    found = con.execute(  # one scan of the events for both
        f"SELECT count(*) FILTER ({early}), min(e.timestamp) FILTER ({early}), "
        f"arg_min(e.account_id, e.timestamp) FILTER ({early}), arg_min(a.start_date, e.timestamp) FILTER ({early}), "
        f"count(*) FILTER ({late}), max(e.timestamp) FILTER ({late}), "
        f"arg_max(e.account_id, e.timestamp) FILTER ({late}), arg_max(a.end_date, e.timestamp) FILTER ({late}) "
        f"FROM read_parquet($ev, hive_partitioning = false) e "
        f"JOIN read_parquet($acc, hive_partitioning = false) a USING (account_id) WHERE {early} OR {late}",
        {"ev": ev, "acc": acc}).fetchone()
    for key, (n, first, account, bound) in (("events_before_start", found[:4]), ("events_after_end", found[4:])):
        if n:
            _warn(key, table="events", n=f"{n:,}", kept=f"{results['events'].rows_kept:,}", date=date_of(first),
                  account=repr(account), bound=date_of(bound))
    users = results.get("users")
    if users is None or not users.rows_kept:
        return
    us = str(staging / "users.parquet")
    other_ = "u.account_id <> e.account_id"
    none_ = "u.account_id IS NULL"
    other, e_acc, u_user, u_acc, unknown, x_user = con.execute(  # one scan of the events for both
        f"SELECT count(*) FILTER ({other_}), arg_min(e.account_id, e.timestamp) FILTER ({other_}), "
        f"arg_min(e.user_id, e.timestamp) FILTER ({other_}), arg_min(u.account_id, e.timestamp) FILTER ({other_}), "
        f"count(*) FILTER ({none_}), min(e.user_id) FILTER ({none_}) FROM read_parquet($ev,"
        f" hive_partitioning = false) e "
        f"LEFT JOIN (SELECT DISTINCT user_id, account_id FROM read_parquet($us,"
        f" hive_partitioning = false)) u USING (user_id) "
        f"WHERE e.user_id IS NOT NULL AND ({other_} OR {none_})", {"ev": ev, "us": us}).fetchone()
    if other:
        _warn("events_other_users", table="events", n=f"{other:,}", user=repr(u_user), theirs=repr(u_acc),
              account=repr(e_acc))
    if unknown:
        _warn("events_unknown_users", table="events", n=f"{unknown:,}", user=repr(x_user))


#: The tables whose dates say where the data begin, and their date column: the survival models' start, the panel's
#: first date, the KPIs' first month and the run's first event leave out rows dated long before the rest (see
#: ``_hint_long_before``).
DATA_START_COLUMNS = (("events", "timestamp"), ("subscriptions", "period_start"))


def _hint_long_before(con, staging: Path, results: dict) -> None:
    """A warning when kept rows of events or subscriptions are dated long before the rest of their table (more
    than a year with no row after them, at most 1% of the table: :func:`~engage_models._core.time.bulk_start`):
    one event mistyped as 1924 had moved report 05's "data begin", its out-of-time test and the panel's first
    date by a century. They are kept (ingest cannot tell a wrong year from an early pilot), and every stage takes
    the data to begin after them; the warning counts them and gives their dates."""
    from .._core.reasons import date_of
    from .._core.time import DAY_COUNTS_SQL, bulk_start

    for table, column in DATA_START_COLUMNS:
        if not results.get(table) or not results[table].rows_kept:
            continue
        days = con.execute(DAY_COUNTS_SQL.format(column=_ident(column), relation="read_parquet($p, "
                           "hive_partitioning = false)"), {"p": str(staging / f"{table}.parquet")}).df()
        found = bulk_start(days)
        if found.rows:
            dates = (date_of(found.first) if found.first == found.last
                     else Why("sep.date_span", a=date_of(found.first), b=date_of(found.last)))
            _warn("dated_long_before", table=table, column=column, n=f"{found.rows:,}",
                  kept=f"{results[table].rows_kept:,}", dates=dates, start=date_of(found.start))
    _hint_accounts_long_before(con, staging, results)


def _hint_accounts_long_before(con, staging: Path, results: dict) -> None:
    """A warning when accounts started long before the others (the same rule: more than a year with no account
    started after them, at most 1% of the accounts; and longer than the later starts span:
    :func:`~engage_models._core.time.account_starts`). Nothing else tells a start mistyped as 1924: its events come
    after it. Survival leaves such an account out when it started before the data begin (its tenure is unknown: see
    :func:`~engage_models.survival.data.unknown_starts`); the panel leaves its tenure empty
    (:meth:`~engage_models.features.panel.PanelBuilder.unknown_start_before`); without subscriptions the KPIs are
    observed from after it (see :func:`~engage_models.kpis.compute.kpi_start`)."""
    from .._core.reasons import date_of
    from .._core.time import DAY_COUNTS_SQL, account_starts

    if not results.get("accounts") or not results["accounts"].rows_kept:
        return
    path = {"p": str(staging / "accounts.parquet")}
    scan = "read_parquet($p, hive_partitioning = false)"
    found = account_starts(con.execute(DAY_COUNTS_SQL.format(column="start_date", relation=scan), path).df())
    if not found.rows:
        return
    account, = con.execute(f"SELECT arg_min(account_id, start_date) FROM {scan}", path).fetchone()
    dates = (date_of(found.first) if found.first == found.last
             else Why("sep.date_span", a=date_of(found.first), b=date_of(found.last)))
    _warn("accounts_started_long_before", table="accounts", n=f"{found.rows:,}",
          kept=f"{results['accounts'].rows_kept:,}", dates=dates, account=repr(account), start=date_of(found.start))


def _hint_subscription_months(con, staging: Path, results: dict) -> None:
    """A warning when an account has several kept subscription rows starting in one month (a mid-month upgrade,
    or one row per product): the KPIs take the latest row's MRR for the month (see
    :mod:`engage_models.kpis.compute`), which undercounts an account billed per product."""
    if not results.get("subscriptions") or not results["subscriptions"].rows_kept:
        return
    n, months, account, month = con.execute(
        "SELECT count(*), sum(rows), arg_min(account_id, (m, account_id)), min(m) FROM (SELECT account_id, "
        "date_trunc('month', period_start) AS m, count(*) AS rows FROM read_parquet($s,"
        " hive_partitioning = false) GROUP BY ALL "
        "HAVING count(*) > 1)", {"s": str(staging / "subscriptions.parquet")}).fetchone()
    if n:
        _warn("subscription_rows_per_month", table="subscriptions", n=f"{n:,}", rows=f"{months:,}",
              account=repr(account), month=pd.Timestamp(month).strftime("%Y-%m"))


_SEPARATOR_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "bars"}


def default_delimiter(path: str) -> str:
    """The field separator of a text file whose source gives none: a tab for ``.tsv`` and ``.txt`` (Excel's
    "Unicode text"), else a comma."""
    name = path.lower().removesuffix(".gz")
    return "\t" if name.endswith((".tsv", ".txt")) else ","


def _delimiter_hint(names: list[str], source) -> str:
    """When a header read as one or few columns holds another separator (``account_id;name;segment``, or commas in
    a ``.txt`` read as tab-separated): say so."""
    joined = "".join(names)
    used = getattr(source, "delimiter", None) or default_delimiter(str(getattr(source, "path", None) or ""))
    for sep, said in ((";", '";"'), ("\t", '"\\t"'), ("|", '"|"'), (",", '","')):
        if joined.count(sep) >= 2 and sep != used:
            return (f"; the header looks separated by {said}, not {_SEPARATOR_NAMES.get(used, repr(used))}: give the "
                    f"table delimiter: {said} in sources.yaml")
    return ""


def _columns_hint(contract: C.TableContract, names: list[str], missing: list[str]) -> str:
    """When a header holds columns the table does not read (a Japanese export's header in Japanese): how to
    map them (sources.yaml's ``columns``), with the first missing column and the first such header as the example."""
    unread = [n for n in names if n not in contract.column_names and n not in contract.known]
    if not unread:
        return ""
    return (f"; a column headed otherwise is read once sources.yaml maps it: tables: {{{contract.name}: {{columns: "
            f"{{{missing[0]}: {unread[0]}}}}}}}")


def _hint_ids(con, contract: C.TableContract, names: list[str], q_names: list[str], by_reason: dict, qout: Path,
              where: str) -> None:
    """A warning when ids quarantined as unknown match accepted accounts but for leading zeros or case
    (``1`` against ``00001``: a spreadsheet or a numeric Parquet column drops the zeros)."""
    if not by_reason.get(C.UNKNOWN_ACCOUNT) or "account_id" not in names:
        return
    shown = _ident(q_names[names.index("account_id")])
    norm = "ltrim(lower({}), '0')"
    found = con.execute(
        f"SELECT count(DISTINCT q.id), min(q.id), arg_min(a.account_id, q.id) FROM (SELECT DISTINCT "
        f"trim(CAST({shown} AS VARCHAR)) AS id FROM read_parquet($q, hive_partitioning = false) WHERE "
        f"list_contains(string_split(reason, '; '), $r)) q JOIN __accounts a "
        f"ON {norm.format('q.id')} = {norm.format('a.account_id')} AND q.id <> a.account_id",
        {"q": str(qout), "r": C.UNKNOWN_ACCOUNT}).fetchall()
    n, theirs, ours = found[0]
    if n:
        _warn("id_zeros", table=contract.name, n=n, source=where, theirs=repr(theirs), ours=repr(ours))


#: The columns whose values the metrics count by name: a value outside these is kept, but no metric counts it.
KNOWN_VALUES = {("events", "event_type"): C.COUNTED_EVENT_TYPES,
                ("touchpoints", "channel"): C.CHANNELS + C.PREPURCHASE_CHANNELS}


def _hint_unknown_values(con, contract: C.TableContract, out: Path, kept: int, where: str) -> None:
    """A warning when kept rows carry a value of a counted column (``events.event_type``, ``touchpoints.channel``)
    that no metric counts, with the commonest such values and their rows: event types written in Japanese (ログイン)
    were kept without a word and every login, export and view metric read 0."""
    for (table, column), known in KNOWN_VALUES.items():
        if table != contract.name or not kept:
            continue
        rows = con.execute(
            f"SELECT {_ident(column)} AS v, count(*) AS n FROM read_parquet($p,"
            f" hive_partitioning = false) WHERE {_ident(column)} IS NOT NULL "
            f"AND NOT list_contains($known, {_ident(column)}) GROUP BY 1 ORDER BY 2 DESC, 1",
            {"p": str(out), "known": list(known)}).fetchall()
        if not rows:
            continue
        n = sum(k for _, k in rows)
        shown = Why.of({lang: i18n.t("sep.comma", lang).join(
            i18n.t("ingest.value_rows", lang, value=repr(v), n=f"{k:,}") for v, k in rows[:5])
            + (i18n.t("ingest.more_values", lang, k=len(rows) - 5) if len(rows) > 5 else "") for lang in i18n.LANGS})
        _warn("unknown_values", table=table, column=column, source=where, n=f"{n:,}", kept=f"{kept:,}",
              share=_share(n, kept), values=shown, known=", ".join(known))


# ------------------------------------------------------------------------------------------ all or nothing
def _owned(name: str) -> bool:
    """Entries of the processed folder that ingest writes (everything else there is left as it is)."""
    return name in ("quarantine", REPORT_FILE) or name in {f"{t}.parquet" for t in C.CONTRACTS}


def _swap(staging: Path, target: Path) -> None:
    """``staging`` becomes ``target``; entries of the old ``target`` that ingest does not own move along.

    Two renames in one folder: the old folder is kept until the new one is in place, and put back when
    the second rename fails.
    """
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    foreign = [p.name for p in target.iterdir() if not _owned(p.name)]
    for name in foreign:
        (target / name).rename(staging / name)
    try:
        target.rename(old)
        try:
            staging.rename(target)
        except OSError:
            old.rename(target)
            raise
    except OSError:
        for name in foreign:
            (staging / name).rename(target / name)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _keep_previous(name: str, processed_dir: Path, staging: Path, previous: IngestReport | None,
                   results: dict[str, TableResult]) -> None:
    """A table not ingested this time (``tables=``): its previous files and report entry carry over."""
    for rel in (f"{name}.parquet", f"quarantine/{name}.parquet", f"quarantine/{name}.values.parquet"):
        if (processed_dir / rel).exists():
            shutil.copy2(processed_dir / rel, staging / rel)
    if previous and name in previous.tables and (staging / f"{name}.parquet").exists():
        results[name] = previous.tables[name]


def ingest(
    raw_dir: str | Path = config.RAW_DIR,
    processed_dir: str | Path = config.PROCESSED_DIR,
    *,
    sources: Mapping[str, str | Path | Source | dict] | str | Path | None = None,
    encodings: Mapping[str, str] | None = None,
    now: datetime | str | None = None,
    csat_scale: tuple[int, int] = (1, 5),
    tables: tuple[str, ...] | None = None,
    memory_limit: str | None = "3GB",
    threads: int | None = None,
    timezone: str | None = None,
    wait: float = 0,
) -> IngestReport:
    """Validate every table and replace ``processed_dir``; return what was read, kept and quarantined.

    Parameters
    ----------
    raw_dir : path
        Folder with one file (or folder of parts) per table, named after the table.
    processed_dir : path
        Output folder: ``<table>.parquet``, ``quarantine/<table>.parquet``, ``ingest_report.json``. It is
        replaced as a whole when every table succeeded, and left as it was otherwise. Files in it that
        ingest does not write are kept.
    sources : mapping or path, optional
        A sources file (see :mod:`~.sources`), or table name -> path (any DuckDB-readable path or glob) or
        ``{"path": ..., "encoding": ...}`` or ``{"url": ..., "table": ...}`` / ``{"url": ..., "query": ...}``
        (a database table, see :mod:`~.database`). Default: ``raw_dir/sources.yaml`` when it exists.
    encodings : mapping, optional
        Table name -> encoding of its text file (``{"surveys": "cp932"}``), over the sources file's.
        Without either, the encoding is detected (see :mod:`~.files`).
    now : datetime or str, optional
        Timestamps after this are "after the run date" (default: the current time); after the machine's clock as
        well, "in the future". A naive value is a wall-clock
        time on the calendar of ``timezone``; an aware one a moment.
    csat_scale : (low, high)
        The CSAT answer scale; scores outside it are quarantined.
    tables : tuple of str, optional
        Only these tables (accounts is always read first when present, for the account_id checks); the
        others keep their previous processed files.
    memory_limit, threads : DuckDB settings (``None`` keeps DuckDB's defaults).
    timezone : str, optional
        The company's calendar, an IANA name (``Asia/Tokyo``; ``None``: UTC, and a table whose times carry no
        offset is warned about, as the user named no zone; a named ``UTC`` is not): every time is stored as the
        clock on its wall showed it, labelled UTC, so that every later step begins its days and months at the
        company's midnight (see :mod:`engage_models._core.time`). A time written without an offset is a time in
        this zone unless the sources file gives its table another ``timezone`` (a product-analytics export in
        UTC, say).
    wait : float
        Seconds to wait for another engage process holding the folder ``processed_dir`` lies in (the data
        folder; see :mod:`engage_models._core.locks`); 0 stops at once, a negative number waits as long as it
        takes.

    Raises
    ------
    IngestError
        A required table's file is missing, unreadable, ambiguous, or lacks required columns; a database
        table cannot be read (:class:`~.database.DatabaseError`, its message free of credentials).
    ConfigError
        The sources file or an encoding is not valid.
    FolderBusy
        Another engage process writes the data folder (nothing was read or written).
    """
    processed_dir = Path(processed_dir)
    processed_dir.parent.mkdir(parents=True, exist_ok=True)
    with hold(processed_dir.parent, "ingest", wait):  # its staging and previous folders are siblings there
        return _ingest(Path(raw_dir), processed_dir, sources, encodings, now, csat_scale, tables, memory_limit,
                       threads, timezone)


def _ingest(raw_dir: Path, processed_dir: Path, sources, encodings, now, csat_scale, tables, memory_limit, threads,
            timezone: str | None) -> IngestReport:
    zone_given = timezone is not None
    timezone = check_zone(timezone if zone_given else "UTC", "timezone")
    now = now if now is not None else datetime.now(UTC)
    now_ts = wall_clock(now, timezone)  # as the report says it
    values = {"now": moment(now, timezone).to_pydatetime(),  # as the rows' checks compare it
              # the clock: a row's end after the run date but before it is not known yet on the run date (a
              # backfill, a retry the next day); after it, it is in the future
              "clock": max(moment(now, timezone).to_pydatetime(), datetime.now(UTC)),
              "csat_min": float(csat_scale[0]), "csat_max": float(csat_scale[1])}
    resolved = resolve_sources(raw_dir, sources, encodings)
    wanted = [t for t in C.TABLE_ORDER if tables is None or t in tables or t == "accounts"]
    if tables is not None and (processed_dir / REPORT_FILE).exists():  # the tables kept must be on one calendar
        kept_zone = IngestReport.from_json(processed_dir / REPORT_FILE).timezone
        if not same_clock(kept_zone, timezone):
            raise ConfigError(f"{processed_dir}: its tables were read on the calendar of {kept_zone}, not "
                              f"{timezone}; ingest every table again (without tables=...) to change it")

    if processed_dir.is_symlink():  # a link to a bigger disk: stage and swap there, keep the link
        processed_dir = processed_dir.resolve()
    processed_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = processed_dir.with_name(f".{processed_dir.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)  # left by an ingest that was killed
    old = processed_dir.with_name(f".{processed_dir.name}.old")
    if old.exists() and not processed_dir.exists():
        old.rename(processed_dir)  # killed between the two renames of a swap: the previous data comes back
    (staging / "quarantine").mkdir(parents=True)
    work = staging / ".work"
    heard: list[str] = []  # what ingest warns about goes into its report too, for report 01's readers
    token = _HEARD.set(heard)
    try:
        con = _connect(memory_limit, threads, staging / ".duckdb_tmp")
        results: dict[str, TableResult] = {}
        missing_optional: list[str] = []
        watched = _read_files(raw_dir, resolved, wanted)
        before = _raw_state(watched, raw_dir)  # an export being written, or replaced mid-read: nothing kept
        try:
            for name in wanted:
                contract = C.CONTRACTS[name]
                src = resolved.get(name, Source())
                if src.database is not None:
                    results[name] = ingest_table(con, contract, src, staging, values,
                                                 has_accounts="accounts" in results, work=work,
                                                 final_dir=processed_dir, timezone=timezone,
                                                 zone_given=zone_given)
                    if name == "accounts":
                        _accepted_accounts(con, staging, results[name])
                    continue
                path = src.path or find_source(raw_dir, name)
                if path is None:
                    books = [raw_dir / f"{name}{s}" for s in WORKBOOKS if (raw_dir / f"{name}{s}").is_file()]
                    if books:  # "no file for this required table" beside an accounts.xlsx read as a mystery
                        raise IngestError(f"{name}: {_workbook_hint(str(books[0]))}")
                    if contract.required:
                        looked = ", ".join(f"{name}{s}" for s in (*SUFFIXES, *TEXT_EXPORTS))
                        raise IngestError(f"{name}: no file for this required table in {raw_dir} (looked for "
                                          f"{looked}, or a folder {name}/ of parts; a file named otherwise is "
                                          f"named in sources.yaml: tables: {{{name}: {{path: ...}}}}). A company "
                                          f"without any {name} gives a {name}.csv of the header alone: "
                                          f"{','.join(contract.required_columns)}")
                    missing_optional.append(name)
                    continue
                here = replace(src, path=str(path))
                results[name] = ingest_table(con, contract, here, staging, values, has_accounts="accounts" in results,
                                             work=work, final_dir=processed_dir, timezone=timezone,
                                             zone_given=zone_given)
                _check_line_ends(name, str(path))
                if name == "accounts":
                    _accepted_accounts(con, staging, results[name])
            _hint_event_consistency(con, staging, results)
            _hint_long_before(con, staging, results)
            _hint_subscription_months(con, staging, results)
        finally:
            con.close()
        if tables is not None:
            old_report = processed_dir / REPORT_FILE
            previous = IngestReport.from_json(old_report) if old_report.exists() else None
            for name in C.TABLE_ORDER:
                if name not in wanted:
                    _keep_previous(name, processed_dir, staging, previous, results)
                    if previous and name in previous.missing_optional:
                        missing_optional.append(name)
                    if previous and name in results:  # its warnings carry over with its files
                        heard.extend(w for w in previous.warnings or () if w.startswith(f"{name}: "))
        changed = _raw_changes(before, _raw_state(watched, raw_dir))
        if changed:
            raise IngestError(f"raw files changed while ingest read them ({', '.join(changed[:5])}"
                              f"{f' and {len(changed) - 5} more' if len(changed) > 5 else ''}): the tables read would "
                              "not be one export; nothing was kept (processed/ is as it was). Run again once the "
                              "export is complete")
        report = IngestReport({t: results[t] for t in C.TABLE_ORDER if t in results}, now_ts.isoformat(),
                              missing_optional, sorted(heard, key=_table_of), timezone)
        report.to_json(staging / REPORT_FILE)
        for scratch in (work, staging / ".duckdb_tmp"):
            shutil.rmtree(scratch, ignore_errors=True)
        _swap(staging, processed_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _HEARD.reset(token)
    return report


#: The warnings of the ingest running in this context (its thread), kept for its report whatever level the
#: host's logging is set to: a host that quiets ``engage_models`` must not empty report 01's warnings.
_HEARD: ContextVar[list[str] | None] = ContextVar("ingest_warnings", default=None)
#: The table being read's ``columns`` (contract column -> header), for :func:`read_as` wherever it is called.
_COLUMNS: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("ingest_columns", default=())


def _table_of(warning: str) -> int:
    """A warning's table (every one starts ``<table>: ``) as its place in the tables' order."""
    name = warning.split(":", 1)[0]
    return C.TABLE_ORDER.index(name) if name in C.TABLE_ORDER else len(C.TABLE_ORDER)


def _read_files(raw_dir: Path, resolved: Mapping[str, Source], wanted) -> list[Path]:
    """The files the tables ``wanted`` are read from (a folder's parts each), and the sources file: what must not
    change while ingest reads them (a log or an editor's lock file beside them may)."""
    out = [raw_dir / SOURCES_FILE] if (raw_dir / SOURCES_FILE).is_file() else []
    for name in wanted:
        src = resolved.get(name, Source())
        if src.database is not None:
            continue
        path = src.path or find_source(raw_dir, name)
        if path is None:
            continue
        try:
            out.extend(_files(str(path)))
        except IngestError:  # said when the table is read
            continue
    return sorted(set(out))


def _raw_state(files: list[Path], raw_dir: Path) -> dict[str, tuple[int, int] | None]:
    """``{path (within raw_dir where it lies there): (size, modification time in ns)}`` of ``files`` (None for one
    that is gone)."""
    out: dict[str, tuple[int, int] | None] = {}
    for p in files:
        try:
            name = str(p.relative_to(raw_dir))
        except ValueError:
            name = str(p)
        try:
            st = p.stat()
            out[name] = (st.st_size, st.st_mtime_ns)
        except OSError:
            out[name] = None
    return out


def _raw_changes(before: dict, after: dict) -> list[str]:
    """The files that appeared, went or changed between two :func:`_raw_state`."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _check_line_ends(table: str, source: str) -> None:
    """A text file that does not end with a line break was often cut short (an export still being written, a
    copy that stopped): its last row is read as it is, so it is said, once per table (the first such part and how
    many). UTF-16 and UTF-32 files end in a line break followed or preceded by zero bytes."""
    cut = []
    for f in _files(source):
        if not f.name.lower().endswith((".csv", ".tsv", *TEXT_EXPORTS)):
            continue
        try:
            with f.open("rb") as fh:
                size = fh.seek(0, 2)
                if size == 0:
                    continue
                fh.seek(max(0, size - 4))
                tail = fh.read().rstrip(b"\x00")
        except OSError:
            continue
        if tail and tail[-1:] not in (b"\n", b"\r"):
            cut.append(f.name)
    if cut:
        _warn("no_final_line_break", table=table, file=cut[0] if len(cut) == 1 else
              Why("ingest.parts_more", first=cut[0], n=len(cut) - 1))


def _warn(warning: str, **fmt) -> None:
    """A warning (``ingest.warn.<warning>`` of the catalogue, every one starting with its table) for the job's log
    in English and, during :func:`ingest`, for its report in every language (what report 01 shows)."""
    said = Why(f"ingest.warn.{warning}", **fmt)
    heard = _HEARD.get()
    if heard is not None:
        heard.append(said)
    log.warning("%s", said)


def sign_rows(signs: Mapping[str, int]) -> Why:
    """Rows per currency sign (``¥ 3 rows, $ 1 row``) in every language."""
    return Why.of({lang: i18n.t("sep.comma", lang).join(i18n.t("ingest.sign_rows", lang, sign=k, n=f"{n:,}")
                                                        for k, n in signs.items()) for lang in i18n.LANGS})


def _accepted_accounts(con, staging: Path, accounts: TableResult) -> None:
    """The accepted account ids, for the other tables' ``unknown account_id`` check, and the ids of accounts
    whose every row was quarantined (``__held``: their rows elsewhere are quarantined for that reason)."""
    con.execute("CREATE OR REPLACE TEMP TABLE __accounts AS SELECT account_id, "
                "(row_number() OVER (ORDER BY account_id))::BIGINT AS __rank FROM "
                "(SELECT DISTINCT account_id FROM read_parquet($p,"
                " hive_partitioning = false))", {"p": str(staging / "accounts.parquet")})
    # the quarantine keeps the id as the file wrote it, under the file's name for the column
    as_read = next((n for n, c in accounts.renamed_columns.items() if c == "account_id"), "account_id")
    shown = _quarantine_names([as_read])[0]
    q = staging / "quarantine" / "accounts.parquet"
    columns = pq.read_schema(q).names
    if shown not in columns:  # lines that are not rows only: no id column in the quarantine
        con.execute("CREATE OR REPLACE TEMP TABLE __held (account_id VARCHAR)")
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE __held AS SELECT DISTINCT account_id FROM (SELECT "
                f"{_id_text(_ident(shown), 'VARCHAR')} AS account_id FROM read_parquet($q,"
                f" hive_partitioning = false)) WHERE account_id IS NOT NULL "
                "AND account_id NOT IN (SELECT account_id FROM __accounts)", {"q": str(q)})


def load(table: str, processed_dir: str | Path = config.PROCESSED_DIR, quarantine: bool = False) -> pd.DataFrame:
    """Read a processed (or quarantined) table into pandas: for the small tables, not for events."""
    folder = Path(processed_dir) / ("quarantine" if quarantine else "")
    path = folder / f"{table}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run ingest first (engage ingest, or the runner)")
    return pd.read_parquet(path)
