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
message. Within one process the lock is re-entrant (``engage run`` holds the data folder and its pipeline
takes it again).

.. _filelock: https://py-filelock.readthedocs.io/
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
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


_held: dict[str, list] = {}  # resolved folder -> [FileLock, depth]: re-entrant within the process
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


def _busy(folder: Path, what: str, wait: float) -> FolderBusy:
    who = holder(folder) or {}
    by = ""
    if who:
        by = (f" (pid {who.get('pid', '?')} on {who.get('host', '?')}, '{who.get('command', '?')}', since "
              f"{who.get('since', '?')})")
    waited = f" after waiting {wait:g} s" if wait > 0 else ""
    return FolderBusy(f"{folder} is in use by another engage process{by}{waited}: the {what} did nothing. Run it "
                      f"again when that one ends, or give --wait SECONDS to wait for it (a scheduled run that "
                      f"overlaps the next one is the usual cause)")


@contextlib.contextmanager
def hold(folder: str | Path, what: str = "command", wait: float = 0, name: str = ""):
    """Hold ``folder``'s lock for the ``with`` block.

    ``wait``: seconds to wait for another process to let it go (0: do not wait; a negative number: wait as long
    as it takes); :class:`FolderBusy` when it is still held after that. ``what`` is the command or step (``run``,
    ``ingest``) and ``name`` what the folder is to it (``the reports folder``), for the messages. The folder is
    created if missing; :class:`~engage_models._core.errors.ConfigError` when it cannot be written (read-only,
    a file in the way).
    """
    folder = Path(folder).resolve()
    key = str(folder)
    with _guard:
        if key in _held:
            _held[key][1] += 1
            lock = None
        else:
            lock = FileLock(folder / LOCK_FILE, timeout=wait, thread_local=False)
    if lock is None:
        try:
            yield folder
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    try:
        lock.acquire()
    except Timeout:
        raise _busy(folder, what, wait) from None
    except OSError as exc:
        raise ConfigError(f"cannot write into {name + ' ' if name else ''}{folder}: {exc.strerror or exc}") from None
    with _guard:
        _held[key] = [lock, 1]
    try:
        with contextlib.suppress(OSError):  # the note is for the message only: a read-only folder still locks
            write_json(folder / HOLDER_FILE, {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
                                             "since": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M:%S UTC")})
        yield folder
    finally:
        with _guard:
            del _held[key]
        with contextlib.suppress(OSError):
            (folder / HOLDER_FILE).unlink(missing_ok=True)
        lock.release()


def held(folder: str | Path) -> bool:
    """This process holds ``folder``'s lock."""
    with _guard:
        return str(Path(folder).resolve()) in _held
