"""The playbook: touch models, lifecycle stages and plays as ordered rules in an editable YAML file.

A condition is ``"column op value"``; a rule holds when all its conditions hold; the first rule that holds
decides. :func:`load_playbook` reads and checks a file, naming the entry of any mistake.
"""

from __future__ import annotations

import dataclasses
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

from .._core.errors import ConfigError
from .._core.i18n import LANGS, count, fmt_money, t
from ..features import metrics as M

log = logging.getLogger(__name__)


DEFAULT_PLAYBOOK = Path(__file__).resolve().parent / "playbook.yaml"

TOUCH_MODELS = ("high_touch", "low_touch", "tech_touch", "community_touch")
STAGES = ("onboarding", "adoption", "mature", "at_risk", "expansion")
OWNERS = ("csm", "support", "marketing_automation", "community_manager", "executive_sponsor")
PLAY_SECTIONS = ("situation", "drivers", "fallback")
BANDS = ("green", "yellow", "red")
#: The strata of a randomised holdout (``holdout_stratum``: to check the arms' balance; the draw itself is per
#: account and play, see :mod:`engage_models.actions.holdout`).
HOLDOUT_STRATA = ("band", "touch_model")
#: The largest share of a play's accounts a playbook may hold out.
MAX_HOLDOUT = 0.5

#: The scored-accounts interface (health score and survival modules); plus the panel's metric columns.
SCORED_COLUMNS = ("account_id", "as_of", "segment", "plan", "mrr", "seats", "tenure_days", "score", "band",
                  "churn_probability", "ltv", "drivers")
REQUIRED_COLUMNS = ("account_id", "as_of", "score", "band")
#: Columns :func:`prepare` derives (when their inputs are there) and optional inputs conditions may use.
DERIVED_COLUMNS = ("community_activity_90d", "tickets_28d_vs_90d", "score_change")
OPTIONAL_COLUMNS = ("onboarding_completed",)
#: Columns of the exported action list, in order.
EXPORT_COLUMNS = ("account_id", "as_of", "score", "band", "churn_probability", "ltv", "stage", "touch_model",
                  "play", "play_label", "owner", "driver", "reason", "assignment")
_TEXT_EXPORT = ("account_id", "band", "stage", "touch_model", "play", "play_label", "owner", "driver", "reason",
                "assignment")
_NUMBER_EXPORT = ("score", "churn_probability", "ltv")


class PlaybookError(ConfigError):
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
                    f"{where}: condition {text!r} compares with {op} a value that is not a number (nor an amount "
                    f"named under amounts:)") from None
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

    def render(self, lang: str = "en", currency: str = "USD") -> str:
        """The condition in words: ``MRR ≥ $2,000``, ``区分 = 危険`` (amounts in ``currency``)."""
        value = self.value
        if isinstance(value, bool):
            shown = t("yes" if value else "no", lang)
        elif isinstance(value, str):
            shown = t(value, lang)
        else:
            shown = format_value(self.column, value, lang, currency)
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

    def render(self, lang: str = "en", currency: str = "USD") -> str:
        if not self.when:
            return t("actions.otherwise", lang)
        return t("actions.and", lang).join(c.render(lang, currency) for c in self.when)


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
    holdout: float | None = None  # share of the play's accounts held out at random (None: the playbook's default)

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

    def render(self, lang: str = "en", currency: str = "USD") -> str:
        """The play's conditions in words (``otherwise`` when it has none; amounts in ``currency``)."""
        parts = []
        if self.stages:
            parts.append(t("sep.label_value", lang, what=t("stage", lang),
                           value="/".join(t(f"stage.{s}", lang) for s in self.stages)))
        if self.touch_models:
            parts.append(t("sep.label_value", lang, what=t("touch_model", lang),
                           value="/".join(t(m, lang) for m in self.touch_models)))
        parts += [c.render(lang, currency) for c in self.when]
        if self.any:
            parts.append(t("actions.group", lang, x=t("actions.or_short", lang).join(
                c.render(lang, currency) for c in self.any)))
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
    holdout_share: float = 0.0  # default share of a play's accounts held out (a play may set its own)
    must_act: tuple[Rule, ...] = ()  # accounts for which one of these rules holds are never held out
    currency: str = "USD"  # the currency the named amounts were read in
    amounts: dict = dataclasses.field(default_factory=dict)  # name -> {currency: amount}, as the file gives them
    data: dict | None = dataclasses.field(default=None, repr=False, compare=False)  # the mapping it was read from

    @property
    def all_plays(self) -> tuple[Play, ...]:
        return tuple(p for s in PLAY_SECTIONS for p in self.plays[s])

    def holdout_of(self, play_id: str) -> float:
        """The share of ``play_id``'s accounts held out at random (0 for a play not in the playbook)."""
        for p in self.all_plays:
            if p.id == play_id:
                return self.holdout_share if p.holdout is None else p.holdout
        return 0.0

    def play(self, play_id: str) -> Play:
        for p in self.all_plays:
            if p.id == play_id:
                return p
        raise KeyError(f"no play {play_id!r} in {self.source}")

    def __repr__(self) -> str:
        return (f"Playbook({self.source!r}: {len(self.touch_models)} touch rules, {len(self.stages)} stage rules, "
                f"{len(self.all_plays)} plays)")


