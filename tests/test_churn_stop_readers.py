"""The other readers of churn outcomes end where the accounts' churn stops, as the health score's labels do
(``pipeline.stages.known_labels`` / ``label_end``): the monitoring of matured labels and its reasons, churn by NPS
category, the persona table's churn and the channels' outcomes; each report says what was left out, in both
languages. The world without a stop is read as before.

The worlds are conftest's :func:`churn_stop_worlds` (the small world, and the same world whose churn after 31 August
2024 was never recorded: its stop is found on 23 August), shared with tests/test_churn_stop_labels.py."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import CHURN_STOP_CONFIG, ingest_without_stop, run_churn_stop_world, run_stage
from engage_models.pipeline import stages as S

STOP = pd.Timestamp("2024-08-23", tz="UTC")
H = CHURN_STOP_CONFIG["horizon_days"]
AS_OF = pd.Timestamp("2025-01-01", tz="UTC")  # the small world's observation date
#: the latest monthly date whose 30 days end by the stop (1 Aug + 30 days passes 23 Aug), and by the data's end
LANDMARK_STOP, LANDMARK_PLAIN = pd.Timestamp("2024-07-01", tz="UTC"), pd.Timestamp("2024-12-01", tz="UTC")


@pytest.fixture(scope="module")
def worlds(churn_stop_worlds) -> dict:
    return churn_stop_worlds


@pytest.fixture(scope="module")
def personas(churn_stop_worlds) -> dict:
    """Both worlds run on to the personas stage (the stages before it read back)."""
    return {name: run_churn_stop_world(root, until="personas") for name, (root, _) in churn_stop_worlds.items()}


def _monitored(run, tmp_path):
    """The monitoring stage run on a world's health model (as tests/test_churn_stop_labels.py does)."""
    from engage_models.pipeline import RunConfig

    config = RunConfig.from_dict({"data_dir": str(tmp_path), "horizon_days": H, "monitoring": {"n_boot": 20}})
    return run_stage("monitoring", config, {"ingest": run["ingest"], "panel": run["panel"], "health": run["health"]},
                     tmp_path)


# ----------------------------------------------------------------------------------------------- monitoring
def test_monitoring_says_the_outcomes_end_at_the_stop(worlds, tmp_path):
    """The model trained to 1 July 2024 waits for matured labels: the reason said the outcomes are known 30 days
    after each date (and, in the recommendation, that the data end on the observation date), not that churn stops on
    23 August; report 08's header now says which rows since training no check takes, and the reasons name the stop,
    in both languages."""
    from engage_models.monitoring import views

    _, run = worlds["stopped"]
    got = _monitored(run, tmp_path)
    skipped = got.manifest["skipped"][0]
    assert skipped["section"] == "performance" and skipped["kind"] == "not_due"
    assert skipped["texts"]["en"] == (
        "no label has matured since the model's last training date (1 Jul 2024): a row's outcome is known 30 days "
        "after its observation date, and the accounts' churn stops on 23 Aug 2024 (report 01), so no outcome after "
        "that day is known")
    assert "顧客の解約は2024年8月23日で止まっている（レポート01）" in skipped["texts"]["ja"]
    # the recommendation's calibration check: it said "the data end on 1 Jan 2025"
    why = next(u for u in got.json("recommendation")["unavailable"] if u["check"] == "calibration")
    assert "churn stops on 23 Aug 2024" in why["texts"]["en"] and "data end" not in why["texts"]["en"]
    # the rows left out: observed after 1 July, matured by the observation date, their 30 days past the stop
    panel = run.panel
    d = pd.to_datetime(panel["as_of"], utc=True)
    lost = panel[(d > LANDMARK_STOP) & (d + pd.Timedelta(days=H) <= AS_OF) & (d + pd.Timedelta(days=H) > STOP)
                 & panel["churned_within_h"].notna()]
    info = got.json("info")
    assert info["churn_stop"] == {"stop": "2024-08-23", "label_end": "2024-08-23", "rows": len(lost),
                                  "accounts": int(lost["account_id"].nunique()), "horizon_days": H,
                                  "first": "2024-08-01", "last": "2024-12-01"}
    n = f"{len(lost):,}"
    assert views.header(info, "en").endswith(
        f"The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): the {n} rows observed 1 Aug "
        "2024 to 1 Dec 2024 since the model's training, whose 30-day window runs past that day, are not taken for "
        "known outcomes, since every account there would look as if it never churned.")
    assert views.header(info, "ja").endswith(
        f"顧客の解約は2024年8月23日で止まっています（検出方法はレポート01）。学習後の2024年8月1日〜2024年12月1日の観測{n}行は、"
        "30日の予測期間がその日を越え、どの顧客も解約しないように見えるため、結果が判明したものとして扱いません。")
    none = {**info, "churn_stop": {**info["churn_stop"], "rows": 0, "first": None, "last": None}}
    assert views.churn_stop_text(none, "en").endswith(
        "an outcome is taken as known only when its 30-day window ends by that day.")


