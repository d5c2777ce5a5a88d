"""The Spark engine: the same registry SQL, transpiled, gives the same panel and KPIs as DuckDB.

Every panel here is built twice from the same processed files, once per engine, and compared column by column:
integer columns (counts, days, labels) exactly, floating columns (ratios, hours, MRR) within 1e-9. The worlds are
the hand-made one of ``tests/test_panel.py`` (whose values are checked by hand there) and a small simulated one.
One local SparkSession serves the whole test session (the ``spark`` fixture of ``conftest.py``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from engage_models import kpis
from engage_models.cli import main
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.features import metrics as M
from engage_models.features import spark_job
from engage_models.features.engine import DuckDBEngine, SparkEngine, location, make_engine, to_spark_sql
from engage_models.features.panel import PanelBuilder, build_panel
from engage_models.ingest import ingest
from test_panel import UNTIL, _csat_world, _write_raw

pytestmark = pytest.mark.spark
HAND_DATES = ["2025-02-01", "2025-03-01"]
FUTURE = dict(  # rows at or after 2025-03-01: the leakage test appends them
    events=[("A1", "u9", "2025-03-01T00:00:00Z", "login", "", 10),
            ("A3", "u8", "2025-03-20T00:00:00Z", "export", "api", 10)],
    tickets=[("T9", "A1", "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z", "urgent", 1)],
    touchpoints=[("A1", "u1", "2025-03-10T00:00:00Z", "community", "inbound", "", "")],
    surveys=[("R9", "A1", "u1", "2025-03-01T00:00:00Z", "nps", "periodic", 0, "", "en"),
             ("R8", "A3", "u8", "2025-04-01T00:00:00Z", "csat", "annual", 1, "", "en")],
)


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same columns, dtypes and rows; integers, text and dates exactly, floats within 1e-9 (NaN where NaN)."""
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    assert len(spark) == len(duck) and len(duck) > 0
    for col in duck.columns:
        a, b = duck[col], spark[col]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=col)
        else:
            pd.testing.assert_series_equal(b, a, check_exact=True, obj=col)


def _hand(root, **rows):
    _write_raw(root / "raw", **rows)
    ingest(root / "raw", root / "processed")
    return root / "processed"


@pytest.fixture(scope="module")
def hand_processed(tmp_path_factory):
    return _hand(tmp_path_factory.mktemp("spark-hand"))


@pytest.fixture(scope="module")
def sim_processed(tmp_path_factory):
    """A small simulated world: 60 accounts over 6 months, planted defects included (ingest drops them)."""
    root = tmp_path_factory.mktemp("spark-sim")
    simulate(SimConfig(n_accounts=60, months=6, seed=21), out=root / "raw")
    ingest(root / "raw", root / "processed")
    return root / "processed"


@pytest.fixture(scope="module")
def sim_panels(sim_processed, spark, tmp_path_factory):
    """The simulated world's default panel from each engine; Spark also writes it as Parquet."""
    out = tmp_path_factory.mktemp("spark-out") / "panel"
    duck = build_panel(sim_processed)
    sp = build_panel(sim_processed, engine="spark", spark_session=spark, out=out)
    return duck, sp, out


# ----------------------------------------------------------------------------------------- transpiling
class _Recorder(DuckDBEngine):
    """DuckDB, keeping every statement the panel builder sends it."""

    def __init__(self):
        super().__init__(memory_limit="1GB")
        self.statements: list[str] = []

    def create(self, name, sql, params=None):
        self.statements.append(sql)
        super().create(name, sql, params)

    def append(self, name, sql, params=None):
        self.statements.append(sql)
        super().append(name, sql, params)

    def frame(self, sql, params=None):
        self.statements.append(sql)
        return super().frame(sql, params)


def test_every_statement_of_the_panel_transpiles_with_its_parameters_left_for_binding(hand_processed):
    with _Recorder() as rec:
        build_panel(hand_processed, HAND_DATES, until=UNTIL, engine=rec, partition_events=3)
        assert len(rec.statements) > 20
        for sql in rec.statements:
            spark_sql = to_spark_sql(sql)  # raises on anything sqlglot cannot write faithfully
            assert "$" not in spark_sql
            named = {p[1:] for p in re.findall(r"\$\w+", sql)}
            for name in named:
                assert f":{name}" in spark_sql, (name, spark_sql)
    # the dialect differences that matter to the registry's values
    assert to_spark_sql("SELECT count_if(x = 'a') AS n FROM t") == "SELECT COUNT_IF(x = 'a') AS n FROM t"
    assert "CAST(28.0 AS DOUBLE)" in to_spark_sql("SELECT user_days / 28.0 FROM t")  # not Spark's DECIMAL
    assert "INTERVAL '30' DAY" in to_spark_sql("SELECT ts - INTERVAL 30 DAY FROM t")
    assert "NULLS LAST" in to_spark_sql("SELECT max(x) OVER (ORDER BY pos) FROM t")  # DuckDB's null order


