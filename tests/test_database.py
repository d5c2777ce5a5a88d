"""Tables from a database: the sources file's entries, ingest equal to the same world's files (SQLite through
SQLAlchemy, a real PostgreSQL through ADBC), typed columns with known answers, credentials that never show,
and the pipeline's ingest key following the database."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from engage_models._core.errors import ConfigError
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.ingest import contracts as C
from engage_models.ingest import ingest
from engage_models.ingest.database import DatabaseError, DatabaseSource, label, land, resolve, scrub
from engage_models.ingest.sources import load_sources, resolve_sources
from engage_models.ingest.validate import IngestError
from pg_server import CSV_TABLES, PARQUET_TABLES, csv_as_text, load_world, sources_for

NOW = "2026-01-01"


def _write(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def _nullable(t: pa.Table) -> pa.Table:
    """``t`` with every field nullable (DuckDB marks a Parquet column NOT NULL when it can tell: not data)."""
    return t.cast(pa.schema([f.with_nullable(True) for f in t.schema]))


def _same_table(a: pa.Table, b: pa.Table, what: str) -> None:
    a, b = _nullable(a), _nullable(b)
    if not a.equals(b):  # Arrow's comparison is fast; pandas says where they differ
        pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), obj=what)
        assert a.schema == b.schema, (what, a.schema, b.schema)


def _same_ingest(files: Path, db: Path, tables=C.TABLE_ORDER) -> None:
    """Processed tables equal (types, values, order); quarantines equal but for ``source_file`` (a file's path or
    the database's label)."""
    for t in tables:
        if not (files / f"{t}.parquet").exists():  # an optional table the world has not (the play log)
            assert not (db / f"{t}.parquet").exists(), t
            continue
        _same_table(pq.read_table(files / f"{t}.parquet"), pq.read_table(db / f"{t}.parquet"), t)
        qa = pq.read_table(files / "quarantine" / f"{t}.parquet").drop_columns("source_file")
        qb = pq.read_table(db / "quarantine" / f"{t}.parquet").drop_columns("source_file")
        _same_table(qa, qb, f"quarantine of {t}")


# --------------------------------------------------------------------------------------------- the entries
def test_a_database_entry_is_a_url_with_a_table_or_a_query(tmp_path):
    path = _write(tmp_path / "sources.yaml", {"env_file": "secrets.env", "tables": {
        "accounts": {"url": "postgresql://ana:${PW}@db.example.com:5432/crm?sslmode=require", "table": "crm.accounts",
                     "updated_column": "updated_at"},
        "events": {"url": "${WAREHOUSE_URL}", "query": "SELECT * FROM app.events;"},
        "surveys": {"path": "surveys.csv", "encoding": "cp932"},
        "tickets": {"url": "sqlite:///crm.db", "table": "tickets", "date_format": "%d.%m.%Y %H:%M"}}})
    got = load_sources(path)
    assert got["tickets"].date_format == ("%d.%m.%Y %H:%M",) and got["tickets"].database.table == "tickets"
    acc = got["accounts"].database
    assert acc.table == "crm.accounts" and acc.query is None and acc.updated_column == "updated_at"
    assert acc.sql == "SELECT * FROM crm.accounts"
    assert acc.env_file == str(tmp_path / "secrets.env")  # relative to the sources file, not to the cwd
    assert got["events"].database.sql == "SELECT * FROM app.events"
    assert got["surveys"].database is None and got["surveys"].encoding == "cp932"
    assert "${PW}" in acc.url  # kept unresolved: the Source holds no secret


@pytest.mark.parametrize("entry, words", [
    ({"url": "postgresql://ana:hunter2@db/crm", "table": "t"}, "holds a password"),
    ({"url": "postgresql://ana@db/crm?password=hunter2", "table": "t"}, "'password' parameter holds a secret"),
    ({"url": "snowflake://ana@acct/db?token=hunter2", "table": "t"}, "'token' parameter holds a secret"),
    ({"url": "postgresql://ana@db/crm"}, "either 'table'"),
    ({"url": "postgresql://ana@db/crm", "table": "t", "query": "SELECT 1"}, "not both"),
    ({"url": "postgresql://ana@db/crm", "table": "t; DROP TABLE x"}, "not a plain name"),
    ({"url": "postgresql://ana@db/crm", "table": "t", "updated_column": "max(x)"}, "not a plain column name"),
    ({"url": "postgresql://ana@db/crm", "table": "t", "path": "t.csv"}, "keep one"),
    ({"url": "postgresql://ana@db/crm", "table": "t", "driver": "os.system"}, "driver must be"),
    ({"table": "t"}, "without a url"),
    ({"url": "postgresql://ana@db/crm", "tabel": "t"}, "unknown key"),
])
def test_bad_database_entries_are_refused_naming_the_file_and_table(tmp_path, entry, words):
    path = _write(tmp_path / "sources.yaml", {"tables": {"tickets": entry}})
    with pytest.raises(ConfigError, match="tickets") as err:
        load_sources(path)
    assert words in str(err.value)
    assert "hunter2" not in str(err.value)


def test_an_encoding_for_a_database_table_is_refused(tmp_path):
    path = _write(tmp_path / "s.yaml", {"tables": {"surveys": {"url": "sqlite:///x.db", "table": "surveys"}}})
    with pytest.raises(ConfigError, match="surveys.*database"):
        resolve_sources(tmp_path, path, {"surveys": "cp932"})


def test_variables_come_from_the_environment_first_then_the_env_file(tmp_path):
    env = tmp_path / "db.env"
    env.write_text("PW=from-file\nHOST=db.example.com\n# a comment\n", encoding="utf-8")
    db = DatabaseSource("postgresql://ana:${PW}@${HOST}:5432/crm", table="t", env_file=str(env))
    url, secrets = resolve(db, environ={})
    assert url == "postgresql://ana:from-file@db.example.com:5432/crm" and "from-file" in secrets
    url, _ = resolve(db, environ={"PW": "from-env"})
    assert url == "postgresql://ana:from-env@db.example.com:5432/crm"
    with pytest.raises(ConfigError, match=r"\$\{MISSING\}"):
        resolve(DatabaseSource("postgresql://ana:${MISSING}@db/crm", table="t"), environ={})
    assert label(db, environ={}) == "postgresql://ana@db.example.com:5432/crm [t]"


@pytest.mark.parametrize("password", ["Zq9/abcdef", "Tr0ub4dor@x", "p@ss:w/rd#1", "50% off?&x=y", "a b+c"])
def test_a_password_with_url_separators_is_encoded_read_whole_and_scrubbed_whole(password):
    """Generated passwords hold @ / : # ? %: filled in raw they split the URL (the first part became the port,
    the rest a host) and the scrubber, given a fragment ('p'), mangled every p of the message."""
    from urllib.parse import parse_qs

    db = DatabaseSource("postgresql://ana:${PW}@db.example.com:5432/crm?sslpassword=${PW}", table="t")
    url, secrets = resolve(db, environ={"PW": password})
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path, parts.username) == ("db.example.com", 5432, "/crm", "ana")
    assert unquote(parts.password) == password and parse_qs(parts.query)["sslpassword"] == [password]
    assert secrets[0] == max(secrets, key=len) and password in secrets and parts.password in secrets
    assert all(len(s) >= len(password) for s in secrets)  # no fragment of it
    message = f"connection to {url} failed: could not translate host name; password {password} rejected"
    assert password not in scrub(message, secrets) and parts.password not in scrub(message, secrets)
    assert "connection to postgresql://ana:***@db.example.com:5432/crm" in scrub(message, secrets)
    # one variable for user:password has each part encoded (the user is not the whole of it, nor is the password
    # shown in the label); one for a whole query string is kept as written; only a query's values are encoded
    creds = DatabaseSource("postgresql://${CREDS}@db.example.com:5432/crm?${OPTS}&sslpassword=${PW}", table="t")
    url, secrets = resolve(creds, environ={"CREDS": f"ana:{password}", "OPTS": "sslmode=require&connect_timeout=5",
                                           "PW": password})
    parts = urlsplit(url)
    assert (parts.username, unquote(parts.password), parts.hostname) == ("ana", password, "db.example.com")
    assert parse_qs(parts.query) == {"sslmode": ["require"], "connect_timeout": ["5"], "sslpassword": [password]}
    assert label(creds, environ={"CREDS": f"ana:{password}", "OPTS": "x=1", "PW": password}) == (
        "postgresql://ana@db.example.com:5432/crm [t]")
    # a value in the host or the path is filled in as it is
    url, _ = resolve(DatabaseSource("postgresql://ana@${HOST}/${DB}", table="t"),
                     environ={"HOST": "db.example.com", "DB": "crm_eu"})
    assert url == "postgresql://ana@db.example.com/crm_eu"


