"""What ``engage fit`` writes about the figures it could not compute: ``evaluation.json``'s codes beside each
interval, the console and the page, in the page's language."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd

from engage_models.health.tables import fit_table


def _thin(n: int = 40, churners=(3, 17), seed: int = 0) -> pd.DataFrame:
    """``n`` rows, two columns of noise, ``churners`` the only rows with the label 1."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "churned": 0})
    df.loc[list(churners), "churned"] = 1
    return df


def _fit_cli(tmp_path, df: pd.DataFrame, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "fit"
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label", "churned",
                           "--bootstrap", "0", "--score", "linear", "--jobs", "1", "--out", str(out), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads((out / "evaluation.json").read_text(encoding="utf-8"))


def test_evaluation_json_gives_the_code_beside_an_interval_not_computed_and_the_console_says_it(tmp_path):
    """Two churners among 40 rows: a resample of the 40 accounts holds neither of them with probability
    (38/40)^40, 13% (over the 2.5% an interval allows), so the learned card's ROC-AUC, PR-AUC and lift have an
    estimate and no interval (``few_draws``); boosting, fitted on 20 rows a fold, predicts one value and ranks
    nothing (``one_value``); the Brier score, log loss and ICI have their intervals (null). The JSON gave null
    intervals without a reason, and the console stopped on formatting the null bounds after writing the files."""
    proc, ev = _fit_cli(tmp_path, _thin(), "--folds", "2")
    learned, gbm = ev["models"]["learned"], ev["models"]["gbm"]
    for metric in ("roc_auc", "pr_auc", "lift_top_decile"):
        r = learned[metric]
        assert r["not_computed"] == "few_draws" and r["estimate"] is not None, (metric, r)
        assert r["ci_low"] is None and r["ci_high"] is None
        assert gbm[metric] == {"estimate": None, "ci_low": None, "ci_high": None, "not_computed": "one_value"}
    for model in (learned, gbm):
        for metric in ("brier", "log_loss", "ici"):
            assert model[metric]["not_computed"] is None and model[metric]["ci_low"] is not None, (metric, model)
    assert f"learned  ROC-AUC {learned['roc_auc']['estimate']:.3f} (no 95% interval)" in proc.stdout
    assert ("No 95% interval for the ROC-AUC of learned score, the PR-AUC of learned score, the lift (top 10%) of "
            "learned score: more than 2.5% of the resamples of accounts held no churner") in proc.stdout
    page = (tmp_path / "fit" / "report.html").read_text(encoding="utf-8")
    assert "No 95% interval for the ROC-AUC of <strong>learned score</strong>" in page


def test_every_interval_computed_has_a_null_code(tmp_path):
    """120 churners among 400 rows that a column separates: every metric of every model has its interval, and
    the code beside it is null (present, so a job can read it without guessing); the page gives no reason."""
    rng = np.random.default_rng(1)
    signal = rng.normal(size=400)
    df = pd.DataFrame({"signal": signal, "noise": rng.normal(size=400),
                       "churned": (signal + rng.normal(0, 0.8, 400) > 0.6).astype(int)})
    assert 80 < df["churned"].sum() < 160
    ev = fit_table(df, "churned", tmp_path, folds=3, n_bootstrap=0, n_boot_eval=100, score="linear")
    for model, figures in ev["models"].items():
        for metric, r in figures.items():
            assert r["not_computed"] is None, (model, metric, r)
            assert r["ci_low"] <= r["estimate"] <= r["ci_high"], (model, metric, r)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No 95% interval" not in page and "not computed" not in page


def test_fit_table_returns_the_codes_it_writes(tmp_path):
    """The dict ``fit_table`` returns is the file: the codes, the one-value reason, the same nulls."""
    ev = fit_table(_thin(), "churned", tmp_path, folds=2, n_bootstrap=0, n_boot_eval=100, score="linear")
    assert json.loads((tmp_path / "evaluation.json").read_text(encoding="utf-8"))["models"] == ev["models"]
    assert ev["models"]["learned"]["roc_auc"]["not_computed"] == "few_draws"


def _dated_without_late_churners(n: int = 400) -> pd.DataFrame:
    """A row a day for ``n`` days; every fourth row churned in the first 150 days, none after: the out-of-time
    windows (the last half of the days whose 30-day labels are known) test rows of which none churned."""
    rng = np.random.default_rng(0)
    day = np.arange(n)
    df = pd.DataFrame({"as_of": pd.Timestamp("2025-01-01") + pd.to_timedelta(day, "D"),
                       "a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["churned"] = ((day < 150) & (day % 4 == 0)).astype(int)
    return df


def test_test_rows_without_a_churner_are_named_as_fit_validated_them_not_as_a_backtest(tmp_path):
    """``engage fit`` validates on out-of-time windows (with a date column) or cross-validation folds; its page
    said "The test rows of the backtest hold no churner", the pipeline's sentence (``min_test_events`` of 0, which
    only the Python call allows, lets the windows hold no churner)."""
    pages = {}
    for lang in ("en", "ja"):
        ev = fit_table(_dated_without_late_churners(), "churned", tmp_path / lang, date_col="as_of", horizon_days=30,
                       min_test_events=0, n_bootstrap=0, n_boot_eval=50, score="linear", lang=lang)
        assert ev["validation"]["test_events"] == 0 and ev["validation"]["test_rows"] > 100  # the premise
        for model in ("learned", "gbm"):
            codes = {metric: r["not_computed"] for metric, r in ev["models"][model].items() if metric != "one_value"}
            assert codes == {"roc_auc": "no_churner", "pr_auc": "no_churner", "lift_top_decile": "no_churner",
                             "brier": None, "log_loss": None, "ici": None}
        pages[lang] = (tmp_path / lang / "report.html").read_text(encoding="utf-8")
    assert ("The rows tested in the out-of-time windows hold no churner: ROC-AUC, PR-AUC and top-decile lift "
            "compare churners with retained accounts, so they are not computed") in pages["en"]
    assert "時系列のテスト期間でテストした行に解約顧客がいません。" in pages["ja"]
    assert "backtest" not in pages["en"].lower() and "バックテスト" not in pages["ja"]


def test_cross_validated_rows_of_one_outcome_are_said_to_be_the_folds():
    """Without a date column the rows are validated in cross-validation folds, and said so (in ``engage fit`` all
    the rows are, and a table of one outcome stops before: the sentence is read off the codes alone)."""
    from engage_models.health.tables import not_computed_text

    one = {"estimate": None, "ci_low": None, "ci_high": None, "not_computed": "all_churned"}
    ev = {"validation": {"method": "stratified 5-fold cross-validation", "folds": 5}, "models": {"linear": {
        "roc_auc": one, "brier": {"estimate": 0.2, "ci_low": 0.1, "ci_high": 0.3, "not_computed": None}}}}
    assert not_computed_text(ev).startswith("The rows validated in the cross-validation folds all churned: ROC-AUC")
    assert not_computed_text(ev, "ja").startswith("交差検証の各分割で検証した行はすべて解約しました。")
