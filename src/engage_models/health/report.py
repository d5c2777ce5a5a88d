"""Scoring accounts over time and the views the health-score report shows.

:func:`rolling_scores` scores every account at each of the last observation dates with a model fitted only
on labels known by that date (the same rule as the backtest), so a score history never shows a month
through a model that saw it. The result, with bands and drivers, is written for the notebooks that run
after the health report (survival by band, the executive summary, the action list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.i18n import fmt_money, t
from .._core.plots import BAND_COLOURS, new_ax
from .score import feature_label

log = logging.getLogger(__name__)
LABELS = ("churned_within_h", "duration_days", "event")


def rolling_scores(panel: pd.DataFrame, make_model: Callable[[], object], *, horizon_days: int,
                   dates=None, n_dates: int = 6, label: str = "churned_within_h") -> tuple[pd.DataFrame, dict]:
    """Score, churn probability and band of every account at each of the last ``n_dates`` dates.

    Each date's model is fitted on the rows whose label was known by that date (``as_of + horizon <= date``);
    dates with the same training rows share one fit. Returns the scores and the fitted models by date.
    """
    all_dates = sorted(panel["as_of"].unique())
    dates = [pd.Timestamp(d) for d in (dates if dates is not None else all_dates[-n_dates:])]
    h = pd.Timedelta(days=horizon_days)
    fits: dict = {}
    models: dict = {}
    out = []
    for d in dates:
        train = panel[(panel["as_of"] + h <= d) & panel[label].notna()]
        key = train["as_of"].max()
        if key not in fits:
            X = train.drop(columns=[c for c in LABELS if c in train.columns])
            fits[key] = make_model().fit(X, train[label].astype(int))
            log.info("scores at %s: model fitted on %d rows up to %s", d.date(), len(train), pd.Timestamp(key).date())
        model = fits[key]
        now = panel[panel["as_of"] == d]
        X = now.drop(columns=[c for c in LABELS if c in now.columns])
        p = model.predict_proba(X)[:, 1]
        out.append(pd.DataFrame({"account_id": now["account_id"].to_numpy(), "as_of": d,
                                 "score": model.health_score(X).to_numpy(), "churn_probability": p,
                                 "band": model.bands(proba=p).to_numpy(), "trained_until": key}))
        models[d] = model
    return pd.concat(out, ignore_index=True), models


def with_context(scores: pd.DataFrame, panel: pd.DataFrame, accounts: pd.DataFrame | None = None,
                 columns=("segment", "plan", "mrr", "seats", "tenure_days")) -> pd.DataFrame:
    """Scores joined to the panel's context columns (and account names)."""
    ctx = panel[["account_id", "as_of", *[c for c in columns if c in panel.columns]]]
    out = scores.merge(ctx, on=["account_id", "as_of"], how="left")
    if accounts is not None and "name" in accounts:
        out = out.merge(accounts[["account_id", "name"]], on="account_id", how="left")
    return out


def scores_path(processed: str | Path, until: pd.Timestamp, horizon_days: int, kind: str = "scores") -> Path:
    """Where a report leaves per-account results of a run for the notebooks after it.

    ``kind``: ``scores`` (health report: score history, bands, drivers), ``scorecard`` (its learned weights),
    ``values`` (survival report: remaining lifetime and LTV per account).
    """
    return Path(processed) / "scores" / f"{pd.Timestamp(until):%Y%m%d}_h{horizon_days}_{kind}.parquet"


