"""The ``personas`` stage in the pipeline, report 07, persona names across runs, and thin data."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from conftest import REPORT_RUN_DATE
from engage_models import pipeline
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.journeys.stage import fit_dates
from engage_models.pipeline import stages as S
from engage_models.pipeline.store import Output


@pytest.mark.slow  # the stages before it on the report world (shared with test_reports), then 07 rendered
@pytest.mark.notebook
def test_the_personas_stage_runs_and_report_07_renders_and_names_stay_on_the_next_run(report_data, tmp_path):
    """On a copy of the report data without the personas stage's artifacts or registry, whatever ran before on
    the shared report data (a report test leaves a registry there, and this test's first run then read as a
    second: its personas "kept", not "new"): the pipeline first, then report 07."""
    from engage_models.reports.runner import run

    report_data_copy = tmp_path / "data"
    shutil.copytree(report_data, report_data_copy, ignore=lambda folder, names: [
        n for n in names if n == "personas" and folder.endswith("artifacts")])
    report_data = report_data_copy
    first = pipeline.run({"data_dir": str(report_data), "run_date": REPORT_RUN_DATE}, until="personas",
                         progress=lambda m: None)
    assert first.records["personas"].status == "computed"
    art = first["personas"]
    table = art.frame("persona_table")
    info = art.json("personas")
    assert info["k"] == len(table) and (table["status"] == "new").all()
    assert table["accounts"].sum() == len(first.panel.query("as_of == as_of.max()"))
    assert table["churn_low"].le(table["churn_rate"]).all() and table["churn_rate"].le(table["churn_high"]).all()
    assert table["description_en"].str.len().gt(0).all()
    assert {"stage_paths", "stage_transitions", "milestones", "touches"} <= {f.split(".")[0]
                                                                           for f in art.manifest["files"]}
    registry = tmp_path / "registry.json"  # as the first run wrote it
    shutil.copy(report_data / "artifacts" / "personas" / "registry.json", registry)
    paths = run(data_dir=report_data, out_dir=tmp_path / "reports", only=["07"], run_date=REPORT_RUN_DATE,
                progress=lambda m: None)
    assert paths.failed == [] and [p.name for p in paths] == ["07_personas_journeys.html"]
    html = paths[0].read_text(encoding="utf-8")
    body = html[html.index("<body"):]
    assert "<script" not in html.lower() and "Traceback" not in body
    for heading in ("Who the customers are: the personas", "Milestones: which early steps go with staying",
                    "Paths through the lifecycle stages"):
        assert heading in body
    assert "ペルソナ" not in body  # the other language's prose is dropped
    # the next run (other parameters, so the stage is computed again) reads the registry the first one wrote
    again = pipeline.run({"data_dir": str(report_data), "run_date": REPORT_RUN_DATE,
                          "personas": {"registry": str(registry), "n_bootstrap": 5}}, until="personas",
                         progress=lambda m: None)
    assert again.records["personas"].status == "computed"
    table2 = again["personas"].frame("persona_table")
    assert (table2["status"] == "kept").all()
    cols = ["persona", "accounts", "description_en"]
    pd.testing.assert_frame_equal(table2[cols], table[cols])
    assert again["personas"].json("personas")["registry_known"] >= len(table)  # the names of the first run


def test_a_world_with_too_few_accounts_says_why_instead_of_raising(tmp_path):
    simulate(SimConfig(n_accounts=20, months=6, seed=2), out=tmp_path / "raw")
    run = pipeline.run({"data_dir": str(tmp_path), "run_date": "2024-07-02"}, until="panel", progress=lambda m: None)
    (tmp_path / "out").mkdir()
    out = Output(tmp_path / "out", "personas")
    ctx = S.Context(run.config, {"ingest": run["ingest"], "panel": run["panel"]}, out,
                    absent={"health": "the health stage was not computed"})
    S.personas(ctx)
    why = {s.section: s.reason for s in out.skipped}
    pnl = run.panel
    fit = pnl[pnl["as_of"].isin(fit_dates(pnl["as_of"], 12)) & (pnl["tenure_days"] >= 90)]
    n = fit["account_id"].nunique()
    assert 0 < n < 30
    assert why["personas"] == (f"{n} accounts with at least 90 days of tenure at the fitting dates; "
                               "personas need 30")
    assert why["stage_flow"] == "no health scores: the health stage was not computed"
    assert re.search(r"(no milestone had 10 accounts|no account started inside the data)",
                     why.get("milestone_summary", why.get("milestones", "")))
    assert "channel_outcomes" in why  # 20 accounts: no exposure seen by 10 and missed by 10
