"""What a company calendar costs ingest: the same raw world ingested on UTC, on a zone without summer time
(its offset added per time) and on one with it (a time-zone conversion per time), alternated, in one process.

The ratios to the UTC ingest of the same process are what travels between machines. The processed events of
the three are compared too: the same rows, their times apart by the zone's offset.

Usage::

    python benchmarks/bench_calendar_ingest.py                         # a 400-account world, simulated here
    python benchmarks/bench_calendar_ingest.py --raw data/bench/stages-16000x24/raw --rounds 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

ZONES = ("UTC", "Asia/Tokyo", "America/New_York")


def main(argv=None) -> None:
    from engage_models.demo.simulator import SimConfig, simulate
    from engage_models.ingest import ingest

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=None, help="a raw folder (default: a world simulated here)")
    ap.add_argument("--accounts", type=int, default=400, help="size of the simulated world (without --raw)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-calendar-") as tmp:
        raw = args.raw
        if raw is None:
            raw = Path(tmp) / "raw"
            simulate(SimConfig(n_accounts=args.accounts, months=24, seed=7), out=raw)
        seconds: dict[str, list[float]] = {z: [] for z in ZONES}
        for _ in range(args.rounds):
            for zone in ZONES:
                t0 = time.perf_counter()
                ingest(raw, Path(tmp) / zone.replace("/", "_"), now="2030-01-01", timezone=zone)
                seconds[zone].append(time.perf_counter() - t0)
        base = statistics.mean(seconds["UTC"])
        events = {z: pd.read_parquet(Path(tmp) / z.replace("/", "_") / "events.parquet", columns=["timestamp"])
                  for z in ZONES}
        print(f"events: {len(events['UTC']):,}")
        print(f"{'calendar':<18} {'seconds (each round)':<26} {'x UTC':>6}   times against UTC's")
        for zone in ZONES:
            shift = (events[zone]["timestamp"] - events["UTC"]["timestamp"]).dt.total_seconds() / 3600
            runs = ", ".join(f"{s:.1f}" for s in seconds[zone])
            print(f"{zone:<18} {runs:<26} {statistics.mean(seconds[zone]) / base:>6.2f}   "
                  f"{'same rows' if len(events[zone]) == len(events['UTC']) else 'OTHER ROWS'}, "
                  f"hours apart: {sorted(shift.unique().tolist())}")


if __name__ == "__main__":
    main()
