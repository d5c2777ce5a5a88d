"""Fitting the health score honestly: folds of accounts, opposite metrics, the unpenalised intercept, calibration
on out-of-fold log-odds, band thresholds from out-of-fold predictions only. Each test builds a world whose right
answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from engage_models._core.stats import sigmoid
from engage_models.health import HealthScore, SkewScaler, choose_thresholds
from engage_models.health._calibrated import _platt
from engage_models.health.cv import time_splits

FAST = dict(Cs=(0.001, 0.01, 0.1, 1.0, 10.0), n_bootstrap=0)


# --------------------------------------------------------------------------------------- folds of accounts
def _accounts_with_traits(n_accounts=300, rows=6, n_traits=100, seed=0):
    """Each account: a fixed profile of ``n_traits`` metrics that say nothing about churn but identify it, a
    persistent unobserved propensity, and one weak true signal; an account churns (or not) on all its rows."""
    rng = np.random.default_rng(seed)
    traits = rng.normal(size=(n_accounts, n_traits))
    signal = rng.normal(size=n_accounts)
    propensity = rng.normal(0, 2.0, n_accounts)
    churned = (rng.random(n_accounts) < sigmoid(-1.0 + signal + propensity)).astype(int)
    acc = np.repeat(np.arange(n_accounts), rows)
    X = pd.DataFrame(traits[acc] + rng.normal(0, 0.05, (len(acc), n_traits)),
                     columns=[f"trait_{j}" for j in range(n_traits)])
    X.insert(0, "signal", signal[acc] + rng.normal(0, 0.05, len(acc)))
    X.insert(0, "account_id", [f"acct{a}" for a in acc])
    return X, churned[acc], roc_auc_score(churned, signal)


def test_without_dates_the_folds_keep_each_account_on_one_side():
    X, y, true_auc = _accounts_with_traits()
    kw = dict(penalty="l1", Cs=(0.01, 0.1, 1.0), n_bootstrap=0, group_threshold=None)
    grouped = HealthScore(**kw).fit(X, y)
    assert grouped.cv_kind_ == "grouped" and grouped.C_ == 0.01                  # the profiles penalised away
    assert abs(grouped.cv_auc_ - true_auc) < 0.04, (grouped.cv_auc_, true_auc)   # the signal's skill, no more
    # rows of one account on both sides (no id column): the profile identifies the account and the folds
    # reward recognising it: the weakest penalty, and an out-of-fold AUC far above what the signal allows
    rows = HealthScore(id_col="no_such_column", **kw).fit(X, y)
    assert rows.cv_kind_ == "stratified" and rows.C_ == 1.0
    assert rows.cv_auc_ > true_auc + 0.12, (rows.cv_auc_, true_auc)


# --------------------------------------------------------------------------------------- opposite metrics
def test_opposite_metrics_are_grouped_with_their_sign_flipped():
    rng = np.random.default_rng(1)
    active = rng.integers(0, 29, 4000).astype(float)
    X = pd.DataFrame({"active_days_28d": active, "inactive_days_28d": 28 - active, "other": rng.normal(size=4000)})
    s = SkewScaler(group_threshold=0.8).fit(X)
    assert s.groups_ == [["active_days_28d", "inactive_days_28d"], ["other"]]
    assert s.group_signs_ == [[1.0, -1.0], [1.0]]
    z = (active - active.mean()) / active.std()
    np.testing.assert_allclose(s.transform(X)["active_days_28d"], z)   # the mean of z and -(-z): z itself


def test_opposite_metrics_keep_their_signal_in_the_score():
    rng = np.random.default_rng(2)
    n = 6000
    active = rng.integers(0, 29, n).astype(float)
    inactive = np.clip(28 - active + rng.normal(0, 2.0, n), 0, 28)          # r about -0.96, as in the panel
    assert np.corrcoef(active, inactive)[0, 1] < -0.9
    y = (rng.random(n) < sigmoid(-2.2 - 1.2 * (active - 14) / 8)).astype(int)
    X = pd.DataFrame({"usage_days": active, "idle_days": inactive, "noise": rng.normal(size=n)})
    half = n // 2
    hs = HealthScore(n_bootstrap=0).fit(X[:half], y[:half])
    assert hs.feature_label("usage_days") == "usage_days and 1 related metric"
    held_out = roc_auc_score(y[half:], hs.predict_proba(X[half:])[:, 1])
    best = roc_auc_score(y[half:], -active[half:])                       # the truth ranks by active days
    assert held_out > best - 0.01, (held_out, best)


# --------------------------------------------------------------------------------------- L1 and the intercept
def test_a_strong_l1_penalty_shrinks_to_the_base_rate():
    rng = np.random.default_rng(4)
    n = 5000
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = (rng.random(n) < sigmoid(-2.3 + 0.4 * X["a"])).astype(int)
    hs = HealthScore(penalty="l1", Cs=(0.001,), n_bootstrap=0, group_threshold=None).fit(X, y)
    assert np.all(hs.coef_ == 0)                                                  # everything penalised away
    assert sigmoid(hs.linear_predictor(X)).mean() == pytest.approx(y.mean(), abs=0.002)  # but not the intercept
    # the weights' intervals say what they are
    card = HealthScore(penalty="l1", Cs=(0.01,), n_bootstrap=10, group_threshold=None).fit(X, y).scorecard()
    assert "not a confidence interval" in card.attrs["interval"]


# --------------------------------------------------------------------------------------- thresholds
def test_band_thresholds_come_from_out_of_fold_predictions_only():
    rng = np.random.default_rng(5)
    n = 1200
    X = pd.DataFrame(rng.normal(size=(n, 30)), columns=[f"m{j}" for j in range(30)])
    X["as_of"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(30 * rng.integers(0, 12, n), "D")
    y = (rng.random(n) < sigmoid(-2.0 + 0.8 * X["m0"])).astype(int)
    hs = HealthScore(n_bootstrap=0, group_threshold=None, gap_days=60).fit(X, y)
    oof = hs.oof_
    validated = np.unique(np.concatenate([va for _, va in time_splits(X["as_of"], n_splits=3, gap_days=60)]))
    assert set(oof["row"]) == set(validated) and len(oof["row"]) == hs.n_out_of_fold_
    assert X["as_of"].min() < X.loc[oof["row"], "as_of"].min()     # the first dates are never validated
    assert hs.thresholds_ == choose_thresholds(oof["y"], oof["p"], hs.cost_ratios)
    np.testing.assert_allclose(oof["p"], sigmoid(hs.calibration_folds_[0] + hs.calibration_folds_[1] * oof["eta"]))


def test_the_calibration_slope_is_read_within_folds():
    """Two folds rank alike (true slope 1) but the second fold's model predicts 4 log-odds higher for a period that
    churned less: pooled, the shift reverses the slope; within folds it is found."""
    rng = np.random.default_rng(6)
    eta1, eta2 = rng.normal(size=4000), rng.normal(size=4000)
    y1 = (rng.random(4000) < sigmoid(-2 + eta1)).astype(float)
    y2 = (rng.random(4000) < sigmoid(-4 + eta2)).astype(float)
    eta, y, fold = np.concatenate([eta1, eta2 + 4]), np.concatenate([y1, y2]), np.repeat([0, 1], 4000)
    assert _platt(eta, y)[1] < 0                                    # pooled: reversed
    a, b = _platt(eta, y, fold)
    assert b == pytest.approx(1.0, abs=0.15)
    assert np.sum(sigmoid(a + b * eta)) == pytest.approx(y.sum(), rel=1e-6)  # the out-of-fold churn rate


def test_a_score_that_does_not_rank_held_out_data_gets_the_base_rate_not_a_reversed_probability():
    rng = np.random.default_rng(7)
    n = 3000
    X = pd.DataFrame({"noise": rng.normal(size=n), "other": rng.normal(size=n)})
    y = (rng.random(n) < 0.1).astype(int)                             # nothing to learn
    hs = HealthScore(Cs=(10.0,), n_bootstrap=0, group_threshold=None).fit(X, y)
    p = hs.predict_proba(X)[:, 1]
    # with this seed the held-out folds rank churn slightly against the score (the unconstrained slope is < 0):
    # one probability for all, the training churn rate
    assert hs.calibration_eta_[1] == 0 and np.allclose(p, y.mean())
    assert np.all(np.diff(p[np.argsort(hs.health_score(X).to_numpy())]) <= 1e-12)   # never rises with the score


def test_the_final_cards_probabilities_average_their_training_churn_rate_when_churn_fell_over_time():
    """Churn halves over the year: the folds validate the latest, calmer months with models trained on the
    earlier ones, so their intercept, carried to the final card, put its mean probability far below the churn
    it was trained on. The intercept is matched again on the final card's own training rows; the slope stays."""
    from engage_models.health import ShapeScore, _calibrated

    rng = np.random.default_rng(12)
    n = 4000
    month = rng.integers(0, 12, n)
    X = pd.DataFrame({"m0": rng.normal(size=n), "m1": rng.normal(size=n),
                      "as_of": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(30 * month, "D")})
    y = (rng.random(n) < sigmoid(-1.0 - 0.12 * month + 0.8 * X["m0"].to_numpy())).astype(int)
    for card in (HealthScore(n_bootstrap=0, group_threshold=None, gap_days=60),
                 ShapeScore(n_bootstrap=0, gap_days=60, interactions=0)):
        card.fit(X, y)
        p = card.predict_proba(X)[:, 1]
        assert p.mean() == pytest.approx(y.mean(), rel=1e-6)
        assert card.calibration_eta_[1] == card.calibration_folds_[1] and card.calibration_shift_ != 0
        assert card.calibration_eta_[0] - card.calibration_folds_[0] == pytest.approx(card.calibration_shift_)
        np.testing.assert_allclose(card.proba_of_score(card.health_score(X)), p)  # score and probability agree
        # the folds' intercept alone (the map before): the mean probability misses the training churn
        a, b = card.calibration_folds_
        folds = _calibrated.floored_proba(a + b * _eta_of(card, X), card.calibration_floor_)
        assert abs(folds.mean() - y.mean()) > 0.02


