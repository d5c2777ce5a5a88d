"""Randomised holdouts in the action list: known probabilities, strata, must-act accounts, the playbook's rules."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from engage_models import actions as A


def plan(n_per_stratum=(7, 13), play="usage_tips", **extra) -> pd.DataFrame:
    """An action list of one play over two strata (green/tech-touch and yellow/low-touch)."""
    rows = []
    for k, (band, touch) in zip(n_per_stratum, (("green", "tech_touch"), ("yellow", "low_touch")), strict=False):
        rows += [{"account_id": f"{band[0]}{i:03d}", "play": play, "band": band, "touch_model": touch, "mrr": 100.0,
                  "ltv": np.nan, "churn_probability": 0.1} for i in range(k)]
    df = pd.DataFrame(rows)
    for k, v in extra.items():
        df[k] = v
    return df


def _book(tmp_path, change) -> str:
    data = copy.deepcopy(yaml.safe_load(A.DEFAULT_PLAYBOOK.read_text(encoding="utf-8")))
    change(data)
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_every_account_is_held_out_with_the_plays_share_and_each_stratum_holds_out_floor_or_ceil():
    """Systematic sampling from a hashed order with a hashed start: over seeds, each account's frequency of
    being held out is the share (0.1 for usage_tips), and a stratum of 7 or 13 holds out 0-1 or 1-2, never
    a lump."""
    df = plan()
    seeds = range(1500)
    held = np.zeros(len(df))
    book = A.load_playbook()  # parsed once: the loop then takes a few seconds
    for seed in seeds:
        out = A.assign_holdout(df, book, seed=seed)
        h = out["assignment"].eq(A.HELD_OUT).to_numpy()
        per = out[h].groupby("holdout_stratum").size().reindex(["green/tech_touch", "yellow/low_touch"], fill_value=0)
        assert per.iloc[0] in (0, 1) and per.iloc[1] in (1, 2)
        held += h
    freq = held / len(seeds)
    # binomial sd of a frequency of 0.1 over 1500 seeds: 0.0077; 4 sd
    assert np.abs(freq - 0.1).max() < 0.031, freq
    assert abs(freq.mean() - 0.1) < 0.004  # expected held out per seed: 0.7 + 1.3 = 2 of 20
    assert out["holdout_share"].eq(0.1).all()


def test_the_draw_is_reproducible_and_ignores_row_order_but_not_the_seed():
    df = plan((30, 30))
    a = A.assign_holdout(df, seed=7)
    b = A.assign_holdout(df.iloc[::-1].reset_index(drop=True), seed=7)
    held_a = set(a.loc[a["assignment"] == A.HELD_OUT, "account_id"])
    assert held_a == set(b.loc[b["assignment"] == A.HELD_OUT, "account_id"]) and len(held_a) == 6
    others = [set(A.assign_holdout(df, seed=s).query("assignment == 'held_out'")["account_id"]) for s in (8, 9)]
    assert all(o != held_a for o in others)
    assert A.stable_uniform(7, "usage_tips", "g001") == A.stable_uniform(7, "usage_tips", "g001")


def test_must_act_accounts_are_never_held_out_and_no_seed_means_no_holdout():
    df = plan((40, 0), band="red", touch_model="high_touch")
    df.loc[:19, "mrr"] = 2500.0  # the largest red accounts: the default playbook's first must-act rule
    df["play"] = "rescue_call"
    for seed in range(30):
        out = A.assign_holdout(df, seed=seed)
        assert out.loc[:19, "must_act"].all() and not out.loc[20:, "must_act"].any()
        assert out.loc[:19, "assignment"].eq(A.ASSIGNED).all() and out.loc[:19, "holdout_share"].eq(0).all()
        assert out.loc[20:, "assignment"].eq(A.HELD_OUT).sum() == 2  # 10% of the 20 others
    none = A.assign_holdout(df, seed=None)
    assert none["assignment"].eq(A.ASSIGNED).all() and none["must_act"].sum() == 20
    assert none.attrs["holdout"]["must_act"]["en"][0] == "band = red and MRR ≥ $2,000"


def test_plays_without_a_share_are_never_held_out_and_a_playbook_sets_its_own(tmp_path):
    df = plan((50, 50), play="support_review")
    assert A.assign_holdout(df, seed=1)["assignment"].eq(A.ASSIGNED).all()
    path = _book(tmp_path, lambda d: d["holdout"].update(share=0.2))
    out = A.assign_holdout(df, path, seed=1)
    assert out["assignment"].eq(A.HELD_OUT).sum() == 20 and out["holdout_share"].eq(0.2).all()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["plays"]["fallback"][3].update(holdout=0.6), r"plays\.fallback\[3\] \(usage_tips\)\.holdout: a "
                                                             r"holdout share is a number from 0 to 0\.5"),
    (lambda d: d["holdout"].update(share="ten percent"), r"holdout\.share: a holdout share is a number"),
    (lambda d: d["holdout"].update(must_act=[[]]), r"holdout\.must_act\[0\]: a must-act rule needs at least one"),
    (lambda d: d["holdout"].update(must_act=[["arr >= 5"]]), r"holdout\.must_act\[0\]: condition 'arr >= 5' uses "
                                                             r"unknown column 'arr'"),
    (lambda d: d["holdout"].update(strata=["band"]), r"holdout: expected \{share: S, must_act"),
])
def test_a_bad_holdout_entry_is_named(tmp_path, change, message):
    with pytest.raises(A.PlaybookError, match=message):
        A.load_playbook(_book(tmp_path, change))


def test_the_action_list_records_the_assignment_and_the_export_carries_it(tmp_path):
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    scored = pd.DataFrame({"account_id": [f"a{i:02d}" for i in range(40)], "as_of": as_of, "mrr": 100.0,
                           "seats": 10, "tenure_days": 400, "score": 80.0, "band": "green",
                           "churn_probability": 0.05, "nps_latest": 8.0, "active_user_ratio_28d": 0.8,
                           "feature_breadth_28d": 0.7, "drivers": [[] for _ in range(40)]})
    plain = A.action_list(scored)
    assert plain["play"].eq("usage_tips").all() and plain["assignment"].eq(A.ASSIGNED).all()
    drawn = A.action_list(scored, holdout_seed=3)
    assert drawn["assignment"].eq(A.HELD_OUT).sum() == 4
    paths = A.export_actions(drawn, tmp_path / "actions")
    back = A.read_actions(paths["csv"])
    assert back["assignment"].tolist() == drawn["assignment"].tolist()
    design = A.holdout_design(drawn)
    assert design.iloc[0][["play", "recommended", "must_act", "eligible", "held_out", "assigned"]].tolist() == [
        "usage_tips", 40, 0, 40, 4, 36]
    assert design.iloc[0]["expected_churn"] == pytest.approx(0.05) and design.iloc[0]["strata"] == 1


def test_the_crm_files_give_held_out_accounts_no_task_and_no_play(tmp_path):
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    scored = pd.DataFrame({"account_id": [f"a{i:02d}" for i in range(40)], "as_of": as_of, "mrr": 100.0,
                           "seats": 10, "tenure_days": 400, "score": 30.0, "band": "red",
                           "churn_probability": 0.4, "nps_latest": 8.0, "active_user_ratio_28d": 0.2,
                           "feature_breadth_28d": 0.7, "drivers": [[] for _ in range(40)]})
    plan = A.action_list(scored, holdout_seed=3)
    held = set(plan.loc[plan["assignment"] == A.HELD_OUT, "account_id"])
    assert len(held) == 4 and plan["owner"].eq("csm").all()  # training sessions, a person's task each
    files = A.export_crm(plan, tmp_path, model_id="m1")
    from engage_models._core.io import read_csv

    tasks = read_csv(files["hubspot_tasks"])
    assert len(tasks) == 36 and not held & set(tasks["engage_account_id"])
    companies = read_csv(files["hubspot_companies"]).set_index("engage_account_id")
    assert len(companies) == 40 and companies.loc[sorted(held), "engage_next_play"].fillna("").eq("").all()
    assert companies.drop(index=sorted(held))["engage_next_play"].ne("").all()
