"""What the run's dates say on report 01 (``engage_models.ingest.quality.date_notes``), in both languages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engage_models.ingest.quality import churn_stop, data_dates, date_notes

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_data_quality.ipynb"


def _events(processed: Path, times) -> Path:
    processed.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"account_id": "A1", "timestamp": pd.to_datetime(list(times), utc=True).astype("datetime64[us, UTC]"),
                  "event_type": "login"}).to_parquet(processed / "events.parquet", index=False)
    return processed


def test_report_01_says_a_month_s_first_day_the_data_only_begin_in_both_languages(tmp_path):
    """A month's first day the data only begin (an export run on 1 February at 02:40) was said in ``dates.json`` and
    on the console only: report 01 said nothing of the day left after the observation date. It says it now, with
    how to take the day in, in English and Japanese; nothing when there is nothing to say."""
    january = [f"2025-01-{d:02d} {h:02d}:{m:02d}:00" for d in range(1, 32) for h in range(24) for m in (10, 40)]
    morning = [f"2025-02-01 0{h}:{m:02d}:00" for h in range(3) for m in (10, 40)]
    processed = _events(tmp_path / "processed", [*january, *morning])
    dates = data_dates(processed)
    assert dates["partial_day"]["day"] == "2025-02-01"
    assert date_notes(dates, "en") == [
        "The events end at 02:40 on 1 Feb 2025, a month's first day with 6 events where a usual day has 48, 88% of "
        "them later in the day than that: an export run in that day's first hours. So the observation date is 1 Feb "
        "2025 and that day's events come after it, in no metric; give `--as-of 2025-02-02` to take them in."]
    assert date_notes(dates, "ja") == [
        "イベントは2025年2月1日の02:40で終わっています。この日は月の初日で、イベントは6件です（通常の日は48件で、そのうち"
        "88%はこの時刻より遅い時間帯）。その日の早い時間に実行されたエクスポートのため、観測日を2025年2月1日とし、"
        "この日のイベントは観測日より後として、どの指標にも含めていません。含めるには `--as-of 2025-02-02` を"
        "指定してください。"]
    # the date given, a whole last day, a dates.json of before: nothing to say
    assert date_notes(data_dates(processed, "2025-02-02"), "en") == []
    whole = _events(tmp_path / "whole", [*january, *(f"2025-02-01 {h:02d}:30:00" for h in (0, 9, 23))])
    assert date_notes(data_dates(whole), "ja") == []
    assert date_notes({"as_of": "2025-02-01T00:00:00+00:00"}, "en") == []
    # report 01 shows them
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]]
    assert any("quality.date_notes(run[\"ingest\"].json(\"dates\"), lang)" in c for c in cells)



def _accounts(processed: Path, ends) -> Path:
    """``accounts.parquet``: an account churned on each day of ``ends``, and 50 that have not churned."""
    ends = pd.to_datetime([*map(str, ends), *[None] * 50], utc=True)
    pd.DataFrame({"account_id": [f"A{i}" for i in range(len(ends))], "start_date": pd.Timestamp("2022-06-01", tz="UTC"),
                  "end_date": ends}).astype({"start_date": "datetime64[us, UTC]", "end_date": "datetime64[us, UTC]"}
                                            ).to_parquet(processed / "accounts.parquet", index=False)
    return processed


def _every(days: int, first: str, last: str) -> list[pd.Timestamp]:
    """A churn every ``days`` days from ``first`` on, the last on ``last``."""
    span = (pd.Timestamp(last) - pd.Timestamp(first)).days
    return [pd.Timestamp(last) - pd.Timedelta(days=k * days) for k in range(span // days, -1, -1)]


def _world(tmp_path: Path, name: str, ends) -> Path:
    """Events at noon every day of 2023 and 2024 (the observation date: 1 Jan 2025), and churn on ``ends``."""
    days = pd.date_range("2023-01-01", "2024-12-31", freq="D") + pd.Timedelta(hours=12)
    return _accounts(_events(tmp_path / name, days), ends)


#: the first quarter's customers churn most (a cohort's first months): 3 a day, then one every 3 days
BURST = [d for d in pd.date_range("2023-01-01", "2023-03-31") for _ in range(3)]


def test_churn_that_stops_months_before_the_observation_date_is_said_with_its_date(tmp_path, caplog):
    """A purchase log turned into accounts (churned after 180 days without a purchase, dated at the last one) has no
    churn in its last 180 days: its model learned that recent accounts never churn, and nothing warned. Churn of 10
    a month that stops on 30 June 2024, six months before the observation date, is said in the dates (``dates.json``),
    on the console and on report 01, in both languages, with the day to give as ``--as-of``; the drop after the first
    quarter's many churns is not the stop said."""
    caplog.set_level("WARNING", logger="engage_models.ingest.quality")
    processed = _world(tmp_path, "stop", [*BURST, *_every(3, "2023-04-01", "2024-06-29")])
    dates = data_dates(processed)
    assert dates["as_of"] == "2025-01-01T00:00:00+00:00"
    assert dates["churn_stop"] == {"stop": "2024-06-30", "as_of": "2025-01-01", "months": 6.1, "per_month": 10.0,
                                   "after": 0, "expected": 60.8, "p": dates["churn_stop"]["p"], "churns": 422}
    assert dates["churn_stop"]["p"] < 1e-6  # 60 churns of the 6 months before, none in the 185 days after
    advice = ("while the 6 months before had a median of 10 churns a month (so few by chance at that rate: p < "
              "0.001). Churn dated when it happened but known only later (at a customer's last purchase once they "
              "have lapsed, say) leaves the last months' outcomes unknown, and a model learns that recent accounts "
              "never churn: give `--as-of 2024-06-30`, or date each churn on the day it was recognised.")
    assert caplog.messages == ["accounts: churn stops at 2024-06-30: no account's end_date falls in the 6.1 months "
                               f"from then to the observation date 2025-01-01, {advice}"]
    assert date_notes(dates, "en") == ["accounts: churn stops at 30 Jun 2024: no account's end_date falls in the 6.1 "
                                       f"months from then to the observation date 1 Jan 2025, {advice}"]
    assert date_notes(dates, "ja") == [
        "accounts：解約が2024年6月30日で止まっています。その日から観測日2025年1月1日までの6.1か月に end_date のある"
        "顧客はありません。その前の6か月の解約は月の中央値で10件で、この率で偶然これほど少なくなる確率は p < 0.001 "
        "です。解約を起きた日付で記録していても、分かるのが後になる場合（購入が途絶えた顧客を、最後の購入日に解約した"
        "とする場合など）、直近の月の結果はまだ分からず、モデルは最近の顧客は解約しないと学習します。`--as-of "
        "2024-06-30` を指定するか、解約を判明した日付で記録してください。"]
    # the date given as said: the churn runs to it, nothing to say
    assert "churn_stop" not in data_dates(processed, "2024-06-30")


