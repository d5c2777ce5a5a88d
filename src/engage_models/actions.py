"""From score to action: a touch model, a lifecycle stage and one recommended play per account.

The input is the *scored accounts* frame, one row per (account_id, as_of), with the columns of
:data:`SCORED_COLUMNS` (``score`` 0-100 with 100 the healthiest, ``band`` green/yellow/red,
``churn_probability``, ``ltv`` which may be missing, ``drivers``: a list per account of
``{"metric", "value", "typical", "points"}``, worst first, ``points`` < 0 being the points lost against a
typical healthy account) plus the panel's metric columns (:data:`engage_models.metrics.REGISTRY_COLUMNS`).

What to do for whom is not code: it is the **playbook**, a YAML file the user can edit (the default is
``playbook.yaml`` next to this module; see its comments for the format). It holds three ordered rule lists:

* **touch model** (high-touch, low-touch, tech-touch, community-touch) from value (MRR, LTV) and
  engagement (score, community activity): the first rule whose conditions hold decides;
* **lifecycle stage** (onboarding, adoption, mature, at risk, expansion candidate), the same way, so the
  precedence is the order of the file;
* **plays**: the situation plays first (e.g. a stalled onboarding), then the play answering the account's
  worst driver (e.g. few active users -> a training session), then fallbacks; each with an owner type and
  a reason in English and Japanese that quotes the numbers.

:func:`action_list` runs all three on the latest observation date and :func:`export_actions` writes the
list as CSV and Parquet for a CRM import.

Examples
--------
>>> import pandas as pd
>>> scored = pd.DataFrame({
...     "account_id": ["a1"], "as_of": pd.Timestamp("2025-06-01", tz="UTC"), "segment": "SMB", "plan": "Pro",
...     "mrr": [300.0], "seats": [20], "tenure_days": [400], "score": [38.0], "band": ["red"],
...     "churn_probability": [0.31], "ltv": [None], "active_user_ratio_28d": [0.21],
...     "drivers": [[{"metric": "active_user_ratio_28d", "value": 0.21, "typical": 0.65, "points": -8.2}]]})
>>> row = action_list(scored).iloc[0]
>>> row["touch_model"], row["stage"], row["play"], row["owner"]
('tech_touch', 'at_risk', 'training_session', 'marketing_automation')
>>> row["reason"]
'Few of the seats are in use: active users / seats (28 days) 0.21, typical healthy 0.65 (-8.2 points)'
"""

from __future__ import annotations

import logging
import math
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import metrics as M
from .i18n import LANGS, check_lang, fmt_money, t
from .plots import BAND_COLOURS, new_ax

log = logging.getLogger(__name__)

DEFAULT_PLAYBOOK = Path(__file__).resolve().parent / "playbook.yaml"

TOUCH_MODELS = ("high_touch", "low_touch", "tech_touch", "community_touch")
STAGES = ("onboarding", "adoption", "mature", "at_risk", "expansion")
OWNERS = ("csm", "support", "marketing_automation", "community_manager", "executive_sponsor")
PLAY_SECTIONS = ("situation", "drivers", "fallback")
BANDS = ("green", "yellow", "red")

#: The scored-accounts interface (health score and survival modules); plus the panel's metric columns.
SCORED_COLUMNS = ("account_id", "as_of", "segment", "plan", "mrr", "seats", "tenure_days", "score", "band",
                  "churn_probability", "ltv", "drivers")
REQUIRED_COLUMNS = ("account_id", "as_of", "score", "band")
#: Columns :func:`prepare` derives (when their inputs are there) and optional inputs conditions may use.
DERIVED_COLUMNS = ("community_activity_90d", "tickets_28d_vs_90d", "score_change")
OPTIONAL_COLUMNS = ("onboarding_completed",)
#: Columns of the exported action list, in order.
EXPORT_COLUMNS = ("account_id", "as_of", "score", "band", "churn_probability", "ltv", "stage", "touch_model",
                  "play", "play_label", "owner", "driver", "reason")
