"""The playbook's rules and the action list as a reader sees them: tables in words and a chart of plays."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._core.i18n import check_lang, t
from .._core.plots import BAND_COLOURS, new_ax
from .playbook import BANDS, load_playbook

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------- rules as text
def describe_touch_models(playbook=None, lang: str = "en", currency: str | None = None) -> pd.DataFrame:
    """The touch-model rules in words, in order (the first that holds decides): ``rule``, ``touch_model``,
    ``condition``."""
    check_lang(lang)
    book = load_playbook(playbook, currency)
    currency = book.currency
    return pd.DataFrame({"rule": range(1, len(book.touch_models) + 1),
                         "touch_model": [t(r.target, lang) for r in book.touch_models],
                         "condition": [r.render(lang, currency) for r in book.touch_models]})


def describe_stages(playbook=None, lang: str = "en", currency: str | None = None) -> pd.DataFrame:
    """The lifecycle-stage rules in words, in order of precedence: ``rule``, ``stage``, ``condition``."""
    check_lang(lang)
    book = load_playbook(playbook, currency)
    currency = book.currency
    return pd.DataFrame({"rule": range(1, len(book.stages) + 1),
                         "stage": [t(f"stage.{r.target}", lang) for r in book.stages],
                         "condition": [r.render(lang, currency) for r in book.stages]})


def describe_plays(playbook=None, lang: str = "en", currency: str | None = None) -> pd.DataFrame:
    """Every play in the order it is considered: ``step``, ``play``, ``owner``, ``condition``."""
    check_lang(lang)
    book = load_playbook(playbook, currency)
    currency = book.currency
    rows = []
    for p in book.all_plays:
        owners = [t(f"owner.{p.owner}", lang)]
        owners += [t("sep.label_value", lang, what=t(o, lang), value=t(f"owner.{w}", lang))
                   for o, w in p.owner_by_touch.items()]
        rows.append({"step": t(f"actions.step.{p.section}", lang), "play": p.label[lang],
                     "owner": t("sep.list", lang).join(owners), "condition": p.render(lang, currency)})
    return pd.DataFrame(rows)


def describe_rules(playbook=None, lang: str = "en", currency: str | None = None) -> str:
    """The whole playbook as Markdown: touch models, stages and plays, each in the order they are applied
    (amounts in ``currency``)."""
    book = load_playbook(playbook, currency)
    currency = book.currency

    def numbered(frame: pd.DataFrame, name: str) -> list[str]:
        return [t("actions.rule_line", lang, n=r.rule, target=getattr(r, name), condition=r.condition)
                for r in frame.itertuples()]

    lines = [t("actions.rules_heading", lang, what=t("touch_model", lang)), "",
             *numbered(describe_touch_models(book, lang, currency), "touch_model"), "",
             t("actions.rules_heading", lang, what=t("stage", lang)), "",
             *numbered(describe_stages(book, lang, currency), "stage"), "", t("actions.plays_heading", lang), ""]
    for r in describe_plays(book, lang, currency).itertuples():
        lines.append(t("actions.play_line", lang, step=r.step, play=r.play, owner=r.owner, condition=r.condition))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- report views
def actions_view(actions: pd.DataFrame, lang: str = "en", n: int | None = None) -> pd.DataFrame:
    """The action list for a report table: codes in words; ``n`` rows at most."""
    check_lang(lang)
    cols = ["account_id", *[c for c in ("name", "segment") if c in actions.columns], "score", "band",
            "churn_probability", "stage", "touch_model", "play_label", "owner", "reason"]
    out = actions[cols].head(n).copy() if n else actions[cols].copy()
    out = out.rename(columns={"score": "health_score"})
    out["band"] = out["band"].map(lambda b: t(b, lang))
    out["stage"] = out["stage"].map(lambda s: t(f"stage.{s}", lang))
    out["touch_model"] = out["touch_model"].map(lambda m: t(m, lang))
    out["owner"] = out["owner"].map(lambda o: t(f"owner.{o}", lang))
    return out.rename(columns={"play_label": "play"})


def plot_plays(actions: pd.DataFrame, ax=None, lang: str = "en"):
    """Accounts per recommended play, each bar split by band. Returns the ``ax``."""
    check_lang(lang)
    counts = pd.crosstab(actions["play_label"], actions["band"]).reindex(columns=list(BANDS), fill_value=0)
    counts = counts.loc[counts.sum(axis=1).sort_values().index]
    ax = new_ax(ax, figsize=(8, 0.4 * max(len(counts), 3) + 1))
    left = np.zeros(len(counts))
    for band in BANDS:
        ax.barh(counts.index, counts[band], left=left, color=BAND_COLOURS[band], label=t(band, lang))
        left += counts[band].to_numpy()
    ax.set_xlabel(t("accounts", lang))
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax
