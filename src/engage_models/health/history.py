"""The health score over time: each account's history, moves between bands, and alerts on falls.

Input: *scored accounts*, one row per (account_id, as_of) with at least ``score`` (0-100, 100 = healthiest)
and ``band`` (green / yellow / red). A scheduled run compares the latest observation date with the one
before it (or any two dates), so the report says what changed since the last run:

* :func:`score_history` adds, per account, the previous observation, its score and band, and the change;
* :func:`band_movement` counts accounts by band then and band now (new accounts and accounts that left
  included), the movement matrix;
* :func:`score_alerts` lists the accounts whose score fell by more than ``drop`` points or that moved into
  red.

Examples
--------
>>> import pandas as pd
>>> scored = pd.DataFrame({
...     "account_id": ["a", "b", "a", "b"],
...     "as_of": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-02-01", "2025-02-01"], utc=True),
...     "score": [80.0, 55.0, 52.0, 54.0], "band": ["green", "yellow", "yellow", "yellow"]})
>>> score_alerts(scored, drop=10)[["account_id", "previous_score", "score", "score_change", "alert"]]
  account_id  previous_score  score  score_change       alert
0          a            80.0   52.0         -28.0  score_drop
>>> band_movement(scored).loc["green", "yellow"]
np.int64(1)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from .._core.i18n import check_lang, count, fmt_date, t
from .._core.plots import BAND_COLOURS, date_axis, new_ax
from .._core.reasons import Thin
from .._core.time import DAYS_PER_MONTH, to_utc

log = logging.getLogger(__name__)

BANDS = ("green", "yellow", "red")
#: Rows of the movement matrix: the band at the earlier date, or ``new`` (not scored then).
FROM_STATES = (*BANDS, "new")
#: Columns: the band at the later date, or ``left`` (no longer scored: churned, or dropped from the data).
TO_STATES = (*BANDS, "left")
ALERTS = ("score_drop", "into_red")
#: Columns carried from the scored accounts into the alert list when present.
LABELS = ("churned_within_h", "duration_days", "event")
#: Columns carried from the scored accounts into the alert list when present.
CONTEXT_COLUMNS = ("segment", "plan", "mrr", "churn_probability", "ltv")


def _scored(scored: pd.DataFrame) -> pd.DataFrame:
    """``scored`` checked (columns, one row per account and date, known bands) with ``as_of`` in UTC."""
    missing = [c for c in ("account_id", "as_of", "score", "band") if c not in scored.columns]
    if missing:
        raise ValueError(f"scored accounts lack {'column' if len(missing) == 1 else 'columns'} {missing}")
    df = scored.copy()
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    dupes = df.duplicated(["account_id", "as_of"])
    if dupes.any():
        first = df.loc[dupes, ["account_id", "as_of"]].iloc[0]
        raise ValueError(f"scored accounts have {count(int(dupes.sum()), 'duplicate (account_id, as_of) row')}, "
                         f"e.g. {first['account_id']!r} at {first['as_of']:%Y-%m-%d}")
    unknown = set(df["band"].dropna().unique()) - set(BANDS)
    if unknown:
        raise ValueError(f"unknown {'band' if len(unknown) == 1 else 'bands'} {sorted(map(str, unknown))}; bands are "
                         f"{BANDS}")
    df["score"] = df["score"].astype(float)
    return df


def score_history(scored: pd.DataFrame) -> pd.DataFrame:
    """Each account's scores in date order with the previous observation and the change since it.

    Parameters
    ----------
    scored : DataFrame
        Scored accounts (``account_id``, ``as_of``, ``score``, ``band``; other columns are kept).

    Returns
    -------
    DataFrame
        ``scored`` sorted by account and date, plus ``previous_as_of``, ``previous_score``,
        ``previous_band`` (the account's row at the previous date of the history, the latest scored date at least
        :data:`MIN_STEP_DAYS` before, as :func:`comparison_dates` chooses; empty when it had none) and
        ``score_change`` (points). The playbook's ``score_change`` rules read this: a run on 2 January compared
        with 1 December in its alerts and with 1 January in its action list before.
    """
    df = _scored(scored).sort_values(["account_id", "as_of"], kind="stable").reset_index(drop=True)
    dates = pd.DatetimeIndex(df["as_of"].unique()).sort_values()
    before = {d: _step_before(dates, d) for d in dates}
    df["previous_as_of"] = pd.to_datetime(df["as_of"].map(before), utc=True)
    prev = df[["account_id", "as_of", "score", "band"]].rename(
        columns={"as_of": "previous_as_of", "score": "previous_score", "band": "previous_band"})
    df = df.merge(prev, on=["account_id", "previous_as_of"], how="left")
    df["previous_as_of"] = df["previous_as_of"].where(df["previous_score"].notna())
    df["previous_score"] = df["previous_score"].astype(float)
    df["score_change"] = df["score"] - df["previous_score"]
    return df


#: Two scored dates closer than this are not compared as steps of the history: the observation dates are month
#: starts plus the run's own date, and a run on 2 January compared its accounts with 1 January's ("a day of
#: movement" in the band table and the lifecycle flow, read as a month's).
MIN_STEP_DAYS = 14


def _step_before(dates: pd.DatetimeIndex, now: pd.Timestamp) -> pd.Timestamp | None:
    """The latest of the sorted ``dates`` at least :data:`MIN_STEP_DAYS` before ``now`` (None without one)."""
    earlier = dates[dates <= now - pd.Timedelta(days=MIN_STEP_DAYS)]
    return earlier[-1] if len(earlier) else None


def history_steps(dates) -> list[pd.Timestamp]:
    """The scored dates a history steps through, oldest first: the latest, and each earlier one at least
    :data:`MIN_STEP_DAYS` before the one kept after it."""
    kept: list[pd.Timestamp] = []
    for d in sorted(pd.DatetimeIndex(pd.to_datetime(pd.Series(list(dates)), utc=True).unique()), reverse=True):
        if not kept or kept[-1] - d >= pd.Timedelta(days=MIN_STEP_DAYS):
            kept.append(d)
    return kept[::-1]


def comparison_dates(scored: pd.DataFrame, as_of=None, previous=None) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """The two observation dates compared: ``as_of`` (default the latest) and ``previous`` (default the latest
    one at least :data:`MIN_STEP_DAYS` before it, see :func:`history_steps`; None when there is none)."""
    dates = pd.DatetimeIndex(pd.to_datetime(scored["as_of"], utc=True).unique()).sort_values()
    if dates.empty:
        raise ValueError("scored accounts are empty")
    now = dates[-1] if as_of is None else to_utc(as_of)
    if now not in dates:
        raise ValueError(f"no scored accounts at {now:%Y-%m-%d}; dates: {[f'{d:%Y-%m-%d}' for d in dates]}")
    if previous is None:
        return now, _step_before(dates, now)
    before = to_utc(previous)
    if before not in dates or before >= now:
        raise ValueError(f"previous date {before:%Y-%m-%d} must be a scored date before {now:%Y-%m-%d}")
    return now, before


def compare(scored: pd.DataFrame, as_of=None, previous=None) -> pd.DataFrame:
    """Accounts at ``previous`` and at ``as_of`` side by side (outer join): one row per account.

    Returns
    -------
    DataFrame
        ``account_id``, ``previous_score``, ``score``, ``score_change``, ``previous_band``, ``band``,
        ``status`` (``kept``, ``new`` = not scored at ``previous``, ``left`` = not scored at ``as_of``), and
        the :data:`CONTEXT_COLUMNS` present (from ``as_of``, else ``previous``). ``attrs`` holds both dates.
    """
    df = _scored(scored)
    now, before = comparison_dates(df, as_of, previous)
    context = [c for c in CONTEXT_COLUMNS if c in df.columns]
    cur = df.loc[df["as_of"] == now, ["account_id", "score", "band", *context]]
    old = (df.loc[df["as_of"] == before, ["account_id", "score", "band", *context]] if before is not None
           else cur.iloc[:0])
    old = old.rename(columns={"score": "previous_score", "band": "previous_band",
                              **{c: f"_prev_{c}" for c in context}})
    out = old.merge(cur, on="account_id", how="outer", indicator=True)
    out["status"] = out.pop("_merge").map({"both": "kept", "right_only": "new", "left_only": "left"}).astype(str)
    for c in context:
        out[c] = out[c].where(out["status"] != "left", out[f"_prev_{c}"])
        out = out.drop(columns=f"_prev_{c}")
    out["score_change"] = out["score"] - out["previous_score"]
    out = out[["account_id", "previous_score", "score", "score_change", "previous_band", "band", "status", *context]]
    out = out.sort_values("account_id", kind="stable").reset_index(drop=True)
    out.attrs.update({"as_of": now, "previous": before})
    return out


def band_movement(scored: pd.DataFrame, as_of=None, previous=None) -> pd.DataFrame:
    """Accounts by band at ``previous`` (rows, plus ``new``) and at ``as_of`` (columns, plus ``left``).

    The diagonal holds the accounts that kept their band; a row sums to the accounts in that band at
    ``previous``, a column to those in that band at ``as_of``. ``attrs`` holds both dates.
    """
    both = compare(scored, as_of, previous)
    src = both["previous_band"].where(both["status"] != "new", "new")
    dst = both["band"].where(both["status"] != "left", "left")
    matrix = (pd.crosstab(src, dst).reindex(index=list(FROM_STATES), columns=list(TO_STATES), fill_value=0)
              .astype("int64"))
    matrix.index.name, matrix.columns.name = "from", "to"
    matrix.attrs.update(both.attrs)
    return matrix


def score_alerts(scored: pd.DataFrame, drop: float = 10.0, as_of=None, previous=None) -> pd.DataFrame:
    """Accounts whose score fell by more than ``drop`` points, or that moved into red, since ``previous``.

    Only accounts scored at both dates can alert (a new account has nothing to fall from). The ``alert``
    column holds the reasons (``score_drop``, ``into_red``, ``;``-separated); rows are sorted by the fall,
    largest first.

    Parameters
    ----------
    scored : DataFrame
        Scored accounts over at least two observation dates (with one date the result is empty).
    drop : float
        Alert when ``score_change < -drop`` (points on the 0-100 scale).
    as_of, previous : date, optional
        The dates compared (default: the latest and the latest at least :data:`MIN_STEP_DAYS` before it).
    """
    if drop < 0:
        raise ValueError(f"drop is a number of points (>= 0), not {drop}")
    both = compare(scored, as_of, previous)
    kept = both[both["status"] == "kept"].copy()
    fell = (kept["score_change"] < -drop).to_numpy()
    into_red = ((kept["band"] == "red") & (kept["previous_band"] != "red")).to_numpy()
    reasons = np.where(fell & into_red, "score_drop;into_red", np.where(fell, "score_drop", "into_red"))
    out = kept.assign(alert=reasons)[fell | into_red].drop(columns="status")
    out = out.sort_values(["score_change", "account_id"], kind="stable").reset_index(drop=True)
    out.insert(1, "as_of", both.attrs["as_of"])
    out.insert(2, "previous_as_of", both.attrs["previous"])
    out.attrs.update({**both.attrs, "drop": drop})
    log.info("%s at %s (drop > %g points or into red)", count(len(out), "alert"), f"{both.attrs['as_of']:%Y-%m-%d}",
             drop)
    return out



# ------------------------------------------------------------------------------------ scores over time
def rolling_scores(panel: pd.DataFrame, make_model: Callable[[], object], *, horizon_days: int,
                   dates=None, n_dates: int = 6, label: str = "churned_within_h",
                   prefit: dict | None = None, train_accounts=None) -> tuple[pd.DataFrame, dict]:
    """Score, churn probability and band of every account at each of the last ``n_dates`` dates.

    Each date's model is fitted on the rows whose label was known by that date (``as_of + horizon <= date``);
    dates with the same training rows share one fit, and ``prefit`` maps the last training date of a model
    already fitted on exactly those rows to it (the run's final model), so it is not fitted twice. Bands come
    from each model's own thresholds (chosen on its out-of-fold predictions), so no date is banded with what
    was learned after it. A date whose known labels do not yet hold both a churned and a retained account has
    no model, so it is left out of the history (on thin data the history starts later). Returns the scores and
    the fitted models by date. ``train_accounts``: fit on these accounts' rows only (every account is scored).
    """
    all_dates = sorted(panel["as_of"].unique())
    fit_on = panel if train_accounts is None else panel[panel["account_id"].isin(pd.Index(train_accounts))]
    dates = [pd.Timestamp(d) for d in (dates if dates is not None else all_dates[-n_dates:])]
    h = pd.Timedelta(days=horizon_days)
    fits: dict = {pd.Timestamp(k): m for k, m in (prefit or {}).items()}
    models: dict = {}
    out = []
    for d in dates:
        train = fit_on[(fit_on["as_of"] + h <= d) & fit_on[label].notna()]
        key = pd.Timestamp(train["as_of"].max()) if len(train) else None
        if key not in fits and train[label].nunique() < 2:
            log.info("no score at %s: the labels known then (%s) are not both churned and retained", d.date(),
                     count(len(train), "row"))
            continue
        if key not in fits:
            X = train.drop(columns=[c for c in LABELS if c in train.columns])
            fits[key] = make_model().fit(X, train[label].astype(int))
            log.info("scores at %s: model fitted on %s up to %s", d.date(), count(len(train), "row"),
                     pd.Timestamp(key).date())
        model = fits[key]
        now = panel[panel["as_of"] == d]
        X = now.drop(columns=[c for c in LABELS if c in now.columns])
        p = model.predict_proba(X)[:, 1]
        out.append(pd.DataFrame({"account_id": now["account_id"].to_numpy(), "as_of": d,
                                 "score": model.health_score(X).to_numpy(), "churn_probability": p,
                                 "band": model.bands(proba=p).to_numpy(), "trained_until": key}))
        models[d] = model
    if not out:
        raise Thin("reason.no_known_labels")
    return pd.concat(out, ignore_index=True), models


def drivers_in_words(model, X: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Per row of ``X``: the ``k`` features costing most points (``drivers``: a list of dicts with ``feature``,
    ``value``, ``typical``, ``points``, and for a categorical column ``level`` and ``typical_level``) and the same
    in words in every report language (``drivers_text_en``, ``drivers_text_ja``), so the reports of either
    language read them from one computation."""
    from .._core.i18n import LANGS

    out = model.drivers(X, k=k, lang="en")
    kept = ("feature", "value", "typical", "points", "level", "typical_level")  # the levels: the action list quotes
    result = pd.DataFrame({"drivers": [[{key: d[key] for key in kept if key in d} for d in items]
                                       for items in out["drivers"]]}, index=X.index)
    for lang in LANGS:
        result[f"drivers_text_{lang}"] = out["drivers_text"] if lang == "en" else model.drivers(X, k=k, lang=lang)[
            "drivers_text"]
    return result.reset_index(drop=True)


def with_context(scores: pd.DataFrame, panel: pd.DataFrame, accounts: pd.DataFrame | None = None,
                 columns=("segment", "plan", "mrr", "seats", "tenure_days")) -> pd.DataFrame:
    """Scores joined to the panel's context columns (and account names)."""
    ctx = panel[["account_id", "as_of", *[c for c in columns if c in panel.columns]]]
    out = scores.merge(ctx, on=["account_id", "as_of"], how="left")
    if accounts is not None and "name" in accounts:
        out = out.merge(accounts[["account_id", "name"]], on="account_id", how="left")
    return out


def band_followup(scores: pd.DataFrame, accounts: pd.DataFrame, until, date=None) -> pd.DataFrame:
    """Accounts by the band they had at ``date`` (default: the earliest scored date), followed from then on.

    ``duration`` is in months (30.4375 days) from ``date`` to the churn date or to ``until`` (censored);
    ``event`` is 1 when the account churned by ``until``. For Kaplan-Meier curves by health band.
    """
    date = pd.Timestamp(date) if date is not None else scores["as_of"].min()
    until = to_utc(until)
    at = scores[scores["as_of"] == date][["account_id", "band"]]
    a = accounts[["account_id", "end_date"]].copy()
    a["end_date"] = pd.to_datetime(a["end_date"], utc=True)
    df = at.merge(a, on="account_id", how="left")
    churned = df["end_date"].notna() & (df["end_date"] <= until)
    end = df["end_date"].where(churned, until)
    df["duration"] = (end - date).dt.total_seconds() / 86400 / DAYS_PER_MONTH
    df["event"] = churned.astype(int)
    df.attrs["date"] = date
    return df[df["duration"] > 0]


# ------------------------------------------------------------------------------------------- report views
def _band_label(v, lang: str) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else t(str(v), lang)


def alerts_view(alerts: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """:func:`score_alerts` for a report table: bands and alert reasons in words (headers via ``table``)."""
    check_lang(lang)
    cols = ["account_id", *[c for c in ("name", "segment") if c in alerts.columns], "previous_score", "score",
            "score_change", "previous_band", "band", "alert"]
    out = alerts[cols].copy().rename(columns={"score": "health_score"})
    for c in ("previous_band", "band"):
        out[c] = out[c].map(lambda v: _band_label(v, lang))
    out["alert"] = out["alert"].map(lambda a: t("sep.list", lang).join(t(f"alert.{x}", lang)
                                                                            for x in str(a).split(";")))
    return out


def movement_view(matrix: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """:func:`band_movement` as a table with the bands in words and the earlier band as the first column."""
    check_lang(lang)
    out = matrix.copy()
    out.index = [t(f"movement.{s}" if s in ("new", "left") else s, lang) for s in out.index]
    out.columns = [t(f"movement.{s}" if s in ("new", "left") else s, lang) for s in out.columns]
    return out.rename_axis(t("movement.from_to", lang)).reset_index()


# ------------------------------------------------------------------------------------------------- plots
def plot_band_movement(matrix: pd.DataFrame, ax=None, lang: str = "en"):
    """Heatmap of :func:`band_movement`: counts of accounts from the earlier band (rows) to the later one.

    Returns the ``ax``.
    """
    import seaborn as sns

    check_lang(lang)
    ax = new_ax(ax, figsize=(5.5, 3.8))
    rows = [t(f"movement.{s}" if s == "new" else s, lang) for s in matrix.index]
    cols = [t(f"movement.{s}" if s == "left" else s, lang) for s in matrix.columns]
    data = matrix.to_numpy()
    sns.heatmap(pd.DataFrame(data, index=rows, columns=cols), annot=True, fmt=",d", cmap="Blues", cbar=False,
                linewidths=0.5, linecolor="white", ax=ax, annot_kws={"fontsize": 10})
    now, before = matrix.attrs.get("as_of"), matrix.attrs.get("previous")
    ax.set_ylabel(t("band", lang) + (f" ({fmt_date(before, lang)})" if before is not None else ""))
    ax.set_xlabel(t("band", lang) + (f" ({fmt_date(now, lang)})" if now is not None else ""))
    ax.tick_params(axis="y", rotation=0)
    for tick, state in zip(ax.get_yticklabels(), matrix.index, strict=True):
        tick.set_color(BAND_COLOURS.get(state, "#333333"))
    for tick, state in zip(ax.get_xticklabels(), matrix.columns, strict=True):
        tick.set_color(BAND_COLOURS.get(state, "#333333"))
    ax.grid(False)
    return ax


def plot_score_alerts(alerts: pd.DataFrame, n: int = 15, ax=None, lang: str = "en", label: str = "account_id"):
    """Each alerting account's score before (hollow) and now (filled, in its band's colour), largest fall on
    top; at most ``n`` accounts. Returns the ``ax``."""
    check_lang(lang)
    shown = alerts.head(n)
    ax = new_ax(ax, figsize=(8, 0.32 * max(len(shown), 3) + 1.2))
    if shown.empty:
        ax.text(0.5, 0.5, t("alert.none", lang), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(shown))
    colours = [BAND_COLOURS.get(b, "#555555") for b in shown["band"]]
    ax.hlines(y, shown["score"], shown["previous_score"], color="#999999", linewidth=1.2)
    ax.scatter(shown["previous_score"], y, facecolors="white", edgecolors="#555555", zorder=3,
               label=t("previous_score", lang))
    ax.scatter(shown["score"], y, c=colours, zorder=3, label=t("health_score", lang))
    labels = shown[label] if label in shown.columns else shown["account_id"]
    ax.set_yticks(y, labels.astype(str), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(t("health_score", lang))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    now, before = alerts.attrs.get("as_of"), alerts.attrs.get("previous")
    if now is not None and before is not None:
        ax.set_title(f"{fmt_date(before, lang)} → {fmt_date(now, lang)}", fontsize=10, fontweight="normal")
    return ax


def plot_score_history(scored: pd.DataFrame, account_ids, ax=None, lang: str = "en"):
    """Score over time of the given accounts (one line each, last point in the band's colour).

    Returns the ``ax``.
    """
    check_lang(lang)
    df = _scored(scored)
    ax = new_ax(ax, figsize=(9, 3.8))
    for acc in account_ids:
        one = df[df["account_id"] == acc].sort_values("as_of")
        if one.empty:
            log.warning("account %r has no score to plot", acc)
            continue
        (line,) = ax.plot(one["as_of"], one["score"], marker="o", markersize=3, label=str(acc))
        last = one.iloc[-1]
        ax.scatter([last["as_of"]], [last["score"]], s=40, zorder=3, color=BAND_COLOURS.get(last["band"], "#555"),
                   edgecolors=line.get_color())
    ax.set_ylim(0, 100)
    ax.set_ylabel(t("health_score", lang))
    ax.set_xlabel(t("as_of", lang))
    date_axis(ax, lang)
    ax.legend(frameon=False, fontsize=8)
    return ax
