"""Honest evaluation of churn scores: out-of-time backtests, discrimination, calibration, lift, bands.

Backtest (rolling origin)
-------------------------
For each test date ``T`` (by default the last ``n_cutoffs`` observation dates whose labels are fully
observed), every model is fitted on the rows whose label was known by ``T`` (``as_of + horizon <= T``) and
scores the accounts observed at ``T``. No model ever scores a date it saw, and no training label looks
past the test date. Predictions of all test dates are pooled for the metrics.

Metrics (each with a 95% interval from a bootstrap that resamples *accounts*, all their test rows
together, so repeated rows of one account do not pass for independent evidence; every resample counts for the
metrics it defines, and an interval the resamples cannot give is left out with its reason, see
:func:`percentile_interval`):

* ROC-AUC and PR-AUC (average precision): ranking;
* Brier score and log loss: probability accuracy;
* lift in the top decile: churn rate among the 10% highest-risk rows over the overall rate;
* integrated calibration index (ICI, Austin & Steyerberg 2019): the mean absolute difference between the
  predicted probability and a lowess smooth of the observed outcome against it; 0 = perfectly calibrated.

Examples
--------
>>> import numpy as np
>>> from engage_models.health.evaluation import lift_at, ici
>>> y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]); p = np.linspace(0.9, 0.0, 10)
>>> float(lift_at(y, p, 0.1))           # the top 10% (one row) churned; the base rate is 20%
5.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._core.i18n import LANGS, fmt_date, fmt_interval, t
from .._core.plots import BAND_COLOURS, error_bars, new_ax
from .._core.progress import effective_n_jobs, logged, step
from .._core.reasons import Thin, Why
from .._core.stats import log_loss

log = logging.getLogger(__name__)
_EPS = 1e-6


# ------------------------------------------------------------------------------------------ metrics
def brier(y, p) -> float:
    y, p = np.asarray(y, float), np.asarray(p, float)
    return float(np.mean((p - y) ** 2))


def lift_at(y, p, share: float = 0.1) -> float:
    """Churn rate among the ``share`` highest-scored rows divided by the overall churn rate.

    The top is ``round(share * n)`` rows (at least one). Rows tied at the cut share it: each counts for the
    fraction of the tied rows the cut takes, so a points card's lift does not depend on the order of its rows."""
    pos, tot = _counts(y, p)
    return _lift(pos, tot, share)


