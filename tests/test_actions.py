"""Touch models, lifecycle stages, plays and the action export, on hand-made scored accounts."""

from __future__ import annotations

import copy
import csv
import io

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml

from engage_models import actions as A

matplotlib.use("Agg")

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")


def account(**kw) -> dict:
    """A healthy, unremarkable, established tech-touch account; keyword arguments change it."""
    base = dict(account_id="acc", as_of=AS_OF, segment="SMB", plan="Pro", mrr=300.0, seats=20, tenure_days=400,
                score=70.0, band="yellow", churn_probability=0.10, ltv=np.nan, drivers=[],
                active_user_ratio_28d=0.70, feature_breadth_28d=0.60, tickets_28d=0, tickets_90d=0, open_tickets=0,
                nps_latest=8.0, community_posts_90d=0, events_attended_90d=0, logins_pct_change=0.0,
                active_users_pct_change=0.0, usage_hours_pct_change=0.0, days_since_last_activity=1,
                mrr_change_90d=0.0)
    base.update(kw)
    return base


def frame(*rows: dict) -> pd.DataFrame:
    """Rows as a scored-accounts frame; accounts left with the default id are named a0, a1, ... by position."""
    df = pd.DataFrame(list(rows))
    default = (df["account_id"] == "acc").to_numpy()
    df.loc[default, "account_id"] = [f"a{i}" for i in np.flatnonzero(default)]
    return df


def driver(metric: str, value: float, typical: float, points: float) -> dict:
    return {"metric": metric, "value": value, "typical": typical, "points": points}


def plays(*rows: dict, lang: str = "en") -> pd.DataFrame:
    return A.choose_play(A.prepare(frame(*rows)), lang=lang)


# --------------------------------------------------------------------------------------------- touch model
@pytest.mark.parametrize("changes, expected", [
    ({"mrr": 2500.0}, "high_touch"),
    ({"mrr": 300.0, "ltv": 70000.0}, "high_touch"),                 # value by expected lifetime
    ({"mrr": 900.0, "score": 30.0}, "high_touch"),                   # mid value in trouble gets a person
    ({"mrr": 900.0, "score": 45.0}, "low_touch"),
    ({"mrr": 300.0, "community_posts_90d": 2, "events_attended_90d": 1}, "community_touch"),
    ({"mrr": 300.0, "community_posts_90d": 2}, "tech_touch"),        # 2 < 3: not enough community activity
    ({"mrr": 1999.0}, "low_touch"),                                   # just under the high-touch line
    ({"mrr": 600.0, "ltv": np.nan}, "low_touch"),                     # a missing LTV does not count
    ({"mrr": 100.0}, "tech_touch"),
])
def test_touch_model_from_value_and_engagement(changes, expected):
    out = A.assign_touch_model(A.prepare(frame(account(**changes))))
    assert out["touch_model"].tolist() == [expected]


def test_touch_rules_are_rendered_in_both_languages():
    en = A.describe_touch_models(lang="en")
    ja = A.describe_touch_models(lang="ja")
    assert en["condition"].iloc[0] == "MRR ≥ $2,000" and en["touch_model"].iloc[0] == "high-touch"
    assert en["condition"].iloc[2] == "MRR ≥ $800 and health score < 40"
    assert en["condition"].iloc[-1] == "otherwise"
    assert ja["touch_model"].iloc[0] == "ハイタッチ" and "ヘルススコア < 40" in ja["condition"].iloc[2]
    assert ja["condition"].iloc[-1] == "上記以外"
    text = A.describe_rules(lang="ja")
    assert "コミュニティタッチ" in text and "解約リスク" in text and "利用者を増やすためのトレーニング" in text


