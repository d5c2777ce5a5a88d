"""The models folder: every trained model kept by its id, a ``current.json`` pointer, and the retrain policy.

Layout (default ``<data_dir>/models/``)::

    <model_id>/           a model folder (see :mod:`engage_models.lifecycle.frozen`)
    current.json          {"model_id": ..., "since": ..., "reason": ...}: the model scheduled runs score with
    history.jsonl         one line per change of the pointer (old id, new id, when, why)

The pointer is a small JSON file, not a symlink (it travels in archives and works on every file system). Old
models are never deleted by the package.

:func:`decide` is the retrain policy of ``engage run --retrain``:

``never``
    score with the current model; train only when there is none.
``monthly``
    train when the current model's data ended (its cutoff) in an earlier calendar month than the run's
    observation date; else score with it.
``on-drift``
    ask :func:`engage_models.monitoring.recommend_retrain` (drift of the panel against the model's reference
    rows, the model's performance on the labels matured since, its age); train when it says so.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._core.errors import ConfigError
from .._core.io import jsonable, read_json, write_json
from .._core.time import to_utc
from .frozen import saw_later

log = logging.getLogger(__name__)

POINTER = "current.json"
HISTORY = "history.jsonl"
POLICIES = ("never", "monthly", "on-drift")


@dataclass
class ModelStore:
    """The models folder ``root``."""

    root: Path

    def __post_init__(self):
        self.root = Path(self.root).expanduser()

    @property
    def pointer(self) -> Path:
        return self.root / POINTER

    def folder(self, model_id: str) -> Path:
        return self.root / model_id

    def ids(self) -> list[str]:
        """The ids of the models kept (folders with a readable card), oldest first by creation time. A folder
        whose name starts with a dot is a copy under way (``publish``'s staging, left by a run that was stopped)
        and is not a model; a folder whose card cannot be read is left out with a warning naming it (one damaged
        old model stopped every backfill's decision with a JSONDecodeError)."""
        if not self.root.is_dir():
            return []
        found = []
        for p in self.root.iterdir():
            card = self.card(p.name) if not p.name.startswith(".") else None
            if card is not None:
                found.append((str(card.get("created") or ""), p.name))
        return [name for _, name in sorted(found)]

    def card(self, model_id: str) -> dict | None:
        """The card of the kept model ``model_id`` as read (not checked against its files: :func:`load_frozen`
        does that), or None when there is no card or it is not readable (said)."""
        from .frozen import CARD_FILE

        path = self.folder(model_id) / CARD_FILE
        if not path.is_file():
            return None
        try:
            card = read_json(path)
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            log.warning("%s/%s: %s is not readable (%s): that folder is left out of the models kept", self.root.name,
                        model_id, CARD_FILE, exc)
            return None
        if not isinstance(card, dict):
            log.warning("%s/%s: %s is not a model card: that folder is left out of the models kept", self.root.name,
                        model_id, CARD_FILE)
            return None
        return card

    def current_id(self) -> str | None:
        if not self.pointer.is_file():
            return None
        try:
            mid = read_json(self.pointer).get("model_id")
        except (ValueError, AttributeError):
            raise ConfigError(f"{self.pointer}: not a current-model pointer (expected JSON with model_id)") from None
        if mid is not None and not (self.folder(mid) / "card.json").is_file():
            raise ConfigError(f"{self.pointer} names model {mid}, which is not in {self.root.name}/ (deleted?)")
        return mid

    def set_current(self, model_id: str, reason: str = "") -> None:
        old = self.current_id() if self.pointer.is_file() else None
        now = pd.Timestamp.now(tz="UTC")
        if old == model_id:  # made current again (engage train after the run that trained it): nothing moved
            return
        write_json(self.pointer, {"model_id": model_id, "since": now, "reason": reason, "previous": old})
        if old != model_id:
            with open(self.root / HISTORY, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(jsonable({"when": now, "from": old, "to": model_id, "reason": reason}),
                                    ensure_ascii=False) + "\n")

    def publish(self, source: Path, model_id: str | None = None) -> Path:
        """Copy the model folder ``source`` into the store as ``model_id`` (default: the folder's name; kept as it
        is when already there); returns its place."""
        source = Path(source)
        model_id = model_id or source.name
        target = self.folder(model_id)
        if (target / "card.json").is_file():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".{model_id}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return target


def _latest_before(store: ModelStore, as_of) -> str | None:
    """The kept model whose data ended last, at or before ``as_of`` (by its card's cutoff), or None."""
    best = None
    for mid in store.ids():
        training = (store.card(mid) or {}).get("training") or {}
        seen = training.get("cutoff") or training.get("last_as_of")
        if seen is not None and not saw_later(seen, as_of) and (best is None or to_utc(seen) >= best[0]):
            best = (to_utc(seen), mid)
    return best[1] if best else None


@dataclass
class _Pinned(ModelStore):
    """A models folder read as if ``model_id`` were its current model (a backfill's model of that time)."""

    model_id: str = ""

    def current_id(self) -> str | None:
        return self.model_id


def decide(policy: str, store: ModelStore, *, as_of: pd.Timestamp, panel: pd.DataFrame | None = None,
           horizon_days: int | None = None, monitoring: dict | None = None, windows: tuple[int, ...] | None = None,
           timezone: str | None = None) -> dict:
    """Whether this run trains a new model or scores with the current one, and why.

    A current model this run's settings cannot score with (another horizon, ``windows`` without its metrics'
    window, another calendar: :func:`~.frozen.check_run_settings`) is replaced under ``monthly`` and
    ``on-drift``; under ``never`` it stops the run (ConfigError), as ``never`` promises not to retrain.

    ``monitoring`` holds the settings passed to :func:`~engage_models.monitoring.recommend_retrain` under
    ``on-drift`` (``psi_threshold``, ``metric_psi_share``, ``max_age_days``, ``bins``, ``n_boot``, ``seed``).

    A backfill (``as_of`` before the end of the data the current model saw) is decided with the latest kept model
    whose data ended by ``as_of``, as a run on that date would have been; without one it trains. Its decision
    has ``"backfill": True``, and a model it trains does not become the current one (:func:`after_health`).

    Returns ``{"policy", "action": "train" | "score", "model_id" (the current one, or None), "reason",
    "reasons" (list of {kind, detail}), "as_of"}`` (and ``backfill``).
    """
    if policy not in POLICIES:
        raise ConfigError(f"retrain must be one of {', '.join(POLICIES)}, not {policy!r}")
    as_of = pd.Timestamp(as_of)
    current = store.current_id()
    base = {"policy": policy, "model_id": current, "as_of": as_of}
    if current is None:
        return {**base, "action": "train", "reason": "no current model in the models folder",
                "reasons": [{"kind": "none", "detail": "no current model"}]}
    from .frozen import load_frozen

    frozen = load_frozen(store.folder(current))
    seen = frozen.data_end
    if saw_later(seen, as_of):
        # a backfill (a run for a date before the current model's data ended): that model learned outcomes not
        # known on the run's date. The latest kept model whose data ended by then scores, as a run on that date
        # would have; without one, the run trains its own, which does not replace the current model.
        earlier = _latest_before(store, as_of)
        detail = (f"the current model {current} saw data until {to_utc(seen):%Y-%m-%d}, after the run's observation "
                  f"date {to_utc(as_of):%Y-%m-%d}")
        if earlier is None:
            return {**base, "action": "train", "backfill": True,
                    "reason": f"{policy}: {detail}; no kept model saw only data until then: this backfill trains one "
                              f"(the current model stays current)",
                    "reasons": [{"kind": "backfill", "detail": detail}]}
        log.info("%s; scoring the backfill's date with %s, the latest kept model whose data ended by then",
                 detail, earlier)
        decision = decide(policy, _Pinned(store.root, earlier), as_of=as_of, panel=panel, horizon_days=horizon_days,
                          monitoring=monitoring, windows=windows, timezone=timezone)
        decision["backfill"] = True
        decision["reason"] = f"{decision['reason']} (a backfill: {detail})"
        return decision
    if horizon_days is not None and windows is not None:
        from .frozen import check_run_settings

        try:
            check_run_settings(frozen.card, horizon_days, tuple(windows), timezone or "UTC")
        except ConfigError as exc:
            if policy == "never":
                raise
            return {**base, "action": "train", "reason": f"{policy}: {exc}",
                    "reasons": [{"kind": "settings", "detail": str(exc)}]}
    cutoff = frozen.data_end
    if policy == "never":
        return {**base, "action": "score", "reason": f"policy never: scoring with the current model {current}",
                "reasons": []}
    if policy == "monthly":
        then, now = (cutoff.year, cutoff.month), (as_of.year, as_of.month)
        if then < now:
            detail = (f"the current model {current} saw data until {cutoff:%Y-%m-%d}, an earlier month than the "
                      f"run's observation date {as_of:%Y-%m-%d}")
            return {**base, "action": "train", "reason": f"monthly: {detail}",
                    "reasons": [{"kind": "age", "detail": detail}]}
        return {**base, "action": "score", "reason": f"monthly: the current model {current} saw data until "
                f"{cutoff:%Y-%m-%d}, this month", "reasons": []}
    # on-drift
    try:
        from ..monitoring import recommend_retrain
    except ImportError:
        raise ConfigError("retrain 'on-drift' needs engage_models.monitoring (drift and matured-label checks), "
                          "which this installation lacks: use 'monthly' or 'never'") from None
    if panel is None:
        raise ConfigError("retrain 'on-drift' needs the run's panel")
    rec = recommend_retrain(frozen.model, frozen.reference, panel, trained_until=frozen.trained_until, as_of=as_of,
                            cutoff=cutoff,
                            horizon_days=horizon_days if horizon_days is not None else frozen.horizon_days,
                            **_accepted(recommend_retrain, monitoring or {}))
    reasons = [{**r, "kind": str(r.get("kind")), "detail": str(r.get("detail"))} for r in rec.get("reasons", [])]
    evidence = {"psi": rec.get("psi"), "calibration": rec.get("calibration"), "age_days": rec.get("age_days"),
                "unavailable": rec.get("unavailable", [])}
    # the checks that could not be made, said beside the verdict: "no drift" of a panel too thin to judge read as
    # a model that held
    missing = "".join(f"; {u['check']} not checked: {u['why']}" for u in rec.get("unavailable", []))
    if rec.get("retrain"):
        words = "; ".join(r["detail"] for r in reasons) or "monitoring recommends retraining"
        return {**base, "action": "train", "reason": f"on-drift: {words}{missing}", "reasons": reasons,
                "monitoring": evidence}
    judged = {"drift", "calibration"} - {u["check"] for u in rec.get("unavailable", [])}
    words = [w for k, w in (("drift", "drift"), ("calibration", "miscalibration")) if k in judged] + ["age"]
    checked = " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
    return {**base, "action": "score", "reason": f"on-drift: no {checked} past the thresholds for {current}{missing}",
            "reasons": reasons, "monitoring": evidence}


def _accepted(func, settings: dict) -> dict:
    """The ``settings`` that ``func`` takes (the monitoring's settings and its function evolve separately)."""
    import inspect

    names = inspect.signature(func).parameters
    return {k: v for k, v in settings.items() if k in names}
