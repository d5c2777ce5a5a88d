"""The learned health score, its baselines and the backtest: conventions, known answers, recovery of the truth."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from engage_models._core.errors import InsufficientData
from engage_models.features.panel import default_panel
from engage_models.health import HandWeightedScore, HealthScore, SkewScaler, choose_thresholds
from engage_models.health import evaluation as E
from engage_models.health import tables as T
from engage_models.health.tables import TableError, fit_table

FAST = dict(Cs=(0.01, 0.1, 1.0), n_bootstrap=0)


def _synthetic(n=1500, seed=0, dates=6):
    """Accounts over monthly dates; churn risk falls with usage and breadth, rises with tickets."""
    rng = np.random.default_rng(seed)
    acct = rng.integers(0, n // 3, n)
    df = pd.DataFrame({
        "account_id": [f"a{i}" for i in acct],
        "as_of": pd.to_datetime("2025-01-01", utc=True) + pd.to_timedelta(30 * rng.integers(0, dates, n), "D"),
        "usage": rng.lognormal(2, 1, n), "breadth": rng.uniform(0, 1, n), "tickets": rng.poisson(1, n).astype(float),
        "noise": rng.normal(size=n), "segment": rng.choice(["SMB", "Enterprise"], n),
    })
    lp = -1.5 - 0.8 * np.log1p(df["usage"]) + 0.5 * 0 - 2.0 * df["breadth"] + 0.6 * np.log1p(df["tickets"]) \
        - 0.7 * (df["segment"] == "Enterprise")
    df["churned"] = (rng.random(n) < 1 / (1 + np.exp(-(lp + 1.5)))).astype(int)
    return df


# ---------------------------------------------------------------------------------------------- scaler
def test_skew_scaler_fits_a_column_of_one_value_with_rows_missing_without_scipys_precision_warning():
    """odd2 (--horizon 30): dozens of "Precision loss occurred in moment calculation" warnings, from scipy's skew
    and kurtosis of a metric of one value whose missing rows are filled with it. Its skew is 0 (no tail, no log),
    the other columns' as scipy's."""
    import warnings

    from scipy import stats

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"seats": np.where(np.arange(200) % 4 == 0, np.nan, 0.1), "logins": rng.lognormal(2, 1.5, 200),
                      "change": rng.standard_t(2, 200)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = SkewScaler().fit(X)
    assert s.log_columns_ == ["logins"] and s.signed_log_columns_ == ["change"] and s.missing_columns_ == ["seats"]
    from engage_models.health.scaling import _skew_kurtosis

    sk, ku = _skew_kurtosis(X[["logins", "change"]].to_numpy())
    np.testing.assert_allclose(sk, stats.skew(X[["logins", "change"]], axis=0), rtol=1e-10)
    np.testing.assert_allclose(ku, stats.kurtosis(X[["logins", "change"]], axis=0), rtol=1e-10)


def test_skew_scaler_logs_fat_tails_keeps_parameters_and_flags_missing():
    X = pd.DataFrame({"logins": [0, 1, 2, 3, 500.0, np.nan], "ratio": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                      "change": [-100, -50, 0, 10, 20, 9000.0]})
    s = SkewScaler().fit(X)
    assert s.log_columns_ == ["logins"] and s.signed_log_columns_ == ["change"]
    assert s.missing_columns_ == ["logins"] and s.medians_["logins"] == 2.0
    Z = s.transform(X)
    assert list(Z.columns) == ["logins", "ratio", "change", "logins__missing"]
    assert Z["logins__missing"].tolist() == [0, 0, 0, 0, 0, 1]
    np.testing.assert_allclose(Z[["logins", "ratio", "change"]].mean(), 0, atol=1e-12)
    # one row rescored alone is the same as in the batch (parameters are stored, not recomputed)
    pd.testing.assert_frame_equal(s.transform(X.iloc[[4]]), Z.iloc[[4]])
    X2 = pd.DataFrame({"ratio": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "other": [5.0, 1, 4, 2, 3, 0]})
    grouped = SkewScaler(group_threshold=0.9).fit(X2.assign(ratio2=X2["ratio"] * 2 + 1))
    assert grouped.groups_ == [["ratio", "ratio2"], ["other"]]
    np.testing.assert_allclose(grouped.transform(X2.assign(ratio2=X2["ratio"] * 2 + 1))["ratio"],
                               s.transform(X)["ratio"])  # the group is the mean of identical z-scores


# ---------------------------------------------------------------------------------------------- estimator
def test_health_score_follows_scikit_learn_conventions():
    df = _synthetic()
    X, y = df.drop(columns="churned"), df["churned"]
    est = HealthScore(**FAST)
    assert clone(est).get_params() == est.get_params() and est.get_params()["penalty"] == "l2"
    assert est.set_params(penalty="l1") is est
    scores = cross_val_score(HealthScore(**FAST), X.drop(columns="as_of"), y, cv=3, scoring="roc_auc")
    assert scores.min() > 0.6
    pipe = Pipeline([("drop_noise", FunctionTransformer(lambda d: d.drop(columns="noise"))),
                     ("score", HealthScore(**FAST))]).fit(X, y)
    assert "noise" not in pipe[-1].metrics_ and pipe.predict_proba(X).shape == (len(X), 2)


def test_score_points_probability_bands_and_drivers_are_consistent():
    df = _synthetic(seed=1)
    X, y = df.drop(columns="churned"), df["churned"]
    hs = HealthScore(n_bootstrap=30, random_state=3).fit(X, y)
    pts, score = hs.points(X), hs.health_score(X)
    np.testing.assert_allclose(pts.sum(axis=1), score)
    assert score.between(0, 100).all() and (pts >= -1e-9).all().all()
    p = hs.predict_proba(X)[:, 1]
    order = np.argsort(score.to_numpy())
    assert np.all(np.diff(p[order]) <= 1e-12), "probability falls as the score rises"
    card = hs.scorecard()
    assert card["points_range"].sum() == pytest.approx(100)
    w = card.set_index("feature")
    assert w.loc["breadth", "weight"] < 0 and w.loc["tickets", "weight"] > 0   # protective vs risky
    assert (w["ci_low"] <= w["weight"]).all() and (w["weight"] <= w["ci_high"]).all()
    assert w.loc["breadth", "delta_churn_probability"] < 0
    assert abs(w.loc["noise", "weight"]) < abs(w.loc["breadth", "weight"])
    bands = hs.bands(X)
    yellow, red = hs.thresholds_
    assert set(bands) <= {"green", "yellow", "red"} and 0 < yellow <= red < 1
    assert (bands[p >= red] == "red").all() and (bands[p < yellow] == "green").all()
    worst = int(np.argmin(score.to_numpy()))
    d = hs.drivers(X.iloc[[worst]])
    assert d["drivers"].iloc[0] and all(x["points"] < 0 for x in d["drivers"].iloc[0])
    assert "typical healthy" in d["drivers_text"].iloc[0] and "points" in d["drivers_text"].iloc[0]


def test_a_metric_whose_weight_the_data_cannot_sign_is_no_driver():
    """A reader found "latest CSAT 5.00, typical healthy 3.00: -3 points" as the top driver of three of ten
    accounts, from a weight of +0.06 (-0.04 to +0.18). A metric whose stability interval holds 0 is no driver (its
    points still count in the score); without intervals it may be one."""
    df = _synthetic(seed=1)
    X, y = df.drop(columns="churned"), df["churned"]
    hs = HealthScore(n_bootstrap=30, random_state=3).fit(X, y)
    w = hs.scorecard().set_index("feature")
    assert w.loc["noise", "ci_low"] <= 0 <= w.loc["noise", "ci_high"]  # pure noise: its sign unknown
    assert w.loc["noise", "unsigned"] and not w.loc[["usage", "breadth", "tickets"], "unsigned"].any()
    assert (w.loc[["usage", "breadth", "tickets"], "ci_high"] < 0).sum() + (
        w.loc[["usage", "breadth", "tickets"], "ci_low"] > 0).sum() == 3
    named = {d["feature"] for ds in hs.drivers(X, k=5)["drivers"] for d in ds}
    assert "noise" not in named and {"usage", "breadth", "tickets"} <= named
    from engage_models.health.views import unsigned_note

    note = unsigned_note(hs.scorecard())  # report 04 says which, and what it does to the driver plays
    assert w.loc["noise", "label"] in note and "is not chosen through it" in note
    assert w.loc["breadth", "label"] not in note
    # where noise costs the most points, the model without intervals named it (the same weights)
    costs = hs.points(X)["noise"].to_numpy()
    worst = int(np.argmin(costs))
    hs.weight_intervals_, kept = None, hs.weight_intervals_
    assert "noise" in {d["feature"] for d in hs.drivers(X.iloc[[worst]], k=5)["drivers"].iloc[0]}
    hs.weight_intervals_ = kept
    assert "noise" not in {d["feature"] for d in hs.drivers(X.iloc[[worst]], k=5)["drivers"].iloc[0]}


def test_a_categorical_column_is_one_driver_quoting_the_account_s_level_and_the_typical_one(tmp_path):
    """engage fit on a public credit table: a widow's drivers read "Marital = married: -2 points", a
    freelancer's "job = fixed", and Records=yes gave "Records = yes: -4; Records = no: -4" (one fact twice). A
    categorical column is one driver: the account's level, the typical healthy account's (the healthy accounts'
    commonest level), and the points the account loses to it, which is what its level costs the score."""
    from engage_models.actions.assign import _driver_evidence

    rng = np.random.default_rng(0)
    n = 1500
    X = pd.DataFrame({"usage": rng.gamma(2, 2, n),
                      "marital": rng.choice(["married", "single", "widow"], n, p=[0.4, 0.35, 0.25]),
                      "records": rng.choice(["yes", "no"], n, p=[0.2, 0.8])})
    logit = -1 - 0.3 * X["usage"] + 1.2 * (X["records"] == "yes") + 0.8 * (X["marital"] == "widow")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    hs = HealthScore(n_bootstrap=0).fit(X, y)
    widow = X.index[(X["marital"] == "widow") & (X["records"] == "yes")][0]
    got = hs.drivers(X.loc[[widow]], k=5)
    items = {d["feature"]: d for d in got["drivers"].iloc[0]}
    assert {"marital", "records"} <= set(items) and not any("=" in f for f in items)  # one driver a column
    assert (items["marital"]["level"], items["marital"]["typical_level"]) == ("widow", "married")
    assert (items["records"]["level"], items["records"]["typical_level"]) == ("yes", "no")
    # the points: what the account's level costs against the typical level, all else as it is
    for column, typical in (("marital", "married"), ("records", "no")):
        moved = X.loc[[widow]].assign(**{column: typical})
        cost = hs.health_score(X.loc[[widow]]).iloc[0] - hs.health_score(moved).iloc[0]
        assert items[column]["points"] == pytest.approx(cost, abs=1e-9)
    text = got["drivers_text"].iloc[0]
    assert "marital widow, typical healthy married: " in text and "records yes, typical healthy no: " in text
    assert "= married" not in text and "records = no" not in text
    assert "widow、健全な顧客の典型値 married：" in hs.drivers(X.loc[[widow]], k=5, lang="ja")["drivers_text"].iloc[0]
    # the modal level is the typical one even without a majority (none had one: "married" was not typical)
    from engage_models.health.explain import _levels

    assert (X.loc[y == 0, "marital"].value_counts(normalize=True) < 0.5).all()
    assert _levels(hs, X, "marital")[1] == "married"
    # the scorecard's change in churn probability of a level: from the typical level to it (it set the level on
    # beside the typical one, two levels at once)
    card = hs.scorecard().set_index("feature")["delta_churn_probability"]
    typical = X.loc[[widow]].assign(usage=hs.typical_raw_["usage"], records="no")
    p = {lv: hs.predict_proba(typical.assign(marital=lv))[0, 1] for lv in ("married", "widow")}
    assert card["marital=widow"] == pytest.approx(p["widow"] - p["married"], abs=1e-9)
    assert card["marital=married"] == 0
    # and says so: the level's weight is against the levels' average, its change against the typical level (a
    # reader saw "Pro -0.02 ... +0.3 pp" as a contradiction, and "+0.0 pp" for a clear weight)
    from engage_models.health.views import scorecard_view

    full = hs.scorecard()
    assert full.set_index("feature").loc["marital=widow", "typical_level"] == "married"
    assert full.set_index("feature")["typical_level"].drop([f for f in full["feature"] if "=" in f]).isna().all()
    view = scorecard_view(full).set_index("metric").iloc[:, -1]
    assert view.filter(like="widow").iloc[0].endswith(" against married")
    assert view.filter(like="married").iloc[0] == "the typical level"
    assert "と比べて" in scorecard_view(full, "ja").iloc[:, -1].str.cat()
    assert scorecard_view(full.drop(columns="typical_level")).set_index("metric").iloc[:, -1].filter(
        like="married").iloc[0] == "+0.0 pp"  # a card stored before: the bare change
    # the action list's evidence quotes the levels, as the health stage stores them (drivers_in_words, then
    # Parquet, which gives every driver both keys)
    from engage_models.health.history import drivers_in_words

    path = tmp_path / "drivers.parquet"
    drivers_in_words(hs, X.loc[[widow]], k=5).to_parquet(path)
    back = [d for d in pd.read_parquet(path)["drivers"].iloc[0] if d["feature"] == "marital"][0]
    assert "widow" in _driver_evidence({**back, "metric": "marital"}, "en", "USD")
    usage = [d for d in pd.read_parquet(path)["drivers"].iloc[0] if d["feature"] == "usage"]
    assert len(usage) == 1  # a number's driver read back: its value, not "missing"
    assert f"{usage[0]['value']:,.1f}" in _driver_evidence({**usage[0], "metric": "usage"}, "en", "USD")


def test_scores_are_reproducible_and_a_new_account_alone_scores_as_in_a_batch():
    df = _synthetic(seed=2)
    X, y = df.drop(columns="churned"), df["churned"]
    a = HealthScore(n_bootstrap=10, random_state=7).fit(X, y)
    b = HealthScore(n_bootstrap=10, random_state=7).fit(X, y)
    pd.testing.assert_series_equal(a.health_score(X), b.health_score(X))
    np.testing.assert_array_equal(a.weight_intervals_, b.weight_intervals_)
    new = X.iloc[[5, 17, 40]]
    np.testing.assert_allclose(a.health_score(new.iloc[[1]]).to_numpy(), a.health_score(new).to_numpy()[[1]])
    np.testing.assert_allclose(a.predict_proba(new.iloc[[2]]), a.predict_proba(X).take([40], axis=0))


def test_time_aware_cross_validation_never_trains_on_labels_from_the_validation_period():
    from engage_models.health import time_splits

    dates = pd.Series(pd.date_range("2024-01-01", periods=12, freq="MS", tz="UTC").repeat(3))
    for tr, va in time_splits(dates, n_splits=3, gap_days=90):
        assert dates[tr].max() + pd.Timedelta(days=90) <= dates[va].min()


def test_hand_weighted_score_follows_its_card_and_rejects_a_bad_one(tmp_path):
    card = {"metrics": [
        {"metric": "logins", "weight": 3, "direction": "higher", "thresholds": [[20, 100], [5, 50], [0, 0]]},
        {"metric": "tickets", "weight": 1, "direction": "lower", "thresholds": [[0, 100], [3, 40]]},
    ]}
    X = pd.DataFrame({"logins": [25, 10, 1, np.nan], "tickets": [0, 2, 9, 0]})
    hw = HandWeightedScore(card).fit(X, [0, 0, 1, 1])
    # (3*100 + 1*100)/4 = 100; (3*50 + 1*40)/4 = 47.5; (3*0 + 1*0)/4 = 0; missing logins -> lowest (0): 25
    assert hw.health_score(X).tolist() == [100.0, 47.5, 0.0, 25.0]
    # a missing value never beats an observed one: with a gap below the lowest threshold a 0 scores 0, and so does
    # a missing value (it scored the lowest pair's 5); a card whose lowest pair is at -inf keeps that pair's points
    gap = {"metrics": [{"metric": "logins", "weight": 1, "thresholds": [[11, 10], [3, 5]]}]}
    scored = HandWeightedScore(gap).health_score(pd.DataFrame({"logins": [0.0, np.nan, 4.0]})).tolist()
    assert scored == [0.0, 0.0, 5.0]
    floor = {"metrics": [{"metric": "logins", "weight": 1, "thresholds": [[11, 10], [-np.inf, 5]]}]}
    assert HandWeightedScore(floor).health_score(pd.DataFrame({"logins": [0.0, np.nan]})).tolist() == [5.0, 5.0]
    low = {"metrics": [{"metric": "tickets", "weight": 1, "direction": "lower", "thresholds": [[0, 100], [3, 40]]}]}
    assert HandWeightedScore(low).health_score(pd.DataFrame({"tickets": [9.0, np.nan]})).tolist() == [0.0, 0.0]
    bad = tmp_path / "card.yaml"
    bad.write_text("metrics:\n  - metric: logins\n    weight: 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"card.yaml: metrics\[0\] needs"):
        HandWeightedScore(bad).fit(X, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="not in the data"):
        HandWeightedScore({"metrics": [{"metric": "nope", "weight": 1, "thresholds": [[1, 1]]}]}).fit(X, [0, 1, 0, 1])


def test_thresholds_minimise_the_realised_cost():
    y = np.array([0, 0, 0, 0, 1, 0, 1, 1])
    p = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8])
    # R = 4 (red): flag p >= 0.3 -> cost 0 missed + 1 false alarm = 1; p >= 0.6 -> 4*1 + 0 = 4 -> 0.3
    # R = 9 (yellow): the same threshold 0.3 (lower ones add false alarms without catching more)
    assert choose_thresholds(y, p, cost_ratios=(9, 4)) == (0.3, 0.3)
    assert choose_thresholds(y, p, cost_ratios=(9, 0.5))[1] == 0.6  # cheap misses: flag only the surest


# ---------------------------------------------------------------------------------------------- evaluation
def test_lift_ici_and_band_table_on_known_answers():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.5, 20000)
    y = (rng.random(20000) < p).astype(int)
    assert E.ici(y, p) < 0.01                       # drawn from p: calibrated
    assert E.ici(y, np.clip(p * 1.6, 0, 1)) > 0.05  # 60% too high
    assert E.lift_at(np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0]), np.linspace(1, 0, 10), 0.1) == 5.0
    t = E.band_table(np.array([1, 1, 0, 1, 0, 0]), ["red", "red", "red", "yellow", "green", "green"])
    assert t.set_index("band").loc["red", "share_of_churners"] == pytest.approx(2 / 3)
    assert t.set_index("band").loc["red", "false_alarm_rate"] == pytest.approx(1 / 3)
    assert t["cumulative_share_of_churners"].iloc[-1] == pytest.approx(1.0)


def test_the_ici_of_a_calibrated_score_is_read_against_what_noise_alone_gives():
    rng = np.random.default_rng(3)
    p = 1 / (1 + np.exp(-rng.normal(-1.8, 1.2, 1500)))
    ref = E.ici_if_calibrated(p, n_draws=200, seed=1)
    assert ref.shape == (200,) and (ref > 0).all()  # the smoother follows the noise: never zero on 1,500 rows
    lo, hi = np.quantile(ref, [0.05, 0.95])
    # outcomes drawn from p: their ICIs fall inside the reference as often as its quantiles say
    inside = [lo <= E.ici((rng.random(len(p)) < p).astype(float), p) <= hi for _ in range(100)]
    assert 0.8 <= np.mean(inside) <= 0.98
    # 40% too high is beyond it
    y = (rng.random(len(p)) < p).astype(float)
    assert E.ici(y, np.clip(p * 1.4, 0, 1)) > hi
    # four times the rows: about half the noise (the ICI's noise shrinks as 1 / sqrt(n))
    big = np.tile(p, 4)
    ratio = np.median(E.ici_if_calibrated(big, n_draws=100, seed=2)) / np.median(ref)
    assert 0.35 < ratio < 0.7
    assert np.array_equal(ref, E.ici_if_calibrated(p, n_draws=200, seed=1))  # seeded
    # each draw is the ICI of its outcomes (the smoother's coefficients are computed once for every draw)
    g = np.random.default_rng(1)
    assert ref[:5] == pytest.approx([E.ici((g.random(len(p)) < p).astype(float), p) for _ in range(5)], abs=1e-12)
    # the reference and its sentence: beyond for the 40% too high, within for the calibrated score
    off, fine = E.calibration_reference(y, np.clip(p * 1.4, 0, 1)), E.calibration_reference(y, p)
    assert off["beyond"] and not fine["beyond"] and fine["rows"] == len(p) and fine["draws"] == 200
    from engage_models.health.views import calibration_text

    assert "beyond what noise alone gives" in calibration_text(off, "en")
    assert "within what noise alone gives" in calibration_text(fine, "en") and "1,500 rows" in calibration_text(fine)
    assert "ノイズだけで生じる範囲内" in calibration_text(fine, "ja") and calibration_text(None) == ""


def test_backtest_fits_only_on_labels_known_by_each_cutoff():
    df = _synthetic(n=1200, seed=4, dates=10)
    seen = []

    class Spy:
        def fit(self, X, y):
            seen.append(X["as_of"].max())
            return self

        def predict_proba(self, X):
            return np.column_stack([np.full(len(X), 0.5), np.full(len(X), 0.5)])

    bt = E.backtest(df, {"spy": Spy}, horizon_days=60, n_cutoffs=3, label="churned")
    for cut, latest in zip(bt.cutoffs, seen, strict=True):
        assert latest + pd.Timedelta(days=60) <= cut
    assert set(bt.predictions["as_of"]) == set(bt.cutoffs)


def test_backtest_fits_in_processes_give_the_same_predictions():
    """Each (cutoff, model) fit is a task for its own process; the fits are seeded, so nothing changes but the
    time. A model with its own processes (the shape card) is given one in a worker."""
    from engage_models.health import ChurnGBM, ShapeScore

    df = _synthetic(n=900, seed=6, dates=8)
    models = {"learned": lambda: HealthScore(gap_days=60, n_bootstrap=0),
              "shape": lambda: ShapeScore(gap_days=60, max_rounds=100, n_jobs=-1),
              "gbm": lambda: ChurnGBM(random_state=1)}
    one = E.backtest(df, models, horizon_days=60, n_cutoffs=3, label="churned")
    two = E.backtest(df, models, horizon_days=60, n_cutoffs=3, label="churned", n_jobs=2)
    pd.testing.assert_frame_equal(one.predictions, two.predictions)
    assert list(one.predictions["model"].unique()) == ["learned", "shape", "gbm"] and one.cutoffs == two.cutoffs
    assert one.fitted["shape"].n_jobs == -1 and two.fitted["shape"].n_jobs == 1
    assert set(two.seconds) == set(models) and all(v > 0 for v in two.seconds.values())


def test_an_optional_model_that_fails_at_one_cutoff_is_left_out_of_every_cutoff():
    df = _synthetic(n=900, seed=7, dates=8)

    class FailsLate:
        def fit(self, X, y):
            if X["as_of"].max() >= df["as_of"].max() - pd.Timedelta(days=100):
                raise ValueError("too late")
            return self

        def predict_proba(self, X):
            return np.column_stack([np.full(len(X), 0.5), np.full(len(X), 0.5)])

    models = {"learned": lambda: HealthScore(gap_days=60, n_bootstrap=0), "alt": FailsLate}
    bt = E.backtest(df, models, horizon_days=60, n_cutoffs=3, label="churned", optional=("alt",))
    assert set(bt.predictions["model"]) == {"learned"} and set(bt.fitted) == set(bt.seconds) == {"learned"}
    assert bt.failed["alt"].startswith("ValueError: too late (cutoff ")
    assert bt.summary(n_boot=20)["model"].unique().tolist() == ["learned"]
    with pytest.raises(ValueError, match="too late"):  # not optional: raised
        E.backtest(df, models, horizon_days=60, n_cutoffs=3, label="churned")


# ---------------------------------------------------------------------------------------------- generic tables
def test_fit_a_table_that_is_not_from_the_simulator(tmp_path):
    df = _synthetic(n=900, seed=5, dates=8).rename(columns={"churned": "left"})
    df.loc[::7, "usage"] = np.nan                          # missing values are imputed and reported
    df["plan"] = np.where(df.index % 2, "pro", "basic")     # a categorical column
    df["メール"] = [f"user{i}@example.com" for i in range(len(df))]  # an identifier-like text: left out
    df["left"] = df["left"].map({1: "yes", 0: "no"})
    path = tmp_path / "accounts.csv"
    # dates as an export writes them: ISO 8601 with and without a time (pandas' inference took one format)
    written = df.assign(as_of=[d.strftime("%Y-%m-%d" if i % 3 else "%Y-%m-%d %H:%M:%S")
                               for i, d in enumerate(pd.to_datetime(df["as_of"]))])
    written.loc[[5, 6, 7], "left"] = ""  # no label: left out, and said
    written.to_csv(path, index=False)
    out = tmp_path / "fit"
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label", "left",
                           "--date-col", "as_of", "--id-col", "account_id", "--horizon", "30", "--bootstrap", "5",
                           "--score", "linear", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"left out 3 rows without a label (of {len(df):,}; first at data rows [6, 7, 8])" in proc.stdout
    assert "column 'メール' left out: text with" in proc.stdout
    df = df.drop(index=[5, 6, 7]).reset_index(drop=True)
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["validation"]["method"].startswith("out-of-time")
    assert set(ev["models"]) == {"learned", "gbm"}
    # ranking within each test window (the true risk ranks 0.66 to 0.81 there); pooled over windows the AUC
    # also pays for calibration differing between the windows' models
    tested = [w for w in ev["validation"]["windows"] if "roc_auc" in w]
    assert len(tested) >= 3 and all(w["roc_auc"]["learned"] > 0.6 for w in tested), ev["validation"]["windows"]
    for m in ("roc_auc", "pr_auc", "brier", "ici"):
        assert {"estimate", "ci_low", "ci_high"} <= set(ev["models"]["learned"][m])
    assert ev["data"]["missing_values"]["usage"] == int(df["usage"].isna().sum())
    cal = ev["calibration"]  # the learned score's ICI beside a calibrated score's on as many rows
    assert cal["ici"] == pytest.approx(ev["models"]["learned"]["ici"]["estimate"])
    assert cal["rows"] == ev["validation"]["test_rows"] and 0 < cal["median"] < cal["q95"]
    assert "メール" in ev["data"]["dropped_columns"] and "plan" in ev["data"]["features"]
    card = pd.read_csv(out / "scorecard.csv")
    assert {"plan=basic", "plan=pro", "usage__missing"} <= set(card["feature"])
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) == len(df) and scores["score"].between(0, 100).all()
    # the validation predictions name each row by its data row in the file: the rows without a label (data rows
    # 6 to 8) are skipped, not renumbered over
    val_rows = pd.read_csv(out / "validation_predictions.csv", encoding="utf-8-sig")
    assert not set(val_rows["data_row"]) & {6, 7, 8} and val_rows["data_row"].max() <= len(written)
    ids = written["account_id"].to_numpy()[val_rows["data_row"].to_numpy() - 1]
    assert (ids == val_rows["account_id"].to_numpy()).all()
    assert (written["left"].to_numpy()[val_rows["data_row"].to_numpy() - 1] == val_rows["label"].map(
        {1: "yes", 0: "no"}).to_numpy()).all()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "data:image/png;base64," in html
    assert "メール" in html and "\\u30e1" not in html  # a Japanese column by its name, not a JSON escape
    # the data section lists what it says (it printed the JSON of two dicts, "{}" when empty)
    assert "<li><strong>メール</strong>: text with" in html and "<li><strong>usage</strong>: " in html
    assert "{&quot;" not in html and ": {}." not in html
    assert f"is {cal['ici']:.3f}. A perfectly calibrated score" in html
    # without a date column: stratified cross-validation, and it says so
    ev2 = fit_table(df.drop(columns="as_of"), "left", tmp_path / "fit2", n_bootstrap=0, n_boot_eval=20,
                    score="linear")
    assert ev2["validation"]["method"].startswith("stratified 5-fold cross-validation, folds of rows")
    assert ev2["validation"]["test_rows"] == len(df) and ev2["validation"]["grouped_by"] is None



FIT_HEADINGS = ["Learned health score", "Leakage screen", "Models compared (95% intervals, bootstrap over accounts)",
                "Calibration", "Scorecard", "Data"]


def test_engage_fit_writes_its_report_in_japanese_self_contained_and_escaped(tmp_path, capsys):
    """``engage fit --lang ja``: report.html was English whatever the language of the reports. Its headings, fixed
    sentences, table headers and dates are Japanese and ``<html lang="ja">``; the user's column names are escaped,
    nothing is fetched; the English page keeps its headings and has no Japanese."""
    import re

    from engage_models.cli import main

    df = _synthetic(n=600, seed=5, dates=8).rename(columns={"churned": "left"})
    df.loc[::7, "usage"] = np.nan
    df["<b>plan</b>"] = np.where(df.index % 2, "pro", "basic")
    df["cancel_reason"] = np.where(df["left"] == 1, "price", None)  # filled for churners only: a leak
    path = tmp_path / "accounts.csv"
    df.to_csv(path, index=False)
    args = ["fit", "--table", str(path), "--label", "left", "--date-col", "as_of", "--id-col", "account_id",
            "--horizon", "30", "--bootstrap", "0", "--jobs", "1"]
    assert main([*args, "--lang", "ja", "--out", str(tmp_path / "ja")]) == 0
    console = capsys.readouterr().out  # the console keeps the English: its leak lines were Japanese beside the rest
    assert "left out as a possible leak: cancel_reason" in console and not re.search(r"[\u3040-\u30ff]", console)
    assert main([*args, "--out", str(tmp_path / "en")]) == 0
    capsys.readouterr()
    ja = (tmp_path / "ja" / "report.html").read_text(encoding="utf-8")
    en = (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
    headings = re.compile(r"<h[12]>([^<]*)</h[12]>")
    assert headings.findall(en) == FIT_HEADINGS and en.startswith('<!DOCTYPE html><html lang="en">')
    assert headings.findall(ja) == ["学習したヘルススコア", "漏洩チェック",
                                    "モデルの比較（95%信頼区間、顧客単位のブートストラップ）", "較正", "スコアカード",
                                    "データ"]
    assert ja.startswith('<!DOCTYPE html><html lang="ja">') and "<title>engage fit レポート</title>" in ja
    for english in [*FIT_HEADINGS, "rows (", "churn rate", "Test windows", "The learned card is", "calibration error",
                    "Missing values", "Columns left out", "<th>train_rows</th>", "<th>points_range</th>",
                    "<th>model</th>", "95% CI", "left out as a possible leak"]:
        assert english not in ja, english
    ev = json.loads((tmp_path / "ja" / "evaluation.json").read_text(encoding="utf-8"))
    mature = pd.Timestamp(ev["validation"]["labels_mature_until"])
    assert f"テスト期間（結果ラベルは{mature.year}年{mature.month}月{mature.day}日までに確定）" in ja
    assert f"<p>{len(df):,}行（うち結果ラベルのない0行は除外）、解約率{100 * df['left'].mean():.1f}%。" in ja
    assert "<th>学習行数</th>" in ja and "<th>点数の幅</th>" in ja and "<th>モデル</th>" in ja
    card = "形状" if ev["chosen"]["score"] == "shape" else "線形"
    assert f"学習したスコアカードは<strong>{card}スコアカード</strong>です" in ja
    # the models compared are named in the page's language: the linear card's row read "linear" in both
    for page, names in ((ja, ["形状スコアカード", "線形スコアカード", "勾配ブースティング"]),
                        (en, ["shape card", "linear card", "gradient boosting"])):
        first = re.findall(r"<tr>\s*<td>([^<]*)</td>", page)  # each table row's first cell
        assert first[first.index(names[0]):][:3] == names, first
    assert "<li>漏洩の疑いで除外：cancel_reason：" in ja and "<p>除外した列：</p>" in ja
    assert f"較正誤差（ICI）は {ev['calibration']['ici']:.3f} です" in ja
    for page in (ja, en):
        assert "<b>" not in page and "&lt;b&gt;plan&lt;/b&gt;" in page  # a column named so, escaped
        assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched
        assert page.count('src="data:image/png;base64,') == 1 and page.rstrip().endswith("</html>")
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", en)

def _repeated_accounts(accounts=300, rows=6, seed=0, beta=0.35):
    """Each account: its churn (0/1, on all its rows), a weak signal and four traits that identify it, measured
    on each row with a little noise. Returns the table and the ROC-AUC of the true churn probability."""
    rng = np.random.default_rng(seed)
    z, traits = rng.normal(size=accounts), rng.normal(size=(accounts, 4))
    p = 1 / (1 + np.exp(-(-1.0 + beta * z)))
    churned = (rng.random(accounts) < p).astype(int)
    a = np.repeat(np.arange(accounts), rows)
    df = pd.DataFrame({"account": [f"acc{i:03d}" for i in a], "signal": z[a] + rng.normal(0, 0.05, len(a))})
    for j in range(4):
        df[f"trait{j}"] = traits[a, j] + rng.normal(0, 0.05, len(a))
    df["churned"] = churned[a]
    return df, float(roc_auc_score(churned, p))


def test_cross_validation_keeps_an_accounts_rows_together(tmp_path):
    df, true_auc = _repeated_accounts()
    X, y = df.drop(columns=["account", "churned"]), df["churned"]
    gbm = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    by_row = cross_val_score(gbm, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="roc_auc")
    assert by_row.mean() > 0.95 > true_auc + 0.3  # folds of rows: the model recognises the accounts
    # engage fit's default validates both cards: on 300 accounts with a weak signal (true AUC 0.59) the shape
    # card ranks at chance (0.49: its held-out calibration slope is negative in every fold), so the linear card
    # is kept, and said to be
    ev = fit_table(df, "churned", tmp_path, id_col="account", n_bootstrap=0, n_boot_eval=50)
    assert ev["chosen"]["score"] == "linear" == ev["final_model"]["score"]
    assert ev["chosen"]["roc_auc"]["linear"] > ev["chosen"]["roc_auc"]["shape"]
    assert ev["models"]["learned"] == ev["models"]["linear"]
    assert "The learned card is the <strong>linear</strong> card" in (tmp_path / "report.html").read_text()
    val = ev["validation"]
    assert val["method"].startswith("stratified 5-fold cross-validation, folds of accounts by 'account'")
    assert (val["test_rows"], val["test_accounts"]) == (1800, 300)
    for model in ("learned", "gbm"):  # near the truth (0.59 here), not near 1
        auc = ev["models"][model]["roc_auc"]
        assert abs(auc["estimate"] - true_auc) < 0.1, (model, auc, true_auc)
        assert auc["ci_high"] - auc["ci_low"] > 0.1  # intervals from 300 accounts, not 1,800 rows
    # every account's rows are validated in one fold
    fold_of = {}
    for i, (_, va) in enumerate(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(df, y, df["account"])):
        fold_of.update({a: i for a in df["account"].iloc[va]})
    preds, k = T._cv_predictions({"m": lambda: HandWeightedScore({"metrics": [
        {"metric": "signal", "weight": 1, "thresholds": [[0, 100]]}]})},
        df.assign(__id=df["account"]), y, 5, 0)
    assert k == 5 and preds.groupby("account_id")["as_of"].nunique().max() == 1
    assert (preds["account_id"].map(fold_of) == preds["as_of"]).all()
    # the validation predictions file: one fold per account, its rows the table's data rows
    val_rows = pd.read_csv(tmp_path / "validation_predictions.csv", encoding="utf-8-sig")
    assert len(val_rows) == 1800 and list(val_rows.columns[:4]) == ["data_row", "account", "fold", "label"]
    assert val_rows.groupby("account")["fold"].nunique().max() == 1 and set(val_rows["fold"]) == {1, 2, 3, 4, 5}
    assert (df["churned"].to_numpy()[val_rows["data_row"].to_numpy() - 1] == val_rows["label"].to_numpy()).all()


def test_fit_leaves_leaks_out_says_so_and_keeps_a_column_on_request(tmp_path):
    rng = np.random.default_rng(2)
    df = _synthetic(n=600, seed=2).drop(columns=["as_of", "account_id"])
    df["cancel_reason"] = np.where(df["churned"] == 1, rng.choice(["price", "a rival", "closed"], len(df)), None)
    df = df.sort_values("churned", kind="stable").reset_index(drop=True)
    df["customer_no"] = np.arange(1, len(df) + 1)
    path = tmp_path / "leaky.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "fit"
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label", "churned",
                           "--bootstrap", "0", "--folds", "3", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "left out as a possible leak: cancel_reason: filled for 100% of rows with churned = 1" in proc.stdout
    assert "left out as a possible leak: customer_no: 600 distinct integers from 1 to 600" in proc.stdout
    assert "--keep-column NAME" in proc.stdout
    ev = json.loads((out / "evaluation.json").read_text())
    d = ev["chosen"]["shape_minus_linear"]  # the card kept, and why, on the console too (the report alone said it)
    assert (f"learned: the {ev['chosen']['score']} card (shape minus linear ROC-AUC {d['difference']:+.3f}, 95% CI "
            f"{d['ci_low']:+.3f} to {d['ci_high']:+.3f}; the shape card is kept only when its lead is beyond that "
            f"interval)") in proc.stdout, proc.stdout
    assert set(ev["leakage_screen"]["excluded"]) == {"cancel_reason", "customer_no"}
    assert {"identifier", "single_column_auc"} == {f["check"] for f in ev["leakage_screen"]["excluded"]["customer_no"]}
    assert ev["data"]["dropped_columns"]["cancel_reason"].startswith("possible leak: filled for 100%")
    assert set(ev["data"]["features"]) == {"usage", "breadth", "tickets", "noise", "segment"}
    assert ev["models"]["learned"]["roc_auc"]["estimate"] < 0.9 and max(ev["final_model"]["thresholds"]) < 0.9
    _, _, report = T.prepare(df, "churned", keep_columns=["customer_no"])
    assert "customer_no" in report["features"] and list(report["leakage_screen"]["kept_on_request"]) == ["customer_no"]


def _daily_snapshots(slots=8, days=360, seed=0):
    """A daily snapshot of the accounts active each day (a churned account is replaced the next day). The label
    says "churned within 30 days" as a naive export computes it: churns after the last day are not seen yet."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows, n = [], 0
    for _ in range(slots):
        day = 0
        while day < days:
            u = rng.normal()
            life = int(rng.exponential(100 * np.exp(0.8 * u))) + 1
            for d in range(day, min(day + life, days)):
                gone = day + life
                rows.append({"account": f"a{n}", "as_of": start + pd.Timedelta(days=d),
                             "usage": u + rng.normal(0, 0.3), "noise": rng.normal(),
                             "churned_30d": int(d < gone <= d + 30 and gone < days)})
            day, n = day + life, n + 1
    return pd.DataFrame(rows)