# ---------------------------------------------------------------------------------------------- lifecycle
@pytest.mark.parametrize("changes, expected", [
    ({"tenure_days": 30}, "onboarding"),
    ({"tenure_days": 30, "band": "red", "score": 20.0}, "onboarding"),  # precedence: new beats red
    ({"tenure_days": 400, "onboarding_completed": False}, "onboarding"),
    ({"tenure_days": 400, "onboarding_completed": True}, "mature"),
    ({"band": "red", "score": 25.0}, "at_risk"),
    ({"band": "red", "score": 25.0, "active_user_ratio_28d": 0.95}, "at_risk"),  # red beats seats in use
    ({"band": "green", "score": 85.0, "active_user_ratio_28d": 0.95}, "expansion"),
    ({"band": "green", "score": 85.0, "active_users_pct_change": 30.0}, "expansion"),
    ({"band": "green", "score": 85.0, "active_users_pct_change": 30.0, "mrr_change_90d": -50.0}, "mature"),
    ({"band": "yellow", "active_user_ratio_28d": 0.95}, "mature"),      # seats in use but not healthy
    ({"band": "green", "score": 85.0, "active_user_ratio_28d": 0.85}, "mature"),
    ({"tenure_days": 200}, "adoption"),
    ({"tenure_days": 500}, "mature"),
])
def test_lifecycle_stage(changes, expected):
    out = A.assign_stage(A.prepare(frame(account(**changes))))
    assert out["stage"].tolist() == [expected]


def test_a_sharp_score_drop_makes_an_account_at_risk():
    before = account(as_of=AS_OF - pd.Timedelta(days=30), score=80.0, band="green")
    df = pd.concat([frame(before), frame(account(score=62.0, band="yellow")),     # fell 18 points
                    frame(before).assign(account_id="b"), frame(account(score=70.0, band="yellow"))
                    .assign(account_id="b")])                                       # fell 10 points
    out = A.action_list(df)
    assert out.set_index("account_id").loc[["a0", "b"], "stage"].tolist() == ["at_risk", "mature"]
    assert out.set_index("account_id").loc["a0", "score_change"] == -18.0


# --------------------------------------------------------------------------------------------------- plays
AUR = "active_user_ratio_28d"
PLAY_CASES = {
    # play id: (an account that meets the rule, a near miss that does not)
    "onboarding_call": (account(tenure_days=30, active_user_ratio_28d=0.2),
                        account(tenure_days=30, active_user_ratio_28d=0.8)),
    "expansion_conversation": (account(band="green", score=88.0, active_user_ratio_28d=0.95),
                               account(band="green", score=88.0, active_user_ratio_28d=0.85)),
    "training_session": (account(active_user_ratio_28d=0.21, drivers=[driver(AUR, 0.21, 0.65, -8.2)]),
                         account(active_user_ratio_28d=0.60, drivers=[driver(AUR, 0.60, 0.65, -2.5)])),
    "support_review": (account(tickets_28d=6, tickets_90d=7, drivers=[driver("tickets_28d", 6, 1, -7.0)]),
                       account(tickets_28d=6, tickets_90d=30, drivers=[driver("tickets_28d", 6, 1, -7.0)])),
    "executive_call": (account(mrr=3000.0, nps_latest=3.0, drivers=[driver("nps_latest", 3, 8, -6.0)]),
                       account(mrr=300.0, nps_latest=3.0, drivers=[driver("nps_latest", 3, 8, -6.0)])),
    "detractor_follow_up": (account(nps_latest=4.0, drivers=[driver("nps_latest", 4, 8, -5.0)]),
                            account(nps_latest=7.0, drivers=[driver("nps_latest", 7, 8, -2.0)])),
    "tutorial_content": (account(feature_breadth_28d=0.2, drivers=[driver("feature_breadth_28d", 0.2, 0.6, -6.0)]),
                         account(feature_breadth_28d=0.5, drivers=[driver("feature_breadth_28d", 0.5, 0.6, -2.0)])),
    "re_engagement": (account(days_since_last_activity=20,
                              drivers=[driver("days_since_last_activity", 20, 1, -9.0)]),
                      account(days_since_last_activity=5,
                              drivers=[driver("days_since_last_activity", 5, 1, -2.0)])),
    "community_invite": (account(drivers=[driver("community_posts_90d", 0, 2, -3.0)]),
                         account(community_posts_90d=2, drivers=[driver("community_posts_90d", 2, 3, -2.0)])),
    "rescue_call": (account(band="red", score=30.0), account(band="yellow", score=55.0)),
    "onboarding_guide": (account(tenure_days=30), account(tenure_days=120)),
    "advocacy_invite": (account(band="green", score=82.0, nps_latest=10.0),
                        account(band="green", score=82.0, nps_latest=8.0)),
    "usage_tips": (account(), account(band="red", score=30.0)),
}


