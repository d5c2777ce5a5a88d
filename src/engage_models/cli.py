"""Command line: ``engage simulate | ingest | panel | run`` (also ``python -m engage_models ...``).

Exit codes: 0 success; 1 a notebook failed (the previous reports are kept); 2 bad input or arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import config


def _simulate(args) -> int:
    from .simulate import SimConfig, simulate

    summary = simulate(
        SimConfig(),
        out=args.out,
        n_accounts=args.accounts,
        months=args.months,
        seed=args.seed,
        start=args.start,
        events_scale=args.events_scale,
        inject_defects=not args.clean,
    )
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def _ingest(args) -> int:
    from .ingest import ingest

    report = ingest(args.raw, args.out, now=args.now, csat_scale=tuple(args.csat_scale),
                    memory_limit=args.memory_limit)
    print(report.to_frame().to_string(index=False))
    if report.rows_quarantined:
        print()
        print(report.reasons_frame().to_string(index=False))
    return 0


def _engine_settings(args) -> dict:
    """Engine settings given on the command line, checked against the engine chosen."""
    spark = {"spark_master": args.spark_master, "spark_driver_memory": args.spark_driver_memory}
    given = sorted(k.replace("_", "-") for k, v in spark.items() if v is not None)
    if args.engine != "spark":
        if given:
            raise ValueError(f"--{', --'.join(given)} apply to --engine spark only")
        return {}
    return spark


def _panel(args) -> int:
    from .panel import build_panel

    settings = _engine_settings(args)
    if args.engine == "duckdb":
        settings["memory_limit"] = args.memory_limit
    panel = build_panel(args.processed, args.as_of, until=args.until, windows=tuple(args.windows),
                        horizon_days=args.horizon, engine=args.engine, out=args.out, **settings)
    dates = panel["as_of"].drop_duplicates()
    print(f"panel: {len(panel):,} rows x {panel.shape[1]} columns, {len(dates)} observation date(s) "
          f"{dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d} ({args.engine}) -> {args.out}")
    return 0


def _run(args) -> int:
    from .runner import NotebookFailed, run

    try:
        paths = run(
            data_dir=args.data_dir, out_dir=args.out, notebooks_dir=args.notebooks_dir, only=args.only,
            as_of=args.as_of, horizon_days=args.horizon, lang=args.lang, seed=args.seed,
            demo_if_empty=not args.no_demo, demo_accounts=args.demo_accounts, demo_months=args.demo_months,
            kernel_name=args.kernel, timeout=args.timeout, engine=args.engine, **_engine_settings(args),
        )
    except NotebookFailed as exc:
        print(f"engage run: FAILED: {exc}", file=sys.stderr)
        print(f"engage run: the reports in {args.out} were left as they were", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engage", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="generate a demo world with known churn drivers")
    s.add_argument("--accounts", type=int, default=2000, help="accounts over the whole window (default 2000)")
    s.add_argument("--months", type=int, default=24, help="months simulated (default 24)")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--start", default="2024-01-01", help="first month (YYYY-MM-01)")
    s.add_argument("--events-scale", type=float, default=1.0, help="multiplies every event rate (size knob)")
    s.add_argument("--clean", action="store_true", help="do not plant the few known bad rows")
    s.add_argument("--out", type=Path, default=config.RAW_DIR)
    s.set_defaults(func=_simulate)

    i = sub.add_parser("ingest", help="validate raw tables into data/processed (bad rows quarantined)")
    i.add_argument("--raw", type=Path, default=config.RAW_DIR)
    i.add_argument("--out", type=Path, default=config.PROCESSED_DIR)
    i.add_argument("--now", default=None, help="timestamps after this are 'in the future' (default: now)")
    i.add_argument("--csat-scale", type=int, nargs=2, default=(1, 5), metavar=("LOW", "HIGH"))
    i.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit (default 4GB)")
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

    r = sub.add_parser("run", help="execute the notebooks and write HTML reports")
    r.add_argument("--data-dir", type=Path, default=config.DATA_DIR, help="folder holding raw/ and processed/")
    r.add_argument("--out", type=Path, default=config.REPORTS_DIR)
    r.add_argument("--notebooks-dir", type=Path, default=config.NOTEBOOKS_DIR)
    r.add_argument("--only", nargs="+", help="run only notebooks whose name starts with these (e.g. 01)")
    r.add_argument("--as-of", default=None, help="observation date YYYY-MM-DD (default: last day with events)")
    r.add_argument("--horizon", type=int, default=config.HORIZON_DAYS, help="churn horizon in days")
    r.add_argument("--lang", choices=("en", "ja"), default="en")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--no-demo", action="store_true", help="fail instead of generating demo data when raw/ is empty")
    r.add_argument("--demo-accounts", type=int, default=None, help="size of a generated demo world")
    r.add_argument("--demo-months", type=int, default=None)
    r.add_argument("--kernel", default=None, help=f"Jupyter kernel (default {config.KERNEL_NAME}, else python3)")
    r.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run")
    _engine_arguments(r)
    r.set_defaults(func=_run)
    return parser


def _engine_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="where the panel's SQL runs (spark needs the spark extra and Java 17+)")
    p.add_argument("--spark-master", default=None,
                   help="Spark master URL: local[*] (default), local[4], spark://host:7077, yarn, k8s://...")
    p.add_argument("--spark-driver-memory", default=None, help="spark.driver.memory, e.g. 8g (local mode)")


def main(argv: list[str] | None = None) -> int:
    from .engine import EngineUnavailable
    from .ingest import IngestError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (IngestError, EngineUnavailable, FileNotFoundError, ValueError) as exc:
        print(f"engage {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