# ------------------------------------------------------------------------------- SQLite through SQLAlchemy
@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    simulate(SimConfig(n_accounts=40, months=4, seed=3), out=root / "raw")
    ingest(root / "raw", root / "files", now=NOW)
    return root


def _sqlite_world(raw: Path, db: Path) -> None:
    """The world's text tables in SQLite as they are (text columns, NULL for empty fields), in file order."""
    with sqlite3.connect(db) as con:
        for t in CSV_TABLES:
            data = csv_as_text(raw / f"{t}.csv")
            cols = ", ".join(f'"{n}" TEXT' for n in data.column_names)
            con.execute(f'CREATE TABLE "{t}" ({cols})')
            marks = ", ".join("?" for _ in data.column_names)
            con.executemany(f'INSERT INTO "{t}" VALUES ({marks})', zip(*data.to_pydict().values(), strict=True))


def test_ingest_from_sqlite_equals_ingest_from_the_files_bad_rows_included(tiny_world, tmp_path):
    _sqlite_world(tiny_world / "raw", tmp_path / "crm.db")
    (tmp_path / "conf").mkdir()
    tables = {t: {"url": "sqlite:///../crm.db", "table": t} for t in CSV_TABLES}
    tables["surveys"] = {"url": "sqlite:///../crm.db", "query": "SELECT * FROM surveys ORDER BY rowid"}
    path = _write(tmp_path / "conf" / "sources.yaml", {"tables": tables})  # the path is taken from this folder
    report = ingest(tiny_world / "raw", tmp_path / "db", sources=path, now=NOW)
    _same_ingest(tiny_world / "files", tmp_path / "db")
    files = ingest(tiny_world / "raw", tmp_path / "again", now=NOW)
    for t in CSV_TABLES:
        a, b = files.tables[t], report.tables[t]
        assert (b.rows_read, b.rows_kept, b.rows_quarantined, b.by_reason) == \
            (a.rows_read, a.rows_kept, a.rows_quarantined, a.by_reason)
        assert b.rows_read == b.rows_kept + b.rows_quarantined
    assert sum(report.tables["surveys"].by_reason.values()) >= 8  # the simulator's planted survey defects
    assert report.tables["tickets"].source == "sqlite:///crm.db [tickets]"
    assert report.tables["surveys"].source == "sqlite:///crm.db [query]"
    q = pd.read_parquet(tmp_path / "db" / "quarantine" / "surveys.parquet")
    assert set(q["source_file"]) == {"sqlite:///crm.db [query]"}
    from engage_models.ingest.quality import quarantine_sample

    assert set(quarantine_sample(tmp_path / "db", "surveys")["source_file"]) == {"sqlite:///crm.db [query]"}
    assert report.tables["events"].source.endswith("events.parquet")  # tables the sources file does not name


