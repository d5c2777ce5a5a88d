"""Input checks shared by the health estimators: DataFrames as the panel gives them, arrays as scikit-learn does.

A DataFrame keeps its columns and dtypes (dates, account ids, text categories ride along and are picked by
name); at prediction it needs the columns the estimator uses, in any order, extra columns allowed, exactly
as the backtest and the pipeline pass them. Any other input goes through
:func:`sklearn.utils.validation.validate_data` and becomes a DataFrame whose columns are named ``x0``,
``x1``, ... (scikit-learn's names for unnamed features), so column inference, labels and scorecards work
the same on both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d, validate_data

from .._core.i18n import count


def positional_names(n: int) -> list[str]:
    return [f"x{i}" for i in range(n)]


def _named(X: pd.DataFrame) -> bool:
    return len(X.columns) > 0 and all(isinstance(c, str) for c in X.columns)


def frame_for_fit(est, X, *, allow_nan: bool = True) -> pd.DataFrame:
    """``X`` as a DataFrame with string column names; sets ``n_features_in_`` (and ``feature_names_in_`` for
    a DataFrame whose columns are all strings)."""
    name = type(est).__name__
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required by "
                             f"{name}.")
        if X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required by "
                             f"{name}.")
        validate_data(est, X, reset=True, skip_check_array=True)
        return X if _named(X) else X.set_axis(positional_names(X.shape[1]), axis=1)
    arr = validate_data(est, X, reset=True, ensure_all_finite="allow-nan" if allow_nan else True)
    return pd.DataFrame(arr, columns=positional_names(arr.shape[1]))


def frame_for_predict(est, X, needed, *, allow_nan: bool = True) -> pd.DataFrame:
    """``X`` for a fitted estimator: a DataFrame must hold the ``needed`` columns (by name when the estimator was
    fitted on named columns, else by position); anything else is validated against the fit."""
    names = getattr(est, "feature_names_in_", None)
    if isinstance(X, pd.DataFrame) and names is not None and _named(X):
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ValueError(f"{type(est).__name__}: {'column' if len(missing) == 1 else 'columns'} used in fit "
                             f"{'is' if len(missing) == 1 else 'are'} missing from X: {missing}")
        return X
    if isinstance(X, pd.DataFrame) and names is None and list(X.columns) == positional_names(X.shape[1]):
        if X.shape[1] != est.n_features_in_:  # an array already framed (x0, x1, ...): only its width to check
            raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                             f"{est.n_features_in_} features as input.")
        return X
    if isinstance(X, pd.DataFrame):
        validate_data(est, X, reset=False, skip_check_array=True)
        return X.set_axis(list(names) if names is not None else positional_names(X.shape[1]), axis=1)
    arr = validate_data(est, X, reset=False, ensure_all_finite="allow-nan" if allow_nan else True,
                        dtype=None if names is not None else "numeric")
    frame = pd.DataFrame(arr, columns=list(names) if names is not None else positional_names(arr.shape[1]))
    return frame.infer_objects()


def binary_target(est, y, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, y01)``: the two labels of ``y`` (sorted; the second is the event, e.g. churned = 1) and ``y``
    coded 0/1 as floats. Raises a ``ValueError`` for a missing, continuous, multiclass or one-class ``y``."""
    name = type(est).__name__
    if y is None:
        raise ValueError(f"This {name} estimator requires y to be passed, but the target y is None.")
    raw = np.asarray(y)
    if raw.dtype.kind in "fcOUM":
        flat = raw.ravel()
        if pd.isna(flat).any():
            raise ValueError(f"{name}: y has {count(int(pd.isna(flat).sum()), 'missing label')}: drop rows whose "
                             "outcome is not observed yet")
        if raw.dtype.kind == "f" and np.isinf(flat).any():
            raise ValueError(f"{name}: Input y contains infinity")
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(f"{name}: X has {n_samples} rows but y has {len(y)}")
    check_classification_targets(y)
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind != "binary":
        raise ValueError(f"Only binary classification is supported. The type of the target is {kind}.")
    classes, coded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{name}: y has one class only ({classes[0]!r}): it needs both churned and retained "
                         "examples")
    return classes, coded.astype(float)


def finite_numbers(X: pd.DataFrame, where: str) -> None:
    """Raise a ``ValueError`` naming the columns of the numeric ``X`` that hold +-inf, with their row counts."""
    counts = np.isinf(X.to_numpy(dtype=float)).sum(axis=0)
    bad = {c: int(n) for c, n in zip(X.columns, counts, strict=True) if n}
    if bad:
        raise ValueError(f"{where}: infinite values (rows per column: {bad}); replace them with a number or NaN")
