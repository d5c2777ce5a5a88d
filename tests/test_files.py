"""Files as they really come: encodings, lines that are not rows, non-finite values, names like ours, two
files for one table, and an ingest that replaces the processed data whole or not at all.

Every test checks rows read = rows kept + rows quarantined for every table it ingests.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_models._core.errors import ConfigError
from engage_models._core.locks import LOCK_FILE
from engage_models.cli import main
from engage_models.ingest import IngestError, IngestReport, ingest, load, quality
from engage_models.ingest import contracts as C
from engage_models.ingest import files as F
from engage_models.ingest import validate as V
from test_ingest import NOW, _tables, _write

SURVEY_COLS = list(_tables()["surveys"][0])


def _counts_add_up(report: IngestReport) -> None:
    for r in report.tables.values():
        assert r.rows_read == r.rows_kept + r.rows_quarantined, r


def _ingest(raw: Path, processed: Path, **kw) -> IngestReport:
    report = ingest(raw, processed, now=NOW, **kw)
    _counts_add_up(report)
    return report


def _survey(rid: str, comment: str, lang: str = "ja", score: str = "9") -> list[str]:
    return [rid, "A1", "U1", "2025-01-15T12:00:00Z", "nps", "periodic", score, comment, lang]


def _csv_text(rows: list[list[str]], header=SURVEY_COLS, newline="\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows([header, *rows])
    return buf.getvalue()


def _raw_with_surveys(tmp_path: Path, data: bytes, name: str = "surveys.csv") -> Path:
    t = _tables()
    del t["surveys"]
    raw = _write(tmp_path / "raw", t)
    (raw / name).write_bytes(data)
    return raw


# ----------------------------------------------------------------------------------------------- encodings
COMMENTS_JA = ["サポートが遅い", "解約を検討中", "①～②の手順が分かりにくい", "ﾃｽﾄ用の半角ｶﾅ", "髙橋さんの対応は満点",
               "「とても満足」", "ソ連、表示、能力"]  # 髙 and ①: CP932 extensions; ソ表能: 0x5C as second byte


def test_a_cp932_file_with_japanese_comments_is_read_byte_for_byte(tmp_path):
    expected = [c.encode("cp932") for c in COMMENTS_JA]
    rows = [_survey(f"R{i}", c) for i, c in enumerate(COMMENTS_JA)]
    data = _csv_text(rows, newline="\r\n").encode("cp932")  # as Excel saves "CSV (comma delimited)" in Japan
    raw = _raw_with_surveys(tmp_path, data)
    report = _ingest(raw, tmp_path / "processed")
    r = report.tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.encoding, r.encoding_detected) == (7, 7, "cp932", True)
    got = load("surveys", tmp_path / "processed")["comment"].tolist()
    assert [c.encode("cp932") for c in got] == expected  # every byte of every comment
    assert report.tables["accounts"].encoding == "utf-8"
    shown = quality.file_encodings(report, "ja").set_index("source")
    assert shown.loc["surveys.csv", "encoding"] == "CP932（Shift_JIS）"
    assert shown.loc["surveys.csv", "encoding_how"] == "自動判定"
    assert quality.translate_codes(report.to_frame(), "en").set_index("table").loc["surveys", "encoding"] == \
        "CP932 (Shift_JIS)"
    assert IngestReport.from_json(tmp_path / "processed" / "ingest_report.json").tables["surveys"].encoding == "cp932"


def test_a_short_cp932_file_is_not_taken_for_korean(tmp_path):
    # charset-normalizer 3.5 answers cp949 for these bytes and garbles them; a strict decode does not
    data = "a,b\n1,解約を検討中\n2,とても満足\n".encode("cp932")
    (tmp_path / "t.csv").write_bytes(data)
    assert F.detect_encoding(tmp_path / "t.csv") == "cp932"


def test_a_stray_nul_byte_does_not_make_a_utf8_file_utf16(tmp_path):
    """One NUL in the first 4 KB of a UTF-8 export made the file 'UTF-16': its header read as '敲灳湯敳楟...' and
    ingest stopped with 'missing required columns'. UTF-16 without a mark has a zero byte in every ASCII pair."""
    text = _csv_text([_survey("R1", COMMENTS_JA[0]), _survey("R2", "ok\x00", "en")])
    (tmp_path / "nul.csv").write_bytes(text.encode("utf-8"))
    assert F.detect_encoding(tmp_path / "nul.csv") == "utf-8"
    report = _ingest(_raw_with_surveys(tmp_path, text.encode("utf-8")), tmp_path / "processed")
    assert report.tables["surveys"].rows_read == 2 and report.tables["surveys"].encoding == "utf-8"
    for encoding in ("utf-16-le", "utf-16-be"):
        (tmp_path / "u16.csv").write_bytes(_csv_text([_survey("R1", COMMENTS_JA[0])]).encode(encoding))
        assert F.detect_encoding(tmp_path / "u16.csv") == encoding


@pytest.mark.parametrize("encoding, recorded", [("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"),
                                                ("utf-16-le", "utf-16-le"), ("utf-8", "utf-8")])
def test_utf8_with_bom_and_utf16_read_the_same_rows(tmp_path, encoding, recorded):
    rows = [_survey(f"R{i}", c) for i, c in enumerate(COMMENTS_JA)] + [_survey("R9", "Great, fast", "en")]
    raw = _raw_with_surveys(tmp_path, _csv_text(rows).encode(encoding))
    report = _ingest(raw, tmp_path / "processed")
    assert report.tables["surveys"].encoding == recorded and report.tables["surveys"].rows_kept == 8
    got = load("surveys", tmp_path / "processed")
    assert got["response_id"].tolist()[0] == "R0"  # no byte-order mark glued to the first header
    assert got["comment"].tolist() == [*COMMENTS_JA, "Great, fast"]


def test_a_gzipped_cp932_file_is_read_too(tmp_path):
    rows = [_survey("R1", COMMENTS_JA[0])]
    raw = _raw_with_surveys(tmp_path, gzip.compress(_csv_text(rows).encode("cp932")), "surveys.csv.gz")
    report = _ingest(raw, tmp_path / "processed")
    assert report.tables["surveys"].encoding == "cp932"
    assert load("surveys", tmp_path / "processed")["comment"].tolist() == [COMMENTS_JA[0]]


def test_encoding_from_the_sources_file_and_the_command_line(tmp_path, capsys):
    rows = [_survey("R1", COMMENTS_JA[1])]
    raw = _raw_with_surveys(tmp_path, _csv_text(rows).encode("cp932"))
    (raw / "sources.yaml").write_text("tables:\n  surveys:\n    encoding: cp932\n", encoding="utf-8")
    report = _ingest(raw, tmp_path / "p1")  # raw/sources.yaml is read by default
    assert (report.tables["surveys"].encoding, report.tables["surveys"].encoding_detected) == ("cp932", False)
    assert quality.file_encodings(report, "en").set_index("source").loc["surveys.csv", "encoding_how"] == \
        "given (sources.yaml or --encoding)"
    # a path in the sources file is taken from the file's folder; --encoding wins over the file
    (raw / "surveys.csv").rename(raw / "export_2025.csv")
    (raw / "sources.yaml").write_text("tables:\n  surveys: {path: export_2025.csv, encoding: utf-8}\n")
    with pytest.raises(IngestError, match=r"surveys: export_2025\.csv is not utf-8: .* on line 2 cannot be decoded"):
        _ingest(raw, tmp_path / "p2")
    assert main(["ingest", "--raw", str(raw), "--out", str(tmp_path / "p3"), "--now", NOW,
                 "--encoding", "surveys=Shift_JIS"]) == 0
    assert load("surveys", tmp_path / "p3")["comment"].tolist() == [COMMENTS_JA[1]]
    assert "shift_jis" in capsys.readouterr().out
    elsewhere = tmp_path / "conf" / "my_sources.yaml"  # --sources: a sources file anywhere
    elsewhere.parent.mkdir()
    elsewhere.write_text(f"tables:\n  surveys: {{path: {raw / 'export_2025.csv'}, encoding: cp932}}\n")
    (raw / "sources.yaml").unlink()
    assert main(["ingest", "--raw", str(raw), "--out", str(tmp_path / "p5"), "--now", NOW,
                 "--sources", str(elsewhere)]) == 0
    assert IngestReport.from_json(tmp_path / "p5" / "ingest_report.json").tables["surveys"].encoding == "cp932"
    assert main(["ingest", "--raw", str(raw), "--out", str(tmp_path / "p4"), "--encoding", "surveys=klingon"]) == 2
    assert "unknown encoding 'klingon'" in capsys.readouterr().err


def test_a_file_in_no_known_encoding_is_refused_with_what_to_do(tmp_path):
    raw = _raw_with_surveys(tmp_path, _csv_text([_survey("R1", "x")]).encode() + b"R2,\xfd\xfe\n")
    with pytest.raises(IngestError, match=r"surveys: surveys\.csv is neither utf-8 nor cp932: give its encoding"):
        _ingest(raw, tmp_path / "processed")


@pytest.mark.parametrize("text, message", [
    ("tables:\n  surveys: {encoding: cp932, url: 'postgres://x'}\n", r"names a database \(url\) and a file "
     r"\(encoding\); keep one"),
    ("tables:\n  surveys: {query: 'SELECT 1'}\n", "query without a url"),
    ("tables:\n  survey: {encoding: cp932}\n", "unknown table 'survey'"),
    ("tables:\n  surveys: {encoding: nope}\n", "unknown encoding 'nope'"),
    ("surveys: {encoding: cp932}\n", "top-level keys 'tables' and \\(optional\\) 'env_file'"),
    ("tables:\n  tickets: {date_format: 'mm/dd/yyyy'}\n", r"table 'tickets'.*'mm/dd/yyyy' has no % directive"),
    ("tables:\n  tickets: {date_format: '%m/%Q'}\n", r"table 'tickets'.*'%m/%Q' is not a strptime format"),
    ("tables:\n  tickets: {date_format: [1, 2]}\n", r"table 'tickets'.*date_format is a strptime format"),
])
def test_a_bad_sources_file_names_the_file_and_the_entry(tmp_path, text, message):
    raw = _write(tmp_path / "raw", _tables())
    (raw / "sources.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        ingest(raw, tmp_path / "processed", now=NOW)
    assert "sources.yaml" in str(err.value)


# ------------------------------------------------------------------------------------- dates as written
def test_dates_written_as_a_spreadsheet_writes_them_are_read_with_the_format_given(tmp_path, caplog):
    """1/5/2025 is not ISO 8601 (January or May?): without a format it is quarantined as unparseable, with a
    warning that shows it and says what to do; with ``date_format`` it is read, ISO text still is, and a value
    neither reads is quarantined as before."""
    t = _tables()
    t["accounts"][1]["start_date"] = "1/5/2024"  # 5 January; A1's 2024-01-01 is ISO, read either way
    # T2's offset must not carry over to T1 and T4, read after it by formats without one
    t["tickets"] = [{**t["tickets"][0], "ticket_id": "T2", "opened_at": "01/02/2025 09:00 +0900", "closed_at": ""},
                    {**t["tickets"][0], "ticket_id": "T1", "opened_at": "01/02/2025 13:45",
                     "closed_at": "1/3/2025 9:00"},
                    {**t["tickets"][0], "ticket_id": "T3", "opened_at": "13/02/2025", "closed_at": ""},
                    {**t["tickets"][0], "ticket_id": "T4", "opened_at": "01/04/2025", "closed_at": ""}]
    raw = _write(tmp_path / "raw", t)
    with caplog.at_level("WARNING", logger="engage_models.ingest.validate"):
        report = _ingest(raw, tmp_path / "plain")
    assert report.tables["tickets"].by_reason == {C.unparseable("opened_at"): 4, C.unparseable("closed_at"): 1}
    assert report.tables["accounts"].by_reason == {C.unparseable("start_date"): 1}
    warned = [r.getMessage() for r in caplog.records]
    assert any("tickets: 4 rows" in m and "opened_at that is not a date, such as '01/02/2025 09:00 +0900'" in m
               and "date_format in sources.yaml" in m for m in warned), warned
    # ... and in the ingest report, for report 01's readers (the log is for whoever runs the job)
    assert report.warnings == [m for m in warned if m in report.warnings] and len(report.warnings) == len(warned)
    from engage_models.ingest import IngestReport
    from engage_models.ingest.quality import ingest_warnings

    assert IngestReport.from_json(tmp_path / "plain" / "ingest_report.json").warnings == report.warnings
    shown = ingest_warnings(report, "ja")["warning"].tolist()  # in Japanese now (they were "詳細（英語）：...")
    assert len(shown) == len(report.warnings) and not any("詳細（英語）" in w or "such as" in w for w in shown)
    assert [w.split("：", 1)[0] for w in shown] == [w.split(":", 1)[0] for w in report.warnings]
    again = IngestReport.from_json(tmp_path / "plain" / "ingest_report.json")
    assert ingest_warnings(again, "ja")["warning"].tolist() == shown

    (raw / "sources.yaml").write_text(
        "tables:\n  accounts: {date_format: '%m/%d/%Y'}\n"
        "  tickets:\n    date_format: ['%m/%d/%Y %H:%M %z', '%m/%d/%Y %H:%M', '%m/%d/%Y']\n", encoding="utf-8")
    report = _ingest(raw, tmp_path / "formatted")
    assert report.tables["accounts"].rows_quarantined == 0
    accounts = load("accounts", tmp_path / "formatted")
    assert accounts["start_date"].tolist() == [pd.Timestamp(d, tz="UTC") for d in ("2024-01-01", "2024-01-05")]
    assert report.tables["tickets"].by_reason == {C.unparseable("opened_at"): 1}  # month 13: no format reads it
    tickets = load("tickets", tmp_path / "formatted").set_index("ticket_id")
    assert tickets.loc["T1", "opened_at"] == pd.Timestamp("2025-01-02 13:45", tz="UTC")  # no offset: UTC
    assert tickets.loc["T1", "closed_at"] == pd.Timestamp("2025-01-03 09:00", tz="UTC")
    assert tickets.loc["T2", "opened_at"] == pd.Timestamp("2025-01-02 00:00", tz="UTC")  # 09:00 at +09:00
    assert tickets.loc["T4", "opened_at"] == pd.Timestamp("2025-01-04 00:00", tz="UTC")
    q = load("tickets", tmp_path / "formatted", quarantine=True)
    assert q["opened_at"].tolist() == ["13/02/2025"]  # kept as it was written
    # the command line's --encoding keeps the file's date format
    from engage_models.ingest.sources import resolve_sources

    assert resolve_sources(raw, None, {"tickets": "utf-8"})["tickets"].date_format == (
        "%m/%d/%Y %H:%M %z", "%m/%d/%Y %H:%M", "%m/%d/%Y")


@pytest.mark.parametrize("thousands, decimal, written, want", [
    (",", None, ["1,200", "¥1,200", "1,200円", "+1,234,567.5", "500", "$ 1,200.50"], [1200, 1200, 1200, 1234567.5,
                                                                                   500, 1200.5]),
    (".", ",", ["1.200", "1.200,50", "€1.234.567", "500,25"], [1200, 1200.5, 1234567, 500.25]),
    (" ", ",", ["1 200", "1 200,5", "12,5"], [1200, 1200.5, 12.5]),
    (None, ",", ["12,5", "1200", ",5"], [12.5, 1200, 0.5]),
    ("'", None, ["1'200'000.5"], [1200000.5]),
    (",", None, ["\\12,330", "\\5"], [12330, 5]),  # ¥ as Shift_JIS writes it: the byte of a backslash
])
def test_numbers_written_with_separators_are_read_as_the_source_says(tmp_path, caplog, thousands, decimal, written,
                                                                     want):
    """mrr exported from a formatted spreadsheet: without a number format a value whose currency sign does not say
    how it is written (or that has none) is unparseable (and its account is quarantined); with thousands/decimal it
    is read, digits grouped by three only."""
    from engage_models._core.money import read_amount

    t = _tables()
    acc = t["accounts"][0]
    t["accounts"] = [{**acc, "account_id": f"A{k}", "mrr": v} for k, v in enumerate(written)]
    # not grouped by three; a point where the decimal is a comma; a sign inside the digits
    bad = {"1" + (thousands or ".") + "2", "1.5" if decimal == "," else "1,2¥00"}
    t["accounts"] += [{**acc, "account_id": f"BAD{k}", "mrr": v} for k, v in enumerate(sorted(bad))]
    for name in ("events", "tickets", "touchpoints", "surveys"):
        t[name] = [{**row, "account_id": "A0"} for row in t[name]]
    raw = _write(tmp_path / "raw", t)
    with caplog.at_level("WARNING", logger="engage_models.ingest.validate"):
        plain = _ingest(raw, tmp_path / "plain").tables["accounts"]
    unread = [w for w in written if read_amount(w) is None]  # ¥1,200 is read without a format: its sign tells
    assert plain.rows_quarantined >= len(unread)
    # (1.200 is read as 1.2 without a format: a point is a decimal point unless the source says otherwise)
    assert not unread or any(any(f"mrr that is not a number, such as {w!r}" in r.getMessage() for w in unread)
                             and "thousands" in r.getMessage() for r in caplog.records)
    entry = {"thousands": thousands, **({"decimal": decimal} if decimal else {})}
    import yaml

    (raw / "sources.yaml").write_text(yaml.safe_dump({"tables": {"accounts": entry}}, allow_unicode=True),
                                      encoding="utf-8")
    report = _ingest(raw, tmp_path / "formatted")
    assert report.tables["accounts"].by_reason == {C.unparseable("mrr"): len(bad)}
    got = load("accounts", tmp_path / "formatted").set_index("account_id")["mrr"]
    assert got.loc[[f"A{k}" for k in range(len(written))]].tolist() == pytest.approx(want)
    q = load("accounts", tmp_path / "formatted", quarantine=True)
    assert sorted(q["mrr"]) == sorted(bad) and all(q["account_id"].str.startswith("BAD"))


def test_amounts_in_two_currencies_or_another_than_the_runs_are_warned_about(tmp_path):
    """Currency signs are dropped as numbers are read (thousands given): they are counted per column first, a
    column holding two currencies is warned about at ingest, and report 01 warns when the signs are not the
    run's currency's (the reports would show yen as dollars)."""
    from engage_models.ingest.quality import currency_mismatches, ingest_warnings

    t = _tables()
    acc = t["accounts"][0]
    written = ["¥1,200", "1,200円", "\\5,000", "500", "$ 300", "+¥40",
               "1,2¥00", "¥abc"]  # the last two: a sign inside digits, no number (quarantined: not counted)
    t["accounts"] = [{**acc, "account_id": f"A{k}", "mrr": v} for k, v in enumerate(written)]
    for name in ("events", "tickets", "touchpoints", "surveys"):
        t[name] = [{**row, "account_id": "A0"} for row in t[name]]
    raw = _write(tmp_path / "raw", t)
    (raw / "sources.yaml").write_text("tables:\n  accounts: {thousands: ','}\n", encoding="utf-8")
    report = _ingest(raw, tmp_path / "p")
    signs = {"¥": 3, "$": 1, "円": 1}  # 円 is the yen's too, but only the yen's
    assert report.tables["accounts"].currency_signs == {"mrr": signs}
    assert report.tables["accounts"].by_reason == {C.unparseable("mrr"): 2}
    two = [w for w in report.warnings if "more than one currency" in w]
    assert len(two) == 1 and two[0].startswith("accounts: the values of mrr in ")
    assert "(¥ 3 rows, $ 1 row, 円 1 row)" in two[0]
    said = currency_mismatches(report, "USD")
    assert len(said) == 1 and "(¥ 3 rows, 円 1 row)" in said[0] and "--currency" in said[0]
    assert "($ 1 row)" in currency_mismatches(report, "JPY")[0]
    assert "($ 1 row, 円 1 row)" in currency_mismatches(report, "CNY")[0]  # Chinese writes 元, not 円
    shown = ingest_warnings(report, "en", "USD")["warning"].tolist()
    assert shown == report.warnings + said
    assert IngestReport.from_json(tmp_path / "p" / "ingest_report.json").tables["accounts"].currency_signs == \
        {"mrr": signs}

    # yen written both ways is one currency; one value with two currencies' signs is not
    for mrr, warned in ((["¥1,200", "300円"], False), (["$1,200円", "300"], True)):
        t["accounts"] = [{**acc, "account_id": f"A{k}", "mrr": v} for k, v in enumerate(mrr)]
        _write(raw, t)
        got = _ingest(raw, tmp_path / f"w{warned}")
        assert any("more than one currency" in w for w in got.warnings) == warned, got.warnings
    assert got.tables["accounts"].currency_signs == {"mrr": {"$": 1, "円": 1}}

    # one currency, the run's: nothing said; no sources file: an amount's sign is read and counted all the same
    t["accounts"] = [{**acc, "account_id": f"A{k}", "mrr": v} for k, v in enumerate(["$1,200", "300", "$5"])]
    _write(raw, t)
    one = _ingest(raw, tmp_path / "one")
    assert one.tables["accounts"].currency_signs == {"mrr": {"$": 2}}
    assert [w for w in one.warnings if "without a time zone" not in w] == []  # (an event's time is, and said)
    assert currency_mismatches(one, "USD") == [] and currency_mismatches(one, "CAD") == []
    (raw / "sources.yaml").unlink()
    assert _ingest(raw, tmp_path / "none").tables["accounts"].currency_signs == {"mrr": {"$": 2}}

    # an ISO code is a sign too (it was read and not counted: a USD run of yen amounts written "JPY 2,985" said
    # nothing); yen written by code and by sign is one currency
    t["accounts"] = [{**acc, "account_id": f"A{k}", "mrr": v} for k, v in enumerate(["JPY 2,985", "¥1,200", "300 jpy"])]
    _write(raw, t)
    codes = _ingest(raw, tmp_path / "codes")
    assert codes.tables["accounts"].currency_signs == {"mrr": {"JPY": 2, "¥": 1}}
    assert not any("more than one currency" in w for w in codes.warnings)
    assert "(JPY 2 rows, ¥ 1 row)" in currency_mismatches(codes, "USD")[0] and currency_mismatches(codes, "JPY") == []


def test_json_dates_and_numbers_are_read_by_the_sources_formats_not_guessed(tmp_path):
    """DuckDB's JSON reader would read 05-01-2024 as 5 January on its own: here a date not in ISO 8601 waits for
    date_format like a CSV's; a JSON column of numbers and text (200 and "¥1,200") is read by its values' text."""
    t = _tables()
    del t["accounts"]
    raw = _write(tmp_path / "raw", t)
    rows = [{**_tables()["accounts"][0], "start_date": "05-01-2024", "mrr": 200, "signed": "2024-02-03"},
            {**_tables()["accounts"][1], "start_date": "06-02-2024", "mrr": "¥1,200", "signed": "2024-02-04"}]
    (raw / "accounts.json").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    plain = _ingest(raw, tmp_path / "plain").tables["accounts"]
    assert plain.by_reason == {C.unparseable("start_date"): 2}  # ¥1,200: an amount its sign says how to read
    (raw / "sources.yaml").write_text("tables:\n  accounts: {date_format: '%m-%d-%Y', thousands: ','}\n",
                                      encoding="utf-8")
    formatted = _ingest(raw, tmp_path / "formatted").tables["accounts"]
    assert formatted.rows_quarantined == 0 and formatted.currency_signs == {"mrr": {"¥": 1}}
    got = load("accounts", tmp_path / "formatted")
    assert got["start_date"].tolist() == [pd.Timestamp(d, tz="UTC") for d in ("2024-05-01", "2024-06-02")]
    assert got["mrr"].tolist() == [200, 1200]
    import pyarrow as pa
    import pyarrow.parquet as pq

    # an ISO date in an extra column is still a date
    assert pq.read_schema(tmp_path / "formatted" / "accounts.parquet").field("signed").type == pa.date32()


def test_no_format_advice_for_values_no_format_would_read(tmp_path, caplog):
    """'n/a' for a number and 2025-02-30 (ISO, but no such day) are quarantined as unparseable without advice to
    give a format: only a value a format could read is shown as the example."""
    t = _tables()
    t["accounts"][1]["mrr"] = "n/a"
    t["tickets"] = [{**t["tickets"][0], "ticket_id": "T1", "opened_at": "2025-02-30T10:00:00Z"},
                    {**t["tickets"][0], "ticket_id": "T2", "opened_at": "1/5/2025"}]
    with caplog.at_level("WARNING", logger="engage_models.ingest.validate"):
        report = _ingest(_write(tmp_path / "raw", t), tmp_path / "p")
    assert report.tables["accounts"].by_reason == {C.unparseable("mrr"): 1}
    warned = [r.getMessage() for r in caplog.records if "not a date" in r.getMessage() or "not a number" in
              r.getMessage()]
    assert len(warned) == 1 and "opened_at that is not a date, such as '1/5/2025'" in warned[0], warned
    # a table that lost every row says so where it happens (its metrics would read zero)
    assert any(r.getMessage().startswith("tickets: every one of the 2 rows read from ") and
               "(unparseable opened_at: 2)" in r.getMessage() for r in caplog.records)


def test_a_score_written_with_its_label_is_told_what_to_do_and_full_width_digits_behind_it_too(tmp_path, caplog):
    """A survey tool's answer text ('10 - Extremely likely') was told to set thousands and decimal, which read
    nothing of it; full-width digits in the same column were not said at all while the label was the example."""
    rows = [_survey("R1", "x", score="10 - Extremely likely"), _survey("R2", "x", score="4: Satisfied"),
            _survey("R3", "x", score=chr(0xFF19)), _survey("R4", "x", score="7")]
    raw = _raw_with_surveys(tmp_path, _csv_text(rows).encode())
    with caplog.at_level("WARNING", logger="engage_models.ingest.validate"):
        report = _ingest(raw, tmp_path / "p")
    assert report.tables["surveys"].by_reason == {C.unparseable("score"): 3}
    said = [r.getMessage() for r in caplog.records if "not a number" in r.getMessage()]
    assert len(said) == 2, said
    assert "such as '10 - Extremely likely'; the number comes with the words it stands for" in said[0]
    assert "thousands" not in said[0]
    assert said[1].startswith("surveys: 1 row of ") and "it is written in full-width digits" in said[1]


@pytest.mark.parametrize("entry, message", [
    ({"thousands": "x"}, "thousands is one of"),
    ({"decimal": ";"}, "decimal is '.' or ','"),
    ({"thousands": ",", "decimal": ","}, "thousands and decimal are both ','"),
    ({"thousands": "."}, "thousands and decimal are both '.'; give decimal: ','"),
])
def test_a_bad_number_format_names_the_file_and_table(tmp_path, entry, message):
    from engage_models.ingest.sources import source_from

    with pytest.raises(ConfigError, match=r"sources\.yaml, table 'accounts': " + message):
        source_from("accounts", entry, "sources.yaml")


# --------------------------------------------------------------------------------- lines that are not rows
def test_malformed_lines_are_quarantined_with_line_number_raw_text_and_reason(tmp_path):
    good = [_survey("R1", "fine", "en"), _survey("R2", 'multi\nline, "quoted" comment', "en")]
    text = _csv_text(good)
    lines = [
        "R3,A1,U1,2025-01-15T12:00:00Z,nps,periodic,9,Great, fast,en",  # an unquoted comma: one field too many
        "R4,A1,U1,2025-01-15T12:00:00Z,nps,periodic,9,en",  # the comment left out: one field too few
        'R5,A1,U1,2025-01-15T12:00:00Z,nps,periodic,9,"unclosed,en',  # the quote never closes
        "R6,A1,U1,2025-01-15T12:00:00Z,nps,periodic,8,after the unclosed quote,en",  # still read
        'R7,A1,U1,2025-01-15T12:00:00Z,nps,periodic,9,"ab"c,en',  # text after a closing quote
        "R8,A1,U1,2025-01-15T12:00:00Z,nps,periodic,7,last good row,en",
        "R9,A2,U2,2025-01-1",  # the export was cut off
    ]
    raw = _raw_with_surveys(tmp_path, (text + "\n".join(lines)).encode())
    report = _ingest(raw, tmp_path / "processed")
    r = report.tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.rows_quarantined) == (9, 4, 5)
    assert r.by_reason == {C.TOO_MANY_FIELDS: 1, C.TOO_FEW_FIELDS: 1, C.UNCLOSED_QUOTE: 1, C.MALFORMED_QUOTES: 1,
                           C.TRUNCATED_LAST_LINE: 1}
    kept = load("surveys", tmp_path / "processed")
    assert kept["response_id"].tolist() == ["R1", "R2", "R6", "R8"]
    assert kept["lang"].tolist() == ["en"] * 4  # nothing shifted into lang
    assert kept["comment"].tolist()[1] == 'multi\nline, "quoted" comment'  # a quoted line break is not an error
    q = load("surveys", tmp_path / "processed", quarantine=True)
    # header line 1, R1 line 2, R2 lines 3-4, then one line each
    assert q["source_line"].tolist() == [5, 6, 7, 9, 11]
    assert q["source_row"].tolist() == [3, 4, 5, 7, 9]
    assert q["reason"].tolist() == [C.TOO_MANY_FIELDS, C.TOO_FEW_FIELDS, C.UNCLOSED_QUOTE, C.MALFORMED_QUOTES,
                                    C.TRUNCATED_LAST_LINE]
    assert q["raw_line"].tolist() == [lines[i] for i in (0, 1, 2, 4, 6)]
    assert q["response_id"].isna().all()  # the fields of a line that is not a row are unknown
    sample = quality.quarantine_sample(tmp_path / "processed", "surveys", n=2, lang="ja")
    assert sample["reason"].tolist() == ["列が多すぎる（区切り文字のずれ）", "列が足りない"]
    assert sample["raw_line"].tolist() == lines[:2] and sample["source_file"].tolist() == ["surveys.csv"] * 2


def test_a_truncated_last_line_inside_a_quote_and_crlf_line_ends(tmp_path):
    text = _csv_text([_survey("R1", "ok", "en")], newline="\r\n") + 'R2,A1,U1,2025-01-15T12:00:00Z,nps,periodic,9,"Gre'
    raw = _raw_with_surveys(tmp_path, text.encode("cp932"))
    report = _ingest(raw, tmp_path / "processed")
    assert report.tables["surveys"].by_reason == {C.TRUNCATED_LAST_LINE: 1}
    assert report.tables["surveys"].encoding == "utf-8"  # ASCII only: UTF-8 and CP932 agree
    q = load("surveys", tmp_path / "processed", quarantine=True)
    assert q[["source_row", "source_line"]].values.tolist() == [[2, 3]]


def test_a_tsv_file_splits_on_tabs_only(tmp_path):
    text = _csv_text([_survey("R1", "Great, fast", "en")]).replace(",", "\t").replace("Great\t fast", "Great, fast")
    raw = _raw_with_surveys(tmp_path, text.encode(), "surveys.tsv")
    assert _ingest(raw, tmp_path / "p1").tables["surveys"].rows_kept == 1  # DuckDB alone
    (raw / "surveys.tsv").write_text(text + "R2\ttoo\tfew\n")
    report = _ingest(raw, tmp_path / "p2")  # split in Python
    assert report.tables["surveys"].by_reason == {C.TOO_FEW_FIELDS: 1}
    for p in ("p1", "p2"):
        assert load("surveys", tmp_path / p)["comment"].tolist() == ["Great, fast"]


def test_a_trailing_separator_on_the_header_or_on_some_rows_loses_no_row(tmp_path):
    """A spreadsheet's separator after the last column: on the header alone every row was "too few fields" (all the
    accounts quarantined, and with them every other table's rows), and on some rows those rows were "too many
    fields" (when every line had it, DuckDB read them all). Fields holding nothing are no fields: the rows are
    read, and a row with a value past the header's last column is still quarantined with its line."""
    text = _csv_text([_survey("R1", "fine", "en"), _survey("R2", "also fine", "en")])
    header, r1, r2 = text.splitlines()
    raw = _raw_with_surveys(tmp_path, "\n".join([header + ",", r1, r2, ""]).encode())
    report = _ingest(raw, tmp_path / "p1")
    r = report.tables["surveys"]
    assert (r.rows_kept, r.rows_quarantined, r.extra_columns) == (2, 0, ["column9"])
    assert load("surveys", tmp_path / "p1")["lang"].tolist() == ["en", "en"]
    r3 = r2.replace("R2", "R3")
    (raw / "surveys.csv").write_text("\n".join([header, r1 + ",", r2 + ", ,", r3 + ",x", ""]), encoding="utf-8")
    report = _ingest(raw, tmp_path / "p2")
    assert report.tables["surveys"].by_reason == {C.TOO_MANY_FIELDS: 1}
    kept = load("surveys", tmp_path / "p2")
    assert kept["response_id"].tolist() == ["R1", "R2"] and kept["lang"].tolist() == ["en", "en"]
    assert load("surveys", tmp_path / "p2", quarantine=True)["raw_line"].tolist() == [r3 + ",x"]


