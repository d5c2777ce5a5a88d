"""The health score on any account table a user brings (``engage fit``).

One row per account (or per account and date), numeric and categorical columns, a 0/1 label column and an
optional date column. Validation is out-of-time when a date column is given (rolling origin, as in the
panel backtest) and stratified cross-validation otherwise. Writes ``scorecard.csv``, ``scores.parquet``,
``evaluation.json`` and a small self-contained ``report.html``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from .._core.errors import DataError
from .._core.io import read_table, write_csv  # noqa: F401  (read_table: the CLI reads tables with it)
from . import evaluation as E
from .score import ChurnGBM, HandWeightedScore, HealthScore

log = logging.getLogger(__name__)
_TRUE = {"1", "true", "yes", "y", "churned", "t"}
_FALSE = {"0", "false", "no", "n", "retained", "active", "f"}


class TableError(DataError):
    """The table cannot be used as given (message names the file, column and rows)."""


def _label(series: pd.Series, where: str) -> pd.Series:
    """0/1 (float, NaN where missing) from 0/1, booleans or yes/no text; other values are an error."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        bad = series.notna() & ~series.isin([0, 1])
    else:
        text = series.astype("string").str.strip().str.lower()
        mapped = text.map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan)
        bad = series.notna() & mapped.isna()
        series = mapped
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()  # 1-based data rows after the header
        raise TableError(f"{where}: label values must be 0/1, true/false or yes/no; "
                         f"{int(bad.sum())} row(s) are not (first at data rows {rows})")
    return series.astype(float)


def prepare(df: pd.DataFrame, label: str, date_col: str | None = None, id_col: str | None = None,
            where: str = "table") -> tuple[pd.DataFrame, pd.Series, dict]:
    """Features, label and a report of what was done (dropped rows and columns, missing values)."""
    for col, what in ((label, "label"), (date_col, "date"), (id_col, "id")):
        if col and col not in df.columns:
            raise TableError(f"{where}: no {what} column {col!r} (columns: {', '.join(map(str, df.columns))})")
    df = df.copy()
    y = _label(df[label], f"{where}, column {label!r}")
    report = {"rows": int(len(df)), "rows_without_label": int(y.isna().sum())}
    if date_col:
        dates = pd.to_datetime(df[date_col], utc=True, errors="coerce")
        bad = dates.isna() & df[date_col].notna()
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy())[:5] + 2).tolist()
            raise TableError(f"{where}, column {date_col!r}: {int(bad.sum())} unparseable date(s) "
                             f"(first at data rows {rows})")
        df[date_col] = dates
    keep = y.notna().to_numpy()
    df, y = df.loc[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    # the id travels as "__id" (a cluster for the bootstrap, never a feature)
    df["__id"] = df[id_col].to_numpy() if id_col else np.arange(len(df))
    used, dropped = [], {}
    for c in df.columns:
        if c in (label, date_col, id_col, "__id"):
            continue
        s = df[c]
        if pd.api.types.is_bool_dtype(s):
            df[c] = s.astype("string")
            used.append(c)
        elif pd.api.types.is_numeric_dtype(s):
            if s.notna().sum() == 0 or s.nunique() < 2:
                dropped[c] = "constant or empty"
            else:
                used.append(c)
        elif s.nunique() <= 50:
            df[c] = s.astype("string")
            used.append(c)
        else:
            dropped[c] = f"text with {s.nunique()} distinct values (an identifier?)"
    if not used:
        raise TableError(f"{where}: no usable feature column besides the label/date/id")
    report.update({
        "features": used, "dropped_columns": dropped,
        "missing_values": {c: int(df[c].isna().sum()) for c in used if df[c].isna().any()},
        "churn_rate": float(y.mean()),
    })
    if y.nunique() < 2:
        raise TableError(f"{where}: the label {label!r} has a single value; nothing to learn")
    cols = used + ([date_col] if date_col else []) + ["__id"]
    return df[cols], y.astype(int), report


def _cv_predictions(models: dict, X: pd.DataFrame, y: pd.Series, folds: int, seed: int) -> pd.DataFrame:
    """Out-of-fold predictions of every model (stratified folds; ``as_of`` holds the fold number)."""
    preds = []
    k = int(min(folds, y.value_counts().min()))
    if k < 2:
        raise TableError("too few churners (or non-churners) for cross-validation")
    for i, (tr, va) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y)):
        for name, make in models.items():
            m = make().fit(X.iloc[tr], y.iloc[tr])
            preds.append(pd.DataFrame({"as_of": i, "account_id": X.iloc[va]["__id"].to_numpy(),
                                       "y": y.iloc[va].to_numpy(), "model": name,
                                       "p": m.predict_proba(X.iloc[va])[:, 1]}))
    return pd.concat(preds, ignore_index=True)


