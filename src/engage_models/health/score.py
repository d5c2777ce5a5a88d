"""The learned health score: a regularised logistic regression turned into a points scorecard.

Why learned: commercial customer-success tools add up points with weights someone typed in. Here the
weights come from who actually churned, with their uncertainty, and a backtest shows whether they beat a
hand-weighted card (:class:`~engage_models.health.baselines.HandWeightedScore`) and how far they are from a
flexible model (:class:`~engage_models.health.baselines.ChurnGBM`).

The model
---------
``X`` holds one row per account (and observation date). Numeric metrics go through
:class:`~engage_models.health.scaling.SkewScaler`; categorical columns (segment, plan) are one-hot encoded
(:mod:`engage_models.health.design`). A logistic regression (L2 by lbfgs, or L1 by liblinear; the intercept is in
effect unpenalised, so a strong penalty shrinks towards the base rate, not away from it) predicts churn within the
horizon; its strength ``C`` is chosen by cross-validation by log loss (:mod:`engage_models.health.cv`):
time-aware when ``X`` has the observation date (train on earlier dates, validate on later ones, with a gap
of the label horizon), else in folds of accounts when an account has several rows, else in folds of rows.

Points
------
Feature ``j`` contributes ``c_j = -w_j z_j`` (positive = healthier). Over the training data its contribution
ranges from ``lo_j`` to ``hi_j`` (the 1st and 99th percentiles of ``z_j``; 0 and 1 for indicators). With
``R = sum_j (hi_j - lo_j)``::

    points_j = 100 * (clip(c_j, lo_j, hi_j) - lo_j) / R          score = sum_j points_j  (0 .. 100)

so each feature's maximum is its share of the total range and 100 is the healthiest profile. The score is an
affine, decreasing function of the *clipped linear predictor* ``eta = b_0 - sum_j clip(c_j, lo_j, hi_j)`` (the
model's log-odds with each contribution held to its training range)::

    eta = b_0 - sum_j lo_j - R * score / 100

Probability
-----------
``predict_proba`` is a monotone calibration of the log-odds, Platt's map with a floor,
``p = c + (1 - c) / (1 + exp(-(a + b eta)))``, fitted on the *out-of-fold* ``eta`` of the cross-validation at
the chosen ``C`` (each fold's own model and clipping; log-odds are on one scale across folds, where 0-100 scores
are not), never on the rows the weights were fitted to: the slope within folds (see ``_calibrated._platt``); the
intercept is then matched to the training churn rate on the final model's own log-odds (calibration in the large:
see :mod:`._calibrated`). The floor ``c`` (``calibration_floor_``) is churn no score
explains, kept only when the out-of-fold data show one beyond chance, else 0 (see :mod:`._calibrated`).
``calibration_`` states the same map on the final model's score (``p = c + (1 - c) / (1 + exp(-(a' + b'
score)))``), so the score and the probability move together exactly. The slope is never negative: when held-out
data rank churn against the score, every account gets the training churn rate (and a warning), rather than a
probability that rises as the score rises.

Bands and drivers
-----------------
``bands`` cuts the probability at ``thresholds_ = (yellow, red)``: the product's band thresholds. Unless given,
they are chosen at fit on the out-of-fold predictions only (the calibrated probabilities of the validation
rows of the cross-validation, each predicted by a model that did not see it) by expected cost
(``cost_ratios``: a missed churner costs R times an unnecessary outreach; for each R the threshold
minimising the realised cost). ``drivers`` lists, per account, the features costing it most points against a
typical healthy account (the median training account that did not churn), in words
(:mod:`engage_models.health.explain`).

Weight intervals
----------------
``n_bootstrap`` refits resample accounts (all their rows) with the design (scaling, grouping, binning) and
``C`` held at the full fit's, so the weights stay comparable. Their 2.5-97.5 percentiles are *stability*
intervals of the weights given that design, not confidence intervals: they leave out the uncertainty of the
design and of ``C``, and under L1 they pile up at 0 whenever the lasso drops a feature in some draws.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from .._core.i18n import t
from .._core.progress import step
from .._core.stats import log_loss
from .._core.stats import sigmoid as _sigmoid
from . import explain
from ._calibrated import CalibratedScoreMixin
from ._inputs import binary_target, frame_for_fit, frame_for_predict
from .baselines import ChurnGBM, HandWeightedScore, load_scorecard  # noqa: F401  (re-exported: older imports)
from .cv import _splits, account_groups, choose_thresholds, time_splits  # noqa: F401
from .design import OTHER, _Design, _infer_columns, feature_label, left_out_attrs

log = logging.getLogger(__name__)

BANDS = ("green", "yellow", "red")
DEFAULT_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
INTERVAL_KIND = ("bootstrap stability interval (accounts resampled; scaling, grouping, binning and C held at the "
                 "full fit's): not a confidence interval")


@dataclass
class _Fitted:
    design: _Design
    model: LogisticRegression
    lo: np.ndarray
    hi: np.ndarray
    features: list[str]

    @property
    def total(self) -> float:
        return float(np.sum(self.hi - self.lo)) or 1.0

    def linear(self, Z: pd.DataFrame) -> np.ndarray:
        """The regression's log-odds."""
        return self.model.decision_function(Z[self.features].to_numpy())

    def contributions(self, Z: pd.DataFrame) -> np.ndarray:
        """``clip(c_j, lo_j, hi_j)`` per row and feature (positive = healthier)."""
        return np.clip(-Z[self.features].to_numpy() * self.model.coef_[0], self.lo, self.hi)

    def clipped_linear(self, Z: pd.DataFrame) -> np.ndarray:
        """The log-odds with every contribution held to its training range: what the score is a function of."""
        return float(self.model.intercept_[0]) - self.contributions(Z).sum(axis=1)

    def points(self, Z: pd.DataFrame) -> np.ndarray:
        return 100.0 * (self.contributions(Z) - self.lo) / self.total

    def score_to_eta(self) -> tuple[float, float]:
        """``(e0, e1)`` with ``eta = e0 + e1 * score`` (exact: the score is affine in the clipped log-odds)."""
        return float(self.model.intercept_[0]) - float(np.sum(self.lo)), -float(np.sum(self.hi - self.lo)) / 100.0


