"""The baselines the learned score is backtested against: a hand-weighted scorecard and gradient boosting.

:class:`HandWeightedScore` is a scorecard with typed-in weights, as customer-success tools are configured out of
the box (the bundled ``hand_scorecard.yaml``, or your own); the learned score must beat it out of time, so the
gain from learning is shown, not claimed. :class:`ChurnGBM` (scikit-learn's HistGradientBoosting on the same
columns) is the flexible benchmark: how much accuracy the readable score leaves on the table.

Both are binary classifiers in scikit-learn's conventions: ``classes_`` are the two labels of ``y`` (the second,
e.g. churned = 1, is the event whose probability ``predict_proba(X)[:, 1]`` gives), a DataFrame's columns are
picked by name (extra columns allowed), an array's columns are named ``x0``, ``x1``, ...
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from .._core.errors import ConfigError
from .._core.stats import sigmoid as _sigmoid
from ._inputs import binary_target, frame_for_fit, frame_for_predict, positional_names
from .design import _infer_columns, level_order

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
            raise ConfigError(f"cannot read scorecard {path.name}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"scorecard {path.name} is not valid YAML: {exc}") from exc
        where = path.name
    else:
        where = "scorecard"
    if not isinstance(config, dict) or not isinstance(config.get("metrics"), list) or not config["metrics"]:
        raise ConfigError(f"{where}: needs a non-empty 'metrics' list")
    seen: dict[str, int] = {}
    for i, m in enumerate(config["metrics"]):
        need = {"metric", "weight", "thresholds"}
        if not isinstance(m, dict) or need - set(m):
            got = sorted(m) if isinstance(m, dict) else m
            raise ConfigError(f"{where}: metrics[{i}] needs {sorted(need)}, got {got!r} (thresholds: [value, "
                              f"points] pairs, e.g. [[10, 100], [3, 50], [0, 0]])")
        _check_entry(m, f"{where}: metrics[{i}] ({m['metric']})")
        if m["metric"] in seen:
            raise ConfigError(f"{where}: metrics[{i}] repeats metric {m['metric']!r} of metrics[{seen[m['metric']]}]:"
                              f" one entry per metric (its weight counts once)")
        seen[m["metric"]] = i
    return config


def _missing_points(m: dict) -> float:
    """The points a missing value of metric entry ``m`` scores: the lowest an observed value can score, so a
    missing value never beats an observed one. That is the lowest points of its pairs, or 0 where a value can reach
    no pair (``direction: higher`` without a pair at ``-.inf``: a value below the lowest threshold scores 0; with
    pairs ``[[11, 10], [3, 5]]`` a 0 scored 0 and a missing value 5)."""
    values = [float(v) for v, _ in m["thresholds"]]
    lowest = min(float(p) for _, p in m["thresholds"])
    covered = min(values) == -math.inf if m.get("direction", "higher") == "higher" else max(values) == math.inf
    return lowest if covered else min(lowest, 0.0)


def _check_entry(m: dict, where: str) -> None:
    """One metric's entry: a positive weight, a direction, [value, points] pairs with points 0-100, in the order
    the first reached applies (higher: from the highest value down; lower: from the lowest up); any other order
    leaves a pair no value can reach (thresholds 0, 3, 2, 11 for 'higher' scored every account 0)."""
    if not isinstance(m["metric"], str) or not m["metric"]:
        raise ConfigError(f"{where}: the metric must be a column name")
    direction = m.get("direction", "higher")
    if direction not in ("higher", "lower"):
        raise ConfigError(f"{where}: direction must be 'higher' or 'lower', not {direction!r}")
    try:
        weight = float(m["weight"])
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: weight must be a number, not {m['weight']!r}") from None
    if not weight > 0 or math.isinf(weight):
        raise ConfigError(f"{where}: weight must be a positive number, not {m['weight']!r}")
    pairs = m["thresholds"]
    if not isinstance(pairs, list) or not pairs:
        raise ConfigError(f"{where}: thresholds must be a list of [value, points] pairs, not {pairs!r}")
    values = []
    for k, pair in enumerate(pairs):
        try:
            value, points = (float(x) for x in pair)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: thresholds[{k}] must be a [value, points] pair of numbers, not "
                              f"{pair!r}") from None
        if not 0 <= points <= 100:
            raise ConfigError(f"{where}: thresholds[{k}] gives {points:g} points: points lie in 0-100 (the score is "
                              f"their weighted mean, 0-100)")
        values.append(value)
    steps = np.diff(values)
    wrong = np.flatnonzero(steps >= 0) if direction == "higher" else np.flatnonzero(steps <= 0)
    if len(wrong):
        k = int(wrong[0]) + 1
        order = "from the highest value down" if direction == "higher" else "from the lowest value up"
        raise ConfigError(f"{where}: thresholds[{k}] {pairs[k]!r} can never apply after {pairs[k - 1]!r}: with "
                          f"direction {direction} the first value reached gives the points, so list the pairs "
                          f"{order}")



class HandWeightedScore(ClassifierMixin, BaseEstimator):
    """A scorecard with typed-in weights and thresholds, as customer-success tools configure them.

    ``score = sum_m weight_m * points_m(x_m) / sum_m weight_m`` with ``points_m`` from the first threshold the
    value reaches (``direction: higher``: value >= threshold; ``lower``: value <= threshold), 0 when none;
    a missing value scores the lowest points an observed value of its metric can (:func:`_missing_points`).
    ``fit`` learns nothing about the weights: only the monotone map from score to probability (Platt), so its
    calibration can be compared fairly.

    Parameters
    ----------
    config : dict, path or None
        The card (see :func:`load_scorecard`); None: the bundled vendor-style card. Its metrics name columns of
        ``X``: for an array, ``x0``, ``x1``, ... (the scikit-learn check suite runs it with such a card).
    """

    def __init__(self, config=None):
        self.config = config

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True          # a missing value scores its metric's lowest points
        tags.classifier_tags.multi_class = False  # churned or not
        tags.classifier_tags.poor_score = True    # typed-in weights: nothing guarantees accuracy on any data
        return tags

    def _metrics(self, card) -> list[str]:
        return [m["metric"] for m in card["metrics"]]

    def fit(self, X, y):
        card = load_scorecard(self.config)
        X = frame_for_fit(self, X)
        missing = [c for c in self._metrics(card) if c not in X.columns]
        if missing:
            cols = list(X.columns)
            card_name = Path(self.config).name if isinstance(self.config, (str, Path)) else "hand scorecard"
            # "X has 1 feature(s)" as scikit-learn writes it: its check_fit2d_1feature matches "1 feature\(s\)"
            raise ValueError(f"{card_name}: {'metric' if len(missing) == 1 else 'metrics'} not in the data: {missing} "
                             f"(X has {len(cols)} feature(s): "
                             f"{cols[:12]}{' ...' if len(cols) > 12 else ''})")
        self.classes_, y01 = binary_target(self, y, len(X))
        self.card_ = card
        s = self._score(card, X)
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(s.reshape(-1, 1), y01)
        self.calibration_ = (float(platt.intercept_[0]), float(platt.coef_[0, 0]))
        return self

    def health_score(self, X) -> pd.Series:
        """The card's score, 0-100 (works before ``fit``: the card needs no learning)."""
        if hasattr(self, "card_"):
            card = self.card_
            X = frame_for_predict(self, X, self._metrics(card))
        else:
            card = load_scorecard(self.config)
            X = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
            if not all(isinstance(c, str) for c in X.columns):
                X = X.set_axis(positional_names(X.shape[1]), axis=1)
        return pd.Series(self._score(card, X), index=X.index, name="score")

    @staticmethod
    def _score(card, X: pd.DataFrame) -> np.ndarray:
        total_w = sum(float(m["weight"]) for m in card["metrics"])
        score = np.zeros(len(X))
        for m in card["metrics"]:
            v = pd.to_numeric(X[m["metric"]], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            lowest = _missing_points(m)
            pts = np.where(np.isnan(v), lowest, 0.0)
            done = np.zeros(len(X), bool)
            for thr, p in m["thresholds"]:
                hit = (v >= thr) if m.get("direction", "higher") == "higher" else (v <= thr)
                hit &= ~done & ~np.isnan(v)
                pts[hit] = float(p)
                done |= hit
            score += float(m["weight"]) * pts
        return score / total_w

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "calibration_")
        a, b = self.calibration_
        p = _sigmoid(a + b * self.health_score(X).to_numpy())
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "calibration_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class ChurnGBM(ClassifierMixin, BaseEstimator):
    """Gradient boosting (scikit-learn's HistGradientBoosting) on the same columns: the accuracy benchmark.

    Numeric columns go in as they are (trees need no scaling; missing values are handled natively);
    categorical columns as categories. Columns are inferred as for :class:`~engage_models.health.HealthScore`
    (``date_col`` and ``id_col`` never enter).
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True          # trees send missing values down their own branch
        tags.classifier_tags.multi_class = False  # churned or not
        return tags

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X[self.metrics_].apply(pd.to_numeric, errors="coerce").astype(float)
        for c in self.categorical_:
            out[c] = pd.Categorical(X[c].astype("string"), categories=self.levels_[c])
        return out

    def fit(self, X, y):
        X = frame_for_fit(self, X)
        self.classes_, y01 = binary_target(self, y, len(X))
        # a metric without a single value (no survey at all: no NPS) or of one value tells the trees nothing (and
        # HistGradientBoosting cannot bin the first): left out, as for the cards
        self.metrics_, self.categorical_, self.left_out_ = _infer_columns(X, self.metrics, self.categorical,
                                                                          {self.date_col, self.id_col})
        if not self.metrics_ and not self.categorical_:
            raise ValueError("ChurnGBM: no feature columns: pass metrics=[...] or numeric columns")
        self.levels_ = {c: level_order(X[c], X[c].dropna().astype(str).unique()) for c in self.categorical_}
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization, categorical_features="from_dtype", early_stopping=False,
            random_state=self.random_state,
        ).fit(self._matrix(X), y01.astype(int))
        self.n_iter_ = self.model_.n_iter_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._matrix(frame_for_predict(self, X, self.metrics_ + self.categorical_)))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
