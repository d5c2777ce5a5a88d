"""Cox proportional-hazards model on one row per account, with its assumption checked and repaired.

.. math:: h_i(t) = h_{0,s(i)}(t) \\exp(x_i^\\top \\beta)

``t`` is tenure in months, ``s(i)`` the account's stratum (each stratum has its own baseline hazard),
``exp(beta_j)`` the hazard ratio of covariate ``j``: the factor by which one unit more (or this level
instead of the reference) multiplies the monthly risk of churning, at any tenure.

:class:`CoxModel` (scikit-learn conventions: parameters in ``__init__``, ``fit`` returns ``self``, learned
attributes end in ``_``; lifelines conventions: ``summary``, ``print_summary``, ``_repr_html_``, ``plot``)

1. encodes the covariates (:class:`~engage_models.survival.design.Design`);
2. chooses the ridge penalizer by cross-validated concordance (:func:`choose_penalizer`) unless given;
3. fits lifelines' ``CoxPHFitter`` (left truncation through ``entry_col``);
4. tests proportional hazards with scaled Schoenfeld residuals (:func:`~._riskset.ph_test`, which accepts
   left-truncated data, unlike lifelines), and where a covariate fails at ``ph_alpha``:

   * a categorical covariate becomes a stratum (its own baseline curve; it no longer has a hazard ratio);
   * a numeric covariate gets a time interaction: separate hazard ratios before and after the median
     churn tenure ``tau`` (``x 1(t <= tau)`` and ``x 1(t > tau)``, fitted on split episodes with lifelines'
     ``CoxTimeVaryingFitter``);

   then refits and tests again; ``remedies_`` and :meth:`CoxModel.assumptions_text` say what was done;
5. predicts curves with a Breslow baseline per stratum, extended past the last observed tenure with the
   average hazard of the last ``tail_window`` months (:class:`~.curves.SurvivalCurves`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"plan": rng.choice(["basic", "pro"], 300, p=[0.6, 0.4]), "seats": rng.integers(1, 50, 300)})
>>> rate = 0.03 * np.where(df["plan"] == "pro", 0.5, 1.0)
>>> df["duration"] = np.minimum(rng.exponential(1 / rate), 36.0)
>>> df["event"] = (df["duration"] < 36).astype(int)
>>> m = CoxModel(covariates=["plan", "seats"], penalizer=0.0).fit(df)   # reference: basic, the most common
>>> bool(m.summary.loc["plan=pro", "hazard_ratio"] < 1)
True
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from lifelines.exceptions import ConvergenceWarning
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._core.i18n import fmt_number, t
from . import _riskset
from .curves import SurvivalCurves, tail_hazard
from .data import usable
from .design import Design

log = logging.getLogger(__name__)

PENALIZERS = (0.0, 0.001, 0.01, 0.1, 1.0)


@contextmanager
def lifelines_convergence_logged():
    """lifelines' ConvergenceWarnings (low variance, near-separation...) go to the log, once per message;
    any other warning passes through unchanged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            msg = str(w.message).strip().splitlines()[0]
            if msg not in seen:
                seen.add(msg)
                log.info("lifelines: %s", msg)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def coefficient_table(params: pd.Series, variance: pd.DataFrame | np.ndarray, alpha: float = 0.05,
                      ratio: str = "hazard_ratio") -> pd.DataFrame:
    """coef, se, ratio ``exp(coef)`` with its ``1 - alpha`` Wald interval, z and p, one row per term."""
    se = np.sqrt(np.diag(np.asarray(variance, dtype=float)))
    z = stats.norm.ppf(1 - alpha / 2)
    coef = params.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = coef / se
    return pd.DataFrame({
        "coef": coef, "se": se, ratio: np.exp(coef), "ci_low": np.exp(coef - z * se),
        "ci_high": np.exp(coef + z * se), "z": zval, "p": 2 * stats.norm.sf(np.abs(zval)),
    }, index=pd.Index(params.index, name="term"))