def test_out_of_time_tests_windows_of_mature_labels(tmp_path):
    df = _daily_snapshots()
    assert (df.groupby("as_of").size() == 8).all() and df["as_of"].nunique() == 360
    ev = fit_table(df, "churned_30d", tmp_path, date_col="as_of", id_col="account", horizon_days=30,
                   n_bootstrap=0, n_boot_eval=20)
    val = ev["validation"]
    # by hand: labels known from day 30, mature until day 329 (day 359 - 30); the last half of that span,
    # days 179.5 .. 329, in 4 windows of 37.375 days: days 180-216, 217-254, 255-291, 292-329
    assert val["labels_mature_until"] == "2024-11-25" and val["observed_until"] == "2024-12-25"
    assert [w["test_rows"] for w in val["windows"]] == [8 * 37, 8 * 38, 8 * 37, 8 * 38]
    day = (df["as_of"] - df["as_of"].min()).dt.days
    tested = df[(day >= 180) & (day <= 329)]
    assert val["test_rows"] == len(tested) == 1200 and val["test_events"] == tested["churned_30d"].sum()
    assert val["test_accounts"] == tested["account"].nunique()
    assert [w["train_rows"] for w in val["windows"]] == [8 * 150, 8 * 187, 8 * 225, 8 * 262]  # day + 30 <= start
    assert ev["final_model"]["train_rows"] == 8 * 330  # mature rows only
    # every validation prediction is written, one row per test row and window, each traceable to its data row,
    # and the evaluation's ROC-AUC recomputes from them
    val_rows = pd.read_csv(tmp_path / "validation_predictions.csv", encoding="utf-8-sig")
    assert len(val_rows) == 1200 and "validation_predictions.csv" in ev["files"]
    assert list(val_rows.columns[:5]) == ["data_row", "account", "as_of", "window", "label"]
    assert {"p_shape", "p_linear", "p_gbm"} <= set(val_rows.columns)
    src = df.iloc[val_rows["data_row"].to_numpy() - 1]
    assert (src["account"].to_numpy() == val_rows["account"].to_numpy()).all()
    assert (src["churned_30d"].to_numpy() == val_rows["label"].to_numpy()).all()
    assert (pd.to_datetime(val_rows["as_of"], utc=True).to_numpy() == src["as_of"].to_numpy()).all()
    tested_day = (pd.to_datetime(val_rows["as_of"], utc=True) - df["as_of"].min()).dt.days
    assert tested_day[val_rows["window"] == 1].between(180, 216).all() and set(val_rows["window"]) == {1, 2, 3, 4}
    for m in ("shape", "linear", "gbm"):
        if (ev["models"][m].get("one_value") or {}).get("all"):  # one value in each window ranks nothing: no figure
            assert (val_rows.groupby("window")[f"p_{m}"].nunique() == 1).all()
            assert ev["models"][m]["roc_auc"]["estimate"] is None and m != "gbm"
            continue
        assert roc_auc_score(val_rows["label"], val_rows[f"p_{m}"]) == pytest.approx(
            ev["models"][m]["roc_auc"]["estimate"])
    with pytest.raises(InsufficientData, match=r"1,200 test rows with \d+ churners? in 4 windows"):
        fit_table(df, "churned_30d", tmp_path, date_col="as_of", id_col="account", horizon_days=30,
                  min_test_events=10_000, n_bootstrap=0)
    with pytest.raises(InsufficientData, match="no later date to test on"):
        fit_table(df, "churned_30d", tmp_path, date_col="as_of", id_col="account", horizon_days=200)


