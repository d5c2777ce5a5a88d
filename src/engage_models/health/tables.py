"""The health score on any account table a user brings (``engage fit``).

One row per account (or per account and date), numeric and categorical columns, a 0/1 label column and an
optional date column. Before anything is fitted, every column goes through the leakage screen
(:mod:`engage_models.features.screening`): a column that gives the label away (filled only for churners,
an identifier, a single column with ROC-AUC near 1) is left out, with its reason in ``evaluation.json`` and
on the command line, unless the user keeps it (``keep_columns``).

Validation
----------
* With a date column: out of time. The dates whose labels are mature (``date + horizon <=`` the end of the
  data) after the first labels are known are cut into ``test_windows`` equal windows of *time* plus one
  before them; each window is scored by models fitted on the rows whose labels were known at its start
  (``date + horizon <= window start``). Rows, churners and accounts tested are reported per window and in
  total; too few churners stop the fit with a message (:class:`~engage_models._core.errors.InsufficientData`).
* Without: stratified cross-validation, folds of accounts (``StratifiedGroupKFold``) when an id column is
  given, so that no account is in the training and the validation rows of one fold. Without an id, rows that
  repeat an earlier row in the label and every column used are counted (``repeated_rows``) and ``engage fit``
  warns: a row and its copy in the training and the validation rows of one fold flatter the ROC-AUC (a row
  number, left out, does not make them different).

Every interval resamples accounts (all their rows together). Writes ``scorecard.csv``, ``scores.parquet``,
``evaluation.json`` and a small self-contained ``report.html``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import re
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from .._core.errors import DataError, InsufficientData
from .._core.i18n import LANGS, catalogue, check_lang, count, every_row, fmt_date, fmt_number, fmt_pct, t
from .._core.io import (  # noqa: F401  (read_table: the CLI reads tables with it)
    CODE_LEVELS,
    as_labels,
    code_note,
    code_numbers,
    jsonable,
    looks_like_dates,
    numbers_stored_as_text,
    read_table,
    reading_notes,
    repeated_identifier,
    text_among_numbers,
    write_csv,
)
from .._core.missing_codes import apply_missing_codes, describe_codes
from .._core.progress import parallel_map
from .._core.reasons import Thin, Why
from .._core.reasons import text as reason_text
from ..features.screening import describe, screen_label
from . import evaluation as E
from ._calibrated import IN_SAMPLE_WARNING
from .design import NO_VALUE
from .evaluation import _flat, one_value
from .score import ChurnGBM, HandWeightedScore, HealthScore
from .shapes import ShapeScore

log = logging.getLogger(__name__)
#: Label words read as churn (1) and as still a customer (0), any case, after NFKC (full-width letters and digits
#: read as ASCII): English, and Japanese sheets' yes/no (hai/iie), present/absent (ari/nashi), cancelled/continuing
#: (kaiyaku/keizoku) and the circle and cross marks, by code point (a Japanese sheet's labels were refused with
#: "label values must be 0/1, true/false or yes/no").
def _words(*code_points: tuple[int, ...]) -> set[str]:
    return {"".join(map(chr, word)) for word in code_points}


_TRUE = {"1", "true", "yes", "y", "churned", "t"} | _words((0x306F, 0x3044), (0x3042, 0x308A), (0x89E3, 0x7D04),
                                                            (0x25CB,))
_FALSE = {"0", "false", "no", "n", "retained", "active", "f"} | _words(
    (0x3044, 0x3044, 0x3048), (0x306A, 0x3057), (0x7D99, 0x7D9A), (0x00D7,))


class TableError(DataError):
    """The table cannot be used as given (message names the file, column and rows)."""


def _one_value(v) -> str:
    """A value as :func:`_value_text` matches it: stripped, lower case, full-width letters and digits as ASCII
    (NFKC), a number written as the number (``2.0`` and ``02`` as ``2``: a column of codes 0/1/2 with a blank
    cell is read as floats, and ``--label-value 2.0`` was in no row of it)."""
    text = unicodedata.normalize("NFKC", str(v)).strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    if not np.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _value_text(series: pd.Series) -> pd.Series:
    """Each cell as matched against named values (see :func:`_one_value`)."""
    return series.map(_one_value, na_action="ignore").astype("string")


def _label(series: pd.Series, where: str, positive=(), option: str = "--label-value") -> pd.Series:
    """0/1 (float, NaN where missing) from 0/1, booleans or yes/no text (``_TRUE``, ``_FALSE``, Japanese
    included); other values are an error naming
    ``option``. With ``positive`` (the values that mean churn, as written, any case), 1 for those and 0 for every
    other value: a status column of several outcomes ("Churned", "Active", "Paused"; survival's transplant table:
    death, ltx, withdraw, censored)."""
    if positive:
        text = _value_text(series)
        wanted = {_one_value(v) for v in positive}
        absent = sorted(wanted - set(text.dropna().unique()))
        if absent:
            found = ", ".join(repr(v) for v in text.value_counts().index[:10])
            raise TableError(f"{where}: {option} {', '.join(map(repr, absent))} is in no row (values found: "
                             f"{found})")
        return text.isin(wanted).astype(float).where(text.notna())
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    original = series
    if pd.api.types.is_numeric_dtype(series):
        bad = series.notna() & ~series.isin([0, 1])
    else:
        text = series.astype("string").str.normalize("NFKC").str.strip().str.lower()
        mapped = text.map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan)
        bad = series.notna() & mapped.isna()
        series = mapped
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy())[:5] + 1).tolist()  # 1-based data rows (as ingest numbers them)
        found = ", ".join(repr(v) for v in original[bad].astype(str).value_counts().index[:5])
        raise TableError(f"{where}: label values must be 0/1, true/false or yes/no; "
                         f"{count(int(bad.sum()), '# row is', '# rows are')} not (first at data rows {rows}; values "
                         f"found: {found}); or name the values that mean churn with {option} VALUE (every other value "
                         f"is then 0)")
    return series.astype(float)


def outcome_values(series: pd.Series, positive) -> dict | None:
    """What :func:`_label` made of a column of several outcomes with ``positive`` named: the values taken as
    the event and the others with their rows (None without ``positive``).

    Each value is named as the table writes it most often (``CH`` and ``MM`` in ISLR's ``OJ``, not ``ch`` and
    ``mm``), the spellings that match as one counted together:

    >>> outcome_values(pd.Series(["death", "ltx", "censored", "death", None, "LTX"]), ["death"])
    {'event': {'death': 2}, 'others': {'ltx': 2, 'censored': 1}}
    >>> outcome_values(pd.Series(["MM", "CH", "CH", " mm"]), ["mm"])
    {'event': {'MM': 2}, 'others': {'CH': 2}}
    >>> outcome_values(pd.Series([2.0, 0.0, np.nan, 1.0]), ["2"])
    {'event': {'2': 1}, 'others': {'0': 1, '1': 1}}
    """
    if not positive:
        return None
    text = _value_text(series)
    counts = text.value_counts()
    if pd.api.types.is_numeric_dtype(series):  # a code read as floats (a blank cell): 2, not 2.0
        shown = {v: v for v in counts.index}
    else:
        written = series[text.notna()].astype(str).str.strip()
        shown = written.groupby(text[text.notna()].to_numpy()).agg(lambda w: w.value_counts().index[0])
    wanted = {_one_value(v) for v in positive}
    return {"event": {shown[v]: int(n) for v, n in counts.items() if v in wanted},
            "others": {shown[v]: int(n) for v, n in counts.items() if v not in wanted}}


def _dates(values: pd.Series) -> pd.Series:
    """Dates as written: ISO 8601 in any of its forms (``2024-02-01`` beside ``2024-01-01 00:00:00``, which
    pandas' inference from the first value refuses), else the one format pandas infers for the column, month
    first or day first, whichever reads more of its dates (day first only where it reads more: a European
    ``07.06.2021`` then ``13.06.2021`` was read month first from the first value, and ``13.06.2021`` was called
    unparseable)."""
    iso = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    if not (iso.isna() & values.notna()).any():
        return iso
    with warnings.catch_warnings():  # pandas' notes on its inference: the rows it could not read are said below
        warnings.simplefilter("ignore", UserWarning)
        month_first, day_first = (iso.fillna(pd.to_datetime(values, utc=True, errors="coerce", dayfirst=d))
                                  for d in (False, True))
    return day_first if day_first.isna().sum() < month_first.isna().sum() else month_first


def prepare(df: pd.DataFrame, label: str, date_col: str | None = None, id_col: str | None = None,
            where: str = "table", keep_columns=(), lang: str = "en", seed: int = 0, missing_codes=(),
            label_values=()) -> tuple[pd.DataFrame, pd.Series, dict]:
    """Features, label and a report of what was done (dropped rows and columns, missing values, the leakage
    screen: ``report["leakage_screen"]``, the missing-value codes: ``report["missing_codes"]``, see
    :func:`~engage_models._core.missing_codes.apply_missing_codes`, which ``missing_codes`` is given to)."""
    for col, what in ((label, "label"), (date_col, "date"), (id_col, "id")):
        if col and col not in df.columns:
            raise TableError(f"{where}: no {what} column {col!r} (columns: {', '.join(map(str, df.columns))})")
    df = df.copy()
    if df.empty:
        raise TableError(f"{where}: no data rows (only the header: {', '.join(map(str, df.columns))})")
    y = _label(df[label], f"{where}, column {label!r}", label_values)
    report = {"rows": int(len(df)), "rows_without_label": int(y.isna().sum()),
              **({"label_values": outcome_values(df[label], label_values)} if label_values else {}),
              "first_rows_without_label": (np.flatnonzero(y.isna().to_numpy())[:5] + 1).tolist()}
    if y.isna().all():
        raise TableError(f"{where}, column {label!r}: empty in {every_row(len(df))}; each row needs "
                         f"its outcome (1 churned, 0 stayed)")
    if date_col:
        if df[date_col].isna().all():
            raise TableError(f"{where}, column {date_col!r}: empty in every row; the date column is each row's "
                             f"observation date, such as 2024-01-31 (or leave --date-col out for cross-validation)")
        if pd.api.types.is_numeric_dtype(df[date_col]) and not pd.api.types.is_bool_dtype(df[date_col]):
            raise TableError(f"{where}, column {date_col!r}: holds numbers, not dates (e.g. {df[date_col].iloc[0]});"
                             f" the date column is each row's observation date, such as 2024-01-31")
        dates = _dates(df[date_col])
        bad = dates.isna() & df[date_col].notna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 1).tolist()
            found = ", ".join(repr(v) for v in df.loc[bad, date_col].astype(str).unique()[:5])
            raise TableError(f"{where}, column {date_col!r}: {count(int(bad.sum()), 'unparseable date')} "
                             f"(first at data rows {rows}: {found}); a date column is read in one format: write "
                             f"every date in one, such as 2024-01-31")
        df[date_col] = dates
    keep = y.notna().to_numpy()
    data_row = np.flatnonzero(keep) + 1  # the kept rows' 1-based data rows in the file (the header not counted)
    df, y = df.loc[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    if y.nunique() < 2:
        raise TableError(f"{where}: the label {label!r} has a single value ({int(y.iloc[0])} in "
                         f"{'the only row' if len(y) == 1 else f'all {len(y):,} rows'} with a label); nothing to "
                         f"learn")
    if id_col and df[id_col].isna().any():
        rows = data_row[np.flatnonzero(df[id_col].isna().to_numpy())[:5]].tolist()
        raise TableError(f"{where}, column {id_col!r}: {count(int(df[id_col].isna().sum()), 'row')} without an id "
                         f"(first at data rows {rows})")
    # the id travels as "__id" (a cluster for folds and the bootstrap, never a feature)
    df["__id"] = df[id_col].to_numpy() if id_col else np.arange(len(df)) + 1  # the 1-based data row, as messages
    special = (label, date_col, id_col, "__id")
    # a column of numbers exported with blanks (" ") is numbers, as in engage survival (it was left out as
    # "text with 282 distinct values (an identifier?)"); one with a few typed-in words is said to be one
    # an "id" column repeating over rows without --id-col: a subject's rows, not a feature (it was one)
    keys = {} if id_col else {c: r for c in df.columns if c not in special and c not in keep_columns
                              and (r := repeated_identifier(df[c], c))}
    if keys:
        report["repeated_identifier"] = keys
    special = (*special, *keys)
    df = numbers_stored_as_text(df, [c for c in df.columns if c not in special])
    # a missing-value code (666, 999999.375) is no quantity: missing (the median and an indicator), and said
    df, report["missing_codes"] = apply_missing_codes(df, [c for c in df.columns if c not in special], missing_codes,
                                                      data_row=data_row, where=where)
    # a code (country, zip) is a label, not a quantity: categories when few, left out when many (it was a number)
    codes = {c: r for c in df.columns if c not in special and c not in keep_columns and (r := code_numbers(df[c], c))}
    for c, r in codes.items():
        if r["categories"]:
            df[c] = as_labels(df[c])
    if codes:
        report["code_columns"] = {c: {**r, "note": code_note(c, r)} for c, r in codes.items()}
    typos = {c: found for c in df.columns if c not in special and (found := text_among_numbers(df[c]))}
    # the screen's reasons in English (each a Why): the page says them in lang, the console and evaluation.json
    # keep the English (the console's leak lines were Japanese beside its other English lines)
    screen = screen_label(df, y, [c for c in df.columns if c not in special], groups=df["__id"] if id_col else None,
                          keep=keep_columns, label=label, seed=seed, where=where)
    used, dropped = [], {}
    said = {}  # each column left out: its reason's catalogue key and values, for the page in its language

    def leave_out(c, key, fields=None, **more):
        said[c] = (key, {**(fields or {}), **more})
        dropped[c] = _say(*said[c])  # evaluation.json and the console: English

    for c, r in keys.items():
        leave_out(c, "page.fit.out.repeated_id", values=r["values"], distinct=r["distinct"], rows=r["rows"], column=c)
    for c in df.columns:
        if c in special:
            continue
        s = df[c]
        if c in screen.excluded:
            # the screen's reasons in every language: the page's list of columns left out said them in English
            # beside its leakage section's Japanese
            found = screen.reasons(c)
            leave_out(c, "page.fit.out.leak", reasons=Why.of({lang: "; ".join(
                reason_text(r, lang) if isinstance(r, Why) else r for r in found) for lang in LANGS}))
        elif c in codes and not codes[c]["categories"]:
            leave_out(c, *_code_why(c, codes[c]))
        elif c in codes and s.nunique() >= 2:  # labels already: not to be read as dates
            used.append(c)
        elif s.nunique() == 0 or (s.nunique() == 1 and s.notna().all()):  # text too: one level is no feature
            # (one value with blanks stays, as on the cards: whether it is filled can separate churners)
            leave_out(c, *_uninformative_why(s))
        elif pd.api.types.is_bool_dtype(s):
            df[c] = s.astype("string")
            used.append(c)
        elif c in typos:
            leave_out(c, "page.fit.out.typos", cells=typos[c]["cells"], rows=data_row[typos[c]["positions"]].tolist(),
                      example=typos[c]["example"])
        elif pd.api.types.is_numeric_dtype(s):
            used.append(c)
        elif looks_like_dates(s):  # a date is no feature (many: "an identifier?"; 50 or fewer: each a level)
            leave_out(c, "page.fit.out.dates")
        elif s.nunique() <= 50:
            df[c] = s.astype("string")
            used.append(c)
        else:
            leave_out(c, "page.fit.out.text_kept" if c in screen.keep else "page.fit.out.text", n=s.nunique())
    if not used:
        hint = " (the leakage screen left out " + ", ".join(screen.excluded) + ")" if screen.excluded else ""
        raise TableError(f"{where}: no usable feature column besides the label/date/id{hint}")
    if not id_col and not date_col:  # folds of rows: a row and its copy can be trained on and validated alike
        # in the columns the models see: a row number (R's write.csv) made every row unique, and is left out
        seen = pd.DataFrame({i: df[c].to_numpy() for i, c in enumerate(used)} | {len(used): y.to_numpy()})
        copies = seen.duplicated().to_numpy()
        if copies.sum() > _chance_pairs(seen):  # not when few values make rows alike (one count and the label)
            report["repeated_rows"] = {"rows": int(copies.sum()), "first_rows": data_row[copies][:5].tolist()}
    report.update({
        "features": used, "dropped_columns": dropped, "_said": said,
        "missing_values": {c: int(df[c].isna().sum()) for c in used if df[c].isna().any()},
        "churn_rate": float(y.mean()), "accounts": int(df["__id"].nunique()),
        "leakage_screen": screen.to_dict(),
    })
    cols = used + ([date_col] if date_col else []) + ["__id"]
    X = df[cols]
    X.attrs["data_row"] = data_row  # a row's 1-based data row in the file, for the files written about rows
    return X, y.astype(int), report


def _chance_pairs(df: pd.DataFrame) -> float:
    """The number of pairs of rows of ``df`` expected to agree in every column if the columns were independent:
    the pairs, times each column's share of pairs that agree in it (missing is a value of its own). A table of
    one count and a label has thousands of rows alike by chance, and no copies; in a column of measurements only
    copies agree.

    >>> round(_chance_pairs(pd.DataFrame({"a": [0, 0, 1, 1], "b": [0, 1, 0, 1]})), 3)  # 6 pairs, 2 agree in each
    0.667
    >>> _chance_pairs(pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [0, 0, 0]}))
    0.0
    """
    n = len(df)
    pairs = n * (n - 1) / 2
    for c in df.columns:
        k = df[c].value_counts(dropna=False).to_numpy(float)
        pairs *= float((k * (k - 1)).sum()) / (n * (n - 1)) if n > 1 else 0.0
    return pairs


def _uninformative(s: pd.Series, lang: str = "en") -> str:
    """Why a column with no value, or one value in every row, is left out, in the words of the cards' own left-out
    metrics (:func:`~engage_models.health.design.uninformative`: "no value", "one value"), with the value. A column
    of one value with some rows empty is not left out (as on the cards): whether it is filled can tell churners
    apart, and it enters as a number with its missing-value indicator or as a category whose empty rows have none of
    its levels.

    >>> _uninformative(pd.Series([None, None])), _uninformative(pd.Series(["JP", "JP"]))
    ('no value: empty in every row', "one value: 'JP' in every row")
    >>> _uninformative(pd.Series([7, 7])), _uninformative(pd.Series([True, True]))
    ('one value: 7 in every row', 'one value: True in every row')
    >>> _uninformative(pd.Series(["JP", "JP"]), "ja") == t("page.fit.out.one_value", "ja", value="JP")
    True
    """
    return _say(*_uninformative_why(s), lang=lang)


def _uninformative_why(s: pd.Series) -> tuple[str, dict]:
    """:func:`_uninformative`'s reason as its catalogue key and values."""
    if s.notna().sum() == 0:
        return "page.fit.out.no_value", {}
    v = s.dropna().iloc[0]
    return "page.fit.out.one_value", {"value": v.item() if isinstance(v, np.generic) else v}


