"""How often the card choice changes on thin worlds when the paired difference follows the backtest's 2.5% rule.

    python benchmarks/bench_card_choice_thin.py [--worlds 300] [--boot 200] [--accounts 30 60 120]

Each world has ``accounts`` accounts with 1 to 4 test rows each; a row churns with probability
``sigmoid(a + z)``, ``z`` the account's true risk (standard normal) and ``a`` set so that about 3% of the rows
churn (a thin backtest: a handful of churning accounts). The linear card scores ``z`` plus noise of SD 1, the
shape card ``z`` plus noise of SD 0.7 (a slightly better card), or the same noise as the linear card (``--equal``).

:func:`engage_models.health.evaluation.choose_card` chooses on the account bootstrap's ROC-AUC, by the rule of
before (the paired interval from the resamples that define both, however many lack a value) and now (no interval
when more than 2.5% of all resamples hold one outcome, ``(1 - c/n)^n`` exact: then the linear card). Printed per
size: the worlds, how many churning accounts they hold, how often each rule keeps the shape card, and how often
the choice changes (always from the shape card to the linear card, on worlds of at most 3 churning accounts).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from engage_models.health import evaluation as E


def world(accounts: int, seed: int, equal: bool):
    rng = np.random.default_rng([seed, accounts])
    z = rng.normal(size=accounts)
    ids = np.repeat(np.arange(accounts), rng.integers(1, 5, accounts))
    zr = z[ids]
    y = (rng.random(len(ids)) < 1 / (1 + np.exp(-(-4.0 + zr)))).astype(float)
    lin = 1 / (1 + np.exp(-(-4.0 + zr + rng.normal(0, 1.0, len(ids)))))
    shape = 1 / (1 + np.exp(-(-4.0 + zr + rng.normal(0, 1.0 if equal else 0.7, len(ids)))))
    return y, {"shape": shape, "linear": lin}, ids


def old_choice(boot) -> str:
    """The rule of before: the paired interval of the resamples that define both."""
    auc = boot[boot["metric"] == "roc_auc"].set_index("model")["estimate"]
    if not auc["shape"] > auc["linear"]:
        return "linear"
    d = boot.attrs["draws"]["shape", "roc_auc"] - boot.attrs["draws"]["linear", "roc_auc"]
    d = d[np.isfinite(d)]
    return "shape" if len(d) and np.percentile(d, 2.5) > 0 else "linear"


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=300)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--accounts", type=int, nargs="+", default=[30, 60, 120])
    ap.add_argument("--equal", action="store_true")
    a = ap.parse_args(argv)
    rows = []
    for n in a.accounts:
        for seed in range(a.worlds):
            y, scores, ids = world(n, seed, a.equal)
            if y.sum() == 0 or y.sum() == len(y):
                continue
            boot = E.bootstrap(y, scores, ids, n_boot=a.boot, seed=seed, metrics={"roc_auc": E.roc_auc})
            churning = int(pd.Series(y).groupby(ids).max().sum())
            rows.append({"accounts": n, "churning": churning, "old": old_choice(boot),
                         "new": E.choose_card(boot)["form"]})
    res = pd.DataFrame(rows)
    res["thin"] = res["churning"] <= 3
    out = res.groupby("accounts").agg(worlds=("old", "size"), churning_median=("churning", "median"),
                                      thin_worlds=("thin", "sum"), shape_before=("old", lambda s: (s == "shape").sum()),
                                      shape_now=("new", lambda s: (s == "shape").sum()))
    out["changed"] = res.groupby("accounts").apply(lambda g: (g["old"] != g["new"]).sum(), include_groups=False)
    out["changed_thin"] = res[res["thin"]].groupby("accounts").apply(lambda g: (g["old"] != g["new"]).sum(),
                                                                     include_groups=False).reindex(out.index,
                                                                                                   fill_value=0)
    print(out.to_string())
    return res


if __name__ == "__main__":
    main()
