"""Randomised holdouts by design: which accounts are held out of the play recommended for them.

The playbook says, per play, which share of its accounts to hold out (``holdout:``), and which accounts must
never be held out (``holdout.must_act``: e.g. the largest accounts in red). :func:`assign_holdout` draws the
holdout:

* **within strata**: each play x band x touch model (:data:`~engage_models.actions.playbook.HOLDOUT_STRATA`)
  is drawn separately, so held-out and assigned accounts are alike in risk and in the way they are served;
* **with a known probability**: in a stratum of ``n`` accounts sorted by a seeded hash of (seed, play,
  account), the accounts at positions ``j`` where ``floor(share (j + 1) + r) > floor(share j + r)`` are held
  out, ``r`` in [0, 1) being a second seeded hash of the stratum (systematic sampling with a random start).
  Every account not marked must-act is held out with probability exactly ``share``, and a stratum holds out
  ``floor(share n)`` or ``ceil(share n)`` accounts, never a lump by chance;
* **reproducibly**: the same seed and accounts give the same draw on any machine (BLAKE2 hashes, no random
  state), and an account keeps its place in its stratum's order from run to run, so the same accounts tend to
  stay held out while their band and touch model do not change (the effect estimate uses each account's first
  assignment to a play, so a later switch does not blur it).

The draw is written down in the action list: ``assignment`` (``assigned`` / ``held_out``), ``must_act``,
``holdout_share`` (the probability the account had of being held out) and ``holdout_stratum``;
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

ASSIGNED, HELD_OUT = "assigned", "held_out"


def assign_holdout(plan: pd.DataFrame, playbook=None, seed: int | None = 0, currency: str | None = None
                   ) -> pd.DataFrame:
    """``plan`` (an action list: ``account_id``, ``play``, ``band``, ``touch_model`` and the columns the must-act
    rules read) with the holdout drawn (see the module docstring).

    ``seed=None`` holds out no one (every play ``assigned``; ``must_act`` is still marked). Adds
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
        keys = (df["play"].astype(str) + "/" + stratum).to_numpy()
        for key in pd.unique(keys[share > 0]):
            rows = np.flatnonzero((keys == key) & (share > 0))
            order = rows[np.lexsort((df["account_id"].astype(str).to_numpy()[rows], u[rows]))]
            s, r = share[order[0]], stable_uniform(seed, "start", key)
            j = np.arange(len(order))
            held[order[np.floor(s * (j + 1) + r) > np.floor(s * j + r)]] = True
    df["assignment"] = np.where(held, HELD_OUT, ASSIGNED)
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
    out, assigned, the share, the strata drawn, and the mean predicted churn probability of the eligible
    accounts (the control churn rate to expect when planning how many are needed)."""
    need = ("play", "assignment", "must_act", "holdout_share")
    if not set(need) <= set(plan.columns):
        raise ValueError(f"the action list lacks {[c for c in need if c not in plan.columns]}: run assign_holdout")
    df = plan.assign(_eligible=plan["holdout_share"].gt(0) & ~plan["must_act"].astype(bool),
                     _held=plan["assignment"].eq(HELD_OUT))
    if "churn_probability" not in df:
        df["churn_probability"] = np.nan
    df["_p"] = df["churn_probability"].where(df["_eligible"])
    out = df.groupby("play", sort=False).agg(
        recommended=("account_id", "size"), must_act=("must_act", "sum"), eligible=("_eligible", "sum"),
        held_out=("_held", "sum"), share=("holdout_share", "max"),
        strata=("holdout_stratum", lambda s: s[df.loc[s.index, "_eligible"]].nunique()),
        expected_churn=("_p", "mean"))
    out["assigned"] = out["recommended"] - out["held_out"]
    out = out.reset_index()[["play", "recommended", "must_act", "eligible", "held_out", "assigned", "share",
                             "strata", "expected_churn"]]
    for c in ("recommended", "must_act", "eligible", "held_out", "assigned", "strata"):
        out[c] = out[c].astype(int)
    return out.sort_values(["held_out", "recommended"], ascending=False, kind="stable").reset_index(drop=True)
