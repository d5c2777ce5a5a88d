"""Monitoring a frozen model: PSI, matured-label calibration and AUC, the retraining recommendation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engage_models.monitoring import (
    PSI_FLOOR,
    calibration_in_the_large,
    matured_performance,
    matured_rows,
    psi,
    recommend_retrain,
)
from engage_models.monitoring.drift import psi_edges


class ColumnModel:
    """A stand-in health card: the churn probability is the column ``p``, the score ``100 * (1 - p)``."""

    feature_names_in_ = np.array(["account_id", "as_of", "x", "p"], dtype=object)
    metrics_ = ["x", "p"]

    def predict_proba(self, X):
        p = X["p"].to_numpy(float)
        return np.column_stack([1 - p, p])

    def health_score(self, X):
        return pd.Series(100 * (1 - X["p"].to_numpy(float)), index=X.index, name="score")


# ------------------------------------------------------------------------------------------------ PSI
def test_psi_by_hand_with_an_empty_bin():
    expected = [1, 2, 3, 4, 5, 6, 7, 8]          # quartile edges 2.75, 4.5, 6.25: two rows per bin
    actual = [1, 1, 1, 1, 5, 5, 7, 8]            # shares 4/8, 0, 2/8, 2/8: the second bin is empty
    assert psi_edges(expected, 4) == pytest.approx([2.75, 4.5, 6.25])
    e = np.array([0.25, 0.25, 0.25, 0.25])
    a = np.array([0.5, PSI_FLOOR, 0.25, 0.25])
    by_hand = float(np.sum((a - e) * np.log(a / e)))  # 0.25 ln 2 + (1e-4 - 0.25) ln(4e-4) = 2.1289
    assert by_hand == pytest.approx(0.25 * np.log(2) + (1e-4 - 0.25) * np.log(4e-4))
    assert psi(expected, actual, bins=4) == pytest.approx(by_hand)
    assert psi(expected, expected, bins=4) == 0.0
    # a shift inside one bin does not count; a value on an edge belongs to the upper bin
    assert psi(expected, [2, 2, 4, 4, 6, 6, 8, 8], bins=4) == 0.0
    assert psi([1, 2, 3, 4], [2.5, 2.5, 2.5, 2.5], bins=2) == pytest.approx(
        (1 - 0.5) * np.log(1 / 0.5) + (PSI_FLOOR - 0.5) * np.log(PSI_FLOOR / 0.5))


def test_psi_missing_values_are_a_bin_of_their_own():
    expected = [1, 2, 3, 4]
    actual = [1, 3, np.nan, np.nan]               # halves 1/4 and 1/4, missing 1/2 (expected: 0 -> floor)
    e, a = np.array([0.5, 0.5, PSI_FLOOR]), np.array([0.25, 0.25, 0.5])
    assert psi(expected, actual, bins=2) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))


# ------------------------------------------------------------------------------------------------ matured labels
def _panel(rows):
    df = pd.DataFrame(rows, columns=["account_id", "as_of", "x", "p", "churned_within_h"])
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    return df


def test_only_labels_matured_after_training_are_judged():
    pnl = _panel([
        ("a", "2025-01-01", 0, 0.9, 1.0),   # before the cutoff: the model saw it
        ("a", "2025-03-01", 0, 0.8, 1.0), ("b", "2025-03-01", 0, 0.2, 0.0), ("c", "2025-03-01", 0, 0.6, 0.0),
        ("d", "2025-03-01", 0, 0.1, np.nan),  # label missing
        ("b", "2025-04-01", 0, 0.3, 1.0), ("c", "2025-04-01", 0, 0.4, 0.0),
        ("a", "2025-06-01", 0, 0.5, 1.0),   # as_of + 60 days is after the data's end: a churn not matured
    ])
    kw = dict(trained_until="2025-02-01", as_of="2025-07-01", horizon_days=60)
    kept = matured_rows(pnl, **{k: pd.Timestamp(v, tz="UTC") if k != "horizon_days" else v for k, v in kw.items()})
    assert sorted(zip(kept["account_id"], kept["as_of"].dt.month, strict=True)) == [
        ("a", 3), ("b", 3), ("b", 4), ("c", 3), ("c", 4)]
    perf = matured_performance(ColumnModel(), pnl, n_boot=50, **kw)
    by = perf.set_index(perf["as_of"].dt.month.fillna(0).astype(int))
    # March: y = 1, 0, 0 and p = 0.8, 0.2, 0.6: observed 1/3, predicted 1.6/3, AUC 1 (the churner ranks first)
    assert by.loc[3, "n"] == 3 and by.loc[3, "churners"] == 1
    assert by.loc[3, "observed"] == pytest.approx(1 / 3)
    assert by.loc[3, "predicted"] == pytest.approx(1.6 / 3)
    assert by.loc[3, "difference"] == pytest.approx(1 / 3 - 1.6 / 3)
    assert by.loc[3, "auc"] == 1.0
    # April: y = 1, 0 with p = 0.3, 0.4: the churner ranks below, AUC 0
    assert by.loc[4, "auc"] == 0.0
    # pooled: y - p = 0.2, -0.2, -0.6, 0.7, -0.4 over accounts a, b, c (clusters a: 0.2; b: -0.2 + 0.7; c: -1.0)
    pooled = by.loc[0]
    assert pooled["n"] == 5 and pooled["accounts"] == 3
    assert pooled["difference"] == pytest.approx(-0.3 / 5)
    totals, sizes = np.array([0.2, 0.5, -1.0]), np.array([1, 2, 2])
    var = 3 / 2 * np.sum((totals - (-0.06) * sizes) ** 2) / 25
    from scipy import stats
    half = stats.t.ppf(0.975, 2) * np.sqrt(var)
    assert pooled["ci_low"] == pytest.approx(-0.06 - half) and pooled["ci_high"] == pytest.approx(-0.06 + half)
    # pooled AUC: churners 0.8, 0.3 against 0.2, 0.6, 0.4: pairs won 3 + 1 of 6
    assert pooled["auc"] == pytest.approx(4 / 6)
    # no interval: 2 in 27 resamples of the 3 accounts (all a, all c) hold one outcome and have no ROC-AUC, more
    # than the 2.5% a tail of a 95% interval holds (evaluation.percentile_interval)
    assert np.isnan(pooled["auc_low"]) and np.isnan(pooled["auc_high"])
    # and the report says so: a bare 0.667 read as an exact figure
    from engage_models.monitoring.views import performance_view

    cells = performance_view(perf)["ROC-AUC"].tolist()
    assert cells[-1] == "0.667 (no interval)", cells  # the pooled row, last


def test_the_pooled_row_counts_the_accounts_that_churned_beside_the_rows():
    """Pooled over dates, an account churning within the horizon of two dates is two rows that churned and one
    account: report 08's pooled row gave the accounts judged beside the rows that churned, with no count of the
    accounts that churned."""
    from engage_models.monitoring.views import performance_view

    pnl = _panel([("a", "2025-03-01", 0, 0.8, 1.0), ("b", "2025-03-01", 0, 0.2, 0.0), ("c", "2025-03-01", 0, 0.3, 0.0),
                  ("a", "2025-04-01", 0, 0.9, 1.0), ("b", "2025-04-01", 0, 0.1, 0.0), ("c", "2025-04-01", 0, 0.7, 1.0)])
    perf = matured_performance(ColumnModel(), pnl, n_boot=20, trained_until="2025-02-01", as_of="2025-07-01",
                               horizon_days=60)
    assert perf["churners"].tolist() == [1, 2, 3] and perf["churned_accounts"].tolist() == [1, 2, 2]
    view = performance_view(perf)
    assert view["rows that churned"].tolist() == [1, 2, 3] and view["accounts that churned"].tolist() == [1, 2, 2]
    assert view["accounts"].tolist() == [3, 3, 3]
    assert performance_view(perf, "ja")["解約した顧客数"].tolist() == [1, 2, 2]
    # a table kept before the column: blank cells, not a guess
    assert performance_view(perf.drop(columns="churned_accounts"))["accounts that churned"].isna().all()


def test_calibration_in_the_large_by_hand():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0])
    p = np.full(8, 0.5)
    c = calibration_in_the_large(y, p, np.arange(8))
    d = y - p                                      # one row per account: the ordinary t interval
    from scipy import stats
    half = stats.t.ppf(0.975, 7) * d.std(ddof=1) / np.sqrt(8)
    assert c["difference"] == pytest.approx(-0.25)
    assert c["ci_low"] == pytest.approx(-0.25 - half) and c["ci_high"] == pytest.approx(-0.25 + half)
    assert c["off"] == (-0.25 + half < 0)
    from engage_models._core.stats import wilson_interval

    lo, hi = wilson_interval(2, 8)  # one row per account: the observed rate's interval is Wilson's on the rows
    assert (c["observed_low"], c["observed_high"]) == pytest.approx((float(lo), float(hi)))


def test_the_observed_churn_rate_s_interval_counts_accounts_not_rows():
    """Each account has a row at every date and its rows go together (a shared frailty): a Wilson interval on
    rows covered the true rate 83% of the time for a nominal 95% (200 accounts x 6 dates; a coverage audit)."""
    from scipy.special import expit

    rng = np.random.default_rng(21)
    z = rng.normal(size=400_000)
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(40)
    truth = (expit(-2.2 + 0.8 * z[:, None] + 1.5 * gh_x[None, :]) * gh_w / gh_w.sum()).sum(1).mean()
    covered = []
    for _ in range(300):
        acc = np.repeat(np.arange(200), 6)
        y = (rng.random(1200) < expit(-2.2 + 0.8 * rng.normal(size=1200) + np.repeat(rng.normal(0, 1.5, 200), 6)))
        c = calibration_in_the_large(y.astype(float), np.full(1200, 0.15), acc)
        covered.append(c["observed_low"] <= truth <= c["observed_high"])
    assert 0.91 <= np.mean(covered) <= 0.99, np.mean(covered)  # 0.95 +- 3 Monte Carlo SE; rows: about 0.83


# ------------------------------------------------------------------------------------------------ recommendation
def _world(rng, n, date, p_mean, churn, x_shift=0.0):
    p = np.clip(rng.normal(p_mean, 0.03, n), 0.01, 0.99)
    return pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "as_of": pd.Timestamp(date, tz="UTC"),
                         "x": rng.normal(x_shift, 1, n), "p": p,
                         "churned_within_h": (rng.random(n) < churn).astype(float)})


def test_recommendation_reasons_on_hand_built_cases():
    rng = np.random.default_rng(3)
    ref = _world(rng, 400, "2025-01-01", 0.10, 0.10)
    kw = dict(trained_until="2025-01-01", as_of="2025-06-01", horizon_days=30)
    calm = pd.concat([_world(rng, 400, d, 0.10, 0.10) for d in ("2025-03-01", "2025-04-01")])
    r = recommend_retrain(ColumnModel(), ref, calm, **kw)
    assert r == {**r, "retrain": False, "reasons": []}
    assert r["age_days"] == 151 and r["calibration"]["available"] and not r["calibration"]["off"]
    assert r["psi"]["score"] < 0.1
    # the model predicts 10% where 30% churn: calibration is off by far more than its interval
    off = pd.concat([_world(rng, 400, d, 0.10, 0.30) for d in ("2025-03-01", "2025-04-01")])
    r = recommend_retrain(ColumnModel(), ref, off, **kw)
    assert [x["kind"] for x in r["reasons"]] == ["calibration"] and r["retrain"]
    assert r["calibration"]["ci_low"] > 0.1 and r["reasons"][0]["key"] == "monitoring.reason.calibration"
    assert "excludes 0" in r["reasons"][0]["detail"]
    # x moved by 2 SD (one metric of two: share 50% >= 25%) and the model is older than 120 days
    moved = pd.concat([_world(rng, 400, d, 0.10, 0.10, x_shift=2.0) for d in ("2025-03-01", "2025-04-01")])
    r = recommend_retrain(ColumnModel(), ref, moved, max_age_days=120, **kw)
    assert sorted(x["kind"] for x in r["reasons"]) == ["age", "drift"]
    assert r["psi"]["over"] == ["x"] and r["psi"]["metrics"]["x"] > 1
    # its age counts from the cutoff, where the data it saw ended (a horizon after its last training row): a
    # model trained on 2025-02-01 with rows until 2025-01-01 is 120 days old on 2025-06-01, not 151 (a 90-day
    # model was born 90 days old, and on-drift retrained it at three months)
    r = recommend_retrain(ColumnModel(), ref, calm, **{**kw, "cutoff": "2025-02-01", "max_age_days": 125})
    assert r["age_days"] == 120 and not r["retrain"] and r["cutoff"] == pd.Timestamp("2025-02-01", tz="UTC")
    r = recommend_retrain(ColumnModel(), ref, calm, **{**kw, "cutoff": "2025-02-01", "max_age_days": 110})
    assert [x["kind"] for x in r["reasons"]] == ["age"] and "saw data until 2025-02-01, 120 days" in r["reasons"][0][
        "detail"]
    # nothing matured since training: no calibration reason, said so
    r = recommend_retrain(ColumnModel(), ref, calm, **{**kw, "as_of": "2025-04-15", "horizon_days": 60})
    assert not r["calibration"]["available"] and "matured" in r["calibration"]["why"]


# ------------------------------------------------------------------------------------------------ simulated drift
@pytest.fixture(scope="module")
def twin_worlds(tmp_path_factory):
    """One simulated world (400 accounts, 14 months from 2024-01) with and without a product change on 2024-11-01
    that cuts logins; a health card trained on the rows matured by 2024-10-01; the panels at 2025-03-01."""
    from engage_models.demo.simulator import DriftSettings, SimConfig, simulate
    from engage_models.features.panel import default_panel
    from engage_models.health import HealthScore
    from engage_models.ingest import ingest

    end, cut = pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp("2024-10-01", tz="UTC")
    worlds = {}
    for kind in (None, "logins"):
        root = tmp_path_factory.mktemp(f"drift_{kind}")
        drift = DriftSettings(kind, date="2024-11-01") if kind else None
        simulate(SimConfig(n_accounts=400, months=14, seed=7, inject_defects=False, drift=drift), out=root / "raw")
        ingest(root / "raw", root / "processed")
        worlds[kind] = (root, default_panel(root / "processed", end, horizon_days=90))
    pnl = worlds[None][1]
    ref = pnl[pnl["as_of"] + pd.Timedelta(days=90) <= cut]
    model = HealthScore(gap_days=90, n_bootstrap=0, cv=2).fit(
        ref.drop(columns=["churned_within_h", "duration_days", "event"]), ref["churned_within_h"].astype(int))
    return {"model": model, "reference": ref, "end": end, "worlds": worlds}


def test_drift_is_detected_where_it_exists_and_not_where_it_does_not(twin_worlds):
    import json

    w = twin_worlds
    kw = dict(trained_until=w["reference"]["as_of"].max(), as_of=w["end"], horizon_days=90, max_age_days=365)
    # the drifted world's reference rows are the same rows (the drift starts after them)
    root, drifted = w["worlds"]["logins"]
    truth = json.loads((root / "raw" / "truth.json").read_text(encoding="utf-8"))
    assert truth["drift"]["kind"] == "logins" and truth["drift"]["first_month"] == "2024-11-01"
    assert not truth["drift"]["hazard_changed"]
    r = recommend_retrain(w["model"], w["reference"], drifted, **kw)
    # seen: usage_hours_90d 0.75, usage_hours_28d 0.69, dau_mau 0.58, logins_90d 0.39, logins_28d 0.33 (plus
    # csat_latest 0.50, events_attended_28d 0.47 and active_users_pct_change 0.45, which move in the undrifted
    # world too): 8 of 37
    assert {"logins_28d", "logins_90d", "usage_hours_28d", "usage_hours_90d"} <= set(r["psi"]["over"])
    assert r["retrain"] and "drift" in [x["kind"] for x in r["reasons"]]
    # the same world without the change: only csat_latest 0.56, active_users_pct_change 0.53 and
    # events_attended_28d 0.43 (its training dates' own largest: 0.38) pass 0.25 (the latest CSAT fills in from
    # the data's start; early months' user counts ramp up; the quarterly webinar), 3 of 37
    _, calm = w["worlds"][None]
    r = recommend_retrain(w["model"], w["reference"], calm, **kw)
    assert not {"logins_28d", "logins_90d", "usage_hours_28d", "usage_hours_90d"} & set(r["psi"]["over"])
    assert "drift" not in [x["kind"] for x in r["reasons"]] and r["psi"]["share"] < 0.15


def _artifact(path, stage, **parts):
    from engage_models._core.io import write_json
    from engage_models.pipeline.store import Artifact

    path.mkdir(parents=True)
    write_json(path / "manifest.json", {"stage": stage, "key": f"{stage}-key", "files": [], "skipped": []})
    for name, obj in parts.items():
        if isinstance(obj, pd.DataFrame):
            obj.to_parquet(path / f"{name}.parquet")
        else:
            write_json(path / f"{name}.json", obj)
    return Artifact(path)


def _monitoring_stage(tmp_path, w, panel: pd.DataFrame, model: dict, max_age_days: int):
    """The monitoring stage run on ``panel`` against the twin worlds' model (its card ``model``): its artifact."""
    from engage_models._core.io import write_json
    from engage_models.health.model_io import save_model
    from engage_models.pipeline import RunConfig
    from engage_models.pipeline import stages as S
    from engage_models.pipeline.store import Artifact, Output

    ingest = _artifact(tmp_path / "ingest", "ingest", dates={"as_of": w["end"]})
    health = _artifact(tmp_path / "health", "health", model=model)
    save_model(w["model"], health.path / "model.skops")
    config = RunConfig.from_dict({"data_dir": str(tmp_path), "horizon_days": 90,
                                  "monitoring": {"n_boot": 20, "max_age_days": max_age_days}})
    out = Output(tmp_path / "monitoring", "monitoring")
    out.path.mkdir()
    inputs = {"ingest": ingest, "panel": _artifact(tmp_path / "panel", "panel", panel=panel), "health": health}
    S.monitoring(S.Context(config, inputs, out))
    write_json(out.path / "manifest.json", {"stage": "monitoring", "key": "m", "files": out.files,
                                            "skipped": [s.as_dict() for s in out.skipped]})
    return Artifact(out.path)


