"""The runner: parameters reach notebooks; reports are code-free and self-contained; failures keep the last report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import HOSTILE, REPORT_RUN_DATE
from engage_models._core.errors import ConfigError
from engage_models._core.locks import LOCK_FILE
from engage_models.reports.runner import NotebookFailed, parse_run_date, prepare_data, run

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
                run_date="2025-07-01", demo_if_empty=False, progress=lambda m: None)
    seen = json.loads((data / "seen.json").read_text())
    assert seen == {"data_dir": str(data.resolve()), "as_of": "2025-06-30", "horizon_days": 60, "lang": "ja"}
    assert paths == [out.resolve() / "2025-07-01" / "01_echo.html"]
    html = paths[0].read_text(encoding="utf-8")
    _assert_self_contained_without_code(html)
    assert "output text is shown" in html and "SECRET_CODE_MARKER" not in html
    assert '<html lang="ja">' in html
    assert "2025年7月1日の実行" in html and "観測日：2025年6月30日" in html  # the meta line in Japanese
    assert (out / "index.html").exists()
    assert json.loads((out / "latest" / "run.json").read_text())["parameters"]["lang"] == "ja"


def _unclosed_loops(call=lambda: None) -> list[str]:
    """The event loops found unclosed (ResourceWarnings) while ``call`` runs and by the garbage collector after."""
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
        gc.collect()
    return [str(w.message) for w in seen if issubclass(w.category, ResourceWarning) and "event loop" in str(w.message)]


def test_a_run_leaves_no_event_loop_of_its_notebooks_for_the_garbage_collector(tmp_path):
    """Each worker thread that executed a notebook kept the event loop Jupyter's client made for it, never closed:
    collected during a later test, its "unclosed" warnings failed that test (and a scheduler's long-lived process
    kept the loop's sockets open until then)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from jupyter_core.utils import ensure_event_loop

    from engage_models.reports.runner import close_thread_loop

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for i in (1, 2, 3):
        _notebook(nbs / f"0{i}_echo.ipynb", "print('shown')")
    (tmp_path / "data").mkdir()
    _unclosed_loops()  # whatever earlier tests left
    assert _unclosed_loops(lambda: run(data_dir=tmp_path / "data", out_dir=tmp_path / "reports", notebooks_dir=nbs,
                                       as_of="2025-06-30", run_date="2025-07-01", demo_if_empty=False,
                                       progress=lambda m: None)) == []
    with ThreadPoolExecutor(1) as pool:  # the rule itself: a worker's loop closed, a new one for its next task
        first = pool.submit(lambda: (ensure_event_loop(), close_thread_loop())[0]).result()
        second = pool.submit(ensure_event_loop).result()
        pool.submit(close_thread_loop).result()
    assert first.is_closed() and second is not first and second.is_closed()
    main = ensure_event_loop()
    close_thread_loop()  # the main thread's loop is its caller's
    assert not main.is_closed() and threading.current_thread() is threading.main_thread()


def test_a_failed_notebook_does_not_stop_the_others_and_the_exit_code_says_so(tmp_path):
    """0: everything published; 3: published with a report missing (named, with its cell and error, on the index
    page and in run.json); 1: nothing could be published, and the last good reports are left as they were."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_ok.ipynb", "print('first is fine')")
    _notebook(nbs / "02_broken.ipynb", "y = 2", "print('still good')")
    out = tmp_path / "reports"
    data = tmp_path / "data"
    data.mkdir()
    cmd = [sys.executable, "-m", "engage_models", "run", "--data-dir", str(data), "--out", str(out),
           "--notebooks-dir", str(nbs), "--no-demo", "--kernel", "python3"]
    assert subprocess.run([*cmd, "--run-date", "2025-07-01"], capture_output=True).returncode == 0
    _notebook(nbs / "02_broken.ipynb", "y = 2", "raise ValueError('boom in the numbers')")
    proc = subprocess.run([*cmd, "--run-date", "2025-07-02"], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    failure = ("02_broken.ipynb failed at cell 4: ValueError: boom in the numbers "
               "(in `raise ValueError('boom in the numbers')`)")
    assert failure in proc.stderr
    day = out / "2025-07-02"
    assert (day / "01_ok.html").exists()
    record = json.loads((day / "run.json").read_text(encoding="utf-8"))
    assert record["failed"] == [{"notebook": "02_broken.ipynb", "cell": 4, "error": "ValueError: boom in the numbers",
                                 "earlier": "2025-07-01"}]  # the earlier version its page links to
    # in its place (latest/ lost the report for the week: a bookmark opened nothing), a page saying so, with the
    # newest earlier version
    for folder in (day, out / "latest"):
        page = (folder / "02_broken.html").read_text(encoding="utf-8")
        assert "could not be rendered: ValueError: boom in the numbers" in page
        assert 'href="../2025-07-01/02_broken.html"' in page and "<script" not in page.lower()
    assert (out / "2025-07-01" / "02_broken.html").is_file()
    assert "02_broken.html" not in record["files"]
    assert [r["html"] for r in record["reports"]] == ["01_ok.html"]
    assert record["status"] == "published with sections skipped"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "What could not be computed" in index and "02_broken.ipynb could not be rendered" in index
    good = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _notebook(nbs / "01_ok.ipynb", "1 / 0")
    for d in ("2025-07-02", "2025-07-03"):  # nothing renders: neither the same run date nor a new one is touched
        proc = subprocess.run([*cmd, "--run-date", d], capture_output=True, text=True)
        assert proc.returncode == 1, proc.stderr
        assert "FAILED" in proc.stderr and "ZeroDivisionError" in proc.stderr
        assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()
                and ".failed" not in p.parts} == good
        assert not list(out.glob(".staging-*")) and not (out / "2025-07-03").exists()
        assert (out / ".failed" / "02_broken.ipynb").exists()


def test_the_failed_run_is_reported_from_python_too(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_broken.ipynb", "1 / 0")
    with pytest.raises(NotebookFailed) as info:
        run(data_dir=tmp_path, out_dir=tmp_path / "r", notebooks_dir=nbs, demo_if_empty=False,
            kernel_name="python3", progress=lambda m: None)
    assert (info.value.notebook, info.value.cell, info.value.ename) == ("01_broken.ipynb", 3, "ZeroDivisionError")


def test_demo_world_is_generated_only_when_asked_or_in_the_projects_own_data_folder(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_echo.ipynb", ECHO)
    run(data_dir=tmp_path / "data", out_dir=tmp_path / "r", notebooks_dir=nbs, demo=True, demo_accounts=40,
        demo_months=3, progress=lambda m: None)
    assert (tmp_path / "data" / "raw" / "events.parquet").exists()
    assert (tmp_path / "data" / "raw" / "truth.json").exists()
    # a mistyped --data-dir is an error, not a demo world published in its place
    say = lambda m: None  # noqa: E731
    with pytest.raises(ConfigError, match="does not exist.*--demo"):
        prepare_data(tmp_path / "dta", None, 42, 40, 3, say)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no raw tables in .*empty.*--demo"):
        prepare_data(tmp_path / "empty", None, 42, 40, 3, say)
    assert not (tmp_path / "dta").exists() and not list((tmp_path / "empty").iterdir())
    assert prepare_data(tmp_path / "data", None, 42, 40, 3, say)  # simulated data: the reports say so
    proc = subprocess.run([sys.executable, "-m", "engage_models", "run", "--data-dir", str(tmp_path / "dta"),
                           "--out", str(tmp_path / "r2")], capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and not (tmp_path / "r2").exists()


def test_data_quality_report_end_to_end(report_data, tmp_path):
    """The real notebook on the small world: counts, reasons, figures, escaped user text."""
    out = tmp_path / "reports"
    paths = run(data_dir=report_data, out_dir=out, only=["01"], run_date=REPORT_RUN_DATE, progress=lambda m: None)
    html = (out / "latest" / "01_data_quality.html").read_text(encoding="utf-8")
    assert html.replace("&#x27;", "'").count(HOSTILE.replace("<", "&lt;").replace(">", "&gt;").replace("& ", "&amp; "))
    assert "observation date <strong>1 Jan 2025</strong>" in html
    assert "Simulated data (demo world)" in html  # the small world is simulated: every page says so
    assert paths == [out.resolve() / REPORT_RUN_DATE / "01_data_quality.html"]
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


# ------------------------------------------------------------------------------------ run dates and index
def _tree(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_run_date_layout_latest_copy_and_index(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_first.ipynb", "print('first report')")
    _notebook(nbs / "02_second.ipynb", "print('second report')")
    path = nbs / "02_second.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("# Second: the title", metadata={"tags": ["lang-en"]}))
    nbformat.write(nb, path)
    out = tmp_path / "reports"

    def go(day, **kw):
        return run(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo_if_empty=False, run_date=day,
                   progress=lambda m: None, **kw)

    paths = go("2025-07-01", as_of="2025-06-30")
    assert paths == [out.resolve() / "2025-07-01" / n for n in ("01_first.html", "02_second.html")]
    go("2025-07-02", as_of="2025-07-01")
    go("2025-06-15", as_of="2025-06-14")  # a backfill: an older run date does not become latest
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE) == ["2025-06-15", "2025-07-01", "2025-07-02",
                                                                         "index.html", "latest"]
    day = out / "2025-07-02"
    assert {str(p) for p in _tree(day)} == {"01_first.html", "02_second.html", "index.html", "run.json",
                                            "executed/01_first.ipynb", "executed/02_second.ipynb"}
    assert not (out / "latest").is_symlink() and _tree(out / "latest") == _tree(day)
    for folder in (day, out / "latest"):  # the same page opens from either folder: nothing outside it is used
        html = (folder / "02_second.html").read_text(encoding="utf-8")
        _assert_self_contained_without_code(html)
        assert "second report" in html and "<title>Second: the title</title>" in html
        assert not re.findall(r"""(?:src|href)\s*=\s*["'](?!data:|#)""", html)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="2025-07-02/01_first.html">01_first</a>' in index
    assert '<a href="2025-07-02/02_second.html">Second: the title</a>' in index
    assert "Run date 2 Jul 2025" in index and "<th>observation date</th><td>1 Jul 2025</td>" in index
    assert "<th>churn horizon</th><td>90 days</td>" in index and "<th>language</th><td>English</td>" in index
    earlier = index[index.index("Earlier runs"):]
    assert earlier.index('href="2025-07-01/index.html"') < earlier.index('href="2025-06-15/index.html"')
    assert '<a href="01_first.html">' in (day / "index.html").read_text(encoding="utf-8")
    record = json.loads((day / "run.json").read_text(encoding="utf-8"))
    assert record["run_date"] == "2025-07-02" and record["parameters"]["as_of"] == "2025-07-01"
    go("2025-07-02", as_of="2025-07-01", lang="ja")  # the same date again replaces it, and its index
    assert "実行日 2025年7月2日" in (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in (out / "latest" / "01_first.html").read_text(encoding="utf-8")


def test_keep_runs_removes_older_run_folders_but_not_one_a_failed_reports_page_links_to(tmp_path):
    """A weekly run's folder is about 10 MB at 190 accounts: ``keep_runs`` bounds the reports folder, keeping this
    run's folder (a backfill too) and the earlier version a failed report's page links to."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_first.ipynb", "print('first report')")
    _notebook(nbs / "02_second.ipynb", "assert lang == 'en', 'the second report fails in Japanese'")
    out = tmp_path / "reports"

    def go(day, keep, lang="en"):
        return run(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo_if_empty=False, run_date=day, lang=lang,
                   as_of=day, keep_runs=keep, progress=lambda m: None)

    def dated():
        return sorted(p.name for p in out.iterdir() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name))

    for day in ("2025-07-01", "2025-07-08", "2025-07-15"):
        go(day, keep=2)
    assert dated() == ["2025-07-08", "2025-07-15"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="2025-07-08/index.html"' in index and "2025-07-01/" not in index
    result = go("2025-07-22", keep=1, lang="ja")  # the second report fails: its page links to 15 Jul's
    assert [f["notebook"] for f in result.failed] == ["02_second.ipynb"]
    assert dated() == ["2025-07-15", "2025-07-22"]
    assert 'href="../2025-07-15/02_second.html"' in (out / "latest" / "02_second.html").read_text(encoding="utf-8")
    record = json.loads((out / "2025-07-22" / "run.json").read_text(encoding="utf-8"))
    assert record["failed"][0]["earlier"] == "2025-07-15"
    go("2025-06-24", keep=1)  # a backfill keeps its own folder
    assert dated() == ["2025-06-24", "2025-07-15", "2025-07-22"]
    go("2025-07-29", keep=1)  # nothing failed in the newest run: it alone is kept
    assert dated() == ["2025-07-29"] and (out / "latest" / "02_second.html").is_file()
    go("2025-08-05", keep=None)  # no retention asked: nothing removed
    assert dated() == ["2025-07-29", "2025-08-05"]
    # a review: a partial rerun (--only 01) of a date whose second report failed dropped the failure from run.json,
    # and the folder its carried-over page links to was removed
    go("2025-08-12", keep=None, lang="ja")  # 02 fails, its page links to 5 Aug
    run(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo_if_empty=False, run_date="2025-08-12", lang="ja",
        as_of="2025-08-12", keep_runs=1, only=["01"], progress=lambda m: None)
    record = json.loads((out / "2025-08-12" / "run.json").read_text(encoding="utf-8"))
    assert [(f["notebook"], f["earlier"]) for f in record["failed"]] == [("02_second.ipynb", "2025-08-05")]
    assert dated() == ["2025-08-05", "2025-08-12"]


def test_a_partial_run_keeps_the_dates_other_reports_only_with_the_same_parameters(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_first.ipynb", "print('first report')")
    _notebook(nbs / "02_second.ipynb", "print('second report')")
    out = tmp_path / "reports"
    kw = dict(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo_if_empty=False, run_date="2025-07-01",
              progress=lambda m: None)
    run(**kw)
    first = (out / "2025-07-01" / "01_first.html").read_bytes()
    assert run(**kw, only=["02"]) == [out.resolve() / "2025-07-01" / "02_second.html"]
    assert (out / "latest" / "01_first.html").read_bytes() == first
    assert (out / "latest" / "executed" / "01_first.ipynb").exists()
    assert [r["notebook"] for r in json.loads((out / "latest" / "run.json").read_text())["reports"]] == [
        "01_first.ipynb", "02_second.ipynb"]
    run(**kw, only=["02"], lang="ja")  # other parameters: the English first report is not mixed in
    assert sorted(p.name for p in (out / "latest").glob("*.html")) == ["02_second.html", "index.html"]
    run(**kw, lang="ja")
    run(**kw, only=["02"], lang="ja", timezone="Asia/Tokyo")  # another calendar: another run, too
    assert sorted(p.name for p in (out / "latest").glob("*.html")) == ["02_second.html", "index.html"]
    record = json.loads((out / "latest" / "run.json").read_text())
    assert record["parameters"]["timezone"] == "Asia/Tokyo" and record["started"].endswith(" JST")
    assert "タイムゾーン</th><td>Asia/Tokyo" in (out / "index.html").read_text(encoding="utf-8")
    # a run recorded before the calendar was a parameter was on UTC: a UTC run keeps its reports
    run(**kw)
    for name in ("latest", "2025-07-01"):
        path = out / name / "run.json"
        old = json.loads(path.read_text())
        old["parameters"].pop("timezone")
        path.write_text(json.dumps(old))
    run(**kw, only=["02"])
    assert sorted(p.name for p in (out / "latest").glob("*.html")) == ["01_first.html", "02_second.html",
                                                                      "index.html"]


def test_files_a_notebook_writes_to_its_output_dir_are_published_and_listed(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_export.ipynb", "import pathlib\npathlib.Path(output_dir, 'actions.csv').write_text('a,b\\n')",
              params="data_dir = None\noutput_dir = None\n")
    out = tmp_path / "reports"
    run(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo_if_empty=False, run_date="2025-07-01",
        progress=lambda m: None)
    assert (out / "2025-07-01" / "actions.csv").read_text() == "a,b\n"
    assert (out / "latest" / "actions.csv").exists()
    assert '<a href="2025-07-01/actions.csv">actions.csv</a>' in (out / "index.html").read_text(encoding="utf-8")
    assert json.loads((out / "latest" / "run.json").read_text())["files"] == ["actions.csv"]


def test_run_date_defaults_to_today_in_utc_and_bad_dates_are_refused(tmp_path):
    from datetime import UTC, datetime

    assert parse_run_date() == datetime.now(UTC).date().isoformat()
    assert parse_run_date("2025-07-01") == "2025-07-01"
    for bad in ("2025-13-01", "1 July 2025", "2025-7-1"):
        with pytest.raises(ValueError, match="run date"):
            parse_run_date(bad)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "run", "--run-date", "yesterday",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "run date must be a date YYYY-MM-DD" in proc.stderr


def _outputs(path: Path, mask: re.Pattern) -> list[tuple]:
    """What a reader sees of an executed notebook: every output of every code cell (text, tables, images),
    without execution counts and metadata (timings), with the run's own timestamps masked."""
    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            body = o.get("text") if o.output_type == "stream" else json.dumps(o.get("data", o), sort_keys=True)
            found.append((i, o.output_type, mask.sub("<now>", body)))
    return found


@pytest.mark.extended  # every notebook rendered twice; every make test renders each once (test_reports)
def test_the_same_run_renders_the_same_reports(report_data, tmp_path):
    """Every notebook, rendered twice from the same run: identical outputs, figures included (PNG bytes); that the
    stages compute the same artifacts from the same data is tested in test_pipeline."""
    from datetime import UTC, datetime

    from engage_models._core.i18n import fmt_date

    today = datetime.now(UTC).date()
    written = "|".join(re.escape(d) for d in (today.isoformat(), fmt_date(today, "en"), fmt_date(today, "ja")))
    mask = re.compile(rf"(?:{written})[T ]\d{{2}}:\d{{2}}(:\d{{2}})?")  # "validated at <now>": wall-clock time
    for out in ("a", "b"):
        result = run(data_dir=report_data, out_dir=tmp_path / out, run_date=REPORT_RUN_DATE, progress=lambda m: None,
                     rerender=True)  # both executed: the kept executed copies are what is tested here
        assert result.failed == [], result.failed
    first, second = (tmp_path / x / REPORT_RUN_DATE / "executed" for x in ("a", "b"))
    names = sorted(p.name for p in first.glob("*.ipynb"))
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for name in names:
        a, b = _outputs(first / name, mask), _outputs(second / name, mask)
        assert len(a) > 3 and any("image/png" in x[2] for x in a), name
        assert a == b, f"{name}: outputs differ between two renderings of the same run"


def test_an_unchanged_report_is_exported_again_without_executing_its_notebook(report_data, tmp_path):
    """The second run with the same artifacts, notebook, code and parameters exports the kept executed notebook
    (the same outputs) with this run's title line; another parameter, or ``rerender``, executes it again.
    Its own data folder (report 01 needs only ingest and quality): the other report tests keep renders of
    their own in the shared one."""
    import shutil

    from engage_models.reports.runner import RENDERED_DIR

    data = tmp_path / "data"
    shutil.copytree(report_data / "raw", data / "raw")
    report_data = data

    def go(out, **kw):
        said = []
        result = run(data_dir=report_data, out_dir=tmp_path / out, only=["01"], run_date=REPORT_RUN_DATE,
                     progress=said.append, **kw)
        assert result.failed == [] and len(result) == 1
        return " ".join(said), tmp_path / out / REPORT_RUN_DATE

    said, _ = go("warm")
    assert "01_data_quality.ipynb done" in said  # a new data folder: executed, and kept
    kept = sorted((report_data / "artifacts" / RENDERED_DIR).glob("01_data_quality-*.ipynb"))
    assert len(kept) == 1
    said, first = go("a")
    assert "01_data_quality.ipynb unchanged, exported again" in said
    mask = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
    said, second = go("b", rerender=True)
    assert "01_data_quality.ipynb done" in said
    name = "01_data_quality.ipynb"
    assert _outputs(first / "executed" / name, mask) == _outputs(second / "executed" / name, mask)
    a, b = ((d / "01_data_quality.html").read_text(encoding="utf-8") for d in (first, second))
    assert mask.sub("<now>", a) == mask.sub("<now>", b)  # the same page, but for the time of the run
    _assert_self_contained_without_code(a)
    said, _ = go("c", lang="ja")  # another parameter the notebook takes: executed, and kept beside the first
    assert "01_data_quality.ipynb done" in said
    assert len(list((report_data / "artifacts" / RENDERED_DIR).glob("01_data_quality-*.ipynb"))) == 2


def test_the_render_key_follows_what_a_report_shows(tmp_path):
    """The key changes with the notebook's text, a stage's key, reason or skipped sections, and a parameter;
    not with the run's staging folder or a stage's status and time."""
    from engage_models.reports.runner import render_key

    nb = _notebook(tmp_path / "x.ipynb", "print(1)")
    stages = [{"name": "panel", "status": "computed", "key": "k1", "seconds": 3.0, "reason": None, "kind": None,
               "skipped": []}]
    cfg = {"lang": "en", "currency": "USD"}
    base = render_key(nb, {"x": 1, "run_dir": "/tmp/a"}, "python3", stages, cfg)
    same = render_key(nb, {"x": 1, "run_dir": "/tmp/b"}, "python3",
                      [{**stages[0], "status": "reused", "seconds": 0.1}], dict(cfg))
    assert base == same
    changed = [render_key(nb, {"x": 2, "run_dir": "/tmp/a"}, "python3", stages, cfg),
               render_key(nb, {"x": 1}, "other-kernel", stages, cfg),
               render_key(nb, {"x": 1}, "python3", [{**stages[0], "key": "k2"}], cfg),
               render_key(nb, {"x": 1}, "python3", [{**stages[0], "skipped": [{"section": "s"}]}], cfg),
               render_key(nb, {"x": 1}, "python3", [{**stages[0], "key": None, "reason": "too few"}], cfg),
               render_key(nb, {"x": 1}, "python3", stages, {**cfg, "currency": "JPY"})]
    assert len({base, *changed}) == 7
    _notebook(nb, "print(2)")
    assert render_key(nb, {"x": 1, "run_dir": "/tmp/a"}, "python3", stages, cfg) != base


def test_a_report_executes_as_soon_as_the_stages_it_reads_are_done(small_world, tmp_path):
    """A notebook reading the quality stage starts while the pipeline goes on to the panel: the pipeline is
    held at the panel's start until the notebook has begun (it would wait in vain if the notebook were
    executed after the pipeline), and the notebook sees the run as it stood, ingest and quality. The report
    reading the KPIs runs after them; both are published with the run's title line."""
    import shutil
    import threading
    import time

    from engage_models._core.i18n import fmt_date

    data = tmp_path / "data"
    shutil.copytree(small_world / "raw", data / "raw")
    marks = tmp_path / "marks"
    marks.mkdir()
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    seen = ("from engage_models.pipeline import open_run\n"
            "import pathlib\n"
            "stages = list(open_run(run_dir).records)\n"
            f"pathlib.Path({str(marks)!r}, NAME).write_text(','.join(stages))\n"
            "print('stages seen:', len(stages))")
    for name, needs in (("01_early", ["quality"]), ("02_late", ["kpis"])):
        nb = _notebook(nbs / f"{name}.ipynb", f"NAME = {name!r}", seen, params="run_dir = None\n")
        book = nbformat.read(nb, as_version=4)
        book.metadata["engage"] = {"needs": needs}
        nbformat.write(book, nb)
    held = {}

    def progress(message: str) -> None:
        if message.strip().startswith("panel ") and "panel" not in held:
            t0 = time.perf_counter()
            while not (marks / "01_early").exists() and time.perf_counter() - t0 < 120:
                time.sleep(0.1)
            held["panel"] = (marks / "01_early").exists()
            held["thread"] = threading.current_thread() is threading.main_thread()

    result = run(data_dir=data, out_dir=tmp_path / "out", notebooks_dir=nbs, run_date=REPORT_RUN_DATE,
                 progress=progress, kernel_name="python3")
    assert result.failed == [] and len(result) == 2
    assert held == {"panel": True, "thread": True}
    assert (marks / "01_early").read_text() == "ingest,quality"
    assert (marks / "02_late").read_text() == "ingest,quality,panel,kpis"
    day = tmp_path / "out" / REPORT_RUN_DATE
    for name in ("01_early", "02_late"):
        html = (day / f"{name}.html").read_text(encoding="utf-8")
        assert "stages seen:" in html and fmt_date(REPORT_RUN_DATE, "en") in html  # the title line, at the end
    record = json.loads((day / "run.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in record["stages"]] == ["ingest", "quality", "panel", "kpis"]


def test_report_01_warns_when_amounts_carry_another_currencys_sign_than_the_runs(tmp_path):
    """MRR exported as ¥1,200 (read with thousands: ','), the run left in its default USD: report 01 says the
    amounts carry the yen's sign and how to give the run its currency; a run in JPY says nothing of it."""
    from test_ingest import _tables, _write

    t = _tables()
    for row, mrr in zip(t["accounts"], ("¥1,200", "1,200円"), strict=True):
        row["mrr"] = mrr
    raw = _write(tmp_path / "data" / "raw", t)
    (raw / "sources.yaml").write_text("tables:\n  accounts: {thousands: ','}\n", encoding="utf-8")
    said = "the values of mrr are written with the sign of another currency than the run"
    for currency, day in (("USD", "2026-01-01"), ("JPY", "2026-01-02")):
        result = run(data_dir=tmp_path / "data", out_dir=tmp_path / "out", only=["01"], run_date=day,
                     currency=currency, progress=lambda m: None)
        assert not result.no_data
        html = (tmp_path / "out" / day / "01_data_quality.html").read_text(encoding="utf-8")
        assert (said in html) == (currency == "USD"), currency
        if currency == "USD":
            assert "(¥ 1 row, 円 1 row): the reports show them as USD" in html and "--currency" in html
        assert "more than one currency" not in html  # ¥ and 円 are one currency
    # in Japanese, in Japanese (it was "詳細（英語）：accounts: the values of mrr ..."), and a file by its place in
    # the data folder, not the machine's path
    t["tickets"][0]["opened_at"] = "1/5/2024"
    _write(raw, t)
    run(data_dir=tmp_path / "data", out_dir=tmp_path / "out", only=["01"], run_date="2026-01-03", currency="USD",
        lang="ja", progress=lambda m: None)
    html = (tmp_path / "out" / "2026-01-03" / "01_data_quality.html").read_text(encoding="utf-8")
    assert "別の通貨の記号で書かれています（¥ 1行、円 1行）" in html and "詳細（英語）" not in html
    assert "tickets：tickets.csv の1行で、opened_at の値が日付として読めません" in html
    assert str(tmp_path) not in html


def test_a_world_whose_every_row_is_quarantined_gets_a_data_quality_report_that_says_why(tmp_path):
    """Dates a spreadsheet wrote (1/5/2024) without a date_format: every account is quarantined and every event
    with it. The run says that (not "the events table is empty") and report 01 renders, saying it."""
    from test_ingest import _tables, _write

    t = _tables()
    out = tmp_path / "reports"
    _write(tmp_path / "data" / "raw", t)
    good = run(data_dir=tmp_path / "data", out_dir=out, only=["01"], run_date="2025-12-31", progress=lambda m: None)
    assert not good.no_data and good.exit_code in (0, 3)
    kept = _tree(out / "latest")
    for row in t["accounts"]:
        row["start_date"] = f"{HOSTILE} 1/5/2024"  # the reason quotes the value: it must reach the page as text
    _write(tmp_path / "data" / "raw", t)
    result = run(data_dir=tmp_path / "data", out_dir=out, only=["01"], run_date="2026-01-01",
                 progress=lambda m: None)
    html = (out / "2026-01-01" / "01_data_quality.html").read_text(encoding="utf-8")
    assert "Traceback" not in html and "KeyError" not in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "no event was kept, accounts: all 2 rows quarantined (unparseable start_date: 2), events: all 3 rows" in html
    assert "sources.yaml can say how dates and numbers are written" in html
    assert "give its format as date_format in sources.yaml" in html  # ingest's warning, in report 01
    # the tables that lost every row are said once, by the reason itself, not again among ingest's warnings
    warned = html.split("Ingest warned: ", 1)[1].split("<", 1)[0]
    assert "date_format" in warned and "was quarantined (" not in warned and "every one of the" not in warned
    assert str(tmp_path) not in html and " of accounts.csv hold" in html  # the file, by its place in the raw folder
    # every section says why it is empty: four showed their heading and nothing under it (rows read, columns,
    # warnings, quarantine reasons)
    for section in re.split(r"<h2\b", html)[1:]:
        assert "Not computed" in section, re.sub(r"<[^>]+>", "", section)[:80]
    # the last reports with data stay at the stable address; the index says so and links both
    assert result.no_data and result.exit_code == 4
    assert _tree(out / "latest") == kept
    assert json.loads((out / "2026-01-01" / "run.json").read_text())["no_data"] is True
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "This run had no usable data" in index and "The last reports with data, of 31 Dec 2025, stay in" in index
    assert '<a href="2026-01-01/01_data_quality.html">' in index
    # once the data are fixed, latest/ follows again
    _write(tmp_path / "data" / "raw", _tables())
    again = run(data_dir=tmp_path / "data", out_dir=out, only=["01"], run_date="2026-01-02", progress=lambda m: None)
    assert not again.no_data
    assert json.loads((out / "latest" / "run.json").read_text())["run_date"] == "2026-01-02"
    assert "no usable data" not in (out / "index.html").read_text(encoding="utf-8")
    # the same date again without data: its good reports live on in latest/ only, and a backfill keeps them
    bad = _tables()
    for row in bad["accounts"]:
        row["start_date"] = "1/5/2024"
    _write(tmp_path / "data" / "raw", bad)
    assert run(data_dir=tmp_path / "data", out_dir=out, only=["01"], run_date="2026-01-02",
               progress=lambda m: None).no_data
    held = json.loads((out / "latest" / "run.json").read_text())
    assert held["run_date"] == "2026-01-02" and not held.get("no_data")
    assert "The last reports with data, of 2 Jan 2026, stay in" in (out / "index.html").read_text(encoding="utf-8")
    _write(tmp_path / "data" / "raw", _tables())
    run(data_dir=tmp_path / "data", out_dir=out, only=["01"], run_date="2026-01-01", progress=lambda m: None)
    assert json.loads((out / "latest" / "run.json").read_text()) == held


def test_a_first_run_without_usable_data_makes_no_latest_folder_and_exits_4(tmp_path):
    from test_ingest import _tables, _write

    t = _tables()
    for row in t["accounts"]:
        row["start_date"] = "1/5/2024"
    _write(tmp_path / "data" / "raw", t)
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "engage_models", "run", "--data-dir", str(tmp_path / "data"),
                           "--out", str(out), "--only", "01", "--run-date", "2026-01-01", "--no-demo"],
                          capture_output=True, text=True)
    assert proc.returncode == 4, proc.stderr
    assert "no usable data" in proc.stderr
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE) == ["2026-01-01", "index.html"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "This run had no usable data" in index and 'href="latest/' not in index


def test_a_failed_notebooks_traceback_is_published_without_the_machines_paths(tmp_path):
    """The executed notebook of a failed report is published (executed/) for analysts: its traceback, which
    runs through the package's files, names no folder of this machine."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_ok.ipynb", "print('first is fine')")
    _notebook(nbs / "02_broken.ipynb", "from engage_models.reports.runner import parse_run_date\n"
                                       "parse_run_date('not a date')")
    out = tmp_path / "reports"
    (tmp_path / "data").mkdir()
    proc = subprocess.run([sys.executable, "-m", "engage_models", "run", "--data-dir", str(tmp_path / "data"),
                           "--out", str(out), "--notebooks-dir", str(nbs), "--no-demo", "--kernel", "python3",
                           "--run-date", "2025-07-02"], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    executed = (out / "2025-07-02" / "executed" / "02_broken.ipynb").read_text(encoding="utf-8")
    assert "parse_run_date" in executed and "_core/time.py" in executed  # the traceback is there ...
    published = [p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file()]
    for path in {str(ROOT), sys.prefix, str(Path.home()), str(tmp_path)}:
        assert not any(path in text for text in published), path  # ... without this machine's folders


@pytest.mark.parametrize("lang, alt", [("en", "Figure: Churn &lt;by&gt; month"), ("ja", "図：月別の解約")])
def test_every_figure_says_what_it_shows_in_the_reports_language(tmp_path, lang, alt):
    """A figure's alternative text is its section's heading (screen readers; a mail client that blocks images),
    in the report's language, escaped; not nbconvert's "No description has been provided"."""
    import base64

    from engage_models.reports.runner import export_html

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Churn <by> month", metadata={"tags": ["lang-en"]}),
        nbformat.v4.new_markdown_cell("## 月別の解約", metadata={"tags": ["lang-ja"]}),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": png, "text/plain": "<Figure>"})]),
    ])
    html = export_html(nb, tmp_path / "r.html", lang=lang, title="Report").read_text(encoding="utf-8")
    assert f'alt="{alt}"' in html and "No description has been provided" not in html
    assert html.count("<img") == 1 and f"data:image/png;base64,{png}" in html


def test_a_figures_alt_text_is_the_heading_as_words_not_a_comment_or_markup(tmp_path):
    """The nearest heading above a figure, as a reader hears it: a `#` line inside a fenced block is no heading,
    code marks, emphasis and links are reduced to their words, and a heading the code displayed counts."""
    import base64

    from engage_models.reports.runner import _AltText, export_html

    assert _AltText.headings("## The `score` and **drivers** [why](https://x) ##\n```\n# a comment\n```\n#tag") == \
        ["The score and drivers why"]
    assert _AltText.headings("# Time to `first_export`\n## churn_rate by _plan_\n~~~\n```\n~~~\n# after") == \
        ["Time to first_export", "churn_rate by plan", "after"]  # names keep their underscores; fences pair
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    def figure():
        return nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Bands of the `score`\n\n```python\n# not a heading\n```"),
        nbformat.v4.new_code_cell("plot()", outputs=[figure()]),
        nbformat.v4.new_code_cell("show()", outputs=[
            nbformat.v4.new_output("display_data", data={"text/markdown": "### Drivers of *churn*",
                                                         "text/plain": "Drivers"}), figure()]),
    ])
    html = export_html(nb, tmp_path / "r.html", lang="en", title="Report").read_text(encoding="utf-8")
    assert 'alt="Figure: Bands of the score"' in html and 'alt="Figure: Drivers of churn"' in html


@pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")
def test_report_kernels_talk_over_private_unix_sockets_and_leave_none_behind(tmp_path, monkeypatch, capfd):
    """ipykernel 7 warned once per notebook in the run's log that the kernel ran over TCP without encryption
    (loopback ports any local user can reach). The reports' kernels use Unix sockets in a private folder of
    their own, removed when the kernel stops; two kernels at once (the runner's workers) do not collide."""
    import os
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    import papermill as pm

    from engage_models.reports import runner as R

    short = Path(tempfile.mkdtemp(prefix="ek"))  # a socket's path has at most 107 characters; tmp_path is long
    monkeypatch.setenv("TMPDIR", str(short))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getpid())")]
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    manager = R._kernel_manager_class()
    assert manager.__name__ == "IPCKernelManager"

    def execute(i):
        out = tmp_path / f"out{i}.ipynb"
        try:
            pm.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False,
                                kernel_manager_class=manager, stderr_file=None)
        finally:
            R.close_thread_loop()  # as the runner's workers do
        return nbformat.read(out, as_version=4).cells[0].outputs[0]["text"]

    with ThreadPoolExecutor(2) as pool:
        pids = list(pool.map(execute, range(2)))
    assert len(set(pids)) == 2 and all(p.strip().isdigit() for p in pids)
    assert "without encryption" not in capfd.readouterr().err
    assert os.listdir(short) == []  # each kernel's socket folder removed with it
    with pytest.raises(Exception, match="no-such-kernel"):  # a kernel that cannot start leaves no folder either
        pm.execute_notebook(str(path), str(tmp_path / "x.ipynb"), kernel_name="no-such-kernel", progress_bar=False,
                            kernel_manager_class=manager)
    assert os.listdir(short) == []
    k = manager(kernel_name="python3")
    assert k.transport == "ipc" and k.ip.startswith(str(short / "engage-kernel-"))
    assert oct(os.stat(os.path.dirname(k.ip)).st_mode & 0o777) == "0o700"
    monkeypatch.undo()  # the temporary folder as it was, before the capture's own temporary files need it
    shutil.rmtree(short)


def test_the_run_date_comes_from_the_option_then_the_configuration_then_today_on_the_calendar(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_first.ipynb", "print('first report')")
    config = tmp_path / "run.yaml"
    config.write_text("run_date: '2025-07-03'\ntimezone: Pacific/Kiritimati\n", encoding="utf-8")
    kw = dict(data_dir=tmp_path, out_dir=tmp_path / "reports", notebooks_dir=nbs, demo_if_empty=False,
              progress=lambda m: None)
    assert run(**kw, run_date="2025-07-01")[0].parent.name == "2025-07-01"
    assert run(**kw, config_file=config)[0].parent.name == "2025-07-03"
    config.write_text("timezone: Pacific/Kiritimati\n", encoding="utf-8")  # UTC+14: a day ahead of UTC by the
    # afternoon; the run is dated by the company's day
    before = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    folder = run(**kw, config_file=config)[0].parent.name
    assert folder in (before, datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat())


def test_a_partial_run_keeps_the_stages_of_the_reports_it_keeps(tmp_path, small_world):
    """After engage run --only 01 the folder still held the health report and its artifacts, but run.json named
    only the stages the partial run needed: open_run(...).scores and a report rendered again from the folder
    said "the health stage did not run" (a new user's run of the README)."""
    import shutil

    from engage_models.pipeline import open_run
    from engage_models.reports.runner import NOTEBOOK_META

    data = tmp_path / "data"
    shutil.copytree(small_world / "raw", data / "raw")
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for name, needs in (("01_first", ["ingest"]), ("02_second", ["kpis"])):
        path = _notebook(nbs / f"{name}.ipynb", f"print('{name}')", params="run_dir = None\n")
        nb = nbformat.read(path, as_version=4)
        nb.metadata[NOTEBOOK_META] = {"needs": needs}
        nbformat.write(nb, path)
    out = tmp_path / "reports"
    kw = dict(data_dir=data, out_dir=out, notebooks_dir=nbs, run_date="2025-01-15", progress=lambda m: None)
    run(**kw)
    full = json.loads((out / "latest" / "run.json").read_text())
    assert [st["name"] for st in full["stages"]] == ["ingest", "quality", "panel", "kpis"]
    run(**kw, only=["01"])
    record = json.loads((out / "latest" / "run.json").read_text())
    assert [st["name"] for st in record["stages"]] == ["ingest", "quality", "panel", "kpis"]
    assert {st["name"]: st["key"] for st in record["stages"]} == {st["name"]: st["key"] for st in full["stages"]}
    again = open_run(out / "latest")
    assert len(again.frame("kpis", "summary")) and len(again.panel)
    # the data changed: this run's ingest is another one, and the stages made from the old one are not kept
    events = data / "raw" / "events.parquet"
    import pandas as pd

    pd.read_parquet(events).iloc[::2].to_parquet(events)
    run(**kw, only=["01"])
    record = json.loads((out / "latest" / "run.json").read_text())
    assert [st["name"] for st in record["stages"]] == ["ingest"]
    assert record["stages"][0]["key"] != full["stages"][0]["key"]
    assert not (out / "latest" / "artifacts" / "panel").exists()
    run(**kw)
    run(**kw, only=["01"], lang="ja")  # other parameters: the other reports and their stages are not kept
    record = json.loads((out / "latest" / "run.json").read_text())
    assert [st["name"] for st in record["stages"]] == ["ingest"]


def test_kept_stages_need_this_run_s_inputs_and_no_old_file_enters_a_stage_this_run_made(tmp_path):
    """A review: a failed or skipped stage of the previous run (no manifest) was kept whatever its inputs; and an
    older version's file (a section this run did not write) was copied into the stage folder this run exported."""
    from engage_models.reports.runner import _carry_over, _keep_stages

    before = {"stages": [{"name": "ingest", "key": "I1"}, {"name": "quality", "key": "Q1"},
                         {"name": "health", "key": None, "status": "failed"},
                         {"name": "survival", "key": None, "status": "skipped"}],
              "skipped": [{"stage": "health", "section": "*"}], "not_due": []}
    for ingest_key, names in (("I2", ["ingest"]), ("I1", ["ingest", "quality", "health", "survival"])):
        record = {"stages": [{"name": "ingest", "key": ingest_key}], "skipped": [], "not_due": []}
        _keep_stages(record, before, tmp_path)
        assert [st["name"] for st in record["stages"]] == names
        assert bool(record["skipped"]) == (ingest_key == "I1")
    previous, staging = tmp_path / "prev", tmp_path / "stage"
    for path in (previous / "artifacts" / "surveys" / "old.json", previous / "artifacts" / "health" / "h.json",
                 staging / "artifacts" / "surveys" / "new.json"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (previous / "run.json").write_text(json.dumps({"parameters": {}, "reports": [], "data_key": None}))
    entries, kept = _carry_over(previous, staging, [], {"data_key": None, "timezone": "UTC"}, lambda m: None)
    assert kept is not None and (staging / "artifacts" / "health" / "h.json").exists()
    assert not (staging / "artifacts" / "surveys" / "old.json").exists()


def test_a_partial_run_names_the_parameters_that_differ_from_the_reports_it_replaces(tmp_path):
    """--only with another --timezone said "replacing the reports of 2024-03-01: they were made with other
    parameters", and the user had to guess which: each parameter that differs is named with both values (a run
    recorded before --timezone existed was made at UTC)."""
    from engage_models.reports.runner import _carry_over

    previous = tmp_path / "2024-03-01"
    previous.mkdir()
    params = {"as_of": None, "horizon_days": 90, "lang": "en", "seed": 7, "data_key": "k"}
    (previous / "run.json").write_text(json.dumps({"parameters": params, "reports": [], "data_key": "k"}))
    said = []
    entries, kept = _carry_over(previous, tmp_path / "staging", [], {**params, "timezone": "Asia/Tokyo"}, said.append)
    assert kept is None and said == ["replacing the reports of 2024-03-01: they were made with other parameters: "
                                     "timezone UTC (this run: Asia/Tokyo)"]
    said.clear()
    _carry_over(previous, tmp_path / "staging", [], {**params, "timezone": "UTC", "horizon_days": 30, "seed": 8,
                                                     "as_of": "2024-02-15", "data_key": "other"}, said.append)
    assert said == ["replacing the reports of 2024-03-01: they were made with other parameters: another data folder, "
                    "as_of not set (this run: 2024-02-15), horizon_days 90 (this run: 30), seed 7 (this run: 8)"]


def test_the_index_and_banner_say_when_a_run_started_in_the_reader_s_words():
    """A Japanese index and every report's banner said 開始 2026-12-05 07:29 JST and (00_executive_summary.ipynb,
    8 s) beside dates written 2026年12月5日."""
    from engage_models.reports.runner import _run_section, _started

    assert _started("2026-12-05 07:29 JST", "ja") == "2026年12月5日 07:29 JST"
    assert _started("2026-12-05 07:29 UTC", "en") == "5 Dec 2026 07:29 UTC"
    assert _started("sometime", "ja") == "sometime"  # a form it does not know: as kept
    run_record = {"run_date": "2026-12-05", "started": "2026-12-05 07:29 JST",
                  "reports": [{"html": "00.html", "title": "サマリー", "notebook": "00_executive_summary.ipynb",
                               "seconds": 8.4}], "parameters": {}}
    page = _run_section(run_record, "2026-12-05/", "ja")
    assert "開始 2026年12月5日 07:29 JST" in page and "（00_executive_summary.ipynb、8秒）" in page
    assert "(00_executive_summary.ipynb, 8 s)" in _run_section(run_record, "2026-12-05/", "en")


def test_a_run_exits_3_when_something_broke_and_0_when_only_thin_data_left_sections_out(tmp_path):
    """24 weekly runs exited 3 for a persona landmark not yet reached, the same code as a week when two reports
    failed: an Airflow task failed every week for nothing anyone could do."""
    from engage_models.reports.runner import RunResult

    thin = [{"stage": "personas", "section": "milestone_effect", "reason": "9 accounts", "kind": "insufficient_data"},
            {"stage": "actions", "section": "*", "reason": "needs health", "kind": "skipped"}]
    assert RunResult([], [], thin, tmp_path).exit_code == 0
    assert RunResult([], [], thin, tmp_path, broken=["actions"]).exit_code == 3  # no action list for the CRM
    error = [*thin, {"stage": "health", "section": "backtest_hand", "reason": "it failed", "kind": "error"}]
    assert RunResult([], [], error, tmp_path).exit_code == 3
    assert RunResult([], [{"notebook": "02.ipynb"}], thin, tmp_path).exit_code == 3
    assert RunResult([], [], thin, tmp_path, delivery=[{"status": "failed"}]).exit_code == 3
    assert RunResult([], [], [], tmp_path, no_data=True).exit_code == 4
    # what made it 3, in a line each (the console's last line, run.json's "broken"); nothing for thin data
    assert RunResult([], [], thin, tmp_path).why() == []
    assert RunResult([], [{"notebook": "02.ipynb"}], error, tmp_path,
                     delivery=[{"status": "failed", "target": "webhook"}]).why() == [
        "report not made: 02.ipynb", "health / backtest_hand: it failed", "delivery failed: webhook"]


def test_an_action_list_too_thin_to_make_on_a_folder_that_never_had_one_is_thin_not_broken():
    """Every account of a hand-written world had churned by the observation date: the health score was made, the
    actions stage said "no account is a customer ... no action list for a customer base that has left" (thin
    data, recorded as failed with kind insufficient_data), and the first run of the folder exited 3, "published
    but something broke: no action list for the CRM". Thin is 0 until an earlier run made a list; an error is 3."""
    from engage_models.pipeline.flow import StageRecord
    from engage_models.reports.runner import broken_sections

    thin = {"actions": StageRecord("actions", "failed", reason="no account is a customer", kind="insufficient_data")}
    assert broken_sections([], thin, had_actions=False) == []
    assert broken_sections([], thin, had_actions=True) == [
        "no action list for the CRM (actions: no account is a customer)"]
    error = {"actions": StageRecord("actions", "failed", reason="KeyError: 'x'", kind="error")}
    assert broken_sections([], error, had_actions=False) == ["no action list for the CRM (actions: KeyError: 'x')"]
    skipped = {"actions": StageRecord("actions", "skipped", reason="needs health")}
    assert broken_sections([], skipped, had_actions=False) == []


def test_a_failed_report_s_page_links_the_newest_version_that_rendered_and_never_replaces_a_good_one(tmp_path):
    """A review: two failures in a row linked the second to the first one's page; a partial run (--only) whose
    notebook failed replaced the same day's good report, kept from the earlier run, with the page."""
    from engage_models.reports.runner import _failed_page

    out = tmp_path / "reports"
    for day, rendered in (("2025-07-01", True), ("2025-07-08", False)):
        (out / day).mkdir(parents=True)
        (out / day / "02_b.html").write_text("report" if rendered else "failed page")
        (out / day / "run.json").write_text(json.dumps({"reports": [{"html": "02_b.html"}] if rendered else []}))
    staging = tmp_path / "staging"
    staging.mkdir()
    failure = {"notebook": "02_b.ipynb", "cell": 3, "error": "ValueError: <b>boom</b>"}
    _failed_page(staging, out, "2025-07-15", failure, "en")
    page = (staging / "02_b.html").read_text(encoding="utf-8")
    assert 'href="../2025-07-01/02_b.html"' in page and "2025-07-08" not in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom" not in page  # the error is escaped
    (staging / "02_b.html").write_text("the day's good report, kept by --only")
    assert _failed_page(staging, out, "2025-07-15", failure, "en", kept={"02_b.html"}) is None
    assert (staging / "02_b.html").read_text() == "the day's good report, kept by --only"
    (staging / "02_b.html").write_text("the day's failure page, carried over by --only")  # failed again: written anew
    assert _failed_page(staging, out, "2025-07-15", failure, "en") == "2025-07-01"
    assert 'href="../2025-07-01/02_b.html"' in (staging / "02_b.html").read_text(encoding="utf-8")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _failed_page(fresh, tmp_path / "none", "2025-07-15", failure, "ja")  # nothing earlier: no link
    assert "../" not in (fresh / "02_b.html").read_text(encoding="utf-8")


def test_the_index_lists_earlier_runs_with_the_observation_date_their_data_gave():
    """A year of weekly runs: the index's observation-date column read "latest data" for every run."""
    from engage_models.reports.runner import write_index

    def record(day, as_of):
        return {"run_date": day, "started": f"{day} 06:15 UTC", "parameters": {"lang": "en", "as_of": None},
                "as_of": as_of, "reports": [{"html": "00.html", "title": "Summary", "notebook": "00.ipynb",
                                             "seconds": 1.0}], "failed": [], "skipped": []}

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        runs = [record("2025-12-22", "2025-12-21T00:00:00+00:00"), record("2025-12-15", "2025-12-14T00:00:00+00:00"),
                {**record("2025-12-08", None)}]
        page = write_index(folder, runs).read_text(encoding="utf-8")
    assert "<td>14 Dec 2025</td>" in page and "<td>latest data</td>" in page  # an old record without it
