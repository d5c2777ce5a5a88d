"""What a calibrated 0-100 score answers, shared by the learned cards (:class:`~.score.HealthScore`, the linear
card, and :class:`~.shapes.ShapeScore`, the card of ranges): the calibrated log-odds, probabilities, classes
and bands, from ``health_score``, ``calibration_ = (a, b)``, ``calibration_floor_ = c`` and
``thresholds_ = (yellow, red)``; and the calibration they are fitted with.

The calibration is Platt's map with a floor: ``p = c + (1 - c) / (1 + exp(-(a + b score)))``. The floor ``c``
is a share of churn that no score explains (people leave for reasons no column records): without it the
logistic map sends the healthiest accounts' probabilities towards 0, far below what they churn at. It is
fitted by maximum likelihood with Platt's slope, on at least 100 churners, and kept only when it improves the
likelihood beyond chance (the 5% test of a parameter on its boundary); otherwise ``c = 0``, Platt's map. On
IBM's attrition table (1,470 employees) the cards' out-of-fold ICI was 0.032 with Platt's map, beyond the 0.021
a calibrated score shows there at most (95%), and a cross-fitted floor of 3-4% brought it to 0.008-0.013
(``benchmarks/bench_health_shapes.py --deciles``).

The slope and the floor come from the folds; the intercept is then matched once more, on the *final* card's
log-odds of its own training rows, so that its probabilities average the training churn rate (the
maximum-likelihood intercept with ``b`` and ``c`` fixed: calibration in the large, the one part of the map the
training rows estimate without optimism). The folds' models are not the final card: each was trained on fewer,
earlier rows (often with another penalty), their log-odds sit elsewhere, and their held-out rows are the latest
blocks of dates, so the folds' intercept carried over put the final card's mean probability wherever those
differences sent it: 0.72 against 0.11 churn in training on one odd world, 0.05 against 0.13 on a simulated one
whose churn fell over time. ``calibration_folds_`` keeps the folds' ``(a, b)`` (what ``oof_["p"]`` were
computed with) and ``calibration_shift_`` how far the intercept moved. Over the out-of-time backtests of six
simulated 250-account worlds (``benchmarks/bench_calibration.py``) the match lowered both cards' log loss in all
six (by 0.0055 and 0.0035 on average, up to 0.022) and their mean ICI from 0.027 to 0.024 (linear) and 0.038 to
0.034 (shape).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted

from .._core.stats import logit, sigmoid
from .cv import choose_thresholds

#: How the warning of a card calibrated on its own training rows begins (``engage fit`` counts its validation fits').
IN_SAMPLE_WARNING = "no cross-validation fold had both outcomes"

log = logging.getLogger(__name__)

#: Twice the log-likelihood a floor must add to be kept: the 5% critical value of a test of one parameter on
#: the boundary of its range (c = 0), whose statistic is half chi-squared(0), half chi-squared(1).
FLOOR_TEST = 2.706
#: The floor never exceeds this (a score under which half of the accounts churn whatever they do is no score).
MAX_FLOOR = 0.5
#: Churners the out-of-fold rows need before a floor is estimated at all. The floor is the churn of the healthiest
#: accounts, a tail: on a 100-account world the fits of a backtest had 30-60 churners each, the test kept floors
#: there that moved from cutoff to cutoff, and the linear card's pooled backtest ROC-AUC fell from 0.722 to 0.649.
MIN_FLOOR_EVENTS = 100
#: Match the final card's intercept to its training churn rate (see the module docstring); False keeps the folds'
#: intercept (the map before 2026-12, for ``benchmarks/bench_calibration.py``).
MATCH_TRAINING_RATE = True


def floored_proba(z, floor: float = 0.0) -> np.ndarray:
    """``floor + (1 - floor) sigmoid(z)``."""
    return floor + (1.0 - floor) * sigmoid(z)


def floored_logit(z, floor: float = 0.0) -> np.ndarray:
    """The log-odds of :func:`floored_proba`, computed without rounding ``p`` (``z`` itself when ``floor`` is 0)."""
    z = np.asarray(z, float)
    if floor <= 0:
        return z
    log_p = np.logaddexp(np.log(floor), np.log1p(-floor) - np.logaddexp(0.0, -z))
    log_q = np.log1p(-floor) - np.logaddexp(0.0, z)
    return log_p - log_q


def _platt(eta, y, fold=None) -> tuple[float, float]:
    """``(a, b)`` of ``p = 1 / (1 + exp(-(a + b eta)))`` on out-of-fold log-odds ``eta``.

    The slope ``b`` is fitted *within* folds (one intercept per fold): fold models differ in their intercepts
    (a fold trained on a period of higher churn predicts higher everywhere), and pooled across folds those
    shifts can outweigh the ranking inside each fold, down to a reversed slope. ``a`` is then the intercept
    that, with ``b`` fixed, matches the out-of-fold churn rate (the maximum-likelihood intercept).
    """
    eta, y = np.asarray(eta, float), np.asarray(y, float)
    levels = np.unique(fold) if fold is not None else np.array([0])
    if len(levels) < 2:
        m = LogisticRegression(C=1e6, max_iter=1000).fit(eta.reshape(-1, 1), y)
        return float(m.intercept_[0]), float(m.coef_[0, 0])
    dummies = (np.asarray(fold)[:, None] == levels[None, :]).astype(float)
    m = LogisticRegression(C=1e6, fit_intercept=False, max_iter=1000).fit(np.column_stack([eta, dummies]), y)
    b = float(m.coef_[0, 0])
    return matching_intercept(eta, y, b), b


def matching_intercept(eta, y, b: float, floor: float = 0.0) -> float:
    """The intercept ``a`` with which ``floor + (1 - floor) sigmoid(a + b eta)`` sums to the churners of ``y``
    (the maximum-likelihood intercept with the slope and the floor fixed)."""
    shift = b * np.asarray(eta, float)  # below lo every p is ~0 (too few churners), above hi ~1 (too many)
    lo, hi = -float(shift.max()) - 40.0, -float(shift.min()) + 40.0
    with np.errstate(over="ignore"):
        return float(brentq(lambda a: float(np.sum(y - floored_proba(a + shift, floor))), lo, hi))


def _floored_nll(theta, eta, y, idx):
    """Negative log-likelihood and gradient of ``p = c + (1 - c) sigmoid(alpha_fold + b eta)``;
    ``theta = (c, b, alpha_1 .. alpha_K)``."""
    c, b, alpha = theta[0], theta[1], theta[2:]
    s = sigmoid(alpha[idx] + b * eta)
    p = np.clip(c + (1 - c) * s, 1e-12, 1 - 1e-12)
    g = y / p - (1 - y) / (1 - p)  # d loglik / d p
    dz = g * (1 - c) * s * (1 - s)
    grad = np.concatenate([[np.sum(g * (1 - s)), np.sum(dz * eta)], np.bincount(idx, dz, minlength=len(alpha))])
    return -float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))), -grad


def fit_calibration(eta, y, fold=None) -> tuple[float, float, float]:
    """``(c, a, b)`` of ``p = c + (1 - c) sigmoid(a + b eta)`` on out-of-fold log-odds ``eta``.

    First Platt's map (:func:`_platt`: the slope within folds, the intercept matching the churn rate). Then, with
    at least ``MIN_FLOOR_EVENTS`` churners, the floor ``c``, fitted with the slope and one intercept per fold by
    maximum likelihood; it is kept only when it adds at least ``FLOOR_TEST / 2`` to the log-likelihood, else
    ``c = 0`` and Platt's ``(a, b)`` are returned unchanged. With a floor, ``a`` is again the intercept that
    matches the churn rate (``c`` and ``b`` fixed).
    """
    eta, y = np.asarray(eta, float), np.asarray(y, float)
    a, b = _platt(eta, y, fold)
    if b <= 0 or y.sum() < MIN_FLOOR_EVENTS or y.sum() == len(y):
        return 0.0, a, b
    levels, idx = np.unique(fold if fold is not None else np.zeros(len(y), int), return_inverse=True)
    start = np.concatenate([[0.0, b], np.full(len(levels), a)])
    fits = {}
    for name, top in (("platt", 0.0), ("floor", min(MAX_FLOOR, float(y.mean())))):
        x0 = start.copy()
        x0[0] = top / 4
        fits[name] = minimize(_floored_nll, x0, args=(eta, y, idx), jac=True, method="L-BFGS-B",
                              bounds=[(0.0, top)] + [(None, None)] * (len(start) - 1))
    c, b1 = float(fits["floor"].x[0]), float(fits["floor"].x[1])
    # a floor at the churn rate itself would leave no intercept to match it with (no root below)
    if 2 * (fits["platt"].fun - fits["floor"].fun) < FLOOR_TEST or not 0 < c < y.mean() or b1 <= 0:
        return 0.0, a, b
    return c, matching_intercept(eta, y, b1, c), b1


class CalibratedScoreMixin:
    """``decision_function``, ``predict_proba``, ``predict`` and ``bands`` of a fitted card; the class sets
    ``_fitted_attr``, the attribute that exists once it is fitted."""

    _fitted_attr = "calibration_"

    def _floor(self) -> float:
        return float(getattr(self, "calibration_floor_", 0.0))  # cards saved before the floor have none

    def _calibrate_folds(self, folds: list, y: np.ndarray, in_sample_eta, eta_of_score: tuple[float, float]) -> None:
        """Calibration and thresholds from the pooled cross-validation folds ``folds`` (per fold: log-odds,
        outcomes, rows and fold number), or in-sample (``in_sample_eta()``, optimistic, with a warning) when no
        fold had both outcomes; then :meth:`_set_calibration`."""
        eta, y_cal, rows, fold = (np.concatenate([r[i] for r in folds]) if folds else np.array([])
                                  for i in range(4))
        self.calibration_source_ = "out-of-fold"
        if len(np.unique(y_cal)) < 2:
            log.warning("%s: calibrating and choosing the band thresholds in-sample (optimistic)", IN_SAMPLE_WARNING)
            eta, y_cal, rows, fold = in_sample_eta(), y, np.arange(len(y)), None
            self.calibration_source_ = "in-sample"
        self._set_calibration(eta, y_cal, rows, fold, eta_of_score)
        if self.calibration_source_ == "out-of-fold" and MATCH_TRAINING_RATE:
            self._match_training_rate(in_sample_eta(), y, eta_of_score)

    def _match_training_rate(self, eta, y, eta_of_score: tuple[float, float]) -> None:
        """The intercept ``a`` again, now the one with which the final card's probabilities on its training rows
        (log-odds ``eta``, outcomes ``y``) sum to their churners, the slope and the floor kept (see the module
        docstring); ``calibration_shift_`` is how far it moved."""
        c, (a, b) = self._floor(), self.calibration_eta_
        eta, y = np.asarray(eta, float), np.asarray(y, float)
        if len(np.unique(y)) < 2 or (c > 0 and y.mean() <= c):  # no churner, or no intercept above the floor
            return
        a1 = matching_intercept(eta, y, b, c)
        e0, e1 = eta_of_score
        self.calibration_eta_ = (a1, b)
        self.calibration_ = (a1 + b * e0, b * e1)
        self.calibration_shift_ = a1 - a
        if abs(a1 - a) >= 0.5:
            log.info("the calibration's intercept moved by %+.2f log-odds to match the training churn rate (%.3f): "
                     "the final model's scores sit elsewhere than its folds'", a1 - a, y.mean())

    def _set_calibration(self, eta, y, rows, fold, eta_of_score: tuple[float, float]) -> None:
        """Calibration, thresholds and out-of-fold record from log-odds ``eta`` of rows ``rows`` (outcomes ``y``,
        cross-validation ``fold``; ``calibration_source_`` already says whether they are out-of-fold).
        ``eta_of_score = (e0, e1)``: the card's log-odds are ``e0 + e1 score``.

        Sets ``calibration_eta_`` (a, b on ``eta``) and ``calibration_folds_`` (the same, kept when
        :meth:`_match_training_rate` moves ``a``), ``calibration_`` (the same map on the score),
        ``calibration_floor_``, ``cv_auc_``, ``n_out_of_fold_``, ``oof_`` and ``thresholds_`` (chosen by cost on
        these probabilities unless the card was given thresholds)."""
        c, a, b = fit_calibration(eta, y, fold)
        if b < 0:  # a monotone calibration cannot reverse the score: held-out data saw no ranking, so none
            log.warning("calibration slope is negative (%.3g): the score does not rank churn on held-out data; "
                        "every account gets the training churn rate", b)
            c, a, b = 0.0, float(logit(np.mean(y))), 0.0
        e0, e1 = eta_of_score
        self.calibration_eta_ = self.calibration_folds_ = (a, b)
        self.calibration_ = (a + b * e0, b * e1)
        self.calibration_floor_ = c
        self.calibration_shift_ = 0.0
        p = floored_proba(a + b * eta, c)
        oof = self.calibration_source_ == "out-of-fold"
        self.cv_auc_ = float(roc_auc_score(y, p)) if oof else np.nan
        self.n_out_of_fold_ = len(y) if oof else 0
        self.oof_ = {"row": np.asarray(rows).astype(int), "y": y, "eta": eta, "p": p}
        self.thresholds_ = (tuple(float(v) for v in self.thresholds) if self.thresholds
                            else choose_thresholds(y, p, self.cost_ratios))

    def proba_of_score(self, score) -> np.ndarray:
        """The calibrated churn probability of a 0-100 score."""
        check_is_fitted(self, self._fitted_attr)
        a, b = self.calibration_
        return floored_proba(a + b * np.asarray(score, float), self._floor())

    def decision_function(self, X) -> np.ndarray:
        """Calibrated log-odds of the event (churn): ``predict_proba(X)[:, 1] == sigmoid(decision_function(X))``,
        and positive exactly where ``predict`` says ``classes_[1]``."""
        check_is_fitted(self, self._fitted_attr)
        a, b = self.calibration_
        return floored_logit(a + b * self.health_score(X).to_numpy(), self._floor())

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, self._fitted_attr)  # before the score: an unfitted card raises NotFittedError
        p = self.proba_of_score(self.health_score(X).to_numpy())
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, self._fitted_attr)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def bands(self, X=None, proba=None) -> pd.Series:
        """green / yellow / red from the churn probability and ``thresholds_`` (yellow, red)."""
        check_is_fitted(self, "thresholds_")
        p = self.predict_proba(X)[:, 1] if proba is None else np.asarray(proba, float)
        yellow, red = self.thresholds_
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.Series(np.where(p >= red, "red", np.where(p >= yellow, "yellow", "green")), name="band",
                         index=index)
