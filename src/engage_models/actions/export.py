"""The action list as files a CRM imports: CSV (UTF-8 with BOM, safe to open in a spreadsheet) and Parquet,
read back with the same types."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.io import read_csv, write_csv, write_parquet
from .playbook import _NUMBER_EXPORT, _TEXT_EXPORT, EXPORT_COLUMNS

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- export
def export_actions(actions: pd.DataFrame, path: str | Path) -> dict[str, Path]:
    """Write the action list as ``<path>.csv`` and ``<path>.parquet`` (:data:`EXPORT_COLUMNS` only).

    The CSV is UTF-8 with a byte-order mark (Excel then reads Japanese reasons correctly), ``as_of`` as
    ``YYYY-MM-DD``, codes (band, stage, touch model, play, owner) as stable identifiers for CRM pick lists and
    ``play_label`` / ``reason`` in the list's language. Text that a spreadsheet would run as a formula (an
    account id ``=HYPERLINK(...)``) is written with a leading single quote (:func:`engage_models._core.io.write_csv`).
    Read either back with :func:`read_actions`, which returns the values as they were.
    """
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".csv", ".parquet") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    missing = [c for c in EXPORT_COLUMNS if c not in actions.columns]
    if missing:
        raise ValueError(f"the action list lacks {missing}: build it with action_list()")
    out = actions[list(EXPORT_COLUMNS)].copy()
    out.attrs = {}
    csv = out.assign(as_of=pd.to_datetime(out["as_of"], utc=True).dt.strftime("%Y-%m-%d"))
    paths = {"csv": stem.with_name(stem.name + ".csv"), "parquet": stem.with_name(stem.name + ".parquet")}
    write_csv(csv, paths["csv"])
    write_parquet(out, paths["parquet"])
    log.info("wrote %d actions to %s and %s", len(out), paths["csv"], paths["parquet"])
    return paths


def read_actions(path: str | Path) -> pd.DataFrame:
    """An exported action list (``.csv`` or ``.parquet``) with the types it had: ``as_of`` as UTC timestamps,
    numbers as floats (empty = missing), text as text (empty = empty string)."""
    path = Path(path)
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = read_csv(path)
        for c in _NUMBER_EXPORT:
            df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="raise").astype(float)
    else:
        raise ValueError(f"{path}: an action list is a .csv or .parquet file")
    missing = [c for c in EXPORT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not an action list (lacks {missing})")
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    for c in _TEXT_EXPORT:
        df[c] = df[c].fillna("").astype(str)
    return df[list(EXPORT_COLUMNS)]


