"""Effect estimators with known answers: the randomised difference (Neyman variance, batches), CUPED, the sample
size, the doubly robust (AIPW) effect on the treated beside the naive comparison, trimming, clustering by
account, and the play log turned into units."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engage_models import effects as E
from engage_models._core.errors import DataError
from engage_models._core.stats import sigmoid


# ------------------------------------------------------------------------------------------ randomised
def test_the_randomised_difference_weights_batches_by_size_and_uses_the_neyman_variance():
    # batch a: treated 1,0,1,1 (mean 3/4, var 1/4), held out 0,0,1 (mean 1/3, var 1/3);
    # batch b: treated 0,0 (mean 0, var 0), held out 1,0 (mean 1/2, var 1/2); batch c has one held-out account
    y = [1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1]
    t = [1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    b = ["a"] * 7 + ["b"] * 4 + ["c"] * 3
    e = E.stratified_difference(y, t, b)
    wa, wb = 7 / 11, 4 / 11
    assert e.estimate == pytest.approx(wa * (3 / 4 - 1 / 3) + wb * (0 - 1 / 2))
    assert e.se == pytest.approx(math.sqrt(wa**2 * (1 / 4 / 4 + 1 / 3 / 3) + wb**2 * (0 / 2 + 1 / 2 / 2)))
    assert (e.n_treated, e.n_control, e.extra["batches"], e.extra["dropped"]) == (6, 5, 2, 3)
    assert e.ci_low == pytest.approx(e.estimate - 1.959964 * e.se, abs=1e-5)


def test_cuped_keeps_the_estimate_narrows_the_interval_and_both_cover_the_truth():
    """y = x + 0.3 treated + noise, x measured before a fair coin: over 300 experiments both intervals cover 0.3
    about 95% of the time, and CUPED's variance falls by about rho^2 = 1 / (1 + 0.5^2) = 0.8."""
    runs = 150
    rng = np.random.default_rng(11)
    cover = {"difference": 0, "cuped": 0}
    reductions, thetas = [], []
    for _ in range(runs):
        x = rng.normal(size=200)
        t = rng.random(200) < 0.5
        y = x + 0.3 * t + 0.5 * rng.normal(size=200)
        raw, adj = E.stratified_difference(y, t), E.cuped_difference(y, t, x)
        cover["difference"] += raw.ci_low <= 0.3 <= raw.ci_high
        cover["cuped"] += adj.ci_low <= 0.3 <= adj.ci_high
        reductions.append(adj.extra["variance_reduction"])
        thetas.append(adj.extra["theta"])
    assert 0.9 <= cover["difference"] / runs <= 0.99 and 0.9 <= cover["cuped"] / runs <= 0.99, cover
    assert np.mean(reductions) == pytest.approx(0.8, abs=0.03)
    assert np.mean(thetas) == pytest.approx(1.0, abs=0.03)


# ------------------------------------------------------------------------------------------------ power
def test_the_sample_size_is_the_textbook_one_and_gives_the_stated_power():
    # Fleiss: 15% against 10%, equal groups, 95% two-sided, 80% power: 683 per group (no continuity correction)
    assert E.sample_size(0.15, 0.05, share=0.5) == pytest.approx(2 * 683, abs=2)
    assert math.isnan(E.sample_size(0.03, 0.05)) and math.isnan(E.sample_size(0.15, 0.05, share=0))
    # simulated: with the accounts it asks for, a 20% holdout detects 20% -> 12% in about 80% of experiments
    n = math.ceil(E.sample_size(0.20, 0.08, share=0.2))
    n0 = round(0.2 * n)
    n1 = n - n0
    rng = np.random.default_rng(5)
    c0, c1 = rng.binomial(n0, 0.20, 20_000) / n0, rng.binomial(n1, 0.12, 20_000) / n1
    se = np.sqrt(c0 * (1 - c0) / n0 + c1 * (1 - c1) / n1)
    assert 0.78 <= np.mean(np.abs(c1 - c0) / se > 1.959964) <= 0.84  # the normal approximation, a bit cautious
    # the minimum detectable effect of those arms is about the effect planned for
    assert E.minimum_detectable_effect(0.16, n1, n0) == pytest.approx(0.08, rel=0.1)