def test_monitoring_without_a_stop_is_as_before(worlds, tmp_path):
    """Without a stop the model trained to 1 December 2024 waits as it did, with the reason it gave; the header says
    no stop."""
    from engage_models.monitoring import views

    _, run = worlds["plain"]
    got = _monitored(run, tmp_path)
    assert got.manifest["skipped"][0]["texts"]["en"] == (
        "no label has matured since the model's last training date (1 Dec 2024): a row's outcome is known 30 days "
        "after its observation date")
    info = got.json("info")
    assert "churn_stop" not in info and "churn stops" not in views.header(info, "en")


def test_the_reasons_of_the_performance_functions_name_the_stop():
    """Called on a panel whose labels end at a stop (``known_labels``), the library's functions give the stop as
    the reason nothing has matured; on the panel as it was they say where the data end."""
    from engage_models._core.errors import InsufficientData
    from engage_models._core.reasons import text
    from engage_models.monitoring import compare_models, matured_performance

    dates = pd.to_datetime(["2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01"], utc=True)
    panel = pd.DataFrame({"account_id": ["a", "b"] * 4, "as_of": dates.repeat(2),
                          "churned_within_h": pd.array([0, 1, 0, 0, 1, 0, 0, 1], dtype="Int8")})
    known = S.known_labels(panel, {"churn_stop": {"stop": "2024-07-15"}}, 30)
    args = {"trained_until": "2024-06-01", "as_of": "2024-09-01", "horizon_days": 30}
    with pytest.raises(InsufficientData) as caught:
        matured_performance(None, known, **args)
    assert text(caught.value.why, "en").endswith("the accounts' churn stops on 15 Jul 2024 (report 01), so no "
                                                 "outcome after that day is known")
    with pytest.raises(InsufficientData) as caught:
        compare_models(None, None, known, trained_until_new="2024-06-01", trained_until_old="2024-05-01",
                       as_of="2024-09-01", horizon_days=30)
    assert "before the accounts' churn stops on 15 Jul 2024" in text(caught.value.why, "en")
    assert "2024年7月15日" in text(caught.value.why, "ja")
    # the panel as it was: 1 July and 1 August matured by 1 September, so the functions go on to the model
    with pytest.raises(AttributeError):
        matured_performance(None, panel, **args)


# ------------------------------------------------------------------------------------------------- surveys
def _churn_known_answer(root, run, as_of):
    """churn_by_category of a world's answers and accounts at ``as_of`` (its landmark one horizon before)."""
    from engage_models import surveys as sv

    accounts = pd.read_parquet(root / "processed" / "accounts.parquet")
    return sv.churn_by_category(sv.account_waves(run["surveys"].frame("nps_answers")), accounts, H, as_of)


def test_churn_by_nps_category_ends_at_the_stop(worlds):
    """Churn by NPS category took the customers of 2 December 2024 and their 30 days ahead: nobody churned there,
    the churn being unrecorded. It is read one horizon before the stop now, and it is exactly the churn of the
    world whose churn was recorded (the two differ only after 31 August); the curves by category follow each
    answer to the stop; report 03 says both in one sentence."""
    from engage_models.surveys import report

    root, run = worlds["stopped"]
    churn = run["surveys"].frame("churn_by_category")
    plain_root, plain = worlds["plain"]
    truth = _churn_known_answer(plain_root, plain, STOP)
    pd.testing.assert_frame_equal(churn.reset_index(drop=True), truth.reset_index(drop=True), check_dtype=False)
    assert churn["churned"].sum() > 0
    info = run["surveys"].json("churn_by_category")
    from engage_models import surveys as sv

    waves = sv.account_waves(run["surveys"].frame("nps_answers"))
    accounts = pd.read_parquet(root / "processed" / "accounts.parquet")
    after = (sv.survival_frame(waves, accounts, AS_OF)["account_id"].nunique()
             - sv.survival_frame(waves, accounts, STOP)["account_id"].nunique())
    assert info["churn_stop"] == {"stop": "2024-08-23", "label_end": "2024-08-23", "at": "2024-07-24",
                                  "after_stop": after}
    # the curves by category: those of the recorded world's answers followed to the stop (they ran to 1 Jan 2025)
    plain_waves = sv.account_waves(plain["surveys"].frame("nps_answers"))
    plain_accounts = pd.read_parquet(plain_root / "processed" / "accounts.parquet")
    from engage_models.surveys import drivers as dr

    curves = dr.km_by_category(sv.survival_frame(plain_waves, plain_accounts, STOP)).result().curves
    pd.testing.assert_frame_equal(run.km("surveys", "km_by_category").curves.reset_index(drop=True),
                                  curves.reset_index(drop=True), check_dtype=False)
    assert run["surveys"].manifest["params"]["churn_stop"] == "2024-08-23"
    assert report.churn_stop_text(info, "en") == (
        "The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): the accounts above are those "
        "that were customers on 24 Jul 2024, one horizon before that day rather than before the observation date, "
        f"and the curves below follow each answer to that day only, leaving out the {after:,} "
        f"account{'s' if after != 1 else ''} whose first answer came after it.")
    assert report.churn_stop_text(info, "ja").startswith(
        "顧客の解約は2024年8月23日で止まっています（検出方法はレポート01）。上の顧客は観測日ではなくその日の予測期間1つ前の2024年7月24日")


