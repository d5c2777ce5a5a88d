"""Monitoring a frozen health model: population stability, performance on matured labels, when to retrain.

* :func:`psi`, :func:`stability_table` (:mod:`.drift`): how far today's rows moved from the training rows;
* :func:`matured_performance`, :func:`compare_models` (:mod:`.performance`): calibration and ROC-AUC on the
  labels matured since training, with intervals that respect accounts; a new model against the old one;
* :func:`recommend_retrain` (:mod:`.recommend`): the recommendation and its reasons (drift, calibration, age).
"""

from .drift import PSI_FLOOR, psi, psi_level, stability_table
from .performance import (
    calibration_in_the_large,
    churn_stop_of,
    compare_models,
    matured_performance,
    matured_rows,
    not_matured,
)
from .recommend import METRIC_PSI_SHARE, recommend_retrain

__all__ = ["PSI_FLOOR", "METRIC_PSI_SHARE", "psi", "psi_level", "stability_table", "calibration_in_the_large",
           "churn_stop_of", "compare_models", "matured_performance", "matured_rows", "not_matured", "recommend_retrain"]
