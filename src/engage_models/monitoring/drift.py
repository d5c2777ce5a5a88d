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

from .._core.reasons import Thin
from .._core.time import to_utc

#: Share given to a bin that holds no row of a sample, so the logarithm stays finite (an explicit floor:
#: one row in ten thousand; a bin empty in one sample then adds ``(a - 1e-4) ln(a / 1e-4)``).
PSI_FLOOR = 1e-4

#: Conventional reading of the PSI: below the first stable, above the second a major shift.
PSI_LEVELS = (0.1, 0.25)

#: A PSI is drift only beyond what sampling alone gives: the conventional levels assume large samples, and a
#: region's export of 60 accounts passes 0.25 on a third of its metrics with nothing changed (30 accounts: more
#: than half), so retraining was recommended on noise in 4 of 5 random same-month samples of 60 accounts. The
#: :meth:`_Bins.chance` level: the PSI 99% of samples of today's size stay below when nothing changed (by
#: simulation, from the reference's own shares: the empty-bin floor and ties included, where a chi-square reading
#: of the PSI fails on small samples).
CHANCE_LEVEL = 0.99
CHANCE_DRAWS = 400
CHANCE_SEED = 20240101

ID_COLUMNS = ("account_id", "as_of")
LABEL_COLUMNS = ("churned_within_h", "duration_days", "event")


def psi_edges(expected, bins: int = 10) -> np.ndarray:
    """Inner edges of the quantile bins of ``expected`` (the distinct ``k / bins`` quantiles, k = 1..bins-1), and
    around every value that holds more than a bin's share of the rows (``1 / bins``), that value and the next
    larger one, so that such a value is a bin of its own.

    A value ``x`` falls in bin ``i`` when ``edges[i-1] <= x < edges[i]`` (the first bin is open below, the last
    open above), so tied values never straddle a bin. With the quantiles alone, a metric that is 0 for 92% of the
    training rows had the one edge 0 and every row in one bin, and its PSI stayed 0 whatever the other 8% did
    (the demo's events attended tripled at PSI 0); with 15% zeros the zeros shared a bin with values up to 1.76.

    >>> psi_edges([0, 0, 0, 0, 0, 0, 0, 0, 1, 3], bins=4).tolist()
    [0.0, 1.0]
    >>> psi_edges([0, 0, 1, 2, 3, 4, 5, 6, 7, 8], bins=10).round(2).tolist()   # 20% zeros: their own bin
    [0.0, 1.0, 1.7, 2.6, 3.5, 4.4, 5.3, 6.2, 7.1]
    """
    e = np.asarray(expected, dtype=float)
    e = e[~np.isnan(e)]
    if len(e) == 0:
        return np.array([])
    q = np.quantile(e, np.arange(1, bins) / bins, method="linear")
    values, counts = np.unique(e, return_counts=True)
    heavy = values[counts > len(e) / bins]
    after = np.array([values[np.searchsorted(values, v, side="right")] for v in heavy if v < values[-1]])
    edges = np.unique(np.concatenate([q, heavy, after]))
    for v, w in zip(heavy, after, strict=False):  # no quantile edge inside the gap after such a value
        edges = edges[(edges <= v) | (edges >= w)]
    return edges


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
    return _Bins(expected, bins).psi(actual, floor)


class _Bins:
    """A reference sample's PSI bins and its shares in them, made once and compared with any number of samples."""

    def __init__(self, expected, bins: int):
        e = np.asarray(expected, dtype=float)
        self.n = len(e)
        self.edges = psi_edges(e, bins)
        self.shares = bin_shares(e, self.edges)
        self._chance: dict[tuple, float] = {}

    def psi(self, actual, floor: float = PSI_FLOOR) -> float:
        a = np.asarray(actual, dtype=float)
        if self.n == 0 or len(a) == 0:
            return float("nan")
        return _psi_of_shares(self.shares, bin_shares(a, self.edges), floor)

    def chance(self, m: int, level: float = CHANCE_LEVEL, draws: int = CHANCE_DRAWS, floor: float = PSI_FLOOR
               ) -> float:
        """The PSI that ``level`` of samples of ``m`` rows stay below when nothing changed: both samples drawn
        from the reference's own shares (``self.n`` and ``m`` rows), their PSI computed as today's is, its
        ``level`` quantile. NaN without rows.

        It depends on nothing but the reference's shares and the two sizes, and each simulation starts from
        :data:`CHANCE_SEED`: it is simulated once per size and kept (a panel's dates mostly hold the same number of
        accounts: :func:`stability_table` simulated it again for every variable at every date), the same level as
        simulated afresh."""
        if self.n == 0 or m == 0:
            return float("nan")
        key = (int(m), level, draws, floor)
        if key not in self._chance:
            rng = np.random.default_rng(CHANCE_SEED)
            pe = rng.multinomial(self.n, self.shares, size=draws) / self.n
            pa = rng.multinomial(m, self.shares, size=draws) / m
            used = (pe > 0) | (pa > 0)  # as _psi_of_shares, every draw at once
            pe, pa = np.maximum(pe, floor), np.maximum(pa, floor)
            self._chance[key] = float(np.quantile(np.where(used, (pa - pe) * np.log(pa / pe), 0.0).sum(axis=1),
                                                  level))
        return self._chance[key]


