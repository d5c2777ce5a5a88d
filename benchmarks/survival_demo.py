"""Out-of-time concordance of the survival models on the demo world (the figures quoted in the README).

    python benchmarks/survival_demo.py --data-dir /tmp/engage-demo    # simulates + ingests if raw/ is empty

Three models are fitted on what was known at the cutoff (13 months before the observation date) and scored
on the accounts still customers then, by what happened to them afterwards:

1. account-level Cox on segment, plan, country, log MRR and seats (measured at each account's entry into the
   data, from the subscription months known at the cutoff);
2. time-varying Cox on the engagement panel (``engage_models.features.panel``; the metrics of
   ``survival.analysis.PANEL_COVARIATES`` and segment), with landmark predictions from each account's
   covariates at the cutoff;
3. the same model on the simulator's own monthly behaviour covariates (``true_hazard.parquet``: active
   ratio, feature breadth, log(1 + tickets), NPS - 7, segment): what perfect measurement would give;
4. the oracle: the true linear predictor (logit of the monthly hazard, before the simulator's 2-month grace)
   of each account in its last month before the cutoff: a ranking by the true formula applied to the
   behaviour known at the cutoff.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from engage_models._core.time import to_utc
from engage_models.demo.simulator import simulate
from engage_models.ingest import ingest
from engage_models.survival import CoxModel, TimeVaryingCox
from engage_models.survival import analysis as A
from engage_models.survival import data as D
from engage_models.survival.evaluation import cumulative_dynamic_auc, evaluate_predictions, harrell_c, uno_c

TV_COVARIATES = ["active_ratio", "feature_breadth", "log1p_tickets", "nps_centered", "segment"]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    raw, processed = args.data_dir / "raw", args.data_dir / "processed"
    if not (raw / "accounts.csv").exists():
        simulate(out=raw, n_accounts=args.accounts, months=args.months, seed=args.seed)
    if not (processed / "accounts.parquet").exists():
        ingest(raw, processed)

    t0 = time.perf_counter()
    adata = A.account_table(args.data_dir)
    cox = CoxModel(covariates=adata.covariates, entry_col="entry").fit(adata.lifetimes)
    oot = A.out_of_time(adata, cox)
    cutoff = oot.cutoff
    results = {"cutoff": str(cutoff.date()), "as_of": str(adata.as_of.date()),
               "account_cox": _short(oot.result), "account_cox_penalizer": cox.penalizer_}

    pdata = A.panel_table(adata, args.data_dir)
    tvp = TimeVaryingCox(covariates=pdata.covariates).fit(pdata.start_stop)
    results["panel_cox"] = _short(A.out_of_time_panel(pdata, tvp, cutoff).result)
    results["panel_cox_penalizer"] = tvp.penalizer_

    ss = D.simulator_start_stop(raw)
    train, test = D.split_start_stop(ss, cutoff)
    tv = TimeVaryingCox(covariates=TV_COVARIATES, penalizer=0.0).fit(train)
    curves = tv.predict_curves(test)
    results["time_varying_cox"] = _short(evaluate_predictions(test.loc[curves.index], curves))
    results["time_varying_cox_coefficients"] = tv.params_.round(3).to_dict()

    # oracle: the true linear predictor of the landmark month (logit of the monthly hazard) ranks the accounts
    truth = pd.read_parquet(raw / "true_hazard.parquet")
    truth["as_of"] = to_utc(truth["month"]) + pd.offsets.MonthBegin(1) - pd.Timedelta(seconds=1)
    test_o = test.merge(truth[["account_id", "as_of", "hazard", "linear_predictor"]], on=["account_id", "as_of"],
                        how="left")
    if test_o["hazard"].isna().any():
        raise RuntimeError("landmark rows without a true hazard: the as_of alignment is off")
    time_, event = test_o["time"].to_numpy(float), test_o["event"].to_numpy(bool)
    h = test_o["linear_predictor"].to_numpy(float)
    results["oracle"] = {"harrell_c": harrell_c(time_, event, h), "uno_c": uno_c(time_, event, h, tau=12),
                         **{f"auc_{k}": cumulative_dynamic_auc(time_, event, h, k) for k in (3, 6, 12)}}
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(results, indent=2, default=float))
    return results


def _short(res: dict) -> dict:
    out = {k: res[k] for k in ("accounts", "events", "harrell_c", "uno_c", "risk_horizon_months") if k in res}
    for h, v in res["horizons"].items():
        if v["evaluable"]:
            out[f"auc_{h}"] = v["auc"]
            out[f"predicted_vs_observed_{h}"] = [round(v["predicted_churn"], 3), round(v["observed_churn"], 3)]
    return {k: (round(v, 3) if isinstance(v, float | np.floating) else v) for k, v in out.items()}


if __name__ == "__main__":
    main()
