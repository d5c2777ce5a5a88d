"""Whether to retrain: drift past a threshold, calibration off by more than its interval, or age.

:func:`recommend_retrain` is the contract the lifecycle (``--retrain on-drift``) relies on. It gives three
kinds of reason, each a sentence in English (``detail``) and a locale key with its arguments (``key``,
``args``) so a report can say it in Japanese as well:

* ``drift``: at the latest observation date, the PSI of the health score is past ``psi_threshold``, or the
  share of the monitored metrics whose PSI is past it reaches ``metric_psi_share``; a metric whose rows look
  like those of one of the training dates (PSI below 0.1 against that date: a quarterly webinar's attendance in a
  month without one, :func:`~engage_models.monitoring.drift.nearest_psi`) is not counted; the score always is;
  neither is a PSI, of a metric or of the score, at or below what sampling alone gives on so few rows (99% of
  samples of that size with nothing changed stay below it: the ``psi_chance`` column of the stability table; a
  region's export of 60 accounts passed 0.25 on a third of its metrics by chance);
* ``calibration``: on all the labels matured since the last training date, observed minus predicted churn has
  an account-clustered 95% interval that excludes 0 (:func:`~engage_models.monitoring.performance
  .calibration_in_the_large`);
* ``age``: the data the model saw ended (its cutoff) more than ``max_age_days`` before ``as_of``.

A check that cannot be made (the stability table without a training row or a row today; the calibration without a
matured label) is named in ``unavailable`` with its reason, and takes no other reason away: a stability table
that could not be made lost the age reason, and a model past the limit went without a recommendation to retrain.

Drift is judged at the latest observation date on the training rows' calendar (the panel's month starts), not at
a weekly run's own date: a 28-day window ending mid-month straddles two months, and a world with no drift
showed 6 of 37 metrics past 0.25 on the 15th of a month and none on the 1st (``retrain on-drift`` retrained
four times in a year for it). A model trained in the run is never recommended for retraining: it learned from
every label that had matured, and retraining cannot do more until new ones mature.

No threshold here is chosen on the data it judges: all are settings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.errors import InsufficientData
from .._core.i18n import t
from .._core.reasons import Thin, reason_of, texts
from .._core.time import to_utc
from ..lifecycle.frozen import age_days, data_end_of, past_age_limit, saw_later
from .drift import counted, judged_date, stability_table
from .performance import pooled_calibration

#: Share of the monitored metrics whose PSI must pass the threshold to call the population drifted: about one
#: in seven. A world's own ageing moves a few metrics past 0.25 with no change of behaviour (the latest CSAT fills
#: in as answers accumulate from the data's start, tenure grows): in the simulated test world 2 of 37 (5%) move
#: with no drift, 7 of 37 (19%) after a product change that cut logins, so one or two metrics are no reason.
METRIC_PSI_SHARE = 0.15


def _reason(kind: str, key: str, **args) -> dict:
    return {"kind": kind, "detail": t(key, "en", **args), "key": key, "args": args}


def recommend_retrain(model, reference: pd.DataFrame, panel: pd.DataFrame, *, trained_until, as_of,
                      horizon_days: int, cutoff=None, max_age_days: int = 180, psi_threshold: float = 0.25,
                      metric_psi_share: float = METRIC_PSI_SHARE, bins: int = 10, stability: pd.DataFrame | None = None,
                      performance: pd.DataFrame | None = None, trained_now: bool = False,
                      stability_missing=None) -> dict:
    """Should the frozen ``model`` be retrained? (see the module docstring)

    Parameters
    ----------
    model : fitted health card (``predict_proba``, ``health_score``, ``feature_names_in_``)
    reference : DataFrame
        The training rows (account_id, as_of, metrics, ``churned_within_h``).
    panel : DataFrame
        Today's panel (same columns; labels where matured).
    trained_until, as_of : dates
        The last observation date of the model's training rows (the rows after it are new to the model) and the
        data's end.
    cutoff : date, optional
        The training run's observation date, where the data the model saw ended (``trained_until`` is a horizon
        before it): the model's age counts from it (from ``trained_until`` a 90-day model was born 90 days old,
        and ``on-drift`` retrained it at three months where ``monthly`` counts from the cutoff). Default:
        ``trained_until``.
    horizon_days : int
        The label's horizon: a row's label has matured when ``as_of`` of the row + horizon <= ``as_of``.
    stability, performance : DataFrame, optional
        Already computed :func:`~engage_models.monitoring.drift.stability_table` and
        :func:`~engage_models.monitoring.performance.matured_performance` (a stage reuses its own); without
        ``performance`` only the pooled calibration is computed (the decision needs nothing else).
    stability_missing : str or Why, optional
        Why the caller could not make the stability table (a stage that tried already): the drift check is said
        to be unavailable for that reason and not tried again.
    trained_now : bool
        The model was trained in this run: the evidence is gathered and said, and no retraining recommended.
        Nor is it for a model whose data ended after ``as_of`` (``later`` in the result: a past date scored by a
        model that learned its outcomes).

    Returns
    -------
    dict
        ``retrain`` (bool), ``reasons`` (list of ``{"kind", "detail", "key", "args"}``; empty when ``retrain``
        is False), ``unavailable`` (the checks that could not be made, ``{"check": "drift" | "calibration",
        "why", "texts"}``: a failed check takes no other reason away, the age's least of all), ``later`` (the
        model's data ended after ``as_of``: nothing is recommended), ``psi`` (``available``, ``as_of`` of the
        latest date, ``score``, ``metrics`` {name: PSI}, ``over``: the metrics past the threshold that look like no
        training date, ``usual``: those past it whose rows look like one training date's (not counted),
        ``nearest_psi`` {name: PSI against that nearest date}, ``share`` (of ``over``), the settings;
        ``{"available": False, "why", "texts"}`` and the settings when the stability table could not be made),
        ``calibration`` (the pooled matured-label row, or ``{"available": False, "why", "texts"}``), ``age_days``
        and ``trained_now``. ``psi.as_of`` is the
        date judged (:func:`judged_date`), ``psi.latest`` the latest date of the table.
    """
    as_of, trained_until = to_utc(as_of), to_utc(trained_until)
    reasons: list[dict] = []
    unavailable: list[dict] = []  # the checks that could not be made, each with its reason
    try:
        if stability is None and stability_missing:
            raise Thin.of(stability_missing)
        psi, drift = _drift(model, reference, panel, stability, trained_until=trained_until, bins=bins,
                            psi_threshold=psi_threshold, metric_psi_share=metric_psi_share)
        reasons += drift
    except InsufficientData as exc:  # no stability table: the other checks, the age above all, still count
        psi = {"available": False, **_why(exc), "threshold": psi_threshold, "metric_psi_share": metric_psi_share}
        unavailable.append({"check": "drift", **_why(exc)})
    calibration: dict
    try:
        if performance is None:  # the decision reads the pooled calibration only: no AUC bootstrap for it
            pooled = pooled_calibration(model, panel, trained_until=trained_until, as_of=as_of,
                                        horizon_days=horizon_days)
        else:
            pooled = performance[performance["scope"] == "all"].iloc[0].drop(["scope", "as_of"]).to_dict()
        calibration = {"available": True, **{k: (bool(v) if k == "off" else v) for k, v in pooled.items()}}
        if calibration["off"]:
            reasons.append(_reason(
                "calibration", "monitoring.reason.calibration", n=int(pooled["n"]),
                since=f"{trained_until:%Y-%m-%d}", observed=f"{pooled['observed']:.1%}",
                predicted=f"{pooled['predicted']:.1%}", difference=f"{pooled['difference'] * 100:+.1f}",
                lo=f"{pooled['ci_low'] * 100:+.1f}", hi=f"{pooled['ci_high'] * 100:+.1f}"))
    except InsufficientData as exc:
        calibration = {"available": False, **_why(exc)}
        unavailable.append({"check": "calibration", **_why(exc)})
    born = to_utc(data_end_of(cutoff, trained_until))
    age = age_days(born, as_of)
    if past_age_limit(born, as_of, max_age_days):
        reasons.append(_reason("age", "monitoring.reason.age", age=age, max_age=max_age_days,
                               since=f"{born:%Y-%m-%d}", as_of=f"{as_of:%Y-%m-%d}"))
    # a model whose data ended after this date (a past date scored with a later model) learned outcomes not known
    # then: whether it held on that date is no question a run then could have asked ("the data it saw ended -31
    # days ago", "the health model holds", said report 08 and the summary)
    later = bool(saw_later(born, as_of) and not trained_now)  # lifecycle's one rule (its age is < 0 days)
    if trained_now or later:  # nothing to retrain: the evidence stays in the result, for the report to show
        reasons = []
    return {"retrain": bool(reasons), "reasons": reasons, "trained_now": bool(trained_now), "later": later,
            "psi": psi, "unavailable": unavailable,
            "calibration": calibration, "age_days": age, "trained_until": trained_until, "cutoff": born,
            "as_of": as_of,
            "max_age_days": max_age_days}


def _why(exc: InsufficientData) -> dict:
    """Why a check could not be made: its English (``why``) and, for a catalogued reason, every language
    (``texts``), so report 08 says it in Japanese too."""
    why = reason_of(exc)
    return {"why": str(why), **({"texts": texts(why)} if texts(why) else {})}


def _drift(model, reference: pd.DataFrame, panel: pd.DataFrame, stability: pd.DataFrame | None, *, trained_until,
           bins: int, psi_threshold: float, metric_psi_share: float) -> tuple[dict, list[dict]]:
    """The drift check: the ``psi`` evidence of :func:`recommend_retrain` and its drift reasons. Raises
    :class:`InsufficientData` when the stability table cannot be made (no training row, no row today)."""
    if stability is None:
        stability = stability_table(model, reference, panel, trained_until=trained_until, bins=bins,
                                    psi_threshold=psi_threshold)
    if stability.empty:
        raise Thin("monitoring.why.no_stability")
    reasons: list[dict] = []
    latest = judged_date(stability, reference)
    now = stability[pd.to_datetime(stability["as_of"], utc=True) == latest]
    # what counts as drift is the table's rule (drift.counted), the one report 08's table shows
    now = now.assign(counted=counted(now, psi_threshold).to_numpy())
    metrics = now[now["kind"] == "metric"].set_index("variable")
    metric_psi = metrics["psi"]
    usual = metrics["usual"].astype(bool) if "usual" in metrics else pd.Series(False, index=metrics.index)
    # a PSI sampling alone gives on today's rows is no drift (a table made before it was kept: none is)
    noise = metrics["chance"].astype(bool) if "chance" in metrics else pd.Series(False, index=metrics.index)
    score_row = now[now["kind"] == "score"].iloc[0]
    score_psi = float(score_row["psi"])  # the score's drift is never excused as usual; as noise, it is
    score_noise = bool(score_row.get("chance", False))
    past = metric_psi > psi_threshold
    over = metric_psi[metrics["counted"]].sort_values(ascending=False)
    as_usual = metric_psi[past & usual].sort_values(ascending=False)
    as_noise = metric_psi[past & ~usual & noise].sort_values(ascending=False)
    share = float(len(over) / len(metric_psi)) if len(metric_psi) else 0.0
    date = f"{latest:%Y-%m-%d}"
    if score_row["counted"]:
        reasons.append(_reason("drift", "monitoring.reason.drift_score", psi=f"{score_psi:.2f}",
                               threshold=f"{psi_threshold:g}", date=date))
    if len(metric_psi) and share >= metric_psi_share and len(over):
        reasons.append(_reason("drift", "monitoring.reason.drift_metrics", k=len(over), n=len(metric_psi),
                               share=f"{share:.0%}", min_share=f"{metric_psi_share:.0%}",
                               threshold=f"{psi_threshold:g}", date=date,
                               names=", ".join(f"{m} {v:.2f}" for m, v in over.head(5).items())))
    psi = {"available": True, "as_of": latest, "latest": pd.to_datetime(stability["as_of"], utc=True).max(),
           "score": score_psi, "metrics": {k: float(v) for k, v in metric_psi.items()},
           "over": list(over.index), "usual": list(as_usual.index), "noise": list(as_noise.index),
           "score_noise": bool(score_noise and np.isfinite(score_psi) and score_psi > psi_threshold),
           "chance_psi": {k: float(v) for k, v in metrics.get("psi_chance", pd.Series(dtype=float)).items()}
           | {"score": float(score_row.get("psi_chance", np.nan))}, "n": int(score_row.get("n", 0)),
           "nearest_psi": {k: float(v) for k, v in metrics.get("psi_nearest", pd.Series(dtype=float)).items()},
           "share": share,
           "threshold": psi_threshold,
           "metric_psi_share": metric_psi_share}
    return psi, reasons
