"""`engage run` end to end on a thin world: the exit code says what broke, not what was thin.

The rule (README, "What a run does"; :attr:`~engage_models.reports.runner.RunResult.exit_code`): 0 when only
thin data left sections out (each said in its report, listed in ``run.json`` and on the index page), 3 when
something broke (a report not rendered, a section or stage failed with an error, no action list for the CRM, a
delivery failed). ``tests/test_runner.py`` checks it on ``RunResult`` and on toy notebooks; here the real
notebooks render one small simulated world three times (the second and third reuse the first one's stages
and rendered reports where their inputs are unchanged):

1. as it is: the health score, the action list and every report are made, some sections are too thin (the
   persona milestones, a Kaplan-Meier curve by NPS group): exit 0, the sections listed with their reasons;
2. with one stage raising an unexpected error: exit 3, the stage listed with its error;
3. with a health score that asks for more churners than the world has: no health score, so no action list for
   the CRM: exit 0 on a folder that never had one (thin), 3 once an earlier run of the folder made one (lost),
   said on the console as the reason for the exit.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_worlds import make_world
from engage_models._core.i18n import t
from engage_models._core.reasons import section_label

#: slow: the first run renders every report of a fresh world (about 100 CPU-seconds, a minute on 2 cores); the
#: other two reuse its stages and rendered reports where their inputs are unchanged (about 25 CPU-seconds together,
#: more when one is run alone)
pytestmark = [pytest.mark.notebook, pytest.mark.slow]

RUN_DATE = "2030-01-01"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: bootstrap draws cut: the test is about what publishes and the exit code, not about intervals
FAST = ("health:\n  n_bootstrap: 3\n  metric_bootstrap: 20\n  shape_bootstrap: 3\nsurvival:\n  n_boot: 5\n"
        "surveys:\n  driver_bootstrap: 20\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """60 accounts over 12 months (seed 1): enough churners for a health score and an action list, too few
    accounts for the persona milestones and the Kaplan-Meier curves by NPS group."""
    root = make_world(tmp_path_factory.mktemp("thin-run"), "plain", 60, 12, 1)
    (root / "fast.yaml").write_text(FAST, encoding="utf-8")
    return root


def _args(world: Path, out: Path, config: Path, *more: str) -> list[str]:
    return ["run", "--config", str(config), "--data-dir", str(world), "--out", str(out), "--run-date", RUN_DATE,
            "--no-demo", *more]


def _record(out: Path) -> dict:
    return json.loads((out / RUN_DATE / "run.json").read_text(encoding="utf-8"))


def _listed(record: dict, index: str) -> None:
    """Each section ``run.json`` lists as left out is on the index page, under its stage's name, with its reason."""
    assert t("run.not_computed", "en") in index
    for s in record["skipped"]:
        assert s["reason"], s
        assert t(f"stage.{s['stage']}", "en") in index, s
        if s["section"] != "*":
            assert section_label(s["section"], "en") in index, s


def _rendered(out: Path) -> None:
    for folder in (out / RUN_DATE, out / "latest"):
        assert sorted(p.stem for p in folder.glob("[0-9][0-9]_*.html")) == NOTEBOOKS, folder
    for page in (out / RUN_DATE).glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "Traceback" not in html[html.index("<body"):], page.name


def test_a_thin_world_publishes_every_report_and_exits_0(world, tmp_path):
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "engage_models", *_args(world, out, world / "fast.yaml")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = _record(out)
    assert record["failed"] == [] and record["broken"] == [] and record["status"] == "published with sections skipped"
    assert {st["name"]: st["status"] for st in record["stages"]} == {
        name: "computed" for name in ("ingest", "quality", "panel", "kpis", "surveys", "health", "personas",
                                      "survival", "actions", "effects", "monitoring", "summary")}
    assert "actions.csv" in record["files"] and (out / "latest" / "actions.csv").is_file()  # the CRM's list
    left_out = {(s["stage"], s["section"]) for s in record["skipped"]}
    assert {("personas", "milestone_summary"), ("survival", "km_nps")} <= left_out, left_out
    assert {s["kind"] for s in record["skipped"]} == {"insufficient_data"}
    _rendered(out)
    for index in (out / "index.html", out / RUN_DATE / "index.html", out / "latest" / "index.html"):
        _listed(record, index.read_text(encoding="utf-8"))
    for s in record["skipped"]:  # the console says the same, section by section
        assert f"engage run: not computed: {s['stage']} / {s['section']}: {s['reason']}" in proc.stderr
    assert "Traceback" not in proc.stderr and "exit 3" not in proc.stderr