def _code_why(name: str, found: dict) -> tuple[str, dict]:
    """What was done with a code column (:func:`~engage_models._core.io.code_numbers`) as a catalogue key and its
    values: the words of :func:`~engage_models._core.io.code_note`, which the console prints, in any language.

    >>> found = {"distinct": 90, "example": 4021, "categories": False}
    >>> _say(*_code_why("iso", found)) == code_note("iso", found)
    True
    >>> _say(*_code_why("zip", {**found, "categories": True})) == code_note("zip", {**found, "categories": True})
    True
    """
    return ("page.fit.out.code_categories" if found["categories"] else "page.fit.out.code_many",
            {"distinct": found["distinct"], "example": found["example"], "levels": CODE_LEVELS, "column": name})


def _say(key: str, values: dict, lang: str = "en") -> str:
    """``t(key, lang, **values)``, a value that is itself a ``(key, values)`` pair said in ``lang`` too, a date
    (a ``Timestamp``) as ``lang`` writes it (ISO 8601 in English, as ``evaluation.json`` writes dates).

    >>> final = ("page.fit.out.final", {"what": ("page.fit.out.final_no_value", {}), "rows": 1200,
    ...                                 "mature": ("page.fit.out.mature", {"date": pd.Timestamp("2025-06-30")})})
    >>> _say(*final)
    'no value in the 1,200 rows the final card is fitted on (those with labels mature by 2025-06-30): not on the card'
    >>> "2025年6月30日" in _say(*final, lang="ja")
    True
    """
    def said(v):
        if isinstance(v, tuple):
            return _say(*v, lang=lang)
        if isinstance(v, pd.Timestamp):
            return str(v.date()) if lang == "en" else fmt_date(v, lang)
        if isinstance(v, Why):  # a text in every language (the leakage screen's reasons)
            return v.text(lang)
        return v

    return t(key, lang, **{k: said(v) for k, v in values.items()})


