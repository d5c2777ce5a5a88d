"""The company's calendar (``timezone``): days and months begin at its midnight, whatever zone the data were
written in, and no result depends on the machine's own time zone."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from engage_models._core.errors import ConfigError
from engage_models._core.time import check_zone, parse_run_date, wall_clock
from engage_models.ingest import contracts as C
from engage_models.ingest import ingest, load
from engage_models.ingest.quality import events_per_day
from engage_models.pipeline import RunConfig
from engage_models.pipeline.stages import run_date_end

TOKYO = "Asia/Tokyo"
#: one moment, 2025-02-01 00:42 in Tokyo, written four ways, and a moment 22 minutes earlier (still January there)
SAME_MOMENT = ("2025-01-31T15:42:00Z", "2025-02-01 00:42:00", "2025-02-01T00:42:00+09:00", "2025-01-31T16:42:00+01:00")
EARLIER = "2025-01-31T15:20:00Z"  # 2025-02-01 00:20 in Tokyo


def _raw(folder: Path, stamps, sources: str | None = None) -> Path:
    folder.mkdir(parents=True)
    pd.DataFrame([{"account_id": "A1", "name": "Acme", "segment": "SMB", "plan": "Pro", "mrr": 100,
                   "start_date": "2024-01-01", "end_date": "", "region": "JP"}]).to_csv(folder / "accounts.csv",
                                                                                       index=False)
    pd.DataFrame([{"account_id": "A1", "user_id": f"U{i}", "timestamp": ts, "event_type": "login"}
                  for i, ts in enumerate(stamps)]).to_csv(folder / "events.csv", index=False)
    for name in ("tickets", "touchpoints", "surveys"):  # a company without any: the header alone
        (folder / f"{name}.csv").write_text(",".join(C.CONTRACTS[name].required_columns) + "\n", encoding="utf-8")
    if sources:
        (folder / "sources.yaml").write_text(sources, encoding="utf-8")
    return folder


def _stamps(processed: Path) -> list[pd.Timestamp]:
    ev = load("events", processed).sort_values("user_id")
    return [pd.Timestamp(t) for t in ev["timestamp"]]


def test_every_way_of_writing_one_moment_is_the_same_tokyo_wall_clock_time(tmp_path):
    raw = _raw(tmp_path / "raw", SAME_MOMENT)
    report = ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    assert report.rows_quarantined == 0
    assert _stamps(tmp_path / "p") == [pd.Timestamp("2025-02-01 00:42", tz="UTC")] * 4
    assert load("accounts", tmp_path / "p")["start_date"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert report.timezone == TOKYO and report.tables["events"].timezone == TOKYO


def test_without_a_calendar_nothing_changes_naive_times_are_utc(tmp_path):
    raw = _raw(tmp_path / "raw", SAME_MOMENT)
    report = ingest(raw, tmp_path / "p", now="2026-01-01")
    got = _stamps(tmp_path / "p")
    assert got == [pd.Timestamp("2025-01-31 15:42", tz="UTC"), pd.Timestamp("2025-02-01 00:42", tz="UTC"),
                   pd.Timestamp("2025-01-31 15:42", tz="UTC"), pd.Timestamp("2025-01-31 15:42", tz="UTC")]
    assert report.timezone == "UTC"


def test_a_table_written_in_utc_says_so_in_the_sources_file(tmp_path):
    # a product-analytics export in naive UTC beside a Tokyo company's CRM
    raw = _raw(tmp_path / "raw", ["2025-01-31 15:42:00", "2025-02-01T00:42:00+09:00"],
               sources="tables:\n  events:\n    timezone: UTC\n")
    report = ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    assert _stamps(tmp_path / "p") == [pd.Timestamp("2025-02-01 00:42", tz="UTC")] * 2
    assert report.tables["events"].timezone == "UTC" and report.tables["accounts"].timezone == TOKYO


def test_a_parquet_source_naive_and_aware_columns(tmp_path):
    raw = _raw(tmp_path / "raw", [])
    (raw / "events.csv").unlink()
    naive = pd.to_datetime(["2025-02-01 00:42"])
    aware = pd.to_datetime(["2025-01-31 15:42"]).tz_localize("UTC")
    for name, col in (("naive", naive), ("aware", aware)):
        folder = raw / "events"
        folder.mkdir(exist_ok=True)
        pd.DataFrame({"account_id": ["A1"], "user_id": [name], "timestamp": col, "event_type": ["login"]}).to_parquet(
            folder / f"{name}.parquet")
        ingest(raw, tmp_path / f"p_{name}", now="2026-01-01", timezone=TOKYO)
        (folder / f"{name}.parquet").unlink()
        assert _stamps(tmp_path / f"p_{name}") == [pd.Timestamp("2025-02-01 00:42", tz="UTC")], name


def test_the_future_is_judged_on_the_calendars_clock(tmp_path):
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[0], EARLIER])
    # now = 00:30 on 1 Feb in Tokyo: the 00:20 login has happened, the 00:42 one has not (on the run date's clock:
    # it is before the machine's, so it is set aside as after the run date, not as in the future)
    report = ingest(raw, tmp_path / "p", now="2025-02-01 00:30", timezone=TOKYO)
    assert report.tables["events"].by_reason == {"timestamp after the run date": 1}
    assert _stamps(tmp_path / "p") == [pd.Timestamp("2025-02-01 00:20", tz="UTC")]
    # the same "now" given as a moment elsewhere: 2025-01-31T15:30Z is 00:30 in Tokyo
    again = ingest(raw, tmp_path / "q", now="2025-01-31T15:30:00Z", timezone=TOKYO)
    assert again.tables["events"].by_reason == {"timestamp after the run date": 1}
    assert pd.Timestamp(again.now) == pd.Timestamp("2025-02-01 00:30", tz="UTC")


def test_days_are_the_calendars_days_downstream(tmp_path):
    # 15:20Z and 15:42Z on 31 Jan, and 14:00Z: in Tokyo, two logins on 1 Feb and one on 31 Jan
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[0], EARLIER, "2025-01-31T14:00:00Z"])
    ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    days = events_per_day(tmp_path / "p").groupby("day")["events"].sum()
    assert days.to_dict() == {pd.Timestamp("2025-01-31", tz="UTC"): 1, pd.Timestamp("2025-02-01", tz="UTC"): 2}
    ingest(raw, tmp_path / "u", now="2026-01-01")
    assert events_per_day(tmp_path / "u")["events"].sum() == 3
    assert set(events_per_day(tmp_path / "u")["day"]) == {pd.Timestamp("2025-01-31", tz="UTC")}


def test_tables_read_again_alone_must_be_on_the_same_calendar(tmp_path):
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[0]])
    ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    with pytest.raises(ConfigError, match="calendar of Asia/Tokyo, not UTC"):
        ingest(raw, tmp_path / "p", now="2026-01-01", tables=("events",))
    assert _stamps(tmp_path / "p") == [pd.Timestamp("2025-02-01 00:42", tz="UTC")]  # left as it was
    ingest(raw, tmp_path / "p", now="2026-01-01", tables=("events",), timezone=TOKYO)


@pytest.mark.parametrize("bad", ["JST", "+09:00", "Asia/Tokio", "", "../etc/passwd", 9, "localtime",
                                 "posix/Asia/Tokyo", "right/Asia/Tokyo", "Factory"])
def test_an_unknown_zone_is_refused_where_it_was_given(tmp_path, bad):
    with pytest.raises(ConfigError, match="unknown time zone"):
        check_zone(bad)
    with pytest.raises(ConfigError, match="^timezone: unknown time zone"):
        RunConfig.from_dict({"timezone": bad})
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[0]], sources=f"tables:\n  events:\n    timezone: {json.dumps(bad)}\n")
    with pytest.raises(ConfigError, match=r"sources.yaml, table 'events': unknown time zone"):
        ingest(raw, tmp_path / "p", now="2026-01-01")
    assert not (tmp_path / "p").exists()


def test_the_run_date_is_today_on_the_calendar():
    for zone in ("UTC", TOKYO, "America/Los_Angeles"):
        before = datetime.now(ZoneInfo(zone)).date()
        got = date.fromisoformat(parse_run_date(None, zone))
        assert got in (before, before + timedelta(days=1))  # the same day unless midnight passed between
    cfg = RunConfig.from_dict({"timezone": TOKYO, "run_date": "2025-02-01"})
    # ingest's "now" is the end of the run date on the company's clock, as ingest stores times
    assert run_date_end(cfg) == pd.Timestamp("2025-02-02", tz="UTC")
    assert wall_clock("2025-02-01T15:00:00Z", TOKYO) == pd.Timestamp("2025-02-02", tz="UTC")


def test_the_cli_reads_on_the_calendar_given(tmp_path):
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[1]])
    done = subprocess.run([sys.executable, "-m", "engage_models", "ingest", "--raw", str(raw), "--out",
                           str(tmp_path / "p"), "--timezone", TOKYO], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "p" / "ingest_report.json").read_text())["timezone"] == TOKYO
    for zone in ("JST", "", "localtime"):  # an empty one (an unset variable) is not UTC in silence
        bad = subprocess.run([sys.executable, "-m", "engage_models", "ingest", "--raw", str(raw), "--out",
                              str(tmp_path / "q"), "--timezone", zone], capture_output=True, text=True)
        assert bad.returncode == 2 and f"unknown time zone {zone!r}" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


_USERS = """
import sys
from engage_models.journeys.users import user_metrics
df = user_metrics(sys.argv[1], "2025-03-01", days=90)
print(int(df["user_active_days"].iloc[0]))
"""


def test_a_users_active_days_do_not_depend_on_the_machines_zone(tmp_path):
    # 10:00Z and 20:00Z on 5 Jan: one day in UTC; on a Tokyo machine DuckDB's default session zone made it two
    raw = _raw(tmp_path / "raw", [])
    pd.DataFrame([{"account_id": "A1", "user_id": "U1", "timestamp": ts, "event_type": "login"}
                  for ts in ("2025-01-05T10:00:00Z", "2025-01-05T20:00:00Z")]).to_csv(raw / "events.csv", index=False)
    ingest(raw, tmp_path / "p", now="2026-01-01")
    seen = {}
    for tz in ("UTC", TOKYO):
        done = subprocess.run([sys.executable, "-c", _USERS, str(tmp_path / "p")], capture_output=True, text=True,
                              env={**__import__("os").environ, "TZ": tz})
        assert done.returncode == 0, done.stderr
        seen[tz] = int(done.stdout.split()[-1])
    assert seen == {"UTC": 1, TOKYO: 1}


def test_extra_columns_of_times_are_on_the_calendar_too(tmp_path):
    # the contract's timestamp and two columns it does not name, each 00:42 on 1 Feb in Tokyo
    raw = _raw(tmp_path / "raw", [])
    pd.DataFrame([{"account_id": "A1", "user_id": "U1", "timestamp": "2025-02-01 00:42:00",
                   "received_at": "2025-02-01 00:42:00", "sent_at": "2025-01-31T15:42:00Z"}]).assign(
        event_type="login").to_csv(raw / "events.csv", index=False)
    ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    ev = load("events", tmp_path / "p")
    wall = pd.Timestamp("2025-02-01 00:42", tz="UTC")
    assert [pd.Timestamp(ev[c].iloc[0]) for c in ("timestamp", "received_at", "sent_at")] == [wall] * 3
    # from Parquet: a naive column in a table said to be UTC, and an aware one
    (raw / "events.csv").unlink()
    pd.DataFrame({"account_id": ["A1"], "user_id": ["U1"], "timestamp": ["2025-02-01T00:42:00+09:00"],
                  "event_type": ["login"], "naive_utc": pd.to_datetime(["2025-01-31 15:42"]),
                  "aware": pd.to_datetime(["2025-01-31 15:42"]).tz_localize("UTC")}).to_parquet(raw / "events.parquet")
    (raw / "sources.yaml").write_text("tables:\n  events: {timezone: UTC}\n", encoding="utf-8")
    ingest(raw, tmp_path / "q", now="2026-01-01", timezone=TOKYO)
    ev = load("events", tmp_path / "q")
    assert pd.Timestamp(ev["naive_utc"].iloc[0]) == pd.Timestamp("2025-02-01 00:42")  # still without a zone
    assert pd.Timestamp(ev["aware"].iloc[0]) == wall and pd.Timestamp(ev["timestamp"].iloc[0]) == wall
    # on UTC (the default) nothing changes: a naive column stays as it was written
    ingest(raw, tmp_path / "u", now="2026-01-01")
    ev = load("events", tmp_path / "u")
    assert pd.Timestamp(ev["naive_utc"].iloc[0]) == pd.Timestamp("2025-01-31 15:42")
    assert pd.Timestamp(ev["aware"].iloc[0]) == pd.Timestamp("2025-01-31 15:42", tz="UTC")


def test_currency_signs_are_counted_on_the_rows_kept_on_the_calendar(tmp_path):
    # 20:00 on 31 Dec in Tokyo is before "now" (1 Jan, 00:00 Tokyo); read as UTC it would be in the future
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[0]], sources="tables:\n  subscriptions: {thousands: ','}\n")
    pd.DataFrame({"account_id": ["A1", "A1"], "period_start": ["2025-12-01", "2025-12-31 20:00"],
                  "mrr": ["¥1,200", "¥1,300"]}).to_csv(raw / "subscriptions.csv", index=False)
    report = ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    assert report.tables["subscriptions"].rows_kept == 2
    assert report.tables["subscriptions"].currency_signs == {"mrr": {"¥": 2}}


def test_a_model_counted_on_another_calendar_is_refused_before_any_stage():
    from engage_models.lifecycle.frozen import check_run_settings

    card = {"model_id": "m1", "horizon_days": 90, "features": [{"name": "logins_28d"}], "timezone": TOKYO}
    check_run_settings(card, 90, (28, 90), TOKYO)
    with pytest.raises(ConfigError, match="trained on the calendar of Asia/Tokyo; this run counts days and months "
                                          "in UTC: run with timezone Asia/Tokyo"):
        check_run_settings(card, 90, (28, 90))
    old_card = {k: v for k, v in card.items() if k != "timezone"}  # layout 1: UTC, or a version that kept none
    check_run_settings(old_card, 90, (28, 90))
    with pytest.raises(ConfigError, match="does not say which calendar it was trained on"):  # not "UTC": unknown
        check_run_settings(old_card, 90, (28, 90), TOKYO)
    with pytest.raises(ConfigError, match="calendar of UTC"):  # layout 2 always names it; without it, UTC
        check_run_settings({**old_card, "card_version": 2}, 90, (28, 90), TOKYO)


def test_the_report_header_names_a_calendar_other_than_utc():
    from engage_models.reports.runner import RunParameters, _meta_line

    plain = _meta_line(RunParameters("data", run_date="2025-07-01").as_dict(), "2025-07-01 09:00 UTC", "en")
    assert "time zone" not in plain and "UTC" in plain  # the start time says it
    tokyo = _meta_line(RunParameters("data", run_date="2025-07-01", timezone=TOKYO).as_dict(), "2025-07-01 18:00 JST",
                       "ja")
    assert "タイムゾーン" in tokyo and "Asia/Tokyo" in tokyo


def test_summer_time_a_ticket_across_the_repeated_hour_is_kept_and_dates_stay_dates(tmp_path):
    ny = "America/New_York"
    # opened 01:50 EDT, closed 01:10 EST 20 minutes later (2 Nov 2025, clocks go back at 02:00): kept, as moments
    # are compared; a date alone in a table said to be UTC is still that day on the company's calendar
    raw = _raw(tmp_path / "raw", ["2025-03-09 02:30:00"],  # 02:30 does not exist that day in New York
               sources="tables:\n  subscriptions: {timezone: UTC}\n  tickets: {timezone: UTC}\n")
    (raw / "tickets.csv").write_text("ticket_id,account_id,opened_at,closed_at,priority\n"
                                     "T1,A1,2025-11-02 05:50:00,2025-11-02 06:10:00,low\n"
                                     "T2,A1,2025-11-02 06:10:00,2025-11-02 05:50:00,low\n", encoding="utf-8")
    pd.DataFrame({"account_id": ["A1", "A1"], "period_start": ["2025-02-01", "2025/3/1"], "mrr": [100, 120]}).to_csv(
        raw / "subscriptions.csv", index=False)
    report = ingest(raw, tmp_path / "p", now="2026-01-01", timezone=ny)
    assert report.tables["tickets"].rows_kept == 1
    assert report.tables["tickets"].by_reason == {"closed_at before opened_at": 1}  # really closed before
    tk = load("tickets", tmp_path / "p")
    assert (tk["opened_at"].iloc[0], tk["closed_at"].iloc[0]) == (pd.Timestamp("2025-11-02 01:50", tz="UTC"),
                                                                   pd.Timestamp("2025-11-02 01:10", tz="UTC"))
    subs = load("subscriptions", tmp_path / "p")
    assert list(subs["period_start"]) == [pd.Timestamp("2025-02-01", tz="UTC"), pd.Timestamp("2025-03-01", tz="UTC")]
    assert _stamps(tmp_path / "p") == [pd.Timestamp("2025-03-09 03:30", tz="UTC")]  # read an hour later
    # the hours to close of a wall-clock pair running backwards are 0, not negative
    from engage_models.surveys.csat import ticket_csat

    tk = tk.assign(csat=4)
    assert ticket_csat(tk)["hours_to_close"].tolist() == [0.0]


def test_utcs_other_names_are_utc():
    for name in ("Etc/UTC", "Zulu", "GMT", "UCT"):
        assert check_zone(name) == "UTC" and RunConfig.from_dict({"timezone": name}).timezone == "UTC"
    assert check_zone("Asia/Tokyo") == TOKYO


def test_the_pipelines_ingest_is_keyed_on_the_calendar(tmp_path):
    from engage_models.cli import main

    _raw(tmp_path / "raw", [SAME_MOMENT[0], EARLIER])
    common = ["pipeline", "--data-dir", str(tmp_path), "--until", "ingest", "--run-date", "2025-12-31"]
    report = tmp_path / "processed" / "ingest_report.json"
    assert main(common) == 0 and json.loads(report.read_text())["timezone"] == "UTC"
    assert main([*common, "--timezone", TOKYO]) == 0
    assert json.loads(report.read_text())["timezone"] == TOKYO  # ingested again, on the new calendar
    assert _stamps(tmp_path / "processed")[0] == pd.Timestamp("2025-02-01 00:42", tz="UTC")
    assert main([*common, "--timezone", "Etc/UTC"]) == 0  # UTC by another name: UTC
    assert json.loads(report.read_text())["timezone"] == "UTC"


def test_a_zone_without_summer_time_is_an_offset_and_gives_the_conversions_times():
    from engage_models._core.time import fixed_offset

    assert (fixed_offset(TOKYO), fixed_offset("Asia/Kolkata"), fixed_offset("UTC")) == (32400, 19800, 0)
    assert fixed_offset("America/New_York") is None and fixed_offset("Asia/Seoul") is None  # summer time in 1987-88
    import duckdb

    from engage_models.ingest.validate import _wall

    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'America/New_York'")  # whatever the session's zone
        stamps = "SELECT TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_seconds(i * 86399) AS m FROM range(0, 50000) r(i)"
        fast, slow = _wall("m", TOKYO), f"timezone('UTC', timezone('{TOKYO}', m))"
        assert con.execute(f"SELECT count(*) FROM ({stamps}) WHERE {fast} <> {slow}").fetchall() == [(0,)]


def test_two_names_of_one_zone_are_one_calendar(tmp_path):
    from engage_models._core.time import same_clock
    from engage_models.lifecycle.frozen import check_run_settings

    assert same_clock("Japan", TOKYO) and not same_clock(TOKYO, "Asia/Seoul")
    assert not same_clock("America/New_York", "America/Chicago")
    card = {"model_id": "m1", "horizon_days": 90, "features": [], "timezone": TOKYO}
    check_run_settings(card, 90, (28, 90), "Japan")  # the model's calendar by its other name
    raw = _raw(tmp_path / "raw", [SAME_MOMENT[0]])
    ingest(raw, tmp_path / "p", now="2026-01-01", timezone=TOKYO)
    ingest(raw, tmp_path / "p", now="2026-01-01", tables=("events",), timezone="Japan")
    assert _stamps(tmp_path / "p") == [pd.Timestamp("2025-02-01 00:42", tz="UTC")]


def test_times_without_an_offset_are_said_only_when_no_zone_was_named(tmp_path):
    """A run given ``--timezone UTC`` was told on every run that its times "are written without a time zone ...
    read as UTC": the CLI and the run's configuration turned "not given" into "UTC", so ingest could not tell the
    two apart. A named zone, UTC included, is the user's answer: nothing to say; ingest's warnings differ, so the
    stage runs again when the zone is named."""
    from engage_models.cli import main

    _raw(tmp_path / "raw", [SAME_MOMENT[1], EARLIER])  # the first written without an offset
    common = ["pipeline", "--data-dir", str(tmp_path), "--until", "ingest", "--run-date", "2025-12-31"]
    report = tmp_path / "processed" / "ingest_report.json"

    def said() -> list[str]:
        return [w for w in json.loads(report.read_text())["warnings"] if "without a time zone" in w]

    assert main(common) == 0 and len(said()) == 1 and "read as UTC" in said()[0]
    assert main([*common, "--timezone", "UTC"]) == 0 and said() == []
    assert main([*common, "--timezone", "Etc/UTC"]) == 0 and said() == []  # UTC by another name, named
    assert main(common) == 0 and len(said()) == 1  # not named again: said again
    assert RunConfig().timezone is None and RunConfig().zone == "UTC"
    assert RunConfig.from_dict({"timezone": "UTC"}).replace(seed=1).timezone == "UTC"  # kept through a copy
    # ingest called from Python: the same rule
    assert any("without a time zone" in w for w in ingest(tmp_path / "raw", tmp_path / "p1", now="2026-01-01").warnings)
    assert not any("without a time zone" in w
                   for w in ingest(tmp_path / "raw", tmp_path / "p2", now="2026-01-01", timezone="UTC").warnings)