def test_every_new_reason_has_japanese_words():
    for reason in (*C.LINE_REASONS, C.not_finite("score")):
        ja = quality.translate_reason(reason, "ja")
        assert ja != reason and not any(w in ja for w in ("field", "quote", "line", "finite")), ja


def test_a_header_only_file_is_an_empty_table(tmp_path):
    raw = _raw_with_surveys(tmp_path, _csv_text([]).encode())
    report = _ingest(raw, tmp_path / "processed")
    assert (report.tables["surveys"].rows_read, report.tables["surveys"].rows_quarantined) == (0, 0)
    q = quality.quarantine_sample(tmp_path / "processed", "events")
    assert q.empty


def test_an_empty_file_is_no_rows_and_a_duplicated_header_is_an_error_naming_the_file(tmp_path):
    raw = _raw_with_surveys(tmp_path, b"")  # 0 bytes: a table without rows, warned about (test_ingest.py)
    assert _ingest(raw, tmp_path / "p1").tables["surveys"].rows_read == 0
    (raw / "surveys.csv").write_text(_csv_text([_survey("R1", "x")], header=[*SURVEY_COLS[:-1], "score"]))
    with pytest.raises(IngestError, match=r"surveys\.csv: the header names column \['score'\] more than once"):
        _ingest(raw, tmp_path / "p2")


