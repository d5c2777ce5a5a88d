"""Ingest: every bad-input class is an error naming file and column, or a quarantine reason; nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engage_models._core.errors import ConfigError
from engage_models.ingest import IngestError, ingest, load
from engage_models.ingest import contracts as C

NOW = "2026-01-01T00:00:00Z"


def _tables() -> dict[str, list[dict]]:
    """A valid world of 2 accounts, small enough to reason about row by row."""
    return {
        "accounts": [
            {"account_id": "A1", "name": "Acme", "segment": "SMB", "plan": "Pro", "mrr": 500,
             "start_date": "2024-01-01", "end_date": "", "region": "EU"},
            {"account_id": "A2", "name": "Beta", "segment": "SMB", "plan": "Pro", "mrr": 200,
             "start_date": "2024-02-01", "end_date": "2025-03-15", "region": "JP"},
        ],
        "events": [
            {"account_id": "A1", "user_id": "U1", "timestamp": "2025-01-05T10:00:00Z", "event_type": "login",
             "feature": "", "duration_s": 600},
            {"account_id": "A1", "user_id": "U1", "timestamp": "2025-01-05T10:05:00", "event_type": "Feature_Use",
             "feature": "reports", "duration_s": 120},
            {"account_id": "A2", "user_id": "U2", "timestamp": "2025-01-06T09:00:00+09:00", "event_type": "export",
             "feature": "reports", "duration_s": 5},
        ],
        "tickets": [
            {"ticket_id": "T1", "account_id": "A1", "opened_at": "2025-01-02T00:00:00Z",
             "closed_at": "2025-01-03T00:00:00Z", "priority": "high", "csat": 4},
        ],
        "touchpoints": [
            {"account_id": "A1", "timestamp": "2025-01-10T09:00:00Z", "channel": "newsletter", "direction": "outbound",
             "opened": "true", "attended": ""},
        ],
        "surveys": [
            {"response_id": "R1", "account_id": "A1", "user_id": "U1", "submitted_at": "2025-01-15T12:00:00Z",
             "survey_type": "nps", "trigger": "periodic", "score": 9, "comment": "Great & fast", "lang": "en"},
            {"response_id": "R2", "account_id": "A2", "user_id": "U2", "submitted_at": "2025-01-16T12:00:00+09:00",
             "survey_type": "csat", "trigger": "onboarding", "score": 2, "comment": "サポートが遅い", "lang": "ja"},
        ],
    }


def _write(folder: Path, tables: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)
    return folder


def _checked(report):
    """Rows read = rows kept + rows quarantined, for every table."""
    for r in report.tables.values():
        assert r.rows_read == r.rows_kept + r.rows_quarantined, r
    return report


def _run(tmp_path, tables=None, **kw):
    raw = _write(tmp_path / "raw", tables or _tables())
    return _checked(ingest(raw, tmp_path / "processed", **{"now": NOW, **kw})), tmp_path / "processed"


def _with(table, row_changes=None, extra_rows=()):
    t = _tables()
    if row_changes:
        t[table][0].update(row_changes)
    t[table] += list(extra_rows)
    return t


def _quarantine(processed, table):
    return load(table, processed, quarantine=True)


# ------------------------------------------------------------------------------------------ clean data
def test_clean_tables_are_kept_whole_and_typed(tmp_path):
    report, processed = _run(tmp_path)
    assert report.rows_quarantined == 0
    assert {t: r.rows_kept for t, r in report.tables.items()} == {
        "accounts": 2, "events": 3, "tickets": 1, "touchpoints": 1, "surveys": 2}
    assert sorted(report.missing_optional) == ["plays", "subscriptions", "users"]  # the play log is optional too
    ev = load("events", processed)
    assert str(ev.timestamp.dtype) == "datetime64[us, UTC]"
    # an offset is honoured, text without one is UTC
    expected = ["2025-01-05 10:00", "2025-01-05 10:05", "2025-01-06 00:00"]
    assert list(ev.timestamp) == [pd.Timestamp(t, tz="UTC") for t in expected]
    assert list(ev.event_type) == ["login", "feature_use", "export"]  # codes are lower-cased
    assert ev.feature.isna().tolist() == [True, False, False]  # empty text is missing, not ""
    acc = load("accounts", processed)
    assert "region" in acc.columns and acc.end_date.isna().tolist() == [True, False]  # extras are kept
    tp = load("touchpoints", processed)
    assert tp.opened.tolist() == [True]


def test_report_counts_add_up_and_are_saved(tmp_path):
    report, processed = _run(tmp_path, _with("events", {"duration_s": -1}))
    r = report.tables["events"]
    assert (r.rows_read, r.rows_kept, r.rows_quarantined) == (3, 2, 1)
    from engage_models.ingest import IngestReport

    again = IngestReport.from_json(processed / "ingest_report.json")
    assert again.tables["events"].by_reason == {C.NEGATIVE_DURATION: 1}
    assert "negative duration_s" in report._repr_html_()


# ------------------------------------------------------------------------------- errors (table unusable)
def test_missing_required_file_names_table_and_folder(tmp_path):
    t = _tables()
    del t["events"]
    with pytest.raises(IngestError, match=r"events: no file for this required table in .*raw.*named in "
                                          r"sources\.yaml: tables: \{events: \{path: \.\.\.\}\}"):
        _run(tmp_path, t)
    t = _tables()
    del t["tickets"]  # a company with no ticket system: told how to say so
    with pytest.raises(IngestError, match=r"A company without any tickets gives a tickets.csv of the header alone: "
                                          r"ticket_id,account_id,"):
        _run(tmp_path / "2", t)


def test_missing_column_names_file_and_column(tmp_path):
    t = _tables()
    for row in t["surveys"]:
        del row["score"]
    with pytest.raises(IngestError, match=r"surveys: .*surveys\.csv is missing required column 'score'"):
        _run(tmp_path, t)


def test_columns_spelled_otherwise_are_read_as_the_contracts_and_said(tmp_path):
    """Account_ID, ' CSAT ', OPENED_AT: the contract's columns in another case or with spaces (a warehouse's
    upper-case names, a spreadsheet's headers) are read and typed as the contract's, and the report says so; the
    quarantine keeps the names the file has."""
    t = _tables()
    t["tickets"] = [{"Ticket_ID": "T1", "Account_ID": "A1", "OPENED_AT": "2025-01-02T00:00:00Z",
                     "closed_at": "2025-01-03T00:00:00Z", "priority": "high", " CSAT ": 4, "Region": "EU"},
                    {"Ticket_ID": "T2", "Account_ID": "A1", "OPENED_AT": "not a date",
                     "closed_at": "", "priority": "low", " CSAT ": 9, "Region": "EU"}]
    report, processed = _run(tmp_path, t)
    r = report.tables["tickets"]
    # (the CSV reader trims a header's spaces: the file's " CSAT " is read as CSAT)
    assert r.renamed_columns == {"Ticket_ID": "ticket_id", "Account_ID": "account_id", "OPENED_AT": "opened_at",
                                 "CSAT": "csat"}
    assert r.extra_columns == ["Region"]
    kept = load("tickets", processed)
    assert kept[["ticket_id", "account_id", "csat"]].values.tolist() == [["T1", "A1", 4]]
    assert kept["opened_at"].tolist() == [pd.Timestamp("2025-01-02", tz="UTC")]  # typed by the contract
    assert not {"Ticket_ID", "OPENED_AT", "CSAT"} & set(kept.columns)
    # the bad row is judged by the contract's rules (a date, a CSAT on its scale) and shown as the file has it
    assert r.by_reason == {C.unparseable("opened_at"): 1, C.CSAT_OUT_OF_SCALE: 1}
    q = _quarantine(processed, "tickets")
    assert q.loc[0, "OPENED_AT"] == "not a date" and q.loc[0, "CSAT"] == "9"
    from engage_models.ingest import IngestReport

    again = IngestReport.from_json(processed / "ingest_report.json")
    assert again.tables["tickets"].renamed_columns == r.renamed_columns
    from engage_models.ingest.quality import column_names

    shown = column_names(again, "en")  # the data quality report's table
    assert shown.values.tolist() == [["tickets", "Ticket_ID", "ticket_id"], ["tickets", "Account_ID", "account_id"],
                                     ["tickets", "OPENED_AT", "opened_at"], ["tickets", "CSAT", "csat"],
                                     ["accounts", "region", "kept as an extra column"],
                                     ["tickets", "Region", "kept as an extra column"]]
    assert column_names(again, "ja")["read as"].iloc[-1] == "追加列として保持"


def test_two_columns_that_could_be_one_contract_column_are_an_error_naming_both(tmp_path):
    t = _tables()
    t["tickets"] = [{**{k: v for k, v in row.items() if k != "csat"}, "CSAT": 4, "Csat": 5} for row in t["tickets"]]
    with pytest.raises(IngestError, match=r"tickets: .*tickets\.csv has several columns .*'csat' could be any of "
                                          r"'CSAT', 'Csat'"):
        _run(tmp_path, t)
    # beside the contract's own spelling, the others are extra columns and nothing is ambiguous
    t["tickets"] = [{**row, "csat": 3} for row in t["tickets"]]
    report, processed = _run(tmp_path / "again", t)
    assert report.tables["tickets"].renamed_columns == {}
    assert load("tickets", processed)["csat"].tolist() == [3]


def test_parquet_and_json_columns_spelled_otherwise_part_by_part(tmp_path):
    """Parquet keeps a header's spaces; JSON parts are matched each on its own (one part's CSAT, another's
    Csat); two columns alike but for case in one file, which the reader numbers (Device, device_1), are an
    error naming both rather than a guess."""
    t = _tables()
    raw = _write(tmp_path / "raw", {k: v for k, v in t.items() if k not in ("tickets", "events")})
    (raw / "tickets").mkdir()
    base = {k: v for k, v in t["tickets"][0].items() if k != "csat"}
    for k, key in enumerate(("CSAT", "Csat")):
        (raw / "tickets" / f"p{k}.json").write_text(json.dumps({**base, "ticket_id": f"T{k}", key: 4 - k}))
    events = pd.DataFrame(t["events"]).rename(columns={"account_id": " Account_ID "})
    events.to_parquet(raw / "events.parquet", index=False)
    report, processed = _checked(ingest(raw, tmp_path / "p", now=NOW)), tmp_path / "p"
    assert report.tables["tickets"].renamed_columns == {"CSAT": "csat", "Csat": "csat"}
    assert load("tickets", processed)[["ticket_id", "csat"]].values.tolist() == [["T0", 4], ["T1", 3]]
    assert report.tables["events"].renamed_columns == {" Account_ID ": "account_id"}
    assert load("events", processed)["account_id"].tolist() == ["A1", "A1", "A2"]
    from engage_models.ingest.quality import column_names

    assert "' Account_ID '" in column_names(report)["column in the source"].tolist()  # spaces seen in a page
    events.rename(columns={" Account_ID ": "account_id"}).assign(Device="UP", device="low").to_parquet(
        raw / "events.parquet", index=False)
    with pytest.raises(IngestError, match=r"events: .*events\.parquet has several columns .*'device' could be any of "
                                          r"'Device', 'device_1'.*two columns spelled alike but for case"):
        ingest(raw, tmp_path / "q", now=NOW)


def test_unreadable_file_names_the_file(tmp_path):
    raw = _write(tmp_path / "raw", _tables())
    (raw / "events.csv").unlink()
    (raw / "events.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(IngestError, match=r"events: cannot read .*events\.parquet"):
        ingest(raw, tmp_path / "processed", now=NOW)


def test_cli_reports_a_missing_column_without_a_traceback(tmp_path):
    t = _tables()
    for row in t["accounts"]:
        del row["start_date"]
    raw = _write(tmp_path / "raw", t)
    proc = subprocess.run([sys.executable, "-m", "engage_models", "ingest", "--raw", str(raw), "--out",
                           str(tmp_path / "p")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "accounts.csv is missing required column 'start_date'" in proc.stderr
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- rows quarantined, kept
@pytest.mark.parametrize(
    "table, change, reason",
    [
        ("events", {"timestamp": "2025-13-45 10:00"}, C.unparseable("timestamp")),
        ("events", {"timestamp": ""}, C.missing("timestamp")),
        ("events", {"duration_s": -3}, C.NEGATIVE_DURATION),
        ("events", {"duration_s": "ten"}, C.unparseable("duration_s")),
        ("events", {"account_id": "A404"}, C.UNKNOWN_ACCOUNT),
        ("events", {"timestamp": "2099-01-01T00:00:00Z"}, C.in_future("timestamp")),
        # after the run date (NOW) but before the machine's clock: not wrong, a later run's (it was "in the future")
        ("events", {"timestamp": "2026-01-02T00:00:00Z"}, C.after_run_date("timestamp")),
        ("surveys", {"score": 11}, C.NPS_OUT_OF_RANGE),
        ("surveys", {"score": -1}, C.NPS_OUT_OF_RANGE),
        ("surveys", {"score": 7.5}, C.NPS_NOT_WHOLE),
        ("surveys", {"survey_type": "ces"}, C.UNKNOWN_SURVEY_TYPE),
        ("surveys", {"submitted_at": "yesterday"}, C.unparseable("submitted_at")),
        ("tickets", {"closed_at": "2025-01-01T00:00:00Z"}, C.CLOSED_BEFORE_OPENED),
        ("touchpoints", {"account_id": "A404"}, C.UNKNOWN_ACCOUNT),
        ("accounts", {"end_date": "2023-12-31"}, C.END_BEFORE_START),
        ("accounts", {"mrr": -5}, C.NEGATIVE_MRR),
        ("accounts", {"start_date": "2099-01-01"}, C.in_future("start_date")),
        ("accounts", {"start_date": "2026-03-01"}, C.after_run_date("start_date")),
        ("accounts", {"account_id": ""}, C.missing("account_id")),
    ],
)
def test_bad_row_is_quarantined_with_its_reason_and_raw_text(tmp_path, table, change, reason):
    report, processed = _run(tmp_path, _with(table, change))
    r = report.tables[table]
    assert r.by_reason == {reason: 1}
    assert r.rows_kept + r.rows_quarantined == r.rows_read == len(_tables()[table])
    q = _quarantine(processed, table)
    assert len(q) == 1 and q.loc[0, "reason"] == reason
    assert q.loc[0, "source_row"] == 1 and q.loc[0, "source_file"].endswith(f"{table}.csv")
    for col, value in change.items():  # the raw text survives as it was read
        assert (q.loc[0, col] or "") == str(value)


@pytest.mark.parametrize("csat, reason", [(10, C.CSAT_OUT_OF_SCALE), (0, C.CSAT_OUT_OF_SCALE),
                                          ("good", C.unparseable("csat")), ("inf", C.not_finite("csat"))])
def test_a_bad_csat_on_a_ticket_sets_aside_the_score_not_the_ticket(tmp_path, csat, reason):
    """A CSAT of 10 on the 1-5 scale quarantined the whole ticket, which its account's ticket counts and times to
    close then missed. The ticket is kept with its csat empty; the value is recorded with its reason and row, counted
    and said."""
    extra = {"ticket_id": "T2", "account_id": "A2", "opened_at": "2025-01-05T00:00:00Z",
             "closed_at": "2025-01-05T06:00:00Z", "priority": "low", "csat": 3}
    good, good_processed = _run(tmp_path / "good", _with("tickets", extra_rows=[extra]))
    report, processed = _run(tmp_path / "bad", _with("tickets", {"csat": csat}, extra_rows=[extra]))
    r = report.tables["tickets"]
    assert (r.rows_read, r.rows_kept, r.rows_quarantined, r.by_reason) == (2, 2, 0, {})
    assert r.values_set_aside == {reason: 1}
    kept, before = load("tickets", processed), load("tickets", good_processed)
    pd.testing.assert_frame_equal(kept.drop(columns="csat"), before.drop(columns="csat"))  # same tickets, same times
    assert pd.isna(kept.loc[0, "csat"]) and kept.loc[1, "csat"] == 3
    assert not (processed / "quarantine" / "tickets.parquet").exists() or _quarantine(processed, "tickets").empty
    apart = pd.read_parquet(r.values)
    assert apart[["source_row", "column", "value", "reason", "ticket_id"]].values.tolist() == [
        [1, "csat", str(csat), reason, "T1"]]
    assert apart.loc[0, "source_file"].endswith("tickets.csv")
    said = [w for w in report.warnings if str(w).startswith("tickets: 1 value of csat set aside")]
    assert len(said) == 1 and "row 1 of" in str(said[0]) and "quarantine/tickets.values.parquet" in str(said[0])
    from engage_models.ingest import IngestReport

    again = IngestReport.from_json(processed / "ingest_report.json").tables["tickets"]
    assert again.values_set_aside == {reason: 1} and good.tables["tickets"].values_set_aside == {}
    # a ticket quarantined for another reason lists its bad score with it (every reason of the row is there)
    report, processed = _run(tmp_path / "both", _with("tickets", {"csat": csat, "closed_at": "2025-01-01T00:00:00Z"}))
    assert report.tables["tickets"].by_reason == {C.CLOSED_BEFORE_OPENED: 1, reason: 1}
    assert report.tables["tickets"].values_set_aside == {}


def test_the_values_set_aside_are_counted_beside_the_rows_quarantined(tmp_path, capsys):
    """A ticket's CSAT 10 set aside alone was in the warnings only: the tables' summary of engage ingest and of
    report 01 counted rows read, kept and quarantined, and no value set aside. A table none of whose values is set
    aside alone shows a blank, one that sets none aside 0."""
    from engage_models._core import i18n
    from engage_models.cli import main
    from engage_models.ingest import quality

    extra = {"ticket_id": "T2", "account_id": "A2", "opened_at": "2025-01-05T00:00:00Z",
             "closed_at": "2025-01-05T06:00:00Z", "priority": "low", "csat": 9}
    report, _ = _run(tmp_path / "bad", _with("tickets", {"csat": 10}, extra_rows=[extra]))
    frame = report.to_frame().set_index("table")
    assert frame.loc["tickets", "values set aside"] == 2 and frame.loc["tickets", "rows quarantined"] == 0
    assert pd.isna(frame.loc["events", "values set aside"]) and pd.isna(frame.loc["accounts", "values set aside"])
    assert list(frame.columns[3:6]) == ["% quarantined", "values set aside", "exact copies kept"]
    good, _ = _run(tmp_path / "good")
    assert good.to_frame().set_index("table").loc["tickets", "values set aside"] == 0
    text = report.to_text_frame().set_index("table")["values set aside"]
    assert (text["tickets"], text["events"]) == ("2", "")
    # report 01's table (its header in Japanese too), and the console's
    view = quality.ingest_view(report, "en").set_index("table")
    assert view.loc["tickets", "values set aside"] == 2
    assert i18n.t("values set aside", "ja") == "除外した値（行は採用）"
    assert main(["ingest", "--raw", str(tmp_path / "bad" / "raw"), "--out", str(tmp_path / "again"), "--now",
                 NOW]) == 0
    out = capsys.readouterr().out.split("\n\n")[0]
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert "% quarantined values set aside exact copies kept" in " ".join(out.splitlines()[0].split())
    tickets = next(line for line in lines if line[0] == "tickets")
    assert tickets[1:6] == ["2", "2", "0", "0.0", "2"]  # read, kept, quarantined, % quarantined, values set aside
    events = next(line for line in lines if line[0] == "events")
    assert events[5] == "0"  # no value to set aside (blank), then the exact copies kept: 0


def test_an_account_started_a_century_before_the_others_is_said(tmp_path):
    """An account whose start is mistyped as 1924 was kept without a word (its events come after its start): survival
    measured a lifetime of a century from it and the KPIs without subscriptions began then. Ingest says it, with the
    same rule as the events' and subscriptions' dates (more than a year with no row after it, at most 1%)."""
    more = [{"account_id": f"B{i:03d}", "name": f"B{i}", "segment": "SMB", "plan": "Pro", "mrr": 100,
             "start_date": str((pd.Timestamp("2023-01-01") + pd.Timedelta(days=5 * i)).date()), "end_date": "",
             "region": "EU"} for i in range(150)]
    report, _ = _run(tmp_path / "plain", _with("accounts", extra_rows=more))
    assert not [w for w in report.warnings if "started long before" in str(w)]
    more[40]["start_date"] = "1924-03-05"
    report, processed = _run(tmp_path / "typo", _with("accounts", extra_rows=more))
    assert report.tables["accounts"].rows_kept == 152  # kept: ingest cannot tell a wrong year from an early customer
    said = [w for w in report.warnings if str(w).startswith("accounts: 1 of the 152 accounts kept started long")]
    assert len(said) == 1
    assert "(start_date: 5 Mar 1924, e.g. account 'B040'; then no account started for more than a year, until 1 Jan " \
           "2023)" in str(said[0])
    assert "1924年3月5日" in said[0].text("ja")


def test_a_ticket_closed_after_the_run_date_is_read_as_open_on_it_and_one_closed_after_the_clock_is_wrong(tmp_path):
    """A backfill, or an Airflow retry the next day with the same run date: a ticket opened before the run date and
    closed after it was quarantined ("closed_at in the future"), so the account's tickets and open tickets on the
    run date were undercounted against what the run on that date counted. It is kept, open on the run date, its
    close and its CSAT (given at the close) empty, and said; a close after the machine's clock is wrong data."""
    from engage_models.ingest.validate import IngestReport

    t = _with("tickets", extra_rows=[
        {"ticket_id": "T2", "account_id": "A1", "opened_at": "2025-12-30T00:00:00Z",
         "closed_at": "2026-01-04T00:00:00Z", "priority": "low", "csat": 5},   # closed after the run date
        {"ticket_id": "T3", "account_id": "A2", "opened_at": "2025-12-31T00:00:00Z",
         "closed_at": "2099-01-01T00:00:00Z", "priority": "low", "csat": 3},   # after the clock: wrong
        {"ticket_id": "T4", "account_id": "A2", "opened_at": "2026-01-02T00:00:00Z",
         "closed_at": "2026-01-03T00:00:00Z", "priority": "low", "csat": 3}])  # opened after the run date
    report, processed = _run(tmp_path, t)
    r = report.tables["tickets"]
    assert r.by_reason == {C.in_future("closed_at"): 1, C.after_run_date("opened_at"): 1}
    assert _quarantine(processed, "tickets").set_index("ticket_id")["reason"].to_dict() == {
        "T3": C.in_future("closed_at"), "T4": C.after_run_date("opened_at")}
    kept = load("tickets", processed).set_index("ticket_id")
    assert kept.index.tolist() == ["T1", "T2"]
    assert pd.isna(kept.loc["T2", "closed_at"]) and pd.isna(kept.loc["T2", "csat"])
    assert kept.loc["T1", "closed_at"] == pd.Timestamp("2025-01-03", tz="UTC") and kept.loc["T1", "csat"] == 4
    said = [w for w in report.warnings if w.startswith("tickets: ")]
    assert said == ["tickets: 1 of the 2 rows kept ended after the run date (closed_at): read as not ended on it, "
                    "closed_at and csat empty"]
    assert IngestReport.from_json(processed / "ingest_report.json").warnings[-1].text("ja").startswith(
        "tickets：採用した2行のうち1行は実行日より後に終了しています")
    # run on a later date, the same ticket is closed, with its CSAT
    later, processed = _run(tmp_path / "later", t, now="2026-02-01T00:00:00Z")
    kept = load("tickets", processed).set_index("ticket_id")
    assert kept.loc["T2", "closed_at"] == pd.Timestamp("2026-01-04", tz="UTC") and kept.loc["T2", "csat"] == 5
    assert not [w for w in later.warnings if w.startswith("tickets: ")]


