"""Did the play work? Measured effects of customer-success plays, with their uncertainty.

The project recommends a play per account (:mod:`engage_models.actions`); this package measures whether plays
change churn, from the **play log** (the ``plays`` table: account, play, date, owner, status planned / done /
skipped, optional ``holdout`` and note).

* :mod:`~engage_models.effects.units`: the log matched to the panel at the observation date before each play,
  with the outcomes (churn within the horizon, health-score change), split into **randomised** units (plays
  with a holdout drawn by the action list, :func:`engage_models.actions.assign_holdout`) and
  **observational** ones (plays done without a holdout, against the accounts that got none);
* :mod:`~engage_models.effects.estimate`: treated minus held out, adjusted for the pre-period score (CUPED),
  and the doubly robust (AIPW) effect on the treated beside the naive comparison it corrects;
* :mod:`~engage_models.effects.measure`: every play by design, outcome and band, with the sample size needed
  (:mod:`~engage_models.effects.power`);
* :mod:`~engage_models.effects.views`: the "What works" report's tables, figures and plain sentences.

The pipeline's ``effects`` stage runs it on every run; the simulator's plays
(:mod:`engage_models.demo.plays`) have known effects, against which the tests check the intervals.
"""

from .estimate import (
    Estimate,
    att_aipw,
    cross_fit,
    cuped_difference,
    naive_difference,
    nuisance_features,
    stratified_difference,
)
from .measure import EFFECT_COLUMNS, GROUPS, OUTCOMES, PREFERRED, measure_effects
from .power import detectable_from_se, minimum_detectable_effect, sample_size
from .units import OBSERVATIONAL, RANDOMISED, PlayUnits, check_play_log, log_summary, play_units, read_play_log

__all__ = [
    "EFFECT_COLUMNS",
    "GROUPS",
    "OBSERVATIONAL",
    "OUTCOMES",
    "PREFERRED",
    "RANDOMISED",
    "Estimate",
    "PlayUnits",
    "att_aipw",
    "check_play_log",
    "cross_fit",
    "cuped_difference",
    "detectable_from_se",
    "log_summary",
    "measure_effects",
    "minimum_detectable_effect",
    "naive_difference",
    "nuisance_features",
    "play_units",
    "read_play_log",
    "sample_size",
    "stratified_difference",
]
