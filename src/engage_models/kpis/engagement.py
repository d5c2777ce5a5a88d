"""Descriptive views of the panel for the engagement report: distributions by segment, most and least
engaged accounts, the registry as a glossary.

The engagement index here is a *descriptive* ranking (the mean percentile of a few reach, breadth and
frequency metrics among the accounts observed on the same date). It is not the health score: the health
score's weights are learned from churn (:mod:`engage_models.health`); this index has none to learn and
makes no claim about risk.

Examples
--------
>>> import pandas as pd
>>> from engage_models.kpis.engagement import engagement_index
>>> p = pd.DataFrame({"account_id": ["a", "b", "c"], "as_of": pd.Timestamp("2025-01-01", tz="UTC"),
...                   "active_user_ratio_28d": [0.9, 0.5, 0.1], "feature_breadth_28d": [0.8, 0.5, 0.2],
...                   "dau_mau": [0.5, 0.3, 0.1], "active_days_28d": [28, 10, 2]})
>>> engagement_index(p).round(1).tolist()
[100.0, 66.7, 33.3]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from .._core.i18n import check_lang, fmt_money, t
from .._core.plots import new_ax
from ..features import metrics as M

#: Metrics averaged (as percentiles within a date) into the descriptive engagement index.
INDEX_METRICS = ("active_user_ratio_28d", "feature_breadth_28d", "dau_mau", "active_days_28d")


def latest(panel: pd.DataFrame) -> pd.DataFrame:
    """The rows of the panel's latest observation date."""
    return panel[panel["as_of"] == panel["as_of"].max()].reset_index(drop=True)


def engagement_index(panel: pd.DataFrame, metrics=INDEX_METRICS) -> pd.Series:
    """Mean percentile rank (0-100) of ``metrics`` among the accounts of the same ``as_of``.

    Missing values (no seats known, say) are left out of an account's mean rather than counted as zero.
    """
    ranks = panel.groupby("as_of")[list(metrics)].rank(pct=True, method="average") * 100
    return ranks.mean(axis=1, skipna=True).rename("engagement_index")


#: An account younger than the index metrics' window has not had a full window to use the product in.
FULL_WINDOW_DAYS = 28


def _too_new(now: pd.DataFrame, min_tenure_days: int) -> pd.Series:
    """Which of the latest rows belong to accounts younger than ``min_tenure_days`` (none without a
    ``tenure_days`` column, or with ``min_tenure_days`` 0); an unknown tenure is ranked."""
    if "tenure_days" not in now or not min_tenure_days:
        return pd.Series(False, index=now.index)
    return now["tenure_days"] < min_tenure_days


