"""Scores in production: model folders named by their content, scoring without refitting, the retrain policy."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from engage_models import pipeline
from engage_models._core.errors import ConfigError, DataError
from engage_models.actions.export import read_actions
from engage_models.cli import main
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.features.panel import default_panel
from engage_models.health import HealthScore, ShapeScore
from engage_models.health.model_io import load_model, save_model
from engage_models.ingest import ingest
from engage_models.lifecycle import ModelStore, decide, load_frozen, save_frozen
from engage_models.lifecycle import frozen as frozen_module
from engage_models.lifecycle.frozen import check_run_settings, check_versions, library_versions, verify_frozen

LABELS = ["churned_within_h", "duration_days", "event"]
H = 90
RUN_DATE = "2025-01-02"
#: The cheapest settings that still run every part of the health stage.
FAST = {"health": {"n_bootstrap": 0, "metric_bootstrap": 20, "n_cutoffs": 1, "history_dates": 2},
        "survival": {"n_boot": 3}}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """150 accounts over 2024 (the data end on 31 Dec 2024), ingested."""
    root = tmp_path_factory.mktemp("lifecycle")
    simulate(SimConfig(n_accounts=150, months=12, seed=3), out=root / "raw")
    ingest(root / "raw", root / "processed")
    return root


@pytest.fixture(scope="module")
def panel(world) -> pd.DataFrame:
    return default_panel(world / "processed", pd.Timestamp("2025-01-01", tz="UTC"), horizon_days=H)


def _training_rows(panel: pd.DataFrame) -> pd.DataFrame:
    return panel[panel["churned_within_h"].notna() & (panel["as_of"] + pd.Timedelta(days=H) <= panel["as_of"].max())]


@pytest.fixture(scope="module", params=["linear", "shape"])
def fitted(request, panel):
    rows = _training_rows(panel)
    cls = HealthScore if request.param == "linear" else ShapeScore
    model = cls(gap_days=H, n_bootstrap=0, random_state=0).fit(rows.drop(columns=LABELS),
                                                               rows["churned_within_h"].astype(int))
    return request.param, model, rows


def _info(form: str, model, cutoff="2025-01-01", label=None) -> dict:
    card = model.scorecard("en")
    if label is not None:
        card.loc[0, "label"] = label
    return {"form": form, "horizon_days": H, "cutoff": pd.Timestamp(cutoff, tz="UTC"),
            "thresholds": {"yellow": model.thresholds_[0], "red": model.thresholds_[1]},
            "scorecard": card.to_dict("records"),
            "backtest": [{"model": "learned", "metric": "roc_auc", "estimate": 0.71, "ci_low": 0.64, "ci_high": 0.78}]}


# ------------------------------------------------------------------------------------------ the model folder
def test_a_saved_and_loaded_model_scores_bit_identically_and_names_itself_by_its_content(fitted, panel, tmp_path):
    form, model, rows = fitted
    folder = save_frozen(model, tmp_path / "models", panel_rows=rows, info=_info(form, model, label="<b>x</b> & y"))
    assert sorted(p.name for p in folder.iterdir()) == ["card.html", "card.json", "model.skops", "reference.parquet"]
    frozen = load_frozen(folder)
    assert frozen.model_id == folder.name == frozen.card["model_id"]
    X = panel.drop(columns=LABELS)
    assert np.array_equal(frozen.model.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(frozen.model.health_score(X).to_numpy(), model.health_score(X).to_numpy())
    assert np.array_equal(frozen.model.bands(X).to_numpy(), model.bands(X).to_numpy())
    card = frozen.card
    # what the card says is what the rows say, counted by hand
    assert card["training"]["rows"] == len(rows)
    assert card["training"]["accounts"] == rows["account_id"].nunique()
    assert card["training"]["churners"] == rows.loc[rows["churned_within_h"] == 1, "account_id"].nunique()
    assert pd.Timestamp(card["training"]["last_as_of"]) == rows["as_of"].max()
    assert card["horizon_days"] == H and card["form"] == form
    assert set(card["versions"]) >= {"engage_models", "scikit-learn", "numpy", "pandas", "skops"}
    assert ("interpret-core" in card["versions"]) == (form == "shape")
    assert [f["name"] for f in card["features"]] == model.metrics_ + model.categorical_
    # the reference rows: ids, dates, the model's features and the label, nothing else
    ref = frozen.reference
    assert list(ref.columns) == ["account_id", "as_of", *frozen.features, "churned_within_h"]
    assert len(ref) == len(rows)
    # the page: escaped text, no machine path
    page = (folder / "card.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in page and "<b>x</b>" not in page
    assert str(tmp_path) not in page and frozen.model_id in page
    # the same model saved again (elsewhere, later) has the same id: the id is its content, not the write time
    assert save_frozen(model, tmp_path / "again", panel_rows=rows, info=_info(form, model, label="<b>x</b> & y")
                       ).name == frozen.model_id
    # the build of the package that trained it: the stage keys' hash of the source files, not part of the id
    from engage_models.lifecycle.frozen import model_id_of
    from engage_models.pipeline.store import code_version

    assert card["code"] == code_version() and f"<td>{code_version()}</td>" in page
    assert model_id_of({**card, "code": "0" * 16}) == frozen.model_id


def test_a_model_refuses_a_panel_it_cannot_score_and_a_changed_file(fitted, panel, tmp_path):
    form, model, rows = fitted
    folder = save_frozen(model, tmp_path, panel_rows=rows, info=_info(form, model))
    frozen = load_frozen(folder)
    frozen.check(panel, H)  # the panel it was trained on passes
    gone = frozen.features[1]
    with pytest.raises(DataError, match=gone):
        frozen.check(panel.drop(columns=[gone]), H)
    with pytest.raises(ConfigError, match="90-day churn horizon; this run asks for 60"):
        frozen.check(panel, 60)
    # a model.skops changed after saving (other thresholds: every band would move) is refused
    tampered = load_model(folder / "model.skops")
    tampered.thresholds_ = (0.01, 0.02)
    save_model(tampered, folder / "model.skops")
    with pytest.raises(DataError, match="does not match the hash"):
        load_frozen(folder)


def test_levels_the_model_never_saw_are_counted_by_account_and_said(fitted, panel, tmp_path, caplog):
    """30 new accounts on a new plan (and 10 moved to it) were scored without a word: their plan counts for
    nothing in the score."""
    form, model, rows = fitted
    frozen = load_frozen(save_frozen(model, tmp_path, panel_rows=rows, info=_info(form, model)))
    categorical = [f["name"] for f in frozen.card["features"] if f["kind"] == "categorical"]
    assert "plan" in categorical, categorical
    latest = panel[panel["as_of"] == panel["as_of"].max()].copy()
    assert frozen.unseen_levels(latest) == {}
    moved = latest["account_id"].drop_duplicates().iloc[:10]
    latest["plan"] = latest["plan"].astype(object)
    latest.loc[latest["account_id"].isin(moved), "plan"] = "Platinum"
    latest.loc[latest["account_id"] == moved.iloc[0], "plan"] = "Diamond"
    assert frozen.unseen_levels(latest) == {"plan": {"Platinum": 9, "Diamond": 1}}


def test_a_feature_at_one_value_for_every_account_where_training_rows_spread_is_found(fitted, panel, tmp_path):
    """A month's export without events' duration_s (or with it renamed) gave every account 0 usage hours, and the
    frozen model scored them all on it without a word. An off-month's 0 the model also saw, or a few accounts
    without a ticket, are not a broken feed."""
    form, model, rows = fitted
    frozen = load_frozen(save_frozen(model, tmp_path, panel_rows=rows, info=_info(form, model)))
    latest = panel[panel["as_of"] == panel["as_of"].max()].copy()
    assert frozen.blank_features(latest) == {}
    feature = next(f for f in frozen.features if f.startswith("usage_hours"))
    broken = latest.assign(**{feature: 0.0})
    found = frozen.blank_features(broken)
    assert list(found) == [feature]
    assert found[feature]["value"] == 0 and found[feature]["accounts"] == latest["account_id"].nunique()
    assert found[feature]["dates"] == [latest["as_of"].max()]
    zero_share = (rows[feature] == 0).groupby(rows["as_of"]).mean().max()
    assert found[feature]["training_share"] == pytest.approx(zero_share) and zero_share < 0.5
    # empty for everyone (a table gone from the export) is found too
    assert list(frozen.blank_features(latest.assign(**{feature: np.nan}))) == [feature]
    # a value most training rows of one date had, for everyone: as likely as a month the model saw
    common = rows.assign(**{feature: 0.0, "as_of": rows["as_of"].min()})
    usual = load_frozen(save_frozen(model, tmp_path / "usual", panel_rows=pd.concat([rows, common]),
                                    info=_info(form, model)))
    assert usual.blank_features(broken) == {}
    # three accounts all at 0: nothing unusual
    assert frozen.blank_features(broken[broken["account_id"].isin(broken["account_id"].iloc[:3])]) == {}
    # a date before the first training date is not judged: the data's first months had no NPS answer yet (a run
    # with --as-of 2024-03-01 was stopped as if the export had lost a column)
    early = broken.assign(as_of=rows["as_of"].min() - pd.Timedelta(days=31))
    assert frozen.blank_features(early) == {}
    # nor a date off the training rows' calendar: a weekly run's 28-day window on the 10th missed the monthly
    # newsletter for every account, and the run was stopped as if the export had lost a column
    assert frozen.blank_features(broken.assign(as_of=broken["as_of"] + pd.Timedelta(days=9))) == {}
    # a date of one account holds "one value for every account" whatever it is: a usage never seen exactly in
    # training stopped the run (a review found it)
    assert frozen.blank_features(latest.iloc[:1].assign(**{feature: 12.3456789})) == {}
    # a count stored as int in training and as float today (one missing value makes the panel's column float) is
    # the same number: compared as text, "0" and "0.0" differed and a healthy date of zeros was a broken feed
    counts = next((f for f in frozen.features if pd.api.types.is_numeric_dtype(rows[f])
                   and ((rows[f] == 0).groupby(rows["as_of"]).mean().max() > 0.9)), None)
    if counts is not None:
        as_int = rows.assign(**{counts: rows[counts].round().astype("Int64")})
        typed = load_frozen(save_frozen(model, tmp_path / "int", panel_rows=as_int, info=_info(form, model)))
        assert typed.blank_features(latest.assign(**{counts: 0.0})) == {}
    from engage_models.lifecycle.frozen import _same

    assert _same(pd.Series([0, 1, 0]), 0.0).tolist() == [True, False, True]
    assert _same(pd.Series(["0", "a"]), "0").tolist() == [True, False]


def test_a_card_names_the_calendar_its_panel_was_counted_on(fitted, tmp_path):
    form, model, rows = fitted
    utc = save_frozen(model, tmp_path / "a", panel_rows=rows, info={**_info(form, model), "timezone": "UTC"})
    plain = save_frozen(model, tmp_path / "b", panel_rows=rows, info=_info(form, model))
    tokyo = save_frozen(model, tmp_path / "c", panel_rows=rows, info={**_info(form, model), "timezone": "Asia/Tokyo"})
    assert utc.name == plain.name and verify_frozen(utc)["timezone"] == "UTC"
    assert tokyo.name != utc.name and verify_frozen(tokyo)["timezone"] == "Asia/Tokyo"
    card = verify_frozen(tokyo)
    check_run_settings(card, H, (28, 90), "Asia/Tokyo")
    with pytest.raises(ConfigError, match="trained on the calendar of Asia/Tokyo; this run counts days and months "
                                          "in UTC"):
        check_run_settings(card, H, (28, 90), "UTC")
    # a layout-1 card without a calendar: UTC, or a model of the versions that recorded none. It was read as
    # UTC: a Tokyo model of those versions was refused on its own calendar with "trained on the calendar of UTC"
    old = {k: v for k, v in card.items() if k not in ("timezone", "definitions")} | {"card_version": 1}
    check_run_settings(old, H, (28, 90), "UTC")
    with pytest.raises(ConfigError, match="does not say which calendar it was trained on .* train a new model on "
                                          "Asia/Tokyo"):
        check_run_settings(old, H, (28, 90), "Asia/Tokyo")


def test_a_model_is_not_scored_on_metrics_computed_otherwise_than_when_it_was_trained(fitted, tmp_path, caplog):
    """An upgrade that redefined dau_mau (its window moved from 14 to 28 days in a panel of 14, 28 and 90) scored
    older models on the new numbers without a word: 4 of 223 bands moved, and monitoring read the change as drift.
    A card keeps each metric's definition digest; a changed one is refused, naming the metrics."""
    from engage_models.features import metrics as M

    form, model, rows = fitted
    card = verify_frozen(save_frozen(model, tmp_path / "m", panel_rows=rows, info=_info(form, model)))
    numeric = [f["name"] for f in card["features"] if f["kind"] == "numeric"]
    assert sorted(card["definitions"]) == sorted(c for c in numeric if c in M.expand(M.windows_for((28, 90))))
    check_run_settings(card, H, (28, 90))
    redefined = {**card, "definitions": {**card["definitions"], numeric[0]: "0" * 16}}
    with pytest.raises(ConfigError, match=rf"computes otherwise \({numeric[0]}: their definitions changed"):
        check_run_settings(redefined, H, (28, 90))
    # the change window: dau_mau is on 28 days in a panel of (28, 90) and of (14, 28, 90), on 14 days without 28
    on_28 = M.definition_digests(["dau_mau", "logins_28d"], (28, 90))
    assert on_28 == M.definition_digests(["dau_mau", "logins_28d"], (14, 28, 90))
    assert M.definition_digests(["dau_mau"], (14, 90)) != {"dau_mau": on_28["dau_mau"]}
    with_dau = {**card, "features": [{"name": "dau_mau", "kind": "numeric"}],
                "definitions": {"dau_mau": on_28["dau_mau"]}}
    check_run_settings(with_dau, H, (14, 28, 90))
    with pytest.raises(ConfigError, match=r"\(dau_mau: .*windows \[14, 90\] give them another window"):
        check_run_settings(with_dau, H, (14, 90))
    # a card written before definitions were kept: scored, with a warning (once) that nothing shows a change
    old = {k: v for k, v in card.items() if k != "definitions"} | {"model_id": f"old-{form}-model"}
    frozen_module._warned_definitions.pop(old["model_id"], None)  # said once a process: a rerun says it again
    with caplog.at_level("WARNING"):
        check_run_settings(old, H, (28, 90))
        check_run_settings(old, H, (28, 90))
    said = [r.getMessage() for r in caplog.records if "did not record how its metrics were computed" in r.getMessage()]
    assert len(said) == 1 and f"old-{form}-model" in said[0]