def test_every_play_of_the_default_playbook_is_tested():
    assert set(PLAY_CASES) == {p.id for p in A.load_playbook().all_plays}


@pytest.mark.parametrize("play_id", sorted(PLAY_CASES))
def test_each_play_fires_on_an_account_that_meets_it_and_not_on_a_near_miss(play_id):
    meets, misses = PLAY_CASES[play_id]
    out = plays(meets, misses)
    assert out["play"].iloc[0] == play_id, out[["play", "stage", "touch_model", "reason"]]
    assert out["play"].iloc[1] != play_id, out[["play", "stage", "touch_model", "reason"]]
    assert all(out["reason"].str.len() > 0) and all(out["owner"].isin(A.OWNERS))


def test_the_reason_quotes_the_driver_numbers_in_both_languages():
    row = account(active_user_ratio_28d=0.21, drivers=[driver(AUR, 0.21, 0.65, -8.2)])
    en, ja = plays(row)["reason"].iloc[0], plays(row, lang="ja")["reason"].iloc[0]
    assert en == "Few of the seats are in use: active users / seats (28 days) 0.21, typical healthy 0.65 (-8 points)"
    assert ja == ("契約席のうち利用されているのは一部です："
                  "アクティブユーザー率（28日） 0.21（健全な顧客の典型値 0.65、-8点）")
    assert plays(row, lang="ja")["play_label"].iloc[0] == "利用者を増やすためのトレーニング"


def test_situation_plays_quote_their_conditions():
    out = plays(account(tenure_days=30, active_user_ratio_28d=0.2, days_since_last_activity=3))
    assert out["reason"].iloc[0] == ("Onboarding has stalled: active users / seats (28 days) 0.20; "
                                     "health score 70")
    rescue = plays(account(band="red", score=30.0))["reason"].iloc[0]
    assert rescue == "At risk without a single clear cause: band red; health score 30"


def test_the_worst_driver_decides_and_small_or_distant_drivers_do_not():
    tickets = driver("tickets_28d", 6, 1, -3.0)
    users = driver(AUR, 0.2, 0.65, -9.0)
    base = dict(active_user_ratio_28d=0.2, tickets_28d=6, tickets_90d=7)
    assert plays(account(**base, drivers=[tickets, users]))["play"].iloc[0] == "training_session"  # unsorted input
    assert plays(account(**base, drivers=[driver(AUR, 0.2, 0.65, -1.0), tickets]))["play"].iloc[0] == "support_review"
    # only the playbook's top 3 drivers count: the ticket driver is 4th here
    others = [driver("logins_28d", 1, 40, -8.0), driver("exports_28d", 0, 9, -7.0), driver("dau_mau", 0.1, 0.3, -5.0)]
    out = plays(account(**{**base, "active_user_ratio_28d": 0.7}, drivers=[*others, tickets]))
    assert out["play"].iloc[0] == "usage_tips"


def test_drivers_as_the_health_model_names_them_are_understood():
    """The health model's drivers carry ``feature`` (design names: ``__missing`` flags, ``col=level``)."""
    nps_missing = {"feature": "nps_latest__missing", "label": "x", "value": None, "typical": 8.0, "points": -5.0}
    aur = {"feature": AUR, "label": "x", "value": 0.2, "typical": 0.65, "points": -4.0}
    out = plays(account(nps_latest=3.0, drivers=[nps_missing]), account(active_user_ratio_28d=0.2, drivers=[aur]))
    assert out["play"].tolist() == ["detractor_follow_up", "training_session"]
    assert out["driver"].tolist() == ["nps_latest", AUR]
    assert "latest NPS rating (0-10) not known, typical healthy 8.0 (-5 points)" in out["reason"].iloc[0]
    assert A.driver_metric({"feature": "segment=SMB"}) == "segment"