def test_the_stage_judges_the_frozen_model_on_matured_labels_and_recommends(twin_worlds, tmp_path):
    from engage_models.pipeline import RunConfig

    w = twin_worlds
    _, drifted = w["worlds"]["logins"]
    cut = w["reference"]["as_of"].max()
    cutoff = cut + pd.Timedelta(days=90)  # the training run's date: its last rows' labels had matured by then
    got = _monitoring_stage(tmp_path, w, drifted, {"trained_until": cut, "cutoff": cutoff}, 365)
    info = got.json("info")
    assert info["reference_rows"] == len(w["reference"]) and "panel" in info["reference"]
    # matured since the cutoff (2024-07-01) by the data's end (2025-03-01) with a 90-day horizon: Aug to Dec
    perf = got.frame("performance")
    dates = pd.to_datetime(perf.loc[perf["scope"] == "date", "as_of"], utc=True)
    assert [d.strftime("%Y-%m") for d in dates] == ["2024-08", "2024-09", "2024-10", "2024-11", "2024-12"]
    expected = matured_performance(w["model"], drifted, trained_until=cut, as_of=w["end"], horizon_days=90, n_boot=20,
                                   seed=RunConfig().seed)  # the stage's seed: the configuration's default
    pd.testing.assert_series_equal(perf["difference"], expected["difference"])
    # the product change cut logins, not churn: the model's probabilities still match (no calibration reason)
    rec = got.json("recommendation")
    assert rec["retrain"] and [r["kind"] for r in rec["reasons"]] == ["drift"]
    assert rec["calibration"]["available"] and not rec["calibration"]["off"]
    direct = recommend_retrain(w["model"], w["reference"], drifted, trained_until=cut, as_of=w["end"],
                               horizon_days=90, max_age_days=365)  # the decision alone: pooled calibration only
    assert direct["calibration"]["difference"] == pytest.approx(rec["calibration"]["difference"])
    assert direct["calibration"]["ci_low"] == pytest.approx(rec["calibration"]["ci_low"])
    assert direct["reasons"] == rec["reasons"]
    assert rec["age_days"] == (w["end"] - cutoff).days  # from the cutoff the model card names, not its last row
    stab = got.frame("stability")
    assert set(pd.to_datetime(stab["as_of"], utc=True).dt.strftime("%Y-%m")) == {
        "2024-08", "2024-09", "2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03"}
    assert "nothing to compare" in got.reason("comparison")