def test_ingest_from_a_duckdb_file_equals_ingest_from_the_files(tiny_world, tmp_path):
    """url: duckdb:///wh.duckdb stopped with SQLAlchemy's "Can't load plugin: sqlalchemy.dialects:duckdb",
    though DuckDB ships with the package: a DuckDB file is read with DuckDB, read-only, its path taken from the
    sources file's folder; a file that is not there is named; the pipeline's fingerprint reads it too."""
    import duckdb

    from engage_models.ingest.database import fingerprint

    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        for t in CSV_TABLES:
            con.execute(f'CREATE TABLE "{t}" AS SELECT * FROM read_csv($f, all_varchar = true, header = true)',
                        {"f": str(tiny_world / "raw" / f"{t}.csv")})
    (tmp_path / "conf").mkdir()
    tables = {t: {"url": "duckdb:///../wh.duckdb", "table": t} for t in CSV_TABLES}
    path = _write(tmp_path / "conf" / "sources.yaml", {"tables": tables})
    report = ingest(tiny_world / "raw", tmp_path / "db", sources=path, now=NOW)
    files = ingest(tiny_world / "raw", tmp_path / "again", now=NOW)
    for t in CSV_TABLES:
        a, b = files.tables[t], report.tables[t]
        assert (b.rows_read, b.rows_kept, b.rows_quarantined) == (a.rows_read, a.rows_kept, a.rows_quarantined), t
    assert report.tables["tickets"].source == "duckdb:///wh.duckdb [tickets]"
    db = DatabaseSource(f"duckdb:///{tmp_path / 'wh.duckdb'}", table="tickets", updated_column="opened_at")
    assert fingerprint(db, table="tickets")["rows"] == files.tables["tickets"].rows_read
    missing = _write(tmp_path / "conf" / "missing.yaml",
                     {"tables": {"tickets": {"url": "duckdb:///../nowhere.duckdb", "table": "tickets"}}})
    with pytest.raises(DatabaseError, match=r"tickets: cannot read duckdb:///nowhere.duckdb \[tickets\]: no DuckDB "
                                          r"file nowhere.duckdb"):
        ingest(tiny_world / "raw", tmp_path / "db2", sources=missing, now=NOW)


