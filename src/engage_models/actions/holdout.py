"""Randomised holdouts by design: which accounts are held out of the play recommended for them.

The playbook says, per play, which share of its accounts to hold out (``holdout:``), and which accounts must
never be held out (``holdout.must_act``: e.g. the largest accounts in red). :func:`assign_holdout` draws the
holdout:

* **by account, with a known probability**: an account recommended a play whose share is ``s`` is held out
  when a seeded hash of (seed, play, account), a number in [0, 1), is below ``s``. Every account not marked
  must-act is held out with probability exactly ``s``, independently of the others;
* **the same from run to run**: the draw depends on nothing but the seed, the play and the account, so an
  account held out of a play this week is held out of it next week too, whatever else changed (its band, its
  touch model, which other accounts were recommended the play), and a larger share later keeps everyone held
  out before (``u < 0.1`` implies ``u < 0.2``). An earlier draw by systematic sampling within each play x
  band x touch model held out exactly ``floor`` or ``ceil`` of a stratum's share, but an account's place in
  its stratum moved when others joined or left it, so an account could be held out one week and assigned
  the next with nothing of its own changed; the CSM then gave the play to an account the estimate counts as
  held out (at its first assignment), which pulls the measured effect toward zero. A stratum's held-out count now
  varies by chance (binomially); the estimate compares arms within each draw and needs no fixed count;
* **reproducibly**: the same seed and accounts give the same draw on any machine (BLAKE2 hashes, no random
  state).

The draw is written down in the action list: ``assignment`` (``assigned``: drawn and given the play;
``held_out``: drawn and held out; ``not_drawn``: a must-act account, or a play without a holdout, or no draw
at all: copied to the play log's ``holdout`` as false, true and empty, so an account that could not be held
out is never counted in a randomised arm), ``must_act``, ``holdout_share`` (the probability the account had of
being held out) and ``holdout_stratum`` (band / touch model, to check the arms' balance);
:func:`holdout_design` sums it up per play.

>>> plan = pd.DataFrame({"account_id": [f"a{i}" for i in range(10)], "play": "usage_tips", "band": "green",
...                      "touch_model": "tech_touch", "mrr": 100.0})
>>> out = assign_holdout(plan, seed=1)
>>> int((out["assignment"] == "held_out").sum()), float(out["holdout_share"].iloc[0])
(1, 0.1)
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._core.sampling import stable_uniform
from .playbook import HOLDOUT_STRATA, load_playbook

log = logging.getLogger(__name__)

ASSIGNED, HELD_OUT, NOT_DRAWN = "assigned", "held_out", "not_drawn"


def assign_holdout(plan: pd.DataFrame, playbook=None, seed: int | None = 0, currency: str | None = None
                   ) -> pd.DataFrame:
    """``plan`` (an action list: ``account_id``, ``play``, ``band``, ``touch_model`` and the columns the must-act
    rules read) with the holdout drawn (see the module docstring).

    ``seed=None`` holds out no one (every play ``not_drawn``; ``must_act`` is still marked). Adds
    ``assignment``, ``must_act``, ``holdout_share`` and ``holdout_stratum``; ``attrs["holdout"]`` records the
    seed, the strata and the must-act rules in words.
    """
    book = load_playbook(playbook, currency)
    currency = book.currency
    missing = [c for c in ("account_id", "play", *HOLDOUT_STRATA) if c not in plan.columns]
    if missing:
        raise ValueError(f"the action list lacks {missing}: build it with action_list()")
    df = plan.copy()
    must = np.zeros(len(df), dtype=bool)
    for rule in book.must_act:
        must |= rule.holds(df)
    share = df["play"].map(book.holdout_of).astype(float).to_numpy()
    if seed is None:
        share = np.zeros(len(df))
    share[must] = 0.0
    stratum = df[list(HOLDOUT_STRATA)].astype(str).agg("/".join, axis=1)
    held = np.zeros(len(df), dtype=bool)
    if (share > 0).any():
        u = np.array([stable_uniform(seed, p, a) for p, a in zip(df["play"], df["account_id"], strict=True)])
        held = (share > 0) & (u < share)
    df["assignment"] = np.select([held, share > 0], [HELD_OUT, ASSIGNED], NOT_DRAWN)
    df["must_act"] = must
    df["holdout_share"] = share
    df["holdout_stratum"] = stratum.to_numpy()
    df.attrs = {**plan.attrs, "holdout": {
        "seed": seed, "strata": list(HOLDOUT_STRATA), "default_share": book.holdout_share,
        "must_act": {lang: [r.render(lang, currency) for r in book.must_act] for lang in ("en", "ja")},
        "held_out": int(held.sum()), "must_act_accounts": int(must.sum())}}
    log.info("holdout: %d of %d accounts held out (%d must-act, never held out)", held.sum(), len(df), must.sum())
    return df


def holdout_design(plan: pd.DataFrame) -> pd.DataFrame:
    """Per recommended play: accounts recommended, must-act (never held out), eligible for the holdout, held
    out, assigned (drawn and given the play), not drawn (must-act accounts and plays without a holdout: given the
    play outside the randomised design), the share, the strata among the eligible, and the mean predicted churn
    probability of the eligible accounts (the control churn rate to expect when planning how many are needed)."""
    need = ("play", "assignment", "must_act", "holdout_share")
    if not set(need) <= set(plan.columns):
        raise ValueError(f"the action list lacks {[c for c in need if c not in plan.columns]}: run assign_holdout")
    df = plan.assign(_eligible=plan["holdout_share"].gt(0) & ~plan["must_act"].astype(bool),
                     _held=plan["assignment"].eq(HELD_OUT), _assigned=plan["assignment"].eq(ASSIGNED))
    if "churn_probability" not in df:
        df["churn_probability"] = np.nan
    df["_p"] = df["churn_probability"].where(df["_eligible"])
    out = df.groupby("play", sort=False).agg(
        recommended=("account_id", "size"), must_act=("must_act", "sum"), eligible=("_eligible", "sum"),
        held_out=("_held", "sum"), assigned=("_assigned", "sum"), share=("holdout_share", "max"),
        strata=("holdout_stratum", lambda s: s[df.loc[s.index, "_eligible"]].nunique()),
        expected_churn=("_p", "mean"))
    out["not_drawn"] = out["recommended"] - out["held_out"] - out["assigned"]
    out = out.reset_index()[["play", "recommended", "must_act", "eligible", "held_out", "assigned", "not_drawn",
                             "share", "strata", "expected_churn"]]
    for c in ("recommended", "must_act", "eligible", "held_out", "assigned", "not_drawn", "strata"):
        out[c] = out[c].astype(int)
    return out.sort_values(["held_out", "recommended"], ascending=False, kind="stable").reset_index(drop=True)
