"""Recovery of the simulator's known play effects, over repeated seeds (slow: CI runs it).

Each seed simulates a small world with plays (:mod:`engage_models.demo.plays`): the first two campaigns (of
four) hold out half of the accounts a rule picks (randomised), the later ones hold out no one (observational;
the rules follow risk, so the naive comparison is biased). Pipeline-free: the play log goes through
:func:`engage_models.effects.play_units` and :func:`engage_models.effects.measure_effects` on a panel of the
campaign dates carrying what the simulated team looked at (active users / seats over the last 28 days, and a
pre-period score from the hazard formula on the same measurements). ``play_truth.parquet`` gives both potential
outcomes of every account, so the true effect on the very accounts measured is known exactly (for the
observational estimate, the treated left after trimming: it describes those).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engage_models import effects as E
from engage_models.demo.plays import PlaySettings, potential_outcomes
from engage_models.demo.simulator import SimConfig, simulate

H = 90
SEEDS = range(20)
PLAYS = ("rescue_call", "training_session", "usage_tips")


def one_world(seed: int, root) -> list[dict]:
    out = root / f"w{seed}"
    cfg = SimConfig(n_accounts=700, months=21, seed=seed, inject_defects=False, events_scale=0.5,
                    plays=PlaySettings(holdout=0.5, holdout_campaigns=(0, 1)))
    simulate(cfg, out=out)
    truth = pd.read_parquet(out / "play_truth.parquet")
    log = pd.read_csv(out / "plays.csv")
    log["holdout"] = log["holdout"].map({True: True, False: False, "True": True, "False": False})
    accounts = pd.read_csv(out / "accounts.csv")
    panel = truth.rename(columns={"date": "as_of", "active_ratio_28d": "active_user_ratio_28d"})[
        ["account_id", "as_of", "active_user_ratio_28d"]]
    scores = truth.rename(columns={"date": "as_of"}).assign(score=lambda d: 50 - 10 * d["risk_signal"],
                                                            churn_probability=np.nan, band="yellow")
    as_of = truth["date"].max() + pd.Timedelta(days=H)
    units = E.play_units(log, accounts, panel, scores, as_of=as_of, horizon_days=H)
    effects, overlap = E.measure_effects(units, panel, min_per_arm=10, folds=3, seed=seed, outcomes=("churned",))
    effects = effects[effects["group"] == "all"].set_index(["play", "design", "method"])
    rnd_dates = sorted(truth["date"].unique())[:2]
    rows = []
    for play in PLAYS:
        po = potential_outcomes(truth, play, H)
        picked = po[(po["play"] == play) & po["date"].isin(rnd_dates)]
        done = po[(po["play"] == play) & (po["arm"] == "done") & ~po["date"].isin(rnd_dates) & po["y0"].notna()]
        # the observational estimate describes the treated left after trimming (propensity above 0.95)
        kept = overlap[(overlap["play"] == play) & overlap["treated"] & ~overlap["trimmed"]]
        done = done.merge(kept[["account_id", "as_of"]].rename(columns={"as_of": "date"}), on=["account_id", "date"])
        for design, who, methods in ((E.RANDOMISED, picked, ("cuped", "difference")),
                                     (E.OBSERVATIONAL, done, ("aipw", "naive"))):
            truth_effect = float((who["y1"] - who["y0"]).mean())
            for method in methods:
                r = effects.loc[(play, design, method)]
                rows.append({"seed": seed, "play": play, "design": design, "method": method, "truth": truth_effect,
                             "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                             "n_treated": r["n_treated"], "n_control": r["n_control"]})
    return rows


@pytest.fixture(scope="module")
def recovery(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("plays")
    df = pd.DataFrame([r for seed in SEEDS for r in one_world(seed, root)])
    df["covered"] = (df["ci_low"] <= df["truth"]) & (df["truth"] <= df["ci_high"])
    return df


@pytest.mark.slow
def test_the_95_percent_intervals_cover_the_true_effect_in_at_least_90_percent_of_seeds(recovery):
    best = recovery[recovery["method"].isin(["cuped", "aipw"])]
    coverage = best.groupby(["play", "design"])["covered"].mean()
    assert (coverage >= 0.9).all(), coverage
    # the worlds are not trivial: the plays that help do help, and the rules pick enough accounts
    truth = best.groupby(["play", "design"])["truth"].mean()
    assert truth[("rescue_call", E.RANDOMISED)] < -0.05 and truth[("training_session", E.RANDOMISED)] < -0.03
    assert truth[("usage_tips", E.RANDOMISED)] == 0.0
    assert best["n_control"].min() >= 10


@pytest.mark.slow
def test_the_null_play_is_not_called_effective_and_the_rescue_call_is(recovery):
    best = recovery[recovery["method"].isin(["cuped", "aipw"])].set_index(["play", "design", "seed"]).sort_index()
    tips = best.loc["usage_tips"]
    assert ((tips["ci_low"] <= 0) & (tips["ci_high"] >= 0)).mean() >= 0.9
    rescue = best.loc[("rescue_call", E.RANDOMISED)]
    assert (rescue["estimate"] < 0).mean() >= 0.9


@pytest.mark.slow
def test_the_observational_estimate_corrects_most_of_the_naive_bias(recovery):
    obs = recovery[recovery["design"] == E.OBSERVATIONAL].assign(error=lambda d: d["estimate"] - d["truth"])
    bias = obs.groupby(["play", "method"])["error"].mean().unstack("method")
    # rules that follow risk: the rescue call goes to accounts that churn more anyway, tips to those that churn less
    assert bias.loc["rescue_call", "naive"] > 0.05 and bias.loc["usage_tips", "naive"] < -0.02, bias
    assert (bias["aipw"].abs() < 0.5 * bias["naive"].abs()).all(), bias


def recovery_table(df: pd.DataFrame) -> str:
    """The README's recovery table (Markdown rows) from the seeds' results."""
    names = {"cuped": "CUPED", "difference": "plain difference", "aipw": "AIPW", "naive": "naive"}
    df = df.assign(width=df["ci_high"] - df["ci_low"])
    lines = []
    for (play, design, method), g in df.groupby(["play", "design", "method"], sort=False):
        lines.append(f"| {play} | {design} ({names[method]}) | {100 * g['truth'].mean():+.1f} | "
                     f"{100 * g['estimate'].mean():+.1f} | {int(g['covered'].sum())}/{len(g)} | "
                     f"{100 * g['width'].mean():.1f} | {g['n_treated'].mean():.0f} / {g['n_control'].mean():.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python tests/test_play_recovery.py: the README's table (about a minute)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        rows = pd.DataFrame([r for seed in SEEDS for r in one_world(seed, Path(tmp))])
    rows["covered"] = (rows["ci_low"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high"])
    print(recovery_table(rows))