def test_a_damaged_model_folder_is_refused_with_the_file_it_names(fitted, tmp_path):
    """Each file of a model folder truncated, changed or gone: a one-line error naming the folder and the file
    (a truncated card.json raised a JSONDecodeError with its traceback; a changed reference was used)."""
    form, model, rows = fitted
    good = save_frozen(model, tmp_path / "good", panel_rows=rows, info=_info(form, model))
    assert verify_frozen(good)["model_id"] == good.name

    def damaged(name: str, change) -> Path:
        folder = tmp_path / name
        shutil.copytree(good, folder)
        change(folder)
        return folder

    card = (good / "card.json").read_text(encoding="utf-8")
    cases = {
        "card.json is not readable JSON": lambda f: (f / "card.json").write_text(card[:40], encoding="utf-8"),
        "missing reference.parquet": lambda f: (f / "reference.parquet").unlink(),
        "reference.parquet does not match the hash": lambda f: pd.read_parquet(f / "reference.parquet").iloc[1:]
        .to_parquet(f / "reference.parquet"),
        "not a readable skops model file": lambda f: (f / "model.skops").write_bytes(
            (good / "model.skops").read_bytes()[:-50]),
        "card.json does not match its model id": lambda f: (f / "card.json").write_text(
            card.replace('"horizon_days": 90', '"horizon_days": 60'), encoding="utf-8"),
        # a hand-edited layout number: a ValueError traceback from int('x')
        "card_version is 'x', not a whole number": lambda f: (f / "card.json").write_text(
            re.sub(r'"card_version": \d+', '"card_version": "x"', card), encoding="utf-8"),
    }
    for i, (message, change) in enumerate(cases.items()):
        folder = damaged(f"bad{i}", change)
        for check in (verify_frozen, load_frozen):
            with pytest.raises(DataError, match=message) as info:
                check(folder)
            assert folder.name in str(info.value) or good.name in str(info.value), str(info.value)


