"""Time in one convention: timezone-aware UTC, whole days as UTC midnights, months of 30.4375 days.

Every module converts through these functions, so a naive value is read as UTC everywhere and an aware one
is converted (never merely relabelled).

A company on another calendar (``RunConfig.timezone``, ``Asia/Tokyo``) gets its days and months by ingest
alone: ingest stores every moment as the clock on that company's wall showed it, labelled UTC
(:func:`wall_clock`), so the same midnight arithmetic downstream begins a day at the company's midnight. A
login at 2025-01-31T15:42Z is then 2025-02-01 00:42 (a February login in Tokyo), not a January one.

>>> to_utc("2025-01-06T09:00:00+09:00")
Timestamp('2025-01-06 00:00:00+0000', tz='UTC')
>>> wall_clock("2025-01-31T15:42:00Z", "Asia/Tokyo")
Timestamp('2025-02-01 00:42:00+0000', tz='UTC')
>>> round(float(months_between(pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01"))), 3)
11.992
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime

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


def check_zone(name, where: str = "timezone") -> str:
    """``name`` checked as an IANA time zone (``Asia/Tokyo``, ``Europe/Berlin``, ``UTC``); ConfigError naming
    ``where`` otherwise. An abbreviation such as ``JST`` or an offset such as ``+09:00`` is not a zone (it does not
    say when summer time begins); nor are ``localtime`` (the machine's own zone: a run's results would depend on
    the machine) and the tz database's file names (``posix/...``, ``right/...``). UTC's other names
    (``Etc/UTC``, ``Zulu``, ``GMT``) are ``UTC``.

    >>> check_zone("Etc/UTC"), check_zone("Asia/Tokyo")
    ('UTC', 'Asia/Tokyo')
    """
    if name == "UTC" or (isinstance(name, str) and name in _zones()):  # the default without building the list
        return "UTC" if name in _UTC_NAMES else name
    raise ConfigError(f"{where}: unknown time zone {name!r} (an IANA name such as 'Asia/Tokyo', 'Europe/Berlin', "
                      f"'America/New_York' or 'UTC')")


#: Other names of UTC's clock: one calendar, so one name (a UTC model is not refused by an ``Etc/UTC`` run, and
#: such a run stores the times as they are).
_UTC_NAMES = frozenset({"Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal", "GMT",
                        "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0", "Greenwich",
                        "Etc/Greenwich"})


@functools.cache
def _zones() -> frozenset[str]:
    """The zones every reader of times here knows: Python's tz database, DuckDB's and pandas'."""
    from zoneinfo import available_timezones

    import duckdb

    with duckdb.connect() as con:
        known = {r[0] for r in con.execute("SELECT name FROM pg_timezone_names()").fetchall()}
    zones = set()
    for name in (available_timezones() & known) - {"localtime", "Factory"}:
        try:
            pd.Timestamp(0, tz="UTC").tz_convert(name)
        except Exception:  # noqa: BLE001 - a zone pandas cannot convert to is not offered
            continue
        zones.add(name)
    return frozenset(zones)


def wall_clock(value, zone: str = "UTC") -> pd.Timestamp:
    """The moment ``value`` as the clock on the wall in ``zone`` shows it, labelled UTC (the convention of data
    read with a calendar zone, see the module docstring). A naive value is already a wall-clock time; an aware
    one is converted."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        return ts.tz_localize("UTC")
    return ts.tz_convert(zone).tz_localize(None).tz_localize("UTC")


@functools.cache
def _offsets(zone: str) -> tuple:
    """The offset of ``zone`` from UTC at 12:00 on the 1st and the 15th of every month, 1970 to 2100: two zones
    whose clocks differ only for days between two of these noons are taken as one (none of the database's
    zones that keep the same offsets differ so little)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    return tuple(datetime(year, month, day, 12, tzinfo=tz).utcoffset() for year in range(1970, 2101)
                 for month in range(1, 13) for day in (1, 15))


def fixed_offset(zone: str) -> int | None:
    """The offset of ``zone`` from UTC in seconds when it is the same from 1970 to 2100 (``Asia/Tokyo``: 32400), else
    None (a zone with summer time, or one that changed its offset): a wall clock is then one addition away."""
    offsets = set(_offsets(zone))
    return int(offsets.pop().total_seconds()) if len(offsets) == 1 else None


