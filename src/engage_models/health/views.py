"""The health score as a reader sees it: the scorecard, its weights, bands and the accounts at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.i18n import fmt_date, fmt_interval, fmt_money, fmt_number, fmt_pp, t
from .._core.plots import BAND_COLOURS, new_ax
from ..features import metrics as M
from .design import NO_VALUE, feature_label, left_out_of

BANDS = ("green", "yellow", "red")


def model_line(run, lang: str = "en") -> str:
    """Which health model scored this run, in one line: its id, the data it was trained on, whether this run
    trained it or scored with a frozen one, and the retrain policy's decision (empty for runs before model ids)."""
    if not run.has("health", "model"):
        return ""
    model = run.json("health", "model")
    mid = model.get("model_id")
    if not mid:
        return ""
    until = model.get("cutoff") or model.get("trained_until")
    date = fmt_date(pd.Timestamp(until), lang) if until else "?"
    line = t("hs.model_frozen" if model.get("frozen") else "hs.model_trained", lang, id=mid, date=date)
    if run.has("health", "lifecycle"):
        decision = run.json("health", "lifecycle")
        line += " " + t(f"hs.policy_{decision['action']}", lang, policy=decision["policy"])
    return line


def _span(first, last, lang: str) -> str:
    a, b = fmt_date(pd.Timestamp(first), lang), fmt_date(pd.Timestamp(last), lang)
    return a if a == b else t("sep.date_span", lang, a=a, b=b)


#: The sentence of each churn-stop key when no row was left out (a key without one says nothing then).
_STOP_NONE = {"hs.churn_stop": "hs.churn_stop_none", "monitoring.churn_stop": "monitoring.churn_stop_none"}
#: A frozen model's ``model.json`` keeps the stop of its training: said as the model's, not this run's.
_STOP_FROZEN = {"hs.churn_stop": "hs.churn_stop_frozen", "sum.churn_stop": "sum.churn_stop_frozen"}


def churn_stop_text(model: dict | None, lang: str = "en", key: str = "hs.churn_stop") -> str:
    """The rows the health model left out because the accounts' churn stops before the data end (its ``model.json``
    ``churn_stop``, written by the health stage: :func:`engage_models.pipeline.stages.known_labels`), in one sentence
    of ``lang``: the stop, the rows and their dates, the horizon; empty without a stop. ``key``: ``sum.churn_stop``
    gives the executive summary's shorter line, ``monitoring.churn_stop`` report 08's (the monitoring stage's
    ``info`` keeps its ``churn_stop`` the same way). A frozen model's (``frozen``: a scoring run) is the stop of
    its training data, said so with its ``model_id`` (none when it left no row out).

    >>> model = {"churn_stop": {"stop": "2024-06-30", "label_end": "2024-06-30", "rows": 1234, "accounts": 300,
    ...                         "first": "2024-04-01", "last": "2024-10-01", "horizon_days": 90}}
    >>> print(churn_stop_text(model)[76:])  # doctest: +NORMALIZE_WHITESPACE
    the 1,234 rows observed 1 Apr 2024 to 1 Oct 2024, whose 90-day window runs past that day, were left out of the
    training and the backtest, since every account there would look as if it never churned.
    """
    found = (model or {}).get("churn_stop")
    if not found:
        return ""
    stop = fmt_date(pd.Timestamp(found["stop"]), lang)
    if model.get("frozen") and key in _STOP_FROZEN:
        return t(_STOP_FROZEN[key], lang, model=model.get("model_id") or "", stop=stop, n=found["rows"],
                 h=found["horizon_days"], dates=_span(found["first"], found["last"], lang)) if found["rows"] else ""
    if not found["rows"]:
        return t(_STOP_NONE[key], lang, stop=stop, h=found["horizon_days"]) if key in _STOP_NONE else ""
    return t(key, lang, stop=stop, n=found["rows"], h=found["horizon_days"],
             dates=_span(found["first"], found["last"], lang))


