"""Population stability: how far today's rows have moved from the rows a model was trained on.

The population stability index (PSI) of a variable compares its distribution in an *expected* sample (the
training rows) with an *actual* one (the rows of one observation date):

.. math:: \\mathrm{PSI} = \\sum_b (a_b - e_b) \\ln(a_b / e_b)

where ``e_b`` and ``a_b`` are the shares of the two samples in bin ``b``. The bins are the quantiles of the
expected sample (deciles by default), so each holds about the same share of the training rows; the usual
reading (Siddiqi 2006, *Credit Risk Scorecards*) is below 0.1 stable, 0.1 to 0.25 some shift, above 0.25 a
shift large enough to question the model. Missing values form a bin of their own when either sample has one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.time import to_utc

#: Share given to a bin that holds no row of a sample, so the logarithm stays finite (an explicit floor:
#: one row in ten thousand; a bin empty in one sample then adds ``(a - 1e-4) ln(a / 1e-4)``).
PSI_FLOOR = 1e-4

#: Conventional reading of the PSI: below the first stable, above the second a major shift.
PSI_LEVELS = (0.1, 0.25)

ID_COLUMNS = ("account_id", "as_of")
LABEL_COLUMNS = ("churned_within_h", "duration_days", "event")


def psi_edges(expected, bins: int = 10) -> np.ndarray:
    """Inner edges of the quantile bins of ``expected`` (the distinct ``k / bins`` quantiles, k = 1..bins-1).

    A value ``x`` falls in bin ``i`` when ``edges[i-1] <= x < edges[i]`` (the first bin is open below, the last
    open above), so tied values never straddle a bin; a heavily tied sample has fewer, distinct bins."""
    e = np.asarray(expected, dtype=float)
    e = e[~np.isnan(e)]
    if len(e) == 0:
        return np.array([])
    q = np.quantile(e, np.arange(1, bins) / bins, method="linear")
    return np.unique(q)


def bin_shares(values, edges) -> np.ndarray:
    """Shares of ``values`` in the bins of ``edges`` (see :func:`psi_edges`), the missing-value bin last."""
    v = np.asarray(values, dtype=float)
    ok = ~np.isnan(v)
    counts = np.bincount(np.searchsorted(edges, v[ok], side="right"), minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, float((~ok).sum()))
    return counts / len(v) if len(v) else counts


def psi(expected, actual, *, bins: int = 10, floor: float = PSI_FLOOR) -> float:
    """Population stability index of ``actual`` against ``expected`` (see the module docstring).

    Bins are the quantiles of ``expected`` (:func:`psi_edges`); a bin's share is floored at ``floor`` (1e-4 by
    default) in both samples before the sum, so an empty bin contributes a large but finite term. NaN when either
    sample is empty.

    >>> round(psi([1, 2, 3, 4], [1, 2, 3, 4], bins=4), 6)
    0.0
    >>> round(psi([1, 2, 3, 4], [4, 4, 4, 4], bins=2), 4)   # all rows moved to the upper half
    4.6043
    """
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if len(e) == 0 or len(a) == 0:
        return float("nan")
    edges = psi_edges(e, bins)
    pe, pa = bin_shares(e, edges), bin_shares(a, edges)
    used = (pe > 0) | (pa > 0)  # the missing bin counts only when someone is missing
    pe, pa = np.maximum(pe[used], floor), np.maximum(pa[used], floor)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_level(value: float) -> str:
    """'stable', 'shift' or 'major' by the conventional 0.1 / 0.25 reading (``'unknown'`` for NaN)."""
    if value is None or not np.isfinite(value):
        return "unknown"
    return "stable" if value < PSI_LEVELS[0] else "shift" if value < PSI_LEVELS[1] else "major"


def monitored_metrics(model, reference: pd.DataFrame, panel: pd.DataFrame) -> list[str]:
    """The numeric metrics the model reads that both samples hold (``metrics_`` when the model states them,
    else its numeric ``feature_names_in_``), ids and labels excluded."""
    names = getattr(model, "metrics_", None)
    if names is None:
        names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = [c for c in reference.columns if c not in (*ID_COLUMNS, *LABEL_COLUMNS)]
    return [c for c in names if c not in (*ID_COLUMNS, *LABEL_COLUMNS) and c in reference.columns
            and c in panel.columns and pd.api.types.is_numeric_dtype(reference[c])
            and pd.api.types.is_numeric_dtype(panel[c])]


def features_of(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without its label columns: what a model scores."""
    return frame.drop(columns=[c for c in LABEL_COLUMNS if c in frame.columns])


def stability_table(model, reference: pd.DataFrame, panel: pd.DataFrame, *, trained_until=None,
                    bins: int = 10, date_col: str = "as_of") -> pd.DataFrame:
    """PSI of every metric the model reads and of its health score, training rows against each later date.

    Parameters
    ----------
    model : fitted health card (``health_score(X)``; ``metrics_`` or ``feature_names_in_``)
    reference : DataFrame
        The training rows (the expected sample).
    panel : DataFrame
        Today's panel; every observation date after ``trained_until`` is compared (the latest date always).

    Returns
    -------
    DataFrame
        One row per (date, variable): ``as_of``, ``variable`` (a metric's column, or ``score``), ``kind``
        ('metric' or 'score'), ``psi``, ``level`` (:func:`psi_level`), ``n_reference``, ``n``, the two means.
    """
    if reference.empty:
        raise ValueError("stability_table: the reference (training) sample has no row")
    if panel.empty:
        raise ValueError("stability_table: the panel has no row")
    metrics = monitored_metrics(model, reference, panel)
    dates = pd.Series(sorted(to_utc(panel[date_col]).unique()))
    latest = dates.iloc[-1]
    if trained_until is not None:
        dates = dates[dates > to_utc(trained_until)]
    dates = sorted(set(dates) | {latest})
    when = to_utc(panel[date_col])
    ref_score = np.asarray(model.health_score(features_of(reference)), dtype=float)
    rows = []
    for d in dates:
        now = panel[(when == d).to_numpy()]
        score = np.asarray(model.health_score(features_of(now)), dtype=float)
        pairs = [(m, "metric", reference[m].to_numpy(float), now[m].to_numpy(float)) for m in metrics]
        pairs.append(("score", "score", ref_score, score))
        for name, kind, e, a in pairs:
            value = psi(e, a, bins=bins)
            rows.append({"as_of": to_utc(d), "variable": name, "kind": kind, "psi": value,
                         "level": psi_level(value), "n_reference": len(e), "n": len(a),
                         "mean_reference": float(np.nanmean(e)) if np.isfinite(e).any() else np.nan,
                         "mean": float(np.nanmean(a)) if np.isfinite(a).any() else np.nan})
    return pd.DataFrame(rows)
