"""Validation inside a fit: the folds that choose the regularisation and calibrate, and the cost thresholds.

Folds, by what ``X`` allows (the first that applies):

1. **time**: ``X`` has the observation date: forward-chaining blocks of dates, training only on dates whose
   labels were observable before the block starts (:func:`time_splits`);
2. **grouped**: no usable date but several rows per account (``id_col``): stratified folds of *accounts*
   (:class:`~sklearn.model_selection.StratifiedGroupKFold`), so no account has rows on both sides; else an
   account's persistent traits let a weakly penalised model recognise it, the validation loss rewards that,
   and the choice of C and the calibration believe in a skill that new accounts will not see;
3. **stratified**: one row per account: stratified folds of rows.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

log = logging.getLogger(__name__)


def time_splits(dates, n_splits: int = 3, gap_days: int = 90, min_train_dates: int = 2):
    """Forward-chaining splits over observation dates: validate on a later block of dates, train on dates
    whose labels were observable before the block starts (``as_of + gap_days <= first validation date``).

    Returns a list of (train_index, validation_index) arrays, oldest first; empty when the dates are too
    few to leave a gap.
    """
    d = pd.to_datetime(pd.Series(dates), utc=True).reset_index(drop=True)
    uniq = np.sort(d.unique())
    blocks = np.array_split(uniq, n_splits + 1)[1:]
    out = []
    for block in blocks:
        if len(block) == 0:
            continue
        start = pd.Timestamp(block[0])
        train_dates = uniq[pd.to_datetime(uniq, utc=True) + pd.Timedelta(days=gap_days) <= start]
        if len(train_dates) < min_train_dates:
            continue
        tr = np.flatnonzero(d.isin(train_dates).to_numpy())
        va = np.flatnonzero(d.isin(block).to_numpy())
        out.append((tr, va))
    return out


def account_groups(X: pd.DataFrame, id_col: str | None) -> np.ndarray | None:
    """Integer account codes of the rows (a missing id is an account of its own); None without the column."""
    if not id_col or id_col not in X.columns:
        return None
    codes = pd.factorize(X[id_col])[0].copy()
    lone = codes < 0
    codes[lone] = codes.max(initial=-1) + 1 + np.arange(lone.sum())
    return codes


_SAID: set[str] = set()


def _say_once(message: str) -> None:
    """Log ``message`` (at INFO: it asks nothing of the user) once per run (every refit of a backtest or a
    bootstrap would say it again): a run of the pipeline starts by forgetting what the last one said
    (:func:`forget_said`), so a long-lived worker says it on each run, not once ever. At WARNING, the parallel
    refits' worker processes, each with its own memory of what was said, printed it again on stderr."""
    if message not in _SAID:
        _SAID.add(message)
        log.info(message)


def forget_said() -> None:
    """The next :func:`_say_once` of a message logs it again (``pipeline.run`` calls this first)."""
    _SAID.clear()


def _splits(X: pd.DataFrame, y: np.ndarray, date_col: str | None, cv: int, gap_days: int, seed: int,
            id_col: str | None = None):
    """(list of (train, validation) index arrays, kind): kind is 'time', 'grouped' or 'stratified'."""
    if date_col and date_col in X.columns:
        s = time_splits(X[date_col], n_splits=cv, gap_days=gap_days)
        if s:
            return s, "time"
        _say_once("the score's inner folds (calibration and bands, inside its training rows): too few "
                   "observation dates for time-ordered folds there; folds of accounts instead (the validation "
                   "of the score itself is unchanged)")
    counts = np.bincount(y.astype(int), minlength=2)
    groups = account_groups(X, id_col)
    with warnings.catch_warnings():  # one churner in the training rows: scikit-learn's warning (with the path of
        # its own file) said what the calibration then says itself, that no fold had both outcomes
        warnings.filterwarnings("ignore", "The least populated class in y has only", UserWarning)
        if groups is not None and len(np.unique(groups)) < len(groups):
            k = int(min(cv, len(np.unique(groups)), max(2, counts.min())))
            folds = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
            return list(folds.split(X, y, groups)), "grouped"
        k = int(min(cv, max(2, counts.min())))
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y)), "stratified"


def choose_thresholds(y, p, cost_ratios=(9.0, 4.0)) -> tuple[float, float]:
    """(yellow, red) probability thresholds minimising realised cost on ``(y, p)``.

    For a cost ratio R (a missed churner costs R outreaches), the threshold t minimises
    ``R * #(churned and p < t) + #(stayed and p >= t)`` over the observed probabilities. The larger ratio
    gives the (lower) yellow threshold. ``p`` must not come from a model fitted on ``y`` (use out-of-fold
    predictions, as :class:`~engage_models.health.HealthScore` does), or the thresholds inherit its overfit.
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    order = np.argsort(p)
    ps, ys = p[order], y[order]
    cand = np.unique(ps)
    # for threshold cand[k]: flagged = p >= cand[k]
    idx = np.searchsorted(ps, cand, side="left")
    missed = np.concatenate([[0], np.cumsum(ys)])[idx]            # churners below the threshold
    false_alarms = np.concatenate([[0], np.cumsum((1 - ys)[::-1])])[len(ps) - idx]  # stayers at/above
    out = []
    for r in sorted(cost_ratios, reverse=True):
        out.append(float(cand[int(np.argmin(r * missed + false_alarms))]))
    yellow, red = out[0], max(out[1], out[0])
    return yellow, red
