"""``accounts`` and ``subscriptions`` read from the processed folder, by pandas or by an engine."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

def load_tables(processed_dir: str | Path, engine=None,
                **engine_settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``accounts`` and ``subscriptions`` (None when that optional table was not supplied) from
    ``processed_dir/*.parquet``, as written by :func:`engage_models.ingest.validate.ingest`.

    Both are small (one row per account, one per account and month). By default pandas reads them from a
    local folder; with an ``engine`` (``"spark"``, ``"duckdb"`` or an :class:`~engage_models.features.engine.Engine`,
    settings as for :func:`~engage_models.features.engine.make_engine`) the engine reads them, so ``processed_dir``
    may be any location it reads (``s3a://bucket/processed`` with Spark), and they come back to pandas.
    """
    if engine is not None:
        return _load_with_engine(processed_dir, engine, engine_settings)
    processed = Path(processed_dir)
    path = processed / "accounts.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run ingest first (engage ingest, or the runner)")
    accounts = pd.read_parquet(path)
    subs_path = processed / "subscriptions.parquet"
    subscriptions = pd.read_parquet(subs_path) if subs_path.exists() else None
    return accounts, subscriptions


def _load_with_engine(processed_dir, engine, settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    from ..features.engine import Engine, location, make_engine

    eng = make_engine(engine, **settings)
    try:
        frames = {}
        for name in ("accounts", "subscriptions"):
            path = location(processed_dir, f"{name}.parquet")
            if eng.exists(path):
                eng.table(name, path)
                frames[name] = eng.frame(f"SELECT * FROM {name}")
        if "accounts" not in frames:
            raise FileNotFoundError(f"{location(processed_dir, 'accounts.parquet')} does not exist: run ingest first")
    finally:
        if not isinstance(engine, Engine):
            eng.close()
    return frames["accounts"], frames.get("subscriptions")


