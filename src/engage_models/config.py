"""Paths and defaults, built from the project root so nothing depends on the working directory.

Papermill runs a notebook in the caller's working directory; notebooks therefore take their paths
from here (or from their parameters), never from ``os.getcwd()``.

The project root is the checkout the package is imported from (``pip install -e .``, ``make env``). An
installed package (a wheel, in a scheduler's environment) has no checkout around it: its root is then
``ENGAGE_HOME``, else the working directory the command was started in (``data/`` and ``reports/`` under it,
as any command-line tool writes where it is run), and its report notebooks are the copies the wheel carries
(``engage_models/notebooks``). ``ENGAGE_HOME`` overrides the root in either case.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parents[1]
#: True when the package is imported from a checkout of the project (src/engage_models beside pyproject.toml)
IN_CHECKOUT = (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "src" / "engage_models").is_dir()

PROJECT_ROOT = Path(os.environ.get("ENGAGE_HOME") or (_CHECKOUT if IN_CHECKOUT else Path.cwd())).resolve()
DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = PROJECT_ROOT / "reports"
#: report notebooks of a project under ENGAGE_HOME; else the checkout's (ENGAGE_HOME set to a folder for data
#: and reports only); else the installed package's
_OWN = bool(os.environ.get("ENGAGE_HOME")) and any((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS_DIR = (PROJECT_ROOT / "notebooks" if _OWN else _CHECKOUT / "notebooks" if IN_CHECKOUT
                 else _PACKAGE / "notebooks")
TEMPLATES_DIR = Path(__file__).resolve().parent / "reports" / "templates"

#: Jupyter kernel registered by ``make env``; the runner falls back to ``python3`` when it is absent.
KERNEL_NAME = "engage-models"

#: Default churn horizon (days) for labels and reports.
HORIZON_DAYS = 90


class DataPaths:
    """``raw/`` and ``processed/`` under one data folder (the runner's ``data_dir`` parameter)."""

    def __init__(self, data_dir: str | Path | None = None):
        self.root = Path(data_dir) if data_dir else DATA_DIR
        self.raw = self.root / "raw"
        self.processed = self.root / "processed"
        self.quarantine = self.processed / "quarantine"

    def __repr__(self) -> str:
        return f"DataPaths({str(self.root)!r})"