def test_time_windows_example_and_the_module_examples():
    assert doctest.testmod(T).failed == 0
    days = pd.date_range("2025-01-01", "2025-12-31", freq="D")
    # outcomes observed until 31 March 2026: every 2025 date is mature; labels known from 1 April 2025 (+90 days)
    tw = T.time_windows(days, 90, n_windows=2, observed_until="2026-03-31")
    assert str(tw["mature_until"].date()) == "2025-12-31"
    assert [(str(a.date()), str(b.date())) for a, b in tw["windows"]] == [("2025-08-16", "2025-10-23"),
                                                                        ("2025-10-23", "2025-12-31")]


def test_bad_tables_name_the_file_column_and_rows(tmp_path):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "churned": [0, 2, 1], "d": ["2025-01-01", "soon", "2025-02-01"]})
    with pytest.raises(TableError, match=r"t.csv, column 'churned': .*1 row is not.*data rows \[2\]"):
        fit_table(df, "churned", tmp_path, where="t.csv")
    with pytest.raises(TableError, match=r"t.csv, column 'd': 1 unparseable date.*\[2\]"):
        fit_table(df.assign(churned=[0, 1, 1]), "churned", tmp_path, date_col="d", where="t.csv")
    with pytest.raises(TableError, match="no label column 'gone'"):
        fit_table(df, "gone", tmp_path, where="t.csv")