def test_churn_by_nps_category_without_a_stop_is_as_before(worlds):
    root, run = worlds["plain"]
    churn = run["surveys"].frame("churn_by_category")
    pd.testing.assert_frame_equal(churn.reset_index(drop=True),
                                  _churn_known_answer(root, run, AS_OF).reset_index(drop=True), check_dtype=False)
    from engage_models.surveys import report

    info = run["surveys"].json("churn_by_category")
    assert "churn_stop" not in info and report.churn_stop_text(info, "en") == ""
    assert "churn_stop" not in run["surveys"].manifest["params"]


# ---------------------------------------------------------------------------------------------------- kpis
def test_the_monthly_kpis_end_with_the_last_month_closed_before_the_stop(worlds):
    """Past the stop a month counted the accounts that left unrecorded as customers, with no churn (0% logo churn,
    100% retention from September to December). The monthly KPIs end with July 2024 now, the last month closed
    by the stop, and are exactly the recorded world's up to then; the headline KPIs are July's; the activity KPIs
    of the events still run to the data end; report 02 says where the months end and why."""
    from engage_models import kpis as K

    _, run = worlds["stopped"]
    _, plain = worlds["plain"]
    july = pd.Timestamp("2024-07-01", tz="UTC")
    months = {name: run["kpis"].frame(name)["month"] for name in ("logo_churn", "revenue_retention", "mrr_bridge")}
    assert all(m.max() == july for m in months.values())
    assert plain["kpis"].frame("logo_churn")["month"].max() == pd.Timestamp("2024-12-01", tz="UTC")
    for name in ("logo_churn", "revenue_retention", "mrr_bridge"):
        mine, truth = run["kpis"].frame(name), plain["kpis"].frame(name)
        pd.testing.assert_frame_equal(mine, truth[truth["month"] <= july].reset_index(drop=True))
    assert (plain["kpis"].frame("logo_churn").query("month > @july")["churned"] > 0).all()  # what was lost
    def last_close(cohorts):  # the close of the last month a cohort's retention was read at
        return max(c + pd.DateOffset(months=int(k) + 1) for c, k in zip(cohorts["cohort"],
                                                                          cohorts["months_since_start"], strict=True))

    assert last_close(run["kpis"].frame("cohorts")) <= STOP < last_close(plain["kpis"].frame("cohorts"))
    summary = run["kpis"].frame("summary").set_index("kpi")
    assert summary.loc["logo_churn_rate", "period"] == july
    assert summary.loc["logo_churn_rate", "value"] == pytest.approx(
        plain["kpis"].frame("logo_churn").set_index("month").loc[july, "logo_churn_rate"])
    assert summary.loc["active_account_rate", "period"] == plain["kpis"].frame("summary").set_index("kpi").loc[
        "active_account_rate", "period"]
    info = run["kpis"].json("info")
    assert info["churn_stop"] == {"stop": "2024-08-23", "last_month": "2024-07-01", "months_left_out": 5}
    assert K.start_note(info, "en").startswith("The monthly KPIs end with Jul 2024: the accounts' churn stops at "
                                               "23 Aug 2024, 5 months before the data end")
    assert K.start_note(info, "ja").startswith("月次KPIは2024年7月までです。")
    assert K.churn_stop_note(info, "en") == K.start_note(info, "en")  # report 00 says it under its headline month
    assert "churn_stop" not in plain["kpis"].json("info") and K.start_note(plain["kpis"].json("info")) == ""


# ------------------------------------------------------------------------------------------------ journeys
def test_the_first_years_compared_before_the_start_end_by_the_outcome_end(worlds, tmp_path):
    """The accounts compared before the start are those whose first ``outcome_days`` are over by the last day an
    outcome may reach: the stop, not the observation date (with 60 days after starts of the stop world: the accounts
    started by 24 June 2024 against those started by 2 November). The small world has no touch before a start:
    every other account gets an email a week before its own."""
    from engage_models.journeys import channels as CH

    root, run = worlds["stopped"]
    accounts = pd.read_parquet(root / "processed" / "accounts.parquet")
    first = pd.Timestamp(run["ingest"].json("dates")["first_event"])
    start = pd.to_datetime(accounts["start_date"], utc=True)
    cohort = CH.before_start_cohort(accounts, first, STOP, 30, 60)
    assert set(cohort.index) == set(accounts.loc[(start >= first + pd.Timedelta(days=30))
                                                 & (start <= STOP - pd.Timedelta(days=60)), "account_id"])
    everyone = CH.before_start_cohort(accounts, first, AS_OF, 30, 60)
    assert len(everyone) > len(cohort) > 0
    touched = accounts.iloc[::2]
    (tmp_path / "processed").mkdir()
    pd.DataFrame({"account_id": touched["account_id"], "channel": "email", "device": "desktop",
                  "timestamp": pd.to_datetime(touched["start_date"], utc=True) - pd.Timedelta(days=7)}
                 ).to_parquet(tmp_path / "processed" / "touchpoints.parquet")
    compared = {}
    for end in (None, STOP):
        table = CH.outcomes_by_exposure(tmp_path / "processed", accounts, None, run.panel.iloc[:0], first, AS_OF, H,
                                        30, 60, min_n=1, outcome_end=end)
        email = table[(table["phase"] == "before_start") & (table["value"] == "email")].iloc[0]
        compared[end] = int(email["n_with"] + email["n_without"])
    assert compared == {None: len(everyone), STOP: len(cohort)}


