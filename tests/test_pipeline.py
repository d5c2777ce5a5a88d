"""The pipeline in the package: stages run without Jupyter, reuse what did not change, record what failed."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from engage_models import pipeline
from engage_models._core.errors import ConfigError, InsufficientData
from engage_models.pipeline import RunConfig, open_run
from engage_models.pipeline import stages as S

RUN_DATE = "2025-01-02"


@pytest.fixture(scope="module")
def world(tmp_path_factory, small_world) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    shutil.copytree(small_world / "raw", root / "raw")
    return root


@pytest.fixture(scope="module")
def first_run(world):
    return pipeline.run({"data_dir": str(world), "run_date": RUN_DATE}, strict=True, progress=lambda m: None)


def _statuses(run) -> dict[str, str]:
    return {name: r.status for name, r in run.records.items()}


def test_the_whole_pipeline_runs_without_jupyter_and_writes_every_stage(first_run, world):
    assert _statuses(first_run) == {name: "computed" for name in S.STAGE_NAMES}
    panel = first_run.panel
    as_of = pd.Timestamp("2025-01-01", tz="UTC")  # the midnight after the last event (31 Dec 2024)
    assert first_run.as_of == as_of and panel["as_of"].max() == as_of
    scores = first_run.scores
    now = scores[scores["as_of"] == as_of]
    assert set(now["account_id"]) == set(panel.loc[panel["as_of"] == as_of, "account_id"])
    assert now["score"].between(0, 100).all() and set(now["band"]) <= {"green", "yellow", "red"}
    assert set(now.columns) >= {"drivers", "drivers_text_en", "drivers_text_ja", "churn_probability", "name", "mrr"}
    model = first_run.json("health", "model")
    assert 0 < model["thresholds"]["yellow"] <= model["thresholds"]["red"] < 1
    # the backtest's bands come from each cutoff's own model: its thresholds, chosen on its training data
    bt = first_run.frame("health", "backtest_predictions")
    learned = bt[bt["model"] == "learned"]
    assert learned["band"].isin(["green", "yellow", "red"]).all()
    plan = first_run.actions
    assert len(plan) == len(now) and plan["account_id"].is_unique
    # the action list sees the panel's metrics: the driver plays' conditions ("active_user_ratio_28d < 0.5",
    # "nps_latest <= 6"...) read them, so some accounts get a play answering their worst driver
    assert (plan["driver"] != "").any()
    assert first_run.frame("survival", "values")["ltv"].gt(0).all()
    risk = first_run.json("summary", "mrr_at_risk")
    assert set(risk) >= {"expected", "ci_low", "ci_high", "roc_auc"}
    # with the out-of-time ROC-AUC of the card it comes from, for the summary's chance caveat
    m, learned = first_run.frame("health", "backtest_metrics"), first_run.json("health", "backtest")["learned_model"]
    auc = m[(m["model"] == learned) & (m["metric"] == "roc_auc")].iloc[0]
    assert (risk["roc_auc"]["estimate"], risk["roc_auc"]["ci_low"]) == pytest.approx((auc["estimate"], auc["ci_low"]))
    for stage in S.STAGE_NAMES:  # every stage's files are where the manifest says
        art = first_run[stage]
        assert all((art.path / f).exists() for f in art.manifest["files"]), stage


def test_a_second_run_reuses_every_stage_and_a_change_recomputes_only_what_depends_on_it(first_run, world):
    again = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE}, progress=lambda m: None)
    assert _statuses(again) == {name: "reused" for name in S.STAGE_NAMES}
    assert {n: r.key for n, r in again.records.items()} == {n: r.key for n, r in first_run.records.items()}
    pd.testing.assert_frame_equal(again.scores, first_run.scores)
    japanese = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE, "lang": "ja"}, progress=lambda m: None)
    changed = {n for n, s in _statuses(japanese).items() if s == "computed"}
    assert changed == {"actions", "summary"}  # only the action list is written in the report language
    assert japanese.actions["play_label"].str.contains(r"[\u3040-\u30ff\u4e00-\u9fff]").any()
    alerts = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE, "actions": {"alert_drop": 5}},
                          progress=lambda m: None)
    assert {n for n, s in _statuses(alerts).items() if s == "computed"} == {"actions", "summary"}


def test_new_raw_data_or_processed_tables_changed_by_hand_mean_a_new_ingest(first_run, world, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(world / "raw", data / "raw")
    cfg = {"data_dir": str(data), "run_date": RUN_DATE}
    pipeline.run(cfg, until="panel", progress=lambda m: None)
    processed = data / "processed" / "accounts.parquet"
    stamp = processed.stat().st_mtime_ns
    os.utime(processed, ns=(stamp + 10**9, stamp + 10**9))  # someone ran `engage ingest` by hand since
    again = pipeline.run(cfg, until="panel", progress=lambda m: None)
    assert _statuses(again) == {"ingest": "computed", "quality": "reused", "panel": "reused"}
    raw = data / "raw" / "accounts.csv"
    raw.write_text(raw.read_text(encoding="utf-8"), encoding="utf-8")  # a new delivery of the same table
    assert pipeline.run(cfg, until="ingest", progress=lambda m: None).records["ingest"].status == "computed"


def test_until_runs_a_prefix_and_an_unknown_stage_is_refused(world):
    run = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE}, until="panel", progress=lambda m: None)
    assert list(run.records) == ["ingest", "quality", "panel"]
    with pytest.raises(ConfigError, match="unknown stage 'helth'.*ingest, quality, panel"):
        pipeline.run({"data_dir": str(world)}, until="helth")


def test_a_failing_stage_is_recorded_its_dependents_skipped_and_the_others_run(world, monkeypatch, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(world / "raw", data / "raw")

    def broken(ctx):
        raise RuntimeError("a bug in the health stage")

    def thin(ctx):
        raise InsufficientData("no NPS answer at all")

    stages = tuple(dataclasses.replace(s, run=broken if s.name == "health" else thin if s.name == "surveys" else s.run)
                   for s in S.STAGES)
    monkeypatch.setattr("engage_models.pipeline.flow.STAGES", stages)
    run = pipeline.run({"data_dir": str(data), "run_date": RUN_DATE, "survival": {"n_boot": 2}},
                       progress=lambda m: None)
    status = _statuses(run)
    assert status["health"] == "failed" and run.records["health"].kind == "error"
    assert "a bug in the health stage" in run.records["health"].reason
    assert status["surveys"] == "failed" and run.records["surveys"].kind == "insufficient_data"
    assert status["actions"] == "skipped" and "needs health" in run.records["actions"].reason
    # survival and summary can do without health: they run, and say which sections its failure cost
    assert status["survival"] == status["summary"] == status["kpis"] == status["panel"] == "computed"
    assert run["survival"].has("km_all") and not run["survival"].has("km_band")
    why = "the health stage was not computed (RuntimeError: a bug in the health stage)"
    assert run.reason("survival", "km_band") == run.reason("summary", "mrr_at_risk") == why
    assert run.reason("summary", "nps_waves").startswith("the surveys stage was not computed (no NPS answer at all")
    skipped = {(s["stage"], s["kind"]) for s in run.skipped_sections}
    assert ("health", "error") in skipped and ("surveys", "insufficient_data") in skipped
    with pytest.raises(RuntimeError, match="a bug"):  # strict: a bug is raised, not recorded
        pipeline.run({"data_dir": str(data), "run_date": RUN_DATE}, strict=True, progress=lambda m: None)


def test_on_stage_sees_the_run_after_each_stage_and_exports_it_stage_by_stage(world, tmp_path):
    """``on_stage`` gets the run as it stands after each stage (the report runner starts a report from it);
    exported with ``keep``, a stage already in the folder is left as it is (a report may be reading it) and
    run.json lists the stages so far."""
    seen, folder = [], tmp_path / "run"

    def on_stage(so_far):
        seen.append(list(so_far.records))
        so_far.export(folder, keep=True)
        assert [s["name"] for s in json.loads((folder / "run.json").read_text())["stages"]] == seen[-1]
        if len(seen) == 1:
            (folder / "artifacts" / "ingest" / "mark").write_text("read by a report")

    run = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE}, until="panel", progress=lambda m: None,
                       on_stage=on_stage)
    assert seen == [["ingest"], ["ingest", "quality"], ["ingest", "quality", "panel"]]
    assert (folder / "artifacts" / "ingest" / "mark").exists()  # kept, not exported again
    assert open_run(folder).records.keys() == run.records.keys()
    run.export(folder)  # without keep: every stage exported afresh
    assert not (folder / "artifacts" / "ingest" / "mark").exists()


def test_a_run_exported_to_a_folder_opens_again_with_the_same_artifacts(first_run, tmp_path):
    folder = first_run.export(tmp_path / "run")
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in record["stages"]] == list(S.STAGE_NAMES)
    assert record["config"]["data_dir"] == Path(first_run.config.data_dir).name  # no machine path
    opened = open_run(folder)
    pd.testing.assert_frame_equal(opened.scores, first_run.scores)
    pd.testing.assert_frame_equal(opened.panel, first_run.panel)
    assert opened.parameters["horizon_days"] == 90 and opened.lang == "en" and opened.currency == "USD"
    assert "<table>" in opened._repr_html_() and "health" in opened._repr_html_()
    km = opened.km("survival", "km_segment")
    assert km.by == "segment" and len(km.curves) and km.logrank["df"] >= 1
    with pytest.raises(FileNotFoundError, match="holds no run"):
        open_run(tmp_path)


def test_the_final_health_model_is_stored_and_loads_without_pickle(first_run):
    model = first_run.health_model
    latest = first_run.panel[first_run.panel["as_of"] == first_run.as_of].drop(columns=list(S.LABELS))
    scores = first_run.scores[first_run.scores["as_of"] == first_run.as_of]
    assert model.health_score(latest).round(9).tolist() == scores["score"].round(9).tolist()


# ------------------------------------------------------------------------------------------------- config
def test_the_configuration_is_one_object_read_from_one_file_and_checked(tmp_path):
    path = tmp_path / "engage.yaml"
    path.write_text("data_dir: data\ncurrency: JPY\nhorizon_days: 60\nhealth:\n  n_cutoffs: 4\n", encoding="utf-8")
    cfg = RunConfig.load(path, lang="ja", **{"health.n_bootstrap": 10})
    assert (cfg.currency, cfg.horizon_days, cfg.lang) == ("JPY", 60, "ja")
    assert (cfg.health.n_cutoffs, cfg.health.n_bootstrap, cfg.health.cost_ratios) == (4, 10, (9.0, 4.0))
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # what run.json records is enough to rebuild it
    assert cfg.replace(horizon_days=None) == cfg  # None: not given
    bad = [({"horizon_days": -5}, "horizon_days must be a positive"), ({"currency": "XYZ"}, "currency must be"),
           ({"health": {"n_cutofs": 3}}, "unknown setting 'health.n_cutofs'"), ({"as_of": "31/12/2024"}, "as_of"),
           ({"lang": "fr"}, "lang must be"), ({"engine": "presto"}, "unknown engine 'presto'"),
           ({"horizon_days": "ninety"}, "horizon_days: expected int"), ({"colour": "red"}, "unknown setting 'colour'"),
           ({"windows": [14, 90]}, r"windows must include 28 .* e\.g\. \[14, 28, 90\]")]
    for data, message in bad:
        with pytest.raises(ConfigError, match=message):
            RunConfig.from_dict(data)
    path.write_text("health: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'health' must be a mapping"):
        RunConfig.load(path)


def test_a_published_configuration_holds_no_path_of_the_machine(tmp_path):
    """run.json is forwarded with the reports: every path setting keeps its last part only (the model folder
    was published whole by engage run)."""
    home = tmp_path / "secret-home"
    cfg = RunConfig.from_dict({"data_dir": str(home / "data"), "model": str(home / "models" / "abc123"),
                               "personas": {"registry": str(home / "reg.json"),
                                            "milestones_file": str(home / "ms.yaml")},
                               "delivery": {"env_file": str(home / "engage.env")}})
    published = cfg.published()
    assert str(home) not in json.dumps(published) and "secret-home" not in json.dumps(published)
    assert (published["data_dir"], published["model"], published["personas"]["registry"],
            published["personas"]["milestones_file"], published["delivery"]["env_file"]) == (
        "data", "abc123", "reg.json", "ms.yaml", "engage.env")
    assert published["models_dir"] is None and cfg.to_dict()["model"] == str(home / "models" / "abc123")
    # every text setting that may hold a path is reduced (a new one must be added to the list, or named here
    # as not a path)
    import dataclasses

    not_paths = {"as_of", "run_date", "spark_master", "spark_driver_memory", "retrain", "webhook_url_env",
                 "smtp_host", "smtp_user", "smtp_password_env", "mail_from", "report_url"}

    def text_fields(obj, prefix=()):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                yield from text_fields(value, (*prefix, f.name))
            elif f.type in ("str | None", "str") and f.name not in not_paths and value in (None, ""):
                yield (*prefix, f.name)

    for where in text_fields(RunConfig()):
        data: dict = {}
        holder = data
        for part in where[:-1]:
            holder = holder.setdefault(part, {})
        holder[where[-1]] = str(home / "x.yaml")
        try:
            one = RunConfig.from_dict(data)
        except Exception:  # a setting that checks its value (a path it must find): not a free path here
            continue
        assert "secret-home" not in json.dumps(one.published()), where
    flat = {k: v for k, v in published.items() if not isinstance(v, dict)}
    assert {k: v for k, v in cfg.to_dict().items() if k in flat and k not in ("data_dir", "model")} == {
        k: v for k, v in flat.items() if k not in ("data_dir", "model")}  # nothing else changed


def test_an_observation_date_after_the_data_end_is_refused_before_any_model_runs(world, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(world / "raw", data / "raw")
    with pytest.raises(ConfigError, match="as_of 2025-03-01 is after the data end: the last event is on 2024-12-31"):
        pipeline.run({"data_dir": str(data), "as_of": "2025-03-01", "run_date": RUN_DATE}, progress=lambda m: None)
    assert not (data / "artifacts" / "panel").exists()


def test_the_learned_score_gap_is_the_run_horizon_by_construction():
    for h in (30, 90, 180):
        models = S.health_models(RunConfig(horizon_days=h))
        assert models["learned"]().gap_days == h


def _close(x, y) -> bool:
    """Equal, numbers to 1e-9 relative (linear algebra on several threads may differ in the last bits)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float):
        return x == pytest.approx(y, rel=1e-9, abs=1e-12)
    return x == y


