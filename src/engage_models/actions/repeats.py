"""What a data folder's earlier runs already sent: score alerts and CRM tasks are not sent again.

A scheduled run (weekly, say) compares each account's score now with the latest month start at least 14 days
earlier (:func:`engage_models.health.history.comparison_dates`), so the same fall was listed again on every run
until the next month start, and the CRM files held a task for every account-play on every run: a year of weekly
runs repeated 12 of 70 score alerts and 772 of 1,245 tasks. This module keeps the **ledger** of what was sent
(``artifacts/sent.json`` in the data folder, beside ``run_dates.json``) and leaves the repeats out:

* :func:`new_score_alerts` keeps a score alert unless the same account got the same kind of alert
  (``score_drop``, ``into_red``) from an earlier run within ``days`` days, that alert was raised after the date the
  fall is measured from now (it saw part of the same fall), and the account has not got materially worse since:
  its score is not more than ``drop`` points below the score alerted then, and its band is not lower;
* :func:`engage_models.actions.export.crm_tasks` writes a task unless the same account and play got a task
  from an earlier run within ``days`` days.

Which earlier runs count (:func:`sent_before`): those whose observation date is before this run's and that
were recorded before this date's first run. A run again on the same date therefore sees what its first run saw
and gives the same alerts and tasks; a backfill (an earlier date run later) is not suppressed by the later runs,
and those runs, run again, do not see the backfill.

Examples
--------
>>> import pandas as pd
>>> alerts = pd.DataFrame({"account_id": ["a", "b"],
...     "as_of": pd.Timestamp("2025-01-22", tz="UTC"), "previous_as_of": pd.Timestamp("2025-01-01", tz="UTC"),
...     "score": [58.0, 40.0], "band": ["yellow", "yellow"], "alert": ["score_drop", "score_drop"]})
>>> told = pd.DataFrame({"as_of": pd.Timestamp("2025-01-15", tz="UTC"), "account_id": ["a", "b"],
...     "kind": "score_drop", "score": [60.0, 55.0], "band": "yellow",
...     "previous_as_of": pd.Timestamp("2025-01-01", tz="UTC")})
>>> news, repeats = new_score_alerts(alerts, told, drop=10, days=45)
>>> news["account_id"].tolist(), repeats["account_id"].tolist()   # b fell 15 more points since: news
(['b'], ['a'])
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pandas as pd

from .._core.i18n import count
from .._core.io import read_json, write_text
from .._core.time import to_utc

log = logging.getLogger(__name__)

#: The ledger's file name, in the data folder's ``artifacts/``.
LEDGER = "sent.json"
#: What the ledger keeps of each score alert sent (one row per kind) and of each task exported.
ALERT_FIELDS = ("as_of", "account_id", "kind", "score", "band", "previous_as_of")
TASK_FIELDS = ("as_of", "account_id", "play", "task_key")
#: Bands from the best to the worst: "a band lower" is a higher rank.
BAND_RANK = {"green": 0, "yellow": 1, "red": 2}
#: Entries older than this many days before the newest recorded run are dropped from the ledger.
KEEP_DAYS = 400


# ------------------------------------------------------------------------------------------------- ledger
def _empty() -> dict:
    return {"version": 1, "next": 1, "runs": {}, "alerts": [], "tasks": []}


def read_ledger(path: str | Path) -> dict:
    """The ledger at ``path``: ``runs`` (observation date -> the order of its first recording), ``alerts`` and
    ``tasks`` (lists of ``[order, *ALERT_FIELDS]`` / ``[order, *TASK_FIELDS]``). Empty when absent or unreadable
    (a damaged ledger costs repeats, never a run)."""
    path = Path(path)
    if not path.is_file():
        return _empty()
    try:
        data = read_json(path)
        out = {"version": 1, "next": int(data["next"]), "runs": {str(k): int(v) for k, v in data["runs"].items()},
               "alerts": [list(r) for r in data["alerts"]], "tasks": [list(r) for r in data["tasks"]]}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("%s is unreadable (%s): earlier runs' alerts and tasks are not known this run", path, exc)
        return _empty()
    return out


def _day(value) -> str:
    return f"{to_utc(value):%Y-%m-%d}"


def sent_before(ledger: dict, as_of, *, alert_days: int, task_days: int) -> dict[str, pd.DataFrame]:
    """What earlier runs sent that may make this run's alerts and tasks repeats.

    Entries count when their run's observation date is before ``as_of`` and within ``alert_days`` /
    ``task_days`` of it (0: none count), and, when ``as_of`` was run before, when they were recorded before its
    first run (a rerun sees what the first run saw; a backfill recorded later is not seen by it).

    Returns
    -------
    dict
        ``alerts`` (:data:`ALERT_FIELDS`) and ``tasks`` (:data:`TASK_FIELDS`), dates as UTC timestamps.
    """
    now = to_utc(as_of)
    first = ledger["runs"].get(_day(now))

    def frame(rows, fields, days):
        # the entries of the window's days only, compared as YYYY-MM-DD text, before any parsing: a year of weekly
        # runs at 16,000 accounts holds about 114,000 entries, of which the windows use a tenth
        start, end = _day(now - pd.Timedelta(days=days)), _day(now)
        df = pd.DataFrame([r[1:] for r in rows if start <= r[1] <= end and (first is None or r[0] < first)],
                          columns=list(fields))
        for c in ("as_of", "previous_as_of"):
            if c in df:
                df[c] = pd.to_datetime(df[c], utc=True)
        if "score" in df:
            df["score"] = df["score"].astype(float)
        age = (now - df["as_of"]) / pd.Timedelta(days=1)
        keep = (df["as_of"] < now) & (age < days)
        return df[keep].sort_values(list(fields), kind="stable").reset_index(drop=True)

    return {"alerts": frame(ledger["alerts"], ALERT_FIELDS, alert_days),
            "tasks": frame(ledger["tasks"], TASK_FIELDS, task_days)}


def digest(sent: dict[str, pd.DataFrame]) -> dict:
    """A short summary of :func:`sent_before`'s result for the stage's key and manifest: the runs it holds,
    the counts and a hash of the entries (a change in what counts recomputes the stage)."""
    runs = sorted({_day(d) for df in sent.values() for d in df["as_of"]})
    text = json.dumps({k: df.astype(str).to_numpy().tolist() for k, df in sorted(sent.items())}, sort_keys=True)
    return {"runs": runs, "alerts": len(sent["alerts"]), "tasks": len(sent["tasks"]),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def record_sent(path: str | Path, as_of, *, alerts: pd.DataFrame | None, tasks: pd.DataFrame | None,
                keep_days: int = KEEP_DAYS) -> dict:
    """Add what the run of ``as_of`` sent to the ledger at ``path`` and write it: the score alerts listed (one
    entry per kind) and the tasks exported (``status`` new, see :func:`~engage_models.actions.export.crm_tasks`).

    A run again on a recorded date keeps the order of its first recording and adds only entries not already
    there. Entries more than ``keep_days`` before the newest recorded date are dropped. Returns the ledger."""
    ledger = read_ledger(path)
    day, order = _day(as_of), ledger["next"]
    ledger["runs"].setdefault(day, order)
    ledger["next"] = order + 1
    new_alerts = []
    if alerts is not None and len(alerts):
        for row in alerts.itertuples(index=False):
            for kind in str(row.alert).split(";"):
                new_alerts.append([day, str(row.account_id), kind, round(float(row.score), 4), str(row.band),
                                   _day(row.previous_as_of)])
    new_tasks = []
    if tasks is not None and len(tasks):
        shown = tasks[tasks["status"] == "new"]
        new_tasks = [[day, str(a), str(p), str(k)] for a, p, k in
                     zip(shown["account_id"], shown["play"], shown["task_key"], strict=True)]
    for name, rows in (("alerts", new_alerts), ("tasks", new_tasks)):
        have = {tuple(r[1:]) for r in ledger[name]}
        ledger[name] += [[order, *r] for r in rows if tuple(r) not in have]
    newest = max(ledger["runs"])
    cutoff = _day(to_utc(newest) - pd.Timedelta(days=keep_days))
    ledger["runs"] = {d: o for d, o in sorted(ledger["runs"].items()) if d >= cutoff}
    for name in ("alerts", "tasks"):
        ledger[name] = [r for r in ledger[name] if r[1] >= cutoff]
    # compact: indented JSON put every field on a line of its own; at 16,000 accounts a year of weekly runs (about
    # 96,000 tasks and 18,000 alerts) was a 15 MB file that took 2-3 s to write on every run (now 10 MB, 0.3 s)
    write_text(Path(path), json.dumps(ledger, ensure_ascii=False, separators=(",", ":")) + "\n")
    return ledger


# ------------------------------------------------------------------------------------------------- alerts
#: Columns :func:`new_score_alerts` adds to the alerts it leaves out.
REPEAT_COLUMNS = ("told_on", "told_score", "told_band")


def new_score_alerts(alerts: pd.DataFrame, told: pd.DataFrame | None, *, drop: float,
                     days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split :func:`~engage_models.health.history.score_alerts` into the alerts that are news and the repeats.

    An alert's kind (``score_drop``, ``into_red``) repeats when ``told`` (earlier runs' alerts, see
    :func:`sent_before`) holds an alert of that kind for the account

    * raised before this one's date and less than ``days`` days before it,
    * after the date this alert's fall is measured from (``previous_as_of``): it saw part of the same fall
      (a fall measured from a later date is a new one, as after a recovery),

    and the account has not got materially worse since: its score is not more than ``drop`` points below the
    lowest score alerted then, and its band is not lower than the lowest band alerted then. An alert is left out
    when each of its kinds repeats; one with a kind that is news is kept whole (with all its reasons).

    Returns
    -------
    (DataFrame, DataFrame)
        The alerts kept (``alerts``' rows and ``attrs``), and those left out with :data:`REPEAT_COLUMNS`: the
        date of the latest earlier alert that covers it, the lowest score and the lowest band alerted.
    """
    empty_repeats = alerts.iloc[:0].assign(told_on=pd.Series(dtype="datetime64[ns, UTC]"),
                                           told_score=pd.Series(dtype=float), told_band=pd.Series(dtype=object))
    if told is None or told.empty or alerts.empty or days <= 0:
        return alerts, empty_repeats
    pairs = alerts[["account_id", "as_of", "previous_as_of", "score", "band", "alert"]].copy()
    pairs["_row"] = range(len(pairs))
    pairs["kind"] = pairs["alert"].astype(str).str.split(";")
    pairs = pairs.explode("kind")
    earlier = told.rename(columns={"as_of": "told_on", "score": "told_score", "band": "told_band"})
    earlier = earlier.assign(told_rank=earlier["told_band"].map(BAND_RANK))
    m = pairs.merge(earlier[["account_id", "kind", "told_on", "told_score", "told_rank"]], on=["account_id", "kind"])
    now, since = to_utc(m["as_of"]), to_utc(m["previous_as_of"])
    age = (now - m["told_on"]) / pd.Timedelta(days=1)
    m = m[(m["told_on"] < now) & (age < days) & (m["told_on"] > since)]
    ref = m.groupby(["_row", "kind"], as_index=False).agg(told_on=("told_on", "max"),
                                                           told_score=("told_score", "min"),
                                                           told_rank=("told_rank", "max"))
    pairs = pairs.merge(ref, on=["_row", "kind"], how="left")
    worse = (pairs["score"] < pairs["told_score"] - drop) | (pairs["band"].map(BAND_RANK) > pairs["told_rank"])
    repeat = pairs["told_on"].notna() & ~worse
    row_repeat = repeat.groupby(pairs["_row"]).all().reindex(range(len(alerts)), fill_value=False).to_numpy()
    kept = alerts[~row_repeat].reset_index(drop=True)
    kept.attrs = dict(alerts.attrs)
    covered = pairs[repeat].groupby("_row").agg(told_on=("told_on", "max"), told_score=("told_score", "min"),
                                                told_rank=("told_rank", "max"))
    repeats = alerts[row_repeat].reset_index(drop=True)
    info = covered.reindex(range(len(alerts))).loc[row_repeat].reset_index(drop=True)
    repeats["told_on"] = info["told_on"].to_numpy()
    repeats["told_score"] = info["told_score"].astype(float).to_numpy()
    bands = {v: k for k, v in BAND_RANK.items()}
    repeats["told_band"] = info["told_rank"].map(bands).to_numpy()
    repeats.attrs = dict(alerts.attrs)
    if len(repeats):
        log.info("%s left out: already alerted by an earlier run within %d days", count(len(repeats), "score alert"),
                 days)
    return kept, repeats