def same_clock(a: str, b: str) -> bool:
    """Whether two zone names keep one clock from 1970 to 2100 (``Japan`` and ``Asia/Tokyo``, names of one zone):
    the same calendar for a run, whichever name each was given by."""
    return a == b or _offsets(a) == _offsets(b)


def moment(value, zone: str = "UTC") -> pd.Timestamp:
    """``value`` as a moment in UTC: an aware value converted, a naive one read as a wall-clock time in ``zone``
    (the inverse of :func:`wall_clock`; a time summer time skips is read an hour later, one it repeats as its
    first occurrence)."""
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC")


def today(zone: str = "UTC") -> date:
    """Today's date on the calendar of ``zone``."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(zone)).date()


def parse_run_date(value: str | date | None = None, zone: str = "UTC") -> str:
    """The run date as ``YYYY-MM-DD``: ``value`` checked, or today on the calendar of ``zone``."""
    if value is None:
        return today(zone).isoformat()
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


# ------------------------------------------------------------------------------------------ the data's start
#: A day of a table is set aside from its start when nothing at all is dated in the more than this many days after
#: it (a year with no row: a mistyped year, 1924 for 2024, or 1970-01-01, an empty cell read as a date) ...
EARLY_GAP_DAYS = 365
#: ... and the rows up to it are at most this share of the table (a real first year of data is more than that).
EARLY_SHARE = 0.01

#: SQL (DuckDB) of a table's rows per UTC day of ``{column}``, the day as days since 1970-01-01: the input of
#: :func:`bulk_start` (floor: DuckDB's ``//`` truncates, which would move a day before 1970 to the next).
DAY_COUNTS_SQL = ("SELECT CAST(floor(epoch_us({column}) / 86400000000) AS BIGINT) AS d, count(*) AS n "
                  "FROM {relation} WHERE {column} IS NOT NULL GROUP BY 1")


def day_counts(values) -> pd.DataFrame:
    """Rows per UTC day of a column held in pandas (naive values read as UTC, empty ones left out): the input of
    :func:`bulk_start`, as :data:`DAY_COUNTS_SQL` gives it for a table on disk.

    >>> day_counts(["1969-12-31 23:00", "2024-01-01 09:00", "2024-01-01 00:00", None]).to_dict("list")
    {'d': [-1, 19723], 'n': [1, 2]}
    """
    days = naive_utc(values).dropna().dt.floor("D")
    d = ((days - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).astype("int64")
    counts = d.value_counts().sort_index()
    return pd.DataFrame({"d": counts.index.to_numpy(dtype="int64"), "n": counts.to_numpy(dtype="int64")})


@dataclass(frozen=True)
class DataStart:
    """Where a table's dates really begin: ``start`` (a UTC midnight, None for a table without dates), and the
    ``rows`` dated long before it that were set aside to find it (``first``, ``last``: their first and last day),
    out of ``total`` dated rows."""

    start: pd.Timestamp | None
    rows: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    total: int = 0

    def said(self, table: str, column: str) -> dict | None:
        """What was set aside, for a run's JSON and its reports (None when nothing was)."""
        if not self.rows:
            return None
        return {"table": table, "column": column, "rows": self.rows, "total": self.total,
                "first": self.first.date().isoformat(), "last": self.last.date().isoformat(),
                "start": self.start.date().isoformat()}


