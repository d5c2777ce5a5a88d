"""Where stages keep what they computed: one folder per stage and key, written whole or not at all.

A stage's *key* is the hash of everything its output depends on: the stage's name, the parameters it reads,
the keys of the stages it reads from (or, for ingest, the raw files' names, sizes, times and content), and
the package's own source code. Equal keys mean equal outputs, so an unchanged stage is read back instead of
recomputed; any change upstream, in a parameter or in the code changes the key.

Layout under ``<data_dir>/artifacts/``::

    <stage>/<key>/manifest.json     stage, key, inputs, parameters, status, sections skipped (and why), files
    <stage>/<key>/<name>.parquet    tables
    <stage>/<key>/<name>.json       everything else (numbers, small dicts, texts)
    <stage>/<key>/<name>.<ext>      files made for others (the action list as CSV, a model as skops)

Only tables, JSON and files the project writes itself are stored: nothing that executes code when read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._core.i18n import count
from .._core.io import jsonable, read_json, write_json, write_parquet
from .._core.reasons import reason_of, stored, text, texts

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


@functools.cache
def code_version() -> str:
    """Hash of the package's source files (Python, YAML, templates): a new version of the code is a new input."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml", ".j2", ".json") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(PACKAGE_DIR)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def content_digest(path: Path) -> str:
    """SHA-256 of the file's content, 16 hex digits."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def fingerprint(folder: str | Path, pattern: str = "*", content: bool = False,
                digests: str | Path | None = None) -> list[list]:
    """``[relative path, size, modification time in ns]`` of every file under ``folder`` matching ``pattern``
    (recursively, hidden files left out), sorted: what the data are, without reading them.

    ``content``: each file's :func:`content_digest` too, so that a file edited and given back its size and time
    (``cp -p``, ``rsync -t``, an unzipped correction) is not taken for the one before: the raw files'.
    ``digests``: a JSON file keeping each digest with the file's size, modification and change times and inode;
    a file whose four are unchanged is not read again (nothing sets a file's change time back, so an edit is
    always read). Without it every file is read each time.
    """
    folder = Path(folder)
    if not folder.exists():
        return []
    kept: dict = {}
    if content and digests is not None:
        with contextlib.suppress(OSError, ValueError):
            kept = json.loads(Path(digests).read_text(encoding="utf-8"))
    out, seen = [], {}
    for p in sorted(folder.rglob(pattern)):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            rel = str(p.relative_to(folder))
            row = [rel, st.st_size, st.st_mtime_ns]
            if content:
                stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
                old = kept.get(rel)
                digest = old[4] if isinstance(old, list) and len(old) == 5 and old[:4] == stamp else content_digest(p)
                seen[rel] = [*stamp, digest]
                row.append(digest)
            out.append(row)
    if content and digests is not None and seen != kept:
        with contextlib.suppress(OSError):  # a read-only store only costs the next run the reading
            write_json(Path(digests), seen)
    return out


def make_key(stage: str, params: dict, inputs: dict) -> str:
    payload = json.dumps({"stage": stage, "code": code_version(), "params": jsonable(params),
                          "inputs": jsonable(inputs)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


#: A section with nothing to show yet, or ever in this run, by design (a model just trained has no matured label
#: to be judged on; a run scoring with a frozen model backtests nothing): the report says why, but the run is not
#: "published with sections skipped" for it (nor does ``engage run`` exit 3 for it).
NOT_DUE = "not_due"
#: A section about data the company does not record (events without a device): the report says so, and the
#: run is not "published with sections skipped" for it either.
NOT_RECORDED = "not_recorded"


@dataclass
class Skipped:
    """A section a stage could not compute, and why (for the reports to say in words)."""

    section: str
    reason: str  # in English
    kind: str = "insufficient_data"  # or "error": an unexpected failure (a bug to report); or NOT_DUE
    texts: dict | None = None  # {lang: reason} when the reason was a Why (engage_models._core.reasons)

    def as_dict(self) -> dict:
        out = {"section": self.section, "reason": self.reason, "kind": self.kind}
        return {**out, "texts": self.texts} if self.texts else out

    @property
    def why(self):
        """The reason as a :class:`~engage_models._core.reasons.Why` when its languages were kept, else text."""
        return stored(self.reason, self.texts)


class Artifact:
    """What one stage wrote: tables, JSON and files, read on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest = read_json(self.path / MANIFEST)

    @property
    def stage(self) -> str:
        return self.manifest["stage"]

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def skipped(self) -> list[Skipped]:
        return [Skipped(**s) for s in self.manifest.get("skipped", [])]

    def has(self, name: str) -> bool:
        return any((self.path / f"{name}{ext}").exists() for ext in (".parquet", ".json", ""))

    def frame(self, name: str) -> pd.DataFrame:
        """The table ``name``, with the simple ``attrs`` it had when written (dates come back as ISO text)."""
        path = self.path / f"{name}.parquet"
        if not path.exists():
            raise KeyError(f"stage {self.stage!r} wrote no table {name!r} ({self._why(name)})")
        df = pd.read_parquet(path)
        attrs = self.path / f"{name}.attrs.json"
        if attrs.exists():
            df.attrs.update(read_json(attrs))
        return df

    def json(self, name: str):
        path = self.path / f"{name}.json"
        if not path.exists():
            raise KeyError(f"stage {self.stage!r} wrote no {name!r} ({self._why(name)})")
        return read_json(path)

    def file(self, name: str) -> Path:
        path = self.path / name
        if not path.exists():
            raise KeyError(f"stage {self.stage!r} wrote no file {name!r}")
        return path

    def reason(self, section: str, lang: str = "en") -> str | None:
        """Why ``section`` was not computed, in ``lang`` (None when it was)."""
        why = self.why(section)
        return None if why is None else text(why, lang)

    def why(self, section: str):
        """Why ``section`` was not computed, as a reason in every language it was given in (None when it was)."""
        return next((s.why for s in self.skipped if s.section == section), None)

    def _why(self, name: str) -> str:
        return self.reason(name) or "not computed"

    def __repr__(self) -> str:
        return f"Artifact({self.stage!r}, {self.key!r})"


