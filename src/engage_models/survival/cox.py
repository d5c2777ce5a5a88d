"""Cox proportional-hazards model on one row per account, with its assumption checked and repaired.

.. math:: h_i(t) = h_{0,s(i)}(t) \\exp(x_i^\\top \\beta)

``t`` is tenure in months, ``s(i)`` the account's stratum (each stratum has its own baseline hazard),
``exp(beta_j)`` the hazard ratio of covariate ``j``: the factor by which one unit more (or this level
instead of the reference) multiplies the monthly risk of churning, at any tenure.

:class:`CoxModel` (scikit-learn conventions: parameters in ``__init__``, ``fit`` returns ``self``, learned
attributes end in ``_``; lifelines conventions: ``summary``, ``print_summary``, ``_repr_html_``, ``plot``)

1. encodes the covariates (:class:`~engage_models.survival.design.Design`), leaving out *aliased* terms
   (exact linear combinations of the terms before them, e.g. six "No internet service" indicators that
   are all ``internet_service=No``): ``aliased_`` and :meth:`CoxModel.print_summary` say which;
2. chooses the ridge penalizer by cross-validated partial likelihood (Verweij and van Houwelingen 1993)
   with a one-standard-error rule towards the smaller penalty (:func:`choose_penalizer`), unless given;
3. fits the Cox likelihood on (entry, duration] rows with lifelines (left truncation; risk-set sums vectorised);
4. tests proportional hazards with scaled Schoenfeld residuals (:func:`~._riskset.ph_test`, which accepts
   left-truncated data, unlike lifelines), and where a covariate fails at ``ph_alpha``:

   * one categorical covariate (``max_strata``; the most significant failure whose every level has at
     least ``min_stratum_events`` churns) becomes a stratum (its own baseline curve; no hazard ratio);
   * every other failing covariate gets a time interaction: separate hazard ratios before and after the
     median churn tenure ``tau`` (``x 1(t <= tau)`` and ``x 1(t > tau)``, per indicator for a categorical
     one, fitted on split episodes with lifelines' ``CoxTimeVaryingFitter``). Stratifying on several
     categoricals at once would cut the accounts into cells with a handful of churners each, and a held-out
     account of a cell never seen in fitting would have no baseline at all;

   then refits and tests again; ``remedies_`` and :meth:`CoxModel.assumptions_text` say what was done;
5. predicts curves with a Breslow baseline per stratum, extended past the last observed tenure with the
   average hazard of the last ``tail_window`` months (:class:`~.curves.SurvivalCurves`); an account of a
   stratum level never seen in fitting gets the baseline of the most common stratum (logged), as an unseen
   level of a covariate is encoded as its reference.

The penalty is for prediction only. :attr:`CoxModel.summary` (hazard ratios, intervals, p-values) comes
from the same specification refitted without penalty, because a ridge penalty shrinks the hazard ratios
towards 1 and its intervals do not cover the truth at the stated rate; only when that fit does not
converge is the summary penalised, and ``summary_penalizer_`` says so.

Too little data (no or one churner, no complete row, a fit that does not converge) raises
:class:`~engage_models._core.errors.InsufficientData` with a sentence saying what is missing.

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
from lifelines import CoxTimeVaryingFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._core.errors import InsufficientData
from .._core.i18n import LANGS, count, fmt_number, p_is, t
from .._core.reasons import Thin, Why, reason_of
from . import _riskset
from .curves import SurvivalCurves, relative_hazard, tail_hazard
from .data import usable
from .design import Design, aliased_notes, counted_call, counted_in_refit, say_folds

log = logging.getLogger(__name__)

#: Ridge penalties tried, on lifelines' scale: the penalty term is ``penalizer x rows / 2 x |beta|^2`` on
#: standardised covariates (``rows`` = the rows fitted: accounts here, person-months for start/stop models).
PENALIZERS = (0.0, 0.001, 0.01, 0.1, 1.0)
#: A categorical covariate becomes a stratum only if each of its levels has at least this many churns.
MIN_STRATUM_EVENTS = 5
#: A coefficient of a standardised covariate beyond this (a hazard ratio of e^8 = 3,000 per SD), or with a
#: standard error beyond ``RUNAWAY_SE``, is not an estimate: the covariate separates churners from the rest
#: (a level with no churner, or only churners) and the likelihood has no maximum.
RUNAWAY_COEF, RUNAWAY_SE = 8.0, 50.0


def runaway_terms(params: pd.Series, variance, sd) -> list[str]:
    """Terms whose standardised coefficient or standard error ran off (see ``RUNAWAY_COEF``)."""
    sd = np.asarray(sd, float)
    se = np.sqrt(np.abs(np.diag(np.asarray(variance, float))))
    bad = (np.abs(params.to_numpy(float) * sd) > RUNAWAY_COEF) | (se * sd > RUNAWAY_SE)
    return [str(k) for k in params.index[bad]]


#: A term whose variance the other terms explain to within this share (1 - R^2) is nearly aliased: the same
#: number written twice up to rounding (a charge = price x minutes, rounded to cents).
NEAR_ALIAS = 1e-4


def near_aliased(X: pd.DataFrame | None, terms: list[str]) -> dict[str, str]:
    """Of ``terms``, those the other columns of ``X`` explain to within ``NEAR_ALIAS`` (least squares with a
    constant, on the distinct rows): ``{term: the other column most correlated with it}``. Exact aliases are
    left out before any fit (:func:`~.design.aliased_terms`); a near one makes the unpenalised likelihood
    flat along the two terms' difference, so their ratios run off in opposite directions, which reads like
    separation and is not."""
    if X is None or not terms:
        return {}
    A = X.drop_duplicates().to_numpy(float)
    A = A - A.mean(axis=0)
    out = {}
    for term in terms:
        if term not in X.columns:
            continue
        j = X.columns.get_loc(term)
        y, others = A[:, j], np.delete(A, j, axis=1)
        total = float(y @ y)
        if total <= 0 or others.shape[1] == 0:
            continue
        coef, *_ = np.linalg.lstsq(others, y, rcond=None)
        rest = y - others @ coef
        if float(rest @ rest) < NEAR_ALIAS * total:
            norms = np.sqrt((others ** 2).sum(axis=0) * total)
            corr = np.abs(others.T @ y) / np.where(norms > 0, norms, np.inf)
            out[term] = str(X.columns.drop(term)[int(np.argmax(corr))])
    return out


def runaway_text(what: str, terms: list[str], rows: int, events: int, penalizer: float,
                 X: pd.DataFrame | None = None) -> Why:
    """Why a fit's ratios ran off: separation, or (given the design ``X``) terms that nearly repeat others; in
    every language of the reports (``what`` is the model's catalogue key, "Cox model")."""
    near = near_aliased(X, terms)
    apart = [term for term in terms if term not in near]

    def said(lang):
        parts = []
        if near:
            pairs = list(dict.fromkeys(tuple(sorted(pair)) for pair in near.items()))
            parts.append(t("sv.runaway.near", lang, pairs=t("sep.comma", lang).join(
                t("sv.runaway.pair", lang, a=a, b=b) for a, b in pairs), p=f"{penalizer:g}"))
        if apart:
            parts.append(t("sv.runaway.apart", lang, terms=t("sep.comma", lang).join(map(repr, apart)), k=len(apart),
                           rows=rows, events=events, p=f"{penalizer:g}"))
        return t("sv.runaway.line", lang, what=t(what, lang), parts=t("sv.runaway.and", lang).join(parts))

    return Why.of({lang: said(lang) for lang in LANGS})


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


class CoxTimeVaryingFitterFast(CoxTimeVaryingFitter):
    """lifelines' start/stop fitter (its Newton-Raphson, step sizes, penalty and variance) with the risk-set sums
    vectorised: :func:`.efron_gradients` returns the same Hessian, gradient and likelihood as
    lifelines' ``_get_gradients`` in ``O(n d^2)`` instead of ``O(K n d^2)`` for ``K`` event times (3-4x on the
    demo world, more on bigger ones; ``tests/test_survival_models.py`` checks they agree). lifelines'
    baseline hazard is not computed: the models here estimate their own (Breslow). lifelines' ``CoxPHFitter``
    with an entry column calls the same gradients, so :class:`CoxModel` fits (entry, duration] rows with it."""

    _get_gradients = staticmethod(_riskset.efron_gradients)

    def _compute_cumulative_baseline_hazard(self, *args, **kwargs):
        return pd.DataFrame({"baseline hazard": pd.Series(dtype=float)})


def start_stop_fit(frame: pd.DataFrame, penalizer: float, strata, entry: bool, initial_point=None):
    """The Cox fit of (``_start``, ``_stop``] rows (one per account, or an account's episodes split in time):
    :class:`CoxTimeVaryingFitterFast`; where its Newton-Raphson runs off (the public pbc table unpenalised: its
    log-likelihood fell from -550 to -755, then a singular matrix), lifelines' ``CoxPHFitter``, whose step sizes
    converge there, on the same likelihood: the rows as left-truncated at ``_start`` have the same risk sets as
    the episodes (the two agree to 1e-8 where both converge, penalised alike: ``tests/test_survival_models.py``).
    ``entry``: some row starts after 0. ``initial_point``: the start/stop fitter's (a refit's warm start).
    Used by :class:`CoxModel` and :class:`~engage_models.survival.time_varying.TimeVaryingCox` alike."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a run-off says so by raising
            model = CoxTimeVaryingFitterFast(penalizer=penalizer)
            return model.fit(frame, event_col="_event", start_col="_start", stop_col="_stop", id_col="_id",
                             strata=strata, initial_point=initial_point)
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        first = exc
    from lifelines import CoxPHFitter

    data = frame.drop(columns=["_id"] if entry else ["_id", "_start"])
    try:
        model = CoxPHFitter(penalizer=penalizer).fit(data, duration_col="_stop", event_col="_event",
                                                      entry_col="_start" if entry else None, strata=strata)
    except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError):
        raise first from None
    log.info("Cox fit: the start/stop fitter did not converge (%s); lifelines' CoxPHFitter did", first)
    return model


def cox_advice(penalizer: float) -> Why:
    """What a Cox fit that did not converge asks for: a penalizer, or a larger one where one was used (thin worlds
    said "give ... a penalizer" of a fit penalised by 1)."""
    return Why("reason.cox_advice.larger" if penalizer > 0 else "reason.cox_advice.penalizer")


class CoxModel(BaseEstimator):
    """Cox PH on account rows: aliased terms left out, penalizer by cross-validated partial likelihood,
    PH tested and remedied, hazard ratios from an unpenalised fit.

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
        Ridge penalty (lifelines' ``penalizer``: ``penalizer x rows / 2 x |beta|^2`` on standardised
        covariates). ``None``: chosen among ``penalizers`` by ``cv``-fold cross-validated partial likelihood
        (:func:`choose_penalizer`, :func:`pick_penalizer`).
    check_ph, ph_alpha, remedy : bool, float, bool
        Test proportional hazards; significance level for "fails"; repair failures (see module docstring).
    max_strata, min_stratum_events : int
        The remedy stratifies on at most ``max_strata`` categorical covariates (strata given in ``strata``
        count), each of whose levels has at least ``min_stratum_events`` churns; other failures get a time
        interaction.
    time_split, split_time : list of str, float, optional
        Covariates given separate effects before/after ``split_time`` months from the start (default split:
        the median churn tenure). The remedy fills these in; :meth:`refit_params` passes them on so that a
        refit (bootstrap) reproduces the final model without testing again.
    tail_window : float
        Months over which the hazard beyond the last observed tenure is averaged.
    unpenalised_summary : bool
        Refit without penalty for :attr:`summary` when the penalizer is positive (see module docstring).
    max_cv_accounts : int, optional
        With more accounts, the penalizer is chosen on a stratified sample of this many and rescaled to the
        whole data (:func:`penalty_sample`; ``penalizer_sample_`` and the notes say so). The final fit uses
        every account.
    n_jobs : int, optional
        Processes sharing the penalizer's cross-validation folds (joblib; ``-1`` every core, ``None`` one); the
        folds are seeded, so the choice does not depend on it.
    group_col : str, optional
        The account of each row when an account has several (start/stop rows: its covariates changing over
        time, each row ``(entry, duration]``): the penalizer's folds keep an account's rows together
        (:func:`~.evaluation.group_folds`). The likelihood is the same whatever it says (a row is in the risk
        sets of its own interval only).
    """

    def __init__(self, covariates=None, categorical=None, strata=None, duration_col="duration", event_col="event",
                 entry_col=None, penalizer=None, penalizers=PENALIZERS, cv=5, check_ph=True, ph_alpha=0.01,
                 remedy=True, time_split=None, split_time=None, tail_window=12.0, max_strata=1,
                 min_stratum_events=MIN_STRATUM_EVENTS, unpenalised_summary=True, random_state=0,
                 max_cv_accounts=None, n_jobs=None, group_col=None):
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
        self.max_strata = max_strata
        self.min_stratum_events = min_stratum_events
        self.unpenalised_summary = unpenalised_summary
        self.random_state = random_state
        self.max_cv_accounts = max_cv_accounts
        self.n_jobs = n_jobs
        self.group_col = group_col

    # ------------------------------------------------------------------------------------------- fitting
    def _prepare(self, df: pd.DataFrame) -> pd.DataFrame:
        need = [self.duration_col, self.event_col] + ([self.entry_col] if self.entry_col else [])
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"{'column' if len(missing) == 1 else 'columns'} {missing} not in the table")
        covs = list(self.covariates or [])
        strata = list(self.strata or [])
        complete = df[covs + strata].notna().all(axis=1)
        if (~complete).any():
            said = log.debug if counted_in_refit(("left_out",), (~complete).sum()) else log.warning
            said("%s with a missing covariate left out of the Cox model", count(int((~complete).sum()), "row"))
        data = usable(df[complete], self.duration_col, self.entry_col)
        check_events(len(df), len(data), int(data[self.event_col].sum()), "Cox model",  # a row an account, or
                     accounts=int(data[self.group_col].nunique()) if self.group_col else len(data))  # its intervals
        return data

    def fit(self, df: pd.DataFrame, where: str | None = None) -> CoxModel:
        """Fit on one row per account; returns ``self``. :class:`InsufficientData` when it cannot be fitted;
        ``where``: the table's name in the design's :class:`~engage_models._core.errors.DataError`."""
        covs = list(self.covariates or [])
        data = self._prepare(df)
        self.design_ = Design.fit(data, covs, self.categorical, where=where)
        self.aliased_ = self.design_.aliased_records()
        self.n_accounts_ = len(data)
        self.n_events_ = int(data[self.event_col].sum())
        self.penalizer_note_ = self.penalizer_sample_ = None
        if self.penalizer is None and len(self.penalizers) > 1:
            try:
                groups = data[self.group_col] if self.group_col else np.arange(len(data))
                rows, self.penalizer_sample_ = penalty_sample(data, groups, data[self.event_col],
                                                              self.max_cv_accounts, self.random_state)
                self.cv_results_ = choose_penalizer(self, rows, self.penalizers, cv=self.cv,
                                                    random_state=self.random_state,
                                                    n_jobs=getattr(self, "n_jobs", None))
                self.penalizer_ = pick_penalizer(self.cv_results_)
                if self.penalizer_sample_:
                    self.penalizer_note_ = sample_text(self.penalizer_sample_, self.penalizer_)
                    self.penalizer_ *= self.penalizer_sample_["rows_scale"]
            except InsufficientData as exc:
                self.cv_results_ = None
                self.penalizer_ = float(min(self.penalizers))
                self.penalizer_note_ = Why("sv.note.penalizer_not_chosen", p=f"{self.penalizer_:g}",
                                           why=reason_of(exc))
                log.info(self.penalizer_note_)
        else:
            self.cv_results_ = None
            self.penalizer_ = float(self.penalizer if self.penalizer is not None else self.penalizers[0])
        self.strata_ = list(self.strata or [])
        self.time_split_ = list(self.time_split or [])  # covariates with separate early/late effects
        self.split_time_ = float(self.split_time if self.split_time is not None
                                 else np.median(data.loc[data[self.event_col] == 1, self.duration_col]))
        self.remedies_ = []
        self._unpenalised = None  # (specification, params, variance or the reason it failed), fitted once
        self._fit_or_penalise(data)
        self.ph_test_ = self.ph_test_after_ = None
        if self.check_ph and self.design_.terms:
            self.ph_test_ = self._ph_table(data)
            if self.remedy:
                self._apply_remedies(data)
        self._fit_inference(data)
        return self

    def _covariates_in_model(self) -> list[str]:
        return [c for c in self.design_.covariates if c not in self.strata_]

    def _model_design(self) -> Design:
        covs = self._covariates_in_model()
        return Design(covs, {c: v for c, v in self.design_.levels.items() if c in covs}, self.design_.aliased)

    def _split_terms(self) -> list[str]:
        """Terms with separate early/late effects: the terms of the covariates in ``time_split_``."""
        return [term for term, cov in self._model_design().term_covariate().items() if cov in self.time_split_]

    def _episodes(self, data: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
        """Rows split at ``split_time_`` with ``x_early`` / ``x_late`` columns for the split covariates."""
        tau = self.split_time_
        entry = data[self.entry_col].to_numpy(float) if self.entry_col else np.zeros(len(data))
        dur = data[self.duration_col].to_numpy(float)
        ev = data[self.event_col].to_numpy(int)
        split = self._split_terms()
        parts = []
        for early in (True, False):
            lo = entry if early else np.maximum(entry, tau)
            hi = np.minimum(dur, tau) if early else dur
            m = hi > lo
            p = X[m].copy()
            for c in split:
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

    def _lifelines_fit(self, data: pd.DataFrame, penalizer: float):
        """lifelines' fit of the current specification: ``(model, params, variance, start, stop, event, Xm,
        episodes)``; :class:`InsufficientData` when it does not converge or gives non-finite estimates."""
        X = self._model_design().transform(data)
        strata = self.strata_ or None
        try:
            with lifelines_convergence_logged():
                if not self.time_split_:
                    # one (entry, duration] row per account: lifelines' CoxPHFitter with an entry column
                    # maximises this same likelihood with the same gradients, only slower
                    frame = X.copy()
                    frame["_start"] = (data[self.entry_col].to_numpy(float) if self.entry_col
                                       else np.zeros(len(data)))
                    frame["_stop"] = data[self.duration_col].to_numpy(float)
                    frame["_event"] = data[self.event_col].to_numpy(int)
                    frame["_id"] = np.arange(len(frame))
                    for s in self.strata_:
                        frame[s] = data[s].astype(str).to_numpy()
                    model = start_stop_fit(frame, penalizer, strata, bool(self.entry_col))
                    start, stop = frame["_start"].to_numpy(), frame["_stop"].to_numpy()
                    event, Xm, ep = frame["_event"].to_numpy(), X, None
                else:
                    ep = self._episodes(data, X)
                    for s in self.strata_:
                        ep[s] = ep[s].astype(str)
                    model = start_stop_fit(ep, penalizer, strata, True)
                    start, stop, event = ep["_start"].to_numpy(), ep["_stop"].to_numpy(), ep["_event"].to_numpy()
                    Xm = ep[list(model.params_.index)]
        except (ConvergenceError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise self._not_converged(exc, penalizer) from exc
        params = model.params_.copy()
        variance = pd.DataFrame(np.asarray(model.variance_matrix_), index=params.index, columns=params.index)
        if not (np.isfinite(params).all() and np.isfinite(variance.to_numpy()).all()):
            raise self._not_converged("non-finite estimates", penalizer)
        runaway = runaway_terms(params, variance, Xm[list(params.index)].std().fillna(0.0))
        if runaway:
            raise Thin.of(runaway_text("Cox model", runaway, self.n_accounts_, self.n_events_, penalizer,
                                       Xm[list(params.index)]))
        return model, params, variance, start, stop, event, Xm, ep

    def _not_converged(self, exc, penalizer: float) -> Thin:
        """Why the fit stopped, in every language (a Japanese page showed it in English): lifelines' own first
        sentence kept as it words it, as the time-varying model's reason does."""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Thin("reason.cox_not_converged", n=self.n_accounts_, events=self.n_events_, penalizer=f"{penalizer:g}",
                    why=first.split(". ")[0], advice=cox_advice(penalizer))

    def _fit_once(self, data: pd.DataFrame) -> None:
        X = self._model_design().transform(data)
        if X.shape[1] == 0:  # everything stratified: only baselines
            self.model_ = None
            self.params_ = pd.Series(dtype=float)
            self.variance_ = pd.DataFrame()
            start = data[self.entry_col].to_numpy(float) if self.entry_col else np.zeros(len(data))
            self._fit_baseline(start, data[self.duration_col].to_numpy(float),
                               data[self.event_col].to_numpy(int), X, data, None)
            return
        model, params, variance, start, stop, event, Xm, ep = self._lifelines_fit(data, self.penalizer_)
        self.model_, self.params_, self.variance_ = model, params, variance
        self._fit_baseline(start, stop, event, Xm, data, ep)

    def _fit_or_penalise(self, data: pd.DataFrame) -> None:
        """:meth:`_fit_once`; when it runs off or does not converge and the penalizer was chosen here (not
        given), the next larger penalizer of the grid that fits, with a note (cross-validation chose it
        without the PH remedies, which can add a term that separates churners)."""
        try:
            self._fit_once(data)
            return
        except InsufficientData as exc:
            if self.penalizer is not None:
                raise
            chosen, reason = self.penalizer_, exc
        for p in sorted(float(p) for p in self.penalizers if p > chosen):
            self.penalizer_ = p
            try:
                self._fit_once(data)
            except InsufficientData:
                continue
            self.penalizer_note_ = Why("sv.note.penalizer_raised", p=f"{p:g}", chosen=f"{chosen:g}",
                                       why=reason_of(reason))
            log.info(self.penalizer_note_)
            return
        self.penalizer_ = chosen
        raise reason

    def _fit_inference(self, data: pd.DataFrame) -> None:
        """Coefficients for :attr:`summary`: refitted without penalty when the model is penalised."""
        self.inference_params_, self.inference_variance_ = self.params_, self.variance_
        self.summary_penalizer_ = self.penalizer_
        self.inference_note_ = None
        if not (self.penalizer_ > 0 and self.unpenalised_summary and len(self.params_)):
            return
        params, variance = self._without_penalty(data)
        if params is None:
            self.inference_note_ = Why("sv.note.summary_penalised", p=f"{self.penalizer_:g}",
                                       why=reason_of(variance))
            log.info(self.inference_note_)
            return
        self.inference_params_, self.inference_variance_ = params, variance
        self.summary_penalizer_ = 0.0

    def _without_penalty(self, data: pd.DataFrame):
        """``(params, variance)`` of the current specification fitted without penalty, or ``(None, reason)``
        when that fit does not converge; fitted once per specification (the PH test and the summary share it)."""
        spec = (tuple(self.strata_), tuple(self.time_split_))
        if self._unpenalised is None or self._unpenalised[0] != spec:
            try:
                _, params, variance, *_ = self._lifelines_fit(data, 0.0)
            except InsufficientData as exc:
                params, variance = None, exc
            self._unpenalised = (spec, params, variance)
        return self._unpenalised[1], self._unpenalised[2]

    def _strata_key(self, frame: pd.DataFrame, fitted: bool = False) -> np.ndarray:
        """Stratum label per row; ``fitted``: a label never seen in fitting becomes the most common stratum."""
        if not self.strata_:
            return np.zeros(len(frame), dtype=object)
        key = frame[self.strata_].astype(str).agg(" / ".join, axis=1).to_numpy()
        if fitted:
            unseen = ~pd.Series(key).isin(list(self.baseline_)).to_numpy()
            if unseen.any():
                log.warning("%s of a stratum not seen in fitting (%s): given the baseline of %r",
                            count(int(unseen.sum()), "row"), ", ".join(sorted(set(key[unseen]))[:5]),
                            self.strata_reference_)
                key = np.where(unseen, self.strata_reference_, key)
        return key

    def _fit_baseline(self, start, stop, event, Xm, data, episodes) -> None:
        lp = Xm[list(self.params_.index)].to_numpy(float) @ self.params_.to_numpy(float)
        self.lp_offset_ = float(np.mean(lp)) if len(lp) else 0.0
        strata = self._strata_key(episodes if episodes is not None else data)
        self.baseline_ = _riskset.breslow(start, stop, event, lp - self.lp_offset_, strata)
        self.strata_reference_ = pd.Series(self._strata_key(data)).value_counts().index[0]
        # each stratum's window ends at its longest follow-up, not at its last churn
        ends = pd.Series(np.asarray(stop, dtype=float)).groupby(np.asarray(strata)).max()
        self.tail_hazard_ = {s: tail_hazard(np.r_[0.0, tm], np.r_[0.0, h], self.tail_window, ends.get(s))
                             for s, (tm, h) in self.baseline_.items()}

    def _counting_process(self, data: pd.DataFrame, fitted: bool = False):
        """``(start, stop, event, Xm, strata)`` of ``data`` in the model's terms (episodes when time-split)."""
        X = self._model_design().transform(data)
        if self.time_split_:
            ep = self._episodes(data, X)
            return (ep["_start"].to_numpy(float), ep["_stop"].to_numpy(float), ep["_event"].to_numpy(int),
                    ep[list(self.params_.index)], self._strata_key(ep, fitted))
        start = data[self.entry_col].to_numpy(float) if self.entry_col else np.zeros(len(data))
        return (start, data[self.duration_col].to_numpy(float), data[self.event_col].to_numpy(int),
                X[list(self.params_.index)], self._strata_key(data, fitted))

    def log_partial_likelihood(self, df: pd.DataFrame) -> float:
        """Breslow log partial likelihood of the fitted coefficients on the usable rows of ``df``."""
        check_is_fitted(self, "params_")
        need = self.design_.covariates + self.strata_
        data = usable(df[df[need].notna().all(axis=1)], self.duration_col, self.entry_col)
        start, stop, event, Xm, strata = self._counting_process(data, fitted=True)
        lp = Xm.to_numpy(float) @ self.params_.to_numpy(float) if len(self.params_) else np.zeros(len(stop))
        return _riskset.log_partial_likelihood(start, stop, event, lp, strata)

    # -------------------------------------------------------------------------------- assumption checks
    def _ph_table(self, data: pd.DataFrame) -> pd.DataFrame:
        """Schoenfeld residual tests of the hazard ratios the summary reports: the fit without penalty when the
        model is penalised (the test ran on the shrunk fit: rossi's age p 0.027 there, 0.016 without), the
        penalised fit when that does not converge (``attrs["penalizer"]``). R's exact score test
        (:func:`._riskset.ph_score_test`), a categorical covariate's levels together."""
        params, variance, penalizer = self.params_, self.variance_, self.penalizer_
        if self.penalizer_ > 0 and len(self.params_):
            free, free_variance = self._without_penalty(data)
            if free is not None:
                params, variance, penalizer = free, free_variance, 0.0
        start, stop, event, Xm, strata = self._counting_process(data)
        covariate_of = self.design_.term_covariate()
        # a covariate is tested as one (a categorical's levels together; a time-split covariate's early and late
        # terms apart, each its own hazard ratio)
        groups = [covariate_of.get(term, term) if " [" not in term else term for term in params.index]
        res = _riskset.ph_test(start, stop, event, Xm, params, variance, params.index, strata, groups=groups)
        res["covariate"] = [covariate_of.get(term.split(" [")[0], term) for term in res["term"]]
        res["proportional"] = res["joint_p"] >= self.ph_alpha
        out = res[["covariate", "term", "test_statistic", "p", "joint_statistic", "joint_df", "joint_p", "slope",
                   "proportional"]]
        out.attrs["penalizer"] = penalizer
        return out

    def _can_stratify(self, data: pd.DataFrame, cov: str) -> bool:
        """At most ``max_strata`` strata, at least ``min_stratum_events`` churns in every level of ``cov``, and
        every other term left with a value that varies inside some stratum: a term constant in each stratum has
        no information in the stratified likelihood (a telco table's ``DeviceProtection`` has a level "No
        internet service", the rows of ``InternetService=No``: stratified by it, that term's fit without penalty
        was singular, and its ratio came from the penalised fit)."""
        if len(self.strata_) >= self.max_strata:
            return False
        events = data.loc[data[self.event_col] == 1, cov].astype(str).value_counts()
        levels = data[cov].astype(str).unique()
        if min(events.get(lev, 0) for lev in levels) < self.min_stratum_events:
            return False
        others = [c for c in self._covariates_in_model() if c != cov]
        if not others:
            return True
        X = Design(others, {c: v for c, v in self.design_.levels.items() if c in others}).transform(data)
        X = X[[term for term in X.columns if term in self.design_.terms]]
        key = data[[*self.strata_, cov]].astype(str).agg(" / ".join, axis=1)
        return bool((X.groupby(key.to_numpy()).nunique(dropna=True) > 1).any().all())

    def _apply_remedies(self, data: pd.DataFrame) -> None:
        failing = self.ph_test_[~self.ph_test_["proportional"]]
        if failing.empty:
            return
        worst = failing.groupby("covariate", sort=False)["joint_p"].min().sort_values(kind="stable")
        for cov, p in worst.items():
            p = float(p)
            if cov in self.design_.levels and self._can_stratify(data, cov):
                self.strata_.append(cov)
                self.remedies_.append({"covariate": cov, "action": "stratified", "p_before": p})
            else:
                self.time_split_.append(cov)
                self.remedies_.append({"covariate": cov, "action": "time_split", "p_before": p,
                                       "split_months": self.split_time_})
        if not self._covariates_in_model():
            log.info("every covariate became a stratum: the model has no hazard ratio left")
        self._fit_or_penalise(data)
        self.ph_test_after_ = self._ph_table(data) if len(self.params_) else None
        log.info("PH remedies applied: %s", self.remedies_)

    def refit_params(self) -> dict:
        """Parameters that refit the final model (penalizer, strata, time split) with no selection or test
        (and no unpenalised refit for the summary: refits are for predictions)."""
        check_is_fitted(self, "params_")
        return {"penalizer": self.penalizer_, "strata": list(self.strata_), "time_split": list(self.time_split_),
                "split_time": self.split_time_, "check_ph": False, "unpenalised_summary": False}

    # ---------------------------------------------------------------------------------------- results
    @property
    def summary(self) -> pd.DataFrame:
        """Hazard ratios with 95% intervals, one row per term (``column=level`` for categorical levels), from
        the unpenalised refit when the model is penalised (``attrs["penalizer"]``: the penalty they carry)."""
        check_is_fitted(self, "params_")
        out = coefficient_table(self.inference_params_, self.inference_variance_)
        out.attrs["penalizer"] = self.summary_penalizer_
        return out

    def standardized_effects(self, df: pd.DataFrame) -> pd.Series:
        """``coef x SD`` of each numeric term in ``df``: the log hazard ratio of one standard deviation."""
        X = self._model_design().transform(df)
        return pd.Series({k: v * X[k].std() for k, v in self.inference_params_.items() if k in X}, name="std_effect")

    def notes(self) -> list[str]:  # each a Why: English text, with its key for the other languages
        """What the reader must know about this fit, in sentences: terms left out, penalty, summary source."""
        out = aliased_notes(self.aliased_, self.design_.levels)
        if self.penalizer_note_:
            out.append(self.penalizer_note_)
        if self.penalizer_ > 0:
            out.append(self.inference_note_ or Why("sv.note.predictions_penalised", p=f"{self.penalizer_:g}"))
        return out

    def print_summary(self, file=None, decimals: int = 3) -> None:
        """The model in text: sample, penalizer, strata, remedies, terms left out and the hazard-ratio table."""
        out = file or sys.stdout
        print(f"<CoxModel: {self.n_accounts_} accounts, {self.n_events_} churned, penalizer {self.penalizer_:g}>",
              file=out)
        if self.strata_:
            print(f"strata: {', '.join(self.strata_)}", file=out)
        for r in self.remedies_:
            print(f"PH remedy: {r['covariate']} -> {r['action']} (p = {r['p_before']:.2g})", file=out)
        for note in self.notes():
            print(f"note: {note}", file=out)
        print(self.summary.round(decimals).to_string(), file=out)

    def _repr_html_(self) -> str:
        from html import escape

        from .._core.display import table

        head = (f"<p><strong>Cox model</strong>: {self.n_accounts_:,} accounts, {self.n_events_:,} churned, "
                f"penalizer {self.penalizer_:g}</p>")
        notes = "".join(f"<p>{escape(n)}</p>" for n in self.notes())
        return head + notes + table(self.summary.reset_index(), decimals=3)._repr_html_()

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
            p = p_is(r["p_before"])
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
        strata = self._strata_key(rows, fitted=True)
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
            ph = relative_hazard(lp)  # clipped: an extreme covariate made NaN curves
            cumhaz = np.cumsum(dH, axis=0)[:, col] * ph[None, :]
            return SurvivalCurves(knots, cumhaz, tail * ph, rows.index)
        lps = {}
        split = self._split_terms()
        for early in (True, False):
            Xe = X.copy()
            for c in split:
                Xe[self._split_name(c, True)] = Xe[c] * early
                Xe[self._split_name(c, False)] = Xe[c] * (not early)
            lps[early] = Xe[self.params_.index].to_numpy(float) @ self.params_.to_numpy(float) - self.lp_offset_
        early_knot = (knots <= self.split_time_)[:, None]
        ph = np.where(early_knot, relative_hazard(lps[True])[None, :], relative_hazard(lps[False])[None, :])
        cumhaz = np.cumsum(dH[:, col] * ph, axis=0)
        return SurvivalCurves(knots, cumhaz, tail * relative_hazard(lps[False]), rows.index)

    def predict_risk(self, df: pd.DataFrame, t0=0.0, horizon: float = 12.0) -> pd.Series:
        """Probability of churning within ``horizon`` months of tenure ``t0`` (given survival to ``t0``)."""
        curves = self.predict_curves(df)
        t0 = t0 if np.isscalar(t0) else np.asarray(pd.Series(t0, index=df.index).loc[curves.index])
        return pd.Series(curves.churn_probability(t0, horizon), index=curves.index, name="churn_probability")


