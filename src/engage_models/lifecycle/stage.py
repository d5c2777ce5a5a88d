"""The health stage's two ends in production, and the retrain policy's place in a run.

* :func:`freeze`: the model the health stage trained, written as a model folder inside the stage's artifact
  (``frozen/``); :func:`after_health` copies it into the models folder as ``<model_id>/``.
* :func:`score_frozen`: the health stage with ``RunConfig.model``: no fit, no rolling refits; every reported
  date is scored by the frozen model, and the stage writes what the reports read (scores, scorecard, model.json
  with ``model_id``; the backtest is the card's, so this run's backtest sections say so).
* :func:`resolve_policy`: with ``RunConfig.retrain``, what the health stage of this run does (train, or score
  with the current model) and why; the decision is part of the stage's key and written as ``lifecycle.json``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd

from .._core.errors import ConfigError, DataError
from .._core.i18n import count
from .._core.reasons import Thin, Why, date_of
from .._core.time import to_utc
from ..pipeline.store import NOT_DUE
from .frozen import (
    MODEL_FILE,
    age_days,
    check_run_settings,
    data_end_of,
    load_frozen,
    past_age_limit,
    save_frozen,
    saw_later,
)
from .store import ModelStore, decide

log = logging.getLogger(__name__)

#: Where the health stage keeps the model folder it trained, inside its artifact.
FROZEN_DIR = "frozen"


def models_dir(config) -> Path:
    """The run's models folder: ``RunConfig.models_dir``, else ``<data_dir>/models``."""
    return Path(config.models_dir).expanduser() if config.models_dir else Path(config.data_dir) / "models"


# ------------------------------------------------------------------------------------------------ training
def freeze(ctx, final, labelled: pd.DataFrame, model_info: dict, backtest: pd.DataFrame | None,
           scorecard: pd.DataFrame, backtest_reason: str | None = None) -> str:
    """Write the trained ``final`` card as a model folder under the stage's ``frozen/``; returns its id."""
    info = {"form": model_info["form"], "horizon_days": ctx.config.horizon_days, "timezone": ctx.config.zone,
            "windows": ctx.config.windows,
            "cutoff": ctx.as_of,
            "thresholds": model_info["thresholds"], "model_info": model_info,
            "scorecard": scorecard.to_dict("records"), "scorecard_attrs": dict(scorecard.attrs),
            "backtest": backtest.to_dict("records") if backtest is not None else None,
            "backtest_reason": backtest_reason}
    staging = ctx.out.path / f".{FROZEN_DIR}"
    folder = save_frozen(final, staging, panel_rows=labelled, info=info)
    folder.rename(ctx.out.path / FROZEN_DIR)  # one place whatever the id: the stage's file list names no id
    shutil.rmtree(staging, ignore_errors=True)
    ctx.out.files.extend(f"{FROZEN_DIR}/{p.name}" for p in sorted((ctx.out.path / FROZEN_DIR).iterdir()))
    return folder.name


