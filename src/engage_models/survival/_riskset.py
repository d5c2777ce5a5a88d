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


def ph_test(start, stop, event, X, beta, variance, names, strata=None, transform: str = "rank",
            groups=None, exact: bool = True) -> pd.DataFrame:
    """Grambsch-Therneau test of proportional hazards, one term at a time and (``groups``) a covariate's terms
    together: the exact score test (:func:`ph_score_test`, R's ``cox.zph``), or with ``exact=False`` the
    scaled-residual form lifelines computes, below.

    Scaled Schoenfeld residuals ``r*_i = D V r_i`` (``D`` events, ``V`` the coefficients' covariance) are
    correlated with a transform ``g`` of the event time (``rank`` by default; ``km``, ``log``, ``identity``):

    .. math:: T_j = \\frac{(\\sum_i (g_i - \\bar g) r^*_{ij})^2}{D V_{jj} \\sum_i (g_i - \\bar g)^2} \\sim \\chi^2_1

    Unlike lifelines' ``proportional_hazard_test``, left-truncated rows (``start > 0``) are allowed: each
    residual uses the risk set ``start < t <= stop``. A slope of the scaled residuals against time means the
    hazard ratio drifts with tenure.

    ``groups`` (a label per name: the covariate a categorical level's term comes from) adds each group's joint
    test, as R's ``cox.zph`` tests a factor as one term (``joint_statistic``, ``joint_df``, ``joint_p``; a group
    of one term is its own test; in the scaled form ``T_S = u_S' (D V_SS sum (g - g_bar)^2)^-1 u_S``). A
    level-by-level test missed a factor whose levels each drift a little: the veteran table's ``celltype``, 15.3
    on 3 df (p 0.0016) exactly, as R reports it, where the scaled form gave 7.5 (p 0.058) and no level alone
    passed 0.05. ``slope`` is the scaled residuals' trend, either way.
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
    u = (gc[:, None] * scaled).sum(0)
    slope = u / (gc**2).sum()  # direction: does the hazard ratio rise (+) or fall (-) with tenure?
    if not exact:
        stat = u**2 / (d * np.diag(V) * (gc**2).sum())
    else:
        groupings = [list(names)] + ([list(groups)] if groups is not None else [])
        tests = ph_score_test(start, stop, event, X, beta, gc, groupings, strata)
        stat = tests[0][0]
    out = pd.DataFrame({"term": list(names), "test_statistic": stat, "p": stats.chi2.sf(stat, 1), "slope": slope})
    if groups is not None and exact:
        joint, df = tests[1]
    elif groups is not None:
        labels = np.asarray(list(groups), dtype=object)
        joint, df = np.empty(len(labels)), np.empty(len(labels), dtype=int)
        for label in dict.fromkeys(labels):
            idx = np.flatnonzero(labels == label)
            cov = d * V[np.ix_(idx, idx)] * (gc**2).sum()
            joint[idx] = float(u[idx] @ np.linalg.lstsq(cov, u[idx], rcond=None)[0])
            df[idx] = len(idx)
    if groups is not None:
        out["joint_statistic"], out["joint_df"], out["joint_p"] = joint, df, stats.chi2.sf(joint, df)
    return out


def ph_score_test(start, stop, event, X, beta, g, groupings, strata=None) -> list[tuple[np.ndarray, np.ndarray]]:
    r"""The exact score test of proportional hazards (R's ``cox.zph`` since survival 3.0): for each group of
    terms ``S``, the score test of adding ``gamma_S x g(t)`` to the model at the fitted ``beta`` (Breslow ties).

    With ``V_k`` the covariance of ``x`` over the risk set of event ``k`` (weights ``e^{x'beta}``), ``r_k`` its
    Schoenfeld residual and ``g_k`` the transformed time: ``U = sum g_k r_k``, ``I_bb = sum V_k``,
    ``I_bg = sum g_k V_k``, ``I_gg = sum g_k^2 V_k``, and

    .. math:: T_S = U_S' (I_{gg,SS} - I_{gb,S\cdot} I_{bb}^{-1} I_{bg,\cdot S})^{-1} U_S \sim \chi^2_{|S|}

    The scaled-residual form (:func:`ph_test`'s ``T_j``, lifelines') takes ``V_k`` constant in time: on the veteran
    table its ``celltype`` statistic was 7.5 on 3 df where this one follows how the cell types' mix in the risk
    set moves. ``groupings``: labellings of the terms (a label per term), each giving ``(statistic, df)`` per
    term, a term carrying its group's; ``g`` per event, in the data's order of the events.
    """
    start, stop = np.asarray(start, dtype=float), np.asarray(stop, dtype=float)
    event = np.asarray(event).astype(bool)
    X = np.asarray(X, dtype=float)
    w = np.exp(X @ np.asarray(beta, dtype=float))
    strata = np.zeros(len(stop), dtype=int) if strata is None else np.asarray(strata)
    g = np.asarray(g, dtype=float)
    idx = np.flatnonzero(event)  # the events, in the order of g
    p = X.shape[1]
    U, Ibb, Ibg, Igg = np.zeros(p), np.zeros((p, p)), np.zeros((p, p)), np.zeros((p, p))
    for s in pd.unique(strata):
        m = np.flatnonzero(strata == s)
        ev = np.flatnonzero(event & (strata == s))
        if not len(ev):
            continue
        times = np.unique(stop[ev])
        a0, a1, a2 = _segment_sums(stop[m], times, w[m], X[m])
        b0, b1, b2 = _segment_sums(start[m], times, w[m], X[m])
        s0, s1, s2 = a0 - b0, a1 - b1, a2 - b2
        k = np.searchsorted(times, stop[ev])
        mean = s1[k] / s0[k][:, None]
        V = s2[k] / s0[k][:, None, None] - mean[:, :, None] * mean[:, None, :]
        gk = g[np.searchsorted(idx, ev)]
        U += (gk[:, None] * (X[ev] - mean)).sum(0)
        Ibb += V.sum(0)
        Ibg += (gk[:, None, None] * V).sum(0)
        Igg += (gk[:, None, None] ** 2 * V).sum(0)
    info = Igg - Ibg.T @ np.linalg.pinv(Ibb) @ Ibg
    out = []
    for groups in groupings:
        labels = np.asarray(list(groups), dtype=object)
        stat, df = np.empty(p), np.empty(p, dtype=int)
        for label in dict.fromkeys(labels):
            S = np.flatnonzero(labels == label)
            stat[S] = float(U[S] @ np.linalg.lstsq(info[np.ix_(S, S)], U[S], rcond=None)[0])
            df[S] = len(S)
        out.append((stat, df))
    return out


def _segment_sums(keys: np.ndarray, times: np.ndarray, phi: np.ndarray, X: np.ndarray):
    """Sums over rows with ``key >= t_k`` for each sorted time ``t_k``: of ``phi``, ``phi x`` and ``phi x x'``.

    Each row falls in one segment ``[t_k, t_{k+1})`` of the times (rows before ``t_0`` in none); the sums per
    segment, accumulated from the last segment back, are the suffix sums. Cost ``O(n d^2)``, memory
    ``O(K d^2)`` for ``K`` times, never ``O(n d^2)``.
    """
    seg = np.searchsorted(times, keys, side="right") - 1
    s0, s1, s2 = _group_sums(seg, len(times), phi, X)
    rev = (slice(None, None, -1),)
    return np.cumsum(s0[rev], axis=0)[rev], np.cumsum(s1[rev], axis=0)[rev], np.cumsum(s2[rev], axis=0)[rev]


def _group_sums(group: np.ndarray, k: int, phi: np.ndarray, X: np.ndarray):
    """Per group ``0..k-1`` (rows with a negative group left out): sums of ``phi``, ``phi x``, ``phi x x'``."""
    keep = np.flatnonzero(group >= 0)
    order = keep[np.argsort(group[keep], kind="stable")]
    g, p, x = group[order], phi[order], X[order]
    px = p[:, None] * x
    s0 = np.bincount(g, weights=p, minlength=k)
    s1 = np.zeros((k, X.shape[1]))
    s2 = np.zeros((k, X.shape[1], X.shape[1]))
    if len(g):
        heads = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        s1[g[heads]] = np.add.reduceat(px, heads, axis=0)
        ends = np.r_[heads[1:], len(g)]
        for j, a, b in zip(g[heads], heads, ends, strict=True):
            s2[j] = x[a:b].T @ px[a:b]
    return s0, s1, s2


def efron_gradients(X, events, start, stop, weights, beta):
    """Hessian, gradient and log partial likelihood of the Cox model on (start, stop] rows, Efron's ties.

    The same quantities, in the same order and convention, as lifelines'
    ``CoxTimeVaryingFitter._get_gradients`` (which loops over the event times and rebuilds each risk set:
    ``O(K n d^2)`` for ``K`` distinct event times); here the risk-set sums come from suffix sums over the
    sorted start and stop times (``O(n d^2 + K d^2)``), and the ties of every time are handled at once.
    With ``S(t) = sum over start < t <= stop`` of ``phi = w e^{x'b}`` (and ``phi x``, ``phi x x'``), ``T(t)``
    the same over the ``m`` tied events at ``t``, and ``f_j = j / m`` for ``j = 0..m-1``:

    .. math:: \\ell = \\sum_t \\Big[ \\sum_{i \\in D_t} w_i x_i' b - \\bar w_t \\sum_j \\log (S_0 - f_j T_0) \\Big]
    """
    X = np.asarray(X, dtype=float)
    events = np.asarray(events).astype(bool)
    start, stop = np.asarray(start, dtype=float), np.asarray(stop, dtype=float)
    w = np.asarray(weights, dtype=float)
    beta = np.asarray(beta, dtype=float)
    d = X.shape[1]
    times = np.unique(stop[events])
    if not len(times):
        return np.zeros((d, d)), np.zeros(d), 0.0
    phi = w * np.exp(X @ beta)
    s0_stop, s1_stop, s2_stop = _segment_sums(stop, times, phi, X)
    s0_start, s1_start, s2_start = _segment_sums(start, times, phi, X)
    S0, S1, S2 = s0_stop - s0_start, s1_stop - s1_start, s2_stop - s2_start
    # the tie sets: events at each time
    ev = np.flatnonzero(events)
    k_of = np.searchsorted(times, stop[ev])
    m = np.bincount(k_of, minlength=len(times)).astype(float)
    T0, T1, T2 = _group_sums(k_of, len(times), phi[ev], X[ev])
    xw = np.zeros((len(times), d))
    heads = np.flatnonzero(np.r_[True, k_of[1:] != k_of[:-1]]) if np.all(np.diff(k_of) >= 0) else None
    if heads is not None:
        xw[k_of[heads]] = np.add.reduceat(w[ev, None] * X[ev], heads, axis=0)
    else:
        np.add.at(xw, k_of, w[ev, None] * X[ev])
    wavg = np.bincount(k_of, weights=w[ev], minlength=len(times)) / m
    # one term per event: j = 0..m-1 within each time
    kk = np.repeat(np.arange(len(times)), m.astype(int))
    first = np.r_[0, np.cumsum(m.astype(int))[:-1]]
    frac = (np.arange(len(kk)) - first[kk]) / m[kk]
    denom = 1.0 / (S0[kk] - frac * T0[kk])
    summand = (S1[kk] - frac[:, None] * T1[kk]) * denom[:, None]
    wk = wavg[kk]
    A = np.bincount(kk, weights=denom, minlength=len(times))
    B = np.bincount(kk, weights=frac * denom, minlength=len(times))
    a1 = np.einsum("k,kab->ab", wavg * A, S2) - np.einsum("k,kab->ab", wavg * B, T2)
    a2 = summand.T @ (wk[:, None] * summand)
    hessian = a2 - a1
    gradient = xw.sum(0) - (wk[:, None] * summand).sum(0)
    log_lik = float((xw @ beta).sum() + (wk * np.log(denom)).sum())
    return hessian, gradient, log_lik
