"""Command line: ``engage simulate | ingest | panel | pipeline | train | score | run | fit | survival | playbook`` (also
``python -m engage_models ...``).

Exit codes: 0 success (everything published); 3 published, with reports or sections that could not be made
(listed in ``run.json`` and on the index page); 1 nothing published (the previous reports are kept); 2 bad input,
arguments or configuration, found before anything was written; 5 another engage process was writing the same
data or reports folder, nothing done (``--wait`` waits for it; :mod:`engage_models._core.locks`). The machine
stopping a run (the disk full or read-only, an input/output error) is exit 1 with one line, not
a stage "not computed" published over the last reports; SIGTERM is handled as Ctrl-C (what was being written is
cleared, worker processes end with the run), exit 143 and 130. A domain error
(:class:`~engage_models._core.errors.EngageError`) prints its message; anything else is a bug and shows its
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import re
import signal
import sys
import threading
from pathlib import Path

from . import config
from ._core.errors import ConfigError, machine_trouble


def _simulate(args) -> int:
    from .demo.plays import PlaySettings
    from .demo.simulator import DriftSettings, SimConfig, simulate

    drift = None
    if args.drift is not None:
        try:
            drift = DriftSettings(kind=args.drift, date=args.drift_date)
        except ValueError as exc:
            raise ConfigError(f"--drift: {exc}") from exc
    plays = None
    if args.plays is not None:
        if not 0 <= args.plays < 1:
            raise ConfigError(f"--plays: the holdout share lies in [0, 1), not {args.plays}")
        plays = PlaySettings(holdout=args.plays, holdout_campaigns=(0, 1) if args.plays > 0 else None)
    summary = simulate(
        SimConfig(),
        out=args.out,
        n_accounts=args.accounts,
        months=args.months,
        seed=args.seed,
        start=args.start,
        events_scale=args.events_scale,
        inject_defects=not args.clean,
        plays=plays,
        drift=drift,
        **({"personas": True, "devices": True, "prepurchase": True} if args.personas else {}),
    )
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def _ingest(args) -> int:
    from .ingest.sources import parse_encodings
    from .ingest.validate import ingest

    report = ingest(args.raw, args.out, sources=args.sources, encodings=parse_encodings(args.encoding),
                    now=args.now, csat_scale=tuple(args.csat_scale), memory_limit=args.memory_limit,
                    timezone=args.timezone, wait=args.wait)
    print(report.to_text_frame().to_string(index=False))
    if report.rows_quarantined:
        print()
        print(report.reasons_frame().to_string(index=False))
    from ._core.errors import InsufficientData
    from .ingest.quality import data_dates

    try:  # what the run would say of the dates: a month's first day the data only begin, churn that stops early
        data_dates(args.out)  # (each logged as a warning; the run's ingest stage says them too)
    except InsufficientData:  # no events: no dates to say anything of (the run says why)
        pass
    return 0


def _engine_settings(args) -> dict:
    """Engine settings given on the command line, checked against the engine chosen."""
    spark = {"spark_master": args.spark_master, "spark_driver_memory": args.spark_driver_memory}
    given = sorted(k.replace("_", "-") for k, v in spark.items() if v is not None)
    if args.engine != "spark":
        if given:
            raise ConfigError(f"--{', --'.join(given)} apply to --engine spark only")
        return {}
    return spark


def _panel(args) -> int:
    from ._core.i18n import count
    from .features.panel import build_panel

    settings = _engine_settings(args)
    if args.engine == "duckdb":
        settings["memory_limit"] = args.memory_limit
    panel = build_panel(args.processed, args.as_of, until=args.until, windows=tuple(args.windows),
                        horizon_days=args.horizon, engine=args.engine, out=args.out, **settings)
    dates = panel["as_of"].drop_duplicates()
    print(f"panel: {count(len(panel), 'row')} x {count(panel.shape[1], 'column')}, "
          f"{count(len(dates), 'observation date')} {dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d} "
          f"({args.engine}) -> {args.out}")
    return 0


def _run(args) -> int:
    from .reports.runner import NotebookFailed, run

    demo = True if args.demo else False if args.no_demo else None
    try:
        result = run(
            config_file=args.config, data_dir=args.data_dir, out_dir=args.out, notebooks_dir=args.notebooks_dir,
            only=args.only, as_of=args.as_of, horizon_days=args.horizon, lang=args.lang, seed=args.seed,
            run_date=args.run_date, currency=args.currency, demo=demo, demo_accounts=args.demo_accounts,
            demo_months=args.demo_months, kernel_name=args.kernel, timeout=args.timeout, engine=args.engine,
            workers=args.workers, rerender=args.rerender, timezone=args.timezone, wait=args.wait,
            keep_runs=args.keep_runs,
            **_engine_settings(args),
            **_model_settings(args),
        )
    except NotebookFailed as exc:
        print(f"engage run: FAILED: {exc}", file=sys.stderr)
        print(f"engage run: the reports in {args.out} were left as they were", file=sys.stderr)
        return 1
    for p in result:
        print(p)
    for f in result.failed:
        print(f"engage run: report not made: {f['notebook']}: {f['error']}", file=sys.stderr)
    for s in result.skipped:
        print(f"engage run: not computed: {s['stage']} / {s['section']}: {s['reason']}", file=sys.stderr)
    if result.no_data:
        print(f"engage run: no usable data: the reports saying why are in {result.folder}; latest/ is left as it "
              "was", file=sys.stderr)
    elif result.exit_code == 3:  # the thin sections above are listed alike: the line a scheduler's log is read for
        print(f"engage run: exit 3, published but something broke: {'; '.join(result.why())}", file=sys.stderr)
    return result.exit_code


def _model_settings(args) -> dict:
    """--model, --retrain and --models as configuration settings (absent ones left out)."""
    out = {"model": str(args.model) if getattr(args, "model", None) else None,
           "retrain": getattr(args, "retrain", None),
           "models_dir": str(args.models) if getattr(args, "models", None) else None}
    if out["models_dir"] and not out["retrain"]:
        raise ConfigError("--models is the models folder of --retrain (with --model, pass the folder itself)")
    return {k: v for k, v in out.items() if v is not None}


def _say_started(command: str) -> None:
    """The first line of a command that may run for minutes: when and as which process, so that a scheduled
    job's log, appended to week after week, tells its runs apart (``engage run`` says its own)."""
    import os
    from datetime import datetime

    print(f"engage {command}: started {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z} (pid {os.getpid()})",
          file=sys.stderr, flush=True)