# ------------------------------------------------------------------------------------------------ scoring
def score_frozen(ctx) -> None:
    """The health stage with a frozen model (``RunConfig.model``): score, do not fit."""
    from ..health import history
    from ..pipeline.stages import LABELS, _shape_artifacts

    c, out, h = ctx.config, ctx.out, ctx.config.health
    frozen = load_frozen(c.model)
    pnl = ctx.input("panel").frame("panel")
    check_run_settings(frozen.card, c.horizon_days, c.windows, c.zone)  # also a retrain policy's current model
    try:
        frozen.check(pnl, c.horizon_days)
    except DataError as exc:  # a model this data cannot feed stops the run (exit 2), like another horizon
        raise ConfigError(str(exc)) from None
    accounts = pd.read_parquet(ctx.paths.processed / "accounts.parquet")
    model, mid = frozen.model, frozen.model_id
    shutil.copy2(frozen.folder / MODEL_FILE, out.file(MODEL_FILE))  # what later stages load (effects)
    card = _numbers(pd.DataFrame(frozen.card["scorecard"]))
    card.attrs.update(frozen.card.get("scorecard_attrs") or {})
    out.frame("scorecard", card)
    if frozen.form == "shape":
        _shape_artifacts(model, out)
    # the training cutoff as report 08 names it: the last observation date of the training rows
    why = Why("reason.frozen_model", model=mid, until=date_of(frozen.trained_until))
    for name in ("backtest_metrics", "band_performance"):  # by design: a scheduled scoring run is not a failed one
        out.skip(name, why, kind=NOT_DUE)
    info = dict(frozen.card.get("model_info") or {})
    info.update({"form": frozen.form, "thresholds": frozen.card["thresholds"], "model_id": mid, "frozen": True,
                 "trained_until": frozen.trained_until, "cutoff": frozen.cutoff, "as_of": ctx.as_of,
                 "created": frozen.card.get("created"), "versions": frozen.card.get("versions")})
    dates = sorted(pnl["as_of"].unique())[-h.history_dates:]
    rows = pnl[pnl["as_of"].isin(dates)]
    unseen = frozen.unseen_levels(rows) if not rows.empty else {}
    if unseen:
        info["unseen_levels"] = unseen
    out.json("model", info)  # written before a thin panel stops the stage: later stages read it
    if rows.empty:
        raise Thin("reason.no_date_to_score")
    seen = frozen.data_end
    if saw_later(seen, ctx.as_of):  # a past date scored with a model that learned its outcomes
        log.warning("model %s saw data until %s, after this run's observation date %s: it learned outcomes not known "
                    "on that date, so its scores there are not those a run then could have given (to score a past "
                    "date as it would have been, use a model trained by then: engage run --retrain never picks the "
                    "latest kept one)", mid, f"{to_utc(seen):%Y-%m-%d}", f"{to_utc(ctx.as_of):%Y-%m-%d}")
    days = (set(pd.to_datetime(frozen.reference["as_of"], utc=True).dt.day) if "as_of" in frozen.reference.columns
            else set())  # a reference without its dates: no calendar to judge on (blank_features judges none)
    grid = pnl[pnl["as_of"].dt.day.isin(days)]
    latest_on_grid = grid["as_of"].max() if not grid.empty else None  # judged when no scored date is on the grid
    blank = frozen.blank_features(rows if latest_on_grid is None or latest_on_grid in set(dates)
                                  else pd.concat([rows, pnl[pnl["as_of"] == latest_on_grid]]))
    if blank:
        raise ConfigError(blank_message(mid, blank))
    for name, levels in unseen.items():
        shown = ", ".join(f"{lv!r} ({n:,} account{'s' if n != 1 else ''})" for lv, n in list(levels.items())[:5])
        log.warning("model %s never saw %s %s%s: those accounts are scored as if they had no %s (train a new model "
                    "to learn them)", mid, name, shown, f" and {len(levels) - 5} more" if len(levels) > 5 else "",
                    name)
    X = rows.drop(columns=[col for col in LABELS if col in rows.columns])
    p = model.predict_proba(X)[:, 1]
    scores = pd.DataFrame({"account_id": rows["account_id"].to_numpy(), "as_of": rows["as_of"].to_numpy(),
                           "score": model.health_score(X).to_numpy(), "churn_probability": p,
                           "band": model.bands(proba=p).to_numpy(),
                           "trained_until": to_utc(frozen.trained_until)})
    latest_date = scores["as_of"].max()
    latest = pnl[pnl["as_of"] == latest_date]
    drivers = history.drivers_in_words(model, latest.drop(columns=[col for col in LABELS if col in latest.columns]))
    scores = scores.merge(drivers.assign(account_id=latest["account_id"].to_numpy(), as_of=latest_date),
                          on=["account_id", "as_of"], how="left")
    scores = history.with_context(scores, pnl, accounts)
    scores["model_id"] = mid
    out.frame("scores", scores)


def _say_if_old(config, artifact, info: dict) -> None:
    """Warn when the frozen model this run scored with saw data that ended more than ``monitoring.max_age_days``
    before the run's observation date (:func:`~.frozen.past_age_limit`, the monitoring's age reason). Said on every
    run, the stage computed or reused: ``engage score`` stops before the monitoring stage, whose recommendation is
    the only other place that says it, and scored with a model of any age without a word."""
    limit = getattr(getattr(config, "monitoring", None), "max_age_days", None)
    as_of = info.get("as_of")
    if as_of is None and artifact.has("scores"):  # a stage kept before model.json said its date
        as_of = pd.to_datetime(artifact.frame("scores")["as_of"], utc=True).max()
    end = data_end_of(info.get("cutoff"), info.get("trained_until"))
    if as_of is None or not past_age_limit(end, as_of, limit):
        return
    log.warning("model %s saw data until %s, %s before this run's observation date %s: past the limit of %s "
                "(monitoring.max_age_days), its age alone a reason to retrain it. Train a new model (engage "
                "train, or run with --retrain monthly or on-drift), or raise the limit if report 08 shows the model "
                "still holds", info.get("model_id"), f"{to_utc(end):%Y-%m-%d}", count(age_days(end, as_of), "day"),
                f"{to_utc(as_of):%Y-%m-%d}", count(int(limit), "day"))


