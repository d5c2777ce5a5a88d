"""What a calibrated 0-100 score answers, shared by the learned cards (:class:`~.score.HealthScore`, the linear
card, and :class:`~.shapes.ShapeScore`, the card of ranges): the calibrated log-odds, probabilities, classes
and bands, from ``health_score``, ``calibration_ = (a, b)`` and ``thresholds_ = (yellow, red)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._core.stats import sigmoid


class CalibratedScoreMixin:
    """``decision_function``, ``predict_proba``, ``predict`` and ``bands`` of a fitted card; the class sets
    ``_fitted_attr``, the attribute that exists once it is fitted."""

    _fitted_attr = "calibration_"

    def decision_function(self, X) -> np.ndarray:
        """Calibrated log-odds of the event (churn): ``predict_proba(X)[:, 1] == sigmoid(decision_function(X))``,
        and positive exactly where ``predict`` says ``classes_[1]``."""
        check_is_fitted(self, self._fitted_attr)
        a, b = self.calibration_
        return a + b * self.health_score(X).to_numpy()

    def predict_proba(self, X) -> np.ndarray:
        p = sigmoid(self.decision_function(X))
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
