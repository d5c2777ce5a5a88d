"""Survival analysis and customer value: when accounts churn, how long they stay, what they are worth.

One file per model, lifelines style:

* :mod:`~.data` - account lifetimes (censoring, left truncation), start/stop and person-period rows;
* :mod:`~.kaplan_meier` - :class:`KaplanMeierGroups`: retention curves by any categorical column, at-risk
  counts, median lifetimes, log-rank tests;
* :mod:`~.cox` - :class:`CoxModel`: Cox PH on account rows, aliased terms left out, penalizer by
  cross-validated partial likelihood (hazard ratios unpenalised), proportional hazards tested (Schoenfeld)
  and remedied (one stratum at most / time interaction);
* :mod:`~.time_varying` - :class:`TimeVaryingCox` on start/stop rows and :class:`DiscreteTimeHazard`;
* :mod:`~.curves` - :class:`SurvivalCurves`: predicted curves and conditional restricted mean survival;
* :mod:`~.value` - expected remaining lifetime, LTV, simple LTV, revenue at risk, bootstrap intervals;
* :mod:`~.evaluation` - Harrell's and Uno's concordance, time-dependent AUC, calibration, cross-validation;
* :mod:`~.analysis` - the pieces wired together for the CLI (``engage survival``) and the notebook.

Time is always months of tenure (30.4375 days).
"""

from .analysis import TableAnalysis, account_table, analyse_table, out_of_time
from .cox import CoxModel, plot_forest
from .curves import SurvivalCurves, monthly_discount_rate
from .data import lifetimes, panel_to_start_stop, person_period, simulator_start_stop
from .evaluation import calibration_table, cumulative_dynamic_auc, harrell_c, uno_c
from .kaplan_meier import KaplanMeierGroups, logrank
from .time_varying import DiscreteTimeHazard, TimeVaryingCox, risk_set_concordance
from .value import account_value, bootstrap_values, revenue_at_risk, simple_ltv

__all__ = [
    "CoxModel", "DiscreteTimeHazard", "KaplanMeierGroups", "SurvivalCurves", "TableAnalysis", "TimeVaryingCox",
    "account_table", "account_value", "analyse_table", "bootstrap_values", "calibration_table",
    "cumulative_dynamic_auc", "harrell_c", "lifetimes", "logrank", "monthly_discount_rate", "out_of_time",
    "panel_to_start_stop", "person_period", "plot_forest", "revenue_at_risk", "risk_set_concordance",
    "simple_ltv", "simulator_start_stop", "uno_c",
]