def plot_forest(summary: pd.DataFrame, ax=None, lang: str = "en", ratio: str = "hazard_ratio", labels=None):
    """Hazard (or odds) ratios with their 95% intervals on a log axis; 1 = no effect."""
    from .._core.plots import new_ax

    ax = new_ax(ax, figsize=(8, 0.45 * len(summary) + 1.2))
    y = np.arange(len(summary))[::-1]
    names = [labels.get(n, n) for n in summary.index] if labels else list(summary.index)
    harmful = summary[ratio] > 1
    colours = np.where(harmful, "#d55e00", "#0072b2")
    ax.hlines(y, summary["ci_low"], summary["ci_high"], colors=colours, lw=2)
    ax.scatter(summary[ratio], y, c=colours, zorder=3)
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    lo, hi = float(summary["ci_low"].min()), float(summary["ci_high"].max())
    nice = np.array([0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 10, 20])
    shown = nice[(nice >= min(lo, 1) * 0.9) & (nice <= max(hi, 1) * 1.1)]
    if len(shown) >= 2:
        ax.set_xticks(shown)
        ax.set_xticklabels([f"{v:g}" for v in shown])
        ax.minorticks_off()
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.set_xlabel(t(ratio, lang) + " " + t("surv.log_scale", lang))
    ax.grid(axis="y", visible=False)
    return ax


