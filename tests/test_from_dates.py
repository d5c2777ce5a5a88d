"""engage survival --start/--end: tenure and churn from a signup and a cancellation date, as a CRM exports them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engage_models._core.errors import DataError
from engage_models._core.i18n import count
from engage_models.survival.from_dates import describe, tenure_from_dates


def test_tenure_runs_to_the_end_or_the_observation_date_and_churn_is_an_end_before_it():
    df = pd.DataFrame({"signup": ["2024-01-01", "2024-03-01", "2024-06-01", "2024-02-10"],
                       "cancel": ["2024-04-01", None, "2024-12-31", " "],
                       "seen": ["2024-05-01", "2024-10-01", "2024-11-01", "2024-02-20"]})
    out, info = tenure_from_dates(df, "signup", "cancel", observed_until="2024-12-01")
    assert out["tenure_days"].tolist() == [91.0, 275.0, 183.0, 295.0]  # a cancellation after the date: not yet
    assert out["churned"].tolist() == [1, 0, 0, 0] and info["after_observation"] == 1 and info["events"] == 1
    # by default the latest date in the start and end columns (the cancellation of 31 Dec), said
    out, info = tenure_from_dates(df, "signup", "cancel")
    assert info["observed_until"] == "2024-12-31" and out["churned"].tolist() == [1, 0, 1, 0]
    assert "(the latest date in the table; give --observed-until for the export's date)" in describe(info)
    # each row's last follow-up, a column: the tenure of a customer runs to it
    out, info = tenure_from_dates(df, "signup", "cancel", observed_until="seen")
    assert out["tenure_days"].tolist() == [91.0, 214.0, 153.0, 10.0] and out["churned"].tolist() == [1, 0, 0, 0]
    assert "or to each row's 'seen' where it is empty" in describe(info) and info["dates"] == ["signup", "cancel",
                                                                                                "seen"]
    # an event column of the table's own: the end is where the account was last seen, whatever happened
    own = df.assign(status=[1, 0, 1, 0])
    out, info = tenure_from_dates(own, "signup", "cancel", event="status", observed_until="2025-01-31")
    assert info["event"] == "status" and "churned" not in out and out["tenure_days"].tolist()[2] == 213.0
    # a column named tenure_days already: the computed one does not overwrite it
    out, info = tenure_from_dates(df.assign(tenure_days=1), "signup", "cancel")
    assert info["duration"] == "_tenure_days" and (out["tenure_days"] == 1).all()


def test_a_table_whose_every_end_is_filled_is_not_said_to_run_to_the_observation_date():
    """A table of last-seen dates with a status column (every end filled, none after the observation date) was
    described as "or to 1991-07-01 where it is empty": no tenure runs to that date, and the line says so."""
    df = pd.DataFrame({"signup": ["2024-01-01", "2024-03-01", "2024-06-01"],
                       "last_seen": ["2024-04-01", "2024-10-01", "2024-12-31"], "status": [1, 0, 1]})
    out, info = tenure_from_dates(df, "signup", "last_seen", event="status")
    assert info["open"] == 0 and out["tenure_days"].tolist() == [91.0, 214.0, 213.0]
    assert describe(info) == "tenure in days from 'signup' to 'last_seen' (filled on every row); churn: 'status'"
    assert describe(info, "ja") == ("契約期間は'signup'から'last_seen'までの日数（'last_seen'はすべての行に記入済み）。"
                                    "解約：'status'")
    # one end empty, or one after the observation date: the tenure runs to that date there, said as before
    _, info = tenure_from_dates(df.assign(last_seen=["2024-04-01", None, "2024-12-31"]), "signup", "last_seen",
                                event="status")
    assert info["open"] == 1 and "or to 2024-12-31 where it is empty" in describe(info)
    _, info = tenure_from_dates(df, "signup", "last_seen", event="status", observed_until="2024-11-30")
    assert info["after_observation"] == 1 and "or to 2024-11-30 where it is empty" in describe(info)


def test_bad_dates_are_errors_naming_the_column_and_rows():
    df = pd.DataFrame({"signup": ["2024-01-01", "2024-03-01", None, "2024-02-10"],
                       "cancel": ["2023-04-01", None, None, "soon"]})
    with pytest.raises(DataError, match=r"t.csv, column 'cancel': 1 value that is not a date \(first at data "
                                        r"rows \[4\], e.g. 'soon'\)"):
        tenure_from_dates(df, "signup", "cancel", where="t.csv")
    df.loc[3, "cancel"] = None
    with pytest.raises(DataError, match=r"column 'signup': empty in 1 row \(first at data rows \[3\]\); each "
                                        r"row needs the date the account started"):
        tenure_from_dates(df, "signup", "cancel", where="t.csv")
    df.loc[2, "signup"] = "2024-05-05"
    with pytest.raises(DataError, match=r"columns 'signup' and 'cancel': the end is before the start in 1 row "
                                        r"\(first at data rows \[1\]\)"):
        tenure_from_dates(df, "signup", "cancel", where="t.csv")
    with pytest.raises(DataError, match=r"holds numbers, not dates"):
        tenure_from_dates(pd.DataFrame({"a": [1, 2], "b": [3, None]}), "a", "b")
    with pytest.raises(DataError, match=r"--observed-until 'last week': neither a date"):
        tenure_from_dates(df.iloc[:2].assign(cancel=None), "signup", "cancel", observed_until="last week")


def test_engage_survival_from_dates_fits_what_the_same_tenure_in_days_fits(tmp_path, capsys):
    from engage_models.cli import main

    rng = np.random.default_rng(3)
    n = 200
    tier = rng.choice(["basic", "pro"], n)
    signup = pd.Series(pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"))
    life = pd.Series(pd.to_timedelta(np.round(rng.exponential(np.where(tier == "basic", 300, 700))), unit="D"))
    export = pd.Timestamp("2024-12-31")
    cancel = (signup + life).where(signup + life <= export + pd.Timedelta(days=40))  # some after the export
    dated = pd.DataFrame({"signup": signup.dt.strftime("%Y-%m-%d"), "cancel": cancel.dt.strftime("%Y-%m-%d"),
                          "tier": tier, "seats": rng.integers(1, 30, n)})
    dated.to_csv(tmp_path / "dated.csv", index=False)
    ended = cancel.notna() & (cancel <= export)
    stop = cancel.where(ended, export)
    days = (stop - signup).dt.days.astype(float)
    same_day = int((ended & (days == 0)).sum())
    assert same_day > 0  # cancelled on the day of the signup: a churn within the first day, half a day at risk
    plain = pd.DataFrame({"tenure_days": days.mask(ended & (days == 0), 0.5), "churned": ended.astype(int),
                          "tier": tier, "seats": dated["seats"]})
    plain.to_csv(tmp_path / "plain.csv", index=False)
    common = ["--n-boot", "0", "--cv", "3"]
    assert main(["survival", "--table", str(tmp_path / "dated.csv"), "--start", "signup", "--end", "cancel",
                 "--observed-until", "2024-12-31", *common, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert main(["survival", "--table", str(tmp_path / "plain.csv"), "--duration", "tenure_days", "--event", "churned",
                 "--unit", "days", *common, "--out", str(tmp_path / "b")]) == 0
    a, b = (pd.read_csv(tmp_path / k / "hazard_ratios.csv", index_col="term") for k in "ab")
    pd.testing.assert_frame_equal(a, b)
    after = int((cancel.notna() & ~ended).sum())
    assert after > 0 and (f"tenure in days from 'signup' to 'cancel', or to 2024-12-31 where it is empty; churn: "
                          f"'cancel' filled ({int(ended.sum())} rows); {after} ends dated after the observation date "
                          f"taken as still a customer then; {same_day} end{'s' if same_day > 1 else ''} on the day of "
                          f"the start counted as half a day") in err
    assert "durations read as months" not in err
    for wrong in (["--duration", "tenure_days", "--start", "signup", "--end", "cancel"],
                  ["--start", "signup", "--end", "cancel", "--unit", "days"], ["--start", "signup"],
                  ["--duration", "tenure_days"]):
        assert main(["survival", "--table", str(tmp_path / "dated.csv"), *wrong, "--out", str(tmp_path / "c")]) == 2


def test_a_duration_column_of_dates_is_told_to_use_start_and_end():
    from engage_models.survival import analysis as A

    df = pd.DataFrame({"last": ["1993-06-30", "1992-01-05"] * 10, "dead": [0, 1] * 10, "x": range(20)})
    with pytest.raises(DataError, match=r"duration column 'last': 20 values that are not numbers .*; a column of "
                                        r"dates: give the start and end dates as --start and --end instead of "
                                        r"--duration$"):
        A.analyse_table(df, duration="last", event="dead", n_boot=0, where="udca.csv")
    with pytest.raises(DataError, match=r"not numbers \(first at data rows \[1, 2, 3, 4, 5\], e.g. 'long'\)$"):
        A.analyse_table(df.assign(last="long"), duration="last", event="dead", n_boot=0)


def test_start_and_end_are_read_with_one_order_of_day_and_month():
    """A start column with a 13th day is read day first; the end column, whose days were all 12 or less, was read
    month first on its own: 05/02/2024 became the 2nd of May (a tenure of 110 days for one of 23), and a
    European 07.06.2021 start beside a 13.06.2021 end an end before its start."""
    df = pd.DataFrame({"start": ["13/01/2024", "20/02/2024", "03/03/2024"],
                       "end": ["05/02/2024", None, "04/03/2024"]})
    out, info = tenure_from_dates(df, "start", "end")
    assert out["tenure_days"].tolist() == [23.0, 13.0, 1.0] and info["observed_until"] == "2024-03-04"
    dots = pd.DataFrame({"start": ["07.06.2021", "08.06.2021", "09.06.2021"], "end": ["13.06.2021", None, None]})
    assert tenure_from_dates(dots, "start", "end")[0]["tenure_days"].tolist() == [6.0, 5.0, 4.0]


def test_the_default_observation_date_is_no_date_after_today_and_no_churn_is_said_of_the_end_column():
    """A scheduled cancellation in 2031 was the table's latest date: every customer's tenure ran to it. An
    observation date before every start, or no end up to it, stopped later on 'the event column churned has no
    event', a column the user never named."""
    df = pd.DataFrame({"signup": ["2022-01-01", "2022-03-01", "2022-06-01"],
                       "cancel": ["2031-06-30", None, "2022-12-31"]})
    out, info = tenure_from_dates(df, "signup", "cancel")
    assert info["observed_until"] == "2022-12-31" and info["after_observation"] == 1
    assert out["tenure_days"].tolist() == [364.0, 305.0, 213.0] and out["churned"].tolist() == [0, 0, 1]
    with pytest.raises(DataError, match=r"the observation date \(2021-06-01\) is before every start in 'signup' "
                                        r"\(the first is 2022-01-01\)"):
        tenure_from_dates(df, "signup", "cancel", observed_until="2021-06-01")
    with pytest.raises(DataError, match=r"column 'cancel': no end dated on or before the observation date "
                                        r"\(2022-06-15; 2 are after it\): no account has left"):
        tenure_from_dates(df, "signup", "cancel", observed_until="2022-06-15")
    with pytest.raises(DataError, match="column 'cancel': empty in every one of the 3 row"):
        tenure_from_dates(df.assign(cancel=None), "signup", "cancel")


