"""Shared fixtures: a small simulated world and its ingest, built once per test session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engage_models.demo.simulator import SimConfig, simulate
from engage_models.ingest import ingest

SMALL = SimConfig(n_accounts=300, months=12, seed=7)


def pytest_addoption(parser):
    parser.addoption("--extended", action="store_true", default=False,
                     help="also run the extended sweeps (tests marked extended: more worlds, seeds and sizes of a "
                          "property a bounded test checks in every run); make test-all")


def pytest_collection_modifyitems(config, items):
    """The tests marked ``extended`` are skipped, with the reason, unless ``--extended`` is given: ``make test``
    (CI's command) runs the bounded set, ``make test-all`` everything. CI has 90 minutes on 2 cores, and the whole
    suite took 85 of them on a slow day (7 Dec 2026); each extended test widens a sweep whose bounded part runs
    in every run, or repeats at a larger size what a smaller test checks (README, *Tests*)."""
    if config.getoption("--extended"):
        return
    skip = pytest.mark.skip(reason="extended sweep: make test-all (pytest --extended) runs it")
    for item in items:
        if "extended" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One BLAS and one OpenMP thread for the whole session, as the package's stages and ``engage`` commands run
    (``engage_models._core.progress.ONE_THREAD``): tests that call the fitting functions directly ran with
    OpenBLAS's threads, which spin more than they compute on small matrices: on a busy machine one test of a
    default ``fit_table`` took 572 s inside the suite, against 6 s alone (5 Dec 2026)."""
    from threadpoolctl import threadpool_limits

    from engage_models._core.progress import ONE_THREAD

    with threadpool_limits(limits=ONE_THREAD):
        yield


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """data dir with raw/ from a 300-account, 12-month world (planted defects included)."""
    root = tmp_path_factory.mktemp("world")
    simulate(SMALL, out=root / "raw")
    return root


#: The small world's churn (about 7 a month) recorded only until 31 August 2024: its churn stop is found on 23 August
CHURN_LAST_KNOWN = "2024-09-01"
#: A short horizon leaves the stop world a backtest of its own.
CHURN_STOP_CONFIG = {"run_date": "2025-01-02", "horizon_days": 30,
                     "health": {"n_bootstrap": 3, "metric_bootstrap": 20, "n_jobs": 1, "score": "linear",
                                "history_dates": 3}}


def run_churn_stop_world(root: Path, until: str = "health", **health):
    """The pipeline run on a world of :func:`churn_stop_worlds` to ``until`` (the stages before it read back)."""
    from engage_models import pipeline

    config = {**CHURN_STOP_CONFIG, "data_dir": str(root), "health": {**CHURN_STOP_CONFIG["health"], **health}}
    return pipeline.run(config, until=until, strict=True, progress=lambda m: None)


def run_stage(stage: str, config, inputs: dict, folder: Path):
    """One stage function of ``pipeline.stages`` run by hand on the given input artifacts into a new folder under
    ``folder``, with the manifest the runner would write: the stage's artifact (the churn-stop tests run a stage
    with the run's dates as they are and without the stop)."""
    from engage_models._core.io import write_json
    from engage_models.pipeline import stages
    from engage_models.pipeline.store import Artifact, Output

    out = Output(folder / f"{stage}-{len(list(folder.iterdir()))}", stage)
    out.path.mkdir()
    getattr(stages, stage)(stages.Context(config, inputs, out))
    write_json(out.path / "manifest.json", {"stage": stage, "key": stage[0], "files": out.files,
                                            "skipped": [s.as_dict() for s in out.skipped]})
    return Artifact(out.path)


def ingest_without_stop(ingest, folder: Path):
    """An ingest artifact of the run's dates without their churn stop (the stages told of no stop, as before)."""
    from engage_models._core.io import write_json
    from engage_models.pipeline.store import Artifact

    blind = folder / "ingest-without-stop"
    blind.mkdir()
    write_json(blind / "manifest.json", {"stage": "ingest", "key": "i", "files": [], "skipped": []})
    write_json(blind / "dates.json", {k: v for k, v in ingest.json("dates").items() if k != "churn_stop"})
    return Artifact(blind)


@pytest.fixture(scope="session")
def churn_stop_worlds(tmp_path_factory, small_world) -> dict:
    """The small world as simulated, and the same world whose churn after 31 August 2024 was never recorded (the
    purchase-log trap: those accounts still look like customers), each run to the health stage: ``{"plain": (root,
    run), "stopped": (root, run)}`` (tests/test_churn_stop_labels.py, tests/test_churn_stop_readers.py)."""
    import pandas as pd

    root = tmp_path_factory.mktemp("churn-stop")
    plain, stopped = root / "plain", root / "stopped"
    for world in (plain, stopped):
        shutil.copytree(small_world / "raw", world / "raw")
    accounts = pd.read_csv(stopped / "raw" / "accounts.csv")
    accounts.loc[pd.to_datetime(accounts["end_date"], errors="coerce") >= CHURN_LAST_KNOWN, "end_date"] = None
    accounts.to_csv(stopped / "raw" / "accounts.csv", index=False)
    return {"plain": (plain, run_churn_stop_world(plain)), "stopped": (stopped, run_churn_stop_world(stopped))}


@pytest.fixture(scope="session")
def small_ingested(small_world):
    report = ingest(small_world / "raw", small_world / "processed")
    return small_world, report


@pytest.fixture(scope="session")
def truth(small_world) -> dict:
    return json.loads((small_world / "raw" / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory) -> Path:
    """The README's demo world (2,000 accounts x 24 months, seed 42), ingested: for recovery tests."""
    root = tmp_path_factory.mktemp("demo")
    simulate(SimConfig(), out=root / "raw")
    ingest(root / "raw", root / "processed")
    return root


@pytest.fixture
def japanese_figures():
    """Figures styled for Japanese reports (``plots.setup("ja")``); fails the test on a missing glyph.

    The rcParams are restored afterwards, so other tests see matplotlib's defaults.
    """
    import warnings

    import matplotlib

    from engage_models._core import plots

    with matplotlib.rc_context(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.setup("ja")
        yield
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession (2 cores, 2 shuffle partitions) for the whole test session, stopped at its end.

    Skipped with the reason when PySpark or Java is missing, except in CI (``CI`` set), which must run these.
    """
    import os

    from engage_models.features.engine import SparkEngine, spark_unavailable

    reason = spark_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark tests: {reason}")
        pytest.skip(reason)
    owner = SparkEngine(master="local[2]", driver_memory="1g", shuffle_partitions=2, app_name="engage-models-tests",
                        conf={"spark.ui.enabled": "false", "spark.sql.adaptive.coalescePartitions.enabled": "true"})
    owner.root.sparkContext.setLogLevel("ERROR")
    yield owner.root
    owner.close()  # it started the session: this stops it


@pytest.fixture(scope="session")
def report_data(tmp_path_factory, small_world) -> Path:
    """A data folder for the report tests: the small world with hostile user text planted where reports show
    it (a quarantined survey row and the latest detractor comment). The pipeline's artifacts stay in it
    (``artifacts/``), so every report test after the first renders without recomputing."""
    import pandas as pd

    root = tmp_path_factory.mktemp("reports-data")
    shutil.copytree(small_world / "raw", root / "raw")
    path = root / "raw" / "surveys.csv"
    surveys = pd.read_csv(path)
    when = pd.to_datetime(surveys["submitted_at"], utc=True, errors="coerce", format="ISO8601")
    last = when[(surveys["survey_type"] == "nps") & (when < pd.Timestamp("2024-12-31", tz="UTC"))].idxmax()
    surveys.loc[last, ["score", "comment"]] = [0, HOSTILE]
    hostile = surveys.iloc[[0]].assign(response_id="R-x", score=42, comment=HOSTILE)
    pd.concat([hostile, surveys]).to_csv(path, index=False)  # first row quarantined (score outside 0-10)
    return root


#: User text that must reach every report escaped.
HOSTILE = "<script>alert(1)</script> & more"
#: The run date of the report tests (the small world's data end on 31 Dec 2024).
REPORT_RUN_DATE = "2025-01-02"


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (see ``pg_server.TemporaryPostgres``), its binaries' folder
    put on PATH. Skipped with the reason when it cannot start here, except in CI (``CI`` set), which must run it."""
    import os

    from pg_server import PostgresUnavailable, TemporaryPostgres

    server = TemporaryPostgres()
    try:
        server.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(f"no PostgreSQL server here: {exc}")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PATH", f"{server.bindir}{os.pathsep}{os.environ.get('PATH', '')}")
            yield server
    finally:
        server.stop()
