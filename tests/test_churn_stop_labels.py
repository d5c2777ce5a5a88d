"""When the accounts' churn stops months before the data end (``churn_stop`` of the run's dates), the health score
learns, is backtested and is judged only on labels whose window ends by the stop; the reports say so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import CHURN_STOP_CONFIG, ingest_without_stop, run_churn_stop_world, run_stage
from engage_models.pipeline import stages as S

#: the small world's churn recorded only until 31 August 2024 (conftest's churn_stop_worlds): its stop is 23 August
STOP = pd.Timestamp("2024-08-23", tz="UTC")
H = CHURN_STOP_CONFIG["horizon_days"]  # 30 days: a short horizon leaves the stop world a backtest of its own


def _run(root: Path, **health):
    return run_churn_stop_world(root, **health)


@pytest.fixture(scope="module")
def worlds(churn_stop_worlds) -> dict:
    """The small world as simulated, and the same world whose churn after 31 August 2024 was never recorded, each
    run to the health stage (conftest's :func:`churn_stop_worlds`, shared with tests/test_churn_stop_readers.py)."""
    return churn_stop_worlds


def test_labels_end_at_the_churn_stop_in_one_place():
    """``known_labels`` blanks exactly the labels whose window runs past the stop and counts them; without a stop
    the panel comes back as it is."""
    dates = pd.to_datetime(["2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01"], utc=True)
    panel = pd.DataFrame({"account_id": ["a", "b"] * 4, "as_of": dates.repeat(2),
                          "churned_within_h": pd.array([0, 1, 0, 0, 1, 0, pd.NA, pd.NA], dtype="Int8")})
    stop = {"churn_stop": {"stop": "2024-07-15"}}
    assert S.label_end(stop, dates.max()) == pd.Timestamp("2024-07-15", tz="UTC")
    assert S.label_end({}, dates.max()) == dates.max()
    got = S.known_labels(panel, stop, 30)
    # 1 May and 1 June + 30 days end by 15 July; 1 July's window runs past it (its two labels go), 1 Aug had none
    assert got["churned_within_h"].isna().tolist() == [False] * 4 + [True] * 4
    assert got.attrs["churn_stop"] == {"stop": "2024-07-15", "label_end": "2024-07-15", "rows": 2, "accounts": 2,
                                       "first": "2024-07-01", "last": "2024-07-01"}
    assert panel["churned_within_h"].notna().sum() == 6  # the panel given is left as it was
    assert S.known_labels(panel, {"as_of": "2024-08-01"}, 30) is panel


def test_the_health_stage_learns_and_backtests_only_on_labels_known_by_the_stop(worlds):
    """The world whose churn stops on 23 August 2024 had its card trained, backtested and its score history fitted
    on rows to 1 December 2024 (their 30 days ahead all 'retained'); now every label it learned from or was tested
    on ends by the stop, the model says which rows were left out, and every account is still scored at the
    observation date. The stop is part of the stage's key (and its published parameters)."""
    root, run = worlds["stopped"]
    dates = run["ingest"].json("dates")
    assert dates["churn_stop"]["stop"] == STOP.date().isoformat()
    h = pd.Timedelta(days=H)
    model = run["health"].json("model")
    trained_until = pd.Timestamp(model["trained_until"])
    assert trained_until + h <= STOP and trained_until == pd.Timestamp("2024-07-01", tz="UTC")  # was 1 Dec 2024
    cutoffs = pd.to_datetime(run["health"].json("backtest")["cutoffs"], utc=True)
    assert cutoffs.max() + h <= STOP
    predictions = run["health"].frame("backtest_predictions")
    assert pd.to_datetime(predictions["as_of"], utc=True).max() + h <= STOP
    scores = run.scores
    assert (pd.to_datetime(scores["trained_until"], utc=True) + h <= STOP).all()
    # the left-out rows: every labelled row from 1 August (its window past 23 August) to 1 December 2024
    panel = run.panel
    past = panel["churned_within_h"].notna() & (panel["as_of"] + h > STOP)
    assert model["churn_stop"] == {"stop": "2024-08-23", "label_end": "2024-08-23", "rows": int(past.sum()),
                                   "accounts": int(panel.loc[past, "account_id"].nunique()),
                                   "first": "2024-08-01", "last": "2024-12-01", "horizon_days": H}
    # scores are not labels: every account at the latest date is scored as before
    latest = panel["as_of"].max()
    assert set(scores.loc[scores["as_of"] == latest, "account_id"]) == set(panel.loc[panel["as_of"] == latest,
                                                                                     "account_id"])
    assert run["health"].manifest["params"]["churn_stop"] == "2024-08-23"
    assert run.records["health"].key != worlds["plain"][1].records["health"].key


def test_a_world_without_a_stop_trains_as_before(worlds):
    """Without a stop the labels end at the panel's last date, as they did: the card is trained to the last date
    whose 30 days ahead are known (1 December 2024), the backtest runs to it, nothing is said."""
    _, run = worlds["plain"]
    assert "churn_stop" not in run["ingest"].json("dates")
    model = run["health"].json("model")
    assert pd.Timestamp(model["trained_until"]) == pd.Timestamp("2024-12-01", tz="UTC")
    assert pd.Timestamp(run["health"].json("backtest")["cutoffs"][-1]) == pd.Timestamp("2024-12-01", tz="UTC")
    assert "churn_stop" not in model and "churn_stop" not in run["health"].manifest["params"]
    from engage_models.health import views as hv
    from engage_models.reports import summary

    assert hv.churn_stop_text(model, "en") == "" and summary.churn_stop_line(model, "ja") == ""


def test_monitoring_takes_no_label_past_the_stop_for_matured(worlds, tmp_path):
    """The model trained to 1 July 2024 was judged on the 'matured' labels of August to December, every account
    of them retained since churn stops on 23 August; those labels are not matured: the check waits."""
    from engage_models.pipeline import RunConfig

    root, run = worlds["stopped"]
    config = RunConfig.from_dict({"data_dir": str(root), "horizon_days": H, "monitoring": {"n_boot": 20}})

    def monitored(ingest):
        return run_stage("monitoring", config, {"ingest": ingest, "panel": run["panel"], "health": run["health"]},
                         tmp_path)

    got = monitored(run["ingest"])
    assert not got.has("performance") and got.manifest["skipped"][0]["section"] == "performance"
    # the same stage told of no stop judges the model on those rows (what it did before)
    judged = monitored(ingest_without_stop(run["ingest"], tmp_path)).frame("performance")
    assert pd.to_datetime(judged["as_of"], utc=True).min() == pd.Timestamp("2024-08-01", tz="UTC")


def test_too_few_churners_before_the_stop_say_the_stop_is_why(worlds):
    """A card that cannot be fitted on the labels known by the stop says the stop, in both languages."""
    root, _ = worlds["stopped"]
    run = _run(root, min_churners=200)
    record = run.records["health"]
    assert record.status == "failed"
    assert record.texts["en"].startswith("only ")
    assert "before the accounts' churn stops on 23 Aug 2024 (report 01; the " in record.texts["en"]
    assert "-day window runs past that day were left out, their churn not known yet)" in record.texts["en"]
    assert record.texts["ja"].startswith(
        "解約が2024年8月23日で止まっているため（レポート01）、30日の予測期間がその日を越える")


def test_reports_00_04_and_05_say_the_stop_in_both_languages(worlds):
    """Report 04 says in one sentence which rows were left out of the training and the backtest, report 00 in one
    line, report 05 that its follow-up ends at the stop (and, for an artifact made before, that it did not)."""
    from engage_models.health import views as hv
    from engage_models.reports import summary
    from engage_models.survival import report

    _, run = worlds["stopped"]
    model = run["health"].json("model")
    n = f"{model['churn_stop']['rows']:,}"
    assert hv.churn_stop_text(model, "en") == (
        f"The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): the {n} rows observed 1 Aug "
        "2024 to 1 Dec 2024, whose 30-day window runs past that day, were left out of the training and the backtest, "
        "since every account there would look as if it never churned.")
    assert hv.churn_stop_text(model, "ja") == (
        "顧客の解約は2024年8月23日で止まっています（検出方法はレポート01）。30日の予測期間がその日を越える"
        f"2024年8月1日〜2024年12月1日の観測{n}行は、どの顧客も解約しないように見えるため、学習とバックテストから除外しました。")
    assert summary.churn_stop_line(model, "en") == (
        "The accounts' churn stops on 23 Aug 2024 (report 01): the health score learned and was tested on outcomes "
        f"known by then only, leaving out {n} rows observed 1 Aug 2024 to 1 Dec 2024.")
    assert summary.churn_stop_line(model, "ja") == (
        "顧客の解約は2024年8月23日で止まっています（レポート01）。ヘルススコアはその日までに分かった結果だけで学習・"
        f"検証し、2024年8月1日〜2024年12月1日の観測{n}行を除外しました。")
    one = {**model["churn_stop"], "rows": 1, "first": "2024-08-01", "last": "2024-08-01"}
    assert summary.churn_stop_line({"churn_stop": one}, "en").endswith("leaving out 1 row observed 1 Aug 2024.")
    none = {**model["churn_stop"], "rows": 0, "first": None, "last": None}
    assert hv.churn_stop_text({"churn_stop": none}, "en").endswith(
        "no row of the training or the backtest had its 30-day window run past it.")
    assert summary.churn_stop_line({"churn_stop": none}, "en") == ""
    # a scoring run's frozen model keeps its training's stop: said as the model's, not as this run's data
    frozen = {**model, "frozen": True, "model_id": "abc123"}
    assert hv.churn_stop_text(frozen, "en") == (
        "The frozen model abc123 was trained where the accounts' churn stopped on 23 Aug 2024: the "
        f"{n} rows observed 1 Aug 2024 to 1 Dec 2024, whose 30-day window ran past that day, were left out of its "
        "training and backtest, since every account there looked as if it never churned.")
    assert hv.churn_stop_text(frozen, "ja").startswith("凍結モデル abc123 は、顧客の解約が2024年8月23日で止まっていた")
    assert summary.churn_stop_line(frozen, "en") == (
        "The frozen health model abc123 learned on outcomes known by 23 Aug 2024, where the accounts' churn stopped "
        "in its training data.")
    assert "凍結ヘルスモデル abc123" in summary.churn_stop_line(frozen, "ja")
    assert hv.churn_stop_text({**frozen, "churn_stop": none}, "en") == ""
    info = {"as_of": "2025-01-01", "observed_from": "2024-01-01", "accounts": 300, "churned": 55,
            "left_truncated": 10, "churn_stop": "2024-08-23"}
    assert report.header(info, "en").endswith(
        "The accounts' churn stops on 23 Aug 2024 (report 01): the curves and models below follow every account to "
        "the observation date as before, so they count the months after the stop as time without churn, and churn "
        "there reads too low.")
    assert "顧客の解約は2024年8月23日で止まっています（レポート01）。" in report.header(info, "ja")
    cut = {**info, "followed_until": "2024-08-23", "customers": 1234, "started_after_stop": 1}
    assert report.header(cut, "en").endswith(
        "The accounts' churn stops on 23 Aug 2024 (report 01): the curves, models and backtests below follow each "
        "account to that day only (censored there), since past it the accounts that left unrecorded would count as "
        "months without churn. The accounts and churn counted above are those followed to that day. The values and "
        "the revenue at risk are for the 1,234 accounts that are customers on the observation date (1 of them "
        "started after the stop), and count as customers any whose churn after the stop went unrecorded.")
    beyond = report.header({**cut, "longest_followed": 12.0, "beyond_followed": 3}, "en")
    assert beyond.endswith("unrecorded. 3 of them are past the longest tenure followed to the stop (12 months): their "
                           "values rest on the constant hazard assumed beyond it alone (see the methods).")
    assert "うち3社は、止まった日までに追跡できた最長の契約期間（12か月）" in report.header(
        {**cut, "longest_followed": 12.0, "beyond_followed": 3}, "ja")
    assert report.header(cut, "ja").endswith(
        "顧客価値と解約リスクのある収益は観測日時点の顧客1,234社（うち1社は止まった後に契約開始）についてのもので、"
        "止まった後の解約が記録されていない顧客も顧客として数えています。")
    assert "churn stops" not in report.header({**info, "churn_stop": None}, "en")