class CoxModel(BaseEstimator):
    """Cox PH on account rows: penalizer by cross-validated concordance, PH tested and remedied.

    Parameters
    ----------
    covariates : list of str
        Columns used as covariates (categorical ones are one-hot encoded against their most common level).
    categorical : list of str, optional
        Numeric-looking columns to treat as categorical.
    strata : list of str, optional
        Categorical columns to stratify on from the start (their own baseline hazard, no hazard ratio).
    duration_col, event_col, entry_col : str
        Tenure (months), churn indicator (1 churned, 0 censored), and entry tenure for left truncation.
    penalizer : float, optional
        Ridge penalty (lifelines' ``penalizer``, on standardised covariates). ``None``: chosen among
        ``penalizers`` by ``cv``-fold cross-validated Harrell's C (:func:`pick_penalizer`).
    check_ph, ph_alpha, remedy : bool, float, bool
        Test proportional hazards; significance level for "fails"; repair failures (see module docstring).
    time_split, split_time : list of str, float, optional
        Numeric covariates given separate effects before/after ``split_time`` months from the start
        (default split: the median churn tenure). The remedy fills these in; :meth:`refit_params` passes
        them on so that a refit (bootstrap) reproduces the final model without testing again.
    tail_window : float
        Months over which the hazard beyond the last observed tenure is averaged.
    """

    def __init__(self, covariates=None, categorical=None, strata=None, duration_col="duration", event_col="event",
                 entry_col=None, penalizer=None, penalizers=PENALIZERS, cv=5, check_ph=True, ph_alpha=0.01,
                 remedy=True, time_split=None, split_time=None, tail_window=12.0, random_state=0):
        self.covariates = covariates
        self.categorical = categorical
        self.strata = strata
        self.duration_col = duration_col
        self.event_col = event_col
        self.entry_col = entry_col
        self.penalizer = penalizer
        self.penalizers = penalizers
        self.cv = cv
        self.check_ph = check_ph
        self.ph_alpha = ph_alpha
        self.remedy = remedy
        self.time_split = time_split
        self.split_time = split_time
        self.tail_window = tail_window
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------- fitting
    def _prepare(self, df: pd.DataFrame) -> pd.DataFrame:
        need = [self.duration_col, self.event_col] + ([self.entry_col] if self.entry_col else [])
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"column(s) {missing} not in the table")
        covs = list(self.covariates or [])
        strata = list(self.strata or [])
        complete = df[covs + strata].notna().all(axis=1)
        if (~complete).any():
            log.warning("%d row(s) with a missing covariate left out of the Cox model", int((~complete).sum()))
        data = usable(df[complete], self.duration_col, self.entry_col)
        if data[self.event_col].sum() < 2:
            raise ValueError("fewer than 2 churn events: nothing to fit a Cox model on")
        return data

    def fit(self, df: pd.DataFrame) -> CoxModel:
        """Fit on one row per account; returns ``self``."""
        covs = list(self.covariates or [])
        data = self._prepare(df)
        self.design_ = Design.fit(data, covs, self.categorical)
        self.n_accounts_ = len(data)
        self.n_events_ = int(data[self.event_col].sum())
        if self.penalizer is None and len(self.penalizers) > 1:
            self.cv_results_ = choose_penalizer(self, data, self.penalizers, cv=self.cv,
                                                random_state=self.random_state)
            self.penalizer_ = pick_penalizer(self.cv_results_, "harrell_c")
        else:
            self.cv_results_ = None
            self.penalizer_ = float(self.penalizer if self.penalizer is not None else self.penalizers[0])
        self.strata_ = list(self.strata or [])
        self.time_split_ = list(self.time_split or [])  # numeric covariates with separate early/late effects
        self.split_time_ = float(self.split_time if self.split_time is not None
                                 else np.median(data.loc[data[self.event_col] == 1, self.duration_col]))
        self.remedies_ = []
        self._fit_once(data)
        self.ph_test_ = self.ph_test_after_ = None
        if self.check_ph and self.design_.terms:
            self.ph_test_ = self._ph_table(data)
            if self.remedy:
                self._apply_remedies(data)
        return self

    def _covariates_in_model(self) -> list[str]:
        return [c for c in self.design_.covariates if c not in self.strata_]

    def _model_design(self) -> Design:
        covs = self._covariates_in_model()
        return Design(covs, {c: v for c, v in self.design_.levels.items() if c in covs})

    def _episodes(self, data: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
        """Rows split at ``split_time_`` with ``x_early`` / ``x_late`` columns for the split covariates."""
        tau = self.split_time_
        entry = data[self.entry_col].to_numpy(float) if self.entry_col else np.zeros(len(data))
        dur = data[self.duration_col].to_numpy(float)
        ev = data[self.event_col].to_numpy(int)
        parts = []
        for early in (True, False):
            lo = entry if early else np.maximum(entry, tau)
            hi = np.minimum(dur, tau) if early else dur
            m = hi > lo
            p = X[m].copy()
            for c in self.time_split_:
                p[self._split_name(c, True)] = p[c] * early
                p[self._split_name(c, False)] = p[c] * (not early)
                del p[c]
            p["_start"], p["_stop"] = lo[m], hi[m]
            p["_event"] = ev[m] * (hi[m] == dur[m])
            p["_id"] = np.flatnonzero(m)
            for s in self.strata_:
                p[s] = data[s].to_numpy()[m]
            parts.append(p)
        return pd.concat(parts, ignore_index=True)

    def _split_name(self, c: str, early: bool) -> str:
        return f"{c} [t<={self.split_time_:.1f}]" if early else f"{c} [t>{self.split_time_:.1f}]"

    def _fit_once(self, data: pd.DataFrame) -> None:
        design = self._model_design()
        X = design.transform(data)
        strata = self.strata_ or None
        with lifelines_convergence_logged():
            if X.shape[1] == 0:  # everything stratified: only baselines
                self.model_ = None
                self.params_ = pd.Series(dtype=float)
                self.variance_ = pd.DataFrame()
                start = data[self.entry_col].to_numpy(float) if self.entry_col else np.zeros(len(data))
                self._fit_baseline(start, data[self.duration_col].to_numpy(float),
                                   data[self.event_col].to_numpy(int), X, data, None)
                return
            if not self.time_split_:
                frame = X.copy()
                frame["_duration"] = data[self.duration_col].to_numpy(float)
                frame["_event"] = data[self.event_col].to_numpy(int)
                if self.entry_col:
                    frame["_entry"] = data[self.entry_col].to_numpy(float)
                for s in self.strata_:
                    frame[s] = data[s].astype(str).to_numpy()
                model = CoxPHFitter(penalizer=self.penalizer_)
                model.fit(frame, "_duration", "_event", entry_col="_entry" if self.entry_col else None,
                          strata=strata)
                start = frame["_entry"].to_numpy() if self.entry_col else np.zeros(len(frame))
                stop, event = frame["_duration"].to_numpy(), frame["_event"].to_numpy()
                Xm = X
            else:
                ep = self._episodes(data, X)
                for s in self.strata_:
                    ep[s] = ep[s].astype(str)
                model = CoxTimeVaryingFitter(penalizer=self.penalizer_)
                model.fit(ep, event_col="_event", start_col="_start", stop_col="_stop", id_col="_id", strata=strata)
                start, stop, event = ep["_start"].to_numpy(), ep["_stop"].to_numpy(), ep["_event"].to_numpy()
                Xm = ep[list(model.params_.index)]
        self.model_ = model
        self.params_ = model.params_.copy()
        self.variance_ = pd.DataFrame(np.asarray(model.variance_matrix_), index=self.params_.index,
                                      columns=self.params_.index)
        self._fit_baseline(start, stop, event, Xm, data, ep if self.time_split_ else None)

    def _strata_key(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.strata_:
            return np.zeros(len(frame), dtype=object)
        return frame[self.strata_].astype(str).agg(" / ".join, axis=1).to_numpy()

    def _fit_baseline(self, start, stop, event, Xm, data, episodes) -> None:
        lp = Xm[list(self.params_.index)].to_numpy(float) @ self.params_.to_numpy(float)
        self.lp_offset_ = float(np.mean(lp)) if len(lp) else 0.0
        strata = self._strata_key(episodes if episodes is not None else data)
        self.baseline_ = _riskset.breslow(start, stop, event, lp - self.lp_offset_, strata)
        self.tail_hazard_ = {s: tail_hazard(np.r_[0.0, tm], np.r_[0.0, h], self.tail_window)
                             for s, (tm, h) in self.baseline_.items()}

    # -------------------------------------------------------------------------------- assumption checks
    def _ph_table(self, data: pd.DataFrame) -> pd.DataFrame:
        X = self._model_design().transform(data)
        if self.time_split_:
            ep = self._episodes(data, X)
            start, stop, event = ep["_start"], ep["_stop"], ep["_event"]
            Xm, strata = ep[list(self.params_.index)], self._strata_key(ep)
        else:
            start = data[self.entry_col] if self.entry_col else np.zeros(len(data))
            stop, event = data[self.duration_col], data[self.event_col]
            Xm, strata = X[list(self.params_.index)], self._strata_key(data)
        res = _riskset.ph_test(start, stop, event, Xm, self.params_, self.variance_, self.params_.index, strata)
        covariate_of = self.design_.term_covariate()
        res["covariate"] = [covariate_of.get(term, term.split(" [")[0]) for term in res["term"]]
        res["proportional"] = res["p"] >= self.ph_alpha
        return res[["covariate", "term", "test_statistic", "p", "slope", "proportional"]]

    def _apply_remedies(self, data: pd.DataFrame) -> None:
        failing = self.ph_test_[~self.ph_test_["proportional"]]
        if failing.empty:
            return
        for cov, rows in failing.groupby("covariate", sort=False):
            p = float(rows["p"].min())
            if cov in self.design_.levels:
                self.strata_.append(cov)
                self.remedies_.append({"covariate": cov, "action": "stratified", "p_before": p})
            else:
                self.time_split_.append(cov)
                self.remedies_.append({"covariate": cov, "action": "time_split", "p_before": p,
                                       "split_months": self.split_time_})
        if not self._covariates_in_model():
            log.info("every covariate became a stratum: the model has no hazard ratio left")
        self._fit_once(data)
        self.ph_test_after_ = self._ph_table(data) if len(self.params_) else None
        log.info("PH remedies applied: %s", self.remedies_)

    def refit_params(self) -> dict:
        """Parameters that refit the final model (penalizer, strata, time split) with no selection or test."""
        check_is_fitted(self, "params_")
        return {"penalizer": self.penalizer_, "strata": list(self.strata_), "time_split": list(self.time_split_),
                "split_time": self.split_time_, "check_ph": False}

    # ---------------------------------------------------------------------------------------- results
    @property
    def summary(self) -> pd.DataFrame:
        """Hazard ratios with 95% intervals, one row per term (``column=level`` for categorical levels)."""
        check_is_fitted(self, "params_")
        return coefficient_table(self.params_, self.variance_)

    def standardized_effects(self, df: pd.DataFrame) -> pd.Series:
        """``coef x SD`` of each numeric term in ``df``: the log hazard ratio of one standard deviation."""
        X = self._model_design().transform(df)
        return pd.Series({k: v * X[k].std() for k, v in self.params_.items() if k in X}, name="std_effect")

    def print_summary(self, file=None, decimals: int = 3) -> None:
        """The model in text: sample, penalizer, strata, remedies and the hazard-ratio table."""
        out = file or sys.stdout
        print(f"<CoxModel: {self.n_accounts_} accounts, {self.n_events_} churned, penalizer {self.penalizer_:g}>",
              file=out)
        if self.strata_:
            print(f"strata: {', '.join(self.strata_)}", file=out)
        for r in self.remedies_:
            print(f"PH remedy: {r['covariate']} -> {r['action']} (p = {r['p_before']:.2g})", file=out)
        print(self.summary.round(decimals).to_string(), file=out)

    def _repr_html_(self) -> str:
        from .._core.display import table

        head = (f"<p><strong>Cox model</strong>: {self.n_accounts_:,} accounts, {self.n_events_:,} churned, "
                f"penalizer {self.penalizer_:g}</p>")
        return head + table(self.summary.reset_index(), decimals=3)._repr_html_()

    def plot(self, ax=None, lang: str = "en"):
        """Forest plot of the hazard ratios."""
        return plot_forest(self.summary, ax=ax, lang=lang)

    def assumptions_text(self, lang: str = "en") -> str:
        """The proportional-hazards check and what was done about it, in plain words."""
        check_is_fitted(self, "params_")
        if self.ph_test_ is None:
            return t("surv.ph_not_checked", lang)
        parts = []
        if not self.remedies_:
            parts.append(t("surv.ph_ok", lang, alpha=f"{self.ph_alpha:g}"))
        for r in self.remedies_:
            p = f"{r['p_before']:.2g}"
            if r["action"] == "stratified":
                parts.append(t("surv.ph_stratified", lang, covariate=t(r["covariate"], lang), p=p))
            else:
                parts.append(t("surv.ph_time_split", lang, covariate=t(r["covariate"], lang), p=p,
                               months=fmt_number(r["split_months"], lang, 1)))
        if self.remedies_ and self.ph_test_after_ is not None:
            still = self.ph_test_after_[~self.ph_test_after_["proportional"]]
            if still.empty:
                parts.append(t("surv.ph_after_ok", lang))
            else:
                parts.append(t("surv.ph_after_fail", lang, terms=", ".join(still["term"])))
        return " ".join(parts)

    # ------------------------------------------------------------------------------------- prediction
    def _knots(self) -> np.ndarray:
        times = [tm for tm, _ in self.baseline_.values() if len(tm)]
        return np.unique(np.concatenate([[0.0], *times]))

    def predict_curves(self, df: pd.DataFrame) -> SurvivalCurves:
        """Survival curves of the rows of ``df`` with all covariates present (index kept)."""
        check_is_fitted(self, "params_")
        need = self.design_.covariates + self.strata_
        ok = df[need].notna().all(axis=1)
        rows = df[ok]
        X = self._model_design().transform(rows)
        knots = self._knots()
        strata = self._strata_key(rows)
        unknown = set(strata) - set(self.baseline_)
        if unknown:
            raise ValueError(f"strata not seen in fitting: {sorted(unknown)}")
        # baseline increments per stratum on the shared knots
        keys = list(self.baseline_)
        dH = np.zeros((len(knots), len(keys)))
        for j, s in enumerate(keys):
            tm, h = self.baseline_[s]
            if len(tm):
                dH[np.searchsorted(knots, tm), j] = np.diff(np.r_[0.0, h])
        col = np.array([keys.index(s) for s in strata], dtype=int)
        tail = np.array([self.tail_hazard_[s] for s in strata])
        if not self.time_split_:
            lp = X[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float) - self.lp_offset_
            ph = np.exp(lp)
            cumhaz = np.cumsum(dH, axis=0)[:, col] * ph[None, :]
            return SurvivalCurves(knots, cumhaz, tail * ph, rows.index)
        lps = {}
        for early in (True, False):
            Xe = X.copy()
            for c in self.time_split_:
                Xe[self._split_name(c, True)] = Xe[c] * early
                Xe[self._split_name(c, False)] = Xe[c] * (not early)
            lps[early] = Xe[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float) - self.lp_offset_
        early_knot = (knots <= self.split_time_)[:, None]
        ph = np.where(early_knot, np.exp(lps[True])[None, :], np.exp(lps[False])[None, :])
        cumhaz = np.cumsum(dH[:, col] * ph, axis=0)
        return SurvivalCurves(knots, cumhaz, tail * np.exp(lps[False]), rows.index)

    def predict_risk(self, df: pd.DataFrame, t0=0.0, horizon: float = 12.0) -> pd.Series:
        """Probability of churning within ``horizon`` months of tenure ``t0`` (given survival to ``t0``)."""
        curves = self.predict_curves(df)
        t0 = t0 if np.isscalar(t0) else np.asarray(pd.Series(t0, index=df.index).loc[curves.index])
        return pd.Series(curves.churn_probability(t0, horizon), index=curves.index, name="churn_probability")


#: Differences in cross-validated concordance below this are ties.
CONCORDANCE_TIE = 0.002


def pick_penalizer(results: pd.DataFrame, score: str) -> float:
    """The penalizer with the best cross-validated ``score``; near-ties go to the smallest penalizer.

    Concordance depends only on how accounts are ranked, so it barely moves when a penalty shrinks every
    coefficient towards 0 together; between penalizers it cannot tell apart (within ``CONCORDANCE_TIE``) the
    smallest is kept, because it biases the hazard ratios (and the predicted curves) the least.
    """
    best = results[score].max()
    near = results[results[score] >= best - CONCORDANCE_TIE]
    return float(near["penalizer"].min())


def choose_penalizer(model: CoxModel, data: pd.DataFrame, penalizers=PENALIZERS, cv: int = 5,
                     random_state: int = 0) -> pd.DataFrame:
    """Cross-validated Harrell's C of ``model`` (PH checks off) for each penalizer; one row per penalizer."""
    from .evaluation import cross_validate

    rows = []
    for p in penalizers:
        m = clone(model).set_params(penalizer=p, check_ph=False)
        res = cross_validate(m, data, cv=cv, random_state=random_state, duration_col=model.duration_col,
                             event_col=model.event_col, entry_col=model.entry_col, horizons=(12,))
        rows.append({"penalizer": p, "harrell_c": res["harrell_c"]["mean"], "harrell_c_sd": res["harrell_c"]["sd"],
                     "uno_c": res["uno_c"]["mean"]})
    return pd.DataFrame(rows)
