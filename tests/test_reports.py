"""The whole report set end to end, in Japanese: index, executive summary, health score, action list."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from conftest import REPORT_RUN_DATE
from engage_models.actions import EXPORT_COLUMNS, read_actions
from engage_models.reports.runner import run

pytestmark = pytest.mark.notebook


def test_full_run_in_japanese_writes_every_report_offline_and_without_code(report_data, tmp_path):
    out = tmp_path / "reports"
    paths = run(data_dir=report_data, out_dir=out, lang="ja", currency="JPY", run_date=REPORT_RUN_DATE,
                progress=lambda m: None)
    assert paths.failed == [] and paths.exit_code in (0, 3)
    names = [p.name for p in paths]
    assert names[0] == "00_executive_summary.html"  # listed first
    latest = out / "latest"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "00_executive_summary.html" in index and REPORT_RUN_DATE in index
    assert (latest / "artifacts" / "health" / "scores.parquet").exists()  # what the reports show, as tables
    for path in [latest / "run.json", *latest.glob("artifacts/*/*.json")]:  # no machine path in a forwarded folder
        assert not re.search(r"/tmp/|/work/|/home/|/root/", path.read_text(encoding="utf-8")), path.name
    for p in latest.glob("*.html"):
        html = p.read_text(encoding="utf-8")
        assert "<script" not in html.lower(), p.name
        assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, flags=re.I), p.name
        body = html[html.index("<body"):]
        assert "jp-InputArea-editor" not in body and "jp-CodeMirrorEditor" not in body, p.name  # no code cells
        assert "Traceback" not in body, p.name
    summary = (latest / "00_executive_summary.html").read_text(encoding="utf-8")
    for heading in ("主要KPI", "ポートフォリオの健全性", "解約リスクのある収益", "モデルが学習したこと"):
        assert heading in summary
    assert "Headline KPIs" not in summary
    # the CRM task files counted (the folder's first run: every task new, none left out as a repeat)
    assert "HubSpotとSalesforceのタスクファイルには新しいタスクが" in summary and "繰り返していません" not in summary
    assert "円" in summary and "$" not in summary  # the data's currency, as Japanese write it
    # report 03's overall NPS says it counts every answer, over what dates, and that the summary's is the latest wave
    voc = (latest / "03_voice_of_customer.html").read_text(encoding="utf-8")
    assert "（全回答" in voc and "回答期間 " in voc and "エグゼクティブサマリーが示すNPS" in voc
    health = (latest / "04_health_score.html").read_text(encoding="utf-8")
    assert "学習したスコア" in health and "手動で重み付けしたスコア" in health and "95%信頼区間" in health
    actions = read_actions(latest / "actions.csv")
    assert list(actions.columns)[: len(EXPORT_COLUMNS)] == list(EXPORT_COLUMNS)
    assert actions["band"].isin(["green", "yellow", "red"]).all() and actions["score"].between(0, 100).all()
    pd.testing.assert_frame_equal(actions, read_actions(latest / "actions.parquet"), check_dtype=False)