def _psi_of_shares(pe: np.ndarray, pa: np.ndarray, floor: float) -> float:
    used = (pe > 0) | (pa > 0)  # the missing bin counts only when someone is missing
    pe, pa = np.maximum(pe[used], floor), np.maximum(pa[used], floor)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_level(value: float) -> str:
    """'stable', 'shift' or 'major' by the conventional 0.1 / 0.25 reading (``'unknown'`` for NaN)."""
    if value is None or not np.isfinite(value):
        return "unknown"
    return "stable" if value < PSI_LEVELS[0] else "shift" if value < PSI_LEVELS[1] else "major"


#: A training date counts in :func:`nearest_psi` only with at least this many rows per bin (10 rows x 10 bins):
#: a thin date's PSI is mostly noise and the empty-bin floor (a date of 15 rows read 1.65 against the rest).
MIN_ROWS_PER_BIN = 10


def nearest_psi(expected, dates, actual, *, bins: int = 10, min_rows: int | None = None) -> float:
    """The smallest PSI of ``actual`` against one date's rows of ``expected`` (that date's own bins), over the
    distinct ``dates`` with at least ``min_rows`` rows (default ``MIN_ROWS_PER_BIN * bins``): how far today's rows
    are from the training date they look most like.

    A metric whose months differ by design (a quarterly webinar's attendance, 0 for everyone two months in
    three) is a "major shift" every off-month against all the training rows pooled, yet looks just like the
    training rows of an off-month: its PSI against that date is near 0. A move to a distribution no training date
    had (a product change that halved logins) is far from every date. NaN with no date of enough rows.

    >>> e = [0.0] * 200 + [1.0, 2.0, 3.0, 4.0] * 50
    >>> round(nearest_psi(e, ["off"] * 200 + ["on"] * 200, [0.0] * 150, bins=2), 6)   # like the off-month
    0.0
    """
    e = np.asarray(expected, dtype=float)
    return _nearest([_Bins(e[rows], bins) for rows in _date_rows(dates, bins, min_rows)], actual)


def _date_rows(dates, bins: int, min_rows: int | None = None) -> list[np.ndarray]:
    """The positions of each distinct date of ``dates`` with at least ``min_rows`` rows (default
    ``MIN_ROWS_PER_BIN * bins``); none with fewer than two distinct dates, or without ``dates``."""
    if dates is None or len(dates) == 0:
        return []
    day, days = pd.factorize(np.asarray(dates))
    if len(days) < 2:
        return []
    need = MIN_ROWS_PER_BIN * bins if min_rows is None else min_rows
    rows = [np.flatnonzero(day == k) for k in range(len(days))]
    return [r for r in rows if len(r) >= need]