def test_another_major_version_or_scikit_learn_minor_version_is_a_clear_error(fitted, tmp_path):
    form, model, rows = fitted
    card = load_frozen(save_frozen(model, tmp_path, panel_rows=rows, info=_info(form, model))).card
    now = library_versions(form)
    check_versions(card, now)  # this environment reads its own models
    patch = now["scikit-learn"].rsplit(".", 1)[0] + ".99"
    check_versions(card, {**now, "scikit-learn": patch})  # a patch release reads them too
    major, minor = now["scikit-learn"].split(".")[:2]
    with pytest.raises(ConfigError, match="not compatible across scikit-learn minor versions"):
        check_versions(card, {**now, "scikit-learn": f"{major}.{int(minor) + 1}.0"})
    with pytest.raises(ConfigError, match="another major version"):
        check_versions(card, {**now, "engage_models": f"{int(now['engage_models'].split('.')[0]) + 1}.0.0"})
    if form == "shape":  # the boosting machine inside a shape card: interpret-core's minor version too
        major, minor = now["interpret-core"].split(".")[:2]
        check_versions(card, {**now, "interpret-core": f"{major}.{minor}.99"})
        with pytest.raises(ConfigError, match="interpret-core"):
            check_versions(card, {**now, "interpret-core": f"{major}.{int(minor) + 1}.0"})
    else:
        assert "interpret-core" not in card["versions"]


