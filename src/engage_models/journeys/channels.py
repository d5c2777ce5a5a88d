"""Touches by channel and device, before and after the contract start, and which of them precede expansion
or churn.

* :func:`touch_summary`: per phase (``before_start``: the ``lookback_days`` before the contract started, for
  accounts whose whole approach lies in the data; ``after_start``: while a customer), channel and device,
  the touches and the share of accounts touched.
* :func:`device_mix`: the share of product events and of accounts per device over a window.
* :func:`outcomes_by_exposure`: one row per exposure (a channel touched, a device used, the device most of
  an account's events came from) with the share that churned and the share that expanded, among the
  accounts exposed and the others, each with a Wilson interval, Fisher's exact test and Benjamini-Hochberg
  q-values. After the start, exposure is measured in the ``lookback_days`` before a landmark date and the
  outcome within the horizon after it; before the start, exposure is the approach and the outcome comes
  within ``outcome_days`` of the start. One row per account in each comparison, so the intervals need no
  clustering correction. These are associations: an exposure may only mark accounts that were going to
  stay anyway (an engaged customer both attends webinars and renews).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from .._core.io import parquet_columns, parquet_files, parquet_source
from .._core.stats import benjamini_hochberg, wilson_interval
from .._core.time import to_utc

PHASES = ("before_start", "after_start")
UNKNOWN = "unknown"


def _recorded(path: Path, column: str) -> bool:
    """``column`` is in the table and holds a value somewhere, by the row groups' statistics (no scan): an
    optional column the source did not have is written all missing by ingest. A table stored in parts is
    recorded when any part is; without statistics, assumed recorded."""
    import pyarrow.parquet as pq

    for f in parquet_files(path):
        meta = pq.ParquetFile(f).metadata
        names = [meta.schema.column(j).path for j in range(meta.num_columns)]  # the path: a struct's child is not
        if column not in names:
            continue
        j = names.index(column)
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            st = rg.column(j).statistics
            if st is None or not st.has_null_count or st.null_count < rg.num_rows:
                return True
    return False


def _in_windows(processed: Path, windows: pd.DataFrame, until, query: str) -> pd.DataFrame | None:
    """``query`` run on ``inside``: the touches before ``until`` that fall in a window of their account
    (``windows``: account_id, phase, lo, hi; ``lo <= timestamp < hi``, no ``hi``: no end), with account_id,
    phase, channel and device (missing: ``unknown``). None without a touchpoints file.

    The touches stay in DuckDB, joined and counted there: read into pandas, the 5.2M touches of a 16,000-account
    company took 0.5 GB as Arrow strings (1.45 GB as Python objects), and joining them to the accounts on text
    keys took 7 of the channel sections' 11 s."""
    path = processed / "touchpoints.parquet"
    if not path.exists():
        return None
    device = "coalesce(CAST(device AS VARCHAR), $unknown)" if "device" in parquet_columns(path) else "$unknown"
    w = windows[["account_id", "phase", "lo", "hi"]].astype({"account_id": str, "phase": str})
    for col in ("lo", "hi"):  # instants in UTC on both sides
        w[col] = pd.to_datetime(w[col], utc=True).astype("datetime64[us, UTC]")
    sql = (f"WITH inside AS (SELECT CAST(t.account_id AS VARCHAR) AS account_id, w.phase, t.channel, "
           f"{device} AS device FROM read_parquet($p, hive_partitioning = false) t JOIN windows w "
           "ON CAST(t.account_id AS VARCHAR) = w.account_id "
           "WHERE t.timestamp < $until AND t.timestamp >= w.lo AND (w.hi IS NULL OR t.timestamp < w.hi)) " + query)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")  # a timestamp without a zone is UTC, as the contract reads it
        con.register("windows", w)
        return con.execute(sql, {"p": parquet_source(path), "until": to_utc(until), "unknown": UNKNOWN}).df()


def _accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    a = accounts[["account_id", "start_date", "end_date"]].copy()
    a["start_date"] = pd.to_datetime(a["start_date"], utc=True)
    a["end_date"] = pd.to_datetime(a["end_date"], utc=True)
    return a


def _window(account_id, phase: str, lo, hi) -> pd.DataFrame:
    """Windows of :func:`_in_windows` (a missing ``lo`` leaves the account out)."""
    out = pd.DataFrame({"account_id": np.asarray(account_id), "phase": phase})
    for col, v in (("lo", lo), ("hi", hi)):  # a date per account, or one for all
        out[col] = pd.to_datetime(v.to_numpy() if isinstance(v, pd.Series) else v, utc=True)
    return out


