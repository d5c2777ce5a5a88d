"""Tables and figures of the "Personas and journeys" report (notebook 07), from the ``personas`` stage's
artifacts, in English or Japanese. Plot functions take ``ax=None`` and return the ``ax``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.display import table
from .._core.i18n import fmt_date, fmt_interval, fmt_money, fmt_number, fmt_p, fmt_pct, fmt_pp, md_text, t
from .._core.plots import date_axis, new_ax
from . import flows as FL
from .personas import metric_label, persona_name


def _pct(v, lang, decimals=0):
    return fmt_pct(100 * v, lang, decimals) if v is not None and pd.notna(v) else ""


def _pct_interval(est, lo, hi, lang, decimals=1):
    return fmt_interval(100 * est, 100 * lo, 100 * hi, lang, decimals=decimals, unit="%", label=False) \
        if pd.notna(est) else ""


def missing_reason(run, name: str, lang: str | None = None) -> str | None:
    """Why the personas stage did not write ``name``, in ``lang`` (the run's by default), as its manifest keeps
    it; a run published before the manifest kept the reasons in every language has them in the stage's
    ``reasons`` JSON. None when it is there."""
    lang = lang or run.lang
    if run.has("personas", name):
        return None
    if run.has("personas", "reasons"):  # written by the stage until 4 Dec 2026
        texts = run.json("personas", "reasons").get(name)
        if texts and texts.get(lang):
            return texts[lang]
    return run.reason("personas", name, lang)


def available(run, *names: str) -> bool:
    """:func:`engage_models.reports.render.available` for the personas stage, with its reasons in the report's
    language."""
    from ..reports.render import available as stage_available
    from ..reports.render import show_missing

    if not run.has("personas"):
        return stage_available(run, "personas", *names)
    for name in names:
        why = missing_reason(run, name)
        if why is not None:
            show_missing(t("section.missing", run.lang, reason=why))
            return False
    return True


def header(info: dict, lang: str = "en") -> str:
    """One sentence: how many personas, chosen how, fitted on what."""
    sw = info.get("switching") or {}
    rate = _pct_interval(sw.get("rate"), sw.get("low"), sw.get("high"), lang) if sw.get("rate") is not None else "—"
    text = t("pj.header", lang, k=info["k"], accounts=info["fit_accounts"], dates=len(info["fit_dates"]),
             tenure=info["min_tenure_days"], stability=fmt_number(info["min_stability"], lang, 2), switching=rate)
    if info.get("best_k") is not None:  # the previous run's number kept against a best within noise
        text += " " + t("pj.kept_k", lang, k=info["k"], best=info["best_k"],
                        within=fmt_number(info.get("keep_k_within", 0.02), lang, 2))
    eligible = info.get("eligible_accounts", info["fit_accounts"])
    if eligible > info["fit_accounts"]:
        text += " " + t("pj.fit_sample", lang, m=info["fit_accounts"], n=eligible)
    return text


def churn_stop_text(record: dict | None, lang: str = "en") -> str:
    """At a churn stop, where the churn of report 07 was read (the personas stage's ``churn_stop``:
    :func:`engage_models.journeys.stage.churn_stop_record`), in one sentence; empty without a stop."""
    if not record:
        return ""
    args = {"stop": fmt_date(pd.Timestamp(record["stop"]), lang), "h": record["horizon_days"],
            "n": int(record["cohort_left_out"])}
    if record.get("landmark") is None:
        return t("pj.churn_stop_unknown", lang, **args)
    without = record.get("landmark_without")
    return t("pj.churn_stop", lang, landmark=fmt_date(pd.Timestamp(record["landmark"]), lang),
             without=fmt_date(pd.Timestamp(without), lang) if without else "-", **args)


def milestones_stop_text(info: dict | None, lang: str = "en") -> str:
    """At a churn stop, where the milestones' retention curves end (the personas stage's ``milestones`` record,
    its ``churn_stop``), in one sentence; empty without a stop.

    >>> milestones_stop_text({"churn_stop": {"stop": "2024-08-23", "accounts_left_out": 1}})[:60]
    "The accounts' churn stops on 23 Aug 2024 (report 01 says how"
    """
    record = (info or {}).get("churn_stop")
    if not record:
        return ""
    return t("pj.milestones_stop", lang, stop=fmt_date(pd.Timestamp(record["stop"]), lang),
             n=int(record["accounts_left_out"]))


def persona_table_view(tbl: pd.DataFrame, lang: str = "en", currency: str = "USD", horizon_days: int = 90):
    """The persona table: name, words, accounts (share), MRR (share), churn within the horizon, NPS; a cell that
    cannot be computed says why, and a persona built on few accounts is marked and says so in its words."""
    rows = []
    for r in tbl.sort_values("persona", kind="stable").itertuples():
        churn = (fmt_interval(100 * r.churn_rate, 100 * r.churn_low, 100 * r.churn_high, lang, decimals=1, unit="%",
                              n=int(r.churn_accounts)) if "churn_rate" in tbl and pd.notna(r.churn_rate)
                 else getattr(r, f"churn_why_{lang}", ""))
        nps = (fmt_interval(r.nps, r.nps_low, r.nps_high, lang, decimals=0, signed=True, n=int(r.nps_answers))
               if "nps" in tbl and pd.notna(getattr(r, "nps", np.nan)) else getattr(r, f"nps_why_{lang}", ""))
        if "nps" in tbl and pd.notna(getattr(r, "nps", np.nan)) and getattr(r, "nps_small_n", False):
            nps += " " + t("pj.small_n_mark", lang)
        # a Japanese mark takes no space before its full-width bracket (「ペルソナ1 （新規）」 read as a typo)
        name = persona_name(r.persona, lang) + ((" " if lang == "en" else "") + t("pj.new_mark", lang)
                                                if r.status == "new" else "")
        words = getattr(r, f"description_{lang}")
        if getattr(r, "few_accounts", False):
            name += " " + t("pj.few_accounts_mark", lang)
            note = (t("pj.no_accounts_words", lang) if not r.accounts  # "built on 0 accounts" read as a slip
                    else t("pj.few_accounts_words", lang, n=f"{r.accounts:,}", min=int(r.min_accounts)))
            words = t("sep.list", lang).join(w for w in (words, note) if w)
        rows.append({t("pj.persona", lang): name, t("pj.in_words", lang): words,
                     t("accounts", lang): f"{r.accounts:,} ({_pct(r.share, lang)})",
                     t("mrr", lang): f"{fmt_money(r.mrr, lang, currency)} ({_pct(r.mrr_share, lang)})",
                     t("churn_within", lang, h=horizon_days): churn, t("nps", lang): nps})
    return table(pd.DataFrame(rows), lang=lang, translate=False, max_chars=200)


def selection_view(sel: pd.DataFrame, lang: str = "en"):
    """How the number of personas was chosen: silhouette and bootstrap stability per ``k``."""
    return table(pd.DataFrame({
        t("pj.k", lang): sel["k"].astype(int), t("pj.silhouette", lang): sel["silhouette"].round(3),
        t("pj.stability", lang): sel["stability"].round(3), t("pj.stability_low", lang): sel["stability_low"].round(3),
        t("pj.chosen", lang): sel["chosen"].map(lambda v: "✓" if v else "")}), lang=lang, translate=False,
        decimals=3)


def plot_profile(prof: pd.DataFrame, ax=None, lang: str = "en", users: bool = False):
    """Heat map of each persona's mean z-score per metric (blue above everyone's typical value, red below),
    with the persona's median written in each cell (``users``: of user personas)."""
    name = user_persona_name if users else persona_name
    metrics = list(dict.fromkeys(prof["metric"]))
    personas = sorted(prof["persona"].unique())
    z = prof.pivot(index="persona", columns="metric", values="z").reindex(index=personas, columns=metrics)
    med = prof.pivot(index="persona", columns="metric", values="median").reindex(index=personas, columns=metrics)
    ax = new_ax(ax, figsize=(1.0 + 0.95 * len(metrics), 0.9 + 0.55 * len(personas)))
    im = ax.imshow(z.to_numpy(float).clip(-2, 2), cmap="RdBu", vmin=-2, vmax=2, aspect="auto")
    for i in range(len(personas)):
        for j in range(len(metrics)):
            v = med.iat[i, j]
            if pd.notna(v):
                ax.text(j, i, f"{v:,.2g}" if abs(v) < 100 else f"{v:,.0f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(metrics)), [metric_label(m, lang) for m in metrics], rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(personas)), [name(p, lang) for p in personas], fontsize=9)
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=t("pj.z_axis", lang))
    return ax