def test_a_missing_column_or_table_is_a_clear_error(tiny_world, tmp_path):
    _sqlite_world(tiny_world / "raw", tmp_path / "crm.db")
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    bad = {"tickets": {"url": url, "query": "SELECT ticket_id, account_id FROM tickets"}}
    with pytest.raises(IngestError, match=r"tickets: sqlite:///crm.db \[query\] is missing required columns "
                                         r"'opened_at'"):
        ingest(tiny_world / "raw", tmp_path / "p", sources=bad, now=NOW)
    with pytest.raises(DatabaseError, match=r"tickets: cannot read sqlite:///crm.db \[no_such\].*no such table"):
        ingest(tiny_world / "raw", tmp_path / "p", sources={"tickets": {"url": url, "table": "no_such"}}, now=NOW)
    assert not (tmp_path / "p").exists()  # all or nothing: no processed folder from a failed ingest
    # a mistyped updated_column: said by ingest itself, not first by a scheduled run's key
    typo_col = {"tickets": {"url": url, "table": "tickets", "updated_column": "updated_at"}}
    with pytest.raises(ConfigError, match=r"tickets: its updated_column 'updated_at' \(sources\) is not a column of "
                                          r"sqlite:///crm.db \[tickets\] \(its columns: ticket_id, account_id, "):
        ingest(tiny_world / "raw", tmp_path / "p", sources=typo_col, now=NOW)
    upper = {"tickets": {"url": url, "table": "tickets", "updated_column": "OPENED_AT"}}  # unquoted: any case
    assert ingest(tiny_world / "raw", tmp_path / "p4", sources=upper, now=NOW).tables["tickets"].rows_read > 0
    # a mistyped file: said as such, and no empty database made in its place (SQLite creates one on connect)
    typo = f"sqlite:///{tmp_path / 'crm_typo.db'}"
    with pytest.raises(DatabaseError, match=r"tickets: cannot read sqlite:///crm_typo.db \[tickets\]: no SQLite "
                                            r"file crm_typo.db in"):
        ingest(tiny_world / "raw", tmp_path / "p", sources={"tickets": {"url": typo, "table": "tickets"}}, now=NOW)
    assert not (tmp_path / "crm_typo.db").exists()
    # SQLite's read-only URI form is its own to open (the check would have refused it)
    ro = f"sqlite:///file:{tmp_path / 'crm.db'}?mode=ro&uri=true"
    report = ingest(tiny_world / "raw", tmp_path / "p3", sources={"tickets": {"url": ro, "table": "tickets"}},
                    now=NOW)
    assert report.tables["tickets"].rows_read > 0


def test_a_warehouse_that_names_columns_in_upper_case_is_read_like_the_files(tiny_world, tmp_path):
    """Snowflake and Oracle return unquoted names in upper case: ACCOUNT_ID is the contract's account_id."""
    _sqlite_world(tiny_world / "raw", tmp_path / "crm.db")
    with sqlite3.connect(tmp_path / "crm.db") as con:
        names = [r[1] for r in con.execute('PRAGMA table_info("tickets")')]
    upper = ", ".join(f'"{n}" AS "{n.upper()}"' for n in names)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    sources = {"tickets": {"url": url, "query": f"SELECT {upper} FROM tickets ORDER BY rowid"}}
    report = ingest(tiny_world / "raw", tmp_path / "db", sources=sources, now=NOW)
    files = ingest(tiny_world / "raw", tmp_path / "again", now=NOW).tables["tickets"]
    got = report.tables["tickets"]
    assert got.renamed_columns == {n.upper(): n for n in names} and got.extra_columns == []
    assert (got.rows_kept, got.by_reason) == (files.rows_kept, files.by_reason)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "db" / "tickets.parquet"),
                                  pd.read_parquet(tmp_path / "again" / "tickets.parquet"))
    # two columns alike but for case: an error naming both, not the first one's values read twice
    both = {"tickets": {"url": url, "query": 'SELECT ticket_id AS "ACCOUNT_ID", * FROM tickets'}}
    with pytest.raises(IngestError, match=r"'account_id' could be any of 'ACCOUNT_ID', 'account_id_1'"):
        ingest(tiny_world / "raw", tmp_path / "both", sources=both, now=NOW)


