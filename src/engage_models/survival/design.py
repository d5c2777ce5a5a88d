"""Covariates to a numeric design matrix, the same way at fit and at predict time.

Categorical columns (object, category, bool) become one indicator per level except a reference level
(the most frequent, so hazard ratios read "against the typical account"); indicators are named
``column=level``. Numeric columns pass through. The levels seen at fit time are kept, so a new table is
encoded identically; a level never seen is encoded as the reference (and logged).

Aliased terms
-------------
A term that is an exact linear combination of the terms before it (and of a constant, which the Cox
baseline absorbs) carries no information of its own and makes the model's information matrix singular:
lifelines stops with "matrix inversion problems". Tables of services do this all the time: the level
"No internet service" of six Yes/No service columns is the same indicator as ``internet_service=No``;
"No phone service" of ``multiple_lines`` is ``1 - phone_service``. :meth:`Design.fit` finds such terms on the
rows it is given (Gram-Schmidt in column order, relative tolerance ``ALIAS_TOL``), keeps the first of each
dependent set and leaves the later ones out, recording in :attr:`Design.aliased` which terms each equals
(as R's ``lm`` reports aliased coefficients as ``NA``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .._core.errors import DataError
from .._core.i18n import count
from .._core.io import looks_like_dates  # noqa: F401  (survival's callers import it from here)
from .._core.reasons import Why

log = logging.getLogger(__name__)

#: A categorical covariate with more levels than this is refused (it is an ID or text, and would overfit).
MAX_LEVELS = 50
#: A term whose residual, after projecting it on the terms before it and a constant, has a norm below this
#: share of its own (centred) norm is aliased: an exact linear combination of them, up to rounding.
ALIAS_TOL = 1e-8


#: What the designs and fits inside :func:`refits` met, counted instead of warned (None outside).
_REFITS: ContextVar[Counter | None] = ContextVar("survival_refits", default=None)


@contextmanager
def refits() -> Iterator[Counter]:
    """A block of refits of a fitted model (a bootstrap draw): what each would warn about (a level its resample
    never had, rows left out for a missing covariate) goes to the yielded ``Counter`` ({what: rows}) and the
    debug log, and the caller says it once. The blank world (a quarter of the accounts without a segment, one-
    account segments) printed hundreds of these lines, once per refit of the survival values' intervals."""
    counts: Counter = Counter()
    token = _REFITS.set(counts)
    try:
        yield counts
    finally:
        _REFITS.reset(token)


def counted_call(fn: Callable, *args):
    """``fn(*args)`` inside :func:`refits`: ``(its result, the set of things it met)`` (a fold of a cross-validation,
    in this process or a worker's, whose caller says what the folds met once with :func:`say_folds`)."""
    with refits() as met:
        out = fn(*args)
    return out, set(met)


def say_folds(met: list[set], folds: int, what: str = "cross-validation folds") -> None:
    """Once for what the ``folds`` met (``met``: one set a fold, from :func:`counted_call`), where each fold would
    have said it again (a run with a rare segment printed 26 "not seen in fitting" lines from the folds): a level
    some folds' training parts lacked, one warning a column; rows left out for a missing covariate at debug level
    (the full fit said them). Inside :func:`refits` (folds of a bootstrap refit) they are counted there instead."""
    seen = set().union(*met) if met else set()
    if _REFITS.get() is not None:
        for key in seen:
            counted_in_refit(key, 1)
        return
    for column in sorted({key[1] for key in seen if key[0] == "unseen_level"}):
        keys = {key for key in seen if key[:2] == ("unseen_level", column)}
        k = sum(1 for m in met if m & keys)
        refs = " or ".join(repr(key[2]) for key in sorted(keys))
        log.warning("%d of %d %s met a level of %r that their training part lacked (a rare level): its held-out rows "
                    "were encoded as the reference level %s there", k, folds, what, column, refs)
    for key in sorted((key for key in seen if key[0] != "unseen_level"), key=str):
        log.debug("%d of %d %s met %s", sum(1 for m in met if key in m), folds, what, key)