def user_persona_name(persona, lang: str = "en") -> str:
    return t("pj.users.name", lang, n=int(persona))


def users_header(info: dict, lang: str = "en") -> str:
    """One sentence: how many user personas, among how many users of how many customers."""
    return t("pj.users.header", lang, k=info["k"], users=info["users"], accounts=info["accounts"], days=info["days"],
             inactive=info["inactive"])


def user_persona_table_view(tbl: pd.DataFrame, lang: str = "en"):
    """The user personas: name, words, users (share of the active users), accounts with at least one."""
    rows = []
    for r in tbl.sort_values("user_persona", kind="stable").itertuples():
        name = user_persona_name(r.user_persona, lang) + (" " + t("pj.new_mark", lang) if r.status == "new" else "")
        rows.append({t("pj.users.user_persona", lang): name, t("pj.in_words", lang): getattr(r, f"description_{lang}"),
                     t("pj.users.users", lang): f"{r.users:,} ({_pct(r.share, lang)})",
                     t("pj.users.accounts_with", lang): f"{r.accounts:,}"})
    return table(pd.DataFrame(rows), lang=lang, translate=False, max_chars=200)


def _user_column(value: str, lang: str) -> str:
    return t("pj.users.inactive", lang) if value == "inactive" else user_persona_name(value, lang)


