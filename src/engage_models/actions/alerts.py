"""Alerts beside the score's: a detractor at a high-touch account.

A high-touch account (the playbook's touch model: high value, a named CSM) whose user answers the NPS survey
with 0-6 needs a call now, whatever its health score says: the score moves with usage, a detractor's answer
is news of its own. :func:`detractor_alerts` lists those answers between two observation dates; the actions
stage writes them next to the score alerts (:func:`engage_models.health.history.score_alerts`) and the run's
deliveries send both.

Examples
--------
>>> import pandas as pd
>>> answers = pd.DataFrame({"response_id": ["R1", "R2", "R3"], "account_id": ["a", "a", "b"],
...     "submitted_at": pd.to_datetime(["2025-05-20", "2025-05-25", "2025-05-26"], utc=True),
...     "survey_type": "nps", "score": [3.0, 9.0, 2.0], "comment": ["slow support", None, "meh"]})
>>> plan = pd.DataFrame({"account_id": ["a", "b"], "touch_model": ["high_touch", "tech_touch"]})
>>> detractor_alerts(answers, plan, since="2025-05-01", until="2025-06-01")[["account_id", "score", "comment"]]
  account_id  score       comment
0          a    3.0  slow support
"""

from __future__ import annotations

import pandas as pd

from .._core.time import to_utc
from ..surveys.net_promoter import PASSIVE_MIN

#: Touch models whose detractors alert (the playbook's codes).
ALERT_TOUCH_MODELS = ("high_touch",)
COLUMNS = ("account_id", "name", "response_id", "submitted_at", "score", "comment", "touch_model", "band", "mrr")


def detractor_alerts(answers: pd.DataFrame, plan: pd.DataFrame, *, since, until,
                     touch_models=ALERT_TOUCH_MODELS) -> pd.DataFrame:
    """NPS answers of 0-6 submitted in ``(since, until]`` at accounts whose touch model is in ``touch_models``.

    Parameters
    ----------
    answers : DataFrame
        Survey answers (the processed ``surveys`` table): ``response_id``, ``account_id``, ``submitted_at``,
        ``survey_type``, ``score``, optionally ``comment``.
    plan : DataFrame
        The action list (:func:`~engage_models.actions.action_list`): ``account_id``, ``touch_model`` and, when
        present, ``name``, ``band``, ``mrr``.
    since, until : date
        The window: after the previous observation date, up to the current one.

    Returns
    -------
    DataFrame
        One row per alerting answer, newest first, with :data:`COLUMNS` (those available).
    """
    since, until = to_utc(since), to_utc(until)
    a = answers[answers["survey_type"].astype(str).str.lower() == "nps"].copy()
    when = pd.to_datetime(a["submitted_at"], utc=True)
    a = a[(when > since) & (when <= until) & (a["score"] < PASSIVE_MIN)]
    if "comment" not in a:
        a["comment"] = None
    keep = [c for c in ("account_id", "touch_model", "name", "band", "mrr") if c in plan.columns]
    accounts = plan[keep].drop_duplicates("account_id")
    accounts = accounts[accounts["touch_model"].isin(touch_models)]
    out = a.merge(accounts, on="account_id", how="inner")
    out = out.sort_values(["submitted_at", "response_id"], ascending=[False, True], kind="stable")
    out = out[[c for c in COLUMNS if c in out.columns]].reset_index(drop=True)
    out.attrs.update({"since": since, "until": until})
    return out