def test_churn_that_falls_to_a_few_is_said_as_all_but_stopping(tmp_path):
    """A churn a day to 31 August 2024, then one a month: 4 where about 122 were due."""
    ends = [*_every(1, "2023-01-01", "2024-08-31"), *pd.to_datetime(["2024-09-15", "2024-10-15", "2024-11-15",
                                                                      "2024-12-15"])]
    found = data_dates(_world(tmp_path, "few", ends))["churn_stop"]
    assert {k: found[k] for k in ("stop", "months", "per_month", "after", "expected")} == {
        "stop": "2024-09-01", "months": 4.0, "per_month": 30.5, "after": 4, "expected": 122.3}
    assert date_notes({"churn_stop": found}, "en")[0].startswith(
        "accounts: churn all but stops at 1 Sep 2024: only 4 churns fall in the 4.0 months from then to the "
        "observation date 1 Jan 2025, where about 122 were due, while")


def test_churn_that_runs_to_the_end_or_is_rare_is_not_said(tmp_path, caplog):
    """No stop is said of churn that runs on to the observation date (one every 3 days, the last on 30 December), of
    a handful of churns that end months before it (8 in the first five months of 2024: a median under 3 a month),
    nor of churn in renewal months only (40 each March and September: the months' median is 0)."""
    caplog.set_level("WARNING", logger="engage_models.ingest.quality")
    renewals = [d for m in ("2023-03-15", "2023-09-15", "2024-03-15", "2024-09-15") for d in [m] * 40]
    for name, ends in (("steady", [*BURST, *_every(3, "2023-04-01", "2024-12-30")]),
                       ("handful", _every(19, "2024-01-01", "2024-05-20")), ("renewals", renewals), ("none", [])):
        dates = data_dates(_world(tmp_path, name, ends))
        assert "churn_stop" not in dates and date_notes(dates, "en") == [], name
    assert caplog.messages == []


def test_churn_that_falls_steadily_is_no_stop(tmp_path):
    """Churn that halves every six months over three years (80 a month at the start, under 2 at the end: a product
    that got better) was said to stop: a long stretch of the last months held under a quarter of the churns the months
    before it gave. A stop is looked for in the last year only: a lag of recognising churn longer than that is no
    lag."""
    falling = [pd.Timestamp("2022-01-01") + pd.DateOffset(months=m) + pd.Timedelta(days=int(28 * (i + 0.5) / k))
               for m in range(36) for k in [round(80 * 0.5 ** (m / 6))] for i in range(k)]
    dates = data_dates(_world(tmp_path, "falling", falling))
    assert "churn_stop" not in dates, dates.get("churn_stop")


