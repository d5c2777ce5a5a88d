"""The "What works" report as a reader sees it: tables, figures and a plain sentence per play, in either language.

Everything here formats what the ``effects`` stage (and the ``actions`` stage's holdout design) computed; the
only arithmetic is the sample-size formula applied to today's recommendations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._core.i18n import check_lang, fmt_p, fmt_pct, md_text, t
from .._core.plots import BAND_COLOURS, new_ax
from .measure import ESTIMATED, NO_VARIATION
from .power import sample_size
from .units import OBSERVATIONAL, RANDOMISED


# --------------------------------------------------------------------------------------------- labels
def play_label(play: str, lang: str = "en", playbook=None) -> str:
    """The play's label in the playbook (its id when the playbook does not know it). ``playbook``: a playbook
    (path or object; None: the bundled one), or the labels a run kept (:func:`run_play_labels`)."""
    from ..actions.playbook import PlaybookError, load_playbook

    if isinstance(playbook, Mapping):
        return (playbook.get(play) or {}).get(lang) or play
    try:
        return load_playbook(playbook).play(play).label[lang]
    except (KeyError, PlaybookError):
        return play


def run_play_labels(run) -> dict:
    """The play labels of the playbook the run's actions stage used (``{play: {lang: label}}``), kept in its
    artifact: a report reads them there, not the playbook file again (run.json keeps the file's name only, and a
    report made from another folder read another file, or none). Empty for a run without them: ids are shown."""
    return run.json("actions", "play_labels") if run.has("actions", "play_labels") else {}



def not_measured(run) -> str:
    """Why a section of the effects report is empty, in the run's language: no play recorded yet, or why the
    effects stage wrote nothing (a small world's report showed four headings and their prose over nothing)."""
    if not run.has("effects", "effects"):
        return t("section.missing", run.lang, reason=run.reason("effects", "effects", run.lang))
    return t("section.missing", run.lang, reason=t("eff.no_log_reason", run.lang))

def _points(x, signed: bool = True) -> str:
    return "" if x is None or not np.isfinite(x) else f"{100 * x:{'+' if signed else ''}.1f}"


def _pct(x) -> str:
    return "" if x is None or not np.isfinite(x) else fmt_pct(100 * x, decimals=0)


def _ci_points(lo, hi, lang: str) -> str:
    return t("effects.ci_points", lang, lo=_points(lo), hi=_points(hi))


def _preferred(effects: pd.DataFrame, outcome: str = "churned") -> pd.DataFrame:
    return effects[effects["preferred"].astype(bool) & (effects["outcome"] == outcome)]


# ------------------------------------------------------------------------------------------- sentences
def sentence(row, lang: str = "en", horizon_days: int = 90, playbook=None, min_per_arm: int = 30,
             detect_points: float = 5.0) -> str:
    """One plain sentence for one estimate (a row of the effects table, preferred method, churn outcome):
    what the play did to churn within the horizon, with the interval, the design and the counts."""
    check_lang(lang)
    label = md_text(play_label(row.play, lang, playbook))  # a Markdown sentence: the playbook's label is user text
    among = "" if row.group == "all" else t("effects.among", lang, band=t(row.group, lang))
    design = t(f"effects.design.{row.design}", lang)
    controls = t(f"effects.controls.{row.design}", lang)
    common = {"play": label, "h": horizon_days, "among": among, "design": design, "n1": f"{int(row.n_treated):,}",
              "n0": f"{int(row.n_control):,}", "controls": controls,
              # a randomised arm is the accounts drawn for the play, done or not (intention to treat)
              "got": t(f"effects.got.{row.design}", lang)}
    if row.status == NO_VARIATION:
        return t("effects.sentence.no_variation", lang, p0=_pct(row.mean_control),
                 p1=_pct(row.mean_control + row.estimate), **common)
    if row.status != ESTIMATED:
        a1, a0 = (getattr(row, f"assigned_{arm}", np.nan) for arm in ("treated", "control"))
        if row.design == RANDOMISED and np.isfinite(a1) and np.isfinite(a0) and min(a1, a0) == 0 < max(a1, a0):
            # nobody held out (or nobody assigned): waiting for more accounts will not give a comparison
            key = "effects.sentence.one_arm" if a0 == 0 else "effects.sentence.all_held_out"
            return t(key, lang, a1=f"{int(a1):,}", a0=f"{int(a0):,}", **common)
        text = t("effects.sentence.too_few_counts", lang, **common)
        if np.isfinite(a1) and np.isfinite(a0) and (int(a1), int(a0)) != (int(row.n_treated), int(row.n_control)):
            # logged but left out: a draw needs 2 accounts in each arm (the counts above are used)
            text += t("effects.sentence.too_few_dates", lang, a1=f"{int(a1):,}", a0=f"{int(a0):,}", controls=controls,
                      got=common["got"])
        need = row.n_needed if np.isfinite(row.n_needed) else math.nan
        if np.isfinite(need):
            return text + t("effects.sentence.too_few_need", lang, min=min_per_arm, detect=f"{detect_points:g}",
                            need=f"{math.ceil(need):,}")
        return text + t("effects.sentence.too_few_min", lang, min=min_per_arm)
    ci = _ci_points(row.ci_low, row.ci_high, lang)
    p0, p1 = _pct(row.mean_control), _pct(row.mean_control + row.estimate)
    # a band's estimate is one of many: it is called clear only when it survives the false-discovery correction
    q = getattr(row, "q_value", np.nan)
    survives = row.group == "all" or (q is not None and np.isfinite(q) and q < 0.05)
    if row.ci_high < 0 and survives:
        key = "effects.sentence.cut"
    elif row.ci_low > 0 and survives:
        key = "effects.sentence.raised"
    else:
        key = "effects.sentence.unclear"
    mde = _points(row.mde, signed=False) if "mde" in row._fields and np.isfinite(row.mde) else ""
    text = t(key, lang, p0=p0, p1=p1, ci=ci, diff=_points(row.estimate), **common)
    if key == "effects.sentence.unclear" and mde:
        text += t("effects.sentence.mde", lang, mde=mde)
    return text


def sentences(effects: pd.DataFrame, lang: str = "en", horizon_days: int = 90, playbook=None, design=None,
              bands: bool = True, min_per_arm: int = 30, detect_points: float = 5.0) -> str:
    """A Markdown list: one sentence per play (randomised first), then one per band where the band's estimate
    stands on enough accounts."""
    rows = _preferred(effects)
    if design is not None:
        rows = rows[rows["design"] == design]
    if rows.empty:
        return ""
    order = {RANDOMISED: 0, OBSERVATIONAL: 1}
    rows = rows.assign(_d=rows["design"].map(order), _g=rows["group"].map({"all": 0, "green": 1, "yellow": 2,
                                                                          "red": 3}))
    lines = []
    for _, grp in rows.sort_values(["_d", "play", "_g"], kind="stable").groupby(["_d", "play"], sort=False):
        for r in grp.itertuples():
            if r.group != "all" and (not bands or r.status != ESTIMATED):
                continue
            lines.append(("- " if r.group == "all" else "  - ") + sentence(
                r, lang, horizon_days, playbook, min_per_arm, detect_points))
    if bands and (rows["group"] != "all").any():
        lines += ["", t("effects.bands_note", lang)]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- tables
def effects_view(effects: pd.DataFrame, design: str, lang: str = "en", playbook=None,
                 outcome: str = "churned") -> pd.DataFrame:
    """The preferred estimate of each play and band of one ``design``: accounts in each arm, churn (or score
    change) without and with the play, the effect with its interval, p-value, and for churn the smallest
    detectable effect and the accounts needed."""
    check_lang(lang)
    rows = _preferred(effects, outcome)
    rows = rows[rows["design"] == design]
    churn = outcome == "churned"
    out = []
    for r in rows.itertuples():
        if r.status != ESTIMATED:  # no effect, interval or p-value on too few accounts or without variation; nor
            # the doubly robust churn without the play, a model's counterfactual on those few (it read 103%, -4%)
            r = r._replace(**{f: np.nan for f in ("estimate", "ci_low", "ci_high", "p_value", "q_value", "mde",
                                                  "mean_control") if f in r._fields})
        # a churn rate outside 0-100% is a model's extrapolation, not a rate: not printed as one
        value = ((lambda v: _pct(v) if np.isfinite(v) and 0 <= v <= 1 else "") if churn
                 else (lambda v: "" if not np.isfinite(v) else f"{v:+.1f}"))
        effect = (_points(r.estimate) if churn else f"{r.estimate:+.1f}") if np.isfinite(r.estimate) else ""
        lo_hi = (t("ci.range", lang, est="", lo=_points(r.ci_low), hi=_points(r.ci_high)).strip() if churn
                 else t("ci.range", lang, est="", lo=f"{r.ci_low:+.1f}", hi=f"{r.ci_high:+.1f}").strip()) \
            if np.isfinite(r.ci_low) else ""
        item = {t("play", lang): play_label(r.play, lang, playbook),
                t("band", lang): t("effects.all_bands", lang) if r.group == "all" else t(r.group, lang),
                t("effects.treated", lang): f"{int(r.n_treated):,}",
                t(f"effects.controls.{design}", lang): f"{int(r.n_control):,}",
                t("effects.without" if churn else "effects.without_score", lang): value(r.mean_control),
                t("effects.with" if churn else "effects.with_score", lang):
                    value(r.mean_control + r.estimate) if np.isfinite(r.estimate) else "",
                t("effects.effect_points" if churn else "effects.effect_score", lang): effect,
                t("effects.ci", lang): lo_hi,
                t("effects.p_value", lang): "" if not np.isfinite(r.p_value) else fmt_p(r.p_value),
                t("effects.q_value", lang): fmt_p(r.q_value) if np.isfinite(getattr(r, "q_value", np.nan)) else ""}
        if churn and design == RANDOMISED:
            item[t("effects.mde", lang)] = _points(r.mde, signed=False)
            item[t("effects.n_needed", lang)] = f"{math.ceil(r.n_needed):,}" if np.isfinite(r.n_needed) else ""
        if design == OBSERVATIONAL:
            item[t("effects.trimmed", lang)] = f"{int(r.trimmed_treated or 0):,} / {int(r.trimmed_control or 0):,}"
        item[t("effects.status", lang)] = t(f"effects.status.{r.status}", lang)
        out.append(item)
    return pd.DataFrame(out)


def naive_view(effects: pd.DataFrame, lang: str = "en", playbook=None) -> pd.DataFrame:
    """Observational plays: the naive comparison (done minus not done) beside the doubly robust estimate that
    corrects it, with the correction in points."""
    check_lang(lang)
    obs = effects[(effects["design"] == OBSERVATIONAL) & (effects["outcome"] == "churned")
                  & (effects["group"] == "all")]
    out = []
    for play, g in obs.groupby("play", sort=True):
        m = g.set_index("method")
        if not {"naive", "aipw"} <= set(m.index):
            continue
        nv, dr = m.loc["naive"], m.loc["aipw"]

        def shown(r):  # no numbers on too few accounts or without variation: the status instead
            if r.status != ESTIMATED:
                return t(f"effects.status.{r.status}", lang)
            return t("ci.interval", lang, est=_points(r.estimate), lo=_points(r.ci_low), hi=_points(r.ci_high)) \
                if np.isfinite(r.estimate) else ""

        both = nv.status == ESTIMATED and dr.status == ESTIMATED
        out.append({t("play", lang): play_label(play, lang, playbook), t("effects.naive", lang): shown(nv),
                    t("effects.aipw", lang): shown(dr),
                    t("effects.correction", lang): _points(dr.estimate - nv.estimate)
                    if both and np.isfinite(dr.estimate) and np.isfinite(nv.estimate) else ""})
        continue
        out.append({t("play", lang): play_label(play, lang, playbook),
                    t("effects.naive", lang): t("ci.interval", lang, est=_points(nv.estimate), lo=_points(nv.ci_low),
                                                hi=_points(nv.ci_high)) if np.isfinite(nv.estimate) else "",
                    t("effects.aipw", lang): t("ci.interval", lang, est=_points(dr.estimate), lo=_points(dr.ci_low),
                                               hi=_points(dr.ci_high)) if np.isfinite(dr.estimate) else "",
                    t("effects.correction", lang): _points(dr.estimate - nv.estimate)
                    if np.isfinite(dr.estimate) and np.isfinite(nv.estimate) else ""})
    return pd.DataFrame(out)


def log_view(summary: pd.DataFrame, lang: str = "en", playbook=None) -> pd.DataFrame:
    """The play log per play and design: rows, done / skipped / planned, held out, used, pending, left out."""
    check_lang(lang)
    cols = ("rows", "done", "skipped", "planned", "held_out", "used", "pending", "left_out")
    out = pd.DataFrame({t("play", lang): [play_label(p, lang, playbook) for p in summary["play"]],
                        t("effects.design", lang): [t(f"effects.design.{d}", lang) for d in summary["design"]]})
    for c in cols:
        out[t(f"effects.log.{c}", lang)] = summary[c].astype(int).map("{:,}".format).to_numpy()
    return out


# ------------------------------------------------------------------------------------------- the design
def design_view(design: pd.DataFrame, lang: str = "en", playbook=None) -> pd.DataFrame:
    """Today's holdout per play (the actions stage's ``holdout_design``): recommended, must-act (never held
    out), held out, assigned (drawn and given the play), not drawn (given it outside the draw), share."""
    check_lang(lang)
    not_drawn = design["not_drawn"] if "not_drawn" in design else design["recommended"] - design["held_out"] \
        - design["assigned"]  # a design of before the column: every account not held out was "assigned"
    return pd.DataFrame({
        t("play", lang): [play_label(p, lang, playbook) for p in design["play"]],
        t("effects.recommended", lang): design["recommended"].map("{:,}".format),
        t("effects.must_act", lang): design["must_act"].map("{:,}".format),
        t("effects.held_out", lang): design["held_out"].map("{:,}".format),
        t("effects.assigned", lang): design["assigned"].map("{:,}".format),
        t("effects.not_drawn", lang): not_drawn.map("{:,}".format),
        t("effects.share", lang): design["share"].map(lambda s: fmt_pct(100 * s, decimals=0) if s > 0 else "—"),
    })


def _no_size(p0: float, detect_points: float, lang: str) -> str:
    """Why no sample size is given: a fall of ``detect_points`` from a churn below it would be below 0 (a 5-point
    fall from 4%), or no churn to start from. A blank cell said nothing."""
    if p0 is None or not np.isfinite(p0):
        return t("effects.no_size.no_churn", lang)
    if detect_points / 100 > p0:
        return t("effects.no_size.below_zero", lang, points=f"{detect_points:g}", p0=_pct(p0))
    return "—"


def sample_size_view(design: pd.DataFrame, detect_points: float = 5.0, power: float = 0.8, lang: str = "en",
                     playbook=None) -> pd.DataFrame:
    """Per play with a holdout: the churn to expect without it (the eligible accounts' mean predicted
    probability), the accounts needed (both arms) to detect a fall of ``detect_points`` points with the play's
    share at 95% and ``power``, and how many lists of today's size that takes."""
    check_lang(lang)
    rows = []
    for r in design[design["share"] > 0].itertuples():
        need = sample_size(r.expected_churn, detect_points / 100, r.share, power=power)
        rows.append({t("play", lang): play_label(r.play, lang, playbook),
                     t("effects.eligible", lang): f"{int(r.eligible):,}",
                     t("effects.share", lang): fmt_pct(100 * r.share, decimals=0),
                     t("effects.expected_churn", lang): _pct(r.expected_churn),
                     t("effects.n_needed", lang): f"{math.ceil(need):,}" if np.isfinite(need)
                     else _no_size(r.expected_churn, detect_points, lang),
                     t("effects.lists_needed", lang): f"{math.ceil(need / r.eligible):,}"
                     if np.isfinite(need) and r.eligible > 0 else "—"})
    return pd.DataFrame(rows)


def sample_size_basis(detect_points: float, power: float, lang: str = "en") -> str:
    """The sizes' settings in words (report 06 said "the configured size" and "the configured power" without
    their numbers).

    >>> sample_size_basis(5, 0.8)
    'Accounts needed to detect a fall in churn of 5 percentage points, with 80% power at 95% confidence.'
    """
    return t("effects.size_basis", lang, points=f"{detect_points:g}", power=fmt_pct(100 * power, decimals=0))


def plot_design(design: pd.DataFrame, ax=None, lang: str = "en", playbook=None):
    """Accounts per recommended play today: assigned, held out at random, and must-act (never held out)."""
    check_lang(lang)
    d = design.sort_values("recommended", kind="stable")
    labels = [play_label(p, lang, playbook) for p in d["play"]]
    ax = new_ax(ax, figsize=(8, 0.4 * max(len(d), 3) + 1))
    must = d["must_act"].to_numpy()
    if "not_drawn" in d:  # the accounts given the play outside the draw, must-act ones apart
        assigned, other = d["assigned"].to_numpy(), (d["not_drawn"] - d["must_act"]).clip(lower=0).to_numpy()
    else:  # a design of before the column
        assigned, other = (d["assigned"] - d["must_act"]).clip(lower=0).to_numpy(), np.zeros(len(d))
    held = d["held_out"].to_numpy()
    ax.barh(labels, must, color="#555555", label=t("effects.must_act", lang))
    ax.barh(labels, other, left=must, color="#999999", label=t("effects.not_drawn", lang))
    ax.barh(labels, assigned, left=must + other, color="#0072b2", label=t("effects.assigned", lang))
    ax.barh(labels, held, left=must + other + assigned, color="#e69f00", label=t("effects.held_out", lang))
    ax.set_xlabel(t("accounts", lang))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


# ------------------------------------------------------------------------------------------- figures
def plot_effects(effects: pd.DataFrame, ax=None, lang: str = "en", playbook=None):
    """Each play's effect on churn (points) with its 95% interval: randomised (filled), observational
    (hollow) with the naive comparison it corrects (grey); plays without enough accounts are left out."""
    check_lang(lang)
    eff = effects[(effects["outcome"] == "churned") & (effects["group"] == "all") & (effects["status"] == ESTIMATED)]
    rows = []
    for (design, play), g in eff.groupby(["design", "play"], sort=True):
        m = g.set_index("method")
        rows.append((design, play, m))
    ax = new_ax(ax, figsize=(8, 0.55 * max(len(rows), 2) + 1.2))
    for i, (design, _play, m) in enumerate(rows):
        best = m.loc["cuped" if design == RANDOMISED else "aipw"]
        filled = design == RANDOMISED
        ax.errorbar(100 * best.estimate, i, xerr=[[100 * (best.estimate - best.ci_low)],
                                                  [100 * (best.ci_high - best.estimate)]],
                    fmt="o", color="#0072b2", mfc="#0072b2" if filled else "white", capsize=3)
        if design == OBSERVATIONAL and "naive" in m.index:
            ax.plot(100 * m.loc["naive"].estimate, i, marker="x", color="#999999", linestyle="none")
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [f"{play_label(p, lang, playbook)} ({t(f'effects.design_short.{d}', lang)})"
                                     for d, p, _ in rows])
    ax.set_xlabel(t("effects.axis_points", lang))
    ax.invert_yaxis()
    return ax


