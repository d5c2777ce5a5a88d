"""Ingest: read raw tables, validate them against the contracts, write typed Parquet and a quarantine.

For each table in :data:`engage_models.ingest.contracts.TABLE_ORDER` (accounts first):

1. find its source: ``raw/<table>.parquet|.csv|.csv.gz|.tsv|.json`` or a folder ``raw/<table>/`` of parts,
   or any DuckDB-readable path given in ``sources``;
2. check that the contract's required columns are there, else raise :class:`IngestError` naming the
   file and the missing columns;
3. type every contract column (timestamps become UTC; text without an offset is read as UTC), and
   annotate each row with every reason it breaks the contract: unparseable or missing values, values out
   of range, duplicate keys (the first good row is kept), unknown ``account_id``, timestamps in the future;
4. write the good rows to ``processed/<table>.parquet`` (contract columns typed, extra columns kept) and
   the others, with their raw text, ``reason``, ``source_file`` and ``source_row`` (1-based data row), to
   ``processed/quarantine/<table>.parquet``. No row is dropped silently.

All of it runs as DuckDB SQL over the files (streaming, with a memory limit), so the events table never
has to fit in pandas. Values reach the SQL only as bound parameters; identifiers are quoted.

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

import html
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from .. import config
from .._core.errors import DataError
from .._core.time import to_utc
from ..features.engine import connect_duckdb
from . import contracts as C

log = logging.getLogger(__name__)

SUFFIXES = (".parquet", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".json", ".ndjson")
_PARAM = re.compile(r"\$([a-z_]+)")


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


@dataclass
class IngestReport:
    """What ingest read, kept and quarantined, per table and reason. Renders as tables in a notebook."""

    tables: dict[str, TableResult]
    now: str
    missing_optional: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "table": r.table,
                "rows read": r.rows_read,
                "rows kept": r.rows_kept,
                "rows quarantined": r.rows_quarantined,
                "% quarantined": 100 * r.rows_quarantined / r.rows_read if r.rows_read else 0.0,
                "source": Path(r.source).name,
            }
            for r in self.tables.values()
        ]
        return pd.DataFrame(rows)

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
        data = {"now": self.now, "missing_optional": self.missing_optional,
                "tables": {k: asdict(v) for k, v in self.tables.items()}}
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> IngestReport:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tables = {k: TableResult(**v) for k, v in data["tables"].items()}
        return cls(tables=tables, now=data["now"], missing_optional=data.get("missing_optional", []))

    def _repr_html_(self) -> str:
        parts = [f"<p>Ingest at {html.escape(self.now)}: {self.rows_quarantined:,} rows quarantined.</p>",
                 self.to_frame().to_html(index=False, float_format="{:.2f}".format)]
        if self.rows_quarantined:
            parts.append(self.reasons_frame().to_html(index=False))
        return "\n".join(parts)


def _ident(name: str) -> str:
    """Quote an SQL identifier (column names come from user files)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """Quote a string constant written in this package (reasons); never used for user values."""
    return "'" + text.replace("'", "''") + "'"


def find_source(raw_dir: str | Path, table: str) -> Path | None:
    """The raw file (or folder of parts) for ``table`` in ``raw_dir``, or None."""
    raw_dir = Path(raw_dir)
    for suffix in SUFFIXES:
        p = raw_dir / f"{table}{suffix}"
        if p.is_file():
            return p
    folder = raw_dir / table
    if folder.is_dir():
        for suffix in SUFFIXES:
            if any(folder.glob(f"*{suffix}")):
                return folder / f"*{suffix}"
    return None


