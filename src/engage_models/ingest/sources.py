"""Where each table comes from: the sources file (``sources.yaml``) and the ``--encoding`` option.

A sources file names, per table, what to read instead of (or in addition to what is known about) the file
found in the raw folder::

    env_file: warehouse.env            # optional: KEY=VALUE lines for the ${NAME} references below
    tables:
      surveys:
        path: surveys_from_excel.csv   # relative to this file's folder; a glob of parts works too
        encoding: cp932                # text files only; detected when absent
        delimiter: ";"                 # CSV only: the field separator (default ","; a tab for .tsv, .txt)
        date_format: "%m/%d/%Y %H:%M"  # optional: how its timestamps are written when not ISO (or a list)
        thousands: ","                 # optional: numbers written 1,200 or ¥1,200 (decimal: "," for 1.200,50)
        timezone: UTC                  # optional: the zone of its times written without an offset
      events:
        exact_copies: quarantine       # optional, tables without a key: rows equal to an earlier row set aside
      tickets:
        encoding: utf-16               # no path: the raw folder's tickets.* file, read as UTF-16
      accounts:
        sheet: Customers               # an Excel workbook (.xlsx): the sheet to read (see below)
      events:                          # a database table: a URL and a table name or a query
        url: postgresql://analytics:${WAREHOUSE_PASSWORD}@db.example.com:5432/app
        table: app.events
        updated_column: loaded_at      # optional (see engage_models.ingest.database.fingerprint)

Every entry is a mapping of a few known keys: a file (``path``, ``encoding``, ``delimiter``, ``sheet``), the file
found in the raw folder when ``path`` is absent, or a database table (``url`` with ``table`` or ``query``, see
:mod:`~.database`); either may say how its timestamps are written (``date_format``, see
:func:`check_date_formats`, and in which zone when they carry no offset: ``timezone``) and its numbers
(``thousands``, ``decimal``, see :func:`check_number_format`). A table without a key (events, touchpoints,
plays without ``play_id``) may say what becomes of a row equal in every column to an earlier one:
``exact_copies: keep`` (the default: kept, counted and warned about) or ``quarantine`` (set aside with the
reason ``exact copy of an earlier row``, for an export known to overlap another).
An Excel workbook is read from its sheet named ``sheet``, else from the visible sheet named like the table
(``accounts``, ``Accounts``), else from its one visible sheet holding values; a workbook with several such sheets,
none named like the table, is refused naming them (see :func:`~.validate.choose_sheet`).
Unknown keys are refused, so a typo never silently falls back to the default; so is a
password written into a URL (``${NAME}`` takes its place, filled in from the environment or ``env_file``).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .._core.errors import ConfigError
from .._core.i18n import count
from .._core.time import check_zone
from .contracts import CONTRACTS
from .database import DATABASE_KEYS, DatabaseSource, database_source

#: The file ``ingest`` reads from the raw folder when no sources are given.
SOURCES_FILE = "sources.yaml"
#: Keys a file table's entry may have.
FILE_KEYS = ("path", "encoding", "delimiter", "sheet")
#: Field separators a CSV file may have (``delimiter``): comma, semicolon (a European spreadsheet's), tab, pipe.
DELIMITERS = (",", ";", "\t", "|")
#: Keys a file's or a database table's entry may have.
COMMON_KEYS = ("date_format", "thousands", "decimal", "columns", "timezone", "exact_copies")
#: What ``exact_copies`` may say (the first is the default).
EXACT_COPIES = ("keep", "quarantine")
#: Characters a number's digits may be grouped by (``thousands``): comma, point, space, no-break space,
#: narrow no-break space (French), apostrophe (Swiss), underscore.
THOUSANDS = (",", ".", " ", "\u00a0", "\u202f", "'", "_")
#: Dates written as numbers (``date_format``): a spreadsheet's serial day, seconds or milliseconds since 1970.
NUMBER_DATES = ("excel", "epoch_s", "epoch_ms")
#: Keys a table's entry may have: a file's, or a database table's (:data:`~.database.DATABASE_KEYS`).
SOURCE_KEYS = FILE_KEYS + DATABASE_KEYS + COMMON_KEYS
#: Top-level keys of a sources file.
TOP_KEYS = ("tables", "env_file")


@dataclass(frozen=True)
class Source:
    """Where one table comes from.

    ``path``: a file or a glob of parts (``None``: the table's file, or folder of parts, in the raw folder).
    ``encoding``: the text encoding of a CSV/TSV/JSON file, a Python codec name (``None``: detected).
    ``sheet``: the sheet of an Excel workbook to read (``None``: see :func:`~.validate.choose_sheet`).
    ``database``: a database table instead of a file (see :mod:`~.database`).
    ``date_format``: strptime formats of the timestamps written as text (see :func:`check_date_formats`).
    ``thousands``, ``decimal``: how numbers written as text group their digits and mark their decimals
    (see :func:`check_number_format`; ``None``: plain numbers, ``1200.5``).
    ``columns``: ``(contract column, the source's header)`` pairs for headers written otherwise (a Japanese
    export's header in Japanese read as ``account_id``; see :func:`check_columns`).
    ``timezone``: the zone of its times written without an offset (an IANA name; ``None``: the run's calendar
    zone, ``RunConfig.timezone``). A time with an offset, or a database's ``timestamptz``, is a moment already.
    ``exact_copies``: what becomes of a row equal in every column to an earlier one, in a table without a key
    (``keep``: kept and counted; ``quarantine``: set aside with its reason).
    """

    path: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    database: DatabaseSource | None = None
    date_format: tuple[str, ...] = ()
    thousands: str | None = None
    decimal: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    timezone: str | None = None
    exact_copies: str = EXACT_COPIES[0]
    sheet: str | None = None


def check_exact_copies(table: str, value, where: str) -> str:
    """``value`` checked (one of :data:`EXACT_COPIES`, for a table without a key); ConfigError naming ``where``."""
    if value not in EXACT_COPIES:
        raise ConfigError(f"{where}: exact_copies is {' or '.join(EXACT_COPIES)} (found {value!r})")
    contract = CONTRACTS[table]
    if contract.always_keyed:
        raise ConfigError(f"{where}: exact_copies is for a table without a key; {table} has one "
                          f"({', '.join(contract.key)}), and a row repeating a key is quarantined already")
    return value


def check_encoding(encoding: str, where: str) -> str:
    """The canonical codec name of ``encoding`` (``Shift_JIS`` -> ``shift_jis``); ConfigError when unknown."""
    try:
        return codecs.lookup(str(encoding)).name
    except LookupError:
        raise ConfigError(f"{where}: unknown encoding {encoding!r} (a Python codec name: utf-8, cp932, "
                          f"utf-16, ...)") from None


def check_date_formats(formats, where: str) -> tuple[str, ...]:
    """``formats`` (one strptime format or a list) as a tuple, each checked; ConfigError naming ``where``.

    A table's timestamps written as text are read with the first of these formats that fits, then, failing
    all, as ISO 8601 (``2025-01-05 10:00``, ``2025/1/5``, with or without an offset) as they are without a
    format: ``%m/%d/%Y %H:%M`` reads a US spreadsheet's ``1/5/2025 10:00``, ``%d.%m.%Y`` a German one's, and a
    value neither reads is quarantined as unparseable. Without ``%z`` a time is in the table's ``timezone``
    (default: the run's, UTC unless set), like ISO text without an offset. Formats are DuckDB's
    (``strptime``), the directives of C and Python. Dates written as numbers have names instead of a format:
    ``excel`` (a spreadsheet's serial number, days since 30 Dec 1899 with the time as the fraction: 45292.5 is
    1 Jan 2024 12:00 on the table's clock), ``epoch_s`` and ``epoch_ms`` (seconds or milliseconds since
    1 Jan 1970 UTC, a moment); they read a text column and a numeric one (a Parquet or database integer) alike.
    """
    import duckdb

    items = [formats] if isinstance(formats, str) else formats
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(f, str) for f in items):
        raise ConfigError(f"{where}: date_format is a strptime format such as '%m/%d/%Y %H:%M', or a list of "
                          f"them (found {formats!r})")
    for f in items:
        if f in NUMBER_DATES:
            continue
        if "%" not in f:
            raise ConfigError(f"{where}: date_format {f!r} has no % directive (e.g. '%m/%d/%Y' for 1/5/2025), "
                              f"and is none of the dates written as numbers ({', '.join(NUMBER_DATES)})")
        try:
            duckdb.connect().execute("SELECT try_strptime('', $f)", {"f": f}).fetchall()
        except duckdb.Error as exc:
            raise ConfigError(f"{where}: date_format {f!r} is not a strptime format ({exc})") from None
    return tuple(items)


def check_number_format(thousands, decimal, where: str) -> tuple[str | None, str | None]:
    """``thousands`` and ``decimal`` checked; ConfigError naming ``where``.

    With either given, a table's numbers written as text are read as the locale writes them: ``thousands: ","``
    reads ``1,200`` and ``1,200.50``; ``thousands: "."`` with ``decimal: ","`` reads ``1.200,50``; the
    separator must group the digits by three (``1,2`` stays unparseable), and a currency sign before or after
    the number (``$ ¥ ￥ € £ 円``) is dropped, so ``¥1,200`` and ``1,200円`` are 1200. Plain numbers are read
    as before.
    """
    if thousands is not None and (not isinstance(thousands, str) or thousands not in THOUSANDS):
        raise ConfigError(f"{where}: thousands is one of {', '.join(repr(c) for c in THOUSANDS)} "
                          f"(found {thousands!r})")
    if decimal is not None and decimal not in (".", ","):
        raise ConfigError(f"{where}: decimal is '.' or ',' (found {decimal!r})")
    if thousands is not None and thousands == (decimal or "."):
        raise ConfigError(f"{where}: thousands and decimal are both {thousands!r}; give decimal: "
                          f"{',' if thousands == '.' else '.'!r}")
    return thousands, decimal


def check_columns(table: str, columns, where: str) -> tuple[tuple[str, str], ...]:
    """``columns`` (a mapping: contract column -> the source's header) checked; ConfigError naming ``where``.

    >>> check_columns("accounts", {"account_id": "Customer No.", "mrr": "Monthly fee"}, "sources.yaml")
    (('account_id', 'Customer No.'), ('mrr', 'Monthly fee'))
    """
    contract = CONTRACTS[table]
    if not isinstance(columns, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                   for k, v in columns.items()):
        raise ConfigError(f"{where}: columns maps the table's column names to the source's headers, e.g. "
                          f"{{account_id: Customer No.}} (found {columns!r})")
    known = (*contract.column_names, *contract.known)
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ConfigError(f"{where}: columns names {unknown}, not {count(len(unknown), '=a column', '=columns')} "
                          f"of {table}; its columns: "
                          f"{', '.join(known)}")
    headers = list(columns.values())
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice:
        raise ConfigError(f"{where}: columns gives the {count(len(twice), '=header', '=headers')} {twice} to more "
                          "than one column")
    return tuple((str(k), str(v)) for k, v in columns.items())


def _check_table(table: str, where: str) -> None:
    if table not in CONTRACTS:
        raise ConfigError(f"{where}: unknown table {table!r}; known: {', '.join(CONTRACTS)}")


def source_from(table: str, entry, where: str, base: Path | None = None, env_file: str | None = None) -> Source:
    """A :class:`Source` from a sources-file entry (mapping), a path, or a Source."""
    _check_table(table, where)
    if isinstance(entry, Source):
        return entry
    if isinstance(entry, (str, Path)):
        return Source(path=str(entry))
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: table {table!r} must be a mapping with {' and/or '.join(SOURCE_KEYS)}, "
                          f"not {type(entry).__name__}")
    unknown = sorted(set(entry) - set(SOURCE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: table {table!r} has {count(len(unknown), '=an unknown key', '=unknown keys')} "
                          f"{unknown}; allowed: {list(SOURCE_KEYS)}")
    formats = ()
    if entry.get("date_format") is not None:
        formats = check_date_formats(entry["date_format"], f"{where}, table {table!r}")
    thousands, decimal = check_number_format(entry.get("thousands"), entry.get("decimal"), f"{where}, table {table!r}")
    columns = check_columns(table, entry["columns"], f"{where}, table {table!r}") if entry.get("columns") else ()
    zone = check_zone(entry["timezone"], f"{where}, table {table!r}") if entry.get("timezone") is not None else None
    copies = (check_exact_copies(table, entry["exact_copies"], f"{where}, table {table!r}")
              if entry.get("exact_copies") is not None else EXACT_COPIES[0])
    as_written = {"date_format": formats, "thousands": thousands, "decimal": decimal, "columns": columns,
                  "timezone": zone, "exact_copies": copies}
    if "url" in entry:
        mixed = sorted(set(entry) & set(FILE_KEYS))
        if mixed:
            raise ConfigError(f"{where}: table {table!r} names a database (url) and a file ({', '.join(mixed)}); "
                              "keep one")
        db = {k: v for k, v in entry.items() if k not in COMMON_KEYS}
        return Source(database=database_source(table, db, where, env_file=env_file, base=base), **as_written)
    db_only = sorted(set(entry) & set(DATABASE_KEYS))
    if db_only:
        raise ConfigError(f"{where}: table {table!r} has {', '.join(db_only)} without a url")
    path = entry.get("path")
    if path is not None:
        path = Path(str(path)).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        path = str(path)
    encoding = entry.get("encoding")
    if encoding is not None:
        encoding = check_encoding(encoding, f"{where}, table {table!r}")
    delimiter = entry.get("delimiter")
    if delimiter is not None and delimiter not in DELIMITERS:
        raise ConfigError(f"{where}, table {table!r}: delimiter must be one of "
                          f"{', '.join(repr(d) for d in DELIMITERS)}, not {delimiter!r}")
    sheet = entry.get("sheet")
    if sheet is not None and (not isinstance(sheet, (str, int)) or not str(sheet).strip()):
        raise ConfigError(f"{where}, table {table!r}: sheet is the name of a sheet of the workbook, as on its tab "
                          f"(found {sheet!r})")
    return Source(path=path, encoding=encoding, delimiter=delimiter, sheet=None if sheet is None else str(sheet),
                  **as_written)


def load_sources(path: str | Path) -> dict[str, Source]:
    """The tables of a sources file; relative paths are taken from the file's folder.

    Raises :class:`~engage_models._core.errors.ConfigError` naming the file, the table and the key.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sources file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping) or set(data) - set(TOP_KEYS):
        raise ConfigError(f"{path}: a sources file has the top-level keys 'tables' and (optional) 'env_file' "
                          f"(found: {sorted(data) if isinstance(data, Mapping) else type(data).__name__})")
    tables = data.get("tables") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{path}: 'tables' must map table names to their sources")
    env_file = data.get("env_file")
    if env_file is not None:
        env_file = Path(str(env_file)).expanduser()
        env_file = str(env_file if env_file.is_absolute() else path.parent / env_file)
    return {str(t): source_from(str(t), e, str(path), base=path.parent, env_file=env_file)
            for t, e in tables.items()}


def parse_encodings(items: list[str] | None) -> dict[str, str]:
    """``["surveys=cp932", ...]`` (the ``--encoding`` option) as ``{"surveys": "cp932"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        table, sep, encoding = item.partition("=")
        table, encoding = table.strip(), encoding.strip()
        if not sep or not table or not encoding:
            raise ConfigError(f"--encoding {item!r}: expected TABLE=ENCODING, e.g. surveys=cp932")
        _check_table(table, "--encoding")
        out[table] = check_encoding(encoding, f"--encoding {item!r}")
    return out


def resolve_sources(raw_dir: Path, sources, encodings: Mapping[str, str] | None) -> dict[str, Source]:
    """Sources by table: ``sources`` (a mapping or a sources file; default ``raw_dir/sources.yaml`` when it
    exists), with ``encodings`` (the ``--encoding`` option) taking precedence."""
    if sources is None:
        default = raw_dir / SOURCES_FILE
        resolved = load_sources(default) if default.is_file() else {}
    elif isinstance(sources, (str, Path)):
        resolved = load_sources(sources)
    elif isinstance(sources, Mapping):
        resolved = {str(t): source_from(str(t), e, "sources") for t, e in sources.items()}
    else:
        raise ConfigError(f"sources must be a mapping of table -> path or a sources file, not {type(sources)}")
    for table, encoding in (encodings or {}).items():
        _check_table(table, "encodings")
        enc = check_encoding(encoding, f"encoding of {table!r}")
        old = resolved.get(table, Source())
        if old.database is not None:
            raise ConfigError(f"an encoding is given for {table!r}, which is read from a database")
        resolved[table] = replace(old, encoding=enc)
    return resolved


def database_tables(raw_dir: str | Path, sources=None) -> dict[str, DatabaseSource]:
    """The tables that ``sources`` (default: the raw folder's ``sources.yaml``) reads from a database."""
    return {t: s.database for t, s in resolve_sources(Path(raw_dir), sources, None).items() if s.database}