def _eta_of(card, X):
    """The card's log-odds before its calibration, through the score (``eta = e0 + e1 score``)."""
    (a, b), (a_eta, b_eta) = card.calibration_, card.calibration_eta_
    return (a + b * card.health_score(X).to_numpy() - a_eta) / b_eta


# ------------------------------------------------------------------------------------ the calibration's floor
def test_a_floor_of_churn_no_score_explains_is_found_and_kept_only_when_the_data_show_one(monkeypatch):
    from engage_models.health import _calibrated
    from engage_models.health._calibrated import fit_calibration, floored_proba

    rng = np.random.default_rng(11)
    eta, fold = rng.normal(0, 1.5, 20000), np.repeat([0, 1, 2, 3], 5000)
    y = (rng.random(20000) < 0.05 + 0.95 * sigmoid(-2.5 + 1.5 * eta)).astype(float)  # 5% leave whatever the score
    c, a, b = fit_calibration(eta, y, fold)
    assert c == pytest.approx(0.05, abs=0.012) and b == pytest.approx(1.5, abs=0.2)
    assert a == pytest.approx(-2.5, abs=0.3)
    assert floored_proba(a + b * eta, c).sum() == pytest.approx(y.sum(), rel=1e-6)  # the churn rate, matched
    # Platt's map cannot bend: its probabilities for the healthiest tenth are far below their churn rate
    pa, pb = _platt(eta, y, fold)
    low = eta < np.quantile(eta, 0.1)
    assert sigmoid(pa + pb * eta[low]).mean() < 0.6 * y[low].mean()
    assert floored_proba(a + b * eta[low], c).mean() == pytest.approx(y[low].mean(), abs=0.01)
    # too few churners to read a tail from (a planted floor, 87 churners): not estimated, Platt's map
    few = slice(200, 600)
    assert y[few].sum() < 100 and fit_calibration(eta[few], y[few], fold[few]) == (0.0, *_platt(eta[few], y[few],
                                                                                                  fold[few]))
    with monkeypatch.context() as m:  # the likelihood test alone would have kept one there
        m.setattr(_calibrated, "MIN_FLOOR_EVENTS", 0)
        assert fit_calibration(eta[few], y[few], fold[few])[0] > 0
    # no floor in the data: none kept, and the map is Platt's to the last digit
    y0 = (rng.random(20000) < sigmoid(-2.5 + 1.5 * eta)).astype(float)
    c0, a0, b0 = fit_calibration(eta, y0, fold)
    assert c0 == 0 and (a0, b0) == _platt(eta, y0, fold)


