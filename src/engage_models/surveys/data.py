"""Survey answers for a report: read the processed tables once, cut at the observation date, add accounts.

Answers count when submitted strictly before ``as_of`` (the same rule as the panel's metrics: data
before the observation date). Account attributes (``segment``, ``plan``, and ``touch_model`` or
``lifecycle_stage`` where the accounts table has them) are joined to each answer for group views.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._core.i18n import count
from .._core.time import to_utc
from ..ingest.validate import load
from .net_promoter import nps_category

log = logging.getLogger(__name__)

ACCOUNT_ATTRIBUTES = ("segment", "plan", "touch_model", "lifecycle_stage")


@dataclass
class SurveyData:
    """The tables of one survey report, all cut at ``as_of``."""

    as_of: pd.Timestamp
    nps: pd.DataFrame  # NPS answers with ``category`` and account attributes
    csat: pd.DataFrame  # CSAT answers with account attributes
    accounts: pd.DataFrame
    tickets: pd.DataFrame

    @property
    def attributes(self) -> list[str]:
        """Account attributes present in the answers (grouping columns for the report)."""
        return [c for c in ACCOUNT_ATTRIBUTES if c in self.nps]


def prepare(surveys: pd.DataFrame, accounts: pd.DataFrame, tickets: pd.DataFrame, as_of) -> SurveyData:
    """Split answers into NPS and CSAT, keep those before ``as_of``, attach account attributes."""
    as_of = to_utc(as_of)
    s = surveys[pd.to_datetime(surveys["submitted_at"], utc=True) < as_of]
    attrs = [c for c in ACCOUNT_ATTRIBUTES if c in accounts]
    s = s.merge(accounts[["account_id", *attrs]], on="account_id", how="left", validate="many_to_one")
    nps = s[s["survey_type"] == "nps"].reset_index(drop=True)
    nps["category"] = nps_category(nps["score"]).to_numpy()
    csat = s[s["survey_type"] == "csat"].reset_index(drop=True)
    tk = tickets[pd.to_datetime(tickets["opened_at"], utc=True) < as_of]
    later = pd.to_datetime(tk["closed_at"], utc=True) >= as_of  # not closed yet at as_of: its CSAT not given yet
    tk = tk.assign(closed_at=tk["closed_at"].mask(later))
    if "csat" in tk:
        tk = tk.assign(csat=tk["csat"].mask(later))
    log.info("surveys before %s: %s, %s", as_of.date(), count(len(nps), "NPS answer"), count(len(csat), "CSAT answer"))
    return SurveyData(as_of, nps, csat, accounts, tk)


def load_survey_data(processed: str | Path, as_of) -> SurveyData:
    """:func:`prepare` on the processed ``surveys``, ``accounts`` and ``tickets`` tables."""
    return prepare(load("surveys", processed), load("accounts", processed), load("tickets", processed), as_of)


def answer_span(answers: pd.DataFrame, time: str = "submitted_at") -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """When the first and the last of ``answers`` were submitted (UTC; ``(None, None)`` without answers): the
    dates report 03's overall NPS covers, beside the latest wave's the executive summary quotes."""
    when = pd.to_datetime(answers[time], utc=True).dropna()
    return (when.min(), when.max()) if len(when) else (None, None)


def latest_comments(df: pd.DataFrame, category: str = "detractor", n: int = 10, *, by: str = "category",
                    text: str = "comment") -> pd.DataFrame:
    """The ``n`` most recent comments of one category (e.g. detractors to call back), newest first."""
    d = df[(df[by] == category) & df[text].notna() & (df[text].astype(str).str.strip() != "")]
    cols = [c for c in ("submitted_at", "account_id", "segment", "score", text) if c in d]
    return d.sort_values("submitted_at", ascending=False, kind="stable").head(n)[cols].reset_index(drop=True)