def test_csat_scale_is_a_parameter(tmp_path):
    t = _with("surveys", extra_rows=[{**_tables()["surveys"][1], "response_id": "R3", "score": 9}])
    report, _ = _run(tmp_path / "a", t)
    assert report.tables["surveys"].by_reason == {C.CSAT_OUT_OF_SCALE: 1}
    report, _ = _run(tmp_path / "b", t, csat_scale=(0, 10))
    assert report.tables["surveys"].rows_quarantined == 0


JP_HEADERS = {"account_id": "顧客ID", "name": "会社名", "segment": "セグメント", "plan": "プラン", "mrr": "月額",
              "start_date": "契約開始日", "end_date": "解約日"}


def test_headers_written_in_japanese_are_read_as_the_contracts_columns(tmp_path):
    """A Japanese export names its columns in Japanese: sources.yaml's columns maps them, and the quarantine
    shows the rows under the headers they have in the file."""
    t = _tables()
    t["accounts"][1]["mrr"] = "二百"
    t["accounts"] = [{JP_HEADERS.get(k, k): v for k, v in row.items()} for row in t["accounts"]]
    report, processed = _run(tmp_path, t, sources={"accounts": {"columns": JP_HEADERS}})
    kept = load("accounts", processed)
    assert kept["account_id"].tolist() == ["A1"] and kept["mrr"].tolist() == [500.0] and "region" in kept
    assert report.tables["accounts"].by_reason == {C.unparseable("mrr"): 1}
    q = _quarantine(processed, "accounts")
    assert q["月額"].tolist() == ["二百"] and q["顧客ID"].tolist() == ["A2"]
    # a header the file does not have, a column the table does not have, both names at once: each said
    with pytest.raises(IngestError, match=r"accounts: .*accounts.csv has no column '月額料金' \(named in "
                                          r"sources.yaml's columns for 'mrr'\)"):
        _run(tmp_path / "b", t, sources={"accounts": {"columns": {**JP_HEADERS, "mrr": "月額料金"}}})
    with pytest.raises(ConfigError, match=r"columns names \['revenue'\], not a column of accounts"):
        _run(tmp_path / "c", t, sources={"accounts": {"columns": {"revenue": "月額"}}})
    both = [{**row, "mrr": 1} for row in t["accounts"]]
    with pytest.raises(IngestError, match="'mrr' could be any of 'mrr', '月額'"):
        _run(tmp_path / "d", {**t, "accounts": both}, sources={"accounts": {"columns": JP_HEADERS}})


