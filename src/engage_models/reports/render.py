"""What a report notebook needs besides the domain views: open its run, and say in words what is missing.

A report notebook holds a parameters cell (``run_dir``), opens the run with :func:`open_report`, and before each
section asks :func:`available`, which shows the reason in the report's language when a stage could not compute
that section (thin data), so the rest of the report renders.
"""

from __future__ import annotations

import html
import unicodedata
from pathlib import Path

from IPython.display import Markdown, display

from .. import config
from .._core import plots
from .._core.i18n import markdown, t


def open_report(run_dir: str | Path | None = None):
    """The run a report renders (default: the newest published run) with figures styled for its language."""
    from ..pipeline import open_run

    run = open_run(run_dir or config.REPORTS_DIR / "latest")
    plots.setup(run.lang)
    return run


def missing_text(run, stage: str, name: str | None = None) -> str:
    """One sentence in the run's language: which section is missing and why.

    A reason the report has already given is not written out again: the same reason reads "the reason given
    above", and inside a longer one ("needs health (...)", "the health stage was not computed (...)") it reads
    "see above" (a world without a health score gave the same long reason eight times in the executive summary).
    """
    reason = run.reason(stage, name, run.lang)
    said = run.__dict__.setdefault("_reasons_said", [])
    shown = _said_before(reason, said, run.lang)
    said.append(reason)
    return t("section.missing", run.lang, reason=shown)


def _said_before(reason: str, said: list[str], lang: str) -> str:
    """``reason`` with what ``said`` already holds replaced by a pointer: whole, or the longest reason said before
    that it quotes (at least 30 columns wide, a Japanese character two: a short phrase is not worth a pointer)."""
    if reason in said:
        return t("section.same_reason", lang)
    for earlier in sorted({r for r in said if _width(r) >= 30}, key=len, reverse=True):
        if earlier in reason:
            return reason.replace(earlier, t("section.see_above", lang))
    return reason


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def show_missing(text: str) -> None:
    """A sentence saying what is missing, in italics. Escaped: a reason may quote the data (a value ingest could
    not read), and Markdown would pass its HTML through as it is."""
    display(Markdown(markdown(f"*{html.escape(text)}*")))


def available(run, stage: str, *names: str) -> bool:
    """Whether ``stage`` wrote every one of ``names`` (or ran, without names); if not, show why, in words."""
    for name in names or (None,):
        if not run.has(stage, name):
            show_missing(missing_text(run, stage, name))
            return False
    return True