# ------------------------------------------------------------------------------------------ the retrain policy
def test_the_policies_decide_by_the_current_models_cutoff_month(fitted, tmp_path):
    form, model, rows = fitted
    store = ModelStore(tmp_path / "models")
    nov = pd.Timestamp("2024-11-15", tz="UTC")
    for policy in ("never", "monthly"):  # no current model: both train
        assert decide(policy, store, as_of=nov)["action"] == "train"
    old = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-11-01")).name
    store.set_current(old, "test")
    same_month = decide("monthly", store, as_of=nov)
    assert (same_month["action"], same_month["model_id"]) == ("score", old)
    later = decide("monthly", store, as_of=pd.Timestamp("2024-12-01", tz="UTC"))
    assert later["action"] == "train" and later["reasons"][0]["kind"] == "age" and "2024-11-01" in later["reason"]
    assert decide("never", store, as_of=pd.Timestamp("2025-06-01", tz="UTC"))["action"] == "score"
    # a current model this run cannot score with: replaced under monthly and on-drift, refused under never
    run = {"as_of": nov, "horizon_days": H, "windows": (28, 90)}
    assert decide("monthly", store, **run)["action"] == "score"
    for other in ({"horizon_days": 60}, {"windows": (28,)}, {"timezone": "Asia/Tokyo"}):
        moved = decide("monthly", store, **{**run, **other})
        assert moved["action"] == "train" and moved["reasons"][0]["kind"] == "settings", other
        with pytest.raises(ConfigError, match="horizon|windows|calendar"):
            decide("never", store, **{**run, **other})
    with pytest.raises(ConfigError, match="retrain must be one of"):
        decide("weekly", store, as_of=nov)
    # a new current model keeps the old one, and the pointer's history says why it moved
    new = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-12-01")).name
    store.set_current(new, later["reason"])
    assert store.current_id() == new and set(store.ids()) == {old, new}
    moves = [json.loads(line) for line in (store.root / "history.jsonl").read_text().splitlines()]
    assert [(m["from"], m["to"]) for m in moves] == [(None, old), (old, new)]
    # made current again (engage train after the run that trained it): the pointer still names the one before
    store.set_current(new, "again")
    pointer = json.loads(store.pointer.read_text())
    assert (pointer["model_id"], pointer["previous"], pointer["reason"]) == (new, old, later["reason"])
    assert len((store.root / "history.jsonl").read_text().splitlines()) == 2


def test_a_model_and_a_retrain_policy_exclude_each_other():
    with pytest.raises(ConfigError, match="exclude each other"):
        pipeline.RunConfig(model="m", retrain="monthly")
    with pytest.raises(ConfigError, match="retrain must be"):
        pipeline.RunConfig(retrain="weekly")


# ------------------------------------------------------------------------------------------ runs
def _copy(world: Path, folder: Path) -> Path:
    shutil.copytree(world / "raw", folder / "raw")
    return folder


def _quiet(**kw) -> dict:
    return {"run_date": RUN_DATE, **FAST, **kw}


