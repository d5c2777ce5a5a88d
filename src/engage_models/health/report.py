"""Transitional: the per-run score files the notebooks exchanged before the pipeline stored them as artifacts.

Removed once every notebook reads the run's artifacts (engage_models.pipeline).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._core.io import write_parquet
from .history import band_followup, rolling_scores, with_context  # noqa: F401
from .views import at_risk, band_summary, plot_weights, scorecard_view  # noqa: F401


def scores_path(processed: str | Path, until: pd.Timestamp, horizon_days: int, kind: str = "scores") -> Path:
    return Path(processed) / "scores" / f"{pd.Timestamp(until):%Y%m%d}_h{horizon_days}_{kind}.parquet"


def save_scores(scores: pd.DataFrame, path: Path) -> Path:
    df = scores.copy()
    if "drivers" in df:
        df["drivers"] = df["drivers"].map(lambda items: [dict(d) for d in items] if isinstance(items, list) else [])
    return write_parquet(df, path)


def load_scores(processed: str | Path, until, horizon_days: int, kind: str = "scores") -> pd.DataFrame:
    path = scores_path(processed, until, horizon_days, kind)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the report that writes it has not run")
    return pd.read_parquet(path)
