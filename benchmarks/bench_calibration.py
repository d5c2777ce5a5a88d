"""The learned cards' calibration out of time: the final card's intercept matched to its training churn rate,
against the folds' intercept carried over (the map before December 2026).

    python benchmarks/bench_calibration.py [--seeds 1 2 3 4 5 6] [--accounts 250] [--months 14] [--workdir DIR]

Each seed simulates a world (``engage simulate --clean``), builds its panel with the pipeline and runs the
pipeline's out-of-time backtest of both learned cards (the linear card and the shape card, the run's 6 cutoffs and
90-day horizon) twice in this process: with ``_calibrated.MATCH_TRAINING_RATE`` off (``folds``) and on
(``matched``). The predictions are the same fits but for the calibration's intercept, so the columns compare the
intercept alone. Printed per world and card: the out-of-time log loss and ICI (integrated calibration index) of
each, and per cutoff the mean predicted probability minus the churn that followed ("in the large"). Lower is
better for both; log loss is the proper score, the ICI a smoothed read of the same thing that is noisy on a
few hundred accounts (a calibrated score shows 0.01-0.03 there).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from engage_models.health import _calibrated, evaluation
from engage_models.health.evaluation import ici


def world_panel(seed: int, accounts: int, months: int, workdir: Path) -> tuple[pd.DataFrame, object]:
    """The panel of a simulated world (made once per folder and reused) and the run's configuration."""
    from engage_models import pipeline
    from engage_models.demo.simulator import SimConfig, simulate

    root = workdir / f"world-{accounts}x{months}-seed{seed}"
    if not (root / "raw").exists():
        simulate(SimConfig(n_accounts=accounts, months=months, seed=seed, inject_defects=False), out=root / "raw")
    run = pipeline.run(data_dir=str(root), until="panel", progress=lambda msg: None)
    return run.artifacts["panel"].frame("panel"), run.config


def log_loss(y, p) -> float:
    p = np.clip(np.asarray(p, float), 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def backtest(panel: pd.DataFrame, config, matched: bool) -> pd.DataFrame:
    from engage_models.pipeline.stages import _learned

    _calibrated.MATCH_TRAINING_RATE = matched
    models = {"linear": lambda: _learned("linear", config, 0), "shape": lambda: _learned("shape", config, 0)}
    bt = evaluation.backtest(panel, models, horizon_days=config.horizon_days, n_cutoffs=config.health.n_cutoffs)
    return bt.wide()


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--accounts", type=int, default=250)
    ap.add_argument("--months", type=int, default=14)
    ap.add_argument("--workdir", default=None, help="where the worlds are made and kept (default: a temporary folder)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-calibration-") as tmp:
        workdir = Path(args.workdir or tmp)
        for seed in args.seeds:
            panel, config = world_panel(seed, args.accounts, args.months, workdir)
            waves = {name: backtest(panel, config, name == "matched") for name in ("folds", "matched")}
            for card in ("linear", "shape"):
                row = {"world": f"seed {seed}", "card": card, "rows": len(waves["folds"]),
                       "churned": int(waves["folds"]["y"].sum())}
                for name, w in waves.items():
                    y, p = w["y"].to_numpy(float), w[card].to_numpy(float)
                    large = w.assign(p=p).groupby("as_of").apply(lambda g: g["p"].mean() - g["y"].mean())
                    row.update({f"log_loss_{name}": log_loss(y, p), f"ici_{name}": ici(y, p),
                                f"in_the_large_{name}": " ".join(f"{v:+.3f}" for v in large)})
                rows.append(row)
                print(f"{row['world']:>8} {card:6} log loss {row['log_loss_folds']:.4f} -> "
                      f"{row['log_loss_matched']:.4f}   ICI {row['ici_folds']:.4f} -> {row['ici_matched']:.4f}   "
                      f"in the large per cutoff: {row['in_the_large_folds']}  ->  {row['in_the_large_matched']}",
                      flush=True)
    _calibrated.MATCH_TRAINING_RATE = True
    out = pd.DataFrame(rows)
    for card, g in out.groupby("card"):
        d = g["log_loss_matched"] - g["log_loss_folds"]
        print(f"{card}: log loss matched - folds, per world: {' '.join(f'{v:+.4f}' for v in d)} "
              f"(lower in {int((d < 0).sum())} of {len(d)}; mean {d.mean():+.4f}); ICI mean "
              f"{g['ici_folds'].mean():.4f} -> {g['ici_matched'].mean():.4f}")
    return out


if __name__ == "__main__":
    main()
