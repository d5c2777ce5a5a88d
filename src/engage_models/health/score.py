"""The learned health score: a regularised logistic regression turned into a points scorecard.

Why learned: commercial customer-success tools add up points with weights someone typed in. Here the
weights come from who actually churned, with their uncertainty, and a backtest shows whether they beat a
hand-weighted card (:class:`HandWeightedScore`) and how far they are from a flexible model
(:class:`ChurnGBM`).

The model
---------
``X`` holds one row per account (and observation date). Numeric metrics go through
:class:`~engage_models.health.scaling.SkewScaler`; categorical columns (segment, plan) are one-hot encoded.
A logistic regression (L2 or L1) predicts churn within the horizon; its strength ``C`` is chosen by
time-aware cross-validation (train on earlier dates, validate on later ones, with a gap of the label
horizon so that no training label looks into the validation period), by log loss.

Points
------
Feature ``j`` contributes ``c_j = -w_j z_j`` (positive = healthier). Over the training data its contribution
ranges from ``lo_j`` to ``hi_j`` (the 1st and 99th percentiles of ``z_j``; 0 and 1 for indicators). With
``R = sum_j (hi_j - lo_j)``::

    points_j = 100 * (clip(c_j, lo_j, hi_j) - lo_j) / R          score = sum_j points_j  (0 .. 100)

so each feature's maximum is its share of the total range, 100 is the healthiest profile, and the score is
a decreasing function of the model's linear predictor (flat only beyond the percentile clips).

Probability
-----------
``predict_proba`` maps the score to the probability of churn within the horizon with a monotone
(Platt) calibration ``p = 1 / (1 + exp(-(a + b score)))`` fitted on out-of-fold scores of the
cross-validation, not on the rows the weights were fitted to.

Bands and drivers
-----------------
``bands`` cuts the probability at ``thresholds = (yellow, red)``; when not given they are chosen at fit
from the out-of-fold predictions by expected cost (``cost_ratios``: a missed churner costs R times an
unnecessary outreach; for each R the threshold minimising the realised cost). ``drivers`` lists, per
account, the features costing it most points against a typical healthy account (the median training
account that did not churn), in words.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from .._core.i18n import t
from .._core.stats import log_loss
from .._core.stats import sigmoid as _sigmoid
from ..features import metrics as M
from .scaling import MISSING_SUFFIX, MonotoneBinner, SkewScaler

log = logging.getLogger(__name__)

BANDS = ("green", "yellow", "red")
DEFAULT_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


# ------------------------------------------------------------------------------------------ splitting
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


def _splits(X: pd.DataFrame, y: np.ndarray, date_col: str | None, cv: int, gap_days: int, seed: int):
    if date_col and date_col in X.columns:
        s = time_splits(X[date_col], n_splits=cv, gap_days=gap_days)
        if s:
            return s, "time"
        log.warning("too few observation dates for time-aware CV; falling back to stratified folds")
    k = int(min(cv, max(2, min(np.bincount(y.astype(int), minlength=2)))))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y)), "stratified"


# ------------------------------------------------------------------------------------------ the design
class _Design:
    """Numeric metrics through a SkewScaler (after monotone binning, if asked), categoricals one-hot (levels
    seen in fit; others all-zero)."""

    def __init__(self, numeric, categorical, skew_threshold, group_threshold, binning=None, n_bins=5):
        self.numeric, self.categorical = list(numeric), list(categorical)
        if binning not in (None, "monotone"):
            raise ValueError(f"binning must be None or 'monotone', not {binning!r}")
        self.binner = MonotoneBinner(n_bins) if binning else None
        # binned values are weights of evidence: already log-odds, missing values have their own bin
        self.scaler = SkewScaler(skew_threshold=skew_threshold, group_threshold=group_threshold,
                                 missing_indicators=not binning, log_transform=not binning)

    def _numeric(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.binner.transform(X[self.numeric]) if self.binner is not None else X[self.numeric]

    def fit(self, X: pd.DataFrame, y=None):
        if self.numeric:
            if self.binner is not None:
                self.binner.fit(X[self.numeric], y)
            self.scaler.fit(self._numeric(X))
        self.levels = {c: sorted(X[c].dropna().astype(str).unique()) for c in self.categorical}
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        parts = [self.scaler.transform(self._numeric(X))] if self.numeric else []
        for c in self.categorical:
            v = X[c].astype("string")
            parts.append(pd.DataFrame({f"{c}={lv}": (v == lv).fillna(False).astype(float).to_numpy()
                                       for lv in self.levels[c]}, index=X.index))
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=X.index)

    def is_binary(self, feature: str) -> bool:
        return feature.endswith(MISSING_SUFFIX) or "=" in feature


def _infer_columns(X: pd.DataFrame, metrics, categorical, exclude) -> tuple[list[str], list[str]]:
    if metrics is None:
        registry = [c for c in X.columns if c in M.REGISTRY_COLUMNS and M.REGISTRY_COLUMNS[c].model]
        metrics = registry or [c for c in X.columns if c not in exclude and pd.api.types.is_numeric_dtype(X[c])
                               and not pd.api.types.is_bool_dtype(X[c])]
    if categorical is None:
        categorical = [c for c in X.columns if c not in exclude and c not in metrics
                       and (X[c].dtype == object or isinstance(X[c].dtype, pd.CategoricalDtype)
                            or pd.api.types.is_string_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
                       and 1 < X[c].nunique() <= 50]
    return list(metrics), list(categorical)


def feature_label(feature: str, lang: str = "en") -> str:
    """Readable name of a design feature (metric label, 'segment = SMB', 'latest NPS score: no answer')."""
    if feature.endswith(MISSING_SUFFIX):
        base = feature.removesuffix(MISSING_SUFFIX)
        return f"{M.label(base, lang)}: " + ("回答・値なし" if lang == "ja" else "missing")
    if "=" in feature:
        col, level = feature.split("=", 1)
        return f"{t(col, lang)} = {level}"
    return M.label(feature, lang)


@dataclass
class _Fitted:
    design: _Design
    model: LogisticRegression
    lo: np.ndarray
    hi: np.ndarray
    features: list[str]

    def linear(self, Z: pd.DataFrame) -> np.ndarray:
        return self.model.decision_function(Z[self.features].to_numpy())

    def points(self, Z: pd.DataFrame) -> np.ndarray:
        c = -Z[self.features].to_numpy() * self.model.coef_[0]
        total = float(np.sum(self.hi - self.lo)) or 1.0
        return 100.0 * (np.clip(c, self.lo, self.hi) - self.lo) / total


def _logistic(C: float, penalty: str, seed: int) -> LogisticRegression:
    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', not {penalty!r}")
    return LogisticRegression(C=C, l1_ratio=1.0 if penalty == "l1" else 0.0,
                              solver="liblinear" if penalty == "l1" else "lbfgs", max_iter=2000,
                              random_state=seed)


def _finish(design: _Design, Z: pd.DataFrame, model: LogisticRegression, quantiles) -> _Fitted:
    """Points bounds of each feature: its contribution at the ``quantiles`` of the training data."""
    w = model.coef_[0]
    q_lo, q_hi = np.nanquantile(Z.to_numpy(), quantiles, axis=0)
    binary = np.array([design.is_binary(f) for f in Z.columns])
    q_lo, q_hi = np.where(binary, 0.0, q_lo), np.where(binary, 1.0, q_hi)
    c1, c2 = -w * q_lo, -w * q_hi
    return _Fitted(design, model, np.minimum(c1, c2), np.maximum(c1, c2), list(Z.columns))


def _fit_one(X, y, numeric, categorical, C, penalty, skew_threshold, group_threshold, quantiles, seed,
             binning=None, n_bins=5) -> _Fitted:
    design = _Design(numeric, categorical, skew_threshold, group_threshold, binning, n_bins).fit(X, y)
    Z = design.transform(X)
    model = _logistic(C, penalty, seed).fit(Z.to_numpy(), y)
    return _finish(design, Z, model, quantiles)


def choose_thresholds(y, p, cost_ratios=(9.0, 4.0)) -> tuple[float, float]:
    """(yellow, red) probability thresholds minimising realised cost on ``(y, p)``.

    For a cost ratio R (a missed churner costs R outreaches), the threshold t minimises
    ``R * #(churned and p < t) + #(stayed and p >= t)`` over the observed probabilities. The larger ratio
    gives the (lower) yellow threshold.
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