def _main(argv: list[str]) -> int:
    from engage_models.cli import main

    return main(argv)


def test_a_stage_that_raises_on_the_same_world_exits_3_with_every_report_published(world, tmp_path, monkeypatch,
                                                                                     capsys):
    """The monitoring stage raises (a bug, not thin data): the reports still publish, the stage is listed with
    its error, and the run exits 3. Its parameters change too, so that it is not read back from the first run."""
    from engage_models.pipeline import stages as S

    def boom(ctx):
        raise RuntimeError("boom in monitoring")

    monitoring = next(s for s in S.STAGES if s.name == "monitoring")

    def params(cfg):
        return {**monitoring.params(cfg), "test": "broken"}

    monkeypatch.setattr("engage_models.pipeline.flow.STAGES", tuple(
        dataclasses.replace(s, run=boom, params=params) if s.name == "monitoring" else s for s in S.STAGES))
    out = tmp_path / "reports"
    assert _main(_args(world, out, world / "fast.yaml")) == 3
    record = _record(out)
    broken = [s for s in record["skipped"] if s["kind"] == "error"]
    assert broken == [{"stage": "monitoring", "section": "*", "reason": "RuntimeError: boom in monitoring",
                       "kind": "error"}], broken
    assert record["failed"] == []
    assert "actions.csv" in record["files"]
    _rendered(out)
    index = (out / RUN_DATE / "index.html").read_text(encoding="utf-8")
    _listed(record, index)
    assert "Model monitoring: RuntimeError: boom in monitoring" in index
    assert record["broken"] == ["monitoring: RuntimeError: boom in monitoring"]
    assert f"engage run: exit 3, published but something broke: {record['broken'][0]}" in capsys.readouterr().err


def test_no_health_score_for_thin_data_exits_0_until_the_folder_has_had_an_action_list(world, tmp_path):
    """No stage failed with an error and every report rendered, but the health score wants more churners than
    the world has: no action list for the CRM. A data folder that never had one is thin (exit 0: 6 of 13 small
    worlds exited 3 every week for this alone); one whose earlier run made one has lost it (exit 3, and the
    console says that this is why)."""
    config = tmp_path / "strict.yaml"
    config.write_text(FAST.replace("health:\n", "health:\n  min_churners: 100000\n"), encoding="utf-8")
    dates = world / "artifacts" / "run_dates.json"  # the runs of this folder that made an action list
    before = dates.read_text(encoding="utf-8") if dates.exists() else None
    dates.unlink(missing_ok=True)
    try:
        out = tmp_path / "reports"
        # the report on what works (06) only: its stages run up to the action list and the effects, and they are
        # what this run changes (every report publishing on such a world is test_thin_worlds' sweep)
        argv = [sys.executable, "-m", "engage_models", *_args(world, out, config, "--only", "06")]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        record = _record(out)
        assert record["failed"] == [] and record["broken"] == []
        assert not [s for s in record["skipped"] if s["kind"] == "error"]
        stages = {st["name"]: st for st in record["stages"]}
        assert stages["health"]["status"] == "failed" and stages["health"]["kind"] == "insufficient_data"
        assert stages["health"]["reason"].startswith("only ") and "needs at least 100000" in stages["health"]["reason"]
        assert stages["actions"]["status"] == "skipped" and stages["actions"]["reason"].startswith("needs health (")
        assert "actions.csv" not in record["files"] and not (out / "latest" / "actions.csv").exists()
        assert [r["notebook"] for r in record["reports"]] == ["06_what_works.ipynb"]
        _listed(record, (out / RUN_DATE / "index.html").read_text(encoding="utf-8"))
        assert "exit 3" not in proc.stderr and not dates.exists()
        # the same run on a folder whose earlier run (this date's observation date) made an action list: lost
        dates.write_text(json.dumps({"as_of": [record["as_of"][:10]]}), encoding="utf-8")
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr[-3000:]
        record = _record(out)
        assert record["broken"] == [f"no action list for the CRM (actions: {stages['actions']['reason']})"]
        assert f"engage run: exit 3, published but something broke: {record['broken'][0]}" in proc.stderr
    finally:
        if before is None:
            dates.unlink(missing_ok=True)
        else:
            dates.write_text(before, encoding="utf-8")
