"""Score alerts and CRM tasks that an earlier run of the data folder already sent are not sent again.

A simulated year of weekly ``engage run`` on one data folder repeated 12 of 70 score alerts (each run compares
with the latest month start at least 14 days before it, so one fall was listed until the next month start) and
772 of 1,245 CRM tasks (a task per account-play on every run). Known answers on hand-built scores and action
lists, then the pipeline on the small world.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from engage_models import actions as A
from engage_models import pipeline
from engage_models._core.errors import ConfigError
from engage_models._core.io import read_csv
from engage_models.actions.repeats import LEDGER, new_score_alerts, read_ledger, record_sent, sent_before
from engage_models.health.history import score_alerts
from engage_models.pipeline import RunConfig

DROP, DAYS = 10.0, 45


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def scored(run_date: str, now: dict[str, tuple[float, str]], jan: dict[str, tuple[float, str]] | None = None,
           feb: dict[str, tuple[float, str]] | None = None) -> pd.DataFrame:
    """Scores at the month starts 1 Dec, 1 Jan (``jan``, default every account 80 green), optionally 1 Feb, and on
    the run's own date: the scored dates of a run."""
    jan = jan or {a: (80.0, "green") for a in now}
    rows = [("2024-12-01", a, 80.0, "green") for a in now]
    rows += [("2025-01-01", a, s, b) for a, (s, b) in jan.items()]
    rows += [("2025-02-01", a, s, b) for a, (s, b) in (feb or {}).items()]
    rows += [(run_date, a, s, b) for a, (s, b) in now.items()]
    df = pd.DataFrame(rows, columns=["as_of", "account_id", "score", "band"])
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    return df


def weekly(path, run_date: str, scores: pd.DataFrame, *, days: int = DAYS, record: bool = True):
    """One run's score alerts through the ledger at ``path``: what earlier runs sent, the alerts kept and the
    repeats left out; the kept ones recorded as the pipeline does after the run."""
    told = sent_before(read_ledger(path), run_date, alert_days=days, task_days=28)["alerts"]
    kept, repeats = new_score_alerts(score_alerts(scores, drop=DROP), told, drop=DROP, days=days)
    if record:
        record_sent(path, run_date, alerts=kept, tasks=None)
    return kept, repeats


def test_the_same_fall_seen_by_two_weekly_runs_is_alerted_once(tmp_path):
    """Both runs compare with 1 January: on 15 January ``a`` fell 80 -> 62, on 22 January the same fall reads
    80 -> 60. Before, it was alerted on both runs (and on the 29th, and on 5 and 12 February)."""
    ledger = tmp_path / LEDGER
    first, _ = weekly(ledger, "2025-01-15", scored("2025-01-15", {"a": (62.0, "yellow"), "b": (79.0, "green")}))
    assert first["account_id"].tolist() == ["a"] and first["alert"].tolist() == ["score_drop"]
    second, repeats = weekly(ledger, "2025-01-22", scored("2025-01-22", {"a": (60.0, "yellow"), "b": (78.0, "green")}))
    assert second.empty
    assert repeats["account_id"].tolist() == ["a"]
    assert repeats[["told_on", "told_score", "told_band"]].iloc[0].tolist() == [day("2025-01-15"), 62.0, "yellow"]
    assert second.attrs["previous"] == day("2025-01-01")  # the deliveries still say since when
    # five weekly runs share the 1 January comparison (15 Jan to 12 Feb): the fall is alerted on the first only
    for run_date in ("2025-01-29", "2025-02-05", "2025-02-12"):
        kept, repeats = weekly(ledger, run_date, scored(run_date, {"a": (60.0, "yellow"), "b": (78.0, "green")}))
        assert kept.empty and repeats["account_id"].tolist() == ["a"], run_date


def test_the_repeats_left_out_are_logged_in_the_singular_and_the_plural(tmp_path, caplog):
    """The log said "1 score alert(s) left out": one repeat reads "1 score alert", two "2 score alerts"."""
    ledger = tmp_path / LEDGER
    weekly(ledger, "2025-01-15", scored("2025-01-15", {"a": (62.0, "yellow"), "b": (60.0, "yellow")}))
    for now, said in (({"a": (60.0, "yellow"), "b": (78.0, "green")}, "1 score alert"),
                      ({"a": (60.0, "yellow"), "b": (59.0, "yellow")}, "2 score alerts")):
        caplog.clear()
        with caplog.at_level("INFO", logger="engage_models.actions.repeats"):
            weekly(ledger, "2025-01-22", scored("2025-01-22", now), record=False)
        assert [r.getMessage() for r in caplog.records] == [
            f"{said} left out: already alerted by an earlier run within {DAYS} days"]


