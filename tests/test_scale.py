"""Large companies: models fitted on a stratified sample of accounts, every account scored, the sample said
(the health stage's part is in test_pipeline.py, on its world)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from engage_models._core.sampling import sample_note, stratified_accounts
from engage_models.health import HealthScore
from engage_models.health.evaluation import backtest


def test_the_sample_keeps_each_strata_share_and_is_reproducible():
    ids = np.repeat([f"A{i:04d}" for i in range(1000)], 3)  # three rows per account
    churned = np.zeros(3000, int)
    churned[np.arange(0, 600, 3) + 2] = 1  # accounts A0000..A0199 churned (in their last row): 20%
    picked = stratified_accounts(ids, churned, 250, seed=1)
    assert len(picked) == 250 and len(set(picked)) == 250
    churners = {f"A{i:04d}" for i in range(200)}
    assert sum(p in churners for p in picked) == 50  # 20% of 250, exactly (largest remainders)
    assert np.array_equal(picked, stratified_accounts(ids, churned, 250, seed=1))
    assert not np.array_equal(picked, stratified_accounts(ids, churned, 250, seed=2))
    assert stratified_accounts(ids, churned, 1000) is None and stratified_accounts(ids, churned, None) is None
    rare = churned.copy()
    rare[:] = 0
    rare[2] = 1  # one churner in 1,000 accounts: still in a sample of 10
    assert "A0000" in stratified_accounts(ids, rare, 10, seed=0)
    assert sample_note(picked, 1000) == {"fitted_on": 250, "accounts": 1000, "sampled": True}
    assert sample_note(None, 1000) == {"fitted_on": 1000, "accounts": 1000, "sampled": False}


def _panel(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in pd.date_range("2024-01-01", periods=6, freq="MS", tz="UTC"):
        x = rng.normal(size=n)
        y = (rng.random(n) < 1 / (1 + np.exp(1.5 + 1.2 * x))).astype(float)
        rows.append(pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "as_of": d, "x": x,
                                  "churned_within_h": y}))
    return pd.concat(rows, ignore_index=True)


def test_the_backtest_fits_on_the_sample_and_tests_every_account():
    panel = _panel()
    sample = stratified_accounts(panel["account_id"], panel["churned_within_h"], 100, seed=0)
    seen = []

    class Spy(HealthScore):
        def fit(self, X, y):
            seen.append(set(X["account_id"]))
            return super().fit(X, y)

    bt = backtest(panel, {"m": lambda: Spy(metrics=["x"], n_bootstrap=0, gap_days=30)}, horizon_days=30,
                  n_cutoffs=2, train_accounts=sample)
    assert seen and all(s <= set(sample) for s in seen)
    assert bt.predictions.groupby("as_of")["account_id"].nunique().eq(400).all()


def _lowess_reference(x, y, frac=0.3, grid=60):
    """Cleveland's lowess the plain way: every row weighed at every grid point (the k-th distance by sorting)."""
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    k = max(3, int(np.ceil(frac * len(x))))
    gx = np.linspace(x[0], x[-1], grid)
    out = []
    for g in gx:
        d = np.abs(x - g)
        h = np.sort(d)[k - 1] or 1e-12
        w = np.clip(1 - (d / h) ** 3, 0, None) ** 3
        sw = w.sum()
        if sw <= 0:
            out.append(y[d <= h].mean())
            continue
        mx, my = (w * x).sum() / sw, (w * y).sum() / sw
        vx = (w * (x - mx) ** 2).sum()
        beta = 0.0 if vx <= 1e-12 * sw * h * h else (w * (x - mx) * (y - my)).sum() / vx
        out.append(my + beta * (g - mx))
    return gx, np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_the_windowed_lowess_equals_the_plain_one_ties_included(seed):
    """The ICI's smoother sums only the rows within each grid point's bandwidth (a 5x saving on 100,000 rows);
    it gives what weighing every row gives, on continuous scores and on tied ones (a points card's scores)."""
    from engage_models.health.evaluation import lowess

    rng = np.random.default_rng(seed)
    for n, frac in ((5, 1.0), (60, 0.1), (300, 0.3), (2000, 0.3)):
        for x in (rng.random(n), np.round(rng.random(n), 1), rng.beta(0.3, 3, n)):
            y = (rng.random(n) < x).astype(float)
            gx, fit = lowess(x, y, frac=frac)
            rx, ref = _lowess_reference(x, y, frac=frac)
            np.testing.assert_allclose(gx, rx)
            np.testing.assert_allclose(fit, ref, rtol=0, atol=1e-9)


def test_lowess_on_one_tied_value_has_no_slope():
    """Every weighted row at one x: the fit is their mean, not a slope made of rounding errors."""
    from engage_models.health.evaluation import lowess

    x = np.r_[np.zeros(10), np.full(30, 0.1), np.full(40, 0.2)]
    y = np.r_[np.zeros(10), np.tile([0.0, 0.0, 1.0], 10), np.ones(40)]
    gx, fit = lowess(x, y, frac=0.3, grid=5)
    assert fit[2] == pytest.approx(1 / 3)  # at 0.1 only the 0.1 rows weigh (the nearest 24 are all there)