def test_new_against_old_on_the_labels_after_both_cutoffs():
    from engage_models.monitoring import compare_models

    class Other(ColumnModel):
        def predict_proba(self, X):
            q = X["x"].to_numpy(float)
            return np.column_stack([1 - q, q])

    pnl = _panel([
        ("a", "2025-02-01", 0.5, 0.5, 1.0),  # after the old cutoff only: not used
        ("a", "2025-04-01", 0.3, 0.9, 1.0), ("b", "2025-04-01", 0.6, 0.2, 0.0), ("c", "2025-04-01", 0.2, 0.4, 0.0),
        ("d", "2025-04-01", 0.1, 0.7, 1.0),
    ])
    r = compare_models(ColumnModel(), Other(), pnl, trained_until_new="2025-03-01", trained_until_old="2025-01-01",
                       as_of="2025-08-01", horizon_days=30, n_boot=50)
    assert r["n"] == 4 and r["churners"] == 2
    # new (p): churners 0.9, 0.7 above 0.2, 0.4: AUC 1; old (x): churners 0.3, 0.1 against 0.6, 0.2: 1 of 4 pairs
    assert r["models"]["new"]["auc"] == 1.0 and r["models"]["old"]["auc"] == 0.25
    assert r["difference"]["auc"] == pytest.approx(0.75)
    assert r["models"]["new"]["calibration"] == pytest.approx(0.5 - 2.2 / 4)
    assert r["models"]["old"]["calibration"] == pytest.approx(0.5 - 1.2 / 4)
    assert r["difference"]["abs_calibration"] == pytest.approx(0.05 - 0.2)


@pytest.mark.notebook
def test_report_08_renders_the_stage_and_says_what_it_cannot_show(report_data, tmp_path):
    """One render of report 08 on the report tests' small world (the pipeline's artifacts are shared with them).
    The run's own model learned from every label matured by the data's end, so no label has matured since: the
    report says so in place of the calibration section, and shows the stability and the recommendation."""
    from conftest import REPORT_RUN_DATE
    from engage_models.reports.runner import run

    out = tmp_path / "reports"
    result = run(data_dir=report_data, out_dir=out, only=["08"], run_date=REPORT_RUN_DATE, progress=lambda m: None)
    # nothing matured and nothing replaced is the usual state of a run that trains: said in the report, listed
    # in run.json as not due, and not counted as a section the run failed to compute (no exit 3 for it)
    assert not [s for s in result.skipped if s["stage"] == "monitoring"]
    record = json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))
    assert {s["section"] for s in record["not_due"] if s["stage"] == "monitoring"} == {"performance", "comparison"}
    html = (out / "latest" / "08_model_monitoring.html").read_text(encoding="utf-8")
    model_id = json.loads((out / "latest" / "artifacts" / "health" / "model.json").read_text())["model_id"]
    assert f"health model {model_id}" in html  # every report's title line names the model that scored the run
    assert "Model monitoring" in html and "Traceback" not in html and "<script" not in html.lower()
    assert "Trained in this run" in html  # the run trained its model: nothing to retrain, said
    assert "no label has matured since the model" in html
    assert "nothing to compare" in html
    assert html.count('src="data:image/png;base64,') >= 1  # PSI over time
    assert "health score" in html and "population stability index" in html


def test_a_new_segment_joins_with_its_own_behaviour(tmp_path):
    """drift='segment': accounts starting on or after the date log in about 3 times as often per active user."""
    import json

    from engage_models.demo.simulator import DriftSettings, SimConfig, simulate

    simulate(SimConfig(n_accounts=150, months=8, seed=5, inject_defects=False,
                       drift=DriftSettings("segment", date="2024-04-01")), out=tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    new = set(truth["drift"]["accounts"])
    accounts = pd.read_csv(tmp_path / "accounts.csv")
    assert new == set(accounts.loc[accounts["start_date"] >= "2024-04-01", "account_id"]) and len(new) > 5
    ev = pd.read_parquet(tmp_path / "events.parquet", columns=["account_id", "user_id", "timestamp", "event_type"])
    ev["month"] = pd.to_datetime(ev["timestamp"], utc=True).dt.strftime("%Y-%m")
    ev = ev[(ev["event_type"] == "login") & (ev["month"] >= "2024-05")]
    per_user_month = ev.groupby(["account_id", "user_id", "month"]).size().groupby(level=0).mean()
    in_new = per_user_month.index.isin(new)
    ratio = per_user_month[in_new].mean() / per_user_month[~in_new].mean()
    assert ratio > 1.8, ratio  # 3x the login rate beside the one login every active user makes


def test_engage_simulate_drift_from_the_command_line(tmp_path):
    import json

    from engage_models.cli import main

    assert main(["simulate", "--accounts", "20", "--months", "4", "--drift", "logins", "--clean",
                 "--out", str(tmp_path)]) == 0
    drift = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))["drift"]
    assert drift["kind"] == "logins" and drift["first_month"] == "2024-03-01"  # the middle month by default
    assert drift["login_rate_factor"] == 0.25 and drift["hazard_changed"] is False


def test_report_08_gives_one_age_the_one_the_decision_counts():
    """Report 08's header counted the model's age from its last training row ("120 days before") while the
    verdict, from the cutoff, said 30: the header names both dates and counts from the cutoff."""
    from engage_models.monitoring.views import header, recommendation_text

    info = {"as_of": "2025-06-01", "trained_until": "2025-02-01", "cutoff": "2025-05-02", "model_id": "abc",
            "reference_rows": 10}
    en = header(info, "en")
    assert "saw data until **2 May 2025**, 30 days before" in en and "up to 1 Feb 2025" in en
    assert "2025年5月2日** までで、今回の観測日（2025年6月1日）の30日前" in header(info, "ja")
    rec = {"retrain": False, "psi": {"score": 0.05, "over": [], "metrics": {"x": 0.01}, "threshold": 0.25},
           "age_days": 30, "max_age_days": 180}
    assert "the data it saw ended 30 days ago (limit 180)" in recommendation_text(rec, "en")
    old = {k: v for k, v in info.items() if k != "cutoff"}  # a run of before: from its last training date
    assert "saw data until **1 Feb 2025**, 120 days before" in header(old, "en")


