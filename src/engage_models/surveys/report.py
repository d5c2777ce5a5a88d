"""Report views: the analysis tables reshaped for readers (translated values, estimates with intervals).

The analysis functions return raw numbers (``nps``, ``ci_low``, ``ci_high``); a report shows one column
"NPS (95% CI)" written with :func:`engage_models.i18n.fmt_interval`, category and trigger names in the
report's language, and the response counts next to every estimate. Headers are translated later by
:func:`engage_models._core.display.table`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._core.i18n import fmt_date, fmt_interval, fmt_number, fmt_p, p_is, t

#: Columns whose *values* are label keys (category names, triggers, ...), with the key prefix if any.
VALUE_KEYS = {"category": "", "trigger": "", "priority": "", "theme": "theme.", "time_to_close": "",
              "trend": "", "lang": "lang.", "survey_type": ""}


def translate_values(df: pd.DataFrame, lang: str = "en", columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``df`` with label values (``'promoter'``, ``'ticket_close'``, themes ...) in the report's language."""
    out = df.copy()
    for col in columns or [c for c in VALUE_KEYS if c in df]:
        prefix = VALUE_KEYS.get(col, "")
        out[col] = out[col].map(lambda v, p=prefix: t(p + str(v), lang) if isinstance(v, str) and v else v)
    return out


def group_label(value, lang: str = "en") -> str:
    """A group's value as a reader sees it: translated where the catalogue has a word for it, and the report's word
    for missing (``(missing)``) for an empty one (an account without a segment, which the contract allows, showed as
    an empty cell or "None")."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or not str(value).strip():
        return t("(missing)", lang)
    return t(str(value), lang)


def _groups_named(df: pd.DataFrame, by: Sequence[str], lang: str) -> pd.DataFrame:
    """``df`` with the empty values of its group columns ``by`` (not the periods) said as missing."""
    out = df.copy()
    for col in by:
        if col != "period" and col in out:
            empty = out[col].isna() | (out[col].astype(str).str.strip() == "")
            out[col] = out[col].astype(object).where(~empty, t("(missing)", lang))
    return out


def header_line(info: dict, as_of, horizon_days: int, lang: str = "en") -> str:
    """Report 03's first line: the observation date, the NPS answers and their accounts, the CSAT the report reads
    (the survey answers, and the tickets' own scores where no answer names the ticket, said as such: it said "0
    CSAT answers" above a section of the tickets' scores), the churn horizon and the small-n threshold.

    >>> print(header_line({"answers": 40, "accounts": 12, "csat_answers": 0, "csat_ticket_scores": 147, "min_n": 30},
    ...                   "2025-03-01", 90))  # doctest: +NORMALIZE_WHITESPACE
    Observation date **1 Mar 2025** · 40 NPS answers from 12 accounts · 0 CSAT survey answers and 147 CSAT scores
    kept on tickets · churn horizon **90 days** · groups under 30 answers are flagged *small n*.
    """
    own = info.get("csat_ticket_scores") or 0  # a run written before the count was kept: answers only
    csat = (t("voc.header_csat_tickets", lang, n=fmt_number(info["csat_answers"]), k=fmt_number(own)) if own
            else t("voc.header_csat", lang, n=fmt_number(info["csat_answers"])))
    return t("voc.header", lang, date=fmt_date(as_of, lang), n_nps=fmt_number(info["answers"]),
             n_accounts=fmt_number(info["accounts"]), csat=csat, h=horizon_days, min_n=info["min_n"])


def with_interval(df: pd.DataFrame, est: str, low: str, high: str, name: str, lang: str = "en",
                  decimals: int = 1, unit: str = "") -> pd.DataFrame:
    """Replace three columns by one text column ``name``: 'estimate (95% CI low to high)'."""
    text = [fmt_interval(e, lo, hi, lang, decimals, unit) for e, lo, hi in zip(df[est], df[low], df[high],
                                                                              strict=True)]
    pos = list(df.columns).index(est)
    out = df.drop(columns=[est, low, high])
    out.insert(pos, name, text)
    return out


def comments_in(comments: pd.DataFrame, lang: str, by: Sequence[str] = ("theme", "category")) -> pd.DataFrame:
    """For each group (``by``: theme and category), its comments in the report's language where there are any (a
    report in Japanese quotes Japanese customers), else those of one other language (a theme only English
    customers spoke of still has its example); a table without a ``lang`` column as it is."""
    if "lang" not in comments or comments.empty:
        return comments
    keys = [c for c in by if c in comments]
    groups = comments.groupby(keys, sort=False, dropna=False).groups.values() if keys else [comments.index]
    keep = pd.Series(False, index=comments.index)
    for idx in groups:
        langs = comments.loc[idx, "lang"]
        keep[idx] = langs == (lang if (langs == lang).any() else langs.iloc[0])
    return comments[keep].reset_index(drop=True)


def language_first(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame``'s rows in the report's language first (a ``lang`` column), the others after, each in its order."""
    if "lang" not in frame:
        return frame
    return frame.sort_values("lang", key=lambda s: s != lang, kind="stable").reset_index(drop=True)