def test_duplicate_key_keeps_the_first_good_row(tmp_path):
    first, second = dict(_tables()["tickets"][0]), dict(_tables()["tickets"][0], priority="low")
    broken = dict(first, opened_at="not a date")  # a bad first copy does not block a later good one
    t = _tables()
    t["tickets"] = [broken, first, second]
    report, processed = _run(tmp_path, t)
    # the bad copy has every reason: fixing its date alone would not bring it back
    assert report.tables["tickets"].by_reason == {C.unparseable("opened_at"): 1, C.duplicate(("ticket_id",)): 2}
    kept = load("tickets", processed)
    assert kept.priority.tolist() == ["high"]
    q = _quarantine(processed, "tickets")
    assert q.source_row.tolist() == [1, 3]
    assert q.reason.tolist() == [f"{C.unparseable('opened_at')}; {C.duplicate(('ticket_id',))}",
                                 C.duplicate(("ticket_id",))]
    assert report.tables["tickets"].rows_quarantined == 2  # a row with two reasons is one row


def test_a_quarantined_row_alone_with_its_key_is_not_called_a_duplicate(tmp_path):
    t = _tables()
    t["tickets"][0]["opened_at"] = "not a date"
    report, processed = _run(tmp_path, t)
    assert report.tables["tickets"].by_reason == {C.unparseable("opened_at"): 1}


def test_rows_of_an_account_quarantined_in_accounts_say_so_apart_from_unknown_ids(tmp_path):
    """One bad cell in accounts (an mrr of 1,200) quarantines the account and with it every row of it elsewhere:
    those rows say their account was quarantined (fix that row to get them back), not that the id is unknown."""
    t = _tables()
    t["accounts"][1]["mrr"] = "1,200"  # A2
    t["events"].append({**t["events"][0], "account_id": "A404"})
    report, processed = _run(tmp_path, t)
    assert report.tables["accounts"].by_reason == {C.unparseable("mrr"): 1}
    assert report.tables["events"].by_reason == {C.ACCOUNT_QUARANTINED: 1, C.UNKNOWN_ACCOUNT: 1}
    assert report.tables["surveys"].by_reason == {C.ACCOUNT_QUARANTINED: 1}
    q = _quarantine(processed, "events").set_index("account_id")["reason"]
    assert q.to_dict() == {"A2": C.ACCOUNT_QUARANTINED, "A404": C.UNKNOWN_ACCOUNT}
    # the id as the accounts file wrote it, under its own name for the column
    t["accounts"] = [{("Account_ID" if k == "account_id" else k): (f" {v} " if k == "account_id" else v)
                      for k, v in row.items()} for row in t["accounts"]]
    report, _ = _run(tmp_path / "spelled", t)
    assert report.tables["events"].by_reason == {C.ACCOUNT_QUARANTINED: 1, C.UNKNOWN_ACCOUNT: 1}


def test_a_row_breaking_several_rules_lists_every_reason(tmp_path):
    report, processed = _run(tmp_path, _with("events", {"account_id": "A404", "duration_s": -1}))
    q = _quarantine(processed, "events")
    assert set(q.loc[0, "reason"].split("; ")) == {C.UNKNOWN_ACCOUNT, C.NEGATIVE_DURATION}
    assert report.tables["events"].by_reason == {C.UNKNOWN_ACCOUNT: 1, C.NEGATIVE_DURATION: 1}
    assert report.tables["events"].rows_quarantined == 1


def test_end_date_ahead_is_a_notice_period_not_an_error(tmp_path):
    report, processed = _run(tmp_path, _with("accounts", {"end_date": "2026-06-30"}))
    assert report.tables["accounts"].rows_quarantined == 0


def test_parquet_and_csv_sources_give_the_same_result(tmp_path):
    _, processed = _run(tmp_path / "csv")
    raw_pq = tmp_path / "pq" / "raw"
    raw_pq.mkdir(parents=True)
    for name, rows in _tables().items():
        df = pd.DataFrame(rows)
        if name == "events":  # typed columns in Parquet: real timestamps and numbers
            df = load("events", processed)
        df.to_parquet(raw_pq / f"{name}.parquet", index=False)
    _checked(ingest(raw_pq, tmp_path / "pq" / "processed", now=NOW))
    pd.testing.assert_frame_equal(load("events", processed), load("events", tmp_path / "pq" / "processed"))


@pytest.mark.parametrize("bad", [False, True])
def test_a_parquet_source_whose_rows_are_all_kept_gets_the_same_empty_quarantine(tmp_path, bad):
    """Every row kept (the footers' count): the quarantine is written empty without a second pass, with the
    columns a quarantine of the same source has when it holds rows."""
    raw = _write(tmp_path / "raw", {k: v for k, v in _tables().items() if k != "events"})
    events = pd.DataFrame(_tables()["events"])
    if bad:
        events.loc[0, "account_id"] = "nobody"  # unknown account: quarantined
    half = len(events) // 2
    (raw / "events").mkdir()
    events.iloc[:half].to_parquet(raw / "events" / "part-0.parquet", index=False)
    events.iloc[half:].to_parquet(raw / "events" / "part-1.parquet", index=False)
    r = _checked(ingest(raw, tmp_path / "processed", now=NOW)).tables["events"]
    q = _quarantine(tmp_path / "processed", "events")
    assert (r.rows_read, r.rows_quarantined, len(q)) == ((len(events), 1, 1) if bad else (len(events), 0, 0))
    if bad:
        assert q["reason"].tolist() == [C.UNKNOWN_ACCOUNT] and q["account_id"].tolist() == ["nobody"]
    assert list(q.columns) == ["source_file", "source_row", "source_line", "reason", "raw_line",
                               *events.columns]

def test_sources_override_and_folders_of_parts(tmp_path):
    raw = _write(tmp_path / "raw", _tables())
    parts = tmp_path / "raw" / "events"
    parts.mkdir()
    ev = pd.read_csv(raw / "events.csv")
    (raw / "events.csv").unlink()
    ev.iloc[:2].to_csv(parts / "part-0.csv", index=False)
    ev.iloc[2:].to_csv(parts / "part-1.csv", index=False)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    assert report.tables["events"].rows_kept == 3
    other = tmp_path / "elsewhere.csv"
    ev.iloc[:1].to_csv(other, index=False)
    report = _checked(ingest(raw, tmp_path / "processed2", now=NOW, sources={"events": other}))
    assert report.tables["events"].rows_kept == 1
    with pytest.raises(ConfigError, match="unknown table 'evnts'"):
        ingest(raw, tmp_path / "p3", sources={"evnts": other})


