"""Engagement views, the shared panel cache, and the engagement report end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engage_models.features.panel import build_panel, default_panel
from engage_models.kpis import engagement
from engage_models.reports.runner import run


def test_engagement_index_is_the_mean_percentile_within_a_date():
    ts = pd.Timestamp("2025-01-01", tz="UTC")
    p = pd.DataFrame({"account_id": list("abcd"), "as_of": [ts, ts, ts, ts + pd.Timedelta(days=31)],
                      "active_user_ratio_28d": [0.9, 0.5, None, 0.1], "feature_breadth_28d": [0.1, 0.5, 0.9, 0.1],
                      "dau_mau": [0.3, 0.3, 0.3, 0.0], "active_days_28d": [10, 20, 30, 0]})
    idx = engagement.engagement_index(p)
    # a: ranks (pct) 1.0, 1/3, 2/3 (three-way tie), 1/3 -> 58.3; b: 1/2 (of two), 2/3, 2/3, 2/3 -> 62.5;
    # c: its missing ratio is left out -> (1 + 2/3 + 1) / 3 = 88.9
    assert idx.iloc[0] == pytest.approx(100 * (1 + 1 / 3 + 2 / 3 + 1 / 3) / 4)
    assert idx.iloc[2] == pytest.approx(100 * (1 + 2 / 3 + 1) / 3)
    assert idx.iloc[3] == pytest.approx(100.0)  # alone on its date
    top, bottom = engagement.ranking(p[p["as_of"] == ts].assign(segment="SMB", plan="Pro"), n=1)
    assert idx.iloc[1] == pytest.approx(62.5)
    assert top["account_id"].tolist() == ["c"] and bottom["account_id"].tolist() == ["a"]


def test_accounts_too_new_are_not_ranked_and_ties_at_the_bottom_show_the_largest_first():
    """A reader found the demo world's ten least engaged accounts all of the last six weeks, one a day old, and
    they were an arbitrary ten (by id) of the 39 with no activity at all."""
    ts = pd.Timestamp("2025-01-01", tz="UTC")
    zero = {"active_user_ratio_28d": 0.0, "feature_breadth_28d": 0.0, "dau_mau": 0.0, "active_days_28d": 0}
    rows = [{"account_id": "new", "tenure_days": 3, "mrr": 9000.0, **zero},
            {"account_id": "a_small", "tenure_days": 400, "mrr": 100.0, **zero},
            {"account_id": "b_large", "tenure_days": 400, "mrr": 5000.0, **zero},
            {"account_id": "c_mid", "tenure_days": 200, "mrr": 800.0, **zero},
            {"account_id": "busy", "tenure_days": 300, "mrr": 50.0, "active_user_ratio_28d": 0.9,
             "feature_breadth_28d": 0.7, "dau_mau": 0.4, "active_days_28d": 20}]
    p = pd.DataFrame(rows).assign(as_of=ts, segment="SMB", plan="Pro")
    top, bottom = engagement.ranking(p, n=2)
    assert bottom["account_id"].tolist() == ["b_large", "c_mid"] and top["account_id"].tolist()[0] == "busy"
    assert "new" not in set(top["account_id"]) | set(engagement.ranking(p, n=10)[1]["account_id"])
    info = engagement.ranking_info(p)
    assert info == {"too_new": 1, "no_activity": 3, "days": 28}
    note = engagement.ranking_note(info, 2)
    assert note.startswith("3 accounts had no activity at all in the last 28 days: the least engaged table shows "
                           "the 2 of them with the largest MRR.")
    assert note.endswith("Accounts younger than 28 days are not ranked (their window is not full): 1.")
    assert "3社" in engagement.ranking_note(info, 2, "ja")
    assert engagement.ranking_note({**info, "no_activity": 2, "too_new": 0}, 2) == ""  # all shown, none left out


def test_glossary_lists_each_metric_once_in_both_languages():
    en, ja = engagement.glossary("en"), engagement.glossary("ja")
    assert len(en) == len(ja) > 30
    assert "active users / seats (28 days)" in set(en["metric"])
    assert "アクティブユーザー率（28日）" in set(ja["指標"])


def test_the_runs_panel_is_the_monthly_grid_plus_the_observation_date(small_ingested):
    root, _ = small_ingested
    processed = root / "processed"
    panel = default_panel(processed)
    assert panel["as_of"].max() == pd.Timestamp("2025-01-01", tz="UTC")
    pd.testing.assert_frame_equal(panel, build_panel(processed, sorted(panel["as_of"].unique()), until="2025-01-01"))
    mid = default_panel(processed, "2024-11-15")  # the run's date is scored even off the monthly grid
    assert mid["as_of"].max() == pd.Timestamp("2024-11-15", tz="UTC")
    assert (mid["as_of"].dt.day == 1).sum() == (mid["as_of"] < pd.Timestamp("2024-11-15", tz="UTC")).sum()


@pytest.mark.notebook
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_engagement_report_end_to_end(report_data, tmp_path, lang):
    from conftest import REPORT_RUN_DATE

    out = tmp_path / "reports"
    (path,) = run(data_dir=report_data, out_dir=out, only=["02"], lang=lang, run_date=REPORT_RUN_DATE,
                  progress=lambda m: None)
    html = path.read_text(encoding="utf-8")
    assert "Traceback" not in html and "<script" not in html.lower()
    assert html.count('src="data:image/png;base64,') >= 5
    if lang == "ja":
        assert "コホート別の継続率" in html and "Cohort retention" not in html
        assert "解約率（社数）" in html  # a KPI label from the catalogue
    else:
        assert "Cohort retention" in html and "95% CI" in html
        assert "active users / seats (28 days)" in html  # a metric name from the registry


def test_a_metric_no_account_has_is_said_in_its_panel_not_a_crash(japanese_figures):
    """seats unknown for every account (no seats in subscriptions, no users table): the grid still draws, and
    that panel says there is no value (the boxplot raised on an all-empty column and took report 02 down)."""
    import matplotlib

    matplotlib.use("Agg")
    panel = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "as_of": pd.Timestamp("2025-03-01", tz="UTC"),
                          "segment": ["SMB", "SMB", "Mid"], "seats": [None, None, None],
                          "logins_28d": [3, 5, 8]})
    fig = engagement.plot_metric_grid(panel, ["seats", "logins_28d"], lang="ja")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["値のある顧客がいません"]
    assert len(fig.axes[1].patches) + len(fig.axes[1].artists) > 0 or fig.axes[1].lines  # logins drawn


def test_the_engagement_rankings_show_mrr_in_the_runs_currency():
    """Report 02's most and least engaged accounts showed MRR as 250,000.00 beside a KPI table in yen."""
    from engage_models._core.display import table
    from engage_models.kpis import engagement

    ranked = pd.DataFrame({"account_id": ["a", "b"], "engagement_index": [1.2, 0.4], "mrr": [250000.0, float("nan")]})
    view = engagement.ranking_view(ranked, "ja", "JPY")
    assert view["mrr"].tolist() == ["250,000円", ""] and ranked["mrr"].iloc[0] == 250000.0
    assert engagement.ranking_view(ranked, "en", "USD")["mrr"].iloc[0] == "$250,000"
    assert "250,000.00" not in table(view, lang="ja")._repr_html_()


