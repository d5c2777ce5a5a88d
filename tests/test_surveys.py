"""Survey analytics: NPS and CSAT with known answers, the two-sample test, drivers, churn, themes, the report."""

from __future__ import annotations

import dataclasses
import json
import socket

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engage_models._core.io import jsonable
from engage_models._core.stats import benjamini_hochberg
from engage_models._core.stats import wilson_interval as wilson
from engage_models.demo.simulator import SimConfig
from engage_models.surveys import (
    account_nps,
    account_waves,
    attach_panel,
    churn_by_category,
    csat_scores,
    csat_table,
    driver_correlations,
    key_terms,
    nps,
    nps_category,
    nps_difference,
    nps_interval,
    nps_table,
    nps_trend,
    prepare,
    representative_comments,
    respondent_nps,
    satisfied,
    theme_table,
    ticket_csat,
    tokenize,
)
from engage_models.surveys import report as rp
from engage_models.surveys import themes as th
from engage_models.surveys.csat import plot_csat
from engage_models.surveys.drivers import candidate_drivers, one_hot
from engage_models.surveys.net_promoter import nps_difference_counts

UTC = "UTC"


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=UTC)


# ------------------------------------------------------------------------------------------------ NPS
def test_the_source_articles_example_gives_minus_20():
    # 100 answers: 30 promoters, 20 passives, 50 detractors -> 30% - 50% = -20
    est = nps([9] * 15 + [10] * 15 + [7] * 10 + [8] * 10 + list(range(7)) * 7 + [6])
    assert (est.n, est.promoters, est.passives, est.detractors) == (100, 30, 20, 50)
    assert est.nps == pytest.approx(-20.0)


def test_categories_follow_the_cut_points():
    cat = nps_category([0, 6, 7, 8, 9, 10, None])
    assert list(cat.astype(object)[:6]) == ["detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    assert pd.isna(cat.iloc[6])


@pytest.mark.parametrize("bad", [11, -1, 7.5])
def test_out_of_range_answers_raise_and_are_never_clipped(bad):
    with pytest.raises(ValueError, match="never clipped"):
        nps([9, 10, bad])


def test_wald_interval_on_a_hand_made_sample():
    # 10 answers: 5 promoters (10, 10, 9, 9, 9), 2 passives (8, 7), 3 detractors (6, 3, 0)
    # p = 0.5, d = 0.3, NPS = 100 (0.5 - 0.3) = 20
    # variance = 100^2 [p + d - (p - d)^2] / n = 10000 (0.8 - 0.04) / 10 = 760, se = 27.5681
    # half-width = 1.959964 * 27.5681 = 54.0325 -> [-34.03, 74.03]
    est = nps([10, 10, 9, 9, 9, 8, 7, 6, 3, 0], method="wald")
    assert est.nps == pytest.approx(20.0)
    assert est.ci_low == pytest.approx(-34.0325, abs=1e-3)
    assert est.ci_high == pytest.approx(74.0325, abs=1e-3)


def test_adjusted_wald_stays_inside_the_scale_at_n5_all_promoters():
    # Wald: p = 1, d = 0 -> variance 0, the interval collapses to [100, 100]
    wald = nps([10, 9, 10, 9, 10], method="wald")
    assert (wald.ci_low, wald.ci_high) == (100.0, 100.0)
    # adjusted: p~ = 5.75 / 8 = 0.71875, d~ = 0.75 / 8 = 0.09375, centre 62.5,
    # variance = (0.8125 - 0.390625) / 8 = 0.052734, se = 22.964 points, half-width 45.008
    # -> [17.49, 107.51], upper bound truncated to 100
    adj = nps([10, 9, 10, 9, 10], method="adjusted")
    assert adj.nps == 100.0  # the estimate itself is not shrunk
    assert adj.ci_low == pytest.approx(17.49, abs=0.01)
    assert adj.ci_high == 100.0
    assert -100 <= adj.ci_low < adj.ci_high <= 100
    low = nps([0, 3, 6, 1, 2], method="adjusted")  # the mirror image
    assert (low.ci_low, low.ci_high) == pytest.approx((-100.0, -17.49), abs=0.01)


def _exact_coverage(method: str, n: int, p: float, d: float) -> float:
    """Probability that the interval covers the true NPS, summed over every trinomial outcome."""
    P, D = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    ok = P + D <= n
    P, D = P[ok], D[ok]
    prob = stats.multinomial.pmf(np.c_[P, D, n - P - D], n, [p, d, 1 - p - d])
    _, lo, hi = nps_interval(P, D, n, method)
    truth = 100 * (p - d)
    return float(prob[(lo <= truth + 1e-9) & (truth - 1e-9 <= hi)].sum())


def test_adjusted_interval_keeps_nominal_coverage_at_small_n_where_wald_fails():
    grid = [(p, d) for p in np.linspace(0.05, 0.9, 8) for d in np.linspace(0.05, 0.9, 8) if p + d <= 0.95]
    for n in (5, 10, 20):
        adj = [_exact_coverage("adjusted", n, p, d) for p, d in grid]
        wald = [_exact_coverage("wald", n, p, d) for p, d in grid]
        # on this grid: adjusted mean 0.95-0.96, worst case >= 0.92; Wald mean 0.82 (n=5) to 0.92 (n=20)
        assert np.mean(adj) > 0.94 and min(adj) > 0.90, (n, np.mean(adj), min(adj))
        assert np.mean(wald) < 0.93 and min(wald) < 0.90, (n, np.mean(wald), min(wald))


def test_nps_table_counts_groups_and_flags_small_cells():
    df = pd.DataFrame({"segment": ["A"] * 4 + ["B"] * 2, "score": [10, 9, 0, 7, 3, 4]})
    out = nps_table(df, "segment", min_n=3).set_index("segment")
    assert out.loc["A", ["n", "promoters", "passives", "detractors"]].tolist() == [4, 2, 1, 1]
    assert out.loc["A", "nps"] == pytest.approx(25.0) and out.loc["B", "nps"] == pytest.approx(-100.0)
    assert out["small_n"].to_dict() == {"A": False, "B": True}
    assert (out["ci_low"] <= out["nps"]).all() and (out["nps"] <= out["ci_high"]).all()
    whole = nps_table(df)
    assert len(whole) == 1 and whole.loc[0, "n"] == 6


def test_nps_trend_groups_answers_by_calendar_month_in_utc():
    df = pd.DataFrame({"submitted_at": [ts("2024-03-31 23:30"), ts("2024-04-01 00:10"), ts("2024-04-15")],
                       "score": [10, 0, 0]})
    tr = nps_trend(df, "M")
    assert tr["period"].tolist() == [ts("2024-03-01"), ts("2024-04-01")]
    assert tr["nps"].tolist() == [100.0, -100.0] and tr["n"].tolist() == [1, 2]


# ------------------------------------------------------------------------------------- two-sample test
SIM = SimConfig()


def _simulated_nps(rng, n: int, shift: float = 0.0, cfg: SimConfig = SIM) -> np.ndarray:
    """NPS answers drawn as the simulator draws them (simulate._World._nps_wave).

    Latent engagement e = mu + x (account effect and stationary AR(1) state), user effect u, tickets of a
    10-seat account: raw = 7 + 1.8 e + 0.5 u - 0.4 log(1 + tickets) + 1.5 eps, rounded to 0-10.
    ``shift`` moves the latent engagement of the whole wave: the planted change.
    """
    e = rng.normal(0, cfg.sd_account, n) + rng.normal(0, cfg.sd_state, n) + shift
    u = rng.normal(0, cfg.sd_user, n)
    tickets = rng.poisson(cfg.ticket_rate * 10**0.6 * np.exp(-0.5 * e))
    raw = 7.0 + 1.8 * e + 0.5 * u - 0.4 * np.log1p(tickets) + 1.5 * rng.normal(size=n)
    return np.clip(np.round(raw), 0, 10)


def test_two_wave_test_detects_a_planted_drop_and_not_a_second_draw():
    rng = np.random.default_rng(20240)
    wave1 = _simulated_nps(rng, 500)
    dropped = _simulated_nps(rng, 500, shift=-0.4)  # engagement down 0.4 sd-units: about -0.7 points on 0-10
    same = _simulated_nps(rng, 500)
    moved = nps_difference(dropped, wave1)
    assert moved.significant(0.05) and moved.difference < 0 and moved.ci_high < 0
    still = nps_difference(same, wave1)
    assert not still.significant(0.05) and still.ci_low < 0 < still.ci_high


def _counts(scores: np.ndarray):
    return (scores >= 9).sum(1), (scores <= 6).sum(1), scores.shape[1]


def test_two_wave_test_false_positive_rate_is_near_alpha_and_power_is_high():
    rng = np.random.default_rng(7)
    reps, n = 2000, 300
    a = _simulated_nps(rng, reps * n).reshape(reps, n)
    b = _simulated_nps(rng, reps * n).reshape(reps, n)
    c = _simulated_nps(rng, reps * n, shift=-0.4).reshape(reps, n)
    p_null = nps_difference_counts(*_counts(a), *_counts(b))["p_value"]
    p_alt = nps_difference_counts(*_counts(c), *_counts(b))["p_value"]
    # 2,000 draws: the rejection rate under the null has sd sqrt(0.05 * 0.95 / 2000) = 0.005
    assert 0.035 < (p_null < 0.05).mean() < 0.065
    assert (p_alt < 0.05).mean() > 0.9


def test_two_wave_test_on_the_simulated_world(small_ingested):
    world, _ = small_ingested
    s = pd.read_parquet(world / "processed" / "surveys.parquet")
    wave = s[(s["survey_type"] == "nps") & (s["submitted_at"] < ts("2024-06-01"))]
    rng = np.random.default_rng(3)
    half = rng.random(len(wave)) < 0.5
    a, b = wave["score"].to_numpy()[half], wave["score"].to_numpy()[~half]
    assert not nps_difference(a, b).significant()  # a random split: one distribution
    worse = np.where(b > 0, b - 1, b)  # the planted shift: every answer one point lower (none below 0)
    moved = nps_difference(worse, a)
    assert moved.significant() and moved.difference < 0 and moved.ci_high < 0


def test_difference_accepts_table_rows():
    t1 = nps_table(pd.DataFrame({"g": ["x"] * 4 + ["y"] * 4, "score": [10, 10, 9, 0, 0, 0, 3, 10]}), "g")
    d = nps_difference(t1.iloc[0], t1.iloc[1])
    assert d.difference == pytest.approx(50.0 - (-50.0))
    assert d.n_a == 4 and d.n_b == 4 and 0 < d.p_value < 1


# ----------------------------------------------------------------------------------------------- CSAT
def test_csat_by_trigger_on_a_tiny_table():
    df = pd.DataFrame({"trigger": ["onboarding"] * 3 + ["ticket_close"] * 4 + ["annual"],
                       "score": [5, 4, 2, 1, 2, 3, 4, 5]})
    out = csat_table(df, "trigger", min_n=3)
    assert out["trigger"].tolist() == ["onboarding", "ticket_close", "annual"]  # natural order, not alphabetical
    onb = out.iloc[0]
    assert (onb["n"], onb["satisfied"]) == (3, 2) and onb["pct_satisfied"] == pytest.approx(200 / 3)
    # Wilson, x = 2, n = 3, z^2 = 3.8415: centre (2 + 1.9207) / 6.8415 = 0.5731,
    # half 1.96 / 6.8415 * sqrt(2 * 1 / 3 + 0.9604) = 0.3654 -> [20.77%, 93.85%]
    assert (onb["ci_low"], onb["ci_high"]) == pytest.approx((20.77, 93.85), abs=0.02)
    # mean of 5, 4, 2 = 3.667, s = 1.5275, t(2) = 4.3027: the plain t interval [-0.128, 7.461] leaves the 1-5 scale;
    # on the logit of the mean's place on it (2/3): 0.693 +- 4.3027 x 0.8819 / (4 x 2/3 x 1/3) -> [1.109, 4.972]
    assert onb["mean_score"] == pytest.approx(11 / 3)
    assert (onb["mean_low"], onb["mean_high"]) == pytest.approx((1.109, 4.972), abs=0.001)
    assert out.iloc[1]["pct_satisfied"] == pytest.approx(25.0)
    assert out["small_n"].tolist() == [False, False, True]
    annual = out.iloc[2]
    assert annual["pct_satisfied"] == 100.0 and annual["ci_high"] == 100.0 and np.isnan(annual["mean_low"])


def test_csat_table_keeps_answers_of_accounts_without_a_segment_and_tickets_without_a_priority():
    """A hand-written accounts file with a blank segment (the contract allows it) stopped the whole surveys stage:
    csat_table dropped the answers' empty group key, and cluster_moments raised "group keys must not be missing";
    report 03 was lost and the run exited 3. An empty key is a group of its own, as in nps_table."""
    df = pd.DataFrame({"trigger": ["ticket_close"] * 4 + ["onboarding"] * 2,
                       "segment": ["SMB", None, "SMB", None, "Enterprise", "Enterprise"],
                       "priority": ["low", None, "high", "low", None, None],
                       "score": [5, 4, 2, 1, 5, 3], "account_id": list("abcdef")})
    by_segment = csat_table(df, ["trigger", "segment"])
    assert by_segment["n"].sum() == len(df)
    blank = by_segment[by_segment["segment"].isna()]
    assert blank["trigger"].tolist() == ["ticket_close"] and blank["n"].tolist() == [2]
    by_priority = csat_table(df, "priority")
    assert by_priority["n"].sum() == len(df)
    assert by_priority["priority"].tolist()[:2] == ["low", "high"] and pd.isna(by_priority["priority"].iloc[-1])


def test_csat_scale_is_configurable_and_out_of_scale_raises():
    assert satisfied([7, 6, 5, 1], scale=(1, 7)).tolist() == [True, True, False, False]
    assert satisfied([5, 4, 3], top=1).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="outside the scale"):
        satisfied([5, 6])
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and 0.25 < hi < 0.32  # Wilson upper bound for 0/10 is 27.8%


