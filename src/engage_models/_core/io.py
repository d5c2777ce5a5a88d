"""Files written whole or not at all, JSON of numpy and pandas values, and tables users bring.

Every writer goes through a temporary file in the same folder and :func:`os.replace`, so a reader never
sees half a file and a crash leaves the previous version in place.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_parquet(df: pd.DataFrame, path: str | Path, **kwargs) -> Path:
    """``df`` as Parquet at ``path`` (folders created; the index dropped unless ``index=True``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    kwargs.setdefault("index", False)
    try:
        df.to_parquet(tmp, **kwargs)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """``text`` as UTF-8 at ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def jsonable(obj):
    """``obj`` with numpy scalars and arrays, pandas timestamps, paths and non-finite floats made JSON-safe.

    Non-finite floats become ``None`` (JSON has no NaN); mappings get string keys; tuples become lists.

    >>> jsonable({"a": np.float64("nan"), 1: (np.int64(2), pd.Timestamp("2025-01-01", tz="UTC"))})
    {'a': None, '1': [2, '2025-01-01T00:00:00+00:00']}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.Series):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, pd.Timestamp):
        return None if pd.isna(obj) else obj.isoformat()
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if obj is pd.NaT:
        return None
    return obj


def write_json(path: str | Path, obj) -> Path:
    """``obj`` (see :func:`jsonable`) as indented UTF-8 JSON at ``path``."""
    return write_text(path, json.dumps(jsonable(obj), indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_table(path: str | Path) -> pd.DataFrame:
    """A table a user brings: Parquet (``.parquet``, ``.pq``), CSV (``.csv``, ``.csv.gz``) or TSV (``.tsv``).

    Raises :class:`~engage_models._core.errors.DataError` naming the file when it is missing, of another
    kind, or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
            return pd.read_csv(path, sep="\t" if ".tsv" in name else ",")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it ({exc})") from exc
    raise DataError(f"{path}: expected .parquet, .csv or .tsv")
