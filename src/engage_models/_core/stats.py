"""Statistics shared by every part of the package (array-friendly: counts may be numpy arrays).

Intervals are two-sided at ``level`` (0.95 by default); ``z`` is the standard normal quantile
``Phi^-1(1 - (1 - level) / 2)``. One Wilson interval serves KPIs, calibration curves and surveys, with
exact ends (0 for no events, 1 for all), so an error bar never comes out negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.special import expit

_EPS = 1e-6


def z_value(level: float = 0.95) -> float:
    """Standard normal quantile for a two-sided interval of coverage ``level``."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def wilson_interval(k, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion ``k / n`` (arrays allowed; NaN where ``n == 0``).

    .. math::
        \\frac{k + z^2/2}{n + z^2} \\pm \\frac{z}{n + z^2} \\sqrt{\\frac{k (n - k)}{n} + \\frac{z^2}{4}}

    Unlike the Wald interval it stays inside [0, 1] and keeps close to nominal coverage at small ``n`` and
    for rare events such as a month's churn (Brown, Cai and DasGupta 2001). The ends are exact: the lower
    bound is 0 when ``k == 0`` and the upper bound 1 when ``k == n`` (not rounding noise such as 1e-15).

    >>> lo, hi = wilson_interval(0, 10)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.2775)
    >>> lo, hi = wilson_interval(0, 21)
    >>> float(lo)
    0.0
    """
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (k + z**2 / 2) / (n + z**2)
        half = z / (n + z**2) * np.sqrt(k * (n - k) / n + z**2 / 4)
        lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    lo, hi = np.where(k <= 0, 0.0, lo), np.where(k >= n, 1.0, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def difference_interval(p1, lo1, hi1, p2, lo2, hi2) -> tuple[float, float]:
    """Interval of ``p1 - p2`` from each estimate's own (independent) interval, by the method of variance
    estimates recovery (MOVER; Newcombe 1998, Zou and Donner 2008): asymmetric intervals such as Wilson's or
    a Kaplan-Meier curve's stay asymmetric, and a group with no event (an interval up to 1) still widens it.

    >>> [round(v, 4) for v in difference_interval(0.5, 0.4, 0.6, 0.5, 0.4, 0.6)]
    [-0.1414, 0.1414]
    """
    d = p1 - p2
    return float(d - np.hypot(p1 - lo1, hi2 - p2)), float(d + np.hypot(hi1 - p1, p2 - lo2))


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``, exact and without overflow at any ``x`` (``exp(-x)`` overflowed
    below -709, where an unpenalised fit on a tiny table puts a linear predictor, with a RuntimeWarning)."""
    return expit(np.asarray(x, dtype=float))


def logit(p, eps: float = _EPS):
    """``log(p / (1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``."""
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    return np.log(p / (1 - p))