def test_the_persona_and_channel_churn_end_at_the_stop(worlds, personas):
    """The persona table's churn and the channels' outcomes after the start were read at 1 December 2024 (every
    account 'retained' in the 30 days after, churn being unrecorded), the first year after a start to the
    observation date: now at 1 July 2024, the last date whose 30 days end by the stop, and the first years that
    end by the stop; report 07 says so in one sentence."""
    from engage_models.journeys import channels as CH
    from engage_models.journeys import views

    root, _ = worlds["stopped"]
    run = personas["stopped"]
    table = run["personas"].frame("persona_table")
    assert (pd.to_datetime(table["churn_landmark"], utc=True) == LANDMARK_STOP).all()
    assert table["churned"].sum() > 0
    outcomes = run["personas"].frame("channel_outcomes")
    after = outcomes[outcomes["phase"] == "after_start"]
    assert len(after) and (pd.to_datetime(after["landmark"], utc=True) == LANDMARK_STOP).all()
    # before the start: no first year of this 12-month world is over by the data's end, stop or not
    accounts = pd.read_parquet(root / "processed" / "accounts.parquet")
    start = run["ingest"].json("dates")["first_event"]
    pc = run.config.personas
    assert CH.before_start_cohort(accounts, start, AS_OF, pc.lookback_days, pc.prepurchase_outcome_days).empty
    record = run["personas"].json("churn_stop")
    assert record == {"stop": "2024-08-23", "horizon_days": H, "outcome_days": pc.prepurchase_outcome_days,
                      "landmark": "2024-07-01", "landmark_without": "2024-12-01", "cohort_left_out": 0}
    assert run["personas"].manifest["params"]["churn_stop"] == "2024-08-23"
    n = 12345  # the sentence's count, as a larger world would have it
    record["cohort_left_out"] = n
    assert views.churn_stop_text(record, "en") == (
        "The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): the churn by persona and after "
        "each channel or device below is read at 1 Jul 2024, the last observation date whose 30-day window ends by "
        f"then (not 1 Dec 2024), and the churn in the first year after a start leaves out the {n:,} "
        f"account{'s' if n != 1 else ''} whose year ends after that day.")
    assert views.churn_stop_text(record, "ja").startswith(
        "顧客の解約は2024年8月23日で止まっています（検出方法はレポート01）。以下のペルソナ別とチャネル・デバイス別の解約は、"
        "30日の予測期間がその日までに終わる最後の観測日2024年7月1日（2024年12月1日ではなく）")
    assert views.churn_stop_text({**record, "landmark": None}, "en").startswith(
        "The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): no observation date has its "
        "30-day window end by then")


def test_the_lifecycle_paths_end_at_the_stop(personas):
    """The paths followed the accounts through the scored dates after the stop, where those that left unrecorded
    stayed in a stage and no path reached "churned". Every scored date of this run (3, from 1 Nov 2024) comes after
    the stop: no path, and the reason names the stop; without a stop the paths are as before; a history that
    straddles the stop ends at it (path_dates) and report 07 says so."""
    from engage_models.journeys import stage as JS
    from engage_models.journeys import views
    from engage_models.journeys.reasons import Thin

    stopped, plain = personas["stopped"], personas["plain"]
    assert not stopped.has("personas", "stage_paths") and not stopped.has("personas", "stage_transitions")
    why = views.missing_reason(stopped, "stage_paths", "en")
    assert why.startswith("the accounts' churn stops on 23 Aug 2024 (report 01) and 3 scored dates come after it")
    assert "顧客の解約が2024年8月23日で止まっており" in views.missing_reason(stopped, "stage_paths", "ja")
    flow = plain["personas"].json("stage_flow")
    assert len(flow["dates"]) == 3 and "churn_stop" not in flow and views.flow_stop_text(flow) == ""
    assert plain["personas"].frame("stage_transitions").query("to == 'churned'")["accounts"].sum() > 0
    # a history straddling the stop: the dates on or before it, the rest counted
    dates = [pd.Timestamp(d, tz="UTC") for d in ("2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01",
                                                 "2024-10-01")]
    kept, said = JS.path_dates(dates, "2024-08-23")
    assert kept == dates[:3] and said == {"churn_stop": {"stop": "2024-08-23", "dates_left_out": 2}}
    info = {"dates": [d.isoformat() for d in kept], **said}
    assert views.flow_stop_text(info, "en") == (
        "The paths end on 1 Aug 2024: the accounts' churn stops on 23 Aug 2024 (report 01), and on the 2 later "
        "scored dates the accounts that left unrecorded would still be in a stage, none churned.")
    assert views.flow_stop_text(info, "ja").startswith("経路は2024年8月1日までです。")
    with pytest.raises(Thin):
        JS.path_dates(dates, "2024-06-15")
    assert JS.path_dates(dates, "2024-10-01") == (dates, {})