def _kind(source: str) -> str:
    s = source.lower()
    for kind, endings in (("parquet", (".parquet",)), ("csv", (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")),
                          ("json", (".json", ".ndjson", ".jsonl"))):
        if s.endswith(endings):
            return kind
    raise IngestError(f"{source}: cannot tell the format from the name (expected one of {', '.join(SUFFIXES)})")


def _connect(memory_limit: str | None, threads: int | None, temp_dir: Path) -> duckdb.DuckDBPyConnection:
    # insertion order kept: a text file's rows are numbered by their order in a table (see _open_source)
    return connect_duckdb(memory_limit, threads, temp_dir, preserve_order=True)


def _open_source(con, contract: C.TableContract, source: str) -> tuple[str, dict, dict[str, str]]:
    """SQL for the source rows with ``__row`` (1-based data row) and ``__file``; its parameters and types.

    Parquet is scanned in place (streaming). Text formats are loaded into a temporary table first: a
    table keeps insertion order, so its rowid is the row in the file.
    """
    kind = _kind(source)
    p = {"src": source}
    try:
        if kind == "parquet":
            sql = ("SELECT * EXCLUDE (file_row_number, filename), file_row_number + 1 AS __row, "
                   "filename AS __file FROM read_parquet($src, file_row_number = true, filename = true)")
        else:
            reader = "read_csv($src, header = true, {opts})" if kind == "csv" else "read_json_auto($src{opts})"
            first = "all_varchar = true" if kind == "csv" else ""
            names = con.sql(f"SELECT * FROM {reader.format(opts=first)} LIMIT 0", params=p).columns
            # contract columns are read as text and typed by us (so a bad value is a reason, not a crash);
            # extra columns keep the reader's own type detection, unless it trips over them
            forced = ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in names if n in contract.column_names)
            con.execute("DROP TABLE IF EXISTS src_raw")
            try:
                opts = f"types = {{{forced}}}" if kind == "csv" and forced else first
                con.sql(f"SELECT *, $src AS __file FROM {reader.format(opts=opts)}", params=p).create("src_raw")
            except duckdb.Error:
                opts = "all_varchar = true" if kind == "csv" else ", format = 'auto'"
                con.sql(f"SELECT *, $src AS __file FROM {reader.format(opts=opts)}", params=p).create("src_raw")
            sql, p = "SELECT *, rowid + 1 AS __row FROM src_raw", {}
        rel = con.sql(sql, params=p)
        types = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=False) if c not in ("__row", "__file")}
    except duckdb.Error as exc:
        raise IngestError(f"{contract.name}: cannot read {source}: {exc}") from exc
    return sql, p, types


def _typed(col: C.Column, src_type: str) -> tuple[str, str | None]:
    """SQL for the typed value, and SQL that is TRUE when a present raw value could not be typed."""
    q = _ident(col.name)
    text = f"NULLIF(trim(CAST({q} AS VARCHAR)), '')"
    if col.dtype == C.STRING:
        return (f"lower({text})" if col.lower else text), None
    if src_type.upper() == "VARCHAR":
        expr = f"TRY_CAST({text} AS {col.dtype})"
        return expr, f"({text} IS NOT NULL AND {expr} IS NULL)"
    if col.dtype == C.TIMESTAMP and src_type.upper().startswith(("TIMESTAMP", "DATE")):
        return f"CAST({q} AS TIMESTAMPTZ)", None  # naive timestamps are UTC (session time zone)
    expr = f"TRY_CAST({q} AS {col.dtype})"
    return expr, f"({q} IS NOT NULL AND {expr} IS NULL)"


