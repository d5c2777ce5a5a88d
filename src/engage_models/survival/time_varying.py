"""Hazard models on start/stop rows: Cox with time-varying covariates and a discrete-time logistic check.

Input is a long DataFrame with one row per account and interval of tenure ``(start, stop]`` (months), the
covariates measured at the start of the interval, and ``event = 1`` on the interval that ended in churn
(:func:`~engage_models.survival.data.panel_to_start_stop` builds it from the engagement panel).

:class:`TimeVaryingCox`
    :math:`h_i(t) = h_0(t) \\exp(x_i(t)^\\top \\beta)` fitted with lifelines' ``CoxTimeVaryingFitter``.
    ``standardized_effects`` (coefficient x covariate SD) make drivers on different scales comparable.
:class:`DiscreteTimeHazard`
    logistic regression on the rows (person-periods):
    :math:`\\mathrm{logit}\\, P(\\text{churn in period} \\mid x) = \\alpha_{b(t)} + x^\\top \\beta`, with
    ``alpha`` a baseline per tenure band ``b(t)``. For monthly periods and small hazards, ``beta`` is close to
    the Cox log hazard ratios; a disagreement points at a problem in either. It can also expand one row per
    account into monthly rows itself (``period_width``), for account tables without a panel.

Both predict curves for accounts whose covariates are held at their current values (a *landmark*
prediction: "if nothing changes from today").
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
from lifelines import CoxTimeVaryingFitter
from scipy import optimize
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from . import _riskset
from .cox import PENALIZERS, coefficient_table, lifelines_convergence_logged, pick_penalizer, plot_forest
from .curves import SurvivalCurves, tail_hazard
from .data import person_period
from .design import Design

log = logging.getLogger(__name__)


def risk_set_concordance(start, stop, event, lp) -> float:
    """Time-dependent concordance: at each churn, is the churner's current risk above the others' at risk?

    .. math:: C = \\frac{\\sum_{i: D_i} \\sum_{j \\in R(T_i), j \\ne i} [1(lp_i > lp_j) + \\tfrac12 1(lp_i = lp_j)]}
              {\\sum_{i: D_i} (|R(T_i)| - 1)}

    with ``R(t)`` the rows with ``start < t <= stop`` and ``lp`` each row's linear predictor (its value in
    the interval containing ``t``). For covariates that do not vary, this is Harrell's C.
    """
    start, stop, lp = (np.asarray(a, float) for a in (start, stop, lp))
    event = np.asarray(event).astype(bool)
    conc = total = 0.0
    for i in np.flatnonzero(event):
        at = (start < stop[i]) & (stop[i] <= stop)
        at[i] = False
        others = lp[at]
        if not len(others):
            continue
        conc += (others < lp[i]).sum() + 0.5 * (others == lp[i]).sum()
        total += len(others)
    return conc / total if total else float("nan")


class _StartStopModel(BaseEstimator):
    """Shared plumbing: design, cross-validated penalizer, summary, forest plot."""

    ratio = "hazard_ratio"

    def _check(self, df: pd.DataFrame) -> pd.DataFrame:
        need = [self.start_col, self.stop_col, self.event_col, self.id_col, *(self.covariates or [])]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"column(s) {missing} not in the table")
        ok = df[list(self.covariates or [])].notna().all(axis=1) & (df[self.stop_col] > df[self.start_col])
        if (~ok).any():
            log.warning("%d row(s) with a missing covariate or no length left out", int((~ok).sum()))
        return df[ok]

    def _choose_penalizer(self, df: pd.DataFrame) -> None:
        if self.penalizer is not None or len(self.penalizers) < 2:
            self.penalizer_ = float(self.penalizer if self.penalizer is not None else self.penalizers[0])
            self.cv_results_ = None
            return
        rows = []
        for p in self.penalizers:
            res = cross_validate_start_stop(clone(self).set_params(penalizer=p), df, cv=self.cv,
                                            random_state=self.random_state)
            rows.append({"penalizer": p, "concordance": res["concordance"]["mean"],
                         "concordance_sd": res["concordance"]["sd"]})
        self.cv_results_ = pd.DataFrame(rows)
        self.penalizer_ = pick_penalizer(self.cv_results_, "concordance")

    def refit_params(self) -> dict:
        check_is_fitted(self, "params_")
        return {"penalizer": self.penalizer_}

    @property
    def summary(self) -> pd.DataFrame:
        check_is_fitted(self, "params_")
        return coefficient_table(self.params_, self.variance_, ratio=self.ratio)

    def summary_per_sd(self) -> pd.DataFrame:
        """:attr:`summary` with every non-binary term rescaled to one standard deviation of its covariate
        (``coef x SD``, ratio and interval raised to the power SD), so drivers on different scales compare.
        Indicators (categories, ``_missing`` flags) keep their 0 -> 1 effect."""
        s = self.summary.copy()
        k = pd.Series(1.0, index=s.index)
        cont = [c for c in s.index if c not in self.binary_terms_]
        k[cont] = self.term_sd_.reindex(cont).to_numpy()
        s["coef"], s["se"] = s["coef"] * k, s["se"] * k
        for c in (self.ratio, "ci_low", "ci_high"):
            s[c] = s[c] ** k
        s["per"] = np.where(s.index.isin(cont), "sd", "unit")
        return s

    def standardized_effects(self, df: pd.DataFrame | None = None) -> pd.Series:
        """``coef x SD(covariate)`` per term (SD over the fitted rows unless ``df`` is given)."""
        check_is_fitted(self, "params_")
        sd = self.design_.transform(df).std() if df is not None else self.term_sd_
        return (self.params_ * sd.reindex(self.params_.index)).rename("std_effect")

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """``x^T beta`` of each row (relative to the fitted rows' mean)."""
        X = self.design_.transform(df)
        return pd.Series(X[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float) - self.lp_offset_,
                         index=df.index)

    def plot(self, ax=None, lang: str = "en"):
        return plot_forest(self.summary, ax=ax, lang=lang, ratio=self.ratio)

    def print_summary(self, file=None, decimals: int = 3) -> None:
        out = file or sys.stdout
        print(f"<{type(self).__name__}: {self.n_rows_} rows, {self.n_accounts_} accounts, {self.n_events_} churned, "
              f"penalizer {self.penalizer_:g}>", file=out)
        print(self.summary.round(decimals).to_string(), file=out)

    def _repr_html_(self) -> str:
        from .._core.display import table

        head = (f"<p><strong>{type(self).__name__}</strong>: {self.n_rows_:,} rows, {self.n_accounts_:,} accounts, "
                f"{self.n_events_:,} churned, penalizer {self.penalizer_:g}</p>")
        return head + table(self.summary.reset_index(), decimals=3)._repr_html_()


class TimeVaryingCox(_StartStopModel):
    """Cox model with time-varying covariates on start/stop rows (lifelines ``CoxTimeVaryingFitter``).

    Parameters
    ----------
    covariates : list of str
    categorical : list of str, optional
    id_col, start_col, stop_col, event_col : str
    penalizer : float, optional
        ``None``: chosen among ``penalizers`` by cross-validated risk-set concordance (folds of accounts).
    tail_window : float
        Months over which the hazard beyond the last observed tenure is averaged.
    """

    def __init__(self, covariates=None, categorical=None, id_col="account_id", start_col="start", stop_col="stop",
                 event_col="event", penalizer=None, penalizers=PENALIZERS, cv=5, tail_window=12.0, random_state=0):
        self.covariates = covariates
        self.categorical = categorical
        self.id_col = id_col
        self.start_col = start_col
        self.stop_col = stop_col
        self.event_col = event_col
        self.penalizer = penalizer
        self.penalizers = penalizers
        self.cv = cv
        self.tail_window = tail_window
        self.random_state = random_state

    def fit(self, df: pd.DataFrame) -> TimeVaryingCox:
        data = self._check(df)
        self.design_ = Design.fit(data, list(self.covariates or []), self.categorical)
        X = self.design_.transform(data)
        self.term_sd_ = X.std()
        self.binary_terms_ = [c for c in X.columns if X[c].nunique() <= 2]
        self._choose_penalizer(data)
        frame = X.copy()
        frame["_start"] = data[self.start_col].to_numpy(float)
        frame["_stop"] = data[self.stop_col].to_numpy(float)
        frame["_event"] = data[self.event_col].to_numpy(int)
        frame["_id"] = data[self.id_col].to_numpy()
        with lifelines_convergence_logged():
            self.model_ = CoxTimeVaryingFitter(penalizer=self.penalizer_).fit(
                frame, event_col="_event", start_col="_start", stop_col="_stop", id_col="_id")
        self.params_ = self.model_.params_.copy()
        self.variance_ = pd.DataFrame(np.asarray(self.model_.variance_matrix_), index=self.params_.index,
                                      columns=self.params_.index)
        lp = X[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float)
        self.lp_offset_ = float(lp.mean())
        ((times, cumhaz),) = _riskset.breslow(frame["_start"], frame["_stop"], frame["_event"],
                                             lp - self.lp_offset_).values()
        self.baseline_ = (times, cumhaz)
        self.tail_hazard_ = tail_hazard(np.r_[0.0, times], np.r_[0.0, cumhaz], self.tail_window)
        self.n_rows_, self.n_accounts_ = len(data), int(data[self.id_col].nunique())
        self.n_events_ = int(data[self.event_col].sum())
        return self

    def predict_curves(self, df: pd.DataFrame) -> SurvivalCurves:
        """Curves of accounts whose covariates stay at the values in ``df`` (one row per account)."""
        check_is_fitted(self, "params_")
        rows = df[df[list(self.covariates or [])].notna().all(axis=1)]
        ph = np.exp(self.linear_predictor(rows).to_numpy())
        times, cumhaz = self.baseline_
        knots = np.r_[0.0, times] if len(times) and times[0] > 0 else np.r_[0.0]
        h0 = np.r_[0.0, cumhaz] if len(times) and times[0] > 0 else np.r_[0.0]
        return SurvivalCurves(knots, h0[:, None] * ph[None, :], self.tail_hazard_ * ph, rows.index)


class DiscreteTimeHazard(_StartStopModel):
    """Logistic regression on person-period rows with a baseline per tenure band (discrete-time hazard).

    Parameters
    ----------
    covariates, categorical : list of str
    tenure_bands : tuple of float
        Left edges (months) of the baseline bands; the last band is open-ended.
    penalizer : float
        L2 penalty on the covariate coefficients (standardised scale), ``0`` for none. ``None``: chosen by
        cross-validated risk-set concordance among ``penalizers``.
    period_width : float, optional
        When given, ``fit``/``cross-validation`` take one row per *account* (``duration_col``, ``event_col``,
        ``entry_col``) and expand it into periods of this many months; otherwise rows are periods already.
    """

    ratio = "odds_ratio"

    def __init__(self, covariates=None, categorical=None, id_col="account_id", start_col="start", stop_col="stop",
                 event_col="event", tenure_bands=(0, 3, 6, 12, 24, 36), penalizer=0.0, penalizers=PENALIZERS, cv=5,
                 period_width=None, duration_col="duration", entry_col=None, random_state=0):
        self.covariates = covariates
        self.categorical = categorical
        self.id_col = id_col
        self.start_col = start_col
        self.stop_col = stop_col
        self.event_col = event_col
        self.tenure_bands = tenure_bands
        self.penalizer = penalizer
        self.penalizers = penalizers
        self.cv = cv
        self.period_width = period_width
        self.duration_col = duration_col
        self.entry_col = entry_col
        self.random_state = random_state

    def _periods(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.period_width is None:
            return df
        ids = df[self.id_col] if self.id_col in df else pd.Series(df.index, index=df.index)
        acc = df.assign(**{self.id_col: ids.to_numpy()})
        pp = person_period(acc, list(self.covariates or []), width=self.period_width, duration=self.duration_col,
                           event=self.event_col, entry=self.entry_col, id_col=self.id_col)
        return pp.rename(columns={"start": self.start_col, "stop": self.stop_col})

    def _bands(self, start) -> np.ndarray:
        return np.searchsorted(np.asarray(self.tenure_bands, float), np.asarray(start, float), side="right") - 1

    def fit(self, df: pd.DataFrame) -> DiscreteTimeHazard:
        data = self._check(self._periods(df))
        self.design_ = Design.fit(data, list(self.covariates or []), self.categorical)
        X = self.design_.transform(data)
        self.term_sd_ = X.std()
        self.binary_terms_ = [c for c in X.columns if X[c].nunique() <= 2]
        if self.period_width is None:
            self._choose_penalizer(data)
        else:
            self.penalizer_, self.cv_results_ = float(self.penalizer or 0.0), None
        band = self._bands(data[self.start_col])
        n_bands = len(self.tenure_bands)
        B = np.eye(n_bands)[band]
        mu, sd = X.mean().to_numpy(), X.std().replace(0, 1).to_numpy()
        Z = (X.to_numpy(float) - mu) / sd
        y = data[self.event_col].to_numpy(float)
        theta = _fit_logistic(np.hstack([B, Z]), y, self.penalizer_, n_free=n_bands)
        beta = theta[n_bands:] / sd
        alpha = theta[:n_bands] - (mu / sd) @ theta[n_bands:]
        self.params_ = pd.Series(beta, index=X.columns)
        self.baseline_log_odds_ = pd.Series(alpha, index=[f"{lo:g}+" for lo in self.tenure_bands])
        design = np.hstack([B, X.to_numpy(float)])
        p = 1 / (1 + np.exp(-(design @ np.r_[alpha, beta])))
        info = design.T @ (design * (p * (1 - p))[:, None])
        info[n_bands:, n_bands:] += self.penalizer_ * np.diag(1 / sd**2)
        cov = np.linalg.pinv(info)
        self.variance_ = pd.DataFrame(cov[n_bands:, n_bands:], index=X.columns, columns=X.columns)
        self.lp_offset_ = 0.0
        self.n_rows_, self.n_accounts_ = len(data), int(data[self.id_col].nunique())
        self.n_events_ = int(y.sum())
        self.width_ = float(np.median(data[self.stop_col] - data[self.start_col])) if self.period_width is None \
            else float(self.period_width)
        return self

    def predict_curves(self, df: pd.DataFrame, max_months: float = 120.0) -> SurvivalCurves:
        """Curves with covariates held at ``df``'s values: ``S`` drops by ``1 - h_k`` at the end of period ``k``."""
        check_is_fitted(self, "params_")
        rows = df[df[list(self.covariates or [])].notna().all(axis=1)]
        xb = self.linear_predictor(rows).to_numpy()
        w = self.width_
        knots = np.arange(0.0, max_months + w, w)
        band = self._bands(knots[:-1])  # period k covers [knots[k], knots[k+1])
        logit = self.baseline_log_odds_.to_numpy()[band][:, None] + xb[None, :]
        dH = np.log1p(np.exp(logit))  # -log(1 - sigmoid(logit))
        cumhaz = np.vstack([np.zeros(len(xb)), np.cumsum(dH, axis=0)])
        tail = dH[-1] / w
        return SurvivalCurves(knots, cumhaz, tail, rows.index)


def _fit_logistic(A: np.ndarray, y: np.ndarray, penalizer: float, n_free: int) -> np.ndarray:
    """Maximum (penalised) likelihood logistic regression; the first ``n_free`` columns are not penalised."""
    pen = np.r_[np.zeros(n_free), np.full(A.shape[1] - n_free, penalizer)]

    def f(theta):
        z = A @ theta
        ll = np.sum(y * z - np.logaddexp(0, z))
        p = 1 / (1 + np.exp(-z))
        grad = A.T @ (y - p)
        return -ll + 0.5 * np.sum(pen * theta**2), -grad + pen * theta

    start = np.zeros(A.shape[1])
    rate = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    start[:n_free] = np.log(rate / (1 - rate))
    res = optimize.minimize(f, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    if not res.success:
        log.warning("discrete-time hazard fit: %s", res.message)
    return res.x


def cross_validate_start_stop(model, df: pd.DataFrame, *, cv: int = 5, random_state: int = 0) -> dict:
    """Risk-set concordance on held-out accounts (folds of accounts), for start/stop-row models."""
    ids = df[model.id_col].unique()
    folds = KFold(n_splits=min(cv, len(ids)), shuffle=True, random_state=random_state)
    rows = []
    for k, (tr, te) in enumerate(folds.split(ids)):
        train = df[df[model.id_col].isin(ids[tr])]
        test = df[df[model.id_col].isin(ids[te])]
        m = clone(model).fit(train)
        test = test[test[list(model.covariates or [])].notna().all(axis=1)]
        lp = m.linear_predictor(test)
        rows.append({"fold": k + 1, "concordance": risk_set_concordance(
            test[model.start_col], test[model.stop_col], test[model.event_col], lp)})
    folds_df = pd.DataFrame(rows)
    return {"folds": folds_df.to_dict("records"),
            "concordance": {"mean": float(folds_df["concordance"].mean()),
                            "sd": float(folds_df["concordance"].std(ddof=1))}}