def _pipeline_config(args, **extra):
    from .pipeline import RunConfig

    return RunConfig.load(args.config, data_dir=str(args.data_dir) if args.data_dir else None, as_of=args.as_of,
                          horizon_days=args.horizon, lang=getattr(args, "lang", None), seed=args.seed,
                          run_date=args.run_date, currency=getattr(args, "currency", None),
                          engine=getattr(args, "engine", None), timezone=getattr(args, "timezone", None),
                          **_engine_settings(args), **extra)


def _train(args) -> int:
    """Run the pipeline up to the health stage, keep the model it trained in the models folder, make it current."""
    from .lifecycle import ModelStore
    from .lifecycle.stage import models_dir
    from .pipeline import run

    cfg = _pipeline_config(args, models_dir=str(args.out) if args.out else None)
    if cfg.model or cfg.retrain:
        raise ConfigError("engage train trains: the configuration's model and retrain settings do not apply")
    _say_started("train")
    result = run(cfg, until="health", strict=args.strict, wait=args.wait)
    rec = result.records["health"]
    if rec.status not in ("computed", "reused"):  # "not computed" for thin data, as the run's table says
        status = "not computed" if rec.status == "failed" and rec.kind == "insufficient_data" else rec.status
        print(f"engage train: no model: the health stage: {status}: {rec.reason}", file=sys.stderr)
        return 1
    mid = result.json("health", "model")["model_id"]
    store = ModelStore(models_dir(cfg))
    store.set_current(mid, "engage train")
    print(f"model {mid}")
    print(store.folder(mid))
    return 0


def _record_line(rec) -> str:
    """A stage's line in the console table: a stage that had too little data is "not computed" (as the reports
    say), one that broke "failed"."""
    status = "not computed" if rec.status == "failed" and rec.kind == "insufficient_data" else rec.status
    return (f"{rec.name:9s} {status:12s} {rec.key or '':20s} {rec.seconds:7.1f} s"
            + (f"  {rec.reason}" if rec.reason else ""))


def _score(args) -> int:
    """Run the pipeline up to the action list with a frozen model: scores and plays, no fit, no Jupyter."""
    from ._core.i18n import count
    from .pipeline import run

    cfg = _pipeline_config(args, model=str(args.model))
    _say_started("score")
    result = run(cfg, until="actions", strict=args.strict, wait=args.wait)
    for rec in result.records.values():
        print(_record_line(rec))
    if not result.has("actions", "actions"):
        return 1
    scores, plan = result.scores, result.actions
    now = scores[scores["as_of"] == scores["as_of"].max()]
    print(f"model {now['model_id'].iloc[0]}: {count(len(now), 'account')} scored at {now['as_of'].max():%Y-%m-%d} "
          f"({', '.join(f'{b} {n}' for b, n in now['band'].value_counts().items())}); {count(len(plan), 'action')}")
    print(result["actions"].path / "export")
    if args.export:
        print(f"artifacts written to {result.export(args.export)}")
    return 0


def _pipeline(args) -> int:
    from .pipeline import run

    cfg = _pipeline_config(args, **_model_settings(args))
    _say_started("pipeline")
    result = run(cfg, until=args.until, strict=args.strict, wait=args.wait)
    for rec in result.records.values():
        print(_record_line(rec))
    if args.export:
        print(f"artifacts written to {result.export(args.export)}")
    if any(r.status in ("failed", "skipped") for r in result.records.values()):
        return 3
    return 3 if result.missing_sections else 0


def _out_folder(path: Path) -> Path:
    """``--out`` as a folder the command can write into: a file in its way (or on its way) is a clear error."""
    from ._core.errors import ConfigError

    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise ConfigError(f"--out {path}: {p} is a file, not a folder (give a folder to write the results into)")
    return path


def _read_table(path: Path, notes=None, sheet: str | None = None, uses=None, encoding: str | None = None):
    """A table a user brings (:func:`~engage_models._core.io.read_table`); a text file's encoding is the one
    ``--encoding`` names (checked over the whole file), else detected as ingest detects it (a byte-order mark, else
    UTF-8, else CP932: a Japanese Excel's CSV). What reading did that the user would not see (blank lines, cells read
    as missing, decimal commas, a name written twice) is printed to ``notes`` first, so that it is read before any
    error about a row. ``uses``: option -> the columns the command reads with it; one the header names twice stops,
    naming its columns."""
    from ._core.errors import DataError
    from ._core.io import TEXT_TABLES, read_table, reading_notes
    from .ingest.files import FileError, check_decodes, detect_encoding
    from .ingest.sources import check_encoding

    if not path.exists() and (near := _near_names(path)):
        raise DataError(f"{path}: no such file; the folder has {', '.join(map(repr, near))} (a file's name is read "
                        f"as written, capitals and extension included)")
    text = path.name.lower().endswith(TEXT_TABLES)
    if encoding is not None:
        encoding = check_encoding(encoding, "--encoding")
        if not text and path.exists():  # a workbook or Parquet file holds its own text: the name would go unused
            raise ConfigError(f"--encoding {encoding}: {path} is not a text table (CSV, TSV or .txt); its text is "
                              f"read as the file stores it, without --encoding")
    if path.is_file() and text:
        try:
            if encoding is None:
                encoding = detect_encoding(path, hint="with --encoding (e.g. --encoding cp1252 for a Western "
                                                      "European Windows export, --encoding euc_jp)")
            else:
                check_decodes(path, encoding)
        except FileError as exc:  # its text begins with the file's name: the path as given names it once
            said = str(exc)
            raise DataError(f"{path}{said.removeprefix(path.name)}" if said.startswith(f"{path.name} ")
                            else f"{path}: {said}") from None
    df = read_table(path, encoding=encoding, sheet=sheet, uses=uses)
    for note in reading_notes(df, str(path)):
        print(f"note: {note}", file=notes or sys.stdout)
    return df


def _near_names(path: Path) -> list[str]:
    """Files beside where ``path`` would be that a user may have meant: the same name in other capitals
    (``default.csv`` for ``Default.csv``: one file on Windows and macOS, two on Linux), or the same name with
    another extension or none (``Default`` or ``Default.xlsx`` for ``Default.csv``).

    Only a table's extensions are taken off, so a dot inside a name is part of it: ``churn.2024.csv`` is not
    ``churn.2023.csv`` in other capitals.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for n in ("Default.csv", "churn.2023.csv"):
    ...         _ = (Path(d) / n).write_text("a\\n1\\n")
    ...     [_near_names(Path(d) / n) for n in ("default.csv", "Default", "Default.xlsx", "Defaults.csv",
    ...                                         "default.csv.gz", "churn.2024.csv", "Churn.2023.CSV", "default.ndjson")]
    [['Default.csv'], ['Default.csv'], ['Default.csv'], [], ['Default.csv'], [], ['churn.2023.csv'], ['Default.csv']]
    """
    folder = path.parent
    try:
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError:  # no such folder, or not one to list
        return []
    stem = _bare_name(path.name)
    return [n for n in names if _bare_name(n) == stem][:5]


