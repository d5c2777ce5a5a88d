"""What a scheduled run meets besides its data: another engage process on the same folder (one at a time,
``engage_models._core.locks``), a run stopped part way (what it left put right; SIGTERM as Ctrl-C), the machine
(a full disk stops the run rather than publishing hollow reports), raw files that change while ingest reads them.

A holder is a separate process (the lock is the operating system's, per process): it takes the folder's lock,
prints ``held`` and keeps it until it is told to go or killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engage_models._core.errors import ConfigError
from engage_models._core.locks import BUSY_EXIT, HOLDER_FILE, FolderBusy, held, hold
from engage_models.ingest.validate import IngestError

HOLDER = """
import sys
from engage_models._core.locks import hold
with hold(sys.argv[1], "pipeline"):
    print("held", flush=True)
    sys.stdin.readline()  # until told to go (or killed)
"""


class Holder:
    """A process holding ``folder``'s lock until :meth:`release` (or :meth:`kill`)."""

    def __init__(self, folder: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=30) == 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def engage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engage_models", *args], capture_output=True, text=True, timeout=300)


def test_a_pipeline_on_a_held_data_folder_stops_before_any_stage_and_names_the_holder(tmp_path):
    from engage_models.pipeline import run

    with Holder(tmp_path) as other:
        with pytest.raises(FolderBusy, match=rf"in use by another engage process \(pid {other.proc.pid} on .*since"):
            run(data_dir=str(tmp_path))
        assert not (tmp_path / "artifacts").exists()  # nothing written
        other.release()
    assert not (tmp_path / HOLDER_FILE).exists()  # the holder's note goes with it


def test_the_command_line_exits_5_and_leaves_the_data_folder_as_it_was(tmp_path, small_world):
    data = tmp_path / "data"
    data.mkdir()
    with Holder(data):
        done = engage("ingest", "--raw", str(small_world / "raw"), "--out", str(data / "processed"))
        assert done.returncode == BUSY_EXIT == 5, done.stderr
        assert "engage ingest: error:" in done.stderr and "--wait" in done.stderr
        assert not (data / "processed").exists()
        done = engage("pipeline", "--data-dir", str(data), "--until", "ingest")
        assert done.returncode == 5, done.stderr
        assert done.stderr.startswith("engage pipeline: started ") and "(pid " in done.stderr.splitlines()[0]
        assert not (data / "artifacts").exists()


def test_wait_lets_a_second_process_start_when_the_first_ends(tmp_path):
    from engage_models.ingest import ingest

    other = Holder(tmp_path)
    t0 = time.monotonic()
    # the holder lets go after 1.5 s; waiting 60 s gets the folder then (the ingest itself then finds no raw tables)
    threading.Timer(1.5, lambda: (other.proc.stdin.write("go\n"), other.proc.stdin.flush())).start()
    with pytest.raises(Exception, match="no file for this required table"):
        ingest(tmp_path / "raw", tmp_path / "processed", wait=60)
    assert time.monotonic() - t0 >= 1.4
    assert other.proc.wait(timeout=30) == 0
    with Holder(tmp_path) as again:  # a short wait is not enough: busy, and the message says it waited
        with pytest.raises(FolderBusy, match="after waiting 0.3 s"):
            ingest(tmp_path / "raw", tmp_path / "processed", wait=0.3)
        again.release()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    other = Holder(tmp_path)
    other.kill()
    assert (tmp_path / HOLDER_FILE).exists()  # its note is stale ...
    with hold(tmp_path, "run"):  # ... but the folder is free at once, without clearing anything by hand
        assert held(tmp_path)


def test_the_lock_is_re_entrant_in_one_process_and_exclusive_across_processes(tmp_path):
    with hold(tmp_path, "run"):
        with hold(tmp_path / ".." / tmp_path.name, "pipeline"):  # the same folder by another spelling
            assert held(tmp_path)
        assert held(tmp_path)  # the inner block's end does not let go of the outer's lock
        code = ("import sys\nfrom engage_models._core.locks import FolderBusy, hold\ntry:\n"
                "    with hold(sys.argv[1]):\n        print('got it')\nexcept FolderBusy:\n    print('busy')\n")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                             timeout=60)
        assert out.stdout.strip() == "busy", out.stderr
    assert not held(tmp_path)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "got it", out.stderr