_TOP_KEYS = {"version", "columns", "touch_models", "stages", "drivers", "plays", "holdout", "amounts"}
_PLAY_KEYS = {"id", "label", "why", "owner", "owner_by_touch", "stages", "touch_models", "when", "any", "driver",
              "holdout"}
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
        raise PlaybookError(f"{where}: {what}s must be a list of names, got {value!r}")
    bad = [v for v in items if v not in allowed]
    if bad:
        raise PlaybookError(f"{where}: unknown {count(len(bad), '=' + what, '=' + what + 's')} {bad}; choose from "
                            f"{', '.join(allowed)}")
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
        raise PlaybookError(f"{where}: {count(len(extra), '=unknown key', '=unknown keys')} {sorted(extra)}; a play "
                            f"has {', '.join(sorted(_PLAY_KEYS))}")
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
        driver = _names(item["driver"], tuple(sorted(known)), "driver column", where)
    elif section == "drivers":
        raise PlaybookError(f"{where}: a play under plays.drivers needs 'driver': the metric column (or list of "
                            "columns) it answers")
    return Play(
        id=pid, section=section, label=_bilingual(item["label"], "label", where),
        why=_bilingual(item["why"], "why", where), owner=item["owner"], where=where, owner_by_touch=dict(by_touch),
        stages=_names(item.get("stages", []), STAGES, "stage", where),
        touch_models=_names(item.get("touch_models", []), TOUCH_MODELS, "touch model", where),
        when=when, any=any_, driver=driver,
        holdout=_share(item["holdout"], f"{where}.holdout") if "holdout" in item else None,
    )