def test_the_persona_and_channel_churn_without_a_stop_are_as_before(personas):
    run = personas["plain"]
    table = run["personas"].frame("persona_table")
    assert (pd.to_datetime(table["churn_landmark"], utc=True) == LANDMARK_PLAIN).all()
    outcomes = run["personas"].frame("channel_outcomes")
    after = outcomes[outcomes["phase"] == "after_start"]
    assert (pd.to_datetime(after["landmark"], utc=True) == LANDMARK_PLAIN).all()
    assert not run["personas"].has("churn_stop") and "churn_stop" not in run["personas"].manifest["params"]


def test_the_milestones_retention_is_followed_to_the_stop(worlds, personas):
    """The landmark comparison's retention curves followed every account to the observation date: past the stop
    the accounts whose churn went unrecorded all looked retained. They now end at the stop, and are those the
    world that recorded its churn gives when followed to that day; report 07 says so. Time to first value does not
    read churn and counts every account as before."""
    from types import SimpleNamespace

    from engage_models.journeys import milestones as MS
    from engage_models.journeys import views

    stopped, plain = personas["stopped"], personas["plain"]
    info = stopped["personas"].json("milestones")
    accounts = pd.read_parquet(worlds["stopped"][0] / "processed" / "accounts.parquet")
    start = pd.Timestamp(info["data_start"])
    began = pd.to_datetime(accounts["start_date"], utc=True)
    after = int(((began >= start.normalize()) & (began >= STOP) & (began < AS_OF)).sum())
    assert info["churn_stop"] == {"stop": "2024-08-23", "followed_until": "2024-08-23", "accounts_left_out": after}
    assert after > 0
    # the known answer: the world that recorded its churn, followed to the stop by the package's own functions
    times = plain["personas"].frame("milestones")
    times["reached_at"] = pd.to_datetime(times["reached_at"], utc=True)
    plain_accounts = pd.read_parquet(worlds["plain"][0] / "processed" / "accounts.parquet")
    followed = MS.observed_accounts(plain_accounts, start, STOP)
    got = stopped["personas"].frame("milestone_summary").set_index("milestone")
    named = [SimpleNamespace(name=m, text=lambda lang, m=m: got.loc[m, f"label_{lang}"]) for m in got.index]
    want, _, _ = MS.landmark_analysis(times[times["reached_at"] <= STOP], followed, named,
                                      info["landmark_days"], STOP, info["max_months"])
    want = want.set_index("milestone")
    columns = ["accounts", "reached", "at_months", "difference", "p_value"]
    pd.testing.assert_frame_equal(got[columns], want.loc[got.index, columns], check_dtype=False)
    # followed to the observation date (what the stage did), the same comparison counts other accounts
    before = plain["personas"].frame("milestone_summary").set_index("milestone")
    assert (before.loc[got.index, "accounts"] > got["accounts"]).any()
    assert "churn_stop" not in plain["personas"].json("milestones")
    assert stopped["personas"].json("milestones")["time_to_value"] == plain["personas"].json("milestones")[
        "time_to_value"]
    assert views.milestones_stop_text(info, "en") == (
        "The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): the retention of those that "
        f"reached each milestone early and of those that did not is followed to that day only, and leaves out the "
        f"{after:,} account{'s' if after != 1 else ''} that started after it (their time to first value is counted "
        "all the same).")
    assert views.milestones_stop_text(info, "ja").startswith(
        "顧客の解約は2024年8月23日で止まっています（検出方法はレポート01）。")
    assert views.milestones_stop_text(plain["personas"].json("milestones"), "en") == ""


# ------------------------------------------------------------------------------------------------- effects
def _played_world():
    """Accounts a-f, customers all 2024 but c (churned 10 Sep 2024, after a stop on 23 Aug: a world that recorded
    it not blanks its end_date) and a (churned 20 Apr 2024); monthly observation dates; four observational plays."""
    dates = pd.date_range("2024-01-01", "2024-12-01", freq="MS", tz="UTC")
    ids = list("abcdef")
    accounts = pd.DataFrame({"account_id": ids, "start_date": pd.Timestamp("2023-01-01", tz="UTC"),
                             "end_date": pd.to_datetime(["2024-04-20", None, "2024-09-10", None, None, None],
                                                        utc=True)})
    ends = accounts.set_index("account_id")["end_date"]
    panel = pd.DataFrame([(a, d) for a in ids for d in dates if not (ends[a] <= d)], columns=["account_id", "as_of"])
    scores = panel.assign(score=50.0 + 2 * panel["as_of"].dt.month, churn_probability=0.1, band="yellow")
    log = pd.DataFrame({"play_id": ["p1", "p2", "p3", "p4"], "account_id": ["a", "c", "b", "d"],
                        "play": "rescue_call", "status": "done", "holdout": None,
                        # p1: 90 days end 8 Jun (by the stop); p2 and p3: 18 Sep and 30 Aug (past it, known by the
                        # data's end); p4: 18 Jan 2025, pending either way
                        "date": ["2024-03-10", "2024-06-20", "2024-06-01", "2024-10-20"]})
    return log, accounts, panel, scores


