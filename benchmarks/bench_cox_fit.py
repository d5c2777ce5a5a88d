"""One time-varying Cox fit on a world's panel rows: lifelines' fitter against the package's, same process.

The package's fitter (``engage_models.survival.cox.CoxTimeVaryingFitterFast``) is lifelines'
``CoxTimeVaryingFitter`` with the risk-set sums vectorised; both fit the same design (the demo world's
time-varying covariates) at the same penalty, alternately, ``--repeat`` times each. Printed: the median
seconds of each, their ratio, and the largest difference in coefficients and log-likelihood.

Usage::

    python benchmarks/bench_cox_fit.py                   # data/ (the demo world; `make report` builds it)
    python benchmarks/bench_cox_fit.py --data-dir DIR --repeat 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from lifelines import CoxTimeVaryingFitter


def design(data_dir: str):
    """The time-varying model's rows (start/stop, event, id) and encoded covariates for ``data_dir``."""
    from engage_models import pipeline
    from engage_models.survival import analysis
    from engage_models.survival.design import Design

    run = pipeline.run({"data_dir": data_dir}, until="panel", progress=lambda m: None)
    adata = analysis.account_table(data_dir, None)
    pdata = analysis.panel_table(adata, panel=run.panel)
    rows = pdata.start_stop
    rows = rows[rows[pdata.covariates].notna().all(axis=1) & (rows["stop"] > rows["start"])]
    frame = Design.fit(rows, pdata.covariates).transform(rows)
    frame["_start"], frame["_stop"] = rows["start"].to_numpy(float), rows["stop"].to_numpy(float)
    frame["_event"], frame["_id"] = rows["event"].to_numpy(int), rows["account_id"].to_numpy()
    return frame


def main() -> None:
    from engage_models.survival.cox import CoxTimeVaryingFitterFast

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--penalizer", type=float, default=0.01)
    args = ap.parse_args()
    frame = design(args.data_dir)
    kw = {"event_col": "_event", "start_col": "_start", "stop_col": "_stop", "id_col": "_id"}
    times, fits = {"lifelines": [], "package": []}, {}
    for _ in range(args.repeat):
        for name, cls in (("lifelines", CoxTimeVaryingFitter), ("package", CoxTimeVaryingFitterFast)):
            t0 = time.perf_counter()
            fits[name] = cls(penalizer=args.penalizer).fit(frame, **kw)
            times[name].append(time.perf_counter() - t0)
    slow, fast = (float(np.median(times[k])) for k in ("lifelines", "package"))
    ev = frame["_event"].astype(bool)
    print(f"rows {len(frame):,}, terms {frame.shape[1] - 4}, churns {int(ev.sum()):,}, "
          f"distinct churn times {frame.loc[ev, '_stop'].nunique():,}")
    print(f"lifelines {slow:.2f} s, package {fast:.2f} s: {slow / fast:.1f}x")
    diff = float((fits["package"].params_ - fits["lifelines"].params_).abs().max())
    print(f"largest coefficient difference {diff:.1e}, "
          f"log-likelihood difference {fits['package'].log_likelihood_ - fits['lifelines'].log_likelihood_:.1e}")


if __name__ == "__main__":
    main()