@pytest.mark.slow
def test_the_same_data_and_parameters_give_the_same_artifacts(first_run, world, tmp_path):
    """A second computation from scratch (a copy of the data, nothing to reuse) writes the same tables and JSON."""
    data = tmp_path / "data"
    shutil.copytree(world / "raw", data / "raw")
    second = pipeline.run({"data_dir": str(data), "run_date": RUN_DATE}, strict=True, progress=lambda m: None)
    assert _statuses(second) == {name: "computed" for name in S.STAGE_NAMES}
    timing = {"seconds", "created"}  # processed.json: the processed files' modification times
    for stage in S.STAGE_NAMES:
        a, b = first_run[stage], second[stage]
        assert a.key == b.key, stage  # the same inputs, parameters and code: the same key
        assert a.manifest["files"] == b.manifest["files"], stage
        for name in a.manifest["files"]:
            if name.endswith(".parquet") and "/" not in name:
                pd.testing.assert_frame_equal(*(f.frame(name[:-8]).drop(columns=list(IDS), errors="ignore")
                                                for f in (a, b)), obj=f"{stage}/{name}")
            elif name.endswith(".json") and not name.endswith(".attrs.json") and name != "processed.json":
                x, y = (_without(f.json(name[:-5]), timing | IDS) for f in (a, b))
                assert _close(x, y), f"{stage}/{name}: {x} != {y}"