def test_the_effect_of_a_play_takes_no_churn_past_the_stop():
    """A play whose 90 days run past the day churn stops has no known outcome: c's play of 20 June counted c as
    churned where its churn was recorded and as retained where it was not (its end_date blank after the stop). Such
    plays are left out with their reason and counted, no comparison account is followed past the stop either, and
    report 06's header says how many; without a stop the units are those of before."""
    from engage_models import effects as E
    from engage_models.effects import views

    log, accounts, panel, scores = _played_world()
    args = {"as_of": "2024-12-15", "horizon_days": 90}
    before = E.play_units(log, accounts, panel, scores, **args)
    assert sorted(before.observational.loc[before.observational["treated"], "account_id"]) == ["a", "b", "c"]
    assert "churn_stop" not in before.info
    pd.testing.assert_frame_equal(E.play_units(log, accounts, panel, scores, churn_known_until="2024-12-15",
                                               **args).observational, before.observational)
    got = E.play_units(log, accounts, panel, scores, churn_known_until=STOP, **args)
    obs = got.observational
    assert obs.loc[obs["treated"], "account_id"].tolist() == ["a"]
    assert (obs["start"] + pd.Timedelta(days=90) <= STOP).all()  # the comparison accounts too
    reasons = got.excluded.set_index("play_id")["reason"]
    assert reasons[["p2", "p3"]].tolist() == [E.units.PAST_STOP] * 2 and reasons["p4"] == E.units.PENDING
    assert got.info["churn_stop"] == {"stop": "2024-08-23", "rows": 2}
    summary = E.log_summary(got, log).iloc[0]
    assert (summary["used"], summary["pending"], summary["left_out"]) == (1, 1, 2)
    info = {**got.info, "log_rows": len(log)}
    assert views.header(info, "en").endswith(
        " The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): 2 plays whose 90-day horizon "
        "runs past that day were left out, since every account there would look as if it stayed (counted as left "
        "out in the play log's table).")
    assert views.header(info, "ja").endswith(
        "顧客の解約は2024年8月23日で止まっています（検出方法はレポート01）。90日の期間がその日を越える2件のプレイは、"
        "どの顧客も継続したように見えるため除外しました（プレイ記録の表では除外に数えます）。")
    assert views.churn_stop_text({**info, "churn_stop": {"stop": "2024-08-23", "rows": 1}}, "en").startswith(
        " The accounts' churn stops on 23 Aug 2024 (report 01 says how it was found): 1 play whose 90-day horizon "
        "runs past that day was left out")
    assert "churn stops" not in views.header({**before.info, "log_rows": len(log)}, "en")


def test_the_effects_stage_ends_churn_at_the_stop(worlds, tmp_path):
    """The effects stage run on the stop world with a play log: plays whose horizon runs past 23 August are left
    out and counted; the same stage told of no stop takes them."""
    from engage_models.pipeline import RunConfig

    root, run = worlds["stopped"]
    accounts = pd.read_parquet(root / "processed" / "accounts.parquet")
    (tmp_path / "processed").mkdir()
    accounts.to_parquet(tmp_path / "processed" / "accounts.parquet")
    customers = run.panel.loc[run.panel["as_of"] == pd.Timestamp("2024-06-01", tz="UTC"), "account_id"].iloc[:40]
    # 20 plays done 5 June (30 days end 5 July: known) and 20 done 1 August (30 days end 31 August: past the stop)
    pd.DataFrame({"play_id": [f"p{i}" for i in range(40)], "account_id": customers.to_numpy(),
                  "play": "rescue_call", "status": "done", "holdout": pd.array([pd.NA] * 40, "boolean"),
                  "date": pd.to_datetime(["2024-06-05"] * 20 + ["2024-08-01"] * 20, utc=True)}
                 ).to_parquet(tmp_path / "processed" / "plays.parquet")
    config = RunConfig.from_dict({"data_dir": str(tmp_path), "horizon_days": H})

    def effects(ingest) -> dict:
        inputs = {"ingest": ingest, "panel": run["panel"], "health": run["health"]}
        return run_stage("effects", config, inputs, tmp_path).json("info")

    from engage_models.effects.units import PAST_STOP

    got = effects(run["ingest"])
    # the August plays of accounts still in the panel on 1 August (the others are not customers at their play)
    august = set(customers.iloc[20:]) & set(run.panel.loc[run.panel["as_of"] == pd.Timestamp("2024-08-01", tz="UTC"),
                                                           "account_id"])
    assert got["churn_stop"] == {"stop": "2024-08-23", "rows": len(august)} and len(august) > 10
    assert got["excluded"][PAST_STOP] == len(august)
    told_nothing = effects(ingest_without_stop(run["ingest"], tmp_path))
    assert "churn_stop" not in told_nothing and told_nothing["used"] == got["used"] + got["churn_stop"]["rows"]


