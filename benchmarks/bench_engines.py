"""The whole panel at N events on both engines: DuckDB (in process) and Spark (local mode), same files, same SQL.

Each engine builds the default panel (every registry metric, monthly dates, labels) from the same processed
tables in a fresh child process, so its time and peak memory are its own: for DuckDB the Python process, for
Spark the larger of the Python driver and the JVM it starts. The
script then checks that the two panels agree: integer columns exactly, floating columns within 1e-9.

Spark local mode runs every task in one JVM on this machine's cores: it is here to show equality and the
cost of the distributed machinery at one machine's scale, not to win. On a cluster the same call spreads the
rollups over the executors.

Usage::

    python benchmarks/bench_engines.py --events 50M                 # data/bench/50M (generated once)
    python benchmarks/bench_engines.py --events 6M --spark-master local[2] --spark-driver-memory 4g --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_features import _count, ensure_data  # noqa: E402
from peak_memory import peak_mib  # noqa: E402


def run_child(engine: str, processed: str, out: str, settings: dict) -> None:
    import logging

    from engage_models.features.panel import build_panel

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    t0 = time.perf_counter()
    panel = build_panel(processed, engine=engine, **settings)
    seconds = time.perf_counter() - t0
    panel.to_parquet(out, index=False)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": max(peak_mib(), _jvm_peak_rss_mb()), "rows": len(panel)}))


def _jvm_peak_rss_mb() -> float:
    """Peak resident memory of the JVM PySpark started (alive until this process exits), 0 without one."""
    if "pyspark" not in sys.modules:
        return 0.0
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    proc = getattr(gateway, "proc", None) if gateway is not None else None
    return peak_mib(proc.pid) if proc is not None else 0.0


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if proc.returncode:
        raise RuntimeError(f"child {args[:2]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agree(duck: pd.DataFrame, spark: pd.DataFrame) -> tuple[bool, str]:
    """Same rows and columns; integers, text and dates equal; floats within 1e-9 (NaN where NaN)."""
    if list(duck.columns) != list(spark.columns) or len(duck) != len(spark):
        return False, f"shapes differ: {duck.shape} vs {spark.shape}"
    problems = []
    for col in duck.columns:
        a, b = duck[col], spark[col]
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            x, y = a.to_numpy(dtype=float, na_value=np.nan), b.to_numpy(dtype=float, na_value=np.nan)
            bad = ~(np.isclose(x, y, rtol=1e-9, atol=1e-9) | (np.isnan(x) & np.isnan(y)))
        else:
            bad = ~((a == b) | (a.isna() & b.isna())).to_numpy(dtype=bool)
        if bad.any():
            problems.append(f"{col}: {int(bad.sum())} rows differ")
    return not problems, "; ".join(problems) or f"all {duck.shape[1]} columns of {len(duck):,} rows equal"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", default="50M", help="events of the generated world (e.g. 6M, 50M); default 50M")
    p.add_argument("--data", type=Path, default=None, help="folder of the world (default data/bench/N)")
    p.add_argument("--memory-limit", default="1.5GB", help="DuckDB memory limit")
    p.add_argument("--spark-master", default="local[2]", help="Spark master (default local[2]: this machine)")
    p.add_argument("--spark-driver-memory", default="6g", help="spark.driver.memory (local mode: all the work)")
    p.add_argument("--shuffle-partitions", type=int, default=None, help="spark.sql.shuffle.partitions")
    p.add_argument("--skip-duckdb", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        engine, processed, out, settings = a.child
        run_child(engine, processed, out, json.loads(settings))
        return 0

    processed = ensure_data(_count(a.events), a.data or ROOT / "data" / "bench" / a.events.upper())
    from engage_models._core.io import parquet_rows

    events = parquet_rows(processed / "events.parquet")  # one file, or ingest's folder of parts
    spark_settings = {"spark_master": a.spark_master, "spark_driver_memory": a.spark_driver_memory,
                      "spark_shuffle_partitions": a.shuffle_partitions,
                      "spark_conf": {"spark.ui.enabled": "false"}}
    result = {"events": events, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        frames = {}
        for engine, settings in (("duckdb", {"memory_limit": a.memory_limit}), ("spark", spark_settings)):
            if engine == "duckdb" and a.skip_duckdb:
                continue
            print(f"{engine} on {events:,} events ...", flush=True)
            r = _child(["--child", engine, str(processed), f"{tmp}/{engine}.parquet",
                        json.dumps({k: v for k, v in settings.items() if v is not None})])
            frames[engine] = pd.read_parquet(f"{tmp}/{engine}.parquet")
            result.update({f"{engine}_s": round(r["seconds"], 1), f"{engine}_peak_rss_mb": round(r["peak_rss_mb"]),
                           "panel_rows": r["rows"]})
            print(f"  {r['seconds']:8.1f} s  peak RSS {r['peak_rss_mb']:,.0f} MB", flush=True)
        if len(frames) == 2:
            ok, detail = agree(frames["duckdb"], frames["spark"])
            result.update({"agree": ok, "spark_over_duckdb": round(result["spark_s"] / result["duckdb_s"], 1)})
            print(f"agreement: {detail}")
    if a.json:
        print(json.dumps(result))
    return 0 if result.get("agree", True) else 1


if __name__ == "__main__":
    sys.exit(main())