def user_mix_view(by: pd.DataFrame, lang: str = "en"):
    """Rows: account personas; columns: user personas (and inactive users); cells: share of the account
    persona's users, pooled (the mean share within an account in brackets)."""
    cols = sorted(by["user_persona"].unique(), key=lambda v: (v == "inactive", int(v) if v != "inactive" else 0))
    rows = []
    for p, g in by.groupby("persona", sort=True):
        g = g.set_index("user_persona")
        row = {t("pj.persona", lang): persona_name(p, lang), t("accounts", lang): f"{int(g['accounts'].iloc[0]):,}"}
        for c in cols:
            share, within = (g.loc[c, "share"], g.loc[c, "mean_account_share"]) if c in g.index else (None, None)
            row[_user_column(c, lang)] = f"{_pct(share, lang)} ({_pct(within, lang)})" if share is not None else ""
        rows.append(row)
    return table(pd.DataFrame(rows), lang=lang, translate=False)


def mix_examples(user_mix: pd.DataFrame, info: dict, lang: str = "en", n: int = 3) -> str:
    """The mixes of the ``n`` accounts with the most users, in words (a Markdown list: "A00012: 9 readers (User
    persona 2); 1 ...")."""
    from .users import mix_text

    words = {int(p): w[lang] for p, w in (info.get("words") or {}).items()}
    size = user_mix.groupby("account_id")["users"].sum().sort_values(ascending=False, kind="stable")
    lines = ["- " + t("sep.label_value", lang, what=md_text(a),  # account ids, feature names: user text
                      value=md_text(mix_text(user_mix[user_mix["account_id"] == a], words, lang)))
             for a in size.index[:n]]
    return t("pj.users.example", lang) + "\n\n" + "\n".join(lines)


