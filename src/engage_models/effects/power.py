"""How many accounts a holdout needs: sample size and minimum detectable effect of a difference in churn.

For a two-sided test at ``level`` with power ``power``, treated share ``1 - s`` and held-out share ``s`` of
``N`` accounts, control churn ``p0`` and treated churn ``p1 = p0 - delta`` (Chow, Shao and Wang 2008, 4.2;
Fleiss 2003, 4.2, without continuity correction)::

    N = (z_{1 - alpha/2} + z_power)^2 [p1 (1 - p1) / (1 - s) + p0 (1 - p0) / s] / delta^2

multiplied by ``variance_factor`` (``1 - rho^2`` when the estimate is adjusted for a pre-period covariate that
correlates ``rho`` with the outcome: CUPED, Deng et al. 2013). The minimum detectable effect of an estimate
with standard error ``se`` is ``(z_{1 - alpha/2} + z_power) se``.

>>> round(sample_size(0.15, 0.05, share=0.5))          # 2 x 683: the textbook 15% vs 10%
1366
>>> round(sample_size(0.15, 0.05, share=0.1))          # a 10% holdout needs far more accounts
4317
>>> round(100 * minimum_detectable_effect(0.15, 900, 100), 1)
10.5
"""

from __future__ import annotations

import math

import numpy as np

from .._core.stats import z_value


def _z_sum(level: float, power: float) -> float:
    if not 0 < power < 1:
        raise ValueError(f"power must lie strictly between 0 and 1, not {power!r}")
    return z_value(level) + z_value(2 * power - 1)


def sample_size(p0: float, effect: float, share: float = 0.5, level: float = 0.95, power: float = 0.8,
                variance_factor: float = 1.0) -> float:
    """Accounts (treated + held out) needed to detect a fall of ``effect`` (a proportion, 0.05 = 5 points) in
    churn from ``p0``, when a ``share`` of them is held out. NaN when it cannot be computed (``p0`` missing,
    ``effect`` not in (0, p0], ``share`` not in (0, 1))."""
    if p0 is None or not np.isfinite(p0) or not 0 < effect <= p0 < 1 or not 0 < share < 1:
        return math.nan
    p1 = p0 - effect
    var = p1 * (1 - p1) / (1 - share) + p0 * (1 - p0) / share
    return _z_sum(level, power) ** 2 * var * variance_factor / effect**2


def minimum_detectable_effect(p0: float, n_treated: int, n_control: int, level: float = 0.95, power: float = 0.8,
                              variance_factor: float = 1.0) -> float:
    """The smallest difference in churn (a proportion) a comparison of ``n_treated`` with ``n_control``
    accounts detects with ``power``, the churn rate being about ``p0`` in both arms."""
    if p0 is None or not np.isfinite(p0) or n_treated < 1 or n_control < 1:
        return math.nan
    se = math.sqrt(p0 * (1 - p0) * (1 / n_treated + 1 / n_control) * variance_factor)
    return _z_sum(level, power) * se


def detectable_from_se(se: float, level: float = 0.95, power: float = 0.8) -> float:
    """The minimum detectable effect of an estimate whose standard error is ``se``."""
    return _z_sum(level, power) * se if np.isfinite(se) else math.nan