def touch_summary(processed: str | Path, accounts: pd.DataFrame, data_start, as_of,
                  lookback_days: int = 90) -> pd.DataFrame:
    """Touches per phase, channel and device: ``touches``, ``accounts`` touched, ``share`` of the phase's
    accounts (before the start: accounts started at least ``lookback_days`` after the data begin, so that
    their approach is in the data; after: accounts that were customers at some time in the data)."""
    processed = Path(processed)
    as_of, data_start = to_utc(as_of), to_utc(data_start)
    a = _accounts(accounts)
    look = pd.Timedelta(days=lookback_days)
    seen = a["start_date"] >= data_start + look  # the whole approach is in the data
    windows = pd.concat([_window(a.loc[seen, "account_id"], "before_start", a.loc[seen, "start_date"] - look,
                                 a.loc[seen, "start_date"]),
                         _window(a["account_id"], "after_start", a["start_date"], a["end_date"])], ignore_index=True)
    base = {"before_start": int((seen & (a["start_date"] < as_of)).sum()),
            "after_start": int(((a["start_date"] < as_of)
                                & (a["end_date"].isna() | (a["end_date"] > data_start))).sum())}
    cols = ["phase", "channel", "device", "touches", "accounts", "phase_accounts", "share"]
    out = _in_windows(processed, windows, as_of,
                      "SELECT phase, channel, device, count(*) AS touches, count(DISTINCT account_id) AS accounts "
                      "FROM inside WHERE channel IS NOT NULL GROUP BY ALL")
    if out is None or out.empty:
        return pd.DataFrame(columns=cols)
    out["phase_accounts"] = out["phase"].map(base)
    out["share"] = out["accounts"] / out["phase_accounts"].where(out["phase_accounts"] > 0)
    order = {p: i for i, p in enumerate(PHASES)}
    # by phase, most touches first, ties by channel and device
    out = out.sort_values(["channel", "device"], kind="stable")
    out = out.assign(_p=out["phase"].map(order)).sort_values(["_p", "touches"], ascending=[True, False],
                                                             kind="stable")
    return out[cols].astype({"channel": object, "device": object, "touches": "int64", "accounts": "int64",
                             "phase_accounts": "int64"}).reset_index(drop=True)


def device_mix(processed: str | Path, since, until) -> pd.DataFrame:
    """Product events in ``[since, until)`` per device: events, share of events, accounts using it.

    Empty when no event of the window records a device (no column, a column ingest wrote all missing, or only
    missing values in the window): a single row "unknown 100%" would be true and say nothing."""
    path = Path(processed) / "events.parquet"
    cols = ["device", "events", "share", "accounts"]
    if not path.exists() or not _recorded(path, "device"):
        return pd.DataFrame(columns=cols)
    with duckdb.connect() as con:
        df = con.execute("SELECT coalesce(CAST(device AS VARCHAR), $u) AS device, count(*) AS events, "
                         "count(DISTINCT account_id) AS accounts FROM read_parquet($p, hive_partitioning = false) "
                         "WHERE timestamp >= $s AND timestamp < $e GROUP BY 1 ORDER BY 2 DESC, 1",
                         {"p": parquet_source(path), "s": to_utc(since), "e": to_utc(until), "u": UNKNOWN}).df()
    if not (df["device"] != UNKNOWN).any():
        return pd.DataFrame(columns=cols)
    df["share"] = df["events"] / df["events"].sum()
    return df[cols]


def events_by_device(processed: str | Path, since, until) -> pd.DataFrame:
    """Per account, events per device in ``[since, until)`` (wide: one column per device); empty without a
    ``device`` column."""
    path = Path(processed) / "events.parquet"
    if not path.exists() or not _recorded(path, "device"):  # never recorded: no device to count (nor to scan for)
        return pd.DataFrame(columns=["account_id"])
    with duckdb.connect() as con:
        df = con.execute("SELECT account_id, coalesce(CAST(device AS VARCHAR), $u) AS device, count(*) AS n "
                         "FROM read_parquet($p,"
                         " hive_partitioning = false) WHERE timestamp >= $s AND timestamp < $e GROUP BY 1, 2",
                         {"p": parquet_source(path), "s": to_utc(since), "e": to_utc(until), "u": UNKNOWN}).df()
    if df.empty:
        return pd.DataFrame(columns=["account_id"])
    return df.pivot_table(index="account_id", columns="device", values="n", fill_value=0).reset_index()


def _main_device(wide: pd.DataFrame) -> pd.DataFrame:
    """The exposures ``main_device``: per account of ``wide`` (:func:`events_by_device`), the device most of its
    events came from. Among the devices recorded only: "unknown" is no device (as for the touches), and an
    account none of whose events has one has no main device (else "main device: unknown" compared the accounts
    with events against those without)."""
    devs = wide.drop(columns=["account_id", UNKNOWN], errors="ignore")
    if not len(wide) or not devs.shape[1]:
        return pd.DataFrame(columns=["account_id", "kind", "value"])
    known = (devs.sum(axis=1) > 0).to_numpy()
    return pd.DataFrame({"account_id": wide["account_id"].to_numpy()[known], "kind": "main_device",
                         "value": devs[known].idxmax(axis=1).to_numpy()})