def plot_sizes(sizes: pd.DataFrame, ax=None, lang: str = "en"):
    """Share of customers in each persona over the observation dates (stacked)."""
    ax = new_ax(ax, figsize=(10, 3.8))
    wide = sizes.pivot(index="as_of", columns="persona", values="share").fillna(0.0)
    wide.index = pd.to_datetime(wide.index, utc=True).tz_localize(None)
    ax.stackplot(wide.index, *[wide[c].to_numpy() for c in wide.columns],
                 labels=[persona_name(c, lang) for c in wide.columns], alpha=0.85)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    ax.set_ylabel(t("pj.share_of_customers", lang))
    date_axis(ax, lang)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return ax


def moves_view(mv: pd.DataFrame, lang: str = "en"):
    """Accounts from each persona at the comparison date (rows; ``new``: not a customer then) to each persona
    now (columns; ``left``: no longer a customer)."""
    def name(v):
        return t(f"movement.{v}", lang) if v in ("new", "left") else persona_name(int(v), lang)

    wide = mv.pivot_table(index="from", columns="to", values="accounts", aggfunc="sum", fill_value=0)
    order = lambda idx: sorted(idx, key=lambda v: (v in ("new", "left"), int(v) if v.isdigit() else 0))  # noqa: E731
    wide = wide.reindex(index=order(wide.index), columns=order(wide.columns), fill_value=0)
    out = wide.astype(int)
    out.index = [name(v) for v in out.index]
    out.columns = [name(v) for v in out.columns]
    out = out.reset_index(names=t("pj.from_to", lang))
    return table(out, lang=lang, translate=False)


def growth_sentence(info: dict, lang: str = "en") -> str:
    """The persona that grew or shrank the most since the comparison date, in one sentence."""
    g = info.get("growth") if "growth" in info else info
    if not g or not g.get("top"):
        return ""
    top = g["top"]
    key = "pj.grew" if top["change_pp"] >= 0 else "pj.shrank"
    words = top.get(f"description_{lang}", "")
    said = t(key, lang, persona=persona_name(top["persona"], lang), words=words,
             before=_pct(top["share_before"], lang), now=_pct(top["share_now"], lang),
             change=fmt_pp(top["change_pp"], lang), since=fmt_date(g["previous"], lang),
             n0=f"{top['accounts_before']:,}", n1=f"{top['accounts_now']:,}")
    if top.get("few_accounts"):  # a persona of few accounts says so, in a sentence of its own (inside the list
        # of its traits it read as one more trait)
        said += " " + (t("pj.no_accounts_sentence", lang) if not top["accounts_now"] else  # not "built on 0"
                       t("pj.few_accounts_sentence", lang, n=f"{top['accounts_now']:,}", min=int(top["min_accounts"])))
    return said


# ------------------------------------------------------------------------------------------ milestones
def milestone_label(info: dict, name: str, lang: str = "en") -> str:
    lab = (info.get("labels") or {}).get(name, {})
    return lab.get(lang) or t(f"milestone.{name}", lang)


def _pp_interval(est, lo, hi, lang):
    return fmt_interval(est, lo, hi, lang, fmt=lambda v: fmt_pp(100 * v, lang), label=False)


