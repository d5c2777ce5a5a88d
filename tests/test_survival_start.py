"""Where the data begin, and what the survival stage says once.

A previous session's hand-made worlds found: one event dated 1924 (kept by ingest with a warning) made report 05 say
"data begin (5 Mar 1924)", moved its out-of-time test and the panel's first date (revenue at risk $3,096 -> $2,650);
a subscriptions table starting later than the events made older accounts "customers before the data begin"; a
rare segment printed about 26 "not seen in fitting" lines from the cross-validation folds; the bootstrap's count
of refits that valued a rare level as the reference stayed in the values' attrs; and Kaplan-Meier dropped rows
with no time at risk without a count.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from engage_models._core.time import bulk_start
from engage_models.survival import CoxModel, KaplanMeierGroups, TimeVaryingCox, report
from engage_models.survival import analysis as A
from engage_models.survival.data import observation_window, usable
from engage_models.survival.design import Design
from engage_models.survival.evaluation import cross_validate
from engage_models.survival.kaplan_meier import KaplanMeierResult
from engage_models.survival.time_varying import cross_validate_start_stop

EARLY = pd.Timestamp("1924-03-05 10:00", tz="UTC")


def _days(dates, counts) -> pd.DataFrame:
    d = (pd.DatetimeIndex(pd.to_datetime(dates, utc=True)) - pd.Timestamp("1970-01-01", tz="UTC")).days
    return pd.DataFrame({"d": np.asarray(d, "int64"), "n": counts})


def test_bulk_start_sets_aside_a_mistyped_year_and_keeps_a_thin_real_start():
    bulk = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    alone = bulk_start(_days(bulk, 100))
    assert (alone.start, alone.rows, alone.total) == (pd.Timestamp("2024-01-01", tz="UTC"), 0, 36_600)
    typo = bulk_start(_days(["1924-03-05", *bulk], [1, *[100] * len(bulk)]))
    assert (typo.start, typo.rows, typo.first, typo.last) == (
        pd.Timestamp("2024-01-01", tz="UTC"), 1, pd.Timestamp("1924-03-05", tz="UTC"),
        pd.Timestamp("1924-03-05", tz="UTC"))
    assert typo.said("events", "timestamp") == {"table": "events", "column": "timestamp", "rows": 1, "total": 36_601,
                                                "first": "1924-03-05", "last": "1924-03-05", "start": "2024-01-01"}
    two = bulk_start(_days(["1924-03-05", "1970-01-01", *bulk], [1, 3, *[100] * len(bulk)]))
    assert (two.rows, two.first.year, two.last.year, two.start.year) == (4, 1924, 1970, 2024)
    # a thin but real first year (one row every few days, growing): no year-long hole after it, kept
    thin = pd.date_range("2021-01-01", "2023-12-31", freq="5D")
    grown = bulk_start(_days([*thin, *bulk], [*[1] * len(thin), *[100] * len(bulk)]))
    assert (grown.start, grown.rows) == (pd.Timestamp("2021-01-01", tz="UTC"), 0)
    # an early block of more than 1% of the rows is data, however far before: kept
    block = bulk_start(_days([*pd.date_range("2020-01-01", periods=30), *bulk], [*[20] * 30, *[100] * len(bulk)]))
    assert (block.start, block.rows) == (pd.Timestamp("2020-01-01", tz="UTC"), 0)
    assert bulk_start(_days([], [])).start is None


def _processed(small_ingested, root, *, subscriptions=True, early_event=False, subs_from=None):
    """A copy of the small world's processed tables in ``root/processed``, edited."""
    data_dir, _ = small_ingested
    shutil.copytree(data_dir / "processed", root / "processed")
    p = root / "processed"
    if not subscriptions:
        (p / "subscriptions.parquet").unlink()
    elif subs_from is not None:
        subs = pd.read_parquet(p / "subscriptions.parquet")
        subs[subs["period_start"] >= pd.Timestamp(subs_from, tz="UTC")].to_parquet(p / "subscriptions.parquet")
    if early_event:
        ev = pd.read_parquet(p / "events.parquet")
        row = ev.iloc[[len(ev) // 2]].assign(timestamp=EARLY)
        pd.concat([ev, row], ignore_index=True).to_parquet(p / "events.parquet", index=False)
    return root


def test_one_event_a_century_early_moves_neither_the_start_nor_the_cutoff_nor_the_panel(small_ingested, tmp_path):
    """Without a subscriptions table the start comes from the events: one event dated 1924 made the data begin
    then. It is set aside (and said); every date equals the world's without it."""
    from engage_models.features.panel import PanelBuilder
    from engage_models.ingest.quality import data_dates

    plain = _processed(small_ingested, tmp_path / "plain", subscriptions=False)
    early = _processed(small_ingested, tmp_path / "early", subscriptions=False, early_event=True)
    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    a, b = A.account_table(plain, as_of), A.account_table(early, as_of)
    assert b.observed_from == a.observed_from == pd.Timestamp("2024-01-01", tz="UTC")
    cols = ["account_id", "duration", "event", "entry", "left_truncated"]
    pd.testing.assert_frame_equal(b.lifetimes[cols], a.lifetimes[cols])
    assert A.default_cutoff(b.as_of, b.observed_from) == A.default_cutoff(a.as_of, a.observed_from)
    assert a.set_aside == [] and b.set_aside == [{"table": "events", "column": "timestamp", "rows": 1,
                                                  "total": b.set_aside[0]["total"], "first": "1924-03-05",
                                                  "last": "1924-03-05", "start": "2024-01-01"}]
    # said where report 05 says where the data begin, in both languages
    assert report.header(a, "en").endswith("(left truncation).")
    assert ("1 row of events dated 5 Mar 1924 (timestamp), more than a year before the rest of the table, was "
            "left out of where the data begin (1 Jan 2024)") in report.header(b, "en")
    assert "1924年3月5日" in report.header(b, "ja")
    # the panel's dates and the run's first event
    with PanelBuilder(plain / "processed") as pa, PanelBuilder(early / "processed") as pb:
        assert pb.data_range() == pa.data_range()
        assert list(pb.default_dates()) == list(pa.default_dates())
    da, db = data_dates(plain / "processed"), data_dates(early / "processed")
    assert db.pop("set_aside")["rows"] == 1 and db == da


def test_subscriptions_that_begin_later_than_the_events_do_not_make_older_customers(small_ingested, tmp_path):
    """Subscription months kept from July only: events show the accounts from January, so the data begin then, and
    an account started in March is no "customer before the data begin"."""
    full = _processed(small_ingested, tmp_path / "full")
    late = _processed(small_ingested, tmp_path / "late", subs_from="2024-07-01")
    start, said = observation_window(late / "processed")
    assert (start, said) == (pd.Timestamp("2024-01-01", tz="UTC"), [])
    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    a, b = A.account_table(full, as_of), A.account_table(late, as_of)
    assert b.observed_from == a.observed_from
    assert int(b.lifetimes["left_truncated"].sum()) == int(a.lifetimes["left_truncated"].sum())
    # and events that begin later than the subscriptions: the subscriptions' start stands
    ev = pd.read_parquet(late / "processed" / "events.parquet")
    ev[ev["timestamp"] >= pd.Timestamp("2024-09-01", tz="UTC")].to_parquet(full / "processed" / "events.parquet")
    assert observation_window(full / "processed")[0] == pd.Timestamp("2024-01-01", tz="UTC")


def _retyped(root, account, start=None):
    """``root/processed``'s accounts with ``account``'s start_date set to ``start`` (None: the account removed)."""
    p = root / "processed" / "accounts.parquet"
    acc = pd.read_parquet(p)
    if start is None:
        acc = acc[acc["account_id"] != account]
    else:
        start = pd.Timestamp(start)
        acc.loc[acc["account_id"] == account, "start_date"] = start if start.tz else start.tz_localize("UTC")
    acc.to_parquet(p, index=False)
    return root


def test_an_account_whose_start_is_mistyped_as_1924_is_left_out_of_the_lifetimes_and_said(small_ingested,
                                                                                           tmp_path):
    """A churner started in 2024 retyped as 1924: its lifetime went from 6.6 months to a century, it entered the
    curves alone at 1,199 months (out of them while still counted), 12-month retention moved from 75.6% to 76.6%,
    the Cox coefficients by up to 0.12 and a "1924" start-year group appeared. Its tenure is unknown: the survival
    tables leave it out, so curves, coefficients and the out-of-time test are those of the world without it, and
    report 05's header names it (in both languages)."""
    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    plain = A.account_table(_processed(small_ingested, tmp_path / "plain"), as_of)
    lt = plain.lifetimes
    churner = lt[(lt["event"] == 1) & (lt["entry"] == 0) & (lt["duration"] > 3)].sort_values("account_id")
    account = churner["account_id"].iloc[0]
    typo = A.account_table(_retyped(_processed(small_ingested, tmp_path / "typo"), account, "1924-07-22"), as_of)
    gone = A.account_table(_retyped(_processed(small_ingested, tmp_path / "gone"), account), as_of)
    assert typo.observed_from == gone.observed_from == plain.observed_from
    assert account not in set(typo.lifetimes["account_id"]) and typo.start_unknown == (account,)
    assert "1924" not in set(typo.lifetimes["start_year"]) and len(typo.lifetimes) == len(lt) - 1
    pd.testing.assert_frame_equal(typo.lifetimes, gone.lifetimes)
    assert gone.set_aside == [] and typo.set_aside == [{
        "table": "accounts", "column": "start_date", "rows": 1, "total": len(lt), "first": "1924-07-22",
        "last": "1924-07-22", "start": lt["start_date"].min().date().isoformat(), "accounts": [account],
        "customers": 0, "mrr": None}]  # a churner: no money left out
    # the curves and the coefficients of the world without it
    for by in (None, "start_year"):
        km_t, km_g = (KaplanMeierGroups(by, require_at_risk=True).fit(a.lifetimes).result() for a in (typo, gone))
        assert km_t.labels == km_g.labels
        pd.testing.assert_frame_equal(km_t.curves, km_g.curves)
        pd.testing.assert_frame_equal(km_t.summary, km_g.summary)
    cox_t, cox_g = (CoxModel(covariates=gone.covariates, entry_col="entry", penalizer=0.1, check_ph=False,
                             n_jobs=1).fit(a.lifetimes) for a in (typo, gone))
    pd.testing.assert_series_equal(cox_t.params_, cox_g.params_, rtol=1e-9)
    # the out-of-time refit reads the accounts table again: it leaves the account out too
    oot_t, oot_g = A.out_of_time(typo, cox_t), A.out_of_time(gone, cox_g)
    assert oot_t.result["harrell_c"] == pytest.approx(oot_g.result["harrell_c"], rel=1e-9)
    assert account not in set(oot_t.train["account_id"]) | set(oot_t.test["account_id"])
    # said where report 05 says the rows set aside, with the account's id
    en, ja = report.header(typo, "en"), report.header(typo, "ja")
    assert (f"1 account ({account}) started 22 Jul 1924 (start_date), more than a year before any other account "
            f"(the next started ") in en and "left out of this report's curves, models and values" in en
    assert account in ja and "1924年7月22日" in ja
    assert "1924" not in report.header(gone, "en")


def test_a_customer_whose_start_is_unknown_is_counted_with_the_mrr_left_out_of_the_values(small_ingested, tmp_path):
    """An active account's start retyped as 1924 is left out of the lifetimes, so of the values and the revenue at
    risk: report 05 said it was left out but not that it was a paying customer, nor how much MRR the money tables
    then miss. The header now says both, with the MRR the values would have used (its latest month's)."""
    from engage_models.survival import report

    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    plain = A.account_table(_processed(small_ingested, tmp_path / "plain"), as_of)
    lt = plain.lifetimes
    active = lt[(lt["event"] == 0) & (lt["entry"] == 0)].sort_values("account_id")
    account = active["account_id"].iloc[0]
    mrr = float(plain.mrr_now()[account])
    typo = A.account_table(_retyped(_processed(small_ingested, tmp_path / "typo"), account, "1924-07-22"), as_of)
    said = typo.set_aside[-1]
    assert (said["accounts"], said["customers"], said["mrr"]) == ([account], 1, pytest.approx(mrr))
    assert account not in set(typo.mrr_now().index)
    en, ja = report.header(typo, "en", "JPY"), report.header(typo, "ja", "JPY")
    assert ("1 of them is a customer at the observation date, with ¥" + f"{mrr:,.0f}" + " of MRR a month: not in "
            "this report's lifetime values, revenue at risk or lists") in en
    assert "うち1社は観測日時点で継続中の顧客で" in ja


def test_the_panel_leaves_the_tenure_of_an_account_started_in_1924_empty(small_ingested, tmp_path):
    """The same retyped start gave the account a century of ``tenure_days`` on every panel row (36,000 days and
    more), thirty times any other account's, for the health card to weigh. Its tenure is unknown, as survival
    says: empty on its rows, every other value of the panel unchanged; a start among the others' keeps its
    tenure."""
    from engage_models.features.panel import PanelBuilder

    as_of = ["2024-07-01", "2024-10-01"]
    plain_root = _processed(small_ingested, tmp_path / "plain")
    with PanelBuilder(plain_root / "processed") as pb:
        plain = pb.build(as_of=as_of)
    account = plain.sort_values(["tenure_days", "account_id"])["account_id"].iloc[len(plain) // 2]
    starts = pd.read_parquet(plain_root / "processed" / "accounts.parquet")
    first = starts.loc[starts["account_id"] != account, "start_date"].min().normalize()  # before the data: 2021
    typo_root = _retyped(_processed(small_ingested, tmp_path / "typo"), account, "1924-07-22")
    with PanelBuilder(typo_root / "processed") as pb:
        assert pb.unknown_start_before(pb.data_range()[0]) == first < pd.Timestamp("2024-01-01", tz="UTC")
        typo = pb.build(as_of=as_of)
    mine = typo["account_id"] == account
    assert mine.sum() == (plain["account_id"] == account).sum() == 2
    assert typo.loc[mine, "tenure_days"].isna().all() and plain["tenure_days"].notna().all()
    pd.testing.assert_frame_equal(typo.drop(columns="tenure_days"), plain.drop(columns="tenure_days"))
    pd.testing.assert_series_equal(typo.loc[~mine, "tenure_days"], plain.loc[~mine, "tenure_days"], check_dtype=False)
    # a start among the others' (before the data begin, as most are) is an ordinary one
    near_root = _retyped(_processed(small_ingested, tmp_path / "near"), account, "2023-12-20")
    with PanelBuilder(near_root / "processed") as pb:
        assert pb.unknown_start_before(pb.data_range()[0]) is None
        near = pb.build(as_of=as_of)
    assert (near.loc[near["account_id"] == account, "tenure_days"] > 180).all()


@pytest.mark.slow
def test_a_run_with_one_event_a_century_early_gives_the_figures_of_the_run_without_it(small_world, tmp_path,
                                                                                      monkeypatch):
    """The pipeline up to survival on the small world, with and without one extra event dated 1924: the same
    start, panel dates, out-of-time cutoffs and money; ingest names the row, report 05's header too."""
    from engage_models import pipeline
    from engage_models._core.errors import InsufficientData
    from engage_models.pipeline import stages as S

    def not_here(ctx):
        raise InsufficientData("not needed by this test")

    stages = tuple(dataclasses.replace(s, run=not_here) if s.name in ("quality", "kpis", "surveys", "health",
                                                                        "personas") else s for s in S.STAGES)
    monkeypatch.setattr("engage_models.pipeline.flow.STAGES", stages)
    runs = {}
    for name in ("plain", "early"):
        data = tmp_path / name
        shutil.copytree(small_world / "raw", data / "raw")
        if name == "early":
            ev = pd.read_parquet(data / "raw" / "events.parquet")
            row = ev.iloc[[len(ev) // 2]].assign(timestamp=EARLY)
            pd.concat([ev, row], ignore_index=True).to_parquet(data / "raw" / "events.parquet", index=False)
        runs[name] = pipeline.run({"data_dir": str(data), "run_date": "2025-01-02", "survival": {"n_boot": 5}},
                                  until="survival", progress=lambda m: None)
    a, b = runs["plain"], runs["early"]
    ia, ib = a.json("survival", "info"), b.json("survival", "info")
    assert ib["observed_from"] == ia["observed_from"] and ib["set_aside"][0]["first"] == "1924-03-05"
    assert sorted(b.frame("panel", "panel")["as_of"].unique()) == sorted(a.frame("panel", "panel")["as_of"].unique())
    for name in ("oot_account", "oot_panel"):
        assert b.json("survival", name)["cutoff"] == a.json("survival", name)["cutoff"]
        assert b.json("survival", name)["harrell_c"] == pytest.approx(a.json("survival", name)["harrell_c"])
    pd.testing.assert_frame_equal(b.frame("survival", "revenue_at_risk"), a.frame("survival", "revenue_at_risk"),
                                  rtol=1e-9)
    warned = [w for w in b["ingest"].json("ingest_report")["warnings"] if "long before the rest" in w]
    assert warned == ["events: of the 545,903 rows kept, 1 is dated long before the rest of the table (timestamp: 5 "
                      "Mar 1924; then no row for more than a year, until 1 Jan 2024): a mistyped year, or 1970-01-01 "
                      "from an empty cell? They are kept, but the analyses take the data to begin on 1 Jan 2024 (the "
                      "survival models' start, the panel's first date, the KPIs' first month); check them"]
    assert not [w for w in a["ingest"].json("ingest_report")["warnings"] if "long before the rest" in w]
    assert "5 Mar 1924" in report.header(ib, "en") and "1924" not in report.header(ia, "en")


# ------------------------------------------------------------------------------------------ rare levels, once
def _start_stop(n: int = 240, seed: int = 1) -> pd.DataFrame:
    """Monthly start/stop rows with a numeric covariate and a segment of which one account is the only member."""
    rng = np.random.default_rng(seed)
    seg = np.where(np.arange(n) < 1, "Solo", np.where(rng.random(n) < 0.5, "SMB", "Mid"))
    rows = []
    for i in range(n):
        x = rng.normal()
        for k in range(24):
            churned = int(rng.random() < 0.03 * np.exp(0.5 * x))
            rows.append((f"a{i}", float(k), k + 1.0, churned, x + rng.normal(0, 0.1), seg[i]))
            if churned:
                break
    return pd.DataFrame(rows, columns=["account_id", "start", "stop", "event", "x", "segment"])


def test_a_rare_level_is_said_once_by_the_folds_not_once_a_fold(caplog):
    """Each fold (and each fold's own choice of penalty) met the one-account segment again and said so: 10 to 41
    lines per call. The folds are counted and said once a call, with how many of them met it."""
    ss = _start_stop()
    acc = ss.groupby("account_id", sort=False).agg(duration=("stop", "max"), event=("event", "max"),
                                                   x=("x", "first"), segment=("segment", "first")).reset_index()
    with caplog.at_level(logging.WARNING, logger="engage_models.survival"):
        for label, call in (
                ("folds choosing the penalty", lambda: TimeVaryingCox(covariates=["x", "segment"], n_jobs=1).fit(ss)),
                ("cross-validation folds", lambda: cross_validate_start_stop(
                    TimeVaryingCox(covariates=["x", "segment"], penalizer=0.01), ss)),
                ("folds choosing the penalty", lambda: CoxModel(covariates=["x", "segment"], check_ph=False,
                                                                n_jobs=1).fit(acc)),
                ("cross-validation folds", lambda: cross_validate(CoxModel(covariates=["x", "segment"],
                                                                           check_ph=False, n_jobs=1), acc))):
            caplog.clear()
            call()
            said = [r.getMessage() for r in caplog.records]
            assert not [m for m in said if "not seen in fitting" in m], label
            rare = [m for m in said if "'segment'" in m]
            assert len(rare) == 1 and f" of 5 {label} met a level of 'segment' that their training part lacked" \
                in rare[0], (label, said)
            assert "np.str_" not in rare[0]


def test_report_05_says_the_refits_that_valued_a_rare_level_as_the_reference():
    assert report.unseen_levels_note(None) == report.unseen_levels_note({"refits": 100}) == ""
    intervals = {"refits": 100, "unseen_levels": [{"column": "segment", "refits": 42, "of": 100, "reference": "SMB"}]}
    assert report.unseen_levels_note(intervals, "en") == (
        "In 42 of the 100 bootstrap refits behind these intervals no account of some level of segment was drawn (a "
        "rare level): there, its accounts were valued as of the reference level SMB, which widens their intervals.")
    assert "100回のうち42回" in report.unseen_levels_note(intervals, "ja")
    hostile = {"unseen_levels": [{"column": "<b>seg</b>", "refits": 1, "of": 2, "reference": "[x](javascript:1)"}]}
    said = report.unseen_levels_note(hostile, "en")
    assert "<b>" not in said and "](" not in said


# ------------------------------------------------------------------------------------ no time at risk, counted
def test_kaplan_meier_counts_the_rows_with_no_time_at_risk_and_the_table_says_them():
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"duration": rng.uniform(1, 30, n), "event": rng.integers(0, 2, n), "entry": 0.0})
    df.loc[[0, 1, 2], ["duration", "entry", "event"]] = [[5.0, 5.0, 1], [3.0, 4.0, 0], [0.0, 0.0, 1]]
    km = KaplanMeierGroups().fit(df)
    assert km.no_time_at_risk_ == {"accounts": 3, "churned": 2}
    assert km.summary["accounts"].sum() == n - 3
    tables, info = km.to_tables()
    back = KaplanMeierResult.from_tables(tables, info)
    assert back.no_time_at_risk == {"accounts": 3, "churned": 2}
    html = report.km_table(back, "en")._repr_html_()
    assert ("3 accounts (2 of them churned) are in no curve: they have no time at risk here, their follow-up "
            "ending at or before it starts") in html
    assert "3社（うち解約2社）" in report.km_table(back, "ja")._repr_html_()
    clean = KaplanMeierGroups().fit(df.drop(index=[0, 1, 2]))
    assert clean.no_time_at_risk_ == {} and "no curve" not in report.km_table(clean, "en")._repr_html_()
    old = KaplanMeierResult.from_tables(tables, {k: v for k, v in info.items() if k != "no_time_at_risk"})
    assert report.no_time_note(old) == ""  # a run stored before the count


def test_the_executive_summary_says_the_survival_money_leaves_out_customers_whose_start_is_unknown(small_ingested,
                                                                                                  tmp_path):
    """Report 00 put the survival model's 3, 6 and 12 months of money beside the health score's, the first without
    the customers whose start is unknown (not valued), the second with them, and said nothing: a paying customer
    retyped to 1924 was missing from one figure only. The summary now counts them and their MRR, from the survival
    stage's own set-aside entry."""
    from engage_models.reports.summary import risk_text, start_unknown

    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    plain = A.account_table(_processed(small_ingested, tmp_path / "plain"), as_of)
    lt = plain.lifetimes
    account = lt[(lt["event"] == 0) & (lt["entry"] == 0)].sort_values("account_id")["account_id"].iloc[0]
    mrr = float(plain.mrr_now()[account])
    typo = A.account_table(_retyped(_processed(small_ingested, tmp_path / "typo"), account, "1924-07-22"), as_of)
    assert start_unknown(plain.set_aside) is None
    left = start_unknown(typo.set_aside)
    assert left == {"customers": 1, "mrr": pytest.approx(mrr)}
    risk = {"expected": 900.0, "ci_low": 700.0, "ci_high": 1100.0, "share": 0.05, "accounts": 40}
    money = {"3": 500.0, "6": 900.0, "12": 1500.0}
    said = risk_text(risk, {**money, "start_unknown": left}, 90, "en", "JPY")
    assert said.endswith("They leave out 1 customer whose start is unknown, with ¥" + f"{mrr:,.0f}" + " of MRR a "
                         "month, which the health score's figure includes.")
    assert "開始日が不明な顧客1社" in risk_text(risk, {**money, "start_unknown": left}, 90, "ja", "JPY")
    assert "unknown" not in risk_text(risk, money, 90, "en")  # a summary written before: as it was
    assert "(MRR not known)" in risk_text(risk, {**money, "start_unknown": {"customers": 2, "mrr": None}}, 90)


def test_a_first_customer_years_before_the_next_keeps_its_start_and_a_century_does_not(small_ingested, tmp_path):
    """A start more than a year before every other account's was taken as mistyped, however real: a company's
    first customer signed in 2010 beside customers from 2015 on lost its tenure on the panel and its lifetime in
    survival. A gap shorter than the span of the later starts is a customer's (the company was selling through
    all of it); a mistyped year lies further before the others than they span."""
    from engage_models._core.time import account_starts, day_counts
    from engage_models.features.panel import PanelBuilder

    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    plain_root = _processed(small_ingested, tmp_path / "plain")
    starts = pd.read_parquet(plain_root / "processed" / "accounts.parquet")["start_date"]
    lt = A.account_table(plain_root, as_of).lifetimes
    account = lt[(lt["event"] == 0) & (lt["entry"] == 0)].sort_values("account_id")["account_id"].iloc[0]
    others = starts[pd.read_parquet(plain_root / "processed" / "accounts.parquet")["account_id"] != account]
    span = others.max() - others.min()
    assert span > pd.Timedelta(days=2 * 365)  # the small world's starts span years: room for a real gap
    early = (others.min() - span / 2).normalize()  # more than a year before the next, less than the span
    assert others.min() - early > pd.Timedelta(days=365)
    old = A.account_table(_retyped(_processed(small_ingested, tmp_path / "old"), account, early), as_of)
    assert old.start_unknown == () and old.set_aside == []
    mine = old.lifetimes[old.lifetimes["account_id"] == account]
    assert len(mine) == 1 and mine["entry"].iloc[0] > 0  # an older customer, observed from when the data begin
    with PanelBuilder(tmp_path / "old" / "processed") as pb:
        assert pb.unknown_start_before(pb.data_range()[0]) is None
        panel = pb.build(as_of=["2024-10-01"])
    assert panel.loc[panel["account_id"] == account, "tenure_days"].iloc[0] > (
        pd.Timestamp("2024-10-01", tz="UTC") - others.min()).days
    assert account_starts(day_counts([early, *others])).rows == 0
    assert account_starts(day_counts([pd.Timestamp("1924-07-22", tz="UTC"), *others])).rows == 1


def test_a_placeholder_start_is_set_aside_however_long_the_others_span():
    """1970-01-01 (an empty cell read as Unix time 0) beside customers from 1975 to 2024: the gap (5 years) is
    shorter than the others' span (50), so the rule for a first customer kept it as one. A day systems write for
    "no date" is set aside when more than a year before the others; an ordinary 1972 start there is kept."""
    from engage_models._core.time import account_starts, day_counts

    others = list(pd.date_range("1975-01-01", "2024-12-01", freq="MS", tz="UTC"))
    got = account_starts(day_counts([pd.Timestamp("1970-01-01", tz="UTC"), *others]))
    assert (got.rows, got.first, got.start) == (1, pd.Timestamp("1970-01-01", tz="UTC"), others[0])
    for placeholder in ("1900-01-01", "1899-12-30"):
        assert account_starts(day_counts([pd.Timestamp(placeholder, tz="UTC"), *others])).rows == 1
    assert account_starts(day_counts([pd.Timestamp("1972-06-01", tz="UTC"), *others])).rows == 0
    both = account_starts(day_counts([pd.Timestamp("1924-07-22", tz="UTC"), pd.Timestamp("1970-01-01", tz="UTC"),
                                      *others]))
    assert (both.rows, both.first.year, both.last.year, both.start) == (2, 1924, 1970, others[0])


@pytest.mark.parametrize("rows, said", [([0], "1 row with no time at risk"), ([0, 1], "2 rows with no time at risk")])
def test_rows_with_no_time_at_risk_are_counted_in_the_singular_and_the_plural(caplog, rows, said):
    """The survival stage's log read "1 row(s) with no time at risk ... left out": one row is "1 row", two are
    "2 rows", in Kaplan-Meier's line and in the Cox model's."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"duration": rng.uniform(1, 30, 40), "event": rng.integers(0, 2, 40), "entry": 0.0})
    df.loc[rows, ["duration", "entry"]] = 4.0
    with caplog.at_level(logging.INFO, logger="engage_models.survival"):
        KaplanMeierGroups().fit(df)
        usable(df, "duration", "entry")
    lines = [r.getMessage() for r in caplog.records if "no time at risk" in r.getMessage()]
    assert len(lines) == 2 and all(m.startswith(f"{said} (") for m in lines), lines
    assert not any("(s)" in m for m in lines)


def test_covariates_not_in_the_table_are_named_as_one_column_or_several():
    df = pd.DataFrame({"duration": [1.0, 2.0], "event": [1, 0], "x": [0.5, 1.5]})
    with pytest.raises(ValueError, match=r"^covariate column not in the table: \['age'\]$"):
        Design.fit(df, ["x", "age"])
    with pytest.raises(ValueError, match=r"^covariate columns not in the table: \['age', 'karno'\]$"):
        Design.fit(df, ["age", "karno"])
    with pytest.raises(ValueError, match=r"^column \['stop'\] not in the table$"):
        CoxModel(duration_col="stop").fit(df)