# ---------------------------------------------------------------------------------------- observational
def _confounded(rng, n=2000, effect=-0.8):
    """Riskier accounts (higher x) get the play more often and churn more: the naive comparison is biased."""
    x = rng.normal(size=n)
    t = rng.random(n) < sigmoid(-0.5 + 1.2 * x)
    p0, p1 = sigmoid(-1.5 + x), sigmoid(-1.5 + x + effect)
    y = np.where(t, rng.random(n) < p1, rng.random(n) < p0).astype(float)
    return pd.DataFrame({"x": x}), t, y, float((p1 - p0)[t].mean())


def test_aipw_recovers_the_effect_on_the_treated_that_the_naive_comparison_misses():
    rng = np.random.default_rng(2)
    cover, err_dr, err_naive = 0, [], []
    runs = 20
    for seed in range(runs):
        X, t, y, truth = _confounded(rng)
        ids = np.arange(len(y))
        e, m0 = E.cross_fit(X, t, y, ids, folds=3, seed=seed)
        dr = E.att_aipw(y, t, e, m0, ids, trim=0.02)
        naive = E.naive_difference(y, t, ids)
        cover += dr.ci_low <= truth <= dr.ci_high
        err_dr.append(dr.estimate - truth)
        err_naive.append(naive.estimate - truth)
    assert np.mean(err_naive) > 0.08  # the play looks harmful when compared naively
    assert abs(np.mean(err_dr)) < 0.2 * np.mean(err_naive)  # the doubly robust estimate removes most of it
    assert cover >= 0.85 * runs, cover


def test_aipw_trims_and_counts_the_accounts_nobody_untreated_resembles():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0], float)
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    e = np.array([0.99, 0.97, 0.5, 0.4, 0.96, 0.3, 0.5, 0.2])
    m0 = np.full(8, 0.25)
    dr = E.att_aipw(y, t, e, m0, np.arange(8), trim=0.05)
    assert (dr.extra["trimmed_treated"], dr.extra["trimmed_control"], dr.n_treated, dr.n_control) == (2, 1, 2, 3)
    # kept: treated R = 0.75, -0.25 -> 0.25; controls w = 3/7, 1, 1/4 with R = 0.75, -0.25, -0.25
    w = np.array([0.3 / 0.7, 1.0, 0.25])
    assert dr.estimate == pytest.approx(0.25 - (w * [0.75, -0.25, -0.25]).sum() / w.sum())


def test_standard_errors_count_accounts_not_rows():
    rng = np.random.default_rng(4)
    y, t = rng.random(400) < 0.3, rng.random(400) < 0.5
    once = E.naive_difference(y, t, np.arange(400))
    twice = E.naive_difference(np.tile(y, 2), np.tile(t, 2), np.tile(np.arange(400), 2))  # each account twice
    as_rows = E.naive_difference(np.tile(y, 2), np.tile(t, 2), np.arange(800))
    assert twice.estimate == pytest.approx(once.estimate) and twice.se == pytest.approx(once.se)
    assert as_rows.se == pytest.approx(once.se / math.sqrt(2), rel=0.01)


# ------------------------------------------------------------------------------------------- the play log
def _world():
    dates = pd.date_range("2024-01-01", "2024-12-01", freq="MS", tz="UTC")
    accounts = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                             "start_date": pd.to_datetime(["2023-01-01"] * 3 + ["2024-06-15"], utc=True),
                             "end_date": pd.to_datetime(["2024-04-20", None, "2024-09-10", None], utc=True)})
    panel = pd.DataFrame([(a, d) for a in "abcd" for d in dates
                          if accounts.set_index("account_id").loc[a, "start_date"] <= d
                          and not (accounts.set_index("account_id").loc[a, "end_date"] <= d)],
                         columns=["account_id", "as_of"])
    scores = panel.assign(score=50.0 + 2 * panel["as_of"].dt.month, churn_probability=0.1, band="yellow")
    return accounts, panel, scores


