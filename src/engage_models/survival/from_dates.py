"""Tenure and churn from a start and an end date, as a CRM or billing export writes them.

A customer list rarely holds a duration: it has a signup date and a cancellation date, empty for the customers
still there (survival's ``udca`` writes entry, last follow-up and death dates). ``engage survival --start COL
--end COL`` computes the duration :func:`~engage_models.survival.analysis.analyse_table` models from them:

* the tenure runs from the start to the end where the end is filled and not after the observation date, else to
  the observation date (a cancellation dated after it is not known yet: the account is a customer then);
* churn is an end filled and not after the observation date, unless an event column is given (``--event``: an
  end then is the last date the account was seen, whatever happened);
* the observation date (``--observed-until``) is a date, or a column holding each row's last follow-up (with
  ``id_col``, an account's periods share its latest: ``observed_until_differing`` counts the accounts whose rows
  differ); by
  default the latest start or end date in the table (said, since a later export date would lengthen every
  tenure of the customers still there).

* with an id repeating over rows (``--id``), each row is a period of its account (a plan, a contract term): the
  tenure counts from the account's first start, and only the end of its last period is churn
  (:func:`tenure_from_dates`' ``id_col``);
* a period beginning after the observation date is not known then, as an end after it is not: it has no time at
  risk and is said (``not_begun``: its rows, and the accounts that had left by then, no period of theirs running:
  churn at the end of their last period before it, their return not known at that date).

An empty start, and an end before its start, are errors naming the rows.

>>> df = pd.DataFrame({"signup": ["2024-01-01", "2024-03-01", "2024-06-01"],
...                    "cancel": ["2024-04-01", None, "2024-12-31"]})
>>> out, info = tenure_from_dates(df, "signup", "cancel", observed_until="2024-12-01")
>>> out[[info["duration"], info["event"]]].values.tolist()
[[91.0, 1.0], [275.0, 0.0], [183.0, 0.0]]
>>> info["after_observation"]
1
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .._core.errors import DataError
from .._core.i18n import count, every_row, t
from .._core.reasons import Why, text

#: Cells that say "no date" in a spreadsheet: a dash of any width (en and em dashes, the horizontal bar, and the
#: Japanese long vowel mark and full-width hyphen Japanese sheets write), by code point.
_NO_DATE = {"-", "--", *map(chr, (0x2013, 0x2014, 0x2015, 0x30FC, 0xFF0D))}


def _date_text(values: pd.Series) -> pd.Series:
    """Date cells as text a date parser reads: stripped, a dash for "none" empty, a Japanese date
    (2024年1月31日) written as 2024-1-31.

    >>> _date_text(pd.Series(["2024\u5e741\u670831\u65e5", " - ", "2024-02-01", None])).tolist()
    ['2024-1-31', <NA>, '2024-02-01', <NA>]
    """
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(\d{4})\s*\u5e74\s*(\d{1,2})\s*\u6708\s*(\d{1,2})\s*\u65e5", r"\1-\2-\3", regex=True)
    return text.mask(text.isin(_NO_DATE) | (text == ""))


def _numbered_dates(values: pd.Series) -> tuple[pd.Series, str | None]:
    """Dates written as numbers: YYYYMMDD (20240131) or Excel's day numbers (45322: days since 1899-12-30, a
    spreadsheet's date saved as a number), each only when every value reads so; else (None, None).

    >>> _numbered_dates(pd.Series([20240131, 20231201.0, None]))[0].dt.date.tolist()[:2]
    [datetime.date(2024, 1, 31), datetime.date(2023, 12, 1)]
    >>> _numbered_dates(pd.Series([45322, 45261.5]))[1], _numbered_dates(pd.Series([3, 12]))[1]
    ('excel', None)
    """
    v = values.dropna().astype(float)
    whole = bool(np.all(np.isclose(v, np.round(v))))
    if whole and v.between(19000101, 21001231).all():
        got = pd.to_datetime(values.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce", utc=True)
        if got.notna().sum() == len(v):
            return got, "yyyymmdd"
    if v.between(20000, 80000).all():  # 1954 to 2119
        return pd.to_datetime(values.astype(float), unit="D", origin="1899-12-30", utc=True), "excel"
    return None, None


def _as_dates(df: pd.DataFrame, columns: list[str], where: str, notes: list | None = None) -> list[pd.Series]:
    """The dates of ``columns``, read together: one order of day and month for all of them (read one by one, a
    start column with a 13th day was read day first and an end column whose days were all 12 or less month first,
    ``05/02/2024`` as the 2nd of May: a tenure of 110 days for one of 23). Numbers are read as dates when they are
    YYYYMMDD or Excel's day numbers, said in ``notes``."""
    notes = [] if notes is None else notes
    from ..health.tables import _dates  # one reader of the dates users bring (ISO, or one inferred format)

    texts, numbered = [], {}
    for column in columns:
        values = df[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.notna().any():
            numbered[column], kind = _numbered_dates(values)
            if kind is None:
                raise DataError(f"{where}, column {column!r}: holds numbers, not dates (e.g. "
                                f"{values.dropna().iloc[0]}; neither YYYYMMDD nor Excel's day numbers); give a "
                                f"duration with --duration instead")
            notes.append(Why("sv.dates.numbered", column=column, kind=Why(f"sv.dates.kind.{kind}"),
                             example=f"{values.dropna().iloc[0]:g}",
                             date=numbered[column].dropna().iloc[0].date().isoformat()))
            texts.append(None)
            continue
        texts.append(None if pd.api.types.is_datetime64_any_dtype(values) else _date_text(values))
    written = [x for x in texts if x is not None]
    got = iter(_dates(pd.concat(written, ignore_index=True)).to_numpy().reshape(len(written), -1) if written else [])
    out = []
    for column, cells in zip(columns, texts, strict=True):
        if cells is None:
            out.append(numbered[column] if column in numbered else pd.to_datetime(df[column], utc=True))
            continue
        dates = pd.Series(next(got), index=df.index, dtype="datetime64[ns, UTC]")
        bad = cells.notna() & dates.isna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 1).tolist()
            said = count(int(bad.sum()), "# value that is not a date", "# values that are not dates")
            raise DataError(f"{where}, column {column!r}: {said} (first at "
                            f"data rows {rows}, e.g. {cells[bad].iloc[0]!r})")
        out.append(dates)
    return out


