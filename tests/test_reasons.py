"""Reasons for what could not be computed, in every language of the reports (engage_models._core.reasons)."""

from __future__ import annotations

import pickle
import string

import pytest

from engage_models._core.errors import InsufficientData
from engage_models._core.i18n import catalogue, t
from engage_models._core.reasons import Thin, Why, reason_of, stage_name, stored, text, texts
from engage_models.pipeline.store import Store


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_reason_says_the_same_values_in_both_languages():
    """A placeholder in one language and not the other would raise (KeyError) or drop a number from the sentence."""
    keys = [k for k in catalogue() if k.startswith(("reason.", "pj.why."))]
    assert len(keys) > 40
    for key in keys:
        en, ja = catalogue()[key]["en"], catalogue()[key]["ja"]
        assert _fields(en) == _fields(ja), key
        values = {name: 7 for name in _fields(en)}
        assert t(key, "en", **values) and t(key, "ja", **values), key


def test_a_why_is_its_english_and_knows_its_japanese_through_nesting_and_pickling():
    inner = Why("reason.no_matured_labels", days=90)
    outer = Why("reason.stage_not_computed_why", stage=stage_name("health"), why=inner)
    assert inner == ("no observation date has a matured label with both churned and retained accounts: the health "
                     "score needs more than 90 days of history with churn")
    assert outer == f"the health stage was not computed ({inner})"
    assert outer.text("ja") == f"「ヘルススコア」は計算されませんでした（{inner.text('ja')}）"
    assert "90日" in inner.text("ja")
    back = pickle.loads(pickle.dumps(outer))  # joblib's workers send their errors back pickled
    assert back == outer and back.text("ja") == outer.text("ja")
    kept = Why.of(outer.all())  # as read back from a manifest
    assert kept == outer and kept.text("ja") == outer.text("ja") and stored(str(outer), outer.all()) == outer


def test_thin_data_raised_with_a_key_is_insufficient_data_with_the_english_message():
    with pytest.raises(InsufficientData, match="^no account is a customer at the observation date$") as info:
        raise Thin("reason.no_customer")
    assert reason_of(info.value).text("ja") == "観測日に契約中の顧客がいません"
    back = pickle.loads(pickle.dumps(info.value))
    assert isinstance(back, InsufficientData) and str(back) == str(info.value)
    assert reason_of(InsufficientData("plain words")) == "plain words" and texts("plain words") is None
    assert Thin.of("plain words").args == ("plain words",)


def test_a_stage_keeps_a_reason_in_every_language_and_says_an_english_one_is_english(tmp_path):
    store = Store(tmp_path)
    with store.write("kpis", "k1", {"params": {}}) as out:
        out.skip("summary", Thin("reason.no_headline_month"))
        out.skip("trend", Why("reason.no_nps"))
        out.skip("other", "a library said no")
    art = store.get("kpis", "k1")
    assert art.reason("summary") == str(Why("reason.no_headline_month"))
    assert art.reason("summary", "ja") == t("reason.no_headline_month", "ja")
    assert art.reason("trend", "ja") == "観測日より前のNPS回答がありません"
    assert art.reason("other") == "a library said no"
    assert art.reason("other", "ja") == "詳細（英語）：a library said no" == text("a library said no", "ja")
    assert art.reason("computed", "ja") is None
    assert [s.as_dict().get("texts") is not None for s in art.skipped] == [True, True, False]


