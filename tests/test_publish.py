"""Safe outputs: a run publishes whole or not at all, a folder it cannot write is one line (exit 2), no machine
path reaches a published file, and parameters are checked through the command line before any work."""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from engage_models._core import locks
from engage_models._core.money import CURRENCIES
from engage_models.cli import main
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.reports import runner
from engage_models.reports.runner import run

pytestmark = pytest.mark.notebook


def _notebook(path: Path, *cells: str, params: str = "data_dir = None\nrun_dir = None\n") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_markdown_cell("# A report")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _tree(folder: Path) -> dict:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def reports(tmp_path):
    """Two echo notebooks, and a reports folder holding one published run (2025-07-01)."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_one.ipynb", "print('one')")
    _notebook(nbs / "02_two.ipynb", "print('two')")
    out = tmp_path / "reports"

    def go(day: str, **kw):
        return run(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo=False, run_date=day,
                   progress=lambda m: None, **kw)

    go("2025-07-01")
    return out, go


@pytest.mark.parametrize("day, fail_at", [("2025-07-02", "latest"), ("2025-07-02", "index.html"),
                                          ("2025-07-01", "2025-07-01"), ("2025-07-01", "latest"),
                                          ("2025-07-01", "index.html")])  # a new date; the same date again
def test_a_failure_while_publishing_leaves_the_previous_reports_exactly_as_they_were(reports, monkeypatch, day,
                                                                                       fail_at):
    """The renames that put a run in place are undone when one of them fails (a folder locked by another
    program): neither the dated folder nor latest/ nor the index changes, and nothing is left behind."""
    out, go = reports
    before = _tree(out)
    rename = runner._rename

    def locked(src, dst):
        if Path(dst).name == fail_at and not Path(src).name.startswith(".old-"):
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        rename(src, dst)

    monkeypatch.setattr(runner, "_rename", locked)
    with pytest.raises(runner.ConfigError, match=r"^cannot publish into .*reports: Permission denied; the "
                                                 r"previous reports are unchanged$"):
        go(day, lang="ja")
    assert _tree(out) == before


def test_a_failure_while_preparing_the_copies_changes_nothing(reports, monkeypatch):
    """The copy for latest/ is made before anything is swapped: a full disk there leaves the folder as it was."""
    out, go = reports
    before = _tree(out)

    def full(src, dst, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner.shutil, "copytree", full)
    with pytest.raises(runner.MachineError, match="the disk is full; the previous reports are unchanged") as info:
        go("2025-07-02")
    assert info.value.exit_code == 1  # nothing published: not "bad input" (2)
    assert _tree(out) == before

    def many(src, dst, *a, **k):  # copytree's own error lists every file it could not copy: said in one line
        raise runner.shutil.Error([(f"{src}/f{i}", f"{dst}/f{i}", "[Errno 5] Input/output error")
                                   for i in range(2000)])

    monkeypatch.setattr(runner.shutil, "copytree", many)
    with pytest.raises(runner.MachineError) as info:
        go("2025-07-02")
    assert str(info.value).endswith("an input/output error of the disk; the previous reports are unchanged")
    assert runner._os_error_text(runner.shutil.Error([("a", "b", "[Errno 13] Permission denied")] * 3)) == \
        "[Errno 13] Permission denied (and 2 other files)"
    assert runner._os_error_text(runner.shutil.Error([("a", "b", "[Errno 13] Permission denied")] * 2)) == \
        "[Errno 13] Permission denied (and 1 other file)"  # not "1 other file(s)"
    assert _tree(out) == before


def test_the_runners_counts_read_in_the_singular_and_the_plural(tmp_path):
    """The runner said "published 1 report(s)", "keeping 1 other report(s) of ..." and "notebooks need unknown
    stage(s) ['helth']": one report, one other report and an unknown stage read in the singular, more in the plural."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_one.ipynb", "print('one')")
    _notebook(nbs / "02_two.ipynb", "print('two')")
    out, said = tmp_path / "reports", []

    def go(**kw):
        said.clear()
        return run(data_dir=tmp_path, out_dir=out, notebooks_dir=nbs, demo=False, run_date="2025-07-01",
                   progress=said.append, **kw)

    go(only=["01"])
    assert any(m.startswith("published 1 report in ") for m in said), said
    go(only=["02"])  # the date's report 01 kept beside it
    assert "keeping 1 other report of 2025-07-01" in said, said
    assert any(m.startswith("published 2 reports in ") for m in said), said
    for needs, words in ((["helth"], "an unknown stage ['helth']"),
                         (["helth", "kpi"], "unknown stages ['helth', 'kpi']")):
        nb = nbformat.read(nbs / "02_two.ipynb", as_version=4)
        nb.metadata[runner.NOTEBOOK_META] = {"needs": needs}
        nbformat.write(nb, nbs / "02_two.ipynb")
        with pytest.raises(runner.ConfigError, match=rf"^notebooks need {re.escape(words)} \(stages: ingest, "):
            go()


