"""What accounts are worth: expected remaining lifetime, LTV and revenue at risk, with intervals.

For an active account at tenure ``t0`` with curve ``S`` (from any model of this package):

expected remaining lifetime (months, within a horizon ``H``)
    the conditional restricted mean survival time
    :math:`E_H = \\int_{t_0}^{t_0+H} S(u)/S(t_0) \\, du`.
LTV (model-based, discounted)
    :math:`LTV = m \\cdot MRR \\cdot \\int_{t_0}^{t_0+H} S(u)/S(t_0) \\, e^{-\\delta (u - t_0)} du`, with gross
    margin ``m``, the current MRR held flat, and ``delta = ln(1 + r) / 12`` for an annual discount rate ``r``
    (discounting inside the integral: a month that is further away, and less likely to be paid, counts less).
simple LTV (the textbook ratio, for comparison)
    :math:`ARPA \\cdot m / c`, with ARPA the mean MRR of active accounts and ``c`` the monthly churn rate
    = churn events / months at risk (constant hazard, no discounting, no horizon). It ignores who the
    accounts are and how long they have already stayed.
revenue at risk in the next ``k`` months (portfolio)
    *expected churned MRR* :math:`\\sum_i MRR_i (1 - S_i(t_0+k)/S_i(t_0))`: the monthly revenue expected to
    have left by month ``k``; and *expected lost MRR-months*
    :math:`\\sum_i MRR_i (k - E_k)`: the revenue expected not to be collected over those ``k`` months.

Intervals are percentile intervals over bootstrap refits of the model (accounts resampled with replacement),
which carry the uncertainty of both the coefficients and the baseline hazard.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from .._core.progress import effective_n_jobs, logged, step
from .._core.stats import difference_interval, m_out_of_n, nanpercentile_columns
from .curves import SurvivalCurves, monthly_discount_rate
from .design import refits

log = logging.getLogger(__name__)

HORIZONS = (3, 6, 12)


def account_value(curves: SurvivalCurves, t0, mrr, *, margin: float = 0.8, annual_discount_rate: float = 0.10,
                  horizon: float = 36.0, horizons=HORIZONS) -> pd.DataFrame:
    """Per account: expected remaining months, discounted months, LTV and churn probabilities.

    Columns: ``tenure_months``, ``mrr``, ``expected_remaining_months`` (undiscounted, within ``horizon``),
    ``discounted_months``, ``ltv`` (= margin x MRR x discounted months) and ``churn_<k>m`` for each ``k``.
    """
    if not 0 <= margin <= 1:
        raise ValueError(f"margin is a share between 0 and 1, not {margin}")
    t0 = np.broadcast_to(np.asarray(t0, dtype=float), (curves.n,))
    mrr = np.broadcast_to(np.asarray(mrr, dtype=float), (curves.n,))
    delta = monthly_discount_rate(annual_discount_rate)
    ints = curves.rmst_many(t0, [(horizon, 0.0), (horizon, delta), *((k, 0.0) for k in horizons)])
    rem, disc = ints[0], ints[1]
    out = pd.DataFrame({"tenure_months": t0, "mrr": mrr, "expected_remaining_months": rem,
                        "discounted_months": disc, "ltv": margin * mrr * disc}, index=curves.index)
    for j, k in enumerate(horizons):
        out[f"churn_{k}m"] = curves.churn_probability(t0, k)
        out[f"remaining_{k}m"] = ints[2 + j]
    return out


def revenue_at_risk(values: pd.DataFrame, horizons=HORIZONS) -> pd.DataFrame:
    """Portfolio totals per horizon from :func:`account_value`: expected churned MRR and lost MRR-months."""
    total = float(values["mrr"].sum())
    rows = []
    for k in horizons:
        churned = float((values["mrr"] * values[f"churn_{k}m"]).sum())
        lost = float((values["mrr"] * (k - values[f"remaining_{k}m"])).sum())
        rows.append({"horizon_months": k, "mrr": total, "expected_churned_mrr": churned,
                     "share_of_mrr": churned / total if total else np.nan, "expected_lost_mrr_months": lost,
                     "expected_churned_accounts": float(values[f"churn_{k}m"].sum())})
    return pd.DataFrame(rows)


def simple_ltv(lt: pd.DataFrame, *, margin: float = 0.8, mrr_col: str = "mrr", duration: str = "duration",
               event: str = "event", entry: str | None = "entry", alpha: float = 0.05,
               active: pd.DataFrame | None = None) -> dict:
    """ARPA x margin / monthly churn rate, with the churn rate's exact Poisson interval and ARPA's t interval.

    ``active``: the accounts still customers, one row each, whose ``mrr_col`` makes the ARPA (default: the rows
    of ``lt`` without the event; start/stop rows hold an account's earlier plans, and a churned account's rows
    before its last, which are no customers' revenue today).

    The churn rate is events / months at risk (``duration - entry`` summed), so left-truncated years that
    the data does not show are not counted as exposure. The LTV's interval combines both on the log scale
    (``log LTV = log ARPA - log rate``; MOVER, :func:`~engage_models._core.stats.difference_interval`): with the
    churn rate's alone it covered the truth 68-84% of the time for a nominal 95% where MRR varies between
    accounts (a coverage audit with known answers).
    """
    exposure = float((lt[duration] - (lt[entry] if entry and entry in lt else 0.0)).clip(lower=0).sum())
    d = int(lt[event].sum())
    active = lt[lt[event] == 0] if active is None else active
    arpa = float(active[mrr_col].mean()) if len(active) else float("nan")
    rate = d / exposure if exposure else float("nan")
    lo = stats.chi2.ppf(alpha / 2, 2 * d) / 2 / exposure if d else 0.0
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * d + 2) / 2 / exposure
    n = len(active)
    se = float(active[mrr_col].std(ddof=1)) / np.sqrt(n) if n > 1 else float("nan")
    half = stats.t.ppf(1 - alpha / 2, max(n - 1, 1)) * se / arpa if arpa > 0 and np.isfinite(se) else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):  # no churn: the rate's lower end 0, the LTV's upper inf
        log_a, log_r = np.log(arpa * margin), np.log(rate) if rate else -np.inf
        low, high = difference_interval(log_a, log_a - half, log_a + half, log_r, np.log(lo), np.log(hi))
    return {"arpa": arpa, "arpa_low": arpa * np.exp(-half), "arpa_high": arpa * np.exp(half),
            "monthly_churn_rate": rate, "churn_rate_low": lo, "churn_rate_high": hi,
            "events": d, "exposure_months": exposure, "margin": margin,
            "expected_lifetime_months": 1 / rate if rate else float("inf"),
            "ltv": arpa * margin / rate if rate else float("inf"),
            "ltv_low": float(np.exp(low)) if rate else arpa * np.exp(-half) * margin / hi,
            "ltv_high": float(np.exp(high)) if lo else float("inf")}


def bootstrap_values(model, train: pd.DataFrame, accounts: pd.DataFrame, t0, mrr, *, n_boot: int = 100,
                     random_state: int = 0, cluster: str | None = None, alpha: float = 0.05, n_jobs: int | None = None,
                     max_resample: int | None = None, **value_kw):
    """Refit ``model`` on ``n_boot`` resamples of ``train``; percentile intervals of values and totals.

    ``model`` is a fitted estimator of this package with ``refit_params()`` (the final specification, no
    selection repeated; a start from the fitted coefficients where the model takes one) and ``predict_curves``.
    Rows of ``train`` are resampled, or whole ``cluster`` groups (accounts, for start/stop data). The resamples
    are drawn first, from ``random_state``, and the refits shared among ``n_jobs`` processes (joblib; ``-1``
    all cores), so the intervals do not depend on ``n_jobs``. Returns ``(per_account, portfolio)``:
    :func:`account_value` of the fitted model with ``<col>_low``/``<col>_high`` columns (the remaining and
    discounted months, the LTV and each horizon's churn probability: :func:`interval_columns`), and
    :func:`revenue_at_risk` with intervals.

    ``max_resample``: with more clusters than this, each resample draws only ``m = max_resample`` of the ``n``
    clusters (the m-out-of-n bootstrap: Bickel, Goetze and van Zwet 1997) and each draw's distance from the
    full fit is scaled by ``sqrt(m / n)`` before the percentiles, so the refits cost what ``m`` clusters cost
    while the intervals keep the full data's width (first order: the values are smooth functions of the
    coefficients). The attributes ``resampled`` and ``clusters`` of both results say what was done.
    """
    curves = model.predict_curves(accounts)
    t0 = pd.Series(np.broadcast_to(np.asarray(t0, float), (len(accounts),)), index=accounts.index)
    mrr = pd.Series(np.broadcast_to(np.asarray(mrr, float), (len(accounts),)), index=accounts.index)
    base = account_value(curves, t0.loc[curves.index], mrr.loc[curves.index], **value_kw)
    port = revenue_at_risk(base, value_kw.get("horizons", HORIZONS))
    if n_boot <= 0:
        return base, port
    rng = np.random.default_rng(random_state)
    n = len(pd.unique(train[cluster].to_numpy())) if cluster else len(train)
    m = min(n, int(max_resample)) if max_resample else n
    if cluster:
        uniq = pd.unique(train[cluster].to_numpy())
        picks = [rng.choice(uniq, size=m, replace=True) for _ in range(n_boot)]
    else:
        picks = [rng.integers(0, len(train), m) for _ in range(n_boot)]
    from sklearn.utils.parallel import Parallel, delayed

    jobs = max(1, min(n_boot, effective_n_jobs(n_jobs)))
    # a few chunks per process, so that progress is seen as they return (and a slow chunk is not waited on alone)
    n_chunks = min(n_boot, jobs * 2) if jobs > 1 else 1
    chunks = [list(range(n_boot))[j::n_chunks] for j in range(n_chunks)]
    done = []
    step(0, n_boot, "bootstrap refits")
    for part in Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(logged(_bootstrap_draws))(model, train, accounts.loc[base.index], t0.loc[base.index],
                                      mrr.loc[base.index], cluster, [(b, picks[b]) for b in chunk], value_kw)
            for chunk in chunks):
        done.append(part)
        step(round(n_boot * len(done) / n_chunks), n_boot, "bootstrap refits")
    results = sorted((r for part, _ in done for r in part), key=lambda r: r[0])  # in draw order, whatever n_jobs
    unseen = _say_unseen_levels(sum((met for _, met in done), Counter()), n_boot)
    draws = [r[1] for r in results]
    pdraws = [r[2] for r in results]
    if len(draws) < max(10, n_boot // 2):
        log.warning("only %d of %d bootstrap draws succeeded: intervals are rough", len(draws), n_boot)
    if not draws:
        return base, port
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    columns = interval_columns(value_kw.get("horizons", HORIZONS))
    # m-out-of-n: a draw's distance from the full fit shrinks by sqrt(m / n) (none when m == n)
    arr = m_out_of_n(base[columns].to_numpy(float), np.stack(draws), m, n)
    parr = m_out_of_n(port[PORTFOLIO_COLUMNS].to_numpy(float), np.stack(pdraws), m, n)
    lo, hi = nanpercentile_columns(arr, q)  # a value never defined (LTV without MRR) has no interval: NaN
    for j, c in enumerate(columns):
        base[f"{c}_low"], base[f"{c}_high"] = lo[:, j], hi[:, j]
    plo, phi = nanpercentile_columns(parr, q)
    for j, c in enumerate(PORTFOLIO_COLUMNS):
        port[f"{c}_low"], port[f"{c}_high"] = plo[:, j], phi[:, j]
    base.attrs["n_boot"] = port.attrs["n_boot"] = len(draws)
    base.attrs["resampled"] = port.attrs["resampled"] = m
    base.attrs["clusters"] = port.attrs["clusters"] = n
    if unseen:
        base.attrs["unseen_levels"] = port.attrs["unseen_levels"] = [
            f"{u['column']}: {u['refits']} of {u['of']} refits, as {u['reference']!r}" for u in unseen]
        base.attrs["unseen_level_refits"] = port.attrs["unseen_level_refits"] = unseen
    return base, port


def _say_unseen_levels(met: Counter, n_boot: int) -> list[dict]:
    """One warning per column whose levels some refits' resamples lacked (``met``: refits per
    ``("unseen_level", column, reference)``, from :func:`~engage_models.survival.design.refits`): those refits
    valued the accounts of such a level as of the reference level, which widens their intervals. Returns the same
    as records (``column``, ``refits``, ``of``, ``reference``) for the values' ``attrs`` (the ``unseen_levels``
    texts, "segment: 42 of 100 refits, as 'SMB'") and report 05 (:func:`~.report.unseen_levels_note`)."""
    out = []
    for (what, *rest), k in sorted(met.items(), key=lambda kv: str(kv[0])):
        if what != "unseen_level":
            continue
        column, reference = rest
        log.warning("%d of %d bootstrap refits of the survival values had no account of some level of %r in their "
                    "resample (a rare level): its accounts were valued as of the reference level %r in those refits",
                    k, n_boot, column, reference)
        out.append({"column": str(column), "refits": int(k), "of": int(n_boot), "reference": str(reference)})
    return out


#: Per-account and portfolio columns that get bootstrap intervals (per account, also each horizon's churn
#: probability: :func:`interval_columns`).
VALUE_COLUMNS = ["expected_remaining_months", "discounted_months", "ltv"]
PORTFOLIO_COLUMNS = ["expected_churned_mrr", "expected_lost_mrr_months", "expected_churned_accounts"]


def interval_columns(horizons=HORIZONS) -> list[str]:
    """The per-account columns :func:`bootstrap_values` gives an interval: :data:`VALUE_COLUMNS` and the churn
    probability within each horizon (the report's "churn within 12 months" had none, beside remaining months that
    had theirs).

    >>> interval_columns((6, 12))
    ['expected_remaining_months', 'discounted_months', 'ltv', 'churn_6m', 'churn_12m']
    """
    return [*VALUE_COLUMNS, *(f"churn_{k}m" for k in horizons)]


def _bootstrap_draws(model, train, accounts, t0, mrr, cluster, picks, value_kw) -> list:
    """Refit on each ``(draw, pick)`` resample: ``(draw, values, portfolio)`` for the draws that fit, and how many
    refits met each thing :func:`~engage_models.survival.design.refits` counts."""
    params = model.refit_params()
    # each cluster's rows, found once for the chunk: a groupby of the whole training frame per draw cost as much
    # as the rest of the draw's resampling at 50,000 accounts (0.24 s of 1.2M rows, 100 times)
    groups = train.groupby(cluster, sort=False).indices if cluster else None
    out, said = [], Counter()
    for b, pick in picks:
        sample = (_resample_clusters(train, cluster, pick, groups) if cluster
                  else train.iloc[pick].reset_index(drop=True))
        try:
            with refits() as met:  # the full fit said its rows left out; a level a resample lacks: said once
                m = clone(model).set_params(**params).fit(sample)
                c = m.predict_curves(accounts)
            said.update(dict.fromkeys(met, 1))  # refits that met it
        except (ValueError, np.linalg.LinAlgError) as exc:  # a resample without events in a stratum, etc.
            log.info("bootstrap draw %d skipped: %s", b, exc)
            continue
        v = account_value(c, t0.loc[c.index], mrr.loc[c.index], **value_kw).reindex(accounts.index)
        port = revenue_at_risk(v.fillna(0.0), value_kw.get("horizons", HORIZONS))
        out.append((b, v[interval_columns(value_kw.get("horizons", HORIZONS))].to_numpy(),
                    port[PORTFOLIO_COLUMNS].to_numpy()))
    return out, said


def _resample_clusters(df: pd.DataFrame, cluster: str, pick: np.ndarray,
                       groups: dict | None = None) -> pd.DataFrame:
    """Rows of the picked clusters, each copy given a new cluster id (so repeated accounts stay distinct).
    ``groups``: ``df.groupby(cluster).indices``, when the caller resamples the same frame many times."""
    if groups is None:
        groups = df.groupby(cluster, sort=False).indices
    idx = np.concatenate([groups[g] for g in pick])
    reps = np.repeat(np.arange(len(pick)), [len(groups[g]) for g in pick])
    out = df.iloc[idx].reset_index(drop=True)
    out[cluster] = reps
    return out


def plot_ltv(values: pd.DataFrame, simple: dict | None = None, ax=None, lang: str = "en", currency: str = "USD"):
    """Histogram of model-based LTV across active accounts, with the simple LTV as a line."""
    from .._core.i18n import fmt_money, t
    from .._core.plots import new_ax

    ax = new_ax(ax)
    v = values["ltv"].dropna()
    bins = np.geomspace(max(v[v > 0].min(), 1), v.max() * 1.01, 40) if (v > 0).sum() > 1 else 20
    ax.hist(v, bins=bins, color="#0072b2", alpha=0.8)
    if isinstance(bins, np.ndarray):
        ax.set_xscale("log")
    ax.axvline(v.median(), color="black", lw=1.5,
               label=t("surv.median_ltv", lang, value=fmt_money(v.median(), lang, currency)))
    if simple and np.isfinite(simple.get("ltv", np.nan)):
        ax.axvline(simple["ltv"], color="#d55e00", ls="--", lw=1.5,
                   label=t("surv.simple_ltv_line", lang, value=fmt_money(simple["ltv"], lang, currency)))
    ax.set_xlabel(t("ltv", lang) + f" ({currency})")
    ax.set_ylabel(t("accounts", lang))
    ax.legend()
    return ax


def plot_revenue_at_risk(portfolio: pd.DataFrame, ax=None, lang: str = "en", currency: str = "USD"):
    """Expected churned MRR by horizon, with bootstrap intervals when present."""
    from .._core.i18n import fmt_money, t
    from .._core.money import money_axis
    from .._core.plots import error_bars, new_ax

    ax = new_ax(ax, figsize=(7, 4))
    x = np.arange(len(portfolio))
    y = portfolio["expected_churned_mrr"].to_numpy()
    err = None
    if "expected_churned_mrr_low" in portfolio:
        err = error_bars(y, portfolio["expected_churned_mrr_low"], portfolio["expected_churned_mrr_high"])
    ax.bar(x, y, yerr=err, capsize=4, color="#d55e00", alpha=0.85)
    tops = y if err is None else y + err[1]
    for xi, top, yi, s in zip(x, tops, y, portfolio["share_of_mrr"], strict=True):
        ax.annotate(f"{fmt_money(yi, lang, currency)} ({100 * s:.1f}%)", xy=(xi, top), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.yaxis.set_major_formatter(money_axis(ax.yaxis, lang, currency))
    ax.set_xticks(x)
    ax.set_xticklabels([t("surv.next_months", lang, k=int(k)) for k in portfolio["horizon_months"]])
    ax.set_ylabel(t("surv.expected_churned_mrr", lang))
    ax.margins(y=0.25)
    return ax