def plot_overlap(overlap: pd.DataFrame, trim: float = 0.05, lang: str = "en", playbook=None):
    """Propensity of the accounts that got each observational play and of those that did not (histograms,
    share of each group per bin), with the trimming line: where the two overlap the comparison is fair."""
    import matplotlib.pyplot as plt

    check_lang(lang)
    plays = sorted(overlap["play"].unique())
    fig, axes = plt.subplots(1, max(len(plays), 1), figsize=(4 * max(len(plays), 1), 3), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, play in zip(axes[0], plays, strict=False):
        o = overlap[(overlap["play"] == play) & overlap["propensity"].notna()]
        for treated, colour, key in ((False, "#999999", "effects.untreated"), (True, "#0072b2", "effects.treated")):
            v = o.loc[o["treated"] == treated, "propensity"].to_numpy()
            if len(v):
                ax.hist(v, bins=bins, weights=np.full(len(v), 1 / len(v)), alpha=0.6, color=colour,
                        label=f"{t(key, lang)} ({len(v):,})")
        ax.axvline(1 - trim, color="#d55e00", linestyle="--", linewidth=1)
        ax.set_title(play_label(play, lang, playbook), fontsize=10)
        ax.set_xlabel(t("effects.propensity", lang))
        ax.legend(frameon=False, fontsize=7)
    axes[0][0].set_ylabel(t("effects.share_of_group", lang))
    fig.tight_layout()
    return fig


def plot_bands(effects: pd.DataFrame, design: str, ax=None, lang: str = "en", playbook=None):
    """The preferred estimate of each play by band (points, 95% interval), bands in their colours."""
    check_lang(lang)
    rows = _preferred(effects)
    rows = rows[(rows["design"] == design) & (rows["group"] != "all") & rows["estimate"].notna()]
    plays = sorted(rows["play"].unique())
    ax = new_ax(ax, figsize=(8, 0.7 * max(len(plays), 2) + 1))
    offsets = {"green": -0.2, "yellow": 0.0, "red": 0.2}
    for i, play in enumerate(plays):
        for r in rows[rows["play"] == play].itertuples():
            hollow = r.status != ESTIMATED
            ax.errorbar(100 * r.estimate, i + offsets[r.group], xerr=[[100 * (r.estimate - r.ci_low)],
                                                                      [100 * (r.ci_high - r.estimate)]],
                        fmt="o", color=BAND_COLOURS[r.group], mfc="white" if hollow else BAND_COLOURS[r.group],
                        capsize=2)
    for band, colour in BAND_COLOURS.items():
        ax.plot([], [], "o", color=colour, label=t(band, lang))
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(plays)), [play_label(p, lang, playbook) for p in plays])
    ax.set_xlabel(t("effects.axis_points", lang))
    ax.legend(frameon=False, fontsize=8)
    ax.invert_yaxis()
    return ax