#: Differences in cross-validated concordance below this are ties (only for :func:`pick_penalizer` on a
#: concordance column; the penalizer is chosen on the partial likelihood).
CONCORDANCE_TIE = 0.002


def check_events(rows: int, usable_rows: int, events: int, what: str, minimum: int = 2,
                 accounts: int | None = None) -> None:
    """:class:`InsufficientData` with a sentence when fewer than ``minimum`` churns are left to fit on.

    ``accounts``: how many accounts the usable rows hold, when a row is an account's interval (start/stop rows,
    panel months): the sentence counts "9 rows of 1 account" (it read "the 9 accounts/rows usable" of a one-account
    world), and "accounts" when each is one row; without it, rows."""
    model = Why.of({lang: t(what, lang) for lang in LANGS})  # the model's name, in the catalogue when it is there
    if rows == 0:
        raise Thin("reason.cox.no_rows", what=model)
    if usable_rows == 0:
        raise Thin("reason.cox.no_usable_rows", what=model, rows=rows)
    units = (Why("sv.unit.rows", n=usable_rows) if accounts is None else Why("sv.unit.accounts", n=usable_rows)
             if accounts == usable_rows else Why("sv.unit.rows_of", n=usable_rows, k=accounts))
    if events == 0:
        raise Thin("reason.cox.no_churn", what=model, units=units, minimum=minimum)
    if events < minimum:
        raise Thin("reason.cox.few_churn", what=model, events=events, units=units, minimum=minimum)