def blank_message(model_id: str, blank: dict[str, dict]) -> str:
    """Why a frozen model does not score a panel whose features :meth:`FrozenModel.blank_features` found blank."""
    def one(name: str, b: dict) -> str:
        v = b["value"]
        value = "empty" if v is None else repr(v) if isinstance(v, str) else f"{v:g}"
        dates = ", ".join(f"{d:%Y-%m-%d}" for d in b["dates"])
        every = "the only account" if b["accounts"] == 1 else f"all {b['accounts']:,} accounts"
        return (f"{name} ({value} for {every} at {dates}; at most {b['training_share']:.1%} of a training date's "
                "rows)")

    shown = "; ".join(one(n, b) for n, b in list(blank.items())[:6])
    more = f"; and {len(blank) - 6} more" if len(blank) > 6 else ""
    return (f"model {model_id} was trained on features that this run's panel holds at one value for every account: "
            f"{shown}{more}. A column they are computed from is likely missing, renamed or empty in the raw tables "
            "(compare their columns with the last export's; ingest keeps a renamed column as an extra one): scored, "
            "every account would be read at a value no training date came near having for all its accounts. Fix "
            "the export, or train a new model (engage train) if the metric really stopped")


def _numbers(df: pd.DataFrame) -> pd.DataFrame:
    """A table read back from JSON with its number columns as floats (JSON's null for NaN made a column of
    ``None`` when every value was missing, e.g. weight intervals without bootstrap)."""
    out = df.copy()
    for col in out.columns:
        values = [v for v in out[col] if v is not None]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


# ------------------------------------------------------------------------------------------------ policy
def resolve_policy(config, done: dict) -> tuple[object, dict | None]:
    """The configuration the health stage runs with under ``config.retrain``, and the decision (None without a
    policy): scoring with the current model sets ``model`` to its folder; training leaves the config as it is."""
    if not config.retrain:
        return config, None
    as_of = to_utc(done["ingest"].json("dates")["as_of"])
    panel = None
    if config.retrain == "on-drift" and "panel" in done:  # its matured labels end at a churn stop, as monitoring's
        from ..pipeline.stages import known_labels

        panel = known_labels(done["panel"].frame("panel"), done["ingest"].json("dates"), config.horizon_days)
    store = ModelStore(models_dir(config))
    m = config.monitoring
    settings = {"psi_threshold": m.psi_threshold, "metric_psi_share": m.metric_psi_share,
                "max_age_days": m.max_age_days, "bins": m.bins, "n_boot": m.n_boot, "seed": config.seed}
    decision = decide(config.retrain, store, as_of=as_of, panel=panel, horizon_days=config.horizon_days,
                      monitoring=settings, windows=config.windows, timezone=config.zone)
    log.info("retrain %s: %s", config.retrain, decision["reason"])
    if decision["action"] == "score":
        import dataclasses

        return dataclasses.replace(config, model=str(store.folder(decision["model_id"])), retrain=None), decision
    return config, decision


def after_health(config, artifact, decision: dict | None) -> dict | None:
    """After the health stage (computed or reused): a model it trained goes into the models folder (kept if
    there), and becomes the current one when the policy trained it or when there is no current model yet.
    Returns ``{"model_id", "folder", "current"}`` of a trained model, None when the stage scored."""
    if not artifact.has("model"):
        return None
    info = artifact.json("model")
    mid = info.get("model_id")
    if mid is None:
        return None
    if info.get("frozen"):  # a model from elsewhere joins the run's models folder (monitoring reads it there)
        from .frozen import resolve

        _say_if_old(config, artifact, info)

        if config.model and not (ModelStore(models_dir(config)).folder(mid) / "card.json").is_file():
            ModelStore(models_dir(config)).publish(resolve(config.model), mid)
        return None
    source = artifact.path / FROZEN_DIR
    if not (source / "card.json").is_file():
        return None
    store = ModelStore(models_dir(config))
    folder = store.publish(source, mid)
    current = store.current_id() if store.pointer.is_file() else None
    if decision is not None and decision["action"] == "train" and current != mid and not decision.get("backfill"):
        store.set_current(mid, decision["reason"])
    elif current is None:
        store.set_current(mid, "the first model of this models folder")
    return {"model_id": mid, "folder": folder, "current": store.current_id() == mid}
