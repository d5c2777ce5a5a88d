"""Run the pipeline, then render the report notebooks with Papermill into self-contained HTML without code.

The runner

1. checks the parameters (a :class:`~engage_models.pipeline.RunConfig`) before any work, and generates the demo
   world only into the project's own data folder, or anywhere when asked explicitly (``demo=True``);
2. runs the pipeline (:func:`engage_models.pipeline.run`) up to the last stage the chosen notebooks render:
   every stage whose inputs are unchanged is reused, a stage that fails is recorded and the rest goes on;
3. writes the run's artifacts and ``run.json`` into a staging folder and executes each notebook
   (``notebooks/NN_*.ipynb``, two at a time) with the parameters it declares (``run_dir``: the staging folder);
   notebooks only load artifacts and render them;
4. exports each executed notebook to HTML with input cells removed, images embedded and nothing fetched from the
   network (see ``templates/engage_report``), and publishes the run when at least one report rendered: a
   notebook that failed is listed with its error, the sections the stages could not compute are listed with
   their reasons, and the last good reports of other dates are never touched;
5. sends the run's alerts where the configuration's ``delivery`` section says (a webhook, mail: see
   :mod:`engage_models.delivery`), after publishing: a delivery that fails is logged, recorded in ``run.json``
   and on the index pages, and the run ends with exit code 3, its reports published all the same.

Layout of ``<out>`` (``reports/``) after runs on two dates::

    index.html            this run's reports with run date and parameters, what was skipped, the earlier runs
    latest/               a copy of the newest run's folder with usable data (a stable address for bookmarks)
    2026-11-27/           one folder per run date: NN_*.html, index.html, run.json, executed/NN_*.ipynb,
    2026-11-28/           artifacts/<stage>/ (what the reports show, as tables) and files for others
                          (the action list for a CRM)

A run replaces the folder of its run date (a scheduled run repeated the same day overwrites the earlier
one); a run of some notebooks only (``only``) with the same parameters keeps the date's other reports.
``latest/`` follows the newest run date with usable data, so re-running an older date (a backfill) leaves it
alone, and so does a run whose ingest kept nothing (its dated folder says why). Reports
are copies rather than symbolic links so that the folders survive being zipped, synced or served.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import nbformat
import papermill as pm
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from .. import config
from .._core.errors import ConfigError, MachineError, machine_trouble
from .._core.i18n import LANGS, count, fmt_date, fmt_datetime, t
from .._core.io import jsonable, write_text
from .._core.locks import hold
from .._core.reasons import section_label, stored
from .._core.reasons import text as said
from .._core.time import RUN_DATE as _RUN_DIR
from .._core.time import parse_run_date
from ..demo.simulator import simulate
from ..ingest.contracts import CONTRACTS
from ..ingest.sources import SOURCES_FILE
from ..ingest.validate import SUFFIXES

if TYPE_CHECKING:
    from ..pipeline import RunConfig

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
    """Parameters every report notebook may declare (each takes the ones it names).

    Besides these, a notebook that declares ``output_dir`` receives the folder its run is published from:
    files written there (an action list for a CRM, say) are published with the reports.
    """

    data_dir: str
    as_of: str | None = None
    horizon_days: int = config.HORIZON_DAYS
    lang: str = "en"
    seed: int = 42
    run_date: str | None = None
    engine: str = "duckdb"  # where the panel's SQL runs: "duckdb" or "spark"
    spark_master: str | None = None  # Spark master URL (None: local[*], or the session spark-submit made)
    spark_driver_memory: str | None = None
    currency: str = "USD"
    timezone: str = "UTC"  # the company's calendar (see RunConfig.timezone)

    def as_dict(self) -> dict:
        return {"data_dir": self.data_dir, "as_of": self.as_of, "horizon_days": self.horizon_days,
                "lang": self.lang, "seed": self.seed, "run_date": self.run_date, "engine": self.engine,
                "spark_master": self.spark_master, "spark_driver_memory": self.spark_driver_memory,
                "currency": self.currency, "timezone": self.timezone}


#: Engine parameters left at these values are not shown in a report's header line (nor is the calendar at UTC).
_ENGINE_DEFAULTS = {"engine": "duckdb", "spark_master": None, "spark_driver_memory": None}
_QUIET = {**_ENGINE_DEFAULTS, "timezone": "UTC"}

#: Parameters that make two runs comparable (a partial run keeps the other reports of its date only if equal).
_SAME_RUN = ("data_key", "as_of", "horizon_days", "lang", "seed", "timezone")
#: What a run recorded before a parameter existed meant: its default.
_BEFORE = {"timezone": "UTC"}
LATEST = "latest"


def discover_notebooks(notebooks_dir: str | Path = config.NOTEBOOKS_DIR) -> list[Path]:
    """Report notebooks, files named ``NN_name.ipynb``, sorted by name. They run in that order, except the
    summaries (``00_*``), which run last because they read what the others wrote, and are listed first."""
    found = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb") if p.is_file())
    if not found:
        raise ConfigError(f"no notebooks named NN_*.ipynb in {notebooks_dir}")
    return found


def has_raw_tables(raw_dir: str | Path) -> bool:
    """Whether ``raw_dir`` holds a table's file or a sources file (which may read every table from a database)."""
    raw = Path(raw_dir)
    return (raw / SOURCES_FILE).is_file() or any((raw / f"{t}{s}").exists() or (raw / t).is_dir()
                                                 for t in CONTRACTS for s in SUFFIXES)


def resolve_kernel(preferred: str | None = None) -> str:
    """The project's kernel if registered (``make env`` does it), else the current Python's ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = preferred or config.KERNEL_NAME
    specs = KernelSpecManager().find_kernel_specs()
    if name in specs:
        return name
    if preferred:
        raise ConfigError(f"Jupyter kernel {preferred!r} is not registered (have: {', '.join(sorted(specs))})")
    log.warning("kernel %r not registered; using python3 (run `make env` to register it)", name)
    return "python3"


class Kernels:
    """The kernels a run's notebooks execute in, while they run, so that a stopped run can end them.

    A kernel runs in a session of its own (jupyter_client starts it so), so a Ctrl-C or a scheduler's SIGTERM
    reaches this process and not the kernels: without :meth:`stop`, a notebook executing when a run stopped ran
    its cell to the end (up to the cell timeout), past a scheduler's grace period. A kernel that starts after the
    stop (its notebook had passed the gate) is ended as it registers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, object] = {}
        self.stopped = False

    def add(self, manager) -> None:
        with self._lock:
            self._running[id(manager)] = manager.provisioner
            late = self.stopped
        if late:
            self._end([manager.provisioner], grace=0.0)

    def remove(self, manager) -> None:
        with self._lock:
            self._running.pop(id(manager), None)

    def stop(self, grace: float = 3.0) -> int:
        """SIGTERM to each running kernel's process group (the kernel and what it started, such as joblib's
        workers), SIGKILL to those left after ``grace`` seconds; the notebooks' threads then end with a dead
        kernel. How many kernels it signalled."""
        with self._lock:
            self.stopped = True
            running = list(self._running.values())
        return self._end(running, grace)

    @staticmethod
    def _end(provisioners: list, grace: float) -> int:
        import signal

        def alive(prov) -> bool:
            proc = getattr(prov, "process", None)
            return proc is not None and proc.poll() is None

        def send(prov, sig) -> bool:
            try:
                if getattr(prov, "pgid", None):
                    os.killpg(prov.pgid, sig)
                else:
                    prov.process.send_signal(sig)
                return True
            except (OSError, AttributeError):
                return False

        def group_left(prov) -> bool:  # the kernel, or anything of its process group (a worker slow to go)
            pgid = getattr(prov, "pgid", None)
            if not pgid:
                return alive(prov)
            try:
                os.killpg(pgid, 0)
                return True
            except OSError:
                return False

        signalled = [prov for prov in provisioners if alive(prov) and send(prov, signal.SIGTERM)]
        end = time.monotonic() + grace
        while any(group_left(prov) for prov in signalled) and time.monotonic() < end:
            time.sleep(0.05)
        for prov in signalled:
            if group_left(prov):
                send(prov, signal.SIGKILL)
        return len(signalled)


