"""Start/stop rows from a table of measurements: an account's visits or snapshots, each row holding the covariates
measured then, with the account's follow-up and outcome repeated on every row.

survival's ``pbcseq`` is such a table (``id``, ``futime``, ``status``, the visit ``day`` and its lab values), as is a
CRM's monthly health snapshot beside each account's tenure and churn. R's survival turns it into start/stop rows with
``tmerge(..., tdc(day, x))``; :func:`intervals_from_visits` does the same for ``engage survival --measured-at COL``:

* each measurement holds from its time to the next one of the account, the last to the end of its follow-up;
* the outcome belongs to the last interval only (an account churns once, at the end of its follow-up);
* a measurement at or after the end of follow-up is left out and counted: taken when the outcome was known, it
  cannot predict it;
* an account first measured after its start is observed from that measurement (left truncation), and counted;
* two measurements of an account at the same time keep the later row of the file, counted.

The follow-up and the outcome must be the same on every row of an account (an error naming the rows otherwise).

>>> visits = pd.DataFrame({"id": [1, 1, 1, 2, 2], "day": [0, 100, 250, 0, 90], "futime": [300] * 3 + [80] * 2,
...                        "status": [1, 1, 1, 0, 0], "bili": [1.0, 2.0, 4.0, 0.8, 0.9]})
>>> rows, info = intervals_from_visits(visits, id_col="id", at="day", duration="futime", event="status")
>>> rows[[info["start"], info["stop"], "status", "bili"]].values.tolist()
[[0.0, 100.0, 0.0, 1.0], [100.0, 250.0, 0.0, 2.0], [250.0, 300.0, 1.0, 4.0], [0.0, 80.0, 0.0, 0.8]]
>>> info["after_end"]["rows"]
1
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.errors import DataError
from .._core.i18n import count, t
from .._core.reasons import text
from .from_dates import _free_name


def _same_within(values: pd.Series, ids: pd.Series, rows: pd.Index, where: str, id_col: str, column: str,
                 what: str) -> None:
    """An error naming an account and its rows when ``values`` differ among its rows."""
    differs = values.groupby(ids).transform("nunique", dropna=False) > 1
    if differs.any():
        who = ids[differs].iloc[0]
        first = rows[(ids == who).to_numpy()][:5].tolist()
        n = int(ids[differs].nunique())
        raise DataError(f"{where}, {what} column {column!r}: differs among the rows of {count(n, 'account')} (e.g. "
                        f"{id_col} {who!r} at data rows {first}); with --measured-at each row repeats its account's "
                        f"{what}")


def intervals_from_visits(df: pd.DataFrame, *, id_col: str, at: str, duration: str, event: str, event_values=(),
                          where: str = "table") -> tuple[pd.DataFrame, dict]:
    """``(rows, info)``: ``df``'s measurements as start/stop rows (see the module docstring), sorted by account (in
    the order they first appear) and time, ``event`` made 0/1 and set on each account's last interval only.

    ``info``: ``start``/``stop`` (the new columns, in the unit of ``at`` and ``duration``), ``data_rows`` (each
    row's data row in ``df``, for :func:`~engage_models.survival.analysis.analyse_table`'s messages), ``accounts``,
    ``after_end`` (``rows``, ``first_rows``: measurements at or after the end of follow-up, left out),
    ``late_first`` (accounts first measured after time 0: observed from then), ``without_event`` (accounts whose
    outcome is empty, left out whole), ``same_time`` (rows dropped for a
    later row of the same account and time), ``outcomes`` (what ``event_values`` made of a column of several
    outcomes, counted once per account).
    """
    from ..health.tables import _label, outcome_values
    from .analysis import _times

    absent = [c for c in (id_col, at, duration, event) if c not in df.columns]
    if absent:
        raise DataError(f"{where}: {'column' if len(absent) == 1 else 'columns'} not in the table: {absent} (it has "
                        f"{list(df.columns)})")
    data = df.copy()
    data.index = np.arange(len(df)) + 1  # data rows, for messages
    if data[id_col].isna().any():
        rows = data.index[data[id_col].isna().to_numpy()][:5].tolist()
        empty = count(int(data[id_col].isna().sum()), "row")
        raise DataError(f"{where}, id column {id_col!r}: empty in {empty} (first at "
                        f"data rows {rows}); each measurement needs the account it belongs to")
    ids = data[id_col].astype(str)
    when = _times(data[at], where, at, "measurement time", "the time of its measurement from the account's start")
    end = _times(data[duration], where, duration, "duration", "the account's follow-up, the same on each of its rows")
    churn = _label(data[event], f"{where}, event column {event!r}", event_values, "--event-value")
    _same_within(end, ids, data.index, where, id_col, duration, "duration")
    _same_within(churn, ids, data.index, where, id_col, event, "event")
    firsts = ~ids.duplicated()
    outcomes = outcome_values(data.loc[firsts.to_numpy(), event], event_values)
    unknown = churn.isna().to_numpy()  # an account whose outcome is empty: left out whole, as a row without its event
    no_event = {"accounts": int(ids[unknown].nunique()), "first_rows": data.index[unknown][:5].tolist()}
    after = (when >= end).to_numpy() & ~unknown
    after_end = {"rows": int(after.sum()), "first_rows": data.index[after][:5].tolist()}
    order = pd.factorize(ids)[0]
    kept = data.assign(_order=order, _at=when.to_numpy(), _end=end.to_numpy(), _churn=churn.to_numpy())
    kept = kept[~after & ~unknown]
    kept = kept.sort_values(["_order", "_at"], kind="stable")
    same = kept.duplicated(["_order", "_at"], keep="last").to_numpy()
    same_time = {"rows": int(same.sum()), "first_rows": kept.index[same][:5].tolist()}
    kept = kept[~same]
    k_ids = kept["_order"].to_numpy()
    last = np.r_[k_ids[1:] != k_ids[:-1], True]
    first = np.r_[True, k_ids[1:] != k_ids[:-1]]
    nxt = np.r_[kept["_at"].to_numpy()[1:], np.nan]
    start, stop = _free_name(kept, "start"), _free_name(kept, "stop")
    kept[start] = kept["_at"].astype(float)
    kept[stop] = np.where(last, kept["_end"].to_numpy(float), nxt)
    kept[event] = np.where(last, kept["_churn"].to_numpy(float), 0.0)
    late = first & (kept["_at"].to_numpy(float) > 0)
    info = {"start": start, "stop": stop, "data_rows": kept.index.to_list(), "accounts": int(ids.nunique()),
            "measured_accounts": int(first.sum()), "after_end": after_end, "same_time": same_time,
            "without_event": no_event, "late_first": int(late.sum()), "outcomes": outcomes, "at": at,
            "duration": duration, "event": event, "id": id_col}
    out = kept.drop(columns=["_order", "_at", "_end", "_churn", at, duration]).reset_index(drop=True)
    return out, info


def describe(info: dict, lang: str = "en") -> list[str]:
    """What :func:`intervals_from_visits` did, in console lines (and, in ``lang``, the page's).

    >>> describe({"start": "start", "stop": "stop", "accounts": 3, "measured_accounts": 2, "at": "day",
    ...           "duration": "futime", "event": "status", "id": "id", "late_first": 1, "outcomes": None,
    ...           "after_end": {"rows": 2, "first_rows": [4, 9]}, "same_time": {"rows": 0, "first_rows": []}})[1]
    'left out 2 measurements at or after the end of follow-up (first at data rows [4, 9]): taken when the \
outcome was known, they cannot predict it; 1 account with no measurement before the end of its follow-up: not in \
the models'
    """
    def say(key, **fmt):
        return t(f"sv.visits.{key}", lang, **fmt)

    lines = [say("rows", id=info["id"], at=info["at"], duration=info["duration"], event=info["event"])]
    gone = info["accounts"] - info["measured_accounts"] - info.get("without_event", {}).get("accounts", 0)
    if info["after_end"]["rows"] or gone:
        line = say("after_end", n=info["after_end"]["rows"], first=info["after_end"]["first_rows"])
        if gone:
            line += t("sep.clause", lang) + say("unmeasured", n=gone)
        lines.append(line)
    if n := info["late_first"]:
        lines.append(say("late_first", n=n))
    if n := info.get("without_event", {}).get("accounts"):
        lines.append(say("without_event", n=n, event=info["event"], first=info["without_event"]["first_rows"]))
    from .analysis import _outcome_notes

    lines += [say("note", note=text(n, lang)) for n in _outcome_notes(info["event"], info.get("outcomes"), "accounts")]
    if info["same_time"]["rows"]:
        lines.append(say("same_time", n=info["same_time"]["rows"], first=info["same_time"]["first_rows"]))
    return lines
