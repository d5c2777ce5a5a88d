"""The survival analyses wired together: on a user's own table (CLI) and on the processed data (notebook).

:func:`analyse_table` takes any table with a duration and an event column: Cox model (penalizer by
cross-validated concordance, proportional hazards checked and repaired), a discrete-time hazard model as
a cross-check, cross-validated concordance and AUC of both, and for accounts still active their expected
remaining lifetime, LTV and the portfolio revenue at risk. :meth:`TableAnalysis.write` writes the files
``engage survival`` promises.

:func:`account_table` and :func:`out_of_time` do the same for the processed ``accounts`` /
``subscriptions`` / ``surveys`` tables, with covariates measured at the date they would have been known.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.errors import DataError
from .._core.io import read_table, write_csv, write_json  # noqa: F401  (read_table: the CLI's reader)
from .._core.time import to_utc
from ..config import DataPaths
from ..features.screening import Screen, screen_survival
from . import data as D
from .cox import CoxModel
from .curves import DAYS_PER_MONTH
from .evaluation import HORIZONS, cross_validate, evaluate_predictions
from .time_varying import DiscreteTimeHazard
from .value import bootstrap_values, simple_ltv

log = logging.getLogger(__name__)

#: Account-level covariates the notebook uses when the processed tables have them.
ACCOUNT_COVARIATES = ("segment", "plan", "country", "log_mrr", "seats")


@dataclass
class TableAnalysis:
    """Everything :func:`analyse_table` computed; :meth:`write` puts it on disk."""

    cox: CoxModel
    discrete: DiscreteTimeHazard
    evaluation: dict
    per_account: pd.DataFrame
    revenue_at_risk: pd.DataFrame | None
    simple_ltv: dict | None
    settings: dict = field(default_factory=dict)
    screen: Screen | None = None  # the leakage screen of the covariates (also in evaluation["leakage_screen"])

    def write(self, out: str | Path) -> list[Path]:
        """``hazard_ratios.csv``, ``ph_test.csv``, ``per_account.csv``, ``revenue_at_risk.csv`` (with an MRR
        column), ``discrete_time_odds_ratios.csv`` and ``evaluation.json`` in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = []

        def save(df: pd.DataFrame, name: str, index: bool = False):
            p = out / name
            write_csv(df, p, index=index)
            paths.append(p)

        save(self.cox.summary, "hazard_ratios.csv", index=True)
        if self.cox.ph_test_ is not None:
            ph = self.cox.ph_test_.assign(stage="before remedy")
            if self.cox.ph_test_after_ is not None:
                ph = pd.concat([ph, self.cox.ph_test_after_.assign(stage="after remedy")], ignore_index=True)
            save(ph, "ph_test.csv")
        save(self.discrete.summary, "discrete_time_odds_ratios.csv", index=True)
        save(self.per_account, "per_account.csv")
        if self.revenue_at_risk is not None:
            save(self.revenue_at_risk, "revenue_at_risk.csv")
        paths.append(write_json(out / "evaluation.json", self.evaluation))
        return paths


