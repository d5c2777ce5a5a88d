"""Run the report notebooks with Papermill and export them as self-contained HTML without code.

The runner

1. generates the demo world when the raw-data folder holds no table (``demo_if_empty``);
2. executes each notebook (``notebooks/NN_*.ipynb`` in name order) with Papermill, passing only the
   parameters that notebook declares in its cell tagged ``parameters``;
3. exports each executed notebook to HTML with input cells removed, images embedded and nothing fetched
   from the network (see ``templates/engage_report``);
4. writes everything into a staging folder and moves the reports into place only when every notebook
   succeeded, so the last good report survives a failed run. On failure it raises
   :class:`NotebookFailed` naming the notebook and cell, and leaves the executed notebooks of the failed
   run in ``<out>/.failed/`` for inspection.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from . import config
from .contracts import CONTRACTS
from .i18n import LANGS, check_lang
from .ingest import SUFFIXES
from .simulate import simulate

log = logging.getLogger(__name__)


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""

    def __init__(self, notebook: str, cell: int | None, ename: str, evalue: str, code: str = ""):
        self.notebook, self.cell, self.ename, self.evalue = notebook, cell, ename, evalue
        self.executed: Path | None = None
        where = f"cell {cell}" if cell is not None else "start-up"
        first = code.strip().splitlines()[0][:80] if code.strip() else ""
        super().__init__(f"{notebook} failed at {where}: {ename}: {evalue}" + (f" (in `{first}`)" if first else ""))


def _source_cell(executed: Path, cell_index: int) -> int:
    """1-based position of a failed cell in the notebook as written (Papermill adds a parameters cell)."""
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return cell_index + 1
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])]
    return cell_index + 1 - sum(1 for i in injected if i < cell_index)


@dataclass(frozen=True)
class RunParameters:
    """Parameters every report notebook may declare (each takes the ones it names)."""

    data_dir: str
    as_of: str | None = None
    horizon_days: int = config.HORIZON_DAYS
    lang: str = "en"
    seed: int = 42
    engine: str = "duckdb"  # where the panel's SQL runs: "duckdb" or "spark"
    spark_master: str | None = None  # Spark master URL (None: local[*], or the session spark-submit made)
    spark_driver_memory: str | None = None

    def as_dict(self) -> dict:
        return {"data_dir": self.data_dir, "as_of": self.as_of, "horizon_days": self.horizon_days,
                "lang": self.lang, "seed": self.seed, "engine": self.engine, "spark_master": self.spark_master,
                "spark_driver_memory": self.spark_driver_memory}


#: Engine parameters left at these values are not shown in a report's header line.
_ENGINE_DEFAULTS = {"engine": "duckdb", "spark_master": None, "spark_driver_memory": None}


def discover_notebooks(notebooks_dir: str | Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """Report notebooks in run order: files named ``NN_name.ipynb`` sorted by name."""
    found = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb") if p.is_file())
    if not found:
        raise FileNotFoundError(f"no notebooks named NN_*.ipynb in {notebooks_dir}")
    return found


def has_raw_tables(raw_dir: str | Path) -> bool:
    raw = Path(raw_dir)
    return any((raw / f"{t}{s}").exists() or (raw / t).is_dir() for t in CONTRACTS for s in SUFFIXES)


def resolve_kernel(preferred: str | None = None) -> str:
    """The project's kernel if registered (``make env`` does it), else the current Python's ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = preferred or config.KERNEL_NAME
    specs = KernelSpecManager().find_kernel_specs()
    if name in specs:
        return name
    if preferred:
        raise ValueError(f"Jupyter kernel {preferred!r} is not registered (have: {', '.join(sorted(specs))})")
    log.warning("kernel %r not registered; using python3 (run `make env` to register it)", name)
    return "python3"


class _DropStderr(Preprocessor):
    """Warnings and log lines are for analysts (they stay in the executed notebook), not for readers."""

    def preprocess_cell(self, cell, resources, index):
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return cell, resources


def export_html(notebook: nbformat.NotebookNode, path: Path, *, lang: str = "en", meta: str = "") -> Path:
    """Write ``notebook`` as HTML without input cells, prompts, stderr or anything fetched from outside."""
    exporter = HTMLExporter(template_name="engage_report", extra_template_basedirs=[str(config.TEMPLATES_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.language_code = lang
    other = {f"lang-{x}" for x in LANGS if x != lang}  # prose of the other language (see engage_models.i18n)
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"parameters", "injected-parameters", "remove-cell", *other}),
        enabled=True,
    )
    exporter.register_preprocessor(_DropStderr(), enabled=True)
    resources = {"engage_meta": meta, "metadata": {"name": path.stem}}
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    path.write_text(body, encoding="utf-8")
    return path


def _write_index(out: Path, entries: list[dict], params: dict, started: str) -> None:
    rows = "\n".join(
        f'<li><a href="{html.escape(e["html"])}">{html.escape(e["title"])}</a> '
        f'<span class="t">({e["seconds"]:.0f} s)</span></li>'
        for e in entries
    )
    p = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in params.items())
    (out / "index.html").write_text(
        f"""<!DOCTYPE html>
<html lang="{html.escape(params.get('lang') or 'en')}"><head><meta charset="utf-8"><title>engage-models reports</title>
<style>body{{font-family:sans-serif;max-width:800px;margin:2rem auto}} .t{{color:#777}}
th{{text-align:left;padding-right:1rem}}</style></head>
<body><h1>engage-models reports</h1><p>Run started {html.escape(started)}.</p>
<ul>{rows}</ul><h2>Parameters</h2><table>{p}</table></body></html>
""",
        encoding="utf-8",
    )