def _bare_name(name: str) -> str:
    """A file's name without the extensions a table's name ends in, in one case: ``Default.CSV.gz`` is
    ``default``, ``churn.2024.csv`` is ``churn.2024``."""
    p, known = Path(name.casefold()), _table_extensions()
    while p.suffix in known and p.stem:
        p = p.with_suffix("")
    return p.name


@functools.cache
def _table_extensions() -> frozenset[str]:
    """Every extension a table's file ends in: those ``engage fit`` and ``survival`` read or name
    (:func:`~engage_models._core.io.read_table`) and those ingest reads or refuses by name, each part apart
    (``.csv.gz``: ``.csv`` and ``.gz``)."""
    from ._core.io import OTHER_WORKBOOKS, TEXT_TABLES, WORKBOOKS
    from .ingest.validate import SUFFIXES, TEXT_EXPORTS, UNREAD_COMPRESSIONS

    names = (*SUFFIXES, *TEXT_EXPORTS, *UNREAD_COMPRESSIONS, *TEXT_TABLES, *WORKBOOKS, *OTHER_WORKBOOKS, ".pq")
    return frozenset("." + part for n in names for part in n.lstrip(".").split("."))


@contextlib.contextmanager
def _naming(table: Path):
    """Too little data in a user's table: the message names the table (a model's reason does not know it)."""
    from ._core.errors import InsufficientData

    try:
        yield
    except InsufficientData as exc:
        if str(table) in str(exc):
            raise
        raise InsufficientData(f"{table}: {exc}") from exc


def _fit(args) -> int:
    from ._core.i18n import count, t
    from ._core.missing_codes import describe_codes
    from .features.screening import describe
    from .health.tables import fit_table, not_computed_text

    _out_folder(args.out)
    if args.hand_scorecard is not None:  # a mistake in the card: said before the table is read and fitted
        from .health.baselines import load_scorecard

        load_scorecard(args.hand_scorecard)
    df = _read_table(args.table, sheet=args.sheet, encoding=args.encoding, uses={
        "--label": args.label, "--date-col": args.date_col, "--id-col": args.id_col, "--keep-column": args.keep_column,
        "--missing-code": [c.partition("=")[0] for c in args.missing_code]})
    with _naming(args.table):
        ev = fit_table(df, args.label, args.out, date_col=args.date_col, id_col=args.id_col,
                       horizon_days=args.horizon, test_windows=args.test_windows, folds=args.folds,
                       observed_until=args.observed_until, keep_columns=args.keep_column,
                       hand_scorecard=args.hand_scorecard, n_bootstrap=args.bootstrap, where=str(args.table),
                       score=args.score, missing_codes=args.missing_code, label_values=args.label_value,
                       n_jobs=args.jobs, lang=args.lang)
    for line in describe(ev["leakage_screen"]):  # the console keeps the English (the page is in --lang)
        print(line)
    data = ev.get("data", {})
    if values := data.get("label_values"):  # a status column of several outcomes: what became 1 and 0
        print(f"label {args.label!r}: " + ", ".join(f"{v!r} {n:,}" for v, n in values["event"].items())
              + " taken as churn (1); " + (", ".join(f"{v!r} {n:,}" for v, n in values["others"].items())
                                            or "no other value") + " as 0")
    if data.get("rows_without_label"):
        print(f"left out {count(data['rows_without_label'], 'row')} without a label (of {data['rows']:,}; first at "
              f"data rows {data['first_rows_without_label']})")
    if copies := data.get("repeated_rows"):
        repeat = count(copies["rows"], "# row repeats", "# rows repeat")
        print(f"warning: {repeat} an earlier row in the label and every column used (first "
              f"at data rows {copies['first_rows']}): without --id-col a row and its copy can fall in the training and "
              f"the validation rows of one fold, which flatters the ROC-AUC; give the accounts' id column as --id-col "
              f"(a copy then stays in its account's fold), or remove the copies")
    for column, why in data.get("dropped_columns", {}).items():
        if not why.startswith("possible leak"):  # the screen's lines above say those
            print(f"column {column!r} left out: {why}")
    for column, code in data.get("code_columns", {}).items():
        if code["categories"] and column in data.get("features", []):
            print(f"column {column!r}: {code['note']}")
    for line in describe_codes(data.get("missing_codes", [])):  # before the missing values they are among
        print(line)
    if missing := data.get("missing_values"):  # the report and evaluation.json listed them; the console did not
        print(f"filled {count(sum(missing.values()), 'missing value')} in {count(len(missing), 'column')}: "
              + ", ".join(f"{c!r} {n:,}" for c, n in missing.items())
              + " (a number's: the median plus an indicator of the missing; a category's: none of its levels)")
    val = ev["validation"]
    print(f"validation: {val['method']}")
    for w in val.get("windows", []):
        print(f"  window {w['start']} .. {w['end']}: {count(w['test_rows'], 'test row')}, "
              f"{count(w['test_events'], 'churner')} (trained on {count(w['train_rows'], 'row')})"
              + (f" - skipped: {w['skipped']}" if "skipped" in w else ""))
    print(f"  tested {count(val['test_rows'], 'row')} with {count(val['test_events'], 'churner')} from "
          f"{count(val['test_accounts'], 'account')}"
          + (f"; labels mature by {val['labels_mature_until']}" if "labels_mature_until" in val else ""))
    for model, m in ev["models"].items():
        auc, flat = m["roc_auc"], m.get("one_value") or {}
        # an estimate without its interval (a few churning accounts: more than 2.5% of the resamples hold none)
        # reads "no 95% interval"; formatting the null bounds stopped engage fit after it had written its files
        ranking = ("ROC-AUC not computed" if auc["estimate"] is None else
                   f"ROC-AUC {auc['estimate']:.3f} (no 95% interval)" if auc["ci_low"] is None else
                   f"ROC-AUC {auc['estimate']:.3f} (95% CI {auc['ci_low']:.3f} to {auc['ci_high']:.3f})")
        print(f"  {model:8s} {ranking}  Brier {m['brier']['estimate']:.4f}  ICI {m['ici']['estimate']:.4f}")
        if flat and not (model == "learned" and "chosen" in ev):  # said once, under the chosen card's own name
            print(f"           {model} {flat['reason']}")
    if missing := not_computed_text(ev):  # why (the page and evaluation.json's not_computed codes say it too)
        print(re.sub(r"\*\*(.+?)\*\*", r"\1", missing))
    chosen = ev.get("chosen") or {}
    if (d := chosen.get("shape_minus_linear")) and d.get("not_computed"):  # no interval: the simpler card
        print(f"learned: the {chosen['score']} card (shape minus linear ROC-AUC {d['difference']:+.3f}, no 95% "
              f"interval: {t('hs.choice_why_' + d['not_computed'])}; without one the rule keeps the simpler card)")
    elif d:  # which card the learned score is, and why (the report said it alone)
        print(f"learned: the {chosen['score']} card (shape minus linear ROC-AUC {d['difference']:+.3f}, 95% CI "
              f"{d['ci_low']:+.3f} to {d['ci_high']:+.3f}; the shape card is kept only when its lead is beyond "
              f"that interval)")
    final = ev.get("final_model") or {}
    if final.get("immature_rows"):  # evaluation.json alone said so
        rows = final["immature_rows"] + final["train_rows"]
        print(f"left out of the final fit {final['immature_rows']:,} of {count(rows, 'row')} whose labels are not yet "
              f"mature (their date + {args.horizon} days is after "
              f"{val.get('observed_until')}, the end of the outcomes): they are scored in scores.parquet, not "
              f"learned from")
    auc = ev["models"].get("learned", {}).get("roc_auc", {})
    if auc and auc["ci_low"] is not None and auc["ci_low"] <= 0.5:
        print(f"the learned score ranks no better than chance on this validation (ROC-AUC {auc['estimate']:.3f}, its "
              f"95% interval reaches 0.5): too few rows, or no signal in these columns; do not act on its bands")
    print(f"wrote {', '.join(ev['files'])} to {args.out}")
    for name, why in (ev.get("not_written") or {}).items():
        print(f"not written: {name}: {why}")
    return 0


