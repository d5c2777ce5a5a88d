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
                               "（b: 同時に観察できる社数が10社に達しません）")
    assert pickle.loads(pickle.dumps(why)).text("ja") == text(why, "ja")  # through the stage's worker processes


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
