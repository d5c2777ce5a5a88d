"""Weekly runs on one data folder: how many score alerts and CRM tasks repeat the previous run's, with the
repeats left out (the defaults) and with every alert and task sent on every run (``alert_repeat_days`` and
``task_repeat_days`` 0).

Each weekly observation date from ``--start`` to ``--end`` runs the pipeline up to the actions stage on a copy
of the raw world (the health stage kept light: one backtest cutoff, no bootstrap). Printed per week and in
total: the alerts listed, those the previous run listed too (same account, same reasons), those left out as
repeats; the same for the new tasks (same account and play).

Usage::

    python benchmarks/weekly_repeats.py               # the tests' small world (300 accounts x 12 months, seed 7)
    python benchmarks/weekly_repeats.py --start 2024-06-05 --end 2024-12-31 --accounts 600
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd


def weekly(raw: Path, folder: Path, dates, repeats: bool, say=print) -> dict:
    from engage_models import pipeline

    shutil.copytree(raw, folder / "raw")
    config = {"health": {"n_cutoffs": 1, "n_bootstrap": 0, "metric_bootstrap": 20}, "data_dir": str(folder),
              "run_date": f"{dates[-1] + pd.Timedelta(days=8):%Y-%m-%d}"}
    if not repeats:
        config["actions"] = {"alert_repeat_days": 0, "task_repeat_days": 0}
    before_alerts, before_tasks = set(), set()
    total = {"alerts": 0, "alerts_as_before": 0, "alerts_left_out": 0, "tasks": 0, "tasks_as_before": 0,
             "tasks_left_out": 0}
    for day in dates:
        run = pipeline.run({**config, "as_of": f"{day:%Y-%m-%d}"}, until="actions", strict=True,
                           progress=lambda m: None)
        art = run["actions"]
        alerts = art.frame("alerts")
        tasks = art.frame("crm_tasks")
        info = art.json("repeats")
        now_alerts = set(zip(alerts["account_id"], alerts["alert"], strict=True))
        new = tasks[tasks["status"] == "new"]
        now_tasks = set(zip(new["account_id"], new["play"], strict=True))
        week = {"alerts": len(now_alerts), "alerts_as_before": len(now_alerts & before_alerts),
                "alerts_left_out": info["alerts_repeated"], "tasks": len(now_tasks),
                "tasks_as_before": len(now_tasks & before_tasks), "tasks_left_out": info["tasks_repeated"]}
        say(f"  {day:%Y-%m-%d}  " + "  ".join(f"{k} {v}" for k, v in week.items()))
        total = {k: total[k] + week[k] for k in total}
        before_alerts, before_tasks = now_alerts, now_tasks
    return total


def main(argv=None) -> None:
    from engage_models.demo.simulator import SimConfig, simulate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2024-09-04")
    ap.add_argument("--end", default="2024-12-31")
    args = ap.parse_args(argv)
    dates = list(pd.date_range(args.start, args.end, freq="7D"))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "world" / "raw"
        simulate(SimConfig(n_accounts=args.accounts, months=args.months, seed=args.seed), out=raw)
        for repeats in (False, True):
            print("every alert and task on every run:" if not repeats else "repeats left out (the defaults):")
            total = weekly(raw, Path(tmp) / ("on" if repeats else "off"), dates, repeats)
            print("  total   " + "  ".join(f"{k} {v}" for k, v in total.items()))


if __name__ == "__main__":
    main()