# ---------------------------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def demo_panels(demo_world):
    truth = pd.read_parquet(demo_world / "raw" / "true_hazard.parquet")
    truth["as_of"] = truth["month"] + pd.offsets.MonthBegin(1)  # covariates of month t, churn in month t + 1
    out = {}
    for h in (30, 90):
        p = default_panel(demo_world / "processed", horizon_days=h)
        out[h] = p.merge(truth[["account_id", "as_of", "hazard"]], on=["account_id", "as_of"], how="left")
    return out, json.loads((demo_world / "raw" / "truth.json").read_text())


def test_fitted_weights_recover_the_signs_and_ranking_of_the_true_drivers(demo_panels):
    panels, truth = demo_panels
    p = panels[30]  # a one-month horizon: the label the true monthly hazard describes
    p = p[p["churned_within_h"].notna()]
    pairs = {"active_user_ratio_28d": "active_ratio", "feature_breadth_28d": "feature_breadth",
             "tickets_28d": "log1p_tickets", "nps_latest": "nps_centered"}
    hs = HealthScore(metrics=list(pairs), categorical=["segment"], gap_days=30, n_bootstrap=0).fit(
        p, p["churned_within_h"].astype(int))
    w = dict(zip(hs.feature_names_, hs.coef_, strict=True))
    sd = {"active_ratio": p["active_user_ratio_28d"].std(), "feature_breadth": p["feature_breadth_28d"].std(),
          "log1p_tickets": np.log1p(p["tickets_28d"]).std(), "nps_centered": p["nps_latest"].std()}
    coef = truth["coefficients"]
    true_std = [coef[v] * sd[v] for v in pairs.values()] + [coef["segment"]["SMB"] - coef["segment"]["Enterprise"]]
    fitted = [w[k] for k in pairs] + [w["segment=SMB"] - w["segment=Enterprise"]]
    assert np.all(np.sign(fitted) == np.sign(true_std)), (fitted, true_std)
    assert spearmanr(fitted, true_std).statistic >= 0.9
    assert abs(w["active_user_ratio_28d"]) > abs(w["feature_breadth_28d"])  # the two strongest, in order


@pytest.fixture(scope="module")
def demo_backtest(demo_panels):
    panels, _ = demo_panels
    # the gradient-boosting benchmark is compared in the report; here only what the claims need
    models = {"learned": lambda: HealthScore(gap_days=90, **FAST), "hand": HandWeightedScore}
    bt = E.backtest(panels[90], models, horizon_days=90, n_cutoffs=8, scores={"oracle": "hazard"})
    return bt, bt.summary(n_boot=200)


def test_learned_score_is_close_to_the_oracle_and_beats_the_hand_weighted_card(demo_backtest):
    bt, s = demo_backtest
    auc = s[s["metric"] == "roc_auc"].set_index("model")["estimate"]
    assert auc["learned"] >= auc["oracle"] - 0.03, auc          # the true hazard: the best any score can rank
    diff = E.paired_difference(s, "learned", "hand")
    assert diff["ci_low"] > 0, diff                              # better by more than the bootstrap interval


def test_learned_probabilities_are_calibrated_out_of_time(demo_backtest):
    bt, s = demo_backtest
    ici = s[(s["metric"] == "ici")].set_index("model")["estimate"]
    assert ici["learned"] < 0.03, ici
    assert len(bt.predictions.query("model == 'learned'")) > 5000  # eight monthly cutoffs of ~1,000 accounts


@pytest.mark.slow
def test_out_of_time_probabilities_match_the_observed_churn_rate(demo_panels):
    """Calibrated on out-of-fold log-odds, the probabilities hold out of time. (Calibrating pooled 0-100 scores
    of fold models, each with its own 0-100 mapping, predicted 4.7% against 3.4% observed here.)"""
    panels, _ = demo_panels
    bt = E.backtest(panels[30], {"learned": lambda: HealthScore(gap_days=30, **FAST)}, horizon_days=30,
                    n_cutoffs=8, scores={"oracle": "hazard"})
    pr = bt.predictions.query("model == 'learned'")
    # mean residual with its account-clustered standard error (an account's rows at several dates are not
    # independent)
    r = (pr["y"] - pr["p"]).groupby(pr["account_id"]).sum()
    se = float(np.sqrt((r ** 2).sum())) / len(pr)
    assert pr["y"].sum() > 100 and se < 0.004
    assert abs(pr["y"].mean() - pr["p"].mean()) < 2 * se, (pr["p"].mean(), pr["y"].mean(), se)


def test_monotone_binning_captures_a_threshold_effect_and_stays_monotone():
    rng = np.random.default_rng(11)
    n = 6000
    ratio = rng.uniform(0, 1, n)
    # risk is high below 0.25 active seats and flat above: a step, not a line
    p = np.where(ratio < 0.25, 0.35, 0.05)
    X = pd.DataFrame({"ratio": ratio, "noise": rng.normal(size=n)})
    y = (rng.random(n) < p).astype(int)
    half = n // 2
    linear = HealthScore(n_bootstrap=0, group_threshold=None).fit(X[:half], y[:half])
    binned = HealthScore(n_bootstrap=0, group_threshold=None, binning="monotone", n_bins=8).fit(X[:half], y[:half])
    loss = {name: E.log_loss(y[half:], m.predict_proba(X[half:])[:, 1]) for name, m in
            (("linear", linear), ("binned", binned))}
    assert loss["binned"] < loss["linear"] - 0.005, loss
    binner = binned.fitted_.design.binner
    woe = binner.woe_["ratio"]
    assert np.all(np.diff(woe) <= 1e-12), woe            # risk never rises with the ratio
    assert woe[0] - woe[-1] > 1.5                          # about logit(0.35) - logit(0.05) = 2.3
    grid = pd.DataFrame({"ratio": np.linspace(0, 1, 50), "noise": 0.0})
    assert np.all(np.diff(binned.predict_proba(grid)[:, 1]) <= 1e-12)


def test_a_date_column_of_numbers_is_refused_not_read_as_1970(tmp_path):
    """`--date-col income` read the numbers as nanoseconds after 1970 and fitted on one date: now a clear error."""
    from engage_models.health.tables import TableError, prepare

    df = _synthetic(n=200, seed=1, dates=3).assign(income=lambda d: np.arange(len(d)) * 10.0)
    with pytest.raises(TableError, match=r"t.csv, column 'income': holds numbers, not dates \(e.g. 0.0\)"):
        prepare(df, "churned", date_col="income", where="t.csv")


