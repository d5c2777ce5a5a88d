"""One engage process at a time per folder: a scheduled run that overlaps the next, a manual run during the
cron's, or ``engage train`` and ``engage score`` on the same morning must not write one data folder together.

Two ingests of one folder share its staging folder (the second deletes what the first is writing); two
pipelines replace each other's stage folders while the other reads them; two runs publishing into one
reports folder interleave their renames. So the commands that write a folder hold its lock for as long as
they write: ``engage ingest`` the data folder its ``--out`` lies in, ``engage pipeline | train | score`` the
data folder, ``engage run`` the data folder and the reports folder. A second process finds the folder busy and
stops before it writes anything (:class:`FolderBusy`, exit status 5, naming who holds it since when), or waits
for it with ``--wait SECONDS``.

The lock is the operating system's lock on ``<folder>/.engage.lock`` (`filelock`_: ``flock`` on Unix,
``LockFileEx`` on Windows): it goes with the process that holds it, however it ends (a killed run leaves
no lock behind to clear by hand). Who holds it is written beside it, in ``.engage.lock.json``, for the
message. Within one thread the lock is re-entrant (``engage run`` holds the data folder and its pipeline
takes it again); another thread of the same process waits as another process would.

.. _filelock: https://py-filelock.readthedocs.io/
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from .errors import ConfigError, EngageError
from .io import read_json, write_json

LOCK_FILE = ".engage.lock"
HOLDER_FILE = ".engage.lock.json"

#: The exit status of a command that found its folder busy (nothing done: run it again later).
BUSY_EXIT = 5


class FolderBusy(EngageError):
    """Another engage process holds the folder: nothing was done."""

    exit_code = BUSY_EXIT


_held: dict[str, list] = {}  # resolved folder -> [FileLock, depth, owning thread]: re-entrant within that thread
_gates: dict[str, threading.Lock] = {}  # resolved folder -> the lock another thread of this process waits on
_guard = threading.Lock()


def _command() -> str:
    """``engage run`` (the program and its first word), for the message another process shows."""
    argv = [a for a in sys.argv if a] or ["python"]
    program = Path(argv[0]).name
    program = "engage" if program in ("__main__.py", "engage", "engage.exe") else program
    words = [a for a in argv[1:] if not a.startswith("-")][:1] if program == "engage" else []
    return " ".join([program, *words])


def holder(folder: str | Path) -> dict | None:
    """Who last took ``folder``'s lock (pid, host, command, since), if it said; None when nobody did or the
    note is unreadable. Whether it still holds the lock is :func:`hold`'s to find out."""
    try:
        return read_json(Path(folder) / HOLDER_FILE)
    except (OSError, ValueError):
        return None


def _busy(folder: Path, what: str, wait: float, here: bool = False) -> FolderBusy:
    who = {"pid": os.getpid(), "host": socket.gethostname(), "command": "another thread of this process",
           "since": "now"} if here else holder(folder) or {}
    by = ""
    if who:
        by = (f" (pid {who.get('pid', '?')} on {who.get('host', '?')}, '{who.get('command', '?')}', since "
              f"{who.get('since', '?')})")
    waited = f" after waiting {wait:g} s" if wait > 0 else ""
    return FolderBusy(f"{folder} is in use by another engage process{by}{waited}: the {what} did nothing. Run it "
                      f"again when that one ends, or give --wait SECONDS to wait for it (a scheduled run that "
                      f"overlaps the next one is the usual cause)")


@contextlib.contextmanager
def hold(folder: str | Path, what: str = "command", wait: float = 0, name: str = "", waited: float | None = None):
    """Hold ``folder``'s lock for the ``with`` block.

    ``wait``: seconds to wait for another process to let it go (0: do not wait; a negative number: wait as long
    as it takes); :class:`FolderBusy` when it is still held after that. ``what`` is the command or step (``run``,
    ``ingest``) and ``name`` what the folder is to it (``the reports folder``), for the messages. The folder is
    created if missing; :class:`~engage_models._core.errors.ConfigError` when it cannot be written (read-only,
    a file in the way). ``waited``: the wait to name when busy, if not ``wait`` (the whole of a wait shared by
    two folders).
    """
    folder = Path(folder).resolve()
    key, me = str(folder), threading.get_ident()
    with _guard:
        mine = key in _held and _held[key][2] == me
        if mine:
            _held[key][1] += 1
        gate = _gates.setdefault(key, threading.Lock())
    if mine:  # the run holds it and its pipeline (or ingest) takes it again
        try:
            yield folder
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    deadline = time.monotonic() + wait
    # another thread of this process first (two pipelines of one program), then other processes: flock is per
    # open file, so a second thread's acquire would be another holder, not a wait
    if not (gate.acquire(timeout=wait) if wait > 0 else gate.acquire(blocking=wait < 0)):
        raise _busy(folder, what, wait if waited is None else waited, here=True)
    try:
        left = max(0.0, deadline - time.monotonic()) if wait >= 0 else wait
        lock = FileLock(folder / LOCK_FILE, timeout=left, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise _busy(folder, what, wait if waited is None else waited) from None
        except OSError as exc:
            raise ConfigError(f"cannot write into {name + ' ' if name else ''}{folder}: "
                              f"{exc.strerror or exc}") from None
        with _guard:
            _held[key] = [lock, 1, me]
        try:
            with contextlib.suppress(OSError):  # the note is for the message only: a read-only folder still locks
                write_json(folder / HOLDER_FILE, {"pid": os.getpid(), "host": socket.gethostname(),
                                                 "command": _command(),
                                                 "since": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")})
            yield folder
        finally:
            with _guard:
                del _held[key]
            with contextlib.suppress(OSError):
                (folder / HOLDER_FILE).unlink(missing_ok=True)
            lock.release()
    finally:
        gate.release()


def held(folder: str | Path) -> bool:
    """This thread holds ``folder``'s lock."""
    with _guard:
        st = _held.get(str(Path(folder).resolve()))
        return st is not None and st[2] == threading.get_ident()
