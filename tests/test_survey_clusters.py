"""Survey answers cluster in accounts: intervals and tests with known answers (by hand or by simulation).

The simulated surveys follow the demo simulator's NPS model: an account effect ``a`` shared by its users,
``raw = 7 + 1.8 a + 1.5 eps`` rounded to 0-10, several users per account. With ``a ~ N(0, sd_a)`` the raw
answer is ``N(7, sqrt(1.8^2 sd_a^2 + 1.5^2))``, so the true NPS is known exactly:
``100 (P(raw >= 8.5) - P(raw < 6.5))``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engage_models._core.errors import ConfigError
from engage_models._core.stats import (
    benjamini_hochberg,
    cluster_bootstrap_spearman,
    cluster_bootstrap_weights,
    cluster_moments,
    effective_n,
    weighted_spearman,
)
from engage_models.surveys import (
    churn_by_category,
    csat_table,
    driver_correlations,
    nps,
    nps_difference,
    nps_table,
    survival_frame,
    theme_table,
)
from engage_models.surveys.net_promoter import nps_difference_clustered, nps_difference_counts, plot_nps_by


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def true_nps(sd_a: float, centre: float = 7.0) -> float:
    s = np.sqrt(1.8**2 * sd_a**2 + 1.5**2)
    return 100 * (stats.norm.sf(8.5, centre, s) - stats.norm.cdf(6.5, centre, s))


def surveys(rng, reps: int, accounts: int, sd_a: float = 1.0, users: int = 6) -> pd.DataFrame:
    """``reps`` independent surveys (column ``rep``) of ``accounts`` accounts with 1 + Poisson(users - 1) users."""
    m = 1 + rng.poisson(users - 1, size=reps * accounts)
    a = rng.normal(0, sd_a, size=reps * accounts)
    raw = 7.0 + 1.8 * np.repeat(a, m) + 1.5 * rng.normal(size=m.sum())
    return pd.DataFrame({"rep": np.repeat(np.arange(reps).repeat(accounts), m),
                         "account_id": np.repeat(np.arange(reps * accounts), m),
                         "score": np.clip(np.round(raw), 0, 10)})


# ------------------------------------------------------------------------------------ the variance by hand
def test_linearised_variance_of_a_clustered_mean_by_hand():
    # accounts A: +1 +1 0, B: -1, C: +1 -1 -> n = 6, mean R = 1/6
    # totals S = 2, -1, 0 with sizes 3, 1, 2; residuals S - R m = 1.5, -7/6, -1/3
    # v = K / (K - 1) * sum(residual^2) / n^2 = 1.5 * (2.25 + 49/36 + 1/9) / 36
    # independent answers: s^2 = (sum y^2 - n R^2) / (n - 1) = (5 - 1/6) / 5, v_srs = s^2 / 6
    y = [1, 1, 0, -1, 1, -1]
    m = cluster_moments(y, list("AAABCC")).iloc[0]
    assert (m["n"], m["clusters"], m["sum_m2"]) == (6, 3, 9 + 1 + 4)
    assert m["mean"] == pytest.approx(1 / 6)
    assert m["var_cluster"] == pytest.approx(1.5 * (2.25 + 49 / 36 + 1 / 9) / 36)
    assert m["var_srs"] == pytest.approx((5 - 1 / 6) / 5 / 6)
    single = cluster_moments(y, list("ABCDEF")).iloc[0]  # one answer per account: s^2 / n exactly
    assert single["var_cluster"] == pytest.approx(single["var_srs"])


def test_effective_number_of_answers():
    # one answer per account: nothing changes
    assert effective_n(50, 50, 0.01, 0.01, 50) == 50
    # design effect 2 from K = 101 clusters of n = 600: n / 2 * (t_599 / t_100)^2
    expected = 300 * (stats.t.ppf(0.975, 599) / stats.t.ppf(0.975, 100)) ** 2
    assert effective_n(600, 101, 0.02, 0.01, 3600) == pytest.approx(expected)
    # clustering never counts as more information than independent answers (design effect floored at 1)
    assert effective_n(600, 101, 0.005, 0.01, 3600) == pytest.approx(600 * expected / 300)
    # no estimate of the design effect: one account, or every answer alike -> n^2 / sum m^2
    assert effective_n(6, 1, np.nan, 0.1, 36) == pytest.approx(1.0)
    assert effective_n(12, 3, 0.0, 0.0, 48) == pytest.approx(3.0)  # three accounts of four identical answers
    assert effective_n(0, 0, np.nan, np.nan, 0) == 0


def test_weighted_spearman_equals_spearman_of_the_repeated_sample():
    rng = np.random.default_rng(0)
    x = rng.poisson(3, 40).astype(float)  # many ties
    y = np.round(x + rng.normal(0, 2, 40))
    w = rng.integers(0, 4, size=(6, 40))
    expected = [stats.spearmanr(np.repeat(x, wi), np.repeat(y, wi))[0] for wi in w]
    assert weighted_spearman(x, y, w) == pytest.approx(expected, abs=1e-12)


def test_cluster_bootstrap_spearman_is_spearman_of_each_resample_of_whole_accounts():
    """The bootstrap works on (value, score) pairs per account; each resample's rho must still be scipy's
    rho of the answers repeated as often as their account was drawn."""
    rng = np.random.default_rng(11)
    accounts = rng.integers(0, 30, 150)
    x = np.round(rng.gamma(2, 3, 30), 1)[accounts]  # an account's metric: the same on each of its answers
    y = np.clip(np.round(x / 2 + rng.normal(5, 2, 150)), 0, 10)
    got = cluster_bootstrap_spearman(x, y, accounts, n_boot=60, seed=4, chunk=25)
    w = cluster_bootstrap_weights(accounts, 60, seed=4)
    rhos = np.array([stats.spearmanr(np.repeat(x, wi), np.repeat(y, wi))[0] for wi in w])
    assert got["se"] == pytest.approx(np.std(np.arctanh(rhos), ddof=1), rel=1e-9)
    assert got["rho"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert got["clusters"] == 30


# ------------------------------------------------------------------------------------------ NPS intervals
def test_clustered_nps_interval_covers_the_truth_at_the_nominal_rate_and_the_naive_one_does_not():
    rng = np.random.default_rng(2024)
    df = surveys(rng, reps=800, accounts=60)  # 800 replicate surveys, ~360 answers from 60 accounts each
    truth = true_nps(1.0)
    clustered = nps_table(df, "rep")
    naive = nps_table(df, "rep", cluster=None)

    def coverage(t):
        return float(((t["ci_low"] <= truth) & (truth <= t["ci_high"])).mean())

    # 800 replicates: a 95% interval covers 760 +- 12 of them (0.95 +- 0.008)
    assert 0.92 <= coverage(clustered) <= 0.98
    assert coverage(naive) < 0.80  # answers taken for independent: about 0.65 here
    # the clustered half-width matches the spread of the estimate over the replicate surveys
    half = ((clustered["ci_high"] - clustered["ci_low"]) / 2).mean()
    assert half / (1.96 * clustered["nps"].std()) == pytest.approx(1.0, abs=0.15)
    assert (clustered["accounts"] == 60).all()
    # the estimate is the seed's arithmetic, untouched: %promoters - %detractors over all answers
    assert np.allclose(clustered["nps"], clustered["pct_promoters"] - clustered["pct_detractors"])
    assert np.allclose(clustered["nps"], naive["nps"])


def test_one_answer_per_account_gives_the_independent_interval():
    df = pd.DataFrame({"account_id": [f"A{i}" for i in range(10)], "score": [10, 10, 9, 9, 9, 8, 7, 6, 3, 0]})
    clustered, plain = nps(df), nps(df["score"])
    assert clustered.accounts == 10 and clustered.n_eff == 10
    assert (clustered.ci_low, clustered.ci_high) == pytest.approx((plain.ci_low, plain.ci_high))
    table = nps_table(df.assign(g="x"), "g").iloc[0]
    assert (table["ci_low"], table["ci_high"]) == pytest.approx((plain.ci_low, plain.ci_high))


def test_one_account_answering_many_times_counts_as_one_answer():
    # six promoters from one account: no way to tell the account's users apart from the account
    df = pd.DataFrame({"account_id": ["A"] * 6, "score": [10, 9, 10, 9, 10, 10]})
    est = nps(df)
    one = nps([10])
    assert est.nps == 100 and est.n == 6 and est.accounts == 1 and est.n_eff == 1
    assert (est.ci_low, est.ci_high) == pytest.approx((one.ci_low, one.ci_high))
    assert nps(df["score"]).ci_low > est.ci_low + 30  # six independent answers would claim far more


@pytest.mark.parametrize("score", [0, 5, 7, 8, 9, 10])
def test_a_single_answer_gets_an_interval_that_contains_it(score):
    for method in ("adjusted", "wald"):
        est = nps([score], method=method)
        assert est.ci_low <= est.nps <= est.ci_high
        assert -100 <= est.ci_low <= est.ci_high <= 100
    # one promoter: the adjusted-Wald interval alone would be -48.5 to 98.5 and leave 100 out
    assert nps([10]).ci_high == 100.0


def test_tiny_groups_never_crash_and_say_when_there_is_nothing():
    df = pd.DataFrame({"segment": ["SMB", "Mid", "Mid", "Ent"], "account_id": ["a", "b", "b", "c"],
                       "score": [10, 0, 3, 8]})
    out = nps_table(df, "segment", min_n=2)
    assert (out["ci_low"] <= out["nps"]).all() and (out["nps"] <= out["ci_high"]).all()
    assert out["small_n"].tolist() == [True, False, True]
    ax = plot_nps_by(out, "segment")  # error bars need non-negative lengths
    assert len(ax.get_yticklabels()) == 3
    empty = nps([])
    assert empty.n == 0 and np.isnan(empty.nps) and np.isnan(empty.ci_low) and np.isnan(empty.ci_high)
    assert "no answers" in empty.text("en") and "回答がない" in empty.text("ja")
    one = nps_difference(df[df["account_id"] == "b"], df[df["account_id"] == "b"])
    assert np.isnan(one.p_value) and not one.significant()
    assert "1 account" in one.text("en")


# ---------------------------------------------------------------------------------------- wave differences
def test_paired_wald_interval_is_the_paired_t_interval_when_each_account_answers_once_per_wave():
    # every account answers once in each wave: the linearised variance over accounts is var(d_k) / K
    # with d_k the account's change, so the interval is the paired t interval (times 100)
    rng = np.random.default_rng(3)
    a_eff = rng.normal(size=40)
    ya = np.clip(np.round(7 + 1.8 * a_eff + 1.5 * rng.normal(size=40)), 0, 10)
    yb = np.clip(np.round(7.4 + 1.8 * a_eff + 1.5 * rng.normal(size=40)), 0, 10)
    ids = [f"A{i}" for i in range(40)]
    a = pd.DataFrame({"account_id": ids, "score": ya})
    b = pd.DataFrame({"account_id": ids, "score": yb})
    r = nps_difference_clustered(a, b, method="wald")
    pa, pb = (np.select([s >= 9, s >= 7], [1, 0], -1) for s in (ya, yb))
    ci = stats.ttest_rel(pa, pb).confidence_interval()
    assert r["difference"] == pytest.approx(100 * (pa.mean() - pb.mean()))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((100 * ci.low, 100 * ci.high))
    assert r["accounts"] == 40 and r["shared_accounts"] == 40
    # the test: difference over its standard error under "no change" (pooled NPS), t with K - 1 df
    d = pa - pb
    t0 = d.mean() / np.sqrt(np.sum(d**2) / (40 * 39))
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(t0), 39))


def _two_waves(rng, accounts: int, shift: float = 0.0, overlap: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two waves of one account base: a persistent account effect, a wave-to-wave drift, ~6 users each.

    A share ``1 - overlap`` of the accounts of the second wave are new ones; ``shift`` moves the first.
    """
    base = rng.normal(size=accounts)
    stay = rng.random(accounts) < overlap
    waves = []
    for w, (ids, eff) in enumerate([(np.arange(accounts), base),
                                    (np.where(stay, np.arange(accounts), accounts + np.arange(accounts)),
                                     np.where(stay, base, rng.normal(size=accounts)))]):
        e = eff + rng.normal(0, 0.4, accounts) + (shift if w == 0 else 0.0)
        m = 1 + rng.poisson(5, accounts)
        raw = 7 + 1.8 * np.repeat(e, m) + 1.5 * rng.normal(size=m.sum())
        waves.append(pd.DataFrame({"account_id": np.repeat(ids, m), "score": np.clip(np.round(raw), 0, 10)}))
    return waves[0], waves[1]