def test_the_owner_follows_the_touch_model():
    row = dict(active_user_ratio_28d=0.2, drivers=[driver(AUR, 0.2, 0.65, -8.0)])
    out = plays(account(mrr=3000.0, **row), account(mrr=100.0, **row), account(mrr=100.0, community_posts_90d=5, **row))
    assert out["touch_model"].tolist() == ["high_touch", "tech_touch", "community_touch"]
    assert out["play"].eq("training_session").all()
    assert out["owner"].tolist() == ["csm", "marketing_automation", "community_manager"]


# ------------------------------------------------------------------------------------------------ playbook
def _default() -> dict:
    return yaml.safe_load(A.DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))


def _write(tmp_path, data) -> str:
    path = tmp_path / "my_playbook.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True) if not isinstance(data, str) else data,
                    encoding="utf-8")
    return str(path)


def _mutate(fn):
    data = copy.deepcopy(_default())
    fn(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d["plays"]["drivers"][1].update(owner="suport"),
     r"plays\.drivers\[1\] \(support_review\): unknown owner 'suport'"),
    (lambda d: d["plays"]["drivers"][0].update(when=["active_user_ratio_29d < 0.5"]),
     r"plays\.drivers\[0\] \(training_session\): condition 'active_user_ratio_29d < 0.5' uses unknown column"),
    (lambda d: d["touch_models"][0].update(when=["mrr => 2000"]),
     r"touch_models\[0\]\.when\[0\]: cannot read condition 'mrr => 2000'"),
    (lambda d: d["stages"][2].update(when=["band > red"]),
     r"stages\[2\]\.when\[0\]: condition 'band > red' compares with > a value that is not a number"),
    (lambda d: d["touch_models"].pop(),
     r"touch_models\[4\]: the last rule must have no condition"),
    (lambda d: d["stages"][0].update(stage="onbording"),
     r"stages\[0\]: unknown stage 'onbording'"),
    (lambda d: d["plays"]["fallback"][0]["label"].pop("ja"),
     r"plays\.fallback\[0\] \(rescue_call\): 'label' needs a text in each language"),
    (lambda d: d["plays"]["situation"][0].update(driver=["tickets_28d"]),
     r"plays\.situation\[0\] \(onboarding_call\): only plays under plays\.drivers name a 'driver'"),
    (lambda d: d["plays"]["drivers"][2].pop("driver"),
     r"plays\.drivers\[2\] \(executive_call\): a play under plays\.drivers needs 'driver'"),
    (lambda d: d["plays"]["fallback"].pop(),
     r"plays\.fallback\[2\] \(advocacy_invite\): the last fallback play must have no"),
    (lambda d: d["plays"]["drivers"][3].update(id="executive_call"),
     r"plays\.drivers\[3\] \(executive_call\): play id 'executive_call' is used twice"),
    (lambda d: d["plays"]["drivers"][0].update(owner_by_touch={"tech-touch": "csm"}),
     r"owner_by_touch names unknown touch model 'tech-touch'"),
    (lambda d: d["plays"]["drivers"][0].update(stage=["onboarding"]),
     r"plays\.drivers\[0\] \(training_session\): unknown key \['stage'\]; a play has "),
    (lambda d: d["plays"]["drivers"][0].update(stage=["onboarding"], touch=1),
     r"plays\.drivers\[0\] \(training_session\): unknown keys \['stage', 'touch'\]; a play has "),
    (lambda d: d["plays"]["drivers"][0].update(stages=["onbording"]),
     r"plays\.drivers\[0\] \(training_session\): unknown stage \['onbording'\]; choose from "),
    (lambda d: d["plays"]["drivers"][0].update(touch_models=["low", "mid"]),
     r"plays\.drivers\[0\] \(training_session\): unknown touch models \['low', 'mid'\]; choose from "),
    (lambda d: d.update(drivers={"top": 0}), r"drivers\.top: a whole number of drivers >= 1"),
    (lambda d: d.update(touchmodels=[]), r"unknown top-level key \['touchmodels'\]"),
])
def test_a_bad_playbook_entry_is_named_with_its_file(tmp_path, change, message):
    path = _write(tmp_path, _mutate(change))
    with pytest.raises(A.PlaybookError, match=message) as info:
        A.load_playbook(path)
    assert str(info.value).startswith(f"playbook {path}: ")


