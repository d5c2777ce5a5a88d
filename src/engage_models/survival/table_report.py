"""``report.html`` of ``engage survival`` on a table of one's own: one self-contained page to forward.

What the console and ``evaluation.json`` say, for a reader without either: the table and what was left out or
filled, the leakage screen, the cross-validated concordance of both models with its interval (or why there is
none), the hazard ratios as a table and a forest plot, the proportional-hazards check, the accounts most at risk
with their remaining lifetime and its interval, the revenue at risk with an MRR column, and every note. Nothing is
fetched (the plot is inlined), every text from the table is escaped, and the table is named by its file name
alone, never by the folder it was read from.

In English or Japanese (``lang``): the headings, fixed sentences, table headers and numbers through
:func:`~engage_models._core.i18n.t`; the sentences the analysis wrote (what was left out and why, the leakage
screen's reasons, the concordance's reason when not computed, the notes and what was not computed) are kept in
``evaluation`` as :class:`~engage_models._core.reasons.Why`, their English text with the catalogue key, and said
in ``lang`` (:func:`~engage_models._core.reasons.text`: a plain English one, a library's error, is marked as
English); the proportional-hazards text comes from the fitted model in ``lang``, and how dates or visits were
reshaped (``table["reshaped"]["said"]``) from the reshaping's own sentences in ``lang``.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.i18n import catalogue, check_lang, fmt_interval, fmt_number, fmt_pct, t
from .._core.reasons import Why, text

#: The models of ``evaluation.json``, by the key of their name in the catalogue.
MODEL_NAMES = {"cox_ph": "page.surv.cox_ph", "discrete_time_logistic": "page.surv.discrete_time_logistic"}


def _forest_png(summary: pd.DataFrame, lang: str = "en") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._core.plots import setup
    from .report import plot_hazard_ratios

    setup(lang)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(summary) + 1.2))
    plot_hazard_ratios(summary, ax=ax, lang=lang)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _concordance(name: str, m: dict, skipped: dict, lang: str = "en") -> str:
    cvr = m["cross_validation"].get("harrell_c") or {}
    if m.get("cv_concordance") is None:
        why = skipped.get(f"{name}_harrell_c") or skipped.get(f"{name}_cross_validation") or "not computed"
        if str(why).startswith("not computed: ") and (lang == "en" or isinstance(why, Why)):
            return text(why, lang)  # it says so itself, in each language
        return t("page.not_computed", lang, why=text(why, lang).removeprefix("not computed: "))
    folds = cvr.get("folds") or len(m["cross_validation"].get("folds", []))
    low, high = cvr.get("low"), cvr.get("high")
    if low is not None and np.isfinite(low):
        return t("page.surv.mean_over", lang, value=fmt_interval(cvr["mean"], low, high, lang, decimals=3), k=folds)
    return t("page.surv.over_folds", lang, value=f"{cvr['mean']:.3f}", k=folds)


def _part(what: str, models, lang: str = "en") -> str:
    """A part of ``evaluation.json``'s ``skipped`` (``per_account``, a model, ``<model>_<metric>``) in words: as
    written in English, its model named in other languages.

    >>> _part("cox_ph_auc_3", {"cox_ph": {}}), _part("per_account", {}, "ja") == t("page.surv.per_account", "ja")
    ('cox_ph_auc_3', True)

    and its metric too (the Japanese page said "Cox比例ハザードモデル auc_12"):

    >>> _part("cox_ph_auc_12", {"cox_ph": {}}, "ja") == t("page.surv.cox_ph", "ja") + t("page.surv.metric_auc", "ja",
    ...                                                                                   h=12)
    True
    """
    if lang == "en":
        return what
    if what == "per_account":
        return t("page.surv.per_account", lang)
    for name, key in MODEL_NAMES.items():
        if what == name or what.startswith(f"{name}_"):
            rest = what.removeprefix(name).removeprefix("_")
            if rest.startswith("auc_") and rest.removeprefix("auc_").isdigit():
                rest = t("page.surv.metric_auc", lang, h=int(rest.removeprefix("auc_")))
            elif f"page.surv.metric_{rest}" in catalogue():
                rest = t(f"page.surv.metric_{rest}", lang)
            else:
                rest = f" {rest}" if rest else ""
            return t(key, lang) + rest
    return what


def _accounts_at_risk(per_account: pd.DataFrame, id_name: str | None, n: int = 10, lang: str = "en") -> pd.DataFrame:
    """The ``n`` accounts still customers most likely to churn within 12 months (or the longest horizon), named by
    ``id_name``'s values (``None``: by their data rows, per_account's ``row``)."""
    churn = next((c for c in ("churn_12m", "churn_6m", "churn_3m") if c in per_account), None)
    top = per_account.sort_values(churn, ascending=False, kind="stable").head(n) if churn else per_account.head(n)
    ci = "expected_remaining_months_low" in top
    out = pd.DataFrame({
        # an id column by its name as written; the data row, without one, in the page's language (it read "row")
        id_name if id_name is not None else t("page.surv.data_row", lang): top.iloc[:, 0].astype(str).to_numpy(),
        t("tenure_months", lang): top["tenure_months"].map(lambda v: fmt_number(v, lang, 1)).to_numpy(),
        t("expected_remaining_months", lang): [
            fmt_interval(r["expected_remaining_months"], r["expected_remaining_months_low"],
                         r["expected_remaining_months_high"], lang) if ci
            else fmt_number(r["expected_remaining_months"], lang, 1) for _, r in top.iterrows()],
    })
    if churn:  # with its interval, as the remaining months have theirs (it had none)
        out[t("page.surv.churn_within", lang, k=churn.removeprefix("churn_").removesuffix("m"))] = [
            fmt_interval(100 * r[churn], 100 * r[f"{churn}_low"], 100 * r[f"{churn}_high"], lang, decimals=1,
                         unit="%") if f"{churn}_low" in top else fmt_pct(100 * r[churn], lang)
            for _, r in top.iterrows()]
    return out


def _list(items) -> str:
    items = [i for i in items if i]
    return "<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>" if items else ""


def write_report(path: str | Path, result, table_name: str, where: str | None = None, lang: str = "en") -> Path:
    """Write ``report.html`` for ``result`` (a :class:`~engage_models.survival.analysis.TableAnalysis`) to
    ``path`` in ``lang`` (``en`` or ``ja``); ``table_name`` names the table (its file name); ``where``, the name the
    messages used (the path as given on the command line), is replaced by ``table_name`` in every sentence, so no
    folder of the machine that ran it appears."""
    from ..features.screening import describe
    from .report import ph_table, ratio_table

    check_lang(lang)
    ev = result.evaluation
    tab, design, skipped = ev["table"], ev["design"], ev["skipped"]

    def say(text) -> str:
        text = str(text)
        return text.replace(where, table_name) if where and where != table_name else text

    span = tab["duration_months"]
    rows = t("page.surv.rows", lang, rows=f"{tab['rows']:,}", used=f"{tab['rows_used']:,}",
             accounts=f"{tab.get('accounts', tab['rows_used']):,}", events=f"{tab['events']:,}",
             low=f"{span['min']:.3g}", high=f"{span['max']:.3g}", median=f"{span['median']:.3g}",
             unit=t(f"page.unit.{tab['duration_unit']}", lang))
    # dates or visits made durations, as the console said (in the page's language)
    left = [text(said, lang) for said in (tab.get("reshaped") or {}).get("said", [])]
    for key in ("without_event", "left_out"):
        gone = tab.get(key) or {}
        if gone.get("rows"):
            left.append(t("page.surv.left_out", lang, n=f"{gone['rows']:,}", first=gone["first_rows"],
                          why=text(gone["why"], lang)))
    holes = tab.get("missing_covariates") or {}
    if holes.get("rows"):
        filled = [t("page.surv.filled_median", lang, column=repr(c), median=f"{f['median']:g}", term=repr(f["term"]))
                  if "median" in f else t("page.surv.filled_level", lang, column=repr(c), level=repr(f["level"]))
                  for c, f in holes["filled"].items()]
        left.append(t("page.surv.filled", lang, n=f"{sum(holes['columns'].values()):,}", rows=f"{holes['rows']:,}",
                      columns=t("sep.list", lang).join(filled)))
    no_mrr = tab.get("missing_mrr") or {}
    if no_mrr.get("active"):
        left.append(t("page.surv.no_mrr", lang, n=f"{no_mrr['active']:,}"))
    screen = describe(ev["leakage_screen"], lang)
    models = "".join(f"<tr><th>{html.escape(t(MODEL_NAMES[k], lang) if k in MODEL_NAMES else k)}</th>"
                     f"<td>{html.escape(say(_concordance(k, m, skipped, lang)))}</td></tr>"
                     for k, m in ev["models"].items())
    summary = result.cox.summary
    forest = (f'<img alt="{html.escape(t("page.surv.forest_alt", lang))}" '
              f'src="data:image/png;base64,{_forest_png(summary, lang)}">' if len(summary) else "")
    said = {f"{name}_{part}" for name in ev["models"] for part in ("harrell_c", "cross_validation")}
    not_computed = [t("page.surv.skipped", lang, what=_part(what, ev["models"], lang), why=text(why, lang))
                    for what, why in skipped.items() if what not in said]
    at_risk = ""
    if len(result.per_account):
        given = "id_column" not in ev["settings"] or ev["settings"]["id_column"] is not None  # (a stored result)
        id_name = result.per_account.columns[0] if given else None
        at_risk = (f"<h2>{t('page.surv.at_risk', lang)}</h2><p>"
                   + t("page.surv.at_risk_text", lang, h=f"{ev['settings']['horizon_months']:g}") + "</p>"
                   + _accounts_at_risk(result.per_account, id_name, lang=lang).to_html(index=False, escape=True,
                                                                                        border=0))
    if not ev["settings"].get("n_boot") and at_risk:  # the headers and cells hold no interval: said why, once
        at_risk += f"<p>{t('page.surv.no_boot', lang)}</p>"
    revenue = ""
    if result.revenue_at_risk is not None:
        from .report import revenue_table

        revenue = (f"<h2>{t('page.surv.revenue_at_risk', lang)}</h2>"
                   + revenue_table(result.revenue_at_risk, lang)._repr_html_())
    ph_text = result.cox.assumptions_text(lang)  # evaluation.json keeps the English
    no_leak = f"<p>{t('page.surv.no_leak', lang)}</p>"
    no_covariate = f"<p>{t('page.surv.no_covariate', lang)}</p>"
    title = t("page.surv.title", lang)
    body = f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2rem auto}}table{{border-collapse:collapse;font-size:.85rem}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}}</style></head><body>
<h1>{html.escape(t("page.surv.h1", lang, table=table_name))}</h1>
<p>{html.escape(rows)}</p>{_list(say(x) for x in left)}
<h2>{t("page.leakage", lang)}</h2>{_list(say(x) for x in screen) or no_leak}
<h2>{t("page.surv.concordance", lang)}</h2><p>{t("page.surv.concordance_text", lang)}</p><table>{models}</table>
<h2>{t("page.surv.hazard_ratios", lang)}</h2><p>{t("page.surv.hazard_ratios_text", lang)}</p>
{ratio_table(summary, lang)._repr_html_() if len(summary) else no_covariate}{forest}
<h2>{t("page.surv.ph", lang)}</h2><p>{html.escape(say(ph_text))}</p>{ph_table(result.cox, lang=lang)._repr_html_()}
{at_risk}{revenue}
<h2>{t("page.notes", lang)}</h2>{_list(say(text(x, lang)) for x in design["notes"]) or f"<p>{t('page.none', lang)}</p>"}
{f"<h2>{t('page.not_computed_heading', lang)}</h2>" + _list(say(x) for x in not_computed) if not_computed else ""}
</body></html>"""
    path = Path(path)
    path.write_text(body, encoding="utf-8")
    return path
