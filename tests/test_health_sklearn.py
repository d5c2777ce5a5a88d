"""The health estimators pass scikit-learn's estimator checks (and DataFrames from the panel keep working).

``HandWeightedScore`` scores the columns its card names; the checks feed arrays, whose columns are named
``x0``, ``x1``, ..., so it runs here with a small card over ``x0`` and ``x1`` (``CHECK_CARD``). On one-feature
data it refuses with a message naming the feature count, which the checks accept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from engage_models.health import ChurnGBM, HandWeightedScore, HealthScore, MonotoneBinner, ShapeScore, SkewScaler

CHECK_CARD = {"name": "test card over x0, x1", "metrics": [
    {"metric": "x0", "weight": 2, "direction": "higher", "thresholds": [[1, 100], [0, 60], [-1, 20]]},
    {"metric": "x1", "weight": 1, "direction": "lower", "thresholds": [[-1, 100], [0, 50]]},
]}

_BINARY_Y = ("MonotoneBinner turns a binary outcome into weights of evidence; this check fits transformers on a "
             "three-class target, which it refuses ('Only binary classification is supported')")
_MONOTONE_BINNER_DEPARTURES = {name: _BINARY_Y for name in (
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_dtype_object", "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_dict_unchanged",
    "check_fit2d_predict1d",
)}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return _MONOTONE_BINNER_DEPARTURES if isinstance(estimator, MonotoneBinner) else {}


ESTIMATORS = [
    HealthScore(Cs=(1.0,), cv=2, n_bootstrap=2),  # small settings: the checks fit hundreds of times
    SkewScaler(group_threshold=0.8),
    MonotoneBinner(n_bins=4),
    ChurnGBM(max_iter=10, max_leaf_nodes=7),
    HandWeightedScore(CHECK_CARD),
    ShapeScore(cv=2, outer_bags=1, max_rounds=100, interactions=1),  # small settings: ~15 s for all checks
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _panel(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "account_id": [f"a{i % (n // 4)}" for i in range(n)],
        "logins_28d": rng.poisson(20, n).astype(float), "tickets_90d": rng.poisson(1, n).astype(float),
        "nps_latest": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 11, n)),
        "segment": rng.choice(["SMB", "Mid-Market"], n),
    })
    risk = -1.5 - 0.08 * (X["logins_28d"] - 20) + 0.4 * X["tickets_90d"]
    y = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(int)
    return X, y


@pytest.mark.parametrize("make", [lambda: HealthScore(Cs=(0.1, 1.0), n_bootstrap=0), lambda: ChurnGBM(max_iter=20),
                                  lambda: HandWeightedScore({"metrics": [
                                      {"metric": "logins_28d", "weight": 1, "thresholds": [[20, 100], [0, 0]]}]})],
                         ids=["HealthScore", "ChurnGBM", "HandWeightedScore"])
def test_panel_frames_are_picked_by_name_and_arrays_by_position(make):
    X, y = _panel()
    with pytest.raises(NotFittedError):
        make().predict_proba(X)
    model = make().fit(X, y)
    p = model.predict_proba(X)[:, 1]
    # extra and reordered columns, as the panel carries them: the same predictions
    shuffled = X.assign(as_of=pd.Timestamp("2025-01-01", tz="UTC"), extra="x")[list(reversed(X.columns)) +
                                                                               ["as_of", "extra"]]
    np.testing.assert_allclose(model.predict_proba(shuffled)[:, 1], p)
    assert list(model.feature_names_in_) == list(X.columns) and model.n_features_in_ == X.shape[1]
    with pytest.raises(ValueError, match="missing from X.*logins_28d"):
        model.predict_proba(X.drop(columns="logins_28d"))
    # labels other than 0/1: classes_ come from y, predictions are in those labels
    named = make().fit(X, np.where(y == 1, "yes", "no"))
    assert list(named.classes_) == ["no", "yes"] and set(named.predict(X)) <= {"no", "yes"}
    np.testing.assert_allclose(named.predict_proba(X)[:, 1], p)  # the second label is the event


def test_health_score_on_an_array_names_features_x0_x1():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(600, 3))
    y = (rng.random(600) < 1 / (1 + np.exp(-(-1.5 + 1.2 * A[:, 0] - 0.8 * A[:, 2])))).astype(int)
    hs = HealthScore(Cs=(0.1, 1.0), n_bootstrap=5, group_threshold=None).fit(A, y)
    assert hs.feature_names_ == ["x0", "x1", "x2"] and not hasattr(hs, "feature_names_in_")
    card = hs.scorecard().set_index("feature")
    assert card.loc["x0", "weight"] > 0 > card.loc["x2", "weight"]
    assert abs(card.loc["x1", "weight"]) < min(abs(card.loc["x0", "weight"]), abs(card.loc["x2", "weight"]))
    d = hs.drivers(A[:5])
    assert len(d) == 5 and {"drivers", "drivers_text"} <= set(d.columns)
    with pytest.raises(ValueError, match="X has 2 features, but HealthScore is expecting 3"):
        hs.predict_proba(A[:, :2])


@pytest.mark.parametrize("binning", [None, "monotone"])
def test_a_fitted_health_score_saves_with_skops_trusting_only_this_package(tmp_path, binning):
    sio = pytest.importorskip("skops.io")
    X, y = _panel()
    hs = HealthScore(Cs=(0.1, 1.0), n_bootstrap=3, binning=binning).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(hs, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(t.startswith("engage_models.") for t in untrusted), untrusted   # no pandas, no lambdas
    back = sio.load(path, trusted=untrusted)
    np.testing.assert_allclose(back.predict_proba(X), hs.predict_proba(X))
    assert back.drivers(X.iloc[:3])["drivers_text"].tolist() == hs.drivers(X.iloc[:3])["drivers_text"].tolist()
    assert back.thresholds_ == hs.thresholds_


def test_missing_labels_and_columns_are_counted_in_the_singular_and_the_plural():
    """The estimators said "y has 1 missing label(s)" and "column(s) used in fit are missing from X"."""
    from engage_models.health._inputs import binary_target

    with pytest.raises(ValueError, match=r"^ChurnGBM: y has 1 missing label: drop rows"):
        binary_target(ChurnGBM(), np.array([0.0, 1.0, np.nan]), 3)
    with pytest.raises(ValueError, match=r"^ChurnGBM: y has 2 missing labels: drop rows"):
        binary_target(ChurnGBM(), np.array([0.0, np.nan, np.nan]), 3)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x0": rng.normal(size=40), "x1": rng.normal(size=40)})
    card = HandWeightedScore(CHECK_CARD).fit(X, (X["x0"] < 0).astype(int))
    with pytest.raises(ValueError, match=r"column used in fit is missing from X: \['x1'\]$"):
        card.predict_proba(X[["x0"]])
    with pytest.raises(ValueError, match=r"columns used in fit are missing from X: \['x0', 'x1'\]$"):
        card.predict_proba(X[[]].assign(other=1.0))
    # "X has 1 feature(s)" stays as scikit-learn writes it: its check_fit2d_1feature looks for it
    with pytest.raises(ValueError, match=r"^hand scorecard: metric not in the data: \['x1'\] \(X has 1 feature\(s\)"):
        HandWeightedScore(CHECK_CARD).fit(X[["x0"]], (X["x0"] < 0).astype(int))
    with pytest.raises(ValueError, match=r"^hand scorecard: metrics not in the data: \['x0', 'x1'\] \(X has 1 "):
        HandWeightedScore(CHECK_CARD).fit(X[[]].assign(other=1.0), (X["x0"] < 0).astype(int))
