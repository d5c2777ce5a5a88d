"""Where the SQL runs. Everything engine-specific lives in this module.

The panel builder and the quality views write SQL once, in DuckDB's dialect (the portable subset that
sqlglot transpiles to other engines), and hand it to an :class:`Engine`. An engine

* exposes the processed tables (Parquet files, or folders of parts) as named tables;
* takes small tables from pandas (the observation grid, the window map);
* runs SQL with named parameters (``$name``) bound by the engine, never formatted into the text;
* materialises intermediate results (``create``) and returns small results as pandas (``frame``).

:class:`DuckDBEngine` is the default: embedded, streaming over Parquet, spilling to disk under
``memory_limit``. :class:`SparkEngine` runs the same SQL on a SparkSession (local, or a cluster), reading
Parquet from any path Spark reads (local, ``hdfs://``, ``s3a://``, ``abfss://``): each statement is
transpiled from DuckDB's dialect to Spark SQL by sqlglot and its parameters are bound by Spark.

Examples
--------
>>> from engage_models.features.engine import DuckDBEngine
>>> with DuckDBEngine(memory_limit="1GB") as eng:
...     int(eng.frame("SELECT $x + 1 AS y", {"x": 41})["y"].iloc[0])
42
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from .._core.errors import EngageError
from .._core.io import parquet_source
from .._core.time import to_utc

log = logging.getLogger(__name__)
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")

#: Microseconds from 0001-01-01 to 1970-01-01 (719,162 days). Integer division truncates towards zero in DuckDB
#: and Spark alike, so a time before 1970 (an event mistyped as 1924) landed on the next day: the epoch is moved
#: back to year 1 for the division, which then floors, and moved forward again in days.
_YEAR_ONE_US, _YEAR_ONE_DAYS = 62_135_596_800_000_000, 719_162


def quote_ident(name: str) -> str:
    """An SQL identifier, quoted (names may come from user files)."""
    return '"' + name.replace('"', '""') + '"'


def is_uri(path) -> bool:
    """Whether ``path`` is a URI (``s3a://bucket/x``, ``file:///x``) rather than a local path."""
    return "://" in str(path)


def location(base: str | Path, name: str) -> str | Path:
    """``name`` inside the folder ``base``: a :class:`~pathlib.Path` for local folders, text for URIs.

    ``Path("s3a://bucket/x")`` would collapse the ``//``: object-store locations stay strings.
    """
    if is_uri(base):
        return str(base).rstrip("/") + "/" + name
    return Path(base) / name


class Engine:
    """Interface of the engines (see the module docstring)."""

    name = "abstract"
    #: Events per account range of the panel's rollups (see ``PanelBuilder``); None: one range.
    partition_events: int | None = None

    def exists(self, path: str | Path) -> bool:
        """Whether a table (file or folder) exists at ``path`` (local paths; engines may read more)."""
        return Path(path).exists()

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
    # the rollups run one account range at a time so that their hash tables stay within memory_limit
    partition_events = 4_000_000

    def __init__(self, memory_limit: str | None = "2GB", threads: int | None = None,
                 temp_dir: str | Path | None = None):
        self._tmp = None if temp_dir else tempfile.TemporaryDirectory(prefix="engage-duckdb-")
        spill = Path(temp_dir) if temp_dir else Path(self._tmp.name)
        self.con = connect_duckdb(memory_limit, threads, spill, preserve_order=False)

    def table(self, name: str, path: str | Path) -> None:
        src = parquet_source(path)  # the file, or the list of a folder's parts
        src = "[" + ", ".join(f"'{_setting(f)}'" for f in src) + "]" if isinstance(src, list) else f"'{_setting(src)}'"
        # a view: the files are scanned (streaming, with projection and filter push-down) by each query.
        # DDL cannot take bound parameters; the paths are quoted literals (quotes doubled), not data.
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT * FROM read_parquet({src},"
                         f" hive_partitioning = false)")

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
        # integer arithmetic on epoch microseconds: exact, and much cheaper than a time-zone-aware cast
        # (epoch_ms rounds to the nearest millisecond: 23:59:59.9996 would land on the next day)
        return f"CAST((epoch_us({column}) + {_YEAR_ONE_US}) // 86400000000 - {_YEAR_ONE_DAYS} AS INTEGER)"

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


# ------------------------------------------------------------------------------------------------ Spark
class EngineUnavailable(EngageError, RuntimeError):
    """The engine asked for cannot run here (a package or Java missing); the message says what to install."""


#: Java release each Spark major version needs at least.
_JAVA_FOR_SPARK = {3: 8, 4: 17}


def java_version(java: str | Path) -> int | None:
    """Major release of the ``java`` executable (8, 11, 17, ...), None when it does not run."""
    try:
        proc = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    hit = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not hit:
        return None
    major, minor = int(hit.group(1)), int(hit.group(2) or 0)
    return minor if major == 1 else major  # "1.8.0_402" is Java 8


def find_java() -> Path:
    """The ``java`` that PySpark will start: ``$JAVA_HOME/bin/java`` if ``JAVA_HOME`` is set, else the one on
    ``PATH`` (PySpark's launcher does the same, so ``JAVA_HOME`` is needed only when ``java`` is not on
    ``PATH``).

    Raises
    ------
    EngineUnavailable
        No Java, or one too old for the installed PySpark; the message says what to install or set.
    """
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else (Path(w) if (w := shutil.which("java")) else None)
    hint = ("install a JDK 17 or later (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; conda: the "
            "openjdk package of environment.yml; macOS: brew install openjdk@17) and put its bin/ on PATH or "
            "set JAVA_HOME to it")
    if java is None:
        raise EngineUnavailable(f"Spark needs Java and none was found (JAVA_HOME unset, no java on PATH): {hint}")
    found = java_version(java)
    if found is None:
        raise EngineUnavailable(f"Spark needs Java, and {java} does not run (JAVA_HOME={home!r}): {hint}")
    import pyspark

    need = _JAVA_FOR_SPARK.get(int(pyspark.__version__.split(".")[0]), 17)
    if found < need:
        raise EngineUnavailable(f"PySpark {pyspark.__version__} needs Java {need} or later; {java} is Java "
                                f"{found}: {hint}")
    return java


def spark_unavailable() -> str | None:
    """Why the Spark engine cannot run here (no PySpark or sqlglot, no usable Java), or None when it can."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        return f"the Spark engine needs the spark extra (pip install 'engage-models[spark]'): {exc}"
    try:
        find_java()
    except EngineUnavailable as exc:
        return str(exc)
    return None


def _as_double(node):
    """DuckDB computes with decimal literals (``28.0``) in double precision, Spark in DECIMAL: make it DOUBLE."""
    from sqlglot import exp

    if isinstance(node, exp.Literal) and not node.is_string and any(c in node.this for c in ".eE"):
        return exp.cast(node.copy(), exp.DataType.build("DOUBLE"))
    return node


@functools.lru_cache(maxsize=512)
def to_spark_sql(sql: str) -> str:
    """One statement in DuckDB's dialect as Spark SQL: ``$name`` parameters become ``:name`` (still bound,
    not formatted), functions and types are renamed by sqlglot, decimal literals become DOUBLE.

    Raises ``sqlglot.errors.UnsupportedError`` rather than writing SQL that would mean something else.

    Examples
    --------
    >>> to_spark_sql("SELECT count_if(x > $lo) AS n, median(y) / 2.0 AS h FROM t")
    'SELECT COUNT_IF(x > :lo) AS n, MEDIAN(y) / CAST(2.0 AS DOUBLE) AS h FROM t'
    """
    import sqlglot
    from sqlglot.errors import ErrorLevel

    tree = sqlglot.parse_one(sql, read="duckdb").transform(_as_double)
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)


def _local_cores(master: str) -> int:
    """Cores of a local master URL: ``local`` 1, ``local[4]`` 4, ``local[*]`` this machine's."""
    hit = re.match(r"local(?:-cluster)?\[(\d+|\*)", master)
    if hit is None:
        return 1
    return (os.cpu_count() or 1) if hit.group(1) == "*" else int(hit.group(1))