_TEXT_EXPORT = ("account_id", "band", "stage", "touch_model", "play", "play_label", "owner", "driver", "reason")
_NUMBER_EXPORT = ("score", "churn_probability", "ltv")


class PlaybookError(ValueError):
    """A playbook cannot be used; the message names the file and the entry."""


# ----------------------------------------------------------------------------------------- conditions
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}
_SYMBOLS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
_WORDS = {"true": True, "false": False}


@dataclass(frozen=True)
class Condition:
    """``column op value``; false where the column is missing."""

    column: str
    op: str
    value: float | str | bool
    text: str

    @classmethod
    def parse(cls, text, where: str) -> Condition:
        if not isinstance(text, str):
            raise PlaybookError(f"{where}: a condition is a string 'column op value', not {text!r}")
        m = _CONDITION.match(text)
        if not m:
            raise PlaybookError(f"{where}: cannot read condition {text!r}; write 'column op value' with op one of "
                                f"{' '.join(_OPS)} (e.g. 'mrr >= 2000', 'band == red')")
        column, op, raw = m.groups()
        try:
            value: float | str | bool = float(raw)
        except ValueError:
            value = _WORDS.get(raw.lower(), raw)
            if op not in ("==", "!="):
                raise PlaybookError(
                    f"{where}: condition {text!r} compares with {op} a value that is not a number") from None
        return cls(column, op, value, text.strip())

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        """Boolean per row; missing values (or a column absent from ``df``) never satisfy a condition."""
        if self.column not in df.columns:
            return np.zeros(len(df), dtype=bool)
        s = df[self.column]
        if isinstance(self.value, str):
            ok = s.notna().to_numpy()
            return ok & _OPS[self.op](s.astype(str).to_numpy(), self.value)
        x = s.astype(float) if s.dtype == bool else pd.to_numeric(s, errors="coerce").astype(float)
        x = x.to_numpy()
        with np.errstate(invalid="ignore"):
            return ~np.isnan(x) & _OPS[self.op](x, float(self.value))

    def render(self, lang: str = "en") -> str:
        """The condition in words: ``MRR ≥ $2,000``, ``区分 = 危険``."""
        value = self.value
        if isinstance(value, bool):
            shown = t("yes" if value else "no", lang)
        elif isinstance(value, str):
            shown = t(value, lang)
        else:
            shown = format_value(self.column, value, lang)
        return f"{column_label(self.column, lang)} {_SYMBOLS[self.op]} {shown}"


def _conditions(items, where: str) -> tuple[Condition, ...]:
    if items is None:
        return ()
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list):
        raise PlaybookError(f"{where}: expected a list of conditions, got {type(items).__name__}")
    return tuple(Condition.parse(c, f"{where}[{i}]") for i, c in enumerate(items))


# ------------------------------------------------------------------------------------------- playbook
@dataclass(frozen=True)
class Rule:
    """One line of the touch-model or stage rules: ``target`` when every condition holds."""

    target: str
    when: tuple[Condition, ...]
    where: str

    def holds(self, df: pd.DataFrame) -> np.ndarray:
        ok = np.ones(len(df), dtype=bool)
        for c in self.when:
            ok &= c.holds(df)
        return ok

    def render(self, lang: str = "en") -> str:
        if not self.when:
            return t("actions.otherwise", lang)
        return t("actions.and", lang).join(c.render(lang) for c in self.when)


