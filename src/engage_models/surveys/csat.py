"""Customer satisfaction (CSAT): % satisfied with a Wilson interval, the mean with a t interval.

CSAT is asked at three moments (the source articles' practice): at the end of onboarding, when a support
ticket closes, and periodically (annual or otherwise). An answer on a ``scale = (low, high)`` (1-5 by
default, configurable as ingest's ``csat_scale``) counts as **satisfied** when it falls in the top ``top``
boxes (``score >= high - top + 1``: 4 or 5 on 1-5).

.. math::
    \\%\\,\\mathrm{satisfied} = 100\\,\\frac{x}{n}, \\qquad
    \\text{Wilson: } \\frac{x + z^2/2}{n + z^2} \\pm \\frac{z}{n + z^2}\\sqrt{\\frac{x (n - x)}{n} + \\frac{z^2}{4}}

and the mean answer with ``mean +- t_{n-1} s / sqrt(n)``. Answers outside the scale are quarantined by
ingest; these functions raise on them and never clip.

Answers cluster in accounts (several users, many tickets of one account): where the answers have an
``account_id`` (the ``cluster`` keyword, on by default when the column is there) the Wilson interval uses
the effective number of answers ``n_eff`` (design effect from the linearised variance over accounts,
Korn and Graubard's degrees-of-freedom correction: :func:`engage_models._core.stats.effective_n`), and
the mean the linearised variance with ``t_{K-1}`` for ``K`` accounts (no interval for one account). With
one answer per account both are the formulas above.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._core.i18n import count, t
from .._core.plots import date_axis, error_bars, new_ax
from .._core.stats import (
    bounded_t_interval,
    cluster_bootstrap_spearman,
    cluster_moments,
    effective_n,
    fisher_z_interval,
    wilson_interval,
)
from .report import group_label

log = logging.getLogger(__name__)

SCALE = (1, 5)
TOP_BOXES = 2
MIN_N = 30
CLUSTER = "account_id"
TRIGGER_ORDER = ("onboarding", "ticket_close", "annual", "periodic")
PRIORITY_ORDER = ("low", "normal", "high", "urgent")
#: Hours to close: bin edges and their label keys (translated through the message catalogue).
CLOSE_BINS = (0, 4, 24, 72, 168, np.inf)
CLOSE_LABELS = ("close.lt4h", "close.4to24h", "close.1to3d", "close.3to7d", "close.gt7d")


def satisfied(scores, scale: tuple[float, float] = SCALE, top: int = TOP_BOXES) -> pd.Series:
    """True where an answer is in the top ``top`` boxes of ``scale``; missing answers stay missing.

    Raises
    ------
    ValueError
        An answer lies outside ``scale`` (ingest quarantines those; they are never clipped).
    """
    low, high = scale
    if not 1 <= top <= high - low:
        raise ValueError(f"top must be between 1 and {high - low} boxes for scale {scale}, not {top}")
    s = pd.to_numeric(pd.Series(scores), errors="raise").astype(float)
    bad = s.notna() & ((s < low) | (s > high))
    if bad.any():
        raise ValueError(f"{count(int(bad.sum()), 'CSAT answer')} outside the scale {low}-{high} "
                         f"(e.g. {s[bad].iloc[0]:g}): ingest quarantines such rows; they are never clipped")
    return (s >= high - top + 1).where(s.notna())


def _order(values: pd.Series, order: Sequence[str]) -> pd.Series:
    known = [v for v in order if v in set(values.dropna())]
    rest = sorted(set(values.dropna()) - set(known), key=str)
    return pd.Categorical(values, categories=known + rest, ordered=True)


def csat_table(df: pd.DataFrame, by: str | Sequence[str] | None = "trigger", *, score: str = "score",
               scale: tuple[float, float] = SCALE, top: int = TOP_BOXES, level: float = 0.95,
               min_n: int = MIN_N, cluster: str | None = CLUSTER) -> pd.DataFrame:
    """% satisfied (Wilson interval) and mean answer (t interval) per group.

    ``cluster`` (accounts by default, when the column is there; ``None``: answers independent) makes the
    intervals respect that answers of one account are alike (see the module docstring).

    Returns
    -------
    DataFrame
        ``by...``, ``n``, ``satisfied``, ``pct_satisfied``, ``ci_low``, ``ci_high`` (percent),
        ``mean_score``, ``mean_low``, ``mean_high``, ``small_n``, ``accounts`` (missing without clusters)
        and ``n_eff`` (effective number of answers behind the Wilson interval). Triggers and priorities
        come in their natural order (onboarding, ticket close, annual, periodic; low to urgent).
    """
    by = [by] if isinstance(by, str) else list(by or [])
    sat = satisfied(df[score], scale, top)
    d = df.assign(_sat=sat, _score=pd.to_numeric(df[score]).astype(float)).dropna(subset=["_sat"])
    clustered = bool(cluster) and cluster in d
    if clustered and d[cluster].isna().any():
        no = count(int(d[cluster].isna().sum()), "# CSAT answer has", "# CSAT answers have")
        raise ValueError(f"{no} no {cluster!r}: give every answer "
                         "its account, or cluster=None to treat answers as independent")
    for col, order in (("trigger", TRIGGER_ORDER), ("priority", PRIORITY_ORDER)):
        if col in by:
            d[col] = _order(d[col], order)
    keys = by or ["_all"]
    d = d.assign(_all="all") if not by else d
    # an empty key (an account without a segment, a ticket without a priority) is a group of its own, as in
    # nps_table: dropped here, its answers had no group code and stopped the whole surveys stage
    gb = d.groupby(keys, observed=True, sort=True, dropna=False)
    out = gb.agg(n=("_sat", "size"), satisfied=("_sat", "sum")).reset_index()
    codes = gb.ngroup().to_numpy()
    clusters = d[cluster].to_numpy() if clustered else None  # None: every answer its own cluster
    ms = cluster_moments(d["_sat"].to_numpy(float), clusters, codes)
    mm = cluster_moments(d["_score"].to_numpy(float), clusters, codes)
    n = out["n"].to_numpy(float)
    n_eff = effective_n(n, ms["clusters"], ms["var_cluster"], ms["var_srs"], ms["sum_m2"], level)
    lo, hi = wilson_interval(out["satisfied"] / n * n_eff, n_eff, level)
    # an answer lies on the scale, so does its mean: the interval is made on the logit of its place there (a t
    # interval from few accounts reached 5.05, or -22 to 28, and fell short near the top of the scale)
    mlo, mhi = bounded_t_interval(mm["mean"], mm["var_cluster"], mm["clusters"], *scale, level)
    out = out.assign(satisfied=out["satisfied"].astype(int), pct_satisfied=100 * out["satisfied"] / n,
                     ci_low=100 * lo, ci_high=100 * hi, mean_score=mm["mean"].to_numpy(), mean_low=mlo, mean_high=mhi,
                     small_n=out["n"] < min_n,
                     accounts=pd.array(ms["clusters"].to_numpy() if clustered else [pd.NA] * len(out), dtype="Int64"),
                     n_eff=n_eff)
    cols = by + ["n", "satisfied", "pct_satisfied", "ci_low", "ci_high", "mean_score", "mean_low", "mean_high",
                 "small_n", "accounts", "n_eff"]
    out = out[cols]
    for col in by:
        if isinstance(d[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).where(out[col].notna())  # an empty key stays empty, not 'nan'
    return out


def csat_trend(df: pd.DataFrame, freq: str = "M", *, by: str | None = "trigger", time: str = "submitted_at",
               **kw) -> pd.DataFrame:
    """:func:`csat_table` per calendar period (``period`` = the period's first day, UTC) and ``by``."""
    ts = pd.to_datetime(df[time], utc=True)
    period = ts.dt.tz_localize(None).dt.to_period(freq).dt.start_time.dt.tz_localize("UTC")
    keys = ["period"] + ([by] if by else [])
    return csat_table(df.assign(period=period), keys, **kw)


def _ticket_answers(surveys: pd.DataFrame | None) -> pd.DataFrame:
    """The CSAT survey answers that name a ticket (``ticket_id``), the latest of each ticket, indexed by the ticket's
    id as text (a ticket_id read as a number names the ticket all the same)."""
    if surveys is None or "ticket_id" not in surveys:
        return pd.DataFrame({"score": pd.Series(dtype=float)}, index=pd.Index([], dtype=object, name="ticket_id"))
    s = surveys[(surveys["survey_type"] == "csat") & surveys["ticket_id"].notna()]
    s = s.assign(ticket_id=s["ticket_id"].astype(str)).sort_values("submitted_at", kind="stable")
    return s.drop_duplicates("ticket_id", keep="last").set_index("ticket_id")


def csat_scores(surveys: pd.DataFrame, tickets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every CSAT score of the data: the CSAT survey answers, and the tickets' own ``csat`` where no CSAT survey
    answer names the ticket (an answer naming it is its score: the two are one customer's one answer, counted
    once). The rule :func:`ticket_csat` and the panel's ``csat_latest`` (the point query ``csat`` of
    :mod:`engage_models.features.metrics`, run over the answers before each date) follow; a ticket's score is
    dated when it closed, else when it opened.

    Returns ``account_id``, ``given_at``, ``score``, ``source`` (``survey`` or ``ticket``) and ``ticket_id``
    (empty for an answer that names no ticket).

    >>> when = pd.Timestamp("2025-02-01", tz="UTC")
    >>> sv = pd.DataFrame({"account_id": ["A1"], "submitted_at": [when], "survey_type": ["csat"], "score": [4.0],
    ...                    "ticket_id": ["T1"]})
    >>> tk = pd.DataFrame({"ticket_id": ["T1", "T2"], "account_id": ["A1", "A1"], "opened_at": [when, when],
    ...                    "closed_at": [when, pd.NaT], "csat": [5.0, 2.0]})
    >>> csat_scores(sv, tk)[["source", "ticket_id", "score"]].to_dict("records")
    [{'source': 'survey', 'ticket_id': 'T1', 'score': 4.0}, {'source': 'ticket', 'ticket_id': 'T2', 'score': 2.0}]
    """
    s = surveys[surveys["survey_type"] == "csat"]
    named = s["ticket_id"] if "ticket_id" in s else pd.Series(None, index=s.index, dtype=object)
    answers = pd.DataFrame({"account_id": s["account_id"], "given_at": pd.to_datetime(s["submitted_at"], utc=True),
                            "score": pd.to_numeric(s["score"]).astype(float), "source": "survey",
                            "ticket_id": named.astype(object).map(str, na_action="ignore")})
    parts = [answers]
    if tickets is not None and "csat" in tickets:
        tk = tickets[pd.to_numeric(tickets["csat"], errors="coerce").notna()]
        tk = tk[~tk["ticket_id"].astype(str).isin(_ticket_answers(surveys).index)]
        given = pd.to_datetime(tk["closed_at"], utc=True).fillna(pd.to_datetime(tk["opened_at"], utc=True))
        parts.append(pd.DataFrame({"account_id": tk["account_id"], "given_at": given,
                                   "score": pd.to_numeric(tk["csat"]).astype(float), "source": "ticket",
                                   "ticket_id": tk["ticket_id"].astype(str)}))
    parts = [p for p in parts if len(p)] or parts[:1]
    return pd.concat(parts, ignore_index=True)


def ticket_csat(tickets: pd.DataFrame, surveys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Closed tickets with their CSAT, priority, hours to close and a time-to-close bin.

    The CSAT comes from ticket-close survey answers joined by ``ticket_id`` when ``surveys`` has that
    column (the latest answer of a ticket), and from the tickets table's own ``csat`` column for the tickets no
    survey answer names (a company that keeps CSAT on the ticket only: with surveys of NPS alone, or with a
    ``ticket_id`` column and no answer in it, its 147 scores were not read). Tickets without either are dropped.

    Returns ``ticket_id``, ``account_id``, ``priority``, ``opened_at``, ``closed_at``, ``hours_to_close``,
    ``time_to_close`` (label key of the bin, see :data:`CLOSE_BINS`), ``score`` and ``source`` (``survey``: an
    answer naming the ticket; ``ticket``: the ticket's own csat).
    """
    tk = tickets[tickets["closed_at"].notna()].copy()
    from_surveys = surveys is not None and "ticket_id" in surveys
    if not from_surveys and "csat" not in tk:
        raise ValueError("no CSAT for tickets: give surveys with a ticket_id column or tickets with a csat column")
    # the rule of csat_scores: an answer naming the ticket is its score, the ticket's own csat where none does
    score = tk["ticket_id"].astype(str).map(_ticket_answers(surveys)["score"]).astype(float)
    tk["source"] = np.where(score.notna(), "survey", "ticket")
    if "csat" in tk:
        score = score.fillna(pd.to_numeric(tk["csat"], errors="coerce"))
    tk["score"] = score
    tk = tk[tk["score"].notna()]
    hours = (pd.to_datetime(tk["closed_at"], utc=True) - pd.to_datetime(tk["opened_at"], utc=True)).dt.total_seconds()
    # at least 0: on a calendar with summer time a ticket opened and closed in the hour repeated when it ends is
    # kept (ingest compares moments) but its wall-clock times may run backwards
    tk["hours_to_close"] = hours.clip(lower=0) / 3600
    tk["time_to_close"] = pd.cut(tk["hours_to_close"], CLOSE_BINS, labels=CLOSE_LABELS, right=False).astype(str)
    return tk[["ticket_id", "account_id", "priority", "opened_at", "closed_at", "hours_to_close", "time_to_close",
               "score", "source"]].reset_index(drop=True)


def ticket_csat_by_close_time(frame: pd.DataFrame, **kw) -> pd.DataFrame:
    """:func:`csat_table` by time-to-close bin, bins in increasing order."""
    out = csat_table(frame, "time_to_close", **kw)
    out["time_to_close"] = pd.Categorical(out["time_to_close"], categories=CLOSE_LABELS, ordered=True)
    return out.sort_values("time_to_close", ignore_index=True).assign(time_to_close=lambda d: d["time_to_close"]
                                                                      .astype(str))


#: The pipeline reports the close-time correlation from this many accounts with an answered ticket: its account
#: bootstrap interval covered a known rho 90% of the time on 8 accounts and 92% on 15 for a nominal 95% (95% on 60;
#: a coverage audit), and on 2 accounts it read "rho -1.00 (-1.00 to -1.00), p = 0".
MIN_CORRELATION_ACCOUNTS = 20


def close_time_correlation(frame: pd.DataFrame, level: float = 0.95, *, cluster: str | None = CLUSTER,
                           n_boot: int = 1000, seed: int = 0) -> dict:
    """Spearman's rho between hours to close and the CSAT answer, with an interval and p-value.

    Tickets of one account are not independent: where ``frame`` has the ``cluster`` column (accounts) the
    interval and p-value come from resampling whole accounts (``n_boot`` resamples:
    :func:`engage_models._core.stats.cluster_bootstrap_spearman`); otherwise the Fisher-z (Bonett-Wright)
    interval and the p-value for independent rows. ``accounts`` is the number of accounts (missing without).
    """
    cols = ["hours_to_close", "score"] + ([cluster] if cluster and cluster in frame else [])
    d = frame[cols].dropna()
    if len(cols) == 3:
        r = cluster_bootstrap_spearman(d["hours_to_close"], d["score"], d[cluster], n_boot, seed, level)
        return {"n": len(d), "rho": r["rho"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                "p_value": r["p_value"], "accounts": r["clusters"]}
    rho, p = stats.spearmanr(d["hours_to_close"], d["score"]) if len(d) > 2 else (np.nan, np.nan)
    lo, hi = fisher_z_interval(rho, len(d), level)
    return {"n": len(d), "rho": float(rho), "ci_low": float(lo), "ci_high": float(hi), "p_value": float(p),
            "accounts": None}


# ----------------------------------------------------------------------------------------------- plots
def plot_csat(table: pd.DataFrame, by: str, ax=None, lang: str = "en", colour: str = "#0072b2"):
    """Bars of % satisfied per group with Wilson intervals; each label carries its number of answers."""
    ax = new_ax(ax, figsize=(8, 0.5 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    err = error_bars(table["pct_satisfied"], table["ci_low"], table["ci_high"])
    colours = ["#bbbbbb" if s else colour for s in table["small_n"]]
    ax.barh(y, table["pct_satisfied"], xerr=err, color=colours, capsize=3)
    labels = [f"{group_label(g, lang)} ({t('n', lang)}={n:,})" for g, n in zip(table[by], table["n"], strict=True)]
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel(t("satisfied_pct", lang))
    return ax


def plot_csat_trend(trend: pd.DataFrame, ax=None, lang: str = "en", by: str = "trigger", min_n: int = 5):
    """% satisfied per period and group with Wilson bands; periods with fewer than ``min_n`` answers hidden."""
    ax = new_ax(ax, figsize=(10, 4))
    d = trend[trend["n"] >= min_n]
    for key, g in d.groupby(by, sort=False):
        xs = pd.to_datetime(g["period"])
        line, = ax.plot(xs, g["pct_satisfied"], marker="o", markersize=3, label=t(str(key), lang))
        ax.fill_between(xs, g["ci_low"], g["ci_high"], alpha=0.15, color=line.get_color(), linewidth=0)
    ax.set_ylim(0, 100)
    ax.set_ylabel(t("satisfied_pct", lang))
    ax.set_xlabel("")
    date_axis(ax, lang)
    ax.legend(title=t(by, lang), frameon=False, fontsize=8)
    return ax


def plot_csat_distribution(df: pd.DataFrame, ax=None, lang: str = "en", by: str = "trigger", score: str = "score",
                           scale: tuple[float, float] = SCALE):
    """Stacked bars: share of each answer on the scale, one bar per group (red = lowest, green = highest)."""
    import matplotlib as mpl

    ax = new_ax(ax, figsize=(9, 0.5 * max(df[by].nunique(), 1) + 1.5))
    satisfied(df[score], scale)  # raises on answers outside the scale
    levels = np.arange(scale[0], scale[1] + 1)
    d = df.assign(_g=_order(df[by], TRIGGER_ORDER if by == "trigger" else ()))
    share = 100 * pd.crosstab(d["_g"], d[score], normalize="index").reindex(columns=levels, fill_value=0)
    share = share.iloc[::-1]
    colours = mpl.colormaps["RdYlGn"](np.linspace(0.1, 0.9, len(levels)))
    left = np.zeros(len(share))
    counts = d["_g"].value_counts()
    labels = [f"{t(str(g), lang)} ({t('n', lang)}={counts.get(g, 0):,})" for g in share.index]
    for colour, level in zip(colours, levels, strict=True):
        ax.barh(labels, share[level], left=left, color=colour, label=f"{level:g}")
        left += share[level].to_numpy()
    ax.set_xlim(0, 100)
    ax.set_xlabel(t("plot.share_pct", lang))
    ax.legend(title=t("score", lang), ncols=len(levels), frameon=False, fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.25))
    return ax