def milestone_view(summary: pd.DataFrame, lang: str = "en"):
    """Per milestone: share reaching it by the landmark, the tenure its groups are compared at, retention of
    each group then, the difference with its interval and the naive comparison's beside it, and the log-rank
    q-value. A milestone whose groups cannot be read at any tenure says why in its difference cell (and shows
    no q-value: no test without the difference it tests); so does a naive comparison that cannot be read."""
    # a run published before 5 Dec 2026 has no intervals of the differences nor reasons: shown without them
    summary = summary.assign(**{c: summary[c] if c in summary else np.nan for c in (
        "difference_low", "difference_high", "naive_difference_low", "naive_difference_high")},
        **{c: summary[c] if c in summary else "" for c in ("why_en", "why_ja", "naive_why_en", "naive_why_ja")})
    rows = []
    for r in summary.itertuples():
        shown = pd.notna(r.difference)
        not_compared = t("pj.not_compared", lang)
        naive = (_pp_interval(r.naive_difference, r.naive_difference_low, r.naive_difference_high, lang)
                 if pd.notna(r.naive_difference) else getattr(r, f"naive_why_{lang}") or not_compared)
        rows.append({
            t("pj.milestone", lang): getattr(r, f"label_{lang}"),
            t("pj.reached_by_landmark", lang, days=int(r.landmark_days)):
                f"{_pct(r.share, lang)} ({r.reached:,}/{r.accounts:,})",
            t("pj.compared_at", lang): t("pj.at_months", lang, m=f"{r.at_months:g}") if shown else not_compared,
            t("pj.retention_reached", lang):
                _pct_interval(r.reached_survival, r.reached_ci_low, r.reached_ci_high, lang) or not_compared,
            t("pj.retention_not", lang):
                _pct_interval(r.not_reached_survival, r.not_reached_ci_low, r.not_reached_ci_high, lang)
                or not_compared,
            t("pj.difference", lang): _pp_interval(r.difference, r.difference_low, r.difference_high, lang)
            if shown else getattr(r, f"why_{lang}") or not_compared,
            t("pj.naive_difference", lang): naive,
            t("pj.q_value", lang): fmt_p(r.q_value) if shown and pd.notna(r.q_value)
            else t("pj.q_no_churn", lang) if shown else t("pj.q_not_shown", lang),
        })
    return table(pd.DataFrame(rows), lang=lang, translate=False, max_chars=200)


def group_names(lang: str = "en", days: int = 30, naive: bool = False) -> dict:
    """Legend names of the two groups of a milestone comparison (``naive``: ever / never reached)."""
    if naive:
        return {"reached": t("pj.group.ever", lang), "not_reached": t("pj.group.never", lang)}
    return {g: t(f"pj.group.{g}", lang, days=days) for g in ("reached", "not_reached")}


def naive_title(lang: str = "en") -> str:
    return t("pj.naive_title", lang)


def landmark_title(days: int, lang: str = "en") -> str:
    return t("pj.landmark_title", lang, days=int(days))


def phase_title(phase: str, lang: str = "en") -> str:
    return t(f"pj.phase.{phase}", lang)


def ttv_sentence(info: dict, lang: str = "en") -> str:
    ttv = info.get("time_to_value") or {}
    if not ttv.get("reached"):
        return ""
    return t("pj.ttv", lang, milestone=md_text(milestone_label(info, info["first_value"], lang)),
             median=fmt_number(ttv["median_days"], lang, 0), q1=fmt_number(ttv["q1_days"], lang, 0),
             q3=fmt_number(ttv["q3_days"], lang, 0), reached=f"{ttv['reached']:,}", n=f"{ttv['accounts']:,}")


def ttv_view(ttv: pd.DataFrame, lang: str = "en"):
    return table(pd.DataFrame({
        t("pj.within_days", lang): ttv["within_days"].map(lambda d: t("run.days", lang, n=int(d))),
        t("accounts", lang): ttv["accounts"].astype(int), t("pj.reached", lang): ttv["reached"].astype(int),
        t("share", lang): [_pct_interval(s, lo, hi, lang) for s, lo, hi in zip(ttv["share"], ttv["ci_low"],
                                                                                  ttv["ci_high"], strict=True)]}),
        lang=lang, translate=False)


def plot_ttv_cohorts(by: pd.DataFrame, days: int, ax=None, lang: str = "en"):
    """Share of each start quarter reaching first value within ``days`` days, with its interval."""
    ax = new_ax(ax, figsize=(9, 3.5))
    x = pd.to_datetime(by["cohort"], utc=True).dt.tz_localize(None)
    ax.errorbar(x, by["share"], yerr=[by["share"] - by["ci_low"], by["ci_high"] - by["share"]], fmt="o-", capsize=3)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:.0%}")
    ax.set_ylabel(t("pj.reached_within", lang, days=days))
    ax.set_xlabel(t("pj.start_quarter", lang))
    date_axis(ax, lang)
    return ax


