"""Which accounts the voice-of-customer report asks the team to call, as tested selection rules."""

from __future__ import annotations

import pandas as pd

from .net_promoter import respondent_nps

#: Columns of the accounts-to-call list, in order.
CALL_COLUMNS = ("account_id", "name", "segment", "latest_at", "respondents", "mean_score", "category", "change",
                "trend", "split")


def accounts_to_call(accounts: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """Current accounts whose latest wave makes them detractors or whose score fell since the wave before,
    the largest falls first (then the lowest mean score); at most ``n``.

    ``accounts``: :func:`~engage_models.surveys.account_nps` joined to the current accounts' ``name`` and
    ``segment``.
    """
    watch = accounts[(accounts["category"] == "detractor") | (accounts["trend"] == "down")]
    watch = watch.sort_values(["change", "mean_score", "account_id"], na_position="last", kind="stable")
    return watch.head(n)[[c for c in CALL_COLUMNS if c in watch.columns]].reset_index(drop=True)


def split_respondents(answers: pd.DataFrame, accounts: pd.DataFrame, k: int = 3,
                      max_respondents: int = 10) -> pd.DataFrame:
    """The respondents of the ``k`` lowest-scoring accounts whose users disagree (a promoter and a detractor in
    the latest wave) and that have at most ``max_respondents`` respondents: who to listen to."""
    split = accounts[accounts["split"] & (accounts["respondents"] <= max_respondents)]
    ids = split.sort_values(["mean_score", "account_id"], kind="stable")["account_id"].head(k)
    out = respondent_nps(answers[answers["account_id"].isin(ids)], latest_wave=True)
    return out.sort_values(["account_id", "latest_score"], kind="stable").reset_index(drop=True)