#: A model's id hashes its exact numbers: recomputed from scratch, the panel's parallel sums can change the last
#: bits of a coefficient (equal to 1e-9 above), and the recomputed model is then, rightly, another model.
IDS = {"model_id", "files", "old_model"}


def _without(x, keys: set):
    if isinstance(x, dict):
        return {k: _without(v, keys) for k, v in x.items() if k not in keys}
    if isinstance(x, list):
        return [_without(v, keys) for v in x]
    return x


def test_every_stage_reads_only_stages_that_run_before_it():
    """Data move forward only: a stage's inputs (needed or optional) are all earlier in the run's order."""
    from engage_models.pipeline.stages import STAGE_NAMES, STAGES

    for i, st in enumerate(STAGES):
        later = (set(st.needs) | set(st.uses)) - set(STAGE_NAMES[:i])
        assert not later, f"{st.name} reads {sorted(later)}, which run after it"
    assert STAGE_NAMES[-1] == "summary"


def test_the_health_stage_fits_on_a_sample_scores_everyone_and_says_so(first_run, world):
    """Only health is recomputed (its parameters changed): its models see 120 accounts, everyone is scored."""
    run = pipeline.run({"data_dir": str(world), "run_date": "2025-01-02", "health": {"max_fit_accounts": 120}},
                       until="health", strict=True, progress=lambda m: None)
    model = run["health"].json("model")
    accounts = run.panel["account_id"].nunique()
    assert model["fit_sample"]["sampled"] and model["fit_sample"]["fitted_on"] == 120
    assert model["fit_sample"]["accounts"] > 120
    backtest = run["health"].json("backtest")
    assert backtest["fit_sample"] == model["fit_sample"]
    # the learned score's ICI beside a calibrated score's, on the backtest's rows
    assert backtest["calibration"]["rows"] == backtest["rows"] and backtest["calibration"]["q95"] > 0
    latest = run.scores[run.scores["as_of"] == run.scores["as_of"].max()]
    assert latest["account_id"].nunique() == run.panel.loc[run.panel["as_of"] == run.panel["as_of"].max(),
                                                           "account_id"].nunique()
    assert model["n_train"] < len(run.panel) and accounts > 120
    with pytest.raises(ConfigError, match="max_fit_accounts"):
        RunConfig.from_dict({"health": {"max_fit_accounts": 5}})