def test_unreadable_playbooks_say_which_file_and_where(tmp_path):
    with pytest.raises(A.PlaybookError, match=r"playbook .*nowhere\.yaml: cannot read it"):
        A.load_playbook(tmp_path / "nowhere.yaml")
    path = _write(tmp_path, "touch_models:\n  - {model: high_touch, when: [mrr >= 1\n")
    with pytest.raises(A.PlaybookError, match=r"my_playbook\.yaml: not valid YAML at line \d+, column \d+"):
        A.load_playbook(path)


def test_the_default_playbook_is_valid_and_a_users_own_playbook_changes_the_answer(tmp_path):
    assert A.load_playbook().source == str(A.DEFAULT_PLAYBOOK)

    def cheaper_high_touch(d):
        d["touch_models"][0]["when"] = ["mrr >= 250"]
        d["columns"] = ["uses_dashboards_28d"]
        d["plays"]["situation"].insert(0, {
            "id": "dashboard_demo", "label": {"en": "Dashboard demo", "ja": "ダッシュボードのデモ"},
            "why": {"en": "Dashboards unused", "ja": "ダッシュボードが未使用です"}, "owner": "csm",
            "when": ["uses_dashboards_28d == 0"]})

    path = _write(tmp_path, _mutate(cheaper_high_touch))
    df = A.prepare(frame(account(mrr=300.0, uses_dashboards_28d=0), account(mrr=200.0, uses_dashboards_28d=4)))
    default = A.choose_play(df)
    mine = A.choose_play(df, path)
    assert default["touch_model"].tolist() == ["tech_touch", "tech_touch"]
    assert mine["touch_model"].tolist() == ["high_touch", "tech_touch"]
    assert mine["play"].tolist() == ["dashboard_demo", "usage_tips"]
    assert mine["reason"].iloc[0] == "Dashboards unused: uses_dashboards_28d 0; health score 70"


def test_scored_accounts_without_required_columns_or_with_unknown_bands_are_refused():
    with pytest.raises(ValueError, match=r"lack column \['band'\]; expected"):  # not "column(s)"
        A.prepare(frame(account()).drop(columns="band"))
    with pytest.raises(ValueError, match=r"lack columns \['account_id', 'band'\]; expected"):
        A.prepare(frame(account()).drop(columns=["band", "account_id"]))
    with pytest.raises(ValueError, match=r"^unknown band \['amber'\]; bands are"):
        A.prepare(frame(account(band="amber")))
    with pytest.raises(ValueError, match=r"^unknown bands \['amber', 'blue'\]; bands are"):
        A.prepare(frame(account(band="amber"), account(band="blue")))


# -------------------------------------------------------------------------------------------- action list
def _scored_two_dates() -> pd.DataFrame:
    earlier = AS_OF - pd.Timedelta(days=31)
    rows = [
        account(account_id="r1", band="red", score=22.0, churn_probability=0.40, mrr=2600.0, ltv=52000.0,
                active_user_ratio_28d=0.21, drivers=[driver(AUR, 0.21, 0.65, -8.2)]),
        account(account_id="y1", score=58.0, churn_probability=0.12, nps_latest=3.0,
                drivers=[driver("nps_latest", 3.0, 8.0, -6.0)]),
        account(account_id="g1", band="green", score=86.0, churn_probability=0.02, tenure_days=30),
        account(account_id="r2", band="red", score=30.0, churn_probability=0.55),
    ]
    old = [dict(r, as_of=earlier, score=r["score"] + 5) for r in rows]
    return pd.DataFrame(old + rows)


