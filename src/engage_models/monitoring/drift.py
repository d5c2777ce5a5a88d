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
    """Inner edges of the quantile bins of ``expected`` (the distinct ``k / bins`` quantiles, k = 1..bins-1), and
    after a value that several quantiles fall on, the next larger value of ``expected``.

    A value ``x`` falls in bin ``i`` when ``edges[i-1] <= x < edges[i]`` (the first bin is open below, the last
    open above), so tied values never straddle a bin. A value holding more than a bin's share of the rows (the
    zeros of a count most accounts never reach) is a bin of its own: with the quantiles alone, a metric that is 0
    for 92% of the training rows had the one edge 0 and every row in one bin, and its PSI stayed 0 whatever the
    other 8% did (the demo's events attended tripled at PSI 0).

    >>> psi_edges([0, 0, 0, 0, 0, 0, 0, 0, 1, 3], bins=4).tolist()
    [0.0, 1.0]
    """
    e = np.asarray(expected, dtype=float)
    e = e[~np.isnan(e)]
    if len(e) == 0:
        return np.array([])
    q = np.quantile(e, np.arange(1, bins) / bins, method="linear")
    edges, times = np.unique(q, return_counts=True)
    values = np.unique(e)
    after = [values[np.searchsorted(values, v, side="right")] for v in edges[times > 1] if v < values[-1]]
    return np.unique(np.concatenate([edges, after]))


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
    return _psi_of_shares(bin_shares(e, edges), bin_shares(a, edges), floor)


def _psi_of_shares(pe: np.ndarray, pa: np.ndarray, floor: float) -> float:
    used = (pe > 0) | (pa > 0)  # the missing bin counts only when someone is missing
    pe, pa = np.maximum(pe[used], floor), np.maximum(pa[used], floor)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_level(value: float) -> str:
    """'stable', 'shift' or 'major' by the conventional 0.1 / 0.25 reading (``'unknown'`` for NaN)."""
    if value is None or not np.isfinite(value):
        return "unknown"
    return "stable" if value < PSI_LEVELS[0] else "shift" if value < PSI_LEVELS[1] else "major"


def usual_psi(expected, dates, *, bins: int = 10) -> float:
    """The largest PSI of one date's rows of ``expected`` against all of ``expected`` (its bins), over the distinct
    ``dates``: how far a single observation date strayed from the training rows while the model was trained.

    A metric whose months differ by design (a quarterly webinar's attendance, 0 in two months of three) moves as
    far every month; a PSI no larger than this is the metric's ordinary month-to-month variation, not drift. NaN
    with fewer than two dates (nothing to compare).

    >>> usual = usual_psi([0, 0, 0, 0, 5, 5, 5, 5], ["a", "a", "b", "b", "c", "c", "d", "d"], bins=2)
    >>> round(usual, 4) == round(psi([0, 0, 0, 0, 5, 5, 5, 5], [5, 5], bins=2), 4)
    True
    """
    if dates is None:
        return float("nan")
    e = np.asarray(expected, dtype=float)
    day, days = pd.factorize(np.asarray(dates))
    if len(e) == 0 or len(days) < 2:
        return float("nan")
    edges = psi_edges(e, bins)
    pe = bin_shares(e, edges)
    b = np.where(np.isnan(e), len(edges) + 1, np.searchsorted(edges, np.nan_to_num(e), side="right"))
    counts = np.bincount(day * (len(edges) + 2) + b, minlength=len(days) * (len(edges) + 2))
    counts = counts.reshape(len(days), len(edges) + 2).astype(float)
    return max(_psi_of_shares(pe, row / row.sum(), PSI_FLOOR) for row in counts)


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
        ('metric' or 'score'), ``psi``, ``level`` (:func:`psi_level`), ``psi_usual`` (:func:`usual_psi`: the
        largest PSI of one training date's rows against all of them; NaN with fewer than two training dates),
        ``usual`` (``psi`` at most ``psi_usual``: a move no larger than the metric made while the model was
        trained, e.g. a webinar count in a month without a webinar), ``n_reference``, ``n``, the two means.
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
    ref_dates = to_utc(reference[date_col]).to_numpy() if date_col in reference.columns else None
    usual = {m: usual_psi(reference[m].to_numpy(float), ref_dates, bins=bins) for m in metrics}
    usual["score"] = usual_psi(ref_score, ref_dates, bins=bins)
    rows = []
    for d in dates:
        now = panel[(when == d).to_numpy()]
        score = np.asarray(model.health_score(features_of(now)), dtype=float)
        pairs = [(m, "metric", reference[m].to_numpy(float), now[m].to_numpy(float)) for m in metrics]
        pairs.append(("score", "score", ref_score, score))
        for name, kind, e, a in pairs:
            value = psi(e, a, bins=bins)
            rows.append({"as_of": to_utc(d), "variable": name, "kind": kind, "psi": value,
                         "level": psi_level(value), "psi_usual": usual[name],
                         "usual": bool(np.isfinite(value) and value <= usual[name]), "n_reference": len(e), "n": len(a),
                         "mean_reference": float(np.nanmean(e)) if np.isfinite(e).any() else np.nan,
                         "mean": float(np.nanmean(a)) if np.isfinite(a).any() else np.nan})
    return pd.DataFrame(rows)
