"""Peak memory and time of ingest from a PostgreSQL database against ingest of the same world from its files.

The world is simulated, loaded into a throwaway PostgreSQL server (``tests/pg_server.py``: the distribution's
``postgresql`` package, a cluster in a temporary folder), and ingested three ways, each in a fresh process
whose peak resident memory (``VmHWM``) is reported: importing the package only (the floor), ingest from
the files, ingest of every table from the database (ADBC, Arrow batches written to Parquet one at a time).
The ratios are what travels between machines. The processed tables of the two ingests are compared too.

Usage::

    python benchmarks/bench_database_ingest.py                    # 400 accounts x 24 months, ~1.2M events
    python benchmarks/bench_database_ingest.py --accounts 2000    # the demo size, ~6M events
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # loaded by path, not run as a file
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from peak_memory import peak_mib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-01-01"


def child(mode: str, raw: str, out: str, sources: str | None) -> None:
    """Run in a fresh process: import, maybe ingest, and print the peak memory as JSON."""
    from engage_models.ingest import ingest

    seconds, rows = 0.0, 0
    if mode != "import":
        t0 = time.perf_counter()
        report = ingest(raw, out, sources=sources if mode == "database" else None, now=NOW)
        seconds = time.perf_counter() - t0
        rows = sum(r.rows_read for r in report.tables.values())
    print(json.dumps({"mode": mode, "peak_mib": peak_mib(), "seconds": seconds, "rows": rows}))


def run_child(mode: str, raw: Path, out: Path, sources: Path | None, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(raw), str(out), str(sources or "")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=400)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, raw, out, sources = args.child
        child(mode, raw, out, sources or None)
        return

    work = Path(tempfile.mkdtemp(prefix="engage-bench-db-"))
    try:
        measure(args.accounts, args.months, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(accounts: int, months: int, work: Path) -> None:
    import pandas as pd
    import yaml

    sys.path.insert(0, str(ROOT / "tests"))
    from engage_models.demo.simulator import simulate
    from pg_server import TemporaryPostgres, load_world, sources_for

    t0 = time.perf_counter()
    summary = simulate(out=work / "raw", n_accounts=accounts, months=months, seed=42)
    print(f"world: {summary['tables']['events']:,} events, {accounts:,} accounts x {months} months "
          f"(simulated in {time.perf_counter() - t0:.1f} s)")
    with TemporaryPostgres() as pg:
        db = pg.create_database("world")
        t0 = time.perf_counter()
        with pg.connect(db) as conn:
            load_world(work / "raw", conn)
        print(f"loaded into PostgreSQL ({pg.bindir.parent.name}) in {time.perf_counter() - t0:.1f} s")
        sources = work / "sources.yaml"
        sources.write_text(yaml.safe_dump(sources_for(pg.url("${BENCH_PG_PASSWORD}", database=db))))
        env = {**os.environ, "BENCH_PG_PASSWORD": pg.password,
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        floor = run_child("import", work / "raw", work / "unused", None, env)
        files = run_child("files", work / "raw", work / "from-files", None, env)
        database = run_child("database", work / "raw", work / "from-db", sources, env)
    same = all(pd.read_parquet(work / "from-files" / f"{t}.parquet").equals(
        pd.read_parquet(work / "from-db" / f"{t}.parquet")) for t in summary["tables"])
    print(f"\n{'ingest':<28}{'peak MiB':>10}{'above import':>14}{'seconds':>10}{'rows/s':>12}")
    for name, r in (("import only (floor)", floor), ("from files", files), ("from PostgreSQL", database)):
        rate = f"{r['rows'] / r['seconds']:,.0f}" if r["seconds"] else ""
        print(f"{name:<28}{r['peak_mib']:>10.0f}{r['peak_mib'] - floor['peak_mib']:>14.0f}"
              f"{r['seconds'] or float('nan'):>10.1f}{rate:>12}")
    files_above = files["peak_mib"] - floor["peak_mib"]
    above = f"{(database['peak_mib'] - floor['peak_mib']) / files_above:.2f}" if files_above > 0 else "n/a"
    print(f"\nratios, database / files: peak memory {database['peak_mib'] / files['peak_mib']:.2f}, "
          f"above the import floor {above}, time {database['seconds'] / files['seconds']:.2f}")
    print(f"processed tables equal: {same}")


if __name__ == "__main__":
    main()
