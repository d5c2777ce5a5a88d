"""The label catalogue and the formatting helpers."""

from __future__ import annotations

import pytest
import yaml

from engage_models._core import i18n


class _UniqueKeys(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"duplicate keys in messages.yaml: {sorted(map(str, dupes))}")
        return super().construct_mapping(node, deep)


def test_catalogue_has_no_duplicate_keys_and_every_entry_has_both_languages():
    data = yaml.load(i18n._CATALOGUE.read_text(encoding="utf-8"), Loader=_UniqueKeys)
    assert all(isinstance(k, str) for k in data), "unquoted yes/no/on/off keys turn into booleans"
    missing = [k for k, v in data.items() if set(v) != {"en", "ja"}]
    assert not missing, missing


def test_labels_numbers_and_dates_in_both_languages():
    assert i18n.t("promoters", "ja") == "推奨者" and i18n.t("promoters", "en") == "promoters"
    assert i18n.t("logins_28d", "ja") == "ログイン回数（28日）"  # metric names come from the registry
    assert i18n.fmt_date("2026-01-05", "ja") == "2026年1月5日" and i18n.fmt_date("2026-01-05", "en") == "5 Jan 2026"
    assert i18n.fmt_date("2026-01-05", "ja", month_only=True) == "2026年1月"
    assert i18n.fmt_interval(12.34, 10.0, 14.5, "ja") == "12.3（95%信頼区間 10.0〜14.5）"
    assert i18n.fmt_interval(12.34, 10.0, 14.5, "en") == "12.3 (95% CI 10.0 to 14.5)"
    # a bound the data never reach is said in words (「15.8〜∞」 read as a typo), a money bound too
    inf = float("inf")
    assert i18n.fmt_interval(20.0, 15.8, inf, "ja") == "20.0（95%信頼区間 15.8以上）"
    assert i18n.fmt_interval(20.0, 15.8, inf, "en", label=False) == "20.0 (15.8 or more)"
    assert i18n.fmt_interval(-3.0, -inf, 1.0, "ja", n=40) == "-3.0（95%信頼区間 1.0以下、n=40）"
    money = i18n.fmt_interval(900.0, 500.0, inf, "en", fmt=lambda v: i18n.fmt_money(v, "en"))
    assert money == "$900 (95% CI $500 or more)"
    assert i18n.fmt_interval(inf, 15.8, inf, "en") == "∞ (95% CI 15.8 or more)"  # a median never reached
    assert i18n.fmt_interval(3.0, 1.0, -inf, "en") == "3.0"  # bounds that mean nothing: no interval shown
    assert i18n.fmt_interval(inf, 500.0, inf, "en", fmt=lambda v: i18n.fmt_money(v, "en")).startswith("∞ (")
    assert i18n.fmt_money(-1234.5, "en") == "-$1,234"
    # amounts under 10 keep their cents (a purchase log's $0.36 at risk read "$0"); yen and won have none
    assert [i18n.fmt_money(v, "en") for v in (0.36, 4.5, 9.994, 9.996, 12.4, 1234.5, 0.0, -0.001, -0.36)] == [
        "$0.36", "$4.50", "$9.99", "$10", "$12", "$1,234", "$0", "$0", "-$0.36"]
    assert [i18n.fmt_money(v, "ja") for v in (0.36, 4.5, 1234.5)] == ["$0.36", "$4.50", "$1,234"]
    assert [i18n.fmt_money(v, "ja", "JPY") for v in (0.36, 36.4, 1234.5)] == ["0円", "36円", "1,234円"]
    assert i18n.fmt_money(36.4, "en", "JPY") == "¥36" and i18n.fmt_money(4.4, "en", "KRW") == "₩4"
    assert i18n.fmt_money(0.36, "en", "EUR") == "€0.36" and i18n.fmt_money(0.36, "en", decimals=0) == "$0"
    # an estimate keeps the column's decimals (an NPS of 0.2 read "+0.2" among whole numbers); a bound near zero
    # gets more, so its side of zero shows; nothing reads "-0"
    assert i18n.fmt_interval(0.2, -8.3, 8.6, "en", decimals=0, signed=True) == "+0 (95% CI -8 to +9)"
    assert i18n.fmt_interval(12.0, -0.4, 25.0, "en", decimals=0, signed=True) == "+12 (95% CI -0.4 to +25)"
    assert i18n.fmt_interval(-0.3, -9.0, 8.0, "en", decimals=0) == "0 (95% CI -9 to 8)"
    with pytest.raises(ValueError, match="lang"):
        i18n.t("promoters", "fr")


