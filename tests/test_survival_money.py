"""The money of survival values: LTV, revenue at risk and the simple LTV's ARPA use each account's MRR at the
run's date, not the MRR it had when it entered the data (the models' covariate).

A reader of the reports found report 05's MRR summing to 1.19M on the demo world against the 1.42M of the KPI
report, and an account grown from 13,140 to 15,300 a month valued at the first.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from engage_models.survival import analysis as A


def _latest_month(processed, as_of) -> pd.Series:
    subs = pd.read_parquet(processed / "subscriptions.parquet")
    known = subs[subs["period_start"] < as_of].sort_values("period_start", kind="stable")
    return known.groupby("account_id")["mrr"].last()


def test_an_accounts_mrr_now_is_its_latest_subscription_month_and_the_panel_values_use_it(small_ingested):
    data_dir, _ = small_ingested
    ad = A.account_table(data_dir)
    now = ad.mrr_now()
    active = ad.active.set_index("account_id")
    assert sorted(now.index) == sorted(active.index)
    expected = _latest_month(data_dir / "processed", ad.as_of).reindex(now.index)
    assert expected.notna().all()
    assert np.allclose(now.to_numpy(), expected.to_numpy())
    moved = (now - active.loc[now.index, "mrr"]).abs() > 0.005
    # the entry MRR (the models' covariate) differs for many, so the test can tell them apart (the README's figure)
    assert (int(moved.sum()), len(now)) == (82, 223)
    pdata = A.panel_table(ad, data_dir)
    assert np.allclose(pdata.current["mrr"].to_numpy(), now.reindex(pdata.current.index).to_numpy())


def test_an_account_without_a_subscription_month_keeps_the_accounts_tables_mrr(small_ingested, tmp_path):
    data_dir, _ = small_ingested
    shutil.copytree(data_dir / "processed", tmp_path / "processed")
    ad = A.account_table(data_dir)
    one = ad.active["account_id"].iloc[0]
    subs = pd.read_parquet(tmp_path / "processed" / "subscriptions.parquet")
    subs[subs["account_id"] != one].to_parquet(tmp_path / "processed" / "subscriptions.parquet")
    accounts = pd.read_parquet(tmp_path / "processed" / "accounts.parquet")
    accounts.loc[accounts["account_id"] == one, "mrr"] = 1234.5
    accounts.to_parquet(tmp_path / "processed" / "accounts.parquet")
    now = A.account_table(tmp_path, as_of=ad.as_of).mrr_now()
    assert now[one] == 1234.5
    others = now.drop(one)
    assert np.allclose(others.to_numpy(), ad.mrr_now().reindex(others.index).to_numpy())


def test_the_ltv_sentence_says_what_the_model_based_ltv_counts():
    """A reader found the LTV's horizon stated nowhere in report 05."""
    from engage_models.survival.report import ltv_summary

    values = pd.DataFrame({"ltv": [1000.0, 2000.0, 3000.0]})
    simple = {"ltv": 30000.0, "ltv_low": 25000.0, "ltv_high": 36000.0, "monthly_churn_rate": 0.02, "margin": 0.8,
              "arpa": 500.0}
    said = ltv_summary(values, simple, "en", horizon=36.0, discount=0.10)
    assert said.endswith("The model-based LTV counts gross margin 80% × each account's MRR today, month by month "
                         "while the model expects it to stay, over at most the next 36 months, discounted 10% a year.")
    assert "最大36か月先まで" in ltv_summary(values, simple, "ja", "JPY", horizon=36.0, discount=0.10)
    assert "counts gross margin" not in ltv_summary(values, simple, "en")  # no horizon given: as before