def _free_name(df: pd.DataFrame, name: str) -> str:
    while name in df.columns:
        name = f"_{name}"
    return name


def _overlaps(df: pd.DataFrame, order: np.ndarray, same: np.ndarray, begin: pd.Series, finish: pd.Series,
              stop: pd.Series, *, where: str, start: str, end: str, id_col: str) -> None:
    """A :class:`DataError` naming the rows and their dates when a period of an account begins before the end of
    its earlier one (``order``: the row positions by account and start, ``same``: a row's account is the one
    before's; ``stop``: the end, or the observation date where it is empty or later). Left to the model, the
    message named the days counted from the account's first start (``entry_days``, ``tenure_days``), not the
    dates, and not that an empty end runs to the observation date."""
    b, f = begin.to_numpy()[order], stop.to_numpy()[order]
    over = same & (b[1:] < f[:-1])
    if not over.any():
        return
    i = int(np.flatnonzero(over)[0])
    first, then = int(order[i]), int(order[i + 1])

    def day(x):
        return x.iloc[first].date().isoformat()

    runs = (f"runs from {day(begin)} " + (f"to {day(finish)}" if finish.iloc[first] == stop.iloc[first] else
                                           f"to {day(finish)}, after the observation date ({day(stop)})"
                                           if pd.notna(finish.iloc[first]) else
                                           f"with no end, to the observation date ({day(stop)})"))
    said = count(int(over.sum()), "# period begins before the end of an earlier period of its",
                 "# periods begin before the end of an earlier period of their")
    raise DataError(f"{where}, columns {start!r} and {end!r}: {said} "
                    f"account (e.g. {id_col} {df[id_col].iloc[first]!r}: data row "
                    f"{first + 1} {runs}, data row {then + 1} begins {begin.iloc[then].date().isoformat()}); an "
                    f"account's periods must follow one another: fill the end of a period another follows, and give "
                    f"periods held at once (two products) as one period of the account, or as accounts of their own")


