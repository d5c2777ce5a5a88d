"""What makes the survival fits fast keeps their numbers: the vectorised risk-set sums against lifelines
(which they replace in the Cox fits' inner loop), warm starts, and bootstrap refits shared among processes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, CoxTimeVaryingFitter

from engage_models.survival import CoxModel, TimeVaryingCox, bootstrap_values
from engage_models.survival._riskset import efron_gradients
from engage_models.survival.cox import CoxTimeVaryingFitterFast


def _start_stop(seed: int, n: int, d: int, ties: int):
    """Rows (start, stop] with few distinct times (many tied events), positive weights, random covariates."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, ties, n).astype(float)
    stop = start + rng.integers(1, ties, n)
    return (rng.normal(size=(n, d)), rng.random(n) < 0.35, start, stop, rng.uniform(0.5, 2.0, n),
            rng.normal(scale=0.4, size=d))


@pytest.mark.parametrize("seed, n, d, ties", [(0, 30, 1, 3), (1, 200, 3, 6), (2, 1500, 6, 40), (3, 800, 4, 400)])
def test_efron_gradients_equal_lifelines_on_tied_weighted_start_stop_rows(seed, n, d, ties):
    X, event, start, stop, w, beta = _start_stop(seed, n, d, ties)
    want = CoxTimeVaryingFitter._get_gradients(X, event, start, stop, w, beta)
    got = efron_gradients(X, event, start, stop, w, beta)
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)


def test_efron_gradients_without_events_are_zero():
    X, _, start, stop, w, beta = _start_stop(4, 20, 2, 5)
    h, g, ll = efron_gradients(X, np.zeros(20, bool), start, stop, w, beta)
    assert ll == 0.0 and not g.any() and not h.any()


def _frame(seed: int = 5, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    entry = rng.integers(0, 6, n).astype(float)
    t = entry + rng.exponential(12 * np.exp(-0.6 * x[:, 0] + 0.3 * x[:, 1]))
    stop = np.minimum(np.ceil(t), 30.0)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "plan": rng.choice(["a", "b"], n),
                         "entry": entry, "duration": np.maximum(stop, entry + 1), "event": (t <= 30).astype(int)})


@pytest.mark.parametrize("penalizer", [0.0, 0.05])
def test_the_fast_fitter_gives_lifelines_coefficients_and_variance(penalizer):
    df = _frame()
    frame = df[["x1", "x2", "x3"]].assign(_start=df["entry"], _stop=df["duration"], _event=df["event"],
                                          _id=np.arange(len(df)))
    kw = {"event_col": "_event", "start_col": "_start", "stop_col": "_stop", "id_col": "_id"}
    slow = CoxTimeVaryingFitter(penalizer=penalizer).fit(frame, **kw)
    fast = CoxTimeVaryingFitterFast(penalizer=penalizer).fit(frame, **kw)
    np.testing.assert_allclose(fast.params_, slow.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.variance_matrix_, slow.variance_matrix_, rtol=1e-8, atol=1e-14)
    assert fast.log_likelihood_ == pytest.approx(slow.log_likelihood_, rel=1e-12)


def test_cox_model_with_entry_matches_lifelines_coxph_with_entry_col():
    """CoxModel fits (entry, duration] rows with the start/stop fitter: lifelines' CoxPHFitter with an entry
    column maximises the same likelihood."""
    df = _frame(6)
    model = CoxModel(covariates=["x1", "x2", "x3"], entry_col="entry", penalizer=0.0, check_ph=False).fit(df)
    ref = CoxPHFitter().fit(df[["x1", "x2", "x3", "entry", "duration", "event"]], "duration", "event",
                            entry_col="entry")
    terms = ["x1", "x2", "x3"]
    # the two Newton-Raphson loops stop at slightly different points (their stopping rules differ): 1e-5
    np.testing.assert_allclose(model.params_.loc[terms], ref.params_.loc[terms], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(model.variance_.loc[terms, terms])),
                               np.sqrt(np.diag(ref.variance_matrix_.loc[terms, terms])), rtol=1e-5)