# --------------------------------------------------------------------------------- a real PostgreSQL
@pytest.fixture(scope="module")
def million_world(tmp_path_factory):
    """A world of more than a million events, ingested from its files: its folder and the ingest report."""
    root = tmp_path_factory.mktemp("million")
    summary = simulate(SimConfig(n_accounts=400, months=24, seed=7), out=root / "raw")
    assert summary["tables"]["events"] >= 1_000_000
    return root, ingest(root / "raw", root / "files", now=NOW)


@pytest.mark.slow  # ~30 s: a million events simulated, ingested from files, loaded into PostgreSQL, ingested again
def test_ingest_from_postgresql_equals_ingest_from_the_files_on_a_million_events(postgres, million_world,
                                                                                 tmp_path, monkeypatch):
    world, files = million_world
    db = postgres.create_database("world")
    with postgres.connect(db) as conn:
        rows = load_world(world / "raw", conn)
    assert rows["events"] >= 1_000_000
    monkeypatch.setenv("ENGAGE_TEST_PG_PASSWORD", postgres.password)
    path = _write(tmp_path / "sources.yaml", sources_for(postgres.url("${ENGAGE_TEST_PG_PASSWORD}", database=db)))
    report = ingest(world / "raw", tmp_path / "db", sources=path, now=NOW)
    _same_ingest(world / "files", tmp_path / "db")
    for t in CSV_TABLES + PARQUET_TABLES:
        a, b = files.tables[t], report.tables[t]
        assert (b.rows_read, b.rows_kept, b.by_reason) == (a.rows_read, a.rows_kept, a.by_reason), t
        assert b.source.startswith(f"postgresql://engage@127.0.0.1:{postgres.port}/world [")
    assert report.tables["events"].rows_quarantined == 13  # the simulator's planted event defects: 5 + 5 + 3
    assert report.tables["events"].by_reason == {C.NEGATIVE_DURATION: 5, C.UNKNOWN_ACCOUNT: 5,
                                                 C.in_future("timestamp"): 3}