# ---------------------------------------------------------------------------------- executive summary
def headline(effects: pd.DataFrame) -> pd.DataFrame:
    """The estimates the executive summary quotes: each play's preferred estimate of churn over all bands,
    randomised before observational, the clearest first."""
    rows = _preferred(effects)
    rows = rows[rows["group"] == "all"].copy()
    rows["_d"] = rows["design"].map({RANDOMISED: 0, OBSERVATIONAL: 1})
    rows = rows.sort_values(["_d", "status", "p_value", "play"], kind="stable").drop(columns="_d")
    return rows.reset_index(drop=True)


def summary_line(what_works: pd.DataFrame, lang: str = "en", horizon_days: int = 90, playbook=None,
                 log_rows: int = 0) -> str:
    """One line for the executive summary: which plays changed churn, with the clearest estimate."""
    check_lang(lang)
    if not log_rows:
        return t("effects.summary.no_log", lang)
    est = what_works[what_works["status"] == ESTIMATED]
    if est.empty:
        return t("effects.summary.too_few", lang, n=f"{log_rows:,}")
    clear = est[(est["ci_high"] < 0) | (est["ci_low"] > 0)]
    first = clear.iloc[0] if len(clear) else est.iloc[0]
    quote = t("effects.summary.quote", lang, play=md_text(play_label(first["play"], lang, playbook)),
              diff=_points(first["estimate"]), ci=_ci_points(first["ci_low"], first["ci_high"], lang),
              h=horizon_days, design=t(f"effects.design_short.{first['design']}", lang))
    return t("effects.summary.line", lang, k=len(clear), n=len(est), quote=quote)


