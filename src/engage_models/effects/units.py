"""From the play log to the units an effect is measured on.

Each row of the play log (the ``plays`` table: ``account_id``, ``play``, ``date``, ``owner``, ``status``
planned / done / skipped, optional ``holdout``, ``assigned_on``, ``play_id``, ``note``) gets a **start**, the
date its outcomes are counted from, and is matched to the **observation date at or before the start** (the
panel's ``as_of``, so every covariate and the pre-period score were measured before the play):

* ``churned``: the account's ``end_date`` falls within ``horizon_days`` after the start (``end_date <= start +
  h``, as the panel's label); known only once ``start + h <= as_of`` (otherwise the row is *pending*), and, where
  the accounts' churn stops before the data end (churn dated when it happened but recorded only later: no
  ``end_date`` after the stop), only when ``start + h`` is by the stop (``churn_known_until``; otherwise the row is
  left out, *past the churn stop*, and counted: every account there would look as if it stayed);
* ``score_change``: the health score at the last observation date within the horizon after the start minus the
  score at the observation date before it, for accounts still customers then (a play that keeps at-risk
  accounts lowers this average; it describes survivors, it is not an effect on everyone).

Two designs, kept apart:

* **randomised**: rows with ``holdout`` filled (the action list's ``assignment``): ``holdout = false`` is the
  treated arm, ``holdout = true`` the held-out arm, whatever was then done (intention to treat; the share
  actually done is reported). Both arms start at the **draw**: ``assigned_on`` (the action list's ``as_of``)
  when the log gives it, else the latest held-out row of the play at or before the row (:func:`_draw_dates`),
  else the observation date at or before the row. A treated account that churned before its CSM reached it
  stays in its arm, as its held-out twin does; a log that dates a play when it was done, weeks after the
  draw, is still compared within its draw (a play drawn again before its calls are done needs
  ``assigned_on``). Each account counts once per play, at its **first** randomised assignment, so a later run
  that moved it to the other arm does not move it between groups; a held-out account then given the play
  within its horizon stays held out and makes the effect smaller (``info["crossovers"]`` counts them; the
  package's own draw keeps an account in its arm while the seed stays). A draw (play x
  observation date) with fewer than two accounts in an arm is no comparison: its rows are left out with that
  reason.
* **observational**: plays done without a holdout (``holdout`` empty, status ``done``) start on the play date.
  They are compared with the accounts of the panel at the same observation dates that had no play done from
  ``horizon`` days before that date to the next observation date (clean comparisons; the treated likewise had
  no other play in the horizon before theirs). Each comparison account starts on a play date drawn from its
  treated accounts' (a reproducible hash of the play, date and account), and only if it was still a customer
  then: the treated had to be customers on their play dates, and a comparison counted from the observation
  date would count those who left before any play could reach them as untreated churners (a null play given 24
  days after the observation date then "cut churn" by 3.6 points). A comparison account given the play later
  within its horizon stays a comparison account: the estimate compares playing now with not yet, and
  understates the play's own effect (``info["crossovers"]`` counts them).

Rows that cannot be used are kept with the reason (not a customer at the start, before the panel's first date,
outcome not yet observed, a repeat assignment, an arm too small in its draw, another play just before).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.errors import DataError
from .._core.i18n import count
from .._core.sampling import stable_uniform
from .._core.time import to_utc
from ..ingest.contracts import PLAY_STATUSES

log = logging.getLogger(__name__)

LOG_COLUMNS = ("account_id", "play", "date", "status")
#: The action list's ``assignment`` values a log may carry in place of ``holdout`` (false, true, empty).
ASSIGNMENTS = ("assigned", "held_out", "not_drawn")
RANDOMISED, OBSERVATIONAL = "randomised", "observational"

# reasons a log row is not used
NOT_CUSTOMER = "not a customer at the play date (randomised: at the draw)"
BEFORE_PANEL = "before the panel's first observation date"
NO_PANEL_ROW = "no panel row at the observation date before the play"
PENDING = "outcome not yet observed"
REPEAT = "a later randomised assignment of the same play (the first counts)"
OTHER_PLAY = "another play was done within the horizon before it (or earlier in the log on the same day)"
NOT_DONE = "not done (observational rows count only plays done)"
UNKNOWN_ACCOUNT = "unknown account"
ASSIGNED_LATER = "assigned_on after the play date"
PAST_STOP = "its horizon runs past the day the accounts' churn stops (its churn is not known)"
ONE_ARM = ("fewer than 2 accounts in an arm of its draw (play and observation date; a log that dates a play when "
           "it was done can give the draw's date in assigned_on)")


def read_play_log(processed_dir: str | Path) -> pd.DataFrame | None:
    """The processed play log (``plays.parquet``), or None when the data have none."""
    path = Path(processed_dir) / "plays.parquet"
    return pd.read_parquet(path) if path.exists() else None


def check_play_log(log: pd.DataFrame, source: str = "play log") -> pd.DataFrame:
    """The log with typed columns: ``date`` and ``assigned_on`` UTC (``assigned_on`` NaT where empty or absent),
    ``status`` lower case, ``holdout`` a nullable boolean (where empty, from ``assignment`` when the log copies
    the action list's: held_out true, assigned false, not_drawn empty).

    Raises :class:`DataError` naming the missing column, or the rows with an unreadable date or an unknown
    status (ingest quarantines such rows; this guards a log passed in directly).
    """
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise DataError(f"{source}: missing {count(len(missing), '=column', '=columns')} {', '.join(missing)}; "
                        f"a play log has "
                        f"{', '.join(LOG_COLUMNS)} (and optionally owner, holdout, play_id, note)")
    df = log.copy().reset_index(drop=True)
    # format="mixed": a log may give dates with and without times, "T" or a space, "Z" or an offset
    df["date"] = pd.to_datetime(df["date"], utc=True, errors="coerce", format="mixed")
    bad = df.index[df["date"].isna()]
    if len(bad):
        raise DataError(f"{source}: unreadable or empty date in {_rows(bad)}")
    given = df["assigned_on"] if "assigned_on" in df else pd.Series(pd.NaT, index=df.index)
    df["assigned_on"] = pd.to_datetime(given, utc=True, errors="coerce", format="mixed")
    bad = df.index[df["assigned_on"].isna() & given.notna() & (given.astype(str).str.strip() != "")]
    if len(bad):
        raise DataError(f"{source}: unreadable assigned_on in {_rows(bad)}")
    df["status"] = df["status"].astype(str).str.strip().str.lower()
    bad = df.index[~df["status"].isin(PLAY_STATUSES)]
    if len(bad):
        raise DataError(f"{source}: status must be one of {', '.join(PLAY_STATUSES)}; {_rows(bad)} "
                        f"{count(len(bad), '=holds', '=hold')} "
                        f"{sorted(df.loc[bad, 'status'].unique())}")
    df["play"] = df["play"].astype(str).str.strip().str.lower()
    df["account_id"] = df["account_id"].astype(str)
    df["holdout"] = df["holdout"].astype("boolean") if "holdout" in df else pd.array([pd.NA] * len(df), "boolean")
    if "assignment" in df:  # the action list's column copied as it is: held_out / assigned / not_drawn
        arm = df["assignment"].astype("string").str.strip().str.lower().replace("", pd.NA)  # blank: no value
        bad = df.index[arm.notna() & ~arm.isin(ASSIGNMENTS)]
        if len(bad):
            raise DataError(f"{source}: assignment must be one of {', '.join(ASSIGNMENTS)}; {_rows(bad)} "
                            f"{count(len(bad), '=holds', '=hold')} "
                            f"{sorted(arm[bad].unique())}")
        derived = arm.map({"held_out": True, "assigned": False}).astype("boolean")
        differ = (derived != df["holdout"]).fillna(False) | arm.eq("not_drawn").fillna(False)
        clash = df.index[(df["holdout"].notna() & arm.notna() & differ).to_numpy(dtype=bool)]
        if len(clash):
            raise DataError(f"{source}: holdout and assignment say different arms in {_rows(clash)}")
        df["holdout"] = df["holdout"].fillna(derived)
    if "play_id" not in df:
        df["play_id"] = [f"row{i + 1}" for i in range(len(df))]
    return df


def _rows(index) -> str:
    """The log's rows at ``index`` (0-based) as a message names them, the noun agreeing with how many.

    >>> _rows([1]), _rows([1, 4]), _rows(range(12))
    ('row 2', 'rows 2, 5', 'rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more')
    """
    shown = ", ".join(str(i + 1) for i in list(index)[:10])
    return (f"{count(len(index), '=row', '=rows')} {shown}"
            + (f" and {len(index) - 10} more" if len(index) > 10 else ""))


@dataclass
class PlayUnits:
    """The units of the effect estimates (see the module docstring)."""

    randomised: pd.DataFrame
    observational: pd.DataFrame
    excluded: pd.DataFrame
    info: dict = field(default_factory=dict)


_UNIT_COLUMNS = ["play", "design", "account_id", "date", "start", "as_of", "treated", "done", "churned", "score_pre",
                 "churn_probability_pre", "band", "follow_up", "score_follow_up", "score_change"]


def _floor_dates(when: pd.Series, dates: np.ndarray) -> pd.Series:
    """The latest of ``dates`` at or before each value (NaT before the first)."""
    pos = np.searchsorted(dates, when.to_numpy(dtype="datetime64[ns]"), side="right") - 1
    out = pd.Series(pd.NaT, index=when.index, dtype="datetime64[ns, UTC]")
    ok = (pos >= 0) & when.notna().to_numpy()
    out[ok] = pd.to_datetime(dates[pos[ok]], utc=True)
    return out


def _draw_dates(rows: pd.DataFrame, dates: np.ndarray) -> pd.Series:
    """The draw of randomised rows without ``assigned_on``: the latest draw of a held-out row of the same play at
    or before the row (its ``assigned_on``, else its date: held-out accounts get no play, so a log dates them at
    the draw, while a treated row may carry the day it was done, weeks later), else the observation date at or
    before the row. A play drawn again before its calls are done sends a call made after the next draw to that
    draw (four monthly draws with calls 0-45 days after each moved a fifth of the treated rows, +0.5 points on
    a null play): such a log needs ``assigned_on``, and the count of rows whose draw was inferred is kept."""
    out = _floor_dates(rows["date"], dates)
    held = rows[rows["holdout"].fillna(False).astype(bool)]
    held_on = held["assigned_on"].where(held["assigned_on"].notna(), held["date"])
    for play, part in rows.groupby("play", sort=False):
        draws = np.unique(held_on[held["play"] == play].to_numpy(dtype="datetime64[ns]"))
        if not len(draws):
            continue
        when = part["date"].to_numpy(dtype="datetime64[ns]")
        pos = np.searchsorted(draws, when, side="right") - 1
        ok = pos >= 0
        out.loc[part.index[ok]] = pd.to_datetime(draws[pos[ok]], utc=True)
    return out


def _follow_up(start: pd.Series, dates: np.ndarray, h: pd.Timedelta) -> pd.Series:
    """The last observation date within the horizon after ``start`` (NaT when none is after it)."""
    f = _floor_dates(start + h, dates)
    return f.where(f > start)


def _outcomes(units: pd.DataFrame, start: pd.Series, end_dates: pd.Series, scores: pd.DataFrame,
              dates: np.ndarray, h: pd.Timedelta) -> pd.DataFrame:
    units = units.copy()
    units["churned"] = (end_dates.notna() & (end_dates <= start + h)).astype(float).to_numpy()
    pre = scores.reindex(pd.MultiIndex.from_arrays([units["account_id"], units["as_of"]]))
    units["score_pre"] = pre["score"].to_numpy(dtype=float)
    units["churn_probability_pre"] = pre["churn_probability"].to_numpy(dtype=float)
    units["band"] = pre["band"].to_numpy(dtype=object)
    units["follow_up"] = _follow_up(start, dates, h).to_numpy()
    post = scores.reindex(pd.MultiIndex.from_arrays([units["account_id"], pd.to_datetime(units["follow_up"],
                                                                                         utc=True)]))
    units["score_follow_up"] = post["score"].to_numpy(dtype=float)
    units["score_change"] = units["score_follow_up"] - units["score_pre"]
    return units


def play_units(log: pd.DataFrame, accounts: pd.DataFrame, panel: pd.DataFrame, scores: pd.DataFrame, *,
               as_of, horizon_days: int, churn_known_until=None) -> PlayUnits:
    """The randomised and observational units of every play in ``log`` (see the module docstring).

    Parameters
    ----------
    log : DataFrame
        The play log (see :func:`check_play_log`).
    accounts : DataFrame
        ``account_id``, ``start_date``, ``end_date``.
    panel : DataFrame
        The account x period panel (``account_id``, ``as_of``; its dates are the observation dates).
    scores : DataFrame
        ``account_id``, ``as_of``, ``score``, ``churn_probability``, ``band`` at the panel's dates.
    as_of : date
        Until when churn is known (the run's observation date).
    horizon_days : int
        The churn horizon.
    churn_known_until : date, optional
        The last day churn is known, when the accounts' churn stops before ``as_of``
        (:func:`engage_models.pipeline.stages.label_end`): a unit whose horizon runs past it is left out
        (:data:`PAST_STOP`, counted in ``info["churn_stop"]``), and no comparison account is counted past it.
        Both outcomes go: the score change of an account whose churn went unrecorded is a departed account's.
    """
    h = pd.Timedelta(days=horizon_days)
    as_of = to_utc(as_of)
    known_until = as_of if churn_known_until is None else min(as_of, to_utc(churn_known_until))
    log = check_play_log(log)
    dates = np.sort(pd.to_datetime(panel["as_of"].unique(), utc=True).to_numpy(dtype="datetime64[ns]"))
    acc = accounts.assign(start_date=pd.to_datetime(accounts["start_date"], utc=True),
                          end_date=pd.to_datetime(accounts["end_date"], utc=True)).drop_duplicates("account_id")
    acc = acc.set_index("account_id")
    sc = scores.assign(as_of=pd.to_datetime(scores["as_of"], utc=True)).drop_duplicates(["account_id", "as_of"])
    sc = sc.set_index(["account_id", "as_of"])[["score", "churn_probability", "band"]]
    in_panel = pd.MultiIndex.from_frame(panel[["account_id", "as_of"]].assign(
        as_of=pd.to_datetime(panel["as_of"], utc=True)))

    rows = log.assign(design=np.where(log["holdout"].notna(), RANDOMISED, OBSERVATIONAL))
    is_rnd = rows["design"] == RANDOMISED
    # the start: the draw for a randomised row (given, or inferred from the held-out rows), else the play date
    drawn = rows["assigned_on"].where(rows["assigned_on"].notna(), _draw_dates(rows[is_rnd], dates))
    rows["start"] = rows["date"].where(~is_rnd, np.minimum(drawn, rows["date"]))
    rows["as_of"] = _floor_dates(rows["start"], dates)
    known = rows["account_id"].isin(acc.index)
    start = rows["account_id"].map(acc["start_date"])
    end = rows["account_id"].map(acc["end_date"])
    reason = pd.Series("", index=rows.index, dtype=object)

    def mark(mask, why):
        reason[(reason == "") & mask] = why

    mark(~known, UNKNOWN_ACCOUNT)
    # a draw dated up to a day after the play is the same day written in another time zone (2024-11-15 against
    # 2024-11-15T08:00+09:00, which is the 14th in UTC): the play's date is then the start
    mark(is_rnd & (rows["assigned_on"] > rows["date"] + pd.Timedelta(days=1)), ASSIGNED_LATER)
    mark((start > rows["start"]) | (end.notna() & (end <= rows["start"])), NOT_CUSTOMER)
    mark(rows["as_of"].isna(), BEFORE_PANEL)
    mark(~pd.MultiIndex.from_arrays([rows["account_id"], rows["as_of"]]).isin(in_panel), NO_PANEL_ROW)
    # randomised: the first assignment of each account to each play
    rnd = is_rnd & (reason == "")
    order = rows[rnd].sort_values(["start", "date", "play_id"], kind="stable")
    first = order.drop_duplicates(["play", "account_id"], keep="first").index
    mark(rnd & ~rows.index.isin(first), REPEAT)
    # observational: plays done, with no other play done within the horizon before
    obs = rows["design"] == OBSERVATIONAL
    mark(obs & (rows["status"] != "done"), NOT_DONE)
    done = log[log["status"] == "done"][["account_id", "date", "play_id"]]
    prior = rows[obs & (reason == "")].reset_index().merge(done, on="account_id", suffixes=("", "_other"))
    # another play before it within the horizon; on the same day, the one first in play_id order counts (a play
    # logged twice on a day counted its account twice)
    same_day_first = (prior["date_other"] == prior["date"]) & (prior["play_id_other"].astype(str)
                                                               < prior["play_id"].astype(str))
    before = (prior["date_other"] < prior["date"]) | same_day_first
    prior = prior[(prior["play_id_other"] != prior["play_id"]) & before & (prior["date_other"] > prior["date"] - h)]
    mark(rows.index.isin(prior["index"]), OTHER_PLAY)
    mark(rows["start"] + h > as_of, PENDING)
    mark(rows["start"] + h > known_until, PAST_STOP)  # known by the data's end but for the churn stop
    # randomised: a draw needs two accounts in each arm (else it is no comparison; the estimate would drop it)
    rnd = is_rnd & (reason == "")
    arms = rows[rnd].assign(t=~rows.loc[rnd, "holdout"].astype(bool)).groupby(["play", "as_of"])["t"].agg(
        ["sum", "size"])
    thin = arms[(arms["sum"] < 2) | (arms["size"] - arms["sum"] < 2)].index
    mark(rnd & pd.MultiIndex.from_arrays([rows["play"], rows["as_of"]]).isin(thin), ONE_ARM)

    used = rows[reason == ""]
    units = used.assign(treated=np.where(used["design"] == RANDOMISED, ~used["holdout"].fillna(False).astype(bool),
                                         used["status"] == "done"),
                        done=used["status"] == "done")
    units = _outcomes(units, units["start"], end[units.index], sc, dates, h)
    randomised = units[units["design"] == RANDOMISED][_UNIT_COLUMNS].reset_index(drop=True)
    treated_obs = units[units["design"] == OBSERVATIONAL]

    controls, before_play = _controls(treated_obs, panel, done, acc, dates, known_until, h)
    controls = _outcomes(controls, controls["start"], controls["account_id"].map(acc["end_date"]), sc, dates, h)
    observational = pd.concat([treated_obs[_UNIT_COLUMNS], controls[_UNIT_COLUMNS]], ignore_index=True)
    for frame in (randomised, observational):
        frame["treated"] = frame["treated"].astype(bool)
        frame["done"] = frame["done"].astype(bool)
    excluded = rows.loc[reason != "", ["play", "design", "account_id", "date", "status", "holdout", "play_id"]].assign(
        reason=reason[reason != ""]).reset_index(drop=True)
    info = {"log_rows": len(log), "used": int((reason == "").sum()),
            "by_status": {k: int(v) for k, v in log["status"].value_counts().items()},
            "excluded": {k: int(v) for k, v in reason[reason != ""].value_counts().items()},
            "randomised_rows": int((rows["design"] == RANDOMISED).sum()),
            "observational_rows": int((rows["design"] == OBSERVATIONAL).sum()),
            "controls_left_before_play": before_play,
            "draws_inferred": int((is_rnd & rows["assigned_on"].isna()).sum()),
            "draws_repeated": _repeated_draws(rows[is_rnd & rows["assigned_on"].isna() & (reason == "")]),
            "crossovers": _crossovers(randomised, observational, log, h),
            "plays": sorted(log["play"].unique().tolist()), "horizon_days": horizon_days, "as_of": as_of,
            **_log_range(log)}
    if known_until < as_of:  # the rows left out for the churn stop: report 06 says how many
        info["churn_stop"] = {"stop": known_until.date().isoformat(), "rows": int((reason == PAST_STOP).sum())}
    log_msg = "play log: %d rows, %d used (%d randomised units, %d observational units with controls)"
    logging.getLogger(__name__).info(log_msg, len(log), info["used"], len(randomised), len(observational))
    return PlayUnits(randomised, observational, excluded, info)


def _later_done(units: pd.DataFrame, log: pd.DataFrame, h: pd.Timedelta) -> pd.Series:
    """Whether each unit's account had the same play done after its start and within the horizon."""
    done = log.loc[log["status"] == "done", ["account_id", "play", "date"]]
    pairs = units[["account_id", "play", "start"]].reset_index().merge(done, on=["account_id", "play"])
    hit = pairs[(pairs["date"] > pairs["start"]) & (pairs["date"] <= pairs["start"] + h)]["index"].unique()
    return pd.Series(units.index.isin(hit), index=units.index)


def _crossovers(randomised: pd.DataFrame, observational: pd.DataFrame, log: pd.DataFrame, h: pd.Timedelta) -> dict:
    """Per play, the comparison accounts that got the play after all within their horizon: held-out accounts
    of a randomised play (drawn again and assigned, or served anyway) and comparison accounts of an
    observational one (given it at a later date). They stay in their group (intention to treat; the comparison
    is of playing now with not now), so the estimate understates the play's own effect: a play re-drawn every
    month with a fresh holdout lost a third of its effect (-6.0 points read for -9.0)."""
    out = {}
    for design, frame in ((RANDOMISED, randomised), (OBSERVATIONAL, observational)):
        ctrl = frame[~frame["treated"]] if len(frame) else frame
        if ctrl.empty:
            continue
        later = _later_done(ctrl, log, h)
        for play, grp in ctrl.groupby("play"):
            k = int(later[grp.index].sum())
            if k:
                out.setdefault(play, {})[design] = {"later": k, "of": int(len(grp))}
    return out


def _repeated_draws(rows: pd.DataFrame) -> dict:
    """Per randomised play whose rows' draws were inferred (no ``assigned_on``): the rows, when the play's
    held-out rows fall on more than one date (a repeated draw, or held-out rows dated after their draw), where a
    treated row done after the next date joins that draw."""
    held = rows[rows["holdout"].fillna(False).astype(bool)]
    dates = held.groupby("play")["date"].nunique()
    many = dates[dates > 1].index
    return {p: int((rows["play"] == p).sum()) for p in many}


def _log_range(log: pd.DataFrame) -> dict:
    """The dates of the plays done or skipped (a play planned for next year does not stretch the log's range), and
    the planned rows after the last of them; all rows when every one is planned."""
    acted = log[log["status"] != "planned"]
    dates = (acted if len(acted) else log)["date"]
    last = dates.max() if len(dates) else None
    ahead = int(((log["status"] == "planned") & (log["date"] > last)).sum()) if len(acted) else 0
    return {"first_date": dates.min() if len(dates) else None, "last_date": last, "planned_after": ahead}


def _controls(treated: pd.DataFrame, panel: pd.DataFrame, done: pd.DataFrame, acc: pd.DataFrame,
              dates: np.ndarray, as_of: pd.Timestamp, h: pd.Timedelta) -> tuple[pd.DataFrame, int]:
    """For each play and observation date with observational treated units: the panel's accounts at that date
    with no play done from ``h`` before it to the next observation date, each starting on one of the treated
    accounts' play dates (drawn by a hash of play, date and account) and kept only if still a customer then and
    its outcome is known; and the number of comparison accounts left out because they left before that date."""
    if treated.empty:
        return _no_controls(), 0
    pnl = panel[["account_id", "as_of"]].assign(as_of=pd.to_datetime(panel["as_of"], utc=True))
    out, left = [], 0
    for tau in sorted(treated["as_of"].unique()):
        tau = pd.Timestamp(tau)
        if tau + h > as_of:
            continue
        nxt = dates[dates > tau.to_datetime64()]
        until = pd.Timestamp(nxt[0], tz="UTC") if len(nxt) else tau + pd.Timedelta(days=31)
        busy = done[(done["date"] > tau - h) & (done["date"] < until)]["account_id"].unique()
        here = pnl[(pnl["as_of"] == tau) & ~pnl["account_id"].isin(busy)]
        ends = here["account_id"].map(acc["end_date"])
        at_tau = treated[treated["as_of"] == tau]
        iso = tau.isoformat()
        draws = np.array([stable_uniform(iso, a) for a in here["account_id"]], dtype=float)
        for play in at_tau["play"].unique():
            when = np.sort(at_tau.loc[at_tau["play"] == play, "start"].to_numpy(dtype="datetime64[ns]"))
            # each account's draw, turned by the play's (one hash per account and date, not per play)
            u = (draws + stable_uniform(play, iso)) % 1.0
            pick = np.minimum((u * len(when)).astype(int), len(when) - 1)
            starts = pd.Series(pd.to_datetime(when[pick], utc=True) if len(here) else pd.DatetimeIndex([], tz="UTC"),
                               index=here.index)
            alive = ~(ends.notna() & (ends <= starts))
            left += int((~alive).sum())
            out.append(here[alive].assign(play=play, design=OBSERVATIONAL, date=starts[alive], start=starts[alive],
                                          treated=False, done=False))
    if not out:
        return _no_controls(), left
    return pd.concat(out, ignore_index=True), left


def _no_controls() -> pd.DataFrame:
    """No control unit, with the columns' types (an untyped empty frame's dates are objects, and comparing the
    treated units' times with them raised a TypeError: the effects stage failed whenever no play without a
    holdout had its outcome yet)."""
    return pd.DataFrame({"play": pd.Series(dtype=object), "design": pd.Series(dtype=object),
                         "account_id": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns, UTC]"),
                         "start": pd.Series(dtype="datetime64[ns, UTC]"),
                         "as_of": pd.Series(dtype="datetime64[ns, UTC]"), "treated": pd.Series(dtype=bool),
                         "done": pd.Series(dtype=bool)})


def log_summary(units: PlayUnits, log: pd.DataFrame) -> pd.DataFrame:
    """Per play and design: rows logged, done, skipped, planned, held out, used in the estimate, pending (outcome
    not yet observed) and left out for another reason."""
    log = check_play_log(log)
    log = log.assign(design=np.where(log["holdout"].notna(), RANDOMISED, OBSERVATIONAL),
                     held_out=log["holdout"].fillna(False).astype(bool))
    out = log.groupby(["play", "design"]).agg(
        rows=("account_id", "size"), done=("status", lambda s: int((s == "done").sum())),
        skipped=("status", lambda s: int((s == "skipped").sum())),
        planned=("status", lambda s: int((s == "planned").sum())), held_out=("held_out", "sum"),
        first=("date", "min"), last=("date", "max"))
    ex = units.excluded
    pending = ex[ex["reason"] == PENDING].groupby(["play", "design"]).size()
    other = ex[ex["reason"] != PENDING].groupby(["play", "design"]).size()
    out["pending"] = pending.reindex(out.index).fillna(0).astype(int)
    out["left_out"] = other.reindex(out.index).fillna(0).astype(int)
    out["used"] = out["rows"] - out["pending"] - out["left_out"]
    out["held_out"] = out["held_out"].astype(int)
    return out.reset_index()
