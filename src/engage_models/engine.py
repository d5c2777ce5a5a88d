"""Where the SQL runs. Everything engine-specific lives in this module.

The panel builder and the quality views write SQL once, in the portable subset DuckDB runs and sqlglot can
transpile to other engines, and hand it to an :class:`Engine`. An engine

* exposes the processed tables (Parquet files, or folders of parts) as named tables;
* takes small tables from pandas (the observation grid, the window map);
* runs SQL with named parameters (``$name``) bound by the engine, never formatted into the text;
* materialises intermediate results (``create``) and returns small results as pandas (``frame``).

:class:`DuckDBEngine` is the default: embedded, streaming over Parquet, spilling to disk under
``memory_limit``.

Examples
--------
>>> from engage_models.engine import DuckDBEngine
>>> with DuckDBEngine(memory_limit="1GB") as eng:
...     int(eng.frame("SELECT $x + 1 AS y", {"x": 41})["y"].iloc[0])
42
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

log = logging.getLogger(__name__)
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def quote_ident(name: str) -> str:
    """An SQL identifier, quoted (names may come from user files)."""
    return '"' + name.replace('"', '""') + '"'


class Engine:
    """Interface of the engines (see the module docstring)."""

    name = "abstract"

    def table(self, name: str, path: str | Path) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def put(self, name: str, df: pd.DataFrame) -> None:  # pragma: no cover
        raise NotImplementedError

    def create(self, name: str, sql: str, params: dict | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:  # pragma: no cover
        raise NotImplementedError

    def columns(self, name: str) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def append(self, name: str, sql: str, params: dict | None = None) -> None:  # pragma: no cover
        """Insert the rows of ``sql`` into table ``name``, creating it from the first rows."""
        raise NotImplementedError

    def day(self, column: str) -> str:  # pragma: no cover
        """SQL for the UTC calendar day of a timestamp column, as an integer (days since 1970-01-01)."""
        raise NotImplementedError

    def write_parquet(self, sql: str, path: str | Path, params: dict | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DuckDBEngine(Engine):
    """DuckDB in this process: Parquet scanned in place, intermediate tables spill to ``temp_dir``.

    Parameters
    ----------
    memory_limit : str
        DuckDB's ``memory_limit`` (e.g. ``"2GB"``): aggregations larger than this spill to disk.
    threads : int, optional
        Worker threads (default: DuckDB's choice, one per core).
    temp_dir : path, optional
        Where spilled data goes (default: a fresh temporary folder, removed on close).
    """

    name = "duckdb"

    def __init__(self, memory_limit: str | None = "2GB", threads: int | None = None,
                 temp_dir: str | Path | None = None):
        self._tmp = None if temp_dir else tempfile.TemporaryDirectory(prefix="engage-duckdb-")
        spill = Path(temp_dir) if temp_dir else Path(self._tmp.name)
        self.con = connect_duckdb(memory_limit, threads, spill, preserve_order=False)

    def table(self, name: str, path: str | Path) -> None:
        path = Path(path)
        src = str(path / "*.parquet") if path.is_dir() else str(path)
        # a view: the file is scanned (streaming, with projection and filter push-down) by each query.
        # DDL cannot take bound parameters; the path is a quoted literal (quotes doubled), not data.
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS "
                         f"SELECT * FROM read_parquet('{_setting(src)}')")

    def put(self, name: str, df: pd.DataFrame) -> None:
        self.con.register(f"__df_{name}", df)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS "
                         f"SELECT * FROM {quote_ident('__df_' + name)}")
        self.con.unregister(f"__df_{name}")

    def create(self, name: str, sql: str, params: dict | None = None) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS {sql}", _used(sql, params))

    def frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        return self.con.execute(sql, _used(sql, params)).df()

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()]

    def append(self, name: str, sql: str, params: dict | None = None) -> None:
        exists = self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $n AND temporary",
                                  {"n": name}).fetchall()[0][0]
        verb = f"INSERT INTO {quote_ident(name)}" if exists else f"CREATE TEMP TABLE {quote_ident(name)} AS"
        self.con.execute(f"{verb} {sql}", _used(sql, params))

    def day(self, column: str) -> str:
        # integer arithmetic on epoch milliseconds: exact, and much cheaper than a time-zone-aware cast
        return f"CAST(epoch_ms({column}) // 86400000 AS INTEGER)"

    def write_parquet(self, sql: str, path: str | Path, params: dict | None = None) -> None:
        self.con.sql(sql, params=_used(sql, params)).write_parquet(str(path), compression="zstd")

    def close(self) -> None:
        self.con.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def connect_duckdb(memory_limit: str | None = None, threads: int | None = None, temp_dir: str | Path | None = None,
                   preserve_order: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection as every part of the package wants it: UTC session, no progress bar, limits set."""
    con = duckdb.connect()
    # no progress bar in logs. Inside Jupyter it is off already, and DuckDB 2.0 refuses to touch the
    # setting there without ipywidgets: change it only when it is on.
    if con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]:
        con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET preserve_insertion_order = {'true' if preserve_order else 'false'}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{_setting(memory_limit)}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if temp_dir:
        con.execute(f"SET temp_directory = '{_setting(str(temp_dir))}'")
    return con


def _setting(value: str) -> str:
    """A configuration value written by us or the user as a SET literal (quotes doubled)."""
    return str(value).replace("'", "''")


def _used(sql: str, params: dict | None) -> dict:
    """Only the parameters the statement names (DuckDB rejects unused named parameters)."""
    if not params:
        return {}
    named = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in named}


def make_engine(engine: str | Engine = "duckdb", **settings) -> Engine:
    """An engine by name (``"duckdb"``), or the given engine unchanged."""
    if isinstance(engine, Engine):
        return engine
    if engine == "duckdb":
        return DuckDBEngine(**settings)
    raise ValueError(f"unknown engine {engine!r} (available: 'duckdb')")