def card_labels(card: pd.DataFrame, lang: str = "en") -> pd.Series:
    """The features' labels in ``lang`` (a stored card has ``label_en`` / ``label_ja``; a fresh one ``label``)."""
    col = f"label_{lang}"
    return card[col] if col in card else card["label"]


def scorecard_view(card: pd.DataFrame, lang: str = "en", top: int | None = None) -> pd.DataFrame:
    """The scorecard as a reader sees it: weight with interval, points range, effect in percentage points.

    A category's level states its reference: its change is from the typical account's level ("+0.3 pp against
    Enterprise"; the typical level itself reads "the typical level"), while its weight is against the average of
    the levels, so that a reader sees why the two can differ in sign ("plan = Pro -0.02 ... +0.3 pp" read as a
    contradiction). A card stored before the reference was kept (no ``typical_level``) shows the bare change.
    """
    card = card.head(top) if top else card
    rows = []
    for label, r in zip(card_labels(card, lang), card.itertuples(), strict=True):
        effect = fmt_pp(100 * r.delta_churn_probability, lang)
        typical = getattr(r, "typical_level", None)
        if isinstance(typical, str):
            own = str(r.feature).split("=", 1)[1]
            effect = t("hs.typical_level", lang) if own == typical else t("hs.effect_vs_level", lang, value=effect,
                                                                           level=typical)
        rows.append({t("metric", lang): label,
                     t("weight", lang): fmt_interval(r.weight, r.ci_low, r.ci_high, lang, decimals=2, signed=True,
                                                     label=False),
                     t("points", lang): f"{r.points_range:.1f}",
                     t("effect_1sd", lang): effect})
    return pd.DataFrame(rows)


def unsigned_note(card: pd.DataFrame, lang: str = "en") -> str:
    """Which metrics of a linear card name no account's driver because their stability interval holds 0 (their
    points still count in the score), and that a play keyed to one of them can then not be chosen through it;
    "" when none (or for a card without intervals, or stored before the card marked them). A review: the rule made
    plays vanish without a word. The card's ``unsigned`` column is :meth:`.HealthScore.unsigned_features`, the
    set the drivers leave out, so the note and the drivers cannot drift apart.

    >>> card = pd.DataFrame({"feature": ["csat", "usage", "plan=Pro"], "label": ["latest CSAT", "usage", "Pro"],
    ...                      "unsigned": [True, False, False]})
    >>> print(unsigned_note(card)[:74])
    Not named as any account's driver, the sign of its weight unknown (its 95%
    >>> "latest CSAT" in unsigned_note(card) and "usage" not in unsigned_note(card)
    True
    """
    left = left_out_note(card.attrs, lang)
    if "unsigned" not in card:
        return left
    holds = card["unsigned"].fillna(False).astype(bool)
    if not holds.any():
        return left
    note = t("hs.unsigned", lang, metrics=t("sep.list", lang).join(card_labels(card[holds], lang)))
    return f"{note}\n\n{left}" if left else note


def grouped_note(model: dict, card: pd.DataFrame, lang: str = "en") -> str:
    """For a linear card, one sentence per feature that stands for several correlated metrics, naming every one
    (the health stage's ``model["grouped_metrics"]``, :func:`engage_models.health.tables.grouped_metrics`): report
    04 showed "logins_30d and 2 related metrics" and named neither of the two. "" when none (or for a model stored
    before it was recorded). Names are written as typed (:func:`~engage_models._core.i18n.md_text`).

    >>> card = pd.DataFrame({"feature": ["usage"], "label_en": ["usage and 1 related metric"], "label_ja": ["x"]})
    >>> grouped_note({"grouped_metrics": {"usage": [{"column": "usage", "sign": 1},
    ...                                             {"column": "idle_days", "sign": -1}]}}, card).split(":")[0]
    "'usage and 1 related metric' is one weight for usage and idle&#95;days (reversed)"
    """
    from .._core.i18n import md_text
    from .tables import grouped_text

    groups = {md_text(f): [{**m, "column": md_text(m["column"])} for m in members]
              for f, members in ((model or {}).get("grouped_metrics") or {}).items()}
    if not groups:
        return ""
    labels = pd.DataFrame({"feature": [md_text(f) for f in card["feature"]],
                           "label": [md_text(x) for x in card_labels(card, lang)]})
    return "\n\n".join(grouped_text(groups, labels, lang))