def tenure_from_dates(df: pd.DataFrame, start: str, end: str, *, event: str | None = None,
                      observed_until: str | None = None, where: str = "table",
                      id_col: str | None = None) -> tuple[pd.DataFrame, dict]:
    """``df`` with a tenure in days (and, without ``event``, a 0/1 churn column) computed from ``start`` and
    ``end``; and what was done: ``duration`` and ``event`` (the columns to model), ``observed_until`` (the date or
    the column), ``after_observation`` (ends after the observation date, taken as still a customer),
    ``without_start`` (rows left empty: no tenure). See the module docstring.

    ``id_col`` repeating over rows: each row is a period of its account (a plan, a contract term), and the
    account's tenure counts from its first start: ``entry`` names the column of each row's start in days from
    it, ``duration`` its end; only the end of an account's last period is churn (an end followed by another of
    its periods is a plan change or a renewal: ``continued`` counts them), and ``gaps`` counts the accounts with
    days between two periods (away, not at risk: not counted as churn).

    >>> plans = pd.DataFrame({"customer": ["a", "a", "b"], "from": ["2024-01-01", "2024-03-01", "2024-02-01"],
    ...                       "to": ["2024-03-01", "2024-05-01", None]})
    >>> out, info = tenure_from_dates(plans, "from", "to", observed_until="2024-06-01", id_col="customer")
    >>> out[[info["entry"], info["duration"], info["event"]]].values.tolist()
    [[0.0, 60.0, 0.0], [60.0, 121.0, 1.0], [0.0, 121.0, 0.0]]
    >>> info["continued"], info["accounts"]
    (1, 2)
    """
    columns = [c for c in (start, end, event, id_col) if c]
    absent = [c for c in columns if c not in df.columns]
    by_column = observed_until is not None and observed_until in df.columns
    if absent:
        raise DataError(f"{where}: {'column' if len(absent) == 1 else 'columns'} not in the table: {absent} (it has "
                        f"{list(df.columns)})")
    notes: list[str] = []
    begin, finish, *until = _as_dates(df, [start, end, *([observed_until] if by_column else [])], where, notes)
    if by_column:
        until = until[0]
        said_until = observed_until
    else:
        if observed_until is None:
            every = pd.concat([begin, finish]).dropna()
            if every.empty:
                raise DataError(f"{where}, columns {start!r} and {end!r}: no date in either")
            # a date after today (a contract's scheduled end) is no observation date: it ran every customer's
            # tenure to it (an end in 2031 gave customers of 2021-2024 tenures to 2031)
            past = every[every <= pd.Timestamp.now(tz="UTC")]
            latest = past.max() if not past.empty else every.max()
            until = pd.Series(latest, index=df.index)
        else:  # written one way only: 05/06/2024 is the 5th of June or of May as the table's own order says
            try:
                day = pd.Timestamp(observed_until) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", observed_until) else None
            except ValueError:
                day = None
            if day is None:
                raise DataError(f"--observed-until {observed_until!r}: neither a date written YYYY-MM-DD nor a column "
                                f"of {where}")
            until = pd.Series(day.tz_localize("UTC"), index=df.index)
        said_until = until.iloc[0].date().isoformat()
    for column, dates in ((start, begin), *(((observed_until, until),) if by_column else ())):
        if dates.isna().any():
            rows = (np.flatnonzero(dates.isna().to_numpy())[:5] + 1).tolist()
            needs = "the date the account started" if column == start else "the date it was last observed"
            raise DataError(f"{where}, column {column!r}: empty in {count(int(dates.isna().sum()), 'row')} (first "
                            f"at data rows {rows}); each row needs {needs}")
    backwards = finish.notna() & begin.notna() & (finish < begin)
    if backwards.any():
        rows = (np.flatnonzero(backwards.to_numpy())[:5] + 1).tolist()
        raise DataError(f"{where}, columns {start!r} and {end!r}: the end is before the start in "
                        f"{count(int(backwards.sum()), 'row')} (first at data rows {rows})")
    if (until < begin).all():
        raise DataError(f"{where}: the observation date ({said_until}) is before every start in {start!r} (the first "
                        f"is {begin.min().date().isoformat()}): no account was observed; give --observed-until on or "
                        f"after the starts")
    periods = id_col is not None and df[id_col].dropna().astype(str).duplicated().any()
    if periods and df[id_col].isna().any():  # a period of no account: whose tenure would it extend?
        rows = (np.flatnonzero(df[id_col].isna().to_numpy())[:5] + 1).tolist()
        empty = count(int(df[id_col].isna().sum()), "row")
        raise DataError(f"{where}, id column {id_col!r}: empty in {empty} (first at "
                        f"data rows {rows}); each period needs the account it belongs to")
    ids = df[id_col].astype(str) if periods else None
    differing = 0
    if periods and by_column:  # one observation date per account, its latest: each period ran to its own row's,
        # so an end written after its row's date was 'after the observation date' and the period stopped short of
        # the next (days at risk nowhere)
        differing = int((until.groupby(ids).nunique() > 1).sum())
        until = until.groupby(ids).transform("max")
    ended = closed = finish.notna() & (until.isna() | (finish <= until))  # closed: the period's end is known
    # a period beginning after the observation date is not known then, as an end after it is not: no time at risk,
    # and no later period of its account (the end before it is the account's churn, its return not known then)
    begun = begin <= until
    later = {"rows": int((~begun).sum()), "first_rows": (np.flatnonzero(~begun.to_numpy())[:5] + 1).tolist()}
    continued = gaps = 0
    if periods:  # an account's periods: its tenure counts from its first start, and only its last end is churn
        first = begin.groupby(ids).transform("min")
        # the period starting last (of two on one day, the one ending last) of those begun is the account's last
        key = pd.DataFrame({"id": ids.to_numpy(), "b": begin.to_numpy(), "s": finish.where(closed, until).to_numpy()})
        last = key[begun.to_numpy()].sort_values(["id", "b", "s"], kind="stable").groupby("id").tail(1).index
        is_last = pd.Series(np.isin(np.arange(len(df)), last), index=df.index)
        continued = int((ended & ~is_last).sum())
        later["accounts_left"] = int(pd.unique(ids[(ended & is_last).to_numpy() & ids.isin(ids[~begun]).to_numpy()]
                                               ).size)  # left before the observation date, back after it
        ended = ended & is_last
        order = pd.DataFrame({"id": ids.to_numpy(), "b": begin.to_numpy(), "f": finish.to_numpy()}).sort_values(
            ["id", "b"], kind="stable")
        pos = order.index.to_numpy()  # row positions, by account and start
        same = order["id"].to_numpy()[1:] == order["id"].to_numpy()[:-1]
        _overlaps(df, pos, same, begin, finish, finish.where(closed, until), where=where, start=start, end=end,
                  id_col=id_col)
        on = begun.to_numpy()[pos]  # away between two periods begun by the observation date
        away = same & on[1:] & on[:-1] & (order["b"].to_numpy()[1:] > order["f"].to_numpy()[:-1])
        gaps = int(pd.unique(order["id"].to_numpy()[1:][away]).size)
    if event is None and not ended.any():  # the ends said as they are: after the date, or followed by a period
        why = [f"{n:,} {'is' if n == 1 else 'are'} after it"] if (n := int((finish.notna() & ~closed).sum())) else []
        if continued:
            why.append(f"{continued:,} {'is' if continued == 1 else 'are'} followed by another period of their account")
        raise DataError(f"{where}, column {end!r}: " + (
            f"no end dated on or before the observation date ({said_until}; {', '.join(why)})"
            if finish.notna().any() else f"empty in {every_row(len(df))}")
            + ": no account has left, and a survival model needs churners")
    after = int((finish.notna() & ~closed).sum())
    stop = finish.where(closed, until)
    origin = first if periods else begin
    days = (stop - origin).dt.total_seconds() / 86400.0
    entry_days = (begin - origin).dt.total_seconds() / 86400.0
    # a cancellation on the day of the signup is a churn within the first day: half a day of time at risk (with
    # none, it was left out as an account never at risk: 10 of 237 churners of a CRM export)
    same_day = ended & (days == entry_days)
    days = days.mask(same_day, entry_days + 0.5)
    out = df.copy()
    duration = _free_name(out, "tenure_days")
    out[duration] = days.clip(lower=0.0).round(6)  # a start after the observation date: no time at risk
    info = {"duration": duration, "start": start, "end": end, "observed_until": said_until,
            "observed_until_is_column": by_column, "observed_until_default": observed_until is None,
            "after_observation": after, "same_day": int(same_day.sum()), "notes": notes, "not_begun": later,
            "event_from_end": event is None, "open": int(finish.isna().sum()),
            "events": int(ended.sum()) if event is None else None}
    if periods:
        info["entry"] = _free_name(out, "entry_days")
        out[info["entry"]] = entry_days.clip(lower=0.0).round(6)
        info.update({"id": id_col, "accounts": int(df[id_col].astype(str).nunique()), "continued": continued,
                     "gaps": gaps, "observed_until_differing": differing})
    if event is None:
        info["event"] = _free_name(out, "churned")
        out[info["event"]] = ended.astype(int)
    else:
        info["event"] = event
        # an end after the observation date is not known then, whatever the event column says: a customer at that
        # date (its status 1 made a churn at the observation date, while the console said "still a customer then");
        # of an account's periods, every one when its last begun period runs past the date
        unknown = finish.notna() & ~closed
        if periods:
            still = ids[(is_last & ~closed & begun).to_numpy()].unique()
            unknown = unknown | (ids.isin(still) & begun)
        info["event_cleared"] = int(unknown.sum())
        # a period not begun by then is left out (said), and so is what its event column says: a churn written on
        # one with no end stopped the run as 'a churn on a row of no time at risk'
        unknown = unknown | ~begun
        if unknown.any():
            out[event] = out[event].astype(object).where(~unknown.to_numpy(), 0)
    info["dates"] = [start, end, *([observed_until] if by_column else [])]
    return out, info