def fit_table(df: pd.DataFrame, label: str, out_dir: str | Path, *, date_col: str | None = None,
              id_col: str | None = None, horizon_days: int = 90, n_cutoffs: int = 4, folds: int = 5,
              hand_scorecard=None, n_bootstrap: int = 100, n_boot_eval: int = 200, seed: int = 0,
              where: str = "table", lang: str = "en") -> dict:
    """Fit, validate and write the learned score for a user's table. Returns the evaluation dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, y, report = prepare(df, label, date_col, id_col, where)
    id_name = "__id"
    models = {
        "learned": lambda: HealthScore(date_col=date_col or "__none", id_col=id_name, gap_days=horizon_days,
                                       n_bootstrap=0, random_state=seed),
        "gbm": lambda: ChurnGBM(date_col=date_col or "__none", id_col=id_name, random_state=seed),
    }
    if hand_scorecard is not None:
        models["hand"] = lambda: HandWeightedScore(hand_scorecard)
    if date_col:
        panel = X.assign(**{label: y.to_numpy()})
        bt = E.backtest(panel, models, horizon_days=horizon_days, n_cutoffs=n_cutoffs, label=label,
                        date_col=date_col, id_col=id_name)
        preds, method = bt.predictions, {
            "method": "out-of-time (rolling origin)", "cutoffs": [str(c.date()) for c in bt.cutoffs],
            "train_rule": f"rows with {date_col} + {horizon_days} days <= cutoff; test: rows at the cutoff"}
    else:
        preds = _cv_predictions(models, X, y, folds, seed)
        method = {"method": f"stratified {folds}-fold cross-validation (no date column: not out-of-time)"}
    w = preds.pivot_table(index=["as_of", "account_id", "y"], columns="model", values="p").reset_index()
    boot = E.bootstrap(w["y"], {m: w[m] for m in models}, w["account_id"], n_boot=n_boot_eval, seed=seed)
    evaluation = {
        "validation": method,
        "models": {m: {r.metric: {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high}
                       for r in boot[boot["model"] == m].itertuples()} for m in models},
        "data": report,
    }
    # the final model on every row
    final = HealthScore(date_col=date_col or "__none", id_col=id_name, gap_days=horizon_days,
                        n_bootstrap=n_bootstrap, random_state=seed).fit(X, y)
    card = final.scorecard(lang)
    write_csv(card, out / "scorecard.csv")
    proba = final.predict_proba(X)[:, 1]
    scores = pd.DataFrame({"id": X[id_name].to_numpy()})
    if date_col:
        scores["date"] = X[date_col].to_numpy()
    scores["score"] = final.health_score(X).to_numpy()
    scores["churn_probability"] = proba
    scores["band"] = final.bands(proba=proba).to_numpy()
    scores["drivers"] = final.drivers(X, lang=lang)["drivers_text"].to_numpy()
    scores.to_parquet(out / "scores.parquet", index=False)
    evaluation["final_model"] = {"C": final.C_, "thresholds": list(final.thresholds_), "cv": final.cv_kind_}
    (out / "evaluation.json").write_text(json.dumps(evaluation, indent=2, default=_json) + "\n", encoding="utf-8")
    _write_report(out / "report.html", card, boot, w, evaluation, models)
    return evaluation


def _json(v):
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return str(v)


def _write_report(path: Path, card: pd.DataFrame, boot: pd.DataFrame, w: pd.DataFrame, evaluation: dict,
                  models) -> None:
    """A one-page HTML report: validation, model comparison, calibration plot, scorecard. Nothing fetched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._core.plots import setup

    setup("en")
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for m in models:
        c = E.calibration_curve(w["y"], w[m], bins=10)
        ax.plot(c["predicted"], c["observed"], marker="o", label=m)
    top = float(max(w[list(models)].max().max(), w["y"].mean() * 2))
    ax.plot([0, top], [0, top], "--", color="grey", linewidth=0.8)
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.legend(frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode("ascii")
    comparison = E.summary_view(boot).to_html(index=False, escape=True, border=0)
    scorecard = card[["label", "weight", "ci_low", "ci_high", "points_range", "delta_churn_probability"]].round(4)
    data = evaluation["data"]
    body = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>engage fit report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2rem auto}}table{{border-collapse:collapse;font-size:.85rem}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}}</style></head><body>
<h1>Learned health score</h1>
<p>{data['rows']:,} rows ({data['rows_without_label']:,} without a label, left out); churn rate
{100 * data['churn_rate']:.1f}%. Validation: {html.escape(evaluation['validation']['method'])}.</p>
<h2>Models compared (95% intervals, bootstrap over accounts)</h2>{comparison}
<h2>Calibration</h2>
<img alt="calibration: observed against predicted churn by decile" src="data:image/png;base64,{img}">
<h2>Scorecard</h2>{scorecard.to_html(index=False, escape=True, border=0)}
<h2>Data</h2><p>Missing values (imputed with the median plus an indicator):
{html.escape(json.dumps(data['missing_values']))}.
Columns left out: {html.escape(json.dumps(data['dropped_columns']))}.</p>
</body></html>"""
    path.write_text(body, encoding="utf-8")