def test_a_folder_that_cannot_be_written_is_said_not_a_traceback(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(ConfigError, match="cannot write into .*file/data: Not a directory"):
        with hold(tmp_path / "file" / "data", "run"):
            pass


def test_a_read_only_folder_is_said_not_a_traceback(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match=f"cannot write into {folder}"):
            with hold(folder, "run"):
                pass
    finally:
        folder.chmod(0o755)


def test_a_report_run_on_a_held_reports_folder_publishes_nothing(tmp_path):
    from engage_models.reports.runner import run

    data, out = tmp_path / "data", tmp_path / "reports"
    (data / "raw").mkdir(parents=True)
    (data / "raw" / "accounts.csv").write_text("account_id\n")
    out.mkdir()
    with Holder(out):
        with pytest.raises(FolderBusy, match=str(out)):
            run(data_dir=data, out_dir=out, demo=False)
        assert sorted(p.name for p in out.iterdir()) == sorted([".engage.lock", HOLDER_FILE])
        assert not (data / "artifacts").exists()


def test_a_pipeline_clears_what_a_killed_run_was_writing(tmp_path):
    from engage_models.pipeline import run

    stage = tmp_path / "artifacts" / "health"
    (stage / ".0123abcd.4242.tmp").mkdir(parents=True)
    (stage / ".0123abcd.4242.tmp" / "scores.parquet").write_bytes(b"half")
    rendered = tmp_path / "artifacts" / ".rendered"
    rendered.mkdir()
    (rendered / ".04_health-k.ipynb.4242.tmp").write_text("{")
    (rendered / "04_health-k.ipynb").write_text("{}")  # a kept render: not a leftover
    with pytest.raises(IngestError, match="no file for this required table"):  # no raw tables; the leftovers
        run(data_dir=str(tmp_path), until="ingest")  # went before the first stage
    assert not (stage / ".0123abcd.4242.tmp").exists()
    assert sorted(p.name for p in rendered.iterdir()) == ["04_health-k.ipynb"]


def test_the_unfinished_stage_folders_removed_are_counted_in_the_singular_and_the_plural(tmp_path, caplog):
    """The log said "removed 1 unfinished stage folder(s) left by a run that was stopped"."""
    from engage_models.pipeline.store import Store

    store = Store(tmp_path / "artifacts")
    for n, names in ((1, ["health/.0123abcd.4242.tmp"]), (2, ["health/.a.1.tmp", "panel/.b.2.tmp"])):
        for name in names:
            (store.root / name).mkdir(parents=True)
        caplog.clear()
        with caplog.at_level("INFO", logger="engage_models.pipeline.store"):
            assert len(store.clear_staging()) == n
        folders = "1 unfinished stage folder" if n == 1 else "2 unfinished stage folders"
        assert [r.getMessage() for r in caplog.records] == [f"removed {folders} left by a run that was stopped"]


def test_the_reports_folder_is_put_right_after_a_run_killed_while_publishing(tmp_path):
    from engage_models.reports.runner import tidy_reports

    out = tmp_path / "reports"
    (out / "2026-12-05").mkdir(parents=True)
    (out / "2026-12-05" / "index.html").write_text("new")
    (out / ".old-2026-12-05-4242-99").mkdir()  # moved aside, its new one in place: the old copy goes
    (out / ".old-latest-4242-99").mkdir()  # moved aside, killed before the new one arrived: it comes back
    (out / ".old-latest-4242-99" / "index.html").write_text("last good")
    (out / ".latest-4242-99").mkdir()  # the copy prepared for latest/
    (out / ".index-4242-99.html").write_text("prepared")
    (out / ".staging-4242").mkdir()
    (out / ".failed").mkdir()  # a failed run's notebooks are kept on purpose
    said = []
    done = tidy_reports(out, said.append)
    assert sorted(p.name for p in out.iterdir()) == [".failed", "2026-12-05", "latest"]
    assert (out / "latest" / "index.html").read_text() == "last good"
    assert (out / "2026-12-05" / "index.html").read_text() == "new"
    assert "latest (put back)" in done and len(done) == 5 and said
    assert tidy_reports(out) == []  # nothing more to do


# ---------------------------------------------------------------------------------- the machine stops a run
def test_machine_trouble_is_told_from_a_stage_failing_on_its_data():
    import errno

    from engage_models._core.errors import machine_trouble

    assert machine_trouble(OSError(errno.ENOSPC, "No space left on device")) == "the disk is full"
    # DuckDB's IOException is no OSError: its text says it; an error raised from one says it through its cause
    duck = RuntimeError('IO Error: Could not write file "x.parquet": No space left on device')
    try:
        try:
            raise duck
        except RuntimeError as exc:
            raise ValueError("stage health: writing the scores") from exc
    except ValueError as exc:
        assert machine_trouble(exc) == "the disk is full"
    assert machine_trouble(OSError(errno.EROFS, "Read-only file system")) == "the disk is read-only"
    assert machine_trouble(MemoryError()) is None  # a stage out of memory is recorded; the others are published
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise ValueError("said otherwise") from None
    except ValueError as exc:
        assert machine_trouble(exc) is None  # "from None": not its cause
    assert machine_trouble(ValueError("could not convert 'abc' to float")) is None
    assert machine_trouble(FileNotFoundError(errno.ENOENT, "No such file")) is None


def test_a_full_disk_stops_the_run_instead_of_publishing_the_stage_as_not_computed(tmp_path, small_world,
                                                                                    monkeypatch):
    """A disk filled in the health stage was recorded as a failed stage; the run went on and published hollow
    reports (no action list) over the last good ones with exit 3. It stops now: exit 1, nothing recorded."""
    import errno
    from dataclasses import replace

    from engage_models._core.errors import MachineError
    from engage_models.pipeline import flow

    shutil_copy = __import__("shutil").copytree
    shutil_copy(small_world / "raw", tmp_path / "raw")

    def full(ctx):
        raise OSError(errno.ENOSPC, "No space left on device", str(ctx.out.path / "scores.parquet"))

    monkeypatch.setattr(flow, "STAGES", tuple(replace(s, run=full) if s.name == "quality" else s
                                              for s in flow.STAGES))
    with pytest.raises(MachineError, match="stage quality: the disk is full .*the last reports are kept") as info:
        flow.run(data_dir=str(tmp_path), until="quality")
    assert info.value.exit_code == 1
    assert not list((tmp_path / "artifacts" / "quality").glob("*/manifest.json"))  # nothing kept of it


def test_sigterm_stops_a_run_as_ctrl_c_does_and_its_worker_processes_with_it(tmp_path, small_world):
    """``kill PID`` (a scheduler's stop) left the run's two joblib workers and their resource trackers running,
    blocked on a pipe, 300 MB each, for as long as anyone looked (47 minutes), and said nothing."""
    import shutil

    shutil.copytree(small_world / "raw", tmp_path / "raw")
    proc = subprocess.Popen([sys.executable, "-m", "engage_models", "pipeline", "--data-dir", str(tmp_path),
                             "--until", "health"], stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("  health ") and "..." in line:
            break
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(children) < 2:  # the backtest's worker processes
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        children = {int(p) for p in out.split()}
        time.sleep(0.5)
    assert children, "".join(seen)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143
    assert "engage pipeline: stopped by SIGTERM" in rest and "Traceback" not in rest, rest
    time.sleep(2)
    alive = []
    for pid in children:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert alive == [], subprocess.run(["ps", "-o", "pid,ppid,cmd", "-p", ",".join(map(str, alive))],
                                       capture_output=True, text=True).stdout
    assert not list((tmp_path / "artifacts").glob("*/.*.tmp"))  # its staging folder removed on the way out


# ------------------------------------------------------------------------------ raw files that do not hold still
def _raw(tmp_path, small_world) -> Path:
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(small_world / "raw", raw)
    return raw


def test_a_raw_file_replaced_while_ingest_reads_keeps_nothing(tmp_path, small_world, monkeypatch):
    """users.csv replaced while ingest read the other tables: processed/ got new users beside old accounts, exit
    0, and the manifest recorded the old file's fingerprint."""
    from engage_models.ingest import validate as V

    raw = _raw(tmp_path, small_world)
    V.ingest(raw, tmp_path / "processed")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "processed").iterdir())
    read = V.ingest_table

    def and_meanwhile(con, contract, *a, **k):
        out = read(con, contract, *a, **k)
        if contract.name == "accounts":  # the export job writes users.csv again
            users = raw / "users.csv"
            users.write_text(users.read_text(encoding="utf-8") + users.read_text(encoding="utf-8").splitlines()[-1]
                             + "\n", encoding="utf-8")
        return out

    monkeypatch.setattr(V, "ingest_table", and_meanwhile)
    with pytest.raises(V.IngestError, match=r"raw files changed while ingest read them \(users.csv\).*nothing was "
                                            r"kept"):
        V.ingest(raw, tmp_path / "processed")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "processed").iterdir()) == before


