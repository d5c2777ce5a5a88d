"""What goes with NPS and CSAT: engagement metrics and account attributes; and whether detractors churn.

Drivers
-------
Each survey answer is joined to the engagement panel (one row per ``account_id`` and ``as_of``, metric
columns named as in :mod:`engage_models.features.metrics`) by the account's **latest observation at or before the
answer** (``as_of <= submitted_at``): the metrics describe what the account did before it answered, and
nothing after it leaks in. For each metric, Spearman's rank correlation with the answer,

.. math:: \\rho = \\mathrm{corr}(\\mathrm{rank}(x), \\mathrm{rank}(y)),

is robust to the fat tails of usage counts and to the ordinal 0-10 or 1-5 scale. Several users of one
account answer alike and share the account's metrics, so the answers are not independent: where they
have an ``account_id`` (the ``cluster`` keyword) the interval and the p-value come from resampling
**accounts** (``ci="bootstrap"``, the default then): the bootstrap standard error ``se`` of Fisher's
``atanh(rho)`` gives ``tanh(atanh(rho) +- z se)`` and ``p = 2 (1 - Phi(|atanh(rho)| / se))``
(:func:`engage_models._core.stats.cluster_bootstrap_spearman`). Without accounts, Fisher's interval with
Bonett and Wright's ``se = sqrt((1 + rho^2 / 2) / (n - 3))`` and Spearman's p for independent rows
(``ci="fisher"``). p-values are adjusted for the number of metrics by Benjamini-Hochberg (``q_value``).
A correlation is not an effect: a metric ranked high is a lead to follow, not a lever proven to move
the score.

Churn by category
-----------------
One row per account, so the tests see independent units: at a landmark date ``at`` (by default
``as_of - horizon_days``, the last date whose horizon has passed), the accounts still customers that had
answered before it, each with the category of its latest wave before ``at`` (see
:func:`engage_models.surveys.net_promoter.account_waves`); did it churn in ``(at, at + horizon]``? The rate
per category gets a Wilson interval, the table a chi-square test, and detractors against promoters a risk
ratio with the Katz log interval ``exp(log RR +- z sqrt(1/a - 1/n1 + 1/c - 1/n2))``.
:func:`survival_frame` prepares one row per account for Kaplan-Meier curves and the log-rank test (time
since the account's first wave, category of that wave), or, on request, one row per wave.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._core.errors import ConfigError
from .._core.i18n import count, t
from .._core.plots import error_bars, new_ax
from .._core.progress import effective_n_jobs
from .._core.stats import (
    benjamini_hochberg,
    cluster_bootstrap_spearman,
    fisher_z_interval,
    wilson_interval,
    z_value,
)
from .._core.time import to_utc
from ..features import metrics
from .net_promoter import CATEGORIES, CATEGORY_COLOURS

log = logging.getLogger(__name__)


def _utc_ns(s: pd.Series) -> pd.Series:
    """UTC timestamps at one resolution (nanoseconds), so merges between tables line up."""
    return to_utc(s).astype("datetime64[ns, UTC]")


def attach_panel(responses: pd.DataFrame, panel: pd.DataFrame, columns: Sequence[str] | None = None, *,
                 time: str = "submitted_at", max_age_days: float | None = None) -> pd.DataFrame:
    """Each response with the panel row of its account at the latest ``as_of`` at or before it.

    Parameters
    ----------
    responses : DataFrame
        Survey answers with ``account_id`` and ``time``.
    panel : DataFrame
        One row per (``account_id``, ``as_of``) with metric columns.
    columns : column names, optional
        Panel columns to attach (all but the keys by default).
    max_age_days : float, optional
        Leave the metrics empty when the latest observation is older than this.

    Returns
    -------
    DataFrame
        ``responses`` (same rows, same order) plus ``panel_as_of`` and the metric columns; empty where
        the account has no observation before the answer.
    """
    columns = [c for c in (columns or panel.columns) if c not in ("account_id", "as_of")]
    right = panel[["account_id", "as_of", *columns]].assign(panel_as_of=_utc_ns(panel["as_of"])).drop(columns="as_of")
    right = right.dropna(subset=["panel_as_of"]).sort_values("panel_as_of", kind="stable")
    left = responses.assign(_t=_utc_ns(responses[time]), _row=np.arange(len(responses)))
    clash = [c for c in columns if c in left.columns]
    if clash:
        raise ValueError(f"responses already have the panel columns {clash}")
    merged = pd.merge_asof(left.sort_values("_t", kind="stable"), right, left_on="_t", right_on="panel_as_of",
                           by="account_id", direction="backward", allow_exact_matches=True)
    if max_age_days is not None:
        stale = (merged["_t"] - merged["panel_as_of"]) > pd.Timedelta(days=max_age_days)
        merged.loc[stale, [*columns, "panel_as_of"]] = np.nan
    return merged.sort_values("_row").drop(columns=["_t", "_row"]).set_index(responses.index)


def one_hot(df: pd.DataFrame, columns: Sequence[str], drop_rare: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """Account attributes (segment, plan, ...) as 0/1 indicator columns named ``'segment=SMB'``.

    Returns the frame with the indicators added and their names; levels seen fewer than ``drop_rare``
    times are skipped. A rank correlation with an indicator compares the answers of that group with the rest.
    """
    added = []
    out = df.copy()
    for col in columns:
        for level, times in out[col].value_counts().sort_index().items():
            if times < drop_rare:
                continue
            name = f"{col}={level}"
            out[name] = (out[col] == level).astype(float).where(out[col].notna())
            added.append(name)
    return out, added


def candidate_drivers(columns: Sequence[str], exclude_families: Sequence[str] = ("sentiment",),
                      model_only: bool = True) -> list[str]:
    """The engagement metrics among ``columns`` worth correlating with survey answers.

    Only registry metrics qualify, so the panel's labels (``churned_within_h``, ``duration_days``,
    ``event``: they describe the future) and keys never enter. The ``sentiment`` family (latest NPS and
    CSAT) is left out by default: an answer correlates with the same customer's previous answers by
    construction, which says nothing about engagement. ``model_only`` keeps the columns the registry offers
    to models (no duplicates such as user-days, no previous-window helpers).
    """
    out = []
    for c in columns:
        m = metrics.REGISTRY_COLUMNS.get(c)
        if m is not None and m.family not in exclude_families and (m.model or not model_only):
            out.append(c)
    return out


def driver_correlations(df: pd.DataFrame, columns: Sequence[str], target: str = "score", *, ci: str | None = None,
                        level: float = 0.95, n_boot: int = 1000, cluster: str | None = "account_id",
                        seed: int = 0, min_n: int = 10, n_jobs: int | None = None) -> pd.DataFrame:
    """Spearman's rho between ``target`` and each column, with an interval, ranked by |rho|.

    Parameters
    ----------
    df : DataFrame
        One row per answer: ``target`` and the candidate columns (e.g. from :func:`attach_panel`).
    columns : column names
        Numeric candidates; constant or almost empty ones get NaN and sort last.
    ci : ``'bootstrap'``, ``'fisher'`` or None
        ``'bootstrap'``: interval and p-value from ``n_boot`` resamples of ``cluster`` (accounts; of rows
        when ``cluster`` is None or not a column). ``'fisher'``: Fisher-z interval and Spearman's p-value,
        both for independent rows. None (default): ``'bootstrap'`` when ``df`` has the ``cluster`` column,
        else ``'fisher'``.
    n_jobs : int, optional
        Processes sharing the candidates' bootstraps (joblib's convention: -1 every core). Each candidate's
        draws are seeded alike whatever ``n_jobs`` is, so the result does not depend on it.

    Returns
    -------
    DataFrame
        ``driver``, ``n``, ``rho``, ``ci_low``, ``ci_high``, ``p_value``, ``q_value`` (Benjamini-Hochberg
        over the p-values above), ``significant`` (``q_value < 1 - level``), ``accounts`` (distinct
        clusters; missing without), sorted by |rho| descending.
    """
    clustered = bool(cluster) and cluster in df
    ci = ci or ("bootstrap" if clustered else "fisher")
    if ci not in ("fisher", "bootstrap"):
        raise ValueError(f"ci must be 'fisher' or 'bootstrap', not {ci!r}")
    if ci == "fisher" and clustered and df[cluster].duplicated().any():
        log.warning("driver_correlations(ci='fisher') treats the answers as independent although several come "
                    "from one %s: intervals and p-values are too narrow; use ci='bootstrap'", cluster)
    if clustered and df[cluster].isna().any():
        no = count(int(df[cluster].isna().sum()), "# answer has", "# answers have")
        raise ValueError(f"{no} no {cluster!r}: give every answer its "
                         "account, or cluster=None to treat answers as independent")
    rows, boots = [], []
    y_all = pd.to_numeric(df[target], errors="coerce")
    for col in columns:
        x = pd.to_numeric(df[col], errors="coerce")
        ok = x.notna() & y_all.notna()
        n = int(ok.sum())
        accounts = int(df.loc[ok, cluster].nunique()) if clustered else pd.NA
        row = {"driver": col, "n": n, "rho": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
               "accounts": accounts}
        if n < min_n or x[ok].nunique() < 2 or y_all[ok].nunique() < 2:
            rows.append(row)
            continue
        if ci == "fisher":
            rho, p = stats.spearmanr(x[ok], y_all[ok])
            lo, hi = (float(v) for v in fisher_z_interval(rho, n, level))
            row.update(rho=float(rho), ci_low=lo, ci_high=hi, p_value=float(p))
        else:
            groups = df.loc[ok, cluster].to_numpy() if clustered else np.arange(n)
            boots.append((row, (x[ok].to_numpy(), y_all[ok].to_numpy(), groups, n_boot, seed, level)))
        rows.append(row)
    if boots:  # the candidates' cluster bootstraps, shared among processes (the draws do not depend on it)
        from sklearn.utils.parallel import Parallel, delayed

        jobs = max(1, min(len(boots), effective_n_jobs(n_jobs)))
        found = Parallel(n_jobs=jobs)(delayed(cluster_bootstrap_spearman)(*args) for _, args in boots) \
            if jobs > 1 else [cluster_bootstrap_spearman(*args) for _, args in boots]
        for (row, _), r in zip(boots, found, strict=True):
            row.update({k: r[k] for k in ("rho", "ci_low", "ci_high", "p_value")})
    out = pd.DataFrame(rows, columns=["driver", "n", "rho", "ci_low", "ci_high", "p_value", "accounts"])
    out["accounts"] = out["accounts"].astype("Int64")
    out.insert(6, "q_value", benjamini_hochberg(out["p_value"]))
    out.insert(7, "significant", out["q_value"] < 1 - level)
    return (out.assign(_abs=out["rho"].abs()).sort_values("_abs", ascending=False, na_position="last")
            .drop(columns="_abs").reset_index(drop=True))


def driver_label(col: str, lang: str = "en") -> str:
    """Readable name of a driver: the metric registry's label, or ``'segment: SMB'`` for indicators."""
    if "=" in col:
        attr, level = col.split("=", 1)
        return f"{t(attr, lang)}: {t(level, lang)}"
    return metrics.label(col, lang) if col in metrics.REGISTRY_COLUMNS else t(col, lang)