def test_ticket_csat_joins_answers_by_ticket_and_bins_time_to_close():
    tickets = pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3", "T4"], "account_id": ["A"] * 4,
        "opened_at": [ts("2024-01-01")] * 4,
        "closed_at": [ts("2024-01-01 02:00"), ts("2024-01-02 06:00"), ts("2024-01-10"), pd.NaT],
        "priority": ["urgent", "low", "normal", "high"], "csat": [np.nan] * 4})
    surveys = pd.DataFrame({"survey_type": ["csat", "csat", "csat", "nps"], "ticket_id": ["T1", "T2", "T3", None],
                            "submitted_at": [ts("2024-01-02")] * 4, "score": [5, 3, 1, 9]})
    out = ticket_csat(tickets, surveys).set_index("ticket_id")
    assert out["score"].to_dict() == {"T1": 5, "T2": 3, "T3": 1}  # T4 is still open
    assert out["hours_to_close"].to_dict() == pytest.approx({"T1": 2.0, "T2": 30.0, "T3": 216.0})
    assert out["time_to_close"].tolist() == ["close.lt4h", "close.1to3d", "close.gt7d"]
    by_prio = csat_table(out.reset_index(), "priority")
    assert by_prio["priority"].tolist() == ["low", "normal", "urgent"]
    from_tickets = ticket_csat(tickets.assign(csat=[4, np.nan, 2, np.nan]))  # the tickets' own column
    assert from_tickets["score"].tolist() == [4, 2]
    # both: a survey answer naming the ticket first, the ticket's own score for the others
    both = ticket_csat(tickets.assign(csat=[1, 4, np.nan, 5]), surveys.iloc[[0, 3]]).set_index("ticket_id")
    assert both["score"].to_dict() == {"T1": 5, "T2": 4}  # T3 has neither, T4 is open
    # surveys with a ticket_id column and no CSAT in them read the tickets' own scores (they read none)
    assert ticket_csat(tickets.assign(csat=[4, np.nan, 2, np.nan]), surveys.iloc[[3]])["score"].tolist() == [4, 2]
    with pytest.raises(ValueError, match="no CSAT for tickets"):
        ticket_csat(tickets.drop(columns="csat"))