def test_a_shape_card_that_fails_in_the_backtest_leaves_the_linear_card_and_says_why(first_run, world, monkeypatch):
    """With health.score auto the shape card is the alternative: its failure on odd data must not cost the run
    its health score (one process, so the broken fit is the one the backtest calls)."""
    from engage_models.health import ShapeScore

    def broken(self, X, y):
        raise ValueError("a shape learner that cannot fit")

    monkeypatch.setattr(ShapeScore, "fit", broken)
    run = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE, "health": {"n_jobs": 1, "metric_bootstrap": 20}},
                       until="health", strict=True, progress=lambda m: None)
    model = run["health"].json("model")
    assert run.records["health"].status == "computed" and model["form"] == "linear"
    assert model["chosen_by"]["failed"]["shape"].startswith("ValueError: a shape learner that cannot fit")
    assert "shape" not in set(run["health"].frame("backtest_metrics")["model"])
    skipped = {(s["stage"], s["section"], s["kind"]) for s in run.skipped_sections}
    assert ("health", "backtest_shape", "error") in skipped
    # report 04 names the metrics behind a feature labelled "... and 2 related metrics" (it named none)
    from engage_models.health import views as hv

    card = run["health"].frame("scorecard")
    groups = model["grouped_metrics"]
    assert groups, "the pipeline world's panel has metrics that correlate at 0.8 or more"
    for lang in ("en", "ja"):
        note = hv.grouped_note(model, card, lang)
        assert note.count("\n\n") == len(groups) - 1
        for feature, members in groups.items():
            label = card.loc[card["feature"] == feature, f"label_{lang}"].item()
            assert str(len(members) - 1) in label and members[0]["column"] == feature
            assert all(m["column"].replace("_", "&#95;") in note for m in members)