def test_a_text_file_cut_short_is_said(tmp_path, small_world):
    """tickets.csv cut at 60%, mid-line: 1,303 of 2,173 rows were kept without a word."""
    from engage_models.ingest import validate as V

    raw = _raw(tmp_path, small_world)
    tickets = raw / "tickets.csv"
    body = tickets.read_bytes()
    tickets.write_bytes(body[: int(len(body) * 0.6)].rstrip(b"\n") + b"")
    assert not tickets.read_bytes().endswith(b"\n")
    report = V.ingest(raw, tmp_path / "processed")
    said = [str(w) for w in report.warnings or () if "does not end with a line break" in str(w)]
    assert said == ["tickets: tickets.csv does not end with a line break: a file still being written, or cut short? "
                    "Its last row was read as it is; check that the export is whole"]
    whole = V.ingest(_raw(tmp_path / "b", small_world), tmp_path / "b" / "processed")
    assert not [w for w in whole.warnings or () if "line break" in str(w)]


def test_a_raw_file_edited_and_given_back_its_size_and_time_is_read_again(tmp_path, small_world):
    """A corrected export unzipped with the original's time (or cp -p, rsync -t): same name, size and modification
    time, so every stage was reused and processed/ kept the old value."""
    from engage_models.pipeline import run

    raw = _raw(tmp_path, small_world)
    first = run(data_dir=str(tmp_path), until="ingest")
    accounts = raw / "accounts.csv"
    st = accounts.stat()
    lines = accounts.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[1].split(",")
    mrr = header.index("mrr")
    digit = next(i for i, ch in enumerate(row[mrr]) if ch.isdigit())
    row[mrr] = row[mrr][:digit] + str((int(row[mrr][digit]) + 1) % 10) + row[mrr][digit + 1:]
    lines[1] = ",".join(row)
    accounts.write_text("".join(lines), encoding="utf-8")
    os.utime(accounts, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert accounts.stat().st_size == st.st_size and accounts.stat().st_mtime_ns == st.st_mtime_ns
    again = run(data_dir=str(tmp_path), until="ingest")
    assert again.records["ingest"].status == "computed" and again["ingest"].key != first["ingest"].key


def test_two_threads_of_one_process_take_turns_and_the_second_does_not_let_go_of_the_first(tmp_path):
    """Re-entrancy was per process: a second thread entered the folder beside the first, and the first one's
    leaving released the lock under it (and its finally raised KeyError)."""
    inside, order = threading.Event(), []

    def first():
        with hold(tmp_path, "pipeline"):
            inside.set()
            time.sleep(1.0)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    inside.wait(10)
    with pytest.raises(FolderBusy, match="another thread of this process"):
        with hold(tmp_path, "pipeline"):
            pass
    with hold(tmp_path, "pipeline", wait=30):  # waits for the first thread, then holds the folder alone
        order.append("second in")
        assert held(tmp_path)
        with hold(tmp_path, "ingest"):  # re-entrant in its own thread
            pass
        assert held(tmp_path)
    t.join(10)
    assert order == ["first out", "second in"] and not held(tmp_path)


def test_files_beside_the_raw_tables_may_change_while_ingest_reads(tmp_path, small_world, monkeypatch):
    """The comparison is of the files the tables are read from: an editor's lock file, a sync client's temp file
    or a log written into raw/ during ingest refused every ingest."""
    from engage_models.ingest import validate as V

    raw = _raw(tmp_path, small_world)
    read = V.ingest_table

    def and_beside(con, contract, *a, **k):
        out = read(con, contract, *a, **k)
        (raw / ".~lock.accounts.csv#").write_text(f"someone,{contract.name}")
        (raw / "export.log").write_text(f"read {contract.name}\n")
        return out

    monkeypatch.setattr(V, "ingest_table", and_beside)
    report = V.ingest(raw, tmp_path / "processed")
    assert report.tables["accounts"].rows_kept > 0


def test_a_utf16_file_ends_with_its_line_break_and_parts_cut_short_are_said_once(tmp_path):
    from engage_models.ingest import validate as V

    whole = tmp_path / "tickets.csv"
    whole.write_text("ticket_id,account_id\r\nT1,A1\r\n", encoding="utf-16")  # Excel's "Unicode text"
    parts = tmp_path / "events"
    parts.mkdir()
    for i in range(3):
        (parts / f"2024-0{i + 1}.csv").write_text("account_id,timestamp\nA1,2024-01-0" + str(i + 1))
    heard: list = []
    token = V._HEARD.set(heard)
    try:
        V._check_line_ends("tickets", str(whole))
        assert heard == []
        V._check_line_ends("events", str(parts))
    finally:
        V._HEARD.reset(token)
    assert [str(w) for w in heard] == ["events: 2024-01.csv (and 2 other parts) does not end with a line break: a "
                                       "file still being written, or cut short? Its last row was read as it is; check "
                                       "that the export is whole"]


def test_raw_digests_are_read_again_only_for_files_that_moved(tmp_path, monkeypatch):
    from engage_models.pipeline import store

    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(3):
        (raw / f"part{i}.csv").write_text(f"a,b\n{i},x\n")
    cache = tmp_path / "digests.json"
    first = store.fingerprint(raw, content=True, digests=cache)
    read = []
    digest = store.content_digest
    monkeypatch.setattr(store, "content_digest", lambda p: read.append(p.name) or digest(p))
    assert store.fingerprint(raw, content=True, digests=cache) == first and read == []  # nothing read again
    st = (raw / "part1.csv").stat()
    (raw / "part1.csv").write_text("a,b\n9,x\n")  # same size, time given back: its change time moved
    os.utime(raw / "part1.csv", ns=(st.st_atime_ns, st.st_mtime_ns))
    again = store.fingerprint(raw, content=True, digests=cache)
    assert read == ["part1.csv"] and again[1][:3] == first[1][:3] and again[1][3] != first[1][3]
    assert store.fingerprint(raw) == [row[:3] for row in again]  # without content: names, sizes and times


# ------------------------------------------------------------------------------ notebooks executing at a stop
SLEEPER = """{"cells": [
 {"cell_type": "code", "execution_count": null, "id": "p", "metadata": {"tags": ["parameters"]}, "outputs": [],
  "source": ["data_dir = ''"]},
 {"cell_type": "code", "execution_count": null, "id": "s", "metadata": {}, "outputs": [],
  "source": ["import os, subprocess, sys, time\\n",
             "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\\n",
             "open(os.environ['SLEEPER_PIDS'], 'w').write(f'{os.getpid()} {child.pid}')\\n", "time.sleep(300)"]}],
 "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
 "nbformat": 4, "nbformat_minor": 5}
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def _wait_for(path: Path, seconds: float = 120) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and len(path.read_text().split()) == 2:
            return [int(x) for x in path.read_text().split()]
        time.sleep(0.2)
    raise AssertionError(f"the notebook never started ({path})")


def test_a_stopped_run_ends_the_notebooks_executing_and_what_they_started(tmp_path, monkeypatch):
    """Kernels run in sessions of their own: a run stopped while a notebook executed left its kernel running
    the cell to its end (up to the cell timeout), past a scheduler's grace period, and anything the cell had
    started (joblib's workers) with it. :meth:`Kernels.stop` ends them; a kernel that starts after the stop
    is ended as it registers."""
    from engage_models.reports import runner as R

    nb = tmp_path / "sleep.ipynb"
    nb.write_text(SLEEPER)
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("SLEEPER_PIDS", str(pids_file))
    kernels = R.Kernels()
    out = tmp_path / "out"
    out.mkdir()
    result: dict = {}

    def execute():
        t0 = time.monotonic()
        try:
            R._execute(nb, out, {}, "python3", None, kernels=kernels)
        except R.NotebookFailed as exc:
            result["failed"] = str(exc)
        finally:
            R.close_thread_loop()  # as the runner's workers do: no loop left for a later test's collector
        result["seconds"] = time.monotonic() - t0

    thread = threading.Thread(target=execute)
    thread.start()
    kernel, child = _wait_for(pids_file)
    t0 = time.monotonic()
    assert kernels.stop(grace=5) == 1
    thread.join(timeout=60)
    assert not thread.is_alive() and time.monotonic() - t0 < 30, result
    assert "failed" in result and "sleep.ipynb" in result["failed"], result
    assert _gone(kernel) and _gone(child)

    pids_file.unlink()  # stopped already: a notebook that starts now does not run its cell
    t0 = time.monotonic()
    with pytest.raises(R.NotebookFailed):
        R._execute(nb, out, {}, "python3", None, kernels=kernels)
    assert time.monotonic() - t0 < 60


def test_sigterm_while_the_reports_render_ends_their_kernels(tmp_path):
    """``kill PID`` while a report executes: exit 143 within the scheduler's grace, nothing published, and
    no kernel or process of the notebook left behind."""
    books = tmp_path / "notebooks"
    books.mkdir()
    (books / "01_sleep.ipynb").write_text(SLEEPER)
    pids_file = tmp_path / "pids"
    env = {**os.environ, "SLEEPER_PIDS": str(pids_file)}
    (tmp_path / "data" / "raw").mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-m", "engage_models", "run", "--data-dir", str(tmp_path / "data"),
                             "--out", str(tmp_path / "reports"), "--notebooks-dir", str(books), "--no-demo",
                             "--kernel", "python3"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        kernel, child = _wait_for(pids_file)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 143, rest
        assert time.monotonic() - t0 < 30 and "stopped by SIGTERM" in rest and "Traceback" not in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1)
    assert _gone(kernel) and _gone(child)
    assert not (tmp_path / "reports" / "latest").exists()