def test_a_column_named_twice_that_the_table_does_not_read_is_kept_numbered(tmp_path):
    """A spreadsheet's two "memo" columns stopped the whole ingest ("the header names column(s) ['memo'] more than
    once"), though no contract column reads them: they are kept as memo and memo_2 and said. A repeated column the
    table reads (in any case: SCORE twice) still stops it, naming the columns' positions."""
    header = [*SURVEY_COLS, "memo", "memo"]
    raw = _raw_with_surveys(tmp_path, _csv_text([_survey("R1", "x") + ["first", "second"]], header=header).encode())
    report = _ingest(raw, tmp_path / "p1")
    assert report.tables["surveys"].extra_columns == ["memo", "memo_2"]
    kept = load("surveys", tmp_path / "p1")
    assert kept[["memo", "memo_2"]].values.tolist() == [["first", "second"]]
    assert any(w.startswith("surveys: the header of ") and "names 'memo' more than once, no column the table "
               "reads: they are kept as 'memo', 'memo_2'" in w for w in report.warnings), report.warnings
    header = [*SURVEY_COLS[:6], "SCORE", *SURVEY_COLS[7:], "SCORE"]
    (raw / "surveys.csv").write_text(_csv_text([_survey("R1", "x") + ["9"]], header=header))
    with pytest.raises(IngestError, match=r"surveys\.csv: the header names column \['SCORE'\] more than "
                                          r"once \('SCORE' in columns 7, 10\): which one to read cannot be told"):
        _ingest(raw, tmp_path / "p2")