# ------------------------------------------------------------------------------------------------ survival
def test_start_stop_rows_run_no_interval_past_the_observation_end():
    """A panel row dated before the end whose next row comes after it ran to that next row: cut at a churn stop, a
    churn after the stop fell in the follow-up. Known answer: the 1 August row ends on 23 August, without the
    churn of 28 August; the 1 September row is left out."""
    from engage_models.survival.data import panel_to_start_stop

    lt = pd.DataFrame({"account_id": ["a"], "start_date": [pd.Timestamp("2024-01-01", tz="UTC")],
                       "end_date": [pd.Timestamp("2024-08-28", tz="UTC")]})
    panel = pd.DataFrame({"account_id": ["a"] * 3, "x": [1.0, 2.0, 3.0],
                          "as_of": pd.to_datetime(["2024-07-01", "2024-08-01", "2024-09-01"], utc=True)})
    got = panel_to_start_stop(panel, lt, ["x"], as_of=STOP)
    assert got["x"].tolist() == [1.0, 2.0] and got["event"].tolist() == [0, 0]
    assert got["stop"].iloc[-1] == pytest.approx(got["start"].iloc[-1] + 22 / 30.4375, abs=0.02)
    # followed to the data end, the churn is in the August row
    assert panel_to_start_stop(panel, lt, ["x"], as_of=AS_OF)["event"].tolist() == [0, 1]


@pytest.fixture(scope="module")
def survived(worlds, tmp_path_factory) -> dict:
    """The survival stage (few refits) on both worlds, and on the stopped world told of no stop."""
    from engage_models.pipeline import RunConfig

    folder = tmp_path_factory.mktemp("survival")
    got = {}
    for name, (root, run) in worlds.items():
        config = RunConfig.from_dict({"data_dir": str(root), "horizon_days": H, "seed": 0,
                                      "survival": {"n_boot": 4, "n_jobs": 1}})
        inputs = {"ingest": run["ingest"], "panel": run["panel"], "health": run["health"]}
        got[name] = run_stage("survival", config, inputs, folder)
        if name == "stopped":
            got["told_nothing"] = run_stage("survival", config, {**inputs, "ingest": ingest_without_stop(
                run["ingest"], folder)}, folder)
    return got