def test_every_stage_and_run_parameter_has_words_in_both_languages():
    """The index page names stages and run parameters by these keys; a missing one showed the key itself
    (stage.personas, run.param.engine)."""
    import dataclasses

    from engage_models._core.i18n import catalogue
    from engage_models.pipeline import STAGE_NAMES
    from engage_models.reports.runner import RunParameters

    keys = [f"stage.{s}" for s in STAGE_NAMES]
    keys += [f"run.param.{f.name}" for f in dataclasses.fields(RunParameters)] + ["run.param.notebooks"]
    missing = [k for k in keys if set(catalogue().get(k, {})) < {"en", "ja"}]
    assert not missing, missing


def test_p_values_are_written_one_way():
    """Report 03 wrote p = 3.45e-07 where report 05 wrote p < 0.001, and the log-rank sentences "p 0.206"."""
    from engage_models._core.i18n import fmt_p, p_is

    assert [p_is(p) for p in (3.45e-07, 0.2061, 0.001)] == ["p < 0.001", "p = 0.206", "p = 0.001"]
    assert fmt_p(0.5) == "0.500" and fmt_p(1e-9) == "< 0.001"


def test_a_date_axis_never_labels_two_ticks_with_one_month():
    """Report 08's stability chart over three months read 2025年5月 2025年5月 2025年6月 2025年6月 (ticks every half
    month, each labelled with its month). Month labels where every tick is a month's first day, else dates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from engage_models._core.plots import date_axis

    for start, n in (("2025-05-01", 3), ("2025-05-01", 2), ("2024-01-01", 24)):
        fig, ax = plt.subplots()
        ax.plot(pd.date_range(start, periods=n, freq="MS"), range(n))
        date_axis(ax, "en")
        fig.canvas.draw()
        labels = [x.get_text() for x in ax.get_xticklabels()]
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
        plt.close(fig)


def test_user_text_in_a_markdown_sentence_reads_as_typed_and_does_nothing():
    """A playbook label ``<script>...</script> [more](javascript:...)`` ran as HTML in report 06, and a folder
    name with a backtick closed report 01's code span: nbconvert renders Markdown outputs with raw HTML on."""
    import html

    from nbconvert.filters.markdown import markdown2html_mistune

    from engage_models._core.i18n import md_text

    hostile = ("Rescue `x` <script>alert(1)</script> [more](javascript:alert(1)) <img src=x onerror=alert(1)> "
               "http://evil.example/x **b** $\\color{red}{x}$ _i_ # h | a | & &amp; ![](http://evil/x.png)")
    out = markdown2html_mistune(f"- The play **{md_text(hostile)}** lowered churn")
    assert "<script" not in out and "<img" not in out and "<a " not in out and "<em>" not in out
    assert out.count("<strong>") == 1 and "<code>" not in out
    visible = html.unescape(out.replace("<ul>", "").replace("</ul>", "").replace("<li>", "").replace("</li>", "")
                            .replace("<strong>", "").replace("</strong>", "")).strip()
    assert visible == f"The play {hostile} lowered churn"
    assert md_text("line one\nline two") == "line one line two"


def test_dollar_signs_in_a_figure_s_labels_are_text_not_math():
    """A plan called "Pro $$" stopped reports 03, 05 and 07 (matplotlib parsed it as math and failed); a label
    "$5 to $10" would have been set as math."""
    import io

    import matplotlib.pyplot as plt

    from engage_models._core import plots

    plots.setup("en")
    fig, ax = plt.subplots()
    ax.bar(["Pro $$", "Basic ($5/mo) and Pro ($10/mo)", "$\\color{red}{x}$"], [1, 2, 3])
    ax.set_title("webinar $$ promo")
    fig.savefig(io.BytesIO(), format="png")  # raised ParseException before
    assert [tick.get_text() for tick in ax.get_xticklabels()][0] == "Pro $$"
    plt.close(fig)


