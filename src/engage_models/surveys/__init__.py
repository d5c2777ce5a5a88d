"""Survey analytics: NPS and CSAT with uncertainty, drivers, churn by NPS category and comment themes.

=================  =========================================================================================
module             what it holds
=================  =========================================================================================
``net_promoter``   categories, NPS with Wald / adjusted-Wald intervals, two-sample test, tables by group and
                   period, per-account waves and per-respondent views, plots
``csat``           % satisfied (top boxes) with Wilson intervals, mean with t intervals, by trigger and month,
                   CSAT at ticket close against priority and time to close, plots
``drivers``        survey answers joined to the engagement panel without look-ahead, Spearman correlations
                   with intervals and FDR, churn within a horizon by NPS category, Kaplan-Meier by category
``themes``         English and Japanese tokens (janome), key terms by category (log-odds), themes and
                   representative comments
``data``           the processed tables cut at the observation date, ready for the report
=================  =========================================================================================

Every function takes and returns DataFrames (or small result objects that render escaped in notebooks);
plotting functions take ``ax=None`` and ``lang`` and return the ``ax``.

Examples
--------
>>> from engage_models.surveys import nps, csat_table
>>> nps([10] * 30 + [8] * 20 + [2] * 50).nps
-20.0
"""

from .csat import csat_scores, csat_table, csat_trend, satisfied, ticket_csat
from .data import SurveyData, answer_span, latest_comments, load_survey_data, prepare
from .drivers import attach_panel, candidate_drivers, churn_by_category, driver_correlations, one_hot, survival_frame
from .net_promoter import (
    NPSDifference,
    NPSEstimate,
    account_nps,
    account_waves,
    nps,
    nps_category,
    nps_difference,
    nps_interval,
    nps_table,
    nps_trend,
    respondent_nps,
)
from .select import accounts_to_call, split_respondents
from .themes import key_terms, representative_comments, theme_table, tokenize

__all__ = [
    "NPSDifference", "NPSEstimate", "SurveyData", "account_nps", "accounts_to_call", "split_respondents",
    "account_waves", "answer_span", "attach_panel", "candidate_drivers", "csat_scores",
    "churn_by_category", "csat_table", "csat_trend", "driver_correlations", "key_terms", "latest_comments",
    "load_survey_data", "nps", "nps_category", "nps_difference", "nps_interval", "nps_table", "nps_trend", "one_hot",
    "prepare", "representative_comments", "respondent_nps", "satisfied", "survival_frame", "theme_table",
    "ticket_csat", "tokenize",
]
