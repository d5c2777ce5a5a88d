"""The sent ledger (``artifacts/sent.json``) after a year of weekly runs of a large company: its size, and what
reading, filtering and recording it costs a run, against the ledger written as indented JSON (its first form) in
the same process.

The entries are made up, at the rates the small world's weekly runs gave (``benchmarks/weekly_repeats.py``:
545 new tasks and 103 alerts in 17 weekly runs of 300 accounts, about 0.107 and 0.020 per account and week), for
``--accounts`` accounts over ``--weeks`` weekly runs (57: the ledger keeps 400 days). Each run reads the ledger,
takes what counts for its date (:func:`~engage_models.actions.repeats.sent_before`) and records what it sent
(:func:`~engage_models.actions.repeats.record_sent`); printed: the last run's seconds with each writer, their
ratio, and the file's size.

Usage::

    python benchmarks/ledger_at_scale.py                  # 16,000 accounts, 57 weekly runs
    python benchmarks/ledger_at_scale.py --accounts 50000
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from unittest import mock

import pandas as pd

PLAYS = ("expansion_conversation", "usage_tips", "training_session", "re_engagement", "community_invite",
         "rescue_call")


def indented(path, text):
    """The first form of the ledger's file: ``write_json``, every field on a line of its own."""
    from engage_models._core.io import write_json

    return write_json(path, json.loads(text))


def year(folder: Path, accounts: int, weeks: int, writer=None) -> float:
    """``weeks`` weekly runs on a fresh ledger in ``folder``; the last run's seconds (read, filter, record)."""
    from engage_models.actions import repeats as R

    rng = random.Random(1)
    ids = [f"ACC{i:06d}" for i in range(accounts)]
    path = folder / R.LEDGER
    seconds = 0.0
    for w in range(weeks):
        day = pd.Timestamp("2025-01-06", tz="UTC") + pd.Timedelta(weeks=w)
        got = rng.sample(ids, round(0.107 * accounts))
        tasks = pd.DataFrame({"account_id": got, "play": [rng.choice(PLAYS) for _ in got], "status": "new"})
        tasks["task_key"] = tasks["account_id"] + ":" + tasks["play"] + f":{day:%Y-%m-%d}"
        told = rng.sample(ids, round(0.020 * accounts))
        alerts = pd.DataFrame({"account_id": told, "score": 40.0, "band": "yellow", "alert": "score_drop",
                               "previous_as_of": day - pd.Timedelta(days=30)})
        t0 = time.perf_counter()
        R.sent_before(R.read_ledger(path), day, alert_days=45, task_days=28)
        if writer is None:
            R.record_sent(path, day, alerts=alerts, tasks=tasks)
        else:
            with mock.patch.object(R, "write_text", writer):
                R.record_sent(path, day, alerts=alerts, tasks=tasks)
        seconds = time.perf_counter() - t0
    return seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=16000)
    ap.add_argument("--weeks", type=int, default=57)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base, now = Path(tmp) / "indented", Path(tmp) / "compact"
        base.mkdir()
        now.mkdir()
        t_base = year(base, args.accounts, args.weeks, writer=indented)
        t_now = year(now, args.accounts, args.weeks)
        ledger = json.loads((now / "sent.json").read_text(encoding="utf-8"))
        size_base, size_now = ((p / "sent.json").stat().st_size / 1e6 for p in (base, now))
    print(f"{args.accounts:,} accounts, {args.weeks} weekly runs: {len(ledger['tasks']):,} tasks and "
          f"{len(ledger['alerts']):,} alerts kept")
    print(f"the last run's read, filter and record: {t_now:.2f} s against {t_base:.2f} s indented "
          f"({t_now / t_base:.2f} x); the file {size_now:.1f} MB against {size_base:.1f} MB")


if __name__ == "__main__":
    main()