def run(
    *,
    data_dir: str | Path = config.DATA_DIR,
    out_dir: str | Path = config.REPORTS_DIR,
    notebooks_dir: str | Path = config.NOTEBOOKS_DIR,
    only: Sequence[str] | None = None,
    as_of: str | None = None,
    horizon_days: int = config.HORIZON_DAYS,
    lang: str = "en",
    seed: int = 42,
    demo_if_empty: bool = True,
    demo_accounts: int | None = None,
    demo_months: int | None = None,
    kernel_name: str | None = None,
    timeout: int | None = 1800,
    progress: Callable[[str], None] | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    spark_driver_memory: str | None = None,
) -> list[Path]:
    """Execute the report notebooks and publish their HTML into ``out_dir``; return the HTML paths.

    ``engine`` (``"duckdb"`` or ``"spark"``), ``spark_master`` and ``spark_driver_memory`` reach the notebooks
    that declare them, which build the panel with that engine.

    Raises
    ------
    NotebookFailed
        A notebook raised; ``out_dir`` keeps the previous reports.
    """
    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    check_lang(lang)
    if engine not in ("duckdb", "spark"):
        raise ValueError(f"unknown engine {engine!r} (available: 'duckdb', 'spark')")
    data_dir, out_dir = Path(data_dir).resolve(), Path(out_dir).resolve()
    raw = data_dir / "raw"
    if demo_if_empty and not has_raw_tables(raw):
        sizes = {k: v for k, v in (("n_accounts", demo_accounts), ("months", demo_months)) if v}
        say(f"no raw tables in {raw}: generating the demo world (seed {seed})")
        summary = simulate(out=raw, seed=seed, **sizes)
        say(f"  {summary['tables']['events']:,} events for {summary['tables']['accounts']:,} accounts")
    notebooks = discover_notebooks(notebooks_dir)
    if only:
        notebooks = [nb for nb in notebooks if any(nb.stem.startswith(o) or nb.name == o for o in only)]
        if not notebooks:
            raise FileNotFoundError(f"no notebook in {notebooks_dir} matches {list(only)}")
    kernel = resolve_kernel(kernel_name)
    params = RunParameters(str(data_dir), as_of, horizon_days, lang, seed, engine, spark_master,
                           spark_driver_memory).as_dict()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    entries = []
    try:
        for i, nb in enumerate(notebooks, 1):
            declared = pm.inspect_notebook(str(nb))
            nb_params = {k: v for k, v in params.items() if k in declared}
            executed = staging / nb.name
            say(f"[{i}/{len(notebooks)}] {nb.name} ...")
            t0 = time.perf_counter()
            try:
                pm.execute_notebook(str(nb), str(executed), parameters=nb_params, kernel_name=kernel,
                                    progress_bar=False, log_output=False, execution_timeout=timeout)
            except pm.PapermillExecutionError as exc:
                cell = _source_cell(executed, exc.cell_index)
                raise NotebookFailed(nb.name, cell, exc.ename, exc.evalue, exc.source) from exc
            except Exception as exc:  # kernel died, timeout, bad notebook: still name the notebook
                raise NotebookFailed(nb.name, None, type(exc).__name__, str(exc)) from exc
            seconds = time.perf_counter() - t0
            shown = {k: ("latest data" if k == "as_of" and v is None else v) for k, v in nb_params.items()}
            hidden = {"data_dir"} | {k for k, v in _ENGINE_DEFAULTS.items() if k in shown and shown[k] == v}
            meta = f"Run {started} · " + " · ".join(f"{k}: {v}" for k, v in shown.items() if k not in hidden)
            html_path = export_html(nbformat.read(executed, as_version=4), staging / f"{nb.stem}.html",
                                    lang=lang, meta=meta)
            entries.append({"title": nb.stem, "html": html_path.name, "seconds": seconds})
            say(f"      done in {seconds:.1f} s -> {html_path.name}")
    except NotebookFailed as exc:
        failed = out_dir / ".failed"
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        exc.executed = failed / exc.notebook
        exc.args = (f"{exc.args[0]}; the executed notebook is kept at {exc.executed}",)
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    _write_index(staging, entries, {**params, "notebooks": ", ".join(nb.name for nb in notebooks)}, started)
    (staging / "run.json").write_text(
        json.dumps({"started": started, "parameters": params, "kernel": kernel, "reports": entries}, indent=2)
        + "\n", encoding="utf-8")
    published = []
    for name in [e["html"] for e in entries] + ["index.html", "run.json"]:
        os.replace(staging / name, out_dir / name)  # atomic per file on one filesystem
        published.append(out_dir / name)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(out_dir / ".failed", ignore_errors=True)
    return [p for p in published if p.suffix == ".html" and p.name != "index.html"]