#: liblinear fits the intercept as the weight of a constant column of this value and penalises that weight like
#: the others; at 1000 the intercept's share of the L1 norm is |intercept| / 1000, nothing (at 1, the default, a
#: strong penalty pulls the intercept towards 0: mean predicted churn 0.15 against a base rate of 0.10)
L1_INTERCEPT_SCALING = 1000.0


def _logistic(C: float, penalty: str, seed: int) -> LogisticRegression:
    """L2: lbfgs (intercept unpenalised); L1: liblinear with the intercept's penalty made negligible
    (:data:`L1_INTERCEPT_SCALING`), so a strong penalty shrinks towards the base rate. (saga, also unpenalised,
    crawls on the collinear one-hot columns of the panel: minutes against a second.)"""
    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', not {penalty!r}")
    if penalty == "l1":
        return LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", intercept_scaling=L1_INTERCEPT_SCALING,
                                  max_iter=2000, random_state=seed)
    return LogisticRegression(C=C, l1_ratio=0.0, solver="lbfgs", max_iter=2000, random_state=seed)


def _finish(design: _Design, Z: pd.DataFrame, model: LogisticRegression, quantiles) -> _Fitted:
    """Points bounds of each feature: its contribution at the ``quantiles`` of the training data."""
    w = model.coef_[0]
    q_lo, q_hi = np.nanquantile(Z.to_numpy(), quantiles, axis=0)
    binary = np.array([design.is_binary(f) for f in Z.columns], dtype=bool)
    q_lo, q_hi = np.where(binary, 0.0, q_lo), np.where(binary, 1.0, q_hi)
    c1, c2 = -w * q_lo, -w * q_hi
    return _Fitted(design, model, np.minimum(c1, c2), np.maximum(c1, c2), list(Z.columns))


def _fit_one(X, y, numeric, categorical, C, penalty, skew_threshold, group_threshold, quantiles, seed,
             binning=None, n_bins=5, groups=None) -> _Fitted:
    design = _Design(numeric, categorical, skew_threshold, group_threshold, binning, n_bins).fit(X, y, groups)
    Z = design.transform(X)
    model = _logistic(C, penalty, seed).fit(Z.to_numpy(), y)
    return _finish(design, Z, model, quantiles)