def log_loss(y, p, eps: float = _EPS) -> float:
    """Mean negative log-likelihood of 0/1 outcomes ``y`` under probabilities ``p`` (clipped to ``eps``)."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def nanpercentile_columns(a, q) -> np.ndarray:
    """``np.nanpercentile(a, q, axis=0)``, equal to it, without its loop over columns.

    numpy takes a column at a time as soon as any value is missing (27,000 columns: 2.5 s for one bootstrap's
    intervals); here the columns without a missing value go through ``np.percentile`` at once, and only the
    others one by one. All-missing columns give NaN (silently)."""
    import warnings

    a = np.asarray(a, float)
    if a.ndim < 2:
        return np.nanpercentile(a, q, axis=0)
    flat = a.reshape(a.shape[0], -1)
    missing = np.isnan(flat).any(axis=0)
    out = np.empty((len(np.atleast_1d(q)), flat.shape[1]))
    if (~missing).any():
        out[:, ~missing] = np.percentile(flat[:, ~missing], q, axis=0).reshape(len(out), -1)
    if missing.any():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            out[:, missing] = np.nanpercentile(flat[:, missing], q, axis=0).reshape(len(out), -1)
    out = out.reshape((len(out), *a.shape[1:]))
    return out if np.ndim(q) else out[0]


def m_out_of_n(full, draws, m: int, n: int) -> np.ndarray:
    """Bootstrap draws of ``m`` of ``n`` units rescaled to the full sample's spread: each draw's distance from
    the full-sample estimate shrinks by ``sqrt(m / n)`` (the m-out-of-n bootstrap, Bickel, Goetze and van Zwet
    1997; first order, for a statistic whose spread falls as one over the root of the units). Draws of all
    ``n`` come back as they are; ``inf - inf`` (a value without end) stays undefined, silently.

    >>> m_out_of_n(0.7, [0.6, 0.8], m=25, n=100).round(3).tolist()
    [0.65, 0.75]
    """
    draws = np.asarray(draws, float)
    if m >= n:
        return draws
    with np.errstate(invalid="ignore"):
        return full + np.sqrt(m / n) * (draws - np.asarray(full, float))


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean with its Student-t interval ``mean +- t_{n-1} s / sqrt(n)``: ``(mean, low, high, n)``.

    Missing values are ignored; bounds are NaN for fewer than two values.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    m = float(v.mean())
    if n < 2:
        return m, np.nan, np.nan, n
    half = float(stats.t.ppf(1 - (1 - level) / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def fisher_z_interval(r, n, level: float = 0.95, spearman: bool = True):
    """Interval for a correlation by Fisher's z = atanh(r).

    ``tanh(atanh(r) +- z * se)`` with ``se = 1 / sqrt(n - 3)`` for Pearson's r, and Bonett and Wright's
    (2000) ``se = sqrt((1 + r^2 / 2) / (n - 3))`` for Spearman's rho (``spearman=True``). NaN for n < 4.
    """
    r, n = np.asarray(r, dtype=float), np.asarray(n, dtype=float)
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(((1 + r**2 / 2) if spearman else 1.0) / (n - 3))
        zr = np.arctanh(np.clip(r, -0.999999, 0.999999))
        lo, hi = np.tanh(zr - z * se), np.tanh(zr + z * se)
    bad = n < 4
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    ``q_(i) = min_{j >= i} p_(j) m / j`` over the p-values sorted ascending; NaN p-values stay NaN and do
    not count in ``m``.
    """
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok])
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(ranked, 0, 1)
    q[ok] = out
    return q


def two_sided_p(z) -> np.ndarray:
    """Two-sided normal p-value ``2 (1 - Phi(|z|))``."""
    return 2 * stats.norm.sf(np.abs(np.asarray(z, dtype=float)))


# ------------------------------------------------------------------------------- clustered observations
# Survey answers come in clusters (several users of one account answer alike), so an interval or test that
# treats every answer as independent is too narrow. The helpers below estimate the variance of a mean by
# linearisation over clusters (the "ultimate cluster" estimator of survey sampling: Cochran 1977, ch. 6;
# Wolter 2007, ch. 6), turn it into an effective sample size for count-based intervals (Kish's design effect
# with Korn and Graubard's 1998 degrees-of-freedom correction), and resample whole clusters for statistics
# without a closed-form variance (rank correlations).