def _record(row: list[str]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerow(row)
    return buf.getvalue()


def _lines(text: str) -> list[str]:
    return list(io.StringIO(text, newline=""))  # as a file opened with newline='' splits them


field_text = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t;') + ["あ"]), max_size=6)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(field_text, min_size=3, max_size=3), max_size=6),
       bad=st.sampled_from(["x,y", "x,y,z,w", 'x,"y"z,w']), at=st.integers(0, 6))
def test_split_lines_reads_what_a_csv_writer_wrote_and_sets_aside_only_the_bad_line(rows, bad, at):
    """The Python splitter (used once DuckDB found a bad line) reads rows as the csv module wrote them, and a
    bad line between them costs only itself."""
    cut = min(at, len(rows))
    text = "".join(map(_record, rows[:cut])) + bad + "\r\n" + "".join(map(_record, rows[cut:]))
    got = list(F.split_lines(iter(_lines(text)), 3, ",", first_line=2))
    assert [g.fields for g in got if g.fields is not None] == rows
    (b,) = [g for g in got if g.fields is None]
    assert b.raw == bad and b.row == cut + 1
    assert b.line == 2 + sum(len(_lines(_record(r))) for r in rows[:cut])
    assert [g.row for g in got] == list(range(1, len(rows) + 2))