def close_thread_loop() -> None:
    """Close the asyncio event loop Papermill's client left set in this worker thread; nothing in the main thread.

    Jupyter's ``run_sync`` makes an event loop for each thread that executes a notebook and never closes it. The
    runner's workers left one behind per notebook: collected later, in whatever ran then, the loop and its two
    sockets each warned "unclosed" (a ``ResourceWarning``; a test suite treats it as its own failure), and a process
    that runs reports again and again (a scheduler's worker) kept their file descriptors until then. The next
    notebook in the thread gets a new loop (Jupyter makes one when the thread's loop is closed)."""
    if threading.current_thread() is threading.main_thread():
        return  # the caller's own loop, if any, is the caller's
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # no loop was set in this thread
        return
    if not loop.is_running() and not loop.is_closed():
        with contextlib.suppress(RuntimeError):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    asyncio.set_event_loop(None)


def _kernel_manager_class(kernels: Kernels | None = None):
    """The kernel manager the reports' kernels are started with. Each kernel is kept in ``kernels`` (the run's)
    while it runs, so that a stopped run can end it (:meth:`Kernels.stop`). On POSIX, the kernel's sockets are
    Unix sockets in a private temporary folder of its own (IPC transport) instead of TCP ports on the loopback,
    which any local user can reach and which ipykernel 7 warns about once per notebook in the run's log. Elsewhere
    (or where the temporary folder's path is too long for a socket's name) the default, TCP."""
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    kernels = Kernels() if kernels is None else kernels

    class TrackedKernelManager(AsyncKernelManager):
        async def _async_start_kernel(self, **kwargs) -> None:
            await super()._async_start_kernel(**kwargs)
            kernels.add(self)

        start_kernel = _async_start_kernel

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            kernels.remove(self)
            await super()._async_cleanup_resources(restart=restart)

        cleanup_resources = _async_cleanup_resources

    if os.name != "posix" or len(tempfile.gettempdir()) > 60:
        return TrackedKernelManager

    class IPCKernelManager(TrackedKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._socket_dir = tempfile.mkdtemp(prefix="engage-kernel-")  # 0700: this user's only
            self.transport, self.ip = "ipc", os.path.join(self._socket_dir, "k")

        async def _async_start_kernel(self, **kwargs) -> None:
            try:
                await super()._async_start_kernel(**kwargs)
            except BaseException:  # no kernel to clean up after: its folder goes now (an unknown kernel name...)
                shutil.rmtree(self._socket_dir, ignore_errors=True)
                raise

        start_kernel = _async_start_kernel

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._socket_dir, ignore_errors=True)

        cleanup_resources = _async_cleanup_resources

    return IPCKernelManager


class _DropStderr(Preprocessor):
    """Warnings and log lines are for analysts (they stay in the executed notebook), not for readers."""

    def preprocess_cell(self, cell, resources, index):
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        return cell, resources


class _AltText(Preprocessor):
    """Each figure's alternative text: "Figure: <the heading of its section>" in the report's language (the
    nearest Markdown heading above it, once the other language's cells are gone), or the report's title."""

    lang = "en"
    _HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
    _FENCE = re.compile(r"^ {0,3}(```|~~~)")
    _LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")

    @classmethod
    def headings(cls, markdown: str) -> list[str]:
        """The ATX headings of ``markdown`` as plain text (outside fenced code; emphasis, code marks and links
        reduced to their words)."""
        found, fence = [], None
        for line in markdown.splitlines():
            if f := cls._FENCE.match(line):
                fence = f.group(1) if fence is None else (None if f.group(1) == fence else fence)
                continue
            m = None if fence else cls._HEADING.match(line)
            if m:  # emphasis marks go; an underscore inside a name (churn_rate) stays
                text = re.sub(r"[*`]+|(?<!\w)_+|_+(?!\w)", "", cls._LINK.sub(r"\1", m.group(1)))
                found.append(text.strip())
        return [h for h in found if h]

    def preprocess(self, nb, resources):
        heading = resources.get("metadata", {}).get("name", "")
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                heading = ([heading] + self.headings(cell.source))[-1]
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "text/markdown" in data:  # a heading the code displayed (display(Markdown(...)))
                    heading = ([heading] + self.headings(str(data["text/markdown"])))[-1]
                if "image/png" in data:
                    meta = output.setdefault("metadata", {}).setdefault("image/png", {})
                    meta.setdefault("alt", t("report.figure_alt", self.lang, heading=heading))
        return nb, resources


def export_html(notebook: nbformat.NotebookNode, path: Path, *, lang: str = "en", meta: str = "",
                title: str | None = None) -> Path:
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
    alt = _AltText()
    alt.lang = lang
    exporter.register_preprocessor(alt, enabled=True)
    resources = {"engage_meta": meta, "metadata": {"name": title or path.stem}}
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    path.write_text(body, encoding="utf-8")
    return path


def report_title(notebook: nbformat.NotebookNode, lang: str, default: str) -> str:
    """The notebook's first level-1 heading in ``lang`` (a cell tagged ``lang-<lang>`` or untagged)."""
    other = {f"lang-{x}" for x in LANGS if x != lang}
    for cell in notebook.cells:
        if cell.cell_type != "markdown" or other & set(cell.metadata.get("tags", [])):
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return default


def _shown_parameters(params: dict, lang: str) -> dict[str, str]:
    """Run parameters as a reader sees them: labels and values in ``lang``, the data folder by name only."""
    shown = {}
    for key, value in params.items():
        if key in _ENGINE_DEFAULTS and value is None:  # Spark's settings, not given: nothing to show
            continue
        if key == "as_of":
            value = fmt_date(value, lang) if value else t("run.latest_data", lang)
        elif key == "run_date":
            value = fmt_date(value, lang)
        elif key == "lang":
            value = t(f"lang.{value}", lang)
        elif key == "horizon_days":
            value = t("run.days", lang, n=value)
        elif key == "data_dir":
            value = Path(value).name
        shown[t(f"run.param.{key}", lang)] = str(value)
    return shown


def _meta_line(params: dict, started: str, lang: str, simulated: bool = False, model_id: str | None = None) -> str:
    """The line under every report's title: run date, parameters, the currency, the health model that scored the
    run (its id names its folder under ``models/``), and a warning on simulated data."""
    hidden = {"data_dir", "run_date"} | {k for k, v in _QUIET.items() if params.get(k) == v}
    shown = _shown_parameters({k: v for k, v in params.items() if k not in hidden}, lang)
    head = t("run.meta", lang, date=fmt_date(params["run_date"], lang), started=_started(started, lang))
    parts = [head, *(t("sep.label_value", lang, what=k, value=v) for k, v in shown.items())]
    if model_id:
        parts.append(t("run.model", lang, id=model_id))
    if simulated:
        parts.insert(0, t("run.simulated", lang))
    return t("sep.dot", lang).join(parts)


def _started(started: str, lang: str) -> str:
    """When a run started (kept as ``2026-12-05 07:29 JST``) as a reader's date: ``2026年12月5日 07:29 JST``."""
    stamp, _, zone = started.rpartition(" ")
    try:
        return f"{fmt_datetime(stamp, lang)} {zone}"
    except ValueError:  # another form (a record of before): as it was kept
        return started


