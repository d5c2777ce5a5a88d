"""How a frozen model does on the labels that matured after it was trained.

A row's label (churn within ``horizon_days`` of ``as_of``) is *matured* once the data reach
``as_of + horizon_days``; before that a churn already seen is counted but a retention is not yet known, so an
immature label is biased towards churn and is never used here. Only rows observed after the model's training
cutoff (``as_of > trained_until``) are judged: the model never saw them. A panel whose labels end where the
accounts' churn stops (:func:`engage_models.pipeline.stages.known_labels`) has none matured past the stop, and the
reason a check waits names the stop (:func:`not_matured`).

Per observation date and pooled over all of them:

* observed churn (with its Wilson interval) against the mean predicted probability;
* calibration-in-the-large: the mean of ``y - p`` (observed minus predicted churn), with an interval that
  resamples nothing but treats each account as one cluster (the linearisation variance of
  :func:`engage_models._core.stats.cluster_moments` and its t interval with K - 1 degrees of freedom), since
  one account contributes a row at every date;
* ROC-AUC with a 95% percentile interval from a bootstrap of accounts
  (:func:`engage_models.health.evaluation.bootstrap`), all rows of an account drawn together, by the backtest's
  rule: a resample of one outcome has no ROC-AUC, the others give the interval, and there is none when more than
  2.5% of all resamples hold one outcome, a share known exactly, ``(1 - c/n)^n`` for ``c`` of ``n`` accounts
  (:func:`~engage_models.health.evaluation.one_class_shares`), not counted among the draws. Counted, it
  depended on the draws: 30 accounts with 2 churners (13% of resamples without one) kept an interval in 7% of
  20-draw bootstraps, 100 with 5 (0.6%) lost it in 11%, and 100 with 4 (1.7%) in 12% of 200-draw ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.reasons import Thin, date_of
from .._core.stats import cluster_moments, cluster_t_interval, effective_n, wilson_interval
from .._core.time import to_utc
from .drift import features_of

LABEL = "churned_within_h"


def _auc_metric() -> dict:
    """The backtest's own ROC-AUC (scikit-learn's number; NaN on one outcome): :func:`~engage_models.health
    .evaluation.bootstrap` knows the exact share of resamples it is undefined on for its own metric functions only;
    for a stand-in (``roc_auc_score``, as here before) it counted that share among the draws."""
    from ..health.evaluation import METRICS

    return {"roc_auc": METRICS["roc_auc"]}


def matured_rows(panel: pd.DataFrame, *, trained_until, as_of, horizon_days: int, label: str = LABEL,
                 date_col: str = "as_of") -> pd.DataFrame:
    """Rows observed after ``trained_until`` whose label has matured by ``as_of`` (the data's end):
    ``trained_until < row as_of`` and ``row as_of + horizon_days <= as_of``, label present."""
    d = to_utc(panel[date_col])
    h = pd.Timedelta(days=int(horizon_days))
    keep = (d > to_utc(trained_until)) & (d + h <= to_utc(as_of)) & panel[label].notna()
    return panel[keep.to_numpy()]


def calibration_in_the_large(y, p, clusters, level: float = 0.95) -> dict:
    """Observed minus mean predicted churn, ``mean(y - p)``, with its account-clustered t interval.

    ``churners`` counts the rows that churned, ``churned_accounts`` the accounts among them (pooled over dates, an
    account churning within the horizon of two dates is two rows and one account).

    Also the observed rate with its Wilson interval on the effective number of rows (an account's rows at
    several dates are not independent: on 200 accounts x 6 dates the interval on rows covered the truth 83% of
    the time for a nominal 95%; :func:`~engage_models._core.stats.effective_n`), and the mean prediction. ``off``
    is True when the interval of the difference excludes 0."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    m = cluster_moments(y - p, clusters=clusters).iloc[0]
    lo, hi = cluster_t_interval(m["mean"], m["var_cluster"], m["clusters"], level)
    o = cluster_moments(y, clusters=clusters).iloc[0]
    n_eff = float(effective_n(o["n"], o["clusters"], o["var_cluster"], o["var_srs"], o["sum_m2"], level))
    olo, ohi = wilson_interval(y.mean() * n_eff, n_eff, level)
    lo, hi = float(lo), float(hi)
    churned = np.asarray(clusters)[y == 1]
    return {"n": int(len(y)), "accounts": int(m["clusters"]), "churners": int(y.sum()),
            "churned_accounts": int(len(pd.unique(churned))),
            "observed": float(y.mean()), "observed_low": float(olo), "observed_high": float(ohi),
            "predicted": float(p.mean()), "difference": float(m["mean"]), "ci_low": lo, "ci_high": hi,
            "off": bool(np.isfinite(lo) and (lo > 0 or hi < 0))}


def auc_interval(y, p, clusters, *, n_boot: int = 200, seed: int = 0) -> dict:
    """ROC-AUC with its 95% account-bootstrap interval (NaN without both outcomes; the interval NaN when more than
    2.5% of the resamples hold one outcome: see the module docstring)."""
    from ..health.evaluation import bootstrap

    y = np.asarray(y, dtype=float)
    if len(np.unique(y)) < 2:
        return {"auc": np.nan, "auc_low": np.nan, "auc_high": np.nan}
    boot = bootstrap(y, {"model": np.asarray(p, dtype=float)}, clusters, n_boot=n_boot, seed=seed,
                     metrics=_auc_metric()).iloc[0]
    return {"auc": float(boot["estimate"]), "auc_low": float(boot["ci_low"]), "auc_high": float(boot["ci_high"])}


def pooled_calibration(model, panel: pd.DataFrame, *, trained_until, as_of, horizon_days: int,
                       id_col: str = "account_id", date_col: str = "as_of") -> dict:
    """:func:`calibration_in_the_large` of ``model`` on all labels matured since ``trained_until`` (raises
    :class:`InsufficientData` when there is none)."""
    rows = _matured_or_raise(panel, trained_until, as_of, horizon_days, date_col)
    p = np.asarray(model.predict_proba(features_of(rows))[:, 1], dtype=float)
    return calibration_in_the_large(rows[LABEL].astype(float).to_numpy(), p, rows[id_col].to_numpy())


def churn_stop_of(panel: pd.DataFrame):
    """The day the accounts' churn stops when ``panel``'s labels were cut there
    (:func:`engage_models.pipeline.stages.known_labels` records it in ``attrs["churn_stop"]``), else None."""
    return (panel.attrs.get("churn_stop") or {}).get("stop")


def not_matured(panel: pd.DataFrame, *, trained_until, as_of, horizon_days: int) -> tuple[str, dict]:
    """Why no label has matured since ``trained_until``, as a reason key and its arguments: the outcomes end where
    the data end (``as_of``), or, for a panel whose labels end at a churn stop (:func:`churn_stop_of`), at the
    stop, and the reason names it (it said the data end on the observation date, months after the last outcome
    known)."""
    stop = churn_stop_of(panel)
    args = {"cutoff": date_of(to_utc(trained_until)), "days": horizon_days}
    if stop:
        return "reason.not_matured_stop", {**args, "stop": date_of(to_utc(stop))}
    return "reason.not_matured_end", {**args, "end": date_of(to_utc(as_of))}


def _matured_or_raise(panel, trained_until, as_of, horizon_days, date_col) -> pd.DataFrame:
    rows = matured_rows(panel, trained_until=trained_until, as_of=as_of, horizon_days=horizon_days,
                        date_col=date_col)
    if rows.empty:
        key, args = not_matured(panel, trained_until=trained_until, as_of=as_of, horizon_days=horizon_days)
        raise Thin(key, **args)
    return rows


def matured_performance(model, panel: pd.DataFrame, *, trained_until, as_of, horizon_days: int,
                        n_boot: int = 200, seed: int = 0, id_col: str = "account_id",
                        date_col: str = "as_of") -> pd.DataFrame:
    """The frozen ``model`` on every label matured since ``trained_until`` (see the module docstring).

    Returns one row per observation date and a last row ``as_of = NaT``, ``scope = 'all'`` pooling them: ``n``,
    ``accounts``, ``churners`` (rows), ``churned_accounts``, ``observed`` (+ Wilson interval), ``predicted``,
    ``difference`` (observed minus predicted) with ``ci_low``/``ci_high``, ``off``, ``auc`` with
    ``auc_low``/``auc_high``. Raises :class:`InsufficientData` when no label has matured since training."""
    rows = _matured_or_raise(panel, trained_until, as_of, horizon_days, date_col)
    p = np.asarray(model.predict_proba(features_of(rows))[:, 1], dtype=float)
    y = rows[LABEL].astype(float).to_numpy()
    ids, dates = rows[id_col].to_numpy(), to_utc(rows[date_col]).to_numpy()
    out = []
    for d in np.unique(dates):
        m = dates == d
        out.append({"scope": "date", "as_of": to_utc(d), **calibration_in_the_large(y[m], p[m], ids[m]),
                    **auc_interval(y[m], p[m], ids[m], n_boot=n_boot, seed=seed)})
    out.append({"scope": "all", "as_of": pd.NaT, **calibration_in_the_large(y, p, ids),
                **auc_interval(y, p, ids, n_boot=n_boot, seed=seed)})
    return pd.DataFrame(out)


def compare_models(new, old, panel: pd.DataFrame, *, trained_until_new, trained_until_old, as_of,
                   horizon_days: int, n_boot: int = 200, seed: int = 0, id_col: str = "account_id",
                   date_col: str = "as_of") -> dict:
    """Two fitted models judged on the same matured labels: those after *both* training cutoffs.

    Returns ``{"n", "accounts", "churners", "since", "models": {"new": {...}, "old": {...}}, "difference":
    {...}}``: each model's ROC-AUC and calibration-in-the-large (observed minus predicted) with their 95%
    account-bootstrap intervals, and the paired differences ``new - old`` (the same resamples for both, so
    the interval of a difference is narrower than the two intervals suggest). For calibration the difference
    is of absolute calibration errors (``|obs - pred|``: negative means the new model is closer). Raises
    :class:`InsufficientData` when no label has matured after both cutoffs, or it has one outcome only."""
    from ..health.evaluation import bootstrap, paired_difference

    since = max(to_utc(trained_until_new), to_utc(trained_until_old))
    rows = matured_rows(panel, trained_until=since, as_of=as_of, horizon_days=horizon_days, date_col=date_col)
    if rows.empty:
        stop = churn_stop_of(panel)
        raise (Thin("reason.compare_not_matured_stop", since=date_of(since), days=horizon_days,
                    stop=date_of(to_utc(stop))) if stop
               else Thin("reason.compare_not_matured", since=date_of(since), days=horizon_days))
    y = rows[LABEL].astype(float).to_numpy()
    if len(np.unique(y)) < 2:
        raise Thin("reason.compare_one_outcome_churned" if y[0] else "reason.compare_one_outcome_retained", n=len(y))
    X = features_of(rows)
    scores = {"new": new.predict_proba(X)[:, 1], "old": old.predict_proba(X)[:, 1]}
    metrics = {**_auc_metric(), "calibration": lambda yy, pp: float(np.mean(yy) - np.mean(pp)),
               "abs_calibration": lambda yy, pp: float(abs(np.mean(yy) - np.mean(pp)))}
    boot = bootstrap(y, scores, rows[id_col].to_numpy(), n_boot=n_boot, seed=seed, metrics=metrics)
    models = {}
    for name in scores:
        b = boot[boot["model"] == name].set_index("metric")
        models[name] = {"auc": float(b.loc["roc_auc", "estimate"]), "auc_low": float(b.loc["roc_auc", "ci_low"]),
                        "auc_high": float(b.loc["roc_auc", "ci_high"]),
                        "predicted": float(np.mean(scores[name])),
                        "calibration": float(b.loc["calibration", "estimate"]),
                        "calibration_low": float(b.loc["calibration", "ci_low"]),
                        "calibration_high": float(b.loc["calibration", "ci_high"])}
    auc_d = paired_difference(boot, "new", "old", "roc_auc")
    cal_d = paired_difference(boot, "new", "old", "abs_calibration")
    return {"n": int(len(y)), "accounts": int(rows[id_col].nunique()), "churners": int(y.sum()),
            "observed": float(y.mean()), "since": since, "models": models,
            "difference": {"auc": auc_d["difference"], "auc_low": auc_d["ci_low"], "auc_high": auc_d["ci_high"],
                           "abs_calibration": cal_d["difference"], "abs_calibration_low": cal_d["ci_low"],
                           "abs_calibration_high": cal_d["ci_high"]}}
