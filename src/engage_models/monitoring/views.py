"""What report 08 (model monitoring) and the executive summary show of the monitoring stage's artifacts.

Every function takes what the stage wrote (``info``, ``stability``, ``performance``, ``recommendation``,
``comparison``) and the report's language; words come from the locale catalogue, metric names from the registry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.i18n import fmt_date, fmt_interval, fmt_number, t
from .._core.plots import date_axis, error_bars, new_ax
from .._core.time import to_utc
from ..lifecycle.frozen import age_days, data_end_of, past_age_limit, saw_later
from .drift import PSI_LEVELS, counted


def _label(variable: str, lang: str) -> str:
    from ..features.metrics import label

    return t("monitoring.score", lang) if variable == "score" else label(variable, lang)


def header(info: dict, lang: str = "en") -> str:
    """Which model is monitored, where the data it saw ended (its age counts from there, as the retraining
    decision's does) and its last training date, and what it is compared with; and, past ``max_age_days`` (the
    stage's setting, in ``info``), that it is older than the limit: the recommendation says so only when it could
    be made, and a run whose stability was not computed said the age without a word of the limit; and, at a churn
    stop, the rows whose outcomes it does not take (:func:`churn_stop_text`)."""
    as_of, last = to_utc(info["as_of"]), to_utc(info["trained_until"])
    cut = to_utc(data_end_of(info.get("cutoff"), info["trained_until"]))
    days = age_days(cut, as_of)
    # a model trained in this run: "0 days before" read as a slip; a model whose data ended after this date (a
    # past date scored with a later model) was "-31 days before" it
    key = ("monitoring.header_later" if saw_later(cut, as_of) else "monitoring.header_now" if days == 0
           else "monitoring.header")
    text = t(key, lang, model=str(info.get("model_id", "")),
             cutoff=fmt_date(cut, lang),
             last=fmt_date(last, lang), as_of=fmt_date(as_of, lang), age=fmt_number(abs(days), lang),
             rows=fmt_number(info.get("reference_rows", 0), lang),
             frozen=t("monitoring.frozen" if info.get("frozen") else "monitoring.trained", lang))
    if past_age_limit(cut, as_of, info.get("max_age_days")):
        text += " " + t("monitoring.header_old", lang, max_age=int(info["max_age_days"]))
    stop = churn_stop_text(info, lang)
    return f"{text} {stop}" if stop else text


def churn_stop_text(info: dict, lang: str = "en") -> str:
    """At a churn stop, the rows observed since the model's training that no check of outcomes takes, their window
    running past the stop (the stage's ``info["churn_stop"]``), in one sentence; empty without a stop (the health
    report's sentence: :func:`engage_models.health.views.churn_stop_text`)."""
    from ..health.views import churn_stop_text as said

    return said(info, lang, "monitoring.churn_stop")


#: A reason's arguments that are dates (kept as ISO text in the recommendation's JSON), written as ``lang`` does
_DATE_ARGS = ("since", "as_of", "date")


def reason_text(reason: dict, lang: str = "en") -> str:
    """One reason of :func:`~engage_models.monitoring.recommend_retrain` in ``lang``, its dates as ``lang``
    writes them (a Japanese report 08 said 2024-10-01)."""
    if not reason.get("key"):
        return reason.get("detail", "")
    args = {k: fmt_date(v, lang) if k in _DATE_ARGS and v else v for k, v in reason.get("args", {}).items()}
    return t(reason["key"], lang, **args)


def recommendation_text(rec: dict, lang: str = "en") -> str:
    """The recommendation in words: retrain or not, each reason as a bullet, and each check that could not be made
    with its reason (a recommendation whose stability table failed lost its age reason, and said nothing of the
    drift it had not judged)."""
    psi = rec["psi"]
    checked = psi.get("available", True)  # a recommendation kept before the key: its drift was judged
    if rec.get("trained_now"):
        text = (t("monitoring.trained_now", lang, psi=f"{psi['score']:.2f}", over=len(psi["over"]),
                  n=len(psi["metrics"]), threshold=f"{psi['threshold']:g}") if checked
                else t("monitoring.trained_now_unchecked", lang))
        return " ".join([text, *_unavailable(rec, lang, skip=("calibration",))])
    if rec.get("later"):
        args = dict(cutoff=fmt_date(to_utc(rec["cutoff"]), lang), as_of=fmt_date(to_utc(rec["as_of"]), lang))
        text = (t("monitoring.later", lang, psi=f"{psi['score']:.2f}", over=len(psi["over"]), n=len(psi["metrics"]),
                  threshold=f"{psi['threshold']:g}", **args) if checked
                else t("monitoring.later_unchecked", lang, **args))
        return " ".join([text, *_unavailable(rec, lang, skip=("calibration",))])
    if not rec["retrain"]:
        if checked:
            text = t("monitoring.keep", lang, psi=f"{psi['score']:.2f}", over=len(psi["over"]),
                     n=len(psi["metrics"]), threshold=f"{psi['threshold']:g}", age=rec["age_days"],
                     max_age=rec.get("max_age_days", 180))
        else:
            text = t("monitoring.keep_unchecked", lang, age=rec["age_days"], max_age=rec.get("max_age_days", 180))
        return " ".join([text, *_not_counted(psi, lang), *_calibration_clear(rec, lang), *_unavailable(rec, lang)])
    lines = [t("monitoring.retrain", lang)] + [f"- {reason_text(r, lang)}" for r in rec["reasons"]]
    return "\n\n".join(["\n".join(lines), *_drift_clear(rec, lang), *_not_counted(psi, lang),
                        *_calibration_clear(rec, lang), *_unavailable(rec, lang)])


def _drift_clear(rec: dict, lang: str) -> list[str]:
    """Beside reasons of another kind, the drift check that found none, with its numbers: a recommendation to
    retrain for age alone said nothing of the metric its table marked past the threshold."""
    psi = rec["psi"]
    if not psi.get("available", True) or any(r.get("kind") == "drift" for r in rec["reasons"]):
        return []
    args = dict(psi=f"{psi['score']:.2f}", n=len(psi["metrics"]), over=len(psi["over"]),
                threshold=f"{psi['threshold']:g}", share=f"{psi.get('share', 0.0):.0%}",
                min_share=f"{psi.get('metric_psi_share', 0.15):.0%}")
    if psi.get("score_noise"):  # a score PSI past the threshold "gives no reason" only beside its chance level
        return [t("monitoring.drift_clear_noise", lang, chance=f"{psi['chance_psi']['score']:.2f}",
                  accounts=psi.get("n", 0), **args)]
    return [t("monitoring.drift_clear", lang, **args)]


def _calibration_clear(rec: dict, lang: str) -> list[str]:
    """The calibration check that found no reason, with its numbers and interval (the verdict said only "within its
    interval or not yet measurable")."""
    c = rec.get("calibration") or {}
    if not c.get("available") or c.get("off") or any(r.get("kind") == "calibration" for r in rec["reasons"]):
        return []

    def pp(v):
        return f"{v * 100:+.1f}"

    return [t("monitoring.calibration_clear", lang, n=int(c["n"]), since=fmt_date(to_utc(rec["trained_until"]), lang),
              observed=f"{c['observed']:.1%}", predicted=f"{c['predicted']:.1%}",
              difference=pp(c["difference"]), lo=pp(c["ci_low"]), hi=pp(c["ci_high"]))]


def _unavailable(rec: dict, lang: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Each check of the recommendation that could not be made, with its reason in ``lang`` (a model trained in
    this run or a past date's later model skips the calibration: nothing could have matured, by design)."""
    from .._core.reasons import stored, text

    return [t("monitoring.unavailable", lang, check=t(f"monitoring.check.{u['check']}", lang),
              why=text(stored(u.get("why", ""), u.get("texts")), lang))
            for u in rec.get("unavailable", []) if u.get("check") not in skip]


def _not_counted(psi: dict, lang: str) -> list[str]:
    """The notes on the PSIs past the threshold not counted as drift: like one training date's, or noise."""
    if not psi.get("available", True):
        return []
    return [*([_usual_text(psi, lang)] if psi.get("usual") else []),
            *([_noise_text(psi, lang)] if psi.get("noise") or psi.get("score_noise") else [])]


def _noise_text(psi: dict, lang: str) -> str:
    """The PSIs past the threshold that sampling alone gives on so few rows, named with that level in brackets
    (not counted)."""
    items = [(t("monitoring.score", lang), psi["score"], psi["chance_psi"]["score"])] if psi.get("score_noise") else []
    items += [(_label(m, lang), psi["metrics"][m], psi["chance_psi"][m]) for m in psi.get("noise", [])]
    return t("monitoring.noise_note", lang, k=len(items), n=psi.get("n", 0), threshold=f"{psi['threshold']:g}",
             names=_named(items, lang))


def _usual_text(psi: dict, lang: str) -> str:
    """The metrics past the threshold whose rows look like one training date's, named (not counted)."""
    items = [(_label(m, lang), psi["metrics"][m], psi["nearest_psi"][m]) for m in psi["usual"]]
    return t("monitoring.usual_note", lang, k=len(items), threshold=f"{psi['threshold']:g}",
             names=_named(items, lang))


#: The PSIs a note names; the rest are counted ("and 16 more"): the table below lists them all. A thin world's
#: noise note named 21 PSIs in one sentence.
NAMED_MAX = 5


def _named(items: list[tuple[str, float, float]], lang: str) -> str:
    """``(name, PSI, level in brackets)`` items as a list in ``lang``, the largest PSIs first: at most
    :data:`NAMED_MAX` named, the rest counted (the table below lists them all); Japanese brackets are full-width.

    >>> _named([("a", 0.31, 0.4), ("b", 0.52, 0.6)], "ja")
    'b 0.52（0.60）、a 0.31（0.40）'
    >>> _named([(f"m{i}", 0.2 + i / 100, 0.3) for i in range(7)], "en")
    'm6 0.26 (0.30); m5 0.25 (0.30); m4 0.24 (0.30); m3 0.23 (0.30); m2 0.22 (0.30) and 2 more in the table below'
    """
    ranked = sorted(items, key=lambda x: -x[1])
    named = t("sep.list", lang).join(t("sep.value_bracket", lang, value=f"{name} {v:.2f}", bracket=f"{c:.2f}")
                                     for name, v, c in ranked[:NAMED_MAX])
    rest = len(ranked) - NAMED_MAX
    return named + (t("monitoring.named_more", lang, n=rest) if rest > 0 else "")


def summary_line(rec: dict, lang: str = "en") -> str:
    """One line for the executive summary."""
    if rec["retrain"]:
        kinds = sorted({r["kind"] for r in rec["reasons"]}, key=["drift", "calibration", "age"].index)
        return t("sum.monitoring.retrain", lang, reasons=t("monitoring.and", lang).join(
            t(f"monitoring.kind.{k}", lang) for k in kinds))
    checked = rec["psi"].get("available", True)
    if rec.get("trained_now"):
        return (t("sum.monitoring.trained_now", lang, psi=f"{rec['psi']['score']:.2f}") if checked
                else t("sum.monitoring.trained_now_unchecked", lang))
    if rec.get("later"):
        return t("sum.monitoring.later", lang, cutoff=fmt_date(to_utc(rec["cutoff"]), lang))
    if not checked:
        return t("sum.monitoring.keep_unchecked", lang, age=rec["age_days"])
    return t("sum.monitoring.keep_now" if rec["age_days"] == 0 else "sum.monitoring.keep", lang,
             psi=f"{rec['psi']['score']:.2f}", age=rec["age_days"])


def stability_view(stability: pd.DataFrame, lang: str = "en", threshold: float = PSI_LEVELS[1]) -> pd.DataFrame:
    """The PSI per variable at the date the retraining decision judges (the table's ``judged`` rows: the latest
    date on the training rows' calendar; the latest date in a table without the column), the score first, then the
    metrics from the largest shift down. The latest date was shown before: a weekly run's mid-month date, whose
    28-day windows straddle two months, showed metrics "past the threshold" the decision had not counted."""
    now = stability[stability["as_of"] == _judged(stability)].copy()
    now["order"] = np.where(now["kind"] == "score", np.inf, now["psi"])
    now = now.sort_values("order", ascending=False, kind="stable")
    usual = now["usual"].astype(bool) if "usual" in now else pd.Series(False, index=now.index)
    noise = now["chance"].astype(bool) if "chance" in now else pd.Series(False, index=now.index)
    level = [t(f"monitoring.level.{x}", lang) + (t("monitoring.level.as_usual", lang) if u and x != "stable" else "")
             + (t("monitoring.level.noise", lang) if c and x != "stable" else "")
             for x, u, c in zip(now["level"], usual, noise, strict=True)]
    return pd.DataFrame({
        t("monitoring.variable", lang): [_label(v, lang) for v in now["variable"]],
        "PSI": now["psi"].round(3).to_numpy(),
        t("monitoring.chance", lang): (now["psi_chance"].round(3) if "psi_chance" in now else np.nan),
        t("monitoring.usual", lang): (now["psi_nearest"].round(3) if "psi_nearest" in now else np.nan),
        t("monitoring.level", lang): level,
        t("monitoring.mean_reference", lang): now["mean_reference"].to_numpy(),
        t("monitoring.mean_now", lang): now["mean"].to_numpy(),
        t("monitoring.over", lang): counted(now, threshold).to_numpy(),  # the rule the decision counts by
    })


def _judged(stability: pd.DataFrame):
    """The date of the table's ``judged`` rows (the retraining decision's date); the latest date in a table
    without the column."""
    judged = stability["judged"].eq(True) if "judged" in stability else pd.Series(False, index=stability.index)
    return stability.loc[judged, "as_of"].iloc[0] if judged.any() else stability["as_of"].max()


def plot_psi(stability: pd.DataFrame, lang: str = "en", threshold: float = PSI_LEVELS[1], n_metrics: int = 6,
             ax=None):
    """PSI over the observation dates since training: the score (bold), the level sampling alone gives the score's
    PSI on each date's number of accounts (99%: a thin panel's PSIs pass 0.25 by chance), and the metrics that moved
    most at the date the retraining decision judges (the table's ``judged`` rows), the one report 08's table shows.
    They were picked at the latest date: a weekly run's mid-month date, whose 28-day windows straddle two months,
    drew the metrics that moved there beside a judgement and a table about the month start."""
    ax = new_ax(ax, figsize=(10, 4))
    now = stability[stability["as_of"] == _judged(stability)]
    top = now[now["kind"] == "metric"].nlargest(n_metrics, "psi")["variable"].tolist()
    for var in ["score", *top]:
        d = stability[stability["variable"] == var]
        ax.plot(d["as_of"], d["psi"], marker="o", lw=2.5 if var == "score" else 1.2,
                color="black" if var == "score" else None, label=_label(var, lang))
    if "psi_chance" in stability:  # on few accounts every line passed 0.25, the text said by chance, the plot not
        d = stability[stability["kind"] == "score"]
        ax.plot(d["as_of"], d["psi_chance"], color="black", ls="-.", lw=1, label=t("monitoring.chance_line", lang))
    for level, style in zip(PSI_LEVELS, (":", "--"), strict=True):
        ax.axhline(level, color="grey", ls=style, lw=1)
    if threshold not in PSI_LEVELS:
        ax.axhline(threshold, color="red", ls="--", lw=1)
    ax.set_ylabel(t("monitoring.psi_axis", lang))
    ax.set_xlabel(t("as_of", lang))
    date_axis(ax, lang)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def _auc_cell(auc, low, high, lang: str) -> str:
    """ROC-AUC with its interval; "(no interval)" when its resamples could not give one (a few churning accounts:
    more than 2.5% of the resamples hold one outcome), where a bare number read as exact; "—" without an AUC.

    >>> _auc_cell(0.71234, 0.6, 0.8, "en"), _auc_cell(0.71234, float("nan"), float("nan"), "en")
    ('0.712 (0.600 to 0.800)', '0.712 (no interval)')
    """
    if pd.isna(auc):
        return "\u2014"
    cell = fmt_interval(auc, low, high, lang, decimals=3, label=False)
    return cell if pd.notna(low) and pd.notna(high) else t("hs.no_interval_cell", lang, est=cell)


def _no_interval(cell: str, low, high, lang: str) -> str:
    """``cell`` followed by "(no interval)" when a bound is missing (a paired difference whose resamples could not
    give one: :func:`~engage_models.health.evaluation.paired_difference`)."""
    return cell if not cell or (pd.notna(low) and pd.notna(high)) else t("hs.no_interval_cell", lang, est=cell)


def performance_view(perf: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Per observation date (and all together): rows, accounts, rows and accounts that churned, observed against
    predicted churn, their difference and ROC-AUC, each with its 95% interval."""
    def pct(v):
        return f"{v * 100:.1f}%"

    def pp(v):
        return f"{v * 100:+.1f}"

    dates = [t("monitoring.all_dates", lang) if s == "all" else fmt_date(d, lang)
             for s, d in zip(perf["scope"], perf["as_of"], strict=True)]
    return pd.DataFrame({
        t("as_of", lang): dates,
        t("rows", lang): perf["n"].astype(int).to_numpy(),
        t("monitoring.accounts", lang): perf["accounts"].astype(int).to_numpy(),
        t("monitoring.churners", lang): perf["churners"].astype(int).to_numpy(),
        # a table kept before the column: its cells are left blank, not guessed
        t("monitoring.churned_accounts", lang): (perf["churned_accounts"].astype("Int64").to_numpy()
                                                 if "churned_accounts" in perf else pd.NA),
        t("monitoring.observed", lang): [
            fmt_interval(o, lo, hi, lang, fmt=pct, label=False)
            for o, lo, hi in zip(perf["observed"], perf["observed_low"], perf["observed_high"], strict=True)],
        t("monitoring.predicted", lang): [pct(p) for p in perf["predicted"]],
        t("monitoring.difference", lang): [fmt_interval(d, lo, hi, lang, fmt=pp, label=False) for d, lo, hi in
                                           zip(perf["difference"], perf["ci_low"], perf["ci_high"], strict=True)],
        "ROC-AUC": [_auc_cell(a, lo, hi, lang) for a, lo, hi in zip(perf["auc"], perf["auc_low"], perf["auc_high"],
                                                                   strict=True)],
    })


def plot_performance(perf: pd.DataFrame, lang: str = "en", axes=None):
    """Observed churn (with its interval) against the mean prediction, and ROC-AUC with its interval, by date."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    d = perf[perf["scope"] == "date"]
    x = pd.to_datetime(d["as_of"])
    a = axes[0]
    a.errorbar(x, d["observed"] * 100, yerr=error_bars(d["observed"], d["observed_low"], d["observed_high"]) * 100,
               fmt="o", capsize=3, label=t("monitoring.observed", lang))
    a.plot(x, d["predicted"] * 100, "s--", color="grey", label=t("monitoring.predicted", lang))
    a.set_ylabel(t("monitoring.churn_axis", lang))
    a.legend(fontsize=8)
    date_axis(a, lang)
    b = axes[1]
    ok = d["auc"].notna().to_numpy()
    b.errorbar(x[ok], d["auc"][ok], yerr=error_bars(d["auc"][ok], d["auc_low"][ok], d["auc_high"][ok]), fmt="o",
               capsize=3)
    b.axhline(0.5, color="grey", ls=":", lw=1)
    b.set_ylabel("ROC-AUC")
    date_axis(b, lang)
    return axes


def comparison_view(cmp: dict, lang: str = "en") -> pd.DataFrame:
    """The new model and the one it replaced on the same matured labels, and the paired difference."""
    def pp(v):
        return f"{v * 100:+.1f}"

    rows = []
    for name in ("new", "old"):
        m = cmp["models"][name]
        rows.append({t("monitoring.model", lang): t(f"monitoring.{name}_model", lang),
                     "ROC-AUC": _auc_cell(m["auc"], m["auc_low"], m["auc_high"], lang),
                     # a probability: fmt_pct takes points, and gave "0.1%" for 10%
                     t("monitoring.predicted", lang): f"{m['predicted'] * 100:.1f}%",
                     t("monitoring.difference", lang): fmt_interval(m["calibration"], m["calibration_low"],
                                                                    m["calibration_high"], lang, fmt=pp,
                                                                    label=False)})
    d = cmp["difference"]
    rows.append({t("monitoring.model", lang): t("monitoring.new_minus_old", lang),
                 "ROC-AUC": _no_interval(fmt_interval(d["auc"], d["auc_low"], d["auc_high"], lang, decimals=3,
                                                      signed=True, label=False), d["auc_low"], d["auc_high"], lang),
                 t("monitoring.predicted", lang): "",
                 t("monitoring.difference", lang): t("monitoring.abs_error", lang, value=_no_interval(fmt_interval(
                     d["abs_calibration"], d["abs_calibration_low"], d["abs_calibration_high"], lang, fmt=pp,
                     label=False), d["abs_calibration_low"], d["abs_calibration_high"], lang))})
    return pd.DataFrame(rows)


def comparison_text(cmp: dict, lang: str = "en") -> str:
    return t("monitoring.comparison", lang, n=fmt_number(cmp["n"], lang), accounts=fmt_number(cmp["accounts"], lang),
             churners=fmt_number(cmp["churners"], lang), since=fmt_date(to_utc(cmp["since"]), lang),
             old=str(cmp.get("old_model", ""))[:12])