@pytest.mark.slow
def test_runs_with_a_frozen_model_score_identically_reuse_the_stage_and_carry_its_id(world, tmp_path, capsys):
    data = _copy(world, tmp_path / "data")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_quiet()), encoding="utf-8")
    common = ["--config", str(config), "--data-dir", str(data)]
    assert main(["train", *common, "--out", str(tmp_path / "models")]) == 0  # prints the id and the folder
    mid, folder = capsys.readouterr().out.split("\n")[:2]
    mid = mid.removeprefix("model ")
    assert Path(folder) == tmp_path / "models" / mid and (Path(folder) / "card.json").is_file()
    store = ModelStore(tmp_path / "models")
    assert store.current_id() == mid  # engage train makes its model the current one
    trained = pipeline.run({"data_dir": str(data), **_quiet()}, until="health", strict=True, progress=lambda m: None)
    assert trained.records["health"].status == "reused" and (trained.scores["model_id"] == mid).all()
    said: list[str] = []
    first = pipeline.run({"data_dir": str(data), **_quiet(model=folder)}, until="actions", strict=True,
                         progress=said.append)
    assert first.records["health"].status == "computed"
    health_lines = [m for m in said if m.strip().startswith("health")]  # it said "learn and backtest" (a helper)
    assert any("score with the frozen health model" in m for m in health_lines), said
    assert not any("learn and backtest" in m for m in health_lines)
    # engage score with the models folder (its current model): the same model id, so the same health stage
    assert main(["score", *common, "--model", str(tmp_path / "models")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^health +reused", printed, re.M) and f"model {mid}:" in printed
    runs = [first, pipeline.run({"data_dir": str(data), **_quiet(model=str(tmp_path / "models"))}, until="actions",
                                strict=True, progress=lambda m: None)]
    assert runs[1].records["health"].status == "reused"
    # the models folder's current model is named once, at the start: the stage's key and its scoring read the same
    # folder (each resolved "current" on its own, and a train finishing between them scored with another model)
    assert Path(runs[1].config.model) == Path(folder)
    first, second = (r.scores.sort_values(["as_of", "account_id"]).reset_index(drop=True) for r in runs)
    assert np.array_equal(first["score"], second["score"])
    assert np.array_equal(first["churn_probability"], second["churn_probability"])
    # the frozen model scores the latest date exactly as the run that trained it did
    latest = trained.scores[trained.scores["as_of"] == trained.scores["as_of"].max()].sort_values("account_id")
    now = first[first["as_of"] == latest["as_of"].max()].sort_values("account_id")
    assert np.array_equal(now["score"].to_numpy(), latest["score"].to_numpy())
    # the reports read the same scorecard as from the run that trained the model
    pd.testing.assert_frame_equal(runs[0].scorecard, trained.scorecard)
    model = runs[0].json("health", "model")
    assert model["model_id"] == mid and model["frozen"] is True
    assert runs[0]["health"].reason("backtest_metrics").startswith(f"scored with the frozen model {mid}")
    assert runs[0]["health"].reason("backtest_metrics", "ja").startswith(f"固定したモデル{mid}（学習データの最終観測日")
    # by design, not for thin data: a scheduled scoring run does not exit 3 ("sections not computed") for it
    assert not [x for x in runs[0].missing_sections if x["stage"] == "health"], runs[0].missing_sections
    assert {x["section"] for x in runs[0].skipped_sections if x["stage"] == "health"} == {
        "backtest_metrics", "band_performance"}
    # every score, action and exported action row names the model
    assert (first["model_id"] == mid).all() and (runs[0].actions["model_id"] == mid).all()
    export = runs[0]["actions"].path / "export"
    for name in ("actions.csv", "actions.parquet"):
        assert (read_actions(export / name)["model_id"] == mid).all()
    assert (pd.read_csv(export / "hubspot_companies.csv")["engage_health_model"] == mid).all()
    assert (pd.read_csv(export / "salesforce_accounts.csv")["Health_Model__c"] == mid).all()
    # a model trained for another horizon, or on a window this run leaves out, stops the run before any stage
    said: list[str] = []
    with pytest.raises(ConfigError, match="churn horizon"):
        pipeline.run({"data_dir": str(data), **_quiet(model=folder, horizon_days=60)},
                     until="health", strict=True, progress=said.append)
    with pytest.raises(ConfigError, match=r"trained on metrics of 90-day windows \(.*_90d.*\), which this run's "
                                          r"windows \[28\] leave out: run with windows \[28, 90\]"):
        pipeline.run({"data_dir": str(data), **_quiet(model=folder, windows=(28,))}, until="health",
                     progress=said.append)
    assert said == []  # refused before ingest
    # a panel that lacks a feature for want of data (here: the model's columns taken away by hand) stops the
    # health stage with the features it lacks (exit 2)
    frozen = load_frozen(folder)
    with pytest.raises(DataError, match=rf"the panel lacks a feature model \S+ was trained on: "
                                        rf"{frozen.features[0]} \("):
        frozen.check(pd.DataFrame(columns=frozen.features[1:]), H)
    with pytest.raises(DataError, match=rf"the panel lacks features model \S+ was trained on: "
                                        rf"{frozen.features[0]}, {frozen.features[1]} \("):
        frozen.check(pd.DataFrame(columns=frozen.features[2:]), H)
    # a model damaged after it scored is refused before ingest, also where the health stage would be read back
    (Path(folder) / "model.skops").write_bytes((Path(folder) / "model.skops").read_bytes()[:-50])
    with pytest.raises(DataError, match="model.skops"):
        pipeline.run({"data_dir": str(data), **_quiet(model=folder)}, until="actions", strict=True,
                     progress=lambda m: None)
    capsys.readouterr()
    assert main(["score", *common, "--model", folder]) == 2
    assert "model.skops" in capsys.readouterr().err


@pytest.mark.slow
def test_a_month_s_export_without_a_column_the_model_reads_stops_the_scoring_run(fitted, world, tmp_path):
    """events exported without duration_s: every account's usage hours 0, scored silently by the frozen model
    (on the simulated second month, 3 of 136 accounts changed band). The run stops naming the metrics."""
    form, model, rows = fitted
    if form == "shape":
        pytest.skip("the check reads the panel, not the model's form (the linear card shows it)")
    folder = save_frozen(model, tmp_path / "models", panel_rows=rows, info=_info(form, model))
    data = _copy(world, tmp_path / "data")
    events = pd.read_parquet(data / "raw" / "events.parquet")
    events.drop(columns=["duration_s"]).to_parquet(data / "raw" / "events.parquet", index=False)
    with pytest.raises(ConfigError, match=r"at one value for every account: usage_hours_28d \(0 for all [\d,]+ "
                                          r"accounts at 2024-12-01, 2025-01-01; at most [\d.]+% of a training date"):
        pipeline.run({"data_dir": str(data), **_quiet(model=str(folder))}, until="health", strict=True,
                     progress=lambda m: None)


@pytest.mark.slow
def test_retrain_monthly_trains_when_the_month_changes_and_never_keeps_the_model(world, tmp_path):
    data = _copy(world, tmp_path)

    def run(policy: str, as_of: str, until: str = "health"):
        r = pipeline.run({"data_dir": str(data), **_quiet(retrain=policy, as_of=as_of)}, until=until,
                         strict=True, progress=lambda m: None)
        return r, r.json("health", "lifecycle"), r.json("health", "model")["model_id"]

    _, d1, m1 = run("monthly", "2024-11-01")
    assert d1["action"] == "train" and d1["model_id"] is None
    store = ModelStore(data / "models")
    assert store.current_id() == m1
    _, d2, used = run("monthly", "2024-11-20")  # same month: scores with the current model
    assert (d2["action"], used) == ("score", m1)
    _, d3, kept = run("never", "2024-12-10")  # a new month, but never: the same model
    assert (d3["action"], kept) == ("score", m1)
    r4, d4, m2 = run("monthly", "2024-12-10", "monitoring")  # a new month: a new model, which becomes current
    assert d4["action"] == "train" and "2024-11-01" in d4["reason"] and m2 != m1
    # the new model against the old one is due once labels mature after the new cutoff: said, not a failure
    assert r4.reason("monitoring", "comparison").startswith("no label has matured after both models'")
    assert not [x for x in r4.missing_sections if x["stage"] == "monitoring"], r4.missing_sections
    assert store.current_id() == m2 and set(store.ids()) == {m1, m2}  # the old one is kept
    assert (r4.scores["model_id"] == m2).all()
    # 'never' with a current model this run's horizon cannot use: refused before any stage runs
    said: list[str] = []
    with pytest.raises(ConfigError, match="churn horizon"):
        pipeline.run({"data_dir": str(data), **_quiet(retrain="never", horizon_days=60)}, until="health",
                     progress=said.append)
    assert said == []


@pytest.fixture(scope="module")
def twin_worlds(tmp_path_factory) -> dict:
    """One world (400 accounts, 14 months from 2024-01) with and without a product change on 2024-11-01 that cuts
    logins without changing churn (part 2's simulator setting)."""
    from engage_models.demo.simulator import DriftSettings

    worlds = {}
    for kind in (None, "logins"):
        root = tmp_path_factory.mktemp(f"lifecycle_drift_{kind}")
        drift = DriftSettings(kind, date="2024-11-01") if kind else None
        simulate(SimConfig(n_accounts=400, months=14, seed=7, inject_defects=False, drift=drift), out=root / "raw")
        worlds[kind] = root
    return worlds


@pytest.mark.slow
@pytest.mark.parametrize("kind", [None, "logins"])
def test_retrain_on_drift_trains_on_a_drifted_world_and_says_why_and_not_on_an_undrifted_one(twin_worlds, kind):
    data = twin_worlds[kind]
    # the model's age is not the question here: a year is allowed (the default, 180 days, would retrain both)
    settings = {"data_dir": str(data), "run_date": "2025-03-02", **FAST,
                "monitoring": {"max_age_days": 365, "n_boot": 50}, "retrain": "on-drift"}
    first = pipeline.run({**settings, "as_of": "2024-11-01"}, until="health", strict=True, progress=lambda m: None)
    old = first.json("health", "model")["model_id"]
    assert first.json("health", "lifecycle")["action"] == "train"  # no model yet: the first one is trained
    later = pipeline.run({**settings, "as_of": "2025-03-01"}, until="health", strict=True, progress=lambda m: None)
    decision = later.json("health", "lifecycle")
    kinds = [r["kind"] for r in decision["reasons"]]
    store = ModelStore(data / "models")
    if kind is None:
        assert decision["action"] == "score" and "drift" not in kinds
        assert later.json("health", "model")["model_id"] == old and store.current_id() == old
    else:
        assert decision["action"] == "train" and "drift" in kinds
        assert "logins" in decision["reason"] or "usage_hours" in decision["reason"]  # says which metrics moved
        new = later.json("health", "model")["model_id"]
        assert new != old and store.current_id() == new and set(store.ids()) == {old, new}


@pytest.mark.slow
def test_a_shape_card_trained_by_the_pipeline_is_saved_without_the_folder_of_its_fits(world, tmp_path):
    """The health stage keeps the shape card's fits in a folder of its own for its length (they recur across the
    backtest's cutoffs); the model it saves names no folder, and loads."""
    data = _copy(world, tmp_path / "data")
    cfg = _quiet(health={**FAST["health"], "score": "shape", "shape_bootstrap": 0})
    run = pipeline.run({"data_dir": str(data), **cfg}, until="health", strict=True, progress=lambda m: None)
    model = load_model(run["health"].file("model.skops"))
    assert isinstance(model, ShapeScore) and model.get_params()["memory"] is None
    assert run["health"].json("model")["form"] == "shape"


def test_a_backfill_scores_with_the_model_of_its_date_and_never_with_one_that_saw_later_data(fitted, tmp_path):
    """A year of weekly runs: a backfill of 16 June after the run of 7 July scored June with the July model
    (which had learned outcomes not known on 16 June), its report saying "trained on data until 7 Jul 2025"."""
    from engage_models.lifecycle.stage import after_health

    form, model, rows = fitted
    store = ModelStore(tmp_path / "models")
    june = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-06-02")).name
    july = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-07-07")).name
    store.set_current(july, "test")
    for policy in ("never", "monthly"):
        got = decide(policy, store, as_of=pd.Timestamp("2024-06-16", tz="UTC"))
        assert (got["action"], got["model_id"], got["backfill"]) == ("score", june, True), got
        assert "a backfill: the current model" in got["reason"] and "2024-07-07" in got["reason"]
    july_later = decide("monthly", store, as_of=pd.Timestamp("2024-07-20", tz="UTC"))  # not a backfill
    assert (july_later["action"], july_later["model_id"]) == ("score", july) and "backfill" not in july_later
    # before any kept model's data ended: the backfill trains its own, which does not become current
    may = decide("monthly", store, as_of=pd.Timestamp("2024-05-20", tz="UTC"))
    assert may["action"] == "train" and may["backfill"] and may["reasons"][0]["kind"] == "backfill"
    # a monthly backfill in a later month than the kept model's: trains, and keeps the current one current
    aug = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-08-05")).name
    store.set_current(aug, "test")
    july_backfill = decide("monthly", store, as_of=pd.Timestamp("2024-07-30", tz="UTC"))
    assert (july_backfill["action"], july_backfill["model_id"]) == ("score", july)

    class Trained:  # the health stage's artifact of a model the backfill trained
        def __init__(self, folder, mid):
            self.path, self.mid = folder, mid

        def has(self, name):
            return name == "model"

        def json(self, name):
            return {"model_id": self.mid}

    made = tmp_path / "artifact"
    (made / "frozen").mkdir(parents=True)
    for f in store.folder(june).iterdir():
        (made / "frozen" / f.name).write_bytes(f.read_bytes())

    class Config:
        models_dir = str(store.root)
        data_dir = str(tmp_path)
        model = None

    after_health(Config(), Trained(made, june), may)
    assert store.current_id() == aug  # the backfill's model did not replace the current one


def test_a_damaged_old_model_or_a_copy_under_way_in_the_models_folder_does_not_stop_a_backfill(fitted, tmp_path,
                                                                                               caplog):
    """One old model's card.json cut short stopped every backfill's decision with a JSONDecodeError traceback, and
    a copy left half done by a stopped run (``.<id>.tmp``, its card copied, its model not) was taken for a model."""
    form, model, rows = fitted
    store = ModelStore(tmp_path / "models")
    june = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-06-02")).name
    july = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-07-07")).name
    store.set_current(july, "test")
    (store.root / "0ld").mkdir()
    (store.root / "0ld" / "card.json").write_text('{"created": "2024', encoding="utf-8")
    under_way = store.root / ".june2.tmp"
    under_way.mkdir()
    card = json.loads((store.folder(june) / "card.json").read_text(encoding="utf-8"))
    card["training"]["cutoff"] = "2024-06-10T00:00:00+00:00"  # the later one: it would be chosen
    (under_way / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with caplog.at_level("WARNING"):
        assert sorted(store.ids()) == sorted([june, july])
        got = decide("never", store, as_of=pd.Timestamp("2024-06-16", tz="UTC"))
    assert (got["action"], got["model_id"], got["backfill"]) == ("score", june, True), got
    assert any("models/0ld: card.json is not readable" in r.getMessage() for r in caplog.records)


#: (where the model's data ended, the run's observation date, whether the model saw data after it)
SAW_LATER = [("2024-07-07", "2024-07-07", False),                 # the same day: the model of this date's run
             ("2024-07-08", "2024-07-07", True),                  # a day after
             ("2024-07-06", "2024-07-07", False),                 # a day before
             ("2024-07-07T01:00:00", "2024-07-07", True),         # an hour of the date's own events
             ("2024-07-07T09:00:00+09:00", "2024-07-07", False),  # Tokyo's 9:00 is the same moment as UTC's 0:00
             ("2024-07-07T10:00:00+09:00", "2024-07-07", True),   # ... and 10:00 an hour later
             ("2024-07-07", "2024-07-07T09:00:00+09:00", False)]


def test_whether_a_model_saw_data_after_a_date_is_one_rule_for_the_policy_and_the_monitoring(fitted, tmp_path):
    """The scoring stage's warning and the policy's backfill compared moments, the monitoring's ``later`` and
    report 08's header whole days: one rule now (frozen.saw_later), each boundary read alike by all of them."""
    from engage_models.lifecycle.frozen import saw_later
    from engage_models.lifecycle.store import _latest_before
    from engage_models.monitoring import recommend_retrain
    from engage_models.monitoring.views import header

    form, model, rows = fitted
    ref = rows[rows["as_of"] == rows["as_of"].max()]
    for i, (end, as_of, later) in enumerate(SAW_LATER):
        assert saw_later(end, as_of) is later, (end, as_of)
        store = ModelStore(tmp_path / f"models{i}")  # one model, current: a backfill has no earlier one
        mid = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff=end)).name
        store.set_current(mid, "test")
        got = decide("never", store, as_of=pd.Timestamp(as_of))
        assert bool(got.get("backfill")) is later and (got["action"] == "train") is later, (end, as_of, got)
        assert (_latest_before(store, as_of) is None) is later  # the model a backfill may score with
        rec = recommend_retrain(model, ref, ref, trained_until=ref["as_of"].max(), as_of=as_of, cutoff=end,
                                horizon_days=H)
        assert rec["later"] is later and (rec["age_days"] < 0) is later, (end, as_of)
        info = {"as_of": as_of, "trained_until": ref["as_of"].max(), "cutoff": end, "model_id": mid,
                "reference_rows": len(ref), "frozen": True}
        assert ("after this run's observation date" in header(info, "en")) is later, (end, as_of)
    assert not saw_later(None, "2024-07-07") and not saw_later(pd.NaT, "2024-07-07")


def test_a_model_older_than_the_age_limit_is_said_by_the_scoring_run_and_report_08_s_header(tmp_path, caplog):
    """monitoring.max_age_days was read by the monitoring's recommendation only: engage score (which stops before
    the monitoring stage) scored with a model of any age without a word, and report 08 said the age against the
    limit only when the recommendation could be made (not when the stability table could not)."""
    from types import SimpleNamespace

    from engage_models.lifecycle.frozen import past_age_limit
    from engage_models.lifecycle.stage import after_health
    from engage_models.monitoring import recommend_retrain
    from engage_models.monitoring.views import header

    class Scored:  # the health stage's artifact of a run that scored with a frozen model
        def __init__(self, info, scores=None):
            self.info, self.scores, self.path = info, scores, tmp_path

        def has(self, name):
            return name == "model" or (name == "scores" and self.scores is not None)

        def json(self, name):
            return self.info

        def frame(self, name):
            return self.scores

    config = SimpleNamespace(model=None, models_dir=str(tmp_path / "models"), data_dir=str(tmp_path),
                             monitoring=SimpleNamespace(max_age_days=180))
    info = {"model_id": "abc123", "frozen": True, "trained_until": "2024-04-01", "cutoff": "2024-07-01",
            "as_of": "2025-01-01"}  # 184 days
    with caplog.at_level("WARNING", logger="engage_models.lifecycle.stage"):
        assert after_health(config, Scored(info), None) is None
    said = [r.getMessage() for r in caplog.records]
    assert any("model abc123 saw data until 2024-07-01, 184 days before this run's observation date 2025-01-01: "
               "past the limit of 180 days (monitoring.max_age_days)" in m for m in said), said
    for young in ({**info, "as_of": "2024-12-28"}, {**info, "as_of": "2024-06-01"}):  # 180 days; a backfill's
        caplog.clear()
        after_health(config, Scored(young), None)
        assert not caplog.records, young
    caplog.clear()  # a stage kept before model.json said its date: the scores' latest date
    scores = pd.DataFrame({"as_of": pd.to_datetime(["2024-12-01", "2025-01-01"], utc=True)})
    after_health(config, Scored({k: v for k, v in info.items() if k != "as_of"}, scores), None)
    assert any("184 days before" in r.getMessage() for r in caplog.records)
    # report 08's header says it, and the recommendation's age reason is the same rule
    stage_info = {**info, "reference_rows": 10, "max_age_days": 180}
    assert "That is past the limit of 180 days (the setting monitoring.max_age_days)" in header(stage_info, "en")
    assert "上限の180日" in header(stage_info, "ja")
    for quiet in ({**stage_info, "max_age_days": 184}, {k: v for k, v in stage_info.items() if k != "max_age_days"},
                  {**stage_info, "as_of": "2024-06-01"}):
        assert "past the limit" not in header(quiet, "en"), quiet
    assert past_age_limit("2024-07-01", "2025-01-01", 183) and not past_age_limit("2024-07-01", "2025-01-01", 184)
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"account_id": [f"a{i}" for i in range(50)], "as_of": pd.Timestamp("2024-04-01", tz="UTC"),
                        "x": rng.random(50), "churned_within_h": np.nan})  # no label matured: no calibration

    class Flat:
        metrics_ = ["x"]

        def health_score(self, X):
            return pd.Series(50.0, index=X.index)

    for limit, reasons in ((183, ["age"]), (184, [])):
        rec = recommend_retrain(Flat(), ref, ref.assign(as_of=pd.Timestamp("2024-12-01", tz="UTC")),
                                trained_until="2024-04-01", cutoff="2024-07-01", as_of="2025-01-01", horizon_days=90,
                                max_age_days=limit)
        assert [r["kind"] for r in rec["reasons"]] == reasons and rec["age_days"] == 184