def test_numbers_japanese_dates_and_dashes_are_read_as_dates_and_a_same_day_churn_is_kept():
    """Excel's day numbers and YYYYMMDD integers are dates (they were "numbers, not dates... give a duration"), a
    Japanese sheet's 2024年1月31日 too, a dash is an empty end; a cancellation on the day of the signup is a churn
    of half a day (it was left out as never at risk); --observed-until is read only as YYYY-MM-DD (05/06/2024 was
    the 6th of May whatever the table's order)."""
    df = pd.DataFrame({"signup": [45292, 45300, 45310.0], "cancel": [20240131, None, 20240119]})
    out, info = tenure_from_dates(df, "signup", "cancel", observed_until="2024-03-01")
    assert out["tenure_days"].tolist() == [30.0, 52.0, 0.5] and out["churned"].tolist() == [1, 0, 1]
    assert info["same_day"] == 1 and any("Excel's day numbers, e.g. 45292 is 2024-01-01" in n for n in info["notes"])
    assert "1 end on the day of the start counted as half a day" in describe(info)
    ja = pd.DataFrame({"s": ["2024\u5e741\u67081\u65e5", "2024\u5e742\u670810\u65e5"], "e": ["\u30fc", "2024-03-01"]})
    out, _ = tenure_from_dates(ja, "s", "e", observed_until="2024-04-01")
    assert out["tenure_days"].tolist() == [91.0, 20.0] and out["churned"].tolist() == [0, 1]
    with pytest.raises(DataError, match=r"--observed-until '05/06/2024': neither a date written YYYY-MM-DD"):
        tenure_from_dates(ja, "s", "e", observed_until="05/06/2024")
    with pytest.raises(DataError, match=r"holds numbers, not dates \(e.g. 3; neither YYYYMMDD nor Excel's day"):
        tenure_from_dates(pd.DataFrame({"a": [3, 12], "b": ["2024-01-01", None]}), "a", "b")