def _counts(d: pd.DataFrame):
    return (d["score"] >= 9).sum(), (d["score"] <= 6).sum(), len(d)


def test_paired_wave_test_keeps_its_size_and_gains_power_from_the_same_accounts():
    rng = np.random.default_rng(11)
    reps = 300
    p_paired, p_naive, p_new = [], [], []
    for _ in range(reps):
        a, b = _two_waves(rng, 80)  # no change, the same 80 accounts answer both waves
        p_paired.append(nps_difference(a, b).p_value)
        a, b = _two_waves(rng, 80, overlap=0.0)  # no change, other accounts in the second wave
        p_new.append(nps_difference(a, b).p_value)
        p_naive.append(nps_difference_counts(*_counts(a), *_counts(b))["p_value"])
    p_paired, p_naive, p_new = map(np.array, (p_paired, p_naive, p_new))
    # 300 replicates: the rejection rate of a 5% test has sd 0.013
    assert 0.02 <= (p_paired < 0.05).mean() <= 0.09
    assert 0.02 <= (p_new < 0.05).mean() <= 0.09
    assert (p_naive < 0.05).mean() > 0.15  # answers taken for independent: about 0.3
    # a planted drop: pairing the same accounts detects it more often than table rows (no pairing) do
    drops = [_two_waves(rng, 80, shift=-0.25) for _ in range(100)]
    hits_paired = sum(nps_difference(a, b).significant() for a, b in drops)
    ta, tb = (nps_table(pd.concat([w[i].assign(rep=r) for r, w in enumerate(drops)]), "rep") for i in (0, 1))
    rows = nps_difference_counts(ta["promoters"], ta["detractors"], ta["n"], tb["promoters"], tb["detractors"],
                                 tb["n"], n_eff_a=ta["n_eff"], n_eff_b=tb["n_eff"])
    hits_rows = int((rows["p_value"] < 0.05).sum())
    assert hits_paired > hits_rows + 10  # about 60 against 40