def test_csv_parts_are_matched_by_column_name(tmp_path):
    """Monthly exports whose columns came in another order, or that gained a column mid-year, stopped ingest
    ("events_2024-06.csv has columns [...], the first part has [...]"); a part's lines that are not rows are set
    aside by its own header's width."""
    raw = _write(tmp_path / "raw", _tables())
    parts = raw / "events"
    parts.mkdir()
    ev = pd.read_csv(raw / "events.csv")
    (raw / "events.csv").unlink()
    ev.iloc[:1].to_csv(parts / "2025-01a.csv", index=False)
    ev.iloc[1:2][list(reversed(ev.columns))].to_csv(parts / "2025-01b.csv", index=False)  # another order
    later = ev.iloc[2:].assign(device="mobile", browser="x")  # two columns more, one of them an extra
    text = later.to_csv(index=False) + "A2,U2,only,three\n"  # and a line that is not a row (too few fields)
    (parts / "2025-02.csv").write_text(text, encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    r = report.tables["events"]
    assert (r.rows_read, r.rows_kept, r.rows_quarantined) == (4, 3, 1)
    kept = load("events", tmp_path / "processed").sort_values("timestamp")
    assert kept["event_type"].tolist() == ["login", "feature_use", "export"]
    assert kept["feature"].fillna("").tolist() == ["", "reports", "reports"]
    assert kept["device"].tolist() == [None, None, "mobile"]  # empty where a part had no such column
    q = load("events", tmp_path / "processed", quarantine=True)
    assert [(Path(f).name, n) for f, n in q[["source_file", "source_row"]].values] == [("2025-02.csv", 2)]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_events_in_parts_are_ordered_by_account_time_then_file_name_and_row(tmp_path, fmt):
    """Ties on account and time keep the files' name order (part-10 before part-2) and each file's row order."""
    raw = _write(tmp_path / "raw", {k: v for k, v in _tables().items() if k != "events"})
    parts = raw / "events"
    parts.mkdir()
    rng = np.random.default_rng(3)
    frames = []
    for k in range(12):  # 12 parts: the names sort part-0, part-1, part-10, part-11, part-2, ...
        n = 6
        part = pd.DataFrame({"account_id": rng.choice(["A2", "A1"], n), "user_id": "U1",
                             "timestamp": pd.Timestamp("2025-01-05", tz="UTC") + pd.to_timedelta(
                                 rng.integers(0, 2, n), unit="h"),
                             "event_type": "login", "feature": "", "duration_s": np.arange(n) + 100.0 * k})
        if fmt == "parquet":
            part.to_parquet(parts / f"part-{k}.parquet", index=False)
        else:
            part.assign(timestamp=part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
                parts / f"part-{k}.csv", index=False)
        frames.append(part.assign(file=f"part-{k}", row=np.arange(n)))
    _checked(ingest(raw, tmp_path / "processed", now=NOW))
    got = load("events", tmp_path / "processed")
    want = pd.concat(frames).sort_values(["account_id", "timestamp", "file", "row"], kind="stable")
    assert got["duration_s"].tolist() == want["duration_s"].tolist()
    assert got["duration_s"].tolist() != pd.concat(frames).sort_values(
        ["account_id", "timestamp", "duration_s"])["duration_s"].tolist()  # the file names' order mattered


def test_events_keep_their_ids_and_order_when_source_columns_are_named_like_the_sort_keys(tmp_path):
    """The sort carries each account's rank and looks the id up after it; a source column called __rank, __row
    or __fileno is data, kept as it came, and not taken for a sort key."""
    t = _tables()
    ids = ["A2", "A10", "A1", "B", "A10", "A2", "A1", "B"]  # A10 sorts between A1 and A2 as text
    t["accounts"] = [{**t["accounts"][0], "account_id": a} for a in sorted(set(ids))]
    for name in ("touchpoints", "surveys"):
        t[name] = [{**row, "account_id": "A1"} for row in t[name]]
    # a keyed table keeps the file's order
    t["tickets"] = [{**t["tickets"][0], "account_id": "A1", "ticket_id": i, "__row": r}
                    for i, r in (("T2", 1), ("T3", 2), ("T1", 0))]
    t["events"] = [{"account_id": a, "user_id": "U1", "timestamp": f"2025-01-0{1 + (k % 2)}T00:00:00Z",
                    "event_type": "login", "feature": "", "duration_s": k, "__rank": 100 - k, "__row": -k,
                    "__fileno": 7 * k % 5, "__RANK": 3 - k, "Device": f"d{k}"} for k, a in enumerate(ids)]
    _checked(_run(tmp_path, t)[0])
    got = load("events", tmp_path / "processed")
    want = pd.DataFrame(t["events"]).assign(ts=lambda d: d["timestamp"], k=range(len(ids))).sort_values(
        ["account_id", "ts", "k"])
    assert got["account_id"].tolist() == want["account_id"].tolist() == ["A1", "A1", "A10", "A10", "A2", "A2",
                                                                        "B", "B"]
    assert got["duration_s"].tolist() == want["duration_s"].astype(float).tolist()
    for col in ("__rank", "__row", "__fileno"):
        assert got[col].astype(int).tolist() == want[col].tolist()
    # the user's Device is the contract's device, spelled otherwise (read_as); __RANK, equal to the hidden
    # __rank but for case, is data and keeps its own values (under the name DuckDB gives a repeated name)
    assert got["device"].tolist() == want["Device"].str.lower().tolist() and "Device" not in got.columns
    assert got["__RANK_1"].astype(int).tolist() == want["__RANK"].tolist()
    tickets = load("tickets", tmp_path / "processed")
    assert tickets["ticket_id"].tolist() == ["T2", "T3", "T1"] and tickets["__row"].astype(int).tolist() == [1, 2, 0]


# --------------------------------------------------------------------------- the simulator's defects
def test_every_planted_defect_is_quarantined_with_its_reason(small_ingested, truth):
    root, report = small_ingested
    got = {t: r.by_reason for t, r in report.tables.items() if r.by_reason}
    assert got == truth["injected_defects"]
    for name, r in report.tables.items():
        assert r.rows_kept + r.rows_quarantined == r.rows_read
        q = load(name, root / "processed", quarantine=True)
        assert len(q) == r.rows_quarantined and q.reason.notna().all() and q.source_row.notna().all()


def test_events_per_day_counts_events_and_distinct_accounts_per_day_and_type(tmp_path):
    from engage_models.ingest.quality import events_per_day

    ts = pd.to_datetime(["2025-01-01 01:00", "2025-01-01 23:59", "2025-01-01 05:00", "2025-01-02 00:00",
                         "2025-01-01 07:00"], utc=True)
    pd.DataFrame({"account_id": ["a", "a", "b", "b", "b"], "user_id": ["u1", "u2", None, "u3", "u3"],
                  "timestamp": ts, "event_type": ["login", "login", "login", "login", "export"]}).to_parquet(
        tmp_path / "events.parquet")
    got = events_per_day(tmp_path)
    assert got[["event_type", "events", "accounts"]].values.tolist() == [
        ["export", 1, 1], ["login", 3, 2], ["login", 1, 1]]
    assert got["day"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-01", "2025-01-01", "2025-01-02"]


def test_an_accounts_file_of_the_header_alone_is_named_as_the_cause(tmp_path):
    """A new user's accounts.csv held only its header: ingest said only that every other table was quarantined as
    of unknown accounts. It now says the accounts file has no rows, first."""
    raw = _write(tmp_path / "raw", _tables())
    (raw / "accounts.csv").write_text("account_id,name,segment,plan,mrr,start_date,end_date\n", encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    assert report.tables["accounts"].rows_read == 0
    said = [w for w in report.warnings if w.startswith("accounts: ")]
    assert said == [f"accounts: {raw / 'accounts.csv'} has no data rows (the header only); every row of the other "
                    f"tables will be quarantined as of an unknown account_id"], report.warnings
    assert any(w.startswith("events: every one of the") for w in report.warnings)
    assert any(w.startswith("tickets: the only row read from ") for w in report.warnings)  # not "every one of the 1"


def test_ids_that_differ_by_leading_zeros_are_pointed_out(tmp_path):
    """accounts.csv wrote 00001; the events (a numeric column elsewhere) wrote 1: every event was quarantined as
    of an unknown account, with no hint why."""
    t = _tables()
    t["accounts"][0]["account_id"] = "00001"
    for row in t["events"]:
        row["account_id"] = {"A1": "1", "A2": "a2"}.get(row["account_id"], row["account_id"])
    raw = _write(tmp_path / "raw", t)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    said = [w for w in report.warnings if "but for leading zeros or case" in w]
    events = [w for w in said if w.startswith("events: ")]
    assert len(events) == 1 and events[0].startswith("events: 2 account_id values of "), report.warnings
    assert "(e.g. '1' here, '00001' in accounts)" in events[0]
    assert report.tables["events"].rows_quarantined >= 1
    plain = _checked(ingest(_write(tmp_path / "raw2", _tables()), tmp_path / "p2", now=NOW))
    assert not any("leading zeros" in w for w in plain.warnings)


def _numbered_world() -> dict[str, list[dict]]:
    """:func:`_tables` with numbers for ids (accounts 1 and 2, tickets 101 and 102) and a CSAT answer naming
    ticket 101 beside an NPS answer naming none (its ticket_id cell blank)."""
    t = _tables()
    for rows in t.values():
        for row in rows:
            if "account_id" in row:
                row["account_id"] = {"A1": 1, "A2": 2}[row["account_id"]]
    t["tickets"][0]["ticket_id"] = 101
    t["tickets"].append({**t["tickets"][0], "ticket_id": 102, "account_id": 2, "csat": None})
    t["surveys"][0]["ticket_id"] = None
    t["surveys"][1].update(ticket_id=101, account_id=1, trigger="ticket_close", submitted_at="2025-01-04T12:00:00Z")
    return t


def _write_as(raw: Path, t: dict[str, list[dict]], fmt: str, floats: set[tuple[str, str]]) -> None:
    """The tables in ``fmt``, the columns ``floats`` (table, column) as floats (as pandas holds a column of integers
    with a blank: CSV ``101.0``, Parquet and JSON doubles) and the other account and ticket ids as integers."""
    raw.mkdir(parents=True)
    for name, rows in t.items():
        df = pd.DataFrame(rows)
        for col in df.columns:
            if col in ("account_id", "ticket_id"):
                df[col] = df[col].astype(float if (name, col) in floats else "Int64")
        if fmt == "csv":
            df.to_csv(raw / f"{name}.csv", index=False)
        elif fmt == "parquet":
            df.to_parquet(raw / f"{name}.parquet", index=False)
        else:
            (raw / f"{name}.ndjson").write_text(df.to_json(orient="records", lines=True))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
@pytest.mark.parametrize("floats", [
    {("surveys", "ticket_id"), ("surveys", "account_id"), ("events", "account_id")},
    {("tickets", "ticket_id"), ("tickets", "account_id"), ("accounts", "account_id")},  # the reverse
    {("surveys", "ticket_id")},
], ids=["surveys-float", "tickets-float", "surveys-ticket-float"])
def test_ids_read_as_floats_match_the_same_ids_read_as_integers(tmp_path, fmt, floats):
    """A column of integer ids with a blank cell is a column of floats to pandas: 101.0 in the surveys named no
    ticket 101 (the CSAT answer was not the ticket's; the ticket kept its own score), and accounts 1.0 and 2.0
    quarantined every row of accounts 1 and 2 elsewhere as of an unknown account. An id is text, a whole number
    without its decimal point, whatever type the file gave it."""
    from engage_models.surveys.csat import csat_scores, ticket_csat

    raw = tmp_path / "raw"
    _write_as(raw, _numbered_world(), fmt, floats)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    assert {n: r.rows_quarantined for n, r in report.tables.items()} == dict.fromkeys(report.tables, 0)
    tables = {n: load(n, tmp_path / "processed") for n in report.tables}
    for name, df in tables.items():
        assert set(df["account_id"]) <= {"1", "2"}, (name, df["account_id"].tolist())
    sv, tk = tables["surveys"], tables["tickets"]
    assert tk["ticket_id"].tolist() == ["101", "102"]
    assert sv["ticket_id"].isna().tolist() == [True, False] and sv["ticket_id"].iloc[1] == "101"
    scores = csat_scores(sv, tk)
    assert scores[["source", "ticket_id", "score"]].to_dict("records") == [
        {"source": "survey", "ticket_id": "101", "score": 2.0}]  # the answer, not the ticket's own 4
    closed = ticket_csat(tk, sv).set_index("ticket_id")
    assert closed.loc["101", ["score", "source"]].tolist() == [2.0, "survey"]


def test_an_id_read_as_a_number_is_written_as_the_number_and_nothing_else_changes(tmp_path):
    """Known answers: a float 1e6 is 1000000, a float 101.5 stays 101.5, text 00101 keeps its zeros, a float's NaN
    (pandas' blank, kept as NaN by a writer other than pandas) is a missing id, counted with its row; an account
    quarantined in accounts under 2.0 is the account 2 of the other tables."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = _tables()
    t["accounts"][1]["mrr"] = -5  # account 2 quarantined (negative mrr)
    raw = _write(tmp_path / "raw", t)
    acc = pd.read_csv(raw / "accounts.csv").assign(account_id=[1.0, 2.0])
    acc.to_parquet(raw / "accounts.parquet", index=False)
    (raw / "accounts.csv").unlink()
    events = pd.read_csv(raw / "events.csv", dtype=str, keep_default_na=False)
    events = pd.concat([events, events.iloc[[0]]], ignore_index=True)
    events["account_id"] = ["1", "1", "2", "00001"]  # 2: quarantined in accounts; 00001 is not 1
    events["user_id"] = ["1000000.0", "101.5", "7", "7"]
    events.to_csv(raw / "events.csv", index=False)
    users = pa.table({"user_id": pa.array([1e6, 101.5, float("nan")]), "account_id": pa.array([1.0, 1.0, 1.0]),
                      "role": ["admin"] * 3, "created_at": ["2024-06-01"] * 3})
    pq.write_table(users, raw / "users.parquet")
    for name in ("tickets", "touchpoints", "surveys"):
        df = pd.read_csv(raw / f"{name}.csv", dtype=str, keep_default_na=False)
        df.assign(account_id=df["account_id"].map({"A1": "1", "A2": "1"})).to_csv(raw / f"{name}.csv", index=False)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    processed = tmp_path / "processed"
    assert load("accounts", processed)["account_id"].tolist() == ["1"]
    users = load("users", processed)
    assert users["user_id"].tolist() == ["1000000", "101.5"]
    assert report.tables["users"].by_reason == {C.missing("user_id"): 1}
    assert load("events", processed)["user_id"].tolist() == ["1000000", "101.5"]
    assert report.tables["events"].by_reason == {C.ACCOUNT_QUARANTINED: 1, C.UNKNOWN_ACCOUNT: 1}
    q = _quarantine(processed, "events").set_index("account_id")["reason"]
    assert q.to_dict() == {"2": C.ACCOUNT_QUARANTINED, "00001": C.UNKNOWN_ACCOUNT}


def test_an_extra_id_column_is_kept_as_text(tmp_path):
    """A column the contract does not name but named as an id (``crm_id``; the touches' ``user_id``, which journeys
    reads) is text like the contract's ids, not a number column (BIGINT, a float to pandas where one cell is
    blank: 7.0); another extra column of numbers stays numbers."""
    t = _tables()
    t["accounts"][0].update(crm_id=7, seats=12)
    t["accounts"][1].update(crm_id=None, seats=3)
    t["touchpoints"][0]["user_id"] = 42
    _, processed = _run(tmp_path, t)
    acc = load("accounts", processed)
    assert acc["crm_id"].tolist() == ["7", None] and acc["seats"].tolist() == [12, 3]
    assert load("touchpoints", processed)["user_id"].tolist() == ["42"]


def test_ingest_warnings_are_in_the_report_s_language_and_keep_it_in_the_json(tmp_path):
    """Report 01 in Japanese showed every ingest warning in English ("詳細（英語）：events: 2 row(s) of ..."). A
    warning is kept in every language (``warning_texts`` beside ``warnings`` in ingest_report.json) and read back
    so; a report written before then still shows its English, said to be English."""
    from engage_models.ingest.quality import ingest_warnings
    from engage_models.ingest.validate import IngestReport

    t = _tables()
    t["surveys"][0]["score"] = "10点"
    t["accounts"][1]["mrr"] = "３００００"
    t["tickets"][0]["opened_at"] = "1/5/2024"
    t["accounts"][0]["mrr"] = "¥1,200"  # read with thousands; another currency's sign than a run in USD
    t["events"][1]["timestamp"] += "Z"  # (a time without a zone is said too: not this test's)
    raw = _write(tmp_path / "raw", t)
    (raw / "sources.yaml").write_text("tables:\n  accounts: {thousands: ','}\n", encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    en, ja = ingest_warnings(report, "en")["warning"].tolist(), ingest_warnings(report, "ja")["warning"].tolist()
    assert len(en) == len(ja) == 5 and en == [str(w) for w in report.warnings]  # two tables lost every row
    assert any("a unit follows the number" in w for w in en)
    assert not any("詳細（英語）" in w or " row(s) " in w or "such as" in w for w in ja), ja
    assert any("単位があります" in w for w in ja) and any("全角数字" in w for w in ja)
    assert any("date_format にその書式を指定してください" in w and "'1/5/2024'" in w for w in ja)
    assert any("行がすべて隔離されました（account_id が accounts で隔離済み：1、score が読み取れない：1）" in w
               for w in ja)
    # read back from the JSON, as a report reads it
    path = tmp_path / "ingest_report.json"
    report.to_json(path)
    again = IngestReport.from_json(path)
    assert ingest_warnings(again, "ja")["warning"].tolist() == ja
    assert ingest_warnings(again, "en")["warning"].tolist() == en
    # a report of before: the English, said to be English
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["warning_texts"]
    path.write_text(json.dumps(data), encoding="utf-8")
    old = ingest_warnings(IngestReport.from_json(path), "ja")["warning"].tolist()
    assert old == [f"詳細（英語）：{w}" for w in en]
    # another currency's sign than the run's: in Japanese too
    said = ingest_warnings(again, "ja", currency="USD")["warning"].tolist()
    assert said[:5] == ja and said[5:] == ["accounts：mrr の値は、この実行の通貨 USD とは別の通貨の記号で"
                                           "書かれています（¥ 1行）。レポートでは USD として表示されます。"
                                           "実行に通貨を指定してください（engage run --currency、"
                                           "または実行の設定の currency:）"]


def test_values_no_format_reads_get_a_hint_that_fits_them(tmp_path):
    """An NPS of 10点 was told to set thousands; full-width digits were quarantined with no word; a date in
    Japanese was offered only US formats. Each is now told what to do (the values are quarantined all the same)."""
    t = _tables()
    t["surveys"][0]["score"] = "10" + chr(0x70B9)  # 10 points
    t["surveys"][1]["score"] = chr(0xFF12)  # a full-width 2
    t["accounts"][1]["mrr"] = "".join(chr(0xFF10 + int(d)) for d in "30000")  # an amount: read (see money.read_amount)
    t["accounts"][0]["start_date"] = "2024" + chr(0x5E74) + "1" + chr(0x6708) + "1" + chr(0x65E5)
    raw = _write(tmp_path / "raw", t)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    said = "\n".join(report.warnings)
    assert "surveys: 1 row of" in said and "a unit follows the number: remove it" in said
    assert "it is written in full-width digits: convert the column to half-width (ASCII) digits" in said
    assert f"give date_format: '%Y{chr(0x5E74)}%m{chr(0x6708)}%d{chr(0x65E5)}' in sources.yaml" in said
    assert "thousands: ','" not in said  # not the advice for these values
    assert load("accounts", tmp_path / "processed").set_index("account_id")["mrr"].get("A2") == 30000.0


def test_event_types_and_channels_no_metric_counts_are_kept_and_said(tmp_path):
    """Event types written in Japanese (ログイン, 機能利用) were kept without a word and every login, export and
    view metric read 0 for every account; a touchpoint channel 'email' likewise. Kept (nothing is lost), and said
    with the commonest values, their rows and the names the metrics count."""
    t = _tables()
    t["events"][0]["event_type"] = "ログイン"
    t["events"][2]["event_type"] = "ログイン"
    t["touchpoints"][0]["channel"] = "Email"
    raw = _write(tmp_path / "raw", t)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    assert report.tables["events"].rows_kept == 3 and report.tables["touchpoints"].rows_kept == 1
    events = [w for w in report.warnings if w.startswith("events: ") and "without a time zone" not in w]
    assert len(events) == 1 and "of the 3 rows kept from" in events[0], report.warnings
    assert (", 2 have a value of event_type that no metric or default milestone counts (67%): 'ログイン' 2 rows"
            in events[0])
    assert "Those count login, feature_use, export, content_view, onboarding_completed" in events[0]
    touch = [w for w in report.warnings if w.startswith("touchpoints: ") and "no metric" in w]
    assert len(touch) == 1 and "'email' 1 row" in touch[0]  # channels are read in lower case, and that is said
    assert any(w.startswith("touchpoints: 1 row kept") and "'Email' as 'email' in 1 row" in w for w in report.warnings)
    from engage_models._core.reasons import text

    ja = [text(w, "ja") for w in report.warnings if str(w).startswith("events: ") and "no metric" in str(w)][0]
    assert "どの指標も既定のマイルストーンも数えない event_type です：'ログイン' 2行" in ja
    plain = _checked(ingest(_write(tmp_path / "raw2", _tables()), tmp_path / "p2", now=NOW))
    assert not any("no metric or default milestone" in w for w in plain.warnings)
    # every event type a default milestone counts is one ingest knows is counted (the lists kept in step)
    from engage_models.journeys.milestones import MILESTONES

    for m in MILESTONES:
        if m.source == "events" and "event_type" in m.match:
            types = m.match["event_type"] if isinstance(m.match["event_type"], list) else [m.match["event_type"]]
            assert set(types) <= set(C.COUNTED_EVENT_TYPES), m
    for m in MILESTONES:
        if m.source == "touchpoints" and "channel" in m.match:
            channels = m.match["channel"] if isinstance(m.match["channel"], list) else [m.match["channel"]]
            assert set(channels) <= set(C.CHANNELS + C.PREPURCHASE_CHANNELS), m


def test_a_semicolon_separated_file_is_recognised_and_read_with_its_delimiter(tmp_path):
    """A European spreadsheet's CSV separates fields by ';': ingest said only "missing required column(s) ...
    (found: account_id;name;segment;...)", and sources.yaml refused a delimiter."""
    raw = _write(tmp_path / "raw", _tables())
    accounts = pd.read_csv(raw / "accounts.csv", dtype=str, keep_default_na=False)
    accounts.to_csv(raw / "accounts.csv", index=False, sep=";")
    with pytest.raises(IngestError, match=r'the header looks separated by ";", not commas: give the table '
                                          r'delimiter: ";" in sources.yaml'):
        ingest(raw, tmp_path / "processed", now=NOW)
    (raw / "sources.yaml").write_text('tables:\n  accounts: {delimiter: ";"}\n', encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    assert report.tables["accounts"].rows_kept == len(accounts)
    assert sorted(load("accounts", tmp_path / "processed")["account_id"]) == sorted(accounts["account_id"])
    (raw / "sources.yaml").write_text('tables:\n  accounts: {delimiter: ":"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"delimiter must be one of ',', ';', '\\t', '\|', not ':'"):
        ingest(raw, tmp_path / "p2", now=NOW)


def test_an_empty_file_is_a_table_without_rows_not_a_stopped_run(tmp_path):
    """A 0-byte surveys.csv (an export of nothing) stopped ingest and the whole run ("the file is empty (no header
    line)", exit 2) where the same file with its header alone is read as no rows. It is read as no rows, said;
    an empty part among parts is skipped, said."""
    raw = _write(tmp_path / "raw", _tables())
    (raw / "surveys.csv").write_bytes(b"")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    r = report.tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.rows_quarantined) == (0, 0, 0)
    said = [w for w in report.warnings if w.startswith("surveys: ")]
    assert said == [f"surveys: {raw / 'surveys.csv'} is empty (not even a header): read as a table without rows"], \
        report.warnings
    assert len(load("surveys", tmp_path / "processed")) == 0
    parts = raw / "events"
    parts.mkdir()
    ev = pd.read_csv(raw / "events.csv")
    (raw / "events.csv").unlink()
    ev.to_csv(parts / "a.csv", index=False)
    (parts / "b.csv").write_bytes(b"")
    report = _checked(ingest(raw, tmp_path / "p2", now=NOW))
    assert report.tables["events"].rows_kept == len(ev)
    assert any(w.startswith("events: ") and "b.csv is empty (not even a header)" in w for w in report.warnings)
    # Excel's "CSV UTF-8" of nothing is its byte-order mark alone; a file of a blank line is no header either
    for content in (b"\xef\xbb\xbf", b"\r\n", b"\xef\xbb\xbf\r\n\r\n"):
        (raw / "surveys.csv").write_bytes(content)
        assert _checked(ingest(raw, tmp_path / "p3", now=NOW)).tables["surveys"].rows_read == 0


def test_events_their_account_or_user_contradicts_are_kept_counted_and_said(tmp_path):
    """An event of 2019 for an account that started in 2023, an event at 1970-01-01 (an empty cell read as a
    date), events by a user of another account or of none were all kept without a word; report 01 showed only
    "first 2019-01-01" in its date coverage."""
    t = _tables()
    t["events"][0]["timestamp"] = "1970-01-01T00:00:00Z"            # A1 started 2024-01-01
    t["events"].append({"account_id": "A2", "user_id": "U1", "timestamp": "2025-06-01T10:00:00Z",  # A2 ended
                        "event_type": "login", "feature": "", "duration_s": 1})             # 2025-03-15; U1 is A1's
    t["events"].append({"account_id": "A2", "user_id": "U9", "timestamp": "2025-01-07T10:00:00Z",
                        "event_type": "login", "feature": "", "duration_s": 1})             # U9: no such user
    t["users"] = [{"user_id": "U1", "account_id": "A1", "role": "admin", "created_at": "2024-01-01"},
                  {"user_id": "U2", "account_id": "A2", "role": "user", "created_at": "2024-02-01"}]
    report = _checked(ingest(_write(tmp_path / "raw", t), tmp_path / "processed", now=NOW))
    assert report.tables["events"].rows_kept == 5  # kept: a trial or a shared login cannot be told from an error
    said = [w for w in report.warnings if w.startswith("events: ")]
    before = [w for w in said if "before their account's start_date" in w]
    assert len(before) == 1 and before[0].startswith("events: of the 5 events kept, 1 is dated before")
    assert "(the earliest 1 Jan 1970, account 'A1', which started 1 Jan 2024)" in before[0]
    after = [w for w in said if "after their account's end_date" in w]
    assert len(after) == 1 and "(the latest 1 Jun 2025, account 'A2', which ended 15 Mar 2025)" in after[0]
    other = [w for w in said if "users gives to another account" in w]
    assert len(other) == 1 and "events: 1 event names a user_id" in other[0]  # one, not "1 events name"
    assert "'U1', a user of 'A1', in an event of 'A2'" in other[0]
    assert any("users does not have (e.g. 'U9')" in w for w in said)
    clean = _checked(ingest(_write(tmp_path / "raw2", _tables()), tmp_path / "p2", now=NOW))
    assert not any("start_date" in w or "end_date" in w or "user_id" in w for w in clean.warnings)


def test_several_subscription_rows_in_one_month_are_said_with_what_the_kpis_take(tmp_path):
    """Two rows of one account starting in one month (a mid-month upgrade, or one row per product) were kept
    without a word, and the KPIs take the latest row's MRR: an account billed per product was undercounted."""
    t = _tables()
    t["subscriptions"] = [{"account_id": "A1", "period_start": "2025-01-01", "mrr": 300},
                          {"account_id": "A1", "period_start": "2025-01-15", "mrr": 200},   # the same month
                          {"account_id": "A1", "period_start": "2025-02-01", "mrr": 500},
                          {"account_id": "A2", "period_start": "2025-01-01", "mrr": 200}]
    report = _checked(ingest(_write(tmp_path / "raw", t), tmp_path / "processed", now=NOW))
    assert report.tables["subscriptions"].rows_kept == 4
    said = [w for w in report.warnings if w.startswith("subscriptions: ")]
    assert len(said) == 1, said
    assert ("1 account-month has more than one row starting in the month (2 rows; e.g. 'A1' in 2025-01): the "
            "month's MRR is the latest row's") in said[0], said
    t["subscriptions"][1]["period_start"] = "2025-03-01"
    clean = _checked(ingest(_write(tmp_path / "raw2", t), tmp_path / "p2", now=NOW))
    assert not any(w.startswith("subscriptions: ") for w in clean.warnings)


def test_a_workbook_is_named_with_what_to_do(tmp_path):
    """accounts.xls beside the other tables read "accounts: no file for this required table", and a sources.yaml
    path to it "cannot tell the format from the name": neither said to save it as CSV (or .xlsx, which is read)."""
    raw = _write(tmp_path / "raw", _tables())
    (raw / "accounts.csv").rename(raw / "accounts.xls")
    with pytest.raises(IngestError, match=r"accounts: .*accounts\.xls is a spreadsheet workbook, which ingest does "
                                          r"not read: save the sheet as CSV \(Excel: File > Save As > CSV UTF-8\) or "
                                          r"as an Excel workbook \(.xlsx\)"):
        ingest(raw, tmp_path / "processed", now=NOW)
    with pytest.raises(IngestError, match="is a spreadsheet workbook"):
        ingest(raw, tmp_path / "processed", now=NOW, sources={"accounts": raw / "accounts.xls"})


def test_an_excel_workbook_is_ingested_as_the_csv_of_its_sheet(tmp_path):
    """accounts.xlsx and events.xlsx (a title row above the events' header, as teams type them) beside CSVs: the
    processed tables equal those of the same tables as CSV; a row the contract rejects is quarantined naming the
    workbook and its data row, and a warning says which sheet row that is."""
    import openpyxl

    t = _tables()
    t["accounts"][1]["mrr"] = "lots"  # a value the contract rejects: quarantined with its data row
    csv_raw = _write(tmp_path / "csv", t)
    book_raw = _write(tmp_path / "book", t)
    for name, title in (("accounts", None), ("events", "Product events, January")):
        (book_raw / f"{name}.csv").unlink()
        wb = openpyxl.Workbook()
        ws = wb.active
        if title:
            ws.append([title])
        frame = pd.DataFrame(t[name])
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            ws.append([None if v == "" else v for v in row])
        wb.save(book_raw / f"{name}.xlsx")
    a = _checked(ingest(csv_raw, tmp_path / "p_csv", now=NOW))
    b = _checked(ingest(book_raw, tmp_path / "p_book", now=NOW))
    for name in ("accounts", "events", "tickets"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p_book" / f"{name}.parquet"),
                                      pd.read_parquet(tmp_path / "p_csv" / f"{name}.parquet"))
    q = pd.read_parquet(tmp_path / "p_book" / "quarantine" / "accounts.parquet")
    assert len(q) == 1 and q["source_row"].tolist() == [2] and q["source_file"].iloc[0].endswith("accounts.xlsx")
    assert any(str(w).startswith("events: read from the sheet 'Sheet' of ") and "data row N is row N + 2 of the "
               "sheet" in str(w) for w in b.warnings), b.warnings
    assert a.tables["accounts"].rows_quarantined == 1


def test_dates_written_as_numbers_are_recognised_and_read_with_their_name(tmp_path):
    """Excel serial dates (45292.5) and Unix times were told "add its format to date_format", which no strptime
    format reads, and hid behind another unreadable date until that one was fixed; date_format: '%s' was refused.
    They are named (excel, epoch_s, epoch_ms), said apart, and read; a numeric Parquet column of epoch
    milliseconds too."""
    t = _tables()
    t["events"][0]["timestamp"] = "45663.5"            # 6 Jan 2025 12:00 on the table's clock (45658: 1 Jan)
    t["events"][1]["timestamp"] = "05.01.2025 10:05"    # a German spreadsheet's, another pattern
    raw = _write(tmp_path / "raw", t)
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    said = [w for w in report.warnings if w.startswith("events: ") and "timestamp" in w]
    assert len(said) == 2, report.warnings
    serial = next(w for w in said if "such as '45663.5'" in w)
    assert "spreadsheet's serial date" in serial and "give date_format: excel in sources.yaml" in serial
    assert any("such as '05.01.2025 10:05'" in w and "strptime" in w for w in said)
    (raw / "sources.yaml").write_text("tables:\n  events: {date_format: [excel, '%d.%m.%Y %H:%M']}\n",
                                      encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "p2", now=NOW))
    assert report.tables["events"].rows_kept == 3
    got = sorted(load("events", tmp_path / "p2")["timestamp"])
    assert got == [pd.Timestamp(v, tz="UTC") for v in ("2025-01-05 10:05", "2025-01-06 00:00", "2025-01-06 12:00")]
    # epoch milliseconds in a Parquet integer column, and seconds in text
    ev = pd.read_csv(raw / "events.csv").drop(columns="timestamp")
    ms = [1736071200000, 1736071500000, 1736150400000]
    ev.assign(timestamp=ms).to_parquet(raw / "events.parquet")
    (raw / "events.csv").unlink()
    (raw / "sources.yaml").write_text("tables:\n  events: {date_format: epoch_ms}\n", encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "p3", now=NOW))
    assert report.tables["events"].rows_kept == 3
    assert sorted(load("events", tmp_path / "p3")["timestamp"]) == [pd.Timestamp(v, unit="ms", tz="UTC") for v in ms]
    with pytest.raises(ConfigError, match=r"date_format 'excell' has no % directive .* none of the dates written "
                                          r"as numbers \(excel, epoch_s, epoch_ms\)"):
        ingest(raw, tmp_path / "p4", now=NOW, sources={"events": {"date_format": "excell"}})


def test_blank_rows_and_a_repeated_header_are_quarantined_as_what_they_are(tmp_path):
    """An Excel export's trailing ",,,,,," rows were quarantined as "missing account_id; missing start_date" and a
    header pasted in the middle as "unparseable mrr; unparseable start_date; ...": counted as bad data (4.8% of
    accounts), and read as such. Each is now said as what it is, in every language."""
    from engage_models.ingest.quality import translate_reason

    raw = _write(tmp_path / "raw", _tables())
    text = (raw / "accounts.csv").read_text(encoding="utf-8").splitlines()
    header, rows = text[0], text[1:]
    (raw / "accounts.csv").write_text("\n".join([header, rows[0], header, rows[1], ",,,,,,,", ",,,,,,,"]) + "\n",
                                      encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "processed", now=NOW))
    r = report.tables["accounts"]
    assert (r.rows_kept, r.rows_quarantined) == (2, 3)
    assert r.by_reason == {C.REPEATED_HEADER: 1, C.BLANK_ROW: 2}
    q = load("accounts", tmp_path / "processed", quarantine=True)
    assert q.sort_values("source_row")["source_row"].tolist() == [2, 4, 5]
    assert translate_reason(C.BLANK_ROW, "ja") == "空の行（どの列にも値がない）"
    assert translate_reason(C.REPEATED_HEADER, "ja") == "見出し行の繰り返し"

    # an extra column of numbers stays numbers: the pasted header's "seats_bought" is not a value to type it by
    lines = [header + ",seats_bought", rows[0] + ",12", header + ",seats_bought", rows[1] + ",7"]
    (raw / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "p2", now=NOW))
    assert report.tables["accounts"].by_reason == {C.REPEATED_HEADER: 1}
    kept = load("accounts", tmp_path / "p2")
    assert pd.api.types.is_integer_dtype(kept["seats_bought"]) and kept["seats_bought"].tolist() == [12, 7]
    q = load("accounts", tmp_path / "p2", quarantine=True)
    assert q["seats_bought"].tolist() == ["seats_bought"]  # the quarantine shows it as it was read