def lowess(x, y, frac: float = 0.3, grid: int = 60, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Local linear regression with tricube weights (Cleveland's lowess, no robustness iterations),
    evaluated on ``grid`` points spanning ``x``. Returns (grid_x, fitted).

    Each point's neighbourhood is its ``k = ceil(frac n)`` nearest ``x``: on sorted ``x`` a window of ``k``
    consecutive rows, found by bisection (the window whose ends are equally far from the point); its reach is
    the bandwidth, and only the rows within it are summed, so a point costs ``O(k)`` rather than a partial sort
    of all rows (rows beyond the bandwidth weigh 0 either way).

    ``weights``: whole-number multiplicities (a bootstrap resample as counts of the rows it drew). The fit is
    the fit of the rows repeated that many times (``n`` is their sum; rows of weight 0 are left out), without
    building the repeated rows: the window is found on the cumulated counts."""
    take, gx, rows = _lowess_rows(x, frac, grid, weights)
    y = np.asarray(y, float)[take]
    return gx, np.array([c @ y[sl] for sl, c in rows])


def _lowess_rows(x, frac: float, grid: int, weights) -> tuple[np.ndarray, np.ndarray, list]:
    """The lowess as a linear smoother: with no robustness iterations each fitted value is a weighted sum of
    the outcomes, with weights that depend on ``x`` alone. Returns ``take`` (the rows used, in ``x`` order),
    the grid and, per grid point, the slice of the taken rows it sums and their coefficients."""
    x = np.asarray(x, float)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    keep = np.flatnonzero(w > 0)
    take = keep[np.argsort(x[keep], kind="stable")]
    x, w = x[take], w[take]
    cum = np.cumsum(w)
    n = int(round(cum[-1]))
    k = min(n, max(3, int(np.ceil(frac * n))))

    def at(q):  # the x at position q of the repeated, sorted rows
        return x[np.searchsorted(cum, q, side="right")]

    gx = np.linspace(x[0], x[-1], grid) if grid else x
    # window [a, a + k) around g: the first a whose far end is at least as far as its near end, or the one before
    lo, hi = np.zeros(len(gx), dtype=np.int64), np.full(len(gx), n - k + 1, dtype=np.int64)
    while np.any(lo < hi):
        mid = np.minimum((lo + hi) // 2, n - k)
        right = at(mid) + at(mid + k - 1) >= 2 * gx
        open_ = lo < hi
        hi = np.where(open_ & right, mid, hi)
        lo = np.where(open_ & ~right, mid + 1, lo)
    first = np.clip(lo, 0, n - k)
    before = np.clip(first - 1, 0, n - k)
    reach = [np.maximum(gx - at(a), at(a + k - 1) - gx) for a in (first, before)]
    bandwidth = np.minimum(reach[0], reach[1])  # the k-th smallest distance
    # every row within the bandwidth (ties at the edge included: they weigh 0, as any row beyond)
    lo = np.searchsorted(x, gx - bandwidth, side="left")
    hi = np.searchsorted(x, gx + bandwidth, side="right")
    rows = []
    for i, g in enumerate(gx):
        sl = slice(lo[i], hi[i])
        xs, ws = x[sl], w[sl]
        h = bandwidth[i] or 1e-12
        u = np.abs(xs - g) / h
        wt = np.clip(1 - u * u * u, 0, None)
        wt = wt * wt * wt * ws  # tricube
        sw = wt.sum()
        if sw <= 0:  # every neighbour exactly at the bandwidth (ties): their plain mean
            rows.append((sl, ws / ws.sum()))
            continue
        mx = (wt @ xs) / sw
        wdx = wt * (xs - mx)
        vx = wdx @ (xs - mx)
        # every weighted row at one x (ties): no slope; rounding would make one up out of 1e-30s
        flat = vx <= 1e-12 * sw * h * h
        # mean + slope x (g - mx), the slope's sum wdx @ (y - my) written as coefficients of y: wdx sums to 0
        # only up to rounding, which a vx near 0 would blow up (hence the centring, as in the sum itself)
        rows.append((sl, wt / sw if flat else wt / sw + (g - mx) * (wdx - wdx.sum() * wt / sw) / vx))
    return take, gx, rows


def ici(y, p, frac: float = 0.3, weights=None) -> float:
    """Integrated calibration index: mean over rows of |p - smoothed observed rate at p| (lowess).
    ``weights``: whole-number multiplicities of the rows (see :func:`lowess`)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    if len(np.unique(p[w > 0])) < 3:
        return float(np.abs((w * p).sum() / w.sum() - (w * y).sum() / w.sum()))
    gx, fit = lowess(p, y, frac=frac, weights=weights)
    smooth = np.clip(np.interp(p, gx, fit), 0, 1)
    return float((w * np.abs(p - smooth)).sum() / w.sum())


def ici_if_calibrated(p, n_draws: int = 200, seed: int = 0, frac: float = 0.3) -> np.ndarray:
    """The ICI a perfectly calibrated score with these probabilities would show on this many rows.

    Outcomes are drawn as Bernoulli(``p``) ``n_draws`` times and each draw's ICI is computed: the smoother
    follows the outcomes' noise, so the ICI is above zero on finite rows even when the probabilities are
    exact. An observed ICI inside this distribution is what calibration cannot lower on this many rows; one
    well beyond it is miscalibration. Returns the ``n_draws`` ICIs, each equal to :func:`ici` of its draw (the
    lowess is a linear smoother of the outcomes, so its coefficients are computed once for every draw).
    """
    p = np.clip(np.asarray(p, float), 0, 1)
    rng = np.random.default_rng(seed)
    out = np.empty(n_draws)
    if len(np.unique(p)) < 3:  # as ici: the mean difference
        for d in range(n_draws):
            out[d] = abs(p.mean() - (rng.random(len(p)) < p).mean())
        return out
    take, gx, rows = _lowess_rows(p, frac, 60, None)
    # the interpolation of every row's p on the grid, once: smooth(p) = (1 - f) fit[j] + f fit[j + 1]
    j = np.clip(np.searchsorted(gx, p, side="right") - 1, 0, len(gx) - 2)
    f = np.clip((p - gx[j]) / np.where(gx[j + 1] > gx[j], gx[j + 1] - gx[j], 1.0), 0, 1)
    for start in range(0, n_draws, 25):  # 25 draws at a time: rows x 25 outcomes in memory
        m = min(25, n_draws - start)
        y = np.empty((len(p), m))
        for d in range(m):
            y[:, d] = rng.random(len(p)) < p
        ys = y[take]
        fit = np.stack([c @ ys[sl] for sl, c in rows])  # grid x draws
        smooth = np.clip((1 - f)[:, None] * fit[j] + f[:, None] * fit[j + 1], 0, 1)
        out[start:start + m] = np.abs(p[:, None] - smooth).mean(axis=0)
    return out


def calibration_reference(y, p, n_draws: int = 200, seed: int = 0) -> dict:
    """The ICI of ``p`` beside the ICI a perfectly calibrated score with these probabilities shows on this many
    rows (:func:`ici_if_calibrated`): ``ici``, the reference's ``median`` and ``q95``, ``rows``, ``draws`` and
    ``beyond`` (the ICI is above the reference's 95th percentile: miscalibration, not only noise)."""
    ref = ici_if_calibrated(p, n_draws, seed)
    observed, q95 = ici(y, p), float(np.quantile(ref, 0.95))
    return {"ici": observed, "median": float(np.median(ref)), "q95": q95, "rows": int(len(p)),
            "draws": int(n_draws), "beyond": bool(observed > q95)}


def calibration_curve(y, p, bins: int = 10) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability in ``bins`` equal-count bins (Wilson 95%)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    q = pd.qcut(pd.Series(p).rank(method="first"), bins, labels=False)
    df = pd.DataFrame({"bin": q, "y": y, "p": p}).groupby("bin").agg(
        predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"), churned=("y", "sum")).reset_index()
    from .._core.stats import wilson_interval

    lo, hi = wilson_interval(df["churned"], df["n"])
    return df.assign(ci_low=lo, ci_high=hi)


# The ranking metrics from the churners (``pos``) and all rows (``tot``) at each distinct score, ascending:
# a bootstrap resample changes only these counts, not the order of the scores (see ``_Reweighted``).
def _counts(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    _, inv = np.unique(p, return_inverse=True)
    k = int(inv.max()) + 1 if len(inv) else 0
    return np.bincount(inv, weights=y, minlength=k), np.bincount(inv, minlength=k).astype(float)


def _auc(pos: np.ndarray, tot: np.ndarray) -> float:
    """Mann-Whitney: each churner beats the retained accounts scored below it, and half of those tied with it."""
    neg = tot - pos
    n1, n0 = pos.sum(), neg.sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((pos * (np.cumsum(neg) - neg / 2)).sum() / (n1 * n0))


def _average_precision(pos: np.ndarray, tot: np.ndarray) -> float:
    """Precision at each distinct score (from the highest), weighted by the recall it adds."""
    n1 = pos.sum()
    if n1 == 0:
        return float("nan")
    tp, seen = np.cumsum(pos[::-1]), np.cumsum(tot[::-1])
    precision = np.divide(tp, seen, out=np.zeros(len(tp)), where=seen > 0)
    return float(np.sum(np.diff(np.r_[0.0, tp / n1]) * precision))


def _lift(pos: np.ndarray, tot: np.ndarray, share: float) -> float:
    n, n1 = tot.sum(), pos.sum()
    if n1 <= 0:
        return float("nan")
    top = max(1, int(round(share * n)))
    cum = np.cumsum(tot[::-1])
    b = int(np.searchsorted(cum, top, side="left"))  # the distinct score the cut falls in
    taken = top - (cum[b - 1] if b else 0.0)
    churned = pos[::-1][:b].sum() + pos[::-1][b] * taken / tot[::-1][b]
    return float(churned / top / (n1 / n))


def roc_auc(y, p) -> float:
    """scikit-learn's ``roc_auc_score`` for a 0/1 ``y`` (Mann-Whitney; a tie counts half), without its
    input checks: the metric bootstrap calls it a few thousand times."""
    return _auc(*_counts(y, p))


def average_precision(y, p) -> float:
    """scikit-learn's ``average_precision_score`` for a 0/1 ``y`` (precision at each distinct score, weighted
    by the recall it adds), without its input checks."""
    return _average_precision(*_counts(y, p))


class _Reweighted:
    """Every metric of :data:`METRICS` for one score on a resample given as multiplicities of the rows (a row
    drawn twice weighs 2): the same numbers as the metric functions on the repeated rows. The rows are sorted
    by the score once; a resample then costs sums over the rows and the distinct scores, not a sort of its own.
    """

    def __init__(self, y: np.ndarray, p: np.ndarray):
        self.order = np.argsort(p, kind="stable")
        self.y, self.p = y[self.order], p[self.order]
        _, self.inv = np.unique(self.p, return_inverse=True)
        self.k = int(self.inv.max()) + 1 if len(self.inv) else 0
        pc = np.clip(self.p, _EPS, 1 - _EPS)
        self.loss = -(self.y * np.log(pc) + (1 - self.y) * np.log(1 - pc))  # as _core.stats.log_loss
        self.squared = (self.p - self.y) ** 2

    def __call__(self, weights: np.ndarray, names) -> dict[str, float]:
        w = weights[self.order]
        n = w.sum()
        pos = np.bincount(self.inv, weights=w * self.y, minlength=self.k)
        tot = np.bincount(self.inv, weights=w, minlength=self.k)
        every = {"roc_auc": lambda: _auc(pos, tot), "pr_auc": lambda: _average_precision(pos, tot),
                 "brier": lambda: float((w * self.squared).sum() / n),
                 "log_loss": lambda: float((w * self.loss).sum() / n),
                 "lift_top_decile": lambda: _lift(pos, tot, 0.1),
                 "ici": lambda: ici(self.y, self.p, weights=w)}
        return {m: every[m]() for m in names}


METRICS: dict[str, Callable] = {
    "roc_auc": roc_auc,
    "pr_auc": average_precision,
    "brier": brier,
    "log_loss": log_loss,
    "lift_top_decile": lambda y, p: lift_at(y, p, 0.1),
    "ici": ici,
}
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "brier": False, "log_loss": False, "lift_top_decile": True,
                    "ici": False}


def _bootstrap_draws(y, scores, codes, n, picks, metrics) -> list[dict]:
    """Every metric of every score on each resample (the rows of its drawn clusters); NaN for a metric the
    resample leaves undefined (ROC-AUC on a resample of one class; PR-AUC and lift on one without a churner).

    A resample of one class keeps the metrics it defines (Brier score, log loss, ICI): the draws without a
    churner are the ones of the lowest Brier score, and leaving them out raised every draw above the estimate
    ("Brier 0.048 (0.055 to 0.125)" on a world of few churners).

    The metrics of :data:`METRICS` read a resample as multiplicities of the rows (:class:`_Reweighted`: the
    same numbers as on the repeated rows, without sorting each resample); any other metric is given the
    resample's rows, cluster by cluster in the order drawn (on a resample of one class, a metric that raises a
    ValueError or returns NaN for it, as scikit-learn's ``roc_auc_score`` does, has no value)."""
    import warnings

    own = {m for m, fn in metrics.items() if METRICS.get(m) is fn}
    fast = {s: _Reweighted(y, p) for s, p in scores.items()} if own else {}
    order = np.argsort(codes, kind="stable")  # each cluster's rows, ascending
    counts = np.bincount(codes, minlength=n)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    out = []
    for pick in picks:
        w = np.bincount(pick, minlength=n)[codes].astype(float)
        churned = (w * y).sum()
        one_class = churned == 0 or churned == w.sum()
        values = {(s, m): v for s in fast for m, v in fast[s](w, [m for m in metrics if m in own]).items()}
        if len(own) < len(metrics):
            lengths = counts[pick]
            offsets = np.repeat(starts[pick] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
            idx = order[offsets + np.arange(int(lengths.sum()))]
            for s, p in scores.items():
                for m, fn in metrics.items():
                    if m in own:
                        continue
                    if not one_class:
                        values[s, m] = fn(y[idx], p[idx])
                        continue
                    with warnings.catch_warnings():  # scikit-learn's "only one class": no value, said below
                        warnings.simplefilter("ignore")
                        try:
                            values[s, m] = float(fn(y[idx], p[idx]))
                        except (ValueError, ZeroDivisionError):
                            values[s, m] = np.nan
        out.append({(s, m): values[s, m] for s in scores for m in metrics})
    return out


#: The share of resamples a metric may lack a value in (a resample of one class has no ROC-AUC) and still have a
#: 95% interval: each tail of the interval holds 2.5% of the resamples, so more missing draws could all have
#: belonged to one tail, and the interval of the others is not the 95% interval.
MAX_UNDEFINED = 0.025


def _clusters(groups) -> tuple[np.ndarray, int]:
    """Each row's cluster (numbered from 0) and how many there are, for resampling ``groups``: a row without an id
    (missing) is a cluster of its own, as an account of one row would be (its rows had cluster -1, and the
    resampling raised a ValueError).

    >>> _clusters(["a", None, "b", "a", np.nan])
    (array([0, 2, 1, 0, 3]), 4)
    """
    codes, uniq = pd.factorize(pd.Series(np.asarray(groups)))
    n, missing = len(uniq), codes < 0
    if missing.any():
        codes = codes.copy()
        codes[missing] = n + np.arange(int(missing.sum()))
    return codes, n + int(missing.sum())


def one_class_shares(y, groups) -> dict[str, float]:
    """The exact share of all account resamples (``n`` of the ``n`` accounts drawn with replacement) that hold no
    churner (``no_churner``) or only churned rows (``all_churned``): ``(1 - c / n) ** n`` with ``c`` the accounts
    with a churned row (resp. a row not churned). These are the resamples that leave ROC-AUC (either), PR-AUC
    and lift (no churner) undefined, so :func:`bootstrap` reads their share from the data, not from the count
    among its draws: with 20 draws (tests, quick runs) one resample of one class is 5%, beyond
    :data:`MAX_UNDEFINED`, and the interval was dropped where 200 draws kept it.

    >>> shares = one_class_shares([1, 0, 0, 0], ["a", "b", "c", "d"])
    >>> round(shares["no_churner"], 4), shares["no_churner"] == 0.75 ** 4, round(shares["all_churned"], 4)
    (0.3164, True, 0.0039)
    """
    y = np.asarray(y, float)
    codes, n = _clusters(groups)
    if not n:
        return {"no_churner": 1.0, "all_churned": 1.0}
    churner = np.bincount(codes, weights=y, minlength=n) > 0
    retained = np.bincount(codes, weights=1 - y, minlength=n) > 0
    return {"no_churner": float((1 - churner.sum() / n) ** n), "all_churned": float((1 - retained.sum() / n) ** n)}


def _undefined_shares(y, groups, metrics) -> dict[str, float]:
    """The share of all resamples each of ``metrics`` has no value on, where it is known exactly: the metrics of
    :data:`METRICS` are undefined on resamples of one class only (:func:`one_class_shares`); another metric is
    left out (its share is counted among the draws)."""
    one = one_class_shares(y, groups)
    known = {"roc_auc": one["no_churner"] + one["all_churned"], "pr_auc": one["no_churner"],
             "lift_top_decile": one["no_churner"], "brier": 0.0, "log_loss": 0.0, "ici": 0.0}
    return {m: known[m] for m, fn in metrics.items() if METRICS.get(m) is fn}


def percentile_interval(estimate: float, draws, undefined: float | None = None) -> tuple[float, float, str | None]:
    """The 95% percentile interval of ``draws`` (NaN: a resample that left the metric undefined) around
    ``estimate``, or no interval and why: ``"few_draws"`` (more than :data:`MAX_UNDEFINED` of the resamples give
    no value) or ``"off_centre"`` (the interval does not contain the estimate: the resamples sit to one side of
    it, as the ICI's do on few rows, where the smoother of a resample with repeated rows follows their noise
    more; the percentiles would not be an interval of this estimate).

    Why the percentile interval for the ICI too (``benchmarks/bench_ici_interval.py``: tables whose true ICI is
    known, 150, 500 and 2,000 accounts, 60 tables each, coverage of the true ICI): on a miscalibrated score it
    covers 75%, 97% and 88% (30% too low) and 87%, 98% and 92% (far too high); the basic (reverse percentile)
    interval 92%, 87%, 88% and 83%, 97%, 90%: better on 150 accounts, worse on 500, so not clearly nearer 95%;
    bias-corrected (BC, BCa) and bias-shifted intervals are no nearer anywhere. On a perfectly calibrated score
    (true ICI 0, the edge of a non-negative error) every interval misses: 0% for the percentile, BC and BCa,
    48-63% for the basic one, at every size; there the ICI is noise, and the reference of a calibrated score's
    ICI (:func:`calibration_reference`) is the reading, not an interval. ``off_centre`` is that case: 13-17% of
    the calibrated tables at every size, 0-2.5% of the miscalibrated ones.

    ``undefined``: the share of all possible resamples without a value, when it is known exactly
    (:func:`one_class_shares`); without it, the share among ``draws``. The draws with a value give the interval
    either way.

    >>> percentile_interval(0.5, [0.4, 0.5, 0.6] * 10)[2] is None
    True
    >>> percentile_interval(0.5, [np.nan] * 5 + [0.5] * 95)
    (nan, nan, 'few_draws')
    >>> percentile_interval(0.5, [np.nan] + [0.4, 0.5, 0.6] * 6 + [0.5], undefined=0.01)[2] is None
    True
    >>> percentile_interval(0.05, [0.07, 0.08, 0.09] * 10)
    (nan, nan, 'off_centre')
    """
    d = np.asarray(draws, float)
    ok = d[np.isfinite(d)]
    if not np.isfinite(estimate):
        return np.nan, np.nan, None
    share = 1 - len(ok) / len(d) if undefined is None and len(d) else undefined
    if not len(ok) or share is None or share > MAX_UNDEFINED:
        return np.nan, np.nan, "few_draws"
    lo, hi = (float(v) for v in np.percentile(ok, [2.5, 97.5]))
    tol = 1e-9 * max(1.0, abs(estimate))  # rounding: a draw equal to the estimate computed another way
    if not lo - tol <= estimate <= hi + tol:
        return np.nan, np.nan, "off_centre"
    return lo, hi, None


def bootstrap(y, scores: dict[str, np.ndarray], groups, n_boot: int = 200, seed: int = 0,
              metrics: dict[str, Callable] | None = None, n_jobs: int | None = None) -> pd.DataFrame:
    """Point estimate and 95% percentile interval of each metric for each score, resampling ``groups``.

    Every resample counts, one of one class too (for the metrics it defines). ``not_computed`` says why a
    metric or its interval has no value: ``no_churner`` or ``all_churned`` (the rows hold one outcome: no
    ROC-AUC, and without a churner no PR-AUC or lift), ``few_draws`` or ``off_centre`` (no interval:
    :func:`percentile_interval`); None when both are computed. For the metrics of :data:`METRICS` the share of
    resamples without a value is the exact share of resamples of one class (:func:`one_class_shares`, kept in
    ``attrs["undefined"]``), so whether an interval is shown does not depend on ``n_boot``; another metric's is
    counted among the draws.

    The same resamples serve every score, so differences between scores can be read off paired
    (:func:`paired_difference`). The resamples are drawn first, from ``seed``, and shared among ``n_jobs``
    processes (joblib; ``-1`` every core), so the intervals do not depend on ``n_jobs``.
    """
    metrics = metrics or METRICS
    y = np.asarray(y, float)
    scores = {s: np.asarray(p, float) for s, p in scores.items()}
    codes, n = _clusters(groups)
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, n, n) for _ in range(n_boot)]  # clusters drawn, per resample
    jobs = max(1, min(n_boot, effective_n_jobs(n_jobs)))
    if jobs == 1:
        per_draw = _bootstrap_draws(y, scores, codes, n, picks, metrics)
    else:
        from sklearn.utils.parallel import Parallel, delayed

        parts = Parallel(n_jobs=jobs)(delayed(_bootstrap_draws)(y, scores, codes, n, picks[j::jobs], metrics)
                                      for j in range(jobs))
        per_draw = [parts[b % jobs][b // jobs] for b in range(n_boot)]  # part j holds draws j, j + jobs, ...
    draws = {key: np.array([values[key] for values in per_draw], float) for key in
             ((s, m) for s in scores for m in metrics)}
    churned, rows = float(y.sum()), len(y)
    one_class = "no_churner" if churned == 0 else "all_churned" if churned == rows else None
    known = _undefined_shares(y, groups, metrics)
    out = []
    for s, p in scores.items():
        for m, fn in metrics.items():
            est = fn(y, np.asarray(p, float))
            if one_class and m in RANKING:  # every row churned: PR-AUC 1.000 and lift 1.00 rank nothing either
                est = np.nan
                draws[(s, m)][:] = np.nan
            lo, hi, why = percentile_interval(est, draws[(s, m)], known.get(m))
            if not np.isfinite(est):  # the rows themselves leave it undefined (one class): say which
                why = one_class or "undefined"
            out.append({"model": s, "metric": m, "estimate": est, "ci_low": lo, "ci_high": hi, "not_computed": why})
    res = pd.DataFrame(out)
    res.attrs["draws"] = draws
    res.attrs["undefined"] = known
    return res


def paired_difference(boot: pd.DataFrame, a: str, b: str, metric: str = "roc_auc") -> dict:
    """``metric(a) - metric(b)`` with its paired 95% bootstrap interval (from :func:`bootstrap`), by the rule of
    the backtest's own intervals (:func:`percentile_interval`): the resamples where both define the metric give
    it, and when more than :data:`MAX_UNDEFINED` of the resamples leave it undefined (for ROC-AUC, the resamples
    of one outcome: their exact share, ``attrs["undefined"]``) or it does not hold the difference, it has none:
    ``ci_low`` and ``ci_high`` are NaN and ``not_computed`` says why (``few_draws``, ``off_centre``; None when
    computed). Before, 3 churning accounts gave an interval of the 95% of resamples that held one."""
    draws = boot.attrs["draws"]
    d = draws[(a, metric)] - draws[(b, metric)]
    est = float(boot.query("model == @a and metric == @metric")["estimate"].iloc[0]
                - boot.query("model == @b and metric == @metric")["estimate"].iloc[0])
    # both scores are read on the same rows, so a metric undefined on resamples of one outcome is undefined on the
    # same resamples for both
    lo, hi, why = percentile_interval(est, d, (boot.attrs.get("undefined") or {}).get(metric))
    return {"metric": metric, "a": a, "b": b, "difference": est, "ci_low": lo, "ci_high": hi, "not_computed": why}


def paired(boot: pd.DataFrame, model: str, metric: str = "roc_auc") -> bool:
    """Whether ``boot`` (:func:`bootstrap`) has draws of ``model``'s ``metric`` to pair: none for a model of one
    value (:func:`without_ranking`), nor when every resample held one class only (a tiny test set: the
    interval of a paired difference raised an IndexError there)."""
    return bool(np.isfinite((boot.attrs.get("draws") or {}).get((model, metric), np.array([]))).any())


def choose_card(boot: pd.DataFrame, shape: str = "shape", linear: str = "linear") -> dict:
    """The learned card to keep, one rule for the pipeline and ``engage fit``: the shape card when its ROC-AUC
    is higher than the linear card's beyond the paired 95% bootstrap interval (:func:`paired_difference`), the
    linear card otherwise: a tie or a lead within the noise keeps the simpler, steadier card (on a 100-account
    world a shape card leading by 0.06 on a few test accounts scored an account with no events at the median).
    A difference without an interval (more than 2.5% of the resamples hold one outcome: 3 churning accounts or
    fewer) keeps the linear card too: the lead cannot be told from noise (``shape_lead_without_interval``).
    Without bootstrap draws the point estimates decide; a linear card of one value (no ROC-AUC) loses to a shape
    card that ranks. Returns ``form`` (``shape`` or ``linear``), the AUCs, the paired difference (when there are
    draws), ``shape_lead_within_noise`` (the shape card leads but is not kept, for either reason) and
    ``shape_lead_without_interval``."""
    auc = boot[boot["metric"] == "roc_auc"].set_index("model")["estimate"]
    a_shape, a_linear = float(auc.get(shape, np.nan)), float(auc.get(linear, np.nan))
    # a linear card of one value has no ROC-AUC (:func:`without_ranking`): the shape card that ranks leads it
    lead = bool(a_shape > a_linear or (np.isnan(a_linear) and not np.isnan(a_shape)))
    diff = paired_difference(boot, shape, linear) if paired(boot, shape) and paired(boot, linear) else None
    sure = lead and (diff is None or diff["ci_low"] > 0)  # no interval (NaN): not beyond the noise
    return {"form": "shape" if sure else "linear", "auc": {"linear": a_linear, "shape": a_shape},
            "shape_minus_linear": diff, "shape_lead_within_noise": bool(lead and not sure),
            "shape_lead_without_interval": bool(lead and diff is not None and diff["not_computed"] is not None)}


def band_table(y, bands, order=("red", "yellow", "green")) -> pd.DataFrame:
    """Per band: accounts, churners, churn rate, share of all churners caught in it (and cumulatively
    from the riskiest band), and the false-alarm rate (share of all non-churners placed in it)."""
    y = np.asarray(y, float)
    bands = pd.Series(np.asarray(bands))
    rows, caught, alarms = [], 0.0, 0.0
    total_c, total_s = y.sum(), (1 - y).sum()
    for b in order:
        m = (bands == b).to_numpy()
        c, s = y[m].sum(), (1 - y[m]).sum()
        caught += c
        alarms += s
        rows.append({"band": b, "accounts": int(m.sum()), "churned": int(c),
                     "churn_rate": c / m.sum() if m.sum() else np.nan,
                     "share_of_churners": c / total_c if total_c else np.nan,
                     "cumulative_share_of_churners": caught / total_c if total_c else np.nan,
                     "false_alarm_rate": s / total_s if total_s else np.nan,
                     "cumulative_false_alarm_rate": alarms / total_s if total_s else np.nan})
    return pd.DataFrame(rows)


#: The metrics of a ranking: none for a model that predicted one value for every row (its ROC-AUC would read
#: 0.500 with an interval of zero width, as if measured).
RANKING = ("roc_auc", "pr_auc", "lift_top_decile")


def _flat(p) -> bool:
    """Whether the predictions ``p`` are one value (to rounding).

    >>> _flat([0.29, 0.29, 0.29 + 1e-17]), _flat([0.29, 0.30])
    (True, False)
    """
    p = np.asarray(p, float)
    return bool(len(p) and np.isclose(p.min(), p.max(), rtol=1e-9, atol=1e-12))


def one_value(w: pd.DataFrame, models, train_rows: dict, unit: str) -> dict[str, dict]:
    """The models that predicted one value for every row of a fold (or test window) (``w``: one column of
    predictions per model, ``as_of`` the fold): ``{model: {"folds", "of", "reason"}}``. In every fold: the model
    ranks nothing, and its ranking metrics (:data:`RANKING`) are not computed (pooled over folds, its ROC-AUC only
    compares the folds' constants). In some: said, its figures kept (the other folds rank). ``train_rows``: the
    rows each fold was fitted on, by fold (numbered from 0); ``unit``: "fold", "window" (``engage fit``) or
    "cutoff" (the pipeline's backtest, :meth:`Backtest.one_value`).

    >>> w = pd.DataFrame({"as_of": [0, 0, 1, 1], "gbm": [.3, .3, .2, .2], "card": [.1, .2, .3, .4]})
    >>> flat = one_value(w, ["gbm", "card"], {0: 24, 1: 25}, "fold")
    >>> list(flat), flat["gbm"]["reason"]  # doctest: +NORMALIZE_WHITESPACE
    (['gbm'], 'predicted one value for every row in each of the 2 folds (fitted on 24 to 25 rows: too few rows to
     learn from): it ranks no row above another, so its ROC-AUC, PR-AUC and top-decile lift are not computed')
    """
    out = {}
    for m in models:
        flat = [k for k, g in w.groupby("as_of") if _flat(g[m])]
        if not flat:
            continue
        n, k = w["as_of"].nunique(), len(flat)
        lo, hi = min(train_rows[f] for f in flat), max(train_rows[f] for f in flat)
        fitted = f"fitted on {lo:,} rows" if lo == hi else f"fitted on {lo:,} to {hi:,} rows"
        why = t(f"page.fit.why.{one_value_why(m, lo)}", "en")
        if k == n:
            where = f"the {unit}" if n == 1 else f"each of the {n} {unit}s"
            reason = (f"predicted one value for every row in {where} ({fitted}: {why}): it ranks no row above "
                      f"another, so its ROC-AUC, PR-AUC and top-decile lift are not computed")
        else:
            reason = (f"predicted one value for every row in {k} of the {n} {unit}s ({fitted}: {why}): its figures "
                      f"come from the other {unit}s' ranking and the {unit}s' differences")
        out[m] = {f"{unit}s": [int(f) + 1 for f in flat], "of": int(n), "reason": reason, "all": k == n}
    return out


def one_value_why(model: str, fewest_rows: int) -> str:
    """Why ``model`` predicted one value for every row of a fold fitted on ``fewest_rows`` or more rows, as a code
    (``page.fit.why.<code>`` words it): :func:`one_value`'s reason and ``engage fit``'s page give the same one.

    >>> one_value_why("gbm", 39), one_value_why("gbm", 40), one_value_why("shape", 10), one_value_why("glm", 10)
    ('too_few_rows', 'too_little_signal', 'no_ranking', 'too_little_signal')
    """
    if model == "gbm":  # scikit-learn's leaves hold at least 20 rows: under 40, not one split
        return "too_few_rows" if fewest_rows < 40 else "too_little_signal"
    if model in ("shape", "linear", "learned"):  # the calibration's answer to a negative slope (._calibrated)
        return "no_ranking"
    return "too_little_signal"


def without_ranking(boot: pd.DataFrame, flat: dict[str, dict]) -> pd.DataFrame:
    """``boot`` (:func:`bootstrap`) with the ranking metrics (:data:`RANKING`) of each model that predicted one
    value in every fold (``flat``: :func:`one_value`) set to missing and their draws dropped (so no paired
    difference is read off them); in place, and returned."""
    for m, f in flat.items():
        if f["all"]:
            rows = (boot["model"] == m) & boot["metric"].isin(RANKING)
            boot.loc[rows, ["estimate", "ci_low", "ci_high"]] = np.nan
            if "not_computed" in boot:
                boot.loc[rows, "not_computed"] = "one_value"
            for metric in RANKING:
                boot.attrs.get("draws", {}).pop((m, metric), None)
    return boot


# ------------------------------------------------------------------------------------------ backtest
@dataclass
class Backtest:
    """Pooled out-of-time predictions: one row per (test date, account, model)."""

    predictions: pd.DataFrame
    cutoffs: list[pd.Timestamp]
    horizon_days: int
    fitted: dict = field(default_factory=dict)  # the models of the last cutoff, by name
    seconds: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)  # optional models left out, by name: why (their first failure)
    train_rows: dict = field(default_factory=dict)  # the rows each cutoff's models were fitted on, by cutoff

    def wide(self) -> pd.DataFrame:
        return self.predictions.pivot_table(index=["as_of", "account_id", "y"], columns="model",
                                            values="p").reset_index()

    def calibration_reference(self, model: str, n_draws: int = 200, seed: int = 0) -> dict:
        """``model``'s ICI on the pooled test rows beside a perfectly calibrated score's
        (:func:`calibration_reference`)."""
        w = self.wide().dropna(subset=[model])
        return calibration_reference(w["y"], w[model], n_draws, seed)

    def summary(self, n_boot: int = 200, seed: int = 0, n_jobs: int | None = None) -> pd.DataFrame:
        w = self.wide()
        models = [c for c in w.columns if c not in ("as_of", "account_id", "y")]
        boot = bootstrap(w["y"], {m: w[m] for m in models}, w["account_id"], n_boot=n_boot, seed=seed,
                         n_jobs=n_jobs)
        boot.attrs["n"] = len(w)
        boot.attrs["churned"] = int(w["y"].sum())
        boot.attrs["one_value"] = self.one_value()  # a model of one value at every cutoff: no ranking metrics
        return without_ranking(boot, boot.attrs["one_value"])

    def one_value(self) -> dict[str, dict]:
        """The fitted models that predicted one value for every account of a cutoff (:func:`one_value`, cutoffs
        numbered from 1 in test-date order): gradient boosting fitted on a thin history gave 0.500 (0.500 to
        0.500) as if its ranking had been measured."""
        w = self.wide()
        number = {c: i for i, c in enumerate(sorted(w["as_of"].unique()))}
        rows = {number[c]: n for c, n in self.train_rows.items() if c in number}
        models = [m for m in w.columns if m in self.fitted]  # the given scores were not fitted
        return one_value(w.assign(as_of=w["as_of"].map(number)), models, rows, "cutoff")

    def by_cutoff(self) -> pd.DataFrame:
        rows = []
        for (d, m), g in self.predictions.groupby(["as_of", "model"]):
            if g["y"].nunique() < 2:
                continue
            rows.append({"as_of": d, "model": m, "n": len(g), "churn_rate": g["y"].mean(),
                         **{k: fn(g["y"], g["p"]) for k, fn in METRICS.items()}})
        return pd.DataFrame(rows)

    def bands_of(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """``(y, band)`` of ``model``'s test rows, each banded by the thresholds its cutoff's model chose on its
        own training data (never on these rows): the honest band performance (:func:`band_table`)."""
        g = self.predictions[self.predictions["model"] == model]
        if "band" not in g or g["band"].isna().all():
            raise ValueError(f"model {model!r} has no bands")
        return g["y"].to_numpy(), g["band"].to_numpy()

    def calibration(self, model: str, bins: int = 10) -> pd.DataFrame:
        g = self.predictions[self.predictions["model"] == model]
        return calibration_curve(g["y"], g["p"], bins)


def default_cutoffs(panel: pd.DataFrame, n_cutoffs: int = 4, label: str = "churned_within_h",
                    date_col: str = "as_of") -> list[pd.Timestamp]:
    """The last ``n_cutoffs`` observation dates whose labels are observed."""
    dates = sorted(panel.loc[panel[label].notna(), date_col].unique())
    return [pd.Timestamp(d) for d in dates[-n_cutoffs:]]


class _Fitted(NamedTuple):
    """One backtest fit (:func:`_fit_predict`): the model (None when an optional one failed, ``error`` says
    why), its fitting seconds, its probabilities on the test rows and, for a card, its bands."""

    model: object | None
    seconds: float
    proba: np.ndarray | None
    bands: np.ndarray | None
    error: str | None = None


def _fit_predict(make: Callable[[], object], X: pd.DataFrame, y: np.ndarray, Xt: pd.DataFrame, one_job: bool,
                 optional: bool = False) -> _Fitted:
    """One backtest fit on ``X``, predicting ``Xt``.
    ``one_job``: the model runs in a process of its own, so its own ``n_jobs`` (if any) is set to 1.
    ``optional``: an error is returned (``error``, no model) instead of raised."""
    t0 = time.perf_counter()
    model = make()
    if one_job and "n_jobs" in getattr(model, "get_params", dict)():
        model.set_params(n_jobs=1)
    try:
        model.fit(X, y)
    except Exception as exc:
        if not optional:
            raise
        return _Fitted(None, 0.0, None, None, f"{type(exc).__name__}: {exc}")
    secs = time.perf_counter() - t0
    p = model.predict_proba(Xt)[:, 1]
    band = np.asarray(model.bands(proba=p)) if hasattr(model, "bands") else None
    return _Fitted(model, secs, p, band)


def _dates_said(dates) -> Why:
    """Test dates in a reason as each language writes them (a Japanese report said "どのテスト日（2024-04-01）").

    >>> d = pd.to_datetime(["2024-03-01", "2024-04-01"], utc=True)
    >>> _dates_said(d).text("en"), _dates_said(d).text("ja"), _dates_said([]).text("en")
    ('1 Mar 2024, 1 Apr 2024', '2024年3月1日、2024年4月1日', 'none with an observed label')
    """
    return Why.of({lang: t("sep.comma", lang).join(fmt_date(c, lang) for c in dates)
                   or t("reason.backtest_no_date.none", lang) for lang in LANGS})


def backtest(panel: pd.DataFrame, models: dict[str, Callable[[], object]], *, horizon_days: int,
             cutoffs=None, n_cutoffs: int = 4, label: str = "churned_within_h", date_col: str = "as_of",
             id_col: str = "account_id", scores: dict[str, str] | None = None,
             drop: tuple[str, ...] = ("duration_days", "event"), train_accounts=None,
             n_jobs: int | None = None, optional: tuple[str, ...] = ()) -> Backtest:
    """Rolling-origin out-of-time backtest (see the module docstring).

    Parameters
    ----------
    panel : DataFrame
        One row per (account, date) with features and the label.
    models : dict
        Name -> factory returning an unfitted estimator with ``fit(X, y)`` and ``predict_proba(X)``.
    scores : dict, optional
        Name -> a panel column that already is a score (e.g. the simulator's true hazard): evaluated on the
        same rows, nothing fitted.
    train_accounts : array-like, optional
        Fit every cutoff's models on these accounts' rows only (a sample of a large company, see
        :func:`engage_models._core.sampling.stratified_accounts`); every account's rows are still tested.
    n_jobs : int, optional
        Processes sharing the fits (joblib; ``-1`` every core): each (cutoff, model) fit is one task, and a
        model's own ``n_jobs`` is then 1. The fits are seeded, so the predictions do not depend on it; the
        seconds per model are then each fit's own time in its process.
    optional : tuple of str
        Models that may fail (an alternative, with another model to fall back on): a failure at any cutoff
        leaves the model out of the whole backtest, with the reason in :attr:`Backtest.failed`; any other
        model's failure is raised.
    """
    lab = panel[label]
    if cutoffs is None:
        cutoffs = default_cutoffs(panel, n_cutoffs, label, date_col)
    cutoffs = [pd.Timestamp(c) for c in cutoffs]
    h = pd.Timedelta(days=horizon_days)
    preds, fitted, seconds, used, train_rows = [], {}, {}, [], {}
    extra = list((scores or {}).values())
    fit_on = panel if train_accounts is None else panel[panel[id_col].isin(pd.Index(train_accounts))]
    features = [c for c in panel.columns if c not in (label, *drop, *extra)]
    tests, tasks = {}, []
    for cut in cutoffs:
        train = fit_on[(fit_on[date_col] + h <= cut) & fit_on[label].notna()]
        test = panel[(panel[date_col] == cut) & lab.notna()]
        if train[label].nunique() < 2 or test.empty:
            log.warning("cutoff %s skipped: %d training rows, %d test rows", cut, len(train), len(test))
            continue
        used.append(cut)
        tests[cut] = test
        train_rows[cut] = len(train)
        X, y = train[features], train[label].astype(int).to_numpy()
        tasks.extend((cut, name, make, X, y, test[features]) for name, make in models.items())
        log.info("backtest cutoff %s: %d training rows, %d test rows", cut.date(), len(train), len(test))
    jobs = max(1, min(len(tasks), effective_n_jobs(n_jobs)))
    if jobs > 1:
        from joblib import Parallel, delayed

        done = Parallel(n_jobs=jobs, return_as="generator")(
            delayed(logged(_fit_predict))(make, X, y, Xt, True, name in optional) for _, name, make, X, y, Xt in tasks)
    else:
        done = (_fit_predict(make, X, y, Xt, False, name in optional) for _, name, make, X, y, Xt in tasks)
    failed: dict[str, str] = {}
    step(0, len(tasks), "backtest fits")
    for i, ((cut, name, *_), (model, secs, p, band, error)) in enumerate(zip(tasks, done, strict=True)):
        test = tests[cut]
        if model is None:  # an optional model's failure
            log.warning("backtest: %s left out: it failed at cutoff %s (%s)", name, cut.date(), error)
            failed.setdefault(name, f"{error} (cutoff {cut.date()})")
        else:
            seconds[name] = seconds.get(name, 0.0) + secs
            pred = pd.DataFrame({"as_of": cut, "account_id": test[id_col].to_numpy(),
                                 "y": test[label].astype(int).to_numpy(), "model": name, "p": p})
            if band is not None:  # each cutoff's bands from that model's own (out-of-fold) thresholds
                pred["band"] = band
            preds.append(pred)
            fitted[name] = model
        step(i + 1, len(tasks), "backtest fits")
        if i + 1 == len(tasks) or tasks[i + 1][0] != cut:  # the cutoff's last model: its given scores
            for sname, col in (scores or {}).items():
                preds.append(pd.DataFrame({"as_of": cut, "account_id": test[id_col].to_numpy(),
                                           "y": test[label].astype(int).to_numpy(), "model": sname,
                                           "p": test[col].to_numpy(float)}))
    if failed:  # a model that failed at one cutoff is left out at every cutoff: the comparisons stay paired
        preds = [pr for pr in preds if pr["model"].iat[0] not in failed]
        for name in failed:
            fitted.pop(name, None)
            seconds.pop(name, None)
    if not preds:
        raise Thin("reason.backtest_no_date", dates=_dates_said(cutoffs), days=horizon_days)
    return Backtest(pd.concat(preds, ignore_index=True), used, horizon_days, fitted, seconds, failed, train_rows)


# ------------------------------------------------------------------------------------------ views
def summary_view(boot: pd.DataFrame, lang: str = "en", models=None, one_value: dict | None = None) -> pd.DataFrame:
    """Models as rows, metrics as 'estimate (lo to hi)' columns. A model that predicted one value at every
    cutoff (``one_value``, default ``boot.attrs["one_value"]``: :meth:`Backtest.one_value`) shows "not computed:
    one value" for its ranking metrics (:func:`one_value_text` says why); test rows of one outcome show "not
    computed: no churner among the test rows" (or "every test row churned"), and an estimate without its
    interval says "no interval" (:func:`not_computed_text` says why, from the ``not_computed`` column of
    :func:`bootstrap`)."""
    models = models or list(dict.fromkeys(boot["model"]))
    flat = (boot.attrs.get("one_value") or {}) if one_value is None else one_value
    rows = []
    for m in models:
        g = boot[boot["model"] == m].set_index("metric")
        row = {t("model", lang): t(m, lang)}
        for metric in METRICS:
            if metric in g.index:
                r = g.loc[metric]
                d = 3 if metric in ("brier", "ici", "log_loss") else 2 if metric == "lift_top_decile" else 3
                why = r.get("not_computed")
                cell = fmt_interval(r.estimate, r.ci_low, r.ci_high, lang, decimals=d, label=False)
                if metric in RANKING and (flat.get(m) or {}).get("all"):
                    cell = t("hs.one_value_cell", lang)
                elif why in ("no_churner", "all_churned"):
                    cell = t(f"hs.{why}_cell", lang)
                elif pd.notna(r.estimate) and why in ("few_draws", "off_centre"):
                    cell = t("hs.no_interval_cell", lang, est=cell)
                row[t(metric, lang)] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def not_computed_text(boot: pd.DataFrame, lang: str = "en") -> str:
    """Why the backtest table (:func:`summary_view`) leaves a metric or an interval out, a sentence per reason
    (the ``not_computed`` column of :func:`bootstrap`); empty when it leaves nothing out. A model of one value is
    :func:`one_value_text`'s.

    >>> boot = pd.DataFrame({"model": ["learned", "learned"], "metric": ["roc_auc", "ici"],
    ...                      "not_computed": ["no_churner", "off_centre"]})
    >>> text = not_computed_text(boot)
    >>> text[:46]
    'The test rows of the backtest hold no churner:'
    >>> text[text.index("No 95%"):][:68]
    'No 95% interval for the calibration error (ICI) of **learned score**'
    """
    if "not_computed" not in boot:
        return ""
    why = boot["not_computed"]
    out = [t(f"hs.{k}", lang) for k in ("no_churner", "all_churned") if why.eq(k).any()]
    for k in ("few_draws", "off_centre"):
        g = boot[why.eq(k)]
        if len(g):
            sep = ", " if lang == "en" else "、"
            items = sep.join(t("hs.metric_of", lang, metric=t(r.metric, lang), model=t(r.model, lang))
                             for r in g.itertuples())
            out.append(t(f"hs.{k}", lang, items=items))
    return (" " if lang == "en" else "").join(out)


def one_value_text(one_value: dict | None, lang: str = "en") -> str:
    """A sentence per model that predicted one value for every account at some cutoff of the backtest
    (:meth:`Backtest.one_value`, as its JSON keeps it); empty when none did.

    >>> flat = {"gbm": {"cutoffs": [1, 2, 3, 4], "of": 4, "reason": "...", "all": True}}
    >>> one_value_text(flat)[:60]
    '**gradient boosting** predicted one value for every account '
    """
    return " ".join(t("hs.one_value_all" if f["all"] else "hs.one_value_some", lang, model=t(m, lang), n=f["of"],
                      k=len(f.get("cutoffs", []))) for m, f in (one_value or {}).items())


def plot_calibration(bt, models=None, ax=None, lang: str = "en", bins: int = 10):
    """Observed against predicted churn probability per decile of predicted risk, with Wilson intervals.

    ``bt``: a :class:`Backtest` or its ``predictions`` table.
    """
    predictions = bt.predictions if isinstance(bt, Backtest) else bt
    ax = new_ax(ax, figsize=(5.5, 5))
    models = models or list(dict.fromkeys(predictions["model"]))
    top = 0.0
    for m in models:
        g = predictions[predictions["model"] == m]
        c = calibration_curve(g["y"], g["p"], bins)
        ax.errorbar(c["predicted"], c["observed"], yerr=error_bars(c["observed"], c["ci_low"], c["ci_high"]),
                    marker="o", markersize=4, capsize=2, linewidth=1, label=t(m, lang))
        top = max(top, c["predicted"].max(), c["ci_high"].max())
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=0.8, label=t("perfect calibration", lang))
    ax.set_xlabel(t("predicted churn probability", lang))
    ax.set_ylabel(t("observed churn rate", lang))
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_metrics(boot: pd.DataFrame, metric: str = "roc_auc", ax=None, lang: str = "en", models=None,
                 one_value: dict | None = None):
    """Point estimates with 95% intervals of one metric, one row per model; a model that predicted one value at
    every cutoff (``one_value``, default ``boot.attrs["one_value"]``) has no ranking metric, nor has any model on
    test rows of one outcome: its row says so."""
    models = models or list(dict.fromkeys(boot["model"]))
    flat = (boot.attrs.get("one_value") or {}) if one_value is None else one_value
    g = boot[boot["metric"] == metric].set_index("model").loc[models]
    ax = new_ax(ax, figsize=(6, 0.5 * len(models) + 1.2))
    yv = np.arange(len(models))
    shown = g["estimate"].notna().to_numpy()
    ax.errorbar(g["estimate"][shown], yv[shown], xerr=error_bars(g["estimate"], g["ci_low"], g["ci_high"])[:, shown],
                fmt="o", capsize=3, color="#0072b2")
    why = g["not_computed"] if "not_computed" in g else pd.Series(None, index=g.index, dtype=object)
    for y, m in zip(yv, models, strict=True):
        key = ("hs.one_value_cell" if metric in RANKING and (flat.get(m) or {}).get("all") else
               f"hs.{why.get(m)}_cell" if why.get(m) in ("no_churner", "all_churned") else None)
        if key:
            ax.annotate(t(key, lang), (0.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                        color="0.35")
    ax.set_yticks(yv, [t(m, lang) for m in models])
    ax.invert_yaxis()
    ax.set_xlabel(t("ci.axis", lang, label=t(metric, lang)))
    return ax


def plot_band_distribution(scores: pd.Series, bands: pd.Series, ax=None, lang: str = "en"):
    """Histogram of health scores coloured by band."""
    ax = new_ax(ax, figsize=(7, 3.5))
    bins = np.linspace(0, 100, 41)
    for b in ("red", "yellow", "green"):
        ax.hist(scores[bands == b], bins=bins, color=BAND_COLOURS[b], label=t(b, lang), alpha=0.9)
    ax.set_xlabel(t("health_score", lang))
    ax.set_ylabel(t("accounts", lang))
    ax.legend(frameon=False)
    return ax
