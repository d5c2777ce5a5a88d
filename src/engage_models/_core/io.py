"""Files written whole or not at all, JSON of numpy and pandas values, CSV safe to open, and tables users bring.

Every writer goes through a temporary file in the same folder and :func:`os.replace`, so a reader never
sees half a file and a crash leaves the previous version in place.

CSV files are for people, who open them in a spreadsheet: :func:`write_csv` neutralises formulas (OWASP's
CSV-injection guidance: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading single quote, so the spreadsheet shows it as text) and :func:`read_csv` undoes exactly that.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

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


#: A text cell starting with one of these is read as a formula by spreadsheets (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def _escape_cell(value):
    """A text value as written: a single quote before a formula start, and before a leading quote (so
    that :func:`_unescape_cell` knows every leading quote is ours). Other values unchanged."""
    if isinstance(value, str) and value.startswith((*FORMULA_START, _QUOTE)):
        return _QUOTE + value
    return value


def _unescape_cell(value: str) -> str:
    return value[1:] if value.startswith(_QUOTE) else value


def write_csv(df: pd.DataFrame, path: str | Path, *, index: bool = False, bom: bool = True) -> Path:
    """``df`` as CSV at ``path`` that a spreadsheet opens safely (folders created, written whole or not at all).

    Text cells (and the header) that a spreadsheet would run as a formula get a leading single quote (see
    the module notes); numbers, dates and booleans are written as they are, so numeric columns stay numbers.
    UTF-8 with a byte-order mark by default (Excel then reads Japanese text correctly); CRLF line ends, as
    RFC 4180 has them (a cell holding a carriage return is then quoted). Read it back with :func:`read_csv`.

    >>> import tempfile
    >>> p = write_csv(pd.DataFrame({"id": ["=1+1", "'a", "b"], "x": [-1.5, 2.0, None]}),
    ...               Path(tempfile.mkdtemp()) / "t.csv", bom=False)
    >>> print(p.read_text(), end="")
    id,x
    '=1+1,-1.5
    ''a,2.0
    b,
    >>> read_csv(p)["id"].tolist()
    ['=1+1', "'a", 'b']
    """
    path = Path(path)
    if index:
        names = list(df.index.names)
        if len(names) == 1 and names[0] is None:
            names = [""]  # as pandas writes an unnamed index: an empty header cell
        out = df.reset_index(names=[n if n is not None else f"level_{i}" for i, n in enumerate(names)])
    else:
        out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].map(_escape_cell, na_action="ignore")
    out.columns = [_escape_cell(str(c)) for c in out.columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        out.to_csv(tmp, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\r\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_csv(path: str | Path) -> pd.DataFrame:
    """A CSV written by :func:`write_csv`, every cell as the text it stood for (empty cells are ``""``).

    The leading quotes :func:`write_csv` added are removed, so text reads back exactly; numbers come back
    as their text (``"-1.5"``): convert the columns you know to be numeric.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read it as CSV ({exc})") from exc
    if not rows:
        raise DataError(f"{path}: empty file (no header line)")
    header, body = rows[0], rows[1:]
    uneven = [i + 1 for i, r in enumerate(body) if len(r) != len(header)]
    if uneven:
        raise DataError(f"{path}: data row(s) {uneven[:5]} do not have the header's {len(header)} fields")
    return pd.DataFrame([[_unescape_cell(c) for c in r] for r in body],
                        columns=[_unescape_cell(c) for c in header], dtype=object)


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


def read_table(path: str | Path, encoding: str | None = None) -> pd.DataFrame:
    """A table a user brings: Parquet (``.parquet``, ``.pq``), CSV (``.csv``, ``.csv.gz``) or TSV (``.tsv``);
    ``encoding``: a text file's (default UTF-8; the command line detects it, as ingest does). A CSV whose header
    is separated by ``;``, a tab or ``|`` and holds no comma is read with that separator.

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
            df = pd.read_csv(path, sep="\t" if ".tsv" in name else ",", encoding=encoding)
            # a European spreadsheet's CSV is separated by ";" (or a tab, or "|"): read as one column named
            # "a;b;c", it stopped on "no label column" with no word of the separator
            head = str(df.columns[0]) if len(df.columns) == 1 else ""
            seps = [sep for sep in (";", "\t", "|") if sep in head]
            if len(seps) == 1:
                df = pd.read_csv(path, sep=seps[0], encoding=encoding)
            return df
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it ({exc})") from exc
    raise DataError(f"{path}: expected .parquet, .csv or .tsv")


def _is_text(s: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)) and not pd.api.types.is_bool_dtype(s)


def numbers_stored_as_text(df: pd.DataFrame, columns) -> pd.DataFrame:
    """``df`` with each text column of ``columns`` whose every non-blank value is a number made numeric
    (blanks missing): spreadsheet exports write an empty number as ``" "`` and the column comes in as text
    (a categorical with one level per distinct amount). ``engage fit`` and ``engage survival`` both read
    their tables through it."""
    out = df
    for c in columns:
        s = df[c]
        if not _is_text(s):
            continue
        text = s.astype("string").str.strip()
        blank = text.isna() | (text == "")
        num = pd.to_numeric(text.where(~blank), errors="coerce")
        if (~blank).any() and num[~blank].notna().all():
            out = out.copy() if out is df else out
            out[c] = num.astype(float)
    return out


def text_among_numbers(s: pd.Series, share: float = 0.9) -> dict | None:
    """For a text column whose non-blank cells are numbers but for a few (``n/a``, ``12 months``, at most
    ``1 - share`` of them): ``{"cells": count, "positions": first 5 0-based positions, "example": the first
    such cell}``; None for any other column. Such a column is a column of numbers with typing errors in it,
    not a categorical column with one level per amount (nor an identifier, as it was called)."""
    if not _is_text(s):
        return None
    text = s.astype("string").str.strip()
    filled = text.notna() & (text != "")
    if not filled.any():
        return None
    bad = filled & pd.to_numeric(text.where(filled), errors="coerce").isna()
    if not bad.any() or bad.sum() > (1 - share) * filled.sum():
        return None
    return {"cells": int(bad.sum()), "positions": np.flatnonzero(bad.to_numpy())[:5].tolist(),
            "example": str(s[bad].iloc[0])}


# ------------------------------------------------------------------------------- tables stored in parts
def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files of a table stored as one file or as a folder of part files (as Spark and other lake
    writers store a table: ``part-00000-<id>.parquet`` ..., beside ``_SUCCESS`` and hidden checksums, which are
    not parts); ``[]`` when there is neither."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.glob("*.parquet") if p.is_file() and not p.name.startswith((".", "_")))
    return [path] if path.exists() else []


def parquet_source(path: str | Path) -> str | list[str]:
    """What DuckDB's ``read_parquet`` is given for such a table: the file, or the list of its parts.

    A list, not a glob: a folder's name may hold ``[`` or ``*``, which a glob would read as a pattern.
    """
    path = Path(path)
    if not path.is_dir():
        return str(path)
    files = parquet_files(path)
    if not files:
        raise DataError(f"{path} is a folder without Parquet parts (part-*.parquet)")
    return [str(f) for f in files]


def parquet_columns(path: str | Path) -> dict[str, str]:
    """Column names and DuckDB types of a table stored as one Parquet file or a folder of parts."""
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet($p,"
                           " hive_partitioning = false)", {"p": parquet_source(path)}).fetchall()
    return {r[0]: r[1] for r in rows}


def parquet_rows(path: str | Path) -> int:
    """Rows of a table stored as one Parquet file or a folder of parts, from the files' footers."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(path))