def mobile_share(processed: str | Path, since, until) -> pd.Series:
    """Share of each account's events in ``[since, until)`` that came from a phone (index: account_id)."""
    wide = events_by_device(processed, since, until)
    if wide.empty or "mobile" not in wide:
        return pd.Series(dtype=float, name="mobile_share")
    total = wide.drop(columns="account_id").sum(axis=1)
    return pd.Series((wide["mobile"] / total.where(total > 0)).to_numpy(), index=wide["account_id"],
                     name="mobile_share")


def mrr_at(subscriptions: pd.DataFrame, when: pd.Series) -> pd.Series:
    """MRR of each account at its own date (the latest subscription month starting before it), aligned to
    ``when`` (a Series of dates indexed by account_id); NaN when none."""
    s = subscriptions[["account_id", "period_start", "mrr"]].copy()
    s["period_start"] = pd.to_datetime(s["period_start"], utc=True).astype("datetime64[ns, UTC]")
    q = pd.DataFrame({"account_id": when.index.to_numpy(),
                      "at": pd.to_datetime(when.to_numpy(), utc=True).astype("datetime64[ns, UTC]")})
    q = q.reset_index(names="_row").sort_values("at", kind="stable")
    s = s.sort_values("period_start", kind="stable")
    m = pd.merge_asof(q, s, left_on="at", right_on="period_start", by="account_id", allow_exact_matches=False)
    return pd.Series(m.sort_values("_row")["mrr"].to_numpy(), index=when.index)


def _rate(k: int, n: int) -> tuple[float, float, float]:
    lo, hi = wilson_interval(k, n)
    return (k / n if n else np.nan), float(lo), float(hi)


def _compare_rows(base: pd.DataFrame, exposures: pd.DataFrame, phase: str, min_n: int) -> list[dict]:
    """``base``: account_id, churned (0/1), expanded (0/1 or NaN); ``exposures``: account_id, kind, value."""
    rows = []
    ids = base["account_id"].astype(str)  # ids as text on both sides: the touches' and events' ids come as text
    for (kind, value), g in exposures.groupby(["kind", "value"], sort=True):
        exposed = ids.isin(g["account_id"].astype(str))
        n1, n0 = int(exposed.sum()), int((~exposed).sum())
        if n1 < min_n or n0 < min_n:
            continue
        row = {"phase": phase, "kind": kind, "value": value, "n_with": n1, "n_without": n0}
        for outcome in ("churned", "expanded"):
            y = base[outcome]
            ok = y.notna()
            k1, m1 = int(y[exposed & ok].sum()), int((exposed & ok).sum())
            k0, m0 = int(y[~exposed & ok].sum()), int((~exposed & ok).sum())
            for side, (k, m) in (("with", (k1, m1)), ("without", (k0, m0))):
                r, lo, hi = _rate(k, m)
                row.update({f"{outcome}_{side}": r, f"{outcome}_{side}_low": lo, f"{outcome}_{side}_high": hi})
            row[f"{outcome}_p"] = (float(stats.fisher_exact([[k1, m1 - k1], [k0, m0 - k0]])[1])
                                   if min(m1, m0) > 0 else np.nan)
        rows.append(row)
    return rows


def _exposures(processed: Path, windows: pd.DataFrame, until) -> pd.DataFrame:
    """account_id, kind, value: each channel touched and each device touched from (``touch_device``) in the
    account's window, once per account."""
    cols = ["account_id", "kind", "value"]
    out = _in_windows(processed, windows, until,
                      "SELECT DISTINCT account_id, 'channel' AS kind, channel AS value FROM inside "
                      "WHERE channel IS NOT NULL UNION SELECT DISTINCT account_id, 'touch_device', device FROM inside "
                      "WHERE device <> $unknown")
    return pd.DataFrame(columns=cols) if out is None else out[cols].astype(object)


def before_start_cohort(accounts: pd.DataFrame, data_start, outcome_end, lookback_days: int = 90,
                        outcome_days: int = 365) -> pd.DataFrame:
    """The accounts :func:`outcomes_by_exposure` compares before the start (indexed by ``account_id``): started at
    least ``lookback_days`` after the data begin, their first ``outcome_days`` over by ``outcome_end`` (the last day
    an outcome may reach)."""
    a = _accounts(accounts).set_index("account_id")
    start = a["start_date"]
    return a[(start >= to_utc(data_start) + pd.Timedelta(days=lookback_days))
             & (start + pd.Timedelta(days=outcome_days) <= to_utc(outcome_end))]