# ------------------------------------------------------------------------------------------ channels
def channel_label(value: str, lang: str = "en") -> str:
    key = f"channel.{value}"
    text = t(key, lang)
    return text if text != key else str(value)


def device_label(value: str, lang: str = "en") -> str:
    key = f"device.{value}"
    text = t(key, lang)
    return text if text != key else str(value)


def touches_note(touches: pd.DataFrame, lang: str = "en", days: int = 90) -> str:
    """Why the touches before the contract start are not shown, when they are not ("" when they are): the report
    promised them, and a small world showed the after-start panel alone without a word.

    >>> touches_note(pd.DataFrame({"phase": ["after_start"]}))[:44]
    'No touch in the 90 days before a contract st'
    """
    if (touches["phase"] == "before_start").any():
        return ""
    return t("pj.no_before_start", lang, days=int(days))


def plot_touches(touches: pd.DataFrame, ax=None, lang: str = "en"):
    """For each channel, the share of its touches from each device (100% bars), before and after the contract
    start (one panel each), with the number of touches at the end of each bar."""
    import matplotlib.pyplot as plt

    phases = [p for p in ("before_start", "after_start") if (touches["phase"] == p).any()]
    if ax is None:
        fig, axes = plt.subplots(1, max(1, len(phases)), figsize=(13, 3.8), squeeze=False)
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax]
    colours = {"desktop": "#0072b2", "mobile": "#e69f00", "tablet": "#009e73", "unknown": "#bbbbbb"}
    for a, phase in zip(axes, phases, strict=False):
        d = touches[touches["phase"] == phase]
        wide = d.pivot_table(index="channel", columns="device", values="touches", aggfunc="sum", fill_value=0)
        total = wide.sum(axis=1)
        wide = wide.loc[total.sort_values(ascending=True, kind="stable").index]
        total = total.loc[wide.index]
        share = wide.div(total, axis=0)
        labels = [channel_label(c, lang) for c in wide.index]
        left = np.zeros(len(wide))
        devices = [c for c in colours if c in wide.columns] + [c for c in wide.columns if c not in colours]
        for dev in devices:
            a.barh(labels, share[dev], left=left, color=colours.get(dev, "#999999"), label=device_label(dev, lang))
            left += share[dev].to_numpy()
        for y, n in enumerate(total):
            a.text(1.01, y, t("pj.n_touches", lang, n=f"{int(n):,}"), va="center", fontsize=8)
        a.set_xlim(0, 1.25)
        a.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        a.set_title(t(f"pj.phase.{phase}", lang), fontsize=10)
        a.set_xlabel(t("pj.device_share", lang))
        a.grid(False, axis="y")
    if phases:
        handles, names = axes[0].get_legend_handles_labels()
        for a in axes[1:]:
            for h, n in zip(*a.get_legend_handles_labels(), strict=True):
                if n not in names:
                    handles.append(h)
                    names.append(n)
        fig.legend(handles, names, loc="lower center", ncols=len(names), frameon=False, fontsize=8,
                   bbox_to_anchor=(0.5, -0.06))
        fig.tight_layout()
    return axes[0]


def touches_view(touches: pd.DataFrame, lang: str = "en"):
    d = touches.groupby(["phase", "channel"], sort=False).agg(touches=("touches", "sum"), accounts=("accounts", "max"),
                                                             base=("phase_accounts", "first")).reset_index()
    return table(pd.DataFrame({
        t("pj.phase", lang): d["phase"].map(lambda p: t(f"pj.phase.{p}", lang)),
        t("pj.channel", lang): d["channel"].map(lambda c: channel_label(c, lang)),
        t("pj.touches", lang): d["touches"].astype(int),
        t("pj.accounts_touched", lang): [f"{a:,} / {b:,}" for a, b in zip(d["accounts"], d["base"], strict=True)]}),
        lang=lang, translate=False)


