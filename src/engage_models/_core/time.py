"""Time in one convention: timezone-aware UTC, whole days as UTC midnights, months of 30.4375 days.

Every module converts through these functions, so a naive value is read as UTC everywhere and an aware one
is converted (never merely relabelled).

>>> to_utc("2025-01-06T09:00:00+09:00")
Timestamp('2025-01-06 00:00:00+0000', tz='UTC')
>>> round(float(months_between(pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01"))), 3)
11.992
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pandas as pd

from .errors import ConfigError

#: Days in an average month (365.25 / 12): the clock of tenure, lifetimes and survival curves.
DAYS_PER_MONTH = 365.25 / 12


def to_utc(value):
    """A timestamp, or a Series / Index / list of them, as timezone-aware UTC (naive values read as UTC).

    Scalars give a :class:`pandas.Timestamp`; a Series stays a Series (its index kept), anything else
    array-like becomes a :class:`pandas.DatetimeIndex`.
    """
    if isinstance(value, pd.Series):
        return pd.to_datetime(value, utc=True)
    if isinstance(value, (pd.DatetimeIndex, list, tuple)) or getattr(value, "ndim", 0):
        return pd.DatetimeIndex(pd.to_datetime(value, utc=True))
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def utc_midnight(value, *, strict: bool = False) -> pd.Timestamp:
    """The UTC midnight of ``value``'s day; with ``strict`` a value that is not a midnight is an error."""
    ts = to_utc(value)
    if strict and ts != ts.normalize():
        raise ValueError(f"expected a UTC midnight (a whole day), got {ts}")
    return ts.normalize()


def naive_utc(values) -> pd.Series:
    """Timestamps as naive UTC (aware input converted, naive input read as UTC): for month arithmetic."""
    return pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)


def months_between(start, end):
    """Elapsed months ``(end - start) / 30.4375 days`` (scalars or Series)."""
    return (end - start) / pd.Timedelta(days=DAYS_PER_MONTH)


#: A run date (and the name of its reports folder): ``YYYY-MM-DD``.
RUN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_run_date(value: str | date | None = None) -> str:
    """The run date as ``YYYY-MM-DD``: ``value`` checked, or today in UTC."""
    if value is None:
        return datetime.now(UTC).date().isoformat()
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if not RUN_DATE.match(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(f"run date must be a date YYYY-MM-DD, not {value!r}") from None