def test_directional_controls_do_not_reorder_a_name_in_a_report():
    """U+202E in an account's name showed it reversed in the reports ('\\u202egnp.exe' reads 'exe.png')."""
    import pandas as pd

    from engage_models._core.display import table
    from engage_models._core.i18n import md_text

    name = "Acme \u202egnp.exe\u2066x\u2069"
    shown = table(pd.DataFrame({"name": [name]}), translate=False)._repr_html_()
    assert "\u202e" not in shown and "\u2066" not in shown and "Acme gnp.exex" in shown
    assert md_text(name) == "Acme gnp&#46;exex"
    from engage_models.delivery.messages import escape_mail, escape_slack, escape_teams

    assert {escape_mail(name), escape_slack(name)} == {"Acme gnp.exex"} and "\u202e" not in escape_teams(name)


def test_report_tables_write_whole_numbers_held_as_floats_without_decimals():
    """NPS answers printed 「4.0」「10.0」 and counts 「2.00」 (floats after a join): whole numbers read as such;
    a column with one fraction keeps its decimals for every row."""
    import pandas as pd

    from engage_models._core.display import table

    html = table(pd.DataFrame({"answers": [2.0, 1500.0, None], "score": [4.0, 10.0, 7.0],
                               "mean": [4.0, 7.25, 9.5]}), translate=False)._repr_html_()
    assert "<td>2</td>" in html and "<td>1,500</td>" in html and "2.00" not in html and "4.0<" not in html
    assert "<td>4.00</td>" in html and "<td>7.25</td>" in html  # the mean keeps its decimals


def test_a_tiny_negative_in_a_report_table_is_written_without_a_minus_sign():
    """Report 03 read "SMB ... -0.0" (a reader of the reports): a value rounding to zero is 0.0, whatever its
    sign; -1.5 keeps its own."""
    import pandas as pd

    from engage_models._core.display import table

    html = table(pd.DataFrame({"x": [-0.04, -1.5, 0.0, 2.25]}), decimals=1, translate=False)._repr_html_()
    assert "-0.0" not in html and html.count("<td>0.0</td>") == 2 and "<td>-1.5</td>" in html
    assert "-0<" not in table(pd.DataFrame({"x": [-0.4, 3.5]}), decimals=0, translate=False)._repr_html_()


def test_a_count_of_one_reads_singular_in_english_in_every_sentence_of_the_catalogue():
    """Sentences read "1 customers", "1 accounts", "1 days": the catalogue wrote one English form after a count.
    A count's noun now has both (``{n:# account|# accounts}``), chosen by :func:`~i18n.count`; every English
    sentence rendered with its counts at 1 has no plural noun after a lone 1, and the same at 2 keeps the plural."""
    import re
    import string

    assert i18n.count(1, "account") == "1 account" and i18n.count(2, "account") == "2 accounts"
    assert i18n.count(0, "account") == "0 accounts" and i18n.count(12_345, "row") == "12,345 rows"
    assert i18n.count("1", "reply", "replies") == "1 reply" and i18n.count(1.0, "day") == "1.0 days"
    assert i18n.count(1.5, "day") == "1.5 days" and i18n.count(True, "day") == "True days"
    assert i18n.t("run.days", "en", n=1) == "1 day" and i18n.t("run.days", "ja", n=1) == "1日"
    assert i18n.t("run.days", "en", n=1_000) == "1,000 days"
    assert i18n.t("sum.risk", "en", h=90, exp="$1", lo="$0", hi="$2", share="1%", acc=0.8).endswith("about 1 account.")
    nouns = ("accounts", "customers", "answers", "days", "months", "rows", "plays", "personas", "metrics", "labels",
             "users", "events", "tickets", "touches", "folds", "account-months", "account-dates", "promoters",
             "points", "percentage points", "outreaches", "detractors", "NPS answers", "answering accounts",
             "bootstrap refits", "out-of-time dates", "held-out accounts", "comparison accounts", "recommended plays",
             "must-act accounts", "user personas", "other users", "matured labels", "panel rows", "training rows",
             "accounts/rows")
    one = re.compile(r"(?<![\d.,])\b1\**\s(?:" + "|".join(map(re.escape, nouns)) + r")\b(?![-/])")
    wrong, checked = [], 0
    for key, text in i18n.catalogue().items():
        fields = {name for lang in ("en", "ja") for _, name, _, _ in string.Formatter().parse(text[lang]) if name}
        if not fields:
            continue
        try:
            rendered = {n: i18n.t(key, "en", **dict.fromkeys(fields, n)) for n in (1, 2)}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            continue  # a field that is no number (a date's format, a mapping)
        checked += 1
        if one.search(rendered[1]) and key != "effects.among":  # its {band} is a band's name, no count
            wrong.append((key, rendered[1]))
        assert "|" not in i18n.t(key, "ja", **dict.fromkeys(fields, 1)) or "|" in text["ja"].replace("{", ""), key
    assert checked > 300 and not wrong, wrong[:5]
    # the forms are whole phrases, so that a verb agrees
    assert i18n.t("effects.summary.too_few", "en", n=1).startswith("**What works:** 1 play is logged, but")
    assert i18n.t("effects.summary.too_few", "en", n=3).startswith("**What works:** 3 plays are logged, but")
    assert i18n.t("effects.summary.too_few", "ja", n=1) == i18n.catalogue()["effects.summary.too_few"]["ja"].format(n=1)


