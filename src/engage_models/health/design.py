"""The design of the health score: which columns enter, how, and what each design feature is called.

Numeric metrics go through :class:`~engage_models.health.scaling.SkewScaler` (after monotone binning, if asked);
categorical columns (segment, plan) are one-hot encoded on the levels seen in fit. A level of fewer than
``MIN_LEVEL_ACCOUNTS`` accounts (rows, without an id column) gets no weight of its own: such levels are pooled
into one level ``OTHER`` (with the levels a later table brings that fit never saw), which gets a weight when
the pool reaches that many accounts; below it, their rows carry no effect of the column (all zeros). A weight
fitted to one or two accounts' outcomes is noise read as a finding (a text column of a dozen one-row levels gave
a dozen weights, the largest a quarter of the strongest metric's). A design feature is a metric (or a group of
correlated metrics, named after its first), ``<metric>__missing`` (1 when the metric had no value) or
``<column>=<level>``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .._core.i18n import t
from ..features import metrics as M
from .scaling import MISSING_SUFFIX, MonotoneBinner, SkewScaler

#: A categorical level needs this many accounts in the training rows for a weight of its own (else it is pooled).
MIN_LEVEL_ACCOUNTS = 10
#: A metric gets a missing-value indicator only when this many accounts (rows, without an id column) of the training
#: rows miss it; below, its missing cells are only imputed: a weight fitted to a few accounts' outcomes is noise.
MIN_MISSING_ACCOUNTS = MIN_LEVEL_ACCOUNTS
#: The level that pools the rare ones (and the ones fit never saw); a name no data level is expected to have.
OTHER = "__other__"


def level_order(column: pd.Series, levels) -> list[str]:
    """``levels`` (text) of a categorical ``column`` in the order a reader expects: an ordered categorical's own
    order; levels that are all numbers by value ("2" before "10"); else as text, with runs of digits compared as
    numbers ("plan 2" before "plan 10"). Sorted as plain text, a column of product counts listed "1, 10, 2, 3".

    >>> level_order(pd.Series(["10", "2", "3"]), ["10", "2", "3"])
    ['2', '3', '10']
    >>> level_order(pd.Series(["SMB"]), ["plan 10", "Enterprise", "plan 2"])
    ['Enterprise', 'plan 2', 'plan 10']
    >>> level_order(pd.Series(pd.Categorical(["low"], ["low", "mid", "high"], ordered=True)), ["mid", "high", "low"])
    ['low', 'mid', 'high']
    """
    levels = [str(lv) for lv in levels]
    if isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered:
        rank = {str(c): i for i, c in enumerate(column.dtype.categories)}
        return sorted(levels, key=lambda lv: (rank.get(lv, len(rank)), lv))
    numbers = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce")
    if len(levels) and numbers.notna().all():
        return [lv for _, lv in sorted(zip(numbers, levels, strict=True))]
    return sorted(levels, key=lambda lv: [(0, int(x), "") if x.isdigit() else (1, 0, x)
                                          for x in re.split(r"(\d+)", lv) if x])


#: Why a metric is left out of a fit (:func:`uninformative`): the words report 04 uses for each.
NO_VALUE, ONE_VALUE = "no_value", "one_value"


def uninformative(X: pd.DataFrame, metrics) -> dict[str, str]:
    """The ``metrics`` that tell a fit nothing on the rows of ``X``, with why: :data:`NO_VALUE` (no row has a
    value: an accounts file without seats, a world without surveys) or :data:`ONE_VALUE` (every row has the same
    value). A metric of one value with some rows missing stays (its missing-value indicator still separates)."""
    out = {}
    for c in metrics:
        v = pd.to_numeric(X[c], errors="coerce")
        n = v.nunique(dropna=True)
        if n == 0:
            out[c] = NO_VALUE
        elif n == 1 and v.notna().all():
            out[c] = ONE_VALUE
    return out


def left_out_attrs(model) -> dict:
    """The metrics a fitted card left out (:func:`uninformative`) as a scorecard's ``attrs``: ``left_out`` (names)
    and ``left_out_reason`` (:data:`NO_VALUE` / :data:`ONE_VALUE`), lists so that they are kept beside the stored
    table and in a frozen model's card; nothing when none (a model saved before this has none)."""
    left = dict(getattr(model, "left_out_", None) or {})
    return {"left_out": list(left), "left_out_reason": list(left.values())} if left else {}


def left_out_of(attrs: dict) -> dict[str, str]:
    """``{metric: reason}`` from a scorecard's ``attrs`` (:func:`left_out_attrs`; empty for older cards)."""
    names, why = attrs.get("left_out") or [], attrs.get("left_out_reason") or []
    return dict(zip(names, why, strict=False))