def test_a_retraining_reason_gives_its_dates_in_the_report_s_words():
    """The reasons keep ISO dates in the recommendation's JSON; report 08 in Japanese printed them so."""
    from engage_models.monitoring.recommend import _reason
    from engage_models.monitoring.views import reason_text

    r = _reason("age", "monitoring.reason.age", age=200, max_age=180, since="2024-10-01", as_of="2025-04-19")
    assert "2024-10-01" in r["detail"]  # the log's English, as kept
    assert "2024年10月1日までで、2025年4月19日の200日前" in reason_text(r, "ja")
    assert "saw data until 1 Oct 2024, 200 days before 19 Apr 2025" in reason_text(r, "en")


# ------------------------------------------------------------------------------------------ tied values, schedules
def test_a_metric_most_accounts_never_reach_is_not_blind():
    """A count that is 0 for 92% of the training rows had one PSI edge (0) and every row in one bin: its PSI was 0
    whatever the other rows did (the demo's events attended tripled at PSI 0). The zeros are now a bin."""
    expected = np.r_[np.zeros(92), np.ones(6), np.full(2, 3.0)]
    assert psi_edges(expected, 10).tolist() == [0.0, 1.0]
    tripled = np.r_[np.zeros(76), np.ones(18), np.full(6, 3.0)]
    e, a = np.array([0.92, 0.08]), np.array([0.76, 0.24])  # bins: below 0 (empty), 0, 1 and more
    assert psi(expected, tripled) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    assert psi(expected, tripled) > 0.1
    # a continuous sample keeps its deciles (no value holds more than a bin's share)
    x = np.arange(100.0)
    assert psi_edges(x, 10) == pytest.approx(np.quantile(x, np.arange(1, 10) / 10))
    # 15% zeros (more than a tenth, fewer than two deciles): still a bin of their own, no edge inside 0 to 0.1
    z = np.r_[np.zeros(15), np.linspace(0.1, 10, 85)]
    edges = psi_edges(z, 10)
    assert edges[:2].tolist() == [0.0, 0.1] and not ((edges > 0) & (edges < 0.1)).any()
    # an atom above the middle: a bin of its own, the values above it another
    y = np.r_[np.arange(50.0), np.full(40, 60.0), np.arange(61.0, 71.0)]
    edges = psi_edges(y, 10)
    assert 60.0 in edges and 61.0 in edges


def _scheduled(rng, n, date, webinar: bool, y_shift=0.0):
    """Rows of one date: ``w`` counts a webinar's attendance (0 for everyone in a month without one), ``y`` is
    an ordinary metric, ``p`` the model's churn probability."""
    w = rng.poisson(1.5, n).astype(float) if webinar else np.zeros(n)
    when = pd.Timestamp(date).tz_localize(None).tz_localize("UTC")
    return pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "as_of": when, "w": w,
                         "y": rng.normal(y_shift, 1, n), "p": np.clip(rng.normal(0.1, 0.03, n), 0.01, 0.99),
                         "churned_within_h": (rng.random(n) < 0.1).astype(float)})


class ScheduledModel(ColumnModel):
    feature_names_in_ = np.array(["account_id", "as_of", "w", "y", "p"], dtype=object)
    metrics_ = ["w", "y", "p"]


def test_a_scheduled_metric_s_off_month_is_like_a_training_date_not_drift():
    """A quarterly webinar's attendance is 0 for everyone two months in three: against the pooled training rows
    every such month is a "major shift" (report 08 said so every off-month, and on-drift would retrain). Its rows
    look like an off-month's of training (PSI against that date near 0), so it is not counted; a metric that moved
    where no training date was still is, and so is the score, whatever."""
    from engage_models.monitoring.drift import nearest_psi, stability_table
    from engage_models.monitoring.views import recommendation_text, stability_view

    rng = np.random.default_rng(11)
    months = pd.date_range("2025-01-01", periods=9, freq="MS", tz="UTC")
    ref = pd.concat([_scheduled(rng, 300, d, webinar=(i % 3 == 0)) for i, d in enumerate(months)])
    off = _scheduled(rng, 300, "2025-11-01", webinar=False)
    # nearest_psi by hand: the smallest PSI of today's rows against one training date's
    by_hand = min(psi(ref.loc[ref["as_of"] == d, "w"], off["w"]) for d in months)
    assert nearest_psi(ref["w"].to_numpy(), ref["as_of"].to_numpy(), off["w"].to_numpy()) == pytest.approx(by_hand)
    assert by_hand < 0.01
    assert np.isnan(nearest_psi(ref["w"].to_numpy(), None, off["w"].to_numpy()))
    assert np.isnan(nearest_psi([1.0, 2.0], ["d", "d"], [1.0]))           # one date: nothing to compare
    # a thin date does not count (its PSI is noise and the empty-bin floor): 15 rows against 100 needed
    thin = pd.concat([ref, _scheduled(rng, 15, "2024-12-01", webinar=False).assign(y=lambda d: d["y"] + 1)])
    shifted = _scheduled(rng, 300, "2025-11-01", webinar=False, y_shift=1.0)["y"].to_numpy()
    assert nearest_psi(thin["y"].to_numpy(), thin["as_of"].to_numpy(), shifted) == pytest.approx(
        nearest_psi(ref["y"].to_numpy(), ref["as_of"].to_numpy(), shifted))
    assert nearest_psi(thin["y"].to_numpy(), thin["as_of"].to_numpy(), shifted) > 0.25

    table = stability_table(ScheduledModel(), ref, off, trained_until=months[-1]).set_index("variable")
    w = table.loc["w"]
    assert w["level"] == "major" and w["psi"] > 0.25 and w["usual"] and w["psi_nearest"] < 0.1
    assert np.isnan(table.loc["score", "psi_nearest"]) and not table.loc["score", "usual"]  # never excused
    for m in ("w", "y"):  # the table bins each training date once for every date it compares: the same numbers
        assert table.loc[m, "psi"] == pytest.approx(psi(ref[m], off[m]), rel=1e-12)
        assert table.loc[m, "psi_nearest"] == pytest.approx(
            nearest_psi(ref[m].to_numpy(), ref["as_of"].to_numpy(), off[m].to_numpy()), rel=1e-12)

    kw = dict(trained_until=months[-1], as_of="2025-11-01", horizon_days=30, metric_psi_share=0.3)
    r = recommend_retrain(ScheduledModel(), ref, off, **kw)
    assert not r["retrain"] and r["psi"]["over"] == [] and r["psi"]["usual"] == ["w"]
    assert r["psi"]["nearest_psi"]["w"] == pytest.approx(w["psi_nearest"])
    text = recommendation_text(r, "en")
    assert "No retraining needed" in text and "Not counted as drift: 1 metric past" in text
    # the verdict names the table's whole rule (its count is of metrics past the threshold, unlike every training
    # date and beyond chance: it said the first two alone)
    assert "0 are past 0.25, unlike every training date and beyond chance;" in text, text
    assert "偶然の範囲を超えます" in recommendation_text(r, "ja")
    assert "学習期間内" in recommendation_text(r, "ja")
    view = stability_view(table.reset_index(), "en").set_index("variable")
    assert view.loc["w", "reading"] == "major shift, like a training date"
    assert not view.loc["w", "past the threshold, unlike every training date and beyond chance"]

    # the same off-month with y moved by 2 SD: y is past 0.25 and like no training date
    moved = _scheduled(rng, 300, "2025-11-01", webinar=False, y_shift=2.0)
    r = recommend_retrain(ScheduledModel(), ref, moved, **kw)
    assert r["retrain"] and r["psi"]["over"] == ["y"] and r["psi"]["usual"] == ["w"]
    # reference rows of a single date: no training date to compare with, counted as before
    r = recommend_retrain(ScheduledModel(), ref.drop(columns="as_of").assign(as_of=months[0]), off, **kw)
    assert r["psi"]["over"] == ["w"] and r["retrain"]
    # reference rows without any date column: the same
    table = stability_table(ScheduledModel(), ref.drop(columns="as_of"), off, trained_until=months[-1])
    assert not table["usual"].any()


