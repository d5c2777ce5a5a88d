"""The whole report set end to end, in Japanese: index, executive summary, health score, action list."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from engage_models.actions import EXPORT_COLUMNS, read_actions
from engage_models.reports.runner import run

pytestmark = pytest.mark.notebook


def test_full_run_in_japanese_writes_every_report_offline_and_without_code(small_world, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_world / "raw", data / "raw")
    out = tmp_path / "reports"
    paths = run(data_dir=data, out_dir=out, lang="ja", run_date="2025-01-02", demo_if_empty=False,
                progress=lambda m: None)
    names = [p.name for p in paths]
    assert names[0] == "00_executive_summary.html"  # listed first, although it runs last
    latest = out / "latest"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "00_executive_summary.html" in index and "2025-01-02" in index
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
    health = (latest / "04_health_score.html").read_text(encoding="utf-8")
    assert "学習したスコア" in health and "手入力の重み付けスコア" in health and "95%信頼区間" in health
    actions = read_actions(latest / "actions.csv")
    assert list(actions.columns)[: len(EXPORT_COLUMNS)] == list(EXPORT_COLUMNS)
    assert actions["band"].isin(["green", "yellow", "red"]).all() and actions["score"].between(0, 100).all()
    pd.testing.assert_frame_equal(actions, read_actions(latest / "actions.parquet"), check_dtype=False)