def _data_lists(data: dict, lang: str = "en", said: dict | None = None) -> str:
    """The fit report's data section: the missing values and the columns left out as lists (they were printed as
    JSON, ``{}`` when there was none), escaped, its sentences in ``lang``: a column left out by its reason's key
    and values in ``said`` (:func:`prepare`), else as ``data`` says it; a code column by its figures; each
    missing-value code as the console says it, in ``lang``.

    >>> _data_lists({"missing_values": {}, "dropped_columns": {"id": "an identifier <x>"}}).split("</p>")[1:]
    ['<p>Columns left out:', '<ul><li><strong>id</strong>: an identifier &lt;x&gt;</li></ul>']
    >>> ja = _data_lists({"missing_values": {"usage": 1234}}, "ja")
    >>> ja == (f"<p>{t('page.fit.missing', 'ja')}</p><ul><li><strong>usage</strong>: 1,234</li></ul>"
    ...        f"<p>{t('page.fit.none_left_out', 'ja')}</p>") and not ja.isascii()
    True

    A code column read as categories (``code_columns``, as the command line says it) is listed too, and each
    missing-value code (``missing_codes``, in the command line's words, in ``lang``):

    >>> codes = {"missing_codes": [{"column": "gdlin", "value": 666, "rows": 2, "first_rows": [881, 1229],
    ...          "how": "detected", "others": [0, 1]}]}
    >>> _data_lists(codes).split("</p>")[1:3][1][:80]
    '<ul><li>column &#x27;gdlin&#x27;: 666 on 2 rows (first at data rows [881, 1229])'
    >>> "missing-value code" not in (ja := _data_lists(codes, "ja")) and "gdlin" in ja and not ja.isascii()
    True


    >>> _data_lists({"features": ["zip"], "code_columns": {"zip": {"categories": True, "note": "3 codes"},
    ...              "iso": {"categories": False, "note": "90 codes"}}}).split("</p>")[1:3]
    ['<p>Code columns read as categories:', '<ul><li><strong>zip</strong>: 3 codes</li></ul><p>No column was left out.']
    """
    missing = data.get("missing_values") or {}
    dropped = data.get("dropped_columns") or {}
    codes = {c: _say(*_code_why(c, r), lang=lang) if "distinct" in r else r["note"]
             for c, r in (data.get("code_columns") or {}).items()
             if r["categories"] and c in data.get("features", [])}  # the others are among the columns left out
    said = said or {}
    out = (f"<p>{t('page.fit.missing', lang)}</p><ul>"
           + "".join(f"<li><strong>{html.escape(str(c))}</strong>: {n:,}</li>" for c, n in missing.items()) + "</ul>"
           if missing else f"<p>{t('page.fit.no_missing', lang)}</p>")
    if found := data.get("missing_codes"):  # said on the console; the report listed their rows as missing only
        out += (f"<p>{t('page.fit.missing_codes', lang)}</p><ul>" + "".join(
            f"<li>{html.escape(line)}</li>" for line in describe_codes(found, lang)) + "</ul>")
    if codes:
        out += (f"<p>{t('page.fit.code_columns', lang)}</p><ul>" + "".join(
            f"<li><strong>{html.escape(str(c))}</strong>: {html.escape(str(note))}</li>" for c, note in codes.items())
            + "</ul>")
    reasons = {c: _say(*said[c], lang=lang) if c in said else str(why) for c, why in dropped.items()}
    out += (f"<p>{t('page.fit.left_out', lang)}</p><ul>" + "".join(
        f"<li><strong>{html.escape(str(c))}</strong>: {html.escape(why)}</li>" for c, why in reasons.items())
            + "</ul>" if dropped else f"<p>{t('page.fit.none_left_out', lang)}</p>")
    return out