def test_a_model_trained_in_this_run_is_not_said_to_be_0_days_old_and_keeps_its_whole_id():
    """Report 08 said 「…2026年1月2日 までで、今回の観測日（2026年1月2日）の0日前です」 and cut the model's id to 12
    characters while every other page showed it whole."""
    from engage_models.monitoring.views import header, summary_line

    info = {"as_of": "2026-01-02", "trained_until": "2025-10-01", "cutoff": "2026-01-02",
            "model_id": "451491fc773c04fd", "reference_rows": 1200, "frozen": False}
    en, ja = header(info, "en"), header(info, "ja")
    assert "451491fc773c04fd" in en and "0 days" not in en and "up to this run's observation date (2 Jan 2026)" in en
    assert "0日前" not in ja and "今回の観測日（2026年1月2日）までのデータで学習" in ja, ja
    older = header({**info, "cutoff": "2025-12-01"}, "en")
    assert "saw data until **1 Dec 2025**, 32 days before" in older, older
    rec = {"retrain": False, "psi": {"score": 0.03}, "age_days": 0}
    assert "0日前" not in summary_line(rec, "ja") and "data up to this observation date" in summary_line(rec, "en")
    assert "32 days old" in summary_line({**rec, "age_days": 32}, "en")


def test_drift_is_judged_on_the_training_rows_calendar_and_never_in_the_run_that_trained():
    """A year of weekly runs on a world with no drift: report 08 recommended retraining in 17 of 31 runs and
    ``on-drift`` retrained four times, each for 6 of 37 metrics past 0.25 on a mid-month date (28-day windows
    straddling two months) where every month start showed none; 8 of the 17 were the runs that had just trained."""
    from engage_models.monitoring.recommend import judged_date
    from engage_models.monitoring.views import recommendation_text, summary_line

    rng = np.random.default_rng(5)
    ref = _world(rng, 400, "2025-01-01", 0.10, 0.10)
    kw = dict(trained_until="2025-01-01", as_of="2025-04-15", horizon_days=30, cutoff="2025-03-01")
    month_starts = [_world(rng, 400, d, 0.10, 0.10) for d in ("2025-03-01", "2025-04-01")]
    mid_month = _world(rng, 400, "2025-04-15", 0.10, 0.10, x_shift=2.0)  # the run's own date, off the grid
    panel = pd.concat([*month_starts, mid_month])
    r = recommend_retrain(ColumnModel(), ref, panel, **kw)
    assert not r["retrain"] and r["psi"]["over"] == [], r["psi"]
    assert r["psi"]["as_of"] == pd.Timestamp("2025-04-01", tz="UTC")
    assert r["psi"]["latest"] == pd.Timestamp("2025-04-15", tz="UTC")
    moved = pd.concat([month_starts[0], _world(rng, 400, "2025-04-01", 0.10, 0.10, x_shift=2.0), mid_month])
    assert recommend_retrain(ColumnModel(), ref, moved, **kw)["retrain"]  # a drift on the grid is still seen
    weekly_ref = pd.concat([_world(rng, 50, d, 0.1, 0.1) for d in ("2024-12-01", "2024-12-08", "2024-12-15")])
    stab = pd.DataFrame({"as_of": pd.to_datetime(["2025-04-01", "2025-04-15"], utc=True)})
    assert judged_date(stab, weekly_ref) == pd.Timestamp("2025-04-15", tz="UTC")  # a panel of other dates
    assert judged_date(stab, ref.drop(columns="as_of")) == pd.Timestamp("2025-04-15", tz="UTC")  # no calendar

    fresh = recommend_retrain(ColumnModel(), ref, moved, **kw, trained_now=True)  # the run that trained it
    assert not fresh["retrain"] and fresh["reasons"] == [] and fresh["trained_now"]
    assert fresh["psi"]["over"] == ["x"]  # the evidence is kept for the report
    assert recommendation_text(fresh, "en").startswith("**Trained in this run**") and "1 of 2 metrics past 0.25, " \
        "unlike every training date and beyond chance" in recommendation_text(fresh, "en")
    assert "今回の実行で学習しました" in recommendation_text(fresh, "ja")
    assert "trained in this run" in summary_line(fresh, "en")


def test_a_paired_difference_without_an_interval_says_so_in_the_comparison():
    """A paired difference now has no interval by the backtest's rule (evaluation.paired_difference): the
    comparison's cells read "(no interval)" instead of a bare number that looks exact."""
    from engage_models.monitoring.views import comparison_view

    m = {"auc": 0.7, "auc_low": 0.6, "auc_high": 0.8, "predicted": 0.1, "calibration": 0.01,
         "calibration_low": -0.01, "calibration_high": 0.03}
    nan = float("nan")
    cmp = {"models": {"new": m, "old": m}, "difference": {"auc": 0.02, "auc_low": nan, "auc_high": nan,
                                                          "abs_calibration": 0.01, "abs_calibration_low": nan,
                                                          "abs_calibration_high": nan}}
    last = comparison_view(cmp).iloc[-1].tolist()
    assert last[1] == "+0.020 (no interval)" and last[3].endswith("+1.0 (no interval)"), last
    # the mean prediction is a probability: fmt_pct (which takes points) showed 10% as "0.1%"
    assert comparison_view(cmp)["mean predicted churn"].tolist()[:2] == ["10.0%", "10.0%"]
    assert comparison_view(cmp, "ja").iloc[-1].tolist()[1] == "+0.020（信頼区間なし）"


def test_a_past_date_scored_by_a_model_whose_data_ended_later_is_not_judged_nor_given_a_negative_age():
    """engage run --model M --as-of 2024-12-01 with a model whose data ended on 1 Jan 2025: report 08 said it "saw
    data until 1 Jan 2025, -31 days before this run's observation date", "No retraining needed ... the data it saw
    ended -31 days ago", and the summary "the health model holds (..., trained on data -31 days old)"."""
    from engage_models.monitoring.views import header, recommendation_text, summary_line

    rng = np.random.default_rng(7)
    ref = _world(rng, 400, "2024-10-01", 0.10, 0.10)
    moved = pd.concat([_world(rng, 400, d, 0.10, 0.10, x_shift=2.0) for d in ("2024-11-01", "2024-12-01")])
    kw = dict(trained_until="2024-10-01", as_of="2024-12-01", horizon_days=30, cutoff="2025-01-01")
    r = recommend_retrain(ColumnModel(), ref, moved, **kw)
    assert r["later"] and not r["retrain"] and r["reasons"] == [] and r["age_days"] == -31
    assert r["psi"]["over"] == ["x"]  # the evidence is kept for the report
    assert not recommend_retrain(ColumnModel(), ref, moved, **{**kw, "cutoff": "2024-11-15"})["later"]
    assert recommend_retrain(ColumnModel(), ref, moved, **{**kw, "cutoff": "2024-11-15"})["retrain"]
    rec = json.loads(json.dumps(r, default=str))  # as the stage keeps it
    en, ja = recommendation_text(rec, "en"), recommendation_text(rec, "ja")
    assert en.startswith("**Not judged for this date.** The model saw data until 1 Jan 2025, after this run's "
                         "observation date (1 Dec 2024)") and "1 of 2 metrics past 0.25" in en and "-31" not in en
    assert "この日については判定しません" in ja and "2025年1月1日" in ja and "-31" not in ja
    assert "saw data until 1 Jan 2025, after this observation date" in summary_line(rec, "en")
    assert "holds" not in summary_line(rec, "en") and "-31" not in summary_line(rec, "ja")
    info = {"as_of": "2024-12-01", "trained_until": "2024-10-01", "cutoff": "2025-01-01", "model_id": "abc",
            "reference_rows": 400, "frozen": True}
    assert "saw data until **1 Jan 2025**, 31 days after this run's observation date (1 Dec 2024): it learned " \
           "from outcomes not known on that date" in header(info, "en")
    assert "-31" not in header(info, "en") and "31日後" in header(info, "ja")


class ManyMetrics(ColumnModel):
    metrics_ = [f"m{i}" for i in range(12)] + ["p"]
    feature_names_in_ = np.array(["account_id", "as_of", *metrics_], dtype=object)


def _many(rng, n, date, shift=0.0):
    when = pd.Timestamp(date).tz_localize(None).tz_localize("UTC")
    return pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "as_of": when,
                         **{f"m{i}": rng.gamma(2.0, 1.0, n) + shift for i in range(12)},
                         "p": np.clip(rng.normal(0.1, 0.03, n), 0.01, 0.99),
                         "churned_within_h": (rng.random(n) < 0.1).astype(float)})