def test_a_warm_start_reaches_the_same_optimum():
    df = _frame(7, 400)
    rows = df.assign(account_id=np.arange(len(df)), start=df["entry"], stop=df["duration"])
    cold = TimeVaryingCox(covariates=["x1", "x2", "plan"], penalizer=0.01).fit(rows)
    far = pd.Series(3.0, index=cold.params_.index)
    for start in (cold.params_, far, cold.params_.iloc[:1]):  # at the optimum, far from it, one term only
        warm = TimeVaryingCox(covariates=["x1", "x2", "plan"], penalizer=0.01, init_params=start).fit(rows)
        np.testing.assert_allclose(warm.params_, cold.params_, rtol=1e-6, atol=1e-8)
    assert "init_params" in cold.refit_params()


def test_bootstrap_intervals_do_not_depend_on_the_number_of_processes():
    df = _frame(8, 300)
    rows = df.assign(account_id=np.arange(len(df)), start=df["entry"], stop=df["duration"])
    model = TimeVaryingCox(covariates=["x1", "x2"], penalizer=0.01).fit(rows)
    now = rows.head(25)
    kw = {"n_boot": 6, "random_state": 3, "cluster": "account_id", "horizon": 24.0}
    one, port1 = bootstrap_values(model, rows, now, now["stop"], 100.0, n_jobs=1, **kw)
    two, port2 = bootstrap_values(model, rows, now, now["stop"], 100.0, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(port1, port2)
    assert one.attrs["n_boot"] == 6 and (one["ltv_low"] < one["ltv_high"]).all()


def test_the_penalizers_folds_in_processes_choose_the_same_penalizer_with_the_same_table():
    df = _frame(9, 400)
    rows = df.assign(account_id=np.arange(len(df)), start=df["entry"], stop=df["duration"])
    pens = (0.0, 0.01, 0.1, 1.0)
    one = TimeVaryingCox(covariates=["x1", "x2", "x3", "plan"], penalizers=pens, cv=4).fit(rows)
    two = TimeVaryingCox(covariates=["x1", "x2", "x3", "plan"], penalizers=pens, cv=4, n_jobs=2).fit(rows)
    pd.testing.assert_frame_equal(one.cv_results_, two.cv_results_)
    assert one.penalizer_ == two.penalizer_ and one.cv_results_.notna().all().all()
    np.testing.assert_array_equal(one.params_, two.params_)
    kw = {"covariates": ["x1", "x2", "x3", "plan"], "entry_col": "entry", "penalizers": pens, "cv": 4,
          "check_ph": False}
    a, b = CoxModel(**kw).fit(df), CoxModel(**kw, n_jobs=2).fit(df)
    pd.testing.assert_frame_equal(a.cv_results_, b.cv_results_)
    assert a.penalizer_ == b.penalizer_ and len(a.cv_results_) == len(pens)


@pytest.mark.slow  # 160 refits on 1,600 accounts: about 40 s on an idle 2-core machine
@pytest.mark.extended
def test_the_m_out_of_n_bootstrap_keeps_the_full_bootstraps_widths():
    """Refits on 400 of 1,600 accounts, each draw's distance from the full fit shrunk by sqrt(400/1600) = 1/2,
    give intervals as wide as refits on all 1,600 (the same model, 80 draws each): the median ratio of the
    widths over accounts and values is within 20% of 1, the m-out-of-n intervals still hold the full fit's value,
    and the results say what was resampled."""
    df = _frame(9, 1600)
    rows = df.assign(account_id=np.arange(len(df)), start=df["entry"], stop=df["duration"])
    model = TimeVaryingCox(covariates=["x1", "x2"], penalizer=0.01).fit(rows)
    now = rows.sample(40, random_state=1)
    kw = {"n_boot": 80, "random_state": 3, "cluster": "account_id", "horizon": 24.0, "n_jobs": 1}
    full, _ = bootstrap_values(model, rows, now, now["stop"], 100.0, **kw)
    part, port = bootstrap_values(model, rows, now, now["stop"], 100.0, max_resample=400, **kw)
    assert (full.attrs["resampled"], full.attrs["clusters"]) == (1600, 1600)
    assert (part.attrs["resampled"], port.attrs["clusters"]) == (400, 1600)
    ratios = [((part[f"{c}_high"] - part[f"{c}_low"]) / (full[f"{c}_high"] - full[f"{c}_low"])).median()
              for c in ("expected_remaining_months", "ltv")]
    print("median width ratios (m-out-of-n / full):", ratios)
    assert all(0.8 < r < 1.25 for r in ratios), ratios
    for c in ("expected_remaining_months", "ltv"):
        assert ((part[f"{c}_low"] <= part[c] + 1e-9) & (part[c] <= part[f"{c}_high"] + 1e-9)).mean() > 0.9


def test_group_folds_keep_every_row_of_an_account_together_and_match_the_account_folds():
    from engage_models.survival.evaluation import account_folds, group_folds

    rng = np.random.default_rng(3)
    ids = rng.permutation(np.repeat([f"a{i}" for i in range(300)], rng.integers(1, 6, 300)))
    df = pd.DataFrame({"account_id": ids, "event": (rng.random(len(ids)) < 0.1).astype(int),
                       "plan": rng.choice(["x", "y", "z"], len(ids))})
    splits = group_folds(df, "account_id", "event", 5, random_state=1, categorical=["plan"])
    acc = df.groupby("account_id", sort=False).agg({"event": "max", "plan": "first"})
    expected = account_folds(acc, "event", 5, 1, ["plan"])
    assert len(splits) == len(expected)
    seen = np.zeros(len(df), int)
    for (train, test), (_, acc_test) in zip(splits, expected, strict=True):
        seen[test] += 1
        assert set(df["account_id"].iloc[test]) == set(acc.index[acc_test])
        assert not set(df["account_id"].iloc[test]) & set(df["account_id"].iloc[train])
        assert len(train) + len(test) == len(df)
    assert (seen == 1).all()  # the test parts partition the rows


def test_bootstrap_refits_say_a_level_their_resample_lacked_once_not_once_per_refit(caplog):
    """The blank world (rare one-account segments, a quarter of the accounts without one) printed "1 row(s) with a
    level of 'segment' not seen in fitting: encoded as 'SMB'" and "N row(s) with a missing covariate ... left
    out" once per bootstrap refit: hundreds of lines. The full fit says its rows left out; the refits whose
    resample lacked a level are counted and said in one line, and kept in the values' attrs."""
    import logging

    df = _frame(9, 300)
    rng = np.random.default_rng(9)
    rows = df.assign(account_id=np.arange(len(df)), start=df["entry"], stop=df["duration"],
                     segment=rng.choice(["SMB", "Mid"], len(df), p=[0.7, 0.3]).astype(object))
    rows.loc[0, "segment"] = "Solo"  # one account of its own level: most resamples lack it
    rows.loc[rows.index % 7 == 3, "x1"] = np.nan
    with caplog.at_level(logging.WARNING, logger="engage_models.survival"):
        model = TimeVaryingCox(covariates=["x1", "x2", "segment"], penalizer=0.01).fit(rows)
        assert sum("missing covariate" in r.getMessage() for r in caplog.records) == 1  # the full fit's
        caplog.clear()
        now = rows[rows["x1"].notna()].head(30)
        values, _ = bootstrap_values(model, rows, now, now["stop"], 100.0, n_boot=12, random_state=1,
                                     cluster="account_id", horizon=24.0, n_jobs=1)
    said = [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "not seen in fitting" in m or "missing covariate" in m]
    unseen = [m for m in said if "bootstrap refits" in m]
    assert len(unseen) == 1 and "of 12 bootstrap refits" in unseen[0] and "'segment'" in unseen[0]
    assert "'SMB'" in unseen[0]
    k = int(unseen[0].split(" of ")[0])
    assert 0 < k <= 12 and values.attrs["unseen_levels"] == [f"segment: {k} of 12 refits, as 'SMB'"]
    # the same as a record, for report 05's sentence (the survival stage's intervals)
    assert values.attrs["unseen_level_refits"] == [{"column": "segment", "refits": k, "of": 12, "reference": "SMB"}]