def test_the_play_log_becomes_units_with_outcomes_counted_from_the_play_and_reasons_for_the_rest():
    accounts, panel, scores = _world()
    log = pd.DataFrame({
        "play_id": ["p1", "p2", "p3", "p4", "p5", "p6", "p7"],
        "account_id": ["a", "b", "b", "c", "d", "zz", "b"],
        "play": ["rescue_call"] * 4 + ["rescue_call", "rescue_call", "usage_tips"],
        "date": ["2024-02-10", "2024-02-10", "2024-07-01", "2024-06-20", "2024-06-01", "2024-03-01", "2024-10-20"],
        "status": ["done", "skipped", "done", "done", "done", "done", "done"],
        "holdout": [False, True, False, None, None, None, None],
    })
    units = E.play_units(log, accounts, panel, scores, as_of="2024-12-15", horizon_days=90)
    r = units.randomised.set_index("account_id")
    assert r.loc["a", "treated"] and not r.loc["b", "treated"]
    assert r.loc["a", "as_of"] == pd.Timestamp("2024-02-01", tz="UTC")  # the observation date before the play
    assert r.loc["a", "churned"] == 1.0 and r.loc["b", "churned"] == 0.0  # a ends 69 days after its play
    # b's follow-up is the last date within 90 days of 2024-02-10 (2024-05-01): score 60 - 54
    assert r.loc["b", "score_pre"] == 54.0 and r.loc["b", "score_change"] == 6.0
    reasons = units.excluded.set_index("play_id")["reason"]
    assert reasons["p3"] == E.units.REPEAT  # b's second randomised assignment: the first counts
    assert reasons["p5"] == E.units.NOT_CUSTOMER and reasons["p6"] == E.units.UNKNOWN_ACCOUNT
    assert reasons["p7"] == E.units.PENDING  # 90 days after 2024-10-20 is after 2024-12-15
    obs = units.observational
    treated = obs[obs["treated"]]
    assert treated["account_id"].tolist() == ["c"] and treated["churned"].iloc[0] == 1.0  # ends 82 days later
    # controls: the accounts at 2024-06-01 with no play done from 90 days before to the next date (d not yet)
    assert sorted(obs.loc[~obs["treated"], "account_id"]) == ["b"]


def test_a_bad_play_log_is_named_by_column_and_row():
    log = pd.DataFrame({"account_id": ["a", "b", "c"], "play": "x", "date": ["2024-01-01", "soon", "2024-01-03"],
                        "status": "done"})
    with pytest.raises(DataError, match=r"unreadable or empty date in row\(s\) 2"):
        E.check_play_log(log)
    with pytest.raises(DataError, match=r"status must be one of planned, done, skipped; rows 1 hold \['finished'\]"):
        E.check_play_log(log.assign(date="2024-01-01", status=["finished", "done", "done"]))
    with pytest.raises(DataError, match=r"missing column\(s\) status"):
        E.check_play_log(log.drop(columns="status"))


# ------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize("section, message", [
    ({"actions": {"holdout": "yes"}}, r"actions\.holdout"),
    ({"effects": {"trim": 0.6}}, r"effects\.trim in \[0, 0\.5\)"),
    ({"effects": {"min_per_arm": 1}}, r"effects\.min_per_arm and effects\.folds must be at least 2"),
])
def test_bad_holdout_and_effects_settings_are_named(section, message):
    from engage_models._core.errors import ConfigError
    from engage_models.pipeline import RunConfig

    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict({"data_dir": "data", **section})
    assert RunConfig.from_dict({"data_dir": "data", "actions": {"holdout": False}}).actions.holdout is False


def test_simulate_refuses_a_holdout_share_outside_0_to_1(tmp_path, capsys):
    from engage_models.cli import main

    assert main(["simulate", "--plays", "1.5", "--out", str(tmp_path / "raw")]) == 2
    assert "--plays: the holdout share lies in [0, 1), not 1.5" in capsys.readouterr().err