class HealthScore(CalibratedScoreMixin, ClassifierMixin, BaseEstimator):
    """Learned health score (0-100, 100 = healthiest) with calibrated churn probability, bands and drivers.

    See the module docstring for the model, the points, the calibration and the thresholds.

    Parameters
    ----------
    metrics, categorical : list of str, optional
        Feature columns. Default: the registry's model metrics present in ``X`` (else every numeric column)
        and the low-cardinality text columns. An array's columns are named ``x0``, ``x1``, ...
    penalty : 'l2' or 'l1'
    Cs : sequence of float
        Regularisation strengths tried by cross-validation.
    cv : int
        Number of validation blocks or folds.
    date_col, id_col : str
        Observation date (time-aware CV; not a feature) and account id (folds of accounts when there is no
        usable date; bootstrap clusters; not a feature).
    gap_days : int
        Gap between training dates and the validation block: the label horizon.
    skew_threshold, group_threshold : see :class:`~engage_models.health.scaling.SkewScaler`. Grouping is on by
        default (0.8): usage counts move together, and one behaviour split over a dozen near-copies gives
        unstable, even reversed, weights and drivers no one can act on. ``None`` keeps every metric apart.
    thresholds : (float, float), optional
        Churn probabilities at which an account turns yellow and red; None: chosen at fit by cost on the
        out-of-fold predictions.
    cost_ratios : (float, float)
        Costs of a missed churner relative to an outreach, for the yellow and red thresholds.
    n_bootstrap : int
        Bootstrap refits (resampling accounts) for the weights' stability intervals; 0 skips them.
    points_quantiles : (float, float)
        Percentiles of each feature that bound its points.
    binning : None or 'monotone'
        'monotone': each metric enters as the weight of evidence of its monotone bin
        (:class:`~engage_models.health.scaling.MonotoneBinner`), for metrics whose effect is not linear.
    n_bins : int
        Quantile bins before pooling (with ``binning``).
    random_state : int

    Attributes
    ----------
    classes_ : the two labels of ``y``; the second (e.g. churned = 1) is the event.
    C_ : chosen regularisation strength; ``cv_log_loss_``: (C, mean validation log loss) pairs.
    typical_, typical_raw_ : the typical healthy account: design values (array, as ``feature_names_``) and raw
        metric values (dict).
    (Fitted attributes are arrays, lists, dicts and scikit-learn objects, never pandas objects, lambdas or
    handles: a fitted model saves with ``skops.io``.)
    cv_kind_ : 'time', 'grouped' (folds of accounts) or 'stratified' (folds of rows).
    cv_auc_ : ROC-AUC of the out-of-fold predictions at ``C_`` (NaN without cross-validation).
    oof_ : dict of arrays ``row`` (position in the ``X`` of fit), ``y`` (0/1), ``eta`` (fold model's clipped
        log-odds) and ``p`` (probability calibrated with the folds' intercept): the out-of-fold predictions at
        ``C_`` behind the calibration and the thresholds; ``n_out_of_fold_`` rows.
    calibration_ : (a', b'): ``p = c + (1 - c) / (1 + exp(-(a' + b' score)))``.
    calibration_floor_ : c, the floor of that map (0: Platt's map).
    calibration_eta_ : (a, b) of the same map on the clipped log-odds ``eta`` (what was fitted).
    calibration_folds_, calibration_shift_ : the folds' (a, b), which ``oof_["p"]`` were computed with, and how far
        ``a`` moved to match the training churn rate on the final model's log-odds.
    calibration_source_ : 'out-of-fold', or 'in-sample' when cross-validation was impossible.
    thresholds_ : (yellow, red) churn probabilities of the bands.
    feature_names_, coef_, intercept_ : design features and the regression's weights (log-odds per SD).
    weight_intervals_ : (2, n_features) stability intervals of ``coef_`` or None.
    n_train_ : rows fitted; ``n_features_in_``, ``feature_names_in_`` as in scikit-learn.
    """

    _fitted_attr = "fitted_"

    def __init__(self, metrics=None, categorical=None, penalty: str = "l2", Cs=DEFAULT_CS, cv: int = 3,
                 date_col: str = "as_of", id_col: str = "account_id", gap_days: int = 90,
                 skew_threshold: float = 1.0, group_threshold: float | None = 0.8, thresholds=None,
                 cost_ratios=(9.0, 4.0), n_bootstrap: int = 100, points_quantiles=(0.01, 0.99),
                 binning: str | None = None, n_bins: int = 5, random_state: int = 0):
        self.metrics = metrics
        self.categorical = categorical
        self.penalty = penalty
        self.Cs = Cs
        self.cv = cv
        self.date_col = date_col
        self.id_col = id_col
        self.gap_days = gap_days
        self.skew_threshold = skew_threshold
        self.group_threshold = group_threshold
        self.thresholds = thresholds
        self.cost_ratios = cost_ratios
        self.n_bootstrap = n_bootstrap
        self.points_quantiles = points_quantiles
        self.binning = binning
        self.n_bins = n_bins
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True          # imputed, with a missing-value indicator
        tags.classifier_tags.multi_class = False  # churned or not
        return tags

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, X, y):
        X = frame_for_fit(self, X).reset_index(drop=True)
        self.classes_, y = binary_target(self, y, len(X))
        _logistic(1.0, self.penalty, self.random_state)  # fail early on a bad penalty
        exclude = {self.date_col, self.id_col}
        self.metrics_, self.categorical_, self.left_out_ = _infer_columns(X, self.metrics, self.categorical, exclude)
        if not self.metrics_ and not self.categorical_:
            raise ValueError("no feature columns: pass metrics=[...] or numeric columns"
                             + (f" (left out, without values to learn from: {sorted(self.left_out_)})"
                                if self.left_out_ else ""))
        args = (self.metrics_, self.categorical_)
        kw = dict(penalty=self.penalty, skew_threshold=self.skew_threshold, group_threshold=self.group_threshold,
                  quantiles=self.points_quantiles, seed=self.random_state, binning=self.binning, n_bins=self.n_bins)
        splits, self.cv_kind_ = _splits(X, y, self.date_col, self.cv, self.gap_days, self.random_state, self.id_col)
        groups = account_groups(X, self.id_col)
        per_c: dict[float, list] = {C: [] for C in self.Cs}
        for k, (tr, va) in enumerate(splits):  # one design per fold, every C on it
            if len(np.unique(y[tr])) < 2:
                continue
            design = _Design(*args, self.skew_threshold, self.group_threshold, self.binning,
                             self.n_bins).fit(X.iloc[tr], y[tr], None if groups is None else groups[tr])
            Zt, Zv = design.transform(X.iloc[tr]), design.transform(X.iloc[va])
            for C in self.Cs:
                f = _finish(design, Zt, _logistic(C, self.penalty, self.random_state).fit(Zt.to_numpy(), y[tr]),
                            self.points_quantiles)
                per_c[C].append((log_loss(y[va], _sigmoid(f.linear(Zv))), f.clipped_linear(Zv), y[va], va,
                                 np.full(len(va), k)))
        losses = {C: float(np.mean([r[0] for r in rs])) for C, rs in per_c.items() if rs}
        self.cv_log_loss_ = [(float(C), loss) for C, loss in losses.items()]
        self.C_ = min(losses, key=losses.get) if losses else float(np.median(self.Cs))
        self.fitted_ = _fit_one(X, y, *args, C=self.C_, groups=groups, **kw)
        Z = self.fitted_.design.transform(X)
        self.feature_names_ = list(Z.columns)
        self.coef_ = self.fitted_.model.coef_[0].copy()
        self.intercept_ = float(self.fitted_.model.intercept_[0])
        self._calibrate(per_c.get(self.C_, []), Z, y)
        # typical healthy account: the median design row of training accounts that did not churn
        healthy = Z[y == 0] if (y == 0).any() else Z
        typical = healthy.median()
        design = self.fitted_.design
        for f in self.feature_names_:
            if design.is_binary(f):  # a missing value: when most healthy accounts miss it
                typical[f] = float(healthy[f].mean() >= 0.5)
        for c in design.categorical:  # one level, the healthy accounts' commonest (not "none" without a majority;
            levels = [f"{c}={lv}" for lv in design.levels[c]]  # the pool of rare levels when it holds the most)
            if levels:
                typical[levels] = 0.0
                typical[max(levels, key=lambda f: (healthy[f].sum(), not f.endswith(f"={OTHER}"),
                                                   -levels.index(f)))] = 1.0
        self.typical_ = typical.reindex(self.feature_names_).to_numpy(dtype=float)
        raw = X.loc[y == 0, self.metrics_].apply(pd.to_numeric, errors="coerce").median()
        self.typical_raw_ = {c: float(v) for c, v in raw.items()}
        self.baseline_rate_ = float(y.mean())
        self.n_train_ = len(y)
        self.weight_intervals_ = self._bootstrap(X, y, Z) if self.n_bootstrap else None
        return self

    def _calibrate(self, folds: list, Z: pd.DataFrame, y: np.ndarray) -> None:
        """Platt on the out-of-fold clipped log-odds; thresholds by cost on the same out-of-fold predictions."""
        self._calibrate_folds([r[1:5] for r in folds], y, lambda: self.fitted_.clipped_linear(Z),
                              self.fitted_.score_to_eta())

    def _bootstrap(self, X, y, Z) -> np.ndarray | None:
        """2.5-97.5 percentiles of the weights over refits on accounts resampled with replacement (all rows of
        an account together): stability intervals (see the module docstring).

        The design (scaling, grouping, binning) and C are the full fit's, so the weights of every refit are on
        the same scale.
        """
        rng = np.random.default_rng(self.random_state)
        groups = account_groups(X, self.id_col)
        inv = groups if groups is not None else np.arange(len(X))
        n_acc = int(inv.max()) + 1
        rows_of = pd.Series(np.arange(len(inv))).groupby(inv).apply(np.asarray).to_list()
        Zn = Z.to_numpy()
        coefs = []
        m = clone(self.fitted_.model)
        if m.solver == "lbfgs":  # each refit starts from the full fit's weights: a few iterations each
            m.set_params(warm_start=True)
        for b in range(self.n_bootstrap):
            step(b, self.n_bootstrap, "bootstrap refits")
            pick = rng.integers(0, n_acc, n_acc)
            idx = np.concatenate([rows_of[i] for i in pick])
            if len(np.unique(y[idx])) < 2:
                continue
            m.coef_, m.intercept_ = self.fitted_.model.coef_.copy(), self.fitted_.model.intercept_.copy()
            m.fit(Zn[idx], y[idx])
            coefs.append(m.coef_[0].copy())
        step(self.n_bootstrap, self.n_bootstrap, "bootstrap refits")
        return np.percentile(np.array(coefs), [2.5, 97.5], axis=0) if coefs else None

    # ------------------------------------------------------------------------------------- scoring
    def _frame(self, X) -> pd.DataFrame:
        check_is_fitted(self, "fitted_")
        return frame_for_predict(self, X, self.metrics_ + self.categorical_)

    def _design(self, X) -> pd.DataFrame:
        return self.fitted_.design.transform(self._frame(X))

    def points(self, X) -> pd.DataFrame:
        """Points per feature (columns) for each row of ``X``; rows sum to the health score."""
        Z = self._design(X)
        return pd.DataFrame(self.fitted_.points(Z), columns=self.feature_names_, index=Z.index)

    def health_score(self, X) -> pd.Series:
        """Health score 0-100 (100 = healthiest)."""
        return self.points(X).sum(axis=1).rename("score")

    def linear_predictor(self, X) -> np.ndarray:
        """The regression's log-odds of churn before calibration (no clipping); higher = riskier."""
        return self.fitted_.linear(self._design(X))

    # ---------------------------------------------------------------------------------- explaining
    def scorecard(self, lang: str = "en") -> pd.DataFrame:
        """Per feature: weight (log-odds per SD; negative = protective), its 95% bootstrap *stability* interval
        (``ci_low``, ``ci_high``; see the module docstring: not a confidence interval), points range, and the
        change in churn probability for +1 SD (a missing-value indicator: 0 -> 1; a category's level: from the
        typical account's level to this one, 0 for the typical level) at the typical account, and for a level
        ``typical_level``, that level (its change's reference; a level's weight is against the average of the
        levels, so the two can differ in sign: Pro a little below average, the typical Enterprise well below).

        Sorted by points range: the features that move the score most first. ``attrs`` hold C, the CV kind,
        thresholds, calibration, rows fitted and ``interval`` (what the interval is).
        """
        check_is_fitted(self, "fitted_")
        f = self.fitted_
        base = self.typical_.copy()
        names = list(self.feature_names_)
        levels_of = {f"{c}={lv}": [names.index(f"{c}={x}") for x in f.design.levels[c]]
                     for c in f.design.categorical for lv in f.design.levels[c]}
        unsigned = self.unsigned_features()
        rows = []
        for j, feat in enumerate(self.feature_names_):
            binary = f.design.is_binary(feat)
            z0, z1 = base.copy(), base.copy()
            typical = None
            if feat in levels_of:  # one level at a time: the typical account's level, then this one
                typical = next((names[i].split("=", 1)[1] for i in levels_of[feat] if base[i] == 1.0), None)
                z1[levels_of[feat]] = 0.0
                z1[j] = 1.0
            else:
                z0[j], z1[j] = (0.0, 1.0) if binary else (base[j], base[j] + 1.0)
            s0 = self._points_from_z(z0).sum()
            s1 = self._points_from_z(z1).sum()
            rows.append({
                "feature": feat, "label": self.feature_label(feat, lang), "weight": self.coef_[j],
                "ci_low": self.weight_intervals_[0][j] if self.weight_intervals_ is not None else np.nan,
                "ci_high": self.weight_intervals_[1][j] if self.weight_intervals_ is not None else np.nan,
                "points_range": 100.0 * (f.hi[j] - f.lo[j]) / f.total,
                "delta_churn_probability": float(self.proba_of_score(s1) - self.proba_of_score(s0)),
                "higher_is_better": bool(self.coef_[j] < 0) if not binary else None,
                "typical_level": typical,
                "unsigned": feat in unsigned,
            })
        df = pd.DataFrame(rows).sort_values("points_range", ascending=False, kind="stable").reset_index(drop=True)
        df.attrs.update({"C": self.C_, "cv": self.cv_kind_, "thresholds": self.thresholds_,
                         "calibration": self.calibration_, "n_train": self.n_train_,
                         "interval": INTERVAL_KIND if self.weight_intervals_ is not None else None,
                         **left_out_attrs(self)})
        return df

    def unsigned_features(self) -> set[str]:
        """The metrics whose weight's stability interval holds 0: the data cannot tell which way they act, so they
        name no account's driver (:func:`.explain.drivers`) and the card marks them ``unsigned`` for report 04's
        note. Their points still count in the score. A categorical column's levels are never in it (a level's
        interval does not say how sure the difference of two levels is); without intervals the set is empty."""
        check_is_fitted(self, "fitted_")
        if self.weight_intervals_ is None:
            return set()
        design = self.fitted_.design
        levels = {f"{c}={lv}" for c in design.categorical for lv in design.levels[c]}
        low, high = self.weight_intervals_
        return {f for j, f in enumerate(self.feature_names_) if f not in levels and low[j] <= 0 <= high[j]}

    def feature_label(self, feature: str, lang: str = "en") -> str:
        """:func:`~engage_models.health.design.feature_label`, saying how many correlated metrics a grouped
        feature stands for."""
        check_is_fitted(self, "fitted_")
        text = feature_label(feature, lang)
        design = self.fitted_.design
        if design.numeric and not design.is_binary(feature):
            k = len(design.scaler.group_of(feature)) - 1
            if k:
                text += t("health.related_metric" if k == 1 else "health.related_metrics", lang, k=k)
        return text

    def _points_from_z(self, z: np.ndarray) -> np.ndarray:
        f = self.fitted_
        c = np.clip(-z * f.model.coef_[0], f.lo, f.hi)
        return 100.0 * (c - f.lo) / f.total

    def drivers(self, X, k: int = 3, lang: str = "en") -> pd.DataFrame:
        """Per row: the ``k`` features costing most points against the typical healthy account.

        Returns ``drivers`` (list of dicts: feature, label, value, typical, points) and ``drivers_text``
        (see :func:`engage_models.health.explain.drivers`).
        """
        check_is_fitted(self, "fitted_")
        return explain.drivers(self, X if isinstance(X, pd.DataFrame) else self._frame(X), k=k, lang=lang)