def test_survival_and_scoring_reasons_are_said_in_japanese_with_the_english_unchanged():
    """Reasons of thin survival data (cross-validation folds, Kaplan-Meier groups) reach a Japanese report in
    Japanese; their English is what it was (the thin-world tests and the README quote it)."""
    import pandas as pd

    from engage_models.survival import KaplanMeierGroups
    from engage_models.survival.evaluation import n_folds

    with pytest.raises(InsufficientData) as err:
        n_folds(3, 5)
    why = reason_of(err.value)
    assert why == "cross-validation needs at least 4 churn events (2 per fold, 2 folds); the accounts have 3"
    assert text(why, "ja") == t("reason.cv_few_events", "ja", n=3) and "3件" in text(why, "ja")

    # two accounts that leave before three others enter: never 10 at risk at once (see test_thin_worlds)
    small = pd.DataFrame({"duration": [1.0, 2.0, 6.0, 7.0, 8.0], "event": [1, 1, 1, 1, 0],
                          "entry": [0.0, 0.0, 5.0, 5.0, 5.0], "g": "b"})
    with pytest.raises(InsufficientData) as err:
        KaplanMeierGroups("g", min_accounts=1).fit(small)
    why = reason_of(err.value)
    assert why == ("Kaplan-Meier curves by g: no group has enough accounts at risk "
                   "(b: never 10 accounts at risk at once)")
    assert text(why, "ja") == ("g別のカプラン・マイヤー曲線：リスク集合の社数が足りるグループがありません"
                               "（b：同時に観察できる社数が10社に達しません）")
    with pytest.raises(InsufficientData) as err:  # the whole population's curve: its key "all" showed
        KaplanMeierGroups(None, min_accounts=1).fit(small)
    assert reason_of(err.value).endswith("(all accounts: never 10 accounts at risk at once)")
    assert text(reason_of(err.value), "ja").endswith("（全顧客：同時に観察できる社数が10社に達しません）")
    assert pickle.loads(pickle.dumps(why)).text("ja") == text(why, "ja")  # through the stage's worker processes
    # a grouping column the catalogue names is said by its name (a reason read "by nps_category" in Japanese too)
    with pytest.raises(InsufficientData) as err:
        KaplanMeierGroups("nps_category", min_accounts=1).fit(small.rename(columns={"g": "nps_category"}))
    why = reason_of(err.value)
    assert why.startswith("Kaplan-Meier curves by NPS category at first answer: ")
    assert text(why, "ja").startswith("初回回答時のNPS区分別のカプラン・マイヤー曲線")


def test_a_panel_without_a_date_at_risk_is_said_in_japanese():
    """Three months of data: the time-varying models have no panel date at risk. The reason reached a Japanese
    report in English ("詳細（英語）：time-varying Cox model: the engagement panel has no observation date...")."""
    import pandas as pd

    from engage_models.survival import TimeVaryingCox

    empty = pd.DataFrame(columns=["account_id", "start", "stop", "event", "x"])
    empty.attrs["why_empty"] = {"date": "2026-03-31", "rows": 12}
    with pytest.raises(InsufficientData) as err:
        TimeVaryingCox(covariates=["x"]).fit(empty)
    why = reason_of(err.value)
    assert str(why).startswith("time-varying Cox model: the engagement panel has no observation date on which an "
                               "account was at risk before 2026-03-31 (12 panel rows)")
    assert text(why, "ja").startswith("時間依存Coxモデル：エンゲージメントのパネルに、2026-03-31より前で")
    assert "12行" in text(why, "ja")


def _literal_sections() -> set[str]:
    """Every section name the package's stages skip or compute by a literal name (``out.skip("x", ...)``,
    ``ctx.section("x", ...)``, ``ctx.section(("x", "y"), ...)``)."""
    import re
    from pathlib import Path

    import engage_models

    names: set[str] = set()
    for path in Path(engage_models.__file__).parent.rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"""\.skip\(\s*"([a-z_]+)\"""", src))
        names |= set(re.findall(r"""\.section\(\s*"([a-z_]+)\"""", src))
        for group in re.findall(r"""\.section\(\s*\(([^)]*)\)""", src):
            names |= set(re.findall(r'"([a-z_]+)"', group))
    return names


def test_every_section_a_stage_can_leave_out_is_named_in_words_in_both_languages():
    """The index lists what was not computed by stage and section: a Japanese reader saw ``nps_wave_change``."""
    from engage_models._core.reasons import section_label, section_name

    names = _literal_sections()
    assert {"nps_wave_change", "km_band", "persona_moves", "oot_panel", "backtest_metrics"} <= names
    unlabelled = sorted(n for n in names if f"section.{n}" not in catalogue())
    assert not unlabelled, unlabelled
    for name in names:
        assert section_label(name, "ja") != name and section_label(name, "en"), name
    assert section_label("nps_wave_change", "ja") == "調査回ごとのNPSの変化"
    # names made per milestone or per model: the milestone's label, or the feature's name in it
    assert section_label("km_first_export") == "retention by first export"
    assert section_label("km_naive_first_export", "ja") == "初回エクスポートの有無別の継続率（単純な比較）"
    assert section_label("km_first_use_api") == "retention by first use of api"
    assert "「api」の初回利用" in section_label("km_first_use_api", "ja")  # a data value, quoted in the Japanese
    assert section_label("backtest_shape") == "backtest of shape"
    assert section_label("km_") == "km_"
    assert section_label("made_up_section", "ja") == "made_up_section"  # shown as it is, not as a key
    name = section_name("scores")
    assert name == "health scores" and name.text("ja") == "ヘルススコア"
    why = Why("reason.section_not_computed", stage=stage_name("health"), section=name)
    assert why == "the health stage did not compute health scores"
    assert why.text("ja") == "「ヘルススコア」はヘルススコアを計算しませんでした"


