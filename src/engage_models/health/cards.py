"""Cards in the form customer-success tools take them: the learned shape card written as ranges and points.

:func:`card_config` turns a fitted :class:`~engage_models.health.ShapeScore` into the YAML format of the
hand-weighted card (:func:`~engage_models.health.baselines.load_scorecard`, the bundled ``hand_scorecard.yaml``),
so a team can type the learned ranges into Gainsight, ChurnZero, HubSpot or Vitally, and so
:class:`~engage_models.health.HandWeightedScore` reads it back. Any card a team already uses, written in the same
format, is backtested beside the learned one by the pipeline (``health.hand_scorecard``).

Each metric becomes one entry: ``weight`` = the most points the metric can move on the 0-100 scale, ``thresholds``
= ``[lower bound of the range, points within the metric (0-100)]`` from the highest range down, the lowest range
with ``-.inf`` (each bound rounded to the roundest number that keeps every training row in its range, see
:func:`~engage_models.health.shapes.roundest`);
``direction: higher`` (a value earns the points of the first bound it reaches, exactly the
ranges' ``value >= bound`` rule, whatever the shape's direction). The hand card's score is
``sum(weight * points) / sum(weight)``: with only metric terms and no missing values, exactly the learned score.
What the format cannot hold is listed under ``not_in_card`` (category terms, pairwise tables) and the
missing-value points are not carried (the hand card gives a missing value its metric's lowest points).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import yaml
from sklearn.utils.validation import check_is_fitted

from .._core.io import write_text


class NothingToExport(ValueError):
    """The learned card holds no metric with ranges of points: its terms are categories, pairwise tables or flat
    shapes, none of which the hand card's format holds (``engage fit`` on a table of categories only)."""


def card_config(model, decimals: int | None = 1, name: str | None = None) -> dict:
    """The learned card as a hand-card dict (see the module docstring). ``decimals``: rounding of the points
    (1: as a person types them; None: exact, for a lossless round trip). With ``decimals`` the ranges' bounds are
    rounded too, each to the roundest number between the training values on either side of it
    (:func:`~engage_models.health.shapes.roundest`): every training row stays in its range, a new value between
    the two may change range."""
    check_is_fitted(model, "card_")
    scale = 100.0 / model.card_["total"]

    def rnd(v: float) -> float:
        return float(v) if decimals is None else round(float(v), decimals)

    metrics, left_out = [], []
    for ti, tm in enumerate(model.card_["terms"]):
        max_points = scale * (tm["hi"] - tm["lo"])
        if tm["kind"] != "numeric":
            left_out.append({"term": model.term_names_[ti], "kind": tm["kind"], "max_points": rnd(max_points)})
            continue
        if max_points <= 0:  # a flat shape earns nobody anything: nothing to type in
            continue
        f = tm["features"][0]
        cuts = np.asarray(tm["specs"][0], float)
        pts = np.clip(-tm["scores"][1:-1], tm["lo"], tm["hi"]) - tm["lo"]  # ranges 1..k, card points
        # 0-100 by construction; 100 x / x may round to a hair over 100, which the hand card's check refuses
        within = np.clip(100.0 * pts / (tm["hi"] - tm["lo"]), 0.0, 100.0)
        integer = f in model.integer_
        typed = model.typed_cuts(ti) if decimals is not None else None  # as a person types them
        bounds = [-math.inf] + (typed or [float(math.ceil(c)) if integer else float(c) for c in cuts])
        thresholds = [[b, rnd(p)] for b, p in zip(bounds[::-1], within[::-1], strict=True)]
        metrics.append({"metric": f, "weight": rnd(max_points), "direction": "higher", "thresholds": thresholds})
    if not metrics:
        kinds = sorted({{"nominal": "category", "pair": "pairwise"}.get(t["kind"], t["kind"]) for t in left_out})
        raise NothingToExport("the learned card has no metric with ranges of points, the only terms a hand card's "
                              "format holds" + (f" (its terms are {' and '.join(kinds)} terms)" if kinds else
                                                " (every shape is flat)"))
    out = {"name": name or "Learned scorecard (ranges and points learned from churn outcomes)", "metrics": metrics}
    if left_out:
        out["not_in_card"] = left_out
    return out


def write_card_yaml(model, path: str | Path, decimals: int | None = 1) -> Path:
    """Write :func:`card_config` as YAML at ``path`` with a header saying how to read it."""
    config = card_config(model, decimals=decimals)
    header = (
        "# Learned health scorecard: ranges and points, in the format of hand_scorecard.yaml.\n"
        "# Each metric earns the points of the first threshold its value reaches (value >= threshold), times its\n"
        "# weight / the sum of weights. Type it into your customer-success tool, or backtest it with\n"
        "# HandWeightedScore(config=this_file). Terms the format cannot hold are listed under not_in_card.\n"
    )
    return write_text(path, header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
