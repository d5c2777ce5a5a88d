"""A throwaway PostgreSQL server for the tests and the benchmark, and a simulated world loaded into a database.

:class:`TemporaryPostgres` runs the distribution's PostgreSQL (Debian's ``postgresql`` package: binaries in
``/usr/lib/postgresql/<version>/bin``): ``initdb`` makes a cluster under a new temporary folder, ``pg_ctl``
starts it on a free local port (TCP on 127.0.0.1 with a password, and a unix socket in the same folder), and
stopping it deletes the folder. ``initdb`` refuses to run as root, so as root (CI) the server runs as the
``postgres`` user the package creates, else as ``nobody`` (``runuser``). The cluster is tuned for throwaway
use (no fsync).

:func:`load_world` copies a simulated world's files into a database as they are: text files (CSV) become
tables of text columns, so every value (the unparseable dates the simulator plants included) reaches the
database unchanged, and Parquet files become tables of the Parquet file's types; rows go in in file order.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

#: Text tables of the simulated world and its Parquet tables.
CSV_TABLES = ("accounts", "users", "subscriptions", "tickets", "surveys")
PARQUET_TABLES = ("events", "touchpoints")


class PostgresUnavailable(RuntimeError):
    """The server cannot be started here; the message says why."""


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``, else the folder of ``initdb`` on PATH."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]
    if found:
        return max(found, key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0])
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TemporaryPostgres:
    """A PostgreSQL cluster in a temporary folder, on a free port of 127.0.0.1; use as a context manager.

    ``user`` / ``password`` log in over TCP (scram-sha-256); :meth:`url` with ``password=None`` leaves the
    password out (for a ``${NAME}`` reference in a sources file).
    """

    user = "engage"
    database = "postgres"

    def __init__(self):
        self.password = "pw-" + secrets.token_hex(12)
        self.bindir: Path | None = None
        self.root: Path | None = None
        self.port: int | None = None
        self._as: list[str] = []

    # ------------------------------------------------------------------------------------------ life
    def start(self) -> TemporaryPostgres:
        self.bindir = find_bindir()
        if self.bindir is None:
            raise PostgresUnavailable("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin or on "
                                      "PATH: apt-get install postgresql")
        self.root = Path(tempfile.mkdtemp(prefix="engage-pg-"))
        owner = None
        if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and runuser is missing: cannot start PostgreSQL as "
                                          "another user")
            for name in ("postgres", "nobody"):
                try:
                    owner = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if owner is None:
                raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")
            self._as = ["runuser", "-u", owner.pw_name, "--"]
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if owner is not None:
            for p in (self.root, pwfile):
                os.chown(p, owner.pw_uid, owner.pw_gid)
        try:
            self._run("initdb", "-D", str(self.root / "data"), "-U", self.user, f"--pwfile={pwfile}",
                      "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
            pwfile.unlink()
            for attempt in range(3):  # a port taken between free_port() and the start: try another
                self.port = free_port()
                options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                           "-c synchronous_commit=off -c full_page_writes=off -c max_connections=20")
                try:
                    self._run("pg_ctl", "-D", str(self.root / "data"), "-o", options, "-l",
                              str(self.root / "server.log"), "-w", "-t", "60", "start")
                    break
                except PostgresUnavailable:
                    if attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def _run(self, program: str, *args: str) -> None:
        cmd = [*self._as, str(self.bindir / program), *args]
        try:
            done = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{program} could not run: {exc}") from exc
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise PostgresUnavailable(f"{program} failed ({done.returncode}): {done.stderr.strip()[-1500:]} {tail}")

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
            except PostgresUnavailable:
                pass  # the folder goes anyway
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ use
    def url(self, password: str | None = "", database: str | None = None) -> str:
        """``postgresql://engage:<password>@127.0.0.1:<port>/<database>``; ``password=""``: the real one,
        ``None``: none, any other text: that text (``"${PGPASSWORD}"``)."""
        pw = self.password if password == "" else password
        auth = f"{self.user}:{pw}" if pw is not None else self.user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database or self.database}"

    def connect(self, database: str | None = None, autocommit: bool = False):
        import adbc_driver_postgresql.dbapi as pg

        return pg.connect(self.url(database=database), autocommit=autocommit)

    def create_database(self, name: str) -> str:
        """A new empty database (autocommit: CREATE DATABASE cannot run in a transaction)."""
        with self.connect(autocommit=True) as conn:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cur.execute(f'CREATE DATABASE "{name}"')
        return name


# ------------------------------------------------------------------------------------------ the world
def csv_as_text(path: Path) -> pa.Table:
    """A CSV file as Arrow text columns (empty fields are NULL, as a CSV reader takes them)."""
    with duckdb.connect() as con:
        sql = "SELECT * FROM read_csv($f, all_varchar = true, header = true)"
        return con.sql(sql, params={"f": str(path)}).to_arrow_table()


def load_world(raw: Path, conn, *, schema: str | None = None) -> dict[str, int]:
    """Copy the simulated world in ``raw`` into the database of ADBC connection ``conn`` (``adbc_ingest``:
    PostgreSQL's COPY, streamed from the Parquet files' row groups); return rows per table."""
    rows = {}
    with conn.cursor() as cur:
        for table in CSV_TABLES:
            data = csv_as_text(raw / f"{table}.csv")
            cur.adbc_ingest(table, data, mode="replace", db_schema_name=schema)
            rows[table] = data.num_rows
        for table in PARQUET_TABLES:
            f = pq.ParquetFile(raw / f"{table}.parquet")
            reader = pa.RecordBatchReader.from_batches(f.schema_arrow, f.iter_batches(batch_size=65_536))
            cur.adbc_ingest(table, reader, mode="replace", db_schema_name=schema)
            rows[table] = f.metadata.num_rows
    conn.commit()
    return rows


def sources_for(url: str, *, env_file: str | None = None, query_tables=("surveys",)) -> dict:
    """A sources file's content reading every table of :func:`load_world` from ``url`` (``query`` for
    ``query_tables``, ``table`` for the others)."""
    tables = {t: ({"url": url, "query": f"SELECT * FROM {t}"} if t in query_tables else {"url": url, "table": t})
              for t in CSV_TABLES + PARQUET_TABLES}
    return {**({"env_file": env_file} if env_file else {}), "tables": tables}