def test_a_small_export_s_sampling_noise_is_not_drift_and_a_real_shift_still_is():
    """A region's export of 30 accounts drawn from the training distribution itself: the PSI of most metrics passed
    0.25 by chance (empty bins on so few rows), and report 08 and --retrain on-drift recommended retraining on
    noise. A PSI at or below what 99% of same-size samples give with nothing changed is not counted, and said;
    the same 30 accounts with every metric moved by 2 SD are drift."""
    from engage_models.monitoring.drift import stability_table
    from engage_models.monitoring.views import recommendation_text, stability_view

    rng = np.random.default_rng(4)
    months = pd.date_range("2025-01-01", periods=6, freq="MS", tz="UTC")
    ref = pd.concat([_many(rng, 400, d) for d in months])
    kw = dict(trained_until=months[-1], as_of="2025-08-01", horizon_days=30)
    same = _many(rng, 30, "2025-08-01")
    table = stability_table(ManyMetrics(), ref, same, trained_until=months[-1]).set_index("variable")
    metrics = table[table["kind"] == "metric"]
    assert (metrics["psi"] > 0.25).sum() >= 4 and metrics["chance"].all()  # past 0.25, all within chance
    assert (metrics["psi_chance"] > 0.5).all()  # 30 rows in 10 bins: the level a sample of 30 reaches
    r = recommend_retrain(ManyMetrics(), ref, same, **kw)
    assert not r["retrain"] and r["psi"]["over"] == [] and len(r["psi"]["noise"]) == (metrics["psi"] > 0.25).sum()
    text = recommendation_text(r, "en")
    assert "No retraining needed" in text and "that sampling alone gives on 30 accounts" in text
    assert "偶然" in recommendation_text(r, "ja")
    view = stability_view(table.reset_index(), "en")
    assert not view["past the threshold, unlike every training date and beyond chance"].any()
    moved = _many(rng, 30, "2025-08-01", shift=2.0)
    r = recommend_retrain(ManyMetrics(), ref, moved, **kw)
    assert r["retrain"] and len(r["psi"]["over"]) == 12 and r["psi"]["noise"] == []
    # on a large sample the chance level is small and the 0.25 reading stands
    big = stability_table(ManyMetrics(), ref, _many(rng, 2000, "2025-08-01"), trained_until=months[-1])
    assert (big["psi_chance"] < 0.05).all()


def test_the_not_counted_note_names_the_five_largest_psis_and_counts_the_rest():
    """A thin export's noise note named every PSI past the threshold in one sentence (21 on a thin world); it now
    names the five largest, counts the rest ("and 7 more in the table below", which lists them all), and a
    Japanese page writes its brackets full-width."""
    from engage_models.monitoring.views import recommendation_text

    rng = np.random.default_rng(4)
    months = pd.date_range("2025-01-01", periods=6, freq="MS", tz="UTC")
    ref = pd.concat([_many(rng, 400, d) for d in months])
    r = recommend_retrain(ManyMetrics(), ref, _many(rng, 12, "2025-08-01"), trained_until=months[-1],
                          as_of="2025-08-01", horizon_days=30)
    psi = {m: r["psi"]["metrics"][m] for m in r["psi"]["noise"]}
    if r["psi"].get("score_noise"):
        psi["health score"] = r["psi"]["score"]
    assert len(psi) > 5 and not r["retrain"]
    en = recommendation_text(r, "en")
    note = next(p for p in en.split("Not counted as drift: ")[1:] if "sampling alone" in p)
    largest = sorted(psi, key=lambda m: -psi[m])
    assert sorted(m for m in psi if f"{m} {psi[m]:.2f} (" in note) == sorted(largest[:5])
    assert f"and {len(psi) - 5} more in the table below." in note
    ja = recommendation_text(r, "ja")
    assert f"ほか{len(psi) - 5}件は下の表に" in ja
    assert f"{largest[0]} {psi[largest[0]]:.2f}（" in ja and " (" not in ja.split("ドリフトに数えない")[1]


def test_the_decision_and_report_08_s_table_count_drift_by_the_table_s_one_rule():
    """"Past the threshold, like no training date and beyond chance" was written twice, in the retraining decision
    and in report 08's table: the table now says it once per row (``counted``, at its ``psi_threshold``), and both
    read that column; a threshold other than the table's is worked out by the same rule."""
    from engage_models.monitoring.drift import counted, stability_table
    from engage_models.monitoring.views import stability_view

    rng = np.random.default_rng(12)
    months = pd.date_range("2025-01-01", periods=6, freq="MS", tz="UTC")
    ref = pd.concat([_many(rng, 400, d) for d in months])
    today = _many(rng, 60, "2025-08-01")
    today[[f"m{i}" for i in range(4)]] += 2.0  # four metrics moved; the others only sampled
    kw = dict(trained_until=months[-1], as_of="2025-08-01", horizon_days=30)
    table = stability_table(ManyMetrics(), ref, today, trained_until=months[-1])
    by_hand = (table["psi"] > 0.25) & ~table["usual"] & ~table["chance"]
    assert table["counted"].tolist() == by_hand.tolist() and (table["psi_threshold"] == 0.25).all()
    metric = table[table["kind"] == "metric"].set_index("variable")
    assert set(metric.index[metric["counted"]]) >= {"m0", "m1", "m2", "m3"}
    assert ((metric["psi"] > 0.25) & metric["chance"]).any()  # a PSI past 0.25 by chance: not counted
    view_col = "past the threshold, unlike every training date and beyond chance"

    def view_counted(tab, threshold=0.25):
        v = stability_view(tab, "en", threshold)
        return dict(zip(v["variable"], v[view_col], strict=True))

    r = recommend_retrain(ManyMetrics(), ref, today, stability=table, **kw)
    assert sorted(r["psi"]["over"]) == sorted(metric.index[metric["counted"]])
    assert view_counted(table) == {("health score" if v == "score" else v): bool(c)
                                   for v, c in zip(table["variable"], table["counted"], strict=True)}
    # both read the column (not a copy of its rule): a table that counts m5 and not m0 is read so by both
    tampered = table.assign(counted=table["counted"].mask(table["variable"] == "m0", False)
                            .mask(table["variable"] == "m5", True))
    r = recommend_retrain(ManyMetrics(), ref, today, stability=tampered, **kw)
    assert "m0" not in r["psi"]["over"] and "m5" in r["psi"]["over"]
    assert not view_counted(tampered)["m0"] and view_counted(tampered)["m5"]
    # the score counts by the same column: a score row counted is a drift reason
    score_counted = tampered.assign(counted=tampered["counted"] | (tampered["kind"] == "score"))
    r = recommend_retrain(ManyMetrics(), ref, today, stability=score_counted, **kw)
    assert "monitoring.reason.drift_score" in [x["key"] for x in r["reasons"]]
    # another threshold than the table's: the rule on its columns, the same for both readers
    at_1 = (table["psi"] > 1.0) & ~table["usual"] & ~table["chance"]
    assert counted(table, 1.0).tolist() == at_1.tolist()
    r = recommend_retrain(ManyMetrics(), ref, today, stability=table, psi_threshold=1.0, **kw)
    assert sorted(r["psi"]["over"]) == sorted(table.loc[at_1 & (table["kind"] == "metric"), "variable"])
    assert sum(view_counted(table, 1.0).values()) == int(at_1.sum())
    # a table kept before the column was (report 08 reading an older run): the same rule
    old = table.drop(columns=["counted", "psi_threshold"])
    assert counted(old).tolist() == table["counted"].tolist()
    assert sorted(recommend_retrain(ManyMetrics(), ref, today, stability=old, **kw)["psi"]["over"]) == sorted(
        metric.index[metric["counted"]])


def test_the_chance_level_is_simulated_once_per_variable_and_size_and_is_the_same_level(monkeypatch):
    """The PSI's chance level depends on the variable's reference shares and today's rows only: the table simulated
    it again for every variable at every date (400 draws each). Now once per variable and number of rows, and each
    level is the one a fresh simulation gives (same seed)."""
    from engage_models.monitoring import drift
    from engage_models.monitoring.drift import _Bins, stability_table

    rng = np.random.default_rng(13)
    months = pd.date_range("2025-01-01", periods=3, freq="MS", tz="UTC")
    ref = pd.concat([_many(rng, 200, d) for d in months])
    later = pd.date_range("2025-05-01", periods=5, freq="MS", tz="UTC")
    panel = pd.concat([*(_many(rng, 60, d) for d in later[:4]), _many(rng, 30, later[4])])  # two sizes, five dates
    made = []
    fresh_rng = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *a, **k: made.append(a) or fresh_rng(*a, **k))
    table = stability_table(ManyMetrics(), ref, panel, trained_until=months[-1])
    variables = table["variable"].nunique()
    assert variables == 14 and len(made) == variables * 2, len(made)  # was 14 x 5 dates = 70
    monkeypatch.undo()
    for name in ("m0", "p"):
        for n in (60, 30):
            level = table.loc[(table["variable"] == name) & (table["n"] == n), "psi_chance"]
            assert level.nunique() == 1
            assert level.iloc[0] == _Bins(ref[name].to_numpy(float), 10).chance(n)  # bit for bit
    score = np.asarray(ManyMetrics().health_score(ref), float)
    assert table.loc[table["variable"] == "score", "psi_chance"].iloc[-1] == _Bins(score, 10).chance(30)
    assert drift.CHANCE_SEED == 20240101  # the levels are those of earlier runs


