"""``report.html`` of ``engage survival`` on a table of one's own: one self-contained page to forward.

What the console and ``evaluation.json`` say, for a reader without either: the table and what was left out or
filled, the leakage screen, the cross-validated concordance of both models with its interval (or why there is
none), the hazard ratios as a table and a forest plot, the proportional-hazards check, the accounts most at risk
with their remaining lifetime and its interval, the revenue at risk with an MRR column, and every note. Nothing is
fetched (the plot is inlined), every text from the table is escaped, and the table is named by its file name
alone, never by the folder it was read from.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.i18n import fmt_interval, fmt_number, fmt_pct

MODEL_NAMES = {"cox_ph": "Cox proportional hazards", "discrete_time_logistic": "discrete-time logistic (cross-check)"}


def _forest_png(summary: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._core.plots import setup
    from .report import plot_hazard_ratios

    setup("en")
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(summary) + 1.2))
    plot_hazard_ratios(summary, ax=ax, lang="en")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _concordance(name: str, m: dict, skipped: dict) -> str:
    cvr = m["cross_validation"].get("harrell_c") or {}
    if m.get("cv_concordance") is None:
        why = skipped.get(f"{name}_harrell_c") or skipped.get(f"{name}_cross_validation") or "not computed"
        return f"not computed: {why.removeprefix('not computed: ')}"
    folds = cvr.get("folds") or len(m["cross_validation"].get("folds", []))
    low, high = cvr.get("low"), cvr.get("high")
    if low is not None and np.isfinite(low):
        return f"{fmt_interval(cvr['mean'], low, high, 'en', decimals=3)}: the mean over {folds} folds"
    return f"{cvr['mean']:.3f} (over {folds} folds)"


def _accounts_at_risk(per_account: pd.DataFrame, id_name: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` accounts still customers most likely to churn within 12 months (or the longest horizon)."""
    churn = next((c for c in ("churn_12m", "churn_6m", "churn_3m") if c in per_account), None)
    top = per_account.sort_values(churn, ascending=False, kind="stable").head(n) if churn else per_account.head(n)
    ci = "expected_remaining_months_low" in top
    out = pd.DataFrame({
        id_name: top.iloc[:, 0].astype(str).to_numpy(),
        "tenure (months)": top["tenure_months"].map(lambda v: fmt_number(v, "en", 1)).to_numpy(),
        "expected remaining months": [
            fmt_interval(r["expected_remaining_months"], r["expected_remaining_months_low"],
                         r["expected_remaining_months_high"], "en") if ci
            else fmt_number(r["expected_remaining_months"], "en", 1) for _, r in top.iterrows()],
    })
    if churn:
        out[f"churn within {churn.removeprefix('churn_').removesuffix('m')} months"] = \
            top[churn].map(lambda v: fmt_pct(100 * v, "en")).to_numpy()
    return out


def _list(items) -> str:
    items = [i for i in items if i]
    return "<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>" if items else ""


def write_report(path: str | Path, result, table_name: str, where: str | None = None) -> Path:
    """Write ``report.html`` for ``result`` (a :class:`~engage_models.survival.analysis.TableAnalysis`) to
    ``path``; ``table_name`` names the table (its file name); ``where``, the name the messages used (the path as
    given on the command line), is replaced by ``table_name`` in every sentence, so no folder of the machine that
    ran it appears."""
    from ..features.screening import describe
    from .report import ph_table, ratio_table

    ev = result.evaluation
    tab, design, skipped = ev["table"], ev["design"], ev["skipped"]

    def say(text) -> str:
        text = str(text)
        return text.replace(where, table_name) if where and where != table_name else text

    rows = (f"{tab['rows']:,} rows read, {tab['rows_used']:,} used, {tab.get('accounts', tab['rows_used']):,} "
            f"accounts, {tab['events']:,} churned; durations from {tab['duration_months']['min']:.3g} to "
            f"{tab['duration_months']['max']:.3g} months (median {tab['duration_months']['median']:.3g}), given in "
            f"{tab['duration_unit']}.")
    left = []
    for key in ("without_event", "left_out"):
        gone = tab.get(key) or {}
        if gone.get("rows"):
            left.append(f"left out {gone['rows']:,} row(s) (first at data rows {gone['first_rows']}): {gone['why']}")
    holes = tab.get("missing_covariates") or {}
    if holes.get("rows"):
        left.append(f"filled {sum(holes['columns'].values()):,} empty covariate value(s) on {holes['rows']:,} row(s): "
                    + "; ".join(f"{c!r} " + (f"with its median {f['median']:g} and the term {f['term']!r}"
                                             if "median" in f else f"as the level {f['level']!r}")
                                for c, f in holes["filled"].items()))
    no_mrr = tab.get("missing_mrr") or {}
    if no_mrr.get("active"):
        left.append(f"{no_mrr['active']:,} account(s) still customers have no MRR: no LTV, not in the revenue at risk")
    screen = describe(ev["leakage_screen"])
    models = "".join(f"<tr><th>{html.escape(MODEL_NAMES.get(k, k))}</th>"
                     f"<td>{html.escape(say(_concordance(k, m, skipped)))}</td></tr>" for k, m in ev["models"].items())
    summary = result.cox.summary
    forest = (f'<img alt="hazard ratios with their 95% intervals, log scale" '
              f'src="data:image/png;base64,{_forest_png(summary)}">' if len(summary) else "")
    said = {f"{name}_{part}" for name in ev["models"] for part in ("harrell_c", "cross_validation")}
    not_computed = [f"{what}: {why}" for what, why in skipped.items() if what not in said]
    at_risk = ""
    if len(result.per_account):
        id_name = result.per_account.columns[0]
        at_risk = ("<h2>Accounts still customers, most at risk</h2><p>Remaining lifetime within "
                   f"{ev['settings']['horizon_months']:g} months, with its 95% bootstrap interval where refits were "
                   "run; each account's covariates held at their last values.</p>"
                   + _accounts_at_risk(result.per_account, id_name).to_html(index=False, escape=True, border=0))
    revenue = ""
    if result.revenue_at_risk is not None:
        from .report import revenue_table

        revenue = "<h2>Revenue at risk</h2>" + revenue_table(result.revenue_at_risk, "en")._repr_html_()
    ph_text = ev["proportional_hazards"]["text"]
    body = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>engage survival report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2rem auto}}table{{border-collapse:collapse;font-size:.85rem}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}}</style></head><body>
<h1>Survival and lifetime value: {html.escape(table_name)}</h1>
<p>{html.escape(rows)}</p>{_list(say(x) for x in left)}
<h2>Leakage screen</h2>{_list(say(x) for x in screen) or "<p>No column was left out as a possible leak.</p>"}
<h2>Cross-validated concordance</h2><p>How well each model orders the accounts' churn times on rows it was not
fitted on (0.5: chance; 1: perfect).</p><table>{models}</table>
<h2>Hazard ratios</h2><p>Above 1: churn sooner; below 1: later; each with its 95% interval, from the model without
penalty. A covariate must be known at the start of the time it describes.</p>
{ratio_table(summary, "en")._repr_html_() if len(summary) else "<p>No covariate.</p>"}{forest}
<h2>Proportional hazards</h2><p>{html.escape(say(ph_text))}</p>{ph_table(result.cox, lang="en")._repr_html_()}
{at_risk}{revenue}
<h2>Notes</h2>{_list(say(x) for x in design["notes"]) or "<p>None.</p>"}
{"<h2>Not computed</h2>" + _list(say(x) for x in not_computed) if not_computed else ""}
</body></html>"""
    path = Path(path)
    path.write_text(body, encoding="utf-8")
    return path
