"""The selection rules the reports show: which accounts to call, which are most at risk (hand-built tables)."""

from __future__ import annotations

import pandas as pd

from engage_models.health.views import most_at_risk
from engage_models.reports.summary import top_at_risk, top_at_risk_view
from engage_models.surveys import accounts_to_call, split_respondents


def _accounts():
    return pd.DataFrame({
        "account_id": ["a", "b", "c", "d", "e"],
        "name": ["A", "B", "C", "D", "E"], "segment": "SMB",
        "latest_at": pd.Timestamp("2025-01-10", tz="UTC"), "respondents": [3, 2, 12, 1, 4],
        "mean_score": [3.0, 8.0, 5.0, 9.0, 6.5],
        "category": ["detractor", "passive", "detractor", "promoter", "detractor"],
        "change": [-1.0, -3.0, None, 0.5, -3.0], "trend": ["down", "down", None, "flat", "down"],
        "split": [True, False, True, False, True]})


def test_accounts_to_call_are_detractors_and_falls_largest_first():
    calls = accounts_to_call(_accounts(), n=10)
    # detractors (a, c, e) and falls (a, b, e); largest fall first, ties by the lower mean score, no change last
    assert calls["account_id"].tolist() == ["e", "b", "a", "c"]
    assert "d" not in set(calls["account_id"])  # a promoter whose score rose is not called
    assert accounts_to_call(_accounts(), n=2)["account_id"].tolist() == ["e", "b"]


def test_split_accounts_are_listened_to_with_their_respondents():
    answers = pd.DataFrame({
        "account_id": ["a", "a", "a", "c", "c", "e", "e"], "user_id": ["u1", "u2", "u3", "v1", "v2", "w1", "w2"],
        "submitted_at": pd.Timestamp("2025-01-10", tz="UTC"), "score": [10, 2, 3, 9, 1, 10, 0],
        "survey_type": "nps"})
    out = split_respondents(answers, _accounts(), k=2)
    # split accounts with at most 10 respondents: a (mean 3.0) and e (6.5); c has 12 respondents
    assert sorted(out["account_id"].unique()) == ["a", "e"]
    assert len(out) == 5 and out.groupby("account_id").size().to_dict() == {"a": 3, "e": 2}


def test_most_at_risk_ranks_by_expected_mrr_lost_and_breaks_ties_by_id():
    scored = pd.DataFrame({"account_id": ["x", "y", "z", "w"], "churn_probability": [0.5, 0.1, 0.25, 0.9],
                           "mrr": [100.0, 1000.0, 200.0, None]})
    top = most_at_risk(scored, n=3)
    assert top["account_id"].tolist() == ["y", "x", "z"]  # 100, 50, 50 (x before z by id); w has no MRR: 0
    assert top["mrr_at_risk"].tolist() == [100.0, 50.0, 50.0]


def test_top_at_risk_carries_the_main_driver_in_each_language_and_the_play():
    now = pd.DataFrame({"account_id": ["x", "y"], "name": ["X", "Y"], "band": ["red", "yellow"],
                        "churn_probability": [0.5, 0.2], "mrr": [100.0, 100.0],
                        "drivers_text_en": ["logins 2, typical 9: -5 points; tickets 4: -2 points", ""],
                        "drivers_text_ja": ["ログイン 2、典型値 9：-5点／問い合わせ 4：-2点", ""]})
    plan = pd.DataFrame({"account_id": ["x", "y"], "play_label": ["Rescue call", "Usage tips"]})
    top = top_at_risk(plan, now, n=5)
    assert top["driver_en"].tolist() == ["logins 2, typical 9: -5 points", ""]
    assert top["driver_ja"].iloc[0] == "ログイン 2、典型値 9：-5点" and top["play_label"].tolist() == ["Rescue call",
                                                                                            "Usage tips"]
    view = top_at_risk_view(top, "ja", currency="JPY")
    assert view.iloc[0, 4] == "50円" and view.shape == (2, 7)