def analyse_table(df: pd.DataFrame, *, duration: str, event: str, covariates=None, entry: str | None = None,
                  id_col: str | None = None, mrr: str | None = None, unit: str = "months", margin: float = 0.8,
                  annual_discount_rate: float = 0.10, horizon: float = 36.0, horizons=HORIZONS, n_boot: int = 100,
                  cv: int = 5, penalizer: float | None = None, random_state: int = 0, keep_columns=(),
                  where: str = "table") -> TableAnalysis:
    """Fit, check, cross-validate and value a generic survival table (one row per account).

    Every covariate first goes through the leakage screen (:func:`~engage_models.features.screening.
    screen_survival`): a status column, a date or reason filled only for churners, an identifier, a column
    ordering the durations almost perfectly on its own or a function of the duration (total charges =
    tenure x monthly charge) is left out, with its reason in ``evaluation["leakage_screen"]``, unless named
    in ``keep_columns``.

    Parameters
    ----------
    df : DataFrame
        One row per account: ``duration`` (time observed), ``event`` (1 churned / 0 still a customer),
        optional ``entry`` (left truncation), covariates, ``mrr``.
    unit : {"months", "days"}
        Unit of ``duration`` and ``entry``; days are converted to months (30.4375 days) so that the horizons
        (``horizon``, ``horizons``) are always months.
    covariates : list of str, optional
        Default: every other column except the id and MRR.
    n_boot : int
        Bootstrap refits for the intervals of per-account values (0: none).
    keep_columns : sequence of str
        Covariates to use even if the leakage screen suspects them.
    where : str
        The table's name in error messages (its file).
    """
    missing = [c for c in (duration, event, entry, id_col, mrr, *(covariates or [])) if c and c not in df.columns]
    if missing:
        raise DataError(f"column(s) not in the table: {missing} (it has {list(df.columns)})")
    if unit not in ("months", "days"):
        raise DataError(f"unit must be 'months' or 'days', not {unit!r}")
    data = df.copy()
    ev = pd.to_numeric(data[event], errors="coerce") if not pd.api.types.is_bool_dtype(data[event]) \
        else data[event].astype(int)
    if ev.isna().any() or not ev.isin([0, 1]).all():
        raise DataError(f"event column {event!r} must hold 0/1 (or true/false)")
    data["_event"] = ev.astype(int)
    scale = 1.0 if unit == "months" else 1.0 / DAYS_PER_MONTH
    data["_duration"] = pd.to_numeric(data[duration], errors="raise").astype(float) * scale
    if (data["_duration"] < 0).any():
        raise DataError(f"duration column {duration!r} has negative values")
    data["_entry"] = pd.to_numeric(data[entry]).astype(float) * scale if entry else 0.0
    if covariates is None:
        covariates = [c for c in df.columns if c not in {duration, event, entry, id_col, mrr}]
    covariates = list(covariates)
    data["_id"] = data[id_col].astype(str) if id_col else data.index.astype(str)
    if data["_id"].duplicated().any():
        dup = data.loc[data["_id"].duplicated(), "_id"].iloc[0]
        raise DataError(f"id column {id_col!r} is not unique (e.g. {dup!r}): the table needs one row per account")
    data = D.usable(data, "_duration", "_entry").set_index("_id", drop=False)
    data.index.name = None
    entry_col = "_entry" if entry else None
    others = [c for c in df.columns if c not in {duration, event, entry, id_col, *covariates}]  # e.g. MRR
    screen = screen_survival(data, "_duration", "_event", covariates, others=others,
                             keep=keep_columns, seed=random_state, where=where, event_label=event)
    covariates = [c for c in covariates if c not in screen.excluded]
    if not covariates and screen.excluded:
        raise DataError(f"{where}: no covariate left after the leakage screen left out "
                        f"{', '.join(screen.excluded)} (keep one with --keep-column NAME)")

    cox = CoxModel(covariates=covariates, duration_col="_duration", event_col="_event", entry_col=entry_col,
                   penalizer=penalizer, cv=cv, random_state=random_state).fit(data)
    discrete = DiscreteTimeHazard(covariates=covariates, id_col="_id", event_col="_event", period_width=1.0,
                                  duration_col="_duration", entry_col=entry_col, penalizer=cox.penalizer_)
    discrete.fit(data)
    kw = {"cv": cv, "random_state": random_state, "duration_col": "_duration", "event_col": "_event",
          "entry_col": entry_col, "horizons": horizons}
    evaluation = {
        "table": {"rows": int(len(df)), "rows_used": int(len(data)), "events": int(data["_event"].sum()),
                  "duration_unit": unit, "time_unit_of_results": "months", "left_truncated": bool(entry)},
        "models": {
            "cox_ph": {"penalizer": cox.penalizer_, "strata": cox.strata_, "time_split": cox.time_split_,
                       "cross_validation": cross_validate(clone_refit(cox), data, **kw)},
            "discrete_time_logistic": {"penalizer": discrete.penalizer_,
                                       "cross_validation": cross_validate(discrete, data, **kw)},
        },
        "penalizer_selection": cox.cv_results_.to_dict("records") if cox.cv_results_ is not None else None,
        "proportional_hazards": {"alpha": cox.ph_alpha, "remedies": cox.remedies_,
                                 "text": cox.assumptions_text("en")},
        "leakage_screen": screen.to_dict(),
        "notes": "cross_validation: k-fold over rows; harrell_c counts a pair only when both accounts were at "
                 "risk (left truncation); uno_c and auc_<k> measure time from each row's entry.",
    }
    for name in ("cox_ph", "discrete_time_logistic"):
        cvr = evaluation["models"][name]["cross_validation"]
        evaluation["models"][name]["cv_concordance"] = cvr["harrell_c"]["mean"]

    active = data[data["_event"] == 0]
    mrr_values = pd.to_numeric(active[mrr], errors="coerce").to_numpy(float) if mrr else np.full(len(active), np.nan)
    per_account, portfolio = bootstrap_values(
        cox, data, active, active["_duration"].to_numpy(), mrr_values, n_boot=n_boot, random_state=random_state,
        margin=margin, annual_discount_rate=annual_discount_rate, horizon=horizon, horizons=horizons)
    per_account.insert(0, id_col or "row", active.loc[per_account.index, "_id"].to_numpy())
    simple = None
    if mrr:
        simple = simple_ltv(data.rename(columns={mrr: "_mrr"}), margin=margin, mrr_col="_mrr", duration="_duration",
                            event="_event", entry="_entry" if entry else None)
        evaluation["simple_ltv"] = simple
        evaluation["portfolio"] = portfolio.to_dict("records")
    else:
        per_account = per_account.drop(columns=[c for c in per_account if c.startswith(("ltv", "mrr"))])
        portfolio = None
    evaluation["settings"] = {"margin": margin, "annual_discount_rate": annual_discount_rate,
                              "horizon_months": horizon, "horizons": list(horizons), "n_boot": n_boot}
    return TableAnalysis(cox, discrete, evaluation, per_account, portfolio, simple, evaluation["settings"], screen)