def test_report_05s_value_table_gives_the_churn_within_12_months_its_interval():
    """Report 05's table of the most valuable accounts gave the remaining months and the LTV their intervals, and
    the churn within 12 months a bare percentage; without the bootstrap, its header claims none."""
    from engage_models.survival.report import value_table

    values = pd.DataFrame({"tenure_months": [10.0], "mrr": [500.0], "expected_remaining_months": [20.0],
                           "expected_remaining_months_low": [15.0], "expected_remaining_months_high": [26.0],
                           "ltv": [8000.0], "ltv_low": [6000.0], "ltv_high": [10000.0], "churn_12m": [0.3123],
                           "churn_12m_low": [0.2456], "churn_12m_high": [0.4011]}, index=["a1"])
    en, ja = value_table(values, lang="en")._repr_html_(), value_table(values, lang="ja")._repr_html_()
    assert "<th>churn within 12 months (95% CI)</th>" in en and "<td>31.2% (95% CI 24.6% to 40.1%)</td>" in en
    assert "<th>12か月以内の解約確率（95%信頼区間）</th>" in ja and "<td>31.2%（95%信頼区間 24.6%〜40.1%）</td>" in ja
    bare = value_table(values.drop(columns=["churn_12m_low", "churn_12m_high"]), lang="en")._repr_html_()
    assert "<th>churn within 12 months</th>" in bare and "<td>31.2%</td>" in bare
    # without any bound (--n-boot 0): no header claims an interval (remaining months and LTV read "(95% CI)")
    none = value_table(values[["tenure_months", "mrr", "expected_remaining_months", "ltv", "churn_12m"]],
                       lang="en")._repr_html_()
    assert "95% CI" not in none and "<th>expected remaining months</th>" in none and "<th>LTV</th>" in none



def test_report_05s_example_curves_give_the_churn_within_12_months_its_interval():
    """Report 05's survival curves of three example accounts read "highest risk: a3 (38.0%)": no word of what the
    percentage is and no interval, where the value table and per_account.csv carry churn_12m_low/_high."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engage_models.survival.report import plot_account_curves

    values = pd.DataFrame({"churn_12m": [0.05, 0.2, 0.38], "churn_12m_low": [0.02, np.nan, 0.31],
                           "churn_12m_high": [0.09, np.nan, 0.45]}, index=["a1", "a2", "a3"])
    u = np.linspace(0, 36, 5)
    table = pd.concat([pd.DataFrame({"account_id": acc, "role": role, "months_from_now": u, "survival": 1 - u / 72})
                       for acc, role in (("a1", "surv.lowest_risk"), ("a2", "surv.median_risk"),
                                         ("a3", "surv.highest_risk"))], ignore_index=True)

    def legend(vals, lang):
        ax = plot_account_curves(table, vals, lang=lang)
        box = ax.get_legend()
        said = (box.get_title().get_text(), [x.get_text() for x in box.get_texts()])
        plt.close(ax.figure)
        return said

    # an account the bootstrap gave no bound keeps its bare percentage
    assert legend(values, "en") == ("churn within 12 months (95% CI)", [
        "lowest risk: a1, 5.0% (2.0% to 9.0%)", "median risk: a2 (20.0%)", "highest risk: a3, 38.0% (31.0% to 45.0%)"])
    title, labels = legend(values, "ja")
    assert title == "12か月以内の解約確率（95%信頼区間）" and labels[2] == "最も高リスク: a3、38.0%（31.0%〜45.0%）"
    # without the bootstrap (--n-boot 0): as before, and the title claims no interval
    assert legend(values[["churn_12m"]], "en") == ("churn within 12 months", [
        "lowest risk: a1 (5.0%)", "median risk: a2 (20.0%)", "highest risk: a3 (38.0%)"])
    assert legend(None, "en") == ("", ["lowest risk: a1", "median risk: a2", "highest risk: a3"])

@pytest.mark.slow
def test_the_survival_stage_values_accounts_and_the_simple_ltv_at_todays_mrr(report_data, tmp_path):
    """The report data's pipeline on a copy of its folder (its stages read back when the report tests computed
    them; the copy keeps the personas registry this run writes away from the tests that read it): report 05's
    values and ARPA."""
    from conftest import REPORT_RUN_DATE
    from engage_models import pipeline

    data = tmp_path / "data"
    shutil.copytree(report_data, data)
    run = pipeline.run({"data_dir": str(data), "run_date": REPORT_RUN_DATE}, until="survival",
                       progress=lambda m: None)
    ad = A.account_table(data, as_of=pd.Timestamp(run.artifacts["ingest"].json("dates")["as_of"]))
    now = ad.mrr_now()
    values = run.frame("survival", "values").set_index("account_id")
    assert np.allclose(values["mrr"].to_numpy(), now.reindex(values.index).to_numpy())
    risk = run.frame("survival", "revenue_at_risk")
    assert risk["mrr"].iloc[0] == pytest.approx(values["mrr"].sum())
    assert run.json("survival", "simple_ltv")["arpa"] == pytest.approx(now.mean())
