"""From score to action: a touch model, a lifecycle stage and one recommended play per account.

The input is the *scored accounts* frame, one row per (account_id, as_of), with the columns of
:data:`SCORED_COLUMNS` (``score`` 0-100 with 100 the healthiest, ``band`` green/yellow/red,
``churn_probability``, ``ltv`` which may be missing, ``drivers``: a list per account of
``{"metric", "value", "typical", "points"}``, worst first, ``points`` < 0 being the points lost against a
typical healthy account) plus the panel's metric columns (:data:`engage_models.features.metrics.REGISTRY_COLUMNS`).

What to do for whom is not code: it is the **playbook**, a YAML file the user can edit (the default is
``playbook.yaml`` next to this module; see its comments for the format). It holds three ordered rule lists:

* **touch model** (high-touch, low-touch, tech-touch, community-touch) from value (MRR, LTV) and
  engagement (score, community activity): the first rule whose conditions hold decides;
* **lifecycle stage** (onboarding, adoption, mature, at risk, expansion candidate), the same way, so the
  precedence is the order of the file;
* **plays**: the situation plays first (e.g. a stalled onboarding), then the play answering the account's
  worst driver (e.g. few active users -> a training session), then fallbacks; each with an owner type and
  a reason in English and Japanese that quotes the numbers.

:func:`action_list` runs all three on the latest observation date, :func:`export_actions` writes the
list as CSV and Parquet, and :func:`export_crm` as HubSpot's and Salesforce's import files;
:func:`detractor_alerts` lists NPS detractors at high-touch accounts for the run's deliveries;
:func:`crm_tasks` and :func:`new_score_alerts` leave out the tasks and score alerts an earlier run of the data
folder already sent (:mod:`engage_models.actions.repeats`).

Examples
--------
>>> import pandas as pd
>>> scored = pd.DataFrame({
...     "account_id": ["a1"], "as_of": pd.Timestamp("2025-06-01", tz="UTC"), "segment": "SMB", "plan": "Pro",
...     "mrr": [300.0], "seats": [20], "tenure_days": [400], "score": [38.0], "band": ["red"],
...     "churn_probability": [0.31], "ltv": [None], "active_user_ratio_28d": [0.21],
...     "drivers": [[{"metric": "active_user_ratio_28d", "value": 0.21, "typical": 0.65, "points": -8.2}]]})
>>> row = action_list(scored).iloc[0]
>>> row["touch_model"], row["stage"], row["play"], row["owner"]
('tech_touch', 'at_risk', 'training_session', 'marketing_automation')
>>> row["reason"]
'Few of the seats are in use: active users / seats (28 days) 0.21, typical healthy 0.65 (-8 points)'
"""

from .alerts import detractor_alerts
from .assign import (
    action_list,
    assign_stage,
    assign_touch_model,
    choose_play,
    column_label,
    driver_metric,
    format_value,
    prepare,
)
from .export import crm_tasks, export_actions, export_crm, read_actions, task_key
from .holdout import ASSIGNED, HELD_OUT, NOT_DRAWN, assign_holdout, holdout_design, stable_uniform
from .playbook import (
    BANDS,
    DEFAULT_PLAYBOOK,
    DERIVED_COLUMNS,
    EXPORT_COLUMNS,
    HOLDOUT_STRATA,
    OPTIONAL_COLUMNS,
    OWNERS,
    PLAY_SECTIONS,
    REQUIRED_COLUMNS,
    SCORED_COLUMNS,
    STAGES,
    TOUCH_MODELS,
    Condition,
    Play,
    Playbook,
    PlaybookError,
    Rule,
    load_playbook,
    parse_playbook,
)
from .repeats import new_score_alerts, record_sent, sent_before
from .views import actions_view, describe_plays, describe_rules, describe_stages, describe_touch_models, plot_plays

__all__ = [
    "ASSIGNED",
    "BANDS",
    "DEFAULT_PLAYBOOK",
    "DERIVED_COLUMNS",
    "EXPORT_COLUMNS",
    "HELD_OUT",
    "HOLDOUT_STRATA",
    "NOT_DRAWN",
    "OPTIONAL_COLUMNS",
    "OWNERS",
    "PLAY_SECTIONS",
    "REQUIRED_COLUMNS",
    "SCORED_COLUMNS",
    "STAGES",
    "TOUCH_MODELS",
    "Condition",
    "Play",
    "Playbook",
    "PlaybookError",
    "Rule",
    "action_list",
    "actions_view",
    "assign_holdout",
    "assign_stage",
    "assign_touch_model",
    "choose_play",
    "crm_tasks",
    "column_label",
    "describe_plays",
    "describe_rules",
    "describe_stages",
    "describe_touch_models",
    "detractor_alerts",
    "driver_metric",
    "export_actions",
    "export_crm",
    "format_value",
    "holdout_design",
    "load_playbook",
    "new_score_alerts",
    "parse_playbook",
    "plot_plays",
    "prepare",
    "read_actions",
    "record_sent",
    "sent_before",
    "stable_uniform",
    "task_key",
]