def _spark_value(value):
    """A parameter value as PySpark binds it (timestamps as aware UTC datetimes, numpy scalars unwrapped)."""
    if isinstance(value, pd.Timestamp):
        value = to_utc(value)
        return value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        return value.item()
    return value


class SparkEngine(Engine):
    """Spark SQL on a SparkSession: local mode on one machine, or a cluster (standalone, YARN, Kubernetes,
    Databricks).

    Statements arrive in DuckDB's dialect and are transpiled by :func:`to_spark_sql`; parameters are bound by
    ``spark.sql(sql, args=...)`` (Spark 3.4+). Tables are read with ``spark.read.parquet``, so a path may be
    local or on any file system the cluster's Hadoop configuration reaches (``s3a://``, ``abfss://``,
    ``gs://``, ``hdfs://``). Intermediate tables are persisted (memory, then disk) on the executors; only
    ``frame`` results come back to the driver.

    The engine works in its own session (``newSession()`` of the given or created one): its temporary views
    and settings (UTC session time zone, ANSI SQL) do not touch the caller's session, and several engines
    can share one SparkContext.

    Parameters
    ----------
    session : SparkSession, optional
        An existing session (a notebook's, a Databricks job's ``spark``). Default: get or create one from the
        settings below.
    master : str, optional
        Where a new session runs: ``"local[2]"``, ``"spark://host:7077"``, ``"yarn"``, ``"k8s://https://..."``.
        Default: the master ``spark-submit`` was given when the driver runs under it, else ``"local[*]"``
        (every core of this machine). Ignored when a session exists already.
    driver_memory, executor_memory : str, optional
        ``spark.driver.memory`` / ``spark.executor.memory`` of a new session (``"4g"``). In local mode the
        driver does all the work: give it the memory (it must be set before the JVM starts).
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``. Default for a new local session: 4 per core (Spark's 200 tasks
        per shuffle cost more in scheduling than the work on one machine: 5 min instead of 1 for the panel
        of 2M events on 2 cores); elsewhere Spark's (200, coalesced by adaptive execution).
    app_name : str
        The application name shown by the cluster.
    conf : dict, optional
        Further Spark settings for a new session (``{"spark.hadoop.fs.s3a.endpoint": ...}``).

    Examples
    --------
    >>> from engage_models.features.panel import build_panel  # doctest: +SKIP
    >>> build_panel("s3a://lake/engage/processed", engine="spark", spark_master="yarn",
    ...             out="s3a://lake/engage/panel")  # doctest: +SKIP
    """

    name = "spark"
    partition_events = None  # Spark spreads each rollup over its executors: one pass, one range

    def __init__(self, session=None, master: str | None = None, driver_memory: str | None = None,
                 executor_memory: str | None = None, shuffle_partitions: int | None = None,
                 app_name: str = "engage-models", conf: dict | None = None):
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        self._owns = False
        if session is None:
            active = SparkSession.getActiveSession()
            if active is not None:
                session = active
                log.info("spark: using the active session (master %s)", active.sparkContext.master)
            else:
                find_java()
                settings = {"spark.sql.session.timeZone": "UTC",
                            "spark.sql.execution.arrow.pyspark.enabled": "true",
                            "spark.ui.showConsoleProgress": "false",  # progress bars garble logs
                            **({"spark.driver.memory": driver_memory} if driver_memory else {}),
                            **({"spark.executor.memory": executor_memory} if executor_memory else {}),
                            **({"spark.sql.shuffle.partitions": str(int(shuffle_partitions))}
                               if shuffle_partitions else {}),
                            **(conf or {})}
                # under spark-submit the JVM is up (PYSPARK_GATEWAY_PORT) and holds --master: keep it
                if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
                    master = "local[*]"
                if shuffle_partitions is None and master and master.startswith("local"):
                    shuffle_partitions = 4 * _local_cores(master)
                builder = SparkSession.builder.appName(app_name)
                if master:
                    builder = builder.master(master)
                for key, value in settings.items():
                    builder = builder.config(key, value)
                existed = SparkContext._active_spark_context is not None
                session = builder.getOrCreate()
                self._owns = not existed  # stop on close only what we started
                log.info("spark: started %s (Spark %s)", session.sparkContext.master, session.version)
        self.root = session
        self.spark = session.newSession()
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")  # frames and bound timestamps are UTC
        self.spark.conf.set("spark.sql.ansi.enabled", "true")  # errors, not silent NULLs (Spark 4's default)
        self.spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        if shuffle_partitions:
            self.spark.conf.set("spark.sql.shuffle.partitions", str(int(shuffle_partitions)))
        self._cached: dict = {}

    # ------------------------------------------------------------------------------------------ helpers
    def _sql(self, sql: str, params: dict | None = None):
        args = {k: _spark_value(v) for k, v in _used(sql, params).items()}
        return self.spark.sql(to_spark_sql(sql), args=args or None)

    def _keep(self, name: str, df) -> None:
        """Persist ``df``, compute it now, and publish it as the temporary view ``name``."""
        from pyspark import StorageLevel

        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        df.count()
        df.createOrReplaceTempView(name)
        old = self._cached.pop(name, None)
        if old is not None:
            old.unpersist()
        self._cached[name] = df

    # -------------------------------------------------------------------------------------- interface
    def exists(self, path: str | Path) -> bool:
        jvm = self.spark.sparkContext._jvm
        hpath = jvm.org.apache.hadoop.fs.Path(str(path))
        return bool(hpath.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).exists(hpath))

    def table(self, name: str, path: str | Path) -> None:
        # read lazily: each query scans the Parquet files with column pruning and filter push-down
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def put(self, name: str, df: pd.DataFrame) -> None:
        self._keep(name, self.spark.createDataFrame(df))

    def create(self, name: str, sql: str, params: dict | None = None) -> None:
        self._keep(name, self._sql(sql, params))

    def frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """The result as pandas, with the dtypes DuckDB gives: instants as ``datetime64[us, UTC]``, integer
        columns holding NULLs as nullable integers (Arrow would make them float)."""
        from pyspark.sql import types as T

        sdf = self._sql(sql, params)
        df = sdf.toPandas()
        ints = {T.ByteType: "Int8", T.ShortType: "Int16", T.IntegerType: "Int32", T.LongType: "Int64"}
        for i, f in enumerate(sdf.schema.fields):
            col = df.iloc[:, i]
            if isinstance(f.dataType, T.TimestampType):
                # Spark hands instants back as naive wall-clock times of the session zone, which is UTC
                df.isetitem(i, pd.to_datetime(col).dt.tz_localize("UTC").astype("datetime64[us, UTC]"))
            elif type(f.dataType) in ints and col.dtype.kind == "f":
                df.isetitem(i, col.astype(ints[type(f.dataType)]))
        return df

    def columns(self, name: str) -> list[str]:
        return list(self.spark.table(quote_spark(name)).columns)

    def append(self, name: str, sql: str, params: dict | None = None) -> None:
        new = self._sql(sql, params)
        old = self._cached.get(name)
        self._keep(name, new if old is None else old.unionByName(new))

    def day(self, column: str) -> str:
        # written in the engines' input dialect (DuckDB's), transpiled with the rest of the statement; Spark
        # keeps timestamps as microseconds since the epoch (UTC), so this is exact and ignores time zones
        return f"CAST((unix_micros({column}) + {_YEAR_ONE_US}) // 86400000000 - {_YEAR_ONE_DAYS} AS INTEGER)"

    def write_parquet(self, sql: str, path: str | Path, params: dict | None = None) -> None:
        """Write the result as a Parquet dataset: a folder of part files at ``path`` (replaced if present)."""
        self._sql(sql, params).write.mode("overwrite").option("compression", "zstd").parquet(str(path))

    def close(self) -> None:
        for name, df in self._cached.items():
            self.spark.catalog.dropTempView(name)
            df.unpersist()
        self._cached.clear()
        if self._owns:
            self.root.stop()
            self._owns = False