def device_view(mix: pd.DataFrame, lang: str = "en"):
    return table(pd.DataFrame({t("pj.device", lang): mix["device"].map(lambda d: device_label(d, lang)),
                               t("pj.events", lang): mix["events"].astype(int),
                               t("share", lang): mix["share"].map(lambda v: _pct(v, lang, 1)),
                               t("accounts", lang): mix["accounts"].astype(int)}), lang=lang, translate=False)


def exposure_label(kind: str, value: str, lang: str = "en") -> str:
    if kind == "channel":
        return t("pj.exposure.channel", lang, value=channel_label(value, lang))
    return t(f"pj.exposure.{kind}", lang, value=device_label(value, lang))


def outcomes_view(tbl: pd.DataFrame, phase: str, lang: str = "en"):
    """Churn and expansion with and without each exposure of one phase, with q-values (associations)."""
    d = tbl[tbl["phase"] == phase]
    rows = []
    for r in d.itertuples():
        def q(v):
            return "" if pd.isna(v) else ("< 0.001" if v < 0.001 else f"{v:.3f}")
        rows.append({
            t("pj.exposure", lang): exposure_label(r.kind, r.value, lang),
            t("pj.n_with_without", lang): f"{r.n_with:,} / {r.n_without:,}",
            t("pj.churn_with", lang): _pct_interval(r.churned_with, r.churned_with_low, r.churned_with_high, lang),
            t("pj.churn_without", lang): _pct_interval(r.churned_without, r.churned_without_low,
                                                       r.churned_without_high, lang),
            t("pj.churn_q", lang): q(r.churned_q),
            t("pj.expansion_with", lang): _pct_interval(r.expanded_with, r.expanded_with_low, r.expanded_with_high,
                                                        lang),
            t("pj.expansion_without", lang): _pct_interval(r.expanded_without, r.expanded_without_low,
                                                           r.expanded_without_high, lang),
            t("pj.expansion_q", lang): q(r.expanded_q),
        })
    return table(pd.DataFrame(rows), lang=lang, translate=False, max_chars=200)


# ------------------------------------------------------------------------------------------ lifecycle
def paths_view(paths: pd.DataFrame, lang: str = "en"):
    def words(p):
        return " → ".join(FL._state_label(s, lang) for s in p.split(" > "))

    return table(pd.DataFrame({t("pj.path", lang): paths["path"].map(words),
                               t("accounts", lang): paths["accounts"].astype(int),
                               t("share", lang): paths["share"].map(lambda v: _pct(v, lang, 1))}),
                 lang=lang, translate=False, max_chars=200)


def flow_stop_text(info: dict | None, lang: str = "en") -> str:
    """At a churn stop, where the lifecycle paths end and why (the personas stage's ``stage_flow``:
    :func:`engage_models.journeys.stage.path_dates`), in one sentence; empty when the stop left no date out.

    >>> flow_stop_text({"dates": ["2024-07-01T00:00:00+00:00", "2024-08-01T00:00:00+00:00"],
    ...                 "churn_stop": {"stop": "2024-08-23", "dates_left_out": 2}})[:60]
    "The paths end on 1 Aug 2024: the accounts' churn stops on 23"
    """
    stop = (info or {}).get("churn_stop")
    if not stop:
        return ""
    return t("pj.paths_stop", lang, last=fmt_date(pd.Timestamp(info["dates"][-1]), lang),
             stop=fmt_date(pd.Timestamp(stop["stop"]), lang), n=stop["dates_left_out"])


def plot_flow(transitions: pd.DataFrame, info: dict, ax=None, lang: str = "en"):
    return FL.plot_flow(transitions, info["dates"], ax=ax, lang=lang)