def _signups(rng, n: int):
    """``n`` accounts' tier, signup day and lifetime (basic ones leave sooner), and the export day."""
    tier = rng.choice(["basic", "pro"], n)
    signup = pd.Series(pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"))
    life = pd.Series(pd.to_timedelta(np.round(rng.exponential(np.where(tier == "basic", 300, 700))) + 2, unit="D"))
    return tier, signup, life, pd.Timestamp("2024-12-31")


def _same_hazard_ratios(tmp_path, capsys, common: list[str], second: str = "periods.csv") -> str:
    """Run engage survival on ``one.csv`` (into ``a``) and on ``second`` (into ``b``) with ``common``; assert both
    give the same hazard ratios and standard errors; return what the second run said on the console."""
    from engage_models.cli import main

    assert main(["survival", "--table", str(tmp_path / "one.csv"), *common, "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["survival", "--table", str(tmp_path / second), *common, "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    a, b = (pd.read_csv(tmp_path / k / "hazard_ratios.csv", index_col="term") for k in "ab")
    assert np.allclose(a["coef"], b["coef"], atol=1e-6) and np.allclose(a["se"], b["se"], atol=1e-6)
    return err


def test_an_account_s_periods_by_date_are_start_stop_rows_and_only_its_last_end_is_churn(tmp_path, capsys):
    """A subscription export writes a row per plan or contract term (customer, from, to): every row but an account's
    last has an end, and --start/--end took each for a churn (and each row for an account from its own start).
    With --id repeating, the periods are the account's start/stop rows from its first start, and only the last
    end is churn: cut in two periods at a random day, a signup/cancel table gives its own hazard ratios."""

    rng, n = np.random.default_rng(5), 200
    tier, signup, life, export = _signups(rng, n)
    cancel = (signup + life).where(signup + life <= export)
    stop = cancel.fillna(export)
    cut = signup + pd.to_timedelta(np.floor((stop - signup).dt.days * rng.uniform(0.2, 0.8, n)), unit="D")
    fmt = "%Y-%m-%d"
    one = pd.DataFrame({"customer": [f"C{i}" for i in range(n)], "signup": signup.dt.strftime(fmt),
                        "cancel": cancel.dt.strftime(fmt), "tier": tier})
    periods = pd.concat([one.assign(cancel=cut.dt.strftime(fmt)), one.assign(signup=cut.dt.strftime(fmt))])
    one.to_csv(tmp_path / "one.csv", index=False)
    periods.sample(frac=1.0, random_state=1).to_csv(tmp_path / "periods.csv", index=False)
    common = ["--start", "signup", "--end", "cancel", "--observed-until", "2024-12-31", "--n-boot", "0", "--cv", "3",
              "--penalizer", "0", "--id", "customer"]
    err = _same_hazard_ratios(tmp_path, capsys, common)
    churned = int(cancel.notna().sum())
    assert (f"churn: 'cancel' filled ({churned} rows); {n} accounts' periods by 'customer', each account's tenure "
            f"from its first start; {n} ends followed by another period of the account: not churn") in err
    pa, pb = (pd.read_csv(tmp_path / k / "per_account.csv", index_col="customer") for k in "ab")
    assert len(pb) == n - churned and np.allclose(pa["expected_remaining_months"],
                                                   pb.loc[pa.index, "expected_remaining_months"], atol=1e-6)
    # what the console said of the dates is kept in evaluation.json and on the page (it was on the console only)
    import json

    table = json.loads((tmp_path / "b" / "evaluation.json").read_text(encoding="utf-8"))["table"]["reshaped"]
    assert table["from_dates"]["continued"] == n and table["said"][0].startswith("tenure in days from 'signup'")
    page = (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert f"{n} ends followed by another period of the account: not churn" in page


def test_an_account_away_between_two_periods_is_said_and_not_at_risk_then():
    plans = pd.DataFrame({"id": ["a", "a", "b", "b", "c"],
                          "from": ["2024-01-01", "2024-04-01", "2024-01-01", "2024-02-01", "2024-03-01"],
                          "to": ["2024-02-01", "", "2024-02-01", "2024-03-01", "2024-03-01"]})
    out, info = tenure_from_dates(plans, "from", "to", observed_until="2024-06-01", id_col="id")
    assert out["entry_days"].tolist() == [0.0, 91.0, 0.0, 31.0, 0.0]  # a's April period after two months away
    assert out["tenure_days"].tolist() == [31.0, 152.0, 31.0, 60.0, 0.5]  # c left on its first day: half a day
    assert out["churned"].tolist() == [0, 0, 0, 1, 1] and (info["continued"], info["gaps"]) == (2, 1)
    assert describe(info).endswith("2 ends followed by another period of the account: not churn; 1 account away "
                                   "between two periods: not at risk then, and not counted as churn; 1 end on the "
                                   "day of the start counted as half a day")
    with pytest.raises(DataError, match=r"^t.csv, id column 'id': empty in 1 row \(first at data rows \[5\]\); "
                                        r"each period needs the account it belongs to$"):
        tenure_from_dates(plans.assign(id=["a", "a", "b", "b", None]), "from", "to", id_col="id", where="t.csv")


def test_a_row_per_measurement_becomes_start_stop_rows_each_holding_to_the_next(tmp_path, capsys):
    """A table of visits or snapshots (survival's pbcseq: id, futime, status, the visit day and its lab values)
    repeats the account's follow-up and outcome on each row: taken as it stands, every visit was an account with
    the whole follow-up, and a churner churned once per visit. With --measured-at each measurement holds to the
    next one and the outcome is on the last interval: visits of covariates that do not change give the one-row
    table's hazard ratios, and a visit after the end of follow-up (its outcome known) is left out and said."""
    from engage_models.cli import main

    rng = np.random.default_rng(7)
    n = 160
    tier = rng.choice(["basic", "pro"], n)
    seats = rng.integers(1, 30, n)
    t = np.round(rng.exponential(np.where(tier == "basic", 300, 700))) + 5
    c = rng.uniform(100, 900, n).round()
    one = pd.DataFrame({"customer": [f"C{i}" for i in range(n)], "days": np.minimum(t, c), "churned": (t <= c) * 1,
                        "tier": tier, "seats": seats})
    visits = pd.concat([one.assign(day=0.0), one.assign(day=np.floor(one["days"] * 0.5)),
                        one.assign(day=one["days"] + 10)])  # the last: after the end, left out
    visits = visits.sample(frac=1.0, random_state=3).reset_index(drop=True)
    first = int(np.flatnonzero(visits["day"].to_numpy() == 0)[0])
    visits["seats"] = visits["seats"].astype(object)
    visits.loc[first, "seats"] = "n/a?"  # a typo in a visit that is kept, named by its row in the file
    visits.to_csv(tmp_path / "visits.csv", index=False)
    one.to_csv(tmp_path / "one.csv", index=False)
    common = ["--duration", "days", "--event", "churned", "--unit", "days", "--id", "customer", "--n-boot", "0",
              "--cv", "3", "--penalizer", "0"]
    assert main(["survival", "--table", str(tmp_path / "one.csv"), *common, "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["survival", "--table", str(tmp_path / "visits.csv"), *common, "--measured-at", "day",
                 "--covariates", "tier", "seats", "--out", str(tmp_path / "b")]) == 2
    assert (f"visits.csv, covariate 'seats': numbers but for 1 cell that is not (first at data rows "
            f"[{first + 1}]") in capsys.readouterr().err  # the file's data row, not a row of the reshaped table
    visits["seats"] = visits["customer"].map(one.set_index("customer")["seats"])
    visits.to_csv(tmp_path / "visits.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "visits.csv"), *common, "--measured-at", "day",
                 "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    a, b = (pd.read_csv(tmp_path / k / "hazard_ratios.csv", index_col="term") for k in "ab")
    assert np.allclose(a["coef"], b["coef"], atol=1e-6) and np.allclose(a["se"], b["se"], atol=1e-6)
    assert f"left out {count(n, 'measurement')} at or after the end of follow-up" in err
    assert "each holds to the account's next one, the last to 'days'; 'churned' on the last interval only" in err
    pa, pb = (pd.read_csv(tmp_path / k / "per_account.csv", index_col="customer") for k in "ab")
    assert np.allclose(pa["expected_remaining_months"], pb.loc[pa.index, "expected_remaining_months"], atol=1e-6)
    # an account's follow-up must be the same on its rows
    visits.loc[visits["customer"] == "C3", "days"] = [100, 200, 300]
    visits.to_csv(tmp_path / "visits.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "visits.csv"), *common, "--measured-at", "day",
                 "--out", str(tmp_path / "c")]) == 2
    assert "duration column 'days': differs among the rows of 1 account (e.g. customer 'C3' at data rows" in \
        capsys.readouterr().err


def test_periods_of_an_account_that_overlap_are_named_by_their_dates():
    """Two periods of an account at once (two products), a period with no end followed by another, and one whose
    end is after the observation date: left to the model, the error named the days from the account's first start
    ('tenure_days = 60.0', 'entry_days = 31.0'), which the export does not hold, and not why an empty end overlaps."""
    plans = pd.DataFrame({"id": ["b", "a", "a", "b"], "from": ["2024-01-01", "2024-01-01", "2024-02-01", "2024-03-01"],
                          "to": ["2024-03-01", "2024-03-01", "2024-05-01", None]})
    run = dict(observed_until="2024-06-01", id_col="id", where="t.csv")
    head = r"^t.csv, columns 'from' and 'to': 1 period begins before the end of an earlier period of its account "
    tail = (r", data row 3 begins 2024-02-01\); an account's periods must follow one another: fill the end of a "
            r"period another follows, and give periods held at once \(two products\) as one period of the account, "
            r"or as accounts of their own$")
    with pytest.raises(DataError, match=head + r"\(e.g. id 'a': data row 2 runs from 2024-01-01 to 2024-03-01" + tail):
        tenure_from_dates(plans, "from", "to", **run)
    with pytest.raises(DataError, match=head + r"\(e.g. id 'a': data row 2 runs from 2024-01-01 with no end, to the "
                                               r"observation date \(2024-06-01\)" + tail):
        tenure_from_dates(plans.assign(to=["2024-03-01", None, "2024-05-01", None]), "from", "to", **run)
    with pytest.raises(DataError, match=head + r"\(e.g. id 'a': data row 2 runs from 2024-01-01 to 2024-07-01, after "
                                               r"the observation date \(2024-06-01\)" + tail):
        tenure_from_dates(plans.assign(to=["2024-03-01", "2024-07-01", "2024-05-01", None]), "from", "to", **run)
    # one after the other, a period beginning on the day the last ended: no overlap
    out, info = tenure_from_dates(plans.assign(**{"from": ["2024-01-01", "2024-01-01", "2024-03-01", "2024-03-01"]}),
                                  "from", "to", **run)
    assert out["churned"].tolist() == [0, 0, 1, 0] and info["continued"] == 2


def test_no_churn_among_periods_says_the_ends_followed_by_another_period():
    """Every end followed by another period of its account: the error said '2 are after it' of ends that were not
    after the observation date (it counted every end written)."""
    plans = pd.DataFrame({"id": ["a", "a", "b", "b"], "from": ["2024-01-01", "2024-03-01", "2024-01-01", "2024-03-01"],
                          "to": ["2024-03-01", None, "2024-03-01", "2024-09-01"]})
    with pytest.raises(DataError, match=r"^t.csv, column 'to': no end dated on or before the observation date "
                                        r"\(2024-06-01; 1 is after it, 2 are followed by another period of their "
                                        r"account\): no account has left"):
        tenure_from_dates(plans, "from", "to", observed_until="2024-06-01", id_col="id", where="t.csv")


def test_a_period_beginning_after_the_observation_date_is_said_and_its_account_left_before_it():
    """A period of an account beginning after the observation date has no time at risk: it was dropped without a
    word, and the end of the account's period before it counted as 'followed by another period', so an account
    away on the observation date was a customer, valued from that end. The period is not known at that date (as
    an end after it is not): left out and said with its rows; the account had left by then, a churn."""
    plans = pd.DataFrame({"id": ["a", "a", "b", "b", "c", "d", "d"],
                          "from": ["2024-01-01", "2024-07-01", "2024-01-01", "2024-03-01", "2024-02-01", "2024-01-01",
                                   "2024-09-01"],
                          "to": ["2024-05-01", None, "2024-03-01", "2024-04-01", None, "2024-09-01", None]})
    out, info = tenure_from_dates(plans, "from", "to", observed_until="2024-06-01", id_col="id")
    assert out["churned"].tolist() == [1, 0, 0, 1, 0, 0, 0]  # a left on 1 May; d's first period runs past June
    assert out["tenure_days"].tolist()[:2] == [121.0, 152.0] and out["entry_days"].tolist()[:2] == [0.0, 182.0]
    assert info["not_begun"] == {"rows": 2, "first_rows": [2, 7], "accounts_left": 1}
    assert (info["continued"], info["gaps"], info["events"]) == (1, 0, 2)
    assert ("; 2 periods beginning after the observation date (first at data rows [2, 7]): not begun then, left out; "
            "1 account of them had left by then (no period running): churn at the end of its last period before it, "
            "the return not known at that date") in describe(info)
    # observed later, the return is known: a gap, not churn
    out, info = tenure_from_dates(plans, "from", "to", observed_until="2024-12-01", id_col="id")
    assert out["churned"].tolist()[:2] == [0, 0] and info["gaps"] == 1 and info["not_begun"]["rows"] == 0
    assert "beginning after the observation date" not in describe(info)
    # a table of one row per account: a signup after the date is said too
    out, info = tenure_from_dates(plans.iloc[[2, 6]], "from", "to", observed_until="2024-06-01")
    assert info["not_begun"] == {"rows": 1, "first_rows": [2]} and "first at data rows [2]" in describe(info)


def test_an_account_s_periods_share_its_latest_observation_date_from_a_column():
    """--observed-until COLUMN with periods: each period ran to its own row's date, so an end written after that
    row's date (a period closed later than the snapshot of its row) was taken as 'after the observation date' and
    the period stopped short of the next, a hole of days at risk nowhere. The account's periods share its latest
    date, said when they differed; an empty end followed by another period then overlaps it, said with the date."""
    plans = pd.DataFrame({"id": ["a", "a", "b", "b", "c"],
                          "from": ["2024-01-01", "2024-03-01", "2024-01-01", "2024-02-01", "2024-01-15"],
                          "to": ["2024-03-01", None, "2024-02-01", "2024-04-01", None],
                          "seen": ["2024-02-15", "2024-06-01", "2024-02-01", "2024-05-01", "2024-05-15"]})
    out, info = tenure_from_dates(plans, "from", "to", observed_until="seen", id_col="id")
    assert out["entry_days"].tolist() == [0.0, 60.0, 0.0, 31.0, 0.0]
    assert out["tenure_days"].tolist() == [60.0, 152.0, 31.0, 91.0, 121.0]
    assert out["churned"].tolist() == [0, 0, 0, 1, 0] and info["after_observation"] == 0
    assert (info["observed_until_differing"], info["continued"]) == (2, 2)
    assert "or to each account's latest 'seen' where it is empty" in describe(info)
    assert ("; 2 accounts with a different 'seen' on their periods: the latest taken for every period of the "
            "account") in describe(info)
    with pytest.raises(DataError, match=r"\(e.g. id 'a': data row 1 runs from 2024-01-01 with no end, to the "
                                        r"observation date \(2024-06-01\), data row 2 begins 2024-03-01\)"):
        tenure_from_dates(plans.assign(to=[None, None, "2024-02-01", "2024-04-01", None]), "from", "to",
                          observed_until="seen", id_col="id", where="t.csv")


def test_an_account_s_status_on_every_period_is_the_churn_of_its_last(tmp_path, capsys):
    """--start/--end with --id and --event: a subscription export writes the account's status on each of its plans
    (churned on every period of a churned account), and engage survival stopped on 'churn on a row before their
    last'. Written the same on every period of an account, it is taken on the last period only, and said: the
    hazard ratios of the one-row table. A value that differs among an account's periods still stops."""
    from engage_models.cli import main

    rng, n = np.random.default_rng(9), 150
    tier, signup, life, export = _signups(rng, n)
    churned = (signup + life <= export).astype(int)
    stop = (signup + life).where(churned == 1, export)
    cut = signup + pd.to_timedelta(np.floor((stop - signup).dt.days * rng.uniform(0.2, 0.8, n)), unit="D")
    fmt = "%Y-%m-%d"
    one = pd.DataFrame({"customer": [f"C{i}" for i in range(n)], "signup": signup.dt.strftime(fmt),
                        "last": stop.dt.strftime(fmt), "status": np.where(churned == 1, "churned", "active"),
                        "tier": tier})
    periods = pd.concat([one.assign(last=cut.dt.strftime(fmt)), one.assign(signup=cut.dt.strftime(fmt))])
    periods = periods.sample(frac=1.0, random_state=2)
    one.to_csv(tmp_path / "one.csv", index=False)
    periods.to_csv(tmp_path / "periods.csv", index=False)
    common = ["--start", "signup", "--end", "last", "--event", "status", "--event-value", "churned",
              "--observed-until", "2024-12-31", "--n-boot", "0", "--cv", "3", "--penalizer", "0", "--id", "customer"]
    err = _same_hazard_ratios(tmp_path, capsys, common)
    assert (f"{int(churned.sum())} accounts with the same churn in 'status' on every one of their periods (first "
            f"at data rows [") in err and "taken as the churn of its last period only" in err
    # churned on the first period and active on the last: not a status, the churn is before the last row
    who = one.loc[churned == 0, "customer"].iloc[0]
    first = (periods["customer"] == who) & (periods["signup"] == one.set_index("customer").loc[who, "signup"])
    periods.loc[first.to_numpy(), "status"] = "churned"
    periods.to_csv(tmp_path / "periods.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "periods.csv"), *common, "--out", str(tmp_path / "c")]) == 2
    assert f"1 account churns on a row before its last (e.g. customer '{who}'" in capsys.readouterr().err


def test_an_event_column_s_churn_dated_after_the_observation_date_is_not_known_then():
    """With --event, a status of 1 on a row whose end is after the observation date was a churn at the observation
    date, while the console said the row was "taken as still a customer then" (a reviewer's 300-account periods
    table: concordance 0.557 without --event, 0.456 with). The churn is not known at that date: 0 there (for every
    period of an account whose last period runs past it), and said; a text status read by --event-value too."""
    df = pd.DataFrame({"id": ["a", "a", "b", "c"], "s": ["2023-01-01", "2023-06-01", "2023-01-01", "2023-02-01"],
                       "e": ["2023-06-01", "2024-05-01", "2024-05-01", "2023-09-01"], "status": [1, 1, 1, 1]})
    out, info = tenure_from_dates(df, "s", "e", observed_until="2024-01-01", id_col="id", event="status")
    assert out["status"].tolist() == [0, 0, 0, 1] and out["tenure_days"].tolist() == [151.0, 365.0, 365.0, 212.0]
    assert ("2 ends dated after the observation date taken as still a customer then ('status' taken as 0 on 3 "
            "rows)") in describe(info)
    one, _ = tenure_from_dates(df.iloc[2:].assign(status=["churned", "churned"]).reset_index(drop=True), "s", "e",
                               observed_until="2024-01-01", event="status")
    from engage_models.health.tables import _label

    assert _label(one["status"], "t.csv", ["churned"]).tolist() == [0.0, 1.0]
    # an account away at the observation date: with --event its last end is a churn only where the column says so
    away = pd.DataFrame({"id": ["a", "a", "b"], "s": ["2023-01-01", "2024-06-01", "2023-01-01"],
                         "e": ["2023-06-01", None, None], "status": [0, 0, 0]})
    _, info = tenure_from_dates(away, "s", "e", observed_until="2024-01-01", id_col="id", event="status")
    said = describe(info)
    assert "its last period before it ending there, as 'status' says (a churn only where it says so)" in said
    assert "churn at the end of" not in said


def test_an_event_column_s_churn_on_a_period_not_begun_by_the_observation_date_is_not_read(tmp_path, capsys):
    """With --event, a period beginning after the observation date with no end and a status of 1 (an export's
    return that churned again, or a status copied onto the account's every row) stopped engage survival on 'a churn
    on a row of no time at risk that does not follow the end of its account's other rows'. The period is not known
    at that date and is left out, said: so is what its event column says."""

    rng, n = np.random.default_rng(3), 80
    tier, signup, life, export = _signups(rng, n)
    churned = (signup + life <= export).astype(int)
    fmt = "%Y-%m-%d"
    one = pd.DataFrame({"customer": [f"C{i}" for i in range(n)], "signup": signup.dt.strftime(fmt),
                        "last": (signup + life).where(churned == 1).dt.strftime(fmt), "status": churned, "tier": tier})
    later = pd.DataFrame({"customer": ["C0"], "signup": ["2025-03-01"], "last": [None], "status": [1],
                          "tier": ["pro"]})
    out, info = tenure_from_dates(pd.concat([one, later], ignore_index=True), "signup", "last", event="status",
                                  observed_until="2024-12-31", id_col="customer")
    assert out["status"].tolist() == [*churned.tolist(), 0] and info["not_begun"]["rows"] == 1
    assert "taken as 0" not in describe(info)  # no end after the date: the period is said as not begun
    common = ["--start", "signup", "--end", "last", "--event", "status", "--observed-until", "2024-12-31",
              "--n-boot", "0", "--cv", "3", "--penalizer", "0", "--id", "customer"]
    one.to_csv(tmp_path / "one.csv", index=False)
    pd.concat([one, later]).to_csv(tmp_path / "later.csv", index=False)
    err = _same_hazard_ratios(tmp_path, capsys, common, second="later.csv")
    assert (f"1 period beginning after the observation date (first at data rows [{n + 1}]): not begun then, left "
            "out") in err


def test_the_japanese_page_says_how_dates_and_visits_were_reshaped_in_japanese(tmp_path, capsys):
    """engage survival --lang ja printed how --start/--end periods or --measured-at visits became start/stop rows in
    English on its Japanese page. The console and evaluation.json keep the English; the page says it in Japanese, a
    count of one singular in English ('1 account's periods', not '1 accounts' periods')."""
    import json

    from engage_models.cli import main
    from engage_models.survival.from_visits import describe as visits_said

    rng, n = np.random.default_rng(11), 90
    tier, signup, life, export = _signups(rng, n)
    cancel = (signup + life).where(signup + life <= export)
    cut = signup + pd.to_timedelta(np.floor((cancel.fillna(export) - signup).dt.days * 0.5), unit="D")
    fmt = "%Y-%m-%d"
    one = pd.DataFrame({"customer": [f"C{i}" for i in range(n)], "signup": signup.dt.strftime(fmt),
                        "cancel": cancel.dt.strftime(fmt), "tier": tier})
    pd.concat([one.assign(cancel=cut.dt.strftime(fmt)), one.assign(signup=cut.dt.strftime(fmt))]).to_csv(
        tmp_path / "periods.csv", index=False)
    assert main(["survival", "--table", str(tmp_path / "periods.csv"), "--start", "signup", "--end", "cancel",
                 "--id", "customer", "--observed-until", "2024-12-31", "--n-boot", "0", "--cv", "3", "--lang", "ja",
                 "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    page = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    said = json.loads((tmp_path / "o" / "evaluation.json").read_text(encoding="utf-8"))["table"]["reshaped"]["said"]
    assert said[0].startswith("tenure in days from 'signup' to 'cancel'") and said[0] in err
    assert "tenure in days" not in page and "followed by another period" not in page
    assert ("契約期間は&#x27;signup&#x27;から&#x27;cancel&#x27;までの日数" in page
            and f"同じ顧客の次の期間が続く終了{n}件は解約ではありません" in page)
    info = {"start": "s", "end": "e", "observed_until": "2024-01-01", "observed_until_is_column": False,
            "observed_until_default": False, "after_observation": 0, "event_from_end": True, "events": 1,
            "entry": "entry_days", "accounts": 1, "id": "id", "continued": 1, "gaps": 1}
    assert ("churn: 'e' filled (1 row); 1 account's periods by 'id', each account's tenure from its first start; 1 "
            "end followed by another period of the account: not churn; 1 account away between two periods") in (
        describe(info))
    visits = {"start": "start", "stop": "stop", "accounts": 3, "measured_accounts": 2, "at": "day",
              "duration": "futime", "event": "status", "id": "id", "late_first": 1, "outcomes": None,
              "after_end": {"rows": 1, "first_rows": [4]}, "same_time": {"rows": 0, "first_rows": []}}
    ja = visits_said(visits, "ja")
    assert len(ja) == len(visits_said(visits)) == 3 and all(line.isascii() for line in visits_said(visits))
    assert ja[1].startswith("観察終了時点以降の測定値1件（最初はデータ行 [4]）を除外しました")
    assert "開始より後に初めて測定された1社" in ja[2]