def counted_in_refit(what: tuple, rows: int) -> bool:
    """Inside :func:`refits`: count ``rows`` under ``what`` and return True (the caller logs at debug level);
    outside: False (the caller warns)."""
    counts = _REFITS.get()
    if counts is None:
        return False
    counts[what] += int(rows)
    return True


def is_categorical(s: pd.Series) -> bool:
    return (ptypes.is_object_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype) or ptypes.is_bool_dtype(s)
            or ptypes.is_string_dtype(s))


#: Why a column of dates is no covariate (``example``: one of its values).
DATES_NOT_COVARIATES = ("dates (e.g. {example!r}), not an identifier: a covariate needs a duration, not a date; "
                        "turn the date into a number (days since signing up, months until renewal) or name the "
                        "time observed as --duration")


def _first(s: pd.Series) -> str:
    """The first non-empty value of ``s``, as text (an example in a message)."""
    values = s.dropna().astype(str)
    return str(values.iloc[0]) if len(values) else ""


@dataclass
class Design:
    """Encoding of ``covariates``: categorical levels (reference first) and the resulting term names."""

    covariates: list[str]
    levels: dict[str, list] = field(default_factory=dict)  # categorical column -> [reference, other levels...]
    aliased: dict[str, dict] = field(default_factory=dict)  # term left out -> {"combination": {term: coef}, ...}

    @classmethod
    def fit(cls, df: pd.DataFrame, covariates: list[str], categorical: list[str] | None = None, *,
            drop_aliased: bool = True, where: str | None = None) -> Design:
        """Levels of the categorical covariates in ``df``, and (``drop_aliased``) the aliased terms left out.
        ``where``: the table's name (its file), said first in the :class:`DataError` on a covariate that cannot be
        one."""
        missing = [c for c in covariates if c not in df.columns]
        if missing:
            raise ValueError(f"covariate {'column' if len(missing) == 1 else 'columns'} not in the table: {missing}")
        categorical = set(categorical or []) | {c for c in covariates if is_categorical(df[c])}
        said = f"{where}, " if where else ""
        levels = {}
        for c in covariates:
            if c in categorical:
                counts = df[c].dropna().astype(str).value_counts()
                if len(counts) > MAX_LEVELS and looks_like_dates(df[c]):  # it was called "an identifier"
                    raise DataError(f"{said}covariate {c!r} holds "
                                    f"{DATES_NOT_COVARIATES.format(example=_first(df[c]))}, "
                                    f"or leave it out of the covariates")
                if len(counts) > MAX_LEVELS:
                    raise DataError(f"{said}covariate {c!r} has {len(counts)} distinct values: an identifier, free "
                                    f"text, or more categories than {MAX_LEVELS} to estimate one by one; group its "
                                    f"values, name an identifier as the id column, or leave it out of the "
                                    f"covariates")
                order = sorted(counts.index, key=lambda v: (-counts[v], v))
                if len(order) < 2:  # said once, not again by each fold and refit (57 lines on a table)
                    said_once = log.debug if counted_in_refit(("single_level", c), 1) else log.warning
                    said_once("covariate %r has a single level: left out", c)
                levels[c] = order
        design = cls(list(covariates), levels)
        if drop_aliased and design.terms:
            rows = df[covariates].notna().all(axis=1)
            design.aliased = aliased_terms(design.transform(df[rows]))
            for term, info in design.aliased.items():
                log.info("term %r left out: %s", term, info["text"])
        return design

    @property
    def all_terms(self) -> list[str]:
        """Every term of the encoding, the aliased ones included."""
        out = []
        for c in self.covariates:
            if c in self.levels:
                out += [f"{c}={v}" for v in self.levels[c][1:]]
            else:
                out.append(c)
        return out

    @property
    def terms(self) -> list[str]:
        """The terms of the model: :attr:`all_terms` less the aliased ones."""
        return [t for t in self.all_terms if t not in self.aliased]

    def aliased_records(self) -> list[dict]:
        """The aliased terms as JSON-ready records: ``term``, ``covariate``, ``equals`` (text), ``combination``."""
        cov = self.term_covariate(all_terms=True)
        return [{"term": t, "covariate": cov[t], "equals": v["text"], "combination": v["combination"],
                 "constant": v["constant"]} for t, v in self.aliased.items()]

    def term_covariate(self, all_terms: bool = False) -> dict[str, str]:
        """Term name -> the covariate it comes from (``all_terms``: the aliased terms too)."""
        terms = self.all_terms if all_terms else self.terms
        return {t: (t.split("=", 1)[0] if "=" in t and t.split("=", 1)[0] in self.levels else t) for t in terms}

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Numeric design (float) with one column per term, index of ``df``; missing stays missing."""
        cols = {}
        for c in self.covariates:
            if c in self.levels:
                v = df[c].astype("string")
                codes = pd.Categorical(v, categories=self.levels[c]).codes  # -1: missing or not seen in fitting
                missing = v.isna().to_numpy()
                unseen = (codes < 0) & ~missing
                if unseen.any():
                    ref = str(self.levels[c][0])  # np.str_('SMB') said as 'SMB'
                    said = log.debug if counted_in_refit(("unseen_level", c, ref), unseen.sum()) else log.warning
                    said("%s with a level of %r not seen in fitting: encoded as %r", count(int(unseen.sum()), "row"),
                         c, ref)
                for k, lev in enumerate(self.levels[c][1:], start=1):
                    cols[f"{c}={lev}"] = np.where(missing, np.nan, (codes == k).astype(float))
            else:
                cols[c] = pd.to_numeric(df[c], errors="raise").astype(float).to_numpy()
        return pd.DataFrame(cols, index=df.index, columns=self.terms)

    def complete(self, df: pd.DataFrame) -> pd.Series:
        """Rows with every covariate present."""
        return df[self.covariates].notna().all(axis=1)


def aliased_terms(X: pd.DataFrame, tol: float = ALIAS_TOL) -> dict[str, dict]:
    """Columns of ``X`` that are exact linear combinations of a constant and the columns before them.

    Gram-Schmidt in column order (twice, for rounding): a column whose centred residual has a norm below
    ``tol`` times its centred norm is aliased, and its combination of the kept columns is found by least
    squares. Returns ``{column: {"combination": {kept column: coefficient}, "constant": c, "text": ...}}``;
    a constant column has an empty combination. An exact relation holds on every row if and only if it
    holds on the distinct rows (person-periods repeat their account's covariates), so only those are used.
    """
    X = X.drop_duplicates()
    A = X.to_numpy(float)
    A = A - A.mean(axis=0) if len(A) else A
    Q = np.empty((len(A), 0))  # orthonormal basis of the kept columns
    kept: list[int] = []
    out = {}
    for j, name in enumerate(X.columns):
        x = A[:, j]
        norm = float(np.linalg.norm(x))
        r = x - Q @ (Q.T @ x)
        r -= Q @ (Q.T @ r)  # twice is enough (Kahan-Parlett)
        rnorm = float(np.linalg.norm(r))
        if norm > 0 and rnorm > tol * norm:
            Q = np.column_stack([Q, r / rnorm])
            kept.append(j)
            continue
        combo: dict[str, float] = {}
        if norm > 0 and kept:
            coef, *_ = np.linalg.lstsq(A[:, kept], x, rcond=None)
            combo = {str(X.columns[k]): float(round(c, 10)) for k, c in zip(kept, coef, strict=True)
                     if abs(c) > 1e-8}
        means = X.mean()
        const = float(means.iloc[j] - sum(c * means[k] for k, c in combo.items())) if len(X) else 0.0
        out[str(name)] = {"combination": combo, "constant": round(const, 10), "text": _alias_text(name, combo, const)}
    return out


def _alias_text(name, combo: dict[str, float], const: float) -> Why:
    """``'b' = 'a'``, ``'b' = 1 - 'a'``, ``'c' is constant (2)`` ... (a :class:`Why`: English text that keeps its key
    for a Japanese page; the sum itself is written in symbols, alike in both).

    >>> from engage_models._core.reasons import text
    >>> _alias_text("b", {"a": -1.0}, 1.0), text(_alias_text("c", {}, 2.0), "ja")[:13]
    ("'b' = 1 - 'a' on the rows used: it adds nothing to them", "'c' は使った行では一定")
    """
    if not combo:
        return Why("sv.alias.constant", name=name, const=f"{const:g}")
    parts = []
    if abs(const) > 1e-8:
        parts.append(f"{const:g}")
    for k, c in combo.items():
        sign = "-" if c < 0 else "+"
        mag = "" if abs(abs(c) - 1) < 1e-8 else f"{abs(c):g} x "
        parts.append(f"{sign} {mag}{k!r}" if parts else f"{'-' if c < 0 else ''}{mag}{k!r}")
    return Why("sv.alias.equals", name=name, formula=" ".join(parts))


def aliased_notes(records: list[dict], levels: dict[str, list]) -> list[Why]:
    """The aliased terms (:meth:`Design.aliased_records`) in sentences, one per covariate: a categorical covariate
    whose levels are all sums of another's (a continent beside its regions) had one sentence per level, each
    spelling out its sum (on lifelines' ``dd`` a kilobyte of notes); the sums are in ``evaluation.json``
    (``design.aliased_terms``). A single term with a short combination keeps its sentence. ``levels``: the
    design's levels (reference first).

    >>> recs = [{"term": f"continent={c}", "covariate": "continent", "equals": "...", "constant": 0.0,
    ...          "combination": {f"region={r}": 1.0 for r in rs}} for c, rs in (("Asia", "abc"), ("Africa", "de"))]
    >>> aliased_notes(recs, {"continent": ["Europe", "Asia", "Africa"], "region": list("xabcde")})
    ["left out 'continent': each of its 2 levels besides the reference 'Europe' ('Asia', 'Africa') is a combination \
of terms of 'region' on the rows used: it adds nothing to them (the sums: evaluation.json, design.aliased_terms)"]
    >>> from engage_models._core.reasons import text
    >>> text(aliased_notes(recs, {"continent": ["Europe", "Asia", "Africa"], "region": list("xabcde")})[0], "ja")[:35]
    "'continent' を除外しました：基準 'Europe' 以外の"
    """
    def source(term: str) -> str:
        name = term.split("=", 1)[0]
        return name if "=" in term and name in levels else term

    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["covariate"], []).append(r)
    out = []
    for cov, recs in groups.items():
        if len(recs) == 1 and len(recs[0]["combination"]) <= 4:
            out.append(Why("sv.note.aliased_term", term=recs[0]["term"], equals=recs[0]["equals"]))
            continue
        sources = list(dict.fromkeys(source(k) for r in recs for k in r["combination"]))
        what = (Why("sv.alias.combination", sources=", ".join(map(repr, sources))) if sources else
                Why("sv.alias.constant_sum"))
        if cov not in levels:
            out.append(Why("sv.note.aliased_covariate", covariate=cov, what=what))
            continue
        ref, others = levels[cov][0], len(levels[cov]) - 1
        names = ", ".join(repr(r["term"].split("=", 1)[1]) for r in recs)
        key = "sv.note.aliased_levels" if len(recs) == others else "sv.note.aliased_some_levels"
        out.append(Why(key, covariate=cov, n=len(recs), others=others, reference=ref, names=names, what=what))
    return out
