"""Risk-set sums for counting-process data (start, stop], shared by the Cox models.

A row with ``(start, stop]`` is at risk at time ``t`` when ``start < t <= stop``; left truncation
(``start = entry``) and time-varying covariates (one row per interval) are the same thing here. For event
times ``t`` the sums over the risk set are computed from suffix sums in ``O(n log n)``:

.. math:: \\sum_{start < t \\le stop} w = \\sum_{stop \\ge t} w - \\sum_{start \\ge t} w .
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def _suffix_at(keys: np.ndarray, values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``sum(values[keys >= t])`` for each ``t`` in ``times`` (values may be 2-D, rows aligned with keys)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    v = values[order]
    csum = np.cumsum(v[::-1], axis=0)[::-1]  # csum[i] = sum of v[i:]
    csum = np.concatenate([csum, np.zeros((1,) + v.shape[1:])], axis=0)
    pos = np.searchsorted(k, times, side="left")
    return csum[pos]


def risk_sums(start, stop, weights, X, times):
    """``S0(t) = sum w`` and ``S1(t) = sum w x`` over the rows at risk at each of ``times``."""
    start, stop, times = (np.asarray(a, dtype=float) for a in (start, stop, times))
    w = np.asarray(weights, dtype=float)
    s0 = _suffix_at(stop, w, times) - _suffix_at(start, w, times)
    if X is None:
        return s0, None
    wx = w[:, None] * np.asarray(X, dtype=float)
    s1 = _suffix_at(stop, wx, times) - _suffix_at(start, wx, times)
    return s0, s1


def breslow(start, stop, event, lp, strata=None) -> dict:
    """Breslow baseline cumulative hazard per stratum: ``H_0(t) = sum_{t_j <= t} d_j / sum_{R(t_j)} e^{lp}``.

    Returns ``{stratum: (times, cumhaz)}`` (times are the distinct event times of the stratum).
    """
    start, stop, lp = (np.asarray(a, dtype=float) for a in (start, stop, lp))
    event = np.asarray(event).astype(bool)
    strata = np.zeros(len(stop), dtype=int) if strata is None else np.asarray(strata)
    out = {}
    for s in pd.unique(strata):
        m = strata == s
        t_ev, d = np.unique(stop[m & event], return_counts=True)
        if len(t_ev) == 0:
            out[s] = (np.array([]), np.array([]))
            continue
        s0, _ = risk_sums(start[m], stop[m], np.exp(lp[m]), None, t_ev)
        out[s] = (t_ev, np.cumsum(d / s0))
    return out


def log_partial_likelihood(start, stop, event, lp, strata=None) -> float:
    """Cox log partial likelihood with Breslow's ties, over risk sets ``start < t <= stop`` per stratum:

    .. math:: \\ell(\\beta) = \\sum_{i: D_i} lp_i - \\sum_{t} d_t \\log \\sum_{j \\in R(t)} e^{lp_j}

    It is the score of :func:`~engage_models.survival.cox.choose_penalizer` (Verweij and van Houwelingen's
    cross-validated partial likelihood is ``l_all(beta_-k) - l_-k(beta_-k)``).
    """
    start, stop, lp = (np.asarray(a, dtype=float) for a in (start, stop, lp))
    event = np.asarray(event).astype(bool)
    strata = np.zeros(len(stop), dtype=int) if strata is None else np.asarray(strata)
    total = 0.0
    for s in pd.unique(strata):
        m = strata == s
        t_ev, d = np.unique(stop[m & event], return_counts=True)
        if not len(t_ev):
            continue
        shift = float(lp[m].max())  # exp of large linear predictors stays finite
        s0, _ = risk_sums(start[m], stop[m], np.exp(lp[m] - shift), None, t_ev)
        total += float(lp[m & event].sum() - (d * (np.log(s0) + shift)).sum())
    return total


def schoenfeld(start, stop, event, X, beta, strata=None) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals ``r_i = x_i - sum_{R(t_i)} w x / sum_{R(t_i)} w`` of every event (Breslow ties).

    Returns ``(event_times, residuals)`` with one row per event, in the order of the events in the data.
    """
    start, stop = np.asarray(start, dtype=float), np.asarray(stop, dtype=float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, dtype=float)
    w = np.exp(X @ np.asarray(beta, dtype=float))
    strata = np.zeros(len(stop), dtype=int) if strata is None else np.asarray(strata)
    idx = np.flatnonzero(event)
    res = np.empty((len(idx), X.shape[1]))
    for s in pd.unique(strata):
        m = strata == s
        ev = np.flatnonzero(event & m)
        if not len(ev):
            continue
        s0, s1 = risk_sums(start[m], stop[m], w[m], X[m], stop[ev])
        res[np.searchsorted(idx, ev)] = X[ev] - s1 / s0[:, None]
    return stop[idx], res


def ph_test(start, stop, event, X, beta, variance, names, strata=None, transform: str = "rank") -> pd.DataFrame:
    """Grambsch-Therneau test of proportional hazards, one covariate at a time (as lifelines computes it).

    Scaled Schoenfeld residuals ``r*_i = D V r_i`` (``D`` events, ``V`` the coefficients' covariance) are
    correlated with a transform ``g`` of the event time (``rank`` by default; ``km``, ``log``, ``identity``):

    .. math:: T_j = \\frac{(\\sum_i (g_i - \\bar g) r^*_{ij})^2}{D V_{jj} \\sum_i (g_i - \\bar g)^2} \\sim \\chi^2_1

    Unlike lifelines' ``proportional_hazard_test``, left-truncated rows (``start > 0``) are allowed: each
    residual uses the risk set ``start < t <= stop``. A slope of the scaled residuals against time means the
    hazard ratio drifts with tenure.
    """
    times, r = schoenfeld(start, stop, event, X, beta, strata)
    d = len(times)
    V = np.asarray(variance, dtype=float)
    scaled = d * r @ V
    if transform == "rank":
        g = stats.rankdata(times)
    elif transform == "log":
        g = np.log(times)
    elif transform == "identity":
        g = times
    elif transform == "km":
        from lifelines import KaplanMeierFitter
        from lifelines.exceptions import StatError

        from .._core.errors import InsufficientData

        try:
            km = KaplanMeierFitter().fit(np.asarray(stop), np.asarray(event), entry=np.asarray(start))
        except StatError as exc:  # "too few early truncation times": the risk set empties early in tenure
            raise InsufficientData("proportional-hazards test on the Kaplan-Meier time scale: too few accounts at "
                                   "risk early in tenure (most enter the data late: left truncation), so the "
                                   "curve drops to 0; use transform='rank'") from exc
        g = 1 - km.survival_function_at_times(times).to_numpy()
    else:
        raise ValueError(f"unknown time transform {transform!r}")
    gc = g - g.mean()
    num = (gc[:, None] * scaled).sum(0) ** 2
    den = d * np.diag(V) * (gc**2).sum()
    stat = num / den
    # direction: does the hazard ratio rise (+) or fall (-) with tenure?
    slope = (gc[:, None] * scaled).sum(0) / (gc**2).sum()
    return pd.DataFrame({"term": list(names), "test_statistic": stat, "p": stats.chi2.sf(stat, 1), "slope": slope})
