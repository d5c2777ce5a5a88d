"""Score over time: history per account, band movement, alerts on a planted fall."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from engage_models.health import history as H

matplotlib.use("Agg")

DATES = pd.to_datetime(["2025-04-01", "2025-05-01", "2025-06-01"], utc=True)


def world(planted: bool = True) -> pd.DataFrame:
    """Seven accounts over three monthly dates; with ``planted`` two of them alert at the last date."""
    series = {
        "steady": ([70, 72, 69], ["yellow"] * 3),
        "faller": ([80, 78, 56 if planted else 76], ["green", "green", "yellow" if planted else "green"]),
        "ten_down": ([75, 70, 60], ["green", "yellow", "yellow"]),           # exactly 10: not "more than"
        "into_red": ([48, 44, 41 if planted else 44], ["yellow", "yellow", "red" if planted else "yellow"]),
        "stays_red": ([30, 28, 23], ["red"] * 3),                            # falls 5, was already red
        "riser": ([40, 55, 75], ["red", "yellow", "green"]),
    }
    rows = [{"account_id": acc, "as_of": d, "score": float(s), "band": b, "mrr": 100.0, "segment": "SMB"}
            for acc, (scores, bands) in series.items() for d, s, b in zip(DATES, scores, bands, strict=True)]
    rows.append({"account_id": "newcomer", "as_of": DATES[-1], "score": 20.0, "band": "red", "mrr": 50.0,
                 "segment": "SMB"})
    rows.append({"account_id": "leaver", "as_of": DATES[0], "score": 35.0, "band": "red", "mrr": 80.0,
                 "segment": "SMB"})
    rows.append({"account_id": "leaver", "as_of": DATES[1], "score": 25.0, "band": "red", "mrr": 80.0,
                 "segment": "SMB"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # order of rows must not matter


def test_alerts_fire_on_the_planted_fall_and_move_into_red_only():
    alerts = H.score_alerts(world(), drop=10)
    assert alerts[["account_id", "alert"]].values.tolist() == [["faller", "score_drop"], ["into_red", "into_red"]]
    row = alerts.iloc[0]
    assert (row["previous_score"], row["score"], row["score_change"]) == (78.0, 56.0, -22.0)
    assert (row["as_of"], row["previous_as_of"]) == (DATES[2], DATES[1])
    assert row["mrr"] == 100.0 and row["previous_band"] == "green" and row["band"] == "yellow"


def test_no_alert_without_a_planted_change():
    assert H.score_alerts(world(planted=False), drop=10).empty


def test_a_fall_into_red_by_more_than_the_threshold_carries_both_reasons():
    df = world()
    df.loc[(df["account_id"] == "into_red") & (df["as_of"] == DATES[2]), "score"] = 30.0
    alerts = H.score_alerts(df, drop=10).set_index("account_id")
    assert alerts.loc["into_red", "alert"] == "score_drop;into_red"


def test_threshold_and_dates_are_parameters():
    assert "ten_down" in H.score_alerts(world(), drop=9.5)["account_id"].tolist()
    over_two_months = H.score_alerts(world(), drop=10, previous=DATES[0])
    assert set(over_two_months["account_id"]) == {"faller", "ten_down", "into_red"}
    at_may = H.score_alerts(world(), drop=10, as_of=DATES[1])
    assert at_may.empty  # nothing fell more than 10 from April to May, nobody moved into red
    with pytest.raises(ValueError, match="no scored accounts at 2025-07-01"):
        H.score_alerts(world(), as_of="2025-07-01")
    with pytest.raises(ValueError, match="points"):
        H.score_alerts(world(), drop=-1)


def test_score_history_per_account():
    hist = H.score_history(world())
    faller = hist[hist["account_id"] == "faller"]
    assert faller["score"].tolist() == [80.0, 78.0, 56.0]
    assert faller["previous_score"].isna().tolist() == [True, False, False]
    assert faller["score_change"].tolist()[1:] == [-2.0, -22.0]
    assert faller["previous_band"].tolist()[1:] == ["green", "green"]
    newcomer = hist[hist["account_id"] == "newcomer"].iloc[0]
    assert np.isnan(newcomer["score_change"]) and pd.isna(newcomer["previous_as_of"])


def test_band_movement_counts_every_account_once():
    m = H.band_movement(world())
    assert list(m.index) == ["green", "yellow", "red", "new"] and list(m.columns) == ["green", "yellow", "red", "left"]
    # May -> June: faller green->yellow, ten_down yellow->yellow, steady yellow->yellow, into_red yellow->red,
    # stays_red red->red, riser yellow->green, newcomer new->red, leaver red->left
    expected = pd.DataFrame([[0, 1, 0, 0], [1, 2, 1, 0], [0, 0, 1, 1], [0, 0, 1, 0]],
                            index=m.index, columns=m.columns)
    pd.testing.assert_frame_equal(m, expected, check_names=False)
    assert m.attrs["as_of"] == DATES[2] and m.attrs["previous"] == DATES[1]
    assert m.to_numpy().sum() == 8


def test_one_date_only_gives_no_movement_and_no_alert():
    one = world()[lambda d: d["as_of"] == DATES[2]]
    assert H.score_alerts(one).empty
    assert H.band_movement(one).loc["new"].sum() == len(one)


def test_bad_input_is_refused():
    df = world()
    with pytest.raises(ValueError, match="duplicate"):
        H.score_history(pd.concat([df, df.head(1)]))
    with pytest.raises(ValueError, match="unknown band"):
        H.score_history(df.assign(band="amber"))


def test_views_and_plots_in_japanese(japanese_figures):
    import matplotlib.pyplot as plt

    alerts = H.score_alerts(world())
    view = H.alerts_view(alerts, "ja")
    assert view["alert"].tolist() == ["スコア低下", "危険区分へ移行"] and view["band"].tolist() == ["注意", "危険"]
    movement = H.movement_view(H.band_movement(world()), "ja")
    assert movement.iloc[:, 0].tolist() == ["良好", "注意", "危険", "新規"] and "解約" in movement.columns
    ax = H.plot_band_movement(H.band_movement(world()), lang="ja")
    assert ax.get_xlabel() == "区分 (2025年6月1日)" and [x.get_text() for x in ax.get_xticklabels()][-1] == "解約"
    ax = H.plot_score_alerts(alerts, lang="ja")
    assert [x.get_text() for x in ax.get_yticklabels()] == ["faller", "into_red"]
    assert ax.get_xlabel() == "ヘルススコア"
    empty = H.plot_score_alerts(alerts.iloc[:0], lang="en")
    assert empty.texts[0].get_text() == "No account alerts since the previous date"
    ax = H.plot_score_history(world(), ["faller", "riser"], lang="ja")
    assert len(ax.get_lines()) == 2
    for fig in map(plt.figure, plt.get_fignums()):
        fig.canvas.draw()  # a glyph missing from the fonts would warn here (the fixture fails the test)
    plt.close("all")


def test_a_run_the_day_after_a_month_start_compares_with_the_month_before_not_the_day_before():
    """A run on 2 January (the observation dates are month starts plus the run's date) compared its accounts
    with 1 January's: the band movement and the lifecycle flow showed one day's movement as a month's."""
    df = world()
    run_day = df[df["as_of"] == DATES[-1]].assign(as_of=DATES[-1] + pd.Timedelta(days=1))
    run_day.loc[run_day["account_id"] == "riser", "score"] = 76.0
    both = pd.concat([df, run_day], ignore_index=True)
    now, before = H.comparison_dates(both)
    assert (now, before) == (DATES[-1] + pd.Timedelta(days=1), DATES[1])
    alerts = H.score_alerts(both, drop=10).set_index("account_id")
    assert set(alerts.index) == {"faller", "into_red"}  # against May, as a run on 1 June alerts
    assert H.history_steps(both["as_of"]) == [DATES[0], DATES[1], DATES[-1] + pd.Timedelta(days=1)]
    mid = df[df["as_of"] == DATES[-1]].assign(as_of=DATES[-1] + pd.Timedelta(days=20))  # far enough: a step
    assert H.comparison_dates(pd.concat([df, mid]))[1] == DATES[-1]
    assert H.history_steps(pd.concat([df, mid])["as_of"]) == [*DATES, DATES[-1] + pd.Timedelta(days=20)]
    assert H.comparison_dates(run_day)[1] is None  # one date: nothing to compare with
    # the history the playbook's score_change rules read steps the same way (a review: alerts compared with
    # May while the action list compared with the day before)
    hist = H.score_history(both).set_index(["account_id", "as_of"])
    row = hist.loc[("faller", DATES[-1] + pd.Timedelta(days=1))]
    assert row["previous_as_of"] == DATES[1] and row["score_change"] == 56 - 78
    assert hist.loc[("faller", DATES[-1]), "previous_as_of"] == DATES[1]  # 1 June's previous is 1 May
    assert pd.isna(hist.loc[("newcomer", DATES[-1]), "previous_score"])


@pytest.mark.parametrize("drop, said", [(25, "1 alert at 2025-06-01 "), (10, "2 alerts at 2025-06-01 ")])
def test_the_alerts_are_counted_in_the_singular_and_the_plural(caplog, drop, said):
    """The log read "1 alert(s) at 2025-06-01": one alert is "1 alert", two are "2 alerts"."""
    import logging

    with caplog.at_level(logging.INFO, logger="engage_models.health"):
        H.score_alerts(world(), drop=drop)
    lines = [r.getMessage() for r in caplog.records if " at 2025-06-01 (drop > " in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(said), lines


def test_bad_input_is_named_in_the_singular_and_the_plural():
    df = world()
    with pytest.raises(ValueError, match=r"^scored accounts lack column \['band'\]$"):
        H.score_history(df.drop(columns="band"))
    with pytest.raises(ValueError, match=r"^scored accounts lack columns \['score', 'band'\]$"):
        H.score_history(df.drop(columns=["band", "score"]))
    with pytest.raises(ValueError, match=r"^unknown band \['amber'\]; "):
        H.score_history(df.assign(band="amber"))
    with pytest.raises(ValueError, match=r"^unknown bands \['amber', 'blue'\]; "):
        H.score_history(df.assign(band=np.where(np.arange(len(df)) % 2, "amber", "blue")))
    with pytest.raises(ValueError, match=r"^scored accounts have 1 duplicate \(account_id, as_of\) row, e\.g\. "):
        H.score_history(pd.concat([df, df.head(1)]))
    with pytest.raises(ValueError, match=r"^scored accounts have 2 duplicate \(account_id, as_of\) rows, e\.g\. "):
        H.score_history(pd.concat([df, df.head(2)]))