def clone_refit(model):
    """An unfitted copy of a fitted model with its final specification (no selection, no test)."""
    from sklearn.base import clone

    return clone(model).set_params(**model.refit_params())


# ------------------------------------------------------------------------------------ processed data
@dataclass
class AccountData:
    """Accounts of the processed data as lifetimes, with covariates measured at ``as_of``."""

    lifetimes: pd.DataFrame
    as_of: pd.Timestamp
    observed_from: pd.Timestamp | None
    accounts: pd.DataFrame
    subscriptions: pd.DataFrame | None
    surveys: pd.DataFrame | None

    @property
    def covariates(self) -> list[str]:
        """Account-level covariates present and varying."""
        lt = self.lifetimes
        return [c for c in ACCOUNT_COVARIATES if c in lt and lt[c].nunique(dropna=True) > 1]

    @property
    def active(self) -> pd.DataFrame:
        return self.lifetimes[self.lifetimes[D.EVENT] == 0]


def covariates_at(lt: pd.DataFrame, subscriptions: pd.DataFrame | None, at) -> pd.DataFrame:
    """``lt`` with ``mrr``, ``seats`` and ``plan`` as of date ``at`` (latest subscription month before it,
    else the accounts table's values) and ``log_mrr = log(1 + mrr)``."""
    out = lt.copy()
    if subscriptions is not None and len(subscriptions):
        for col in ("mrr", "seats", "plan"):
            if col in subscriptions:
                v = D.value_at(subscriptions, at, col)
                now = out["account_id"].map(v)
                out[col] = now.where(now.notna(), out[col]) if col in out else now
    if "mrr" in out:
        out["log_mrr"] = np.log1p(pd.to_numeric(out["mrr"], errors="coerce").clip(lower=0))
    return out


