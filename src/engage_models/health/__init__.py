"""Health score: learned weights from churn outcomes, the hand-weighted baseline, the gradient-boosting benchmark.

See :mod:`engage_models.health.score` for the model and :mod:`engage_models.health.evaluation` for the backtest.
"""

from .scaling import SkewScaler
from .score import (
    BANDS,
    ChurnGBM,
    HandWeightedScore,
    HealthScore,
    choose_thresholds,
    feature_label,
    load_scorecard,
    time_splits,
)

__all__ = ["BANDS", "ChurnGBM", "HandWeightedScore", "HealthScore", "SkewScaler", "choose_thresholds",
           "feature_label", "load_scorecard", "time_splits"]