def cluster_moments(y, clusters=None, groups=None) -> pd.DataFrame:
    """Mean of ``y`` per group with its cluster-robust (linearisation) variance.

    For a group with clusters ``k = 1..K``, cluster totals ``Y_k`` and sizes ``m_k`` (``n = sum m_k``), the
    mean is the ratio ``R = sum Y_k / n`` and its variance

    .. math:: v_{cl} = \\frac{K}{K - 1} \\sum_k \\frac{(Y_k - R\\,m_k)^2}{n^2}

    which reduces to ``s^2 / n`` (``s^2`` with ``n - 1``) when every cluster holds one observation.
    ``var_srs`` is that independent-observations variance ``s^2 / n``, so ``var_cluster / var_srs`` is the
    design effect. Missing ``y`` are dropped; ``clusters=None`` makes each observation its own cluster.

    Returns
    -------
    DataFrame
        One row per group (index: the group keys, or ``0`` without ``groups``): ``n``, ``clusters`` (K),
        ``mean``, ``var_cluster`` (NaN for K < 2), ``var_srs`` (NaN for n < 2) and ``sum_m2``
        (``sum m_k^2``, for :func:`effective_n`).
    """
    y = np.asarray(y, dtype=float)
    ok = ~np.isnan(y)
    if clusters is None:
        c = np.arange(len(y))
    else:
        c = pd.factorize(np.asarray(clusters, dtype=object))[0]
        if (c[ok] < 0).any():
            raise ValueError("cluster ids must not be missing")
    if groups is None:
        g_codes, g_keys = np.zeros(len(y), dtype=np.int64), np.array([0])
    else:
        g_codes, g_keys = pd.factorize(np.asarray(groups), sort=True)
        if (g_codes[ok] < 0).any():
            raise ValueError("group keys must not be missing")
    y, c, g = y[ok], c[ok], g_codes[ok]
    G = len(g_keys)
    # one cell per (group, cluster): totals, sizes
    cell = np.unique(g.astype(np.int64) * (int(c.max(initial=0)) + 1) + c, return_inverse=True)[1]
    cells = int(cell.max(initial=-1)) + 1
    Y, m = np.bincount(cell, y, cells), np.bincount(cell, minlength=cells).astype(float)
    cell_g = np.zeros(cells, dtype=np.int64)
    cell_g[cell] = g
    n = np.bincount(g, minlength=G).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(g, y, G) / n
        k = np.bincount(cell_g, minlength=G).astype(float)
        ss = np.bincount(cell_g, (Y - mean[cell_g] * m) ** 2, G)
        var_cluster = np.where(k > 1, k / (k - 1) * ss / n**2, np.nan)
        s2 = np.maximum(np.bincount(g, y * y, G) - n * mean**2, 0) / (n - 1)
        var_srs = np.where(n > 1, s2 / n, np.nan)
    out = pd.DataFrame({"n": n.astype(np.int64), "clusters": k.astype(np.int64), "mean": mean,
                        "var_cluster": var_cluster, "var_srs": var_srs, "sum_m2": np.bincount(cell_g, m**2, G)},
                       index=pd.Index(g_keys) if groups is not None else pd.RangeIndex(1))
    return out[out["n"] > 0]


def effective_n(n, clusters, var_cluster, var_srs, sum_m2, level: float = 0.95) -> np.ndarray:
    """Effective number of independent observations behind a clustered mean (arrays allowed).

    ``n_eff = n / deff * (t_{n-1} / t_{K-1})^2`` with the design effect ``deff = var_cluster / var_srs``
    floored at 1 (clustering is never taken to help), the factor being Korn and Graubard's (1998)
    correction for a variance estimated from only ``K`` clusters; never more than ``n``. Plugging ``n_eff``
    (and the counts scaled to it) into an interval for independent observations (Wilson, adjusted Wald)
    gives its clustered version, as recommended for proportions from cluster samples (Korn and Graubard
    1998; Dean and Pagano 2015).

    Where the design effect cannot be estimated (a single cluster, or every observation equal) the worst
    case is taken: observations of one cluster are copies of each other, ``n_eff = n^2 / sum m_k^2``
    (one per cluster when clusters are of equal size). With one observation per cluster ``n_eff = n``.
    """
    n, k, vc, vs, m2 = (np.asarray(v, dtype=float) for v in (n, clusters, var_cluster, var_srs, sum_m2))
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = np.where(k == n, 1.0, np.maximum(vc / vs, 1.0))  # one observation per cluster: no effect
        worst = n**2 / m2
        a = (1 - level) / 2
        df_factor = (stats.t.ppf(1 - a, np.maximum(n - 1, 1)) / stats.t.ppf(1 - a, np.maximum(k - 1, 1))) ** 2
        est = n / deff * np.where(k == n, 1.0, df_factor)
        usable = (k > 1) & np.isfinite(vc) & np.isfinite(vs) & (vs > 0)
        out = np.where(usable, est, worst)
        return np.where(n > 0, np.minimum(out, n), 0.0)


