"""Health score: learned weights from churn outcomes, the hand-weighted baseline, the gradient-boosting benchmark.

Modules, by job: :mod:`~engage_models.health.design` (which columns enter and how, feature labels),
:mod:`~engage_models.health.scaling` (skew-aware scaling, monotone binning), :mod:`~engage_models.health.cv`
(validation folds inside a fit, cost thresholds), :mod:`~engage_models.health.score` (the model),
:mod:`~engage_models.health.explain` (drivers in words), :mod:`~engage_models.health.baselines` (hand-weighted
card, gradient boosting) and :mod:`~engage_models.health.evaluation` (the backtest).
"""

from .baselines import ChurnGBM, HandWeightedScore, load_scorecard
from .cv import choose_thresholds, time_splits
from .design import feature_label
from .scaling import MonotoneBinner, SkewScaler
from .score import BANDS, HealthScore

__all__ = ["BANDS", "ChurnGBM", "HandWeightedScore", "HealthScore", "MonotoneBinner", "SkewScaler",
           "choose_thresholds", "feature_label", "load_scorecard", "time_splits"]