def test_table_rows_are_compared_with_their_effective_numbers_of_answers():
    rng = np.random.default_rng(5)
    a, b = _two_waves(rng, 60, overlap=0.0)
    ta, tb = nps_table(a).iloc[0], nps_table(b).iloc[0]
    rows = nps_difference(ta, tb)
    naive = nps_difference(a["score"].to_numpy(), b["score"].to_numpy())
    assert rows.difference == pytest.approx(naive.difference)
    assert rows.ci_high - rows.ci_low > 1.5 * (naive.ci_high - naive.ci_low)
    plain_a = nps_table(a, cluster=None).iloc[0]  # rows of an unclustered table: today's test, unchanged
    plain_b = nps_table(b, cluster=None).iloc[0]
    assert nps_difference(plain_a, plain_b).p_value == pytest.approx(naive.p_value)


# ----------------------------------------------------------------------------------------------- CSAT
def test_clustered_csat_intervals_cover_at_the_nominal_rate():
    rng = np.random.default_rng(8)
    reps, accounts = 300, 40
    m = 1 + rng.poisson(4, reps * accounts)
    a = rng.normal(0, 0.8, reps * accounts)
    raw = 3.6 + np.repeat(a, m) + 0.8 * rng.normal(size=m.sum())
    df = pd.DataFrame({"rep": np.repeat(np.arange(reps).repeat(accounts), m),
                       "account_id": np.repeat(np.arange(reps * accounts), m), "score": np.clip(np.round(raw), 1, 5)})
    # truth by simulation: a very large survey of the same world
    big_a = rng.normal(0, 0.8, 400_000)
    big = np.clip(np.round(3.6 + big_a + 0.8 * rng.normal(size=big_a.size)), 1, 5)
    true_share, true_mean = 100 * (big >= 4).mean(), big.mean()
    out = csat_table(df, "rep")
    naive = csat_table(df, "rep", cluster=None)

    def cover(t, est_lo, est_hi, truth):
        return float(((t[est_lo] <= truth) & (truth <= t[est_hi])).mean())

    assert 0.92 <= cover(out, "ci_low", "ci_high", true_share) <= 0.98
    assert 0.92 <= cover(out, "mean_low", "mean_high", true_mean) <= 0.98
    assert cover(naive, "ci_low", "ci_high", true_share) < 0.85
    assert cover(naive, "mean_low", "mean_high", true_mean) < 0.85


