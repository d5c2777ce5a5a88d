"""Tables for reports: readable numbers, no index, and every cell HTML-escaped (cells may hold user text).

pandas' ``Styler`` does not escape by default; ``DataFrame.to_html`` does. Reports therefore show tables
through :func:`table`, which formats values first and then lets ``to_html`` escape them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .i18n import plain, relabel, t


class Table:
    """A formatted, escaped HTML table that still carries its DataFrame (``.frame``)."""

    def __init__(self, frame: pd.DataFrame, html: str):
        self.frame, self._html = frame, html

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)


#: How tables write timestamps, per language (dates alone when every value of a column is a midnight).
DATE_FORMATS = {"en": ("%Y-%m-%d %H:%M", "%Y-%m-%d"), "ja": ("%Y/%m/%d %H:%M", "%Y/%m/%d")}


def _fmt_column(s: pd.Series, decimals: int, date_format: str | None, lang: str = "en") -> pd.Series:
    if ptypes.is_bool_dtype(s):
        return s.map({True: t("yes", lang), False: t("no", lang)}).fillna("")
    if ptypes.is_integer_dtype(s):
        return s.map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    if ptypes.is_float_dtype(s):
        values = s.dropna()
        if len(values) and np.isfinite(values).all() and (values == values.round()).all():
            # whole numbers held as floats (counts after a join, answers 0-10): "2", not "2.00"
            return s.map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
        # a tiny negative rounds to "-0.0" (report 03's "SMB ... -0.0"): written without the sign
        return s.map(lambda v: "" if pd.isna(v) else f"{(0.0 if round(v, decimals) == 0 else v):,.{decimals}f}")
    if ptypes.is_datetime64_any_dtype(s):
        if date_format is None:
            with_time, date_only = DATE_FORMATS[lang]
            values = s.dropna()
            date_format = date_only if len(values) and (values == values.dt.normalize()).all() else with_time
        return s.dt.strftime(date_format).fillna("")
    # user text as it reads: without directional controls (U+202E showed a name reversed)
    return s.map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else plain(v))


def table(df: pd.DataFrame, *, decimals: int = 2, date_format: str | None = None,
          max_chars: int = 120, lang: str = "en", translate: bool = True) -> Table:
    """Format ``df`` for a report: thousands separators, fixed decimals, short dates, long text cut.

    With ``translate`` the column headers go through :func:`engage_models.i18n.t` (metric names from the
    registry, other labels from the catalogue), so one call serves both languages. Timestamps are written
    as the language does in tables (``2025-01-31 09:00``, ``2025/01/31 09:00``; without the time when a
    column holds dates only) unless ``date_format`` says otherwise. An empty frame is shown as a sentence that
    says there is nothing to list.
    """
    if df.empty:  # a thin world's empty list: a sentence, not a header row over nothing
        return Table(df, f'<p class="engage-empty"><em>{t("table.empty", lang)}</em></p>')
    shown = df.reset_index(drop=True).copy()
    for col in shown.columns:
        shown[col] = _fmt_column(shown[col], decimals, date_format, lang)
        shown[col] = shown[col].map(lambda v: v if len(v) <= max_chars else v[: max_chars - 1] + "…")
    if translate:
        shown = relabel(shown, lang)
    html = shown.to_html(index=False, escape=True, border=0, classes="engage-table")
    return Table(df, html)