class HealthScore(ClassifierMixin, BaseEstimator):
    """Learned health score (0-100, 100 = healthiest) with calibrated churn probability, bands and drivers.

    Parameters
    ----------
    metrics, categorical : list of str, optional
        Feature columns. Default: the registry's model metrics present in ``X`` (else every numeric column)
        and the low-cardinality text columns.
    penalty : 'l2' or 'l1'
    Cs : sequence of float
        Regularisation strengths tried by cross-validation.
    cv : int
        Number of validation blocks (time-aware when ``date_col`` is in ``X``, else stratified folds).
    date_col, id_col : str
        Observation date (for time-aware CV; not a feature) and account id (bootstrap clusters).
    gap_days : int
        Gap between training dates and the validation block: the label horizon.
    skew_threshold, group_threshold : see :class:`SkewScaler`. Grouping is on by default (0.8): usage
        counts move together, and one behaviour split over a dozen near-copies gives unstable, even
        reversed, weights and drivers no one can act on. ``None`` keeps every metric apart.
    thresholds : (float, float), optional
        Churn probabilities at which an account turns yellow and red; None: chosen at fit by cost.
    cost_ratios : (float, float)
        Costs of a missed churner relative to an outreach, for the yellow and red thresholds.
    n_bootstrap : int
        Bootstrap refits (resampling accounts) for the weights' intervals; 0 skips them.
    points_quantiles : (float, float)
        Percentiles of each feature that bound its points.
    binning : None or 'monotone'
        'monotone': each metric enters as the weight of evidence of its monotone bin
        (:class:`~engage_models.health.scaling.MonotoneBinner`), for metrics whose effect is not linear.
    n_bins : int
        Quantile bins before pooling (with ``binning``).
    random_state : int
    """

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

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y):
        X = pd.DataFrame(X).reset_index(drop=True)
        y = np.asarray(y, dtype=float)
        if np.isnan(y).any():
            raise ValueError("y has missing labels: drop rows whose outcome is not observed yet")
        if len(np.unique(y)) != 2:
            raise ValueError("y needs both churned (1) and retained (0) examples")
        self.classes_ = np.array([0, 1])
        exclude = {self.date_col, self.id_col}
        self.metrics_, self.categorical_ = _infer_columns(X, self.metrics, self.categorical, exclude)
        if not self.metrics_ and not self.categorical_:
            raise ValueError("no feature columns: pass metrics=[...] or numeric columns")
        args = (self.metrics_, self.categorical_)
        kw = dict(penalty=self.penalty, skew_threshold=self.skew_threshold, group_threshold=self.group_threshold,
                  quantiles=self.points_quantiles, seed=self.random_state, binning=self.binning, n_bins=self.n_bins)
        splits, self.cv_kind_ = _splits(X, y, self.date_col, self.cv, self.gap_days, self.random_state)
        per_c: dict[float, list] = {C: [] for C in self.Cs}
        for tr, va in splits:  # one design per fold, every C on it
            if len(np.unique(y[tr])) < 2:
                continue
            design = _Design(*args, self.skew_threshold, self.group_threshold, self.binning,
                             self.n_bins).fit(X.iloc[tr], y[tr])
            Zt, Zv = design.transform(X.iloc[tr]), design.transform(X.iloc[va])
            for C in self.Cs:
                f = _finish(design, Zt, _logistic(C, self.penalty, self.random_state).fit(Zt.to_numpy(), y[tr]),
                            self.points_quantiles)
                per_c[C].append((log_loss(y[va], _sigmoid(f.linear(Zv))), f.points(Zv).sum(axis=1), y[va]))
        losses = {C: float(np.mean([r[0] for r in rs])) for C, rs in per_c.items() if rs}
        oof = {C: (np.concatenate([r[1] for r in rs]), np.concatenate([r[2] for r in rs]))
               for C, rs in per_c.items() if rs}
        self.cv_log_loss_ = losses
        self.C_ = min(losses, key=losses.get) if losses else float(np.median(self.Cs))
        self.fitted_ = _fit_one(X, y, *args, C=self.C_, **kw)
        Z = self.fitted_.design.transform(X)
        self.feature_names_ = list(Z.columns)
        self.coef_ = self.fitted_.model.coef_[0].copy()
        self.intercept_ = float(self.fitted_.model.intercept_[0])
        # calibration: score -> probability, on out-of-fold scores (in-sample only if CV was impossible)
        s_cal, y_cal = oof.get(self.C_, (self.fitted_.points(Z).sum(axis=1), y))
        if len(np.unique(y_cal)) < 2:
            s_cal, y_cal = self.fitted_.points(Z).sum(axis=1), y
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(s_cal.reshape(-1, 1), y_cal)
        self.calibration_ = (float(platt.intercept_[0]), float(platt.coef_[0, 0]))
        if self.calibration_[1] >= 0:
            log.warning("calibration slope is not negative (%.3g): the score does not rank churn on held-out "
                        "data", self.calibration_[1])
        p_cal = _sigmoid(self.calibration_[0] + self.calibration_[1] * s_cal)
        self.thresholds_ = tuple(self.thresholds) if self.thresholds else choose_thresholds(y_cal, p_cal,
                                                                                            self.cost_ratios)
        # typical healthy account: the median design row of training accounts that did not churn
        healthy = Z[y == 0]
        self.typical_ = healthy.median() if len(healthy) else Z.median()
        for f in self.feature_names_:
            if self.fitted_.design.is_binary(f):
                self.typical_[f] = float(healthy[f].mean() >= 0.5) if len(healthy) else 0.0
        self.typical_raw_ = X.loc[y == 0, self.metrics_].median(numeric_only=True) if self.metrics_ else pd.Series()
        self.baseline_rate_ = float(y.mean())
        self.n_train_ = len(y)
        self.weight_intervals_ = self._bootstrap(X, y, Z) if self.n_bootstrap else None
        return self

    def _bootstrap(self, X, y, Z) -> np.ndarray:
        """95% percentile intervals of the weights, resampling accounts (all their rows) with replacement.

        The design (scaling) is the full fit's, so the weights of every refit are on the same scale.
        """
        rng = np.random.default_rng(self.random_state)
        ids = X[self.id_col].to_numpy() if self.id_col in X.columns else np.arange(len(X))
        uniq, inv = np.unique(ids, return_inverse=True)
        rows_of = pd.Series(np.arange(len(ids))).groupby(inv).apply(np.asarray).to_list()
        Zn = Z.to_numpy()
        coefs = []
        m = clone(self.fitted_.model)
        if m.solver == "lbfgs":  # each refit starts from the full fit's weights: a few iterations each
            m.set_params(warm_start=True)
        for _ in range(self.n_bootstrap):
            pick = rng.integers(0, len(uniq), len(uniq))
            idx = np.concatenate([rows_of[i] for i in pick])
            if len(np.unique(y[idx])) < 2:
                continue
            m.coef_, m.intercept_ = self.fitted_.model.coef_.copy(), self.fitted_.model.intercept_.copy()
            m.fit(Zn[idx], y[idx])
            coefs.append(m.coef_[0].copy())
        return np.percentile(np.array(coefs), [2.5, 97.5], axis=0) if coefs else None

    # ------------------------------------------------------------------------------------- scoring
    def _design(self, X) -> pd.DataFrame:
        check_is_fitted(self, "fitted_")
        return self.fitted_.design.transform(pd.DataFrame(X))

    def points(self, X) -> pd.DataFrame:
        """Points per feature (columns) for each row of ``X``; rows sum to the health score."""
        Z = self._design(X)
        return pd.DataFrame(self.fitted_.points(Z), columns=self.feature_names_, index=pd.DataFrame(X).index)

    def health_score(self, X) -> pd.Series:
        """Health score 0-100 (100 = healthiest)."""
        return self.points(X).sum(axis=1).rename("score")

    def decision_function(self, X) -> np.ndarray:
        """The regression's linear predictor (log-odds before calibration); higher = riskier."""
        return self.fitted_.linear(self._design(X))

    def predict_proba(self, X) -> np.ndarray:
        a, b = self.calibration_
        p = _sigmoid(a + b * self.health_score(X).to_numpy())
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def bands(self, X=None, proba=None) -> pd.Series:
        """green / yellow / red from the churn probability and ``thresholds_`` (yellow, red)."""
        p = self.predict_proba(X)[:, 1] if proba is None else np.asarray(proba, float)
        yellow, red = self.thresholds_
        return pd.Series(np.where(p >= red, "red", np.where(p >= yellow, "yellow", "green")), name="band",
                         index=None if X is None else pd.DataFrame(X).index)

    # ---------------------------------------------------------------------------------- explaining
    def scorecard(self, lang: str = "en") -> pd.DataFrame:
        """Per feature: weight (log-odds per SD; negative = protective), 95% bootstrap interval, points range,
        and the change in churn probability for +1 SD (indicators: 0 -> 1) at the typical account.

        Sorted by points range: the features that move the score most first.
        """
        check_is_fitted(self, "fitted_")
        f = self.fitted_
        total = float(np.sum(f.hi - f.lo)) or 1.0
        base = self.typical_.reindex(self.feature_names_).to_numpy(float)
        a, b = self.calibration_
        rows = []
        for j, feat in enumerate(self.feature_names_):
            step = 1.0
            if f.design.is_binary(feat):
                lo_z, hi_z = 0.0, 1.0
            else:
                lo_z, hi_z = base[j], base[j] + step
            z0, z1 = base.copy(), base.copy()
            z0[j], z1[j] = lo_z, hi_z
            s0 = self._points_from_z(z0).sum()
            s1 = self._points_from_z(z1).sum()
            rows.append({
                "feature": feat, "label": self.feature_label(feat, lang), "weight": self.coef_[j],
                "ci_low": self.weight_intervals_[0][j] if self.weight_intervals_ is not None else np.nan,
                "ci_high": self.weight_intervals_[1][j] if self.weight_intervals_ is not None else np.nan,
                "points_range": 100.0 * (f.hi[j] - f.lo[j]) / total,
                "delta_churn_probability": float(_sigmoid(a + b * s1) - _sigmoid(a + b * s0)),
                "higher_is_better": bool(self.coef_[j] < 0) if not f.design.is_binary(feat) else None,
            })
        df = pd.DataFrame(rows).sort_values("points_range", ascending=False, kind="stable").reset_index(drop=True)
        df.attrs.update({"C": self.C_, "cv": self.cv_kind_, "thresholds": self.thresholds_,
                         "calibration": self.calibration_, "n_train": self.n_train_})
        return df

    def feature_label(self, feature: str, lang: str = "en") -> str:
        """:func:`feature_label`, saying how many correlated metrics a grouped feature stands for."""
        text = feature_label(feature, lang)
        scaler = self.fitted_.design.scaler
        if self.fitted_.design.numeric and not self.fitted_.design.is_binary(feature):
            k = len(scaler.group_of(feature)) - 1
            if k:
                text += f"ほか関連{k}指標" if lang == "ja" else f" and {k} related metric{'s' if k > 1 else ''}"
        return text

    def _points_from_z(self, z: np.ndarray) -> np.ndarray:
        f = self.fitted_
        c = -z * f.model.coef_[0]
        return 100.0 * (np.clip(c, f.lo, f.hi) - f.lo) / (float(np.sum(f.hi - f.lo)) or 1.0)

    def drivers(self, X, k: int = 3, lang: str = "en") -> pd.DataFrame:
        """Per row: the ``k`` features costing most points against the typical healthy account.

        Returns ``drivers`` (list of dicts: feature, label, value, typical, points) and ``drivers_text``.
        """
        X = pd.DataFrame(X)
        pts = self.points(X)
        typical_pts = self._points_from_z(self.typical_.reindex(self.feature_names_).to_numpy(float))
        lost = pts.to_numpy() - typical_pts[None, :]
        order = np.argsort(lost, axis=1)[:, :k]
        out, texts = [], []
        for i in range(len(X)):
            items = []
            for j in order[i]:
                if lost[i, j] >= -0.5:  # less than half a point: not a driver
                    continue
                feat = self.feature_names_[j]
                value, typical = self._raw_value(X.iloc[i], feat)
                items.append({"feature": feat, "label": self.feature_label(feat, lang), "value": value,
                              "typical": typical, "points": float(lost[i, j])})
            out.append(items)
            texts.append("; ".join(_driver_words(d, lang) for d in items))
        return pd.DataFrame({"drivers": out, "drivers_text": texts}, index=X.index)

    def _raw_value(self, row: pd.Series, feat: str) -> tuple[float | str | None, float | str | None]:
        design = self.fitted_.design
        if feat.endswith(MISSING_SUFFIX):
            typical = self.typical_raw_.get(feat.removesuffix(MISSING_SUFFIX))
            return None, float(typical) if typical is not None and pd.notna(typical) else None
        if "=" in feat:  # the level is in the label ("segment = SMB")
            return None, None
        cols = design.scaler.group_of(feat)
        typical = self.typical_raw_.get(cols[0])
        return (float(row[cols[0]]) if pd.notna(row[cols[0]]) else None,
                float(typical) if typical is not None and pd.notna(typical) else None)