def _table_sql(contract: C.TableContract, src_sql: str, types: dict[str, str],
               has_accounts: bool) -> tuple[str, list[str]]:
    """The annotated-rows query: raw columns as ``__raw<j>``, typed contract columns, ``reason``."""
    src_cols = list(types)
    raw_sel = [f"{_ident(c)} AS __raw{j}" for j, c in enumerate(src_cols)]
    typed_sel, reasons = [], []
    for i, col in enumerate(contract.columns):
        if col.name in types:
            expr, bad = _typed(col, types[col.name])
            typed_sel.append(f"{expr} AS {_ident(col.name)}")
            # flags are computed next to the raw value; the outer query sees only the typed column
            if bad:
                typed_sel.append(f"{bad} AS __bad{i}")
                reasons.append((C.unparseable(col.name), f"__bad{i}"))
            if not col.nullable:
                ok = f"NOT __bad{i}" if bad else "TRUE"
                reasons.append((C.missing(col.name), f"({_ident(col.name)} IS NULL AND {ok})"))
        else:
            typed_sel.append(f"CAST(NULL AS {col.dtype}) AS {_ident(col.name)}")
    present = set(types)
    # checks on typed values (NULL, i.e. missing or unparseable, never triggers them)
    for name in contract.future_columns:
        if name in present:
            reasons.append((C.in_future(name), f"{_ident(name)} > $now"))
    for check in contract.checks:
        if set(check.needs) <= present:
            reasons.append((check.reason, f"({check.sql})"))
    if contract.account_fk and has_accounts:
        reasons.append((C.UNKNOWN_ACCOUNT, '"account_id" NOT IN (SELECT account_id FROM __accounts)'))
    extras = [c for c in src_cols if c not in contract.column_names]
    cases = ", ".join(f"CASE WHEN {cond} THEN {_literal(reason)} END" for reason, cond in reasons) or "NULL"
    base = (
        f"SELECT {', '.join(raw_sel + typed_sel)}, __row, __file FROM ({src_sql})"
    )
    checked = f"SELECT *, NULLIF(concat_ws('; ', {cases}), '') AS __r0 FROM ({base})"
    if contract.key:
        key = ", ".join(_ident(k) for k in contract.key)
        key_ok = " AND ".join(f"{_ident(k)} IS NOT NULL" for k in contract.key)
        dup = (f"CASE WHEN __r0 IS NULL AND {key_ok} AND row_number() OVER "
               f"(PARTITION BY {key}, __r0 IS NULL ORDER BY __row) > 1 "
               f"THEN {_literal(C.duplicate(contract.key))} END")
        annotated = f"SELECT *, coalesce(__r0, {dup}) AS reason FROM ({checked})"
    else:
        annotated = f"SELECT *, __r0 AS reason FROM ({checked})"
    return annotated, extras


def _params(sql: str, values: dict) -> dict:
    return {k: values[k] for k in set(_PARAM.findall(sql)) if k in values}


def ingest_table(con, contract: C.TableContract, source: str, processed_dir: Path, values: dict,
                 has_accounts: bool) -> TableResult:
    src_sql, src_params, types = _open_source(con, contract, source)
    missing = [c for c in contract.required_columns if c not in types]
    if missing:
        raise IngestError(
            f"{contract.name}: {source} is missing required column(s) {', '.join(repr(m) for m in missing)} "
            f"(found: {', '.join(types)})"
        )
    annotated, extras = _table_sql(contract, src_sql, types, has_accounts)
    values = {**values, **src_params}
    if contract.cluster_by:
        order = " ORDER BY " + ", ".join(_ident(c) for c in contract.cluster_by) + ", __row"
    else:
        order = " ORDER BY __row" if contract.key else ""
    keep_cols = [_ident(c) for c in contract.column_names] + [
        f"__raw{list(types).index(c)} AS {_ident(c)}" for c in extras
    ]
    keep_sql = f"SELECT {', '.join(keep_cols)} FROM ({annotated}) WHERE reason IS NULL{order}"
    q_cols = ["__file AS source_file", "__row AS source_row", "reason"] + [
        f"CAST(__raw{j} AS VARCHAR) AS {_ident(c)}" for j, c in enumerate(types)
    ]
    q_sql = f"SELECT {', '.join(q_cols)} FROM ({annotated}) WHERE reason IS NOT NULL ORDER BY __row"

    out = processed_dir / f"{contract.name}.parquet"
    qout = processed_dir / "quarantine" / f"{contract.name}.parquet"
    for sql, path in ((keep_sql, out), (q_sql, qout)):
        tmp = path.with_name(path.name + ".tmp")
        try:
            con.sql(sql, params=_params(sql, values)).write_parquet(str(tmp), compression="zstd")
        except duckdb.Error as exc:
            raise IngestError(f"{contract.name}: failed while validating {source}: {exc}") from exc
        tmp.replace(path)
    kept = pq.ParquetFile(out).metadata.num_rows
    quarantined = pq.ParquetFile(qout).metadata.num_rows
    by_reason = dict(
        con.execute(
            "SELECT trim(r) AS reason, count(*) FROM (SELECT unnest(string_split(reason, '; ')) AS r "
            "FROM read_parquet($q)) GROUP BY 1 ORDER BY 2 DESC, 1",
            {"q": str(qout)},
        ).fetchall()
    )
    result = TableResult(contract.name, source, kept + quarantined, kept, quarantined, by_reason,
                         str(out), str(qout), extras)
    log.info("%s: read %d, kept %d, quarantined %d", contract.name, result.rows_read, kept, quarantined)
    return result


