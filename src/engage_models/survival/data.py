"""Account lifetimes, start/stop rows and person-period rows: the tables the survival models fit.

Time is measured in **months of tenure** (days / 30.4375) since the account's ``start_date``.

Censoring and left truncation
-----------------------------
An account that has not churned by the observation date ``as_of`` is *right-censored* at its tenure on
that date. An account that was already a customer when the data window opened (``observed_from``,
e.g. the first month of the subscriptions table) is *left-truncated*: customers who started at the same
time but churned before the window are not in the data at all, so the survivors would make early tenure
look safer than it is. Such an account enters the risk set only at its tenure on ``observed_from``
(``entry``); Kaplan-Meier and Cox then compare it only with accounts at risk at the same tenure.

Examples
--------
>>> import pandas as pd
>>> accounts = pd.DataFrame({"account_id": ["a", "b"], "start_date": ["2023-01-01", "2024-03-01"],
...                          "end_date": [None, "2024-09-01"]})
>>> lt = lifetimes(accounts, as_of="2024-12-31", observed_from="2024-01-01")
>>> lt[["account_id", "duration", "event", "entry"]].round(2).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
[{'account_id': 'a', 'duration': 23.98, 'event': 0, 'entry': 11.99},
 {'account_id': 'b', 'duration': 6.05, 'event': 1, 'entry': 0.0}]
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.i18n import count
from .._core.io import parquet_source
from .._core.time import DAYS_PER_MONTH, months_between, to_utc  # noqa: F401

log = logging.getLogger(__name__)

DURATION, EVENT, ENTRY = "duration", "event", "entry"


def lifetimes(accounts: pd.DataFrame, as_of, observed_from=None, *, id_col: str = "account_id",
              start_col: str = "start_date", end_col: str = "end_date") -> pd.DataFrame:
    """One row per account: ``duration`` (months), ``event`` (1 churned), ``entry`` (months), ``cohort``.

    Parameters
    ----------
    accounts : DataFrame
        ``account_id, start_date, end_date`` (churn date, empty if active) and any other columns (kept).
    as_of : date
        Observation date: churn after it is not known yet (an ``end_date`` later than ``as_of`` is a
        cancellation with notice: censored at ``as_of``). Accounts starting on or after ``as_of`` are dropped.
    observed_from : date, optional
        First date the data covers. Accounts started before it are left-truncated at
        ``entry = months(observed_from - start_date)``; ``None`` means no truncation (``entry = 0``).

    Returns
    -------
    DataFrame
        The input columns plus ``duration``, ``event``, ``entry``, ``left_truncated``, ``cohort`` (start
        year-quarter) and ``tenure_at_as_of`` (= duration for accounts still active).
    """
    missing = {id_col, start_col, end_col} - set(accounts.columns)
    if missing:
        raise ValueError(f"accounts lack {'column' if len(missing) == 1 else 'columns'} {sorted(missing)}")
    as_of = to_utc(as_of)
    df = accounts.copy()
    start = to_utc(df[start_col])
    end = to_utc(df[end_col])
    keep = start < as_of
    if (~keep).any():
        log.info("%s on or after %s: left out", count(int((~keep).sum()), "# account starts", "# accounts start"),
                 as_of.date())
    df, start, end = df[keep].copy(), start[keep], end[keep]
    churned = end.notna() & (end <= as_of)
    stop = end.where(churned, as_of)
    df[DURATION] = months_between(start, stop).astype(float)
    df[EVENT] = churned.astype(int)
    if observed_from is not None:
        observed_from = to_utc(observed_from)
        df[ENTRY] = months_between(start, observed_from).clip(lower=0).astype(float)
        before = int((churned & (end < observed_from)).sum())
        if before:
            log.warning("%s churned before observed_from %s: the accounts table seems to hold "
                        "customers lost before the data window, so it may not be left-truncated; consider "
                        "observed_from=None", count(before, "account"), observed_from.date())
        df[ENTRY] = np.minimum(df[ENTRY], df[DURATION])  # such accounts add no time at risk in the window
    else:
        df[ENTRY] = 0.0
    df["left_truncated"] = df[ENTRY] > 0
    q = start.dt.tz_convert(None).dt.to_period("Q").astype(str)
    df["cohort"] = q.str.replace("Q", " Q", regex=False)
    df["tenure_at_as_of"] = df[DURATION].where(df[EVENT] == 0)
    return df.reset_index(drop=True)


def usable(df: pd.DataFrame, duration: str = DURATION, entry: str | None = ENTRY) -> pd.DataFrame:
    """Rows that contribute time at risk: ``duration > entry`` (and ``duration > 0``)."""
    ok = df[duration] > 0
    if entry and entry in df:
        ok &= df[duration] > df[entry]
    dropped = int((~ok).sum())
    if dropped:
        log.info("%s with no time at risk (duration <= entry) left out", count(dropped, "row"))
    return df[ok].reset_index(drop=True)


def truncation_summary(lt: pd.DataFrame) -> dict:
    """How many accounts are left-truncated and how much of their life the data does not show."""
    trunc = lt[lt["left_truncated"]]
    return {
        "accounts": int(len(lt)),
        "left_truncated": int(len(trunc)),
        "share_left_truncated": float(len(trunc) / len(lt)) if len(lt) else 0.0,
        "median_unobserved_months": float(trunc[ENTRY].median()) if len(trunc) else 0.0,
        "events": int(lt[EVENT].sum()),
    }


#: The tables whose dates say the data have begun, and their date column.
DATED_TABLES = (("subscriptions", "period_start"), ("events", "timestamp"))


def observation_window(processed: str | Path) -> tuple[pd.Timestamp | None, list[dict]]:
    """First date the processed data covers, and the rows set aside to find it.

    The earliest start of the subscriptions (first month) and of the events (first day): a table that begins later
    than the other does not move the start, since the other's earlier rows are real activity then (subscriptions
    kept from a later month made every older account "a customer before the data begin"). Each table's start
    leaves out rows dated long before the rest of it (:func:`~engage_models._core.time.bulk_start`: one event
    mistyped as 1924 had moved the start, the out-of-time cutoff and the panel by decades); those are returned as
    :meth:`~engage_models._core.time.DataStart.said` dicts, also logged. ``(None, [])`` without dates.
    """
    import duckdb

    from .._core.time import DAY_COUNTS_SQL, bulk_start

    processed = Path(processed)
    starts, set_aside = [], []
    for table, col in DATED_TABLES:
        path = processed / f"{table}.parquet"
        if not path.exists():
            continue
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            days = con.execute(DAY_COUNTS_SQL.format(column=f'"{col}"', relation="read_parquet($p, hive_partitioning "
                                                     "= false)"), {"p": parquet_source(path)}).df()
        found = bulk_start(days)
        if found.start is None:
            continue
        starts.append(found.start)
        said = found.said(table, col)
        if said:
            set_aside.append(said)
            log.info("%s: %s dated %s, more than a year before the rest of the table, %s set aside in finding where "
                     "the data begin (%s)", table, count(found.rows, "row"),
                     said["first"] if said["first"] == said["last"] else f"{said['first']} to {said['last']}",
                     count(found.rows, "=is", "=are"), said["start"])
    return (min(starts) if starts else None), set_aside


def unknown_starts(accounts: pd.DataFrame, observed_from=None, *, id_col: str = "account_id",
                   start_col: str = "start_date") -> tuple[pd.Series, dict | None]:
    """Accounts whose start is taken as unknown: started long before every other account, and before the data begin.

    The rule that sets aside a table's early rows in finding where its data begin
    (:func:`~engage_models._core.time.bulk_start`: more than a year with no account started after them, at most 1%
    of the accounts), the gap also longer than the later starts span (a first customer years before the next is
    one: :func:`~engage_models._core.time.account_starts`), applied to ``start_date`` as ingest's warning
    does, and kept to starts before ``observed_from`` (when given: a start inside the data window is an ordinary
    one). A start mistyped as 1924
    gave its account a century of tenure: it entered the risk set alone at 1,199 months, so it dropped out of the
    curves while still counted, and a churner's moved 12-month retention by a point. Its real tenure is unknown, so
    the survival tables leave it out rather than guess one (taking the data's start as its start would credit it
    with time at risk before it may have been a customer).

    Returns a boolean Series on ``accounts.index`` (True: start unknown) and, when any, a
    :meth:`~engage_models._core.time.DataStart.said` dict for ``accounts``/``start_date`` with ``accounts``, up to
    three of their ids (the earliest first); else ``None``.

    >>> acc = pd.DataFrame({"account_id": [f"a{i}" for i in range(100)] + ["old"],
    ...                     "start_date": [f"2024-01-{1 + i % 28:02d}" for i in range(100)] + ["1924-07-22"]})
    >>> aside, said = unknown_starts(acc, observed_from="2024-01-01")
    >>> int(aside.sum()), said["first"], said["start"], said["accounts"]
    (1, '1924-07-22', '2024-01-01', ['old'])
    >>> int(unknown_starts(acc, observed_from="1920-01-01")[0].sum())  # inside the data window: an ordinary start
    0
    """
    from .._core.time import account_starts, day_counts

    start = to_utc(accounts[start_col])
    found = account_starts(day_counts(start))
    aside = pd.Series(False, index=accounts.index)
    if not found.rows:
        return aside, None
    aside = start.notna() & (start < found.start)
    if observed_from is not None:
        aside &= start < to_utc(observed_from)
    if not aside.any():
        return aside, None
    early = start[aside].sort_values()
    ids = accounts.loc[early.index, id_col].astype(str).drop_duplicates().head(3).tolist()
    said = {"table": "accounts", "column": start_col, "rows": int(aside.sum()), "total": int(start.notna().sum()),
            "first": early.iloc[0].date().isoformat(), "last": early.iloc[-1].date().isoformat(),
            "start": found.start.date().isoformat(), "accounts": ids}
    log.warning("accounts: %s started %s, more than a year before any other account (next start %s), "
                "e.g. %s: %s tenure is unknown, left out of the survival tables", count(said["rows"], "account"),
                said["first"] if said["first"] == said["last"] else f"{said['first']} to {said['last']}",
                said["start"], ids, count(said["rows"], "=its", "=their"))
    return aside, said


def observation_start(processed: str | Path) -> pd.Timestamp | None:
    """First date the processed data covers: the earlier of the first subscription month and the first event day
    (see :func:`observation_window`)."""
    return observation_window(processed)[0]


def value_at(subscriptions: pd.DataFrame, dates: pd.Series | pd.Timestamp, column: str = "mrr",
             id_col: str = "account_id", period_col: str = "period_start", *, side: str = "before") -> pd.Series:
    """Each account's ``column`` in one of its subscription periods, chosen by a date.

    ``dates`` is one date for all accounts or a Series of dates indexed by ``account_id``.

    side : {"before", "from"}
        ``"before"``: the latest period starting before the date (the state known on that date).
        ``"from"``: the period in effect on the date (it starts on or before it and the account's next period
        starts after it; the last period is taken to last a month), else the first period after it: the
        state when an account *enters* the data, which is what a covariate of a survival model from entry
        must be (a value taken at the end of follow-up is, for a churner, its state on the way out).
    """
    if side not in ("before", "from"):
        raise ValueError(f"side must be 'before' or 'from', not {side!r}")
    subs = subscriptions[[id_col, period_col, column]].copy()
    subs[period_col] = to_utc(subs[period_col])
    if side == "from":
        subs = subs.sort_values([id_col, period_col])
        nxt = subs.groupby(id_col)[period_col].shift(-1)
        subs["_end"] = nxt.fillna(subs[period_col] + pd.DateOffset(months=1))
    if isinstance(dates, pd.Series):
        d = to_utc(dates).rename("at").rename_axis(id_col).reset_index()
        subs = subs.merge(d, on=id_col)
        at = subs["at"]
    else:
        at = to_utc(dates)
    if side == "before":
        last = subs[subs[period_col] < at].sort_values(period_col).groupby(id_col).tail(1)
    else:
        last = subs[subs["_end"] > at].sort_values(period_col).groupby(id_col).head(1)
    return last.set_index(id_col)[column]


# ------------------------------------------------------------------------------------- start/stop rows
def panel_to_start_stop(panel: pd.DataFrame, lt: pd.DataFrame, covariates: list[str], *,
                        id_col: str = "account_id", time_col: str = "as_of", start_col: str = "start_date",
                        end_col: str = "end_date", as_of=None) -> pd.DataFrame:
    """Long start/stop rows for a time-varying Cox model from an account x observation-date panel.

    Each panel row (covariates measured from data *before* ``as_of``) covers tenure from its ``as_of``
    to the account's next ``as_of`` (or its churn, or the observation end): ``start``/``stop`` in months of
    tenure, ``event = 1`` on the interval in which the account churned. Rows after churn are dropped.

    Parameters
    ----------
    panel : DataFrame
        ``account_id, as_of`` and the covariate columns.
    lt : DataFrame
        :func:`lifetimes` output (gives ``start_date``, ``end_date``; ``as_of`` caps the last interval).
    as_of : date, optional
        Observation end; default the latest panel date plus one period (so the last row has a length). No
        interval runs past it, and rows on or after it are dropped: the lifetimes cut at a churn stop keep the
        panel's later dates out of the follow-up.
    """
    need = {id_col, time_col, *covariates}
    lacking = sorted(need - set(panel.columns))
    if lacking:
        raise ValueError(f"panel lacks {'column' if len(lacking) == 1 else 'columns'} {lacking}")
    acc = lt[[id_col, start_col, end_col]].drop_duplicates(id_col)
    df = panel[[id_col, time_col, *covariates]].merge(acc, on=id_col, how="inner")
    df[time_col] = to_utc(df[time_col])
    df = df.sort_values([id_col, time_col]).reset_index(drop=True)
    start = to_utc(df[start_col])
    end = to_utc(df[end_col])
    nxt = df.groupby(id_col)[time_col].shift(-1)
    if as_of is None:
        step = df[time_col].drop_duplicates().sort_values().diff().median()
        obs_end = df[time_col].max() + (step if pd.notna(step) else pd.Timedelta(days=31))
    else:
        obs_end = to_utc(as_of)
    # no interval runs past the observation end: cut at a churn stop, a row's next date may lie beyond it
    nxt = nxt.fillna(obs_end).where(lambda d: d <= obs_end, obs_end)
    churn_in = end.notna() & (end > df[time_col]) & (end <= nxt)
    stop_ts = nxt.where(~churn_in, end)
    alive = (end.isna() | (end > df[time_col])) & (df[time_col] >= start)
    out = pd.DataFrame({
        id_col: df[id_col],
        "start": months_between(start, df[time_col]).astype(float),
        "stop": months_between(start, stop_ts).astype(float),
        EVENT: churn_in.astype(int),
        time_col: df[time_col],
    })
    for c in covariates:
        out[c] = df[c].to_numpy()
    out = out[alive & (out["stop"] > out["start"])]
    return out.reset_index(drop=True)


def simulator_start_stop(raw_dir: str | Path) -> pd.DataFrame:
    """Start/stop rows of the simulator's own per-account-month covariates (``true_hazard.parquet``).

    The simulator measures ``active_ratio, feature_breadth, tickets, nps_centered`` over calendar month
    ``t`` and draws churn during month ``t + 1``: the covariates are known at the end of month ``t``, which
    is their observation date here. Adds ``log1p_tickets`` (the true model uses it) and the
    account's ``segment``. Used by the tests and the README benchmark to check recovery of the truth.
    """
    raw = Path(raw_dir)
    th = pd.read_parquet(raw / "true_hazard.parquet")
    accounts = pd.read_csv(raw / "accounts.csv").drop_duplicates("account_id")
    th = th[th["churned_next_month"].notna()].copy()
    # known at the very end of month t, so that a churn on the first day of month t + 1 falls in this row
    th["as_of"] = to_utc(th["month"]) + pd.offsets.MonthBegin(1) - pd.Timedelta(seconds=1)
    th["log1p_tickets"] = np.log1p(th["tickets"])
    th = th.merge(accounts[["account_id", "segment"]], on="account_id")
    covs = ["active_ratio", "feature_breadth", "tickets", "log1p_tickets", "nps_centered", "segment"]
    obs_end = th["as_of"].max() + pd.Timedelta(seconds=1) + pd.offsets.MonthBegin(1)
    ss = panel_to_start_stop(th, accounts, covs, as_of=obs_end)
    for c in ("active_ratio", "feature_breadth", "log1p_tickets", "nps_centered"):
        ss[c] = ss[c].astype(float)
    return ss


# ------------------------------------------------------------------------------------ person-period rows
def person_period(df: pd.DataFrame, covariates: list[str], *, width: float = 1.0, duration: str = DURATION,
                  event: str = EVENT, entry: str | None = ENTRY, id_col: str | None = None) -> pd.DataFrame:
    """Expand one row per account into one row per period of ``width`` months at risk (discrete time).

    Period ``k`` covers tenure ``[k w, (k + 1) w)``; the account contributes the periods from the one
    containing ``entry`` to the one containing ``duration``; ``event = 1`` only in its last period when it
    churned. Columns: ``id`` (or ``id_col``), ``period``, ``start``, ``stop``, ``event`` and the covariates.
    """
    ids = df[id_col].to_numpy() if id_col else np.arange(len(df))
    d = df[duration].to_numpy(float)
    e0 = df[entry].to_numpy(float) if entry and entry in df else np.zeros(len(df))
    first = np.floor(e0 / width).astype(int)
    last = np.maximum(np.ceil(d / width).astype(int) - 1, first)
    n = last - first + 1
    rows = np.repeat(np.arange(len(df)), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    period = first[rows] + offset
    is_last = period == last[rows]
    out = pd.DataFrame({
        id_col or "id": ids[rows],
        "period": period,
        "start": np.maximum(period * width, e0[rows]),
        "stop": np.minimum((period + 1) * width, d[rows]),
        event: (is_last & (df[event].to_numpy()[rows] == 1)).astype(int),
    })
    for c in covariates:
        out[c] = df[c].to_numpy()[rows]
    return out


# ----------------------------------------------------------------------------------- out-of-time split
def out_of_time(accounts: pd.DataFrame, cutoff, as_of, observed_from=None, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on what was known at ``cutoff``; test on what happened to the accounts alive then.

    Returns ``(train, test)``: ``train`` = :func:`lifetimes` as of ``cutoff``; ``test`` = the accounts active
    at ``cutoff`` with ``t0`` (tenure at the cutoff), ``time`` (months from the cutoff to churn or to
    ``as_of``) and ``event`` (churned in ``(cutoff, as_of]``). Covariates must be measured at or before the
    cutoff (e.g. MRR with :func:`value_at`), never from the later data.
    """
    cutoff, as_of = to_utc(cutoff), to_utc(as_of)
    if not cutoff < as_of:
        raise ValueError(f"cutoff {cutoff.date()} must be before as_of {as_of.date()}")
    train = lifetimes(accounts, cutoff, observed_from, **kw)
    later = lifetimes(accounts, as_of, observed_from, **kw)
    alive = train.loc[train[EVENT] == 0, ["account_id", DURATION]].rename(columns={DURATION: "t0"})
    test = later.merge(alive, on="account_id")
    test["time"] = test[DURATION] - test["t0"]
    test = test[test["time"] > 0].reset_index(drop=True)
    return train, test