def test_the_fast_and_the_careful_reader_give_the_same_rows(tmp_path):
    """DuckDB reads a clean file; one bad line sends it through split_lines: the other rows come out the same."""
    rows = [_survey(f"R{i}", c) for i, c in enumerate(COMMENTS_JA)] + [
        _survey("R8", 'a "quoted"\r\nline break, and a comma', "en"), _survey("R9", "", "en", "")]
    clean = _csv_text(rows)
    raw = _raw_with_surveys(tmp_path / "a", clean.encode())
    fast = _ingest(raw, tmp_path / "a" / "processed")
    raw = _raw_with_surveys(tmp_path / "b", (clean + "R10,too,few\n").encode())
    careful = _ingest(raw, tmp_path / "b" / "processed")
    assert careful.tables["surveys"].by_reason == {**fast.tables["surveys"].by_reason, C.TOO_FEW_FIELDS: 1}
    pd.testing.assert_frame_equal(load("surveys", tmp_path / "a" / "processed"),
                                  load("surveys", tmp_path / "b" / "processed"))
    qa = load("surveys", tmp_path / "a" / "processed", quarantine=True)
    qb = load("surveys", tmp_path / "b" / "processed", quarantine=True)
    assert qa["source_row"].tolist() == [9] and qb["source_row"].tolist() == [9, 10]  # R9: score missing


# --------------------------------------------------------------------------------- values that are not finite
@pytest.mark.parametrize("table, change, reason", [
    ("events", {"duration_s": "inf"}, C.not_finite("duration_s")),
    ("events", {"duration_s": "-inf"}, C.not_finite("duration_s")),  # not "negative duration_s"
    ("events", {"duration_s": "1e999"}, C.not_finite("duration_s")),  # overflows to infinity
    ("surveys", {"score": "NaN"}, C.not_finite("score")),
    ("accounts", {"mrr": "Infinity"}, C.not_finite("mrr")),
    ("events", {"timestamp": "infinity"}, C.not_finite("timestamp")),  # not "timestamp in the future"
    ("events", {"timestamp": "-infinity"}, C.not_finite("timestamp")),
    ("tickets", {"closed_at": "infinity"}, C.not_finite("closed_at")),
    ("events", {"timestamp": "NaN"}, C.unparseable("timestamp")),
    ("events", {"timestamp": "epoch"}, C.unparseable("timestamp")),  # DuckDB would read 1970-01-01
])
def test_non_finite_numbers_and_dates_are_quarantined_with_a_reason(tmp_path, table, change, reason):
    t = _tables()
    t[table][0].update(change)
    report = _ingest(_write(tmp_path / "raw", t), tmp_path / "processed")
    assert report.tables[table].by_reason == {reason: 1}
    q = load(table, tmp_path / "processed", quarantine=True)
    assert q.loc[0, "source_row"] == 1 and q.loc[0, list(change)[0]] == list(change.values())[0]
    assert quality.translate_reason(reason, "ja") != reason


def test_non_finite_values_in_parquet_are_quarantined_too(tmp_path):
    raw = _write(tmp_path / "raw", _tables())
    ev = pd.read_csv(raw / "events.csv")
    ev["duration_s"] = [float("nan"), float("inf"), 5.0]
    ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True, format="ISO8601")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(ev, preserve_index=False)
    table = table.set_column(5, "duration_s", pa.array([float("nan"), float("inf"), 5.0], from_pandas=False))
    (raw / "events.csv").unlink()
    pq.write_table(table, raw / "events.parquet")
    report = _ingest(raw, tmp_path / "processed")
    assert report.tables["events"].by_reason == {C.not_finite("duration_s"): 2}
    assert report.tables["events"].encoding is None