def test_the_index_names_what_was_not_computed_in_the_run_language():
    from engage_models.reports.runner import _run_section

    run = {"run_date": "2025-07-02", "started": "2025-07-02T01:00:00", "reports": [], "parameters": {"lang": "ja"},
           "skipped": [{"stage": "surveys", "section": "nps_wave_change", "reason": "only one survey period",
                        "texts": None},
                       {"stage": "actions", "section": "*", "reason": "needs health", "texts": None}]}
    page = _run_section(run, "", "ja")
    assert "顧客の声・調査回ごとのNPSの変化：詳細（英語）：only one survey period" in page
    assert "アクション：詳細（英語）：needs health" in page and "*" not in page
    assert "nps_wave_change" not in page
    # the sections of a stage left out for one reason are one line, in their order
    few = {"stage": "personas", "reason": "8 accounts; personas need 30", "texts": None}
    grouped = _run_section({**run, "skipped": [{**few, "section": "personas"}, {**few, "section": "persona_table"},
                                               {**run["skipped"][0]}]}, "", "en")
    assert "<li>Personas and journeys, account personas, persona table: 8 accounts; personas need 30</li>" in grouped
    assert grouped.count("<li>") == 2
    english = _run_section({**run, "parameters": {"lang": "en"}}, "", "en")
    assert "Voice of the customer, NPS change between survey waves: only one survey period" in english
    assert "Actions: needs health" in english


def test_a_report_gives_a_long_reason_once_and_points_back_to_it():
    """A world without a health score: the executive summary said the same long reason eight times, bare and
    wrapped ("needs health (...)", "the effects stage was not computed (needs health (...))"). Now the report says
    it once; repeated it reads "the reason given above", quoted inside another it reads "see above"."""
    from engage_models.reports.render import missing_text, opening

    root = Why("reason.stage_not_computed", stage=stage_name("health"))  # any reason of 30 characters or more
    needs = Why("reason.stage_not_computed_why", stage=stage_name("actions"), why=root)
    deeper = Why("reason.stage_not_computed_why", stage=stage_name("effects"), why=needs)
    reasons = {("health", "scores"): root, ("actions", None): needs, ("effects", "x"): deeper,
               ("survival", "km"): Why("pj.why.few_accounts", n=12, days=90, need=30)}

    class FakeRun:
        def __init__(self, lang):
            self.lang = lang

        def reason(self, stage, name=None, lang="en"):
            return text(reasons[stage, name], lang)

    for lang in ("en", "ja"):
        run = FakeRun(lang)
        said = [missing_text(run, *k) for k in (("health", "scores"), ("health", "scores"), ("actions", None),
                                               ("effects", "x"), ("survival", "km"))]
        full = [t("section.missing", lang, reason=text(reasons[k], lang)) for k in reasons]

        def see(why, lang=lang):  # the pointer quotes the first words of the reason it points to
            return t("section.see_above", lang, start=opening(text(why, lang)))

        assert said[0] == full[0]  # the first time, whole
        assert said[1] == t("section.missing", lang, reason=t("section.same_reason", lang,
                                                              start=opening(text(root, lang))))
        assert said[2] == t("section.missing", lang, reason=text(needs, lang).replace(text(root, lang), see(root)))
        assert said[3] == t("section.missing", lang, reason=text(deeper, lang).replace(text(needs, lang), see(needs)))
        assert opening(text(root, lang)).endswith("…") and text(root, lang).startswith(opening(text(root, lang))[:-1])
        assert said[4] == full[3]  # another reason: whole
        assert sum(text(root, lang) in s for s in said) == 1
    fresh = FakeRun("en")  # another report: whole again
    assert missing_text(fresh, "health", "scores") == t("section.missing", "en", reason=text(root, "en"))