def test_a_floored_card_gives_probabilities_and_log_odds_that_agree_at_every_score():
    from engage_models.health._calibrated import floored_logit, floored_proba

    z = np.linspace(-60, 60, 241)
    for c in (0.0, 1e-6, 0.04, 0.3):
        lo = floored_logit(z, c)
        assert np.isfinite(lo).all() and np.all(np.diff(lo) >= 0)  # flat only where p has reached the floor
        np.testing.assert_allclose(sigmoid(lo), floored_proba(z, c), rtol=1e-9, atol=1e-300)
    np.testing.assert_array_equal(floored_logit(z, 0.0), z)
    rng = np.random.default_rng(12)
    n = 6000
    X = pd.DataFrame({"usage": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = (rng.random(n) < 0.06 + 0.94 * sigmoid(-3 + 2.0 * X["usage"])).astype(int)
    hs = HealthScore(Cs=(1.0,), n_bootstrap=0, group_threshold=None).fit(X, y)
    assert hs.calibration_floor_ > 0.02  # found on the out-of-fold predictions
    p = hs.predict_proba(X)[:, 1]
    assert p.min() >= hs.calibration_floor_ and np.array_equal(hs.predict(X) == 1, p > 0.5)
    np.testing.assert_allclose(sigmoid(hs.decision_function(X)), p, rtol=1e-9)
    np.testing.assert_allclose(p, hs.proba_of_score(hs.health_score(X)))


def test_the_inner_folds_fallback_is_said_once_per_run_not_once_per_process(caplog, monkeypatch, tmp_path):
    """A long-lived worker (a scheduler's Python process) ran many runs; the fallback was logged on the first only."""
    from engage_models import pipeline
    from engage_models.health import cv

    X = pd.DataFrame({"as_of": pd.to_datetime(["2025-01-31"] * 8), "x": np.arange(8)})
    y = np.array([0, 1] * 4)
    cv.forget_said()
    with caplog.at_level("INFO", logger=cv.__name__):
        for _ in range(3):  # three refits of one run
            cv._splits(X, y, "as_of", 3, 0, 0)
    assert sum("too few observation dates" in r.message for r in caplog.records) == 1

    class Started(Exception):
        pass

    def started():
        raise Started

    monkeypatch.setattr(cv, "forget_said", started)
    with pytest.raises(Started):  # a run of the pipeline forgets first, before anything else
        pipeline.run(data_dir=str(tmp_path))
    monkeypatch.undo()
    caplog.clear()
    cv.forget_said()
    with caplog.at_level("INFO", logger=cv.__name__):
        cv._splits(X, y, "as_of", 3, 0, 0)
    assert sum("too few observation dates" in r.message for r in caplog.records) == 1


def test_levels_read_in_the_order_of_their_numbers_or_of_an_ordered_category():
    """A column of product counts read "1, 10, 2, 3" in the card and the drivers (levels sorted as text); an
    ordered categorical (low < mid < high) read alphabetically. The gradient-boosting baseline keeps the same
    order, and the fitted weights do not depend on it."""
    from engage_models.health.baselines import ChurnGBM

    rng = np.random.default_rng(1)
    n = 600
    products = rng.choice(["1", "2", "3", "10"], n)
    tier = pd.Categorical(rng.choice(["low", "mid", "high"], n), ["low", "mid", "high"], ordered=True)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1 + x - 0.3 * (products == "10"))))).astype(int)
    X = pd.DataFrame({"usage": x, "products": products, "tier": tier})
    m = HealthScore(date_col="__none", id_col="__none", n_bootstrap=0).fit(X, y)
    levels = [f for f in m.feature_names_ if "=" in f]
    assert levels == ["products=1", "products=2", "products=3", "products=10", "tier=low", "tier=mid", "tier=high"]
    # the same data with its columns' levels in another order of appearance: the same weights, feature by feature
    text = X.assign(tier=X["tier"].astype(str))
    m2 = HealthScore(date_col="__none", id_col="__none", n_bootstrap=0).fit(text, y)
    assert [f for f in m2.feature_names_ if f.startswith("tier=")] == ["tier=high", "tier=low", "tier=mid"]
    w1, w2 = (dict(zip(mm.feature_names_, mm.coef_, strict=True)) for mm in (m, m2))
    assert all(abs(w1[f] - w2[f]) < 1e-4 for f in w1)
    assert ChurnGBM(date_col="__none", id_col="__none").fit(X, y).levels_ == {
        "products": ["1", "2", "3", "10"], "tier": ["low", "mid", "high"]}