def cluster_t_interval(mean, var_cluster, clusters, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """``mean +- t_{K-1} sqrt(var_cluster)``: the interval of a clustered mean (NaN for fewer than 2 clusters)."""
    m, v, k = (np.asarray(x, dtype=float) for x in (mean, var_cluster, clusters))
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(1 - (1 - level) / 2, np.where(k > 1, k - 1, np.nan))
        half = q * np.sqrt(v)
    return m - half, m + half


def bounded_t_interval(mean, var_cluster, clusters, low: float, high: float,
                       level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The interval of a clustered mean of answers on a scale ``[low, high]`` (a CSAT mean), made on the logit of
    the mean's place on the scale (delta method, ``t_{K-1}``) and taken back: it stays on the scale and reaches
    further from the end the mean is near. The plain t interval held the truth 90-93% of the time for a nominal
    95% with 6-12 accounts and answers bunched at the top (mean 4.6-4.8 of 5; 0.93 even with 40 accounts at a
    mean of 3.6); this one 0.935-0.952 in the same worlds. NaN for fewer than 2 clusters; the mean itself when
    every answer is one value.

    >>> lo, hi = bounded_t_interval([11 / 3], [1.5275**2 / 3], [3], 1, 5)  # answers 5, 4, 2 of 1-5
    >>> round(float(lo[0]), 2), round(float(hi[0]), 2)
    (1.11, 4.97)
    """
    m, v, k = (np.asarray(x, dtype=float) for x in (mean, var_cluster, clusters))
    width = float(high - low)
    s = np.clip((m - low) / width, 1e-9, 1 - 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = stats.t.ppf(1 - (1 - level) / 2, np.where(k > 1, k - 1, np.nan))
        half = q * np.sqrt(v) / (width * s * (1 - s))
        theta = np.log(s / (1 - s))
        lo, hi = (low + width * expit(theta + sign * half) for sign in (-1, 1))  # no overflow for a wide half
    flat = (v == 0) & np.isfinite(q)
    return np.where(flat, m, lo), np.where(flat, m, hi)


def _cluster_draws(clusters, n_boot: int, seed=0, chunk: int | None = None):
    """The cluster codes of the observations and an iterator of ``(size, k)`` blocks of cluster counts (how
    often each of the ``k`` clusters is drawn in each resample): the draws behind
    :func:`cluster_bootstrap_weights`."""
    codes = pd.factorize(np.asarray(clusters, dtype=object))[0]
    k = int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)

    def blocks():
        for start in range(0, n_boot, chunk or n_boot):
            size = min(chunk or n_boot, n_boot - start)
            yield rng.multinomial(k, np.full(k, 1.0 / k), size=size) if k else np.zeros((size, 0), int)

    return codes, k, blocks()


def cluster_bootstrap_weights(clusters, n_boot: int, seed=0, chunk: int | None = None):
    """``(n_boot, n)`` integer weights: how often each observation's cluster is drawn in each resample.

    Each resample draws as many clusters as there are, with replacement (the cluster bootstrap: Davison
    and Hinkley 1997, section 3.8); an observation enters with its cluster's multiplicity. With ``chunk``
    the weights come as an iterator of ``(chunk, n)`` blocks (the same draws, bounded memory).
    """
    codes, _, draws = _cluster_draws(clusters, n_boot, seed, chunk)
    blocks = (counts[:, codes].astype(np.int32) for counts in draws)
    return blocks if chunk else next(blocks, np.zeros((0, len(codes)), np.int32))


def _indicator(rows: np.ndarray, n_cols: int) -> sparse.csr_matrix:
    """``(len(rows), n_cols)`` sparse matrix with a 1 at ``(i, rows[i])``."""
    return sparse.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), rows)), shape=(len(rows), n_cols))


class _RankPairs:
    """The distinct values of ``x`` and ``y`` and the distinct ``(x, y)`` pairs the observations take.

    A weighted Spearman's rho needs only each pair's total weight: the mid-ranks are running sums over the
    distinct values, and every moment of the ranks is a sum over values or pairs. Observations that share an
    account's metric value and an answer score collapse into one pair, so the work per resample is the number
    of pairs, not of observations.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        ux, xi = np.unique(x, return_inverse=True)
        uy, yi = np.unique(y, return_inverse=True)
        pairs, pair = np.unique(xi.ravel().astype(np.int64) * len(uy) + yi.ravel(), return_inverse=True)
        self.pair = pair.ravel()  # numpy 2 gives the inverse the input's shape: flat here either way
        self.n_pairs = len(pairs)
        self.px = pairs // len(uy)
        self.to_x = _indicator(self.px, len(ux)).T.tocsr()  # (x values, pairs)
        self.to_y = _indicator(pairs % len(uy), len(uy)).T.tocsr()

    def rho(self, wp: np.ndarray) -> np.ndarray:
        """Rho in each row of ``wp`` (``(m, pairs)``: the total weight of each pair in each resample)."""
        wx, wy = (self.to_x @ wp.T).T, (self.to_y @ wp.T).T  # the total weight of each distinct value
        rx = np.cumsum(wx, axis=1) - wx + (wx + 1) / 2  # mid-ranks of the distinct values, as if repeated
        ry = np.cumsum(wy, axis=1) - wy + (wy + 1) / 2
        sw = wx.sum(1)
        sx, sy = (wx * rx).sum(1), (wy * ry).sum(1)
        sxx, syy = (wx * rx * rx).sum(1), (wy * ry * ry).sum(1)
        sxy = ((self.to_y @ (wp * rx[:, self.px]).T).T * ry).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (sxy - sx * sy / sw) / np.sqrt((sxx - sx * sx / sw) * (syy - sy * sy / sw))
        varies = ((wx > 0).sum(1) > 1) & ((wy > 0).sum(1) > 1)  # exact: a constant resample has one value
        return np.where(varies, np.clip(r, -1.0, 1.0), np.nan)


def weighted_spearman(x, y, weights) -> np.ndarray:
    """Spearman's rho of ``x`` and ``y`` in each row of ``weights`` (frequency weights; mid-ranks for ties).

    Equals :func:`scipy.stats.spearmanr` of the sample with each observation repeated ``weights`` times;
    NaN where either variable is constant in the resample.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    w = np.atleast_2d(np.asarray(weights)).astype(float)
    rp = _RankPairs(x, y)
    return rp.rho((_indicator(rp.pair, rp.n_pairs).T @ w.T).T)


def cluster_bootstrap_spearman(x, y, clusters, n_boot: int = 1000, seed=0, level: float = 0.95,
                               chunk: int = 50) -> dict:
    """Spearman's rho with an interval and p-value from resampling whole clusters (accounts).

    The bootstrap standard error ``se`` of Fisher's ``atanh(rho)`` over ``n_boot`` cluster resamples gives
    the interval ``tanh(atanh(rho) +- z se)`` and the p-value ``2 (1 - Phi(|atanh(rho)| / se))``, so the
    interval excludes 0 exactly when ``p < 1 - level``. NaN when fewer than two clusters or no usable
    resample.

    Returns a dict of ``rho``, ``ci_low``, ``ci_high``, ``p_value``, ``se`` (Fisher-z scale), ``clusters``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    k = len(pd.unique(np.asarray(clusters, dtype=object)))
    rho = float(stats.spearmanr(x, y)[0]) if len(x) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else np.nan
    nan = {"rho": rho, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "se": np.nan, "clusters": k}
    if k < 2 or np.isnan(rho):
        return nan
    codes, k, draws = _cluster_draws(clusters, n_boot, seed, chunk)
    rp = _RankPairs(x, y)
    # each cluster's observations per (x, y) pair: a resample's pair weights are its cluster counts times this
    per_cluster = sparse.csr_matrix((np.ones(len(x)), (codes, rp.pair)), shape=(k, rp.n_pairs)).T.tocsr()
    rhos = np.concatenate([rp.rho((per_cluster @ counts.T.astype(float)).T) for counts in draws])
    zb = np.arctanh(np.clip(rhos[~np.isnan(rhos)], -0.999999, 0.999999))
    if len(zb) < 2:
        return nan
    se = float(np.std(zb, ddof=1))
    zr = float(np.arctanh(np.clip(rho, -0.999999, 0.999999)))
    q = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = float(two_sided_p(zr / se)) if se > 0 else (1.0 if zr == 0 else 0.0)
    return {"rho": rho, "ci_low": float(np.tanh(zr - q * se)), "ci_high": float(np.tanh(zr + q * se)),
            "p_value": p, "se": se, "clusters": k}