def test_fit_says_when_the_learned_score_is_no_better_than_chance(tmp_path):
    """Forty rows of noise: the command says the score ranks no better than chance and not to act on it (it
    wrote a scorecard and exited 0 with nothing but the figures to tell)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.csv"
    pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40), "churned": rng.integers(0, 2, 40)}).to_csv(
        path, index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label", "churned",
                           "--bootstrap", "0", "--out", str(tmp_path / "f")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "the learned score ranks no better than chance on this validation" in proc.stdout


def test_a_table_that_cannot_be_fitted_is_refused_with_what_is_wrong_where(tmp_path):
    """A new user's tables: the header only, an empty label or date column, labels of other words, one outcome,
    ids missing after unlabeled rows, an id-like text kept on purpose, and a table too thin for any validation
    (the message names the file)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [f"a{i}" for i in range(60)], "x": rng.normal(size=60), "left": [1, 0] * 30})
    where = "t.csv"
    with pytest.raises(T.TableError, match=r"t.csv: no data rows \(only the header: id, x, left\)"):
        T.prepare(df.iloc[:0], "left", where=where)
    with pytest.raises(T.TableError, match="column 'left': empty in every one of the 60 row"):
        T.prepare(df.assign(left=np.nan), "left", where=where)
    with pytest.raises(T.TableError, match="column 'when': empty in every row"):
        T.prepare(df.assign(when=np.nan), "left", date_col="when", where=where)
    words = df.assign(left=df["left"].map({1: "yes", 0: "no"}))
    words.loc[[3, 8], "left"] = ["maybe", "n/a"]
    with pytest.raises(T.TableError, match=r"2 rows are not \(first at data rows \[4, 9\]; values found: "
                                           r"'maybe', 'n/a'\)"):
        T.prepare(words, "left", where=where)
    with pytest.raises(T.TableError, match=r"has a single value \(0 in all 30 rows with a label\)"):
        T.prepare(df[df["left"] == 0], "left", where=where)
    holes = df.astype({"left": float, "id": object})
    holes.loc[[0, 1, 2], "left"] = np.nan  # unlabeled: left out before the ids are checked
    holes.loc[[10, 20], "id"] = None
    with pytest.raises(T.TableError, match=r"2 rows without an id \(first at data rows \[11, 21\]\)"):
        T.prepare(holes, "left", id_col="id", where=where)
    _, _, report = T.prepare(df, "left", keep_columns=["id"], where=where)
    assert "--keep-column keeps a column from the leakage screen" in report["dropped_columns"]["id"]
    # a column of dates was "text with 60 distinct values (an identifier?)"; it is said to be dates
    dated = df.assign(signed=pd.date_range("2024-01-01", periods=len(df), freq="D").strftime("%Y-%m-%d"))
    _, _, report = T.prepare(dated, "left", where=where)
    assert report["dropped_columns"]["signed"].startswith("dates: give the column of each row's observation date "
                                                          "as --date-col")
    # a column of 12 renewal months was taken for a category of 12 levels, each date a level, without a word
    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m-%d")
    # a repeated-events table's "id" (three rows a subject) was the card's second-largest weight, its rows split
    # across folds without a word: left out, with --id-col named
    subjects = df.assign(subject_id=np.arange(len(df)) // 3, id=np.arange(len(df)) // 3)
    X, _, report = T.prepare(subjects, "left", where=where)
    assert "subject_id" not in X and "id" not in X
    assert report["dropped_columns"]["subject_id"].startswith("an identifier repeated over rows (20 of its 20 values "
                                                              "on 60 rows): not a feature; give it as --id-col "
                                                              "subject_id")
    assert set(report["repeated_identifier"]) == {"id", "subject_id"}
    X, _, report = T.prepare(subjects.drop(columns="subject_id"), "left", id_col="id", where=where)
    assert "repeated_identifier" not in report  # given as the id: a cluster, never a feature
    renews = months[np.random.default_rng(5).integers(0, 12, len(df))]  # unrelated to the label
    X, _, report = T.prepare(df.assign(renews=renews), "left", where=where)
    assert "renews" not in X and report["dropped_columns"]["renews"].startswith("dates: give the column")
    path = tmp_path / "thin.csv"
    df.assign(left=[1] + [0] * 59).to_csv(path, index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label", "left",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"engage fit: error: {path}: too few churners"), proc.stderr


def test_rows_without_a_label_are_named():
    """fit said "left out 3 rows without a label (of 60)" and not which: the first data rows are named, as
    every other message about rows names them."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "left": [1.0, 0.0] * 30})
    df.loc[[2, 40, 41], "left"] = np.nan
    _, y, report = T.prepare(df, "left", where="t.csv")
    assert len(y) == 57 and report["rows_without_label"] == 3
    assert report["first_rows_without_label"] == [3, 41, 42]


def test_japanese_yes_no_labels_and_full_width_ones_are_read():
    """A Japanese sheet's churn column (はい/いいえ, 解約/継続, あり/なし, ○/×, full-width ＹＥＳ) was refused with
    "label values must be 0/1, true/false or yes/no"; they are read, and a value that is none of them still is
    refused, named."""
    values = ["はい", "いいえ", None, "ＹＥＳ", "解約", "継続", "○", "×", "あり", "なし", " １ "]
    got = T._label(pd.Series(values), "t.csv").tolist()
    assert got[:2] + got[3:] == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0] and np.isnan(got[2])
    with pytest.raises(T.TableError, match=r"first at data rows \[2\]; values found: 'たぶん'"):
        T._label(pd.Series(["はい", "たぶん"]), "t.csv")


def test_rows_repeated_in_every_column_are_warned_about_without_an_id(tmp_path):
    """A table exported twice over in part: without --id-col a row and its copy fell in the training and the
    validation rows of one fold alike (ROC-AUC flattered) without a word. They are counted and named, and the
    warning points to --id-col, under which a copy stays in its account's fold (no warning)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [f"a{i}" for i in range(60)], "x": rng.normal(size=60), "left": [1, 0] * 30})
    twice = pd.concat([df, df.iloc[[4, 9, 9]]], ignore_index=True)  # data rows 61, 62, 63 repeat 5, 10, 10
    _, _, report = T.prepare(twice, "left", where="t.csv")
    assert report["repeated_rows"] == {"rows": 3, "first_rows": [61, 62, 63]}
    _, _, report = T.prepare(twice, "left", id_col="id", where="t.csv")
    assert "repeated_rows" not in report
    _, _, report = T.prepare(df, "left", where="t.csv")
    assert "repeated_rows" not in report
    path = tmp_path / "t.csv"
    twice.drop(columns="id").to_csv(path, index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label", "left",
                           "--bootstrap", "0", "--out", str(tmp_path / "f")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ("warning: 3 rows repeat an earlier row in the label and every column used (first at data rows "
            "[61, 62, 63]): without --id-col a row and its copy can fall in the training and the validation rows of "
            "one fold") in proc.stdout


def test_the_learned_score_against_the_hand_card_is_said_as_the_interval_says():
    """A difference of -0.029 (-0.086 to +0.025) was "ranks churners better ... by -0.029": it is alike within
    the noise; an interval below 0 is worse, above 0 better, in both languages."""
    from engage_models.health import views as hv

    alike = hv.compare_text({"difference": -0.029, "ci_low": -0.086, "ci_high": 0.025}, 0.80, 0.77)
    assert "rank churners alike: the difference, -0.029 ROC-AUC (95% CI -0.086 to +0.025), is within the noise" in alike
    worse = hv.compare_text({"difference": -0.05, "ci_low": -0.08, "ci_high": -0.02}, 0.8, 0.7)
    assert "ranks churners worse than the hand-weighted card, by **0.050** ROC-AUC" in worse
    better = hv.compare_text({"difference": 0.04, "ci_low": 0.01, "ci_high": 0.07}, 0.8, 0.78)
    assert "better than the hand-weighted card by **0.040**" in better
    assert "低く" in hv.compare_text({"difference": -0.05, "ci_low": -0.08, "ci_high": -0.02}, 0.8, 0.7, "ja")
    assert "差は見られません" in hv.compare_text({"difference": -0.029, "ci_low": -0.086, "ci_high": 0.025}, 0.8, 0.77,
                                                 "ja")


def test_a_missing_answer_reads_once_with_the_metric_s_name_and_drivers_are_joined_per_language():
    """A Japanese CSM read 「直近のNPSスコア: 回答・値なし 回答・値なし、健全な顧客の典型値 7.42：-3点」: the missing
    indicator's label ("...: missing") with the missing value after it, "no answer or value" beside usage
    metrics too, and the drivers joined with an English "; "."""
    rng = np.random.default_rng(4)
    n = 1500
    X = pd.DataFrame({"logins_28d": rng.gamma(2, 5, n), "nps_latest": rng.integers(0, 11, n).astype(float)})
    silent = rng.random(n) < 0.3
    X.loc[silent, "nps_latest"] = np.nan
    X.loc[rng.random(n) < 0.1, "logins_28d"] = np.nan
    logit = -1 - 0.15 * X["logins_28d"].fillna(0) - 0.2 * X["nps_latest"].fillna(2) + 1.5 * silent
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))
    hs = HealthScore(n_bootstrap=0).fit(X, y)
    rows = X.index[silent & X["logins_28d"].notna()][:20]
    en = " | ".join(hs.drivers(X.loc[rows], k=5)["drivers_text"])
    ja = " | ".join(hs.drivers(X.loc[rows], k=5, lang="ja")["drivers_text"])
    assert "latest NPS rating (0-10) no answer, typical healthy " in en, en
    assert "missing" not in en and "no answer no answer" not in en and "no answer: no answer" not in en
    assert "直近のNPS評点（0〜10） 未回答、健全な顧客の典型値 " in ja and "回答・値なし" not in ja, ja
    assert "; " not in ja and "／" in ja, ja  # two drivers at least, joined the Japanese way
    assert "; " in en
    from engage_models.health.design import feature_label, missing_word

    assert feature_label("nps_latest__missing", "en") == "latest NPS rating (0-10): no answer"
    assert missing_word("logins_28d", "ja") == "データなし" and missing_word("nps_latest", "ja") == "未回答"


def test_a_column_of_numbers_exported_with_blanks_or_a_few_words_is_read_as_numbers_or_named():
    """From a new user's run on a public table: a column of numbers with two blank cells (" ", as a spreadsheet
    exports an empty number) was left out as "text with 282 distinct values (an identifier?)"; engage survival
    read it. It is read as numbers now, its blanks imputed and counted; a column with a few typed-in words names
    them; a text column of one value is left out with its value (it was a feature)."""
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(50, 10, n).round(2)
    df = pd.DataFrame({"charges": x.astype(str), "months": x.round(0).astype(str),
                       "churned": (rng.random(n) < 1 / (1 + np.exp(-(x - 50) / 5))).astype(int),
                       "seg": rng.choice(["a", "b"], n), "country": "JP"})
    df.loc[[3, 7], "charges"] = " "
    df.loc[[4, 9], "months"] = ["12 months", "unknown"]
    X, y, report = T.prepare(df, "churned", where="t.csv")
    assert report["features"] == ["charges", "seg"]
    assert X["charges"].dtype == float and report["missing_values"] == {"charges": 2}
    assert report["dropped_columns"] == {
        "months": "numbers but for 2 cells that are not (first at data rows [5, 10], e.g. '12 months'); empty or "
                  "correct those cells to use it",
        "country": "one value: 'JP' in every row"}
    df.loc[9, "months"] = "7"  # one cell left: said in the singular, it read "1 cell(s) that are not"
    assert T.prepare(df, "churned", where="t.csv")[2]["dropped_columns"]["months"] == (
        "numbers but for 1 cell that is not (first at data rows [5], e.g. '12 months'); empty or correct that cell to "
        "use it")


def test_dates_written_day_first_are_read_day_first():
    """A European date column (07.06.2021, then 13.06.2021): pandas inferred month first from the first value and
    --date-col stopped on "1 unparseable date(s)" at a valid date. The reading (month or day first) that reads
    more of the column is taken; month first stays where both read all (08/06/2021 alone is ambiguous)."""
    day_first = pd.Series(["07.06.2021", "13.06.2021", "01.02.2021", None])
    assert T._dates(day_first).dt.strftime("%Y-%m-%d").tolist()[:3] == ["2021-06-07", "2021-06-13", "2021-02-01"]
    assert T._dates(pd.Series(["06/13/2021", "08/06/2021"])).dt.strftime("%m-%d").tolist() == ["06-13", "08-06"]
    assert T._dates(pd.Series(["08/06/2021", "01/02/2021"])).dt.strftime("%m-%d").tolist() == ["08-06", "01-02"]
    n = 40
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"as_of": (pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(n) * 9, "D")).strftime(
        "%d.%m.%Y"), "x": rng.normal(size=n), "churned": rng.integers(0, 2, n)})
    X, _, _ = T.prepare(df, "churned", date_col="as_of", where="t.csv")
    assert X["as_of"].dt.strftime("%d.%m.%Y").tolist() == df["as_of"].tolist()


def test_dates_in_several_formats_stop_with_the_values_that_are_not_read():
    """A date column typed by several hands (2023-09-08, 14/05/2023, 12/02/2023, 03.06.2023): --date-col stopped
    on "879 unparseable date(s) (first at data rows [2, 3, 5, 6, 8])", the rows' values unsaid, and 12/02/2023
    in the file looks like a date. The values are named, and what the column is read as."""
    n = 40
    rng = np.random.default_rng(0)
    dates = pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(n) * 9, "D")
    written = [d.strftime(("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y")[i % 3]) for i, d in enumerate(dates)]
    df = pd.DataFrame({"as_of": written, "x": rng.normal(size=n), "churned": rng.integers(0, 2, n)})
    with pytest.raises(T.TableError) as err:
        T.prepare(df, "churned", date_col="as_of", where="t.csv")
    assert str(err.value).startswith(
        "t.csv, column 'as_of': 26 unparseable dates (first at data rows [2, 3, 5, 6, 8]: '10/01/2021', "
        "'19.01.2021', '06/02/2021', '15.02.2021', '05/03/2021'); a date column is read in one format: write every "
        "date in one, such as 2024-01-31")


def test_a_subject_key_named_without_id_is_no_feature_and_an_honest_count_stays():
    """KMsurv's allograft (``patient``), HSAUR's respiratory and nlme's tables (``subject``/``Subject``) key a
    subject's several rows by a name without "id": it went into the card as a number. The key words are the
    signal (a count such as ``users`` repeats its values too and stays a feature; a ``subject`` of course names is
    no key)."""
    rng = np.random.default_rng(3)
    n = 90
    df = pd.DataFrame({"patient": np.arange(n) // 3 + 101, "users": rng.integers(1, 12, n),
                       "subject": rng.choice(["Chemistry", "Physics", "History"], n), "x": rng.normal(size=n),
                       "left": rng.integers(0, 2, n)})
    X, _, report = T.prepare(df, "left", where="t.csv")
    assert "patient" not in X and {"users", "subject", "x"} <= set(X.columns)
    assert report["repeated_identifier"] == {"patient": {"values": 30, "rows": 90, "distinct": 30}}
    assert report["dropped_columns"]["patient"].startswith("an identifier repeated over rows (30 of its 30 values on "
                                                           "90 rows): not a feature; give it as --id-col patient")
    X, _, report = T.prepare(df, "left", keep_columns=["patient"], where="t.csv")
    assert "patient" in X and "repeated_identifier" not in report  # kept on request


def test_a_code_column_of_numbers_is_read_as_categories_or_left_out():
    """lifelines' ``dd`` carries country codes (``cowcode2``, 2 to 990) that went into the models as one linear
    number. A column named as a code holding whole numbers is a label: categories when it has few values (a zip
    code whose middle value churns most, which no linear weight can say), left out when it has many."""
    rng = np.random.default_rng(4)
    n = 400
    zips = rng.choice([10115, 20095, 80331], n)
    df = pd.DataFrame({"zip_code": zips, "countrycode": rng.integers(1, 300, n), "seats": rng.integers(1, 20, n),
                       "left": (rng.random(n) < np.where(zips == 20095, 0.6, 0.2)).astype(int)})
    X, _, report = T.prepare(df, "left", where="t.csv")
    assert "countrycode" not in X and {"zip_code", "seats"} <= set(X.columns)
    assert sorted(X["zip_code"].unique()) == ["10115", "20095", "80331"]  # three levels, not one number
    assert pd.api.types.is_numeric_dtype(X["seats"])  # an honest count stays a number
    assert report["dropped_columns"]["countrycode"].startswith("a code (")
    assert "a label, not a quantity, with more values than 50" in report["dropped_columns"]["countrycode"]
    assert report["code_columns"]["zip_code"]["note"] == (f"a code (3 distinct whole numbers, e.g. {zips[0]}): a "
                                                          "label, not a quantity; read as 3 categories (--keep-column "
                                                          "zip_code uses it as a number)")
    # the fit's HTML lists it where the other column notes are (the console and evaluation.json said it alone)
    listed = T._data_lists(report)
    assert "<p>Code columns read as categories:</p><ul><li><strong>zip_code</strong>: a code (3 distinct whole " \
           "numbers" in listed
    assert listed.count("<strong>countrycode</strong>") == 1  # among the columns left out only
    X, _, _ = T.prepare(df, "left", keep_columns=["zip_code"], where="t.csv")
    assert pd.api.types.is_numeric_dtype(X["zip_code"])  # kept as written on request