def test_a_reports_folder_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_one.ipynb", "print('one')")
    args = ["run", "--data-dir", str(tmp_path), "--notebooks-dir", str(nbs), "--no-demo", "--kernel", "python3"]
    taken = tmp_path / "taken"
    taken.write_text("a file where the reports folder should be")
    assert main([*args, "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("engage run: error: cannot write into the reports folder")
    assert taken.read_text() == "a file where the reports folder should be"

    read_only = tmp_path / "read-only"
    read_only.mkdir()
    mkdir = Path.mkdir

    def refused(self, *a, **k):  # the tests may run as root, whom chmod does not stop: refuse as the OS would
        if read_only in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return mkdir(self, *a, **k)

    class Refused(locks.FileLock):  # nor can the folder's lock file be made there
        def acquire(self, *a, **k):
            if read_only in Path(self.lock_file).parents:
                raise PermissionError(errno.EACCES, "Permission denied", self.lock_file)
            return super().acquire(*a, **k)

    monkeypatch.setattr(Path, "mkdir", refused)
    monkeypatch.setattr(locks, "FileLock", Refused)
    assert main([*args, "--out", str(read_only)]) == 2
    err = capsys.readouterr().err
    assert err == f"engage run: error: cannot write into the reports folder {read_only.resolve()}: Permission " \
                  "denied\n"
    assert list(read_only.iterdir()) == []


def test_no_path_of_the_machine_in_any_published_file(tmp_path):
    """A notebook that prints its own folders and raises a warning (whose text names a file of the Python
    installation): the published HTML, executed notebooks, run.json and index name no absolute path."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_paths.ipynb",
              "print('data:', data_dir)\nprint('run:', run_dir)\nimport os\nprint('home:', os.path.expanduser('~'))",
              "import warnings\nimport json\nwarnings.warn(f'from {json.__file__}')\nprint(json.__file__)")
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "reports"
    run(data_dir=data, out_dir=out, notebooks_dir=nbs, demo=False, run_date="2025-07-01", progress=lambda m: None)
    published = _tree(out)
    assert "2025-07-01/executed/01_paths.ipynb" in published
    for name, body in published.items():
        for path in (str(tmp_path), sys.prefix, sys.base_prefix, str(Path.home())):
            assert path.encode() not in body, f"{name} shows {path}"
    executed = published["2025-07-01/executed/01_paths.ipynb"].decode()
    assert "data: data" in executed and "run: .." in executed  # folders by name, the run's relative to the notebook
    html = published["2025-07-01/01_paths.html"].decode()
    assert "data: data" in html and "home: ~" in html and "&lt;python&gt;" in html


# ----------------------------------------------------------------------------- parameters, through the CLI
@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> Path:
    """A 30-account, 2-month world (data end 29 Feb 2024)."""
    root = tmp_path_factory.mktemp("tiny")
    simulate(SimConfig(n_accounts=30, months=2, seed=3), out=root / "raw")
    return root


@pytest.mark.parametrize("extra, message", [
    (["--as-of", "2024-06-01"], "as_of 2024-06-01 is after the data end: the last event is on 2024-02-29 (the latest "
                                     "observation date is 2024-03-01)"),
    (["--as-of", "2019-06-01"], "as_of 2019-06-01 is before the data start: the first event is on 2024-01-01"),
    (["--horizon", "-30"], "horizon_days must be a positive number of days, not -30"),
    (["--horizon", "0"], "horizon_days must be a positive number of days, not 0"),
    (["--as-of", "2024-02-30"], "as_of must be a date YYYY-MM-DD, not '2024-02-30'"),
])  # an unknown --currency: refused by the argument parser (test_an_unknown_currency_is_refused_...)
def test_parameters_are_checked_before_any_model_runs_exit_2_and_nothing_published(tiny_world, tmp_path, capsys,
                                                                                    extra, message):
    out = tmp_path / "reports"
    code = main(["run", "--data-dir", str(tiny_world), "--out", str(out), "--run-date", "2024-03-01", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1] == f"engage run: error: {message}"
    assert not out.exists() or {p.name for p in out.iterdir()} <= {".engage.lock"}  # no report, no staging left
    artifacts = tiny_world / "artifacts"
    assert not artifacts.exists() or {p.name for p in artifacts.iterdir()} <= {"ingest"}  # no model ran


@pytest.mark.parametrize("command", ["run", "pipeline"])
def test_an_unknown_currency_is_refused_as_the_arguments_are_read_before_any_work(tmp_path, capsys, monkeypatch,
                                                                                   command):
    """``engage run --currency jpy`` was refused, in clear words, 13 s into the run (after the data folder was read);
    an unknown currency is refused as the arguments are read, and nothing of the run starts; a code in lower case
    or a symbol is read as ``engage playbook`` reads it."""
    import engage_models.cli as cli

    started = []
    monkeypatch.setattr(cli, f"_{command}", lambda args: started.append(args.currency) or 0)
    data = tmp_path / "data"
    data.mkdir()
    out = ["--out", str(tmp_path / "reports")] if command == "run" else []
    with pytest.raises(SystemExit) as stop:
        main([command, "--data-dir", str(data), "--currency", "yen", *out])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"error: argument --currency: unknown currency 'YEN' (known: "
                                                    f"{', '.join(CURRENCIES)})")
    assert not started
    for given in ("JPY", "jpy", "¥"):
        assert main([command, "--data-dir", str(data), "--currency", given, *out]) == 0
    assert started == ["JPY"] * 3


def test_a_mistyped_data_folder_is_refused_not_filled_with_a_demo_world(tmp_path, capsys):
    typo = tmp_path / "dta"
    assert main(["run", "--data-dir", str(typo), "--out", str(tmp_path / "reports")]) == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("engage run:")]
    assert lines == [f"engage run: error: data folder {typo.resolve()} does not exist (pass --demo to generate a "
                     f"demo world there)"]
    assert not typo.exists() and not (tmp_path / "reports").exists()


def test_reports_on_simulated_data_say_so_on_every_page(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_one.ipynb", "print('one')")
    _notebook(nbs / "02_two.ipynb", "print('two')")
    out = tmp_path / "reports"
    assert main(["run", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--notebooks-dir", str(nbs),
                 "--demo", "--demo-accounts", "20", "--demo-months", "2", "--kernel", "python3",
                 "--run-date", "2024-03-01"]) == 0
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 2 * 3 + 1  # two reports and an index in the dated folder and in latest/, the top index
    for page in pages:
        assert "Simulated data (demo world)" in page.read_text(encoding="utf-8"), page
    assert json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))["simulated_data"] is True
    real = tmp_path / "real"
    (real / "raw").mkdir(parents=True)
    for f in (tmp_path / "data" / "raw").iterdir():
        if f.name not in ("truth.json", "true_hazard.parquet"):
            os.link(f, real / "raw" / f.name)
    assert main(["run", "--data-dir", str(real), "--out", str(tmp_path / "r2"), "--notebooks-dir", str(nbs),
                 "--kernel", "python3", "--run-date", "2024-03-01"]) == 0
    assert not any("Simulated data" in p.read_text(encoding="utf-8") for p in (tmp_path / "r2").rglob("*.html"))
