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

One penalty scale
-----------------
Both take lifelines' ``penalizer`` convention: the ridge term is ``penalizer x n / 2 x |theta|^2`` on the
coefficients ``theta`` of standardised covariates, with ``n`` the rows fitted (person-months). Fitted on the
same rows with the same ``penalizer``, the two models are shrunk alike (their information per churn is about
the same), so ``DiscreteTimeHazard(penalizer=tv.penalizer_)`` is the cross-check it is meant to be. For a
penalizer chosen on other rows (an account-level Cox model on ``n`` accounts), ``penalty_rows=n`` keeps that
model's total penalty. Left to themselves (``penalizer=None``) both choose it by the same rule: the
cross-validated log-likelihood over folds of accounts (partial likelihood for the Cox model, Verweij and
van Houwelingen; the held-out Bernoulli likelihood for the logistic one), the smallest penalty within one
standard error of the best (:func:`~engage_models.survival.cox.pick_penalizer`).

Penalties are for prediction; :attr:`summary` (ratios, intervals, p-values) comes from the same model
refitted without penalty (``summary_penalizer_`` says when that refit failed and the summary is penalised).
Too little data raises :class:`~engage_models._core.errors.InsufficientData` with a sentence.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._core.errors import InsufficientData
from .._core.i18n import count
from .._core.progress import parallel_map
from .._core.reasons import Thin, Why
from .._core.stats import sigmoid
from . import _riskset
from .cox import (
    PENALIZERS,
    check_events,
    coefficient_table,
    cox_advice,
    lifelines_convergence_logged,
    penalty_sample,
    pick_penalizer,
    plot_forest,
    runaway_terms,
    runaway_text,
    sample_text,
    selection_table,
    start_stop_fit,
)
from .curves import SurvivalCurves, relative_hazard, tail_hazard
from .data import person_period
from .design import Design, aliased_notes, counted_call, counted_in_refit, say_folds

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
    """Shared plumbing: design, cross-validated penalizer, unpenalised summary, forest plot."""

    ratio = "hazard_ratio"
    label = "hazard model"

    def _check(self, df: pd.DataFrame) -> pd.DataFrame:
        need = [self.start_col, self.stop_col, self.event_col, self.id_col, *(self.covariates or [])]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"{'column' if len(missing) == 1 else 'columns'} {missing} not in the table")
        if df.empty and df.attrs.get("why_empty"):
            raise Thin("reason.panel_no_risk_date", model=Why(self.label), **df.attrs["why_empty"])
        ok = df[list(self.covariates or [])].notna().all(axis=1) & (df[self.stop_col] > df[self.start_col])
        if (~ok).any():
            said = log.debug if counted_in_refit(("left_out",), (~ok).sum()) else log.warning
            said("%s: %s with a missing covariate or no length left out", self.label, count(int((~ok).sum()), "row"))
        data = df[ok]
        check_events(len(df), len(data), int(data[self.event_col].sum()), self.label,
                     accounts=int(data[self.id_col].nunique()))
        return data

    def _design(self, data: pd.DataFrame, where: str | None = None) -> pd.DataFrame:
        self.design_ = Design.fit(data, list(self.covariates or []), self.categorical, where=where)
        self.aliased_ = self.design_.aliased_records()
        X = self.design_.transform(data)
        self.term_sd_ = X.std()
        self.binary_terms_ = [c for c in X.columns if X[c].nunique() <= 2]
        return X

    def _choose_penalizer(self, df: pd.DataFrame) -> None:
        """``penalizer_``: the given one, else the smallest within one SE of the best cross-validated
        log-likelihood (:meth:`cv_log_likelihood` over folds of accounts, shared by the penalizers)."""
        self.penalizer_note_ = self.penalizer_sample_ = None
        if self.penalizer is not None or len(self.penalizers) < 2:
            self.penalizer_ = float(self.penalizer if self.penalizer is not None else self.penalizers[0])
            self.cv_results_ = None
            return
        from .evaluation import categorical_columns, group_folds

        df, self.penalizer_sample_ = penalty_sample(df, df[self.id_col], df[self.event_col],
                                                    getattr(self, "max_cv_accounts", None), self.random_state)
        try:
            splits = group_folds(df, self.id_col, self.event_col, self.cv, self.random_state,
                                 categorical_columns(self, df))
            # the folds' paths are independent: shared among n_jobs processes (the same numbers in any number)
            done = parallel_map(counted_call, [(self._penalizer_path, df, tr, te, j) for j, (tr, te) in
                                               enumerate(splits)], getattr(self, "n_jobs", None))
            say_folds([met for _, met in done], len(splits), "folds choosing the penalty")
            paths = [path for path, _ in done]
            cvl = np.column_stack([c for c, _ in paths])
            conc = np.column_stack([k for _, k in paths])
            self.cv_results_ = selection_table(self.penalizers, cvl, {"concordance": conc})
            self.penalizer_ = pick_penalizer(self.cv_results_)
            if self.penalizer_sample_:
                self.penalizer_note_ = sample_text(self.penalizer_sample_, self.penalizer_)
                self.penalizer_ *= self.penalizer_sample_["rows_scale"]
        except InsufficientData as exc:
            self.cv_results_ = None
            self.penalizer_ = float(min(self.penalizers))
            self.penalizer_note_ = f"penalizer {self.penalizer_:g} not chosen by cross-validation: {exc}"
            log.info(self.penalizer_note_)

    def _penalizer_path(self, df: pd.DataFrame, tr, te, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Fold ``j``'s cross-validated log-likelihood and concordance for each penalizer, each fit started from
        the previous penalizer's coefficients."""
        train, test = df.iloc[tr], df.iloc[te]
        cvl = np.full(len(self.penalizers), np.nan)
        conc = np.full_like(cvl, np.nan)
        previous = None
        for i, p in enumerate(self.penalizers):
            m = clone(self).set_params(**self._selection_params(p), **self._warm_start(previous))
            try:
                m.fit(train)
            except InsufficientData as exc:
                log.info("penalizer %g, fold %d: %s", p, j + 1, exc)
                continue
            previous = m
            cvl[i] = m.cv_log_likelihood(df, train, test)
            conc[i] = risk_set_concordance(test[self.start_col], test[self.stop_col], test[self.event_col],
                                           m.linear_predictor(test))
        return cvl, conc

    def _selection_params(self, p: float) -> dict:
        return {"penalizer": p, "unpenalised_summary": False}

    def _warm_start(self, fitted) -> dict:
        """Parameters that start a clone's fit from ``fitted``'s coefficients (none here; see TimeVaryingCox)."""
        return {}

    def refit_params(self) -> dict:
        check_is_fitted(self, "params_")
        return {"penalizer": self.penalizer_, "unpenalised_summary": False, **self._warm_start(self)}

    def _set_inference(self, refit) -> None:
        """``inference_params_``/``inference_variance_`` for :attr:`summary`: ``refit()`` (the unpenalised
        fit, ``(params, variance)``) when the model is penalised, else the fit itself."""
        self.inference_params_, self.inference_variance_ = self.params_, self.variance_
        self.summary_penalizer_ = self.penalizer_
        self.inference_note_ = None
        if not (self.penalizer_ > 0 and self.unpenalised_summary and len(self.params_)):
            return
        try:
            self.inference_params_, self.inference_variance_ = refit()
            self.summary_penalizer_ = 0.0
        except InsufficientData as exc:
            self.inference_note_ = (f"ratios are from the penalised fit (penalizer {self.penalizer_:g}): shrunk "
                                    f"towards 1; without penalty {exc}")
            log.info(self.inference_note_)

    @property
    def summary(self) -> pd.DataFrame:
        """Ratios with 95% intervals per term, from the unpenalised refit when the model is penalised."""
        check_is_fitted(self, "params_")
        out = coefficient_table(self.inference_params_, self.inference_variance_, ratio=self.ratio)
        out.attrs["penalizer"] = self.summary_penalizer_
        return out

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
        """``coef x SD(covariate)`` per term of :attr:`summary` (SD over the fitted rows unless ``df`` is given)."""
        check_is_fitted(self, "params_")
        sd = self.design_.transform(df).std() if df is not None else self.term_sd_
        return (self.inference_params_ * sd.reindex(self.inference_params_.index)).rename("std_effect")

    def linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """``x^T beta`` of each row (relative to the fitted rows' mean), with the predicting coefficients."""
        X = self.design_.transform(df)
        return pd.Series(X[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float) - self.lp_offset_,
                         index=df.index)

    def notes(self) -> list[str]:
        """Terms left out, penalizer and where the summary comes from, in sentences."""
        out = aliased_notes(self.aliased_, self.design_.levels)
        if self.penalizer_note_:
            out.append(self.penalizer_note_)
        if self.penalizer_ > 0:
            out.append(self.inference_note_ or f"predictions use penalizer {self.penalizer_:g}; ratios, intervals "
                                                "and p-values come from the same model without penalty")
        return out

    def plot(self, ax=None, lang: str = "en"):
        return plot_forest(self.summary, ax=ax, lang=lang, ratio=self.ratio)

    def print_summary(self, file=None, decimals: int = 3) -> None:
        out = file or sys.stdout
        print(f"<{type(self).__name__}: {self.n_rows_} rows, {self.n_accounts_} accounts, {self.n_events_} churned, "
              f"penalizer {self.penalizer_:g}>", file=out)
        for note in self.notes():
            print(f"note: {note}", file=out)
        print(self.summary.round(decimals).to_string(), file=out)

    def _repr_html_(self) -> str:
        from html import escape

        from .._core.display import table

        head = (f"<p><strong>{type(self).__name__}</strong>: {self.n_rows_:,} rows, {self.n_accounts_:,} accounts, "
                f"{self.n_events_:,} churned, penalizer {self.penalizer_:g}</p>")
        notes = "".join(f"<p>{escape(n)}</p>" for n in self.notes())
        return head + notes + table(self.summary.reset_index(), decimals=3)._repr_html_()


class TimeVaryingCox(_StartStopModel):
    """Cox model with time-varying covariates on start/stop rows (lifelines ``CoxTimeVaryingFitter``).

    Parameters
    ----------
    covariates : list of str
    categorical : list of str, optional
    id_col, start_col, stop_col, event_col : str
    penalizer : float, optional
        lifelines' ridge penalty (``penalizer x rows / 2 x |beta|^2``, standardised covariates). ``None``:
        chosen among ``penalizers`` by cross-validated partial likelihood over folds of accounts.
    tail_window : float
        Months over which the hazard beyond the last observed tenure is averaged.
    unpenalised_summary : bool
        Refit without penalty for :attr:`summary` when the penalizer is positive.
    init_params : pandas.Series, optional
        Coefficients by term to start Newton-Raphson from (terms not in the design start at 0). The optimum
        does not depend on the start; a start near it saves steps: the bootstrap refits (:meth:`refit_params`)
        and the penalizers of one cross-validation fold start from a fitted model's coefficients, and the
        unpenalised refit for :attr:`summary` from the penalised ones.
    max_cv_accounts : int, optional
        With more accounts, the penalizer is chosen on a stratified sample of this many and rescaled to every
        row (:func:`~.cox.penalty_sample`; ``penalizer_sample_`` and the notes say so). The final fit, its
        bootstrap refits and its predictions use every account.
    n_jobs : int, optional
        Processes sharing the penalizer's cross-validation folds (joblib; ``-1`` every core, ``None`` one); the
        folds are seeded, so the choice does not depend on it.
    """

    label = "time-varying Cox model"

    def __init__(self, covariates=None, categorical=None, id_col="account_id", start_col="start", stop_col="stop",
                 event_col="event", penalizer=None, penalizers=PENALIZERS, cv=5, tail_window=12.0,
                 unpenalised_summary=True, random_state=0, init_params=None, max_cv_accounts=None, n_jobs=None):
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
        self.unpenalised_summary = unpenalised_summary
        self.random_state = random_state
        self.init_params = init_params
        self.max_cv_accounts = max_cv_accounts
        self.n_jobs = n_jobs

    def _warm_start(self, fitted) -> dict:
        if fitted is None or not hasattr(fitted, "params_") or not len(fitted.params_):
            return {}
        return {"init_params": fitted.params_.copy()}

    def _lifelines_fit(self, frame: pd.DataFrame, penalizer: float, start: pd.Series | None = None):
        terms = [c for c in frame.columns if c not in ("_start", "_stop", "_event", "_id")]
        initial = None
        if start is not None and len(terms):
            # lifelines iterates on standardised covariates: a coefficient per unit is one per SD there
            sd = frame[terms].std().to_numpy(float)
            initial = start.reindex(terms).fillna(0.0).to_numpy(float) * np.where(sd > 0, sd, 1.0)
            if not np.isfinite(initial).all():
                initial = None
        try:
            with lifelines_convergence_logged():
                model = start_stop_fit(frame, penalizer, None, True, initial_point=initial)
        except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else type(exc).__name__
            raise Thin("reason.tv_not_converged", n=self.n_accounts_, events=self.n_events_,
                       penalizer=f"{penalizer:g}", why=first, advice=cox_advice(penalizer)) from exc
        params = model.params_.copy()
        variance = pd.DataFrame(np.asarray(model.variance_matrix_), index=params.index, columns=params.index)
        if not (np.isfinite(params).all() and np.isfinite(variance.to_numpy()).all()):
            raise Thin("reason.tv_not_finite", penalizer=f"{penalizer:g}", n=self.n_accounts_, events=self.n_events_)
        runaway = runaway_terms(params, variance, self.term_sd_.reindex(params.index).fillna(0.0))
        if runaway:
            raise Thin.of(runaway_text(self.label, runaway, self.n_rows_, self.n_events_, penalizer))
        return model, params, variance

    def fit(self, df: pd.DataFrame, where: str | None = None) -> TimeVaryingCox:
        """``where``: the table's name in the design's DataError."""
        data = self._check(df)
        self.n_rows_, self.n_accounts_ = len(data), int(data[self.id_col].nunique())
        self.n_events_ = int(data[self.event_col].sum())
        X = self._design(data, where)
        self._choose_penalizer(data)
        frame = X.copy()
        frame["_start"] = data[self.start_col].to_numpy(float)
        frame["_stop"] = data[self.stop_col].to_numpy(float)
        frame["_event"] = data[self.event_col].to_numpy(int)
        frame["_id"] = data[self.id_col].to_numpy()
        if X.shape[1]:
            self.model_, self.params_, self.variance_ = self._lifelines_fit(frame, self.penalizer_, self.init_params)
        else:
            self.model_, self.params_, self.variance_ = None, pd.Series(dtype=float), pd.DataFrame()
        self._set_inference(lambda: self._lifelines_fit(frame, 0.0, self.params_)[1:])
        lp = X[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float)
        self.lp_offset_ = float(lp.mean())
        ((times, cumhaz),) = _riskset.breslow(frame["_start"], frame["_stop"], frame["_event"],
                                             lp - self.lp_offset_).values()
        self.baseline_ = (times, cumhaz)
        self.tail_hazard_ = tail_hazard(np.r_[0.0, times], np.r_[0.0, cumhaz], self.tail_window,
                                        float(frame["_stop"].max()) if len(frame) else None)
        return self

    def log_partial_likelihood(self, df: pd.DataFrame) -> float:
        """Breslow log partial likelihood of the predicting coefficients on the usable rows of ``df``."""
        check_is_fitted(self, "params_")
        rows = df[df[list(self.covariates or [])].notna().all(axis=1) & (df[self.stop_col] > df[self.start_col])]
        return _riskset.log_partial_likelihood(rows[self.start_col], rows[self.stop_col], rows[self.event_col],
                                               self.linear_predictor(rows))

    def cv_log_likelihood(self, full: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> float:
        """Verweij and van Houwelingen: ``l_full(beta) - l_train(beta)`` with this fold's coefficients."""
        return self.log_partial_likelihood(full) - self.log_partial_likelihood(train)

    def predict_curves(self, df: pd.DataFrame) -> SurvivalCurves:
        """Curves of accounts whose covariates stay at the values in ``df`` (one row per account)."""
        check_is_fitted(self, "params_")
        rows = df[df[list(self.covariates or [])].notna().all(axis=1)]
        lp = self.linear_predictor(rows).to_numpy()
        ph = relative_hazard(lp)
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
        L2 penalty on the covariate coefficients, on lifelines' scale: ``penalizer x n / 2 x |theta|^2``
        with ``theta`` the coefficients of the standardised covariates and ``n = penalty_rows`` (default:
        the rows fitted). ``0`` for none. ``None``: chosen by cross-validated log-likelihood over folds of
        accounts among ``penalizers`` (the same rule as :class:`TimeVaryingCox`).
    penalty_rows : int, optional
        The ``n`` of the penalty: give the rows of the lifelines model whose ``penalizer_`` you pass (e.g. an
        account-level Cox model's ``n_accounts_``) to apply that model's total penalty.
    period_width : float, optional
        When given, ``fit``/``cross-validation`` take one row per *account* (``duration_col``, ``event_col``,
        ``entry_col``) and expand it into periods of this many months; otherwise rows are periods already.
    unpenalised_summary : bool
        Refit without penalty for :attr:`summary` when the penalizer is positive.
    """

    ratio = "odds_ratio"
    label = "discrete-time hazard model"

    def __init__(self, covariates=None, categorical=None, id_col="account_id", start_col="start", stop_col="stop",
                 event_col="event", tenure_bands=(0, 3, 6, 12, 24, 36), penalizer=0.0, penalizers=PENALIZERS, cv=5,
                 period_width=None, duration_col="duration", entry_col=None, penalty_rows=None,
                 unpenalised_summary=True, random_state=0):
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
        self.penalty_rows = penalty_rows
        self.unpenalised_summary = unpenalised_summary
        self.random_state = random_state

    def _periods(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.period_width is None:
            return df
        ids = df[self.id_col] if self.id_col in df else pd.Series(df.index, index=df.index)
        acc = df.assign(**{self.id_col: ids.to_numpy()})
        pp = person_period(acc, list(self.covariates or []), width=self.period_width, duration=self.duration_col,
                           event=self.event_col, entry=self.entry_col, id_col=self.id_col)
        return pp.rename(columns={"start": self.start_col, "stop": self.stop_col})

    def _selection_params(self, p: float) -> dict:
        # folds are cut from rows already expanded: the clones take them as periods
        return {"penalizer": p, "unpenalised_summary": False, "period_width": None, "penalty_rows": None}

    def _bands(self, start) -> np.ndarray:
        return np.searchsorted(np.asarray(self.tenure_bands, float), np.asarray(start, float), side="right") - 1

    def fit(self, df: pd.DataFrame, where: str | None = None) -> DiscreteTimeHazard:
        """``where``: the table's name in the design's DataError."""
        data = self._check(self._periods(df))
        self.n_rows_, self.n_accounts_ = len(data), int(data[self.id_col].nunique())
        X = self._design(data, where)
        y = data[self.event_col].to_numpy(float)
        self.n_events_ = int(y.sum())
        self._choose_penalizer(data)
        B = np.eye(len(self.tenure_bands))[self._bands(data[self.start_col])]
        self.penalty_rows_ = int(self.penalty_rows or len(data))

        def fitted(penalizer):
            alpha, beta, cov, ok = self._fit_logistic(B, X, y, penalizer * self.penalty_rows_)
            beta = pd.Series(beta, index=X.columns)
            runaway = runaway_terms(beta, cov, self.term_sd_.reindex(X.columns).fillna(0.0))
            if runaway or not np.isfinite(beta).all():
                raise Thin.of(runaway_text(self.label, runaway or list(X.columns), self.n_rows_, self.n_events_,
                                           penalizer, X))
            if not ok:
                log.warning("%s: the fit did not fully converge (penalizer %g)", self.label, penalizer)
            return alpha, beta, cov

        alpha, self.params_, self.variance_ = fitted(self.penalizer_)
        self.baseline_log_odds_ = pd.Series(alpha, index=[f"{lo:g}+" for lo in self.tenure_bands])

        def unpenalised():
            return fitted(0.0)[1:]

        self._set_inference(unpenalised)
        self.lp_offset_ = 0.0
        self.width_ = float(np.median(data[self.stop_col] - data[self.start_col])) if self.period_width is None \
            else float(self.period_width)
        return self

    def _fit_logistic(self, B: np.ndarray, X: pd.DataFrame, y: np.ndarray, total_penalty: float):
        """``(alpha, beta, covariance of beta, converged)`` of the band-baseline logistic model with the ridge
        term ``total_penalty / 2 x |beta x SD|^2`` (coefficients of the standardised covariates).

        The covariance is the inverse of the penalised information in ``(alpha, beta)``: ``A^T W A`` plus
        ``total_penalty x SD_j^2`` on the diagonal of ``beta_j`` (the second derivative of the penalty in
        ``beta``, since it penalises ``theta_j = beta_j SD_j``).
        """
        n_bands = B.shape[1]
        mu, sd = X.mean().to_numpy(), X.std().replace(0, 1).to_numpy()
        Z = (X.to_numpy(float) - mu) / sd
        theta, ok = _fit_logistic(np.hstack([B, Z]), y, total_penalty, n_free=n_bands)
        beta = theta[n_bands:] / sd
        alpha = theta[:n_bands] - (mu / sd) @ theta[n_bands:]
        design = np.hstack([B, X.to_numpy(float)])
        p = sigmoid(design @ np.r_[alpha, beta])  # 1 / (1 + exp(-x)) overflowed for a runaway fit's x
        info = design.T @ (design * (p * (1 - p))[:, None])
        info[n_bands:, n_bands:] += total_penalty * np.diag(sd**2)
        cov = np.linalg.pinv(info)
        return alpha, beta, pd.DataFrame(cov[n_bands:, n_bands:], index=X.columns, columns=X.columns), ok

    def log_likelihood(self, df: pd.DataFrame) -> float:
        """Bernoulli log-likelihood of the period rows of ``df`` (already periods) under the predicting fit."""
        check_is_fitted(self, "params_")
        rows = df[df[list(self.covariates or [])].notna().all(axis=1) & (df[self.stop_col] > df[self.start_col])]
        z = self.baseline_log_odds_.to_numpy()[self._bands(rows[self.start_col])] + self.linear_predictor(rows)
        y = rows[self.event_col].to_numpy(float)
        return float(np.sum(y * z - np.logaddexp(0, z)))

    def cv_log_likelihood(self, full: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> float:
        """The held-out accounts' Bernoulli log-likelihood under this fold's fit."""
        return self.log_likelihood(test)

    def predict_curves(self, df: pd.DataFrame, max_months: float = 120.0) -> SurvivalCurves:
        """Curves with covariates held at ``df``'s values: ``S`` drops by ``1 - h_k`` at the end of period ``k``."""
        check_is_fitted(self, "params_")
        rows = df[df[list(self.covariates or [])].notna().all(axis=1)]
        xb = self.linear_predictor(rows).to_numpy()
        w = self.width_
        knots = np.arange(0.0, max_months + w, w)
        band = self._bands(knots[:-1])  # period k covers [knots[k], knots[k+1])
        logit = self.baseline_log_odds_.to_numpy()[band][:, None] + xb[None, :]
        dH = np.logaddexp(0, logit)  # -log(1 - sigmoid(logit))
        cumhaz = np.vstack([np.zeros(len(xb)), np.cumsum(dH, axis=0)])
        tail = dH[-1] / w
        return SurvivalCurves(knots, cumhaz, tail, rows.index)


def _fit_logistic(A: np.ndarray, y: np.ndarray, penalizer: float, n_free: int, tol: float = 1e-10,
                  max_iter: int = 100) -> tuple[np.ndarray, bool]:
    """Maximum (penalised) likelihood logistic regression; the first ``n_free`` columns are not penalised.

    The objective ``-loglik + penalizer / 2 x |theta_penalised|^2`` is minimised by Newton-Raphson with step
    halving (a handful of iterations where a quasi-Newton method needs hundreds on person-month rows); a
    singular information (a tenure band without rows) is solved by least squares. Returns
    ``(theta, converged)``: separation (a covariate level without churners, no penalty) shows as no
    convergence, the coefficients running off.
    """
    pen = np.r_[np.zeros(n_free), np.full(A.shape[1] - n_free, penalizer)]

    def objective(theta):
        z = A @ theta
        return -float(np.sum(y * z - np.logaddexp(0, z))) + 0.5 * float(np.sum(pen * theta**2))

    theta = np.zeros(A.shape[1])
    rate = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    theta[:n_free] = np.log(rate / (1 - rate))
    f = objective(theta)
    for _ in range(max_iter):
        p = 0.5 * (1 + np.tanh(0.5 * (A @ theta)))  # the sigmoid, without overflow
        grad = A.T @ (y - p) - pen * theta
        hess = A.T @ (A * (p * (1 - p))[:, None]) + np.diag(pen)
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        new, f_new = theta + step, objective(theta + step)
        while f_new > f + 1e-12 * abs(f) and t > 1e-8:
            t /= 2
            new, f_new = theta + t * step, objective(theta + t * step)
        if f_new > f:  # no step improves: at the optimum up to rounding
            new, f_new, t = theta, f, 0.0
        done = f - f_new <= tol * max(1.0, abs(f)) and float(np.max(np.abs(t * step), initial=0.0)) < 1e-6
        theta, f = new, min(f, f_new)
        if done:
            return theta, bool(np.all(np.abs(theta[n_free:]) < 30))
    log.info("discrete-time hazard fit: no convergence in %d Newton steps", max_iter)
    return theta, False


def cross_validate_start_stop(model, df: pd.DataFrame, *, cv: int = 5, random_state: int = 0) -> dict:
    """Risk-set concordance on held-out accounts (folds of accounts, stratified on churn and rare levels),
    for start/stop-row models. A fold that cannot be fitted is listed in ``failed_folds``."""
    from .evaluation import categorical_columns, fold_summary, group_folds

    splits = group_folds(df, model.id_col, model.event_col, cv, random_state, categorical_columns(model, df))
    rows, failed, met = [], [], []

    def fold(k, tr, te):
        train, test = df.iloc[tr], df.iloc[te]
        try:
            m = clone(model).fit(train)
        except InsufficientData as exc:
            failed.append({"fold": k + 1, "reason": str(exc)})
            return
        test = test[test[list(model.covariates or [])].notna().all(axis=1)]
        lp = m.linear_predictor(test)
        rows.append({"fold": k + 1, "concordance": risk_set_concordance(
            test[model.start_col], test[model.stop_col], test[model.event_col], lp)})

    for k, (tr, te) in enumerate(splits):  # a rare level's lines, once for the folds (and their own penalty's)
        met.append(counted_call(fold, k, tr, te)[1])
    say_folds(met, len(splits))
    if not rows:
        raise InsufficientData("cross-validation: no fold could be fitted (" + "; ".join(f["reason"] for f in failed)
                               + ")")
    return fold_summary(pd.DataFrame(rows), failed)