def _playbook(args) -> int:
    from .actions import DEFAULT_PLAYBOOK, describe_rules, load_playbook

    if args.show_default:
        print(DEFAULT_PLAYBOOK.read_text(encoding="utf-8"), end="")
        return 0
    book = load_playbook(args.file, args.currency)
    print(f"{book.source}: OK", file=sys.stderr)
    print(describe_rules(book, args.lang, args.currency))
    return 0


def _currency_arg(text: str) -> str:
    from ._core.money import currency_code

    try:
        return currency_code(text.upper() if text.isalpha() else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _date_arg(text: str) -> str:
    from ._core.time import parse_run_date

    try:
        return parse_run_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: Every file ``engage survival`` writes; some only with what they need (``revenue_at_risk.csv`` with ``--mrr``, the
#: discrete-time model's and the proportional-hazards check's when the data allow them).
SURVIVAL_FILES = ("hazard_ratios.csv", "ph_test.csv", "discrete_time_odds_ratios.csv", "per_account.csv",
                  "revenue_at_risk.csv", "evaluation.json", "report.html")


def _listed(names: list[str], columns) -> list[str]:
    """Names given as one argument with commas (``--covariates karno,age``, as R's and pandas' lists are written)
    split into columns, where the whole is not a column and every part is; anything else as given.

    >>> _listed(["karno,age", "sex", "a,b"], ["karno", "age", "sex", "a,b", "a"])
    ['karno', 'age', 'sex', 'a,b']
    """
    out = []
    for name in names:
        parts = [p.strip() for p in name.split(",") if p.strip()]
        out += parts if name not in columns and len(parts) > 1 and all(p in columns for p in parts) else [name]
    return out


def _survival(args) -> int:
    from ._core.i18n import LANGS, count
    from ._core.missing_codes import describe_codes
    from ._core.reasons import Why
    from .features.screening import describe
    from .survival.analysis import MIN_EVENTS_PER_FOLD, analyse_table

    dated = args.start is not None or args.end is not None
    if dated and (args.start is None or args.end is None or args.duration is not None):
        raise ConfigError("give --start and --end (dates), or --duration (a time), not a mix")
    if dated and (args.unit is not None or args.entry is not None):
        raise ConfigError("--start/--end count the tenure in days from the dates: --unit and --entry do not apply")
    if not dated and args.duration is not None and args.event is None:  # a table of spells that all ended, say
        raise ConfigError(f"--duration {args.duration} needs --event: the column saying which rows churned (1) and "
                          "which were still customers at their time (0). A table in which every row ended needs it "
                          "too, as a column of 1s: without it, the end of observation and a churn look alike")
    if not dated and (args.duration is None or args.event is None):
        raise ConfigError("give --duration and --event, or --start and --end (dates)")
    if args.observed_until is not None and not dated:
        raise ConfigError("--observed-until goes with --start and --end")
    if args.measured_at is not None and (dated or args.entry is not None or args.id is None):
        raise ConfigError("--measured-at goes with --duration, --event and --id (each row a measurement of its "
                          "account), not with --start/--end or --entry")
    _out_folder(args.out)
    earlier = (args.out / "evaluation.json").is_file()  # an earlier run's folder: its files are its own
    df = _read_table(args.table, sys.stderr, args.sheet, encoding=args.encoding, uses={
        "--duration": args.duration, "--event": args.event, "--start": args.start, "--end": args.end,
        "--observed-until": args.observed_until, "--covariates": args.covariates, "--entry": args.entry,
        "--id": args.id, "--mrr": args.mrr, "--keep-column": args.keep_column, "--measured-at": args.measured_at,
        "--missing-code": [c.partition("=")[0] for c in args.missing_code]})
    duration, event, unit = args.duration, args.event, args.unit or "months"
    if args.covariates:
        from ._core.io import repeated_names

        args.covariates = _listed(args.covariates, df.columns)
        repeated_names(df, {"--covariates": args.covariates}, str(args.table))  # a split part written twice
    if dated:
        from .survival.from_dates import describe as said_dates
        from .survival.from_dates import tenure_from_dates

        with _naming(args.table):
            df, dates = tenure_from_dates(df, args.start, args.end, event=args.event,
                                          observed_until=args.observed_until, where=str(args.table), id_col=args.id)
        df = df.drop(columns=[c for c in dates["dates"] if c != dates["event"]])  # read: no covariates
        duration, event, unit = dates["duration"], dates["event"], "days"
        args.entry = dates.get("entry")  # an account's periods (--id repeating): start/stop rows from its first start
        said = {lang: said_dates(dates, lang) for lang in LANGS}
        print(said["en"], file=sys.stderr)
        reshaped = {"from_dates": {k: v for k, v in dates.items() if k != "notes"}, "said": [Why.of(said)]}
    else:
        reshaped = None
    event_values, data_rows = args.event_value, None
    if args.measured_at is not None:  # a row per measurement: start/stop rows, as R's tmerge makes them
        from .survival.from_visits import describe as said_visits
        from .survival.from_visits import intervals_from_visits

        with _naming(args.table):
            df, visits = intervals_from_visits(df, id_col=args.id, at=args.measured_at, duration=duration,
                                               event=event, event_values=args.event_value, where=str(args.table))
        duration, args.entry, event_values = visits["stop"], visits["start"], ()  # the event is 0/1 now
        data_rows = visits["data_rows"]  # messages name the file's rows
        said = {lang: said_visits(visits, lang) for lang in LANGS}
        for line in said["en"]:
            print(line, file=sys.stderr)
        reshaped = {"from_visits": {k: v for k, v in visits.items() if k != "data_rows"},
                    "said": [Why.of(dict(zip(LANGS, texts, strict=True)))
                             for texts in zip(*(said[lang] for lang in LANGS), strict=True)]}
    with _naming(args.table):
        result = analyse_table(
            df, duration=duration, event=event, covariates=args.covariates, entry=args.entry,
            id_col=args.id, mrr=args.mrr, unit=unit, margin=args.margin,
            annual_discount_rate=args.annual_discount_rate, horizon=args.horizon, n_boot=args.n_boot, cv=args.cv,
            penalizer=args.penalizer, random_state=args.seed, keep_columns=args.keep_column, where=str(args.table),
            missing_codes=args.missing_code, event_values=event_values, data_rows=data_rows,
            periods=dated and args.entry is not None,
        )
    from .survival.table_report import write_report

    if reshaped:  # how the table's dates or visits became durations: in evaluation.json and the page, as on the console
        result.evaluation["table"]["reshaped"] = reshaped
    written = [*result.write(args.out), write_report(args.out / "report.html", result, Path(args.table).name,
                                                      where=str(args.table), lang=args.lang)]
    # an earlier run's file this run did not write: a script or a reader would take it for this table's. Only in a
    # folder an earlier run wrote (its evaluation.json), never the table read, and said
    stale = [args.out / n for n in sorted(set(SURVIVAL_FILES) - {p.name for p in written})
             if earlier and (args.out / n).is_file() and (args.out / n).resolve() != Path(args.table).resolve()]
    for path in stale:
        path.unlink()
        print(f"removed {path.name}: an earlier run's in {args.out.name}, not this table's", file=sys.stderr)
    for path in written:
        print(path)
    if args.unit is None and not dated:  # first: every figure below is in months (a reader found it under 1 KB)
        span = result.evaluation["table"]["duration_months"]
        print(f"durations read as months (no --unit given): {span['min']:g} to {span['max']:g}, median "
              f"{span['median']:g}; if {args.duration!r} counts days, weeks or years, run again with --unit",
              file=sys.stderr)
    for line in describe(result.evaluation["leakage_screen"]):
        print(line, file=sys.stderr)
    for line in describe_codes(result.evaluation["missing_codes"]):
        print(line, file=sys.stderr)
    from .survival.analysis import strong_covariates_text

    if strong := strong_covariates_text(result.evaluation["design"].get("strong_covariates")):
        print(strong, file=sys.stderr)
    models = result.evaluation["models"]
    skipped = result.evaluation["skipped"]
    for name, m in models.items():  # a number with its interval, or why there is none (it said 0.000 (sd 0.000))
        cvr = m["cross_validation"].get("harrell_c")
        why = skipped.get(f"{name}_harrell_c") or skipped.get(f"{name}_cross_validation")
        if m.get("cv_concordance") is not None:
            folds = cvr.get("folds") or len(m["cross_validation"].get("folds", []))
            interval = (f"95% CI of the mean over {folds} folds {cvr['low']:.2f} to {cvr['high']:.2f}"
                        if cvr.get("low") == cvr.get("low") and "low" in cvr else f"over {folds} folds")
            asked = m["cross_validation"].get("folds_asked")
            fewer = (f"; {folds} folds, not {asked}: at least {MIN_EVENTS_PER_FOLD} churns in each"
                     if asked and folds < asked else "")
            print(f"{name}: cross-validated concordance {cvr['mean']:.3f} ({interval}, sd {cvr['sd']:.3f}{fewer})",
                  file=sys.stderr)
        else:
            print(f"{name}: cross-validated concordance {why or 'not computed'}", file=sys.stderr)
    print(result.evaluation["proportional_hazards"]["text"], file=sys.stderr)
    for note in result.evaluation["design"]["notes"]:
        print(f"note: {note}", file=sys.stderr)
    said = {f"{name}_{part}" for name in models for part in ("harrell_c", "cross_validation")}  # on its line above
    for what, why in skipped.items():
        if what not in said:
            print(f"skipped {what}: {why}", file=sys.stderr)
    blank = result.evaluation["table"].get("without_event", {})
    if blank.get("rows"):  # as engage fit says its rows without a label (survival stopped on them)
        print(f"left out {count(blank['rows'], 'row')} without an event (of "
              f"{result.evaluation['table']['rows']:,}; first at data rows {blank['first_rows']}): {event!r} is "
              f"empty, so whether the account churned is not known", file=sys.stderr)
    holes = result.evaluation["table"].get("missing_covariates", {})
    if holes.get("rows"):  # filled as engage fit fills them (the rows were left out, the active ones unvalued)
        cols = "; ".join(f"{c!r} {f['rows']:,} " + (f"with its median {f['median']:g} and the term {f['term']!r}"
                                                   if "median" in f else f"as the level {f['level']!r}")
                         for c, f in holes["filled"].items())
        print(f"filled {count(sum(holes['columns'].values()), 'empty covariate value')} on "
              f"{count(holes['rows'], 'row')} (first at data rows {holes['first_rows']}): {cols}; every row stays in "
              f"the models, each account still active with its remaining lifetime", file=sys.stderr)
    no_mrr = result.evaluation["table"].get("missing_mrr", {})
    if no_mrr.get("active"):
        active = count(no_mrr["active"], "# account still active has", "# accounts still active have")
        print(f"{active} an empty {args.mrr!r} (first at data rows "
              f"{no_mrr['first_rows']}): no LTV, and not in the revenue at risk", file=sys.stderr)
    gone = result.evaluation["table"].get("left_out", {})
    if gone.get("rows"):
        print(f"left out {count(gone['rows'], 'row')} of {result.evaluation['table']['rows']:,} with {gone['why']} "
              f"(first at data rows {gone['first_rows']})", file=sys.stderr)
    return 0


def _encoding_argument(parser) -> None:
    parser.add_argument("--encoding", default=None, metavar="ENCODING",
                        help="encoding of a CSV or text --table, e.g. cp1252, euc_jp (default: detected: a byte-order "
                             "mark, else UTF-8, else CP932, as a Japanese Excel saves a CSV)")


def _sheet_argument(parser) -> None:
    parser.add_argument("--sheet", default=None, metavar="NAME",
                        help="the sheet of an .xlsx --table to read, by the name on its tab (default: the first "
                             "visible sheet)")


def _wait_argument(parser) -> None:
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                        help="wait this long for another engage process writing the same folder (default 0: stop "
                             "at once with exit status 5; -1: as long as it takes)")


def _version() -> str:
    """The version and the hash of the package's source (:func:`~engage_models.pipeline.store.code_version`): the
    version number alone does not change between commits, the hash does, and a run's stage keys name it."""
    from . import __version__
    from .pipeline.store import code_version

    return f"engage-models {__version__} (code {code_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engage", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=_version(),
                        help="the package's version and the hash of its code (the runs' stage keys name it)")
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="generate a demo world with known churn drivers")
    s.add_argument("--accounts", type=int, default=2000, help="accounts over the whole window (default 2000)")
    s.add_argument("--months", type=int, default=24, help="months simulated (default 24)")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--start", default="2024-01-01", help="first month (YYYY-MM-01)")
    s.add_argument("--events-scale", type=float, default=1.0, help="multiplies every event rate (size knob)")
    s.add_argument("--clean", action="store_true", help="do not plant the few known bad rows")
    s.add_argument("--plays", type=float, default=None, metavar="HOLDOUT",
                   help="add customer-success plays with known effects and a play log (engage_models.demo.plays); "
                        "the first two campaigns hold out this share at random, the later ones none (0: none)")
    s.add_argument("--personas", action="store_true",
                   help="plant four behavioural personas and two milestones, with devices on events and touches "
                        "and touches before the contract start (engage_models.demo.journeys)")
    s.add_argument("--drift", choices=("logins", "segment"), default=None,
                   help="change behaviour at --drift-date: 'logins' (a product change lowers logins and session "
                        "length for everyone, churn unchanged) or 'segment' (accounts starting then are a new "
                        "segment using the product differently); recorded in truth.json")
    s.add_argument("--drift-date", default=None, metavar="YYYY-MM-01",
                   help="first month of the drift (default: the middle month of the window)")
    s.add_argument("--out", type=Path, default=config.RAW_DIR)
    s.set_defaults(func=_simulate)

    i = sub.add_parser("ingest", help="validate raw tables into data/processed (bad rows quarantined)")
    i.add_argument("--raw", type=Path, default=config.RAW_DIR)
    i.add_argument("--out", type=Path, default=config.PROCESSED_DIR)
    i.add_argument("--now", default=None,
                   help="the run date's end: a row dated after it is set aside as after the run date, and after "
                        "the machine's clock as in the future (default: now)")
    _timezone_argument(i)
    i.add_argument("--csat-scale", type=int, nargs=2, default=(1, 5), metavar=("LOW", "HIGH"))
    i.add_argument("--memory-limit", default="3GB",
                   help="DuckDB memory limit (default 3GB: a 16,000-account company ingests within 4 GB)")
    i.add_argument("--sources", type=Path, default=None,
                   help="sources file naming each table's file and encoding (default: RAW/sources.yaml if present)")
    i.add_argument("--encoding", action="append", default=None, metavar="TABLE=ENCODING",
                   help="encoding of a table's text file, e.g. surveys=cp932 (repeatable; default: detected)")
    _wait_argument(i)
    i.set_defaults(func=_ingest)

    p = sub.add_parser("panel", help="build the account x period panel and write it as Parquet")
    p.add_argument("--processed", default=str(config.PROCESSED_DIR),
                   help="processed tables: a folder, or with --engine spark any URI Spark reads (s3a://...)")
    p.add_argument("--out", required=True, help="Parquet output: a file (duckdb) or a dataset folder (spark)")
    p.add_argument("--as-of", nargs="+", default=None, metavar="DATE",
                   help="observation dates YYYY-MM-DD (default: month starts once the longest window fits)")
    p.add_argument("--until", default=None, help="observation end (default: the midnight after the last event)")
    p.add_argument("--horizon", type=int, default=config.HORIZON_DAYS, help="churn horizon in days")
    p.add_argument("--windows", type=int, nargs="+", default=[28, 90], metavar="DAYS", help="trailing windows")
    p.add_argument("--memory-limit", default="2GB", help="DuckDB memory limit (default 2GB)")
    _engine_arguments(p)
    p.set_defaults(func=_panel)

    q = sub.add_parser("pipeline", help="run the stages (ingest ... summary) without rendering; unchanged ones reused")
    q.add_argument("--config", type=Path, default=None, help="run configuration (YAML); options below override it")
    q.add_argument("--data-dir", type=Path, default=None, help="folder holding raw/ and processed/")
    q.add_argument("--until", default=None, help="last stage to run (default: all)")
    q.add_argument("--as-of", default=None, help="observation date YYYY-MM-DD (default: last day with events)")
    q.add_argument("--horizon", type=int, default=None, help="churn horizon in days")
    q.add_argument("--lang", choices=("en", "ja"), default=None)
    q.add_argument("--currency", type=_currency_arg, default=None, help="currency of MRR (ISO code, e.g. USD, JPY)")
    q.add_argument("--seed", type=int, default=None)
    q.add_argument("--run-date", type=_date_arg, default=None, help="date of the run (ingest's 'now' is its end)")
    _timezone_argument(q)
    q.add_argument("--export", type=Path, default=None, help="also write the run's artifacts and run.json here")
    q.add_argument("--strict", action="store_true", help="stop at a stage's unexpected error (default: record it)")
    _engine_arguments(q, default=None)
    _model_arguments(q)
    _wait_argument(q)
    q.set_defaults(func=_pipeline)

    tr = sub.add_parser("train", help="train the health model (pipeline up to health) and keep it as a model folder")
    tr.add_argument("--out", type=Path, default=None,
                    help="models folder: the model goes into OUT/<model_id>/ and becomes OUT's current model "
                         "(default: DATA_DIR/models)")
    _run_arguments(tr)
    tr.set_defaults(func=_train)

    sc = sub.add_parser("score", help="score today's panel with a frozen model and choose the plays (no refit, "
                                      "no Jupyter)")
    sc.add_argument("--model", type=Path, required=True,
                    help="a model folder, or a models folder (its current model)")
    sc.add_argument("--export", type=Path, default=None, help="also write the run's artifacts and run.json here")
    _run_arguments(sc)
    sc.set_defaults(func=_score)

    r = sub.add_parser("run", help="run the pipeline, then render the notebooks into HTML reports")
    r.add_argument("--config", type=Path, default=None, help="run configuration (YAML); options below override it")
    r.add_argument("--data-dir", type=Path, default=None,
                   help="folder holding raw/ and processed/ (default: the project's data/)")
    r.add_argument("--out", type=Path, default=config.REPORTS_DIR)
    r.add_argument("--notebooks-dir", type=Path, default=config.NOTEBOOKS_DIR)
    r.add_argument("--only", nargs="+", help="run only notebooks whose name starts with these (e.g. 01)")
    r.add_argument("--as-of", default=None, help="observation date YYYY-MM-DD (default: last day with events)")
    r.add_argument("--horizon", type=int, default=None, help=f"churn horizon in days (default {config.HORIZON_DAYS})")
    r.add_argument("--lang", choices=("en", "ja"), default=None, help="report language (default en)")
    r.add_argument("--currency", type=_currency_arg, default=None,
                   help="currency of MRR (ISO code, e.g. USD, JPY; default USD)")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--run-date", type=_date_arg, default=None,
                   help="date of the run YYYY-MM-DD, names reports/<run-date>/ (default: today in --timezone)")
    _timezone_argument(r)
    r.add_argument("--demo", action="store_true", help="generate a demo world when raw/ is empty (default: only in "
                   "the project's data folder)")
    r.add_argument("--no-demo", action="store_true", help="never generate demo data")
    r.add_argument("--demo-accounts", type=int, default=None, help="size of a generated demo world")
    r.add_argument("--demo-months", type=int, default=None)
    r.add_argument("--kernel", default=None, help=f"Jupyter kernel (default {config.KERNEL_NAME}, else python3)")
    r.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run")
    r.add_argument("--workers", type=int, default=None, help="notebooks rendered at once (default 2)")
    r.add_argument("--rerender", action="store_true",
                   help="execute every notebook (default: a report whose inputs are unchanged is exported again)")
    r.add_argument("--keep-runs", type=_positive_int, default=None, metavar="N",
                   help="keep the reports of the newest N runs, removing older dated folders (default: keep all)")
    _engine_arguments(r, default=None)
    _model_arguments(r)
    _wait_argument(r)
    r.set_defaults(func=_run)

    f = sub.add_parser("fit", help="learn a health score on a table of your own (one row per account [and date])")
    f.add_argument("--table", type=Path, required=True,
                   help="Parquet, CSV or an Excel workbook (.xlsx), one row per account (and date)")
    _sheet_argument(f)
    _encoding_argument(f)
    f.add_argument("--label", required=True, help="0/1 (or yes/no) column: churned within the horizon")
    f.add_argument("--label-value", action="append", default=[], metavar="VALUE",
                   help="a value of --label that means churn, when it holds other values (repeatable; every other "
                        "value is then 0)")
    f.add_argument("--date-col", default=None, help="observation date column: validation becomes out-of-time")
    f.add_argument("--id-col", default=None,
                   help="account id column (an account's rows stay in one fold and are resampled together)")
    f.add_argument("--horizon", type=int, default=90, help="label horizon in days (gap between train and test)")
    f.add_argument("--test-windows", "--cutoffs", dest="test_windows", type=int, default=4,
                   help="out-of-time test windows of equal length (with --date-col; default 4)")
    f.add_argument("--observed-until", default=None,
                   help="date the outcomes were last observed (default: the last --date-col date); "
                        "test rows need date + horizon <= it")
    f.add_argument("--folds", type=int, default=5, help="cross-validation folds (without --date-col)")
    f.add_argument("--keep-column", action="append", default=[], metavar="NAME",
                   help="use this column even if the leakage screen suspects it (repeatable)")
    _missing_code_argument(f, "feature")
    f.add_argument("--hand-scorecard", type=Path, default=None, help="YAML scorecard to evaluate beside it")
    f.add_argument("--score", choices=("auto", "shape", "linear"), default="auto",
                   help="the learned card: shape (ranges and points), linear (weights) or auto (the default: both "
                        "validated; the shape card kept only when its ROC-AUC leads beyond the paired 95%% interval, "
                        "as in the pipeline; the card kept is named)")
    f.add_argument("--bootstrap", type=int, default=100,
                   help="bootstrap refits for the intervals (the weights; the shape card's points: at most 20)")
    f.add_argument("--jobs", type=int, default=-1,
                   help="processes sharing the fits (default -1: every core; 1: this one); no figure depends on it")
    f.add_argument("--lang", choices=("en", "ja"), default="en",
                   help="language of report.html, the card's labels and the drivers (default en)")
    f.add_argument("--out", type=Path, required=True)
    f.set_defaults(func=_fit)

    b = sub.add_parser("playbook", help="check a playbook (touch models, stages, plays) and print its rules")
    b.add_argument("file", nargs="?", type=Path, default=None, help="your playbook YAML (default: the bundled one)")
    b.add_argument("--lang", choices=("en", "ja"), default="en")
    b.add_argument("--currency", type=_currency_arg, default="USD",
                   help="currency of the amounts in the rules (ISO code, e.g. USD, JPY; default USD)")
    b.add_argument("--show-default", action="store_true", help="print the bundled playbook, to copy and edit")
    b.set_defaults(func=_playbook)

    v = sub.add_parser("survival", help="survival models, remaining lifetime and LTV on a table of your own")
    v.add_argument("--table", type=Path, required=True,
                   help="Parquet, CSV or an Excel workbook (.xlsx), one row per account")
    _sheet_argument(v)
    _encoding_argument(v)
    v.add_argument("--duration", default=None, help="column: time observed (tenure); or give --start and --end")
    v.add_argument("--start", default=None, help="column: the date the account started (with --end, instead of "
                                                  "--duration)")
    v.add_argument("--end", default=None, help="column: the date it left, empty while a customer (churn, unless "
                                                "--event says otherwise)")
    v.add_argument("--observed-until", default=None,
                   help="with --start/--end: the date the data were exported (YYYY-MM-DD), or a column of each row's "
                        "last follow-up (default: the latest date in the table)")
    v.add_argument("--event", default=None, help="column: 1 churned, 0 still a customer (with --end: optional)")
    v.add_argument("--event-value", action="append", default=[], metavar="VALUE",
                   help="a value of --event that means churn, when it holds other values (repeatable; every other "
                        "value counts as still a customer up to its time)")
    v.add_argument("--covariates", nargs="*", default=None, help="columns to model (default: all others)")
    v.add_argument("--entry", default=None, help="column: tenure when first observed (left truncation), or a "
                                                  "start/stop row's start (with --id repeating over rows)")
    v.add_argument("--id", default=None, help="column identifying the account (default: row number); with --entry "
                                              "it may repeat: an account's start/stop rows over time")
    v.add_argument("--measured-at", default=None, metavar="COL",
                   help="column: the time (from the account's start, in --unit) of each row's measurements, when a row "
                        "per visit or snapshot repeats its account's --duration and --event (with --id): each "
                        "measurement holds to the next one")
    v.add_argument("--mrr", default=None, help="column: monthly recurring revenue (enables LTV and revenue at risk)")
    v.add_argument("--unit", choices=("days", "weeks", "months", "years"), default=None,
                   help="unit of duration and entry (default months, and said: a table in years or days read as "
                        "months would be wrong by a factor of 12 or 30)")
    v.add_argument("--margin", type=float, default=0.8, help="gross margin for LTV (default 0.8)")
    v.add_argument("--annual-discount-rate", type=float, default=0.10, help="for LTV (default 0.10)")
    v.add_argument("--horizon", type=float, default=36.0, help="months of remaining lifetime counted (default 36)")
    v.add_argument("--n-boot", type=int, default=100, help="bootstrap refits for intervals (0: none)")
    v.add_argument("--cv", type=int, default=5, help="cross-validation folds")
    v.add_argument("--penalizer", type=float, default=None, help="Cox ridge penalty (default: chosen by CV)")
    v.add_argument("--keep-column", action="append", default=[], metavar="NAME",
                   help="use this covariate even if the leakage screen suspects it (repeatable)")
    _missing_code_argument(v, "covariate")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--lang", choices=("en", "ja"), default="en", help="language of report.html (default en)")
    v.add_argument("--out", type=Path, required=True, help="folder for the output files")
    v.set_defaults(func=_survival)
    return parser