# ------------------------------------------------------------------------------ names like the package's own
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_data_columns_named_like_internal_ones_cannot_corrupt_the_quarantine(tmp_path, fmt):
    t = _tables()
    clash = {"__row": "r", "__file": "x.csv", "reason": "my reason", "source_row": "99", "__raw0": "r",
             "__reason": "z", "raw_line": "l", "filename": "f", "note$date_formats": "n", "x$csat_min": "c"}
    for i, row in enumerate(t["surveys"]):
        row.update({k: f"{v}{i}" for k, v in clash.items()})
    t["surveys"][1]["score"] = 11  # a CSAT answer outside 1-5: quarantined
    raw = _write(tmp_path / "raw", t)
    if fmt == "parquet":
        df = pd.read_csv(raw / "surveys.csv", dtype=str)
        df["File_Row_Number"] = ["a", "b"]  # DuckDB's own column, but for case
        df.to_parquet(raw / "surveys.parquet", index=False)
        (raw / "surveys.csv").unlink()
    report = _ingest(raw, tmp_path / "processed")
    r = report.tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.by_reason) == (2, 1, {C.CSAT_OUT_OF_SCALE: 1})
    kept = load("surveys", tmp_path / "processed")
    assert kept.loc[0, "reason"] == "my reason0" and kept.loc[0, "__row"] == "r0"  # extras keep name and value
    q = load("surveys", tmp_path / "processed", quarantine=True)
    assert q.loc[0, "reason"] == C.CSAT_OUT_OF_SCALE and q.loc[0, "source_row"] == 2
    assert q.loc[0, "source_file"].endswith(f"surveys.{fmt}")
    assert q.loc[0, "data.reason"] == "my reason1" and q.loc[0, "data.source_row"] == "991"
    assert q.loc[0, "data.raw_line"] == "l1" and q.loc[0, "__file"] == "x.csv1" and q.loc[0, "__row"] == "r1"
    assert q.loc[0, "score"] == "11"
    assert q.loc[0, "note$date_formats"] == "n1" and q.loc[0, "x$csat_min"] == "c1"  # a $name in a name: no parameter
    if fmt == "parquet":
        assert q.loc[0, "File_Row_Number"] == "b" and kept.loc[0, "File_Row_Number"] == "a"
    assert list(q.columns[:5]) == list(V.QUARANTINE_COLUMNS)


# ------------------------------------------------------------------------------------- two files, one table
def test_two_files_for_one_table_is_an_error_naming_both(tmp_path):
    raw = _write(tmp_path / "raw", _tables())
    pd.read_csv(raw / "surveys.csv").to_parquet(raw / "surveys.parquet")
    with pytest.raises(IngestError, match=r"surveys: 2 sources for one table in .*: surveys\.parquet, surveys\.csv"):
        _ingest(raw, tmp_path / "processed")
    (raw / "surveys.parquet").unlink()
    (raw / "surveys").mkdir()
    (raw / "surveys" / "part-0.csv").write_text((raw / "surveys.csv").read_text())
    with pytest.raises(IngestError, match=r"surveys\.csv, surveys/\*\.csv"):
        _ingest(raw, tmp_path / "processed")
    # naming the one to read in the sources file settles it
    (raw / "sources.yaml").write_text("tables:\n  surveys: {path: surveys.csv}\n")
    assert _ingest(raw, tmp_path / "processed").tables["surveys"].rows_kept == 2


def test_plain_and_compressed_csv_parts_are_one_source_and_a_part_there_twice_is_named(tmp_path):
    """An archive compressed month by month beside the current month's plain export was '2 sources'."""
    raw = _write(tmp_path / "raw", _tables())
    (raw / "surveys.csv").unlink()
    (raw / "surveys").mkdir()
    (raw / "surveys" / "2025-01.csv.gz").write_bytes(gzip.compress(_csv_text([_survey("R1", "ok", "en")]).encode()))
    (raw / "surveys" / "2025-02.csv").write_text(_csv_text([_survey("R2", "fine", "en"), ["R3", "too", "few"]]))
    report = _ingest(raw, tmp_path / "processed")
    assert (report.tables["surveys"].rows_read, report.tables["surveys"].rows_kept) == (3, 2)
    q = load("surveys", tmp_path / "processed", quarantine=True)
    assert [(Path(f).name, n) for f, n in q[["source_file", "source_row"]].values] == [("2025-02.csv", 2)]
    kept = load("surveys", tmp_path / "processed")
    assert kept["response_id"].tolist() == ["R1", "R2"]  # in the parts' name order, .gz or not
    (raw / "surveys" / "2025-01.csv").write_text(_csv_text([_survey("R1", "ok", "en")]))  # the same month twice
    with pytest.raises(IngestError, match=r"both plain and compressed, e\.g\. 2025-01\.csv and 2025-01\.csv\.gz"):
        _ingest(raw, tmp_path / "processed2")


def test_parts_in_different_encodings_keep_their_own_row_numbers(tmp_path):
    raw = _write(tmp_path / "raw", _tables())
    (raw / "surveys.csv").unlink()
    (raw / "surveys").mkdir()
    (raw / "surveys" / "a.csv").write_bytes(_csv_text([_survey("R1", COMMENTS_JA[0])]).encode("cp932"))
    (raw / "surveys" / "b.csv").write_bytes(_csv_text([_survey("R2", "ok", "en"), _survey("R3", "x", "en", "11"),
                                                       ["R4", "too", "few"]]).encode("utf-8-sig"))
    report = _ingest(raw, tmp_path / "processed")
    r = report.tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.encoding) == (4, 2, "cp932, utf-8-sig")
    q = load("surveys", tmp_path / "processed", quarantine=True)
    assert [(Path(f).name, n, reason) for f, n, reason in q[["source_file", "source_row", "reason"]].values] == [
        ("b.csv", 2, C.NPS_OUT_OF_RANGE), ("b.csv", 3, C.TOO_FEW_FIELDS)]


def test_json_parts_with_different_keys_and_encodings(tmp_path):
    import json

    t = _tables()
    ev = t.pop("events")
    raw = _write(tmp_path / "raw", t)
    (raw / "events").mkdir()
    (raw / "events" / "a.json").write_text(json.dumps(ev[:2]))
    last = {k: v for k, v in ev[2].items() if k != "feature"} | {"__file": "mine", "duration_s": "inf"}
    (raw / "events" / "b.json").write_text(json.dumps([last]), encoding="utf-16")
    report = _ingest(raw, tmp_path / "processed")
    r = report.tables["events"]
    assert (r.rows_kept, r.by_reason, r.encoding) == (2, {C.not_finite("duration_s"): 1}, "utf-8, utf-16")
    q = load("events", tmp_path / "processed", quarantine=True)
    assert q[["source_row", "__file", "feature"]].values.tolist() == [[1, "mine", None]]
    assert Path(q.loc[0, "source_file"]).name == "b.json"


# ----------------------------------------------------------------------------------------- all or nothing
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_ingest_leaves_the_previous_processed_data_byte_identical(tmp_path, monkeypatch):
    raw = _write(tmp_path / "raw", _tables())
    processed = tmp_path / "processed"
    _ingest(raw, processed)
    (processed / "notes.txt").write_text("someone else's file")
    before = _snapshot(processed)
    assert {"accounts.parquet", "quarantine/events.parquet", "ingest_report.json", "notes.txt"} <= set(before)

    # 1. a table fails after the tables before it (and its own files) were written
    t = _tables()
    t["events"][0]["duration_s"] = -1  # the new run would change events
    raw2 = _write(tmp_path / "raw2", t)
    real = V.ingest_table

    def failing(con, contract, *args, **kw):
        result = real(con, contract, *args, **kw)
        if contract.name == "tickets":
            assert (tmp_path / ".processed.staging" / "tickets.parquet").exists()  # written, then the disk fills
            raise OSError(28, "No space left on device")
        return result

    monkeypatch.setattr(V, "ingest_table", failing)
    with pytest.raises(OSError, match="No space left"):
        ingest(raw2, processed, now=NOW)
    monkeypatch.undo()
    assert _snapshot(processed) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [LOCK_FILE]  # no staging left behind

    # 2. an error in the data of the last table
    for row in t["surveys"]:
        del row["score"]
    with pytest.raises(IngestError, match="missing required column"):
        ingest(_write(tmp_path / "raw3", t), processed, now=NOW)
    assert _snapshot(processed) == before

    # 3. success replaces every table, the quarantines and the report together; others' files stay
    report = _ingest(raw2, processed)
    after = _snapshot(processed)
    assert after["notes.txt"] == before["notes.txt"]
    assert after["events.parquet"] != before["events.parquet"] and report.tables["events"].rows_quarantined == 1
    assert IngestReport.from_json(processed / "ingest_report.json").tables["events"].by_reason == {
        C.NEGATIVE_DURATION: 1}
    assert report.tables["events"].processed == str(processed / "events.parquet")  # final paths, not staging

    # 4. killed between the two renames of a swap: the next ingest puts the previous data back first
    before = _snapshot(processed)
    processed.rename(tmp_path / ".processed.old")
    with pytest.raises(IngestError, match="missing required column"):
        ingest(_write(tmp_path / "raw3", t), processed, now=NOW)
    assert _snapshot(processed) == before