def test_columns_that_separate_the_label_strongly_on_their_own_are_listed_with_a_reminder():
    """nwtco's ``edrel`` (time to relapse, measured after the outcome) separates relapse at ROC-AUC 0.9496, under
    the screen's 0.95: kept, and the card leaned on it without a word. Columns at 0.85 or more that stay in are listed
    with the screen's own figure and a reminder that each must be known before the outcome."""
    rng = np.random.default_rng(6)
    n = 400
    y = rng.integers(0, 2, n)
    after = np.where(y == 1, rng.normal(2.2, 1.0, n), rng.normal(0.0, 1.0, n))  # AUC about 0.94
    df = pd.DataFrame({"after": after, "x": rng.normal(size=n) + 0.3 * y, "left": y})
    _, _, report = T.prepare(df, "left", where="t.csv")
    strong = report["leakage_screen"]["strong"]
    assert list(strong) == ["after"] and strong["after"] == pytest.approx(roc_auc_score(y, after), abs=1e-4)
    assert 0.85 <= strong["after"] < 0.95  # kept by the screen, said by the list
    from engage_models.features.screening import describe

    line = describe(report["leakage_screen"])[-1]
    assert line.startswith(f"strong on its own, kept: after ({strong['after']:.4f}) (single-column ROC-AUC of 0.85 "
                           f"or more; the screen leaves out 0.95 and more): check that each is known before the "
                           f"outcome")
    assert describe(report["leakage_screen"], "ja")[-1].startswith("単独で強く判別し、使用した列：after")


def test_a_metric_without_values_or_of_one_value_is_left_out_of_the_card_and_the_boosting_and_said():
    """hand1 (accounts without csat, features or seats): the card listed "latest CSAT: no answer" with a weight of
    -0.0001 and an interval, "active users / seats" with -0.002 to +0.0004, and the boosting fitted the empty
    columns with ~40 numpy warnings. A metric with no value, or one value, on the training rows tells a fit nothing:
    no row on the card, no column in the boosting, named with why under the card; a model scores without it."""
    import warnings

    from engage_models.health import ChurnGBM
    from engage_models.health.views import unsigned_note

    df = _synthetic(seed=4).rename(columns={"usage": "logins_28d", "breadth": "feature_breadth_28d",
                                            "tickets": "tickets_90d"}).drop(columns="noise")
    df = df.assign(csat_latest=np.nan, active_user_ratio_28d=0.5)
    X, y = df.drop(columns="churned"), df["churned"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "All-NaN slice" / "Mean of empty slice"
        hs = HealthScore(**FAST).fit(X, y)
        gbm = ChurnGBM(max_iter=20).fit(X, y)
    assert hs.left_out_ == {"csat_latest": "no_value", "active_user_ratio_28d": "one_value"}
    assert sorted(hs.metrics_) == ["feature_breadth_28d", "logins_28d", "tickets_90d"]
    card = hs.scorecard()
    assert not {f for f in card["feature"] if f.startswith(("csat_latest", "active_user_ratio_28d"))}
    assert card.attrs["left_out"] == ["csat_latest", "active_user_ratio_28d"]
    assert card.attrs["left_out_reason"] == ["no_value", "one_value"]
    assert gbm.metrics_ == hs.metrics_ and gbm.left_out_ == hs.left_out_
    note = unsigned_note(card)  # report 04's note under the linear card
    assert "Left out of the card" in note and "latest CSAT (no value)" in note and "(one value only)" in note
    assert "（値なし）" in unsigned_note(card, "ja")
    # scored later without the columns it left out (a frozen model names only the metrics it kept)
    later = X.drop(columns=["csat_latest", "active_user_ratio_28d"])
    np.testing.assert_allclose(hs.health_score(later), hs.health_score(X))
    assert np.isfinite(gbm.predict_proba(later)).all()
    # a metric of one value with rows missing stays: whether it is missing still separates
    part = X.assign(active_user_ratio_28d=np.where(np.arange(len(X)) % 3 == 0, np.nan, 0.5))
    assert "active_user_ratio_28d" in HealthScore(**FAST).fit(part, y).metrics_


def test_columns_of_no_value_or_one_value_are_named_among_the_columns_left_out_with_why(tmp_path, capsys):
    """engage fit left an empty and a constant column out as "constant or empty", and a column that has values in
    the table but none, or one, in the rows the final card learns from (a metric filled only in the latest rows,
    whose labels are not mature) was left off the card without a word: the card's own ``left_out_`` named it, the
    fit's columns left out did not. Each is named with its reason where the other columns left out are: the
    console, ``evaluation.json`` and the HTML report. A column of one value with some rows empty is not left out (as
    on the cards: whether it is filled can separate churners; ``engage fit`` left it out as "one value: 1.0 where
    filled"), and a true/false column of one value is left out as the others are (it was listed among the features,
    and every card dropped it without a word)."""
    from engage_models.cli import main

    df = _synthetic(n=900, seed=5, dates=8)
    latest = (df["as_of"] == df["as_of"].max()).to_numpy()
    rng = np.random.default_rng(0)
    df = df.assign(empty=np.nan, seats=7, region="EU", on_trial=True,
                   flag=np.where(np.arange(len(df)) % 4, 1.0, np.nan),
                   new_metric=np.where(latest, rng.normal(size=len(df)), np.nan),
                   price=np.where(latest, rng.integers(1, 5, len(df)), 10.0))
    df["as_of"] = df["as_of"].dt.strftime("%Y-%m-%d")
    df.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "fit"
    assert main(["fit", "--table", str(tmp_path / "t.csv"), "--label", "churned", "--date-col", "as_of", "--id-col",
                 "account_id", "--horizon", "30", "--score", "linear", "--bootstrap", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    ev = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    mature = ev["validation"]["labels_mature_until"]
    final = f"in the {ev['final_model']['train_rows']:,} rows the final card is fitted on (those with labels mature " \
            f"by {mature}): not on the card"
    why = {"empty": "no value: empty in every row", "seats": "one value: 7 in every row",
           "region": "one value: 'EU' in every row", "on_trial": "one value: True in every row",
           "new_metric": f"no value {final}", "price": f"one value {final}"}
    assert {c: ev["data"]["dropped_columns"][c] for c in why} == why
    assert {"new_metric", "price"} <= set(ev["data"]["features"])  # validated with them; the final card without
    card = pd.read_csv(out / "scorecard.csv")
    assert not set(card["feature"]) & set(why) and not card["feature"].str.startswith("new_metric").any()
    # one value with rows empty: a feature, on the card with its missing-value indicator, its empty rows counted
    assert "flag" in ev["data"]["features"] and "flag" not in ev["data"]["dropped_columns"]
    assert ev["data"]["missing_values"]["flag"] == (np.arange(len(df)) % 4 == 0).sum()
    assert "flag__missing" in set(card["feature"]) and "column 'flag' left out" not in printed
    # the rows the final card did not learn from (labels not mature) and the values filled: on the console too
    dates = pd.to_datetime(df["as_of"])
    immature = int((dates + pd.Timedelta(days=30) > dates.max()).sum())
    assert 0 < immature == ev["final_model"]["immature_rows"] == len(df) - ev["final_model"]["train_rows"]
    assert (f"left out of the final fit {immature:,} of {len(df):,} rows whose labels are not yet mature (their "
            f"date + 30 days is after {dates.max().date()}, the end of the outcomes)") in printed
    filled = {c: int(df[c].isna().sum()) for c in ("flag", "new_metric")}
    assert ev["data"]["missing_values"] == filled
    assert (f"filled {sum(filled.values()):,} missing values in 2 columns: 'flag' {filled['flag']:,}, "
            f"'new_metric' {filled['new_metric']:,} (a number's: the median") in printed
    report = (out / "report.html").read_text(encoding="utf-8")
    for c, reason in why.items():
        assert f"column {c!r} left out: {reason}\n" in printed
        assert f"<li><strong>{c}</strong>: {reason.replace(chr(39), '&#x27;')}</li>" in report


def test_a_column_of_one_value_whose_blanks_are_the_churners_is_kept_and_ranks_them(tmp_path, capsys):
    """engage fit left out a column of one value with some rows empty ("one value: 7.0 where filled (empty in 90
    rows)") where the cards keep such a metric: whether it is filled can be the finding (a single sign-on set up
    only by the accounts that stay). Churn is here exactly "the column is blank", for a number and for a text column:
    the leakage screen says so (a column filled for none of one class is a leak unless kept), and kept on request
    each is a feature, the number with its missing-value indicator, the text with its one level, and the fit ranks
    the churners perfectly (known answer: ROC-AUC 1). A weaker pattern is no leak and stays without a request."""
    from engage_models.cli import main

    n = 300
    y = (np.arange(n) % 10 < 3).astype(int)
    df = pd.DataFrame({"churned": y, "noise": np.random.default_rng(3).normal(size=n),
                       "sso": np.where(y == 1, np.nan, 7.0), "tier": np.where(y == 1, None, "gold")})
    df.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "fit"
    assert main(["fit", "--table", str(tmp_path / "t.csv"), "--label", "churned", "--keep-column", "sso",
                 "--keep-column", "tier", "--score", "linear", "--bootstrap", "0", "--folds", "3",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    ev = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert ev["data"]["features"] == ["noise", "sso", "tier"] and ev["data"]["dropped_columns"] == {}
    assert ev["data"]["missing_values"] == {"sso": 90, "tier": 90} and "left out" not in printed
    assert ev["models"]["learned"]["roc_auc"]["estimate"] == pytest.approx(1.0)
    assert ev["models"]["gbm"]["roc_auc"]["estimate"] == pytest.approx(1.0)
    card = pd.read_csv(out / "scorecard.csv").set_index("feature")["weight"]
    assert card["sso__missing"] > 1 and card["tier=gold"] < -1  # blank: churn; filled: none
    # without the request: left out by the leakage screen, for what it is (not as "one value")
    _, _, report = T.prepare(df, "churned")
    assert report["features"] == ["noise"] and set(report["leakage_screen"]["excluded"]) == {"sso", "tier"}
    assert all(why.startswith("possible leak: filled for 0% of rows with churned = 1")
               for why in report["dropped_columns"].values())
    # blank for two churners in three and one other row in seven: a finding, kept without a request, its blanks counted
    i = np.arange(n)
    promo = np.where(((y == 1) & (i % 2 == 0)) | ((y == 0) & (i % 10 == 5)), np.nan, 1.0)
    X, yy, report = T.prepare(df.assign(promo=promo, referral=np.where(np.isnan(promo), None, "yes"))
                              .drop(columns=["sso", "tier"]), "churned")
    assert report["features"] == ["noise", "promo", "referral"] and report["dropped_columns"] == {}
    assert report["missing_values"] == {"promo": 90, "referral": 90} and not report["leakage_screen"]["excluded"]
    # and the cards take the text column of one level with blanks (they dropped it without a word)
    from engage_models.health import ChurnGBM, ShapeScore

    for model in (HealthScore(**FAST, date_col="__none", id_col="__id"), ChurnGBM(id_col="__id", max_iter=20),
                  ShapeScore(date_col="__none", id_col="__id", n_bootstrap=0)):
        assert model.fit(X, yy).categorical_ == ["referral"], type(model).__name__


def test_rows_repeated_but_for_a_row_number_are_warned_about():
    """R's write.csv numbers the rows: ISLR's Caravan (5,822 rows) has 602 that repeat an earlier row in every
    column but ``rownames``, which the screen leaves out as a row number; the copies went unsaid. They are
    counted in the columns the models see and the label; a row differing in a column used, or in its label, is
    no copy."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "plan": ["a", "b", "c"] * 20, "left": [1, 0] * 30})
    twice = pd.concat([df, df.iloc[[4, 9]]], ignore_index=True)  # data rows 61, 62 repeat 5, 10
    twice.loc[62] = [twice.loc[2, "x"], "c", 0]  # data row 63: data row 3 with the other label
    twice.insert(0, "rownames", np.arange(1, len(twice) + 1))
    _, _, report = T.prepare(twice, "left", where="t.csv")
    assert "rownames" in report["dropped_columns"]
    assert report["repeated_rows"] == {"rows": 2, "first_rows": [61, 62]}
    # a count and the label alone: rows alike by chance (AER CreditCard's reports: 1,301 of 1,319), no copies
    _, _, report = T.prepare(twice[["plan", "left"]], "left", where="t.csv")
    assert "repeated_rows" not in report


def test_fit_on_a_thin_table_says_which_model_predicted_one_value_and_warns_of_a_negative_slope_once(tmp_path,
                                                                                                     capsys, caplog):
    """Thirty rows in three folds: gradient boosting (20 training rows, leaves of at least 20) predicts one value for
    every row of each fold, which ranks nothing; its ROC-AUC was printed as a measured 0.500 (95% CI 0.500 to
    0.500) on one table and as 0.437 (the folds' constants compared) on another. It is now said not computed, with
    why, on the console, in evaluation.json and in the report, its Brier score kept. The calibration's "slope is
    negative" warning came once per card fit that had one (twice for one fit, with two slopes and no word of which
    card): it is said once, naming the final card."""
    import logging

    from engage_models.cli import main

    rng = np.random.default_rng(0)
    path = tmp_path / "thin.csv"
    pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30),
                  "churned": (np.arange(30) % 3 == 0).astype(int)}).to_csv(path, index=False)
    out = tmp_path / "fit"
    with caplog.at_level(logging.WARNING):
        assert main(["fit", "--table", str(path), "--label", "churned", "--folds", "3", "--bootstrap", "0",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    val = pd.read_csv(out / "validation_predictions.csv")
    assert (val.groupby("fold")["p_gbm"].nunique() == 1).all()  # the premise: one value in each fold
    ev = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    gbm = ev["models"]["gbm"]
    for metric in ("roc_auc", "pr_auc", "lift_top_decile"):
        assert gbm[metric] == {"estimate": None, "ci_low": None, "ci_high": None, "not_computed": "one_value"}
    assert gbm["brier"]["estimate"] == pytest.approx(((val["p_gbm"] - val["label"]) ** 2).mean())
    reason = ("predicted one value for every row in each of the 3 folds (fitted on 20 rows: too few rows to learn "
              "from): it ranks no row above another, so its ROC-AUC, PR-AUC and top-decile lift are not computed")
    assert gbm["one_value"] == {"folds": [1, 2, 3], "of": 3, "reason": reason, "all": True}
    assert "  gbm      ROC-AUC not computed  Brier" in printed and f"gbm {reason}\n" in printed
    assert "0.500 to 0.500" not in printed
    # the linear card: one value in one fold only (its calibration slope there was negative): said, figures kept
    linear = ev["models"]["linear"]
    assert linear["one_value"]["folds"] == [int(f) for f, g in val.groupby("fold")["p_linear"] if g.nunique() == 1]
    assert not linear["one_value"]["all"] and linear["roc_auc"]["estimate"] is not None
    assert "linear predicted one value for every row in 1 of the 3 folds" in printed
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "not computed: one value" in report and f"<strong>gradient boosting</strong> {reason}." in report
    assert "nan" not in report.split("<h2>Models compared")[1].split("<h2>Calibration")[0]
    slopes = [r for r in caplog.records if "calibration slope is negative" in r.getMessage()]
    assert len(slopes) == 1, [r.getMessage() for r in slopes]
    assert slopes[0].getMessage().startswith("calibration slope is negative for the final linear card (")
    assert ev["calibration"]["negative_slope"]["final"] < 0


def test_fit_table_in_processes_gives_the_same_figures_and_counts_the_workers_negative_slopes(tmp_path):
    """engage fit's validation fits (each model in each fold) are shared among processes (``--jobs``, every core by
    default), then the final card's refits: every fit is seeded, so every figure is the one of a single process. A
    card fitted in a worker that warned of a negative calibration slope is counted in the one sentence said (in a
    worker its warning would have been printed there, once per fold, and not counted)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30),
                       "churned": (np.arange(30) % 3 == 0).astype(int)})
    one = T.fit_table(df, "churned", tmp_path / "one", folds=3, n_bootstrap=0, score="linear")
    two = T.fit_table(df, "churned", tmp_path / "two", folds=3, n_bootstrap=0, score="linear", n_jobs=2)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "one" / "validation_predictions.csv"),
                                  pd.read_csv(tmp_path / "two" / "validation_predictions.csv"))
    assert one["models"] == two["models"] and one["calibration"] == two["calibration"]
    assert one["calibration"]["negative_slope"]["validation_fits"] >= 1  # the premise: a fold's card warned


