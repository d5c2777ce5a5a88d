"""``engage panel``: the panel written as Parquet from the command line (DuckDB here; Spark in test_spark.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from engage_models._core.errors import ConfigError
from engage_models.cli import main
from engage_models.features.panel import build_panel


def test_engage_panel_writes_the_panel_build_panel_returns(small_ingested, tmp_path, capsys):
    root, _ = small_ingested
    out = tmp_path / "panels" / "p.parquet"
    args = ["panel", "--processed", str(root / "processed"), "--out", str(out), "--as-of", "2024-06-01",
            "2024-09-01", "--until", "2025-01-01", "--horizon", "60"]
    assert main(args) == 0
    assert "2024-06-01 .. 2024-09-01 (duckdb)" in capsys.readouterr().out
    want = build_panel(root / "processed", ["2024-06-01", "2024-09-01"], until="2025-01-01", horizon_days=60)
    got = pd.read_parquet(out)
    assert list(got.columns) == list(want.columns) and len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("extra", [["--spark-master", "local[2]"], ["--spark-driver-memory", "4g"]])
def test_spark_settings_without_the_spark_engine_are_refused(small_ingested, tmp_path, capsys, extra):
    root, _ = small_ingested
    assert main(["panel", "--processed", str(root / "processed"), "--out", str(tmp_path / "p.parquet"), *extra]) == 2
    assert "apply to --engine spark only" in capsys.readouterr().err


def test_the_runner_takes_the_engine_settings_and_refuses_an_unknown_engine(tmp_path, capsys):
    from engage_models.reports.runner import RunParameters, run

    params = RunParameters(str(tmp_path), engine="spark", spark_master="local[2]").as_dict()
    assert (params["engine"], params["spark_master"], params["spark_driver_memory"]) == ("spark", "local[2]", None)
    with pytest.raises(ConfigError, match="unknown engine 'presto'"):
        run(data_dir=tmp_path, out_dir=tmp_path / "reports", engine="presto")
    assert not (tmp_path / "raw").exists()  # refused before generating anything
    assert main(["run", "--data-dir", str(tmp_path), "--spark-master", "local[2]"]) == 2
    assert "apply to --engine spark only" in capsys.readouterr().err


def test_engage_version_names_the_version_and_the_code_hash_the_stage_keys_use(capsys):
    """`engage --version` was an unknown option; the version number alone never changes between commits, so it
    also prints the hash of the package's code that the runs' stage keys record."""
    from engage_models import __version__
    from engage_models.pipeline.store import code_version

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"engage-models {__version__} (code {code_version()})"
