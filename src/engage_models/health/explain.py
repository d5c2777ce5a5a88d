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
from .scaling import MISSING_SUFFIX

#: a feature costing less than this many points against the typical healthy account is not a driver
MIN_POINTS = 0.5


def drivers(model, X: pd.DataFrame, k: int = 3, lang: str = "en") -> pd.DataFrame:
    """Per row of ``X`` (a DataFrame): the ``k`` features of a fitted :class:`~engage_models.health.HealthScore`
    costing most points against its typical healthy account.

    Returns ``drivers`` (list of dicts: feature, label, value, typical, points) and ``drivers_text``.
    A feature's label and its metric's column are looked up once, not per row (a row of a wide frame costs
    a fifth of a millisecond to take out: 10 seconds at 16,000 accounts in two languages).
    """
    pts = model.points(X)
    typical_pts = model._points_from_z(model.typical_)
    lost = pts.to_numpy() - typical_pts[None, :]
    order = np.argsort(lost, axis=1)[:, :k]
    labels: dict[str, str] = {}
    sources: dict[str, tuple[np.ndarray | None, float | None]] = {}
    out, texts = [], []
    for i in range(len(pts)):
        items = []
        for j in order[i]:
            if lost[i, j] >= -MIN_POINTS:
                continue
            feat = model.feature_names_[j]
            if feat not in labels:
                labels[feat] = model.feature_label(feat, lang)
                sources[feat] = raw_values(model, X, feat)
            column, typical = sources[feat]
            items.append({"feature": feat, "label": labels[feat],
                          "value": None if column is None else _number(column[i]), "typical": typical,
                          "points": float(lost[i, j])})
        out.append(items)
        texts.append("; ".join(driver_words(d, lang) for d in items))
    return pd.DataFrame({"drivers": out, "drivers_text": texts}, index=pts.index)


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


def driver_words(d: dict, lang: str) -> str:
    """'active users / seats (28 days) 0.21, typical healthy 0.65: -14 points'."""
    if d["value"] is None and d["typical"] is None:  # a category: the label says it all
        return t("health.driver_category", lang, label=d["label"], points=d["points"])
    value = t("health.missing_value", lang) if d["value"] is None else fmt_value(d["value"])
    typical = t("health.driver_typical", lang, typical=fmt_value(d["typical"])) if d["typical"] is not None else ""
    return t("health.driver", lang, label=d["label"], value=value, typical=typical, points=d["points"])