def test_action_list_is_the_latest_date_red_first_with_every_export_column():
    out = A.action_list(_scored_two_dates())
    assert list(out.columns[: len(A.EXPORT_COLUMNS)]) == list(A.EXPORT_COLUMNS)
    assert out["as_of"].eq(AS_OF).all() and len(out) == 4
    assert out["account_id"].tolist() == ["r2", "r1", "y1", "g1"]  # red by churn probability, then yellow, green
    assert out.set_index("account_id")["play"].to_dict() == {
        "r2": "rescue_call", "r1": "training_session", "y1": "detractor_follow_up", "g1": "onboarding_guide"}
    assert out.set_index("account_id").loc["r1", "owner"] == "csm"  # high-touch by MRR
    assert out["score_change"].eq(-5.0).all()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_action_export_round_trips_through_csv_and_parquet(tmp_path, lang):
    actions = A.action_list(_scored_two_dates(), lang=lang)
    paths = A.export_actions(actions, tmp_path / "crm" / "actions")
    assert paths == {"csv": tmp_path / "crm" / "actions.csv", "parquet": tmp_path / "crm" / "actions.parquet"}
    expected = actions[list(A.EXPORT_COLUMNS)]
    assert expected["ltv"].isna().any() and expected["driver"].eq("").any()  # empty values survive too
    for path in paths.values():
        pd.testing.assert_frame_equal(A.read_actions(path), expected)
    raw = paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Japanese reasons as UTF-8
    assert b"2025-06-01," in raw and b"00:00" not in raw
    if lang == "ja":
        assert "健全な顧客の典型値".encode() in raw


@pytest.mark.filterwarnings("error::FutureWarning")
def test_a_number_column_empty_on_every_row_reads_back_as_missing_floats(tmp_path):
    """No LTV known for any account: the CSV column is all empty cells and reads back as float NaN, as the
    Parquet does (pandas' replace("", nan) warned here that it would stop downcasting the column)."""
    actions = A.action_list(_scored_two_dates())
    actions["ltv"] = float("nan")
    paths = A.export_actions(actions, tmp_path / "actions")
    for path in paths.values():
        back = A.read_actions(path)
        assert back["ltv"].dtype == "float64" and back["ltv"].isna().all()
        pd.testing.assert_frame_equal(back, actions[list(A.EXPORT_COLUMNS)])


def test_an_account_id_that_is_a_formula_is_written_as_text_and_read_back_equal(tmp_path):
    """OWASP CSV injection: the spreadsheet must see text, read_actions the value as it was."""
    ids = {"r1": '=HYPERLINK("http://x","y")', "y1": "+1-2", "g1": "'quoted", "r2": "@SUM(A1)"}
    scored = _scored_two_dates()
    scored["account_id"] = scored["account_id"].map(ids)
    actions = A.action_list(scored)
    assert actions["score"].lt(0).sum() == 0 and actions["ltv"].notna().any()
    actions.loc[actions.index[0], "score"] = -3.5  # a negative number stays a number
    paths = A.export_actions(actions, tmp_path / "actions")
    rows = list(csv.reader(io.StringIO(paths["csv"].read_text(encoding="utf-8-sig"))))
    header, body = rows[0], rows[1:]
    cells = {r[header.index("account_id")] for r in body}
    assert cells == {"'" + '=HYPERLINK("http://x","y")', "'+1-2", "''quoted", "'@SUM(A1)"}
    assert "-3.5" in [r[header.index("score")] for r in body]  # not '-3.5: numbers are not text
    back = A.read_actions(paths["csv"])
    pd.testing.assert_frame_equal(back, actions[list(A.EXPORT_COLUMNS)])
    assert back.loc[0, "score"] == -3.5 and set(back["account_id"]) == set(ids.values())


def test_views_and_plots_in_japanese(japanese_figures):
    import matplotlib.pyplot as plt

    actions = A.action_list(_scored_two_dates(), lang="ja")
    view = A.actions_view(actions, "ja")
    assert view["band"].tolist()[:2] == ["危険", "危険"] and "解約リスク" in view["stage"].tolist()
    ax = A.plot_plays(actions, lang="ja")
    assert ax.get_xlabel() == "顧客数" and len(ax.get_yticklabels()) == actions["play"].nunique()
    for fig in map(plt.figure, plt.get_fignums()):
        fig.canvas.draw()  # a glyph missing from the fonts would warn here (the fixture fails the test)
    plt.close("all")