def test_whether_an_auc_has_an_interval_is_the_exact_share_of_one_outcome_resamples_not_the_draws_count():
    """Monitoring's ROC-AUC intervals counted the resamples of one outcome among their draws (a stand-in AUC the
    bootstrap did not know), where the backtest reads their exact share, (1 - c/n)^n: on a thin table (30 accounts,
    2 churners: 12.6% of resamples hold no churner) a bootstrap whose 20 draws all held one showed an interval, and
    100 accounts with 5 churners (0.6%) lost theirs when a draw happened to hold none."""
    from engage_models.health.evaluation import one_class_shares
    from engage_models.monitoring import compare_models
    from engage_models.monitoring.performance import auc_interval

    rng = np.random.default_rng(0)
    y = np.zeros(30)
    y[[3, 17]] = 1
    p = rng.random(30)
    p[[3, 17]] += 0.3
    assert one_class_shares(y, np.arange(30))["no_churner"] == pytest.approx((1 - 2 / 30) ** 30)
    for seed in range(40):  # seed 18 drew a churner in all 20 resamples: "0.536 (0.189 to 0.913)" before
        thin = auc_interval(y, p, np.arange(30), n_boot=20, seed=seed)
        assert thin["auc"] == pytest.approx(0.5357, abs=1e-4) and np.isnan(thin["auc_low"]), (seed, thin)
    y2 = np.zeros(100)
    y2[:5] = 1
    p2 = np.clip(rng.normal(0.3, 0.2, 100) + 0.3 * y2, 0, 1)
    for seed in range(40):  # seeds 9, 15 and 23 drew a resample without a churner: no interval before
        fat = auc_interval(y2, p2, np.arange(100), n_boot=20, seed=seed)
        assert fat["auc_low"] <= fat["auc"] <= fat["auc_high"], (seed, fat)
    # the same on a table of several rows per account: the share counts accounts with a churned row
    rows = pd.DataFrame({"account_id": np.repeat([f"a{i}" for i in range(30)], 2),
                         "as_of": np.tile(pd.to_datetime(["2025-03-01", "2025-04-01"], utc=True), 30),
                         "x": np.repeat(rng.random(30), 2), "p": np.repeat(p, 2),
                         "churned_within_h": np.repeat(y, 2)})
    perf = matured_performance(ColumnModel(), rows, trained_until="2025-02-01", as_of="2025-08-01",
                               horizon_days=30, n_boot=20, seed=18)
    assert perf["auc_low"].isna().all() and perf["auc"].notna().all()

    class Other(ColumnModel):
        def predict_proba(self, X):
            q = X["x"].to_numpy(float)
            return np.column_stack([1 - q, q])

    for seed in (18, 3):
        r = compare_models(ColumnModel(), Other(), rows, trained_until_new="2025-02-01",
                           trained_until_old="2025-01-01", as_of="2025-08-01", horizon_days=30, n_boot=20, seed=seed)
        assert r["churners"] == 4 and np.isfinite(r["models"]["new"]["auc"])
        for got in (r["models"]["new"]["auc_low"], r["models"]["old"]["auc_low"], r["difference"]["auc_low"]):
            assert np.isnan(got), (seed, r)
        assert np.isfinite(r["models"]["new"]["calibration_low"])  # defined on every resample: kept


def test_report_08_s_table_shows_the_date_the_decision_judges():
    """A weekly run on the 15th: the decision judged the month start (the training rows' calendar) and found no
    drift, while report 08's table showed the 15th, whose 28-day windows straddle two months, with x "past the
    threshold, unlike every training date and beyond chance"."""
    from engage_models.monitoring.drift import stability_table
    from engage_models.monitoring.views import stability_view

    rng = np.random.default_rng(5)
    ref = _world(rng, 400, "2025-01-01", 0.10, 0.10)
    panel = pd.concat([_world(rng, 400, d, 0.10, 0.10) for d in ("2025-03-01", "2025-04-01")]
                      + [_world(rng, 400, "2025-04-15", 0.10, 0.10, x_shift=2.0)])
    table = stability_table(ColumnModel(), ref, panel, trained_until="2025-01-01")
    assert set(table.loc[table["judged"], "as_of"]) == {pd.Timestamp("2025-04-01", tz="UTC")}
    r = recommend_retrain(ColumnModel(), ref, panel, trained_until="2025-01-01", as_of="2025-04-15",
                          horizon_days=30, stability=table)
    assert r["psi"]["as_of"] == pd.Timestamp("2025-04-01", tz="UTC") and r["psi"]["over"] == []
    view = stability_view(table, "en").set_index("variable")
    assert view.loc["x", "PSI"] == pytest.approx(round(table.loc[table["judged"] & (table["variable"] == "x"),
                                                             "psi"].iloc[0], 3))
    assert not view["past the threshold, unlike every training date and beyond chance"].any()
    # a table kept without the column: the latest date, as before
    assert stability_view(table.drop(columns="judged"), "en").set_index("variable").loc["x", "PSI"] > 1


def test_the_age_reason_survives_a_stability_table_that_cannot_be_made_and_the_missing_check_is_said():
    """A model past monitoring.max_age_days whose stability table could not be made (no training row to compare
    with): the decision raised, and the stage skipped the whole recommendation, so report 08's header said the
    model was past the limit while no recommendation said to retrain it. The age reason stands on its own, and the
    recommendation names each check it could not make and why, in both languages."""
    from engage_models.monitoring.views import recommendation_text, summary_line

    rng = np.random.default_rng(11)
    ref = _world(rng, 200, "2024-04-01", 0.10, 0.10)
    panel = pd.concat([_world(rng, 200, d, 0.10, 0.10) for d in ("2024-12-01", "2025-01-01")])
    kw = dict(trained_until="2024-04-01", cutoff="2024-07-01", as_of="2025-01-01", horizon_days=30)
    for r in (recommend_retrain(ColumnModel(), ref.iloc[0:0], panel, max_age_days=180, **kw),
              recommend_retrain(ColumnModel(), ref, panel, max_age_days=180, **kw,  # the stage's own failure
                                stability_missing="the stage's reason")):
        assert r["retrain"] and [x["kind"] for x in r["reasons"]] == ["age"] and r["age_days"] == 184
        assert not r["psi"]["available"] and r["unavailable"][0]["check"] == "drift"
        assert r["calibration"]["available"]  # the other checks are still made
        en = recommendation_text(r, "en")
        assert "**Retraining recommended**" in en and "184 days before" in en
        assert "Population stability could not be checked: " + r["psi"]["why"] in en
        assert "母集団の安定性は確認できませんでした" in recommendation_text(r, "ja")
        assert "the model is old" in summary_line(r, "en")
    r = recommend_retrain(ColumnModel(), ref.iloc[0:0], panel, max_age_days=180, **kw)
    assert "no row to compare" in r["psi"]["why"] and "比較する行がありません" in recommendation_text(r, "ja")
    # young enough: no reason found, but the verdict does not read as a model that holds
    young = recommend_retrain(ColumnModel(), ref.iloc[0:0], panel, max_age_days=365, **kw)
    assert not young["retrain"] and young["reasons"] == []
    en = recommendation_text(young, "en")
    assert "No retraining needed" not in en and "No reason to retrain found in the checks that could be made" in en
    assert "Population stability could not be checked" in en and "184 days ago (limit 365)" in en
    assert "holds" not in summary_line(young, "en") and "could not be checked" in summary_line(young, "en")
    assert "確認できませんでした" in summary_line(young, "ja")
    # nothing matured and no stability: both checks named; the reasons survive the stage's JSON
    thin = recommend_retrain(ColumnModel(), ref.iloc[0:0], panel, **{**kw, "horizon_days": 90}, max_age_days=365)
    assert [u["check"] for u in thin["unavailable"]] == ["drift", "calibration"]
    back = json.loads(json.dumps(thin, default=str))
    assert "Calibration on the matured labels could not be checked: no label has matured" in recommendation_text(
        back, "en")
    assert "確定ラベルでの較正は確認できませんでした" in recommendation_text(back, "ja")
    # a model trained in this run: the trained sentence, without a PSI it does not have
    fresh = recommend_retrain(ColumnModel(), ref.iloc[0:0], panel, **kw, trained_now=True)
    assert recommendation_text(fresh, "en").startswith("**Trained in this run**") and "nan" not in \
        recommendation_text(fresh, "en")
    assert "trained in this run" in summary_line(fresh, "en")