def account_table(data_dir=None, as_of=None) -> AccountData:
    """Lifetimes of the processed accounts at ``as_of`` (default: last day with events) with covariates.

    Left truncation starts at :func:`~engage_models.survival.data.observation_start` (first subscription
    month or first event). NPS category at the first NPS wave (with its own entry) is added when surveys exist.
    """
    from ..ingest.quality import observation_date

    paths = DataPaths(data_dir)
    as_of = observation_date(as_of, paths.processed)
    accounts = pd.read_parquet(paths.processed / "accounts.parquet")
    subs = _maybe(paths.processed / "subscriptions.parquet")
    surveys = _maybe(paths.processed / "surveys.parquet")
    observed_from = D.observation_start(paths.processed)
    lt = D.lifetimes(accounts, as_of, observed_from)
    lt["start_year"] = to_utc(lt["start_date"]).dt.year.astype(str)
    lt = covariates_at(lt, subs, as_of)
    if surveys is not None:
        lt = lt.merge(D.first_nps(surveys, lt, as_of=as_of), on="account_id", how="left")
    return AccountData(lt, as_of, observed_from, accounts, subs, surveys)


def _maybe(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


@dataclass
class OutOfTime:
    """A model fitted on what was known at ``cutoff`` and scored on what happened afterwards."""

    cutoff: pd.Timestamp
    model: object
    train: pd.DataFrame
    test: pd.DataFrame
    result: dict

    def calibration(self) -> dict[float, pd.DataFrame]:
        return {float(h): pd.DataFrame(v["calibration"]) for h, v in self.result["horizons"].items() if v["evaluable"]}

    def metrics_frame(self) -> pd.DataFrame:
        """One row per horizon: AUC, mean predicted and observed churn; concordance in the attributes."""
        rows = [{"horizon_months": float(h), "auc": v.get("auc"), "predicted_churn": v.get("predicted_churn"),
                 "observed_churn": v.get("observed_churn")}
                for h, v in self.result["horizons"].items() if v["evaluable"]]
        return pd.DataFrame(rows)


def default_cutoff(as_of, observed_from, months: int = 13) -> pd.Timestamp:
    """``as_of`` minus ``months`` (13: the 12-month horizon can be scored), but leaving at least a third of
    the observed window before the cutoff to train on."""
    as_of = to_utc(as_of)
    cut = as_of - pd.DateOffset(months=months)
    if observed_from is not None:
        third = to_utc(observed_from) + (as_of - to_utc(observed_from)) / 3
        cut = max(cut, third)
    return pd.Timestamp(cut).normalize()


def out_of_time(adata: AccountData, model: CoxModel, cutoff=None, horizons=HORIZONS, n_groups: int = 10) -> OutOfTime:
    """Refit ``model``'s specification on the accounts as of ``cutoff`` (covariates measured then), predict
    churn of the accounts active at the cutoff, and score it on what happened up to ``as_of``."""
    cutoff = default_cutoff(adata.as_of, adata.observed_from) if cutoff is None else to_utc(cutoff)
    train, test = D.out_of_time(adata.accounts, cutoff, adata.as_of, adata.observed_from)
    train = covariates_at(train, adata.subscriptions, cutoff)
    test = covariates_at(test, adata.subscriptions, cutoff)
    return _refit_and_score(model, train, test, cutoff, int(len(train)), horizons, n_groups)


# ------------------------------------------------------------------------------------ engagement panel
#: Panel metrics offered to the time-varying Cox model by default: one or two per family, short windows
#: for usage, longer ones for rarer events. Skewed counts enter as log(1 + x) (the registry says which).
PANEL_COVARIATES = (
    "active_user_ratio_28d", "feature_breadth_28d", "logins_28d", "usage_hours_28d", "content_views_28d",
    "tickets_90d", "newsletter_opens_90d", "meetings_90d", "nps_latest", "days_since_last_activity",
)


def panel_covariates(panel: pd.DataFrame, columns=PANEL_COVARIATES) -> tuple[pd.DataFrame, list[str]]:
    """Model-ready covariates from panel metrics: ``log1p_<col>`` for skewed ones (registry), and for a
    metric with empty values (e.g. no NPS answer yet) the median in its place plus a ``<col>_missing`` 0/1
    column, so no account-month is dropped. Returns the panel with the new columns and their names."""
    from ..features import metrics as M

    out = panel.copy()
    names = []
    for c in columns:
        if c not in out:
            log.info("panel has no column %r: left out of the time-varying model", c)
            continue
        x = pd.to_numeric(out[c], errors="coerce").astype(float)
        m = M.REGISTRY_COLUMNS.get(c)
        name = c
        if m is not None and m.skewed:
            x, name = np.log1p(x.clip(lower=0)), f"log1p_{c}"
        if x.isna().any():
            out[f"{c}_missing"] = x.isna().astype(float)
            missing_col = f"{c}_missing"
            x = x.fillna(x.median())
        else:
            missing_col = None
        out[name] = x
        if x.nunique() > 1:
            names.append(name)
        if missing_col and out[missing_col].nunique() > 1:
            names.append(missing_col)
    return out, names


@dataclass
class PanelData:
    """The engagement panel as start/stop rows, and each active account's latest row (its covariates now)."""

    panel: pd.DataFrame
    start_stop: pd.DataFrame
    current: pd.DataFrame
    covariates: list[str]


def panel_table(adata: AccountData, data_dir=None, columns=PANEL_COVARIATES, *,
                panel: pd.DataFrame | None = None) -> PanelData:
    """The panel up to the observation date as start/stop rows on the lifetimes' clock.

    ``panel``: the run's panel (the default monthly grid plus the observation date itself, as
    :func:`~engage_models.features.panel.default_panel` builds it); built from ``data_dir`` when not given.
    ``current`` holds, for each account active at ``as_of``, its row of that date (metrics from data before
    it), its tenure ``t0``, MRR and name: the input of landmark predictions ("if nothing changes").
    """
    if panel is None:
        from ..features.panel import default_panel

        panel = default_panel(DataPaths(data_dir).processed, adata.as_of)
    panel, names = panel_covariates(panel, columns)
    if "segment" in panel and panel["segment"].nunique() > 1:
        names.append("segment")
    ss = D.panel_to_start_stop(panel, adata.lifetimes, names, as_of=adata.as_of)
    active = adata.active.set_index("account_id")
    last = panel[panel["account_id"].isin(active.index)].sort_values("as_of").groupby("account_id").tail(1)
    current = last.set_index("account_id")
    current["t0"] = active.loc[current.index, D.DURATION]
    current["mrr"] = active.loc[current.index, "mrr"] if "mrr" in active else np.nan
    current["name"] = active.loc[current.index, "name"] if "name" in active else current.index
    return PanelData(panel, ss, current, names)


def _refit_and_score(model, train: pd.DataFrame, test: pd.DataFrame, cutoff, train_accounts: int, horizons,
                     n_groups: int) -> OutOfTime:
    """Refit ``model``'s specification on ``train``, predict ``test`` and evaluate against what happened.

    IPCW weights come from the test period's own censoring (time since the cutoff), for both models.
    """
    m = clone_refit(model) if hasattr(model, "params_") else model
    m.fit(train)
    curves = m.predict_curves(test)
    test = test.loc[curves.index]
    result = evaluate_predictions(test, curves, horizons=horizons, n_groups=n_groups)
    result["cutoff"] = str(cutoff.date())
    result["train_accounts"], result["train_events"] = train_accounts, int(train[D.EVENT].sum())
    return OutOfTime(cutoff, m, train, test, result)


def out_of_time_panel(pdata: PanelData, model, cutoff, horizons=HORIZONS, n_groups: int = 10) -> OutOfTime:
    """Refit a start/stop model on the rows observed before ``cutoff`` and score its landmark predictions
    for the accounts still customers then (see :func:`~engage_models.survival.data.split_start_stop`)."""
    cutoff = to_utc(cutoff)
    train, test = D.split_start_stop(pdata.start_stop, cutoff)
    return _refit_and_score(model, train, test, cutoff, int(train["account_id"].nunique()), horizons, n_groups)