# ------------------------------------------------------------------------------------------ covariates
def nps_category(score: pd.Series) -> pd.Series:
    """promoter (9-10), passive (7-8), detractor (0-6) of a (mean) NPS score; missing stays missing."""
    cat = np.select([score >= 9, score >= 7, score >= 0], ["promoter", "passive", "detractor"], "")
    return pd.Series(cat, index=score.index).replace("", pd.NA)


def first_nps(surveys: pd.DataFrame, lt: pd.DataFrame, *, wave_days: int = 30, as_of=None) -> pd.DataFrame:
    """Each account's NPS category at its first NPS wave, and the tenure at which it became known.

    The wave is every NPS answer of the account within ``wave_days`` of its first; its mean score gives the
    category. Grouping survival by a category known only later would credit the group with the time the
    account had to survive to answer (immortal-time bias), so ``nps_entry`` = max(entry, tenure at the
    answer) is the entry to use for curves by NPS category. Accounts that never answered get
    ``no_answer`` and their usual entry.
    """
    s = surveys[surveys["survey_type"] == "nps"][["account_id", "submitted_at", "score"]].copy()
    s["submitted_at"] = to_utc(s["submitted_at"])
    if as_of is not None:
        s = s[s["submitted_at"] < to_utc(as_of)]
    first = s.groupby("account_id")["submitted_at"].transform("min")
    wave = s[s["submitted_at"] <= first + pd.Timedelta(days=wave_days)]
    agg = wave.groupby("account_id").agg(nps_first=("score", "mean"), nps_at=("submitted_at", "min"))
    out = lt[["account_id", "start_date", ENTRY, DURATION]].merge(agg, on="account_id", how="left")
    answered = out["nps_at"].notna()
    tenure = months_between(to_utc(out["start_date"]), out["nps_at"])
    out["nps_category"] = nps_category(out["nps_first"]).where(answered, "no_answer")
    out["nps_entry"] = np.where(answered, np.maximum(out[ENTRY], tenure), out[ENTRY])
    return out[["account_id", "nps_first", "nps_category", "nps_entry"]]