def left_out_note(attrs: dict, lang: str = "en") -> str:
    """The metrics the card left out because its training rows hold no value of them, or one value
    (:func:`~engage_models.health.design.uninformative`), each with why; "" when none. Said under the linear card
    (with :func:`unsigned_note`) and as rows of the shape card (:func:`shape_card_view`): the card used to list
    them with weights and points of nothing ("latest CSAT: no answer -0.0001").

    >>> left_out_note({"left_out": ["csat", "seats"], "left_out_reason": ["no_value", "one_value"]})[:61]
    'Left out of the card, with nothing to learn from on the train'
    >>> left_out_note({})
    ''
    """
    left = left_out_of(attrs or {})
    if not left:
        return ""
    items = [t("hs.left_out_no_value" if why == NO_VALUE else "hs.left_out_one_value", lang, metric=M.label(m, lang))
             for m, why in left.items()]
    return t("hs.left_out", lang, metrics=t("sep.list", lang).join(items))


def plot_weights(card: pd.DataFrame, top: int = 15, ax=None, lang: str = "en"):
    """Weights (log-odds of churn per SD) with 95% bootstrap intervals; left of zero = protective."""
    c = card.head(top).iloc[::-1]
    ax = new_ax(ax, figsize=(8, 0.38 * len(c) + 1.2))
    y = np.arange(len(c))
    colours = np.where(c["weight"] < 0, BAND_COLOURS["green"], BAND_COLOURS["red"])
    ax.scatter(c["weight"], y, color=colours, zorder=3)
    if c["ci_low"].notna().all():
        ax.hlines(y, c["ci_low"], c["ci_high"], color=colours, linewidth=2)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(y, card_labels(c, lang), fontsize=8)
    ax.set_xlabel(t("weight_axis", lang))
    return ax


