"""The design of the health score: which columns enter, how, and what each design feature is called.

Numeric metrics go through :class:`~engage_models.health.scaling.SkewScaler` (after monotone binning, if asked);
categorical columns (segment, plan) are one-hot encoded on the levels seen in fit (others: all zeros). A design
feature is a metric (or a group of correlated metrics, named after its first), ``<metric>__missing`` (1 when the
metric had no value) or ``<column>=<level>``.
"""

from __future__ import annotations

import pandas as pd

from .._core.i18n import t
from ..features import metrics as M
from .scaling import MISSING_SUFFIX, MonotoneBinner, SkewScaler


def _infer_columns(X: pd.DataFrame, metrics, categorical, exclude) -> tuple[list[str], list[str]]:
    """Metrics: the registry's model metrics in ``X``, else every numeric non-boolean column; categorical: text,
    category or boolean columns with 2 to 50 levels. Columns in ``exclude`` (date, id) never enter."""
    if metrics is None:
        registry = [c for c in X.columns if c in M.REGISTRY_COLUMNS and M.REGISTRY_COLUMNS[c].model]
        metrics = registry or [c for c in X.columns if c not in exclude and pd.api.types.is_numeric_dtype(X[c])
                               and not pd.api.types.is_bool_dtype(X[c])]
    if categorical is None:
        categorical = [c for c in X.columns if c not in exclude and c not in metrics
                       and (X[c].dtype == object or isinstance(X[c].dtype, pd.CategoricalDtype)
                            or pd.api.types.is_string_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
                       and 1 < X[c].nunique() <= 50]
    missing = [c for c in [*metrics, *categorical] if c not in X.columns]
    if missing:
        raise ValueError(f"feature column(s) not in X: {missing}")
    return list(metrics), list(categorical)


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
                                 missing_indicators=not binning, log_transform=not binning)
        self.levels: dict[str, list[str]] = {}
        self.binary: list[str] = []

    def _numeric(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.binner.transform(X[self.numeric]) if self.binner is not None else X[self.numeric]

    def fit(self, X: pd.DataFrame, y=None):
        if self.numeric:
            if self.binner is not None:
                self.binner.fit(X[self.numeric], y)
            self.scaler.fit(self._numeric(X))
        self.levels = {c: sorted(X[c].dropna().astype(str).unique()) for c in self.categorical}
        self.binary = ([c + MISSING_SUFFIX for c in self.scaler.missing_columns_] if self.numeric else []) + \
            [f"{c}={lv}" for c in self.categorical for lv in self.levels[c]]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        parts = [self.scaler.transform(self._numeric(X))] if self.numeric else []
        for c in self.categorical:
            v = X[c].astype("string")
            parts.append(pd.DataFrame({f"{c}={lv}": (v == lv).fillna(False).astype(float).to_numpy()
                                       for lv in self.levels[c]}, index=X.index))
        return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=X.index)

    def is_binary(self, feature: str) -> bool:
        """A 0/1 feature: a missing-value indicator or a category level."""
        return feature in self.binary


def feature_label(feature: str, lang: str = "en") -> str:
    """Readable name of a design feature (metric label, 'segment = SMB', 'latest NPS score: missing')."""
    if feature.endswith(MISSING_SUFFIX):
        base = feature.removesuffix(MISSING_SUFFIX)
        return f"{M.label(base, lang)}: {t('health.missing_value', lang)}"
    if "=" in feature:
        col, level = feature.split("=", 1)
        return f"{t(col, lang)} = {level}"
    return M.label(feature, lang)