@dataclass(frozen=True)
class Play:
    """A recommended action with its owner, the conditions it needs and the reason it gives."""

    id: str
    section: str
    label: dict
    why: dict
    owner: str
    where: str
    owner_by_touch: dict = field(default_factory=dict)
    stages: tuple[str, ...] = ()
    touch_models: tuple[str, ...] = ()
    when: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()
    driver: tuple[str, ...] = ()

    @property
    def unconditional(self) -> bool:
        return not (self.stages or self.touch_models or self.when or self.any)

    def eligible(self, df: pd.DataFrame) -> np.ndarray:
        """Rows where the play's stage, touch model and conditions hold (drivers aside)."""
        ok = np.ones(len(df), dtype=bool)
        if self.stages:
            ok &= df["stage"].isin(self.stages).to_numpy()
        if self.touch_models:
            ok &= df["touch_model"].isin(self.touch_models).to_numpy()
        for c in self.when:
            ok &= c.holds(df)
        if self.any:
            some = np.zeros(len(df), dtype=bool)
            for c in self.any:
                some |= c.holds(df)
            ok &= some
        return ok

    def owner_for(self, touch_model: str) -> str:
        return self.owner_by_touch.get(touch_model, self.owner)

    def render(self, lang: str = "en") -> str:
        """The play's conditions in words (``otherwise`` when it has none)."""
        parts = []
        if self.stages:
            parts.append(t("sep.label_value", lang, what=t("stage", lang),
                           value="/".join(t(f"stage.{s}", lang) for s in self.stages)))
        if self.touch_models:
            parts.append(t("sep.label_value", lang, what=t("touch_model", lang),
                           value="/".join(t(m, lang) for m in self.touch_models)))
        parts += [c.render(lang) for c in self.when]
        if self.any:
            parts.append(t("actions.group", lang, x=t("actions.or_short", lang).join(c.render(lang) for c in self.any)))
        if self.driver:
            parts.append(t("actions.driver_among", lang, metrics=t("sep.comma", lang).join(
                column_label(d, lang) for d in self.driver)))
        return t("actions.and", lang).join(parts) if parts else t("actions.otherwise", lang)


@dataclass(frozen=True)
class Playbook:
    """A validated playbook (see ``playbook.yaml`` for the format); build it with :func:`load_playbook`."""

    touch_models: tuple[Rule, ...]
    stages: tuple[Rule, ...]
    plays: dict[str, tuple[Play, ...]]
    top_drivers: int
    min_points: float
    columns: tuple[str, ...]
    source: str

    @property
    def all_plays(self) -> tuple[Play, ...]:
        return tuple(p for s in PLAY_SECTIONS for p in self.plays[s])

    def play(self, play_id: str) -> Play:
        for p in self.all_plays:
            if p.id == play_id:
                return p
        raise KeyError(f"no play {play_id!r} in {self.source}")

    def __repr__(self) -> str:
        return (f"Playbook({self.source!r}: {len(self.touch_models)} touch rules, {len(self.stages)} stage rules, "
                f"{len(self.all_plays)} plays)")