def split_start_stop(ss: pd.DataFrame, cutoff, *, id_col: str = "account_id", time_col: str = "as_of"
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out-of-time split of start/stop rows at a calendar date.

    ``train``: the rows observed before ``cutoff``, the interval that straddles it cut at the cutoff (and its
    churn, if later, not counted). ``test``: one *landmark* row per account still a customer at the cutoff,
    with the covariates of its last row observed before it, ``t0`` (tenure at the cutoff), ``time`` (months
    from the cutoff to churn or the end of follow-up) and ``event``.
    """
    cutoff = to_utc(cutoff)
    ts = to_utc(ss[time_col])
    before = ts < cutoff
    tenure_cut = ss["start"] + months_between(ts, cutoff)
    train = ss[before].copy()
    cut = tenure_cut[before]
    straddle = train["stop"] > cut
    train.loc[straddle, EVENT] = 0
    train.loc[straddle, "stop"] = cut[straddle]
    train = train[train["stop"] > train["start"]]
    last = ss[before].assign(t0=tenure_cut[before]).sort_values(time_col).groupby(id_col).tail(1)
    final = ss.sort_values(time_col).groupby(id_col).agg(final_stop=("stop", "last"), final_event=(EVENT, "max"))
    test = last.merge(final, left_on=id_col, right_index=True)
    test = test[test["final_stop"] > test["t0"]].copy()  # still a customer at the cutoff
    test["time"] = test["final_stop"] - test["t0"]
    test[EVENT] = test["final_event"].astype(int)
    return train.reset_index(drop=True), test.drop(columns=["final_stop", "final_event"]).reset_index(drop=True)
