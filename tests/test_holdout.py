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


def _expected(ids, play, share, seed) -> set:
    """The known answer: the accounts whose hash of (seed, play, account) falls below the share."""
    return {a for a in ids if A.stable_uniform(seed, play, a) < share}


def test_every_account_is_held_out_with_the_plays_share_independently_of_the_others():
    """Over seeds each account's frequency of being held out is the share (0.1 for usage_tips), and two accounts
    are held out together with frequency share squared (independent draws)."""
    df = plan()
    seeds = range(1500)
    held = np.zeros(len(df))
    both = 0
    book = A.load_playbook()  # parsed once: the loop then takes a few seconds
    for seed in seeds:
        out = A.assign_holdout(df, book, seed=seed)
        h = out["assignment"].eq(A.HELD_OUT).to_numpy()
        assert set(out.loc[h, "account_id"]) == _expected(df["account_id"], "usage_tips", 0.1, seed)
        held += h
        both += h[0] and h[-1]
    freq = held / len(seeds)
    # binomial sd of a frequency of 0.1 over 1500 seeds: 0.0077; 4 sd
    assert np.abs(freq - 0.1).max() < 0.031, freq
    assert abs(freq.mean() - 0.1) < 0.006
    assert both / len(seeds) < 0.025  # 0.01 expected; systematic sampling in one stratum would give about 0
    assert out["holdout_share"].eq(0.1).all() and out["assignment"].isin([A.HELD_OUT, A.ASSIGNED]).all()


def test_an_account_keeps_its_arm_when_its_stratum_changes_around_it():
    """The draw depends only on the seed, the play and the account: accounts joining or leaving the play's list,
    or the account's own band and touch model changing, move nobody between arms (a systematic sample over a
    stratum's hashed order moved accounts whose neighbours changed), and a larger share keeps those held out at
    the smaller one."""
    week1 = plan((60, 60))
    a = A.assign_holdout(week1, seed=5).set_index("account_id")["assignment"]
    for k in range(1, 40):  # week 2: k accounts leave, k new ones join, one account changes band
        week2 = pd.concat([week1.iloc[k:], plan((k, 0)).assign(account_id=lambda d: "n" + d["account_id"])])
        week2.loc[week2["account_id"] == "y010", ["band", "touch_model"]] = ["green", "tech_touch"]
        b = A.assign_holdout(week2.reset_index(drop=True), seed=5).set_index("account_id")["assignment"]
        common = a.index.intersection(b.index)
        assert len(common) == 120 - k and (a[common] == b[common]).all(), k


def test_a_larger_share_keeps_the_accounts_held_out_at_the_smaller(tmp_path):
    df = plan((50, 50), play="support_review")  # no share of its own: the playbook's default applies
    held = {}
    for share in (0.1, 0.25):
        book = _book(tmp_path, lambda d, share=share: d["holdout"].update(share=share))
        out = A.assign_holdout(df, book, seed=2)
        held[share] = set(out.loc[out["assignment"] == A.HELD_OUT, "account_id"])
        assert held[share] == _expected(df["account_id"], "support_review", share, 2)
    assert held[0.1] < held[0.25] and len(held[0.1]) >= 3


def test_must_act_accounts_are_never_held_out_and_no_seed_means_no_holdout():
    df = plan((40, 0), band="red", touch_model="high_touch")
    df.loc[:19, "mrr"] = 2500.0  # the largest red accounts: the default playbook's first must-act rule
    df["play"] = "rescue_call"
    for seed in range(30):
        out = A.assign_holdout(df, seed=seed)
        assert out.loc[:19, "must_act"].all() and not out.loc[20:, "must_act"].any()
        # not drawn: copied to the play log as no randomised arm (chosen for their risk, they would bias it)
        assert out.loc[:19, "assignment"].eq(A.NOT_DRAWN).all() and out.loc[:19, "holdout_share"].eq(0).all()
        assert set(out.loc[out["assignment"] == A.HELD_OUT, "account_id"]) == _expected(
            df.loc[20:, "account_id"], "rescue_call", 0.1, seed)
        assert out.loc[20:, "assignment"].isin([A.HELD_OUT, A.ASSIGNED]).all()
    none = A.assign_holdout(df, seed=None)
    assert none["assignment"].eq(A.NOT_DRAWN).all() and none["must_act"].sum() == 20
    assert none.attrs["holdout"]["must_act"]["en"][0] == "band = red and MRR ≥ $2,000"


