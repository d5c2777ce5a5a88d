"""Skew-aware scaling of engagement metrics (the fight-churn recipe, as a scikit-learn transformer).

Engagement metrics are mostly counts with fat right tails (a few accounts log in thousands of times). A
linear model on raw counts is dominated by those tails, so, per column, learned on the training data:

1. **missing values** are imputed with the training median, and a 0/1 indicator column ``<name>__missing``
   is added for columns that had any missing value in training (an account that never answered a survey
   is different from one that answered with the median);
2. **log transform** for fat-tailed columns: ``log1p(x)`` when the column is non-negative and its skewness
   exceeds ``skew_threshold`` (or the registry marks it ``skewed``); ``sign(x) log1p(|x|)`` for a signed
   fat-tailed column (percent changes);
3. **z-score**: ``(x - mean) / sd`` with the training mean and sd (sd 0 -> 1);
4. optional **grouping of highly correlated columns** (``group_threshold``): columns whose transformed values
   correlate above the threshold (in absolute value) are averaged into one feature named after the group's
   first column, so a score does not split one behaviour across five near-copies; a column that moves
   against the first (``inactive_days`` against ``active_days``) enters with its sign flipped, so opposite
   metrics of one behaviour add up instead of cancelling.

Every parameter is stored (``*_`` attributes), so a new account is rescored exactly as in training.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from engage_models.health.scaling import SkewScaler
>>> X = pd.DataFrame({"logins": [0, 1, 2, 3, 100.0], "ratio": [0.1, 0.2, 0.3, 0.4, 0.5]})
>>> s = SkewScaler().fit(X)
>>> s.log_columns_
['logins']
>>> np.allclose(s.transform(X).mean(), 0)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._core.stats import logit as _logit
from ..features import metrics as M
from ._inputs import binary_target, finite_numbers, frame_for_fit, frame_for_predict

MISSING_SUFFIX = "__missing"


def fill_values(X: pd.DataFrame) -> np.ndarray:
    """The value that fills a missing number of each column of ``X`` (numbers, NaN missing), learned on its rows:
    the column's median, 0 for a column without a value. One rule for the health score (:class:`SkewScaler`) and
    the survival table (:func:`~engage_models.survival.analysis.analyse_table`), each adding a 0/1 indicator of the
    missing beside the filled column.

    >>> fill_values(pd.DataFrame({"a": [1.0, np.nan, 5.0, 4.0], "b": [np.nan] * 4})).tolist()
    [4.0, 0.0]
    """
    return X.median().fillna(0.0).to_numpy(dtype=float)


def fill_missing(A: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(filled, missing)``: ``A`` (rows x columns, NaN missing) with each missing cell set to its column's value
    of ``values`` (:func:`fill_values`), and where the cells were missing (the indicator of the missing).

    >>> filled, missing = fill_missing(np.array([[1.0, np.nan], [np.nan, 2.0]]), np.array([7.0, 8.0]))
    >>> filled.tolist(), missing.tolist()
    ([[1.0, 8.0], [7.0, 2.0]], [[False, True], [True, False]])
    """
    missing = np.isnan(A)
    return np.where(missing, np.asarray(values, dtype=float)[None, :], A), missing


def _registry_skewed(column: str) -> bool | None:
    try:
        return M.get(column).skewed
    except KeyError:
        return None