def ingest(
    raw_dir: str | Path = config.RAW_DIR,
    processed_dir: str | Path = config.PROCESSED_DIR,
    *,
    sources: dict[str, str | Path] | None = None,
    now: datetime | str | None = None,
    csat_scale: tuple[int, int] = (1, 5),
    tables: tuple[str, ...] | None = None,
    memory_limit: str | None = "4GB",
    threads: int | None = None,
) -> IngestReport:
    """Validate every table and write ``processed_dir``; return what was read, kept and quarantined.

    Parameters
    ----------
    raw_dir : path
        Folder with one file (or folder of parts) per table, named after the table.
    processed_dir : path
        Output folder: ``<table>.parquet``, ``quarantine/<table>.parquet``, ``ingest_report.json``.
    sources : dict, optional
        Table name -> any DuckDB-readable path or glob, overriding the file found in ``raw_dir``.
    now : datetime or str, optional
        Timestamps after this are "in the future" (default: the current time, UTC).
    csat_scale : (low, high)
        The CSAT answer scale; scores outside it are quarantined.
    tables : tuple of str, optional
        Only these tables (accounts is always read first when present, for the account_id checks).
    memory_limit, threads : DuckDB settings (``None`` keeps DuckDB's defaults).

    Raises
    ------
    IngestError
        A required table's file is missing, unreadable, or lacks required columns.
    """
    raw_dir, processed_dir = Path(raw_dir), Path(processed_dir)
    (processed_dir / "quarantine").mkdir(parents=True, exist_ok=True)
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    now_ts = to_utc(now_ts)
    values = {"now": now_ts.to_pydatetime(), "csat_min": float(csat_scale[0]), "csat_max": float(csat_scale[1])}
    sources = {k: str(v) for k, v in (sources or {}).items()}
    unknown = set(sources) - set(C.CONTRACTS)
    if unknown:
        raise IngestError(f"sources names unknown table(s) {sorted(unknown)}; known: {list(C.CONTRACTS)}")
    wanted = [t for t in C.TABLE_ORDER if tables is None or t in tables or t == "accounts"]

    con = _connect(memory_limit, threads, processed_dir / ".duckdb_tmp")
    results: dict[str, TableResult] = {}
    missing_optional: list[str] = []
    try:
        for name in wanted:
            contract = C.CONTRACTS[name]
            src = sources.get(name) or find_source(raw_dir, name)
            if src is None:
                if contract.required:
                    looked = ", ".join(f"{name}{s}" for s in SUFFIXES)
                    raise IngestError(f"{name}: no file for this required table in {raw_dir} (looked for {looked}, "
                                      f"or a folder {name}/ of parts)")
                missing_optional.append(name)
                for stale in (processed_dir / f"{name}.parquet", processed_dir / "quarantine" / f"{name}.parquet"):
                    stale.unlink(missing_ok=True)
                continue
            results[name] = ingest_table(con, contract, str(src), processed_dir, values,
                                         has_accounts="accounts" in results)
            if name == "accounts":
                con.execute("CREATE OR REPLACE TEMP TABLE __accounts AS SELECT account_id FROM read_parquet($p)",
                            {"p": results[name].processed})
    finally:
        con.close()
    report = IngestReport(results, now_ts.isoformat(), missing_optional)
    report.to_json(processed_dir / "ingest_report.json")
    return report


def load(table: str, processed_dir: str | Path = config.PROCESSED_DIR, quarantine: bool = False) -> pd.DataFrame:
    """Read a processed (or quarantined) table into pandas: for the small tables, not for events."""
    folder = Path(processed_dir) / ("quarantine" if quarantine else "")
    path = folder / f"{table}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run ingest first (engage ingest, or the runner)")
    return pd.read_parquet(path)
