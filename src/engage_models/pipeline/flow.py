"""Running the stages (the flow), and a run's artifacts as one object to explore.

:func:`run` executes the stages in order (any prefix of them with ``until``), reusing every stage whose key is
unchanged, and returns a :class:`Run`. :meth:`Run.export` writes the run's artifacts into a folder
(``<folder>/artifacts/<stage>/`` and ``<folder>/run.json``), which is what the report runner publishes;
:func:`open_run` opens such a folder again (``open_run("reports/latest")``), in JupyterLab or a script.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from .._core.errors import ConfigError, InsufficientData, MachineError, machine_trouble
from .._core.i18n import LANGS, count, t
from .._core.io import jsonable, read_json, write_json
from .._core.locks import hold
from .._core.progress import ONE_THREAD, show_bars, stage_bar
from .._core.reasons import Why, reason_of, stage_name, stored, text, texts
from .._core.time import to_utc
from .config import _PATHS, RunConfig
from .stages import LABEL_STAGES, STAGE_NAMES, STAGES, Context, Stage, ingest_is_current, read_km
from .store import NOT_DUE, NOT_RECORDED, Artifact, Store, make_key

#: BLAS_NOTE: stages run with one BLAS and one OpenMP thread (``_core.progress.ONE_THREAD``, where the
#: measurements are); bootstrap refits and backtest fits get their parallelism from processes instead
#: (``health.n_jobs``, ``survival.n_jobs``); DuckDB keeps its own threads.

log = logging.getLogger(__name__)

ARTIFACTS = "artifacts"
RUN_FILE = "run.json"


@dataclass
class StageRecord:
    """How a stage went in this run: ``computed``, ``reused``, ``failed`` (with the reason) or ``skipped``
    (an input failed), with its key, time and the sections it could not compute."""

    name: str
    status: str
    key: str | None = None
    seconds: float = 0.0
    reason: str | None = None  # in English
    kind: str | None = None  # "insufficient_data" or "error" for failed stages
    skipped: list[dict] = field(default_factory=list)
    texts: dict | None = None  # the reason in every language, when it was given as a Why

    def as_dict(self) -> dict:
        out = {"name": self.name, "status": self.status, "key": self.key, "seconds": round(self.seconds, 2),
               "reason": self.reason, "kind": self.kind, "skipped": self.skipped}
        return {**out, "texts": self.texts} if self.texts else out

    @property
    def why(self):
        """The reason as a :class:`~engage_models._core.reasons.Why` when its languages were kept, else text."""
        return stored(self.reason, self.texts) if self.reason else None


def _stages_until(until: str | None) -> tuple[Stage, ...]:
    if until is None:
        return STAGES
    if until not in STAGE_NAMES:
        raise ConfigError(f"unknown stage {until!r} (stages, in order: {', '.join(STAGE_NAMES)})")
    return STAGES[: STAGE_NAMES.index(until) + 1]


def _check_model_first(config: RunConfig) -> None:
    """The model a run will score with (``model``, or under ``retrain: never`` the models folder's current one),
    checked before ingest rather than after it: missing or damaged files, another horizon, windows or calendar."""
    folder = config.model
    if not folder and config.retrain == "never":
        from ..lifecycle.stage import models_dir
        from ..lifecycle.store import ModelStore

        models = ModelStore(models_dir(config))
        folder = models.folder(models.current_id()) if models.pointer.is_file() else None
    if folder:
        from ..lifecycle.frozen import check_run_settings, verify_frozen

        check_run_settings(verify_frozen(folder), config.horizon_days, config.windows, config.zone)


def run(config: RunConfig | dict | None = None, *, until: str | None = None, strict: bool = False,
        progress: Callable[[str], None] | None = None, on_stage: Callable[[Run], None] | None = None,
        wait: float = 0, record: bool = True, **overrides) -> Run:
    """Run the pipeline (every stage, or up to ``until``) and return the :class:`Run`.

    Parameters
    ----------
    config : RunConfig, mapping or None
        The run's configuration (see :class:`RunConfig`); ``overrides`` are applied on top
        (``pipeline.run(data_dir="data", horizon_days=60)``).
    until : str, optional
        The last stage to run (a prefix of ``ingest, quality, panel, kpis, surveys, health, survival, actions,
        summary``).
    strict : bool
        Raise a stage's unexpected error instead of recording it and going on (for tests and debugging).
        Thin data (:class:`~engage_models._core.errors.InsufficientData`) is always recorded, never raised.
    on_stage : callable, optional
        Called with the :class:`Run` so far each time a stage is recorded (computed, read back, failed or
        skipped), before the next stage starts: the report runner renders a report as soon as the stages it
        reads are done, beside the stages still running.
    wait : float
        Seconds to wait for another engage process that holds the data folder (0: stop at once with
        :class:`~engage_models._core.locks.FolderBusy`; negative: wait as long as it takes). The run holds the
        folder's lock from its first stage to its last (:mod:`engage_models._core.locks`).
    record : bool
        Record a run that made an action list as sent (:func:`record_run`): the next runs start their detractor
        alerts after it and do not send its score alerts and CRM tasks again. The report runner passes False and
        records once the reports are published.

    A stage whose inputs, parameters and code are unchanged since it last ran is read back, not recomputed.
    A stage that fails is recorded with its reason; the stages that need it are skipped; the others run.
    """
    from ..health.cv import forget_said

    forget_said()  # what a model's refits warn about once, each run says again
    if not isinstance(config, RunConfig):
        config = RunConfig.from_dict(config or {}, **overrides)
    elif overrides:
        config = config.replace(**overrides)
    if not Path(config.data_dir).is_dir():  # a mistyped folder: nothing made in it (every stage writes there)
        raise ConfigError(f"data folder {config.data_dir} does not exist (its raw/ folder holds the tables)")
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    bars = progress is None and show_bars()  # a bar per long stage on a terminal (see _core.progress)
    stages = _stages_until(until)
    if any(st.name == "health" for st in stages):
        _check_model_first(config)
        if config.model:  # a models folder's current model, named once: the stage's key and its scoring read one
            from ..lifecycle.frozen import resolve  # (a train finishing between the two read another model)

            config = config.replace(model=str(resolve(config.model)))
        if config.health.hand_scorecard:
            from ..health.baselines import load_scorecard

            load_scorecard(config.health.hand_scorecard)  # a mistake in the card: said before ingest, not after
    if any(st.name == "actions" for st in stages) and config.actions.playbook:
        from ..actions.playbook import load_playbook

        load_playbook(config.actions.playbook, config.currency)  # a mistake in it: said before ingest, not after
    store = Store(Path(config.data_dir) / ARTIFACTS)
    done: dict[str, Artifact] = {}
    records: dict[str, StageRecord] = {}
    with hold(config.data_dir, "pipeline", wait):
        store.clear_staging()  # what a killed run was writing: nobody else writes here while the lock is held
        for st in stages:
            _run_stage(st, config, store, done, records, say, bars, strict)
            if on_stage is not None:
                on_stage(Run(config=config, artifacts=dict(done), records=dict(records)))
        result = Run(config=config, artifacts=done, records=records)
        if record:
            record_run(result)
    return result


#: The observation dates of the runs that made an action list on this data folder (``artifacts/run_dates.json``).
RUN_DATES = "run_dates.json"


def _run_dates(store: Store, key: str = "as_of") -> list[str]:
    """The recorded observation dates (``YYYY-MM-DD``; ``key="undelivered"``: those whose alerts no channel
    took); none when the file is absent or unreadable."""
    path = store.root / RUN_DATES
    try:
        return [str(d) for d in read_json(path).get(key, [])] if path.is_file() else []
    except (ValueError, AttributeError, TypeError):
        return []


def previous_run_as_of(store: Store, as_of: pd.Timestamp) -> pd.Timestamp | None:
    """The latest observation date of an earlier run on this data folder, strictly before ``as_of`` (a run
    again on the same date, or a backfill, does not count the runs after it), among the runs recorded before
    ``as_of``'s first run (the order ``artifacts/sent.json`` keeps; dates it does not know are older): a backfill
    does not move the start of a later date's detractor alerts when that date is run again. A run whose alerts
    no delivery channel took (``undelivered``) does not count: the next run alerts its detractors again."""
    from ..actions.repeats import LEDGER, read_ledger

    order = read_ledger(store.root / LEDGER)["runs"]
    first = order.get(f"{as_of:%Y-%m-%d}")
    undelivered = set(_run_dates(store, "undelivered"))
    earlier = [d for d in (to_utc(x) for x in _run_dates(store) if x not in undelivered)
               if d < as_of and (first is None or order.get(f"{d:%Y-%m-%d}", 0) < first)]
    return max(earlier) if earlier else None


def made_action_list_by(store: Store, as_of) -> bool:
    """Whether a run of this data folder made an action list for ``as_of`` or an earlier date."""
    return any(to_utc(d) <= to_utc(as_of) for d in _run_dates(store))


def record_run_as_of(store: Store, as_of: pd.Timestamp, keep: int = 400, *, delivered: bool = True) -> None:
    """Add ``as_of`` to ``run_dates.json`` (the newest ``keep`` dates stay), and to its ``undelivered`` dates
    when its alerts reached no one (a run again on the date that delivers takes it off)."""
    day, had = f"{as_of:%Y-%m-%d}", (_run_dates(store), _run_dates(store, "undelivered"))
    dates = sorted({*had[0], day})[-keep:]
    undelivered = sorted(({*had[1]} | {day} if not delivered else {*had[1]} - {day}) & set(dates))
    if (dates, undelivered) != had:
        write_json(store.root / RUN_DATES, {"as_of": dates, **({"undelivered": undelivered} if undelivered else {})})


def record_run(run: Run, *, delivered: bool = True) -> None:
    """Record a run that made an action list on its data folder: its observation date (``run_dates.json``: the
    next run's detractor alerts start there) and the score alerts and CRM tasks it sent (``sent.json``: the next
    runs do not send them again). :func:`run` does it at its end (``record=False``: not); the report runner once
    the reports are published and delivered, so a run that published nothing has sent nothing.

    ``delivered=False`` (a delivery was configured and no channel took the message): the CRM tasks are recorded
    (their files were written), the alerts are not, and the date is marked undelivered, so the next run sends
    the score alerts and the detractors' answers again rather than leaving them out as already sent."""
    if "actions" not in run.artifacts or "ingest" not in run.artifacts:
        return
    store = Store(Path(run.config.data_dir) / ARTIFACTS)
    as_of = to_utc(run.artifacts["ingest"].json("dates")["as_of"])
    record_run_as_of(store, as_of, delivered=delivered)
    record_sent_by(store, as_of, run.artifacts["actions"], alerts=delivered)


def sent_by_earlier_runs(store: Store, config: RunConfig, as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The score alerts and CRM tasks this data folder's earlier runs sent that can make this run's repeats
    (``artifacts/sent.json``; see :func:`engage_models.actions.repeats.sent_before`)."""
    from ..actions.repeats import LEDGER, read_ledger, sent_before

    return sent_before(read_ledger(store.root / LEDGER), as_of, alert_days=config.actions.alert_repeat_days,
                       task_days=config.actions.task_repeat_days)


def record_sent_by(store: Store, as_of: pd.Timestamp, actions: Artifact, *, alerts: bool = True) -> None:
    """Add the score alerts the actions stage listed (``alerts=False``: not) and the CRM tasks it exported to
    the ledger."""
    from ..actions.repeats import LEDGER, record_sent

    alerts = actions.frame("alerts") if alerts and actions.has("alerts") else None
    tasks = actions.frame("crm_tasks") if actions.has("crm_tasks") else None
    record_sent(store.root / LEDGER, as_of, alerts=alerts, tasks=tasks)


def _root_causes(missing: list[str], records: dict[str, StageRecord], done: dict) -> list[str]:
    """The stages, in run order, whose own failure left ``missing`` without an artifact: a stage skipped because
    it needed another is replaced by that one's causes (health, needing the panel, is not said again beside
    the panel, nor with the panel's reason nested inside its own)."""
    out: list[str] = []
    for n in missing:
        rec = records.get(n)
        if rec is None:
            continue
        if rec.status == "skipped":
            needs = next((s.needs for s in STAGES if s.name == n), ())
            out += _root_causes([m for m in needs if m not in done], records, done)
        else:
            out.append(n)
    return sorted(set(out), key=STAGE_NAMES.index)


def _run_stage(st, config: RunConfig, store: Store, done: dict[str, Artifact], records: dict[str, StageRecord],
               say: Callable[[str], None], bars: bool, strict: bool) -> None:
    """One stage of :func:`run`: read back, computed, failed or skipped; its artifact into ``done`` and its
    record into ``records`` (an error in ingest, or any with ``strict``, is raised without a record)."""
    missing = [n for n in st.needs if n not in done]
    if missing:
        roots = _root_causes(missing, records, done)  # a stage skipped for want of another: that one's reason, once
        if roots == missing and len(roots) == 1:  # the stage named once: "needs health (no churner...)", not twice
            why = Why.of({lang: t("sep.list", lang).join(text(records[n].why, lang) for n in roots)
                          for lang in LANGS})
        else:
            why = Why.of({lang: t("sep.list", lang).join(
                t("sep.label_value", lang, what=stage_name(n).text(lang), value=text(records[n].why, lang))
                for n in roots) for lang in LANGS})
        names = Why.of({lang: t("sep.comma", lang).join(stage_name(n).text(lang) for n in missing) for lang in LANGS})
        said = Why("reason.needs", stages=names, why=why)
        records[st.name] = StageRecord(st.name, "skipped", reason=str(said), texts=texts(said))
        say(f"  {st.name:9s} skipped: needs {', '.join(missing)}")
        return
    inputs = {n: done[n] for n in (*st.needs, *st.uses) if n in done}
    absent = {n: _absent_reason(n, records) for n in st.uses if n not in done}
    stage_config, decision, sent = config, None, None
    if st.name == "actions" and "ingest" in done:
        # what earlier runs of this folder sent (as of this date's first run): this run does not send it again
        sent = sent_by_earlier_runs(store, config, to_utc(done["ingest"].json("dates")["as_of"]))
    if st.name == "actions" and config.actions.alerts_since is None and "ingest" in done:
        # the detractor alerts start where the folder's previous run's ended (its observation date): a weekly
        # run alerted the answers of the last four weeks again (138 of 391 alerts repeated over a year)
        previous = previous_run_as_of(store, to_utc(done["ingest"].json("dates")["as_of"]))
        if previous is not None:
            stage_config = config.replace(actions={**config.to_dict()["actions"],
                                                   "alerts_since": f"{previous:%Y-%m-%d}"})
    if st.name == "health":  # the retrain policy: train, or score with the current model (lifecycle.stage)
        from ..lifecycle.stage import resolve_policy

        stage_config, decision = resolve_policy(config, done)
        if decision is not None:
            say(f"  {st.name:9s} retrain {config.retrain}: {decision['action']} ({decision['reason']})")
    params = st.params(stage_config)  # once: ingest's parameters query the database tables
    if st.name in LABEL_STAGES and "ingest" in done and (done["ingest"].json("dates").get("churn_stop") or {}).get(
            "stop"):  # their labels end at the churn stop (known_labels): a key of its own, named in the manifest
        params = {**params, "churn_stop": done["ingest"].json("dates")["churn_stop"]["stop"]}
    if decision is not None:
        params = {**params, "lifecycle": jsonable(decision)}
    if sent is not None:  # the key follows what counts as sent before: a run again on the date reads its list back
        from ..actions.repeats import digest

        params = {**params, "sent_before": digest(sent)}
    # a file the stage reads (the playbook, a hand card, a milestones file) counts by its content too: edited in
    # place it reran nothing; the manifest names it without the machine's path
    key = make_key(st.name, {**params, "files": _file_digests(params)}, {n: a.key for n, a in inputs.items()})
    found = store.get(st.name, key)
    if found is not None and (st.name != "ingest" or ingest_is_current(found, config)):
        done[st.name] = found
        records[st.name] = StageRecord(st.name, "reused", key, 0.0, skipped=found.manifest.get("skipped", []))
        say(f"  {st.name:9s} unchanged ({key[:8]})")
        if st.name == "ingest":
            _check_as_of(config, found)
        if st.name == "health":
            _keep_model(config, found, decision, say)
        return
    title = st.title
    if st.name == "health" and stage_config.model is not None:  # a frozen model scores: nothing is learned
        title = "score with the frozen health model"
    say(f"  {st.name:9s} {title} ...")
    t0 = time.perf_counter()
    try:
        try:
            with store.write(st.name, key, {"needs": {n: a.key for n, a in inputs.items()},
                                            "params": _published_params(params)}) as out:
                with threadpool_limits(limits=ONE_THREAD), \
                        stage_bar(st.name, enabled=bars, last_seconds=store.last_seconds(st.name)):  # BLAS_NOTE
                    st.run(Context(stage_config, inputs, out, absent, sent=sent))
                if decision is not None:
                    out.json("lifecycle", decision)
        except Exception as exc:  # the disk full, read-only...: not a stage that failed on its data
            trouble = machine_trouble(exc)
            if trouble is not None:
                raise MachineError(f"stage {st.name}: {trouble} ({type(exc).__name__}: {str(exc)[:300]}): the run "
                                   "stopped here, and nothing of it is published (the last reports are kept); run "
                                   "again once that is mended") from exc
            raise
    except MachineError:
        raise
    except InsufficientData as exc:
        records[st.name] = StageRecord(st.name, "failed", key, time.perf_counter() - t0, str(exc),
                                       "insufficient_data", texts=texts(reason_of(exc)))
        say(f"  {st.name:9s} not computed: {exc}")
        return
    except ConfigError:
        raise
    except Exception as exc:
        if strict or st.name == "ingest":
            raise
        log.error("stage %s failed:\n%s", st.name, traceback.format_exc())
        records[st.name] = StageRecord(st.name, "failed", key, time.perf_counter() - t0,
                                       f"{type(exc).__name__}: {exc}", "error")
        say(f"  {st.name:9s} FAILED: {type(exc).__name__}: {exc}")
        return
    art = store.get(st.name, key)
    done[st.name] = art
    records[st.name] = StageRecord(st.name, "computed", key, time.perf_counter() - t0,
                                   skipped=art.manifest.get("skipped", []))
    say(f"  {st.name:9s} done in {records[st.name].seconds:.1f} s")
    if st.name == "ingest":
        _check_as_of(config, art)
    if st.name == "health":
        _keep_model(config, art, decision, say)


def _keep_model(config: RunConfig, health: Artifact, decision: dict | None, say) -> None:
    """A model the health stage trained goes into the models folder (see
    :func:`engage_models.lifecycle.stage.after_health`)."""
    from ..lifecycle.stage import after_health

    kept = after_health(config, health, decision)
    if kept is not None:
        say(f"  {'health':9s} model {kept['model_id']} kept in {kept['folder'].parent.name}/"
            + (" (current)" if kept["current"] else ""))


def _absent_reason(stage: str, records: dict[str, StageRecord]) -> Why:
    """Why an input a stage can do without is not there, in words (for the sections it leaves out)."""
    rec = records.get(stage)
    if rec is None:
        return Why("reason.stage_was_not_run", stage=stage_name(stage))
    if not rec.reason:
        return Why("reason.stage_not_computed", stage=stage_name(stage))
    return Why("reason.stage_not_computed_why", stage=stage_name(stage), why=rec.why)


def _check_as_of(config: RunConfig, ingest: Artifact) -> None:
    """An observation date outside the data is a mistake: after the data end every metric would read empty
    windows; on or before the first event day there is nothing before it to measure."""
    dates = ingest.json("dates")
    if config.as_of is not None and dates.get("last_event") is not None:
        end = to_utc(dates["last_event"]).normalize() + pd.Timedelta(days=1)
        if to_utc(config.as_of) > end:
            raise ConfigError(f"as_of {config.as_of} is after the data end: the last event is on "
                              f"{to_utc(dates['last_event']):%Y-%m-%d} (the latest observation date is "
                              f"{end:%Y-%m-%d})")
        first = to_utc(dates["first_event"])
        if to_utc(config.as_of) <= first.normalize():
            aside = dates.get("set_aside")  # events dated long before the rest (a mistyped year) do not start the data
            more = (f" ({count(aside['rows'], 'earlier event')}, {aside['first']} to {aside['last']}, "
                    f"{'is' if aside['rows'] == 1 else 'are'} dated more than "
                    f"a year before the rest and do not count as its start)" if aside else "")
            raise ConfigError(f"as_of {config.as_of} is before the data start: the first event is on "
                              f"{first:%Y-%m-%d}{more}")


class Run:
    """A run's configuration, how each stage went, and its artifacts.

    ``run.panel``, ``run.scores``, ``run.scorecard``, ``run.actions``, ``run.health_model`` and friends load
    on first use; ``run["health"]`` is the health stage's :class:`~engage_models.pipeline.store.Artifact`
    (``run["health"].frame("backtest_metrics")``). In a notebook the object shows the stages as a table.
    """

    def __init__(self, config: RunConfig, artifacts: dict[str, Artifact], records: dict[str, StageRecord],
                 folder: Path | None = None, meta: dict | None = None):
        self.config = config
        self.artifacts = artifacts
        self.records = records
        self.folder = folder
        self.meta = meta or {}

    # ------------------------------------------------------------------------------------------ access
    def __getitem__(self, stage: str) -> Artifact:
        if stage not in self.artifacts:
            rec = self.records.get(stage)
            why = f"{rec.status}: {rec.reason}" if rec and rec.reason else "not run"
            raise KeyError(f"stage {stage!r} has no artifact in this run ({why})")
        return self.artifacts[stage]

    def __contains__(self, stage: str) -> bool:
        return stage in self.artifacts

    def has(self, stage: str, name: str | None = None) -> bool:
        """Whether ``stage`` ran (and wrote ``name``)."""
        return stage in self.artifacts and (name is None or self.artifacts[stage].has(name))

    def reason(self, stage: str, name: str | None = None, lang: str = "en") -> str:
        """Why ``stage`` (or its section ``name``) is missing, in words, in ``lang`` where the reason was given
        in it (a reason only in English is said so)."""
        rec = self.records.get(stage)
        if stage not in self.artifacts:
            return text(rec.why if rec and rec.reason else Why("reason.stage_not_run", stage=stage_name(stage)), lang)
        art = self.artifacts[stage]
        return (name and art.reason(name, lang)) or text(Why("reason.section_not_computed", stage=stage_name(stage),
                                                             section=name), lang)

    def frame(self, stage: str, name: str) -> pd.DataFrame:
        return self[stage].frame(name)

    def json(self, stage: str, name: str):
        return self[stage].json(name)

    def km(self, stage: str, name: str):
        """A stored Kaplan-Meier result (:class:`~engage_models.survival.kaplan_meier.KaplanMeierResult`)."""
        return read_km(self[stage], name)

    @property
    def parameters(self) -> dict:
        return self.config.to_dict()

    @property
    def lang(self) -> str:
        return self.config.lang

    @property
    def currency(self) -> str:
        return self.config.currency

    @property
    def as_of(self) -> pd.Timestamp:
        return to_utc(self["ingest"].json("dates")["as_of"])

    @property
    def panel(self) -> pd.DataFrame:
        return self.frame("panel", "panel")

    @property
    def scores(self) -> pd.DataFrame:
        return self.frame("health", "scores")

    @property
    def scorecard(self) -> pd.DataFrame:
        return self.frame("health", "scorecard")

    @property
    def actions(self) -> pd.DataFrame:
        return self.frame("actions", "actions")

    @property
    def values(self) -> pd.DataFrame:
        return self.frame("survival", "values")

    @property
    def health_model(self):
        """The final health model of the run (loaded from its skops file, trusting only the package's types)."""
        from ..health.model_io import load_model

        return load_model(self["health"].file("model.skops"))

    @property
    def failed(self) -> list[StageRecord]:
        return [r for r in self.records.values() if r.status in ("failed", "skipped")]

    @property
    def missing_sections(self) -> list[dict]:
        """The skipped sections that count against the run (not those with nothing to show yet by design)."""
        return [s for s in self.skipped_sections if s.get("kind") not in (NOT_DUE, NOT_RECORDED)]

    @property
    def skipped_sections(self) -> list[dict]:
        """Every section not computed, with its stage and reason (failed stages count as one section each)."""
        out = [{"stage": r.name, "section": "*", "reason": r.reason, "kind": r.kind or "skipped",
                **({"texts": r.texts} if r.texts else {})} for r in self.failed]
        for r in self.records.values():
            out += [{"stage": r.name, **s} for s in r.skipped]
        return out

    # -------------------------------------------------------------------------------------- export
    def export(self, folder: str | Path, meta: dict | None = None, *, keep: bool = False) -> Path:
        """Write the artifacts into ``folder/artifacts/<stage>/`` (hard links where the file system allows)
        and ``folder/run.json``; returns ``folder``.

        ``keep``: a stage already in ``folder`` is left as it is (the same run exported stage by stage, while
        reports read what is there); ``run.json`` is replaced at once, never seen half written."""
        folder = Path(folder)
        target = folder / ARTIFACTS
        for name, art in self.artifacts.items():
            dest = target / name
            if dest.exists():
                if keep:
                    continue
                shutil.rmtree(dest)
            shutil.copytree(art.path, dest, copy_function=_link_or_copy)
        record = {"config": self.config.published(), "stages": [r.as_dict() for r in self.records.values()],
                  **(meta or {})}  # no machine path in a forwarded folder
        write_json(folder / RUN_FILE, record)
        return folder

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><td>{e(r.name)}</td><td>{e(r.status)}</td><td>{r.seconds:.1f}</td>"
                       f"<td>{e(r.reason or '')}</td><td>{len(r.skipped)}</td></tr>" for r in self.records.values())
        return ("<table><tr><th>stage</th><th>status</th><th>seconds</th><th>reason</th>"
                f"<th>sections skipped</th></tr>{rows}</table>")

    def __repr__(self) -> str:
        states = ", ".join(f"{r.name}={r.status}" for r in self.records.values())
        return f"Run({states})"


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def open_run(folder: str | Path = "reports/latest") -> Run:
    """A published run (``reports/latest``, ``reports/2026-11-27``) or any folder :meth:`Run.export` wrote.

    >>> run = open_run("reports/latest")          # doctest: +SKIP
    >>> run.scores.head()                          # doctest: +SKIP
    """
    folder = Path(folder)
    path = folder / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no run ({RUN_FILE} missing): pass a published run's folder, "
                                f"e.g. reports/latest")
    record = read_json(path)
    config = RunConfig.from_dict(record["config"])
    records = {r["name"]: StageRecord(**r) for r in record["stages"]}
    artifacts = {name: Artifact(folder / ARTIFACTS / name) for name in records
                 if (folder / ARTIFACTS / name / "manifest.json").is_file()}
    meta = {k: v for k, v in record.items() if k not in ("config", "stages")}
    return Run(config, artifacts, records, folder=folder, meta=meta)


#: Parameters that hold a path (see :meth:`RunConfig.published`): named by their last part in a manifest.
_PATH_KEYS = frozenset(name for _, name in _PATHS)


#: Files a stage reads and nothing writes: counted by their content. (The persona registry, which the stage
#: writes itself, has its own digest of what a person edited: journeys.stage.registry_digest.)
_READ_FILES = frozenset({"playbook", "hand_scorecard", "milestones_file"})


def _path_values(params, keys=_READ_FILES) -> list[str]:
    if isinstance(params, dict):
        return [v for k, v in params.items() if k in keys and isinstance(v, str) and v] + [
            p for k, v in params.items() if k not in keys for p in _path_values(v, keys)]
    return []


def _file_digests(params: dict) -> dict[str, str]:
    """The SHA-256 of every file a stage reads that its parameters name (absent files are left out)."""
    out = {}
    for value in _path_values(params):
        p = Path(value)
        if p.is_file():
            out[value] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _published_params(params):
    """``params`` with every path reduced to its last part (no machine path in a run's manifests)."""
    if isinstance(params, dict):
        return {k: (Path(v).name if k in _PATH_KEYS and isinstance(v, str) and v else _published_params(v))
                for k, v in params.items()}
    return params