def _skew_kurtosis(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skewness and excess kurtosis of each column of ``A`` (scipy's default, biased estimators), 0 for a column
    whose values all lie within rounding of their mean. scipy computes those too, with a RuntimeWarning
    ("Precision loss occurred in moment calculation"), and the numbers are noise: a metric of one value with
    some rows missing, filled with that value, gave dozens of the warnings in a run (once per fit of a backtest,
    its folds and refits). Such a column has no tail to log.

    >>> sk, ku = _skew_kurtosis(np.array([[1.0, 5.0], [2.0, 5.0], [9.0, 5.0 + 1e-15]]))
    >>> round(float(sk[0]), 4), float(sk[1]), float(ku[1])
    (0.6655, 0.0, 0.0)
    """
    mean = A.mean(axis=0)
    d = A - mean
    eps = np.finfo(float).eps
    m2, m3, m4 = (d ** 2).mean(axis=0), (d ** 3).mean(axis=0), (d ** 4).mean(axis=0)
    spread = (np.abs(d).max(axis=0) > 10 * eps * np.abs(mean)) & (m2 > (eps * mean) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread, m3 / m2 ** 1.5, 0.0), np.where(spread, m4 / m2 ** 2 - 3.0, 0.0)


class SkewScaler(TransformerMixin, BaseEstimator):
    """Impute, log-transform fat tails, z-score, optionally merge correlated columns (see the module docstring).

    A DataFrame in gives a DataFrame out (same index, columns ``get_feature_names_out()``); an array gives an
    array. Missing values are imputed (``allow_nan``); infinite values are an error.

    Parameters
    ----------
    skew_threshold : float
        Sample skewness above which a column is log-transformed (registry metrics marked ``skewed`` always
        are).
    group_threshold : float or None
        Merge columns whose transformed values correlate (Pearson, either sign) at or above this in absolute
        value; None: no grouping. A column correlated negatively with its group's first column enters the
        group's mean with its sign flipped (``inactive_days`` counts as minus ``active_days``), so the two
        reinforce instead of cancelling.
    missing_indicators : bool
        Add ``<column>__missing`` for columns with missing values in training.
    min_missing : int
        A column gets its indicator only when at least this many training rows miss it (or this many accounts,
        given ``groups`` at fit); below, its missing cells are only imputed. An indicator fitted on one empty
        cell got a weight of +-0.35 from that one row's outcome (a public credit table's marital status).
    log_transform : bool
        False: no log transform (inputs already on a log-odds scale, as from :class:`MonotoneBinner`).

    Attributes
    ----------
    columns_ : list of str
        Input columns (``x0``, ``x1``, ... for an array).
    medians_, means_, scales_ : dict
        Per input column: the imputed value, and the mean and SD of the (logged) column. Plain dicts and
        arrays throughout, so a fitted scaler saves with ``skops``.
    groups_ : list of list of str
        Input columns behind each output feature; the first names it.
    group_signs_ : list of list of float
        +1 or -1 per member of ``groups_``: the sign of its correlation with the group's first column.
    n_features_in_, feature_names_in_ : as in scikit-learn (names only when fitted on a DataFrame).
    """

    #: a scaler saved before ``min_missing`` existed reads as 1 (every column with a missing cell: as it was fitted)
    min_missing = 1

    def __init__(self, skew_threshold: float = 1.0, group_threshold: float | None = None,
                 missing_indicators: bool = True, log_transform: bool = True, min_missing: int = 1):
        self.skew_threshold = skew_threshold
        self.group_threshold = group_threshold
        self.missing_indicators = missing_indicators
        self.log_transform = log_transform
        self.min_missing = min_missing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y=None, groups=None):
        """Fit on ``X``; ``groups`` (one account code per row) counts the accounts that miss a column for
        ``min_missing``, else its rows are counted."""
        X = _numeric(frame_for_fit(self, X), type(self).__name__)
        self.columns_ = list(X.columns)
        medians = fill_values(X)
        self.medians_ = dict(zip(self.columns_, medians.tolist(), strict=True))
        filled, missing = fill_missing(X.to_numpy(dtype=float), medians)
        if groups is not None:
            codes = pd.Series(np.asarray(groups))
            counts = [codes[missing[:, j]].nunique() for j in range(missing.shape[1])]
        else:
            counts = missing.sum(axis=0).tolist()
        self.missing_columns_ = [c for c, n in zip(self.columns_, counts, strict=True)
                                 if n and n >= self.min_missing] if self.missing_indicators else []
        self.log_columns_, self.signed_log_columns_ = [], []
        if self.log_transform and len(filled) > 0:
            sd = filled.std(axis=0)
            skew, kurt = _skew_kurtosis(filled) if len(filled) > 2 else (np.zeros(filled.shape[1]),) * 2
            for j, c in enumerate(self.columns_):
                if sd[j] == 0:
                    continue
                marked = _registry_skewed(c)
                heavy = marked if marked is not None else abs(skew[j]) > self.skew_threshold
                if marked is None and not heavy and filled[:, j].min() < 0:
                    # signed columns: fat tails on either side (percent changes)
                    heavy = kurt[j] > 3 * (1 + self.skew_threshold)
                if heavy:
                    (self.log_columns_ if filled[:, j].min() >= 0 else self.signed_log_columns_).append(c)
        logged = self._logs(filled)
        means, sd = logged.mean(axis=0), logged.std(axis=0)
        scales = np.where(sd > 0, sd, 1.0)
        self.means_ = dict(zip(self.columns_, means.tolist(), strict=True))
        self.scales_ = dict(zip(self.columns_, scales.tolist(), strict=True))
        z = (logged - means) / scales
        if self.group_threshold:
            self.groups_, self.group_signs_ = self._groups(z)
        else:
            self.groups_, self.group_signs_ = [[c] for c in self.columns_], [[1.0] for _ in self.columns_]
        # output feature g = sum over its members of sign / size * z: one matrix product at transform
        position = {c: j for j, c in enumerate(self.columns_)}
        self.group_weights_ = np.zeros((len(self.columns_), len(self.groups_)))
        for g, (members, signs) in enumerate(zip(self.groups_, self.group_signs_, strict=True)):
            for c, sign in zip(members, signs, strict=True):
                self.group_weights_[position[c], g] = sign / len(members)
        self.feature_names_out_ = np.asarray([g[0] for g in self.groups_] +
                                             [c + MISSING_SUFFIX for c in self.missing_columns_], dtype=object)
        return self

    def _logs(self, A: np.ndarray) -> np.ndarray:
        """The log transforms of a (rows x ``columns_``) array."""
        A = np.array(A, dtype=float, copy=True)
        for c in self.log_columns_:
            j = self.columns_.index(c)
            A[:, j] = np.log1p(np.clip(A[:, j], 0, None))
        for c in self.signed_log_columns_:
            j = self.columns_.index(c)
            A[:, j] = np.sign(A[:, j]) * np.log1p(np.abs(A[:, j]))
        return A

    def _groups(self, z: np.ndarray) -> tuple[list[list[str]], list[list[float]]]:
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(z, rowvar=False), nan=0.0) if z.shape[1] > 1 else np.ones((1, 1))
        cols, assigned, groups, signs = self.columns_, set(), [], []
        for i, c in enumerate(cols):  # greedy, in column order: the first column names its group
            if c in assigned:
                continue
            js = [j for j in range(i + 1, len(cols))
                  if cols[j] not in assigned and abs(corr[i, j]) >= self.group_threshold]
            members = [c] + [cols[j] for j in js]
            assigned.update(members)
            groups.append(members)
            signs.append([1.0] + [1.0 if corr[i, j] > 0 else -1.0 for j in js])
        return groups, signs

    def transform(self, X):
        check_is_fitted(self, "means_")
        frame = isinstance(X, pd.DataFrame)
        X = _numeric(frame_for_predict(self, X, self.columns_)[self.columns_], type(self).__name__)
        filled, missing = fill_missing(X.to_numpy(dtype=float), self._per_column(self.medians_))
        z = (self._logs(filled) - self._per_column(self.means_)) / self._per_column(self.scales_)
        out = pd.DataFrame(z @ self.group_weights_, columns=[g[0] for g in self.groups_], index=X.index)
        for c in self.missing_columns_:
            out[c + MISSING_SUFFIX] = missing[:, self.columns_.index(c)].astype(float)
        return out if frame else out.to_numpy(dtype=float)

    def _per_column(self, values: dict) -> np.ndarray:
        return np.array([values[c] for c in self.columns_], dtype=float)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_

    def group_of(self, feature: str) -> list[str]:
        """The input columns behind an output feature."""
        for g in self.groups_:
            if g[0] == feature:
                return g
        if feature.endswith(MISSING_SUFFIX):
            return [feature.removesuffix(MISSING_SUFFIX)]
        raise KeyError(feature)

    def inverse_column(self, feature: str, z: np.ndarray) -> np.ndarray:
        """Raw value of a feature's first column at transformed value ``z`` (for words like 'typical 0.65')."""
        c = self.group_of(feature)[0]
        x = np.asarray(z, float) * self.scales_[c] + self.means_[c]
        if c in self.log_columns_:
            return np.expm1(x)
        if c in self.signed_log_columns_:
            return np.sign(x) * np.expm1(np.abs(x))
        return x


class MonotoneBinner(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Monotone binning of numeric metrics into weights of evidence (the classic scorecard transform).

    For non-linear metrics (risk that drops sharply once a few seats are active, then flattens), per column,
    learned on the training data:

    1. quantile bins (``n_bins``; ties merged), missing values in a bin of their own;
    2. the churn rate of each bin (with half an event and half a non-event added, so no bin is 0 or 1);
    3. adjacent bins pooled until the rates are monotone in the direction of the overall rank correlation
       (pool-adjacent-violators), so the score never rewards a metric's move in one range and punishes it
       in the next;
    4. each value replaced by its bin's weight of evidence ``logit(rate_bin) - logit(rate_all)``.

    ``y`` is a binary outcome (two labels; the larger, e.g. churned = 1, is the event). The output is on the
    log-odds scale and keeps the column names (a DataFrame in gives a DataFrame out, an array an array); the
    health score then weights it like any other feature.
    """

    def __init__(self, n_bins: int = 5):
        self.n_bins = n_bins

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.required = True
        return tags

    def fit(self, X, y):
        X = _numeric(frame_for_fit(self, X), type(self).__name__)
        _, y = binary_target(self, y, len(X))
        self.columns_ = list(X.columns)
        base = (y.sum() + 0.5) / (len(y) + 1.0)
        self.edges_, self.woe_, self.missing_woe_ = {}, {}, {}
        for c in X.columns:
            v = X[c].to_numpy()
            ok = ~np.isnan(v)
            qs = np.linspace(0, 1, self.n_bins + 1)
            edges = np.unique(np.nanquantile(v[ok], qs)) if ok.any() else np.array([0.0])
            cuts = edges[1:-1]
            idx = np.searchsorted(cuts, v[ok], side="right")
            k = len(cuts) + 1
            ev = np.bincount(idx, weights=y[ok], minlength=k) + 0.5
            n = np.bincount(idx, minlength=k) + 1.0
            rho = stats.spearmanr(v[ok], y[ok]).statistic if ok.sum() > 2 and np.ptp(v[ok]) > 0 else 0.0
            rates = _pav(ev / n, n, increasing=bool(rho >= 0) if np.isfinite(rho) else True)
            self.edges_[c] = cuts
            self.woe_[c] = _logit(rates) - _logit(base)
            miss = ~ok
            self.missing_woe_[c] = (float(_logit((y[miss].sum() + 0.5) / (miss.sum() + 1.0)) - _logit(base))
                                    if miss.any() else 0.0)
        return self

    def transform(self, X):
        check_is_fitted(self, "woe_")
        frame = isinstance(X, pd.DataFrame)
        X = _numeric(frame_for_predict(self, X, self.columns_)[self.columns_], type(self).__name__)
        out = {}
        for c in self.columns_:
            v = X[c].to_numpy()
            w = self.woe_[c][np.searchsorted(self.edges_[c], np.nan_to_num(v), side="right")]
            out[c] = np.where(np.isnan(v), self.missing_woe_[c], w)
        out = pd.DataFrame(out, index=X.index)
        return out if frame else out.to_numpy(dtype=float)


def _numeric(X: pd.DataFrame, where: str) -> pd.DataFrame:
    """Columns as floats (text that is not a number becomes missing, as before); infinite values are an error."""
    if all(pd.api.types.is_numeric_dtype(d) for d in X.dtypes):
        out = X.astype(float)
    else:
        out = X.apply(pd.to_numeric, errors="coerce").astype(float)
    finite_numbers(out, where)
    return out


def _pav(rates: np.ndarray, weights: np.ndarray, increasing: bool = True) -> np.ndarray:
    """Weighted pool-adjacent-violators: the closest monotone sequence to ``rates`` (one value per bin)."""
    r = rates if increasing else -rates
    blocks = []  # [value, weight, count]
    for v, w in zip(r, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out = np.concatenate([[v] * c for v, _, c in blocks])
    return out if increasing else -out