class Output:
    """The writer a stage function receives: tables, JSON, other files, and the sections it skipped."""

    def __init__(self, path: Path, stage: str):
        self.path = path
        self.stage = stage
        self.skipped: list[Skipped] = []
        self.files: list[str] = []

    def frame(self, name: str, df: pd.DataFrame) -> None:
        """Write ``df`` as ``<name>.parquet``; its simple ``attrs`` (numbers, text, dates) go beside it."""
        write_parquet(_plain(df), self.path / f"{name}.parquet")
        self.files.append(f"{name}.parquet")
        simple = {k: v for k, v in df.attrs.items() if _is_simple(v)}
        if simple:
            write_json(self.path / f"{name}.attrs.json", simple)
            self.files.append(f"{name}.attrs.json")

    def json(self, name: str, obj) -> None:
        write_json(self.path / f"{name}.json", obj)
        self.files.append(f"{name}.json")

    def file(self, name: str) -> Path:
        """A path to write a file of another kind (CSV, skops) into."""
        self.files.append(name)
        return self.path / name

    def skip(self, section: str, reason, kind: str = "insufficient_data") -> None:
        """Record ``section`` as not computed; ``reason`` is a sentence, a
        :class:`~engage_models._core.reasons.Why` (kept in every language), or an error that gives one."""
        if isinstance(reason, BaseException):
            reason = reason_of(reason)
        log.info("%s: %s not computed: %s", self.stage, section, reason)
        self.skipped.append(Skipped(section, str(reason), kind, texts(reason)))


def _is_simple(value) -> bool:
    if isinstance(value, (list, tuple)):
        return len(value) < 1000 and all(_is_simple(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool, pd.Timestamp)) or hasattr(value, "dtype") and \
        getattr(value, "ndim", 1) == 0


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without pandas attrs (they do not survive Parquet reliably: keep such values in JSON)."""
    out = df.copy(deep=False)
    out.attrs = {}
    return out


@dataclass
class Store:
    """Stage outputs under ``root`` (``<data_dir>/artifacts``), by stage and key."""

    root: Path
    keep: int = 4  # versions kept per stage (the newest by use)
    _used: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = Path(self.root)

    def get(self, stage: str, key: str) -> Artifact | None:
        path = self.root / stage / key
        if (path / MANIFEST).is_file():
            os.utime(path / MANIFEST)  # last use, for pruning
            return Artifact(path)
        return None

    @contextlib.contextmanager
    def write(self, stage: str, key: str, record: dict):
        """Yield an :class:`Output` into a staging folder; on success move it into place with its manifest."""
        final = self.root / stage / key
        staging = self.root / stage / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        out = Output(staging, stage)
        t0 = time.perf_counter()
        try:
            yield out
            manifest = {**record, "stage": stage, "key": key, "seconds": round(time.perf_counter() - t0, 3),
                        "created": pd.Timestamp.now(tz="UTC").isoformat(), "files": sorted(set(out.files)),
                        "skipped": [s.as_dict() for s in out.skipped]}
            write_json(staging / MANIFEST, manifest)
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.prune(stage)

    def clear_staging(self) -> list[Path]:
        """Remove the staging folders (``<stage>/.<key>.<pid>.tmp``) and half-written files (``.<name>.<pid>.tmp``)
        that runs ended by a kill left behind (``write`` removes its own on any error it sees; SIGKILL, a power
        cut or a full disk mid-``rmtree`` leave them). Only while holding the data folder's lock
        (:mod:`engage_models._core.locks`): another run's staging folder is work in progress. Returns what was
        removed."""
        gone = sorted(self.root.glob("*/.*.tmp")) if self.root.is_dir() else []
        for path in gone:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if gone:
            log.info("removed %s left by a run that was stopped", count(len(gone), "unfinished stage folder"))
        return gone

    def last_seconds(self, stage: str) -> float | None:
        """How long ``stage`` took when it was last computed here (its newest version's manifest), if ever."""
        folder = self.root / stage
        manifests = [p / MANIFEST for p in folder.iterdir() if (p / MANIFEST).is_file()] if folder.exists() else []
        if not manifests:
            return None
        try:
            newest = max((json.loads(m.read_text(encoding="utf-8")) for m in manifests),
                         key=lambda m: m.get("created", ""))
        except (OSError, ValueError):
            return None
        return newest.get("seconds")

    def prune(self, stage: str) -> None:
        """Keep the ``keep`` most recently used versions of ``stage``."""
        folder = self.root / stage
        versions = [p for p in folder.iterdir() if (p / MANIFEST).is_file()] if folder.exists() else []
        versions.sort(key=lambda p: (p / MANIFEST).stat().st_mtime, reverse=True)
        for old in versions[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