def test_locations_keep_uris_intact(tmp_path):
    assert location("s3a://lake/engage/processed/", "events.parquet") == "s3a://lake/engage/processed/events.parquet"
    assert location(tmp_path, "events.parquet") == tmp_path / "events.parquet"
    with pytest.raises(ValueError, match="Spark settings"):
        make_engine("duckdb", spark_master="local[2]")


# ------------------------------------------------------------------------------------------ the engine
def test_parameters_are_bound_and_days_are_utc_epoch_days(spark):
    eng = SparkEngine(session=spark)
    ts = pd.Timestamp("2025-03-01 23:59:59.999999", tz="UTC")
    got = eng.frame("SELECT $s AS s, $n + 1 AS n, $t AS t, " + eng.day("$t") + " AS d",
                    {"s": "it's'; DROP TABLE x --", "n": 41, "t": ts, "unused": 1})
    assert got["s"].iloc[0] == "it's'; DROP TABLE x --" and got["n"].iloc[0] == 42
    assert got["t"].iloc[0] == ts and str(got["t"].dtype) == "datetime64[us, UTC]"
    with DuckDBEngine() as duck:
        want = duck.frame("SELECT " + duck.day("$t") + " AS d", {"t": ts})["d"].iloc[0]
    assert got["d"].iloc[0] == want == (ts.normalize() - pd.Timestamp("1970-01-01", tz="UTC")).days
    early = pd.Timestamp("1924-03-05 10:00", tz="UTC")  # before 1970: its day, not the next (division floors)
    assert eng.frame("SELECT " + eng.day("$t") + " AS d", {"t": early})["d"].iloc[0] == -16738
    # a duration with fractions of a second: DuckDB's date_diff('second') would count the boundary crossed
    q = ("SELECT date_diff('microsecond', TIMESTAMP '2025-01-01 00:00:00.9', TIMESTAMP '2025-01-01 00:00:01.1') "
         "/ 3600000000.0 AS h")
    with DuckDBEngine() as duck:
        assert eng.frame(q)["h"].iloc[0] == duck.frame(q)["h"].iloc[0] == pytest.approx(0.2 / 3600)
    eng.close()


# ------------------------------------------------------------------------------------------ the panels
def test_hand_world_panel_is_the_same_on_spark(hand_processed, spark):
    duck = build_panel(hand_processed, HAND_DATES, until=UNTIL)
    eng = SparkEngine(session=spark)
    sp = build_panel(hand_processed, HAND_DATES, until=UNTIL, engine=eng)
    assert_same(duck, sp)
    assert sp.attrs == duck.attrs
    a1 = sp[(sp["account_id"] == "A1") & (sp["as_of"] == pd.Timestamp("2025-03-01", tz="UTC"))].iloc[0]
    assert (a1["logins_28d"], a1["active_users_90d"], a1["median_hours_to_close_28d"]) == (2, 2, 24.0)
    # the engine object was lent, not given: it still works after the build
    assert eng.frame("SELECT count(*) AS n FROM panel")["n"].iloc[0] == len(sp)
    eng.close()


def test_csat_kept_on_tickets_is_the_same_on_spark(tmp_path, spark):
    """The CSAT metrics over survey answers and the tickets' own scores (the hand-checked world of
    tests/test_panel.py, where an answer names a ticket and a later one replaces a ticket's own score)."""
    processed = _csat_world(
        tmp_path, tickets={"T1": 2, "T4": ("T4", "A1", "2025-02-26T00:00:00Z", "", "normal", 5)},
        surveys=[("R4", "A1", "u1", "2025-02-11T00:00:00Z", "csat", "ticket_close", 4, "", "en"),
                 ("R7", "A1", "u1", "2025-03-05T00:00:00Z", "csat", "ticket_close", 3, "", "en")],
        survey_ticket_ids={"R4": "T1", "R7": "T4"})
    dates = ["2025-03-01", "2025-04-01"]
    duck = build_panel(processed, dates, until=UNTIL)
    sp = build_panel(processed, dates, until=UNTIL, engine="spark", spark_session=spark)
    assert_same(duck, sp)
    assert sorted(sp["csat_latest"].dropna()) == pytest.approx([3.5, 4.5])  # A1: (4 + 5) / 2, then (4 + 3) / 2