def _missing_code_arg(text: str) -> str:
    from ._core.missing_codes import parse_missing_codes

    try:
        parse_missing_codes([text], option="")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _missing_code_argument(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--missing-code", action="append", default=[], type=_missing_code_arg,
                   metavar="COLUMN=VALUE",
                   help=f"a value of a {what} that means missing (e.g. income=999999, q7=99,98; repeatable): read as "
                        f"missing, not as a number. Without it, a value at an end of a column, on several rows and "
                        f"far beyond the others (loanapp's 666 beside 0 and 1) is found and said; COLUMN=none keeps "
                        f"a column's values as numbers, none looks for no code")


def _run_arguments(p: argparse.ArgumentParser) -> None:
    """The data and date options of train and score."""
    p.add_argument("--config", type=Path, default=None, help="run configuration (YAML); options below override it")
    p.add_argument("--data-dir", type=Path, default=None, help="folder holding raw/ and processed/")
    p.add_argument("--as-of", default=None, help="observation date YYYY-MM-DD (default: last day with events)")
    p.add_argument("--horizon", type=int, default=None, help="churn horizon in days")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--run-date", type=_date_arg, default=None, help="date of the run (ingest's 'now' is its end)")
    _timezone_argument(p)
    p.add_argument("--strict", action="store_true", help="stop at a stage's unexpected error (default: record it)")
    _engine_arguments(p, default=None)
    _wait_argument(p)


def _timezone_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timezone", default=None, metavar="ZONE",
                   help="the company's calendar, an IANA time zone (e.g. Asia/Tokyo): its days and months begin at "
                        "its midnight; times written without an offset are read in it (default UTC)")