def test_a_missing_value_indicator_needs_as_many_accounts_as_a_level():
    """A metric missing in one row got an indicator whose weight (+-0.35 on a public credit table) was that one
    row's outcome. The linear card gives a metric its indicator only when MIN_MISSING_ACCOUNTS accounts miss it
    (rows, without an id column); below, the empty cells are imputed with the median and score as it does. Twelve
    rows of one account are one account."""
    from engage_models.health.design import MIN_MISSING_ACCOUNTS
    from engage_models.health.scaling import SkewScaler

    rng = np.random.default_rng(2)
    n = 400
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + x)))).astype(int)
    few, many = x.copy(), x.copy()
    few[:MIN_MISSING_ACCOUNTS - 1] = np.nan
    many[:MIN_MISSING_ACCOUNTS] = np.nan
    X = pd.DataFrame({"few": few, "many": many, "usage": x})
    m = HealthScore(date_col="__none", id_col="__none", n_bootstrap=0).fit(X, y)
    assert [f for f in m.feature_names_ if f.endswith("__missing")] == ["many__missing"]
    # an empty cell of "few" scores as its median does
    row = X.iloc[[0]].assign(few=np.nanmedian(few))
    assert m.predict_proba(X.iloc[[0]])[0, 1] == pytest.approx(m.predict_proba(row)[0, 1])
    # counted in accounts when an id column says who is who: one account's twelve empty rows are one account
    acc = pd.DataFrame({"account_id": np.r_[np.zeros(12, int), np.arange(1, n - 11)], "usage": x,
                        "sparse": np.r_[np.full(12, np.nan), x[12:]]})
    m2 = HealthScore(date_col="__none", id_col="account_id", n_bootstrap=0).fit(acc, y)
    assert "sparse__missing" not in m2.feature_names_
    assert SkewScaler().fit(X).missing_columns_ == ["few", "many"]  # the scaler alone: every column, as before
    assert SkewScaler(min_missing=10).fit(X).missing_columns_ == ["many"]
    assert SkewScaler(min_missing=2).fit(acc[["sparse"]], groups=acc["account_id"]).missing_columns_ == []