_TOP_KEYS = {"version", "columns", "touch_models", "stages", "drivers", "plays"}
_PLAY_KEYS = {"id", "label", "why", "owner", "owner_by_touch", "stages", "touch_models", "when", "any", "driver"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def _known_columns(extra: Iterable[str]) -> set[str]:
    return set(M.REGISTRY_COLUMNS) | set(SCORED_COLUMNS) | set(DERIVED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(extra)


def _check_columns(conds: Iterable[Condition], known: set[str], where: str) -> None:
    for c in conds:
        if c.column not in known:
            raise PlaybookError(f"{where}: condition {c.text!r} uses unknown column {c.column!r}; use a scored "
                                "account or panel metric column, or list it under 'columns:'")


def _names(value, allowed: tuple[str, ...], what: str, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise PlaybookError(f"{where}: {what} must be a list of names, got {value!r}")
    bad = [v for v in items if v not in allowed]
    if bad:
        raise PlaybookError(f"{where}: unknown {what} {bad}; choose from {', '.join(allowed)}")
    return tuple(items)


def _bilingual(value, key: str, where: str) -> dict:
    if not isinstance(value, dict) or set(value) != set(LANGS) or not all(isinstance(v, str) and v.strip()
                                                                           for v in value.values()):
        raise PlaybookError(f"{where}: '{key}' needs a text in each language: {{en: ..., ja: ...}}, got {value!r}")
    return {k: v.strip() for k, v in value.items()}


def _rules(items, key: str, target_key: str, allowed: tuple[str, ...], known: set[str]) -> tuple[Rule, ...]:
    if not isinstance(items, list) or not items:
        raise PlaybookError(f"{key}: expected a non-empty list of rules")
    rules = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(item, dict) or set(item) - {target_key, "when"} or target_key not in item:
            raise PlaybookError(f"{where}: a rule is {{{target_key}: ..., when: [...]}}, got {item!r}")
        if item[target_key] not in allowed:
            raise PlaybookError(f"{where}: unknown {target_key} {item[target_key]!r}; choose from {', '.join(allowed)}")
        when = _conditions(item.get("when"), f"{where}.when")
        _check_columns(when, known, where)
        rules.append(Rule(item[target_key], when, where))
    if rules[-1].when:
        raise PlaybookError(f"{rules[-1].where}: the last rule must have no condition (when: []), so that every "
                            f"account gets a {target_key}")
    return tuple(rules)


def _play(item, section: str, i: int, known: set[str], seen: set[str]) -> Play:
    where = f"plays.{section}[{i}]"
    if not isinstance(item, dict):
        raise PlaybookError(f"{where}: a play is a mapping with id, label, why, owner, ...; got {item!r}")
    pid = item.get("id")
    if not isinstance(pid, str) or not _ID.match(pid):
        raise PlaybookError(f"{where}: 'id' must be a lower-case name like 'training_session', got {pid!r}")
    where = f"{where} ({pid})"
    if pid in seen:
        raise PlaybookError(f"{where}: play id {pid!r} is used twice")
    extra = set(item) - _PLAY_KEYS
    if extra:
        raise PlaybookError(f"{where}: unknown key(s) {sorted(extra)}; a play has {', '.join(sorted(_PLAY_KEYS))}")
    missing = [k for k in ("label", "why", "owner") if k not in item]
    if missing:
        raise PlaybookError(f"{where}: missing {', '.join(missing)}")
    if item["owner"] not in OWNERS:
        raise PlaybookError(f"{where}: unknown owner {item['owner']!r}; choose from {', '.join(OWNERS)}")
    by_touch = item.get("owner_by_touch") or {}
    if not isinstance(by_touch, dict):
        raise PlaybookError(f"{where}: owner_by_touch maps touch models to owners, got {by_touch!r}")
    for touch, owner in by_touch.items():
        if touch not in TOUCH_MODELS:
            raise PlaybookError(f"{where}: owner_by_touch names unknown touch model {touch!r}; "
                                f"choose from {', '.join(TOUCH_MODELS)}")
        if owner not in OWNERS:
            raise PlaybookError(f"{where}: owner_by_touch gives unknown owner {owner!r}; "
                                f"choose from {', '.join(OWNERS)}")
    when = _conditions(item.get("when"), f"{where}.when")
    any_ = _conditions(item.get("any"), f"{where}.any")
    _check_columns(when + any_, known, where)
    driver = ()
    if "driver" in item:
        if section != "drivers":
            raise PlaybookError(f"{where}: only plays under plays.drivers name a 'driver'")
        driver = _names(item["driver"], tuple(sorted(known)), "driver column(s)", where)
    elif section == "drivers":
        raise PlaybookError(f"{where}: a play under plays.drivers needs 'driver': the metric column(s) it answers")
    return Play(
        id=pid, section=section, label=_bilingual(item["label"], "label", where),
        why=_bilingual(item["why"], "why", where), owner=item["owner"], where=where, owner_by_touch=dict(by_touch),
        stages=_names(item.get("stages", []), STAGES, "stage(s)", where),
        touch_models=_names(item.get("touch_models", []), TOUCH_MODELS, "touch model(s)", where),
        when=when, any=any_, driver=driver,
    )


def parse_playbook(data, source: str = "<playbook>") -> Playbook:
    """Validate a playbook given as a mapping (the parsed YAML). Errors name ``source`` and the entry."""
    try:
        return _parse(data)
    except PlaybookError as exc:
        raise PlaybookError(f"playbook {source}: {exc}") from None


def _parse(data) -> Playbook:
    if not isinstance(data, dict):
        raise PlaybookError("the file must hold a mapping with touch_models, stages, drivers and plays")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise PlaybookError(f"unknown top-level key(s) {sorted(unknown)}; expected {', '.join(sorted(_TOP_KEYS))}")
    if data.get("version", 1) != 1:
        raise PlaybookError(f"version {data.get('version')!r} is not supported (this version reads 1)")
    missing = [k for k in ("touch_models", "stages", "plays") if k not in data]
    if missing:
        raise PlaybookError(f"missing {', '.join(missing)}")
    extra = data.get("columns") or []
    if not isinstance(extra, list) or not all(isinstance(c, str) for c in extra):
        raise PlaybookError(f"columns: expected a list of column names, got {extra!r}")
    known = _known_columns(extra)
    touch = _rules(data["touch_models"], "touch_models", "model", TOUCH_MODELS, known)
    stages = _rules(data["stages"], "stages", "stage", STAGES, known)
    drivers = data.get("drivers") or {}
    if not isinstance(drivers, dict) or set(drivers) - {"top", "min_points"}:
        raise PlaybookError(f"drivers: expected {{top: N, min_points: P}}, got {drivers!r}")
    top, min_points = drivers.get("top", 3), drivers.get("min_points", 2)
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise PlaybookError(f"drivers.top: a whole number of drivers >= 1, got {top!r}")
    if not isinstance(min_points, int | float) or isinstance(min_points, bool) or min_points < 0:
        raise PlaybookError(f"drivers.min_points: a number of points >= 0, got {min_points!r}")
    plays_raw = data["plays"]
    if not isinstance(plays_raw, dict) or set(plays_raw) - set(PLAY_SECTIONS):
        raise PlaybookError(f"plays: expected sections {', '.join(PLAY_SECTIONS)}, got "
                            f"{sorted(plays_raw) if isinstance(plays_raw, dict) else plays_raw!r}")
    seen: set[str] = set()
    plays: dict[str, tuple[Play, ...]] = {}
    for section in PLAY_SECTIONS:
        items = plays_raw.get(section) or []
        if not isinstance(items, list):
            raise PlaybookError(f"plays.{section}: expected a list of plays")
        parsed = []
        for i, item in enumerate(items):
            p = _play(item, section, i, known, seen)
            seen.add(p.id)
            parsed.append(p)
        plays[section] = tuple(parsed)
    if not plays["fallback"] or not plays["fallback"][-1].unconditional:
        where = plays["fallback"][-1].where if plays["fallback"] else "plays.fallback"
        raise PlaybookError(f"{where}: the last fallback play must have no stages, touch_models, when or any, so "
                            "that every account gets a play")
    return Playbook(touch, stages, plays, top, float(min_points), tuple(extra), "")


def load_playbook(path: str | Path | Playbook | None = None) -> Playbook:
    """Read and validate a playbook (default: the package's ``playbook.yaml``).

    Raises
    ------
    PlaybookError
        The file is missing, is not valid YAML, or an entry is wrong; the message names the file and entry.
    """
    if isinstance(path, Playbook):
        return path
    path = Path(path) if path is not None else DEFAULT_PLAYBOOK
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError(f"playbook {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlaybookError(f"playbook {path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    book = parse_playbook(data, str(path))
    return Playbook(book.touch_models, book.stages, book.plays, book.top_drivers, book.min_points, book.columns,
                    str(path))


# ---------------------------------------------------------------------------------------- formatting
def column_label(column: str, lang: str = "en") -> str:
    """Readable name of a column: the registry's for metrics, the catalogue's otherwise."""
    return t("health_score" if column == "score" else column, lang)


def format_value(column: str, value, lang: str = "en") -> str:
    """A value of ``column`` as a reason quotes it: ratios to 2 decimals, counts whole, money with its sign."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t("actions.missing", lang)
    if isinstance(value, str):
        return t(value, lang) if value in BANDS else value
    if isinstance(value, bool | np.bool_):
        return t("yes" if value else "no", lang)
    unit = M.REGISTRY_COLUMNS[column].unit if column in M.REGISTRY_COLUMNS else _UNITS.get(column, "")
    v = float(value)
    if unit == "currency":
        return fmt_money(v, lang)
    if unit == "%":
        return f"{v:+,.0f}%"
    if unit == "ratio":
        return f"{v:,.2f}"
    if unit == "x":
        return t("actions.times", lang, x=f"{v:,.1f}")
    if unit in ("score", "hours"):
        return f"{v:,.1f}"
    if unit == "points":
        return f"{v:+,.0f}"
    if unit in ("count", "days", "users", "seats", "features", "whole"):
        return f"{v:,.0f}" if math.isclose(v, round(v)) else f"{v:,.1f}"
    if math.isclose(v, round(v)) or abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


_UNITS = {"score": "whole", "ltv": "currency", "churn_probability": "ratio", "community_activity_90d": "count",
          "tickets_28d_vs_90d": "x", "score_change": "points"}


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
        raise ValueError(f"scored accounts lack column(s) {missing}; expected {', '.join(SCORED_COLUMNS)}")
    df = scored.copy()
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    bad = set(df["band"].dropna().unique()) - set(BANDS)
    if bad:
        raise ValueError(f"unknown band(s) {sorted(map(str, bad))}; bands are {', '.join(BANDS)}")
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
        from .score_history import score_history

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


def assign_touch_model(scored: pd.DataFrame, playbook=None) -> pd.DataFrame:
    """``scored`` with ``touch_model`` and ``touch_rule`` (the number of the rule that decided, 1-based, as in
    :func:`describe_touch_models`). Run :func:`prepare` first for the derived columns."""
    book = load_playbook(playbook)
    target, number = _first_rule(scored, book.touch_models)
    return scored.assign(touch_model=target, touch_rule=number)


def assign_stage(scored: pd.DataFrame, playbook=None) -> pd.DataFrame:
    """``scored`` with ``stage`` and ``stage_rule`` (1-based number of the deciding rule, as in
    :func:`describe_stages`): the precedence of stages is the order of the playbook's rules."""
    book = load_playbook(playbook)
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


def _driver_evidence(d: dict, lang: str) -> str:
    metric = str(d["metric"])
    return t("actions.driver_evidence", lang, metric=column_label(metric, lang),
             value=format_value(metric, d.get("value"), lang), typical=format_value(metric, d.get("typical"), lang),
             points=f"{float(d['points']):+.1f}")


def _condition_evidence(row: pd.Series, conds: Iterable[Condition], lang: str) -> list[str]:
    shown, out = set(), []
    for c in conds:
        if c.column in shown:
            continue
        shown.add(c.column)
        out.append(f"{column_label(c.column, lang)} {format_value(c.column, row.get(c.column), lang)}")
    return out


def _play_evidence(row: pd.Series, play: Play, stage_rule: Rule | None, lang: str) -> str:
    """The numbers behind a situation or fallback play: its conditions that hold, else the stage rule's,
    and the health score."""
    one = row.to_frame().T
    conds = [c for c in play.when] + [c for c in play.any if c.holds(one)[0]]
    if not conds and play.stages and stage_rule is not None:
        conds = list(stage_rule.when)
    parts = _condition_evidence(row, conds, lang)
    if not any(c.column == "score" for c in conds):
        parts.append(f"{column_label('score', lang)} {format_value('score', row.get('score'), lang)}")
    return t("sep.list", lang).join(parts)


def choose_play(scored: pd.DataFrame, playbook=None, lang: str = "en") -> pd.DataFrame:
    """``scored`` with one play per row: ``play`` (id), ``play_label``, ``owner``, ``driver`` (the metric the
    play answers, empty for situation and fallback plays) and ``reason`` (in ``lang``, quoting the numbers).

    Order: the first *situation* play that holds; else, going down the account's drivers (worst first, the
    playbook's ``top`` drivers costing at least ``min_points``), the first *driver* play naming that metric
    whose conditions hold; else the first *fallback* play that holds (the last one always does).
    Touch model and stage are assigned first when the columns are missing.
    """
    check_lang(lang)
    book = load_playbook(playbook)
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
            evidence = _driver_evidence(driver, lang)
        else:
            rule_no = int(row.get("stage_rule", 0) or 0)
            evidence = _play_evidence(row, chosen, book.stages[rule_no - 1] if rule_no else None, lang)
        out["play"].append(chosen.id)
        out["play_label"].append(chosen.label[lang])
        out["owner"].append(chosen.owner_for(row["touch_model"]))
        out["driver"].append("" if driver is None else str(driver["metric"]))
        out["reason"].append(t("actions.reason", lang, why=chosen.why[lang], evidence=evidence))
    return df.assign(**out)


def action_list(scored: pd.DataFrame, playbook=None, lang: str = "en", as_of=None) -> pd.DataFrame:
    """The action list of one observation date (default the latest): touch model, stage and play per account.

    Score changes come from the whole of ``scored`` (pass several dates to let a sharp drop count), the
    actions from ``as_of`` only. Rows are sorted red band first, then by churn probability (highest first).

    Returns
    -------
    DataFrame
        :data:`EXPORT_COLUMNS`, then ``touch_rule``, ``stage_rule``, ``score_change`` and the context
        columns present (``segment``, ``plan``, ``mrr``), ready for :func:`export_actions`.
    """
    book = load_playbook(playbook)
    df = prepare(scored)
    when = df["as_of"].max() if as_of is None else pd.Timestamp(as_of)
    if when.tzinfo is None:
        when = when.tz_localize("UTC")
    df = df[df["as_of"] == when]
    if df.empty:
        raise ValueError(f"no scored accounts at {when:%Y-%m-%d}")
    df = choose_play(assign_stage(assign_touch_model(df, book), book), book, lang)
    for c in ("churn_probability", "ltv"):
        if c not in df.columns:
            df[c] = np.nan
    order = df["band"].map({"red": 0, "yellow": 1, "green": 2})
    df = (df.assign(_o=order, _p=-df["churn_probability"].astype(float))
          .sort_values(["_o", "_p", "account_id"], kind="stable", na_position="last").drop(columns=["_o", "_p"]))
    extra = ["touch_rule", "stage_rule", "score_change", *[c for c in ("segment", "plan", "mrr") if c in df.columns]]
    out = df[[*EXPORT_COLUMNS, *extra]].reset_index(drop=True)
    for c in _NUMBER_EXPORT:
        out[c] = out[c].astype(float)
    out.attrs.update({"as_of": when.isoformat(), "playbook": book.source, "lang": lang})
    return out


# --------------------------------------------------------------------------------------------- export
def export_actions(actions: pd.DataFrame, path: str | Path) -> dict[str, Path]:
    """Write the action list as ``<path>.csv`` and ``<path>.parquet`` (:data:`EXPORT_COLUMNS` only).

    The CSV is UTF-8 with a byte-order mark (Excel then reads Japanese reasons correctly), ``as_of`` as
    ``YYYY-MM-DD``, codes (band, stage, touch model, play, owner) as stable identifiers for CRM pick lists and
    ``play_label`` / ``reason`` in the list's language. Read either back with :func:`read_actions`.
    """
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".csv", ".parquet") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    missing = [c for c in EXPORT_COLUMNS if c not in actions.columns]
    if missing:
        raise ValueError(f"the action list lacks {missing}: build it with action_list()")
    out = actions[list(EXPORT_COLUMNS)].copy()
    out.attrs = {}
    csv = out.assign(as_of=pd.to_datetime(out["as_of"], utc=True).dt.strftime("%Y-%m-%d"))
    paths = {"csv": stem.with_name(stem.name + ".csv"), "parquet": stem.with_name(stem.name + ".parquet")}
    csv.to_csv(paths["csv"], index=False, encoding="utf-8-sig", lineterminator="\n")
    out.to_parquet(paths["parquet"], index=False)
    log.info("wrote %d actions to %s and %s", len(out), paths["csv"], paths["parquet"])
    return paths


def read_actions(path: str | Path) -> pd.DataFrame:
    """An exported action list (``.csv`` or ``.parquet``) with the types it had: ``as_of`` as UTC timestamps,
    numbers as floats (empty = missing), text as text (empty = empty string)."""
    path = Path(path)
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        for c in _NUMBER_EXPORT:
            df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="raise").astype(float)
    else:
        raise ValueError(f"{path}: an action list is a .csv or .parquet file")
    missing = [c for c in EXPORT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not an action list (lacks {missing})")
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    for c in _TEXT_EXPORT:
        df[c] = df[c].fillna("").astype(str)
    return df[list(EXPORT_COLUMNS)]


# ----------------------------------------------------------------------------------- rules as text
def describe_touch_models(playbook=None, lang: str = "en") -> pd.DataFrame:
    """The touch-model rules in words, in order (the first that holds decides): ``rule``, ``touch_model``,
    ``condition``."""
    check_lang(lang)
    book = load_playbook(playbook)
    return pd.DataFrame({"rule": range(1, len(book.touch_models) + 1),
                         "touch_model": [t(r.target, lang) for r in book.touch_models],
                         "condition": [r.render(lang) for r in book.touch_models]})


def describe_stages(playbook=None, lang: str = "en") -> pd.DataFrame:
    """The lifecycle-stage rules in words, in order of precedence: ``rule``, ``stage``, ``condition``."""
    check_lang(lang)
    book = load_playbook(playbook)
    return pd.DataFrame({"rule": range(1, len(book.stages) + 1),
                         "stage": [t(f"stage.{r.target}", lang) for r in book.stages],
                         "condition": [r.render(lang) for r in book.stages]})


def describe_plays(playbook=None, lang: str = "en") -> pd.DataFrame:
    """Every play in the order it is considered: ``step``, ``play``, ``owner``, ``condition``."""
    check_lang(lang)
    book = load_playbook(playbook)
    rows = []
    for p in book.all_plays:
        owners = [t(f"owner.{p.owner}", lang)]
        owners += [t("sep.label_value", lang, what=t(o, lang), value=t(f"owner.{w}", lang))
                   for o, w in p.owner_by_touch.items()]
        rows.append({"step": t(f"actions.step.{p.section}", lang), "play": p.label[lang],
                     "owner": t("sep.list", lang).join(owners), "condition": p.render(lang)})
    return pd.DataFrame(rows)


def describe_rules(playbook=None, lang: str = "en") -> str:
    """The whole playbook as Markdown: touch models, stages and plays, each in the order they are applied."""
    book = load_playbook(playbook)

    def numbered(frame: pd.DataFrame, name: str) -> list[str]:
        return [t("actions.rule_line", lang, n=r.rule, target=getattr(r, name), condition=r.condition)
                for r in frame.itertuples()]

    lines = [t("actions.rules_heading", lang, what=t("touch_model", lang)), "",
             *numbered(describe_touch_models(book, lang), "touch_model"), "",
             t("actions.rules_heading", lang, what=t("stage", lang)), "",
             *numbered(describe_stages(book, lang), "stage"), "", t("actions.plays_heading", lang), ""]
    for r in describe_plays(book, lang).itertuples():
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