def test_a_csat_mean_near_the_top_of_the_scale_from_few_accounts_keeps_its_coverage():
    """Six accounts, answers bunched at 5 (true mean 4.57): the t interval on the mean held the truth in 90% of
    2,000 surveys (a coverage audit); on the logit of the mean's place on the scale, 95%."""
    rng = np.random.default_rng(3)
    reps, accounts = 2000, 6
    m = 1 + rng.poisson(4, reps * accounts)
    raw = 4.7 + np.repeat(rng.normal(0, 0.5, reps * accounts), m) + 0.5 * rng.normal(size=m.sum())
    df = pd.DataFrame({"rep": np.repeat(np.arange(reps).repeat(accounts), m),
                       "account_id": np.repeat(np.arange(reps * accounts), m), "score": np.clip(np.round(raw), 1, 5)})
    big = np.clip(np.round(4.7 + rng.normal(0, 0.5, 2_000_000) + 0.5 * rng.normal(size=2_000_000)), 1, 5)
    out = csat_table(df, "rep")
    covered = ((out["mean_low"] <= big.mean()) & (big.mean() <= out["mean_high"])).mean()
    assert 0.935 <= covered <= 0.97  # MCSE 0.005
    assert (out["mean_low"] >= 1).all() and (out["mean_high"] <= 5).all()


