"""Drivers of a health score, in words: per account, the features costing it most points against a typical
healthy account (the median training account that did not churn).

Used by :meth:`engage_models.health.HealthScore.drivers`; the words come from the message catalogue
(``health.*`` keys), so English and Japanese read alike.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._core.i18n import t
from ..features import metrics as M
from .design import level_label, missing_word
from .scaling import MISSING_SUFFIX

#: a feature costing less than this many points against the typical healthy account is not a driver
MIN_POINTS = 0.5


def drivers(model, X: pd.DataFrame, k: int = 3, lang: str = "en") -> pd.DataFrame:
    """Per row of ``X`` (a DataFrame): the ``k`` features of a fitted :class:`~engage_models.health.HealthScore`
    costing most points against its typical healthy account.

    A categorical column is one driver: its levels' points together, the row's level against the typical
    healthy account's ("marital widow, typical healthy married: -2 points"; each level was a driver of its own,
    "marital = married" for a widow, and a binary column's two levels counted its one fact twice).

    A metric whose weight's stability interval holds 0 is no driver: the data cannot tell which way it acts, and
    a reader of the reports found "latest CSAT 5.00, typical healthy 3.00: -3 points" as the top driver of three
    of ten accounts, a perfect CSAT read as a risk from a weight of +0.06 (-0.04 to +0.18). Its points still count
    in the score. (Without intervals, ``n_bootstrap=0``, every metric may be one; a category is one driver
    whatever its levels' intervals, which do not say how sure the difference of two levels is.)

    Returns ``drivers`` (list of dicts: feature, label, value, typical, points; for a category ``level`` and
    ``typical_level``, its value and typical None) and ``drivers_text``. A feature's label and its metric's
    column are looked up once, not per row (a row of a wide frame costs a fifth of a millisecond to take out:
    10 seconds at 16,000 accounts in two languages).
    """
    pts = model.points(X)
    lost_by_feature = pts.to_numpy() - model._points_from_z(model.typical_)[None, :]
    design = model.fitted_.design
    names = list(model.feature_names_)
    column_of = {f"{c}={lv}": c for c in design.categorical for lv in design.levels[c]}
    terms: dict[str, list[int]] = {}  # a driver: a feature, or a categorical column and its levels
    for j, f in enumerate(names):
        terms.setdefault(column_of.get(f, f), []).append(j)
    unsure = model.unsigned_features()  # a metric's weight the data cannot sign is no driver (points still count)
    terms = {key: js for key, js in terms.items() if key not in unsure}
    keys = list(terms)
    lost = np.column_stack([lost_by_feature[:, terms[key]].sum(axis=1) for key in keys]) if keys else \
        np.zeros((len(pts), 0))
    order = np.argsort(lost, axis=1)[:, :k]
    labels: dict[str, str] = {}
    sources: dict[str, tuple] = {}
    out, texts = [], []
    for i in range(len(pts)):
        items = []
        for j in order[i]:
            if lost[i, j] >= -MIN_POINTS:
                continue
            key = keys[j]
            if key not in labels:
                labels[key] = t(key, lang) if key in design.categorical else model.feature_label(key, lang)
                sources[key] = (_levels(model, X, key, lang) if key in design.categorical
                                else raw_values(model, X, key))
            item = {"feature": key, "label": labels[key], "value": None, "typical": None, "points": float(lost[i, j])}
            if key in design.categorical:
                column, typical = sources[key]
                item.update(level=column[i], typical_level=typical)
            else:
                column, typical = sources[key]
                item.update(value=None if column is None else _number(column[i]), typical=typical)
            items.append(item)
        out.append(items)
        texts.append(t("health.driver_sep", lang).join(driver_words(d, lang) for d in items))
    return pd.DataFrame({"drivers": out, "drivers_text": texts}, index=pts.index)


def _levels(model, X: pd.DataFrame, column: str, lang: str = "en") -> tuple[list[str | None], str | None]:
    """(each row's level of a categorical ``column``, None where it has none; the typical healthy account's, the
    pool of rare levels in words when most healthy accounts are in it)."""
    values = X[column].astype("string")
    rows = [None if pd.isna(v) else str(v) for v in values]
    levels = model.fitted_.design.levels[column]
    names = list(model.feature_names_)
    held = [lv for lv in levels if model.typical_[names.index(f"{column}={lv}")] == 1]
    return rows, level_label(held[0], lang) if held else None


def raw_values(model, X: pd.DataFrame, feat: str) -> tuple[np.ndarray | None, float | None]:
    """(the values of the metric behind a design feature, one per row of ``X``; the typical healthy value).
    No values for a category level (the label says it) or a missing-value indicator (its value is "missing");
    a missing value reads as None through :func:`_number`."""
    design = model.fitted_.design
    if feat.endswith(MISSING_SUFFIX) and design.is_binary(feat):
        return None, _number(model.typical_raw_.get(feat.removesuffix(MISSING_SUFFIX)))
    if design.is_binary(feat):  # a category level ("segment = SMB")
        return None, None
    col = design.scaler.group_of(feat)[0]
    return X[col].to_numpy(), _number(model.typical_raw_.get(col))


def _number(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def fmt_value(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"


def level_of(d: dict) -> bool:
    """Whether a driver is a categorical column's (its ``level`` or ``typical_level`` given; a driver read back
    from Parquet has both keys, None, whatever it is about)."""
    return d.get("level") is not None or d.get("typical_level") is not None


def driver_words(d: dict, lang: str) -> str:
    """'active users / seats (28 days) 0.21, typical healthy 0.65: -14 points'; 'plan Basic, typical healthy
    Pro: -6 points'."""
    if level_of(d):  # a categorical column: the row's level and the typical healthy account's
        value = t("health.missing_value", lang) if d["level"] is None else str(d["level"])
        typical = "" if d.get("typical_level") is None else t("health.driver_typical", lang, typical=d["typical_level"])
        return t("health.driver", lang, label=d["label"], value=value, typical=typical, points=d["points"])
    feature = str(d.get("feature") or "")
    if feature.endswith(MISSING_SUFFIX):  # "latest NPS rating (0-10) no answer, typical healthy 7.42": the
        base = feature.removesuffix(MISSING_SUFFIX)  # metric's name, not the indicator's ("...: missing missing")
        typical = t("health.driver_typical", lang, typical=fmt_value(d["typical"])) if d["typical"] is not None else ""
        return t("health.driver", lang, label=M.label(base, lang), value=missing_word(base, lang), typical=typical,
                 points=d["points"])
    if d["value"] is None and d["typical"] is None:  # a level of before (no level kept): its label says it
        return t("health.driver_category", lang, label=d["label"], points=d["points"])
    value = missing_word(feature, lang) if d["value"] is None else fmt_value(d["value"])
    typical = t("health.driver_typical", lang, typical=fmt_value(d["typical"])) if d["typical"] is not None else ""
    return t("health.driver", lang, label=d["label"], value=value, typical=typical, points=d["points"])