def test_amounts_in_rules_and_reasons_are_in_the_runs_currency():
    """A company whose MRR is in yen reads its playbook's thresholds and its action list's reasons in yen (report
    06 and the action list printed the bundled playbook's amounts as dollars whatever --currency said)."""
    assert A.describe_touch_models(lang="en", currency="JPY")["condition"].iloc[0] == "MRR ≥ ¥300,000"
    assert A.describe_touch_models(lang="ja", currency="JPY")["condition"].iloc[0].endswith("300,000円")
    assert "$" not in A.describe_rules(lang="en", currency="JPY")
    assert A.format_value("mrr", 1200.0, "en", "EUR") == "€1,200"
    for lang in ("en", "ja"):
        plan = A.action_list(_scored_two_dates(), lang=lang, holdout_seed=3, currency="JPY")
        rules = plan.attrs["holdout"]["must_act"][lang]
        assert any("300,000" in r for r in rules) and not any("$" in r for r in rules)
        assert not plan["reason"].str.contains("$", regex=False).any()
    usd = A.action_list(_scored_two_dates(), holdout_seed=3)
    assert any("$2,000" in r for r in usd.attrs["holdout"]["must_act"]["en"])  # the default is unchanged


def test_the_playbook_command_prints_amounts_in_the_currency_asked(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "engage_models", "playbook", "--currency", "jpy"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "MRR ≥ ¥300,000" in proc.stdout and "$" not in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "engage_models", "playbook", "--currency", "XYZ"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown currency 'XYZ'" in bad.stderr


def test_the_playbook_command_checks_a_file_and_shows_the_default(tmp_path):
    """`engage playbook` (the README's way to check an edited playbook) runs: it imported a module that no
    longer existed."""
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, "-m", "engage_models", "playbook", "--show-default"],
                           capture_output=True, text=True)
    assert shown.returncode == 0 and "touch_models:" in shown.stdout
    mine = tmp_path / "my_playbook.yaml"
    mine.write_text(shown.stdout, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "engage_models", "playbook", str(mine), "--lang", "ja"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "my_playbook.yaml: OK" in proc.stderr and "ハイタッチ" in proc.stdout
    mine.write_text(shown.stdout.replace("owner: csm", "owner: nobody", 1), encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "engage_models", "playbook", str(mine)], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "nobody" in bad.stderr


def _yen_accounts(n: int, top: float) -> pd.DataFrame:
    """``n`` scored accounts of one date, MRR from 30,000 to ``top`` (a yen company's)."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "as_of": pd.Timestamp("2026-01-31", tz="UTC"),
                         "segment": "SMB", "plan": "pro", "seats": 10, "score": rng.uniform(20, 90, n),
                         "band": "green", "churn_probability": 0.1, "mrr": rng.uniform(30_000, top, n),
                         "ltv": np.nan, "tenure_days": 400, "drivers": None})


def test_the_default_playbooks_amounts_are_read_in_the_runs_currency(tmp_path):
    """A yen company (MRR 30,000-250,000円) was all high-touch under the default playbook, whose amounts were
    dollars compared as yen. The default names its amounts per currency; a playbook of bare numbers compares them
    as written; an amount without the run's currency is an error naming it."""
    import yaml

    n = 200
    scored = _yen_accounts(n, 250_000)
    yen = A.assign_touch_model(A.prepare(scored), currency="JPY")["touch_model"]
    assert 0 < (yen == "high_touch").sum() < n * 0.5 and (yen == "tech_touch").sum() > 0
    assert (A.assign_touch_model(A.prepare(scored))["touch_model"] == "high_touch").all()  # read as dollars
    book = A.load_playbook()
    assert book.currency == "USD" and book.amounts["large_mrr"]["JPY"] == 300_000
    assert A.load_playbook(book, "JPY").touch_models[0].when[0].value == 300_000  # a loaded playbook, re-read
    data = yaml.safe_load(A.DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))
    bare = {**data, "touch_models": [{"model": "high_touch", "when": ["mrr >= 2000"]}, {"model": "tech_touch",
                                                                                       "when": []}]}
    path = tmp_path / "bare.yaml"
    path.write_text(yaml.safe_dump(bare, allow_unicode=True), encoding="utf-8")
    assert A.load_playbook(path, "JPY").touch_models[0].when[0].value == 2000
    short = {**data, "amounts": {**data["amounts"], "large_mrr": {"USD": 2000}}}
    path.write_text(yaml.safe_dump(short, allow_unicode=True), encoding="utf-8")
    with pytest.raises(A.PlaybookError, match=r"condition 'mrr >= large_mrr': amounts.large_mrr has no amount in "
                                              r"JPY \(it has USD\)"):
        A.load_playbook(path, "JPY")
    assert A.load_playbook(path, "USD").touch_models[0].when[0].value == 2000
    for amounts, said in (({"big": {"XYZ": 1}}, "unknown currency 'XYZ'"), ({"big": {"USD": -1}}, ">= 0"),
                          ({"1x": {"USD": 1}}, "is not a name"), ({"big": 5}, "amounts per currency")):
        with pytest.raises(A.PlaybookError, match=said):
            A.parse_playbook({**data, "amounts": amounts}, "p.yaml")