def test_postgresql_types_reach_the_contract_with_known_answers(postgres, tmp_path, monkeypatch):
    """Typed columns as a warehouse has them: timestamptz, timestamp without zone (read as UTC), date, float8 with
    NaN and Infinity, numeric (as text), integer and jsonb extras."""
    db = postgres.create_database("typed")
    with postgres.connect(db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE accounts (account_id text, name text, segment text, plan text, mrr numeric(10, 2), "
                    "start_date date, end_date timestamp, seats integer, meta jsonb)")
        cur.execute("INSERT INTO accounts VALUES "
                    "('A1', 'One', 'SMB', 'Pro', 100.50, '2024-01-01', NULL, 5, '{\"tier\": 1}'), "
                    "('A2', 'Two', 'SMB', 'Pro', -3, '2024-02-01', NULL, 7, NULL), "           # negative mrr
                    "('A3', 'Three', 'SMB', 'Pro', 10, '2024-03-01', '2024-02-01 12:00', 1, NULL), "  # end < start
                    "('A1', 'Dup', 'SMB', 'Pro', 1, '2024-01-01', NULL, 2, NULL), "            # duplicate id
                    "('A4', 'Four', 'SMB', 'Pro', 10, '2099-01-01', NULL, 3, NULL)")          # start in the future
        cur.execute("CREATE TABLE events (account_id text, user_id text, timestamp timestamptz, event_type text, "
                    "feature text, duration_s float8)")
        cur.execute("INSERT INTO events VALUES "
                    "('A1', 'u1', '2024-06-01 09:00:00+09', 'LOGIN', 'x', 12.5), "
                    "('A1', 'u1', '2024-06-02 00:00:00+00', 'login', 'x', 'NaN'), "    # non-finite
                    "('A1', 'u1', '2024-06-03 00:00:00+00', 'login', 'x', 'Infinity'), "  # non-finite
                    "('A9', 'u9', '2024-06-03 00:00:00+00', 'login', 'x', 1), "        # unknown account
                    "('A1', 'u1', NULL, 'login', 'x', 1), "                             # missing timestamp
                    "('A1', 'u1', '2024-06-04 00:00:00+00', 'login', 'x', -1)")         # negative duration
        conn.commit()
    monkeypatch.setenv("PGPW_TYPED", postgres.password)
    url = postgres.url("${PGPW_TYPED}", database=db)
    (tmp_path / "raw").mkdir()
    report = ingest(tmp_path / "raw", tmp_path / "p", now=NOW, tables=("accounts", "events"), sources={
        "accounts": {"url": url, "table": "accounts"}, "events": {"url": url, "query": "SELECT * FROM events"}})
    acc = report.tables["accounts"]
    assert (acc.rows_read, acc.rows_kept) == (5, 1)
    assert acc.by_reason == {C.NEGATIVE_MRR: 1, C.END_BEFORE_START: 1, C.duplicate(("account_id",)): 1,
                             C.in_future("start_date"): 1}
    kept = pd.read_parquet(tmp_path / "p" / "accounts.parquet")
    assert kept["mrr"].tolist() == [100.5] and kept["seats"].tolist() == [5]
    assert kept["start_date"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert kept["meta"].iloc[0] == '{"tier": 1}'
    ev = report.tables["events"]
    assert ev.by_reason == {C.not_finite("duration_s"): 2, C.UNKNOWN_ACCOUNT: 1, C.missing("timestamp"): 1,
                            C.NEGATIVE_DURATION: 1}
    kept = pd.read_parquet(tmp_path / "p" / "events.parquet")
    assert kept["timestamp"].tolist() == [pd.Timestamp("2024-06-01 00:00", tz="UTC")]  # 09:00+09 is midnight UTC
    assert kept["event_type"].tolist() == ["login"]
    q = pd.read_parquet(tmp_path / "p" / "quarantine" / "events.parquet")
    assert q.loc[q["reason"] == C.not_finite("duration_s"), "source_row"].tolist() == [2, 3]


# ------------------------------------------------------------------------------------------ credentials
def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_the_password_never_appears_in_outputs_logs_or_errors(postgres, tmp_path, monkeypatch, caplog):
    db = postgres.create_database("secrets")
    with postgres.connect(db) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE tickets (ticket_id text, account_id text, opened_at text, closed_at text, "
                    "priority text)")
        cur.execute("INSERT INTO tickets VALUES ('T1', 'A1', '2024-01-01', NULL, 'high'), "
                    "('T2', 'A1', 'not a date', NULL, 'low')")
        conn.commit()
    secret = postgres.password
    (tmp_path / "raw").mkdir()
    pd.DataFrame({"account_id": ["A1"], "name": ["x"], "segment": ["SMB"], "plan": ["Pro"], "mrr": [1.0],
                  "start_date": ["2023-01-01"], "end_date": [None]}).to_csv(tmp_path / "raw" / "accounts.csv",
                                                                              index=False)
    pd.DataFrame({"account_id": ["A1"], "user_id": ["u"], "timestamp": ["2024-01-01"],
                  "event_type": ["login"]}).to_csv(tmp_path / "raw" / "events.csv", index=False)
    for t in ("touchpoints", "surveys"):
        pd.DataFrame({c.name: [] for c in C.CONTRACTS[t].columns if c.required}).to_csv(
            tmp_path / "raw" / f"{t}.csv", index=False)
    (tmp_path / "raw" / "db.env").write_text(f"PG_SECRET={secret}\n", encoding="utf-8")
    template = postgres.url("${PG_SECRET}", database=db)
    _write(tmp_path / "raw" / "sources.yaml", {"env_file": "db.env", "tables": {
        "tickets": {"url": template, "table": "tickets"}}})
    caplog.set_level(logging.DEBUG)

    from engage_models.pipeline import RunConfig
    from engage_models.pipeline import run as run_pipeline

    run = run_pipeline(RunConfig(data_dir=str(tmp_path), run_date="2025-12-31"), until="ingest",
                       progress=lambda m: None)
    assert run.records["ingest"].status == "computed"
    assert run["ingest"].json("ingest_report")["tables"]["tickets"]["rows_quarantined"] == 1
    run.export(tmp_path / "published")
    assert secret not in _all_text(tmp_path / "processed")
    assert secret not in _all_text(tmp_path / "artifacts")
    assert secret not in _all_text(tmp_path / "published")
    assert "[tickets]" in (tmp_path / "published" / "artifacts" / "ingest" / "ingest_report.json").read_text()

    monkeypatch.setenv("PG_SECRET_WRONG", secret + "x")
    cases = {"no_such_table": (template, "no_such_table"),                                    # SQL error
             "password authentication failed": (template.replace("${PG_SECRET}", "${PG_SECRET_WRONG}"), "tickets"),
             "invalid": (template.replace(f":{postgres.port}/", ":port/"), "tickets")}       # a broken URL
    for words, (url, table) in cases.items():
        sources = {"env_file": str(tmp_path / "raw" / "db.env"), "tables": {"tickets": {"url": url, "table": table}}}
        with pytest.raises(DatabaseError) as err:
            ingest(tmp_path / "raw", tmp_path / "p2", sources=_write(tmp_path / "s.yaml", sources), now=NOW)
        text = str(err.value)
        assert words in text and "tickets" in text and secret not in text, text
        assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained driver message
    assert secret not in caplog.text


def test_a_password_given_percent_encoded_is_warned_about_without_its_value(caplog):
    db = DatabaseSource("postgresql://ana:${PW}@db/crm", table="t")
    with caplog.at_level(logging.WARNING, logger="engage_models.ingest.database"):
        url, _ = resolve(db, environ={"PW": "p%40ss"})
    assert urlsplit(url).password == "p%2540ss"  # sent as written: the server gets p%40ss
    assert "${PW} holds a percent sign" in caplog.text and "p%40ss" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="engage_models.ingest.database"):
        resolve(db, environ={"PW": "50% off"})
    assert not caplog.text


def test_a_role_whose_password_holds_url_separators_connects(postgres, tmp_path):
    special = "p@ss:w/rd#1 %41?&"
    db = postgres.create_database("special_pw")
    with postgres.connect(db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS special_user")
        cur.execute(f"CREATE ROLE special_user LOGIN PASSWORD '{special}'")
        cur.execute("CREATE TABLE tickets (ticket_id text, account_id text)")
        cur.execute("INSERT INTO tickets VALUES ('T1', 'A1')")
        cur.execute("GRANT SELECT ON tickets TO special_user")
    template = f"postgresql://special_user:${{SPECIAL_PW}}@127.0.0.1:{postgres.port}/{db}"
    landed = land(DatabaseSource(template, table="tickets"), tmp_path / "t.parquet", environ={"SPECIAL_PW": special})
    assert landed.rows == 1
    assert pd.read_parquet(tmp_path / "t.parquet")[["ticket_id", "account_id"]].values.tolist() == [["T1", "A1"]]
    with pytest.raises(DatabaseError, match="password authentication failed") as err:  # and no piece of it
        land(DatabaseSource(template, table="tickets"), tmp_path / "u.parquet", environ={"SPECIAL_PW": special[:-1]})
    assert "p@ss" not in str(err.value) and "w/rd" not in str(err.value)


def test_land_streams_batches_into_parquet_with_row_numbers(tiny_world, tmp_path):
    _sqlite_world(tiny_world / "raw", tmp_path / "crm.db")
    db = DatabaseSource(f"sqlite:///{tmp_path / 'crm.db'}", query="SELECT response_id, score FROM surveys")
    landed = land(db, tmp_path / "s.parquet", batch_rows=50)
    n = sqlite3.connect(tmp_path / "crm.db").execute("SELECT count(*) FROM surveys").fetchone()[0]
    f = pq.ParquetFile(tmp_path / "s.parquet")
    assert landed.rows == n and f.metadata.num_row_groups == -(-n // 50)  # one row group per batch
    table = f.read()
    assert table.column(landed.row_column).to_pylist() == list(range(1, n + 1))
    assert table.schema.field("score").type == pa.string()  # SQLAlchemy path: text, typed by the contract


# -------------------------------------------------------------------------------- the pipeline's key
def _copy_world(raw: Path, target: Path, db: Path) -> None:
    import shutil

    shutil.copytree(raw, target / "raw")
    (target / "raw" / "tickets.csv").unlink()
    _sqlite_world(raw, db)


@pytest.mark.parametrize("updated_column", ["opened_at", None])
def test_the_ingest_stage_rereads_a_database_table_only_when_it_changed(tiny_world, tmp_path, updated_column):
    from engage_models.pipeline import RunConfig
    from engage_models.pipeline import run as run_pipeline

    _copy_world(tiny_world / "raw", tmp_path, tmp_path / "crm.db")
    entry = {"url": "sqlite:///../crm.db", "table": "tickets"}
    if updated_column:
        entry["updated_column"] = updated_column
    _write(tmp_path / "raw" / "sources.yaml", {"tables": {"tickets": entry}})
    cfg = RunConfig(data_dir=str(tmp_path), run_date="2025-12-31")

    def status():
        return run_pipeline(cfg, until="ingest", progress=lambda m: None).records["ingest"].status

    assert status() == "computed"
    assert status() == ("reused" if updated_column else "computed")
    with sqlite3.connect(tmp_path / "crm.db") as con:
        con.execute("INSERT INTO tickets (ticket_id, account_id, opened_at, priority) "
                    "SELECT 'T-new', account_id, '2025-06-01T00:00:00Z', 'low' FROM tickets LIMIT 1")
    assert status() == "computed"
    kept = pd.read_parquet(tmp_path / "processed" / "tickets.parquet")
    assert "T-new" in set(kept["ticket_id"])


# ------------------------------------------------------------------------------------- updated_column's case
def test_updated_column_is_read_as_the_table_spells_it(postgres, tmp_path, monkeypatch):
    """A column created quoted in mixed case ("LoadedAt") could not be named: the key's unquoted max(LoadedAt)
    folded to loadedat and failed. The maximum now reads the column as the table returns it, quoted, whatever
    case the sources file gives; a name two columns share but for case is refused, naming them."""
    from engage_models.ingest.database import database_source, fingerprint

    db = postgres.create_database("spelled")
    with postgres.connect(db) as conn, conn.cursor() as cur:
        cur.execute('CREATE TABLE t (ticket_id text, "LoadedAt" timestamp, loaded_at integer, "X" int, x int)')
        cur.execute("INSERT INTO t VALUES ('T1', '2025-01-02 03:04:05', 7, 1, 2), ('T2', '2025-02-01', 9, 1, 2)")
        conn.commit()
    monkeypatch.setenv("PGPW_SPELLED", postgres.password)
    url = postgres.url("${PGPW_SPELLED}", database=db)
    for given, latest in (("LoadedAt", "2025-02-01"), ("loadedat", "2025-02-01"), ("loaded_at", "9"),
                          ("LOADED_AT", "9")):
        src = database_source("tickets", {"url": url, "table": "t", "updated_column": given}, "sources.yaml")
        got = fingerprint(src, table="tickets")
        assert got["rows"] == 2 and got["latest"].startswith(latest), (given, got)
    src = database_source("tickets", {"url": url, "table": "t", "updated_column": "x"}, "sources.yaml")
    assert fingerprint(src, table="tickets")["latest"] == "2"  # its own spelling first
    src = database_source("tickets", {"url": url, "table": "t", "updated_column": "LOADEDAT"}, "sources.yaml")
    assert fingerprint(src, table="tickets")["latest"].startswith("2025-02-01")
    src = database_source("tickets", {"url": url, "table": "t", "updated_column": "nope"}, "sources.yaml")
    with pytest.raises(ConfigError, match=r"tickets: its updated_column 'nope' \(sources\) is not a column of .*"
                                          r"\(its columns: ticket_id, LoadedAt, loaded_at, X, x\)"):
        fingerprint(src, table="tickets")


def test_updated_column_with_sqlalchemy_and_sqlite_reads_the_spelled_column(tmp_path):
    from engage_models.ingest.database import database_source, fingerprint

    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE t (ticket_id TEXT, "Loaded At" TEXT, "A" INT, "b" INT)')
        conn.execute("INSERT INTO t VALUES ('T1', '2025-01-02', 1, 5), ('T2', '2025-03-04', 3, 4)")
    for given, latest in (("A", "3"), ("a", "3"), ("B", "5")):
        src = database_source("tickets", {"url": f"sqlite:///{path}", "table": "t", "updated_column": given,
                                          "driver": "sqlalchemy"}, "sources.yaml")
        assert fingerprint(src, table="tickets")["latest"] == latest, given


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_the_database_benchmarks_child_reports_its_own_peak_memory_not_its_parents():
    """``benchmarks/bench_database_ingest.py`` measures each ingest in a fresh process; it read the peak from
    ``ru_maxrss``, which a child started by ``subprocess`` inherits from its parent, so the "import only" floor
    showed the benchmark's own peak (the simulated world's) and every process the same figure on a small world.
    A child started from a process holding 400 MB reports the package's import, far below it."""
    import json
    import os
    import subprocess
    import sys

    import numpy as np

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_database_ingest.py"
    held = np.ones(50_000_000)  # 400 MB, touched
    status = Path("/proc/self/status").read_text().splitlines()
    parent = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    assert parent > 400 + held[0]
    src = str(path.parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(path), "--child", "import", "unused", "unused", ""],
                          capture_output=True, text=True, env=env, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child["mode"] == "import" and child["rows"] == 0
    assert 20 < child["peak_mib"] < parent - 300


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_the_benchmarks_shared_peak_memory_reader_reads_this_process_and_another_by_pid():
    """``benchmarks/peak_memory.py`` is the one VmHWM reader of the benchmarks (it was written three times):
    bench_engines reads the JVM's peak by its pid. This process read by pid is read as itself; a process that has
    exited reads 0, not an error."""
    import importlib.util
    import os
    import subprocess
    import sys

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "peak_memory.py"
    spec = importlib.util.spec_from_file_location("peak_memory", path)
    peak_memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peak_memory)
    assert 20 < peak_memory.peak_mib() == pytest.approx(peak_memory.peak_mib(os.getpid()), abs=5)
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert peak_memory.peak_mib(int(done.stdout)) == 0.0