def test_a_further_fall_or_a_lower_band_alerts_again(tmp_path):
    """Materially worse since the alert: more than ``alert_drop`` points below the score alerted (b: 65 -> 54), or
    a lower band (c: alerted green at 80, now yellow at 78). Not enough: a: 62 -> 53 (9 points); into red is a
    new kind of alert (d)."""
    ledger = tmp_path / LEDGER
    first, _ = weekly(ledger, "2025-01-15", scored("2025-01-15", {
        "a": (62.0, "yellow"), "b": (65.0, "yellow"), "c": (80.0, "green"), "d": (60.0, "yellow")},
        jan={"a": (80.0, "green"), "b": (80.0, "green"), "c": (95.0, "green"), "d": (80.0, "green")}))
    assert sorted(first["account_id"]) == ["a", "b", "c", "d"]
    second, repeats = weekly(ledger, "2025-01-22", scored("2025-01-22", {
        "a": (53.0, "yellow"), "b": (54.0, "yellow"), "c": (78.0, "yellow"), "d": (58.0, "red")},
        jan={"a": (80.0, "green"), "b": (80.0, "green"), "c": (95.0, "green"), "d": (80.0, "green")}))
    assert sorted(second["account_id"]) == ["b", "c", "d"] and repeats["account_id"].tolist() == ["a"]
    # d's fall was alerted, its move into red was not: the row is kept whole, with both reasons
    assert second.set_index("account_id").loc["d", "alert"] == "score_drop;into_red"
    # and the lower scores are what the next run compares with: b at 54 alerts again only below 44
    third, repeats = weekly(ledger, "2025-01-29", scored("2025-01-29", {
        "a": (53.0, "yellow"), "b": (45.0, "yellow"), "c": (77.0, "yellow"), "d": (57.0, "red")},
        jan={"a": (80.0, "green"), "b": (80.0, "green"), "c": (95.0, "green"), "d": (80.0, "green")}))
    assert third.empty and sorted(repeats["account_id"]) == ["a", "b", "c", "d"]
    assert repeats.set_index("account_id").loc["b", "told_score"] == 54.0


def test_a_fall_measured_after_the_alert_is_a_new_one_and_the_window_ends(tmp_path):
    """``a`` fell in January (alerted 15 Jan), recovered by 1 February and fell again: the run of 19 February
    compares with 1 February, after the alert, so the fall is news though within 45 days. ``b``'s January fall,
    still seen on 12 February against 1 January, is a repeat within 45 days, and news again with a 28-day window."""
    ledger = tmp_path / LEDGER
    weekly(ledger, "2025-01-15", scored("2025-01-15", {"a": (60.0, "yellow"), "b": (60.0, "yellow")}))
    feb = scored("2025-02-19", {"a": (70.0, "yellow"), "b": (60.0, "yellow")},
                 feb={"a": (85.0, "green"), "b": (60.0, "yellow")})
    kept, repeats = weekly(ledger, "2025-02-19", feb, record=False)
    assert kept["account_id"].tolist() == ["a"] and repeats.empty  # b: no fall since 1 February
    late = scored("2025-02-12", {"a": (60.0, "yellow"), "b": (60.0, "yellow")})
    kept, repeats = weekly(ledger, "2025-02-12", late, record=False)
    assert kept.empty and sorted(repeats["account_id"]) == ["a", "b"]
    kept, repeats = weekly(ledger, "2025-02-12", late, days=28, record=False)  # 28 days since the alert: news
    assert sorted(kept["account_id"]) == ["a", "b"] and repeats.empty
    kept, _ = weekly(ledger, "2025-01-22", scored("2025-01-22", {"a": (60.0, "yellow")}), days=0, record=False)
    assert kept["account_id"].tolist() == ["a"]  # alert_repeat_days 0: every run lists every alert