@pytest.mark.filterwarnings("error")
def test_the_segment_boxes_show_each_segments_median_and_an_empty_slot_for_a_segment_without_accounts():
    """The boxes are matplotlib's own (seaborn 0.13 passed matplotlib 3.11 the deprecated ``vert``): one box a
    segment in ``order``, its median the segment's (missing values left out), a segment with no account a gap."""
    import matplotlib

    matplotlib.use("Agg")
    panel = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4", "A5"], "as_of": pd.Timestamp("2025-03-01", tz="UTC"),
                          "segment": ["SMB", "SMB", "SMB", "Mid", "Mid"],
                          "seats": [2.0, 4.0, 9.0, None, 6.0]})
    ax = engagement.plot_by_segment(panel, "seats", order=["Ent", "Mid", "SMB"])
    medians = [line for line in ax.lines if len(line.get_xdata()) == 2  # caps are half a box wide
               and np.ptp(line.get_xdata()) > 0.5 and line.get_ydata()[0] == line.get_ydata()[1]]
    mids = {round(float(np.mean(line.get_xdata()))): float(line.get_ydata()[0]) for line in medians
            if np.isfinite(line.get_ydata()[0])}
    skewed = engagement.M.get("seats").skewed
    want = {1: 6.0, 2: 4.0}
    if skewed:
        want = {k: float(np.log10(v + 1)) for k, v in want.items()}
    assert mids.get(1) == pytest.approx(want[1]) and mids.get(2) == pytest.approx(want[2])
    assert 0 not in mids  # Ent: no account, no box
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["Ent", "Mid", "SMB"]
    assert ax.get_xlim() == (-0.5, 2.5)
    engagement.plot_by_segment(panel.assign(segment=None), "seats")  # no segment known: an empty panel