def wave_change_line(change: dict, lang: str = "en") -> str:
    """The sentence comparing the latest period's NPS with the one before (the surveys stage's ``nps_wave_change``),
    and, when either period has fewer than ``min_n`` answers, that it does and how many: a survey wave whose last
    days fall into the next month made a "latest period" of 9 answers, compared in the headline without a word."""
    from .net_promoter import NPSDifference

    if change.get("unit") == "wave":  # the survey's waves, by their answers' first and last days
        def when(k):
            return t("sep.date_span", lang, a=fmt_date(change[k], lang), b=fmt_date(change.get(f"{k}_end"), lang))
    else:
        def when(k):
            return fmt_date(change[k], lang, month_only=True)
    line = t("voc.wave_change_wave" if change.get("unit") == "wave" else "voc.wave_change", lang, a=when("a"),
             b=when("b"), na=f"{change['nps_a']:.1f}", nb=f"{change['nps_b']:.1f}",
             diff=NPSDifference(**change["difference"]).text(lang))
    thin = [(k, change[f"n_{k}"]) for k in ("b", "a")
            if change.get(f"n_{k}") is not None and change[f"n_{k}"] < change.get("min_n", 0)]
    if thin:
        line += " " + t("voc.wave_change_thin", lang, periods=t("sep.comma", lang).join(
            t("voc.period_answers", lang, period=when(k), n=f"{n:,}") for k, n in thin),
            min_n=change["min_n"])
    return line


def nps_overall_line(overall, info: dict, change: dict | None = None, lang: str = "en",
                     answers: pd.DataFrame | None = None, headline: dict | None = None) -> str:
    """Report 03's first NPS sentence: the NPS of every answer (an :class:`~engage_models.surveys.NPSEstimate`),
    the dates it covers (the surveys stage's ``info``: first to last answer), and that the latest survey wave or
    period is compared below (``change``, the stage's ``nps_wave_change``; ``None`` with one only) and is what the
    executive summary quotes: an executive read one NPS here and another in the summary, with no word why.

    ``headline`` (the stage's ``nps_headline``, what the summary quotes): when a newer wave or quarter has fewer
    than ``min_n`` answers so far, the summary quotes the one before, which the sentence then names (it said "the
    latest survey wave" of a wave the summary passed over). ``answers`` (the NPS answers) give the dates when
    ``info`` was written before it kept them.
    """
    from .data import answer_span

    first, last = info.get("first_answer"), info.get("last_answer")
    if (first is None or last is None) and answers is not None:
        first, last = answer_span(answers)
    n = max(overall.n, 1)
    line = t("voc.nps_overall", lang, est=fmt_interval(overall.nps, overall.ci_low, overall.ci_high, lang),
             n=fmt_number(overall.n), span=t("sep.date_span", lang, a=fmt_date(first, lang), b=fmt_date(last, lang)),
             p=f"{100 * overall.promoters / n:.1f}", d=f"{100 * overall.detractors / n:.1f}",
             method=t(f"nps.method.{overall.method}", lang))  # surveys.ci_method: it was "adjusted Wald" always
    if headline and headline.get("later") and change is not None:
        quoted, newest = headline["latest"], headline["later"][-1]
        key = "voc.nps_overall_wave_thin" if headline.get("unit") == "wave" else "voc.nps_overall_period_thin"
        return line + " " + t(key, lang, span=t("sep.date_span", lang, a=fmt_date(quoted["period"], lang),
                                                 b=fmt_date(quoted.get("end"), lang)),
                              n=fmt_number(quoted["n"]), min_n=headline.get("min_n", ""),
                              n_later=fmt_number(newest["n"]))
    if change is None:
        basis = "voc.nps_overall_one"
    else:
        basis = "voc.nps_overall_wave" if change.get("unit") == "wave" else "voc.nps_overall_period"
    return line + " " + t(basis, lang)