def test_a_rerun_reproduces_its_first_run_and_a_backfill_neither_suppresses_nor_is_suppressed(tmp_path):
    """Runs of 15 and 22 January, then 22 January again after a backfill of 18 January: each date sees the
    runs before it that were recorded before its own first run."""
    ledger = tmp_path / LEDGER
    jan15 = scored("2025-01-15", {"a": (60.0, "yellow")})
    jan22 = scored("2025-01-22", {"a": (60.0, "yellow"), "b": (62.0, "yellow")})
    weekly(ledger, "2025-01-15", jan15)
    first22, rep22 = weekly(ledger, "2025-01-22", jan22)
    assert first22["account_id"].tolist() == ["b"] and rep22["account_id"].tolist() == ["a"]
    again, rep_again = weekly(ledger, "2025-01-22", jan22)  # the same date again: its own alerts do not count
    pd.testing.assert_frame_equal(again, first22)
    pd.testing.assert_frame_equal(rep_again, rep22)
    assert read_ledger(ledger)["runs"] == {"2025-01-15": 1, "2025-01-22": 2}
    # a backfill of 18 January: 22 January's alert of b does not suppress b's fall here (b fell by the 18th too)
    jan18 = scored("2025-01-18", {"a": (61.0, "yellow"), "b": (63.0, "yellow")})
    back, rep_back = weekly(ledger, "2025-01-18", jan18)
    assert back["account_id"].tolist() == ["b"] and rep_back["account_id"].tolist() == ["a"]
    # ... and 22 January run again after it does not see the backfill's alert of b: its first run's answer
    again, rep_again = weekly(ledger, "2025-01-22", jan22)
    pd.testing.assert_frame_equal(again, first22)
    pd.testing.assert_frame_equal(rep_again, rep22)
    # a new run after all of them sees them all
    kept, repeats = weekly(ledger, "2025-01-29", scored("2025-01-29", {"a": (60.0, "yellow"), "b": (62.0, "yellow")}))
    assert kept.empty and sorted(repeats["account_id"]) == ["a", "b"]
    assert sent_before(read_ledger(ledger), "2025-01-29", alert_days=DAYS, task_days=28)["alerts"][
        "as_of"].dt.strftime("%d").tolist() == ["15", "18", "22"]


def test_an_unreadable_ledger_costs_the_repeats_not_the_run(tmp_path):
    ledger = tmp_path / LEDGER
    ledger.write_text("{not json", encoding="utf-8")
    kept, repeats = weekly(ledger, "2025-01-22", scored("2025-01-22", {"a": (60.0, "yellow")}))
    assert kept["account_id"].tolist() == ["a"] and repeats.empty
    assert json.loads(ledger.read_text(encoding="utf-8"))["runs"] == {"2025-01-22": 1}  # written anew


