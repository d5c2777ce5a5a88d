"""The shape card's points intervals (health/shapes.py, "Intervals"): bootstrap refits that read as the card reads.

The refits were fitted on resampled rows with their copies: a copy of a row sat on both sides of the EBM's own
early-stopping split, the refits' shapes grew (on the demo world their sum of ranges was 1.7 to 4.5 times the
card's) and each range's share of it shrank, so a card read "17.1 (10.4 to 16.0)". Each row drawn is now fitted
once, weighted by its draws (``benchmarks/bench_shape_intervals.py`` measures the coverage of the truth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engage_models.health import ShapeScore, shapes


def _threshold_world(n, seed):
    """Churn log-odds jump by 1.6 once tickets reach 4; usage lowers risk up to 25 and adds nothing beyond."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "tickets_90d": rng.poisson(2.0, n).astype(float),
                      "usage": rng.gamma(2.0, 10.0, n), "plan": rng.choice(["Starter", "Pro"], n)})
    eta = -2.0 + 1.6 * (X["tickets_90d"] >= 4) - 0.1 * X["usage"].clip(0, 25) + 0.6 * (X["plan"] == "Starter")
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def bootstrapped():
    """The card with its pairwise terms (the default 10 allowed: 3 possible) on 2,000 accounts, 10 refits."""
    X, y = _threshold_world(2000, seed=1)
    model = ShapeScore(metrics=["tickets_90d", "usage"], categorical=["plan"], cv=2, n_bootstrap=10,
                       random_state=0).fit(X, y)
    return model, X, y


def test_every_ranges_points_lie_within_their_own_interval(bootstrapped):
    """Before, 7 of the 14 cells of this card lay outside their interval (the refits' sums of ranges were twice
    the card's: every share too small)."""
    model, _, _ = bootstrapped
    card = model.card()
    assert card["ci_low"].notna().all() and len(card) == 14
    outside = card[(card["points"] < card["ci_low"] - 1e-9) | (card["points"] > card["ci_high"] + 1e-9)]
    assert outside.empty, outside[["term", "range", "points", "ci_low", "ci_high"]]
    # intervals, not points: the refits do move the ranges that are not the term's worst
    moved = card[card["points"] > 0]
    assert (moved["ci_high"] - moved["ci_low"] > 1).all(), moved


def test_a_refit_is_read_on_the_scale_the_card_reads_itself(bootstrapped):
    """The interval is of the reported points: the full card read as a refit gives exactly its own points."""
    model, _, _ = bootstrapped
    from engage_models.health.shapes import _refit_points

    probes = [model._probe(ti) for ti in range(len(model.card_["terms"]))]
    read = _refit_points(model.card_, model.term_names_, probes)
    card = model.card()
    for ti, name in enumerate(model.term_names_):
        if probes[ti] is None:
            assert model.card_["terms"][ti]["kind"] == "pair"
            continue
        shown = card[card["term"] == name].set_index("cell")["points"]
        np.testing.assert_allclose(read[ti][shown.index.to_numpy() - 1], shown.to_numpy(), atol=1e-9)


def test_each_drawn_row_is_fitted_once_weighted_by_its_draws(monkeypatch):
    """An account's rows are drawn together; the refit sees each drawn row once with its number of draws as its
    weight, never a copy (a copy on both sides of the EBM's early-stopping split let the shapes grow)."""
    rng = np.random.default_rng(3)
    n_acc = 150
    X = pd.DataFrame({"account_id": np.repeat([f"a{i}" for i in range(n_acc)], 2), "usage": rng.gamma(2.0, 10.0,
                                                                                                   2 * n_acc)})
    y = (rng.random(2 * n_acc) < 1 / (1 + np.exp(1 + 0.05 * X["usage"].to_numpy()))).astype(int)
    calls = []
    learn = shapes._learn_ebm
    monkeypatch.setattr(shapes, "_learn_ebm", lambda *a: calls.append(a) or learn(*a))
    ShapeScore(metrics=["usage"], interactions=0, cv=2, max_rounds=50, n_bootstrap=3, random_state=0).fit(X, y)
    refits = [a for a in calls if len(a) > 4 and a[4] is not None]
    assert len(refits) == 3, f"{len(calls)} fits, {len(refits)} of them weighted"
    for _, M_, yy, _, weights in refits:
        assert not M_.duplicated().any() and len(M_) == len(yy) == len(weights) < len(X)
        assert weights.sum() == len(X) and (weights >= 1).all() and np.all(weights % 1 == 0)
        # both rows of an account drawn k times count k times each
        account = M_["usage"].map(dict(zip(X["usage"], X["account_id"], strict=True))).to_numpy()
        per_account = pd.Series(weights).groupby(account).agg(["min", "max", "size"])
        assert (per_account["min"] == per_account["max"]).all() and (per_account["size"] == 2).all()
