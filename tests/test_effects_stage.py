"""The effects stage on a world with a play log, and report 06 rendered from it (with and without a log)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from engage_models import pipeline
from engage_models.demo.plays import PlaySettings
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.effects import views as ev

ROOT = Path(__file__).resolve().parents[1]
RUN_DATE = "2025-05-01"
# the other stages light (few bootstrap draws): this module checks the effects stage and report 06
LIGHT = {"health": {"n_cutoffs": 1, "n_bootstrap": 0, "metric_bootstrap": 20}, "survival": {"n_boot": 10},
         "surveys": {"driver_bootstrap": 20}}
pytestmark = pytest.mark.slow  # a pipeline run on a world of its own


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A 300-account, 16-month world with plays (campaigns 2024-05, 2024-09 with a 50% holdout, 2025-01
    without), run through the pipeline."""
    root = tmp_path_factory.mktemp("played")
    simulate(SimConfig(n_accounts=300, months=16, seed=7, events_scale=0.5,
                       plays=PlaySettings(holdout=0.5, holdout_campaigns=(0, 1))), out=root / "raw")
    run = pipeline.run({"data_dir": str(root), "run_date": RUN_DATE, **LIGHT}, strict=True, progress=lambda m: None)
    return root, run


def test_the_stage_measures_every_logged_play_by_design(played):
    root, run = played
    log = pd.read_csv(root / "raw" / "plays.csv")
    info = run.json("effects", "info")
    assert info["play_log"] == "present" and info["log_rows"] == len(log)
    summary = run.frame("effects", "log_summary")
    assert summary["rows"].sum() == len(log)
    assert (summary["used"] + summary["pending"] + summary["left_out"] == summary["rows"]).all()
    randomised = summary[summary["design"] == "randomised"].set_index("play")
    held = log[log["holdout"].astype(str) == "True"].groupby("play").size()
    assert randomised["held_out"].to_dict() == held.to_dict()
    effects = run.frame("effects", "effects")
    best = effects[effects["preferred"] & (effects["outcome"] == "churned") & (effects["group"] == "all")]
    assert set(best["design"]) == {"randomised", "observational"}
    assert set(best["play"]) == set(log["play"])
    assert set(best.loc[best["design"] == "randomised", "method"]) == {"cuped"}
    assert set(best.loc[best["design"] == "observational", "method"]) == {"aipw"}
    # every randomised account counts once per play: the arms add up to the units used
    rnd = best[best["design"] == "randomised"].set_index("play")
    assert (rnd["n_treated"] + rnd["n_control"]).to_dict() == randomised["used"].to_dict()
    ok = best[best["status"] == "estimated"]
    assert len(ok) and (ok["ci_low"] <= ok["estimate"]).all() and (ok["estimate"] <= ok["ci_high"]).all()
    overlap = run.frame("effects", "overlap")
    assert overlap["propensity"].dropna().between(0, 1).all() and overlap["treated"].any()
    design = run.frame("actions", "holdout_design")
    plan = run.frame("actions", "actions")
    assert design["held_out"].sum() == (plan["assignment"] == "held_out").sum() > 0
    assert not plan.loc[plan["must_act"], "assignment"].eq("held_out").any()


def test_the_summary_quotes_one_line_in_either_language(played):
    _, run = played
    ww = run.frame("summary", "what_works")
    rows = run.json("summary", "what_works")["log_rows"]
    en, ja = ev.summary_line(ww, "en", 90, log_rows=rows), ev.summary_line(ww, "ja", 90, log_rows=rows)
    assert en.startswith("**What works:**") and "points" in en
    assert ja.startswith("**効果のあるプレイ：**") and "ポイント" in ja
    assert ev.summary_line(ww.iloc[0:0], "en", 90, log_rows=0).startswith("**What works:** no play log yet")


def _execute(notebook: Path, run_dir: Path, cells: tuple[str, ...] | None = None) -> None:
    """Run a report notebook's code cells (those of ``cells`` only, when given) in one namespace, its
    parameters cell replaced by ``run_dir``."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    ns: dict = {"run_dir": str(run_dir)}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "parameters" in cell["metadata"].get("tags", []):
            continue
        if cells is not None and cell["id"] not in cells:
            continue
        exec(compile("".join(cell["source"]), f"{notebook.name}:{cell['id']}", "exec"), ns)  # noqa: S102
    plt.close("all")


@pytest.fixture(scope="module")
def bare(tmp_path_factory, small_world) -> Path:
    """A data folder without a play log (the small world of the other tests)."""
    root = tmp_path_factory.mktemp("bare")
    shutil.copytree(small_world / "raw", root / "raw")
    return root


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_report_06_renders_with_a_play_log_and_without_one(played, bare, tmp_path, lang, monkeypatch):
    """Without a log, each section says it is not measured yet (a small world's report showed four headings
    and their prose over nothing)."""
    from engage_models.reports import render

    said: list[str] = []
    monkeypatch.setattr(render, "show_missing", said.append)
    root, _ = played
    run = pipeline.run({"data_dir": str(root), "run_date": RUN_DATE, "lang": lang, **LIGHT}, strict=True,
                       progress=lambda m: None)  # a second language recomputes the action list only
    folder = run.export(tmp_path / "with")
    _execute(ROOT / "notebooks" / "06_what_works.ipynb", folder)
    _execute(ROOT / "notebooks" / "00_executive_summary.ipynb", folder, cells=("00-03", "00-what-works"))
    plain = pipeline.run({"data_dir": str(bare), "run_date": "2025-01-02", "lang": lang, **LIGHT}, until="effects",
                         strict=True, progress=lambda m: None)
    assert plain.json("effects", "info")["play_log"] == "absent"
    design = plain.frame("actions", "holdout_design")
    assert np.isfinite(design.loc[design["eligible"] > 0, "expected_churn"]).all() and design["held_out"].sum() > 0
    assert not [x for x in said if "effects" in x or "プレイ" in x], said
    _execute(ROOT / "notebooks" / "06_what_works.ipynb", plain.export(tmp_path / "without"))
    expected = "no play has been recorded yet" if lang == "en" else "プレイの記録がまだありません"
    assert len([x for x in said if expected in x]) == 5, said
