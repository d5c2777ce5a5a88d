"""Touch model, lifecycle stage and one recommended play per account, with the reason in words."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.i18n import check_lang, count, t
from .._core.reasons import Thin, date_of
from .._core.time import to_utc
from .holdout import assign_holdout
from .playbook import (
    _NUMBER_EXPORT,
    BANDS,
    EXPORT_COLUMNS,
    OPTIONAL_COLUMNS,
    PLAY_SECTIONS,
    REQUIRED_COLUMNS,
    SCORED_COLUMNS,
    Condition,
    Play,
    Rule,
    column_label,
    format_value,
    load_playbook,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- pipeline
def prepare(scored: pd.DataFrame) -> pd.DataFrame:
    """Check the scored accounts and add the derived columns the playbook's conditions may use.

    ``community_activity_90d`` = community posts + events attended in 90 days; ``tickets_28d_vs_90d`` =
    tickets in the last 28 days over the 90-day rate (1 steady, 90/28 = 3.2 when all 90 days' tickets are
    recent; empty without tickets); ``score_change`` = points since the account's previous observation date
    (from the frame's history; a ``score_change`` column already present is kept).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in scored.columns]
    if missing:
        raise ValueError(f"scored accounts lack {count(len(missing), '=column', '=columns')} {missing}; expected "
                         f"{', '.join(SCORED_COLUMNS)}")
    df = scored.copy()
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    bad = set(df["band"].dropna().unique()) - set(BANDS)
    if bad:
        raise ValueError(f"{count(len(bad), '=unknown band', '=unknown bands')} {sorted(map(str, bad))}; bands are "
                         f"{', '.join(BANDS)}")
    if "drivers" not in df.columns:
        log.warning("scored accounts have no 'drivers' column: driver plays cannot fire")
        df["drivers"] = [[] for _ in range(len(df))]
    if {"community_posts_90d", "events_attended_90d"} & set(df.columns):
        parts = df[[c for c in ("community_posts_90d", "events_attended_90d") if c in df.columns]]
        df["community_activity_90d"] = parts.astype(float).sum(axis=1, min_count=1)
    if {"tickets_28d", "tickets_90d"} <= set(df.columns):
        rate = df["tickets_90d"].astype(float) * 28 / 90
        df["tickets_28d_vs_90d"] = (df["tickets_28d"].astype(float) / rate.where(rate > 0)).astype(float)
    if "score_change" not in df.columns:
        from ..health.history import score_history

        hist = score_history(df[["account_id", "as_of", "score", "band"]])
        change = hist.set_index(["account_id", "as_of"])["score_change"]
        df["score_change"] = change.reindex(pd.MultiIndex.from_frame(df[["account_id", "as_of"]])).to_numpy()
    return df


def _warn_absent(df: pd.DataFrame, conds: Iterable[Condition]) -> None:
    absent = sorted({c.column for c in conds if c.column not in df.columns} - set(OPTIONAL_COLUMNS))
    if absent:
        log.warning("scored accounts lack %s: conditions on them are false", ", ".join(absent))


def _first_rule(df: pd.DataFrame, rules: tuple[Rule, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Target and 1-based rule number of the first rule that holds, per row."""
    _warn_absent(df, [c for r in rules for c in r.when])
    target = np.full(len(df), None, dtype=object)
    number = np.zeros(len(df), dtype="int64")
    for i, rule in enumerate(rules, 1):
        hit = (number == 0) & rule.holds(df)
        target[hit], number[hit] = rule.target, i
    return target, number


def assign_touch_model(scored: pd.DataFrame, playbook=None, currency: str | None = None) -> pd.DataFrame:
    """``scored`` with ``touch_model`` and ``touch_rule`` (the number of the rule that decided, 1-based, as in
    :func:`describe_touch_models`). Run :func:`prepare` first for the derived columns."""
    book = load_playbook(playbook, currency)
    target, number = _first_rule(scored, book.touch_models)
    return scored.assign(touch_model=target, touch_rule=number)


def assign_stage(scored: pd.DataFrame, playbook=None, currency: str | None = None) -> pd.DataFrame:
    """``scored`` with ``stage`` and ``stage_rule`` (1-based number of the deciding rule, as in
    :func:`describe_stages`): the precedence of stages is the order of the playbook's rules."""
    book = load_playbook(playbook, currency)
    target, number = _first_rule(scored, book.stages)
    return scored.assign(stage=target, stage_rule=number)


def driver_metric(driver: dict) -> str | None:
    """The panel column a driver is about: its ``metric``, else the health model's ``feature`` without the
    model's decorations (``nps_latest__missing`` -> ``nps_latest``, ``segment=SMB`` -> ``segment``)."""
    name = driver.get("metric") or driver.get("feature")
    if name is None:
        return None
    return str(name).split("=", 1)[0].removesuffix("__missing")


def _drivers_of(value, top: int, min_points: float) -> list[dict]:
    """The account's worst ``top`` drivers costing at least ``min_points`` points, worst first, each with its
    ``metric`` (see :func:`driver_metric`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    items = [{**d, "metric": driver_metric(d)} for d in list(value) if isinstance(d, dict)]
    items = [d for d in items if d["metric"] is not None]
    costly = [d for d in items if d.get("points") is not None and not pd.isna(d["points"])
              and float(d["points"]) <= -min_points]
    return sorted(costly, key=lambda d: float(d["points"]))[:top]


def _driver_evidence(d: dict, lang: str, currency: str) -> str:
    from ..health.explain import level_of

    metric = str(d["metric"])
    category = level_of(d)  # a categorical column's driver quotes the levels (level and typical_level)
    return t("actions.driver_evidence", lang, metric=column_label(metric, lang),
             value=format_value(metric, d.get("level") if category else d.get("value"), lang, currency),
             typical=format_value(metric, d.get("typical_level") if category else d.get("typical"), lang, currency),
             points=f"{float(d['points']):+.0f}")  # whole points, as the reports' drivers


def _condition_evidence(row: pd.Series, conds: Iterable[Condition], lang: str, currency: str) -> list[str]:
    shown, out = set(), []
    for c in conds:
        if c.column in shown:
            continue
        shown.add(c.column)
        out.append(f"{column_label(c.column, lang)} {format_value(c.column, row.get(c.column), lang, currency)}")
    return out


def _play_evidence(row: pd.Series, play: Play, stage_rule: Rule | None, lang: str, currency: str) -> str:
    """The numbers behind a situation or fallback play: its conditions that hold, else the stage rule's,
    and the health score."""
    one = row.to_frame().T
    conds = [c for c in play.when] + [c for c in play.any if c.holds(one)[0]]
    if not conds and play.stages and stage_rule is not None:
        conds = list(stage_rule.when)
    parts = _condition_evidence(row, conds, lang, currency)
    if not any(c.column == "score" for c in conds):
        parts.append(f"{column_label('score', lang)} {format_value('score', row.get('score'), lang, currency)}")
    return t("sep.list", lang).join(parts)


def choose_play(scored: pd.DataFrame, playbook=None, lang: str = "en", currency: str | None = None) -> pd.DataFrame:
    """``scored`` with one play per row: ``play`` (id), ``play_label``, ``owner``, ``driver`` (the metric the
    play answers, empty for situation and fallback plays) and ``reason`` (in ``lang``, quoting the numbers).

    Order: the first *situation* play that holds; else, going down the account's drivers (worst first, the
    playbook's ``top`` drivers costing at least ``min_points``), the first *driver* play naming that metric
    whose conditions hold; else the first *fallback* play that holds (the last one always does).
    Touch model and stage are assigned first when the columns are missing.
    """
    check_lang(lang)
    book = load_playbook(playbook, currency)
    currency = book.currency  # the amounts and the reasons in one currency (a playbook object keeps its own)
    df = scored
    if "touch_model" not in df.columns:
        df = assign_touch_model(df, book)
    if "stage" not in df.columns:
        df = assign_stage(df, book)
    _warn_absent(df, [c for p in book.all_plays for c in (*p.when, *p.any)])
    eligible = {p.id: p.eligible(df) for p in book.all_plays}
    situation, by_driver, fallback = (book.plays[s] for s in PLAY_SECTIONS)
    out = {k: [] for k in ("play", "play_label", "owner", "driver", "reason")}
    for i, (_, row) in enumerate(df.iterrows()):
        chosen, driver = next((p for p in situation if eligible[p.id][i]), None), None
        if chosen is None:
            for d in _drivers_of(row.get("drivers"), book.top_drivers, book.min_points):
                chosen = next((p for p in by_driver if d["metric"] in p.driver and eligible[p.id][i]), None)
                if chosen is not None:
                    driver = d
                    break
        if chosen is None:
            chosen = next(p for p in fallback if eligible[p.id][i])
        if driver is not None:
            evidence = _driver_evidence(driver, lang, currency)
        else:
            rule_no = int(row.get("stage_rule", 0) or 0)
            evidence = _play_evidence(row, chosen, book.stages[rule_no - 1] if rule_no else None, lang, currency)
        out["play"].append(chosen.id)
        out["play_label"].append(chosen.label[lang])
        out["owner"].append(chosen.owner_for(row["touch_model"]))
        out["driver"].append("" if driver is None else str(driver["metric"]))
        out["reason"].append(t("actions.reason", lang, why=chosen.why[lang], evidence=evidence))
    return df.assign(**out)


def action_list(scored: pd.DataFrame, playbook=None, lang: str = "en", as_of=None,
                holdout_seed: int | None = None, currency: str | None = None) -> pd.DataFrame:
    """The action list of one observation date (default the latest): touch model, stage and play per account.

    Score changes come from the whole of ``scored`` (pass several dates to let a sharp drop count), the
    actions from ``as_of`` only. Rows are sorted red band first, then by churn probability (highest first).
    With ``holdout_seed``, the playbook's randomised holdout is drawn with that seed
    (:func:`~engage_models.actions.holdout.assign_holdout`); without it no account is drawn (``not_drawn``).

    Returns
    -------
    DataFrame
        :data:`EXPORT_COLUMNS` (``assignment``: assigned, held_out or not_drawn), then ``touch_rule``, ``stage_rule``,
        ``score_change``, ``must_act``, ``holdout_share``, ``holdout_stratum`` and the context columns present
        (``segment``, ``plan``, ``mrr``), ready for :func:`export_actions`.
    """
    book = load_playbook(playbook, currency)
    currency = book.currency
    everyone = prepare(scored)
    when = everyone["as_of"].max() if as_of is None else to_utc(as_of)
    df = everyone[everyone["as_of"] == when]
    if df.empty:  # every account scored before has left (a run's date after the last customer's end): thin
        raise Thin("actions.why.no_customers", date=date_of(when), latest=date_of(everyone["as_of"].max()))
    df = choose_play(assign_stage(assign_touch_model(df, book), book), book, lang, currency)
    for c in ("churn_probability", "ltv"):
        if c not in df.columns:
            df[c] = np.nan
    order = df["band"].map({"red": 0, "yellow": 1, "green": 2})
    df = (df.assign(_o=order, _p=-df["churn_probability"].astype(float))
          .sort_values(["_o", "_p", "account_id"], kind="stable", na_position="last").drop(columns=["_o", "_p"]))
    df = assign_holdout(df, book, holdout_seed, currency)
    extra = ["touch_rule", "stage_rule", "score_change", "must_act", "holdout_share", "holdout_stratum",
             *[c for c in ("segment", "plan", "mrr") if c in df.columns]]
    out = df[[*EXPORT_COLUMNS, *extra]].reset_index(drop=True)
    for c in _NUMBER_EXPORT:
        out[c] = out[c].astype(float)
    # the playbook by file name: the list is forwarded, a machine path is not
    out.attrs.update({"as_of": when.isoformat(), "playbook": Path(str(book.source)).name, "lang": lang,
                      "holdout": df.attrs.get("holdout")})
    return out