def test_csat_with_one_answer_per_account_is_unchanged():
    df = pd.DataFrame({"trigger": ["onboarding"] * 3, "score": [5, 4, 2], "account_id": ["a", "b", "c"]})
    row = csat_table(df, "trigger").iloc[0]
    # Wilson x = 2, n = 3: 20.77% to 93.85%; the mean of 5, 4, 2 on the logit of its place on the 1-5 scale:
    # 2/3 of the way, logit 0.693 +- t(2) 4.3027 x (1.5275 / sqrt 3) / (4 x 2/3 x 1/3) -> 1.109 to 4.972
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((20.77, 93.85), abs=0.02)
    assert (row["mean_low"], row["mean_high"]) == pytest.approx((1.109, 4.972), abs=0.001)
    assert row["accounts"] == 3 and row["n_eff"] == 3
    one = csat_table(df.assign(account_id="a"), "trigger").iloc[0]  # one account: no interval for the mean
    assert np.isnan(one["mean_low"]) and one["ci_low"] <= one["pct_satisfied"] <= one["ci_high"]


def test_theme_shares_of_one_account_repeating_itself_are_not_taken_for_independent_comments():
    comments = ["Dashboards are slow"] * 10 + ["Support was great"] * 10
    df = pd.DataFrame({"category": "detractor", "lang": "en", "comment": comments,
                       "account_id": ["A"] * 10 + [f"B{i}" for i in range(10)]})
    clustered = theme_table(df).set_index("theme").loc["performance"]
    naive = theme_table(df, cluster=None).set_index("theme").loc["performance"]
    assert clustered["share"] == naive["share"] == 50.0
    assert clustered["ci_high"] - clustered["ci_low"] > 1.5 * (naive["ci_high"] - naive["ci_low"])
    one_each = theme_table(df.assign(account_id=[f"C{i}" for i in range(20)])).set_index("theme").loc["performance"]
    assert (one_each["ci_low"], one_each["ci_high"]) == pytest.approx((naive["ci_low"], naive["ci_high"]))


