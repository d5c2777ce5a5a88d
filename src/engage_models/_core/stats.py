"""Statistics shared by every part of the package (array-friendly: counts may be numpy arrays).

Intervals are two-sided at ``level`` (0.95 by default); ``z`` is the standard normal quantile
``Phi^-1(1 - (1 - level) / 2)``. One Wilson interval serves KPIs, calibration curves and surveys, with
exact ends (0 for no events, 1 for all), so an error bar never comes out negative.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

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


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def logit(p, eps: float = _EPS):
    """``log(p / (1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``."""
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    return np.log(p / (1 - p))


def log_loss(y, p, eps: float = _EPS) -> float:
    """Mean negative log-likelihood of 0/1 outcomes ``y`` under probabilities ``p`` (clipped to ``eps``)."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


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