def test_points_bold_counts_and_verbs_after_a_count_read_right_for_one_and_for_many():
    """Sentences the catalogue had left with one English form: "+1 points" (a driver, an alert's change), "about 1
    percentage points", "1 were customers before the data begin", "1 of 5 metrics are past 0.25", "1 of the 3 rows
    kept are exact copies", "of the 1 answering accounts". Each reads right at 1 and at 2; a signed count is a
    count ("-1 point"), a decimal one plural ("+1.5 points", "1.0 points"), and a bold number keeps its noun."""
    t = i18n.t
    assert t("health.driver_category", "en", label="plan = Basic", points=-1) == "plan = Basic: -1 point"
    assert t("health.driver_category", "en", label="plan = Basic", points=-1.4) == "plan = Basic: -1 point"
    assert t("health.driver_category", "en", label="plan = Basic", points=2) == "plan = Basic: +2 points"
    assert t("delivery.score_alert", "en", name="A1", before="60", after="59", change="-1", into_red="") \
        == "A1: score 60 → 59 (-1 point)"
    assert t("delivery.score_alert", "en", name="A1", before="60", after="45", change="-15", into_red="") \
        == "A1: score 60 → 45 (-15 points)"
    assert t("unit.points", "en", value="1") == "1 point" and t("unit.points", "en", value="1.5") == "1.5 points"
    assert t("hs.pair_item", "en", name="a × b", points="1.0") == "a × b (1.0 points)"
    assert t("effects.size_basis", "en", points="1", power="80%").startswith(
        "Accounts needed to detect a fall in churn of 1 percentage point, with")
    assert t("sum.alerts", "en", n=1, drop=1.0, prev="1 Mar 2025") \
        == "1 account lost more than 1 point or moved into red since 1 Mar 2025."
    surv = dict(date="1 Mar 2025", accounts=10, churned=2, since="1 Jan 2024")
    assert " · 1 was a customer before the data begin (1 Jan 2024): " in t("surv.header", "en", truncated=1, **surv)
    assert " · 3 were customers before the data begin (1 Jan 2024): " in t("surv.header", "en", truncated=3, **surv)
    keep = dict(psi="0.05", threshold="0.25", age=3, max_age="90 days")
    assert "; of 5 metrics, 1 is past 0.25, unlike" in t("monitoring.keep", "en", over=1, n=5, **keep)
    assert "; of 5 metrics, 2 are past 0.25, unlike" in t("monitoring.keep", "en", over=2, n=5, **keep)
    assert "; of 1 metric, 0 are past 0.25" in t("monitoring.keep", "en", over=0, n=1, **keep)
    copies = dict(table="events", share="14%", example="x")
    assert t("ingest.warn.exact_copies", "en", copies=1, kept=7, **copies).startswith(
        "events: of the 7 rows kept, 1 is an exact copy of an earlier row (14%), every column the same")
    assert t("ingest.warn.exact_copies", "en", copies=2, kept=7, **copies).startswith(
        "events: of the 7 rows kept, 2 are exact copies of an earlier row (14%)")
    sample = {n: t("voc.drivers_sample", "en", m=1, n=n) for n in (1, 4000)}
    assert "a random sample of **1** of the 1 answering account (" in sample[1]
    assert "a random sample of **1** of the 4,000 answering accounts (" in sample[4000]
    assert i18n._FORMATTER.format("{n:,:**#** account|**#** accounts}", n=1) == "**1** account"
    assert i18n._FORMATTER.format("{n:,:**#** account|**#** accounts}", n=1234) == "**1,234** accounts"
    # Japanese has one form: its sentences are as they were
    assert t("surv.header", "ja", truncated=1, **surv) == i18n.catalogue()["surv.header"]["ja"].format(truncated=1,
                                                                                                       **surv)