def test_survey_drivers_of_a_large_company_come_from_a_sample_of_its_accounts(first_run, world):
    """Only surveys is recomputed: its drivers see the answers of 100 accounts, and the stage says so."""
    run = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE, "surveys": {"max_driver_accounts": 100}},
                       until="surveys", strict=True, progress=lambda m: None)
    assert run.records["surveys"].status == "computed" and run.records["panel"].status == "reused"
    note = run["surveys"].json("drivers_sample")
    assert note["sampled"] and note["fitted_on"] == 100 and note["accounts"] > 100
    assert run["surveys"].frame("drivers")["accounts"].max() <= 100
    assert not first_run["surveys"].json("drivers_sample")["sampled"]  # the default: every account of a small one
    with pytest.raises(ConfigError, match="max_driver_accounts"):
        RunConfig.from_dict({"surveys": {"max_driver_accounts": 3}})


@pytest.mark.parametrize("command", [["pipeline"], ["train"], ["score", "--model", "models"]])
def test_a_mistyped_data_folder_stops_every_command_and_is_not_made(tmp_path, command, capsys):
    """Only engage run refused a --data-dir that does not exist; pipeline, train and score made its artifacts
    folder and then said "accounts: no file for this required table" (a new user's run of the README)."""
    from engage_models.cli import main

    missing = tmp_path / "dta"
    assert main([*command, "--data-dir", str(missing)]) == 2
    assert f"data folder {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists()
    with pytest.raises(ConfigError, match="does not exist"):
        pipeline.run(data_dir=str(missing))
    assert not missing.exists()