def test_a_processed_folder_that_is_a_link_stays_a_link(tmp_path):
    target = tmp_path / "big_disk" / "processed"
    target.mkdir(parents=True)
    (tmp_path / "processed").symlink_to(target, target_is_directory=True)
    _ingest(_write(tmp_path / "raw", _tables()), tmp_path / "processed")
    assert (tmp_path / "processed").is_symlink() and (target / "events.parquet").exists()
    assert len(load("events", tmp_path / "processed")) == 3


def test_ingesting_some_tables_keeps_the_others(tmp_path):
    raw = _write(tmp_path / "raw", _tables())
    processed = tmp_path / "processed"
    first = _ingest(raw, processed)
    t = _tables()
    t["events"][0]["duration_s"] = -1
    raw2 = _write(tmp_path / "raw2", t)
    (raw2 / "surveys.csv").unlink()  # not read: only events (and accounts) are asked for
    report = _ingest(raw2, processed, tables=("events",))
    assert report.tables["events"].rows_quarantined == 1
    assert report.tables["surveys"] == first.tables["surveys"]
    assert load("surveys", processed)["response_id"].tolist() == ["R1", "R2"]
    assert set(IngestReport.from_json(processed / "ingest_report.json").tables) == set(first.tables)


def test_ingest_keeps_its_warnings_whatever_the_logging_level_and_table_by_table(tmp_path):
    """Report 01 shows ingest's warnings: a host that quiets this package's log must not empty them, and an
    ingest of some tables keeps the warnings of the tables it left as they were (and only theirs)."""
    def _said(r):  # (times written without a zone are said too: not this test's)
        return [w for w in r.warnings if "without a time zone" not in w]

    import logging

    t = _tables()
    t["accounts"][1]["start_date"] = "1/5/2024"
    t["tickets"] = [{**t["tickets"][0], "opened_at": "01/02/2025 13:45"},
                    {**t["tickets"][0], "ticket_id": "T2", "opened_at": "2025-01-02 13:45"}]
    raw = _write(tmp_path / "raw", t)
    quiet = logging.getLogger("engage_models")
    before = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        report = _ingest(raw, tmp_path / "processed")
    finally:
        quiet.setLevel(before)
    assert [w.split(":")[0] for w in _said(report)] == ["accounts", "tickets"], _said(report)
    assert "start_date that is not a date, such as '1/5/2024'" in _said(report)[0]

    t["tickets"][0]["opened_at"] = "2025-01-02 13:45"  # fixed: only tickets are ingested again
    again = _ingest(_write(tmp_path / "raw", t), tmp_path / "processed", tables=("tickets",))
    # accounts is always read again (and warns again); tickets' warning is gone with its bad value
    assert [w.split(":")[0] for w in _said(again)] == ["accounts"], _said(again)
    surveys_only = _ingest(_write(tmp_path / "raw", t), tmp_path / "processed", tables=("surveys",))
    assert _said(surveys_only) == _said(again)
    t["tickets"][0]["opened_at"] = "01/02/2025 13:45"
    bad_again = _ingest(_write(tmp_path / "raw", t), tmp_path / "processed", tables=("tickets",))
    kept = _ingest(_write(tmp_path / "raw", _tables()), tmp_path / "processed", tables=("surveys",))
    # accounts, read again and clean now, no longer warns; tickets' warning of the last ingest carries over
    assert [w.split(":")[0] for w in _said(bad_again)] == ["accounts", "tickets"]
    assert _said(kept) == [w for w in _said(bad_again) if w.startswith("tickets: ")]


def test_a_key_value_folder_in_the_path_adds_no_column(tmp_path):
    """DuckDB reads ``.../export_date=2024-12-31/device=desktop/`` as hive partitions: every processed table
    gained ``export_date`` and ``device`` (all events "desktop"), and report 01 showed the folder's name as data."""
    base = tmp_path / "export_date=2024-12-31" / "device=desktop"
    t = _tables()
    raw = _write(base / "raw", t)
    events = pd.DataFrame(t.pop("events") if "events" in t else [])
    (raw / "events.csv").unlink()
    events.to_parquet(raw / "events.parquet")  # a Parquet source too
    report = _ingest(raw, base / "processed")
    assert report.tables["events"].rows_kept == len(events)
    for name in ("accounts", "events", "surveys"):
        frame = load(name, base / "processed")
        assert "export_date" not in frame.columns, (name, list(frame.columns))
        assert "device" not in frame.columns or frame["device"].isna().all(), (name, frame.get("device"))


def test_brackets_in_a_folder_or_file_name_are_names_not_patterns(tmp_path):
    """'Customer data [JP]/raw/accounts.csv' was 'no such file' (the path was taken for a glob, [JP] a character
    class), as was a sources.yaml path 'accounts [2024-12].csv'; parts in such a folder were not found either."""
    t = _tables()
    raw = _write(tmp_path / "Customer data [JP]" / "raw", t)
    events = pd.read_csv(raw / "events.csv", dtype=str, keep_default_na=False)
    (raw / "events.csv").unlink()
    (raw / "events").mkdir()
    events.iloc[:2].to_parquet(raw / "events" / "part-0.parquet")
    events.iloc[2:].to_parquet(raw / "events" / "part-1.parquet")
    (raw / "surveys.csv").rename(raw / "surveys [2024-12].csv")
    (raw / "sources.yaml").write_text('tables:\n  surveys: {path: "surveys [2024-12].csv"}\n', encoding="utf-8")
    report = _ingest(raw, tmp_path / "Customer data [JP]" / "processed")
    assert report.tables["events"].rows_read == len(events) and report.tables["surveys"].rows_read == 2
    assert report.tables["accounts"].rows_kept == len(t["accounts"])


def test_excels_unicode_text_export_is_found_and_read_as_tab_separated(tmp_path):
    """Excel's "Unicode text" (File > Save As) is saved as surveys.txt: UTF-16 with its mark, tab-separated, CRLF.
    Ingest did not look for it ("no file for this required table"): it reads it now as the CSV of the same rows; a
    .txt that holds commas is told its separator; engage fit and survival read it too."""
    from engage_models._core.io import read_table

    rows = [_survey("R1", "サポートが遅い"), _survey("R2", "fast, kind", lang="en")]
    text = "".join("\t".join(r) + "\r\n" for r in [SURVEY_COLS, *rows])
    raw = _raw_with_surveys(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"), name="surveys.txt")
    report = _ingest(raw, tmp_path / "p1")
    r = report.tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.encoding, r.source.endswith("surveys.txt")) == (2, 2, "utf-16", True)
    csv_raw = _raw_with_surveys(tmp_path / "csv", _csv_text(rows).encode())
    _ingest(csv_raw, tmp_path / "p2")
    pd.testing.assert_frame_equal(load("surveys", tmp_path / "p1"), load("surveys", tmp_path / "p2"))
    assert not any("line break" in w for w in report.warnings), report.warnings
    df = read_table(raw / "surveys.txt", encoding="utf-16")
    assert df.columns.tolist() == SURVEY_COLS and df["comment"].tolist() == ["サポートが遅い", "fast, kind"]
    (raw / "surveys.txt").write_text(_csv_text(rows))  # a CSV saved as .txt
    with pytest.raises(IngestError, match=r"the header looks separated by \",\", not tabs: give the table "
                                          r"delimiter: \",\" in sources.yaml"):
        _ingest(raw, tmp_path / "p3")
    assert read_table(raw / "surveys.txt")["comment"].tolist() == ["サポートが遅い", "fast, kind"]
    (raw / "surveys.txt").unlink()
    (raw / "surveys").mkdir()
    (raw / "surveys" / "2025-01.csv").write_text(_csv_text(rows))
    (raw / "surveys" / "readme.txt").write_text("exported monthly\n")  # a note beside the parts is no part
    assert _ingest(raw, tmp_path / "p4").tables["surveys"].rows_kept == 2


def _western_table(path: Path) -> None:
    """A small customer table as a Western European Windows Excel saves it (cp1252: neither UTF-8 nor CP932)."""
    import numpy as np

    rng = np.random.default_rng(3)
    n = 90
    city = np.array(["Zürich", "Malmö", "Genève"])[np.arange(n) % 3]
    tenure = np.round(rng.exponential(np.where(city == "Zürich", 8, 20)) + 1, 1)
    pd.DataFrame({"customer": [f"K{i:03d}" for i in range(n)], "tenure": tenure,
                  "churned": (rng.uniform(size=n) < 0.7).astype(int), "city": city,
                  "users": rng.integers(1, 30, n)}).to_csv(path, index=False, encoding="cp1252")