def plot_drivers(drivers: pd.DataFrame, ax=None, lang: str = "en", top: int = 15):
    """Ranked rank correlations with their intervals; significant ones (after FDR) filled, others hollow."""
    d = drivers.dropna(subset=["rho"]).head(top)
    ax = new_ax(ax, figsize=(8, 0.42 * len(d) + 1.2))
    y = np.arange(len(d))[::-1]
    for yi, (_, r) in zip(y, d.iterrows(), strict=True):
        colour = "#009e73" if r["rho"] > 0 else "#d55e00"
        ax.errorbar(r["rho"], yi, xerr=error_bars(r["rho"], r["ci_low"], r["ci_high"]), fmt="o",
                    color=colour, mfc=colour if r["significant"] else "white", capsize=3)
    ax.set_yticks(y, [driver_label(c, lang) for c in d["driver"]])
    ax.axvline(0, color="#777777", linewidth=0.8)
    ax.set_xlabel(t("correlation", lang))
    return ax


# ----------------------------------------------------------------------------------- churn by category
def _waves_with_churn(waves: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    acc = accounts[["account_id", "end_date"]].assign(end_date=lambda d: _utc_ns(d["end_date"]))
    w = waves.merge(acc, on="account_id", how="left", validate="many_to_one")
    w["last_at"] = _utc_ns(w["last_at"])
    # an answer after the recorded churn date cannot be followed up (and hints at a data problem)
    after = w["end_date"].notna() & (w["end_date"] <= w["last_at"])
    if after.any():
        log.warning("%s answered on or after the account's end_date: left out", count(int(after.sum()), "account-wave"))
    return w[~after]


def churn_by_category(waves: pd.DataFrame, accounts: pd.DataFrame, horizon_days: int, as_of, *,
                      level: float = 0.95, at=None, max_age_days: float | None = None) -> pd.DataFrame:
    """Share of accounts that churned within ``horizon_days`` of a landmark date, by their NPS category then.

    ``waves`` comes from :func:`~engage_models.surveys.net_promoter.account_waves`; ``accounts`` gives
    ``end_date`` (the churn date). Each account counts once: an account that is a customer at ``at``
    (``end_date`` empty or after it) and has a wave that ended before ``at`` (no older than
    ``max_age_days``, when given) takes the category of its latest such wave, and churned when
    ``at < end_date <= at + horizon``. ``at`` defaults to ``as_of - horizon_days`` (the outcome is known
    for every account); a later ``at`` is an error.

    Returns ``category``, ``n`` (accounts), ``churned``, ``churn_rate`` (percent), ``ci_low``, ``ci_high``
    (Wilson); ``.attrs`` holds ``chi2_p`` (chi-square test of equal rates), ``risk_ratio`` (detractors vs
    promoters, with ``rr_low`` and ``rr_high``), ``horizon_days``, ``at`` (the landmark) and ``unit``
    (``'accounts'``).
    """
    as_of = to_utc(as_of)
    h = pd.Timedelta(days=horizon_days)
    at = as_of - h if at is None else to_utc(at)
    if at + h > as_of:
        raise ConfigError(f"churn_by_category: the landmark {at.date()} plus the {horizon_days}-day horizon ends "
                          f"after as_of {as_of.date()}; outcomes would not be known yet")
    w = _waves_with_churn(waves, accounts)
    keep = (w["last_at"] < at) & (w["end_date"].isna() | (w["end_date"] > at))
    if max_age_days is not None:
        keep &= w["last_at"] >= at - pd.Timedelta(days=max_age_days)
    w = w[keep].sort_values(["account_id", "last_at"], kind="stable").groupby("account_id").tail(1)
    w = w.assign(churned=w["end_date"].notna() & (w["end_date"] <= at + h))
    g = w.groupby(w["category"].astype(str))["churned"].agg(["size", "sum"]).reindex(CATEGORIES, fill_value=0)
    lo, hi = wilson_interval(g["sum"], g["size"], level)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = 100 * g["sum"] / g["size"]
    out = pd.DataFrame({"category": list(CATEGORIES), "n": g["size"].to_numpy().astype(int),
                        "churned": g["sum"].to_numpy().astype(int), "churn_rate": rate.to_numpy(),
                        "ci_low": 100 * lo, "ci_high": 100 * hi})
    used = out[out["n"] > 0]
    table = np.c_[used["churned"], used["n"] - used["churned"]]
    out.attrs["chi2_p"] = (float(stats.chi2_contingency(table)[1])
                           if len(used) > 1 and table.sum(0).min() > 0 else np.nan)
    out.attrs.update(risk_ratio(out.set_index("category"), level))
    out.attrs.update(horizon_days=horizon_days, at=at, unit="accounts")
    return out


def risk_ratio(table: pd.DataFrame, level: float = 0.95, a: str = "detractor", b: str = "promoter") -> dict:
    """Churn risk of category ``a`` over ``b`` with the Katz log interval; NaN when either has no churn."""
    x1, n1, x2, n2 = (float(table.loc[k, c]) for k in (a, b) for c in ("churned", "n"))
    if min(x1, x2) == 0 or min(n1, n2) == 0:
        return {"risk_ratio": np.nan, "rr_low": np.nan, "rr_high": np.nan}
    rr = (x1 / n1) / (x2 / n2)
    se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    z = z_value(level)
    return {"risk_ratio": rr, "rr_low": float(rr * np.exp(-z * se)), "rr_high": float(rr * np.exp(z * se))}


def survival_frame(waves: pd.DataFrame, accounts: pd.DataFrame, as_of, *, per: str = "account") -> pd.DataFrame:
    """Survey answers as survival data: ``duration`` (days from the answer), ``event`` (churned) by category.

    ``per="account"`` (default): one row per account, from its first wave (category of that wave) to churn
    (event) or ``as_of`` (censored), so Kaplan-Meier bands and the log-rank test see independent units.
    ``per="wave"``: one row per account-wave, follow-up ending at churn, at the account's next wave
    (censored: from then on the next answer's category applies) or at ``as_of``; no stretch of time
    counts twice, but an account enters several times, which the log-rank test takes for independent
    accounts (p-values too small).
    """
    if per not in ("account", "wave"):
        raise ValueError(f"per must be 'account' or 'wave', not {per!r}")
    as_of = to_utc(as_of)
    w = _waves_with_churn(waves, accounts).sort_values(["account_id", "wave"])
    w = w[w["last_at"] < as_of]
    if per == "account":
        w = w.groupby("account_id").head(1)
        stop = pd.Series(as_of, index=w.index)
    else:
        nxt = _utc_ns(w.groupby("account_id")["first_at"].shift(-1))
        stop = pd.concat([nxt.fillna(as_of), pd.Series(as_of, index=w.index)], axis=1).min(axis=1)
    event = w["end_date"].notna() & (w["end_date"] <= stop)
    end = w["end_date"].where(event, stop)
    return pd.DataFrame({"account_id": w["account_id"], "category": w["category"].astype(str),
                         "duration": (end - w["last_at"]).dt.total_seconds() / 86400, "event": event}
                        ).reset_index(drop=True)


def km_by_category(frame: pd.DataFrame):
    """Kaplan-Meier curves per NPS category of :func:`survival_frame` (days since the answer) with the
    log-rank test: :class:`~engage_models.survival.KaplanMeierGroups`, the package's one Kaplan-Meier path."""
    from ..survival.kaplan_meier import KaplanMeierGroups

    order = [c for c in CATEGORIES if (frame["category"] == c).any()]
    return KaplanMeierGroups("category", duration_col="duration", event_col="event", entry_col=None,
                             min_accounts=1, order=order).fit(frame)


def plot_km_by_category(km, ax=None, lang: str = "en"):
    """Share of accounts still customers by days since their answer, one curve (with band) per category.

    ``km``: :func:`km_by_category` or its stored :class:`~engage_models.survival.kaplan_meier.KaplanMeierResult`.
    """
    result = km.result() if hasattr(km, "result") else km
    return result.plot(ax=ax, lang=lang, at_risk=False, colors=CATEGORY_COLOURS,
                       names={c: t(c + "s", lang) for c in CATEGORIES}, xlabel=t("days_since_answer", lang))


def plot_churn_by_category(table: pd.DataFrame, ax=None, lang: str = "en"):
    """Churn rate within the horizon per NPS category with Wilson intervals."""
    ax = new_ax(ax, figsize=(7, 3.5))
    d = table[table["n"] > 0]
    err = error_bars(d["churn_rate"], d["ci_low"], d["ci_high"])
    ax.bar([f"{t(c + 's', lang)}\n({t('accounts_n', lang, n=f'{n:,}')})" for c, n in zip(d["category"], d["n"],
                                                                                     strict=True)],
           d["churn_rate"], yerr=err, capsize=4, color=[CATEGORY_COLOURS[c] for c in d["category"]])
    ax.set_ylabel(t("churn_within", lang, h=table.attrs.get("horizon_days", "")))
    return ax