def test_a_mistaken_playbook_stops_the_run_before_ingest(tmp_path):
    """A playbook with a typo was found by the actions stage, after ingest, the panel, the health score and survival
    (26 s on a 300-account world, longer on a company's data)."""
    import yaml

    from engage_models.actions import DEFAULT_PLAYBOOK
    from engage_models.actions.playbook import PlaybookError

    book = yaml.safe_load(Path(DEFAULT_PLAYBOOK).read_text(encoding="utf-8"))
    book["plays"]["drivers"][1]["owner"] = "suport"
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(book, allow_unicode=True), encoding="utf-8")
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    with pytest.raises(PlaybookError, match=r"unknown owner 'suport'"):
        pipeline.run(data_dir=str(data), actions={"playbook": str(path)})
    assert not (data / "artifacts").exists()  # nothing ran
    from engage_models.ingest import IngestError

    with pytest.raises(IngestError, match="accounts: no file"):  # a run without the actions stage: not read
        pipeline.run(data_dir=str(data), until="ingest", actions={"playbook": str(path)})


def test_a_playbook_counts_by_its_content_and_the_reports_read_its_labels_from_the_run(first_run, world, tmp_path):
    """The actions stage's key held the playbook's path only (edited in place, the old labels and plays were
    reused), its manifest held the machine's path, and report 06 loaded the playbook again by its bare name from
    the folder the report was made in (another file's labels, or none)."""
    import yaml

    from engage_models.actions import DEFAULT_PLAYBOOK
    from engage_models.effects.views import play_label, run_play_labels

    book = yaml.safe_load(Path(DEFAULT_PLAYBOOK).read_text(encoding="utf-8"))
    play = book["plays"]["drivers"][0]
    path = tmp_path / "our_playbook.yaml"

    def run_with(label):
        play["label"] = {"en": label, "ja": label}
        path.write_text(yaml.safe_dump(book, allow_unicode=True), encoding="utf-8")
        return pipeline.run({"data_dir": str(world), "run_date": RUN_DATE, "actions": {"playbook": str(path)}},
                            until="actions", strict=True, progress=lambda m: None)

    first = run_with("Our first label")
    assert first.records["actions"].status == "computed" and first.records["health"].status == "reused"
    manifest = (first["actions"].path / "manifest.json").read_text(encoding="utf-8")
    assert '"playbook": "our_playbook.yaml"' in manifest and str(tmp_path) not in manifest
    labels = run_play_labels(first)
    assert play_label(play["id"], "en", labels) == "Our first label"
    second = run_with("Our second label")  # the same path, edited
    assert second.records["actions"].status == "computed" and second["actions"].key != first["actions"].key
    assert play_label(play["id"], "ja", run_play_labels(second)) == "Our second label"
    assert play_label("no_such_play", "en", labels) == "no_such_play"