def test_the_psi_plot_draws_the_metrics_that_moved_most_at_the_judged_date_not_the_latest():
    """Report 08's plot picked its metrics by their PSI at the latest date (a weekly run's mid-month date) while
    the decision and the table judged the month start: it drew the metric that moved mid-month, not the one the
    judgement was about."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engage_models.monitoring.drift import stability_table
    from engage_models.monitoring.views import plot_psi

    rng = np.random.default_rng(5)
    ref = _world(rng, 400, "2025-01-01", 0.10, 0.10)
    judged = _world(rng, 400, "2025-04-01", 0.10, 0.10)
    judged["p"] = np.clip(judged["p"] + 0.05, 0.01, 0.99)  # p moved at the month start
    panel = pd.concat([_world(rng, 400, "2025-03-01", 0.10, 0.10), judged,
                       _world(rng, 400, "2025-04-15", 0.10, 0.10, x_shift=2.0)])  # x moved mid-month
    table = stability_table(ColumnModel(), ref, panel, trained_until="2025-01-01")
    at = table[table["kind"] == "metric"].pivot(index="as_of", columns="variable", values="psi")
    assert at.loc[pd.Timestamp("2025-04-01", tz="UTC")].idxmax() == "p"
    assert at.loc[pd.Timestamp("2025-04-15", tz="UTC")].idxmax() == "x"

    def drawn(t):
        ax = plot_psi(t, "en", n_metrics=1)
        names = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
        plt.close(ax.figure)
        return names

    chance = "health score: what sampling alone reaches (99%)"
    assert drawn(table) == ["health score", "p", chance]
    assert drawn(table.drop(columns="judged")) == ["health score", "x", chance]  # a table kept without it: the latest


def test_a_recommendation_for_one_reason_says_what_the_other_checks_found_with_their_numbers():
    """Report 08 on a model past the age limit said "Retraining recommended, because: the model saw data until ..."
    and nothing of the other checks, while its table marked tenure past the threshold and beyond chance: the reader
    could not tell whether drift had been judged. The checks that found no reason say so, with their numbers (the
    calibration with its interval); a check that found one is not said twice."""
    from engage_models.monitoring.views import recommendation_text

    rng = np.random.default_rng(3)
    ref = _world(rng, 400, "2025-01-01", 0.10, 0.10)
    calm = pd.concat([_world(rng, 400, d, 0.10, 0.10) for d in ("2025-03-01", "2025-04-01")])
    kw = dict(trained_until="2025-01-01", as_of="2025-06-01", horizon_days=30)
    old = recommend_retrain(ColumnModel(), ref, calm, max_age_days=120, **kw)
    assert [x["kind"] for x in old["reasons"]] == ["age"]
    en, c = recommendation_text(old, "en"), old["calibration"]
    assert f"Population stability gives no reason: the health score's population stability index is " \
           f"{old['psi']['score']:.2f}; of 2 metrics, 0 are past 0.25, unlike every training date and beyond " \
           f"chance (0%), fewer than the share of 15% that counts as drift" in en
    assert (f"Calibration gives no reason: on the {c['n']:,} labels matured since the last training date (1 Jan "
            f"2025), churn was {c['observed']:.1%} against {c['predicted']:.1%} predicted, a difference of "
            f"{c['difference'] * 100:+.1f} points (95% CI {c['ci_low'] * 100:+.1f} to {c['ci_high'] * 100:+.1f})") in en
    ja = recommendation_text(old, "ja")
    assert "母集団の安定性は再学習の理由になりません" in ja and "較正は再学習の理由になりません" in ja
    moved = pd.concat([_world(rng, 400, d, 0.10, 0.10, x_shift=2.0) for d in ("2025-03-01", "2025-04-01")])
    drifted = recommendation_text(recommend_retrain(ColumnModel(), ref, moved, max_age_days=120, **kw), "en")
    assert "Population stability gives no reason" not in drifted and "Calibration gives no reason" in drifted
    off = pd.concat([_world(rng, 400, d, 0.10, 0.30) for d in ("2025-03-01", "2025-04-01")])
    assert "Calibration gives no reason" not in recommendation_text(recommend_retrain(ColumnModel(), ref, off, **kw))
    keep = recommendation_text(recommend_retrain(ColumnModel(), ref, calm, **kw), "en")
    assert keep.startswith("**No retraining needed.**") and "Calibration gives no reason" in keep
    # a score PSI past the threshold that sampling alone gives on so few accounts: said beside its chance level
    thin = {**old, "psi": {**old["psi"], "score": 1.14, "score_noise": True, "n": 31,
                           "chance_psi": {**old["psi"]["chance_psi"], "score": 1.67}}}
    en = recommendation_text(thin, "en")
    assert "population stability index is 1.14, within what sampling alone gives on 31 accounts (1.67); of 2" in en
    assert en.index("gives on 31 accounts (1.67); of 2") < en.index("Not counted as drift: 1 PSI past 0.25")
    assert "31社という標本の大きさでは偶然だけで生じる範囲（1.67）内" in recommendation_text(thin, "ja")


def test_report_08_says_churned_rows_beside_accounts():
    """On a thin export (31 accounts over ten dates) report 08's pooled row read "34 accounts, 29 churned" beside an
    observed churn of 12.1%: the 29 were rows (an account churning within the horizon of several dates counts at
    each), and the comparison said "(120 accounts, 45 churned)" the same way."""
    from engage_models.monitoring.views import comparison_text, performance_view

    perf = pd.DataFrame({"scope": ["all"], "as_of": [pd.NaT], "n": [239], "accounts": [34], "churners": [29],
                         "observed": [29 / 239], "observed_low": [0.065], "observed_high": [0.215],
                         "predicted": [0.105], "difference": [0.016], "ci_low": [-0.056], "ci_high": [0.088],
                         "auc": [0.786], "auc_low": [0.643], "auc_high": [0.891]})
    row = performance_view(perf, "en").iloc[0]
    assert row["rows that churned"] == 29 and row["accounts"] == 34 and row["rows"] == 239
    assert "解約した行数" in performance_view(perf, "ja").columns
    cmp = {"n": 500, "accounts": 120, "churners": 45, "since": "2025-01-01", "old_model": "abc"}
    assert "500 matured labels (45 of them churned, from 120 accounts)" in comparison_text(cmp, "en")
    assert "うち解約45件、120社分" in comparison_text(cmp, "ja")


def test_the_psi_plot_draws_the_level_the_score_s_psi_reaches_by_chance_on_each_date_s_accounts():
    """On a thin export report 08's plot drew every PSI past 0.25 (1 to 3) with no sign of the level sampling alone
    reaches on so few accounts, which its text said they were within: a reader of the plot saw a population in
    upheaval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engage_models.monitoring.drift import stability_table
    from engage_models.monitoring.views import plot_psi

    rng = np.random.default_rng(2)
    ref = _world(rng, 400, "2025-01-01", 0.10, 0.10)
    thin = pd.concat([_world(rng, n, d, 0.10, 0.10) for n, d in ((30, "2025-03-01"), (400, "2025-04-01"))])
    table = stability_table(ColumnModel(), ref, thin, trained_until="2025-01-01")
    ax = plot_psi(table, "en")
    line = next(x for x in ax.get_lines() if x.get_label() == "health score: what sampling alone reaches (99%)")
    score = table[table["kind"] == "score"]
    assert list(line.get_ydata()) == pytest.approx(score["psi_chance"].tolist())
    assert line.get_ydata()[0] > 2 * line.get_ydata()[1]  # 30 accounts reach far more by chance than 400
    plt.close(ax.figure)
    ax = plot_psi(table.drop(columns=["psi_chance"]), "ja")  # a table kept before the column: no such line
    assert len(ax.get_lines()) == 3 + 2  # the score, two metrics and the two reading levels
    plt.close(ax.figure)



def test_the_stage_recommends_retraining_an_old_model_whose_stability_table_could_not_be_made(twin_worlds, tmp_path,
                                                                                             monkeypatch):
    """The stage made no recommendation at all when its stability table failed ("recommendation: not computed"),
    while report 08's header said the model was past the age limit: the recommendation is made, its age reason
    stands, and it says why drift was not judged (the stage's own reason, in both languages)."""
    from engage_models import monitoring as M
    from engage_models._core.reasons import Thin
    from engage_models.monitoring.views import recommendation_text

    def fails(*a, **k):
        raise Thin("reason.no_training_rows", source="the model folder's training rows")

    monkeypatch.setattr(M, "stability_table", fails)
    w = twin_worlds
    _, calm = w["worlds"][None]
    cut = w["reference"]["as_of"].max()
    got = _monitoring_stage(tmp_path, w, calm, {"trained_until": cut, "cutoff": cut, "frozen": True}, 120)
    assert "no training row to compare with" in got.reason("stability")
    rec = got.json("recommendation")
    assert rec["retrain"] and [r["kind"] for r in rec["reasons"]] == ["age"] and rec["age_days"] > 120
    assert [u["check"] for u in rec["unavailable"]] == ["drift"]
    assert "Population stability could not be checked: no training row to compare with" in recommendation_text(
        rec, "en")
    assert "比較する学習データの行がありません" in recommendation_text(rec, "ja")
