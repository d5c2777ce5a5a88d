"""Business KPIs: MRR movements and bridge, logo and revenue churn, GRR/NRR, cohort retention, continuation
rate, DAU/MAU and the active-account rate.

These work in pandas on small tables: ``accounts`` (one row per account), the optional ``subscriptions``
(one row per account and month) and the account x period ``panel`` (one row per account and observation
date). They stay small however many events there are; the panel itself is computed by the engine.

Definitions shared by every function
------------------------------------
Customer
    An account is a customer on day ``d`` iff ``start_date <= d < end_date`` (``end_date`` empty: still a
    customer). Dates are compared as UTC calendar days.
Month close
    Monthly figures are snapshots at the close of each calendar month: an account counts in month ``m``'s
    closing figures iff it is a customer on the last day of ``m``. Movements of month ``m`` compare the close
    of ``m - 1`` with the close of ``m``, so an account whose ``end_date`` falls in ``m`` is a churn of ``m``
    (logo and MRR alike), and one whose ``start_date`` falls in ``m`` is new business of ``m``.
MRR of a customer at a month close
    With ``subscriptions``: the ``mrr`` of its row for that month (``period_start`` in the month; the latest
    row if there are several). A customer month without a row carries the account's latest earlier row
    forward (before its first row: its first row). An account without any row falls back to
    ``accounts.mrr``. Without ``subscriptions``: ``accounts.mrr`` in every month the account is a customer,
    so **expansion and contraction are invisible** (always 0) and GRR = 1 - MRR churn rate.
Observation window
    ``observed_from`` is the first month from which the data are complete (every account that started or
    churned from then on is in ``accounts``, and MRR is known). Default: the first subscription month, or,
    without subscriptions, the month before the earliest ``start_date``; either leaves out dates long before the
    rest of their table (:func:`kpi_start`: one subscription month mistyped as 1924 stretched every monthly
    table back a century), and subscription rows so set aside give no MRR. Monthly movements and rates start
    the month after it (they need the close of the month before); cohorts and the continuation rate take
    the accounts that started in it or later (older accounts may be there only because they survived).
    ``as_of``: months are reported when their close is on or before it. Default: the close of the last
    subscription month, or, without subscriptions, the latest ``start_date``/``end_date``; months after the
    last subscription month are never reported (their MRR is not known).

A customer whose ``accounts`` row allows only one start and one end cannot come back, so there is no
"reactivation" movement: a returning customer appears as a new account (new business).

Rates are fractions (0.05 = 5%); money is in the unit of ``mrr``.

Examples
--------
>>> import pandas as pd
>>> from engage_models.kpis import mrr_bridge
>>> ts = lambda s: pd.Timestamp(s, tz="UTC")
>>> accounts = pd.DataFrame({"account_id": ["a", "b"], "mrr": [100.0, 50.0],
...                          "start_date": [ts("2024-01-05"), ts("2024-02-10")],
...                          "end_date": [pd.NaT, ts("2024-03-15")]})
>>> b = mrr_bridge(accounts, as_of="2024-04-01")
>>> b[["start_mrr", "new", "churn", "end_mrr"]].to_numpy().tolist()
[[0.0, 100.0, 0.0, 100.0], [100.0, 50.0, 0.0, 150.0], [150.0, 0.0, 50.0, 100.0]]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._core.i18n import count
from .._core.reasons import Thin, date_of
from .._core.stats import wilson_interval
from .._core.time import DataStart, account_starts, bulk_start, day_counts, naive_utc, to_utc

log = logging.getLogger(__name__)

#: KPI columns that are fractions (plotted on a percent axis).
RATIO_COLUMNS = frozenset({
    "logo_churn_rate", "revenue_churn_rate", "gross_revenue_churn_rate", "net_revenue_churn_rate",
    "grr", "nrr", "grr_12m", "nrr_12m", "retention", "revenue_retention", "continuation_rate",
    "active_account_rate", "dau_mau",
})  # fmt: skip
MOVEMENTS = ("new", "expansion", "contraction", "churn")
#: The rates whose frames carry their interval as ``ci_low``/``ci_high`` (one rate a frame: ``logo_churn``,
#: ``continuation``, ``engagement_over_time``); another column of those frames (``dau_mau``) has no interval there.
INTERVAL_COLUMNS = frozenset({"logo_churn_rate", "continuation_rate", "active_account_rate"})
_DAYS_28 = 28.0
#: The headline KPIs measured from the events (through the panel): without events (a header-only events file)
#: the others, from accounts and subscriptions, are computed and these are said to be missing
#: (:func:`~engage_models.kpis.views.events_note`).
EVENT_KPIS = ("dau_mau", "active_account_rate")


# --------------------------------------------------------------------------------------------- loading
# --------------------------------------------------------------------------------------------- helpers
def _month_start(ts) -> pd.Timestamp:
    ts = to_utc(ts).tz_localize(None)
    return ts.to_period("M").to_timestamp()


def _aware(index) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(index).tz_localize("UTC")


@dataclass
class _Grid:
    """Accounts x month closes: ``status`` (customer at the close) and ``mrr`` (0 where not a customer)."""

    account_id: np.ndarray
    months: pd.DatetimeIndex  # naive UTC month starts, first = observed_from
    status: np.ndarray  # bool (accounts, months)
    mrr: np.ndarray  # float (accounts, months)
    start_day: pd.Series
    end_day: pd.Series
    source: str  # "subscriptions" or "accounts"
    as_of: pd.Timestamp  # naive UTC

    def month_index(self, months: pd.Series) -> np.ndarray:
        """Position of each month in the grid; -1 before it or empty, ``len(months)`` after it."""
        grid = self.months.to_numpy().astype("datetime64[ns]")
        m = pd.to_datetime(months).to_numpy().astype("datetime64[ns]")
        pos = np.searchsorted(grid, m)
        inside = (pos < len(grid)) & (grid[np.minimum(pos, len(grid) - 1)] == m)
        return np.where(np.isnat(m), -1, np.where(inside, pos, np.where(pos == 0, -1, len(grid))))


def _subscriptions_or_none(subscriptions: pd.DataFrame | None) -> pd.DataFrame | None:
    if subscriptions is None or len(subscriptions) == 0:
        return None
    return subscriptions


def _start(start_day: pd.Series, subs: pd.DataFrame | None) -> tuple[DataStart, str, str]:
    """Where the dates of the table that sets the default window begin, the table and its date column."""
    table, column, dates = (("subscriptions", "period_start", subs["period_start"]) if subs is not None
                            else ("accounts", "start_date", start_day))
    found = bulk_start(day_counts(dates)) if subs is not None else account_starts(day_counts(dates))
    if found.start is None:
        raise ValueError(f"{table}.{column} holds no date")
    return found, table, column


def kpi_start(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None) -> tuple[pd.Timestamp, dict | None]:
    """The default ``observed_from`` (a month start, UTC) and the rows set aside to find it.

    The first subscription month, or without subscriptions the month before the earliest ``start_date``, once
    rows dated long before the rest of that table are set aside (:func:`~engage_models._core.time.bulk_start`: more
    than a year with no row at all after them, at most 1% of the table). A set-aside subscription row gives no
    MRR either (its month is unknown); a set-aside account stays a customer, from the first month on. The second
    value says what was set aside (a :meth:`~engage_models._core.time.DataStart.said` dict, None when nothing
    was), for the run's notes.

    >>> ts = lambda s: pd.Timestamp(s, tz="UTC")
    >>> subs = pd.DataFrame({"account_id": ["a"] * 200, "mrr": 10.0,
    ...                      "period_start": [ts("1924-05-01")] + [ts("2024-01-01")] * 99 + [ts("2024-02-01")] * 100})
    >>> first, said = kpi_start(pd.DataFrame({"start_date": [ts("2023-11-20")]}), subs)
    >>> first.date(), said["rows"], said["first"], said["start"]
    (datetime.date(2024, 1, 1), 1, '1924-05-01', '2024-01-01')
    """
    subs = _subscriptions_or_none(subscriptions)
    acc = accounts.drop_duplicates("account_id") if "account_id" in accounts else accounts
    found, table, column = _start(naive_utc(acc["start_date"]), subs)
    return _first_month(found, subs is not None).tz_localize("UTC"), found.said(table, column)


def _first_month(found: DataStart, subscriptions: bool) -> pd.Timestamp:
    month = found.start.tz_localize(None).to_period("M").to_timestamp()
    return month if subscriptions else month - pd.DateOffset(months=1)


def _grid(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, as_of=None,
          observed_from=None) -> _Grid:
    missing = {"account_id", "start_date", "end_date", "mrr"} - set(accounts.columns)
    if missing:
        raise ValueError(f"accounts lacks the {count(len(missing), '=column', '=columns')} {sorted(missing)}")
    subs = _subscriptions_or_none(subscriptions)
    if subs is not None and ({"account_id", "period_start", "mrr"} - set(subs.columns)):
        raise ValueError("subscriptions needs the columns account_id, period_start and mrr")
    acc = accounts.drop_duplicates("account_id").reset_index(drop=True)
    start_day = naive_utc(acc["start_date"]).dt.floor("D")
    end_day = naive_utc(acc["end_date"]).dt.floor("D")
    if start_day.isna().any():
        raise ValueError("accounts.start_date must not be empty")

    found, _, _ = _start(start_day, subs)
    if subs is not None:
        sub_day = naive_utc(subs["period_start"]).dt.floor("D")
        subs = subs[(sub_day >= found.start.tz_localize(None)).to_numpy()]  # the rows set aside give no MRR
        sub_month = naive_utc(subs["period_start"]).dt.to_period("M").dt.to_timestamp()
        first_default, last_sub = _first_month(found, True), sub_month.max()
    else:
        first_default = _first_month(found, False)
        last_sub = None
    as_of_default = _default_as_of(start_day, end_day, last_sub)
    first = _month_start(observed_from) if observed_from is not None else first_default
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(as_of_default)
    as_of_ts = to_utc(as_of_ts).tz_localize(None)
    last = as_of_ts.to_period("M").to_timestamp() - pd.DateOffset(months=1)  # last month whose close <= as_of
    if last_sub is not None:
        last = min(last, last_sub)
    if last < first:
        raise Thin("reason.no_complete_month", first=date_of(first, month_only=True), as_of=date_of(as_of_ts))
    months = pd.date_range(first, last, freq="MS")
    closes = (months + pd.DateOffset(months=1)).to_numpy()

    s, e = start_day.to_numpy()[:, None], end_day.to_numpy()[:, None]
    status = (s < closes[None, :]) & (np.isnat(e) | (e >= closes[None, :]))

    base = pd.to_numeric(acc["mrr"], errors="coerce")
    if base.isna().any():
        log.warning("%s as 0 MRR where no subscription row gives it",
                    count(int(base.isna().sum()), "# account without mrr counts", "# accounts without mrr count"))
    mrr = np.repeat(base.fillna(0.0).to_numpy()[:, None], len(months), axis=1)
    if subs is not None:
        rows = pd.DataFrame({"account_id": subs["account_id"].to_numpy(), "month": sub_month.to_numpy(),
                             "ts": naive_utc(subs["period_start"]).to_numpy(),
                             "mrr": pd.to_numeric(subs["mrr"], errors="coerce").to_numpy()})
        rows = rows.dropna(subset=["mrr"]).sort_values(["account_id", "ts"]).drop_duplicates(
            ["account_id", "month"], keep="last")
        all_months = pd.date_range(min(first, rows["month"].min()), max(last, rows["month"].max()), freq="MS")
        wide = rows.pivot(index="account_id", columns="month", values="mrr").reindex(columns=all_months)
        wide = wide.ffill(axis=1).bfill(axis=1).reindex(columns=months)
        wide = wide.reindex(acc["account_id"])
        has_rows = acc["account_id"].isin(rows["account_id"]).to_numpy()
        mrr[has_rows] = wide.to_numpy()[has_rows]
    mrr = np.where(status, mrr, 0.0)
    return _Grid(acc["account_id"].to_numpy(), months, status, mrr, start_day, end_day,
                 "subscriptions" if subs is not None else "accounts", as_of_ts)


def _default_as_of(start_day: pd.Series, end_day: pd.Series, last_sub: pd.Timestamp | None) -> pd.Timestamp:
    """The close of the last subscription month, else the latest start or end day (naive UTC)."""
    if last_sub is not None:
        return last_sub + pd.DateOffset(months=1)
    return max(start_day.max(), end_day.max()) if end_day.notna().any() else start_day.max()


def default_as_of(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None) -> pd.Timestamp:
    """The observation date accounts and subscriptions alone give (UTC midnight): the close of the last
    subscription month (subscription rows dated long before the rest set aside, as :func:`kpi_start` does), else
    the latest ``start_date`` or ``end_date``. Every KPI function takes it when given no ``as_of``; a run whose
    events table is empty has no last event to take its observation date from, and takes this one.

    >>> ts = lambda s: pd.Timestamp(s, tz="UTC")
    >>> acc = pd.DataFrame({"account_id": ["a", "b"], "start_date": [ts("2024-01-05"), ts("2024-02-10")],
    ...                     "end_date": [pd.NaT, ts("2024-03-15")]})
    >>> subs = pd.DataFrame({"account_id": ["a", "a"], "period_start": [ts("2024-01-01"), ts("2024-04-01")]})
    >>> default_as_of(acc, subs).isoformat(), default_as_of(acc).isoformat()
    ('2024-05-01T00:00:00+00:00', '2024-03-15T00:00:00+00:00')
    """
    subs = _subscriptions_or_none(subscriptions)
    acc = accounts.drop_duplicates("account_id") if "account_id" in accounts else accounts
    start_day = naive_utc(acc["start_date"]).dt.floor("D")
    end_day = naive_utc(acc["end_date"]).dt.floor("D")
    last_sub = None
    if subs is not None:
        found, _, _ = _start(start_day, subs)
        sub_day = naive_utc(subs["period_start"]).dt.floor("D")
        kept = sub_day[(sub_day >= found.start.tz_localize(None)).to_numpy()]
        last_sub = kept.dt.to_period("M").dt.to_timestamp().max()
    return pd.Timestamp(_default_as_of(start_day, end_day, last_sub)).tz_localize("UTC")


def _with_source(df: pd.DataFrame, grid: _Grid) -> pd.DataFrame:
    df.attrs["mrr_source"] = grid.source
    return df


# ----------------------------------------------------------------------------------------- MRR
def monthly_mrr(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, as_of=None,
                observed_from=None) -> pd.DataFrame:
    """MRR of every customer at every month close of the observation window.

    Returns one row per account and month in which the account is a customer at the month's close:
    ``account_id``, ``month`` (first day of the month, UTC), ``mrr``. See the module docstring for how the MRR
    of a customer month is chosen. ``.attrs["mrr_source"]`` says ``"subscriptions"`` or ``"accounts"``.
    """
    g = _grid(accounts, subscriptions, as_of, observed_from)
    i, j = np.nonzero(g.status)
    out = pd.DataFrame({"account_id": g.account_id[i], "month": _aware(g.months[j]), "mrr": g.mrr[i, j]})
    return _with_source(out.sort_values(["month", "account_id"], ignore_index=True), g)


def _movement_arrays(g: _Grid):
    was, now = g.status[:, :-1], g.status[:, 1:]
    start, end = g.mrr[:, :-1], g.mrr[:, 1:]
    stay = was & now
    new = np.where(~was & now, end, 0.0)
    churn = np.where(was & ~now, start, 0.0)
    expansion = np.where(stay, np.maximum(end - start, 0.0), 0.0)
    contraction = np.where(stay, np.maximum(start - end, 0.0), 0.0)
    return was, now, start, end, new, expansion, contraction, churn


def mrr_movements(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, as_of=None,
                  observed_from=None) -> pd.DataFrame:
    """MRR movements per account and month.

    For account ``i`` and month ``m``, with ``S`` its MRR at the close of ``m - 1`` and ``E`` at the close
    of ``m`` (0 when it is not a customer then):

    * ``new = E`` if it was not a customer at the close of ``m - 1`` and is at the close of ``m``;
    * ``churn = S`` if it was a customer at the close of ``m - 1`` and is not at the close of ``m``
      (its ``end_date`` lies in ``m``);
    * ``expansion = max(E - S, 0)`` and ``contraction = max(S - E, 0)`` if it is a customer at both closes;

    so that ``E - S = new + expansion - contraction - churn`` for every row.

    Returns
    -------
    DataFrame
        ``account_id``, ``month``, ``start_mrr`` (S), ``end_mrr`` (E), ``new``, ``expansion``,
        ``contraction``, ``churn``, ``movement`` (``new``, ``expansion``, ``contraction``, ``churn`` or
        ``flat``): one row per account and month in which it is a customer at either close.
    """
    g = _grid(accounts, subscriptions, as_of, observed_from)
    was, now, start, end, new, exp, con, churn = _movement_arrays(g)
    i, j = np.nonzero(was | now)
    out = pd.DataFrame({
        "account_id": g.account_id[i], "month": _aware(g.months[1:][j]),
        "start_mrr": start[i, j], "end_mrr": end[i, j],
        "new": new[i, j], "expansion": exp[i, j], "contraction": con[i, j], "churn": churn[i, j],
    })  # fmt: skip
    kind = np.select(
        [~was[i, j], ~now[i, j], out["expansion"].to_numpy() > 0, out["contraction"].to_numpy() > 0],
        ["new", "churn", "expansion", "contraction"], "flat")
    out["movement"] = kind
    return _with_source(out.sort_values(["month", "account_id"], ignore_index=True), g)


def mrr_bridge(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, as_of=None,
               observed_from=None) -> pd.DataFrame:
    """The MRR bridge per month: ``start_mrr + new + expansion - contraction - churn = end_mrr``.

    Sums of :func:`mrr_movements` per month. ``start_mrr`` is the MRR of the customers at the close of the
    month before, ``end_mrr`` at the close of the month; ``net_new_mrr = end_mrr - start_mrr``.

    Returns
    -------
    DataFrame
        ``month``, ``start_mrr``, ``new``, ``expansion``, ``contraction``, ``churn``, ``end_mrr``,
        ``net_new_mrr``, ``customers_start``, ``customers_end``: one row per month of the window.
    """
    g = _grid(accounts, subscriptions, as_of, observed_from)
    was, now, start, end, new, exp, con, churn = _movement_arrays(g)
    out = pd.DataFrame({
        "month": _aware(g.months[1:]), "start_mrr": start.sum(0), "new": new.sum(0), "expansion": exp.sum(0),
        "contraction": con.sum(0), "churn": churn.sum(0), "end_mrr": end.sum(0),
    })  # fmt: skip
    out["net_new_mrr"] = out["end_mrr"] - out["start_mrr"]
    out["customers_start"], out["customers_end"] = was.sum(0), now.sum(0)
    return _with_source(out, g)


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def revenue_retention(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, as_of=None,
                      observed_from=None) -> pd.DataFrame:
    """Monthly revenue retention and revenue churn, new business excluded.

    With ``S`` = MRR at the close of the month before (``start_mrr``) and the month's movements of
    :func:`mrr_movements` from the customers counted in ``S`` (new business is never in them):

    * ``grr = (S - contraction - churn) / S``: gross revenue retention. Each account contributes at most its
      own starting MRR, so ``0 <= grr <= 1`` by construction;
    * ``nrr = (S + expansion - contraction - churn) / S``: net revenue retention; above 1 when expansion
      outweighs what was lost;
    * ``revenue_churn_rate = churn / S``: MRR of the customers who left, as a share of starting MRR;
    * ``gross_revenue_churn_rate = (churn + contraction) / S = 1 - grr``;
    * ``net_revenue_churn_rate = (churn + contraction - expansion) / S = 1 - nrr`` (negative when expansion
      outweighs churn and contraction).

    All rates are empty when ``S = 0``. Without subscriptions expansion and contraction are 0, so
    ``grr = nrr = 1 - revenue_churn_rate``.

    Returns
    -------
    DataFrame
        ``month``, ``start_mrr``, ``expansion``, ``contraction``, ``churn``, ``grr``, ``nrr``,
        ``revenue_churn_rate``, ``gross_revenue_churn_rate``, ``net_revenue_churn_rate``.
    """
    b = mrr_bridge(accounts, subscriptions, as_of=as_of, observed_from=observed_from)
    out = b[["month", "start_mrr", "expansion", "contraction", "churn"]].copy()
    s = out["start_mrr"]
    out["grr"] = _ratio(s - out["contraction"] - out["churn"], s)
    out["nrr"] = _ratio(s + out["expansion"] - out["contraction"] - out["churn"], s)
    out["revenue_churn_rate"] = _ratio(out["churn"], s)
    out["gross_revenue_churn_rate"] = _ratio(out["churn"] + out["contraction"], s)
    out["net_revenue_churn_rate"] = _ratio(out["churn"] + out["contraction"] - out["expansion"], s)
    out.attrs = b.attrs
    return out


def trailing_revenue_retention(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *,
                               months: int = 12, as_of=None, observed_from=None) -> pd.DataFrame:
    """GRR and NRR over the trailing ``months`` months, for the cohort of customers at the window's start.

    For the window ending at the close of month ``m``: the cohort is the accounts that were customers at the
    close of ``m - months``, with ``S_i`` their MRR then and ``E_i`` their MRR at the close of ``m`` (0 if they
    have left). Accounts that joined inside the window are excluded (new business).

    * ``nrr_<months>m = sum_i E_i / sum_i S_i``;
    * ``grr_<months>m = sum_i min(E_i, S_i) / sum_i S_i``: each account counts at most its starting MRR, so
      a later expansion never hides an earlier contraction of the same account; ``<= 1`` by construction.

    The comparison is of the two closes only: an account that contracted and re-expanded inside the window
    counts at its net change. Months without a full window in the data have no row.

    Returns
    -------
    DataFrame
        ``month`` (the window's last month), ``cohort_accounts``, ``retained_accounts``, ``start_mrr``,
        ``end_mrr``, ``retained_mrr`` (sum of the minima), ``grr_<months>m``, ``nrr_<months>m``.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    g = _grid(accounts, subscriptions, as_of, observed_from)
    rows = []
    for j in range(months, len(g.months)):
        cohort = g.status[:, j - months]
        s, e = g.mrr[cohort, j - months], g.mrr[cohort, j]
        rows.append({"month": g.months[j], "cohort_accounts": int(cohort.sum()),
                     "retained_accounts": int((cohort & g.status[:, j]).sum()),
                     "start_mrr": s.sum(), "end_mrr": e.sum(), "retained_mrr": np.minimum(s, e).sum()})
    cols = ["month", "cohort_accounts", "retained_accounts", "start_mrr", "end_mrr", "retained_mrr"]
    out = pd.DataFrame(rows, columns=cols)
    out["month"] = _aware(out["month"])
    out[f"grr_{months}m"] = _ratio(out["retained_mrr"], out["start_mrr"])
    out[f"nrr_{months}m"] = _ratio(out["end_mrr"], out["start_mrr"])
    return _with_source(out, g)


# ----------------------------------------------------------------------------------------- logos
def logo_churn(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, as_of=None,
               observed_from=None, level: float = 0.95) -> pd.DataFrame:
    """Logo churn per month, with a Wilson interval.

    ``logo_churn_rate = churned / accounts_start``, where ``accounts_start`` is the number of customers at
    the close of the month before and ``churned`` how many of them have their ``end_date`` in the month.
    ``new`` counts accounts that started in the month and are still customers at its close, so
    ``accounts_start + new - churned = accounts_end``. Accounts that start and end inside the same month
    are never at a close: they are counted apart in ``started_and_churned`` and in neither rate term; so are
    those that end on their start day (a one-time buyer whose churn date is its only purchase), which were left
    out of every count (:func:`~engage_models.kpis.views.unseen_note` says them in report 02). Those of the first
    month, which has no row, are counted in ``attrs["started_and_churned_first"]`` (with ``attrs["first_month"]``).
    ``ci_low``/``ci_high``: Wilson score interval (:func:`wilson_interval`) of the rate at ``level``.
    ``subscriptions`` only sets the default observation window (see the module docstring).

    Returns
    -------
    DataFrame
        ``month``, ``accounts_start``, ``new``, ``churned``, ``accounts_end``, ``started_and_churned``,
        ``logo_churn_rate``, ``ci_low``, ``ci_high``.
    """
    g = _grid(accounts, subscriptions, as_of, observed_from)
    was, now = g.status[:, :-1], g.status[:, 1:]
    start_m = g.month_index(g.start_day.dt.to_period("M").dt.to_timestamp())
    end_m = g.month_index(g.end_day.dt.to_period("M").dt.to_timestamp())
    same = (start_m == end_m) & (g.end_day >= g.start_day).to_numpy() & (start_m >= 1) & (start_m < len(g.months))
    out = pd.DataFrame({
        "month": _aware(g.months[1:]), "accounts_start": was.sum(0), "new": (~was & now).sum(0),
        "churned": (was & ~now).sum(0), "accounts_end": now.sum(0),
        "started_and_churned": np.bincount(start_m[same] - 1, minlength=len(g.months) - 1),
    })  # fmt: skip
    out["logo_churn_rate"] = _ratio(out["churned"], out["accounts_start"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["churned"], out["accounts_start"], level)
    first = int(((start_m == end_m) & (g.end_day >= g.start_day).to_numpy() & (start_m == 0)).sum())
    if first:  # the first month has no row (no close before it): its accounts that came and went, kept aside
        out.attrs.update(started_and_churned_first=first, first_month=_aware(g.months[:1])[0])
    return out


def cohort_retention(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, as_of=None,
                     observed_from=None, max_months: int | None = None) -> pd.DataFrame:
    """Retention of each start-month cohort, k months after its start month, right-censored.

    The cohort of month ``c`` is the accounts whose ``start_date`` falls in ``c`` (``c`` not before
    ``observed_from``). For ``k = 0, 1, ...``:

    * ``retention = retained / accounts``: the share of the cohort that is a customer at the close of month
      ``c + k`` (``k = 0``: the close of the start month; below 1 only when accounts left in their first
      month);
    * ``revenue_retention = mrr / start_mrr``: the cohort's MRR at the close of ``c + k`` over its MRR at the
      close of ``c`` (expansion can lift it above 1; empty when ``start_mrr`` is 0).

    A cell exists only when the close of ``c + k`` is observed (on or before ``as_of``): cells not yet
    observable have no row, and are empty (NaN), not zero, in :func:`cohort_matrix`.

    Returns
    -------
    DataFrame
        ``cohort`` (month), ``months_since_start`` (k), ``accounts``, ``retained``, ``retention``,
        ``start_mrr``, ``mrr``, ``revenue_retention``.
    """
    g = _grid(accounts, subscriptions, as_of, observed_from)
    cohort_pos = g.month_index(g.start_day.dt.to_period("M").dt.to_timestamp())
    n_months = len(g.months)
    rows = []
    for c in np.unique(cohort_pos[(cohort_pos >= 0) & (cohort_pos < n_months)]):
        members = cohort_pos == c
        start_mrr = g.mrr[members, c].sum()
        last_k = n_months - 1 - c if max_months is None else min(n_months - 1 - c, max_months)
        for k in range(last_k + 1):
            retained = int(g.status[members, c + k].sum())
            mrr = g.mrr[members, c + k].sum()
            rows.append({"cohort": g.months[c], "months_since_start": k, "accounts": int(members.sum()),
                         "retained": retained, "start_mrr": start_mrr, "mrr": mrr})
    cols = ["cohort", "months_since_start", "accounts", "retained", "start_mrr", "mrr"]
    out = pd.DataFrame(rows, columns=cols)
    out["cohort"] = _aware(out["cohort"])
    out.insert(4, "retention", _ratio(out["retained"], out["accounts"]))
    out["revenue_retention"] = _ratio(out["mrr"], out["start_mrr"])
    return _with_source(out, g)


def cohort_matrix(cohorts: pd.DataFrame, value: str = "retention") -> pd.DataFrame:
    """:func:`cohort_retention` as a matrix: one row per cohort, one column per ``months_since_start``.

    Cells that are not yet observable are NaN (never 0).
    """
    if cohorts.empty:
        return pd.DataFrame()
    wide = cohorts.pivot(index="cohort", columns="months_since_start", values=value)
    return wide.reindex(columns=range(int(cohorts["months_since_start"].max()) + 1))


def continuation_rate(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, *, months: int = 12,
                      as_of=None, observed_from=None, by: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Share of accounts that were still customers ``months`` months after their start (first renewal).

    Eligible: accounts that started on or after ``observed_from`` (older ones may be in the data only
    because they survived) and whose mark ``start_date + months`` (calendar months, day precision) is on or
    before ``as_of``, so that the outcome is observed. Continued: eligible accounts that are customers on
    the day of the mark (``end_date`` empty or after it).

    ``continuation_rate = continued / eligible`` with a Wilson interval (``ci_low``, ``ci_high``), overall or
    per value of the accounts column ``by`` (e.g. ``"segment"``).

    Returns
    -------
    DataFrame
        [``by``], ``eligible``, ``continued``, ``continuation_rate``, ``ci_low``, ``ci_high``.
    """
    g = _grid(accounts, subscriptions, as_of, observed_from)
    acc = accounts.drop_duplicates("account_id").reset_index(drop=True)
    mark = g.start_day + pd.DateOffset(months=months)
    eligible = (g.start_day >= g.months[0]) & (mark <= g.as_of)
    continued = eligible & (g.end_day.isna() | (g.end_day > mark))
    frame = pd.DataFrame({"eligible": eligible.astype(int), "continued": continued.astype(int)})
    if by is not None:
        frame[by] = acc[by].to_numpy()
        out = frame.groupby(by, sort=True, dropna=False)[["eligible", "continued"]].sum().reset_index()
    else:
        out = frame[["eligible", "continued"]].sum().to_frame().T
    out["continuation_rate"] = _ratio(out["continued"], out["eligible"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["continued"], out["eligible"], level)
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------- usage
def engagement_over_time(panel: pd.DataFrame, by: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Portfolio DAU/MAU and active-account rate per observation date of the panel.

    For each ``as_of`` (and group ``by``), over the panel's accounts (customers at that date):

    * ``dau_mau = (sum user_days_28d / 28) / sum active_users_28d``: average daily active users over the
      last 28 days divided by the distinct users active in them, pooled over accounts (so large accounts
      weigh by their users; 0 when nobody was active, as in the registry's per-account ``dau_mau``);
    * ``active_account_rate = active_accounts / accounts``, an account being active when
      ``active_users_28d > 0``; ``ci_low``/``ci_high`` is its Wilson interval.

    Returns
    -------
    DataFrame
        ``as_of``, [``by``], ``accounts``, ``active_accounts``, ``active_account_rate``, ``ci_low``,
        ``ci_high``, ``user_days_28d``, ``active_users_28d``, ``dau_mau``.
    """
    need = {"account_id", "as_of", "user_days_28d", "active_users_28d"}
    if need - set(panel.columns):
        raise ValueError(f"panel lacks the {count(len(need - set(panel.columns)), '=column', '=columns')} "
                         f"{sorted(need - set(panel.columns))}")
    keys = ["as_of"] + ([by] if by else [])
    p = panel.assign(_active=(panel["active_users_28d"].fillna(0) > 0).astype(int))
    out = p.groupby(keys, sort=True, dropna=False).agg(
        accounts=("account_id", "nunique"), active_accounts=("_active", "sum"),
        user_days_28d=("user_days_28d", "sum"), active_users_28d=("active_users_28d", "sum"),
    ).reset_index()
    out.insert(len(keys) + 2, "active_account_rate", _ratio(out["active_accounts"], out["accounts"]))
    lo, hi = wilson_interval(out["active_accounts"], out["accounts"], level)
    out.insert(len(keys) + 3, "ci_low", lo)
    out.insert(len(keys) + 4, "ci_high", hi)
    dau = out["user_days_28d"] / _DAYS_28
    out["dau_mau"] = np.where(out["active_users_28d"] > 0, _ratio(dau, out["active_users_28d"]), 0.0)
    return out


# ----------------------------------------------------------------------------------------- summary
def months_until(as_of=None, churn_until=None):
    """The observation date the monthly KPIs run to: ``churn_until`` (the day the accounts' churn stops being
    recorded, :func:`~engage_models.ingest.quality.churn_stop`) when it is before ``as_of`` (or ``as_of`` is None),
    else ``as_of``. Every monthly table ends with the last month whose close is on or before it, so no month counts
    churn that was not recorded: past a stop, a month read 0 churn, 100% retention and customers who had left.

    >>> months_until("2024-12-31", "2024-08-23")
    Timestamp('2024-08-23 00:00:00')
    >>> months_until("2024-12-31") , months_until(None, "2024-08-23")
    ('2024-12-31', Timestamp('2024-08-23 00:00:00'))
    """
    if churn_until is None:
        return as_of
    stop = to_utc(pd.Timestamp(churn_until)).tz_localize(None)
    if as_of is None:
        return stop
    return min(stop, to_utc(pd.Timestamp(as_of)).tz_localize(None))


def kpi_summary(accounts: pd.DataFrame, subscriptions: pd.DataFrame | None = None, panel: pd.DataFrame | None = None,
                *, as_of=None, observed_from=None, level: float = 0.95, churn_until=None) -> pd.DataFrame:
    """Headline KPIs of the latest complete month, with the previous month and the change.

    Rows (``kpi``): ``customers`` and ``mrr_total`` (at the month's close), ``net_new_mrr``,
    ``logo_churn_rate`` (with its Wilson interval), ``revenue_churn_rate``, ``gross_revenue_churn_rate``,
    ``grr``, ``nrr``, ``grr_12m`` and ``nrr_12m`` (when 12 months of history exist), ``continuation_rate``
    (as of each month's close, with its Wilson interval) and, given a ``panel``, ``dau_mau`` and
    ``active_account_rate`` (Wilson interval) at its latest and previous observation dates on or before
    ``as_of``. ``change = value - previous`` (for rates: a difference in proportion points). ``churn_until``: the
    day the accounts' churn stops being recorded (:func:`~engage_models.ingest.quality.churn_stop`): the month
    KPIs end with the last month closed by then (:func:`months_until`), the panel's still run to ``as_of``.

    Returns
    -------
    DataFrame
        ``kpi``, ``period`` (month, or observation date for panel KPIs), ``value``, ``previous``, ``change``,
        ``ci_low``, ``ci_high``, ``unit`` (``count``, ``currency`` or ``ratio``).
    """
    months_as_of = months_until(as_of, churn_until)
    bridge = mrr_bridge(accounts, subscriptions, as_of=months_as_of, observed_from=observed_from)
    if len(bridge) < 1:
        raise Thin("reason.no_headline_month")
    churn = logo_churn(accounts, subscriptions, as_of=months_as_of, observed_from=observed_from, level=level)
    rr = revenue_retention(accounts, subscriptions, as_of=months_as_of, observed_from=observed_from)
    tr = trailing_revenue_retention(accounts, subscriptions, as_of=months_as_of, observed_from=observed_from)
    last = bridge["month"].iloc[-1]
    rows = []

    def add(kpi, frame, col, unit, period_col="month", ci=None):
        frame = frame.dropna(subset=[col])
        if frame.empty:
            return
        cur = frame.iloc[-1]
        prev = frame.iloc[-2][col] if len(frame) > 1 else np.nan
        rows.append({"kpi": kpi, "period": cur[period_col], "value": cur[col], "previous": prev,
                     "change": cur[col] - prev, "ci_low": cur[ci[0]] if ci else np.nan,
                     "ci_high": cur[ci[1]] if ci else np.nan, "unit": unit})

    add("customers", churn, "accounts_end", "count")
    add("mrr_total", bridge, "end_mrr", "currency")
    add("net_new_mrr", bridge, "net_new_mrr", "currency")
    add("logo_churn_rate", churn, "logo_churn_rate", "ratio", ci=("ci_low", "ci_high"))
    for col in ("revenue_churn_rate", "gross_revenue_churn_rate", "grr", "nrr"):
        add(col, rr, col, "ratio")
    for col in ("grr_12m", "nrr_12m"):
        add(col, tr, col, "ratio")
    closes = [m + pd.DateOffset(months=1) for m in bridge["month"].iloc[-2:]]
    cont = pd.concat([continuation_rate(accounts, subscriptions, as_of=c, observed_from=observed_from, level=level)
                      .assign(month=c - pd.DateOffset(months=1)) for c in closes], ignore_index=True)
    add("continuation_rate", cont, "continuation_rate", "ratio", ci=("ci_low", "ci_high"))
    if panel is not None and len(panel):
        eng = engagement_over_time(panel, level=level)
        if as_of is not None:
            cutoff = pd.Timestamp(as_of)
            cutoff = to_utc(cutoff)
            eng = eng[pd.to_datetime(eng["as_of"], utc=True) <= cutoff]
        add("dau_mau", eng, "dau_mau", "ratio", period_col="as_of")
        add("active_account_rate", eng, "active_account_rate", "ratio", period_col="as_of", ci=("ci_low", "ci_high"))
    out = pd.DataFrame(rows, columns=["kpi", "period", "value", "previous", "change", "ci_low", "ci_high", "unit"])
    out.attrs["month"] = last
    out.attrs["mrr_source"] = bridge.attrs.get("mrr_source")
    return out


