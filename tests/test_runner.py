"""The runner: parameters reach notebooks; reports are code-free and self-contained; failures keep the last report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from engage_models.runner import NotebookFailed, run

pytestmark = pytest.mark.notebook
ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, *cells: str, params: str = "data_dir = None\nas_of = None\nhorizon_days = 90\nlang = 'en'\n"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_markdown_cell("## A heading")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


ECHO = ("import json, pathlib\n"
        "pathlib.Path(data_dir, 'seen.json').write_text(json.dumps({'data_dir': data_dir, 'as_of': as_of, "
        "'horizon_days': horizon_days, 'lang': lang}))\n"
        "print('SECRET_CODE_MARKER' if False else 'output text is shown')")


def _assert_self_contained_without_code(html: str):
    assert "<script" not in html.lower(), "no script at all: nothing to fetch, nothing to run"
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, flags=re.I)
    assert not external, external
    assert not re.search(r"@import\s+url\(\s*['\"]?https?:", html)
    body = html[html.index("<body"):]
    assert 'class="jp-CodeMirrorEditor' not in body and "jp-InputArea-editor" not in body  # no input cells


def test_parameters_reach_the_notebook_and_the_html_has_no_code(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_echo.ipynb", ECHO)
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "reports"
    paths = run(data_dir=data, out_dir=out, notebooks_dir=nbs, as_of="2025-06-30", horizon_days=60, lang="ja",
                demo_if_empty=False, progress=lambda m: None)
    seen = json.loads((data / "seen.json").read_text())
    assert seen == {"data_dir": str(data.resolve()), "as_of": "2025-06-30", "horizon_days": 60, "lang": "ja"}
    assert paths == [out.resolve() / "01_echo.html"]
    html = paths[0].read_text(encoding="utf-8")
    _assert_self_contained_without_code(html)
    assert "output text is shown" in html and "SECRET_CODE_MARKER" not in html
    assert '<html lang="ja">' in html
    assert (out / "index.html").exists() and json.loads((out / "run.json").read_text())["parameters"]["lang"] == "ja"


def test_failure_exits_non_zero_names_notebook_and_cell_and_keeps_the_last_report(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_ok.ipynb", "x = 1")
    _notebook(nbs / "02_broken.ipynb", "y = 2", "raise ValueError('boom in the numbers')")
    out = tmp_path / "reports"
    out.mkdir()
    (out / "01_ok.html").write_text("last good report")
    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "engage_models", "run", "--data-dir", str(data), "--out", str(out),
         "--notebooks-dir", str(nbs), "--no-demo", "--kernel", "python3"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert ("02_broken.ipynb failed at cell 4: ValueError: boom in the numbers "
            "(in `raise ValueError('boom in the numbers')`)") in proc.stderr
    assert (out / "01_ok.html").read_text() == "last good report"
    assert not (out / "02_broken.html").exists() and not list(out.glob(".staging-*"))
    assert (out / ".failed" / "02_broken.ipynb").exists()


def test_the_failed_run_is_reported_from_python_too(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_broken.ipynb", "1 / 0")
    with pytest.raises(NotebookFailed) as info:
        run(data_dir=tmp_path, out_dir=tmp_path / "r", notebooks_dir=nbs, demo_if_empty=False,
            kernel_name="python3", progress=lambda m: None)
    assert (info.value.notebook, info.value.cell, info.value.ename) == ("01_broken.ipynb", 3, "ZeroDivisionError")


def test_demo_world_is_generated_when_raw_is_empty(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_echo.ipynb", ECHO)
    run(data_dir=tmp_path / "data", out_dir=tmp_path / "r", notebooks_dir=nbs, demo_accounts=40, demo_months=3,
        progress=lambda m: None)
    assert (tmp_path / "data" / "raw" / "events.parquet").exists()
    assert (tmp_path / "data" / "raw" / "truth.json").exists()


def test_data_quality_report_end_to_end(small_world, tmp_path):
    """The real notebook on a copy of the small world: counts, reasons, figures, escaped user text."""
    data = tmp_path / "data"
    shutil.copytree(small_world / "raw", data / "raw")
    surveys = pd.read_csv(data / "raw" / "surveys.csv")
    hostile = surveys.iloc[[0]].assign(response_id="R-x", score=42, comment="<script>alert(1)</script> & more")
    pd.concat([hostile, surveys]).to_csv(data / "raw" / "surveys.csv", index=False)  # first quarantined row
    out = tmp_path / "reports"
    paths = run(data_dir=data, out_dir=out, only=["01"], as_of="2024-12-31", demo_if_empty=False,
                progress=lambda m: None)
    html = (out / "01_data_quality.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "observation date <strong>31 Dec 2024</strong>" in html
    assert paths == [out.resolve() / "01_data_quality.html"]
    _assert_self_contained_without_code(html)
    assert html.count('src="data:image/png;base64,') >= 3  # quarantine, events per day, surveys per month
    for reason in ("negative duration_s", "nps score outside 0-10", "duplicate ticket_id", "unparseable submitted_at"):
        assert reason in html
    assert "observation date" in html and "Traceback" not in html


@pytest.mark.parametrize("lang, shown, hidden", [("en", "Churn by month", "月別の解約"),
                                                 ("ja", "月別の解約", "Churn by month")])
def test_prose_of_the_other_language_is_dropped(tmp_path, lang, shown, hidden):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    path = _notebook(nbs / "01_bilingual.ipynb", "print('shared output')")
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("## Churn by month", metadata={"tags": ["lang-en"]}))
    nb.cells.insert(2, nbformat.v4.new_markdown_cell("## 月別の解約", metadata={"tags": ["lang-ja"]}))
    nbformat.write(nb, path)
    (paths,) = run(data_dir=tmp_path, out_dir=tmp_path / "r", notebooks_dir=nbs, lang=lang, demo_if_empty=False,
                   progress=lambda m: None)
    html = paths.read_text(encoding="utf-8")
    assert shown in html and hidden not in html
    assert "shared output" in html and "A heading" in html  # untagged cells are in both languages