def _fmt_value(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"


def _driver_words(d: dict, lang: str) -> str:
    """'active users / seats (28 days) 0.21, typical healthy 0.65: -14 points'."""
    if d["value"] is None and d["typical"] is None:  # a category: the label says it all
        return f"{d['label']}" + (f"：{d['points']:+.0f}ポイント" if lang == "ja" else f": {d['points']:+.0f} points")
    if d["value"] is None:
        val = "回答・値なし" if lang == "ja" else "missing"
    else:
        val = _fmt_value(d["value"])
    if lang == "ja":
        typical = f"、健全な顧客の典型 {_fmt_value(d['typical'])}" if d["typical"] is not None else ""
        return f"{d['label']} {val}{typical}：{d['points']:+.0f}ポイント"
    typical = f", typical healthy {_fmt_value(d['typical'])}" if d["typical"] is not None else ""
    return f"{d['label']} {val}{typical}: {d['points']:+.0f} points"


# ------------------------------------------------------------------------------------ the baselines
_DEFAULT_CARD = Path(__file__).resolve().parent / "hand_scorecard.yaml"


def load_scorecard(config=None) -> dict:
    """A hand scorecard: a dict, or a YAML file path (default: the bundled vendor-style card).

    Format::

        name: ...
        metrics:
          - metric: logins_28d          # a column of X
            weight: 25                  # relative weight (any positive numbers)
            direction: higher           # higher | lower: which values are healthy
            thresholds: [[20, 100], [5, 60], [0, 20]]   # [value, points]: the first whose value is reached
    """
    if config is None or isinstance(config, (str, Path)):
        path = Path(config or _DEFAULT_CARD)
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read scorecard {path}: {exc}") from exc
        where = str(path)
    else:
        where = "scorecard"
    if not isinstance(config, dict) or not isinstance(config.get("metrics"), list) or not config["metrics"]:
        raise ValueError(f"{where}: needs a non-empty 'metrics' list")
    for i, m in enumerate(config["metrics"]):
        need = {"metric", "weight", "thresholds"}
        if not isinstance(m, dict) or need - set(m):
            raise ValueError(f"{where}: metrics[{i}] needs {sorted(need)}, got {m!r}")
        if m.get("direction", "higher") not in ("higher", "lower"):
            raise ValueError(f"{where}: metrics[{i}] ({m['metric']}): direction must be 'higher' or 'lower'")
        if float(m["weight"]) <= 0:
            raise ValueError(f"{where}: metrics[{i}] ({m['metric']}): weight must be positive")
    return config


class HandWeightedScore(ClassifierMixin, BaseEstimator):
    """A scorecard with typed-in weights and thresholds, as customer-success tools configure them.

    ``score = sum_m weight_m * points_m(x_m) / sum_m weight_m`` with ``points_m`` from the first threshold the
    value reaches (``direction: higher``: value >= threshold; ``lower``: value <= threshold), 0 when none;
    a missing value scores the lowest points of its metric. ``fit`` learns nothing about the weights: only
    the monotone map from score to probability (Platt), so its calibration can be compared fairly.
    """

    def __init__(self, config=None):
        self.config = config

    def fit(self, X, y):
        self.card_ = load_scorecard(self.config)
        X = pd.DataFrame(X)
        missing = [m["metric"] for m in self.card_["metrics"] if m["metric"] not in X.columns]
        if missing:
            raise ValueError(f"hand scorecard metric(s) not in the data: {missing}")
        self.classes_ = np.array([0, 1])
        s = self.health_score(X).to_numpy()
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(s.reshape(-1, 1), np.asarray(y, float))
        self.calibration_ = (float(platt.intercept_[0]), float(platt.coef_[0, 0]))
        return self

    def health_score(self, X) -> pd.Series:
        card = getattr(self, "card_", None) or load_scorecard(self.config)
        X = pd.DataFrame(X)
        total_w = sum(float(m["weight"]) for m in card["metrics"])
        score = np.zeros(len(X))
        for m in card["metrics"]:
            v = pd.to_numeric(X[m["metric"]], errors="coerce").to_numpy(float)
            lowest = min(float(p) for _, p in m["thresholds"])
            pts = np.where(np.isnan(v), lowest, 0.0)
            done = np.zeros(len(X), bool)
            for thr, p in m["thresholds"]:
                hit = (v >= thr) if m.get("direction", "higher") == "higher" else (v <= thr)
                hit &= ~done & ~np.isnan(v)
                pts[hit] = float(p)
                done |= hit
            score += float(m["weight"]) * pts
        return pd.Series(score / total_w, index=X.index, name="score")

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "calibration_")
        a, b = self.calibration_
        p = _sigmoid(a + b * self.health_score(X).to_numpy())
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class ChurnGBM(ClassifierMixin, BaseEstimator):
    """Gradient boosting (scikit-learn's HistGradientBoosting) on the same columns: the accuracy benchmark.

    Numeric columns go in as they are (trees need no scaling; missing values are handled natively);
    categorical columns as categories.
    """

    def __init__(self, metrics=None, categorical=None, date_col: str = "as_of", id_col: str = "account_id",
                 max_iter: int = 200, learning_rate: float = 0.06, max_leaf_nodes: int = 15,
                 l2_regularization: float = 1.0, random_state: int = 0):
        self.metrics = metrics
        self.categorical = categorical
        self.date_col = date_col
        self.id_col = id_col
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X[self.metrics_].apply(pd.to_numeric, errors="coerce").astype(float)
        for c in self.categorical_:
            out[c] = pd.Categorical(X[c].astype("string"), categories=self.levels_[c])
        return out

    def fit(self, X, y):
        X = pd.DataFrame(X)
        self.metrics_, self.categorical_ = _infer_columns(X, self.metrics, self.categorical,
                                                          {self.date_col, self.id_col})
        # a metric without a single value (no survey at all: no NPS) tells the trees nothing, and
        # HistGradientBoosting cannot bin it
        self.metrics_ = [c for c in self.metrics_ if pd.to_numeric(X[c], errors="coerce").notna().any()]
        self.levels_ = {c: sorted(X[c].dropna().astype(str).unique()) for c in self.categorical_}
        self.classes_ = np.array([0, 1])
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization, categorical_features="from_dtype", early_stopping=False,
            random_state=self.random_state,
        ).fit(self._matrix(X), np.asarray(y, int))
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._matrix(pd.DataFrame(X)))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