def bulk_start(days: pd.DataFrame, gap_days: int = EARLY_GAP_DAYS, share: float = EARLY_SHARE, *,
               relative: bool = False) -> DataStart:
    """The first day of a table's dates once rows dated long before the rest are set aside.

    ``days``: rows per day, columns ``d`` (days since 1970-01-01, as :data:`DAY_COUNTS_SQL` gives them) and ``n``.
    Rows are set aside when more than ``gap_days`` days without a single row follow them and they are at most
    ``share`` of the rows: the start is then the first day after the latest such gap. A first year of real data,
    however thin, has no year-long hole after it; one mistyped date of a million rows has.

    >>> days = pd.DataFrame({"d": [-16599, 19723, 19724, 19725], "n": [1, 300, 310, 290]})  # 1924-07-22, 2024-01-01..
    >>> s = bulk_start(days)
    >>> s.start.date(), s.rows, s.first.date(), s.total
    (datetime.date(2024, 1, 1), 1, datetime.date(1924, 7, 22), 901)
    >>> bulk_start(days.assign(n=[50, 30, 10, 10])).rows  # half of the rows: kept, the start is their day
    0

    ``relative``: the gap must also be longer than the span of every date after it (:func:`account_starts`).
    """
    d = days[days["n"] > 0].sort_values("d")
    if d.empty:
        return DataStart(None)
    day = d["d"].to_numpy(dtype="int64")
    n = d["n"].to_numpy(dtype="int64")
    total = int(n.sum())
    as_date = lambda k: pd.Timestamp(int(k), unit="D", tz="UTC")  # noqa: E731
    upto = n.cumsum()[:-1]  # rows up to and including each day but the last
    gap = day[1:] - day[:-1]
    cut = (gap > gap_days) & (upto <= share * total)
    if relative:  # the gap is also longer than all the dates after it span
        cut &= gap > day[-1] - day[1:]
    if not cut.any():
        return DataStart(as_date(day[0]), total=total)
    i = int(cut.nonzero()[0][-1])
    return DataStart(as_date(day[i + 1]), int(upto[i]), as_date(day[0]), as_date(day[i]), total)


def account_starts(days: pd.DataFrame) -> DataStart:
    """Where the accounts' starts really begin: :func:`bulk_start` on ``start_date``, an early start set aside only
    when the gap after it is also longer than the span of all later starts. A company's oldest customer may well
    have signed years before the next one (a 2010 start beside starts from 2015 to 2024 is a first customer), while
    a mistyped year (1924, 1970-01-01 from an empty cell) lies further before the others than they span. Used by
    ingest's warning, the survival tables, the panel's tenure and the KPIs' first month alike.

    >>> years = lambda *ys: pd.DataFrame({"d": [(pd.Timestamp(f"{y}-03-01") - pd.Timestamp(0)).days for y in ys],
    ...                                   "n": [1] + [40] * (len(ys) - 1)})
    >>> account_starts(years(2010, *range(2015, 2025))).rows  # five years before nine years of starts: a customer
    0
    >>> account_starts(years(1924, *range(2015, 2025))).rows, bulk_start(years(2010, *range(2015, 2025))).rows
    (1, 1)

    A day a system writes for "no date" (1970-01-01, 1900-01-01, Excel's 1899-12-30 and -31) is set aside when it
    lies more than a year before the other starts, however long they span (1970-01-01 beside starts from 1975 on
    was kept as a customer's: :data:`PLACEHOLDER_DAYS`).

    >>> s = account_starts(pd.DataFrame({"d": [0, 1900, 9000, 19000], "n": [1, 40, 300, 300]}))  # 1970, 1975...
    >>> s.rows, s.first.date(), s.start.date()
    (1, datetime.date(1970, 1, 1), datetime.date(1975, 3, 16))
    """
    found = bulk_start(days, relative=True)
    held = days[days["d"].isin(PLACEHOLDER_DAYS) & (days["n"] > 0)]
    if held.empty:
        return found
    inner = bulk_start(days[~days["d"].isin(held["d"])], relative=True)
    total = int(days.loc[days["n"] > 0, "n"].sum())
    rows = int(held["n"].sum()) + inner.rows
    if inner.start is None or (inner.start - _day(held["d"].max())).days <= EARLY_GAP_DAYS \
            or rows > EARLY_SHARE * total or rows <= found.rows:
        return found
    first, last = _day(held["d"].min()), _day(held["d"].max())
    if inner.rows:
        first, last = min(first, inner.first), max(last, inner.last)
    return DataStart(inner.start, rows, first, last, total)


#: Days systems write for "no date", as days since 1970-01-01: 1970-01-01 (Unix time 0), 1900-01-01, and Excel's
#: day 0 and 1 (1899-12-30, 1899-12-31).
PLACEHOLDER_DAYS = (0, -25567, -25568, -25569)


def _day(k) -> pd.Timestamp:
    return pd.Timestamp(int(k), unit="D", tz="UTC")
