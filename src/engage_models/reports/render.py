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
    "see above" (a world without a health score gave the same long reason eight times in the executive summary),
    each with the reason's first words, so the pointer says which of the reasons above it means (the nearest one
    above may be another).
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
        return t("section.same_reason", lang, start=opening(reason))
    for earlier in sorted({r for r in said if _width(r) >= 30}, key=len, reverse=True):
        if earlier in reason:
            return reason.replace(earlier, t("section.see_above", lang, start=opening(earlier)))
    return reason


def opening(reason: str, width: int = 32) -> str:
    """The first words of ``reason`` within ``width`` columns (a Japanese character two), ending in "…" when cut: what
    a pointer back quotes.

    >>> opening("Cox model: no churn among the 100 accounts in the data"), opening("no churner yet")
    ('Cox model: no churn among the…', 'no churner yet')
    """
    if _width(reason) <= width:
        return reason
    cut, used = 0, 0
    for i, c in enumerate(reason):
        used += _width(c)
        if used > width - 1:
            break
        if c == " " or _width(c) == 2:  # words end at spaces; Japanese has none, so any character may end one
            cut = i if c == " " else i + 1
    return reason[:cut or width // 2].rstrip(" ,:;、。") + "…"


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
