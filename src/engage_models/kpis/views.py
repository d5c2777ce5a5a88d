"""KPIs as a reader sees them: the summary table in words and the trend, cohort and MRR charts."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._core.i18n import check_lang, fmt_date, fmt_interval, fmt_money, fmt_pct, fmt_pp, t
from .._core.money import money_axis
from .._core.plots import date_axis, new_ax
from .compute import EVENT_KPIS, INTERVAL_COLUMNS, MOVEMENTS, RATIO_COLUMNS, _aware, _month_start, cohort_matrix

log = logging.getLogger(__name__)


def start_note(info: dict | None, lang: str = "en") -> str:
    """What the KPIs left out of where they begin (the kpis stage's ``info``: ``observed_from`` and ``set_aside``,
    see :func:`~engage_models.kpis.compute.kpi_start`) and, at a churn stop, where their months end (``churn_stop``:
    :func:`~engage_models.kpis.compute.months_until`); empty when nothing was.

    >>> print(start_note({"observed_from": "2024-01-01T00:00:00+00:00", "set_aside": [{"table": "subscriptions",
    ...     "column": "period_start", "rows": 1, "total": 3400, "first": "1924-05-01", "last": "1924-05-01",
    ...     "start": "2024-01-01"}]}))
    ... # doctest: +NORMALIZE_WHITESPACE
    Set aside from the KPIs: 1 subscription row dated 1 May 1924 (period_start), more than a year before the rest of
    the table (a mistyped year?). The KPIs are observed from Jan 2024 and take no MRR from what was set aside; check
    the dates (the data-quality report says them too).
    >>> print(start_note({"churn_stop": {"stop": "2024-08-23", "last_month": "2024-07-01", "months_left_out": 4}})[:64])
    The monthly KPIs end with Jul 2024: the accounts' churn stops at
    """
    check_lang(lang)
    parts = []
    for x in (info or {}).get("set_aside") or []:
        first, last = fmt_date(x["first"], lang), fmt_date(x["last"], lang)
        dates = first if first == last else t("sep.date_span", lang, a=first, b=last)
        start = fmt_date((info or {}).get("observed_from") or x["start"], lang, month_only=True)
        parts.append(t(f"kpis.set_aside.{x['table']}", lang, n=x["rows"], dates=dates, start=start))
    if said := churn_stop_note(info, lang):
        parts.append(said)
    return ("" if lang == "ja" else " ").join(parts)


def churn_stop_note(info: dict | None, lang: str = "en") -> str:
    """At a churn stop, where the monthly KPIs end and why (the kpis stage's ``info["churn_stop"]``:
    :func:`~engage_models.kpis.compute.months_until`), in one sentence; empty without a stop. Report 02 says it
    with :func:`start_note`, report 00 under its headline month.

    >>> churn_stop_note({"observed_from": "2024-01-01"})
    ''
    """
    check_lang(lang)
    stop = (info or {}).get("churn_stop")
    if not stop:
        return ""
    return t("kpis.churn_stop", lang, last=fmt_date(stop["last_month"], lang, month_only=True),
             stop=fmt_date(stop["stop"], lang), months=stop["months_left_out"])


def unseen_note(logo: pd.DataFrame, lang: str = "en") -> str:
    """The accounts no monthly figure counts (:func:`~engage_models.kpis.compute.logo_churn`'s
    ``started_and_churned``: they started and left within one month, never customers at a month's close); empty
    when there are none. On a CDNOW purchase log half of the accounts (one-time buyers, churned on their start
    day) were in no count of report 02 and nothing said so.

    >>> import pandas as pd
    >>> logo = pd.DataFrame({"month": pd.to_datetime(["2024-02-01", "2024-03-01", "2024-04-01"], utc=True),
    ...                      "started_and_churned": [0, 3, 1]})
    >>> print(unseen_note(logo))  # doctest: +NORMALIZE_WHITESPACE
    4 accounts started and left within one month (Mar 2024 to Apr 2024): never customers at a month's close, they
    are in no monthly figure (customers, logo churn, the MRR bridge); cohort retention and the continuation rate
    count them, as lost in their first month.
    >>> unseen_note(logo.assign(started_and_churned=0))
    ''
    """
    check_lang(lang)
    if "started_and_churned" not in logo:
        return ""
    before = int(logo.attrs.get("started_and_churned_first") or 0)  # the first month's, which has no row
    n = int(logo["started_and_churned"].sum()) + before
    if not n:
        return ""
    months = pd.to_datetime(logo.loc[logo["started_and_churned"] > 0, "month"], utc=True)
    if before:
        months = pd.concat([months, pd.Series([pd.Timestamp(logo.attrs["first_month"])])]).map(
            lambda m: m if m.tzinfo else m.tz_localize("UTC"))
    first, last = (fmt_date(m, lang, month_only=True) for m in (months.min(), months.max()))
    span = first if first == last else t("sep.date_span", lang, a=first, b=last)
    return t("kpis.started_and_churned", lang, n=n, months=span)


def events_note(summary: pd.DataFrame, why: str | None = None, lang: str = "en") -> str:
    """The headline KPIs measured from the events (:data:`~engage_models.kpis.compute.EVENT_KPIS`) that
    ``summary`` (:func:`~engage_models.kpis.compute.kpi_summary`) lacks, with ``why`` (the reason the events gave
    none); empty when it has them all. A header-only events file left report 02 without a word on DAU/MAU while the
    accounts and subscriptions gave the rest.

    >>> summary = pd.DataFrame({"kpi": ["customers", "logo_churn_rate"]})
    >>> print(events_note(summary, "the events table is empty."))  # doctest: +NORMALIZE_WHITESPACE
    Measured from the events, so not computed: DAU/MAU, active-account rate (the events table is empty). The KPIs
    above come from the accounts and subscriptions alone.
    >>> events_note(pd.DataFrame({"kpi": ["customers", *EVENT_KPIS]}))
    ''
    """
    check_lang(lang)
    have = set(summary["kpi"]) if "kpi" in summary else set()
    missing = [k for k in EVENT_KPIS if k not in have]
    if not missing:
        return ""
    names = t("sep.comma", lang).join(t(k, lang) for k in missing)
    why = (why or "").strip().rstrip(".。")
    return t("kpis.need_events", lang, kpis=names, why=why) if why else t("kpis.need_events_plain", lang, kpis=names)


def summary_view(summary: pd.DataFrame, lang: str = "en", currency: str = "USD") -> pd.DataFrame:
    """:func:`kpi_summary` as text for a report: labels, units, the interval next to the value."""
    check_lang(lang)

    def fmt(v, unit, signed=False):
        if pd.isna(v):
            return ""
        if unit == "ratio" and signed:  # a change of a rate is in percentage points
            return fmt_pp(100 * v, lang)
        if unit == "ratio":
            return fmt_pct(100 * v, lang)
        if unit == "currency":
            return ("+" if signed and v > 0 else "") + fmt_money(v, lang, currency)
        return f"{v:+,.0f}" if signed else f"{v:,.0f}"

    rows = []
    for r in summary.itertuples(index=False):
        value = fmt_interval(r.value, r.ci_low, r.ci_high, lang, fmt=lambda v, u=r.unit: fmt(v, u))
        rows.append({t("kpi", lang): t(r.kpi, lang), t("period", lang): fmt_date(r.period, lang, month_only=(
            pd.Timestamp(r.period).day == 1 and r.kpi not in ("dau_mau", "active_account_rate"))),
            t("value", lang): value, t("previous", lang): fmt(r.previous, r.unit),
            t("change", lang): fmt(r.change, r.unit, signed=True)})
    return pd.DataFrame(rows)


def definitions_view(summary: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """What each KPI of :func:`kpi_summary` is, in a sentence, for the rows it has (report 02's glossary defined
    the panel's metrics, and a reader found continuation rate and the revenue churn rates defined nowhere)."""
    check_lang(lang)
    return pd.DataFrame([{t("kpi", lang): t(k, lang), t("definition", lang): t(f"kpi_def.{k}", lang)}
                         for k in dict.fromkeys(summary["kpi"])])


# ----------------------------------------------------------------------------------------- plots
def _date_axis(ax, lang: str, max_ticks: int = 8) -> None:
    """Month ticks in the locale's form (:func:`engage_models._core.plots.date_axis`)."""
    date_axis(ax, lang, max_ticks)


def _month_labels(values, lang: str) -> list[str]:
    return [fmt_date(v, lang, month_only=True) for v in values]


def plot_kpi_trend(frame: pd.DataFrame, columns, x: str = "month", ax=None, lang: str = "en", band: bool = True):
    """Lines of KPI ``columns`` of ``frame`` over ``x``; a percent axis when every column is a rate.

    With a single column whose interval ``ci_low``/``ci_high`` is (:data:`INTERVAL_COLUMNS`; not ``dau_mau`` beside
    the active-account rate's interval) and ``band``, the interval is shaded.
    """
    check_lang(lang)
    columns = [columns] if isinstance(columns, str) else list(columns)
    ax = new_ax(ax, figsize=(10, 4))
    xs = pd.to_datetime(frame[x])
    for col in columns:
        ax.plot(xs, frame[col], marker="o", markersize=3, label=t(col, lang))
    if band and len(columns) == 1 and columns[0] in INTERVAL_COLUMNS and {"ci_low", "ci_high"} <= set(frame.columns):
        ax.fill_between(xs, frame["ci_low"], frame["ci_high"], alpha=0.2, linewidth=0, label=t("ci_band", lang))
    if all(c in RATIO_COLUMNS for c in columns):
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _date_axis(ax, lang)
    ax.set_xlabel(t(x, lang))
    if len(columns) == 1:
        ax.set_ylabel(t(columns[0], lang))
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_cohort_heatmap(cohorts: pd.DataFrame, value: str = "retention", ax=None, lang: str = "en",
                        annot: bool | None = None):
    """Heatmap of :func:`cohort_retention`: cohorts down, months since start across; censored cells blank.

    Cells are annotated with their percentage when the matrix is small enough to read (``annot=None``).
    """
    import seaborn as sns

    check_lang(lang)
    matrix = cohort_matrix(cohorts, value)
    ax = new_ax(ax, figsize=(min(2 + 0.45 * max(matrix.shape[1], 1), 14), 1.5 + 0.35 * max(len(matrix), 1)))
    if annot is None:
        annot = matrix.size <= 400
    vmax = 1.0 if value == "retention" else max(1.0, float(np.nanmax(matrix.to_numpy())) if matrix.size else 1.0)
    sns.heatmap(matrix, mask=matrix.isna(), vmin=0, vmax=vmax, cmap="viridis", annot=annot, fmt=".0%",
                annot_kws={"fontsize": 7}, cbar_kws={"label": t(value, lang), "format": "{x:.0%}"}, ax=ax,
                yticklabels=_month_labels(matrix.index, lang))
    ax.set_xlabel(t("months_since_start", lang))
    ax.set_ylabel(t("cohort", lang))
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(False)  # the theme's grid would show through the censored (blank) cells
    return ax


def plot_mrr_waterfall(bridge: pd.DataFrame, start=None, end=None, ax=None, lang: str = "en",
                       currency: str = "USD"):
    """The MRR bridge over months ``start``..``end`` of :func:`mrr_bridge` as a waterfall.

    Six bars: starting MRR (at the close of the month before ``start``), + new, + expansion, - contraction,
    - churn, and ending MRR (at the close of ``end``). Default: the last 12 months of ``bridge``.
    """
    check_lang(lang)
    b = bridge.copy()
    months = pd.to_datetime(b["month"], utc=True)
    if start is None:
        start = months.iloc[max(len(b) - 12, 0)]
    if end is None:
        end = months.iloc[-1]
    keep = (months >= _aware([_month_start(start)])[0]) & (months <= _aware([_month_start(end)])[0])
    b = b[keep.to_numpy()]
    if b.empty:
        raise ValueError("no month of the bridge between start and end")
    first, last = b.iloc[0]["start_mrr"], b.iloc[-1]["end_mrr"]
    steps = [("new", b["new"].sum()), ("expansion", b["expansion"].sum()),
             ("contraction", -b["contraction"].sum()), ("churn", -b["churn"].sum())]
    ax = new_ax(ax, figsize=(9, 4.5))
    labels = [t("start_mrr", lang)] + [t(k, lang) for k, _ in steps] + [t("end_mrr", lang)]
    colours = {"total": "#56677a", "up": "#009e73", "down": "#d55e00"}
    ax.bar(0, first, color=colours["total"])
    level = first
    for i, (_, v) in enumerate(steps, start=1):
        bottom = level if v >= 0 else level + v
        ax.bar(i, abs(v), bottom=bottom, color=colours["up" if v >= 0 else "down"])
        level += v
    ax.bar(len(steps) + 1, last, color=colours["total"])
    values = [first] + [v for _, v in steps] + [last]
    tops = [first] + list(np.cumsum([first] + [v for _, v in steps])[1:]) + [last]
    tops = [max(tp, tp - v) if 0 < i <= len(steps) else tp for i, (tp, v) in enumerate(zip(tops, values, strict=True))]
    for i, (v, top) in enumerate(zip(values, tops, strict=True)):
        sign = "+" if 0 < i <= len(steps) and v > 0 else ""
        ax.annotate(sign + fmt_money(v, lang, currency), (i, top), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, max(tops) * 1.08)
    ax.set_ylabel(t("mrr_total", lang))
    period = f"{fmt_date(b.iloc[0]['month'], lang, True)} – {fmt_date(b.iloc[-1]['month'], lang, True)}"
    ax.set_title(period, fontsize=10, fontweight="normal")
    ax.yaxis.set_major_formatter(money_axis(ax.yaxis, lang, currency))
    return ax


def plot_mrr_movements(bridge: pd.DataFrame, ax=None, lang: str = "en", currency: str = "USD"):
    """Monthly MRR movements of :func:`mrr_bridge` as bars: new and expansion up, contraction and churn down,
    with the net new MRR as a line."""
    check_lang(lang)
    ax = new_ax(ax, figsize=(10, 4))
    x = np.arange(len(bridge))
    colours = {"new": "#0072b2", "expansion": "#009e73", "contraction": "#e69f00", "churn": "#d55e00"}
    up = np.zeros(len(bridge))
    down = np.zeros(len(bridge))
    for k in MOVEMENTS:
        v = bridge[k].to_numpy(dtype=float)
        if k in ("new", "expansion"):
            ax.bar(x, v, bottom=up, color=colours[k], label=t(k, lang))
            up += v
        else:
            ax.bar(x, -v, bottom=down, color=colours[k], label=t(k, lang))
            down -= v
    ax.plot(x, bridge["net_new_mrr"], color="black", marker="o", markersize=3, label=t("net_new_mrr", lang))
    ax.axhline(0, color="grey", linewidth=0.8)
    step = max(1, -(-len(bridge) // 8))  # at most 8 labels: they must not run into each other
    ax.set_xticks(x[::step], _month_labels(bridge["month"].iloc[::step], lang), rotation=0, fontsize=8)
    ax.yaxis.set_major_formatter(money_axis(ax.yaxis, lang, currency))
    ax.set_ylabel(t("mrr_total", lang))
    ax.legend(frameon=False, fontsize=8, ncols=5)
    return ax