def test_the_headline_gives_the_nps_change_with_its_interval_and_p_value():
    """Report 00's NPS change read "+7 (p=0.35)": no interval where every other number has one."""
    from types import SimpleNamespace

    from engage_models.reports.summary import headline

    kpi = pd.DataFrame(columns=["kpi", "value", "ci_low", "ci_high", "change"])
    latest = {"nps": 12.0, "ci_low": 2.0, "ci_high": 22.0, "n": 400}
    diff = SimpleNamespace(difference=7.2, ci_low=-5.4, ci_high=19.8, p_value=0.35)
    rows = headline(kpi, latest, None, diff, "en")
    assert rows.iloc[0].tolist()[-1] == "+7 (95% CI -5 to +20), p = 0.350"
    assert headline(kpi, latest, None, diff, "ja").iloc[0].tolist()[-1] == "+7（95%信頼区間 -5〜+20）、p = 0.350"
    untested = SimpleNamespace(difference=7.2, ci_low=float("nan"), ci_high=float("nan"), p_value=float("nan"))
    assert headline(kpi, latest, None, untested, "en").iloc[0].tolist()[-1] == "+7"


def test_the_money_at_risk_says_why_the_survival_figures_are_missing():
    """Report 00 read "Over 3, 6 and 12 months the survival model expects —, — and —" on a thin world whose
    survival values were not computed: the reason is given instead (and escaped: a reason may quote data)."""
    from engage_models.reports.summary import risk_text

    risk = {"expected": 1200.0, "ci_low": 800.0, "ci_high": 1600.0, "share": 0.05, "accounts": 3.2}
    full = risk_text(risk, {"3": 500.0, "6": 900.0, "12": 1500.0}, 90, "en", "USD")
    assert "**$1,200** (95% range $800 to $1,600)" in full and "expects $500, $900 and $1,500." in full
    why = "no account is a customer at the observation date <b>"
    thin = risk_text(risk, None, 90, "en", "USD", survival_missing=why)
    assert "—" not in thin and "not computed: no account is a customer at the observation date &lt;b&gt;." in thin
    assert "計算できませんでした" in risk_text(risk, None, 90, "ja", "JPY", survival_missing="理由")
    assert risk_text(risk, None, 90, "en") == risk_text(risk, {}, 90, "en")  # no reason given: the first sentence


def test_money_at_risk_under_a_dollar_keeps_its_cents_in_the_table_and_the_sentence():
    """A purchase log's small amounts: an MRR at risk of $0.36 read "$0" in report 00's table and sentence."""
    from engage_models.reports.summary import risk_text

    now = pd.DataFrame({"account_id": ["x", "y", "z"], "name": ["X", "Y", "Z"], "band": "green",
                        "churn_probability": [0.006, 0.25, 0.5], "mrr": [60.0, 18.0, 2468.0],
                        "drivers_text_en": "", "drivers_text_ja": ""})
    plan = pd.DataFrame({"account_id": ["x", "y", "z"], "play_label": "Usage tips"})
    top = top_at_risk(plan, now, n=5)
    money = dict(zip(top["account_id"], top_at_risk_view(top, "en").iloc[:, 4], strict=True))
    assert money == {"x": "$0.36", "y": "$4.50", "z": "$1,234"}
    assert top_at_risk_view(top, "ja").iloc[:, 4].tolist() == ["$1,234", "$4.50", "$0.36"]
    assert top_at_risk_view(top, "ja", currency="JPY").iloc[:, 4].tolist() == ["1,234円", "4円", "0円"]
    risk = {"expected": 4.5, "ci_low": 0.36, "ci_high": 12.0, "share": 0.002, "accounts": 0.6}
    assert "**$4.50** (95% range $0.36 to $12)" in risk_text(risk, None, 90, "en", "USD")
    assert "$0.36" in risk_text(risk, None, 90, "ja", "USD")
