"""Paths and defaults, built from the project root so nothing depends on the working directory.

Papermill runs a notebook in the caller's working directory; notebooks therefore take their paths
from here (or from their parameters), never from ``os.getcwd()``.

``ENGAGE_HOME`` overrides the project root (useful when the package is installed, not checked out).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("ENGAGE_HOME") or Path(__file__).resolve().parents[2])
DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
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