def test_slope_warnings_of_a_fits_cards_are_held_and_said_once():
    """The "slope is negative" warnings of the validation fits and the final fit, counted, said in one sentence; other
    warnings of the calibration go through."""
    import logging

    held, cal = T._SlopeWarnings(), logging.getLogger("engage_models.health._calibrated")
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    cal.addHandler(handler)
    try:
        with held.during("validation"):
            cal.warning("calibration slope is negative (%.3g): ...", -0.668)
            cal.warning("calibration slope is negative (%.3g): ...", -0.974)
            cal.warning("no cross-validation fold had both outcomes: calibrating ... in-sample (optimistic)")
            cal.warning("another warning")
        with held.during("final"):  # the final card's in-sample calibration is its own: said as it comes
            cal.warning("no cross-validation fold had both outcomes: calibrating ... in-sample (optimistic)")
        cal.warning("calibration slope is negative (%.3g): ...", -0.5)  # after the fit: not held
    finally:
        cal.removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["another warning",
                                              "no cross-validation fold had both outcomes: calibrating ... in-sample "
                                              "(optimistic)",
                                              "calibration slope is negative (-0.5): ..."]
    assert held.in_sample == 1 and held.in_sample_text().startswith(
        "no cross-validation fold had both outcomes in 1 validation fit (not the final card; its training rows")
    assert held.summary("shape") == {
        "final": None, "validation_fits": 2,
        "text": "calibration slope is negative in 2 validation fits (from -0.974 to -0.668; not for the final card): "
                "those cards gave every account the training churn rate in their test rows"}
    assert T._SlopeWarnings().summary("shape") is None


def test_a_backtest_model_that_predicted_one_value_at_every_cutoff_has_no_ranking_metrics():
    """The pipeline's backtest showed gradient boosting fitted on a thin history (under 40 rows: not one split)
    at ROC-AUC 0.500 (0.500 to 0.500), as if measured. Its ranking metrics are now missing, with the reason
    ``engage fit`` gives (:func:`~engage_models.health.evaluation.one_value`); its Brier score stays; the card
    that ranks keeps its figures and, as the linear card of one value would, wins the choice of card."""
    from engage_models.health import ChurnGBM

    df = _synthetic(n=50, seed=3, dates=6)

    class Usage:  # ranks by usage: the card that ranks
        def fit(self, X, y):
            return self

        def predict_proba(self, X):
            p = 1 / (1 + np.log1p(X["usage"].to_numpy()))
            return np.column_stack([1 - p, p])

    bt = E.backtest(df, {"shape": Usage, "gbm": lambda: ChurnGBM(random_state=0)}, horizon_days=60, n_cutoffs=3,
                    label="churned")
    assert bt.predictions.groupby(["as_of", "model"])["p"].nunique().xs("gbm", level="model").eq(1).all()
    rows = sorted(bt.train_rows.values())
    assert len(rows) == 3 and rows[-1] < 40
    summary = bt.summary(n_boot=20)
    gbm = summary[summary["model"] == "gbm"].set_index("metric")
    assert gbm.loc[list(E.RANKING), ["estimate", "ci_low", "ci_high"]].isna().all().all()
    assert np.isfinite(gbm.loc["brier", "estimate"])
    assert np.isfinite(summary.query("model == 'shape' and metric == 'roc_auc'")["estimate"].iloc[0])
    flat = summary.attrs["one_value"]
    assert list(flat) == ["gbm"] and flat["gbm"]["cutoffs"] == [1, 2, 3] and flat["gbm"]["all"]
    assert flat["gbm"]["reason"] == (
        f"predicted one value for every row in each of the 3 cutoffs (fitted on {rows[0]} to {rows[-1]} rows: too "
        "few rows to learn from): it ranks no row above another, so its ROC-AUC, PR-AUC and top-decile lift are "
        "not computed")
    assert ("gbm", "roc_auc") not in summary.attrs["draws"]
    assert E.choose_card(summary, "shape", "gbm")["form"] == "shape"  # gbm in the place of a linear card of one value
    assert "nan" not in E.summary_view(summary).to_string()


def _one_outcome_backtest(outcome: int):
    """A backtest whose test rows (the last three dates) all hold ``outcome``; its training rows hold both."""

    class Usage:  # ranks by usage
        def fit(self, X, y):
            return self

        def predict_proba(self, X):
            p = 1 / (1 + np.log1p(X["usage"].to_numpy()))
            return np.column_stack([1 - p, p])

    df = _synthetic(n=600, seed=1, dates=6)
    cutoffs = E.default_cutoffs(df, 3, label="churned")
    df.loc[df["as_of"].isin(cutoffs), "churned"] = outcome
    return E.backtest(df, {"learned": Usage, "hand": Usage}, horizon_days=60, cutoffs=cutoffs, label="churned")


@pytest.mark.parametrize("outcome", [0, 1])
def test_a_backtest_whose_test_rows_hold_one_outcome_says_why_it_has_no_ranking_metrics(outcome):
    """Test rows without a churner left every ROC-AUC, PR-AUC and lift of the backtest table blank, without a word
    (and with every test row churned, PR-AUC read 1.000 (1.000 to 1.000) and lift 1.00, as if measured). Each now
    says "not computed" and why, in both languages, in the table, the figure and a sentence below; the Brier
    score, log loss and ICI keep their figures and intervals."""
    import matplotlib.pyplot as plt

    bt = _one_outcome_backtest(outcome)
    assert bt.predictions["y"].eq(outcome).all() and len(bt.cutoffs) == 3
    summary = bt.summary(n_boot=40)
    why = "no_churner" if outcome == 0 else "all_churned"
    ranking = summary[summary["metric"].isin(E.RANKING)]
    assert ranking["not_computed"].eq(why).all() and ranking[["estimate", "ci_low", "ci_high"]].isna().all().all()
    rest = summary[~summary["metric"].isin(E.RANKING)]
    assert rest["not_computed"].isna().all()
    assert (rest["ci_low"] <= rest["estimate"]).all() and (rest["estimate"] <= rest["ci_high"]).all()
    assert not E.paired(summary, "learned") and not E.paired(summary, "hand")  # no ROC-AUC to pair
    cell = {0: ("not computed: no churner among the test rows", "計算せず：テスト対象に解約顧客なし"),
            1: ("not computed: every test row churned", "計算せず：テスト対象がすべて解約")}[outcome]
    for lang, text in zip(("en", "ja"), cell, strict=True):
        view = E.summary_view(summary, lang).set_index(E.t("model", lang))
        assert (view[[E.t(m, lang) for m in E.RANKING]] == text).all().all()
        assert view.map(bool).all().all() and "nan" not in view.to_string()
    said = E.not_computed_text(summary)
    assert said.startswith("The test rows of the backtest hold no churner: " if outcome == 0 else
                           "Every test row of the backtest churned: ")
    assert "so they are not computed; the Brier score, log loss and calibration error are." in said
    assert E.not_computed_text(summary, "ja").startswith("バックテストのテスト対象")
    ax = E.plot_metrics(summary, "roc_auc")
    assert [x.get_text() for x in ax.texts] == [cell[0]] * 2
    plt.close(ax.figure)


def _small_worlds(n_worlds: int = 30):
    """Scores and outcomes of small test sets: 5 to 60 accounts of 1 to 4 rows each, few churners."""
    for seed in range(n_worlds):
        rng = np.random.default_rng(seed)
        accounts = rng.integers(5, 60)
        ids = np.repeat(np.arange(accounts), rng.integers(1, 5, accounts))
        p = rng.uniform(0, 0.3, len(ids))
        y = (rng.random(len(ids)) < p * rng.uniform(0.3, 1.5)).astype(float)
        yield seed, y, p, ids


def test_every_backtest_estimate_lies_within_its_interval_or_the_interval_is_not_computed_with_its_reason():
    """"Brier 0.048 (0.055 to 0.125)": the resamples of one class were dropped for every metric (only ROC-AUC
    needs both classes), and those are the draws of the lowest Brier score; and on few rows the ICI of a resample
    (its smoother follows the repeated rows' noise) lies above the estimate, so the percentiles left it out. Now
    every resample counts for the metrics it defines, and an interval is given only when at least 97.5% of the
    resamples define the metric and it holds its estimate; otherwise it is "not computed" with its reason."""
    import collections

    boots = [(seed, y, E.bootstrap(y, {"a": p}, ids, n_boot=200, seed=seed)) for seed, y, p, ids in _small_worlds()]
    for seed, _, boot in boots:
        shown = boot[np.isfinite(boot["ci_low"])]
        assert ((shown["ci_low"] <= shown["estimate"]) & (shown["estimate"] <= shown["ci_high"])).all(), (seed, shown)
    reasons = collections.Counter()
    for seed, y, boot in boots:
        for r in boot.itertuples():
            reasons[r.metric, r.not_computed] += 1
            if np.isfinite(r.ci_low):
                assert r.not_computed is None, (seed, r)
            else:
                assert r.not_computed in ("few_draws", "off_centre") or r.not_computed == "no_churner" == (
                    "no_churner" if y.sum() == 0 else None), (seed, r)
    assert reasons["ici", "off_centre"] > 0 and reasons["roc_auc", "few_draws"] > 0  # both reasons met
    assert not any(reasons[m, "few_draws"] for m in ("brier", "log_loss", "ici"))  # defined on any resample
    # a known answer: one churner among 20 accounts of a row each. 36% of the resamples (0.95^20) hold no
    # churner: they have no ROC-AUC, so no 95% interval of it; their Brier scores count, and the draws average
    # the estimate (a mean of rows), where the draws with the churner alone averaged far above it
    y, p = np.r_[1.0, np.zeros(19)], np.linspace(0.2, 0.02, 20)
    boot = E.bootstrap(y, {"a": p, "b": p[::-1]}, np.arange(20), n_boot=400, seed=1).set_index(["model", "metric"])
    brier = boot.attrs["draws"]["a", "brier"]
    assert len(brier) == 400 and np.isfinite(brier).all()
    assert abs(brier.mean() - boot.loc[("a", "brier"), "estimate"]) < 3 * brier.std() / np.sqrt(400)
    assert np.isnan(boot.attrs["draws"]["a", "roc_auc"]).mean() == pytest.approx(0.95 ** 20, abs=0.06)
    assert boot.loc[("a", "roc_auc"), "not_computed"] == "few_draws" and np.isnan(boot.loc[("a", "roc_auc"), "ci_low"])
    assert boot.loc[("a", "roc_auc"), "estimate"] == 1.0  # the estimate stays: only its interval is not computed
    view = E.summary_view(boot.reset_index(), models=["a"]).iloc[0]
    assert view["ROC-AUC"] == "1.000 (no interval)" and view["Brier score"].count(" to ") == 1
    assert E.not_computed_text(boot.reset_index()).startswith(
        "No 95% interval for the ROC-AUC of **a**, the PR-AUC of **a**, the lift (top 10%) of **a**, the ROC-AUC of "
        "**b**")
    d = E.paired_difference(boot.reset_index(), "a", "b", "brier")  # every resample pairs
    assert d["ci_low"] <= d["difference"] <= d["ci_high"]