def test_the_surveys_stage_reads_the_tickets_own_csat_when_the_surveys_hold_none(tmp_path, monkeypatch):
    """A company that keeps CSAT on its tickets (the contract's optional tickets.csat) and surveys NPS only: the
    stage read ticket CSAT only when some survey answer was a CSAT, and report 03 said "no CSAT answer"."""
    from engage_models import surveys as sv
    from engage_models.pipeline import RunConfig, stages
    from engage_models.pipeline.store import Output
    from engage_models.surveys.data import SurveyData
    from test_monitoring import _artifact

    n = 60
    tickets = pd.DataFrame({"ticket_id": [f"T{i}" for i in range(n)], "account_id": [f"A{i % 30}" for i in range(n)],
                            "opened_at": [ts("2024-03-01")] * n,
                            "closed_at": [ts("2024-03-01 02:00") if i % 2 else ts("2024-03-05") for i in range(n)],
                            "priority": ["low", "high"] * (n // 2), "csat": [5 if i % 2 else 2 for i in range(n)]})
    nps_only = pd.DataFrame(columns=["account_id", "submitted_at", "survey_type", "score", "category", "ticket_id"])
    data = SurveyData(as_of=ts("2024-06-01"), nps=nps_only, csat=nps_only.iloc[:0], accounts=pd.DataFrame(),
                      tickets=tickets)
    monkeypatch.setattr(sv, "load_survey_data", lambda processed, as_of: data)
    config = RunConfig.from_dict({"data_dir": str(tmp_path)})
    ingest = _artifact(tmp_path / "ingest", "ingest", dates={"as_of": "2024-06-01"})
    out = Output(tmp_path / "surveys", "surveys")
    out.path.mkdir()
    stages.surveys(stages.Context(config, {"ingest": ingest}, out))
    by_priority = pd.read_parquet(out.path / "csat_by_priority.parquet").set_index("priority")
    assert by_priority["n"].to_dict() == {"high": 30, "low": 30}
    assert by_priority["pct_satisfied"].to_dict() == pytest.approx({"high": 100.0, "low": 0.0})
    assert (out.path / "csat_by_close_time.parquet").exists()
    skipped = {s.section for s in out.skipped}
    assert "csat_by_trigger" in skipped and "csat_trend" in skipped and "csat_by_priority" not in skipped
    # report 03's header counts the scores the report reads: it said "0 CSAT answers" above the tickets' section
    info = json.loads((out.path / "info.json").read_text(encoding="utf-8"))
    assert (info["csat_answers"], info["csat_ticket_scores"]) == (0, 60)
    line = rp.header_line(info, "2024-06-01", 90, "en")
    assert "0 CSAT survey answers and 60 CSAT scores kept on tickets" in line and "· 0 CSAT answers ·" not in line
    assert "CSATのアンケート回答 0件と問い合わせに記録されたCSAT 60件" in rp.header_line(info, "2024-06-01", 90, "ja")


def test_the_header_counts_an_answer_and_the_ticket_it_names_once():
    """A ticket named by a CSAT answer is counted as that answer; the tickets' own scores are the others. A run's
    info written before the tickets' count was kept reads as before."""
    tickets = pd.DataFrame({"ticket_id": ["T1", "T2", "T3"], "account_id": "A", "opened_at": ts("2024-03-01"),
                            "closed_at": [ts("2024-03-02"), ts("2024-03-02"), ts("2024-07-01")],
                            "priority": "low", "csat": [2.0, 4.0, 5.0]})
    surveys = pd.DataFrame({"response_id": ["R1", "R2"], "account_id": "A", "survey_type": "csat",
                            "submitted_at": [ts("2024-03-03"), ts("2024-03-04")], "score": [5.0, 3.0],
                            "ticket_id": ["T1", None]})
    data = prepare(surveys, pd.DataFrame({"account_id": ["A"], "segment": [None]}), tickets, "2024-06-01")
    assert data.tickets["csat"].isna().tolist() == [False, False, True]  # T3 closes after as_of: not given yet
    scores = csat_scores(data.csat, data.tickets)
    assert scores[["source", "ticket_id", "score"]].values.tolist() == [
        ["survey", "T1", 5.0], ["survey", None, 3.0], ["ticket", "T2", 4.0]]  # T1's own 2 is R1's answer
    assert ticket_csat(data.tickets, data.csat)["source"].tolist() == ["survey", "ticket"]
    old = {"answers": 10, "accounts": 3, "csat_answers": 2, "min_n": 30}
    assert "· 2 CSAT answers ·" in rp.header_line(old, "2024-06-01", 90, "en")


def test_a_blank_segment_reads_as_missing_in_the_nps_and_csat_tables():
    """The contract allows an account without a segment: its group showed as an empty cell."""
    answers = pd.DataFrame({"account_id": ["A", "B", "C"], "segment": ["SMB", None, " "], "trigger": "annual",
                            "score": [5, 4, 2]})
    for lang, word in (("en", "(missing)"), ("ja", "（不明）")):
        table = csat_table(answers, ["trigger", "segment"])
        view = rp.csat_view(table, lang, by=["trigger", "segment"])
        assert list(view["segment"]).count(word) == 2 and "SMB" in set(view["segment"]), view
        labels = [x.get_text() for x in plot_csat(table, "segment", lang=lang).get_yticklabels()]
        assert sum(x.startswith(word) for x in labels) == 2, labels  # the figure's labels too (they read "None")
        nps_answers = answers.assign(score=[10, 9, 0])
        view = rp.nps_view(nps_table(nps_answers, "segment"), lang, by=["segment"])
        assert word in set(view["segment"]) and "" not in set(view["segment"]) and None not in set(view["segment"])


# ------------------------------------------------------------------------------- accounts and respondents
@pytest.fixture
def answers() -> pd.DataFrame:
    rows = [  # account, user, time, score
        ("A", "u1", "2024-03-30", 9), ("A", "u2", "2024-04-02", 3),  # one wave across a month boundary
        ("A", "u1", "2024-09-10", 4), ("A", "u2", "2024-09-12", 5),
        ("B", "u3", "2024-03-05", 10), ("B", "u3", "2024-09-05", 10),
        ("C", "u4", "2024-09-20", 6),
    ]
    return pd.DataFrame(rows, columns=["account_id", "user_id", "submitted_at", "score"]).assign(
        submitted_at=lambda d: pd.to_datetime(d["submitted_at"], utc=True))


def test_account_waves_and_latest_view(answers):
    w = account_waves(answers)
    assert w.groupby("account_id")["wave"].max().to_dict() == {"A": 2, "B": 2, "C": 1}
    a1 = w[(w["account_id"] == "A") & (w["wave"] == 1)].iloc[0]
    assert (a1["respondents"], a1["mean_score"], a1["account_nps"]) == (2, 6.0, 0.0)
    assert a1["category"] == "detractor"  # the mean answer 6 is a detractor's
    latest = account_nps(answers).set_index("account_id")
    assert latest.loc["A", "change"] == pytest.approx(4.5 - 6.0) and latest.loc["A", "trend"] == "down"
    assert latest.loc["B", "trend"] == "flat" and latest.loc["C", "trend"] == ""
    assert bool(latest.loc["A", "split"]) is False
    split = account_nps(answers.assign(score=[9, 3, 10, 2, 10, 10, 6])).set_index("account_id")
    assert bool(split.loc["A", "split"]) is True  # a promoter and a detractor in the latest wave


def test_respondent_view_keeps_users_apart(answers):
    r = respondent_nps(answers, "A").set_index("user_id")
    assert r["latest_score"].to_dict() == {"u1": 4, "u2": 5}
    assert r["previous_score"].to_dict() == {"u1": 9.0, "u2": 3.0}
    assert r["change"].to_dict() == {"u1": -5.0, "u2": 2.0}
    assert r["category"].astype(str).tolist() == ["detractor", "detractor"]
    early = answers.assign(submitted_at=answers["submitted_at"].where(answers["user_id"] != "u2", ts("2024-03-29")))
    latest = respondent_nps(early, "A", latest_wave=True)  # u2 answered only in the first wave now
    assert latest["user_id"].tolist() == ["u1"] and latest["previous_score"].tolist() == [9.0]


# ------------------------------------------------------------------------------------ churn by category
# (one row per account at a landmark, and survival_frame per account: tests/test_survey_clusters.py)
def test_detractors_churn_more_in_the_simulated_world(small_ingested):
    world, _ = small_ingested
    s = pd.read_parquet(world / "processed" / "surveys.parquet")
    acc = pd.read_parquet(world / "processed" / "accounts.parquet")
    waves = account_waves(s[s["survey_type"] == "nps"])
    out = churn_by_category(waves, acc, 90, "2024-12-31").set_index("category")
    # the simulator's hazard falls with the latest NPS (-0.15 per point) and with engagement, which NPS tracks
    assert out.loc["detractor", "churn_rate"] > out.loc["promoter", "churn_rate"]
    assert out.attrs["chi2_p"] < 0.05
    assert out["n"].sum() <= waves["account_id"].nunique()  # each account once


# ---------------------------------------------------------------------------------------------- drivers
def _panel_world(seed: int, planted: bool):
    """300 accounts, monthly panel; NPS answers that depend (or not) on the panel's ``signal`` before them."""
    rng = np.random.default_rng(seed)
    accounts = [f"A{i:03d}" for i in range(300)]
    months = pd.date_range("2024-01-01", periods=6, freq="MS", tz=UTC)
    panel = pd.DataFrame([(a, m) for a in accounts for m in months], columns=["account_id", "as_of"])
    panel["signal"] = rng.normal(size=len(panel))
    panel["noise"] = rng.lognormal(size=len(panel))
    panel["logins_28d"] = rng.poisson(5, size=len(panel))
    # answers mid-month: the relevant row is that month's as_of; next month's row is in the future
    ans = panel.sample(600, random_state=seed).reset_index(drop=True)
    ans["submitted_at"] = ans["as_of"] + pd.Timedelta(days=14)
    latent = (1.5 * ans["signal"] if planted else 0) + rng.normal(size=len(ans))
    ans["score"] = np.clip(np.round(7 + 1.2 * latent), 0, 10)
    responses = ans[["account_id", "submitted_at", "score"]]
    return responses, panel


def test_attach_panel_uses_the_latest_observation_at_or_before_the_answer():
    panel = pd.DataFrame({"account_id": ["A", "A", "A", "B"],
                          "as_of": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-01"], utc=True),
                          "m": [1.0, 2.0, 999.0, 5.0]})
    resp = pd.DataFrame({"account_id": ["A", "A", "A", "B", "C"],
                         "submitted_at": [ts("2024-02-15"), ts("2024-02-01"), ts("2023-12-31"), ts("2024-06-01"),
                                          ts("2024-02-01")], "score": [1, 2, 3, 4, 5]}, index=[10, 11, 12, 13, 14])
    out = attach_panel(resp, panel)
    assert out.index.tolist() == [10, 11, 12, 13, 14] and out["score"].tolist() == [1, 2, 3, 4, 5]
    assert out["m"].tolist()[:2] == [2.0, 2.0]  # exact as_of counts; March (999) is the future
    assert np.isnan(out["m"].iloc[2]) and np.isnan(out["m"].iloc[4])  # nothing before / unknown account
    assert out["m"].iloc[3] == 5.0
    stale = attach_panel(resp, panel, max_age_days=60)
    assert np.isnan(stale["m"].iloc[3])  # B's observation is five months old


def test_drivers_recover_a_planted_relationship():
    responses, panel = _panel_world(11, planted=True)
    joined = attach_panel(responses, panel)
    out = driver_correlations(joined, ["signal", "noise", "logins_28d"]).set_index("driver")
    assert out.index[0] == "signal"
    sig = out.loc["signal"]
    assert sig["rho"] > 0.5 and sig["ci_low"] > 0.4 and sig["significant"]
    assert not out.loc["noise", "significant"] and out.loc["noise", "ci_low"] < 0 < out.loc["noise", "ci_high"]
    boot = driver_correlations(joined, ["signal", "noise"], ci="bootstrap", n_boot=300).set_index("driver")
    assert boot.loc["signal", "ci_low"] > 0.4 and boot.loc["noise", "ci_low"] < 0 < boot.loc["noise", "ci_high"]
    # a panel whose rows are dated a month early hands each answer the *next* month's values (look-ahead):
    # they are unrelated to the answer, so the relationship vanishes. The join date is what matters.
    shifted = panel.assign(as_of=panel["as_of"] - pd.DateOffset(months=1))
    early = responses[responses["submitted_at"] < panel["as_of"].max()]  # the last month has no next month
    leak = driver_correlations(attach_panel(early, shifted), ["signal"]).set_index("driver")
    assert abs(leak.loc["signal", "rho"]) < 0.15


def test_drivers_find_nothing_where_nothing_was_planted():
    responses, panel = _panel_world(12, planted=False)
    out = driver_correlations(attach_panel(responses, panel), ["signal", "noise", "logins_28d"])
    assert not out["significant"].any()
    assert (out["ci_low"] < 0).all() and (out["ci_high"] > 0).all()


def test_candidate_drivers_keep_engagement_metrics_and_never_labels():
    cols = ["account_id", "as_of", "logins_28d", "active_user_ratio_28d", "nps_latest", "csat_latest",
            "churned_within_h", "duration_days", "event", "user_days_28d", "logins_prev28d"]
    assert candidate_drivers(cols) == ["logins_28d", "active_user_ratio_28d"]
    assert "nps_latest" in candidate_drivers(cols, exclude_families=())


def test_account_attributes_enter_as_indicators():
    df = pd.DataFrame({"segment": ["SMB"] * 50 + ["Enterprise"] * 50,
                       "score": [9] * 40 + [3] * 10 + [3] * 40 + [9] * 10})
    d, cols = one_hot(df, ["segment"])
    assert cols == ["segment=Enterprise", "segment=SMB"]
    out = driver_correlations(d, cols, cluster=None).set_index("driver")
    assert out.loc["segment=SMB", "rho"] > 0.5 and out.loc["segment=Enterprise", "rho"] < -0.5


def test_benjamini_hochberg_by_hand():
    # p sorted: 0.01, 0.02, 0.03, 0.5 -> p * 4 / rank = 0.04, 0.04, 0.04, 0.5
    assert benjamini_hochberg([0.03, 0.5, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.5, 0.04, 0.04])


# ------------------------------------------------------------------------------------------------ themes
def test_japanese_sentence_yields_its_nouns():
    toks = tokenize("サポートの対応が早くて助かっています。", "ja")
    assert {"サポート", "対応"} <= set(toks)
    assert not {"の", "が", "て", "。", "ます"} & set(toks)  # particles, auxiliaries, punctuation
    toks = tokenize("ダッシュボードの表示が速く、ストレスがありません。")  # language detected
    assert {"ダッシュボード", "表示", "ストレス"} <= set(toks)
    assert "slack" in tokenize("Slack連携で通知が届くので、対応漏れが減りました。", "ja")


def test_english_tokens_fold_plurals_and_drop_stop_words():
    assert tokenize("The reports are slow and the exports fail", "en") == ["report", "slow", "export", "fail"]
    assert tokenize(None) == [] and tokenize("   ") == []


def test_japanese_tokenizer_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    th._janome.cache_clear()
    th._clauses.cache_clear()
    try:
        assert "料金" in tokenize("料金が高すぎます。", "ja")
    finally:
        th._janome.cache_clear()


def test_japanese_easy_and_hard_to_use_are_one_term_of_the_ease_of_use_theme():
    """使いやすい is 使い (a verb) + やすい (a dependent adjective) to janome, and neither was kept: a new user's
    57 comments saying exactly that got no theme. The verb's continuative form and やすい/にくい/づらい are one
    term now; し + やすい after a noun keeps the noun (操作しやすい -> 操作)."""
    from engage_models.surveys.themes import THEMES

    cases = {"使いやすい": ["使いやすい"], "とても使いやすいです。サポートも迅速。": ["使いやすい", "サポート", "迅速"],
             "分かりにくい画面": ["分かりにくい", "画面"], "操作しやすい": ["操作"], "見づらい": ["見づらい"],
             "画面が見やすい": ["画面", "見やすい"]}
    for text, terms in cases.items():
        assert tokenize(text, "ja") == terms, text
        assert set(terms) & THEMES["ease_of_use"], text


def test_a_negated_word_is_a_term_of_its_own_and_of_its_word_s_theme():
    """使いやすくない (not easy to use) was the term 使いやすい, a promoter's word, in a detractor's comment; "isn't
    intuitive" was "intuitive". A negated adjective or adjectival noun is its own term, of the theme of its word."""
    from engage_models.surveys.themes import affirmative, comment_themes

    cases = {
        ("ja", "画面が使いやすくない。"): ["画面", "使いやすくない"],
        ("ja", "使いやすくなかった"): ["使いやすくない"],                # the past: the same term
        ("ja", "操作は簡単ではない"): ["操作", "簡単ではない"],
        ("ja", "簡単じゃない"): ["簡単ではない"],                        # one term however it is written
        ("ja", "動作が遅くないので満足"): ["動作", "遅くない", "満足"],
        ("ja", "料金が高すぎます。"): ["料金", "高い"],                   # not negated: as before
        ("ja", "機能がない"): ["機能"],                                  # "there is none": not a negated word
        ("en", "The interface isn't very intuitive"): ["interface", "not intuitive"],
        ("en", "Support was not that responsive"): ["support", "not responsive"],
        ("en", "I can never find the report I built"): ["not find", "report", "built"],
        ("en", "Not the fastest, but reliable"): ["fastest", "reliable"],  # "not the": the negation stops
        # the polite forms, は/も inside, a text that starts with the word, 的 (a helper's cases)
        ("ja", "使いやすくありませんでした"): ["使いやすくない"],
        ("ja", "簡単ではございません"): ["簡単ではない"],
        ("ja", "サポートが丁寧ではありませんでした"): ["サポート", "丁寧ではない"],
        ("ja", "使いやすくもない"): ["使いやすくない"],
        ("ja", "遅くはありません"): ["遅くない"],
        ("ja", "使いやすくない"): ["使いやすくない"],                    # janome: 使い a noun here
        ("ja", "直感的でない"): ["直感的ではない"],
        ("en", "It doesn't seem intuitive"): ["not intuitive"],
        ("en", "The UI isnt intuitive"): ["ui", "not intuitive"],
        ("en", "There is no easy way to export"): ["not easy", "way", "export"],
        ("en", "Couldn't be happier with support"): ["happier", "support"],  # praise, not negation
        ("en", "I can't recommend it enough"): ["recommend", "enough"],
        ("en", "It is not better than before"): ["not better"],
        ("en", "It wouldn't be user friendly"): ["not user", "friendly"],  # not a comparative of praise
        ("en", "It won't be easier next year"): ["not easier", "next", "year"],  # "won't": no praise (a note)
        ("en", "Could not be happier"): ["happier"],
        ("en", "Reporting has never been easier"): ["reporting", "easier"],
        # a verb of judging passes the negation to what its pronoun is found (it was "not find", "intuitive")
        ("en", "I do not find it intuitive"): ["not intuitive"],
        ("en", "I don't think it's easy to use"): ["not easy", "use"],
        ("en", "We didn't consider them reliable"): ["not reliable"],
        ("en", "I don't find the UI intuitive"): ["not find", "ui", "intuitive"],  # a noun: the verb, as before
        ("en", "Hard to say, I don't think"): ["hard", "say", "not think"],
        ("en", "I can't find it"): ["not find"],                        # a plain verb: as before (a review)
        ("en", "I can't find it anywhere"): ["not find", "anywhere"],
        ("en", "Couldn't find it in the menu"): ["not find", "menu"],
        ("en", "I don't find it very intuitive"): ["not intuitive"],
        ("en", "Do I like it? Not really. Easy to use though."): ["easy", "use"],  # a clause ends the negation
        # a judgement denied at the clause's end (a Japanese helper's comments: promoters counted for 高い, 遅い)
        ("ja", "使いやすいとは言えません"): ["使いやすくない"],
        ("ja", "使いにくいところは特にありません"): ["使いにくくない"],
        ("ja", "サポートの対応が遅いと感じたことはありません"): ["サポート", "対応", "遅くない"],
        ("ja", "価格が高いとは思いませんでした"): ["価格", "高くない"],
        ("ja", "価格が高いと思います"): ["価格", "高い"],                    # affirmed: as it is
        ("ja", "遅いとしか言えない"): ["遅い"],                             # "nothing but slow" (a review)
        ("ja", "高いと思わない？"): ["高い"],                                # a question, not a denial
        ("ja", "料金やすくて助かる"): ["料金", "やすい"],                    # not 使い: no compound
        ("ja", "遅いと感じる機能はありません"): ["遅い", "機能"],            # the clause denies 機能, not 遅い
        # a negation negated affirms (they were read as plain negations)
        ("ja", "分かりやすくないわけではない"): ["分かりやすい"],
        ("ja", "使いやすくないことはない"): ["使いやすい"],
        ("ja", "使いやすくなくはない"): ["使いやすい"],
        ("ja", "簡単ではないわけではありません"): ["簡単"],
        ("ja", "サポートが遅くないとは言えない"): ["サポート", "遅い"],
        ("ja", "価格が高いとは言えなくもない"): ["価格", "高い"],
        ("ja", "高いと思わなくもないです"): ["高い"],
        ("ja", "使いにくいことはない"): ["使いにくくない"],                 # one negation: as before
    }
    for (lang, text), terms in cases.items():
        assert tokenize(text, lang) == terms, text
    negated = ["使いやすくない", "遅くない", "簡単ではない", "not intuitive", "少ない", "遅い", "直感的ではない"]
    assert [affirmative(w) for w in negated] == ["使いやすい", "遅い", "簡単", "intuitive", "少ない", "遅い", "直感的"]
    themes = comment_themes(pd.DataFrame([{"comment": text, "lang": lang} for lang, text in cases]))
    assert themes.iloc[0] == ("ease_of_use",) and themes.iloc[4] == ("performance",)
    assert themes.iloc[7] == ("ease_of_use",) and themes.iloc[8] == ("support",)
    # key terms: a detractor's negation is not counted for the promoters' word
    rows = [("detractor", "ja", "画面が使いやすくない。")] * 5 + [("promoter", "ja", "画面が使いやすい。")] * 5
    df = pd.DataFrame(rows, columns=["category", "lang", "comment"])
    kt = key_terms(df).set_index(["category", "term"])
    assert kt.loc[("detractor", "使いやすくない"), "share"] == 100 and ("detractor", "使いやすい") not in kt.index
    assert kt.loc[("promoter", "使いやすい"), "z"] > 0


def test_verbs_and_adverbs_of_a_theme_and_words_of_no_theme():
    """固まる (freezes), サクサク (snappy), ごちゃごちゃ (cluttered) gave no theme (janome keeps nouns and adjectives);
    画面 (screen) put "the screen loads slowly" under ease of use and レスポンス (response) put a slow system
    under support (a Japanese helper's comments). A negated verb is a term of its own, of its word's theme."""
    from engage_models.surveys.themes import affirmative, comment_themes

    cases = {
        "フィルターをかけるたびに画面が固まります。": ("フィルター", "画面", "固まる"),
        "サクサク動く": ("サクサク",),
        "画面がごちゃごちゃしている": ("画面", "ごちゃごちゃ"),
        "全く固まらない": ("固まらない",),
        "固まりませんでした": ("固まらない",),
        # "never froze" is not a freeze; an adverb of a negated verb is no praise and no complaint (a review)
        "固まったことはない": ("固まらない",),
        "固まることはありません": ("固まらない",),
        "サクサク動かない": (),
        "ごちゃごちゃしていない": (),
        "サクサク動くし、固まらない": ("サクサク", "固まらない"),
    }
    for text, terms in cases.items():
        assert tuple(tokenize(text, "ja")) == terms, text
    assert affirmative("固まらない") == "固まる"
    themes = {
        "フィルターをかけるたびに画面が固まります。": ("features", "performance"),
        "サクサク動く": ("performance",),
        "全く固まらない": ("performance",),
        "画面がごちゃごちゃしている": ("ease_of_use",),
        "画面の読み込みが遅いです。": ("performance",),
        "レスポンスが遅く、画面の切り替えに待たされます。": ("performance",),
        "サポートのレスポンスが遅い": ("support",),
        "画面が見やすい": ("ease_of_use",),
    }
    got = comment_themes(pd.DataFrame({"comment": list(themes), "lang": "ja"}))
    assert dict(zip(themes, got, strict=True)) == themes


def test_slow_support_is_support_s_theme_and_a_slow_product_is_performance():
    """サポートが遅い counted under performance too (the product's speed) and so did "slow replies from support".
    A word of speed beside a support term, with nothing else of performance in its clause, is support's alone; in
    another clause of the same comment it is the product's again."""
    from engage_models.surveys.themes import comment_themes

    cases = {
        ("ja", "サポートの返信が遅い"): ("support",),
        ("ja", "問い合わせへの回答が遅くて困る"): ("support",),
        ("ja", "サポートの対応は早いが、動作が遅い"): ("support", "performance"),
        ("ja", "動作が重くてサポートに問い合わせたが返事が遅い"): ("support", "performance"),
        ("ja", "動作が遅い"): ("performance",),
        ("ja", "返信が遅い。"): ("support",),                          # 返信, チャット, 窓口: support's words
        ("ja", "チャットの返信が遅い"): ("support",),
        ("ja", "障害が多い"): ("performance",),
        ("ja", "サポートは丁寧だが、アプリが遅い"): ("support", "performance"),  # two clauses: the app's speed
        ("ja", "サポートは丁寧で、読み込みも速い"): ("support", "performance"),
        ("en", "Slow replies from support"): ("support",),
        ("en", "Support is great but the dashboards are slow"): ("support", "performance"),
        ("en", "Support was slow to answer and the app freezes"): ("support", "performance"),  # freeze: its own
        ("en", "Dashboards are painfully slow"): ("performance",),
        ("en", "The support team is not fast enough"): ("support",),  # negated speed: still a speed word
        ("en", "The app is slow and support never answers"): ("support", "performance"),  # the app: its speed
        ("en", "Support is friendly and fast"): ("support",),
        ("ja", "遅いとしか言えない"): ("performance",),
    }
    frame = pd.DataFrame([{"comment": text, "lang": lang} for lang, text in cases])
    assert comment_themes(frame).tolist() == list(cases.values())
    assert tokenize("サポートの対応は早いが、動作が遅い", "ja") == ["サポート", "対応", "早い", "動作", "遅い"]


def _comments() -> pd.DataFrame:
    rows = []
    for i in range(12):
        rows += [("detractor", "en", f"Dashboards are painfully slow, report {i} timed out"),
                 ("promoter", "en", f"Love the dashboards, support team is great {i}"),
                 ("detractor", "ja", "動作が遅いし、料金が高すぎます。"),
                 ("promoter", "ja", "サポートが丁寧で、操作も簡単です。")]
    rows += [("passive", "en", "Fine overall"), ("promoter", "en", None)]
    return pd.DataFrame(rows, columns=["category", "lang", "comment"])


def test_key_terms_separate_detractors_from_promoters_per_language():
    kt = key_terms(_comments())
    det_en = kt[(kt["lang"] == "en") & (kt["category"] == "detractor")].set_index("term")
    assert det_en.loc["slow", "z"] == det_en["z"].max() > 2
    assert abs(det_en.loc["dashboard", "z"]) < 0.5  # in every comment of both groups: not distinctive
    assert kt.equals(key_terms(_comments().sample(frac=1, random_state=1)))  # order of rows and ties: stable
    det_ja = kt[(kt["lang"] == "ja") & (kt["category"] == "detractor")].set_index("term")
    pro_ja = kt[(kt["lang"] == "ja") & (kt["category"] == "promoter")].set_index("term")
    assert det_ja.loc["料金", "z"] > 0 and pro_ja.loc["サポート", "z"] > 0
    assert det_ja.loc["料金", "share"] == 100.0 and det_ja.loc["料金", "share_others"] == 0.0


def test_themes_and_representative_comments():
    df = _comments()
    tt = theme_table(df).set_index(["theme", "category"])
    assert tt.loc[("performance", "detractor"), "share"] == 100.0  # every detractor comment is about speed
    assert tt.loc[("price", "detractor"), "share"] == 50.0  # the Japanese half mentions the price
    assert tt.loc[("support", "promoter"), "share"] == 100.0
    rep = representative_comments(df, k=1)
    assert set(rep["category"]) == {"promoter", "detractor"}
    perf = rep[(rep["theme"] == "performance") & (rep["category"] == "detractor")].set_index("lang")
    # one per language: a report in Japanese quotes a Japanese customer (one ranking of both quoted English only)
    assert "slow" in perf.loc["en", "comment"] and "遅い" in perf.loc["ja", "comment"]
    from engage_models.surveys.report import comments_in

    for lang in ("ja", "en"):  # each theme and category in the report's language where it has any
        shown = comments_in(rep, lang)
        for (theme, cat), g in shown.groupby(["theme", "category"]):
            has = rep[(rep["theme"] == theme) & (rep["category"] == cat)]
            assert set(g["lang"]) == ({lang} if (has["lang"] == lang).any() else {has["lang"].iloc[0]})
        assert len(shown.groupby(["theme", "category"])) == len(rep.groupby(["theme", "category"]))
    assert len(comments_in(rep[rep["lang"] == "en"], "ja")) == (rep["lang"] == "en").sum()  # none in ja: all
    # a theme only English customers spoke of keeps its English example in a Japanese report (a review)
    mixed = pd.DataFrame({"theme": ["performance", "support", "support"], "category": "detractor",
                          "comment": ["Dashboards are slow", "Support never answers", "サポートが遅い"],
                          "lang": ["en", "en", "ja"]})
    shown = comments_in(mixed, "ja")
    assert shown["comment"].tolist() == ["Dashboards are slow", "サポートが遅い"]
    from engage_models.surveys.report import language_first

    assert language_first(rep, "ja")["lang"].iloc[0] == "ja" and language_first(rep, "en")["lang"].iloc[0] == "en"


def test_a_comment_of_two_themes_is_quoted_once_while_another_can_speak_for_the_second():
    """A reader found "The app freezes whenever more than a few filters are applied." quoted under both features
    and performance. The second theme quotes another of its comments; a theme with no other keeps the repeat.
    (No promoter has commented here: that stopped the function with KeyError '_lang'.)"""
    both = "The app freezes whenever more than a few filters are applied."
    df = pd.DataFrame({"category": "detractor", "lang": "en", "comment": [
        both, "The dashboard is slow and freezes every morning.", "Reports are slow to load."]})
    rep = representative_comments(df, k=1, themes=["features", "performance"])
    quoted = rep.set_index("theme")["comment"]
    assert quoted["features"] == both and quoted["performance"] != both
    alone = representative_comments(df.iloc[[0]], k=1, themes=["features", "performance"])
    assert alone["comment"].tolist() == [both, both]


# --------------------------------------------------------------------------------------------- the report
@pytest.mark.notebook
@pytest.mark.parametrize("lang, heading, other", [
    ("en", "Voice of the customer", "顧客の声"),
    ("ja", "顧客の声", "Voice of the customer"),
])
def test_voice_of_customer_report_end_to_end(report_data, tmp_path, lang, heading, other):
    """The real notebook on the small world, with a hostile comment on the latest detractor answer."""
    from conftest import REPORT_RUN_DATE
    from engage_models.reports.runner import run
    from test_runner import _assert_self_contained_without_code

    out = tmp_path / "reports"
    run(data_dir=report_data, out_dir=out, only=["03"], lang=lang, run_date=REPORT_RUN_DATE, progress=lambda m: None)
    html = (out / "latest" / "03_voice_of_customer.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    _assert_self_contained_without_code(html)  # no <script at all, nothing external, no code
    assert heading in html and other not in html
    assert html.count('src="data:image/png;base64,') >= 9
    assert "Traceback" not in html
    if lang == "en":
        assert "adjusted Wald" in html and "ticket close" in html and "promoters" in html
    else:
        assert "調整ワルド法" in html and "問い合わせ完了時" in html and "推奨者" in html
    from engage_models._core.i18n import fmt_date, fmt_number
    from engage_models.pipeline import open_run
    from engage_models.pipeline.stages import KEY_TERM_Z
    from engage_models.surveys import answer_span

    # the overall NPS says it counts every answer, from the first to the last the stage counted
    done = open_run(out / "latest")
    info, answers = done["surveys"].json("info"), done["surveys"].frame("nps_answers")
    first, last = answer_span(answers)
    assert (pd.Timestamp(info["first_answer"]), pd.Timestamp(info["last_answer"])) == (first, last)
    span = {"en": f"{fmt_date(first, 'en')} to {fmt_date(last, 'en')}",
            "ja": f"{fmt_date(first, 'ja')}〜{fmt_date(last, 'ja')}"}[lang]
    n = fmt_number(len(answers))
    said = {"en": f"from all {n} answers (answered {span})", "ja": f"（全回答{n}件、回答期間 {span}）"}[lang]
    assert said in html, said
    assert ("the executive summary quotes" if lang == "en" else "エグゼクティブサマリーが示すNPS") in html
    terms = done.frame("surveys", "key_terms")
    assert len(terms) and (terms["z"] >= KEY_TERM_Z).all()  # beyond chance only (a team was shown z 0.3)


def test_the_wave_change_says_when_a_period_has_few_answers():
    """A Japanese team's survey wave spilled 9 answers into the next month: the headline compared NPS 22.2 with
    -14.6 on those 9 answers without a word (the table alone flagged them)."""
    from engage_models.surveys.report import wave_change_line

    diff = {"n_a": 9, "n_b": 110, "nps_a": 22.2, "nps_b": -14.6, "difference": 36.8, "ci_low": -10.0,
            "ci_high": 80.0, "z": 1.5, "p_value": 0.13}
    change = {"a": "2024-09-01", "b": "2024-10-01", "nps_a": -14.6, "nps_b": 22.2, "n_a": 110, "n_b": 9, "min_n": 30,
              "difference": diff}
    en, ja = wave_change_line(change, "en"), wave_change_line(change, "ja")
    assert "Read it with care: Oct 2024 has 9 answers, fewer than 30" in en, en
    assert "2024年10月の回答は9件" in ja and "30件未満" in ja, ja
    assert "Read it with care" not in wave_change_line({**change, "n_b": 95}, "en")
    assert "Read it with care" not in wave_change_line({k: v for k, v in change.items() if k not in ("n_a", "n_b")},
                                                       "en")  # an artifact written before the counts were kept


def test_driver_and_effect_tables_write_p_values_as_the_sentences_do():
    """Report 03's q-values and report 06's p-values were printed raw (0.000, 3.2e-05) beside "p < 0.001"."""
    from engage_models.surveys.report import drivers_view

    d = pd.DataFrame({"driver": ["logins_28d", "tickets_90d"], "n": [300, 300], "rho": [0.31, -0.05],
                      "ci_low": [0.2, -0.15], "ci_high": [0.4, 0.05], "q_value": [3.2e-05, 0.25],
                      "significant": [True, False]})
    assert drivers_view(d)["q_value"].tolist() == ["< 0.001", "0.250"]


def _campaigns(starts: list[str], n_per: int = 400, days: int = 21, seed: int = 0, accounts: int = 200,
               good: float = 0.5) -> pd.DataFrame:
    """Survey campaigns: ``n_per`` answers over ``days`` days after each start, from ``accounts`` accounts."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, start in enumerate(starts):
        at = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(rng.uniform(0, days, n_per), unit="D")
        score = np.where(rng.random(n_per) < good + 0.1 * i, 10, 3)
        frames.append(pd.DataFrame({"submitted_at": at, "score": score,
                                    "account_id": rng.integers(0, accounts, n_per).astype(str)}))
    return pd.concat(frames, ignore_index=True)


def test_a_survey_campaign_that_runs_into_the_next_quarter_stays_one_wave():
    """The executive summary's headline NPS was -9 on 76 answers: the tail of a September campaign that fell
    into October in the company's calendar, compared as "the latest quarter" with the campaign's 6,223 answers."""
    from engage_models.surveys.net_promoter import latest_change, survey_waves

    answers = _campaigns(["2025-03-20", "2025-09-20"])  # each campaign runs 21 days, over a quarter's end
    waves = survey_waves(answers["submitted_at"])
    assert waves is not None and sorted(waves.value_counts().tolist()) == [400, 400]
    assert set(waves.dt.strftime("%Y-%m-%d")) == {"2025-03-20", "2025-09-20"}  # each campaign's first day
    change = latest_change(answers, "Q", drop_small=True)
    assert change["unit"] == "wave" and change["latest"]["n"] == 400 and change["previous"]["n"] == 400
    late = answers.iloc[400:]
    expected = nps(late["score"]).nps
    assert change["latest"]["nps"] == pytest.approx(expected)
    assert change["difference"].difference == pytest.approx(expected - nps(answers.iloc[:400]["score"]).nps)
    assert change["latest"]["end"] == late["submitted_at"].max()

    calendar = nps_trend(answers, "Q")  # what was compared before: the quarter holding the campaign's tail
    assert calendar["n"].iloc[-1] < 400


def test_a_late_answer_after_a_quiet_spell_joins_its_wave_and_continuous_answers_are_not_waves():
    from engage_models.surveys.net_promoter import latest_change, survey_waves

    answers = _campaigns(["2025-03-01", "2025-09-01"])
    straggler = pd.DataFrame({"submitted_at": [pd.Timestamp("2025-11-15", tz="UTC")], "score": [0],
                              "account_id": ["a"]})  # eight weeks after the campaign closed
    early = straggler.assign(submitted_at=pd.Timestamp("2025-01-10", tz="UTC"))  # before the first campaign
    between = straggler.assign(submitted_at=pd.Timestamp("2025-05-20", tz="UTC"))  # after the first campaign
    waves = survey_waves(pd.concat([early, answers, between], ignore_index=True)["submitted_at"])
    assert sorted(waves.value_counts().tolist()) == [400, 402]
    assert waves.iloc[0] == waves.iloc[1]  # the early answer joins the first campaign
    assert waves.iloc[-1] == waves.iloc[1]  # the straggler between campaigns joins the one before it
    last = survey_waves(pd.concat([answers, straggler], ignore_index=True)["submitted_at"])
    assert sorted(last.value_counts().tolist()) == [1, 400, 400]  # after the last one: maybe a new campaign begun
    assert latest_change(pd.concat([answers, straggler], ignore_index=True), "Q", drop_small=True)["latest"][
        "n"] == 400  # the headline compares the last full waves

    rng = np.random.default_rng(3)
    steady = pd.DataFrame({"submitted_at": pd.Timestamp("2025-01-01", tz="UTC")
                           + pd.to_timedelta(rng.uniform(0, 365, 2000), unit="D"),
                           "score": rng.integers(0, 11, 2000), "account_id": rng.integers(0, 300, 2000).astype(str)})
    assert survey_waves(steady["submitted_at"]) is None  # an always-on survey: calendar quarters
    change = latest_change(steady, "Q")
    assert change["unit"] == "period" and change["latest"]["period"] == pd.Timestamp("2025-10-01", tz="UTC")
    one = survey_waves(answers["submitted_at"].iloc[:400])  # the company's first campaign: one wave
    assert one is not None and one.nunique() == 1
    first = latest_change(answers.iloc[:400], "Q")
    assert first["unit"] == "wave" and first["previous"] is None and first["latest"]["n"] == 400
    # a "campaign" of four months (longer than a quarter's span) is not a wave
    assert survey_waves(_campaigns(["2025-01-01", "2025-09-01"], days=130)["submitted_at"]) is None


def test_the_wave_change_and_the_headline_name_the_waves_they_compare():
    from engage_models.reports.summary import nps_basis
    from engage_models.surveys.net_promoter import headline_change
    from engage_models.surveys.report import wave_change_line

    answers = _campaigns(["2025-03-20", "2025-09-20"])
    h = headline_change(answers)
    latest, previous, diff, unit = h["latest"], h["previous"], h["difference"], h["unit"]
    assert h["later"] == []
    assert unit == "wave" and latest["n"] == 400
    waves = {"unit": unit, "latest": latest.to_dict(), "previous": previous.to_dict()}
    en, ja = nps_basis(waves, "en"), nps_basis(waves, "ja")
    assert en.startswith("NPS: the latest survey wave (answered 20 Sep 2025 to 1") and "400 answers" in en, en
    assert "直近の調査回（回答期間 2025年9月20日〜2025年10月" in ja, ja
    change = {"unit": "wave", "a": previous["period"], "b": latest["period"], "a_end": previous["end"],
              "b_end": latest["end"], "nps_a": previous["nps"], "nps_b": latest["nps"], "n_a": 400, "n_b": 400,
              "min_n": 30, "difference": dataclasses.asdict(diff)}
    line = wave_change_line(change, "en")
    assert line.startswith("Latest survey wave (answered 20 Sep 2025 to "), line
    assert "against the one before (20 Mar 2025 to" in line, line
    assert "Read it with care" not in line
    assert "前回（2025年3月20日〜" in wave_change_line(change, "ja")
    assert nps_basis({}, "en") == ""
    one = {"unit": "period", "latest": latest.to_dict(), "previous": None}
    assert "one quarter so far" in nps_basis(one, "en")


def test_the_overall_nps_says_it_counts_every_answer_over_what_dates_and_where_the_summary_s_wave_is():
    """An executive read one NPS in report 03 (every answer ever) and another in the executive summary (the latest
    wave) with no word why: the overall sentence names the answers' first and last dates and the latest wave."""
    from engage_models.surveys import answer_span
    from engage_models.surveys.net_promoter import headline_change
    from engage_models.surveys.report import nps_overall_line

    answers = _campaigns(["2025-03-20", "2025-09-20"])
    answers.loc[7, "submitted_at"] = pd.Timestamp("2025-03-19 23:30", tz="UTC")  # the first answer, late in a day
    answers.loc[420, "submitted_at"] = pd.Timestamp("2025-10-12 00:15", tz="UTC")  # the last, early in one
    first, last = answer_span(answers.sample(frac=1, random_state=1))  # in no order
    assert (first, last) == (pd.Timestamp("2025-03-19 23:30", tz="UTC"), pd.Timestamp("2025-10-12 00:15", tz="UTC"))
    assert answer_span(answers.iloc[:0]) == (None, None)
    # as the surveys stage stores them (its info json) and report 03 reads them back
    info = json.loads(json.dumps(jsonable({"first_answer": first, "last_answer": last})))
    overall = nps(answers["score"])
    h = headline_change(answers)
    latest, previous, unit = h["latest"], h["previous"], h["unit"]
    change = {"unit": unit, "a": previous["period"], "b": latest["period"]}
    en = nps_overall_line(overall, info, change, "en")
    assert "from all 800 answers (answered 19 Mar 2025 to 12 Oct 2025): " in en, en
    assert "executive summary quotes the latest survey wave's NPS, compared with the wave before below" in en, en
    ja = nps_overall_line(overall, info, change, "ja")
    assert "（全回答800件、回答期間 2025年3月19日〜2025年10月12日）：" in ja, ja
    assert "エグゼクティブサマリーが示すNPSは直近の調査回の値" in ja, ja
    assert "latest quarter's NPS" in nps_overall_line(overall, info, {**change, "unit": "period"}, "en")
    assert "直近の四半期" in nps_overall_line(overall, info, {**change, "unit": "period"}, "ja")
    assert "one survey wave (or period) so far" in nps_overall_line(overall, info, None, "en")
    # an info written before the span was kept: the dates of the answers themselves
    assert "(answered 19 Mar 2025 to 12 Oct 2025)" in nps_overall_line(overall, {}, change, "en", answers=answers)


def test_the_summary_s_waves_and_report_03_s_interval_follow_the_run_s_survey_settings(tmp_path):
    """The executive summary split the answers with 30 answers a wave and measured them with adjusted Wald whatever
    ``surveys.min_n`` and ``surveys.ci_method`` said, while report 03 used them; report 03 named its interval
    "adjusted Wald" also when it was Wald's."""
    from engage_models.pipeline import RunConfig, stages
    from engage_models.pipeline.store import Output
    from engage_models.surveys.net_promoter import headline_change, headline_record, latest_change
    from engage_models.surveys.report import nps_overall_line
    from test_monitoring import _artifact

    answers = _campaigns(["2025-03-20", "2025-09-20"], n_per=40)
    adjusted, wald = headline_change(answers)["latest"], headline_change(answers, method="wald")["latest"]
    assert adjusted["nps"] == wald["nps"] and (adjusted["ci_low"], adjusted["ci_high"]) != (wald["ci_low"],
                                                                                          wald["ci_high"])
    expected = latest_change(answers, "Q", min_n=30, method="wald", drop_small=True)["latest"]
    assert (wald["ci_low"], wald["ci_high"]) == (expected["ci_low"], expected["ci_high"])
    # with waves of 40 answers and a min_n of 50 the first is too small to be a wave of its own: one wave of 80
    assert headline_change(answers)["previous"]["n"] == 40 and headline_change(answers, min_n=50)["previous"] is None
    # the summary stage, as a run with these settings calls it, copies what the surveys stage chose
    config = RunConfig.from_dict({"data_dir": str(tmp_path), "surveys": {"min_n": 50, "ci_method": "wald"}})
    ingest = _artifact(tmp_path / "ingest", "ingest", dates={"as_of": "2025-12-01"})
    surveys = _artifact(tmp_path / "surveys", "surveys", nps_answers=answers,
                        nps_headline=headline_record(answers, min_n=config.surveys.min_n,
                                                     method=config.surveys.ci_method))
    out = Output(tmp_path / "summary", "summary")
    out.path.mkdir()
    stages.summary(stages.Context(config, {"ingest": ingest, "surveys": surveys}, out))
    waves = json.loads((out.path / "nps_waves.json").read_text())
    one = latest_change(answers, "Q", min_n=50, method="wald", drop_small=True)["latest"]
    assert waves["unit"] == "wave" and waves["previous"] is None and waves["latest"]["n"] == one["n"] == 80
    assert (waves["latest"]["ci_low"], waves["latest"]["ci_high"]) == pytest.approx((one["ci_low"], one["ci_high"]))
    info = {"first_answer": "2025-03-20", "last_answer": "2025-10-01"}
    assert "(interval: Wald)" in nps_overall_line(nps(answers["score"], method="wald"), info, None, "en")
    assert "(interval: adjusted Wald)" in nps_overall_line(nps(answers["score"]), info, None, "en")
    assert "（区間：ワルド法）" in nps_overall_line(nps(answers["score"], method="wald"), info, None, "ja")


def test_report_03_and_the_summary_name_the_wave_the_summary_quotes_when_a_newer_one_is_thin(tmp_path):
    """A wave just begun (10 answers) is compared in report 03 (said to be thin) but passed over by the executive
    summary, which quotes the full wave before it: report 03 said "the executive summary quotes the latest survey
    wave's NPS" and the summary "the latest survey wave" of a wave that was not the latest."""
    from engage_models.pipeline import RunConfig, stages
    from engage_models.pipeline.store import Output
    from engage_models.reports.summary import nps_basis
    from engage_models.surveys.net_promoter import headline_record, latest_change
    from engage_models.surveys.report import nps_overall_line
    from test_monitoring import _artifact

    quarterly = _campaigns(["2024-01-05", "2024-04-05", "2024-07-05"], n_per=300, days=20)
    begun = pd.concat([quarterly, _campaigns(["2024-10-01"], n_per=10, days=1, seed=2)], ignore_index=True)
    h = json.loads(json.dumps(jsonable(headline_record(begun, min_n=30))))  # as stored and read back
    assert h["unit"] == "wave" and h["latest"]["n"] == 300 and h["latest"]["period"].startswith("2024-07-05")
    assert [x["n"] for x in h["later"]] == [10] and h["later"][0]["period"].startswith("2024-10-01")
    change = latest_change(begun, "M")  # report 03's comparison: the thin wave against July's
    assert change["latest"]["n"] == 10 and change["later"] == []
    info = {"first_answer": "2024-01-05", "last_answer": "2024-10-01"}
    line = nps_overall_line(nps(begun["score"]), info, {"unit": "wave"}, "en", headline=h)
    assert "the executive summary quotes the survey wave answered 5 Jul 2024 to " in line, line
    assert "(300 answers), the latest with at least 30 answers; the newer wave, compared below, has 10 so far" in line
    assert "quotes the latest survey wave's NPS" not in line
    ja = nps_overall_line(nps(begun["score"]), info, {"unit": "wave"}, "ja", headline=h)
    assert "回答が30件以上ある直近の調査回（回答期間 2024年7月5日〜" in ja and "まだ10件" in ja, ja
    basis = nps_basis(h, "en")
    assert basis.startswith("NPS: the latest survey wave (answered 5 Jul 2024 to "), basis
    assert "A newer survey wave (answered 1 Oct 2024 to 1 Oct 2024) has 10 answers so far, fewer than 30" in basis
    assert "新しい調査回（回答期間 2024年10月1日〜2024年10月1日）の回答はまだ10件" in nps_basis(h, "ja")
    # with every wave full, both say "the latest" as before
    full = json.loads(json.dumps(jsonable(headline_record(quarterly, min_n=30))))
    assert full["later"] == [] and "newer" not in nps_basis(full, "en")
    assert "quotes the latest survey wave's NPS" in nps_overall_line(nps(quarterly["score"]), info, {"unit": "wave"},
                                                                       "en", headline=full)
    # the summary stage quotes what the surveys stage chose, and its touch-model table counts that wave's answers
    config = RunConfig.from_dict({"data_dir": str(tmp_path)})
    ingest = _artifact(tmp_path / "ingest", "ingest", dates={"as_of": "2024-10-02"})
    surveys = _artifact(tmp_path / "surveys", "surveys", nps_answers=begun, nps_headline=h)
    accounts = begun["account_id"].drop_duplicates()
    actions = _artifact(tmp_path / "actions", "actions", actions=pd.DataFrame(
        {"account_id": accounts, "touch_model": np.where(np.arange(len(accounts)) % 2, "tech", "high")}))
    out = Output(tmp_path / "summary", "summary")
    out.path.mkdir()
    stages.summary(stages.Context(config, {"ingest": ingest, "surveys": surveys, "actions": actions}, out))
    assert json.loads((out.path / "nps_waves.json").read_text()) == h
    info = json.loads((out.path / "nps_by_touch_model_info.json").read_text())
    assert info["answers"] == 300  # July's wave, not the one begun since


def test_a_first_campaign_across_a_quarter_s_end_and_a_campaign_just_begun_are_waves_not_quarters():
    """A review's cases: 6,223 answers on 20-31 March and 76 on 1-3 April compared as "the latest quarter" (76)
    against the one before, said to come in continuously; and 10 answers on the first day of a new campaign
    were joined to the last one, whose span then passed 92 days and sent the whole history back to quarters."""
    from engage_models.reports.summary import nps_basis
    from engage_models.surveys.net_promoter import headline_change, latest_change, survey_waves

    first = pd.concat([_campaigns(["2024-03-20"], n_per=6223, days=12),
                       _campaigns(["2024-04-01"], n_per=76, days=3, seed=1)], ignore_index=True)
    h = headline_change(first)
    latest, previous, unit = h["latest"], h["previous"], h["unit"]
    assert (unit, int(latest["n"]), previous) == ("wave", 6299, None)
    assert nps_basis({"unit": unit, "latest": latest.to_dict(), "previous": None}, "en").startswith(
        "NPS: the only survey wave so far (answered 20 Mar 2024 to ")
    quarterly = _campaigns(["2024-01-05", "2024-04-05", "2024-07-05"], n_per=300, days=20)
    begun = pd.concat([quarterly, _campaigns(["2024-10-01"], n_per=10, days=1, seed=2)], ignore_index=True)
    waves = survey_waves(begun["submitted_at"])
    assert sorted(waves.value_counts().tolist()) == [10, 300, 300, 300]  # the new campaign is a wave of its own
    change = latest_change(begun, "M")  # the report's line: the thin new wave against July's, said to be thin
    assert change["unit"] == "wave" and (change["latest"]["n"], change["previous"]["n"]) == (10, 300)
    h = headline_change(begun)  # the headline: the last two full waves
    latest, previous, unit = h["latest"], h["previous"], h["unit"]
    assert unit == "wave" and latest["period"] == pd.Timestamp("2024-07-05", tz="UTC") and previous["n"] == 300
    a_week_on = pd.concat([quarterly, _campaigns(["2024-10-01"], n_per=10, days=7, seed=3)], ignore_index=True)
    assert latest_change(a_week_on, "M")["unit"] == "wave"


@pytest.mark.parametrize("n, said", [(1, "1 NPS answer is not a whole number in 0-10 (e.g. 11): "),
                                     (2, "2 NPS answers are not whole numbers in 0-10 (e.g. 11): ")])
def test_bad_answers_are_counted_in_the_singular_and_the_plural(n, said):
    """The surveys' errors said "1 NPS answers are not whole numbers", "1 CSAT answers outside the scale" and
    "1 answers have no account": one answer is "1 answer" and its verb agrees (and the example is 11, not
    "np.float64(11.0)")."""
    with pytest.raises(ValueError) as nps_error:
        nps([9, 10] + [11, 12][:n])
    assert str(nps_error.value).startswith(said)
    with pytest.raises(ValueError) as csat_error:
        satisfied([5, 4] + [6, 7][:n])
    assert str(csat_error.value).startswith(f"{n} CSAT answer{'s' if n > 1 else ''} outside the scale 1-5 (e.g. 6): ")
    with pytest.raises(ValueError) as cluster_error:
        nps([9, 10, 3, 7], clusters=["a", None, "b", None][:2 + n] + ["c"] * (2 - n))
    assert str(cluster_error.value) == f"{n} answer{' has' if n == 1 else 's have'} no account (cluster) id"