def outcomes_by_exposure(processed: str | Path, accounts: pd.DataFrame, subscriptions: pd.DataFrame | None,
                         panel: pd.DataFrame, data_start, as_of, horizon_days: int, lookback_days: int = 90,
                         outcome_days: int = 365, min_n: int = 10, *, outcome_end=None) -> pd.DataFrame:
    """Which channels and devices precede churn or expansion (see the module docstring).

    After the start, the landmark is the latest panel date whose churn label is known (``churned_within_h``
    observed for the whole horizon, by ``outcome_end``); the accounts are the customers at that date; *expanded*
    means MRR at the end of the horizon above MRR at the landmark (not churned). Before the start, the accounts are
    those started at least ``lookback_days`` after the data begin and ``outcome_days`` before ``outcome_end``
    (:func:`before_start_cohort`); *expanded* compares MRR ``outcome_days`` after the start with the first month's.

    ``outcome_end``: the last day an outcome may reach, ``as_of`` by default; where the accounts' churn stops before
    the data end, the stop (:func:`engage_models.pipeline.stages.label_end`, with the panel of
    :func:`~engage_models.pipeline.stages.known_labels`): churn after it is not recorded, so every account there
    would look retained.
    """
    processed = Path(processed)
    as_of, data_start = to_utc(as_of), to_utc(data_start)
    outcome_end = as_of if outcome_end is None else min(as_of, to_utc(outcome_end))
    a = _accounts(accounts).set_index("account_id")
    rows = []
    # after the start: a landmark with a known outcome
    labelled = panel[panel["churned_within_h"].notna()
                     & (pd.to_datetime(panel["as_of"], utc=True) + pd.Timedelta(days=horizon_days) <= outcome_end)]
    if len(labelled):
        landmark = pd.to_datetime(labelled["as_of"], utc=True).max()
        now = labelled[pd.to_datetime(labelled["as_of"], utc=True) == landmark]
        base = pd.DataFrame({"account_id": now["account_id"].to_numpy(),
                             "churned": now["churned_within_h"].astype(float).to_numpy()})
        base["expanded"] = np.nan
        if subscriptions is not None and len(subscriptions):
            ids = pd.Index(base["account_id"])
            before = mrr_at(subscriptions, pd.Series(landmark, index=ids))
            after = mrr_at(subscriptions, pd.Series(landmark + pd.Timedelta(days=horizon_days), index=ids))
            base["expanded"] = np.where(before.notna().to_numpy() & after.notna().to_numpy(),
                                        ((after > before).to_numpy() & (base["churned"] == 0).to_numpy()), np.nan)
        since = landmark - pd.Timedelta(days=lookback_days)
        start = a["start_date"]
        exp = [_exposures(processed, _window(a.index, "after_start", start.where(start.isna() | (start > since), since),
                                             landmark), landmark)]
        exp.append(_main_device(events_by_device(processed, since, landmark)))
        exposures = pd.concat(exp, ignore_index=True).drop_duplicates()
        for r in _compare_rows(base, exposures, "after_start", min_n):
            r["landmark"] = landmark
            rows.append(r)
    # before the start: the approach, and the first year
    cohort = before_start_cohort(accounts, data_start, outcome_end, lookback_days, outcome_days)
    if len(cohort):
        end = cohort["start_date"] + pd.Timedelta(days=outcome_days)
        churned = (cohort["end_date"].notna() & (cohort["end_date"] <= end)).astype(float)
        base = pd.DataFrame({"account_id": cohort.index.to_numpy(), "churned": churned.to_numpy()})
        base["expanded"] = np.nan
        if subscriptions is not None and len(subscriptions):
            first = mrr_at(subscriptions, cohort["start_date"] + pd.Timedelta(days=31))
            later = mrr_at(subscriptions, end)
            base["expanded"] = np.where(first.notna().to_numpy() & later.notna().to_numpy(),
                                        ((later > first).to_numpy() & (churned == 0).to_numpy()), np.nan)
        exposures = _exposures(processed, _window(cohort.index, "before_start", cohort["start_date"] - pd.Timedelta(
            days=lookback_days), cohort["start_date"]), as_of)
        for r in _compare_rows(base, exposures, "before_start", min_n):
            r["outcome_days"] = outcome_days
            rows.append(r)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    for outcome in ("churned", "expanded"):
        out[f"{outcome}_q"] = np.nan
        for phase in PHASES:
            sel = out["phase"] == phase
            if sel.any():
                out.loc[sel, f"{outcome}_q"] = benjamini_hochberg(out.loc[sel, f"{outcome}_p"].to_numpy(float))
    return out
