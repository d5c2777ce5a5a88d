"""Coverage of the 95% bootstrap interval of each account's churn within 12 months (``engage survival``'s page,
"churn within 12 months"), on tables whose hazard is known.

    python benchmarks/bench_churn_interval.py [--sizes 300 1200] [--seeds 25] [--boot 100]

Each table has ``n`` accounts of one row: a plan, ``basic`` or ``pro`` (half each), a lifetime drawn from an
exponential distribution with monthly hazard 0.03 (basic) or 0.06 (pro, hazard ratio 2), and a censoring time
uniform on 1-48 months (the accounts still customers at the export). With a constant hazard the chance that an
account still a customer churns within the next 12 months is ``1 - exp(-12 rate)`` whatever its tenure: 30.2%
(basic) and 51.3% (pro). :func:`~engage_models.survival.analysis.analyse_table` fits the table (the penalty chosen
by cross-validation, as the command does) and ``--boot`` bootstrap refits give each account still a customer its
percentile interval of ``churn_12m``.

Printed per size and plan: the share of (table, account) pairs whose interval covers the truth, the same for the
account of median tenure in each plan and table (one per table: its Monte Carlo SE is sqrt(p(1-p)/seeds)), and the
median width. The accounts of a table share one fit, so the pooled share's Monte Carlo error is the per-table one,
not the number of accounts'.

Results (December 2026, ``--seeds 25 --boot 100``):

=====  =====  ===============  =====================  ============  ===================
size   plan   pooled coverage  median-tenure account  median width  median estimate
=====  =====  ===============  =====================  ============  ===================
300    basic  90%              92%                    0.195         0.306 (truth 0.302)
300    pro    91%              92%                    0.225         0.507 (truth 0.513)
1200   basic  93%              92%                    0.094         0.302
1200   pro    91%              88%                    0.111         0.512
=====  =====  ===============  =====================  ============  ===================

Monte Carlo SE of a coverage over 25 tables: about 5 points. The estimates are unbiased, the width halves with four
times the accounts, and the percentile interval covers a little under its nominal 95% (88-93%), as percentile
intervals of 100 refits tend to.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd

from engage_models.survival import analyse_table

RATES = {"basic": 0.03, "pro": 0.06}


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(list(RATES), n)
    rate = pd.Series(plan).map(RATES).to_numpy()
    t, c = rng.exponential(1 / rate), rng.uniform(1, 48, n)
    return pd.DataFrame({"id": [f"a{i}" for i in range(n)], "months": np.minimum(t, c),
                         "left": (t <= c).astype(int), "plan": plan})


def truth(plan) -> np.ndarray:
    return 1 - np.exp(-12 * pd.Series(plan).map(RATES).to_numpy())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[300, 1200])
    ap.add_argument("--seeds", type=int, default=25)
    ap.add_argument("--boot", type=int, default=100)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    for n in args.sizes:
        rows, start = [], time.time()
        for seed in range(args.seeds):
            df = table(n, seed)
            pa = analyse_table(df, duration="months", event="left", id_col="id", n_boot=args.boot, cv=3,
                               random_state=seed).per_account
            plan = df.set_index("id").loc[pa["id"], "plan"].to_numpy()
            true = truth(plan)
            for p in RATES:
                m = plan == p
                low, high = pa["churn_12m_low"].to_numpy()[m], pa["churn_12m_high"].to_numpy()[m]
                covered = (low <= true[m]) & (true[m] <= high)
                middle = np.argsort(pa["tenure_months"].to_numpy()[m])[m.sum() // 2]
                rows.append({"plan": p, "seed": seed, "pooled": covered.mean(), "median_account": covered[middle],
                             "width": float(np.median(high - low)),
                             "estimate": float(np.median(pa["churn_12m"].to_numpy()[m]))})
        res = pd.DataFrame(rows).groupby("plan").agg(pooled=("pooled", "mean"),
                                                     median_account=("median_account", "mean"),
                                                     width=("width", "median"), estimate=("estimate", "median"))
        res["truth"] = [float(truth([p])[0]) for p in res.index]
        print(f"n={n} seeds={args.seeds} boot={args.boot} ({time.time() - start:.0f} s)")
        print(res.round(3).to_string())


if __name__ == "__main__":
    main()