def _infer_columns(X: pd.DataFrame, metrics, categorical, exclude) -> tuple[list[str], list[str], dict[str, str]]:
    """Metrics: the registry's model metrics in ``X``, else every numeric non-boolean column; categorical: text,
    category or boolean columns with 2 to 50 levels, or one level with some rows empty (as a metric of one value
    with rows missing, :func:`uninformative`: whether it is filled still separates; its empty rows have none of its
    levels, and ``engage fit`` listed it among its features while every card dropped it without a word). Columns in
    ``exclude`` (date, id) never enter.

    Metrics without a value, or with one value, on these rows (:func:`uninformative`) are left out, given or
    inferred, and returned third with why: a column of nothing got a weight, points and an interval on the card
    (a panel without csat: "latest CSAT: no answer" at -0.0001) and every fit of the boosting warned on it. Each
    fit decides on its own rows: a backtest's early cutoff whose rows have no value of a metric fits without it,
    as a fit made on that date would have; a frozen model needs only the metrics it kept."""
    if metrics is None:
        registry = [c for c in X.columns if c in M.REGISTRY_COLUMNS and M.REGISTRY_COLUMNS[c].model]
        metrics = registry or [c for c in X.columns if c not in exclude and pd.api.types.is_numeric_dtype(X[c])
                               and not pd.api.types.is_bool_dtype(X[c])]
    if categorical is None:
        categorical = [c for c in X.columns if c not in exclude and c not in metrics
                       and (X[c].dtype == object or isinstance(X[c].dtype, pd.CategoricalDtype)
                            or pd.api.types.is_string_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
                       and (1 < X[c].nunique() <= 50 or (X[c].nunique() == 1 and X[c].isna().any()))]
    missing = [c for c in [*metrics, *categorical] if c not in X.columns]
    if missing:
        raise ValueError(f"feature {'column' if len(missing) == 1 else 'columns'} not in X: {missing}")
    left_out = uninformative(X, metrics)
    return [c for c in metrics if c not in left_out], list(categorical), left_out


class _Design:
    """Numeric metrics through a SkewScaler (after monotone binning, if asked), categoricals one-hot (levels
    seen in fit; others all-zero). Holds plain data only (lists, dicts, fitted transformers), so a fitted
    model saves with ``skops``."""

    def __init__(self, numeric, categorical, skew_threshold, group_threshold, binning=None, n_bins=5):
        self.numeric, self.categorical = list(numeric), list(categorical)
        if binning not in (None, "monotone"):
            raise ValueError(f"binning must be None or 'monotone', not {binning!r}")
        self.binner = MonotoneBinner(n_bins) if binning else None
        # binned values are weights of evidence: already log-odds, missing values have their own bin
        self.scaler = SkewScaler(skew_threshold=skew_threshold, group_threshold=group_threshold,
                                 missing_indicators=not binning, log_transform=not binning,
                                 min_missing=MIN_MISSING_ACCOUNTS)
        self.levels: dict[str, list[str]] = {}
        self.pooled: dict[str, list[str]] = {}  # column -> its levels pooled into OTHER (too few accounts)
        self.binary: list[str] = []

    def _numeric(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.binner.transform(X[self.numeric]) if self.binner is not None else X[self.numeric]

    def fit(self, X: pd.DataFrame, y=None, groups=None):
        """Fit on ``X``; ``groups`` (one account code per row) counts a level's accounts, else its rows."""
        if self.numeric:
            if self.binner is not None:
                self.binner.fit(X[self.numeric], y)
            self.scaler.fit(self._numeric(X), groups=groups)
        self.levels, self.pooled = {}, {}
        for c in self.categorical:
            v = X[c].astype("string")
            ok = v.notna().to_numpy()
            who = pd.Series(np.asarray(groups)[ok] if groups is not None else np.flatnonzero(ok))
            n = who.groupby(v[ok].to_numpy()).nunique()
            rare = level_order(X[c], n.index[n < MIN_LEVEL_ACCOUNTS])
            kept = level_order(X[c], n.index[n >= MIN_LEVEL_ACCOUNTS])
            if rare:
                self.pooled[c] = rare
                pool = who[v[ok].isin(rare).to_numpy()].nunique()
                if pool >= MIN_LEVEL_ACCOUNTS:
                    kept.append(OTHER)
            self.levels[c] = kept
        self.binary = ([c + MISSING_SUFFIX for c in self.scaler.missing_columns_] if self.numeric else []) + \
            [f"{c}={lv}" for c in self.categorical for lv in self.levels[c]]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        parts = [self.scaler.transform(self._numeric(X))] if self.numeric else []
        for c in self.categorical:
            v = X[c].astype("string")
            named = [lv for lv in self.levels[c] if lv != OTHER]
            cols = {f"{c}={lv}": (v == lv).fillna(False).astype(float).to_numpy() for lv in named}
            if OTHER in self.levels[c]:  # the rare levels of fit, and any level it never saw
                cols[f"{c}={OTHER}"] = (v.notna() & ~v.isin(named)).astype(float).to_numpy()
            parts.append(pd.DataFrame(cols, index=X.index)[[f"{c}={lv}" for lv in self.levels[c]]])
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=X.index)

    def is_binary(self, feature: str) -> bool:
        """A 0/1 feature: a missing-value indicator or a category level."""
        return feature in self.binary


def missing_word(column: str, lang: str = "en") -> str:
    """What a missing value of ``column`` is called: 'no answer' for a survey's metric (the customer did not
    answer), 'no data' for the others (a Japanese team read 回答・値なし, "no answer or value", beside usage)."""
    try:
        survey = M.get(column).source == "surveys"
    except KeyError:
        survey = False
    return t("health.no_answer" if survey else "health.missing_value", lang)


def feature_label(feature: str, lang: str = "en") -> str:
    """Readable name of a design feature (metric label, 'segment = SMB', 'latest NPS rating (0-10): no answer')."""
    if feature.endswith(MISSING_SUFFIX):
        base = feature.removesuffix(MISSING_SUFFIX)
        return t("sep.label_value", lang, what=M.label(base, lang), value=missing_word(base, lang))
    if "=" in feature:
        col, level = feature.split("=", 1)
        return f"{t(col, lang)} = {level_label(level, lang)}"
    return M.label(feature, lang)


def level_label(level: str, lang: str = "en") -> str:
    """A categorical level as a reader sees it: the pooled rare levels read "other (rare levels)"."""
    return t("health.other_levels", lang) if level == OTHER else level