def test_fit_and_survival_take_the_encoding_their_refusal_names(tmp_path, capsys):
    """engage fit and survival detect UTF-8 and CP932 as ingest does; a file in neither was refused with "give its
    encoding (--encoding TABLE=ENCODING, or encoding: in sources.yaml)", the ingest's option, which neither command
    had: a cp1252 export (Zürich, Malmö) could not be read at all. Now the refusal names the commands' own
    --encoding, which reads it (checked over the whole file, a wrong one naming the line)."""
    table = tmp_path / "kunden.csv"
    _western_table(table)
    args = ["--duration", "tenure", "--event", "churned", "--id", "customer", "--n-boot", "0", "--cv", "2"]
    assert main(["survival", "--table", str(table), *args, "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert f"{table} is neither utf-8 nor cp932: give its encoding with --encoding" in err, err
    assert "TABLE=ENCODING" not in err and "sources.yaml" not in err
    assert main(["survival", "--table", str(table), "--encoding", "cp1252", *args, "--out", str(tmp_path / "o2")]) == 0
    terms = pd.read_csv(tmp_path / "o2" / "hazard_ratios.csv")["term"].tolist()
    cities = {t for t in terms if t.startswith("city=")}  # two of the three, one being the reference
    assert len(cities) == 2 and cities < {"city=Zürich", "city=Malmö", "city=Genève"}, terms
    # a wrong encoding is checked over the whole file: the line of the first byte it cannot read
    assert main(["survival", "--table", str(table), "--encoding", "utf-8", *args, "--out", str(tmp_path / "o3")]) == 2
    assert f"{table.name} is not utf-8: byte" in capsys.readouterr().err
    # engage fit reads it too (stopping here at the label it is asked for, after reading every column)
    assert main(["fit", "--table", str(table), "--label", "left", "--out", str(tmp_path / "o4")]) == 2
    assert "give its encoding with --encoding" in capsys.readouterr().err
    assert main(["fit", "--table", str(table), "--encoding", "cp1252", "--label", "left",
                 "--out", str(tmp_path / "o4")]) == 2
    assert "no label column 'left' (columns: customer, tenure, churned, city, users)" in capsys.readouterr().err
    # a workbook stores its own text: an --encoding for it is said to be of no use, not silently ignored
    pd.read_csv(table, encoding="cp1252").to_excel(tmp_path / "kunden.xlsx", index=False)
    assert main(["fit", "--table", str(tmp_path / "kunden.xlsx"), "--encoding", "cp1252", "--label", "churned",
                 "--out", str(tmp_path / "o5")]) == 2
    assert "is not a text table" in capsys.readouterr().err
    assert main(["fit", "--table", str(table), "--encoding", "klingon", "--label", "churned",
                 "--out", str(tmp_path / "o6")]) == 2
    assert "unknown encoding 'klingon'" in capsys.readouterr().err


def test_gzipped_text_and_json_exports_are_read_and_other_compressions_refused_by_name(tmp_path):
    """A ``surveys.txt.gz`` (Excel's "Unicode text", gzipped) was not looked for ("no file for this required table"),
    and given by path it was "cannot tell the format"; a ``.json.gz`` likewise; a ``surveys.csv.zip`` was passed over
    as no file at all. The gzipped ones are read as their plain files are, tab-separated for .txt; the others are
    refused with the file's name and what to do."""
    rows = [_survey("R1", "サポートが遅い"), _survey("R2", "fast, kind", lang="en")]
    text = "".join("\t".join(r) + "\r\n" for r in [SURVEY_COLS, *rows])
    raw = _raw_with_surveys(tmp_path, gzip.compress(codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
                            name="surveys.txt.gz")
    r = _ingest(raw, tmp_path / "p1").tables["surveys"]
    assert (r.rows_read, r.rows_kept, r.encoding, r.source.endswith("surveys.txt.gz")) == (2, 2, "utf-16", True)
    assert load("surveys", tmp_path / "p1")["comment"].tolist() == ["サポートが遅い", "fast, kind"]
    (raw / "surveys.txt.gz").unlink()
    records = [dict(zip(SURVEY_COLS, row, strict=True)) for row in rows]
    (raw / "surveys.json.gz").write_bytes(gzip.compress(json.dumps(records, ensure_ascii=False).encode()))
    assert _ingest(raw, tmp_path / "p2").tables["surveys"].rows_kept == 2
    (raw / "surveys.json.gz").unlink()
    (raw / "surveys.csv.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestError, match=r"surveys: .*surveys\.csv\.zip is compressed \(\.zip\), which ingest does "
                                          r"not read: decompress it"):
        _ingest(raw, tmp_path / "p3")
    with pytest.raises(IngestError, match=r"surveys\.csv\.zip is compressed \(\.zip\)"):
        _ingest(raw, tmp_path / "p3", sources={"surveys": str(raw / "surveys.csv.zip")})
    (raw / "surveys.csv.zip").unlink()
    (raw / "surveys").mkdir()  # a folder of parts, one month zipped
    (raw / "surveys" / "2025-01.csv").write_text(_csv_text(rows[:1]))
    (raw / "surveys" / "2025-02.csv.bz2").write_bytes(b"BZh9")
    with pytest.raises(IngestError, match=r"2025-02\.csv\.bz2 is compressed \(\.bz2\)"):
        _ingest(raw, tmp_path / "p4")
    assert V.default_delimiter("surveys.txt.gz") == V.default_delimiter("x.tsv.gz") == "\t"
    assert V.default_delimiter("surveys.csv.gz") == ","


def test_amounts_written_with_a_currency_sign_and_grouped_thousands_are_read_without_a_format(tmp_path):
    """An MRR column written as a Japanese billing export writes it (2,985円, ¥2,985, JPY 2,985, full-width digits)
    was quarantined whole ("unparseable mrr") unless sources.yaml gave thousands: ','. Where its currency sign leaves
    no doubt how it is written, the amount is read; where it does (2,985 € is 2985 or 2.985), or a number without a
    sign is grouped (2,985), the row is quarantined as before and the warning names the file, the column and the
    mark in doubt. engage survival's --mrr reads amounts by the
    same function (engage_models._core.money.read_amounts)."""
    from engage_models._core.money import read_amounts

    t = _tables()
    acc = t["accounts"][0]
    written = {"A0": "2,985円", "A1": "¥2,985", "A2": "JPY 2,985", "A3": "１２，０００円", "A4": "$1,200.50",
               "A5": "1.234,50 €", "A6": "$1,234,567", "A7": "500", "A8": "£40"}
    doubtful = {"X1": "2,985 €", "X2": "€1.234", "X3": "2,985", "X4": "1,234,567"}  # no sign: as before
    t["accounts"] = [{**acc, "account_id": k, "mrr": v} for k, v in {**written, **doubtful}.items()]
    for name in ("events", "tickets", "touchpoints", "surveys"):
        t[name] = [{**row, "account_id": "A0"} for row in t[name]]
    raw = _write(tmp_path / "raw", t)
    report = _ingest(raw, tmp_path / "p")
    want = {"A0": 2985.0, "A1": 2985.0, "A2": 2985.0, "A3": 12000.0, "A4": 1200.5, "A5": 1234.5, "A6": 1234567.0,
            "A7": 500.0, "A8": 40.0}
    got = load("accounts", tmp_path / "p").set_index("account_id")["mrr"]
    assert got.to_dict() == want
    q = load("accounts", tmp_path / "p", quarantine=True)
    assert q.set_index("account_id")["mrr"].to_dict() == doubtful
    assert report.tables["accounts"].by_reason == {C.unparseable("mrr"): 4}
    said = [w for w in report.warnings if "hold a value of mrr" in w or "holds a value of mrr" in w]
    assert said and said[0].startswith(f"accounts: 4 rows of {raw / 'accounts.csv'} hold a value of mrr that is not "
                                       f"a number, such as '2,985 €'; its ',' may group thousands or mark the decimals")
    assert report.tables["accounts"].currency_signs == {"mrr": {"円": 2, "$": 2, "JPY": 1, "£": 1, "¥": 1, "€": 1}}
    values = [*written.values(), *doubtful.values(), None]
    series = pd.Series(values, index=range(2, 2 + len(values)))  # the data rows
    read = read_amounts(series)
    assert read.iloc[: len(written)].tolist() == list(want.values()) and read.iloc[len(written):].isna().all()