def test_on_drift_with_no_row_to_judge_drift_on_still_retrains_an_old_model_and_says_what_it_could_not_check(
        fitted, tmp_path):
    """retrain on-drift asked the monitoring with a panel that held no row: the stability table raised, and the
    run stopped, where the model's age alone was a reason to retrain. The age decides, and the decision says that
    drift and calibration were not checked, and why."""
    form, model, rows = fitted
    store = ModelStore(tmp_path / "models")
    cur = save_frozen(model, store.root, panel_rows=rows, info=_info(form, model, cutoff="2024-07-01")).name
    store.set_current(cur, "test")
    run = {"as_of": pd.Timestamp("2025-01-01", tz="UTC"), "panel": rows.iloc[0:0], "horizon_days": H}
    old = decide("on-drift", store, **run, monitoring={"max_age_days": 180})
    assert old["action"] == "train" and [r["kind"] for r in old["reasons"]] == ["age"]
    assert "drift not checked: the panel holds no row" in old["reason"]
    assert [u["check"] for u in old["monitoring"]["unavailable"]] == ["drift", "calibration"]
    young = decide("on-drift", store, **run, monitoring={"max_age_days": 365})
    assert young["action"] == "score" and young["reason"].startswith(f"on-drift: no age past the thresholds for {cur}")
    assert "drift not checked" in young["reason"] and "calibration not checked" in young["reason"]