@pytest.mark.parametrize("seed", range(3))
def test_the_bootstraps_auc_and_average_precision_are_scikit_learns(seed):
    """The metric bootstrap's own AUC and average precision (no input checks: thousands of calls) give
    scikit-learn's values, on continuous scores and on heavily tied ones (a points card)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from engage_models.health.evaluation import average_precision, roc_auc

    rng = np.random.default_rng(seed)
    for n in (7, 100, 5000):
        for p in (rng.random(n), np.round(rng.random(n), 1), rng.integers(0, 3, n).astype(float)):
            y = (rng.random(n) < 0.3 + 0.4 * p / max(p.max(), 1)).astype(int)
            if y.min() == y.max():
                continue
            assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
            assert average_precision(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert np.isnan(roc_auc(np.zeros(5), np.arange(5.0))) and np.isnan(average_precision(np.zeros(5), np.arange(5.0)))


def test_the_metric_bootstrap_resamples_whole_accounts_and_does_not_depend_on_the_processes():
    from engage_models.health.evaluation import METRICS, bootstrap

    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(300), rng.integers(1, 5, 300))
    y = (rng.random(len(groups)) < 0.2).astype(float)
    scores = {"a": y * 0.3 + rng.random(len(y)), "b": rng.random(len(y))}
    one = bootstrap(y, scores, groups, n_boot=30, seed=2)
    two = bootstrap(y, scores, groups, n_boot=30, seed=2, n_jobs=2)
    for key, d in one.attrs["draws"].items():
        np.testing.assert_array_equal(d, two.attrs["draws"][key])
    # draw 0 by hand: the accounts picked, each with all its rows, in the order drawn
    pick = np.random.default_rng(2).integers(0, 300, 300)
    idx = np.concatenate([np.flatnonzero(groups == g) for g in pick])
    for s in scores:
        for m, fn in METRICS.items():
            assert one.attrs["draws"][(s, m)][0] == pytest.approx(fn(y[idx], scores[s][idx]), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_a_resample_as_counts_of_the_rows_gives_the_metrics_of_the_repeated_rows(seed):
    """The metric bootstrap sorts the scores once and reads each resample as how many times it drew each row;
    every metric equals the metric of the repeated rows, on continuous scores and on a points card's ties."""
    from engage_models.health.evaluation import METRICS, _Reweighted, lowess

    rng = np.random.default_rng(seed)
    for n in (5, 80, 3000):
        for p in (rng.random(n), np.round(rng.random(n), 1), rng.integers(0, 3, n) / 3):
            y = (rng.random(n) < 0.2 + 0.5 * p).astype(float)
            w = rng.integers(0, 4, n).astype(float)
            idx = np.repeat(np.arange(n), w.astype(int))
            if len(idx) < 3 or y[idx].min() == y[idx].max():
                continue
            got = _Reweighted(y, p)(w, list(METRICS))
            for m, fn in METRICS.items():
                assert got[m] == pytest.approx(fn(y[idx], p[idx]), rel=1e-12, abs=1e-14), (n, m)
            gx, fit = lowess(p, y, frac=0.3, weights=w)
            rx, ref = lowess(p[idx], y[idx], frac=0.3)
            np.testing.assert_allclose(gx, rx)
            np.testing.assert_allclose(fit, ref, rtol=0, atol=1e-12)


def test_the_fast_metric_bootstrap_gives_the_intervals_of_the_resampled_rows():
    """The same intervals whether the metrics read the counts (their own functions) or are handed the rows of
    each resample (any other function: here the same functions wrapped)."""
    from engage_models.health.evaluation import METRICS, bootstrap

    rng = np.random.default_rng(7)
    groups = np.repeat(np.arange(400), rng.integers(1, 4, 400))
    y = (rng.random(len(groups)) < 0.25).astype(float)
    scores = {"card": np.round(y * 0.2 + rng.random(len(y)), 1), "model": y * 0.3 + rng.random(len(y))}
    fast = bootstrap(y, scores, groups, n_boot=40, seed=3)
    rows = bootstrap(y, scores, groups, n_boot=40, seed=3,
                     metrics={m: (lambda f: lambda yy, pp: f(yy, pp))(fn) for m, fn in METRICS.items()})
    for col in ("estimate", "ci_low", "ci_high"):
        np.testing.assert_allclose(fast[col], rows[col], rtol=1e-12, atol=1e-14)


def test_rows_tied_at_the_top_decile_share_the_cut():
    """Ten rows, the top one (10%) falls among four tied at the highest score, one of which churned: the top
    counts a quarter of a churner, whatever the order of the tied rows."""
    from engage_models.health.evaluation import lift_at

    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], float)
    p = np.array([0.9, 0.9, 0.9, 0.9, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    assert lift_at(y, p, 0.1) == pytest.approx(0.25 / 0.2)
    assert lift_at(y[[3, 2, 1, 0, 4, 5, 6, 7, 8, 9]], p, 0.1) == pytest.approx(0.25 / 0.2)
    assert lift_at(y, p, 0.5) == pytest.approx((1 + 1) / 5 / 0.2)  # the four tied and the 0.5 row: both churners


def test_percentiles_by_column_equal_numpys_with_missing_and_infinite_values():
    from engage_models._core.stats import nanpercentile_columns

    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 500, 3))
    a[rng.random(a.shape) < 0.002] = np.nan
    a[:, 5, 1] = np.nan  # never defined
    a[:, 7, 2] = np.inf  # a lifetime without end
    a[:3, 9, 0] = -np.inf
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanpercentile(a, [2.5, 97.5], axis=0)
        got = nanpercentile_columns(a, [2.5, 97.5])
        assert np.array_equal(ref, got, equal_nan=True) and np.isnan(got[:, 5, 1]).all()
        assert np.array_equal(nanpercentile_columns(a[:, :, 0], 50.0), np.nanpercentile(a[:, :, 0], 50.0, axis=0),
                              equal_nan=True)
        assert np.array_equal(nanpercentile_columns(a[:, 0, 0], [5, 95]), np.nanpercentile(a[:, 0, 0], [5, 95]))