def _nearest(by_date: list[_Bins], actual) -> float:
    if len(np.asarray(actual)) == 0:
        return float("nan")
    found = [b.psi(actual) for b in by_date]
    return float(min(found)) if found else float("nan")


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
                    bins: int = 10, date_col: str = "as_of", psi_threshold: float = PSI_LEVELS[1]) -> pd.DataFrame:
    """PSI of every metric the model reads and of its health score, training rows against each later date.

    Parameters
    ----------
    model : fitted health card (``health_score(X)``; ``metrics_`` or ``feature_names_in_``)
    reference : DataFrame
        The training rows (the expected sample).
    panel : DataFrame
        Today's panel; every observation date after ``trained_until`` is compared (the latest date always).
    psi_threshold : float
        The PSI past which a variable may count as drift (the ``counted`` column; the monitoring setting).

    Raises :class:`~engage_models._core.errors.InsufficientData` without a training row or a row today (the
    retraining decision then says why drift could not be judged, and judges the rest).

    Returns
    -------
    DataFrame
        One row per (date, variable): ``as_of``, ``variable`` (a metric's column, or ``score``), ``kind``
        ('metric' or 'score'), ``psi``, ``level`` (:func:`psi_level`), ``psi_nearest`` (a metric's
        :func:`nearest_psi`: its PSI against the training date it looks most like; NaN for the score, whose drift
        is never excused, and without two training dates of enough rows), ``usual`` (``psi_nearest`` below 0.1:
        today looks like one of the training dates, e.g. a webinar count in a month without a webinar), ``n_reference``,
        ``n``, the two means, ``psi_chance`` (the PSI 99% of samples of ``n`` rows stay below when nothing changed:
        :meth:`_Bins.chance`), ``chance`` (``psi`` at or below it: not told from sampling noise),
        ``psi_threshold`` and ``counted`` (the row's PSI counts as drift at that threshold: :func:`counted`, which
        the retraining decision and report 08's table both read), ``judged`` (the row's date is the one the decision
        judges: :func:`judged_date`).
    """
    if reference is None or reference.empty:
        raise Thin("monitoring.why.no_reference")
    if panel.empty:
        raise Thin("monitoring.why.no_panel")
    metrics = monitored_metrics(model, reference, panel)
    dates = pd.Series(sorted(to_utc(panel[date_col]).unique()))
    latest = dates.iloc[-1]
    if trained_until is not None:
        dates = dates[dates > to_utc(trained_until)]
    dates = sorted(set(dates) | {latest})
    when = to_utc(panel[date_col])
    ref_score = np.asarray(model.health_score(features_of(reference)), dtype=float)
    ref_dates = to_utc(reference[date_col]).to_numpy() if date_col in reference.columns else None
    expected = {m: reference[m].to_numpy(float) for m in metrics} | {"score": ref_score}
    pooled = {name: _Bins(e, bins) for name, e in expected.items()}  # each reference binned once, not per date
    date_rows = _date_rows(ref_dates, bins)
    by_date = {m: [_Bins(expected[m][r], bins) for r in date_rows] for m in metrics}
    rows = []
    for d in dates:
        now = panel[(when == d).to_numpy()]
        score = np.asarray(model.health_score(features_of(now)), dtype=float)
        pairs = [(m, "metric", now[m].to_numpy(float)) for m in metrics] + [("score", "score", score)]
        for name, kind, a in pairs:
            e = expected[name]
            value = pooled[name].psi(a)
            near = _nearest(by_date[name], a) if kind == "metric" else float("nan")
            noise = pooled[name].chance(len(a))
            rows.append({"as_of": to_utc(d), "variable": name, "kind": kind, "psi": value, "psi_chance": noise,
                         "chance": bool(np.isfinite(value) and np.isfinite(noise) and value <= noise),
                         "level": psi_level(value), "psi_nearest": near,
                         "usual": bool(np.isfinite(near) and near < PSI_LEVELS[0]), "n_reference": len(e), "n": len(a),
                         "mean_reference": float(np.nanmean(e)) if np.isfinite(e).any() else np.nan,
                         "mean": float(np.nanmean(a)) if np.isfinite(a).any() else np.nan})
    out = pd.DataFrame(rows)
    out["psi_threshold"] = float(psi_threshold)
    out["counted"] = _counted(out, psi_threshold)
    out["judged"] = (out["as_of"] == judged_date(out, reference, date_col)).to_numpy()
    return out


def judged_date(stability: pd.DataFrame, reference: pd.DataFrame, date_col: str = "as_of") -> pd.Timestamp:
    """The date drift is judged at: the latest date of ``stability`` on the calendar of the training rows (a day
    of the month some of them have: month starts, the panel's), else the latest (a panel of other dates). The
    retraining decision judges it (:func:`~engage_models.monitoring.recommend.recommend_retrain`), and the table
    marks it (``judged``) for report 08's table to show the same date."""
    dates = pd.DatetimeIndex(pd.to_datetime(stability["as_of"], utc=True).unique()).sort_values()
    days = set(pd.to_datetime(reference[date_col], utc=True).dt.day) if date_col in reference else set()
    on_grid = [d for d in dates if d.day in days]
    return on_grid[-1] if on_grid else dates[-1]


def counted(stability: pd.DataFrame, threshold: float = PSI_LEVELS[1]) -> pd.Series:
    """Which rows of a :func:`stability_table` count as drift at ``threshold``: the PSI is past it, and the rows
    look like no training date (not ``usual``; the score never is) and are beyond chance (not ``chance``). The
    table's ``counted`` column when it was made at ``threshold``; else (a table written before the column was, or
    a threshold other than the table's) the same rule on its columns.

    >>> t = pd.DataFrame({"psi": [0.4, 0.4, 0.4, 0.2, np.nan], "usual": [False, True, False, False, False],
    ...                   "chance": [False, False, True, False, False]})
    >>> counted(t).tolist(), counted(t, 0.1).tolist()
    ([True, False, False, False, False], [True, False, False, True, False])
    """
    if "counted" in stability and "psi_threshold" in stability and (stability["psi_threshold"] == threshold).all():
        return stability["counted"].astype(bool)
    return _counted(stability, threshold)


def _counted(stability: pd.DataFrame, threshold: float) -> pd.Series:
    """The rule of :func:`counted`, on the table's columns (a column it lacks excuses nothing)."""
    def flag(name: str) -> pd.Series:
        return stability[name].eq(True) if name in stability else pd.Series(False, index=stability.index)

    return (stability["psi"].astype(float) > threshold) & ~flag("usual") & ~flag("chance")
