"""An out-of-time concordance with its interval, and the reports' word when the model behind the survival
values cannot be told from chance (a small world's panel model had AUC 0.437 out of time and its money reached
the executive summary without a word)."""

from __future__ import annotations

import numpy as np
import pytest

from engage_models.reports.summary import risk_text
from engage_models.survival.evaluation import harrell_c, harrell_c_interval
from engage_models.survival.report import chance_caveat, evaluation_table


def _times(n, beta, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.exponential(np.exp(-beta * x))
    c = rng.exponential(2.0, n)
    return np.minimum(t, c), (t <= c).astype(int), x


def test_the_interval_holds_one_half_for_a_random_score_and_not_for_a_real_one():
    covered = 0
    for seed in range(20):
        time, event, x = _times(300, 0.0, seed)
        lo, hi = harrell_c_interval(time, event, x, n_boot=100, seed=seed)
        covered += lo <= 0.5 <= hi
    assert covered >= 17  # nominal 95%: 19 of 20 expected, 17 allowed for the bootstrap's own error
    time, event, x = _times(400, 1.0, 0)
    lo, hi = harrell_c_interval(time, event, x)
    assert 0.5 < lo < harrell_c(time, event, x) < hi


def test_a_concordance_without_a_comparable_pair_is_empty_and_a_tiny_table_is_analysed():
    """lifelines raises ZeroDivisionError ('No admissable pairs') when no churn comes before another account's
    end; a fold of a 15-row table stopped engage survival with that traceback (a helper's run)."""
    assert np.isnan(harrell_c([1.0, 2.0], [0, 1], [0.1, 0.2]))
    from engage_models.survival import analysis as A
    from test_survival import _own_table

    res = A.analyse_table(_own_table(n=15, seed=1), duration="tenure", event="churned", unit="days",
                          id_col="customer", mrr="fee", n_boot=5, cv=3)
    assert len(res.per_account) > 0


def test_m_out_of_n_draws_give_about_the_full_bootstraps_width():
    time, event, x = _times(3000, 0.3, 1)
    full = harrell_c_interval(time, event, x, n_boot=100, max_n=3000, seed=2)
    sub = harrell_c_interval(time, event, x, n_boot=100, max_n=750, seed=2)
    assert (sub[1] - sub[0]) == pytest.approx(full[1] - full[0], rel=0.25)
    assert np.isnan(harrell_c_interval(time, np.zeros_like(event), x)[0])  # no churn: no interval


def test_the_reports_say_when_the_values_model_is_no_better_than_chance():
    weak = {"harrell_c": 0.47, "harrell_c_low": 0.40, "harrell_c_high": 0.54}
    assert chance_caveat(weak, "en").startswith("Out of time, the model behind these values ranked churn in a way "
                                                "that could not be told from chance (concordance 0.470 (95% CI "
                                                "0.400 to 0.540))")
    assert "偶然と区別できませんでした" in chance_caveat(weak, "ja")
    assert chance_caveat({**weak, "harrell_c_low": 0.52, "harrell_c": 0.6}) is None
    assert chance_caveat({"harrell_c": 0.45}) and chance_caveat({"harrell_c": 0.61}) is None  # an older artifact
    risk = {"expected": 1000.0, "ci_low": 800.0, "ci_high": 1200.0, "share": 0.05, "accounts": 3.0}
    money = {"3": 900.0, "6": 1700.0, "12": 3000.0}
    assert "could not be told from chance" in risk_text(risk, {**money, "concordance": weak}, 90)
    sure = {**money, "concordance": {**weak, "harrell_c_low": 0.55}}
    assert "could not be told from chance" not in risk_text(risk, sure, 90)
    assert "could not be told from chance" not in risk_text(risk, money, 90)  # a summary written before: as it was
    table = evaluation_table({"surv.model_panel": {**weak, "uno_c": 0.5, "accounts": 10, "horizons": {}}})
    assert "0.470 (95% CI 0.400 to 0.540)" in table._repr_html_()


def test_the_summary_says_when_the_health_score_behind_the_mrr_at_risk_is_no_better_than_chance():
    """A tester's world whose card ranked churn at ROC-AUC 0.49 out of time put "74.9% of MRR" at risk in the
    executive summary without a word, while the survival model's money beside it had its caveat."""
    risk = {"expected": 749.0, "ci_low": 700.0, "ci_high": 800.0, "share": 0.749, "accounts": 21.0,
            "roc_auc": {"estimate": 0.49, "ci_low": 0.41, "ci_high": 0.57}}
    text = risk_text(risk, None, 90, "en")
    assert text.endswith("Out of time, the health score behind this figure ranked churn in a way that could not be "
                         "told from chance (ROC-AUC 0.490 (95% CI 0.410 to 0.570)): read the amount as a rough order "
                         "of size, not a forecast."), text
    assert "偶然と区別できませんでした（ROC-AUC" in risk_text(risk, None, 90, "ja")
    good = {**risk, "roc_auc": {"estimate": 0.72, "ci_low": 0.66, "ci_high": 0.78}}
    assert "chance" not in risk_text(good, None, 90)
    below = {**risk, "roc_auc": {"estimate": 0.40, "ci_low": 0.33, "ci_high": 0.47}}  # reversed: no better either
    assert "could not be told from chance" in risk_text(below, None, 90)
    older = {k: v for k, v in risk.items() if k != "roc_auc"}  # a summary written before it kept the AUC
    assert "chance" not in risk_text(older, None, 90) and "chance" not in risk_text({**risk, "roc_auc": None}, None, 90)
