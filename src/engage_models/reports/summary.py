"""The executive summary: a page for a reader with five minutes, built from what the other reports computed.

Everything here is a small view over results computed elsewhere (KPIs, the NPS waves, the health scores of
:mod:`engage_models.health.history`, the survival report's per-account values, the action list); nothing is
estimated twice.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .._core.i18n import LANGS, fmt_date, fmt_interval, fmt_money, fmt_pct, fmt_pp, p_is, t
from .._core.plots import BAND_COLOURS, new_ax
from ..health.views import card_labels, most_at_risk, probability_text


def nps_basis(waves: dict, lang: str = "en") -> str:
    """What the headline's NPS compares, in a sentence: the survey waves (their answer dates) or the quarters
    (the surveys stage's ``nps_headline``), and a newer wave or quarter passed over for having fewer than
    ``min_n`` answers so far (the headline said "the latest survey wave" of the wave before it)."""
    latest, previous = waves.get("latest"), waves.get("previous")
    if not latest:
        return ""
    key = "sum.nps_basis_wave" if waves.get("unit") == "wave" else "sum.nps_basis_period"
    if not previous:
        key += "_one"

    def span(r) -> str:
        return t("sep.date_span", lang, a=fmt_date(r["period"], lang), b=fmt_date(r.get("end"), lang))

    line = t(key, lang, latest=span(latest), previous=span(previous) if previous else "",
             n=f"{int(latest['n']):,}", n_prev=f"{int(previous['n']):,}" if previous else "")
    if waves.get("later"):  # the newest only: a wave just begun (two thin ones in a row are not met in practice)
        last = waves["later"][-1]
        line += " " + t("sum.nps_basis_later" if waves.get("unit") == "wave" else "sum.nps_basis_later_period",
                        lang, span=span(last), n=f"{int(last['n']):,}", min_n=waves.get("min_n", ""))
    return line


def headline(kpi: pd.DataFrame, nps_latest, nps_previous, nps_diff, lang: str = "en") -> pd.DataFrame:
    """The headline KPIs with their change: NRR, GRR, logo churn, NPS (interval), active-account rate."""
    rows = []
    k = kpi.set_index("kpi")

    def ratio(name):
        if name not in k.index:
            return
        r = k.loc[name]
        value = fmt_interval(r.value, r.ci_low, r.ci_high, lang, fmt=lambda v: fmt_pct(100 * v, lang))
        change = "" if pd.isna(r.change) else fmt_pp(100 * r.change, lang)
        rows.append({t("kpi", lang): t(name, lang), t("value", lang): value, t("change", lang): change})

    for name in ("nrr", "grr", "logo_churn_rate"):
        ratio(name)
    if nps_latest is not None:
        value = fmt_interval(nps_latest["nps"], nps_latest["ci_low"], nps_latest["ci_high"], lang, decimals=0,
                             signed=True, n=int(nps_latest["n"]))
        change = ""
        if nps_diff is not None:
            change = fmt_interval(nps_diff.difference, nps_diff.ci_low, nps_diff.ci_high, lang, decimals=0,
                                  signed=True)  # NPS points, with the interval every other change has
            if pd.notna(nps_diff.p_value):
                change = t("ci.p_value", lang, value=change, p=p_is(nps_diff.p_value))
        rows.append({t("kpi", lang): t("nps", lang), t("value", lang): value, t("change", lang): change})
    ratio("active_account_rate")
    return pd.DataFrame(rows)


def mrr_at_risk(scored_now: pd.DataFrame, level_z: float = 1.96) -> dict:
    """Expected MRR of the accounts that will churn within the horizon, ``sum p_i MRR_i``, with an interval.

    With calibrated probabilities and independent accounts the lost MRR has variance
    ``sum p_i (1 - p_i) MRR_i^2``; the interval is the normal approximation around the expectation.
    """
    p = scored_now["churn_probability"].astype(float).to_numpy()
    m = scored_now["mrr"].fillna(0).astype(float).to_numpy()
    exp = float(np.sum(p * m))
    sd = float(np.sqrt(np.sum(p * (1 - p) * m**2)))
    total = float(m.sum())
    return {"expected": exp, "ci_low": max(0.0, exp - level_z * sd), "ci_high": exp + level_z * sd,
            "mrr": total, "share": exp / total if total else np.nan,
            "accounts": float(p.sum())}


def risk_text(risk: dict, survival: dict | None, horizon_days: int, lang: str = "en", currency: str = "USD",
              survival_missing: str | None = None) -> str:
    """The money at risk in words: the health score's expected MRR lost within the horizon (with its interval),
    then the survival model's 3, 6 and 12 months, or why it has none (a page read "the survival model expects
    —, — and —"), and when that model's ranking of churn out of time could not be told from chance, that. The
    customers the survival model could not value (their start unknown: ``start_unknown`` in ``survival``) are
    counted with their MRR, which its figures leave out and the health score's include.

    >>> risk = {"expected": 900.0, "ci_low": 700.0, "ci_high": 1100.0, "share": 0.05, "accounts": 40}
    >>> surv = {"3": 500.0, "6": 900.0, "12": 1500.0, "start_unknown": {"customers": 1, "mrr": 250.0}}
    >>> risk_text(risk, surv, 90).split(". ")[-1][:75]
    'They leave out 1 customer whose start is unknown, with $250 of MRR a month,'
    """
    money = {k: fmt_money(risk[k], lang, currency) for k in ("expected", "ci_low", "ci_high")}
    text = t("sum.risk", lang, h=horizon_days, exp=money["expected"], lo=money["ci_low"], hi=money["ci_high"],
             share=fmt_pct(100 * risk["share"], lang), acc=risk["accounts"])
    if caveat := health_chance_caveat(risk.get("roc_auc"), lang):
        text += " " + caveat
    if survival and all(str(k) in survival for k in (3, 6, 12)):
        from ..survival.report import chance_caveat

        m = {k: fmt_money(survival[str(k)], lang, currency) for k in (3, 6, 12)}
        caveat = chance_caveat(survival.get("concordance"), lang)
        said = t("sum.risk_survival", lang, m3=m[3], m6=m[6], m12=m[12])
        if left := survival.get("start_unknown"):  # customers whose start is unknown are in the score, not here
            said += " " + (t("sum.risk_survival_unknown", lang, n=left["customers"]) if left.get("mrr") is None else
                           t("sum.risk_survival_unknown_mrr", lang, n=left["customers"],
                             mrr=fmt_money(left["mrr"], lang, currency)))
        return " ".join([text, said, *([caveat] if caveat else [])])
    if not survival_missing:
        return text
    return text + " " + t("sum.risk_survival_missing", lang, why=html.escape(survival_missing.rstrip(".")))


def churn_stop_line(model: dict | None, lang: str = "en") -> str:
    """One line for the executive summary when the accounts' churn stops before the data end: the health score
    learned and was tested on outcomes known by the stop only, and the rows it left out (the health stage's
    ``model.json``; :func:`engage_models.health.views.churn_stop_text`). Empty without a stop.

    >>> model = {"churn_stop": {"stop": "2024-06-30", "label_end": "2024-06-30", "rows": 1, "accounts": 1,
    ...                         "first": "2024-04-01", "last": "2024-04-01", "horizon_days": 90}}
    >>> churn_stop_line(model)[-40:]
    ', leaving out 1 row observed 1 Apr 2024.'
    >>> churn_stop_line({})
    ''
    """
    from ..health.views import churn_stop_text

    return churn_stop_text(model, lang, "sum.churn_stop")


def start_unknown(set_aside: list[dict] | None) -> dict | None:
    """The customers the survival stage could not value, from its ``set_aside`` entries (accounts whose start is
    unknown, with ``customers`` and ``mrr`` as :func:`~engage_models.survival.analysis.account_table` counts
    them): ``{"customers": n, "mrr": sum or None}``, or None when none is a customer (or nothing was set aside).

    >>> start_unknown([{"table": "events", "rows": 1}, {"accounts": ["a7"], "rows": 1, "customers": 1, "mrr": 250.0},
    ...                {"accounts": ["b2", "b3"], "rows": 2, "customers": 2, "mrr": None}])
    {'customers': 3, 'mrr': 250.0}
    >>> start_unknown([{"accounts": ["a7"], "rows": 1, "customers": 0, "mrr": None}]) is None
    True
    """
    unknown = [x for x in set_aside or [] if x.get("accounts") and x.get("customers")]
    if not unknown:
        return None
    mrrs = [x["mrr"] for x in unknown if x.get("mrr") is not None]
    return {"customers": sum(int(x["customers"]) for x in unknown), "mrr": float(sum(mrrs)) if mrrs else None}


def health_chance_caveat(auc: dict | None, lang: str = "en") -> str | None:
    """A sentence when the health score behind the MRR at risk ranked churn out of time in a way that could not be
    told from chance (the 95% interval of its backtest ROC-AUC holds 0.5, or lies below it), else None; the
    survival model's money has the same caveat (:func:`~engage_models.survival.report.chance_caveat`).

    >>> health_chance_caveat({"estimate": 0.49, "ci_low": 0.41, "ci_high": 0.57})[:44]
    'Out of time, the health score behind this fi'
    >>> health_chance_caveat({"estimate": 0.72, "ci_low": 0.69, "ci_high": 0.75}) is None
    True
    >>> health_chance_caveat({"estimate": None, "one_value": True})[-92:]  # a card of one value ranks nothing
    '(ROC-AUC not computed: one value): read the amount as a rough order of size, not a forecast.'
    """
    if auc and auc.get("one_value"):  # it predicted one value for every account: 0.500 (0.500 to 0.500) before
        return t("sum.risk_chance", lang, auc=t("hs.one_value_cell", lang))
    if not auc or pd.isna(auc.get("estimate")):
        return None
    lo = auc.get("ci_low")
    if (auc["estimate"] if lo is None or pd.isna(lo) else lo) > 0.5:
        return None
    return t("sum.risk_chance", lang, auc=fmt_interval(auc["estimate"], lo, auc.get("ci_high"), lang, decimals=3))


def band_shares(scored_now: pd.DataFrame) -> pd.DataFrame:
    g = scored_now.groupby("band").agg(accounts=("account_id", "size"), mrr=("mrr", "sum")).reindex(
        ["green", "yellow", "red"]).fillna(0)
    g["share"] = g["accounts"] / g["accounts"].sum()
    g["mrr_share"] = g["mrr"] / g["mrr"].sum() if g["mrr"].sum() else np.nan
    return g.reset_index()


def plot_bands(scored_now: pd.DataFrame, ax=None, lang: str = "en", currency: str = "USD"):
    """Two stacked bars: the share of accounts and of MRR in each band."""
    ax = new_ax(ax, figsize=(7, 2.4))
    g = band_shares(scored_now)
    for row, col in enumerate(("share", "mrr_share")):
        left = 0.0
        for _, r in g.iterrows():
            ax.barh(row, r[col], left=left, color=BAND_COLOURS[r["band"]], edgecolor="white")
            if r[col] > 0.06:
                text = f"{r[col]:.0%}" if col == "share" else f"{r[col]:.0%}\n{fmt_money(r['mrr'], lang, currency)}"
                ax.text(left + r[col] / 2, row, text, ha="center", va="center", fontsize=8, color="white")
            left += r[col]
    ax.set_yticks([0, 1], [t("accounts", lang), t("mrr_total", lang)])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xticks([])
    handles = [plt_patch(BAND_COLOURS[b], t(b, lang)) for b in ("green", "yellow", "red")]
    ax.legend(handles=handles, frameon=False, ncols=3, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.05))
    return ax


def plt_patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def learned_in_words(card: pd.DataFrame, lang: str = "en", k: int = 3) -> str:
    """What the model learned, in plain words: the metrics that move churn probability most, each way.

    Only weights whose 95% bootstrap interval excludes zero are named (missing-value indicators and
    categories are left to the full scorecard). A shape card (a ``kind`` column: ranges and points, no weight
    per standard deviation) states its change from the metric's 10th to its 90th percentile instead. A change
    that rounds to 0.0 pp is no metric that moves churn (a shape card on a CDNOW log said churn risk "rises most
    with ... features used (28 days) (+0.0 pp)"), so it is not named; without any metric to name, a sentence says so.
    """
    shape = "kind" in card.columns
    c = card[~card["feature"].str.contains("__missing|=", regex=True)]
    if c["ci_low"].notna().any():
        c = c[(c["ci_low"] > 0) | (c["ci_high"] < 0)]
    c = c[(100 * c["delta_churn_probability"]).round(1).abs() > 0]  # as fmt_pp shows it
    protect = c[c["delta_churn_probability"] < 0].nsmallest(k, "delta_churn_probability")
    harm = c[c["delta_churn_probability"] > 0].nlargest(k, "delta_churn_probability")

    def items(df):
        return t("sep.comma", lang).join(
            t("summary.effect", lang, label=label, value=fmt_pp(100 * r.delta_churn_probability, lang))
            for label, r in zip(card_labels(df, lang), df.itertuples(), strict=True))

    parts = []
    if len(protect):
        parts.append(t("sum.protect_range" if shape else "sum.protect", lang, items=items(protect)))
    if len(harm):
        parts.append(t("sum.harm", lang, items=items(harm)))
    return " ".join(parts) or t("sum.learned_none", lang)


def repeats_text(repeats: dict | None, lang: str = "en", drop: float = 10.0) -> tuple[str | None, str | None]:
    """The actions stage's ``repeats`` record in words: the score alerts an earlier run of the data folder already
    sent (None when there were none), and the new and repeated CRM tasks (None without the record: a run made
    before tasks were counted)."""
    if not repeats:
        return None, None
    alerts = (t("sum.alerts_repeated", lang, n=repeats["alerts_repeated"], days=repeats["alert_repeat_days"],
                drop=drop) if repeats.get("alerts_repeated") else None)
    repeated = repeats.get("tasks_repeated", 0)
    tasks = t("sum.crm_tasks" if repeated else "sum.crm_tasks_new", lang, new=repeats.get("tasks", 0),
              repeat=repeated, task_days=repeats.get("task_repeat_days", 0))
    return alerts, tasks


def top_at_risk(actions: pd.DataFrame, scored_now: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` accounts with the most MRR at risk (:func:`~engage_models.health.views.most_at_risk`), with their
    main driver (in every report language) and the play recommended for them."""
    s = most_at_risk(scored_now, n)
    plays = actions.drop_duplicates("account_id").set_index("account_id")["play_label"]
    out = s[[c for c in ("account_id", "name", "band", "churn_probability", "mrr", "mrr_at_risk") if c in s]].copy()
    for lang in LANGS:
        col = f"drivers_text_{lang}" if f"drivers_text_{lang}" in s else "drivers_text"
        texts = s[col] if col in s else pd.Series("", index=s.index)
        seps = [t("health.driver_sep", x) for x in (lang, *LANGS)]  # the text's own language's, first found

        def first(v, seps=seps):
            if not isinstance(v, str) or not v:
                return ""
            return v.split(next((sep for sep in seps if sep in v), seps[0]))[0]
        out[f"driver_{lang}"] = texts.map(first)
    out["play_label"] = out["account_id"].map(plays).fillna("")
    return out


def top_at_risk_view(top: pd.DataFrame, lang: str = "en", currency: str = "USD") -> pd.DataFrame:
    """:func:`top_at_risk` as a report table in ``lang``."""
    return pd.DataFrame({
        t("account_id", lang): top["account_id"], t("name", lang): top.get("name", ""),
        t("band", lang): top["band"].map(lambda b: t(b, lang)),
        t("churn_probability", lang): top["churn_probability"].map(probability_text),
        t("mrr_at_risk", lang): top["mrr_at_risk"].map(lambda v: fmt_money(v, lang, currency)),
        t("driver", lang): top[f"driver_{lang}"].map(lambda v: v or t("health.no_driver", lang)),
        t("play", lang): top["play_label"],
    }).reset_index(drop=True)


def nps_table_by(answers: pd.DataFrame, by: str, min_n: int = 30, method: str = "adjusted") -> pd.DataFrame:
    """NPS with its interval (``method``) and the number of answers per group of ``by`` (groups under ``min_n``
    flagged)."""
    from ..surveys import nps_table

    return nps_table(answers, by, min_n=min_n, method=method)


def nps_unmatched_text(info: dict | None, lang: str = "en") -> str:
    """The NPS-by-touch-model table's note: how many of the wave's answers came from accounts that are no longer
    customers (they have no touch model), or "" when none did.

    >>> print(nps_unmatched_text({"answers": 6299, "matched": 5643}))
    656 of the wave's 6,299 answers came from accounts that are no longer customers: they have no touch model.
    >>> nps_unmatched_text({"answers": 10, "matched": 10})
    ''
    """
    if not info or info["answers"] == info["matched"]:
        return ""
    return t("sum.nps_unmatched", lang, k=f"{info['answers'] - info['matched']:,}", n=f"{info['answers']:,}")


def nps_by(table: pd.DataFrame, by: str, lang: str = "en") -> pd.DataFrame:
    """:func:`nps_table_by` as a report table."""
    rows = []
    for r in table.itertuples():
        value = fmt_interval(r.nps, r.ci_low, r.ci_high, lang, decimals=0, signed=True)
        rows.append({t(by, lang): t(getattr(r, by), lang), t("nps", lang): value, t("responses", lang): f"{r.n:,}",
                     t("small_n", lang): t("yes", lang) if r.small_n else ""})
    return pd.DataFrame(rows)