def nps_view(table: pd.DataFrame, lang: str = "en", by: Sequence[str] = ()) -> pd.DataFrame:
    """An :func:`~engage_models.surveys.net_promoter.nps_table` for readers: groups, n, shares, NPS with interval."""
    cols = [*by, "n", "pct_promoters", "pct_detractors", "nps", "ci_low", "ci_high", "small_n"]
    d = table[cols].copy()
    if "period" in d:
        d["period"] = d["period"].map(lambda p: fmt_date(p, lang, month_only=True))
    d = with_interval(d, "nps", "ci_low", "ci_high", "nps_ci", lang)
    return _groups_named(translate_values(d, lang), by, lang)


def csat_view(table: pd.DataFrame, lang: str = "en", by: Sequence[str] = ()) -> pd.DataFrame:
    """A :func:`~engage_models.surveys.csat.csat_table` for readers: % satisfied and mean with intervals."""
    d = table[[*by, "n", "pct_satisfied", "ci_low", "ci_high", "mean_score", "mean_low", "mean_high",
               "small_n"]].copy()
    d = with_interval(d, "pct_satisfied", "ci_low", "ci_high", "satisfied_ci", lang, unit="%")
    d = with_interval(d, "mean_score", "mean_low", "mean_high", "mean_ci", lang, decimals=2)
    return _groups_named(translate_values(d, lang), by, lang)


def drivers_view(drivers: pd.DataFrame, lang: str = "en", top: int = 15) -> pd.DataFrame:
    """A :func:`~engage_models.surveys.drivers.driver_correlations` table with readable metric names."""
    from .drivers import driver_label

    d = drivers.dropna(subset=["rho"]).head(top).copy()
    d["driver"] = d["driver"].map(lambda c: driver_label(c, lang))
    d = with_interval(d, "rho", "ci_low", "ci_high", "rho_ci", lang, decimals=2)
    d["q_value"] = d["q_value"].map(lambda q: fmt_p(q) if pd.notna(q) else "")  # as every p-value is written
    return d[["driver", "n", "rho_ci", "q_value", "significant"]]


def churn_stop_text(info: dict | None, lang: str = "en") -> str:
    """At a churn stop, where churn by NPS category was read and what its curves left out (the surveys stage's
    ``churn_by_category`` JSON, its ``churn_stop``), in one sentence; empty without a stop."""
    found = (info or {}).get("churn_stop")
    if not found:
        return ""
    return t("voc.churn_stop", lang, stop=fmt_date(pd.Timestamp(found["stop"]), lang),
             at=fmt_date(pd.Timestamp(found["at"]), lang), n=int(found["after_stop"]))


def churn_line(churn: pd.DataFrame, horizon_days: int, lang: str = "en") -> str:
    """The sentence under the churn-by-category figure (:func:`~engage_models.surveys.drivers.churn_by_category`):
    the risk ratio of detractors to promoters and the test of equal rates, or, when the churns are too few to
    give them (no churner among detractors or promoters: a ratio of 0 or infinity), how many there were."""
    a = churn.attrs
    numbers = [a.get(k) for k in ("risk_ratio", "rr_low", "rr_high", "chi2_p")]
    if all(v is not None and np.isfinite(v) for v in numbers):
        rr, lo, hi = (fmt_number(v, lang, 2) for v in numbers[:3])
        return t("voc.churn_line", lang, rr=rr, lo=lo, hi=hi, h=horizon_days, p=p_is(numbers[3]))
    by = churn.set_index("category")
    return t("voc.churn_line_thin", lang, h=horizon_days, n=int(by["churned"].sum()),
             d=int(by.loc["detractor", "churned"]) if "detractor" in by.index else 0,
             p=int(by.loc["promoter", "churned"]) if "promoter" in by.index else 0)