def ranking(panel: pd.DataFrame, n: int = 10, accounts: pd.DataFrame | None = None,
            metrics=INDEX_METRICS, min_tenure_days: int = FULL_WINDOW_DAYS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` most and least engaged accounts at the latest date, with the metrics behind the index.

    Accounts younger than ``min_tenure_days`` (a ``tenure_days`` column) are not ranked: their 28-day window is
    not full, and on the demo world the ten least engaged were all accounts of the last six weeks, one of them a
    day old. Among accounts of equal index (the demo world had 39 with no activity at all), the least engaged
    table lists the largest MRR first, the most engaged the same, then by ``account_id`` (it was by
    ``account_id`` alone, an arbitrary ten of the 39). :func:`ranking_info` counts both.
    """
    now = latest(panel)
    now = now[~_too_new(now, min_tenure_days)]
    now = now.assign(engagement_index=engagement_index(now, metrics).to_numpy())
    cols = ["account_id", "segment", "plan", "engagement_index", *metrics, "seats", "mrr"]
    if accounts is not None and "name" in accounts:
        now = now.merge(accounts[["account_id", "name"]], on="account_id", how="left")
        cols.insert(1, "name")
    now = now[[c for c in cols if c in now.columns]]
    keys = now.assign(_size=now["mrr"].fillna(0) if "mrr" in now else 0.0)
    top = keys.sort_values(["engagement_index", "_size", "account_id"], ascending=[False, False, True])
    bottom = keys.sort_values(["engagement_index", "_size", "account_id"], ascending=[True, False, True])
    return (top.head(n).drop(columns="_size").reset_index(drop=True),
            bottom.head(n).drop(columns="_size").reset_index(drop=True))


def ranking_info(panel: pd.DataFrame, metrics=INDEX_METRICS, min_tenure_days: int = FULL_WINDOW_DAYS) -> dict:
    """What :func:`ranking` left out and how many tie at the bottom: ``too_new`` (accounts younger than
    ``min_tenure_days``), ``no_activity`` (ranked accounts with every index metric at 0), ``days``."""
    now = latest(panel)
    young = _too_new(now, min_tenure_days)
    ranked = now[~young]
    present = [m for m in metrics if m in ranked]
    idle = int((ranked[present].fillna(0) == 0).all(axis=1).sum()) if present else 0
    return {"too_new": int(young.sum()), "no_activity": idle, "days": int(min_tenure_days)}


def ranking_note(info: dict | None, n: int, lang: str = "en") -> str:
    """The ranking tables' note: accounts too new to rank, and how many tie with no activity at all.

    >>> print(ranking_note({"too_new": 32, "no_activity": 39, "days": 28}, 10))  # doctest: +NORMALIZE_WHITESPACE
    39 accounts had no activity at all in the last 28 days: the least engaged table shows the 10 of them with
    the largest MRR. Accounts younger than 28 days are not ranked (their window is not full): 32.
    """
    if not info:
        return ""
    parts = []
    if info["no_activity"] > n:
        parts.append(t("eng.no_activity", lang, k=info["no_activity"], n=n, days=info["days"]))
    if info["too_new"]:
        parts.append(t("eng.too_new", lang, k=info["too_new"], days=info["days"]))
    return " ".join(parts)


def ranking_view(ranked: pd.DataFrame, lang: str = "en", currency: str = "USD") -> pd.DataFrame:
    """One of :func:`ranking`'s tables for a report: MRR in the run's currency (``¥250,000``, not
    ``250,000.00``), the other columns as they are (the report's table formats them)."""
    out = ranked.copy()
    if "mrr" in out:
        out["mrr"] = out["mrr"].map(lambda v: "" if pd.isna(v) else fmt_money(v, lang, currency))
    return out


def plot_by_segment(panel: pd.DataFrame, metric: str, by: str = "segment", ax=None, lang: str = "en",
                    order=None):
    """Box plot of ``metric`` by ``by`` at the latest date (log axis for fat-tailed metrics).

    Each box spans the middle half of the accounts; whiskers reach 1.5 IQR; the number of accounts is in
    the tick labels.
    """
    check_lang(lang)
    ax = new_ax(ax, figsize=(5, 3.2))
    now = latest(panel)
    m = M.get(metric)
    order = list(order) if order is not None else sorted(now[by].dropna().unique())
    values = now[metric].astype(float)
    if values.isna().all():  # a metric its source does not give (no seats known): said, not drawn
        ax.text(0.5, 0.5, t("plot.no_value", lang), ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(m.label(lang), fontsize=9)
        return ax
    log = m.skewed and (values > 0).any()
    if log:
        values = np.log10(values + 1)
    # matplotlib's own boxplot: seaborn 0.13's passes matplotlib the ``vert`` argument it deprecated in 3.11
    groups = [values[now[by].eq(g)].dropna().to_numpy() for g in order]  # a group with no account: no box
    line = {"color": "0.26", "linewidth": 0.8}
    if groups:  # no account with a value of ``by``: an empty panel (matplotlib raised on no box at all)
        ax.boxplot(groups, positions=range(len(order)), widths=0.8, patch_artist=True,
                   boxprops={"facecolor": sns.desaturate("#56b4e9", 0.75), "edgecolor": "0.26", "linewidth": 0.8},
                   medianprops=line, whiskerprops=line, capprops=line,
                   flierprops={"marker": "d", "markersize": 1.5, "markerfacecolor": "0.26",
                               "markeredgecolor": "0.26"})
        ax.set_xlim(-0.5, len(order) - 0.5)
    ax.xaxis.grid(False)
    counts = now[by].value_counts()
    ax.set_xticks(range(len(order)), [t("legend.accounts", lang, name=f"{g}\n", n=f"{counts.get(g, 0):,}")
                           for g in order], fontsize=8)
    ax.set_xlabel("")
    if log:  # drawn on log10(1 + x), labelled in the metric's own values (a reader saw "(log10(1+x))")
        top = float(values.max())
        marks = [v for v in (0, 1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
                 if np.log10(v + 1) <= top * 1.05]
        ax.set_yticks([np.log10(v + 1) for v in marks], [f"{v:,}" for v in marks])
    ax.set_ylabel(m.label(lang) + (t("plot.log_scale", lang) if log else ""), fontsize=9)
    return ax


def plot_metric_grid(panel: pd.DataFrame, metrics, by: str = "segment", lang: str = "en", ncols: int = 3,
                     order=None):
    """Several :func:`plot_by_segment` side by side; returns the figure."""
    import matplotlib.pyplot as plt

    metrics = list(metrics)
    nrows = int(np.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        plot_by_segment(panel, metric, by=by, ax=ax, lang=lang, order=order)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    fig.suptitle(t(by, lang), fontsize=10)
    fig.tight_layout()
    return fig


def glossary(lang: str = "en", family_order=M.FAMILIES) -> pd.DataFrame:
    """The metrics of the default panel with family, definition and direction, for the report's appendix."""
    d = M.describe(lang)
    d = d[~d["column"].str.contains("prev")]
    fam = {M.FAMILY_LABELS[f][lang == "ja"]: i for i, f in enumerate(family_order)}
    d = d.assign(_o=d["family"].map(fam)).sort_values(["_o", "column"], kind="stable").drop(columns="_o")
    d["higher is better"] = d["higher is better"].map(lambda v: t(v, lang) if v else "")
    return d[["family", "label", "description", "higher is better"]].rename(
        columns={"family": t("family", lang), "label": t("metric", lang), "description": t("description", lang),
                 "higher is better": t("higher is better", lang)})
