"""Data-quality views over the processed tables: coverage, volumes over time, quarantine summaries.

Aggregations run in DuckDB over the Parquet files; only the (small) results come back as pandas.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import binom, poisson

from .._core.i18n import catalogue, check_lang, count, fmt_date, fmt_pct, p_is, t
from .._core.io import parquet_source
from .._core.plots import date_axis, new_ax
from .._core.reasons import Thin, Why, text
from .._core.time import DAY_COUNTS_SQL, DAYS_PER_MONTH, bulk_start, to_utc
from ..features.engine import connect_duckdb
from .contracts import CONTRACTS, TIMESTAMP
from .validate import IngestReport, sign_rows, source_name

log = logging.getLogger(__name__)

#: Quarantine reasons that name a column (see engage_models.ingest.contracts), with their catalogue template.
_REASON_PATTERNS = (
    (re.compile(r"^unparseable (.+)$"), "reason.unparseable"),
    (re.compile(r"^missing (.+)$"), "reason.missing"),
    (re.compile(r"^duplicate (.+)$"), "reason.duplicate"),
    (re.compile(r"^(.+) in the future$"), "reason.in_future"),
    (re.compile(r"^(.+) after the run date$"), "reason.after_run_date"),
    (re.compile(r"^non-finite (.+)$"), "reason.not_finite"),
)


def _coded(prefix: str, value, lang: str) -> str:
    """The catalogue's text for a code (``event.login``), else the code itself (data we have no word for)."""
    key = f"{prefix}.{value}"
    return t(key, lang) if key in catalogue() else str(value)


def translate_reason(reason: str, lang: str = "en") -> str:
    """A quarantine reason (``;``-separated when several) in ``lang``; column names stay as in the data.

    >>> translate_reason("unparseable submitted_at; unknown account_id", "ja")
    'submitted_at が読み取れない、account_id が未登録'
    """
    check_lang(lang)
    if lang == "en" or not isinstance(reason, str):
        return reason
    out = []
    for part in reason.split("; "):
        if f"reason.{part}" in catalogue():
            out.append(t(f"reason.{part}", lang))
            continue
        for pattern, key in _REASON_PATTERNS:
            m = pattern.match(part)
            if m:
                out.append(t(key, lang, column=m.group(1)))
                break
        else:
            out.append(part)
    return t("sep.list", lang).join(out)


def ingest_view(report: IngestReport, lang: str = "en") -> pd.DataFrame:
    """The ingest report's table for report 01, codes in ``lang`` and the share quarantined as text: a share
    that is not 0 but rounds to it reads "< 0.001" (13 rows of 52M events read "0.000", as if none).

    >>> from engage_models.ingest.validate import IngestReport, TableResult
    >>> r = TableResult("events", "events.csv", 52_000_000, 51_999_987, 13, {})
    >>> ingest_view(IngestReport({"events": r}, now="2026-01-01"))["% quarantined"].tolist()
    ['< 0.001']
    """
    frame = translate_codes(report.to_frame(), lang)
    share = "% quarantined"
    if share in frame:
        frame[share] = frame[share].map(lambda v: "< 0.001" if 0 < v < 0.0005 else f"{v:,.3f}")
    return frame


def encoding_label(encoding: str | None, lang: str = "en") -> str:
    """A file encoding as a reader knows it (``cp932`` -> ``CP932 (Shift_JIS)``); parts listed with ", "."""
    if not encoding:
        return ""
    return t("sep.list", lang).join(_coded("encoding", e.strip(), lang) for e in encoding.split(","))