def describe(info: dict, lang: str = "en") -> str:
    """One line for the console (and, in ``lang``, the page): how the tenure and churn were read.

    >>> describe({"start": "signup", "end": "cancel", "event": "churned", "observed_until": "2024-12-01",
    ...           "observed_until_is_column": False, "observed_until_default": True, "after_observation": 2,
    ...           "event_from_end": True, "events": 40})
    "tenure in days from 'signup' to 'cancel', or to 2024-12-01 where it is empty (the latest date in the table; \
give --observed-until for the export's date); churn: 'cancel' filled (40 rows); 2 ends dated after the observation \
date taken as still a customer then"

    Where the end is filled on every row and none is after the observation date, no tenure runs to that date
    (it said "or to 1991-07-01 where it is empty" of a table with no empty end):

    >>> describe({"start": "signup", "end": "cancel", "event": "churned", "observed_until": "2024-12-01",
    ...           "observed_until_is_column": False, "observed_until_default": True, "after_observation": 0,
    ...           "event_from_end": False, "events": None, "open": 0})
    "tenure in days from 'signup' to 'cancel' (filled on every row); churn: 'churned'"
    """
    def say(key, **fmt):
        return t(f"sv.dates.{key}", lang, **fmt)

    if info["observed_until_is_column"]:
        until = say("until_account" if info.get("entry") else "until_row", column=info["observed_until"])
    else:
        until = say("until_date", date=info["observed_until"])
    churn = (say("churn_end", end=info["end"], n=info["events"]) if info["event_from_end"]
             else say("churn_event", event=info["event"]))
    if info.get("open") == 0 and not info["after_observation"]:  # no tenure runs to the observation date
        parts = [say("line_filled", start=info["start"], end=info["end"], churn=churn)]
    else:
        parts = [say("line", start=info["start"], end=info["end"], until=until,
                     default=say("default") if info["observed_until_default"] else "", churn=churn)]
    if n := info["after_observation"]:
        parts.append(say("after", n=n) + (say("cleared", event=info["event"], n=info["event_cleared"])
                                          if info.get("event_cleared") else ""))
    if info.get("entry"):
        parts.append(say("periods", n=info["accounts"], id=info["id"]))
        if n := info["continued"]:
            parts.append(say("continued", n=n))
        if n := info["gaps"]:
            parts.append(say("gaps", n=n))
        if n := info.get("observed_until_differing"):
            parts.append(say("differing", n=n, column=info["observed_until"]))
    if (later := info.get("not_begun") or {}).get("rows"):
        parts.append(say("not_begun", n=later["rows"], first=later["first_rows"]))
        if k := later.get("accounts_left"):
            parts.append(say("left_churn" if info["event_from_end"] else "left_event", n=k, event=info["event"]))
    if n := info.get("same_day"):
        parts.append(say("same_day", n=n))
    return t("sep.clause", lang).join([*parts, *(text(note, lang) for note in info.get("notes", []))])
