"""Every play's effect, by design, outcome and band: the table the "What works" report reads.

:func:`measure_effects` turns the units of :func:`~engage_models.effects.units.play_units` into one row per
(play, design, outcome, group, method):

* ``design`` randomised: ``method`` ``difference`` (treated minus held out) and ``cuped`` (adjusted for the
  pre-period score; the one to read, ``preferred``);
* ``design`` observational: ``method`` ``naive`` (done minus not done) and ``aipw`` (doubly robust effect on
  the treated; ``preferred``);
* ``outcome`` ``churned`` (share churned within the horizon; differences in proportions) or ``score_change``
  (health points, among the accounts still customers at the follow-up date);
* ``group`` ``all`` or the band (``green``, ``yellow``, ``red``) at the observation date before the play.

``q_value`` adjusts the band rows' p-values together (:func:`band_q_values`); the report calls a band's effect
clear only when it is below 0.05. ``status`` is ``estimated``; ``too_few`` when an arm has fewer than
``min_per_arm`` accounts (the counts and the sample size needed are still given); ``no_variation`` when the
accounts of each group all had one outcome (the same in both, or not: no interval either way; a randomised
churn difference always has one, from Agresti-Caffo's variance).
``n_treated``/``n_control`` count the accounts in the estimate, ``assigned_treated``/``assigned_control`` those
logged (a randomised draw needs 2 accounts in each arm to count: a play whose every draw lacks them still gets
its rows, with no account in the estimate). For churn, ``n_needed`` is the number
of accounts (both arms) needed to detect a fall of ``detect_points`` points with the design's
holdout share (CUPED's variance reduction included), and ``mde`` the smallest effect the present estimate can
detect, both at 95% and the configured power. The observational propensities of every unit are returned for
the overlap figure.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._core.stats import benjamini_hochberg
from .estimate import (
    att_aipw,
    cross_fit,
    cuped_difference,
    empty_estimate,
    naive_difference,
    nuisance_features,
    stratified_difference,
)
from .power import detectable_from_se, sample_size
from .units import OBSERVATIONAL, ONE_ARM, RANDOMISED, PlayUnits

log = logging.getLogger(__name__)

OUTCOMES = ("churned", "score_change")
GROUPS = ("all", "green", "yellow", "red")
ESTIMATED, TOO_FEW, NO_VARIATION = "estimated", "too_few", "no_variation"
PREFERRED = {RANDOMISED: "cuped", OBSERVATIONAL: "aipw"}

EFFECT_COLUMNS = ["play", "design", "outcome", "group", "method", "preferred", "status", "n_treated", "n_control",
                  "assigned_treated", "assigned_control", "mean_treated", "mean_control", "estimate", "se", "ci_low",
                  "ci_high", "p_value", "done_share",
                  "variance_reduction", "trimmed_treated", "trimmed_control", "n_needed", "mde", "q_value"]


def _groups(units: pd.DataFrame):
    yield "all", np.ones(len(units), dtype=bool)
    for band in GROUPS[1:]:
        mask = (units["band"] == band).to_numpy()
        if mask.any():
            yield band, mask


def _row(play, design, outcome, group, est, *, min_per_arm, status=None, **extra) -> dict:
    d = est.as_dict()
    if status is None:
        if min(d["n_treated"], d["n_control"]) < min_per_arm or not np.isfinite(d["estimate"]):
            status = TOO_FEW
        elif not (np.isfinite(d["se"]) and d["se"] > 0):  # one outcome within each group: no interval
            status = NO_VARIATION
        else:
            status = ESTIMATED
    if status == TOO_FEW:  # an interval of 1 treated account (-9.6 to -2.1 points) is no interval to keep
        d.update(se=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
    extra = {"assigned_treated": d["n_treated"], "assigned_control": d["n_control"], **extra}
    return {"play": play, "design": design, "outcome": outcome, "group": group,
            "preferred": d["method"] == PREFERRED[design], "status": status, **d, **extra}


def _power(p0, share, se, reduction, detect_points, power, level) -> dict:
    factor = 1.0 - min(max(reduction, 0.0), 0.99) if np.isfinite(reduction) else 1.0
    return {"n_needed": sample_size(p0, detect_points / 100, share, level, power, factor) if np.isfinite(share)
            else np.nan, "mde": detectable_from_se(se, level, power)}


def _randomised(units: pd.DataFrame, *, min_per_arm, detect_points, power, level, outcomes,
                thin: pd.DataFrame | None = None) -> list[dict]:
    """The randomised rows; ``thin``: the log rows left out because their draw lacked an arm (``play``,
    ``holdout``), counted among the logged accounts of the rows over all bands."""
    rows = []
    thin = thin if thin is not None else pd.DataFrame({"play": [], "holdout": []})
    held = thin["holdout"].astype(bool).groupby(thin["play"]).agg(["sum", "size"])
    for play in sorted(set(units["play"]) | set(thin["play"])):
        pool = units[units["play"] == play]
        t_thin, n_thin = (int(held.loc[play, "sum"]), int(held.loc[play, "size"])) if play in held.index else (0, 0)
        for outcome in outcomes:
            known = pool[pool[outcome].notna()]
            for group, mask in (_groups(known) if len(known) else [("all", np.zeros(0, dtype=bool))]):
                u = known[mask]
                t = u["treated"].to_numpy(bool)
                batch = u["as_of"].astype("int64").to_numpy()
                if len(u):
                    raw = stratified_difference(u[outcome], t, batch, level)
                    adj = cuped_difference(u[outcome], t, u["score_pre"], batch, level)
                else:  # every draw of the play lacked an arm
                    raw, adj = empty_estimate("difference"), empty_estimate("cuped")
                done_share = float(u.loc[u["treated"], "done"].mean()) if t.any() else np.nan
                # the logged counts: a draw needs 2 accounts in each arm to count in the estimate
                a1, a0 = int(t.sum()), int((~t).sum())
                if group == "all" and outcome == "churned":  # the score change counts its survivors only
                    a1, a0 = a1 + n_thin - t_thin, a0 + t_thin
                share = a0 / (a1 + a0) if a1 + a0 else np.nan
                extra = {"done_share": done_share, "assigned_treated": a1, "assigned_control": a0}
                if outcome == "churned":
                    # churn without the play: the held-out accounts' when there are enough of them to say it
                    # (0 of 2 is no rate to plan a test on), else what the model predicted before the play
                    p0 = (adj.mean_control if adj.n_control >= min_per_arm and np.isfinite(adj.mean_control)
                          else float(u["churn_probability_pre"].mean()) if len(u) else np.nan)
                    reduction = adj.extra.get("variance_reduction", np.nan)
                    extra.update(_power(p0, share if 0 < share < 1 else np.nan, adj.se, reduction, detect_points,
                                        power, level))
                else:
                    extra.update(n_needed=np.nan, mde=detectable_from_se(adj.se, level, power))
                for est in (raw, adj):
                    rows.append(_row(play, RANDOMISED, outcome, group, est, min_per_arm=min_per_arm, **extra))
    return rows


def _observational(units: pd.DataFrame, panel: pd.DataFrame, *, min_per_arm, trim, folds, seed, level,
                   outcomes) -> tuple[list[dict], list[pd.DataFrame]]:
    rows, overlap = [], []
    for play, pool in units.groupby("play", sort=True):
        pool = pool.reset_index(drop=True)
        X = nuisance_features(pool, panel)
        for outcome in outcomes:
            known = pool[outcome].notna().to_numpy()
            u, Xk = pool[known].reset_index(drop=True), X[known].reset_index(drop=True)
            t = u["treated"].to_numpy(bool)
            if t.sum() < 2 or (~t).sum() < 2:
                e = m0 = np.full(len(u), np.nan)
            else:
                e, m0 = cross_fit(Xk, t, u[outcome], u["account_id"], folds=folds, seed=seed,
                                  binary=outcome == "churned")
            if outcome == outcomes[0]:
                overlap.append(pd.DataFrame({"play": play, "account_id": u["account_id"], "as_of": u["as_of"],
                                             "treated": t, "propensity": e, "trimmed": ~(e <= 1 - trim)}))
            for group, mask in _groups(u):
                naive = naive_difference(u.loc[mask, outcome], t[mask], u.loc[mask, "account_id"], level)
                dr = att_aipw(u.loc[mask, outcome], t[mask], e[mask], m0[mask], u.loc[mask, "account_id"], trim, level)
                extra = {"done_share": 1.0, "n_needed": np.nan, "mde": np.nan}
                for est in (naive, dr):
                    rows.append(_row(play, OBSERVATIONAL, outcome, group, est, min_per_arm=min_per_arm, **extra))
    return rows, overlap


def band_q_values(effects: pd.DataFrame) -> np.ndarray:
    """Benjamini-Hochberg q-values of the band estimates that stand on enough accounts, adjusted together per
    outcome and method (all plays and bands of a method are one family: a report that reads many bands must
    not call one effective by chance); NaN for the rows over all bands and the rest.

    >>> e = pd.DataFrame({"outcome": "churned", "method": "cuped", "group": ["all", "red", "green", "yellow"],
    ...                   "status": "estimated", "p_value": [0.001, 0.01, 0.04, 0.5]})
    >>> band_q_values(e).round(3).tolist()
    [nan, 0.03, 0.06, 0.5]
    """
    q = np.full(len(effects), np.nan)
    bands = (effects["group"] != "all") & (effects["status"] == ESTIMATED)
    for _, idx in effects[bands].groupby(["outcome", "method"]).groups.items():
        pos = effects.index.get_indexer(idx)
        q[pos] = benjamini_hochberg(effects.loc[idx, "p_value"].to_numpy(dtype=float))
    return q


def measure_effects(units: PlayUnits, panel: pd.DataFrame, *, min_per_arm: int = 30, detect_points: float = 5.0,
                    power: float = 0.8, trim: float = 0.05, folds: int = 5, seed: int = 0,
                    level: float = 0.95, outcomes: tuple[str, ...] = OUTCOMES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The effects table and the observational propensities (see the module docstring); ``outcomes`` limits
    the outcomes measured (``churned``, ``score_change``)."""
    bad = set(outcomes) - set(OUTCOMES)
    if bad or not outcomes:
        raise ValueError(f"outcomes must be among {OUTCOMES}, not {tuple(outcomes)!r}")
    ex = units.excluded
    thin = ex[(ex["design"] == RANDOMISED) & (ex["reason"] == ONE_ARM)] if "holdout" in ex else None
    rows = _randomised(units.randomised, min_per_arm=min_per_arm, detect_points=detect_points, power=power,
                       level=level, outcomes=tuple(outcomes), thin=thin)
    obs_rows, overlap = _observational(units.observational, panel, min_per_arm=min_per_arm, trim=trim, folds=folds,
                                       seed=seed, level=level, outcomes=tuple(outcomes))
    effects = pd.DataFrame(rows + obs_rows)
    if effects.empty:
        effects = pd.DataFrame(columns=EFFECT_COLUMNS)
    for c in EFFECT_COLUMNS:
        if c not in effects:
            effects[c] = np.nan
    effects = effects[EFFECT_COLUMNS]
    effects["preferred"] = effects["preferred"].astype(bool)
    effects["q_value"] = band_q_values(effects)
    overlap = pd.concat(overlap, ignore_index=True) if overlap else pd.DataFrame(
        columns=["play", "account_id", "as_of", "treated", "propensity", "trimmed"])
    effects.attrs.update({"min_per_arm": min_per_arm, "detect_points": detect_points, "power": power, "trim": trim,
                          "folds": folds, "level": level})
    return effects, overlap