_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:860px;margin:2rem auto;padding:0 1rem;color:#222}}
.t{{color:#777}} th{{text-align:left;padding-right:1rem;vertical-align:top}} td{{padding-right:1rem}}
table{{border-collapse:collapse}} h2{{margin-top:2rem}}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def _model_id(pipeline_run) -> str | None:
    """The id of the health model that scored the run (trained in it or frozen), if the health stage ran."""
    if pipeline_run is None or "health" not in pipeline_run or not pipeline_run["health"].has("model"):
        return None
    return pipeline_run["health"].json("model").get("model_id")


def _run_section(run: dict, prefix: str, lang: str) -> str:
    """One run's reports (links under ``prefix``), data files and parameters as HTML."""
    e = html.escape
    items = "\n".join(
        f'<li><a href="{e(prefix + r["html"])}">{e(r["title"])}</a> '
        f'<span class="t">{e(t("run.report_line", lang, notebook=r["notebook"], seconds=round(r["seconds"])))}'
        '</span></li>'
        for r in run["reports"]
    )
    when = t("run.run_date_line", lang, date=fmt_date(run["run_date"], lang), started=_started(run["started"], lang))
    parts = [f"<p>{e(when)}</p>",
             f"<ul>\n{items}\n</ul>"]
    if run.get("files"):
        files = "".join(f'<li><a href="{e(prefix + f)}">{e(f)}</a></li>' for f in run["files"])
        parts.append(f"<h2>{e(t('run.files', lang))}</h2><ul>{files}</ul>")
    if run.get("simulated_data"):
        parts.insert(0, f"<p><strong>{e(t('run.simulated', lang))}</strong></p>")
    if run.get("delivery"):
        rows = [f"<li>{e(t('delivery.sent', lang, channel=d['target']))}</li>" if d["status"] == "sent" else
                f"<li><strong>{e(t('delivery.failed', lang, channel=d['target'], error=d.get('error') or ''))}"
                "</strong></li>" for d in run["delivery"]]
        parts.append(f"<h2>{e(t('run.delivery', lang))}</h2><ul>{''.join(rows)}</ul>")
    if run.get("failed") or run.get("skipped"):
        parts.append(f"<h2>{e(t('run.not_computed', lang))}</h2>")
        rows = [f"<li>{e(t('run.notebook_failed', lang, notebook=f['notebook'], error=f['error']))}</li>"
                for f in run.get("failed", [])]
        # the sections of a stage left out for one reason are one line (a thin world's personas gave six)
        grouped: dict[tuple[str, str], list[str]] = {}
        for s in run.get("skipped", []):
            reason = said(stored(s["reason"], s.get("texts")), lang) if s["reason"] else ""
            grouped.setdefault((s["stage"], reason), []).append(s["section"])
        for (stage, reason), sections in grouped.items():
            labels = [section_label(x, lang) for x in sections if x != "*"]
            text = (t("run.section_skipped", lang, stage=t(f"stage.{stage}", lang),
                      section=t("sep.comma", lang).join(labels), reason=reason) if labels else
                    t("run.stage_skipped", lang, stage=t(f"stage.{stage}", lang), reason=reason))
            rows.append(f"<li>{e(text)}</li>")
        parts.append(f"<ul>{''.join(rows)}</ul>")
    params = {**run["parameters"], "notebooks": ", ".join(r["notebook"] for r in run["reports"])}
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _shown_parameters(params, lang).items())
    parts.append(f"<h2>{e(t('run.parameters', lang))}</h2><table>{rows}</table>")
    return "\n".join(parts)


def _write_page(path: Path, lang: str, title: str, body: str) -> None:
    write_text(path, _PAGE.format(lang=html.escape(lang), title=html.escape(title), body=body))


def _failed_page(staging: Path, out_dir: Path, run_day: str, failed: dict, lang: str,
                 kept: set[str] = frozenset()) -> str | None:
    """The page a report that failed to render leaves in its place: what failed, and the newest earlier run's
    version of it (``latest/`` lost the report for the week, and a bookmark to it opened nothing). Returns the
    run date it links to (None: no link). ``kept``: the reports this date's earlier run rendered and a run of
    some notebooks (``--only``) keeps: those stay (a failure page it carried over is written anew)."""
    e = html.escape
    name = f"{Path(failed['notebook']).stem}.html"
    if name in kept:  # this date's earlier run rendered it (kept by --only): that one stays
        return None
    earlier = sorted((p.parent.name for p in out_dir.glob(f"*/{name}")
                      if p.parent.name < run_day and _RUN_DIR.fullmatch(p.parent.name)
                      and _rendered_in(p.parent, name)), reverse=True)
    body = f"<p>{e(t('run.notebook_failed', lang, notebook=failed['notebook'], error=failed['error']))}</p>"
    if earlier:
        body += (f'<p>{e(t("run.failed_earlier", lang))} <a href="../{e(earlier[0])}/{e(name)}">'
                 f"{e(fmt_date(earlier[0], lang))}</a></p>")
    body += f'<p><a href="index.html">{e(t("run.title", lang))}</a></p>'
    _write_page(staging / name, lang, t("run.notebook_failed_title", lang, notebook=failed["notebook"]), body)
    return earlier[0] if earlier else None


def _rendered_in(folder: Path, html_name: str) -> bool:
    """Whether the run in ``folder`` rendered the report ``html_name`` (not a page saying it failed)."""
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(r.get("html") == html_name for r in record.get("reports", []))


def published_runs(out_dir: str | Path) -> list[dict]:
    """Every published run under ``out_dir`` (its ``run.json``), newest run date first."""
    runs = []
    for d in Path(out_dir).iterdir():
        if d.is_dir() and _RUN_DIR.match(d.name) and (d / "run.json").is_file():
            try:
                runs.append(json.loads((d / "run.json").read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                log.warning("skipping %s: unreadable run.json (%s)", d, exc)
    return sorted(runs, key=lambda r: r.get("run_date", ""), reverse=True)


def write_index(out_dir: str | Path, runs: list[dict] | None = None, path: str | Path | None = None) -> Path:
    """``<out>/index.html``: the newest run's reports with run date and parameters, then the earlier runs.

    ``runs`` (newest first) defaults to :func:`published_runs`; ``path`` (default ``<out>/index.html``) lets the
    publisher write the page beside its place before swapping it in.
    """
    out_dir = Path(out_dir)
    runs = published_runs(out_dir) if runs is None else runs
    if not runs:
        raise FileNotFoundError(f"no published run in {out_dir}")
    newest, earlier = runs[0], runs[1:]
    lang = newest["parameters"].get("lang") or "en"
    e = html.escape
    link = f"<a href=\"{LATEST}/index.html\">{LATEST}/</a>"
    good = _latest_record(out_dir)
    if not newest.get("no_data"):
        latest = f"<p>{e(t('run.same_reports', lang))} {link}</p>"
    elif good is not None and not good.get("no_data"):
        keeps = t("run.latest_keeps", lang, date=fmt_date(good["run_date"], lang))
        latest = f"<p><strong>{e(t('run.no_data', lang))}</strong> {e(keeps)} {link}</p>"
    else:
        latest = f"<p><strong>{e(t('run.no_data', lang))}</strong></p>"
    body = [_run_section(newest, f"{newest['run_date']}/", lang), latest]
    if earlier:
        head = "".join(f"<th>{e(t(k, lang))}</th>" for k in ("run.param.run_date", "run.started",
                                                              "run.param.lang", "run.param.as_of", "run.reports"))
        rows = []
        for r in earlier:
            p = _shown_parameters({"lang": r["parameters"].get("lang"),
                                   "as_of": r["parameters"].get("as_of") or r.get("as_of")}, lang)
            rows.append(f'<tr><td><a href="{e(r["run_date"])}/index.html">{e(r["run_date"])}</a></td>'
                        f'<td>{e(_started(r["started"], lang))}</td>' + "".join(f"<td>{e(v)}</td>" for v in p.values())
                        + f"<td>{len(r['reports'])}</td></tr>")
        body.append(f"<h2>{e(t('run.earlier', lang))}</h2><table><tr>{head}</tr>{''.join(rows)}</table>")
    path = Path(path) if path is not None else out_dir / "index.html"
    _write_page(path, lang, t("run.title", lang), "\n".join(body))
    return path


def _latest_record(out_dir: Path) -> dict | None:
    """The ``run.json`` of the run ``latest/`` holds (None when there is none)."""
    try:
        return json.loads((Path(out_dir) / LATEST / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def data_key(data_dir: Path) -> str:
    """Which data folder a run read, without naming its path (run.json travels: it names the folder only)."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]


def _other_parameters(before: dict, now: dict) -> str:
    """Which of the parameters that make two runs comparable (:data:`_SAME_RUN`) differ, with both values: "" when
    none does. A partial run said only "they were made with other parameters", not which (a user had given
    ``--only`` another ``--timezone``).

    >>> _other_parameters({"timezone": "UTC", "lang": "en", "seed": 1}, {"timezone": "Asia/Tokyo", "lang": "en",
    ...                                                                   "seed": 1})
    'timezone UTC (this run: Asia/Tokyo)'
    >>> _other_parameters({"data_key": "a1", "as_of": None, "lang": "en"}, {"data_key": "b2", "as_of": "2024-02-01",
    ...                                                                     "lang": "ja"})
    'another data folder, as_of not set (this run: 2024-02-01), lang en (this run: ja)'
    """
    def shown(v) -> str:
        return "not set" if v is None else str(v)

    return ", ".join("another data folder" if k == "data_key" else f"{k} {shown(before.get(k))} (this run: "
                     f"{shown(now.get(k))})" for k in _SAME_RUN if before.get(k) != now.get(k))


def _carry_over(previous: Path, staging: Path, entries: list[dict], params: dict, say,
                no_data: bool = False) -> tuple[list[dict], dict | None]:
    """A partial run keeps the other reports of its date when they were made with the same parameters (and
    both runs had usable data, or neither had: reports saying "not computed" never mix with reports of data).
    Returns the reports, and the previous run's record when its reports and artifacts were kept (None when
    they are replaced): see :func:`_keep_stages`."""
    try:
        before = json.loads((previous / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return entries, None
    if differ := _other_parameters({**_BEFORE, **before["parameters"], "data_key": before.get("data_key")}, params):
        say(f"replacing the reports of {previous.name}: they were made with other parameters: {differ}")
        return entries, None
    if bool(before.get("no_data")) != no_data:
        say(f"replacing the reports of {previous.name}: they were made " +
            ("with data, this run has none" if no_data else "without usable data"))
        return entries, None
    ran = {e["notebook"] for e in entries}
    kept = [e for e in before["reports"] if e["notebook"] not in ran]
    made = {p.name for p in (staging / "artifacts").iterdir()} if (staging / "artifacts").is_dir() else set()
    for item in previous.rglob("*"):
        rel = item.relative_to(previous)
        target = staging / rel
        if rel.parts[0] == "artifacts" and len(rel.parts) > 1 and rel.parts[1] in made:
            continue  # a stage this run exported: none of an older version's files mixed into it
        if item.is_file() and item.name not in ("index.html", "run.json") and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, target)
    if kept:
        say(f"keeping {count(len(kept), 'other report')} of {previous.name}")
    return sorted(entries + kept, key=lambda e: e["notebook"]), before


def _keep_stages(record: dict, before: dict, folder: Path) -> None:
    """The stages a partial run did not run, as the date's previous run recorded them (their artifacts were
    carried over into ``folder`` with its reports), with their skipped sections: ``open_run`` finds them, a report
    rendered again from the folder reads them, and the index still says what they could not compute. A stage whose
    inputs (its needs and the stages it uses) this run made anew from other data is not kept, computed, failed or
    skipped alike: its artifacts are removed and it reads as not run, rather than an old panel beside a new ingest."""
    from ..pipeline.stages import STAGES

    order = {st.name: i for i, st in enumerate(STAGES)}
    inputs = {st.name: (*st.needs, *st.uses) for st in STAGES}
    was = {st.get("name"): st.get("key") for st in before.get("stages", [])}
    keys = {st["name"]: st.get("key") for st in record.get("stages", [])}
    ran = set(keys)
    kept = []
    for st in sorted((st for st in before.get("stages", []) if st.get("name") not in ran),
                     key=lambda st: order.get(st["name"], len(order))):
        if any(n in was and keys.get(n) != was[n] for n in inputs.get(st["name"], ())):
            shutil.rmtree(folder / "artifacts" / st["name"], ignore_errors=True)
            continue
        keys[st["name"]] = st.get("key")
        kept.append(st)
    if not kept:
        return
    names = {st["name"] for st in kept}
    record["stages"] = sorted(record.get("stages", []) + kept, key=lambda st: order.get(st["name"], len(order)))
    for key in ("skipped", "not_due"):
        record[key] = record.get(key, []) + [x for x in before.get(key, []) if x.get("stage") in names]


def _rename(src: Path, dst: Path) -> None:
    """One rename within the reports folder (atomic on one file system; the tests make it fail on purpose)."""
    os.rename(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _os_error_text(exc: OSError) -> str:
    """An OS error in a line: ``shutil.copytree``'s error carries one ``(source, target, why)`` per file it could
    not copy (92 KB of them on a full disk), said here as the first reason and how many files had one."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        first = exc.args[0][0]
        why = first[2] if isinstance(first, tuple) and len(first) == 3 else first
        n = len(exc.args[0])
        return f"{why}" + (f" (and {count(n - 1, 'other file')})" if n > 1 else "")
    return exc.strerror or str(exc)[:300]


def tidy_reports(out_dir: Path, say=None) -> list[str]:
    """Put right what a run ended by a kill left in the reports folder: its staging folder (``.staging-<pid>``)
    and the pieces :func:`_publish` prepared beside their places are removed; an old piece moved aside whose
    new one never arrived (killed between the two renames) is put back, so ``latest/``, a dated folder or
    ``index.html`` is never left missing. Only while holding the folder's lock (another run's pieces are work in
    progress). Returns the names it removed or put back."""
    done = []
    for old in sorted(out_dir.glob(".old-*")):
        name = old.name[len(".old-"):].rsplit("-", 2)[0]  # .old-<name>-<pid>-<ns>
        target = out_dir / name
        if name and not target.exists() and not target.is_symlink():
            _rename(old, target)
            done.append(f"{name} (put back)")
        else:
            _remove(old)
            done.append(old.name)
    for pattern in (".staging-*", f".{LATEST}-*", ".index-*.html"):
        for piece in sorted(out_dir.glob(pattern)):
            _remove(piece)
            done.append(piece.name)
    if done and say is not None:
        say(f"reports folder: tidied what a stopped run left ({', '.join(done)})")
    return done


def beyond_retention(runs: list[dict], keep_runs: int | None, run_date: str, pinned: Sequence[dict] = ()
                     ) -> list[str]:
    """The run dates whose folders a reports folder keeping ``keep_runs`` runs drops (``runs``: the published
    records with this run's, any order; None or 0 keeps every one).

    Kept: the ``keep_runs`` newest run dates, this run's own (a backfill is not published to be deleted), the
    runs of ``pinned`` records (the one ``latest/`` holds: after a run without usable data it is an older one),
    and, followed from each kept run, the runs its failed-report pages link to (its record's
    ``failed[].earlier``; for a record without it, the newest earlier run that rendered the report).

    >>> runs = [{"run_date": "2026-03-01", "reports": [{"html": "01_a.html"}]},
    ...         {"run_date": "2026-03-02", "reports": [{"html": "01_a.html"}]},
    ...         {"run_date": "2026-03-03", "reports": [], "failed": [{"notebook": "01_a.ipynb"}]}]
    >>> beyond_retention(runs, 1, "2026-03-03")
    ['2026-03-01']
    """
    if not keep_runs or keep_runs < 0:
        return []
    by_date = {r["run_date"]: r for r in runs if r.get("run_date")}
    dates = sorted(by_date, reverse=True)
    todo = [by_date[d] for d in dates[:keep_runs]] + [by_date.get(run_date, {"run_date": run_date})] + list(pinned)
    kept: set[str] = set()
    while todo:  # a kept run's failed page links to a run whose own failed page may link further back
        record = todo.pop()
        day = record.get("run_date")
        if not day or (day in kept and record is by_date.get(day)):
            continue
        kept.add(day)
        for f in record.get("failed") or []:
            name = f"{Path(str(f.get('notebook', ''))).stem}.html"
            linked = f.get("earlier") or next((d for d in dates if d < day and name in {
                e.get("html") for e in by_date[d].get("reports", [])}), None)
            if linked and linked not in kept and linked in by_date:
                todo.append(by_date[linked])
    return [d for d in dates if d not in kept]


def _publish(staging: Path, out_dir: Path, run_date: str, keep_runs: int | None = None) -> Path:
    """Move the staged run to ``<out>/<run_date>/`` and refresh ``latest/`` and ``index.html``: all or nothing;
    then remove the dated folders beyond ``keep_runs`` (:func:`beyond_retention`).

    ``latest/`` holds the newest run date with usable data: a run whose ingest kept nothing (``no_data`` in its
    ``run.json``) is published in its dated folder, where its reports say why, and ``latest/`` keeps the last
    good reports.

    Everything new is prepared beside its place first (the copy for ``latest/``, the index page); only then do
    renames put the new pieces in place, each old one moved aside. If a rename fails (a folder locked by
    another program, a disk gone read-only), the renames already made are undone, so the reports folder is
    exactly as before, and the error is raised. The old copies are deleted only once all pieces are in place.
    """
    dated = out_dir / run_date
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    record = json.loads((staging / "run.json").read_text(encoding="utf-8"))
    runs = sorted([r for r in published_runs(out_dir) if r.get("run_date") != run_date] + [record],
                  key=lambda r: r.get("run_date", ""), reverse=True)
    prepared: list[Path] = []
    moves = [(staging, dated)]
    held = _latest_record(out_dir)  # a run date's good reports may live on only there (its folder re-run without data)
    if record.get("no_data") and held:  # latest/ stays as it is: its run, and what its pages link to, stay too
        dropped = beyond_retention(runs, keep_runs, run_date, pinned=[held])
    else:
        dropped = beyond_retention(runs, keep_runs, run_date)
    runs = [r for r in runs if r.get("run_date") not in dropped]
    newest_good = max([r["run_date"] for r in runs if not r.get("no_data")]
                      + ([held["run_date"]] if held and not held.get("no_data") else []), default="")
    try:
        if record.get("no_data"):
            log.info("run date %s: no usable data, latest/ unchanged", run_date)
        elif run_date >= newest_good:
            copy = out_dir / f".{LATEST}-{tag}"
            prepared.append(copy)
            shutil.copytree(staging, copy)
            moves.append((copy, out_dir / LATEST))
        else:
            log.info("run date %s is older than the newest run with data (%s): latest/ unchanged", run_date,
                     newest_good)
        index = out_dir / f".index-{tag}.html"
        prepared.append(index)
        write_index(out_dir, runs, path=index)
        moves.append((index, out_dir / "index.html"))
    except BaseException:
        for p in prepared:
            _remove(p)
        raise
    done: list[tuple[Path, Path, Path | None]] = []  # (new, target, where the old target was moved)
    try:
        for new, target in moves:
            old = None
            if target.exists() or target.is_symlink():
                old = out_dir / f".old-{target.name}-{tag}"
                _rename(target, old)
            try:
                _rename(new, target)
            except BaseException:
                if old is not None:
                    _rename(old, target)
                raise
            done.append((new, target, old))
    except BaseException:
        for new, target, old in reversed(done):  # undo, newest first: each piece back where it was
            try:
                _rename(target, new)
                if old is not None:
                    _rename(old, target)
            except OSError as exc:  # cannot happen short of the disk failing now; say where things are
                log.error("could not restore %s (%s): the previous version is in %s", target, exc, old)
        for p in prepared:
            _remove(p)
        raise
    for _, _, old in done:
        if old is not None:
            _remove(old)
    for day in dropped:
        if _RUN_DIR.fullmatch(day) and (out_dir / day).is_dir():
            _remove(out_dir / day)
            log.info("reports folder: removed the run of %s (keeping %d runs)", day, keep_runs)
    return dated


NOTEBOOK_META = "engage"  # notebook metadata key: {"needs": [stage, ...]}: the stages a report renders


def notebook_needs(path: Path) -> list[str]:
    """The pipeline stages a notebook renders (its metadata ``engage.needs``; none for a notebook of one's own)."""
    meta = nbformat.read(path, as_version=4).metadata.get(NOTEBOOK_META, {})
    return list(meta.get("needs", []))


def broken_sections(skipped: list[dict], records: dict, had_actions: bool = True) -> list[str]:
    """What broke in the pipeline, one line each (``run.json``'s ``broken``, the console's reason for exit 3): a
    section or stage that failed with an error, and no action list for the CRM when the run had the actions stage
    and either that stage failed or an earlier run of the data folder made one (``had_actions``: the CRM job then
    expects one; a world that never had enough churners for a health score is thin, not broken: 6 of 13 small
    worlds exited 3 every week for that alone). Thin sections are not in it."""
    out = [f"{s.get('stage')}: {s.get('reason')}" if s.get("section") == "*" else
           f"{s.get('stage')} / {s.get('section')}: {s.get('reason')}" for s in skipped if s.get("kind") == "error"]
    actions = records.get("actions")
    # "failed" covers thin data too (kind "insufficient_data": a customer base that has all left); only an error
    # is broken on a folder that never had a list: the first run of such a world exited 3 for being thin
    if actions is not None and actions.status not in ("computed", "reused") and (
            had_actions or (actions.status == "failed" and actions.kind != "insufficient_data")):
        out.append(f"no action list for the CRM (actions: {actions.reason})")
    return out


def _had_action_list(data_path: Path, pipeline_run) -> bool:
    """Whether a run of this data folder made an action list for a date at or before this run's (its
    ``artifacts/run_dates.json``; a backfill before the first one had none to lose)."""
    from ..pipeline.flow import ARTIFACTS, made_action_list_by
    from ..pipeline.store import Store

    if pipeline_run is None or "ingest" not in pipeline_run:
        return False
    return made_action_list_by(Store(Path(data_path) / ARTIFACTS), pipeline_run.as_of)


class RunResult(list):
    """The HTML reports of a run (a list of paths), with how the run went.

    ``exit_code``: 0 everything published (and delivered), thin sections said and listed; 3 published with
    something broken (notebooks failed, a section or stage failed with an error, a lost action list, a delivery
    failed; listed in ``run.json`` and on the index page; :meth:`why` says it in a line); 4 no usable data
    (``no_data``: the ingest stage kept nothing), the reports saying why published in the dated folder only, ``latest/``
    unchanged. ``failed``: the notebooks that raised; ``skipped``: the sections the stages could not compute,
    with their reasons; ``delivery``: one result per channel of the configuration's ``delivery`` section
    (``status`` ``sent`` or ``failed`` with ``error``).
    """

    def __init__(self, paths, failed: list[dict], skipped: list[dict], folder: Path,
                 delivery: list[dict] | None = None, no_data: bool = False, broken: list[str] | None = None):
        super().__init__(paths)
        self.failed, self.skipped, self.folder = failed, skipped, folder
        self.delivery = delivery or []
        self.no_data = no_data
        self.broken = broken if broken is not None else broken_sections(skipped, {})

    def why(self) -> list[str]:
        """What made the exit code 3, one line each (empty when nothing broke): the reports not rendered, what
        broke in the pipeline (:func:`broken_sections`), the deliveries that failed."""
        return ([f"report not made: {f.get('notebook')}" for f in self.failed] + list(self.broken)
                + [f"delivery failed: {d.get('target', d.get('channel', ''))}" for d in self.delivery
                   if d.get("status") != "sent"])

    @property
    def delivery_failed(self) -> bool:
        return any(d["status"] != "sent" for d in self.delivery)

    @property
    def exit_code(self) -> int:
        """4 no usable data; 3 something broke (a report that did not render, a section or stage that failed
        with an error, a lost action list (:func:`broken_sections`), a delivery that failed); else 0, thin data
        included: a section too thin to compute is said in its report and listed in ``run.json`` (a weekly run
        exited 3 for a persona landmark not yet reached, 24 weeks running, the same code as two reports that
        failed)."""
        if self.no_data:
            return 4
        return 3 if self.failed or self.broken or self.delivery_failed else 0


def _deliver(cfg: RunConfig, pipeline_run, run_day: str, out_dir: Path, dated: Path, say) -> list[dict]:
    """Send the run's alerts as ``cfg.delivery`` says, after publishing: a failure is logged, recorded in
    ``run.json`` and on the index pages, and never touches the reports."""
    from ..delivery import deliver_run

    if not cfg.delivery.enabled or pipeline_run is None:
        return []
    if "actions" not in pipeline_run.records:  # e.g. --only 01: the alerts were not part of this run
        say("delivery: not sent (this run's reports do not need the actions stage, where the alerts are made)")
        return []
    try:
        results = [r.as_dict() for r in deliver_run(pipeline_run, cfg.delivery, run_date=run_day)]
    except Exception as exc:  # a bug in building the message: the reports stay published, the run says so
        log.error("delivery failed:\n%s", traceback.format_exc())
        results = [{"channel": "all", "target": "deliveries", "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}]
    for r in results:
        say(f"delivery: {r['target']}: {r['status']}" + (f" ({r['error']})" if r["error"] else ""))
    _record_delivery(out_dir, dated, results)
    return results


def _record_delivery(out_dir: Path, dated: Path, results: list[dict]) -> None:
    """Add the deliveries to the published ``run.json`` and index pages (the dated folder, ``latest/`` when it
    holds this run, and ``<out>/index.html``)."""
    failed = any(r["status"] != "sent" for r in results)
    this = json.loads((dated / "run.json").read_text(encoding="utf-8"))
    for folder in (dated, out_dir / LATEST):
        path = folder / "run.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        if (record.get("run_date"), record.get("started")) != (this.get("run_date"), this.get("started")):
            continue  # latest/ holds a newer run date: this run is a backfill
        record["delivery"] = results
        if failed:
            record["status"] = f"{record.get('status', 'published')}; delivery failed"
        lang = record["parameters"].get("lang") or "en"
        write_text(path, json.dumps(jsonable(record), indent=2, ensure_ascii=False) + "\n")
        _write_page(folder / "index.html", lang, t("run.title", lang), _run_section(record, "", lang))
    write_index(out_dir)


def prepare_data(data_dir: Path, demo: bool | None, seed: int, demo_accounts: int | None, demo_months: int | None,
                 say) -> bool:
    """Check the data folder and generate the demo world where allowed; return whether the data are simulated.

    A mistyped ``--data-dir`` must not silently become a demo world: only the project's default data folder,
    or an explicit ``demo=True``, may be filled with generated data.
    """
    raw = data_dir / "raw"
    if not has_raw_tables(raw):
        allowed = demo if demo is not None else data_dir.resolve() == config.DATA_DIR.resolve()
        if not allowed:
            if not data_dir.exists():
                raise ConfigError(f"data folder {data_dir} does not exist (pass --demo to generate a demo world there)")
            raise ConfigError(f"no raw tables in {raw}: put the tables there, or pass --demo to generate a demo world")
        sizes = {k: v for k, v in (("n_accounts", demo_accounts), ("months", demo_months)) if v}
        say(f"no raw tables in {raw}: generating the demo world (seed {seed})")
        summary = simulate(out=raw, seed=seed, **sizes)
        say(f"  {count(summary['tables']['events'], 'event')} for {count(summary['tables']['accounts'], 'account')}")
    return (raw / SIMULATED_MARKER).exists()


#: The simulator writes this file beside the tables it generates: reports built on them say so on every page.
SIMULATED_MARKER = "truth.json"


def machine_paths(staging: Path, data_dir: Path, out_dir: Path, notebooks_dir: Path) -> list[tuple[str, str]]:
    """Absolute paths of this machine a published file must not show, each with what it becomes, longest first.

    The run's folder becomes ``..`` (an executed notebook sits in ``executed/`` of its run), the data, reports
    and notebook folders their names, Python's installation ``<python>``, the home folder ``~``.
    """
    pairs = {str(staging): "..", str(data_dir): Path(data_dir).name, str(out_dir): Path(out_dir).name,
             str(notebooks_dir): Path(notebooks_dir).name, str(config.PROJECT_ROOT): config.PROJECT_ROOT.name,
             sys.prefix: "<python>", sys.base_prefix: "<python>", str(Path.home()): "~"}
    return sorted(((k, v) for k, v in pairs.items() if len(k) > 1), key=lambda kv: -len(kv[0]))


def strip_machine_paths(text: str, paths: list[tuple[str, str]]) -> str:
    """``text`` with every path of :func:`machine_paths` replaced (longest first, so a folder inside another
    is replaced by its own name)."""
    for path, shown in paths:
        text = text.replace(path, shown)
    return text


#: Executed notebooks kept for reuse, under the pipeline's artifact store: ``<data_dir>/artifacts/.rendered/``.
RENDERED_DIR = ".rendered"
#: Executed notebooks kept per report (the newest by use).
RENDERED_KEEP = 2
#: Notebook parameters that name this run's staging folder: they change every run but not what is shown.
_RUN_PATHS = ("run_dir", "output_dir")


def render_key(nb: Path, nb_params: dict, kernel: str, stages: list[dict], config: dict) -> str:
    """What an executed report depends on: the notebook's text, the package's code, the kernel, the notebook's
    parameters (without the run's staging paths), the run's configuration (the notebooks read the language,
    the currency... from it) and the key, failure reason and skipped sections of each stage in ``stages`` (not
    its status or time: a reused stage renders as the computed one did). The runner passes the stages up to
    the last the notebook reads (see ``_ready_at``): a later stage's change does not execute it again."""
    from ..pipeline.store import code_version

    shown = [{k: s.get(k) for k in ("name", "key", "reason", "kind", "skipped")} for s in stages]
    payload = json.dumps(jsonable({"notebook": hashlib.sha256(nb.read_bytes()).hexdigest(), "code": code_version(),
                                   "kernel": kernel, "stages": shown, "config": config,
                                   "params": {k: v for k, v in nb_params.items() if k not in _RUN_PATHS}}),
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _cached_render(cache: Path, key: str, nb: Path) -> Path:
    return cache / f"{nb.stem}-{key}.ipynb"


def _keep_render(cache: Path, key: str, nb: Path, executed: Path) -> None:
    """Keep ``executed`` (already without machine paths) for a later run with the same key; prune older ones."""
    tmp = None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        target = _cached_render(cache, key, nb)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(executed, tmp)
        tmp.replace(target)
        older = sorted(cache.glob(f"{nb.stem}-*.ipynb"), key=lambda q: q.stat().st_mtime, reverse=True)
        for old in older[RENDERED_KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only store only costs the next run a render
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # a full disk left it empty
        log.warning("could not keep the executed %s for reuse: %s", nb.name, exc)


def _ready_at(nb: Path, stage_names: Sequence[str]) -> int:
    """The position of the last stage (in the pipeline's order) a notebook reads: it may execute once every
    stage up to that one is recorded. Its reports read only stages up to there (``engage.needs`` names the last;
    the ones before are its inputs), so its :func:`render_key` covers those stages' records only."""
    return max(stage_names.index(s) for s in notebook_needs(nb))


def _execute(nb: Path, staging: Path, nb_params: dict, kernel: str, timeout: int | None,
             paths: list[tuple[str, str]] = (), cache: tuple[Path, str] | None = None,
             kernels: Kernels | None = None) -> tuple[float, bool]:
    """Execute one notebook into ``staging``; ``(seconds, reused)``, or raises NotebookFailed.

    The executed notebook is published (``executed/``): its parameters, Papermill's record and any warning
    text are kept without the machine's paths (``paths``, see :func:`machine_paths`). With ``cache`` (a folder
    and the notebook's :func:`render_key`), a notebook executed before with the same key is not executed
    again: its kept copy is used (``reused``). ``kernels``: the run's running kernels (:class:`Kernels`)."""
    executed = staging / nb.name
    t0 = time.perf_counter()
    if cache is not None and _cached_render(*cache, nb).is_file():
        kept = _cached_render(*cache, nb)
        shutil.copyfile(kept, executed)
        os.utime(kept)  # the newest by use is kept longest
        return time.perf_counter() - t0, True
    def strip() -> None:  # a failed cell's traceback names the package's files: published all the same
        if paths and executed.is_file():
            executed.write_text(strip_machine_paths(executed.read_text(encoding="utf-8"), paths), encoding="utf-8")

    try:
        pm.execute_notebook(str(nb), str(executed), parameters=nb_params, kernel_name=kernel, progress_bar=False,
                            log_output=False, execution_timeout=timeout,
                            kernel_manager_class=_kernel_manager_class(kernels))
    except pm.PapermillExecutionError as exc:
        strip()
        raise NotebookFailed(nb.name, _source_cell(executed, exc.cell_index), exc.ename, exc.evalue,
                             exc.source) from exc
    except Exception as exc:  # kernel died, timeout, bad notebook: still name the notebook
        strip()
        raise NotebookFailed(nb.name, None, type(exc).__name__, str(exc)) from exc
    strip()
    if cache is not None:
        _keep_render(*cache, nb, executed)
    return time.perf_counter() - t0, False


def _export(nb: Path, staging: Path, lang: str, meta: str, seconds: float, reused: bool) -> dict:
    """The executed notebook as its HTML report, with this run's title line; the report's entry."""
    t0 = time.perf_counter()
    done = nbformat.read(staging / nb.name, as_version=4)
    title = report_title(done, lang, nb.stem)
    html_path = export_html(done, staging / f"{nb.stem}.html", lang=lang, title=title, meta=meta)
    return {"notebook": nb.name, "title": title, "html": html_path.name,
            "seconds": seconds + time.perf_counter() - t0, "reused": reused}


def run(
    *,
    data_dir: str | Path | None = None,
    out_dir: str | Path = config.REPORTS_DIR,
    notebooks_dir: str | Path = config.NOTEBOOKS_DIR,
    only: Sequence[str] | None = None,
    as_of: str | None = None,
    horizon_days: int | None = None,
    lang: str | None = None,
    seed: int | None = None,
    run_date: str | date | None = None,
    demo: bool | None = None,
    demo_if_empty: bool | None = None,
    demo_accounts: int | None = None,
    demo_months: int | None = None,
    kernel_name: str | None = None,
    timeout: int | None = 1800,
    progress: Callable[[str], None] | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    spark_driver_memory: str | None = None,
    currency: str | None = None,
    config_file: str | Path | None = None,
    run_config: RunConfig | None = None,
    workers: int | None = None,
    rerender: bool = False,
    model: str | Path | None = None,
    retrain: str | None = None,
    models_dir: str | Path | None = None,
    timezone: str | None = None,
    wait: float = 0,
    keep_runs: int | None = None,
) -> RunResult:
    """Run the pipeline and publish the reports into ``out_dir/<run_date>/`` and ``out_dir/latest/``.

    Parameters
    ----------
    config_file, run_config
        The run's configuration (a YAML file, or a :class:`~engage_models.pipeline.RunConfig`); the keyword
        arguments (``data_dir``, ``as_of``, ``horizon_days``, ``lang``, ``seed``, ``run_date``, ``currency``,
        ``engine``, ``timezone``...) override it. Everything is checked before any work starts. Without a run
        date the run is dated today on the calendar of its ``timezone``.
    demo : bool, optional
        Generate the demo world when the data folder has no raw tables. Default: only into the project's own
        data folder (``demo_if_empty`` is the former name).
    only : list of str, optional
        Render only the notebooks whose names start with these; with the same parameters the date's other
        reports are kept.
    workers : int, optional
        Notebooks rendered at once once the pipeline is done (default: 2, or 1 on a single core). While it
        runs, a report's notebook executes as soon as the stages it reads are recorded, one at a time beside
        the stages; the title lines (naming the run's model) are written when the pipeline is done.
    rerender : bool, default False
        Execute every notebook. By default a report whose notebook, code, parameters and stage artifacts are
        those of an earlier run is not executed again: its executed copy (kept in the data folder's
        ``artifacts/.rendered/``) is exported with this run's title line.
    model, retrain, models_dir
        Score with a frozen model folder (``model``), or let the policy ``retrain`` (never, monthly, on-drift)
        choose between training and the current model of ``models_dir`` (see :mod:`engage_models.lifecycle`).
    wait : float, default 0
        Seconds to wait for another engage process that holds the data folder or the reports folder (0: stop
        at once; negative: as long as it takes). The run holds both from its first stage until it has
        published (:mod:`engage_models._core.locks`).
    keep_runs : int, optional
        Keep the dated folders of the newest ``keep_runs`` runs (and, for a report none of them rendered, the
        newest run that did), removing older ones once this run is published; None keeps every run (a run's
        folder holds its HTML, executed notebooks and artifacts: about 10 MB at 190 accounts).

    Returns
    -------
    RunResult
        The HTML reports of this run, in ``out_dir/<run_date>/``, with ``exit_code``, ``failed`` and ``skipped``.

    Raises
    ------
    ConfigError
        A parameter is not valid, or the data folder holds no data (nothing was touched).
    FolderBusy
        Another engage process holds the data or the reports folder (nothing was touched).
    NotebookFailed
        No report could be rendered; ``out_dir`` keeps the previous reports.
    """
    from ..pipeline import RunConfig
    from ..pipeline import run as run_pipeline
    from ..pipeline.flow import ARTIFACTS, record_run
    from ..pipeline.stages import EXPORT_DIR, STAGE_NAMES

    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    overrides = {"as_of": as_of, "horizon_days": horizon_days, "lang": lang, "seed": seed, "engine": engine,
                 "spark_master": spark_master, "spark_driver_memory": spark_driver_memory, "currency": currency,
                 "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else None,
                 "run_date": parse_run_date(run_date) if run_date is not None else None, "timezone": timezone,
                 "model": str(Path(model).resolve()) if model is not None else None, "retrain": retrain,
                 "models_dir": str(Path(models_dir).resolve()) if models_dir is not None else None}
    if run_config is not None:
        cfg = run_config.replace(**overrides)
    else:
        cfg = RunConfig.load(config_file, **overrides)
    if cfg.data_dir == str(config.DATA_DIR) or data_dir is None:
        cfg = cfg.replace(data_dir=str(Path(cfg.data_dir).resolve()))
    if cfg.run_date is None:  # today where the company is (a Tokyo run at 08:00 is dated that day, not the day before)
        cfg = cfg.replace(run_date=parse_run_date(None, cfg.zone))
    lang, run_day, data_path, out_dir = cfg.lang, cfg.run_date, Path(cfg.data_dir), Path(out_dir).resolve()
    notebooks = discover_notebooks(notebooks_dir)
    if only:
        notebooks = [nb for nb in notebooks if any(nb.stem.startswith(o) or nb.name == o for o in only)]
        if not notebooks:
            raise ConfigError(f"no notebook in {notebooks_dir} matches {list(only)}")
    kernel = resolve_kernel(kernel_name)
    needs = {s for nb in notebooks for s in notebook_needs(nb)}
    unknown = needs - set(STAGE_NAMES)
    if unknown:
        raise ConfigError(f"notebooks need {count(len(unknown), '=an unknown stage', '=unknown stages')} "
                          f"{sorted(unknown)} (stages: {', '.join(STAGE_NAMES)})")
    if not data_path.is_dir() and (needs or demo or demo_if_empty):
        flag = demo if demo is not None else demo_if_empty
        if not (flag if flag is not None else data_path.resolve() == config.DATA_DIR.resolve()):
            prepare_data(data_path, flag, cfg.seed, demo_accounts, demo_months, say)  # a mistyped folder: said
        data_path.mkdir(parents=True, exist_ok=True)  # the first demo run: the world is made under the lock
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only, or a file where the folder should be: nothing done yet
        raise ConfigError(f"cannot write into the reports folder {out_dir}: {exc.strerror or exc}") from None
    deadline = time.monotonic() + wait
    with contextlib.ExitStack() as locks:  # one engage process at a time in each folder (see _core.locks)
        if data_path.is_dir():
            locks.enter_context(hold(data_path, "run", wait, name="the data folder"))
        locks.enter_context(hold(out_dir, "run", max(0.0, deadline - time.monotonic()) if wait >= 0 else wait,
                                 name="the reports folder", waited=wait))
        tidy_reports(out_dir, say)
        started = datetime.now(ZoneInfo(cfg.zone)).strftime("%Y-%m-%d %H:%M %Z")  # UTC, JST, CET...
        say(f"run {run_day}: started {started} (pid {os.getpid()})")  # a scheduled job's log tells its runs apart
        simulated = prepare_data(data_path, demo if demo is not None else demo_if_empty, cfg.seed, demo_accounts,
                                 demo_months, say) if needs or demo or demo_if_empty else False
        params = RunParameters(data_path.name, cfg.as_of, cfg.horizon_days, lang, cfg.seed, run_day, cfg.engine,
                               cfg.spark_master, cfg.spark_driver_memory, cfg.currency, cfg.zone).as_dict()

        staging = out_dir / f".staging-{os.getpid()}"
        try:  # the reports folder was made before its lock was taken
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
        except OSError as exc:  # read-only, locked, or a file where the folder should be: nothing done yet
            raise ConfigError(f"cannot write into the reports folder {out_dir}: {exc.strerror or exc}") from None
        try:
            paths = machine_paths(staging, data_path, out_dir, Path(notebooks_dir).resolve())
            public = {k: v for k, v in cfg.to_dict().items() if not isinstance(v, dict)}
            n_workers = workers or min(2, os.cpu_count() or 1)
            # Beside the pipeline one notebook executes at a time (the stages keep the other cores); once the
            # pipeline is done, ``n_workers``. A report's notebook starts as soon as every stage up to the last it
            # reads is recorded (``_ready_at``); a notebook of one's own (no needs) waits for the whole pipeline.
            gate = threading.BoundedSemaphore(n_workers)
            held = n_workers - 1
            for _ in range(held):
                gate.acquire()
            futures: dict = {}
            order = {nb: i for i, nb in enumerate(notebooks, 1)}
            waiting = list(notebooks)

            stopped = threading.Event()  # the pipeline raised: a notebook waiting for its turn does not start
            kernels = Kernels()  # the notebooks' kernels while they run: a stopped run ends them

            def gated(nb, *args):
                try:
                    with gate:
                        if stopped.is_set():
                            raise NotebookFailed(nb.name, None, "Cancelled", "the pipeline stopped before it ran")
                        return _execute(nb, *args)
                finally:
                    close_thread_loop()

            def submit(ready: list[Path], stages: list[dict] | None) -> None:
                for nb in ready:
                    waiting.remove(nb)
                    declared = pm.inspect_notebook(str(nb))
                    values = {**public, "data_dir": str(data_path), "run_dir": str(staging), "output_dir": str(staging)}
                    nb_params = {k: v for k, v in values.items() if k in declared}
                    say(f"[{order[nb]}/{len(notebooks)}] {nb.name} ...")
                    cache = None
                    if stages is not None and notebook_needs(nb) and not rerender:
                        key = render_key(nb, nb_params, kernel, stages[:_ready_at(nb, STAGE_NAMES) + 1], cfg.to_dict())
                        cache = (data_path / ARTIFACTS / RENDERED_DIR, key)
                    futures[pool.submit(gated, nb, staging, nb_params, kernel, timeout, paths, cache, kernels)] = nb

            def on_stage(so_far) -> None:
                """A stage is recorded: export what is done, start the notebooks whose stages are all there."""
                ready = [nb for nb in waiting if notebook_needs(nb)
                         and _ready_at(nb, STAGE_NAMES) < len(so_far.records)]
                if ready:
                    so_far.export(staging, keep=True)
                    submit(ready, [r.as_dict() for r in so_far.records.values()])

            pipeline_run = None
            with ThreadPoolExecutor(max_workers=n_workers) as pool:
                try:
                    if needs:
                        until = max(needs, key=STAGE_NAMES.index)
                        say(f"pipeline (up to {until}):")
                        # recorded as sent once published (below): files that reached nobody were not sent
                        pipeline_run = run_pipeline(cfg, until=until, progress=say, on_stage=on_stage, record=False)
                        pipeline_run.export(staging, keep=True)
                        for exported in sorted((staging / "artifacts").glob(f"*/{EXPORT_DIR}/*")):
                            shutil.copy2(exported, staging / exported.name)  # files for others (the CRM's action list)
                except BaseException:  # the run stops: no report is published, none goes on executing
                    stopped.set()
                    for f in futures:
                        f.cancel()
                    kernels.stop()
                    raise
                finally:
                    for _ in range(held):  # every core to the notebooks now (or to finishing them, on an error)
                        gate.release()
                executed = {}
                failures = []
                try:
                    submit(list(waiting), [r.as_dict() for r in pipeline_run.records.values()]
                           if pipeline_run is not None else None)
                    for fut in as_completed(futures):
                        nb = futures[fut]
                        try:
                            executed[nb] = fut.result()
                        except NotebookFailed as exc:
                            failures.append(exc)
                            say(f"      {exc}")
                except BaseException:  # Ctrl-C or SIGTERM while rendering: no notebook starts after it, and
                    stopped.set()  # the ones executing are ended (their kernels do not see the signal)
                    for f in futures:
                        f.cancel()
                    kernels.stop()
                    raise
            skipped = pipeline_run.missing_sections if pipeline_run is not None else []
            not_due = [x for x in pipeline_run.skipped_sections if x not in skipped] if pipeline_run is not None else []
            broken = broken_sections(skipped, pipeline_run.records if pipeline_run is not None else {},
                                     had_actions=_had_action_list(data_path, pipeline_run))
            meta = _meta_line(params, started, lang, simulated, model_id=_model_id(pipeline_run))
            entries = []
            for nb in notebooks:  # the title line names the run's model: known once the pipeline is done
                if nb in executed:
                    entry = _export(nb, staging, lang, meta, *executed[nb])
                    entries.append(entry)
                    how = "unchanged, exported again" if entry.pop("reused", False) else "done"
                    say(f"      {nb.name} {how} in {entry['seconds']:.1f} s -> {entry['html']}")
            entries.sort(key=lambda e: e["notebook"])
            if not entries:
                raise failures[0] if len(failures) == 1 else NotebookFailed(
                    ", ".join(f.notebook for f in failures), None, "every notebook failed",
                    "; ".join(str(f) for f in failures))
            (staging / "executed").mkdir()
            for nb in notebooks:
                if (staging / nb.name).exists():
                    (staging / nb.name).rename(staging / "executed" / nb.name)
            no_data = pipeline_run is not None and any(r.name == "ingest" for r in pipeline_run.failed)
            before = None
            if only and (out_dir / run_day / "run.json").exists():
                entries, before = _carry_over(out_dir / run_day, staging, entries,
                                              {**params, "data_key": data_key(data_path)}, say, no_data)
            reports = {e["html"] for e in entries}
            reports |= {f"{Path(f.notebook).stem}.html" for f in failures}
            files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()
                           and p.parent.name != "executed" and p.name not in reports and p.name != "run.json"
                           and "artifacts" not in p.relative_to(staging).parts)
            failed = [{"notebook": f.notebook, "cell": f.cell, "error": f"{f.ename}: {f.evalue}"} for f in failures]
            for f in failed:  # a bookmark to a report that failed this week opens a page that says so
                if linked := _failed_page(staging, out_dir, run_day, f, lang, {e["html"] for e in entries}):
                    f["earlier"] = linked  # that run's folder outlives --keep-runs while this page does
            record = {"run_date": run_day, "started": started, "parameters": params, "data_key": data_key(data_path),
                      "kernel": kernel,
                      "simulated_data": simulated, "reports": entries, "files": files, "failed": failed,
                      "skipped": skipped, "not_due": not_due, "broken": broken,
                      "status": "published without usable data (latest/ unchanged)" if no_data
                      else "published with sections skipped" if failed or skipped else "published"}
            if no_data:
                record["no_data"] = True
            if pipeline_run is not None:
                record.update(json.loads((staging / "run.json").read_text(encoding="utf-8")))
                if "ingest" in pipeline_run.artifacts and pipeline_run["ingest"].has("dates"):
                    record["as_of"] = pipeline_run.as_of  # the observation date the data gave (the index shows it)
            if before is not None:
                _keep_stages(record, before, staging)
                # the date's reports that failed before and were not run again: their pages were carried over, and
                # the record keeps saying so (the index lists them; --keep-runs keeps what their pages link to)
                chosen = {nb.name for nb in notebooks}
                record["failed"] = failed + [f for f in before.get("failed", []) if f.get("notebook") not in chosen
                                             and (staging / f"{Path(str(f.get('notebook'))).stem}.html").exists()]
                if (record["skipped"] or record["failed"]) and record["status"] == "published":  # the folder's
                    record["status"] = "published with sections skipped"  # reports, not this run's exit code
            record["config"] = {**cfg.published(), "data_dir": data_path.name}
            write_text(staging / "run.json", json.dumps(jsonable(record), indent=2, ensure_ascii=False) + "\n")
            _write_page(staging / "index.html", lang, t("run.title", lang), _run_section(record, "", lang))
        except NotebookFailed as exc:
            failed_dir = out_dir / ".failed"
            shutil.rmtree(failed_dir, ignore_errors=True)
            staging.rename(failed_dir)
            exc.executed = failed_dir / exc.notebook
            exc.args = (f"{exc.args[0]}; the executed notebooks are kept in {failed_dir}",)
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

        try:
            dated = _publish(staging, out_dir, run_day, keep_runs)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            trouble = machine_trouble(exc)
            message = (f"cannot publish into {out_dir}: {trouble or _os_error_text(exc)}; the previous reports are "
                       "unchanged")
            raise (MachineError(message) if trouble else ConfigError(message)) from None
        shutil.rmtree(out_dir / ".failed", ignore_errors=True)
        delivery = _deliver(cfg, pipeline_run, run_day, out_dir, dated, say)
        if pipeline_run is not None:  # published: its alerts and CRM files are out, the next runs start after them
            delivered = not delivery or any(r["status"] == "sent" for r in delivery)
            if not delivered:
                say("delivery: no channel took the alerts; the next run sends them again")
            record_run(pipeline_run, delivered=delivered)
        if no_data:
            say(f"published {count(len(entries), 'report')} in {dated} without usable data (the ingest stage kept "
                f"nothing): latest/ left as it was (see {dated / 'index.html'})")
        elif failures or skipped:
            say(f"published {count(len(entries), 'report')} in {dated}, with {count(len(failures), 'notebook')} "
                f"failed and {count(len(skipped), 'section')} skipped (see {dated / 'index.html'})")
        else:
            say(f"published {count(len(entries), 'report')} in {dated} (index: {out_dir / 'index.html'})")
        paths = [dated / e["html"] for e in entries if e["notebook"] in {nb.name for nb in notebooks}]
        return RunResult(paths, failed, skipped, dated, delivery, no_data=no_data, broken=broken)
