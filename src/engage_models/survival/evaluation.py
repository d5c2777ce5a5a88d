"""How good are the predicted survival curves? Concordance, time-dependent AUC, calibration, cross-validation.

Notation: ``T_i`` observed time (churn or censoring), ``D_i = 1`` if churned, ``eta_i`` a risk score (higher =
churns sooner), ``G`` the Kaplan-Meier estimate of the *censoring* distribution (``G(t) = P(C > t)``).

Harrell's C
    share of comparable pairs the scores order correctly; a pair ``(i, j)`` is comparable when ``D_i = 1``
    and ``T_i < T_j`` (and, with left truncation, ``j`` had entered before ``T_i``). Ties in score count 1/2.
Uno's C (Uno et al. 2011)
    Harrell's C with each pair weighted by ``G(T_i-)^{-2}`` and restricted to ``T_i < tau``; it does not
    depend on the censoring distribution, which Harrell's C does when censoring is heavy.

    .. math:: C_{Uno} = \\frac{\\sum_{i,j} D_i G(T_i-)^{-2} 1(T_i < T_j, T_i < \\tau) [1(\\eta_i > \\eta_j)
              + \\tfrac12 1(\\eta_i = \\eta_j)]}{\\sum_{i,j} D_i G(T_i-)^{-2} 1(T_i < T_j, T_i < \\tau)}
Cumulative/dynamic AUC at ``t`` (Uno et al. 2007; Hung & Chiang 2010)
    cases churned by ``t`` (``T_i <= t, D_i = 1``, weighted ``1/G(T_i-)``), controls still customers after
    ``t`` (``T_j > t``): the probability that a case scores above a control.

    .. math:: AUC(t) = \\frac{\\sum_i \\sum_j 1(T_i \\le t) D_i 1(T_j > t) 1(\\eta_i > \\eta_j) / G(T_i-)}
              {\\sum_i 1(T_i \\le t) D_i / G(T_i-) \\cdot \\sum_j 1(T_j > t)}
Calibration at ``t``
    accounts grouped by decile of predicted churn probability by ``t``; per group the mean prediction beside
    the observed share churned by ``t`` (1 - Kaplan-Meier, which handles censoring), with its interval.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index
from sklearn.base import clone

from .._core.errors import InsufficientData
from .._core.reasons import Thin, Why
from .._core.stats import m_out_of_n

log = logging.getLogger(__name__)

HORIZONS = (3, 6, 12)
_CHUNK = 2048


# --------------------------------------------------------------------------------------------- censoring
def censoring_survival(time, event):
    """``t -> G(t-)``: Kaplan-Meier of the censoring times (censoring is the 'event'), left limit."""
    time, event = np.asarray(time, float), np.asarray(event).astype(bool)
    km = KaplanMeierFitter().fit(time, ~event)
    t = km.survival_function_.index.to_numpy(float)
    s = km.survival_function_.iloc[:, 0].to_numpy(float)

    def g_left(x):
        x = np.asarray(x, float)
        k = np.searchsorted(t, x, side="left") - 1  # last knot strictly before x
        return np.where(k >= 0, s[np.clip(k, 0, None)], 1.0)

    return g_left


# ------------------------------------------------------------------------------------------- concordance
def _pair_sums(time, event, risk, weight, entry=None, tau=np.inf):
    """Weighted concordant and comparable pair counts, by chunks of rows (O(n^2) memory-bounded)."""
    conc = total = 0.0
    cases = np.flatnonzero(event & (time < tau))
    for lo in range(0, len(cases), _CHUNK):
        i = cases[lo:lo + _CHUNK]
        comparable = time[i][:, None] < time[None, :]
        if entry is not None:
            comparable &= entry[None, :] < time[i][:, None]
        w = weight[i][:, None] * comparable
        diff = risk[i][:, None] - risk[None, :]
        conc += (w * ((diff > 0) + 0.5 * (diff == 0))).sum()
        total += w.sum()
    return conc, total


def harrell_c(time, event, risk, entry=None) -> float:
    """Harrell's concordance of ``risk`` (higher = churns sooner) with the observed times.

    With ``entry`` (left truncation) a pair only counts when the longer-lived account was already at risk.
    """
    time, risk = np.asarray(time, float), np.asarray(risk, float)
    event = np.asarray(event).astype(bool)
    if entry is None or not np.any(np.asarray(entry) > 0):
        if not event.any():
            return float("nan")
        try:
            return float(concordance_index(time, -risk, event))
        except ZeroDivisionError:  # lifelines' "No admissable pairs": no churn before another account's end
            return float("nan")  # (a 15-row table's fold stopped engage survival with a traceback)
    conc, total = _pair_sums(time, event, risk, np.ones(len(time)), np.asarray(entry, float))
    return conc / total if total else float("nan")


def harrell_c_interval(time, event, risk, *, n_boot: int = 100, max_n: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of :func:`harrell_c` over accounts (the predictions held fixed).

    With more than ``max_n`` accounts each draw takes ``max_n`` of them and its distance from the full estimate
    is shrunk by ``sqrt(max_n / n)`` (the m-out-of-n bootstrap, as the survival values' refits): 100 draws of
    14,000 accounts would cost 18 s, of 2,000 of them 2 s. 100 draws put the 2.5th and 97.5th percentiles
    within about a quarter of the estimate's standard error of where more draws would: enough to tell whether it
    holds 0.5. ``(nan, nan)`` without a churn.

    >>> lo, hi = harrell_c_interval([1, 2, 3, 4, 5, 6, 7, 8] * 5, [1, 0] * 20, list(range(40, 0, -1)))
    >>> lo <= harrell_c([1, 2, 3, 4, 5, 6, 7, 8] * 5, [1, 0] * 20, list(range(40, 0, -1))) <= hi
    True
    """
    time, risk = np.asarray(time, float), np.asarray(risk, float)
    event = np.asarray(event).astype(bool)
    n = len(time)
    full = harrell_c(time, event, risk)
    if not np.isfinite(full) or n < 2 or n_boot < 1:
        return float("nan"), float("nan")
    m = min(n, int(max_n))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, n, m)
        if event[idx].any():
            draws.append(harrell_c(time[idx], event[idx], risk[idx]))
    if len(draws) < n_boot / 2:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.nanpercentile(m_out_of_n(full, draws, m, n), [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def uno_c(time, event, risk, tau: float | None = None, train_time=None, train_event=None) -> float:
    """Uno's IPCW concordance, truncated at ``tau`` (default: the last event time).

    ``G`` is estimated on ``train_time/train_event`` when given (as in scikit-survival), else on the test data.
    """
    time, risk = np.asarray(time, float), np.asarray(risk, float)
    event = np.asarray(event).astype(bool)
    if not event.any():
        return float("nan")
    g = censoring_survival(time if train_time is None else train_time, event if train_event is None else train_event)
    tau = float(time[event].max()) + 1e-9 if tau is None else tau
    gi = g(time)
    weight = np.where(gi > 0, 1.0 / np.maximum(gi, 1e-12) ** 2, 0.0)
    conc, total = _pair_sums(time, event, risk, weight, tau=tau)
    return conc / total if total else float("nan")


def cumulative_dynamic_auc(time, event, risk, t: float, train_time=None, train_event=None) -> float:
    """Time-dependent AUC at ``t``: churned by ``t`` (IPCW-weighted) against still a customer after ``t``.

    ``risk`` may be the predicted probability of churn by ``t`` (the natural score for this horizon).
    """
    time, risk = np.asarray(time, float), np.asarray(risk, float)
    event = np.asarray(event).astype(bool)
    cases = event & (time <= t)
    controls = time > t
    if not cases.any() or not controls.any():
        return float("nan")
    g = censoring_survival(time if train_time is None else train_time, event if train_event is None else train_event)
    w = 1.0 / np.maximum(g(time[cases]), 1e-12)
    rc, rj = risk[cases], np.sort(risk[controls])
    # for each case: controls with lower score + half the ties
    below = np.searchsorted(rj, rc, side="left")
    ties = np.searchsorted(rj, rc, side="right") - below
    return float((w * (below + 0.5 * ties)).sum() / (w.sum() * len(rj)))


# ------------------------------------------------------------------------------------------- calibration
def calibration_table(time, event, predicted_churn, t: float, n_groups: int = 10) -> pd.DataFrame:
    """Observed vs predicted churn by ``t``, accounts grouped by quantile of their prediction.

    Returns one row per group: ``group``, ``accounts``, ``predicted`` (mean predicted churn probability),
    ``observed`` (1 - Kaplan-Meier at ``t`` in the group) with ``observed_low``/``observed_high`` (95%).
    """
    time, p = np.asarray(time, float), np.asarray(predicted_churn, float)
    event = np.asarray(event).astype(bool)
    n_groups = max(1, min(n_groups, len(p) // 20 or 1))
    groups = pd.qcut(pd.Series(p).rank(method="first"), n_groups, labels=False)
    rows = []
    for g in range(n_groups):
        m = (groups == g).to_numpy()
        km = KaplanMeierFitter().fit(time[m], event[m])
        s = float(km.survival_function_at_times(t).iloc[0])
        ci = km.confidence_interval_survival_function_
        k = np.searchsorted(ci.index.to_numpy(float), t, side="right") - 1
        lo_s, hi_s = (ci.iloc[max(k, 0)].to_numpy(float) if k >= 0 else (1.0, 1.0))
        rows.append({"group": g + 1, "accounts": int(m.sum()), "predicted": float(p[m].mean()),
                     "observed": 1 - s, "observed_low": 1 - hi_s, "observed_high": 1 - lo_s})
    return pd.DataFrame(rows)


def plot_calibration(tables: dict[float, pd.DataFrame], ax=None, lang: str = "en"):
    """Observed (with 95% interval) against predicted churn probability, one colour per horizon."""
    import matplotlib.pyplot as plt

    from .._core.i18n import t as tr
    from .._core.plots import new_ax

    ax = new_ax(ax, figsize=(6, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    top = 0.0
    for (h, tab), c in zip(tables.items(), colours, strict=False):
        err = np.vstack([tab["observed"] - tab["observed_low"], tab["observed_high"] - tab["observed"]]).clip(0)
        ax.errorbar(tab["predicted"], tab["observed"], yerr=err, fmt="o-", color=c, capsize=3,
                    label=tr("surv.horizon_months", lang, h=f"{h:g}"))
        top = max(top, tab["predicted"].max(), tab["observed_high"].max())
    top = min(1.0, top * 1.05 + 0.01)
    ax.plot([0, top], [0, top], ls="--", color="grey", lw=1, label=tr("surv.perfect_calibration", lang))
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(tr("surv.predicted_churn", lang))
    ax.set_ylabel(tr("surv.observed_churn", lang))
    ax.legend(loc="upper left")
    return ax


# ------------------------------------------------------------------------------------ model evaluation
def evaluate_predictions(test: pd.DataFrame, curves, *, t0_col: str = "t0", time_col: str = "time",
                         event_col: str = "event", horizons=HORIZONS, train: pd.DataFrame | None = None,
                         n_groups: int = 10, n_boot: int = 100) -> dict:
    """Concordance, time-dependent AUC and calibration of curves predicted for ``test`` accounts.

    ``test`` holds for each account its tenure at the start of the test period (``t0``), the time from then
    to churn or censoring (``time``) and ``event``; ``curves`` are the model's curves for the same rows.
    The risk score for horizon ``h`` is the predicted churn probability ``1 - S(t0 + h) / S(t0)``; the
    concordance uses the longest horizon evaluable. ``train`` (``time``, ``event``) estimates the censoring
    distribution for the IPCW weights (default: the test data, which is right for an out-of-time test: its
    censoring is the end of follow-up after the cutoff, on the same clock as ``time``).

    Harrell's C comes with a 95% bootstrap interval over the test accounts (``harrell_c_low``, ``_high``;
    :func:`harrell_c_interval`, ``n_boot`` draws, 0: none): a model whose interval holds 0.5 cannot be told from
    chance out of time, and the reports say so where its values are used.
    """
    time = test[time_col].to_numpy(float)
    event = test[event_col].to_numpy().astype(bool)
    t0 = test[t0_col].to_numpy(float) if t0_col in test else np.zeros(len(test))
    tt, te = (train[time_col], train[event_col]) if train is not None else (None, None)
    follow = float(time.max()) if len(time) else 0.0
    out = {"accounts": int(len(test)), "events": int(event.sum()), "follow_up_months": follow, "horizons": {}}
    usable = [h for h in horizons if h < follow]
    h_c = max(usable) if usable else (min(horizons) if horizons else 12)
    risk = curves.churn_probability(t0, h_c)
    out["risk_horizon_months"] = h_c
    out["harrell_c"] = harrell_c(time, event, risk)
    out["harrell_c_low"], out["harrell_c_high"] = harrell_c_interval(time, event, risk, n_boot=n_boot)
    out["uno_c"] = uno_c(time, event, risk, tau=h_c, train_time=tt, train_event=te)
    for h in horizons:
        if h >= follow:
            out["horizons"][str(h)] = {"evaluable": False}
            continue
        p = curves.churn_probability(t0, h)
        cal = calibration_table(time, event, p, h, n_groups=n_groups)
        km = KaplanMeierFitter().fit(time, event)
        out["horizons"][str(h)] = {
            "evaluable": True,
            "auc": cumulative_dynamic_auc(time, event, p, h, tt, te),
            "predicted_churn": float(p.mean()),
            "observed_churn": float(1 - km.survival_function_at_times(h).iloc[0]),
            "calibration": cal.to_dict("records"),
        }
    return out


# ------------------------------------------------------------------------------------------------ folds
#: A level of a categorical covariate with fewer rows than this many per fold counts as rare for the folds.
RARE_PER_FOLD = 5


def n_folds(n_events: int, cv: int, what: str = "accounts") -> int:
    """Folds for ``n_events`` churn events: at most ``cv``, at least 2 events per fold (so that every training
    part keeps some); :class:`InsufficientData` below 2 folds."""
    k = min(int(cv), int(n_events) // 2)
    if k < 2:
        if what == "accounts":  # the reason every caller of this package gives, in every language
            raise Thin("reason.cv_few_events", n=int(n_events))
        raise InsufficientData(f"cross-validation needs at least 4 churn events (2 per fold, 2 folds); the "
                               f"{what} have {int(n_events)}")
    return k


def fold_keys(df: pd.DataFrame, event_col: str, categorical=()) -> tuple[np.ndarray, np.ndarray]:
    """A stratification key per row (its event status and its rarest categorical level) and that level's count.

    Rows sharing a key are spread evenly over the folds (:func:`assign_folds`), so every fold holds its
    share of churners, and a level with few rows lands in as many training parts as its count allows
    instead of all in one held-out fold, where the model would meet it for the first time.
    """
    ev = df[event_col].to_numpy().astype(int).astype(str)
    rare = np.full(len(df), "", dtype=object)
    best = np.full(len(df), np.inf)
    for c in categorical:
        v = df[c].astype("string").fillna("<NA>")
        counts = v.map(v.value_counts()).to_numpy(float)
        better = counts < best
        rare = np.where(better, c + "=" + v.to_numpy(dtype=object), rare)
        best = np.minimum(best, counts)
    return np.array([f"{e}|{r}" for e, r in zip(ev, rare, strict=True)], dtype=object), best


def assign_folds(keys, k: int, random_state: int = 0, counts=None, rare_below: float = np.inf) -> np.ndarray:
    """Fold number (0..k-1) per row: rows of each key group dealt round-robin in random order.

    ``counts``/``rare_below``: a row's rare-level part of the key counts only when its level has fewer rows
    than ``rare_below`` (common levels need no help and would only fragment the groups).
    """
    keys = np.asarray(keys, dtype=object)
    if counts is not None:
        keys = np.array([key if c < rare_below else key.split("|", 1)[0] for key, c in zip(keys, counts, strict=True)],
                        dtype=object)
    rng = np.random.default_rng(random_state)
    folds = np.empty(len(keys), dtype=int)
    order = rng.permutation(len(keys))
    start = 0
    groups = pd.Series(np.arange(len(keys))[order]).groupby(keys[order], sort=True).agg(list)
    for members in sorted(groups, key=len):  # rare groups first, each starting where the last one ended
        folds[members] = (start + np.arange(len(members))) % k
        start = (start + len(members)) % k
    return folds


def account_folds(df: pd.DataFrame, event_col: str, cv: int, random_state: int = 0, categorical=()) -> list:
    """``[(train positions, test positions), ...]`` over the rows of an account table (one row per account),
    stratified on churn and on rare categorical levels (:func:`fold_keys`)."""
    k = n_folds(int(df[event_col].sum()), cv)
    keys, counts = fold_keys(df, event_col, categorical)
    folds = assign_folds(keys, k, random_state, counts, rare_below=RARE_PER_FOLD * k)
    return [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(k)]


def group_folds(df: pd.DataFrame, id_col: str, event_col: str, cv: int, random_state: int = 0,
                categorical=()) -> list:
    """:func:`account_folds` for rows grouped by account (start/stop or person-period rows): every row of an
    account falls in the same fold; an account counts as a churner when any of its rows has the event, and
    its level of a categorical covariate is the rarest it holds on any row (held by the fewest accounts). With its
    first row's, a level taken only on later rows (an upgrade of 3 accounts) was not stratified, and its accounts
    could fall in one fold, the others trained without it. Returns row positions."""
    acc = df.groupby(id_col, sort=False).agg({event_col: "max", **{c: "first" for c in categorical}})
    for c in categorical:
        level = df[c].astype(str).where(df[c].notna())
        held = df.groupby(level, dropna=True)[id_col].transform("nunique")  # accounts holding the row's level
        rarest = (pd.DataFrame({"id": df[id_col].to_numpy(), "v": df[c].to_numpy(), "n": held.to_numpy()})
                  .dropna(subset=["n"]).sort_values("n", kind="stable").drop_duplicates("id").set_index("id")["v"])
        acc[c] = rarest.reindex(acc.index).where(lambda x: x.notna(), acc[c])
    splits = account_folds(acc, event_col, cv, random_state, categorical)
    fold = np.empty(len(acc), dtype=np.int64)
    for f, (_tr, te) in enumerate(splits):
        fold[te] = f
    row_fold = fold[acc.index.get_indexer(df[id_col])]  # a hash lookup: np.isin on object ids is quadratic-ish
    return [(np.flatnonzero(row_fold != f), np.flatnonzero(row_fold == f)) for f in range(len(splits))]


def categorical_columns(model, df: pd.DataFrame) -> list[str]:
    """The categorical covariates (and strata) of a model of this package, as its design would see them."""
    from .design import is_categorical

    cols = list(getattr(model, "covariates", None) or []) + list(getattr(model, "strata", None) or [])
    named = set(getattr(model, "categorical", None) or [])
    return [c for c in dict.fromkeys(cols) if c in df and (c in named or is_categorical(df[c]))]


def cross_validate(model, df: pd.DataFrame, *, cv: int = 5, random_state: int = 0, horizons=HORIZONS,
                   duration_col: str = "duration", event_col: str = "event", entry_col: str | None = None,
                   group_col: str | None = None) -> dict:
    """K-fold cross-validated concordance (Harrell's, truncation-aware; Uno's) and AUC of an estimator.

    ``model`` is any estimator of this package (``fit(df)``, ``predict_curves(df)``); each fold refits a
    clone on the other folds and scores the held-out accounts. Harrell's C (truncation-aware) ranks their
    predicted cumulative hazard at the training median duration against their durations; Uno's C and the
    AUCs measure time from each account's entry (0 without truncation) and rank the predicted probability of
    churn within the longest horizon, resp. each horizon, of it.

    Folds are stratified on churn and on rare categorical levels (:func:`account_folds`); there are at most
    ``cv`` of them and at least 2 churners per fold (:class:`InsufficientData` when fewer than 4 churned). A
    fold whose training part cannot be fitted (:class:`InsufficientData`) is listed in ``failed_folds`` with
    the reason, and the means are over the others. ``group_col``: the account of each row when an account has
    several (start/stop rows): its rows fall in one fold (:func:`group_folds`), and a fold's ``accounts`` counts
    accounts, not rows.
    """
    from .design import counted_call, say_folds

    cats = categorical_columns(model, df)
    splits = (group_folds(df, group_col, event_col, cv, random_state, cats) if group_col
              else account_folds(df, event_col, cv, random_state, cats))
    rows, failed, met = [], [], []
    for k, (tr_idx, te_idx) in enumerate(splits):  # a rare level's lines, once for the folds (and their penalty's)
        row, said = counted_call(_fold, model, df.iloc[tr_idx], df.iloc[te_idx], k, horizons, duration_col,
                                 event_col, entry_col)
        if group_col and "accounts" in row:
            row["accounts"] = int(df[group_col].iloc[te_idx].nunique())
        met.append(said)
        (rows if "harrell_c" in row else failed).append(row)
    say_folds(met, len(splits))
    if not rows:
        raise InsufficientData("cross-validation: no fold could be fitted (" + "; ".join(f["reason"] for f in failed)
                               + ")")
    return fold_summary(pd.DataFrame(rows), failed)


def _fold(model, train: pd.DataFrame, test: pd.DataFrame, k: int, horizons, duration_col: str, event_col: str,
          entry_col: str | None) -> dict:
    """Fold ``k`` of :func:`cross_validate`: its metrics, or ``{"fold", "reason"}`` when it cannot be fitted."""
    try:
        m = clone(model).fit(train)
    except InsufficientData as exc:
        return {"fold": k + 1, "reason": str(exc)}
    curves = m.predict_curves(test)
    kept = test.loc[curves.index]
    time, event = kept[duration_col].to_numpy(float), kept[event_col].to_numpy().astype(bool)
    entry = kept[entry_col].to_numpy(float) if entry_col and entry_col in kept else np.zeros(len(kept))
    risk = _ranking_risk(curves, train[duration_col])
    tr_rem = train[duration_col] - (train[entry_col] if entry_col and entry_col in train else 0.0)
    row = {"fold": k + 1, "accounts": len(kept), "events": int(event.sum()),
           "harrell_c": harrell_c(time, event, risk, entry),
           "uno_c": uno_c(time - entry, event, curves.churn_probability(entry, max(horizons)),
                          train_time=tr_rem, train_event=train[event_col])}
    for h in horizons:
        # churn within h months of the time the account was first observed (its entry)
        p = curves.churn_probability(entry, h)
        # every account predicted alike (no churn by h in the training part): no ranking, not an AUC of 0.5
        row[f"auc_{h}"] = (cumulative_dynamic_auc(time - entry, event, p, h, tr_rem, train[event_col])
                           if np.ptp(p) > 0 else float("nan"))
    return row


def _ranking_risk(curves, durations: pd.Series) -> np.ndarray:
    """Each account's cumulative hazard at the training rows' median duration, Harrell's C's ranking; where every
    account has the same there (a discrete-time model of monthly periods at a median under a month: 0 for all,
    a concordance of exactly 0.500 with sd 0 while the Cox model's varied), at the 75th, 90th percentile or the
    longest duration, the first where the accounts differ.

    >>> from engage_models.survival.curves import SurvivalCurves
    >>> c = SurvivalCurves(np.array([0.0, 1.0, 2.0]), np.array([[0.0, 0.0], [0.0, 0.0], [0.2, 0.5]]), 0.0)
    >>> _ranking_risk(c, pd.Series([0.5, 0.6, 1.5, 2.0])).tolist()
    [0.2, 0.5]
    """
    risk = None
    for q in (50, 75, 90, 100):
        risk = curves.cumulative_hazard([float(np.percentile(durations, q))]).to_numpy()[0]
        if np.ptp(risk) > 0:
            break
    return risk


def fold_summary(folds_df: pd.DataFrame, failed: list[dict]) -> dict:
    """``folds`` (one record a fold), each metric's ``mean`` and ``sd`` over the folds that have it, and
    ``failed_folds``. A mean of one fold is that fold's luck and has no spread: a metric of fewer than two folds
    has none, and ``not_computed`` says why."""
    metrics = [c for c in folds_df.columns if c not in ("fold", "accounts", "events")]
    tried = len(folds_df) + len(failed)
    counted = {c: int(np.isfinite(folds_df[c].to_numpy(float)).sum()) for c in metrics}
    summary = {c: {"mean": _nanmean(folds_df[c]) if counted[c] >= 2 else float("nan"), "sd": _nansd(folds_df[c])}
               for c in metrics}
    out = {"folds": folds_df.to_dict("records"), **summary}
    thin = {c: Why("sv.why.few_folds_auc", n=counted[c], tried=tried, h=c.removeprefix("auc_"))
            if c.startswith("auc_") else Why("sv.why.few_folds", n=counted[c], tried=tried)
            for c in metrics if counted[c] < 2}
    if thin:
        out["not_computed"] = thin
    if failed:
        out["failed_folds"] = failed
    return out


def _nanmean(x) -> float:
    x = np.asarray(x, float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def _nansd(x) -> float:
    x = np.asarray(x, float)
    return float(np.nanstd(x, ddof=1)) if np.isfinite(x).sum() > 1 else float("nan")
