"""Tables and figures of the survival report (notebook 05), in English or Japanese.

Each function turns a result of :mod:`engage_models.survival` into what a reader sees: estimates with their
intervals as one cell (``12.3 (95% CI 10.1 to 14.2)``), labels through :func:`engage_models.i18n.t`, tables
through :func:`engage_models._core.display.table`. The notebook only calls these.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .._core.display import Table, table
from .._core.i18n import fmt_date, fmt_interval, fmt_money, fmt_number, fmt_p, fmt_pct, md_text, t
from .._core.plots import new_ax
from .curves import SurvivalCurves
from .value import plot_ltv, plot_revenue_at_risk  # noqa: F401  (re-exported for the notebook)


def header(info, lang: str = "en", currency: str = "USD") -> str:
    """One line: observation date, accounts, churned, left-truncated, observed since.

    ``info``: the survival stage's summary (a dict with ``as_of``, ``observed_from``, ``accounts``, ``churned``,
    ``left_truncated`` and ``set_aside``, the rows left out of the data's start and the accounts left out of the
    lifetimes, each said in a sentence; ``churn_stop``, the day the accounts' churn stops before the data end, with
    ``followed_until``, ``customers``, ``started_after_stop``, ``longest_followed`` and ``beyond_followed`` when the
    follow-up ended there, said too) or an
    :class:`~engage_models.survival.analysis.AccountData`.
    """
    if not isinstance(info, dict):
        lt = info.lifetimes
        info = {"as_of": info.as_of, "observed_from": info.observed_from, "accounts": len(lt),
                "churned": int(lt["event"].sum()), "left_truncated": int(lt["left_truncated"].sum()),
                "set_aside": info.set_aside}
    said = t("surv.header", lang, date=fmt_date(info["as_of"], lang), accounts=fmt_number(info["accounts"], lang),
             churned=fmt_number(info["churned"], lang), truncated=fmt_number(info["left_truncated"], lang),
             since=fmt_date(info["observed_from"], lang) if info.get("observed_from") is not None else "-")
    stop = []
    if info.get("churn_stop"):  # the follow-up ends at it; an artifact made before ran past it, said so
        day = fmt_date(pd.Timestamp(info["churn_stop"]), lang)
        stop = [t("surv.churn_stop", lang, stop=day, customers=info["customers"], after=info["started_after_stop"])
                if "followed_until" in info else t("surv.churn_stop_uncut", lang, stop=day)]
        if info.get("beyond_followed"):  # their values rest on the tail beyond the follow-up alone
            stop.append(t("surv.beyond_followed", lang, n=info["beyond_followed"],
                          months=fmt_number(info["longest_followed"], lang)))
    return " ".join([said, *(set_aside_note(x, lang, currency) for x in info.get("set_aside") or []), *stop])


def set_aside_note(x: dict, lang: str = "en", currency: str = "USD") -> str:
    """One sentence on rows left out of the data's start (a :meth:`~engage_models._core.time.DataStart.said` dict:
    one event mistyped as 1924 had made the data begin then), or on accounts left out of the lifetimes, their start
    unknown (the dict of :func:`~engage_models.survival.data.unknown_starts`, with the ``accounts``' ids)."""
    first, last = fmt_date(x["first"], lang), fmt_date(x["last"], lang)
    dates = first if first == last else t("sep.date_span", lang, a=first, b=last)
    if x.get("accounts"):
        ids = ", ".join(x["accounts"]) + (", ..." if x["rows"] > len(x["accounts"]) else "")
        said = t("surv.start_unknown", lang, n=fmt_number(x["rows"], lang), account=ids, column=x["column"],
                 dates=dates, start=fmt_date(x["start"], lang))
        if not x.get("customers"):  # none a customer now (or said before this count was kept)
            return said
        if x.get("mrr") is None:
            return said + " " + t("surv.start_unknown_customers", lang, n=x["customers"])
        return said + " " + t("surv.start_unknown_mrr", lang, n=x["customers"],
                              mrr=fmt_money(x["mrr"], lang, currency))
    return t("surv.set_aside", lang, n=fmt_number(x["rows"], lang), table=x["table"], column=x["column"], dates=dates,
             start=fmt_date(x["start"], lang))


def km_table(km, lang: str = "en", min_at_risk: int | None = None) -> Table:
    """Per group: accounts, churned, median lifetime with its interval, retention at 12 and 24 months with theirs
    (a Kaplan-Meier curve's pointwise 95% interval); a retention the curve does not reach says why (fewer than
    ``min_at_risk`` accounts at risk there; default the fitter's)."""
    s = km.summary
    n_min = min_at_risk if min_at_risk is not None else getattr(km, "min_at_risk", None)

    def retention(tm: int) -> list[str]:
        lo = s.get(f"retention_{tm}m_low", pd.Series(np.nan, index=s.index))
        hi = s.get(f"retention_{tm}m_high", pd.Series(np.nan, index=s.index))
        out = []
        start = s.get("from_months", pd.Series(0.0, index=s.index))
        for v, a, b, first in zip(s[f"retention_{tm}m"], lo, hi, start, strict=True):
            if pd.isna(v) and pd.notna(first) and tm < first:  # a curve conditional on reaching a later tenure
                out.append(t("surv.retention_before", lang, start=f"{first:.1f}"))
            elif pd.isna(v):
                out.append(t("surv.retention_beyond", lang, n=n_min) if n_min else "")
            elif pd.notna(a) and pd.notna(b):
                out.append(fmt_interval(100 * v, 100 * a, 100 * b, lang, fmt=lambda x: fmt_pct(x, lang), label=False))
            else:
                out.append(fmt_pct(100 * v, lang))
        return out

    out = pd.DataFrame({
        "group": [t(str(g), lang) for g in s["group"]],
        "accounts": s["accounts"].astype(int),
        "churned_accounts": s["churned"].astype(int),
        "surv.curve_from": s["from_months"].round(1),
        "median_months": [_median(m, lo, hi, lang) for m, lo, hi in zip(s["median_months"], s["median_low"],
                                                                         s["median_high"], strict=True)],
        "retention_12m": retention(12),
        "retention_24m": retention(24),
    })
    left_out = getattr(km, "left_out", None) or {}
    if left_out:  # groups without a curve are listed with why, not dropped in silence
        out = pd.concat([out, pd.DataFrame({
            "group": [t(str(g), lang) for g in left_out], "accounts": [v["accounts"] for v in left_out.values()],
            "churned_accounts": [v["churned"] for v in left_out.values()], "surv.curve_from": np.nan,
            "median_months": [t("surv.no_curve_few", lang, n=v["min_accounts"]) if v.get("min_accounts") else
                              t("surv.no_curve", lang, n=v["min_at_risk"]) for v in left_out.values()],
            "retention_12m": "", "retention_24m": ""})], ignore_index=True)
    shown = table(out, lang=lang)
    note = no_time_note(km, lang)
    return Table(shown.frame, f'{shown._repr_html_()}<p class="engage-note">{html.escape(note)}</p>') if note else shown


def no_time_note(km, lang: str = "en") -> str:
    """A sentence on the accounts left out of the curves with no time at risk (their follow-up ends at or before
    it starts: they left before the data begin), from a fitted Kaplan-Meier or its stored result; ``""`` if none."""
    gone = getattr(km, "no_time_at_risk", None) or getattr(km, "no_time_at_risk_", None) or {}
    if not gone.get("accounts"):
        return ""
    return t("surv.no_time_at_risk", lang, n=fmt_number(gone["accounts"], lang),
             churned=fmt_number(gone.get("churned", 0), lang))


def _median(m, lo, hi, lang):
    if not np.isfinite(m):
        return t("surv.not_reached", lang)
    return fmt_interval(m, lo, hi, lang, decimals=1)


def _term_label(term: str, lang: str) -> str:
    """``plan=Pro`` -> ``plan: Pro``; ``seats [t<=9.1]`` -> ``seats (tenure up to 9.1 months)``;
    ``log1p_logins_28d`` -> ``log(1 + logins (28 days))``; ``nps_latest_missing`` -> ``NPS ...: no value yet``."""
    if "+" in term and " [" not in term:  # near-duplicate covariates merged into one ("a+b")
        return " + ".join(_term_label(part, lang) for part in term.split("+"))
    base, _, rest = term.partition(" [")
    if rest:
        rest = rest.rstrip("]")
        key = "surv.term_early" if rest.startswith("t<=") else "surv.term_late"
        months = rest.removeprefix("t<=").removeprefix("t>")
        return t(key, lang, covariate=_term_label(base, lang), months=months)
    if term.startswith("log1p_") and t(term, lang) == term:
        return t("surv.log1p", lang, label=_term_label(term.removeprefix("log1p_"), lang))
    if term.endswith("_missing") and t(term, lang) == term:
        return t("surv.no_value", lang, label=_term_label(term.removesuffix("_missing"), lang))
    if "=" in term:
        col, lev = term.split("=", 1)
        return f"{t(col, lang)}: {t(lev, lang)}"
    return t(term, lang)


#: A ratio whose 95% interval spans more than this factor (high / low) says nothing: it is shown as not
#: estimable instead of "1,893.68 (0.00 to 25,175,755,495.29)" (ten accounts, two churned).
MAX_SPAN = 1e4


def ratio_cell(r, lo, hi, lang: str = "en") -> str:
    """A ratio with its interval, or "not estimable" in words when the interval spans more than ``MAX_SPAN``."""
    values = np.array([r, lo, hi], float)
    if not np.isfinite(values).all() or lo <= 0 or hi / lo > MAX_SPAN:
        return t("surv.not_estimable", lang)
    return fmt_interval(r, lo, hi, lang, decimals=2)


def ratio_table(summary: pd.DataFrame, lang: str = "en", ratio: str = "hazard_ratio") -> Table:
    """Covariate, ratio with its 95% interval (or "not estimable", :func:`ratio_cell`), p-value."""
    out = pd.DataFrame({
        "covariate": [_term_label(i, lang) for i in summary.index],
        f"{ratio}_ci": [ratio_cell(r, lo, hi, lang) for r, lo, hi in
                        zip(summary[ratio], summary["ci_low"], summary["ci_high"], strict=True)],
        "p": summary["p"].map(fmt_p),
    })
    return table(out, lang=lang)


def term_labels(summary: pd.DataFrame, lang: str = "en") -> dict[str, str]:
    return {i: _term_label(i, lang) for i in summary.index}


def plot_hazard_ratios(summary: pd.DataFrame, ax=None, lang: str = "en"):
    """Forest plot of a Cox model's hazard ratios (its ``summary``, indexed by term), terms in words."""
    from .cox import plot_forest

    return plot_forest(summary, ax=ax, lang=lang, labels=term_labels(summary, lang))


def driver_table(tv, discrete, lang: str = "en") -> Table:
    """Time-varying Cox hazard ratios per SD beside the discrete-time odds ratios per SD (the cross-check).

    ``tv`` and ``discrete``: the fitted models, or their ``summary_per_sd()`` tables (indexed by term).
    """
    a = tv if isinstance(tv, pd.DataFrame) else tv.summary_per_sd()
    if discrete is None:  # the cross-check could not be fitted: its column stays empty
        b = pd.DataFrame(columns=["odds_ratio", "ci_low", "ci_high"])
    else:
        b = discrete if isinstance(discrete, pd.DataFrame) else discrete.summary_per_sd()
    out = pd.DataFrame({
        "covariate": [_term_label(i, lang) + (" †" if a.loc[i, "per"] == "sd" else "") for i in a.index],
        "surv.hr_per_sd": [ratio_cell(r, lo, hi, lang) for r, lo, hi in
                           zip(a["hazard_ratio"], a["ci_low"], a["ci_high"], strict=True)],
        "p": a["p"].map(fmt_p),
        "surv.or_per_sd": [ratio_cell(b.loc[i, "odds_ratio"], b.loc[i, "ci_low"], b.loc[i, "ci_high"], lang)
                           if i in b.index else "" for i in a.index],
    })
    return table(out, lang=lang)


def plot_drivers(tv, ax=None, lang: str = "en"):
    """Forest plot of the time-varying Cox hazard ratios per SD (indicators per 0 -> 1)."""
    from .cox import plot_forest

    s = tv if isinstance(tv, pd.DataFrame) else tv.summary_per_sd()
    labels = {i: _term_label(i, lang) + (" †" if s.loc[i, "per"] == "sd" else "") for i in s.index}
    return plot_forest(s, ax=ax, lang=lang, labels=labels)


def ph_table(before, after=None, lang: str = "en") -> Table:
    """The Schoenfeld tests, one row per term, before (and after) the remedy; a categorical covariate's levels
    also together (its decision; the column is blank for a covariate of one term).

    ``before``: a fitted :class:`~engage_models.survival.CoxModel`, or its ``ph_test_`` table (then ``after`` is
    its ``ph_test_after_``, None when no remedy was needed).
    """
    if not isinstance(before, pd.DataFrame) and before is not None:
        before, after = before.ph_test_, before.ph_test_after_
    if before is None:
        return table(pd.DataFrame(), lang=lang)
    frames = [(before, "before")]
    if after is not None:
        frames.append((after, "after"))
    rows = []
    for df, stage in frames:
        for _, r in df.iterrows():
            joint = r.get("joint_df", 1) > 1 and pd.notna(r.get("joint_p"))
            rows.append({"covariate": _term_label(r["term"], lang), "test_statistic": r["test_statistic"],
                         "p": fmt_p(r["p"]), "surv.joint_p": fmt_p(r["joint_p"]) if joint else "",
                         "proportional": bool(r["proportional"]),
                         **({"surv.stage": t(f"surv.{stage}_remedy", lang)} if len(frames) > 1 else {})})
    return table(pd.DataFrame(rows), lang=lang, decimals=2)


def penalizer_table(results: pd.DataFrame | None, chosen: float, lang: str = "en", score: str = "cv_loglik",
                    sample: dict | None = None) -> Table:
    """The penalties tried with their cross-validated scores, the chosen one marked (empty when it was given).

    ``sample``: the model's ``penalizer_sample_`` when the penalties were tried on a sample of accounts
    (:func:`~.cox.penalty_sample`); the row marked is the one chosen there (``chosen / rows_scale``);
    :func:`penalizer_note` says how the strength was carried to every row.
    """
    if results is None:
        return table(pd.DataFrame({"penalizer": [chosen], "surv.chosen": [True]}), lang=lang, decimals=3)
    out = results.copy()
    on_sample = chosen / sample["rows_scale"] if sample else chosen
    out["surv.chosen"] = np.isclose(out["penalizer"].to_numpy(float), on_sample, rtol=1e-9, atol=0.0)
    keep = [c for c in _PENALIZER_COLUMNS if c in out]
    return table(out[keep], lang=lang, decimals=3)


def penalizer_note(sample: dict | None, chosen: float, lang: str = "en") -> str:
    """One sentence when the penalties were tried on a sample of accounts (else ``""``)."""
    if not sample:
        return ""
    return t("surv.penalizer_sample", lang, m=fmt_number(sample["sampled_accounts"], lang),
             n=fmt_number(sample["accounts"], lang), chosen=f"{chosen / sample['rows_scale']:g}",
             full=f"{chosen:.3g}")


_PENALIZER_COLUMNS = ("penalizer", "cv_loglik", "cv_loglik_sd", "cv_loglik_diff", "cv_loglik_diff_se", "within_1se",
                      "harrell_c", "concordance", "concordance_sd", "uno_c", "surv.chosen")


def evaluation_table(results: dict, lang: str = "en") -> Table:
    """Out-of-time concordance, AUC and mean predicted vs observed churn; one column per model.

    ``results`` maps a model's label (an i18n key) to its :func:`~.evaluation.evaluate_predictions` result.
    """
    cols = {}
    for key, result in results.items():
        rows = {t("harrell_c", lang): fmt_interval(result["harrell_c"], result.get("harrell_c_low"),
                                                   result.get("harrell_c_high"), lang, decimals=3),
                t("uno_c", lang): fmt_number(result["uno_c"], lang, 3)}
        for h, v in result["horizons"].items():
            if not v["evaluable"]:
                rows[t("surv.auc_at", lang, h=h)] = t("surv.not_evaluable", lang)
                continue
            rows[t("surv.auc_at", lang, h=h)] = fmt_number(v["auc"], lang, 3)
            pred, obs = fmt_pct(100 * v["predicted_churn"], lang), fmt_pct(100 * v["observed_churn"], lang)
            rows[t("surv.churn_pred_obs", lang, h=h)] = f"{pred} / {obs}"
        rows[t("accounts", lang)] = fmt_number(result["accounts"], lang)
        if any("penalizer" in r for r in results.values()):  # a refit at the cutoff needed a larger penalty
            pen = result.get("penalizer")
            rows[t("surv.oot_penalizer", lang)] = t("surv.oot_penalizer_same", lang) if pen is None else t(
                "surv.oot_penalizer_raised", lang, used=f"{pen['used']:.3g}", final=f"{pen['final']:.3g}")
        cols[t(key, lang)] = rows
    df = pd.DataFrame(cols)
    df.insert(0, t("metric", lang), df.index)
    return table(df.reset_index(drop=True), lang=lang, translate=False)


def chance_caveat(result: dict | None, lang: str = "en") -> str | None:
    """A sentence when a model's out-of-time concordance cannot be told from chance (its 95% interval holds 0.5,
    or lies below it), else None; ``result`` is :func:`~.evaluation.evaluate_predictions`' (the panel model's,
    whose curves make the remaining lifetimes, LTV and revenue at risk).

    A small world's panel model reached AUC 0.437 at 3 months out of time, and its LTV and revenue at risk went
    on to the executive summary without a word.

    >>> chance_caveat({"harrell_c": 0.48, "harrell_c_low": 0.41, "harrell_c_high": 0.55}, "en")[:40]
    'Out of time, the model behind these valu'
    >>> chance_caveat({"harrell_c": 0.70, "harrell_c_low": 0.64, "harrell_c_high": 0.76}) is None
    True
    """
    if not result:
        return None
    c, lo, hi = (result.get(k) for k in ("harrell_c", "harrell_c_low", "harrell_c_high"))
    if c is None or pd.isna(c):
        return None
    if lo is None or pd.isna(lo):  # no interval (an older artifact, too few churns): the estimate alone
        if c > 0.5:
            return None
    elif lo > 0.5:
        return None
    return t("surv.chance_caveat", lang, c=fmt_interval(c, lo, hi, lang, decimals=3))


def plot_calibrations(oots: dict, lang: str = "en"):
    """Calibration plots side by side, one per model (``oots``: label key -> :class:`OutOfTime` or its
    ``result`` dict, as the survival stage stores it)."""
    oots = {k: v if hasattr(v, "calibration") else _Calibrations(v) for k, v in oots.items()}
    import matplotlib.pyplot as plt

    from ..reports.render import show_missing
    from .evaluation import plot_calibration

    shown = {k: o for k, o in oots.items() if o.calibration()}  # a model with no horizon evaluable has no plot
    if not shown:  # every account churned before the cutoff's follow-up ended, or too short a follow-up
        follow = max((float(o.result.get("follow_up_months", 0.0)) for o in oots.values()), default=0.0)
        show_missing(t("section.missing", lang, reason=t("surv.no_calibration", lang,
                                                        months=fmt_number(follow, lang, 1))))
        return None
    oots = shown

    fig, axes = plt.subplots(1, len(oots), figsize=(5.5 * len(oots), 5), squeeze=False)
    top = max(max(float(tab[["predicted", "observed_high"]].max().max()) for tab in o.calibration().values())
              for o in oots.values())
    for ax, (key, oot) in zip(axes[0], oots.items(), strict=True):
        plot_calibration(oot.calibration(), ax=ax, lang=lang)
        lim = min(1.0, top * 1.05 + 0.01)
        ax.set_xlim(0, lim)
        ax.set_ylim(0, lim)
        ax.set_title(t(key, lang), fontsize=11)
    return axes[0]


class _Calibrations:
    """The calibration tables of a stored out-of-time result, as :class:`OutOfTime` offers them."""

    def __init__(self, result: dict):
        self.result = result

    def calibration(self) -> dict[float, pd.DataFrame]:
        return {float(h): pd.DataFrame(v["calibration"]) for h, v in self.result["horizons"].items()
                if v["evaluable"]}


def unseen_levels_note(intervals: dict | None, lang: str = "en") -> str:
    """A sentence per covariate of which some bootstrap refits of the values drew no account of a level (the
    survival stage's ``intervals``, its ``unseen_levels``): those refits valued its accounts as of the reference
    level, which widens their intervals. ``""`` when none did (or the run predates the count)."""
    said = [t("surv.unseen_levels", lang, k=fmt_number(u["refits"], lang), n=fmt_number(u["of"], lang),
              column=md_text(u["column"]), reference=md_text(u["reference"]))
            for u in (intervals or {}).get("unseen_levels") or []]
    return " ".join(said)


def value_table(values: pd.DataFrame, names: pd.Series | None = None, lang: str = "en", n: int = 10,
                currency: str = "USD") -> Table:
    """The ``n`` accounts with the highest LTV: tenure, MRR, expected remaining months, LTV and churn within 12
    months, with their intervals."""
    top = values.sort_values("ltv", ascending=False).head(n)
    has_ci = "ltv_low" in top
    out = pd.DataFrame({
        "account_id": top.index.astype(str),
        "name": names.reindex(top.index).astype(str).to_numpy() if names is not None else "",
        "tenure_now": top["tenure_months"].round(1),
        "mrr_total": top["mrr"].map(lambda v: fmt_money(v, lang, currency)),
        # without the bootstrap's bounds the headers claim no interval (they read "(95% CI)" over bare numbers)
        "remaining_ci" if has_ci else "expected_remaining_months": [
            fmt_interval(r["expected_remaining_months"], r.get("expected_remaining_months_low"),
                         r.get("expected_remaining_months_high"), lang)
            if has_ci else fmt_number(r["expected_remaining_months"], lang, 1) for _, r in top.iterrows()],
        "ltv_ci" if has_ci else "ltv": [fmt_interval(r["ltv"], r.get("ltv_low"), r.get("ltv_high"), lang,
                                                    fmt=lambda v: fmt_money(v, lang, currency))
                                       if has_ci else fmt_money(r["ltv"], lang, currency) for _, r in top.iterrows()],
    })
    if "churn_12m" in top:  # with its interval when the bootstrap gave one, as the remaining months and LTV
        out["churn_12m_ci" if "churn_12m_low" in top else "churn_12m"] = [
            fmt_interval(100 * r["churn_12m"], 100 * r["churn_12m_low"], 100 * r["churn_12m_high"], lang,
                         decimals=1, unit="%") if "churn_12m_low" in top else fmt_pct(100 * r["churn_12m"], lang)
            for _, r in top.iterrows()]
    return table(out, lang=lang, decimals=1)


def revenue_table(portfolio: pd.DataFrame, lang: str = "en", currency: str = "USD") -> Table:
    """Per horizon: expected churned MRR (share of MRR), lost MRR-months and churned accounts, with their intervals
    when the bootstrap gave them (without one, the headers do not say "95% CI" over cells that hold none)."""
    ci = "expected_churned_mrr_low" in portfolio
    ci_accounts = ci and "expected_churned_accounts_low" in portfolio and bool(
        portfolio["expected_churned_accounts_low"].notna().all())  # one column for the table, not a row's choice

    def money(r, col):
        return fmt_interval(r[col], r.get(f"{col}_low"), r.get(f"{col}_high"), lang,
                            fmt=lambda v: fmt_money(v, lang, currency)) if ci else fmt_money(r[col], lang, currency)

    def accounts(v):  # a sum of probabilities: whole accounts from 10 on (「94.3社」 read oddly), one decimal below
        return fmt_number(v, lang, 0 if round(v, 1) >= 10 else 1)

    rows = []
    for _, r in portfolio.iterrows():
        n = r["expected_churned_accounts"]
        lo, hi = r.get("expected_churned_accounts_low"), r.get("expected_churned_accounts_high")
        rows.append({
            "horizon_months": t("surv.next_months", lang, k=int(r["horizon_months"])),
            "expected_churned_mrr_ci" if ci else "expected_churned_mrr": money(r, "expected_churned_mrr"),
            "share_of_mrr": fmt_pct(100 * r["share_of_mrr"], lang),
            # money (times months): its currency
            "expected_lost_mrr_months_ci" if ci else "expected_lost_mrr_months": money(r, "expected_lost_mrr_months"),
            "expected_churned_accounts_ci" if ci_accounts else "expected_churned_accounts": (
                fmt_interval(n, lo, hi, lang, fmt=accounts) if ci_accounts else accounts(n)),
        })
    return table(pd.DataFrame(rows), lang=lang)


def ltv_summary(values: pd.DataFrame, simple: dict, lang: str = "en", currency: str = "USD", *,
                horizon: float | None = None, discount: float | None = None) -> str:
    """One sentence comparing the model-based LTV with the simple one, and (given ``horizon`` in months and the
    annual ``discount`` rate) one saying what the model-based LTV counts: a reader found its horizon stated
    nowhere."""
    basis = "" if horizon is None else " " + t(
        "surv.ltv_basis", lang, margin=fmt_pct(100 * simple["margin"], lang, 0), h=f"{horizon:g}",
        d=fmt_pct(100 * (discount or 0.0), lang, 0))
    return t("surv.ltv_sentence", lang, median=fmt_money(values["ltv"].median(), lang, currency),
             mean=fmt_money(values["ltv"].mean(), lang, currency),
             total=fmt_money(values["ltv"].sum(), lang, currency),
             simple=fmt_interval(simple["ltv"], simple["ltv_low"], simple["ltv_high"], lang,
                                 fmt=lambda v: fmt_money(v, lang, currency)),
             rate=fmt_pct(100 * simple["monthly_churn_rate"], lang, 2),
             margin=fmt_pct(100 * simple["margin"], lang, 0),  # the assumed margin, said where it is used
             arpa=fmt_money(simple["arpa"], lang, currency)) + basis


def example_accounts(values: pd.DataFrame) -> dict:
    """Three accounts: the lowest, median and highest predicted 12-month churn -> their role's catalogue key."""
    v = values.sort_values(["churn_12m"], kind="stable")
    return {v.index[0]: "surv.lowest_risk", v.index[len(v) // 2]: "surv.median_risk", v.index[-1]: "surv.highest_risk"}


def account_curve_table(curves: SurvivalCurves, t0, examples: dict, horizon: float = 36.0,
                        points: int = 145) -> pd.DataFrame:
    """Conditional survival ``S(t0 + u) / S(t0)`` for ``u`` in [0, horizon] of the ``examples`` accounts (from
    :func:`example_accounts`): ``account_id``, ``role``, ``months_from_now``, ``survival``."""
    u = np.linspace(0, horizon, points)
    t0 = pd.Series(np.broadcast_to(np.asarray(t0, float), (curves.n,)), index=curves.index)
    rows = []
    for acc, role in examples.items():
        j = curves.index.get_loc(acc)
        one = curves.subset([j])
        rows.append(pd.DataFrame({"account_id": str(acc), "role": role, "months_from_now": u,
                                  "survival": [one.conditional_survival(t0.iloc[j], x)[0] for x in u]}))
    return pd.concat(rows, ignore_index=True)


def curve_label(acc, role: str, values: pd.DataFrame | None = None, lang: str = "en") -> str:
    """An example curve's legend entry: its role, account ID and predicted 12-month churn (from ``values``, indexed
    by account), with its 95% interval when the bootstrap gave one (``churn_12m_low``/``_high``, as the value
    table and ``per_account.csv`` carry it).

    >>> values = pd.DataFrame({"churn_12m": [0.38, 0.05], "churn_12m_low": [0.31, None],
    ...                        "churn_12m_high": [0.45, None]}, index=["a1", "a2"])
    >>> curve_label("a1", "surv.highest_risk", values), curve_label("a2", "surv.lowest_risk", values)
    ('highest risk: a1, 38.0% (31.0% to 45.0%)', 'lowest risk: a2 (5.0%)')
    >>> curve_label("a1", "surv.highest_risk", values, "ja"), curve_label("a3", "surv.median_risk", values)
    ('最も高リスク: a1、38.0%（31.0%〜45.0%）', 'median risk: a3')
    """
    label = f"{t(role, lang)}: {acc}"
    if values is None or acc not in values.index or pd.isna(values.loc[acc, "churn_12m"]):
        return label
    row = values.loc[acc]
    lo, hi = (row.get(c) for c in ("churn_12m_low", "churn_12m_high"))
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return f"{label} ({fmt_pct(100 * row['churn_12m'], lang)})"
    return label + t("sep.comma", lang) + fmt_interval(100 * row["churn_12m"], 100 * lo, 100 * hi, lang, decimals=1,
                                                       unit="%", label=False)


def plot_account_curves(table: pd.DataFrame, values: pd.DataFrame | None = None, ax=None, lang: str = "en"):
    """The curves of :func:`account_curve_table`, labelled by role, account ID and predicted 12-month churn
    (from ``values``, indexed by account; :func:`curve_label`), under a legend title naming that churn. The account
    ID, not the name: figures are drawn in the report language's font, and names may be in another."""
    ax = new_ax(ax)
    horizon = float(table["months_from_now"].max())
    for (acc, role), g in table.groupby(["account_id", "role"], sort=False):
        ax.plot(g["months_from_now"], g["survival"], label=curve_label(acc, role, values, lang))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, horizon)
    ax.set_xlabel(t("surv.months_from_now", lang))
    ax.set_ylabel(t("surv.remaining_survival", lang))
    with_ci = values is not None and "churn_12m_low" in values and values["churn_12m_low"].notna().any()
    ax.legend(fontsize=9, title=t("churn_12m_ci" if with_ci else "churn_12m", lang) if values is not None else None,
              title_fontsize=9)
    return ax