def test_a_band_is_called_clear_only_when_it_survives_the_false_discovery_correction():
    from engage_models.effects import views as ev

    base = {"play": "usage_tips", "design": "randomised", "outcome": "churned", "method": "cuped", "preferred": True,
            "status": "estimated", "n_treated": 100, "n_control": 100, "mean_control": 0.10, "estimate": -0.05,
            "se": 0.02, "ci_low": -0.089, "ci_high": -0.011, "mde": 0.056, "n_needed": np.nan}
    # three bands: one clear at p = 0.012, two with nothing; BH: 0.012 * 3 = 0.036 < 0.05 -> still clear
    rows = [{**base, "group": "all", "p_value": 0.012}, {**base, "group": "yellow", "p_value": 0.012},
            {**base, "group": "green", "estimate": 0.0, "ci_low": -0.04, "ci_high": 0.04, "p_value": 0.9},
            {**base, "group": "red", "estimate": 0.0, "ci_low": -0.04, "ci_high": 0.04, "p_value": 0.8}]
    e = pd.DataFrame(rows)
    e["q_value"] = E.measure.band_q_values(e)
    assert e["q_value"].round(3).tolist()[1:] == [0.036, 0.9, 0.9] and np.isnan(e["q_value"].iloc[0])
    yellow = next(e[e["group"] == "yellow"].itertuples())
    assert "cut 90-day churn among yellow accounts from 10% to 5%" in ev.sentence(yellow)
    # the same band among ten: 0.012 * 10 / 1 = 0.12 -> its interval excludes 0, but the report does not claim it
    many = pd.DataFrame(rows[:2] + [{**rows[2], "play": f"p{i}"} for i in range(9)])
    many["q_value"] = E.measure.band_q_values(many)
    yellow = next(many[many["group"] == "yellow"].itertuples())
    assert yellow.q_value == pytest.approx(0.12) and "no clear effect" in ev.sentence(yellow)
    assert "Benjamini-Hochberg" in ev.sentences(many, "en") and "補正" in ev.sentences(many, "ja")
    # a play's name is user text in a Markdown sentence: written so that it does nothing (report 06 ran a label's
    # <script>), in the sentences and in the executive summary's line
    hostile = pd.DataFrame([{**rows[0], "play": "call <script>x</script> [a](javascript:1)"}])
    for text in (ev.sentences(hostile, "en"), ev.summary_line(hostile, "en", 90, log_rows=10)):
        assert "<script" not in text and "](javascript" not in text and "&#60;script&#62;" in text, text


def _randomised_units(treated_dates: dict, control_dates: dict, churned=0.0, pre: float = 0.3) -> pd.DataFrame:
    rows = []
    for treated, dates in ((True, treated_dates), (False, control_dates)):
        for day, n in dates.items():
            for i in range(n):
                rows.append({"play": "usage_tips", "account_id": f"{'T' if treated else 'C'}{day}-{i}",
                             "as_of": pd.Timestamp(day, tz="UTC"), "treated": treated, "done": treated,
                             "churned": churned(i) if callable(churned) else churned, "score_change": np.nan,
                             "score_pre": 50.0 + i % 7, "churn_probability_pre": pre, "band": "yellow"})
    return pd.DataFrame(rows)


def test_a_small_holdout_says_what_was_logged_and_shows_no_number_it_cannot_stand_behind():
    """A randomised play logged with 80 treated and 2 held out on two dates: no assignment date has 2 accounts
    in each arm, so nothing counts; the report said '0 got it, 0 held out' and 'about — accounts'."""
    from engage_models.effects import views as ev
    from engage_models.effects.measure import _randomised

    units = _randomised_units({"2024-03-01": 40, "2024-04-01": 40}, {"2024-03-01": 1, "2024-04-01": 1},
                              churned=lambda i: float(i % 5 == 0))
    rows = pd.DataFrame(_randomised(units, min_per_arm=30, detect_points=5.0, power=0.8, level=0.95,
                                    outcomes=("churned",)))
    cuped = next(rows[(rows["method"] == "cuped") & (rows["group"] == "all")].itertuples())
    assert (cuped.status, cuped.n_treated, cuped.n_control) == ("too_few", 0, 0)
    assert (cuped.assigned_treated, cuped.assigned_control) == (80, 2)
    # the churn to plan on is the model's before the play (30%), not the 0 of an empty arm: a number, not "—"
    assert cuped.n_needed == pytest.approx(E.power.sample_size(0.3, 0.05, 2 / 82), rel=1e-9)
    text = ev.sentence(cuped)
    assert "(0 got it, 0 held out; randomised)" in text and "The log has 80 who got it and 2 held out" in text
    assert f"about {math.ceil(cuped.n_needed):,} accounts" in text and "—" not in text
    assert "記録上は実施80社" in ev.sentence(cuped, "ja")
    # where no plan can be computed the sentence ends with what each group needs
    assert ev.sentence(cuped._replace(n_needed=np.nan)).endswith("Each group needs at least 30 accounts.")


