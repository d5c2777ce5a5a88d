"""Personas and milestones recovered from a simulated world in which they were planted
(``SimConfig(personas=True)``: :mod:`engage_models.demo.journeys`)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score

from engage_models.demo.journeys import PERSONAS, PLANTED_MILESTONES
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.features.panel import build_panel
from engage_models.ingest import ingest
from engage_models.journeys import milestones as MS
from engage_models.journeys import personas as PS

#: 1,000 accounts over 18 months: about 400 start inside the data (the milestones' accounts).
WORLD = SimConfig(n_accounts=1000, months=18, seed=3, personas=True, devices=True, prepurchase=True)


@pytest.fixture(scope="module")
def persona_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("personas-world")
    simulate(WORLD, out=root / "raw")
    ingest(root / "raw", root / "processed")
    return root


@pytest.mark.slow
def test_clustering_recovers_the_planted_personas(persona_world):
    panel = build_panel(persona_world / "processed")
    last = panel[(panel["as_of"] == panel["as_of"].max()) & (panel["tenure_days"] >= 90)]
    truth = pd.read_parquet(persona_world / "raw" / "true_personas.parquet").set_index("account_id")["persona"]
    model = PS.PersonaModel(k_range=(2, 6), n_bootstrap=10).fit(last, groups=last["account_id"])
    ari = adjusted_rand_score(truth.reindex(last["account_id"]).to_numpy(), model.labels_)
    # the four planted personas (PERSONAS) are found as four clusters, ARI 0.81 measured (seed 3); 0.6 required.
    # On other seeds of this world the number can be three (seeds 1 and 4: ARI 0.66 and 0.64; seeds 0, 2, 5:
    # four, 0.83, 0.80, 0.67): the seed-free test is test_persona_recovery_does_not_depend_on_the_seed
    assert model.n_personas_ == len(PERSONAS) == 4
    assert ari >= 0.6, ari
    # each persona's largest cluster is a different one, and words say what the planted behaviour was
    table = pd.crosstab(truth.reindex(last["account_id"]).to_numpy(), model.labels_)
    assert table.idxmax(axis=1).is_unique
    prof = PS.profile(last, pd.Series(model.labels_, index=last.index), model.metrics_)
    high = {name: {d["metric"] for d in PS.distinctive(prof, int(table.loc[name].idxmax())) if d["direction"] == "high"}
            for name in table.index}
    assert "exports_per_user_90d" in high["analysts"]
    assert "community_posts_per_user_90d" in high["community"]


@pytest.mark.slow
def test_landmark_finds_the_milestone_that_keeps_customers_and_not_the_one_that_does_nothing(persona_world):
    """``onboarding_completed`` within 30 days lowers the monthly churn log-odds by 0.9; ``profile_completed``
    is reached the same way and does nothing (PLANTED_MILESTONES)."""
    assert {m.event_type: m.hazard for m in PLANTED_MILESTONES} == {"onboarding_completed": -0.9,
                                                                     "profile_completed": 0.0}
    processed = persona_world / "processed"
    accounts = pd.read_parquet(processed / "accounts.parquet")
    data_start, as_of = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-07-01", tz="UTC")
    obs = MS.observed_accounts(accounts, data_start, as_of)
    # the built-in onboarding milestone, and one of one's own for the planted placebo
    declared = MS.registry(extra=[MS.Milestone("profile_completed", "events", {"event_type": "profile_completed"},
                                               label={"en": "profile completed", "ja": "プロフィール入力完了"})])
    declared = [m for m in declared if m.name in ("onboarding_completed", "profile_completed")]
    times, skipped = MS.milestone_times(processed, declared, as_of)
    assert skipped == {}
    # the times reached are the planted ones (days after the start, to the second)
    planted = pd.read_parquet(persona_world / "raw" / "true_personas.parquet").set_index("account_id")
    got = times[times["milestone"] == "onboarding_completed"].merge(obs[["account_id", "start_date"]])
    days = (got["reached_at"] - got["start_date"]).dt.total_seconds() / 86_400
    assert (days.to_numpy() - planted.loc[got["account_id"], "onboarding_completed_days"].to_numpy()).max() < 1e-4
    table, _, left_out = MS.landmark_analysis(times, obs, declared, 30, as_of, 12.0)
    assert left_out == {} and (table["at_months"] == 12.0).all()  # both groups of each still followed then
    r = table.set_index("milestone")
    assert r.loc["onboarding_completed", "p_value"] < 0.01 and r.loc["onboarding_completed", "difference"] > 0.1
    assert r.loc["profile_completed", "p_value"] > 0.2 and abs(r.loc["profile_completed", "difference"]) < 0.05


#: The recovery over seeds: 400 accounts over 12 months (about 240 accounts with 90 days of tenure at the last
#: date). Measured on seeds 0 to 9: four personas chosen on 4 seeds, three on 5 (shelfware and mobile_light
#: merged: the silhouette of 3 and 4 clusters are within 0.02 of each other), five on 1; adjusted Rand index
#: 0.58 to 0.85 (k-means forced to 4 clusters: 0.67 to 0.77). Neither clipping the z-scores, a quantile
#: scaling, Ward linkage, a Gaussian mixture nor the gap statistic, Calinski-Harabasz or BIC as the criterion
#: did better on these worlds, so the test states what the method gives rather than what one seed gave.
SEED_WORLD = dict(n_accounts=400, months=12, personas=True)
MIN_SEED_ARI = 0.55


def _recovery_on_seed(seed, root):
    simulate(SimConfig(seed=seed, **SEED_WORLD), out=root / "raw")
    ingest(root / "raw", root / "processed")
    panel = build_panel(root / "processed")
    last = panel[(panel["as_of"] == panel["as_of"].max()) & (panel["tenure_days"] >= 90)]
    truth = pd.read_parquet(root / "raw" / "true_personas.parquet").set_index("account_id")["persona"]
    kinds = truth.reindex(last["account_id"]).to_numpy()
    model = PS.PersonaModel(k_range=(2, 6), n_bootstrap=10).fit(last, groups=last["account_id"])
    return model, kinds, adjusted_rand_score(kinds, model.labels_)


def _check_seed(model, kinds, ari):
    assert 3 <= model.n_personas_ <= 5, model.selection_
    assert ari >= MIN_SEED_ARI, ari
    # the two personas that stand out (heavy exports; community) each have a cluster of their own
    table = pd.crosstab(kinds, model.labels_)
    home = table.idxmax(axis=1)
    assert home["analysts"] != home["community"]
    assert home["analysts"] not in {home["shelfware"], home["mobile_light"]}
    assert home["community"] not in {home["shelfware"], home["mobile_light"]}


@pytest.mark.parametrize("seed", range(5))
def test_persona_recovery_does_not_depend_on_the_seed(seed, tmp_path):
    _check_seed(*_recovery_on_seed(seed, tmp_path))


@pytest.mark.slow
@pytest.mark.extended  # five more seeds of the persona recovery every run checks
@pytest.mark.parametrize("seed", range(5, 10))
def test_persona_recovery_on_more_seeds(seed, tmp_path):
    _check_seed(*_recovery_on_seed(seed, tmp_path))


def _digests(folder, skip=()):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.name not in skip}


def test_devices_and_touches_before_the_start_leave_the_rest_of_the_world_as_it_was(tmp_path):
    """They draw from random streams of their own: switched on, every other table is byte for byte the same
    and events gain only a column; switched off (the default), truth.json does not mention them."""
    base = SimConfig(n_accounts=80, months=5, seed=3)
    simulate(base, out=tmp_path / "off")
    simulate(base, out=tmp_path / "on", devices=True, prepurchase=True)
    off, on = tmp_path / "off", tmp_path / "on"
    same = ("accounts.csv", "users.csv", "subscriptions.csv", "tickets.csv", "surveys.csv", "true_hazard.parquet")
    assert {k: v for k, v in _digests(off).items() if k in same} == {k: v for k, v in _digests(on).items() if k in same}
    ev_off, ev_on = pq.read_table(off / "events.parquet").to_pandas(), pq.read_table(on / "events.parquet").to_pandas()
    pd.testing.assert_frame_equal(ev_off, ev_on.drop(columns="device"))
    assert set(ev_on["device"]) == {"desktop", "mobile", "tablet"}
    tp_on = pq.read_table(on / "touchpoints.parquet").to_pandas()
    pre = tp_on["channel"].isin(["content_read", "material_request", "trial"])
    tp_off = pq.read_table(off / "touchpoints.parquet").to_pandas()
    assert len(tp_on) - pre.sum() == len(tp_off)
    starts = pd.read_csv(on / "accounts.csv").drop_duplicates("account_id").set_index("account_id")["start_date"]
    first = pd.to_datetime(tp_on.loc[pre, "account_id"].map(starts), utc=True)
    assert (tp_on.loc[pre, "timestamp"] < first).all()  # touches before the contract start
    assert "devices" not in json.loads((off / "truth.json").read_text(encoding="utf-8"))["config"]
    assert json.loads((on / "truth.json").read_text(encoding="utf-8"))["config"]["devices"] is True


def test_simulate_personas_on_the_command_line_turns_the_three_additions_on(tmp_path, capsys):
    from engage_models.cli import main

    assert main(["simulate", "--personas", "--accounts", "30", "--months", "3", "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))["config"]
    assert (config["personas"], config["devices"], config["prepurchase"]) == (True, True, True)
    planted = pd.read_parquet(tmp_path / "true_personas.parquet")
    assert len(planted) == 30 and set(planted["persona"]) <= {p.name for p in PERSONAS}