def test_levels_of_too_few_accounts_share_one_weight():
    """A text column of a dozen one-row levels got a dozen weights, each fitted to one account's outcome. Levels
    of fewer than MIN_LEVEL_ACCOUNTS accounts are pooled into one level (with any level a later table brings);
    the pool gets a weight when it reaches that many accounts, else its rows carry no effect of the column."""
    from engage_models.health.design import MIN_LEVEL_ACCOUNTS, OTHER, _Design, feature_label

    rng = np.random.default_rng(0)
    n = 1500
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + x)))).astype(int)
    region = np.where(rng.random(n) < 0.5, "A", "B").astype(object)
    rare_rows = rng.choice(n, 12, replace=False)
    region[rare_rows] = [f"r{k}" for k in range(12)]
    X = pd.DataFrame({"usage": x, "region": region})
    m = HealthScore(date_col="__none", id_col="__none", n_bootstrap=0).fit(X, y)
    assert [f for f in m.feature_names_ if f.startswith("region=")] == ["region=A", "region=B", f"region={OTHER}"]
    assert m.fitted_.design.pooled == {"region": [f"r{k}" for k in range(12)]}  # r2 before r10
    assert feature_label(f"region={OTHER}", "en") == "region = other (rare levels)"
    assert "その他" in feature_label(f"region={OTHER}", "ja")
    Z = m.fitted_.design.transform(pd.DataFrame({"usage": [0.0] * 4, "region": ["A", "r3", "never seen", None]}))
    assert Z[["region=A", "region=B", f"region={OTHER}"]].to_numpy().tolist() == [
        [1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0]]
    # the typical healthy account's level is a named one, and a pooled row's driver names its own level
    drivers = m.drivers(pd.DataFrame({"usage": [0.0], "region": ["r3"]}), lang="en")["drivers"].iloc[0]
    region_driver = [d for d in drivers if d["feature"] == "region"]
    assert all(d["level"] == "r3" and d["typical_level"] in ("A", "B") for d in region_driver)

    # when most healthy accounts are in the pool (forty levels of five accounts), the pool is the typical level,
    # said in words (a small named level was made typical and most accounts got a driver from pooling alone)
    many = np.array([f"c{k % 40}" for k in range(200)] + ["A"] * 60 + ["B"] * 60, dtype=object)
    Xm = pd.DataFrame({"usage": rng.normal(size=320), "country": many})
    ym = (rng.random(320) < 0.2).astype(int)
    mm = HealthScore(date_col="__none", id_col="__none", n_bootstrap=0).fit(Xm, ym)
    assert mm.typical_[mm.feature_names_.index(f"country={OTHER}")] == 1.0
    from engage_models.health.explain import _levels

    assert _levels(mm, Xm.iloc[[200]], "country", "en") == (["A"], "other (rare levels)")
    assert _levels(mm, Xm.iloc[[200]], "country", "ja")[1] == "その他（少数の区分）"
    # counted in accounts, not rows: one account's twelve rows make a rare level; a pool below the minimum gets
    # no weight at all (its rows: zeros)
    d = _Design([], ["plan"], 1.0, 0.9)
    plan = pd.DataFrame({"plan": ["big"] * 12 + ["a"] * 20 + ["b"] * 20})
    groups = np.r_[np.zeros(12, int), np.arange(1, 41)]
    d.fit(plan, None, groups)
    assert d.levels == {"plan": ["a", "b"]} and d.pooled == {"plan": ["big"]}
    assert d.transform(plan).sum().to_dict() == {"plan=a": 20.0, "plan=b": 20.0}
    d.fit(plan, None)  # without accounts: rows, and twelve rows are enough
    assert d.levels == {"plan": ["a", "b", "big"]} and d.pooled == {}
    assert MIN_LEVEL_ACCOUNTS == 10


def test_a_column_named_like_a_windowed_metric_reads_without_a_window_placeholder():
    """engage fit on a table with a column named ``tickets`` labelled it "tickets opened ({w})" on the card and the
    page (Japanese too): the registry's windowed label, its placeholder unfilled. Named without a window, it reads
    without one; a panel column keeps its window."""
    from engage_models.features import metrics as M
    from engage_models.health.design import feature_label

    assert feature_label("tickets") == "tickets opened" and M.label("tickets_28d") == "tickets opened (28 days)"
    for lang in ("en", "ja"):
        for column in ("tickets", "usage_hours", "logins", "active_users"):
            assert "{w}" not in M.label(column, lang) and "{w}" not in feature_label(f"{column}__missing", lang)
    assert M.label("usage_hours", "ja") == "\u5229\u7528\u6642\u9593\uff08\u6642\u9593\uff09"
