"""Large companies: models fitted on a stratified sample of accounts, every account scored, the sample said
(the health stage's part is in test_pipeline.py, on its world)."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