def test_simulated_world_panel_is_the_same_on_spark(sim_panels):
    duck, sp, _ = sim_panels
    assert len(duck) > 200 and duck["as_of"].nunique() >= 3
    assert_same(duck, sp)
    assert sp["logins_28d"].sum() > 0 and sp["nps_latest"].notna().any() and sp["churned_within_h"].sum() > 0


def test_spark_writes_the_panel_as_parquet(sim_panels):
    duck, _, out = sim_panels
    written = pd.read_parquet(out).sort_values(["as_of", "account_id"], ignore_index=True)
    assert list(written.columns) == list(duck.columns) and len(written) == len(duck)
    pd.testing.assert_series_equal(written["as_of"], duck["as_of"], check_dtype=False)
    np.testing.assert_array_equal(written["logins_28d"], duck["logins_28d"])
    np.testing.assert_allclose(written["active_user_ratio_28d"], duck["active_user_ratio_28d"], rtol=1e-9)


def test_account_ranges_and_uri_locations_give_the_same_panel_on_spark(sim_processed, sim_panels, spark):
    duck, _, _ = sim_panels
    eng = SparkEngine(session=spark)
    with PanelBuilder(sim_processed.as_uri(), engine=eng, partition_events=25_000) as b:  # file:///...
        assert len(b._partitions(pd.Timestamp("2030-01-01", tz="UTC"))) > 1
        ranged = b.build()
    assert_same(duck, ranged)
    eng.close()


def test_nothing_at_or_after_as_of_changes_the_spark_metrics(tmp_path, spark):
    """The leakage test of tests/test_panel.py, on Spark."""
    dates = ["2025-03-01"]
    before = build_panel(_hand(tmp_path / "a"), dates, until=UNTIL, engine="spark", spark_session=spark)
    after = build_panel(_hand(tmp_path / "b", **FUTURE), dates, until=UNTIL, engine="spark", spark_session=spark)
    cols = [c for c in before.columns if c in M.REGISTRY_COLUMNS and not c.startswith("feature_breadth")]
    pd.testing.assert_frame_equal(before[["account_id", *cols]], after[["account_id", *cols]])
    assert (after["feature_breadth_28d"] <= before["feature_breadth_28d"] + 1e-12).all()
    assert before["logins_28d"].sum() > 0  # the comparison is of real values


# ---------------------------------------------------------------------------------------------- KPIs
def test_kpis_from_the_spark_panel_equal_those_from_duckdb(sim_processed, sim_panels, spark):
    duck, sp, _ = sim_panels
    accounts, subs = kpis.load_tables(sim_processed)
    s_accounts, s_subs = kpis.load_tables(sim_processed, engine="spark", spark_session=spark)
    assert len(s_accounts) == len(accounts) and len(s_subs) == len(subs)
    want = kpis.kpi_summary(accounts, subs, duck)
    got = kpis.kpi_summary(s_accounts, s_subs, sp)
    assert set(want["kpi"]) >= {"customers", "mrr_total", "logo_churn_rate", "nrr", "dau_mau", "active_account_rate"}
    assert_same(want, got)
    assert_same(kpis.engagement_over_time(duck, by="segment"), kpis.engagement_over_time(sp, by="segment"))


# ----------------------------------------------------------------------------------------- the CLI
def test_spark_job_writes_what_engage_panel_writes_with_duckdb(hand_processed, spark, tmp_path, capsys):
    args = ["panel", "--processed", str(hand_processed), "--as-of", *HAND_DATES, "--until", UNTIL]
    assert main([*args, "--out", str(tmp_path / "duck.parquet")]) == 0
    assert spark_job.main([*args[1:], "--out", str(tmp_path / "spark"), "--spark-master", "local[2]"]) == 0
    assert "5 rows" in capsys.readouterr().out
    duck = pd.read_parquet(tmp_path / "duck.parquet")
    sp = pd.read_parquet(tmp_path / "spark").sort_values(["as_of", "account_id"], ignore_index=True)
    pd.testing.assert_frame_equal(sp, duck, check_dtype=False, check_exact=False, rtol=1e-9)