def test_a_mistaken_hand_card_stops_the_run_before_ingest_and_a_missing_metric_leaves_only_the_card_out(
        first_run, world, tmp_path):
    """A vendor card with a mistake stopped the health stage with three tracebacks, after ingest and the panel
    ("not enough values to unpack", naming neither file nor entry), and everything after it with it; some
    mistakes passed silently (thresholds listed the wrong way round scored every account 0). The card is checked
    before ingest; a metric the panel lacks (known only then) leaves the card out of the backtest, with why."""
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    cases = {
        "metrics:\n  - {metric: logins_28d, weight: 1, thresholds: [[3]]}\n":
            r"card.yaml: metrics\[0\] \(logins_28d\): thresholds\[0\] must be a \[value, points\] pair",
        "metrics:\n  - {metric: logins_28d, weight: 1, thresholds: [[0, 0], [3, 5], [11, 10]]}\n":
            r"thresholds\[1\] \[3, 5\] can never apply after \[0, 0\]: .* from the highest value down",
        "metrics:\n  - {metric: logins_28d, weight: 1, thresholds: [[11, 500]]}\n": "gives 500 points: points lie",
        "metrics:\n  - {metric: a, weight: 1, thresholds: [[1, 1]]}\n  - {metric: a, weight: 2, thresholds: "
        "[[1, 1]]}\n": r"metrics\[1\] repeats metric 'a' of metrics\[0\]",
        "metrics:\n  - {metric: a, weight: 1, ranges: [[1, 1]]}\n": r"needs \['metric', 'thresholds', 'weight'\]",
        "metrics: [": "is not valid YAML",
    }
    for text, message in cases.items():
        card = tmp_path / "card.yaml"
        card.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            pipeline.run(data_dir=str(data), health={"hand_scorecard": str(card)})
        assert not (data / "artifacts").exists()  # nothing ran
    with pytest.raises(ConfigError, match="cannot read scorecard nowhere.yaml"):
        pipeline.run(data_dir=str(data), health={"hand_scorecard": str(tmp_path / "nowhere.yaml")})

    card = tmp_path / "vendor.yaml"
    card.write_text("metrics:\n  - {metric: logins_28days, weight: 1, thresholds: [[10, 100], [0, 0]]}\n",
                    encoding="utf-8")
    run = pipeline.run({"data_dir": str(world), "run_date": RUN_DATE,
                        "health": {"n_jobs": 1, "metric_bootstrap": 20, "hand_scorecard": str(card)}},
                       until="health", strict=True, progress=lambda m: None)
    assert run.records["health"].status == "computed"
    assert "hand" not in set(run["health"].frame("backtest_metrics")["model"])
    assert run["health"].json("backtest")["learned_vs_hand"] is None
    why = {s["section"]: (s["reason"], s["kind"]) for s in run.skipped_sections if s["stage"] == "health"}
    assert why["backtest_hand"] == ("the hand-weighted card is left out of the backtest: vendor.yaml: metric not "
                                    "in the data: ['logins_28days'] (X has " + why["backtest_hand"][0].split(
                                        "(X has ", 1)[1], "skipped")
    assert run["health"].reason("backtest_hand", "ja").startswith(
        "手動で重み付けしたスコアカードはバックテストから除外しました")


def test_detractor_alerts_start_where_the_data_folder_s_previous_run_ended(small_world, tmp_path):
    """A year of weekly runs: 138 of 391 detractor alerts repeated the previous run's (each week listed the
    answers since the month's start, or since the month before). The actions stage now starts them at the
    observation date of the folder's previous run that made an action list; a run again on the same date, or a
    backfill, does not count the runs after it."""
    shutil.copytree(small_world / "raw", tmp_path / "raw")
    light = {"health": {"n_cutoffs": 1, "n_bootstrap": 0, "metric_bootstrap": 20}, "run_date": RUN_DATE,
             "data_dir": str(tmp_path)}

    def run(as_of):
        return pipeline.run({**light, "as_of": as_of}, until="actions", strict=True, progress=lambda m: None)

    def since(result):
        return result["actions"].manifest["params"]["actions"]["alerts_since"]

    first = run("2024-11-20")
    assert since(first) is None  # no run before on this folder
    second = run("2024-11-27")
    assert since(second) == "2024-11-20"
    alerts = second.frame("actions", "detractor_alerts")
    assert alerts.empty or (pd.to_datetime(alerts["submitted_at"], utc=True) > pd.Timestamp("2024-11-20",
                                                                                              tz="UTC")).all()
    again = run("2024-11-27")  # the same date again: the same alerts, read back
    assert since(again) == "2024-11-20" and again.records["actions"].status == "reused"
    backfill = run("2024-11-22")
    assert since(backfill) == "2024-11-20"
    assert json.loads((tmp_path / "artifacts" / "run_dates.json").read_text())["as_of"] == [
        "2024-11-20", "2024-11-22", "2024-11-27"]
    with pytest.raises(ConfigError, match="actions.alerts_since must be a date YYYY-MM-DD"):
        RunConfig.from_dict({"actions": {"alerts_since": "2024-13-01"}}).check()