# ------------------------------------------------------------------------------------------------- tasks
def plan(as_of: str, rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """An action list: (account, play, owner, assignment) per account, every account red."""
    df = pd.DataFrame(rows, columns=["account_id", "play", "owner", "assignment"])
    df["as_of"] = day(as_of)
    df = df.assign(score=30.0, band="red", churn_probability=0.3, ltv=1000.0, stage="at_risk",
                   touch_model="high_touch", play_label=df["play"].str.replace("_", " "), driver="", reason="why")
    return df[list(A.EXPORT_COLUMNS)]


WEEK1 = [("A1", "training_session", "csm", "assigned"),
         ("A2", "executive_call", "executive_sponsor", "assigned"),
         ("A3", "training_session", "csm", "held_out"),  # held out at random: no task, ever
         ("A4", "usage_tips", "marketing_automation", "assigned"),  # automation: no task
         ("A6", "rescue_call", "csm", "not_drawn")]  # a must-act account or a play without a holdout: a task


def export(folder, as_of, rows, ledger, days: int = 28):
    """A run's CRM files through the ledger, recorded as the pipeline does after the run."""
    actions = plan(as_of, rows)
    tasks = A.crm_tasks(actions, sent_before(read_ledger(ledger), as_of, alert_days=DAYS, task_days=days)["tasks"],
                        days=days)
    files = {k: read_csv(p) for k, p in A.export_crm(actions, folder, model_id="m1", tasks=tasks).items()}
    record_sent(ledger, as_of, alerts=None, tasks=tasks)
    return tasks, files


def test_a_task_exported_last_week_for_the_same_account_and_play_is_not_exported_again(tmp_path):
    ledger = tmp_path / LEDGER
    tasks1, files1 = export(tmp_path / "w1", "2025-06-01", WEEK1, ledger)
    assert files1["hubspot_tasks"]["engage_account_id"].tolist() == ["A1", "A2", "A6"]
    assert files1["hubspot_tasks"]["engage_task_key"].tolist() == [
        "A1:training_session:2025-06-01", "A2:executive_call:2025-06-01", "A6:rescue_call:2025-06-01"]
    # a week later A1 has the same play (a repeat), A2 a new one (a new task), A5 is new; A3 is still held out
    week2 = [WEEK1[0], ("A2", "rescue_call", "csm", "assigned"), WEEK1[2], WEEK1[3], WEEK1[4],
             ("A5", "training_session", "csm", "assigned")]
    tasks2, files2 = export(tmp_path / "w2", "2025-06-08", week2, ledger)
    assert files2["hubspot_tasks"]["engage_account_id"].tolist() == ["A2", "A5"]
    assert files2["salesforce_tasks"]["Engage_Task_Key__c"].tolist() == ["A2:rescue_call:2025-06-08",
                                                                         "A5:training_session:2025-06-08"]
    assert files2["salesforce_tasks"]["Account:What.Engage_Account_ID__c"].tolist() == ["A2", "A5"]
    # counted, not lost: the repeats name the task already in the CRM
    repeats = tasks2[tasks2["status"] == "repeat"].set_index("account_id")
    assert repeats.index.tolist() == ["A1", "A6"]
    assert repeats.loc["A1", "task_key"] == "A1:training_session:2025-06-01"
    assert repeats.loc["A1", "exported_on"] == day("2025-06-01")
    assert "A3" not in set(tasks2["account_id"])  # held out: neither a task nor a repeat
    # the company / Account rows still update every account every run, held-out ones without a next play
    for files in (files1, files2):
        companies = files["hubspot_companies"].set_index("engage_account_id")
        assert set(companies.index) >= {"A1", "A2", "A3", "A4", "A6"}
        assert companies["engage_next_play"].fillna("").loc["A3"] == ""
        assert len(files["salesforce_accounts"]) == len(files["hubspot_companies"])


def test_the_same_play_is_a_task_again_after_task_repeat_days_and_a_rerun_gives_the_same_files(tmp_path):
    ledger = tmp_path / LEDGER
    export(tmp_path / "w1", "2025-06-01", WEEK1, ledger)
    _, files = export(tmp_path / "w4", "2025-06-22", WEEK1, ledger)  # 21 days: still a repeat
    assert files["hubspot_tasks"].empty and list(files["hubspot_tasks"].columns)[-2:] == [
        "engage_task_key", "engage_account_id"]
    _, files = export(tmp_path / "w5", "2025-06-29", WEEK1, ledger)  # 28 days: the task comes again
    assert files["hubspot_tasks"]["engage_task_key"].tolist() == [
        "A1:training_session:2025-06-29", "A2:executive_call:2025-06-29", "A6:rescue_call:2025-06-29"]
    # 29 June run again: what it exported itself does not count, the files are the same
    _, again = export(tmp_path / "w5-again", "2025-06-29", WEEK1, ledger)
    for name, df in files.items():
        pd.testing.assert_frame_equal(again[name], df, obj=name)
    # a backfill of 15 June sees 1 June's tasks only, not 22 or 29 June's: A1's play is within 28 days of 1 June
    tasks, _ = export(tmp_path / "back", "2025-06-15", WEEK1, ledger)
    assert tasks.set_index("account_id")["exported_on"].dt.strftime("%Y-%m-%d").to_dict() == {
        "A1": "2025-06-01", "A2": "2025-06-01", "A6": "2025-06-01"}
    # task_repeat_days 0: a task every run
    tasks, files = export(tmp_path / "w6", "2025-07-06", WEEK1, ledger, days=0)
    assert tasks["status"].eq("new").all() and len(files["hubspot_tasks"]) == 3


def test_repeat_windows_are_whole_days_of_zero_or_more():
    assert RunConfig.from_dict({}).actions.alert_repeat_days == 45
    assert RunConfig.from_dict({}).actions.task_repeat_days == 28
    with pytest.raises(ConfigError, match="actions.task_repeat_days must be a whole number of days"):
        RunConfig.from_dict({"actions": {"task_repeat_days": -1}}).check()
    with pytest.raises(ConfigError, match="actions.task_repeat_days: expected int, not 2.5"):
        RunConfig.from_dict({"actions": {"task_repeat_days": 2.5}})
    with pytest.raises(ConfigError, match="actions.alert_repeat_days must be a whole number of days"):
        RunConfig.from_dict({"actions": {"alert_repeat_days": -7}}).check()


def test_report_00_says_how_many_alerts_and_tasks_were_left_out_in_both_languages():
    from engage_models.reports.summary import repeats_text

    info = {"alert_repeat_days": 45, "task_repeat_days": 28, "alerts": 3, "alerts_repeated": 7, "tasks": 30,
            "tasks_repeated": 51}
    alerts, tasks = repeats_text(info, "en", drop=10)
    assert alerts.startswith("7 more accounts got the same alert from an earlier run of this data folder within "
                             "45 days and have not fallen further by more than 10 points")
    assert tasks.startswith("The HubSpot and Salesforce task files hold 30 new tasks; 51 tasks for an account "
                            "and play that a run of this data folder exported within 28 days are not repeated.")
    alerts, tasks = repeats_text(info, "ja", drop=10)
    assert alerts.startswith("ほか7社は") and "51件は繰り返していません" in tasks
    first, tasks = repeats_text({**info, "alerts_repeated": 0, "tasks_repeated": 0}, "en")
    assert first is None and tasks.startswith("The HubSpot and Salesforce task files hold 30 new tasks. The")
    one, tasks = repeats_text({**info, "alerts_repeated": 1, "tasks": 1, "tasks_repeated": 1}, "en", drop=10)
    assert one.startswith("1 more account got the same alert") and "days and has not fallen further" in one
    assert tasks.startswith("The HubSpot and Salesforce task files hold 1 new task; 1 task for an account and play "
                            "that a run of this data folder exported within 28 days is not repeated.")
    assert repeats_text(None) == (None, None)  # a run made before the repeats were counted


# ------------------------------------------------------------------------------------------------- pipeline
def test_weekly_runs_of_the_pipeline_send_each_alert_and_task_once(small_world, tmp_path):
    """Runs of 4 and 11 September 2024 on the small world both compare with 1 August. The second lists only the
    alerts that are news, keeps the repeats aside and counts them; its task files leave out the account-plays the
    first exported. Run again, it is read back; a backfill of 8 September sees 4 September only, and leaves the
    11th's answer alone."""
    from engage_models.delivery.messages import build_digest, mail_text

    shutil.copytree(small_world / "raw", tmp_path / "raw")
    light = {"health": {"n_cutoffs": 1, "n_bootstrap": 0, "metric_bootstrap": 20}, "run_date": "2025-01-02",
             "data_dir": str(tmp_path)}

    def run(as_of):
        return pipeline.run({**light, "as_of": as_of}, until="actions", strict=True, progress=lambda m: None)

    def task_pairs(result, status="new"):
        tasks = result["actions"].frame("crm_tasks")
        return set(zip(tasks.loc[tasks["status"] == status, "account_id"], tasks.loc[tasks["status"] == status, "play"],
                       strict=True))

    def files(result):
        return {p.name: p.read_bytes() for p in sorted((result["actions"].path / "export").glob("*.csv"))}

    first, second = run("2024-09-04"), run("2024-09-11")
    assert first["actions"].manifest["params"]["sent_before"]["runs"] == []
    assert second["actions"].manifest["params"]["sent_before"]["runs"] == ["2024-09-04"]
    alerts1, alerts2 = first["actions"].frame("alerts"), second["actions"].frame("alerts")
    repeated = second["actions"].frame("repeated_alerts")
    every = score_alerts(second["health"].frame("scores"), drop=DROP)  # what the run listed before
    assert len(repeated) > 0 and pd.Timestamp(alerts2.attrs["previous"]) == every.attrs["previous"] == day("2024-08-01")
    assert sorted([*alerts2["account_id"], *repeated["account_id"]]) == sorted(every["account_id"])
    assert set(repeated["account_id"]) <= set(alerts1["account_id"])
    info = second["actions"].json("repeats")
    assert info["alerts"] == len(alerts2) and info["alerts_repeated"] == len(repeated)
    # the tasks: none of week 1's account-plays again, each counted; every account in the company files
    assert task_pairs(first) and not task_pairs(second) & task_pairs(first)
    assert task_pairs(second, "repeat") and task_pairs(second, "repeat") <= task_pairs(first)
    assert info["tasks"] == len(task_pairs(second)) and info["tasks_repeated"] == len(task_pairs(second, "repeat"))
    export = second["actions"].path / "export"
    hubspot = read_csv(export / "hubspot_tasks.csv")
    assert set(zip(hubspot["engage_account_id"], hubspot["engage_task_key"].str.split(":").str[1], strict=True)) \
        == task_pairs(second)
    assert len(read_csv(export / "hubspot_companies.csv")) == len(second.actions)
    # the deliveries count the repeats
    assert build_digest(second, run_date="2024-09-11").n_repeated_alerts == len(repeated)
    assert f"{len(repeated)} more already alerted by an earlier run" in mail_text(
        build_digest(second, run_date="2024-09-11"))[1]
    ledger = json.loads((tmp_path / "artifacts" / LEDGER).read_text(encoding="utf-8"))
    assert ledger["runs"] == {"2024-09-04": 1, "2024-09-11": 2}
    # the same date again: read back, the same files
    again = run("2024-09-11")
    assert again.records["actions"].status == "reused" and files(again) == files(second)
    # a backfill between them: sees 4 September only, and the 11th, run again, is still read back (its detractor
    # alerts, too, still start on 4 September: before, the backfill moved them to the 8th)
    backfill = run("2024-09-08")
    assert backfill["actions"].manifest["params"]["sent_before"]["runs"] == ["2024-09-04"]
    after = run("2024-09-11")
    assert after["actions"].manifest["params"]["actions"]["alerts_since"] == "2024-09-04"
    assert after.records["actions"].status == "reused" and files(after) == files(second)


def _actions_notebook(folder):
    """A folder with one report notebook that needs the actions stage and renders nothing of it."""
    import nbformat

    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("data_dir = None\nas_of = None\nhorizon_days = 90\nlang = 'en'\n",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('the action list is made')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["engage"] = {"needs": ["actions"]}
    nbformat.write(nb, folder / "06_actions.ipynb")
    return folder


def test_a_report_run_has_sent_its_alerts_and_tasks_once_published_not_before(small_world, tmp_path, monkeypatch):
    """``engage run`` records the run as sent (``sent.json``, ``run_dates.json``) after publishing: a run whose
    reports could not be published had its alerts and CRM files reach nobody, and the next run must send them."""
    from engage_models._core.errors import MachineError
    from engage_models.reports import runner

    nbs = _actions_notebook(tmp_path / "nbs")
    data = tmp_path / "data"
    shutil.copytree(small_world / "raw", data / "raw")
    cfg = RunConfig.from_dict({"data_dir": str(data), "run_date": "2025-01-02", "as_of": "2024-09-04",
                               "health": {"n_cutoffs": 1, "n_bootstrap": 0, "metric_bootstrap": 20}})

    def refused(*args, **kwargs):
        raise OSError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(runner, "_publish", refused)
        with pytest.raises((ConfigError, MachineError), match="cannot publish"):
            runner.run(run_config=cfg, out_dir=tmp_path / "reports", notebooks_dir=nbs, progress=lambda msg: None)
    assert (data / "artifacts" / "actions").is_dir()  # the stage ran ...
    assert not (data / "artifacts" / LEDGER).exists() and not (data / "artifacts" / "run_dates.json").exists()
    result = runner.run(run_config=cfg, out_dir=tmp_path / "reports", notebooks_dir=nbs, progress=lambda msg: None)
    assert (result.folder / "hubspot_tasks.csv").exists()  # ... and now it is published, so it was sent
    assert read_ledger(data / "artifacts" / LEDGER)["runs"] == {"2024-09-04": 1}
    assert json.loads((data / "artifacts" / "run_dates.json").read_text(encoding="utf-8"))["as_of"] == ["2024-09-04"]


def test_alerts_no_channel_took_are_sent_again_by_the_next_run(small_world, tmp_path, monkeypatch):
    """A run whose delivery failed on every channel (the webhook down) recorded its score alerts as sent, so the
    next run left them out, and its detractor alerts started after it: the alerts reached nobody, ever. Now its
    CRM tasks are recorded (their files were written) and its alerts are not; the date is marked undelivered, and
    the next run lists the same falls again, its detractors from the last delivered run."""
    from engage_models.pipeline.flow import previous_run_as_of, record_run_as_of
    from engage_models.pipeline.store import Store
    from engage_models.reports import runner
    from pg_server import free_port

    nbs = _actions_notebook(tmp_path / "nbs")
    data = tmp_path / "data"
    shutil.copytree(small_world / "raw", data / "raw")
    light = {"data_dir": str(data), "run_date": "2025-01-02",
             "health": {"n_cutoffs": 1, "n_bootstrap": 0, "metric_bootstrap": 20}}
    monkeypatch.setenv("TEST_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/services/down")  # nothing listens
    cfg = RunConfig.from_dict({**light, "as_of": "2024-09-04", "delivery": {"webhook_url_env": "TEST_WEBHOOK_URL",
                                                                              "timeout_s": 2}})
    messages = []
    result = runner.run(run_config=cfg, out_dir=tmp_path / "reports", notebooks_dir=nbs, progress=messages.append)
    assert [d["status"] for d in result.delivery] == ["failed"] and result.exit_code == 3
    assert "delivery: no channel took the alerts; the next run sends them again" in messages
    artifacts = data / "artifacts"
    ledger = read_ledger(artifacts / LEDGER)
    assert ledger["runs"] == {"2024-09-04": 1} and ledger["alerts"] == [] and ledger["tasks"]
    assert json.loads((artifacts / "run_dates.json").read_text(encoding="utf-8")) == {
        "as_of": ["2024-09-04"], "undelivered": ["2024-09-04"]}
    # the next week: 4 September's tasks are still not repeated, its falls are alerted again (not left out)
    nxt = pipeline.run({**light, "as_of": "2024-09-11"}, until="actions", strict=True, progress=lambda m: None)
    sent = nxt["actions"].manifest["params"]["sent_before"]
    assert sent["runs"] == ["2024-09-04"] and sent["alerts"] == 0 and sent["tasks"] == len(ledger["tasks"])
    assert len(nxt["actions"].frame("repeated_alerts")) == 0
    assert nxt["actions"].json("repeats")["tasks_repeated"] > 0
    assert nxt["actions"].manifest["params"]["actions"]["alerts_since"] is None  # detractors: not from the 4th
    # a run again on the 4th that delivers takes the mark off; the detractors of a later date start there again
    store = Store(artifacts)
    record_run_as_of(store, day("2024-09-04"), delivered=True)
    assert json.loads((artifacts / "run_dates.json").read_text(encoding="utf-8")) == {
        "as_of": ["2024-09-04", "2024-09-11"]}
    assert previous_run_as_of(store, day("2024-09-18")) == day("2024-09-11")
    record_run_as_of(store, day("2024-09-11"), delivered=False)
    assert previous_run_as_of(store, day("2024-09-18")) == day("2024-09-04")


def test_the_ledger_benchmark_runs_its_weeks_and_writes_both_forms(tmp_path):
    """``benchmarks/ledger_at_scale.py`` (the README's figures on the ledger's size and cost) drives the ledger's own
    functions and swaps its writer for the first, indented form; a change of those names would stop it, or leave
    both runs writing the same file, unseen until someone ran it. Three weekly runs of 200 accounts keep every
    task and alert (21 and 4 a week), the same ledger in both forms, one line against an indented one."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "ledger_at_scale.py"
    spec = importlib.util.spec_from_file_location("ledger_at_scale", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    compact, indented = tmp_path / "compact", tmp_path / "indented"
    compact.mkdir()
    indented.mkdir()
    assert bench.year(compact, 200, 3) >= 0 and bench.year(indented, 200, 3, writer=bench.indented) >= 0
    texts = [(p / LEDGER).read_text(encoding="utf-8") for p in (compact, indented)]
    ledgers = [json.loads(t) for t in texts]
    assert ledgers[0] == ledgers[1]
    assert (len(ledgers[0]["tasks"]), len(ledgers[0]["alerts"])) == (63, 12)
    assert texts[0].count("\n") == 1 and texts[1].count("\n") > 75 and len(texts[1]) > len(texts[0])