def test_survival_follows_the_accounts_to_the_stop(worlds, survived):
    """Past the stop, the accounts whose churn went unrecorded counted as months without churn. The curves and the
    models now take the lifetimes at the stop: exactly those of the recorded world followed to that day. The values
    still score the customers of the observation date (unrecorded churners among them), and report 05 says both."""
    from engage_models.survival import analysis, report

    key = ["account_id", "duration", "event", "entry"]
    stopped, plain = worlds["stopped"][0], worlds["plain"][0]
    got = survived["stopped"].frame("lifetimes")[key].sort_values("account_id").reset_index(drop=True)
    known = analysis.account_table(plain, STOP).lifetimes[key].sort_values("account_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, known, check_dtype=False)
    # the stopped world followed to its observation date: more months, and only the churn recorded from the stop to
    # 31 August added
    blind = survived["told_nothing"].frame("lifetimes")
    now = analysis.account_table(stopped, AS_OF)
    late = int((pd.to_datetime(now.accounts["end_date"], utc=True) > STOP).sum())
    assert blind["duration"].sum() > got["duration"].sum() + 100 and blind["event"].sum() == got["event"].sum() + late
    info = survived["stopped"].json("info")
    after = int((pd.to_datetime(now.lifetimes["start_date"], utc=True) >= STOP).sum())
    assert info["followed_until"] == "2024-08-23" and info["churn_stop"] == "2024-08-23"
    assert info["customers"] == len(now.active) and info["started_after_stop"] == after
    assert info["accounts"] == len(got) and info["churned"] == int(got["event"].sum())
    assert info["longest_followed"] == round(got["duration"].max(), 1)
    assert info["beyond_followed"] == int((now.active["duration"] > got["duration"].max()).sum())
    # the values: the customers of the observation date, at their tenure then
    values = survived["stopped"].frame("values")
    assert set(values["account_id"]) <= set(now.active["account_id"])
    assert set(values["account_id"]) == set(survived["told_nothing"].frame("values")["account_id"])
    tenure = now.active.set_index("account_id")["duration"]
    assert (values.set_index("account_id")["tenure_months"] - tenure.loc[values["account_id"]]).abs().max() < 1e-9
    # the simple LTV: the churn rate of the follow-up, the ARPA of today's customers
    simple, blind_simple = survived["stopped"].json("simple_ltv"), survived["told_nothing"].json("simple_ltv")
    assert simple["exposure_months"] < blind_simple["exposure_months"] and simple["arpa"] == blind_simple["arpa"]
    assert simple["monthly_churn_rate"] > blind_simple["monthly_churn_rate"]
    assert "(censored there)" in report.header(info, "en") and "その日で打ち切り" in report.header(info, "ja")
    # the curves by health band: the three scored dates all come after the stop, so none is followed; told of no
    # stop, the bands were followed past it with no churn
    why = next(x for x in survived["stopped"].manifest["skipped"] if x["section"] == "km_band")
    assert why["texts"]["en"] == ("the health scores begin on 1 Nov 2024, not before the accounts' churn stops on "
                                  "23 Aug 2024 (report 01): no band can be followed while churn is known")
    assert survived["told_nothing"].has("km_band")


def test_survival_without_a_stop_is_as_before(worlds, survived):
    """The recorded world is followed to its observation date, and the stopped world told of no stop is too."""
    from engage_models.survival import analysis

    for name, root in (("plain", worlds["plain"][0]), ("told_nothing", worlds["stopped"][0])):
        info = survived[name].json("info")
        assert "followed_until" not in info and not info.get("churn_stop")
        assert info["accounts"] == len(analysis.account_table(root, AS_OF).lifetimes)


def ingest_with_stop(ingest, folder, stop: str):
    """An ingest artifact of the run's dates with the churn stop moved to ``stop`` (a stop found elsewhere)."""
    from engage_models._core.io import write_json
    from engage_models.pipeline.store import Artifact

    moved = folder / f"ingest-stop-{stop}"
    moved.mkdir()
    write_json(moved / "manifest.json", {"stage": "ingest", "key": "i", "files": [], "skipped": []})
    write_json(moved / "dates.json", {**ingest.json("dates"), "churn_stop": {"stop": stop}})
    return Artifact(moved)


def _survival_at(worlds, folder, stop):
    from engage_models.pipeline import RunConfig

    root, run = worlds["stopped"]
    config = RunConfig.from_dict({"data_dir": str(root), "horizon_days": H, "seed": 0,
                                  "survival": {"n_boot": 2, "n_jobs": 1}})
    inputs = {"ingest": ingest_with_stop(run["ingest"], folder, stop), "panel": run["panel"], "health": run["health"]}
    return run_stage("survival", config, inputs, folder)


@pytest.mark.parametrize("stop, en, ja", [
    # no account started before it: the reason named the stop as the observation date ("no account started before
    # the observation date 1 Jan 2000")
    ("2000-01-01", "no account started before the accounts' churn stops on 1 Jan 2000 (report 01): no lifetime can "
                   "be followed while churn is known", "2000年1月1日"),
    # the accounts started before it, but the data begin (1 January 2024) after it: curves and models said only "no
    # account has time at risk", the values "too little history"
    ("2023-06-01", "the accounts' churn stops on 1 Jun 2023 (report 01), not after the data begin (1 Jan 2024): no "
                   "account can be followed while its churn is known", "2024年1月1日"),
    ("2024-01-01", "the accounts' churn stops on 1 Jan 2024 (report 01), not after the data begin (1 Jan 2024): no "
                   "account can be followed while its churn is known", "2024年1月1日"),
])
def test_survival_with_no_follow_up_before_the_stop_says_the_stop(worlds, tmp_path, stop, en, ja):
    """A stop before any account started, or on or before the data begin, leaves no follow-up: the survival stage is
    thin, and its reason names the stop (not the observation date 1 Jan 2025) in both languages."""
    from engage_models._core.errors import InsufficientData
    from engage_models._core.reasons import text

    with pytest.raises(InsufficientData) as caught:
        _survival_at(worlds, tmp_path, stop)
    assert text(caught.value.why, "en") == en
    assert ja in text(caught.value.why, "ja") and "レポート01" in text(caught.value.why, "ja")


def test_survival_with_the_panel_after_the_stop_says_the_stop(worlds, tmp_path):
    """The panel begins on 1 April 2024 (its first date needs the longest trailing window); a stop on 15 February
    comes before it. The time-varying model, its backtest and the values said "too little history (its first date
    needs the longest trailing window of data)", with the stop in ISO: the panel is as long as it is, the stop is why.
    The account-level curves and Cox model still follow the accounts to the stop. A stop on the panel's first day
    leaves none of it too (a row on the follow-up's end is dropped)."""
    on_the_day = {x["section"]: x["texts"]["en"] for x in _survival_at(worlds, tmp_path, "2024-04-01").manifest[
        "skipped"]}
    assert on_the_day["values"].startswith("time-varying Cox model: the engagement panel's first date, 1 Apr 2024, "
                                           "is not before the accounts' churn stops on 1 Apr 2024 (report 01)")
    got = _survival_at(worlds, tmp_path, "2024-02-15")
    assert got.json("info")["followed_until"] == "2024-02-15" and got.has("cox_summary")
    skipped = {x["section"]: x["texts"] for x in got.manifest["skipped"]}
    for name in ("tv_summary", "oot_panel", "values"):
        assert skipped[name]["en"] == (
            "time-varying Cox model: the engagement panel's first date, 1 Apr 2024, is not before the accounts' churn "
            "stops on 15 Feb 2024 (report 01): none of its dates can be followed while churn is known"), skipped[name]
        assert "2024年4月1日" in skipped[name]["ja"] and "2024年2月15日" in skipped[name]["ja"]
