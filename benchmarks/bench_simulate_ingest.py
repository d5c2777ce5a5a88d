"""Time simulation and ingest at a given size; print rows/second and ratios against in-process baselines.

Baselines, run in the same process on the same machine so the ratios travel between machines:

* simulation vs writing the same number of rows of random columns to Parquet with pyarrow (the floor cost
  of producing that file at all);
* ingest vs a plain DuckDB Parquet-to-Parquet copy of every raw table (reading and writing, no checks).

Usage::

    python benchmarks/bench_simulate_ingest.py --accounts 2000          # the demo size, ~6M events
    python benchmarks/bench_simulate_ingest.py --accounts 16000         # ~50M events
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engage_models.demo.simulator import SimConfig, simulate
from engage_models.ingest import find_source, ingest
from engage_models.ingest.contracts import TABLE_ORDER


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def baseline_write(n_rows: int, path: Path, chunk: int = 2_000_000) -> None:
    """Random columns shaped like events, written in row groups: the floor cost of the file."""
    rng = np.random.default_rng(0)
    ids = np.array([f"A{i:05d}" for i in range(10_000)], dtype=object)
    with pq.ParquetWriter(path, pa.schema([("account_id", pa.string()), ("user_id", pa.string()),
                                           ("timestamp", pa.timestamp("us", tz="UTC")),
                                           ("event_type", pa.string()), ("feature", pa.string()),
                                           ("duration_s", pa.float64())]), compression="zstd") as w:
        for start in range(0, n_rows, chunk):
            k = min(chunk, n_rows - start)
            w.write_table(pa.table({
                "account_id": ids[rng.integers(0, len(ids), k)], "user_id": ids[rng.integers(0, len(ids), k)],
                "timestamp": pa.array(np.sort(rng.integers(1.7e15, 1.8e15, k)), pa.timestamp("us", tz="UTC")),
                "event_type": ids[rng.integers(0, 4, k)], "feature": ids[rng.integers(0, 10, k)],
                "duration_s": rng.lognormal(5, 1, k)}))


def baseline_copy(raw: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    with duckdb.connect() as con:
        for table in TABLE_ORDER:
            src = find_source(raw, table)
            if src is None:
                continue
            parquet = str(src).endswith(".parquet")
            reader = "read_parquet($p)" if parquet else "read_csv($p, header = true, all_varchar = true)"
            rel = con.sql(f"SELECT * FROM {reader}", params={"p": str(src)})
            rel.write_parquet(str(out / f"{table}.parquet"), compression="zstd")
            rows += pq.ParquetFile(out / f"{table}.parquet").metadata.num_rows
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--events-scale", type=float, default=1.0)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="engage-bench-"))
    raw, processed = work / "raw", work / "processed"
    try:
        cfg = SimConfig(n_accounts=args.accounts, months=args.months, events_scale=args.events_scale)
        summary, t_sim = _timed(lambda: simulate(cfg, out=raw))
        rows_sim = sum(summary["tables"].values())
        _, t_base_w = _timed(lambda: baseline_write(rows_sim, work / "baseline.parquet"))
        report, t_ing = _timed(lambda: ingest(raw, processed, memory_limit=args.memory_limit))
        rows_ing = sum(r.rows_read for r in report.tables.values())
        rows_copy, t_copy = _timed(lambda: baseline_copy(raw, work / "copy"))

        print(f"size: {args.accounts:,} accounts x {args.months} months, events scale {args.events_scale}; "
              f"{summary['tables']['events']:,} events, {rows_sim:,} rows in all")
        print(f"{'step':<34}{'seconds':>10}{'rows/s':>14}{'x baseline':>12}")
        for name, rows, secs, base in (
            ("simulate (all tables)", rows_sim, t_sim, t_base_w),
            ("  baseline: plain Parquet write", rows_sim, t_base_w, t_base_w),
            ("ingest (validate + quarantine)", rows_ing, t_ing, t_copy),
            ("  baseline: plain DuckDB copy", rows_copy, t_copy, t_copy),
        ):
            print(f"{name:<34}{secs:>10.2f}{rows / secs:>14,.0f}{secs / base:>12.2f}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