def selection_table(penalizers, cvl: np.ndarray, extra: dict | None = None) -> pd.DataFrame:
    """One row per penalizer from its per-fold cross-validated log-likelihoods ``cvl`` (penalizers x folds).

    ``cv_loglik`` sums the folds (NaN when a fold could not be fitted: ``failed_folds``); ``cv_loglik_diff`` is
    the difference from the best penalizer and ``cv_loglik_diff_se`` its standard error from the paired fold
    differences (``sqrt(K) x SD_k``); ``within_1se`` marks differences smaller than their standard error.
    ``extra``: other per-fold scores (same shape), reported as ``<name>`` (mean) and ``<name>_sd``.
    """
    cvl = np.asarray(cvl, float)
    k = cvl.shape[1]
    ok = np.isfinite(cvl).all(axis=1)
    total = np.where(ok, cvl.sum(axis=1), np.nan)
    if not ok.any():
        raise InsufficientData("no penalizer could be fitted on every cross-validation fold")
    best = int(np.nanargmax(total))
    diff = cvl - cvl[best]
    se = np.where(ok, np.sqrt(k) * np.std(diff, axis=1, ddof=1) if k > 1 else np.nan, np.nan)
    out = pd.DataFrame({"penalizer": [float(p) for p in penalizers], "cv_loglik": total,
                        "cv_loglik_diff": total - total[best], "cv_loglik_diff_se": se,
                        "failed_folds": (~np.isfinite(cvl)).sum(axis=1)})
    out["within_1se"] = ok & (out["cv_loglik_diff"] >= -np.nan_to_num(out["cv_loglik_diff_se"], nan=0.0))
    for name, v in (extra or {}).items():
        v = np.asarray(v, float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a penalizer whose folds all failed
            out[name] = np.nanmean(v, axis=1)
            out[f"{name}_sd"] = np.nanstd(v, axis=1, ddof=1)
    return out


def pick_penalizer(results: pd.DataFrame, score: str = "cv_loglik") -> float:
    """The smallest penalizer whose cross-validated log-likelihood is within one standard error of the best.

    A penalty has to earn its place: between penalizers whose cross-validated partial likelihood differs by
    less than the noise of that difference (one paired standard error over the folds), the smallest is kept,
    because it biases the predicted curves the least. (Concordance cannot make this choice: it depends only
    on the ranking, which a penalty shrinking every coefficient together barely moves; differences of 0.003
    against a fold SD of 0.03 used to decide it.) With ``score`` a concordance column the old rule applies:
    the best score, near-ties within ``CONCORDANCE_TIE`` going to the smallest penalizer.
    """
    if score == "cv_loglik":
        return float(results.loc[results["within_1se"], "penalizer"].min())
    best = results[score].max()
    near = results[results[score] >= best - CONCORDANCE_TIE]
    return float(near["penalizer"].min())


def penalty_sample(data: pd.DataFrame, ids, events, max_accounts: int | None, seed: int = 0):
    """The rows on which to choose a penalizer for a large company, and what was done: ``(rows, note)``.

    With more than ``max_accounts`` accounts, the cross-validation that chooses the ridge penalty runs on a
    stratified sample of that many accounts (churned or not, in proportion:
    :func:`~engage_models._core.sampling.stratified_accounts`); ``note`` holds ``sampled_accounts``,
    ``accounts`` and ``rows_scale`` (the sample's share of the rows). lifelines' penalty grows with the rows
    (``penalizer x rows / 2 x |beta|^2``), so the strength chosen on the sample is multiplied by
    ``rows_scale`` for the whole data: the same total penalty, the prior it stands for unchanged. ``note`` is
    ``None`` (and ``rows`` is ``data``) when there are no more accounts than that.
    """
    from .._core.sampling import stratified_accounts

    ids = np.asarray(ids)
    picked = stratified_accounts(ids, np.asarray(events), max_accounts, seed)
    if picked is None:
        return data, None
    keep = pd.Index(picked).get_indexer(ids) >= 0
    return data[keep], {"sampled_accounts": int(len(picked)), "accounts": int(len(pd.unique(ids))),
                        "rows_scale": float(keep.sum() / len(data))}


def sample_text(note: dict, chosen: float) -> Why:
    """The sentence a model's notes give for a penalizer chosen on a sample (see :func:`penalty_sample`)."""
    return Why("sv.note.penalizer_sample", sampled=note["sampled_accounts"], accounts=note["accounts"],
               chosen=f"{chosen:g}", full=f"{chosen * note['rows_scale']:.3g}")


def choose_penalizer(model: CoxModel, data: pd.DataFrame, penalizers=PENALIZERS, cv: int = 5,
                     random_state: int = 0, n_jobs: int | None = None) -> pd.DataFrame:
    """Cross-validated partial likelihood (and Harrell's C) of ``model`` (PH checks off) for each penalizer.

    Verweij and van Houwelingen's cross-validated partial likelihood: fold ``k`` scores the coefficients
    fitted without it by ``l(beta_-k) - l_-k(beta_-k)``, the log partial likelihood of all rows minus that of
    the training rows (a held-out account's contribution with its full risk sets). Folds are shared by the
    penalizers (paired) and stratified on churn and rare levels (:func:`~.evaluation.account_folds`; an
    account's rows together with ``model.group_col``). Returns :func:`selection_table` with ``harrell_c`` of the
    held-out accounts beside it. The folds are shared
    among ``n_jobs`` processes (the same table in any number).
    """
    from .._core.progress import parallel_map
    from .evaluation import account_folds, categorical_columns, group_folds

    group = getattr(model, "group_col", None)  # an account's start/stop rows in one fold
    splits = (group_folds(data, group, model.event_col, cv, random_state, categorical_columns(model, data)) if group
              else account_folds(data, model.event_col, cv, random_state, categorical_columns(model, data)))
    done = parallel_map(counted_call, [(_penalizer_path, model, data, tr, te, j, penalizers)
                                       for j, (tr, te) in enumerate(splits)], n_jobs)
    say_folds([met for _, met in done], len(splits), "folds choosing the penalty")
    paths = [path for path, _ in done]
    cvl = np.column_stack([c for c, _ in paths])
    conc = np.column_stack([k for _, k in paths])
    return selection_table(penalizers, cvl, {"harrell_c": conc})


def _penalizer_path(model: CoxModel, data: pd.DataFrame, tr, te, j: int, penalizers) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``j``'s cross-validated partial likelihood and Harrell's C for each penalizer."""
    from .evaluation import harrell_c

    train, test = data.iloc[tr], data.iloc[te]
    cvl = np.full(len(penalizers), np.nan)
    conc = np.full_like(cvl, np.nan)
    for i, p in enumerate(penalizers):
        m = clone(model).set_params(penalizer=p, check_ph=False, unpenalised_summary=False)
        try:
            m.fit(train)
        except InsufficientData as exc:
            log.info("penalizer %g, fold %d: %s", p, j + 1, exc)
            continue
        cvl[i] = m.log_partial_likelihood(data) - m.log_partial_likelihood(train)
        curves = m.predict_curves(test)
        kept = test.loc[curves.index]
        risk = curves.cumulative_hazard([float(np.median(train[model.duration_col]))]).to_numpy()[0]
        entry = kept[model.entry_col].to_numpy(float) if model.entry_col else None
        conc[i] = harrell_c(kept[model.duration_col], kept[model.event_col], risk, entry)
    return cvl, conc