def save_scores(scores: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = scores.copy()
    if "drivers" in df:
        df["drivers"] = df["drivers"].map(lambda items: [dict(d) for d in items] if isinstance(items, list) else [])
    tmp = path.with_suffix(".tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def load_scores(processed: str | Path, until, horizon_days: int, kind: str = "scores") -> pd.DataFrame:
    """Per-account results of a run; a clear error when the report that writes them has not run for it."""
    path = scores_path(processed, until, horizon_days, kind)
    if not path.exists():
        writer = "the survival report (05)" if kind == "values" else "the health-score report (04)"
        raise FileNotFoundError(f"{path} does not exist: {writer} writes it; run it first "
                                f"(the runner does, before the executive summary)")
    return pd.read_parquet(path)


def band_followup(scores: pd.DataFrame, accounts: pd.DataFrame, until, date=None) -> pd.DataFrame:
    """Accounts by the band they had at ``date`` (default: the earliest scored date), followed from then on.

    ``duration`` is in months (30.44 days) from ``date`` to the churn date or to ``until`` (censored);
    ``event`` is 1 when the account churned by ``until``. For Kaplan-Meier curves by health band.
    """
    date = pd.Timestamp(date) if date is not None else scores["as_of"].min()
    until = pd.Timestamp(until)
    until = until.tz_localize("UTC") if until.tzinfo is None else until
    at = scores[scores["as_of"] == date][["account_id", "band"]]
    a = accounts[["account_id", "end_date"]].copy()
    a["end_date"] = pd.to_datetime(a["end_date"], utc=True)
    df = at.merge(a, on="account_id", how="left")
    churned = df["end_date"].notna() & (df["end_date"] <= until)
    end = df["end_date"].where(churned, until)
    df["duration"] = (end - date).dt.total_seconds() / 86400 / 30.44
    df["event"] = churned.astype(int)
    df.attrs["date"] = date
    return df[df["duration"] > 0]


# ------------------------------------------------------------------------------------------ views
def scorecard_view(card: pd.DataFrame, lang: str = "en", top: int | None = None) -> pd.DataFrame:
    """The scorecard as a reader sees it: weight with interval, points range, effect in percentage points."""
    rows = []
    for r in card.head(top).itertuples() if top else card.itertuples():
        ci = "" if pd.isna(r.ci_low) else (f"（{r.ci_low:+.2f}〜{r.ci_high:+.2f}）" if lang == "ja"
                                           else f" ({r.ci_low:+.2f} to {r.ci_high:+.2f})")
        rows.append({t("metric", lang): r.label, t("weight", lang): f"{r.weight:+.2f}{ci}",
                     t("points", lang): f"{r.points_range:.1f}",
                     t("effect_1sd", lang): f"{100 * r.delta_churn_probability:+.1f}" + (
                         "ポイント" if lang == "ja" else " pp")})
    return pd.DataFrame(rows)


def plot_weights(card: pd.DataFrame, top: int = 15, ax=None, lang: str = "en"):
    """Weights (log-odds of churn per SD) with 95% bootstrap intervals; left of zero = protective."""
    c = card.head(top).iloc[::-1]
    ax = new_ax(ax, figsize=(8, 0.38 * len(c) + 1.2))
    y = np.arange(len(c))
    colours = np.where(c["weight"] < 0, BAND_COLOURS["green"], BAND_COLOURS["red"])
    ax.scatter(c["weight"], y, color=colours, zorder=3)
    if c["ci_low"].notna().all():
        ax.hlines(y, c["ci_low"], c["ci_high"], color=colours, linewidth=2)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(y, c["label"], fontsize=8)
    ax.set_xlabel(t("weight_axis", lang))
    return ax


def at_risk(scored: pd.DataFrame, n: int = 15, lang: str = "en", currency: str = "$") -> pd.DataFrame:
    """The ``n`` accounts with the most monthly revenue at risk (churn probability x MRR), with drivers."""
    s = scored.assign(mrr_at_risk=scored["churn_probability"] * scored["mrr"].fillna(0))
    s = s.sort_values(["mrr_at_risk", "account_id"], ascending=[False, True]).head(n)
    cols = {"account_id": t("account_id", lang), "name": t("name", lang), "segment": t("segment", lang),
            "score": t("health_score", lang), "band": t("band", lang),
            "churn_probability": t("churn_probability", lang), "mrr": t("mrr_total", lang),
            "mrr_at_risk": t("mrr_at_risk", lang), "drivers_text": t("drivers", lang)}
    out = s[[c for c in cols if c in s.columns]].copy()
    out["score"] = out["score"].round(0).astype(int)
    out["churn_probability"] = (100 * out["churn_probability"]).map(lambda v: f"{v:.0f}%")
    out["band"] = out["band"].map(lambda b: t(b, lang))
    for c in ("mrr", "mrr_at_risk"):
        out[c] = out[c].map(lambda v: fmt_money(v, lang, currency))
    return out.rename(columns=cols).reset_index(drop=True)


def band_summary(scored: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Accounts, MRR and mean churn probability per band at one date."""
    g = scored.groupby("band").agg(accounts=("account_id", "size"), mrr=("mrr", "sum"),
                                   churn_probability=("churn_probability", "mean"))
    g = g.reindex(["green", "yellow", "red"]).fillna(0).reset_index()
    g["share"] = g["accounts"] / g["accounts"].sum()
    return g


def driver_label(feature: str, lang: str = "en") -> str:
    return feature_label(feature, lang)
