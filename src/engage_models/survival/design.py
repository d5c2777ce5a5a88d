"""Covariates to a numeric design matrix, the same way at fit and at predict time.

Categorical columns (object, category, bool) become one indicator per level except a reference level
(the most frequent, so hazard ratios read "against the typical account"); indicators are named
``column=level``. Numeric columns pass through. The levels seen at fit time are kept, so a new table is
encoded identically; a level never seen is encoded as the reference (and logged).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

log = logging.getLogger(__name__)

#: A categorical covariate with more levels than this is refused (it is an ID or text, and would overfit).
MAX_LEVELS = 50


def is_categorical(s: pd.Series) -> bool:
    return (ptypes.is_object_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype) or ptypes.is_bool_dtype(s)
            or ptypes.is_string_dtype(s))


@dataclass
class Design:
    """Encoding of ``covariates``: categorical levels (reference first) and the resulting term names."""

    covariates: list[str]
    levels: dict[str, list] = field(default_factory=dict)  # categorical column -> [reference, other levels...]

    @classmethod
    def fit(cls, df: pd.DataFrame, covariates: list[str], categorical: list[str] | None = None) -> Design:
        missing = [c for c in covariates if c not in df.columns]
        if missing:
            raise ValueError(f"covariate column(s) not in the table: {missing}")
        categorical = set(categorical or []) | {c for c in covariates if is_categorical(df[c])}
        levels = {}
        for c in covariates:
            if c in categorical:
                counts = df[c].dropna().astype(str).value_counts()
                if len(counts) > MAX_LEVELS:
                    raise ValueError(f"covariate {c!r} has {len(counts)} distinct values: an identifier or free "
                                     f"text, not a category (more than {MAX_LEVELS}); leave it out of the covariates")
                order = sorted(counts.index, key=lambda v: (-counts[v], v))
                if len(order) < 2:
                    log.warning("covariate %r has a single level: left out", c)
                levels[c] = order
        return cls(list(covariates), levels)

    @property
    def terms(self) -> list[str]:
        out = []
        for c in self.covariates:
            if c in self.levels:
                out += [f"{c}={v}" for v in self.levels[c][1:]]
            else:
                out.append(c)
        return out

    def term_covariate(self) -> dict[str, str]:
        """Term name -> the covariate it comes from."""
        return {t: (t.split("=", 1)[0] if "=" in t and t.split("=", 1)[0] in self.levels else t) for t in self.terms}

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Numeric design (float) with one column per term, index of ``df``; missing stays missing."""
        cols = {}
        for c in self.covariates:
            if c in self.levels:
                v = df[c].astype("string")
                unseen = v.notna() & ~v.isin(self.levels[c])
                if unseen.any():
                    log.warning("%d row(s) with a level of %r not seen in fitting: encoded as %r",
                                int(unseen.sum()), c, self.levels[c][0])
                for lev in self.levels[c][1:]:
                    cols[f"{c}={lev}"] = np.where(v.isna(), np.nan, (v == lev).astype(float))
            else:
                cols[c] = pd.to_numeric(df[c], errors="raise").astype(float).to_numpy()
        return pd.DataFrame(cols, index=df.index, columns=self.terms)

    def complete(self, df: pd.DataFrame) -> pd.Series:
        """Rows with every covariate present."""
        return df[self.covariates].notna().all(axis=1)