def test_estimates_on_too_few_accounts_or_without_variation_are_not_shown_as_numbers():
    from engage_models.effects import views as ev
    from engage_models.effects.measure import _randomised

    # 18 treated, 2 held out on one date: the estimate exists but stands on 2 accounts
    few = pd.DataFrame(_randomised(_randomised_units({"2024-03-01": 18}, {"2024-03-01": 2},
                                                     churned=lambda i: float(i % 3 == 0)),
                                   min_per_arm=30, detect_points=5.0, power=0.8, level=0.95, outcomes=("churned",)))
    # 40 and 40, nobody churned: estimate 0, standard error 0, an interval of (+0.0 to +0.0)
    flat = pd.DataFrame(_randomised(_randomised_units({"2024-03-01": 40}, {"2024-03-01": 40}, churned=0.0),
                                    min_per_arm=30, detect_points=5.0, power=0.8, level=0.95, outcomes=("churned",)))
    assert set(few["status"]) == {"too_few"} and set(flat["status"]) == {"no_variation"}
    # stored too: no interval on 2 accounts (a helper found -9.6 to -2.1 points kept for 1 treated account)
    assert few[["se", "ci_low", "ci_high", "p_value"]].isna().all().all()
    for rows in (few, flat):
        view = ev.effects_view(rows, "randomised")
        assert len(view) == 2  # all, yellow
        for col in ("effect (points)", "95% interval", "p-value"):
            col = next(c for c in view.columns if c.startswith(col.split(" ")[0]))
            assert (view[col] == "").all(), (col, view[col].tolist())
    without = next(c for c in ev.effects_view(few, "randomised").columns if c.startswith("churn without"))
    assert (ev.effects_view(few, "randomised")[without] == "").all()  # nor the rate without it, on 2 accounts
    # a doubly robust counterfactual past 0-100% is not printed as a churn rate (report 06 read 103% and -4%)
    odd = flat.assign(status="estimated", mean_control=1.026, estimate=-0.1)
    assert ev.effects_view(odd, "randomised")[without].tolist() == ["", ""]
    flat_row = next(flat[(flat["method"] == "cuped") & (flat["group"] == "all")].itertuples())
    assert "within each group every account had the same outcome (0% churned with the play, 0% without" in (
        ev.sentence(flat_row))
    assert ev.effects_view(flat, "randomised", "ja").iloc[0].tolist()[-1] == "群内で結果にばらつきなし"
    # the score-change table heads its columns with score changes (it said "churn without the play" over +4.7)
    scored = pd.DataFrame(_randomised(_randomised_units({"2024-03-01": 40}, {"2024-03-01": 40},
                                                        churned=lambda i: float(i % 4 == 0)),
                                      min_per_arm=30, detect_points=5.0, power=0.8, level=0.95,
                                      outcomes=("score_change",)))
    cols = ev.effects_view(scored, "randomised", outcome="score_change").columns
    assert "score change without the play (points)" in cols and not any(c.startswith("churn") for c in cols)
    assert "実施しない場合のスコア変化（点）" in ev.effects_view(scored, "randomised", "ja", outcome="score_change")
    # one outcome in each group but not the same one: no interval either, and the sentence says both rates
    split = pd.DataFrame(_randomised(_randomised_units({"2024-03-01": 40}, {"2024-03-01": 40},
                                                       churned=lambda i: 0.0) .assign(
        churned=lambda u: (~u["treated"]).astype(float)), min_per_arm=30, detect_points=5.0, power=0.8,
        level=0.95, outcomes=("churned",)))
    row = next(split[(split["method"] == "difference") & (split["group"] == "all")].itertuples())
    assert row.status == "no_variation" and row.estimate == -1.0
    assert "(0% churned with the play, 100% without" in ev.sentence(row)
    # the naive comparison beside the doubly robust one: each column shows its own number or its own status
    base = {"play": "rescue_call", "design": "observational", "outcome": "churned", "group": "all",
            "preferred": False, "n_treated": 60, "n_control": 300, "ci_low": -0.12, "ci_high": -0.02}
    obs = pd.DataFrame([{**base, "method": "naive", "status": "estimated", "estimate": -0.07},
                        {**base, "method": "aipw", "status": "too_few", "estimate": -0.01}])
    view = ev.naive_view(obs).iloc[0].tolist()
    assert view[1].startswith("-7.0") and view[2] == "too few accounts" and view[3] == ""