# ---------------------------------------------------------------------------------------------- prose
def header(info: dict, lang: str = "en") -> str:
    """What the report covers: the play log's size and dates (of the plays done or skipped; planned ones after
    them are counted), the horizon, or that there is no log; the log's rows ingest set aside; and the plays left out
    for a churn stop (:func:`churn_stop_text`)."""
    from .._core.i18n import fmt_date

    check_lang(lang)
    q = int(info.get("quarantined") or 0)
    aside = t("effects.header.quarantined", lang, q=f"{q:,}") if q else ""
    if not info.get("log_rows"):
        return t("effects.header.no_log", lang, h=info.get("horizon_days", 90)) + aside
    ahead = int(info.get("planned_after") or 0)
    planned = t("effects.header.planned_after", lang, k=f"{ahead:,}") if ahead else ""
    return t("effects.header", lang, n=f"{int(info['log_rows']):,}", first=fmt_date(info.get("first_date"), lang),
             last=fmt_date(info.get("last_date"), lang), h=info.get("horizon_days", 90), planned=planned,
             date=fmt_date(info.get("as_of"), lang), used=f"{int(info.get('used', 0)):,}") + aside \
        + churn_stop_text(info, lang)


def churn_stop_text(info: dict, lang: str = "en") -> str:
    """Where the accounts' churn stops before the data end, the plays left out because their horizon runs past the
    stop (``info["churn_stop"]``: :func:`~engage_models.effects.units.play_units`), as a sentence that follows the
    header's; empty without a stop."""
    from .._core.i18n import fmt_date

    found = info.get("churn_stop")
    if not found:
        return ""
    return t("effects.header.churn_stop", lang, stop=fmt_date(pd.Timestamp(found["stop"]), lang),
             n=int(found["rows"]), h=info.get("horizon_days", 90))