# ---------------------------------------------------------------------------------------------- drivers
def test_driver_p_values_resample_accounts_and_keep_their_size():
    """No relationship, but the metric is the account's and the answers share the account's effect."""
    rng = np.random.default_rng(21)
    reps, accounts, users = 120, 50, 5
    p_boot, p_fisher = [], []
    for r in range(reps):
        x = np.repeat(rng.lognormal(size=accounts), users)  # an account-level metric
        y = np.clip(np.round(7 + 1.8 * np.repeat(rng.normal(size=accounts), users)
                             + 1.5 * rng.normal(size=accounts * users)), 0, 10)
        df = pd.DataFrame({"account_id": np.repeat(np.arange(accounts), users), "m": x, "score": y})
        p_boot.append(driver_correlations(df, ["m"], n_boot=200, seed=r)["p_value"].iloc[0])
        p_fisher.append(driver_correlations(df, ["m"], ci="fisher")["p_value"].iloc[0])
    p_boot, p_fisher = np.array(p_boot), np.array(p_fisher)
    assert (p_boot < 0.05).mean() < 0.11  # about 0.05-0.07 (120 replicates: sd 0.02)
    assert (p_fisher < 0.05).mean() > 0.15  # answers taken for independent: about 0.3


def test_driver_q_values_come_from_the_account_bootstrap_p_values():
    rng = np.random.default_rng(4)
    accounts, users = 80, 4
    eff = np.repeat(rng.normal(size=accounts), users)
    df = pd.DataFrame({"account_id": np.repeat(np.arange(accounts), users),
                       "signal": eff + 0.5 * rng.normal(size=accounts * users),
                       "noise": np.repeat(rng.normal(size=accounts), users),
                       "score": np.clip(np.round(7 + 1.8 * eff + 1.5 * rng.normal(size=accounts * users)), 0, 10)})
    out = driver_correlations(df, ["signal", "noise"], n_boot=400).set_index("driver")
    assert out["accounts"].tolist() == [80, 80]
    assert out["q_value"].tolist() == pytest.approx(benjamini_hochberg(out["p_value"]).tolist())
    assert out.loc["signal", "significant"] and out.loc["signal", "ci_low"] > 0.3
    for name in ("signal", "noise"):  # interval and p-value from the same resamples: they agree
        r = cluster_bootstrap_spearman(df[name], df["score"], df["account_id"], 400, 0)
        assert out.loc[name, "p_value"] == pytest.approx(r["p_value"])
        excludes_zero = out.loc[name, "ci_low"] > 0 or out.loc[name, "ci_high"] < 0
        assert excludes_zero == (out.loc[name, "p_value"] < 0.05)
    shared = driver_correlations(df, ["signal", "noise"], n_boot=400, n_jobs=2).set_index("driver")
    pd.testing.assert_frame_equal(shared, out)  # processes share the candidates; the draws do not change