def test_plays_without_a_share_are_never_held_out_and_a_playbook_sets_its_own(tmp_path):
    df = plan((50, 50), play="support_review")
    assert A.assign_holdout(df, seed=1)["assignment"].eq(A.NOT_DRAWN).all()
    path = _book(tmp_path, lambda d: d["holdout"].update(share=0.2))
    out = A.assign_holdout(df, path, seed=1)
    held = set(out.loc[out["assignment"] == A.HELD_OUT, "account_id"])
    assert held == _expected(df["account_id"], "support_review", 0.2, 1) and 10 <= len(held) <= 30
    assert out["holdout_share"].eq(0.2).all()


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
    assert plain["play"].eq("usage_tips").all() and plain["assignment"].eq(A.NOT_DRAWN).all()
    drawn = A.action_list(scored, holdout_seed=3)
    held = _expected(scored["account_id"], "usage_tips", 0.1, 3)
    assert set(drawn.loc[drawn["assignment"] == A.HELD_OUT, "account_id"]) == held and len(held) == 2
    paths = A.export_actions(drawn, tmp_path / "actions")
    back = A.read_actions(paths["csv"])
    assert back["assignment"].tolist() == drawn["assignment"].tolist()
    design = A.holdout_design(drawn)
    assert design.iloc[0][["play", "recommended", "must_act", "eligible", "held_out", "assigned", "not_drawn"]
                          ].tolist() == ["usage_tips", 40, 0, 40, 2, 38, 0]
    assert design.iloc[0]["expected_churn"] == pytest.approx(0.05) and design.iloc[0]["strata"] == 1


def test_the_crm_files_give_held_out_accounts_no_task_and_no_play(tmp_path):
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    scored = pd.DataFrame({"account_id": [f"a{i:02d}" for i in range(40)], "as_of": as_of, "mrr": 100.0,
                           "seats": 10, "tenure_days": 400, "score": 30.0, "band": "red",
                           "churn_probability": 0.4, "nps_latest": 8.0, "active_user_ratio_28d": 0.2,
                           "feature_breadth_28d": 0.7, "drivers": [[] for _ in range(40)]})
    plan = A.action_list(scored, holdout_seed=3)
    held = set(plan.loc[plan["assignment"] == A.HELD_OUT, "account_id"])
    assert held == _expected(scored["account_id"], plan["play"].iloc[0], 0.1, 3) and len(held) == 5
    assert plan["owner"].eq("csm").all()  # training sessions, a person's task each
    files = A.export_crm(plan, tmp_path, model_id="m1")
    from engage_models._core.io import read_csv

    tasks = read_csv(files["hubspot_tasks"])
    assert len(tasks) == 35 and not held & set(tasks["engage_account_id"])
    companies = read_csv(files["hubspot_companies"]).set_index("engage_account_id")
    assert len(companies) == 40 and companies.loc[sorted(held), "engage_next_play"].fillna("").eq("").all()
    assert companies.drop(index=sorted(held))["engage_next_play"].ne("").all()


def test_the_design_counts_the_accounts_given_a_play_without_a_draw_apart():
    """A review: the design said "assigned 37" where the action list said 27 assigned and 10 not_drawn (must-act
    accounts, a play without a holdout): report 06 now shows them apart, as the list does."""
    from engage_models.effects import views as ev

    df = pd.concat([plan((40, 0), band="red", touch_model="high_touch").assign(play="rescue_call"),
                    plan((0, 10), play="support_review")], ignore_index=True)
    df.loc[:4, "mrr"] = 2500.0  # five must-act accounts among the rescue calls
    out = A.assign_holdout(df, seed=4)
    counts = out.groupby("play")["assignment"].value_counts().unstack(fill_value=0)
    design = A.holdout_design(out).set_index("play")
    for play in ("rescue_call", "support_review"):
        row, c = design.loc[play], counts.loc[play]
        assert (row["held_out"], row["assigned"], row["not_drawn"]) == (
            c.get(A.HELD_OUT, 0), c.get(A.ASSIGNED, 0), c.get(A.NOT_DRAWN, 0))
        assert row["held_out"] + row["assigned"] + row["not_drawn"] == row["recommended"]
    assert design.loc["rescue_call", "not_drawn"] == design.loc["rescue_call", "must_act"] == 5
    assert design.loc["support_review", "not_drawn"] == 10 and design.loc["support_review", "assigned"] == 0
    view = ev.design_view(design.reset_index())
    assert view["given the play without a draw"].tolist() == [str(design.loc[p, "not_drawn"]) for p in design.index]