# --------------------------------------------------------------------------------------- the contract
def test_ingest_keeps_a_good_play_log_and_quarantines_an_unknown_status_and_a_done_play_in_the_future(tmp_path):
    from engage_models.ingest import contracts as C
    from engage_models.ingest import load
    from test_ingest import _run, _tables

    tables = _tables()
    tables["plays"] = [
        {"play_id": "P1", "account_id": "A1", "play": "Rescue_Call", "date": "2025-01-20", "owner": "csm",
         "status": "done", "holdout": "false", "note": "called, renewal discussed"},
        {"play_id": "P2", "account_id": "A2", "play": "rescue_call", "date": "2025-01-20", "owner": "csm",
         "status": "skipped", "holdout": "true", "note": ""},
        {"play_id": "P3", "account_id": "A1", "play": "usage_tips", "date": "2025-02-01", "owner": "csm",
         "status": "finished", "holdout": "", "note": ""},
        {"play_id": "P4", "account_id": "A1", "play": "usage_tips", "date": "2026-06-01", "owner": "csm",
         "status": "done", "holdout": "", "note": ""},
        {"play_id": "P5", "account_id": "A2", "play": "usage_tips", "date": "2026-06-01", "owner": "csm",
         "status": "planned", "holdout": "", "note": ""},  # a planned play may lie ahead
    ]
    report, processed = _run(tmp_path, tables)
    assert (report.tables["plays"].rows_kept, report.tables["plays"].rows_quarantined) == (3, 2)
    plays = load("plays", processed)
    assert plays["play_id"].tolist() == ["P1", "P2", "P5"] and plays["play"].iloc[0] == "rescue_call"
    assert plays["holdout"].tolist()[:2] == [False, True] and pd.isna(plays["holdout"].iloc[2])
    bad = load("plays", processed, quarantine=True).set_index("play_id")["reason"]
    assert bad["P3"] == C.UNKNOWN_PLAY_STATUS and bad["P4"] == C.PLAY_DONE_IN_FUTURE
    assert "plays" not in report.missing_optional  # NOW is 2026-01-01: a done play in June 2026 is ahead


@pytest.mark.parametrize("holdout, dates", [
    ([False, True], ["2024-02-10", "2024-02-10"]),    # holdout plays only
    ([None, None], ["2024-11-01", "2024-11-20"]),      # no-holdout plays whose 90 days have not passed
])
def test_a_log_with_no_measurable_no_holdout_play_gives_units_not_a_type_error(holdout, dates):
    """The demo's own plays, 14 months in: the effects stage raised "TypeError: Invalid comparison between
    dtype=datetime64[us, UTC] and ndarray" (no control, an untyped empty frame), and report 06 said there was no
    play log. The usual state for 90 days after each campaign."""
    accounts, panel, scores = _world()
    log = pd.DataFrame({"play_id": ["p1", "p2"], "account_id": ["a", "b"], "play": ["rescue_call"] * 2,
                        "date": dates, "status": ["done", "done"], "holdout": holdout})
    units = E.play_units(log, accounts, panel, scores, as_of="2024-12-15", horizon_days=90)
    assert units.observational.empty and str(units.observational["date"].dtype).startswith("datetime64")
    assert len(units.randomised) == (2 if holdout[0] is not None else 0)
    assert units.info["used"] + sum(units.info["excluded"].values()) == 2


def test_a_sample_size_that_cannot_be_given_says_why():
    """Report 06's sample-size table left the accounts needed empty for a play whose accounts churn at 4%: a fall
    of 5 points from there is below 0. It says so."""
    from engage_models.effects import views as ev

    design = pd.DataFrame({"play": ["exec_sponsor", "training"], "eligible": [200, 300], "share": [0.2, 0.2],
                           "expected_churn": [0.04, 0.20], "recommended": [200, 300], "must_act": [0, 0],
                           "held_out": [40, 60], "assigned": [160, 240]})
    view = ev.sample_size_view(design, detect_points=5.0)
    assert view["accounts needed"].tolist() == [
        "— (a fall of 5 points from 4% would be below 0: too little churn to test)", "3,013"]
    ja = ev.sample_size_view(design, detect_points=5.0, lang="ja")
    assert "0を下回る" in ja.iloc[0].tolist()[4]