def translate_codes(df: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """``df`` with table names, quarantine reasons and encodings in ``lang`` (values only; headers go
    through ``table``)."""
    out = df.copy()
    if "table" in out.columns:
        out["table"] = out["table"].map(lambda v: _coded("table", v, lang))
    if "reason" in out.columns:
        out["reason"] = out["reason"].map(lambda v: translate_reason(v, lang))
    if "encoding" in out.columns:
        out["encoding"] = out["encoding"].map(lambda v: encoding_label(v, lang))
    return out


def file_encodings(report: IngestReport, lang: str = "en") -> pd.DataFrame:
    """One row per table read from text files: the file's name, the encoding read, detected or given.

    Parquet tables have no encoding and are left out. Labels are in ``lang``.
    """
    rows = [{"table": _coded("table", r.table, lang), "source": Path(r.source).name,
             "encoding": encoding_label(r.encoding, lang),
             "encoding_how": t("encoding.detected" if r.encoding_detected else "encoding.given", lang)}
            for r in report.tables.values() if r.encoding]
    return pd.DataFrame(rows, columns=["table", "source", "encoding", "encoding_how"])


def column_names(report: IngestReport, lang: str = "en") -> pd.DataFrame:
    """One row per source column not read under its own name as a contract column: read as a contract column
    spelled otherwise (``CSAT`` as ``csat``), or kept as an extra column (a few are read where present: ``seats``,
    ``country``). Empty when
    every column of every table is the contract's own."""
    def shown(name: str) -> str:  # a name with spaces around it, quoted (a page collapses the spaces)
        return f"'{name}'" if name != name.strip() else name

    rows = [{"table": _coded("table", r.table, lang), "column in the source": shown(name), "read as": col}
            for r in report.tables.values() for name, col in r.renamed_columns.items()]
    rows += [{"table": _coded("table", r.table, lang), "column in the source": shown(name),
              "read as": t("dq.extra_column", lang)}
             for r in report.tables.values() for name in r.extra_columns]
    return pd.DataFrame(rows, columns=["table", "column in the source", "read as"])


def ingest_warnings(report: IngestReport, lang: str = "en", currency: str | None = None) -> pd.DataFrame:
    """What ingest warned about (a value a ``date_format`` or ``thousands`` setting would read, a table that lost
    every row...), one row each: ``warning``, in ``lang`` (an ingest report written before 4 Dec 2026 kept them in
    English: a Japanese report says so). Empty when ingest warned about nothing; None for an ingest report written
    before warnings were kept.

    ``currency``: the run's (ISO code). Amounts written with a sign of another currency (``¥1,200`` in a run in
    USD) are warned about too: the reports would show them with the run's sign."""
    if report.warnings is None:
        return None
    said = list(report.warnings)
    if currency is not None:
        said += currency_mismatches(report, currency)
    return pd.DataFrame({"warning": [text(w, lang) for w in said]}, columns=["warning"])


def currency_mismatches(report: IngestReport, currency: str) -> list[str]:
    """A warning per number column whose values carry a currency sign that ``currency`` is not written with
    (from ``TableResult.currency_signs``: read where the sources file gives ``thousands`` or ``decimal``)."""
    from .validate import SIGN_CURRENCIES

    out = []
    for r in report.tables.values():
        for column, signs in r.currency_signs.items():
            other = {sign: n for sign, n in signs.items() if currency not in SIGN_CURRENCIES.get(sign, ())}
            if other:
                out.append(Why("ingest.warn.other_currency", table=r.table, column=column, currency=currency,
                               signs=sign_rows(other)))
    return out


#: The quality queries are scans and small aggregates: a bounded buffer pool keeps a 50M-event company's run
#: under 4 GB (DuckDB's default is 80% of the machine's memory, held until the process ends).
QUALITY_MEMORY = "1GB"


def _con() -> duckdb.DuckDBPyConnection:
    return connect_duckdb(memory_limit=QUALITY_MEMORY)


def _tables(processed: Path) -> dict[str, Path]:
    return {t: processed / f"{t}.parquet" for t in CONTRACTS if (processed / f"{t}.parquet").exists()}


def date_coverage(processed: str | Path) -> pd.DataFrame:
    """First and last value of every timestamp column, with the share of rows where it is empty."""
    rows = []
    with _con() as con:
        for table, path in _tables(Path(processed)).items():
            for col in CONTRACTS[table].columns:
                if col.dtype != TIMESTAMP:
                    continue
                q = (f'SELECT min("{col.name}"), max("{col.name}"), count(*), count("{col.name}") '
                     f'FROM read_parquet($p, hive_partitioning = false)')
                lo, hi, n, filled = con.execute(q, {"p": parquet_source(path)}).fetchone()
                rows.append({"table": table, "column": col.name, "first": lo, "last": hi, "rows": n,
                             "% empty": 100 * (n - filled) / n if n else 0.0})
    return pd.DataFrame(rows)


def last_event_date(processed: str | Path) -> pd.Timestamp:
    """The last day with any event: the default observation date of a run."""
    with _con() as con:
        (ts,) = con.execute("SELECT max(timestamp) FROM read_parquet($p, hive_partitioning = false)",
                            {"p": parquet_source(Path(processed) / "events.parquet")}).fetchone()
    if ts is None:
        raise ValueError("the events table is empty: no default observation date")
    return to_utc(ts).normalize()


def observation_date(as_of: str | None, processed: str | Path) -> pd.Timestamp:
    """The run's observation date: ``as_of`` if given (UTC midnight), else the midnight after the last event.

    Metrics at a date see only what happened strictly before it, so the default takes the last day of data
    in: with events up to 31 December, the observation date is 1 January.

    A month's first day that the data only begins (:func:`partial_first_day`: an export run in its first hours)
    is not taken in: the observation date is that month start, on the panel's calendar of month starts, where it
    was the 2nd, a day after it, counting a few hours as a whole day.
    """
    if as_of:
        return to_utc(as_of).normalize()
    last = last_event_date(processed)
    return _default_date(last, partial_first_day(processed, last))


def _default_date(last: pd.Timestamp, partial: dict | None) -> pd.Timestamp:
    """:func:`observation_date` without ``as_of``, from the last event and :func:`partial_first_day`'s finding."""
    day = to_utc(last).normalize()
    return day if partial is not None else day + pd.Timedelta(days=1)


#: A month's first day holding fewer events than this share of a usual day's (the median of the days with events
#: among the 28 before it) may be a day the data only begins: :func:`partial_first_day`.
PARTIAL_DAY_SHARE = 0.5
#: Days with events among the 28 before it that a usual day is measured on (fewer: no day is called partial).
PARTIAL_DAY_BASIS = 7
#: ... and only when the day's last event comes before this hour, while at least :data:`PARTIAL_DAY_LATER` of the
#: usual days' events come at or after that time of day: the export stopped early that day. A quiet whole day (a
#: Sunday, 1 January, a company of a few events a day) has its events through the day and is a day like another.
PARTIAL_DAY_HOUR = 12
PARTIAL_DAY_LATER = 0.25
#: ... and only when a whole day as usual (Poisson, the usual day's mean) would hold so few events with a chance
#: below this: 1 event where 3 are usual is an ordinary quiet day.
PARTIAL_DAY_CHANCE = 0.01


def partial_first_day(processed: str | Path, day: pd.Timestamp | None = None) -> dict | None:
    """The events' last day when it is the first day of a month the data only begins, an export run in its first
    hours (an export in Tokyo time run on 1 February at 09:00 holds that day's first nine hours): fewer events
    than :data:`PARTIAL_DAY_SHARE` of a usual day (the median of the days with events among the 28 before it, at
    least :data:`PARTIAL_DAY_BASIS` of them) and fewer than a whole usual day holds but with a chance of
    :data:`PARTIAL_DAY_CHANCE`, the last of them before :data:`PARTIAL_DAY_HOUR` o'clock, and at least
    :data:`PARTIAL_DAY_LATER` of the usual days' events after that time of day. A quiet whole day (a Sunday of a
    B2B product, 1 January, a company of a few events a day) is none: its events run through the day, or a whole
    day may hold so few.
    ``{"day", "events", "usual", "until", "later_share"}``, else None (``day``: the last event's day, if known)."""
    day = last_event_date(processed) if day is None else to_utc(day).normalize()
    if day.day != 1:
        return None
    start = day - pd.Timedelta(days=28)
    with _con() as con:
        rows = con.execute("SELECT date_trunc('day', timestamp) AS d, count(*) AS n, max(timestamp) AS last FROM "
                           "read_parquet($p, hive_partitioning = false) WHERE timestamp >= $start AND timestamp < $end "
                           "GROUP BY 1",
                           {"p": parquet_source(Path(processed) / "events.parquet"), "start": start.to_pydatetime(),
                            "end": (day + pd.Timedelta(days=1)).to_pydatetime()}).fetchall()
        counts = {to_utc(d).normalize(): int(n) for d, n, _ in rows}
        before = [n for d, n in counts.items() if d < day]
        events = counts.get(day, 0)
        if len(before) < PARTIAL_DAY_BASIS or not events:
            return None
        usual = float(pd.Series(before).median())
        until = next(to_utc(last) for d, _, last in rows if to_utc(d).normalize() == day)
        # fewer than half a usual day's, and too few for a whole day's chance (a company of 3 events a day has days
        # of 1), the last of them in the morning
        if (events >= PARTIAL_DAY_SHARE * usual or poisson.cdf(events, usual) >= PARTIAL_DAY_CHANCE
                or until.hour >= PARTIAL_DAY_HOUR):
            return None
        cut = until - day  # the time of day of the last event
        later = con.execute("SELECT avg(CASE WHEN epoch(timestamp) % 86400 > $cut THEN 1.0 ELSE 0.0 END) FROM "
                            "read_parquet($p, hive_partitioning = false) WHERE timestamp >= $start AND "
                            "timestamp < $day",
                            {"p": parquet_source(Path(processed) / "events.parquet"), "cut": cut.total_seconds(),
                             "start": start.to_pydatetime(), "day": day.to_pydatetime()}).fetchone()[0]
    if later is None or later < PARTIAL_DAY_LATER:
        return None
    return {"day": day.date().isoformat(), "events": events, "usual": usual, "until": until.isoformat(),
            "later_share": round(float(later), 3)}


#: :func:`churn_stop`'s rule (a month is :data:`DAYS_PER_MONTH` days): the usual churns a month are the median of the
#: :data:`CHURN_STOP_BASIS` months before a stop, at least :data:`CHURN_STOP_MIN_PER_MONTH` of them ...
CHURN_STOP_BASIS = 6
CHURN_STOP_MIN_PER_MONTH = 3
#: ... and steady: no month of them under half their median or over twice it with a Poisson chance below this (a
#: cohort's first months of many churns, or months before the first churn, are no usual rate) ...
CHURN_STOP_ODD = 0.001
#: ... the stretch from the stop to the observation date lasts at least this many days (two months) ...
CHURN_STOP_MIN_DAYS = 61
#: ... and at most this many (a year: churn known that late is no lag of recognising it; a longer stretch against
#: the months before it reads churn that falls steadily, halving every six months, as a stop) ...
CHURN_STOP_MAX_DAYS = 366
#: ... and, where the churns reach back a year before it, so few against the same stretch a year earlier too (a
#: season's lull, the summer of a school product, is no stop).
YEAR_DAYS = 365
#: ... and holds no more than this share of the churns the usual rate gives it, so few that the months before and
#: it would hold them by chance below :data:`CHURN_STOP_CHANCE` (none), :data:`CHURN_STOP_CHANCE_SOME` (a few:
#: a steady churn of a few a month has stretches of few, and a falling one more).
CHURN_STOP_SHARE = 0.25
CHURN_STOP_CHANCE = 0.01
CHURN_STOP_CHANCE_SOME = 0.001


def churn_stop(processed: str | Path, as_of) -> dict | None:
    """The day the accounts' churn stops, months before the observation date ``as_of``; else None.

    Churn dated when it happened but known only later (a purchase log turned into accounts: a customer is churned
    once they have not bought for 180 days, dated at their last purchase) has none in the last 180 days before the
    data end: the churns a month are steady, then none. A model learns that recent accounts never churn and scores
    every account as safe. The churns are the accounts' ``end_date`` before ``as_of``, counted by day.

    The rule. A stop is the day after a churn with at least :data:`CHURN_STOP_MIN_DAYS` days from it to ``as_of``
    and at most :data:`CHURN_STOP_MAX_DAYS` (``T`` days). The usual rate ``r`` is the median of the churns in each
    of the :data:`CHURN_STOP_BASIS` months (30.4375 days each) before it, ``mu = r T`` the churns it gives the
    stretch and ``x`` those there are. The stop is said when

    * ``r`` is at least :data:`CHURN_STOP_MIN_PER_MONTH` and steady: no month of the 6 under half of ``r`` or over
      twice it that a Poisson of mean ``r`` holds with a chance below :data:`CHURN_STOP_ODD` (a cohort's first
      months of many churns, or months before the first churn, are no usual rate);
    * ``x <= CHURN_STOP_SHARE * mu``;
    * and so few are unlikely by chance: the stretch's churns and the 6 months' (``B``, at most ``6 r``), two
      Poisson counts of one rate, leave the stretch ``x`` or fewer of the ``B + x`` (binomial, its share of the
      days) with a chance below :data:`CHURN_STOP_CHANCE` when ``x`` is 0, :data:`CHURN_STOP_CHANCE_SOME` otherwise
      (at 3 a month, two months without a churn: 0.6%).

    Where a churn falls before the same stretch a year earlier (the stop and ``as_of`` less :data:`YEAR_DAYS`), the
    stretch must also hold at most :data:`CHURN_STOP_SHARE` of that stretch's churns, so few by the same chance
    (binomial, half each): a lull that comes back every year (churn of 8 a month but 1 from July to September) was
    said to stop every autumn.

    Of the days that pass, the stop said is the one of the largest Poisson deviance ``2 (x log(x / mu) - (x -
    mu))``: the day after the last churn when none follow.

    Nothing is said of a table of fewer churns (a median under 3 a month over the 6 months before the stop, so at
    least 12 churns in those months: rare churn tells no stop), of one whose churn runs on to ``as_of``, nor of churn
    in a few months a year only (renewals: the months' median is 0). Of steady churn of 3 a month it says a stop
    about once in a hundred tables, of 5 a month once in two hundred; of churn that halves every six months over
    three years (10 a month at the start) none in 60, where without the year's limit every one was said.

    ``{"stop", "as_of", "months", "per_month", "after", "expected", "p", "churns"}``: the stop (ISO day), the
    observation date, the months from the stop to it, the usual churns a month, the churns after the stop, those
    the usual rate gives that stretch, the chance, and all the churns before ``as_of``.
    """
    path = Path(processed) / "accounts.parquet"
    if not path.exists():
        return None
    as_of = to_utc(as_of).normalize()
    relation = "(SELECT end_date FROM read_parquet($p, hive_partitioning = false) WHERE end_date < $as_of)"
    with _con() as con:
        days = con.execute(DAY_COUNTS_SQL.format(column="end_date", relation=relation) + " ORDER BY 1",
                           {"p": parquet_source(path), "as_of": as_of.to_pydatetime()}).df()
    if days.empty:
        return None
    d, n = days["d"].to_numpy(dtype="int64"), days["n"].to_numpy(dtype="int64")
    end = int((as_of - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(days=1))
    stops = d + 1
    stops = stops[(end - stops >= CHURN_STOP_MIN_DAYS) & (end - stops <= CHURN_STOP_MAX_DAYS)]
    if not len(stops):
        return None
    cum = np.concatenate([[0], np.cumsum(n)])
    edges = stops[:, None] - np.round(np.arange(CHURN_STOP_BASIS + 1) * DAYS_PER_MONTH).astype("int64")[None, :]
    before = cum[np.searchsorted(d, edges, side="left")]  # churns on days before each edge
    months = before[:, :-1] - before[:, 1:]  # the churns of each of the months before each stop
    per_month = np.median(months, axis=1)
    after = cum[-1] - before[:, 0]
    mu = per_month / DAYS_PER_MONTH * (end - stops)
    # the tail's churns against the months before, both Poisson: given their sum, the tail's share is binomial
    usual = np.minimum(before[:, 0] - before[:, -1], np.round(per_month * CHURN_STOP_BASIS).astype("int64"))
    p = binom.cdf(after, usual + after, (end - stops) / (end - stops + CHURN_STOP_BASIS * DAYS_PER_MONTH))
    rate = per_month[:, None]
    odd = (((months < rate / 2) & (poisson.cdf(months, rate) < CHURN_STOP_ODD))
           | ((months > 2 * rate) & (poisson.sf(months - 1, rate) < CHURN_STOP_ODD)))
    steady = ~odd.any(axis=1)
    chance = np.where(after > 0, CHURN_STOP_CHANCE_SOME, CHURN_STOP_CHANCE)
    passes = ((per_month >= CHURN_STOP_MIN_PER_MONTH) & steady & (after <= CHURN_STOP_SHARE * mu) & (p < chance))
    # a season's lull is no stop: where the churns reach back before the same stretch a year earlier, the stretch
    # must hold few against that one too (two Poisson counts of one rate over as many days: binomial, half each)
    lo, hi = stops - YEAR_DAYS, end - YEAR_DAYS
    last_year = cum[np.searchsorted(d, hi, side="left")] - cum[np.searchsorted(d, lo, side="left")]
    seen = d[0] < lo  # a churn before the year-earlier stretch: the data reach back that far
    like_last_year = seen & ((after > CHURN_STOP_SHARE * last_year) | (binom.cdf(after, after + last_year, 0.5)
                                                                         >= chance))
    passes &= ~like_last_year
    if not passes.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        deviance = 2 * (np.where(after > 0, after * np.log(after / mu), 0.0) - (after - mu))
    i = int(np.argmax(np.where(passes, deviance, -np.inf)))
    stop = pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(stops[i]))
    return {"stop": stop.date().isoformat(), "as_of": as_of.date().isoformat(),
            "months": round(float((end - stops[i]) / DAYS_PER_MONTH), 1), "per_month": float(per_month[i]),
            "after": int(after[i]), "expected": round(float(mu[i]), 1), "p": float(p[i]), "churns": int(cum[-1])}


def churn_stop_text(found: dict, lang: str = "en", dates: bool = True) -> str:
    """:func:`churn_stop`'s finding as a sentence in ``lang`` (``dates=False``: dates as ISO days, for a console).

    >>> found = {"stop": "1998-01-01", "as_of": "1998-07-01", "months": 6.0, "per_month": 455.0, "after": 0,
    ...          "expected": 2733.2, "p": 0.0, "churns": 18196}
    >>> print(churn_stop_text(found, dates=False)[:99])
    accounts: churn stops at 1998-01-01: no account's end_date falls in the 6.0 months from then to the
    """
    check_lang(lang)
    day = (lambda v: fmt_date(pd.Timestamp(v), lang)) if dates else str
    months, per_month = f"{found['months']:.1f}", f"{found['per_month']:,.1f}".removesuffix(".0")
    tail = (t("dq.churn_stop.none", lang, stop=day(found["stop"]), months=months, as_of=day(found["as_of"]))
            if not found["after"] else
            t("dq.churn_stop.few", lang, stop=day(found["stop"]), n=found["after"], months=months,
              as_of=day(found["as_of"]), expected=f"{found['expected']:,.0f}"))
    return t("dq.churn_stop", lang, tail=tail, basis=CHURN_STOP_BASIS, per_month=per_month, p=p_is(found["p"]),
             stop_day=found["stop"])


def events_per_day(processed: str | Path) -> pd.DataFrame:
    """Events per calendar day (UTC) and event type, and the distinct accounts active in them.

    The distinct count is a count of groups (day, type, account): a grouping spills to disk within the quality
    stage's memory limit, while ``count(DISTINCT ...)`` over 160M events (50,000 accounts) ran out of it.
    Active users per day are the engagement report's (its KPIs); counting them here too cost 3x this query.
    """
    sql = """
        WITH per_account AS (
            SELECT date_trunc('day', timestamp) AS day, event_type, account_id, count(*) AS events
            FROM read_parquet($p, hive_partitioning = false) GROUP BY ALL)
        SELECT day, event_type, sum(events)::BIGINT AS events, count(*) AS accounts
        FROM per_account GROUP BY ALL ORDER BY day, event_type
    """
    with _con() as con:
        df = con.execute(sql, {"p": parquet_source(Path(processed) / "events.parquet")}).df()
    df["day"] = pd.to_datetime(df["day"], utc=True)
    return df


def monthly_counts(processed: str | Path, table: str, column: str, by: str | None = None) -> pd.DataFrame:
    """Rows per month of ``column`` (a timestamp) in ``table``, optionally split by a category ``by``."""
    contract = CONTRACTS[table]
    names = contract.column_names
    if column not in names or (by is not None and by not in names):
        raise ValueError(f"{table}: unknown column {column!r} or {by!r}; contract columns: {names}")
    group = f', "{by}"' if by else ""
    sql = (f'SELECT date_trunc(\'month\', "{column}") AS month{group}, count(*) AS rows '
           f'FROM read_parquet($p, hive_partitioning = false) WHERE "{column}" IS NOT NULL GROUP BY ALL ORDER BY ALL')
    with _con() as con:
        return con.execute(sql, {"p": parquet_source(Path(processed) / f"{table}.parquet")}).df()


def quarantine_sample(processed: str | Path, table: str, n: int = 5, lang: str = "en") -> pd.DataFrame:
    """The first ``n`` quarantined rows of a table: raw text as read, reason (in ``lang``), file name and
    data row; the line number and the line as read when a line could not be split into fields.

    Only the file's name is shown (a report is forwarded; local folder names have no place in it), or a database
    table's label.
    """
    path = Path(processed) / "quarantine" / f"{table}.parquet"
    if not path.exists():
        return pd.DataFrame()
    with _con() as con:
        df = con.execute("SELECT * FROM read_parquet($p, hive_partitioning = false) ORDER BY source_row LIMIT $n",
                         {"p": parquet_source(path), "n": n}).df()
    df["source_file"] = df["source_file"].map(source_name)  # a database table: its label (no password in it)
    df["reason"] = df["reason"].map(lambda r: translate_reason(r, lang))
    unused = [c for c in ("source_line", "raw_line") if c in df.columns and df[c].isna().all()]
    return df.drop(columns=unused)


def plot_quarantine(report: IngestReport, ax=None, lang: str = "en"):
    """Horizontal bars: quarantined rows by table and reason (log scale when counts differ a lot)."""
    ax = new_ax(ax, figsize=(9, 0.45 * max(len(report.reasons_frame()), 2) + 1))
    df = report.reasons_frame()
    if df.empty:
        ax.text(0.5, 0.5, t("No row was quarantined", lang), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    labels = [t("sep.label_value", lang, what=_coded("table", a, lang), value=translate_reason(b, lang))
              for a, b in zip(df["table"], df["reason"], strict=True)]
    ax.barh(labels, df["rows"], color="#d55e00")
    ax.invert_yaxis()
    ax.set_xlabel(t("rows quarantined", lang))
    for y, v in enumerate(df["rows"]):
        ax.text(v, y, f" {v:,}", va="center", fontsize=9)
    return ax


def plot_events_per_day(daily: pd.DataFrame, ax=None, lang: str = "en"):
    """Stacked daily events by type; weekly pattern and gaps in collection show up here first."""
    ax = new_ax(ax, figsize=(10, 4))
    wide = daily.pivot_table(index="day", columns="event_type", values="events", aggfunc="sum", fill_value=0)
    ax.stackplot(wide.index, wide.T.to_numpy(), labels=[_coded("event", c, lang) for c in wide.columns], alpha=0.85)
    ax.legend(loc="upper left", ncols=len(wide.columns), fontsize=8, frameon=False)
    ax.set_ylabel(t("events per day", lang))
    ax.set_xlabel("")
    date_axis(ax, lang)
    return ax


def plot_monthly(counts: pd.DataFrame, by: str | None = None, ylabel: str = "rows", ax=None, lang: str = "en"):
    """Bars of rows per month from :func:`monthly_counts`, stacked by ``by`` when given."""
    ax = new_ax(ax, figsize=(10, 4))
    wide = (counts.pivot_table(index="month", columns=by, values="rows", aggfunc="sum", fill_value=0)
            if by else counts.set_index("month")[["rows"]])
    wide.index = [fmt_date(m, lang, month_only=True) for m in pd.to_datetime(wide.index)]
    wide.plot.bar(stacked=True, ax=ax, width=0.85)
    step = max(1, -(-len(wide) // 8))  # at most 8 month labels, upright: they must not run into each other
    ax.set_xticks(range(0, len(wide), step), wide.index[::step], rotation=0)
    ax.set_xlabel("")
    ax.set_ylabel(t(ylabel, lang))
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, [t(x, lang) for x in labels], title=t(by, lang) if by else None, fontsize=8, frameon=False)
    return ax


def data_dates(processed: str | Path, as_of: str | None = None) -> dict:
    """The data's first and last event and the run's observation date (``as_of``, else the midnight after the
    last event), as ISO strings: what every later stage needs to know about time.

    The first event is the first of the events' bulk: events dated long before the rest (one mistyped as 1924;
    :func:`~engage_models._core.time.bulk_start`) are set aside from it and said under ``set_aside`` (their
    rows, first and last day, and the day the data begin). A month's first day the data only begin
    (:func:`partial_first_day`) is left after the default observation date and said under ``partial_day``. Churn
    that stops months before the observation date (:func:`churn_stop`: churn dated when it happened but known only
    later) is said under ``churn_stop``. An events table without rows gives no first or last event: the date is
    then the one the accounts and subscriptions give (:func:`_dates_without_events`)."""
    source = parquet_source(Path(processed) / "events.parquet")
    with _con() as con:
        last = con.execute("SELECT max(timestamp) FROM read_parquet($p, hive_partitioning = false)",
                           {"p": source}).fetchone()[0]
        if last is None:  # a header-only events file: the dates the accounts give (raises when there are none)
            return _dates_without_events(processed, as_of)
        found = bulk_start(con.execute(DAY_COUNTS_SQL.format(
            column="timestamp", relation="read_parquet($p, hive_partitioning = false)"), {"p": source}).df())
        first = con.execute("SELECT min(timestamp) FROM read_parquet($p, hive_partitioning = false) "
                            "WHERE timestamp >= $start", {"p": source, "start": found.start}).fetchone()[0]
    partial = None if as_of else partial_first_day(processed, last)  # once: the date and the note read it
    out = {"first_event": to_utc(first).isoformat(), "last_event": to_utc(last).isoformat(),
           "as_of": (to_utc(as_of).normalize() if as_of else _default_date(last, partial)).isoformat()}
    if found.rows:
        out["set_aside"] = found.said("events", "timestamp")
    _said_churn_stop(processed, out)
    if partial is not None:  # its hours are after the date: said, and how to take them in
        out["partial_day"] = partial
        log.warning("events: the data end at %s on %s, a month's first day with %s where a usual day has %s, "
                    "%.0f%% of them later in the day: an export run in that day's first hours, so the default "
                    "observation date is %s and that day's events come after it; give --as-of %s to take them in",
                    partial["until"][11:16], partial["day"], count(partial["events"], "event"),
                    f"{partial['usual']:,.0f}", 100 * partial["later_share"], partial["day"],
                    (pd.Timestamp(partial["day"]) + pd.Timedelta(days=1)).date().isoformat())
    return out


def _dates_without_events(processed: str | Path, as_of: str | None) -> dict:
    """The run's dates when the events table has no row (a header-only file) while accounts were kept: no first or
    last event, the observation date ``as_of`` if given, else the one accounts and subscriptions give
    (:func:`~engage_models.kpis.compute.default_as_of`), and ``no_events``; the accounts' churn is checked as with
    events. Raises :class:`~engage_models._core.reasons.Thin` (``reason.no_events``) when no account was kept
    either: there is no date to take."""
    from ..kpis import default_as_of, load_tables

    accounts, subscriptions = load_tables(processed)
    if accounts.empty:
        raise Thin("reason.no_events")
    day = to_utc(as_of).normalize() if as_of else default_as_of(accounts, subscriptions)
    out = {"first_event": None, "last_event": None, "as_of": day.isoformat(), "no_events": True}
    _said_churn_stop(processed, out)
    return out


def _said_churn_stop(processed: str | Path, dates: dict) -> None:
    """:func:`churn_stop` before the dates' observation date, kept under ``churn_stop`` and warned of: the last
    months' churn is not known yet (the warning says how to leave them out)."""
    stopped = churn_stop(processed, dates["as_of"])
    if stopped is not None:
        dates["churn_stop"] = stopped
        log.warning("%s", churn_stop_text(stopped, "en", dates=False))


def date_notes(dates: dict, lang: str = "en") -> list[str]:
    """What the run's dates (:func:`data_dates`, the ingest stage's ``dates.json``) say that moves or doubts the
    observation date, a Markdown sentence each in ``lang``, for report 01: a month's first day the data only begin
    (``partial_day``, :func:`partial_first_day`), left after the default observation date; churn that stops months
    before the observation date (``churn_stop``, :func:`churn_stop`); an events table without rows (``no_events``):
    the observation date taken from the accounts and subscriptions, the events' own checks not made. Empty when
    there is nothing to say (and for a ``dates.json`` written before these were kept).

    >>> dates = {"as_of": "2025-02-01T00:00:00+00:00", "partial_day": {"day": "2025-02-01", "events": 6,
    ...          "usual": 48.0, "until": "2025-02-01T02:40:00+00:00", "later_share": 0.875}}
    >>> print(date_notes(dates)[0][:97])
    The events end at 02:40 on 1 Feb 2025, a month's first day with 6 events where a usual day has 48
    """
    check_lang(lang)
    notes = []
    if dates.get("no_events"):  # a header-only events file: the date is the accounts', the events' checks not made
        notes.append(t("dq.no_events", lang, as_of=fmt_date(to_utc(dates["as_of"]), lang)))
    partial = dates.get("partial_day")
    if partial:
        day = pd.Timestamp(partial["day"])
        notes.append(t("dq.partial_day", lang, until=partial["until"][11:16], day=fmt_date(day, lang),
                       events=partial["events"], usual=f"{partial['usual']:,.0f}",
                       later=fmt_pct(100 * partial["later_share"], lang, decimals=0),
                       next=(day + pd.Timedelta(days=1)).date().isoformat()))
    if dates.get("churn_stop"):
        notes.append(churn_stop_text(dates["churn_stop"], lang))
    return notes
