"""Fitted models on disk without pickle: skops files that load only the types we trust.

:func:`save_model` writes a fitted estimator with :mod:`skops.io`; :func:`load_model` reads it back trusting
only the package's own estimator types and those of scikit-learn and numpy, so opening a model file received
from elsewhere cannot run arbitrary code (pickle and joblib can). A file that needs any other type is refused
with the type's name.
"""

from __future__ import annotations

from pathlib import Path

from .._core.errors import DataError

#: Module prefixes whose types a model file may contain.
TRUSTED_PREFIXES = ("engage_models.", "sklearn.", "numpy.", "builtins.", "collections.", "scipy.sparse.")


def save_model(model, path: str | Path) -> Path:
    """Write ``model`` (a fitted estimator) as a skops file at ``path``."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sio.dump(model, tmp)
    tmp.replace(path)
    return path


def load_model(path: str | Path):
    """The estimator saved at ``path`` by :func:`save_model` (only trusted types are loaded)."""
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such model file")
    untrusted = sio.get_untrusted_types(file=path)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise DataError(f"{path}: the model file holds types this package does not trust: {', '.join(refused)}")
    return sio.load(path, trusted=untrusted)