def _share(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_HOLDOUT:
        raise PlaybookError(f"{where}: a holdout share is a number from 0 to {MAX_HOLDOUT} (0.1 holds out one "
                            f"account in ten), got {value!r}")
    return float(value)


def _holdout(data, known: set[str]) -> tuple[float, tuple[Rule, ...]]:
    """The ``holdout:`` section: the default share and the must-act rules (lists of conditions)."""
    if data is None:
        return 0.0, ()
    if not isinstance(data, dict) or set(data) - {"share", "must_act"}:
        raise PlaybookError(f"holdout: expected {{share: S, must_act: [[conditions], ...]}}, got {data!r}")
    share = _share(data.get("share", 0.0), "holdout.share")
    rules = data.get("must_act") or []
    if not isinstance(rules, list):
        raise PlaybookError(f"holdout.must_act: expected a list of rules (each a list of conditions), got {rules!r}")
    out = []
    for i, item in enumerate(rules):
        where = f"holdout.must_act[{i}]"
        when = _conditions(item, where)
        if not when:
            raise PlaybookError(f"{where}: a must-act rule needs at least one condition (an empty rule would hold "
                                "for every account and no one could be held out)")
        _check_columns(when, known, where)
        out.append(Rule("must_act", when, where))
    return share, tuple(out)


def parse_playbook(data, source: str = "<playbook>", currency: str = "USD") -> Playbook:
    """Validate a playbook given as a mapping (the parsed YAML). Errors name ``source`` and the entry.

    A condition may compare with a named amount (``mrr >= large_account``) that ``amounts:`` gives per currency
    (``large_account: {USD: 2000, JPY: 300000}``): it is read in ``currency``, the run's. A playbook written with
    bare numbers compares them as written, whatever the currency."""
    try:
        amounts = _amounts(data.get("amounts") if isinstance(data, dict) else None)
        resolved = _with_amounts(data, amounts, currency) if amounts else data
        book = _parse(resolved)
    except PlaybookError as exc:
        raise PlaybookError(f"playbook {source}: {exc}") from None
    return dataclasses.replace(book, currency=currency, amounts=amounts, data=data)


def _amounts(raw) -> dict[str, dict[str, float]]:
    """``amounts:`` validated: names (as a column is named) to amounts per currency code."""
    from .._core.money import CURRENCIES

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PlaybookError(f"amounts: expected a mapping of names to amounts per currency, got {raw!r}")
    out = {}
    for name, per in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise PlaybookError(f"amounts: {name!r} is not a name (letters, digits and _)")
        if not isinstance(per, dict) or not per:
            raise PlaybookError(f"amounts.{name}: expected amounts per currency, e.g. {{USD: 2000, JPY: 300000}}")
        for code, v in per.items():
            if code not in CURRENCIES:
                raise PlaybookError(f"amounts.{name}: unknown currency {code!r} (known: {', '.join(CURRENCIES)})")
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise PlaybookError(f"amounts.{name}.{code}: an amount >= 0, got {v!r}")
        out[name] = {code: float(v) for code, v in per.items()}
    return out


def _with_amounts(node, amounts: dict[str, dict[str, float]], currency: str):
    """``node`` with each condition naming an amount given the amount in ``currency``."""
    if isinstance(node, dict):
        return {k: node[k] if k == "amounts" else _with_amounts(node[k], amounts, currency) for k in node}
    if isinstance(node, list):
        return [_with_amounts(x, amounts, currency) for x in node]
    m = _CONDITION.match(node) if isinstance(node, str) else None
    if m is None or m.group(3) not in amounts:
        return node
    column, op, name = m.groups()
    if currency not in amounts[name]:
        raise PlaybookError(f"condition {node!r}: amounts.{name} has no amount in {currency} (it has "
                            f"{', '.join(amounts[name])}); add {currency}: ... under amounts.{name}, or run in one "
                            f"of those currencies")
    return f"{column} {op} {amounts[name][currency]!r}"  # every digit (1234567.0, not 1.23457e+06)


def _parse(data) -> Playbook:
    if not isinstance(data, dict):
        raise PlaybookError("the file must hold a mapping with touch_models, stages, drivers and plays")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise PlaybookError(f"{count(len(unknown), '=unknown top-level key', '=unknown top-level keys')} "
                            f"{sorted(unknown)}; expected {', '.join(sorted(_TOP_KEYS))}")
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
    share, must_act = _holdout(data.get("holdout"), known)
    return Playbook(touch, stages, plays, top, float(min_points), tuple(extra), "", share, must_act)


def load_playbook(path: str | Path | Playbook | None = None, currency: str | None = None) -> Playbook:
    """Read and validate a playbook (default: the package's ``playbook.yaml``), its named amounts in ``currency``
    (a code or a sign; default: a playbook object's own, else USD when every named amount has one, else the
    first currency they all have).

    Raises
    ------
    PlaybookError
        The file is missing, is not valid YAML, or an entry is wrong; the message names the file and entry.
    """
    from .._core.money import currency_code

    try:
        currency = currency_code(currency) if currency is not None else None
    except ValueError as exc:
        raise PlaybookError(str(exc)) from None
    if isinstance(path, Playbook):
        if currency is None or currency == path.currency:
            return path
        if not path.amounts or path.data is None:  # bare numbers: compared as written, shown in this currency
            return dataclasses.replace(path, currency=currency)
        return dataclasses.replace(parse_playbook(path.data, path.source, currency), source=path.source)
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
    if currency is None:
        currency = _default_currency(data.get("amounts") if isinstance(data, dict) else None)
    return dataclasses.replace(parse_playbook(data, str(path), currency), source=str(path))


def _default_currency(raw) -> str:
    """USD when every named amount has it (or there are none), else the first currency all of them have, else
    the first one listed (a playbook's labels are read whatever its amounts)."""
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, dict) and v for v in raw.values()):
        return "USD"
    shared = [c for c in next(iter(raw.values())) if all(c in v for v in raw.values())]
    return "USD" if "USD" in shared else (shared or list(next(iter(raw.values()))))[0]


# ---------------------------------------------------------------------------------------- formatting
def column_label(column: str, lang: str = "en") -> str:
    """Readable name of a column: the registry's for metrics, the catalogue's otherwise."""
    return t("health_score" if column == "score" else column, lang)


def format_value(column: str, value, lang: str = "en", currency: str = "USD") -> str:
    """A value of ``column`` as a reason quotes it: ratios to 2 decimals, counts whole, money in ``currency``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return t("actions.missing", lang)
    if isinstance(value, str):
        return t(value, lang) if value in BANDS else value
    if isinstance(value, bool | np.bool_):
        return t("yes" if value else "no", lang)
    unit = M.REGISTRY_COLUMNS[column].unit if column in M.REGISTRY_COLUMNS else _UNITS.get(column, "")
    v = float(value)
    if unit == "currency":
        return fmt_money(v, lang, currency)
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