def log_notes(info: dict, lang: str = "en", playbook=None) -> str:
    """What in the log weakens a comparison, as a Markdown list (empty when nothing): comparison accounts that
    got the play after all within their horizon, and randomised plays whose draws had to be inferred from
    held-out rows on several dates (see :func:`~engage_models.effects.units.play_units`)."""
    check_lang(lang)
    h, lines = info.get("horizon_days", 90), []
    for play, by in sorted((info.get("crossovers") or {}).items()):
        label = md_text(play_label(play, lang, playbook))
        for design in (RANDOMISED, OBSERVATIONAL):
            if design in by:
                lines.append(t(f"effects.note.crossover.{design}", lang, play=label, h=h,
                               k=f"{by[design]['later']:,}", n=f"{by[design]['of']:,}"))
    for play, k in sorted((info.get("draws_repeated") or {}).items()):
        lines.append(t("effects.note.draws_repeated", lang, play=md_text(play_label(play, lang, playbook)),
                       k=f"{k:,}"))
    return "\n".join(f"- {line}" for line in lines)


def holdout_text(holdout: dict, design: pd.DataFrame, lang: str = "en") -> str:
    """Today's holdout in words: how many accounts are held out, how they were drawn, and why it is safe."""
    check_lang(lang)
    held, total = int(design["held_out"].sum()), int(design["recommended"].sum())
    must = int(design["must_act"].sum())
    rules = holdout.get("must_act", {}).get(lang) or []
    rules_text = t("sep.list", lang).join(f"({r})" for r in rules) if rules else t("effects.no_rule", lang)
    if not holdout.get("enabled", True) or holdout.get("seed") is None:
        return t("effects.holdout.off", lang, n=f"{total:,}")
    return t("effects.holdout.text", lang, held=f"{held:,}", n=f"{total:,}", seed=holdout.get("seed"),
             must=f"{must:,}", rules=rules_text)


def nothing_text(design: str, lang: str = "en") -> str:
    """Why a design has no estimate: no play of the log was run that way."""
    return t(f"effects.nothing.{design}", lang)


def trimming_text(effects: pd.DataFrame, trim: float, folds: int, lang: str = "en") -> str:
    """How the observational estimate was made: cross-fitting folds, the trimming rule and what it left out."""
    obs = effects[(effects["design"] == OBSERVATIONAL) & (effects["method"] == "aipw") & (effects["group"] == "all")
                  & (effects["outcome"] == "churned")]
    t1 = int(obs["trimmed_treated"].fillna(0).sum())
    t0 = int(obs["trimmed_control"].fillna(0).sum())
    return t("effects.trimming", lang, folds=folds, cut=f"{1 - trim:.2f}", t1=f"{t1:,}", t0=f"{t0:,}")