def most_at_risk(scored: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The ``n`` accounts with the most monthly revenue at risk (churn probability x MRR), riskiest first;
    ties broken by account id so the list is the same every run."""
    s = scored.assign(mrr_at_risk=scored["churn_probability"] * scored["mrr"].fillna(0))
    return s.sort_values(["mrr_at_risk", "account_id"], ascending=[False, True]).head(n).reset_index(drop=True)


def probability_text(p: float) -> str:
    """A churn probability in a table: one decimal below 10%, and ``<0.1%`` for a probability above 0 that would
    read 0.0%. Whole percents showed every account of a low-risk portfolio (a CDNOW purchase log, churn
    probabilities of 0.1% to 0.5%) at "0%", the accounts at risk ranked by a figure that read the same for all.

    >>> [probability_text(p) for p in (0.0018, 0.0004, 0.0, 0.073, 0.0996, 0.42, float("nan"))]
    ['0.2%', '<0.1%', '0.0%', '7.3%', '10%', '42%', '']
    """
    if p is None or pd.isna(p):
        return ""
    v = 100 * float(p)
    if 0 < v < 0.05:
        return "<0.1%"
    return f"{v:.1f}%" if v < 9.95 else f"{v:.0f}%"


def at_risk(scored: pd.DataFrame, n: int = 15, lang: str = "en", currency: str = "USD") -> pd.DataFrame:
    """:func:`most_at_risk` as a report table: score, band, churn probability, MRR at risk and the drivers."""
    s = most_at_risk(scored, n)
    if f"drivers_text_{lang}" in s:
        s = s.assign(drivers_text=s[f"drivers_text_{lang}"])
    if "drivers_text" in s:  # a blank cell read as not computed: most accounts of a CDNOW log had no driver
        s = s.assign(drivers_text=s["drivers_text"].map(lambda v: v if isinstance(v, str) and v
                                                        else t("health.no_driver", lang)))
    cols = {"account_id": t("account_id", lang), "name": t("name", lang), "segment": t("segment", lang),
            "score": t("health_score", lang), "band": t("band", lang),
            "churn_probability": t("churn_probability", lang), "mrr": t("mrr_total", lang),
            "mrr_at_risk": t("mrr_at_risk", lang), "drivers_text": t("drivers", lang)}
    out = s[[c for c in cols if c in s.columns]].copy()
    out["score"] = out["score"].round(0).astype(int)
    out["churn_probability"] = out["churn_probability"].map(probability_text)
    out["band"] = out["band"].map(lambda b: t(b, lang))
    for c in ("mrr", "mrr_at_risk"):
        out[c] = out[c].map(lambda v: fmt_money(v, lang, currency))
    return out.rename(columns=cols).reset_index(drop=True)


def band_summary(scored: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Accounts, MRR and mean churn probability per band at one date."""
    g = scored.groupby("band").agg(accounts=("account_id", "size"), mrr=("mrr", "sum"),
                                   churn_probability=("churn_probability", "mean"))
    g = g.reindex(["green", "yellow", "red"]).fillna(0).reset_index()
    g["share"] = g["accounts"] / g["accounts"].sum()
    return g


def band_performance_view(perf: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """:func:`~engage_models.health.evaluation.band_table` in percent, bands in words."""
    rates = ["churn_rate", "share_of_churners", "cumulative_share_of_churners", "false_alarm_rate",
             "cumulative_false_alarm_rate"]
    out = perf.copy()
    out[rates] = 100 * out[rates]
    return out.assign(band=out["band"].map(lambda b: t(b, lang)))


def driver_label(feature: str, lang: str = "en") -> str:
    return feature_label(feature, lang)


# ------------------------------------------------------------------------------------ the shape card
def choice_text(model: dict, lang: str = "en") -> str:
    """Which learned card the run uses and why: the backtest's ROC-AUC of both forms and their paired difference
    (from the health stage's ``model`` JSON)."""
    chosen = model.get("chosen_by", {})
    form = t(f"hs.form_{model.get('form', 'linear')}", lang)
    auc = chosen.get("auc")
    sample = model.get("fit_sample") or {}
    # the message starts with the space its language puts between sentences (none in Japanese)
    said = t("hs.fit_sample", lang, m=sample["fitted_on"], n=sample["accounts"]) if sample.get("sampled") else ""
    if chosen.get("failed"):
        return t("hs.choice_failed", lang, form=form) + said
    if chosen.get("by") != "backtest ROC-AUC" or not auc or all(pd.isna(a) for a in (auc["shape"], auc["linear"])):
        return t("hs.choice_fixed", lang, form=form) + said
    if pd.isna(auc["shape"]) or pd.isna(auc["linear"]):  # a card of one value has no ROC-AUC (None in the JSON)
        mine = auc["shape" if model.get("form") == "shape" else "linear"]
        return t("hs.choice_one_value", lang, form=form, auc=mine) + said
    diff = chosen.get("shape_vs_linear") or {}
    why = diff.get("not_computed")
    if why == "off_centre":  # the resamples to one side: they may all favour a card, so not "noise"
        return t("hs.choice_off_centre", lang, form=form, shape=auc["shape"], linear=auc["linear"],
                 d=diff["difference"]) + said
    if why:  # no interval of the difference (evaluation.paired_difference): the simpler card, and why
        return t("hs.choice_no_interval", lang, form=form, shape=auc["shape"], linear=auc["linear"],
                 d=diff["difference"], why=t(f"hs.choice_why_{why}", lang)) + said
    lo, hi = diff.get("ci_low", np.nan), diff.get("ci_high", np.nan)
    # the linear card kept where the shape card does not lead: "it ranked churn better" only when the whole
    # interval says so; a difference of -0.000 (interval around 0) read "better" before
    alike = model.get("form") != "shape" and not (pd.notna(hi) and hi < 0)
    key = ("hs.choice_kept" if chosen.get("shape_lead_within_noise") else "hs.choice_alike" if alike
           else "hs.choice")
    return t(key, lang, form=form, shape=auc["shape"], linear=auc["linear"],
             d=diff.get("difference", np.nan), lo=lo, hi=hi) + said


def card_name(model: str = "learned", lang: str = "en") -> str:
    """The card the run uses (the backtest's ``learned_model``), as the sentences about it name it: the shape
    card's figures were said as "the learned score's", beside a table whose "learned score" row is the linear
    card (a CDNOW log: "the learned score's 0.547" above a row "learned score 0.445", "shape card 0.547")."""
    return t(f"hs.card_name.{'shape' if model == 'shape' else 'learned'}", lang)


def compare_text(diff: dict, gbm: float, learned: float, lang: str = "en", model: str = "learned") -> str:
    """The learned score against the hand-weighted card out of time, in words that follow the interval: better
    (the interval above 0), worse (below 0), or alike (it spans 0). A difference of -0.029 read "better by
    -0.029" before. A difference without an interval (``not_computed``, see
    :func:`~engage_models.health.evaluation.paired_difference`) says so and why. ``model``: the card compared
    (the backtest's ``learned_model``), named as :func:`card_name` says."""
    d, lo, hi = diff["difference"], diff["ci_low"], diff["ci_high"]
    name = card_name(model, lang)
    # gradient boosting of one value has no ROC-AUC: "reaches nan" before (evaluation.one_value_text says why)
    bench = t("hs.compare_gbm_one_value" if pd.isna(gbm) else "hs.compare_gbm", lang, gbm=gbm, learned=learned,
              name=name)
    if diff.get("not_computed") or lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        why = t(f"hs.choice_why_{diff.get('not_computed') or 'few_draws'}", lang)
        # resamples to one side may all favour one card: not "cannot be told apart"
        key = "hs.compare_off_centre" if diff.get("not_computed") == "off_centre" else "hs.compare_no_interval"
        return t(key, lang, d=d, why=why, name=name) + (" " if lang == "en" else "") + bench
    key = "hs.compare" if lo > 0 else "hs.compare_worse" if hi < 0 else "hs.compare_noise"
    return t(key, lang, d=abs(d) if key != "hs.compare_noise" else d, lo=lo, hi=hi, name=name) \
        + (" " if lang == "en" else "") + bench


def calibration_text(ref: dict | None, lang: str = "en", model: str = "learned") -> str:
    """The learned score's ICI beside a perfectly calibrated score's on as many rows
    (:func:`~engage_models.health.evaluation.calibration_reference`); empty without one. ``model``: the card it
    is of (the backtest's ``learned_model``)."""
    if not ref:
        return ""
    verdict = t("hs.ici_beyond" if ref["beyond"] else "hs.ici_within", lang)
    return t("hs.ici_reference", lang, ici=ref["ici"], median=ref["median"], q95=ref["q95"], rows=ref["rows"],
             draws=ref["draws"], verdict=verdict, name=card_name(model, lang))


def shape_card_view(card: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The card as ranges and points (with the bootstrap interval when there is one), metric by metric."""
    label = card[f"label_{lang}"] if f"label_{lang}" in card else card["label"]
    rng = card[f"range_{lang}"] if f"range_{lang}" in card else card["range"]
    pts = [fmt_interval(r.points, r.ci_low, r.ci_high, lang, decimals=1, label=False) if pd.notna(r.ci_low)
           else f"{r.points:.1f}" for r in card.itertuples()]
    view = pd.DataFrame({t("metric", lang): label.where(label.ne(label.shift())).fillna("").to_numpy(),
                         t("range", lang): rng.to_numpy(), t("points", lang): pts})
    left = left_out_of(card.attrs)  # the metrics the card left out, last: why they have no range
    if left:
        view = pd.concat([view, pd.DataFrame({
            t("metric", lang): [M.label(m, lang) for m in left],
            t("range", lang): [t("hs.left_out_range" if why == NO_VALUE else "hs.left_out_range_one", lang)
                               for why in left.values()],
            t("points", lang): ["-"] * len(left)})], ignore_index=True)
    return view


def plot_shapes(card: pd.DataFrame, lang: str = "en", ncols: int = 4, top: int | None = 16):
    """One small step plot per metric: points (y) earned by each range (x, in order; 'missing' last), the metrics
    that can move the score most first. Returns the figure."""
    import matplotlib.pyplot as plt

    label_col = f"label_{lang}" if f"label_{lang}" in card else "label"
    range_col = f"range_{lang}" if f"range_{lang}" in card else "range"
    order = card.groupby("term", sort=False)["max_points"].first().sort_values(ascending=False)
    terms = list(order.index[:top] if top else order.index)
    nrows = max(1, -(-len(terms) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows), squeeze=False)
    for ax, term in zip(axes.ravel(), terms, strict=False):
        c = card[card["term"] == term]
        c = pd.concat([c[c["cell"] > 0], c[c["cell"] == 0]])  # ranges in order, missing last
        x = np.arange(len(c))
        ax.step(x, c["points"], where="mid", color=BAND_COLOURS["green"])
        ax.plot(x, c["points"], "o", color=BAND_COLOURS["green"], markersize=3)
        if c["ci_low"].notna().any():
            ax.vlines(x, c["ci_low"], c["ci_high"], color="grey", linewidth=1)
        ax.set_xticks(x, c[range_col], rotation=35, ha="right", fontsize=6)
        ax.set_title(c[label_col].iloc[0], fontsize=8)
        ax.set_ylabel(t("points", lang), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(terms):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


#: Pairwise tables the health report shows in full (the largest ranges of points); the others are named.
MAX_PAIR_TABLES = 3


def pair_table_views(tables: dict, lang: str = "en", max_tables: int | None = MAX_PAIR_TABLES
                     ) -> list[tuple[str, pd.DataFrame]]:
    """The pairwise terms (the health stage's ``pair_tables`` JSON, largest range of points first) as (title,
    two-way table of points): the first ``max_tables`` of them (:func:`more_pairs_text` names the others)."""
    out = []
    for name, tb in list((tables or {}).get(lang, {}).items())[:max_tables]:
        df = pd.DataFrame(np.asarray(tb["points"], dtype=float), index=tb["index"], columns=tb["columns"]).round(0)
        df.index.name = f"{tb['row_label']} \\ {tb['column_label']}"
        out.append((name, df.reset_index()))
    return out


def more_pairs_text(tables: dict, lang: str = "en", max_tables: int | None = MAX_PAIR_TABLES) -> str:
    """The pairwise terms not drawn by :func:`pair_table_views`, each with its range of points ("" if none)."""
    rest = list((tables or {}).get(lang, {}).items())[max_tables:] if max_tables is not None else []
    if not rest:
        return ""
    items = []
    for name, tb in rest:
        pts = np.asarray(tb["points"], dtype=float)
        spread = float(np.nanmax(pts) - np.nanmin(pts)) if np.isfinite(pts).any() else 0.0
        items.append(t("hs.pair_item", lang, name=name, points=fmt_number(spread, lang, 1)))
    return t("hs.more_pairs", lang, n=len(rest), items=t("sep.list", lang).join(items))