def test_a_backtest_model_of_one_value_on_a_tiny_world_has_no_ranking_and_says_why(tmp_path):
    """24 accounts over 5 months, a 30-day horizon: the backtest's one cutoff fits its models on 21 rows, and
    gradient boosting (and the shape card) predicted one value for every account there. Report 04 showed it at
    ROC-AUC 0.500 (0.500 to 0.500), as if measured; now its ranking metrics are missing, the backtest says why
    (as ``engage fit`` does) and the table and report say "not computed", in both languages."""
    from edge_worlds import make_world
    from engage_models.health import evaluation
    from engage_models.health import views as hv

    root = tmp_path / "tiny"
    make_world(root, "plain", 24, 5, 5)
    run = pipeline.run({"data_dir": str(root), "run_date": "2030-01-01", "horizon_days": 30,
                        "health": {"n_bootstrap": 3, "metric_bootstrap": 20, "n_jobs": 1, "min_churners": 3}},
                       until="health", strict=True, progress=lambda m: None)
    bt = run["health"].json("backtest")
    summary = run["health"].frame("backtest_metrics")
    flat = bt["one_value"]
    assert flat["gbm"]["all"] and flat["gbm"]["cutoffs"] == [1] and flat["gbm"]["of"] == len(bt["cutoffs"]) == 1
    assert flat["gbm"]["reason"].startswith("predicted one value for every row in the cutoff (fitted on 21 rows: "
                                            "too few rows to learn from)")
    gbm = summary[summary["model"] == "gbm"].set_index("metric")
    assert gbm.loc[["roc_auc", "pr_auc", "lift_top_decile"], ["estimate", "ci_low", "ci_high"]].isna().all().all()
    assert gbm.loc["brier", "estimate"] > 0  # its probabilities are still scored
    learned = summary.query("model == 'learned' and metric == 'roc_auc'")["estimate"].iloc[0]
    assert 0 < learned < 1 and "learned" not in flat
    model = run["health"].json("model")
    # whether the shape card too predicts one value on 21 rows depends on the machine's floating point (flat on
    # most; 0.6 on an AMD EPYC): either way a card of one value has a null ROC-AUC, no paired difference, and
    # does not win
    flat_shape = "shape" in flat and flat["shape"]["all"]
    assert (model["chosen_by"]["auc"]["shape"] is None) == flat_shape
    if flat_shape:
        assert model["form"] == "linear" and "shape_vs_linear" not in model["chosen_by"]
        assert hv.choice_text(model).startswith(
            f"This run uses **the linear card (weights on transformed metrics)** (backtest ROC-AUC {learned:.3f}): "
            "the other card predicted one value for every account in the backtest")
    view = evaluation.summary_view(summary, "en", one_value=flat).set_index("model")
    assert view.loc["gradient boosting", "ROC-AUC"] == "not computed: one value"
    assert "0.500" not in view.loc["gradient boosting"].to_string()
    text = evaluation.one_value_text(flat, "ja")
    assert "**勾配ブースティング**は1時点で全顧客に同じ値を予測しました" in text
    diff = bt["learned_vs_hand"]
    assert "has no ROC-AUC (it predicted one value, below)" in hv.compare_text(diff, float("nan"), learned)


def test_a_model_trained_in_this_run_is_told_by_the_lifecycles_one_rule_of_dates():
    """The monitoring stage's "trained in this run" compared the card's cutoff and the observation date on its own;
    it is the lifecycle's rule (``saw_later``): the cutoff not before the observation date, as moments in UTC."""
    from engage_models.pipeline.stages import _trained_now

    as_of = "2025-03-01"
    assert _trained_now({"cutoff": "2025-03-01"}, as_of)
    assert _trained_now({"cutoff": "2025-03-01T09:00:00+09:00"}, as_of)  # the same moment, written in Tokyo
    assert not _trained_now({"cutoff": "2025-02-28T23:00:00Z"}, as_of)  # an hour before: an older model
    assert not _trained_now({"cutoff": "2025-03-01", "frozen": True}, as_of)  # scored with a frozen model
    assert not _trained_now({}, as_of) and not _trained_now({"cutoff": None}, as_of)