def _predict_one(name: str, make, X: pd.DataFrame, y: pd.Series, tr, va, key) -> tuple[pd.DataFrame, list[float]]:
    """The model ``make()`` fitted on rows ``tr`` scoring rows ``va`` (one row per scored table row), and the
    negative calibration slopes its card fits warned of (held here: in a worker process the warning would be
    printed there, once per fold, not said once by :class:`_SlopeWarnings` in the parent)."""
    held = _SlopeWarnings()
    with held.during("validation"):
        m = make().fit(X.iloc[tr], y.iloc[tr])
    return pd.DataFrame({"as_of": key, "row": X.index[va], "account_id": X.iloc[va]["__id"].to_numpy(),
                         "y": y.iloc[va].to_numpy(), "model": name,
                         "p": m.predict_proba(X.iloc[va])[:, 1]}), held.slopes["validation"]


def _predictions(models: dict, X: pd.DataFrame, y: pd.Series, splits, held: _SlopeWarnings,
                 n_jobs: int | None = None) -> list[pd.DataFrame]:
    """Each model fitted on the training rows of each split ``(key, tr, va)`` and scoring its rows ``va``, in the
    order of the splits and the models. The fits are independent and seeded: shared among ``n_jobs`` processes
    (joblib; -1 every core) they give the same predictions; the slopes they warned of are added to ``held``."""
    tasks = [(name, make, X, y, tr, va, key) for key, tr, va in splits for name, make in models.items()]
    out = []
    for frame, slopes in parallel_map(_predict_one, tasks, n_jobs):
        out.append(frame)
        held.slopes["validation"].extend(slopes)
    return out


def _cv_predictions(models: dict, X: pd.DataFrame, y: pd.Series, folds: int, seed: int,
                    held: _SlopeWarnings | None = None, n_jobs: int | None = None) -> tuple[pd.DataFrame, int]:
    """Out-of-fold predictions of every model in stratified folds of accounts (``X["__id"]``; one row per
    account makes them ordinary stratified folds); ``as_of`` holds the fold number. Returns them and the
    number of folds."""
    ids = X["__id"].to_numpy()
    per_class = [pd.unique(ids[(y == v).to_numpy()]).size for v in (0, 1)]
    k = int(min(folds, *per_class))
    if k < 2:
        raise Thin("reason.cv_few_churners", churned=per_class[1], retained=per_class[0])
    splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    splits = [(i, tr, va) for i, (tr, va) in enumerate(splitter.split(X, y, groups=ids))]
    preds = _predictions(models, X, y, splits, held or _SlopeWarnings(), n_jobs)
    return pd.concat(preds, ignore_index=True), k


def time_windows(dates, horizon_days: int, n_windows: int = 4, observed_until=None, test_share: float = 0.5) -> dict:
    """Out-of-time test windows over ``dates`` for labels that look ``horizon_days`` ahead.

    A label is mature when ``date + horizon <= observed_until`` (default: the last date). Of the span from
    the first date at which a label is known (first date + horizon) to the last mature date, the last
    ``test_share`` is cut into ``n_windows`` equal windows of time (half-open ``[start, end)``, the last one
    closed): the test windows. Returns ``{"windows": [(start, end), ...], "observed_until", "mature_until"}``.

    Examples
    --------
    >>> tw = time_windows(pd.date_range("2025-01-01", "2025-12-31", freq="D"), 90, n_windows=4)
    >>> [str(s.date()) for s, _ in tw["windows"]], str(tw["mature_until"].date())
    (['2025-07-02', '2025-07-25', '2025-08-17', '2025-09-09'], '2025-10-02')
    """
    d = pd.to_datetime(pd.Series(dates), utc=True)
    h = pd.Timedelta(days=horizon_days)
    end = d.max() if observed_until is None else pd.Timestamp(observed_until)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    mature = end - h
    first_known = d.min() + h
    if n_windows < 1 or not 0 < test_share <= 1:
        raise ValueError(f"need n_windows >= 1 and 0 < test_share <= 1, not {n_windows} and {test_share}")
    if mature <= first_known:
        raise InsufficientData(
            f"the dates run from {d.min().date()} to {d.max().date()} with labels mature until {mature.date()} "
            f"(observed until {end.date()} minus a {horizon_days}-day horizon): no later date to test on after "
            f"the first labels are known ({first_known.date()}). Give a longer history or a shorter horizon, "
            f"or leave out the date column for cross-validation")
    first_test = mature - (mature - first_known) * test_share
    step = (mature - first_test) / n_windows
    edges = [first_test + step * j for j in range(n_windows + 1)]
    return {"windows": list(zip(edges[:-1], edges[1:], strict=True)), "observed_until": end, "mature_until": mature}