# ------------------------------------------------------------------------------------- churn by category
def test_churn_by_category_counts_each_account_once_at_the_landmark():
    # as_of 2024-12-31, horizon 90 days: landmark 2024-10-02, churn counted in (2024-10-02, 2024-12-31]
    waves = pd.DataFrame([
        ("P", 1, "2024-03-01", "detractor"), ("P", 2, "2024-09-01", "promoter"),  # latest before: promoter
        ("D", 1, "2024-03-01", "promoter"), ("D", 2, "2024-09-10", "detractor"),  # churns 2024-11-15
        ("D2", 1, "2024-02-01", "detractor"), ("D2", 2, "2024-08-01", "detractor"),  # churns after the horizon
        ("X", 1, "2024-04-01", "detractor"),  # churned 2024-06-01: no longer a customer at the landmark
        ("N", 1, "2024-05-01", "passive"),  # churns on the last day of the horizon
        ("W", 1, "2024-09-20", "passive"), ("W", 2, "2024-10-15", "promoter"),  # answer after the landmark
        ("LATE", 1, "2024-10-20", "detractor"),  # answered only after the landmark
    ], columns=["account_id", "wave", "last_at", "category"]).assign(
        last_at=lambda d: pd.to_datetime(d["last_at"], utc=True), first_at=lambda d: d["last_at"])
    accounts = pd.DataFrame({"account_id": ["P", "D", "D2", "X", "N", "W", "LATE"],
                             "end_date": [pd.NaT, ts("2024-11-15"), ts("2025-02-01"), ts("2024-06-01"),
                                          ts("2024-12-31"), pd.NaT, pd.NaT]})
    out = churn_by_category(waves, accounts, 90, "2024-12-31").set_index("category")
    assert out["n"].to_dict() == {"detractor": 2, "passive": 2, "promoter": 1}  # D, D2 | N, W | P
    assert out["churned"].to_dict() == {"detractor": 1, "passive": 1, "promoter": 0}
    assert out["n"].sum() == 5  # five accounts, from nine waves before the landmark
    assert out.attrs["at"] == ts("2024-10-02") and out.attrs["unit"] == "accounts"
    assert (out["ci_low"] <= out["churn_rate"]).all() and (out["churn_rate"] <= out["ci_high"]).all()
    older = churn_by_category(waves, accounts, 90, "2024-12-31", at="2024-08-15").set_index("category")
    # landmark 2024-08-15: P (detractor then), D2 | N | D (promoter then); X had left, W and LATE not yet answered
    assert older["n"].to_dict() == {"detractor": 2, "passive": 1, "promoter": 1}
    assert older["churned"].sum() == 0  # D churns 2024-11-15, two days after that horizon
    fresh = churn_by_category(waves, accounts, 90, "2024-12-31", max_age_days=120).set_index("category")
    assert fresh["n"].to_dict() == {"detractor": 2, "passive": 1, "promoter": 1}  # N's answer is five months old
    with pytest.raises(ConfigError, match="horizon"):
        churn_by_category(waves, accounts, 90, "2024-12-31", at="2024-11-01")


def test_survival_frame_has_one_row_per_account_unless_asked_for_waves():
    waves = pd.DataFrame({"account_id": ["A", "A", "B"], "wave": [1, 2, 1],
                          "first_at": [ts("2024-01-01"), ts("2024-07-01"), ts("2024-01-01")],
                          "last_at": [ts("2024-01-02"), ts("2024-07-02"), ts("2024-01-02")],
                          "category": ["detractor", "promoter", "passive"]})
    accounts = pd.DataFrame({"account_id": ["A", "B"], "end_date": [ts("2024-08-01"), pd.NaT]})
    sf = survival_frame(waves, accounts, "2024-12-31")
    assert sf["account_id"].tolist() == ["A", "B"] and sf["category"].tolist() == ["detractor", "passive"]
    assert sf["event"].tolist() == [True, False]
    assert sf["duration"].tolist() == pytest.approx([212.0, 364.0])  # 2024-01-02 to 08-01; to 12-31
    per_wave = survival_frame(waves, accounts, "2024-12-31", per="wave")
    assert per_wave["event"].tolist() == [False, True, False]  # A's first wave censored when A answers again
    assert per_wave["duration"].tolist() == pytest.approx([181.0, 30.0, 364.0])
