"""Per-account monthly engagement metrics at N events: the project's engine against a pandas baseline.

Both compute, for every month start of the data (the panel's default grid) and the trailing windows of
28 and 90 days (and the 28 days before the last 28), per account: logins, active days, user-days, usage
hours, outputs, distinct features, active users and content views, from the same processed
``events.parquet``.

(a) **engine**: :func:`engage_models.features.panel.build_panel`, the real code path (DuckDB, bounded memory). It
    builds the *whole* panel, tickets, surveys, subscriptions and labels included: more work than (b).
(b) **pandas**: what an analyst would write: read the Parquet file, then for each date and window filter the
    rows and ``groupby('account_id').agg(...)`` with ``nunique`` for the distinct counts.

Each runs in a fresh child process, so its time and peak resident memory are its own; the script checks that
the two agree (counts exactly, usage hours to 1e-9) and prints the ratio. The pandas run is the baseline of
the ratio, measured in the same benchmark run on the same machine.

Usage::

    python benchmarks/bench_features.py                      # 20M events (generated once, then reused)
    python benchmarks/bench_features.py --events 50M --json  # last line: one JSON object
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

if str(Path(__file__).resolve().parent) not in sys.path:  # loaded by path (tests), not run as a file
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from peak_memory import peak_mib  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PER_ACCOUNT = 3_140  # the simulator's default world: ~6.28M events for 2,000 accounts over 24 months
COMPARED = ("logins", "active_days", "user_days", "usage_hours", "exports", "features_used", "active_users",
            "content_views")
WINDOWS = {"28d": (28, 0), "90d": (90, 0), "prev28d": (56, 28)}
PREV_ONLY = ("logins", "active_users", "usage_hours")


def _count(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 10**3, "M": 10**6, "B": 10**9}.get(text[-1], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def ensure_data(n_events: int, folder: Path, seed: int = 5) -> Path:
    """Simulate and ingest a world of about ``n_events`` events into ``folder`` (reused when present)."""
    processed = folder / "processed"
    if (processed / "events.parquet").exists():
        return processed
    from engage_models.demo.simulator import simulate
    from engage_models.ingest import ingest

    accounts = max(50, round(n_events / EVENTS_PER_ACCOUNT))
    print(f"generating ~{n_events:,} events ({accounts:,} accounts x 24 months) in {folder} ...", flush=True)
    simulate(out=folder / "raw", n_accounts=accounts, months=24, seed=seed, inject_defects=False)
    ingest(folder / "raw", processed, memory_limit="2GB")
    return processed


# ------------------------------------------------------------------------------------------ the two runs
def run_engine(processed: str, out: str, memory_limit: str) -> None:
    from engage_models.features.panel import build_panel

    t0 = time.perf_counter()
    panel = build_panel(processed, memory_limit=memory_limit)
    seconds = time.perf_counter() - t0
    cols = [f"{m}_{w}" for m in COMPARED for w in WINDOWS if w != "prev28d" or m in PREV_ONLY]
    panel[["account_id", "as_of", *cols]].to_parquet(out, index=False)
    _report(seconds)


def run_pandas(processed: str, out: str, dates: list[str]) -> None:
    t0 = time.perf_counter()
    ev = pd.read_parquet(Path(processed) / "events.parquet",
                         columns=["account_id", "user_id", "timestamp", "event_type", "feature", "duration_s"])
    ev["day"] = ev["timestamp"].dt.floor("D")
    for kind in ("login", "export", "content_view"):
        ev[f"is_{kind}"] = ev["event_type"].eq(kind)
    frames = []
    for as_of in pd.to_datetime(dates, utc=True):
        for name, (start, end) in WINDOWS.items():
            w = ev[(ev["day"] >= as_of - pd.Timedelta(days=start)) & (ev["day"] < as_of - pd.Timedelta(days=end))]
            g = w.groupby("account_id").agg(
                logins=("is_login", "sum"), exports=("is_export", "sum"), content_views=("is_content_view", "sum"),
                usage_s=("duration_s", "sum"), active_users=("user_id", "nunique"), active_days=("day", "nunique"),
                features_used=("feature", "nunique"))
            g["user_days"] = w.drop_duplicates(["account_id", "user_id", "day"]).groupby("account_id").size()
            g["usage_hours"] = g.pop("usage_s") / 3600.0
            if name == "prev28d":
                g = g[list(PREV_ONLY)]
            frames.append(g.add_suffix(f"_{name}").reset_index().assign(as_of=as_of))
    wide = pd.concat(frames).groupby(["account_id", "as_of"]).first().reset_index()
    seconds = time.perf_counter() - t0
    wide.to_parquet(out, index=False)
    _report(seconds)


def _report(seconds: float) -> None:
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mib()}))


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"child {args[:2]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agree(engine: pd.DataFrame, pandas_: pd.DataFrame) -> tuple[bool, str]:
    """The pandas rows restricted to the panel's (customer, date) pairs; no activity = 0 on both sides."""
    m = engine.merge(pandas_, on=["account_id", "as_of"], how="left", suffixes=("", "_pd"))
    problems = []
    for col in [c for c in engine.columns if c not in ("account_id", "as_of")]:
        a, b = m[col].astype(float), m[f"{col}_pd"].astype(float).fillna(0.0)
        tol = 1e-9 * a.abs().clip(lower=1) if col.startswith("usage_hours") else 0
        bad = int(((a - b).abs() > tol).sum())
        if bad:
            problems.append(f"{col}: {bad} rows differ")
    return not problems, "; ".join(problems) or "all metrics equal"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", default="20M", help="events to generate (e.g. 20M, 50M); default 20M")
    p.add_argument("--data", type=Path, default=None, help="folder for the generated world (default data/bench/N)")
    p.add_argument("--memory-limit", default="1.5GB", help="DuckDB memory limit of the engine run")
    p.add_argument("--skip-pandas", action="store_true", help="time the engine only")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        kind, processed, out, *rest = a.child
        if kind == "engine":
            run_engine(processed, out, rest[0])
        else:
            run_pandas(processed, out, rest)
        return 0

    n = _count(a.events)
    processed = ensure_data(n, a.data or ROOT / "data" / "bench" / a.events.upper())
    from engage_models._core.io import parquet_rows

    events = parquet_rows(processed / "events.parquet")  # one file, or ingest's folder of parts
    with tempfile.TemporaryDirectory() as tmp:
        eng_out, pd_out = f"{tmp}/engine.parquet", f"{tmp}/pandas.parquet"
        print(f"engine (DuckDB, memory limit {a.memory_limit}) on {events:,} events ...", flush=True)
        e = _child(["--child", "engine", str(processed), eng_out, a.memory_limit])
        engine = pd.read_parquet(eng_out)
        dates = sorted(pd.to_datetime(engine["as_of"]).dt.strftime("%Y-%m-%d").unique())
        result = {"events": events, "dates": len(dates), "engine_s": round(e["seconds"], 2),
                  "engine_peak_rss_mb": round(e["peak_rss_mb"])}
        if not a.skip_pandas:
            print("pandas reference ...", flush=True)
            b = _child(["--child", "pandas", str(processed), pd_out, *dates])
            ok, detail = agree(engine, pd.read_parquet(pd_out))
            result.update({"pandas_s": round(b["seconds"], 2), "speedup": round(b["seconds"] / e["seconds"], 1),
                           "pandas_peak_rss_mb": round(b["peak_rss_mb"]), "agree": ok})
            print(f"agreement: {detail}")
    print(f"events {events:,} | dates {len(dates)}")
    print(f"engine  {result['engine_s']:8.1f} s  peak RSS {result['engine_peak_rss_mb']:,} MB")
    if "pandas_s" in result:
        print(f"pandas  {result['pandas_s']:8.1f} s  peak RSS {result['pandas_peak_rss_mb']:,} MB")
        print(f"engine is {result['speedup']}x faster than the pandas reference (same process tree, same data)")
    if a.json:
        print(json.dumps(result))
    return 0 if result.get("agree", True) else 1


if __name__ == "__main__":
    sys.exit(main())