def test_whether_a_ranking_interval_is_shown_does_not_depend_on_the_number_of_resamples():
    """With 20 resamples (the tests' and CI's metric_bootstrap) one resample without a churner is 5% of the draws,
    beyond the 2.5% a tail of the interval holds: the ROC-AUC interval was dropped where the default 200 kept it
    (5 churning accounts of 100: 11% of 20-draw bootstraps dropped it, 0.1% of 200-draw ones). The share of
    resamples of one class is known exactly, (1 - c/n)^n, and decides instead of the count among the draws."""
    shares = E.one_class_shares([1, 0, 1, 0, 0, 0], ["a", "a", "b", "c", "c", "d"])  # accounts a, b churned
    assert shares["no_churner"] == pytest.approx((2 / 4) ** 4) and shares["all_churned"] == pytest.approx(0.25 ** 4)
    rng = np.random.default_rng(9)
    y = np.r_[np.ones(5), np.zeros(95)]
    p = np.clip(0.05 + 0.3 * y + rng.normal(0, 0.1, 100), 0.01, 0.99)
    few = E.bootstrap(y, {"a": p}, np.arange(100), n_boot=20, seed=9)
    assert np.isnan(few.attrs["draws"]["a", "roc_auc"]).sum() == 1  # a resample without a churner among 20
    assert few.attrs["undefined"]["roc_auc"] == pytest.approx(0.95 ** 100 + 0.05 ** 100)
    many = E.bootstrap(y, {"a": p}, np.arange(100), n_boot=200, seed=9)
    for boot in (few, many):  # the old rule: few_draws at 20 draws, an interval at 200
        r = boot.set_index("metric").loc["roc_auc"]
        assert r["not_computed"] is None and r["ci_low"] <= r["estimate"] <= r["ci_high"]
    # 3 churning accounts of 100: 4.8% of the resamples hold none, so no interval, even when none of 20 drew one
    y3 = np.r_[np.ones(3), np.zeros(97)]
    for seed in range(5):
        boot = E.bootstrap(y3, {"a": p}, np.arange(100), n_boot=20, seed=seed).set_index("metric")
        assert boot.loc["roc_auc", "not_computed"] == "few_draws" and np.isnan(boot.loc["roc_auc", "ci_low"])
        assert boot.loc["brier", "not_computed"] is None  # defined on every resample
    # a metric of its own (not one of METRICS): its share is counted among the draws, as before
    own = E.bootstrap(y, {"a": p}, np.arange(100), n_boot=20, seed=9, metrics={"auc": lambda yy, pp: E.roc_auc(yy, pp)})
    assert own["not_computed"].iat[0] == "few_draws" and "auc" not in own.attrs["undefined"]


def test_the_ici_interval_study_knows_its_answers_and_a_calibrated_scores_ici_is_noise():
    """``benchmarks/bench_ici_interval.py`` chose the percentile interval for the ICI by its coverage of a known
    true ICI (evaluation.percentile_interval says the figures). Its truths by hand: E|p - 1.3p| = 0.3 E[p] and
    E[p - p^2] for p ~ Beta(2, 6) (mean 1/4, second moment 1/12); its intervals as defined; and the case no
    interval covers: a calibrated score's ICI is its smoother's noise, above the true 0 at any size, which the
    report reads against a calibrated score's ICI instead (calibration_reference)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ici_interval.py"
    spec = importlib.util.spec_from_file_location("bench_ici_interval", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.true_ici("calibrated") == 0
    assert bench.true_ici("under") == pytest.approx(0.3 * 0.25, abs=2e-3)
    assert bench.true_ici("squared") == pytest.approx(0.25 - 1 / 12, abs=2e-3)
    assert len(np.unique(bench.rounded(np.random.default_rng(0).beta(2, 6, 500), 8))) == 8
    rng = np.random.default_rng(4)
    p = rng.beta(2, 6, 500)
    y = (rng.random(500) < p).astype(float)
    iv = bench.intervals(y, p, 100, np.random.default_rng(5))
    assert iv["estimate"] == pytest.approx(E.ici(y, p)) and iv["estimate"] > 0.01  # noise, never 0
    lo, hi = iv["percentile"]
    assert lo > 0 and iv["basic"] == pytest.approx((max(0.0, 2 * iv["estimate"] - hi), 2 * iv["estimate"] - lo))
    ref = E.calibration_reference(y, p)
    assert not ref["beyond"]  # within what a calibrated score shows on 500 rows: the report's reading


def test_a_model_of_one_value_at_the_only_test_date_reads_in_the_singular():
    """"predicted one value for every account at the 1 test date": the count's forms are now whole phrases."""
    one = {"gbm": {"cutoffs": [1], "of": 1, "all": True}}
    assert "predicted one value for every account at 1 test date: it ranks" in E.one_value_text(one)
    three = {"gbm": {"cutoffs": [1, 2, 3], "of": 3, "all": True}}
    assert "for every account at each of the 3 test dates: it ranks" in E.one_value_text(three)
    # Japanese: "all of the 1 dates" read so too
    assert "1\u6642\u70b9\u3067\u5168\u9867\u5ba2" in E.one_value_text(one, "ja")
    assert "3\u6642\u70b9\u3059\u3079\u3066\u3067" in E.one_value_text(three, "ja")


def test_a_row_without_an_account_id_is_resampled_as_an_account_of_its_own():
    """A missing id (None, NaN) had cluster -1: ``one_class_shares`` and ``bootstrap`` raised a ValueError
    ("'list' argument must have no negative elements"). Each such row is now its own account: the same shares
    and draws as giving it an id of its own."""
    groups = ["a", "a", "c", "d", None, np.nan]
    y = [1, 0, 0, 0, 1, 0]
    shares = E.one_class_shares(y, groups)  # 5 accounts, 2 with a churned row (a and the first missing id)
    assert shares["no_churner"] == pytest.approx((3 / 5) ** 5) and shares["all_churned"] == pytest.approx(0.2 ** 5)
    named = ["a", "a", "c", "d", "m1", "m2"]  # numbered as the missing ones are: after the others, in order
    assert E.one_class_shares(y, named) == shares
    p = np.array([0.7, 0.2, 0.3, 0.2, 0.6, 0.1])
    with_missing = E.bootstrap(y, {"a": p}, groups, n_boot=30, seed=1)
    with_names = E.bootstrap(y, {"a": p}, named, n_boot=30, seed=1)
    pd.testing.assert_frame_equal(with_missing, with_names)


def test_the_accounts_at_risk_show_a_small_churn_probability_as_it_is_not_as_0_percent():
    """A CDNOW purchase log scored every customer between 0.1% and 0.5%: report 04's accounts at risk and the
    executive summary's top accounts read "0%" on every row, ranked by a probability that looked the same."""
    from engage_models._core.i18n import t
    from engage_models.health import views as hv
    from engage_models.reports import summary

    scored = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"], "score": [50.0] * 4,
                           "band": ["green", "green", "yellow", "red"],
                           "churn_probability": [0.0018, 0.0004, 0.073, 0.42], "mrr": [200.0, 100.0, 10.0, 5.0],
                           "drivers_text_en": "", "drivers_text_ja": ""})
    for lang in ("en", "ja"):
        shown = hv.at_risk(scored, lang=lang)[t("churn_probability", lang)].tolist()
        assert shown == ["42%", "7.3%", "0.2%", "<0.1%"], shown  # MRR at risk first: d 2.1, c 0.73, a 0.36, b 0.04
    actions = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "play_label": ["p"] * 4})
    view = summary.top_at_risk_view(summary.top_at_risk(actions, scored))
    assert view[t("churn_probability", "en")].tolist() == ["42%", "7.3%", "0.2%", "<0.1%"]



def test_an_account_at_risk_without_a_driver_says_so_rather_than_a_blank_cell():
    """Most of a CDNOW log's accounts at risk had no metric costing them points: their drivers cell was blank,
    which reads as not computed."""
    from engage_models._core.i18n import t
    from engage_models.health import views as hv
    from engage_models.reports import summary

    scored = pd.DataFrame({"account_id": ["a", "b"], "name": ["A", "B"], "score": [50.0, 40.0],
                           "band": ["green", "green"], "churn_probability": [0.1, 0.2], "mrr": [10.0, 10.0],
                           "drivers_text_en": ["", "logins (28 days) 0 (range 0): -4 points"],
                           "drivers_text_ja": ["", "ログイン回数（28日） 0（範囲 0）：-4点"]})
    for lang in ("en", "ja"):
        shown = hv.at_risk(scored, lang=lang)[t("drivers", lang)].tolist()
        assert shown == [scored[f"drivers_text_{lang}"][1], t("health.no_driver", lang)], shown
    assert hv.at_risk(scored)[t("drivers", "en")][1].startswith("none: no metric costs it half a point")
    actions = pd.DataFrame({"account_id": ["a", "b"], "play_label": ["p", "p"]})
    view = summary.top_at_risk_view(summary.top_at_risk(actions, scored))
    assert view[t("driver", "en")].tolist() == ["logins (28 days) 0 (range 0): -4 points", t("health.no_driver", "en")]


def test_the_sentences_on_the_backtest_name_the_shape_card_when_the_run_uses_it():
    """A CDNOW log chose the shape card: report 04 said "the learned score's 0.547" and "The learned score's
    calibration error (ICI) ... is 0.089" above a table whose "learned score" row (the linear card) read 0.445 and
    0.109, the shape card's row 0.547 and 0.089."""
    from engage_models.health import views as hv

    diff = {"difference": 0.193, "ci_low": 0.158, "ci_high": 0.236}
    shape = hv.compare_text(diff, 0.482, 0.547, "en", "shape")
    assert shape.startswith("Out of time, the learned score's shape card ranks churners better") and \
        "against the learned score's shape card's 0.547" in shape, shape
    linear = hv.compare_text(diff, 0.482, 0.445)
    assert linear.startswith("Out of time, the learned score ranks") and "against the learned score's 0.445" in linear
    ja = hv.compare_text(diff, 0.48, 0.55, "ja", "shape")
    assert "学習したスコアの形状スコアカードは手動で重み付けしたスコアより" in ja
    ref = {"ici": 0.089, "median": 0.012, "q95": 0.018, "rows": 3282, "draws": 200, "beyond": True}
    assert hv.calibration_text(ref, "en", "shape").startswith(
        "The calibration error (ICI) of the learned score's shape card on held-out rows is 0.089")
    assert hv.calibration_text(ref).startswith("The calibration error (ICI) of the learned score on held-out rows")
    assert hv.calibration_text(ref, "ja", "shape").startswith("学習したスコアの形状スコアカードの検証データ")


def test_a_semicolon_file_s_decimal_commas_beside_a_few_words_are_not_counted_as_the_words(tmp_path):
    """carData's TitanicSurvival written by a European spreadsheet (";", ages 0,9167 beside whole ages) with two
    ages typed '?': engage fit left 'age' out as "numbers but for 47 cells that are not (..., e.g. '0,9167')",
    counting every decimal comma among the typing errors. It names the two '?' cells (data rows 4 and 9); a
    column of only such numbers is read as numbers, as before, and one of half words stays text."""
    from engage_models._core.io import read_table, reading_notes
    from engage_models.health.tables import prepare

    rng = np.random.default_rng(0)
    n = 60
    age = [f"{a:g}".replace(".", ",") for a in np.round(rng.uniform(0.2, 70, n), 1)]
    age[3], age[8] = "?", "?"
    df = pd.DataFrame({"survived": rng.integers(0, 2, n), "age": age,
                       "fare": [f"{v:.2f}".replace(".", ",") for v in rng.uniform(5, 90, n)],
                       "cabin": ["12,5"] * 30 + ["x"] * 30})
    path = tmp_path / "titanic.csv"
    path.write_text(df.to_csv(index=False, sep=";"), encoding="utf-8-sig")
    read = read_table(path)
    assert read["fare"].dtype == float and read["cabin"].tolist() == df["cabin"].tolist()
    _, _, report = prepare(read, "survived", where=str(path))
    why = report["dropped_columns"]["age"]
    assert why.startswith("numbers but for 2 cells that are not (first at data rows [4, 9], e.g. '?')"), why
    assert "'age': numbers written with a decimal comma" in " ".join(reading_notes(read, "titanic.csv"))
    fixed = df.assign(age=df["age"].replace("?", ""))
    fixed.to_csv(path, index=False, sep=";")
    assert read_table(path)["age"].dtype == float


def test_validation_fits_calibrated_in_sample_are_said_once_as_such(tmp_path, caplog):
    """MASS's Aids2 by its date of diagnosis (label: died): the first test window's cards trained on 195 rows, 185
    of them deaths, and each said "no cross-validation fold had both outcomes: calibrating and choosing the band
    thresholds in-sample (optimistic)" on its own, twice, as if of the card engage fit keeps. Said once, counting
    the validation fits, naming them as not the final card; evaluation.json counts them."""
    import logging

    rng = np.random.default_rng(1)
    n = 600
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 900, n)), "D")
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(x - 0.3)))).astype(int)
    y[:300], y[:8] = 1, 0  # early rows: all but a few churned (the windows' first training rows)
    df = pd.DataFrame({"as_of": dates, "x": x, "z": rng.normal(size=n), "churned": y})
    with caplog.at_level(logging.WARNING):
        ev = T.fit_table(df, "churned", tmp_path, date_col="as_of", horizon_days=30, n_bootstrap=0, n_boot_eval=20,
                         n_jobs=1)
    said = [r.getMessage() for r in caplog.records if "no cross-validation fold had both outcomes" in r.getMessage()]
    fits = ev["calibration"]["in_sample_validation_fits"]
    assert fits >= 2 and said == [  # the premise: more than one validation fit; one line for them all
        f"no cross-validation fold had both outcomes in {fits} validation fits (not the final card; their training "
        "rows had too few of one outcome): those cards were calibrated, and their band thresholds chosen, on their "
        "own training rows"]
    saved = json.loads((tmp_path / "evaluation.json").read_text(encoding="utf-8"))
    assert saved["calibration"]["in_sample_validation_fits"] == fits