def _model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--model", type=Path, default=None,
                   help="score with this frozen model (a model folder, or a models folder: its current model)")
    g.add_argument("--retrain", choices=("never", "monthly", "on-drift"), default=None,
                   help="train a new model or score with the models folder's current one: never (train only when "
                        "there is none), monthly (when the current one saw an earlier month), on-drift (when "
                        "monitoring recommends it)")
    p.add_argument("--models", type=Path, default=None, help="models folder of --retrain (default: DATA_DIR/models)")


def _engine_arguments(p: argparse.ArgumentParser, default: str | None = "duckdb") -> None:
    p.add_argument("--engine", choices=("duckdb", "spark"), default=default,
                   help="where the panel's SQL runs (spark needs the spark extra and Java 17+)")
    p.add_argument("--spark-master", default=None,
                   help="Spark master URL: local[*] (default), local[4], spark://host:7077, yarn, k8s://...")
    p.add_argument("--spark-driver-memory", default=None, help="spark.driver.memory, e.g. 8g (local mode)")


def main(argv: list[str] | None = None) -> int:
    from ._core.errors import EngageError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    global _stopped_by
    _stopped_by = 0
    main_thread = threading.current_thread() is threading.main_thread()
    # a scheduler's stop (SIGTERM) is cleaned up as Ctrl-C is: staging folders, kernels, worker processes
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    ours = main_thread and previous in (signal.SIG_DFL, signal.default_int_handler)  # not a host's own, nor SIG_IGN
    if ours:
        signal.signal(signal.SIGTERM, _stop)
    try:
        from threadpoolctl import threadpool_limits

        from ._core.progress import ONE_THREAD

        _check_arguments(args)
        with threadpool_limits(limits=ONE_THREAD):  # processes, not spinning thread pools: see ONE_THREAD
            return args.func(args)
    except EngageError as exc:
        print(f"engage {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        said = "stopped by SIGTERM" if _stopped_by else "interrupted"
        print(f"engage {args.command}: {said}: what it was writing is left out (the next run clears it); no "
              "report is left half-published", file=sys.stderr)
        return 128 + (_stopped_by or signal.SIGINT)
    except Exception as exc:
        trouble = machine_trouble(exc)
        if trouble is None:
            raise
        print(f"engage {args.command}: error: {trouble} ({type(exc).__name__}: {str(exc)[:300]}): it stopped; "
              "no report is left half-published", file=sys.stderr)
        return 1
    finally:
        if ours:
            signal.signal(signal.SIGTERM, previous)


_stopped_by = 0


def _check_arguments(args) -> None:
    """What the run's configuration would refuse, said as the arguments are read rather than seconds into the work
    (``--currency jpy`` was refused after the data folder was read and the run had started), in its words."""
    if getattr(args, "currency", None) is not None and args.command in ("run", "pipeline"):
        from .pipeline.config import check_currency

        check_currency(args.currency)


def _stop(signum, frame) -> None:
    """SIGTERM as Ctrl-C: the ``finally`` blocks run (staging folders, kernels, the folder's lock) and the
    worker processes end with the run instead of outliving it."""
    global _stopped_by
    _stopped_by = signum
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
