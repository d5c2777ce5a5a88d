"""The simulator: deterministic, streaming, and its files obey the stated truth."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engage_models.demo import comments as _comments
from engage_models.demo.simulator import FEATURES, SEGMENTS, SimConfig, simulate

TINY = SimConfig(n_accounts=80, months=4, seed=3)


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_bytes(tmp_path):
    simulate(TINY, out=tmp_path / "a")
    simulate(TINY, out=tmp_path / "b")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert set(a) >= {"accounts.csv", "users.csv", "subscriptions.csv", "events.parquet", "tickets.csv",
                      "touchpoints.parquet", "surveys.csv", "truth.json", "true_hazard.parquet"}
    assert a == b


def test_another_seed_gives_another_world(tmp_path):
    simulate(TINY, out=tmp_path / "a")
    simulate(TINY, out=tmp_path / "b", seed=4)
    assert _digests(tmp_path / "a")["events.parquet"] != _digests(tmp_path / "b")["events.parquet"]


def test_events_are_streamed_one_row_group_per_month(small_world, truth):
    meta = pq.ParquetFile(small_world / "raw" / "events.parquet").metadata
    months = truth["config"]["months"]
    assert meta.num_row_groups == months + 1  # + the planted defects
    assert meta.num_rows > 100_000


def test_hazard_column_is_the_stated_formula(small_world, truth):
    t = pd.read_parquet(small_world / "raw" / "true_hazard.parquet")
    acc = pd.read_csv(small_world / "raw" / "accounts.csv").drop_duplicates("account_id")
    t = t.merge(acc[["account_id", "segment", "start_date"]], on="account_id")
    c = truth["coefficients"]
    lp = (c["intercept"] + c["active_ratio"] * t.active_ratio + c["feature_breadth"] * t.feature_breadth
          + c["log1p_tickets"] * np.log1p(t.tickets) + c["nps_centered"] * t.nps_centered
          + t.segment.map(c["segment"]))
    np.testing.assert_allclose(t.linear_predictor, lp, rtol=0, atol=1e-12)
    at_risk = t.hazard > 0
    np.testing.assert_allclose(t.hazard[at_risk], 1 / (1 + np.exp(-lp[at_risk])), atol=1e-12)
    # before the minimum term nobody can churn
    month_end = t.month + pd.offsets.MonthBegin(1)
    tenure = (month_end - pd.to_datetime(t.start_date, utc=True)).dt.days / 30.44
    assert (t.hazard[tenure < truth["config"]["hazard"]["min_tenure_months"] - 0.01] == 0).all()


def test_realised_churn_matches_the_hazard(small_world, truth):
    """Churn events are Poisson-binomial with the stated hazards: the count sits within 4 sd of its mean."""
    t = pd.read_parquet(small_world / "raw" / "true_hazard.parquet")
    t = t[t.churned_next_month.notna()]
    expected, sd = t.hazard.sum(), math.sqrt((t.hazard * (1 - t.hazard)).sum())
    realised = int(t.churned_next_month.sum())
    assert abs(realised - expected) < 4 * sd, (realised, expected, sd)
    assert 0.015 < t.hazard.mean() < 0.06  # a B2B SaaS monthly churn level
    # riskier decile churns more than the safest one
    dec = pd.qcut(t.hazard.rank(method="first"), 5, labels=False)
    rates = t.churned_next_month.astype(float).groupby(dec).mean()
    assert rates.iloc[-1] > 3 * rates.iloc[0]


def test_churn_dates_follow_the_outcomes(small_world):
    t = pd.read_parquet(small_world / "raw" / "true_hazard.parquet")
    acc = pd.read_csv(small_world / "raw" / "accounts.csv", parse_dates=["end_date"]).drop_duplicates("account_id")
    churned = t[t.churned_next_month.fillna(False).astype(bool)]
    assert churned.account_id.is_unique
    ends = acc.set_index("account_id").end_date.dt.tz_localize("UTC")
    next_month = churned.month + pd.offsets.MonthBegin(1)
    got = ends.loc[churned.account_id].to_numpy()
    assert ((got >= next_month.to_numpy()) & (got < (next_month + pd.offsets.MonthBegin(1)).to_numpy())).all()
    assert acc.end_date.notna().sum() == len(churned)


def test_hazard_covariates_are_observable_in_the_written_tables(small_ingested):
    """active users, seats, breadth and tickets in true_hazard.parquet are recomputable from the data."""
    root, _ = small_ingested
    t = pd.read_parquet(root / "raw" / "true_hazard.parquet")
    ev = pd.read_parquet(root / "processed" / "events.parquet", columns=["account_id", "user_id", "timestamp",
                                                                            "event_type", "feature"])
    ev["month"] = ev.timestamp.dt.tz_localize(None).dt.to_period("M").dt.to_timestamp().dt.tz_localize("UTC")
    logins = ev[ev.event_type == "login"].groupby(["account_id", "month"]).user_id.nunique().rename("au")
    breadth = ev.dropna(subset=["feature"]).groupby(["account_id", "month"]).feature.nunique().rename("nf")
    tk = pd.read_parquet(root / "processed" / "tickets.parquet")
    tk["month"] = tk.opened_at.dt.tz_localize(None).dt.to_period("M").dt.to_timestamp().dt.tz_localize("UTC")
    tickets = tk.groupby(["account_id", "month"]).size().rename("nt")
    subs = pd.read_parquet(root / "processed" / "subscriptions.parquet")
    seats = subs.set_index(["account_id", "period_start"]).seats.rename("seats_obs")
    seats.index.names = ["account_id", "month"]
    m = t.set_index(["account_id", "month"]).join([logins, breadth, tickets, seats]).fillna({"au": 0, "nf": 0, "nt": 0})
    assert (m.active_users == m.au).all()
    assert (m.seats == m.seats_obs).all()
    np.testing.assert_allclose(m.feature_breadth, m.nf / len(FEATURES))
    assert (m.tickets == m.nt).all()


def test_logins_per_active_user_match_the_configured_rate(small_ingested, truth):
    """For users holding a seat the whole month: E[logins] = 1 + login_rate * exp(0.4 e) (within 3%)."""
    root, _ = small_ingested
    cfg = truth["config"]
    t = pd.read_parquet(root / "raw" / "true_hazard.parquet")
    users = pd.read_parquet(root / "processed" / "users.parquet")
    ev = pd.read_parquet(root / "processed" / "events.parquet", columns=["account_id", "user_id", "timestamp",
                                                                            "event_type"])
    ev = ev[ev.event_type == "login"]
    ev["month"] = ev.timestamp.dt.tz_localize(None).dt.to_period("M").dt.to_timestamp().dt.tz_localize("UTC")
    per_user = ev.groupby(["account_id", "month", "user_id"]).size().rename("logins").reset_index()
    per_user = per_user.merge(users[["user_id", "created_at", "deactivated_at"]], on="user_id")
    full = per_user.created_at <= per_user.month
    dea = pd.to_datetime(per_user.deactivated_at, utc=True)
    full &= dea.isna() | (dea >= per_user.month + pd.offsets.MonthBegin(1))
    # accounts alive the whole month are those with a true_hazard row whose start precedes the month
    acc = pd.read_parquet(root / "processed" / "accounts.parquet")
    tt = t.merge(acc[["account_id", "start_date"]], on="account_id")
    tt = tt[tt.start_date <= tt.month]
    d = per_user[full].merge(tt[["account_id", "month", "engagement"]], on=["account_id", "month"])
    expected = 1 + cfg["login_rate"] * cfg["events_scale"] * np.exp(0.4 * d.engagement)
    assert len(d) > 5000
    assert d.logins.sum() / expected.sum() == pytest.approx(1.0, abs=0.03)


def test_events_scale_is_a_size_knob(tmp_path):
    a = simulate(TINY, out=tmp_path / "a", inject_defects=False)
    b = simulate(TINY, out=tmp_path / "b", inject_defects=False, events_scale=3.0)
    ratio = b["tables"]["events"] / a["tables"]["events"]
    assert 2.3 < ratio < 3.2  # logins have a floor of one per active user, so a bit under 3


def test_accounts_have_segments_plans_and_mrr_movements(small_world):
    acc = pd.read_csv(small_world / "raw" / "accounts.csv")
    assert set(acc.segment) == set(SEGMENTS)
    assert (pd.to_datetime(acc.start_date) < "2024-01-01").mean() == pytest.approx(0.6, abs=0.02)
    subs = pd.read_csv(small_world / "raw" / "subscriptions.csv")
    subs = subs[subs.mrr >= 0].sort_values(["account_id", "period_start"])
    change = subs.groupby("account_id").mrr.diff().dropna()
    assert (change > 0).sum() > 10 and (change < 0).sum() > 10  # expansion and contraction both happen


def test_survey_comments_fit_the_score_and_language(small_world):
    s = pd.read_csv(small_world / "raw" / "surveys.csv")
    s = s[s.comment.notna() & s.score.between(0, 10)]
    bank = {(lang, cat): {text for _, text in _comments.comment_bank(lang, cat)}
            for lang in ("en", "ja") for cat in ("positive", "neutral", "negative")}
    nps = s[s.survey_type == "nps"]
    cat = np.select([nps.score >= 9, nps.score >= 7], ["positive", "neutral"], "negative")
    assert all(c in bank[(lang, k)] for c, lang, k in zip(nps.comment, nps.lang, cat, strict=False))
    acc = pd.read_csv(small_world / "raw" / "accounts.csv").drop_duplicates("account_id").set_index("account_id")
    assert (s.lang == np.where(acc.country.loc[s.account_id] == "JP", "ja", "en")).all()
    assert {"nps", "csat"} == set(s.survey_type)
    assert {"periodic", "ticket_close", "onboarding", "annual"} <= set(s.trigger)


def test_japanese_respondents_answer_in_japan_time(small_world):
    s = pd.read_csv(small_world / "raw" / "surveys.csv")
    ja = s[(s.lang == "ja") & s.submitted_at.str.len().eq(25)]
    assert len(ja) and ja.submitted_at.str.endswith("+09:00").all()
    assert s[s.lang == "en"].submitted_at.dropna().str.endswith("Z").mean() > 0.99


def test_planted_defects_are_recorded(truth):
    d = truth["injected_defects"]
    assert d["events"] == {"negative duration_s": 5, "unknown account_id": 5, "timestamp in the future": 3}
    assert d["surveys"]["nps score outside 0-10"] == 3


def test_rejects_a_world_too_small(tmp_path):
    import subprocess
    import sys

    with pytest.raises(ValueError, match="at least 10 accounts"):
        simulate(out=tmp_path, n_accounts=3)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "simulate", "--accounts", "8", "--months", "3",
                           "--out", str(tmp_path / "w")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # one line, as for any input a user can fix
    assert proc.stderr.strip() == ("engage simulate: error: simulate needs at least 10 accounts and 1 month "
                                   "(--accounts 8, --months 3)")