def quote_spark(name: str) -> str:
    """A Spark SQL identifier, quoted with backticks."""
    return "`" + name.replace("`", "``") + "`"


def make_engine(engine: str | Engine = "duckdb", **settings) -> Engine:
    """An engine by name, or the given engine unchanged.

    ``"duckdb"`` takes :class:`DuckDBEngine`'s settings (``memory_limit``, ``threads``, ``temp_dir``);
    ``"spark"`` takes :class:`SparkEngine`'s, with or without a ``spark_`` prefix (``spark_master="yarn"``,
    ``spark_driver_memory="8g"``, ``spark_session=spark``). Settings left as None are not passed.
    """
    settings = {k: v for k, v in settings.items() if v is not None}
    if isinstance(engine, Engine):
        if settings:
            raise ValueError(f"engine settings {sorted(settings)} given with an engine object: set them on it")
        return engine
    if engine == "duckdb":
        stray = sorted(k for k in settings if k.startswith("spark_"))
        if stray:
            raise ValueError(f"{', '.join(stray)} are Spark settings, given with engine='duckdb'")
        return DuckDBEngine(**settings)
    if engine == "spark":
        reason = spark_unavailable()
        if reason:
            raise EngineUnavailable(reason)
        return SparkEngine(**{k.removeprefix("spark_"): v for k, v in settings.items()})
    raise ValueError(f"unknown engine {engine!r} (available: 'duckdb', 'spark')")
