"""The account x period panel: one row per (account_id, as_of) with every registry metric and the labels.

How it is computed (all SQL, run by an :mod:`engine <engage_models.features.engine>`; only the panel, which is
small, comes back to pandas):

1. **Grid.** Observation dates ``as_of`` (UTC midnights; monthly by default), and the observation end
   ``until`` (the midnight after the last event by default). The default grid starts once the longest
   window fits inside the data, so no 90-day metric is computed over a half-empty window.
2. **Spine.** Every account active at each date: ``start_date < as_of`` and no ``end_date`` or
   ``end_date > as_of``. Accounts appear only while they are customers.
3. **Rollups.** For one range of accounts at a time, the events are rolled up per user and per feature over
   *buckets*, the stretches of days between window boundaries (:data:`metrics.ROLLUPS`; distinct days kept
   as a bit mask), and the account rollup is derived from the user rollup: two passes over the large table.
4. **Windows.** Small maps list, for each date and window, the days ``[as_of - start, as_of - end)`` (for
   the raw small tables) and the buckets that tile them (for the rollups). Each source is joined to its map
   (an equi-join) and grouped by account, date and window; the window metrics are the registry's aggregate
   expressions. A metric at ``as_of`` sees only days strictly before ``as_of``: no leakage by
   construction.
5. **Point metrics** (MRR, seats, latest NPS/CSAT, open tickets, days since last activity) come from the
   registry's point queries over the spine; **derived** metrics (ratios, percent changes) last.
6. **Labels.** ``churned_within_h`` = 1 if the account churns within ``horizon_days`` after ``as_of``
   (``end_date <= as_of + h``), 0 if it is still a customer at ``as_of + h``, and empty when ``as_of + h`` lies
   after ``until`` (the horizon is not fully observed). Empty even when the churn is already known: keeping
   the early churners of an unfinished horizon and dropping the others would bias every rate trained on it.
   A churn date after ``until`` (a notice not yet effective) is never used: a backtest with ``until`` at its
   cutoff must not learn from it. ``duration_days``/``event``: days from
   ``as_of`` to the churn date or to ``until`` (censored), and whether churn was observed.

Counts with no source row are 0 (no activity is the truth); values that do not exist stay empty (no NPS
answer yet, no ticket closed, no seats known).

Examples
--------
>>> from engage_models.demo.simulator import simulate
>>> from engage_models.ingest import ingest
>>> from engage_models.features.panel import build_panel
>>> _ = simulate(out="/tmp/engage-doc-panel/raw", n_accounts=40, months=6, seed=3)
>>> _ = ingest("/tmp/engage-doc-panel/raw", "/tmp/engage-doc-panel/processed")
>>> p = build_panel("/tmp/engage-doc-panel/processed")
>>> {"account_id", "as_of", "logins_28d", "active_user_ratio_28d", "churned_within_h"} <= set(p.columns)
True
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from .._core.errors import ConfigError, DataError
from .._core.i18n import count
from .._core.reasons import Thin, date_of
from .._core.time import EARLY_GAP_DAYS, account_starts, bulk_start, to_utc, utc_midnight
from . import metrics as M
from .engine import Engine, is_uri, location, make_engine, quote_ident

HORIZON_DAYS = config.HORIZON_DAYS

log = logging.getLogger(__name__)

LABELS = ("churned_within_h", "duration_days", "event")
ID_COLUMNS = ("account_id", "as_of", "segment", "plan")
TABLES = ("accounts", "events", "tickets", "touchpoints", "surveys", "subscriptions", "users")
REQUIRED = ("accounts", "events")


def observation_dates(start, end, freq: str = "MS") -> pd.DatetimeIndex:
    """UTC midnights from ``start`` to ``end`` (both included) at ``freq`` (pandas offset; month starts)."""
    return pd.date_range(to_utc(start).normalize(), to_utc(end).normalize(), freq=freq)


def _epoch_days(ts: pd.DatetimeIndex | pd.Timestamp):
    """UTC midnights as integer days since 1970-01-01 (the engines' day key)."""
    return (pd.DatetimeIndex([ts]) if isinstance(ts, pd.Timestamp) else ts).asi8 // 86_400_000_000_000


class _Calendar:
    """Integer-day maps joining sources to windows (all small tables, built in pandas).

    * ``daymap`` (d, as_of, win): the days of each window of each date, for the raw (small) sources;
    * ``bucketmap`` (d, b): each day to its bucket (the latest window boundary at or before it);
    * ``winbuckets`` (b, as_of, win): the buckets that tile each window of each date.
    """

    def __init__(self, dates: pd.DatetimeIndex, windows: tuple[M.Window, ...], first_day: pd.Timestamp,
                 until: pd.Timestamp):
        a = _epoch_days(dates)
        first, last = int(_epoch_days(first_day)[0]), int(_epoch_days(until)[0])
        cuts = sorted({first} | {int(x - w.start) for x in a for w in windows}
                      | {int(x - w.end) for x in a for w in windows} | {last})
        # split long stretches so that a bucket's day mask fits in 64 bits (extra cuts change no window)
        split = [c for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
                 for c in range(lo + M.MAX_BUCKET_DAYS, hi, M.MAX_BUCKET_DAYS)]
        self.cuts = np.array(sorted(set(cuts) | set(split)))
        rows = []
        for w in windows:
            for x, ts in zip(a, dates, strict=True):
                days = np.arange(x - w.start, x - w.end)
                rows.append(pd.DataFrame({"d": days.astype(np.int32), "as_of": ts, "win": w.name}))
        self.daymap = pd.concat(rows, ignore_index=True)
        days = np.arange(self.cuts[0], max(last, self.cuts[-1] + 1))
        b = self.cuts[np.searchsorted(self.cuts, days, side="right") - 1]
        self.bucketmap = pd.DataFrame({"d": days.astype(np.int32), "b": b.astype(np.int32)})
        rows = []
        for w in windows:
            for x, ts in zip(a, dates, strict=True):
                bs = self.cuts[(self.cuts >= x - w.start) & (self.cuts < x - w.end)]
                rows.append(pd.DataFrame({"b": bs.astype(np.int32), "as_of": ts, "win": w.name}))
        self.winbuckets = pd.concat(rows, ignore_index=True)


_INTEGER_UNITS = ("count", "days", "users", "features", "seats")
_DISTINCT = re.compile(r"count\(DISTINCT (\w+)\)", re.IGNORECASE)


class PanelBuilder:
    """Compiles the metric registry into SQL for one engine and builds panels from processed tables.

    Parameters
    ----------
    processed_dir : path or URI
        Folder of processed Parquet tables (``accounts.parquet``, ``events.parquet``, ...); with the Spark
        engine it may be any location Spark reads (``s3a://bucket/processed``).
    windows : tuple of int
        Trailing windows in days (default 28 and 90); 28 days (else the shortest) also gets the previous window,
        for the percent-change metrics and DAU/MAU.
    horizon_days : int
        Churn horizon of the ``churned_within_h`` label.
    engine : str or Engine
        ``"duckdb"`` (default), ``"spark"``, or an :class:`~engage_models.features.engine.Engine`.
    partition_events : int, optional
        Events per account range rolled up at a time (default: the engine's choice: 4M for DuckDB, whose
        memory is bounded that way; one range for Spark, which spreads the work over its executors).
    engine_settings
        Passed to the engine (DuckDB: ``memory_limit="2GB"``, ``threads=2``; Spark: ``spark_master="yarn"``,
        ``spark_driver_memory="8g"``, ``spark_session=spark``; see :func:`~engage_models.features.engine.make_engine`).
    """

    def __init__(self, processed_dir, windows: tuple[int, ...] = M.DEFAULT_WINDOWS, horizon_days: int = 90,
                 engine: str | Engine = "duckdb", partition_events: int | None = None, **engine_settings):
        self.processed = str(processed_dir) if is_uri(processed_dir) else Path(processed_dir)
        self.windows = M.windows_for(tuple(windows))
        self.horizon_days = int(horizon_days)
        if self.horizon_days <= 0:
            raise ConfigError("horizon_days must be positive")
        self.metrics = M.expand(self.windows)
        self.engine = make_engine(engine, **engine_settings)
        self._owns_engine = not isinstance(engine, Engine)  # an engine given to us stays open for its owner
        part = partition_events if partition_events is not None else self.engine.partition_events
        self.partition_events = int(part) if part else None
        self.available: dict[str, list[str]] = {}
        for name in TABLES:
            path = location(self.processed, f"{name}.parquet")
            if self.engine.exists(path):
                self.engine.table(name, path)
                self.available[name] = self.engine.columns(name)
            elif name in REQUIRED:
                raise DataError(f"{path} is missing: run ingest first (engage ingest)")

    # ------------------------------------------------------------------------------------------ grid
    def data_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First event day and the midnight after the last event (the default observation end).

        The first day leaves out events dated long before the rest (:func:`~engage_models._core.time.bulk_start`,
        as the survival models' start does): one event mistyped as 1924 gave a panel of 1,203 monthly dates from
        1924, every account's months before 2024 read as months without activity.
        """
        df = self.engine.frame("SELECT min(timestamp) AS lo, max(timestamp) AS hi FROM events")
        lo, hi = df["lo"].iloc[0], df["hi"].iloc[0]
        if pd.isna(hi):
            where = location(self.processed, "events.parquet")
            raise Thin("reason.events_no_rows", where=where)
        lo, hi = to_utc(lo).normalize(), to_utc(hi).normalize()
        if hi - lo > pd.Timedelta(days=EARLY_GAP_DAYS):  # a shorter table has no such gap to look for
            day = self.engine.day("timestamp")
            days = self.engine.frame(f"SELECT {day} AS d, count(*) AS n FROM events WHERE timestamp IS NOT NULL "
                                     f"GROUP BY {day}")
            found = bulk_start(days)
            if found.rows:
                dated = (f"{found.first.date()}" if found.first == found.last
                         else f"{found.first.date()} to {found.last.date()}")
                log.info("events: %s dated %s, more than a year before the rest, set aside: the panel begins from %s",
                         count(found.rows, "row"), dated, found.start.date())
                lo = found.start
        return lo, hi + pd.Timedelta(days=1)

    def _day_counts(self, table: str, column: str) -> pd.DataFrame:
        """Rows of ``table`` per day of ``column``: ``d`` (days since 1970-01-01) and ``n``."""
        day = self.engine.day(quote_ident(column))
        return self.engine.frame(f"SELECT {day} AS d, count(*) AS n FROM {table} WHERE {quote_ident(column)} IS NOT "
                                 f"NULL GROUP BY {day}")

    def _table_start(self, table: str, column: str, days: pd.DataFrame | None = None
                     ) -> tuple[pd.Timestamp | None, object]:
        """Where a table's dates begin once rows dated long before the rest are set aside
        (:func:`~engage_models._core.time.bulk_start`), and the finding itself (``days``: the table's
        :meth:`_day_counts`, when already read)."""
        days = self._day_counts(table, column) if days is None else days
        found = account_starts(days) if (table, column) == ("accounts", "start_date") else bulk_start(days)
        return found.start, found

    def unknown_start_before(self, first_day: pd.Timestamp) -> pd.Timestamp | None:
        """Accounts that started before this day have an unknown tenure (``None``: no such account).

        The rule survival applies (:func:`~engage_models.survival.data.unknown_starts`): a ``start_date`` dated
        long before every other account's (more than a year with no account started after it, at most 1% of the
        accounts) and before the data begin (the earlier of the events' first day, ``first_day``, and the
        subscriptions' first month). A start mistyped as 1924 gave its account a century of ``tenure_days`` on
        the health card; its tenure is left empty instead (the cards read an empty value with its indicator).
        """
        days = self._day_counts("accounts", "start_date")
        begins, found = self._table_start("accounts", "start_date", days)
        if not found.rows:
            return None
        observed = [first_day]
        if "subscriptions" in self.available and "period_start" in self.available["subscriptions"]:
            subs = self._table_start("subscriptions", "period_start")[0]
            if subs is not None:
                observed.append(subs)
        cut = min(begins, *observed)
        if found.first >= cut:  # inside the data window: ordinary starts
            return None
        n = int(days.loc[pd.to_numeric(days["d"]) < (cut - pd.Timestamp("1970-01-01", tz="UTC")).days, "n"].sum())
        log.info("accounts: %s started from %s, before %s (long before the others and before the data begin): %s "
                 "tenure_days %s left empty", count(n, "account"), found.first.date(), cut.date(),
                 count(n, "=its", "=their"), count(n, "=is", "=are"))
        return cut

    def default_dates(self, until: pd.Timestamp | None = None, freq: str = "MS") -> pd.DatetimeIndex:
        """Month starts from the first one with a full longest window of data, up to ``until``."""
        first, end = self.data_range()
        until = until or end
        longest = max(w.start for w in self.windows)
        return observation_dates(first + pd.Timedelta(days=longest), until, freq)

    # -------------------------------------------------------------------------------------- stages
    def _partitions(self, until: pd.Timestamp) -> list[tuple[str, str | None]]:
        """Account ranges [lo, hi) holding about ``partition_events`` events each (hi None: to the end).

        Each range is rolled up on its own, so the per-user hash tables stay small whatever the size of
        the events table; with events stored by account (ingest does that) a range reads only its row groups.
        With ``partition_events`` None: one range, from the first account.
        """
        if self.partition_events is None:
            first = self.engine.frame("SELECT min(account_id) AS lo FROM events WHERE timestamp < $until",
                                      {"until": until})["lo"].iloc[0]
            return [] if pd.isna(first) else [(first, None)]
        counts = self.engine.frame("SELECT account_id, count(*) AS n FROM events WHERE timestamp < $until "
                                   "GROUP BY account_id ORDER BY account_id", {"until": until})
        if counts.empty:
            return []
        group = (counts["n"].cumsum() - 1) // self.partition_events
        firsts = counts["account_id"].groupby(group).first().tolist()
        return list(zip(firsts, firsts[1:] + [None], strict=True))

    def _rollup_sql(self, r: M.Rollup, hi: str | None) -> str:
        """One rollup over one account range (over events) or over the range's rows of another rollup."""
        keys = ", ".join(r.keys)
        measures = ", ".join(f"{sql} AS {quote_ident(n)}" for n, sql in r.measures.items())
        if r.source in M.ROLLUPS:  # built from a rollup of the same range
            return f"SELECT {keys}, b, {measures} FROM {r.source} WHERE {r.where} GROUP BY {keys}, b"
        rng = "s.account_id >= $lo" + (" AND s.account_id < $hi" if hi is not None else "")
        day = self.engine.day("s." + r.time)
        rows = (f"SELECT s.*, m.b, m.d AS day FROM {r.source} s JOIN bucketmap m ON {day} = m.d "
                f"WHERE ({r.where}) AND {rng} AND s.{r.time} < $until")
        return f"SELECT {keys}, b, {measures} FROM ({rows}) x GROUP BY {keys}, b"

    def _window_sql(self, table: str, join: str, metrics: dict[str, M.Metric]) -> str:
        """Per (account, as_of): the window metrics of one source, one column per metric and window.

        ``join`` maps the source rows (aliased ``s``) to (as_of, win). Plain aggregates run in one grouped
        query; each ``count(DISTINCT x)`` runs as a count of (account, as_of, win, x) groups.
        """
        bases = {col: col.removesuffix("_" + m.window) for col, m in metrics.items()}
        simple, distinct = {}, {}
        for base in sorted(set(bases.values())):
            sql = M.get(base).sql
            hit = _DISTINCT.fullmatch(sql.strip())
            if hit:
                distinct.setdefault(hit.group(1), []).append(base)
            else:
                simple[base] = sql
        key = "s.account_id, w.as_of, w.win"
        longs = []
        if simple:
            aggs = ", ".join(f"{sql} AS {quote_ident(b)}" for b, sql in simple.items())
            longs.append((f"SELECT {key}, {aggs} FROM {table} s {join} GROUP BY {key}", list(simple)))
        for col, names in distinct.items():
            inner = (f"SELECT {key}, s.{quote_ident(col)} FROM {table} s {join} "
                     f"WHERE s.{quote_ident(col)} IS NOT NULL GROUP BY {key}, s.{quote_ident(col)}")
            counts = ", ".join(f"count(*) AS {quote_ident(n)}" for n in names)
            longs.append((f"SELECT account_id, as_of, win, {counts} FROM ({inner}) d GROUP BY account_id, as_of, win",
                          names))
        sql, names = longs[0]
        cols = [f"l0.{quote_ident(n)}" for n in names]
        body = f"({sql}) l0"
        for i, (sql, names) in enumerate(longs[1:], 1):  # rows with a distinct value always have a plain one
            body += (f" LEFT JOIN ({sql}) l{i} ON l{i}.account_id = l0.account_id AND l{i}.as_of = l0.as_of "
                     f"AND l{i}.win = l0.win")
            cols += [f"l{i}.{quote_ident(n)}" for n in names]
        long = f"SELECT l0.account_id, l0.as_of, l0.win, {', '.join(cols)} FROM {body}"
        pivots = ", ".join(
            f"max(CASE WHEN win = '{m.window}' THEN {quote_ident(bases[col])} END) AS {quote_ident(col)}"
            for col, m in metrics.items()
        )
        return f"SELECT account_id, as_of, {pivots} FROM ({long}) t GROUP BY account_id, as_of"

    def _point_sql(self) -> dict[str, str]:
        """Point queries that apply to the tables present (see :data:`metrics.POINT_QUERIES`)."""
        q = {"tickets": M.POINT_QUERIES["tickets"], "surveys": M.POINT_QUERIES["surveys"]}
        surveys, tickets = self.available.get("surveys", []), self.available.get("tickets", [])
        q["csat"] = (M.POINT_QUERIES["csat"]
                     .replace("{ticket_id}", "ticket_id" if "ticket_id" in surveys else "CAST(NULL AS VARCHAR)")
                     .replace("{ticket_csat}", "t.csat" if "csat" in tickets else "CAST(NULL AS DOUBLE)"))
        subs = self.available.get("subscriptions")
        users = self.available.get("users")
        if subs is not None:
            seats = "s.seats" if "seats" in subs else "CAST(NULL AS BIGINT)"
            q["subscriptions"] = M.POINT_QUERIES["subscriptions"].replace("{seats}", seats)
        if users is not None and (subs is None or "seats" not in subs):
            deact = ("(u.deactivated_at IS NULL OR u.deactivated_at > g.as_of)"
                     if "deactivated_at" in users else "TRUE")
            q["users"] = M.POINT_QUERIES["users"].replace("{deactivated}", deact)
        return q

    def _dates(self, as_of, until, freq) -> tuple[pd.DatetimeIndex, pd.Timestamp, pd.Timestamp]:
        first_day, data_end = self.data_range()
        until = utc_midnight(until, strict=True) if until is not None else data_end
        if as_of is None:
            dates = self.default_dates(until, freq)
        else:
            items = [as_of] if isinstance(as_of, (str, pd.Timestamp)) or not isinstance(as_of, Iterable) else as_of
            dates = pd.DatetimeIndex(sorted({utc_midnight(a, strict=True) for a in items}))
        if len(dates) == 0:
            raise Thin("reason.no_observation_date", start=date_of(first_day), until=date_of(until))
        if dates.max() > until:
            raise ConfigError(f"observation date {dates.max():%Y-%m-%d} is after the observation end {until:%Y-%m-%d}")
        return dates, until, first_day

    def build(self, as_of=None, until=None, freq: str = "MS", out: str | Path | None = None) -> pd.DataFrame:
        """The panel for ``as_of`` (a date, a list of dates, or None for the default monthly grid).

        ``until`` is the observation end: labels after it are not yet known, and nothing at or after it is
        read (default: the midnight after the last event). Dates after ``until`` are refused. ``out``: the
        engine also writes the panel there as Parquet (see :func:`build_panel`).
        """
        t0 = time.perf_counter()
        dates, until, first_day = self._dates(as_of, until, freq)
        eng, h, day = self.engine, pd.Timedelta(days=self.horizon_days), self.engine.day
        cal = _Calendar(dates, self.windows, first_day, until)
        eng.put("grid", pd.DataFrame({"as_of": dates, "horizon_end": dates + h}))
        eng.put("daymap", cal.daymap)
        eng.put("bucketmap", cal.bucketmap)
        eng.put("winbuckets", cal.winbuckets)
        has_plan_history = "plan" in self.available.get("subscriptions", [])
        eng.create("spine_base" if has_plan_history else "spine", f"""
            SELECT a.account_id, g.as_of, g.horizon_end, a.segment, a.plan, a.start_date, a.end_date, a.mrr,
                   {day('g.as_of')} AS as_of_day, {day('a.start_date')} AS start_day
            FROM accounts a JOIN grid g
              ON a.start_date < g.as_of AND (a.end_date IS NULL OR a.end_date > g.as_of)
        """)
        if has_plan_history:
            # the plan held at each date (the latest subscription month started before it), not today's plan:
            # an account that upgraded last month was on its old plan at every earlier date
            eng.create("spine_plan", """
                SELECT account_id, as_of, plan FROM (
                    SELECT g.account_id, g.as_of, s.plan,
                           row_number() OVER (PARTITION BY g.account_id, g.as_of ORDER BY s.period_start DESC) AS rn
                    FROM spine_base g JOIN subscriptions s ON s.account_id = g.account_id AND s.period_start < g.as_of
                    WHERE s.plan IS NOT NULL
                ) t WHERE rn = 1
            """)
            eng.create("spine", """
                SELECT g.account_id, g.as_of, g.horizon_end, g.segment, coalesce(p.plan, g.plan) AS plan,
                       g.start_date, g.end_date, g.mrr, g.as_of_day, g.start_day
                FROM spine_base g LEFT JOIN spine_plan p ON p.account_id = g.account_id AND p.as_of = g.as_of
            """)

        by_source: dict[str, dict[str, M.Metric]] = {}
        for col, m in self.metrics.items():
            if m.kind == "window" and (m.source in M.ROLLUPS or m.source in self.available):
                by_source.setdefault(m.source, {})[col] = m
        parts: dict[str, list[str]] = {}
        # events: rolled up and windowed one account range at a time (bounded memory)
        t1 = time.perf_counter()
        ranges = self._partitions(until)
        for lo, hi in ranges:
            rng = {"lo": lo, "hi": hi, "until": until}
            for r in M.ROLLUPS.values():
                eng.create(r.name, self._rollup_sql(r, hi), rng)
            eng.append("activity", "SELECT account_id, b, last_day FROM account_bucket")
            for source, ms in by_source.items():
                if source in M.ROLLUPS:
                    eng.append(f"w_{source}", self._window_sql(source, "JOIN winbuckets w ON s.b = w.b", ms))
        log.info("events: %d account ranges rolled up and windowed in %.1f s", len(ranges), time.perf_counter() - t1)
        for source, ms in by_source.items():
            if source in M.ROLLUPS:
                if ranges:
                    parts[f"w_{source}"] = list(ms)
                continue
            join = f"JOIN daymap w ON {day('s.' + M.WINDOW_SOURCES[source])} = w.d"
            eng.create(f"w_{source}", self._window_sql(source, join, ms))
            parts[f"w_{source}"] = list(ms)
        points = self._point_sql()
        for source, sql in points.items():
            eng.create(f"p_{source}", sql)
            parts[f"p_{source}"] = [c for c in eng.columns(f"p_{source}") if c not in ("account_id", "as_of")]
        if "users" in points and "subscriptions" in points:  # seats counted from users: not the months' NULL
            parts["p_subscriptions"] = [c for c in parts["p_subscriptions"] if c != "seats"]
        # CSAT from the csat query (survey answers and tickets' own scores), not the surveys query's answers alone
        parts["p_surveys"] = [c for c in parts["p_surveys"] if M.POINT_QUERY_OF.get(c, "surveys") == "surveys"]
        if ranges:
            # last active day before as_of: running max over buckets (all start before as_of) and spine rows,
            # ordered so that a bucket starting on as_of comes after the spine row of as_of
            eng.create("p_activity", """
                SELECT account_id, as_of,
                       as_of_day - coalesce(last_day, greatest(start_day, $first)) AS days_since_last_activity
                FROM (
                    SELECT account_id, as_of, as_of_day, start_day, is_spine,
                           max(last_day) OVER (PARTITION BY account_id ORDER BY pos, is_spine DESC
                                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_day
                    FROM (SELECT account_id, b AS pos, 0 AS is_spine, last_day, NULL AS as_of, NULL AS as_of_day,
                                 NULL AS start_day FROM activity
                          UNION ALL
                          SELECT account_id, as_of_day AS pos, 1 AS is_spine, NULL AS last_day, as_of, as_of_day,
                                 start_day FROM spine) u
                ) c WHERE is_spine = 1
            """, {"first": int(_epoch_days(first_day)[0])})
            parts["p_activity"] = ["days_since_last_activity"]
        return self._assemble(parts, until, t0, out, unknown_before=self.unknown_start_before(first_day))

    def _assemble(self, parts: dict[str, list[str]], until: pd.Timestamp, t0: float,
                  out: str | Path | None = None, *, unknown_before: pd.Timestamp | None = None) -> pd.DataFrame:
        day = self.engine.day
        present = {c for cols in parts.values() for c in cols}
        select, joins = [], []
        for i, (table, cols) in enumerate(parts.items()):
            joins.append(f"LEFT JOIN {table} t{i} ON t{i}.account_id = g.account_id AND t{i}.as_of = g.as_of")
            for c in cols:
                m = self.metrics.get(c)
                expr = f"t{i}.{quote_ident(c)}"
                if m is not None and m.fill_zero:
                    expr = f"coalesce({expr}, 0)"
                if m is not None and m.unit in _INTEGER_UNITS:
                    expr = f"CAST({expr} AS BIGINT)"
                select.append(f"{expr} AS {quote_ident(c)}")
        # every registry column exists: zero where no row means no activity, empty where there is no source
        for c, m in self.metrics.items():
            if c in present or m.kind == "derived" or c == "tenure_days":
                continue
            if c == "mrr":  # no subscriptions: the accounts table's MRR (its current value)
                select.append("g.mrr AS mrr")
            elif m.fill_zero and m.source in M.ROLLUPS:  # no events at all before the first date
                select.append(f"CAST(0 AS BIGINT) AS {quote_ident(c)}")
            else:
                select.append(f"CAST(NULL AS DOUBLE) AS {quote_ident(c)}")
        inner = (
            "SELECT g.account_id, g.as_of, g.segment, g.plan, "
            + ("g.as_of_day - g.start_day" if unknown_before is None else
               f"CASE WHEN g.start_day < {int(_epoch_days(unknown_before)[0])} THEN NULL "
               "ELSE g.as_of_day - g.start_day END") + " AS tenure_days, "
            "k.n_features, " + ", ".join(select) + ", "
            "CAST(CASE WHEN g.horizon_end > $until THEN NULL "
            "     WHEN g.end_date IS NOT NULL AND g.end_date <= g.horizon_end THEN 1 ELSE 0 END AS TINYINT) "
            "  AS churned_within_h, "
            f"{day('least(coalesce(g.end_date, $until), $until)')} - g.as_of_day AS duration_days, "
            "CAST(CASE WHEN g.end_date IS NOT NULL AND g.end_date <= $until THEN 1 ELSE 0 END AS TINYINT) AS event "
            "FROM spine g CROSS JOIN (SELECT count(DISTINCT feature) AS n_features FROM events "
            "WHERE feature IS NOT NULL AND timestamp < $until) k " + " ".join(joins)
        )
        derived = []
        for col, m in self.metrics.items():
            if m.kind == "derived":
                base = M.get(col.removesuffix("_" + m.window) if m.window else col)
                derived.append(f"{M.derived_sql(base, self.windows, m.window)} AS {quote_ident(col)}")
        sql = (f"SELECT account_id, as_of, segment, plan, {', '.join(quote_ident(c) for c in self.metrics)}, "
               f"{', '.join(LABELS)} FROM (SELECT *, {', '.join(derived)} FROM ({inner}) i) d")
        self.engine.create("panel", sql, {"until": until})
        ordered = "SELECT * FROM panel ORDER BY as_of, account_id"
        if out is not None:
            self.engine.write_parquet(ordered, out)
            log.info("panel written to %s", out)
        df = self.engine.frame(ordered)
        df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
        df["churned_within_h"] = df["churned_within_h"].astype("Int8")
        df["event"] = df["event"].astype("int8")
        df.attrs.update({"horizon_days": self.horizon_days, "until": until.isoformat(),
                         "windows": [w.name for w in self.windows]})
        log.info("panel: %s x %s in %.1f s", count(len(df), "row"), count(df.shape[1], "column"),
                 time.perf_counter() - t0)
        return df

    def close(self) -> None:
        if self._owns_engine:
            self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_panel(processed_dir, as_of=None, *, until=None, windows: tuple[int, ...] = M.DEFAULT_WINDOWS,
                horizon_days: int = 90, freq: str = "MS", engine: str | Engine = "duckdb",
                out: str | Path | None = None, **engine_settings) -> pd.DataFrame:
    """Build the account x period panel (see the module docstring); optionally write it to ``out`` (Parquet).

    Parameters
    ----------
    processed_dir : path
        Processed tables written by :func:`engage_models.ingest.validate.ingest`.
    as_of : date, list of dates or None
        Observation dates (UTC midnights). None: month starts from the first with a full longest window of
        data up to ``until``.
    until : date, optional
        Observation end (labels after it are unknown). Default: the midnight after the last event.
    windows, horizon_days, freq
        Trailing windows (days), churn horizon (days), and the grid frequency when ``as_of`` is None.
    engine, engine_settings
        ``"duckdb"`` (default) with e.g. ``memory_limit="2GB"``, ``threads=2``; ``"spark"`` with e.g.
        ``spark_master="local[4]"``, ``spark_driver_memory="8g"`` or ``spark_session=spark``; or an
        :class:`~engage_models.features.engine.Engine` (see :func:`~engage_models.features.engine.make_engine`).
    out : path or URI, optional
        Where the engine writes the panel as Parquet: one file with DuckDB, a folder of part files with
        Spark (any location Spark writes: ``s3a://bucket/panel``). Replaced if present.

    Returns
    -------
    DataFrame
        One row per (account_id, as_of) of accounts active at ``as_of``: ids, segment, plan, every registry
        metric for the windows, ``churned_within_h``, ``duration_days``, ``event``; ``attrs`` holds the
        horizon, the observation end and the windows.
    """
    if out is not None and not is_uri(out):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    with PanelBuilder(processed_dir, windows, horizon_days, engine, **engine_settings) as b:
        return b.build(as_of, until, freq, out=out)


def default_panel(processed_dir, until=None, *, horizon_days: int = HORIZON_DAYS,
                  windows: tuple[int, ...] = M.DEFAULT_WINDOWS, **settings) -> pd.DataFrame:
    """The run's panel: month starts up to ``until`` (from the first with a full longest window), plus
    ``until`` itself, so the latest row of every account is its state at the observation date.

    ``until`` defaults to the midnight after the last event; ``settings`` go to the engine.
    """
    with PanelBuilder(processed_dir, windows, horizon_days, **settings) as b:
        _, data_end = b.data_range()
        until = utc_midnight(until, strict=True) if until is not None else data_end
        dates = b.default_dates(until)
        if until not in dates:
            dates = dates.append(pd.DatetimeIndex([until]))
        return b.build(dates, until)


def feature_columns(panel: pd.DataFrame, model_only: bool = True) -> list[str]:
    """The metric columns of ``panel`` (those the registry offers to models when ``model_only``)."""
    return [c for c in panel.columns if c in M.REGISTRY_COLUMNS and (M.REGISTRY_COLUMNS[c].model or not model_only)]