def test_a_lull_that_comes_back_every_year_is_no_stop(tmp_path):
    """Churn of 8 a month but 1 from July to September (a school product's summer) was said to "all but stop" each
    autumn, with --as-of advice that threw months of good data away: the stretch is also held against the same
    stretch a year earlier, which was as quiet."""
    ends = [ms + pd.Timedelta(days=int(day)) for ms in pd.date_range("2023-01-01", "2025-09-01", freq="MS")
            for day in np.linspace(1, 27, 1 if ms.month in (7, 8, 9) else 8).round()]
    processed = _accounts(tmp_path, ends)
    assert churn_stop(processed, "2025-10-01") is None and churn_stop(processed, "2024-10-01") is None
    # the same quiet months in a year whose summer before was not quiet: a stop
    steady = [ms + pd.Timedelta(days=int(day)) for ms in pd.date_range("2023-01-01", "2025-06-01", freq="MS")
              for day in np.linspace(1, 27, 8).round()]
    assert churn_stop(_accounts(tmp_path, steady), "2025-10-01")["stop"] == "2025-06-29"  # the day after the last


def test_the_demo_world_says_no_stop(demo_world):
    """The demo world (``make report``'s: 2,000 accounts over 24 months, churn to the end) says nothing."""
    dates = data_dates(demo_world / "processed")
    assert "churn_stop" not in dates and date_notes(dates, "ja") == []


def test_engage_ingest_says_a_churn_stop_too(tmp_path, caplog):
    """engage ingest printed its tables and said nothing of the dates: churn that stops months before the data end
    was said by engage run's ingest stage only. It is said by engage ingest as well."""
    from engage_models.cli import main
    from test_ingest import _tables, _write

    caplog.set_level("WARNING", logger="engage_models.ingest.quality")
    t = _tables()
    ends = [*BURST, *_every(3, "2023-04-01", "2024-06-29")]
    t["accounts"] = [{**t["accounts"][0], "account_id": f"C{i}", "start_date": "2022-06-01",
                      "end_date": f"{d:%Y-%m-%d}"} for i, d in enumerate(ends)] + t["accounts"]
    t["events"] = [{**t["events"][0], "timestamp": f"{d:%Y-%m-%d}T12:00:00Z"}
                   for d in pd.date_range("2023-01-01", "2024-12-31", freq="D")]
    raw = _write(tmp_path / "raw", t)
    assert main(["ingest", "--raw", str(raw), "--out", str(tmp_path / "processed"), "--now", "2025-01-01",
                 "--timezone", "UTC"]) == 0
    assert [m for m in caplog.messages if m.startswith("accounts: churn stops at 2024-06-30")], caplog.messages


def test_a_header_only_events_file_takes_its_dates_from_the_accounts_and_says_a_churn_stop(tmp_path, caplog):
    """A purchase log's user with a header-only events file: the run took its dates from the accounts through a
    second, partial copy of the date rules inside the ingest stage, and engage ingest, which reads the dates' own
    function, said nothing of churn that stops months before them. One function gives the dates of either world:
    no first or last event, the accounts' observation date, the churn stop said by engage ingest too; with no
    account kept either, the reason there is no date."""
    from engage_models._core.errors import InsufficientData
    from engage_models.cli import main
    from test_ingest import _tables, _write

    caplog.set_level("WARNING", logger="engage_models.ingest.quality")
    t = _tables()
    ends = [*BURST, *_every(3, "2023-04-01", "2024-06-29")]
    t["accounts"] = [{**t["accounts"][0], "account_id": f"C{i}", "start_date": "2022-06-01",
                      "end_date": f"{d:%Y-%m-%d}"} for i, d in enumerate(ends)] + t["accounts"][:1]
    t["accounts"][-1]["start_date"] = "2024-12-31"  # the last new customer: the accounts' own observation date
    t.pop("events")
    raw = _write(tmp_path / "raw", t)
    (raw / "events.csv").write_text("account_id,user_id,timestamp,event_type,feature\n", encoding="utf-8")
    processed = tmp_path / "processed"
    assert main(["ingest", "--raw", str(raw), "--out", str(processed), "--now", "2025-01-01",
                 "--timezone", "UTC"]) == 0
    assert [m for m in caplog.messages if m.startswith("accounts: churn stops at 2024-06-30")], caplog.messages
    dates = data_dates(processed, "2025-01-01")
    assert dates["no_events"] and dates["first_event"] is None and dates["last_event"] is None
    assert dates["as_of"] == "2025-01-01T00:00:00+00:00" and dates["churn_stop"]["stop"] == "2024-06-30"
    assert data_dates(processed)["as_of"] == "2024-12-31T00:00:00+00:00"  # the accounts' own: the last start
    assert [n[:40] for n in date_notes(dates, "en")] == ["The events table has no rows (its file h",
                                                          "accounts: churn stops at 30 Jun 2024: no"]
    pd.read_parquet(processed / "accounts.parquet").head(0).to_parquet(processed / "accounts.parquet", index=False)
    with pytest.raises(InsufficientData) as caught:  # nothing to take a date from
        data_dates(processed)
    assert caught.value.why.key == "reason.no_events"
