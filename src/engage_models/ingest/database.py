"""Tables from a SQL database: a URL plus a table or a query, read as Arrow record batches.

A sources file entry names the database instead of a file::

    env_file: warehouse.env            # optional: KEY=VALUE lines (relative to the sources file)
    tables:
      accounts:
        url: postgresql://analytics:${CRM_PASSWORD}@db.example.com:5432/crm?sslmode=require
        table: crm.accounts
        updated_column: updated_at     # optional: lets a scheduled run skip an unchanged table
      events:
        url: ${WAREHOUSE_URL}
        query: SELECT account_id, user_id, occurred_at AS timestamp, name AS event_type FROM app.events

Drivers
    ``postgresql://`` (and ``postgres://``) URLs are read with ADBC's PostgreSQL driver
    (``adbc-driver-postgresql``): it streams the result with PostgreSQL's binary COPY protocol straight into
    Arrow record batches, columns typed by the database (``timestamptz``, ``float8`` with its ``NaN`` and
    ``Infinity``, ``numeric`` as text). ``driver: adbc_driver_snowflake`` (any installed ADBC driver module
    whose ``dbapi.connect`` takes the URL) selects another ADBC driver. Every other URL
    (``sqlite:///crm.db``, ``mysql+pymysql://...``, ``mssql+pyodbc://...``, ``snowflake://...`` with its
    SQLAlchemy dialect installed) goes through SQLAlchemy, which streams rows (``stream_results``) in batches;
    its drivers hand back Python objects one row at a time, so each batch becomes Arrow columns of text that
    the contract types exactly as it types a CSV file (SQLite in particular declares no types a reader could
    trust: ADBC's SQLite driver stops at the first cell whose type differs from the column's first rows).

Streaming
    The batches are written one by one into a Parquet file in ingest's scratch folder, which DuckDB then
    validates like any Parquet source: memory holds one batch, never the table. Rows are numbered in the
    order the database returns them (``source_row`` of the quarantine); a table read without ``ORDER BY``
    comes in the database's own order, so give a ``query`` with ``ORDER BY`` when the row numbers, or which
    of two rows with the same key is kept, must be the same on every run. Ingest never commits: the
    connection is closed with its transaction rolled back.

Credentials
    A password never stands in the sources file: the URL refers to environment variables as ``${NAME}``,
    which are taken from the environment, else from the ``env_file`` the sources file names (parsed with
    python-dotenv; the environment wins). A literal password in a URL is refused. The URL with its secrets
    reaches the driver only: reports, ``run.json``, logs and error messages show :func:`label`, the URL
    without password and query string, and every error text from a driver is scrubbed of the secrets
    before it is shown.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from .._core.errors import ConfigError, DataError
from .._core.i18n import count

log = logging.getLogger(__name__)

#: Keys a database table's entry may have (besides none of the file keys).
DATABASE_KEYS = ("url", "table", "query", "updated_column", "driver")
#: URL schemes read with an ADBC driver by default (module name); every other scheme goes through SQLAlchemy.
ADBC_SCHEMES = {"postgresql": "adbc_driver_postgresql", "postgres": "adbc_driver_postgresql"}
#: Rows per batch on the SQLAlchemy path (the ADBC PostgreSQL driver sizes its own batches, ~16 MB each).
BATCH_ROWS = 65_536
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}")
#: Query-string keys that carry a secret: their value must be a ${NAME} reference too.
_SECRET_KEYS = {"password", "pwd", "passwd", "token", "secret", "private_key", "private_key_passphrase",
                "access_token", "api_key", "apikey", "key"}


class DatabaseError(DataError):
    """A database table cannot be read (connection refused, login failed, no such table, bad query)."""


@dataclass(frozen=True)
class DatabaseSource:
    """A table read from a database.

    ``url``: the URL as written in the sources file, ``${NAME}`` references unresolved (so this object, its
    ``repr`` and anything built from it hold no secret); ``table`` (``schema.table``) or ``query``;
    ``updated_column``: a column whose maximum changes whenever rows change (see :func:`fingerprint`);
    ``driver``: ``sqlalchemy`` or an ADBC driver module (default from the URL's scheme); ``env_file``: the
    ``.env``-style file of the sources file; ``base``: the sources file's folder (a relative SQLite path is
    taken from there).
    """

    url: str
    table: str | None = None
    query: str | None = None
    updated_column: str | None = None
    driver: str | None = None
    env_file: str | None = None
    base: str | None = None

    @property
    def sql(self) -> str:
        """The statement that reads the table."""
        return self.query if self.query is not None else f"SELECT * FROM {self.table}"


# ------------------------------------------------------------------------------------------- the entry
def database_source(table: str, entry: Mapping, where: str, env_file: str | None = None,
                    base: Path | None = None) -> DatabaseSource:
    """A :class:`DatabaseSource` from a sources-file entry with a ``url``; ConfigError naming the file and table.

    Refused: neither or both of ``table`` and ``query``; a ``table`` or ``updated_column`` that is not a plain
    (optionally schema-qualified) name; a password, token or key written in the URL instead of a ``${NAME}``.
    """
    here = f"{where}, table {table!r}"
    url = entry.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{here}: url must be a database URL (e.g. postgresql://user@host:5432/db)")
    url = url.strip()
    name, query = entry.get("table"), entry.get("query")
    if (name is None) == (query is None):
        raise ConfigError(f"{here}: a database table needs either 'table' (a table name) or 'query' (a SELECT), "
                          "not both")
    if name is not None and not _NAME.fullmatch(str(name)):
        raise ConfigError(f"{here}: table {name!r} is not a plain name like crm.accounts (use 'query' for "
                          "anything else)")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise ConfigError(f"{here}: query must be a SELECT statement")
    column = entry.get("updated_column")
    if column is not None and not _NAME.fullmatch(str(column)):
        raise ConfigError(f"{here}: updated_column {column!r} is not a plain column name")
    driver = entry.get("driver")
    if driver is not None and not (driver == "sqlalchemy" or re.fullmatch(r"adbc_driver_[a-z0-9_]+", str(driver))):
        raise ConfigError(f"{here}: driver must be 'sqlalchemy' or an ADBC driver module such as "
                          f"adbc_driver_postgresql, not {driver!r}")
    _refuse_literal_secrets(url, here)
    return DatabaseSource(url=url, table=None if name is None else str(name),
                          query=None if query is None else query.strip().rstrip(";"),
                          updated_column=None if column is None else str(column), driver=driver,
                          env_file=env_file, base=None if base is None else str(base))


def _refuse_literal_secrets(url: str, here: str) -> None:
    """A password (or token) written in the URL itself is refused; ``${NAME}`` references are the way."""
    if _VAR.fullmatch(url):
        return  # the whole URL comes from the environment
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # an unparseable URL is the driver's to refuse; it names no password we could see
        return
    if password and not _VAR.fullmatch(unquote(password)):
        raise ConfigError(f"{here}: the URL holds a password; write ${{NAME}} in its place and put the password "
                          "in the environment or in the env_file (never in the sources file)")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _SECRET_KEYS and value and not _VAR.fullmatch(value):
            raise ConfigError(f"{here}: the URL's {key!r} parameter holds a secret; write ${{NAME}} in its place "
                              "and put the value in the environment or the env_file")


# ------------------------------------------------------------------------------------------ the URL
def _environment(db: DatabaseSource, environ: Mapping[str, str] | None) -> Mapping[str, str]:
    env = dict(os.environ if environ is None else environ)
    if db.env_file:
        from dotenv import dotenv_values

        path = Path(db.env_file)
        if not path.is_file():
            raise ConfigError(f"env_file {path} does not exist (named by the sources file)")
        for key, value in dotenv_values(path).items():
            if value is not None:
                env.setdefault(key, value)  # the environment wins over the file
    return env


def resolve(db: DatabaseSource, environ: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """The URL with its ``${NAME}`` references filled in, and the secrets that went in (to scrub from errors).

    Raises ConfigError naming a variable that is set nowhere (never its value).
    """
    env = _environment(db, environ)
    used: list[str] = []
    userinfo, query = _spans(db.url)

    def fill(m: re.Match) -> str:
        name = m.group(1)
        if name not in env:
            where = f" in {Path(db.env_file).name}" if db.env_file else " in an env_file"
            raise ConfigError(f"the database URL needs ${{{name}}}, which is set neither in the environment nor"
                              f"{where}")
        raw = value = env[name]
        # a user, a password or a query value is percent-encoded: a password holding @ / : # ? % or a space is
        # read whole (raw, 'Zq9/abc' became the port and parts of it were printed); a variable that is the whole
        # user information (user:password) has each part encoded; one that is a whole query string is kept
        if userinfo and m.span() == userinfo:
            value = ":".join(quote(part, safe="") for part in raw.split(":", 1))
        elif (userinfo and userinfo[0] <= m.start() < userinfo[1]) or (
                query and query[0] <= m.start() < query[1] and db.url[m.start() - 1] == "="):
            value = quote(raw, safe="")
        if value != raw and re.search(r"%[0-9A-Fa-f]{2}", raw):
            log.warning("${%s} holds a percent sign followed by two hex digits: it is sent as written (the URL "
                        "encodes it); give the value as it is, not percent-encoded", name)
        used.extend((raw, value))
        return value

    url = _VAR.sub(fill, db.url)
    # longest first, so a secret that contains another is removed whole
    return _sqlite_path(url, db.base), sorted({v for v in used if v}, key=len, reverse=True)


def _spans(template: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """The user information (between ``://`` and the host's ``@``) and the query string of a URL template, as
    spans of the template (its ``${NAME}`` hold none of the URL's separators); None where there is none.

    >>> t = "postgresql://${USER}:${PW}@db:5432/crm?sslkey=${KEY}"
    >>> [t[a:b] for a, b in _spans(t)]
    ['${USER}:${PW}', 'sslkey=${KEY}']
    """
    userinfo = query = None
    start = template.find("://")
    if start >= 0:
        start += 3
        end = len(template)
        for sep in "/?#":
            i = template.find(sep, start)
            if i >= 0:
                end = min(end, i)
        at = template.rfind("@", start, end)
        if at >= 0:
            userinfo = (start, at)
    q = template.find("?")
    if q >= 0:
        h = template.find("#", q)
        query = (q + 1, h if h >= 0 else len(template))
    return userinfo, query


def _sqlite_path(url: str, base: str | None) -> str:
    """``sqlite:///crm.db`` (or ``duckdb:///warehouse.duckdb``) relative to the sources file's folder (never to
    the working directory)."""
    m = re.match(r"^((?:sqlite(?:\+\w+)?|duckdb):///)([^/?][^?]*)(\?.*)?$", url)
    if base is None or not m or m.group(2) == ":memory:":
        return url
    return f"{m.group(1)}{Path(base) / m.group(2)}{m.group(3) or ''}"


def _sqlite_file_exists(url: str, table: str, name: str) -> None:
    """A SQLite (or DuckDB) file that is not there is an error naming it: SQLite would create an empty one
    (ingest never writes to a database) and then say 'no such table', which sends a user looking in the wrong
    place."""
    m = re.match(r"^(?:sqlite(?:\+\w+)?|duckdb):///([^?]*)(\?.*)?$", url)
    if not m or m.group(1) in ("", ":memory:") or "mode=memory" in (m.group(2) or ""):
        return
    if m.group(1).startswith("file:") or "uri=true" in (m.group(2) or "").lower():  # SQLite's URI form: its own
        return
    file = Path(unquote(m.group(1)))
    if not file.is_file():
        kind = "DuckDB" if url.startswith("duckdb:") else "SQLite"
        raise DatabaseError(f"{table}: cannot read {name}: no {kind} file {file.name} in {file.parent.name or '.'}/ "
                            "(a relative path in the URL is taken from the sources file's folder)")


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def label(db: DatabaseSource, environ: Mapping[str, str] | None = None) -> str:
    """How reports name the source: the URL without password or query string, and the table (or ``query``).

    >>> label(DatabaseSource("postgresql://ana:${PW}@db.example.com:5432/crm?sslmode=require", table="crm.accounts"),
    ...       environ={"PW": "s3cret"})
    'postgresql://ana@db.example.com:5432/crm [crm.accounts]'
    >>> label(DatabaseSource("sqlite:////srv/data/crm.db", query="SELECT * FROM t"))
    'sqlite:///crm.db [query]'
    """
    try:
        url, _ = resolve(db, environ)
    except ConfigError:
        url = db.url
    what = db.table or "query"
    try:
        p = urlsplit(url)
        scheme = p.scheme
        if scheme.split("+")[0] in ("sqlite", "duckdb"):  # a file: its name only (no machine path in records)
            return f"{scheme}:///{Path(p.path).name or ':memory:'} [{what}]"
        host = p.hostname or ""
        user = f"{unquote(p.username)}@" if p.username else ""
        port = f":{p.port}" if p.port else ""
        return f"{scheme}://{user}{host}{port}{p.path} [{what}]"
    except ValueError:
        return f"{url.split(':', 1)[0]}://... [{what}]"


def _driver(db: DatabaseSource, url: str) -> str:
    if db.driver:
        return db.driver
    scheme = url.split(":", 1)[0].lower()
    if scheme == "duckdb":  # a DuckDB file: read with DuckDB itself, a dependency already
        return "duckdb"
    return ADBC_SCHEMES.get(scheme, "sqlalchemy")


def _duckdb_connect(url: str):
    """A read-only connection to the DuckDB file of a ``duckdb:///path`` URL."""
    import duckdb

    path = unquote(urlsplit(url).path)
    return duckdb.connect(path[1:], read_only=True)  # three slashes and a relative path, four and an absolute one


def _duckdb_batches(url: str, sql: str) -> Iterator[pa.RecordBatch | pa.Schema]:
    con = _duckdb_connect(url)
    try:
        reader = con.sql(sql).to_arrow_reader()
        yield reader.schema
        yield from reader
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ reading
def _adbc_batches(module: str, url: str, sql: str) -> Iterator[pa.RecordBatch | pa.Schema]:
    dbapi = importlib.import_module(f"{module}.dbapi")
    with dbapi.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        reader = cur.fetch_record_batch()
        yield reader.schema
        yield from reader


def _text(value) -> str | None:
    """A Python value from a DB-API driver as the text a CSV file would hold."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # inf, nan, 1e+300 as DuckDB reads them
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _sqlalchemy_batches(url: str, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch | pa.Schema]:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(sa.text(sql))
            names = list(result.keys())
            schema = pa.schema([pa.field(n, pa.string()) for n in names])
            yield schema
            for rows in result.partitions(batch_rows):
                columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
                yield pa.RecordBatch.from_arrays([pa.array([_text(v) for v in c], pa.string()) for c in columns],
                                                 schema=schema)
    finally:
        engine.dispose()


def _plain_type(t: pa.DataType) -> pa.DataType:
    """Extension types (PostgreSQL's numeric, json) as their storage type; Parquet and DuckDB read those."""
    return t.storage_type if isinstance(t, pa.ExtensionType) else t


def _plain(batch: pa.RecordBatch) -> list[pa.Array]:
    return [c.storage if isinstance(c.type, pa.ExtensionType) else c for c in batch.columns]


@dataclass
class Landed:
    """A database table written to a Parquet file: its columns, the column holding the row numbers, rows."""

    path: Path
    names: list[str]
    row_column: str
    rows: int
    text: bool  # every column arrived as text (the SQLAlchemy path): typed like a CSV file
    seconds: float


def land(db: DatabaseSource, path: str | Path, *, table: str = "", environ: Mapping[str, str] | None = None,
         batch_rows: int = BATCH_ROWS) -> Landed:
    """Read ``db`` batch by batch into the Parquet file ``path``, with a column of 1-based row numbers.

    Raises :class:`DatabaseError` (connection, login, SQL; the message scrubbed of secrets and naming
    :func:`label`) or ConfigError (a variable set nowhere, an ADBC driver that is not installed).
    """
    path = Path(path)
    url, secrets = resolve(db, environ)
    driver = _driver(db, url)
    name = label(db, environ)
    _sqlite_file_exists(url, table, name)
    t0 = time.perf_counter()
    writer = None
    rows = 0
    try:
        if driver == "sqlalchemy":
            batches = _sqlalchemy_batches(url, db.sql, batch_rows)
        elif driver == "duckdb":
            batches = _duckdb_batches(url, db.sql)
        else:
            try:
                importlib.import_module(driver)
            except ImportError:
                raise ConfigError(f"{table}: the ADBC driver {driver} is not installed (pip install "
                                  f"{driver.replace('_', '-')})") from None
            batches = _adbc_batches(driver, url, db.sql)
        schema = next(batches)
        names = list(schema.names)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DatabaseError(f"{table}: {name} returns {count(len(dupes), '=column', '=columns')} {dupes} more "
                                "than once; give each a name of its own (AS ...)")
        row_column = "__row_number"
        while row_column in names:
            row_column = "_" + row_column
        out_schema = pa.schema([pa.field(f.name, _plain_type(f.type)) for f in schema]
                               + [pa.field(row_column, pa.int64())])
        writer = pq.ParquetWriter(path, out_schema, compression="zstd")
        for batch in batches:
            if batch.num_rows == 0:
                continue
            numbers = pa.array(range(rows + 1, rows + batch.num_rows + 1), pa.int64())
            writer.write_batch(pa.RecordBatch.from_arrays([*_plain(batch), numbers], schema=out_schema))
            rows += batch.num_rows
        writer.close()
        writer = None
    except (ConfigError, DatabaseError):
        raise
    except ImportError as exc:  # SQLAlchemy knows the dialect, but its Python driver is not installed
        raise ConfigError(f"{table}: reading {name} needs a database driver that is not installed "
                          f"({scrub(str(exc), secrets)}): install the driver of that database for SQLAlchemy, "
                          "or use one of its ADBC drivers (driver: adbc_driver_...)") from None
    except Exception as exc:  # driver errors of every kind: name the source, never the secret
        text = scrub(f"{type(exc).__name__}: {exc}", secrets).strip()
        raise DatabaseError(f"{table}: cannot read {name}: {text}") from None
    finally:
        if writer is not None:
            writer.close()
    seconds = time.perf_counter() - t0
    log.info("%s: read %d rows from %s in %.1f s", table, rows, name, seconds)
    return Landed(path, names, row_column, rows, driver == "sqlalchemy", seconds)


def fingerprint(db: DatabaseSource, *, table: str = "", environ: Mapping[str, str] | None = None) -> dict:
    """What the table is now, cheaply, for the pipeline's ingest key.

    With ``updated_column``: the row count and the column's maximum (one aggregate query; an insert, a delete
    or an update that touches the column changes it). Without one there is no cheap way to know that rows
    changed, so the fingerprint holds the time it was taken: the table is read again on every run, because a
    run on stale data that looks current is worse than a re-read.
    """
    out = {"source": label(db, environ), "sql": db.sql}
    if db.updated_column is None:
        out["read_at_ns"] = time.time_ns()
        return out
    url, secrets = resolve(db, environ)
    driver = _driver(db, url)
    _sqlite_file_exists(url, table, out["source"])
    columns = f"SELECT * FROM ({db.sql}) AS engage_columns WHERE 1 = 0"

    def aggregate(names: list[str], quote) -> str:
        return (f"SELECT count(*), max({quote(updated_column(db, names, table, label(db, environ)))}) "
                f"FROM ({db.sql}) AS engage_fingerprint")

    try:
        if driver == "sqlalchemy":
            import sqlalchemy as sa
            from sqlalchemy.pool import NullPool

            engine = sa.create_engine(url, poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    described = conn.execute(sa.text(columns))
                    names = list(described.keys())
                    described.close()
                    # quoted where the database needs it (PostgreSQL's "LoadedAt"), as the dialect names it: a
                    # dialect that folds names (Snowflake, Oracle) returns them in lower case, unquoted they match
                    quoting = engine.dialect.identifier_preparer.quote
                    n, latest = conn.execute(sa.text(aggregate(names, quoting))).one()
            finally:
                engine.dispose()
        elif driver == "duckdb":
            with _duckdb_connect(url) as conn:
                cur = conn.execute(columns)
                names = [d[0] for d in cur.description]
                cur.fetchall()
                n, latest = conn.execute(aggregate(names, _quoted)).fetchone()
        else:
            dbapi = importlib.import_module(f"{driver}.dbapi")
            with dbapi.connect(url) as conn, conn.cursor() as cur:
                cur.execute(columns)
                names = [d[0] for d in cur.description]
                cur.fetchall()
                cur.execute(aggregate(names, _quoted))
                n, latest = cur.fetchone()
    except ConfigError:
        raise
    except Exception as exc:
        text = scrub(f"{type(exc).__name__}: {exc}", secrets).strip()
        raise DatabaseError(f"{table}: cannot read {label(db, environ)}: {text}") from None
    out.update({"rows": int(n), "latest": _text(latest)})
    return out


def _quoted(name: str) -> str:
    """A column name in standard SQL's double quotes (PostgreSQL, SQLite, DuckDB, Snowflake: the ADBC drivers)."""
    return '"' + name.replace('"', '""') + '"'


def updated_column(db: DatabaseSource, names: list[str], table: str, where: str) -> str:
    """``db.updated_column`` as the table returns it among ``names``: its own spelling first, else the one name
    equal to it but for case (the sources file's ``loaded_at`` for PostgreSQL's ``"LoadedAt"``, a column created
    quoted, which an unquoted name could never reach, and Snowflake's ``LOADED_AT``). Quoted in that spelling, the
    maximum reads exactly that column. ConfigError naming the table's columns when none is."""
    column = db.updated_column
    if column in names:  # the name as the driver gave it (SQLAlchemy's quoted_name keeps whether it must be quoted)
        return names[names.index(column)]
    same = [n for n in names if n.lower() == column.lower()]
    if len(same) == 1:
        return same[0]
    raise ConfigError(f"{table}: its updated_column {column!r} (sources) is "
                      + ("one of several columns differing only in case" if same else "not a column")
                      + f" of {where} (its columns: {', '.join(names)}); name the column that changes when a row "
                      f"does, selected by the query, as the table spells it")