def test_a_playbook_keeps_the_currency_it_was_read_in_through_every_function(tmp_path):
    """A review's findings: a playbook object read in JPY was re-read in USD by the functions whose currency
    defaulted to USD; a named amount lost digits (1234567 -> 1.23457e+06); a currency given as its sign failed; a
    playbook with yen amounts only could not give its plays' labels."""
    import yaml

    from engage_models.effects.views import play_label

    n = 200
    scored = _yen_accounts(n, 600_000)
    book = A.load_playbook(currency="JPY")
    high = A.assign_touch_model(A.prepare(scored), book)["touch_model"].eq("high_touch").sum()
    assert 0 < high < n
    assert A.action_list(scored, book)["touch_model"].eq("high_touch").sum() == high
    assert A.choose_play(A.prepare(scored), book)["touch_model"].eq("high_touch").sum() == high
    assert A.describe_touch_models(book)["condition"].iloc[0] == "MRR ≥ ¥300,000"
    assert A.load_playbook(currency="¥").currency == "JPY"
    data = yaml.safe_load(A.DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))
    yen = {**data, "amounts": {k: {"JPY": v["JPY"] + 1234567} for k, v in data["amounts"].items()}}
    path = tmp_path / "yen.yaml"
    path.write_text(yaml.safe_dump(yen, allow_unicode=True), encoding="utf-8")
    only = A.load_playbook(path)  # no currency asked: the one its amounts have
    assert only.currency == "JPY" and only.touch_models[0].when[0].value == 300_000 + 1234567
    assert play_label("onboarding_call", "en", str(path)) == A.load_playbook().play("onboarding_call").label["en"]
    plain = A.parse_playbook({**data, "amounts": None, "touch_models": [{"model": "tech_touch", "when": []}],
                              "holdout": {"share": 0}})
    assert A.load_playbook(plain, "JPY").currency == "JPY"  # bare numbers, shown in the currency asked


def test_no_action_list_for_a_date_at_which_no_account_is_a_customer():
    """Every account had left by the run's date: the list was made for the last date with customers (rescue calls
    for churned accounts). Asked for the run's date, it is thin data, said in both languages."""
    from engage_models._core.errors import InsufficientData

    scored = pd.DataFrame({"account_id": ["a1", "a2"], "as_of": pd.Timestamp("2024-12-01", tz="UTC"), "mrr": 100.0,
                           "seats": 10, "tenure_days": 400, "score": 30.0, "band": "red", "churn_probability": 0.6,
                           "drivers": [[], []]})
    assert len(A.action_list(scored)) == 2  # no date asked: the latest scored
    with pytest.raises(InsufficientData) as info:
        A.action_list(scored, as_of="2025-01-01")
    assert str(info.value).startswith("no account is a customer on 1 Jan 2025 (the latest scores are of 1 Dec 2024)")
    assert info.value.why.text("ja").startswith("2025年1月1日時点で契約中の顧客がいません")
