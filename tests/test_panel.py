"""The account x period panel: hand-computed metrics, window edges, labels, no leakage, the simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engage_models._core.errors import DataError
from engage_models.demo.simulator import SimConfig, simulate
from engage_models.features import metrics as M
from engage_models.features.panel import build_panel, feature_columns, observation_dates
from engage_models.ingest import ingest

UNTIL = "2025-06-01"


def _write_raw(raw, events=(), tickets=(), touchpoints=(), surveys=(), extra_accounts=()):
    """A hand-made world (times in UTC). Defaults below are the fixture every test starts from."""
    raw.mkdir(parents=True, exist_ok=True)
    accounts = [
        # A1: customer throughout. A2: churns 2025-04-15 (inside the 90-day horizon of 2025-03-01).
        # A3: starts 2025-02-10 and never does anything. A4: starts after 2025-03-01 (absent at that date).
        ("A1", "One", "SMB", "Pro", 150.0, "2025-01-01", ""),
        ("A2", "Two", "Enterprise", "Pro", 900.0, "2025-01-01", "2025-04-15"),
        ("A3", "Three", "SMB", "Starter", 50.0, "2025-02-10", ""),
        ("A4", "Four", "SMB", "Starter", 50.0, "2025-03-05", ""),
        *extra_accounts,
    ]
    pd.DataFrame(accounts, columns=["account_id", "name", "segment", "plan", "mrr", "start_date", "end_date"]).to_csv(
        raw / "accounts.csv", index=False)
    base_events = [
        # A1, observation date 2025-03-01: the 28-day window is [2025-02-01, 2025-03-01)
        ("A1", "u1", "2025-02-01T00:00:00Z", "login", "", 600),         # first second of the 28-day window
        ("A1", "u2", "2025-01-31T23:59:59Z", "login", "", 300),         # last second before it: 90-day only
        ("A1", "u1", "2025-02-15T10:00:00Z", "feature_use", "reports", 120),
        ("A1", "u1", "2025-02-28T23:59:59Z", "export", "dashboards", 30),  # last second before as_of
        ("A1", "u3", "2025-03-01T00:00:00Z", "login", "", 60),          # at as_of: not seen by it
        ("A1", "u1", "2025-02-15T11:00:00Z", "login", "", 100),         # u1 twice on 15 Feb: one user-day
        ("A2", "u4", "2025-02-20T09:00:00Z", "login", "", 50),
        ("A2", "u4", "2025-01-15T09:00:00Z", "login", "", 50),
        *events,
    ]
    pd.DataFrame(base_events, columns=["account_id", "user_id", "timestamp", "event_type", "feature",
                                       "duration_s"]).to_csv(raw / "events.csv", index=False)
    base_tickets = [
        ("T1", "A1", "2025-02-10T00:00:00Z", "2025-02-11T00:00:00Z", "high", 4),    # 24 hours to close
        ("T2", "A1", "2025-02-25T00:00:00Z", "2025-03-02T00:00:00Z", "low", ""),    # still open at as_of
        *tickets,
    ]
    pd.DataFrame(base_tickets, columns=["ticket_id", "account_id", "opened_at", "closed_at", "priority",
                                        "csat"]).to_csv(raw / "tickets.csv", index=False)
    base_touch = [
        ("A1", "u1", "2025-02-10T09:00:00Z", "newsletter", "outbound", True, ""),
        ("A1", "u2", "2025-02-10T09:00:00Z", "newsletter", "outbound", False, ""),
        ("A1", "u1", "2025-02-12T09:00:00Z", "community", "inbound", "", ""),
        ("A2", "", "2025-02-05T09:00:00Z", "meeting", "outbound", "", True),
        ("A2", "", "2025-02-06T09:00:00Z", "webinar", "outbound", "", False),
        *touchpoints,
    ]
    pd.DataFrame(base_touch, columns=["account_id", "user_id", "timestamp", "channel", "direction", "opened",
                                      "attended"]).to_csv(raw / "touchpoints.csv", index=False)
    base_surveys = [
        ("R1", "A1", "u1", "2025-01-10T00:00:00Z", "nps", "periodic", 9, "", "en"),   # previous wave
        ("R2", "A1", "u1", "2025-02-20T00:00:00Z", "nps", "periodic", 6, "", "en"),   # latest wave ...
        ("R3", "A1", "u2", "2025-02-25T00:00:00Z", "nps", "periodic", 10, "", "en"),  # ... mean 8
        ("R4", "A1", "u1", "2025-02-11T00:00:00Z", "csat", "ticket_close", 4, "", "en"),
        *surveys,
    ]
    pd.DataFrame(base_surveys, columns=["response_id", "account_id", "user_id", "submitted_at", "survey_type",
                                        "trigger", "score", "comment", "lang"]).to_csv(raw / "surveys.csv", index=False)
    pd.DataFrame([("A1", "2025-01-01", 100.0, 4), ("A1", "2025-02-01", 150.0, 6), ("A1", "2025-03-01", 200.0, 8),
                  ("A2", "2025-01-01", 900.0, 20), ("A2", "2025-02-01", 900.0, 20)],
                 columns=["account_id", "period_start", "mrr", "seats"]).to_csv(raw / "subscriptions.csv", index=False)


def _panel(tmp_path, as_of=("2025-02-01", "2025-03-01"), **kw):
    _write_raw(tmp_path / "raw", **kw)
    ingest(tmp_path / "raw", tmp_path / "processed")
    return build_panel(tmp_path / "processed", list(as_of), until=UNTIL)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    return _panel(tmp_path_factory.mktemp("hand"))


def _row(panel, account, as_of="2025-03-01"):
    rows = panel[(panel["account_id"] == account) & (panel["as_of"] == pd.Timestamp(as_of, tz="UTC"))]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_rows_are_the_active_account_date_pairs(hand):
    pairs = set(zip(hand["account_id"], hand["as_of"].dt.strftime("%Y-%m-%d"), strict=True))
    # 2025-02-01: A1 and A2 (A3 starts on 10 Feb); 2025-03-01: A1, A2, A3 (A4 starts on 5 Mar)
    assert pairs == {("A1", "2025-02-01"), ("A2", "2025-02-01"),
                     ("A1", "2025-03-01"), ("A2", "2025-03-01"), ("A3", "2025-03-01")}


def test_window_edges_and_hand_computed_metrics(hand):
    a1 = _row(hand, "A1")
    assert a1["logins_28d"] == 2            # u1 on 1 Feb 00:00:00 and 15 Feb; u3 at as_of is not seen
    assert a1["logins_90d"] == 3            # + u2 on 31 Jan 23:59:59
    assert a1["active_users_28d"] == 1 and a1["active_users_90d"] == 2
    assert a1["active_days_28d"] == 3       # 1, 15 and 28 Feb
    assert a1["active_days_90d"] == 4       # + 31 Jan
    assert a1["user_days_28d"] == 3         # u1 on three days (twice on 15 Feb counts once)
    assert a1["features_used_28d"] == 2     # reports, dashboards
    assert a1["exports_28d"] == 1
    assert a1["usage_hours_28d"] == pytest.approx((600 + 120 + 30 + 100) / 3600)
    assert a1["seats"] == 6                 # February's subscription month; March's starts at as_of
    assert a1["active_user_ratio_28d"] == pytest.approx(1 / 6)
    assert a1["dau_mau"] == pytest.approx((3 / 28) / 1)
    assert a1["feature_breadth_28d"] == pytest.approx(2 / 2)  # the product has 2 features in the data
    assert a1["tickets_28d"] == 2 and a1["urgent_tickets_28d"] == 1
    assert a1["median_hours_to_close_28d"] == pytest.approx(24.0)  # T2 closes after as_of: not counted
    assert a1["open_tickets"] == 1
    assert a1["nps_latest"] == pytest.approx(8.0)  # (6 + 10) / 2: answers within 30 days of the latest
    assert a1["nps_change"] == pytest.approx(-1.0)  # previous wave: 9
    assert a1["csat_latest"] == pytest.approx(4.0) and pd.isna(a1["csat_change"])
    assert a1["newsletter_opens_28d"] == 1 and a1["community_posts_28d"] == 1
    assert a1["mrr"] == 150.0 and a1["mrr_change_90d"] == 0.0  # nothing 90 days before: no change
    assert a1["tenure_days"] == 59 and a1["days_since_last_activity"] == 1
    assert a1["logins_prev28d"] == 1        # [4 Jan, 1 Feb): u2 on 31 Jan
    assert a1["logins_pct_change"] == pytest.approx(100.0)
    a2 = _row(hand, "A2")
    assert a2["meetings_28d"] == 1 and a2["events_attended_28d"] == 0  # the webinar was not attended
    assert a2["active_user_ratio_28d"] == pytest.approx(1 / 20)


def test_windows_without_28_days_give_the_change_metrics_on_the_shortest_window(hand, tmp_path):
    """DAU/MAU and the % changes were written on 28 days: a panel of 14 and 90 days failed with a binder error
    ('active_users_28d' not found). They follow the shortest window."""
    _write_raw(tmp_path / "raw")
    ingest(tmp_path / "raw", tmp_path / "processed")
    panel = build_panel(tmp_path / "processed", ["2025-03-01"], until=UNTIL, windows=(14, 90))
    a1 = _row(panel, "A1")
    assert "logins_28d" not in panel and "logins_prev14d" in panel
    assert a1["dau_mau"] == pytest.approx((a1["user_days_14d"] / 14) / a1["active_users_14d"])
    expected = 100.0 * (a1["logins_14d"] - a1["logins_prev14d"]) / a1["logins_prev14d"] \
        if a1["logins_prev14d"] > 0 else (0.0 if a1["logins_14d"] == 0 else np.nan)
    assert a1["logins_pct_change"] == pytest.approx(expected, nan_ok=True)
    # the default windows give the same columns as before, and so do windows beside 28 days: a model trained
    # on the defaults reads the same dau_mau and % changes from a panel that adds a 14-day window
    assert _row(hand, "A1")["dau_mau"] == pytest.approx(3 / 28)
    wider = build_panel(tmp_path / "processed", ["2025-03-01"], until=UNTIL, windows=(14, 28, 90))
    for col in ("dau_mau", "logins_pct_change", "active_users_pct_change", "usage_hours_pct_change"):
        assert _row(wider, "A1")[col] == pytest.approx(_row(hand, "A1")[col], nan_ok=True), col
    assert "logins_prev28d" in wider and "logins_prev14d" not in wider


def test_seats_are_found_under_another_case_or_counted_from_users(tmp_path):
    """A subscriptions export with Seats (not seats) still gives seats; one without seats counts the account's
    users (the months' empty seats used to win over the users' count)."""
    _write_raw(tmp_path / "raw")
    subs = pd.read_csv(tmp_path / "raw" / "subscriptions.csv")
    subs.rename(columns={"seats": "Seats"}).to_csv(tmp_path / "raw" / "subscriptions.csv", index=False)
    report = ingest(tmp_path / "raw", tmp_path / "p1")
    assert report.tables["subscriptions"].renamed_columns == {"Seats": "seats"}
    panel = build_panel(tmp_path / "p1", ["2025-03-01"], until=UNTIL)
    assert _row(panel, "A1")["seats"] == 6
    subs.drop(columns="seats").to_csv(tmp_path / "raw" / "subscriptions.csv", index=False)
    pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "account_id": ["A1", "A1", "A1", "A2"],
                  "role": "member", "created_at": ["2024-12-01", "2024-12-01", "2025-03-05", "2024-12-01"]}
                 ).to_csv(tmp_path / "raw" / "users.csv", index=False)
    ingest(tmp_path / "raw", tmp_path / "p2")
    panel = build_panel(tmp_path / "p2", ["2025-03-01"], until=UNTIL)
    assert _row(panel, "A1")["seats"] == 2 and _row(panel, "A2")["seats"] == 1  # u3 joins after as_of
    assert _row(panel, "A1")["mrr"] == 150.0  # the months still give the MRR


def test_an_account_without_any_activity_has_zeros_not_gaps(hand):
    a3 = _row(hand, "A3")
    for col in ("logins_28d", "active_users_90d", "features_used_28d", "tickets_28d", "exports_90d",
                "newsletter_opens_28d", "dau_mau", "feature_breadth_28d", "open_tickets"):
        assert a3[col] == 0, col
    assert a3["days_since_last_activity"] == 19  # since its start on 10 Feb
    for col in ("nps_latest", "csat_latest", "median_hours_to_close_28d", "seats", "active_user_ratio_28d"):
        assert pd.isna(a3[col]), col            # no answer, no closed ticket, no subscription: unknown


def test_labels_churn_within_horizon_duration_and_censoring(hand):
    a1, a2 = _row(hand, "A1"), _row(hand, "A2")
    assert (a2["churned_within_h"], a2["duration_days"], a2["event"]) == (1, 45, 1)  # 1 Mar -> 15 Apr
    assert (a1["churned_within_h"], a1["duration_days"], a1["event"]) == (0, 92, 0)  # censored at 1 Jun
    assert hand.attrs["horizon_days"] == 90


def test_labels_are_empty_where_the_horizon_is_not_yet_observed(tmp_path):
    _write_raw(tmp_path / "raw")
    ingest(tmp_path / "raw", tmp_path / "processed")
    p = build_panel(tmp_path / "processed", ["2025-03-01"], until="2025-04-01")
    assert pd.isna(_row(p, "A1")["churned_within_h"])   # 1 Mar + 90 days is after 1 Apr
    assert pd.isna(_row(p, "A2")["churned_within_h"])   # its churn on 15 Apr is after the observation end too
    assert (_row(p, "A2")["event"], _row(p, "A2")["duration_days"]) == (0, 31)  # censored at 1 Apr


def test_nothing_at_or_after_as_of_changes_the_metrics(tmp_path):
    """Leakage: append events, tickets, answers and touchpoints from as_of on; the metrics must not move."""
    before = _panel(tmp_path / "a", as_of=("2025-03-01",))
    future = dict(
        events=[("A1", "u9", "2025-03-01T00:00:00Z", "login", "", 10), ("A3", "u8", "2025-03-20T00:00:00Z",
                                                                           "export", "api", 10)],
        tickets=[("T9", "A1", "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z", "urgent", 1)],
        touchpoints=[("A1", "u1", "2025-03-10T00:00:00Z", "community", "inbound", "", "")],
        surveys=[("R9", "A1", "u1", "2025-03-01T00:00:00Z", "nps", "periodic", 0, "", "en"),
                 ("R8", "A3", "u8", "2025-04-01T00:00:00Z", "csat", "annual", 1, "", "en")],
    )
    after = _panel(tmp_path / "b", as_of=("2025-03-01",), **future)
    cols = [c for c in before.columns if c in M.REGISTRY_COLUMNS and c != "feature_breadth_28d"
            and c != "feature_breadth_90d"]
    pd.testing.assert_frame_equal(before[["account_id", *cols]], after[["account_id", *cols]])
    # the catalogue of features is the one thing that may grow (a feature first used later): breadth is
    # relative to it, and the test of that is explicit rather than hidden
    assert (after["feature_breadth_28d"] <= before["feature_breadth_28d"] + 1e-12).all()


@pytest.mark.parametrize("order", [(0.1, 0.2, 0.3), (0.3, 0.2, 0.1)])
def test_usage_hours_are_an_exact_sum_whatever_the_order_of_the_events(tmp_path, order):
    """Durations are summed exactly (as decimals): a sum of doubles depends on the order they are added in, which
    DuckDB's threads do not fix, and its last digits moved learned bin edges between runs on the same data."""
    same_time = [("A3", "u8", "2025-02-21T09:00:00Z", "feature_use", "reports", d) for d in order]
    panel = _panel(tmp_path, as_of=("2025-03-01",), events=same_time)
    assert (0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1  # in doubles the order shows in the last digit
    assert _row(panel, "A3")["usage_hours_28d"] == 0.6 / 3600


def test_bad_observation_dates_are_refused(tmp_path):
    _write_raw(tmp_path / "raw")
    ingest(tmp_path / "raw", tmp_path / "processed")
    with pytest.raises(ValueError, match="midnight"):
        build_panel(tmp_path / "processed", ["2025-03-01 12:00"], until=UNTIL)
    with pytest.raises(ValueError, match="after the observation end"):
        build_panel(tmp_path / "processed", ["2025-07-01"], until=UNTIL)
    (tmp_path / "processed" / "events.parquet").unlink()
    with pytest.raises(DataError, match="events.parquet is missing: run ingest first"):
        build_panel(tmp_path / "processed")


def test_partitioned_rollups_give_the_same_panel(small_ingested):
    root, _ = small_ingested
    one = build_panel(root / "processed")
    many = build_panel(root / "processed", partition_events=20_000)  # dozens of account ranges
    pd.testing.assert_frame_equal(one, many)


def test_the_features_benchmarks_pandas_reference_agrees_with_the_panel(small_ingested, tmp_path, capsys):
    """``benchmarks/bench_features.py`` (the README's engine-against-pandas figures) computes the windows' metrics a
    second way, with pandas, and checks that both agree; a renamed panel column or a changed window would stop it
    or make it disagree, unseen until it was run at 20M events. On the small world both runs agree on every
    metric and date, the metrics are not all zero, and one changed value is caught, by column and row count."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_features.py"
    spec = importlib.util.spec_from_file_location("bench_features", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    root, _ = small_ingested
    bench.run_engine(str(root / "processed"), str(tmp_path / "engine.parquet"), "1GB")
    engine = pd.read_parquet(tmp_path / "engine.parquet")
    dates = sorted(pd.to_datetime(engine["as_of"]).dt.strftime("%Y-%m-%d").unique())
    bench.run_pandas(str(root / "processed"), str(tmp_path / "pandas.parquet"), dates)
    reference = pd.read_parquet(tmp_path / "pandas.parquet")
    capsys.readouterr()
    assert bench.agree(engine, reference) == (True, "all metrics equal")
    assert len(dates) >= 6 and engine["logins_28d"].sum() > 1000 and engine["features_used_90d"].max() > 1
    engine.loc[engine.index[engine["logins_28d"] > 0][0], "logins_28d"] += 1
    assert bench.agree(engine, reference) == (False, "logins_28d: 1 rows differ")


def test_default_grid_starts_when_the_longest_window_fits(small_ingested):
    root, _ = small_ingested
    p = build_panel(root / "processed")
    dates = sorted(p["as_of"].unique())
    assert pd.Timestamp(dates[0]) == pd.Timestamp("2024-04-01", tz="UTC")  # events start 2024-01-01; + 90 days
    assert pd.Timestamp(dates[-1]) == pd.Timestamp("2025-01-01", tz="UTC")  # the midnight after the last event
    assert list(observation_dates("2024-04-01", "2025-01-01")) == [pd.Timestamp(d) for d in dates]
    assert set(feature_columns(p)) <= set(M.columns(model_only=True))


def test_february_metrics_equal_the_simulators_true_covariates(tmp_path):
    """In a 28-day February the 28-day window at 1 March is the calendar month the simulator measured."""
    simulate(SimConfig(n_accounts=150, months=3, start="2025-01-01", seed=11, inject_defects=False),
             out=tmp_path / "raw")
    ingest(tmp_path / "raw", tmp_path / "processed")
    p = build_panel(tmp_path / "processed", ["2025-03-01"], until="2025-04-01")
    truth = pd.read_parquet(tmp_path / "raw" / "true_hazard.parquet")
    truth = truth[truth["month"] == pd.Timestamp("2025-02-01", tz="UTC")].set_index("account_id")
    mine = p.set_index("account_id")
    both = truth.index.intersection(mine.index)
    # the only accounts the simulator counts but the panel does not churned at 1 March 00:00 exactly
    accounts = pd.read_csv(tmp_path / "raw" / "accounts.csv").set_index("account_id")
    assert set(accounts.loc[truth.index.difference(mine.index), "end_date"]) <= {"2025-03-01"}
    assert len(both) > 100
    np.testing.assert_array_equal(mine.loc[both, "active_users_28d"], truth.loc[both, "active_users"])
    np.testing.assert_array_equal(mine.loc[both, "seats"], truth.loc[both, "seats"])
    np.testing.assert_allclose(mine.loc[both, "active_user_ratio_28d"], truth.loc[both, "active_ratio"])
    np.testing.assert_allclose(mine.loc[both, "feature_breadth_28d"], truth.loc[both, "feature_breadth"])
    np.testing.assert_array_equal(mine.loc[both, "tickets_28d"], truth.loc[both, "tickets"])


def test_the_plan_at_each_date_comes_from_the_subscription_history(tmp_path):
    """An account that changed plan was on its old plan at the dates before the change (13.8: covariates measured
    when they were known, not today's snapshot for every past date); without a plan in the history, the accounts
    table's plan is used."""
    _write_raw(tmp_path / "raw")
    subs = pd.read_csv(tmp_path / "raw" / "subscriptions.csv")
    subs["plan"] = ["Basic", "Basic", "Pro", None, None]  # A1 upgrades in March; A2's months carry no plan
    subs.to_csv(tmp_path / "raw" / "subscriptions.csv", index=False)
    ingest(tmp_path / "raw", tmp_path / "processed")
    panel = build_panel(tmp_path / "processed", ["2025-02-01", "2025-03-01", "2025-03-15"], until=UNTIL)
    accounts = pd.read_csv(tmp_path / "raw" / "accounts.csv").set_index("account_id")
    assert _row(panel, "A1", "2025-02-01")["plan"] == "Basic"
    assert _row(panel, "A1", "2025-03-01")["plan"] == "Basic"  # the March month starts on 1 March: not before it
    assert _row(panel, "A1", "2025-03-15")["plan"] == "Pro"
    assert _row(panel, "A2", "2025-03-01")["plan"] == accounts.loc["A2", "plan"]


# ------------------------------------------------------------------------------- CSAT kept on tickets
def _csat_world(root, *, tickets, surveys=(), survey_ticket_ids=None):
    """The hand world with its survey CSAT answers replaced by ``surveys`` (``survey_ticket_ids``: the ticket each
    names, a ticket_id column) and its tickets' csat set from ``tickets`` ({ticket_id: csat}) plus new tickets."""
    known = {k: v for k, v in tickets.items() if isinstance(v, (int, float, str))}
    _write_raw(root / "raw", tickets=[t for t in tickets.values() if isinstance(t, tuple)])
    tk = pd.read_csv(root / "raw" / "tickets.csv")
    tk["csat"] = [known.get(i, c) for i, c in zip(tk["ticket_id"], tk["csat"], strict=True)]
    tk.to_csv(root / "raw" / "tickets.csv", index=False)
    sv = pd.read_csv(root / "raw" / "surveys.csv")
    sv = pd.concat([sv[sv["survey_type"] != "csat"], pd.DataFrame(list(surveys), columns=sv.columns)],
                   ignore_index=True)
    if survey_ticket_ids is not None:
        sv["ticket_id"] = sv["response_id"].map(survey_ticket_ids)
    sv.to_csv(root / "raw" / "surveys.csv", index=False)
    ingest(root / "raw", root / "processed")
    return root / "processed"


def _csat_by_hand(processed, account, as_of):
    """csat_latest and csat_change from :func:`engage_models.surveys.csat.csat_scores` (the rule the panel's SQL
    follows) over the answers before ``as_of``: waves of 30 days up to the latest score and the one before."""
    from engage_models.surveys.csat import csat_scores

    as_of = pd.Timestamp(as_of, tz="UTC")
    sv = pd.read_parquet(processed / "surveys.parquet")
    scores = csat_scores(sv[sv["submitted_at"] < as_of], pd.read_parquet(processed / "tickets.parquet"))
    s = scores[(scores["account_id"] == account) & (scores["given_at"] < as_of)]
    if s.empty:
        return np.nan, np.nan
    last = s["given_at"].max()
    latest = s.loc[s["given_at"] > last - pd.Timedelta(days=30), "score"].mean()
    before = s[s["given_at"] <= last - pd.Timedelta(days=30)]
    if before.empty:
        return latest, np.nan
    prev = before["given_at"].max()
    return latest, latest - before.loc[before["given_at"] > prev - pd.Timedelta(days=30), "score"].mean()


def test_csat_kept_on_tickets_alone_gives_the_csat_metrics(tmp_path):
    """A company whose CSAT is a column of its tickets (no CSAT survey answer) had no csat_latest, so no CSAT in its
    health score. A ticket's score is dated when it closed, else when it opened; a ticket closed after as_of is not
    seen by it."""
    processed = _csat_world(tmp_path, tickets={
        "T1": 4,  # A1, closed 11 Feb
        "T3": ("T3", "A1", "2025-01-05T00:00:00Z", "2025-01-06T00:00:00Z", "low", 2),   # the previous wave
        "T4": ("T4", "A1", "2025-02-26T00:00:00Z", "", "normal", 5),                     # still open: its opening
        "T5": ("T5", "A2", "2025-02-20T00:00:00Z", "2025-03-02T00:00:00Z", "low", 1),   # closed after as_of
    })
    panel = build_panel(processed, ["2025-02-01", "2025-03-01", "2025-04-01"], until=UNTIL)
    a1 = _row(panel, "A1")
    assert a1["csat_latest"] == pytest.approx((4 + 5) / 2)  # T1 and T4, within 30 days of T4 (26 Feb)
    assert a1["csat_change"] == pytest.approx(4.5 - 2)       # the wave before: T3 (6 Jan)
    assert _row(panel, "A1", "2025-02-01")["csat_latest"] == pytest.approx(2.0)
    assert pd.isna(_row(panel, "A1", "2025-02-01")["csat_change"])
    assert pd.isna(_row(panel, "A2")["csat_latest"]) and _row(panel, "A2", "2025-04-01")["csat_latest"] == 1.0
    assert pd.isna(_row(panel, "A3")["csat_latest"])
    for _, r in panel.iterrows():  # the SQL and the package's rule agree
        want = _csat_by_hand(processed, r["account_id"], r["as_of"].strftime("%Y-%m-%d"))
        assert (r["csat_latest"], r["csat_change"]) == pytest.approx(want, nan_ok=True), r["account_id"]


def test_a_survey_answer_and_the_ticket_it_names_count_once(tmp_path):
    """With both, a ticket named by a CSAT answer counts through the answer only (its own csat is the same answer);
    a ticket's own score counts until an answer naming it is submitted."""
    answer = ("R4", "A1", "u1", "2025-02-11T00:00:00Z", "csat", "ticket_close", 4, "", "en")    # names T1
    unnamed = ("R6", "A1", "u2", "2025-02-20T00:00:00Z", "csat", "periodic", 1, "", "en")      # names no ticket
    later = ("R7", "A1", "u1", "2025-03-05T00:00:00Z", "csat", "ticket_close", 3, "", "en")    # names T4, later
    processed = _csat_world(
        tmp_path, tickets={"T1": 2, "T4": ("T4", "A1", "2025-02-26T00:00:00Z", "", "normal", 5)},
        surveys=[answer, unnamed, later], survey_ticket_ids={"R4": "T1", "R7": "T4"})
    panel = build_panel(processed, ["2025-03-01", "2025-04-01"], until=UNTIL)
    assert _row(panel, "A1")["csat_latest"] == pytest.approx((4 + 1 + 5) / 3)  # not T1's own 2 beside R4
    assert _row(panel, "A1", "2025-04-01")["csat_latest"] == pytest.approx((4 + 1 + 3) / 3)  # R7 replaces T4's 5
    for _, r in panel.iterrows():
        want = _csat_by_hand(processed, r["account_id"], r["as_of"].strftime("%Y-%m-%d"))
        assert (r["csat_latest"], r["csat_change"]) == pytest.approx(want, nan_ok=True), r["account_id"]
    assert M.definition("csat_latest")["query"].keys() == {"csat"}
    assert "tickets t" in M.definition("csat_latest")["query"]["csat"]


def test_a_ticket_with_a_csat_outside_the_scale_still_counts_as_a_ticket(tmp_path):
    """Ingest quarantined a ticket with CSAT 10 on the 1-5 scale whole: its account lost the ticket from its counts
    and times to close. Only the score is set aside now: every ticket metric is the same as with a good score."""
    bad = _csat_world(tmp_path / "bad", tickets={"T1": 10})
    good = _csat_world(tmp_path / "good", tickets={"T1": 4})
    dates = ["2025-02-01", "2025-03-01"]
    with_bad, with_good = (build_panel(p, dates, until=UNTIL) for p in (bad, good))
    support = [c for c in with_good if c in M.REGISTRY_COLUMNS and M.get(c).source == "tickets"]
    assert {"tickets_28d", "open_tickets", "median_hours_to_close_28d"} <= set(support)
    pd.testing.assert_frame_equal(with_bad[["account_id", *support]], with_good[["account_id", *support]])
    assert _row(with_bad, "A1")["tickets_28d"] == 2 and _row(with_bad, "A1")["median_hours_to_close_28d"] == 24.0
    assert pd.isna(_row(with_bad, "A1")["csat_latest"]) and _row(with_good, "A1")["csat_latest"] == 4.0


@pytest.mark.parametrize("n, said", [
    (1, "events: 1 row dated 1924-03-05, more than a year before the rest, set aside"),
    (2, "events: 2 rows dated 1924-03-05 to 1924-03-06, more than a year before the rest, set aside")])
def test_events_dated_long_before_the_rest_are_counted_in_the_singular_and_the_plural(small_ingested, tmp_path,
                                                                                      caplog, n, said):
    """The panel's log read "events: 1 row(s) dated 1924-03-05 to 1924-03-05": one row is "1 row", on its day."""
    import logging
    import shutil

    from engage_models.features.panel import PanelBuilder

    shutil.copytree(small_ingested[0] / "processed", tmp_path / "processed")
    path = tmp_path / "processed" / "events.parquet"
    ev = pd.read_parquet(path)
    early = ev.iloc[:n].assign(timestamp=pd.date_range("1924-03-05 10:00", periods=n, freq="D", tz="UTC"))
    pd.concat([ev, early], ignore_index=True).to_parquet(path, index=False)
    with caplog.at_level(logging.INFO, logger="engage_models.features"), PanelBuilder(tmp_path / "processed") as pb:
        pb.data_range()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("events: ")]
    assert len(lines) == 1 and lines[0].startswith(said), lines


@pytest.mark.parametrize("n, said", [(1, "accounts: 1 account started from 1924-07-22, before "),
                                     (2, "accounts: 2 accounts started from 1924-07-22, before ")])
def test_accounts_of_unknown_tenure_are_counted_in_the_singular_and_the_plural(small_ingested, tmp_path, caplog, n,
                                                                               said):
    """The panel's log read "accounts: account(s) started from 1924-07-22 ...", saying neither how many nor in which
    number: it counts them."""
    import logging
    import shutil

    from engage_models.features.panel import PanelBuilder

    shutil.copytree(small_ingested[0] / "processed", tmp_path / "processed")
    path = tmp_path / "processed" / "accounts.parquet"
    acc = pd.read_parquet(path)
    acc.loc[acc.index[:n], "start_date"] = pd.date_range("1924-07-22", periods=n, freq="D", tz="UTC")
    acc.to_parquet(path, index=False)
    with caplog.at_level(logging.INFO, logger="engage_models.features"), PanelBuilder(tmp_path / "processed") as pb:
        assert pb.unknown_start_before(pb.data_range()[0]) is not None
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("accounts: ")]
    assert len(lines) == 1 and lines[0].startswith(said), lines
    assert lines[0].endswith("its tenure_days is left empty" if n == 1 else "their tenure_days are left empty")


@pytest.mark.parametrize("ts", ["1924-03-05 10:00", "1924-03-05 00:00", "1969-12-31 23:59:59.999999",
                                "1970-01-01 00:00", "2025-03-01 23:59:59.999999"])
def test_the_engines_day_of_a_time_before_1970_is_its_own_day(ts):
    """DuckDB's integer division truncates towards zero: an event at 1924-03-05 10:00 was counted on 6 March, and
    the panel's log named that day for the events it set aside. Every time is on its UTC calendar day."""
    from engage_models.features.engine import DuckDBEngine

    t = pd.Timestamp(ts, tz="UTC")
    with DuckDBEngine() as duck:
        got = duck.frame("SELECT " + duck.day("$t") + " AS d", {"t": t})["d"].iloc[0]
    assert got == (t.normalize() - pd.Timestamp("1970-01-01", tz="UTC")).days