def test_a_workbook_is_read_from_the_sheet_named_like_its_table_and_several_sheets_of_values_are_refused(tmp_path):
    """Ingest read a workbook's first visible sheet only: a Notes sheet before the accounts read "missing required
    column(s)" without naming any sheet, and a tickets workbook kept on two sheets (one per half-year) lost the
    second half with nothing said but the name of the sheet read. The sheet named like the table is read (the
    others holding values named in the warning), sources.yaml's sheet: picks one, and two sheets of values with
    none named like the table are refused naming them."""
    import openpyxl

    t = _tables()
    t["tickets"].append({**t["tickets"][0], "ticket_id": "T2", "account_id": "A2"})
    raw = _write(tmp_path / "raw", t)

    def book(name, sheets, hidden=()):
        (raw / f"{name}.csv").unlink(missing_ok=True)
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            if title in hidden:
                ws.sheet_state = "hidden"
            for r in rows:
                ws.append(r)
        wb.save(raw / f"{name}.xlsx")

    def rows(name, frame=None):
        frame = pd.DataFrame(t[name]) if frame is None else frame
        return [list(frame.columns)] + [[None if v == "" else v for v in r] for r in frame.itertuples(index=False)]

    book("accounts", {"Notes": [["Exported from the CRM on 9 Jan"]], "lookup": [["SMB"]], "Accounts": rows("accounts")},
         hidden=("lookup",))
    report = _checked(ingest(raw, tmp_path / "p1", now=NOW))
    assert report.tables["accounts"].rows_kept == 2
    said = next(w for w in report.warnings if w.startswith("accounts: read from the sheet 'Accounts' of "))
    assert "its other sheet holding values, 'Notes', is not read (sheet: in sources.yaml reads another)" in said
    assert "lookup" not in said  # a hidden sheet is no table of the user's

    tickets = pd.DataFrame(t["tickets"])
    book("tickets", {"2025H1": rows("tickets", tickets.iloc[:1]), "2025H2": rows("tickets", tickets.iloc[1:]),
                     "Sheet3": []})
    with pytest.raises(IngestError, match=r"tickets: .*tickets\.xlsx has 2 sheets holding values \('2025H1', "
                                          r"'2025H2'\) and none named 'tickets': say which one to read with sheet: "
                                          r"in sources.yaml"):
        ingest(raw, tmp_path / "p2", now=NOW)
    (raw / "sources.yaml").write_text("tables:\n  tickets: {sheet: 2025h2}\n", encoding="utf-8")  # Excel's case
    report = _checked(ingest(raw, tmp_path / "p3", now=NOW))
    assert load("tickets", tmp_path / "p3")["ticket_id"].tolist() == ["T2"]
    assert any("'2025H2'" in w and "other sheet holding values, '2025H1'" in w for w in report.warnings)
    (raw / "sources.yaml").write_text("tables:\n  tickets: {sheet: 2026}\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"no sheet '2026'; its sheets: '2025H1', '2025H2', 'Sheet3'"):
        ingest(raw, tmp_path / "p4", now=NOW)
    (raw / "sources.yaml").write_text("tables:\n  events: {sheet: Data}\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"events: a sheet \('Data'\) is given for .*events\.csv, which is not an "
                                          r"Excel workbook"):
        ingest(raw, tmp_path / "p5", now=NOW)


def test_a_header_in_another_language_is_told_how_to_map_it(tmp_path):
    """A header written in Japanese (顧客ID for account_id) read only "missing required column(s) 'account_id'
    (found: 顧客ID, ...)": the sources file's columns, which reads it, was not named. The error now gives the
    mapping to write, and that mapping reads the table."""
    raw = _write(tmp_path / "raw", _tables())
    frame = pd.read_csv(raw / "accounts.csv", dtype=str, keep_default_na=False)
    frame.rename(columns={"account_id": "顧客ID"}).to_csv(raw / "accounts.csv", index=False)
    with pytest.raises(IngestError, match=r"missing required column 'account_id' \(found: 顧客ID, .*\); a column "
                                          r"headed otherwise is read once sources.yaml maps it: tables: "
                                          r"\{accounts: \{columns: \{account_id: 顧客ID\}\}\}$") as said:
        ingest(raw, tmp_path / "p1", now=NOW)
    (raw / "sources.yaml").write_text(said.value.args[0].rsplit("maps it: ", 1)[1] + "\n", encoding="utf-8")
    report = _checked(ingest(raw, tmp_path / "p2", now=NOW))
    assert report.tables["accounts"].rows_kept == 2 and report.tables["accounts"].renamed_columns == {
        "顧客ID": "account_id"}


def _workbook(path: Path, rows: list[list], title: str = "Sheet") -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = title
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


def test_a_workbook_header_naming_a_column_twice_is_read_as_a_csv_header_is(tmp_path):
    """A tickets workbook naming csat twice read as csat and csat.1 (pandas' names): the first was read as the
    ticket's CSAT without a word, and two memo columns came in as memo and memo.1, unsaid. As in a CSV, a column the
    table reads named twice stops ingest naming the sheet's columns, and any other is kept as memo, memo_2 and said."""
    t = _tables()
    raw = _write(tmp_path / "raw", t)
    (raw / "tickets.csv").unlink()
    cols = list(t["tickets"][0])
    _workbook(raw / "tickets.xlsx", [[*cols, "memo", "memo"], [*t["tickets"][0].values(), "first", "second"]])
    report = _checked(ingest(raw, tmp_path / "p1", now=NOW))
    assert report.tables["tickets"].extra_columns == ["memo", "memo_2"]
    assert load("tickets", tmp_path / "p1")[["memo", "memo_2"]].values.tolist() == [["first", "second"]]
    assert any(w.startswith("tickets: the header of ") and "tickets.xlsx names 'memo' more than once, no column the "
               "table reads: they are kept as 'memo', 'memo_2'" in w for w in report.warnings), report.warnings
    _workbook(raw / "tickets.xlsx", [[*cols, "csat"], [*t["tickets"][0].values(), 2]])
    with pytest.raises(IngestError, match=r"tickets: .*tickets\.xlsx, sheet 'Sheet': the header names column "
                                          r"\['csat'\] more than once \('csat' in columns F, G of the sheet\): which "
                                          r"one to read cannot be told; rename the others"):
        ingest(raw, tmp_path / "p3", now=NOW)


def test_a_workbook_keeps_its_text_cells_as_a_csv_of_the_sheet_holds_them(tmp_path):
    """Ingest read a workbook's text cells as engage fit reads them: a region 'NA' (North America) became empty, a
    CSAT of 'N/A' an empty CSAT (not set aside with its reason), and an MRR typed as the text '1,200.00' was 1200,
    where the same sheet's CSV keeps 'NA', sets 'N/A' aside and quarantines '1,200.00' as unparseable (sources.yaml's
    thousands: ',' reads it). The workbook's tables and quarantines now equal the CSV's."""
    t = _tables()
    t["accounts"][0]["region"] = "NA"
    t["accounts"][1]["mrr"] = "1,200.00"
    t["tickets"][0]["csat"] = "N/A"
    csv_raw = _write(tmp_path / "csv", t)
    book_raw = _write(tmp_path / "book", t)
    for name in ("accounts", "tickets"):
        (book_raw / f"{name}.csv").unlink()
        frame = pd.DataFrame(t[name])
        _workbook(book_raw / f"{name}.xlsx", [list(frame.columns)] + [[None if v == "" else v for v in r]
                                                                      for r in frame.itertuples(index=False)])
    a = _checked(ingest(csv_raw, tmp_path / "p_csv", now=NOW))
    b = _checked(ingest(book_raw, tmp_path / "p_book", now=NOW))
    assert b.tables["accounts"].by_reason == a.tables["accounts"].by_reason == {"unparseable mrr": 1}
    assert b.tables["tickets"].values_set_aside == a.tables["tickets"].values_set_aside != {}
    for name in ("accounts", "tickets"):
        pd.testing.assert_frame_equal(load(name, tmp_path / "p_book"), load(name, tmp_path / "p_csv"))
    assert load("accounts", tmp_path / "p_book")["region"].tolist() == ["NA"]
    q = load("accounts", tmp_path / "p_book", quarantine=True)
    assert q["mrr"].tolist() == ["1,200.00"]
    (book_raw / "sources.yaml").write_text("tables:\n  accounts: {thousands: ','}\n", encoding="utf-8")
    c = _checked(ingest(book_raw, tmp_path / "p_thousands", now=NOW))
    assert c.tables["accounts"].rows_kept == 2 and 1200.0 in load("accounts", tmp_path / "p_thousands")["mrr"].tolist()


def test_a_folder_of_workbooks_is_read_part_by_part(tmp_path):
    """raw/tickets/*.xlsx (a workbook a month) was found, then refused as "cannot read it as an Excel workbook" (the
    folder's pattern given to openpyxl). Each workbook is read by the sheet rules of one (the sheet named like the
    table, else its one sheet of values), its rows numbered in it and quarantined naming it; Excel's lock file of a
    part open in it is no part; a part with two sheets of values and none named tickets stops, naming the part."""
    t = _tables()
    first = t["tickets"][0]
    raw = _write(tmp_path / "raw", t)
    (raw / "tickets.csv").unlink()
    (raw / "tickets").mkdir()
    cols = list(first)
    _workbook(raw / "tickets" / "2025-01.xlsx", [["Tickets, January"], cols, list(first.values()),
                                                 [*list(first.values())[:-1], 9]])  # T1 again: quarantined
    feb = {**first, "ticket_id": "T2", "account_id": "A2"}
    _workbook(raw / "tickets" / "2025-02.xlsx", [[*cols[::-1], "memo"], [*list(feb.values())[::-1], "x"]],
              title="tickets")
    (raw / "tickets" / "~$2025-02.xlsx").write_bytes(b"\x05owner")  # Excel's lock file: the workbook is open
    report = _checked(ingest(raw, tmp_path / "p1", now=NOW))
    r = report.tables["tickets"]
    assert (r.rows_read, r.rows_kept, r.extra_columns) == (3, 2, ["memo"])
    kept = load("tickets", tmp_path / "p1").sort_values("ticket_id")
    assert kept["ticket_id"].tolist() == ["T1", "T2"] and kept["memo"].tolist() == [None, "x"]
    q = load("tickets", tmp_path / "p1", quarantine=True)
    assert q["source_file"].str.endswith("2025-01.xlsx").tolist() == [True] and q["source_row"].tolist() == [2]
    said = [w for w in report.warnings if w.startswith("tickets: read from the sheet ")]
    assert len(said) == 2 and "2025-01.xlsx: data row N is row N + 2 of the sheet" in said[0], said
    _workbook(raw / "tickets" / "2025-03.xlsx", [cols])
    import openpyxl

    wb = openpyxl.load_workbook(raw / "tickets" / "2025-03.xlsx")
    wb.create_sheet("Notes").append(["sent to finance"])
    wb.save(raw / "tickets" / "2025-03.xlsx")
    with pytest.raises(IngestError, match=r"tickets: .*2025-03\.xlsx has 2 sheets holding values \('Sheet', 'Notes'\) "
                                          r"and none named 'tickets'"):
        ingest(raw, tmp_path / "p2", now=NOW)


def test_survey_types_and_triggers_differing_only_by_case_are_one_value_and_said(tmp_path):
    """``CSAT`` beside ``csat`` (two survey tools, or a hand-typed row) is one survey type: the surveys code counts
    'csat'. The values were made one without a word, so a reader counting the file's rows by spelling could not see
    why the reports counted them together: one warning per column names the spellings changed and their rows."""
    t = _tables()
    t["surveys"][1]["survey_type"] = "CSAT"
    t["surveys"].append({**t["surveys"][1], "response_id": "R3", "survey_type": " Csat ", "trigger": "Onboarding"})
    t["surveys"].append({**t["surveys"][1], "response_id": "R4", "survey_type": "CSAT"})
    report, processed = _run(tmp_path, t)
    kept = load("surveys", processed).set_index("response_id")
    assert kept["survey_type"].to_dict() == {"R1": "nps", "R2": "csat", "R3": "csat", "R4": "csat"}
    assert kept["trigger"].tolist() == ["periodic", "onboarding", "onboarding", "onboarding"]
    said = [w for w in report.warnings if "in capitals" in w]
    assert [w.split(" kept from ")[0] for w in said] == ["surveys: 3 rows", "surveys: 1 row"]
    assert said[0].endswith("write survey_type in capitals or full-width letters ('CSAT' as 'csat' in 2 rows, 'Csat' "
                            "as 'csat' in 1 row): read in lower-case half-width letters, one value with the same word "
                            "written so")
    assert "writes trigger in capitals or full-width letters ('Onboarding' as 'onboarding' in 1 row)" in said[1]
    assert "'CSAT' → 'csat'（2行）" in said[0].text("ja")
    again, _ = _run(tmp_path / "plain")  # nothing written in capitals: nothing said
    assert not any("in capitals" in w for w in again.warnings)


def test_a_survey_type_in_full_width_letters_is_the_same_code(tmp_path):
    """A Japanese Excel's full-width ＣＳＡＴ was quarantined as an unknown survey type: the code columns read in
    lower case (Column.lower) are read in half-width too, as NFKC reads them."""
    t = _tables()
    t["surveys"][1]["survey_type"] = "ＣＳＡＴ"
    t["surveys"][1]["trigger"] = "Ｏｎｂｏａｒｄｉｎｇ"
    report, processed = _run(tmp_path, t)
    kept = load("surveys", processed).set_index("response_id")
    assert kept.loc["R2", "survey_type"] == "csat" and kept.loc["R2", "trigger"] == "onboarding"
    assert report.tables["surveys"].rows_quarantined == 0


def test_a_folder_of_workbooks_read_alike_is_said_once_naming_every_part(tmp_path):
    """A folder of a workbook a month, from one template (its sheet 'tickets', a title row above the header, two
    'memo' columns), gave one warning per workbook for the same thing: three months, six warnings. Each is said once
    now, naming the workbooks it is true of; a workbook read otherwise (no title row) has its own. Empty CSV parts
    are said once likewise."""
    t = _tables()
    first = t["tickets"][0]
    raw = _write(tmp_path / "raw", t)
    (raw / "tickets.csv").unlink()
    (raw / "tickets").mkdir()
    cols = [*first, "memo", "memo"]
    for k, month in enumerate(("2025-01", "2025-02", "2025-03")):
        row = [*{**first, "ticket_id": f"T{k}"}.values(), "a", "b"]
        _workbook(raw / "tickets" / f"{month}.xlsx", [["Tickets"], cols, row], title="tickets")
    _workbook(raw / "tickets" / "2025-04.xlsx", [cols, [*{**first, "ticket_id": "T9"}.values(), "a", "b"]],
              title="tickets")
    report = _checked(ingest(raw, tmp_path / "p1", now=NOW))
    assert report.tables["tickets"].rows_kept == 4
    rows = [w for w in report.warnings if w.startswith("tickets: read from the sheet 'tickets' of ")]
    folder = str(raw / "tickets")
    assert rows == [f"tickets: read from the sheet 'tickets' of 2025-01.xlsx, 2025-02.xlsx, 2025-03.xlsx in {folder}: "
                    "data row N is row N + 2 of the sheet",
                    f"tickets: read from the sheet 'tickets' of {folder}/2025-04.xlsx: data row N is row N + 1 of the "
                    "sheet"], rows
    memo = [w for w in report.warnings if "names 'memo' more than once" in w]
    assert memo == [f"tickets: the header of 2025-01.xlsx, 2025-02.xlsx, 2025-03.xlsx, 2025-04.xlsx in {folder} names "
                    "'memo' more than once, no column the table reads: they are kept as 'memo', 'memo_2'"], memo
    assert "2025-01.xlsx、2025-02.xlsx" not in memo[0] and f"{folder} の 2025-01.xlsx" in memo[0].text("ja")
    (raw / "surveys").mkdir()  # two empty monthly exports beside one with rows
    (raw / "surveys.csv").rename(raw / "surveys" / "2025-01.csv")
    for month in ("2025-02", "2025-03"):
        (raw / "surveys" / f"{month}.csv").write_bytes(b"")
    report = _checked(ingest(raw, tmp_path / "p2", now=NOW))
    empty = [w for w in report.warnings if "empty (not even a header)" in w]
    assert empty == [f"surveys: 2025-02.csv, 2025-03.csv in {raw / 'surveys'} are empty (not even a header): read "
                     "as parts without rows"], empty


def test_times_without_a_zone_are_said_and_a_month_start_the_data_only_begin_is_the_observation_date(tmp_path,
                                                                                                    caplog):
    """An export in Tokyo time, its times written without an offset and read without --timezone, gave 2025-02-02 as
    the default observation date, a day off the panel's month starts, and said nothing: the export, run on the
    morning of 1 February, held that day's first hours. The times are said to be read as UTC (naming the table, the
    column and a value with its row), and a month's first day the data only begin (fewer events than half a usual
    day's) is left after the observation date: 2025-02-01, said in the dates' ``partial_day``."""
    from engage_models.ingest.quality import data_dates, observation_date

    t = _tables()
    ev = t["events"][0]
    january = [{**ev, "timestamp": f"2025-01-{d:02d} {h:02d}:{m:02d}:00"} for d in range(1, 32) for h in range(24)
               for m in (10, 40)]  # 48 a day, through the day
    morning = [{**ev, "timestamp": f"2025-02-01 0{h}:{m:02d}:00"} for h in range(3) for m in (10, 40)]
    t["events"] = [*january, *morning]  # 1 February's first three hours
    report, processed = _run(tmp_path, t)
    said = [w for w in report.warnings if "without a time zone" in w]
    assert said == [f"events: timestamp is written without a time zone (e.g. timestamp '2025-01-01 00:10:00', data row "
                    f"1 of {tmp_path / 'raw' / 'events.csv'}): read as UTC, whose days and months every later step "
                    "counts. If these are the clock of another zone (Tokyo's, say), give it: engage ingest --timezone "
                    "Asia/Tokyo (engage run --timezone, or the run's timezone:), or timezone: Asia/Tokyo for this "
                    "table in sources.yaml"], report.warnings
    with caplog.at_level("WARNING", logger="engage_models.ingest.quality"):
        dates = data_dates(processed)
    assert ("events: the data end at 02:40 on 2025-02-01, a month's first day with 6 events where a usual day has 48, "
            "88% of them later in the day: an export run in that day's first hours, so the default observation date "
            "is 2025-02-01 and that day's events come after it; give --as-of 2025-02-02 to take them in"
            in caplog.messages)
    assert (dates["last_event"], dates["as_of"]) == ("2025-02-01T02:40:00+00:00", "2025-02-01T00:00:00+00:00")
    assert dates["partial_day"] == {"day": "2025-02-01", "events": 6, "usual": 48.0,
                                    "until": "2025-02-01T02:40:00+00:00", "later_share": round(42 / 48, 3)}
    assert data_dates(processed, "2025-02-02")["as_of"] == "2025-02-02T00:00:00+00:00"  # given: as given
    assert "partial_day" not in data_dates(processed, "2025-02-02")
    # a whole first day of February: it is taken in, as before
    t["events"] = [*january, *({**ev, "timestamp": f"2025-02-01 {h:02d}:30:00"} for h in (0, 9, 23))]
    report, processed = _run(tmp_path / "whole", t)
    assert observation_date(None, processed) == pd.Timestamp("2025-02-02", tz="UTC")
    assert "partial_day" not in data_dates(processed)
    # a quiet whole day is no cut: its events run into the evening (a B2B product's Sunday, 1 January), or a whole
    # day of a small company may hold that few (1 event where 3 are usual)
    for name, first_day in (("evening", [{**ev, "timestamp": f"2025-02-01 {h:02d}:10:00"} for h in (1, 22)]),
                            ("small", [{**ev, "timestamp": "2025-02-01 00:10:00"}])):
        events = january if name == "evening" else [e for e in january if e["timestamp"][11:] in
                                                     ("00:10:00", "09:10:00", "23:10:00")]
        t["events"] = [*events, *first_day]
        report, processed = _run(tmp_path / name, t)
        assert observation_date(None, processed) == pd.Timestamp("2025-02-02", tz="UTC"), name
        assert "partial_day" not in data_dates(processed), name
    # the zone given (the run's, or the table's in sources.yaml): nothing to say
    tokyo = _checked(ingest(tmp_path / "whole" / "raw", tmp_path / "tokyo", now=NOW, timezone="Asia/Tokyo"))
    assert not any("without a time zone" in w for w in tokyo.warnings)
    (tmp_path / "whole" / "raw" / "sources.yaml").write_text("tables:\n  events: {timezone: UTC}\n", encoding="utf-8")
    utc = _checked(ingest(tmp_path / "whole" / "raw", tmp_path / "utc", now=NOW))
    assert not any("without a time zone" in w for w in utc.warnings)


def test_the_report_s_html_counts_one_quarantined_row_as_one_row(tmp_path):
    """A notebook showing the ingest report read "1 rows quarantined" for a single bad row."""
    t = _tables()
    t["events"][0]["timestamp"] = "not a date"
    report, _ = _run(tmp_path, t)
    assert report.rows_quarantined == 1
    assert ": 1 row quarantined.</p>" in report._repr_html_()