def _window_predictions(models: dict, X: pd.DataFrame, y: pd.Series, date_col: str, horizon_days: int,
                        n_windows: int, observed_until, min_test_events: int, held: _SlopeWarnings | None = None,
                        n_jobs: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Rolling-origin predictions over :func:`time_windows` and the validation record for evaluation.json."""
    tw = time_windows(X[date_col], horizon_days, n_windows, observed_until)
    d, h = X[date_col], pd.Timedelta(days=horizon_days)
    splits, rows = [], []
    last = len(tw["windows"]) - 1
    for j, (start, end) in enumerate(tw["windows"]):
        test = (d >= start) & ((d < end) if j < last else (d <= end))
        train = d + h <= start
        rec = {"start": str(start.date()), "end": str(end.date()), "train_rows": int(train.sum()),
               "train_events": int(y[train].sum()), "test_rows": int(test.sum()), "test_events": int(y[test].sum()),
               "test_accounts": int(X.loc[test, "__id"].nunique())}
        if y[train].nunique() < 2 or not test.any():
            rec["skipped"] = "no test rows" if not test.any() else "training rows without both outcomes"
            rec.update(test_rows=0, test_events=0, test_accounts=0)
        else:
            splits.append((j, np.flatnonzero(train), np.flatnonzero(test)))
        rows.append(rec)
    n_rows = sum(r["test_rows"] for r in rows)
    n_events = sum(r["test_events"] for r in rows)
    if min(n_events, n_rows - n_events) < min_test_events:
        raise InsufficientData(
            f"out-of-time test: {count(n_rows, 'test row')} with {count(n_events, 'churner')} in "
            f"{count(len(rows), 'window')} of labels "
            f"mature by {tw['mature_until'].date()} (need at least {min_test_events} churners and as many "
            f"non-churners): give a longer history, a shorter horizon or fewer test windows, or leave out the "
            f"date column for cross-validation")
    tested = pd.concat(_predictions(models, X, y, splits, held or _SlopeWarnings(), n_jobs), ignore_index=True)
    for j, g in tested.groupby("as_of"):  # ranking within each window (the pooled metrics also see calibration)
        if g["y"].nunique() == 2:  # a model of one value in the window ranks nothing there: no figure, not 0.500
            rows[j]["roc_auc"] = {m: float(roc_auc_score(gm["y"], gm["p"])) if not _flat(gm["p"]) else None
                                  for m, gm in g.groupby("model")}
    record = {
        "method": validation_method({"windows": rows}),
        "observed_until": str(tw["observed_until"].date()), "labels_mature_until": str(tw["mature_until"].date()),
        "train_rule": f"rows with {date_col} + {horizon_days} days <= window start",
        "test_rule": f"rows with {date_col} in the window and {date_col} + {horizon_days} days <= "
                     f"{tw['observed_until'].date()} (labels mature)",
        "windows": rows, "test_rows": n_rows, "test_events": n_events,
        "test_accounts": int(tested.drop_duplicates("row")["account_id"].nunique()),
    }
    return tested, record


class _SlopeWarnings(logging.Filter):
    """The calibration's "slope is negative" warnings (:mod:`._calibrated`), held back during a fit's card fits
    and said once (:meth:`summary`): each fold's card and the final card warned on its own, and one ``engage fit``
    printed the warning twice, with two slopes and no word of which card it was."""

    def __init__(self):
        super().__init__()
        self.slopes: dict[str, list[float]] = {"validation": [], "final": []}
        self.in_sample = 0  # validation fits calibrated in-sample (no fold of both outcomes), said once
        self.phase = "validation"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("calibration slope is negative") and record.args:
            self.slopes[self.phase].append(float(record.args[0]))
            return False
        if self.phase == "validation" and record.getMessage().startswith(IN_SAMPLE_WARNING):
            # a window's card: said as one, after; the final card's own warning is said as it comes
            self.in_sample += 1
            return False
        return True

    def in_sample_text(self) -> str | None:
        """The validation fits calibrated in-sample, in one sentence naming them as such (each said "no
        cross-validation fold had both outcomes ..." on its own, as if of the card the command keeps).

        >>> h = _SlopeWarnings(); h.in_sample = 2; h.in_sample_text()[:80]
        'no cross-validation fold had both outcomes in 2 validation fits (not the final c'
        """
        if not self.in_sample:
            return None
        those, their = ("those cards were", "their") if self.in_sample > 1 else ("that card was", "its")
        return (f"{IN_SAMPLE_WARNING} in {count(self.in_sample, 'validation fit')} (not the final card; {their} "
                f"training rows had too few of one outcome): {those} calibrated, and {their} band thresholds chosen, "
                f"on {their} own training rows")

    def during(self, phase: str):
        import contextlib

        @contextlib.contextmanager
        def held():
            target = logging.getLogger("engage_models.health._calibrated")
            self.phase = phase
            target.addFilter(self)
            try:
                yield
            finally:
                target.removeFilter(self)
        return held()

    def summary(self, score: str) -> dict | None:
        """``{"final": slope or None, "validation_fits": n, "text"}``, or None when no card fit warned.

        >>> h = _SlopeWarnings(); h.slopes = {"validation": [-0.668], "final": [-0.974]}
        >>> h.summary("linear")["text"]  # doctest: +NORMALIZE_WHITESPACE
        'calibration slope is negative for the final linear card (-0.974) and in 1 validation fit: the score does
         not rank churn on held-out data; the final card gives every account the training churn rate'
        """
        final, val = self.slopes["final"], self.slopes["validation"]
        if not final and not val:
            return None
        fits = f"{len(val)} validation fit{'s' if len(val) > 1 else ''}"
        if final:
            text = (f"calibration slope is negative for the final {score} card ({final[0]:.3g})"
                    + (f" and in {fits}" if val else "") + ": the score does not rank churn on held-out data; the "
                    "final card gives every account the training churn rate")
        else:
            slopes = f"{val[0]:.3g}" if len(val) == 1 else f"from {min(val):.3g} to {max(val):.3g}"
            text = (f"calibration slope is negative in {fits} ({slopes}; not for the final card): "
                    f"{'those cards' if len(val) > 1 else 'that card'} gave every account the training churn rate "
                    f"in {'their' if len(val) > 1 else 'its'} test rows")
        return {"final": final[0] if final else None, "validation_fits": len(val), "text": text}


#: The files only a shape card's fit writes (``--score shape``, or ``auto`` when the shape card is chosen).
SHAPE_ONLY = ("card.csv", "learned_scorecard.yaml")


def fit_table(df: pd.DataFrame, label: str, out_dir: str | Path, *, date_col: str | None = None,
              id_col: str | None = None, horizon_days: int = 90, test_windows: int = 4, folds: int = 5,
              observed_until=None, keep_columns=(), min_test_events: int = 10, hand_scorecard=None,
              n_bootstrap: int = 100, n_boot_eval: int = 200, seed: int = 0, where: str = "table",
              lang: str = "en", score: str = "auto", shape_bootstrap: int | None = None, missing_codes=(),
              label_values=(), n_jobs: int | None = None) -> dict:
    """Fit, validate and write the learned score for a user's table. Returns the evaluation dict.

    Parameters
    ----------
    date_col, id_col : str, optional
        Observation date (validation out of time) and account id (folds, bootstrap and the leakage screen
        keep an account's rows together).
    horizon_days : int
        How far the label looks ahead of ``date_col``.
    test_windows : int
        Out-of-time test windows of equal length (with ``date_col``); see :func:`time_windows`.
    folds : int
        Cross-validation folds (without ``date_col``).
    observed_until : date, optional
        When the outcomes were last observed (default: the last date of ``date_col``): test labels must be
        mature by then, and the final model is fitted on mature rows only.
    keep_columns : sequence of str
        Columns to use even if the leakage screen suspects them.
    label_values : sequence of str
        The values of ``label`` that mean churn, when it holds other values than 0/1 or yes/no (a status column:
        "Churned" beside "Active" and "Paused"); every other value is 0 (``evaluation["data"]["label_values"]``).
    score : 'auto', 'shape' or 'linear'
        The learned card: ranges and points (:class:`~engage_models.health.ShapeScore`: it follows thresholds,
        saturation and pairwise effects a linear card cannot: on the public ``mlc_churn`` table of
        ``benchmarks/bench_health_shapes.py`` it ranks at ROC-AUC 0.920 against the linear card's 0.795) or weights
        (:class:`~engage_models.health.HealthScore`; ``engage fit --score linear``). ``'auto'`` (the default)
        validates both and keeps the shape card when its ROC-AUC there leads beyond the paired 95% interval, the
        linear card otherwise (:func:`~engage_models.health.evaluation.choose_card`, the pipeline's rule); the
        evaluation then lists both as ``shape`` and ``linear``, says which won (``chosen``) and gives the
        winner's figures as ``learned`` too: chosen among two on the windows that report it, so a little
        optimistic, said so.
        Both write the same files (the shape card also ``card.csv`` and ``learned_scorecard.yaml``).
    n_bootstrap, shape_bootstrap : int
        Bootstrap refits for the linear card's weight intervals / the shape card's points intervals (each a
        refit of the shape learner: seconds, not milliseconds; None: ``min(n_bootstrap, 20)``).
    min_test_events : int
        Fewer churners (or non-churners) than this in the out-of-time test rows stops the fit.
    missing_codes : sequence of str
        ``COLUMN=VALUE`` missing-value codes, ``COLUMN=none``, ``none`` (:mod:`engage_models._core.missing_codes`):
        a code found or declared is a missing value, listed in ``evaluation["data"]["missing_codes"]``.
    lang : 'en' or 'ja'
        The language of ``report.html`` (the validation method, the columns left out and why, a model of one value
        included), of the card's labels (``scorecard.csv``, ``card.csv``), of the drivers in ``scores.parquet``
        and of the leakage screen's reasons; ``evaluation.json``'s other sentences are English.
    n_jobs : int, optional
        Processes sharing the fits (joblib; -1 every core, None this one): each validation fit of each model
        (fold or window) is one task, then the shape card's refits of the final fit. Every fit is seeded, so no
        figure depends on it.

    ``evaluation["reading_notes"]``: what :func:`~engage_models._core.io.read_table` did with the file that the
    table does not show (blank lines, cells read as missing, decimal commas), as the command line prints them.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    read_notes = reading_notes(df, where)  # what read_table did (blank lines, words read as missing...): kept
    X, y, report = prepare(df, label, date_col, id_col, where, keep_columns, lang, seed, missing_codes,
                           label_values)
    data_row = X.attrs.pop("data_row", None)  # not carried along: pandas copies attrs into every derived frame
    said = report.pop("_said")  # the reasons of the columns left out, said on the page in its language
    id_name = "__id"
    if score not in ("auto", "shape", "linear"):
        raise ValueError(f"score must be 'auto', 'shape' or 'linear', not {score!r}")

    def learned(n_boot: int, form: str | None = None, jobs: int | None = None):
        if (form or score) == "shape":
            return ShapeScore(date_col=date_col or "__none", id_col=id_name, gap_days=horizon_days,
                              n_bootstrap=n_boot, random_state=seed, n_jobs=jobs)
        return HealthScore(date_col=date_col or "__none", id_col=id_name, gap_days=horizon_days,
                           n_bootstrap=n_boot, random_state=seed)

    forms = {"shape": lambda: learned(0, "shape"), "linear": lambda: learned(0, "linear")} if score == "auto" \
        else {"learned": lambda: learned(0)}
    models = {**forms, "gbm": lambda: ChurnGBM(date_col=date_col or "__none", id_col=id_name, random_state=seed)}
    if hand_scorecard is not None:
        from .baselines import load_scorecard

        card_metrics = [m["metric"] for m in load_scorecard(hand_scorecard)["metrics"]]
        lacking = [m for m in card_metrics if m not in X.columns]
        if lacking:
            card = Path(hand_scorecard).name if isinstance(hand_scorecard, (str, Path)) else "the hand scorecard"
            raise TableError(f"{card}: {'metric' if len(lacking) == 1 else 'metrics'} {lacking} "
                             f"{'is not a feature column' if len(lacking) == 1 else 'are not feature columns'} of "
                             f"{where} (its features: "
                             f"{', '.join(c for c in X.columns if c not in (date_col, '__id'))})")
        models["hand"] = lambda: HandWeightedScore(hand_scorecard)
    final_rows = np.ones(len(X), bool)
    held = _SlopeWarnings()  # every card fit (each fold's, the final one) would say a negative slope itself
    if date_col:
        with held.during("validation"):
            preds, method = _window_predictions(models, X, y, date_col, horizon_days, test_windows, observed_until,
                                                min_test_events, held, n_jobs)
        end = pd.Timestamp(method["observed_until"], tz="UTC")
        final_rows = (X[date_col] + pd.Timedelta(days=horizon_days) <= end).to_numpy()
    else:
        with held.during("validation"):
            preds, k = _cv_predictions(models, X, y, folds, seed, held, n_jobs)
        method = {"method": validation_method({"folds": k, "grouped_by": id_col}), "folds": k,
                  "grouped_by": id_col, "test_rows": int(len(y)), "test_events": int(y.sum()),
                  "test_accounts": int(X[id_name].nunique())}
    w = preds.pivot_table(index=["as_of", "row", "account_id", "y"], columns="model", values="p").reset_index()
    _write_validation(out / "validation_predictions.csv", w, X, list(models), date_col, id_col, data_row)
    boot = E.bootstrap(w["y"], {m: w[m] for m in models}, w["account_id"], n_boot=n_boot_eval, seed=seed)
    if date_col:
        trained = {j: r["train_rows"] for j, r in enumerate(method["windows"])}
    else:
        trained = (len(y) - w.groupby("as_of").size()).to_dict()
    flat = one_value(w, list(models), trained, "window" if date_col else "fold")
    E.without_ranking(boot, flat)  # one value in every fold: no ranking, not a measured 0.500
    evaluation = {
        "validation": method,
        # beside each interval, why it (or its estimate) is missing: a code of :func:`~.evaluation.bootstrap`
        # (no_churner, all_churned, few_draws, off_centre; one_value: :func:`~.evaluation.without_ranking`) or
        # null; a job reading the file saw null intervals without a reason
        "models": {m: {**{r.metric: {**{k: None if pd.isna(v) else float(v) for k, v in
                                        (("estimate", r.estimate), ("ci_low", r.ci_low), ("ci_high", r.ci_high))},
                                     "not_computed": None if pd.isna(r.not_computed) else str(r.not_computed)}
                          for r in boot[boot["model"] == m].itertuples()},
                       **({"one_value": flat[m]} if m in flat else {})} for m in models},
        "data": report,
        "reading_notes": read_notes,
        "leakage_screen": report["leakage_screen"],
    }
    if score == "auto":  # the pipeline's rule: the shape card only when it leads beyond the paired interval
        chosen = E.choose_card(boot, "shape", "linear")  # a card of one value loses to the card that ranks
        score = chosen["form"]
        evaluation["chosen"] = {"score": score, "by": "validation ROC-AUC", "roc_auc": {k: None if np.isnan(v) else v
                                                                            for k, v in chosen["auc"].items()},
                                "shape_minus_linear": chosen["shape_minus_linear"],
                                "shape_lead_within_noise": chosen["shape_lead_within_noise"],
                                "note": "chosen among two on the validation that reports it: a little optimistic"}
        evaluation["models"]["learned"] = evaluation["models"][score]
    # its ICI beside a perfectly calibrated score's on as many rows
    col = "learned" if "learned" in models else score
    evaluation["calibration"] = {"model": score, **E.calibration_reference(w["y"], w[col], seed=seed)}
    # the final model on every row whose label is mature
    Xf, yf = X[final_rows].reset_index(drop=True), y[final_rows].reset_index(drop=True)
    if shape_bootstrap is None:
        shape_bootstrap = min(n_bootstrap, 20)
    with held.during("final"):
        # the validation's fits shared the processes among them; the final card's own refits share them now
        final = learned(shape_bootstrap if score == "shape" else n_bootstrap, jobs=n_jobs).fit(Xf, yf)
    if negative := held.summary(score):
        evaluation["calibration"]["negative_slope"] = negative
        log.warning("%s", negative["text"])
    if in_sample := held.in_sample_text():
        evaluation["calibration"]["in_sample_validation_fits"] = held.in_sample
        log.warning("%s", in_sample)
    # a column with values in the table but none, or one, in the rows the final card learns from (a metric filled
    # only in rows whose labels are not mature yet): the card leaves it out; said where the columns left out are
    mature = ("page.fit.out.mature", {"date": pd.Timestamp(method["labels_mature_until"])}) if date_col else ""
    for c, why in (getattr(final, "left_out_", None) or {}).items():
        if c not in report["dropped_columns"]:
            said[c] = ("page.fit.out.final", {"rows": len(Xf), "mature": mature, "what": (
                f"page.fit.out.final_{'no_value' if why == NO_VALUE else 'one_value'}", {})})
            report["dropped_columns"][c] = _say(*said[c])
    card = final.scorecard(lang)
    write_csv(card, out / "scorecard.csv")
    if score == "shape":  # the ranges and points, and the same as a CS tool's card
        from .cards import NothingToExport, write_card_yaml

        write_csv(final.card(lang), out / "card.csv")
        try:
            write_card_yaml(final, out / "learned_scorecard.yaml")
        except NothingToExport as exc:  # a table of categories only: card.csv holds the card, said
            (out / "learned_scorecard.yaml").unlink(missing_ok=True)  # an earlier fit's is not this card
            evaluation["not_written"] = {"learned_scorecard.yaml": f"{exc}; card.csv lists every term's points"}
    else:  # a shape card written here by an earlier fit is not this fit's: a script would pick it up
        for name in SHAPE_ONLY:
            (out / name).unlink(missing_ok=True)
    proba = final.predict_proba(X)[:, 1]
    scores = pd.DataFrame({"id": X[id_name].to_numpy()})
    if date_col:
        scores["date"] = X[date_col].to_numpy()
    scores["score"] = final.health_score(X).to_numpy()
    scores["churn_probability"] = proba
    scores["band"] = final.bands(proba=proba).to_numpy()
    scores["drivers"] = final.drivers(X, lang=lang)["drivers_text"].to_numpy()
    scores.to_parquet(out / "scores.parquet", index=False)
    design = getattr(getattr(final, "fitted_", None), "design", None)
    evaluation["final_model"] = {"score": score, "C": getattr(final, "C_", None),
                                 "pooled_levels": getattr(design, "pooled", {}),
                                 "grouped_metrics": grouped_metrics(design),
                                 "thresholds": list(final.thresholds_), "cv": final.cv_kind_,
                                 "train_rows": int(final_rows.sum()), "train_accounts": int(Xf[id_name].nunique()),
                                 "immature_rows": int((~final_rows).sum())}  # scored, not learned from
    evaluation["files"] = ["scorecard.csv", *(n for n in SHAPE_ONLY if score == "shape"
                                              and n not in evaluation.get("not_written", {})),
                           "scores.parquet", "validation_predictions.csv", "evaluation.json", "report.html"]
    # JSON has no NaN: a strict parser (JavaScript's, Go's, a database's) refused the file when it held one
    (out / "evaluation.json").write_text(json.dumps(jsonable(evaluation), indent=2, default=str, allow_nan=False)
                                         + "\n", encoding="utf-8")
    shape = (final.card(lang), final.pair_tables(lang)) if score == "shape" else None
    _write_report(out / "report.html", card, boot, w, evaluation, models, lang, said, trained, shape)
    return evaluation


def grouped_metrics(design) -> dict[str, list[dict]]:
    """The linear card's features that stand for several correlated columns (its label "gravity and 2 related
    metrics" named none of the others): feature -> each column behind it, ``sign`` -1 for one that enters reversed
    (it moves against the first). ``{}`` for a card without such a group (a shape card: no scaler groups)."""
    scaler = getattr(design, "scaler", None)
    return {members[0]: [{"column": m, "sign": int(sign)} for m, sign in zip(members, signs, strict=True)]
            for members, signs in zip(getattr(scaler, "groups_", None) or [], getattr(scaler, "group_signs_", None)
                                      or [], strict=True) if len(members) > 1}


def grouped_text(groups: dict, card: pd.DataFrame, lang: str = "en") -> list[str]:
    """One sentence per group of :func:`grouped_metrics`: the card's label and every column it averages.

    >>> card = pd.DataFrame({"feature": ["gravity"], "label": ["gravity and 2 related metrics"]})
    >>> grouped_text({"gravity": [{"column": "gravity", "sign": 1}, {"column": "osmo", "sign": 1},
    ...                           {"column": "urea", "sign": -1}]}, card)[0].split(":")[0]
    "'gravity and 2 related metrics' is one weight for gravity, osmo and urea (reversed)"
    """
    labels = dict(zip(card["feature"], card["label"], strict=True)) if len(card) else {}
    out = []
    for feature, members in groups.items():
        names = [m["column"] if m["sign"] > 0 else t("page.fit.grouped_reversed", lang, column=m["column"])
                 for m in members]
        out.append(t("page.fit.grouped", lang, label=labels.get(feature, feature),
                     columns=t("sep.comma", lang).join(names[:-1]) + t("page.fit.grouped_and", lang) + names[-1]))
    return out


def _write_validation(path: Path, w: pd.DataFrame, X: pd.DataFrame, models: list[str], date_col: str | None,
                      id_col: str | None, data_row: np.ndarray | None = None) -> None:
    """Every validation prediction, one row per table row tested (per test window or fold): the figures of
    ``evaluation.json`` can be recomputed from it, and a row's out-of-time probability read beside its outcome.

    Columns: ``data_row`` (the row's 1-based data row in the file), the id (with ``id_col``), the date (with
    ``date_col``), ``window`` (1-based test window) or ``fold``, ``label``, then ``p_<model>``: each model's
    churn probability from a fit that never saw the row (nor, with ``id_col``, its account's other rows in a
    fold), for ``learned`` (or ``shape`` and ``linear``), ``gbm`` and ``hand``."""
    rows = w["row"].to_numpy()
    out = pd.DataFrame({"data_row": data_row[rows] if data_row is not None else rows + 1})
    if id_col:
        out[id_col] = w["account_id"].to_numpy()
    if date_col:
        out[date_col] = X[date_col].to_numpy()[rows]
        out["window"] = w["as_of"].to_numpy() + 1
    else:
        out["fold"] = w["as_of"].to_numpy() + 1
    out["label"] = w["y"].to_numpy().astype(int)
    for m in models:
        out[f"p_{m}"] = w[m].to_numpy()
    write_csv(out.sort_values(["data_row", *(["window"] if date_col else [])], kind="stable"), path)


def not_computed_text(evaluation: dict, lang: str = "en") -> str:
    """Why a metric or its interval of ``evaluation["models"]`` (``fit_table``'s) is missing, a sentence per
    reason from the ``not_computed`` codes beside each interval (:func:`~.evaluation.not_computed_text`); empty
    when none is. ``learned``, the chosen card's figures again, is not said twice. Test rows of one outcome are
    named as the fit validated them, in its out-of-time windows or its cross-validation folds (the pipeline's
    sentence said "the backtest", which ``engage fit`` does not run).

    >>> ev = {"models": {"linear": {"roc_auc": {"estimate": 0.6, "ci_low": None, "ci_high": None,
    ...                                         "not_computed": "few_draws"},
    ...                             "brier": {"estimate": 0.1, "ci_low": 0.05, "ci_high": 0.2, "not_computed": None}}}}
    >>> not_computed_text(ev)[:54]
    'No 95% interval for the ROC-AUC of **linear card**: mo'
    >>> not_computed_text({"models": {"linear": {"brier": ev["models"]["linear"]["brier"]}}})
    ''
    >>> ev["models"]["linear"]["roc_auc"]["not_computed"] = "no_churner"
    >>> not_computed_text({**ev, "validation": {"windows": []}})[:64]
    'The rows tested in the out-of-time windows hold no churner: ROC-'
    """
    said = {m: f for m, f in evaluation["models"].items() if not (m == "learned" and "chosen" in evaluation)}
    rows = [{"model": m, "metric": metric, "not_computed": r.get("not_computed")}
            for m, f in said.items() for metric, r in f.items() if metric != "one_value"]
    frame = pd.DataFrame(rows, columns=["model", "metric", "not_computed"])
    one = [k for k in ("no_churner", "all_churned") if frame["not_computed"].eq(k).any()]
    where = t("page.fit.tested_in_windows" if "windows" in (evaluation.get("validation") or {})
              else "page.fit.tested_in_folds", lang)
    said = [t(f"page.fit.{k}", lang, where=where) for k in one]
    if rest := E.not_computed_text(frame[~frame["not_computed"].isin(one)], lang):
        said.append(rest)
    return (" " if lang == "en" else "").join(said)


def validation_method(val: dict, lang: str = "en") -> str:
    """How ``fit_table`` validated, from its ``evaluation["validation"]`` (``windows``, or ``folds`` and
    ``grouped_by``), in ``lang``: its ``method`` is the English.

    >>> validation_method({"folds": 5, "grouped_by": "account"})
    "stratified 5-fold cross-validation, folds of accounts by 'account' (no date column: not out-of-time)"
    >>> validation_method({"windows": [{}, {}, {}, {}]})
    'out-of-time (rolling origin over 4 equal windows of time)'
    """
    if "windows" in val:
        return t("page.fit.method_windows", lang, n=len(val["windows"]))
    if val.get("grouped_by") is not None:
        return t("page.fit.method_folds_accounts", lang, k=val["folds"], column=val["grouped_by"])
    return t("page.fit.method_folds_rows", lang, k=val["folds"])


def one_value_said(model: str, flat: dict, trained: dict, lang: str = "en") -> str:
    """Why ``model`` predicted one value for every row of some folds or windows (``flat``: its entry of
    :func:`~.evaluation.one_value`, ``trained``: the rows each fold or window, numbered from 0, was fitted on), in
    ``lang``: in English the ``reason`` of :func:`~.evaluation.one_value`.

    >>> flat = {"folds": [1, 2, 3], "of": 3, "all": True}
    >>> one_value_said("gbm", flat, {0: 20, 1: 20, 2: 20})  # doctest: +NORMALIZE_WHITESPACE
    'predicted one value for every row in each of the 3 folds (fitted on 20 rows: too few rows to learn from): it
     ranks no row above another, so its ROC-AUC, PR-AUC and top-decile lift are not computed'
    >>> one_value_said("linear", {"windows": [2], "of": 4, "all": False}, {0: 90, 1: 120}, "ja")[:23]
    '4期間のうち1期間で全行に同じ値を予測しました'
    """
    unit = "fold" if "folds" in flat else "window"
    tested = flat[f"{unit}s"]
    n, k = flat["of"], len(tested)
    rows = [trained[j - 1] for j in tested]
    lo, hi = min(rows), max(rows)
    fitted = ("page.fit.fitted_on", {"rows": lo}) if lo == hi else ("page.fit.fitted_between", {"lo": lo, "hi": hi})
    values = {"fitted": fitted, "why": (f"page.fit.why.{E.one_value_why(model, lo)}", {}), "n": n, "k": k,
              "unit": (f"page.fit.unit.{unit}", {}), "units": (f"page.fit.units.{unit}", {})}
    if k < n:
        return _say("page.fit.one_value_some", values, lang)
    where = ("page.fit.in_the", values) if n == 1 else ("page.fit.in_each", values)
    return _say("page.fit.one_value_all", {**values, "where": where}, lang)


def _header(column: str, lang: str) -> str:
    """A column of the report's tables by its name in ``lang`` (its name as written when the catalogue has none).

    >>> _header("points_range", "en"), _header("points_range", "ja") == t("page.fit.col.points_range", "ja"), \\
    ...     _header("new_field", "ja")
    ('points_range', True, 'new_field')
    """
    key = f"page.fit.col.{column}"
    return t(key, lang) if key in catalogue() else column


def chosen_html(ch: dict, lang: str = "en") -> str:
    """The paragraph of ``engage fit``'s page that names the learned card it keeps and why (``ch``: the
    evaluation's ``chosen``): the shape card only beyond the paired interval; the linear card "the higher beyond
    the noise" only when the whole interval of shape minus linear lies below 0, else alike within the noise (a
    difference of -0.000 read "the higher" before).

    >>> ch = {"score": "linear", "roc_auc": {"shape": 0.8121, "linear": 0.8124}, "shape_lead_within_noise": False,
    ...       "shape_minus_linear": {"difference": -0.0003, "ci_low": -0.01, "ci_high": 0.009, "not_computed": None}}
    >>> "alike within the noise" in chosen_html(ch)
    True
    >>> "the higher beyond the noise" in chosen_html({**ch, "shape_minus_linear": {
    ...     "difference": -0.03, "ci_low": -0.05, "ci_high": -0.01, "not_computed": None}})
    True
    """
    d = ch["shape_minus_linear"]
    auc = ch["roc_auc"]
    name = t(f"page.fit.card.{ch['score']}", lang)
    card_is = t("page.fit.chosen", lang, card=f"<strong>{html.escape(name)}</strong>")
    if d is None or None in auc.values():  # a card of one value (or no bootstrap): no paired difference
        flat = [t(f"page.fit.card.{f}", lang) for f in ("shape", "linear") if auc[f] is None]
        why = (t("page.fit.why_flat", lang, cards=flat[0]) if len(flat) == 1
               else t("page.fit.why_flat_both", lang, a=flat[0], b=flat[1]) if flat
               else t("page.fit.why_higher", lang))
        figures = t("sep.list", lang).join(t("page.fit.auc_of", lang, card=t(f"page.fit.card.{f}", lang),
                                             auc=f"{auc[f]:.3f}")
                                           for f in ("shape", "linear") if auc[f] is not None)
        return "<p>" + (t("page.fit.chosen_figures", lang, chosen=card_is, why=why, figures=figures)
                        if figures else t("page.fit.chosen_plain", lang, chosen=card_is, why=why)) + "</p>"
    if d.get("not_computed") == "off_centre":  # the resamples to one side: they may all favour a card
        return "<p>" + t("page.fit.chosen_off_centre", lang, chosen=card_is, shape=auc["shape"],
                         linear=auc["linear"], d=d["difference"]) + "</p>"
    if d.get("not_computed"):  # no interval of the difference (2.5% rule): the simpler card, and why
        return "<p>" + t("page.fit.chosen_no_interval", lang, chosen=card_is, shape=auc["shape"],
                         linear=auc["linear"], d=d["difference"],
                         why=t(f"hs.choice_why_{d['not_computed']}", lang)) + "</p>"
    # the linear card kept with an interval that reaches 0: alike, not "the higher" (-0.000 read so)
    why = t("page.fit.why_beyond_noise" if ch["score"] == "shape" or d["ci_high"] < 0
            else "page.fit.why_within_noise" if ch.get("shape_lead_within_noise") else "page.fit.why_alike", lang)
    return "<p>" + t("page.fit.chosen_paired", lang, chosen=card_is, why=why, shape=auc["shape"],
                     linear=auc["linear"], d=d["difference"], low=d["ci_low"], high=d["ci_high"]) + "</p>"


def _write_report(path: Path, card: pd.DataFrame, boot: pd.DataFrame, w: pd.DataFrame, evaluation: dict,
                  models, lang: str = "en", said: dict | None = None, trained: dict | None = None,
                  shape: tuple | None = None) -> None:
    """A one-page HTML report in ``lang``: validation, model comparison, calibration plot, scorecard. Nothing
    fetched. The fit's own sentences are said in ``lang`` too: the validation method, a model of one value (from
    ``trained``, the rows each fold or window was fitted on), the columns left out (``said``: each one's reason as
    a catalogue key and values); the leakage screen's reasons are in the language the fit was run in; the
    missing-value codes' lines are the console's, in English. A shape card (``shape``: its :meth:`card` and
    :meth:`pair_tables`) is shown as its ranges and points and its pairwise tables: its scorecard row has no
    weight (the page showed a column of NaN and no range), so only the points each term can move are kept there."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._core.plots import setup
    from .views import calibration_text

    check_lang(lang)
    setup(lang)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for m in models:
        c = E.calibration_curve(w["y"], w[m], bins=10)
        ax.plot(c["predicted"], c["observed"], marker="o", label=t(m, lang))  # named as the comparison table names it
    top = float(max(w[list(models)].max().max(), w["y"].mean() * 2))
    ax.plot([0, top], [0, top], "--", color="grey", linewidth=0.8)
    ax.set_xlabel(t("surv.predicted_churn", lang))
    ax.set_ylabel(t("page.fit.observed_axis", lang))
    ax.legend(frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode("ascii")
    flat = {m: f for m, f in ((m, evaluation["models"][m].get("one_value")) for m in models) if f}
    view = E.summary_view(boot, lang, one_value=flat)  # a model of one value: its ranking "not computed: one value"
    def bold(text: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))

    comparison = view.to_html(index=False, escape=True, border=0) + "".join(
        "<p>" + bold(t("page.fit.one_value_line", lang, model=t(m, lang), reason=(
            one_value_said(m, f, trained, lang) if trained is not None else f["reason"]))) + "</p>"
        for m, f in flat.items())
    if missing := not_computed_text(evaluation, lang):  # rows of one outcome, intervals the resamples cannot give
        comparison += "<p>" + bold(missing) + "</p>"
    columns = ["label", "weight", "ci_low", "ci_high", "points_range", "delta_churn_probability"]
    table = card[columns].round(4)
    table = table.drop(columns=[c for c in columns[1:] if table[c].isna().all()])  # a shape has no weight, and
    # no bootstrap no interval: a column of NaN said nothing; an empty cell is one the card has no value for
    scorecard = table.rename(columns=lambda c: _header(c, lang)).to_html(index=False, escape=True, border=0,
                                                                          na_rep="")
    if shape is not None:
        from .views import MAX_PAIR_TABLES, shape_card_view

        ranges, pairs = shape
        scorecard += shape_card_view(ranges, lang).to_html(index=False, escape=True, border=0)
        for name, tb in list(pairs.items())[:MAX_PAIR_TABLES]:
            scorecard += f"<h3>{html.escape(str(name))}</h3>" + tb.round(0).reset_index().to_html(
                index=False, escape=True, border=0, na_rep="", float_format="{:.0f}".format)
        if rest := list(pairs.items())[MAX_PAIR_TABLES:]:  # named with the points each moves, as report 04 does
            items = [t("hs.pair_item", lang, name=name, points=fmt_number(
                float(np.nanmax(tb.to_numpy(float)) - np.nanmin(tb.to_numpy(float))), lang, 1)) for name, tb in rest]
            scorecard += "<p>" + html.escape(t("hs.more_pairs", lang, n=len(rest),
                                                items=t("sep.list", lang).join(items))) + "</p>"
    if grouped := grouped_text((evaluation.get("final_model") or {}).get("grouped_metrics") or {}, card, lang):
        scorecard += "".join(f"<p>{html.escape(x)}</p>" for x in grouped)
    data, val = evaluation["data"], evaluation["validation"]
    windows = ""
    if "windows" in val:
        table = pd.DataFrame(val["windows"]).drop(columns=["skipped", "roc_auc"], errors="ignore")
        table = table.rename(columns=lambda c: _header(c, lang))
        mature = val["labels_mature_until"] if lang == "en" else fmt_date(val["labels_mature_until"], lang)
        windows = (f"<p>{html.escape(t('page.fit.windows', lang, date=mature))}</p>"
                   + table.to_html(index=False, escape=True, border=0))
    chosen = chosen_html(evaluation["chosen"], lang) if "chosen" in evaluation else ""
    leaks = describe(evaluation["leakage_screen"], lang)
    leaks = (f"<h2>{t('page.leakage', lang)}</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in leaks)
             + "</ul>") if leaks else ""
    rows = t("page.fit.rows", lang, rows=f"{data['rows']:,}", without=f"{data['rows_without_label']:,}",
             rate=fmt_pct(100 * data["churn_rate"], lang), method=html.escape(validation_method(val, lang)),
             test_rows=f"{val['test_rows']:,}", events=f"{val['test_events']:,}",
             accounts=f"{val['test_accounts']:,}")
    title = t("page.fit.title", lang)
    body = f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2rem auto}}table{{border-collapse:collapse;font-size:.85rem}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}}</style></head><body>
<h1>{t("page.fit.h1", lang)}</h1>
<p>{rows}</p>{windows}{leaks}
<h2>{t("page.fit.compared", lang)}</h2>{chosen}{comparison}
<h2>{t("page.fit.calibration", lang)}</h2><p>{html.escape(calibration_text(evaluation["calibration"], lang))}</p>
<img alt="{html.escape(t("page.fit.calibration_alt", lang))}" src="data:image/png;base64,{img}">
<h2>{t("page.fit.scorecard", lang)}</h2>{scorecard}
<h2>{t("page.fit.data", lang)}</h2>{_data_lists(data, lang, said)}
</body></html>"""
    path.write_text(body, encoding="utf-8")
